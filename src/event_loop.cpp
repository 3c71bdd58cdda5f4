// The event loop: the ready queue and timers on libuv handles, running and
// stopping, closing, exception reporting, threadsafe calls, signals.
#include <uvasync/event_loop.hpp>
#include <uvasync/executor.hpp>
#include <uvasync/task_handle.hpp>

#include <csignal>
#include <cstdio>
#include <typeinfo>

namespace uvasync {

namespace detail {
namespace {
thread_local event_loop* t_running_loop = nullptr;

// Sets the thread's running loop for the length of a callback, so that a
// loop driven by someone else's uv_run still looks like a running loop.
class running_scope {
public:
    explicit running_scope(event_loop* l) noexcept : prev_(t_running_loop) { t_running_loop = l; }
    ~running_scope() { t_running_loop = prev_; }
    running_scope(const running_scope&) = delete;
    running_scope& operator=(const running_scope&) = delete;

private:
    event_loop* prev_;
};

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

void print_context(const exception_context& ctx) noexcept {
    std::string text = "uvasync: " + ctx.message + "\n";
    if (!ctx.task_name.empty()) text += "  task: " + ctx.task_name + "\n";
    if (ctx.exception) text += "  exception: " + describe(ctx.exception) + "\n";
    std::fputs(text.c_str(), stderr);
}
} // namespace

event_loop* running_loop() noexcept { return t_running_loop; }

// ---- loop_core -----------------------------------------------------------

event_loop& loop_core::self() noexcept { return static_cast<event_loop&>(*this); }

void loop_core::resume(task_state_base* t, std::coroutine_handle<> h) noexcept {
    event_loop& loop = self();
    running_scope scope(&loop);
    task_state_base* prev = current_task;
    current_task = t;
    if (loop.debug_) {
        const std::int64_t start = now_ns();
        const std::string name = t->name();
        h.resume();
        loop.report_slow("task step", now_ns() - start, name);
    } else {
        h.resume();
    }
    current_task = prev;
    if (!prev && !retired_.empty()) reap();
}

void loop_core::reap() noexcept {
    // Destroying a frame can finish or free other tasks: take one at a time.
    while (!retired_.empty()) {
        task_state_base* t = retired_.back();
        retired_.pop_back();
        if (t->frame) std::exchange(t->frame, {}).destroy();
        t->release(); // the loop's reference
    }
}

void loop_core::wake_ready() noexcept {
    event_loop& loop = self();
    if (loop.idle_) uv_idle_start(loop.idle_.get(), &event_loop::on_idle);
}

void loop_core::run_ready() noexcept {
    event_loop& loop = self();
    running_scope scope(&loop);
    // A batch is what was ready when it began (asyncio's tick). Polling for
    // I/O between every two batches would cost a syscall per tick, so a few
    // batches run per libuv iteration; I/O and timers still get their turn
    // after at most `batches_per_iteration`.
    constexpr int batches_per_iteration = 16;
    // After stop() the batch of this iteration still runs (asyncio runs one
    // iteration even when stop() came before run_forever), but no more.
    for (int round = 0; round < batches_per_iteration && !ready_.empty() && !(round > 0 && loop.stopping_);
         ++round) {
        ready_queue batch;
        ready_.take_all(batch);
        if (loop.debug_) {
            while (ready_node* n = batch.pop()) {
                const std::int64_t start = now_ns();
                n->run(n);
                loop.report_slow("callback", now_ns() - start, {});
            }
        } else {
            while (ready_node* n = batch.pop()) n->run(n);
        }
        if (!retired_.empty()) reap();
    }
}

void loop_core::add_timer(timer_node* n) noexcept {
    timers_.push(n);
    if (n->deadline < armed_deadline_) arm_timer();
}

void loop_core::remove_timer(timer_node* n) noexcept {
    timers_.remove(n);
    if (timers_.empty()) arm_timer();
}

void loop_core::arm_timer() noexcept {
    event_loop& loop = self();
    if (timers_.empty()) { // nothing to wait for: the loop may exit
        loop.timer_.disarm();
        armed_deadline_ = INT64_MAX;
        return;
    }
    const std::int64_t deadline = timers_.top()->deadline;
    if (deadline == armed_deadline_) return;
    loop.timer_.arm(deadline);
    armed_deadline_ = deadline;
}

void loop_core::fire_timers() noexcept {
    running_scope scope(&self());
    const std::int64_t now = now_ns();
    const std::uint64_t existing = timers_.next_seq(); // later ones wait a turn
    while (!timers_.empty()) {
        timer_node* n = timers_.top();
        if (n->deadline > now || n->seq >= existing) break;
        timers_.pop();
        n->fire(n);
    }
    if (!retired_.empty()) reap();
    arm_timer();
}

void loop_core::link_task(task_state_base* t) noexcept {
    t->prev = nullptr;
    t->next_task = all_tasks_;
    if (all_tasks_) all_tasks_->prev = t;
    all_tasks_ = t;
}

void loop_core::unlink_task(task_state_base* t) noexcept {
    if (t->prev) t->prev->next_task = t->next_task;
    else if (all_tasks_ == t) all_tasks_ = t->next_task;
    if (t->next_task) t->next_task->prev = t->prev;
    t->prev = t->next_task = nullptr;
}

void loop_core::track_failed(task_state_base* t) noexcept {
    t->listed_failed = true;
    t->prev = nullptr;
    t->next_task = failed_;
    if (failed_) failed_->prev = t;
    failed_ = t;
}

void loop_core::forget_failed(task_state_base* t) noexcept {
    if (!t->listed_failed) return;
    t->listed_failed = false;
    if (t->prev) t->prev->next_task = t->next_task;
    else if (t->loop && t->loop->failed_ == t) t->loop->failed_ = t->next_task;
    if (t->next_task) t->next_task->prev = t->prev;
    t->prev = t->next_task = nullptr;
}

void loop_core::report_unretrieved(task_state_base* t) noexcept {
    loop_core* loop = t->loop;
    forget_failed(t);
    std::string name;
    try {
        name = t->name();
    } catch (...) {
    }
    if (loop) {
        loop->report_exception("Task exception was never retrieved", t->error(), std::move(name));
    } else { // the loop is gone: report as its default handler would have
        print_context(exception_context{"Task exception was never retrieved", t->error(), std::move(name)});
    }
}

void loop_core::report_exception(const char* message, std::exception_ptr e, std::string task_name) noexcept {
    try {
        self().call_exception_handler(exception_context{message, std::move(e), std::move(task_name)});
    } catch (...) {
    }
}

void loop_core::add_resource(resource* r) noexcept {
    r->prev = nullptr;
    r->next = resources_;
    if (resources_) resources_->prev = r;
    resources_ = r;
}

void loop_core::remove_resource(resource* r) noexcept {
    if (r->prev) r->prev->next = r->next;
    else if (resources_ == r) resources_ = r->next;
    if (r->next) r->next->prev = r->prev;
    r->prev = r->next = nullptr;
}

// ---- callbacks -----------------------------------------------------------

void callback_node::run(ready_node* n) noexcept {
    auto* c = static_cast<callback_node*>(n);
    if (!c->cancelled) {
        try {
            c->invoke();
        } catch (...) {
            c->loop->core().report_exception("Exception in callback", std::current_exception(), {});
        }
    }
    c->release();
}

void callback_node::fire(timer_node* n) noexcept { run(static_cast<callback_node*>(n)); }

} // namespace detail

// ---- handles -------------------------------------------------------------

void handle::cancel() noexcept {
    if (!node_ || node_->cancelled) return;
    node_->cancelled = true;
    if (node_->armed()) { // a pending call_later: take it off the heap now
        node_->loop->core().remove_timer(node_);
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
    prepare_ = detail::uv_handle<uv_prepare_t>::make([&](uv_prepare_t* h) { return uv_prepare_init(uv_, h); },
                                                     "uv_prepare_init");
    timer_.open(uv_, &on_timer, this);
    cache_timer_ = detail::uv_handle<uv_timer_t>::make([&](uv_timer_t* h) { return uv_timer_init(uv_, h); },
                                                       "uv_timer_init");
    uv_unref(cache_timer_.base());
    async_ = detail::uv_handle<uv_async_t>::make([&](uv_async_t* h) { return uv_async_init(uv_, h, &on_async); },
                                                 "uv_async_init");
    for (uv_handle_t* h : {idle_.base(), check_.base(), prepare_.base(), async_.base()}) h->data = this;
    uv_check_start(check_.get(), &on_check);
    uv_unref(check_.base());
    uv_prepare_start(prepare_.get(), &on_prepare);
    uv_unref(prepare_.base());
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

void event_loop::on_idle(uv_idle_t* h) {
    auto* self = static_cast<event_loop*>(h->data);
    self->run_ready();
    if (self->ready_.empty() && self->idle_) uv_idle_stop(h);
}

void event_loop::on_check(uv_check_t* h) {
    auto* self = static_cast<event_loop*>(h->data);
    // Once stopped, what callbacks queued waits for the next run (asyncio).
    if (!self->ready_.empty() && !self->stopping_) self->run_ready();
}

void event_loop::on_prepare(uv_prepare_t* h) {
    // Nothing ready and not stopping: the loop is about to wait for I/O or a
    // timer, a good time to hand back what a burst left in the frame cache;
    // the cache may ask to be called again after a quiet second (the timer
    // only wakes the loop up for that; it keeps nothing alive).
    auto* self = static_cast<event_loop*>(h->data);
    if (!self->ready_.empty() || self->stopping_) {
        detail::frame_cache_loop_busy();
        return;
    }
    const std::int64_t now = static_cast<std::int64_t>(uv_now(self->uv_)) * 1'000'000;
    const std::int64_t at = detail::frame_cache_idle(now);
    if (at && !uv_is_active(self->cache_timer_.base())) {
        const auto ms = static_cast<std::uint64_t>((at - now + 999'999) / 1'000'000);
        uv_timer_start(self->cache_timer_.get(), [](uv_timer_t*) {}, ms, 0);
    }
}

void event_loop::on_timer(void* loop) {
    auto* self = static_cast<event_loop*>(loop);
    self->armed_deadline_ = INT64_MAX; // fired: no longer armed
    self->fire_timers();
}

void event_loop::on_async(uv_async_t* h) { static_cast<event_loop*>(h->data)->drain_threadsafe(); }

void event_loop::drain_threadsafe() noexcept {
    std::vector<detail::callback_node*> batch;
    {
        std::lock_guard lock(gate_->mutex);
        batch.swap(gate_->pending);
    }
    for (detail::callback_node* n : batch) {
        n->loop = this;
        n->ready_node::run = &detail::callback_node::run;
        schedule(n);
    }
}

bool detail::post_to(threadsafe_queue& q, callback_node* n) noexcept {
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

void event_loop::post_threadsafe(detail::callback_node* n) {
    if (!detail::post_to(*gate_, n)) throw std::runtime_error("call_soon_threadsafe: the event loop is closed");
}

timer_handle event_loop::schedule_at(std::int64_t deadline, detail::callback_node* n) {
    if (closed_) {
        delete n;
        throw std::runtime_error("call_later: the event loop is closed");
    }
    n->loop = this;
    n->deadline = deadline;
    n->timer_node::fire = &detail::callback_node::fire;
    n->refs = 2; // the heap's and the handle's
    add_timer(n);
    return timer_handle(n);
}

void event_loop::run_forever() {
    if (closed_) throw std::runtime_error("run_forever: the event loop is closed");
    // t_running_loop == this without running_: a wrapped loop whose callback
    // runs under the program's own uv_run, which must not be re-entered.
    if (running_ || detail::t_running_loop == this)
        throw std::runtime_error("run_forever: this event loop is already running");
    if (detail::t_running_loop)
        throw std::runtime_error("run_forever: another event loop is running on this thread");
    detail::running_scope scope(this);
    running_ = true;
    uv_ref(async_.base());
    if (stopping_) { // stop() came first: asyncio still runs one iteration
        run_ready();
    } else {
        while (!stopping_) {
            uv_run(uv_, UV_RUN_DEFAULT);
        }
    }
    uv_unref(async_.base());
    running_ = false;
    stopping_ = false;
}

void event_loop::stop() noexcept {
    stopping_ = true;
    if (running_) uv_stop(uv_);
}

void event_loop::run_until_done(detail::task_state_base* t) {
    struct stopper : detail::task_waiter {
        event_loop* loop;
    } w;
    w.loop = this;
    w.notify = [](detail::task_waiter* self, bool) noexcept -> std::coroutine_handle<> {
        static_cast<stopper*>(self)->loop->stop();
        return {};
    };
    if (t->done()) return;
    t->add_waiter(&w);
    try {
        run_forever();
    } catch (...) {
        t->remove_waiter(&w);
        throw;
    }
    if (!t->done()) {
        t->remove_waiter(&w);
        throw std::runtime_error("run_until_complete: the event loop stopped before the task finished");
    }
}

void event_loop::cancel_all_tasks() {
    // This loop's pending tasks (not the free all_tasks(), which sees only a
    // loop that is running: run() calls this after run_until_complete returned).
    std::vector<task_handle<>> pending;
    for (detail::task_state_base* t = all_tasks_; t; t = t->next_task) {
        t->add_ref();
        pending.push_back(task_handle<>::adopt(t));
    }
    if (pending.empty()) return;
    for (auto& h : pending) h.cancel();
    struct counter : detail::task_waiter {
        event_loop* loop;
        std::size_t* left;
    };
    std::size_t left = 0;
    std::vector<counter> waiters(pending.size());
    for (std::size_t i = 0; i < pending.size(); ++i) {
        if (pending[i].done()) continue;
        ++left;
        waiters[i].loop = this;
        waiters[i].left = &left;
        waiters[i].notify = [](detail::task_waiter* self, bool) noexcept -> std::coroutine_handle<> {
            auto* c = static_cast<counter*>(self);
            if (--*c->left == 0) c->loop->stop();
            return {};
        };
        pending[i].state()->add_waiter(&waiters[i]);
    }
    if (left > 0) {
        try {
            run_forever();
        } catch (...) {
            for (std::size_t i = 0; i < pending.size(); ++i)
                if (waiters[i].notify) pending[i].state()->remove_waiter(&waiters[i]);
            throw;
        }
    }
    for (auto& h : pending) {
        if (!h.done()) continue;
        if (!h.cancelled() && h.state()->error()) {
            h.state()->retrieved = true;
            detail::loop_core::forget_failed(h.state());
            report_exception("unhandled exception during run() shutdown", h.state()->error(), h.get_name());
        }
    }
}

void event_loop::close() {
    if (closed_) return;
    if (running_) throw std::runtime_error("close: cannot close a running event loop");
    closed_ = true;

    // Pending tasks are destroyed where they stand: their frames' destructors
    // take their awaitables off timers, wait lists and libuv requests.
    std::vector<detail::task_state_base*> pending;
    for (detail::task_state_base* t = all_tasks_; t; t = t->next_task) {
        t->add_ref();
        pending.push_back(t);
    }
    for (detail::task_state_base* t : pending) {
        unlink_task(t);
        t->status = detail::task_status::cancelled;
        t->parked = nullptr;
        if (t->frame) std::exchange(t->frame, {}).destroy();
    }
    // Callbacks never run now (nor steps of the tasks just destroyed).
    while (detail::ready_node* n = ready_.pop()) detail::discard(n);
    for (detail::task_state_base* t : pending) {
        detail::discard_done_callbacks(t);
        t->release(); // ours
        t->release(); // the loop's
    }
    reap();

    while (!timers_.empty()) { // call_later callbacks
        detail::timer_node* n = timers_.pop();
        if (n->fire == &detail::callback_node::fire) static_cast<detail::callback_node*>(n)->release();
    }

    while (resources_) {
        resource* r = resources_;
        remove_resource(r);
        r->close_for_loop();
    }
    signals_.clear();

    {
        std::lock_guard lock(gate_->mutex);
        gate_->async = nullptr;
        for (detail::callback_node* n : gate_->pending) delete n;
        gate_->pending.clear();
    }
    idle_.close();
    check_.close();
    prepare_.close();
    cache_timer_.close();
    timer_.close();
    async_.close();

    // Failures still unretrieved are reported when their handles go, by the
    // default handler, since this loop will be gone.
    while (failed_) {
        detail::task_state_base* t = failed_;
        failed_ = t->next_task;
        t->prev = t->next_task = nullptr;
        t->loop = nullptr;
    }

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

void event_loop::default_exception_handler(const exception_context& ctx) noexcept { detail::print_context(ctx); }

void event_loop::report_slow(const char* what, std::int64_t elapsed_ns, const std::string& name) noexcept {
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
    if (closed_) throw std::runtime_error("add_signal_handler: the event loop is closed");
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
                e->loop->report_exception("Exception in signal handler", std::current_exception(), {});
            }
        },
        signum);
    if (rc < 0) throw_uv_error(rc, "add_signal_handler");
    uv_unref(entry->handle.base()); // a handler does not keep the loop alive
    signals_[signum] = std::move(entry);
}

bool event_loop::remove_signal_handler(int signum) { return signals_.erase(signum) > 0; }

void event_loop::set_default_executor(std::shared_ptr<executor> ex) { default_executor_ = std::move(ex); }

executor& event_loop::default_executor() {
    if (closed_) throw std::runtime_error("default_executor: the event loop is closed");
    if (!default_executor_) default_executor_ = std::make_shared<thread_pool_executor>();
    return *default_executor_;
}

void event_loop::shutdown_default_executor() {
    if (default_executor_) default_executor_->shutdown(true);
}

// ---- free functions ------------------------------------------------------

event_loop& get_running_loop() {
    if (!detail::t_running_loop) throw std::runtime_error("no running event loop");
    return *detail::t_running_loop;
}

std::optional<task_handle<>> current_task() {
    event_loop* loop = detail::t_running_loop;
    if (!loop || !loop->core().current_task) return std::nullopt;
    loop->core().current_task->add_ref();
    return task_handle<>::adopt(loop->core().current_task);
}

std::vector<task_handle<>> all_tasks() {
    std::vector<task_handle<>> out;
    event_loop* loop = detail::t_running_loop;
    if (!loop) return out;
    for (detail::task_state_base* t = loop->core().pending_tasks(); t; t = t->next_task) {
        t->add_ref();
        out.push_back(task_handle<>::adopt(t));
    }
    return out;
}

} // namespace uvasync
