// Task call graphs: asyncio 3.14's capture_call_graph / format_call_graph /
// print_call_graph, and `python -m asyncio pstree` as event_loop::dump_tasks.
//
// A suspended task's graph is the chain of coroutine frames it is suspended
// in, innermost first, each with its function and the file:line of the
// co_await it waits at; the operation the innermost one waits on ("sleep",
// "read", "lock.acquire"); and the tasks that await this one, each with its
// own graph. It costs nothing while nobody asks: every co_await records
// where it is (one store), and an awaited coroutine is linked from its
// awaiter; capturing walks those links.
//
//     print_call_graph(handle);            // on stderr
//     loop.dump_tasks(std::cout);          // every pending task
//     loop.dump_tasks_on_signal(SIGUSR1);  // kill -USR1 <pid> prints them
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "task_handle.hpp"

namespace uvasync {

// One coroutine frame: the function (qualified, without its parameters), and
// where it is suspended. `line` is 0 for a frame that has not suspended yet.
struct frame_entry {
    std::string function;
    std::string file;
    std::uint32_t line = 0;
};

struct call_graph {
    task_handle<> task;
    std::vector<frame_entry> frames;    // innermost first
    std::string operation;              // what the innermost frame waits on; empty while it runs
    std::vector<call_graph> awaited_by; // the tasks awaiting this one
};

// The graph of a pending task; empty for a finished one (or an empty handle).
std::optional<call_graph> capture_call_graph(const task_handle<>& t);
// The graph as text, one frame a line, awaiting tasks indented below.
std::string format_call_graph(const call_graph& g);
// format_call_graph of the task's graph, or a line saying it is done.
void print_call_graph(const task_handle<>& t, std::ostream& out);
void print_call_graph(const task_handle<>& t);

namespace detail {
// "ns::f" from what std::source_location::function_name() says of a
// coroutine (each compiler spells it its own way).
std::string coroutine_name(const char* function_name);
} // namespace detail

} // namespace uvasync
