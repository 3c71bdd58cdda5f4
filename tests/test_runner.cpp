// runner (asyncio.Runner) and run()'s signal handling.
// CPython: test_runners.py.
#include <gtest/gtest.h>
#include <uvasync/uvasync.hpp>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>

namespace {

namespace ua = uvasync;
using namespace std::chrono_literals;

ua::task<int> value(int v) { co_return v; }

ua::task<> forever() { co_await ua::sleep(1h); }

// CPython: test_runners.py::RunnerTests::test_run, test_run_keeps_context
TEST(Runner, RunsSeveralTasksOnOneLoop) {
    ua::runner r;
    EXPECT_EQ(r.run(value(1)), 1);
    ua::event_loop* first = &r.get_loop();
    EXPECT_EQ(r.run(value(2)), 2);
    EXPECT_EQ(&r.get_loop(), first);
    EXPECT_FALSE(r.get_loop().is_closed());
}

// CPython: test_runners.py::RunnerTests::test_second_with_block_raises,
// test_run_after_close (run() after close() is refused)
TEST(Runner, RunAfterCloseThrows) {
    ua::runner r;
    r.run(value(1));
    r.close();
    r.close(); // idempotent
    EXPECT_THROW(r.run(value(2)), std::runtime_error);
    EXPECT_THROW(r.get_loop(), std::runtime_error);
}

// Tasks left pending by one run() go on in the next; close() cancels and
// awaits what is still pending then.
TEST(Runner, TasksLeftPendingGoOnInTheNextRunAndCloseCancelsTheRest) {
    ua::runner r;
    ua::task_handle<> background, forgotten;
    int ticks = 0;
    auto ticker = [&]() -> ua::task<> {
        for (;;) {
            ++ticks;
            co_await ua::sleep(0s);
        }
    };
    auto start = [&]() -> ua::task<> {
        background = ua::create_task(ticker());
        forgotten = ua::create_task(forever());
        co_await ua::sleep(0s);
    };
    r.run(start());
    const int after_first = ticks;
    auto more = [&]() -> ua::task<> {
        for (int i = 0; i < 5; ++i) co_await ua::sleep(0s);
    };
    r.run(more());
    EXPECT_GT(ticks, after_first); // it ran during the second run()
    EXPECT_FALSE(background.done());
    r.close();
    EXPECT_TRUE(background.cancelled());
    EXPECT_TRUE(forgotten.cancelled());
}

// CPython: test_runners.py::RunTests::test_asyncio_run_from_running_loop
TEST(Runner, RunInsideARunningLoopIsRefusedBeforeAnythingRuns) {
    ua::event_loop loop;
    bool inner_ran = false;
    auto inner = [&]() -> ua::task<int> {
        inner_ran = true;
        co_return 1;
    };
    auto outer = [&]() -> ua::task<> {
        EXPECT_THROW(ua::run(inner()), std::runtime_error);
        co_await ua::sleep(0s);
    };
    loop.run_until_complete(outer());
    EXPECT_FALSE(inner_ran);
}

// CPython: test_runners.py::RunTests::test_asyncio_run_reports_hanging_tasks_errors,
// test_asyncio_run_cancels_hanging_tasks
TEST(Runner, RunCancelsWhatMainLeftPending) {
    ua::task_handle<> leftover;
    auto main = [&]() -> ua::task<int> {
        leftover = ua::create_task(forever());
        co_await ua::sleep(0s);
        co_return 7;
    };
    EXPECT_EQ(ua::run(main()), 7);
    EXPECT_TRUE(leftover.cancelled());
}

// CPython: test_runners.py::RunnerTests::test_signal_install_not_supported_ok
// and the Ctrl-C rule of Runner.run: the first SIGINT cancels the main task,
// which ends run() with cancelled_error (an interrupted program's exit).
TEST(Runner, TheFirstSigintCancelsTheMainTask) {
    bool cleaned_up = false;
    auto main = [&]() -> ua::task<int> {
        ::kill(::getpid(), SIGINT);
        try {
            co_await ua::sleep(1h);
        } catch (const ua::cancelled_error&) {
            cleaned_up = true;
            throw;
        }
        co_return 0;
    };
    EXPECT_THROW(ua::run(main()), ua::cancelled_error);
    EXPECT_TRUE(cleaned_up);
}

// The signals run() watches are the program's to choose (SIGTERM for a service).
TEST(Runner, RunOptionsNameTheSignals) {
    ua::run_options o;
    o.cancel_main_on = {SIGTERM};
    auto main = [&]() -> ua::task<> {
        ::kill(::getpid(), SIGTERM);
        co_await ua::sleep(1h);
    };
    EXPECT_THROW(ua::run(main(), o), ua::cancelled_error);
}

// A handler the program installs for the signal takes precedence: run() does
// not cancel the main task then.
TEST(Runner, TheProgramsOwnHandlerTakesPrecedence) {
    auto main = [&]() -> ua::task<int> {
        ua::event got;
        ua::get_running_loop().add_signal_handler(SIGINT, [&] { got.set(); });
        ::kill(::getpid(), SIGINT);
        co_await got.wait();
        co_await ua::sleep(0s);
        ua::get_running_loop().remove_signal_handler(SIGINT);
        co_return 5;
    };
    EXPECT_EQ(ua::run(main()), 5);
}

TEST(Runner, AWaitSignalInProgressTakesPrecedence) {
    auto main = [&]() -> ua::task<int> {
        auto waiter = ua::create_task(ua::wait_signal(SIGINT));
        co_await ua::sleep(0s); // it waits
        ::kill(::getpid(), SIGINT);
        const int got = co_await waiter;
        co_return got;
    };
    EXPECT_EQ(ua::run(main()), SIGINT);
}

} // namespace
