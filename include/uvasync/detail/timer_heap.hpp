// The loop's timers: one binary min-heap ordered by (deadline, sequence),
// driven by a single uv_timer_t.
//
// A libuv timer per sleep would cost ~150 bytes and a syscall-free but
// pointer-heavy insertion each; a node embedded in the sleeping coroutine's
// frame costs 40 bytes and nothing else. Equal deadlines fire in FIFO order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace uvasync::detail {

struct timer_node {
    static constexpr std::size_t unarmed = static_cast<std::size_t>(-1);

    std::int64_t deadline = 0; // steady_clock nanoseconds
    std::uint64_t seq = 0;
    std::size_t index = unarmed; // position in the heap
    void (*fire)(timer_node*) = nullptr;

    bool armed() const noexcept { return index != unarmed; }
};

class timer_heap {
public:
    bool empty() const noexcept { return heap_.empty(); }
    std::size_t size() const noexcept { return heap_.size(); }
    timer_node* top() const noexcept { return heap_.front(); }

    void push(timer_node* n) {
        n->seq = next_seq_++;
        n->index = heap_.size();
        heap_.push_back(n);
        sift_up(n->index);
    }

    void remove(timer_node* n) noexcept {
        std::size_t i = n->index;
        if (i == timer_node::unarmed) return;
        n->index = timer_node::unarmed;
        timer_node* last = heap_.back();
        heap_.pop_back();
        if (last == n) return;
        heap_[i] = last;
        last->index = i;
        sift_down(i);
        sift_up(last->index);
    }

    timer_node* pop() noexcept {
        timer_node* n = heap_.front();
        remove(n);
        return n;
    }

    // Sequence numbers below this were handed out before the call: lets the
    // loop fire only the timers that existed when it began firing.
    std::uint64_t next_seq() const noexcept { return next_seq_; }

    template <class F> void for_each(F&& f) const {
        for (timer_node* n : heap_) f(n);
    }

private:
    static bool before(const timer_node* a, const timer_node* b) noexcept {
        return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
    }

    void sift_up(std::size_t i) noexcept {
        timer_node* n = heap_[i];
        while (i > 0) {
            std::size_t parent = (i - 1) / 2;
            if (!before(n, heap_[parent])) break;
            heap_[i] = heap_[parent];
            heap_[i]->index = i;
            i = parent;
        }
        heap_[i] = n;
        n->index = i;
    }

    void sift_down(std::size_t i) noexcept {
        timer_node* n = heap_[i];
        const std::size_t count = heap_.size();
        for (;;) {
            std::size_t child = 2 * i + 1;
            if (child >= count) break;
            if (child + 1 < count && before(heap_[child + 1], heap_[child])) ++child;
            if (!before(heap_[child], n)) break;
            heap_[i] = heap_[child];
            heap_[i]->index = i;
            i = child;
        }
        heap_[i] = n;
        n->index = i;
    }

    std::vector<timer_node*> heap_;
    std::uint64_t next_seq_ = 0;
};

} // namespace uvasync::detail
