// The porting guide's worked supervisor (examples/supervisor.cpp), cancelled
// mid-way (issue 14): the example's own code, its main renamed, run under
// wait_for deadlines that fall at different points of its loop (starting
// the child, waiting for it, the backoff pause). Each run must end with
// timeout_error, leave no task behind and leave no signal handler installed
// (the handlers point into supervise()'s frame). In the ASan build a
// handler or a task touching that frame after it went is a report, and the
// test fails.
//
// The commands never let supervise() return by itself (a child that always
// crashes, one that runs for 1000 s), so every deadline cancels it.
#include <uvasync/uvasync.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#define main supervisor_example_main
#include "supervisor.cpp"
#undef main

namespace {

struct leftovers {
    std::size_t tasks = 0;
    bool handlers = false;
};

ua::task<leftovers> cancelled_after(settings s, std::chrono::milliseconds deadline) {
    bool timed_out = false;
    try {
        co_await ua::wait_for(supervise(std::move(s)), deadline);
    } catch (const ua::timeout_error&) {
        timed_out = true;
    }
    EXPECT_TRUE(timed_out) << "deadline " << deadline.count() << " ms";
    ua::event_loop& loop = ua::get_running_loop();
    leftovers left;
    left.tasks = ua::all_tasks().size() - 1;
    left.handlers = loop.handles_signal(SIGTERM) || loop.handles_signal(SIGINT);
    co_return left;
}

void cancel_at_several_points(const std::vector<std::string>& command) {
    for (int ms : {0, 1, 3, 10, 30, 60}) {
        settings s;
        s.backoff = std::chrono::milliseconds(1);
        s.max_backoff = std::chrono::milliseconds(4);
        s.command = command;
        const leftovers left = ua::run(cancelled_after(std::move(s), std::chrono::milliseconds(ms)));
        EXPECT_EQ(left.tasks, 0u) << "tasks left behind, deadline " << ms << " ms";
        EXPECT_FALSE(left.handlers) << "signal handlers left behind, deadline " << ms << " ms";
    }
}

TEST(WorkedExampleSupervisor, CancelledWhileRestartingACrashingChild) {
    cancel_at_several_points({"/bin/sh", "-c", "exit 3"});
}

// Cancelled while it waits for a child that runs on: the child is left
// running, as asyncio leaves it, and run()'s loop kills and reaps it when it
// closes.
TEST(WorkedExampleSupervisor, CancelledWhileItsChildRuns) { cancel_at_several_points({"/bin/sleep", "1000"}); }

} // namespace
