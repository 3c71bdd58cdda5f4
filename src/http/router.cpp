// http::router: route patterns, matching, the middleware chain.
#include <uvasync/http/router.hpp>

#include "request_context.hpp"

#include <algorithm>
#include <stdexcept>

namespace uvasync::http {

namespace detail {

struct segment {
    std::string text; // the literal, or the parameter's name
    bool param = false;
    bool tail = false; // {name:.*}: the rest of the path
};

struct route {
    std::string pattern;
    std::vector<segment> segments;
    struct entry {
        std::string method;
        handler fn;
    };
    std::vector<entry> entries;
};

namespace {

[[noreturn]] void bad_pattern(std::string_view pattern, const char* why) {
    throw std::invalid_argument("http::router: bad route pattern '" + std::string(pattern) + "': " + why);
}

std::vector<segment> compile(std::string_view pattern) {
    if (pattern.empty() || pattern[0] != '/') bad_pattern(pattern, "it must start with '/'");
    std::vector<segment> out;
    std::string_view rest = pattern.substr(1);
    for (;;) {
        const auto slash = rest.find('/');
        const std::string_view part = rest.substr(0, slash);
        segment s;
        if (!part.empty() && part.front() == '{') {
            if (part.back() != '}') bad_pattern(pattern, "a parameter must be a whole segment, as {name}");
            std::string_view name = part.substr(1, part.size() - 2);
            if (const auto colon = name.find(':'); colon != std::string_view::npos) {
                if (name.substr(colon + 1) != ".*") bad_pattern(pattern, "the only parameter pattern is {name:.*}");
                name = name.substr(0, colon);
                s.tail = true;
            }
            if (name.empty()) bad_pattern(pattern, "empty parameter name");
            for (char c : name)
                if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_'))
                    bad_pattern(pattern, "parameter names are letters, digits and '_'");
            for (const segment& o : out)
                if (o.param && o.text == name) bad_pattern(pattern, "parameter name used twice");
            s.param = true;
            s.text.assign(name);
        } else {
            if (part.find_first_of("{}") != std::string_view::npos)
                bad_pattern(pattern, "a parameter must be a whole segment, as {name}");
            s.text.assign(part);
        }
        out.push_back(std::move(s));
        if (slash == std::string_view::npos) break;
        if (out.back().tail) bad_pattern(pattern, "{name:.*} must be the last segment");
        rest.remove_prefix(slash + 1);
    }
    return out;
}

// Matches `path` (as sent) against a route; on success its parameters are
// appended to ctx.params (and on failure left as they were).
bool match(const route& r, std::string_view path, request_context& ctx) {
    if (path.empty() || path[0] != '/') return false;
    const std::size_t mark = ctx.params.size();
    std::size_t pos = 1;
    const std::size_t n = r.segments.size();
    for (std::size_t i = 0; i < n; ++i) {
        const segment& s = r.segments[i];
        if (s.tail) {
            ctx.params.emplace_back(s.text, ctx.decode(path.substr(pos), false));
            return true;
        }
        const auto end = path.find('/', pos);
        const std::string_view part = path.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
        if (s.param) {
            if (part.empty()) break;
            ctx.params.emplace_back(s.text, ctx.decode(part, false));
        } else if (part != s.text) {
            break;
        }
        if (i + 1 == n) {
            if (end == std::string_view::npos) return true;
            break;
        }
        if (end == std::string_view::npos) break;
        pos = end + 1;
    }
    if (ctx.params.size() != mark) ctx.params.erase(ctx.params.begin() + static_cast<std::ptrdiff_t>(mark), ctx.params.end());
    return false;
}

const handler* find_handler(const route& r, std::string_view method) {
    for (const auto& e : r.entries)
        if (e.method == method) return &e.fn;
    for (const auto& e : r.entries)
        if (e.method == "*" || (method == "HEAD" && e.method == "GET")) return &e.fn;
    return nullptr;
}

void add_allowed(std::string& allow, std::string_view method) {
    std::string_view rest = allow;
    while (!rest.empty()) {
        const auto comma = rest.find(", ");
        if (rest.substr(0, comma) == method) return;
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 2);
    }
    if (!allow.empty()) allow += ", ";
    allow += method;
}

// Finds the request's handler, or the status for its answer.
void route_request(const std::vector<route>& routes, request_context& ctx) {
    const std::string_view method = ctx.req.method();
    const std::string_view path = raw_path_of(ctx.req.target());
    bool path_matched = false;
    for (const route& r : routes) {
        const std::size_t mark = ctx.params.size();
        if (!match(r, path, ctx)) continue;
        if (const handler* h = find_handler(r, method)) {
            ctx.matched = h;
            return;
        }
        ctx.params.erase(ctx.params.begin() + static_cast<std::ptrdiff_t>(mark), ctx.params.end());
        if (!path_matched) ctx.allow.clear();
        path_matched = true;
        for (const auto& e : r.entries) {
            add_allowed(ctx.allow, e.method);
            if (e.method == "GET") add_allowed(ctx.allow, "HEAD");
        }
    }
    ctx.route_status = path_matched ? 405 : 404;
}

task<response> answer(response r) { co_return r; }

} // namespace
} // namespace detail

task<response> next::operator()(request& req) const { return r_->call(req, i_); }

router::router() = default;
router::router(const router&) = default;
router::router(router&&) noexcept = default;
router& router::operator=(const router&) = default;
router& router::operator=(router&&) noexcept = default;
router::~router() = default;

router& router::add(std::string_view method, std::string_view pattern, handler h) {
    if (method.empty()) throw std::invalid_argument("http::router: empty method");
    if (!h) throw std::invalid_argument("http::router: empty handler for " + std::string(pattern));
    auto it = std::find_if(routes_.begin(), routes_.end(), [&](const detail::route& r) { return r.pattern == pattern; });
    if (it == routes_.end()) {
        detail::route r;
        r.pattern.assign(pattern);
        r.segments = detail::compile(pattern);
        routes_.push_back(std::move(r));
        it = routes_.end() - 1;
    }
    for (const auto& e : it->entries)
        if (e.method == method)
            throw std::invalid_argument("http::router: " + std::string(method) + " " + std::string(pattern) +
                                        " is routed already");
    it->entries.push_back(detail::route::entry{std::string(method), std::move(h)});
    return *this;
}

router& router::get(std::string_view pattern, handler h) { return add("GET", pattern, std::move(h)); }
router& router::post(std::string_view pattern, handler h) { return add("POST", pattern, std::move(h)); }
router& router::put(std::string_view pattern, handler h) { return add("PUT", pattern, std::move(h)); }
router& router::patch(std::string_view pattern, handler h) { return add("PATCH", pattern, std::move(h)); }
router& router::delete_(std::string_view pattern, handler h) { return add("DELETE", pattern, std::move(h)); }

router& router::use(middleware fn) {
    if (!fn) throw std::invalid_argument("http::router: empty middleware");
    middlewares_.push_back(std::move(fn));
    return *this;
}

task<response> router::handle(request& req) const {
    detail::request_context& ctx = detail::request_access::of(req);
    ctx.matched = nullptr;
    ctx.route_status = 0;
    ctx.params.clear();
    detail::route_request(routes_, ctx);
    return call(req, 0);
}

task<response> router::call(request& req, std::size_t index) const {
    if (index < middlewares_.size()) return middlewares_[index](req, next(this, index + 1));
    detail::request_context& ctx = detail::request_access::of(req);
    if (ctx.matched) return (*ctx.matched)(req);
    if (ctx.route_status == 405) {
        response r = response::text("405: Method Not Allowed", 405);
        r.set_header("Allow", ctx.allow);
        return detail::answer(std::move(r));
    }
    return detail::answer(response::text("404: Not Found", 404));
}

} // namespace uvasync::http
