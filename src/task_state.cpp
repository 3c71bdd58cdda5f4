// The task state machine: steps, cancellation, finishing; and the half of
// the cancellation protocol that every operation shares.
#include <uvasync/detail/loop_core.hpp>
#include <uvasync/detail/operation.hpp>
#include <uvasync/errors.hpp>
#include <uvasync/task.hpp>

#include <atomic>
#include <cstdio>

namespace uvasync::detail {

struct task_state_base::extra {
    std::string name;
    std::string cancel_message;
    std::exception_ptr error; // the failure, or the cancelled_error
};

namespace {
const std::string no_message;
const std::exception_ptr no_error;
} // namespace

// ---- the protocol's shared half (operation.hpp) --------------------------

bool operation_base::deliver_pending_cancel() noexcept {
    // asyncio's Task.__step: a cancellation pending when the task starts
    // waiting goes to what it now waits on (gather's children, the
    // executor's job), not merely to the next suspension.
    task_->must_cancel_ = false;
    phase_ = phase::parked;
    if (cancel_hook() == cancel_outcome::handed_on) return true;
    task_->parked_ = nullptr;
    phase_ = phase::stopped;
    return false;
}

bool operation_base::cancelled_on_resume(phase p) {
    // One cancelled_error answers every request made before it is thrown: a
    // second cancel() while the task was queued is not delivered again at
    // the next suspension (asyncio's __step clears _must_cancel).
    task_->must_cancel_ = false;
    if (p == phase::stopped) task_->throw_cancellation();
    return true;
}

void operation_base::wake_soon(ready_node* via) noexcept {
    phase_ = phase::woken;
    task_->parked_ = nullptr;
    if (via) task_->loop_->schedule(*via);
    else task_->schedule_step();
}

void operation_base::resume_woken() noexcept { task_->loop_->resume(*task_); }

void operation_base::wait_again() noexcept {
    phase_ = phase::parked;
    task_->parked_ = this;
}

std::coroutine_handle<> operation_base::wake_transfer(bool may_transfer) noexcept {
    if (phase_ == phase::starting) {
        phase_ = phase::inline_;
        return {};
    }
    phase_ = phase::woken;
    task_state_base* t = task_;
    t->parked_ = nullptr;
    if (may_transfer) {
        t->loop_->set_current_task(t);
        return t->resume_point_;
    }
    t->schedule_step();
    return {};
}

// ---- the task ------------------------------------------------------------

task_state_base::task_state_base(loop_core& l, std::coroutine_handle<> root, promise_base& p) noexcept
    : id_(l.next_task_id()), loop_(&l), frame_(root), resume_point_(root), root_promise_(&p) {
    p.root = this;
}

task_state_base::~task_state_base() {
    if (frame_) frame_.destroy();
}

void task_state_base::run() noexcept {
    if (done()) return;
    if (!started_) {
        started_ = true;
        if (must_cancel_) { // cancelled before it began: the body never runs
            finish_unstarted();
            return;
        }
    }
    loop_->resume(*this);
}

void task_state_base::schedule_step() noexcept {
    if (!queued()) loop_->schedule(*this);
}

bool task_state_base::cancel(std::string message) {
    if (done()) return false;
    if (cancel_requests_ < UINT16_MAX) ++cancel_requests_;
    if (!message.empty() || extra_) extras().cancel_message = std::move(message);
    if (operation_base* op = parked_) {
        if (op->cancel_hook() == cancel_outcome::handed_on) return true; // it wakes us when that ends
        parked_ = nullptr;
        op->phase_ = operation_base::phase::stopped;
        schedule_step();
        return true;
    }
    must_cancel_ = true; // delivered at the next suspension, or instead of the body
    return true;
}

std::uint32_t task_state_base::uncancel() noexcept {
    if (cancel_requests_ > 0) --cancel_requests_;
    if (cancel_requests_ == 0) must_cancel_ = false;
    return cancel_requests_;
}

const std::string& task_state_base::cancel_message() const noexcept {
    return extra_ ? extra_->cancel_message : no_message;
}

void task_state_base::throw_cancellation() const { throw cancelled_error(cancel_message()); }

std::string task_state_base::name() const {
    if (extra_ && !extra_->name.empty()) return extra_->name;
    return "Task-" + std::to_string(id_);
}

void task_state_base::set_name(std::string n) { extras().name = std::move(n); }

const std::exception_ptr& task_state_base::error() const noexcept { return extra_ ? extra_->error : no_error; }

void task_state_base::mark_retrieved() noexcept {
    if (!unretrieved_) return;
    unretrieved_ = false;
    list_hook<task_list_tag>::unlink(); // off the loop's list of failures
}

void task_state_base::rethrow_if_failed() {
    if (status_ == task_status::cancelled) {
        if (error()) std::rethrow_exception(error());
        throw_cancellation();
    }
    if (error()) {
        mark_retrieved();
        std::rethrow_exception(error());
    }
}

std::exception_ptr task_state_base::take_error() noexcept {
    if (status_ == task_status::cancelled && !error()) {
        try {
            throw_cancellation();
        } catch (...) {
            return std::current_exception();
        }
    }
    mark_retrieved();
    return error();
}

task_state_base::extra& task_state_base::extras() {
    if (!extra_) extra_ = std::make_unique<extra>();
    return *extra_;
}

std::coroutine_handle<> task_state_base::finish(std::exception_ptr failure) noexcept {
    task_status s = task_status::finished;
    if (failure) {
        try {
            std::rethrow_exception(failure);
        } catch (const cancelled_error&) {
            s = task_status::cancelled;
        } catch (...) {
        }
        extras().error = std::move(failure); // out of memory here ends the program (noexcept)
    } else if (must_cancel_) {
        // Cancelled after its last suspension, then returned: asyncio counts
        // that as cancelled (test_cancel_at_end).
        s = task_status::cancelled;
    }
    root_promise_ = nullptr;
    settle(s);
    // Wake every waiter in the order they came; the first awaiting task may
    // be transferred to directly.
    std::coroutine_handle<> transfer;
    while (task_waiter* w = waiters_.pop_front()) {
        std::coroutine_handle<> h = w->task_finished(!transfer);
        if (h && !transfer) transfer = h;
    }
    if (!transfer) loop_->set_current_task(nullptr);
    return transfer ? transfer : std::noop_coroutine();
}

void task_state_base::finish_unstarted() noexcept {
    root_promise_ = nullptr;
    settle(task_status::cancelled);
    while (task_waiter* w = waiters_.pop_front()) w->task_finished(false);
}

void task_state_base::settle(task_status s) noexcept {
    status_ = s;
    must_cancel_ = false;
    parked_ = nullptr;
    list_hook<task_list_tag>::unlink(); // no longer pending
    if (failed()) {
        unretrieved_ = true;
        loop_->track_failed(*this);
    }
    loop_->retire(*this);
}

void task_state_base::last_release() noexcept {
    if (unretrieved_) {
        const std::string task_name = name();
        const char* what = report_as_ == unretrieved_report::client_connected_cb
                               ? "Unhandled exception in client_connected_cb"
                               : "Task exception was never retrieved";
        if (loop_) {
            loop_->report(what, error(), task_name);
        } else { // the loop closed before the last handle went
            std::string text = std::string("uvasync: ") + what + "\n  task: " + task_name + "\n";
            try {
                std::rethrow_exception(error());
            } catch (const std::exception& e) {
                text += std::string("  exception: ") + e.what() + "\n";
            } catch (...) {
            }
            std::fputs(text.c_str(), stderr);
        }
    }
    delete this;
}

// ---- done callbacks --------------------------------------------------------

namespace {
std::atomic<std::size_t> next_callback_id{1};
} // namespace

done_callback::done_callback(loop_core& l, std::function<void()> f)
    : fn(std::move(f)), id(next_callback_id.fetch_add(1, std::memory_order_relaxed)), loop(&l) {}

std::coroutine_handle<> done_callback::task_finished(bool) noexcept {
    loop->schedule(*this);
    return {};
}

void done_callback::run() noexcept {
    try {
        fn();
    } catch (...) {
        loop->report("Exception in callback", std::current_exception(), {});
    }
    delete this;
}

std::size_t add_done_callback(task_state_base& s, std::function<void()> fn) {
    loop_core& loop = s.loop();
    if (s.done()) {
        if (&running_core() != &loop)
            throw std::runtime_error("add_done_callback: the task is done and its event loop is not running");
        auto* cb = new done_callback(loop, std::move(fn));
        loop.schedule(*cb);
        return cb->id;
    }
    auto* cb = new done_callback(loop, std::move(fn));
    s.add_waiter(*cb);
    return cb->id;
}

std::size_t task_state_base::remove_done_callbacks(std::size_t id) noexcept {
    std::size_t removed = 0;
    for (task_waiter* w = waiters_.front(); w;) {
        task_waiter* next = waiters_.next(w);
        if (w->callback_id() == id) {
            delete static_cast<done_callback*>(w);
            ++removed;
        }
        w = next;
    }
    return removed;
}

} // namespace uvasync::detail
