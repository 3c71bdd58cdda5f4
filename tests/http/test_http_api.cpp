// uvasync::http's API edges: router patterns, response validation, option
// errors, and a loop that ends while a server and a client are busy.
#include "http_test_util.hpp"

using namespace http_test;

namespace {

ua::task<http::response> ok(http::request&) { co_return http::response(204); }

TEST(HttpApi, RouterRejectsBadPatternsAndDuplicates) {
    http::router r;
    for (const char* bad : {"", "users", "/users/{", "/users/{}", "/users/{id}x", "/a/{id}/{id}", "/{rest:.*}/x",
                            "/{x:[0-9]+}", "/{a-b}"})
        EXPECT_THROW(r.get(bad, ok), std::invalid_argument) << bad;
    r.get("/users/{id}", ok);
    r.post("/users/{id}", ok);
    EXPECT_THROW(r.get("/users/{id}", ok), std::invalid_argument);
    EXPECT_THROW(r.add("", "/x", ok), std::invalid_argument);
    EXPECT_THROW(r.get("/x", http::handler()), std::invalid_argument);
    EXPECT_THROW(r.use(http::middleware()), std::invalid_argument);
}

TEST(HttpApi, ResponseHeadersAndStatus) {
    http::response r = http::response::json("{}", 201);
    EXPECT_EQ(r.status(), 201);
    EXPECT_EQ(r.content_type(), "application/json");
    EXPECT_EQ(r.header("content-type").value_or(""), "application/json");
    r.set_header("X-A", "1").add_header("Set-Cookie", "a=1").add_header("Set-Cookie", "b=2");
    r.set_header("x-a", "2");
    EXPECT_EQ(r.header("X-A").value_or(""), "2");
    EXPECT_EQ(r.headers().size(), 3u);
    r.set_header("Content-Type", "text/html");
    EXPECT_EQ(r.content_type(), "");
    EXPECT_EQ(r.header("Content-Type").value_or(""), "text/html");
    r.set_body("<p>", "text/html; charset=utf-8");
    EXPECT_EQ(r.header("Content-Type").value_or(""), "text/html; charset=utf-8");
    EXPECT_EQ(r.headers().size(), 3u);
    EXPECT_THROW(r.set_header("X-B", "a\r\nInjected: 1"), std::invalid_argument);
    EXPECT_THROW(r.set_header("X B", "a"), std::invalid_argument);
    EXPECT_THROW(r.set_header("", "a"), std::invalid_argument);
    EXPECT_THROW(http::response(99), std::invalid_argument);
    EXPECT_THROW(http::response(1000), std::invalid_argument);
}

TEST(HttpApi, BadOptionsAndAddressInUse) {
    run_test([]() -> ua::task<> {
        http::server_options o;
        o.header_timeout = std::chrono::milliseconds(0);
        bool invalid = false;
        try {
            http::server s = co_await http::serve(http::router(), "127.0.0.1", 0, o);
        } catch (const std::invalid_argument&) {
            invalid = true;
        }
        EXPECT_TRUE(invalid);
        http::server first = co_await http::serve(http::router(), "127.0.0.1", 0);
        bool in_use = false;
        try {
            http::server second = co_await http::serve(http::router(), "127.0.0.1", first.port());
        } catch (const std::system_error& e) {
            in_use = e.code() == std::errc::address_in_use;
        }
        EXPECT_TRUE(in_use);
        first.close();
        co_await first.wait_closed();
    }());
}

TEST(HttpApi, ClientNeedsARunningLoop) { EXPECT_THROW(http::client c, std::runtime_error); }

TEST(HttpApi, RequestAccessors) {
    run_test([]() -> ua::task<> {
        std::string seen;
        http::router app;
        app.get("/a/{x}/{rest:.*}", [&](http::request& req) -> ua::task<http::response> {
            seen = std::string(req.method()) + "|" + std::string(req.target()) + "|" + std::string(req.path()) + "|" +
                   std::string(req.raw_path()) + "|" + std::string(req.query_string()) + "|" +
                   req.query("k").value_or("-") + "|" + req.query("e").value_or("-") + "|" +
                   req.query("none").value_or("-") + "|" + std::string(req.param("x")) + "|" +
                   std::string(req.param("rest")) + "|" + std::to_string(req.version()) + "|" +
                   (req.keep_alive() ? "ka" : "close") + "|" + std::to_string(req.headers().size()) + "|" +
                   std::string(req.header("X-TWICE").value_or("-")) + "|" + req.remote().address();
            bool unknown = false;
            try {
                (void)req.param("nope");
            } catch (const std::out_of_range&) {
                unknown = true;
            }
            EXPECT_TRUE(unknown);
            co_return http::response(204);
        });
        http::server srv = co_await http::serve(std::move(app), "127.0.0.1", 0);
        auto [r, w] = co_await ua::open_connection("127.0.0.1", srv.port());
        w.write("GET /a/%7Eb/c%2Fd/e?k=v+1%21&e=&k=second#frag HTTP/1.1\r\nHost: x\r\nX-Twice: 1\r\nX-Twice: 2\r\n\r\n");
        auto resp = co_await read_response(r);
        CO_ASSERT(resp);
        EXPECT_EQ(resp->status, 204);
        EXPECT_FALSE(resp->has("Content-Length")) << resp->head;
        EXPECT_EQ(seen, "GET|/a/%7Eb/c%2Fd/e?k=v+1%21&e=&k=second#frag|/a/~b/c/d/e|/a/%7Eb/c%2Fd/e|k=v+1%21&e=&k=second|"
                        "v 1!||-|~b|c/d/e|11|ka|3|1|127.0.0.1");
        // a '?' inside the fragment starts no query
        w.write("GET /a/x/y#frag?k=1 HTTP/1.1\r\nHost: x\r\n\r\n");
        resp = co_await read_response(r);
        CO_ASSERT(resp);
        EXPECT_EQ(seen, "GET|/a/x/y#frag?k=1|/a/x/y|/a/x/y||-|-|-|x|y|11|ka|1|-|127.0.0.1");
        w.close();
        srv.close();
        co_await srv.wait_closed();
    }());
}

TEST(HttpApi, ServeWithASingleHandler) {
    run_test([]() -> ua::task<> {
        http::handler every = [](http::request& req) -> ua::task<http::response> {
            co_return http::response::text(std::string(req.method()) + " " + std::string(req.path()));
        };
        http::server srv = co_await http::serve(std::move(every), "127.0.0.1", 0);
        auto [r, w] = co_await ua::open_connection("127.0.0.1", srv.port());
        w.write("DELETE /any/thing HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
        auto a = co_await read_response(r);
        auto b = co_await read_response(r);
        CO_ASSERT(a && b);
        EXPECT_EQ(a->body, "DELETE /any/thing");
        EXPECT_EQ(b->body, "GET /");
        w.close();
        srv.close();
        co_await srv.wait_closed();
    }());
}

// run() cancels and destroys what is still pending: a connection in its
// handler, one idle, and a client transfer waiting for it. No leak, no crash.
TEST(HttpApi, LoopEndsWhileServerAndClientAreBusy) {
    static ua::event never; // outlives the loop's tasks
    static http::server* keep = nullptr;
    static bool stuck = false;
    ua::run([]() -> ua::task<> {
        http::router app;
        app.get("/stuck", [](http::request&) -> ua::task<http::response> {
            stuck = true;
            co_await never.wait();
            co_return http::response(200);
        });
        app.get("/hi", [](http::request&) -> ua::task<http::response> { co_return http::response::text("hi"); });
        http::server srv = co_await http::serve(std::move(app), "127.0.0.1", 0);
        keep = new http::server(std::move(srv));
        const auto port = keep->port();
        auto client_task = [port]() -> ua::task<> {
            http::client c;
            (void)co_await c.get(url(port, "/hi"));
            (void)co_await c.get(url(port, "/stuck"));
        };
        ua::create_task(client_task());
        EXPECT_TRUE(co_await until([] { return stuck; })); // the client waits in /stuck
    }());
    delete keep; // after its loop: closes nothing twice
}

} // namespace
