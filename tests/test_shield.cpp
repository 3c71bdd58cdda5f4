// shield (docs/api.md, asyncio-semantics.md §8), ported from CPython's
// test_tasks.py shield tests.
#include "coro_test_util.hpp"

#include <gtest/gtest.h>
#include <uvasync/uvasync.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

using namespace uvasync;
using namespace coro_test_util;
using namespace std::chrono_literals;

namespace {

// CPython: test_tasks.py::test_shield_result, test_shield_exception, test_shield_shortcut
TEST(Shield, PassesResultAndException) {
    event_loop loop;
    event go;
    auto body = [&]() -> task<> {
        auto ok = create_task(value_after(go, 42));
        auto bad = create_task(fail_after(go, "inner failed"));
        go.set();
        EXPECT_EQ(co_await shield(ok), 42);
        EXPECT_EQ(co_await shield(ok), 42); // done already: at once
        bool threw = false;
        try {
            co_await shield(bad);
        } catch (const std::runtime_error&) {
            threw = true;
        }
        EXPECT_TRUE(threw);
        EXPECT_EQ(co_await shield(value_after(go, 7)), 7); // a coroutine is scheduled first
    };
    loop.run_until_complete(body());
}

// CPython: test_tasks.py::test_shield_cancel_inner
TEST(Shield, CancellingTheInnerCancelsTheWaiter) {
    event_loop loop;
    event never;
    auto body = [&]() -> task<> {
        auto inner = create_task(value_after(never, 1));
        auto outer = create_task(shield(inner));
        co_await ticks(1);
        inner.cancel();
        bool cancelled = false;
        try {
            co_await outer;
        } catch (const cancelled_error&) {
            cancelled = true;
        }
        EXPECT_TRUE(cancelled);
    };
    loop.run_until_complete(body());
}

// CPython: test_tasks.py::test_shield_effect, test_shield_cancel_outer
TEST(Shield, CancellingTheWaiterLeavesTheInnerRunning) {
    event_loop loop;
    event go;
    auto body = [&]() -> task<> {
        auto inner = create_task(value_after(go, 5));
        auto waiter = [&]() -> task<int> { co_return co_await shield(inner); };
        auto outer = create_task(waiter());
        co_await ticks(1);
        outer.cancel();
        co_await ticks(1);
        EXPECT_TRUE(outer.cancelled()); // at once, without waiting for the inner
        EXPECT_FALSE(inner.done());
        EXPECT_FALSE(inner.cancelled());
        go.set();
        EXPECT_EQ(co_await inner, 5);
    };
    loop.run_until_complete(body());
}

// CPython: test_tasks.py::test_shield_cancel_outer_result,
// test_shield_cancel_outer_exception, test_shield_duplicate_log_once
TEST(Shield, InnerFailureAfterWaiterCancelledIsReportedOnce) {
    event_loop loop;
    std::vector<std::string> reports;
    loop.set_exception_handler([&](event_loop&, const exception_context& ctx) { reports.push_back(ctx.message); });
    event go_ok, go_bad;
    auto body = [&]() -> task<> {
        auto ok = create_task(value_after(go_ok, 1));
        auto bad = create_task(fail_after(go_bad, "inner failed"));
        auto w1 = create_task(shield(ok));
        auto w2 = create_task(shield(bad));
        auto w3 = create_task(shield(bad)); // shielded twice: still one report
        co_await ticks(1);
        w1.cancel();
        w2.cancel();
        w3.cancel();
        co_await ticks(1);
        go_ok.set();
        go_bad.set();
        co_await ticks(4);
        EXPECT_TRUE(w1.cancelled() && w2.cancelled() && w3.cancelled());
    };
    loop.run_until_complete(body());
    loop.close();
    ASSERT_EQ(reports.size(), 1u); // the result is dropped silently, the failure reported once
    EXPECT_EQ(reports[0], "exception in shielded task");
}

// CPython: test_tasks.py::test_shield_gather, test_gather_shield
TEST(Shield, ShieldAndGatherCompose) {
    event_loop loop;
    event go;
    auto body = [&]() -> task<> {
        auto a = create_task(value_after(go, 1));
        auto b = create_task(value_after(go, 2));
        // gather(shield(a), shield(b)): cancelling the gather cancels the shields, not a and b
        auto g = create_task(gather(shield(a), shield(b)));
        co_await ticks(1);
        g.cancel();
        co_await ticks(2);
        EXPECT_TRUE(g.done());
        EXPECT_FALSE(a.done());
        EXPECT_FALSE(b.done());
        // shield(gather(...)): cancelling the shield does not cancel the gather
        auto inner = create_task(gather(a, b));
        auto s = create_task(shield(inner));
        co_await ticks(1);
        s.cancel();
        co_await ticks(1);
        EXPECT_TRUE(s.cancelled());
        EXPECT_FALSE(inner.done());
        go.set();
        auto [x, y] = co_await inner;
        EXPECT_EQ(x + y, 3);
    };
    loop.run_until_complete(body());
}

} // namespace
