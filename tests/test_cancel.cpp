// Task cancellation (docs/api.md, asyncio-semantics.md §6).
#include <gtest/gtest.h>
#include <uvasync/uvasync.hpp>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

using namespace uvasync;
using namespace std::chrono_literals;

namespace {

task<> forever_task() { co_await sleep(1h); }

task<> sleeps_an_hour(std::vector<std::string>& log) {
    log.push_back("sleeping");
    co_await sleep(1h);
    log.push_back("woke up"); // never
}

task<> cancel_sleeper(event_loop& loop, std::vector<std::string>& log) {
    task_handle<> h = create_task(sleeps_an_hour(log));
    co_await sleep(0s);
    EXPECT_TRUE(uv_loop_alive(loop.native_handle())); // the hour-long timer keeps it alive
    EXPECT_TRUE(h.cancel());
    try {
        co_await h;
        ADD_FAILURE() << "awaiting a cancelled task did not throw";
    } catch (const cancelled_error&) {
        log.push_back("cancelled");
    }
    EXPECT_TRUE(h.done());
    EXPECT_TRUE(h.cancelled());
}

// CPython: test_tasks.py::test_sleep_cancel, test_cancel
TEST(Cancel, ASleepingTaskEndsCancelledAndItsTimerIsRemoved) {
    event_loop loop;
    std::vector<std::string> log;
    const double start = loop.time();
    loop.run_until_complete(cancel_sleeper(loop, log));
    EXPECT_LT(loop.time() - start, 60.0);
    EXPECT_EQ(log, (std::vector<std::string>{"sleeping", "cancelled"}));
    // Nothing is left that would keep libuv running: the timer is gone.
    uv_run(loop.native_handle(), UV_RUN_NOWAIT);
    EXPECT_FALSE(uv_loop_alive(loop.native_handle()));
}

task<> child_sleeps(std::vector<std::string>& log) {
    try {
        co_await sleep(1h);
    } catch (const cancelled_error& e) {
        log.push_back("child cancelled: " + e.message());
        throw;
    }
}

task<> parent_awaits_child(task_handle<>& child, std::vector<std::string>& log) {
    child = create_task(child_sleeps(log));
    try {
        co_await child;
    } catch (const cancelled_error& e) {
        log.push_back("parent cancelled: " + e.message());
        throw;
    }
}

task<> cancel_parent(std::vector<std::string>& log) {
    task_handle<> child;
    task_handle<> parent = create_task(parent_awaits_child(child, log));
    co_await sleep(0s); // parent starts, creates the child, awaits it
    co_await sleep(0s); // the child starts sleeping
    EXPECT_TRUE(parent.cancel("from main"));
    try {
        co_await parent;
    } catch (const cancelled_error& e) {
        log.push_back("main saw: " + e.message());
    }
    EXPECT_TRUE(parent.cancelled());
    EXPECT_TRUE(child.valid() && child.cancelled());
}

// CPython: test_tasks.py::test_yield_future_passes_cancel
TEST(Cancel, CancellingATaskAwaitingAChildCancelsTheChildToo) {
    event_loop loop;
    std::vector<std::string> log;
    loop.run_until_complete(cancel_parent(log));
    EXPECT_EQ(log, (std::vector<std::string>{"child cancelled: from main", "parent cancelled: from main",
                                             "main saw: from main"}));
}

task<> records_run(bool& ran) {
    ran = true;
    co_return;
}

task<> cancel_before_start(bool& ran) {
    task_handle<> h = create_task(records_run(ran));
    EXPECT_TRUE(h.cancel("before start"));
    EXPECT_FALSE(h.done());
    try {
        co_await h;
        ADD_FAILURE() << "no cancelled_error";
    } catch (const cancelled_error& e) {
        EXPECT_EQ(e.message(), "before start");
    }
    EXPECT_TRUE(h.cancelled());
}

// CPython: test_tasks.py::test_cancel_with_message_before_starting_task
TEST(Cancel, ATaskCancelledBeforeItStartsNeverRunsItsBody) {
    event_loop loop;
    bool ran = false;
    loop.run_until_complete(cancel_before_start(ran));
    EXPECT_FALSE(ran);
}

task<int> returns_at_once() { co_return 3; }

task<> cancel_finished() {
    task_handle<int> h = create_task(returns_at_once());
    EXPECT_EQ(co_await h, 3);
    EXPECT_FALSE(h.cancel());
    EXPECT_FALSE(h.cancelled());
    EXPECT_EQ(h.cancelling(), 0u);
    EXPECT_EQ(h.result(), 3);
}

// CPython: test_tasks.py::test_cancel_yield (cancel() of a done task is False)
TEST(Cancel, CancelOnAFinishedTaskReturnsFalse) {
    event_loop loop;
    loop.run_until_complete(cancel_finished());
}

task<int> catches_cancellation() {
    try {
        co_await sleep(1h);
    } catch (const cancelled_error&) {
        co_return 42;
    }
    co_return 0;
}

task<> cancel_catching() {
    task_handle<int> h = create_task(catches_cancellation());
    co_await sleep(0s);
    EXPECT_TRUE(h.cancel());
    EXPECT_EQ(co_await h, 42);
    EXPECT_FALSE(h.cancelled());
    EXPECT_EQ(h.result(), 42);
}

// CPython: test_tasks.py::test_cancel_task_catching
TEST(Cancel, ATaskThatCatchesCancellationAndReturnsIsNotCancelled) {
    event_loop loop;
    loop.run_until_complete(cancel_catching());
}

task<> cancel_with_message() {
    task_handle<> h = create_task(forever_task());
    co_await sleep(0s);
    EXPECT_TRUE(h.cancel("my message"));
    try {
        co_await h;
        ADD_FAILURE() << "no cancelled_error";
    } catch (const cancelled_error& e) {
        EXPECT_EQ(e.message(), "my message");
        EXPECT_STREQ(e.what(), "my message");
    }
    try {
        h.result();
        ADD_FAILURE() << "no cancelled_error";
    } catch (const cancelled_error& e) {
        EXPECT_EQ(e.message(), "my message");
    }
}

// CPython: test_tasks.py::test_cancel_with_message_then_future_result
TEST(Cancel, TheCancelMessageReachesTheAwaitersCancelledError) {
    event_loop loop;
    loop.run_until_complete(cancel_with_message());
}

task<> counts_cancels() {
    task_handle<> h = create_task(forever_task());
    co_await sleep(0s);
    EXPECT_EQ(h.cancelling(), 0u);
    EXPECT_TRUE(h.cancel());
    EXPECT_EQ(h.cancelling(), 1u);
    EXPECT_TRUE(h.cancel()); // still pending: a second request counts too
    EXPECT_EQ(h.cancelling(), 2u);
    EXPECT_EQ(h.uncancel(), 1u);
    EXPECT_EQ(h.cancelling(), 1u);
    try {
        co_await h;
    } catch (const cancelled_error&) {
    }
    EXPECT_TRUE(h.cancelled());
}

// CPython: test_tasks.py::test_cancelling
TEST(Cancel, CancellingCountsEveryRequest) {
    event_loop loop;
    loop.run_until_complete(counts_cancels());
}

task<int> yields_then_returns(std::vector<std::string>& log) {
    co_await sleep(0s);
    log.push_back("resumed normally");
    co_return 7;
}

task<> uncancel_withdraws(std::vector<std::string>& log) {
    // Not started yet: the cancel would replace the body; uncancel takes it back.
    task_handle<int> a = create_task(yields_then_returns(log));
    EXPECT_TRUE(a.cancel());
    EXPECT_EQ(a.uncancel(), 0u);
    EXPECT_EQ(co_await a, 7);
    EXPECT_FALSE(a.cancelled());

    // Parked in sleep(0), woken and queued: the cancel waits for its next
    // step; uncancel withdraws it before that step runs.
    task_handle<int> b = create_task(yields_then_returns(log));
    co_await sleep(0s); // b starts and parks in its sleep(0)
    EXPECT_TRUE(b.cancel());
    EXPECT_EQ(b.cancelling(), 1u);
    EXPECT_EQ(b.uncancel(), 0u);
    EXPECT_EQ(co_await b, 7);
    EXPECT_FALSE(b.cancelled());
}

// CPython: test_tasks.py::test_uncancel_resets_must_cancel, test_uncancel_basic
TEST(Cancel, UncancelWithdrawsACancellationNotYetDelivered) {
    event_loop loop;
    std::vector<std::string> log;
    loop.run_until_complete(uncancel_withdraws(log));
    EXPECT_EQ(log, (std::vector<std::string>{"resumed normally", "resumed normally"}));
}

task<> cancels_itself_then_awaits(std::vector<std::string>& log, bool yield_first) {
    if (yield_first) co_await sleep(0s);
    std::optional<task_handle<>> me = current_task();
    EXPECT_TRUE(me.has_value());
    if (!me) co_return;
    EXPECT_TRUE(me->cancel("self"));
    log.push_back("cancel requested");
    try {
        co_await sleep(0s);
        log.push_back("await did not throw");
    } catch (const cancelled_error& e) {
        log.push_back("await threw: " + e.message());
        throw;
    }
}

task<> run_self_cancel_await(std::vector<std::string>& log, bool yield_first) {
    task_handle<> h = create_task(cancels_itself_then_awaits(log, yield_first));
    try {
        co_await h;
    } catch (const cancelled_error&) {
        log.push_back("main: cancelled");
    }
    EXPECT_TRUE(h.cancelled());
}

// CPython: test_tasks.py::test_cancel_current_task
TEST(Cancel, ATaskCancellingItselfGetsCancelledErrorAtItsNextAwait) {
    for (bool yield_first : {false, true}) {
        SCOPED_TRACE(yield_first ? "after a sleep(0)" : "first step");
        event_loop loop;
        std::vector<std::string> log;
        loop.run_until_complete(run_self_cancel_await(log, yield_first));
        EXPECT_EQ(log, (std::vector<std::string>{"cancel requested", "await threw: self", "main: cancelled"}));
    }
}

task<int> cancels_itself_then_returns(bool yield_first) {
    if (yield_first) co_await sleep(0s);
    std::optional<task_handle<>> me = current_task();
    EXPECT_TRUE(me.has_value());
    if (me) {
        EXPECT_TRUE(me->cancel());
    }
    co_return 5;
}

task<> run_self_cancel_return(bool yield_first) {
    task_handle<int> h = create_task(cancels_itself_then_returns(yield_first));
    EXPECT_THROW(co_await h, cancelled_error);
    EXPECT_TRUE(h.cancelled());
    EXPECT_THROW((void)h.result(), cancelled_error);
}

// CPython: test_tasks.py::test_cancel_at_end
TEST(Cancel, ATaskCancellingItselfAndReturningWithoutAwaitingEndsCancelled) {
    for (bool yield_first : {false, true}) {
        SCOPED_TRACE(yield_first ? "after a sleep(0)" : "first step");
        event_loop loop;
        loop.run_until_complete(run_self_cancel_return(yield_first));
    }
}

task<> catches_std_exception(std::vector<std::string>& log) {
    try {
        co_await sleep(1h);
    } catch (const std::exception&) {
        log.push_back("swallowed by catch (std::exception)");
    }
    log.push_back("went on");
}

task<> cancel_through_std_exception_handler(std::vector<std::string>& log) {
    task_handle<> h = create_task(catches_std_exception(log));
    co_await sleep(0s);
    h.cancel();
    try {
        co_await h;
    } catch (const cancelled_error&) {
        log.push_back("cancelled");
    }
}

// CancelledError is a BaseException: `except Exception` does not catch it.
TEST(Cancel, CancelledErrorIsNotCaughtByCatchStdException) {
    static_assert(!std::is_base_of_v<std::exception, cancelled_error>);
    event_loop loop;
    std::vector<std::string> log;
    loop.run_until_complete(cancel_through_std_exception_handler(log));
    EXPECT_EQ(log, (std::vector<std::string>{"cancelled"}));
}

task<> yields_once(std::vector<std::string>& log) {
    log.push_back("before sleep(0)");
    co_await sleep(0s);
    log.push_back("after sleep(0)"); // never
}

task<> cancel_in_sleep_zero(std::vector<std::string>& log) {
    task_handle<> h = create_task(yields_once(log));
    co_await sleep(0s); // h runs up to its sleep(0) and is queued again
    EXPECT_TRUE(h.cancel());
    EXPECT_TRUE(h.cancel()); // twice: still one step, one cancelled_error
    try {
        co_await h;
    } catch (const cancelled_error&) {
        log.push_back("cancelled");
    }
    EXPECT_TRUE(h.cancelled());
    for (int i = 0; i < 3; ++i) co_await sleep(0s);
}

// CPython: test_tasks.py::test_sleep_zero / test_cancel_yield
TEST(Cancel, CancellingATaskParkedInSleepZero) {
    event_loop loop;
    std::vector<std::string> log;
    loop.run_until_complete(cancel_in_sleep_zero(log));
    EXPECT_EQ(log, (std::vector<std::string>{"before sleep(0)", "cancelled"}));
}

task<> cancels_itself_then_awaits_child(task_handle<>& child, std::vector<std::string>& log) {
    child = create_task(child_sleeps(log));
    co_await sleep(0s); // the child is sleeping
    std::optional<task_handle<>> me = current_task();
    EXPECT_TRUE(me.has_value());
    if (!me) co_return;
    me->cancel("self");
    try {
        co_await child;
    } catch (const cancelled_error& e) {
        log.push_back("parent: " + e.message());
        throw;
    }
}

task<> run_cancel_then_await_child(std::vector<std::string>& log) {
    task_handle<> child;
    task_handle<> parent = create_task(cancels_itself_then_awaits_child(child, log));
    try {
        co_await parent;
    } catch (const cancelled_error&) {
    }
    EXPECT_TRUE(parent.cancelled());
    EXPECT_TRUE(child.valid() && child.done() && child.cancelled()); // not left running
}

// asyncio's Task.__step: a cancellation pending when the task awaits another
// task is passed on to that task (the awaited future is cancelled), and the
// CancelledError comes back from it. CPython: test_tasks.py::test_cancel_current_task
// (the pending cancel hits the next await) with test_yield_future_passes_cancel.
TEST(Cancel, ACancellationPendingWhenAwaitingAChildCancelsTheChild) {
    event_loop loop;
    std::vector<std::string> log;
    loop.run_until_complete(run_cancel_then_await_child(log));
    EXPECT_EQ(log, (std::vector<std::string>{"child cancelled: self", "parent: self"}));
}

task<int> inner_started(bool& started) {
    started = true;
    co_await sleep(1h);
    co_return 1;
}

task<> cancels_itself_then_wait_for(bool& started, std::vector<std::string>& log) {
    std::optional<task_handle<>> me = current_task();
    if (me) me->cancel();
    try {
        co_await wait_for(inner_started(started), 1h);
    } catch (const cancelled_error&) {
        log.push_back("cancelled_error");
        throw;
    } catch (const timeout_error&) {
        log.push_back("timeout_error");
    }
}

task<> run_cancel_then_wait_for(bool& started, std::vector<std::string>& log) {
    task_handle<> h = create_task(cancels_itself_then_wait_for(started, log));
    try {
        co_await h;
    } catch (const cancelled_error&) {
    }
    EXPECT_TRUE(h.cancelled());
    EXPECT_EQ(all_tasks().size(), 1u); // only this one: wait_for's inner task is not left running
}

TEST(Cancel, ACancellationPendingWhenEnteringWaitForCancelsTheInnerToo) {
    event_loop loop;
    bool started = false;
    std::vector<std::string> log;
    loop.run_until_complete(run_cancel_then_wait_for(started, log));
    EXPECT_FALSE(started);
    EXPECT_EQ(log, (std::vector<std::string>{"cancelled_error"}));
}

task<> cancel_both(std::vector<std::string>& log) {
    task_handle<> child;
    task_handle<> parent = create_task(parent_awaits_child(child, log));
    co_await sleep(0s);
    co_await sleep(0s);
    EXPECT_TRUE(child.cancel("child first"));
    EXPECT_TRUE(parent.cancel("then parent"));
    try {
        co_await parent;
    } catch (const cancelled_error&) {
    }
    EXPECT_TRUE(parent.cancelled());
    EXPECT_TRUE(child.cancelled());
}

// CPython: test_tasks.py::test_cancel_both_task_and_inner_future
TEST(Cancel, CancellingBothTheTaskAndTheChildItAwaits) {
    event_loop loop;
    std::vector<std::string> log;
    loop.run_until_complete(cancel_both(log));
    ASSERT_EQ(log.size(), 2u);
    EXPECT_EQ(log[0].rfind("child cancelled: ", 0), 0u) << log[0];
    EXPECT_EQ(log[1].rfind("parent cancelled: ", 0), 0u) << log[1];
}

} // namespace
