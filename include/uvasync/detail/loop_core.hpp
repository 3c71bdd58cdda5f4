// The part of the event loop that tasks and awaitables touch on every step:
// the ready queue, the timer heap, the current task, the tasks to reap.
// event_loop derives from it; nothing here is public API.
#pragma once

#include <chrono>
#include <cmath>
#include <stdexcept>
#include <type_traits>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "ready_queue.hpp"
#include "task_state.hpp"
#include "timer_heap.hpp"

namespace uvasync {
class event_loop;
}

namespace uvasync::detail {

inline std::int64_t now_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// A duration in nanoseconds, saturated so that huge delays mean "never"
// instead of overflowing; a NaN delay is bad input.
template <class Rep, class Period>
std::int64_t to_ns(std::chrono::duration<Rep, Period> d) {
    using namespace std::chrono;
    constexpr std::int64_t limit = INT64_MAX / 4;
    if constexpr (std::is_floating_point_v<Rep>) {
        if (std::isnan(d.count())) throw std::invalid_argument("delay is NaN");
        const long double ns = duration<long double, std::nano>(d).count();
        if (ns >= static_cast<long double>(limit)) return limit;
        if (ns <= -static_cast<long double>(limit)) return -limit;
        return static_cast<std::int64_t>(ns);
    } else {
        constexpr auto bound = duration_cast<duration<Rep, Period>>(nanoseconds(limit));
        if (d >= bound) return limit;
        if (d <= -bound) return -limit;
        return duration_cast<nanoseconds>(d).count();
    }
}

class loop_core {
public:
    loop_core() = default;
    loop_core(const loop_core&) = delete;
    loop_core& operator=(const loop_core&) = delete;

    event_loop& self() noexcept;

    // Queue a node to run in this or the next loop iteration.
    void schedule(ready_node* n) noexcept {
        if (ready_.empty()) wake_ready();
        ready_.push(n);
    }
    // Takes a queued node back (see ready_queue::remove).
    void unschedule(ready_node* n) noexcept { ready_.remove(n); }

    // Resume a task's coroutine now (from a libuv callback or a ready node),
    // keeping current_task and the running loop right, then reap what
    // finished.
    void resume(task_state_base* t, std::coroutine_handle<> h) noexcept;

    void add_timer(timer_node* n) noexcept;
    void remove_timer(timer_node* n) noexcept;

    void link_task(task_state_base* t) noexcept;
    void unlink_task(task_state_base* t) noexcept;
    void retire(task_state_base* t) noexcept { retired_.push_back(t); }
    void reap() noexcept;

    // A finished task's failure that nobody has looked at yet is reported
    // (asyncio's "Task exception was never retrieved") when its last handle
    // goes; the loop keeps the list so that it can outlive them or not.
    void track_failed(task_state_base* t) noexcept;
    static void forget_failed(task_state_base* t) noexcept;
    static void report_unretrieved(task_state_base* t) noexcept;
    void report_exception(const char* message, std::exception_ptr e, std::string task_name) noexcept;

    // Things the library opened on this loop (streams, servers, ...): the
    // loop closes them when it closes, and they must not touch it after.
    struct resource {
        resource* prev = nullptr;
        resource* next = nullptr;
        virtual void close_for_loop() noexcept = 0;

    protected:
        ~resource() = default;
    };
    void add_resource(resource* r) noexcept;
    void remove_resource(resource* r) noexcept;

    task_state_base* pending_tasks() const noexcept { return all_tasks_; }

    task_state_base* current_task = nullptr;
    std::uint64_t next_task_id = 1;

protected:
    void wake_ready() noexcept;   // starts the idle handle that drains ready_
    void arm_timer() noexcept;    // (re)arms the uv timer for the earliest node
    void run_ready() noexcept;    // one batch of the ready queue
    void fire_timers() noexcept;

    ready_queue ready_;
    timer_heap timers_;
    std::int64_t armed_deadline_ = INT64_MAX;
    std::vector<task_state_base*> retired_;
    task_state_base* all_tasks_ = nullptr;
    task_state_base* failed_ = nullptr;
    resource* resources_ = nullptr;
    bool in_resume_ = false;
};

// Drops a queued node without running it (the loop is closing).
void discard(ready_node* n) noexcept;

} // namespace uvasync::detail
