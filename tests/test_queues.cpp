// queue, lifo_queue, priority_queue (docs/api.md, asyncio-semantics.md §2):
// order, maxsize, waiting getters and putters, cancellation that neither
// loses nor duplicates items, task_done/join, shutdown. Ported from CPython's
// test_queues.py.
#include "coro_test_util.hpp"

#include <gtest/gtest.h>
#include <uvasync/uvasync.hpp>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

using namespace uvasync;
using namespace coro_test_util;
using namespace std::chrono_literals;

namespace {

template <class Q> task<int> getter(Q& q) { co_return co_await q.get(); }
template <class Q> task<> putter(Q& q, int v) { co_await q.put(v); }

// CPython: test_queues.py::QueueBasicTests::test_empty, test_full
TEST(Queue, EmptyAndFull) {
    queue<int> unbounded;
    EXPECT_TRUE(unbounded.empty());
    EXPECT_FALSE(unbounded.full());
    EXPECT_EQ(unbounded.maxsize(), 0u);
    for (int i = 0; i < 1000; ++i) unbounded.put_nowait(i);
    EXPECT_FALSE(unbounded.full());
    EXPECT_FALSE(unbounded.empty());
    EXPECT_EQ(unbounded.qsize(), 1000u);

    queue<int> one(1);
    EXPECT_FALSE(one.full());
    one.put_nowait(1);
    EXPECT_TRUE(one.full());
    EXPECT_EQ(one.maxsize(), 1u);
}

// CPython: test_queues.py::QueueBasicTests::test_order,
// LifoQueueTests::test_order, PriorityQueueTests::test_order
TEST(Queue, FifoLifoAndPriorityOrder) {
    queue<int> fifo;
    lifo_queue<int> lifo;
    priority_queue<int> prio;
    for (int v : {1, 3, 2}) {
        fifo.put_nowait(v);
        lifo.put_nowait(v);
        prio.put_nowait(v);
    }
    std::vector<int> f, l, p;
    while (!fifo.empty()) f.push_back(fifo.get_nowait());
    while (!lifo.empty()) l.push_back(lifo.get_nowait());
    while (!prio.empty()) p.push_back(prio.get_nowait());
    EXPECT_EQ(f, (std::vector<int>{1, 3, 2}));
    EXPECT_EQ(l, (std::vector<int>{2, 3, 1}));
    EXPECT_EQ(p, (std::vector<int>{1, 2, 3}));

    priority_queue<int, std::greater<int>> largest_first;
    for (int v : {1, 3, 2}) largest_first.put_nowait(v);
    EXPECT_EQ(largest_first.get_nowait(), 3);
}

// The ring buffer wraps and grows without losing order.
TEST(Queue, FifoOrderAcrossWrapAndGrowth) {
    queue<std::string> q;
    int next_in = 0, next_out = 0;
    for (int round = 0; round < 50; ++round) {
        for (int i = 0; i < round % 37 + 1; ++i) q.put_nowait(std::to_string(next_in++));
        for (int i = 0; i < round % 23 && !q.empty(); ++i) EXPECT_EQ(q.get_nowait(), std::to_string(next_out++));
    }
    while (!q.empty()) EXPECT_EQ(q.get_nowait(), std::to_string(next_out++));
    EXPECT_EQ(next_in, next_out);
}

TEST(Queue, MoveOnlyItems) {
    event_loop loop;
    queue<std::unique_ptr<int>> q(1);
    auto body = [&]() -> task<> {
        co_await q.put(std::make_unique<int>(5));
        std::unique_ptr<int> p = co_await q.get();
        EXPECT_EQ(*p, 5);
    };
    loop.run_until_complete(body());
}

// CPython: test_queues.py::QueueBasicTests::test_maxsize
TEST(Queue, PutBlocksWhileFull) {
    event_loop loop;
    queue<int> q(2);
    std::vector<int> have;
    auto body = [&]() -> task<> {
        auto producer = [&]() -> task<> {
            for (int i = 0; i < 3; ++i) {
                co_await q.put(i);
                have.push_back(i);
            }
        };
        auto t = create_task(producer());
        co_await ticks(2);
        EXPECT_EQ(have, (std::vector<int>{0, 1}));
        EXPECT_TRUE(q.full());
        EXPECT_EQ(co_await q.get(), 0);
        co_await ticks(1);
        EXPECT_EQ(have, (std::vector<int>{0, 1, 2}));
        EXPECT_TRUE(t.done());
        EXPECT_EQ(co_await q.get(), 1);
        EXPECT_EQ(co_await q.get(), 2);
    };
    loop.run_until_complete(body());
}

// CPython: test_queues.py::QueueGetTests::test_nonblocking_get_exception,
// QueuePutTests::test_nonblocking_put_exception
TEST(Queue, NowaitThrowsEmptyAndFull) {
    queue<int> q(1);
    EXPECT_THROW(q.get_nowait(), queue_empty);
    q.put_nowait(1);
    EXPECT_THROW(q.put_nowait(2), queue_full);
    EXPECT_EQ(q.get_nowait(), 1);
}

// CPython: test_queues.py::QueueGetTests::test_blocking_get_wait,
// test_put_with_waiting_getters
TEST(Queue, WaitingGetterReceivesTheItem) {
    event_loop loop;
    queue<int> q;
    auto body = [&]() -> task<> {
        auto g = create_task(getter(q));
        co_await ticks(1);
        EXPECT_FALSE(g.done());
        loop.call_soon([&] { q.put_nowait(42); });
        EXPECT_EQ(co_await g, 42);
        EXPECT_TRUE(q.empty());
    };
    loop.run_until_complete(body());
}

// CPython: test_queues.py::QueueGetTests::test_get_with_waiting_putters
TEST(Queue, WaitingPuttersDeliverInOrder) {
    event_loop loop;
    queue<int> q(1);
    auto body = [&]() -> task<> {
        q.put_nowait(0);
        auto a = create_task(putter(q, 1));
        auto b = create_task(putter(q, 2));
        co_await ticks(1);
        EXPECT_EQ(co_await q.get(), 0);
        EXPECT_EQ(co_await q.get(), 1);
        EXPECT_EQ(co_await q.get(), 2);
        co_await a;
        co_await b;
    };
    loop.run_until_complete(body());
}

// CPython: test_queues.py::QueueGetTests::test_get_cancelled_race
TEST(Queue, CancelledGetterDoesNotTakeTheItem) {
    event_loop loop;
    queue<int> q;
    auto body = [&]() -> task<> {
        auto g1 = create_task(getter(q));
        auto g2 = create_task(getter(q));
        co_await ticks(1);
        g1.cancel();
        co_await ticks(1);
        EXPECT_TRUE(g1.cancelled());
        q.put_nowait(7);
        EXPECT_EQ(co_await g2, 7);
    };
    loop.run_until_complete(body());
}

// CPython: test_queues.py::QueueGetTests::test_get_cancel_drop_one_pending_reader
TEST(Queue, GetterWokenThenCancelledLeavesTheItem) {
    event_loop loop;
    queue<int> q;
    auto body = [&]() -> task<> {
        auto reader = create_task(getter(q));
        co_await ticks(1);
        q.put_nowait(1);
        q.put_nowait(2);
        reader.cancel();
        co_await ticks(2);
        EXPECT_TRUE(reader.cancelled());
        EXPECT_EQ(q.qsize(), 2u);
        EXPECT_EQ(co_await q.get(), 1); // if 2, item 1 was dropped
    };
    loop.run_until_complete(body());
}

// CPython: test_queues.py::QueueGetTests::test_get_cancel_drop_many_pending_readers
TEST(Queue, ManyReadersOneCancelledAfterWakeNoItemLost) {
    event_loop loop;
    queue<int> q;
    auto body = [&]() -> task<> {
        auto r1 = create_task(getter(q));
        auto r2 = create_task(getter(q));
        auto r3 = create_task(getter(q));
        co_await ticks(1);
        q.put_nowait(1);
        q.put_nowait(2);
        r1.cancel(); // r1 was woken for item 1: r3 must be woken in its place
        co_await ticks(3);
        EXPECT_TRUE(r1.cancelled());
        EXPECT_EQ(co_await r2, 1);
        EXPECT_EQ(co_await r3, 2);
        EXPECT_TRUE(q.empty());
    };
    loop.run_until_complete(body());
}

// A getter woken for an item that another task takes first waits again.
TEST(Queue, WokenGetterWhoseItemWasTakenWaitsAgain) {
    event_loop loop;
    queue<int> q;
    auto body = [&]() -> task<> {
        auto g = create_task(getter(q));
        co_await ticks(1);
        q.put_nowait(1);          // wakes g ...
        EXPECT_EQ(q.get_nowait(), 1); // ... but we take the item first
        co_await ticks(2);
        EXPECT_FALSE(g.done());
        q.put_nowait(2);
        EXPECT_EQ(co_await g, 2);
    };
    loop.run_until_complete(body());
}

// CPython: test_queues.py::QueuePutTests::test_put_cancel_drop
TEST(Queue, PutterWokenThenCancelledDoesNotInsert) {
    event_loop loop;
    queue<int> q(1);
    auto body = [&]() -> task<> {
        q.put_nowait(1);
        auto writer = create_task(putter(q, 2));
        co_await ticks(1);
        EXPECT_EQ(q.get_nowait(), 1); // space appears, the writer is woken ...
        writer.cancel();              // ... and cancelled before it runs
        co_await ticks(2);
        EXPECT_TRUE(writer.cancelled());
        EXPECT_TRUE(q.empty());
        co_await q.put(2); // the retry inserts exactly once
        EXPECT_EQ(q.qsize(), 1u);
    };
    loop.run_until_complete(body());
}

// CPython: test_queues.py::QueuePutTests::test_put_cancelled_race
TEST(Queue, CancelledPutterDoesNotDisplaceOthers) {
    event_loop loop;
    queue<int> q(1);
    auto body = [&]() -> task<> {
        auto a = create_task(putter(q, 10));
        auto b = create_task(putter(q, 20));
        auto c = create_task(putter(q, 30));
        co_await ticks(1); // a put, b and c wait
        b.cancel();
        co_await ticks(1);
        EXPECT_TRUE(b.cancelled());
        EXPECT_EQ(co_await q.get(), 10);
        EXPECT_EQ(co_await q.get(), 30);
        co_await a;
        co_await c;
    };
    loop.run_until_complete(body());
}

// CPython: test_queues.py::QueueGetTests::test_cancelled_getters_not_being_held_in_self_getters,
// QueuePutTests::test_cancelled_puts_not_being_held_in_self_putters
TEST(Queue, TimedOutGetAndPutLeaveNoStaleWaiter) {
    event_loop loop;
    queue<int> q(1);
    auto body = [&]() -> task<> {
        bool timed_out = false;
        try {
            co_await wait_for(getter(q), 1ms);
        } catch (const timeout_error&) {
            timed_out = true;
        }
        EXPECT_TRUE(timed_out);
        q.put_nowait(1); // would be lost to a stale getter
        EXPECT_EQ(q.qsize(), 1u);
        timed_out = false;
        try {
            co_await wait_for(putter(q, 2), 1ms);
        } catch (const timeout_error&) {
            timed_out = true;
        }
        EXPECT_TRUE(timed_out);
        EXPECT_EQ(q.get_nowait(), 1);
        EXPECT_TRUE(q.empty()); // the timed-out put inserted nothing
    };
    loop.run_until_complete(body());
}

// CPython: test_queues.py::QueueGetTests::test_why_are_getters_waiting,
// QueuePutTests::test_why_are_putters_waiting
TEST(Queue, ProducerConsumerWithMaxsizeOneCompletes) {
    event_loop loop;
    queue<int> q(1);
    std::vector<int> got;
    auto body = [&]() -> task<> {
        auto producer = [&]() -> task<> {
            for (int i = 0; i < 5; ++i) co_await q.put(i);
        };
        auto consumer = [&]() -> task<> {
            for (int i = 0; i < 5; ++i) got.push_back(co_await q.get());
        };
        auto p = create_task(producer());
        auto c = create_task(consumer());
        co_await p;
        co_await c;
    };
    loop.run_until_complete(body());
    EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 4}));
}

// CPython: test_queues.py::QueueJoinTests::test_task_done_underflow
TEST(Queue, TaskDoneTooManyTimesThrows) {
    queue<int> q;
    EXPECT_THROW(q.task_done(), std::logic_error);
    q.put_nowait(1);
    q.get_nowait();
    q.task_done();
    EXPECT_THROW(q.task_done(), std::logic_error);
}

// CPython: test_queues.py::QueueJoinTests::test_task_done
TEST(Queue, JoinWaitsForEveryTaskDone) {
    event_loop loop;
    queue<int> q;
    int processed = 0;
    auto body = [&]() -> task<> {
        for (int i = 0; i < 100; ++i) q.put_nowait(i);
        auto worker = [&]() -> task<> {
            for (;;) {
                co_await q.get();
                co_await sleep(0ms);
                ++processed;
                q.task_done();
            }
        };
        auto w1 = create_task(worker());
        auto w2 = create_task(worker());
        co_await q.join();
        EXPECT_EQ(processed, 100);
        w1.cancel();
        w2.cancel();
    };
    loop.run_until_complete(body());
}

// CPython: test_queues.py::QueueJoinTests::test_join_empty_queue
TEST(Queue, JoinOnFreshQueueReturnsAtOnce) {
    event_loop loop;
    queue<int> q;
    auto body = [&]() -> task<> {
        co_await q.join();
        co_await q.join();
    };
    loop.run_until_complete(body());
}

// CPython: test_queues.py::_QueueShutdownTestMixin::test_shutdown_empty
TEST(Queue, ShutdownEmptyQueue) {
    event_loop loop;
    queue<int> q;
    auto body = [&]() -> task<> {
        auto g = create_task(getter(q));
        co_await ticks(1);
        q.shutdown();
        bool threw = false;
        try {
            co_await g;
        } catch (const queue_shut_down&) {
            threw = true;
        }
        EXPECT_TRUE(threw);
        co_await q.join();
        EXPECT_THROW(q.put_nowait(1), queue_shut_down);
        EXPECT_THROW(q.get_nowait(), queue_shut_down);
        threw = false;
        try {
            co_await q.put(1);
        } catch (const queue_shut_down&) {
            threw = true;
        }
        EXPECT_TRUE(threw);
        threw = false;
        try {
            co_await q.get();
        } catch (const queue_shut_down&) {
            threw = true;
        }
        EXPECT_TRUE(threw);
    };
    loop.run_until_complete(body());
}

// CPython: test_queues.py::_QueueShutdownTestMixin::test_shutdown_nonempty
TEST(Queue, ShutdownNonEmptyQueueDrainsThenThrows) {
    event_loop loop;
    queue<int> q(1);
    auto body = [&]() -> task<> {
        q.put_nowait(1);
        auto blocked = create_task(putter(q, 2));
        co_await ticks(1);
        q.shutdown();
        bool threw = false;
        try {
            co_await blocked;
        } catch (const queue_shut_down&) {
            threw = true;
        }
        EXPECT_TRUE(threw);
        auto joiner = create_task(q.join());
        co_await ticks(1);
        EXPECT_FALSE(joiner.done());
        EXPECT_EQ(co_await q.get(), 1); // what was queued can still be got
        q.task_done();
        co_await joiner;
        EXPECT_THROW(q.get_nowait(), queue_shut_down);
    };
    loop.run_until_complete(body());
}

task<> join_task(queue<int>& q) { co_await q.join(); }

// CPython: test_queues.py::_QueueShutdownTestMixin::test_shutdown_immediate
TEST(Queue, ShutdownImmediateDropsItems) {
    event_loop loop;
    queue<int> q;
    auto body = [&]() -> task<> {
        q.put_nowait(1);
        q.put_nowait(2);
        auto joiner = create_task(join_task(q));
        co_await ticks(1);
        EXPECT_FALSE(joiner.done());
        q.shutdown(true);
        EXPECT_EQ(q.qsize(), 0u);
        co_await joiner;
        EXPECT_THROW(q.task_done(), std::logic_error);
        EXPECT_THROW(q.get_nowait(), queue_shut_down);
    };
    loop.run_until_complete(body());
}

// CPython: test_queues.py::_QueueShutdownTestMixin::test_shutdown_immediate_with_unfinished
TEST(Queue, ShutdownImmediateStillWaitsForItemsAlreadyTaken) {
    event_loop loop;
    queue<int> q;
    auto body = [&]() -> task<> {
        q.put_nowait(1);
        q.put_nowait(2);
        EXPECT_EQ(q.get_nowait(), 1); // taken, not yet task_done
        q.shutdown(true);
        auto joiner = create_task(join_task(q));
        co_await ticks(2);
        EXPECT_FALSE(joiner.done());
        q.task_done();
        co_await joiner;
    };
    loop.run_until_complete(body());
}

TEST(Queue, PriorityAndLifoQueuesWaitLikeQueue) {
    event_loop loop;
    priority_queue<int> pq(2);
    lifo_queue<int> lq;
    auto body = [&]() -> task<> {
        auto g = create_task(getter(lq));
        co_await ticks(1);
        lq.put_nowait(3);
        EXPECT_EQ(co_await g, 3);
        co_await pq.put(5);
        co_await pq.put(4);
        auto p = create_task(putter(pq, 1));
        co_await ticks(1);
        EXPECT_FALSE(p.done());
        EXPECT_EQ(co_await pq.get(), 4);
        co_await p;
        EXPECT_EQ(co_await pq.get(), 1);
        EXPECT_EQ(co_await pq.get(), 5);
    };
    loop.run_until_complete(body());
}

} // namespace
