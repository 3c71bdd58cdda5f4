// condition: asyncio.Condition, a condition variable for tasks.
//
// It works on a lock: its own (condition()), or one shared with other code
// (condition(lock&)). wait() needs the lock held: it releases it, waits for
// notify(), and takes the lock again before it returns -- also when it is
// cancelled: cancelled_error leaves wait() only once the lock is held again.
// A notification that reaches a waiter that is then cancelled is passed on to
// another waiter (a spurious wake-up, as the condition-variable contract
// allows), never lost.
//
//     auto guard = co_await cond.scoped();
//     auto ready = [&] { return !items.empty(); };   // name the lambda (GCC 12)
//     co_await cond.wait_for(ready);
#pragma once

#include <cstddef>
#include <stdexcept>
#include <type_traits>

#include "detail/intrusive_list.hpp"
#include "detail/operation.hpp"
#include "lock.hpp"
#include "scoped_guard.hpp"
#include "task.hpp"

namespace uvasync {

class condition {
public:
    // A condition with a lock of its own.
    condition() noexcept : lock_(&own_) {}
    // A condition on `l`, which must outlive it.
    explicit condition(lock& l) noexcept : lock_(&l) {}
    condition(const condition&) = delete;
    condition& operator=(const condition&) = delete;

    // The lock's operations.
    [[nodiscard]] auto acquire() noexcept { return lock_->acquire(); }
    [[nodiscard]] auto scoped() noexcept { return lock_->scoped(); }
    void release() { lock_->release(); }
    bool locked() const noexcept { return lock_->locked(); }

    // Releases the lock, waits for a notification, takes the lock again.
    // std::runtime_error if the lock is not held.
    task<> wait();
    // Waits until pred() is true and returns its value. Returns at once,
    // without needing the lock, if it is true already.
    template <class Pred> task<std::decay_t<std::invoke_result_t<Pred&>>> wait_for(Pred pred) {
        auto result = pred();
        while (!result) {
            co_await wait();
            result = pred();
        }
        co_return result;
    }

    // Wakes up to n waiters (FIFO); std::runtime_error if the lock is not held.
    void notify(std::size_t n = 1) {
        if (!locked()) throw std::runtime_error("condition::notify: the lock is not acquired");
        wake(n);
    }
    void notify_all() {
        if (!locked()) throw std::runtime_error("condition::notify_all: the lock is not acquired");
        wake(static_cast<std::size_t>(-1));
    }

private:
    // A notified waiter stays listed until it runs, so that notify(n)
    // counts only those not woken yet.
    class wait_op final : public detail::operation<wait_op>, public detail::list_hook<> {
    public:
        explicit wait_op(condition& c) noexcept : c_(&c) {}

        bool start() noexcept {
            c_->waiters_.push_back(this);
            return true;
        }
        detail::cancel_outcome cancel() noexcept {
            unlink();
            return detail::cancel_outcome::stopped;
        }
        void give_back() noexcept { unlink(); } // wait() passes the notification on
        void result() noexcept { unlink(); }
        const char* kind() const noexcept override { return "condition.wait"; }

    private:
        condition* c_;
    };
    void wake(std::size_t n) noexcept;

    lock own_;
    lock* lock_;
    detail::intrusive_list<wait_op> waiters_;
};

} // namespace uvasync
