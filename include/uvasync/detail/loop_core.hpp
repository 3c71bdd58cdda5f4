// The part of the event loop that tasks and operations touch on every step:
// the ready queue, the timers, the tasks, the current task. The public
// event_loop wraps it around a libuv loop; the core asks for what it needs
// from there through a small driver interface. Nothing here is public API.
#pragma once

#include <chrono>
#include <cmath>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "intrusive_list.hpp"
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
template <class Rep, class Period> std::int64_t to_ns(std::chrono::duration<Rep, Period> d) {
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

// What the core needs from the loop that runs it.
class loop_driver {
public:
    // Work was queued on an empty ready queue: run it before blocking for I/O.
    virtual void ready_work_queued() noexcept = 0;
    // Wake the loop at this steady_clock deadline (INT64_MAX: never).
    virtual void arm_timer(std::int64_t deadline_ns) noexcept = 0;
    // asyncio's loop.call_exception_handler.
    virtual void report(const char* message, std::exception_ptr e, std::string task_name) noexcept = 0;
    // Debug mode: a step or callback ran for `elapsed_ns`.
    virtual void ran_for(const char* what, std::int64_t elapsed_ns, const std::string& name) noexcept = 0;
    // Tasks ended and their frames went back to the frame cache: the loop
    // watches the cache until it has been quiet for a second, then empties
    // it (detail/frame_pool.hpp).
    virtual void frames_freed() noexcept = 0;

protected:
    ~loop_driver() = default;
};

struct resource_tag {};

class loop_core {
public:
    loop_core(event_loop& owner, loop_driver& driver) noexcept : owner_(&owner), driver_(&driver) {}
    loop_core(const loop_core&) = delete;
    loop_core& operator=(const loop_core&) = delete;

    event_loop& owner() const noexcept { return *owner_; }
    bool closed() const noexcept { return closed_; }
    // Throws std::runtime_error("<what>: the event loop is closed").
    void check_open(const char* what) const;

    // ---- the ready queue ------------------------------------------------
    void schedule(ready_node& n) noexcept {
        if (ready_.empty()) driver_->ready_work_queued();
        ready_.push_back(&n);
    }
    bool has_ready() const noexcept { return !ready_.empty(); }
    // Runs up to `batches` batches; a batch is what was ready when it began
    // (asyncio's tick). `stopping` ends the run after the first batch.
    void run_ready(int batches, const bool& stopping) noexcept;

    // ---- timers ---------------------------------------------------------
    void add_timer(timer_node& n) noexcept;
    void remove_timer(timer_node& n) noexcept;
    // The kernel timer went off: fire what is due.
    void fire_timers() noexcept;

    // ---- tasks ----------------------------------------------------------
    std::uint32_t next_task_id() noexcept { return next_task_id_++; }
    // A new task: listed as pending, and its first step queued, or run at
    // once up to its first suspension when `eager` (asyncio's eager_start).
    void start_task(task_state_base& t, bool eager) noexcept;
    // The default for tasks created without saying (event_loop::set_eager_tasks).
    bool eager_tasks() const noexcept { return eager_tasks_; }
    void set_eager_tasks(bool on) noexcept { eager_tasks_ = on; }
    // Resumes `t` where it is suspended, now (from a libuv callback or a
    // ready node), then reaps what finished.
    void resume(task_state_base& t) noexcept;
    task_state_base* current_task() const noexcept { return current_; }
    // For symmetric transfer into `t` from another task's end.
    void set_current_task(task_state_base* t) noexcept { current_ = t; }
    const intrusive_list<task_state_base, task_list_tag>& pending_tasks() const noexcept { return pending_; }
    void report(const char* message, std::exception_ptr e, std::string task_name) noexcept {
        driver_->report(message, std::move(e), std::move(task_name));
    }

    // ---- resources --------------------------------------------------------
    // What the library opened on this loop (streams, servers, sockets): the
    // loop closes it when it closes, after which it must not touch the loop.
    class resource : public list_hook<resource_tag> {
    public:
        virtual void close_for_loop() noexcept = 0;

    protected:
        ~resource() = default;
    };
    void add_resource(resource& r) noexcept { resources_.push_back(&r); }

    // event_loop::close(): stop every parked operation, destroy every pending
    // task's frame, drop queued work and timers, close every resource.
    void close() noexcept;
    void set_debug(bool on) noexcept { debug_ = on; }
    bool debug() const noexcept { return debug_; }

private:
    friend class task_state_base;
    void resume_timed(task_state_base& t) noexcept; // debug mode: slow steps are reported
    void retire(task_state_base& t); // finished: reap once the step is over
    void reap() noexcept;
    void reap_one(task_state_base& t) noexcept;
    void track_failed(task_state_base& t) noexcept { failed_.push_back(&t); }
    void arm() noexcept;

    event_loop* owner_;
    loop_driver* driver_;
    ready_queue ready_;
    timer_heap timers_;
    std::int64_t armed_deadline_ = INT64_MAX;
    task_state_base* current_ = nullptr;
    std::uint32_t next_task_id_ = 1;
    intrusive_list<task_state_base, task_list_tag> pending_;
    intrusive_list<task_state_base, task_list_tag> failed_; // finished with an unretrieved failure
    std::vector<task_state_base*> retired_;
    intrusive_list<resource, resource_tag> resources_;
    bool closed_ = false;
    bool debug_ = false;
    bool eager_tasks_ = false;
};

// The loop running on this thread (null when none), and the core of it
// (std::runtime_error "no running event loop" when none).
event_loop* running_loop() noexcept;
loop_core& running_core();
// The task running on this thread's loop, or null.
task_state_base* running_task() noexcept;

// Makes `l` this thread's running loop for a scope: a loop driven by someone
// else's uv_run still looks like a running loop inside its callbacks.
class running_scope {
public:
    explicit running_scope(event_loop* l) noexcept;
    ~running_scope();
    running_scope(const running_scope&) = delete;
    running_scope& operator=(const running_scope&) = delete;

private:
    event_loop* prev_;
};

} // namespace uvasync::detail
