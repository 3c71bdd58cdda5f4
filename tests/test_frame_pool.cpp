// The per-thread frame cache: a burst may fill it past kept_bytes per size
// class; the loop's once-a-second tick hands the excess back, and everything
// (and the heap with malloc_trim) after a second without frees.
// The switch for memory checkers (UVASYNC_NO_FRAME_POOL, valgrind) is tested
// by tests/frame_pool_probe.cpp, in processes of its own.
#include <gtest/gtest.h>
#include <uvasync/uvasync.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <vector>

using namespace uvasync;
using namespace std::chrono_literals;
namespace d = uvasync::detail;

namespace {

std::uint32_t most_over_kept() {
    std::uint32_t most = 0;
    for (std::size_t cls = 0; cls < d::frame_cache::classes; ++cls) {
        const std::uint32_t kept = d::frame_class_kept(cls);
        if (d::t_frame_cache.counts[cls] > kept) most = std::max(most, d::t_frame_cache.counts[cls] - kept);
    }
    return most;
}

std::size_t cached_blocks() {
    std::size_t n = 0;
    for (std::uint32_t count : d::t_frame_cache.counts) n += count;
    return n;
}

// Whether this thread caches frames: not under ASan, not switched off.
bool caching() {
    d::frame_deallocate(d::frame_allocate(64), 64); // registers the thread if it was not
    return d::t_frame_cache.registered && !d::t_frame_cache.off;
}

long rss_bytes() {
    long pages = 0, resident = 0;
    if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        std::fclose(f);
    }
    return resident * sysconf(_SC_PAGESIZE);
}

} // namespace

// The tick, called by hand (the loop's timer calls it once a second).
TEST(FramePool, BurstIsTrimmedBackAtTheNextTick) {
    event_loop loop;
    int ran = 0;
    for (int i = 0; i < 200'000; ++i) loop.call_soon([&ran] { ++ran; });
    loop.call_soon([&loop] { loop.stop(); });
    loop.run_forever();
    EXPECT_EQ(ran, 200'000);
    // With the cache on, the burst left more than kept_bytes.
    if (caching()) {
        EXPECT_GT(most_over_kept(), 100'000u);
    }
    d::frame_cache_tick();
    EXPECT_EQ(most_over_kept(), 0u);
}

TEST(FramePool, ClassesHoldSizesUpTo16kPlus8) {
    EXPECT_EQ(d::frame_class(8), 0u);
    EXPECT_EQ(d::frame_class(9), 1u);
    EXPECT_EQ(d::frame_class(24), 1u);
    EXPECT_EQ(d::frame_class(25), 2u);
    EXPECT_EQ(d::frame_class_size(d::frame_class(120)), 120u);
    EXPECT_EQ(d::frame_class_size(d::frame_class(121)), 136u);
}

// The idle trim, driven by hand: frame_cache_tick is what the loop's timer
// calls once a second while blocks come back.
TEST(FramePool, AQuietSecondEmptiesTheCache) {
    const bool on = caching();
    d::frame_cache_tick(); // forget what this thread did before
    d::frame_cache_tick();
    std::vector<void*> burst;
    for (int i = 0; i < 1000; ++i) burst.push_back(d::frame_allocate(120));
    for (void* p : burst) d::frame_deallocate(p, 120);
    if (!on) { // nothing cached: nothing to give back, no more ticks wanted
        EXPECT_EQ(cached_blocks(), 0u);
        EXPECT_FALSE(d::frame_cache_tick());
        return;
    }
    EXPECT_GE(d::t_frame_cache.counts[d::frame_class(120)], 1000u);
    // Blocks came back in the second before the tick: not yet, look again.
    EXPECT_TRUE(d::frame_cache_tick());
    d::frame_deallocate(d::frame_allocate(120), 120);
    EXPECT_TRUE(d::frame_cache_tick());
    EXPECT_GE(d::t_frame_cache.counts[d::frame_class(120)], 1000u);
    // A whole quiet second: everything goes, and no more ticks are wanted.
    EXPECT_FALSE(d::frame_cache_tick());
    EXPECT_EQ(cached_blocks(), 0u);
    for (std::size_t cls = 0; cls < d::frame_cache::classes; ++cls) EXPECT_EQ(d::t_frame_cache.heads[cls], nullptr);
    EXPECT_FALSE(d::t_frame_cache.heap_dirty); // malloc_trim ran
    EXPECT_FALSE(d::frame_cache_tick());       // nothing new to give back
    // The cache works on afterwards: a block cached again is given back
    // after a quiet second.
    d::frame_deallocate(d::frame_allocate(120), 120);
    EXPECT_EQ(d::t_frame_cache.counts[d::frame_class(120)], 1u);
    EXPECT_TRUE(d::frame_cache_tick());
    EXPECT_FALSE(d::frame_cache_tick());
    EXPECT_EQ(cached_blocks(), 0u);
}

// The loop's side: a burst arms a timer that keeps nothing alive, and once
// the loop has been quiet for a second the cache is empty and the memory
// given back. The observer, a prepare handle, looks each time the loop is
// about to wait.
TEST(FramePool, AQuietSecondAfterABurstGivesTheMemoryBack) {
    struct program {
        uv_loop_t loop{};
        uv_prepare_t observer{};
        uv_timer_t guard{};
        bool burst_done = false;
        bool looked_at_timer = false;
        bool timer_armed = false;
        bool emptied = false;
        bool guard_fired = false;
        std::chrono::steady_clock::time_point burst_end, emptied_at;
    } p;
    ASSERT_EQ(uv_loop_init(&p.loop), 0);
    uv_prepare_init(&p.loop, &p.observer);
    p.observer.data = &p;
    uv_prepare_start(&p.observer, [](uv_prepare_t* h) {
        auto* self = static_cast<program*>(h->data);
        if (!self->burst_done) return;
        if (!self->looked_at_timer) { // the first wait after the burst
            self->looked_at_timer = true;
            uv_walk(
                &self->loop,
                [](uv_handle_t* t, void* armed) {
                    if (t->type == UV_TIMER && uv_is_active(t) && !uv_has_ref(t)) *static_cast<bool*>(armed) = true;
                },
                &self->timer_armed);
        }
        if (!self->emptied && cached_blocks() == 0) {
            self->emptied = true;
            self->emptied_at = std::chrono::steady_clock::now();
            uv_stop(&self->loop);
        }
    });
    uv_unref(reinterpret_cast<uv_handle_t*>(&p.observer));
    // Waits at most 10 s for the loop to empty the cache.
    uv_timer_init(&p.loop, &p.guard);
    p.guard.data = &p;
    uv_timer_start(
        &p.guard,
        [](uv_timer_t* t) {
            auto* self = static_cast<program*>(t->data);
            self->guard_fired = true;
            uv_stop(&self->loop);
        },
        10'000, 0);
    const bool on = caching();
    const long rss_before = rss_bytes();
    {
        std::unique_ptr<event_loop> loop = event_loop::wrap(&p.loop);
        for (int i = 0; i < 300'000; ++i) loop->call_soon([] {});
        loop->call_soon([&p] {
            p.burst_done = true;
            p.burst_end = std::chrono::steady_clock::now();
        });
        if (!on) uv_timer_stop(&p.guard); // nothing is cached: the run ends after the burst
        uv_run(&p.loop, UV_RUN_DEFAULT);
        EXPECT_TRUE(p.burst_done);
        EXPECT_TRUE(p.looked_at_timer);
        EXPECT_EQ(p.timer_armed, on);
        if (on) {
            EXPECT_TRUE(p.emptied);
            EXPECT_FALSE(p.guard_fired);
            EXPECT_GE(p.emptied_at - p.burst_end, 900ms);
            EXPECT_EQ(cached_blocks(), 0u);
            EXPECT_LE(rss_bytes(), rss_before + (4 << 20)) << "RSS before the burst: " << rss_before;
        }
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&p.observer), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&p.guard), nullptr);
    uv_run(&p.loop, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&p.loop), 0);
}
