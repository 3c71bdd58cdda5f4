// The loop's timers, ordered by (deadline, sequence) so that equal deadlines
// fire FIFO, and driven by a single kernel timer.
//
// Two structures share the work. Most timers arrive in deadline order (many
// tasks sleeping the same delay, call_later with one timeout), and those go
// to a FIFO run: O(1) in and out. A timer due earlier than the run's last
// goes to a binary min-heap instead. The earliest of the two fronts is next.
// A node lives inside what waits (a sleeping frame, a call_later callback):
// scheduling a timer allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

namespace uvasync::detail {

struct timer_node {
    static constexpr std::size_t unarmed = static_cast<std::size_t>(-1);
    static constexpr std::size_t in_run = std::size_t{1} << (sizeof(std::size_t) * 8 - 2);

    std::int64_t deadline = 0; // steady_clock nanoseconds
    std::uint64_t seq = 0;
    std::size_t index = unarmed; // heap position, or in_run | absolute run position

    virtual ~timer_node() = default;
    // The deadline passed (the node is off the heap already).
    virtual void fire() noexcept {}
    // The loop is closing with the node still armed: it will never fire.
    virtual void discard() noexcept {}
    bool armed() const noexcept { return index != unarmed; }
};

class timer_heap {
public:
    bool empty() const noexcept { return heap_.empty() && run_live_ == 0; }
    std::size_t size() const noexcept { return heap_.size() + run_live_; }

    timer_node* top() const noexcept {
        if (run_live_ == 0) return heap_.front();
        if (heap_.empty()) return run_.front();
        return before(heap_.front(), run_.front()) ? heap_.front() : run_.front();
    }

    void push(timer_node* n) {
        n->seq = next_seq_++;
        if (run_live_ == 0 || n->deadline >= run_last_deadline_) {
            if (run_live_ == 0) { // start a new run
                run_base_ += run_.size();
                run_.clear();
            }
            n->index = timer_node::in_run | (run_base_ + run_.size());
            run_.push_back(n);
            ++run_live_;
            run_last_deadline_ = n->deadline;
            return;
        }
        n->index = heap_.size();
        heap_.push_back(n);
        sift_up(n->index);
    }

    void remove(timer_node* n) noexcept {
        const std::size_t i = n->index;
        if (i == timer_node::unarmed) return;
        n->index = timer_node::unarmed;
        if (i & timer_node::in_run) {
            run_[(i & ~timer_node::in_run) - run_base_] = nullptr;
            --run_live_;
            while (!run_.empty() && !run_.front()) { // keep the front live
                run_.pop_front();
                ++run_base_;
            }
            return;
        }
        timer_node* last = heap_.back();
        heap_.pop_back();
        if (last == n) return;
        heap_[i] = last;
        last->index = i;
        sift_down(i);
        sift_up(last->index);
    }

    timer_node* pop() noexcept {
        timer_node* n = top();
        remove(n);
        return n;
    }

    // Sequence numbers below this were handed out before the call: lets the
    // loop fire only the timers that existed when it began firing.
    std::uint64_t next_seq() const noexcept { return next_seq_; }

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
    std::deque<timer_node*> run_;  // non-decreasing deadlines; null where removed
    std::size_t run_base_ = 0;     // absolute position of run_.front()
    std::size_t run_live_ = 0;
    std::int64_t run_last_deadline_ = 0;
    std::uint64_t next_seq_ = 0;
};

} // namespace uvasync::detail
