// A per-thread cache of small blocks for coroutine frames, task states and
// callbacks.
//
// Every task allocates a frame and every scheduled task a state; malloc's
// fast path costs several times a free-list pop, and these blocks come in a
// handful of sizes. Blocks are kept per size class (16-byte steps up to
// 1 KiB) on the thread that frees them: up to `max_cached_bytes` of a class
// during a burst (100,000 call_soon callbacks, 10,000 sleeping tasks), back
// down to `kept_bytes` within a second, and down to nothing, with the heap
// trimmed (malloc_trim), once a whole second went by without a block freed
// (frame_cache_tick): a burst is fast without being kept for good. A class
// holds sizes 16k+8, which is exactly what a glibc chunk of 16k+16 bytes
// serves, so rounding to a class costs no memory.
//
// For memory checkers the cache is off, and every frame goes to plain
// new/delete at its own size: under AddressSanitizer (at compile time, so
// that a use after free is still seen), and at run time when the
// environment has UVASYNC_NO_FRAME_POOL=1 (for heaptrack, massif, ...) or
// the program runs under valgrind (detected where the valgrind headers were
// found at build time). The run-time switch is read once, when a thread
// first allocates a frame; the fast path is the same either way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>

namespace uvasync::detail {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool frame_pool_enabled = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool frame_pool_enabled = false;
#else
inline constexpr bool frame_pool_enabled = true;
#endif
#else
inline constexpr bool frame_pool_enabled = true;
#endif

struct frame_cache {
    static constexpr std::size_t granule = 16;
    static constexpr std::size_t max_size = 1024;
    static constexpr std::size_t classes = max_size / granule + 1;
    static constexpr std::size_t max_cached_bytes = 32 << 20;
    static constexpr std::size_t kept_bytes = 2 << 20;
    // How long the loop must have waited before the cache is emptied.
    static constexpr std::int64_t idle_release_ns = 1'000'000'000;

    struct block {
        block* next;
    };
    block* heads[classes];
    std::uint32_t counts[classes];
    std::uint32_t frees;      // blocks cached so far (wraps): activity
    std::uint32_t frees_seen; // `frees` when the quiet second began
    bool registered; // caching on this thread: the thread-exit cleanup is armed
    bool off;        // no caching on this thread: the pool is switched off, or the thread is exiting
    bool over_kept;  // some class holds more than kept_bytes: trim at the next tick
    bool heap_dirty; // blocks went back to malloc since the last malloc_trim
};

// Trivially constructed and destroyed: no guard on the hot path.
inline thread_local constinit frame_cache t_frame_cache{};

void* frame_allocate_slow(std::size_t size);
void frame_release_class(std::size_t cls) noexcept;

// The class of a size: class k holds sizes up to 16k+8.
constexpr std::size_t frame_class(std::size_t size) noexcept {
    return (size + frame_cache::granule - 1 - 8) / frame_cache::granule;
}
constexpr std::size_t frame_class_size(std::size_t cls) noexcept { return cls * frame_cache::granule + 8; }
constexpr std::uint32_t frame_class_limit(std::size_t cls) noexcept {
    return static_cast<std::uint32_t>(frame_cache::max_cached_bytes / frame_class_size(cls));
}
constexpr std::uint32_t frame_class_kept(std::size_t cls) noexcept {
    return static_cast<std::uint32_t>(frame_cache::kept_bytes / frame_class_size(cls));
}

// Giving memory back, driven by the loop: from when tasks end or callbacks
// are queued (blocks come back) it calls frame_cache_tick() once a second.
// A tick frees what a burst left beyond kept_bytes per class; when no block
// was freed since the last tick it frees every cached block and trims the
// heap (malloc_trim), so RSS comes back after a burst, and returns false:
// the loop stops looking until blocks come back again. On a busy loop this
// costs a counter per freed block and a timer per second; a loop that only
// does I/O pays nothing.
bool frame_cache_tick() noexcept;
// This thread caches blocks (the cache is on and was used): ticks mean something.
inline bool frame_cache_on() noexcept {
    return frame_pool_enabled && t_frame_cache.registered && !t_frame_cache.off;
}

inline void* frame_allocate(std::size_t size) {
    if constexpr (frame_pool_enabled) {
        const std::size_t cls = frame_class(size);
        if (cls < frame_cache::classes) {
            frame_cache& c = t_frame_cache;
            if (frame_cache::block* b = c.heads[cls]) {
                c.heads[cls] = b->next;
                --c.counts[cls];
                return b;
            }
        }
        return frame_allocate_slow(size);
    } else {
        return ::operator new(size);
    }
}

inline void frame_deallocate(void* p, std::size_t size) noexcept {
    if constexpr (frame_pool_enabled) {
        const std::size_t cls = frame_class(size);
        frame_cache& c = t_frame_cache;
        if (cls < frame_cache::classes && c.counts[cls] < frame_class_limit(cls) && c.registered && !c.off) {
            auto* b = static_cast<frame_cache::block*>(p);
            b->next = c.heads[cls];
            c.heads[cls] = b;
            ++c.frees;
            if (++c.counts[cls] > frame_class_kept(cls)) c.over_kept = true;
            return;
        }
    }
    ::operator delete(p);
}

// Base for types allocated through the cache.
struct pooled {
    static void* operator new(std::size_t size) { return frame_allocate(size); }
    static void operator delete(void* p, std::size_t size) noexcept { frame_deallocate(p, size); }
};

} // namespace uvasync::detail
