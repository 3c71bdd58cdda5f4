// The README's uvasync::http example, against the installed package: a
// server and a client on one loop. Exits 0 when the answer is right.
#include <uvasync/http.hpp>
#include <uvasync/uvasync.hpp>

#include <cstdio>
#include <string>

namespace ua = uvasync;
namespace http = uvasync::http;

ua::task<http::response> show_user(http::request& req) {
    co_return http::response::json("{\"id\":\"" + std::string(req.param("id")) + "\"}");
}

ua::task<bool> amain() {
    http::router app;
    app.get("/users/{id}", show_user);
    http::server srv = co_await http::serve(std::move(app), "127.0.0.1", 0);
    http::client session;
    const std::string url = "http://127.0.0.1:" + std::to_string(srv.port()) + "/users/7";
    http::client_response r = co_await session.get(url);
    srv.close();
    co_await srv.wait_closed();
    std::printf("%d %s\n", r.status, r.body.c_str());
    co_return r.status == 200 && r.body == R"({"id":"7"})";
}

int main() { return ua::run(amain()) ? 0 : 1; }
