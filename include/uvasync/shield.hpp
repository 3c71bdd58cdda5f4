// shield: asyncio.shield. Awaiting shield(h) waits for h like `co_await h`,
// except that cancelling the waiting task does not cancel h: the waiter gets
// cancelled_error at once and h runs on. If h then fails, its exception is
// passed to the loop's exception handler ("exception in shielded task", once
// even if several shields were cancelled), since nobody is left to see it.
// Cancelling h itself is seen by the waiter as cancelled_error.
#pragma once

#include <stdexcept>

#include "detail/operation.hpp"
#include "detail/task_state.hpp"
#include "task.hpp"
#include "task_handle.hpp"

namespace uvasync {

namespace detail {

// After a shield's waiter was cancelled: reports the inner task's failure.
void report_if_shielded_task_fails(task_state_base& inner);

class shield_op final : public operation<shield_op>, public task_waiter {
public:
    explicit shield_op(task_state_base& inner) noexcept : inner_(&inner) {}

    bool ready() const noexcept { return inner_->done(); }
    bool start() noexcept {
        inner_->add_waiter(*this);
        return true;
    }
    cancel_outcome cancel() noexcept {
        unlink();
        report_if_shielded_task_fails(*inner_);
        return cancel_outcome::stopped; // the waiter is cancelled now; the inner task is not
    }
    void result() const noexcept {}
    // Woken, then cancelled before resuming: the inner failure was seen.
    void give_back() noexcept { inner_->mark_retrieved(); }
    const char* kind() const noexcept override { return "shield"; }
    std::coroutine_handle<> task_finished(bool may_transfer) noexcept override { return wake_transfer(may_transfer); }
    const task_state_base* waiting_task() const noexcept override { return task(); }

private:
    task_state_base* inner_;
};

} // namespace detail

// Waits for `inner` without letting a cancellation of the waiter reach it.
template <class T> task<T> shield(task_handle<T> inner) {
    if (!inner.valid()) throw std::invalid_argument("shield: empty task_handle");
    co_await detail::shield_op(*inner.state());
    co_return detail::result_of<T>(*inner.state());
}

// shield(coroutine): schedules it as a task first (asyncio.shield(coro)).
template <class T> task<T> shield(task<T> inner) {
    task_handle<T> h = create_task(std::move(inner));
    co_await detail::shield_op(*h.state());
    co_return detail::result_of<T>(*h.state());
}

} // namespace uvasync
