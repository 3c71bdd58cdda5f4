// gather's wait: first failure or all done, cancellation fanned out to the
// children, every child's failure retrieved.
#include <uvasync/detail/gather_op.hpp>
#include <uvasync/detail/loop_core.hpp>

namespace uvasync::detail {

namespace {
// True for a child that ended with an exception or was cancelled.
bool ended_badly(const task_state_base& s) noexcept { return s.cancelled() || s.failed(); }
} // namespace

void gather_op::add(const task_handle<>& child) {
    task_state_base* s = child.state();
    all_.push_back(s);
    children_.add(child);
    if (!first_failure_ && s->done() && ended_badly(*s)) first_failure_ = s;
}

cancel_outcome gather_op::cancel() noexcept {
    cancel_requested_ = true;
    if (children_.cancel_all(cancel_message())) return cancel_outcome::handed_on; // we wake when they end
    children_.stop();
    return cancel_outcome::stopped;
}

std::coroutine_handle<> gather_op::child_done(task_state_base& c, std::size_t, bool may_transfer) noexcept {
    if (!first_failure_ && ended_badly(c)) first_failure_ = &c;
    if (!waiting() || !ready()) return {};
    children_.stop();
    return wake_transfer(may_transfer);
}

void gather_op::retrieve_others() noexcept {
    // asyncio marks the other children's exceptions retrieved, also those
    // that come after the gather returned.
    for (task_state_base* c : all_) {
        if (c == first_failure_) continue;
        if (c->done()) {
            c->mark_retrieved();
        } else {
            try {
                task_handle<> keep = task_handle<>::share(c);
                add_done_callback(*c, [keep] { keep.state()->mark_retrieved(); });
            } catch (...) { // out of memory: that failure may be reported as never retrieved
            }
        }
    }
}

void gather_op::result() {
    children_.stop();
    if (settle_) {
        for (task_state_base* c : all_) c->mark_retrieved();
    } else if (first_failure_) {
        retrieve_others();
        first_failure_->rethrow_if_failed();
    }
    if (cancel_requested_) task()->throw_cancellation();
}

void gather_op::give_back() noexcept {
    children_.stop();
    if (first_failure_) first_failure_->mark_retrieved();
    retrieve_others();
}

} // namespace uvasync::detail
