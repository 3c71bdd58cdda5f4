// The shared state of a scheduled task (what task_handle points at), and the
// protocol every suspending operation of the library follows.
//
// A task runs one coroutine chain. When the chain suspends on an operation
// (a timer, a read, a lock), the operation "parks" the task: it records where
// to resume and how to abort itself. Then exactly one of two things happens:
//  - the operation completes and wakes the task (now, from a libuv callback,
//    or soon, through the ready queue);
//  - the task is cancelled: cancel() calls the operation's abort, which stops
//    it for good, and the task is scheduled to resume; the operation's
//    await_resume then sees the pending cancellation and throws
//    cancelled_error. An operation that waits for a child task aborts by
//    cancelling the child instead, and wakes when the child finishes.
// A cancellation requested while the task is not parked is delivered at its
// next suspension point (or, for a task not yet started, instead of its body).
#pragma once

#include <coroutine>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>

#include "frame_pool.hpp"
#include "ready_queue.hpp"
#include "timer_heap.hpp"

namespace uvasync::detail {

class loop_core;
struct task_state_base;

// An operation a task is parked in. Awaitables derive from it.
struct parked_op {
    // Stops the operation so that it will never wake the task, and returns
    // false. Returns true instead when the cancellation was handed on to
    // something that will wake the task itself (an awaited child task).
    bool (*abort)(parked_op*) = nullptr;
    task_state_base* task = nullptr;

    // Parks `t` at `h`; false (do not suspend) when a cancellation is pending.
    bool park(task_state_base* t, std::coroutine_handle<> h) noexcept;
    // Wakes the task from a libuv callback: it runs before this returns.
    void wake_now() noexcept;
    // Wakes the task through the ready queue (asyncio's call_soon of a step).
    void wake_soon() noexcept;
    // Wakes the task from another task's completion (a task_waiter's
    // notify): returns its coroutine for symmetric transfer when
    // `may_transfer`, else schedules it and returns a null handle.
    std::coroutine_handle<> wake_from_task(bool may_transfer) noexcept;
    // For await_resume: throws cancelled_error if the task was cancelled
    // while parked (or after it was woken but before it ran).
    void throw_if_cancelled() const;
};

// Something waiting for a task to finish: a parked awaiter or a done callback.
struct task_waiter {
    task_waiter* next = nullptr;
    // Called once, when the task finishes. An awaiter may return its
    // coroutine to be transferred to directly, if `may_transfer`.
    std::coroutine_handle<> (*notify)(task_waiter*, bool may_transfer) = nullptr;
};

enum class task_status : std::uint8_t { pending, finished, cancelled };

// What most tasks never need, allocated on first use.
struct task_extra {
    std::string name;
    std::string cancel_message;
    std::exception_ptr error; // the failure, or the cancelled_error
};

// The ready_node base schedules the task's next step.
struct task_state_base : ready_node, pooled {
    std::uint32_t refs = 1;      // handles, plus the loop while pending
    std::uint32_t id = 0;        // for the default name, "Task-<id>"
    std::uint16_t cancel_requests = 0;
    task_status status = task_status::pending;
    bool started = false;
    bool must_cancel = false;    // a cancellation waits for the next suspension
    bool queued = false;         // in the ready queue
    bool retrieved = false;      // someone looked at the outcome
    bool listed_failed = false;  // on the loop's list of unretrieved failures
    loop_core* loop = nullptr;
    std::coroutine_handle<> frame;        // the root coroutine, until reaped
    std::coroutine_handle<> resume_point; // where the next step resumes
    parked_op* parked = nullptr;
    task_waiter* waiters = nullptr;       // newest first
    std::unique_ptr<task_extra> extra;
    task_state_base* prev = nullptr;      // in the loop's list of pending tasks,
    task_state_base* next_task = nullptr; // then of failed, unretrieved ones

    task_state_base(loop_core* l, std::coroutine_handle<> root) noexcept;
    virtual ~task_state_base();
    task_state_base(const task_state_base&) = delete;
    task_state_base& operator=(const task_state_base&) = delete;

    // Runs a scheduled step: the first one starts the body.
    static void run_step(ready_node* n) noexcept;

    void add_ref() noexcept { ++refs; }
    void release() noexcept {
        if (--refs == 0) last_release();
    }

    bool done() const noexcept { return status != task_status::pending; }
    bool cancel(std::string message);
    std::uint32_t uncancel() noexcept;
    void schedule_step() noexcept;
    [[noreturn]] void throw_cancelled() const;
    // Rethrows the failure or cancellation; marks the outcome retrieved.
    void rethrow_if_failed();
    std::string name() const;
    void set_name(std::string name);
    // The failure, or the cancelled_error a cancelled task ended with; null
    // while pending or after success.
    const std::exception_ptr& error() const noexcept;
    void set_error(std::exception_ptr e);
    task_extra& extras();

    void add_waiter(task_waiter* w) noexcept {
        w->next = waiters;
        waiters = w;
    }
    bool remove_waiter(task_waiter* w) noexcept;

    // Called from the root coroutine's final suspension, after the result
    // was moved in: records the outcome, wakes the waiters, and returns the
    // coroutine to transfer to (or a no-op one).
    std::coroutine_handle<> finish(std::exception_ptr failure) noexcept;
    // Finishes a task whose body never ran (cancelled before it started).
    void finish_unstarted() noexcept;

private:
    void last_release() noexcept;
};

// The shared state with the result of type T.
template <class T> struct task_state final : task_state_base {
    // User-provided (not inherited): an inherited constructor would try to
    // default-initialise the union member, which is deleted for a T with a
    // non-trivial default constructor (std::string, std::unique_ptr, ...).
    task_state(loop_core* l, std::coroutine_handle<> root) noexcept : task_state_base(l, root) {}
    union {
        T value;
    };
    bool has_value = false;
    ~task_state() override {
        if (has_value) value.~T();
    }
};

template <> struct task_state<void> final : task_state_base {
    using task_state_base::task_state_base;
};

// Frees the done callbacks of a task the closing loop will never finish.
void discard_done_callbacks(task_state_base* s) noexcept;

} // namespace uvasync::detail
