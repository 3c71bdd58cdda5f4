// The wait behind gather / gather_settled: parks the awaiting task until
// every child finished or, unless settling, until the first child fails or
// is cancelled. Cancelling the awaiting task cancels every child that is
// still running, and the wait goes on until the children say how it ended.
#pragma once

#include <coroutine>
#include <cstddef>
#include <exception>

#include "task_state.hpp"

namespace uvasync::detail {

struct gather_op;

struct gather_child final : task_waiter {
    gather_op* op = nullptr;
    task_state_base* state = nullptr;
    bool registered = false;
};

// True for a child that ended with an exception or was cancelled.
inline bool ended_badly(const task_state_base* s) noexcept {
    return s->status == task_status::cancelled || (s->status == task_status::finished && s->error());
}

struct gather_op : parked_op {
    gather_child* children;
    std::size_t count;
    std::size_t remaining = 0;
    task_state_base* first_failure = nullptr;
    bool settle;                  // gather_settled: wait for everyone
    bool cancel_requested = false;
    bool woken = false;

    gather_op(gather_child* c, std::size_t n, bool settle_all) noexcept;
    gather_op(const gather_op&) = delete;
    ~gather_op() { unregister(); }

    bool ready() const noexcept { return remaining == 0 || (!settle && first_failure); }
    bool await_ready() const noexcept { return ready(); }
    template <class P> bool await_suspend(std::coroutine_handle<P> h) noexcept {
        if (!park(h.promise().root, h)) return false;
        abort = &on_abort;
        for (std::size_t i = 0; i < count; ++i) {
            gather_child& c = children[i];
            if (!c.state->done()) {
                c.registered = true;
                c.state->add_waiter(&c);
            }
        }
        return true;
    }
    void await_resume() {
        unregister();
        if (task) throw_if_cancelled();
    }

    // After the wait: throws the first failure (marking the later ones
    // retrieved), or cancelled_error if the gather itself was cancelled.
    void rethrow_outcome();

    void unregister() noexcept;
    static bool on_abort(parked_op* op);
    static std::coroutine_handle<> on_notify(task_waiter* w, bool may_transfer) noexcept;
};

// The exception a finished child holds (its cancelled_error if cancelled);
// marks it retrieved. Null when it succeeded.
std::exception_ptr take_error(task_state_base* s);

} // namespace uvasync::detail
