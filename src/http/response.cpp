// http::response.
#include <uvasync/http/response.hpp>

#include "request_context.hpp"

#include <algorithm>
#include <stdexcept>

namespace uvasync::http {

namespace {

void check_status(int status) {
    if (status < 100 || status > 999)
        throw std::invalid_argument("http::response: status " + std::to_string(status) + " is not in 100..999");
}

// A header name is a token: no separators, controls or spaces (RFC 9110).
bool bad_name_char(unsigned char c) noexcept { return c <= ' ' || c == ':' || c >= 127; }
// A value may hold anything but CR, LF and NUL (they would split the response).
bool bad_value_char(unsigned char c) noexcept { return c < ' ' && (c == '\r' || c == '\n' || c == '\0'); }

void check_header(std::string_view name, std::string_view value) {
    if (name.empty()) throw std::invalid_argument("http::response: empty header name");
    for (char c : name)
        if (bad_name_char(static_cast<unsigned char>(c)))
            throw std::invalid_argument("http::response: invalid character in header name '" + std::string(name) +
                                        "'");
    for (char c : value)
        if (bad_value_char(static_cast<unsigned char>(c)))
            throw std::invalid_argument("http::response: CR, LF or NUL in the value of header '" + std::string(name) +
                                        "'");
}

void check_value(std::string_view what, std::string_view value) {
    for (char c : value)
        if (bad_value_char(static_cast<unsigned char>(c)))
            throw std::invalid_argument("http::response: CR, LF or NUL in " + std::string(what));
}

} // namespace

response::response(int status) : status_(status) { check_status(status); }

response response::text(std::string body, int status) {
    response r(status);
    r.body_ = std::move(body);
    r.static_type_ = "text/plain; charset=utf-8";
    return r;
}

response response::json(std::string serialized, int status) {
    response r(status);
    r.body_ = std::move(serialized);
    r.static_type_ = "application/json";
    return r;
}

void response::set_status(int status) {
    check_status(status);
    status_ = status;
}

void response::set_body(std::string body, std::string_view content_type) {
    check_value("the Content-Type", content_type);
    body_ = std::move(body);
    static_type_ = nullptr;
    custom_type_.assign(content_type);
    if (!headers_.empty())
        std::erase_if(headers_, [](const auto& h) { return detail::iequals(h.first, "content-type"); });
}

response& response::set_header(std::string_view name, std::string_view value) {
    check_header(name, value);
    if (detail::iequals(name, "content-type")) {
        static_type_ = nullptr;
        custom_type_.clear();
    }
    auto same = [&](const auto& h) { return detail::iequals(h.first, name); };
    auto first = std::find_if(headers_.begin(), headers_.end(), same);
    if (first == headers_.end()) {
        headers_.emplace_back(std::string(name), std::string(value));
        return *this;
    }
    first->second.assign(value);
    headers_.erase(std::remove_if(first + 1, headers_.end(), same), headers_.end());
    return *this;
}

response& response::add_header(std::string_view name, std::string_view value) {
    check_header(name, value);
    if (detail::iequals(name, "content-type")) return set_header(name, value);
    headers_.emplace_back(std::string(name), std::string(value));
    return *this;
}

std::optional<std::string_view> response::header(std::string_view name) const noexcept {
    if (detail::iequals(name, "content-type") && (static_type_ || !custom_type_.empty())) return content_type();
    for (const auto& [k, v] : headers_)
        if (detail::iequals(k, name)) return std::string_view(v);
    return std::nullopt;
}

} // namespace uvasync::http
