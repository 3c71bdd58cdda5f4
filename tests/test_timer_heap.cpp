// The loop's timer structure (a FIFO run beside a binary heap) against a
// reference ordering: pushes in and out of deadline order, pops and removals
// from anywhere must always yield the (deadline, sequence) minimum.
#include <gtest/gtest.h>
#include <uvasync/detail/timer_heap.hpp>

#include <random>
#include <set>
#include <utility>
#include <vector>

using uvasync::detail::timer_heap;
using uvasync::detail::timer_node;

TEST(TimerHeap, MatchesReferenceOrderUnderRandomPushPopRemove) {
    std::mt19937 rng(42);
    for (int round = 0; round < 50; ++round) {
        timer_heap heap;
        std::vector<timer_node> nodes(200);
        std::set<std::pair<std::int64_t, std::uint64_t>> reference;
        for (int step = 0; step < 2000; ++step) {
            const unsigned op = rng() % 3;
            if (op == 0) {
                timer_node* n = nullptr;
                for (auto& x : nodes)
                    if (!x.armed()) {
                        n = &x;
                        break;
                    }
                if (!n) continue;
                // Mostly increasing deadlines (the FIFO run), sometimes earlier ones (the heap).
                n->deadline = (rng() % 4 == 0) ? static_cast<std::int64_t>(rng() % 100) : step;
                heap.push(n);
                reference.insert({n->deadline, n->seq});
            } else if (op == 1 && !heap.empty()) {
                timer_node* n = heap.pop();
                ASSERT_EQ(*reference.begin(), std::make_pair(n->deadline, n->seq));
                EXPECT_FALSE(n->armed());
                reference.erase(reference.begin());
            } else if (op == 2) {
                std::vector<timer_node*> armed;
                for (auto& x : nodes)
                    if (x.armed()) armed.push_back(&x);
                if (armed.empty()) continue;
                timer_node* n = armed[rng() % armed.size()];
                reference.erase({n->deadline, n->seq});
                heap.remove(n);
                EXPECT_FALSE(n->armed());
            }
            ASSERT_EQ(heap.size(), reference.size());
            if (!heap.empty()) {
                ASSERT_EQ(*reference.begin(), std::make_pair(heap.top()->deadline, heap.top()->seq));
            }
        }
    }
}

TEST(TimerHeap, EqualDeadlinesPopInPushOrder) {
    timer_heap heap;
    std::vector<timer_node> nodes(10);
    for (auto& n : nodes) {
        n.deadline = 5;
        heap.push(&n);
    }
    for (auto& n : nodes) EXPECT_EQ(heap.pop(), &n);
    EXPECT_TRUE(heap.empty());
}
