// Streams: asyncio's StreamReader / StreamWriter and open_connection, over
// TCP and Unix sockets.
//
//   auto [reader, writer] = co_await open_connection("127.0.0.1", 8888);
//   writer.write("hello\n");
//   co_await writer.drain();
//   std::string line = co_await reader.readline();
//   writer.close();
//   co_await writer.wait_closed();
//
// A connection is one reader and one writer sharing a socket. Both are
// move-only handles. When both are gone the connection is closed the way
// writer.close() closes it: everything written is sent first.
//
// Errors. A connection error (reset, broken pipe, ...) surfaces as
// std::system_error (uv_category(), comparable with std::errc) from the
// read that needs more data than arrived before the error, and from drain().
// Bytes that arrived before an error or EOF are always delivered first.
//
// Flow control, as in asyncio. The reader stops reading from the socket when
// more than 2 x limit bytes are buffered unread, and starts again once at
// most `limit` are. write() never blocks: what the socket does not take at
// once is buffered; drain() waits while the buffer is above the high-water
// mark, until it falls to the low-water mark.
//
// Unix sockets: sockname() / peername() return an empty endpoint
// (family() == AF_UNSPEC); unix_sockname() / unix_peername() give the paths
// as Python does (the client's own name is "", the server's peer is "").
#pragma once

#include <uv.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <cstdint>
#include <optional>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "detail/operation.hpp"
#include "detail/stream_core.hpp"
#include "endpoint.hpp"
#include "errors.hpp"
#include "task.hpp"
#include "tls.hpp"

namespace uvasync {

namespace detail {

class stream_conn;

// What a read waits for. The connection checks it as data arrives and
// completes the read once it holds, so a read that needs several chunks
// (a line, n bytes) wakes its task once.
struct read_want {
    enum class kind : std::uint8_t { any, exactly, line, until };
    kind what = kind::any;
    bool lends = false; // read(span): libuv may read straight into `into`
    // read(n), readexactly(n): bytes; read(span): the buffer's size;
    // readuntil: the separator's size.
    std::size_t n = 0;
    union {
        char* into = nullptr;  // read(span): the caller's buffer
        const char* separator; // readuntil
    };
    union {
        std::size_t scanned = 0; // line, until: bytes searched already
        std::size_t got;         // read(span): bytes that landed in `into` directly
    };
    std::size_t found = std::string_view::npos; // line, until: where the separator starts

    std::string_view separator_view() const noexcept { return {separator, n}; }
};

// The connection's side of a read (src/streams.cpp).
bool read_ready(stream_core* c, read_want& w) noexcept; // scanning for a separator
void read_wait(stream_core* c, read_want& w, operation_base& op);
void read_unwait(stream_core* c, read_want& w) noexcept;
std::string take_some(stream_core* c, read_want& w);
std::size_t take_into(stream_core* c, read_want& w);
std::string take_exactly(stream_core* c, read_want& w);
std::string take_line(stream_core* c, read_want& w);
std::string take_until(stream_core* c, read_want& w);

// A read of the stream_reader: no frame of its own, and with the data
// buffered already it completes without suspending (asyncio's read that
// does not yield). While it waits it keeps the connection alive.
template <class R, R (*Take)(stream_core*, read_want&), read_want::kind What>
class stream_read_op final : public operation<stream_read_op<R, Take, What>> {
public:
    // read(n), readexactly(n), readline (n unused)
    stream_read_op(stream_core* c, std::size_t n) noexcept : c_(c) {
        want_.what = What;
        want_.n = n;
    }
    // read(span)
    stream_read_op(stream_core* c, std::span<char> into) noexcept : c_(c) {
        want_.lends = !into.empty();
        want_.n = into.size();
        want_.into = into.data();
        want_.got = 0;
    }
    // readuntil(separator)
    stream_read_op(stream_core* c, std::string_view separator) noexcept : c_(c) {
        want_.what = What;
        want_.n = separator.size();
        want_.separator = separator.data();
    }
    stream_read_op(stream_read_op&& o) noexcept : operation<stream_read_op>(std::move(o)), c_(o.c_), want_(o.want_) {}
    ~stream_read_op() {
        if (held_) c_->release();
    }

    bool ready() noexcept {
        if constexpr (What == read_want::kind::any) return c_->rn > 0 || want_.n == 0 || c_->error || c_->eof;
        else if constexpr (What == read_want::kind::exactly) return c_->rn >= want_.n || c_->error || c_->eof;
        else return (c_->rn > want_.scanned || c_->error || c_->eof) && read_ready(c_, want_); // nothing new: no
    }
    bool start() {
        if (c_->reader || c_->own || c_->paused_reading) [[unlikely]] {
            read_wait(c_, want_, *this); // (or throws: another task waits)
        } else { // what read_wait comes to in the common case
            c_->reader = this;
            c_->want = &want_;
        }
        c_->add_ref();
        held_ = true;
        return true;
    }
    cancel_outcome cancel() noexcept {
        read_unwait(c_, want_);
        return cancel_outcome::stopped;
    }
    R result() {
        if constexpr (std::is_same_v<R, std::size_t>) { // read(span): straight into the caller's buffer
            if (want_.got) return want_.got;
            if (const std::size_t n = std::min(want_.n, c_->rn); n > 0) {
                std::memcpy(want_.into, c_->rp, n);
                c_->consume(n);
                return n;
            }
        }
        return Take(c_, want_);
    }
    const char* kind() const noexcept override {
        switch (What) {
        case read_want::kind::any: return "read";
        case read_want::kind::exactly: return "readexactly";
        case read_want::kind::line: return "readline";
        case read_want::kind::until: return "readuntil";
        }
        return "read";
    }

private:
    bool held_ = false; // (first: it fits in the base's tail padding)
    stream_core* c_;
    read_want want_;
};

// stream_writer::drain() and wait_closed(): waits on one of the connection's
// lists; with nothing to wait for it does not suspend.
class conn_wait_op final : public operation<conn_wait_op>, public list_hook<> {
public:
    enum class what : std::uint8_t { drain, closed };
    conn_wait_op(stream_core* c, what w) noexcept : c_(c), what_(w) {}
    conn_wait_op(conn_wait_op&& o) noexcept : operation<conn_wait_op>(std::move(o)), c_(o.c_), what_(o.what_) {}
    ~conn_wait_op() {
        if (held_) c_->release();
    }

    bool ready() const noexcept {
        if (what_ == what::closed) return c_->closed;
        return !c_->paused_writing || c_->error || c_->handle_closing;
    }
    bool start() noexcept;
    cancel_outcome cancel() noexcept {
        unlink();
        return cancel_outcome::stopped;
    }
    void result() {
        // drain(): the connection's error; lost before drain() began (not
        // while it waited): "connection lost", as asyncio.
        if ((c_->error || c_->handle_closing) && drains() && (c_->error || !task())) throw_lost();
    }
    const char* kind() const noexcept override { return drains() ? "drain" : "wait_closed"; }
    bool drains() const noexcept { return what_ == what::drain; }

private:
    [[noreturn]] void throw_lost() const;
    stream_core* c_;
    what what_;
    bool held_ = false;
};

// stream_writer::drain(). With nothing to wait for and nothing to report
// (the common case) co_await returns at once and the operation that waits
// is never built: a drain after every write costs a few loads.
class drain_op {
public:
    explicit drain_op(stream_core* c) noexcept : c_(c) {}
    drain_op(drain_op&& o) noexcept : c_(o.c_) {} // (before it is awaited)

    bool await_ready() const noexcept { return !c_->paused_writing && !c_->error && !c_->handle_closing; }
    template <class P> bool await_suspend(std::coroutine_handle<P> h) {
        conn_wait_op& op = wait_.emplace(c_, conn_wait_op::what::drain);
        return !op.await_ready() && op.await_suspend(h);
    }
    void await_resume() {
        if (wait_) wait_->await_resume();
    }
    operator ::uvasync::task<void>() && { return as_task(std::move(*this)); }

private:
    stream_core* c_;
    std::optional<conn_wait_op> wait_;
};

// std::logic_error "<what>: the stream is not connected (moved from?)".
[[noreturn]] void throw_not_connected(const char* what);
// std::invalid_argument: readuntil's separator is empty.
[[noreturn]] void throw_empty_separator();
inline stream_core* connected(stream_core* c, const char* what) {
    if (!c) throw_not_connected(what);
    return c;
}

// The writes that did not go straight to the socket.
void write_queued(stream_core* c, std::string_view data, int sent);
void write_queued(stream_core* c, std::string&& data, int sent);
// A string the socket took whole: its buffer serves a later read(n).
void reuse_string(std::string&& s) noexcept;
void write_checked(stream_core* c, std::string_view data);
void write_checked(stream_core* c, std::string&& data);

} // namespace detail

// asyncio's default buffer limit (2**16).
inline constexpr std::size_t default_stream_limit = 64 * 1024;

// asyncio.StreamReader.
class stream_reader {
public:
    using read_op = detail::stream_read_op<std::string, &detail::take_some, detail::read_want::kind::any>;
    using read_into_op = detail::stream_read_op<std::size_t, &detail::take_into, detail::read_want::kind::any>;
    using readexactly_op = detail::stream_read_op<std::string, &detail::take_exactly, detail::read_want::kind::exactly>;
    using readline_op = detail::stream_read_op<std::string, &detail::take_line, detail::read_want::kind::line>;
    using readuntil_op = detail::stream_read_op<std::string, &detail::take_until, detail::read_want::kind::until>;

    stream_reader() noexcept = default; // not connected: valid() is false
    stream_reader(stream_reader&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
    stream_reader& operator=(stream_reader&& o) noexcept;
    stream_reader(const stream_reader&) = delete;
    stream_reader& operator=(const stream_reader&) = delete;
    ~stream_reader();

    bool valid() const noexcept { return c_ != nullptr; }

    // Every read is awaited with co_await; the awaitable does not suspend
    // when the data is buffered already, and has no coroutine frame of its
    // own. Only one task at a time may wait for data (std::runtime_error).

    // Up to n bytes, as soon as any are available; empty only at EOF (and
    // for n == 0, which returns at once).
    [[nodiscard]] read_op read(std::size_t n) { return read_op(detail::connected(c_, "read"), n); }
    // Up to into.size() bytes into a buffer of the caller's, returning how
    // many; 0 only at EOF (or for an empty buffer). While the task waits, the
    // socket is read straight into `into`: no copy and no allocation, for
    // servers that reuse one buffer per connection. `into` must stay valid
    // until the read completes.
    [[nodiscard]] read_into_op read(std::span<char> into) { return read_into_op(detail::connected(c_, "read"), into); }
    // Everything until EOF (a task: it reads until the peer closes).
    task<std::string> read();
    // One line, including its "\n". At EOF without a newline: what is left
    // (empty when nothing is). A line longer than the limit throws
    // limit_overrun_error and is discarded (the whole line if its newline
    // has arrived, otherwise the buffer).
    [[nodiscard]] readline_op readline() { return readline_op(detail::connected(c_, "readline"), std::size_t{0}); }
    // Exactly n bytes. EOF first: incomplete_read_error with the partial
    // bytes (which leave the buffer).
    [[nodiscard]] readexactly_op readexactly(std::size_t n) {
        return readexactly_op(detail::connected(c_, "readexactly"), n);
    }
    // Data up to and including `separator` (which may be several bytes,
    // found across chunk boundaries). Empty separator: std::invalid_argument.
    // EOF first: incomplete_read_error with everything buffered (buffer
    // cleared; expected() == 0). Separator not within the limit:
    // limit_overrun_error, and the data stays in the buffer.
    // `separator` must stay valid until the read completes (a literal does).
    [[nodiscard]] readuntil_op readuntil(std::string_view separator = "\n") {
        detail::stream_core* c = detail::connected(c_, "readuntil");
        if (separator.empty()) detail::throw_empty_separator();
        return readuntil_op(c, separator);
    }

    // EOF was received and the buffer is empty.
    bool at_eof() const noexcept { return c_ && c_->eof && c_->rn == 0; }
    // Bytes received and not read yet.
    std::size_t buffered_size() const noexcept { return c_ ? c_->rn : 0; }
    std::size_t limit() const noexcept;

private:
    friend class detail::stream_conn;
    explicit stream_reader(detail::stream_core* c) noexcept : c_(c) {}
    detail::stream_core* c_ = nullptr;
};


// asyncio.StreamWriter.
class stream_writer {
public:
    stream_writer() noexcept = default; // not connected: valid() is false
    stream_writer(stream_writer&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
    stream_writer& operator=(stream_writer&& o) noexcept;
    stream_writer(const stream_writer&) = delete;
    stream_writer& operator=(const stream_writer&) = delete;
    // Closes the connection (flushing) once the reader is gone too.
    ~stream_writer();

    bool valid() const noexcept { return c_ != nullptr; }

    // Queues bytes for sending; never blocks. The moved-in string is sent
    // without being copied. After close() or write_eof(): std::runtime_error.
    // After the connection was lost (reset by the peer, ...) the bytes are
    // dropped, as asyncio drops them, and drain() throws the error.
    void write(std::string_view data);
    void write(std::string&& data);
    void write(const char* data) { write(std::string_view(data)); }
    // write() of every element, in order.
    template <std::ranges::input_range R> void writelines(R&& lines) {
        for (auto&& line : lines) {
            if constexpr (std::is_same_v<std::remove_cvref_t<decltype(line)>, std::string> &&
                          !std::is_lvalue_reference_v<R> && !std::is_const_v<std::remove_reference_t<decltype(line)>>)
                write(std::move(line));
            else
                write(std::string_view(line));
        }
    }

    // Waits while more than the high-water mark is buffered, until the
    // buffer is down to the low-water mark. Throws the connection's error
    // (std::system_error) once the connection is lost; after a clean close
    // it throws std::errc::connection_reset ("connection lost"), as asyncio.
    // Any number of tasks may wait in drain() at once. Frame-less, and
    // with nothing to wait for it does not suspend.
    [[nodiscard]] detail::drain_op drain() { return detail::drain_op(detail::connected(c_, "drain")); }

    bool can_write_eof() const noexcept { return true; }
    // Sends everything buffered, then shuts the sending side down (the peer
    // reads EOF); reading goes on. Idempotent.
    void write_eof();
    // Stops reading, sends everything buffered, then closes the socket.
    // Idempotent. A pending read then sees EOF.
    void close();
    // Closes at once, dropping whatever is still buffered (transport.abort()).
    void abort();
    // Waits until the socket is closed.
    [[nodiscard]] detail::conn_wait_op wait_closed();
    bool is_closing() const noexcept;

    // Addresses of a TCP connection (empty endpoint for Unix sockets, or
    // when the socket is already closed and they were never asked for).
    endpoint peername() const;
    endpoint sockname() const;
    // Paths of a Unix socket connection ("" when unnamed, or for TCP).
    std::string unix_peername() const;
    std::string unix_sockname() const;

    // asyncio's set_write_buffer_limits(high=None, low=None): high defaults
    // to 64 KiB (or 4 x low when only low is given), low to high / 4.
    // high < low: std::invalid_argument.
    void set_write_buffer_limits(std::optional<std::size_t> high = std::nullopt,
                                 std::optional<std::size_t> low = std::nullopt);
    // (low, high), as asyncio's get_write_buffer_limits().
    std::pair<std::size_t, std::size_t> get_write_buffer_limits() const noexcept;
    // Bytes written and not yet handed to the kernel.
    std::size_t get_write_buffer_size() const noexcept;

    // TLS. start_tls upgrades a plain connection in place (STARTTLS),
    // as asyncio's start_tls: the side comes from the connection (accepted
    // by a server: the server side), and bytes received but not read yet
    // are the first handshake bytes. `server_hostname`: a client's SNI and
    // the name its certificate must carry (needed when the context checks
    // host names). What another task writes meanwhile is sent over TLS once
    // the handshake is over (a close() or write_eof() meanwhile waits for
    // it). Errors: tls_error / tls_certificate_error (the connection is
    // closed then); a connection that is TLS already: std::runtime_error.
    task<> start_tls(tls_context ctx, std::string server_hostname = {},
                     std::chrono::milliseconds handshake_timeout = std::chrono::seconds(60));
    // The TLS session's parameters; empty on a plain connection (or before
    // the handshake completed).
    std::optional<tls_info> tls() const;

    // The libuv stream (a uv_tcp_t or uv_pipe_t), for socket options and
    // the like (asyncio's get_extra_info('socket')); null once closed. Do
    // not read, write or close through it.
    uv_stream_t* native_handle() const noexcept;

private:
    friend class detail::stream_conn;
    explicit stream_writer(detail::stream_core* c) noexcept : c_(c) {}
    detail::stream_core* c_ = nullptr;
};

// The common case inline: nothing queued, and the socket takes it all.
inline void stream_writer::write(std::string_view data) {
    if (c_ && c_->can_write_directly() && !data.empty()) {
        uv_buf_t b;
        b.base = const_cast<char*>(data.data());
        b.len = data.size();
        const int n = uv_try_write(c_->stream, &b, 1);
        if (n >= 0 && static_cast<std::size_t>(n) == data.size()) return;
        detail::write_queued(c_, data, n);
        return;
    }
    detail::write_checked(c_, data);
}
inline void stream_writer::write(std::string&& data) {
    if (c_ && c_->can_write_directly() && !data.empty()) {
        uv_buf_t b;
        b.base = data.data();
        b.len = data.size();
        const int n = uv_try_write(c_->stream, &b, 1);
        if (n >= 0 && static_cast<std::size_t>(n) == data.size()) detail::reuse_string(std::move(data));
        else detail::write_queued(c_, std::move(data), n);
        return;
    }
    detail::write_checked(c_, std::move(data));
}

struct connect_options {
    // The reader's buffer limit (readline / readuntil limit, flow control).
    std::size_t limit = default_stream_limit;
    // Bind the socket to this address before connecting.
    std::optional<endpoint> local_addr;
    // When a name resolves to several addresses they are tried one at a
    // time, in the resolver's order; the first that connects wins. Accepted
    // for asyncio compatibility: attempts are not raced yet (RFC 8305).
    std::optional<std::chrono::milliseconds> happy_eyeballs_delay;
    // TLS (asyncio's ssl=): the connection is encrypted with this context
    // before open_connection returns.
    std::optional<tls_context> tls;
    // SNI and the name the server's certificate must carry; empty: `host`.
    std::string server_hostname;
    // The handshake must finish within this (tls_error, std::errc::timed_out).
    std::chrono::milliseconds tls_handshake_timeout{60'000};
};

// asyncio.open_connection. `host` is a numeric IPv4/IPv6 address or a name
// (resolved with getaddrinfo). Errors: std::system_error (e.g.
// std::errc::connection_refused; when every address failed, the last
// address's error); bad arguments (limit 0): std::invalid_argument.
// TCP_NODELAY is set.
//
// (No default argument for `options`: connect_options holds a tls_context
// and a string, and GCC 12 destroys an aggregate temporary built inside a
// co_await expression twice; build options as a named local, docs/gcc12.md.)
task<std::pair<stream_reader, stream_writer>> open_connection(std::string host, std::uint16_t port,
                                                              connect_options options);
task<std::pair<stream_reader, stream_writer>> open_connection(std::string host, std::uint16_t port);

// asyncio.open_unix_connection.
task<std::pair<stream_reader, stream_writer>> open_unix_connection(std::string path,
                                                                   std::size_t limit = default_stream_limit);

} // namespace uvasync
