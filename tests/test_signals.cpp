// Signals (docs/api.md, §7): add_signal_handler / remove_signal_handler and
// wait_signal. Signals are raised by the test process to itself.
#include <gtest/gtest.h>
#include <uvasync/uvasync.hpp>

#include <csignal>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace uvasync;
using namespace std::chrono_literals;

namespace {

task<> raise_signal(int signum) {
    co_await sleep(0s);
    std::raise(signum);
}

// uvloop: test_signals.py::test_signals_and_custom_handler_1
TEST(Signals, AHandlerRunsOnTheLoopThread) {
    event_loop loop;
    std::vector<std::thread::id> calls;
    loop.add_signal_handler(SIGUSR1, [&] {
        calls.push_back(std::this_thread::get_id());
        loop.stop();
    });
    loop.call_soon([] { (void)create_task(raise_signal(SIGUSR1)); });
    loop.run_forever();
    ASSERT_EQ(calls.size(), 1u);
    EXPECT_EQ(calls[0], std::this_thread::get_id());
    EXPECT_TRUE(loop.remove_signal_handler(SIGUSR1));
}

// uvloop: test_signals.py::test_signals_and_custom_handler_1 (removal)
TEST(Signals, RemoveSignalHandlerReturnsTrueThenFalse) {
    event_loop loop;
    EXPECT_FALSE(loop.remove_signal_handler(SIGUSR1));
    loop.add_signal_handler(SIGUSR1, [] {});
    EXPECT_TRUE(loop.remove_signal_handler(SIGUSR1));
    EXPECT_FALSE(loop.remove_signal_handler(SIGUSR1));
}

TEST(Signals, ASecondHandlerReplacesTheFirst) {
    event_loop loop;
    std::vector<std::string> calls;
    loop.add_signal_handler(SIGUSR2, [&] { calls.push_back("first"); });
    loop.add_signal_handler(SIGUSR2, [&] {
        calls.push_back("second");
        loop.stop();
    });
    loop.call_soon([] { (void)create_task(raise_signal(SIGUSR2)); });
    loop.run_forever();
    EXPECT_EQ(calls, (std::vector<std::string>{"second"}));
    EXPECT_TRUE(loop.remove_signal_handler(SIGUSR2));
}

// uvloop: test_signals.py (SIGKILL → RuntimeError "cannot be caught");
// CPython: test_unix_events.py::test_add_signal_handler_* (invalid signal → ValueError)
TEST(Signals, UncatchableAndInvalidSignalNumbersAreRefused) {
    event_loop loop;
    EXPECT_THROW(loop.add_signal_handler(SIGKILL, [] {}), std::runtime_error);
    EXPECT_THROW(loop.add_signal_handler(SIGSTOP, [] {}), std::runtime_error);
    EXPECT_THROW(loop.add_signal_handler(0, [] {}), std::invalid_argument);
    EXPECT_THROW(loop.add_signal_handler(-1, [] {}), std::invalid_argument);
    EXPECT_THROW(loop.add_signal_handler(100000, [] {}), std::invalid_argument);
}

TEST(Signals, AnExceptionFromAHandlerGoesToTheExceptionHandler) {
    event_loop loop;
    std::vector<std::string> messages;
    loop.set_exception_handler([&](event_loop&, const exception_context& ctx) { messages.push_back(ctx.message); });
    loop.add_signal_handler(SIGUSR1, [&] {
        loop.stop();
        throw std::runtime_error("handler failed");
    });
    loop.call_soon([] { (void)create_task(raise_signal(SIGUSR1)); });
    loop.run_forever();
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_NE(messages[0].find("signal handler"), std::string::npos) << messages[0];
    loop.remove_signal_handler(SIGUSR1);
}

task<int> nothing_to_do() { co_return 1; }

TEST(Signals, AHandlerDoesNotKeepTheLoopAlive) {
    event_loop loop;
    loop.add_signal_handler(SIGUSR1, [] {});
    EXPECT_EQ(loop.run_until_complete(nothing_to_do()), 1);
    uv_run(loop.native_handle(), UV_RUN_NOWAIT);
    EXPECT_FALSE(uv_loop_alive(loop.native_handle()));
    loop.remove_signal_handler(SIGUSR1);
}

task<int> wait_then_raise(int to_raise) {
    task_handle<int> waiter = create_task(wait_signal(SIGUSR2, SIGUSR1));
    co_await sleep(0s); // the waiter is listening
    std::raise(to_raise);
    co_return co_await waiter;
}

TEST(Signals, WaitSignalReturnsTheSignalThatArrived) {
    event_loop loop;
    EXPECT_EQ(loop.run_until_complete(wait_then_raise(SIGUSR1)), SIGUSR1);
    EXPECT_EQ(loop.run_until_complete(wait_then_raise(SIGUSR2)), SIGUSR2);
}

task<> cancel_wait_signal(event_loop& loop, std::vector<std::string>& log) {
    task_handle<int> waiter = create_task(wait_signal(SIGUSR1));
    co_await sleep(0s);
    EXPECT_TRUE(waiter.cancel());
    try {
        co_await waiter;
    } catch (const cancelled_error&) {
        log.push_back("wait_signal cancelled");
    }
    EXPECT_TRUE(waiter.cancelled());
    // Signal handling still works afterwards.
    loop.add_signal_handler(SIGUSR1, [&log] { log.push_back("handler"); });
    task_handle<int> again = create_task(wait_signal(SIGUSR1));
    co_await sleep(0s);
    std::raise(SIGUSR1);
    EXPECT_EQ(co_await again, SIGUSR1);
    while (log.size() < 2) co_await sleep(0s); // the handler sees the same signal
    loop.remove_signal_handler(SIGUSR1);
}

TEST(Signals, CancellingAPendingWaitSignal) {
    event_loop loop;
    std::vector<std::string> log;
    loop.run_until_complete(cancel_wait_signal(loop, log));
    EXPECT_EQ(log, (std::vector<std::string>{"wait_signal cancelled", "handler"}));
}

task<int> wait_for_bad_signal(int signum) { co_return co_await wait_signal(signum); }

TEST(Signals, WaitSignalRefusesUncatchableAndInvalidSignals) {
    event_loop loop;
    EXPECT_THROW(loop.run_until_complete(wait_for_bad_signal(SIGKILL)), std::runtime_error);
    EXPECT_THROW(loop.run_until_complete(wait_for_bad_signal(0)), std::invalid_argument);
}

} // namespace
