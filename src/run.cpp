// runner: asyncio.Runner, with its Ctrl-C handling.
#include <uvasync/run.hpp>

#include <uvasync/detail/uv_handle.hpp>

#include <vector>

namespace uvasync {

runner::runner(run_options options) : options_(std::move(options)), loop_(std::make_unique<event_loop>()) {
    loop_->set_debug(options_.debug);
}

runner::~runner() {
    try {
        close();
    } catch (...) {
    }
}

event_loop& runner::get_loop() {
    if (!loop_) throw std::runtime_error("runner: the runner is closed");
    return *loop_;
}

void runner::check_runnable() const {
    if (!loop_) throw std::runtime_error("runner::run: the runner is closed");
    if (detail::running_loop()) throw std::runtime_error("run: cannot be called from a running event loop");
}

void runner::close() {
    if (!loop_) return;
    std::unique_ptr<event_loop> loop = std::move(loop_);
    try {
        loop->cancel_all_tasks();
        loop->shutdown_default_executor();
    } catch (...) {
        loop->close();
        throw;
    }
    loop->close();
}

namespace {
// One uv_signal_t per signal that cancels the main task; the first arrival
// cancels it and stops every watcher (libuv then restores the default
// disposition, so a second one ends the program).
struct interrupt_watch {
    event_loop& loop;
    detail::task_state_base& main;
    std::vector<detail::uv_handle<uv_signal_t>> handles;

    interrupt_watch(event_loop& l, detail::task_state_base& m, const std::vector<int>& signums) : loop(l), main(m) {
        for (int signum : signums) {
            auto h = detail::uv_handle<uv_signal_t>::make(
                [&](uv_signal_t* s) { return uv_signal_init(loop.native_handle(), s); }, "uv_signal_init");
            h->data = this;
            if (int rc = uv_signal_start(h.get(), &on_signal, signum); rc < 0) throw_uv_error(rc, "run: signal");
            uv_unref(h.base()); // it keeps nothing alive
            handles.push_back(std::move(h));
        }
    }
    static void on_signal(uv_signal_t* h, int signum) {
        auto* self = static_cast<interrupt_watch*>(h->data);
        if (!self || self->loop.handles_signal(signum)) return; // the program's own handler has it
        if (!self->main.done()) self->main.cancel({});
        self->handles.clear();
    }
};
} // namespace

void runner::wait(detail::task_state_base& main) {
    interrupt_watch watch(*loop_, main, options_.cancel_main_on);
    loop_->run_until_complete(task_handle<>::share(&main));
}

} // namespace uvasync
