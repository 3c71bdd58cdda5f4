// thread_pool_executor: a queue of jobs and threads started on demand.
#include <uvasync/executor.hpp>

#include <algorithm>

namespace uvasync {

thread_pool_executor::thread_pool_executor(std::size_t max_workers)
    : max_workers_(max_workers ? max_workers
                               : std::min<std::size_t>(32, std::max(1u, std::thread::hardware_concurrency()) + 4)) {}

thread_pool_executor::~thread_pool_executor() { shutdown(true); }

void thread_pool_executor::submit(std::function<void()> job) {
    std::unique_lock lock(mutex_);
    if (shut_down_) throw std::runtime_error("submit: the executor is shut down");
    jobs_.push_back(std::move(job));
    if (idle_ == 0 && threads_.size() < max_workers_) {
        threads_.emplace_back([this] { work(); });
    } else {
        cv_.notify_one();
    }
}

void thread_pool_executor::shutdown(bool wait) {
    std::vector<std::thread> threads;
    {
        std::lock_guard lock(mutex_);
        shut_down_ = true;
        if (!wait) jobs_.clear();
        threads.swap(threads_);
    }
    cv_.notify_all();
    for (auto& t : threads) {
        if (t.get_id() == std::this_thread::get_id()) t.detach(); // shut down from one of its own jobs
        else t.join();
    }
}

void thread_pool_executor::work() {
    std::unique_lock lock(mutex_);
    for (;;) {
        if (jobs_.empty()) {
            if (shut_down_) return;
            ++idle_;
            cv_.wait(lock, [this] { return !jobs_.empty() || shut_down_; });
            --idle_;
            continue;
        }
        std::function<void()> job = std::move(jobs_.front());
        jobs_.pop_front();
        lock.unlock();
        job(); // jobs catch their own exceptions (run_in_executor does)
        job = nullptr;
        lock.lock();
    }
}

} // namespace uvasync
