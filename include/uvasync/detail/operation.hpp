// The cancellation protocol, as a type. Every suspending operation of the
// library derives from operation<Derived> and supplies three hooks; the base
// and the task core apply asyncio's rules to all of them alike.
//
//   bool start()      Begin waiting: link into a wait list, arm a timer,
//                     submit a request. False when the operation is over
//                     already (the system refused it, it finished at once):
//                     the task then goes on without suspending.
//   cancel_outcome cancel() noexcept
//                     Stop for good (unlink, disarm, detach a request) and
//                     return `stopped`; or pass the request on to what is
//                     awaited (a child task is cancelled in turn) and return
//                     `handed_on`: the operation then completes by itself,
//                     with whatever outcome that has. Never completes the
//                     operation from inside.
//   T result()        What co_await yields once the operation completed; or
//                     throws its error.
// and, where they mean something:
//   bool ready()      The result is there already (data buffered, a free
//                     lock): co_await does not suspend at all.
//   void give_back() noexcept
//                     The operation completed, but the task was cancelled
//                     before it could resume: hand back what completing
//                     handed over (a lock, a queue item, a semaphore unit),
//                     so that no wake-up meant for another waiter is lost.
//
// The derived class completes the operation with one of
//   wake_now()          from a libuv callback: the task resumes before it returns;
//   wake_soon()         from a task or a callback: it resumes from the ready queue;
//   wake_transfer(may)  from another task's end: the coroutine to transfer to.
//
// The order of calls (docs/design.md has the whole story):
//   co_await op:  ready()? -> result(), no suspension.
//                 start() false -> result(), no suspension.
//                 else the task is parked on op; a cancellation already
//                 pending is handed to it at once (asyncio's Task.__step):
//                 cancel() == stopped -> cancelled_error, no suspension.
//   then exactly one of
//     completion:       the task resumes: result(); or, when it was
//                       cancelled after completion and before resuming,
//                       give_back() and cancelled_error;
//     task.cancel():    cancel(): stopped -> the task resumes with
//                       cancelled_error; handed_on -> it stays parked.
//   event_loop::close() calls cancel() on every parked operation before it
//   destroys the frames, so an operation needs no destructor to detach.
#pragma once

#include <coroutine>
#include <cstdint>
#include <string>
#include <type_traits>

#include "../task.hpp"
#include "task_state.hpp"

namespace uvasync::detail {

enum class cancel_outcome : std::uint8_t {
    stopped,   // over for good: the task resumes with cancelled_error
    handed_on, // passed on: the operation completes by itself
};

class operation_base {
public:
    // What call graphs name the operation: "sleep", "lock.acquire", ...
    virtual const char* kind() const noexcept = 0;

    // Completing (see above). wake_soon(via) queues `via` instead of the
    // task's step: a waiter that re-checks its condition when it runs (a
    // queue getter whose item another task took) either resumes the task
    // then (resume_woken) or waits again (wait_again).
    void wake_now() noexcept;
    void wake_soon(ready_node* via = nullptr) noexcept;
    std::coroutine_handle<> wake_transfer(bool may_transfer) noexcept;
    void resume_woken() noexcept;
    void wait_again() noexcept;
    // Parked and not woken yet (a primitive's waiter still to be served).
    bool waiting() const noexcept { return phase_ == phase::parked; }

protected:
    operation_base() noexcept = default;
    // Moved only before it starts (wait_for and create_task take
    // operations by value).
    operation_base(operation_base&&) noexcept {}
    operation_base& operator=(operation_base&&) = delete;
    ~operation_base() = default;

    // The task that awaits (null before the operation suspended).
    task_state_base* task() const noexcept { return task_; }
    // The awaiting task's cancellation message, for handing it on.
    const std::string& cancel_message() const noexcept { return task_->cancel_message(); }
    // The task was cancelled after this operation woke it.
    bool cancel_pending() const noexcept { return task_->must_cancel_; }

    enum class phase : std::uint8_t {
        idle,     // not suspended, or back from a suspension
        starting, // inside await_suspend: a completion is only recorded
        inline_,  // completed during start: no suspension
        parked,   // the task waits on this operation
        woken,    // completed: the task resumes soon
        stopped,  // cancelled: the task resumes with cancelled_error
    };

    // The part of await_suspend that is the same for everyone.
    void begin(task_state_base* t, std::coroutine_handle<> h) noexcept {
        task_ = t;
        phase_ = phase::starting;
        t->resume_point_ = h;
    }
    bool settle(bool waiting) noexcept {
        if (!waiting || phase_ == phase::inline_) {
            phase_ = phase::inline_;
            return false;
        }
        if (phase_ == phase::woken) return true; // woken soon from start (sleep(0)): the step is queued
        task_->parked_ = this;
        if (task_->must_cancel_) return deliver_pending_cancel();
        phase_ = phase::parked;
        return true;
    }
    // The part of await_resume before result(): throws cancelled_error when
    // the operation was stopped by a cancellation; true when it completed
    // but the task was cancelled before resuming (give back, then throw).
    bool resumed_cancelled() {
        const phase p = phase_;
        phase_ = phase::idle;
        if (p != phase::stopped && (p != phase::woken || !task_->must_cancel_)) return false;
        return cancelled_on_resume(p);
    }

private:
    friend class task_state_base;
    friend class loop_core;
    virtual cancel_outcome cancel_hook() noexcept = 0;
    bool deliver_pending_cancel() noexcept;
    bool cancelled_on_resume(phase p);

    task_state_base* task_ = nullptr;
    phase phase_ = phase::idle;
};

template <class D>
concept has_ready_hook = requires(D& d) {
    { d.ready() } -> std::convertible_to<bool>;
};
template <class D>
concept has_give_back_hook = requires(D& d) { d.give_back(); };

template <class Derived> class operation : public operation_base {
public:
    bool await_ready() {
        if constexpr (has_ready_hook<Derived>) return self().ready();
        else return false;
    }
    template <class P> bool await_suspend(std::coroutine_handle<P> h) {
        static_assert(requires(Derived& d) {
            { d.start() } -> std::same_as<bool>;
            { d.cancel() } -> std::same_as<cancel_outcome>;
            d.result();
        }, "an operation supplies bool start(), cancel_outcome cancel() noexcept and result()");
        begin(h.promise().root, h);
        bool waiting;
        try {
            waiting = self().start();
        } catch (...) {
            settle(false);
            throw;
        }
        return settle(waiting);
    }
    decltype(auto) await_resume() {
        if (resumed_cancelled()) {
            if constexpr (has_give_back_hook<Derived>) self().give_back();
            task()->throw_cancellation();
        }
        return self().result();
    }

    // An operation kept for later, or given where a task is expected,
    // becomes one: `task<std::string> line = reader.readline();`.
    template <class T>
        requires std::is_same_v<T, std::remove_cvref_t<decltype(std::declval<Derived&>().result())>>
    operator ::uvasync::task<T>() && {
        return as_task(std::move(self()));
    }

protected:
    operation() noexcept = default;
    operation(operation&&) noexcept = default;
    ~operation() = default;

private:
    Derived& self() noexcept { return static_cast<Derived&>(*this); }
    cancel_outcome cancel_hook() noexcept final { return self().cancel(); }
};

} // namespace uvasync::detail
