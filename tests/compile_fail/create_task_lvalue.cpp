// create_task of a task variable: a task is moved in, not copied.
// expect: task<T> is move-only and awaited once: std::move\(t\)
#include <uvasync/uvasync.hpp>

namespace ua = uvasync;

ua::task<int> answer() { co_return 42; }

ua::task<> caller() {
    ua::task<int> t = answer();
    ua::task_handle<int> h = ua::create_task(t);
    co_await h;
}
