// The cancellation protocol's rules beyond the matrix of test_protocol.cpp:
// an await that does not suspend (asyncio's await that does not yield),
// sleep(0)'s tick, run_until_complete refused inside a running loop, the
// failures an operation saw when it was cancelled after waking (never
// "Task exception was never retrieved"), an executor job abandoned while it
// runs.
#include "coro_test_util.hpp"
#include "protocol_test_util.hpp"

#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

using namespace uvasync;
using namespace std::chrono_literals;
using namespace protocol_test;
using coro_test_util::fail_after;
using coro_test_util::ticks;
using coro_test_util::value_after;

namespace {

// ---- an await that does not suspend -------------------------------------------
//
// asyncio (Debian's python3, 3.11): a task that cancelled itself and then
// acquires a free Lock does not yield there, so it gets the lock, and the
// CancelledError comes at its next await:
//
//     t.cancel(); await l.acquire()   ->  acquired, l.locked() is True
//     await asyncio.sleep(0)          ->  CancelledError, l.locked() still True
//     t.cancel(); async with l: await asyncio.sleep(0)
//                                     ->  CancelledError, l.locked() is False
//
// Likewise a free Semaphore, a set Event and a Queue holding an item.

task<> free_lock_with_pending_cancel(lock& l, std::vector<std::string>& log) {
    current_task()->cancel("pending");
    co_await l.acquire(); // free: taken without suspending
    log.push_back(l.locked() ? "acquired" : "not acquired");
    try {
        co_await sleep(0ms);
        log.push_back("not cancelled");
    } catch (const cancelled_error& e) {
        log.push_back("cancelled at the next await: " + e.message());
    }
    log.push_back(l.locked() ? "still held" : "released");
    l.release(); // the task owns it, as in asyncio
}

TEST(PendingCancellation, AFreeLockIsTakenAndTheCancellationComesAtTheNextAwait) {
    lock l;
    std::vector<std::string> log;
    expect_no_reports(run_checked(free_lock_with_pending_cancel(l, log)));
    EXPECT_EQ(log, (std::vector<std::string>{"acquired", "cancelled at the next await: pending", "still held"}));
    EXPECT_FALSE(l.locked());
}

task<> scoped_free_lock_with_pending_cancel(lock& l, bool& held_inside) {
    current_task()->cancel("pending");
    auto guard = co_await l.scoped(); // free: taken without suspending
    held_inside = l.locked();
    co_await sleep(0ms); // cancelled here; the guard releases the lock on the way out
    ADD_FAILURE() << "the cancellation did not come at the await after the acquire";
}

task<> scoped_free_lock(lock& l, bool& held_inside) {
    task_handle<> h = create_task(scoped_free_lock_with_pending_cancel(l, held_inside));
    EXPECT_TRUE(co_await ends_cancelled(h, "pending"));
}

TEST(PendingCancellation, AScopedFreeLockIsReleasedWhenTheCancellationComesAtTheNextAwait) {
    lock l;
    bool held_inside = false;
    expect_no_reports(run_checked(scoped_free_lock(l, held_inside)));
    EXPECT_TRUE(held_inside);
    EXPECT_FALSE(l.locked()); // not left held
}

task<> ready_fast_paths(std::vector<std::string>& log) {
    current_task()->cancel();
    semaphore s(1);
    co_await s.acquire();
    log.push_back(s.locked() ? "unit taken" : "no unit taken");
    event e;
    e.set();
    co_await e.wait();
    log.push_back("event passed");
    queue<int> q;
    q.put_nowait(3);
    const int item = co_await q.get();
    log.push_back("got " + std::to_string(item));
    co_await q.put(4); // unbounded: room at once
    log.push_back("put " + std::to_string(q.qsize()));
    try {
        co_await sleep(0ms);
        log.push_back("not cancelled");
    } catch (const cancelled_error&) {
        log.push_back("cancelled at the sleep");
    }
}

TEST(PendingCancellation, ReadyPrimitivesDoNotSuspendSoTheCancellationWaitsForTheNextAwait) {
    std::vector<std::string> log;
    expect_no_reports(run_checked(ready_fast_paths(log)));
    EXPECT_EQ(log, (std::vector<std::string>{"unit taken", "event passed", "got 3", "put 1", "cancelled at the sleep"}));
}

// ---- sleep(0) ----------------------------------------------------------------

task<int> two_ticks(bool& arrived, std::vector<std::string>& log) {
    arrived = true;
    co_await sleep(0ms);
    log.push_back("after the first tick");
    co_await sleep(0ms);
    log.push_back("after the second tick");
    co_return 12;
}

task<> cancel_during_a_tick(std::vector<std::string>& log) {
    bool arrived = false;
    task_handle<int> h = create_task(two_ticks(arrived, log));
    // sleep(0) queues the task at once: it is woken, not parked, and the
    // cancellation comes before it resumes (state (c) for sleep(0)).
    EXPECT_TRUE(co_await cancel_once_woken(h, arrived));
    EXPECT_TRUE(co_await ends_cancelled(h, "woken"));
}

// CPython: test_tasks.py::test_cancel_yield
TEST(WokenOperation, ATaskCancelledWhileQueuedBySleepZeroIsCancelledThere) {
    std::vector<std::string> log;
    expect_no_reports(run_checked(cancel_during_a_tick(log)));
    EXPECT_TRUE(log.empty()) << log.front();
}

// ---- run_until_complete inside a running loop ------------------------------------

task<> sets_flag(bool& ran) {
    ran = true;
    co_return;
}

task<> nested_run_until_complete(event_loop& loop, bool& ran) {
    const std::size_t before = all_tasks().size();
    EXPECT_THROW(loop.run_until_complete(sets_flag(ran)), std::runtime_error);
    EXPECT_EQ(all_tasks().size(), before); // nothing was scheduled
    co_await ticks(3);                     // it would have run by now
    EXPECT_FALSE(ran);
}

// CPython: test_events.py::test_run_until_complete_nesting (the nested
// coroutine is "never awaited").
TEST(RunInsideARunningLoop, RunUntilCompleteOfTheSameLoopIsRefusedBeforeAnythingIsScheduled) {
    event_loop loop;
    bool ran = false;
    loop.run_until_complete(nested_run_until_complete(loop, ran));
    loop.run_until_complete(ticks(3));
    EXPECT_FALSE(ran);
}

task<> other_loop_run_until_complete(event_loop& other, bool& ran) {
    EXPECT_THROW(other.run_until_complete(sets_flag(ran)), std::runtime_error);
    co_await ticks(3);
    EXPECT_FALSE(ran);
}

task<std::size_t> pending_tasks_besides_me() { co_return all_tasks().size() - 1; }

TEST(RunInsideARunningLoop, RunUntilCompleteOfAnotherLoopIsRefusedBeforeAnythingIsScheduled) {
    event_loop loop, other;
    bool ran = false;
    loop.run_until_complete(other_loop_run_until_complete(other, ran));
    // Nothing was left on the other loop either.
    EXPECT_EQ(other.run_until_complete(pending_tasks_besides_me()), 0u);
    other.run_until_complete(ticks(3));
    EXPECT_FALSE(ran);
}

task<> nested_run(bool& ran) {
    EXPECT_THROW(run(sets_flag(ran)), std::runtime_error);
    co_await ticks(3);
    EXPECT_FALSE(ran);
}

// asyncio.run() "cannot be called from a running event loop".
TEST(RunInsideARunningLoop, RunIsRefusedBeforeAnythingIsScheduled) {
    bool ran = false;
    run(nested_run(ran));
    EXPECT_FALSE(ran);
}

// ---- failures seen by a gather that is cancelled ----------------------------------

task<int> forever_value() {
    co_await sleep(1h);
    co_return 0;
}

// The children as tasks of the gather's own (only the gather holds them).
task<> gather_settled_of_tasks_cancelled_after_a_failure() {
    event go;
    task_handle<> w = create_task(gather_settled(fail_after(go, "boom"), forever_value()));
    EXPECT_TRUE(co_await parked_on(w, "gather_settled"));
    go.set();
    co_await ticks(3); // the first child fails; the gather waits on for the second
    EXPECT_FALSE(w.done());
    EXPECT_TRUE(w.cancel("stop"));
    EXPECT_TRUE(co_await ends_cancelled(w, "stop"));
    co_await ticks(3); // the gather's frame, and with it the children's last handles, go
}

// CPython: test_tasks.py::test_exception_marking (gather retrieves every
// child's exception, whatever becomes of the gather).
TEST(GatherSettled, CancelledAfterAChildFailedReportsNothingUnretrieved) {
    expect_no_reports(run_checked(gather_settled_of_tasks_cancelled_after_a_failure()));
}

task<> gather_settled_of_handles_cancelled_after_a_failure() {
    event go;
    task_handle<int> failing = create_task(fail_after(go, "boom"));
    task_handle<int> slow = create_task(forever_value());
    task_handle<> w = create_task(gather_settled(failing, slow));
    EXPECT_TRUE(co_await parked_on(w, "gather_settled"));
    go.set();
    EXPECT_TRUE(co_await settles(failing));
    EXPECT_FALSE(w.done());
    EXPECT_TRUE(w.cancel("stop"));
    EXPECT_TRUE(co_await ends_cancelled(w, "stop"));
    EXPECT_TRUE(slow.cancelled()); // the cancellation reached the other child
}

TEST(GatherSettled, OfHandlesCancelledAfterAChildFailedReportsNothingUnretrieved) {
    expect_no_reports(run_checked(gather_settled_of_handles_cancelled_after_a_failure()));
}

// ---- failures seen by an operation cancelled after it woke --------------------------
//
// A task waiting on a failed task (through co_await, gather, gather_settled,
// shield or wait_for) is woken by the failure and cancelled before it
// resumes. asyncio still counts the failure as retrieved: the waiter's
// __wakeup calls future.result() before the pending cancellation replaces
// the exception, and gather's and shield's done callbacks retrieve the
// child's exception themselves. Checked with Debian's python3 for
// asyncio.gather(c), gather(c, return_exceptions=True), `await c` and
// shield(c): the exception handler hears nothing.
//
// Another task waits on the failing one first (asyncio.wait, which does not
// retrieve), so that the waiter under test is woken through the ready queue.

enum class observer { await_handle, gather, gather_settled, shield, wait_for };

const char* observer_name(observer how) {
    switch (how) {
    case observer::await_handle: return "await_handle";
    case observer::gather: return "gather";
    case observer::gather_settled: return "gather_settled";
    case observer::shield: return "shield";
    case observer::wait_for: return "wait_for";
    }
    return "unknown";
}
void PrintTo(observer how, std::ostream* os) { *os << observer_name(how); }

task<> observe(observer how, task_handle<int> failing, bool& arrived) {
    arrived = true;
    switch (how) {
    case observer::await_handle: (void)co_await failing; break;
    case observer::gather: (void)co_await gather(failing); break;
    case observer::gather_settled: (void)co_await gather_settled(failing); break;
    case observer::shield: (void)co_await shield(failing); break;
    case observer::wait_for: (void)co_await wait_for(failing, 1h); break;
    }
}

const char* parked_kind(observer how) {
    switch (how) {
    case observer::await_handle: return "task";
    case observer::gather: return "gather";
    case observer::gather_settled: return "gather_settled";
    case observer::shield: return "shield";
    case observer::wait_for: return "wait_for";
    }
    return "";
}

task<> wait_only(task_handle<int> h) {
    std::vector<task_handle<int>> hs{h};
    co_await wait(std::move(hs));
}

task<> woken_by_a_failure_then_cancelled(observer how) {
    event go;
    bool arrived = false;
    task_handle<int> failing = create_task(fail_after(go, "boom"));
    task_handle<> first = create_task(wait_only(failing));
    EXPECT_TRUE(co_await parked_on(first, "wait"));
    task_handle<> w = create_task(observe(how, failing, arrived));
    EXPECT_TRUE(co_await parked_on(w, parked_kind(how)));
    go.set();
    EXPECT_TRUE(co_await cancel_once_woken(w, arrived));
    EXPECT_TRUE(co_await ends_cancelled(w, "woken"));
    co_await first;
    EXPECT_TRUE(failing.done() && !failing.cancelled());
}

class WokenByAFailure : public testing::TestWithParam<observer> {};

TEST_P(WokenByAFailure, ThenCancelledBeforeResumingTheFailureStillCountsAsRetrieved) {
    expect_no_reports(run_checked(woken_by_a_failure_then_cancelled(GetParam())));
}

INSTANTIATE_TEST_SUITE_P(Every, WokenByAFailure,
                         testing::Values(observer::await_handle, observer::gather, observer::gather_settled,
                                         observer::shield, observer::wait_for),
                         [](const testing::TestParamInfo<observer>& info) -> std::string {
                             return observer_name(info.param);
                         });

// ---- an executor job abandoned while it runs -----------------------------------------

task<> cancel_while_the_job_runs(thread_pool_executor& ex, std::promise<void>& started,
                                 std::shared_future<void> gate, std::atomic<bool>& finished) {
    std::future<void> running = started.get_future();
    task_handle<int> w = create_task(run_in_executor(ex, [&started, gate, &finished] {
        started.set_value();
        gate.wait();
        finished = true;
        return 5;
    }));
    EXPECT_TRUE(co_await parked_on(w, "run_in_executor"));
    running.wait(); // the worker is inside the job (a real thread's signal, not a sleep)
    EXPECT_TRUE(w.cancel("abandon"));
    // The task ends at once, without waiting for the job.
    EXPECT_TRUE(co_await ends_cancelled(w, "abandon"));
    EXPECT_FALSE(finished.load());
}

// The job's completion still arrives; it finds nobody waiting and drops the
// result (ASan: without touching the cancelled frame).
TEST(Executor, CancelledWhileTheJobRunsEndsAtOnceAndTheResultIsDropped) {
    thread_pool_executor ex(1);
    std::promise<void> started;
    std::promise<void> gate;
    std::atomic<bool> finished{false};
    auto body = [&]() -> task<> {
        co_await cancel_while_the_job_runs(ex, started, gate.get_future().share(), finished);
        gate.set_value();
        // One worker serves jobs in order and their completions come back in
        // order: once a later job's result is here, the abandoned one's
        // completion has been handled.
        const int later = co_await run_in_executor(ex, [] { return 1; });
        EXPECT_EQ(later, 1);
        EXPECT_TRUE(finished.load());
    };
    expect_no_reports(run_checked(body()));
    ex.shutdown(true);
}

} // namespace
