// timeout / timeout_at: asyncio.timeout and asyncio.timeout_at, a deadline
// around a block of code that runs inside the awaiting task.
//
//     auto body = [&](ua::timeout_scope& scope) -> ua::task<std::string> {
//         co_return co_await reader.readline();
//     };
//     std::string line = co_await ua::timeout(5s, body);   // or timeout_error
//
//     co_await ua::timeout(1s, l.acquire());               // any awaitable
//
// (Name the body lambda, as above: GCC 12 mishandles a lambda with captures
// written inside a co_await expression; docs/gcc12.md. Values can also be
// passed along: timeout(d, body, args...) calls body(scope, args...).)
//
// The body is not a task of its own: it runs in the awaiting task, like the
// block of an `async with`. At the deadline (an ordinary timer of the loop,
// ordered with call_at's) the awaiting task is cancelled; when that
// cancellation leaves the body, the scope throws timeout_error instead (with
// the cancelled_error nested, as `raise TimeoutError from exc`). The rules
// are those of Python 3.12's timeouts.py, on the task's own cancel/uncancel
// counting:
//   * a cancellation from outside the scope propagates as cancelled_error,
//     even when it arrives together with the expiry (the task's cancelling()
//     is then above what it was on entry);
//   * nested scopes each turn only their own expiry into timeout_error;
//   * once the scope is left, the task's cancelling() is what it was on
//     entry (plus any request from outside);
//   * a body that catches the cancellation and returns normally returns its
//     value, and any other exception passes through untouched;
//   * no deadline (nullopt) never expires until rescheduled; a deadline now
//     or in the past expires at the next suspension (a body that never
//     suspends returns normally).
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "detail/loop_core.hpp"
#include "detail/ready_queue.hpp"
#include "detail/timer_heap.hpp"
#include "errors.hpp"
#include "event_loop.hpp"
#include "task.hpp"

namespace uvasync {

class timeout_scope;

namespace detail {
template <class T, class Body, class... Args>
task<T> run_timeout_scope(std::optional<clock::time_point> when, Body body, Args... args);
}

// asyncio.Timeout, as the body sees it. It lives while the body runs.
class timeout_scope : private detail::timer_node, private detail::ready_node {
public:
    timeout_scope(const timeout_scope&) = delete;
    timeout_scope& operator=(const timeout_scope&) = delete;

    // The deadline, exactly as given (nullopt: none).
    std::optional<clock::time_point> when() const noexcept { return when_; }
    // Moves the deadline (nullopt: none; now or in the past: the next
    // suspension). std::runtime_error once the scope expired.
    void reschedule(std::optional<clock::time_point> when);
    // The deadline passed while the body ran.
    bool expired() const noexcept { return state_ == state::expiring || state_ == state::expired; }

private:
    template <class T, class Body, class... Args>
    friend task<T> detail::run_timeout_scope(std::optional<clock::time_point>, Body, Args...);

    enum class state : std::uint8_t { active, expiring, expired, finished };

    // Enters: the running task is the one cancelled at the deadline.
    explicit timeout_scope(std::optional<clock::time_point> when);
    ~timeout_scope() override { disarm(); }

    // Leaves; true when the cancellation that ended the body is this
    // scope's own expiry (the scope throws timeout_error then).
    bool leave(bool by_cancellation) noexcept;
    void disarm() noexcept;
    void expire() noexcept;

    void fire() noexcept override { expire(); } // the timer
    void run() noexcept override { expire(); }  // the ready queue: a deadline already past
    void discard() noexcept override {}

    detail::task_state_base* task_;
    std::optional<clock::time_point> when_;
    std::uint32_t cancelling_on_entry_;
    state state_ = state::active;
};

namespace detail {

// What the scope awaits: body(scope, args...) for a body, else the awaitable.
template <class Body, class... Args> decltype(auto) scope_awaitable(timeout_scope& s, Body& body, Args&... args) {
    if constexpr (std::is_invocable_v<Body&, timeout_scope&, Args&...>) {
        return body(s, args...);
    } else {
        static_assert(sizeof...(Args) == 0, "timeout(d, aw, args...): extra arguments need a body taking (timeout_scope&, args...)");
        static_assert(awaitable<Body>, "timeout(d, x): x is a body callable as task<T>(timeout_scope&), or an awaitable");
        return std::move(body);
    }
}
template <class Body, class... Args>
using scope_result_t =
    await_result_t<decltype(scope_awaitable(std::declval<timeout_scope&>(), std::declval<Body&>(), std::declval<Args&>()...))>;

// Now plus `delay_ns` (saturated by to_ns) on `clock`.
inline clock::time_point deadline_after(std::int64_t delay_ns) noexcept {
    return clock::time_point(std::chrono::duration_cast<clock::duration>(std::chrono::nanoseconds(now_ns() + delay_ns)));
}

template <class T, class Body, class... Args>
task<T> run_timeout_scope(std::optional<clock::time_point> when, Body body, Args... args) {
    timeout_scope scope(when);
    try {
        if constexpr (std::is_void_v<T>) {
            co_await scope_awaitable(scope, body, args...);
            scope.leave(false);
        } else {
            T value = co_await scope_awaitable(scope, body, args...);
            scope.leave(false);
            co_return std::move(value);
        }
    } catch (const cancelled_error&) {
        if (scope.leave(true)) std::throw_with_nested(timeout_error());
        throw;
    } catch (...) {
        scope.leave(false);
        throw;
    }
}

} // namespace detail

// asyncio.timeout_at(when): runs body(scope, args...) (or awaits the
// awaitable) with a deadline on `clock`; nullopt: none until rescheduled.
template <class Body, class... Args> auto timeout_at(std::optional<clock::time_point> when, Body body, Args... args) {
    return detail::run_timeout_scope<detail::scope_result_t<Body, Args...>>(when, std::move(body), std::move(args)...);
}

// asyncio.timeout(delay): the deadline is `delay` from now (from this call).
template <class Rep, class Period, class Body, class... Args>
auto timeout(std::chrono::duration<Rep, Period> delay, Body body, Args... args) {
    return timeout_at(detail::deadline_after(detail::to_ns(delay)), std::move(body), std::move(args)...);
}
// timeout(nullopt, body): no deadline until the body reschedules one.
template <class Body, class... Args> auto timeout(std::optional<clock::duration> delay, Body body, Args... args) {
    std::optional<clock::time_point> when;
    if (delay) when = detail::deadline_after(detail::to_ns(*delay));
    return timeout_at(when, std::move(body), std::move(args)...);
}

} // namespace uvasync
