// Small coroutines shared by the combinator, lock and queue tests.
#pragma once

#include <uvasync/uvasync.hpp>

#include <chrono>
#include <stdexcept>
#include <string>

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

// Throws std::runtime_error(what) once `go` is set.
inline task<int> fail_after(event& go, std::string what) {
    co_await go.wait();
    throw std::runtime_error(what);
}

} // namespace coro_test_util
