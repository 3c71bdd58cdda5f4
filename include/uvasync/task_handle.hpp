// task_handle<T>: asyncio.Task, a task scheduled on the loop; create_task,
// current_task, all_tasks.
//
// Handles are copyable and shared; the loop keeps a task alive until it
// finishes even when every handle is gone. Any number of coroutines may
// co_await one handle. task_handle<> (= task_handle<void>) is the
// type-erased handle that every task_handle<T> converts to.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "detail/task_state.hpp"
#include "event_loop.hpp"
#include "task.hpp"

namespace uvasync {

namespace detail {

// The outcome of a finished task for one of its awaiters: a copy of the
// value (several may await it), or the value itself when it cannot be copied.
template <class T> T result_of(task_state_base* s) {
    s->rethrow_if_failed();
    if constexpr (std::is_void_v<T>) {
        return;
    } else if constexpr (std::is_copy_constructible_v<T>) {
        return static_cast<task_state<T>*>(s)->value;
    } else {
        return std::move(static_cast<task_state<T>*>(s)->value);
    }
}

// co_await on a task_handle: parks until the task finishes. Cancelling the
// awaiting task cancels the awaited one (asyncio's rule for awaiting a task).
template <class T> struct handle_awaiter : parked_op, task_waiter {
    task_state_base* target;

    explicit handle_awaiter(task_state_base* t) noexcept : target(t) { target->add_ref(); }
    handle_awaiter(const handle_awaiter&) = delete;
    ~handle_awaiter() {
        // Frame destroyed while parked. event_loop::close marks tasks done and
        // clears `parked` before destroying frames, so look in the target's
        // list itself (empty, hence free, once the target finished normally).
        if (task) target->remove_waiter(this);
        target->release();
    }

    bool await_ready() const noexcept { return target->done(); }
    template <class P> bool await_suspend(std::coroutine_handle<P> h) {
        task_state_base* t = h.promise().root;
        if (target == t) throw std::runtime_error("a task cannot await itself"); // it would never wake
        // A cancellation pending when the task awaits another task goes to
        // that task, which is then awaited (asyncio's Task.__step cancels the
        // awaited future), instead of leaving it running.
        if (t->must_cancel && target->cancel(t->extra ? t->extra->cancel_message : std::string()))
            t->must_cancel = false;
        if (!park(t, h)) return false;
        abort = &on_abort;
        notify = &on_notify;
        target->add_waiter(this);
        return true;
    }
    T await_resume() {
        if (task) throw_if_cancelled();
        return result_of<T>(target);
    }

    static bool on_abort(parked_op* op) {
        auto* self = static_cast<handle_awaiter*>(op);
        return self->target->cancel(self->task->extra ? self->task->extra->cancel_message : std::string());
    }
    static std::coroutine_handle<> on_notify(task_waiter* w, bool may_transfer) noexcept {
        auto* self = static_cast<handle_awaiter*>(w);
        return self->wake_from_task(may_transfer);
    }
};

struct done_callback_node;
std::size_t add_done_callback(task_state_base* s, std::function<void()> fn);
std::size_t remove_done_callback(task_state_base* s, std::size_t id) noexcept;

} // namespace detail

template <class T> class task_handle {
public:
    using value_type = T;

    task_handle() noexcept = default;
    task_handle(const task_handle& o) noexcept : s_(o.s_) {
        if (s_) s_->add_ref();
    }
    task_handle(task_handle&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
    task_handle& operator=(task_handle o) noexcept {
        std::swap(s_, o.s_);
        return *this;
    }
    ~task_handle() {
        if (s_) s_->release();
    }
    // Every handle converts to the type-erased task_handle<>.
    template <class U>
        requires(std::is_void_v<T> && !std::is_void_v<U>)
    task_handle(const task_handle<U>& o) noexcept : s_(o.state()) {
        if (s_) s_->add_ref();
    }

    bool valid() const noexcept { return s_ != nullptr; }
    bool done() const noexcept { return s_->done(); }
    bool cancelled() const noexcept { return s_->status == detail::task_status::cancelled; }

    // Requests cancellation (see API.md §2); false if the task is done.
    bool cancel(std::string msg = {}) { return s_->cancel(std::move(msg)); }
    // Pending cancellation requests; uncancel() withdraws one and returns the rest.
    std::uint32_t cancelling() const noexcept { return s_->cancel_requests; }
    std::uint32_t uncancel() noexcept { return s_->uncancel(); }

    // The value; rethrows the failure; cancelled_error if cancelled;
    // invalid_state_error if not done.
    decltype(auto) result() const {
        if (!s_->done()) throw invalid_state_error("result(): the task is not done");
        if constexpr (std::is_void_v<T>) {
            s_->rethrow_if_failed();
        } else {
            s_->rethrow_if_failed();
            return static_cast<const T&>(static_cast<detail::task_state<T>*>(s_)->value);
        }
    }
    // The failure (null if it succeeded); cancelled_error if cancelled;
    // invalid_state_error if not done.
    std::exception_ptr exception() const {
        if (!s_->done()) throw invalid_state_error("exception(): the task is not done");
        if (cancelled()) s_->throw_cancelled();
        s_->retrieved = true;
        detail::loop_core::forget_failed(s_);
        return s_->error();
    }

    // Calls fn(handle) on the loop once the task is done (at once, through
    // the loop, if it is done already). Returns an id for remove_done_callback.
    template <class F> std::size_t add_done_callback(F fn) {
        task_handle self = *this;
        return detail::add_done_callback(s_, [self, fn = std::move(fn)]() mutable { fn(self); });
    }
    // Removes a callback added by add_done_callback; returns how many were removed.
    std::size_t remove_done_callback(std::size_t id) noexcept { return detail::remove_done_callback(s_, id); }

    std::string get_name() const { return s_->name(); }
    void set_name(std::string name) { s_->set_name(std::move(name)); }

    auto operator co_await() const noexcept { return detail::handle_awaiter<T>(s_); }

    friend bool operator==(const task_handle& a, const task_handle& b) noexcept { return a.s_ == b.s_; }

    // --- for the library ---
    detail::task_state_base* state() const noexcept { return s_; }
    static task_handle adopt(detail::task_state_base* s) noexcept { return task_handle(s); }

private:
    explicit task_handle(detail::task_state_base* s) noexcept : s_(s) {}
    detail::task_state_base* s_ = nullptr;
};

template <class T> task_handle<T> event_loop::create_task(task<T> t, std::string name) {
    if (closed_) throw std::runtime_error("create_task: the event loop is closed");
    auto h = t.release();
    if (!h) throw std::invalid_argument("create_task: the task is empty (moved from?)");
    auto* s = new detail::task_state<T>(this, h);
    h.promise().root = s;
    if (!name.empty()) s->set_name(std::move(name));
    link_task(s);
    s->schedule_step();
    s->add_ref(); // the handle's; the first reference is the loop's
    return task_handle<T>::adopt(s);
}

template <class T> T event_loop::run_until_complete(task_handle<T> h) {
    run_until_done(h.state());
    return detail::result_of<T>(h.state());
}

template <class T> T event_loop::run_until_complete(task<T> t) {
    task_handle<T> h = create_task(std::move(t));
    run_until_done(h.state());
    h.state()->rethrow_if_failed();
    if constexpr (!std::is_void_v<T>) return std::move(static_cast<detail::task_state<T>*>(h.state())->value);
}

// asyncio.create_task: schedules `t` on the running loop.
template <class T> task_handle<T> create_task(task<T> t, std::string name = {}) {
    return get_running_loop().create_task(std::move(t), std::move(name));
}

// The task running now, or nothing outside a task.
std::optional<task_handle<>> current_task();
// The loop's tasks that are not done yet.
std::vector<task_handle<>> all_tasks();

} // namespace uvasync
