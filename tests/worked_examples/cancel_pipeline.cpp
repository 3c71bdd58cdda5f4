// The porting guide's worked pipeline (examples/pipeline.cpp), cancelled
// mid-way (issue 14): the example's own code, its main renamed, run under
// wait_for deadlines that fall at different points of its work (the
// producer filling the queue, the workers fetching, the semaphore full).
// Each run must end with timeout_error and leave no task behind: the
// workers were finished before pipeline()'s locals, which they use by
// reference, went. In the ASan build a worker touching a freed queue or
// semaphore is a report, and the test fails.
//
// Every deadline is below the pipeline's shortest possible run (50 fetches
// of 10 ms, three at a time: at least 170 ms of timers), so each one
// cancels it mid-way whatever the machine's load.
#include <uvasync/uvasync.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#define main pipeline_example_main
#include "pipeline.cpp"
#undef main

namespace {

// pipeline() under a deadline; how many tasks are left afterwards besides
// this one.
ua::task<std::size_t> cancelled_after(std::chrono::milliseconds deadline) {
    bool timed_out = false;
    try {
        co_await ua::wait_for(pipeline(), deadline);
    } catch (const ua::timeout_error&) {
        timed_out = true;
    }
    EXPECT_TRUE(timed_out) << "deadline " << deadline.count() << " ms";
    co_return ua::all_tasks().size() - 1;
}

TEST(WorkedExamplePipeline, CancelledMidwayFinishesItsWorkers) {
    for (int ms : {0, 1, 5, 15, 40, 80, 120}) {
        const std::chrono::milliseconds deadline(ms);
        EXPECT_EQ(ua::run(cancelled_after(deadline)), 0u) << "tasks left behind, deadline " << ms << " ms";
    }
}

// The cancellation reaches pipeline() from its caller, not from a timer,
// once the loop has gone round enough times for the producer to fill the
// queue and the workers to hold the semaphore (no timer has fired yet).
ua::task<std::size_t> cancelled_by_hand() {
    ua::task_handle<> h = ua::create_task(pipeline());
    for (int i = 0; i < 20; ++i) co_await ua::sleep(std::chrono::milliseconds(0));
    EXPECT_FALSE(h.done());
    h.cancel();
    bool cancelled = false;
    try {
        co_await h;
    } catch (const ua::cancelled_error&) {
        cancelled = true;
    }
    EXPECT_TRUE(cancelled);
    co_return ua::all_tasks().size() - 1;
}

TEST(WorkedExamplePipeline, CancelledTaskFinishesItsWorkers) { EXPECT_EQ(ua::run(cancelled_by_hand()), 0u); }

} // namespace
