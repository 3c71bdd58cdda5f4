// What the HTTP stress scenarios share (http_slowloris, http_bad_input): the
// server they run (uvasync::http on loopback), a response reader for the
// client side, latency percentiles.
#pragma once

#include "stress.hpp"

#include <uvasync/http/server.hpp>

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace stress::web {

namespace http = uvasync::http;

// GET /hello, GET /n/{i} (answers i), POST /echo (answers the body).
inline ua::task<http::response> hello(http::request&) { co_return http::response::text("Hello, World!"); }
inline ua::task<http::response> number(http::request& req) { co_return http::response::text(std::string(req.param("i"))); }
inline ua::task<http::response> echo(http::request& req) { co_return http::response::text(req.body()); }

inline http::router app() {
    http::router r;
    r.get("/hello", hello);
    r.get("/n/{i}", number);
    r.post("/echo", echo);
    return r;
}

inline ua::task<http::server> serve(http::server_options o) {
    ua::task<http::server> t = http::serve(app(), "127.0.0.1", 0, o);
    co_return co_await std::move(t);
}

struct response {
    int status = 0;
    std::string head;
    std::string body;
};

// One response (Content-Length bodies, as the server sends them); empty at
// EOF before a response.
inline ua::task<std::optional<response>> read_response(ua::stream_reader& r) {
    response out;
    try {
        out.head = co_await r.readuntil("\r\n\r\n");
    } catch (const ua::incomplete_read_error&) {
        co_return std::nullopt;
    }
    out.status = out.head.size() > 12 ? std::atoi(out.head.c_str() + 9) : 0;
    std::size_t length = 0;
    if (auto at = out.head.find("Content-Length: "); at != std::string::npos)
        length = static_cast<std::size_t>(std::atol(out.head.c_str() + at + 16));
    if (length > 0) out.body = co_await r.readexactly(length);
    co_return out;
}

// Everything until EOF or a reset.
inline ua::task<std::string> read_to_end(ua::stream_reader& r) {
    std::string all;
    try {
        for (;;) {
            std::string more = co_await r.read(64 * 1024);
            if (more.empty()) break;
            all += more;
        }
    } catch (const std::system_error&) {
    }
    co_return all;
}

inline int fd_of(ua::stream_writer& w) {
    uv_os_fd_t fd = -1;
    uv_fileno(reinterpret_cast<uv_handle_t*>(w.native_handle()), &fd);
    return fd;
}

// close() sends RST instead of FIN.
inline void linger_zero(ua::stream_writer& w) {
    ::linger l{1, 0};
    ::setsockopt(fd_of(w), SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

// The q-th quantile (0..1) in milliseconds of latencies in microseconds.
inline double quantile_ms(std::vector<long> v, double q) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())));
    return static_cast<double>(v[i]) / 1000.0;
}

} // namespace stress::web
