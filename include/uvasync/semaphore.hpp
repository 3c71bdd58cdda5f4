// semaphore / bounded_semaphore: asyncio.Semaphore and BoundedSemaphore.
//
// A counter of units: acquire() takes one, waiting while none is free;
// release() gives one back. Waiters are served strictly FIFO: while anyone
// waits, a newcomer queues even if a unit is free, so locked() is true when
// the counter is 0 or a waiter is queued. A waiter that is cancelled after a
// release() picked it gives its unit to the next one.
#pragma once

#include <coroutine>
#include <cstddef>
#include <stdexcept>

#include "detail/task_state.hpp"
#include "detail/wait_list.hpp"
#include "scoped_guard.hpp"

namespace uvasync {

class semaphore {
    struct acquire_op;

public:
    // std::invalid_argument if `value` is negative.
    explicit semaphore(std::ptrdiff_t value = 1) : semaphore(value, -1) {}
    semaphore(const semaphore&) = delete;
    semaphore& operator=(const semaphore&) = delete;

    // co_await: takes a unit, waiting (FIFO) while none is free.
    [[nodiscard]] acquire_op acquire() noexcept;
    // co_await: takes a unit and returns a guard that releases it.
    [[nodiscard]] auto scoped() noexcept;
    // Gives a unit back, waking the first waiter. For a bounded_semaphore,
    // std::logic_error when that would exceed the initial value.
    void release() {
        if (bound_ >= 0 && value_ >= bound_)
            throw std::logic_error("bounded_semaphore::release: released too many times");
        ++value_;
        wake_next();
    }
    // True when acquire() would wait.
    bool locked() const noexcept { return value_ == 0 || !waiters_.empty(); }

protected:
    semaphore(std::ptrdiff_t value, std::ptrdiff_t bound) : value_(value), bound_(bound) {
        if (value < 0) throw std::invalid_argument("semaphore: the initial value must be >= 0");
    }

private:
    // Hands a unit to the first waiter not yet woken.
    bool wake_next() noexcept {
        for (detail::wait_node* w = waiters_.front(); w; w = w->next) {
            if (!w->woken) {
                --value_;
                w->woken = true;
                w->wake_soon();
                return true;
            }
        }
        return false;
    }

    struct acquire_op : detail::wait_node {
        semaphore* s;

        explicit acquire_op(semaphore& owner) noexcept : s(&owner) {}
        acquire_op(const acquire_op&) = delete;
        ~acquire_op() { s->waiters_.remove(this); }

        bool await_ready() noexcept {
            if (!s->locked()) {
                --s->value_;
                return true;
            }
            return false;
        }
        template <class P> bool await_suspend(std::coroutine_handle<P> h) noexcept {
            if (!park(h.promise().root, h)) return false;
            abort = &on_abort;
            s->waiters_.push_back(this);
            return true;
        }
        void await_resume() {
            if (!task) return; // taken without waiting
            s->waiters_.remove(this);
            const bool cancelled = task->must_cancel;
            if (cancelled && woken) ++s->value_; // picked, but will not take it
            // Newcomers may have queued behind us: wake as many as there are units.
            while (s->value_ > 0 && s->wake_next()) {
            }
            if (cancelled) throw_if_cancelled();
        }
        static bool on_abort(parked_op* op) noexcept {
            auto* self = static_cast<acquire_op*>(op);
            self->s->waiters_.remove(self);
            return false;
        }
    };

    template <class Owner> struct scoped_op : acquire_op {
        using acquire_op::acquire_op;
        scoped_guard<Owner> await_resume() {
            acquire_op::await_resume();
            return scoped_guard<Owner>(static_cast<Owner&>(*s));
        }
    };

    detail::wait_list waiters_;
    std::ptrdiff_t value_;
    std::ptrdiff_t bound_; // the initial value of a bounded_semaphore, else -1
};

inline semaphore::acquire_op semaphore::acquire() noexcept { return acquire_op(*this); }
inline auto semaphore::scoped() noexcept { return scoped_op<semaphore>(*this); }

// asyncio.BoundedSemaphore: release() above the initial value is an error.
class bounded_semaphore : public semaphore {
public:
    explicit bounded_semaphore(std::ptrdiff_t value = 1) : semaphore(value, value) {}
};

} // namespace uvasync
