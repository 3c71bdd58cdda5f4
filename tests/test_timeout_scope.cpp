// timeout / timeout_at scopes (API.md §3), ported from CPython's
// test_timeouts.py (Python 3.12's timeouts.py semantics).
//
// Deadlines here are short real ones where the behaviour is about time;
// no test asserts how long anything took.
#include "coro_test_util.hpp"

#include <gtest/gtest.h>
#include <uvasync/uvasync.hpp>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

using namespace uvasync;
using namespace coro_test_util;
using namespace std::chrono_literals;

namespace {

// What the scope said as its body ended (the scope itself lives only while
// the body runs).
struct seen {
    bool expired = false;
    std::optional<clock::time_point> when;
};

// Sleeps for `d` inside the scope, recording what the scope says at the end.
task<> sleep_recording(timeout_scope& s, seen& out, clock::duration d) {
    struct record {
        timeout_scope& s;
        seen& out;
        ~record() {
            out.expired = s.expired();
            out.when = s.when();
        }
    } r{s, out};
    co_await sleep(d);
}

// Spins (the loop is busy, as with Python's time.sleep in a coroutine) until
// `until` has passed.
void busy_until(clock::time_point until) {
    while (clock::now() <= until) {
    }
}

// CPython: test_timeouts.py::test_timeout_basic, test_waiter_cancelled
TEST(TimeoutScope, ExpiresIntoTimeoutError) {
    event_loop loop;
    auto main = [&]() -> task<> {
        seen s;
        bool waiter_cancelled = false;
        auto body = [&](timeout_scope& scope) -> task<> {
            try {
                co_await sleep_recording(scope, s, 10s);
            } catch (const cancelled_error&) {
                waiter_cancelled = true; // the awaited operation sees the cancellation
                throw;
            }
        };
        EXPECT_THROW(co_await timeout(10ms, body), timeout_error);
        EXPECT_TRUE(s.expired);
        EXPECT_TRUE(waiter_cancelled);
        EXPECT_EQ(current_task()->cancelling(), 0u);
    };
    loop.run_until_complete(main());
}

// CPython: test_timeouts.py::test_timeout_at_basic
TEST(TimeoutScope, TimeoutAtKeepsTheDeadlineGiven) {
    event_loop loop;
    auto main = [&]() -> task<> {
        seen s;
        const clock::time_point deadline = clock::now() + 10ms;
        auto body = [&](timeout_scope& scope) -> task<> { co_await sleep_recording(scope, s, 10s); };
        EXPECT_THROW(co_await timeout_at(deadline, body), timeout_error);
        EXPECT_TRUE(s.expired);
        EXPECT_EQ(s.when, deadline);
    };
    loop.run_until_complete(main());
}

// CPython: test_timeouts.py::test_timeout_exception_cause (TimeoutError from CancelledError)
TEST(TimeoutScope, TheTimeoutErrorCarriesTheCancellation) {
    event_loop loop;
    auto main = [&]() -> task<> {
        auto body = [](timeout_scope&) -> task<> { co_await sleep(1s); };
        bool nested_cancellation = false;
        try {
            co_await timeout(0s, body);
            ADD_FAILURE() << "no timeout";
        } catch (const timeout_error& e) {
            try {
                std::rethrow_if_nested(e);
            } catch (const cancelled_error&) {
                nested_cancellation = true;
            }
        }
        EXPECT_TRUE(nested_cancellation);
    };
    loop.run_until_complete(main());
}

// CPython: test_timeouts.py::test_timeout_not_called
TEST(TimeoutScope, ABodyDoneInTimeReturnsItsValue) {
    event_loop loop;
    auto main = [&]() -> task<> {
        bool expired = true;
        std::optional<clock::time_point> when;
        auto body = [&](timeout_scope& scope) -> task<int> {
            co_await ticks(2);
            expired = scope.expired();
            when = scope.when();
            co_return 42;
        };
        EXPECT_EQ(co_await timeout(10s, body), 42);
        EXPECT_FALSE(expired);
        EXPECT_TRUE(when && *when > clock::now());
    };
    loop.run_until_complete(main());
}

// CPython: test_timeouts.py::test_timeout_disabled, test_timeout_at_disabled
TEST(TimeoutScope, NoDeadlineNeverExpires) {
    event_loop loop;
    auto main = [&]() -> task<> {
        std::vector<seen> s(2);
        auto body = [&](timeout_scope& scope, int i) -> task<> { co_await sleep_recording(scope, s[i], 10ms); };
        co_await timeout(std::nullopt, body, 0);
        co_await timeout_at(std::nullopt, body, 1);
        for (const seen& x : s) {
            EXPECT_FALSE(x.expired);
            EXPECT_FALSE(x.when);
        }
    };
    loop.run_until_complete(main());
}

// Disabled, then rescheduled from inside (test_reschedule's deadline moves)
TEST(TimeoutScope, DisabledThenRescheduled) {
    event_loop loop;
    auto main = [&]() -> task<> {
        seen s;
        const clock::time_point deadline = clock::now() + 10ms;
        auto body = [&](timeout_scope& scope) -> task<> {
            EXPECT_FALSE(scope.when());
            scope.reschedule(deadline);
            EXPECT_EQ(scope.when(), deadline);
            co_await sleep_recording(scope, s, 10s);
        };
        EXPECT_THROW(co_await timeout(std::nullopt, body), timeout_error);
        EXPECT_TRUE(s.expired);
        EXPECT_EQ(s.when, deadline);
    };
    loop.run_until_complete(main());
}

// CPython: test_timeouts.py::test_timeout_zero, test_timeout_zero_sleep_zero,
// test_timeout_in_the_past_sleep_zero
TEST(TimeoutScope, ZeroOrNegativeExpiresAtTheNextSuspension) {
    event_loop loop;
    auto main = [&]() -> task<> {
        auto sleep_long = [](timeout_scope&) -> task<> { co_await sleep(10s); };
        auto sleep_zero = [](timeout_scope&) -> task<> { co_await sleep(0s); };
        std::optional<clock::time_point> when;
        bool expired = false;
        auto record_then_sleep_zero = [&](timeout_scope& scope) -> task<> {
            when = scope.when();
            try {
                co_await sleep(0s);
            } catch (const cancelled_error&) {
                expired = scope.expired();
                throw;
            }
        };
        const clock::time_point t0 = clock::now();
        EXPECT_THROW(co_await timeout(0s, sleep_long), timeout_error);
        EXPECT_THROW(co_await timeout(0s, sleep_zero), timeout_error);
        EXPECT_THROW(co_await timeout(-11s, sleep_zero), timeout_error);
        EXPECT_THROW(co_await timeout(0s, record_then_sleep_zero), timeout_error);
        const clock::time_point t1 = clock::now();
        EXPECT_TRUE(expired);
        EXPECT_TRUE(when && t0 <= *when && *when <= t1);
        EXPECT_THROW(co_await timeout_at(t0 - 11s, sleep_zero), timeout_error);
        // A body that never suspends returns before the expiry can run.
        auto no_suspension = [](timeout_scope&) -> task<int> { co_return 7; };
        EXPECT_EQ(co_await timeout(0s, no_suspension), 7);
        EXPECT_EQ(co_await timeout(-1s, no_suspension), 7);
        co_await ticks(2); // and nothing fires later
        EXPECT_EQ(current_task()->cancelling(), 0u);
    };
    loop.run_until_complete(main());
}

// CPython: test_timeouts.py::test_foreign_exception_passed
TEST(TimeoutScope, AForeignExceptionPassesUntouched) {
    event_loop loop;
    auto main = [&]() -> task<> {
        bool expired = true;
        auto body = [&](timeout_scope& scope) -> task<> {
            expired = scope.expired();
            throw std::out_of_range("key");
            co_return;
        };
        try {
            co_await timeout(10ms, body);
            ADD_FAILURE() << "nothing thrown";
        } catch (const std::out_of_range& e) {
            EXPECT_STREQ(e.what(), "key");
        }
        EXPECT_FALSE(expired);
    };
    loop.run_until_complete(main());
}

// CPython: test_timeouts.py::test_foreign_exception_on_timeout
TEST(TimeoutScope, AnExceptionRaisedWhileExpiringPassesUntouched) {
    event_loop loop;
    auto main = [&]() -> task<> {
        auto crash = []() -> task<> {
            try {
                co_await sleep(1s);
            } catch (const cancelled_error&) {
            }
            throw std::domain_error("1/0"); // Python: `finally: 1/0`
        };
        auto body = [&](timeout_scope&) -> task<> { co_await crash(); };
        EXPECT_THROW(co_await timeout(10ms, body), std::domain_error);
        EXPECT_EQ(current_task()->cancelling(), 0u); // the scope's request was withdrawn all the same
        co_await ticks(1);                            // and nothing is left pending
    };
    loop.run_until_complete(main());
}

// CPython: test_timeouts.py::test_foreign_cancel_doesnt_timeout_if_not_expired
TEST(TimeoutScope, ACancellationFromOutsideIsNotATimeout) {
    event_loop loop;
    auto main = [&]() -> task<> {
        seen s;
        auto body = [&](timeout_scope& scope) -> task<> {
            current_task()->cancel();
            co_await sleep_recording(scope, s, 10s);
        };
        EXPECT_THROW(co_await timeout(10s, body), cancelled_error);
        EXPECT_FALSE(s.expired);
        EXPECT_EQ(current_task()->cancelling(), 1u); // the request is the caller's to withdraw
    };
    loop.run_until_complete(main());
}

// A cancellation from outside arriving together with the expiry, in either
// order (a call_at at the scope's own deadline fires before or after it,
// FIFO among equal deadlines): still cancelled_error, and cancelling() keeps
// the outside request.
TEST(TimeoutScope, ACancellationFromOutsideTogetherWithTheExpiryIsNotATimeout) {
    event_loop loop;
    for (bool outside_first : {true, false}) {
        std::vector<std::string> order;
        auto victim = [&](clock::time_point deadline) -> task<> {
            seen s;
            auto body = [&](timeout_scope& scope) -> task<> { co_await sleep_recording(scope, s, 10s); };
            timer_handle outside;
            task_handle<> self = *current_task();
            auto cancel_from_outside = [&order, self] {
                order.push_back("outside");
                self.cancel("outside");
            };
            // Armed once the scope is entered, so after the scope's timer
            // (the lambda outlives its coroutine: it lives as long as victim).
            auto arm_later = [&]() -> task<> {
                outside = loop.call_at(deadline, cancel_from_outside);
                co_return;
            };
            if (outside_first) outside = loop.call_at(deadline, cancel_from_outside);
            auto scoped = timeout_at(deadline, body);
            if (!outside_first) (void)create_task(arm_later());
            try {
                co_await std::move(scoped);
                ADD_FAILURE() << "the body finished";
            } catch (const cancelled_error& e) {
                order.push_back("cancelled_error:" + e.message());
            } catch (const timeout_error&) {
                order.push_back("timeout_error");
            }
            EXPECT_TRUE(s.expired);
            EXPECT_EQ(current_task()->cancelling(), 1u);
            // Both requests came before the task ran again: one
            // cancelled_error answered them (asyncio), none is left pending.
            try {
                co_await ticks(1);
            } catch (const cancelled_error&) {
                order.push_back("cancelled again");
            }
            current_task()->uncancel();
        };
        loop.run_until_complete(victim(clock::now() + 20ms));
        ASSERT_EQ(order.size(), 2u) << outside_first;
        EXPECT_EQ(order[0], "outside");
        EXPECT_EQ(order[1].rfind("cancelled_error", 0), 0u) << order[1];
    }
}

// CPython: test_timeouts.py::test_outer_task_is_not_cancelled
TEST(TimeoutScope, TheTaskIsNotLeftCancelled) {
    event_loop loop;
    auto outer = []() -> task<> {
        auto body = [](timeout_scope&) -> task<> { co_await sleep(10s); };
        EXPECT_THROW(co_await timeout(1ms, body), timeout_error);
        EXPECT_EQ(current_task()->cancelling(), 0u);
        co_await ticks(1); // no cancellation left pending either
    };
    auto main = [&]() -> task<> {
        auto t = create_task(outer());
        co_await t;
        EXPECT_FALSE(t.cancelled());
        EXPECT_TRUE(t.done());
    };
    loop.run_until_complete(main());
}

// CPython: test_timeouts.py::test_nested_timeouts (the same deadline: only the outermost converts)
TEST(TimeoutScope, NestedWithTheSameDeadline) {
    event_loop loop;
    auto main = [&]() -> task<> {
        seen s1, s2;
        bool inner_cancelled = false;
        const clock::time_point deadline = clock::now() + 10ms;
        auto inner = [&](timeout_scope& scope) -> task<> { co_await sleep_recording(scope, s2, 10s); };
        auto outer = [&](timeout_scope& scope) -> task<> {
            struct record {
                timeout_scope& s;
                seen& out;
                ~record() { out.expired = s.expired(); }
            } r{scope, s1};
            try {
                co_await timeout_at(deadline, inner);
            } catch (const cancelled_error&) {
                inner_cancelled = true;
                throw;
            }
        };
        EXPECT_THROW(co_await timeout_at(deadline, outer), timeout_error);
        EXPECT_TRUE(inner_cancelled);
        EXPECT_TRUE(s1.expired);
        EXPECT_TRUE(s2.expired);
        EXPECT_EQ(current_task()->cancelling(), 0u);
    };
    loop.run_until_complete(main());
}

// Nested, the inner expires: only the inner converts, the outer goes on.
TEST(TimeoutScope, NestedTheInnerExpires) {
    event_loop loop;
    auto main = [&]() -> task<> {
        bool outer_expired = true;
        auto inner = [](timeout_scope&) -> task<> { co_await sleep(10s); };
        auto outer = [&](timeout_scope& scope) -> task<int> {
            EXPECT_THROW(co_await timeout(5ms, inner), timeout_error);
            EXPECT_EQ(current_task()->cancelling(), 0u);
            co_await ticks(1);
            outer_expired = scope.expired();
            co_return 1;
        };
        EXPECT_EQ(co_await timeout(10s, outer), 1);
        EXPECT_FALSE(outer_expired);
    };
    loop.run_until_complete(main());
}

// CPython: test_timeouts.py::test_nested_timeouts_concurrent (the outer expires
// while the inner is active: the inner lets the cancellation through)
TEST(TimeoutScope, NestedTheOuterExpires) {
    event_loop loop;
    auto main = [&]() -> task<> {
        bool inner_saw = false;
        auto inner = [](timeout_scope&) -> task<> {
            busy_until(clock::now() + 5ms); // "pretend we crunch some numbers"
            co_await sleep(1s);
        };
        auto outer = [&](timeout_scope&) -> task<> {
            try {
                co_await timeout(10s, inner);
            } catch (const cancelled_error&) {
                inner_saw = true;
                throw;
            }
        };
        EXPECT_THROW(co_await timeout(2ms, outer), timeout_error);
        EXPECT_TRUE(inner_saw);
        EXPECT_EQ(current_task()->cancelling(), 0u);
    };
    loop.run_until_complete(main());
}

// CPython: test_timeouts.py::test_nested_timeouts_loop_busy. The loop is busy
// past the inner deadline only: the inner raises timeout_error, caught, and
// the outer still interrupts the next await.
TEST(TimeoutScope, LoopBusyPastTheInnerDeadline) {
    event_loop loop;
    auto main = [&]() -> task<> {
        const clock::time_point outer_deadline = clock::now() + 500ms; // far enough for a loaded machine
        const clock::time_point inner_deadline = clock::now() + 5ms;
        bool inner_timed_out = false;
        auto inner = [&](timeout_scope&) -> task<> {
            busy_until(inner_deadline);
            co_await sleep(1s);
        };
        auto outer = [&](timeout_scope&) -> task<> {
            try {
                co_await timeout_at(inner_deadline, inner);
            } catch (const timeout_error&) {
                inner_timed_out = true;
            }
            co_await sleep(10s); // interrupted by the outer scope
        };
        EXPECT_THROW(co_await timeout_at(outer_deadline, outer), timeout_error);
        EXPECT_TRUE(inner_timed_out);
        EXPECT_EQ(current_task()->cancelling(), 0u);
    };
    loop.run_until_complete(main());
}

// The loop busy past both deadlines: both expiries cancel the task before it
// runs again, so the inner sees more than its own request and lets the
// cancellation through; the outer converts it. (Checked with Debian's
// python3: the inner raises CancelledError, cancelling() 1; the outer
// raises TimeoutError, cancelling() 0.)
TEST(TimeoutScope, LoopBusyPastBothDeadlines) {
    event_loop loop;
    auto main = [&]() -> task<> {
        const clock::time_point outer_deadline = clock::now() + 10ms;
        const clock::time_point inner_deadline = clock::now() + 5ms;
        std::uint32_t cancelling_in_inner = 0;
        auto inner = [&](timeout_scope&) -> task<> {
            busy_until(outer_deadline);
            co_await sleep(1s);
        };
        auto outer = [&](timeout_scope&) -> task<> {
            try {
                co_await timeout_at(inner_deadline, inner);
            } catch (const cancelled_error&) {
                cancelling_in_inner = current_task()->cancelling();
                throw;
            }
        };
        EXPECT_THROW(co_await timeout_at(outer_deadline, outer), timeout_error);
        EXPECT_EQ(cancelling_in_inner, 1u);
        EXPECT_EQ(current_task()->cancelling(), 0u);
        co_await ticks(1); // nothing left pending
    };
    loop.run_until_complete(main());
}

// CPython: test_timeouts.py::test_reschedule (from another task: later, then none)
TEST(TimeoutScope, RescheduledFromAnotherTask) {
    event_loop loop;
    auto main = [&]() -> task<> {
        future<timeout_scope*> entered = create_future<timeout_scope*>();
        const clock::time_point deadline1 = clock::now() + 10s;
        const clock::time_point deadline2 = deadline1 + 20s;
        bool expired = true;
        auto body = [&](timeout_scope& scope) -> task<> {
            entered.set_result(&scope);
            try {
                co_await sleep(50s);
            } catch (const cancelled_error&) {
                expired = scope.expired();
                throw;
            }
        };
        auto f = [&]() -> task<> { co_await timeout_at(deadline1, body); };
        auto t = create_task(f());
        timeout_scope* scope = co_await entered;
        EXPECT_EQ(scope->when(), deadline1);
        scope->reschedule(deadline2);
        EXPECT_EQ(scope->when(), deadline2);
        scope->reschedule(std::nullopt);
        EXPECT_FALSE(scope->when());
        t.cancel();
        EXPECT_THROW(co_await t, cancelled_error);
        EXPECT_FALSE(expired);
    };
    loop.run_until_complete(main());
}

// Rescheduled earlier: expires at the new deadline.
TEST(TimeoutScope, RescheduledEarlier) {
    event_loop loop;
    auto main = [&]() -> task<> {
        seen s;
        auto body = [&](timeout_scope& scope) -> task<> {
            scope.reschedule(clock::now() + 5ms);
            co_await sleep_recording(scope, s, 10s);
        };
        EXPECT_THROW(co_await timeout(10s, body), timeout_error);
        EXPECT_TRUE(s.expired);
    };
    loop.run_until_complete(main());
}

// Rescheduled later: the first deadline passes without effect.
TEST(TimeoutScope, RescheduledLater) {
    event_loop loop;
    auto main = [&]() -> task<> {
        bool expired = true;
        auto body = [&](timeout_scope& scope) -> task<int> {
            scope.reschedule(clock::now() + 10s);
            co_await sleep(20ms); // past the first deadline
            expired = scope.expired();
            co_return 3;
        };
        EXPECT_EQ(co_await timeout(2ms, body), 3);
        EXPECT_FALSE(expired);
    };
    loop.run_until_complete(main());
}

// Rescheduled into the past: expires at the next suspension (asyncio:
// call_soon of the expiry); a scope that expired refuses to move.
TEST(TimeoutScope, RescheduledIntoThePast) {
    event_loop loop;
    auto main = [&]() -> task<> {
        bool refused = false;
        auto body = [&](timeout_scope& scope) -> task<> {
            scope.reschedule(clock::now() - 1s);
            EXPECT_FALSE(scope.expired()); // not before the task suspends
            try {
                co_await sleep(0s);
            } catch (const cancelled_error&) {
                EXPECT_TRUE(scope.expired());
                try {
                    scope.reschedule(clock::now() + 1s);
                } catch (const std::runtime_error&) {
                    refused = true; // Python: "Cannot change state of expiring Timeout"
                }
                throw;
            }
        };
        EXPECT_THROW(co_await timeout(10s, body), timeout_error);
        EXPECT_TRUE(refused);
    };
    loop.run_until_complete(main());
}

// The body catches the cancellation and returns: its value is returned.
TEST(TimeoutScope, ABodyThatSwallowsTheCancellationReturnsItsValue) {
    event_loop loop;
    auto main = [&]() -> task<> {
        bool expired = false;
        auto body = [&](timeout_scope& scope) -> task<std::string> {
            try {
                co_await sleep(10s);
            } catch (const cancelled_error&) {
                expired = scope.expired();
            }
            co_return "swallowed";
        };
        EXPECT_EQ(co_await timeout(5ms, body), "swallowed");
        EXPECT_TRUE(expired);
        EXPECT_EQ(current_task()->cancelling(), 0u);
        co_await ticks(1); // no cancellation left pending
    };
    loop.run_until_complete(main());
}

// CPython: test_timeouts.py::test_nested_timeout_in_finally
TEST(TimeoutScope, NestedTimeoutInTheCleanupOfAnExpiredOne) {
    event_loop loop;
    auto main = [&]() -> task<> {
        bool inner_timed_out = false;
        auto inner = [](timeout_scope&) -> task<> { co_await sleep(10s); };
        auto outer = [&](timeout_scope&) -> task<> {
            std::exception_ptr pending;
            try {
                co_await sleep(1s);
            } catch (const cancelled_error&) {
                pending = std::current_exception();
            }
            // `finally:` (no co_await inside a catch handler in C++)
            try {
                co_await timeout(10ms, inner);
            } catch (const timeout_error&) {
                inner_timed_out = true;
            }
            if (pending) std::rethrow_exception(pending);
        };
        EXPECT_THROW(co_await timeout(10ms, outer), timeout_error);
        EXPECT_TRUE(inner_timed_out);
        EXPECT_EQ(current_task()->cancelling(), 0u);
    };
    loop.run_until_complete(main());
}

// CPython: test_timeouts.py::test_timeout_after_cancellation,
// test_cancel_in_timeout_after_cancellation (a swallowed cancellation is
// still counted when the scope is entered)
TEST(TimeoutScope, AfterASwallowedCancellation) {
    event_loop loop;
    auto main = [&](bool cancel_again) -> task<> {
        try {
            current_task()->cancel();
            co_await sleep(1s); // work which will be cancelled
        } catch (const cancelled_error&) {
        }
        EXPECT_EQ(current_task()->cancelling(), 1u);
        auto cleanup = [&](timeout_scope&) -> task<> {
            if (cancel_again) current_task()->cancel();
            co_await sleep(1s);
        };
        if (cancel_again) {
            EXPECT_THROW(co_await timeout(1s, cleanup), cancelled_error);
            EXPECT_EQ(current_task()->cancelling(), 2u);
        } else {
            EXPECT_THROW(co_await timeout(0s, cleanup), timeout_error);
            EXPECT_EQ(current_task()->cancelling(), 1u); // as on entry
        }
    };
    loop.run_until_complete(main(false));
    loop.run_until_complete(main(true));
}

// Any awaitable instead of a body: an operation, a future, a task.
TEST(TimeoutScope, AroundAnAwaitable) {
    event_loop loop;
    auto main = [&]() -> task<> {
        lock l;
        co_await timeout(1s, l.acquire()); // free: at once
        EXPECT_TRUE(l.locked());
        EXPECT_THROW(co_await timeout(5ms, l.acquire()), timeout_error);
        l.release(); // the timed-out waiter is gone: the lock is free again
        EXPECT_FALSE(l.locked());
        co_await timeout(1s, l.acquire());
        l.release();

        future<int> f = create_future<int>();
        loop.call_soon([f] { f.set_result(9); });
        EXPECT_EQ(co_await timeout(1s, f), 9);
        future<int> never = create_future<int>();
        EXPECT_THROW(co_await timeout(5ms, never), timeout_error);
        EXPECT_TRUE(never.cancelled()); // awaited directly in the scope, as in asyncio

        EXPECT_EQ(co_await timeout(1s, [](int v) -> task<int> {
                      co_await ticks(1);
                      co_return v * 2;
                  }(21)),
                  42);
        EXPECT_EQ(current_task()->cancelling(), 0u);
    };
    loop.run_until_complete(main());
}

// timeout(d, body, args...) calls body(scope, args...): the values live in
// the scope's frame (the GCC 12-safe way to hand a body values).
TEST(TimeoutScope, BodyArguments) {
    event_loop loop;
    auto main = [&]() -> task<> {
        auto body = [](timeout_scope&, std::string greeting, int n) -> task<std::string> {
            co_await ticks(1);
            co_return greeting + std::to_string(n);
        };
        EXPECT_EQ(co_await timeout(1s, body, std::string("hello, a long string on the heap #"), 1),
                  "hello, a long string on the heap #1");
    };
    loop.run_until_complete(main());
}

// The deadline is an ordinary timer of the loop, ordered with call_at's.
TEST(TimeoutScope, TheDeadlineIsOrderedWithCallAtTimers) {
    event_loop loop;
    auto main = [&]() -> task<> {
        std::vector<std::string> order;
        task_handle<> self = *current_task();
        // Each callback tells whether the scope's expiry has cancelled the task yet.
        auto note = [&order, self](const char* what) {
            order.push_back(std::string(what) + (self.cancelling() ? " (after the expiry)" : ""));
        };
        const clock::time_point deadline = clock::now() + 10ms;
        loop.call_at(deadline - 1ms, [note] { note("before"); });
        loop.call_at(deadline, [note] { note("same, earlier"); });
        auto body = [&](timeout_scope&) -> task<> {
            loop.call_at(deadline, [note] { note("same, later"); });
            try {
                co_await sleep(10s);
            } catch (const cancelled_error&) {
                order.push_back("expired");
                throw;
            }
        };
        EXPECT_THROW(co_await timeout_at(deadline, body), timeout_error);
        co_await ticks(1);
        EXPECT_EQ(order, (std::vector<std::string>{"before", "same, earlier", "same, later (after the expiry)", "expired"}));
    };
    loop.run_until_complete(main());
}

// A far deadline is kept exactly and never fires.
TEST(TimeoutScope, AFarDeadline) {
    event_loop loop;
    auto main = [&]() -> task<> {
        std::optional<clock::time_point> when;
        auto body = [&](timeout_scope& scope) -> task<> {
            when = scope.when();
            co_await ticks(1);
        };
        co_await timeout_at(clock::time_point::max(), body);
        EXPECT_EQ(when, clock::time_point::max());
        co_await timeout(std::chrono::hours::max(), body);
        co_await timeout(clock::duration::max(), body);
    };
    loop.run_until_complete(main());
}

// event_loop::close() with a task suspended inside a scope: the timer goes
// with the frame.
TEST(TimeoutScope, ClosingTheLoopInsideAScope) {
    event_loop loop;
    auto inside = [](timeout_scope&) -> task<> { co_await sleep(10s); };
    auto victim = [&]() -> task<> { co_await timeout(10s, inside); };
    auto main = [&]() -> task<> {
        (void)create_task(victim());
        co_await ticks(2);
    };
    loop.run_until_complete(main());
    loop.close();
    EXPECT_TRUE(loop.is_closed());
}

} // namespace
