// Microbenchmarks of the core: tasks, the ready queue, timers.
// Targets (issue 2): create_task + await <= 100 ns; co_await of a lazy task
// <= 10 ns; call_soon >= 20 M/s; 1M tasks each sleeping 1 ms <= 1 s and
// <= 256 bytes per task.
#include <benchmark/benchmark.h>
#include <uvasync/uvasync.hpp>

#include <malloc.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

using namespace uvasync;
using namespace std::chrono_literals;

namespace {

task<int> value(int x) { co_return x; }
task<> nothing() { co_return; }

// co_await of a lazy task: runs inline, no trip through the loop.
task<> await_lazy_loop(benchmark::State& state) {
    int sum = 0;
    for (auto _ : state) {
        sum += co_await value(1);
    }
    benchmark::DoNotOptimize(sum);
}

void BM_await_lazy_task(benchmark::State& state) {
    event_loop loop;
    loop.run_until_complete(await_lazy_loop(state));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_await_lazy_task);

// create_task + co_await of the handle: one scheduled task per iteration.
task<> create_and_await_loop(benchmark::State& state) {
    for (auto _ : state) {
        task_handle<> h = create_task(nothing());
        co_await h;
    }
}

void BM_create_task_and_await(benchmark::State& state) {
    event_loop loop;
    loop.run_until_complete(create_and_await_loop(state));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_create_task_and_await);

// The same with eager_start (asyncio's eager_task_factory): a task that never
// suspends runs to its end inside create_task and is never scheduled.
task<> create_eager_and_await_loop(benchmark::State& state) {
    task_options eager;
    eager.eager_start = true;
    for (auto _ : state) {
        task_handle<> h = create_task(nothing(), eager);
        co_await h;
    }
}

void BM_create_eager_task_and_await(benchmark::State& state) {
    event_loop loop;
    loop.run_until_complete(create_eager_and_await_loop(state));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_create_eager_task_and_await);

// call_soon throughput: a batch of callbacks queued, then run by the loop.
void BM_call_soon(benchmark::State& state) {
    event_loop loop;
    const int batch = 100'000;
    std::int64_t ran = 0;
    for (auto _ : state) {
        for (int i = 0; i < batch; ++i) loop.call_soon([&ran] { ++ran; });
        loop.call_soon([&loop] { loop.stop(); });
        loop.run_forever();
    }
    if (ran != state.iterations() * batch) state.SkipWithError("lost callbacks");
    state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_call_soon)->Unit(benchmark::kMillisecond);

// sleep(0) ping-pong: two tasks yielding to each other; one item = one
// round trip of the ready queue per task.
task<> yielder(int n) {
    for (int i = 0; i < n; ++i) co_await sleep(0s);
}

task<> two_yielders(int n) {
    task_handle<> a = create_task(yielder(n));
    task_handle<> b = create_task(yielder(n));
    co_await a;
    co_await b;
}

void BM_sleep0_round_trip(benchmark::State& state) {
    event_loop loop;
    const int n = 100'000;
    for (auto _ : state) loop.run_until_complete(two_yielders(n));
    state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_sleep0_round_trip)->Unit(benchmark::kMillisecond);

// Heap bytes in use (what RSS cannot show once freed memory is reused).
std::size_t heap_in_use() { return mallinfo2().uordblks; }

// N tasks each sleep(1 ms), created with create_task and awaited in turn
// (asyncio's classic benchmark): wall time per run, bytes per task at peak.
task<> many_sleepers(int n, std::size_t* peak) {
    std::vector<task_handle<>> handles;
    handles.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) handles.push_back(create_task(sleep(1ms)));
    co_await sleep(0s); // every task has started and is parked on its timer
    *peak = heap_in_use();
    for (auto& h : handles) co_await h;
}

void BM_tasks_sleeping_1ms(benchmark::State& state) {
    const int n = static_cast<int>(state.range(0));
    double bytes_per_task = 0;
    for (auto _ : state) {
        state.PauseTiming();
        event_loop loop;
        std::vector<task_handle<>> reserve_outside; // keep the measurement to the tasks themselves
        const std::size_t before = heap_in_use();
        std::size_t peak = 0;
        state.ResumeTiming();
        loop.run_until_complete(many_sleepers(n, &peak));
        state.PauseTiming();
        // Less the vector of n handles the benchmark itself keeps.
        bytes_per_task = (static_cast<double>(peak) - static_cast<double>(before)) / n - sizeof(task_handle<>);
        loop.close();
        state.ResumeTiming();
    }
    state.counters["bytes_per_task"] = bytes_per_task;
    state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_tasks_sleeping_1ms)->Arg(10'000)->Arg(1'000'000)->Unit(benchmark::kMillisecond)->UseRealTime();

// Scheduling delay: how late sleep(1 ms) wakes up, on an idle loop and on a
// busy one (100 other tasks spinning on sleep(0)), as bench/py_micro.py
// measures asyncio and uvloop. Reported as p50_us / p99_us counters.
task<> spinner(const bool* stop) {
    while (!*stop) co_await sleep(0s);
}

task<std::vector<double>> sample_lateness(int samples, int busy_tasks) {
    bool stop = false;
    std::vector<task_handle<>> spinners;
    for (int i = 0; i < busy_tasks; ++i) spinners.push_back(create_task(spinner(&stop)));
    co_await sleep(10ms); // let the spinners start
    std::vector<double> late;
    late.reserve(static_cast<std::size_t>(samples));
    for (int i = 0; i < samples; ++i) {
        const auto t0 = clock::now();
        co_await sleep(1ms);
        late.push_back(std::chrono::duration<double, std::micro>(clock::now() - t0 - 1ms).count());
    }
    stop = true;
    for (auto& h : spinners) co_await h;
    std::sort(late.begin(), late.end());
    co_return late;
}

void lateness(benchmark::State& state, int busy_tasks) {
    std::vector<double> late;
    for (auto _ : state) {
        event_loop loop;
        late = loop.run_until_complete(sample_lateness(1000, busy_tasks));
    }
    auto at = [&](double p) { return late[static_cast<std::size_t>(p / 100.0 * (late.size() - 1))]; };
    state.counters["p50_us"] = at(50);
    state.counters["p99_us"] = at(99);
}

void BM_sleep_lateness_idle(benchmark::State& state) { lateness(state, 0); }
void BM_sleep_lateness_busy(benchmark::State& state) { lateness(state, 100); }
BENCHMARK(BM_sleep_lateness_idle)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_sleep_lateness_busy)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

} // namespace

BENCHMARK_MAIN();
