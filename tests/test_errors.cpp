// Errors (docs/api.md): the exception types, libuv's error category, and the
// reporting of task failures nobody retrieved.
#include <gtest/gtest.h>
#include <uvasync/uvasync.hpp>

#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

using namespace uvasync;
using namespace std::chrono_literals;

namespace {

// ---- libuv's error category -------------------------------------------------

TEST(Errors, UvCategoryComparesEqualToStdErrc) {
    const std::error_code refused(UV_ECONNREFUSED, uv_category());
    EXPECT_TRUE(refused == std::errc::connection_refused);
    EXPECT_FALSE(refused == std::errc::no_such_file_or_directory);
    const std::error_code noent(UV_ENOENT, uv_category());
    EXPECT_TRUE(noent == std::errc::no_such_file_or_directory);
    EXPECT_TRUE(std::error_code(UV_EADDRINUSE, uv_category()) == std::errc::address_in_use);
    EXPECT_TRUE(std::error_code(UV_ETIMEDOUT, uv_category()) == std::errc::timed_out);
    EXPECT_STREQ(uv_category().name(), "libuv");
    // The message is libuv's.
    EXPECT_EQ(refused.message(), uv_strerror(UV_ECONNREFUSED));
    EXPECT_EQ(noent.message(), uv_strerror(UV_ENOENT));
}

TEST(Errors, UvErrorsAreSystemErrorsNamingTheOperation) {
    const std::system_error e = make_uv_error(UV_ECONNREFUSED, "connect");
    EXPECT_EQ(e.code(), std::error_code(UV_ECONNREFUSED, uv_category()));
    EXPECT_TRUE(e.code() == std::errc::connection_refused);
    const std::string what = e.what();
    EXPECT_NE(what.find("connect"), std::string::npos) << what;
    EXPECT_NE(what.find(uv_strerror(UV_ECONNREFUSED)), std::string::npos) << what;
    try {
        throw_uv_error(UV_ENOENT, "open");
    } catch (const std::system_error& x) {
        EXPECT_TRUE(x.code() == std::errc::no_such_file_or_directory);
        EXPECT_EQ(&x.code().category(), &uv_category());
    }
}

// ---- the exception types of docs/api.md ---------------------------------------

TEST(Errors, TheExceptionTypesAndTheirBases) {
    static_assert(!std::is_base_of_v<std::exception, cancelled_error>);
    static_assert(std::is_base_of_v<std::runtime_error, timeout_error>);
    static_assert(std::is_base_of_v<std::logic_error, invalid_state_error>);
    static_assert(std::is_base_of_v<std::exception, exception_group>);
    static_assert(std::is_base_of_v<std::runtime_error, incomplete_read_error>);
    static_assert(std::is_base_of_v<std::runtime_error, limit_overrun_error>);

    EXPECT_EQ(cancelled_error().message(), "");
    EXPECT_EQ(cancelled_error("why").message(), "why");

    try {
        throw timeout_error();
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()), "");
    }

    incomplete_read_error short_read(std::string(18, 'x'), 36);
    EXPECT_EQ(short_read.partial(), std::string(18, 'x'));
    EXPECT_EQ(short_read.expected(), 36u);
    EXPECT_STREQ(short_read.what(), "18 bytes read on a total of 36 expected bytes");

    limit_overrun_error overrun("Separator is not found, and chunk exceed the limit", 70000);
    EXPECT_EQ(overrun.consumed(), 70000u);

    std::vector<std::exception_ptr> errors{std::make_exception_ptr(std::runtime_error("one")),
                                           std::make_exception_ptr(std::logic_error("two"))};
    exception_group group("unhandled errors in a task_group", errors);
    ASSERT_EQ(group.exceptions().size(), 2u);
    EXPECT_THROW(std::rethrow_exception(group.exceptions()[0]), std::runtime_error);
    EXPECT_THROW(std::rethrow_exception(group.exceptions()[1]), std::logic_error);
    EXPECT_EQ(group.message(), "unhandled errors in a task_group");

    EXPECT_THROW(throw queue_empty(), std::runtime_error);
    EXPECT_THROW(throw queue_full(), std::runtime_error);
    EXPECT_THROW(throw queue_shut_down(), std::runtime_error);
    EXPECT_THROW(throw broken_barrier_error(), std::runtime_error);
}

// ---- failures nobody retrieved ------------------------------------------------

task<int> fails(std::string what) {
    co_await sleep(0s);
    throw std::runtime_error(what);
}

task<> ticks(int n) {
    for (int i = 0; i < n; ++i) co_await sleep(0s);
}

struct recorded {
    std::vector<exception_context> contexts;
    void install(event_loop& loop) {
        loop.set_exception_handler([this](event_loop&, const exception_context& ctx) { contexts.push_back(ctx); });
    }
};

task<> fail_unretrieved() {
    (void)create_task(fails("never looked at"), "doomed");
    co_await ticks(3);
}

// CPython: test_tasks.py::test_exception_never_retrieved ("Task exception was never retrieved")
TEST(Unretrieved, AFailureNobodyRetrievedReachesTheHandlerExactlyOnce) {
    event_loop loop;
    recorded r;
    r.install(loop);
    loop.run_until_complete(fail_unretrieved());
    loop.run_until_complete(ticks(3));
    ASSERT_EQ(r.contexts.size(), 1u);
    EXPECT_NE(r.contexts[0].message.find("never retrieved"), std::string::npos) << r.contexts[0].message;
    EXPECT_EQ(r.contexts[0].task_name, "doomed");
    try {
        std::rethrow_exception(r.contexts[0].exception);
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "never looked at");
    }
    loop.close();
    EXPECT_EQ(r.contexts.size(), 1u);
}

task<> reported_when_last_handle_goes(std::size_t& seen_while_held, const recorded& r) {
    task_handle<int> h = create_task(fails("held"));
    co_await ticks(3);
    EXPECT_TRUE(h.done());
    seen_while_held = r.contexts.size(); // not yet: someone could still look
    h = {};
}

TEST(Unretrieved, ReportedWhenTheLastHandleGoesNotBefore) {
    event_loop loop;
    recorded r;
    r.install(loop);
    std::size_t seen_while_held = 99;
    loop.run_until_complete(reported_when_last_handle_goes(seen_while_held, r));
    EXPECT_EQ(seen_while_held, 0u);
    EXPECT_EQ(r.contexts.size(), 1u);
}

task<> retrieve_in_every_way() {
    task_handle<int> by_result = create_task(fails("result"));
    task_handle<int> by_exception = create_task(fails("exception"));
    task_handle<int> by_await = create_task(fails("await"));
    co_await ticks(2);
    EXPECT_THROW((void)by_result.result(), std::runtime_error);
    EXPECT_TRUE(by_exception.exception() != nullptr);
    try {
        co_await by_await;
    } catch (const std::runtime_error&) {
    }
    // A failure awaited inline, never a task of its own, is simply an exception.
    task<int> inline_failure = fails("inline");
    try {
        co_await std::move(inline_failure);
    } catch (const std::runtime_error&) {
    }
    // A cancelled task is not a failure.
    task_handle<> cancelled = create_task(ticks(100));
    cancelled.cancel();
    co_await ticks(2);
}

// CPython: test_tasks.py (a retrieved exception is never logged)
TEST(Unretrieved, ARetrievedFailureIsNeverReported) {
    event_loop loop;
    recorded r;
    r.install(loop);
    loop.run_until_complete(retrieve_in_every_way());
    loop.run_until_complete(ticks(3));
    loop.close();
    EXPECT_TRUE(r.contexts.empty()) << r.contexts.size() << " report(s), first: " << r.contexts[0].message;
}

TEST(Unretrieved, RunUntilCompletesFailureIsRetrieved) {
    event_loop loop;
    recorded r;
    r.install(loop);
    EXPECT_THROW(loop.run_until_complete(fails("main")), std::runtime_error);
    loop.close();
    EXPECT_TRUE(r.contexts.empty());
}

TEST(Unretrieved, AHandleOutlivingItsLoopReportsThroughTheDefaultHandler) {
    task_handle<int> kept;
    {
        event_loop loop;
        recorded r;
        r.install(loop);
        loop.call_soon([&kept] { kept = create_task(fails("outlived")); });
        loop.run_until_complete(ticks(3));
        EXPECT_TRUE(kept.done());
        loop.close();
        EXPECT_TRUE(r.contexts.empty());
    }
    testing::internal::CaptureStderr();
    kept = {};
    const std::string err = testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find("never retrieved"), std::string::npos) << err;
    EXPECT_NE(err.find("outlived"), std::string::npos) << err;
}

} // namespace
