#include <uvasync/detail/deadline_timer.hpp>

#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>

namespace uvasync::detail {

void deadline_timer::open(uv_loop_t* loop, callback cb, void* context) {
    fd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (fd_ < 0) throw_uv_error(-errno, "timerfd_create");
    cb_ = cb;
    context_ = context;
    try {
        poll_ = uv_handle<uv_poll_t>::make([&](uv_poll_t* p) { return uv_poll_init(loop, p, fd_); }, "uv_poll_init");
    } catch (...) {
        ::close(fd_);
        fd_ = -1;
        throw;
    }
    poll_->data = this;
}

void deadline_timer::arm(std::int64_t deadline_ns) noexcept {
    if (fd_ < 0) return;
    if (deadline_ns < 1) deadline_ns = 1; // an all-zero time would disarm it
    itimerspec spec{};
    spec.it_value.tv_sec = static_cast<time_t>(deadline_ns / 1'000'000'000);
    spec.it_value.tv_nsec = static_cast<long>(deadline_ns % 1'000'000'000);
    ::timerfd_settime(fd_, TFD_TIMER_ABSTIME, &spec, nullptr); // steady_clock is CLOCK_MONOTONIC
    if (!polling_) {
        uv_poll_start(poll_.get(), UV_READABLE, &deadline_timer::on_ready);
        polling_ = true;
    }
}

void deadline_timer::disarm() noexcept {
    if (fd_ < 0 || !polling_) return;
    itimerspec spec{};
    ::timerfd_settime(fd_, 0, &spec, nullptr);
    uv_poll_stop(poll_.get());
    polling_ = false;
}

void deadline_timer::close() noexcept {
    if (fd_ < 0) return;
    poll_.close(); // stops polling the fd at once, so it may be closed now
    ::close(fd_);
    fd_ = -1;
    polling_ = false;
}

void deadline_timer::on_ready(uv_poll_t* h, int, int) {
    auto* self = static_cast<deadline_timer*>(h->data);
    if (!self) return;
    std::uint64_t expirations;
    while (::read(self->fd_, &expirations, sizeof expirations) > 0) {
    }
    self->cb_(self->context_);
}

} // namespace uvasync::detail
