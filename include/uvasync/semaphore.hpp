// semaphore / bounded_semaphore: asyncio.Semaphore and BoundedSemaphore.
//
// A counter of units: acquire() takes one, waiting while none is free;
// release() gives one back. Waiters are served strictly FIFO: while anyone
// waits, a newcomer queues even if a unit is free, so locked() is true when
// the counter is 0 or a waiter is queued. A waiter that is cancelled after a
// release() picked it gives its unit to the next one.
#pragma once

#include <cstddef>
#include <stdexcept>

#include "detail/intrusive_list.hpp"
#include "detail/operation.hpp"
#include "scoped_guard.hpp"

namespace uvasync {

class semaphore {
public:
    class acquire_op;
    template <class Owner> class scoped_op;

    // std::invalid_argument if `value` is negative.
    explicit semaphore(std::ptrdiff_t value = 1) : semaphore(value, -1) {}
    semaphore(const semaphore&) = delete;
    semaphore& operator=(const semaphore&) = delete;

    // co_await: takes a unit, waiting (FIFO) while none is free.
    [[nodiscard]] acquire_op acquire() noexcept;
    // co_await: takes a unit and returns a guard that releases it.
    [[nodiscard]] scoped_op<semaphore> scoped() noexcept;
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
    // Hands a unit to the first waiter not woken yet.
    bool wake_next() noexcept;
    // Newcomers may have queued behind a waiter that left: serve as many as
    // there are units.
    void wake_while_free() noexcept {
        while (value_ > 0 && wake_next()) {
        }
    }

    detail::intrusive_list<acquire_op> waiters_;
    std::ptrdiff_t value_;
    std::ptrdiff_t bound_; // the initial value of a bounded_semaphore, else -1
};

class semaphore::acquire_op : public detail::operation<acquire_op>, public detail::list_hook<> {
public:
    explicit acquire_op(semaphore& s) noexcept : s_(&s) {}
    acquire_op(acquire_op&& o) noexcept : operation(std::move(o)), s_(o.s_) {}

    bool ready() noexcept {
        if (s_->locked()) return false;
        --s_->value_;
        return true;
    }
    bool start() noexcept {
        s_->waiters_.push_back(this);
        return true;
    }
    detail::cancel_outcome cancel() noexcept {
        unlink();
        s_->wake_while_free();
        return detail::cancel_outcome::stopped;
    }
    void give_back() noexcept { // picked, but will not take it
        unlink();
        ++s_->value_;
        s_->wake_while_free();
    }
    void result() noexcept {
        if (!linked()) return; // taken without waiting
        unlink();
        s_->wake_while_free();
    }
    const char* kind() const noexcept override { return "semaphore.acquire"; }

protected:
    semaphore* s_;
};

template <class Owner> class semaphore::scoped_op : public semaphore::acquire_op {
public:
    using acquire_op::acquire_op;
    scoped_guard<Owner> await_resume() {
        acquire_op::await_resume();
        return scoped_guard<Owner>(static_cast<Owner&>(*s_));
    }
};

inline bool semaphore::wake_next() noexcept {
    for (acquire_op* w = waiters_.front(); w; w = waiters_.next(w)) {
        if (w->waiting()) {
            --value_;
            w->wake_soon();
            return true;
        }
    }
    return false;
}

inline semaphore::acquire_op semaphore::acquire() noexcept { return acquire_op(*this); }
inline semaphore::scoped_op<semaphore> semaphore::scoped() noexcept { return scoped_op<semaphore>(*this); }

// asyncio.BoundedSemaphore: release() above the initial value is an error.
class bounded_semaphore : public semaphore {
public:
    explicit bounded_semaphore(std::ptrdiff_t value = 1) : semaphore(value, value) {}
};

} // namespace uvasync
