// An HTTP/1.1 "hello" service on uvasync::http: GET /health answers
// {"status":"ok"} as JSON, GET /hello/{name} greets, anything else under GET
// says "Hello, World!". Ctrl-C stops it gracefully (requests in flight
// finish first).
//
//   http_hello [port]         (default 8080; try `curl -i localhost:8080/health`)
#include <uvasync/http.hpp>
#include <uvasync/uvasync.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace ua = uvasync;
namespace http = uvasync::http;

ua::task<http::response> health(http::request&) { co_return http::response::json(R"({"status":"ok"})"); }

ua::task<http::response> hello(http::request& req) {
    co_return http::response::text("Hello, " + std::string(req.param("name")) + "!");
}

ua::task<http::response> hello_world(http::request&) { co_return http::response::text("Hello, World!"); }

ua::task<> amain(std::uint16_t port) {
    http::router app;
    app.get("/health", health);
    app.get("/hello/{name}", hello);
    app.get("/{path:.*}", hello_world);
    http::server srv = co_await http::serve(std::move(app), "127.0.0.1", port);
    std::printf("Serving HTTP on http://%s/\n", srv.sockname().to_string().c_str());
    std::fflush(stdout);
    co_await ua::wait_signal(SIGINT, SIGTERM);
    srv.close();
    co_await srv.wait_closed();
}

int main(int argc, char** argv) {
    const auto port = static_cast<std::uint16_t>(argc > 1 ? std::atoi(argv[1]) : 8080);
    ua::run(amain(port));
}
