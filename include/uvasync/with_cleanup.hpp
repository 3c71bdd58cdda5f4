// with_cleanup: asyncio's `try: ... finally: await cleanup()`, which C++
// cannot write as is (no co_await inside a catch handler).
//
//     co_await with_cleanup(serve(conn), close_gracefully(conn));
//
// `cleanup` runs after `body` succeeds, fails or is cancelled, and it runs to
// its end: a cancellation that arrives meanwhile waits until it has
// finished. Then body's value is returned, or its exception rethrown (a
// cancellation as cancelled_error); a cancellation that arrived during the
// cleanup of a body that succeeded is thrown then. An exception from the
// cleanup itself replaces the body's outcome, as an exception in `finally`
// does in Python.
//
// The same by hand, for `except CancelledError: await cleanup(); raise`:
//
//     std::exception_ptr failure;
//     try { co_await body(); } catch (...) { failure = std::current_exception(); }
//     if (failure) { co_await cleanup(); std::rethrow_exception(failure); }
#pragma once

#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "detail/operation.hpp"
#include "task.hpp"
#include "task_handle.hpp"

namespace uvasync {

namespace detail {

// Waits for a task without letting a cancellation through until it ends:
// cancel() only notes that one came (the task stays parked, the child runs
// on), and the awaiter throws it once the child finished.
class uninterruptible_wait final : public operation<uninterruptible_wait>, public task_waiter {
public:
    explicit uninterruptible_wait(task_state_base& child) noexcept : child_(&child) {}

    bool ready() const noexcept { return child_->done(); }
    bool start() noexcept {
        child_->add_waiter(*this);
        return true;
    }
    cancel_outcome cancel() noexcept {
        cancelled_ = true;
        return cancel_outcome::handed_on; // we wake when the cleanup ends
    }
    // True when a cancellation arrived while it waited.
    bool result() const noexcept { return cancelled_; }
    const char* kind() const noexcept override { return "with_cleanup"; }
    std::coroutine_handle<> task_finished(bool may_transfer) noexcept override { return wake_transfer(may_transfer); }
    const task_state_base* waiting_task() const noexcept override { return task(); }

private:
    task_state_base* child_;
    bool cancelled_ = false;
};

} // namespace detail

template <class T> task<T> with_cleanup(task<T> body, task<> cleanup) {
    std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> value;
    std::exception_ptr failure;
    try {
        if constexpr (std::is_void_v<T>) {
            co_await std::move(body);
            value.emplace(true);
        } else {
            value.emplace(co_await std::move(body));
        }
    } catch (...) {
        failure = std::current_exception();
    }
    task_handle<> done = create_task(std::move(cleanup));
    const bool cancelled_meanwhile = co_await detail::uninterruptible_wait(*done.state());
    co_await done; // done: its outcome (an exception replaces the body's)
    if (failure) std::rethrow_exception(failure);
    if (cancelled_meanwhile) current_task()->state()->throw_cancellation();
    if constexpr (!std::is_void_v<T>) co_return std::move(*value);
}

} // namespace uvasync
