// Call graphs: walking a task's coroutine frames and its awaiters.
#include <uvasync/call_graph.hpp>
#include <uvasync/event_loop.hpp>

#include <algorithm>
#include <cstring>
#include <iostream>
#include <string_view>
#include <vector>

namespace uvasync {

namespace detail {

std::string coroutine_name(const char* function_name) {
    std::string_view s = function_name ? function_name : "";
    // Clang: "T f(U) [T = int]"; both: trailing qualifiers.
    if (!s.empty() && s.back() == ']') {
        if (const auto at = s.rfind(" ["); at != std::string_view::npos) s = s.substr(0, at);
    }
    for (std::string_view q : {" const", " volatile", " &&", " &", " noexcept"}) {
        if (s.size() > q.size() && s.substr(s.size() - q.size()) == q) s.remove_suffix(q.size());
    }
    // The parameter list: (U) for Clang, (f(U)::_Z....Frame*) for GCC's
    // coroutine body.
    if (!s.empty() && s.back() == ')') {
        int depth = 0;
        for (std::size_t i = s.size(); i-- > 0;) {
            if (s[i] == ')') ++depth;
            else if (s[i] == '(' && --depth == 0) {
                s = s.substr(0, i);
                break;
            }
        }
    }
    // The return type: up to the last space outside <>, () and [].
    int depth = 0;
    for (std::size_t i = s.size(); i-- > 0;) {
        const char c = s[i];
        if (c == '>' || c == ')' || c == ']') ++depth;
        else if (c == '<' || c == '(' || c == '[') --depth;
        else if (c == ' ' && depth == 0) {
            s = s.substr(i + 1);
            break;
        }
    }
    return std::string(s);
}

namespace {

frame_entry entry_of(const promise_base& p) {
    frame_entry e;
    e.function = coroutine_name(p.where.function_name());
    e.file = p.where.file_name() ? p.where.file_name() : "";
    e.line = p.where.line();
    return e;
}

call_graph capture(const task_handle<>& t, std::vector<const task_state_base*>& seen) {
    call_graph g;
    g.task = t;
    const task_state_base* s = t.state();
    seen.push_back(s);
    for (const promise_base* p = s->root_promise(); p; p = p->child) g.frames.push_back(entry_of(*p));
    std::reverse(g.frames.begin(), g.frames.end());
    if (const operation_base* op = s->parked_operation()) g.operation = op->kind();
    for (const task_waiter* w = s->waiters().front(); w; w = s->waiters().next(w)) {
        const task_state_base* by = w->waiting_task();
        if (!by || by->done() || std::find(seen.begin(), seen.end(), by) != seen.end()) continue;
        g.awaited_by.push_back(capture(task_handle<>::share(const_cast<task_state_base*>(by)), seen));
    }
    return g;
}

void format(const call_graph& g, int indent, std::string& out) {
    const std::string pad(static_cast<std::size_t>(indent) * 2, ' ');
    out += pad + g.task.get_name();
    if (!g.operation.empty()) out += " awaiting " + g.operation;
    out += '\n';
    for (const frame_entry& f : g.frames) {
        out += pad + "  at " + (f.function.empty() ? std::string("<task>") : f.function);
        if (f.line) out += " (" + f.file + ":" + std::to_string(f.line) + ")";
        else out += " (not started)";
        out += '\n';
    }
    for (const call_graph& by : g.awaited_by) {
        out += pad + "  awaited by\n";
        format(by, indent + 2, out);
    }
}

} // namespace
} // namespace detail

std::optional<call_graph> capture_call_graph(const task_handle<>& t) {
    if (!t.valid() || t.done()) return std::nullopt;
    std::vector<const detail::task_state_base*> seen;
    return detail::capture(t, seen);
}

std::string format_call_graph(const call_graph& g) {
    std::string out;
    detail::format(g, 0, out);
    return out;
}

void print_call_graph(const task_handle<>& t, std::ostream& out) {
    if (auto g = capture_call_graph(t)) out << format_call_graph(*g);
    else out << (t.valid() ? t.get_name() + " is done\n" : std::string("(no task)\n"));
    out.flush();
}

void print_call_graph(const task_handle<>& t) { print_call_graph(t, std::cerr); }

void event_loop::dump_tasks(std::ostream& out) {
    std::string text;
    std::size_t n = 0;
    const auto& pending = core_.pending_tasks();
    for (detail::task_state_base* t = pending.front(); t; t = pending.next(t)) {
        text += format_call_graph(*capture_call_graph(task_handle<>::share(t)));
        ++n;
    }
    out << n << " pending task" << (n == 1 ? "" : "s") << "\n" << text;
    out.flush();
}

void event_loop::dump_tasks_on_signal(int signum) {
    add_signal_handler(signum, [this] { dump_tasks(std::cerr); });
}

} // namespace uvasync
