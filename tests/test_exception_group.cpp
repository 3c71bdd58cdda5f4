// exception_group's helpers (contains, find, split, what) and
// outcome::cancelled (docs/api.md). The split cases are CPython's
// Lib/test/test_exception_group.py (ExceptionGroupSplitTests,
// NestedExceptionGroupSplitTest), checked against Python 3.11's behaviour.
#include "coro_test_util.hpp"

#include <gtest/gtest.h>
#include <uvasync/uvasync.hpp>

#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

using namespace uvasync;
using namespace coro_test_util;

namespace {

// Python's ValueError(n), TypeError(int) and SyntaxError, with a common base
// standing for the (ValueError, TypeError) tuple.
struct app_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};
struct value_error : app_error {
    explicit value_error(int v) : app_error("value " + std::to_string(v)), value(v) {}
    int value;
};
struct type_error : app_error {
    type_error() : app_error("type int") {}
};
struct syntax_error : std::runtime_error {
    syntax_error() : std::runtime_error("syntax") {}
};
// class MyExceptionGroup(ExceptionGroup)
struct my_group : exception_group {
    using exception_group::exception_group;
};

template <class E, class... A> std::exception_ptr make(A&&... args) {
    return std::make_exception_ptr(E(std::forward<A>(args)...));
}
std::exception_ptr group(std::string message, std::vector<std::exception_ptr> inner) {
    return std::make_exception_ptr(exception_group(std::move(message), std::move(inner)));
}

// The shape of an exception, as CPython's assertMatchesTemplate compares it:
// a group is its message and its inner shapes, a leaf its type and value.
std::string shape(const std::exception_ptr& e);
std::string shape(const exception_group& g) {
    std::string s = g.message() + "[";
    for (std::size_t i = 0; i < g.exceptions().size(); ++i) s += (i ? " " : "") + shape(g.exceptions()[i]);
    return s + "]";
}
std::string shape(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const exception_group& g) {
        return shape(g);
    } catch (const value_error& v) {
        return "V" + std::to_string(v.value);
    } catch (const type_error&) {
        return "T";
    } catch (const cancelled_error&) {
        return "C";
    } catch (...) {
        return "?";
    }
}
std::string shape(const std::optional<exception_group>& g) { return g ? shape(*g) : "none"; }

// create_simple_eg(): ExceptionGroup('simple eg', [ValueError(1), TypeError(int), ValueError(2)])
exception_group simple_eg() {
    return exception_group("simple eg", {make<value_error>(1), make<type_error>(), make<value_error>(2)});
}

// NestedExceptionGroupSplitTest.test_split_by_type's nested_group(): level3(5).
exception_group nested_eg() {
    auto level1 = [](int i) {
        return group("msg1", {make<value_error>(i), make<type_error>(), make<value_error>(i + 1)});
    };
    auto level2 = [&](int i) {
        return std::make_exception_ptr(my_group("msg2", {level1(i), level1(i + 1), make<value_error>(i + 2)}));
    };
    return exception_group("msg3", {level2(6), make<value_error>(7)});
}
const std::string nested_template = "msg3[msg2[msg1[V6 T V7] msg1[V7 T V8] V8] V7]";

// ---- split ------------------------------------------------------------------

// test_basics_split_by_type__passthrough: BaseException, Exception,
// BaseExceptionGroup, ExceptionGroup all match the group itself.
TEST(ExceptionGroupSplit, AGroupThatIsAnEGoesWholeToTheMatch) {
    const exception_group eg = simple_eg();
    auto [m1, r1] = eg.split<std::exception>();
    EXPECT_EQ(shape(m1), "simple eg[V1 T V2]");
    EXPECT_FALSE(r1);
    auto [m2, r2] = eg.split<exception_group>();
    EXPECT_EQ(shape(m2), "simple eg[V1 T V2]");
    EXPECT_FALSE(r2);
    // The leaves are the very same exception objects.
    ASSERT_TRUE(m2);
    EXPECT_EQ(m2->exceptions()[0], eg.exceptions()[0]);
}

// test_basics_split_by_type__no_match
TEST(ExceptionGroupSplit, NoMatchLeavesEverythingInTheRest) {
    const exception_group eg = simple_eg();
    auto [match, rest] = eg.split<std::system_error>();
    EXPECT_FALSE(match);
    ASSERT_TRUE(rest);
    EXPECT_EQ(shape(rest), "simple eg[V1 T V2]");
    EXPECT_EQ(rest->message(), "simple eg");
}

// test_basics_split_by_type__match
TEST(ExceptionGroupSplit, LeavesGoToTheSideTheirTypeSays) {
    const exception_group eg = simple_eg();
    {
        auto [match, rest] = eg.split<value_error>();
        EXPECT_EQ(shape(match), "simple eg[V1 V2]");
        EXPECT_EQ(shape(rest), "simple eg[T]");
        ASSERT_TRUE(match && rest);
        EXPECT_EQ(match->message(), eg.message());
        EXPECT_EQ(rest->message(), eg.message());
        EXPECT_EQ(match->exceptions()[1], eg.exceptions()[2]); // the same objects, in order
        EXPECT_EQ(rest->exceptions()[0], eg.exceptions()[1]);
    }
    {
        auto [match, rest] = eg.split<type_error>();
        EXPECT_EQ(shape(match), "simple eg[T]");
        EXPECT_EQ(shape(rest), "simple eg[V1 V2]");
    }
    {
        // (VE, TE): every leaf matches; the match is a new group, the rest none.
        auto [match, rest] = eg.split<app_error>();
        EXPECT_EQ(shape(match), "simple eg[V1 T V2]");
        EXPECT_FALSE(rest);
    }
}

// NestedExceptionGroupSplitTest.test_split_by_type
TEST(ExceptionGroupSplit, NestedGroupsKeepTheirStructureAndMessages) {
    const exception_group eg = nested_eg();
    EXPECT_EQ(shape(eg), nested_template);
    {
        auto [match, rest] = eg.split<syntax_error>(); // match nothing
        EXPECT_FALSE(match);
        EXPECT_EQ(shape(rest), nested_template);
    }
    {
        auto [match, rest] = eg.split<std::exception>(); // match everything
        EXPECT_EQ(shape(match), nested_template);
        EXPECT_FALSE(rest);
    }
    {
        auto [match, rest] = eg.split<app_error>(); // (ValueError, TypeError)
        EXPECT_EQ(shape(match), nested_template);
        EXPECT_FALSE(rest);
    }
    {
        auto [match, rest] = eg.split<value_error>();
        EXPECT_EQ(shape(match), "msg3[msg2[msg1[V6 V7] msg1[V7 V8] V8] V7]");
        EXPECT_EQ(shape(rest), "msg3[msg2[msg1[T] msg1[T]]]");
    }
    {
        auto [match, rest] = eg.split<type_error>(); // (TypeError, SyntaxError)
        EXPECT_EQ(shape(match), "msg3[msg2[msg1[T] msg1[T]]]");
        EXPECT_EQ(shape(rest), "msg3[msg2[msg1[V6 V7] msg1[V7 V8] V8] V7]");
    }
    {
        auto [match, rest] = eg.split<exception_group>();
        EXPECT_EQ(shape(match), nested_template);
        EXPECT_FALSE(rest);
    }
    {
        // MyExceptionGroup: the nested group of that type goes whole (and
        // keeps its type); the rest is the plain leaf.
        auto [match, rest] = eg.split<my_group>();
        EXPECT_EQ(shape(match), "msg3[msg2[msg1[V6 T V7] msg1[V7 T V8] V8]]");
        EXPECT_EQ(shape(rest), "msg3[V7]");
        ASSERT_TRUE(match);
        EXPECT_EQ(match->exceptions()[0], eg.exceptions()[0]);
        EXPECT_TRUE(match->find<my_group>() != nullptr);
    }
}

TEST(ExceptionGroupSplit, ADerivedGroupThatIsTheEIsMatchedWhole) {
    const my_group eg("mine", {make<value_error>(1), make<type_error>()});
    auto [match, rest] = eg.split<my_group>();
    EXPECT_EQ(shape(match), "mine[V1 T]");
    EXPECT_FALSE(rest);
}

// Each level is split on its own (DeepRecursionInSplitAndSubgroup, at a
// depth our stack takes): the match keeps all 200 levels around the leaf.
TEST(ExceptionGroupSplit, DeepNestingIsSplitLevelByLevel) {
    std::exception_ptr e = make<type_error>();
    for (int i = 0; i < 200; ++i) e = group("eg", {e, make<value_error>(i)});
    const exception_group eg("top", {e});
    auto [match, rest] = eg.split<type_error>();
    ASSERT_TRUE(match && rest);
    int depth = 0;
    const exception_group* g = &*match;
    while (g->exceptions().size() == 1) {
        try {
            std::rethrow_exception(g->exceptions()[0]);
        } catch (const exception_group& inner) {
            g = &inner;
            ++depth;
            continue;
        } catch (const type_error&) {
        }
        break;
    }
    EXPECT_EQ(depth, 200);
    EXPECT_TRUE(match->contains<type_error>());
    EXPECT_FALSE(match->contains<value_error>());
    EXPECT_FALSE(rest->contains<type_error>());
    ASSERT_NE(rest->find<value_error>(), nullptr);
    EXPECT_EQ(rest->find<value_error>()->value, 0); // depth first: the innermost group comes first
}

// ---- contains / find ----------------------------------------------------------

TEST(ExceptionGroupFind, FirstMatchDepthFirstThroughNestedGroups) {
    const exception_group eg("outer", {group("inner", {make<type_error>(), make<value_error>(1)}), make<value_error>(2)});
    const value_error* v = eg.find<value_error>();
    ASSERT_NE(v, nullptr);
    EXPECT_EQ(v->value, 1);
    EXPECT_TRUE(eg.contains<type_error>());
    EXPECT_TRUE(eg.contains<std::runtime_error>());
    EXPECT_FALSE(eg.contains<syntax_error>());
    EXPECT_EQ(eg.find<syntax_error>(), nullptr);
    EXPECT_FALSE(eg.contains<cancelled_error>());
    // A nested group is itself an inner exception.
    const exception_group* inner = eg.find<exception_group>();
    ASSERT_NE(inner, nullptr);
    EXPECT_EQ(inner->message(), "inner");
    // The pointer is to the object the group holds: it outlives the lookup.
    EXPECT_EQ(eg.find<value_error>(), v);
}

TEST(ExceptionGroupFind, ExceptionsOfAnyTypeIncludingCancellation) {
    const exception_group eg("mixed", {std::make_exception_ptr(42), make<cancelled_error>("stop")});
    ASSERT_NE(eg.find<int>(), nullptr);
    EXPECT_EQ(*eg.find<int>(), 42);
    ASSERT_TRUE(eg.contains<cancelled_error>());
    EXPECT_EQ(eg.find<cancelled_error>()->message(), "stop");
    EXPECT_FALSE(eg.contains<std::exception>());
    auto [match, rest] = eg.split<cancelled_error>();
    EXPECT_EQ(shape(match), "mixed[C]");
    EXPECT_EQ(shape(rest), "mixed[?]");
}

// ---- construction and what() --------------------------------------------------

TEST(ExceptionGroup, AnEmptyListOrANullExceptionIsRefused) {
    EXPECT_THROW(exception_group("none", {}), std::invalid_argument);
    EXPECT_THROW(exception_group("null", {make<type_error>(), std::exception_ptr()}), std::invalid_argument);
}

TEST(ExceptionGroup, WhatListsTheInnerExceptions) {
    const exception_group eg("unhandled errors in a task_group",
                             {std::make_exception_ptr(std::runtime_error("boom")),
                              group("inner", {make<cancelled_error>("stop"), std::make_exception_ptr(7)}),
                              std::make_exception_ptr(make_uv_error(UV_ECONNREFUSED, "connect"))});
    const std::string expected = std::string("unhandled errors in a task_group (3 sub-exceptions)\n"
                                             "  [1] std::runtime_error: boom\n"
                                             "  [2] uvasync::exception_group: inner (2 sub-exceptions)\n"
                                             "    [1] uvasync::cancelled_error: stop\n"
                                             "    [2] int\n"
                                             "  [3] std::system_error: connect: ") +
                                 uv_strerror(UV_ECONNREFUSED);
    EXPECT_EQ(eg.what(), expected);
    EXPECT_STREQ(exception_group("one", {make<type_error>()}).what(),
                 "one (1 sub-exception)\n  [1] (anonymous namespace)::type_error: type int");
}

TEST(ExceptionGroup, WhatListsFifteenPerGroup) {
    std::vector<std::exception_ptr> many;
    for (int i = 0; i < 20; ++i) many.push_back(std::make_exception_ptr(std::runtime_error("e" + std::to_string(i))));
    const std::string what = exception_group("many", std::move(many)).what();
    EXPECT_NE(what.find("[15] std::runtime_error: e14\n  ... and 5 more sub-exceptions"), std::string::npos) << what;
    EXPECT_EQ(what.find("e15"), std::string::npos) << what;
}

// A task_group's failure names each child's error in what().
TEST(ExceptionGroup, ATaskGroupFailureSaysWhatFailed) {
    event_loop loop;
    std::string what;
    auto body = [&]() -> task<> {
        event go;
        auto scope_body = [&](task_group& tg) -> task<> {
            tg.create_task(fail_after(go, "first"));
            tg.create_task(fail_after(go, "second"));
            go.set();
            co_return;
        };
        try {
            co_await task_group::scope(scope_body);
        } catch (const exception_group& g) {
            what = g.what();
            EXPECT_TRUE(g.contains<std::runtime_error>());
        }
    };
    loop.run_until_complete(body());
    EXPECT_EQ(what, "unhandled errors in a task_group (2 sub-exceptions)\n"
                    "  [1] std::runtime_error: first\n"
                    "  [2] std::runtime_error: second");
}

// ---- outcome::cancelled --------------------------------------------------------

TEST(Outcome, CancelledTellsACancellationFromAFailure) {
    EXPECT_FALSE(outcome<int>(1).cancelled());
    EXPECT_FALSE(outcome<int>(std::make_exception_ptr(std::runtime_error("x"))).cancelled());
    EXPECT_TRUE(outcome<int>(std::make_exception_ptr(cancelled_error("why"))).cancelled());
    EXPECT_FALSE(outcome<void>().cancelled());
    EXPECT_FALSE(outcome<void>(std::make_exception_ptr(42)).cancelled());
    EXPECT_TRUE(outcome<void>(std::make_exception_ptr(cancelled_error())).cancelled());
}

TEST(Outcome, GatherSettledMarksTheCancelledChild) {
    event_loop loop;
    event go;
    auto body = [&]() -> task<> {
        auto cancelled_child = create_task(value_after(go, 0));
        auto g = create_task(gather_settled(value_after(go, 1), fail_after(go, "bad"), task_handle<int>(cancelled_child)));
        co_await ticks(1);
        cancelled_child.cancel("stop");
        go.set();
        auto [a, b, c] = co_await g;
        EXPECT_FALSE(a.cancelled());
        EXPECT_FALSE(b.cancelled());
        EXPECT_FALSE(b.has_value());
        EXPECT_TRUE(c.cancelled());
        EXPECT_FALSE(c.has_value());
    };
    loop.run_until_complete(body());
}

} // namespace
