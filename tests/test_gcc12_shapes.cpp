// The call shapes of the callable-taking APIs that are safe on GCC 12
// (docs/gcc12.md). GCC 12 destroys twice the members of an aggregate
// temporary built inside a co_await expression, and a lambda's closure is
// one: `co_await api([s](...) -> task<> {...})` with a std::string capture
// is a double free, whatever the signature of `api` (by value, Body&&,
// const Body&, std::function, a type-erased holder: all tried). Every shape
// below passes on GCC 12 and Clang; each capture is a `counted` string, so
// a test also sees a destruction too many (or too few) without the crash.
//
// A shape that needs an API change says so (today's API otherwise); the
// models of those APIs are at the top.
#include "stream_test_util.hpp"

#include <gtest/gtest.h>
#include <uvasync/uvasync.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <utility>

namespace ua = uvasync;
using namespace std::chrono_literals;

namespace {

// A string whose copies are counted: constructions minus destructions must
// come back to zero.
struct counted {
    static inline int live = 0;
    std::string text;
    explicit counted(std::string t) : text(std::move(t)) { ++live; }
    counted(const counted& o) : text(o.text) { ++live; }
    counted(counted&& o) noexcept : text(std::move(o.text)) { ++live; }
    counted& operator=(const counted&) = default;
    ~counted() { --live; }
};

const std::string message = "long enough to live on the heap, not in the string: 0123456789";

// ---- models of APIs that do not exist yet ------------------------------------

namespace model {

// API change: task_group::scope(body, args...), calling body(tg, args...).
// (model::scope is written with today's scope and an [&]-only lambda.)
// The values a lambda would capture travel as arguments (coroutine
// parameters, which GCC 12 handles), and the body captures only references.
template <class Body, class... A> ua::task<> scope(Body body, A... args) {
    auto call = [&](ua::task_group& tg) { return body(tg, args...); };
    co_await ua::task_group::scope(call);
}

// API (new): timeout(d, body): asyncio.timeout as a scope. The body gets a
// timeout_scope (for reschedule()/when()); Body by value, so that the
// two-statement form below owns its closure. Modelled on wait_for.
struct timeout_scope {
    std::chrono::nanoseconds delay;
};
template <class Body>
auto timeout(std::chrono::nanoseconds d, Body body)
    -> ua::task<typename decltype(body(std::declval<timeout_scope&>()))::value_type> {
    timeout_scope scope{d};
    co_return co_await ua::wait_for(body(scope), d);
}
// API (new): timeout(d, body, args...), as model::scope.
template <class Body, class... A>
auto timeout(std::chrono::nanoseconds d, Body body, A... args)
    -> ua::task<typename decltype(body(std::declval<timeout_scope&>(), args...))::value_type> {
    timeout_scope scope{d};
    co_return co_await ua::wait_for(body(scope, args...), d);
}

} // namespace model
using model::timeout_scope;

ua::task<int> length_later(std::string s) {
    co_await ua::sleep(1ms);
    co_return static_cast<int>(s.size());
}

// A callable class (not an aggregate: it has a constructor), which GCC 12
// builds correctly inside a co_await expression.
struct scope_body {
    counted c;
    int* seen;
    scope_body(counted x, int* s) : c(std::move(x)), seen(s) {}
    ua::task<> operator()(ua::task_group& tg) const {
        tg.create_task(length_later(c.text));
        *seen = static_cast<int>(c.text.size());
        co_return;
    }
};

void run_shape(ua::task<> body) {
    counted::live = 0;
    ua::run(ua::wait_for(std::move(body), 20s));
    EXPECT_EQ(counted::live, 0) << "a capture destroyed the wrong number of times";
}

const int expected = static_cast<int>(message.size());

// ---- task_group::scope -----------------------------------------------------------

// [&]-only: the closure holds references, nothing to destroy twice.
TEST(Gcc12Shapes, ScopeInlineLambdaCapturingOnlyReferences) {
    run_shape([]() -> ua::task<> {
        counted c(message);
        int seen = 0;
        co_await ua::task_group::scope([&](ua::task_group& tg) -> ua::task<> {
            tg.create_task(length_later(c.text));
            seen = static_cast<int>(c.text.size());
            co_return;
        });
        EXPECT_EQ(seen, expected);
    }());
}

// Captures without destructors (pointers, numbers) by value: likewise.
TEST(Gcc12Shapes, ScopeInlineLambdaCapturingTriviallyDestructibleValues) {
    run_shape([]() -> ua::task<> {
        counted c(message);
        const counted* p = &c;
        int seen = 0, extra = 0;
        int* out = &seen;
        co_await ua::task_group::scope([p, out, extra](ua::task_group& tg) -> ua::task<> {
            tg.create_task(length_later(p->text));
            *out = static_cast<int>(p->text.size()) + extra;
            co_return;
        });
        EXPECT_EQ(seen, expected);
    }());
}

// Two statements: the lambda is built where there is no co_await. Safe
// because scope takes its body by value (a Body&& or const Body& scope would
// keep a reference to a closure gone at the first semicolon: ASan's
// stack-use-after-scope on every compiler). Keep scope by value.
TEST(Gcc12Shapes, ScopeBuiltThenAwaited) {
    run_shape([]() -> ua::task<> {
        counted c(message);
        int seen = 0;
        ua::task<> scope = ua::task_group::scope([&seen, c](ua::task_group& tg) -> ua::task<> {
            tg.create_task(length_later(c.text));
            seen = static_cast<int>(c.text.size());
            co_return;
        });
        co_await std::move(scope);
        EXPECT_EQ(seen, expected);
    }());
}

// The named lambda (the rule the docs gave so far).
TEST(Gcc12Shapes, ScopeNamedLambda) {
    run_shape([]() -> ua::task<> {
        counted c(message);
        int seen = 0;
        auto body = [&seen, c](ua::task_group& tg) -> ua::task<> {
            tg.create_task(length_later(c.text));
            seen = static_cast<int>(c.text.size());
            co_return;
        };
        co_await ua::task_group::scope(body);
        EXPECT_EQ(seen, expected);
    }());
}

// std::bind_front's result is a class with a constructor, not an
// aggregate: the values it binds survive, inline.
TEST(Gcc12Shapes, ScopeInlineBindFront) {
    run_shape([]() -> ua::task<> {
        counted c(message);
        int seen = 0;
        co_await ua::task_group::scope(std::bind_front(
            [&seen](counted mine, ua::task_group& tg) -> ua::task<> {
                tg.create_task(length_later(mine.text));
                seen = static_cast<int>(mine.text.size());
                co_return;
            },
            c));
        EXPECT_EQ(seen, expected);
    }());
}

// A callable class with a constructor, inline.
TEST(Gcc12Shapes, ScopeInlineCallableClass) {
    run_shape([]() -> ua::task<> {
        counted c(message);
        int seen = 0;
        co_await ua::task_group::scope(scope_body(c, &seen));
        EXPECT_EQ(seen, expected);
    }());
}

// Needs the API change task_group::scope(body, args...): the natural inline
// form, with the by-value captures moved to arguments.
TEST(Gcc12Shapes, ScopeInlineWithValuesAsArguments) {
    run_shape([]() -> ua::task<> {
        counted c(message);
        int seen = 0;
        co_await model::scope(
            [&](ua::task_group& tg, counted mine) -> ua::task<> {
                tg.create_task(length_later(mine.text));
                seen = static_cast<int>(mine.text.size());
                co_return;
            },
            c);
        co_await model::scope(
            [&](ua::task_group&, std::string text) -> ua::task<> {
                seen += static_cast<int>(text.size());
                co_return;
            },
            std::string(message)); // a non-aggregate prvalue argument is fine
        EXPECT_EQ(seen, 2 * expected);
    }());
}

// ---- start_server ------------------------------------------------------------------

// One connection: the handler writes the length of its captured string.
ua::task<int> ask(std::uint16_t port) {
    auto [reader, writer] = co_await ua::open_connection("127.0.0.1", port);
    const std::string line = co_await reader.readline();
    writer.close();
    co_await writer.wait_closed();
    co_return std::stoi(line);
}

ua::task<> answer(const std::string& text, ua::stream_writer& writer) {
    writer.write(std::to_string(text.size()) + "\n");
    co_await writer.drain();
    writer.close();
    co_await writer.wait_closed();
}

ua::task<int> serve_once(ua::server srv) {
    const int n = co_await ask(srv.port());
    srv.close();
    co_await srv.wait_closed();
    co_return n;
}

// A named client_connected_handler (today's documented form).
TEST(Gcc12Shapes, ServerNamedHandler) {
    run_shape([]() -> ua::task<> {
        counted c(message);
        ua::client_connected_handler handler = [c](ua::stream_reader, ua::stream_writer w) -> ua::task<> {
            co_await answer(c.text, w);
        };
        ua::server srv = co_await ua::start_server(std::move(handler), "127.0.0.1", 0);
        const int n = co_await serve_once(std::move(srv));
        EXPECT_EQ(n, expected);
    }());
}

// Two statements: the inline lambda goes into the std::function before any
// co_await. Safe because start_server takes the handler by value.
TEST(Gcc12Shapes, ServerStartedThenAwaited) {
    run_shape([]() -> ua::task<> {
        counted c(message);
        ua::task<ua::server> starting = ua::start_server(
            [c](ua::stream_reader, ua::stream_writer w) -> ua::task<> { co_await answer(c.text, w); },
            "127.0.0.1", 0);
        ua::server srv = co_await std::move(starting);
        const int n = co_await serve_once(std::move(srv));
        EXPECT_EQ(n, expected);
    }());
}

// std::bind_front, inline: the bound value is copied into each handler call.
TEST(Gcc12Shapes, ServerInlineBindFront) {
    run_shape([]() -> ua::task<> {
        counted c(message);
        ua::server srv = co_await ua::start_server(
            std::bind_front(
                [](counted mine, ua::stream_reader, ua::stream_writer w) -> ua::task<> {
                    co_await answer(mine.text, w);
                },
                c),
            "127.0.0.1", 0);
        const int n = co_await serve_once(std::move(srv));
        EXPECT_EQ(n, expected);
    }());
}

// [&]-only, inline: fine while the referenced locals outlive the server.
TEST(Gcc12Shapes, ServerInlineLambdaCapturingOnlyReferences) {
    run_shape([]() -> ua::task<> {
        counted c(message);
        ua::server srv = co_await ua::start_server(
            [&c](ua::stream_reader, ua::stream_writer w) -> ua::task<> { co_await answer(c.text, w); }, "127.0.0.1",
            0);
        const int n = co_await serve_once(std::move(srv));
        EXPECT_EQ(n, expected);
    }());
}

// ---- timeout(d, body) (a new API, modelled above) ----------------------------------

TEST(Gcc12Shapes, TimeoutInlineBodyCapturingOnlyReferences) {
    run_shape([]() -> ua::task<> {
        counted c(message);
        const int n = co_await model::timeout(5s, [&](timeout_scope&) -> ua::task<int> { co_return co_await length_later(c.text); });
        EXPECT_EQ(n, expected);
    }());
}

TEST(Gcc12Shapes, TimeoutBuiltThenAwaited) {
    run_shape([]() -> ua::task<> {
        counted c(message);
        ua::task<int> t = model::timeout(5s, [c](timeout_scope&) -> ua::task<int> { co_return co_await length_later(c.text); });
        const int n = co_await std::move(t);
        EXPECT_EQ(n, expected);
    }());
}

// Needs timeout(d, body, args...).
TEST(Gcc12Shapes, TimeoutInlineWithValuesAsArguments) {
    run_shape([]() -> ua::task<> {
        counted c(message);
        const int n = co_await model::timeout(
            5s, [](timeout_scope&, counted mine) -> ua::task<int> { co_return co_await length_later(mine.text); }, c);
        EXPECT_EQ(n, expected);
    }());
}

TEST(Gcc12Shapes, TimeoutInlineBindFront) {
    run_shape([]() -> ua::task<> {
        counted c(message);
        const int n = co_await model::timeout(
            5s, std::bind_front([](counted mine, timeout_scope&) -> ua::task<int> { co_return co_await length_later(mine.text); }, c));
        EXPECT_EQ(n, expected);
    }());
}

// The timeout still cancels the body (the model is wait_for).
TEST(Gcc12Shapes, TimeoutBodyIsCancelledAtTheDeadline) {
    run_shape([]() -> ua::task<> {
        counted c(message);
        bool timed_out = false;
        try {
            co_await model::timeout(
                10ms, [](timeout_scope&, counted) -> ua::task<int> {
                    co_await ua::sleep(10s);
                    co_return 0;
                },
                c);
        } catch (const ua::timeout_error&) {
            timed_out = true;
        }
        EXPECT_TRUE(timed_out);
    }());
}

} // namespace
