// task_group: asyncio.TaskGroup's bookkeeping (its _on_task_done, _abort and
// __aexit__), on the task_handle machinery.
#include <uvasync/task_group.hpp>

#include <uvasync/detail/loop_core.hpp>

namespace uvasync {

// The scope, waiting for the last child.
struct task_group::wait_op : detail::parked_op {
    task_group* g;

    explicit wait_op(task_group& group) noexcept : g(&group) {}
    wait_op(const wait_op&) = delete;
    ~wait_op() {
        if (g->waiter_ == this) g->waiter_ = nullptr;
    }

    bool await_ready() const noexcept { return g->tasks_.empty(); }
    template <class P> bool await_suspend(std::coroutine_handle<P> h) noexcept {
        if (!park(h.promise().root, h)) return false;
        abort = &on_abort;
        g->waiter_ = this;
        return true;
    }
    void await_resume() {
        if (g->waiter_ == this) g->waiter_ = nullptr;
        if (task) throw_if_cancelled();
    }
    static bool on_abort(parked_op* op) noexcept {
        auto* self = static_cast<wait_op*>(op);
        if (self->g->waiter_ == self) self->g->waiter_ = nullptr;
        return false;
    }
};

task_group::task_group(detail::task_state_base* parent) : parent_(parent) {
    if (!parent) throw std::runtime_error("task_group::scope: must be awaited inside a task");
}

task_group::~task_group() = default;

void task_group::check_open() const {
    if (exiting_ && tasks_.empty()) throw std::runtime_error("task_group::create_task: the task group is finished");
    if (aborting_) throw std::runtime_error("task_group::create_task: the task group is shutting down");
}

void task_group::adopt(const task_handle<>& child) {
    auto it = tasks_.insert(tasks_.end(), child);
    try {
        detail::add_done_callback(child.state(), [this, it] { on_child_done(it); });
    } catch (...) {
        tasks_.erase(it);
        child.state()->cancel({});
        throw;
    }
}

void task_group::abort_children() {
    aborting_ = true;
    for (auto& t : tasks_)
        if (!t.done()) t.cancel();
}

void task_group::on_child_done(std::list<task_handle<>>::iterator it) {
    task_handle<> child = std::move(*it);
    tasks_.erase(it);
    if (waiter_ && tasks_.empty()) {
        wait_op* w = std::exchange(waiter_, nullptr);
        w->wake_soon();
    }
    detail::task_state_base* s = child.state();
    if (s->status == detail::task_status::cancelled || !s->error()) return;
    s->retrieved = true; // the group reports it, in its exception_group
    detail::loop_core::forget_failed(s);
    errors_.push_back(s->error());
    if (!aborting_ && !parent_cancel_requested_) {
        // Cancel the children and whatever the body awaits now; the request
        // on the parent is withdrawn when the scope ends.
        abort_children();
        parent_cancel_requested_ = true;
        parent_->cancel({});
    }
}

task<> task_group::finish(std::exception_ptr body_error, bool body_cancelled) {
    exiting_ = true;
    std::exception_ptr propagate_cancel = body_cancelled ? body_error : nullptr;
    if (body_error && !aborting_) abort_children(); // the body failed or was cancelled
    while (!tasks_.empty()) {
        wait_op op(*this);
        try {
            co_await op;
        } catch (const cancelled_error&) {
            if (!aborting_) { // the awaiting task is cancelled from outside
                propagate_cancel = std::current_exception();
                abort_children();
            }
        }
    }
    if (parent_cancel_requested_ && parent_->uncancel() == 0) propagate_cancel = nullptr;
    // A cancellation propagates only when nothing really failed.
    if (propagate_cancel && errors_.empty()) std::rethrow_exception(propagate_cancel);
    if (body_error && !body_cancelled) errors_.push_back(body_error);
    if (!errors_.empty()) {
        // Cancelled from outside too: keep that request pending (and its count
        // stable) so that it interrupts the task's next await.
        if (parent_->cancel_requests > 0) {
            parent_->uncancel();
            parent_->cancel({});
        }
        throw exception_group("unhandled errors in a task_group", std::move(errors_));
    }
}

} // namespace uvasync
