// The request parser of http::serve (private): Beast's basic_parser<true>
// (the HTTP/1.1 grammar, the header and body limits, Content-Length and
// chunked bodies, keep-alive semantics) with callbacks that only note where
// things are.
//
// The method, the target and the headers are views of the bytes where they
// arrived, in the connection's input buffer: no field container, no copy,
// no allocation per request once the header list and the body have their
// capacity. The body is appended to a string, de-chunked. (A header value
// folded over several lines, which Beast unfolds into a buffer of its own,
// is copied into the request's arena.)
//
// The views hold as long as the bytes from the request's first one stay
// where they are. The connection never moves them behind the parser's back:
// when it needs room while a request is in progress it moves the request's
// head and its unparsed bytes together, and has the views follow
// (parsed_request::moved).
#pragma once

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/verb.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace uvasync::http::detail {

class arena;

struct header_view {
    std::string_view name;
    std::string_view value;
};

// What the parser found in one request.
struct parsed_request {
    boost::beast::http::verb verb = boost::beast::http::verb::unknown;
    std::string_view method;
    std::string_view target;
    int version = 11;
    std::vector<header_view> headers; // in order, a chunked body's trailers too
    std::string_view expect;          // the Expect header's value (data() null: none)
    std::string body;

    // Forgets the request; keeps the capacity.
    void clear() noexcept;
    // The `size` bytes at `from` now live at `to`: the views into them follow.
    void moved(const char* from, std::size_t size, const char* to) noexcept;
};

class request_parser final : public boost::beast::http::basic_parser<true> {
public:
    request_parser(parsed_request& out, arena& mem, std::size_t max_header, std::size_t max_body);

    // Parses what it can of [data, data + size) and returns how many bytes
    // it used; `ec` is need_more when it wants more, or the parse error. The
    // head is parsed alone (the call that completes it returns there), so
    // that the caller learns where the head ends; the body is parsed eagerly.
    std::size_t feed(const char* data, std::size_t size, boost::beast::error_code& ec);

private:
    void on_request_impl(boost::beast::http::verb method, boost::beast::string_view method_str,
                         boost::beast::string_view target, int version, boost::beast::error_code& ec) override;
    void on_response_impl(int, boost::beast::string_view, int, boost::beast::error_code&) override {}
    void on_field_impl(boost::beast::http::field name, boost::beast::string_view name_string,
                       boost::beast::string_view value, boost::beast::error_code& ec) override;
    void on_header_impl(boost::beast::error_code&) override {}
    void on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                           boost::beast::error_code& ec) override;
    std::size_t on_body_impl(boost::beast::string_view body, boost::beast::error_code& ec) override;
    void on_chunk_header_impl(std::uint64_t, boost::beast::string_view, boost::beast::error_code&) override {}
    std::size_t on_chunk_body_impl(std::uint64_t remain, boost::beast::string_view body,
                                   boost::beast::error_code& ec) override;
    void on_finish_impl(boost::beast::error_code&) override {}

    parsed_request& out_;
    arena& mem_;
    const char* input_ = nullptr; // what feed() was given
    const char* input_end_ = nullptr;
};

} // namespace uvasync::http::detail
