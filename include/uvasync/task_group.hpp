// task_group: asyncio.TaskGroup, structured concurrency.
//
//     auto body = [&](task_group& tg) -> task<> {
//         tg.create_task(fetch(1));
//         tg.create_task(fetch(2));
//         co_return;
//     };
//     co_await task_group::scope(body);   // returns when every child finished
//
// (Name the lambda, as above: GCC 12 mishandles a lambda with captures
// written inside a co_await expression.)
//
// The body runs inside the awaiting task; children run as tasks of their
// own and may start more children. When a child fails with anything but
// cancelled_error, the group cancels the other children and the body (by
// cancelling the awaiting task once, and withdrawing that request when the
// scope ends), and the scope throws exception_group with the failures;
// cancellations are not included, and an exception from the body is
// collected too. When the awaiting task is cancelled from outside, every
// child is cancelled and the scope throws cancelled_error -- unless a child
// failed with a real error meanwhile, which wins (exception_group). A failed
// group leaves the awaiting task's cancelling() as it found it.
//
// create_task throws std::runtime_error once the group is shutting down (a
// child failed, the body or the scope was cancelled, or cancel() was called)
// and once it finished.
// The task_group object lives exactly as long as its scope.
#pragma once

#include <exception>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "detail/child_watch.hpp"
#include "detail/loop_core.hpp"
#include "errors.hpp"
#include "task.hpp"
#include "task_handle.hpp"

namespace uvasync {

class task_group : detail::child_watch::listener {
public:
    // Runs `body(group)` and waits for every child; see above.
    template <class Body> static task<> scope(Body body) {
        task_group g(detail::running_task());
        std::exception_ptr body_error;
        bool body_cancelled = false;
        try {
            co_await body(g);
        } catch (const cancelled_error&) {
            body_error = std::current_exception();
            body_cancelled = true;
        } catch (...) {
            body_error = std::current_exception();
        }
        co_await g.finish(std::move(body_error), body_cancelled);
    }

    task_group(const task_group&) = delete;
    task_group& operator=(const task_group&) = delete;
    task_group(task_group&&) = delete;
    task_group& operator=(task_group&&) = delete;

    // Schedules `t` as a child of the group.
    template <class T> task_handle<T> create_task(task<T> t, task_options options) {
        check_open();
        return watch(detail::spawn(parent_->loop(), t, options.name, options.eager_start));
    }
    template <class T> task_handle<T> create_task(task<T> t, std::string name = {}) {
        check_open();
        return watch(detail::spawn(parent_->loop(), t, name, std::nullopt));
    }

    // Python 3.15's TaskGroup.cancel(): an early exit that is not an error.
    // Every unfinished child and the body are cancelled, and the scope
    // returns normally once they have finished. Idempotent; create_task
    // afterwards throws std::runtime_error. A cancellation of the awaiting
    // task from outside, or a child's real failure, still propagates.
    void cancel();

private:
    class wait_op;

    explicit task_group(detail::task_state_base* parent);
    ~task_group() = default;

    void check_open() const;
    // A new child: watched until it ends (one that finished eagerly is heard
    // at once, as asyncio).
    template <class T> task_handle<T> watch(task_handle<T> h) {
        if (h.done()) child_done(*h.state(), 0, false);
        else children_.add(h);
        return h;
    }
    std::coroutine_handle<> child_done(detail::task_state_base& child, std::size_t, bool) noexcept override;
    const detail::task_state_base* waiting_task() const noexcept override { return parent_; }
    void abort_children();
    task<> finish(std::exception_ptr body_error, bool body_cancelled);

    detail::task_state_base* parent_;
    detail::child_watch children_{*this, detail::child_watch::delivery::soon}; // the children still running
    std::vector<std::exception_ptr> errors_;
    wait_op* waiter_ = nullptr;           // the scope waiting for the last child
    bool exiting_ = false;
    bool aborting_ = false;
    bool parent_cancel_requested_ = false;
};

} // namespace uvasync
