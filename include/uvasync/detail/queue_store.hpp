// Item storage for the queues: a FIFO ring buffer, a LIFO stack, a binary
// min-heap. Each keeps its memory once grown, so a queue that reaches a
// steady size stops allocating.
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <new>
#include <utility>
#include <vector>

namespace uvasync::detail {

// A growable ring buffer (capacity a power of two).
template <class T> class fifo_store {
public:
    fifo_store() noexcept = default;
    fifo_store(const fifo_store&) = delete;
    fifo_store& operator=(const fifo_store&) = delete;
    ~fifo_store() {
        clear();
        if (buf_) std::allocator<T>().deallocate(buf_, cap_);
    }

    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }

    void push(T&& v) {
        if (size_ == cap_) grow();
        ::new (static_cast<void*>(buf_ + ((head_ + size_) & (cap_ - 1)))) T(std::move(v));
        ++size_;
    }
    T pop() {
        T* p = buf_ + head_;
        T v(std::move(*p));
        p->~T();
        head_ = (head_ + 1) & (cap_ - 1);
        --size_;
        return v;
    }
    void clear() noexcept {
        while (size_ > 0) {
            buf_[head_].~T();
            head_ = (head_ + 1) & (cap_ - 1);
            --size_;
        }
        head_ = 0;
    }

private:
    void grow() {
        const std::size_t cap = cap_ ? cap_ * 2 : 16;
        T* buf = std::allocator<T>().allocate(cap);
        std::size_t moved = 0;
        try {
            for (; moved < size_; ++moved)
                ::new (static_cast<void*>(buf + moved)) T(std::move_if_noexcept(buf_[(head_ + moved) & (cap_ - 1)]));
        } catch (...) {
            for (std::size_t i = 0; i < moved; ++i) buf[i].~T();
            std::allocator<T>().deallocate(buf, cap);
            throw;
        }
        for (std::size_t i = 0; i < size_; ++i) buf_[(head_ + i) & (cap_ - 1)].~T();
        if (buf_) std::allocator<T>().deallocate(buf_, cap_);
        buf_ = buf;
        cap_ = cap;
        head_ = 0;
    }

    T* buf_ = nullptr;
    std::size_t cap_ = 0;
    std::size_t head_ = 0;
    std::size_t size_ = 0;
};

template <class T> class lifo_store {
public:
    std::size_t size() const noexcept { return items_.size(); }
    bool empty() const noexcept { return items_.empty(); }
    void push(T&& v) { items_.push_back(std::move(v)); }
    T pop() {
        T v(std::move(items_.back()));
        items_.pop_back();
        return v;
    }
    void clear() noexcept { items_.clear(); }

private:
    std::vector<T> items_;
};

// Smallest first by Compare (the order of std::priority_queue reversed, as
// asyncio.PriorityQueue is a min-heap).
template <class T, class Compare> class heap_store {
public:
    explicit heap_store(Compare c = Compare()) : greater_{std::move(c)} {}
    std::size_t size() const noexcept { return items_.size(); }
    bool empty() const noexcept { return items_.empty(); }
    void push(T&& v) {
        items_.push_back(std::move(v));
        std::push_heap(items_.begin(), items_.end(), greater_);
    }
    T pop() {
        std::pop_heap(items_.begin(), items_.end(), greater_);
        T v(std::move(items_.back()));
        items_.pop_back();
        return v;
    }
    void clear() noexcept { items_.clear(); }

private:
    struct greater {
        Compare less;
        bool operator()(const T& a, const T& b) const { return less(b, a); }
    };
    std::vector<T> items_;
    greater greater_;
};

} // namespace uvasync::detail
