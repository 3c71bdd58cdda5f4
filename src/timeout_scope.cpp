// timeout_scope: Python 3.12's asyncio.Timeout on the task's cancel/uncancel
// counting. Entering records the task and its cancelling(); the deadline
// cancels the task once; leaving withdraws that request and decides, from
// what is left, whether the cancellation was the scope's own.
#include <uvasync/timeout_scope.hpp>

#include <stdexcept>

namespace uvasync {

timeout_scope::timeout_scope(std::optional<clock::time_point> when) : task_(detail::running_task()) {
    if (!task_) throw std::runtime_error("timeout: must be used inside a task");
    // Everything already asked of the task (a pending request included) is
    // someone else's (asyncio's Timeout.__aenter__).
    cancelling_on_entry_ = task_->cancelling();
    reschedule(when);
}

void timeout_scope::reschedule(std::optional<clock::time_point> when) {
    switch (state_) {
    case state::active: break;
    case state::expiring: throw std::runtime_error("timeout_scope::reschedule: the timeout is expiring");
    case state::expired: throw std::runtime_error("timeout_scope::reschedule: the timeout has expired");
    case state::finished: throw std::runtime_error("timeout_scope::reschedule: the timeout has finished");
    }
    const std::int64_t deadline_ns = when ? detail::to_ns(when->time_since_epoch()) : 0;
    disarm();
    when_ = when;
    if (!when) return;
    detail::loop_core& loop = task_->loop();
    if (deadline_ns <= detail::now_ns()) {
        loop.schedule(*this); // asyncio: call_soon, so the next suspension sees it
    } else {
        deadline = deadline_ns;
        loop.add_timer(*this);
    }
}

void timeout_scope::disarm() noexcept {
    if (timer_node::armed()) task_->loop().remove_timer(*this);
    ready_node::unlink();
}

void timeout_scope::expire() noexcept {
    // A message-less request, like Timeout._on_timeout's task.cancel().
    task_->cancel({});
    state_ = state::expiring;
}

bool timeout_scope::leave(bool by_cancellation) noexcept {
    if (state_ == state::active) {
        disarm();
        state_ = state::finished;
        return false;
    }
    if (state_ != state::expiring) return false; // left already
    state_ = state::expired;
    // Our own request goes; if nothing is left beyond what was there on
    // entry, the cancellation that ended the body was ours.
    return task_->uncancel() <= cancelling_on_entry_ && by_cancellation;
}

} // namespace uvasync
