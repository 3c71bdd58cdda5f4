// uvasync_http_lib --port N: the HTTP benchmark server on uvasync::http
// (bench/README.md's contract): GET /health -> {"status":"ok"} as JSON,
// POST /echo -> the body back as JSON, any other GET -> "Hello, World!" as
// text/plain. Keep-alive, pipelining, no Date header (as the other servers).
#include "uvasync_bench_common.hpp"

#include <uvasync/http.hpp>

namespace ua = uvasync;
namespace http = uvasync::http;

static ua::task<http::response> hello(http::request&) {
    http::response r;
    r.set_body("Hello, World!", "text/plain");
    co_return r;
}

static ua::task<http::response> health(http::request&) { co_return http::response::json(R"({"status":"ok"})"); }

static ua::task<http::response> echo(http::request& req) { co_return http::response::json(req.body()); }

static ua::task<> serve(std::uint16_t port) {
    http::router app;
    app.get("/health", health);
    app.post("/echo", echo);
    app.get("/{path:.*}", hello);
    http::server_options o;
    o.backlog = 4096;
    o.send_date = false;
    http::server srv = co_await http::serve(std::move(app), "127.0.0.1", port, o);
    co_await ua::wait_signal(SIGINT, SIGTERM);
}

int main(int argc, char** argv) {
    const std::uint16_t port = bench::parse_port(argc, argv);
    bench::raise_nofile();
    ua::run(serve(port));
    return 0;
}
