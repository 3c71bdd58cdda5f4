// Task call graphs (asyncio 3.14: capture_call_graph, format_call_graph,
// print_call_graph; `python -m asyncio pstree` as event_loop::dump_tasks).
// CPython: test_graph.py (test_stack_tracking, test_awaited_by).
#include <gtest/gtest.h>
#include <uvasync/uvasync.hpp>

#include <chrono>
#include <sstream>
#include <string>

namespace cg_test {

namespace ua = uvasync;
using namespace std::chrono_literals;

int inner_line, middle_line, outer_line, gather_line;

ua::task<> inner(ua::event& parked) {
    parked.set();
    inner_line = __LINE__ + 1;
    co_await ua::sleep(1h);
}

ua::task<> middle(ua::event& parked) {
    middle_line = __LINE__ + 1;
    co_await inner(parked);
}

ua::task<> outer(ua::event& parked) {
    outer_line = __LINE__ + 1;
    co_await middle(parked);
}

bool ends_with(const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// The index of the frame of `function`, or -1.
int frame_of(const ua::call_graph& g, const std::string& function) {
    for (std::size_t i = 0; i < g.frames.size(); ++i)
        if (g.frames[i].function == function) return static_cast<int>(i);
    return -1;
}

// CPython: test_graph.py::test_stack_tracking (the frames of a suspended task,
// innermost first, each at the await it waits in)
TEST(CallGraph, ThreeDeepChainHasEachFunctionAndTheLineOfItsAwait) {
    ua::event_loop loop;
    auto main = [&]() -> ua::task<> {
        ua::event parked;
        ua::task_handle<> h = ua::create_task(outer(parked), "chain");
        co_await parked.wait();
        co_await ua::sleep(0s);
        std::optional<ua::call_graph> g = ua::capture_call_graph(h);
        EXPECT_TRUE(g.has_value());
        if (!g) co_return;
        EXPECT_EQ(g->task, h);
        const int i = frame_of(*g, "cg_test::inner"), m = frame_of(*g, "cg_test::middle"),
                  o = frame_of(*g, "cg_test::outer");
        EXPECT_GE(i, 0) << ua::format_call_graph(*g);
        if (i < 0) co_return;
        EXPECT_EQ(m, i + 1);
        EXPECT_EQ(o, i + 2);
        EXPECT_EQ(o, static_cast<int>(g->frames.size()) - 1); // the task's own coroutine is last
        EXPECT_EQ(g->frames[i].line, static_cast<std::uint32_t>(inner_line));
        EXPECT_EQ(g->frames[m].line, static_cast<std::uint32_t>(middle_line));
        EXPECT_EQ(g->frames[o].line, static_cast<std::uint32_t>(outer_line));
        EXPECT_TRUE(ends_with(g->frames[i].file, "test_call_graph.cpp")) << g->frames[i].file;
        EXPECT_EQ(g->operation, "sleep");
        const std::string text = ua::format_call_graph(*g);
        EXPECT_NE(text.find("chain awaiting sleep"), std::string::npos) << text;
        EXPECT_NE(text.find("cg_test::middle (" + g->frames[m].file + ":" + std::to_string(middle_line) + ")"),
                  std::string::npos)
            << text;
        h.cancel();
        try {
            co_await h;
        } catch (const ua::cancelled_error&) {
        }
        EXPECT_FALSE(ua::capture_call_graph(h).has_value()); // finished: no graph
    };
    loop.run_until_complete(main());
}

ua::task<int> child(ua::event& parked) {
    parked.set();
    co_await ua::sleep(1h);
    co_return 1;
}

ua::task<> gatherer(ua::event& a_parked, ua::event& b_parked) {
    gather_line = __LINE__ + 1;
    co_await ua::gather(child(a_parked), child(b_parked));
}

// CPython: test_graph.py::test_awaited_by (a task awaited through gather
// shows the gathering task, at its await, as awaiting it)
TEST(CallGraph, AChildOfAGatherIsAwaitedByTheGatheringTask) {
    ua::event_loop loop;
    auto main = [&]() -> ua::task<> {
        ua::event a_parked, b_parked;
        ua::task_handle<> g = ua::create_task(gatherer(a_parked, b_parked), "gatherer");
        co_await a_parked.wait();
        co_await b_parked.wait();
        std::vector<ua::task_handle<>> children;
        for (auto& t : ua::all_tasks())
            if (t != g && t != *ua::current_task()) children.push_back(t);
        EXPECT_EQ(children.size(), 2u);
        for (auto& c : children) {
            std::optional<ua::call_graph> cg = ua::capture_call_graph(c);
            EXPECT_TRUE(cg.has_value());
            if (!cg) continue;
            EXPECT_EQ(cg->awaited_by.size(), 1u) << ua::format_call_graph(*cg);
            if (cg->awaited_by.size() != 1) continue;
            const ua::call_graph& by = cg->awaited_by[0];
            EXPECT_EQ(by.task, g);
            EXPECT_EQ(by.operation, "gather");
            const int at = frame_of(by, "cg_test::gatherer");
            EXPECT_GE(at, 0) << ua::format_call_graph(*cg);
            if (at < 0) continue;
            EXPECT_EQ(by.frames[at].line, static_cast<std::uint32_t>(gather_line));
            EXPECT_NE(ua::format_call_graph(*cg).find("awaited by\n    gatherer awaiting gather"), std::string::npos)
                << ua::format_call_graph(*cg);
        }
        g.cancel();
        try {
            co_await g;
        } catch (const ua::cancelled_error&) {
        }
    };
    loop.run_until_complete(main());
}

ua::task<> sleeper() { co_await ua::sleep(1h); }

// `python -m asyncio pstree`: every pending task, with its graph.
TEST(CallGraph, DumpTasksListsEveryPendingTask) {
    ua::event_loop loop;
    std::string dump;
    auto main = [&]() -> ua::task<> {
        std::vector<ua::task_handle<>> tasks;
        for (int i = 0; i < 3; ++i) tasks.push_back(ua::create_task(sleeper(), "sleeper-" + std::to_string(i)));
        co_await ua::sleep(0s);
        std::ostringstream out;
        ua::get_running_loop().dump_tasks(out);
        dump = out.str();
        for (auto& t : tasks) t.cancel();
        co_await ua::gather_settled(std::move(tasks));
    };
    ua::task_handle<> m = loop.create_task(main(), "main");
    loop.run_until_complete(m);
    EXPECT_EQ(dump.rfind("4 pending tasks\n", 0), 0u) << dump;
    for (const char* name : {"sleeper-0 awaiting sleep", "sleeper-1 awaiting sleep", "sleeper-2 awaiting sleep", "main"})
        EXPECT_NE(dump.find(name), std::string::npos) << name << "\n" << dump;
    EXPECT_NE(dump.find("cg_test::sleeper ("), std::string::npos) << dump;
}

TEST(CallGraph, PrintCallGraphOfAFinishedTaskSaysSo) {
    ua::event_loop loop;
    ua::task_handle<> h = loop.create_task(ua::sleep(0s), "quick");
    loop.run_until_complete(h);
    std::ostringstream out;
    ua::print_call_graph(h, out);
    EXPECT_EQ(out.str(), "quick is done\n");
}

// The names each compiler gives a coroutine, as function_name() spells them.
TEST(CallGraph, CoroutineNamesAreQualifiedWithoutParametersOrReturnType) {
    using ua::detail::coroutine_name;
    // GCC 12: the coroutine body, with the original signature as its parameter
    EXPECT_EQ(coroutine_name("void ns::widget::method(ns::widget::method(int, std::string)::_ZN2ns6widget6methodEi.Frame*)"),
              "ns::widget::method");
    EXPECT_EQ(coroutine_name("void ns::free_fn(free_fn(int)::_ZN2ns7free_fnEi.Frame*)"), "ns::free_fn");
    EXPECT_EQ(coroutine_name("void main()::<lambda(int)>::operator()(main()::<lambda(int)>::_ZZ4mainENKUliE_clEi.Frame*)"),
              "main()::<lambda(int)>::operator()");
    // Clang 16
    EXPECT_EQ(coroutine_name("uvasync::task<std::pair<int, int> > ns::widget::method(int, std::string)"),
              "ns::widget::method");
    EXPECT_EQ(coroutine_name("co ns::widget::tmpl(T) [T = double]"), "ns::widget::tmpl");
    EXPECT_EQ(coroutine_name("auto main()::(anonymous class)::operator()(int) const"),
              "main()::(anonymous class)::operator()");
    EXPECT_EQ(coroutine_name(""), "");
}

} // namespace cg_test
