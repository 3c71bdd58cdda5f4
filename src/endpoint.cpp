#include <uvasync/endpoint.hpp>

#include <uv.h>

#include <cstring>
#include <stdexcept>

namespace uvasync {

endpoint::endpoint() noexcept {
    std::memset(&addr_, 0, sizeof addr_);
    addr_.sa.sa_family = AF_UNSPEC;
}

endpoint::endpoint(const std::string& address, std::uint16_t port) : endpoint() {
    if (uv_ip4_addr(address.c_str(), port, &addr_.v4) == 0) return;
    std::memset(&addr_, 0, sizeof addr_);
    if (uv_ip6_addr(address.c_str(), port, &addr_.v6) == 0) return;
    std::memset(&addr_, 0, sizeof addr_);
    addr_.sa.sa_family = AF_UNSPEC;
    throw std::invalid_argument("endpoint: '" + address + "' is not a numeric IPv4 or IPv6 address");
}

endpoint endpoint::from_sockaddr(const sockaddr* sa) {
    endpoint e;
    if (!sa) return e;
    if (sa->sa_family == AF_INET) std::memcpy(&e.addr_.v4, sa, sizeof(sockaddr_in));
    else if (sa->sa_family == AF_INET6) std::memcpy(&e.addr_.v6, sa, sizeof(sockaddr_in6));
    return e;
}

std::string endpoint::address() const {
    char buf[INET6_ADDRSTRLEN] = {};
    if (family() == AF_INET) uv_ip4_name(&addr_.v4, buf, sizeof buf);
    else if (family() == AF_INET6) uv_ip6_name(&addr_.v6, buf, sizeof buf);
    return buf;
}

std::uint16_t endpoint::port() const noexcept {
    if (family() == AF_INET) return ntohs(addr_.v4.sin_port);
    if (family() == AF_INET6) return ntohs(addr_.v6.sin6_port);
    return 0;
}

std::string endpoint::to_string() const {
    if (family() == AF_INET6) return "[" + address() + "]:" + std::to_string(port());
    return address() + ":" + std::to_string(port());
}

socklen_t endpoint::size() const noexcept {
    if (family() == AF_INET) return sizeof(sockaddr_in);
    if (family() == AF_INET6) return sizeof(sockaddr_in6);
    return 0;
}

bool operator==(const endpoint& a, const endpoint& b) noexcept {
    return a.family() == b.family() && a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size()) == 0;
}

} // namespace uvasync
