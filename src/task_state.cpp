// The task state machine: starting, parking, waking, cancelling, finishing.
#include <uvasync/task_handle.hpp>

#include <atomic>

namespace uvasync::detail {

// ---- parking -------------------------------------------------------------

bool parked_op::park(task_state_base* t, std::coroutine_handle<> h) noexcept {
    task = t;
    if (t->must_cancel) return false;
    t->parked = this;
    t->resume_point = h;
    return true;
}

void parked_op::wake_now() noexcept {
    task_state_base* t = task;
    t->parked = nullptr;
    t->loop->resume(t, t->resume_point);
}

void parked_op::wake_soon() noexcept {
    task->parked = nullptr;
    task->schedule_step();
}

std::coroutine_handle<> parked_op::wake_from_task(bool may_transfer) noexcept {
    task_state_base* t = task;
    t->parked = nullptr;
    if (may_transfer) {
        t->loop->current_task = t;
        return t->resume_point;
    }
    t->schedule_step();
    return {};
}

void parked_op::throw_if_cancelled() const {
    if (task->must_cancel) {
        task->must_cancel = false;
        task->throw_cancelled();
    }
}

// ---- the task ------------------------------------------------------------

task_state_base::task_state_base(loop_core* l, std::coroutine_handle<> root) noexcept
    : id(static_cast<std::uint32_t>(l->next_task_id++)), loop(l), frame(root), resume_point(root) {
    run = &task_state_base::run_step;
}

task_state_base::~task_state_base() {
    if (frame) frame.destroy();
}

void task_state_base::run_step(ready_node* n) noexcept {
    auto* t = static_cast<task_state_base*>(n);
    t->queued = false;
    // The step resumes the task: whatever it was parked in is over. (sleep(0)
    // parks and queues the step itself; a stale `parked` would let a later
    // cancel() call the abort of an operation whose frame is gone.)
    t->parked = nullptr;
    if (t->done()) return;
    if (!t->started) {
        t->started = true;
        if (t->must_cancel) { // cancelled before it began: the body never runs
            t->finish_unstarted();
            return;
        }
    }
    t->loop->resume(t, t->resume_point);
}

void task_state_base::schedule_step() noexcept {
    if (!queued) {
        queued = true;
        loop->schedule(this);
    }
}

bool task_state_base::cancel(std::string message) {
    if (done()) return false;
    if (cancel_requests < UINT16_MAX) ++cancel_requests;
    if (!message.empty() || extra) extras().cancel_message = std::move(message);
    if (parked_op* p = parked) {
        if (p->abort(p)) return true; // handed on: the task wakes when that finishes
        parked = nullptr;
        must_cancel = true;
        schedule_step();
        return true;
    }
    must_cancel = true; // delivered at the next suspension, or instead of the body
    return true;
}

std::uint32_t task_state_base::uncancel() noexcept {
    if (cancel_requests > 0) --cancel_requests;
    if (cancel_requests == 0) must_cancel = false;
    return cancel_requests;
}

void task_state_base::throw_cancelled() const {
    if (error()) std::rethrow_exception(error());
    throw cancelled_error(extra ? extra->cancel_message : std::string());
}

void task_state_base::rethrow_if_failed() {
    retrieved = true;
    if (status == task_status::cancelled) throw_cancelled();
    if (error()) {
        loop_core::forget_failed(this);
        std::rethrow_exception(error());
    }
}

std::string task_state_base::name() const {
    if (extra && !extra->name.empty()) return extra->name;
    return "Task-" + std::to_string(id);
}

void task_state_base::set_name(std::string n) { extras().name = std::move(n); }

namespace {
const std::exception_ptr no_error; // namespace scope: no initialisation guard per call
}

const std::exception_ptr& task_state_base::error() const noexcept { return extra ? extra->error : no_error; }

void task_state_base::set_error(std::exception_ptr e) { extras().error = std::move(e); }

task_extra& task_state_base::extras() {
    if (!extra) extra = std::make_unique<task_extra>();
    return *extra;
}

bool task_state_base::remove_waiter(task_waiter* w) noexcept {
    for (task_waiter** p = &waiters; *p; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            w->next = nullptr;
            return true;
        }
    }
    return false;
}

namespace {
// Wakes every waiter in the order they came; the first awaiter may be
// transferred to directly when `may_transfer`.
std::coroutine_handle<> wake_waiters(task_waiter* newest_first, bool may_transfer) noexcept {
    task_waiter* fifo = nullptr;
    while (newest_first) {
        task_waiter* next = newest_first->next;
        newest_first->next = fifo;
        fifo = newest_first;
        newest_first = next;
    }
    std::coroutine_handle<> transfer;
    while (fifo) {
        task_waiter* next = fifo->next;
        fifo->next = nullptr;
        std::coroutine_handle<> h = fifo->notify(fifo, may_transfer && !transfer);
        if (h && !transfer) transfer = h;
        fifo = next;
    }
    return transfer;
}
} // namespace

std::coroutine_handle<> task_state_base::finish(std::exception_ptr failure) noexcept {
    if (failure) {
        try {
            std::rethrow_exception(failure);
        } catch (const cancelled_error&) {
            status = task_status::cancelled;
        } catch (...) {
            status = task_status::finished;
        }
        set_error(std::move(failure)); // out of memory here ends the program (noexcept)
    } else if (must_cancel) {
        // Cancelled after its last suspension, then returned: asyncio counts
        // that as cancelled (test_cancel_at_end).
        status = task_status::cancelled;
    } else {
        status = task_status::finished;
    }
    must_cancel = false;
    parked = nullptr;
    loop->unlink_task(this);
    if (status == task_status::finished && error()) loop->track_failed(this);
    task_waiter* w = std::exchange(waiters, nullptr);
    loop->retire(this);
    std::coroutine_handle<> next = wake_waiters(w, true);
    if (!next) loop->current_task = nullptr;
    return next ? next : std::noop_coroutine();
}

void task_state_base::finish_unstarted() noexcept {
    status = task_status::cancelled;
    must_cancel = false;
    loop->unlink_task(this);
    task_waiter* w = std::exchange(waiters, nullptr);
    loop->retire(this);
    wake_waiters(w, false);
}

void task_state_base::last_release() noexcept {
    if (listed_failed) loop_core::report_unretrieved(this);
    delete this;
}

// ---- done callbacks ------------------------------------------------------

namespace {
std::atomic<std::size_t> next_callback_id{1};

struct done_callback final : task_waiter, ready_node {
    std::function<void()> fn;
    std::size_t id;
    loop_core* loop;

    done_callback(std::function<void()> f, loop_core* l)
        : fn(std::move(f)), id(next_callback_id.fetch_add(1, std::memory_order_relaxed)), loop(l) {
        notify = &on_notify;
        run = &on_run;
    }
    static std::coroutine_handle<> on_notify(task_waiter* w, bool) noexcept {
        auto* self = static_cast<done_callback*>(w);
        self->loop->schedule(self);
        return {};
    }
    static void on_run(ready_node* n) noexcept {
        auto* self = static_cast<done_callback*>(n);
        try {
            self->fn();
        } catch (...) {
            self->loop->report_exception("Exception in callback", std::current_exception(), {});
        }
        delete self;
    }
};
} // namespace

std::size_t add_done_callback(task_state_base* s, std::function<void()> fn) {
    if (s->done()) {
        event_loop* running = running_loop();
        if (!running || &running->core() != s->loop)
            throw std::runtime_error("add_done_callback: the task is done and its event loop is not running");
        auto* cb = new done_callback(std::move(fn), s->loop);
        s->loop->schedule(cb);
        return cb->id;
    }
    auto* cb = new done_callback(std::move(fn), s->loop);
    s->add_waiter(cb);
    return cb->id;
}

std::size_t remove_done_callback(task_state_base* s, std::size_t id) noexcept {
    std::size_t removed = 0;
    for (task_waiter** p = &s->waiters; *p;) {
        if ((*p)->notify == &done_callback::on_notify && static_cast<done_callback*>(*p)->id == id) {
            auto* cb = static_cast<done_callback*>(*p);
            *p = cb->task_waiter::next;
            delete cb;
            ++removed;
        } else {
            p = &(*p)->next;
        }
    }
    return removed;
}

void discard(ready_node* n) noexcept {
    if (n->run == &task_state_base::run_step) static_cast<task_state_base*>(n)->queued = false;
    else if (n->run == &callback_node::run) static_cast<callback_node*>(n)->release();
    else if (n->run == &done_callback::on_run) delete static_cast<done_callback*>(n);
}

void discard_done_callbacks(task_state_base* s) noexcept {
    task_waiter* w = std::exchange(s->waiters, nullptr);
    while (w) {
        task_waiter* next = w->next;
        if (w->notify == &done_callback::on_notify) delete static_cast<done_callback*>(w);
        w = next;
    }
}

} // namespace uvasync::detail
