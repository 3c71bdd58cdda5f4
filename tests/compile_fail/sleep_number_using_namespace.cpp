// sleep(1) with `using namespace uvasync`: POSIX ::sleep must not be picked.
// expect: uvasync::sleep takes a std::chrono duration, not a number
#include <uvasync/uvasync.hpp>

#include <unistd.h>

using namespace uvasync;

task<> caller() { co_await sleep(1); }
