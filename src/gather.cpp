// gather's wait: first failure or all done, cancellation fanned out to the
// children, later failures marked retrieved.
#include <uvasync/detail/gather_op.hpp>
#include <uvasync/detail/loop_core.hpp>
#include <uvasync/errors.hpp>
#include <uvasync/task_handle.hpp>

namespace uvasync::detail {

gather_op::gather_op(gather_child* c, std::size_t n, bool settle_all) noexcept
    : children(c), count(n), settle(settle_all) {
    for (std::size_t i = 0; i < n; ++i) {
        children[i].op = this;
        children[i].notify = &on_notify;
        task_state_base* s = children[i].state;
        if (!s->done()) ++remaining;
        else if (!first_failure && ended_badly(s)) first_failure = s;
    }
}

void gather_op::unregister() noexcept {
    for (std::size_t i = 0; i < count; ++i) {
        gather_child& c = children[i];
        if (c.registered) {
            c.registered = false;
            c.state->remove_waiter(&c);
        }
    }
}

bool gather_op::on_abort(parked_op* op) {
    auto* self = static_cast<gather_op*>(op);
    self->cancel_requested = true;
    const std::string message = self->task->extra ? self->task->extra->cancel_message : std::string();
    bool handed_on = false;
    for (std::size_t i = 0; i < self->count; ++i) {
        task_state_base* s = self->children[i].state;
        if (!s->done() && s->cancel(message)) handed_on = true;
    }
    if (!handed_on) self->unregister(); // the core wakes us, the children must not
    return handed_on;
}

std::coroutine_handle<> gather_op::on_notify(task_waiter* w, bool may_transfer) noexcept {
    auto* c = static_cast<gather_child*>(w);
    gather_op* self = c->op;
    c->registered = false;
    --self->remaining;
    if (!self->first_failure && ended_badly(c->state)) self->first_failure = c->state;
    task_state_base* t = self->task;
    if (self->woken || !self->ready() || t->parked != self) return {};
    self->woken = true;
    self->unregister();
    return self->wake_from_task(may_transfer);
}

namespace {
void mark_retrieved(task_state_base* s) noexcept {
    s->retrieved = true;
    loop_core::forget_failed(s);
}
} // namespace

void gather_op::rethrow_outcome() {
    if (!settle && first_failure) {
        // asyncio marks the other children's exceptions retrieved, also those
        // that come after the gather returned.
        for (std::size_t i = 0; i < count; ++i) {
            task_state_base* s = children[i].state;
            if (s == first_failure) continue;
            if (s->done()) {
                mark_retrieved(s);
            } else {
                task_handle<> keep = task_handle<>::adopt(s);
                s->add_ref();
                add_done_callback(s, [keep] { mark_retrieved(keep.state()); });
            }
        }
        first_failure->rethrow_if_failed();
    }
    if (cancel_requested) throw cancelled_error(task->extra ? task->extra->cancel_message : std::string());
}

std::exception_ptr take_error(task_state_base* s) {
    if (s->status == task_status::finished && !s->error()) return {};
    try {
        s->rethrow_if_failed();
    } catch (...) {
        return std::current_exception();
    }
    return {};
}

} // namespace uvasync::detail
