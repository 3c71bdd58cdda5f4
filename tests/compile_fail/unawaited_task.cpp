// A task called for its effect and dropped: it never runs. A warning, made
// an error here (// flags:) to be tested.
// flags: -Werror=unused-result
// expect: a task runs nothing until it is awaited \(co_await\) or scheduled \(create_task\)
#include <uvasync/uvasync.hpp>

#include <chrono>

namespace ua = uvasync;

ua::task<> caller() {
    ua::sleep(std::chrono::seconds(1));
    co_return;
}
