// Small coroutines shared by the combinator, lock, queue, timeout and TLS
// tests.
#pragma once

#include <uvasync/uvasync.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <utility>

namespace coro_test_util {

using namespace uvasync;

// Yields to the loop n times: n of asyncio's ticks.
inline task<> ticks(int n) {
    for (int i = 0; i < n; ++i) co_await sleep(std::chrono::milliseconds(0));
}

// Returns v once `go` is set.
inline task<int> value_after(event& go, int v) {
    co_await go.wait();
    co_return v;
}

// `t` as a task already inside its body (eager: run up to its first
// suspension now), for a test that needs it there before the loop turns.
template <class T> task_handle<T> started(task<T> t) {
    task_options o;
    o.eager_start = true;
    return create_task(std::move(t), std::move(o));
}

// Throws std::runtime_error(what) once `go` is set.
inline task<int> fail_after(event& go, std::string what) {
    co_await go.wait();
    throw std::runtime_error(what);
}

} // namespace coro_test_util
