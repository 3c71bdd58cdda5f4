// Eager tasks: create_task(t, task_options{.eager_start}) and
// event_loop::set_eager_tasks (asyncio 3.12's eager_task_factory, 3.14's
// eager_start). CPython: test_eager_task_factory.py.
#include <gtest/gtest.h>
#include <uvasync/uvasync.hpp>

#include <chrono>
#include <string>

namespace {

namespace ua = uvasync;
using namespace std::chrono_literals;

ua::task_options eager() {
    ua::task_options o;
    o.eager_start = true;
    return o;
}

ua::task<std::string> hello() { co_return "hello"; }

ua::task<std::string> finishes_after_blocking() {
    co_await ua::sleep(1ms);
    co_return "finished after blocking";
}

// CPython: test_eager_task_factory.py::test_eager_completion
TEST(EagerTasks, ATaskThatFinishesWithoutSuspendingIsDoneWhenCreateTaskReturns) {
    ua::event_loop loop;
    auto run = [&]() -> ua::task<std::string> {
        ua::task_handle<std::string> t = ua::create_task(hello(), eager());
        EXPECT_TRUE(t.done());
        co_return co_await t;
    };
    EXPECT_EQ(loop.run_until_complete(run()), "hello");
}

// CPython: test_eager_task_factory.py::test_block_after_eager_step
TEST(EagerTasks, ATaskThatSuspendsGoesOnThroughNormalScheduling) {
    ua::event_loop loop;
    auto run = [&]() -> ua::task<std::string> {
        ua::task_handle<std::string> t = ua::create_task(finishes_after_blocking(), eager());
        EXPECT_FALSE(t.done());
        std::string r = co_await t;
        EXPECT_TRUE(t.done());
        co_return r;
    };
    EXPECT_EQ(loop.run_until_complete(run()), "finished after blocking");
}

// CPython: test_eager_task_factory.py::test_cancellation_after_eager_completion
TEST(EagerTasks, CancellingAnEagerlyCompletedTaskDoesNothing) {
    ua::event_loop loop;
    auto run = [&]() -> ua::task<std::string> {
        ua::task_handle<std::string> t = ua::create_task(hello(), eager());
        EXPECT_FALSE(t.cancel());
        std::string r = co_await t;
        EXPECT_FALSE(t.cancelled());
        co_return r;
    };
    EXPECT_EQ(loop.run_until_complete(run()), "hello");
}

// CPython: test_eager_task_factory.py::test_cancellation_after_eager_step_blocks
TEST(EagerTasks, CancellingAfterTheEagerStepBlockedIsDeliveredWithItsMessage) {
    ua::event_loop loop;
    auto run = [&]() -> ua::task<> {
        ua::task_handle<std::string> t = ua::create_task(finishes_after_blocking(), eager());
        t.cancel("cancellation message");
        EXPECT_GT(t.cancelling(), 0u);
        co_await t;
    };
    try {
        loop.run_until_complete(run());
        ADD_FAILURE() << "expected cancelled_error";
    } catch (const ua::cancelled_error& e) {
        EXPECT_EQ(e.message(), "cancellation message");
    }
}

// CPython: test_eager_task_factory.py::test_current_task, test_all_tasks_with_eager_completion
TEST(EagerTasks, DuringTheEagerStepCurrentTaskIsTheNewTaskAndAllTasksHasIt) {
    ua::event_loop loop;
    std::optional<ua::task_handle<>> seen;
    bool listed = false;
    auto coro = [&]() -> ua::task<> {
        seen = ua::current_task();
        for (auto& t : ua::all_tasks()) listed = listed || t == *seen;
        co_return;
    };
    auto run = [&]() -> ua::task<> {
        const ua::task_handle<> me = *ua::current_task();
        ua::task_handle<> t = ua::create_task(coro(), eager());
        EXPECT_TRUE(seen.has_value());
        if (seen) EXPECT_EQ(*seen, t);
        EXPECT_TRUE(listed);
        EXPECT_EQ(*ua::current_task(), me); // back to the creator afterwards
        for (auto& other : ua::all_tasks()) EXPECT_FALSE(other == t); // done: no longer listed
        co_return;
    };
    loop.run_until_complete(run());
}

// CPython: test_eager_task_factory.py::test_current_task (before and after blocking)
TEST(EagerTasks, CurrentTaskIsTheSameBeforeAndAfterTheFirstSuspension) {
    ua::event_loop loop;
    auto coro = [&]() -> ua::task<> {
        const ua::task_handle<> first = *ua::current_task();
        co_await ua::sleep(0s);
        EXPECT_EQ(*ua::current_task(), first);
    };
    auto run = [&]() -> ua::task<> {
        ua::task_handle<> t = ua::create_task(coro(), eager());
        co_await t;
    };
    loop.run_until_complete(run());
}

// CPython: test_eager_task_factory.py::test_eager_start_false (the option
// overrides the loop's default, both ways)
TEST(EagerTasks, TheOptionOverridesTheLoopsDefault) {
    ua::event_loop loop;
    loop.set_eager_tasks(true);
    EXPECT_TRUE(loop.get_eager_tasks());
    auto run = [&]() -> ua::task<> {
        ua::task_options lazy;
        lazy.eager_start = false;
        lazy.name = "lazy";
        ua::task_handle<std::string> a = ua::create_task(hello(), lazy);
        EXPECT_FALSE(a.done());
        EXPECT_EQ(a.get_name(), "lazy");
        ua::task_handle<std::string> b = ua::create_task(hello()); // the loop's default: eager
        EXPECT_TRUE(b.done());
        EXPECT_EQ(co_await a, "hello");
    };
    loop.run_until_complete(run());
    ua::event_loop plain;
    auto run2 = [&]() -> ua::task<> {
        ua::task_handle<std::string> c = ua::create_task(hello()); // default: scheduled
        EXPECT_FALSE(c.done());
        ua::task_handle<std::string> d = ua::create_task(hello(), eager());
        EXPECT_TRUE(d.done());
        co_await c;
    };
    plain.run_until_complete(run2());
}

// Outside the running loop there is no eager step (asyncio: the factory
// takes one only while the loop runs).
TEST(EagerTasks, CreatedOutsideTheRunningLoopTheTaskIsScheduled) {
    ua::event_loop loop;
    loop.set_eager_tasks(true);
    ua::task_handle<std::string> t = loop.create_task(hello(), eager());
    EXPECT_FALSE(t.done());
    EXPECT_EQ(loop.run_until_complete(t), "hello");
}

ua::task<int> chain(int depth) {
    if (depth == 0) co_return 0;
    co_return 1 + co_await chain(depth - 1);
}

ua::task<> recursive_gather(int width, int depth, int& leaves) {
    if (depth == 0) {
        ++leaves;
        co_return;
    }
    std::vector<ua::task<>> children;
    for (int i = 0; i < width; ++i) children.push_back(recursive_gather(width, depth - 1, leaves));
    co_await ua::gather(std::move(children));
}

ua::task<> recursive_groups(int width, int depth, int& leaves) {
    if (depth == 0) {
        ++leaves;
        co_return;
    }
    auto body = [&](ua::task_group& tg) -> ua::task<> {
        for (int i = 0; i < width; ++i) tg.create_task(recursive_groups(width, depth - 1, leaves));
        co_return;
    };
    co_await ua::task_group::scope(body);
}

// CPython: test_eager_task_factory.py::test_awaitables_chain,
// test_recursive_gather, test_recursive_taskgroups: trees of tasks that never
// really suspend all finish inside their create_task (nothing is left to
// schedule: the loop runs one step for main).
TEST(EagerTasks, TreesOfTasksThatNeverSuspendFinishDuringCreation) {
    ua::event_loop loop;
    loop.set_eager_tasks(true);
    int leaves = 0, group_leaves = 0;
    auto run = [&]() -> ua::task<> {
        EXPECT_EQ(co_await chain(100), 100);
        ua::task_handle<> g = ua::create_task(recursive_gather(5, 4, leaves));
        EXPECT_TRUE(g.done());
        ua::task_handle<> tg = ua::create_task(recursive_groups(5, 4, group_leaves));
        EXPECT_TRUE(tg.done());
        co_await g;
        co_await tg;
    };
    loop.run_until_complete(run());
    EXPECT_EQ(leaves, 625);
    EXPECT_EQ(group_leaves, 625);
}

ua::task<> fails_at_once() {
    throw std::runtime_error("boom");
    co_return;
}

// asyncio-semantics §1.18 (test_taskgroups.py::test_cancels_task_if_created_during_creation):
// a child that fails during its eager step still cancels the creator at its next await.
TEST(EagerTasks, AGroupChildFailingDuringItsEagerStepStillCancelsTheBody) {
    ua::event_loop loop;
    loop.set_eager_tasks(true);
    bool body_reached_end = false;
    auto run = [&]() -> ua::task<> {
        auto body = [&](ua::task_group& tg) -> ua::task<> {
            tg.create_task(fails_at_once());
            co_await ua::sleep(1h); // cancelled here
            body_reached_end = true;
        };
        try {
            co_await ua::task_group::scope(body);
            ADD_FAILURE() << "expected exception_group";
        } catch (const ua::exception_group& eg) {
            EXPECT_TRUE(eg.contains<std::runtime_error>());
        }
        EXPECT_EQ(ua::current_task()->cancelling(), 0u);
    };
    loop.run_until_complete(run());
    EXPECT_FALSE(body_reached_end);
}

} // namespace
