// The GCC 12 trap itself (docs/gcc12.md): a lambda capturing by value
// something with a destructor, written inside a co_await expression. GCC 12
// destroys the capture twice; here the capture only counts, so the program
// reports the count instead of corrupting the heap. tests/CMakeLists.txt
// expects it to fail with GCC < 13 and to pass with any other compiler: the
// day it passes with GCC 12 (or fails elsewhere), docs/gcc12.md is wrong.
#include <uvasync/uvasync.hpp>

#include <cstdio>

namespace ua = uvasync;

namespace {
struct token {
    static inline int live = 0;
    token() { ++live; }
    token(const token&) { ++live; }
    token(token&&) noexcept { ++live; }
    ~token() { --live; }
};

ua::task<> inline_capture(int& ran) {
    token t;
    co_await ua::task_group::scope([&ran, t](ua::task_group&) -> ua::task<> {
        (void)t;
        ++ran;
        co_return;
    });
}
} // namespace

int main() {
    int ran = 0;
    ua::run(inline_capture(ran));
    std::printf("body ran %d time(s); tokens alive after the scope: %d (0 when every copy was destroyed once)\n", ran,
                token::live);
    return ran == 1 && token::live == 0 ? 0 : 1;
}
