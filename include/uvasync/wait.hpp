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

#include "detail/loop_core.hpp"
#include "detail/task_state.hpp"
#include "detail/wait_list.hpp"
#include "task.hpp"
#include "task_handle.hpp"

namespace uvasync {

enum class return_when { first_completed, first_exception, all_completed };

template <class T> struct wait_result {
    std::vector<task_handle<T>> done;
    std::vector<task_handle<T>> pending;
};

namespace detail {

struct wait_any_op;

struct wait_child final : task_waiter {
    wait_any_op* op = nullptr;
    task_state_base* state = nullptr;
    bool registered = false;
};

// Parks until the return_when condition holds for `children`, or the deadline.
struct wait_any_op : parked_op, timer_node {
    wait_child* children;
    std::size_t count;
    std::size_t remaining = 0;
    bool failed = false; // a child finished with an exception (not cancelled)
    return_when when;
    std::optional<std::int64_t> until;
    bool woken = false;

    wait_any_op(wait_child* c, std::size_t n, return_when w, std::optional<std::int64_t> deadline) noexcept;
    wait_any_op(const wait_any_op&) = delete;
    ~wait_any_op() { stop(); }

    bool satisfied() const noexcept {
        return remaining == 0 || (when == return_when::first_completed && remaining < count) ||
               (when == return_when::first_exception && failed);
    }
    bool await_ready() const noexcept { return satisfied(); }
    template <class P> bool await_suspend(std::coroutine_handle<P> h) noexcept {
        if (!park(h.promise().root, h)) return false;
        abort = &on_abort;
        for (std::size_t i = 0; i < count; ++i) {
            if (!children[i].state->done()) {
                children[i].registered = true;
                children[i].state->add_waiter(&children[i]);
            }
        }
        if (until) {
            deadline = *until;
            fire = &on_fire;
            task->loop->add_timer(this);
        }
        return true;
    }
    void await_resume() {
        stop();
        if (task) throw_if_cancelled();
    }

    void stop() noexcept; // timer off, waiters off
    static bool on_abort(parked_op* op) noexcept;
    static void on_fire(timer_node* n) noexcept;
    static std::coroutine_handle<> on_notify(task_waiter* w, bool may_transfer) noexcept;
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

task<> wait_ns(std::vector<task_state_base*> states, return_when when, std::optional<std::int64_t> timeout_ns);

template <class T>
task<wait_result<T>> wait_impl(std::vector<task_handle<T>> hs, return_when when, std::optional<std::int64_t> timeout_ns) {
    std::vector<task_handle<T>> tasks = distinct(std::move(hs), "wait");
    std::vector<task_state_base*> states;
    states.reserve(tasks.size());
    for (auto& h : tasks) states.push_back(h.state());
    co_await wait_ns(std::move(states), when, timeout_ns);
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
    struct state;
    struct child final : detail::task_waiter {
        state* owner = nullptr;
        std::size_t index = 0;
        bool registered = false;
    };
    // A task waiting for the next completion; given it directly when it
    // comes (so nobody can take it meanwhile).
    struct waiter : detail::wait_node {
        std::size_t given = 0;
    };
    struct state {
        std::vector<task_handle<T>> tasks;
        std::vector<child> children;
        // Indices finished but not handed out yet, in finishing order:
        // finished[head, tail). Room for every index on both sides, so that
        // nothing allocates when a task finishes.
        std::vector<std::size_t> finished;
        std::size_t head, tail;
        detail::wait_list waiters;

        explicit state(std::vector<task_handle<T>> hs)
            : tasks(std::move(hs)), children(tasks.size()), finished(2 * tasks.size()), head(tasks.size()), tail(head) {
            for (std::size_t i = 0; i < tasks.size(); ++i) {
                children[i].owner = this;
                children[i].index = i;
                children[i].notify = &on_notify;
                if (tasks[i].done()) {
                    finished[tail++] = i;
                } else {
                    children[i].registered = true;
                    tasks[i].state()->add_waiter(&children[i]);
                }
            }
        }
        state(const state&) = delete;
        ~state() {
            for (std::size_t i = 0; i < children.size(); ++i)
                if (children[i].registered) tasks[i].state()->remove_waiter(&children[i]);
        }
        // Gives finished index `i` to the first waiter, or keeps it.
        bool empty() const noexcept { return head == tail; }
        std::size_t take() noexcept { return finished[head++]; }
        void dispatch(std::size_t i, bool front) noexcept {
            if (auto* w = static_cast<waiter*>(waiters.pop_front())) {
                w->given = i;
                w->woken = true;
                w->wake_soon();
            } else if (front) {
                finished[--head] = i;
            } else {
                finished[tail++] = i;
            }
        }
        static std::coroutine_handle<> on_notify(detail::task_waiter* w, bool) noexcept {
            auto* c = static_cast<child*>(w);
            c->registered = false;
            c->owner->dispatch(c->index, false);
            return {};
        }
    };

public:
    // co_await: the value of the next task to finish.
    class next_result : waiter {
    public:
        explicit next_result(std::shared_ptr<state> s) noexcept : s_(std::move(s)) {}
        next_result(next_result&& o) noexcept : waiter(), s_(std::move(o.s_)) {}
        next_result(const next_result&) = delete;
        ~next_result() {
            if (s_) s_->waiters.remove(this);
        }

        bool await_ready() noexcept {
            if (s_->empty()) return false;
            this->given = s_->take();
            return true;
        }
        template <class P> bool await_suspend(std::coroutine_handle<P> h) noexcept {
            if (!this->park(h.promise().root, h)) return false;
            this->abort = &on_abort;
            s_->waiters.push_back(this);
            return true;
        }
        T await_resume() {
            if (this->task && this->task->must_cancel) {
                s_->waiters.remove(this);
                if (this->woken) s_->dispatch(this->given, true); // not ours after all
                this->throw_if_cancelled();
            }
            return detail::result_of<T>(s_->tasks[this->given].state());
        }

    private:
        static bool on_abort(detail::parked_op* op) noexcept {
            auto* self = static_cast<next_result*>(op);
            self->s_->waiters.remove(self);
            return false;
        }
        std::shared_ptr<state> s_;
    };

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
