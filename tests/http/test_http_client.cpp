// http::client against servers nobody here wrote (Python's http.server and
// an aiohttp server, started by the tests), and against http::serve.
#include "../open_descriptors.hpp"
#include "http_test_util.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>

using namespace http_test;

namespace {

bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

// Runs `fn(client_error&)` on the error `t` throws; fails if it does not.
template <class F> ua::task<> expect_client_error(ua::task<http::client_response> t, F check) {
    bool thrown = false;
    try {
        (void)co_await std::move(t);
    } catch (const http::client_error& e) {
        thrown = true;
        check(e);
    }
    EXPECT_TRUE(thrown) << "no client_error";
}

ua::task<> against_http_server() {
    peer_server peer = co_await start_peer(python, peers_dir + "/py_http_server.py");
    const auto p = peer.port;
    http::client session;

    http::client_response r = co_await session.get(url(p, "/hello"));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "hello from http.server");
    EXPECT_EQ(r.header("content-type").value_or(""), "text/plain");
    EXPECT_EQ(r.header("X-METHOD").value_or(""), "GET");
    EXPECT_EQ(r.url, url(p, "/hello"));

    r = co_await session.post(url(p, "/echo"), "some\0bytes", "application/x-thing");
    EXPECT_EQ(r.body, std::string("some"));
    const std::string binary("a\0b\0c", 5);
    r = co_await session.post(url(p, "/echo"), binary, "application/x-thing");
    EXPECT_EQ(r.body, binary);
    EXPECT_EQ(r.header("X-Content-Type").value_or(""), "application/x-thing");

    http::client_request put;
    put.method = "PUT";
    put.url = url(p, "/echo");
    put.body = "put body";
    put.headers.emplace_back("Content-Type", "text/plain");
    r = co_await session.request(put);
    EXPECT_EQ(r.body, "put body");
    EXPECT_EQ(r.header("X-Method").value_or(""), "PUT");

    http::client_request head;
    head.method = "HEAD";
    head.url = url(p, "/hello");
    r = co_await session.request(head);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "");

    r = co_await session.get(url(p, "/status/404")); // an error status is a response
    EXPECT_EQ(r.status, 404);

    // Redirects: followed, POST turned into GET by 303, loops cut.
    r = co_await session.get(url(p, "/redirect"));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "hello from http.server");
    EXPECT_EQ(r.url, url(p, "/hello"));
    r = co_await session.post(url(p, "/see-other"), "x", "text/plain");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("X-Method").value_or(""), "GET");
    co_await expect_client_error(session.get(url(p, "/loop")), [](const http::client_error& e) {
        EXPECT_EQ(e.code(), 47) << e.what(); // CURLE_TOO_MANY_REDIRECTS
    });
    http::client_options no_follow;
    no_follow.follow_redirects = false;
    http::client manual(no_follow);
    r = co_await manual.get(url(p, "/redirect"));
    EXPECT_EQ(r.status, 302);
    EXPECT_EQ(r.header("Location").value_or(""), "/hello");

    // Timeouts: the client's, and one request's own.
    http::client_options quick;
    quick.timeout = std::chrono::milliseconds(300);
    http::client impatient(quick);
    const auto t0 = std::chrono::steady_clock::now();
    co_await expect_client_error(impatient.get(url(p, "/slow")), [](const http::client_error& e) {
        EXPECT_TRUE(e.timed_out()) << e.what();
        EXPECT_TRUE(contains(e.what(), "/slow")) << e.what();
    });
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
    http::client_request slow;
    slow.url = url(p, "/slow");
    slow.timeout = std::chrono::milliseconds(200);
    co_await expect_client_error(session.request(slow), [](const http::client_error& e) {
        EXPECT_TRUE(e.timed_out()) << e.what();
    });
    // The session is fine afterwards.
    r = co_await session.get(url(p, "/hello"));
    EXPECT_EQ(r.status, 200);
}

TEST(HttpClient, AgainstPythonHttpServer) {
    if (!have(python)) GTEST_SKIP() << python << " is missing";
    run_test(against_http_server());
}

ua::task<> refused_and_bad_urls() {
    http::client session;
    co_await expect_client_error(session.get(url(unused_port(), "/")), [](const http::client_error& e) {
        EXPECT_EQ(e.code(), 7) << e.what(); // CURLE_COULDNT_CONNECT
        EXPECT_TRUE(contains(e.what(), "127.0.0.1")) << e.what();
    });
    static constexpr const char* bad_urls[] = {"not a url", "ftp://127.0.0.1/x", "http://", ""};
    for (const char* bad : bad_urls) {
        bool invalid = false;
        try {
            (void)co_await session.get(bad);
        } catch (const std::invalid_argument&) {
            invalid = true;
        }
        EXPECT_TRUE(invalid) << bad;
    }
    http::client_request evil;
    evil.url = "http://127.0.0.1:1/";
    evil.headers.emplace_back("X-Evil", "a\r\nInjected: yes");
    bool invalid = false;
    try {
        (void)co_await session.request(evil);
    } catch (const std::invalid_argument&) {
        invalid = true;
    }
    EXPECT_TRUE(invalid);
    EXPECT_EQ(session.active(), 0u);
}

TEST(HttpClient, ConnectionRefusedAndBadUrls) { run_test(refused_and_bad_urls()); }

// A listener whose backlog is full: the kernel drops further SYNs, so a
// connect to it neither succeeds nor fails. Closes everything it opened.
struct blackhole {
    std::vector<int> fds;
    std::uint16_t port = 0;
    blackhole() {
        const int l = ::socket(AF_INET, SOCK_STREAM, 0);
        fds.push_back(l);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        if (::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(l, 0) != 0 ||
            ::getsockname(l, reinterpret_cast<sockaddr*>(&a), &len) != 0)
            throw std::runtime_error("blackhole listener");
        port = ntohs(a.sin_port);
        for (int i = 0; i < 8; ++i) { // backlog 0 still queues one or two
            const int c = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            ::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a);
            fds.push_back(c);
        }
    }
    ~blackhole() {
        for (int fd : fds) ::close(fd);
    }
};

// connect_timeout bounds the connect alone: a server that never completes
// the handshake fails the request with a timeout, and the request's total
// timeout is not what ends it.
ua::task<> connect_timeout() {
    blackhole hole;
    http::client_options o;
    o.connect_timeout = std::chrono::milliseconds(300);
    o.timeout = std::chrono::seconds(30);
    http::client session(o);
    const auto t0 = std::chrono::steady_clock::now();
    co_await expect_client_error(session.get(url(hole.port, "/")), [](const http::client_error& e) {
        EXPECT_TRUE(e.timed_out()) << e.code() << " " << e.what();
    });
    const auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_GE(took, std::chrono::milliseconds(250));
    EXPECT_LT(took, std::chrono::seconds(10)); // not the 30 s total
    EXPECT_EQ(session.active(), 0u);
}

TEST(HttpClient, ConnectTimeoutOnAListenerThatNeverAccepts) { run_test(connect_timeout()); }

ua::task<> against_aiohttp() {
    peer_server peer = co_await start_peer(python, peers_dir + "/aiohttp_server.py");
    const auto p = peer.port;
    http::client_options o;
    o.limit_per_host = 10;
    http::client session(o);

    http::client_request with_headers;
    with_headers.url = url(p, "/headers");
    with_headers.headers.emplace_back("X-Custom", "custom value");
    with_headers.headers.emplace_back("X-Empty", "");
    http::client_response r = co_await session.request(with_headers);
    EXPECT_TRUE(contains(r.body, R"("X-Custom": "custom value")")) << r.body;
    EXPECT_TRUE(contains(r.body, R"("X-Empty": "")")) << r.body;

    r = co_await session.get(url(p, "/gzip")); // decoded for us
    EXPECT_EQ(r.header("Content-Encoding").value_or(""), "gzip");
    EXPECT_EQ(r.body.size(), std::string("compressible ").size() * 10000);

    const std::string big(1000 * 1000 + 3, 'z'); // (aiohttp's client_max_size is 1 MiB)
    r = co_await session.post(url(p, "/echo"), big);
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(r.body == big) << r.body.substr(0, 200);

    // 1,000 concurrent GETs through at most 10 connections.
    std::vector<ua::task<http::client_response>> gets;
    for (int i = 0; i < 1000; ++i) gets.push_back(session.get(url(p, "/hello")));
    std::vector<http::client_response> all = co_await ua::gather(std::move(gets));
    EXPECT_EQ(all.size(), 1000u);
    EXPECT_TRUE(std::all_of(all.begin(), all.end(),
                            [](auto& x) { return x.status == 200 && x.body == "hello from aiohttp"; }));
    r = co_await session.get(url(p, "/stats"));
    const auto number = [&](const char* key) {
        const auto at = r.body.find(key);
        return at == std::string::npos ? -1 : std::atoi(r.body.c_str() + at + std::strlen(key) + 3);
    };
    EXPECT_GT(number("connections"), 0) << r.body;
    EXPECT_LE(number("connections"), 10) << r.body; // and so never more than 10 open
    EXPECT_LE(number("max_open"), 10) << r.body;
}

TEST(HttpClient, AgainstAiohttpThousandGetsThroughTenConnections) {
    if (!have(python)) GTEST_SKIP() << python << " is missing";
    run_test(against_aiohttp());
}

ua::task<> against_us() {
    std::size_t most_open = 0;
    http::server* self = nullptr;
    http::router app;
    app.get("/n/{i}", [&](http::request& req) -> ua::task<http::response> {
        most_open = std::max(most_open, self->connections());
        co_await ua::sleep(std::chrono::milliseconds(1));
        co_return http::response::text(std::string(req.param("i")));
    });
    app.post("/echo", [](http::request& req) -> ua::task<http::response> {
        co_return http::response::text(req.body());
    });
    http::server_options so;
    so.max_body_size = 8 * 1024 * 1024;
    http::server srv = co_await http::serve(std::move(app), "127.0.0.1", 0, so);
    self = &srv;
    http::client_options o;
    o.limit_per_host = 10;
    http::client session(o);
    std::vector<ua::task<http::client_response>> gets;
    for (int i = 0; i < 1000; ++i) gets.push_back(session.get(url(srv.port(), "/n/" + std::to_string(i))));
    std::vector<http::client_response> all = co_await ua::gather(std::move(gets));
    for (int i = 0; i < 1000; ++i) {
        EXPECT_EQ(all[i].status, 200);
        EXPECT_EQ(all[i].body, std::to_string(i));
    }
    EXPECT_GT(most_open, 0u);
    EXPECT_LE(most_open, 10u); // counted by the server, as requests arrived
    const std::string big(3 * 1024 * 1024, 'q');
    http::client_response r = co_await session.post(url(srv.port(), "/echo"), big); // with Expect: 100-continue
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body.size(), big.size());
    srv.close();
    co_await srv.wait_closed();
}

TEST(HttpClient, AgainstUvasyncServerLimitPerHostCountedByTheServer) { run_test(against_us()); }

// A server that sends a head and part of a body, then waits: the client is
// cancelled mid-body, and the server sees its connection closed.
ua::task<> cancel_mid_body() {
    ua::event sent, peer_closed;
    auto stall = [&](ua::stream_reader r, ua::stream_writer w) -> ua::task<> {
        (void)co_await r.readuntil("\r\n\r\n");
        w.write("HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + std::string(1000, 'p'));
        co_await w.drain();
        sent.set();
        try {
            (void)co_await r.read(); // until the client goes
        } catch (const std::exception&) {
        }
        peer_closed.set();
    };
    ua::server srv = co_await ua::start_server(stall, "127.0.0.1", 0);
    http::client session;
    auto t = ua::create_task(session.get(url(srv.port(), "/big")));
    co_await sent.wait();
    co_await ua::sleep(std::chrono::milliseconds(0)); // (the part may or may not have arrived)
    EXPECT_EQ(session.active(), 1u);
    t.cancel();
    EXPECT_EQ(session.active(), 0u); // out of the multi handle at once
    bool cancelled = false;
    try {
        (void)co_await t;
    } catch (const ua::cancelled_error&) {
        cancelled = true;
    }
    EXPECT_TRUE(cancelled);
    co_await peer_closed.wait(); // libcurl closed that connection
    srv.close();
    co_await srv.wait_closed();
}

TEST(HttpClient, CancellationMidBodyAbortsTheTransfer) { run_test(cancel_mid_body()); }

ua::task<> client_closed_while_busy() {
    ua::event never;
    http::router app;
    app.get("/stuck", [&](http::request&) -> ua::task<http::response> {
        co_await never.wait();
        co_return http::response(200);
    });
    http::server_options so;
    so.shutdown_timeout = std::chrono::milliseconds(10);
    http::server srv = co_await http::serve(std::move(app), "127.0.0.1", 0, so);
    auto session = std::make_unique<http::client>();
    auto t = ua::create_task(session->get(url(srv.port(), "/stuck")));
    EXPECT_TRUE(co_await until([&] { return srv.connections() == 1; }));
    session.reset(); // fails what is in flight
    bool failed = false;
    try {
        (void)co_await t;
    } catch (const http::client_error& e) {
        failed = contains(e.what(), "closed");
    }
    EXPECT_TRUE(failed);
    // A request made from a client, awaited after the client is gone.
    auto later = std::make_unique<http::client>();
    ua::task<http::client_response> orphan = later->get(url(srv.port(), "/stuck"));
    later.reset();
    co_await expect_client_error(std::move(orphan), [](const http::client_error& e) {
        EXPECT_TRUE(contains(e.what(), "closed")) << e.what();
    });
    srv.close();
    co_await srv.wait_closed();
}

TEST(HttpClient, DestroyingTheClientFailsTransfersInFlight) { run_test(client_closed_while_busy()); }

// A server that promises keep-alive but closes each connection once it has
// answered: the client's kept connection dies while no transfer uses it
// (its socket's watch sees the peer go), and the next request connects
// anew. Every request succeeds, and no descriptor is left behind.
ua::task<> peer_closes_kept_connections() {
    int connections = 0;
    ua::event go_close, closed;
    auto answer_once = [&](ua::stream_reader r, ua::stream_writer w) -> ua::task<> {
        ++connections;
        (void)co_await r.readuntil("\r\n\r\n");
        w.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        co_await w.drain();
        co_await go_close.wait(); // once the client has put the connection back
        w.close();
        co_await w.wait_closed();
        closed.set();
    };
    ua::server srv = co_await ua::start_server(answer_once, "127.0.0.1", 0);
    const std::size_t before = open_descriptors();
    {
        http::client session;
        for (int i = 0; i < 5; ++i) {
            closed.clear();
            go_close.clear();
            http::client_response r = co_await session.get(url(srv.port(), "/"));
            EXPECT_EQ(r.status, 200);
            EXPECT_EQ(r.body, "ok");
            go_close.set();
            co_await closed.wait();
            for (int turn = 0; turn < 3; ++turn) co_await ua::sleep(std::chrono::milliseconds(0)); // the EOF arrives
        }
    }
    EXPECT_EQ(connections, 5);
    EXPECT_TRUE(co_await until([&] { return open_descriptors() == before; }, 100)) << open_descriptors() << " vs " << before;
    srv.close();
    co_await srv.wait_closed();
}

TEST(HttpClient, APeerThatClosesKeptConnectionsCostsANewConnectionEachTime) { run_test(peer_closes_kept_connections()); }

} // namespace
