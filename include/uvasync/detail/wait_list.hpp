// The FIFO of tasks waiting on a synchronisation primitive (a lock, an
// event, a queue...): asyncio's deque of waiter futures.
//
// Intrusive: each node is the awaitable in the waiting coroutine's frame, so
// waiting never allocates, and a node leaves the list in O(1) when its task
// is cancelled or its frame destroyed.
#pragma once

#include "task_state.hpp"

namespace uvasync::detail {

struct wait_node : parked_op {
    wait_node* prev = nullptr;
    wait_node* next = nullptr;
    bool linked = false;
    bool woken = false; // handed its wake-up (and, for some primitives, a unit)
};

class wait_list {
public:
    wait_list() noexcept = default;
    wait_list(const wait_list&) = delete;
    wait_list& operator=(const wait_list&) = delete;

    bool empty() const noexcept { return head_ == nullptr; }
    wait_node* front() const noexcept { return head_; }

    void push_back(wait_node* n) noexcept {
        n->prev = tail_;
        n->next = nullptr;
        if (tail_) tail_->next = n;
        else head_ = n;
        tail_ = n;
        n->linked = true;
    }

    // Unlinks `n` if it is in the list.
    void remove(wait_node* n) noexcept {
        if (!n->linked) return;
        if (n->prev) n->prev->next = n->next;
        else head_ = n->next;
        if (n->next) n->next->prev = n->prev;
        else tail_ = n->prev;
        n->prev = n->next = nullptr;
        n->linked = false;
    }

    wait_node* pop_front() noexcept {
        wait_node* n = head_;
        if (n) remove(n);
        return n;
    }

    template <class F> void for_each(F&& f) const {
        for (wait_node* n = head_; n;) {
            wait_node* next = n->next;
            f(n);
            n = next;
        }
    }

private:
    wait_node* head_ = nullptr;
    wait_node* tail_ = nullptr;
};

} // namespace uvasync::detail
