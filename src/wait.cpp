// asyncio.wait's wait: until the return_when condition holds or the timeout.
#include <uvasync/wait.hpp>

namespace uvasync::detail {

void wait_any_op::add(const task_handle<>& child) {
    if (child.state()->failed()) failed_ = true;
    children_.add(child);
}

bool wait_any_op::start() noexcept {
    if (until_) {
        deadline = *until_;
        task()->loop().add_timer(*this);
    }
    return true;
}

void wait_any_op::stop() noexcept {
    if (armed()) task()->loop().remove_timer(*this);
    children_.stop();
}

void wait_any_op::fire() noexcept {
    children_.stop();
    wake_now();
}

std::coroutine_handle<> wait_any_op::child_done(task_state_base& child, std::size_t, bool may_transfer) noexcept {
    if (child.failed()) failed_ = true;
    if (!waiting() || !satisfied()) return {};
    stop();
    return wake_transfer(may_transfer);
}

} // namespace uvasync::detail
