// Servers: asyncio's start_server / start_unix_server and Server.
//
//   task<> handle_echo(stream_reader reader, stream_writer writer) {
//       std::string data = co_await reader.read(100);
//       writer.write(std::move(data));
//       co_await writer.drain();
//       writer.close();
//       co_await writer.wait_closed();
//   }
//   ...
//   server srv = co_await start_server(handle_echo, "127.0.0.1", 8888);
//   co_await srv.serve_forever();
//
// The server listens and accepts from the moment start_server() returns,
// as asyncio's start_server (start_serving=True): connections that arrive
// meanwhile are accepted and their handlers run whenever the loop runs,
// whether or not anything awaits serve_forever(), which only waits until the
// server is closed. A client may connect as soon as port() is known.
//
// Each accepted connection runs handler(reader, writer) as a task of its
// own. An exception escaping the handler goes to the loop's exception handler
// ("Unhandled exception in client_connected_cb"); a cancelled handler is not
// reported. When the handler returns (and nothing else holds the reader or
// writer) the connection is closed, after what was written has been sent.
//
// Running out of file descriptors: libuv resets the connections the server
// cannot accept, and the loop's exception handler is told once ("Server
// cannot accept: ...", a std::system_error with
// std::errc::too_many_files_open), not once per connection; the server
// accepts again when descriptors are free (docs/reliability.md).
//
// Lifetime: `server` is a move-only handle. The server listens until
// close() is called or the last `server` handle is destroyed (which closes
// it); connections already accepted carry on either way, until their
// handlers finish or close_clients() / abort_clients().
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "endpoint.hpp"
#include "streams.hpp"
#include "task.hpp"

namespace uvasync {

namespace detail {
struct server_state;
} // namespace detail

// What start_server calls for each connection.
using client_connected_handler = std::function<task<>(stream_reader, stream_writer)>;

struct server_options {
    int backlog = 100;       // listen() backlog, as asyncio's default
    bool reuse_port = false; // SO_REUSEPORT: several servers share the port
    std::size_t limit = default_stream_limit; // each reader's buffer limit
    // TLS (asyncio's ssl=): each connection is encrypted with this context
    // before the handler runs. A client that fails the handshake, or does
    // not finish it within tls_handshake_timeout, is dropped without
    // reaching the handler (reported to the loop's exception handler as
    // "TLS handshake failed"); it does not hold up other clients.
    std::optional<tls_context> tls;
    std::chrono::milliseconds tls_handshake_timeout{60'000};
};

// asyncio.Server.
class server {
public:
    server() noexcept = default;
    server(server&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
    server& operator=(server&& o) noexcept;
    server(const server&) = delete;
    server& operator=(const server&) = delete;
    // Closes the server (as close()).
    ~server();

    bool valid() const noexcept { return s_ != nullptr; }

    // The port of the first listening socket (0 for a Unix server): with
    // port 0 the one the system picked. Every socket of a server listens on
    // the same port.
    std::uint16_t port() const;
    // The listening addresses (a Unix server: one empty endpoint per socket).
    std::vector<endpoint> sockets() const;
    endpoint sockname() const;
    // The path a Unix server listens on ("" for TCP).
    std::string unix_path() const;

    bool is_serving() const noexcept;
    // Stops listening; idempotent. Connections already accepted go on. A
    // Unix server removes its socket file (if it is still the one it made).
    void close();
    // Waits until the server is closed and every connection it accepted is
    // closed too (asyncio 3.12).
    task<> wait_closed();
    // Serves until close(); returns then. Cancelling it closes the server.
    // Only one task at a time may wait in it (std::runtime_error otherwise).
    task<> serve_forever();
    // Closes every accepted connection, flushing what was written.
    void close_clients();
    // Closes every accepted connection at once, dropping unsent data.
    void abort_clients();

private:
    friend struct detail::server_state;
    explicit server(detail::server_state* s) noexcept : s_(s) {}
    detail::server_state* s_ = nullptr;
};

// asyncio.start_server. `host`: a numeric address, a name (every address it
// resolves to is bound), or "" for all interfaces (0.0.0.0 and ::). Port 0
// picks a free port (see server::port()). Errors: std::system_error (e.g.
// std::errc::address_in_use), std::invalid_argument for bad options.
// (No default argument for `options`, as for open_connection: build
// server_options as a named local, docs/gcc12.md.)
task<server> start_server(client_connected_handler handler, std::string host, std::uint16_t port,
                          server_options options);
task<server> start_server(client_connected_handler handler, std::string host, std::uint16_t port);

// asyncio.start_unix_server. A socket file already at `path` (left by an
// earlier run) is replaced; any other file there makes it throw
// std::system_error (std::errc::address_in_use) and is left alone.
task<server> start_unix_server(client_connected_handler handler, std::string path, server_options options);
task<server> start_unix_server(client_connected_handler handler, std::string path);

} // namespace uvasync
