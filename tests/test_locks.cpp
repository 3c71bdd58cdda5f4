// lock, event, condition, semaphore, bounded_semaphore, barrier (docs/api.md,
// asyncio-semantics.md §3): FIFO fairness, cancellation that never loses a
// wake-up, and the errors of misuse. Ported from CPython's test_locks.py.
#include "coro_test_util.hpp"

#include <gtest/gtest.h>
#include <uvasync/uvasync.hpp>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

using namespace uvasync;
using namespace coro_test_util;
using namespace std::chrono_literals;

namespace {

// ---- lock --------------------------------------------------------------------

// CPython: test_locks.py::LockTests::test_lock
TEST(Lock, AcquireReleaseLocked) {
    event_loop loop;
    lock l;
    auto body = [&]() -> task<> {
        EXPECT_FALSE(l.locked());
        co_await l.acquire();
        EXPECT_TRUE(l.locked());
        l.release();
        EXPECT_FALSE(l.locked());
    };
    loop.run_until_complete(body());
}

task<> lock_taker(lock& l, std::vector<int>& order, int id) {
    co_await l.acquire();
    order.push_back(id);
}

// CPython: test_locks.py::LockTests::test_acquire
TEST(Lock, WaitersAcquireInFifoOrder) {
    event_loop loop;
    lock l;
    std::vector<int> order;
    auto body = [&]() -> task<> {
        co_await l.acquire();
        auto t1 = create_task(lock_taker(l, order, 1));
        auto t2 = create_task(lock_taker(l, order, 2));
        co_await ticks(1);
        EXPECT_TRUE(order.empty());
        l.release();
        co_await ticks(1);
        EXPECT_EQ(order, (std::vector<int>{1}));
        auto t3 = create_task(lock_taker(l, order, 3)); // arrives while 2 waits: queues behind
        co_await ticks(1);
        l.release();
        co_await ticks(1);
        EXPECT_EQ(order, (std::vector<int>{1, 2}));
        l.release();
        co_await ticks(1);
        EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
        EXPECT_TRUE(t1.done() && t2.done() && t3.done());
        l.release();
    };
    loop.run_until_complete(body());
}

// CPython: test_locks.py::LockTests::test_release_not_acquired
TEST(Lock, ReleaseWhenUnlockedThrows) {
    lock l;
    EXPECT_THROW(l.release(), std::runtime_error);
}

// CPython: test_locks.py::LockTests::test_context_manager
TEST(Lock, ScopedGuardReleasesAtScopeEnd) {
    event_loop loop;
    lock l;
    auto body = [&]() -> task<> {
        {
            auto guard = co_await l.scoped();
            EXPECT_TRUE(l.locked());
            EXPECT_TRUE(guard.owns());
        }
        EXPECT_FALSE(l.locked());
        {
            auto guard = co_await l.scoped();
            guard.release();
            EXPECT_FALSE(l.locked());
        }
        EXPECT_FALSE(l.locked());
    };
    loop.run_until_complete(body());
}

// CPython: test_locks.py::LockTests::test_acquire_cancel
TEST(Lock, CancelledWaiterLeavesTheQueue) {
    event_loop loop;
    lock l;
    std::vector<int> order;
    auto body = [&]() -> task<> {
        co_await l.acquire();
        auto waiter = create_task(lock_taker(l, order, 1));
        co_await ticks(1);
        waiter.cancel();
        co_await ticks(1);
        EXPECT_TRUE(waiter.cancelled());
        l.release();
        EXPECT_FALSE(l.locked());
        co_await l.acquire(); // free, nobody queued: does not wait
        EXPECT_TRUE(l.locked());
        l.release();
    };
    loop.run_until_complete(body());
    EXPECT_TRUE(order.empty());
}

// CPython: test_locks.py::LockTests::test_cancel_race
TEST(Lock, CancelOfFirstWaiterAndReleaseInSameTickPassesToNext) {
    event_loop loop;
    lock l;
    std::vector<int> order;
    auto body = [&]() -> task<> {
        co_await l.acquire();
        auto b = create_task(lock_taker(l, order, 2));
        auto c = create_task(lock_taker(l, order, 3));
        co_await ticks(1);
        b.cancel();
        l.release();
        co_await ticks(3);
        EXPECT_TRUE(b.cancelled());
        EXPECT_TRUE(c.done());
        EXPECT_TRUE(l.locked()); // C holds it
    };
    loop.run_until_complete(body());
    EXPECT_EQ(order, (std::vector<int>{3}));
}

// CPython: test_locks.py::LockTests::test_finished_waiter_cancelled
TEST(Lock, WaiterWokenThenCancelledPassesTheLockOn) {
    event_loop loop;
    lock l;
    std::vector<int> order;
    auto body = [&]() -> task<> {
        co_await l.acquire();
        auto b = create_task(lock_taker(l, order, 2));
        auto c = create_task(lock_taker(l, order, 3));
        co_await ticks(1);
        l.release(); // wakes b ...
        b.cancel();  // ... which is cancelled before it runs
        co_await ticks(3);
        EXPECT_TRUE(b.cancelled());
        EXPECT_TRUE(c.done());
    };
    loop.run_until_complete(body());
    EXPECT_EQ(order, (std::vector<int>{3}));
}

task<> hold_briefly(lock& l, int& holders, int& acquired) {
    co_await l.acquire();
    ++acquired;
    ++holders;
    EXPECT_EQ(holders, 1);
    co_await sleep(0ms);
    --holders;
    l.release();
}

// CPython: test_locks.py::LockTests::test_cancel_release_race
TEST(Lock, CancelAndReleaseInOneCallbackWakesExactlyOne) {
    event_loop loop;
    lock l;
    int holders = 0, acquired = 0;
    auto body = [&]() -> task<> {
        co_await l.acquire();
        auto t1 = create_task(hold_briefly(l, holders, acquired));
        auto t2 = create_task(hold_briefly(l, holders, acquired));
        auto t3 = create_task(hold_briefly(l, holders, acquired));
        co_await ticks(1);
        loop.call_soon([&] {
            t1.cancel();
            l.release();
        });
        co_await ticks(2); // the callback, then the woken task's step
        EXPECT_EQ(acquired, 1); // t2 got it, t3 still waits
        co_await t2;
        co_await t3;
        EXPECT_TRUE(t1.cancelled());
        EXPECT_EQ(acquired, 2);
        EXPECT_FALSE(l.locked());
    };
    loop.run_until_complete(body());
}

task<> lock_worker(lock& l, std::vector<int>& order, int id) {
    for (int round = 0; round < 3; ++round) {
        auto guard = co_await l.scoped();
        order.push_back(id);
        co_await sleep(0ms);
    }
}

// FIFO under contention: each release hands the lock to the longest waiter.
TEST(Lock, FifoUnderContention) {
    event_loop loop;
    lock l;
    std::vector<int> order;
    auto body = [&]() -> task<> {
        auto a = create_task(lock_worker(l, order, 1));
        auto b = create_task(lock_worker(l, order, 2));
        auto c = create_task(lock_worker(l, order, 3));
        co_await a;
        co_await b;
        co_await c;
    };
    loop.run_until_complete(body());
    EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 1, 2, 3, 1, 2, 3}));
}

// ---- event -------------------------------------------------------------------

task<> event_waiter(event& e, std::vector<int>& order, int id) {
    co_await e.wait();
    order.push_back(id);
}

// CPython: test_locks.py::EventTests::test_wait
TEST(Event, SetWakesEveryWaiterAfterAlreadyScheduledTasks) {
    event_loop loop;
    event e;
    std::vector<int> order;
    auto body = [&]() -> task<> {
        EXPECT_FALSE(e.is_set());
        auto t1 = create_task(event_waiter(e, order, 1));
        auto t2 = create_task(event_waiter(e, order, 2));
        co_await ticks(1);
        EXPECT_TRUE(order.empty());
        auto t3 = create_task(event_waiter(e, order, 3));
        e.set();
        co_await ticks(2);
        EXPECT_EQ(order, (std::vector<int>{3, 1, 2}));
        EXPECT_TRUE(t1.done() && t2.done() && t3.done());
    };
    loop.run_until_complete(body());
}

// CPython: test_locks.py::EventTests::test_wait_on_set
TEST(Event, WaitOnSetEventReturnsAtOnce) {
    event_loop loop;
    event e;
    e.set();
    auto body = [&]() -> task<> {
        co_await e.wait();
        EXPECT_TRUE(e.is_set());
    };
    loop.run_until_complete(body());
}

// CPython: test_locks.py::EventTests::test_clear_with_waiters
TEST(Event, SetThenClearStillWakesTheWaiters) {
    event_loop loop;
    event e;
    std::vector<int> order;
    auto body = [&]() -> task<> {
        auto t = create_task(event_waiter(e, order, 1));
        co_await ticks(1);
        e.set();
        e.clear();
        e.set(); // a second set() does not wake it twice
        e.clear();
        EXPECT_FALSE(e.is_set());
        co_await t;
        EXPECT_EQ(order, (std::vector<int>{1}));
    };
    loop.run_until_complete(body());
}

// CPython: test_locks.py::EventTests::test_wait_cancel
TEST(Event, CancelledWaiterIsRemoved) {
    event_loop loop;
    event e;
    std::vector<int> order;
    auto body = [&]() -> task<> {
        auto a = create_task(event_waiter(e, order, 1));
        auto b = create_task(event_waiter(e, order, 2));
        co_await ticks(1);
        a.cancel();
        co_await ticks(1);
        EXPECT_TRUE(a.cancelled());
        e.set();
        co_await b;
    };
    loop.run_until_complete(body());
    EXPECT_EQ(order, (std::vector<int>{2}));
}

// ---- condition ---------------------------------------------------------------

// CPython: test_locks.py::ConditionTests::test_wait_unacquired,
// test_notify_unacquired, test_notify_all_unacquired
TEST(Condition, WaitAndNotifyWithoutTheLockThrow) {
    event_loop loop;
    condition c;
    EXPECT_THROW(c.notify(), std::runtime_error);
    EXPECT_THROW(c.notify_all(), std::runtime_error);
    auto body = [&]() -> task<> { co_await c.wait(); };
    EXPECT_THROW(loop.run_until_complete(body()), std::runtime_error);
}

task<> cond_waiter(condition& c, std::vector<int>& order, int id) {
    auto guard = co_await c.scoped();
    co_await c.wait();
    EXPECT_TRUE(c.locked());
    order.push_back(id);
}

// CPython: test_locks.py::ConditionTests::test_wait, test_notify
TEST(Condition, NotifyWakesNWaitersFifoEachReacquiring) {
    event_loop loop;
    condition c;
    std::vector<int> order;
    auto body = [&]() -> task<> {
        auto t1 = create_task(cond_waiter(c, order, 1));
        auto t2 = create_task(cond_waiter(c, order, 2));
        auto t3 = create_task(cond_waiter(c, order, 3));
        co_await ticks(1);
        EXPECT_TRUE(order.empty());
        {
            auto guard = co_await c.scoped();
            c.notify(1);
            co_await ticks(1);
            EXPECT_TRUE(order.empty()); // woken, but the lock is still ours
        }
        co_await ticks(2);
        EXPECT_EQ(order, (std::vector<int>{1}));
        {
            auto guard = co_await c.scoped();
            c.notify(2);
        }
        co_await ticks(3);
        EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
        EXPECT_TRUE(t1.done() && t2.done() && t3.done());
    };
    loop.run_until_complete(body());
}

// CPython: test_locks.py::ConditionTests::test_notify_all
TEST(Condition, NotifyAllWakesEveryone) {
    event_loop loop;
    condition c;
    std::vector<int> order;
    auto body = [&]() -> task<> {
        auto t1 = create_task(cond_waiter(c, order, 1));
        auto t2 = create_task(cond_waiter(c, order, 2));
        co_await ticks(1);
        {
            auto guard = co_await c.scoped();
            c.notify_all();
        }
        co_await t1;
        co_await t2;
    };
    loop.run_until_complete(body());
    EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

// CPython: test_locks.py::ConditionTests::test_wait_for
TEST(Condition, WaitForPredicate) {
    event_loop loop;
    condition c;
    int presult = 0;
    int calls = 0;
    auto body = [&]() -> task<> {
        auto waiter = [&]() -> task<int> {
            auto guard = co_await c.scoped();
            auto pred = [&] {
                ++calls;
                return presult;
            };
            int r = co_await c.wait_for(pred);
            EXPECT_TRUE(c.locked());
            co_return r;
        };
        auto t = create_task(waiter());
        co_await ticks(1);
        EXPECT_EQ(calls, 1);
        {
            auto guard = co_await c.scoped();
            c.notify();
        }
        co_await ticks(2);
        EXPECT_EQ(calls, 2); // woken, predicate still false: waits again
        EXPECT_FALSE(t.done());
        presult = 7;
        {
            auto guard = co_await c.scoped();
            c.notify();
        }
        EXPECT_EQ(co_await t, 7);
        EXPECT_EQ(calls, 3);
    };
    loop.run_until_complete(body());
}

// CPython: test_locks.py::ConditionTests::test_wait_for_unacquired
TEST(Condition, WaitForTruePredicateNeedsNoLockFalseOneDoes) {
    event_loop loop;
    condition c;
    auto body = [&]() -> task<> {
        auto yes = [] { return true; };
        EXPECT_TRUE(co_await c.wait_for(yes));
        auto no = [] { return false; };
        bool threw = false;
        try {
            co_await c.wait_for(no);
        } catch (const std::runtime_error&) {
            threw = true;
        }
        EXPECT_TRUE(threw);
    };
    loop.run_until_complete(body());
}

// CPython: test_locks.py::ConditionTests::test_wait_cancel,
// test_wait_cancel_contested
TEST(Condition, CancelledWaitReacquiresTheLockBeforeThrowing) {
    event_loop loop;
    condition c;
    bool locked_in_handler = false;
    std::string message;
    auto body = [&]() -> task<> {
        auto waiter = [&]() -> task<> {
            auto guard = co_await c.scoped();
            try {
                co_await c.wait();
            } catch (const cancelled_error& e) {
                locked_in_handler = c.locked();
                message = e.message();
                throw;
            }
        };
        auto t = create_task(waiter());
        co_await ticks(1);
        co_await c.acquire(); // contested: the cancelled waiter must wait for us
        t.cancel("stop");
        co_await ticks(2);
        EXPECT_FALSE(t.done());
        c.release();
        co_await ticks(2);
        EXPECT_TRUE(t.cancelled());
        EXPECT_FALSE(c.locked()); // released by its guard
    };
    loop.run_until_complete(body());
    EXPECT_TRUE(locked_in_handler);
    EXPECT_EQ(message, "stop");
}

// CPython: test_locks.py::ConditionTests::test_cancelled_wakeup,
// test_wait_cancel_after_notify
TEST(Condition, NotifyRacingACancelIsNotLost) {
    event_loop loop;
    condition c;
    std::vector<int> order;
    auto body = [&]() -> task<> {
        auto t1 = create_task(cond_waiter(c, order, 1));
        auto t2 = create_task(cond_waiter(c, order, 2));
        co_await ticks(1);
        {
            auto guard = co_await c.scoped();
            c.notify(1); // picks t1 ...
            t1.cancel(); // ... which is cancelled: t2 must be woken instead
        }
        co_await ticks(4);
        EXPECT_TRUE(t1.cancelled());
        EXPECT_TRUE(t2.done());
    };
    loop.run_until_complete(body());
    EXPECT_EQ(order, (std::vector<int>{2}));
}

// CPython: test_locks.py::ConditionTests::test_explicit_lock
TEST(Condition, SharesAnExplicitLock) {
    event_loop loop;
    lock l;
    condition c(l);
    auto body = [&]() -> task<> {
        co_await l.acquire();
        EXPECT_TRUE(c.locked());
        c.release();
        EXPECT_FALSE(l.locked());
    };
    loop.run_until_complete(body());
}

// ---- semaphore -----------------------------------------------------------------

// CPython: test_locks.py::SemaphoreTests::test_semaphore_value,
// test_initial_value_zero
TEST(Semaphore, NegativeValueThrowsZeroIsLocked) {
    EXPECT_THROW(semaphore(-1), std::invalid_argument);
    EXPECT_THROW(bounded_semaphore(-1), std::invalid_argument);
    semaphore zero(0);
    EXPECT_TRUE(zero.locked());
    semaphore one(1);
    EXPECT_FALSE(one.locked());
}

task<> sem_taker(semaphore& s, std::vector<std::string>& order, std::string id, int times) {
    for (int i = 1; i <= times; ++i) {
        co_await s.acquire();
        order.push_back(id + "_" + std::to_string(i));
        co_await sleep(0ms);
        s.release();
    }
}

// CPython: test_locks.py::SemaphoreTests::test_acquire_fifo_order
TEST(Semaphore, StrictFifoUnderContention) {
    event_loop loop;
    semaphore s(1);
    std::vector<std::string> order;
    auto body = [&]() -> task<> {
        auto a = create_task(sem_taker(s, order, "c1", 2));
        auto b = create_task(sem_taker(s, order, "c2", 2));
        auto c = create_task(sem_taker(s, order, "c3", 2));
        co_await a;
        co_await b;
        co_await c;
    };
    loop.run_until_complete(body());
    EXPECT_EQ(order, (std::vector<std::string>{"c1_1", "c2_1", "c3_1", "c1_2", "c2_2", "c3_2"}));
}

// CPython: test_locks.py::SemaphoreTests::test_acquire, test_acquire_fifo_order_4
TEST(Semaphore, LockedWhileWaitersQueuedEvenWithAFreeUnit) {
    event_loop loop;
    semaphore s(0);
    std::vector<std::string> order;
    auto body = [&]() -> task<> {
        auto a = create_task(sem_taker(s, order, "a", 1));
        co_await ticks(1);
        EXPECT_TRUE(s.locked());
        s.release(); // the unit is a's already: a newcomer must queue
        EXPECT_TRUE(s.locked());
        auto b = create_task(sem_taker(s, order, "b", 1));
        co_await a;
        co_await b;
        EXPECT_FALSE(s.locked());
    };
    loop.run_until_complete(body());
    EXPECT_EQ(order, (std::vector<std::string>{"a_1", "b_1"}));
}

// CPython: test_locks.py::SemaphoreTests::test_acquire_cancel_before_awoken,
// test_acquire_hang
TEST(Semaphore, CancelledWaiterIsSkipped) {
    event_loop loop;
    semaphore s(0);
    std::vector<std::string> order;
    auto body = [&]() -> task<> {
        auto a = create_task(sem_taker(s, order, "a", 1));
        auto b = create_task(sem_taker(s, order, "b", 1));
        co_await ticks(1);
        a.cancel();
        co_await ticks(1);
        s.release();
        co_await b;
        EXPECT_TRUE(a.cancelled());
    };
    loop.run_until_complete(body());
    EXPECT_EQ(order, (std::vector<std::string>{"b_1"}));
}

// CPython: test_locks.py::SemaphoreTests::test_acquire_no_hang
TEST(Semaphore, WokenThenCancelledGivesItsUnitBack) {
    event_loop loop;
    semaphore s(0);
    std::vector<std::string> order;
    auto body = [&]() -> task<> {
        auto a = create_task(sem_taker(s, order, "a", 1));
        auto b = create_task(sem_taker(s, order, "b", 1));
        co_await ticks(1);
        s.release(); // picks a ...
        a.cancel();  // ... cancelled before it runs: b must get the unit
        co_await b;
        EXPECT_TRUE(a.cancelled());
        EXPECT_FALSE(s.locked());
    };
    loop.run_until_complete(body());
    EXPECT_EQ(order, (std::vector<std::string>{"b_1"}));
}

// CPython: test_locks.py::BoundedSemaphoreTests (test_release_not_acquired)
TEST(Semaphore, BoundedReleaseAboveInitialValueThrows) {
    event_loop loop;
    bounded_semaphore s(1);
    EXPECT_THROW(s.release(), std::logic_error);
    auto body = [&]() -> task<> {
        {
            auto guard = co_await s.scoped();
            EXPECT_TRUE(s.locked());
        }
        EXPECT_FALSE(s.locked());
        EXPECT_THROW(s.release(), std::logic_error);
    };
    loop.run_until_complete(body());
    semaphore unbounded(1);
    unbounded.release(); // a plain semaphore may grow
    EXPECT_FALSE(unbounded.locked());
}

// ---- barrier -------------------------------------------------------------------

task<> barrier_party(barrier& b, std::vector<std::size_t>& indices) { indices.push_back(co_await b.wait()); }

// CPython: test_locks.py::BarrierTests::test_filling_tasks_check_return_value
TEST(Barrier, EachPartyGetsADistinctIndex) {
    event_loop loop;
    barrier b(3);
    std::vector<std::size_t> indices;
    auto body = [&]() -> task<> {
        auto t1 = create_task(barrier_party(b, indices));
        auto t2 = create_task(barrier_party(b, indices));
        co_await ticks(2);
        EXPECT_EQ(b.n_waiting(), 2u);
        EXPECT_TRUE(indices.empty());
        auto t3 = create_task(barrier_party(b, indices));
        co_await t1;
        co_await t2;
        co_await t3;
    };
    loop.run_until_complete(body());
    std::sort(indices.begin(), indices.end());
    EXPECT_EQ(indices, (std::vector<std::size_t>{0, 1, 2}));
    EXPECT_EQ(b.n_waiting(), 0u);
    EXPECT_FALSE(b.broken());
    EXPECT_THROW(barrier(0), std::invalid_argument);
}

// CPython: test_locks.py::BarrierTests::test_filling_one_task,
// test_filling_tasks_wait_twice
TEST(Barrier, IsCyclicAndOnePartyNeverBlocks) {
    event_loop loop;
    barrier one(1);
    barrier two(2);
    std::vector<std::size_t> indices;
    auto body = [&]() -> task<> {
        EXPECT_EQ(co_await one.wait(), 0u);
        EXPECT_EQ(co_await one.wait(), 0u);
        for (int round = 0; round < 2; ++round) {
            auto a = create_task(barrier_party(two, indices));
            auto b = create_task(barrier_party(two, indices));
            co_await a;
            co_await b;
        }
    };
    loop.run_until_complete(body());
    EXPECT_EQ(indices.size(), 4u);
}

// CPython: test_locks.py::BarrierTests::test_filling_tasks_cancel_one
TEST(Barrier, CancelledWaiterLeavesTheCount) {
    event_loop loop;
    barrier b(3);
    std::vector<std::size_t> indices;
    auto body = [&]() -> task<> {
        auto t1 = create_task(barrier_party(b, indices));
        auto t2 = create_task(barrier_party(b, indices));
        co_await ticks(2);
        EXPECT_EQ(b.n_waiting(), 2u);
        t1.cancel();
        co_await ticks(2);
        EXPECT_TRUE(t1.cancelled());
        EXPECT_EQ(b.n_waiting(), 1u);
        auto t3 = create_task(barrier_party(b, indices));
        auto t4 = create_task(barrier_party(b, indices));
        co_await t2;
        co_await t3;
        co_await t4;
    };
    loop.run_until_complete(body());
    EXPECT_EQ(indices.size(), 3u);
}

task<> barrier_expect_broken(barrier& b, int& broken) {
    try {
        co_await b.wait();
    } catch (const broken_barrier_error&) {
        ++broken;
    }
}

// CPython: test_locks.py::BarrierTests::test_reset_barrier_while_tasks_waiting
TEST(Barrier, ResetBreaksCurrentWaitersThenWorksAgain) {
    event_loop loop;
    barrier b(3);
    int broken = 0;
    std::vector<std::size_t> indices;
    auto body = [&]() -> task<> {
        auto t1 = create_task(barrier_expect_broken(b, broken));
        auto t2 = create_task(barrier_expect_broken(b, broken));
        co_await ticks(2);
        co_await b.reset();
        co_await t1;
        co_await t2;
        EXPECT_EQ(broken, 2);
        EXPECT_FALSE(b.broken());
        EXPECT_EQ(b.n_waiting(), 0u);
        auto a = create_task(barrier_party(b, indices));
        auto c = create_task(barrier_party(b, indices));
        auto d = create_task(barrier_party(b, indices));
        co_await a;
        co_await c;
        co_await d;
    };
    loop.run_until_complete(body());
    EXPECT_EQ(indices.size(), 3u);
}

// CPython: test_locks.py::BarrierTests::test_abort_barrier
TEST(Barrier, AbortBreaksItForGood) {
    event_loop loop;
    barrier b(3);
    int broken = 0;
    auto body = [&]() -> task<> {
        auto t1 = create_task(barrier_expect_broken(b, broken));
        auto t2 = create_task(barrier_expect_broken(b, broken));
        co_await ticks(2);
        co_await b.abort();
        co_await t1;
        co_await t2;
        EXPECT_TRUE(b.broken());
        co_await barrier_expect_broken(b, broken); // later waits fail at once
    };
    loop.run_until_complete(body());
    EXPECT_EQ(broken, 3);
}

} // namespace
