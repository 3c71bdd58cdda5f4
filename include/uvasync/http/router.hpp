// http::router: sends each request to a handler by method and path, with
// path parameters and middlewares: aiohttp's app.router and middlewares.
//
//   task<http::response> show_user(http::request& req) {
//       co_return http::response::json("{\"id\":\"" + std::string(req.param("id")) + "\"}");
//   }
//   task<http::response> timing(http::request& req, http::next call_next) {
//       auto started = uvasync::clock::now();
//       http::response r = co_await call_next(req);
//       r.set_header("Server-Timing", ...);
//       co_return r;
//   }
//   http::router app;
//   app.get("/users/{id}", show_user);
//   app.use(timing);
//   http::server srv = co_await http::serve(std::move(app), "127.0.0.1", 8080);
//
// Patterns are matched against the path as sent, segment by segment:
// "/users/{id}" matches "/users/7" (param("id") == "7", percent-decoded)
// but not "/users/7/posts" nor "/users/"; a last segment "{name:.*}"
// takes the rest of the path, slashes included ("/static/{file:.*}").
// Routes are tried in the order they were added. A path that matches no
// route gets 404; one that matches only routes without its method gets 405
// with an Allow header. get() routes also answer HEAD.
//
// Middlewares run in the order added, the first outermost, around every
// request (404 and 405 answers included), after the route is matched, so
// that request::param() works in them.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "../task.hpp"
#include "request.hpp"
#include "response.hpp"

namespace uvasync::http {

// What answers a request.
using handler = std::function<task<response>(request&)>;

class router;

// The rest of the chain after a middleware: the next middleware, or the
// matched route's handler.
class next {
public:
    task<response> operator()(request& req) const;

private:
    friend class router;
    next(const router* r, std::size_t index) noexcept : r_(r), i_(index) {}
    const router* r_;
    std::size_t i_;
};

using middleware = std::function<task<response>(request&, next)>;

namespace detail {
struct route;
} // namespace detail

class router {
public:
    router();
    router(const router&);
    router(router&&) noexcept;
    router& operator=(const router&);
    router& operator=(router&&) noexcept;
    ~router();

    // Adds a route. `method` is matched exactly ("GET", "PROPFIND"); "*"
    // takes every method. Bad patterns (not starting with '/', an unclosed
    // or empty "{}", a parameter name used twice, ".*" before the last
    // segment) and a method already routed for this pattern:
    // std::invalid_argument.
    router& add(std::string_view method, std::string_view pattern, handler h);
    router& get(std::string_view pattern, handler h); // GET and HEAD
    router& post(std::string_view pattern, handler h);
    router& put(std::string_view pattern, handler h);
    router& patch(std::string_view pattern, handler h);
    router& delete_(std::string_view pattern, handler h);

    // Adds a middleware: fn(request&, next) -> task<response>.
    router& use(middleware fn);

    // Answers a request: matches its route, then runs the middlewares and
    // the handler (or answers 404 / 405).
    task<response> handle(request& req) const;

private:
    friend class next;
    task<response> call(request& req, std::size_t index) const;

    std::vector<detail::route> routes_;
    std::vector<middleware> middlewares_;
};

} // namespace uvasync::http
