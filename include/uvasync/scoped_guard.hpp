// scoped_guard: what `co_await x.scoped()` returns for a lock, a semaphore or
// a condition; it releases x when it goes out of scope. asyncio's
// `async with lock:` becomes
//
//     auto guard = co_await lock.scoped();
//
// (a named local: it lives to the end of the block, like the with-block).
#pragma once

#include <utility>

namespace uvasync {

template <class Primitive> class [[nodiscard]] scoped_guard {
public:
    explicit scoped_guard(Primitive& p) noexcept : p_(&p) {}
    scoped_guard(scoped_guard&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
    scoped_guard& operator=(scoped_guard&&) = delete;
    scoped_guard(const scoped_guard&) = delete;
    ~scoped_guard() {
        if (p_) {
            try {
                p_->release();
            } catch (...) { // released by hand meanwhile: nothing left to release
            }
        }
    }

    // Releases now, before the end of the scope (throws what release throws).
    void release() {
        if (Primitive* p = std::exchange(p_, nullptr)) p->release();
    }
    // Whether this guard still holds the primitive.
    bool owns() const noexcept { return p_ != nullptr; }

private:
    Primitive* p_;
};

} // namespace uvasync
