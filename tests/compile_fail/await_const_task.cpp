// Awaiting a task through a const reference.
// expect: task<T> is move-only and awaited once: co_await std::move\(t\)
#include <uvasync/uvasync.hpp>

namespace ua = uvasync;

ua::task<> caller(const ua::task<>& t) { co_await t; }
