// task<T>: the coroutine type, asyncio's `async def f() -> T`.
//
// A task is lazy: calling `f()` allocates its frame and runs nothing. Its body
// starts when it is awaited (`co_await f()`, which runs it inside the awaiting
// task, with no trip through the loop) or scheduled (`create_task(f())`,
// which makes it a task of its own). Control passes between coroutines by
// symmetric transfer, so a chain of awaits of any depth uses constant stack
// (in optimised builds; see the README on GCC -O0).
//
// A task<T> is move-only and awaited once: `co_await std::move(t)` for one
// kept in a variable.
#pragma once

#include <concepts>
#include <coroutine>
#include <exception>
#include <source_location>
#include <type_traits>
#include <utility>

#include "detail/frame_pool.hpp"
#include "detail/task_state.hpp"

namespace uvasync {

template <class T = void> class task;

namespace detail {

template <class T> struct is_task : std::false_type {};
template <class T> struct is_task<task<T>> : std::true_type {};

template <class A>
concept has_member_co_await = requires(A&& a) { static_cast<A&&>(a).operator co_await(); };
template <class A>
concept has_free_co_await = requires(A&& a) { operator co_await(static_cast<A&&>(a)); };
template <class A>
concept is_awaiter = requires(A& a) {
    { a.await_ready() } -> std::convertible_to<bool>;
    a.await_resume();
};
template <class A> constexpr bool nothrow_co_await_v() {
    if constexpr (has_member_co_await<A>) return noexcept(std::declval<A>().operator co_await());
    else if constexpr (has_free_co_await<A>) return noexcept(operator co_await(std::declval<A>()));
    else return true;
}
template <class A> inline constexpr bool nothrow_co_await = nothrow_co_await_v<A>();
// What co_await accepts in a task (a task, a handle, an operation, ...).
template <class A>
concept awaitable = has_member_co_await<A> || has_free_co_await<A> || is_awaiter<std::remove_reference_t<A>>;

// What co_await of a plain awaiter (an operation, a named local) sees: the
// awaiter itself, by address, so it is never copied or moved.
template <class A> struct awaiter_ref {
    A* a;
    bool await_ready() { return a->await_ready(); }
    template <class P> decltype(auto) await_suspend(std::coroutine_handle<P> h) { return a->await_suspend(h); }
    decltype(auto) await_resume() { return a->await_resume(); }
};

struct promise_base {
    std::coroutine_handle<> continuation; // the awaiting coroutine; none at a task's root
    task_state_base* root = nullptr;      // the scheduled task this coroutine runs in
    promise_base* child = nullptr;        // the coroutine it awaits now (call graphs)
    std::source_location where;           // its latest co_await (call graphs)
    std::exception_ptr error;

    static void* operator new(std::size_t size) { return frame_allocate(size); }
    static void operator delete(void* p, std::size_t size) noexcept { frame_deallocate(p, size); }

    std::suspend_always initial_suspend() noexcept { return {}; }
    void unhandled_exception() noexcept { error = std::current_exception(); }

    // Every co_await in a task passes here: it records where the coroutine
    // suspends (one store), which is what call graphs print.
    template <class A>
    auto await_transform(A&& a, std::source_location at = std::source_location::current()) noexcept(
        nothrow_co_await<A>) {
        static_assert(!(is_task<std::remove_cvref_t<A>>::value && std::is_lvalue_reference_v<A>),
                      "task<T> is move-only and awaited once: co_await std::move(t)");
        where = at;
        if constexpr (has_member_co_await<A>) {
            return static_cast<A&&>(a).operator co_await();
        } else if constexpr (has_free_co_await<A>) {
            return operator co_await(static_cast<A&&>(a));
        } else {
            static_assert(is_awaiter<std::remove_reference_t<A>>,
                          "this expression is not awaitable (a plain number passed to sleep? "
                          "uvasync::sleep takes a std::chrono duration: sleep(1s), sleep(10ms))");
            return awaiter_ref<std::remove_reference_t<A>>{std::addressof(a)};
        }
    }

    struct final_awaiter {
        bool await_ready() noexcept { return false; }
        template <class P> std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
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
            ::new (static_cast<void*>(std::addressof(state->value_))) T(std::move(value));
            state->has_value_ = true;
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
    promise_base* parent = nullptr;

    explicit task_awaiter(std::coroutine_handle<promise<T>> handle) noexcept : h(handle) {}
    task_awaiter(task_awaiter&& o) noexcept : h(std::exchange(o.h, {})) {}
    task_awaiter& operator=(task_awaiter&&) = delete;
    ~task_awaiter() {
        if (h) h.destroy();
    }

    bool await_ready() const noexcept { return false; }
    template <class P> std::coroutine_handle<> await_suspend(std::coroutine_handle<P> awaiting) noexcept {
        promise<T>& p = h.promise();
        parent = &awaiting.promise();
        p.continuation = awaiting;
        p.root = parent->root;
        parent->child = &p;
        return h;
    }
    T await_resume() {
        parent->child = nullptr;
        return h.promise().take();
    }
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

// The value type of co_await on an A.
template <class A>
using await_result_t = decltype(std::declval<promise<void>&>().await_transform(std::declval<A>()).await_resume());

// Any awaitable as a task of its own: what create_task and wait_for do with
// an operation (a lock.acquire(), a read) that is not a task.
template <class A> task<await_result_t<A>> as_task(A aw) {
    co_return co_await std::move(aw);
}
} // namespace detail

} // namespace uvasync
