// wait_for / wait_until of every kind of awaitable of the library, not only
// tasks and handles: lock.acquire(), semaphore.acquire(), event.wait(),
// queue.get() / put(), a future, sleep, a stream read. For each, the work
// finishing in time and the deadline passing; after a timeout the primitive
// is consistent (a timed-out acquire holds nothing, a timed-out get took no
// item, a timed-out put inserted none, a timed-out read lost no byte, a
// timed-out future is cancelled as asyncio cancels it, unless shielded).
// Then the same for the scope form, timeout(d, aw) / timeout_at(t, aw), in
// which the awaitable runs in the awaiting task itself (lock and future:
// test_timeout_scope.cpp, TimeoutScope.AroundAnAwaitable).
//
// "In time" is deterministic: a deadline of 10 s, and the work completed by
// the test. "Timed out" uses a 1 ms deadline on work that cannot complete.
//
// The handover races: the wake-up (a release, a put, a get) and the deadline
// in the same instant. call_at(T, wake) is armed before wait_until(aw, T),
// so the wake-up fires first and the deadline right after, before the woken
// waiter runs: the waiter is cancelled after it was handed the lock (unit,
// item, room) and must give it back.
// CPython: test_locks.py test_cancel_race, test_queues.py
// test_get_cancel_drop_one_pending_reader, test_put_cancel_drop, and
// test_waitfor.py test_wait_for_race_condition.
#include "coro_test_util.hpp"
#include "protocol_test_util.hpp"

#include <stdexcept>
#include <string>

using namespace uvasync;
using namespace std::chrono_literals;
using namespace protocol_test;
using coro_test_util::ticks;

namespace {

// Awaits `t`: true when it threw timeout_error.
template <class T> task<bool> times_out(task<T> t) {
    try {
        co_await std::move(t);
    } catch (const timeout_error&) {
        co_return true;
    }
    co_return false;
}

// Awaits `aw` in a timeout scope of `d` (at `t`): true when it threw timeout_error.
template <class A> task<bool> scope_times_out(A aw, clock::duration d) {
    try {
        co_await timeout(d, std::move(aw));
    } catch (const timeout_error&) {
        co_return true;
    }
    co_return false;
}
template <class A> task<bool> scope_times_out_at(A aw, clock::time_point t) {
    try {
        co_await timeout_at(t, std::move(aw));
    } catch (const timeout_error&) {
        co_return true;
    }
    co_return false;
}

// Whether a fresh `aw`, run as a task of its own, completes within two ticks.
template <class A> task<bool> served_at_once(A aw) {
    auto h = create_task(std::move(aw));
    co_await ticks(2);
    const bool done = h.done();
    if (!done) co_await stop_waiter(h);
    co_return done;
}

// ---- lock.acquire()

task<> lock_in_time() {
    lock l;
    co_await l.acquire();
    task_handle<> w = create_task(wait_for(l.acquire(), 10s));
    EXPECT_TRUE(co_await parked_on(w, "wait_for")); // on the acquire, run as a task
    l.release();
    co_await w; // no timeout_error
    EXPECT_TRUE(l.locked()); // taken by the wait_for's acquire
    l.release();
}

TEST(WaitForAwaitable, LockAcquireInTime) { expect_no_reports(run_checked(lock_in_time())); }

task<> lock_timed_out() {
    lock l;
    co_await l.acquire();
    EXPECT_TRUE(co_await times_out(wait_for(l.acquire(), 1ms)));
    EXPECT_TRUE(l.locked()); // the test's, still
    l.release();
    EXPECT_FALSE(l.locked());
    EXPECT_TRUE(co_await served_at_once(l.acquire())); // no timed-out waiter left in the queue
    l.release();
}

// CPython: test_locks.py ConditionTests::test_timeout_in_block (the lock is
// consistent after a timed-out wait).
TEST(WaitForAwaitable, LockAcquireTimedOutHoldsNothing) { expect_no_reports(run_checked(lock_timed_out())); }

task<> lock_race() {
    lock l;
    co_await l.acquire();
    const clock::time_point t = clock::now() + 20ms;
    get_running_loop().call_at(t, [&l] { l.release(); });
    EXPECT_TRUE(co_await times_out(wait_until(l.acquire(), t)));
    EXPECT_FALSE(l.locked()) << "the lock handed to the timed-out acquire is left held";
    EXPECT_TRUE(co_await served_at_once(l.acquire()));
    l.release();
}

TEST(WaitForAwaitable, LockHandedOverAtTheDeadlineIsGivenBack) { expect_no_reports(run_checked(lock_race())); }

// ---- semaphore.acquire()

task<> semaphore_in_time() {
    bounded_semaphore s(1);
    co_await s.acquire();
    task_handle<> w = create_task(wait_for(s.acquire(), 10s));
    EXPECT_TRUE(co_await parked_on(w, "wait_for"));
    s.release();
    co_await w;
    EXPECT_TRUE(s.locked());
    s.release();
    EXPECT_THROW(s.release(), std::logic_error); // exactly one unit
}

TEST(WaitForAwaitable, SemaphoreAcquireInTime) { expect_no_reports(run_checked(semaphore_in_time())); }

task<> semaphore_timed_out() {
    bounded_semaphore s(1);
    co_await s.acquire();
    EXPECT_TRUE(co_await times_out(wait_for(s.acquire(), 1ms)));
    s.release();
    EXPECT_FALSE(s.locked());
    EXPECT_THROW(s.release(), std::logic_error);
    EXPECT_TRUE(co_await served_at_once(s.acquire()));
    s.release();
}

TEST(WaitForAwaitable, SemaphoreAcquireTimedOutTakesNoUnit) { expect_no_reports(run_checked(semaphore_timed_out())); }

task<> semaphore_race() {
    bounded_semaphore s(1);
    co_await s.acquire();
    const clock::time_point t = clock::now() + 20ms;
    get_running_loop().call_at(t, [&s] { s.release(); });
    EXPECT_TRUE(co_await times_out(wait_until(s.acquire(), t)));
    EXPECT_FALSE(s.locked()) << "the unit handed to the timed-out acquire is lost";
    EXPECT_THROW(s.release(), std::logic_error); // and none was made up
}

TEST(WaitForAwaitable, SemaphoreUnitHandedOverAtTheDeadlineIsGivenBack) {
    expect_no_reports(run_checked(semaphore_race()));
}

// ---- event.wait()

task<> event_in_time() {
    event e;
    task_handle<> w = create_task(wait_for(e.wait(), 10s));
    EXPECT_TRUE(co_await parked_on(w, "wait_for"));
    e.set();
    co_await w;
}

TEST(WaitForAwaitable, EventWaitInTime) { expect_no_reports(run_checked(event_in_time())); }

task<> event_timed_out() {
    event e;
    EXPECT_TRUE(co_await times_out(wait_for(e.wait(), 1ms)));
    e.set(); // no timed-out waiter left to wake (ASan: none touched)
    EXPECT_TRUE(co_await served_at_once(e.wait()));
}

TEST(WaitForAwaitable, EventWaitTimedOut) { expect_no_reports(run_checked(event_timed_out())); }

// ---- queue.get()

task<> get_in_time() {
    queue<int> q;
    task_handle<int> w = create_task(wait_for(q.get(), 10s));
    EXPECT_TRUE(co_await parked_on(w, "wait_for"));
    q.put_nowait(7);
    EXPECT_EQ(co_await w, 7);
    EXPECT_TRUE(q.empty());
}

TEST(WaitForAwaitable, QueueGetInTime) { expect_no_reports(run_checked(get_in_time())); }

task<> get_timed_out() {
    queue<int> q;
    EXPECT_TRUE(co_await times_out(wait_for(q.get(), 1ms)));
    q.put_nowait(1); // goes to nobody: the timed-out getter left the queue
    EXPECT_EQ(q.qsize(), 1u);
    auto fresh = create_task(q.get());
    co_await ticks(2);
    EXPECT_TRUE(fresh.done());
    if (fresh.done()) {
        EXPECT_EQ(fresh.result(), 1);
    } else {
        co_await stop_waiter(fresh);
    }
}

// CPython: test_queues.py::test_cancelled_getters_not_being_held_in_self_getters,
// test_waitfor.py (a timed-out queue.get() leaves no stale waiter).
TEST(WaitForAwaitable, QueueGetTimedOutTakesNoItem) { expect_no_reports(run_checked(get_timed_out())); }

task<> get_race() {
    queue<int> q;
    const clock::time_point t = clock::now() + 20ms;
    get_running_loop().call_at(t, [&q] { q.put_nowait(1); });
    EXPECT_TRUE(co_await times_out(wait_until(q.get(), t)));
    EXPECT_EQ(q.qsize(), 1u) << "the item handed to the timed-out get is lost";
    EXPECT_EQ(q.get_nowait(), 1);
}

TEST(WaitForAwaitable, QueueItemHandedOverAtTheDeadlineStaysInTheQueue) {
    expect_no_reports(run_checked(get_race()));
}

// ---- queue.put()

task<> put_in_time() {
    queue<int> q(1);
    q.put_nowait(0);
    task_handle<> w = create_task(wait_for(q.put(1), 10s));
    EXPECT_TRUE(co_await parked_on(w, "wait_for"));
    EXPECT_EQ(q.get_nowait(), 0);
    co_await w;
    EXPECT_EQ(q.qsize(), 1u);
    EXPECT_EQ(q.get_nowait(), 1);
}

TEST(WaitForAwaitable, QueuePutInTime) { expect_no_reports(run_checked(put_in_time())); }

task<> put_timed_out() {
    queue<int> q(1);
    q.put_nowait(0);
    EXPECT_TRUE(co_await times_out(wait_for(q.put(1), 1ms)));
    EXPECT_EQ(q.qsize(), 1u);
    EXPECT_EQ(q.get_nowait(), 0); // wakes no timed-out putter
    EXPECT_TRUE(q.empty());       // its item was never inserted
    EXPECT_TRUE(co_await served_at_once(q.put(2)));
    EXPECT_EQ(q.get_nowait(), 2);
}

TEST(WaitForAwaitable, QueuePutTimedOutInsertsNothing) { expect_no_reports(run_checked(put_timed_out())); }

task<> put_race() {
    queue<int> q(1);
    q.put_nowait(0);
    const clock::time_point t = clock::now() + 20ms;
    get_running_loop().call_at(t, [&q] { EXPECT_EQ(q.get_nowait(), 0); });
    EXPECT_TRUE(co_await times_out(wait_until(q.put(1), t)));
    EXPECT_TRUE(q.empty()) << "the timed-out put inserted its item";
    EXPECT_TRUE(co_await served_at_once(q.put(2))); // the room is there for the next one
    EXPECT_EQ(q.get_nowait(), 2);
}

TEST(WaitForAwaitable, QueueRoomHandedOverAtTheDeadlineIsGivenBack) { expect_no_reports(run_checked(put_race())); }

// ---- a future

task<> future_in_time() {
    future<int> f = create_future<int>();
    task_handle<int> w = create_task(wait_for(f, 10s));
    EXPECT_TRUE(co_await parked_on(w, "wait_for"));
    f.set_result(7);
    EXPECT_EQ(co_await w, 7);
    EXPECT_EQ(f.result(), 7);
}

TEST(WaitForAwaitable, FutureInTime) { expect_no_reports(run_checked(future_in_time())); }

task<> future_timed_out() {
    future<int> f = create_future<int>();
    EXPECT_TRUE(co_await times_out(wait_for(f, 1ms)));
    // asyncio.wait_for(fut, t) cancels fut at the deadline.
    EXPECT_TRUE(f.cancelled());
    EXPECT_THROW(f.set_result(1), invalid_state_error);
}

// CPython: test_waitfor.py::test_wait_for_timeout_less_then_0_or_0_future_done
// and test_asyncio's wait_for of a future (the future is cancelled).
TEST(WaitForAwaitable, FutureTimedOutIsCancelled) { expect_no_reports(run_checked(future_timed_out())); }

task<> shielded_future_timed_out() {
    future<int> f = create_future<int>();
    EXPECT_TRUE(co_await times_out(wait_for(shield(f), 1ms)));
    EXPECT_FALSE(f.done()); // the shield kept the timeout's cancellation from it
    f.set_result(3);
    EXPECT_EQ(co_await f, 3);
}

// CPython: test_tasks.py::test_shield_effect (wait_for(shield(fut))).
TEST(WaitForAwaitable, ShieldedFutureTimedOutRunsOn) { expect_no_reports(run_checked(shielded_future_timed_out())); }

task<> future_race() {
    future<int> f = create_future<int>();
    const clock::time_point t = clock::now() + 20ms;
    get_running_loop().call_at(t, [f] { f.set_result(5); });
    // The result arrives first, then the deadline, before the waiter runs:
    // the waiter is cancelled after it was woken, so the wait times out (as
    // asyncio 3.12's wait_for does: the task's pending cancel is thrown in
    // at the await), and the future keeps its result: it is done, not
    // cancelled, and a later awaiter gets the value.
    EXPECT_TRUE(co_await times_out(wait_until(f, t)));
    EXPECT_TRUE(f.done());
    EXPECT_FALSE(f.cancelled());
    EXPECT_EQ(co_await f, 5);
}

TEST(WaitForAwaitable, FutureSetAtTheDeadlineKeepsItsResult) { expect_no_reports(run_checked(future_race())); }

// ---- sleep

task<> sleep_in_time() { co_await wait_for(sleep(1ms), 10s); }

TEST(WaitForAwaitable, SleepInTime) { expect_no_reports(run_checked(sleep_in_time())); }

task<> sleep_timed_out() {
    // run_checked's uv_run afterwards returns only if the hour-long timer is gone.
    EXPECT_TRUE(co_await times_out(wait_for(sleep(1h), 1ms)));
}

// CPython: test_waitfor.py::test_wait_for
TEST(WaitForAwaitable, SleepTimedOutLeavesNoTimer) { expect_no_reports(run_checked(sleep_timed_out())); }

// ---- a stream read

task<> read_in_time() {
    tcp_pair p;
    co_await p.open();
    task_handle<std::string> w = create_task(wait_for(p.r.read(100), 10s));
    EXPECT_TRUE(co_await parked_on(w, "wait_for"));
    p.peer_writer().write("data");
    EXPECT_EQ(co_await w, "data");
    co_await p.close();
}

TEST(WaitForAwaitable, StreamReadInTime) { expect_no_reports(run_checked(read_in_time())); }

task<> read_timed_out() {
    tcp_pair p;
    co_await p.open();
    EXPECT_TRUE(co_await times_out(wait_for(p.r.readline(), 1ms)));
    // The reader serves the next read, and the bytes sent later all arrive.
    p.peer_writer().write("late line\n");
    EXPECT_EQ(co_await p.r.readline(), "late line\n");
    EXPECT_EQ(p.r.buffered_size(), 0u);
    co_await p.close();
}

TEST(WaitForAwaitable, StreamReadTimedOutLosesNoByte) { expect_no_reports(run_checked(read_timed_out())); }

// ---- the scope form: timeout(d, aw), timeout_at(t, aw)

task<> scope_lock_race() {
    lock l;
    co_await l.acquire();
    const clock::time_point t = clock::now() + 20ms;
    get_running_loop().call_at(t, [&l] { l.release(); });
    EXPECT_TRUE(co_await scope_times_out_at(l.acquire(), t));
    EXPECT_FALSE(l.locked()) << "the lock handed to the timed-out acquire is left held";
    EXPECT_TRUE(co_await served_at_once(l.acquire()));
    l.release();
}

TEST(TimeoutAwaitable, LockHandedOverAtTheDeadlineIsGivenBack) { expect_no_reports(run_checked(scope_lock_race())); }

task<> scope_semaphore() {
    bounded_semaphore s(1);
    co_await s.acquire();
    EXPECT_TRUE(co_await scope_times_out(s.acquire(), 1ms));
    s.release();
    EXPECT_FALSE(s.locked());
    EXPECT_THROW(s.release(), std::logic_error); // the timed-out acquire took no unit
    co_await timeout(10s, s.acquire());           // free: at once
    EXPECT_TRUE(s.locked());
    const clock::time_point t = clock::now() + 20ms;
    get_running_loop().call_at(t, [&s] { s.release(); });
    EXPECT_TRUE(co_await scope_times_out_at(s.acquire(), t));
    EXPECT_FALSE(s.locked()) << "the unit handed to the timed-out acquire is lost";
    EXPECT_THROW(s.release(), std::logic_error); // and none was made up
}

TEST(TimeoutAwaitable, SemaphoreTimedOutOrHandedOverAtTheDeadlineTakesNoUnit) {
    expect_no_reports(run_checked(scope_semaphore()));
}

task<> scope_event() {
    event e;
    EXPECT_TRUE(co_await scope_times_out(e.wait(), 1ms));
    e.set(); // no timed-out waiter left to wake
    co_await timeout(10s, e.wait());
}

TEST(TimeoutAwaitable, EventWaitTimedOutLeavesNoWaiter) { expect_no_reports(run_checked(scope_event())); }

task<> scope_get() {
    queue<int> q;
    EXPECT_TRUE(co_await scope_times_out(q.get(), 1ms));
    q.put_nowait(1);
    EXPECT_EQ(co_await timeout(10s, q.get()), 1); // the item is there for the next get
    const clock::time_point t = clock::now() + 20ms;
    get_running_loop().call_at(t, [&q] { q.put_nowait(2); });
    EXPECT_TRUE(co_await scope_times_out_at(q.get(), t));
    EXPECT_EQ(q.qsize(), 1u) << "the item handed to the timed-out get is lost";
    EXPECT_EQ(q.get_nowait(), 2);
}

TEST(TimeoutAwaitable, QueueGetTimedOutOrHandedOverAtTheDeadlineTakesNoItem) {
    expect_no_reports(run_checked(scope_get()));
}

task<> scope_put() {
    queue<int> q(1);
    q.put_nowait(0);
    EXPECT_TRUE(co_await scope_times_out(q.put(1), 1ms));
    EXPECT_EQ(q.get_nowait(), 0);
    EXPECT_TRUE(q.empty()); // the timed-out put inserted nothing
    co_await timeout(10s, q.put(2));
    const clock::time_point t = clock::now() + 20ms;
    get_running_loop().call_at(t, [&q] { EXPECT_EQ(q.get_nowait(), 2); });
    EXPECT_TRUE(co_await scope_times_out_at(q.put(3), t));
    EXPECT_TRUE(q.empty()) << "the put timed out at the deadline inserted its item";
    EXPECT_TRUE(co_await served_at_once(q.put(4))); // the room is there for the next one
    EXPECT_EQ(q.get_nowait(), 4);
}

TEST(TimeoutAwaitable, QueuePutTimedOutOrHandedOverAtTheDeadlineInsertsNothing) {
    expect_no_reports(run_checked(scope_put()));
}

task<> scope_sleep() {
    co_await timeout(10s, sleep(1ms));
    // run_checked's uv_run afterwards returns only if the hour-long timer is gone.
    EXPECT_TRUE(co_await scope_times_out(sleep(1h), 1ms));
}

TEST(TimeoutAwaitable, SleepTimedOutLeavesNoTimer) { expect_no_reports(run_checked(scope_sleep())); }

task<> scope_read() {
    tcp_pair p;
    co_await p.open();
    EXPECT_TRUE(co_await scope_times_out(p.r.readexactly(4), 1ms));
    p.peer_writer().write("ab");
    EXPECT_TRUE(co_await scope_times_out(p.r.readexactly(4), 5ms)); // half there: kept
    p.peer_writer().write("cd");
    EXPECT_EQ(co_await timeout(10s, p.r.readexactly(4)), "abcd");
    co_await p.close();
}

TEST(TimeoutAwaitable, StreamReadTimedOutLosesNoByte) { expect_no_reports(run_checked(scope_read())); }

} // namespace
