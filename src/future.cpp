// future<T>'s state: completing, retrieving, done callbacks, the report of
// an exception nobody retrieved, and a future outliving its loop.
#include <uvasync/future.hpp>

#include <cstdio>

namespace uvasync::detail {

// ---- done callbacks ---------------------------------------------------------

void future_callback::future_done() noexcept {
    state_->add_ref(); // the future may lose its last handle while this is queued
    state_->loop()->schedule(*this);
}

void future_callback::run() noexcept {
    future_state_base* f = state_;
    try {
        invoke(*f);
    } catch (...) {
        if (loop_core* l = f->loop()) l->report("Exception in callback", std::current_exception(), {});
    }
    delete this;
    f->release();
}

void future_callback::discard() noexcept {
    future_state_base* f = state_;
    delete this;
    f->release();
}

// ---- the state ----------------------------------------------------------------

future_state_base::future_state_base(loop_core& loop) noexcept : loop_(&loop) { loop.add_resource(*this); }

future_state_base::~future_state_base() { drop_callbacks(); }

void future_state_base::drop_callbacks() noexcept {
    // What is still on the list can only be callbacks: an awaiter holds a
    // reference, and the loop's close() unlinks awaiters before it closes
    // resources.
    while (future_waiter* w = waiters_.pop_front()) delete static_cast<future_callback*>(w);
}

void future_state_base::close_for_loop() noexcept {
    // The loop is going: its callbacks never run, and nothing is scheduled
    // on it again. The future itself stays usable as a value.
    drop_callbacks();
    loop_ = nullptr;
}

void future_state_base::check_pending(const char* what) const {
    if (done()) throw invalid_state_error(std::string(what) + ": the future is done already");
}

void future_state_base::set_finished() noexcept {
    status_ = future_status::finished;
    if (error_) unretrieved_ = true;
    if (!loop_) {
        drop_callbacks();
        return;
    }
    // Everyone is queued, in the order they came (asyncio's __schedule_callbacks).
    while (future_waiter* w = waiters_.pop_front()) w->future_done();
}

void future_state_base::set_exception(std::exception_ptr e) {
    if (!e) throw std::invalid_argument("set_exception: null exception_ptr");
    check_pending("set_exception");
    error_ = std::move(e);
    set_finished();
}

bool future_state_base::cancel(std::string message) noexcept {
    unretrieved_ = false; // asyncio: cancel() silences a failure even when it is too late
    if (done()) return false;
    cancel_message_ = std::move(message);
    status_ = future_status::cancelled;
    if (!loop_) {
        drop_callbacks();
        return true;
    }
    while (future_waiter* w = waiters_.pop_front()) w->future_done();
    return true;
}

void future_state_base::throw_cancellation() const { throw cancelled_error(cancel_message_); }

void future_state_base::check_result(const char* what) {
    if (status_ == future_status::cancelled) throw_cancellation();
    if (status_ == future_status::pending) throw invalid_state_error(std::string(what) + ": the future is not done");
    if (error_) {
        unretrieved_ = false;
        std::rethrow_exception(error_);
    }
}

std::exception_ptr future_state_base::exception() {
    if (status_ == future_status::cancelled) throw_cancellation();
    if (status_ == future_status::pending) throw invalid_state_error("exception(): the future is not done");
    unretrieved_ = false;
    return error_;
}

std::size_t future_state_base::add_callback(future_callback* cb) {
    if (!loop_) {
        delete cb;
        throw std::runtime_error("add_done_callback: the event loop is closed");
    }
    cb->state_ = this;
    cb->id_ = next_callback_id_++;
    if (done()) {
        add_ref();
        loop_->schedule(*cb);
    } else {
        waiters_.push_back(cb);
    }
    return cb->id_;
}

std::size_t future_state_base::remove_callbacks(std::size_t id) noexcept {
    std::size_t removed = 0;
    // Only callbacks still waiting: once the future is done they are queued
    // already (asyncio clears its list when it schedules them).
    for (future_waiter* w = waiters_.front(); w;) {
        future_waiter* next = waiters_.next(w);
        auto* cb = dynamic_cast<future_callback*>(w);
        if (cb && cb->id() == id) {
            delete cb;
            ++removed;
        }
        w = next;
    }
    return removed;
}

void future_state_base::last_release() noexcept {
    if (unretrieved_) {
        if (loop_) {
            loop_->report("Future exception was never retrieved", error_, {});
        } else { // the loop closed before the last handle went
            std::string text = "uvasync: Future exception was never retrieved\n";
            try {
                std::rethrow_exception(error_);
            } catch (const std::exception& e) {
                text += std::string("  exception: ") + e.what() + "\n";
            } catch (...) {
            }
            std::fputs(text.c_str(), stderr);
        }
    }
    delete this;
}

// ---- shield ---------------------------------------------------------------------

cancel_outcome shield_future_op::cancel() noexcept {
    unlink();
    if (task()->loop().closed()) return cancel_outcome::stopped;
    // Nobody is left to see the future's exception: report it when it comes,
    // unless someone else retrieves it first (or an earlier shield reported it).
    auto report = [](future_state_base& f) {
        if (!f.failed() || f.retrieved()) return;
        std::exception_ptr e = f.exception();
        f.loop()->report("exception in shielded future", std::move(e), {});
    };
    try {
        f_->add_callback(new future_callback_impl<decltype(report)>(report));
    } catch (...) { // out of memory: the failure goes unreported here (it is "never retrieved" then)
    }
    return cancel_outcome::stopped; // the waiter is cancelled now; the future is not
}

} // namespace uvasync::detail
