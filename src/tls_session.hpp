// The TLS layer of a stream connection (private).
//
// An OpenSSL SSL object sits under the connection's plain buffers, on a BIO
// of ours: OpenSSL reads ciphertext straight from the buffer libuv read
// into (`input`; what it leaves unread waits in `carry`), and SSL_read's
// plaintext is delivered to the read buffer exactly as a plain socket's
// bytes are; a write is SSL_write, whose records OpenSSL writes into
// `output`, from which they take the plain write path (uv_try_write, then
// the staged write request). So flow control, drain(), close() flushing and
// the cancellation rules are the plain connection's own. (Memory BIOs cost
// a memset and a copy more each way: BIO_write zero-fills the room it grows
// into before it copies.)
//
// The plain hot paths pay one branch: on_read tests `tls`, and a TLS
// connection keeps write_closed set, so that stream_writer::write's inline
// fast path always falls through to stream_conn::write.
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include <uvasync/detail/operation.hpp>
#include <uvasync/detail/timer_heap.hpp>
#include <uvasync/tls.hpp>

namespace uvasync::detail {

class stream_conn;
class tls_handshake_op;

struct tls_context_state {
    SSL_CTX* ctx = nullptr;
    bool check_hostname = false;
    std::string alpn_wire; // the ALPN list in wire format (length-prefixed names)

    ~tls_context_state();
    static tls_context make(std::shared_ptr<tls_context_state> s) noexcept { return tls_context(std::move(s)); }
    static tls_context_state& of(const tls_context& c) noexcept { return *c.s_; }
    static std::shared_ptr<tls_context_state> share(const tls_context& c) noexcept { return c.s_; }
};

// Throws tls_error with `what` and the reason of OpenSSL's last error.
[[noreturn]] void throw_openssl_error(const std::string& what);

struct tls_session {
    enum class phase : std::uint8_t { handshaking, open, failed };

    tls_session(std::shared_ptr<tls_context_state> c, SSL* s) noexcept : ctx(std::move(c)), ssl(s) {}
    ~tls_session() { SSL_free(ssl); } // frees the BIO too
    tls_session(const tls_session&) = delete;
    tls_session& operator=(const tls_session&) = delete;

    std::shared_ptr<tls_context_state> ctx; // (the ALPN callback reads it)
    SSL* ssl;
    // Ciphertext from the socket: what libuv just read, while OpenSSL
    // works on it, then what OpenSSL left of it (rarely anything).
    const char* input = nullptr;
    std::size_t input_size = 0;
    // Both strings hand their buffers back to the thread's spare strings
    // as soon as they run empty: an idle connection holds neither.
    std::string carry;
    std::size_t carry_at = 0;
    std::string output; // ciphertext for the socket, until tls_flush
    // Plaintext written while the handshake runs (another task writes during
    // start_tls): encrypted and sent once it is over, as asyncio does. It
    // counts in the write buffer, so drain() waits for it.
    std::string early;
    phase state = phase::handshaking;
    bool server = false;
    bool sent_close_notify = false;
    std::string peer; // "host:port" or the host name, for messages
    std::exception_ptr failure;        // the tls_error that failed the connection
    tls_handshake_op* waiter = nullptr; // the task waiting for the handshake
};

// Makes `c` a TLS connection (client: `hostname` for SNI and the host-name
// check, when the context checks it). Bytes buffered unread become the
// first handshake bytes. Starts the handshake (a client sends its hello).
void tls_attach(stream_conn* c, const tls_context& ctx, bool server, const std::string& hostname);

inline std::int64_t handshake_timeout_ns(std::chrono::milliseconds t) noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t).count();
}

// Waits until the handshake of `c` is over: throws its tls_error, or a
// tls_error with std::errc::timed_out after `timeout_ns` (<= 0: none),
// after which the connection is aborted.
class tls_handshake_op final : public operation<tls_handshake_op>, public timer_node {
public:
    tls_handshake_op(stream_conn* c, std::int64_t timeout_ns) noexcept : c_(c), timeout_(timeout_ns) {}
    tls_handshake_op(tls_handshake_op&& o) noexcept
        : operation<tls_handshake_op>(std::move(o)), c_(o.c_), timeout_(o.timeout_) {}
    ~tls_handshake_op();

    bool ready() const noexcept;
    bool start();
    cancel_outcome cancel() noexcept;
    void result();
    const char* kind() const noexcept override { return "tls_handshake"; }

    void finished() noexcept; // the handshake is over (either way)

private:
    void fire() noexcept override;
    void disarm() noexcept;
    stream_conn* c_;
    std::int64_t timeout_;
    bool held_ = false;
    bool timed_out_ = false;
};

} // namespace uvasync::detail
