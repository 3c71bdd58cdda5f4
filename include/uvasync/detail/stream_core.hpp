// The part of a stream connection that reads, writes and drains look at on
// every call, so that the common cases (the bytes are buffered already,
// nothing needs draining, the socket takes a write at once) are decided
// inline, without a call into the library. The rest of the connection (its
// buffers, the libuv handle, the wait lists) is src/stream_conn.hpp.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace uvasync::detail {

class operation_base;
struct read_want;
struct write_req;

struct stream_core {
    // Read side: the readable bytes are [rp, rp + rn).
    const char* rp = nullptr;
    std::size_t rn = 0;
    char* own = nullptr;              // the connection's own read buffer, if it holds one
    std::size_t limit = 0;
    operation_base* reader = nullptr; // the read waiting for `want`
    read_want* want = nullptr;
    // Write side.
    write_req* staged = nullptr; // bytes waiting for the write in flight
    std::size_t inflight = 0;    // writes libuv has
    uv_stream_t* stream = nullptr;
    std::uint32_t refs = 0;
    int error = 0;               // the connection's fatal error (libuv status)
    bool eof = false;            // EOF received (or the connection is gone)
    bool paused_reading = false; // stopped by flow control
    bool paused_writing = false; // above the high-water mark: drain() waits
    bool handle_closing = false; // uv_close was called: no more I/O
    bool closed = false;         // the close callback ran
    bool closing = false;        // close() was called
    bool eof_requested = false;  // write_eof() was called
    bool write_closed = false;   // closing, eof_requested or handle_closing (writes may not go out directly)

    void add_ref() noexcept { ++refs; }
    void release() noexcept {
        if (--refs == 0) destroy();
    }
    // Takes n readable bytes off the front.
    void consume(std::size_t n) noexcept {
        rp += n;
        rn -= n;
        if (paused_reading && rn <= limit) resume_reading();
    }
    // A write that can go straight to the socket: nothing queued before it
    // (bytes are staged only behind a write in flight).
    bool can_write_directly() const noexcept { return inflight == 0 && !write_closed; }

    void destroy() noexcept;        // the last reference went
    void resume_reading() noexcept; // flow control: below the limit again
};

} // namespace uvasync::detail
