// condition::wait: release, wait for a notification, re-acquire (also when
// cancelled), as asyncio.Condition.wait does.
#include <uvasync/condition.hpp>
#include <uvasync/errors.hpp>

#include <exception>

namespace uvasync {

struct condition::wait_op : detail::wait_node {
    condition* c;

    explicit wait_op(condition& owner) noexcept : c(&owner) {}
    wait_op(const wait_op&) = delete;
    ~wait_op() { c->waiters_.remove(this); }

    bool await_ready() const noexcept { return false; }
    template <class P> bool await_suspend(std::coroutine_handle<P> h) noexcept {
        if (!park(h.promise().root, h)) return false;
        abort = &on_abort;
        c->waiters_.push_back(this);
        return true;
    }
    void await_resume() {
        c->waiters_.remove(this); // a notified waiter stays listed until it runs
        throw_if_cancelled();
    }
    static bool on_abort(parked_op* op) noexcept {
        auto* self = static_cast<wait_op*>(op);
        self->c->waiters_.remove(self);
        return false;
    }
};

void condition::wake(std::size_t n) noexcept {
    std::size_t woken = 0;
    for (detail::wait_node* w = waiters_.front(); w && woken < n; w = w->next) {
        if (!w->woken) {
            ++woken;
            w->woken = true;
            w->wake_soon();
        }
    }
}

task<> condition::wait() {
    if (!locked()) throw std::runtime_error("condition::wait: the lock is not acquired");
    lock_->release();
    std::exception_ptr cancelled;
    {
        wait_op op(*this);
        try {
            co_await op;
        } catch (const cancelled_error&) {
            cancelled = std::current_exception();
        }
    }
    // Take the lock again whatever happens; a cancellation meanwhile is kept
    // (the latest one wins) and raised once the lock is held.
    for (;;) {
        auto relock = lock_->acquire();
        try {
            co_await relock;
            break;
        } catch (const cancelled_error&) {
            cancelled = std::current_exception();
        }
    }
    if (cancelled) {
        // We may have consumed a notification: pass one on.
        wake(1);
        std::rethrow_exception(cancelled);
    }
}

} // namespace uvasync
