// event_loop (docs/api.md): callbacks and timers, running and stopping,
// closing, exception handlers, debug mode, SIGPIPE; and run().
#include <gtest/gtest.h>
#include <uvasync/uvasync.hpp>

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace uvasync;
using namespace std::chrono_literals;

namespace {

void busy_wait(std::chrono::nanoseconds d) {
    const auto until = clock::now() + d;
    while (clock::now() < until) {
    }
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

// ---- call_soon / call_later / call_at --------------------------------------

// uvloop: test_base.py::test_call_soon_1
TEST(Loop, CallSoonRunsFifoAndSkipsCancelledHandles) {
    event_loop loop;
    std::vector<int> order;
    std::vector<handle> handles;
    for (int i = 0; i < 10; ++i) handles.push_back(loop.call_soon([&order, i] { order.push_back(i); }));
    handles[3].cancel();
    handles[7].cancel();
    EXPECT_TRUE(handles[3].cancelled());
    EXPECT_FALSE(handles[4].cancelled());
    loop.call_soon([&loop] { loop.stop(); });
    loop.run_forever();
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 4, 5, 6, 8, 9}));
    EXPECT_FALSE(handles[0].cancelled()); // ran, not cancelled
}

TEST(Loop, CallSoonFromACallbackRunsInALaterBatch) {
    event_loop loop;
    std::vector<std::string> order;
    loop.call_soon([&] {
        order.push_back("a");
        loop.call_soon([&] { order.push_back("c (queued by a)"); });
    });
    loop.call_soon([&] { order.push_back("b"); });
    loop.call_later(1ms, [&loop] { loop.stop(); });
    loop.run_forever();
    EXPECT_EQ(order, (std::vector<std::string>{"a", "b", "c (queued by a)"}));
}

// uvloop: test_base.py::test_call_later_1
TEST(Loop, CallLaterRunsByDeadline) {
    event_loop loop;
    std::vector<int> order;
    loop.call_later(3ms, [&order] { order.push_back(3); });
    loop.call_later(1ms, [&order] { order.push_back(1); });
    loop.call_later(2ms, [&order] { order.push_back(2); });
    loop.call_later(4ms, [&loop] { loop.stop(); });
    loop.run_forever();
    EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

// uvloop: test_base.py::test_call_at
TEST(Loop, CallAtEqualDeadlinesRunFifo) {
    event_loop loop;
    std::vector<int> order;
    const clock::time_point when = clock::now() + 2ms;
    for (int i = 0; i < 20; ++i) loop.call_at(when, [&order, i] { order.push_back(i); });
    timer_handle last = loop.call_at(when, [&loop] { loop.stop(); });
    EXPECT_EQ(last.when(), when);
    loop.run_forever();
    std::vector<int> expected;
    for (int i = 0; i < 20; ++i) expected.push_back(i);
    EXPECT_EQ(order, expected);
}

TEST(Loop, CallAtFiresAtItsTimePoint) {
    event_loop loop;
    const clock::time_point when = clock::now() + 3ms;
    clock::time_point fired{};
    timer_handle h = loop.call_at(when, [&] {
        fired = clock::now();
        loop.stop();
    });
    EXPECT_EQ(h.when(), when);
    loop.run_forever();
    EXPECT_GE(fired, when);
}

// uvloop: test_base.py::test_call_later_negative
TEST(Loop, NegativeDelayMeansAsSoonAsPossible) {
    event_loop loop;
    std::vector<std::string> order;
    loop.call_later(5ms, [&] {
        order.push_back("5ms");
        loop.stop();
    });
    loop.call_later(-1s, [&] { order.push_back("-1s"); });
    loop.call_later(-1h, [&] { order.push_back("-1h"); });
    const double start = loop.time();
    loop.run_forever();
    EXPECT_EQ(order, (std::vector<std::string>{"-1h", "-1s", "5ms"}));
    EXPECT_LT(loop.time() - start, 10.0);
}

TEST(Loop, CancellingATimerHandlePreventsItsRun) {
    event_loop loop;
    std::vector<std::string> order;
    timer_handle soon = loop.call_later(1ms, [&] { order.push_back("cancelled one ran"); });
    timer_handle hour = loop.call_later(1h, [&] { order.push_back("hour ran"); });
    loop.call_later(2ms, [&] {
        order.push_back("kept");
        loop.stop();
    });
    EXPECT_FALSE(soon.cancelled());
    soon.cancel();
    hour.cancel();
    soon.cancel(); // twice is fine
    EXPECT_TRUE(soon.cancelled());
    EXPECT_TRUE(hour.cancelled());
    loop.run_forever();
    EXPECT_EQ(order, (std::vector<std::string>{"kept"}));
    // The hour-long timer is gone: nothing keeps libuv alive.
    uv_run(loop.native_handle(), UV_RUN_NOWAIT);
    EXPECT_FALSE(uv_loop_alive(loop.native_handle()));
}

// uvloop: test_base.py::test_loop_call_later_handle_when
TEST(Loop, TimerHandleWhenIsTheDeadline) {
    event_loop loop;
    const clock::time_point before = clock::now();
    timer_handle h = loop.call_later(100ms, [] {});
    const clock::time_point after = clock::now();
    EXPECT_GE(h.when(), before + 100ms);
    EXPECT_LE(h.when(), after + 100ms);
    h.cancel();
    EXPECT_GE(h.when(), before + 100ms); // still answers once cancelled
}

// uvloop: test_base.py::test_call_later_rounding, test_call_later_2
TEST(Loop, CallLaterNeverFiresEarly) {
    event_loop loop;
    struct record {
        clock::time_point when;
        clock::time_point fired;
        double loop_time_at_fire = 0;
    };
    std::vector<record> records(12);
    std::vector<timer_handle> handles;
    int fired = 0;
    loop.call_soon([&] {
        busy_wait(3ms); // libuv's cached time is now stale; the deadline is not
        const std::chrono::microseconds delays[] = {1ms, 2ms, 3ms, 500us, 1500us, 2500us,
                                                    7ms, 60ms + 10ms, 10us, 999us, 1001us, 4ms};
        for (std::size_t i = 0; i < records.size(); ++i) {
            handles.push_back(loop.call_later(delays[i], [&, i] {
                records[i].fired = clock::now();
                records[i].loop_time_at_fire = loop.time();
                if (++fired == static_cast<int>(records.size())) loop.stop();
            }));
            records[i].when = handles.back().when();
        }
    });
    loop.run_forever();
    ASSERT_EQ(fired, static_cast<int>(records.size()));
    for (std::size_t i = 0; i < records.size(); ++i) {
        EXPECT_GE(records[i].fired, records[i].when) << "timer " << i;
        const double deadline_s = std::chrono::duration<double>(records[i].when.time_since_epoch()).count();
        EXPECT_GE(records[i].loop_time_at_fire, deadline_s) << "timer " << i;
    }
}

// uvloop: test_base.py::test_now_update
TEST(Loop, TimeIsMonotonicAndAdvances) {
    event_loop loop;
    double last = loop.time();
    for (int i = 0; i < 1000; ++i) {
        const double now = loop.time();
        EXPECT_GE(now, last);
        last = now;
    }
    const double before = loop.time();
    busy_wait(2ms);
    EXPECT_GE(loop.time() - before, 0.002);
    // time() is the clock of call_at.
    const double clock_now = std::chrono::duration<double>(clock::now().time_since_epoch()).count();
    EXPECT_NEAR(loop.time(), clock_now, 0.5);
}

// ---- running and stopping ---------------------------------------------------

task<int> value_after_tick(int v) {
    co_await sleep(0s);
    co_return v;
}

task<int> throws_after_tick() {
    co_await sleep(0s);
    throw std::out_of_range("bad");
}

TEST(Loop, RunUntilCompleteReturnsTheValueOrRethrows) {
    event_loop loop;
    EXPECT_FALSE(loop.is_running());
    EXPECT_EQ(loop.run_until_complete(value_after_tick(11)), 11);
    EXPECT_THROW(loop.run_until_complete(throws_after_tick()), std::out_of_range);
    EXPECT_FALSE(loop.is_running());
}

TEST(Loop, RunForeverUntilStopAndIsRunning) {
    event_loop loop;
    bool running_inside = false;
    int ticks = 0;
    loop.call_later(1ms, [&] {
        running_inside = loop.is_running();
        ++ticks;
        loop.stop();
    });
    loop.run_forever();
    EXPECT_TRUE(running_inside);
    EXPECT_FALSE(loop.is_running());
    EXPECT_EQ(ticks, 1);
    // The loop can run again after a stop.
    loop.call_soon([&] {
        ++ticks;
        loop.stop();
    });
    loop.run_forever();
    EXPECT_EQ(ticks, 2);
}

// asyncio docs, loop.stop(): "If stop() is called before run_forever() is
// called, the loop will poll the I/O selector once with a timeout of zero, run
// all callbacks scheduled in response to I/O events (and those that were
// already scheduled), and then exit."
TEST(Loop, StopBeforeRunForeverStillRunsOneIteration) {
    event_loop loop;
    std::vector<std::string> order;
    loop.call_soon([&] {
        order.push_back("scheduled before");
        loop.call_soon([&] { order.push_back("scheduled by it"); });
    });
    loop.stop();
    loop.run_forever();
    EXPECT_EQ(order, (std::vector<std::string>{"scheduled before"}));
    // The stop was used up: the next run_forever runs until its own stop.
    loop.call_soon([&loop] { loop.stop(); });
    loop.run_forever();
    EXPECT_EQ(order, (std::vector<std::string>{"scheduled before", "scheduled by it"}));
}

// asyncio docs, loop.stop(): "If stop() is called while run_forever() is
// running, this will run the current batch of callbacks and then exit. Note
// that new callbacks scheduled by callbacks will not run in this case."
TEST(Loop, StopInsideACallbackFinishesTheBatchOnly) {
    event_loop loop;
    std::vector<std::string> order;
    loop.call_soon([&] {
        order.push_back("a stops");
        loop.stop();
        loop.call_soon([&] { order.push_back("queued by a"); });
    });
    loop.call_soon([&] { order.push_back("b, same batch"); });
    loop.run_forever();
    EXPECT_EQ(order, (std::vector<std::string>{"a stops", "b, same batch"}));
    loop.call_soon([&loop] { loop.stop(); });
    loop.run_forever();
    EXPECT_EQ(order, (std::vector<std::string>{"a stops", "b, same batch", "queued by a"}));
}

task<> stops_the_loop(event_loop& loop) {
    loop.stop();
    co_await sleep(1h);
}

// asyncio: RuntimeError("Event loop stopped before Future completed.")
TEST(Loop, RunUntilCompleteThrowsWhenStoppedBeforeTheTaskFinished) {
    event_loop loop;
    EXPECT_THROW(loop.run_until_complete(stops_the_loop(loop)), std::runtime_error);
}

// uvloop: test_base.py::test_close
TEST(Loop, CloseIsIdempotentAndAClosedLoopRefusesToRun) {
    event_loop loop;
    EXPECT_FALSE(loop.is_closed());
    loop.close();
    EXPECT_TRUE(loop.is_closed());
    loop.close();
    EXPECT_TRUE(loop.is_closed());
    EXPECT_THROW(loop.run_forever(), std::runtime_error);
    EXPECT_THROW(loop.run_until_complete(value_after_tick(1)), std::runtime_error);
    EXPECT_THROW(loop.call_soon([] {}), std::runtime_error);
    EXPECT_THROW(loop.call_later(1ms, [] {}), std::runtime_error);
}

TEST(Loop, CloseWhileRunningThrows) {
    event_loop loop;
    bool threw = false;
    loop.call_soon([&] {
        try {
            loop.close();
        } catch (const std::runtime_error&) {
            threw = true;
        }
        loop.stop();
    });
    loop.run_forever();
    EXPECT_TRUE(threw);
    EXPECT_FALSE(loop.is_closed());
}

task<> runs_other_loop(event_loop& other, std::vector<std::string>& log) {
    try {
        other.run_until_complete(value_after_tick(1));
        log.push_back("other ran");
    } catch (const std::runtime_error&) {
        log.push_back("run_until_complete refused");
    }
    try {
        other.run_forever();
        log.push_back("other ran forever");
    } catch (const std::runtime_error&) {
        log.push_back("run_forever refused");
    }
    co_return;
}

TEST(Loop, RunningASecondLoopInsideARunningLoopThrows) {
    event_loop loop;
    event_loop other;
    std::vector<std::string> log;
    loop.run_until_complete(runs_other_loop(other, log));
    EXPECT_EQ(log, (std::vector<std::string>{"run_until_complete refused", "run_forever refused"}));
    // Nor the same loop, re-entered from one of its callbacks.
    bool refused = false;
    loop.call_soon([&] {
        try {
            loop.run_forever();
        } catch (const std::runtime_error&) {
            refused = true;
        }
        loop.stop();
    });
    loop.run_forever();
    EXPECT_TRUE(refused);
    // `other` is still usable on its own.
    EXPECT_EQ(other.run_until_complete(value_after_tick(5)), 5);
}

// ---- exception handlers and debug mode --------------------------------------

// uvloop: test_base.py::test_calls_debug_reporting, test_default_exc_handler_callback
TEST(Loop, ACallbackExceptionGoesToTheHandlerAndTheLoopGoesOn) {
    event_loop loop;
    testing::internal::CaptureStderr();
    std::vector<std::string> order;
    loop.call_soon([] { throw std::runtime_error("callback boom"); });
    loop.call_soon([&] {
        order.push_back("next callback ran");
        loop.stop();
    });
    loop.run_forever();
    const std::string err = testing::internal::GetCapturedStderr();
    EXPECT_EQ(order, (std::vector<std::string>{"next callback ran"}));
    EXPECT_TRUE(contains(err, "Exception in callback")) << err;
    EXPECT_TRUE(contains(err, "callback boom")) << err;
}

// uvloop: test_base.py::test_set_exc_handler_custom
TEST(Loop, CustomExceptionHandlerReceivesTheContext) {
    event_loop loop;
    std::vector<exception_context> seen;
    event_loop* handler_loop = nullptr;
    loop.set_exception_handler([&](event_loop& l, const exception_context& ctx) {
        handler_loop = &l;
        seen.push_back(ctx);
    });
    EXPECT_TRUE(static_cast<bool>(loop.get_exception_handler()));
    loop.call_soon([] { throw std::invalid_argument("custom"); });
    loop.call_later(1ms, [] { throw std::length_error("from a timer"); });
    loop.call_later(2ms, [&loop] { loop.stop(); });
    testing::internal::CaptureStderr();
    loop.run_forever();
    EXPECT_EQ(testing::internal::GetCapturedStderr(), ""); // the default handler stayed quiet
    EXPECT_EQ(handler_loop, &loop);
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[0].message.rfind("Exception in callback", 0), 0u) << seen[0].message;
    EXPECT_THROW(std::rethrow_exception(seen[0].exception), std::invalid_argument);
    EXPECT_THROW(std::rethrow_exception(seen[1].exception), std::length_error);

    // call_exception_handler goes to the same handler.
    loop.call_exception_handler(exception_context{"by hand", nullptr, "some task"});
    ASSERT_EQ(seen.size(), 3u);
    EXPECT_EQ(seen[2].message, "by hand");
    EXPECT_EQ(seen[2].task_name, "some task");

    // An empty handler restores the default one.
    loop.set_exception_handler(nullptr);
    testing::internal::CaptureStderr();
    loop.call_exception_handler(exception_context{"to stderr", nullptr, {}});
    EXPECT_TRUE(contains(testing::internal::GetCapturedStderr(), "to stderr"));
    EXPECT_EQ(seen.size(), 3u);
}

// uvloop: test_base.py::test_set_exc_handler_broken
TEST(Loop, AThrowingCustomHandlerFallsBackToTheDefault) {
    event_loop loop;
    int calls = 0;
    loop.set_exception_handler([&calls](event_loop&, const exception_context&) {
        ++calls;
        throw std::runtime_error("handler is broken");
    });
    loop.call_soon([] { throw std::runtime_error("original error"); });
    loop.call_soon([&loop] { loop.stop(); });
    testing::internal::CaptureStderr();
    loop.run_forever();
    const std::string err = testing::internal::GetCapturedStderr();
    EXPECT_EQ(calls, 1);
    EXPECT_TRUE(contains(err, "Unhandled error in exception handler")) << err;
    EXPECT_TRUE(contains(err, "handler is broken")) << err;
    EXPECT_TRUE(contains(err, "original error")) << err;
}

// uvloop: test_base.py::test_debug_slow_callbacks
TEST(Loop, DebugModeReportsSlowCallbacks) {
    event_loop loop;
    EXPECT_FALSE(loop.get_debug());
    EXPECT_EQ(loop.slow_callback_duration(), 100ms); // asyncio's default
    loop.set_debug(true);
    EXPECT_TRUE(loop.get_debug());
    loop.set_slow_callback_duration(1ms);
    loop.call_soon([] { busy_wait(5ms); }); // a slow callback, on purpose
    loop.call_soon([&loop] { loop.stop(); });
    testing::internal::CaptureStderr();
    loop.run_forever();
    const std::string err = testing::internal::GetCapturedStderr();
    EXPECT_TRUE(contains(err, "executing callback")) << err;
    EXPECT_TRUE(contains(err, "took")) << err;

    // Not in debug mode: silent.
    loop.set_debug(false);
    loop.call_soon([] { busy_wait(5ms); });
    loop.call_soon([&loop] { loop.stop(); });
    testing::internal::CaptureStderr();
    loop.run_forever();
    EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

task<> slow_task_step() {
    busy_wait(5ms);
    co_return;
}

// uvloop: test_base.py::test_debug_slow_task_callbacks
TEST(Loop, DebugModeReportsSlowTaskStepsWithTheTaskName) {
    event_loop loop;
    loop.set_debug(true);
    loop.set_slow_callback_duration(1ms);
    testing::internal::CaptureStderr();
    loop.run_until_complete(slow_task_step());
    const std::string err = testing::internal::GetCapturedStderr();
    EXPECT_TRUE(contains(err, "took")) << err;
    EXPECT_TRUE(contains(err, "Task-")) << err;
}

// ---- closing with work pending ----------------------------------------------

task<> sleeps_long() { co_await sleep(1h); }

task<int> awaits_handle(task_handle<> h) {
    co_await h;
    co_return 1;
}

task<int> waits_with_timeout() {
    task_handle<> inner = create_task(sleeps_long());
    task<int> waited = wait_for(awaits_handle(inner), 1h);
    co_return co_await std::move(waited);
}

task<> yields_forever() {
    for (;;) co_await sleep(0s);
}

task<> leaves_work_behind(std::vector<task_handle<>>& kept) {
    task_handle<> sleeper = create_task(sleeps_long());
    kept.push_back(sleeper);
    kept.push_back(create_task(awaits_handle(sleeper)));
    kept.push_back(create_task(waits_with_timeout()));
    kept.push_back(create_task(yields_forever()));
    (void)create_task(sleeps_long()); // no handle kept
    sleeper.add_done_callback([](task_handle<>&) { ADD_FAILURE() << "done callback of a destroyed task ran"; });
    co_await sleep(0s);
    co_await sleep(0s);
    kept.push_back(create_task(sleeps_long())); // never started
    get_running_loop().stop();
    co_await sleep(1h);
}

// uvloop: test_dealloc.py; asyncio: closing a loop with pending tasks
TEST(Loop, ClosingWithPendingTasksTimersAndCallbacksFreesEverything) {
    std::vector<task_handle<>> kept;
    std::vector<handle> callbacks;
    std::vector<timer_handle> timers;
    {
        event_loop loop;
        loop.call_soon([&] {
            (void)create_task(leaves_work_behind(kept));
        });
        loop.run_forever();
        EXPECT_EQ(kept.size(), 5u);
        callbacks.push_back(loop.call_soon([] { ADD_FAILURE() << "callback after close"; }));
        timers.push_back(loop.call_later(1h, [] { ADD_FAILURE() << "timer after close"; }));
        timers.push_back(loop.call_later(0s, [] { ADD_FAILURE() << "timer after close"; }));
        loop.close();
        for (auto& h : kept) {
            EXPECT_TRUE(h.done());
            EXPECT_TRUE(h.cancelled());
        }
    } // the loop object goes; handles outlive it
    for (auto& c : callbacks) c.cancel();
    for (auto& t : timers) t.cancel();
    kept.clear(); // ASan/LSan: every frame, state and callback is freed
}

// ---- signals ----------------------------------------------------------------

// asyncio: the loop ignores SIGPIPE (a dead peer is an EPIPE, not a kill).
TEST(Loop, IgnoresSigpipe) {
    event_loop loop;
    struct sigaction current {};
    ASSERT_EQ(sigaction(SIGPIPE, nullptr, &current), 0);
    EXPECT_EQ(current.sa_handler, SIG_IGN);
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    close(fds[0]);
    errno = 0;
    EXPECT_EQ(write(fds[1], "x", 1), -1); // still alive: no SIGPIPE
    EXPECT_EQ(errno, EPIPE);
    close(fds[1]);
}

// ---- run() --------------------------------------------------------------------

task<std::string> main_returns() {
    co_await sleep(0s);
    co_return "main's value";
}

task<int> main_throws() {
    co_await sleep(0s);
    throw std::domain_error("main failed");
}

TEST(Run, ReturnsMainsValueAndRethrowsMainsException) {
    EXPECT_EQ(run(main_returns()), "main's value");
    EXPECT_THROW(run(main_throws()), std::domain_error);
    EXPECT_THROW((void)get_running_loop(), std::runtime_error); // nothing left running
}

task<> pending_child(std::vector<std::string>& log) {
    bool cancelled = false;
    try {
        co_await sleep(1h);
    } catch (const cancelled_error&) {
        log.push_back("child cancelled");
        cancelled = true;
    }
    if (cancelled) { // cleanup may still await (not allowed inside a handler)
        co_await sleep(0s);
        log.push_back("child cleanup done");
        throw cancelled_error();
    }
}

task<> never_started_child(std::vector<std::string>& log) {
    log.push_back("never-started child ran");
    co_return;
}

task<int> main_leaves_children(std::vector<std::string>& log) {
    (void)create_task(pending_child(log));
    co_await sleep(0s);
    (void)create_task(never_started_child(log));
    log.push_back("main returns");
    co_return 17;
}

// CPython: test_runners.py::test_asyncio_run_cancels_hanging_tasks
TEST(Run, CancelsAndAwaitsTasksStillPendingWhenMainReturns) {
    std::vector<std::string> log;
    EXPECT_EQ(run(main_leaves_children(log)), 17);
    EXPECT_EQ(log, (std::vector<std::string>{"main returns", "child cancelled", "child cleanup done"}));
}

task<int> main_throws_leaving_a_child(std::vector<std::string>& log) {
    (void)create_task(pending_child(log));
    co_await sleep(0s);
    throw std::domain_error("main failed");
}

// CPython: test_runners.py::test_asyncio_run_cancels_hanging_tasks (main raising)
TEST(Run, MainsExceptionIsRethrownAfterPendingTasksWereCancelled) {
    std::vector<std::string> log;
    EXPECT_THROW(run(main_throws_leaving_a_child(log)), std::domain_error);
    EXPECT_EQ(log, (std::vector<std::string>{"child cancelled", "child cleanup done"}));
}

task<> cleanup_fails() {
    bool cancelled = false;
    try {
        co_await sleep(1h);
    } catch (const cancelled_error&) {
        cancelled = true;
    }
    if (cancelled) throw std::runtime_error("cleanup failed");
}

task<int> main_leaves_failing_cleanup() {
    (void)create_task(cleanup_fails(), "bad cleanup");
    co_await sleep(0s);
    co_return 3;
}

// CPython: test_runners.py::test_asyncio_run_reports_hanging_tasks_errors
TEST(Run, AnErrorFromATaskCancelledAtShutdownIsReported) {
    testing::internal::CaptureStderr();
    EXPECT_EQ(run(main_leaves_failing_cleanup()), 3);
    const std::string err = testing::internal::GetCapturedStderr();
    EXPECT_TRUE(contains(err, "cleanup failed")) << err;
    EXPECT_TRUE(contains(err, "bad cleanup")) << err;
}

std::thread::id worker_thread() { return std::this_thread::get_id(); }

task<std::thread::id> main_uses_to_thread() {
    task<std::thread::id> t = to_thread(worker_thread);
    co_return co_await std::move(t);
}

// CPython: test_runners.py (asyncio.run shuts the default executor down)
TEST(Run, ShutsTheDefaultExecutorDown) {
    EXPECT_NE(run(main_uses_to_thread()), std::this_thread::get_id());
}

task<bool> reports_debug() { co_return get_running_loop().get_debug(); }

// CPython: test_runners.py::test_asyncio_run_debug
TEST(Run, DebugOption) {
    EXPECT_TRUE(run(reports_debug(), run_options{.debug = true}));
    EXPECT_FALSE(run(reports_debug()));
}

} // namespace
