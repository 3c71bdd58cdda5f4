// child_watch: a slot per running child, in its waiters.
#include <uvasync/detail/child_watch.hpp>

namespace uvasync::detail {

void child_watch::add(const task_handle<>& child) {
    const std::size_t index = added_++;
    if (child.done()) return;
    auto* s = new slot(this, child, index);
    running_.push_back(s);
    child.state()->add_waiter(*s);
    ++remaining_;
}

bool child_watch::cancel_all(const std::string& message) {
    bool any = false;
    // cancel() never finishes a task synchronously, so the list holds still.
    for (slot* s = running_.front(); s; s = running_.next(s))
        if (s->child.cancel(message)) any = true;
    return any;
}

void child_watch::stop() noexcept {
    while (slot* s = running_.pop_front()) delete s; // its hooks leave the child's waiters and the ready queue
    remaining_ = 0;
}

std::coroutine_handle<> child_watch::slot::task_finished(bool may_transfer) noexcept {
    if (owner->delivery_ == delivery::at_once) return deliver(may_transfer);
    child.state()->loop().schedule(*this);
    return {};
}

void child_watch::slot::run() noexcept { deliver(false); }

std::coroutine_handle<> child_watch::slot::deliver(bool may_transfer) noexcept {
    child_watch* w = owner;
    task_handle<> c = std::move(child);
    const std::size_t i = index;
    --w->remaining_;
    delete this; // the listener may stop the watch
    return w->listener_->child_done(*c.state(), i, may_transfer);
}

} // namespace uvasync::detail
