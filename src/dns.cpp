// getaddrinfo / getnameinfo on libuv requests.
//
// Each lookup is a detail::uv_request: its callback always runs (with
// UV_EAI_CANCELED after uv_cancel), possibly after the awaiting frame is
// gone; a cancelled lookup detaches, and the callback then only frees it.
#include <uvasync/detail/operation.hpp>
#include <uvasync/detail/uv_request.hpp>
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
class getaddrinfo_op final : public operation<getaddrinfo_op> {
public:
    getaddrinfo_op(uv_loop_t* loop, const std::string& h, const std::string& s, const addrinfo_options& o) noexcept
        : uv_(loop), host_(h), service_(s) {
        hints_.ai_family = o.family;
        hints_.ai_socktype = o.socktype;
        hints_.ai_protocol = o.protocol;
        hints_.ai_flags = o.flags;
    }

    bool start() {
        req_ = new request(this);
        const int rc = uv_getaddrinfo(uv_, &req_->req, &on_done, host_.c_str(),
                                      service_.empty() ? nullptr : service_.c_str(), &hints_);
        if (rc < 0) { // refused before it started: no callback will come
            delete std::exchange(req_, nullptr);
            status_ = rc;
            return false;
        }
        return true;
    }
    cancel_outcome cancel() noexcept {
        std::exchange(req_, nullptr)->detach();
        return cancel_outcome::stopped;
    }
    std::vector<endpoint> result() {
        if (failure_) std::rethrow_exception(failure_);
        if (status_ < 0) {
            const std::string what = "getaddrinfo(" + quoted(host_) + ", " + quoted(service_) + ")";
            throw_uv_error(status_, what.c_str());
        }
        return std::move(result_);
    }
    const char* kind() const noexcept override { return "getaddrinfo"; }

private:
    using request = uv_request<uv_getaddrinfo_t, getaddrinfo_op>;

    static void on_done(uv_getaddrinfo_t* r, int status, addrinfo* res) {
        request* req = request::of(r);
        getaddrinfo_op* self = req->owner();
        delete req;
        if (self) {
            self->req_ = nullptr;
            self->status_ = status;
            if (status == 0) {
                try {
                    for (const addrinfo* p = res; p; p = p->ai_next)
                        if (p->ai_addr && (p->ai_family == AF_INET || p->ai_family == AF_INET6))
                            self->result_.push_back(endpoint::from_sockaddr(p->ai_addr));
                } catch (...) {
                    self->failure_ = std::current_exception();
                }
            }
        }
        uv_freeaddrinfo(res);
        if (self) self->wake_now();
    }

    uv_loop_t* uv_;
    const std::string& host_;
    const std::string& service_;
    addrinfo hints_{};
    request* req_ = nullptr; // while libuv has it
    int status_ = 0;
    std::vector<endpoint> result_;
    std::exception_ptr failure_; // from copying the result out
};

// getnameinfo on the thread pool.
class getnameinfo_op final : public operation<getnameinfo_op> {
public:
    getnameinfo_op(uv_loop_t* loop, const endpoint& a, int f) noexcept : uv_(loop), address_(a), flags_(f) {}

    bool start() {
        req_ = new request(this);
        if (const int rc = uv_getnameinfo(uv_, &req_->req, &on_done, address_.data(), flags_); rc < 0) {
            delete std::exchange(req_, nullptr);
            status_ = rc;
            return false;
        }
        return true;
    }
    cancel_outcome cancel() noexcept {
        std::exchange(req_, nullptr)->detach();
        return cancel_outcome::stopped;
    }
    std::pair<std::string, std::string> result() {
        if (failure_) std::rethrow_exception(failure_);
        if (status_ < 0) {
            const std::string what = "getnameinfo(" + address_.to_string() + ")";
            throw_uv_error(status_, what.c_str());
        }
        return std::move(result_);
    }
    const char* kind() const noexcept override { return "getnameinfo"; }

private:
    using request = uv_request<uv_getnameinfo_t, getnameinfo_op>;

    static void on_done(uv_getnameinfo_t* r, int status, const char* hostname, const char* service) {
        request* req = request::of(r);
        getnameinfo_op* self = req->owner();
        if (self) {
            self->req_ = nullptr;
            self->status_ = status;
            if (status == 0) {
                try {
                    self->result_.first = hostname ? hostname : "";
                    self->result_.second = service ? service : "";
                } catch (...) {
                    self->failure_ = std::current_exception();
                }
            }
        }
        delete req; // hostname and service point into the request
        if (self) self->wake_now();
    }

    uv_loop_t* uv_;
    const endpoint& address_;
    int flags_;
    request* req_ = nullptr;
    int status_ = 0;
    std::pair<std::string, std::string> result_;
    std::exception_ptr failure_;
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
    co_return co_await detail::getaddrinfo_op(get_running_loop().native_handle(), host, service, options);
}

task<std::vector<endpoint>> getaddrinfo(std::string host, std::uint16_t port, addrinfo_options options) {
    return getaddrinfo(std::move(host), std::to_string(port), options);
}

task<std::pair<std::string, std::string>> getnameinfo(endpoint address, int flags) {
    if (address.family() != AF_INET && address.family() != AF_INET6)
        throw std::invalid_argument("getnameinfo: the endpoint has no IPv4 or IPv6 address");
    co_return co_await detail::getnameinfo_op(get_running_loop().native_handle(), address, flags);
}

} // namespace uvasync
