// UDP: asyncio's loop.create_datagram_endpoint, as a socket object that is
// awaited instead of a transport that calls a protocol.
//
//   datagram_socket sock = co_await create_datagram_endpoint(endpoint("127.0.0.1", 9999));
//   for (;;) {
//       auto [data, from] = co_await sock.recvfrom();
//       co_await sock.sendto("resp:" + data, from);
//   }
//
// Receiving starts when the socket is created: datagrams that arrive while
// nobody awaits recvfrom() queue up in the socket, in arrival order. The
// queue is bounded (max_queued_datagrams, max_queued_bytes): when it is
// full the socket stops reading, so further datagrams wait in the kernel's
// receive buffer, and once that is full the kernel drops them (UDP's usual
// loss, never a reordering). Reading resumes as recvfrom() drains the queue.
// A datagram is at most 64 KiB (the largest UDP payload), received into one
// reusable buffer per socket; the returned std::string is its only copy.
//
// Errors the socket reports (ECONNREFUSED on a connected socket whose peer
// port is closed, as Linux reports ICMP "port unreachable") take their place
// in the queue and are thrown as std::system_error by the recvfrom() that
// reaches them; the socket stays usable.
//
// Addresses are numeric endpoints; resolve names with getaddrinfo first.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "endpoint.hpp"
#include "task.hpp"

namespace uvasync {

namespace detail {
struct udp_state;
}

class datagram_socket;

// Opens a UDP socket bound to `local` (port 0 picks a free port) and/or
// connected to `remote` (then it only exchanges datagrams with that peer,
// and is bound to a free local port if `local` is not given). At least one
// of them is needed, and they must be of the same family (IPv4 or IPv6);
// otherwise std::invalid_argument. A failing bind or connect (address in
// use, ...) throws std::system_error. The socket belongs to the running
// loop: closing the loop closes it.
task<datagram_socket> create_datagram_endpoint(std::optional<endpoint> local = {},
                                               std::optional<endpoint> remote = {});

// The owner of a UDP socket. Movable, not copyable; destroying it closes the
// socket. The socket must outlive the tasks its methods return.
class datagram_socket {
public:
    // The receive queue's bounds (see the top of this header).
    static constexpr std::size_t max_queued_datagrams = 1024;
    static constexpr std::size_t max_queued_bytes = 1024 * 1024;

    // A closed socket.
    datagram_socket() noexcept;
    datagram_socket(datagram_socket&& other) noexcept;
    datagram_socket& operator=(datagram_socket&& other) noexcept;
    ~datagram_socket();

    // The next datagram and its sender: at once if one is queued, else when
    // one arrives. Several tasks may wait; they are served in order.
    // Cancelling a waiting recvfrom() loses no datagram. Throws
    // std::system_error for an error the socket reported, and with
    // std::errc::bad_file_descriptor on a closed socket (also to waiters
    // when the socket is closed under them).
    task<std::pair<std::string, endpoint>> recvfrom();

    // Sends one datagram to `to`. On a connected socket `to` must be the
    // peer (else std::invalid_argument, as uvloop's "Invalid address"); an
    // address of the other family, or no address, is std::invalid_argument
    // too. Usually completes without suspending; when the kernel's send
    // buffer is full it waits its turn. Cancelling a waiting send does not
    // recall the datagram. Errors are std::system_error (EMSGSIZE for a
    // datagram that is too big; ECONNREFUSED on a connected socket after the
    // peer refused an earlier one). After close(), a silent no-op (as in
    // uvloop): the datagram is dropped.
    task<> sendto(std::string data, endpoint to);
    // sendto() to the peer of a connected socket; on a socket that is not
    // connected, std::logic_error.
    task<> send(std::string data);

    // The local address (kept after close()). Throws std::logic_error on a
    // default-constructed or moved-from socket.
    endpoint sockname() const;
    // The connected peer; empty when the socket is not connected.
    std::optional<endpoint> peername() const;

    // Closes the socket: queued datagrams are dropped, waiting recvfrom()s
    // throw bad_file_descriptor, datagrams being sent are dropped. Idempotent.
    void close() noexcept;
    bool is_closing() const noexcept;
    // Datagrams (and errors) received and not yet taken by recvfrom().
    std::size_t queued() const noexcept;

private:
    friend task<datagram_socket> create_datagram_endpoint(std::optional<endpoint>, std::optional<endpoint>);
    explicit datagram_socket(std::unique_ptr<detail::udp_state> s) noexcept;

    std::unique_ptr<detail::udp_state> s_;
};

} // namespace uvasync
