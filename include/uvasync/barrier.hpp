// barrier: asyncio.Barrier. `parties` tasks meet: each wait() returns once
// all of them have called it, with a distinct index 0..parties-1. The
// barrier is cyclic (reusable after each round). reset() sends the current
// waiters broken_barrier_error and makes the barrier usable again; abort()
// breaks it for good (every wait, present and future, throws).
#pragma once

#include <cstddef>

#include "condition.hpp"
#include "task.hpp"

namespace uvasync {

class barrier {
public:
    // std::invalid_argument if `parties` is 0.
    explicit barrier(std::size_t parties);
    barrier(const barrier&) = delete;
    barrier& operator=(const barrier&) = delete;

    // Waits for the other parties; returns this task's index.
    task<std::size_t> wait();
    // Returns the barrier to its empty state; current waiters get
    // broken_barrier_error.
    task<> reset();
    // Breaks the barrier: waiters and later wait()s get broken_barrier_error.
    task<> abort();

    std::size_t parties() const noexcept { return parties_; }
    // Tasks waiting in the current round.
    std::size_t n_waiting() const noexcept { return state_ == state::filling ? count_ : 0; }
    bool broken() const noexcept { return state_ == state::broken; }

private:
    enum class state { filling, draining, resetting, broken };
    task<> block();
    task<> wait_round();
    void exit_round();

    condition cond_;
    std::size_t parties_;
    std::size_t count_ = 0;
    state state_ = state::filling;
};

} // namespace uvasync
