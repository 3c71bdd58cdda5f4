// http::response: what a handler returns, aiohttp's web.Response.
//
//   co_return http::response::text("Hello, World!");
//   co_return http::response::json(R"({"status":"ok"})");
//   http::response r(204);
//   r.set_header("Cache-Control", "no-store");
//   co_return r;
//
// The server adds Content-Length (and Connection, and Date unless turned
// off) itself; a Content-Length or Transfer-Encoding set here is ignored.
// For HEAD requests the body is left out, its length is still announced.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace uvasync::http {

class response {
public:
    // An empty response with this status (100-999; otherwise
    // std::invalid_argument).
    explicit response(int status = 200);

    // A text/plain; charset=utf-8 body.
    static response text(std::string body, int status = 200);
    // An application/json body: `serialized` is sent as it is.
    static response json(std::string serialized, int status = 200);

    int status() const noexcept { return status_; }
    void set_status(int status);

    const std::string& body() const noexcept { return body_; }
    std::string& body() noexcept { return body_; }
    // Replaces the body and its Content-Type.
    void set_body(std::string body, std::string_view content_type);

    // Sets a header, replacing any of that name (compared case-insensitively).
    // Names and values with CR, LF or NUL, or an empty name:
    // std::invalid_argument (they would split the response).
    response& set_header(std::string_view name, std::string_view value);
    // Adds a header even if one of that name exists (Set-Cookie).
    response& add_header(std::string_view name, std::string_view value);
    std::optional<std::string_view> header(std::string_view name) const noexcept;
    // The headers set with set_header() and add_header(), in order.
    const std::vector<std::pair<std::string, std::string>>& headers() const noexcept { return headers_; }
    // The Content-Type given by text(), json() or set_body(); empty when a
    // Content-Type header was set instead, or none at all.
    std::string_view content_type() const noexcept {
        return static_type_ ? std::string_view(static_type_) : std::string_view(custom_type_);
    }

private:
    int status_ = 200;
    std::string body_;
    // text() and json() point at a literal (no allocation); set_body() copies.
    const char* static_type_ = nullptr;
    std::string custom_type_;
    std::vector<std::pair<std::string, std::string>> headers_;
};

} // namespace uvasync::http
