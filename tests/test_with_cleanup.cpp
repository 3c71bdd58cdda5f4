// with_cleanup(body, cleanup): `try: ... finally: await cleanup()`.
#include <gtest/gtest.h>
#include <uvasync/uvasync.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace ua = uvasync;
using namespace std::chrono_literals;

ua::task<> cleanup(std::vector<std::string>& log) {
    log.push_back("cleanup starts");
    co_await ua::sleep(0s); // it awaits: the point of the combinator
    co_await ua::sleep(0s);
    log.push_back("cleanup done");
}

ua::task<int> succeeds(std::vector<std::string>& log) {
    log.push_back("body");
    co_await ua::sleep(0s);
    co_return 42;
}

ua::task<int> fails(std::vector<std::string>& log) {
    log.push_back("body");
    co_await ua::sleep(0s);
    throw std::runtime_error("body failed");
}

ua::task<int> sleeps(std::vector<std::string>& log) {
    log.push_back("body");
    co_await ua::sleep(1h);
    co_return 0;
}

TEST(WithCleanup, OnSuccessTheCleanupRunsThenTheValueIsReturned) {
    ua::event_loop loop;
    std::vector<std::string> log;
    auto main = [&]() -> ua::task<int> { co_return co_await ua::with_cleanup(succeeds(log), cleanup(log)); };
    EXPECT_EQ(loop.run_until_complete(main()), 42);
    EXPECT_EQ(log, (std::vector<std::string>{"body", "cleanup starts", "cleanup done"}));
}

TEST(WithCleanup, OnFailureTheCleanupRunsThenTheExceptionIsRethrown) {
    ua::event_loop loop;
    std::vector<std::string> log;
    auto main = [&]() -> ua::task<int> { co_return co_await ua::with_cleanup(fails(log), cleanup(log)); };
    EXPECT_THROW(loop.run_until_complete(main()), std::runtime_error);
    EXPECT_EQ(log, (std::vector<std::string>{"body", "cleanup starts", "cleanup done"}));
}

TEST(WithCleanup, OnCancellationTheCleanupRunsToItsEndThenTheCancellationPropagates) {
    ua::event_loop loop;
    std::vector<std::string> log;
    auto worker = [&]() -> ua::task<int> { co_return co_await ua::with_cleanup(sleeps(log), cleanup(log)); };
    auto main = [&]() -> ua::task<> {
        ua::task_handle<int> w = ua::create_task(worker());
        co_await ua::sleep(0s);
        w.cancel("stop");
        co_await ua::sleep(0s);
        w.cancel("again"); // during the cleanup: it does not cut it short
        try {
            co_await w;
            ADD_FAILURE() << "expected cancelled_error";
        } catch (const ua::cancelled_error& e) {
            EXPECT_EQ(e.message(), "stop");
        }
        EXPECT_TRUE(w.cancelled());
    };
    loop.run_until_complete(main());
    EXPECT_EQ(log, (std::vector<std::string>{"body", "cleanup starts", "cleanup done"}));
}

TEST(WithCleanup, ACancellationDuringTheCleanupOfASuccessIsThrownAfterIt) {
    ua::event_loop loop;
    std::vector<std::string> log;
    auto worker = [&]() -> ua::task<int> { co_return co_await ua::with_cleanup(succeeds(log), cleanup(log)); };
    auto main = [&]() -> ua::task<> {
        ua::task_handle<int> w = ua::create_task(worker());
        co_await ua::sleep(0s); // body runs
        co_await ua::sleep(0s); // the cleanup starts
        w.cancel();
        try {
            co_await w;
            ADD_FAILURE() << "expected cancelled_error";
        } catch (const ua::cancelled_error&) {
        }
    };
    loop.run_until_complete(main());
    EXPECT_EQ(log, (std::vector<std::string>{"body", "cleanup starts", "cleanup done"}));
}

TEST(WithCleanup, AnExceptionFromTheCleanupReplacesTheBodysOutcome) {
    ua::event_loop loop;
    std::vector<std::string> log;
    auto bad_cleanup = []() -> ua::task<> {
        co_await ua::sleep(0s);
        throw std::logic_error("cleanup failed");
    };
    auto main = [&]() -> ua::task<int> { co_return co_await ua::with_cleanup(succeeds(log), bad_cleanup()); };
    EXPECT_THROW(loop.run_until_complete(main()), std::logic_error);
}

} // namespace
