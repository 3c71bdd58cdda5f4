// The request parser's callbacks: views into the input, the body appended.
#include "request_parser.hpp"
#include "request_context.hpp" // arena

#include <boost/asio/buffer.hpp>

#include <algorithm>
#include <cstring>
#include <functional>

namespace uvasync::http::detail {

namespace {

std::string_view view(boost::beast::string_view s) noexcept { return std::string_view(s.data(), s.size()); }

// `v` lies in [from, from + size] (an empty view may sit at the end).
bool inside(std::string_view v, const char* from, std::size_t size) noexcept {
    const std::less_equal<const char*> le;
    return le(from, v.data()) && le(v.data() + v.size(), from + size);
}

void follow(std::string_view& v, const char* from, std::size_t size, const char* to) noexcept {
    if (!v.data() || !inside(v, from, size)) return;
    v = std::string_view(to + (v.data() - from), v.size());
}

} // namespace

void parsed_request::clear() noexcept {
    verb = boost::beast::http::verb::unknown;
    method = target = expect = {};
    version = 11;
    headers.clear();
    body.clear();
}

void parsed_request::moved(const char* from, std::size_t size, const char* to) noexcept {
    follow(method, from, size, to);
    follow(target, from, size, to);
    follow(expect, from, size, to);
    for (header_view& h : headers) {
        follow(h.name, from, size, to);
        follow(h.value, from, size, to); // an unfolded value in the arena stays
    }
}

request_parser::request_parser(parsed_request& out, arena& mem, std::size_t max_header, std::size_t max_body)
    : out_(out), mem_(mem) {
    header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(max_header, UINT32_MAX)));
    body_limit(static_cast<std::uint64_t>(max_body));
    // `out` is clear: a new context's is, and finish() clears it
}

std::size_t request_parser::feed(const char* data, std::size_t size, boost::beast::error_code& ec) {
    // Boost 1.81's chunk parser asserts (aborts, where assertions are on)
    // when the last chunk's line, "0\r\n", came without the "\r\n" that
    // ends the body and the next call has fewer than 5 bytes (fixed by
    // boostorg/beast#2861). A chunked body ends with at least those 5
    // bytes, so holding back fewer delays nothing that could complete.
    if (size < 5 && is_header_done() && chunked()) {
        ec = boost::beast::http::error::need_more;
        return 0;
    }
    input_ = data;
    input_end_ = data + size;
    eager(is_header_done());
    return put(boost::asio::const_buffer(data, size), ec);
}

void request_parser::on_request_impl(boost::beast::http::verb method, boost::beast::string_view method_str,
                                     boost::beast::string_view target, int version, boost::beast::error_code&) {
    out_.verb = method;
    out_.method = view(method_str);
    out_.target = view(target);
    out_.version = version;
}

void request_parser::on_field_impl(boost::beast::http::field name, boost::beast::string_view name_string,
                                   boost::beast::string_view value, boost::beast::error_code&) {
    std::string_view v = view(value);
    const std::less_equal<const char*> le;
    if (!v.empty() && !(le(input_, v.data()) && le(v.data() + v.size(), input_end_))) {
        // unfolded by Beast into its own buffer, which is gone after this call
        char* copy = static_cast<char*>(mem_.allocate(v.size(), 1));
        std::memcpy(copy, v.data(), v.size());
        v = std::string_view(copy, v.size());
    }
    out_.headers.push_back(header_view{view(name_string), v});
    if (name == boost::beast::http::field::expect && out_.expect.data() == nullptr) out_.expect = v;
}

void request_parser::on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                                       boost::beast::error_code&) {
    // within the body limit, which Beast checked before this call
    if (content_length) out_.body.reserve(static_cast<std::size_t>(*content_length));
}

std::size_t request_parser::on_body_impl(boost::beast::string_view body, boost::beast::error_code&) {
    out_.body.append(body.data(), body.size());
    return body.size();
}

std::size_t request_parser::on_chunk_body_impl(std::uint64_t, boost::beast::string_view body,
                                               boost::beast::error_code&) {
    out_.body.append(body.data(), body.size());
    return body.size();
}

} // namespace uvasync::http::detail
