// task_group (docs/api.md, asyncio-semantics.md §1), ported from CPython's
// test_taskgroups.py.
#include "coro_test_util.hpp"

#include <gtest/gtest.h>
#include <uvasync/uvasync.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <vector>

using namespace uvasync;
using namespace coro_test_util;
using namespace std::chrono_literals;

namespace {

struct zero_division : std::runtime_error {
    zero_division() : std::runtime_error("division by zero") {}
};
struct my_exc : std::runtime_error {
    my_exc() : std::runtime_error("my_exc") {}
};

task<> fail_soon() {
    co_await sleep(0ms);
    throw zero_division();
}

task<> wait_forever(int& cancelled) {
    event never;
    try {
        co_await never.wait();
    } catch (const cancelled_error&) {
        ++cancelled;
        throw;
    }
}

// The leaf exception types of an exception_group, depth first.
void leaves(const std::exception_ptr& e, std::vector<std::string>& out) {
    try {
        std::rethrow_exception(e);
    } catch (const exception_group& g) {
        for (auto& x : g.exceptions()) leaves(x, out);
    } catch (const zero_division&) {
        out.push_back("zero_division");
    } catch (const my_exc&) {
        out.push_back("my_exc");
    } catch (const cancelled_error&) {
        out.push_back("cancelled");
    } catch (const std::exception& x) {
        out.push_back(x.what());
    }
}

// CPython: test_taskgroups.py::test_taskgroup_01, test_taskgroup_02
TEST(TaskGroup, WaitsForEveryChild) {
    event_loop loop;
    event go;
    auto outer = [&]() -> task<> {
        task_handle<int> t1, t2;
        auto body = [&](task_group& tg) -> task<> {
            t1 = tg.create_task(value_after(go, 42));
            co_await ticks(1);
            t2 = tg.create_task(value_after(go, 11)); // added later in the body
            go.set();
        };
        co_await task_group::scope(body);
        EXPECT_TRUE(t1.done() && t2.done());
        EXPECT_EQ(t1.result(), 42);
        EXPECT_EQ(t2.result(), 11);
    };
    loop.run_until_complete(outer());
}

// CPython: test_taskgroups.py::test_taskgroup_24, test_taskgroup_25
TEST(TaskGroup, ChildrenMayStartChildren) {
    event_loop loop;
    int leaves_done = 0;
    // Coroutine lambdas must outlive their coroutines: defined out here, not
    // in the body, which ends before the children do.
    auto leaf = [&]() -> task<> {
        co_await sleep(0ms);
        ++leaves_done;
    };
    auto spawner = [&](task_group& tg) -> task<> {
        co_await sleep(0ms);
        tg.create_task(leaf());
        tg.create_task(leaf());
    };
    auto outer = [&]() -> task<> {
        auto body = [&](task_group& tg) -> task<> {
            tg.create_task(spawner(tg));
            co_return;
        };
        co_await task_group::scope(body);
        EXPECT_EQ(leaves_done, 2); // the scope waited for the grandchildren too
    };
    loop.run_until_complete(outer());
}

// CPython: test_taskgroups.py::test_taskgroup_03
TEST(TaskGroup, ExplicitlyCancelledChildIsNotAnError) {
    event_loop loop;
    event go;
    auto outer = [&]() -> task<> {
        task_handle<int> t1, t2;
        int cancelled = 0;
        auto body = [&](task_group& tg) -> task<> {
            t1 = tg.create_task(value_after(go, 1));
            t2 = tg.create_task(value_after(go, 2));
            co_await ticks(1);
            t1.cancel();
            go.set();
            (void)cancelled;
        };
        co_await task_group::scope(body);
        EXPECT_TRUE(t1.cancelled());
        EXPECT_EQ(t2.result(), 2);
    };
    loop.run_until_complete(outer());
}

// CPython: test_taskgroups.py::test_taskgroup_04, test_cancel_children_on_child_error
TEST(TaskGroup, ChildErrorCancelsSiblingsAndBody) {
    event_loop loop;
    int cancelled = 0;
    bool after_body_await = false, after_scope = false;
    std::vector<std::string> kinds;
    auto outer = [&]() -> task<> {
        auto body = [&](task_group& tg) -> task<> {
            tg.create_task(wait_forever(cancelled));
            tg.create_task(fail_soon());
            tg.create_task(wait_forever(cancelled));
            co_await sleep(10s); // cancelled by the group
            after_body_await = true;
        };
        try {
            co_await task_group::scope(body);
            after_scope = true;
        } catch (const exception_group& g) {
            leaves(std::current_exception(), kinds);
            EXPECT_EQ(g.exceptions().size(), 1u);
        }
        EXPECT_EQ(current_task()->cancelling(), 0u);
    };
    loop.run_until_complete(outer());
    EXPECT_EQ(cancelled, 2);
    EXPECT_FALSE(after_body_await);
    EXPECT_FALSE(after_scope);
    EXPECT_EQ(kinds, (std::vector<std::string>{"zero_division"})); // cancellations are not included
}

// CPython: test_taskgroups.py::test_taskgroup_09, test_taskgroup_10
TEST(TaskGroup, BodyErrorIsWrappedAndChildrenCancelled) {
    event_loop loop;
    int cancelled = 0;
    std::vector<std::string> kinds;
    auto outer = [&]() -> task<> {
        auto body = [&](task_group& tg) -> task<> {
            tg.create_task(wait_forever(cancelled));
            tg.create_task(wait_forever(cancelled));
            co_await sleep(0ms);
            throw zero_division();
        };
        try {
            co_await task_group::scope(body);
        } catch (const exception_group&) {
            leaves(std::current_exception(), kinds);
        }
    };
    loop.run_until_complete(outer());
    EXPECT_EQ(cancelled, 2);
    EXPECT_EQ(kinds, (std::vector<std::string>{"zero_division"}));
}

// CPython: test_taskgroups.py::test_cancellation, test_taskgroup_07
TEST(TaskGroup, OuterCancelCancelsChildrenAndPropagatesCancelledError) {
    event_loop loop;
    int cancelled = 0;
    auto runner = [&]() -> task<> {
        auto body = [&](task_group& tg) -> task<> {
            tg.create_task(wait_forever(cancelled));
            tg.create_task(wait_forever(cancelled));
            co_return; // the scope waits for the children
        };
        co_await task_group::scope(body);
    };
    auto outer = [&]() -> task<> {
        auto r = create_task(runner());
        co_await ticks(2);
        r.cancel();
        bool got_cancelled = false;
        try {
            co_await r;
        } catch (const cancelled_error&) {
            got_cancelled = true;
        } catch (const exception_group&) {
            ADD_FAILURE() << "expected cancelled_error, not exception_group";
        }
        EXPECT_TRUE(got_cancelled);
        EXPECT_TRUE(r.cancelled());
    };
    loop.run_until_complete(outer());
    EXPECT_EQ(cancelled, 2);
}

// CPython: test_taskgroups.py::test_taskgroup_17 (cancelled while the body awaits)
TEST(TaskGroup, OuterCancelWhileBodyAwaits) {
    event_loop loop;
    int cancelled = 0;
    auto runner = [&]() -> task<> {
        auto body = [&](task_group& tg) -> task<> {
            tg.create_task(wait_forever(cancelled));
            co_await sleep(10s);
        };
        co_await task_group::scope(body);
    };
    auto outer = [&]() -> task<> {
        auto r = create_task(runner());
        co_await ticks(2);
        r.cancel();
        try {
            co_await r;
        } catch (const cancelled_error&) {
        }
        EXPECT_TRUE(r.cancelled());
    };
    loop.run_until_complete(outer());
    EXPECT_EQ(cancelled, 1);
}

task<> cleanup_fails() {
    try {
        co_await sleep(10s);
    } catch (const cancelled_error&) {
        throw zero_division(); // finally: 1/0
    }
}

// CPython: test_taskgroups.py::test_taskgroup_08
TEST(TaskGroup, CleanupErrorDuringOuterCancelWins) {
    event_loop loop;
    std::vector<std::string> kinds;
    auto runner = [&]() -> task<> {
        auto body = [&](task_group& tg) -> task<> {
            tg.create_task(cleanup_fails());
            co_await sleep(10s);
        };
        co_await task_group::scope(body);
    };
    auto outer = [&]() -> task<> {
        auto r = create_task(runner());
        co_await ticks(2);
        r.cancel();
        try {
            co_await r;
        } catch (const exception_group&) {
            leaves(std::current_exception(), kinds);
        } catch (const cancelled_error&) {
            ADD_FAILURE() << "the child's real error must win over the cancellation";
        }
    };
    loop.run_until_complete(outer());
    EXPECT_EQ(kinds, (std::vector<std::string>{"zero_division"}));
}

// CPython: test_taskgroups.py::test_taskgroup_18 (the body turns its cancellation into an error)
TEST(TaskGroup, BodyConvertingItsCancellationGivesExceptionGroup) {
    event_loop loop;
    std::vector<std::string> kinds;
    auto runner = [&]() -> task<> {
        auto body = [&](task_group& tg) -> task<> {
            tg.create_task(sleep(10s));
            try {
                co_await sleep(10s);
            } catch (const cancelled_error&) {
                throw my_exc();
            }
        };
        co_await task_group::scope(body);
    };
    auto outer = [&]() -> task<> {
        auto r = create_task(runner());
        co_await ticks(2);
        r.cancel();
        try {
            co_await r;
        } catch (const exception_group&) {
            leaves(std::current_exception(), kinds);
        }
    };
    loop.run_until_complete(outer());
    EXPECT_EQ(kinds, (std::vector<std::string>{"my_exc"}));
}

// CPython: test_taskgroups.py::test_taskgroup_11, test_taskgroup_12
TEST(TaskGroup, NestedGroupErrorIsNested) {
    event_loop loop;
    int depth_of_leaf = 0;
    auto outer = [&]() -> task<> {
        auto inner_body = [&](task_group& tg) -> task<> {
            tg.create_task(fail_soon());
            co_await sleep(10s);
        };
        auto inner_scope = [&]() -> task<> { co_await task_group::scope(inner_body); };
        auto outer_body = [&](task_group& tg) -> task<> {
            tg.create_task(inner_scope());
            co_await sleep(10s);
        };
        try {
            co_await task_group::scope(outer_body);
        } catch (const exception_group& g) {
            EXPECT_EQ(g.exceptions().size(), 1u);
            if (g.exceptions().size() != 1u) co_return;
            try {
                std::rethrow_exception(g.exceptions()[0]);
            } catch (const exception_group& inner) {
                EXPECT_EQ(inner.exceptions().size(), 1u);
                if (inner.exceptions().size() != 1u) co_return;
                try {
                    std::rethrow_exception(inner.exceptions()[0]);
                } catch (const zero_division&) {
                    depth_of_leaf = 2;
                }
            }
        }
    };
    loop.run_until_complete(outer());
    EXPECT_EQ(depth_of_leaf, 2);
}

// CPython: test_taskgroups.py::test_taskgroup_13 (outer child fails first: inner group cancelled)
TEST(TaskGroup, OuterChildFailingFirstCancelsInnerGroup) {
    event_loop loop;
    int cancelled = 0;
    std::vector<std::string> kinds;
    auto outer = [&]() -> task<> {
        auto inner_body = [&](task_group& tg) -> task<> {
            tg.create_task(wait_forever(cancelled));
            co_await sleep(10s);
        };
        auto outer_body = [&](task_group& tg) -> task<> {
            tg.create_task(fail_soon());
            co_await task_group::scope(inner_body);
        };
        try {
            co_await task_group::scope(outer_body);
        } catch (const exception_group&) {
            leaves(std::current_exception(), kinds);
        }
        EXPECT_EQ(current_task()->cancelling(), 0u);
    };
    loop.run_until_complete(outer());
    EXPECT_EQ(cancelled, 1);
    EXPECT_EQ(kinds, (std::vector<std::string>{"zero_division"})); // flat
}

// CPython: test_taskgroups.py::test_taskgroup_19 (body cleanup and child errors merged)
TEST(TaskGroup, BodyAndChildErrorsMerged) {
    event_loop loop;
    std::vector<std::string> kinds;
    auto outer = [&]() -> task<> {
        auto body = [&](task_group& tg) -> task<> {
            tg.create_task(fail_soon());
            try {
                co_await sleep(10s);
            } catch (const cancelled_error&) {
                throw my_exc();
            }
        };
        try {
            co_await task_group::scope(body);
        } catch (const exception_group&) {
            leaves(std::current_exception(), kinds);
        }
    };
    loop.run_until_complete(outer());
    std::sort(kinds.begin(), kinds.end());
    EXPECT_EQ(kinds, (std::vector<std::string>{"my_exc", "zero_division"}));
}

// CPython: test_taskgroups.py::test_taskgroup_no_create_task_after_failure
TEST(TaskGroup, CreateTaskWhileShuttingDownThrows) {
    event_loop loop;
    bool refused = false;
    auto outer = [&]() -> task<> {
        auto body = [&](task_group& tg) -> task<> {
            tg.create_task(fail_soon());
            try {
                co_await sleep(10s);
            } catch (const cancelled_error&) {
                try {
                    tg.create_task(sleep(0ms));
                } catch (const std::runtime_error&) {
                    refused = true;
                }
                throw;
            }
        };
        try {
            co_await task_group::scope(body);
        } catch (const exception_group&) {
        }
    };
    loop.run_until_complete(outer());
    EXPECT_TRUE(refused);
}

// CPython: test_taskgroups.py::test_taskgroup_finished (create_task once the
// group finished; here from another task while the scope is still returning)
TEST(TaskGroup, CreateTaskAfterFinishThrows) {
    event_loop loop;
    event child_done;
    bool refused = false;
    auto outer = [&]() -> task<> {
        task_group* group = nullptr;
        auto intruder = [&]() -> task<> {
            co_await child_done.wait();
            co_await sleep(0ms); // the group's bookkeeping of the child runs, not yet the scope
            try {
                group->create_task(sleep(0ms));
            } catch (const std::runtime_error&) {
                refused = true;
            }
        };
        auto child = [&]() -> task<> {
            child_done.set();
            co_return;
        };
        auto body = [&](task_group& tg) -> task<> {
            group = &tg;
            tg.create_task(child());
            create_task(intruder());
            co_return;
        };
        co_await task_group::scope(body);
    };
    loop.run_until_complete(outer());
    EXPECT_TRUE(refused);
}

// CPython: test_taskgroups.py::test_cancelling_level_preserved,
// test_cancellation_does_not_leak_out_of_tg
TEST(TaskGroup, FailedGroupLeavesCancellingAsItWas) {
    event_loop loop;
    bool reached = false;
    auto outer = [&]() -> task<> {
        auto body = [&](task_group& tg) -> task<> {
            tg.create_task(fail_soon());
            co_await sleep(10s);
        };
        try {
            co_await task_group::scope(body);
        } catch (const exception_group&) {
        }
        EXPECT_EQ(current_task()->cancelling(), 0u);
        co_await sleep(0ms); // no stray cancellation is delivered
        co_await sleep(1ms);
        reached = true;
    };
    loop.run_until_complete(outer());
    EXPECT_TRUE(reached);
}

// CPython: test_taskgroups.py::test_error_and_cancel
TEST(TaskGroup, ChildErrorAndExternalCancel) {
    event_loop loop;
    bool got_group = false, next_await_cancelled = false;
    event child_started;
    auto runner = [&]() -> task<> {
        auto failing = [&]() -> task<> {
            child_started.set();
            co_await sleep(0ms);
            throw zero_division();
        };
        auto body = [&](task_group& tg) -> task<> {
            tg.create_task(failing());
            co_await sleep(10s);
        };
        try {
            co_await task_group::scope(body);
        } catch (const exception_group&) {
            got_group = true;
        }
        EXPECT_EQ(current_task()->cancelling(), 1u); // the external request is still pending
        try {
            co_await sleep(0ms);
        } catch (const cancelled_error&) {
            next_await_cancelled = true;
            throw;
        }
    };
    auto outer = [&]() -> task<> {
        auto r = create_task(runner());
        co_await child_started.wait();
        r.cancel();
        try {
            co_await r;
        } catch (const cancelled_error&) {
        }
    };
    loop.run_until_complete(outer());
    EXPECT_TRUE(got_group);
    EXPECT_TRUE(next_await_cancelled);
}

// The lambda written inside the co_await expression (the inline form).
// GCC 12 mishandles capturing lambdas there in general; this form is checked
// on every compiler we build with.
TEST(TaskGroup, InlineLambdaForm) {
    event_loop loop;
    int ran = 0;
    auto child = [&]() -> task<> {
        ++ran;
        co_return;
    };
    auto outer = [&]() -> task<> {
        co_await task_group::scope([&](task_group& tg) -> task<> {
            tg.create_task(child());
            tg.create_task(child());
            co_return;
        });
    };
    loop.run_until_complete(outer());
    EXPECT_EQ(ran, 2);
}

} // namespace
