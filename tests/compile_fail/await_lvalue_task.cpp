// Awaiting a task variable instead of moving it in.
// expect: task<T> is move-only and awaited once: co_await std::move\(t\)
#include <uvasync/uvasync.hpp>

namespace ua = uvasync;

ua::task<int> answer() { co_return 42; }

ua::task<int> caller() {
    ua::task<int> t = answer();
    co_return co_await t;
}
