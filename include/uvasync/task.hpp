// task<T>: the coroutine type, asyncio's `async def f() -> T`.
//
// A task is lazy: calling `f()` allocates its frame and runs nothing. Its body
// starts when it is awaited (`co_await f()`, which runs it inside the awaiting
// task, with no trip through the loop) or scheduled (`create_task(f())`,
// which makes it a task of its own). Control passes between coroutines by
// symmetric transfer, so a chain of awaits of any depth uses constant stack.
#pragma once

#include <coroutine>
#include <exception>
#include <type_traits>
#include <utility>

#include "detail/frame_pool.hpp"
#include "detail/task_state.hpp"

namespace uvasync {

template <class T = void> class task;

namespace detail {

struct promise_base {
    std::coroutine_handle<> continuation; // the awaiting coroutine; none at a task's root
    task_state_base* root = nullptr;      // the scheduled task this coroutine runs in
    std::exception_ptr error;

    static void* operator new(std::size_t size) { return frame_allocate(size); }
    static void operator delete(void* p, std::size_t size) noexcept { frame_deallocate(p, size); }

    std::suspend_always initial_suspend() noexcept { return {}; }
    void unhandled_exception() noexcept { error = std::current_exception(); }

    struct final_awaiter {
        bool await_ready() noexcept { return false; }
        template <class P>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
            P& p = h.promise();
            if (p.continuation) return p.continuation;
            return p.finish_root();
        }
        void await_resume() noexcept {}
    };
    final_awaiter final_suspend() noexcept { return {}; }
};

template <class T> struct promise final : promise_base {
    union {
        T value;
    };
    bool has_value = false;

    promise() noexcept {}
    ~promise() {
        if (has_value) value.~T();
    }

    task<T> get_return_object() noexcept;

    template <class U = T>
        requires std::is_convertible_v<U&&, T>
    void return_value(U&& v) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
        ::new (static_cast<void*>(std::addressof(value))) T(std::forward<U>(v));
        has_value = true;
    }

    T take() {
        if (error) std::rethrow_exception(std::move(error));
        return std::move(value);
    }

    std::coroutine_handle<> finish_root() noexcept {
        auto* state = static_cast<task_state<T>*>(root);
        if (has_value) {
            ::new (static_cast<void*>(std::addressof(state->value))) T(std::move(value));
            state->has_value = true;
        }
        return state->finish(std::move(error));
    }
};

template <> struct promise<void> final : promise_base {
    task<void> get_return_object() noexcept;
    void return_void() noexcept {}
    void take() {
        if (error) std::rethrow_exception(std::move(error));
    }
    std::coroutine_handle<> finish_root() noexcept { return root->finish(std::move(error)); }
};

// Awaits a lazy task inside the awaiting coroutine's task. Owns the frame
// from the moment it is created, so the task object itself holds nothing
// across the suspension.
template <class T> struct task_awaiter {
    std::coroutine_handle<promise<T>> h;

    explicit task_awaiter(std::coroutine_handle<promise<T>> handle) noexcept : h(handle) {}
    task_awaiter(task_awaiter&& o) noexcept : h(std::exchange(o.h, {})) {}
    task_awaiter& operator=(task_awaiter&&) = delete;
    ~task_awaiter() {
        if (h) h.destroy();
    }

    bool await_ready() const noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> parent) noexcept {
        h.promise().continuation = parent;
        h.promise().root = parent.promise().root;
        return h;
    }
    T await_resume() { return h.promise().take(); }
};

} // namespace detail

template <class T>
class [[nodiscard("a task runs nothing until it is awaited (co_await) or scheduled (create_task)")]] task {
public:
    using promise_type = detail::promise<T>;
    using value_type = T;

    task() noexcept = default;
    explicit task(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}
    task(task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
    task& operator=(task&& o) noexcept {
        if (this != &o) {
            if (h_) h_.destroy();
            h_ = std::exchange(o.h_, {});
        }
        return *this;
    }
    task(const task&) = delete;            // task<T> is move-only and awaited once: std::move(t)
    task& operator=(const task&) = delete; // task<T> is move-only and awaited once: std::move(t)
    ~task() {
        if (h_) h_.destroy();
    }

    // False for a default-constructed or moved-from task.
    bool valid() const noexcept { return static_cast<bool>(h_); }
    explicit operator bool() const noexcept { return valid(); }

    detail::task_awaiter<T> operator co_await() && noexcept { return detail::task_awaiter<T>(release()); }

    // Readable mistake: `co_await t` on a task variable (or a const one). An
    // awaited task gives its frame to the awaiter, so only an rvalue can be
    // awaited; without this the error is "discards qualifiers".
    template <class U = T> detail::task_awaiter<T> operator co_await() const& {
        static_assert(!std::is_same_v<U, U>, "task<T> is move-only and awaited once: co_await std::move(t)");
        return detail::task_awaiter<T>(nullptr);
    }

    // Gives up ownership of the frame (the scheduler takes it).
    std::coroutine_handle<promise_type> release() noexcept { return std::exchange(h_, {}); }

private:
    std::coroutine_handle<promise_type> h_;
};

namespace detail {
template <class T> task<T> promise<T>::get_return_object() noexcept {
    return task<T>(std::coroutine_handle<promise<T>>::from_promise(*this));
}
inline task<void> promise<void>::get_return_object() noexcept {
    return task<void>(std::coroutine_handle<promise<void>>::from_promise(*this));
}

template <class T> struct is_task : std::false_type {};
template <class T> struct is_task<task<T>> : std::true_type {};
} // namespace detail

} // namespace uvasync
