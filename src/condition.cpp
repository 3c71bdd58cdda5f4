// condition::wait: release, wait for a notification, re-acquire (also when
// cancelled), as asyncio.Condition.wait does.
#include <uvasync/condition.hpp>
#include <uvasync/errors.hpp>

#include <exception>

namespace uvasync {

void condition::wake(std::size_t n) noexcept {
    std::size_t woken = 0;
    for (wait_op* w = waiters_.front(); w && woken < n; w = waiters_.next(w)) {
        if (w->waiting()) {
            ++woken;
            w->wake_soon();
        }
    }
}

task<> condition::wait() {
    if (!locked()) throw std::runtime_error("condition::wait: the lock is not acquired");
    lock_->release();
    std::exception_ptr cancelled;
    try {
        co_await wait_op(*this);
    } catch (const cancelled_error&) {
        cancelled = std::current_exception();
    }
    // Take the lock again whatever happens; a cancellation meanwhile is kept
    // (the latest one wins) and raised once the lock is held.
    for (;;) {
        try {
            co_await lock_->acquire();
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
