// The loop's queue of work that is ready to run now (asyncio's `_ready`).
//
// FIFO and intrusive: the node lives inside what it schedules (a task, a
// call_soon callback), so scheduling never allocates, and a node whose
// memory goes away while queued takes itself off the queue.
#pragma once

#include "intrusive_list.hpp"

namespace uvasync::detail {

struct ready_tag {};

class ready_node : public list_hook<ready_tag> {
public:
    // Runs once per time it was queued.
    virtual void run() noexcept = 0;
    // The loop is closing with the node still queued: it will never run.
    virtual void discard() noexcept {}
    bool queued() const noexcept { return linked(); }

protected:
    ready_node() noexcept = default;
    ready_node(const ready_node&) noexcept = default;
    ~ready_node() = default;
};

using ready_queue = intrusive_list<ready_node, ready_tag>;

} // namespace uvasync::detail
