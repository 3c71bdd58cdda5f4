// Running blocking work on other threads: executors, to_thread,
// run_in_executor, run_coroutine_threadsafe.
//
// The result (or the exception) of a job comes back to the loop thread; the
// awaiting task resumes there. Cancelling the awaiting task abandons the job:
// it is skipped if it has not started, and its result is dropped if it has.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "event_loop.hpp"
#include "task.hpp"
#include "task_handle.hpp"

namespace uvasync {

// concurrent.futures.Executor: runs jobs on other threads.
class executor {
public:
    virtual ~executor() = default;
    // Queues `job` to run on a worker thread; throws std::runtime_error once
    // the executor is shut down.
    virtual void submit(std::function<void()> job) = 0;
    // Refuses new jobs; with `wait`, runs what is queued and joins the threads.
    virtual void shutdown(bool wait = true) = 0;
};

// concurrent.futures.ThreadPoolExecutor: up to max_workers threads, started
// as jobs arrive. The default size is Python's: min(32, cores + 4).
class thread_pool_executor final : public executor {
public:
    explicit thread_pool_executor(std::size_t max_workers = 0);
    ~thread_pool_executor() override;
    thread_pool_executor(const thread_pool_executor&) = delete;
    thread_pool_executor& operator=(const thread_pool_executor&) = delete;

    void submit(std::function<void()> job) override;
    void shutdown(bool wait = true) override;
    std::size_t max_workers() const noexcept { return max_workers_; }

private:
    void work();

    std::size_t max_workers_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> jobs_;
    std::vector<std::thread> threads_;
    std::size_t idle_ = 0;
    bool shut_down_ = false;
};

namespace detail {

// What a job and its awaiter share across threads.
template <class R> struct executor_job {
    std::conditional_t<std::is_void_v<R>, bool, std::optional<R>> value{};
    std::exception_ptr error;
    std::atomic<bool> abandoned{false}; // the awaiter gave up: do not run, drop the result
    bool finished = false;              // loop thread only
    operation_base* waiter = nullptr;   // loop thread only
};

// Waits for a job submitted to an executor. Cancelling abandons the job: a
// job that has not started never runs (asyncio cancels the concurrent
// future), and the result of one that has is dropped.
template <class R> class executor_op final : public operation<executor_op<R>> {
public:
    explicit executor_op(std::shared_ptr<executor_job<R>> job) noexcept : job_(std::move(job)) {}

    bool ready() const noexcept { return job_->finished; }
    bool start() noexcept {
        job_->waiter = this;
        return true;
    }
    cancel_outcome cancel() noexcept {
        job_->abandoned = true;
        job_->waiter = nullptr;
        return cancel_outcome::stopped;
    }
    R result() {
        if (job_->error) std::rethrow_exception(job_->error);
        if constexpr (!std::is_void_v<R>) return std::move(*job_->value);
    }
    const char* kind() const noexcept override { return "run_in_executor"; }

private:
    std::shared_ptr<executor_job<R>> job_;
};

} // namespace detail

// loop.run_in_executor(ex, fn): fn() on one of ex's threads.
template <class F> auto run_in_executor(executor& ex, F fn) -> task<std::invoke_result_t<F&>> {
    using R = std::invoke_result_t<F&>;
    auto job = std::make_shared<detail::executor_job<R>>();
    std::shared_ptr<detail::threadsafe_queue> gate = get_running_loop().threadsafe_gate();
    ex.submit([job, gate, fn = std::move(fn)]() mutable {
        if (!job->abandoned.load()) {
            try {
                if constexpr (std::is_void_v<R>) {
                    fn();
                    job->value = true;
                } else {
                    job->value.emplace(fn());
                }
            } catch (...) {
                job->error = std::current_exception();
            }
        }
        detail::post_to(*gate, detail::make_callback([job]() {
            job->finished = true;
            if (detail::operation_base* w = std::exchange(job->waiter, nullptr)) w->wake_now();
        }));
    });
    co_return co_await detail::executor_op<R>(std::move(job));
}

// asyncio.to_thread(fn, args...): fn(args...) on the default executor.
template <class F, class... Args> auto to_thread(F fn, Args... args) -> task<std::invoke_result_t<F&, Args&...>> {
    return run_in_executor(get_running_loop().default_executor(),
                           [fn = std::move(fn), ... args = std::move(args)]() mutable { return fn(args...); });
}

// asyncio.run_coroutine_threadsafe: from any thread, runs `t` as a task of
// `loop` and returns a future for its result.
template <class T> std::future<T> run_coroutine_threadsafe(task<T> t, event_loop& loop) {
    auto result = std::make_shared<std::promise<T>>();
    std::future<T> f = result->get_future();
    loop.call_soon_threadsafe([&loop, result, t = std::move(t)]() mutable {
        task_handle<T> h = loop.create_task(std::move(t));
        h.add_done_callback([result](task_handle<T>& done) {
            try {
                if constexpr (std::is_void_v<T>) {
                    done.result();
                    result->set_value();
                } else {
                    result->set_value(done.result());
                }
            } catch (...) {
                result->set_exception(std::current_exception());
            }
        });
    });
    return f;
}

} // namespace uvasync
