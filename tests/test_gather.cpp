// gather / gather_settled (docs/api.md, asyncio-semantics.md §7), ported from
// CPython's test_tasks.py gather tests.
#include "coro_test_util.hpp"

#include <gtest/gtest.h>
#include <uvasync/uvasync.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

using namespace uvasync;
using namespace coro_test_util;
using namespace std::chrono_literals;

namespace {

task<> nothing() { co_return; }

// CPython: test_tasks.py::GatherTestsBase::test_success (results in argument order)
TEST(Gather, ResultsInArgumentOrderWhateverTheFinishingOrder) {
    event_loop loop;
    event a, b, c;
    auto body = [&]() -> task<> {
        auto g = create_task(gather(value_after(a, 1), value_after(b, 2), nothing(), value_after(c, 3)));
        co_await ticks(1);
        b.set();
        co_await ticks(1);
        a.set();
        c.set();
        auto [x, y, z, w] = co_await g;
        EXPECT_EQ(x, 1);
        EXPECT_EQ(y, 2);
        EXPECT_EQ(z, std::monostate{});
        EXPECT_EQ(w, 3);
    };
    loop.run_until_complete(body());
}

TEST(Gather, AwaitsHandlesAndVectors) {
    event_loop loop;
    event go;
    auto body = [&]() -> task<> {
        auto h1 = create_task(value_after(go, 10));
        auto h2 = create_task(value_after(go, 20));
        go.set();
        auto [a, b, a2] = co_await gather(h1, h2, h1); // a handle twice: awaited twice
        EXPECT_EQ(a + b + a2, 40);

        std::vector<task<int>> tasks;
        for (int i = 0; i < 5; ++i) tasks.push_back(value_after(go, i));
        std::vector<int> all = co_await gather(std::move(tasks));
        EXPECT_EQ(all, (std::vector<int>{0, 1, 2, 3, 4}));

        std::vector<task_handle<int>> handles{h2, h1};
        std::vector<int> again = co_await gather(handles);
        EXPECT_EQ(again, (std::vector<int>{20, 10}));
    };
    loop.run_until_complete(body());
}

// CPython: test_tasks.py::GatherTestsBase::test_constructor_empty_sequence_without_loop
// (with a running loop, an empty gather is resolved at once)
TEST(Gather, EmptyVectorGivesEmptyResultAtOnce) {
    event_loop loop;
    auto body = [&]() -> task<> {
        std::vector<task<int>> none;
        std::vector<int> r = co_await gather(std::move(none));
        EXPECT_TRUE(r.empty());
        std::vector<task_handle<int>> no_handles;
        auto s = co_await gather_settled(std::move(no_handles));
        EXPECT_TRUE(s.empty());
    };
    loop.run_until_complete(body());
}

// CPython: test_tasks.py::GatherTestsBase::test_one_exception
TEST(Gather, FirstErrorPropagatesAtOnceWhileSiblingsKeepRunning) {
    event_loop loop;
    event fail_now, finish_rest;
    bool sibling_finished = false;
    auto body = [&]() -> task<> {
        auto sibling = [&]() -> task<int> {
            co_await finish_rest.wait();
            sibling_finished = true;
            co_return 5;
        };
        auto s = create_task(sibling());
        auto g = create_task(gather(fail_after(fail_now, "boom"), task_handle<int>(s)));
        co_await ticks(1);
        fail_now.set();
        std::string error;
        try {
            co_await g;
        } catch (const std::runtime_error& e) {
            error = e.what();
        }
        EXPECT_EQ(error, "boom");
        EXPECT_FALSE(s.done()); // not cancelled, still running
        EXPECT_FALSE(sibling_finished);
        finish_rest.set();
        EXPECT_EQ(co_await s, 5);
        EXPECT_TRUE(sibling_finished);
    };
    loop.run_until_complete(body());
}

// CPython: test_tasks.py::GatherTestsBase::test_return_exceptions
TEST(Gather, SettledKeepsEveryOutcomeInOrder) {
    event_loop loop;
    event go;
    auto body = [&]() -> task<> {
        auto cancelled_child = create_task(value_after(go, 0));
        auto g = create_task(gather_settled(value_after(go, 1), fail_after(go, "bad"), nothing(),
                                            task_handle<int>(cancelled_child)));
        co_await ticks(1);
        cancelled_child.cancel("stop");
        go.set();
        auto [a, b, c, d] = co_await g;
        EXPECT_TRUE(a.has_value());
        EXPECT_EQ(a.value(), 1);
        EXPECT_FALSE(b.has_value());
        EXPECT_THROW(b.value(), std::runtime_error);
        EXPECT_TRUE(b.error() != nullptr);
        EXPECT_TRUE(c.has_value());
        EXPECT_FALSE(d.has_value());
        std::string message;
        try {
            std::rethrow_exception(d.error());
        } catch (const cancelled_error& e) {
            message = e.message();
        }
        EXPECT_EQ(message, "stop");

        std::vector<task<int>> tasks;
        tasks.push_back(value_after(go, 7));
        tasks.push_back(fail_after(go, "x"));
        auto v = co_await gather_settled(std::move(tasks));
        EXPECT_EQ(v.size(), 2u);
        if (v.size() != 2u) co_return;
        EXPECT_EQ(v[0].value(), 7);
        EXPECT_FALSE(v[1].has_value());
    };
    loop.run_until_complete(body());
}

// CPython: test_tasks.py::GatherTestsBase::test_one_cancellation
TEST(Gather, CancelledChildEndsTheGatherWithCancelledError) {
    event_loop loop;
    event never;
    auto body = [&]() -> task<> {
        auto a = create_task(value_after(never, 1));
        auto b = create_task(value_after(never, 2));
        auto g = create_task(gather(a, b));
        co_await ticks(1);
        a.cancel("child");
        std::string message;
        try {
            co_await g;
        } catch (const cancelled_error& e) {
            message = e.message();
        }
        EXPECT_EQ(message, "child");
        EXPECT_FALSE(b.done());
        b.cancel();
    };
    loop.run_until_complete(body());
}

// CPython: test_tasks.py::CoroutineGatherTests::test_cancellation_broadcast
TEST(Gather, CancellingTheAwaiterCancelsEveryChild) {
    event_loop loop;
    event never;
    bool after_await = false;
    auto body = [&]() -> task<> {
        auto a = create_task(value_after(never, 1));
        auto b = create_task(value_after(never, 2));
        auto outer = [&]() -> task<> {
            co_await gather(a, b, value_after(never, 3));
            after_await = true;
        };
        auto o = create_task(outer());
        co_await ticks(1);
        EXPECT_TRUE(o.cancel());
        co_await ticks(3);
        EXPECT_TRUE(o.cancelled());
        EXPECT_TRUE(a.cancelled());
        EXPECT_TRUE(b.cancelled());
        EXPECT_FALSE(o.cancel()); // done: refused
    };
    loop.run_until_complete(body());
    EXPECT_FALSE(after_await);
}

// CPython: test_tasks.py::CoroutineGatherTests::test_cancellation_broadcast (settled form)
TEST(Gather, CancellingASettledGatherCancelsEveryChild) {
    event_loop loop;
    event never;
    auto body = [&]() -> task<> {
        auto a = create_task(value_after(never, 1));
        auto b = create_task(value_after(never, 2));
        auto g = create_task(gather_settled(a, b));
        co_await ticks(1);
        g.cancel();
        bool cancelled = false;
        try {
            co_await g;
        } catch (const cancelled_error&) {
            cancelled = true;
        }
        EXPECT_TRUE(cancelled);
        EXPECT_TRUE(a.cancelled());
        EXPECT_TRUE(b.cancelled());
    };
    loop.run_until_complete(body());
}

// CPython: test_tasks.py::GatherTestsBase::test_exception_marking
TEST(Gather, LaterFailuresAreMarkedRetrieved) {
    event_loop loop;
    int reports = 0;
    loop.set_exception_handler([&](event_loop&, const exception_context&) { ++reports; });
    event first, second;
    auto body = [&]() -> task<> {
        auto g = create_task(gather(fail_after(first, "one"), fail_after(second, "two")));
        co_await ticks(1);
        first.set();
        bool threw = false;
        try {
            co_await g;
        } catch (const std::runtime_error&) {
            threw = true;
        }
        EXPECT_TRUE(threw);
        second.set();
        co_await ticks(3);
    };
    loop.run_until_complete(body());
    loop.close();
    EXPECT_EQ(reports, 0);
}

// CPython: test_tasks.py::test_cancel_gather_2 (the child's message reaches the awaiter)
TEST(Gather, InnerCancelMessagePropagates) {
    event_loop loop;
    event never;
    auto body = [&]() -> task<> {
        auto outer = [&]() -> task<> { co_await gather(value_after(never, 1)); };
        auto o = create_task(outer());
        co_await ticks(1);
        o.cancel("my message");
        std::string message;
        try {
            co_await o;
        } catch (const cancelled_error& e) {
            message = e.message();
        }
        EXPECT_EQ(message, "my message");
    };
    loop.run_until_complete(body());
}

TEST(Gather, TenThousandSleepingChildren) {
    event_loop loop;
    auto child = [](int i) -> task<int> {
        co_await sleep(1ms);
        co_return i;
    };
    auto body = [&]() -> task<long> {
        std::vector<task<int>> tasks;
        for (int i = 0; i < 10000; ++i) tasks.push_back(child(i));
        std::vector<int> r = co_await gather(std::move(tasks));
        long sum = 0;
        for (int v : r) sum += v;
        co_return sum;
    };
    EXPECT_EQ(loop.run_until_complete(body()), 49995000L);
}

} // namespace
