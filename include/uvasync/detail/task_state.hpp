// The state of a scheduled task: what a task_handle points at and what the
// loop schedules (asyncio.Task's insides).
//
// Its fields are private. Handles, combinators and awaitables use the
// methods below; only the task core (src/task_state.cpp), the loop
// (loop_core) and the cancellation protocol (operation.hpp) reach inside.
//
// Lifecycle: created by create_task and queued; each step resumes the
// coroutine chain where it last suspended; the root coroutine's end records
// the outcome and wakes the waiters; after that step the loop destroys the
// root frame ("reaps" it) and drops its reference; the state lives on while
// handles exist. A failure nobody retrieved is reported when the last
// handle goes (asyncio's "Task exception was never retrieved").
#pragma once

#include <coroutine>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>

#include "frame_pool.hpp"
#include "intrusive_list.hpp"
#include "ready_queue.hpp"

namespace uvasync::detail {

class loop_core;
class operation_base;
class task_state_base;
struct promise_base;
template <class T> struct promise;

struct waiter_tag {};
struct task_list_tag {};

// Something that hears a task finish: an awaiting operation, a combinator's
// child slot, or a done callback.
class task_waiter : public list_hook<waiter_tag> {
public:
    // Called once, when the task finishes, in the order the waiters came.
    // May return a coroutine to transfer to, when `may_transfer`.
    virtual std::coroutine_handle<> task_finished(bool may_transfer) noexcept = 0;
    // The id add_done_callback returned, for a done callback; 0 otherwise.
    virtual std::size_t callback_id() const noexcept { return 0; }
    // The task waiting through this waiter, if any (call graphs).
    virtual const task_state_base* waiting_task() const noexcept { return nullptr; }

protected:
    task_waiter() noexcept = default;
    task_waiter(const task_waiter&) noexcept = default;
    ~task_waiter() = default;
};

using waiter_list = intrusive_list<task_waiter, waiter_tag>;

enum class task_status : std::uint8_t { pending, finished, cancelled };

class task_state_base : public ready_node, public list_hook<task_list_tag>, public pooled {
public:
    task_state_base(loop_core& loop, std::coroutine_handle<> root, promise_base& root_promise) noexcept;
    virtual ~task_state_base();
    task_state_base(const task_state_base&) = delete;
    task_state_base& operator=(const task_state_base&) = delete;

    // References: the handles, plus the loop's while the task is pending.
    void add_ref() noexcept { ++refs_; }
    void release() noexcept {
        if (--refs_ == 0) last_release();
    }

    task_status status() const noexcept { return status_; }
    bool done() const noexcept { return status_ != task_status::pending; }
    bool cancelled() const noexcept { return status_ == task_status::cancelled; }
    // Finished with an exception (not a cancellation).
    bool failed() const noexcept { return status_ == task_status::finished && error(); }
    loop_core& loop() const noexcept { return *loop_; }
    std::uint32_t id() const noexcept { return id_; }

    // asyncio's Task.cancel(msg), cancelling() and uncancel().
    bool cancel(std::string message);
    std::uint32_t cancelling() const noexcept { return cancel_requests_; }
    std::uint32_t uncancel() noexcept;
    // The latest cancel()'s message; "" when there was none.
    const std::string& cancel_message() const noexcept;
    // Throws cancelled_error with that message.
    [[noreturn]] void throw_cancellation() const;

    std::string name() const;
    void set_name(std::string name);

    // The failure, or the cancelled_error of a cancelled task; null while
    // pending and after success. Looking does not count as retrieving.
    const std::exception_ptr& error() const noexcept;
    // Rethrows the failure or the cancellation, and counts as retrieving it.
    void rethrow_if_failed();
    // The failure (or cancellation) as an exception_ptr, retrieved; null
    // after success.
    std::exception_ptr take_error() noexcept;
    // Someone saw the failure: it is not "never retrieved".
    void mark_retrieved() noexcept;
    bool retrieved() const noexcept { return !unretrieved_; }
    // What a failure nobody retrieved is reported as when the last handle
    // goes. A server's client task is reported as asyncio reports an
    // exception escaping client_connected_cb.
    enum class unretrieved_report : std::uint8_t { never_retrieved, client_connected_cb };
    void report_unretrieved_as(unretrieved_report r) noexcept { report_as_ = r; }

    void add_waiter(task_waiter& w) noexcept { waiters_.push_back(&w); }
    // Removes the done callbacks with this id; how many there were.
    std::size_t remove_done_callbacks(std::size_t id) noexcept;
    const waiter_list& waiters() const noexcept { return waiters_; }

    // For call graphs: the root coroutine's promise (null once it finished)
    // and the operation the task is parked in (null while it runs).
    const promise_base* root_promise() const noexcept { return root_promise_; }
    const operation_base* parked_operation() const noexcept { return parked_; }

private:
    friend class loop_core;
    friend class operation_base;
    template <class> friend struct promise;

    void run() noexcept override; // one step
    void discard() noexcept override {}
    void schedule_step() noexcept;
    // The root coroutine ended: record the outcome, wake the waiters, and
    // return the coroutine to transfer to (maybe a no-op one).
    std::coroutine_handle<> finish(std::exception_ptr failure) noexcept;
    void finish_unstarted() noexcept; // cancelled before its body ran
    void settle(task_status status) noexcept;
    void last_release() noexcept;

    struct extra; // what most tasks never need: name, message, error
    extra& extras();

    std::uint32_t refs_ = 1;
    std::uint32_t id_;
    std::uint16_t cancel_requests_ = 0;
    task_status status_ = task_status::pending;
    bool started_ = false;
    bool must_cancel_ = false; // a cancellation waits for the next suspension
    bool unretrieved_ = false; // failed, and nobody has looked yet
    unretrieved_report report_as_ = unretrieved_report::never_retrieved;
    loop_core* loop_;
    std::coroutine_handle<> frame_;        // the root coroutine, until reaped
    std::coroutine_handle<> resume_point_; // where the next step resumes
    promise_base* root_promise_;
    operation_base* parked_ = nullptr;
    waiter_list waiters_;
    std::unique_ptr<extra> extra_;
};

// The state with the result of type T.
template <class T> class task_state final : public task_state_base {
public:
    // User-provided, so that the union member is not default-initialised
    // (deleted for a T with a non-trivial default constructor).
    task_state(loop_core& l, std::coroutine_handle<> root, promise_base& p) noexcept : task_state_base(l, root, p) {}
    ~task_state() override {
        if (has_value_) value_.~T();
    }
    T& value() noexcept { return value_; }

private:
    template <class> friend struct promise;
    union {
        T value_;
    };
    bool has_value_ = false;
};

template <> class task_state<void> final : public task_state_base {
public:
    using task_state_base::task_state_base;
};

// A callback added by task_handle::add_done_callback: queued on the loop when
// the task finishes.
class done_callback final : public task_waiter, public ready_node, public pooled {
public:
    done_callback(loop_core& loop, std::function<void()> fn);
    std::coroutine_handle<> task_finished(bool may_transfer) noexcept override;
    std::size_t callback_id() const noexcept override { return id; }
    void run() noexcept override;
    void discard() noexcept override { delete this; }

    std::function<void()> fn;
    std::size_t id;
    loop_core* loop;
};

// Calls fn on the loop once `s` is done (at once, through the loop, if it is
// done already). Returns the callback's id.
std::size_t add_done_callback(task_state_base& s, std::function<void()> fn);

} // namespace uvasync::detail
