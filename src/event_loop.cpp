// The event loop: the loop core on libuv handles, running and stopping,
// closing, exception reporting, threadsafe calls, signals.
#include <uvasync/event_loop.hpp>
#include <uvasync/detail/child_watch.hpp>
#include <uvasync/executor.hpp>

#include <csignal>
#include <cstdio>
#include <typeinfo>

namespace uvasync {

namespace detail {
namespace {

std::string describe(const std::exception_ptr& e) {
    if (!e) return {};
    try {
        std::rethrow_exception(e);
    } catch (const cancelled_error& c) {
        return std::string("cancelled_error: ") + c.what();
    } catch (const std::exception& x) {
        return std::string(typeid(x).name()) + ": " + x.what();
    } catch (...) {
        return "unknown exception";
    }
}

} // namespace

void callback_node::run() noexcept {
    if (!cancelled) {
        try {
            invoke();
        } catch (...) {
            loop->core().report("Exception in callback", std::current_exception(), {});
        }
    }
    release();
}

void callback_node::fire() noexcept { run(); }

bool post_to(threadsafe_queue& q, callback_node* n) noexcept {
    {
        std::lock_guard lock(q.mutex);
        if (q.async) {
            try {
                q.pending.push_back(n);
            } catch (...) {
                delete n;
                return false;
            }
            uv_async_send(q.async);
            return true;
        }
    }
    delete n;
    return false;
}

} // namespace detail

// ---- handles -------------------------------------------------------------

void handle::cancel() noexcept {
    if (!node_ || node_->cancelled) return;
    node_->cancelled = true;
    if (node_->armed()) { // a pending call_later: take it off the heap now
        node_->loop->core().remove_timer(*node_);
        node_->release();
    }
}

clock::time_point timer_handle::when() const noexcept {
    return clock::time_point(std::chrono::duration_cast<clock::duration>(std::chrono::nanoseconds(node_->deadline)));
}

// ---- event_loop ----------------------------------------------------------

struct event_loop::signal_entry {
    detail::uv_handle<uv_signal_t> handle;
    std::function<void()> fn;
    event_loop* loop = nullptr;
};

event_loop::event_loop() : owned_(std::make_unique<uv_loop_t>()) {
    if (int rc = uv_loop_init(owned_.get()); rc < 0) throw_uv_error(rc, "uv_loop_init");
    uv_ = owned_.get();
    try {
        init_handles();
    } catch (...) {
        uv_loop_close(uv_);
        throw;
    }
}

event_loop::event_loop(uv_loop_t* adopted, adopt_tag) : uv_(adopted) { init_handles(); }

std::unique_ptr<event_loop> event_loop::wrap(uv_loop_t* loop) {
    if (!loop) throw std::invalid_argument("event_loop::wrap: null uv_loop_t");
    return std::unique_ptr<event_loop>(new event_loop(loop, adopt_tag{}));
}

void event_loop::init_handles() {
    std::signal(SIGPIPE, SIG_IGN); // as Python does: a dead peer is an error code, not a kill
    idle_ = detail::uv_handle<uv_idle_t>::make([&](uv_idle_t* h) { return uv_idle_init(uv_, h); }, "uv_idle_init");
    check_ = detail::uv_handle<uv_check_t>::make([&](uv_check_t* h) { return uv_check_init(uv_, h); }, "uv_check_init");
    timer_.open(uv_, &on_timer, this);
    cache_timer_ = detail::uv_handle<uv_timer_t>::make([&](uv_timer_t* h) { return uv_timer_init(uv_, h); },
                                                       "uv_timer_init");
    cache_timer_->data = this;
    uv_unref(cache_timer_.base());
    async_ = detail::uv_handle<uv_async_t>::make([&](uv_async_t* h) { return uv_async_init(uv_, h, &on_async); },
                                                 "uv_async_init");
    for (uv_handle_t* h : {idle_.base(), check_.base(), async_.base()}) h->data = this;
    uv_unref(check_.base());
    uv_unref(async_.base()); // referenced only while run_* waits
    gate_ = std::make_shared<detail::threadsafe_queue>();
    gate_->async = async_.get();
}

event_loop::~event_loop() {
    try {
        close();
    } catch (...) {
    }
}

// ---- the driver: libuv handles under the core ---------------------------

void event_loop::ready_work_queued() noexcept {
    if (!cache_timer_armed_) arm_cache_timer(); // callbacks are cached blocks too
    if (idle_) {
        uv_idle_start(idle_.get(), &on_idle);   // no waiting for I/O while work is ready
        uv_check_start(check_.get(), &on_check); // what I/O callbacks queue runs right after them
    }
}

void event_loop::arm_timer(std::int64_t deadline_ns) noexcept {
    if (deadline_ns == INT64_MAX) timer_.disarm(); // nothing to wait for: the loop may exit
    else timer_.arm(deadline_ns);
}

void event_loop::report(const char* message, std::exception_ptr e, std::string task_name) noexcept {
    try {
        call_exception_handler(exception_context{message, std::move(e), std::move(task_name)});
    } catch (...) {
    }
}

// Up to this many ready batches run per libuv iteration: polling for I/O
// between every two batches would cost a syscall per tick, and I/O and
// timers still get their turn this often.
constexpr int batches_per_iteration = 16;

void event_loop::on_idle(uv_idle_t* h) {
    auto* self = static_cast<event_loop*>(h->data);
    self->core_.run_ready(batches_per_iteration, self->stopping_);
    if (!self->core_.has_ready() && self->idle_) uv_idle_stop(h);
}

void event_loop::on_check(uv_check_t* h) {
    auto* self = static_cast<event_loop*>(h->data);
    // Nothing queued this time: stop until work is queued again, so that a
    // loop that only does I/O (a task resumed straight from its callback)
    // pays nothing here.
    if (!self->core_.has_ready()) {
        uv_check_stop(h);
        return;
    }
    // Once stopped, what callbacks queued waits for the next run (asyncio).
    if (!self->stopping_) self->core_.run_ready(batches_per_iteration, self->stopping_);
}

void event_loop::frames_freed() noexcept {
    if (!cache_timer_armed_) arm_cache_timer();
}

// While frames come back to the cache (tasks end, callbacks run) the timer
// looks at the cache once a second; after a quiet second the cache is
// emptied and the timer stops. It only wakes the loop: it keeps nothing
// alive.
void event_loop::arm_cache_timer() noexcept {
    if (!cache_timer_ || !detail::frame_cache_on()) return; // closed, or nothing is cached
    cache_timer_armed_ = true;
    uv_timer_start(
        cache_timer_.get(),
        [](uv_timer_t* t) {
            auto* self = static_cast<event_loop*>(t->data);
            self->cache_timer_armed_ = false;
            if (detail::frame_cache_tick()) self->arm_cache_timer();
        },
        1000, 0);
}

void event_loop::on_timer(void* loop) { static_cast<event_loop*>(loop)->core_.fire_timers(); }

void event_loop::on_async(uv_async_t* h) { static_cast<event_loop*>(h->data)->drain_threadsafe(); }

void event_loop::drain_threadsafe() noexcept {
    std::vector<detail::callback_node*> batch;
    {
        std::lock_guard lock(gate_->mutex);
        batch.swap(gate_->pending);
    }
    for (detail::callback_node* n : batch) {
        n->loop = this;
        core_.schedule(*n);
    }
}

void event_loop::post_threadsafe(detail::callback_node* n) {
    if (!detail::post_to(*gate_, n)) throw std::runtime_error("call_soon_threadsafe: the event loop is closed");
}

timer_handle event_loop::schedule_at(std::int64_t deadline, detail::callback_node* n) {
    if (core_.closed()) {
        delete n;
        throw std::runtime_error("call_later: the event loop is closed");
    }
    n->loop = this;
    n->deadline = deadline;
    n->refs = 2; // the heap's and the handle's
    core_.add_timer(*n);
    return timer_handle(n);
}

// ---- running ---------------------------------------------------------------

void event_loop::check_not_running(const char* what) const {
    // running_loop() == this without running_: a wrapped loop whose callback
    // runs under the program's own uv_run, which must not be re-entered.
    if (running_ || detail::running_loop() == this)
        throw std::runtime_error(std::string(what) + ": this event loop is already running");
    if (detail::running_loop())
        throw std::runtime_error(std::string(what) + ": another event loop is running on this thread");
}

void event_loop::run_forever() {
    core_.check_open("run_forever");
    check_not_running("run_forever");
    detail::running_scope scope(this);
    running_ = true;
    uv_ref(async_.base());
    if (stopping_) { // stop() came first: asyncio still runs one iteration
        core_.run_ready(batches_per_iteration, stopping_);
    } else {
        while (!stopping_) uv_run(uv_, UV_RUN_DEFAULT);
    }
    uv_unref(async_.base());
    running_ = false;
    stopping_ = false;
}

void event_loop::stop() noexcept {
    stopping_ = true;
    if (running_) uv_stop(uv_);
}

namespace {
// Stops the loop once every watched task has finished.
struct stop_when_all_done final : detail::child_watch::listener {
    event_loop* loop;
    detail::child_watch* watch = nullptr;
    explicit stop_when_all_done(event_loop* l) noexcept : loop(l) {}
    std::coroutine_handle<> child_done(detail::task_state_base&, std::size_t, bool) noexcept override {
        if (watch->remaining() == 0) loop->stop();
        return {};
    }
};
} // namespace

void event_loop::run_until_done(detail::task_state_base& t) {
    check_not_running("run_until_complete");
    if (t.done()) return;
    stop_when_all_done stopper(this);
    detail::child_watch watch(stopper);
    stopper.watch = &watch;
    watch.add(task_handle<>::share(&t));
    run_forever();
    if (!t.done()) throw std::runtime_error("run_until_complete: the event loop stopped before the task finished");
}

void event_loop::cancel_all_tasks() {
    // This loop's pending tasks (not the free all_tasks(), which sees only a
    // loop that is running: run() calls this after run_until_complete returned).
    std::vector<task_handle<>> pending;
    for (detail::task_state_base* t = core_.pending_tasks().front(); t; t = core_.pending_tasks().next(t))
        pending.push_back(task_handle<>::share(t));
    if (pending.empty()) return;
    stop_when_all_done stopper(this);
    detail::child_watch watch(stopper);
    stopper.watch = &watch;
    for (auto& h : pending) watch.add(h);
    watch.cancel_all({});
    if (watch.remaining() > 0) run_forever();
    for (auto& h : pending) {
        detail::task_state_base& t = *h.state();
        if (t.failed()) {
            std::exception_ptr e = t.take_error();
            report("unhandled exception during run() shutdown", std::move(e), t.name());
        }
    }
}

void event_loop::close() {
    if (core_.closed()) return;
    if (running_) throw std::runtime_error("close: cannot close a running event loop");
    core_.close();
    signals_.clear();

    {
        std::lock_guard lock(gate_->mutex);
        gate_->async = nullptr;
        for (detail::callback_node* n : gate_->pending) delete n;
        gate_->pending.clear();
    }
    idle_.close();
    check_.close();
    cache_timer_.close();
    timer_.close();
    async_.close();

    if (default_executor_) {
        default_executor_->shutdown(true);
        default_executor_.reset();
    }

    if (owned_) {
        // Let the close callbacks run, then close the loop; handles someone
        // else opened on our loop are closed too, without callbacks.
        uv_run(uv_, UV_RUN_NOWAIT);
        // Requests on the thread pool that uv_cancel could not stop (a
        // getaddrinfo or fs call already running) complete into this loop,
        // so it must live until they have: run it until nothing is left.
        // Their callbacks find their operations detached and only free the
        // requests.
        while (uv_loop_close(uv_) == UV_EBUSY) {
            uv_walk(
                uv_,
                [](uv_handle_t* h, void*) {
                    if (!uv_is_closing(h)) uv_close(h, nullptr);
                },
                nullptr);
            uv_run(uv_, UV_RUN_DEFAULT);
        }
    }
}

void event_loop::call_exception_handler(const exception_context& ctx) noexcept {
    if (!handler_) {
        default_exception_handler(ctx);
        return;
    }
    try {
        handler_(*this, ctx);
    } catch (...) {
        default_exception_handler(exception_context{"Unhandled error in exception handler", std::current_exception(), {}});
        default_exception_handler(ctx);
    }
}

void event_loop::default_exception_handler(const exception_context& ctx) noexcept {
    std::string text = "uvasync: " + ctx.message + "\n";
    if (!ctx.task_name.empty()) text += "  task: " + ctx.task_name + "\n";
    if (ctx.exception) text += "  exception: " + detail::describe(ctx.exception) + "\n";
    std::fputs(text.c_str(), stderr);
}

void event_loop::ran_for(const char* what, std::int64_t elapsed_ns, const std::string& name) noexcept {
    if (elapsed_ns < slow_.count()) return;
    char line[256];
    std::snprintf(line, sizeof line, "uvasync: executing %s%s%s took %.3f seconds\n", what, name.empty() ? "" : " ",
                  name.c_str(), static_cast<double>(elapsed_ns) / 1e9);
    std::fputs(line, stderr);
}

void event_loop::set_signal_handler(int signum, std::function<void()> fn) {
    if (signum == SIGKILL || signum == SIGSTOP)
        throw std::runtime_error("add_signal_handler: signal " + std::to_string(signum) + " cannot be caught");
    if (signum <= 0 || signum >= NSIG)
        throw std::invalid_argument("add_signal_handler: invalid signal number " + std::to_string(signum));
    core_.check_open("add_signal_handler");
    auto entry = std::make_unique<signal_entry>();
    entry->fn = std::move(fn);
    entry->loop = this;
    entry->handle = detail::uv_handle<uv_signal_t>::make([&](uv_signal_t* h) { return uv_signal_init(uv_, h); },
                                                         "uv_signal_init");
    entry->handle->data = entry.get();
    int rc = uv_signal_start(
        entry->handle.get(),
        [](uv_signal_t* h, int) {
            auto* e = static_cast<signal_entry*>(h->data);
            if (!e) return;
            detail::running_scope scope(e->loop);
            std::function<void()> fn = e->fn; // the handler may remove itself
            try {
                fn();
            } catch (...) {
                e->loop->report("Exception in signal handler", std::current_exception(), {});
            }
        },
        signum);
    if (rc < 0) throw_uv_error(rc, "add_signal_handler");
    uv_unref(entry->handle.base()); // a handler does not keep the loop alive
    signals_[signum] = std::move(entry);
}

bool event_loop::remove_signal_handler(int signum) { return signals_.erase(signum) > 0; }

bool event_loop::handles_signal(int signum) const noexcept {
    if (signals_.count(signum)) return true;
    const auto it = awaited_signals_.find(signum);
    return it != awaited_signals_.end() && it->second > 0;
}

void event_loop::set_default_executor(std::shared_ptr<executor> ex) { default_executor_ = std::move(ex); }

executor& event_loop::default_executor() {
    core_.check_open("default_executor");
    if (!default_executor_) default_executor_ = std::make_shared<thread_pool_executor>();
    return *default_executor_;
}

void event_loop::shutdown_default_executor() {
    if (default_executor_) default_executor_->shutdown(true);
}

// ---- free functions ------------------------------------------------------

event_loop& get_running_loop() {
    event_loop* l = detail::running_loop();
    if (!l) throw std::runtime_error("no running event loop");
    return *l;
}

std::optional<task_handle<>> current_task() {
    event_loop* loop = detail::running_loop();
    if (!loop || !loop->core().current_task()) return std::nullopt;
    return task_handle<>::share(loop->core().current_task());
}

std::vector<task_handle<>> all_tasks() {
    std::vector<task_handle<>> out;
    event_loop* loop = detail::running_loop();
    if (!loop) return out;
    const auto& pending = loop->core().pending_tasks();
    for (detail::task_state_base* t = pending.front(); t; t = pending.next(t)) out.push_back(task_handle<>::share(t));
    return out;
}

} // namespace uvasync
