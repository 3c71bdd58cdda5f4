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

#include <coroutine>
#include <cstddef>
#include <functional>
#include <stdexcept>
#include <utility>

#include "detail/loop_core.hpp"
#include "detail/queue_store.hpp"
#include "detail/task_state.hpp"
#include "detail/wait_list.hpp"
#include "errors.hpp"
#include "event.hpp"
#include "task.hpp"

namespace uvasync {

namespace detail {

// A blocked put() or get(). Woken, it re-checks its condition when it runs
// (through a ready node of its own, in the order the task would have run)
// and either resumes its task or queues again.
struct queue_waiter : wait_node, ready_node {
    wait_list* list;
    bool (*blocked)(queue_waiter*) noexcept;
    bool scheduled = false;

    queue_waiter(wait_list& l, bool (*still_blocked)(queue_waiter*) noexcept) noexcept
        : list(&l), blocked(still_blocked) {
        ready_node::run = &on_run;
    }
    queue_waiter(const queue_waiter&) = delete;
    ~queue_waiter() { // frame destroyed while waiting (event_loop::close)
        list->remove(this);
        if (scheduled) task->loop->unschedule(this);
    }

    template <class P> bool suspend(std::coroutine_handle<P> h) noexcept {
        if (!park(h.promise().root, h)) return false;
        abort = &on_abort;
        list->push_back(this);
        return true;
    }
    // Called by the queue after taking this waiter off its list.
    void wake() noexcept {
        woken = true;
        task->parked = nullptr;
        scheduled = true;
        task->loop->schedule(this);
    }
    static void on_run(ready_node* n) noexcept {
        auto* self = static_cast<queue_waiter*>(n);
        self->scheduled = false;
        task_state_base* t = self->task;
        if (!t->must_cancel && self->blocked(self)) { // someone else got there first
            self->woken = false;
            t->parked = self;
            self->list->push_back(self);
            return;
        }
        t->loop->resume(t, t->resume_point);
    }
    static bool on_abort(parked_op* op) noexcept {
        auto* self = static_cast<queue_waiter*>(op);
        self->list->remove(self);
        return false;
    }
};

template <class T, class Store> class basic_queue {
    struct get_op;
    struct put_op;

public:
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
    // Returns once every item put has been marked task_done().
    task<> join() { return finished_.wait(); }

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
        while (wait_node* g = getters_.pop_front()) static_cast<queue_waiter*>(g)->wake();
        while (wait_node* p = putters_.pop_front()) static_cast<queue_waiter*>(p)->wake();
    }

private:
    static void wake_next(wait_list& waiters) noexcept {
        if (wait_node* w = waiters.pop_front()) static_cast<queue_waiter*>(w)->wake();
    }

    struct get_op : queue_waiter {
        basic_queue* q;

        explicit get_op(basic_queue& owner) noexcept : queue_waiter(owner.getters_, &still_blocked), q(&owner) {}

        static bool still_blocked(queue_waiter* w) noexcept {
            basic_queue* q = static_cast<get_op*>(w)->q;
            return q->store_.empty() && !q->shutdown_;
        }
        bool await_ready() const noexcept { return !q->store_.empty() || q->shutdown_; }
        template <class P> bool await_suspend(std::coroutine_handle<P> h) noexcept { return suspend(h); }
        T await_resume() {
            if (task && task->must_cancel) {
                q->getters_.remove(this);
                // Woken for an item we will not take: wake the next getter.
                if (woken && !q->store_.empty()) wake_next(q->getters_);
                throw_if_cancelled();
            }
            return q->get_nowait();
        }
    };

    struct put_op : queue_waiter {
        basic_queue* q;
        T item;

        put_op(basic_queue& owner, T&& v) : queue_waiter(owner.putters_, &still_blocked), q(&owner), item(std::move(v)) {}

        static bool still_blocked(queue_waiter* w) noexcept {
            basic_queue* q = static_cast<put_op*>(w)->q;
            return q->full() && !q->shutdown_;
        }
        bool await_ready() const noexcept { return !q->full() || q->shutdown_; }
        template <class P> bool await_suspend(std::coroutine_handle<P> h) noexcept { return suspend(h); }
        void await_resume() {
            if (task && task->must_cancel) {
                q->putters_.remove(this);
                if (woken && !q->full()) wake_next(q->putters_);
                throw_if_cancelled();
            }
            q->put_nowait(std::move(item));
        }
    };

    Store store_;
    std::size_t maxsize_;
    std::size_t unfinished_ = 0;
    bool shutdown_ = false;
    wait_list getters_;
    wait_list putters_;
    event finished_;
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
