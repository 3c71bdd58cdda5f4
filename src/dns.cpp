// getaddrinfo / getnameinfo on libuv requests.
//
// The libuv request lives on the heap, apart from the awaiting frame: once
// started, its callback always runs (with UV_EAI_CANCELED after uv_cancel),
// possibly after the frame is gone. The operation and the request point at
// each other; whichever side goes first detaches, and the callback of a
// detached request only frees it.
#include <uvasync/dns.hpp>
#include <uvasync/errors.hpp>
#include <uvasync/event_loop.hpp>

#include <cstring>
#include <exception>
#include <new>
#include <stdexcept>

namespace uvasync {

namespace detail {
namespace {

std::string quoted(const std::string& s) { return "'" + s + "'"; }

// getaddrinfo on the thread pool.
struct getaddrinfo_op : parked_op {
    uv_loop_t* uv;
    const std::string& host;
    const std::string& service;
    addrinfo hints{};
    uv_getaddrinfo_t* req = nullptr; // null once done or detached
    int status = 0;
    std::vector<endpoint> result;
    std::exception_ptr failure; // from copying the result out

    getaddrinfo_op(uv_loop_t* loop, const std::string& h, const std::string& s, const addrinfo_options& o) noexcept
        : uv(loop), host(h), service(s) {
        hints.ai_family = o.family;
        hints.ai_socktype = o.socktype;
        hints.ai_protocol = o.protocol;
        hints.ai_flags = o.flags;
    }
    getaddrinfo_op(const getaddrinfo_op&) = delete;
    ~getaddrinfo_op() { detach(); }

    void detach() noexcept {
        if (!req) return;
        req->data = nullptr;
        uv_cancel(reinterpret_cast<uv_req_t*>(std::exchange(req, nullptr))); // UV_EBUSY if running: then discarded
    }

    bool await_ready() const noexcept { return false; }
    template <class P> bool await_suspend(std::coroutine_handle<P> h) noexcept {
        if (!park(h.promise().root, h)) return false;
        abort = &on_abort;
        auto* r = new (std::nothrow) uv_getaddrinfo_t{};
        if (!r) {
            status = UV_ENOMEM;
            wake_soon();
            return true;
        }
        r->data = this;
        const int rc = uv_getaddrinfo(uv, r, &on_done, host.c_str(), service.empty() ? nullptr : service.c_str(), &hints);
        if (rc < 0) { // refused before it started: no callback will come
            delete r;
            status = rc;
            wake_soon();
            return true;
        }
        req = r;
        return true;
    }
    std::vector<endpoint> await_resume() {
        throw_if_cancelled();
        if (failure) std::rethrow_exception(failure);
        if (status < 0) {
            const std::string what = "getaddrinfo(" + quoted(host) + ", " + quoted(service) + ")";
            throw_uv_error(status, what.c_str());
        }
        return std::move(result);
    }

    static void on_done(uv_getaddrinfo_t* r, int status, addrinfo* res) {
        auto* self = static_cast<getaddrinfo_op*>(r->data);
        delete r;
        if (!self) { // detached: nobody wants the answer
            uv_freeaddrinfo(res);
            return;
        }
        self->req = nullptr;
        self->status = status;
        if (status == 0) {
            try {
                for (const addrinfo* p = res; p; p = p->ai_next)
                    if (p->ai_addr && (p->ai_family == AF_INET || p->ai_family == AF_INET6))
                        self->result.push_back(endpoint::from_sockaddr(p->ai_addr));
            } catch (...) {
                self->failure = std::current_exception();
            }
        }
        uv_freeaddrinfo(res);
        self->wake_now();
    }
    static bool on_abort(parked_op* op) noexcept {
        static_cast<getaddrinfo_op*>(op)->detach();
        return false;
    }
};

// getnameinfo on the thread pool.
struct getnameinfo_op : parked_op {
    uv_loop_t* uv;
    const endpoint& address;
    int flags;
    uv_getnameinfo_t* req = nullptr;
    int status = 0;
    std::pair<std::string, std::string> result;
    std::exception_ptr failure;

    getnameinfo_op(uv_loop_t* loop, const endpoint& a, int f) noexcept : uv(loop), address(a), flags(f) {}
    getnameinfo_op(const getnameinfo_op&) = delete;
    ~getnameinfo_op() { detach(); }

    void detach() noexcept {
        if (!req) return;
        req->data = nullptr;
        uv_cancel(reinterpret_cast<uv_req_t*>(std::exchange(req, nullptr)));
    }

    bool await_ready() const noexcept { return false; }
    template <class P> bool await_suspend(std::coroutine_handle<P> h) noexcept {
        if (!park(h.promise().root, h)) return false;
        abort = &on_abort;
        auto* r = new (std::nothrow) uv_getnameinfo_t{};
        if (!r) {
            status = UV_ENOMEM;
            wake_soon();
            return true;
        }
        r->data = this;
        if (const int rc = uv_getnameinfo(uv, r, &on_done, address.data(), flags); rc < 0) {
            delete r;
            status = rc;
            wake_soon();
            return true;
        }
        req = r;
        return true;
    }
    std::pair<std::string, std::string> await_resume() {
        throw_if_cancelled();
        if (failure) std::rethrow_exception(failure);
        if (status < 0) {
            const std::string what = "getnameinfo(" + address.to_string() + ")";
            throw_uv_error(status, what.c_str());
        }
        return std::move(result);
    }

    static void on_done(uv_getnameinfo_t* r, int status, const char* hostname, const char* service) {
        auto* self = static_cast<getnameinfo_op*>(r->data);
        if (!self) {
            delete r;
            return;
        }
        self->req = nullptr;
        self->status = status;
        if (status == 0) {
            try {
                self->result.first = hostname ? hostname : "";
                self->result.second = service ? service : "";
            } catch (...) {
                self->failure = std::current_exception();
            }
        }
        delete r; // hostname and service point into the request
        self->wake_now();
    }
    static bool on_abort(parked_op* op) noexcept {
        static_cast<getnameinfo_op*>(op)->detach();
        return false;
    }
};

// A port number in decimal, as the resolver reads a numeric service.
bool parse_port(const std::string& s, std::uint16_t& port) noexcept {
    if (s.empty() || s.size() > 5) return false;
    unsigned value = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value > 65535) return false;
    port = static_cast<std::uint16_t>(value);
    return true;
}

// The answer for a numeric address and port, when the resolver's answer is
// certain to be that one address (one socket type, the family asked for).
bool numeric_answer(const std::string& host, const std::string& service, const addrinfo_options& o, endpoint& out) {
    std::uint16_t port = 0;
    if (o.socktype == 0 || o.protocol != 0) return false;
    if (!service.empty() && !parse_port(service, port)) return false;
    sockaddr_in v4{};
    sockaddr_in6 v6{};
    if (uv_ip4_addr(host.c_str(), port, &v4) == 0) {
        if (o.family != AF_UNSPEC && o.family != AF_INET) return false;
        out = endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&v4));
        return true;
    }
    if (uv_ip6_addr(host.c_str(), port, &v6) == 0) {
        if (o.family != AF_UNSPEC && o.family != AF_INET6) return false;
        out = endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&v6));
        return true;
    }
    return false;
}

void check_name(const std::string& s, const char* what) {
    if (s.find('\0') != std::string::npos)
        throw std::invalid_argument(std::string("getaddrinfo: the ") + what + " contains a NUL character");
    // libuv up to 1.47 silently truncated longer names (GHSA-f74f-cvh7-c6q6).
    if (s.size() > 255)
        throw std::invalid_argument(std::string("getaddrinfo: the ") + what + " is longer than 255 characters (" +
                                    std::to_string(s.size()) + ")");
}

} // namespace
} // namespace detail

task<std::vector<endpoint>> getaddrinfo(std::string host, std::string service, addrinfo_options options) {
    detail::check_name(host, "host name");
    detail::check_name(service, "service name");
    if (host.empty()) throw_uv_error(UV_EAI_NONAME, ("getaddrinfo('', " + detail::quoted(service) + ")").c_str());
    {
        endpoint numeric;
        if (detail::numeric_answer(host, service, options, numeric)) {
            std::vector<endpoint> one;
            one.push_back(numeric);
            co_return one;
        }
    }
    detail::getaddrinfo_op op(get_running_loop().native_handle(), host, service, options);
    co_return co_await op;
}

task<std::vector<endpoint>> getaddrinfo(std::string host, std::uint16_t port, addrinfo_options options) {
    return getaddrinfo(std::move(host), std::to_string(port), options);
}

task<std::pair<std::string, std::string>> getnameinfo(endpoint address, int flags) {
    if (address.family() != AF_INET && address.family() != AF_INET6)
        throw std::invalid_argument("getnameinfo: the endpoint has no IPv4 or IPv6 address");
    detail::getnameinfo_op op(get_running_loop().native_handle(), address, flags);
    co_return co_await op;
}

} // namespace uvasync
