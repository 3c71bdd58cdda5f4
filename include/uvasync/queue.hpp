// queue<T>, priority_queue<T, Compare>, lifo_queue<T>: asyncio.Queue,
// PriorityQueue and LifoQueue, for tasks of one loop.
//
//     queue<job> q(100);                 // maxsize 100; 0 means unbounded
//     co_await q.put(std::move(j));      // waits while the queue is full
//     job j = co_await q.get();          // waits while it is empty
//     q.task_done();  co_await q.join(); // join waits for a task_done per item
//
// As in asyncio, a put() wakes the first waiting getter, which takes an item
// when it runs; if another task took the item meanwhile, the getter waits
// again (at the back). A cancelled get() never consumes an item and a
// cancelled put() never inserts one; a getter (putter) cancelled after it was
// woken passes the wake-up on to the next one.
//
// shutdown() (asyncio 3.13): put() then throws queue_shut_down; get() throws
// it once the queue is empty; shutdown(true) also drops the queued items
// (counting them as done for join()). Blocked putters and getters wake.
#pragma once

#include <cstddef>
#include <functional>
#include <stdexcept>
#include <utility>

#include "detail/intrusive_list.hpp"
#include "detail/operation.hpp"
#include "detail/queue_store.hpp"
#include "errors.hpp"
#include "event.hpp"

namespace uvasync {

namespace detail {

// A blocked put() or get(). Woken, it re-checks its condition when it runs
// (through a ready node of its own, where the task would have run) and
// either resumes its task or waits again at the back, as asyncio's getter
// loop does when another task took the item first.
template <class Derived> class queue_waiter : public operation<Derived>, public list_hook<>, public ready_node {
public:
    using list = intrusive_list<Derived>;

    explicit queue_waiter(list& l) noexcept : list_(&l) {}
    queue_waiter(queue_waiter&& o) noexcept : operation<Derived>(std::move(o)), ready_node(), list_(o.list_) {}

    bool start() noexcept {
        list_->push_back(self());
        return true;
    }
    cancel_outcome cancel() noexcept {
        list_hook<>::unlink();
        return cancel_outcome::stopped;
    }
    // Called by the queue after taking this waiter off its list.
    void wake() noexcept { this->wake_soon(this); }

private:
    Derived* self() noexcept { return static_cast<Derived*>(this); }
    void run() noexcept override {
        if (!this->cancel_pending() && self()->blocked()) { // someone else got there first
            this->wait_again();
            list_->push_back(self());
            return;
        }
        this->resume_woken();
    }
    list* list_;
};

template <class T, class Store> class basic_queue {
public:
    class get_op;
    class put_op;

    using value_type = T;

    template <class... StoreArgs>
    explicit basic_queue(std::size_t maxsize, StoreArgs&&... args)
        : store_(std::forward<StoreArgs>(args)...), maxsize_(maxsize) {
        finished_.set();
    }
    basic_queue(const basic_queue&) = delete;
    basic_queue& operator=(const basic_queue&) = delete;

    // co_await: puts `item`, waiting while the queue is full.
    [[nodiscard]] put_op put(T item) { return put_op(*this, std::move(item)); }
    // co_await: takes an item, waiting while the queue is empty.
    [[nodiscard]] get_op get() noexcept { return get_op(*this); }

    // queue_full when full; queue_shut_down after shutdown().
    void put_nowait(T item) {
        if (shutdown_) throw queue_shut_down();
        if (full()) throw queue_full();
        store_.push(std::move(item));
        ++unfinished_;
        finished_.clear();
        wake_next(getters_);
    }
    // queue_empty when empty (queue_shut_down when also shut down).
    T get_nowait() {
        if (store_.empty()) {
            if (shutdown_) throw queue_shut_down();
            throw queue_empty();
        }
        T item = store_.pop();
        wake_next(putters_);
        return item;
    }

    std::size_t qsize() const noexcept { return store_.size(); }
    bool empty() const noexcept { return store_.empty(); }
    bool full() const noexcept { return maxsize_ > 0 && store_.size() >= maxsize_; }
    std::size_t maxsize() const noexcept { return maxsize_; }

    // Marks one item taken by get() as processed; std::logic_error when
    // called more times than items were put.
    void task_done() {
        if (unfinished_ == 0) throw std::logic_error("queue::task_done: called too many times");
        if (--unfinished_ == 0) finished_.set();
    }
    // co_await: returns once every item put has been marked task_done().
    [[nodiscard]] event::wait_op join() noexcept { return finished_.wait(); }

    // See the header comment.
    void shutdown(bool immediate = false) {
        shutdown_ = true;
        if (immediate) {
            while (!store_.empty()) {
                store_.pop();
                if (unfinished_ > 0) --unfinished_;
            }
            if (unfinished_ == 0) finished_.set();
        }
        while (get_op* g = getters_.pop_front()) g->wake();
        while (put_op* p = putters_.pop_front()) p->wake();
    }

private:
    template <class W> static void wake_next(intrusive_list<W>& waiters) noexcept {
        if (W* w = waiters.pop_front()) w->wake();
    }

    Store store_;
    std::size_t maxsize_;
    std::size_t unfinished_ = 0;
    bool shutdown_ = false;
    intrusive_list<get_op> getters_;
    intrusive_list<put_op> putters_;
    event finished_;
};

template <class T, class Store> class basic_queue<T, Store>::get_op final : public queue_waiter<get_op> {
public:
    explicit get_op(basic_queue& q) noexcept : queue_waiter<get_op>(q.getters_), q_(&q) {}

    bool blocked() const noexcept { return q_->store_.empty() && !q_->shutdown_; }
    bool ready() const noexcept { return !blocked(); }
    // Woken for an item it will not take: the next getter gets the turn.
    void give_back() noexcept {
        if (!q_->store_.empty()) wake_next(q_->getters_);
    }
    T result() { return q_->get_nowait(); }
    const char* kind() const noexcept override { return "queue.get"; }

private:
    basic_queue* q_;
};

template <class T, class Store> class basic_queue<T, Store>::put_op final : public queue_waiter<put_op> {
public:
    put_op(basic_queue& q, T&& item) : queue_waiter<put_op>(q.putters_), q_(&q), item_(std::move(item)) {}
    put_op(put_op&& o) noexcept(std::is_nothrow_move_constructible_v<T>)
        : queue_waiter<put_op>(std::move(o)), q_(o.q_), item_(std::move(o.item_)) {}

    bool blocked() const noexcept { return q_->full() && !q_->shutdown_; }
    bool ready() const noexcept { return !blocked(); }
    void give_back() noexcept {
        if (!q_->full()) wake_next(q_->putters_);
    }
    void result() { q_->put_nowait(std::move(item_)); }
    const char* kind() const noexcept override { return "queue.put"; }

private:
    basic_queue* q_;
    T item_;
};

} // namespace detail

// asyncio.Queue: first in, first out.
template <class T> class queue : public detail::basic_queue<T, detail::fifo_store<T>> {
public:
    explicit queue(std::size_t maxsize = 0) : detail::basic_queue<T, detail::fifo_store<T>>(maxsize) {}
};

// asyncio.LifoQueue: last in, first out.
template <class T> class lifo_queue : public detail::basic_queue<T, detail::lifo_store<T>> {
public:
    explicit lifo_queue(std::size_t maxsize = 0) : detail::basic_queue<T, detail::lifo_store<T>>(maxsize) {}
};

// asyncio.PriorityQueue: smallest first (by Compare, std::less by default).
template <class T, class Compare = std::less<T>>
class priority_queue : public detail::basic_queue<T, detail::heap_store<T, Compare>> {
public:
    explicit priority_queue(std::size_t maxsize = 0, Compare compare = Compare())
        : detail::basic_queue<T, detail::heap_store<T, Compare>>(maxsize, std::move(compare)) {}
};

} // namespace uvasync
