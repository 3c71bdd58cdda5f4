// event: asyncio.Event. Tasks wait until another sets it.
//
// set() wakes every waiter (in the order they came) and lets later wait()s
// pass at once until clear(). A waiter woken by set() returns even if clear()
// follows before it runs.
#pragma once

#include <coroutine>

#include "detail/task_state.hpp"
#include "detail/wait_list.hpp"
#include "task.hpp"

namespace uvasync {

class event {
    struct wait_op;

public:
    event() noexcept = default;
    event(const event&) = delete;
    event& operator=(const event&) = delete;

    void set() noexcept {
        if (set_) return;
        set_ = true;
        while (detail::wait_node* w = waiters_.pop_front()) {
            w->woken = true;
            w->wake_soon();
        }
    }
    void clear() noexcept { set_ = false; }
    bool is_set() const noexcept { return set_; }

    // Returns once the event is set (at once if it is). A task<>, so that
    // create_task(e.wait()) works as in asyncio.
    task<> wait();

private:
    struct wait_op : detail::wait_node {
        event* e;

        explicit wait_op(event& owner) noexcept : e(&owner) {}
        wait_op(const wait_op&) = delete;
        ~wait_op() { e->waiters_.remove(this); }

        bool await_ready() const noexcept { return e->set_; }
        template <class P> bool await_suspend(std::coroutine_handle<P> h) noexcept {
            if (!park(h.promise().root, h)) return false;
            abort = &on_abort;
            e->waiters_.push_back(this);
            return true;
        }
        void await_resume() const {
            if (task) throw_if_cancelled();
        }
        static bool on_abort(parked_op* op) noexcept {
            auto* self = static_cast<wait_op*>(op);
            self->e->waiters_.remove(self);
            return false;
        }
    };

    detail::wait_list waiters_;
    bool set_ = false;
};

inline task<> event::wait() {
    wait_op op(*this);
    co_await op;
}

} // namespace uvasync
