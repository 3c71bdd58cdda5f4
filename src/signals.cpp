// wait_signal: one uv_signal_t per awaited signal, for the wait's duration.
#include <uvasync/event_loop.hpp>
#include <uvasync/signals.hpp>

#include <csignal>

namespace uvasync::detail {

namespace {
struct signal_wait_op : parked_op {
    std::vector<uv_handle<uv_signal_t>> handles;
    int arrived = 0;

    signal_wait_op() = default;
    signal_wait_op(const signal_wait_op&) = delete;

    bool await_ready() const noexcept { return false; }
    template <class P> bool await_suspend(std::coroutine_handle<P> h) noexcept {
        if (!park(h.promise().root, h)) return false;
        abort = &on_abort;
        for (auto& s : handles) s->data = this;
        return true;
    }
    int await_resume() const {
        throw_if_cancelled();
        return arrived;
    }

    static void on_signal(uv_signal_t* h, int signum) {
        auto* self = static_cast<signal_wait_op*>(h->data);
        if (!self || self->arrived) return;
        self->arrived = signum;
        self->handles.clear(); // stops them all
        self->wake_now();
    }
    static bool on_abort(parked_op* op) noexcept {
        static_cast<signal_wait_op*>(op)->handles.clear();
        return false;
    }
};
} // namespace

task<int> wait_signals(std::vector<int> signums) {
    uv_loop_t* uv = get_running_loop().native_handle();
    signal_wait_op op;
    for (int signum : signums) {
        if (signum == SIGKILL || signum == SIGSTOP)
            throw std::runtime_error("wait_signal: signal " + std::to_string(signum) + " cannot be caught");
        if (signum <= 0 || signum >= NSIG)
            throw std::invalid_argument("wait_signal: invalid signal number " + std::to_string(signum));
        auto h = uv_handle<uv_signal_t>::make([&](uv_signal_t* s) { return uv_signal_init(uv, s); }, "uv_signal_init");
        h->data = nullptr;
        if (int rc = uv_signal_start(h.get(), &signal_wait_op::on_signal, signum); rc < 0)
            throw_uv_error(rc, "wait_signal");
        op.handles.push_back(std::move(h));
    }
    co_return co_await op;
}

} // namespace uvasync::detail
