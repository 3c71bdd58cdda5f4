// uvasync::sleep with a number of seconds.
// expect: uvasync::sleep takes a std::chrono duration, not a number
#include <uvasync/uvasync.hpp>

namespace ua = uvasync;

ua::task<> caller() { co_await ua::sleep(0.5); }
