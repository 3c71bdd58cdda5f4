// future<T> (API.md §1), ported from CPython's test_futures.py, with the
// future cases of test_tasks.py (cancelling through an awaited future,
// shield of a future).
#include "coro_test_util.hpp"

#include <gtest/gtest.h>
#include <uvasync/uvasync.hpp>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace uvasync;
using namespace coro_test_util;
using namespace std::chrono_literals;

namespace {

// What the exception handler was told.
struct recorded {
    std::vector<exception_context> contexts;
    void install(event_loop& loop) {
        loop.set_exception_handler([this](event_loop&, const exception_context& ctx) { contexts.push_back(ctx); });
    }
};

std::exception_ptr runtime_error_ptr(const char* what) { return std::make_exception_ptr(std::runtime_error(what)); }

std::string what_of(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        return x.what();
    } catch (const cancelled_error& c) {
        return std::string("cancelled: ") + c.what();
    }
}

// CPython: test_futures.py::test_initial_state, test_cancel
TEST(Future, CancelledFutureRefusesEverythingElse) {
    event_loop loop;
    future<int> f = loop.create_future<int>();
    EXPECT_FALSE(f.done());
    EXPECT_FALSE(f.cancelled());
    EXPECT_TRUE(f.cancel());
    EXPECT_TRUE(f.cancelled());
    EXPECT_TRUE(f.done());
    EXPECT_THROW((void)f.result(), cancelled_error);
    EXPECT_THROW((void)f.exception(), cancelled_error);
    EXPECT_THROW(f.set_result(1), invalid_state_error);
    EXPECT_THROW(f.set_exception(runtime_error_ptr("x")), invalid_state_error);
    EXPECT_FALSE(f.cancel());
}

// CPython: test_futures.py::test_result (set_result twice, result of a pending future)
TEST(Future, ResultOnceSet) {
    event_loop loop;
    future<int> f = loop.create_future<int>();
    EXPECT_THROW((void)f.result(), invalid_state_error);
    f.set_result(42);
    EXPECT_FALSE(f.cancelled());
    EXPECT_TRUE(f.done());
    EXPECT_EQ(f.result(), 42);
    EXPECT_EQ(f.exception(), nullptr);
    EXPECT_THROW(f.set_result(43), invalid_state_error);
    EXPECT_THROW(f.set_exception(runtime_error_ptr("x")), invalid_state_error);
    EXPECT_FALSE(f.cancel());
    EXPECT_EQ(f.result(), 42); // untouched by the refused calls
}

// CPython: test_futures.py::test_exception (exception of a pending future)
TEST(Future, ExceptionOnceSet) {
    event_loop loop;
    future<int> f = loop.create_future<int>();
    EXPECT_THROW((void)f.exception(), invalid_state_error);
    std::exception_ptr e = runtime_error_ptr("boom");
    f.set_exception(e);
    EXPECT_FALSE(f.cancelled());
    EXPECT_TRUE(f.done());
    EXPECT_THROW((void)f.result(), std::runtime_error);
    EXPECT_EQ(f.exception(), e);
    EXPECT_THROW(f.set_result(1), invalid_state_error);
    EXPECT_THROW(f.set_exception(e), invalid_state_error);
    EXPECT_FALSE(f.cancel());
    EXPECT_THROW(loop.create_future<int>().set_exception(nullptr), std::invalid_argument);
}

// CPython: test_futures.py::test_constructor_without_loop, test_constructor_use_running_loop
TEST(Future, NeedsARunningLoop) {
    EXPECT_THROW((void)create_future<int>(), std::runtime_error);
    event_loop loop;
    auto body = [&]() -> task<> {
        future<std::string> f = create_future<std::string>();
        loop.call_soon([f] { f.set_result("made on the running loop"); });
        EXPECT_EQ(co_await f, "made on the running loop");
    };
    loop.run_until_complete(body());
    loop.close();
    EXPECT_THROW((void)loop.create_future<int>(), std::runtime_error); // closed
}

TEST(Future, VoidFuture) {
    event_loop loop;
    auto body = [&]() -> task<> {
        future<> f = create_future();
        loop.call_soon([f] { f.set_result(); });
        co_await f;
        EXPECT_TRUE(f.done());
        f.result(); // nothing, and no throw
        EXPECT_THROW(f.set_result(), invalid_state_error);
    };
    loop.run_until_complete(body());
}

// CPython: test_futures.py::test_yield_from_twice; any number of awaiters
TEST(Future, AwaitedTwiceAndByManyTasks) {
    event_loop loop;
    auto body = [&]() -> task<> {
        future<int> f = create_future<int>();
        auto awaiter = [](future<int> fut) -> task<int> { co_return co_await fut + co_await fut; };
        std::vector<task_handle<int>> tasks;
        for (int i = 0; i < 5; ++i) tasks.push_back(create_task(awaiter(f)));
        co_await ticks(1);
        for (auto& t : tasks) EXPECT_FALSE(t.done());
        f.set_result(21);
        for (auto& t : tasks) EXPECT_EQ(co_await t, 42);
        EXPECT_EQ(co_await f, 21); // done: no suspension
    };
    loop.run_until_complete(body());
}

TEST(Future, MoveOnlyValueGoesToTheFirstAwaiter) {
    event_loop loop;
    auto body = [&]() -> task<> {
        future<std::unique_ptr<int>> f = create_future<std::unique_ptr<int>>();
        f.set_result(std::make_unique<int>(7));
        EXPECT_EQ(*f.result(), 7); // result() looks without taking
        std::unique_ptr<int> p = co_await f;
        EXPECT_TRUE(p && *p == 7);
    };
    loop.run_until_complete(body());
}

// CPython: test_futures.py::test_future_cancel_message_getter; test_tasks.py
// awaiting a cancelled future raises its CancelledError
TEST(Future, AwaitingACancelledFutureRaisesItsMessage) {
    event_loop loop;
    future<int> f = loop.create_future<int>();
    f.cancel("my message");
    auto body = [&]() -> task<std::string> {
        try {
            co_await f;
        } catch (const cancelled_error& e) {
            co_return e.message();
        }
        co_return "not cancelled";
    };
    EXPECT_EQ(loop.run_until_complete(body()), "my message");
    try {
        (void)f.result();
        ADD_FAILURE();
    } catch (const cancelled_error& e) {
        EXPECT_EQ(e.message(), "my message");
    }
}

// CPython: test_futures.py::test_callbacks_invoked_on_set_result, test_callbacks_invoked_on_set_exception
TEST(Future, CallbacksRunSoonInOrder) {
    event_loop loop;
    std::vector<int> bag;
    future<std::string> f = loop.create_future<std::string>();
    f.add_done_callback([&](future<std::string>&) { bag.push_back(42); });
    f.add_done_callback([&](future<std::string>&) { bag.push_back(17); });
    EXPECT_TRUE(bag.empty());
    f.set_result("foo");
    EXPECT_TRUE(bag.empty()); // scheduled, not called
    loop.run_until_complete(ticks(1));
    EXPECT_EQ(bag, (std::vector<int>{42, 17}));
    EXPECT_EQ(f.result(), "foo");

    bag.clear();
    future<int> g = loop.create_future<int>();
    g.add_done_callback([&](future<int>&) { bag.push_back(100); });
    std::exception_ptr e = runtime_error_ptr("boom");
    g.set_exception(e);
    loop.run_until_complete(ticks(1));
    EXPECT_EQ(bag, (std::vector<int>{100}));
    EXPECT_EQ(g.exception(), e);
}

TEST(Future, CallbackSeesTheFutureAndADoneFutureCallsSoon) {
    event_loop loop;
    future<int> f = loop.create_future<int>();
    f.set_result(3);
    int seen = 0;
    bool same = false;
    f.add_done_callback([&](future<int>& self) {
        seen = self.result();
        same = self == f;
    });
    EXPECT_EQ(seen, 0); // through the loop, even when done already
    loop.run_until_complete(ticks(1));
    EXPECT_EQ(seen, 3);
    EXPECT_TRUE(same);
}

// asyncio: the awaiting tasks' wake-ups are done callbacks too, in the order
// they came (checked with Debian's python3: ['cb1', 't1', 'cb2', 't2'])
TEST(Future, AwaitersAndCallbacksWakeInTheOrderTheyCame) {
    event_loop loop;
    std::vector<std::string> order;
    auto body = [&]() -> task<> {
        future<int> f = create_future<int>();
        auto waiter = [&](std::string name) -> task<> {
            co_await f;
            order.push_back(name);
        };
        f.add_done_callback([&](future<int>&) { order.push_back("cb1"); });
        auto t1 = create_task(waiter("t1"));
        co_await ticks(1);
        f.add_done_callback([&](future<int>&) { order.push_back("cb2"); });
        auto t2 = create_task(waiter("t2"));
        co_await ticks(1);
        f.set_result(1);
        co_await t1;
        co_await t2;
    };
    loop.run_until_complete(body());
    EXPECT_EQ(order, (std::vector<std::string>{"cb1", "t1", "cb2", "t2"}));
}

// CPython: test_futures.py::test_callbacks_remove_first_callback,
// test_callbacks_remove_first_and_second_callback, test_callbacks_remove_third_callback
TEST(Future, RemovedCallbacksNeverRun) {
    event_loop loop;
    auto run = [&](std::vector<int> remove, std::vector<int> expected) {
        std::vector<int> bag;
        future<std::string> f = loop.create_future<std::string>();
        std::size_t ids[3];
        const int things[3] = {42, 17, 100};
        for (int i = 0; i < 3; ++i) ids[i] = f.add_done_callback([&bag, t = things[i]](future<std::string>&) { bag.push_back(t); });
        for (int i : remove) f.remove_done_callback(ids[i]);
        for (int i : remove) EXPECT_EQ(f.remove_done_callback(ids[i]), 0u); // removing twice removes nothing
        EXPECT_TRUE(bag.empty());
        f.set_result("foo");
        loop.run_until_complete(ticks(1));
        EXPECT_EQ(bag, expected);
        EXPECT_EQ(f.result(), "foo");
    };
    run({0}, {17, 100});
    run({0, 1}, {100});
    run({2}, {42, 17});
}

// CPython: test_futures.py::test_remove_done_callback (how many were removed)
TEST(Future, RemoveDoneCallbackCounts) {
    event_loop loop;
    std::vector<int> bag;
    future<std::string> f = loop.create_future<std::string>();
    const std::size_t cb1 = f.add_done_callback([&](future<std::string>&) { bag.push_back(1); });
    const std::size_t cb2 = f.add_done_callback([&](future<std::string>&) { bag.push_back(2); });
    EXPECT_NE(cb1, cb2);
    EXPECT_EQ(f.remove_done_callback(cb2), 1u);
    EXPECT_EQ(f.remove_done_callback(12345), 0u); // never added
    const std::size_t cb3 = f.add_done_callback([&](future<std::string>&) { bag.push_back(3); });
    EXPECT_EQ(f.remove_done_callback(cb1), 1u);
    f.set_result("foo");
    EXPECT_EQ(f.remove_done_callback(cb3), 0u); // queued already: asyncio empties its list when it schedules
    loop.run_until_complete(ticks(1));
    EXPECT_EQ(bag, (std::vector<int>{3}));
}

// CPython: test_futures.py::test_schedule_callbacks_list_mutation_1
TEST(Future, ACallbackRemovingAnotherAfterCompletionChangesNothing) {
    event_loop loop;
    std::vector<int> bag;
    future<int> f = loop.create_future<int>();
    std::size_t second = 0;
    std::size_t removed = 99;
    f.add_done_callback([&](future<int>& self) { removed = self.remove_done_callback(second); });
    second = f.add_done_callback([&](future<int>&) { bag.push_back(2); });
    f.set_result(1);
    loop.run_until_complete(ticks(1));
    EXPECT_EQ(removed, 0u);
    EXPECT_EQ(bag, (std::vector<int>{2}));
}

TEST(Future, ACallbackThatThrowsIsReported) {
    event_loop loop;
    recorded r;
    r.install(loop);
    future<int> f = loop.create_future<int>();
    int after = 0;
    f.add_done_callback([](future<int>&) { throw std::runtime_error("callback failed"); });
    f.add_done_callback([&](future<int>&) { ++after; });
    f.set_result(1);
    loop.run_until_complete(ticks(1));
    EXPECT_EQ(after, 1);
    ASSERT_EQ(r.contexts.size(), 1u);
    EXPECT_EQ(r.contexts[0].message, "Exception in callback");
    EXPECT_EQ(what_of(r.contexts[0].exception), "callback failed");
}

// CPython: test_futures.py::test_future_exception_never_retrieved, test_tb_logger_exception_unretrieved
TEST(Future, AnExceptionNobodyRetrievedIsReportedWhenTheLastHandleGoes) {
    event_loop loop;
    recorded r;
    r.install(loop);
    future<int> f = loop.create_future<int>();
    f.set_exception(runtime_error_ptr("boom"));
    future<int> copy = f;
    f = {};
    EXPECT_TRUE(r.contexts.empty()); // a handle is left: someone could still look
    copy = {};
    ASSERT_EQ(r.contexts.size(), 1u);
    EXPECT_EQ(r.contexts[0].message, "Future exception was never retrieved");
    EXPECT_EQ(what_of(r.contexts[0].exception), "boom");
    loop.close();
    EXPECT_EQ(r.contexts.size(), 1u);
}

// CPython: test_futures.py::test_tb_logger_abandoned, test_tb_logger_not_called_after_cancel,
// test_tb_logger_result_unretrieved, test_tb_logger_result_retrieved,
// test_tb_logger_exception_retrieved, test_tb_logger_exception_result_retrieved
TEST(Future, RetrievedOrSilencedExceptionsAreNotReported) {
    event_loop loop;
    recorded r;
    r.install(loop);
    { future<int> abandoned = loop.create_future<int>(); }
    {
        future<int> f = loop.create_future<int>();
        f.set_exception(runtime_error_ptr("then cancelled"));
        EXPECT_FALSE(f.cancel()); // too late, but it silences the report (asyncio)
    }
    {
        future<int> f = loop.create_future<int>();
        f.set_result(42);
    }
    {
        future<int> f = loop.create_future<int>();
        f.set_exception(runtime_error_ptr("exception()"));
        (void)f.exception();
    }
    {
        future<int> f = loop.create_future<int>();
        f.set_exception(runtime_error_ptr("result()"));
        EXPECT_THROW((void)f.result(), std::runtime_error);
    }
    auto awaited = [&]() -> task<> {
        future<int> f = create_future<int>();
        f.set_exception(runtime_error_ptr("co_await"));
        try {
            co_await f;
        } catch (const std::runtime_error&) {
        }
    };
    loop.run_until_complete(awaited());
    { loop.create_future<int>().cancel(); }
    loop.run_until_complete(ticks(1));
    loop.close();
    EXPECT_TRUE(r.contexts.empty()) << r.contexts[0].message;
}

TEST(Future, AFutureOutlivingItsLoop) {
    future<int> kept, failed;
    int called = 0;
    {
        event_loop loop;
        kept = loop.create_future<int>();
        kept.add_done_callback([&](future<int>&) { ++called; });
        failed = loop.create_future<int>();
        failed.set_exception(runtime_error_ptr("outlived"));
        loop.close();
    }
    kept.set_result(5); // the loop is gone: its callbacks never run
    EXPECT_EQ(kept.result(), 5);
    EXPECT_EQ(called, 0);
    EXPECT_THROW(kept.add_done_callback([](future<int>&) {}), std::runtime_error);
    testing::internal::CaptureStderr();
    failed = {};
    const std::string err = testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find("Future exception was never retrieved"), std::string::npos) << err;
    EXPECT_NE(err.find("outlived"), std::string::npos) << err;
}

// CPython: test_tasks.py::test_yield_future_passes_cancel (cancelling a task
// cancels the future it awaits, with the message)
TEST(Future, CancellingTheAwaitingTaskCancelsTheFuture) {
    event_loop loop;
    int proof = 0;
    future<int> waiter = loop.create_future<int>();
    auto inner = [&]() -> task<> {
        try {
            co_await waiter;
        } catch (const cancelled_error&) {
            ++proof;
            throw;
        }
        ADD_FAILURE() << "got past the future in inner()";
    };
    auto outer = [&]() -> task<> {
        try {
            co_await inner();
            proof += 10;
        } catch (const cancelled_error& e) {
            proof += 100; // expect this path
            EXPECT_EQ(e.message(), "stop");
        }
    };
    auto body = [&]() -> task<> {
        auto t = create_task(outer());
        co_await ticks(1);
        EXPECT_TRUE(t.cancel("stop"));
        EXPECT_TRUE(waiter.cancelled()); // at once, as asyncio's fut.cancel() inside task.cancel()
        co_await t;
        EXPECT_FALSE(t.cancelled()); // outer swallowed it
    };
    loop.run_until_complete(body());
    EXPECT_EQ(proof, 101);
    try {
        (void)waiter.result();
    } catch (const cancelled_error& e) {
        EXPECT_EQ(e.message(), "stop");
    }
}

// CPython: test_tasks.py::test_cancel_inner_future, test_cancel_both_task_and_inner_future
TEST(Future, CancellingTheAwaitedFutureCancelsTheTask) {
    event_loop loop;
    auto awaiting = [](future<int> f) -> task<int> {
        co_await f;
        co_return 12;
    };
    auto body = [&](bool cancel_task_too) -> task<> {
        future<int> f = create_future<int>();
        auto t = create_task(awaiting(f));
        co_await ticks(1);
        f.cancel();
        if (cancel_task_too) {
            EXPECT_TRUE(t.cancel());
        }
        try {
            co_await t;
            ADD_FAILURE() << "the task finished";
        } catch (const cancelled_error&) {
        }
        EXPECT_TRUE(f.cancelled());
        EXPECT_TRUE(t.cancelled());
    };
    loop.run_until_complete(body(false));
    loop.run_until_complete(body(true));
}

// The pending-cancellation rule: a task cancelled before it reaches the
// future cancels the future when it starts waiting on it.
TEST(Future, APendingCancellationReachesTheFuture) {
    event_loop loop;
    auto body = [&]() -> task<> {
        future<int> f = create_future<int>();
        auto self_cancelling = [&]() -> task<> {
            current_task()->cancel("early");
            co_await f;
        };
        auto t = create_task(self_cancelling());
        try {
            co_await t;
        } catch (const cancelled_error& e) {
            EXPECT_EQ(e.message(), "early");
        }
        EXPECT_TRUE(t.cancelled());
        EXPECT_TRUE(f.cancelled());
    };
    loop.run_until_complete(body());
}

// The future completed, then the awaiting task was cancelled before it
// resumed: the task sees the cancellation (asyncio: fut.cancel() fails, so
// _must_cancel), and the future keeps its result for others.
TEST(Future, CancelledAfterCompletionBeforeResuming) {
    event_loop loop;
    auto body = [&]() -> task<> {
        future<int> f = create_future<int>();
        auto awaiting = [&]() -> task<int> { co_return co_await f; };
        auto t = create_task(awaiting());
        co_await ticks(1);
        f.set_result(5);
        EXPECT_TRUE(t.cancel());
        EXPECT_THROW(co_await t, cancelled_error);
        EXPECT_EQ(f.result(), 5);
    };
    loop.run_until_complete(body());
}

TEST(Future, ClosingTheLoopWithATaskAwaitingAFuture) {
    future<int> f;
    {
        event_loop loop;
        f = loop.create_future<int>();
        int callbacks = 0;
        f.add_done_callback([&](future<int>&) { ++callbacks; });
        auto awaiting = [](future<int> fut) -> task<> { co_await fut; };
        auto starter = [&]() -> task<> {
            (void)create_task(awaiting(f));
            co_await ticks(2);
        };
        loop.run_until_complete(starter());
        loop.close(); // the parked awaiter is stopped; the future is left as it is
        EXPECT_FALSE(f.done());
        EXPECT_EQ(callbacks, 0);
    }
    f.set_result(1);
    EXPECT_EQ(f.result(), 1);
}

TEST(Future, AwaitingAFutureOfAnotherLoopIsRefused) {
    event_loop other;
    future<int> foreign = other.create_future<int>();
    event_loop loop;
    auto body = [&]() -> task<> { EXPECT_THROW(co_await foreign, std::runtime_error); };
    loop.run_until_complete(body());
}

// A future completed from another thread through call_soon_threadsafe.
TEST(Future, CompletedFromAnotherThread) {
    event_loop loop;
    auto body = [&]() -> task<int> {
        future<int> f = create_future<int>();
        // The callable (and its handle copy) is made here, on the loop
        // thread, and moved across: the thread never copies the handle.
        auto complete = [f] { f.set_result(42); };
        std::thread worker([&loop, complete = std::move(complete)]() mutable {
            loop.call_soon_threadsafe(std::move(complete));
        });
        int v = co_await f;
        worker.join();
        co_return v;
    };
    EXPECT_EQ(loop.run_until_complete(body()), 42);
}

// wait_for on a future: it runs as a task awaiting the future, so the
// timeout cancels the future too (as asyncio.wait_for(fut) does).
TEST(Future, WaitForAFuture) {
    event_loop loop;
    auto body = [&]() -> task<> {
        future<int> soon = create_future<int>();
        loop.call_soon([soon] { soon.set_result(4); });
        EXPECT_EQ(co_await wait_for(soon, 1s), 4);
        future<int> never = create_future<int>();
        EXPECT_THROW(co_await wait_for(never, 5ms), timeout_error);
        EXPECT_TRUE(never.cancelled());
    };
    loop.run_until_complete(body());
}

TEST(Future, ComparesAsTheSameObject) {
    event_loop loop;
    future<int> a = loop.create_future<int>();
    future<int> b = a;
    future<int> c = loop.create_future<int>();
    EXPECT_TRUE(a == b);
    EXPECT_FALSE(a == c);
    EXPECT_TRUE(future<int>() == future<int>());
    auto body = [&]() -> task<> {
        task_handle<> h = create_task(ticks(1));
        task_handle<> h2 = h;
        task_handle<> other = create_task(ticks(1));
        EXPECT_TRUE(h == h2);
        EXPECT_FALSE(h == other);
        co_await h;
        co_await other;
    };
    loop.run_until_complete(body());
}

// CPython: test_tasks.py::test_shield_result, test_shield_exception, test_shield_shortcut (a future inside)
TEST(FutureShield, PassesResultAndException) {
    event_loop loop;
    auto body = [&]() -> task<> {
        future<int> ok = create_future<int>();
        future<int> bad = create_future<int>();
        loop.call_soon([ok, bad] {
            ok.set_result(42);
            bad.set_exception(runtime_error_ptr("inner failed"));
        });
        EXPECT_EQ(co_await shield(ok), 42);
        EXPECT_EQ(co_await shield(ok), 42); // done: at once
        EXPECT_THROW(co_await shield(bad), std::runtime_error);
    };
    loop.run_until_complete(body());
}

// CPython: test_tasks.py::test_shield_cancel_inner
TEST(FutureShield, CancellingTheFutureCancelsTheWaiter) {
    event_loop loop;
    auto body = [&]() -> task<> {
        future<int> inner = create_future<int>();
        auto outer = create_task(shield(inner));
        co_await ticks(1);
        inner.cancel();
        EXPECT_THROW(co_await outer, cancelled_error);
        EXPECT_TRUE(outer.cancelled());
    };
    loop.run_until_complete(body());
}

// CPython: test_tasks.py::test_shield_cancel_outer, test_shield_effect
TEST(FutureShield, CancellingTheWaiterLeavesTheFuturePending) {
    event_loop loop;
    auto body = [&]() -> task<> {
        future<int> inner = create_future<int>();
        auto waiter = [&]() -> task<int> { co_return co_await shield(inner); };
        auto outer = create_task(waiter());
        co_await ticks(1);
        outer.cancel();
        co_await ticks(1);
        EXPECT_TRUE(outer.cancelled());
        EXPECT_FALSE(inner.done());
        inner.set_result(5);
        EXPECT_EQ(co_await inner, 5);
    };
    loop.run_until_complete(body());
}

// CPython: test_tasks.py::test_shield_cancel_outer_result,
// test_shield_cancel_outer_exception, test_shield_duplicate_log_once
TEST(FutureShield, AFailureAfterTheWaiterWasCancelledIsReportedOnce) {
    event_loop loop;
    std::vector<std::string> reports;
    loop.set_exception_handler([&](event_loop&, const exception_context& ctx) { reports.push_back(ctx.message); });
    auto body = [&]() -> task<> {
        future<int> ok = create_future<int>();
        future<int> bad = create_future<int>();
        auto w1 = create_task(shield(ok));
        auto w2 = create_task(shield(bad));
        auto w3 = create_task(shield(bad)); // shielded twice: still one report
        co_await ticks(1);
        w1.cancel();
        w2.cancel();
        w3.cancel();
        co_await ticks(1);
        ok.set_result(1);
        bad.set_exception(runtime_error_ptr("inner failed"));
        co_await ticks(2);
        EXPECT_TRUE(w1.cancelled() && w2.cancelled() && w3.cancelled());
    };
    loop.run_until_complete(body());
    loop.close();
    ASSERT_EQ(reports.size(), 1u); // the result is dropped silently, the failure reported once
    EXPECT_EQ(reports[0], "exception in shielded future");
}

} // namespace
