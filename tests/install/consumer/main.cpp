// Uses an installed uvasync: exits 0 when the task's value comes back.
#include <uvasync/uvasync.hpp>

#include <chrono>
#include <cstdio>

namespace {

uvasync::task<int> main_task() {
    co_await uvasync::sleep(std::chrono::milliseconds(1));
    co_return 42;
}

}  // namespace

int main() {
    const int value = uvasync::run(main_task());
    if (value != 42) {
        std::fprintf(stderr, "uvasync consumer: expected 42, got %d\n", value);
        return 1;
    }
    std::puts("uvasync consumer: ok");
    return 0;
}
