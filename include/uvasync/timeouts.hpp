// wait_for / wait_until: asyncio.wait_for and timeout_at.
//
// The awaited work runs as a task. If it has not finished by the deadline it
// is cancelled, and its cancellation is awaited before timeout_error is
// thrown; if it swallows the cancellation and returns a value, that value is
// returned. Cancelling the caller cancels the work too.
#pragma once

#include <chrono>

#include "detail/loop_core.hpp"
#include "detail/task_state.hpp"
#include "errors.hpp"
#include "event_loop.hpp"
#include "task.hpp"
#include "task_handle.hpp"

namespace uvasync {

namespace detail {

// Parks until `target` finishes; at the deadline it cancels the target and
// goes on waiting for it.
struct timed_wait_op : parked_op, task_waiter, timer_node {
    task_state_base* target;
    std::int64_t until;
    std::uint32_t cancels_at_entry = 0;
    bool timed_out = false;

    timed_wait_op(task_state_base* t, std::int64_t deadline_ns) noexcept : target(t), until(deadline_ns) {
        target->add_ref();
    }
    timed_wait_op(const timed_wait_op&) = delete;
    ~timed_wait_op() {
        if (armed()) task->loop->remove_timer(this);
        if (task) target->remove_waiter(this); // see handle_awaiter
        target->release();
    }

    bool await_ready() const noexcept { return target->done(); }
    template <class P> bool await_suspend(std::coroutine_handle<P> h) {
        task_state_base* t = h.promise().root;
        if (target == t) throw std::runtime_error("a task cannot await itself");
        // A cancellation pending on entry goes to the target, as for an
        // awaited task (see handle_awaiter); it counts as the caller's
        // cancellation, not as a timeout.
        bool handed_on = false;
        if (t->must_cancel && target->cancel(t->extra ? t->extra->cancel_message : std::string())) {
            t->must_cancel = false;
            handed_on = true;
        }
        if (!park(t, h)) return false;
        cancels_at_entry = t->cancel_requests - (handed_on ? 1 : 0);
        abort = &on_abort;
        notify = &on_notify;
        target->add_waiter(this);
        if (until <= now_ns()) {
            timed_out = true;
            target->cancel({});
        } else {
            deadline = until;
            fire = &on_fire;
            t->loop->add_timer(this);
        }
        return true;
    }
    void await_resume() const {
        if (task) throw_if_cancelled();
    }
    // The deadline passed, and the caller was not cancelled meanwhile.
    bool expired() const noexcept { return timed_out && !(task && task->cancel_requests > cancels_at_entry); }

    static void on_fire(timer_node* n) noexcept {
        auto* self = static_cast<timed_wait_op*>(n);
        self->timed_out = true;
        self->target->cancel({});
    }
    static bool on_abort(parked_op* op) {
        auto* self = static_cast<timed_wait_op*>(op);
        if (self->armed()) self->task->loop->remove_timer(self);
        return self->target->cancel(self->task->extra ? self->task->extra->cancel_message : std::string());
    }
    static std::coroutine_handle<> on_notify(task_waiter* w, bool may_transfer) noexcept {
        auto* self = static_cast<timed_wait_op*>(w);
        task_state_base* t = self->task;
        if (self->armed()) t->loop->remove_timer(self);
        return self->wake_from_task(may_transfer);
    }
};

template <class T> task<T> wait_until_ns(task_handle<T> h, std::int64_t deadline_ns) {
    timed_wait_op op(h.state(), deadline_ns);
    co_await op;
    if (op.expired() && h.cancelled()) throw timeout_error();
    co_return result_of<T>(h.state());
}

template <class T> task<T> wait_until_ns(task<T> t, std::int64_t deadline_ns) {
    task_handle<T> h = create_task(std::move(t));
    timed_wait_op op(h.state(), deadline_ns);
    co_await op;
    if (op.expired() && h.cancelled()) throw timeout_error();
    co_return result_of<T>(h.state());
}

} // namespace detail

// asyncio.wait_for(aw, timeout), for a task<T> (scheduled as its own task)
// or a task_handle<T>.
template <class Awaitable, class Rep, class Period>
auto wait_for(Awaitable aw, std::chrono::duration<Rep, Period> timeout) {
    return detail::wait_until_ns(std::move(aw), detail::now_ns() + detail::to_ns(timeout));
}

// asyncio.timeout_at: like wait_for, with an absolute deadline on `clock`.
template <class Awaitable> auto wait_until(Awaitable aw, clock::time_point deadline) {
    return detail::wait_until_ns(std::move(aw), detail::to_ns(deadline.time_since_epoch()));
}

} // namespace uvasync
