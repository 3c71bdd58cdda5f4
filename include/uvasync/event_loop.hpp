// event_loop: asyncio's event loop, on a libuv loop.
//
// One loop per thread; tasks and callbacks of a loop run only on its thread
// (call_soon_threadsafe is the door in from other threads). The loop either
// creates its own uv_loop_t or adopts one that an existing libuv program owns
// (event_loop::wrap); it never closes a uv_loop_t it did not create.
#pragma once

#include <uv.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <exception>
#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "detail/deadline_timer.hpp"
#include "detail/loop_core.hpp"
#include "detail/uv_handle.hpp"
#include "errors.hpp"
#include "task.hpp"
#include "task_handle.hpp"

namespace uvasync {

using clock = std::chrono::steady_clock;

class executor;
template <class T> class future;

// What the exception handler is told (asyncio's context dict).
struct exception_context {
    std::string message;
    std::exception_ptr exception;
    std::string task_name; // empty when no task is involved
};

// run() and runner's options (asyncio.run(debug=) and Runner's Ctrl-C
// handling): the first of these signals while run() runs cancels the main
// task (a second one is left to its default disposition, which ends the
// program), unless the program handles that signal itself meanwhile
// (add_signal_handler, wait_signal).
struct run_options {
    bool debug = false;
    std::vector<int> cancel_main_on = {SIGINT};
};

namespace detail {

// A callback scheduled by call_soon / call_later / call_at: queued on the
// ready queue or armed on the timers, and shared with its handle.
struct callback_node : ready_node, timer_node, pooled {
    std::uint32_t refs = 1;
    bool cancelled = false;
    event_loop* loop = nullptr;

    virtual ~callback_node() = default;
    virtual void invoke() = 0;

    void add_ref() noexcept { ++refs; }
    void release() noexcept {
        if (--refs == 0) delete this;
    }
    void run() noexcept override;  // from the ready queue
    void fire() noexcept override; // from the timers
    void discard() noexcept override { release(); }
};

template <class F> struct callback_impl final : callback_node {
    F fn;
    template <class G> explicit callback_impl(G&& g) : fn(std::forward<G>(g)) {}
    void invoke() override { fn(); }
};

template <class F> callback_node* make_callback(F&& fn) {
    return new callback_impl<std::decay_t<F>>(std::forward<F>(fn));
}

// The queue that call_soon_threadsafe feeds. Shared, so that a thread still
// holding it after the loop closed finds it closed instead of a dangling loop.
struct threadsafe_queue {
    std::mutex mutex;
    std::vector<callback_node*> pending;
    uv_async_t* async = nullptr; // null once the loop is closed
};

// Hands a callback to the loop behind `q` from any thread; false (and the
// callback is freed) when that loop is closed.
bool post_to(threadsafe_queue& q, callback_node* n) noexcept;

} // namespace detail

// asyncio.Handle: a scheduled callback that can be cancelled.
class handle {
public:
    handle() noexcept = default;
    handle(const handle& o) noexcept : node_(o.node_) {
        if (node_) node_->add_ref();
    }
    handle(handle&& o) noexcept : node_(std::exchange(o.node_, nullptr)) {}
    handle& operator=(handle o) noexcept {
        std::swap(node_, o.node_);
        return *this;
    }
    ~handle() {
        if (node_) node_->release();
    }

    // Prevents the callback from running, if it has not run yet.
    void cancel() noexcept;
    bool cancelled() const noexcept { return node_ && node_->cancelled; }

protected:
    friend class event_loop;
    explicit handle(detail::callback_node* adopted) noexcept : node_(adopted) {}
    detail::callback_node* node_ = nullptr;
};

// asyncio.TimerHandle.
class timer_handle : public handle {
public:
    timer_handle() noexcept = default;
    // When the callback is due.
    clock::time_point when() const noexcept;

private:
    friend class event_loop;
    using handle::handle;
};

class event_loop final : private detail::loop_driver {
public:
    using exception_handler = std::function<void(event_loop&, const exception_context&)>;

    // A loop with a uv_loop_t of its own.
    event_loop();
    // Adopts a libuv program's loop: tasks run whenever that loop runs (under
    // the program's own uv_run, or ours). Closing this object closes only
    // what uvasync opened on it.
    static std::unique_ptr<event_loop> wrap(uv_loop_t* loop);
    ~event_loop();

    event_loop(const event_loop&) = delete;
    event_loop& operator=(const event_loop&) = delete;

    // Runs until `t` is done and returns its value or rethrows its failure.
    template <class T> T run_until_complete(task<T> t);
    template <class T> T run_until_complete(task_handle<T> h);
    // Runs until stop().
    void run_forever();
    // Makes run_forever / run_until_complete return after this iteration.
    void stop() noexcept;
    // Discards pending callbacks, destroys pending tasks and closes what the
    // library opened. Idempotent. The loop must not be running.
    void close();
    bool is_running() const noexcept { return running_; }
    bool is_closed() const noexcept { return core_.closed(); }

    // Monotonic seconds (the clock of call_at).
    double time() const noexcept { return static_cast<double>(detail::now_ns()) / 1e9; }

    template <class F> handle call_soon(F&& fn);
    template <class F, class Rep, class Period>
    timer_handle call_later(std::chrono::duration<Rep, Period> delay, F&& fn) {
        return schedule_at(detail::now_ns() + detail::to_ns(delay), detail::make_callback(std::forward<F>(fn)));
    }
    template <class F> timer_handle call_at(clock::time_point when, F&& fn) {
        return schedule_at(detail::to_ns(when.time_since_epoch()), detail::make_callback(std::forward<F>(fn)));
    }
    // The one method that may be called from any thread.
    template <class F> void call_soon_threadsafe(F&& fn) {
        post_threadsafe(detail::make_callback(std::forward<F>(fn)));
    }

    template <class T> task_handle<T> create_task(task<T> t, std::string name = {});
    template <class T> task_handle<T> create_task(task<T> t, task_options options);
    // Every create_task of this loop without eager_start runs eagerly
    // (asyncio's loop.set_task_factory(asyncio.eager_task_factory)); the
    // tasks the library creates (gather's children, handlers) follow it.
    void set_eager_tasks(bool on) noexcept { core_.set_eager_tasks(on); }
    bool get_eager_tasks() const noexcept { return core_.eager_tasks(); }
    // asyncio's loop.create_future(): a pending future of this loop (future.hpp).
    template <class T = void> future<T> create_future();

    void set_exception_handler(exception_handler h) { handler_ = std::move(h); }
    const exception_handler& get_exception_handler() const noexcept { return handler_; }
    void call_exception_handler(const exception_context& ctx) noexcept;
    // Writes the context to stderr, as asyncio's default handler logs it.
    void default_exception_handler(const exception_context& ctx) noexcept;

    // Debug mode reports callbacks and task steps slower than
    // slow_callback_duration (on stderr, like asyncio's logger warning).
    void set_debug(bool on) noexcept { core_.set_debug(on); }
    bool get_debug() const noexcept { return core_.debug(); }
    void set_slow_callback_duration(std::chrono::nanoseconds d) noexcept { slow_ = d; }
    std::chrono::nanoseconds slow_callback_duration() const noexcept { return slow_; }

    // Runs fn on the loop thread whenever `signum` arrives (replacing an
    // earlier handler for it). SIGKILL and SIGSTOP cannot be caught.
    template <class F> void add_signal_handler(int signum, F&& fn) {
        set_signal_handler(signum, std::function<void()>(std::forward<F>(fn)));
    }
    bool remove_signal_handler(int signum);

    // The executor of to_thread and run_in_executor without an executor.
    void set_default_executor(std::shared_ptr<executor> ex);
    executor& default_executor();
    // Waits for the default executor's jobs and joins its threads.
    void shutdown_default_executor();

    // Cancels every pending task and runs the loop until they have finished
    // (what run() does after main returns).
    void cancel_all_tasks();

    // Every pending task with its call graph (call_graph.hpp), as `python -m
    // asyncio pstree` prints them; and the same on stderr each time `signum`
    // arrives, for a running service (kill -USR1 <pid>).
    void dump_tasks(std::ostream& out);
    void dump_tasks_on_signal(int signum);

    uv_loop_t* native_handle() const noexcept { return uv_; }

    // --- for the library's own operations ---
    detail::loop_core& core() noexcept { return core_; }
    // Whether the program handles `signum` now (a handler, or a wait_signal
    // in progress): run()'s cancel-on-signal gives way to it.
    bool handles_signal(int signum) const noexcept;
    void signal_awaited(int signum, int delta) noexcept { awaited_signals_[signum] += delta; }
    std::shared_ptr<detail::threadsafe_queue> threadsafe_gate() const noexcept { return gate_; }

private:
    friend class handle;
    friend class timer_handle;
    struct adopt_tag {};
    event_loop(uv_loop_t* adopted, adopt_tag);
    void init_handles();

    timer_handle schedule_at(std::int64_t deadline, detail::callback_node* n);
    void post_threadsafe(detail::callback_node* n);
    void set_signal_handler(int signum, std::function<void()> fn);
    void run_until_done(detail::task_state_base& t);
    void check_not_running(const char* what) const;
    void drain_threadsafe() noexcept;

    // loop_driver
    void ready_work_queued() noexcept override;
    void arm_timer(std::int64_t deadline_ns) noexcept override;
    void report(const char* message, std::exception_ptr e, std::string task_name) noexcept override;
    void ran_for(const char* what, std::int64_t elapsed_ns, const std::string& name) noexcept override;
    void frames_freed() noexcept override;

    static void on_idle(uv_idle_t* h);
    static void on_check(uv_check_t* h);
    void arm_cache_timer() noexcept;
    static void on_timer(void* self);
    static void on_async(uv_async_t* h);

    detail::loop_core core_{*this, *this};
    uv_loop_t* uv_ = nullptr;
    std::unique_ptr<uv_loop_t> owned_;
    detail::uv_handle<uv_idle_t> idle_;
    detail::uv_handle<uv_check_t> check_;
    detail::uv_handle<uv_timer_t> cache_timer_; // wakes the loop for the frame cache's idle trim
    bool cache_timer_armed_ = false;
    detail::deadline_timer timer_;
    detail::uv_handle<uv_async_t> async_;
    std::shared_ptr<detail::threadsafe_queue> gate_;
    struct signal_entry;
    std::map<int, std::unique_ptr<signal_entry>> signals_;
    std::map<int, int> awaited_signals_; // wait_signal()s in progress, per signal
    std::shared_ptr<executor> default_executor_;
    exception_handler handler_;
    std::chrono::nanoseconds slow_{std::chrono::milliseconds(100)};
    bool running_ = false;
    bool stopping_ = false;
};

// The loop running on this thread; throws std::runtime_error when none is.
event_loop& get_running_loop();

template <class F> handle event_loop::call_soon(F&& fn) {
    core_.check_open("call_soon");
    detail::callback_node* n = detail::make_callback(std::forward<F>(fn));
    n->loop = this;
    n->refs = 2; // the queue's and the handle's
    core_.schedule(*n);
    return handle(n);
}

template <class T> task_handle<T> event_loop::create_task(task<T> t, task_options options) {
    return detail::spawn(core_, t, options.name, options.eager_start);
}
template <class T> task_handle<T> event_loop::create_task(task<T> t, std::string name) {
    return detail::spawn(core_, t, name, std::nullopt);
}

template <class T> T event_loop::run_until_complete(task_handle<T> h) {
    run_until_done(*h.state());
    return detail::result_of<T>(*h.state());
}

template <class T> T event_loop::run_until_complete(task<T> t) {
    check_not_running("run_until_complete"); // refused before anything is scheduled
    task_handle<T> h = create_task(std::move(t));
    run_until_done(*h.state());
    h.state()->rethrow_if_failed();
    if constexpr (!std::is_void_v<T>) return std::move(static_cast<detail::task_state<T>*>(h.state())->value());
}

} // namespace uvasync
