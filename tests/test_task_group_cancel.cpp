// task_group::cancel() (Python 3.15's TaskGroup.cancel()): an early exit
// that is not an error. CPython: test_taskgroups.py (test_taskgroup_cancel_*)
// and the trap of CPython issue 155433.
#include <gtest/gtest.h>
#include <uvasync/uvasync.hpp>

#include <chrono>
#include <stdexcept>
#include <vector>

namespace {

namespace ua = uvasync;
using namespace std::chrono_literals;

ua::task<> sleeps_forever(std::vector<std::string>& log, std::string name) {
    try {
        co_await ua::sleep(1h);
    } catch (const ua::cancelled_error&) {
        log.push_back(name + " cancelled");
        throw;
    }
}

// CPython: test_taskgroups.py::test_taskgroup_cancel_children (children and
// body cancelled, the scope returns normally)
TEST(TaskGroupCancel, ChildrenAndBodyAreCancelledAndTheScopeReturnsNormally) {
    ua::event_loop loop;
    std::vector<std::string> log;
    bool after_scope = false;
    auto main = [&]() -> ua::task<> {
        auto body = [&](ua::task_group& tg) -> ua::task<> {
            tg.create_task(sleeps_forever(log, "a"));
            tg.create_task(sleeps_forever(log, "b"));
            co_await ua::sleep(0s);
            tg.cancel();
            try {
                co_await ua::sleep(1h);
            } catch (const ua::cancelled_error&) {
                log.push_back("body cancelled");
                throw;
            }
        };
        co_await ua::task_group::scope(body);
        after_scope = true;
        EXPECT_EQ(ua::current_task()->cancelling(), 0u);
    };
    loop.run_until_complete(main());
    EXPECT_TRUE(after_scope);
    EXPECT_EQ(log.size(), 3u);
}

// CPython: test_taskgroups.py::test_taskgroup_cancel_from_child (a child
// cancels the group while the body has already finished)
TEST(TaskGroupCancel, AChildMayCancelTheGroupWhileTheScopeWaits) {
    ua::event_loop loop;
    std::vector<std::string> log;
    // (Defined out here: a child task's lambda must outlive the child, and
    // the body's frame ends first.)
    auto stopper = [](ua::task_group& tg) -> ua::task<> {
        co_await ua::sleep(0s);
        tg.cancel();
        tg.cancel(); // idempotent
    };
    auto main = [&]() -> ua::task<> {
        auto body = [&](ua::task_group& tg) -> ua::task<> {
            tg.create_task(sleeps_forever(log, "sleeper"));
            tg.create_task(stopper(tg));
            co_return;
        };
        co_await ua::task_group::scope(body);
        EXPECT_EQ(ua::current_task()->cancelling(), 0u);
    };
    loop.run_until_complete(main());
    EXPECT_EQ(log, (std::vector<std::string>{"sleeper cancelled"}));
}

// create_task after cancel() is refused: the group is shutting down.
TEST(TaskGroupCancel, CreateTaskAfterCancelThrows) {
    ua::event_loop loop;
    bool refused = false;
    auto main = [&]() -> ua::task<> {
        auto body = [&](ua::task_group& tg) -> ua::task<> {
            tg.cancel();
            try {
                tg.create_task(ua::sleep(0s));
            } catch (const std::runtime_error&) {
                refused = true;
            }
            co_return;
        };
        co_await ua::task_group::scope(body);
    };
    loop.run_until_complete(main());
    EXPECT_TRUE(refused);
}

// A child's real failure still wins over cancel().
TEST(TaskGroupCancel, AChildFailureStillPropagates) {
    ua::event_loop loop;
    auto main = [&]() -> ua::task<> {
        auto failing = []() -> ua::task<> {
            try {
                co_await ua::sleep(1h);
            } catch (const ua::cancelled_error&) {
            }
            throw std::runtime_error("cleanup failed");
        };
        auto body = [&](ua::task_group& tg) -> ua::task<> {
            tg.create_task(failing());
            co_await ua::sleep(0s);
            tg.cancel();
            co_return;
        };
        try {
            co_await ua::task_group::scope(body);
            ADD_FAILURE() << "expected exception_group";
        } catch (const ua::exception_group& eg) {
            EXPECT_TRUE(eg.contains<std::runtime_error>());
        }
    };
    loop.run_until_complete(main());
}

// The trap of CPython issue 155433: after tg.cancel(), a cancellation of the
// awaiting task from outside, arriving while the group shuts down, must
// still propagate (and not be swallowed with the group's own).
TEST(TaskGroupCancel, AnOutsideCancellationAfterCancelStillPropagates) {
    ua::event_loop loop;
    bool after_scope = false;
    auto worker = [&]() -> ua::task<> {
        auto stubborn = []() -> ua::task<> { // takes a while to finish once cancelled
            try {
                co_await ua::sleep(1h);
            } catch (const ua::cancelled_error&) {
            }
            for (int i = 0; i < 3; ++i) co_await ua::sleep(0s);
        };
        auto body = [&](ua::task_group& tg) -> ua::task<> {
            tg.create_task(stubborn());
            co_await ua::sleep(0s);
            tg.cancel();
            co_return; // the body swallows nothing: it just ends
        };
        co_await ua::task_group::scope(body);
        after_scope = true;
    };
    auto main = [&]() -> ua::task<> {
        ua::task_handle<> w = ua::create_task(worker());
        for (int i = 0; i < 3; ++i) co_await ua::sleep(0s); // tg.cancel() has run; the child is finishing
        EXPECT_FALSE(w.done());
        w.cancel("from outside");
        try {
            co_await w;
            ADD_FAILURE() << "the outside cancellation was swallowed";
        } catch (const ua::cancelled_error& e) {
            EXPECT_EQ(e.message(), "from outside");
        }
        EXPECT_TRUE(w.cancelled());
    };
    loop.run_until_complete(main());
    EXPECT_FALSE(after_scope);
}

// The same trap through an enclosing timeout scope: its expiry, after
// tg.cancel(), still becomes the scope's timeout_error.
TEST(TaskGroupCancel, AnEnclosingTimeoutStillExpiresAfterCancel) {
    ua::event_loop loop;
    auto main = [&]() -> ua::task<> {
        auto stubborn = []() -> ua::task<> {
            try {
                co_await ua::sleep(1h);
            } catch (const ua::cancelled_error&) {
            }
            co_await ua::sleep(50ms); // outlives the deadline
        };
        auto group_body = [&](ua::task_group& tg) -> ua::task<> {
            tg.create_task(stubborn());
            co_await ua::sleep(0s);
            tg.cancel();
            co_return;
        };
        auto scoped = [&](ua::timeout_scope&) -> ua::task<> { co_await ua::task_group::scope(group_body); };
        EXPECT_THROW(co_await ua::timeout(std::chrono::milliseconds(10), scoped), ua::timeout_error);
        EXPECT_EQ(ua::current_task()->cancelling(), 0u);
    };
    loop.run_until_complete(main());
}

} // namespace
