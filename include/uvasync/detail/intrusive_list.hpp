// The one intrusive list of the library: the ready queue, a task's waiters,
// a lock's waiters, a loop's tasks and resources, a server's clients, an
// HTTP server's connections (every one, and those waiting for input).
//
// A node carries its own links (a list_hook base), so linking never
// allocates, and a node leaves its list in O(1) without knowing which list
// it is on. A hook unlinks itself when it is destroyed and a list unlinks
// its nodes when it is destroyed, so neither can leave the other dangling
// (an awaiter in a frame that event_loop::close() destroys, say).
//
// A type that sits on two lists at once derives from two hooks told apart
// by a tag: intrusive_list<T, Tag> links T's list_hook<Tag> base.
#pragma once

#include <cstddef>

namespace uvasync::detail {

template <class T, class Tag> class intrusive_list;

template <class Tag = void> class list_hook {
public:
    list_hook() noexcept = default;
    // A copy (a moved awaiter, a copied callback) is never on a list.
    list_hook(const list_hook&) noexcept {}
    list_hook& operator=(const list_hook&) noexcept { return *this; }
    ~list_hook() { unlink(); }

    bool linked() const noexcept { return next_ != nullptr; }
    // Leaves whatever list it is on; nothing if it is on none.
    void unlink() noexcept {
        if (!next_) return;
        prev_->next_ = next_;
        next_->prev_ = prev_;
        prev_ = next_ = nullptr;
    }

private:
    template <class, class> friend class intrusive_list;
    list_hook* prev_ = nullptr;
    list_hook* next_ = nullptr;
};

// A FIFO of T (public base list_hook<Tag>); the list owns no node.
template <class T, class Tag = void> class intrusive_list {
    using hook = list_hook<Tag>;

public:
    intrusive_list() noexcept { head_.prev_ = head_.next_ = &head_; }
    intrusive_list(const intrusive_list&) = delete;
    intrusive_list& operator=(const intrusive_list&) = delete;
    ~intrusive_list() { clear(); }

    bool empty() const noexcept { return head_.next_ == &head_; }
    T* front() const noexcept { return get(head_.next_); }
    // The node after `n` (which must be on this list), or null.
    T* next(const T* n) const noexcept { return get(as_hook(n)->next_); }

    // `n` must not be on a list.
    void push_back(T* n) noexcept { insert_before(&head_, as_hook(n)); }
    void push_front(T* n) noexcept { insert_before(head_.next_, as_hook(n)); }
    T* pop_front() noexcept {
        T* n = front();
        if (n) as_hook(n)->unlink();
        return n;
    }
    // Moves every node of `other`, in order, to the back of this list.
    void splice_back(intrusive_list& other) noexcept {
        if (other.empty()) return;
        hook* first = other.head_.next_;
        hook* last = other.head_.prev_;
        other.head_.prev_ = other.head_.next_ = &other.head_;
        first->prev_ = head_.prev_;
        last->next_ = &head_;
        head_.prev_->next_ = first;
        head_.prev_ = last;
    }
    // Unlinks every node; the nodes themselves are left alone.
    void clear() noexcept {
        while (pop_front()) {
        }
    }

private:
    T* get(hook* h) const noexcept { return h == &head_ ? nullptr : static_cast<T*>(h); }
    static hook* as_hook(const T* n) noexcept { return const_cast<hook*>(static_cast<const hook*>(n)); }
    static void insert_before(hook* pos, hook* n) noexcept {
        n->prev_ = pos->prev_;
        n->next_ = pos;
        pos->prev_->next_ = n;
        pos->prev_ = n;
    }

    mutable hook head_; // the sentinel: a circle through every node
};

} // namespace uvasync::detail
