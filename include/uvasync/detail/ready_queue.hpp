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

    // Takes `n` out of the queue if it is there. Linear: only for a node
    // whose memory goes away while queued (a frame that event_loop::close
    // destroys while its wake-up is pending).
    bool remove(ready_node* n) noexcept {
        for (ready_node** p = &head_; *p; p = &(*p)->next) {
            if (*p == n) {
                *p = n->next;
                if (tail_ == &n->next) tail_ = p;
                n->next = nullptr;
                return true;
            }
        }
        return false;
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
