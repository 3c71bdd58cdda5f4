#include <uvasync/detail/frame_pool.hpp>

namespace uvasync::detail {

namespace {
// Frees the thread's cached blocks when the thread exits.
struct frame_cache_cleanup {
    ~frame_cache_cleanup() {
        frame_cache& c = t_frame_cache;
        c.closed = true;
        for (std::size_t cls = 0; cls < frame_cache::classes; ++cls) frame_release_class(cls);
    }
};
} // namespace

void frame_release_class(std::size_t cls) noexcept {
    frame_cache& c = t_frame_cache;
    while (frame_cache::block* b = c.heads[cls]) {
        c.heads[cls] = b->next;
        ::operator delete(b);
    }
    c.counts[cls] = 0;
}

void frame_cache_trim() noexcept {
    frame_cache& c = t_frame_cache;
    if (!c.over_kept) return;
    c.over_kept = false;
    for (std::size_t cls = 0; cls < frame_cache::classes; ++cls) {
        while (c.counts[cls] > frame_class_kept(cls)) {
            frame_cache::block* b = c.heads[cls];
            c.heads[cls] = b->next;
            --c.counts[cls];
            ::operator delete(b);
        }
    }
}

void* frame_allocate_slow(std::size_t size) {
    frame_cache& c = t_frame_cache;
    if (!c.registered && !c.closed) {
        static thread_local frame_cache_cleanup cleanup;
        (void)&cleanup;
        c.registered = true;
    }
    const std::size_t cls = frame_class(size);
    // A block of a class is as large as the class's largest size, so any
    // request of that class can reuse it.
    if (cls < frame_cache::classes) return ::operator new(frame_class_size(cls));
    return ::operator new(size);
}

} // namespace uvasync::detail
