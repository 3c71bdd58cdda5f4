// DNS: asyncio's loop.getaddrinfo and loop.getnameinfo, on libuv's
// getaddrinfo / getnameinfo requests (which run the system resolver on
// libuv's thread pool).
//
//   std::vector<endpoint> addrs = co_await getaddrinfo("localhost", 8080);
//   auto [host, service] = co_await getnameinfo(addrs.front());
//
// Errors: a lookup that fails throws std::system_error whose code is in
// uv_category(). Resolver failures are libuv's UV_EAI_* numbers (e.g.
// UV_EAI_NONAME, "unknown node or service"); unlike errno values they have
// no std::errc equivalent, so compare them with
// `e.code() == std::error_code(UV_EAI_NONAME, uv_category())`.
//
// Cancellation: cancelling the awaiting task cancels the request. A request
// that a thread-pool thread has already started cannot be stopped; its
// result is then discarded when it arrives. A loop that is closed while such
// a request runs waits for it in close() (libuv cannot free a loop with
// work in flight), which for a name that needs a DNS server can take as long
// as the resolver's timeout.
#pragma once

#include <netdb.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "endpoint.hpp"
#include "task.hpp"

namespace uvasync {

// The hints of getaddrinfo (asyncio's family=, type=, proto=, flags=).
// The default asks for stream sockets, so each address appears once; with
// socktype 0 the resolver lists every address once per socket type.
struct addrinfo_options {
    int family = AF_UNSPEC;     // AF_INET, AF_INET6 or AF_UNSPEC (both)
    int socktype = SOCK_STREAM; // SOCK_STREAM, SOCK_DGRAM, or 0 (any)
    int protocol = 0;
    int flags = 0;              // AI_* flags, e.g. AI_NUMERICHOST, AI_ADDRCONFIG
};

// Resolves `host` (a name or a numeric address) and `service` (a port number
// or a service name such as "http"; empty means port 0) to socket
// addresses, in the resolver's order.
//  - A numeric IPv4/IPv6 host with a numeric service is answered at once,
//    without the thread pool (as uvloop does).
//  - An empty host throws std::system_error (UV_EAI_NONAME), as the system
//    getaddrinfo and asyncio do; a host longer than 255 characters or one
//    containing a NUL character throws std::invalid_argument.
//  - Not found: std::system_error (UV_EAI_NONAME, UV_EAI_SERVICE, ...).
// Build `options` before the co_await expression (GCC 12 cannot take a
// braced list inside one).
task<std::vector<endpoint>> getaddrinfo(std::string host, std::string service, addrinfo_options options = {});
task<std::vector<endpoint>> getaddrinfo(std::string host, std::uint16_t port, addrinfo_options options = {});

// The host and service names of a socket address: ("localhost", "http") for
// 127.0.0.1:80. `flags` are NI_* flags (NI_NUMERICHOST, NI_NUMERICSERV,
// NI_NAMEREQD, NI_DGRAM, ...). An endpoint without an address throws
// std::invalid_argument; a failed lookup throws std::system_error.
task<std::pair<std::string, std::string>> getnameinfo(endpoint address, int flags = 0);

} // namespace uvasync
