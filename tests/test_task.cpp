// task<T> and task_handle<T> (docs/api.md): lazy coroutines awaited inline,
// scheduled tasks and every method of their handles, create_task,
// current_task, all_tasks, get_running_loop.
#include <gtest/gtest.h>
#include <uvasync/uvasync.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

using namespace uvasync;
using namespace std::chrono_literals;

namespace {

// ---- lazy tasks: values, exceptions, inline awaits -------------------------

task<int> leaf_value(int x) { co_return x * 2; }

task<int> middle_value(int x) {
    int v = co_await leaf_value(x);
    co_return v + 1;
}

task<int> top_value(int x) {
    int v = co_await middle_value(x);
    co_return v * 10;
}

TEST(Task, ValuePropagatesThroughAwaitChain) {
    event_loop loop;
    EXPECT_EQ(loop.run_until_complete(top_value(4)), 90); // ((4*2)+1)*10
}

task<int> leaf_throws() {
    throw std::runtime_error("leaf failed");
    co_return 0;
}

task<int> middle_passes_on() {
    int v = co_await leaf_throws();
    ADD_FAILURE() << "code after a throwing await ran";
    co_return v;
}

task<std::string> top_catches() {
    try {
        co_await middle_passes_on();
    } catch (const std::runtime_error& e) {
        co_return std::string("caught: ") + e.what();
    }
    co_return "not thrown";
}

TEST(Task, ExceptionPropagatesThroughAwaitChain) {
    event_loop loop;
    EXPECT_EQ(loop.run_until_complete(top_catches()), "caught: leaf failed");
}

TEST(Task, RunUntilCompleteRethrowsTheChainsException) {
    event_loop loop;
    EXPECT_THROW(loop.run_until_complete(middle_passes_on()), std::runtime_error);
}

task<int> awaits_nested_lazy() {
    int a = co_await leaf_value(1);
    int b = co_await middle_value(2);
    co_return a + b;
}

task<> inline_await_checks(event_loop& loop, std::vector<std::string>& log) {
    loop.call_soon([&log] { log.push_back("call_soon"); });
    int v = co_await awaits_nested_lazy();
    log.push_back("awaited " + std::to_string(v));
    co_await sleep(0s);
    log.push_back("after sleep(0)");
}

// co_await of a lazy task is a plain call: no trip through the loop, so a
// call_soon queued before it has not run when it returns.
TEST(Task, AwaitingALazyTaskRunsInlineWithoutALoopHop) {
    event_loop loop;
    std::vector<std::string> log;
    loop.run_until_complete(inline_await_checks(loop, log));
    EXPECT_EQ(log, (std::vector<std::string>{"awaited 7", "call_soon", "after sleep(0)"}));
}

task<> records_start(bool& started) {
    started = true;
    co_return;
}

TEST(Task, ATaskIsLazyItsBodyRunsOnlyWhenAwaitedOrScheduled) {
    bool started = false;
    {
        task<> t = records_start(started);
        EXPECT_TRUE(t.valid());
        EXPECT_FALSE(started);
        task<> moved = std::move(t);
        EXPECT_FALSE(t.valid());
        EXPECT_TRUE(moved.valid());
    } // destroyed without ever running: the frame is freed (ASan checks)
    EXPECT_FALSE(started);

    event_loop loop;
    loop.run_until_complete(records_start(started));
    EXPECT_TRUE(started);
}

task<std::unique_ptr<int>> make_unique_int(int v) { co_return std::make_unique<int>(v); }

task<int> awaits_move_only() {
    std::unique_ptr<int> p = co_await make_unique_int(5);
    task_handle<std::unique_ptr<int>> h = create_task(make_unique_int(6));
    std::unique_ptr<int> q = co_await h;
    co_return *p + *q;
}

TEST(Task, MoveOnlyResults) {
    event_loop loop;
    EXPECT_EQ(loop.run_until_complete(awaits_move_only()), 11);
    std::unique_ptr<int> direct = loop.run_until_complete(make_unique_int(7));
    ASSERT_TRUE(direct);
    EXPECT_EQ(*direct, 7);
}

task<> set_flag(bool& flag) {
    co_await sleep(0s);
    flag = true;
}

task<> void_throws() {
    co_await sleep(0s);
    throw std::logic_error("void task failed");
}

task<bool> awaits_void_tasks(bool& flag) {
    co_await set_flag(flag);
    try {
        co_await void_throws();
    } catch (const std::logic_error&) {
        co_return true;
    }
    co_return false;
}

TEST(Task, VoidTasks) {
    event_loop loop;
    bool flag = false;
    EXPECT_TRUE(loop.run_until_complete(awaits_void_tasks(flag)));
    EXPECT_TRUE(flag);
    EXPECT_THROW(loop.run_until_complete(void_throws()), std::logic_error);
}

// ---- deep chains: symmetric transfer keeps the stack flat ------------------

task<int> depth(int n) {
    if (n == 0) co_return 0;
    co_return 1 + co_await depth(n - 1);
}

task<int> depth_throwing(int n) {
    if (n == 0) throw std::runtime_error("bottom");
    co_return 1 + co_await depth_throwing(n - 1);
}

TEST(Task, HundredThousandDeepAwaitChainDoesNotOverflowTheStack) {
    event_loop loop;
    EXPECT_EQ(loop.run_until_complete(depth(100'000)), 100'000);
}

TEST(Task, ExceptionPropagatesUpAHundredThousandLevels) {
    event_loop loop;
    try {
        loop.run_until_complete(depth_throwing(100'000));
        ADD_FAILURE() << "no exception";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "bottom");
    }
}

// ---- task_handle ------------------------------------------------------------

task<int> ticks_then_returns(int ticks, int value) {
    for (int i = 0; i < ticks; ++i) co_await sleep(0s);
    co_return value;
}

task<int> ticks_then_throws(int ticks) {
    for (int i = 0; i < ticks; ++i) co_await sleep(0s);
    throw std::runtime_error("task failed");
}

task<> forever() { co_await sleep(1h); }

task<> handle_states() {
    task_handle<int> ok = create_task(ticks_then_returns(1, 42));
    task_handle<int> bad = create_task(ticks_then_throws(1));
    task_handle<> cancelled = create_task(forever());
    EXPECT_TRUE(ok.valid());
    EXPECT_FALSE(ok.done());
    EXPECT_FALSE(ok.cancelled());
    EXPECT_THROW((void)ok.result(), invalid_state_error);
    EXPECT_THROW((void)ok.exception(), invalid_state_error);

    co_await sleep(0s); // every task starts and parks
    EXPECT_TRUE(cancelled.cancel("stop now"));
    co_await sleep(0s);
    co_await sleep(0s);

    EXPECT_TRUE(ok.done());
    EXPECT_FALSE(ok.cancelled());
    EXPECT_EQ(ok.result(), 42);
    EXPECT_EQ(ok.exception(), nullptr);

    EXPECT_TRUE(bad.done());
    EXPECT_FALSE(bad.cancelled());
    EXPECT_THROW((void)bad.result(), std::runtime_error);
    std::exception_ptr e = bad.exception();
    EXPECT_TRUE(e);
    if (e) {
        EXPECT_THROW(std::rethrow_exception(e), std::runtime_error);
    }

    EXPECT_TRUE(cancelled.done());
    EXPECT_TRUE(cancelled.cancelled());
    try {
        cancelled.result();
        ADD_FAILURE() << "result() of a cancelled task did not throw";
    } catch (const cancelled_error& c) {
        EXPECT_EQ(c.message(), "stop now");
    }
    try {
        (void)cancelled.exception();
        ADD_FAILURE() << "exception() of a cancelled task did not throw";
    } catch (const cancelled_error& c) {
        EXPECT_EQ(c.message(), "stop now");
    }
}

// CPython: test_tasks.py::test_task_basics / test_exception_*
TEST(TaskHandle, DoneCancelledResultAndExceptionInEveryState) {
    event_loop loop;
    loop.run_until_complete(handle_states());
}

task<> done_callback_runs_via_loop(std::vector<std::string>& log) {
    task_handle<int> h = create_task(ticks_then_returns(0, 9));
    int calls = 0;
    h.add_done_callback([&log, &calls, h](task_handle<int>& done) {
        ++calls;
        EXPECT_TRUE(done == h);
        EXPECT_TRUE(done.done());
        log.push_back("callback " + std::to_string(done.result()));
    });
    int v = co_await h;
    log.push_back("awaiter " + std::to_string(v));
    EXPECT_EQ(calls, 0); // scheduled through the loop, not called inline
    for (int i = 0; i < 3; ++i) co_await sleep(0s);
    EXPECT_EQ(calls, 1);

    // Added once the task is done: still called through the loop, once.
    int late_calls = 0;
    h.add_done_callback([&late_calls](task_handle<int>& done) {
        EXPECT_EQ(done.result(), 9);
        ++late_calls;
    });
    EXPECT_EQ(late_calls, 0);
    for (int i = 0; i < 3; ++i) co_await sleep(0s);
    EXPECT_EQ(late_calls, 1);
}

// CPython: test_futures.py::test_callbacks_invoked_on_set_result
TEST(TaskHandle, AddDoneCallbackRunsThroughTheLoopOnceWithTheHandle) {
    event_loop loop;
    std::vector<std::string> log;
    loop.run_until_complete(done_callback_runs_via_loop(log));
    EXPECT_EQ(log, (std::vector<std::string>{"awaiter 9", "callback 9"}));
}

task<> remove_callback_checks() {
    task_handle<int> h = create_task(ticks_then_returns(1, 1));
    int removed_calls = 0, kept_calls = 0;
    std::size_t removed = h.add_done_callback([&removed_calls](task_handle<int>&) { ++removed_calls; });
    h.add_done_callback([&kept_calls](task_handle<int>&) { ++kept_calls; });
    EXPECT_EQ(h.remove_done_callback(removed), 1u);
    EXPECT_EQ(h.remove_done_callback(removed), 0u);
    co_await h;
    for (int i = 0; i < 3; ++i) co_await sleep(0s);
    EXPECT_EQ(removed_calls, 0);
    EXPECT_EQ(kept_calls, 1);
}

// CPython: test_futures.py::test_remove_done_callback
TEST(TaskHandle, RemoveDoneCallback) {
    event_loop loop;
    loop.run_until_complete(remove_callback_checks());
}

task<> name_checks() {
    task_handle<int> a = create_task(ticks_then_returns(0, 0));
    task_handle<int> b = create_task(ticks_then_returns(0, 0));
    task_handle<int> named = create_task(ticks_then_returns(0, 0), "worker");
    const std::regex pattern("Task-[0-9]+");
    EXPECT_TRUE(std::regex_match(a.get_name(), pattern)) << a.get_name();
    EXPECT_TRUE(std::regex_match(b.get_name(), pattern)) << b.get_name();
    EXPECT_NE(a.get_name(), b.get_name());
    EXPECT_EQ(named.get_name(), "worker");
    a.set_name("renamed");
    EXPECT_EQ(a.get_name(), "renamed");
    task_handle<> erased = b; // the type-erased handle sees the same task
    erased.set_name("via erased");
    EXPECT_EQ(b.get_name(), "via erased");
    co_await a;
    co_await b;
    co_await named;
    EXPECT_EQ(a.get_name(), "renamed"); // names outlive the task's run
}

// CPython: test_tasks.py::test_task_set_name_pylong / test_task_repr_autogenerated
TEST(TaskHandle, DefaultNamesAreTaskNAndSetNameRenames) {
    event_loop loop;
    loop.run_until_complete(name_checks());
}

task<std::string> greet_after(int ticks) {
    for (int i = 0; i < ticks; ++i) co_await sleep(0s);
    co_return "hello";
}

task<std::string> await_handle(task_handle<std::string> h) { co_return co_await h; }

task<> several_awaiters() {
    task_handle<std::string> shared = create_task(greet_after(2));
    task_handle<std::string> w1 = create_task(await_handle(shared));
    task_handle<std::string> w2 = create_task(await_handle(shared));
    task_handle<std::string> w3 = create_task(await_handle(shared));
    EXPECT_EQ(co_await w1, "hello");
    EXPECT_EQ(co_await w2, "hello");
    EXPECT_EQ(co_await w3, "hello");
    EXPECT_EQ(co_await shared, "hello"); // and once more, already done
}

TEST(TaskHandle, SeveralAwaitersOfOneHandleAllGetTheValue) {
    event_loop loop;
    loop.run_until_complete(several_awaiters());
}

task<> ticks_then_sets(int ticks, bool& flag) {
    for (int i = 0; i < ticks; ++i) co_await sleep(0s);
    flag = true;
}

task<> drops_handles(bool& kept_then_dropped, bool& never_kept) {
    {
        task_handle<> h = create_task(ticks_then_sets(3, kept_then_dropped));
    } // every handle gone
    (void)create_task(ticks_then_sets(1, never_kept)); // no handle kept at all
    for (int i = 0; i < 6; ++i) co_await sleep(0s);
}

TEST(TaskHandle, DroppingEveryHandleDoesNotStopTheTask) {
    event_loop loop;
    bool kept_then_dropped = false, never_kept = false;
    loop.run_until_complete(drops_handles(kept_then_dropped, never_kept));
    EXPECT_TRUE(kept_then_dropped);
    EXPECT_TRUE(never_kept);
}

task<std::string> awaits_itself(bool through_wait_for) {
    std::optional<task_handle<>> me = current_task();
    if (!me) co_return "no current task";
    try {
        if (through_wait_for) {
            task<> waited = wait_for(*me, 1h);
            co_await std::move(waited);
        } else {
            co_await *me;
        }
    } catch (const std::runtime_error& e) {
        co_return e.what();
    }
    co_return "awaited itself";
}

// CPython: test_tasks.py::test_task_awaits_on_itself ("Task cannot await on itself")
TEST(TaskHandle, ATaskAwaitingItselfGetsRuntimeErrorInsteadOfHanging) {
    event_loop loop;
    EXPECT_EQ(loop.run_until_complete(awaits_itself(false)), "a task cannot await itself");
    EXPECT_EQ(loop.run_until_complete(awaits_itself(true)), "a task cannot await itself");
}

// ---- create_task, current_task, all_tasks, get_running_loop -----------------

// CPython: test_tasks.py::test_create_task_with_noncoroutine / RuntimeError
// "no running event loop" from asyncio.create_task outside a loop.
TEST(CreateTask, OutsideARunningLoopThrowsRuntimeError) {
    try {
        (void)create_task(ticks_then_returns(0, 1));
        ADD_FAILURE() << "no exception";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("no running event loop"), std::string::npos) << e.what();
    }
    event_loop loop; // an existing but not running loop is not enough
    EXPECT_THROW((void)create_task(ticks_then_returns(0, 1)), std::runtime_error);
}

TEST(CreateTask, FromAPlainCallbackOfARunningLoop) {
    event_loop loop;
    std::optional<task_handle<int>> h;
    loop.call_soon([&h] { h = create_task(ticks_then_returns(1, 5)); });
    loop.call_later(0ms, [&loop] { loop.stop(); });
    loop.run_forever();
    ASSERT_TRUE(h.has_value());
    EXPECT_EQ(loop.run_until_complete(*h), 5);
}

task<bool> is_current(task_handle<> expected) {
    std::optional<task_handle<>> cur = current_task();
    co_return cur.has_value() && *cur == expected;
}

task<> current_task_checks(event_loop& loop, std::vector<std::string>& log) {
    std::optional<task_handle<>> me = current_task();
    EXPECT_TRUE(me.has_value());
    if (!me) co_return;
    // Inside a lazy task awaited inline it is still the same task.
    EXPECT_TRUE(co_await is_current(*me));
    // Another scheduled task sees itself.
    task_handle<bool> other = create_task(is_current(task_handle<>{}));
    task_handle<> other_erased = other;
    EXPECT_FALSE(*me == other_erased);
    loop.call_soon([&log] { log.push_back(current_task().has_value() ? "callback: task" : "callback: none"); });
    co_await sleep(0s);
    std::optional<task_handle<>> again = current_task();
    EXPECT_TRUE(again.has_value() && *again == *me);
    co_await other;
}

task<bool> checks_itself_is_current() {
    std::optional<task_handle<>> me = current_task();
    if (!me) co_return false;
    co_await sleep(0s);
    std::optional<task_handle<>> again = current_task();
    co_return again.has_value() && *again == *me;
}

// CPython: test_tasks.py::test_current_task
TEST(CurrentTask, InsideATaskOutsideATaskAndInCallbacks) {
    EXPECT_FALSE(current_task().has_value());
    event_loop loop;
    std::vector<std::string> log;
    loop.run_until_complete(current_task_checks(loop, log));
    EXPECT_EQ(log, (std::vector<std::string>{"callback: none"}));
    EXPECT_TRUE(loop.run_until_complete(checks_itself_is_current()));
    EXPECT_FALSE(current_task().has_value());
}

task<> all_tasks_checks() {
    std::optional<task_handle<>> me = current_task();
    task_handle<int> quick = create_task(ticks_then_returns(0, 1));
    task_handle<> slow = create_task(forever());
    std::vector<task_handle<>> all = all_tasks();
    EXPECT_EQ(all.size(), 3u);
    auto contains = [&all](const task_handle<>& h) {
        for (const auto& x : all)
            if (x == h) return true;
        return false;
    };
    EXPECT_TRUE(me && contains(*me));
    EXPECT_TRUE(contains(quick));
    EXPECT_TRUE(contains(slow));

    co_await quick;
    all = all_tasks();
    EXPECT_EQ(all.size(), 2u); // only the pending ones
    EXPECT_FALSE(contains(quick));
    EXPECT_TRUE(contains(slow));
    slow.cancel();
    co_await sleep(0s);
    all = all_tasks();
    EXPECT_EQ(all.size(), 1u);
    EXPECT_TRUE(me && all.size() == 1 && all[0] == *me);
}

// CPython: test_tasks.py::test_all_tasks (pending tasks only)
TEST(AllTasks, ListsPendingTasksOnly) {
    EXPECT_TRUE(all_tasks().empty());
    event_loop loop;
    loop.run_until_complete(all_tasks_checks());
}

task<event_loop*> running_loop_address() { co_return &get_running_loop(); }

// CPython: test_events.py::test_get_running_loop (RuntimeError "no running event loop")
TEST(GetRunningLoop, InsideReturnsTheLoopOutsideThrowsAClearError) {
    try {
        (void)get_running_loop();
        ADD_FAILURE() << "no exception";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "no running event loop");
    }
    event_loop loop;
    EXPECT_EQ(loop.run_until_complete(running_loop_address()), &loop);
    event_loop* from_callback = nullptr;
    loop.call_soon([&from_callback, &loop] {
        from_callback = &get_running_loop();
        loop.stop();
    });
    loop.run_forever();
    EXPECT_EQ(from_callback, &loop);
    EXPECT_THROW((void)get_running_loop(), std::runtime_error);
}

} // namespace
