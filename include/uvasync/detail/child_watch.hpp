// Hearing a set of tasks finish: the one "wait for N children" under gather,
// wait, as_completed, task_group and the loop's run_until_complete and
// shutdown (asyncio's add_done_callback on every child).
//
// Each child still running has a slot linked into its waiters; when it
// finishes, the slot goes and the listener hears which child it was: at
// once (gather, wait: the awaiter may be transferred to), or from the ready
// queue, as an asyncio done callback runs (task_group, whose bookkeeping
// asyncio does in one). A watch holds no finished child (a task group's
// children come and go), and stop() or the watch's end ends the listening
// at any time.
#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <string>

#include "../task_handle.hpp"
#include "frame_pool.hpp"
#include "intrusive_list.hpp"
#include "task_state.hpp"

namespace uvasync::detail {

class child_watch {
public:
    class listener {
    public:
        // The child added as number `index` finished. May return a
        // coroutine to transfer to, when `may_transfer`.
        virtual std::coroutine_handle<> child_done(task_state_base& child, std::size_t index,
                                                   bool may_transfer) noexcept = 0;
        // The task that waits on the children, for call graphs.
        virtual const task_state_base* waiting_task() const noexcept { return nullptr; }

    protected:
        ~listener() = default;
    };

    enum class delivery : std::uint8_t { at_once, soon };

    explicit child_watch(listener& l, delivery d = delivery::at_once) noexcept : listener_(&l), delivery_(d) {}
    child_watch(const child_watch&) = delete;
    child_watch& operator=(const child_watch&) = delete;
    ~child_watch() { stop(); }

    // Adds child number `added()`: heard when it finishes, unless it is done.
    void add(const task_handle<>& child);
    // Children added so far, and those of them still running.
    std::size_t added() const noexcept { return added_; }
    std::size_t remaining() const noexcept { return remaining_; }
    // Cancels every child still running; true when any cancel() took effect.
    bool cancel_all(const std::string& message);
    // Stops listening: children finishing later are not heard.
    void stop() noexcept;

private:
    struct slot_tag {};
    struct slot final : task_waiter, ready_node, list_hook<slot_tag>, pooled {
        child_watch* owner;
        task_handle<> child;
        std::size_t index;
        slot(child_watch* o, const task_handle<>& c, std::size_t i) noexcept : owner(o), child(c), index(i) {}
        std::coroutine_handle<> task_finished(bool may_transfer) noexcept override;
        void run() noexcept override; // delivery::soon
        const task_state_base* waiting_task() const noexcept override { return owner->listener_->waiting_task(); }
        std::coroutine_handle<> deliver(bool may_transfer) noexcept;
    };

    listener* listener_;
    delivery delivery_;
    intrusive_list<slot, slot_tag> running_;
    std::size_t added_ = 0;
    std::size_t remaining_ = 0;
};

} // namespace uvasync::detail
