// http::serve: an HTTP/1.1 server, aiohttp's web.run_app / TCPSite.
//
//   http::router app;
//   app.get("/health", health);
//   http::server srv = co_await http::serve(std::move(app), "127.0.0.1", 8080);
//   co_await uvasync::wait_signal(SIGINT, SIGTERM);
//   srv.close();                 // graceful: in-flight requests finish
//   co_await srv.wait_closed();
//
// Each connection is a task of its own (uvasync::start_server underneath).
// Requests are parsed by Boost.Beast's parser, from the connection's own
// buffer; a request is read completely (body included, de-chunked) before
// its handler runs. Keep-alive is the default for HTTP/1.1 (and for
// HTTP/1.0 with "Connection: keep-alive"); pipelined requests are answered
// one after the other, in order, their responses sent together. A request
// with "Expect: 100-continue" gets "100 Continue" when its head is
// accepted, or 413 when its announced body is too large.
//
// What the server answers by itself, then closing the connection:
//   400  a malformed request (request line, headers, chunk sizes, ...);
//   408  a request head or body that does not arrive in time;
//   413  a body over max_body_size (announced or received);
//   417  an Expect other than 100-continue;
//   431  a request line and headers over max_header_size;
//   500  a handler that throws (the connection stays open): the exception
//        goes to the loop's exception handler, "Error handling request".
// A connection idle for keep_alive_timeout is closed without an answer.
// A peer that is slow or stalls (slowloris) costs its socket and the
// bytes it sent until its deadline, nothing more; other connections are
// not affected.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "../endpoint.hpp"
#include "../task.hpp"
#include "../tls.hpp"
#include "router.hpp"

namespace uvasync::http {

struct server_options {
    // Request line plus headers, the empty line that ends them included
    // (however the head was split into reads); a longer head gets 431.
    std::size_t max_header_size = 8 * 1024;
    // A request body (after de-chunking); a larger one gets 413. aiohttp's
    // client_max_size.
    std::size_t max_body_size = 1024 * 1024;
    // From a request's first byte (or from the connection's accept, for its
    // first request) to its complete head; then 408.
    std::chrono::milliseconds header_timeout{30'000};
    // The longest pause while a body arrives; then 408.
    std::chrono::milliseconds body_timeout{30'000};
    // An idle keep-alive connection is closed after this; aiohttp's
    // keepalive_timeout.
    std::chrono::milliseconds keep_alive_timeout{75'000};
    // After close(): connections still busy after this are cancelled.
    std::chrono::milliseconds shutdown_timeout{60'000};
    // A Date header on every response (RFC 9110 asks origin servers with a
    // clock to send one).
    bool send_date = true;
    int backlog = 128;
    bool reuse_port = false;
    // HTTPS: each connection is encrypted with this context (uvasync's
    // server_options.tls); a client that fails the handshake, or does not
    // finish it within tls_handshake_timeout, never reaches the router.
    std::optional<tls_context> tls;
    std::chrono::milliseconds tls_handshake_timeout{60'000};
};

namespace detail {
struct server_core;
} // namespace detail

// A running server. Move-only; destroying it closes it (as close()).
class server {
public:
    server() noexcept = default;
    server(server&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
    server& operator=(server&& o) noexcept;
    server(const server&) = delete;
    server& operator=(const server&) = delete;
    ~server();

    bool valid() const noexcept { return s_ != nullptr; }
    // The port listened on (the one picked, for port 0).
    std::uint16_t port() const;
    endpoint sockname() const;
    // Connections open now.
    std::size_t connections() const noexcept;

    // Graceful shutdown: stops accepting, closes idle keep-alive
    // connections at once, lets the requests in flight finish (their
    // responses say "Connection: close"), and cancels what is still running
    // after shutdown_timeout. Idempotent.
    void close();
    // Waits until the server is closed and every connection is gone.
    task<> wait_closed();

private:
    friend struct detail::server_core;
    explicit server(detail::server_core* s) noexcept : s_(s) {}
    detail::server_core* s_ = nullptr;
};

// Serves `app` (or a single handler for every request) on host:port; port 0
// picks a free port. Errors: std::system_error (e.g. address in use),
// std::invalid_argument for bad options.
// (No default argument for `options`: server_options holds a tls_context,
// and GCC 12 destroys an aggregate temporary inside a co_await expression
// twice; build options as a named local, docs/gcc12.md.)
task<server> serve(router app, std::string host, std::uint16_t port, server_options options);
task<server> serve(handler fn, std::string host, std::uint16_t port, server_options options);
task<server> serve(router app, std::string host, std::uint16_t port);
task<server> serve(handler fn, std::string host, std::uint16_t port);

} // namespace uvasync::http
