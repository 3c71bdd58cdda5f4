// task_handle<T>: asyncio.Task, a task scheduled on the loop; create_task,
// current_task, all_tasks.
//
// Handles are copyable and shared; the loop keeps a task alive until it
// finishes even when every handle is gone. Any number of coroutines may
// co_await one handle. task_handle<> (= task_handle<void>) is the
// type-erased handle that every task_handle<T> converts to.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "detail/loop_core.hpp"
#include "detail/operation.hpp"
#include "detail/task_state.hpp"
#include "errors.hpp"
#include "task.hpp"

namespace uvasync {

template <class T = void> class task_handle;

// create_task's options: asyncio's name= and eager_start= (unset: the
// loop's default, event_loop::set_eager_tasks).
struct task_options {
    std::string name;
    std::optional<bool> eager_start;
};

namespace detail {

// The outcome of a finished task for one of its awaiters: a copy of the
// value (several may await it), or the value itself when it cannot be copied.
template <class T> T result_of(task_state_base& s) {
    s.rethrow_if_failed();
    if constexpr (std::is_void_v<T>) {
        return;
    } else if constexpr (std::is_copy_constructible_v<T>) {
        return static_cast<task_state<T>&>(s).value();
    } else {
        return std::move(static_cast<task_state<T>&>(s).value());
    }
}

// co_await on a task_handle: waits until the task finishes. Cancelling the
// awaiting task cancels the awaited one (asyncio's rule for awaiting a task).
template <class T> class handle_awaiter final : public operation<handle_awaiter<T>>, public task_waiter {
public:
    explicit handle_awaiter(task_state_base* t) noexcept : target_(t) { target_->add_ref(); }
    handle_awaiter(handle_awaiter&& o) noexcept : operation<handle_awaiter>(std::move(o)), target_(o.target_) {
        target_->add_ref();
    }
    ~handle_awaiter() { target_->release(); }

    bool ready() const noexcept { return target_->done(); }
    bool start() {
        if (target_ == this->task()) throw std::runtime_error("a task cannot await itself"); // it would never wake
        target_->add_waiter(*this);
        return true;
    }
    cancel_outcome cancel() noexcept {
        return target_->cancel(this->cancel_message()) ? cancel_outcome::handed_on : cancel_outcome::stopped;
    }
    T result() { return result_of<T>(*target_); }
    // Woken, then cancelled before resuming: the failure was seen all the
    // same (asyncio's __wakeup calls result() before the cancellation).
    void give_back() noexcept { target_->mark_retrieved(); }

    const char* kind() const noexcept override { return "task"; }
    std::coroutine_handle<> task_finished(bool may_transfer) noexcept override {
        return this->wake_transfer(may_transfer);
    }
    const task_state_base* waiting_task() const noexcept override { return this->task(); }

private:
    task_state_base* target_;
};

// A new task of `core` running `t`, named `name` (taken when not empty);
// eager_start unset: the loop's default. (By reference: create_task's
// overloads pass what they were given on without moving strings.)
template <class T>
task_handle<T> spawn(loop_core& core, task<T>& t, std::string& name, std::optional<bool> eager_start);

} // namespace detail

template <class T> class task_handle {
public:
    using value_type = T;

    task_handle() noexcept = default;
    task_handle(const task_handle& o) noexcept : s_(o.s_) {
        if (s_) s_->add_ref();
    }
    task_handle(task_handle&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
    task_handle& operator=(task_handle o) noexcept {
        std::swap(s_, o.s_);
        return *this;
    }
    ~task_handle() {
        if (s_) s_->release();
    }
    // Every handle converts to the type-erased task_handle<>.
    template <class U>
        requires(std::is_void_v<T> && !std::is_void_v<U>)
    task_handle(const task_handle<U>& o) noexcept : s_(o.state()) {
        if (s_) s_->add_ref();
    }

    bool valid() const noexcept { return s_ != nullptr; }
    bool done() const noexcept { return s_->done(); }
    bool cancelled() const noexcept { return s_->cancelled(); }

    // Requests cancellation (see docs/api.md); false if the task is done. A
    // handle is a shared pointer-like object: const handles cancel too.
    bool cancel(std::string msg = {}) const { return s_->cancel(std::move(msg)); }
    // Pending cancellation requests; uncancel() withdraws one and returns the rest.
    std::uint32_t cancelling() const noexcept { return s_->cancelling(); }
    std::uint32_t uncancel() const noexcept { return s_->uncancel(); }

    // The value; rethrows the failure; cancelled_error if cancelled;
    // invalid_state_error if not done.
    decltype(auto) result() const {
        if (!s_->done()) throw invalid_state_error("result(): the task is not done");
        s_->rethrow_if_failed();
        if constexpr (!std::is_void_v<T>) return static_cast<const T&>(static_cast<detail::task_state<T>*>(s_)->value());
    }
    // The failure (null if it succeeded); cancelled_error if cancelled;
    // invalid_state_error if not done.
    std::exception_ptr exception() const {
        if (!s_->done()) throw invalid_state_error("exception(): the task is not done");
        if (cancelled()) s_->rethrow_if_failed();
        s_->mark_retrieved();
        return s_->error();
    }

    // Calls fn(handle) on the loop once the task is done (at once, through
    // the loop, if it is done already). Returns an id for remove_done_callback.
    template <class F> std::size_t add_done_callback(F fn) const {
        task_handle self = *this;
        return detail::add_done_callback(*s_, [self, fn = std::move(fn)]() mutable { fn(self); });
    }
    // Removes a callback added by add_done_callback; returns how many were removed.
    std::size_t remove_done_callback(std::size_t id) const noexcept { return s_->remove_done_callbacks(id); }

    std::string get_name() const { return s_->name(); }
    void set_name(std::string name) const { s_->set_name(std::move(name)); }

    auto operator co_await() const noexcept { return detail::handle_awaiter<T>(s_); }

    friend bool operator==(const task_handle& a, const task_handle& b) noexcept { return a.s_ == b.s_; }

    // --- for the library ---
    detail::task_state_base* state() const noexcept { return s_; }
    // Takes over one reference the caller holds.
    static task_handle adopt(detail::task_state_base* s) noexcept { return task_handle(s); }
    // A new handle (one more reference).
    static task_handle share(detail::task_state_base* s) noexcept {
        s->add_ref();
        return task_handle(s);
    }

private:
    explicit task_handle(detail::task_state_base* s) noexcept : s_(s) {}
    detail::task_state_base* s_ = nullptr;
};

namespace detail {
template <class T>
task_handle<T> spawn(loop_core& core, task<T>& t, std::string& name, std::optional<bool> eager_start) {
    core.check_open("create_task");
    auto h = t.release();
    if (!h) throw std::invalid_argument("create_task: the task is empty (moved from?)");
    auto* s = new task_state<T>(core, h, h.promise());
    if (!name.empty()) s->set_name(std::move(name));
    task_handle<T> handle = task_handle<T>::share(s); // the first reference is the loop's
    // Eager only inside the running loop (asyncio: the eager step needs it).
    const bool eager = eager_start.value_or(core.eager_tasks()) && running_loop() == &core.owner();
    core.start_task(*s, eager);
    return handle;
}
} // namespace detail

// asyncio.create_task: schedules `t` on the running loop (or, eager, runs
// it at once up to its first suspension).
template <class T> task_handle<T> create_task(task<T> t, task_options options) {
    return detail::spawn(detail::running_core(), t, options.name, options.eager_start);
}
template <class T> task_handle<T> create_task(task<T> t, std::string name = {}) {
    return detail::spawn(detail::running_core(), t, name, std::nullopt);
}
// Any other awaitable of the library (reader.read(n), lock.acquire(), ...)
// runs as a task of its own, as asyncio.ensure_future does.
template <class A>
    requires(!detail::is_task<std::remove_cvref_t<A>>::value && std::is_rvalue_reference_v<A&&>)
auto create_task(A&& aw, std::string name = {}) {
    return create_task(detail::as_task(std::move(aw)), std::move(name));
}

// The task running now, or nothing outside a task.
std::optional<task_handle<>> current_task();
// The running loop's tasks that are not done yet.
std::vector<task_handle<>> all_tasks();

} // namespace uvasync
