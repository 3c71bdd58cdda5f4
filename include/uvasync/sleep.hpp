// sleep: asyncio.sleep. sleep(0) yields once to every other ready task.
#pragma once

#include <chrono>
#include <type_traits>

#include "detail/loop_core.hpp"
#include "detail/operation.hpp"
#include "task.hpp"

namespace uvasync {

namespace detail {

// Waits on a timer node of the loop (or, for a delay of zero or less, one
// turn of the ready queue).
class sleep_op final : public operation<sleep_op>, public timer_node {
public:
    explicit sleep_op(std::int64_t delay_ns) noexcept : delay_(delay_ns) {}

    bool start() noexcept {
        loop_core& loop = task()->loop();
        if (delay_ <= 0) {
            wake_soon(); // behind everything ready now: asyncio's tick
        } else {
            deadline = now_ns() + delay_;
            loop.add_timer(*this);
        }
        return true;
    }
    cancel_outcome cancel() noexcept {
        if (armed()) task()->loop().remove_timer(*this);
        return cancel_outcome::stopped;
    }
    void result() const noexcept {}
    const char* kind() const noexcept override { return "sleep"; }

private:
    void fire() noexcept override { wake_now(); }
    std::int64_t delay_;
};

task<> sleep_ns(std::int64_t delay_ns);

} // namespace detail

// Suspends the task for `delay`. A NaN delay throws std::invalid_argument.
template <class Rep, class Period> task<> sleep(std::chrono::duration<Rep, Period> delay) {
    return detail::sleep_ns(detail::to_ns(delay));
}

// Readable mistake: sleep(1) with a plain number. With `using namespace
// uvasync`, POSIX ::sleep(unsigned) would be picked and `co_await sleep(1)`
// fail with "awaitable type 'unsigned int' is not a structure"; this
// overload is the better match for a number (all but an unsigned int) and
// says what to write. Prefer `namespace ua = uvasync;` and `ua::sleep`.
template <class N>
    requires std::is_arithmetic_v<N>
task<> sleep(N) {
    static_assert(!std::is_same_v<N, N>,
                  "uvasync::sleep takes a std::chrono duration, not a number: sleep(1s), "
                  "sleep(std::chrono::milliseconds(100))");
    return {};
}

} // namespace uvasync
