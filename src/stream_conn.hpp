// The connection behind a stream_reader / stream_writer pair (private).
//
// Ownership: reference counted. The reader, the writer, each operation in
// flight and the libuv handle (until its close callback) hold references;
// the handle is embedded, so the object lives at least until libuv is done
// with it. When both the reader and the writer are gone the connection is
// closed gracefully (everything written is sent first).
//
// Reading: every uv read lands in one 64 KiB buffer shared by the thread's
// connections. If a reader is waiting and nothing is buffered, it is resumed
// right there and consumes straight from that buffer; only what it leaves
// is copied into the connection's own buffer, which is freed again when it
// runs empty and a reader waits. So an idle connection holds no buffer.
//
// Writing: a write first tries uv_try_write when nothing is queued; the
// rest goes into a pooled write request. One request is in flight at a
// time; later writes are appended to the next (staged) one, so that many
// small writes become one writev.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <uvasync/detail/loop_core.hpp>
#include <uvasync/detail/task_state.hpp>
#include <uvasync/endpoint.hpp>
#include <uvasync/streams.hpp>
#include <uvasync/task.hpp>

namespace uvasync::detail {

struct server_state;
struct op_list;

// A parked operation on an intrusive FIFO list (drain, wait_closed, ...).
struct list_op : parked_op {
    list_op* prev = nullptr;
    list_op* next = nullptr;
    op_list* list = nullptr;

    list_op() = default;
    list_op(const list_op&) = delete;
    list_op& operator=(const list_op&) = delete;
    ~list_op(); // unlinks (a frame destroyed while parked)
    void unlink() noexcept;
    static bool on_abort(parked_op* op) noexcept {
        static_cast<list_op*>(op)->unlink();
        return false;
    }
};

struct op_list {
    list_op* head = nullptr;
    list_op* tail = nullptr;

    bool empty() const noexcept { return head == nullptr; }
    void push(list_op* op) noexcept;
    list_op* pop() noexcept;
    // Wakes every operation parked now (not those that park again while
    // being woken). `keep_alive` is add_ref'd meanwhile by the caller.
    void wake_all() noexcept;
    // The same through the ready queue (for wake-ups from inside a task).
    void wake_all_soon() noexcept;
    // The loop is closing and the parked frames are gone: forget them.
    void forget() noexcept;
};

struct write_req {
    uv_write_t req;
    std::string data;
    std::size_t off = 0; // bytes of data already sent by uv_try_write
    std::size_t bytes = 0; // bytes this request carries once submitted
    stream_conn* conn = nullptr;
    write_req* next_free = nullptr;
};

class stream_conn final : public loop_core::resource {
public:
    enum class kind : std::uint8_t { tcp, pipe };

    // A new connection with an initialised handle; one reference (the
    // caller's) plus the handle's.
    static stream_conn* create(loop_core* loop, kind k, std::size_t limit);

    void add_ref() noexcept { ++refs; }
    void release() noexcept {
        if (--refs == 0) delete this;
    }
    uv_stream_t* stream() noexcept { return reinterpret_cast<uv_stream_t*>(&h); }
    uv_handle_t* handle() noexcept { return reinterpret_cast<uv_handle_t*>(&h); }

    // Hands the connection to a reader and a writer (consumes the caller's
    // reference, adds one) and starts reading.
    std::pair<stream_reader, stream_writer> make_pair();
    int start_reading() noexcept;
    void setup_accepted_or_connected() noexcept;

    // --- reading ---
    static void on_alloc(uv_handle_t* h, std::size_t suggested, uv_buf_t* buf);
    static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
    std::size_t avail() const noexcept { return rn; }
    const char* data() const noexcept { return rp; }
    void consume(std::size_t n) noexcept;
    std::string take(std::size_t n);
    void append(const char* p, std::size_t n);
    void free_buffer_if_empty() noexcept;
    void maybe_resume_reading() noexcept;
    [[noreturn]] void throw_read_error(const char* what) const;
    void release_reader() noexcept;

    // --- writing ---
    void write(std::string_view sv);
    void write(std::string&& s);
    void check_writable(const char* what) const;
    void submit_staged() noexcept;
    static void on_write(uv_write_t* req, int status);
    std::size_t write_buffer_size() const noexcept { return inflight_bytes + staged_bytes(); }
    std::size_t staged_bytes() const noexcept { return staged ? staged->data.size() - staged->off : 0; }
    void maybe_pause_writing() noexcept {
        if (!paused_writing && write_buffer_size() > high_water) paused_writing = true;
    }
    void after_flush() noexcept; // the write queue moved: shutdown/close/drain waiters
    void write_eof();
    void do_shutdown() noexcept;
    void release_writer() noexcept;

    // --- closing ---
    void close() noexcept;            // graceful (writer.close())
    void abort() noexcept;            // now, dropping unsent data
    void lose(int status) noexcept;   // a fatal error: record it, close now
    void close_handle() noexcept;
    static void on_close(uv_handle_t* h);
    void close_for_loop() noexcept override;

    union {
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } h;
    uv_connect_t connect_req;
    uv_shutdown_t shutdown_req;

    loop_core* loop = nullptr;
    std::uint32_t refs = 0;
    kind type = kind::tcp;

    // state
    bool reader_alive = false;
    bool writer_alive = false;
    bool reading = false;         // uv_read_start is active
    bool paused_reading = false;  // stopped by flow control
    bool in_shared = false;       // rp points into the shared buffer
    bool eof = false;             // EOF received (or the connection is gone)
    bool closing = false;         // close() was called
    bool close_after_flush = false;
    bool eof_requested = false;   // write_eof() was called
    bool shutdown_started = false;
    bool handle_closing = false;  // uv_close was called: no more I/O
    bool closed = false;          // the close callback ran
    bool loop_gone = false;       // the loop closed: wake nothing, touch no loop
    bool paused_writing = false;
    int error = 0;                // the connection's fatal error (libuv status)

    // read buffer: own bytes at [own, own + cap); readable [rp, rp + rn)
    char* own = nullptr;
    std::size_t cap = 0;
    const char* rp = nullptr;
    std::size_t rn = 0;
    std::size_t limit = default_stream_limit;
    parked_op* read_waiter = nullptr;
    // A reader parked in read(std::span<char>) lends its buffer: libuv reads
    // straight into it (no copy, no allocation), and `direct_got` says how
    // many bytes landed there.
    char* direct = nullptr;
    std::size_t direct_len = 0;
    std::size_t direct_got = 0;

    // write queue
    write_req* staged = nullptr;
    std::size_t inflight = 0;
    std::size_t inflight_bytes = 0;
    std::size_t high_water = 64 * 1024;
    std::size_t low_water = 16 * 1024;
    op_list drain_waiters;
    op_list closed_waiters;

    // connecting
    parked_op* connect_waiter = nullptr;
    int connect_status = 1; // 1 = pending

    // cached addresses (TCP)
    bool have_peer = false, have_sock = false;
    endpoint peer, sock;

    // the server that accepted this connection
    server_state* srv = nullptr;
    stream_conn* srv_prev = nullptr;
    stream_conn* srv_next = nullptr;

private:
    stream_conn() = default;
    ~stream_conn();
};

// The reader's wait for "something changed": data, EOF, or an error.
struct read_wait_op : parked_op {
    stream_conn* c;
    std::span<char> into; // non-empty: read(std::span<char>) lends this buffer
    std::size_t got = 0;  // bytes that landed directly in `into`

    explicit read_wait_op(stream_conn* conn, std::span<char> buffer = {}) noexcept : c(conn), into(buffer) {
        c->add_ref();
    }
    read_wait_op(const read_wait_op&) = delete;
    ~read_wait_op() {
        if (c->read_waiter == this) c->read_waiter = nullptr;
        stop_lending();
        c->release();
    }
    bool await_ready() const noexcept { return false; }
    template <class P> bool await_suspend(std::coroutine_handle<P> h) noexcept {
        if (!park(h.promise().root, h)) return false;
        abort = &on_abort;
        c->read_waiter = this;
        if (!into.empty()) {
            c->direct = into.data();
            c->direct_len = into.size();
            c->direct_got = 0;
        }
        c->free_buffer_if_empty();
        c->maybe_resume_reading(); // a waiting reader always reads (asyncio's _wait_for_data)
        return true;
    }
    void await_resume() {
        if (!into.empty()) got = std::exchange(c->direct_got, 0);
        stop_lending();
        throw_if_cancelled();
    }
    void stop_lending() noexcept {
        if (!into.empty() && c->direct == into.data()) c->direct = nullptr;
    }
    static bool on_abort(parked_op* op) noexcept {
        auto* self = static_cast<read_wait_op*>(op);
        self->c->read_waiter = nullptr;
        self->stop_lending();
        return false;
    }
};

// Parks on one of a connection's op_lists.
struct conn_list_op : list_op {
    stream_conn* c;
    op_list* target;
    conn_list_op(stream_conn* conn, op_list* l) noexcept : c(conn), target(l) { c->add_ref(); }
    ~conn_list_op() {
        unlink();
        c->release();
    }
    bool await_ready() const noexcept { return false; }
    template <class P> bool await_suspend(std::coroutine_handle<P> h) noexcept {
        if (!park(h.promise().root, h)) return false;
        abort = &list_op::on_abort;
        target->push(this);
        return true;
    }
    void await_resume() const { throw_if_cancelled(); }
};

// The shared read buffer of this thread's loop.
char* shared_read_buffer() noexcept;
inline constexpr std::size_t shared_read_size = 64 * 1024;

// Throws std::invalid_argument for a limit of 0.
void check_limit(std::size_t limit, const char* what);

// A numeric host as is; a name through getaddrinfo.
task<std::vector<endpoint>> resolve_stream_host(std::string host, std::uint16_t port);

// The server that accepted `c` hears that it closed.
void server_client_closed(server_state* s, stream_conn* c) noexcept;

} // namespace uvasync::detail
