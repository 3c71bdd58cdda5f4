// http::serve under bad input and slow or vanishing peers: malformed
// requests, bad chunk sizes, limits, slowloris, resets, timeouts, and the
// graceful shutdown. After each, the server goes on serving.
#include "http_test_util.hpp"

using namespace http_test;

namespace {

ua::task<http::response> hello(http::request&) { co_return http::response::text("Hello, World!"); }

ua::task<http::response> echo(http::request& req) { co_return http::response::text(req.body()); }

http::router small_app() {
    http::router app;
    app.get("/hello", hello);
    app.post("/echo", echo);
    return app;
}

// One request on a fresh connection: the answer, and whether the server
// closed the connection after it.
struct exchange_result {
    std::optional<raw_response> response;
    bool closed = false;
};

ua::task<exchange_result> exchange(std::uint16_t port, std::string bytes) {
    auto [r, w] = co_await ua::open_connection("127.0.0.1", port);
    w.write(std::move(bytes));
    exchange_result out;
    out.response = co_await read_response(r);
    out.closed = (co_await read_to_end(r)).empty() && r.at_eof();
    w.close();
    co_return out;
}

// The server still answers a normal request.
ua::task<bool> still_serving(std::uint16_t port) {
    exchange_result e = co_await exchange(port, "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    co_return e.response && e.response->status == 200 && e.response->body == "Hello, World!";
}

ua::task<> bad_requests() {
    http::server_options o;
    o.max_header_size = 1024;
    o.max_body_size = 1000;
    http::server srv = co_await http::serve(small_app(), "127.0.0.1", 0, o);
    const auto p = srv.port();
    struct bad_case {
        const char* what;
        std::string bytes;
        int status;
    };
    std::vector<bad_case> cases;
    cases.push_back({"malformed request line", "GARBAGE\r\n\r\n", 400});
    cases.push_back({"no version", "GET /hello\r\nHost: x\r\n\r\n", 400});
    cases.push_back({"bad version", "GET /hello HTTP/9.9x\r\nHost: x\r\n\r\n", 400});
    cases.push_back({"header without colon", "GET /hello HTTP/1.1\r\nBad Header\r\n\r\n", 400});
    cases.push_back({"bad chunk size", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhi\r\n0\r\n\r\n", 400});
    cases.push_back({"chunk size overflow",
                     "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n", 400});
    cases.push_back({"bad content length", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\nab", 400});
    cases.push_back({"two content lengths",
                     "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400});
    cases.push_back({"header over the limit",
                     "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n", 431});
    cases.push_back({"request line over the limit", "GET /" + std::string(3000, 'a') + " HTTP/1.1\r\n\r\n", 431});
    cases.push_back({"announced body over the limit",
                     "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + std::string(5000, 'b'), 413});
    cases.push_back({"chunked body over the limit",
                     "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
                         std::string("3e8\r\n") + std::string(1000, 'c') + "\r\n10\r\n" + std::string(16, 'd') +
                         "\r\n0\r\n\r\n",
                     413});
    for (const bad_case& c : cases) {
        exchange_result e = co_await exchange(p, c.bytes);
        EXPECT_TRUE(e.response) << c.what;
        if (e.response) {
            EXPECT_EQ(e.response->status, c.status) << c.what << "\n" << e.response->head;
            EXPECT_TRUE(e.response->has("Connection: close")) << c.what;
        }
        EXPECT_TRUE(e.closed) << c.what;
        EXPECT_TRUE(co_await still_serving(p)) << "after " << c.what;
    }
    // A body exactly at the limit is fine.
    exchange_result ok = co_await exchange(p, "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 1000\r\n\r\n" +
                                                  std::string(1000, 'e'));
    EXPECT_TRUE(ok.response && ok.response->status == 200 && ok.response->body.size() == 1000);
    srv.close();
    co_await srv.wait_closed();
}

TEST(HttpServerAbuse, BadRequestsAreAnsweredAndClosed) { run_test(bad_requests()); }

// A head of exactly max_header_size bytes is served, one byte more is 431,
// however the head reaches the parser. (The server reads a new connection's
// first bytes into a 192-byte buffer, so these heads reach Beast in two
// parts; Beast takes a head field by field and limits only what one call
// is given, so without the server's own check of the whole head a head of
// up to twice the limit got through when it arrived in parts. Found by the
// fuzz target.)
std::string head_of(std::size_t size) {
    std::string head = "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n";
    constexpr std::size_t field = 18, last = 9; // "X-F1000: abcdefg\r\n"; "X-P: " + value + "\r\n\r\n"
    for (int i = 0; head.size() + field + last + 1 <= size; ++i) head += "X-F" + std::to_string(1000 + i) + ": abcdefg\r\n";
    head += "X-P: " + std::string(size - head.size() - last, 'p') + "\r\n\r\n";
    return head;
}

ua::task<> header_limit_whole_head() {
    http::server_options o;
    o.max_header_size = 1024;
    http::server srv = co_await http::serve(small_app(), "127.0.0.1", 0, o);
    const std::string at_limit = head_of(1024), over = head_of(1025);
    EXPECT_EQ(at_limit.size(), 1024u);
    EXPECT_EQ(over.size(), 1025u);
    exchange_result e = co_await exchange(srv.port(), at_limit);
    CO_ASSERT(e.response);
    EXPECT_EQ(e.response->status, 200);
    e = co_await exchange(srv.port(), over);
    CO_ASSERT(e.response);
    EXPECT_EQ(e.response->status, 431);
    EXPECT_TRUE(e.closed);
    // Written in two parts, the first one a complete request line.
    auto [r, w] = co_await ua::open_connection("127.0.0.1", srv.port());
    w.write(std::string_view(over).substr(0, 100));
    co_await w.drain();
    w.write(std::string_view(over).substr(100));
    std::optional<raw_response> resp = co_await read_response(r);
    CO_ASSERT(resp);
    EXPECT_EQ(resp->status, 431);
    w.close();
    EXPECT_TRUE(co_await still_serving(srv.port()));
    srv.close();
    co_await srv.wait_closed();
}

TEST(HttpServerAbuse, HeaderLimitIsOnTheWholeHeadHoweverItArrives) { run_test(header_limit_whole_head()); }

// 50 slowloris connections trickle header bytes; a normal client keeps
// being answered; the slow ones get 408 at their deadline and are closed.
ua::task<> slowloris() {
    http::server_options o;
    o.header_timeout = std::chrono::milliseconds(1000);
    http::server srv = co_await http::serve(small_app(), "127.0.0.1", 0, o);
    const auto p = srv.port();
    int answered_408 = 0, closed = 0;
    auto slow = [&]() -> ua::task<> {
        auto [r, w] = co_await ua::open_connection("127.0.0.1", p);
        auto reader = ua::create_task(read_response(r));
        const std::string head = "GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: ";
        for (std::size_t i = 0; !reader.done(); ++i) { // one byte every 20 ms: the attack
            try {
                w.write(std::string_view(i < head.size() ? &head[i] : "a", 1));
                co_await w.drain();
            } catch (const std::exception&) {
                break;
            }
            co_await ua::sleep(std::chrono::milliseconds(20));
        }
        auto resp = co_await reader;
        if (resp && resp->status == 408) ++answered_408;
        if ((co_await read_to_end(r)).empty()) ++closed;
    };
    std::vector<ua::task_handle<>> attackers;
    for (int i = 0; i < 50; ++i) attackers.push_back(ua::create_task(slow()));
    // Meanwhile: one keep-alive client, request after request.
    auto [r, w] = co_await ua::open_connection("127.0.0.1", p);
    int normal = 0;
    auto worst = std::chrono::steady_clock::duration::zero();
    while (std::any_of(attackers.begin(), attackers.end(), [](auto& t) { return !t.done(); })) {
        const auto t0 = std::chrono::steady_clock::now();
        w.write("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
        auto resp = co_await read_response(r);
        worst = std::max(worst, std::chrono::steady_clock::now() - t0);
        CO_ASSERT(resp && resp->status == 200);
        ++normal;
        co_await ua::sleep(std::chrono::milliseconds(5));
    }
    for (auto& t : attackers) co_await t;
    EXPECT_EQ(answered_408, 50);
    EXPECT_EQ(closed, 50);
    EXPECT_GT(normal, 20);
    // Loose on purpose (a shared machine): waiting behind the slow ones
    // would take the header timeout, 1 s.
    EXPECT_LT(worst, std::chrono::milliseconds(600)) << "a normal request waited behind the slow ones";
    EXPECT_TRUE(co_await until([&] { return srv.connections() == 1; }));
    w.close();
    srv.close();
    co_await srv.wait_closed();
    EXPECT_EQ(srv.connections(), 0u);
}

TEST(HttpServerAbuse, SlowlorisOnFiftyConnectionsWhileANormalClientIsServed) { run_test(slowloris()); }

ua::task<> resets() {
    http::server srv = co_await http::serve(small_app(), "127.0.0.1", 0);
    const auto p = srv.port();
    const std::vector<std::string> partial = {
        "GET /hel",
        "GET /hello HTTP/1.1\r\nHost: x\r\n",
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc",
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc",
        "GET /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\n", // one answered, one cut
    };
    for (int round = 0; round < 4; ++round) {
        for (const std::string& bytes : partial) {
            auto [r, w] = co_await ua::open_connection("127.0.0.1", p);
            w.write(bytes);
            co_await w.drain();
            co_await ua::sleep(std::chrono::milliseconds(0)); // the server reads some of it, or not
            uv_os_fd_t fd = -1;
            uv_fileno(reinterpret_cast<uv_handle_t*>(w.native_handle()), &fd);
            linger l{1, 0};
            ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
            w.abort(); // RST
        }
    }
    EXPECT_TRUE(co_await still_serving(p));
    EXPECT_TRUE(co_await until([&] { return srv.connections() == 0; }));
    srv.close();
    co_await srv.wait_closed();
}

TEST(HttpServerAbuse, AbruptResetsMidRequest) { run_test(resets()); }

ua::task<> timeouts() {
    http::server_options o;
    o.keep_alive_timeout = std::chrono::milliseconds(200);
    o.body_timeout = std::chrono::milliseconds(200);
    o.header_timeout = std::chrono::milliseconds(300);
    http::server srv = co_await http::serve(small_app(), "127.0.0.1", 0, o);
    const auto p = srv.port();
    {   // idle keep-alive: closed without an answer
        auto [r, w] = co_await ua::open_connection("127.0.0.1", p);
        w.write("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
        auto resp = co_await read_response(r);
        CO_ASSERT(resp && resp->status == 200);
        const auto t0 = std::chrono::steady_clock::now();
        EXPECT_EQ(co_await read_to_end(r), "");
        EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(150));
    }
    {   // a connection that never sends anything: closed at the header deadline
        auto [r, w] = co_await ua::open_connection("127.0.0.1", p);
        EXPECT_EQ(co_await read_to_end(r), "");
    }
    {   // a body that stalls: 408
        auto [r, w] = co_await ua::open_connection("127.0.0.1", p);
        w.write("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
        auto resp = co_await read_response(r);
        CO_ASSERT(resp);
        EXPECT_EQ(resp->status, 408);
        EXPECT_EQ(co_await read_to_end(r), "");
    }
    {   // a head that stalls: 408
        auto [r, w] = co_await ua::open_connection("127.0.0.1", p);
        w.write("GET /hello HTTP/1.1\r\nHost:");
        auto resp = co_await read_response(r);
        CO_ASSERT(resp);
        EXPECT_EQ(resp->status, 408);
    }
    EXPECT_TRUE(co_await still_serving(p));
    srv.close();
    co_await srv.wait_closed();
}

TEST(HttpServerAbuse, KeepAliveHeaderAndBodyTimeouts) { run_test(timeouts()); }

ua::task<> graceful_shutdown() {
    ua::event release;
    int started = 0;
    http::router app = small_app();
    app.get("/wait", [&](http::request&) -> ua::task<http::response> {
        ++started;
        co_await release.wait();
        co_return http::response::text("waited");
    });
    http::server srv = co_await http::serve(std::move(app), "127.0.0.1", 0);
    const auto p = srv.port();

    auto [hr, hw] = co_await ua::open_connection("127.0.0.1", p); // half a head sent
    hw.write("GET /hello HTTP/1.1\r\n");
    co_await hw.drain();
    auto [br, bw] = co_await ua::open_connection("127.0.0.1", p); // busy in its handler
    bw.write("GET /wait HTTP/1.1\r\nHost: x\r\n\r\n");
    co_await bw.drain();
    // Idle after one request. Its answer also shows that the server has read
    // what the others sent before (loopback delivers in the write itself).
    auto [ir, iw] = co_await ua::open_connection("127.0.0.1", p);
    iw.write("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    CO_ASSERT(co_await read_response(ir));
    CO_ASSERT(co_await until([&] { return started == 1 && srv.connections() == 3; }));

    srv.close();
    EXPECT_EQ(co_await read_to_end(ir), ""); // the idle one goes at once
    bool refused = false;
    try {
        auto conn = co_await ua::open_connection("127.0.0.1", p);
    } catch (const std::system_error& e) {
        refused = e.code() == std::errc::connection_refused;
    }
    EXPECT_TRUE(refused);

    hw.write("Host: x\r\n\r\n"); // the half-sent request is finished and answered
    auto h = co_await read_response(hr);
    CO_ASSERT(h);
    EXPECT_EQ(h->status, 200);
    EXPECT_TRUE(h->has("Connection: close"));
    EXPECT_EQ(co_await read_to_end(hr), "");
    hw.close(); // (the server reads on until the peer closes: see lingering)

    release.set(); // the busy one finishes
    auto b = co_await read_response(br);
    CO_ASSERT(b);
    EXPECT_EQ(b->body, "waited");
    EXPECT_TRUE(b->has("Connection: close"));
    EXPECT_EQ(co_await read_to_end(br), "");
    bw.close();
    co_await srv.wait_closed();
    EXPECT_EQ(srv.connections(), 0u);
}

TEST(HttpServerAbuse, GracefulShutdown) { run_test(graceful_shutdown()); }

ua::task<> shutdown_timeout() {
    ua::event never;
    bool started = false, cancelled = false;
    http::router app;
    app.get("/stuck", [&](http::request&) -> ua::task<http::response> {
        started = true;
        try {
            co_await never.wait();
        } catch (const ua::cancelled_error&) {
            cancelled = true;
            throw;
        }
        co_return http::response(200);
    });
    http::server_options o;
    o.shutdown_timeout = std::chrono::milliseconds(100);
    http::server srv = co_await http::serve(std::move(app), "127.0.0.1", 0, o);
    auto [r, w] = co_await ua::open_connection("127.0.0.1", srv.port());
    w.write("GET /stuck HTTP/1.1\r\nHost: x\r\n\r\n");
    CO_ASSERT(co_await until([&] { return started; }));
    srv.close();
    co_await srv.wait_closed(); // returns once the stuck handler was cancelled
    EXPECT_TRUE(cancelled);
    EXPECT_EQ(co_await read_to_end(r), "");
}

TEST(HttpServerAbuse, ShutdownTimeoutCancelsStuckHandlers) { run_test(shutdown_timeout()); }

} // namespace
