// sleep, wait_for and wait_until (docs/api.md, asyncio-semantics.md §5, §6.8).
#include "coro_test_util.hpp"
#include <gtest/gtest.h>
#include <uvasync/uvasync.hpp>

#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

using namespace uvasync;
using namespace std::chrono_literals;

namespace {

// ---- sleep --------------------------------------------------------------------

task<> ticker(std::string name, int rounds, std::vector<std::string>& log) {
    for (int i = 0; i < rounds; ++i) {
        log.push_back(name + std::to_string(i));
        co_await sleep(0s);
    }
}

task<> three_tickers(std::vector<std::string>& log) {
    task_handle<> a = create_task(ticker("a", 3, log));
    task_handle<> b = create_task(ticker("b", 3, log));
    task_handle<> c = create_task(ticker("c", 3, log));
    co_await a;
    co_await b;
    co_await c;
}

// CPython: test_tasks.py::test_sleep_zero (one tick each)
TEST(Sleep, SleepZeroYieldsToEveryOtherReadyTaskExactlyOnce) {
    event_loop loop;
    std::vector<std::string> log;
    loop.run_until_complete(three_tickers(log));
    EXPECT_EQ(log, (std::vector<std::string>{"a0", "b0", "c0", "a1", "b1", "c1", "a2", "b2", "c2"}));
}

task<> sleep_nan() {
    co_await sleep(std::chrono::duration<double>(std::numeric_limits<double>::quiet_NaN()));
}

// CPython: test_tasks.py::test_sleep_when_delay_is_nan
TEST(Sleep, NanDelayThrowsInvalidArgument) {
    event_loop loop;
    EXPECT_THROW(loop.run_until_complete(sleep_nan()), std::invalid_argument);
}

task<clock::duration> timed_sleep(clock::duration d) {
    const clock::time_point start = clock::now();
    co_await sleep(d);
    co_return clock::now() - start;
}

TEST(Sleep, NeverReturnsEarlyAndNegativeDelaysAreSleepZero) {
    event_loop loop;
    for (auto d : {clock::duration(1ms), clock::duration(2500us), clock::duration(5ms)}) {
        EXPECT_GE(loop.run_until_complete(timed_sleep(d)), d);
    }
    EXPECT_LT(loop.run_until_complete(timed_sleep(-1h)), clock::duration(1h));
}

// ---- wait_for -----------------------------------------------------------------

task<int> returns_after(clock::duration d, int v) {
    co_await sleep(d);
    co_return v;
}

task<int> wait_in_time() {
    int a = co_await wait_for(returns_after(0s, 1), 1h);
    int b = co_await wait_for(returns_after(1ms, 2), 10s);
    co_return a + b;
}

// CPython: test_waitfor.py::test_wait_for_blocking, test_wait_for_race_condition
TEST(WaitFor, FinishingInTimeReturnsTheValue) {
    event_loop loop;
    EXPECT_EQ(loop.run_until_complete(wait_in_time()), 3);
}

// The tests below give wait_for their inner work started (eager). A 1 ms
// deadline can pass before a slow, sanitized loop has given a newly
// scheduled task its first step, and a task cancelled before that never
// runs its body, in asyncio too: wait_for then rightly raises
// timeout_error, and the test would depend on the machine's speed.
using coro_test_util::started;

task<int> slow_with_cleanup(std::vector<std::string>& log) {
    bool cancelled = false;
    try {
        co_await sleep(1h);
    } catch (const cancelled_error&) {
        cancelled = true;
        log.push_back("inner cancelled");
    }
    if (cancelled) { // a finally block that awaits
        co_await sleep(0s);
        log.push_back("inner cleanup done");
        throw cancelled_error();
    }
    co_return 0;
}

task<> times_out(std::vector<std::string>& log) {
    try {
        task_handle<int> inner = started(slow_with_cleanup(log));
        co_await wait_for(inner, 1ms);
        log.push_back("no timeout");
    } catch (const timeout_error&) {
        log.push_back("timeout_error");
    }
    std::optional<task_handle<>> me = current_task();
    EXPECT_TRUE(me && me->cancelling() == 0); // the caller is not left cancelled
    co_await sleep(0s);                       // and no cancellation is pending
    log.push_back("caller goes on");
}

// CPython: test_waitfor.py::test_wait_for, test_wait_for_waits_for_task_cancellation,
// test_outer_task_is_not_cancelled (test_timeouts.py)
TEST(WaitFor, LateCancelsTheInnerWaitsForItsCleanupThenThrowsTimeoutError) {
    event_loop loop;
    std::vector<std::string> log;
    loop.run_until_complete(times_out(log));
    EXPECT_EQ(log, (std::vector<std::string>{"inner cancelled", "inner cleanup done", "timeout_error",
                                             "caller goes on"}));
}

task<int> swallows_cancel() {
    try {
        co_await sleep(1h);
    } catch (const cancelled_error&) {
        co_return 99;
    }
    co_return 0;
}

task<int> wait_swallower() {
    task_handle<int> inner = started(swallows_cancel());
    co_return co_await wait_for(inner, 1ms);
}

// CPython: test_waitfor.py::test_wait_for_cancel_suppressed (GH-86296)
TEST(WaitFor, AnInnerThatSwallowsTheCancellationHasItsValueReturned) {
    event_loop loop;
    EXPECT_EQ(loop.run_until_complete(wait_swallower()), 99);
}

task<int> records_start(bool& started) {
    started = true;
    co_return 1;
}

task<> zero_timeout_never_starts(bool& started) {
    EXPECT_THROW(co_await wait_for(records_start(started), 0s), timeout_error);
    EXPECT_THROW(co_await wait_for(records_start(started), -1s), timeout_error);
    EXPECT_THROW(co_await wait_until(records_start(started), clock::now() - 1s), timeout_error);
}

// CPython: test_waitfor.py::test_wait_for_timeout_less_then_0_or_0_coroutine_do_not_started
TEST(WaitFor, ZeroOrNegativeTimeoutWithATaskNeverStartsItsBody) {
    event_loop loop;
    bool started = false;
    loop.run_until_complete(zero_timeout_never_starts(started));
    EXPECT_FALSE(started);
}

task<int> immediate(int v) { co_return v; }

task<> zero_timeout_on_done_handle() {
    task_handle<int> h = create_task(immediate(8));
    co_await sleep(0s);
    EXPECT_TRUE(h.done());
    EXPECT_EQ(co_await wait_for(h, 0s), 8);
    EXPECT_EQ(co_await wait_for(h, -1s), 8);
    EXPECT_FALSE(h.cancelled());
}

// CPython: test_waitfor.py::test_wait_for_timeout_less_then_0_or_0_future_done
TEST(WaitFor, ZeroTimeoutOnAnAlreadyDoneHandleReturnsItsResult) {
    event_loop loop;
    loop.run_until_complete(zero_timeout_on_done_handle());
}

task<> zero_timeout_on_running_task(std::vector<std::string>& log) {
    task_handle<int> h = create_task(slow_with_cleanup(log));
    co_await sleep(0s); // started, sleeping
    try {
        co_await wait_for(h, 0s);
    } catch (const timeout_error&) {
        log.push_back("timeout_error");
    }
    EXPECT_TRUE(h.cancelled());
}

// CPython: test_waitfor.py::test_wait_for_timeout_less_then_0_or_0,
// test_wait_for_waits_for_task_cancellation_w_timeout_0
TEST(WaitFor, ZeroTimeoutOnARunningTaskCancelsAndAwaitsIt) {
    event_loop loop;
    std::vector<std::string> log;
    loop.run_until_complete(zero_timeout_on_running_task(log));
    EXPECT_EQ(log, (std::vector<std::string>{"inner cancelled", "inner cleanup done", "timeout_error"}));
}

task<int> inner_sleeps(std::vector<std::string>& log) {
    try {
        co_await sleep(1h);
    } catch (const cancelled_error& e) {
        log.push_back("inner cancelled: " + e.message());
        throw;
    }
    co_return 0;
}

task<int> caller_waits(std::vector<std::string>& log) {
    try {
        co_return co_await wait_for(inner_sleeps(log), 1h);
    } catch (const cancelled_error&) {
        log.push_back("caller cancelled");
        throw;
    } catch (const timeout_error&) {
        log.push_back("caller got timeout_error");
    }
    co_return -1;
}

task<> cancel_the_caller(std::vector<std::string>& log) {
    task_handle<int> caller = create_task(caller_waits(log));
    co_await sleep(0s); // the caller starts the inner and waits
    co_await sleep(0s); // the inner starts sleeping
    EXPECT_TRUE(caller.cancel("stop"));
    try {
        co_await caller;
    } catch (const cancelled_error&) {
        log.push_back("main: caller cancelled");
    }
    EXPECT_TRUE(caller.cancelled());
}

// CPython: test_waitfor.py::test_cancel_wait_for, test_asyncio_wait_for_cancelled
TEST(WaitFor, CancellingTheCallerCancelsTheInner) {
    event_loop loop;
    std::vector<std::string> log;
    loop.run_until_complete(cancel_the_caller(log));
    EXPECT_EQ(log, (std::vector<std::string>{"inner cancelled: stop", "caller cancelled", "main: caller cancelled"}));
}

task<int> fails_when_cancelled() {
    bool cancelled = false;
    try {
        co_await sleep(1h);
    } catch (const cancelled_error&) {
        cancelled = true;
    }
    if (cancelled) throw std::logic_error("cleanup failed");
    co_return 0;
}

task<std::string> wait_reraises() {
    try {
        task_handle<int> inner = started(fails_when_cancelled());
        co_await wait_for(inner, 1ms);
    } catch (const timeout_error&) {
        co_return "timeout_error";
    } catch (const std::logic_error& e) {
        co_return e.what();
    }
    co_return "nothing";
}

// CPython: test_waitfor.py::test_wait_for_reraises_exception_during_cancellation
TEST(WaitFor, AnExceptionRaisedByTheInnerWhileCancelledPropagates) {
    event_loop loop;
    EXPECT_EQ(loop.run_until_complete(wait_reraises()), "cleanup failed");
}

task<int> huge_timeouts() {
    int a = co_await wait_for(returns_after(1ms, 1), std::chrono::hours::max());
    int b = co_await wait_for(returns_after(0s, 2), std::chrono::nanoseconds::max());
    int c = co_await wait_for(returns_after(0s, 3),
                              std::chrono::duration<double>(std::numeric_limits<double>::infinity()));
    int d = co_await wait_until(returns_after(0s, 4), clock::time_point::max());
    co_return a + b + c + d;
}

// uvloop: test_base.py::test_inf_wait_for, test_big_call_later_timeout
TEST(WaitFor, HugeTimeoutsWork) {
    event_loop loop;
    EXPECT_EQ(loop.run_until_complete(huge_timeouts()), 10);
}

task<int> throws_soon() {
    co_await sleep(0s);
    throw std::range_error("inner failed");
}

task<> inner_exception_passes() {
    EXPECT_THROW(co_await wait_for(throws_soon(), 1h), std::range_error);
    co_return;
}

// CPython: test_timeouts.py::test_foreign_exception_passed
TEST(WaitFor, AnInnerExceptionPassesThroughUnchanged) {
    event_loop loop;
    loop.run_until_complete(inner_exception_passes());
}

task<> handle_timeout(std::vector<std::string>& log) {
    task_handle<int> h = create_task(inner_sleeps(log));
    try {
        co_await wait_for(h, 1ms);
    } catch (const timeout_error&) {
        log.push_back("timeout_error");
    }
    EXPECT_TRUE(h.cancelled()); // wait_for cancels the task it waited for
}

TEST(WaitFor, OnATaskHandleTheTimedOutTaskIsCancelled) {
    event_loop loop;
    std::vector<std::string> log;
    loop.run_until_complete(handle_timeout(log));
    EXPECT_EQ(log, (std::vector<std::string>{"inner cancelled: ", "timeout_error"}));
}

// ---- wait_until ---------------------------------------------------------------

task<> wait_until_checks() {
    EXPECT_EQ(co_await wait_until(returns_after(0s, 5), clock::now() + 1h), 5);
    const clock::time_point deadline = clock::now() + 2ms;
    EXPECT_THROW(co_await wait_until(returns_after(1h, 6), deadline), timeout_error);
    EXPECT_GE(clock::now(), deadline); // not before the deadline
}

// CPython: test_timeouts.py::test_timeout_at_basic
TEST(WaitUntil, WithAnAbsoluteTimePoint) {
    event_loop loop;
    loop.run_until_complete(wait_until_checks());
}

} // namespace
