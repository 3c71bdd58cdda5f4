// The wait behind gather / gather_settled: until every child finished or,
// unless settling, until the first child fails or is cancelled. Cancelling
// the awaiting task cancels every child still running, and the wait goes on
// until the children say how it ended.
#pragma once

#include <cstddef>
#include <vector>

#include "child_watch.hpp"
#include "operation.hpp"

namespace uvasync::detail {

class gather_op final : public operation<gather_op>, child_watch::listener {
public:
    explicit gather_op(bool settle) noexcept : children_(*this), settle_(settle) {}
    gather_op(const gather_op&) = delete;

    // The gather keeps the handles; the operation hears them finish.
    void add(const task_handle<>& child);

    bool ready() const noexcept { return children_.remaining() == 0 || (!settle_ && first_failure_); }
    bool start() noexcept { return true; }
    cancel_outcome cancel() noexcept;
    // Throws the first failure (the other children's count as retrieved, as
    // asyncio's gather retrieves them), or cancelled_error when the gather
    // itself was cancelled.
    void result();
    // Woken, then cancelled before resuming: every child's failure counts as
    // retrieved all the same, as asyncio's gather retrieves each as it comes.
    void give_back() noexcept;
    const char* kind() const noexcept override { return settle_ ? "gather_settled" : "gather"; }

private:
    std::coroutine_handle<> child_done(task_state_base& child, std::size_t, bool may_transfer) noexcept override;
    const task_state_base* waiting_task() const noexcept override { return task(); }
    void retrieve_others() noexcept; // every child's but the first failure's

    child_watch children_;
    std::vector<task_state_base*> all_;
    task_state_base* first_failure_ = nullptr;
    bool settle_;
    bool cancel_requested_ = false;
};

} // namespace uvasync::detail
