// Whether memory checkers see the frames: a process of its own, since the
// switch (UVASYNC_NO_FRAME_POOL, valgrind) is read once per process.
//
//   frame_pool_probe cached     10,000 awaited tasks reuse cached frames
//   frame_pool_probe uncached   each of them is a block of operator new
//   frame_pool_probe freed-read reads a freed frame block (valgrind must say so)
//
// The counting operator new below stands for what valgrind or heaptrack
// would see. tests/CMakeLists.txt runs it with and without the variable,
// and under valgrind.
#include <uvasync/uvasync.hpp>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

namespace {
std::atomic<long> g_news{0};
}

void* operator new(std::size_t n) {
    g_news.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

uvasync::task<int> leaf(int i) { co_return i; }

uvasync::task<long> chain(int n) {
    long sum = 0;
    for (int i = 0; i < n; ++i) sum += co_await leaf(i);
    co_return sum;
}

// Operator new calls while 10,000 lazy tasks are awaited one after another.
long news_for_10000_frames(uvasync::event_loop& loop) {
    loop.run_until_complete(chain(100)); // the cache learns the frame's size
    const long before = g_news.load();
    const long sum = loop.run_until_complete(chain(10'000));
    if (sum != 49'995'000) std::fprintf(stderr, "wrong sum %ld\n", sum);
    return g_news.load() - before;
}

} // namespace

int main(int argc, char** argv) {
    const char* mode = argc > 1 ? argv[1] : "";
    if (std::strcmp(mode, "freed-read") == 0) {
        // A frame-sized block freed, then read: with the cache on it would
        // sit in the cache and the read would go unseen.
        namespace d = uvasync::detail;
        d::frame_deallocate(d::frame_allocate(64), 64); // registers the thread
        auto* p = static_cast<volatile unsigned char*>(d::frame_allocate(200));
        p[100] = 1;
        d::frame_deallocate(const_cast<unsigned char*>(p), 200);
        std::printf("read after free: %d\n", p[100]);
        return 0;
    }
    const bool want_cached = std::strcmp(mode, "cached") == 0;
    if (!want_cached && std::strcmp(mode, "uncached") != 0) {
        std::fprintf(stderr, "usage: frame_pool_probe cached|uncached|freed-read\n");
        return 2;
    }
    uvasync::event_loop loop;
    const long news = news_for_10000_frames(loop);
    std::printf("operator new calls for 10000 task frames: %ld\n", news);
    if (want_cached && news >= 1000) {
        std::fprintf(stderr, "FAIL: frames were not cached\n");
        return 1;
    }
    if (!want_cached && news < 10'000) {
        std::fprintf(stderr, "FAIL: some frames never reached operator new\n");
        return 1;
    }
    return 0;
}
