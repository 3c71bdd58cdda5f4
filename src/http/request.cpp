// http::request's accessors, and the pooled request contexts behind them.
#include "request_context.hpp"
#include "connection.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace uvasync::http {

namespace detail {

char* arena::grow(std::size_t n, std::size_t align) {
    const std::size_t size = std::max<std::size_t>(n + align + sizeof(block), 4096);
    auto* b = static_cast<block*>(std::malloc(size));
    if (!b) throw std::bad_alloc();
    b->next = extra_;
    extra_ = b;
    char* start = reinterpret_cast<char*>(b) + sizeof(block);
    end_ = reinterpret_cast<char*>(b) + size;
    return align_up(start, align);
}

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

namespace {
int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}
} // namespace

void percent_decode(std::string_view in, std::string& out, bool plus_is_space) {
    out.clear();
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        const char c = in[i];
        if (c == '%' && i + 2 < in.size()) {
            const int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out.push_back(static_cast<char>(hi * 16 + lo));
                i += 2;
                continue;
            }
        }
        out.push_back(c == '+' && plus_is_space ? ' ' : c);
    }
}

std::string_view request_context::decode(std::string_view s, bool plus_is_space) {
    if (s.find('%') == std::string_view::npos && (!plus_is_space || s.find('+') == std::string_view::npos)) return s;
    // Decoding only shrinks: decode into the arena directly. A malformed
    // escape is kept as it is, as aiohttp (yarl) keeps it.
    char* out = static_cast<char*>(mem.allocate(s.size(), 1));
    std::size_t n = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (c == '%' && i + 2 < s.size()) {
            const int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out[n++] = static_cast<char>(hi * 16 + lo);
                i += 2;
                continue;
            }
        }
        out[n++] = (c == '+' && plus_is_space) ? ' ' : c;
    }
    return std::string_view(out, n);
}

void request_context::start(std::size_t max_header, std::size_t max_body) {
    parser.emplace(parsed, mem, max_header, max_body);
    header_seen = false;
}

void request_context::finish() noexcept {
    parser.reset();
    parsed.clear();
    mem.reset();
    matched = nullptr;
    route_status = 0;
    params.clear();
    path = {};
    path_ready = false;
    header_seen = false;
}

namespace {

// Contexts kept per thread once released; beyond this they are freed.
constexpr std::size_t pool_max = 64;
// Buffers larger than this are not kept in the pool.
constexpr std::size_t keep_capacity = 64 * 1024;

struct context_pool {
    request_context* head = nullptr;
    std::size_t count = 0;
    ~context_pool() {
        while (head) delete std::exchange(head, head->next_free);
    }
};
thread_local context_pool t_pool;

} // namespace

request_context* request_context::acquire() {
    if (request_context* c = t_pool.head) {
        t_pool.head = c->next_free;
        --t_pool.count;
        c->next_free = nullptr;
        return c;
    }
    return new request_context;
}

void request_context::release(request_context* c) noexcept {
    if (c->parser || c->header_seen) c->finish();
    c->conn = nullptr;
    if (t_pool.count >= pool_max) {
        delete c;
        return;
    }
    if (c->parsed.body.capacity() > keep_capacity) std::string().swap(c->parsed.body);
    if (c->parsed.headers.capacity() > 64) std::vector<header_view>().swap(c->parsed.headers);
    if (c->out.capacity() > keep_capacity) c->out.release_memory();
    if (c->answer.body().capacity() > keep_capacity || !c->answer.headers().empty()) c->answer = response();
    c->out.clear();
    if (c->in_heap_size > keep_capacity) {
        c->in_heap.reset();
        c->in_heap_size = 0;
    }
    c->next_free = t_pool.head;
    t_pool.head = c;
    ++t_pool.count;
}

// The path part of a request target: origin-form "/a/b?q" -> "/a/b";
// absolute-form "http://host/a?q" -> "/a"; "*" stays "*".
std::string_view raw_path_of(std::string_view target) noexcept {
    if (!target.empty() && target[0] != '/' && target != "*") {
        if (auto scheme = target.find("://"); scheme != std::string_view::npos) {
            auto slash = target.find('/', scheme + 3);
            target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
        }
    }
    return target.substr(0, query_start(target));
}

std::size_t query_start(std::string_view target) noexcept {
    // a plain loop: find_first_of calls memchr on "?#" for every character
    std::size_t i = 0;
    while (i < target.size() && target[i] != '?' && target[i] != '#') ++i;
    return i;
}

} // namespace detail

std::string_view request::method() const noexcept { return c_->parsed.method; }

std::string_view request::target() const noexcept { return c_->parsed.target; }

std::string_view request::raw_path() const noexcept { return detail::raw_path_of(target()); }

std::string_view request::path() const {
    if (!c_->path_ready) {
        c_->path = c_->decode(raw_path(), false);
        c_->path_ready = true;
    }
    return c_->path;
}

std::string_view request::query_string() const noexcept {
    std::string_view t = target();
    const std::size_t q = detail::query_start(t);
    if (q == t.size() || t[q] != '?') return {};
    t.remove_prefix(q + 1);
    return t.substr(0, detail::query_start(t)); // up to a '#'
}

std::optional<std::string> request::query(std::string_view name) const {
    std::string_view rest = query_string();
    std::string key, value;
    while (!rest.empty()) {
        const auto amp = rest.find('&');
        std::string_view pair = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
        if (pair.empty()) continue;
        const auto eq = pair.find('=');
        const std::string_view k = pair.substr(0, eq);
        const std::string_view v = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
        detail::percent_decode(k, key, true);
        if (key != name) continue;
        detail::percent_decode(v, value, true);
        return value;
    }
    return std::nullopt;
}

std::optional<std::string_view> request::header(std::string_view name) const {
    for (const detail::header_view& h : c_->parsed.headers)
        if (detail::iequals(h.name, name)) return h.value;
    return std::nullopt;
}

std::vector<std::pair<std::string_view, std::string_view>> request::headers() const {
    std::vector<std::pair<std::string_view, std::string_view>> out;
    out.reserve(c_->parsed.headers.size());
    for (const detail::header_view& h : c_->parsed.headers) out.emplace_back(h.name, h.value);
    return out;
}

std::string_view request::param(std::string_view name) const {
    for (const auto& [k, v] : c_->params)
        if (k == name) return v;
    throw std::out_of_range("request::param: the route has no parameter '" + std::string(name) + "'");
}

const std::string& request::body() const noexcept { return c_->parsed.body; }

endpoint request::remote() const { return c_->conn ? c_->conn->peer() : endpoint(); }

int request::version() const noexcept { return c_->parsed.version; }

bool request::keep_alive() const noexcept { return c_->parser->keep_alive(); }

} // namespace uvasync::http
