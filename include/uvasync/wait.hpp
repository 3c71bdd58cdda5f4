// wait / as_completed: asyncio.wait and asyncio.as_completed.
//
//     auto [done, pending] = co_await wait(handles, return_when::first_completed);
//     for (auto&& next : as_completed(handles)) { T v = co_await next; ... }
//
// wait() returns when its condition holds (or the timeout passes, which is
// not an error) and splits the handles into done and pending; it cancels
// nothing, neither when it returns nor when the waiting task is cancelled.
// Duplicate handles count once. as_completed() gives one awaitable per
// distinct handle; whichever is awaited i-th yields the i-th task to finish
// (its value, or rethrows its exception).
#pragma once

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <vector>

#include "detail/child_watch.hpp"
#include "detail/loop_core.hpp"
#include "detail/operation.hpp"
#include "task.hpp"
#include "task_handle.hpp"

namespace uvasync {

enum class return_when { first_completed, first_exception, all_completed };

template <class T> struct wait_result {
    std::vector<task_handle<T>> done;
    std::vector<task_handle<T>> pending;
};

namespace detail {

// Waits until the return_when condition holds for the children, or the deadline.
class wait_any_op final : public operation<wait_any_op>, child_watch::listener, public timer_node {
public:
    wait_any_op(return_when w, std::optional<std::int64_t> deadline) noexcept
        : children_(*this), when_(w), until_(deadline) {}
    wait_any_op(const wait_any_op&) = delete;

    void add(const task_handle<>& child);

    bool ready() const noexcept { return satisfied(); }
    bool start() noexcept;
    cancel_outcome cancel() noexcept { // waiting is cancelled, the tasks are not
        stop();
        return cancel_outcome::stopped;
    }
    void result() noexcept { stop(); }
    const char* kind() const noexcept override { return "wait"; }

private:
    bool satisfied() const noexcept {
        const std::size_t left = children_.remaining();
        return left == 0 || (when_ == return_when::first_completed && left < children_.added()) ||
               (when_ == return_when::first_exception && failed_);
    }
    void stop() noexcept; // timer off, children no longer heard
    std::coroutine_handle<> child_done(task_state_base& child, std::size_t, bool may_transfer) noexcept override;
    const task_state_base* waiting_task() const noexcept override { return task(); }
    void fire() noexcept override;

    child_watch children_;
    return_when when_;
    std::optional<std::int64_t> until_;
    bool failed_ = false; // a child finished with an exception (not cancelled)
};

// Keeps the first occurrence of each handle; std::invalid_argument when empty
// or holding an empty handle.
template <class T>
std::vector<task_handle<T>> distinct(std::vector<task_handle<T>> hs, const char* who, bool allow_empty = false) {
    if (hs.empty() && !allow_empty) throw std::invalid_argument(std::string(who) + ": the set of tasks is empty");
    std::vector<task_handle<T>> out;
    out.reserve(hs.size());
    for (auto& h : hs) {
        if (!h.valid()) throw std::invalid_argument(std::string(who) + ": empty task_handle");
        bool seen = false;
        for (auto& o : out) seen = seen || o == h;
        if (!seen) out.push_back(std::move(h));
    }
    return out;
}

template <class T>
task<wait_result<T>> wait_impl(std::vector<task_handle<T>> hs, return_when when, std::optional<std::int64_t> timeout_ns) {
    std::vector<task_handle<T>> tasks = distinct(std::move(hs), "wait");
    std::optional<std::int64_t> deadline;
    if (timeout_ns) deadline = now_ns() + *timeout_ns;
    wait_any_op op(when, deadline);
    for (auto& h : tasks) op.add(h);
    co_await op;
    wait_result<T> r;
    for (auto& h : tasks) (h.done() ? r.done : r.pending).push_back(std::move(h));
    co_return r;
}

} // namespace detail

// asyncio.wait(tasks, return_when=..., timeout=...).
template <class T>
task<wait_result<T>> wait(std::vector<task_handle<T>> tasks, return_when when = return_when::all_completed,
                          std::optional<std::chrono::nanoseconds> timeout = {}) {
    std::optional<std::int64_t> ns;
    if (timeout) ns = detail::to_ns(*timeout);
    return detail::wait_impl(std::move(tasks), when, ns);
}
// The same with a timeout in any duration type (std::chrono::duration<double> too).
template <class T, class Rep, class Period>
task<wait_result<T>> wait(std::vector<task_handle<T>> tasks, return_when when, std::chrono::duration<Rep, Period> timeout) {
    return detail::wait_impl(std::move(tasks), when, std::optional<std::int64_t>(detail::to_ns(timeout)));
}

// ---- as_completed ------------------------------------------------------------

template <class T> class as_completed_range {
    class next_result;
    // The children, and the indices finished but not handed out yet, in
    // finishing order: finished[head, tail). Room for every index on both
    // sides, so that nothing allocates when a task finishes.
    struct state final : detail::child_watch::listener {
        std::vector<task_handle<T>> tasks;
        detail::child_watch children{*this};
        std::vector<std::size_t> finished;
        std::size_t head, tail;
        detail::intrusive_list<next_result> waiters;

        explicit state(std::vector<task_handle<T>> hs)
            : tasks(std::move(hs)), finished(2 * tasks.size()), head(tasks.size()), tail(head) {
            for (std::size_t i = 0; i < tasks.size(); ++i) {
                if (tasks[i].done()) finished[tail++] = i;
                children.add(tasks[i]);
            }
        }
        state(const state&) = delete;
        bool empty() const noexcept { return head == tail; }
        std::size_t take() noexcept { return finished[head++]; }
        // Gives finished index `i` to the first waiter, or keeps it.
        void dispatch(std::size_t i, bool front) noexcept {
            if (next_result* w = waiters.pop_front()) w->give(i);
            else if (front) finished[--head] = i;
            else finished[tail++] = i;
        }
        std::coroutine_handle<> child_done(detail::task_state_base&, std::size_t index, bool) noexcept override {
            dispatch(index, false);
            return {};
        }
    };

    // co_await: the value of the next task to finish; handed the index
    // directly when it comes, so nobody can take it meanwhile.
    class next_result final : public detail::operation<next_result>, public detail::list_hook<> {
    public:
        explicit next_result(std::shared_ptr<state> s) noexcept : s_(std::move(s)) {}
        next_result(next_result&& o) noexcept : detail::operation<next_result>(std::move(o)), s_(std::move(o.s_)) {}

        bool ready() noexcept {
            if (s_->empty()) return false;
            given_ = s_->take();
            return true;
        }
        bool start() noexcept {
            s_->waiters.push_back(this);
            return true;
        }
        detail::cancel_outcome cancel() noexcept {
            unlink();
            return detail::cancel_outcome::stopped;
        }
        void give_back() noexcept { s_->dispatch(given_, true); } // not ours after all
        T result() { return detail::result_of<T>(*s_->tasks[given_].state()); }
        const char* kind() const noexcept override { return "as_completed"; }

        void give(std::size_t i) noexcept {
            given_ = i;
            this->wake_soon();
        }

    private:
        std::shared_ptr<state> s_;
        std::size_t given_ = 0;
    };

public:
    class iterator {
    public:
        using value_type = next_result;
        using difference_type = std::ptrdiff_t;
        iterator() = default;
        iterator(const std::shared_ptr<state>* s, std::size_t i) : s_(s), i_(i) {}
        next_result operator*() const { return next_result(*s_); }
        iterator& operator++() {
            ++i_;
            return *this;
        }
        iterator operator++(int) {
            iterator old = *this;
            ++i_;
            return old;
        }
        friend bool operator==(const iterator& a, const iterator& b) noexcept { return a.i_ == b.i_; }

    private:
        const std::shared_ptr<state>* s_ = nullptr;
        std::size_t i_ = 0;
    };

    explicit as_completed_range(std::vector<task_handle<T>> hs)
        : s_(std::make_shared<state>(detail::distinct(std::move(hs), "as_completed", true))) {}

    iterator begin() const { return iterator(&s_, 0); }
    iterator end() const { return iterator(&s_, s_->tasks.size()); }
    std::size_t size() const noexcept { return s_->tasks.size(); }

private:
    std::shared_ptr<state> s_;
};

// asyncio.as_completed(tasks).
template <class T> as_completed_range<T> as_completed(std::vector<task_handle<T>> tasks) {
    return as_completed_range<T>(std::move(tasks));
}

} // namespace uvasync
