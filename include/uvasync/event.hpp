// event: asyncio.Event. Tasks wait until another sets it.
//
// set() wakes every waiter (in the order they came) and lets later wait()s
// pass at once until clear(). A waiter woken by set() returns even if clear()
// follows before it runs.
#pragma once

#include "detail/intrusive_list.hpp"
#include "detail/operation.hpp"

namespace uvasync {

class event {
public:
    class wait_op;

    event() noexcept = default;
    event(const event&) = delete;
    event& operator=(const event&) = delete;

    void set() noexcept;
    void clear() noexcept { set_ = false; }
    bool is_set() const noexcept { return set_; }

    // co_await: returns once the event is set (at once if it is).
    [[nodiscard]] wait_op wait() noexcept;

private:
    detail::intrusive_list<wait_op> waiters_;
    bool set_ = false;
};

class event::wait_op : public detail::operation<wait_op>, public detail::list_hook<> {
public:
    explicit wait_op(event& e) noexcept : e_(&e) {}
    wait_op(wait_op&& o) noexcept : operation(std::move(o)), e_(o.e_) {}

    bool ready() const noexcept { return e_->set_; }
    bool start() noexcept {
        e_->waiters_.push_back(this);
        return true;
    }
    detail::cancel_outcome cancel() noexcept {
        unlink();
        return detail::cancel_outcome::stopped;
    }
    void result() const noexcept {}
    const char* kind() const noexcept override { return "event.wait"; }

private:
    event* e_;
};

inline void event::set() noexcept {
    if (set_) return;
    set_ = true;
    while (wait_op* w = waiters_.pop_front()) w->wake_soon();
}

inline event::wait_op event::wait() noexcept { return wait_op(*this); }

} // namespace uvasync
