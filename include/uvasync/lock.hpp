// lock: asyncio.Lock, a mutual-exclusion lock for tasks of one loop.
//
//     co_await l.acquire(); ... l.release();
//     { auto guard = co_await l.scoped(); ... }    // async with l:
//
// Waiters acquire in FIFO order, and a task that arrives while others wait
// queues behind them even if the lock is momentarily free. release() wakes
// the first waiter, which takes the lock when it runs; if it is cancelled
// before that, the lock passes on to the next waiter, so a cancellation never
// loses a wake-up. Acquiring a free lock does not suspend.
#pragma once

#include <coroutine>
#include <stdexcept>

#include "detail/task_state.hpp"
#include "detail/wait_list.hpp"
#include "scoped_guard.hpp"

namespace uvasync {

class lock {
    struct acquire_op;

public:
    lock() noexcept = default;
    lock(const lock&) = delete;
    lock& operator=(const lock&) = delete;

    // co_await: takes the lock, waiting for it if it is held.
    [[nodiscard]] acquire_op acquire() noexcept;
    // co_await: takes the lock and returns a guard that releases it.
    [[nodiscard]] auto scoped() noexcept;
    // Releases the lock; std::runtime_error if it is not locked.
    void release() {
        if (!locked_) throw std::runtime_error("lock::release: the lock is not acquired");
        locked_ = false;
        wake_first();
    }
    bool locked() const noexcept { return locked_; }

private:
    // Wakes the first waiter unless it is already woken (it takes the lock
    // when it runs).
    void wake_first() noexcept {
        detail::wait_node* w = waiters_.front();
        if (w && !w->woken) {
            w->woken = true;
            w->wake_soon();
        }
    }

    struct acquire_op : detail::wait_node {
        lock* l;

        explicit acquire_op(lock& owner) noexcept : l(&owner) {}
        acquire_op(const acquire_op&) = delete;
        ~acquire_op() { l->waiters_.remove(this); } // frame destroyed while waiting

        bool await_ready() noexcept {
            if (!l->locked_ && l->waiters_.empty()) {
                l->locked_ = true;
                return true;
            }
            return false;
        }
        template <class P> bool await_suspend(std::coroutine_handle<P> h) noexcept {
            if (!park(h.promise().root, h)) return false;
            abort = &on_abort;
            l->waiters_.push_back(this);
            return true;
        }
        void await_resume() {
            if (!task) return; // taken without waiting
            l->waiters_.remove(this);
            if (task->must_cancel) {
                // Cancelled (maybe after release() chose us): make sure the
                // next waiter runs if the lock is free.
                if (!l->locked_) l->wake_first();
                throw_if_cancelled();
            }
            l->locked_ = true;
        }
        static bool on_abort(parked_op* op) noexcept {
            auto* self = static_cast<acquire_op*>(op);
            self->l->waiters_.remove(self);
            return false;
        }
    };

    struct scoped_op : acquire_op {
        using acquire_op::acquire_op;
        scoped_guard<lock> await_resume() {
            acquire_op::await_resume();
            return scoped_guard<lock>(*l);
        }
    };

    detail::wait_list waiters_;
    bool locked_ = false;
};

inline lock::acquire_op lock::acquire() noexcept { return acquire_op(*this); }
inline auto lock::scoped() noexcept { return scoped_op(*this); }

} // namespace uvasync
