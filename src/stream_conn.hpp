// The connection behind a stream_reader / stream_writer pair (private).
//
// Ownership: reference counted. The reader, the writer, each operation in
// flight and the libuv handle (until its close callback) hold references;
// the handle is embedded, so the object lives at least until libuv is done
// with it. When both the reader and the writer are gone the connection is
// closed gracefully (everything written is sent first).
//
// Reading: every uv read lands in one 64 KiB buffer shared by the thread's
// connections. If a reader is waiting and nothing is buffered, the chunk is
// offered to it where it is: when it satisfies the read, the reader takes
// its bytes straight from the shared buffer, and only what it leaves is
// copied into the connection's own buffer (freed again when it runs empty
// and a reader waits, so an idle connection holds no buffer). A reader in
// read(std::span<char>) lends its buffer, and libuv reads straight into it.
//
// Writing: a write first tries uv_try_write when nothing is queued; the
// rest goes into a pooled write request. One request is in flight at a
// time; later writes are appended to the next (staged) one, so that many
// small writes become one writev.
//
// TLS (src/tls_session.hpp): a TLS connection has `tls` set; its socket
// bytes pass through OpenSSL on their way into the read buffer and out of
// the writes.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <uvasync/detail/intrusive_list.hpp>
#include <uvasync/detail/loop_core.hpp>
#include <uvasync/detail/operation.hpp>
#include <uvasync/detail/stream_core.hpp>
#include <uvasync/detail/uv_request.hpp>
#include <uvasync/endpoint.hpp>
#include <uvasync/streams.hpp>
#include <uvasync/task.hpp>

namespace uvasync::detail {

struct server_state;
struct tls_session;
class stream_conn;

struct write_req final : uv_request<uv_write_t, stream_conn> {
    write_req() noexcept : uv_request(nullptr) {}
    std::string data;
    std::size_t off = 0;   // bytes of data already sent by uv_try_write
    std::size_t bytes = 0; // bytes this request carries once submitted
    write_req* next_free = nullptr;
};

struct client_tag {};

class stream_conn final : public stream_core, public loop_core::resource, public list_hook<client_tag> {
public:
    enum class kind : std::uint8_t { tcp, pipe };

    // A new connection with an initialised handle; one reference (the
    // caller's) plus the handle's.
    static stream_conn* create(loop_core& loop, kind k, std::size_t limit);

    static stream_conn* of(stream_core* c) noexcept { return static_cast<stream_conn*>(c); }
    uv_handle_t* handle() noexcept { return reinterpret_cast<uv_handle_t*>(&h); }

    // Hands the connection to a reader and a writer (consumes the caller's
    // reference, adds one) and starts reading.
    std::pair<stream_reader, stream_writer> make_pair();
    int start_reading() noexcept;
    void setup_accepted_or_connected() noexcept;

    // --- reading ---
    static void on_alloc(uv_handle_t* h, std::size_t suggested, uv_buf_t* buf);
    static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
    void on_read_other(ssize_t nread, const uv_buf_t* buf); // all but a lent buffer filled
    // Bytes for the reader (a plain socket's, or TLS plaintext): offered to
    // a waiting reader where they are, the rest buffered; flow control.
    void deliver(const char* p, std::size_t n);
    bool satisfied(read_want& w) noexcept;
    bool line_found(read_want& w) noexcept;
    bool separator_found(read_want& w) noexcept;
    void wake_reader() noexcept;
    std::string take(std::size_t n);
    void append(const char* p, std::size_t n);
    void free_buffer_if_empty() noexcept;
    void maybe_resume_reading() noexcept;
    [[noreturn]] void throw_read_error(const char* what) const;
    void release_reader() noexcept;

    // --- writing ---
    void write(std::string_view sv);
    void write(std::string&& s);
    // What the socket takes of `sv` at once (uv_try_write's result) when
    // nothing waits to go before it; UV_EAGAIN when something does.
    int try_write(std::string_view sv) noexcept;
    // The part of a write that the socket did not take at once (`sent`:
    // what try_write returned).
    void queue(std::string_view rest, int sent);
    void queue(std::string&& s, int sent);
    void check_writable(const char* what) const;
    void submit_staged() noexcept;
    static void on_write(uv_write_t* req, int status);
    std::size_t write_buffer_size() const noexcept {
        return inflight_bytes + staged_bytes() + (tls ? tls_early_bytes() : 0);
    }
    std::size_t staged_bytes() const noexcept { return staged ? staged->data.size() - staged->off : 0; }
    void maybe_pause_writing() noexcept {
        if (!paused_writing && write_buffer_size() > high_water) paused_writing = true;
    }
    void after_flush() noexcept; // the write queue moved: shutdown/close/drain waiters
    void write_eof();
    void do_shutdown() noexcept;
    void release_writer() noexcept;
    // Wakes the drain() calls waiting now, or every waiter (not those that
    // wait again while being woken).
    void wake_waiters(bool drains_only) noexcept;

    // --- TLS (src/tls_stream.cpp) ---
    void tls_on_read(ssize_t nread, const uv_buf_t* buf) noexcept;
    bool tls_handshake_step() noexcept; // true when the handshake is done
    void tls_handshake_done() noexcept; // what waited for it: early writes, close(), write_eof()
    bool tls_handshaking() const noexcept;
    std::size_t tls_early_bytes() const noexcept;
    void tls_read_plaintext() noexcept;
    void tls_write(std::string_view plaintext);
    void tls_flush() noexcept;        // ciphertext OpenSSL produced goes to the socket
    void tls_close_notify() noexcept; // close() and write_eof()
    void tls_fail(std::exception_ptr e, int status) noexcept;
    void tls_closed() noexcept;       // the close callback, during a handshake
    void rethrow_tls_failure() const; // throws the tls_error that failed it, if one did

    // --- closing ---
    void close() noexcept;          // graceful (writer.close())
    void finish_close() noexcept;   // close()'s work, once nothing holds it back
    void abort() noexcept;          // now, dropping unsent data
    void lose(int status) noexcept; // a fatal error: record it, close now
    void close_handle() noexcept;
    static void on_close(uv_handle_t* h);
    void close_for_loop() noexcept override;

    union {
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } h;

    loop_core* loop = nullptr;
    kind type = kind::tcp;

    // state (more in stream_core)
    bool reader_alive = false;
    bool writer_alive = false;
    bool reading = false;         // uv_read_start is active
    bool in_shared = false;       // rp points into the shared buffer
    bool close_after_flush = false;
    bool shutdown_started = false;
    bool loop_gone = false;       // the loop closed: wake nothing, touch no loop

    // read buffer: own bytes at [own, own + cap) (`own` is stream_core's);
    // readable [rp, rp + rn)
    std::size_t cap = 0;

    // write queue
    std::size_t inflight_bytes = 0;
    std::size_t high_water = 64 * 1024;
    std::size_t low_water = 16 * 1024;
    intrusive_list<conn_wait_op> waiters; // drain() and wait_closed()

    // The addresses (TCP), kept once asked for, as asyncio keeps them: they
    // are still known after the socket is gone. Idle connections that are
    // never asked hold none.
    struct addresses {
        endpoint peer, sock; // AF_UNSPEC until known
    };
    std::unique_ptr<addresses> addrs;
    endpoint address(bool own); // sockname (own) or peername

    // the server that accepted this connection
    server_state* srv = nullptr;

    // TLS (null: a plain connection)
    tls_session* tls = nullptr;

private:
    friend struct stream_core; // destroy()
    stream_conn() = default;
    ~stream_conn();
};

// Waits while a TCP or Unix connect is in flight. Cancelling it closes the
// socket (libuv then fails the request with UV_ECANCELED, unheard).
class connect_op final : public operation<connect_op> {
public:
    connect_op(stream_conn* c, const sockaddr* addr) noexcept : c_(c), addr_(addr) {}
    connect_op(stream_conn* c, const char* path) noexcept : c_(c), path_(path) {}

    bool start();
    cancel_outcome cancel() noexcept;
    int result() const noexcept { return status_; } // the libuv status
    const char* kind() const noexcept override { return "connect"; }

private:
    using request = uv_request<uv_connect_t, connect_op>;
    static void on_connect(uv_connect_t* req, int status);

    stream_conn* c_;
    const sockaddr* addr_ = nullptr; // TCP
    const char* path_ = nullptr;     // Unix
    request* req_ = nullptr;
    int status_ = 0;
};

// A spare string, old bytes and all, whose buffer the caller overwrites (a
// read's take() assigns to it; clear() it before appending), or an empty
// one when none is left; and a sent string given back for that.
std::string reused_string() noexcept;

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
