// http::client: a pooled HTTP client, aiohttp's ClientSession, on libcurl's
// multi interface driven by the uvasync loop.
//
//   http::client_options o;
//   o.limit_per_host = 10;                       // TCPConnector(limit_per_host=10)
//   http::client session(o);
//   http::client_response r = co_await session.get("http://127.0.0.1:8080/users/7");
//   if (r.status == 200) use(r.body);
//
// All transfers of a client share one thread, the loop's: libcurl tells the
// loop which sockets to watch and when to wake it, and the loop tells
// libcurl what happened. Connections are kept alive and reused (libcurl's
// pool); `limit` and `limit_per_host` bound how many are open, and requests
// beyond them wait their turn. Cancelling the task that awaits a request
// aborts its transfer at once (its connection is closed, not reused).
//
// As aiohttp's default (trust_env=False), proxies named by the environment
// (http_proxy, ...) are not used; compressed responses are decoded.
//
// A client lives on the loop it was made on, and must be destroyed before
// that loop closes (as a local of a task is). Destroying it fails the
// requests still in flight with client_error ("the client was closed").
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../task.hpp"
#include "../tls.hpp"

namespace uvasync::http {

// A request that could not be carried out: a connection refused, a name
// that does not resolve, a timeout, too many redirects, a malformed
// response... An HTTP error status is not a client_error: it is a response.
class client_error : public std::runtime_error {
public:
    client_error(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
    // libcurl's CURLcode (e.g. 7 CURLE_COULDNT_CONNECT, 28
    // CURLE_OPERATION_TIMEDOUT, 47 CURLE_TOO_MANY_REDIRECTS).
    int code() const noexcept { return code_; }
    bool timed_out() const noexcept { return code_ == 28; }

private:
    int code_;
};

struct client_options {
    // Open connections in all (aiohttp's limit=100); 0: no limit.
    std::size_t limit = 100;
    // Open connections to one host:port (aiohttp's limit_per_host); 0: no limit.
    std::size_t limit_per_host = 0;
    // A request from start to end, waiting for a connection included
    // (aiohttp's ClientTimeout(total=300)); nullopt: none.
    std::optional<std::chrono::milliseconds> timeout = std::chrono::minutes(5);
    // Connecting, name resolution included; nullopt: libcurl's (300 s).
    std::optional<std::chrono::milliseconds> connect_timeout;
    // Follow 3xx redirects (POST becomes GET after 301, 302 and 303, as in
    // aiohttp), at most max_redirects of them.
    bool follow_redirects = true;
    int max_redirects = 10;
    // https:// URLs: without a context, libcurl's defaults (the system's CA
    // store, peer and host name verified). With one, its trusted CAs
    // (load_verify_locations), client certificate (load_cert_chain),
    // minimum version, set_verify_peer and set_check_hostname apply.
    std::optional<tls_context> tls;
};

struct client_request {
    std::string method = "GET";
    std::string url;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    // Overrides the client's timeout for this request.
    std::optional<std::chrono::milliseconds> timeout;
};

struct client_response {
    int status = 0;
    // The headers of the final response (after redirects), in order.
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    // The URL the response came from (after redirects).
    std::string url;

    // A header's value, looked up case-insensitively (the first of that name).
    std::optional<std::string_view> header(std::string_view name) const noexcept;
};

namespace detail {
class client_core;
} // namespace detail

class client {
public:
    // Needs a running loop (std::runtime_error otherwise).
    explicit client(client_options options = {});
    client(client&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
    client& operator=(client&& o) noexcept;
    client(const client&) = delete;
    client& operator=(const client&) = delete;
    ~client();

    task<client_response> get(std::string url);
    task<client_response> post(std::string url, std::string body,
                               std::string content_type = "application/octet-stream");
    // Any method, headers and body. A URL libcurl cannot use, an empty
    // method, or a header with CR or LF: std::invalid_argument.
    task<client_response> request(client_request req);

    // Requests in flight (waiting for a connection included).
    std::size_t active() const noexcept;

private:
    detail::client_core* c_ = nullptr;
};

} // namespace uvasync::http
