// task_group: asyncio.TaskGroup's bookkeeping (its _on_task_done, _abort and
// __aexit__), on the loop's child watch.
#include <uvasync/task_group.hpp>

#include <uvasync/detail/operation.hpp>

namespace uvasync {

// The scope, waiting for the last child.
class task_group::wait_op final : public detail::operation<wait_op> {
public:
    explicit wait_op(task_group& g) noexcept : g_(&g) {}

    bool ready() const noexcept { return g_->children_.remaining() == 0; }
    bool start() noexcept {
        g_->waiter_ = this;
        return true;
    }
    detail::cancel_outcome cancel() noexcept {
        g_->waiter_ = nullptr;
        return detail::cancel_outcome::stopped;
    }
    void result() noexcept {}
    const char* kind() const noexcept override { return "task_group"; }

private:
    task_group* g_;
};

task_group::task_group(detail::task_state_base* parent) : parent_(parent) {
    if (!parent) throw std::runtime_error("task_group::scope: must be awaited inside a task");
}

void task_group::check_open() const {
    if (exiting_ && children_.remaining() == 0)
        throw std::runtime_error("task_group::create_task: the task group is finished");
    if (aborting_) throw std::runtime_error("task_group::create_task: the task group is shutting down");
}

void task_group::cancel() {
    if (exiting_ && children_.remaining() == 0) return; // finished
    if (!aborting_) abort_children();
    if (!parent_cancel_requested_) { // the body too, at its current await
        parent_cancel_requested_ = true;
        parent_->cancel({});
    }
}

void task_group::abort_children() {
    aborting_ = true;
    children_.cancel_all({});
}

std::coroutine_handle<> task_group::child_done(detail::task_state_base& child, std::size_t, bool) noexcept {
    if (waiter_ && children_.remaining() == 0) std::exchange(waiter_, nullptr)->wake_soon();
    if (!child.failed()) return {};
    errors_.push_back(child.take_error()); // the group reports it, in its exception_group
    if (!aborting_ && !parent_cancel_requested_) {
        // Cancel the children and whatever the body awaits now; the request
        // on the parent is withdrawn when the scope ends.
        abort_children();
        parent_cancel_requested_ = true;
        parent_->cancel({});
    }
    return {};
}

task<> task_group::finish(std::exception_ptr body_error, bool body_cancelled) {
    exiting_ = true;
    std::exception_ptr propagate_cancel = body_cancelled ? body_error : nullptr;
    if (body_error && !aborting_) abort_children(); // the body failed or was cancelled
    while (children_.remaining() > 0) {
        try {
            co_await wait_op(*this);
        } catch (const cancelled_error&) {
            if (!aborting_) { // the awaiting task is cancelled from outside
                propagate_cancel = std::current_exception();
                abort_children();
            }
        }
    }
    if (parent_cancel_requested_) {
        // The group's own request is withdrawn. None left: whatever
        // cancellation the body or the wait saw was the group's, and ends
        // here. Some left: the task was also cancelled from outside (maybe
        // while the group was shutting down and not looking: the trap of
        // CPython issue 155433), and that must propagate.
        if (parent_->uncancel() == 0) propagate_cancel = nullptr;
        else if (!propagate_cancel) propagate_cancel = std::make_exception_ptr(cancelled_error(parent_->cancel_message()));
    }
    // A cancellation propagates only when nothing really failed.
    if (propagate_cancel && errors_.empty()) std::rethrow_exception(propagate_cancel);
    if (body_error && !body_cancelled) errors_.push_back(body_error);
    if (!errors_.empty()) {
        // Cancelled from outside too: keep that request pending (and its count
        // stable) so that it interrupts the task's next await.
        if (parent_->cancelling() > 0) {
            parent_->uncancel();
            parent_->cancel({});
        }
        throw exception_group("unhandled errors in a task_group", std::move(errors_));
    }
}

} // namespace uvasync
