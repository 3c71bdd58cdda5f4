// sleep: asyncio.sleep. sleep(0) yields once to every other ready task.
#pragma once

#include <chrono>
#include <type_traits>

#include "detail/loop_core.hpp"
#include "detail/task_state.hpp"
#include "task.hpp"

namespace uvasync {

namespace detail {

// Parks the task on a timer node of the loop's heap (or, for a delay of
// zero or less, on the ready queue). Used as a named local: its destructor
// takes the timer off the heap if the frame dies while parked.
struct sleep_op : parked_op, timer_node {
    // `deadline` holds the delay until the task parks.
    explicit sleep_op(std::int64_t delay_ns) noexcept { deadline = delay_ns; }
    sleep_op(const sleep_op&) = delete;
    ~sleep_op() {
        if (armed()) task->loop->remove_timer(this);
    }

    bool await_ready() const noexcept { return false; }
    template <class P> bool await_suspend(std::coroutine_handle<P> h) noexcept {
        task_state_base* t = h.promise().root;
        if (!park(t, h)) return false;
        abort = &on_abort;
        if (deadline <= 0) {
            t->schedule_step();
        } else {
            deadline += now_ns();
            fire = &on_fire;
            t->loop->add_timer(this);
        }
        return true;
    }
    void await_resume() const { throw_if_cancelled(); }

    static void on_fire(timer_node* n) noexcept { static_cast<sleep_op*>(n)->wake_now(); }
    static bool on_abort(parked_op* op) noexcept {
        auto* self = static_cast<sleep_op*>(op);
        if (self->armed()) self->task->loop->remove_timer(self);
        return false;
    }
};

task<> sleep_ns(std::int64_t delay_ns);

} // namespace detail

// Suspends the task for `delay`. A NaN delay throws std::invalid_argument.
template <class Rep, class Period> task<> sleep(std::chrono::duration<Rep, Period> delay) {
    return detail::sleep_ns(detail::to_ns(delay));
}

// Readable mistake: sleep(1) with a plain number. With `using namespace
// uvasync`, POSIX ::sleep(unsigned) would be picked and `co_await sleep(1)`
// fail with "awaitable type 'unsigned int' is not a structure"; this
// overload is the better match for a number (all but an unsigned int) and
// says what to write. Prefer `namespace ua = uvasync;` and `ua::sleep`.
template <class N>
    requires std::is_arithmetic_v<N>
task<> sleep(N) {
    static_assert(!std::is_same_v<N, N>,
                  "uvasync::sleep takes a std::chrono duration, not a number: sleep(1s), "
                  "sleep(std::chrono::milliseconds(100))");
    return {};
}

} // namespace uvasync
