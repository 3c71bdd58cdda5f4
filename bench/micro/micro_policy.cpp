// Microbenchmarks of the policy layer: queues, locks, semaphores, gather.
// Targets (issue 3): queue put+get pair, one producer and one consumer,
// unbounded >= 10 M/s; uncontended lock acquire+release <= 20 ns;
// gather of 10,000 tasks each sleeping 1 ms <= 3 ms wall in total.
#include <benchmark/benchmark.h>
#include <uvasync/uvasync.hpp>

#include <chrono>
#include <vector>

using namespace uvasync;
using namespace std::chrono_literals;

namespace {

constexpr int batch = 100'000;

task<> produce(queue<int>& q, int n) {
    for (int i = 0; i < n; ++i) co_await q.put(i);
}

task<> consume(queue<int>& q, int n, long& sum) {
    for (int i = 0; i < n; ++i) sum += co_await q.get();
}

task<> queue_pairs(queue<int>& q, int n, long& sum) {
    auto c = create_task(consume(q, n, sum));
    auto p = create_task(produce(q, n));
    co_await p;
    co_await c;
}

// put + get pairs through an unbounded queue, a producer and a consumer task.
void BM_queue_put_get_unbounded(benchmark::State& state) {
    event_loop loop;
    queue<int> q;
    long sum = 0;
    for (auto _ : state) loop.run_until_complete(queue_pairs(q, batch, sum));
    benchmark::DoNotOptimize(sum);
    state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_queue_put_get_unbounded)->Unit(benchmark::kMillisecond);

// The same through queue(1): every item is a hand-off between the two tasks
// (each put waits for the get, each get for the put).
void BM_queue_put_get_handoff(benchmark::State& state) {
    event_loop loop;
    queue<int> q(1);
    long sum = 0;
    for (auto _ : state) loop.run_until_complete(queue_pairs(q, batch, sum));
    benchmark::DoNotOptimize(sum);
    state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_queue_put_get_handoff)->Unit(benchmark::kMillisecond);

task<> lock_loop(lock& l, int n) {
    for (int i = 0; i < n; ++i) {
        co_await l.acquire();
        l.release();
    }
}

// Uncontended lock acquire + release.
void BM_lock_uncontended(benchmark::State& state) {
    event_loop loop;
    lock l;
    for (auto _ : state) loop.run_until_complete(lock_loop(l, batch));
    state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_lock_uncontended)->Unit(benchmark::kMicrosecond);

task<> scoped_lock_loop(lock& l, int n) {
    for (int i = 0; i < n; ++i) {
        auto guard = co_await l.scoped();
    }
}

void BM_lock_scoped_uncontended(benchmark::State& state) {
    event_loop loop;
    lock l;
    for (auto _ : state) loop.run_until_complete(scoped_lock_loop(l, batch));
    state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_lock_scoped_uncontended)->Unit(benchmark::kMicrosecond);

task<> sem_pingpong(semaphore& mine, semaphore& theirs, int n) {
    for (int i = 0; i < n; ++i) {
        co_await mine.acquire();
        theirs.release();
    }
}

task<> semaphore_handoffs(int n) {
    semaphore a(1), b(0);
    auto x = create_task(sem_pingpong(a, b, n));
    auto y = create_task(sem_pingpong(b, a, n));
    co_await x;
    co_await y;
}

// A semaphore unit handed back and forth between two tasks (each acquire
// waits for the other task's release): one item = one hand-off.
void BM_semaphore_handoff(benchmark::State& state) {
    event_loop loop;
    for (auto _ : state) loop.run_until_complete(semaphore_handoffs(batch));
    state.SetItemsProcessed(state.iterations() * batch * 2);
}
BENCHMARK(BM_semaphore_handoff)->Unit(benchmark::kMillisecond);

task<> sleeper() { co_await sleep(1ms); }

task<> gather_sleepers(int n) {
    std::vector<task<>> tasks;
    tasks.reserve(n);
    for (int i = 0; i < n; ++i) tasks.push_back(sleeper());
    co_await gather(std::move(tasks));
}

// gather of 10,000 tasks each sleeping 1 ms: wall time of the whole gather
// (the 1 ms sleep included).
void BM_gather_10k_sleep_1ms(benchmark::State& state) {
    event_loop loop;
    for (auto _ : state) loop.run_until_complete(gather_sleepers(10'000));
    state.SetItemsProcessed(state.iterations() * 10'000);
}
BENCHMARK(BM_gather_10k_sleep_1ms)->Unit(benchmark::kMillisecond)->UseRealTime();

} // namespace
