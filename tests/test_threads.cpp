// Threads (docs/api.md): call_soon_threadsafe, to_thread, run_in_executor,
// executors, run_coroutine_threadsafe.
#include <gtest/gtest.h>
#include <uvasync/uvasync.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace uvasync;
using namespace std::chrono_literals;

namespace {

// uvloop: test_base.py::test_call_soon_threadsafe_safety
TEST(Threads, CallSoonThreadsafeFromFourThreadsLosesAndDuplicatesNothing) {
    constexpr int threads = 4;
    constexpr int per_thread = 100'000;
    event_loop loop;
    const std::thread::id loop_thread = std::this_thread::get_id();
    int total = 0;                       // touched on the loop thread only
    std::vector<int> next(threads, 0);   // per producer: the index expected next
    int out_of_order = 0, wrong_thread = 0;
    std::vector<std::thread> producers;
    for (int t = 0; t < threads; ++t) {
        producers.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i) {
                loop.call_soon_threadsafe([&, t, i] {
                    if (std::this_thread::get_id() != loop_thread) ++wrong_thread;
                    if (next[t]++ != i) ++out_of_order; // a lost or repeated call shows here
                    if (++total == threads * per_thread) loop.stop();
                });
            }
        });
    }
    loop.run_forever();
    for (auto& p : producers) p.join();
    EXPECT_EQ(total, threads * per_thread);
    EXPECT_EQ(out_of_order, 0);
    EXPECT_EQ(wrong_thread, 0);
    for (int t = 0; t < threads; ++t) EXPECT_EQ(next[t], per_thread);
}

TEST(Threads, CallSoonThreadsafeAfterCloseThrows) {
    event_loop loop;
    loop.close();
    EXPECT_THROW(loop.call_soon_threadsafe([] {}), std::runtime_error);
    bool threw = false;
    std::thread other([&] {
        try {
            loop.call_soon_threadsafe([] {});
        } catch (const std::runtime_error&) {
            threw = true;
        }
    });
    other.join();
    EXPECT_TRUE(threw);
}

int add(int a, int b) { return a + b; }
std::string fail_in_thread() { throw std::runtime_error("failed on a worker"); }
std::thread::id worker_id() { return std::this_thread::get_id(); }

task<> to_thread_checks() {
    task<int> sum = to_thread(add, 2, 3);
    EXPECT_EQ(co_await std::move(sum), 5);

    task<std::string> failing = to_thread(fail_in_thread);
    try {
        co_await std::move(failing);
        ADD_FAILURE() << "no exception";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "failed on a worker");
    }

    task<std::thread::id> where = to_thread(worker_id);
    std::thread::id id = co_await std::move(where);
    EXPECT_NE(id, std::this_thread::get_id()); // another thread ran it
    EXPECT_NE(id, std::thread::id());

    std::vector<int> moved_in{1, 2, 3};
    task<std::size_t> size = to_thread([](std::vector<int> v) { return v.size(); }, std::move(moved_in));
    EXPECT_EQ(co_await std::move(size), 3u);

    task<> nothing = to_thread([] {});
    co_await std::move(nothing);
}

// CPython: test_threads.py::test_to_thread, test_to_thread_exception, test_to_thread_args_kwargs
TEST(Threads, ToThreadReturnsValuesAndExceptionsFromAnotherThread) {
    event_loop loop;
    loop.run_until_complete(to_thread_checks());
}

struct blocked_job {
    std::promise<void> started;
    std::shared_future<void> release;
    std::atomic<bool> finished{false};
};

task<int> awaits_blocked_job(blocked_job& job, std::vector<std::string>& log) {
    try {
        task<int> t = to_thread([&job] {
            job.started.set_value();
            job.release.wait();
            job.finished = true;
            return 1;
        });
        co_return co_await std::move(t);
    } catch (const cancelled_error&) {
        log.push_back("cancelled while the job runs");
        throw;
    }
}

task<> cancel_to_thread(blocked_job& job, std::vector<std::string>& log) {
    std::future<void> started = job.started.get_future();
    task_handle<int> h = create_task(awaits_blocked_job(job, log));
    co_await sleep(0s);
    started.wait(); // the job is running on its worker (blocking the loop briefly, on purpose)
    EXPECT_TRUE(h.cancel());
    try {
        co_await h;
    } catch (const cancelled_error&) {
        log.push_back("main: task cancelled");
    }
    EXPECT_FALSE(job.finished.load()); // the task did not wait for the job
}

// CPython: test_threads.py::test_to_thread_concurrent / cancelling asyncio.to_thread
TEST(Threads, CancellingATaskAwaitingToThreadResumesItPromptly) {
    blocked_job job;
    std::promise<void> release;
    job.release = release.get_future().share();
    std::vector<std::string> log;
    {
        event_loop loop;
        loop.run_until_complete(cancel_to_thread(job, log));
        release.set_value(); // now the job may finish; its result is dropped
        loop.close();        // waits for the default executor's threads
    }
    EXPECT_TRUE(job.finished.load());
    EXPECT_EQ(log, (std::vector<std::string>{"cancelled while the job runs", "main: task cancelled"}));
}

task<> executor_checks(thread_pool_executor& pool) {
    std::vector<task_handle<std::thread::id>> jobs;
    for (int i = 0; i < 6; ++i) jobs.push_back(create_task(run_in_executor(pool, worker_id)));
    std::set<std::thread::id> ids;
    for (auto& j : jobs) ids.insert(co_await j);
    EXPECT_GE(ids.size(), 1u);
    EXPECT_LE(ids.size(), 2u); // at most max_workers threads
    EXPECT_EQ(ids.count(std::this_thread::get_id()), 0u);

    task<int> sum = run_in_executor(pool, [] { return add(20, 22); });
    EXPECT_EQ(co_await std::move(sum), 42);
    task<int> failing = run_in_executor(pool, []() -> int { throw std::length_error("pool job failed"); });
    EXPECT_THROW(co_await std::move(failing), std::length_error);
}

// CPython: test_events.py::test_run_in_executor
TEST(Threads, RunInExecutorWithAThreadPoolOfTwo) {
    thread_pool_executor pool(2);
    EXPECT_EQ(pool.max_workers(), 2u);
    event_loop loop;
    loop.run_until_complete(executor_checks(pool));
    pool.shutdown();
    EXPECT_THROW(pool.submit([] {}), std::runtime_error);
}

class counting_executor final : public executor {
public:
    void submit(std::function<void()> job) override {
        ++submitted;
        pool.submit(std::move(job));
    }
    void shutdown(bool wait) override {
        shut_down = true;
        pool.shutdown(wait);
    }
    std::atomic<int> submitted{0};
    std::atomic<bool> shut_down{false};
    thread_pool_executor pool{1};
};

task<int> uses_default_executor() {
    task<int> a = to_thread(add, 1, 1);
    int x = co_await std::move(a);
    task<int> b = run_in_executor(get_running_loop().default_executor(), [] { return 3; });
    co_return x + co_await std::move(b);
}

// CPython: test_events.py::test_set_default_executor
TEST(Threads, SetDefaultExecutor) {
    auto ex = std::make_shared<counting_executor>();
    {
        event_loop loop;
        loop.set_default_executor(ex);
        EXPECT_EQ(&loop.default_executor(), ex.get());
        EXPECT_EQ(loop.run_until_complete(uses_default_executor()), 5);
        EXPECT_EQ(ex->submitted.load(), 2);
    }
    EXPECT_TRUE(ex->shut_down.load()); // closing the loop shut its default executor down
}

task<std::thread::id> loop_thread_id(int ticks) {
    for (int i = 0; i < ticks; ++i) co_await sleep(0s);
    co_return std::this_thread::get_id();
}

task<int> fails_on_loop() {
    co_await sleep(0s);
    throw std::overflow_error("failed on the loop");
}

// CPython: test_tasks.py::RunCoroutineThreadsafeTests::test_run_coroutine_threadsafe,
// test_run_coroutine_threadsafe_with_exception
TEST(Threads, RunCoroutineThreadsafeFromAnotherThread) {
    event_loop loop;
    std::thread::id seen;
    bool got_exception = false;
    std::thread other([&] {
        std::future<std::thread::id> f = run_coroutine_threadsafe(loop_thread_id(2), loop);
        seen = f.get();
        std::future<int> g = run_coroutine_threadsafe(fails_on_loop(), loop);
        try {
            g.get();
        } catch (const std::overflow_error&) {
            got_exception = true;
        }
        loop.call_soon_threadsafe([&loop] { loop.stop(); });
    });
    loop.run_forever();
    other.join();
    EXPECT_EQ(seen, std::this_thread::get_id()); // the task ran on the loop's thread
    EXPECT_TRUE(got_exception);
}

} // namespace
