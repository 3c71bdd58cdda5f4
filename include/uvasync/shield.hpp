// shield: asyncio.shield. Awaiting shield(h) waits for h like `co_await h`,
// except that cancelling the waiting task does not cancel h: the waiter gets
// cancelled_error at once and h runs on. If h then fails, its exception is
// passed to the loop's exception handler ("exception in shielded task", once
// even if several shields were cancelled), since nobody is left to see it.
// Cancelling h itself is seen by the waiter as cancelled_error.
#pragma once

#include <coroutine>
#include <stdexcept>

#include "detail/task_state.hpp"
#include "task.hpp"
#include "task_handle.hpp"

namespace uvasync {

namespace detail {

// After a shield's waiter was cancelled: reports the inner task's failure.
void report_if_shielded_task_fails(task_state_base* inner);

struct shield_op : parked_op, task_waiter {
    task_state_base* inner;

    explicit shield_op(task_state_base* s) noexcept : inner(s) {}
    shield_op(const shield_op&) = delete;
    ~shield_op() {
        if (task) inner->remove_waiter(this);
    }

    bool await_ready() const noexcept { return inner->done(); }
    template <class P> bool await_suspend(std::coroutine_handle<P> h) noexcept {
        if (!park(h.promise().root, h)) return false;
        abort = &on_abort;
        notify = &on_notify;
        inner->add_waiter(this);
        return true;
    }
    void await_resume() const {
        if (task) throw_if_cancelled();
    }

    static bool on_abort(parked_op* op) {
        auto* self = static_cast<shield_op*>(op);
        self->inner->remove_waiter(self);
        report_if_shielded_task_fails(self->inner);
        return false; // the waiter is cancelled now; the inner task is not
    }
    static std::coroutine_handle<> on_notify(task_waiter* w, bool may_transfer) noexcept {
        auto* self = static_cast<shield_op*>(w);
        return self->wake_from_task(may_transfer);
    }
};

} // namespace detail

// Waits for `inner` without letting a cancellation of the waiter reach it.
template <class T> task<T> shield(task_handle<T> inner) {
    if (!inner.valid()) throw std::invalid_argument("shield: empty task_handle");
    detail::shield_op op(inner.state());
    co_await op;
    co_return detail::result_of<T>(inner.state());
}

// shield(coroutine): schedules it as a task first (asyncio.shield(coro)).
template <class T> task<T> shield(task<T> inner) {
    task_handle<T> h = create_task(std::move(inner));
    detail::shield_op op(h.state());
    co_await op;
    co_return detail::result_of<T>(h.state());
}

} // namespace uvasync
