// wait_for / wait_until: asyncio.wait_for, and wait_for with a deadline.
// (The scope forms, asyncio.timeout and timeout_at around a block of code
// that runs in the awaiting task itself, are in timeout_scope.hpp.)
//
// The awaited work runs as a task. If it has not finished by the deadline it
// is cancelled, and its cancellation is awaited before timeout_error is
// thrown; if it swallows the cancellation and returns a value, that value is
// returned. Cancelling the caller cancels the work too.
#pragma once

#include <chrono>

#include "detail/loop_core.hpp"
#include "detail/operation.hpp"
#include "errors.hpp"
#include "event_loop.hpp"
#include "task.hpp"
#include "task_handle.hpp"

namespace uvasync {

namespace detail {

// Waits until `target` finishes; at the deadline it cancels the target and
// goes on waiting for it.
class timed_wait_op final : public operation<timed_wait_op>, public task_waiter, public timer_node {
public:
    timed_wait_op(task_state_base& target, std::int64_t deadline_ns) noexcept : target_(&target), until_(deadline_ns) {}

    bool ready() const noexcept { return target_->done(); }
    bool start() {
        if (target_ == task()) throw std::runtime_error("a task cannot await itself");
        // A cancellation pending on entry is the caller's, not a timeout.
        cancels_at_entry_ = task()->cancelling() - (cancel_pending() ? 1 : 0);
        target_->add_waiter(*this);
        if (until_ <= now_ns()) {
            timed_out_ = true;
            target_->cancel({});
        } else {
            deadline = until_;
            task()->loop().add_timer(*this);
        }
        return true;
    }
    cancel_outcome cancel() noexcept {
        disarm();
        return target_->cancel(cancel_message()) ? cancel_outcome::handed_on : cancel_outcome::stopped;
    }
    void result() noexcept { disarm(); }
    // Woken, then cancelled before resuming: the target's failure was seen.
    void give_back() noexcept { target_->mark_retrieved(); }
    const char* kind() const noexcept override { return "wait_for"; }

    // The deadline passed, and the caller was not cancelled meanwhile.
    bool expired() const noexcept { return timed_out_ && !(task() && task()->cancelling() > cancels_at_entry_); }

private:
    void disarm() noexcept {
        if (armed()) task()->loop().remove_timer(*this);
    }
    std::coroutine_handle<> task_finished(bool may_transfer) noexcept override {
        disarm();
        return wake_transfer(may_transfer);
    }
    const task_state_base* waiting_task() const noexcept override { return task(); }
    void fire() noexcept override {
        timed_out_ = true;
        target_->cancel({});
    }

    task_state_base* target_;
    std::int64_t until_;
    std::uint32_t cancels_at_entry_ = 0;
    bool timed_out_ = false;
};

// The awaited work as a task: a handle as it is, a task<T> scheduled, any
// other awaitable (lock.acquire(), reader.read(n), ...) wrapped in a task.
template <class T> task_handle<T> as_handle(task_handle<T> h) {
    if (!h.valid()) throw std::invalid_argument("wait_for: empty task_handle");
    return h;
}
template <class T> task_handle<T> as_handle(task<T> t) { return create_task(std::move(t)); }
template <class A>
    requires(awaitable<A> && !is_task<A>::value)
auto as_handle(A aw) {
    return create_task(as_task(std::move(aw)));
}
template <class A> using handle_value_t = typename decltype(as_handle(std::declval<A>()))::value_type;

template <class A> task<handle_value_t<A>> wait_until_ns(A aw, std::int64_t deadline_ns) {
    auto h = as_handle(std::move(aw));
    timed_wait_op op(*h.state(), deadline_ns);
    co_await op;
    if (op.expired() && h.cancelled()) throw timeout_error();
    co_return result_of<handle_value_t<A>>(*h.state());
}

} // namespace detail

// asyncio.wait_for(aw, timeout), for any awaitable: a task_handle<T>, a
// task<T> (scheduled as its own task), or an operation such as
// lock.acquire(), queue.get() or reader.read(n) (run as a task too).
template <class Awaitable, class Rep, class Period>
auto wait_for(Awaitable aw, std::chrono::duration<Rep, Period> timeout) {
    return detail::wait_until_ns(std::move(aw), detail::now_ns() + detail::to_ns(timeout));
}

// Like wait_for, with an absolute deadline on `clock`.
template <class Awaitable> auto wait_until(Awaitable aw, clock::time_point deadline) {
    return detail::wait_until_ns(std::move(aw), detail::to_ns(deadline.time_since_epoch()));
}

} // namespace uvasync
