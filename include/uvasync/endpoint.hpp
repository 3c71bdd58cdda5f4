// endpoint: a socket address (IPv4 or IPv6 address and port), what asyncio
// passes around as a (host, port) tuple.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>

namespace uvasync {

class endpoint {
public:
    endpoint() noexcept;
    // A numeric IPv4 or IPv6 address ("127.0.0.1", "::1"); anything else
    // throws std::invalid_argument (resolve names with getaddrinfo).
    endpoint(const std::string& address, std::uint16_t port);
    // From a socket address filled in by the kernel or libuv.
    static endpoint from_sockaddr(const sockaddr* sa);

    std::string address() const;
    std::uint16_t port() const noexcept;
    int family() const noexcept { return addr_.sa.sa_family; } // AF_INET, AF_INET6, AF_UNSPEC
    // "127.0.0.1:8080", "[::1]:8080".
    std::string to_string() const;

    const sockaddr* data() const noexcept { return &addr_.sa; }
    socklen_t size() const noexcept;

    friend bool operator==(const endpoint& a, const endpoint& b) noexcept;

private:
    union {
        sockaddr sa;
        sockaddr_in v4;
        sockaddr_in6 v6;
    } addr_;
};

} // namespace uvasync
