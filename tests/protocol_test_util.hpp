// Watching a task go through the cancellation protocol, from another task:
// shared by test_protocol.cpp and test_protocol_rules.cpp.
//
// "Parked on X" and "woken" are read from the task's call graph: its
// `operation` names what the task is parked on, and is empty once the
// operation woke it (or while it runs, which another task never sees).
#pragma once

#include <gtest/gtest.h>
#include <uvasync/uvasync.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace protocol_test {

using namespace uvasync;

// Ticks until `h` is parked on an operation called `kind` (true), or has
// finished, or has not parked after many ticks (false).
inline task<bool> parked_on(task_handle<> h, std::string kind) {
    for (int i = 0; i < 5000; ++i) {
        if (h.done()) co_return false;
        std::optional<call_graph> g = capture_call_graph(h);
        if (g && g->operation == kind) co_return true;
        co_await sleep(std::chrono::milliseconds(0));
    }
    co_return false;
}

// Ticks until `h` has been woken (it is pending, has reached the await --
// `arrived` -- and is parked on nothing: queued to resume) and cancels it
// then, with the message "woken". False when it resumed (finished, or
// parked again) before that was seen.
//
// Why polling with sleep(0) catches the window: the wake-up queues the
// task's step behind everything ready; this loop's own step is queued every
// tick, so whether the wake-up comes before or after it in a batch, this
// loop runs once more before the woken task does.
inline task<bool> cancel_once_woken(task_handle<> h, const bool& arrived) {
    for (int i = 0; i < 5000; ++i) {
        if (h.done()) co_return false;
        std::optional<call_graph> g = capture_call_graph(h);
        if (arrived && g && g->operation.empty()) {
            EXPECT_TRUE(h.cancel("woken"));
            co_return true;
        }
        co_await sleep(std::chrono::milliseconds(0));
    }
    co_return false;
}

// Awaits `h`: true when it ended cancelled, with cancelled_error carrying
// `message`.
inline task<bool> ends_cancelled(task_handle<> h, std::string message) {
    try {
        co_await h;
    } catch (const cancelled_error& e) {
        EXPECT_EQ(e.message(), message);
        co_return h.cancelled();
    } catch (...) {
        ADD_FAILURE() << "the task failed instead of being cancelled";
        co_return false;
    }
    ADD_FAILURE() << "the task returned instead of being cancelled";
    co_return false;
}

// Ticks until `h` is done (false if it is not after many ticks).
inline task<bool> settles(task_handle<> h) {
    for (int i = 0; i < 5000 && !h.done(); ++i) co_await sleep(std::chrono::milliseconds(0));
    co_return h.done();
}

// Cancels `h` if it is still pending and waits for its end, whatever it is.
inline task<> stop_waiter(task_handle<> h) {
    if (h.done()) co_return;
    h.cancel();
    try {
        co_await h;
    } catch (...) {
    }
}

} // namespace protocol_test
