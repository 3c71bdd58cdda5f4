// http::serve: the connection loop, timeouts, graceful shutdown.
#include "connection.hpp"
#include "request_context.hpp"

#include <uvasync/errors.hpp>

#include <boost/beast/http/error.hpp>
#include <boost/beast/http/status.hpp>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <exception>
#include <stdexcept>

namespace uvasync::http {

namespace detail {

namespace beast = boost::beast;

namespace {

// How long a connection that is being closed after an error (or a
// "Connection: close" answer) goes on reading, so that the peer reads the
// answer instead of a reset caused by unread data; and how much it reads.
constexpr std::chrono::milliseconds linger_time{2000};
constexpr std::size_t linger_bytes = 1024 * 1024;

// The pooled input buffer's first size (a request that outgrows the
// connection's own buffer), as the raw libuv server's buffer.
constexpr std::size_t heap_buffer_size = 16 * 1024;

// Serialized responses are handed to the writer at the latest at this size
// (pipelined requests are answered together up to it).
constexpr std::size_t flush_size = 16 * 1024;

std::string_view reason_of(int status) {
    const auto r = beast::http::obsolete_reason(beast::http::int_to_status(static_cast<unsigned>(status)));
    if (r.empty() || r.front() == '<') return "Unknown";
    return std::string_view(r.data(), r.size());
}

bool skipped_header(std::string_view name) {
    return iequals(name, "content-length") || iequals(name, "transfer-encoding") || iequals(name, "connection");
}

// Appends to a buffer whose room was made beforehand.
struct writer {
    char* p;
    template <std::size_t N> void literal(const char (&s)[N]) noexcept { // a fixed-size copy, inlined
        std::memcpy(p, s, N - 1);
        p += N - 1;
    }
    void put(std::string_view s) noexcept {
        std::memcpy(p, s.data(), s.size());
        p += s.size();
    }
    void put(char c) noexcept { *p++ = c; }
    void number(std::size_t v) noexcept {
        if (v < 10) {
            *p++ = static_cast<char>('0' + v);
            return;
        }
        if (v < 100) {
            p[0] = static_cast<char>('0' + v / 10);
            p[1] = static_cast<char>('0' + v % 10);
            p += 2;
            return;
        }
        p = std::to_chars(p, p + 20, v).ptr;
    }
};

// The status line, headers and (unless `head_only`) body of `r`, appended
// to `out` in one go: one size computation, straight copies.
void serialize(byte_buffer& out, const response& r, bool head_only, bool keep_alive, bool http10,
               std::string_view date) {
    const int status = r.status();
    const std::string_view reason = status == 200 ? std::string_view("OK") : reason_of(status);
    const std::string_view type = r.content_type();
    const bool bodyless = status < 200 || status == 204 || status == 304;
    const bool with_body = !head_only && !bodyless;
    std::size_t most = 9 + 3 + 1 + reason.size() + 2 + (type.empty() ? 0 : 16 + type.size()) + 16 + 20 + 2 + 24 +
                       date.size() + 2 + (with_body ? r.body().size() : 0);
    for (const auto& [name, value] : r.headers()) most += name.size() + value.size() + 4;
    writer w{out.prepare(most)};
    if (status == 200) {
        w.literal("HTTP/1.1 200 OK\r\n");
    } else {
        w.literal("HTTP/1.1 ");
        w.number(static_cast<std::size_t>(status));
        w.put(' ');
        w.put(reason);
        w.literal("\r\n");
    }
    if (!type.empty()) {
        w.literal("Content-Type: ");
        w.put(type);
        w.literal("\r\n");
    }
    for (const auto& [name, value] : r.headers()) {
        if (skipped_header(name)) continue;
        w.put(name);
        w.literal(": ");
        w.put(value);
        w.literal("\r\n");
    }
    if (!bodyless) {
        w.literal("Content-Length: ");
        w.number(r.body().size());
        w.literal("\r\n");
    }
    if (!keep_alive) w.literal("Connection: close\r\n");
    else if (http10) w.literal("Connection: keep-alive\r\n");
    w.put(date);
    w.literal("\r\n");
    if (with_body) w.put(r.body());
    out.commit(w.p);
}

bool asks_close(const response& r) {
    for (const auto& [name, value] : r.headers())
        if (iequals(name, "connection") && iequals(value, "close")) return true;
    return false;
}

int status_for(const beast::error_code& ec) {
    using e = beast::http::error;
    if (ec == e::header_limit) return 431;
    if (ec == e::body_limit || ec == e::buffer_overflow) return 413;
    return 400;
}

response error_response(int status) {
    std::string text = std::to_string(status);
    text += ": ";
    text += reason_of(status);
    return response::text(std::move(text), status);
}

enum class step : std::uint8_t { need_input, ready, failed };

// ---- the connection's synchronous parts ------------------------------------

struct conn_ops {
    connection& c;

    server_core& core() const noexcept { return *c.core; }

    void take_context() {
        c.ctx = request_context::acquire();
        c.ctx->conn = &c;
        c.ctx->start(core().opts.max_header_size, core().opts.max_body_size);
    }

    // Back to the connection's own buffer, the context to the pool: an idle
    // connection holds neither.
    void go_idle() noexcept {
        if (c.begin != c.end) return; // pipelined bytes wait in the buffer
        if (c.ctx && c.ctx->out.empty()) request_context::release(std::exchange(c.ctx, nullptr));
        c.in = c.own;
        c.cap = connection::own_size;
        c.begin = c.end = 0;
    }

    // Room to read into. What is still needed is the current request's
    // head (the parser's views point into it) and the bytes not parsed yet;
    // the rest (answered requests, body bytes already copied out) is
    // dropped by moving what is needed to the front, or, when nothing can
    // be dropped, to a larger (pooled) buffer. A request that did not
    // arrive in one read goes on in the pooled buffer, so that its
    // remainder (a body, say) is not read 192 bytes at a time.
    std::span<char> free_space() {
        if (c.in == c.own && c.in_request) {
            grow();
        } else if (c.end == c.cap) {
            const auto [head_from, head_to] = head();
            if (head_from > 0 || head_to < c.begin) relocate(c.in);
            else grow();
        }
        return std::span<char>(c.in + c.end, c.cap - c.end);
    }

    // The part of the buffer the request in progress has views into.
    std::pair<std::size_t, std::size_t> head() const noexcept {
        if (!c.in_request) return {c.begin, c.begin};
        const request_context& x = *c.ctx;
        return {x.head_begin, x.header_seen ? x.head_end : c.begin};
    }

    void grow() {
        const std::size_t want = std::max<std::size_t>(c.cap * 2, heap_buffer_size);
        request_context& x = *c.ctx;
        if (c.in == x.in_heap.get() || x.in_heap_size < want) {
            auto bigger = std::make_unique_for_overwrite<char[]>(want);
            relocate(bigger.get());
            x.in_heap = std::move(bigger); // frees the one moved from, if it was this
            x.in_heap_size = want;
        } else {
            relocate(x.in_heap.get());
        }
        c.cap = x.in_heap_size;
    }

    // Moves the request's head and the unparsed bytes, in that order, to the
    // front of `to` (the current buffer or another one); the parser's views
    // follow.
    void relocate(char* to) noexcept {
        const auto [head_from, head_to] = head();
        const std::size_t head_size = head_to - head_from, pending = c.end - c.begin;
        char* from = c.in;
        std::memmove(to, from + head_from, head_size);
        std::memmove(to + head_size, from + c.begin, pending);
        if (c.in_request) {
            request_context& x = *c.ctx;
            x.parsed.moved(from + head_from, head_size, to);
            x.head_begin = 0;
            if (x.header_seen) x.head_end = head_size;
        }
        c.in = to;
        c.begin = head_size;
        c.end = head_size + pending;
    }

    // Feeds what is buffered to the parser.
    step parse() {
        if (c.begin == c.end && !c.in_request) return step::need_input;
        if (!c.ctx) take_context();
        if (!c.in_request) {
            c.in_request = true;
            c.ctx->head_begin = c.begin;
        }
        if (!c.ctx->parser) c.ctx->start(core().opts.max_header_size, core().opts.max_body_size);
        request_parser& p = *c.ctx->parser;
        for (;;) {
            beast::error_code ec;
            const std::size_t used = p.feed(c.in + c.begin, c.end - c.begin, ec);
            c.begin += used;
            if (ec == beast::http::error::need_more) return room_for_more();
            if (ec) return fail(status_for(ec));
            if (!c.ctx->header_seen && p.is_header_done()) {
                c.ctx->header_seen = true;
                c.ctx->head_end = c.begin; // feed() stops at the end of the head
                // Beast applies its header limit to what one call is given,
                // and it takes the head field by field: a head that arrived
                // in several reads can end up to a limit longer. The limit
                // is on the whole head, however it was split.
                if (c.ctx->head_end - c.ctx->head_begin > core().opts.max_header_size) return fail(431);
                if (c.list == wait_list::head) core().unlink(&c);
                if (!on_header()) return step::failed;
            }
            if (p.is_done()) return step::ready;
            if (c.begin == c.end || used == 0) return room_for_more();
        }
    }

    // More input is needed; a buffer full of what the parser cannot take
    // yet (a chunk header without end, say) is a bad request.
    step room_for_more() {
        const request_context& x = *c.ctx;
        if (!x.header_seen) { // the head so far, parsed or not
            if (c.end - x.head_begin > core().opts.max_header_size) return fail(431);
        } else if (c.end - c.begin >= std::max<std::size_t>(core().opts.max_header_size + 1, 8 * 1024)) {
            return fail(400);
        }
        return step::need_input;
    }

    step fail(int status) {
        c.error_status = static_cast<std::uint16_t>(status);
        return step::failed;
    }

    // The head is complete: Expect, before any body is read.
    bool on_header() {
        const parsed_request& m = c.ctx->parsed;
        if (!m.expect.data()) return true; // no Expect header
        if (!iequals(m.expect, "100-continue")) {
            c.error_status = 417;
            return false;
        }
        if (m.version >= 11 && !c.ctx->parser->is_done() && c.begin == c.end)
            c.ctx->out.append("HTTP/1.1 100 Continue\r\n\r\n");
        return true;
    }

    // Hands the serialized responses to the writer.
    void flush() {
        if (c.ctx && !c.ctx->out.empty()) {
            c.writer.write(c.ctx->out.view());
            c.ctx->out.clear();
        }
        if (!c.in_request) go_idle();
    }

    bool must_drain() const noexcept {
        return c.writer.get_write_buffer_size() > c.writer.get_write_buffer_limits().second;
    }

    // Before a read: onto the wait list for what is awaited.
    void arm_read() noexcept {
        server_core& s = core();
        if (!c.in_request) {
            if (c.first_request) s.link(&c, wait_list::head, s.after(s.opts.header_timeout));
            else s.link(&c, wait_list::idle, s.after(s.opts.keep_alive_timeout));
        } else if (!c.ctx->header_seen) {
            if (c.list != wait_list::head) s.link(&c, wait_list::head, s.after(s.opts.header_timeout));
        } else {
            s.link(&c, wait_list::body, s.after(s.opts.body_timeout));
        }
    }

    // After a read: off the idle and body lists (the head deadline holds
    // until the head is complete).
    void after_read(std::size_t n) noexcept {
        if (c.list == wait_list::idle || c.list == wait_list::body) core().unlink(&c);
        c.end += n;
    }

    // Serializes the handler's answer; false when the connection closes
    // after it.
    bool respond(const response& r) {
        request_context& x = *c.ctx;
        const parsed_request& m = x.parsed;
        const bool keep = x.parser->keep_alive() && !core().closing && !asks_close(r);
        serialize(x.out, r, m.verb == beast::http::verb::head, keep, m.version < 11, core().date_line());
        x.finish();
        c.in_request = false;
        c.first_request = false;
        if (x.out.size() >= flush_size) flush();
        return keep;
    }

    // Answers a bad request; the connection closes after it.
    void respond_error() {
        if (!c.ctx) take_context();
        request_context& x = *c.ctx;
        const bool http10 = x.header_seen && x.parsed.version < 11;
        serialize(x.out, error_response(c.error_status), false, false, http10, core().date_line());
        x.finish();
        c.in_request = false;
    }

    void report(std::exception_ptr failure) {
        exception_context ctx;
        ctx.message = "Error handling request";
        ctx.exception = std::move(failure);
        if (c.task.valid()) ctx.task_name = c.task.get_name();
        get_running_loop().call_exception_handler(ctx);
    }

    // After the last answer: send it, shut our side down, and read until
    // the peer closes (at most linger_time and linger_bytes).
    void start_linger() {
        flush();
        c.writer.write_eof();
        core().link(&c, wait_list::linger, core().after(linger_time));
    }
    std::span<char> discard_space() noexcept {
        c.begin = c.end = 0;
        return std::span<char>(c.in, c.cap);
    }
};

} // namespace

// ---- connection --------------------------------------------------------------

connection::connection(core_ref cr, stream_reader r, stream_writer w)
    : core(cr.take()), reader(std::move(r)), writer(std::move(w)), task(current_task().value_or(task_handle<>())), in(own), cap(own_size) {
    ++core->open;
    core->all.push_back(this);
}

connection::~connection() {
    core->unlink(this);
    every_hook::unlink();
    --core->open;
    if (ctx) {
        ctx->out.clear();
        request_context::release(ctx);
    }
    if (writer.valid() && !writer.is_closing()) writer.close();
    core->release();
}

task<> serve_connection(core_ref cr, stream_reader reader, stream_writer writer) {
    connection c(std::move(cr), std::move(reader), std::move(writer));
    conn_ops ops{c};
    server_core& core = *c.core;
    bool linger = false;
    try {
        for (;;) {
            const step s = ops.parse();
            if (s == step::need_input) {
                ops.flush();
                if (core.closing && !c.in_request) break;
                if (ops.must_drain()) {
                    co_await c.writer.drain();
                    if (c.stopped) break;
                }
                ops.arm_read();
                const std::size_t n = co_await c.reader.read(ops.free_space());
                ops.after_read(n);
                if (c.stopped || n == 0) break;
                continue;
            }
            if (s == step::failed) {
                ops.respond_error();
                linger = true;
                break;
            }
            bool failed = false;
            try {
                c.ctx->answer = co_await core.dispatch(c.ctx->req);
            } catch (const cancelled_error&) {
                throw;
            } catch (...) {
                ops.report(std::current_exception());
                failed = true;
            }
            if (failed) c.ctx->answer = error_response(500);
            if (!ops.respond(c.ctx->answer)) {
                linger = true;
                break;
            }
        }
        if (linger && !c.stopped) {
            ops.start_linger();
            while (!c.stopped && c.discarded < linger_bytes) {
                const std::size_t n = co_await c.reader.read(ops.discard_space());
                if (n == 0) break;
                c.discarded += n;
            }
        }
    } catch (const std::system_error&) {
        // reset by the peer, or a write failed: nobody to answer
    }
}

// ---- server_core -------------------------------------------------------------

server_core::server_core(server_options o) : opts(std::move(o)) {}

server_core::~server_core() {
    sweep_timer.cancel();
    shutdown_timer.cancel();
}

server_core::list& server_core::list_of(wait_list w) noexcept {
    switch (w) {
    case wait_list::idle: return idle;
    case wait_list::head: return head;
    case wait_list::body: return body;
    default: return linger;
    }
}

void server_core::link(connection* c, wait_list w, std::uint64_t when) noexcept {
    unlink(c);
    c->list = w;
    c->deadline = when;
    list_of(w).push_back(c);
    if (sweep_at == 0 || when < sweep_at) arm_sweep(when);
}

void server_core::unlink(connection* c) noexcept {
    c->waiting_hook::unlink();
    c->list = wait_list::none;
}

void server_core::arm_sweep(std::uint64_t when) noexcept {
    sweep_timer.cancel();
    sweep_at = when;
    const std::uint64_t t = now();
    const auto delay = std::chrono::milliseconds(when > t ? when - t : 0);
    try {
        sweep_timer = get_running_loop().call_later(delay, [this] { sweep(); });
    } catch (...) {
        sweep_at = 0; // the loop is closing: nothing will expire any more
    }
}

void server_core::sweep() noexcept {
    sweep_at = 0;
    const std::uint64_t t = now();
    std::uint64_t earliest = 0;
    for (list* l : {&idle, &head, &body, &linger}) {
        connection* c;
        while ((c = l->front()) && c->deadline <= t) expire(c);
        if (c && (earliest == 0 || c->deadline < earliest)) earliest = c->deadline;
    }
    if (earliest) arm_sweep(std::max(earliest, t + 1));
}

void server_core::expire(connection* c) noexcept {
    const wait_list was = c->list;
    unlink(c);
    if (!c->stopped && ((was == wait_list::head && c->in_request) || was == wait_list::body)) {
        // 408 for a request that does not arrive in time
        byte_buffer out;
        try {
            serialize(out, error_response(408), false, false, false, date_line());
            c->writer.write(out.view());
        } catch (...) {
        }
    }
    stop(c);
}

void server_core::stop(connection* c) noexcept {
    unlink(c);
    c->stopped = true;
    if (c->writer.is_closing()) {
        if (c->writer.get_write_buffer_size() > 0) c->writer.abort();
        return;
    }
    // What cannot be sent at once would wait for a peer that may never read.
    if (c->writer.get_write_buffer_size() > 0) c->writer.abort();
    else c->writer.close();
}

void server_core::close() noexcept {
    if (closing) return;
    closing = true;
    if (tcp.valid()) tcp.close();
    for (connection* c = all.front(); c;) {
        connection* next_c = all.next(c);
        // Waiting for a request that has not begun, or lingering after the
        // last answer: nothing is in flight.
        if (!c->stopped && (c->list == wait_list::linger ||
                            (!c->in_request && (c->list == wait_list::idle || c->list == wait_list::head))))
            stop(c);
        c = next_c;
    }
    if (open == 0) return;
    try {
        shutdown_timer = get_running_loop().call_later(opts.shutdown_timeout, [this] { cancel_remaining(); });
    } catch (...) {
    }
}

void server_core::cancel_remaining() noexcept {
    for (connection* c = all.front(); c; c = all.next(c))
        if (c->task.valid() && !c->task.done()) c->task.cancel();
}

std::string_view server_core::date_line() noexcept {
    // Empty but not null: serialize() copies it with memcpy, which must not
    // be given a null pointer even for 0 bytes.
    if (!opts.send_date) return std::string_view(date_buf, 0);
    const std::time_t t = std::time(nullptr);
    if (t != date_second) {
        static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
        static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
        std::tm tm{};
        gmtime_r(&t, &tm);
        const int n = std::snprintf(date_buf, sizeof date_buf, "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
                                    days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900,
                                    tm.tm_hour, tm.tm_min, tm.tm_sec);
        date_len = n > 0 ? static_cast<std::size_t>(n) : 0;
        date_second = t;
    }
    return std::string_view(date_buf, date_len);
}

namespace {

void check_options(const server_options& o) {
    if (o.max_header_size < 64) throw std::invalid_argument("http::serve: max_header_size must be at least 64");
    if (o.header_timeout.count() <= 0 || o.body_timeout.count() <= 0 || o.keep_alive_timeout.count() <= 0 ||
        o.shutdown_timeout.count() < 0)
        throw std::invalid_argument("http::serve: timeouts must be positive");
}

task<server> start(server_core* core, server handle, std::string host, std::uint16_t port) {
    core->uv = get_running_loop().native_handle();
    uvasync::server_options so;
    so.backlog = core->opts.backlog;
    so.reuse_port = core->opts.reuse_port;
    so.tls = core->opts.tls;
    so.tls_handshake_timeout = core->opts.tls_handshake_timeout;
    client_connected_handler accept = [core](stream_reader r, stream_writer w) {
        return serve_connection(core_ref(core), std::move(r), std::move(w));
    };
    core->tcp = co_await start_server(std::move(accept), std::move(host), port, so);
    co_return handle;
}

} // namespace

} // namespace detail

server& server::operator=(server&& o) noexcept {
    if (this != &o) {
        if (s_) {
            s_->close();
            s_->release();
        }
        s_ = std::exchange(o.s_, nullptr);
    }
    return *this;
}

server::~server() {
    if (s_) {
        s_->close();
        s_->release();
    }
}

std::uint16_t server::port() const { return s_->tcp.valid() ? s_->tcp.port() : 0; }
endpoint server::sockname() const { return s_->tcp.valid() ? s_->tcp.sockname() : endpoint(); }
std::size_t server::connections() const noexcept { return s_ ? s_->open : 0; }
void server::close() {
    if (s_) s_->close();
}

task<> server::wait_closed() {
    detail::server_core* s = s_;
    if (!s) co_return;
    detail::core_ref hold(s);
    if (s->tcp.valid()) co_await s->tcp.wait_closed();
}

task<server> serve(router app, std::string host, std::uint16_t port, server_options options) {
    detail::check_options(options);
    auto* core = new detail::server_core(std::move(options));
    core->app.emplace(std::move(app));
    return detail::start(core, detail::server_core::make_handle(core), std::move(host), port);
}

task<server> serve(handler fn, std::string host, std::uint16_t port, server_options options) {
    detail::check_options(options);
    if (!fn) throw std::invalid_argument("http::serve: empty handler");
    auto* core = new detail::server_core(std::move(options));
    core->fn = std::move(fn);
    return detail::start(core, detail::server_core::make_handle(core), std::move(host), port);
}

task<server> serve(router app, std::string host, std::uint16_t port) {
    server_options options;
    return serve(std::move(app), std::move(host), port, std::move(options));
}

task<server> serve(handler fn, std::string host, std::uint16_t port) {
    server_options options;
    return serve(std::move(fn), std::move(host), port, std::move(options));
}

} // namespace uvasync::http
