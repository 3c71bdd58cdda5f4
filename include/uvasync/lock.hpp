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

#include <stdexcept>

#include "detail/intrusive_list.hpp"
#include "detail/operation.hpp"
#include "scoped_guard.hpp"

namespace uvasync {

class lock {
public:
    class acquire_op;
    class scoped_op;

    lock() noexcept = default;
    lock(const lock&) = delete;
    lock& operator=(const lock&) = delete;

    // co_await: takes the lock, waiting for it if it is held.
    [[nodiscard]] acquire_op acquire() noexcept;
    // co_await: takes the lock and returns a guard that releases it.
    [[nodiscard]] scoped_op scoped() noexcept;
    // Releases the lock; std::runtime_error if it is not locked.
    void release() {
        if (!locked_) throw std::runtime_error("lock::release: the lock is not acquired");
        locked_ = false;
        wake_first();
    }
    bool locked() const noexcept { return locked_; }

private:
    // Wakes the first waiter unless it is woken already (it takes the lock
    // when it runs).
    void wake_first() noexcept;

    detail::intrusive_list<acquire_op> waiters_;
    bool locked_ = false;
};

class lock::acquire_op : public detail::operation<acquire_op>, public detail::list_hook<> {
public:
    explicit acquire_op(lock& l) noexcept : l_(&l) {}
    acquire_op(acquire_op&& o) noexcept : operation(std::move(o)), l_(o.l_) {}

    bool ready() noexcept {
        if (l_->locked_ || !l_->waiters_.empty()) return false;
        l_->locked_ = true;
        return true;
    }
    bool start() noexcept {
        l_->waiters_.push_back(this);
        return true;
    }
    // Leaving the queue: if the lock is free, the next waiter must run.
    detail::cancel_outcome cancel() noexcept {
        leave();
        return detail::cancel_outcome::stopped;
    }
    void give_back() noexcept { leave(); }
    void result() noexcept {
        if (!linked()) return; // taken without waiting
        unlink();              // a woken waiter stays first until it runs
        l_->locked_ = true;
    }
    const char* kind() const noexcept override { return "lock.acquire"; }

protected:
    lock* l_;

private:
    void leave() noexcept {
        unlink();
        if (!l_->locked_) l_->wake_first();
    }
};

class lock::scoped_op : public lock::acquire_op {
public:
    using acquire_op::acquire_op;
    scoped_guard<lock> await_resume() {
        acquire_op::await_resume();
        return scoped_guard<lock>(*l_);
    }
};

inline void lock::wake_first() noexcept {
    acquire_op* w = waiters_.front();
    if (w && w->waiting()) w->wake_soon();
}

inline lock::acquire_op lock::acquire() noexcept { return acquire_op(*this); }
inline lock::scoped_op lock::scoped() noexcept { return scoped_op(*this); }

} // namespace uvasync
