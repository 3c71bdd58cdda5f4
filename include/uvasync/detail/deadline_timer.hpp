// The loop's single wake-up for its timer heap, at an absolute steady_clock
// deadline to the nanosecond.
//
// libuv's timers count whole milliseconds, which would wake sleep(1 ms) up
// to a millisecond late and spread a burst of sleeps over several wake-ups;
// a timerfd polled by the libuv loop does not. It keeps the loop alive only
// while armed.
#pragma once

#include <uv.h>

#include <cstdint>

#include "uv_handle.hpp"

namespace uvasync::detail {

class deadline_timer {
public:
    using callback = void (*)(void* context);

    deadline_timer() = default;
    deadline_timer(const deadline_timer&) = delete;
    deadline_timer& operator=(const deadline_timer&) = delete;
    ~deadline_timer() { close(); }

    void open(uv_loop_t* loop, callback cb, void* context);
    void arm(std::int64_t deadline_ns) noexcept;
    void disarm() noexcept;
    void close() noexcept;
    bool is_open() const noexcept { return fd_ >= 0; }

private:
    static void on_ready(uv_poll_t* h, int status, int events);

    int fd_ = -1;
    bool polling_ = false;
    uv_handle<uv_poll_t> poll_;
    callback cb_ = nullptr;
    void* context_ = nullptr;
};

} // namespace uvasync::detail
