// http::request: what a handler is given, aiohttp's web.Request.
//
//   task<http::response> show_user(http::request& req) {
//       std::string_view id = req.param("id");           // /users/{id}
//       auto page = req.query("page");                     // ?page=2
//       auto agent = req.header("user-agent");             // any case
//       co_return http::response::text("user " + std::string(id));
//   }
//
// The request was parsed in full (head and body) before the handler runs.
// It lives until the handler's response has been produced: views returned
// by its accessors are valid that long, and no longer (copy what a task
// started by the handler needs).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../endpoint.hpp"

namespace uvasync::http {

namespace detail {
struct request_context;
struct request_access;
} // namespace detail

class request {
public:
    request(const request&) = delete;
    request& operator=(const request&) = delete;

    // "GET", "POST", ... as sent (methods are case-sensitive).
    std::string_view method() const noexcept;
    // The request target as sent: "/users/7?page=2".
    std::string_view target() const noexcept;
    // The path, percent-decoded: "/users/7" (aiohttp's request.path).
    std::string_view path() const;
    // The path as sent, still percent-encoded (aiohttp's raw_path).
    std::string_view raw_path() const noexcept;
    // The query string after '?', undecoded; empty when there is none.
    std::string_view query_string() const noexcept;
    // The first value of a query parameter, decoded ('+' is a space); empty
    // optional when it is absent.
    std::optional<std::string> query(std::string_view name) const;
    // A header's value, looked up case-insensitively; empty optional when
    // absent. A header sent several times: the first value.
    std::optional<std::string_view> header(std::string_view name) const;
    // Every header as received, in order (the trailers of a chunked body too).
    std::vector<std::pair<std::string_view, std::string_view>> headers() const;
    // A path parameter of the matched route ("/users/{id}" -> param("id")),
    // percent-decoded. A name the route does not have: std::out_of_range.
    std::string_view param(std::string_view name) const;
    // The body, de-chunked; empty when there was none.
    const std::string& body() const noexcept;
    // The peer's address.
    endpoint remote() const;
    // 11 for HTTP/1.1, 10 for HTTP/1.0.
    int version() const noexcept;
    // Whether the connection stays open after this request (HTTP/1.1
    // without "Connection: close", or HTTP/1.0 with "keep-alive").
    bool keep_alive() const noexcept;

private:
    friend struct detail::request_context;
    friend struct detail::request_access;
    explicit request(detail::request_context* c) noexcept : c_(c) {}
    detail::request_context* c_;
};

} // namespace uvasync::http
