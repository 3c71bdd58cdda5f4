#include <uvasync/sleep.hpp>

namespace uvasync::detail {

task<> sleep_ns(std::int64_t delay_ns) { co_await sleep_op(delay_ns); }

} // namespace uvasync::detail
