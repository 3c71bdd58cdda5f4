// wait / as_completed (docs/api.md, asyncio-semantics.md §9-10), ported from
// CPython's test_tasks.py.
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

// CPython: test_tasks.py::test_wait
TEST(Wait, AllCompletedByDefault) {
    event_loop loop;
    event a, b;
    auto body = [&]() -> task<> {
        auto ta = create_task(value_after(a, 1));
        auto tb = create_task(value_after(b, 2));
        std::vector<task_handle<int>> hs{ta, tb};
        auto waiter = create_task(wait(hs));
        co_await ticks(1);
        a.set();
        co_await ticks(2);
        EXPECT_FALSE(waiter.done());
        b.set();
        wait_result<int> r = co_await waiter;
        EXPECT_EQ(r.done.size(), 2u);
        EXPECT_TRUE(r.pending.empty());
        // Again on finished tasks: at once.
        wait_result<int> again = co_await wait(hs);
        EXPECT_EQ(again.done.size(), 2u);
    };
    loop.run_until_complete(body());
}

// CPython: test_tasks.py::test_wait_first_completed
TEST(Wait, FirstCompletedLeavesOthersRunning) {
    event_loop loop;
    event a, b;
    auto body = [&]() -> task<> {
        auto ta = create_task(value_after(a, 1));
        auto tb = create_task(value_after(b, 2));
        std::vector<task_handle<int>> hs{ta, tb};
        auto waiter = create_task(wait(hs, return_when::first_completed));
        co_await ticks(1);
        b.set();
        wait_result<int> r = co_await waiter;
        EXPECT_EQ(r.done.size(), 1u);
        if (r.done.size() != 1u) co_return;
        EXPECT_TRUE(r.done[0] == tb);
        EXPECT_EQ(r.pending.size(), 1u);
        if (r.pending.size() != 1u) co_return;
        EXPECT_TRUE(r.pending[0] == ta);
        EXPECT_FALSE(ta.done()); // not cancelled
        a.set();
        EXPECT_EQ(co_await ta, 1);
    };
    loop.run_until_complete(body());
}

// CPython: test_tasks.py::test_wait_first_exception, test_wait_first_exception_in_wait
TEST(Wait, FirstExceptionReturnsOnFailure) {
    event_loop loop;
    event a, b;
    auto body = [&]() -> task<> {
        auto ok = create_task(value_after(a, 1));
        auto bad = create_task(fail_after(b, "failed"));
        std::vector<task_handle<int>> hs{ok, bad};
        auto waiter = create_task(wait(hs, return_when::first_exception));
        co_await ticks(1);
        b.set();
        wait_result<int> r = co_await waiter;
        EXPECT_EQ(r.done.size(), 1u);
        if (r.done.size() != 1u) co_return;
        EXPECT_TRUE(r.done[0] == bad);
        EXPECT_EQ(r.pending.size(), 1u);
        // Already failed: returns at once.
        wait_result<int> again = co_await wait(hs, return_when::first_exception);
        EXPECT_EQ(again.done.size(), 1u);
        a.set();
        co_await ok;
        EXPECT_THROW(bad.result(), std::runtime_error);
    };
    loop.run_until_complete(body());
}

// CPython: test_tasks.py::test_wait_with_exception (no failure: like all_completed)
TEST(Wait, FirstExceptionWithoutFailureWaitsForAll) {
    event_loop loop;
    event a, b;
    auto body = [&]() -> task<> {
        std::vector<task_handle<int>> hs{create_task(value_after(a, 1)), create_task(value_after(b, 2))};
        auto waiter = create_task(wait(hs, return_when::first_exception));
        co_await ticks(1);
        a.set();
        co_await ticks(2);
        EXPECT_FALSE(waiter.done());
        b.set();
        wait_result<int> r = co_await waiter;
        EXPECT_EQ(r.done.size(), 2u);
    };
    loop.run_until_complete(body());
}

// CPython: test_tasks.py::test_wait_with_timeout
TEST(Wait, TimeoutReturnsPendingWithoutCancelling) {
    event_loop loop;
    event never;
    auto body = [&]() -> task<> {
        auto t = create_task(value_after(never, 1));
        std::vector<task_handle<int>> hs{t};
        wait_result<int> r = co_await wait(hs, return_when::all_completed, 1ms);
        EXPECT_TRUE(r.done.empty());
        EXPECT_EQ(r.pending.size(), 1u);
        if (r.pending.size() != 1u) co_return;
        EXPECT_FALSE(t.done());
        EXPECT_FALSE(t.cancelled());
        std::optional<std::chrono::nanoseconds> none;
        never.set();
        wait_result<int> r2 = co_await wait(hs, return_when::all_completed, none);
        EXPECT_EQ(r2.done.size(), 1u);
    };
    loop.run_until_complete(body());
}

// CPython: test_tasks.py::test_wait_duplicate_coroutines
TEST(Wait, DuplicatesCollapse) {
    event_loop loop;
    event go;
    go.set();
    auto body = [&]() -> task<> {
        auto t = create_task(value_after(go, 1));
        std::vector<task_handle<int>> hs{t, t, t};
        wait_result<int> r = co_await wait(hs);
        EXPECT_EQ(r.done.size(), 1u);
    };
    loop.run_until_complete(body());
}

// CPython: test_tasks.py::test_wait_errors
TEST(Wait, EmptyInputThrowsInvalidArgument) {
    event_loop loop;
    auto body = [&]() -> task<> {
        std::vector<task_handle<int>> none;
        co_await wait(none);
    };
    EXPECT_THROW(loop.run_until_complete(body()), std::invalid_argument);
}

// CPython: test_tasks.py::test_yield_wait_does_not_shield_cancel
TEST(Wait, CancellingTheWaiterLeavesTheTasksRunning) {
    event_loop loop;
    event go;
    auto body = [&]() -> task<> {
        auto t = create_task(value_after(go, 1));
        std::vector<task_handle<int>> hs{t};
        auto waiter = create_task(wait(hs));
        co_await ticks(1);
        waiter.cancel();
        co_await ticks(1);
        EXPECT_TRUE(waiter.cancelled());
        EXPECT_FALSE(t.done());
        go.set();
        EXPECT_EQ(co_await t, 1);
    };
    loop.run_until_complete(body());
}

// CPython: test_tasks.py::test_as_completed
TEST(AsCompleted, YieldsInFinishingOrder) {
    event_loop loop;
    event a, b, c;
    auto body = [&]() -> task<> {
        std::vector<task_handle<int>> hs{create_task(value_after(a, 1)), create_task(value_after(b, 2)),
                                         create_task(value_after(c, 3))};
        loop.call_soon([&] { b.set(); });
        loop.call_later(1ms, [&] {
            c.set();
            a.set();
        });
        std::vector<int> got;
        for (auto&& next : as_completed(hs)) got.push_back(co_await next);
        EXPECT_EQ(got, (std::vector<int>{2, 3, 1}));
    };
    loop.run_until_complete(body());
}

// CPython: test_tasks.py::test_as_completed_reverse_wait
TEST(AsCompleted, IthAwaitedYieldsIthCompletion) {
    event_loop loop;
    event a, b;
    auto body = [&]() -> task<> {
        std::vector<task_handle<int>> hs{create_task(value_after(a, 1)), create_task(value_after(b, 2))};
        auto range = as_completed(hs);
        auto it = range.begin();
        auto first = *it;
        ++it;
        auto second = *it;
        ++it;
        EXPECT_TRUE(it == range.end());
        b.set();
        EXPECT_EQ(co_await second, 2); // awaited first: the first to finish
        a.set();
        EXPECT_EQ(co_await first, 1);
    };
    loop.run_until_complete(body());
}

// CPython: test_tasks.py::test_as_completed_concurrent
TEST(AsCompleted, AwaitablesCanBeAwaitedConcurrently) {
    event_loop loop;
    event a, b;
    auto body = [&]() -> task<> {
        std::vector<task_handle<int>> hs{create_task(value_after(a, 1)), create_task(value_after(b, 2))};
        auto range = as_completed(hs);
        auto it = range.begin();
        auto n1 = *it++;
        auto n2 = *it++;
        auto await_one = [](decltype(n1)& n) -> task<int> { co_return co_await n; };
        auto w1 = create_task(await_one(n1));
        auto w2 = create_task(await_one(n2));
        co_await ticks(1);
        a.set();
        co_await ticks(2);
        EXPECT_TRUE(w1.done());
        EXPECT_FALSE(w2.done());
        b.set();
        EXPECT_EQ(co_await w1, 1);
        EXPECT_EQ(co_await w2, 2);
    };
    loop.run_until_complete(body());
}

TEST(AsCompleted, ExceptionsAndDuplicates) {
    event_loop loop;
    event go;
    auto body = [&]() -> task<> {
        auto bad = create_task(fail_after(go, "failed"));
        std::vector<task_handle<int>> hs{bad, bad};
        auto range = as_completed(hs);
        EXPECT_EQ(range.size(), 1u); // duplicates collapse
        go.set();
        int failures = 0;
        for (auto&& next : range) {
            try {
                co_await next;
            } catch (const std::runtime_error&) {
                ++failures;
            }
        }
        EXPECT_EQ(failures, 1);
    };
    loop.run_until_complete(body());
}

} // namespace
