// The loop core: running the ready queue and the timers, resuming and
// reaping tasks, closing.
#include <uvasync/detail/loop_core.hpp>
#include <uvasync/detail/operation.hpp>
#include <uvasync/event_loop.hpp>

namespace uvasync::detail {

namespace {
thread_local event_loop* t_running_loop = nullptr;
} // namespace

running_scope::running_scope(event_loop* l) noexcept : prev_(t_running_loop) { t_running_loop = l; }
running_scope::~running_scope() { t_running_loop = prev_; }

event_loop* running_loop() noexcept { return t_running_loop; }

loop_core& running_core() {
    if (!t_running_loop) throw std::runtime_error("no running event loop");
    return t_running_loop->core();
}

task_state_base* running_task() noexcept { return t_running_loop ? t_running_loop->core().current_task() : nullptr; }

void loop_core::check_open(const char* what) const {
    if (closed_) throw std::runtime_error(std::string(what) + ": the event loop is closed");
}

void loop_core::run_ready(int batches, const bool& stopping) noexcept {
    running_scope scope(owner_);
    for (int round = 0; round < batches && !ready_.empty() && !(round > 0 && stopping); ++round) {
        ready_queue batch;
        batch.splice_back(ready_);
        if (debug_) {
            while (ready_node* n = batch.pop_front()) {
                const std::int64_t start = now_ns();
                n->run();
                driver_->ran_for("callback", now_ns() - start, {});
            }
        } else {
            while (ready_node* n = batch.pop_front()) n->run();
        }
        if (!retired_.empty()) reap();
    }
}

void loop_core::add_timer(timer_node& n) noexcept {
    timers_.push(&n);
    if (n.deadline < armed_deadline_) arm();
}

void loop_core::remove_timer(timer_node& n) noexcept {
    timers_.remove(&n);
    if (timers_.empty()) arm();
}

void loop_core::arm() noexcept {
    if (timers_.empty()) { // nothing to wait for: the loop may exit
        driver_->arm_timer(INT64_MAX);
        armed_deadline_ = INT64_MAX;
        return;
    }
    const std::int64_t deadline = timers_.top()->deadline;
    if (deadline == armed_deadline_) return;
    driver_->arm_timer(deadline);
    armed_deadline_ = deadline;
}

void loop_core::fire_timers() noexcept {
    running_scope scope(owner_);
    armed_deadline_ = INT64_MAX; // it went off: nothing is armed now
    const std::int64_t now = now_ns();
    const std::uint64_t existing = timers_.next_seq(); // timers made while firing wait a turn
    while (!timers_.empty()) {
        timer_node* n = timers_.top();
        if (n->deadline > now || n->seq >= existing) break;
        timers_.pop();
        n->fire();
    }
    if (!retired_.empty()) reap();
    arm();
}

void loop_core::start_task(task_state_base& t, bool eager) noexcept {
    pending_.push_back(&t);
    if (!eager) {
        t.schedule_step();
        return;
    }
    // The body runs now, inside the new task, up to its first suspension; a
    // task that finishes there is done when create_task returns and never
    // scheduled (asyncio 3.12's eager task factory, 3.14's eager_start).
    t.started_ = true;
    resume(t);
    // One that finished is reaped now rather than when the creator's step
    // ends, so a loop creating eager tasks that never suspend runs in
    // constant memory. Nothing else can be on its frame: nobody awaits it yet.
    if (!retired_.empty() && retired_.back() == &t) {
        retired_.pop_back();
        reap_one(t);
        driver_->frames_freed();
    }
}

void loop_core::resume(task_state_base& t) noexcept {
    running_scope scope(owner_);
    task_state_base* prev = current_;
    current_ = &t;
    if (debug_) [[unlikely]] resume_timed(t);
    else t.resume_point_.resume();
    current_ = prev;
    if (!prev && !retired_.empty()) reap();
}

// Here, beside resume(), so that a libuv callback that completes an
// operation (a read, a timer) resumes its task in one call.
void operation_base::wake_now() noexcept {
    if (phase_ == phase::starting) {
        phase_ = phase::inline_;
        return;
    }
    phase_ = phase::woken;
    task_state_base* t = task_;
    t->parked_ = nullptr;
    t->loop_->resume(*t);
}

void loop_core::resume_timed(task_state_base& t) noexcept {
    const std::int64_t start = now_ns();
    const std::string name = t.name();
    t.resume_point_.resume();
    driver_->ran_for("task step", now_ns() - start, name);
}

void loop_core::retire(task_state_base& t) { retired_.push_back(&t); }

void loop_core::reap() noexcept {
    // Destroying a frame can finish or free other tasks: one at a time.
    while (!retired_.empty()) {
        task_state_base* t = retired_.back();
        retired_.pop_back();
        reap_one(*t);
    }
    driver_->frames_freed();
}

void loop_core::reap_one(task_state_base& t) noexcept {
    if (t.frame_) std::exchange(t.frame_, {}).destroy();
    t.release(); // the loop's reference
}

void loop_core::close() noexcept {
    closed_ = true;
    // Pending tasks end where they stand: each parked operation is stopped
    // (timers disarmed, requests detached, waits unlinked), then the frames
    // are destroyed, which runs their destructors.
    std::vector<task_state_base*> pending;
    for (task_state_base* t = pending_.front(); t; t = pending_.next(t)) {
        t->add_ref();
        pending.push_back(t);
    }
    for (task_state_base* t : pending) t->status_ = task_status::cancelled; // a cancel() now does nothing
    for (task_state_base* t : pending) {
        if (operation_base* op = std::exchange(t->parked_, nullptr)) op->cancel_hook();
    }
    for (task_state_base* t : pending) {
        t->list_hook<task_list_tag>::unlink();
        t->root_promise_ = nullptr;
        if (t->frame_) std::exchange(t->frame_, {}).destroy();
    }
    // Nothing queued or armed runs now.
    while (ready_node* n = ready_.pop_front()) n->discard();
    while (!timers_.empty()) timers_.pop()->discard();
    for (task_state_base* t : pending) {
        for (task_waiter* w = t->waiters_.front(); w;) { // done callbacks never run
            task_waiter* next = t->waiters_.next(w);
            if (w->callback_id()) delete static_cast<done_callback*>(w);
            w = next;
        }
        t->release(); // ours
        t->release(); // the loop's
    }
    reap();
    while (resource* r = resources_.pop_front()) r->close_for_loop();
    // Failures still unretrieved are reported when their last handle goes,
    // by the default handler, since this loop will be gone.
    while (task_state_base* t = failed_.pop_front()) t->loop_ = nullptr;
}

} // namespace uvasync::detail
