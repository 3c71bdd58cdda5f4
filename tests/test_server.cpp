// start_server / server (docs/api.md): many clients, back-pressure, closing,
// serve_forever, handler failures, loop shutdown with live connections.
#include "stream_test_util.hpp"

#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

using namespace uvasync;
using namespace stream_test;

namespace {

task<> send_all(stream_writer* w, const std::string* data) {
    constexpr std::size_t chunk = 64 * 1024;
    for (std::size_t off = 0; off < data->size(); off += chunk) {
        w->write(std::string_view(*data).substr(off, chunk));
        co_await w->drain();
    }
    w->write_eof();
}

task<> echo_client(std::uint16_t port, unsigned seed, std::size_t* checked) {
    const std::string data = pattern(1024 * 1024, seed);
    auto [r, w] = co_await open_connection("127.0.0.1", port);
    task_handle<> sender = create_task(send_all(&w, &data));
    std::string back = co_await r.readexactly(data.size());
    EXPECT_TRUE(back == data) << "client " << seed << " got different bytes";
    EXPECT_EQ(co_await r.read(), ""); // then EOF, nothing more
    co_await sender;
    *checked += back.size();
    w.close();
    co_await w.wait_closed();
}

task<> hundred_clients() {
    server srv = co_await start_server(echo_handler, "127.0.0.1", 0);
    std::size_t checked = 0;
    std::vector<task_handle<>> clients;
    for (unsigned i = 0; i < 100; ++i) clients.push_back(create_task(echo_client(srv.port(), i, &checked)));
    for (auto& c : clients) co_await c;
    EXPECT_EQ(checked, 100u * 1024 * 1024);
    srv.close();
    co_await srv.wait_closed();
    EXPECT_FALSE(srv.is_serving());
}

TEST(StreamServer, HundredConcurrentClientsEchoOneMiBEach) { run_test(hundred_clients(), std::chrono::seconds(60)); }

// 2,000 writes of 100 KiB to a reader that reads in small pieces: drain
// keeps the writer's buffer within high water + one write, and every byte
// arrives in order.
constexpr std::size_t big_write = 100 * 1024;
constexpr int big_writes = 2000;
constexpr std::size_t rotations = 251;

const std::string& rotating_base() {
    static const std::string base = pattern(big_write + rotations, 42);
    return base;
}
std::string_view write_number(int i) { return std::string_view(rotating_base()).substr(i % rotations, big_write); }

task<> slow_reader(stream_reader r, stream_writer w) {
    std::size_t pos = 0;
    bool in_order = true;
    for (;;) {
        std::string piece = co_await r.read(16 * 1024);
        if (piece.empty()) break;
        std::size_t done = 0;
        while (done < piece.size()) { // compare against what write number k carried
            const std::size_t k = pos / big_write, within = pos % big_write;
            const std::size_t n = std::min(piece.size() - done, big_write - within);
            if (std::memcmp(piece.data() + done, write_number(static_cast<int>(k)).data() + within, n) != 0)
                in_order = false;
            done += n;
            pos += n;
        }
        co_await sleep(0ms); // let the writer run: it must wait in drain
    }
    EXPECT_TRUE(in_order);
    w.write(std::to_string(pos));
    w.close();
}

task<> bounded_buffer() {
    server srv = co_await start_server(slow_reader, "127.0.0.1", 0);
    auto [r, w] = co_await open_connection("127.0.0.1", srv.port());
    const std::size_t high = w.get_write_buffer_limits().second;
    std::size_t max_seen = 0;
    int waited = 0;
    for (int i = 0; i < big_writes; ++i) {
        w.write(write_number(i));
        max_seen = std::max(max_seen, w.get_write_buffer_size());
        if (w.get_write_buffer_size() > high) ++waited;
        co_await w.drain();
        EXPECT_LE(w.get_write_buffer_size(), high);
    }
    w.write_eof();
    EXPECT_LE(max_seen, high + big_write);
    EXPECT_GT(waited, 0); // the reader was slow enough for drain to wait
    EXPECT_EQ(co_await r.read(), std::to_string(std::size_t(big_writes) * big_write));
}

TEST(StreamServer, DrainKeepsWriteBufferBoundedWithSlowReader) { run_test(bounded_buffer(), std::chrono::seconds(60)); }

task<> many_drains() {
    auto release = std::make_shared<bool>(false);
    client_connected_handler h = [release](stream_reader r, stream_writer w) -> task<> {
        auto released = [release] { return *release; };
        co_await until(released);
        std::string all = co_await r.read();
        w.write(std::to_string(all.size()));
        w.close();
    };
    server srv = co_await start_server(std::move(h), "127.0.0.1", 0);
    auto [r, w] = co_await open_connection("127.0.0.1", srv.port());
    w.set_write_buffer_limits(4096);
    const std::string chunk(1024 * 1024, 'd');
    std::size_t total = 0;
    for (int i = 0; i < 64 && w.get_write_buffer_size() <= 4096; ++i) {
        w.write(std::string_view(chunk));
        total += chunk.size();
    }
    std::vector<task_handle<>> drains;
    for (int i = 0; i < 10; ++i) drains.push_back(create_task(w.drain()));
    co_await sleep(0ms);
    for (auto& d : drains) EXPECT_FALSE(d.done());
    *release = true;
    for (auto& d : drains) co_await d; // every one completes
    w.write_eof();
    EXPECT_EQ(co_await r.read(), std::to_string(total));
}

TEST(StreamServer, ManyConcurrentDrainsAllComplete) { run_test(many_drains()); }

task<> close_and_wait_closed() {
    server srv = co_await start_server(echo_handler, "127.0.0.1", 0);
    EXPECT_TRUE(srv.is_serving());
    const std::uint16_t port = srv.port();
    EXPECT_NE(port, 0);
    EXPECT_EQ(srv.sockets().size(), 1u);
    EXPECT_EQ(srv.sockname(), endpoint("127.0.0.1", port));
    auto [r, w] = co_await open_connection("127.0.0.1", port);
    w.write("ping");
    EXPECT_EQ(co_await r.readexactly(4), "ping");
    srv.close();
    srv.close(); // idempotent
    EXPECT_FALSE(srv.is_serving());
    EXPECT_TRUE(srv.sockets().empty());
    // wait_closed waits for the open connection too (asyncio 3.12).
    task_handle<> waiting = create_task(srv.wait_closed());
    co_await sleep(0ms);
    co_await sleep(0ms);
    EXPECT_FALSE(waiting.done());
    // The accepted connection still works; new ones are refused.
    w.write("pong");
    EXPECT_EQ(co_await r.readexactly(4), "pong");
    EXPECT_THROW((void)co_await open_connection("127.0.0.1", port), std::system_error);
    w.close();
    co_await waiting;
    EXPECT_EQ(co_await r.read(), "");
}

TEST(StreamServer, CloseStopsListeningWaitClosedWaitsForConnections) { run_test(close_and_wait_closed()); }

task<> serve_forever_cancelled() {
    server srv = co_await start_server(echo_handler, "127.0.0.1", 0);
    task_handle<> forever = create_task(srv.serve_forever());
    co_await sleep(0ms);
    EXPECT_FALSE(forever.done());
    EXPECT_THROW(co_await srv.serve_forever(), std::runtime_error); // only one at a time
    forever.cancel();
    EXPECT_THROW(co_await forever, cancelled_error);
    EXPECT_FALSE(srv.is_serving()); // cancelling it closed the server
    co_await srv.wait_closed();
    EXPECT_THROW(co_await srv.serve_forever(), std::runtime_error); // closed
}

TEST(StreamServer, ServeForeverCancelledClosesServer) { run_test(serve_forever_cancelled()); }

task<> closer(server* srv) {
    co_await sleep(0ms);
    srv->close();
}

task<> serve_forever_returns() {
    server srv = co_await start_server(echo_handler, "127.0.0.1", 0);
    task_handle<> c = create_task(closer(&srv));
    co_await srv.serve_forever(); // returns when closed
    EXPECT_FALSE(srv.is_serving());
    co_await c;
}

TEST(StreamServer, ServeForeverReturnsWhenClosed) { run_test(serve_forever_returns()); }

task<> address_in_use() {
    server a = co_await start_server(echo_handler, "127.0.0.1", 0);
    try {
        server b = co_await start_server(echo_handler, "127.0.0.1", a.port());
        ADD_FAILURE() << "second bind succeeded";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), std::errc::address_in_use) << e.what();
        EXPECT_NE(std::string(e.what()).find(std::to_string(a.port())), std::string::npos) << e.what();
    }
    // With SO_REUSEPORT two servers share a port.
    server_options opts;
    opts.reuse_port = true;
    server c = co_await start_server(echo_handler, "127.0.0.1", 0, opts);
    server d = co_await start_server(echo_handler, "127.0.0.1", c.port(), opts);
    EXPECT_EQ(c.port(), d.port());
    server_options bad;
    bad.limit = 0;
    EXPECT_THROW((void)co_await start_server(echo_handler, "127.0.0.1", 0, bad), std::invalid_argument);
}

TEST(StreamServer, AddressInUseAndReusePort) { run_test(address_in_use()); }

task<> all_interfaces_and_names() {
    server any = co_await start_server(echo_handler, "", 0);
    EXPECT_GE(any.sockets().size(), 1u);
    for (const endpoint& e : any.sockets()) EXPECT_EQ(e.port(), any.port());
    auto [r, w] = co_await open_connection("127.0.0.1", any.port());
    w.write("x");
    EXPECT_EQ(co_await r.readexactly(1), "x");
    server local = co_await start_server(echo_handler, "localhost", 0);
    auto [r2, w2] = co_await open_connection("localhost", local.port());
    w2.write("y");
    EXPECT_EQ(co_await r2.readexactly(1), "y");
}

TEST(StreamServer, AllInterfacesAndHostNames) { run_test(all_interfaces_and_names()); }

struct reports {
    std::vector<std::string> messages;
    std::vector<std::string> what;
};

task<> handler_failures(reports* seen) {
    get_running_loop().set_exception_handler([seen](event_loop&, const exception_context& ctx) {
        seen->messages.push_back(ctx.message);
        try {
            if (ctx.exception) std::rethrow_exception(ctx.exception);
        } catch (const std::exception& e) {
            seen->what.push_back(e.what());
        } catch (...) {
            seen->what.push_back("?");
        }
    });
    client_connected_handler h = [](stream_reader r, stream_writer w) -> task<> {
        std::string cmd = co_await r.readline();
        if (cmd == "fail\n") throw std::runtime_error("handler failed");
        if (cmd == "cancel\n") {
            current_task()->cancel();
            co_await sleep(0ms); // cancelled here
        }
        w.write("ok\n");
    };
    server srv = co_await start_server(std::move(h), "127.0.0.1", 0);
    for (const char* cmd : {"fail\n", "cancel\n", "fine\n"}) {
        auto [r, w] = co_await open_connection("127.0.0.1", srv.port());
        w.write(cmd);
        std::string answer = co_await r.read();
        EXPECT_EQ(answer, std::string(cmd) == "fine\n" ? "ok\n" : "") << cmd;
    }
    srv.close();
    co_await srv.wait_closed();
}

TEST(StreamServer, HandlerExceptionReportedCancellationNot) {
    reports seen;
    run_test(handler_failures(&seen));
    ASSERT_EQ(seen.messages.size(), 1u);
    EXPECT_EQ(seen.messages[0], "Unhandled exception in client_connected_cb");
    EXPECT_EQ(seen.what[0], "handler failed");
}

task<> close_and_abort_clients() {
    client_connected_handler h = [](stream_reader r, stream_writer w) -> task<> {
        w.write("hello\n");
        std::string rest = co_await r.read(); // until the server closes us
        (void)rest;
    };
    server srv = co_await start_server(std::move(h), "127.0.0.1", 0);
    auto [r1, w1] = co_await open_connection("127.0.0.1", srv.port());
    auto [r2, w2] = co_await open_connection("127.0.0.1", srv.port());
    EXPECT_EQ(co_await r1.readline(), "hello\n");
    EXPECT_EQ(co_await r2.readline(), "hello\n");
    srv.close_clients();
    EXPECT_EQ(co_await r1.read(), ""); // graceful: EOF
    EXPECT_EQ(co_await r2.read(), "");
    auto [r3, w3] = co_await open_connection("127.0.0.1", srv.port());
    EXPECT_EQ(co_await r3.readline(), "hello\n");
    srv.abort_clients();
    std::string tail;
    try {
        tail = co_await r3.read();
    } catch (const std::system_error&) {
    }
    EXPECT_EQ(tail, "");
    srv.close();
    co_await srv.wait_closed();
}

TEST(StreamServer, CloseClientsAndAbortClients) { run_test(close_and_abort_clients()); }

task<> dropping_handle_closes() {
    std::uint16_t port = 0;
    {
        server srv = co_await start_server(echo_handler, "127.0.0.1", 0);
        port = srv.port();
    }
    EXPECT_THROW((void)co_await open_connection("127.0.0.1", port), std::system_error);
    server a = co_await start_server(echo_handler, "127.0.0.1", 0);
    server b = std::move(a);
    EXPECT_FALSE(a.valid());
    EXPECT_TRUE(b.is_serving());
    EXPECT_FALSE(a.is_serving());
}

TEST(StreamServer, DroppingLastHandleClosesServer) { run_test(dropping_handle_closes()); }

// Leaves a server, connections, a pending read, a pending drain, serve_forever
// and a connect in flight, then closes the loop: everything is freed (ASan).
task<> leave_everything_pending(std::vector<task_handle<>>* keep) {
    client_connected_handler h = [](stream_reader r, stream_writer w) -> task<> {
        w.write("hi");
        std::string never = co_await r.readexactly(1000000);
    };
    server started = co_await start_server(std::move(h), "127.0.0.1", 0);
    auto* srv = new server(std::move(started));
    keep->push_back(create_task([](server* s) -> task<> {
        std::unique_ptr<server> own(s);
        co_await s->serve_forever();
    }(srv)));
    auto [r, w] = co_await open_connection("127.0.0.1", srv->port());
    keep->push_back(create_task([](stream_reader rd) -> task<> { (void)co_await rd.readexactly(1000); }(std::move(r))));
    w.set_write_buffer_limits(1);
    w.write(std::string(4 * 1024 * 1024, 'p'));
    keep->push_back(create_task([](stream_writer wr) -> task<> { co_await wr.drain(); }(std::move(w))));
    keep->push_back(create_task([](std::uint16_t p) -> task<> {
        auto rw = co_await open_connection("127.0.0.1", p);
        (void)co_await rw.first.read();
    }(srv->port())));
    co_await sleep(0ms);
}

TEST(StreamServer, ClosingLoopWithLiveConnectionsFreesEverything) {
    std::vector<task_handle<>> keep;
    {
        event_loop loop;
        loop.run_until_complete(leave_everything_pending(&keep));
        for (auto& t : keep) EXPECT_FALSE(t.done());
        loop.close();
    }
    for (auto& t : keep) EXPECT_TRUE(t.done());
}

} // namespace
