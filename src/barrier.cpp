// barrier: asyncio.Barrier's state machine (filling, draining, resetting,
// broken) on a condition.
#include <uvasync/barrier.hpp>
#include <uvasync/errors.hpp>

#include <stdexcept>

namespace uvasync {

barrier::barrier(std::size_t parties) : parties_(parties) {
    if (parties == 0) throw std::invalid_argument("barrier: parties must be at least 1");
}

// Waits while the previous round drains or a reset completes.
task<> barrier::block() {
    auto open = [this] { return state_ != state::draining && state_ != state::resetting; };
    co_await cond_.wait_for(open);
    if (state_ == state::broken) throw broken_barrier_error();
}

// Waits for the round to fill up.
task<> barrier::wait_round() {
    auto filled = [this] { return state_ != state::filling; };
    co_await cond_.wait_for(filled);
    if (state_ == state::broken || state_ == state::resetting) throw broken_barrier_error();
}

void barrier::exit_round() {
    if (count_ == 0) {
        if (state_ == state::resetting || state_ == state::draining) state_ = state::filling;
        cond_.notify_all();
    }
}

task<std::size_t> barrier::wait() {
    auto guard = co_await cond_.scoped();
    co_await block();
    const std::size_t index = count_++;
    try {
        if (index + 1 == parties_) {
            state_ = state::draining; // the last one in lets everyone go
            cond_.notify_all();
        } else {
            co_await wait_round();
        }
    } catch (...) {
        --count_;
        exit_round();
        throw;
    }
    --count_;
    exit_round();
    co_return index;
}

task<> barrier::reset() {
    auto guard = co_await cond_.scoped();
    if (count_ > 0) {
        state_ = state::resetting;
    } else {
        state_ = state::filling;
    }
    cond_.notify_all();
}

task<> barrier::abort() {
    auto guard = co_await cond_.scoped();
    state_ = state::broken;
    cond_.notify_all();
}

} // namespace uvasync
