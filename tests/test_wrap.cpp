// event_loop::wrap: adopting the uv_loop_t of an existing libuv program.
// The program keeps its loop, its handles and its uv_run; uvasync's tasks run
// whenever that loop runs, and the wrapper never closes a loop it did not create.
#include <gtest/gtest.h>
#include <uvasync/uvasync.hpp>

#include <memory>
#include <string>
#include <vector>

using namespace uvasync;
using namespace std::chrono_literals;

namespace {

// A plain libuv program's state: its loop and a timer that counts its fires.
struct program {
    uv_loop_t loop{};
    uv_timer_t timer{};
    int fires = 0;
    bool timer_closed = false;

    program() {
        EXPECT_EQ(uv_loop_init(&loop), 0);
        EXPECT_EQ(uv_timer_init(&loop, &timer), 0);
        timer.data = this;
    }
    void start_timer(std::uint64_t timeout_ms, std::uint64_t repeat_ms) {
        uv_timer_start(
            &timer, [](uv_timer_t* t) { ++static_cast<program*>(t->data)->fires; }, timeout_ms, repeat_ms);
    }
    // What the program does at exit: close its handles, let the close
    // callbacks run, close the loop.
    int shut_down() {
        uv_close(reinterpret_cast<uv_handle_t*>(&timer),
                 [](uv_handle_t* h) { static_cast<program*>(h->data)->timer_closed = true; });
        uv_run(&loop, UV_RUN_DEFAULT);
        EXPECT_TRUE(timer_closed);
        return uv_loop_close(&loop);
    }
};

task<int> waits_for_fires(const int& fires, int wanted) {
    while (fires < wanted) co_await sleep(0s); // the program's timer fires between ticks
    co_await sleep(1ms);                        // a timer of uvasync's own, on the same loop
    co_return fires;
}

TEST(Wrap, TasksRunUnderTheWrappersRunUntilCompleteAndTheProgramsHandlesStillWork) {
    program p;
    {
        std::unique_ptr<event_loop> wrapped = event_loop::wrap(&p.loop);
        EXPECT_EQ(wrapped->native_handle(), &p.loop);
        p.start_timer(1, 1);
        EXPECT_GE(wrapped->run_until_complete(waits_for_fires(p.fires, 3)), 3);
        uv_timer_stop(&p.timer);
    } // the wrapper goes; the program's loop stays open
    EXPECT_EQ(p.shut_down(), 0);
}

task<int> child_value(int v) {
    co_await sleep(0s);
    co_return v;
}

task<std::string> program_task(event_loop* expected, std::vector<std::string>& log) {
    EXPECT_EQ(&get_running_loop(), expected);
    log.push_back("task started");
    co_await sleep(2ms);
    task_handle<int> child = create_task(child_value(40));
    int v = co_await child;
    log.push_back("task done");
    co_return "value " + std::to_string(v + 2);
}

TEST(Wrap, TasksRunUnderTheProgramsOwnUvRunWhichReturnsWhenTheWorkIsDone) {
    program p;
    std::unique_ptr<event_loop> wrapped = event_loop::wrap(&p.loop);
    std::vector<std::string> log;
    task_handle<std::string> h = wrapped->create_task(program_task(wrapped.get(), log));
    p.start_timer(1, 0); // one shot
    EXPECT_FALSE(h.done());

    uv_run(&p.loop, UV_RUN_DEFAULT); // the program's own loop run: must return
    EXPECT_TRUE(h.done());
    EXPECT_EQ(h.result(), "value 42");
    EXPECT_EQ(log, (std::vector<std::string>{"task started", "task done"}));
    EXPECT_EQ(p.fires, 1);
    EXPECT_FALSE(wrapped->is_running());
    EXPECT_THROW((void)get_running_loop(), std::runtime_error); // only while its callbacks run

    // A second round through the program's loop.
    task_handle<int> again = wrapped->create_task(child_value(7));
    uv_run(&p.loop, UV_RUN_DEFAULT);
    EXPECT_EQ(again.result(), 7);

    h = {};
    again = {};
    wrapped.reset();
    // The program's handles still work after the wrapper is gone.
    p.start_timer(1, 0);
    uv_run(&p.loop, UV_RUN_DEFAULT);
    EXPECT_EQ(p.fires, 2);
    EXPECT_EQ(p.shut_down(), 0); // uvasync closed only what it opened
}

task<> sleeps_long() { co_await sleep(1h); }

TEST(Wrap, DestroyingTheWrapperWithPendingTasksLeavesTheProgramsLoopOpen) {
    auto p = std::make_unique<program>(); // a heap-allocated loop this time
    {
        std::unique_ptr<event_loop> wrapped = event_loop::wrap(&p->loop);
        task_handle<> h = wrapped->create_task(sleeps_long());
        wrapped->call_soon([] {});
        wrapped->call_later(1h, [] {});
        uv_run(&p->loop, UV_RUN_NOWAIT); // the task starts and sleeps
        EXPECT_FALSE(h.done());
        wrapped->close();
        EXPECT_TRUE(h.cancelled());
    }
    p->start_timer(1, 0);
    uv_run(&p->loop, UV_RUN_DEFAULT);
    EXPECT_EQ(p->fires, 1);
    EXPECT_EQ(p->shut_down(), 0);
}

task<std::string> reenters(event_loop& wrapped) {
    try {
        wrapped.run_until_complete(child_value(1));
    } catch (const std::runtime_error&) {
        co_return "refused";
    }
    co_return "ran a nested uv_run";
}

// asyncio: RuntimeError("This event loop is already running"). Under the
// program's own uv_run the wrapper's run_* would re-enter uv_run.
TEST(Wrap, RunningTheWrapperFromInsideTheProgramsUvRunIsRefused) {
    program p;
    std::unique_ptr<event_loop> wrapped = event_loop::wrap(&p.loop);
    task_handle<std::string> h = wrapped->create_task(reenters(*wrapped));
    bool callback_refused = false;
    wrapped->call_soon([&] {
        try {
            wrapped->run_forever();
        } catch (const std::runtime_error&) {
            callback_refused = true;
        }
    });
    uv_run(&p.loop, UV_RUN_DEFAULT);
    EXPECT_EQ(h.result(), "refused");
    EXPECT_TRUE(callback_refused);
    h = {};
    wrapped.reset();
    EXPECT_EQ(p.shut_down(), 0);
}

TEST(Wrap, NullLoopIsRefused) { EXPECT_THROW((void)event_loop::wrap(nullptr), std::invalid_argument); }

} // namespace
