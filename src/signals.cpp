// wait_signal: one uv_signal_t per awaited signal, for the wait's duration.
#include <uvasync/detail/operation.hpp>
#include <uvasync/event_loop.hpp>
#include <uvasync/signals.hpp>

#include <csignal>

namespace uvasync::detail {

namespace {
// One uv_signal_t per awaited signal, for the wait's duration.
class signal_wait_op final : public operation<signal_wait_op> {
public:
    std::vector<uv_handle<uv_signal_t>> handles;

    bool start() noexcept {
        for (auto& s : handles) s->data = this;
        return true;
    }
    cancel_outcome cancel() noexcept {
        handles.clear();
        return cancel_outcome::stopped;
    }
    int result() const noexcept { return arrived_; }
    const char* kind() const noexcept override { return "wait_signal"; }

    static void on_signal(uv_signal_t* h, int signum) {
        auto* self = static_cast<signal_wait_op*>(h->data);
        if (!self || self->arrived_) return;
        self->arrived_ = signum;
        self->handles.clear(); // stops them all
        // Through the ready queue: the wait still holds its signals while
        // libuv tells the other watchers (run()'s cancel-on-signal gives way).
        self->wake_soon();
    }

private:
    int arrived_ = 0;
};
} // namespace

task<int> wait_signals(std::vector<int> signums) {
    event_loop& loop = get_running_loop();
    uv_loop_t* uv = loop.native_handle();
    signal_wait_op op;
    // While it waits, the program handles these signals itself (run() does
    // not cancel its main task on them).
    struct claim {
        event_loop& loop;
        std::vector<int> signums;
        ~claim() {
            for (int s : signums) loop.signal_awaited(s, -1);
        }
    } claimed{loop, {}};
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
        loop.signal_awaited(signum, +1);
        claimed.signums.push_back(signum);
    }
    co_return co_await op;
}

} // namespace uvasync::detail
