// One HTTP connection of an http::server, and the state the server's
// connections share (private).
//
// A connection is a task (uvasync::start_server's) running
// serve_connection(): it reads into its own buffer, feeds Beast's parser,
// runs the handler, serializes the response into a reused buffer and hands
// it to the stream writer in one write (pipelined responses together).
//
// Timeouts cost nothing per request but a few pointer moves: a connection
// waiting for input sits on one of four lists of the server (idle between
// requests, reading a head, reading a body, lingering after an error), each
// in deadline order because everyone on a list has the same timeout. One
// loop timer, armed for the earliest deadline, closes what expired.
#pragma once

#include <uvasync/detail/intrusive_list.hpp>
#include <uvasync/endpoint.hpp>
#include <uvasync/event_loop.hpp>
#include <uvasync/http/router.hpp>
#include <uvasync/http/server.hpp>
#include <uvasync/server.hpp>
#include <uvasync/streams.hpp>
#include <uvasync/task_handle.hpp>

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace uvasync::http::detail {

struct request_context;
struct server_core;

// A counted reference to the server state (what a connection's task holds,
// from its creation, so that the state outlives a task not yet started).
class core_ref {
public:
    explicit core_ref(server_core* c) noexcept;
    core_ref(core_ref&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
    core_ref(const core_ref&) = delete;
    core_ref& operator=(const core_ref&) = delete;
    ~core_ref();
    server_core* get() const noexcept { return c_; }
    server_core* take() noexcept { return std::exchange(c_, nullptr); }

private:
    server_core* c_;
};

enum class wait_list : std::uint8_t { none, idle, head, body, linger };

struct waiting_tag {};
struct every_tag {};
using waiting_hook = uvasync::detail::list_hook<waiting_tag>; // on one of the server's wait lists
using every_hook = uvasync::detail::list_hook<every_tag>;     // on the server's list of every connection

struct connection : waiting_hook, every_hook {
    // The buffer a connection owns while idle: a request that fits is
    // parsed straight from it; a larger one moves to a pooled buffer.
    static constexpr std::size_t own_size = 192;

    // Adopts the reference `core` holds.
    connection(core_ref core, stream_reader r, stream_writer w);
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;
    ~connection();

    endpoint peer() const { return writer.peername(); }

    server_core* core;
    stream_reader reader;
    stream_writer writer;
    task_handle<> task;                // for the shutdown timeout
    request_context* ctx = nullptr;    // while a request is in progress

    // Input: unparsed bytes are [begin, end) of in[0, cap).
    char* in;
    std::size_t cap;
    std::size_t begin = 0;
    std::size_t end = 0;

    // The wait list it is on, and when it expires there.
    wait_list list = wait_list::none;
    std::uint64_t deadline = 0; // uv_now() milliseconds

    std::uint32_t discarded = 0; // bytes thrown away while lingering
    std::uint16_t error_status = 0; // the answer to a bad request
    bool first_request = true;
    bool in_request = false;     // bytes of a request have arrived
    bool stopped = false;        // closed by the server: the task just leaves

    alignas(16) char own[own_size];
};

struct server_core {
    explicit server_core(server_options o);
    ~server_core();
    // The http::server handle (adopting the first reference).
    static server make_handle(server_core* c) noexcept { return server(c); }

    void add_ref() noexcept { ++refs; }
    void release() noexcept {
        if (--refs == 0) delete this;
    }

    task<response> dispatch(request& req) { return app ? app->handle(req) : fn(req); }

    std::uint64_t now() const noexcept { return uv_now(uv); }
    std::uint64_t after(std::chrono::milliseconds d) const noexcept {
        return now() + static_cast<std::uint64_t>(d.count());
    }

    using list = uvasync::detail::intrusive_list<connection, waiting_tag>;
    list& list_of(wait_list w) noexcept;
    void link(connection* c, wait_list w, std::uint64_t deadline) noexcept;
    void unlink(connection* c) noexcept;
    void arm_sweep(std::uint64_t deadline) noexcept;
    void sweep() noexcept;
    void expire(connection* c) noexcept;
    void stop(connection* c) noexcept; // close it now, from outside its task

    void close() noexcept;
    void cancel_remaining() noexcept;

    // "Date: ...\r\n" for this second (empty when send_date is off).
    std::string_view date_line() noexcept;

    std::uint32_t refs = 1;
    server_options opts;
    std::optional<router> app;
    handler fn;
    uvasync::server tcp;
    uv_loop_t* uv = nullptr;
    bool closing = false;

    std::size_t open = 0;
    uvasync::detail::intrusive_list<connection, every_tag> all;
    list idle, head, body, linger;

    timer_handle sweep_timer;
    std::uint64_t sweep_at = 0; // 0: not armed
    timer_handle shutdown_timer;

    std::time_t date_second = -1;
    char date_buf[48] = {};
    std::size_t date_len = 0;
};

inline core_ref::core_ref(server_core* c) noexcept : c_(c) { c_->add_ref(); }
inline core_ref::~core_ref() {
    if (c_) c_->release();
}

// The task of one connection.
task<> serve_connection(core_ref core, stream_reader reader, stream_writer writer);

} // namespace uvasync::http::detail
