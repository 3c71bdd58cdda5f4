// future<T>: asyncio.Future, a result that is set later by someone else.
//
//     future<int> f = create_future<int>();
//     ...                                   // somewhere else: f.set_result(42);
//     int v = co_await f;                   // any number of awaiters
//
// A future is a copyable shared handle (like task_handle) bound to the loop
// that made it. It is pending until set_result, set_exception or cancel
// completes it, once: completing a done future again is invalid_state_error.
// Completing it wakes its awaiters and its done callbacks in the order they
// came, each from the loop's ready queue, as asyncio's call_soon does.
//
// asyncio's rules: cancelling a task that awaits a future cancels the future
// (shield(f) keeps a cancellation of the waiter from reaching it); result()
// and exception() of a cancelled future throw cancelled_error with the
// cancel message, of a pending one invalid_state_error; a failed future
// whose exception nobody retrieved (co_await, result(), exception(), or a
// cancel()) is reported to the loop's exception handler when its last handle
// goes: "Future exception was never retrieved".
//
// A future and its handles are used on its loop's thread only: complete it
// from another thread with loop.call_soon_threadsafe([f] { f.set_result(1); })
// (build the callable on the loop thread and move it across, since a handle's
// count is not atomic).
#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "detail/frame_pool.hpp"
#include "detail/intrusive_list.hpp"
#include "detail/loop_core.hpp"
#include "detail/operation.hpp"
#include "detail/ready_queue.hpp"
#include "errors.hpp"
#include "event_loop.hpp"
#include "task.hpp"

namespace uvasync {

template <class T = void> class future;

namespace detail {

struct future_waiter_tag {};

// Something that hears a future complete: an awaiting operation, a shield,
// or a done callback.
class future_waiter : public list_hook<future_waiter_tag> {
public:
    // The future completed. Called once, in the order the waiters came.
    virtual void future_done() noexcept = 0;

protected:
    future_waiter() noexcept = default;
    future_waiter(const future_waiter&) noexcept = default;
    ~future_waiter() = default;
};

class future_state_base;

// A done callback: waits on the future's list holding no reference (so that
// a future nobody can complete any more is freed with its callbacks), then,
// once the future is done, sits on the ready queue holding one.
class future_callback : public future_waiter, public ready_node, public pooled {
public:
    virtual ~future_callback() = default;
    std::size_t id() const noexcept { return id_; }

protected:
    future_callback() noexcept = default;

private:
    friend class future_state_base;
    virtual void invoke(future_state_base& f) = 0;
    void future_done() noexcept override; // queued
    void run() noexcept override;         // invoked, then freed
    void discard() noexcept override;     // the loop closed: freed

    future_state_base* state_ = nullptr;
    std::size_t id_ = 0;
};

template <class F> class future_callback_impl final : public future_callback {
public:
    explicit future_callback_impl(F fn) : fn_(std::move(fn)) {}

private:
    void invoke(future_state_base& f) override { fn_(f); }
    F fn_;
};

enum class future_status : std::uint8_t { pending, finished, cancelled };

// What future<T> points at, without the value. One of the resources of its
// loop, so that a future outliving its loop never touches it again.
class future_state_base : public loop_core::resource, public pooled {
public:
    explicit future_state_base(loop_core& loop) noexcept;
    virtual ~future_state_base();
    future_state_base(const future_state_base&) = delete;
    future_state_base& operator=(const future_state_base&) = delete;

    void add_ref() noexcept { ++refs_; }
    void release() noexcept {
        if (--refs_ == 0) last_release();
    }

    bool done() const noexcept { return status_ != future_status::pending; }
    bool cancelled() const noexcept { return status_ == future_status::cancelled; }
    // Finished with an exception.
    bool failed() const noexcept { return status_ == future_status::finished && error_; }
    bool retrieved() const noexcept { return !unretrieved_; }
    // The loop it belongs to; null once that loop closed.
    loop_core* loop() const noexcept { return loop_; }

    // invalid_state_error("<what>: the future is done already") unless pending.
    void check_pending(const char* what) const;
    // Records the outcome and wakes the waiters (the value, if any, is in place).
    void set_finished() noexcept;
    void set_exception(std::exception_ptr e);
    bool cancel(std::string message) noexcept;

    // cancelled_error if cancelled, invalid_state_error if pending; rethrows
    // the exception (retrieving it).
    void check_result(const char* what);
    // The exception, retrieved (null after a result); cancelled_error if
    // cancelled, invalid_state_error if pending.
    std::exception_ptr exception();
    void mark_retrieved() noexcept { unretrieved_ = false; }
    [[noreturn]] void throw_cancellation() const;

    void add_waiter(future_waiter& w) noexcept { waiters_.push_back(&w); }
    // Runs `cb` once the future is done (queued at once if it is); its id.
    std::size_t add_callback(future_callback* cb);
    // Removes the callbacks with this id still waiting; how many there were.
    std::size_t remove_callbacks(std::size_t id) noexcept;

private:
    void close_for_loop() noexcept override;
    void drop_callbacks() noexcept;
    void last_release() noexcept;

    std::uint32_t refs_ = 1;
    future_status status_ = future_status::pending;
    bool unretrieved_ = false;
    loop_core* loop_;
    std::size_t next_callback_id_ = 1;
    intrusive_list<future_waiter, future_waiter_tag> waiters_;
    std::exception_ptr error_;
    std::string cancel_message_;
};

template <class T> class future_state final : public future_state_base {
public:
    using future_state_base::future_state_base;
    template <class U> void set_value(U&& v) {
        check_pending("set_result");
        value_.emplace(std::forward<U>(v));
        set_finished();
    }
    T& value() noexcept { return *value_; }

private:
    std::optional<T> value_;
};

template <> class future_state<void> final : public future_state_base {
public:
    using future_state_base::future_state_base;
    void set_value() {
        check_pending("set_result");
        set_finished();
    }
};

// The outcome for one awaiter: a copy of the value (several may await),
// or the value itself when it cannot be copied.
template <class T> T future_result(future_state<T>& s) {
    s.check_result("co_await");
    if constexpr (std::is_void_v<T>) {
        return;
    } else if constexpr (std::is_copy_constructible_v<T>) {
        return s.value();
    } else {
        return std::move(s.value());
    }
}

// co_await on a future: waits until it is done. Cancelling the awaiting task
// cancels the future (asyncio's rule); the task then raises cancelled_error.
template <class T> class future_awaiter final : public operation<future_awaiter<T>>, public future_waiter {
public:
    explicit future_awaiter(future_state<T>* f) noexcept : f_(f) { f_->add_ref(); }
    future_awaiter(future_awaiter&& o) noexcept : operation<future_awaiter>(std::move(o)), f_(o.f_) { f_->add_ref(); }
    ~future_awaiter() { f_->release(); }

    bool ready() const noexcept { return f_->done(); }
    bool start() {
        if (f_->loop() != &this->task()->loop())
            throw std::runtime_error("co_await: the future belongs to another event loop");
        f_->add_waiter(*this);
        return true;
    }
    cancel_outcome cancel() noexcept {
        // Off the list first: the future's completion must not wake this
        // operation from inside its own cancel().
        unlink();
        if (!this->task()->loop().closed()) f_->cancel(this->cancel_message());
        return cancel_outcome::stopped;
    }
    T result() { return future_result<T>(*f_); }
    const char* kind() const noexcept override { return "future"; }

private:
    void future_done() noexcept override { this->wake_soon(); }
    future_state<T>* f_;
};

// shield(future): waits like co_await f, but a cancellation of the waiter
// stays with the waiter.
class shield_future_op final : public operation<shield_future_op>, public future_waiter {
public:
    explicit shield_future_op(future_state_base& f) noexcept : f_(&f) {}

    bool ready() const noexcept { return f_->done(); }
    bool start() {
        if (f_->loop() != &task()->loop()) throw std::runtime_error("shield: the future belongs to another event loop");
        f_->add_waiter(*this);
        return true;
    }
    cancel_outcome cancel() noexcept;
    void result() const noexcept {}
    const char* kind() const noexcept override { return "shield"; }

private:
    void future_done() noexcept override { wake_soon(); }
    future_state_base* f_;
};

} // namespace detail

template <class T> class future {
    static_assert(!std::is_reference_v<T>, "future<T&> is not supported: use future<T*> or future<std::reference_wrapper<T>>");

public:
    using value_type = T;

    // An empty handle (valid() is false); create_future makes real ones.
    future() noexcept = default;
    future(const future& o) noexcept : s_(o.s_) {
        if (s_) s_->add_ref();
    }
    future(future&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
    future& operator=(future o) noexcept {
        std::swap(s_, o.s_);
        return *this;
    }
    ~future() {
        if (s_) s_->release();
    }

    bool valid() const noexcept { return s_ != nullptr; }
    bool done() const noexcept { return s_->done(); }
    bool cancelled() const noexcept { return s_->cancelled(); }

    // Completes the future; invalid_state_error if it is done already. A
    // handle is a shared pointer-like object: const handles complete it too.
    template <class U = T>
        requires(!std::is_void_v<U>)
    void set_result(std::type_identity_t<U> value) const {
        s_->set_value(std::move(value));
    }
    template <class U = T>
        requires std::is_void_v<U>
    void set_result() const {
        s_->set_value();
    }
    // A null exception_ptr is std::invalid_argument.
    void set_exception(std::exception_ptr e) const { s_->set_exception(std::move(e)); }
    // Cancels the future unless it is done; false if it is.
    bool cancel(std::string msg = {}) const noexcept { return s_->cancel(std::move(msg)); }

    // The value; rethrows the exception; cancelled_error if cancelled;
    // invalid_state_error if pending.
    decltype(auto) result() const {
        s_->check_result("result()");
        if constexpr (!std::is_void_v<T>) return static_cast<const T&>(s_->value());
    }
    // The exception (null after a result); cancelled_error if cancelled;
    // invalid_state_error if pending.
    std::exception_ptr exception() const { return s_->exception(); }

    // Calls fn(future&) from the loop's ready queue once the future is done
    // (at once, through the queue, if it is done already). Returns an id for
    // remove_done_callback.
    template <class F> std::size_t add_done_callback(F fn) const {
        auto call = [fn = std::move(fn)](detail::future_state_base& f) mutable {
            future self = share(static_cast<detail::future_state<T>*>(&f));
            fn(self);
        };
        return s_->add_callback(new detail::future_callback_impl<decltype(call)>(std::move(call)));
    }
    // Removes the callback with this id if it has not been queued yet; how
    // many were removed (0 or 1).
    std::size_t remove_done_callback(std::size_t id) const noexcept { return s_->remove_callbacks(id); }

    auto operator co_await() const noexcept { return detail::future_awaiter<T>(s_); }

    friend bool operator==(const future& a, const future& b) noexcept { return a.s_ == b.s_; }

    // --- for the library ---
    detail::future_state<T>* state() const noexcept { return s_; }
    // A new future of `loop`.
    static future make(detail::loop_core& loop) {
        loop.check_open("create_future");
        return future(new detail::future_state<T>(loop));
    }
    // A new handle (one more reference).
    static future share(detail::future_state<T>* s) noexcept {
        s->add_ref();
        return future(s);
    }

private:
    explicit future(detail::future_state<T>* s) noexcept : s_(s) {}
    detail::future_state<T>* s_ = nullptr;
};

// asyncio.get_running_loop().create_future(): a pending future of the
// running loop; std::runtime_error when no loop is running.
template <class T = void> future<T> create_future() { return future<T>::make(detail::running_core()); }

template <class T> future<T> event_loop::create_future() { return future<T>::make(core_); }

// asyncio.shield(fut): waits for `inner` without letting a cancellation of
// the waiter reach it. The waiter gets cancelled_error at once and `inner`
// stays pending; if it then fails and nobody looked, its exception goes to
// the loop's exception handler ("exception in shielded future"), once.
template <class T> task<T> shield(future<T> inner) {
    if (!inner.valid()) throw std::invalid_argument("shield: empty future");
    co_await detail::shield_future_op(*inner.state());
    co_return detail::future_result<T>(*inner.state());
}

} // namespace uvasync
