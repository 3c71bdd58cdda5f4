// Streams: the connection object, stream_reader, stream_writer,
// open_connection and open_unix_connection.
#include "find_separator.hpp"
#include "stream_conn.hpp"
#include "tls_session.hpp"

#include <uvasync/dns.hpp>
#include <uvasync/event_loop.hpp>
#include <uvasync/streams.hpp>

#include <sys/un.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <stdexcept>
#include <vector>

namespace uvasync {

namespace detail {

// ---- buffers ------------------------------------------------------------

char* shared_read_buffer() noexcept {
    thread_local std::unique_ptr<char[]> buffer(new char[shared_read_size]);
    return buffer.get();
}

namespace {
// Strings that were read, written and sent: a read(n) reuses their buffers,
// so the asyncio way of echoing (read, write(std::move(data)), drain)
// allocates nothing once warm.
// (Kept as raw storage: moving a string in and out by construction is
// cheaper than move-assigning it.)
struct string_bin {
    static constexpr std::size_t max_strings = 16;
    static constexpr std::size_t max_capacity = 64 * 1024;
    alignas(std::string) unsigned char slots[max_strings][sizeof(std::string)];
    std::size_t count = 0;
    std::string* slot(std::size_t i) noexcept { return std::launder(reinterpret_cast<std::string*>(slots[i])); }
    ~string_bin() {
        while (count) slot(--count)->~basic_string();
    }
};
thread_local string_bin t_strings;

[[gnu::always_inline]] inline std::string pop_spare() noexcept {
    string_bin& b = t_strings;
    if (b.count == 0) return {};
    std::string* s = b.slot(--b.count);
    std::string out(std::move(*s));
    s->~basic_string();
    return out;
}
} // namespace

std::string reused_string() noexcept { return pop_spare(); }

void reuse_string(std::string&& s) noexcept {
    string_bin& b = t_strings;
    if (b.count < string_bin::max_strings && s.capacity() <= string_bin::max_capacity && s.capacity() > 15)
        ::new (static_cast<void*>(b.slots[b.count++])) std::string(std::move(s));
}

namespace {

// Write requests are recycled per thread, with their string's capacity.
struct write_req_pool {
    write_req* head = nullptr;
    std::size_t count = 0;
    ~write_req_pool() {
        while (head) delete std::exchange(head, head->next_free);
    }
};
thread_local write_req_pool t_pool;
constexpr std::size_t pool_max = 256;
constexpr std::size_t pool_keep_capacity = 64 * 1024;

write_req* get_req() {
    if (write_req* r = t_pool.head) {
        t_pool.head = r->next_free;
        --t_pool.count;
        r->next_free = nullptr;
        return r;
    }
    return new write_req;
}

void put_req(write_req* r) noexcept {
    if (t_pool.count >= pool_max) {
        delete r;
        return;
    }
    if (r->data.capacity() > pool_keep_capacity) std::string().swap(r->data);
    else r->data.clear();
    r->off = r->bytes = 0;
    r->set_owner(nullptr);
    r->next_free = t_pool.head;
    t_pool.head = r;
    ++t_pool.count;
}

} // namespace

void check_limit(std::size_t limit, const char* what) {
    if (limit == 0) throw std::invalid_argument(std::string(what) + ": limit must be positive");
}

// ---- stream_conn: lifecycle ---------------------------------------------

stream_conn* stream_conn::create(loop_core& loop, kind k, std::size_t limit) {
    auto* c = new stream_conn;
    c->loop = &loop;
    c->type = k;
    c->limit = limit;
    uv_loop_t* uv = loop.owner().native_handle();
    int rc = k == kind::tcp ? uv_tcp_init(uv, &c->h.tcp) : uv_pipe_init(uv, &c->h.pipe, 0);
    if (rc < 0) {
        delete c;
        throw_uv_error(rc, "socket");
    }
    c->handle()->data = c;
    c->stream = reinterpret_cast<uv_stream_t*>(&c->h);
    c->refs = 2; // the caller's and the handle's
    loop.add_resource(*c);
    return c;
}

void stream_core::destroy() noexcept { delete stream_conn::of(this); }

void stream_core::resume_reading() noexcept { stream_conn::of(this)->maybe_resume_reading(); }

stream_conn::~stream_conn() {
    delete tls;
    std::free(own);
    if (staged) put_req(staged);
}

void stream_conn::setup_accepted_or_connected() noexcept {
    if (type == kind::tcp) uv_tcp_nodelay(&h.tcp, 1);
}

endpoint stream_conn::address(bool own) {
    if (type != kind::tcp || (!addrs && handle_closing)) return {};
    if (!addrs) addrs = std::make_unique<addresses>();
    endpoint& e = own ? addrs->sock : addrs->peer;
    if (e.family() == AF_UNSPEC && !handle_closing) { // not known yet
        sockaddr_storage ss{};
        int len = sizeof ss;
        auto* sa = reinterpret_cast<sockaddr*>(&ss);
        if ((own ? uv_tcp_getsockname(&h.tcp, sa, &len) : uv_tcp_getpeername(&h.tcp, sa, &len)) == 0) {
            e = endpoint::from_sockaddr(sa);
        }
    }
    return e;
}

std::pair<stream_reader, stream_writer> stream_conn::make_pair() {
    reader_alive = writer_alive = true;
    add_ref(); // the writer's; the caller's reference becomes the reader's
    if (int rc = start_reading(); rc < 0) lose(rc);
    return {stream_reader(this), stream_writer(this)};
}

int stream_conn::start_reading() noexcept {
    if (reading || paused_reading || handle_closing || eof) return 0;
    int rc = uv_read_start(stream, &on_alloc, &on_read);
    if (rc == 0) reading = true;
    return rc;
}

void stream_conn::close() noexcept {
    if (closing) return;
    closing = write_closed = true;
    finish_close();
}

void stream_conn::finish_close() noexcept {
    if (handle_closing) return;
    // Bytes written during a TLS handshake go out once it is over, and the
    // close after them (tls_handshake_done): reading goes on until then.
    if (tls && tls_handshaking() && tls_early_bytes()) return;
    if (reading) {
        uv_read_stop(stream);
        reading = false;
    }
    paused_reading = false;
    if (tls) tls_close_notify(); // (queued behind what was written)
    if (staged) submit_staged();
    if (handle_closing) return;
    if (inflight == 0) close_handle();
    else close_after_flush = true;
}

void stream_conn::abort() noexcept {
    closing = write_closed = true;
    if (!handle_closing) close_handle();
}

void stream_conn::lose(int status) noexcept {
    if (handle_closing) return;
    if (!error) error = status;
    close_handle();
}

void stream_conn::close_handle() noexcept {
    handle_closing = write_closed = true;
    eof = true;
    reading = false;
    if (staged) put_req(std::exchange(staged, nullptr));
    if (!loop_gone) list_hook<resource_tag>::unlink(); // off the loop's resources
    uv_close(handle(), &on_close);
}

void stream_conn::wake_waiters(bool drains_only) noexcept {
    // Those waiting now only: a woken task that waits again waits for the
    // next wake-up, and one cancelled meanwhile leaves the snapshot.
    intrusive_list<conn_wait_op> now;
    if (drains_only) {
        for (conn_wait_op* op = waiters.front(); op;) {
            conn_wait_op* next = waiters.next(op);
            if (op->drains()) {
                op->unlink();
                now.push_back(op);
            }
            op = next;
        }
    } else {
        now.splice_back(waiters);
    }
    add_ref();
    while (conn_wait_op* op = now.pop_front()) op->wake_now();
    release();
}

void stream_conn::on_close(uv_handle_t* hd) {
    auto* c = static_cast<stream_conn*>(hd->data);
    c->closed = true;
    if (!c->loop_gone) {
        c->add_ref();
        if (c->tls) c->tls_closed();
        c->wake_reader();
        c->wake_waiters(false);
        c->release();
    }
    if (server_state* s = std::exchange(c->srv, nullptr)) server_client_closed(s, c);
    c->release(); // the handle's
}

void stream_conn::close_for_loop() noexcept {
    // The loop is closing: every task frame is gone already, so the waiting
    // operations are too. Close the socket; touch the loop no more.
    loop_gone = true;
    reader = nullptr;
    want = nullptr;
    waiters.clear();
    closing = write_closed = true;
    if (!handle_closing) close_handle();
}

// ---- stream_conn: reading -----------------------------------------------

void stream_conn::on_alloc(uv_handle_t* h, std::size_t, uv_buf_t* buf) {
    auto* c = static_cast<stream_conn*>(h->data);
    if (c && c->want && c->want->lends && !c->tls) { // a reader lends its own buffer (not to ciphertext)
        buf->base = c->want->into;
        buf->len = c->want->n;
        return;
    }
    buf->base = shared_read_buffer();
    buf->len = shared_read_size;
}

bool stream_conn::satisfied(read_want& w) noexcept {
    // At EOF or after an error a line or separator still buffered is found
    // first, so that the read returns it and not everything buffered.
    const bool over = error || eof;
    switch (w.what) {
    case read_want::kind::any:
        return over || w.n == 0 || rn > 0 || (w.lends && w.got > 0);
    case read_want::kind::exactly:
        return over || rn >= w.n;
    case read_want::kind::line:
        return line_found(w) || over;
    case read_want::kind::until:
        return separator_found(w) || over;
    }
    return true;
}

bool stream_conn::line_found(read_want& w) noexcept {
    if (rn > w.scanned) {
        if (const void* nl = std::memchr(rp + w.scanned, '\n', rn - w.scanned)) {
            w.found = static_cast<std::size_t>(static_cast<const char*>(nl) - rp);
            return true;
        }
        w.scanned = rn;
    }
    return rn > limit;
}

bool stream_conn::separator_found(read_want& w) noexcept {
    if (const std::size_t f = find_separator(rp, rn, w.scanned, w.separator_view()); f != std::string_view::npos) {
        w.found = f;
        return true;
    }
    if (rn >= w.scanned + w.n) w.scanned = rn + 1 - w.n; // a separator may still start after this
    return w.scanned > limit;
}

void stream_conn::wake_reader() noexcept {
    want = nullptr;
    if (operation_base* r = std::exchange(reader, nullptr)) r->wake_now();
}

namespace {

// asyncio's flow control: stop reading above 2 x limit unread (unless a
// reader waits for more: asyncio resumes reading for a waiting reader).
[[gnu::always_inline]] inline void pause_if_full(stream_conn* c) noexcept {
    if (c->reading && c->rn > 2 * c->limit && !c->reader) {
        uv_read_stop(c->stream);
        c->reading = false;
        c->paused_reading = true;
    }
}

[[gnu::always_inline]] inline void deliver_bytes(stream_conn* c, const char* p, std::size_t n) {
    if (c->rn == 0 && c->reader) {
        // Offer the chunk to the waiting reader where it is; keep only what
        // it leaves.
        c->in_shared = true;
        c->rp = p;
        c->rn = n;
        if (c->want->what == read_want::kind::any || c->satisfied(*c->want)) c->wake_reader();
        c->in_shared = false;
        const char* left = c->rp;
        const std::size_t nleft = c->rn;
        c->rp = c->own;
        c->rn = 0;
        if (nleft && c->reader_alive) c->append(left, nleft);
    } else {
        c->append(p, n);
        if (c->reader && (c->want->what == read_want::kind::any || c->satisfied(*c->want))) c->wake_reader();
    }
    pause_if_full(c);
}

} // namespace

void stream_conn::deliver(const char* p, std::size_t n) { deliver_bytes(this, p, n); }

void stream_conn::on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
    auto* c = static_cast<stream_conn*>(s->data);
    if (!c) return;
    // The common case first: the bytes landed in the buffer that a waiting
    // read(span) lent. (on_alloc lends only a plain connection's reader's
    // buffer, and such a reader waits only with nothing buffered: flow
    // control has nothing to do. The handle's reference keeps `c` alive
    // whatever the woken reader does.)
    if (read_want* w = c->want; w && nread > 0 && w->lends && buf->base == w->into) [[likely]] {
        w->got = static_cast<std::size_t>(nread);
        c->wake_reader();
        return;
    }
    c->on_read_other(nread, buf); // (apart: the common case saves no registers)
}

[[gnu::noinline]] void stream_conn::on_read_other(ssize_t nread, const uv_buf_t* buf) {
    if (nread == 0) return;
    if (tls) [[unlikely]] {
        tls_on_read(nread, buf);
        return;
    }
    if (nread < 0) {
        if (nread == UV_EOF) {
            eof = true;
            reading = false; // libuv stopped reading
            wake_reader();
        } else {
            lose(static_cast<int>(nread)); // the reader hears of it from the close callback
        }
        return;
    }
    if (!reader_alive) return; // nobody will read it
    // (The handle's reference keeps this alive: its close callback cannot
    // run before this returns, whatever the woken reader does.)
    deliver_bytes(this, buf->base, static_cast<std::size_t>(nread));
}

void stream_conn::append(const char* p, std::size_t n) {
    std::size_t off = rn ? static_cast<std::size_t>(rp - own) : 0;
    if (off + rn + n > cap) {
        if (rn + n <= cap / 2) { // plenty of room at the front: compact
            std::memmove(own, rp, rn);
        } else {
            const std::size_t want_size = std::max({cap * 2, rn + n, std::size_t(4096)});
            auto* fresh = static_cast<char*>(std::malloc(want_size));
            if (!fresh) {
                lose(UV_ENOBUFS);
                return;
            }
            if (rn) std::memcpy(fresh, rp, rn);
            std::free(own);
            own = fresh;
            cap = want_size;
        }
        off = 0;
    }
    std::memcpy(own + off + rn, p, n);
    rp = own + off;
    rn += n;
}

std::string stream_conn::take(std::size_t n) {
    // Into a spare's buffer when one is left; otherwise constructed (which is
    // cheaper than assigning to an empty string).
    // (A spare of the same size, as an echo's are, is only copied into.)
    const bool spare = t_strings.count != 0;
    std::string out = spare ? pop_spare() : std::string(rp, n);
    if (spare) {
        if (out.size() != n) out.resize(n);
        if (n) std::memcpy(out.data(), rp, n); // (rp may be null when n is 0)
    }
    consume(n);
    return out;
}

void stream_conn::free_buffer_if_empty() noexcept {
    if (rn == 0 && !in_shared && own) {
        std::free(own);
        own = nullptr;
        cap = 0;
        rp = nullptr;
    }
}

void stream_conn::maybe_resume_reading() noexcept {
    if (!paused_reading) return;
    paused_reading = false;
    if (int rc = start_reading(); rc < 0) lose(rc);
}

void stream_conn::throw_read_error(const char* what) const {
    if (tls) rethrow_tls_failure(); // (returns when the error is not TLS's)
    throw_uv_error(error, what);
}

void stream_conn::release_reader() noexcept {
    reader_alive = false;
    reader = nullptr;
    want = nullptr;
    if (!in_shared) {
        std::free(own);
        own = nullptr;
        cap = 0;
    }
    rp = nullptr;
    rn = 0;
    maybe_resume_reading(); // go on reading (and discarding) to see EOF and errors
    if (!writer_alive) close();
    release();
}

// ---- the reads ----------------------------------------------------------

bool read_ready(stream_core* core, read_want& w) noexcept { return stream_conn::of(core)->satisfied(w); }

void read_wait(stream_core* core, read_want& w, operation_base& op) {
    stream_conn* c = stream_conn::of(core);
    if (c->reader)
        throw std::runtime_error(std::string(op.kind()) +
                                 ": another task is already waiting for incoming data on this stream");
    c->reader = &op;
    c->want = &w;
    c->free_buffer_if_empty();
    c->maybe_resume_reading(); // a waiting reader always reads (asyncio's _wait_for_data)
}

void read_unwait(stream_core* c, read_want& w) noexcept {
    if (c->want != &w) return;
    c->reader = nullptr;
    c->want = nullptr;
}

std::string take_some(stream_core* core, read_want& w) {
    stream_conn* c = stream_conn::of(core);
    if (w.n == 0) return {};
    if (c->rn) return c->take(std::min(w.n, c->rn));
    if (c->error) c->throw_read_error("read");
    return {}; // EOF
}

std::size_t take_into(stream_core* core, read_want&) { // (the bytes are taken inline)
    stream_conn* c = stream_conn::of(core);
    if (c->error) c->throw_read_error("read");
    return 0; // EOF, or an empty buffer
}

std::string take_exactly(stream_core* core, read_want& w) {
    stream_conn* c = stream_conn::of(core);
    if (c->rn >= w.n) return c->take(w.n);
    if (c->error) c->throw_read_error("readexactly");
    throw incomplete_read_error(c->take(c->rn), w.n);
}

std::string take_line(stream_core* core, read_want& w) {
    stream_conn* c = stream_conn::of(core);
    if (w.found == std::string_view::npos) c->satisfied(w); // (the search is idempotent)
    if (const std::size_t pos = w.found; pos != std::string_view::npos) {
        if (pos > c->limit) {
            c->consume(pos + 1); // the over-long line goes, as asyncio does
            throw limit_overrun_error("readline: separator is found, but chunk is longer than the limit", pos);
        }
        return c->take(pos + 1);
    }
    if (c->rn > c->limit) {
        const std::size_t consumed = c->rn;
        c->consume(c->rn);
        throw limit_overrun_error("readline: separator is not found, and chunk exceeds the limit", consumed);
    }
    if (c->error) c->throw_read_error("readline");
    return c->take(c->rn); // EOF: what is left
}

std::string take_until(stream_core* core, read_want& w) {
    stream_conn* c = stream_conn::of(core);
    if (w.found == std::string_view::npos) c->satisfied(w);
    if (const std::size_t pos = w.found; pos != std::string_view::npos) {
        if (pos > c->limit)
            throw limit_overrun_error("readuntil: separator is found, but chunk is longer than the limit", pos);
        return c->take(pos + w.n);
    }
    if (w.scanned > c->limit)
        throw limit_overrun_error("readuntil: separator is not found, and chunk exceeds the limit", w.scanned);
    if (c->error) c->throw_read_error("readuntil");
    throw incomplete_read_error(c->take(c->rn), 0);
}

// ---- drain and wait_closed ---------------------------------------------------

bool conn_wait_op::start() noexcept {
    stream_conn* c = stream_conn::of(c_);
    c->waiters.push_back(this);
    c->add_ref();
    held_ = true;
    return true;
}

void conn_wait_op::throw_lost() const {
    if (stream_conn::of(c_)->tls) stream_conn::of(c_)->rethrow_tls_failure();
    if (c_->error) throw make_uv_error(c_->error, "drain");
    throw make_uv_error(UV_ECONNRESET, "drain: connection lost");
}

// ---- stream_conn: writing -----------------------------------------------

void stream_conn::check_writable(const char* what) const {
    if (eof_requested) throw std::runtime_error(std::string(what) + ": cannot write after write_eof()");
    if (closing) throw std::runtime_error(std::string(what) + ": the stream writer is closed");
}

int stream_conn::try_write(std::string_view sv) noexcept {
    if (staged || inflight) return UV_EAGAIN; // (in order: behind what is queued)
    uv_buf_t b;
    b.base = const_cast<char*>(sv.data());
    b.len = sv.size();
    return uv_try_write(stream, &b, 1);
}

void stream_conn::write(std::string_view sv) {
    check_writable("write");
    if (handle_closing || sv.empty()) return; // lost: dropped, as asyncio does
    if (tls) {
        tls_write(sv);
        return;
    }
    const int n = try_write(sv);
    if (n >= 0 && static_cast<std::size_t>(n) == sv.size()) return;
    queue(sv, n);
}

void stream_conn::queue(std::string_view sv, int sent) {
    if (sent < 0 && sent != UV_EAGAIN) {
        lose(sent);
        return;
    }
    if (sent > 0) sv.remove_prefix(static_cast<std::size_t>(sent));
    if (staged) {
        staged->data.append(sv);
    } else {
        staged = get_req();
        staged->data.assign(sv);
    }
    if (inflight == 0) submit_staged();
    maybe_pause_writing();
}

void stream_conn::write(std::string&& s) {
    check_writable("write");
    if (handle_closing || s.empty()) return;
    if (tls) {
        tls_write(s);
        reuse_string(std::move(s));
        return;
    }
    const int n = try_write(s);
    if (n >= 0 && static_cast<std::size_t>(n) == s.size()) {
        reuse_string(std::move(s));
        return;
    }
    queue(std::move(s), n);
}

void stream_conn::queue(std::string&& s, int sent_or_error) {
    if (sent_or_error < 0 && sent_or_error != UV_EAGAIN) {
        lose(sent_or_error);
        return;
    }
    const std::size_t sent = sent_or_error > 0 ? static_cast<std::size_t>(sent_or_error) : 0;
    if (staged) {
        staged->data.append(s, sent);
    } else {
        staged = get_req();
        staged->data = std::move(s); // the caller's string is sent where it is
        staged->off = sent;
    }
    if (inflight == 0) submit_staged();
    maybe_pause_writing();
}

void stream_conn::submit_staged() noexcept {
    write_req* r = std::exchange(staged, nullptr);
    r->bytes = r->data.size() - r->off;
    r->set_owner(this);
    uv_buf_t b;
    b.base = r->data.data() + r->off;
    b.len = r->bytes;
    if (int rc = uv_write(&r->req, stream, &b, 1, &on_write); rc < 0) {
        put_req(r);
        lose(rc);
        return;
    }
    ++inflight;
    inflight_bytes += r->bytes;
}

void stream_conn::on_write(uv_write_t* req, int status) {
    auto* r = static_cast<write_req*>(write_req::of(req));
    stream_conn* c = r->owner();
    --c->inflight;
    c->inflight_bytes -= r->bytes;
    put_req(r);
    if (status < 0) {
        if (status != UV_ECANCELED) c->lose(status);
        return;
    }
    if (c->handle_closing) return;
    if (c->staged) c->submit_staged();
    c->after_flush();
}

void stream_conn::after_flush() noexcept {
    if (handle_closing) return;
    if (inflight == 0 && !staged) {
        if (close_after_flush) {
            close_handle();
            return;
        }
        if (eof_requested && !shutdown_started) do_shutdown();
    }
    if (paused_writing && write_buffer_size() <= low_water) {
        paused_writing = false;
        if (!loop_gone) wake_waiters(true);
    }
}

void stream_conn::write_eof() {
    if (eof_requested || closing || handle_closing) return;
    eof_requested = write_closed = true;
    if (tls) {
        if (tls_handshaking()) return; // after the handshake (tls_handshake_done)
        tls_close_notify();
    }
    if (inflight == 0 && !staged && !handle_closing) do_shutdown();
}

void stream_conn::do_shutdown() noexcept {
    shutdown_started = true;
    using request = uv_request<uv_shutdown_t, stream_conn>;
    request* r;
    try {
        r = new request(this);
    } catch (...) {
        return; // out of memory: the peer will see the close instead
    }
    // A failure (the peer is gone) shows up on the next read or write.
    if (uv_shutdown(&r->req, stream, [](uv_shutdown_t* q, int) { delete request::of(q); }) < 0) delete r;
}

void stream_conn::release_writer() noexcept {
    writer_alive = false;
    if (!reader_alive) close();
    release();
}

namespace {

stream_conn* conn_of(stream_core* c, const char* what) { return stream_conn::of(connected(c, what)); }

} // namespace

void throw_not_connected(const char* what) {
    throw std::logic_error(std::string(what) + ": the stream is not connected (moved from?)");
}

void throw_empty_separator() {
    throw std::invalid_argument("readuntil: the separator should be at least one byte long");
}

void write_queued(stream_core* c, std::string_view data, int sent) { stream_conn::of(c)->queue(data, sent); }
void write_queued(stream_core* c, std::string&& data, int sent) { stream_conn::of(c)->queue(std::move(data), sent); }
void write_checked(stream_core* c, std::string_view data) { conn_of(c, "write")->write(data); }
void write_checked(stream_core* c, std::string&& data) { conn_of(c, "write")->write(std::move(data)); }

namespace {

// Owns a connection being set up; aborts it unless handed on.
struct conn_ref {
    stream_conn* c;
    explicit conn_ref(stream_conn* conn) noexcept : c(conn) {}
    conn_ref(const conn_ref&) = delete;
    conn_ref& operator=(const conn_ref&) = delete;
    ~conn_ref() {
        if (c) {
            c->abort();
            c->release();
        }
    }
    stream_conn* take() noexcept { return std::exchange(c, nullptr); }
};

} // namespace

// ---- connecting -----------------------------------------------------------

bool connect_op::start() {
    req_ = new request(this);
    if (path_) {
        uv_pipe_connect(&req_->req, &c_->h.pipe, path_, &on_connect);
    } else if (int rc = uv_tcp_connect(&req_->req, &c_->h.tcp, addr_, &on_connect); rc < 0) {
        delete std::exchange(req_, nullptr);
        status_ = rc; // nothing started: resume at once
        return false;
    }
    return true;
}

cancel_outcome connect_op::cancel() noexcept {
    std::exchange(req_, nullptr)->set_owner(nullptr);
    c_->abort(); // libuv then fails the request with UV_ECANCELED, which frees it
    return cancel_outcome::stopped;
}

void connect_op::on_connect(uv_connect_t* r, int status) {
    request* req = request::of(r);
    connect_op* op = req->owner();
    delete req;
    if (!op) return;
    op->req_ = nullptr;
    op->status_ = status;
    op->wake_now();
}

namespace {

bool is_numeric_host(const std::string& host) {
    unsigned char buf[sizeof(in6_addr)];
    return uv_inet_pton(AF_INET, host.c_str(), buf) == 0 || uv_inet_pton(AF_INET6, host.c_str(), buf) == 0;
}

} // namespace

task<std::vector<endpoint>> resolve_stream_host(std::string host, std::uint16_t port) {
    std::vector<endpoint> addrs;
    if (is_numeric_host(host)) {
        addrs.emplace_back(host, port);
        co_return addrs;
    }
    addrs = co_await getaddrinfo(std::move(host), port);
    co_return addrs;
}

// One attempt: a connected connection, or null with `status` set.
task<stream_conn*> connect_one(loop_core& loop, endpoint to, std::optional<endpoint> local, std::size_t limit,
                               int* status) {
    conn_ref hold(stream_conn::create(loop, stream_conn::kind::tcp, limit));
    if (local) {
        if (int rc = uv_tcp_bind(&hold.c->h.tcp, local->data(), 0); rc < 0)
            throw make_uv_error(rc, ("bind " + local->to_string()).c_str());
    }
    *status = co_await connect_op(hold.c, to.data());
    if (*status < 0) co_return nullptr;
    co_return hold.take();
}

} // namespace detail

// ---- stream_reader --------------------------------------------------------

stream_reader& stream_reader::operator=(stream_reader&& o) noexcept {
    if (this != &o) {
        if (c_) detail::stream_conn::of(c_)->release_reader();
        c_ = std::exchange(o.c_, nullptr);
    }
    return *this;
}

stream_reader::~stream_reader() {
    if (c_) detail::stream_conn::of(c_)->release_reader();
}

std::size_t stream_reader::limit() const noexcept { return c_ ? c_->limit : default_stream_limit; }

task<std::string> stream_reader::read() {
    detail::conn_of(c_, "read");
    std::string out;
    for (;;) {
        std::string chunk = co_await read(std::numeric_limits<std::size_t>::max());
        if (chunk.empty()) co_return out; // EOF
        if (out.empty()) out = std::move(chunk);
        else out += chunk;
    }
}

// ---- stream_writer --------------------------------------------------------

stream_writer& stream_writer::operator=(stream_writer&& o) noexcept {
    if (this != &o) {
        if (c_) detail::stream_conn::of(c_)->release_writer();
        c_ = std::exchange(o.c_, nullptr);
    }
    return *this;
}

stream_writer::~stream_writer() {
    if (c_) detail::stream_conn::of(c_)->release_writer();
}

void stream_writer::write_eof() { detail::conn_of(c_, "write_eof")->write_eof(); }
void stream_writer::close() { detail::conn_of(c_, "close")->close(); }
void stream_writer::abort() { detail::conn_of(c_, "abort")->abort(); }

detail::conn_wait_op stream_writer::wait_closed() {
    return detail::conn_wait_op(detail::conn_of(c_, "wait_closed"), detail::conn_wait_op::what::closed);
}

bool stream_writer::is_closing() const noexcept { return !c_ || c_->closing || c_->handle_closing; }

endpoint stream_writer::peername() const { return detail::conn_of(c_, "peername")->address(false); }

endpoint stream_writer::sockname() const { return detail::conn_of(c_, "sockname")->address(true); }

namespace {
std::string pipe_name(detail::stream_conn* c, int (*get)(const uv_pipe_t*, char*, size_t*)) {
    if (c->type != detail::stream_conn::kind::pipe || c->handle_closing) return {};
    char buf[sizeof(sockaddr_un{}.sun_path) + 1];
    std::size_t len = sizeof buf;
    if (get(&c->h.pipe, buf, &len) != 0) return {};
    return std::string(buf, len);
}
} // namespace

std::string stream_writer::unix_peername() const {
    return pipe_name(detail::conn_of(c_, "unix_peername"), &uv_pipe_getpeername);
}
std::string stream_writer::unix_sockname() const {
    return pipe_name(detail::conn_of(c_, "unix_sockname"), &uv_pipe_getsockname);
}

void stream_writer::set_write_buffer_limits(std::optional<std::size_t> high, std::optional<std::size_t> low) {
    detail::stream_conn* c = detail::conn_of(c_, "set_write_buffer_limits");
    const std::size_t hi = high ? *high : (low ? 4 * *low : 64 * 1024);
    const std::size_t lo = low ? *low : hi / 4;
    if (hi < lo)
        throw std::invalid_argument("set_write_buffer_limits: high (" + std::to_string(hi) + ") must be >= low (" +
                                    std::to_string(lo) + ")");
    c->high_water = hi;
    c->low_water = lo;
    c->maybe_pause_writing();
}

std::pair<std::size_t, std::size_t> stream_writer::get_write_buffer_limits() const noexcept {
    if (!c_) return {16 * 1024, 64 * 1024};
    return {detail::stream_conn::of(c_)->low_water, detail::stream_conn::of(c_)->high_water};
}

std::size_t stream_writer::get_write_buffer_size() const noexcept {
    return c_ ? detail::stream_conn::of(c_)->write_buffer_size() : 0;
}

uv_stream_t* stream_writer::native_handle() const noexcept {
    return c_ && !c_->handle_closing ? c_->stream : nullptr;
}

// ---- open_connection --------------------------------------------------------

task<std::pair<stream_reader, stream_writer>> open_connection(std::string host, std::uint16_t port,
                                                              connect_options options) {
    detail::check_limit(options.limit, "open_connection");
    detail::loop_core& loop = get_running_loop().core();
    std::vector<endpoint> addrs = co_await detail::resolve_stream_host(host, port);
    if (options.local_addr) { // only addresses of the local address's family can work
        const int family = options.local_addr->family();
        std::erase_if(addrs, [family](const endpoint& e) { return e.family() != family; });
        if (addrs.empty())
            throw std::system_error(std::make_error_code(std::errc::address_family_not_supported),
                                    "open_connection: no address of " + host + " matches local_addr " +
                                        options.local_addr->to_string());
    }
    if (addrs.empty()) throw_uv_error(UV_EAI_NONAME, ("open_connection: " + host + " has no address").c_str());
    int status = 0;
    endpoint last;
    for (const endpoint& to : addrs) {
        detail::stream_conn* c = co_await detail::connect_one(loop, to, options.local_addr, options.limit, &status);
        if (c) {
            c->setup_accepted_or_connected();
            std::pair<stream_reader, stream_writer> rw = c->make_pair();
            if (options.tls) {
                detail::tls_attach(c, *options.tls, false,
                                   options.server_hostname.empty() ? host : options.server_hostname);
                co_await detail::tls_handshake_op(c, detail::handshake_timeout_ns(options.tls_handshake_timeout));
            }
            co_return std::move(rw);
        }
        last = to;
    }
    throw make_uv_error(status, ("connect to " + last.to_string()).c_str());
}

task<std::pair<stream_reader, stream_writer>> open_connection(std::string host, std::uint16_t port) {
    connect_options options;
    return open_connection(std::move(host), port, std::move(options));
}

task<std::pair<stream_reader, stream_writer>> open_unix_connection(std::string path, std::size_t limit) {
    detail::check_limit(limit, "open_unix_connection");
    if (path.empty()) throw std::invalid_argument("open_unix_connection: empty path");
    if (path.size() >= sizeof(sockaddr_un{}.sun_path))
        throw std::invalid_argument("open_unix_connection: path is too long for a Unix socket: " + path);
    detail::loop_core& loop = get_running_loop().core();
    detail::conn_ref hold(detail::stream_conn::create(loop, detail::stream_conn::kind::pipe, limit));
    const int status = co_await detail::connect_op(hold.c, path.c_str());
    if (status < 0) throw make_uv_error(status, ("connect to unix socket " + path).c_str());
    co_return hold.take()->make_pair();
}

} // namespace uvasync
