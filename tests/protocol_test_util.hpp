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
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

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

// Runs `body` on a loop of its own, whose exception handler records what it
// hears, under a deadline; then cancels what is left, joins the default
// executor, runs the libuv loop until nothing is left armed or open (a timer,
// a socket or a request left behind makes this hang, and the test time out),
// and closes the loop. Returns what the handler heard.
inline std::vector<std::string> run_checked(task<> body) {
    std::vector<std::string> reports;
    {
        event_loop loop;
        loop.set_exception_handler(
            [&reports](event_loop&, const exception_context& ctx) { reports.push_back(ctx.message); });
        loop.run_until_complete(wait_for(std::move(body), std::chrono::seconds(30)));
        loop.cancel_all_tasks();
        loop.shutdown_default_executor();
        uv_run(loop.native_handle(), UV_RUN_DEFAULT);
        loop.close();
    }
    return reports;
}

inline void expect_no_reports(const std::vector<std::string>& reports) {
    for (const std::string& r : reports) ADD_FAILURE() << "the loop's exception handler was called: " << r;
}

// The server's side of a connection, kept by the test.
struct peer_slot {
    stream_reader r;
    stream_writer w;
    event connected;
    event release;
};

inline task<> hold_peer(std::shared_ptr<peer_slot> slot, stream_reader r, stream_writer w) {
    slot->r = std::move(r);
    slot->w = std::move(w);
    slot->connected.set();
    co_await slot->release.wait();
}

// A connection to a server of the test's own, both ends at hand.
class tcp_pair {
public:
    task<> open() {
        slot_ = std::make_shared<peer_slot>();
        client_connected_handler h = std::bind_front(&hold_peer, slot_);
        srv_ = co_await start_server(std::move(h), "127.0.0.1", 0);
        auto conn = co_await open_connection("127.0.0.1", srv_.port());
        r = std::move(conn.first);
        w = std::move(conn.second);
        co_await slot_->connected.wait();
    }
    task<> close() {
        if (!slot_) co_return;
        if (w.valid()) {
            w.abort();
            co_await w.wait_closed();
        }
        r = stream_reader();
        w = stream_writer();
        slot_->release.set();
        slot_->r = stream_reader();
        slot_->w = stream_writer();
        srv_.close();
        co_await srv_.wait_closed();
        slot_.reset();
    }
    stream_reader& peer_reader() { return slot_->r; }
    stream_writer& peer_writer() { return slot_->w; }

    stream_reader r;
    stream_writer w;

private:
    std::shared_ptr<peer_slot> slot_;
    server srv_;
};

} // namespace protocol_test
