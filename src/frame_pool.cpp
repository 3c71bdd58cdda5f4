// The frame cache's slow paths: registering a thread (or leaving the cache
// off for it), trimming when the loop waits, freeing at thread exit.
#include <uvasync/detail/frame_pool.hpp>

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h> // malloc_trim
#endif
#if defined(UVASYNC_HAVE_VALGRIND_H)
#include <valgrind/valgrind.h>
#endif

namespace uvasync::detail {

namespace {
// Frees the thread's cached blocks when the thread exits.
struct frame_cache_cleanup {
    ~frame_cache_cleanup() {
        frame_cache& c = t_frame_cache;
        c.off = true;
        for (std::size_t cls = 0; cls < frame_cache::classes; ++cls) frame_release_class(cls);
    }
};

// UVASYNC_NO_FRAME_POOL set to anything but "" or "0", or valgrind unless
// UVASYNC_NO_FRAME_POOL=0 says to keep the pool (callgrind counts the
// instructions of the build as it runs): decided once for the process.
bool pool_switched_off() noexcept {
    static const bool off = [] {
        const char* v = std::getenv("UVASYNC_NO_FRAME_POOL");
        if (v && *v) return std::strcmp(v, "0") != 0;
#if defined(UVASYNC_HAVE_VALGRIND_H)
        if (RUNNING_ON_VALGRIND) return true;
#endif
        return false;
    }();
    return off;
}

void trim_to_kept(frame_cache& c) noexcept {
    c.over_kept = false;
    for (std::size_t cls = 0; cls < frame_cache::classes; ++cls) {
        while (c.counts[cls] > frame_class_kept(cls)) {
            frame_cache::block* b = c.heads[cls];
            c.heads[cls] = b->next;
            --c.counts[cls];
            ::operator delete(b);
            c.heap_dirty = true;
        }
    }
}
} // namespace

void frame_release_class(std::size_t cls) noexcept {
    frame_cache& c = t_frame_cache;
    while (frame_cache::block* b = c.heads[cls]) {
        c.heads[cls] = b->next;
        ::operator delete(b);
        c.heap_dirty = true;
    }
    c.counts[cls] = 0;
}

bool frame_cache_tick() noexcept {
    frame_cache& c = t_frame_cache;
    if (c.over_kept) trim_to_kept(c);
    if (c.frees != c.frees_seen) { // still in use: look again in a second
        c.frees_seen = c.frees;
        return true;
    }
    for (std::size_t cls = 0; cls < frame_cache::classes; ++cls) frame_release_class(cls);
    if (c.heap_dirty) {
#if defined(__GLIBC__)
        malloc_trim(0);
#endif
        c.heap_dirty = false;
    }
    return false;
}

void* frame_allocate_slow(std::size_t size) {
    frame_cache& c = t_frame_cache;
    if (!c.registered && !c.off) {
        if (pool_switched_off()) {
            c.off = true;
        } else {
            static thread_local frame_cache_cleanup cleanup;
            (void)&cleanup;
            c.registered = true;
        }
    }
    const std::size_t cls = frame_class(size);
    // A block of a class is as large as the class's largest size, so any
    // request of that class can reuse it. With the cache off, a block is
    // exactly what was asked for, as a memory checker should see it.
    if (cls < frame_cache::classes && !c.off) return ::operator new(frame_class_size(cls));
    return ::operator new(size);
}

} // namespace uvasync::detail
