// The loop's queue of work that is ready to run now (asyncio's `_ready`).
//
// Intrusive and FIFO: the nodes live inside what they schedule (a task, a
// call_soon callback), so scheduling never allocates.
#pragma once

#include <cstddef>

namespace uvasync::detail {

struct ready_node {
    ready_node* next = nullptr;
    void (*run)(ready_node*) = nullptr;
};

class ready_queue {
public:
    bool empty() const noexcept { return head_ == nullptr; }

    void push(ready_node* n) noexcept {
        n->next = nullptr;
        *tail_ = n;
        tail_ = &n->next;
    }

    ready_node* pop() noexcept {
        ready_node* n = head_;
        if (n) {
            head_ = n->next;
            if (!head_) tail_ = &head_;
            n->next = nullptr;
        }
        return n;
    }

    // Moves everything queued now into `batch`, leaving this queue empty, so a
    // loop iteration runs exactly what was ready when it began.
    void take_all(ready_queue& batch) noexcept {
        batch.head_ = head_;
        batch.tail_ = head_ ? tail_ : &batch.head_;
        head_ = nullptr;
        tail_ = &head_;
    }

private:
    ready_node* head_ = nullptr;
    ready_node** tail_ = &head_;
};

} // namespace uvasync::detail
