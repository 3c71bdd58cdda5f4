// The TLS layer of a stream connection: the handshake, ciphertext in and
// out through the connection's BIO, close_notify, writer.start_tls and
// writer.tls().
#include "stream_conn.hpp"
#include "tls_session.hpp"

#include <uvasync/event_loop.hpp>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace uvasync {

namespace detail {

namespace {

// SSL_read's plaintext lands here before it is delivered (one per thread,
// as the shared read buffer).
constexpr std::size_t plain_size = 64 * 1024;
char* plain_buffer() noexcept {
    thread_local std::unique_ptr<char[]> buffer(new char[plain_size]);
    return buffer.get();
}

// Plaintext goes to SSL_write at most this much at a time, so that the
// ciphertext waiting in tls_session::output stays small.
constexpr std::size_t write_chunk = 64 * 1024;

bool is_ip_literal(const std::string& host) {
    unsigned char buf[sizeof(in6_addr)];
    return uv_inet_pton(AF_INET, host.c_str(), buf) == 0 || uv_inet_pton(AF_INET6, host.c_str(), buf) == 0;
}

// A ciphertext buffer that ran empty goes back to the thread's spare
// strings (or, too big for them, to the heap): an idle TLS connection keeps
// no buffer of its own, whatever it sent or received last.
void release_buffer(std::string& s) noexcept {
    reuse_string(std::move(s));
    std::string().swap(s);
}

// OpenSSL's reason for the last error, or `fallback`.
std::string openssl_reason(const char* fallback) {
    const unsigned long e = ERR_peek_last_error();
    const char* r = e ? ERR_reason_error_string(e) : nullptr;
    std::string out = r ? r : fallback;
    ERR_clear_error();
    return out;
}

// ---- the connection's BIO ----------------------------------------------------
// OpenSSL reads ciphertext from tls_session::carry, then ::input, and
// writes its records to ::output (see tls_session.hpp).

int bio_read(BIO* b, char* out, std::size_t size, std::size_t* got) {
    BIO_clear_retry_flags(b);
    tls_session& t = *static_cast<tls_session*>(BIO_get_data(b));
    std::size_t n = 0;
    if (t.carry_at < t.carry.size()) {
        n = std::min(size, t.carry.size() - t.carry_at);
        std::memcpy(out, t.carry.data() + t.carry_at, n);
        t.carry_at += n;
        if (t.carry_at == t.carry.size()) {
            release_buffer(t.carry);
            t.carry_at = 0;
        }
    }
    if (n < size && t.input_size) {
        const std::size_t m = std::min(size - n, t.input_size);
        std::memcpy(out + n, t.input, m);
        t.input += m;
        t.input_size -= m;
        n += m;
    }
    *got = n;
    if (n == 0) {
        BIO_set_retry_read(b); // nothing yet: "want read"
        return 0;
    }
    return 1;
}

int bio_write(BIO* b, const char* data, std::size_t size, std::size_t* written) {
    BIO_clear_retry_flags(b);
    tls_session& t = *static_cast<tls_session*>(BIO_get_data(b));
    try {
        if (t.output.empty() && t.output.capacity() < size) {
            t.output = reused_string();
            t.output.clear(); // (a spare keeps its old bytes)
        }
        t.output.append(data, size);
    } catch (...) {
        return 0; // SSL_write fails: the connection is lost
    }
    *written = size;
    return 1;
}

long bio_ctrl(BIO*, int cmd, long, void*) { return cmd == BIO_CTRL_FLUSH ? 1 : 0; }

int bio_create(BIO* b) {
    BIO_set_init(b, 1);
    return 1;
}

BIO_METHOD* connection_bio_method() {
    static BIO_METHOD* const method = [] {
        BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "uvasync connection");
        if (m && (BIO_meth_set_read_ex(m, bio_read) != 1 || BIO_meth_set_write_ex(m, bio_write) != 1 ||
                  BIO_meth_set_ctrl(m, bio_ctrl) != 1 || BIO_meth_set_create(m, bio_create) != 1)) {
            BIO_meth_free(m);
            m = nullptr;
        }
        return m;
    }();
    return method;
}

std::string bio_text(BIO* b) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(b, &data);
    return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

} // namespace

// ---- attaching --------------------------------------------------------------

void tls_attach(stream_conn* c, const tls_context& ctx, bool server, const std::string& hostname) {
    tls_context_state& cs = tls_context_state::of(ctx);
    if (!server && cs.check_hostname && hostname.empty())
        throw std::invalid_argument("TLS: the context checks host names, and no server_hostname was given");
    ERR_clear_error();
    SSL* ssl = SSL_new(cs.ctx);
    if (!ssl) throw_openssl_error("TLS: SSL_new");
    std::unique_ptr<tls_session> t;
    try {
        t = std::make_unique<tls_session>(tls_context_state::share(ctx), ssl);
    } catch (...) {
        SSL_free(ssl);
        throw;
    }
    BIO_METHOD* method = connection_bio_method();
    BIO* bio = method ? BIO_new(method) : nullptr;
    if (!bio) throw_openssl_error("TLS: BIO_new");
    BIO_set_data(bio, t.get());
    SSL_set_bio(ssl, bio, bio); // (owned by ssl from here on)
    t->server = server;
    if (server) {
        SSL_set_accept_state(ssl);
    } else {
        SSL_set_connect_state(ssl);
        if (!hostname.empty()) {
            t->peer = hostname;
            const bool ip = is_ip_literal(hostname);
            if (!ip && SSL_set_tlsext_host_name(ssl, hostname.c_str()) != 1)
                throw_openssl_error("TLS: server name " + hostname);
            if (cs.check_hostname) {
                X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
                const int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, hostname.c_str())
                                  : X509_VERIFY_PARAM_set1_host(param, hostname.c_str(), 0);
                if (ok != 1) throw_openssl_error("TLS: server name " + hostname);
            }
        }
    }
    if (t->peer.empty()) { // for messages
        if (const endpoint e = c->address(false); e.family() != AF_UNSPEC) t->peer = e.to_string();
    }
    // Bytes already received (STARTTLS) are the first handshake bytes.
    if (c->rn) {
        t->carry.assign(c->rp, c->rn);
        c->consume(c->rn);
    }
    c->tls = t.release();
    c->write_closed = true; // every write takes stream_conn::write, which encrypts
    if (!c->handle_closing) c->tls_handshake_step();
}

// ---- reading ----------------------------------------------------------------

void stream_conn::tls_on_read(ssize_t nread, const uv_buf_t* buf) noexcept {
    tls_session& t = *tls;
    if (nread < 0) {
        if (nread == UV_EOF) {
            eof = true;
            reading = false; // libuv stopped reading
        }
        if (t.state == tls_session::phase::handshaking) {
            const bool reset = nread != UV_EOF;
            std::string msg = "TLS handshake" + (t.peer.empty() ? std::string() : " with " + t.peer) + ": " +
                              (reset ? std::string(uv_strerror(static_cast<int>(nread)))
                                     : std::string("the peer closed the connection"));
            tls_fail(std::make_exception_ptr(tls_error(
                         std::make_error_code(reset ? std::errc::connection_reset : std::errc::connection_aborted),
                         msg)),
                     reset ? static_cast<int>(nread) : UV_ECONNABORTED);
            return;
        }
        if (nread == UV_EOF) wake_reader(); // (no close_notify: EOF all the same, as asyncio)
        else lose(static_cast<int>(nread));
        return;
    }
    if (t.state == tls_session::phase::failed) return;
    t.input = buf->base; // (the shared read buffer: nothing else reads into it before this returns)
    t.input_size = static_cast<std::size_t>(nread);
    if ((t.state != tls_session::phase::handshaking || tls_handshake_step()) && !handle_closing)
        tls_read_plaintext();
    if (t.input_size && t.state != tls_session::phase::failed && !handle_closing) {
        try {
            t.carry.append(t.input, t.input_size); // (a record OpenSSL did not need yet)
        } catch (...) {
            lose(UV_ENOBUFS);
        }
    }
    t.input = nullptr;
    t.input_size = 0;
}

bool stream_conn::tls_handshake_step() noexcept {
    tls_session& t = *tls;
    ERR_clear_error();
    const int r = SSL_do_handshake(t.ssl);
    if (r == 1) {
        tls_flush(); // (a server's last flight)
        t.state = tls_session::phase::open;
        tls_handshake_done(); // (before the waiter: what it writes next goes after)
        if (tls_handshake_op* w = std::exchange(t.waiter, nullptr)) w->finished();
        return true;
    }
    const int e = SSL_get_error(t.ssl, r);
    if (e == SSL_ERROR_WANT_READ) {
        tls_flush();
        return false;
    }
    const std::string where = "TLS handshake" + (t.peer.empty() ? std::string() : " with " + t.peer);
    std::exception_ptr failure;
    const long v = SSL_get_verify_result(t.ssl);
    try {
        if (v != X509_V_OK) {
            const std::string vm = X509_verify_cert_error_string(v);
            ERR_clear_error();
            failure = std::make_exception_ptr(tls_certificate_error(where + ": certificate verify failed: " + vm, vm, v));
        } else {
            failure = std::make_exception_ptr(tls_error(std::make_error_code(std::errc::protocol_error),
                                                        where + ": " + openssl_reason("handshake failure")));
        }
    } catch (...) {
        failure = std::current_exception();
    }
    tls_flush(); // the alert, if it made one
    tls_fail(failure, UV_EPROTO);
    return false;
}

void stream_conn::tls_read_plaintext() noexcept {
    tls_session& t = *tls;
    char* p = plain_buffer();
    std::size_t n = 0;
    for (;;) {
        // A reader waiting with a buffer of its own (read(span)) gets the
        // plaintext there, as a plain connection's reader gets the socket's
        // bytes: one copy less.
        const bool lent = n == 0 && rn == 0 && reader_alive && want && want->lends;
        std::size_t got = 0;
        ERR_clear_error();
        const int r = lent ? SSL_read_ex(t.ssl, want->into, want->n, &got)
                           : SSL_read_ex(t.ssl, p + n, plain_size - n, &got);
        // (before anything else calls OpenSSL: a woken reader may write)
        const int e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(t.ssl, r);
        std::string reason = e == SSL_ERROR_SSL || e == SSL_ERROR_SYSCALL ? openssl_reason("bad record") : "";
        if (r == 1 && lent) {
            want->got = got;
            wake_reader();
            if (handle_closing) return;
            continue;
        }
        if (r == 1) {
            n += got;
            if (n < plain_size) continue;
        }
        if (n) {
            if (reader_alive) deliver(p, n);
            n = 0;
            if (handle_closing) return;
        }
        if (r == 1) continue;
        if (e == SSL_ERROR_WANT_READ) break;
        if (e == SSL_ERROR_ZERO_RETURN) { // close_notify: EOF
            eof = true;
            wake_reader();
            break;
        }
        std::exception_ptr failure;
        try {
            failure = std::make_exception_ptr(tls_error(std::make_error_code(std::errc::protocol_error),
                                                        "TLS: " + reason));
        } catch (...) {
            failure = std::current_exception();
        }
        tls_flush();
        tls_fail(failure, UV_EPROTO);
        return;
    }
    tls_flush(); // (what reading produced: a key update, ...)
}

// ---- writing ----------------------------------------------------------------

void stream_conn::tls_write(std::string_view data) {
    tls_session& t = *tls;
    if (t.state == tls_session::phase::failed) return; // lost: dropped, as on a plain connection
    if (t.state == tls_session::phase::handshaking) {
        t.early.append(data);
        maybe_pause_writing();
        return;
    }
    while (!data.empty()) {
        const std::size_t chunk = std::min(data.size(), write_chunk);
        std::size_t wrote = 0;
        ERR_clear_error();
        if (SSL_write_ex(t.ssl, data.data(), chunk, &wrote) != 1) {
            std::exception_ptr failure = std::make_exception_ptr(tls_error(
                std::make_error_code(std::errc::protocol_error), "TLS: " + openssl_reason("write failed")));
            tls_fail(failure, UV_EPROTO);
            return;
        }
        data.remove_prefix(wrote);
        tls_flush();
        if (handle_closing) return;
    }
}

void stream_conn::tls_handshake_done() noexcept {
    tls_session& t = *tls;
    if (!t.early.empty()) {
        const std::string early = std::exchange(t.early, {});
        try {
            tls_write(early);
        } catch (...) {
            lose(UV_ENOBUFS);
        }
    }
    if (handle_closing) return;
    if (closing) {
        finish_close();
        return;
    }
    if (eof_requested) tls_close_notify();
    after_flush(); // write_eof's shutdown once flushed; drain() below the low-water mark
}

bool stream_conn::tls_handshaking() const noexcept { return tls->state == tls_session::phase::handshaking; }

std::size_t stream_conn::tls_early_bytes() const noexcept { return tls->early.size(); }

void stream_conn::tls_flush() noexcept {
    std::string& out = tls->output;
    if (out.empty()) return;
    if (handle_closing) {
        release_buffer(out);
        return;
    }
    const int sent = try_write(out);
    if (sent < 0 || static_cast<std::size_t>(sent) != out.size()) {
        try {
            queue(std::move(out), sent); // behind a write in flight, or as the next one (the string goes with it)
        } catch (...) {
            lose(UV_ENOBUFS);
        }
    }
    release_buffer(out);
}

void stream_conn::tls_close_notify() noexcept {
    tls_session& t = *tls;
    if (t.state != tls_session::phase::open || t.sent_close_notify || handle_closing) return;
    t.sent_close_notify = true;
    ERR_clear_error();
    SSL_shutdown(t.ssl);
    ERR_clear_error();
    tls_flush();
}

// ---- failing ------------------------------------------------------------------

void stream_conn::tls_fail(std::exception_ptr e, int status) noexcept {
    tls_session& t = *tls;
    if (t.state == tls_session::phase::failed) return;
    const bool was_handshaking = t.state == tls_session::phase::handshaking;
    t.state = tls_session::phase::failed;
    t.failure = std::move(e);
    lose(status); // the reader and drain() hear of it from the close callback
    if (was_handshaking)
        if (tls_handshake_op* w = std::exchange(t.waiter, nullptr)) w->finished();
}

void stream_conn::tls_closed() noexcept {
    tls_session& t = *tls;
    if (t.state != tls_session::phase::handshaking) return;
    t.state = tls_session::phase::failed;
    try {
        const std::string msg = "TLS handshake" + (t.peer.empty() ? std::string() : " with " + t.peer) +
                                ": the connection was closed" +
                                (error ? std::string(" (") + uv_strerror(error) + ")" : std::string());
        t.failure = std::make_exception_ptr(tls_error(std::make_error_code(std::errc::connection_aborted), msg));
    } catch (...) {
        t.failure = std::current_exception();
    }
    if (tls_handshake_op* w = std::exchange(t.waiter, nullptr)) w->finished();
}

void stream_conn::rethrow_tls_failure() const {
    if (tls->failure) std::rethrow_exception(tls->failure);
}

// ---- the handshake operation ----------------------------------------------------

tls_handshake_op::~tls_handshake_op() {
    if (held_) c_->release();
}

bool tls_handshake_op::ready() const noexcept { return c_->tls->state != tls_session::phase::handshaking; }

bool tls_handshake_op::start() {
    c_->tls->waiter = this;
    c_->add_ref();
    held_ = true;
    if (timeout_ > 0) {
        deadline = now_ns() + timeout_;
        task()->loop().add_timer(*this);
    }
    return true;
}

void tls_handshake_op::disarm() noexcept {
    if (armed()) task()->loop().remove_timer(*this);
}

cancel_outcome tls_handshake_op::cancel() noexcept {
    if (c_->tls->waiter == this) c_->tls->waiter = nullptr;
    disarm();
    return cancel_outcome::stopped;
}

void tls_handshake_op::finished() noexcept {
    disarm();
    wake_now();
}

void tls_handshake_op::fire() noexcept {
    timed_out_ = true;
    if (c_->tls->waiter == this) c_->tls->waiter = nullptr;
    wake_now();
}

void tls_handshake_op::result() {
    if (task()) disarm();
    tls_session& t = *c_->tls;
    if (t.state == tls_session::phase::handshaking && timed_out_) {
        c_->abort();
        throw tls_error(std::make_error_code(std::errc::timed_out),
                        "TLS handshake" + (t.peer.empty() ? std::string() : " with " + t.peer) + ": timed out");
    }
    if (t.failure) std::rethrow_exception(t.failure);
    if (t.state != tls_session::phase::open)
        throw tls_error(std::make_error_code(std::errc::connection_aborted), "TLS handshake: the connection was closed");
}

} // namespace detail

// ---- stream_writer ------------------------------------------------------------

task<> stream_writer::start_tls(tls_context ctx, std::string server_hostname,
                                std::chrono::milliseconds handshake_timeout) {
    detail::stream_conn* c = detail::stream_conn::of(detail::connected(c_, "start_tls"));
    if (c->tls) throw std::runtime_error("start_tls: the connection is TLS already");
    if (c->closing || c->handle_closing || c->eof_requested)
        throw std::runtime_error("start_tls: the connection is closing");
    detail::tls_attach(c, ctx, c->srv != nullptr, server_hostname);
    co_await detail::tls_handshake_op(c, detail::handshake_timeout_ns(handshake_timeout));
}

std::optional<tls_info> stream_writer::tls() const {
    detail::stream_conn* c = detail::stream_conn::of(detail::connected(c_, "tls"));
    if (!c->tls || c->tls->state != detail::tls_session::phase::open) return std::nullopt;
    SSL* ssl = c->tls->ssl;
    tls_info info;
    info.version = SSL_get_version(ssl);
    if (const char* name = SSL_get_cipher_name(ssl)) info.cipher = name;
    const unsigned char* alpn = nullptr;
    unsigned alpn_len = 0;
    SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
    if (alpn) info.alpn_protocol.assign(reinterpret_cast<const char*>(alpn), alpn_len);
    if (X509* cert = SSL_get1_peer_certificate(ssl)) {
        std::unique_ptr<BIO, decltype(&BIO_free)> b(BIO_new(BIO_s_mem()), &BIO_free);
        if (b) {
            X509_NAME_print_ex(b.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
            info.peer_subject = detail::bio_text(b.get());
            (void)BIO_reset(b.get());
            PEM_write_bio_X509(b.get(), cert);
            info.peer_certificate_pem = detail::bio_text(b.get());
        }
        X509_free(cert);
    }
    return info;
}

} // namespace uvasync
