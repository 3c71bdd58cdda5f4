// asyncio.wait's park: until the return_when condition holds or the timeout.
#include <uvasync/wait.hpp>

namespace uvasync::detail {

wait_any_op::wait_any_op(wait_child* c, std::size_t n, return_when w, std::optional<std::int64_t> deadline_ns) noexcept
    : children(c), count(n), when(w), until(deadline_ns) {
    for (std::size_t i = 0; i < n; ++i) {
        children[i].op = this;
        children[i].notify = &on_notify;
        task_state_base* s = children[i].state;
        if (!s->done()) ++remaining;
        else if (s->status == task_status::finished && s->error()) failed = true;
    }
}

void wait_any_op::stop() noexcept {
    if (armed()) task->loop->remove_timer(this);
    for (std::size_t i = 0; i < count; ++i) {
        if (children[i].registered) {
            children[i].registered = false;
            children[i].state->remove_waiter(&children[i]);
        }
    }
}

bool wait_any_op::on_abort(parked_op* op) noexcept {
    static_cast<wait_any_op*>(op)->stop(); // waiting is cancelled, the tasks are not
    return false;
}

void wait_any_op::on_fire(timer_node* n) noexcept {
    auto* self = static_cast<wait_any_op*>(n);
    self->woken = true;
    self->stop();
    self->wake_now();
}

std::coroutine_handle<> wait_any_op::on_notify(task_waiter* w, bool may_transfer) noexcept {
    auto* c = static_cast<wait_child*>(w);
    wait_any_op* self = c->op;
    c->registered = false;
    --self->remaining;
    if (c->state->status == task_status::finished && c->state->error()) self->failed = true;
    task_state_base* t = self->task;
    if (self->woken || !self->satisfied() || t->parked != self) return {};
    self->woken = true;
    self->stop();
    return self->wake_from_task(may_transfer);
}

task<> wait_ns(std::vector<task_state_base*> states, return_when when, std::optional<std::int64_t> timeout_ns) {
    std::vector<wait_child> children(states.size());
    for (std::size_t i = 0; i < states.size(); ++i) children[i].state = states[i];
    std::optional<std::int64_t> deadline;
    if (timeout_ns) deadline = now_ns() + *timeout_ns;
    wait_any_op op(children.data(), children.size(), when, deadline);
    co_await op;
}

} // namespace uvasync::detail
