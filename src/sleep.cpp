#include <uvasync/sleep.hpp>

namespace uvasync::detail {

task<> sleep_ns(std::int64_t delay_ns) {
    sleep_op op(delay_ns);
    co_await op;
}

} // namespace uvasync::detail
