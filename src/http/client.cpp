// http::client: libcurl's multi interface on the uvasync loop.
#include "client_core.hpp"
#include "request_context.hpp" // iequals

#include <uvasync/event_loop.hpp>

#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string_view>

namespace uvasync::http {

namespace detail {

namespace {

void global_init() {
    static std::once_flag once;
    static CURLcode status = CURLE_OK;
    std::call_once(once, [] { status = curl_global_init(CURL_GLOBAL_DEFAULT); });
    if (status != CURLE_OK)
        throw std::runtime_error(std::string("http::client: curl_global_init failed: ") + curl_easy_strerror(status));
}

void check_header(std::string_view text, const char* what) {
    if (text.find_first_of("\r\n") != std::string_view::npos || text.find('\0') != std::string_view::npos)
        throw std::invalid_argument(std::string("http::client: CR, LF or NUL in a header ") + what + ": '" +
                                    std::string(text) + "'");
}

template <class V> void set(CURL* e, CURLoption option, V value) {
    if (const CURLcode rc = curl_easy_setopt(e, option, value); rc != CURLE_OK)
        throw std::runtime_error(std::string("http::client: curl_easy_setopt: ") + curl_easy_strerror(rc));
}

// client_options.tls: libcurl's own SSL_CTX (OpenSSL backend) takes the
// context's trust store, client certificate and minimum version.
CURLcode use_tls_context(CURL*, void* curl_ctx, void* ours) {
    auto* to = static_cast<SSL_CTX*>(curl_ctx);
    auto* from = static_cast<SSL_CTX*>(ours);
    SSL_CTX_set1_cert_store(to, SSL_CTX_get_cert_store(from));
    if (X509* cert = SSL_CTX_get0_certificate(from)) {
        if (SSL_CTX_use_certificate(to, cert) != 1) return CURLE_SSL_CERTPROBLEM;
        if (EVP_PKEY* key = SSL_CTX_get0_privatekey(from); key && SSL_CTX_use_PrivateKey(to, key) != 1)
            return CURLE_SSL_CERTPROBLEM;
    }
    if (const long v = SSL_CTX_get_min_proto_version(from); v > SSL_CTX_get_min_proto_version(to))
        SSL_CTX_set_min_proto_version(to, static_cast<int>(v));
    return CURLE_OK;
}

template <class V> void set_multi(CURLM* m, CURLMoption option, V value) {
    if (const CURLMcode rc = curl_multi_setopt(m, option, value); rc != CURLM_OK)
        throw std::runtime_error(std::string("http::client: curl_multi_setopt: ") + curl_multi_strerror(rc));
}

long as_long(std::size_t v) { return v > static_cast<std::size_t>(LONG_MAX) ? LONG_MAX : static_cast<long>(v); }
long as_ms(std::chrono::milliseconds d) { return d.count() <= 0 ? 1 : static_cast<long>(std::min<std::int64_t>(d.count(), LONG_MAX)); }

constexpr std::size_t spare_max = 64;

} // namespace

// ---- transfer_op --------------------------------------------------------------

transfer_op::transfer_op(client_core* c, client_request r) : core_(c), req_(std::move(r)) {
    core_->add_ref();
    struct undo {
        transfer_op* op;
        ~undo() {
            if (op) {
                if (op->easy_) op->core_->recycle(std::move(op->easy_));
                op->core_->release();
            }
        }
    } guard{this};

    if (req_.method.empty()) throw std::invalid_argument("http::client: empty method");
    for (char ch : req_.method)
        if (ch <= ' ' || ch >= 127) throw std::invalid_argument("http::client: bad method '" + req_.method + "'");
    const std::string_view u(req_.url);
    const auto colon = u.find("://");
    if (colon == std::string_view::npos || !(iequals(u.substr(0, colon), "http") || iequals(u.substr(0, colon), "https")))
        throw std::invalid_argument("http::client: not an http:// or https:// URL: '" + req_.url + "'");
    // Parsed once, here, so that a bad URL is std::invalid_argument; the
    // transfer uses this parse (CURLOPT_CURLU) instead of parsing again.
    url_.reset(curl_url());
    if (!url_) throw std::bad_alloc();
    if (const CURLUcode rc = curl_url_set(url_.get(), CURLUPART_URL, req_.url.c_str(), 0); rc != CURLUE_OK)
        throw std::invalid_argument("http::client: bad URL '" + req_.url + "': " + curl_url_strerror(rc));

    easy_ = core_->take_easy();
    CURL* e = easy_.get();
    const client_options& o = core_->options();
    set(e, CURLOPT_PRIVATE, static_cast<void*>(this));
    set(e, CURLOPT_CURLU, url_.get());
    set(e, CURLOPT_NOSIGNAL, 1L);
    set(e, CURLOPT_PROXY, ""); // no proxy from the environment (aiohttp's trust_env=False)
    set(e, CURLOPT_PROTOCOLS_STR, "http,https");
    set(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    set(e, CURLOPT_ERRORBUFFER, errbuf_);
    set(e, CURLOPT_WRITEFUNCTION, &transfer_op::on_body);
    set(e, CURLOPT_WRITEDATA, static_cast<void*>(this));
    set(e, CURLOPT_HEADERFUNCTION, &transfer_op::on_header);
    set(e, CURLOPT_HEADERDATA, static_cast<void*>(this));
    set(e, CURLOPT_ACCEPT_ENCODING, ""); // what libcurl can decode, as aiohttp does
    if (o.follow_redirects) {
        set(e, CURLOPT_FOLLOWLOCATION, 1L);
        set(e, CURLOPT_MAXREDIRS, static_cast<long>(o.max_redirects));
    }
    if (const auto t = req_.timeout ? req_.timeout : o.timeout) set(e, CURLOPT_TIMEOUT_MS, as_ms(*t));
    if (o.connect_timeout) set(e, CURLOPT_CONNECTTIMEOUT_MS, as_ms(*o.connect_timeout));
    if (o.tls) {
        set(e, CURLOPT_SSL_VERIFYPEER, o.tls->verify_peer() ? 1L : 0L);
        set(e, CURLOPT_SSL_VERIFYHOST, o.tls->check_hostname() ? 2L : 0L);
        set(e, CURLOPT_SSL_CTX_FUNCTION, &use_tls_context);
        set(e, CURLOPT_SSL_CTX_DATA, static_cast<void*>(o.tls->native_handle()));
    }

    const bool has_body = !req_.body.empty();
    if (req_.method == "GET" && !has_body) {
        set(e, CURLOPT_HTTPGET, 1L);
    } else if (req_.method == "HEAD") {
        set(e, CURLOPT_NOBODY, 1L);
    } else {
        if (req_.method == "POST" || has_body) {
            set(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req_.body.size()));
            set(e, CURLOPT_POSTFIELDS, req_.body.data());
        }
        // POST stays CURLOPT_POST, so that redirects turn it into a GET
        if (req_.method != "POST") set(e, CURLOPT_CUSTOMREQUEST, req_.method.c_str());
    }

    bool has_type = false;
    curl_slist* list = nullptr;
    auto append = [&](const std::string& line) {
        curl_slist* next = curl_slist_append(list, line.c_str());
        if (!next) throw std::bad_alloc();
        list = next;
        header_list_.release();
        header_list_.reset(list);
    };
    for (const auto& [name, value] : req_.headers) {
        check_header(name, "name");
        check_header(value, "value");
        if (name.empty() || name.find(':') != std::string::npos)
            throw std::invalid_argument("http::client: bad header name '" + name + "'");
        if (iequals(name, "content-type")) has_type = true;
        // "Name;" is how libcurl is told to send a header with an empty value
        append(value.empty() ? name + ";" : name + ": " + value);
    }
    if (has_body && !has_type) append("Content-Type: application/octet-stream");
    if (list) set(e, CURLOPT_HTTPHEADER, list);
    guard.op = nullptr;
}

transfer_op::~transfer_op() {
    remove(); // a frame destroyed while its transfer runs (never awaited to the end)
    if (easy_) core_->recycle(std::move(easy_));
    core_->release();
}

bool transfer_op::start() noexcept {
    if (core_->closed()) {
        code_ = CURLE_ABORTED_BY_CALLBACK;
        message_ = "http::client: the client was closed";
        return false;
    }
    if (const CURLMcode rc = curl_multi_add_handle(core_->multi(), easy_.get()); rc != CURLM_OK) {
        code_ = CURLE_FAILED_INIT;
        message_ = std::string("http::client: curl_multi_add_handle: ") + curl_multi_strerror(rc);
        return false;
    }
    core_->added(*this);
    return true;
}

void transfer_op::remove() noexcept {
    if (!linked()) return;
    curl_multi_remove_handle(core_->multi(), easy_.get());
    core_->removed(*this);
}

client_response transfer_op::result() {
    if (error_) std::rethrow_exception(error_);
    if (code_ != CURLE_OK) throw client_error(code_, message_);
    return std::move(resp_);
}

void transfer_op::complete(CURLcode c) noexcept {
    code_ = c;
    try {
        long status = 0;
        curl_easy_getinfo(easy_.get(), CURLINFO_RESPONSE_CODE, &status);
        resp_.status = static_cast<int>(status);
        char* where = nullptr;
        if (curl_easy_getinfo(easy_.get(), CURLINFO_EFFECTIVE_URL, &where) == CURLE_OK && where) resp_.url = where;
        if (c != CURLE_OK) {
            message_ = "http::client: " + req_.method + " " + req_.url + ": " + curl_easy_strerror(c);
            if (errbuf_[0]) message_ += std::string(" (") + errbuf_ + ")";
        }
    } catch (...) {
        error_ = std::current_exception();
    }
    remove(); // out of the multi handle; the easy handle is recycled with the op
    wake_now();
}

void transfer_op::fail(std::string why) noexcept {
    remove();
    code_ = CURLE_ABORTED_BY_CALLBACK;
    message_ = std::move(why);
    wake_soon(); // from the client's destructor, inside some task: never re-enter a task from there
}

std::size_t transfer_op::on_body(char* data, std::size_t size, std::size_t n, void* p) noexcept {
    auto* self = static_cast<transfer_op*>(p);
    try {
        self->resp_.body.append(data, size * n);
    } catch (...) {
        self->error_ = std::current_exception();
        return 0; // aborts the transfer
    }
    return size * n;
}

std::size_t transfer_op::on_header(char* data, std::size_t size, std::size_t n, void* p) noexcept {
    auto* self = static_cast<transfer_op*>(p);
    std::string_view line(data, size * n);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    try {
        if (line.starts_with("HTTP/")) { // a new response: an interim one, or a redirect followed
            self->resp_.headers.clear();
            self->resp_.body.clear();
        } else if (const auto colon = line.find(':'); colon != std::string_view::npos && colon > 0) {
            std::string_view value = line.substr(colon + 1);
            while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
            while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
            self->resp_.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
        }
    } catch (...) {
        self->error_ = std::current_exception();
        return 0;
    }
    return size * n;
}

// ---- client_core --------------------------------------------------------------

client_core::client_core(client_options o) : opts_(std::move(o)) {
    event_loop& loop = get_running_loop();
    if (opts_.max_redirects < 0) throw std::invalid_argument("http::client: max_redirects must not be negative");
    global_init();
    uv_ = loop.native_handle();
    multi_ = curl_multi_init();
    if (!multi_) throw std::runtime_error("http::client: curl_multi_init failed");
    try {
        set_multi(multi_, CURLMOPT_SOCKETFUNCTION, &client_core::on_socket);
        set_multi(multi_, CURLMOPT_SOCKETDATA, static_cast<void*>(this));
        set_multi(multi_, CURLMOPT_TIMERFUNCTION, &client_core::on_timer);
        set_multi(multi_, CURLMOPT_TIMERDATA, static_cast<void*>(this));
        if (opts_.limit) {
            set_multi(multi_, CURLMOPT_MAX_TOTAL_CONNECTIONS, as_long(opts_.limit));
            set_multi(multi_, CURLMOPT_MAXCONNECTS, as_long(opts_.limit));
        }
        if (opts_.limit_per_host) set_multi(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, as_long(opts_.limit_per_host));
        timer_ = uvasync::detail::uv_handle<uv_timer_t>::make([&](uv_timer_t* t) { return uv_timer_init(uv_, t); },
                                                             "http::client: uv_timer_init");
        timer_->data = this;
    } catch (...) {
        curl_multi_cleanup(std::exchange(multi_, nullptr));
        throw;
    }
    loop.core().add_resource(*this);
}

client_core::~client_core() = default;

void client_core::destroy() noexcept {
    if (!loop_gone_) {
        list_hook<uvasync::detail::resource_tag>::unlink(); // off the loop's resources
        shut_down_curl();
    }
    delete this;
}

void client_core::close() noexcept {
    closed_ = true;
    while (transfer_op* op = ops_.front()) op->fail("http::client: the client was closed");
}

void client_core::close_for_loop() noexcept {
    // The loop is closing: every parked transfer was cancelled (out of the
    // multi handle) before this; the frames may still come.
    shut_down_curl();
    loop_gone_ = true;
}

void client_core::shut_down_curl() noexcept {
    if (CURLM* m = std::exchange(multi_, nullptr)) curl_multi_cleanup(m); // may report sockets removed
    spare_.clear();
    while (socket_watch* w = watches_.front()) unwatch(w);
    timer_.close();
}

easy_ptr client_core::take_easy() {
    easy_ptr e;
    if (!spare_.empty()) {
        e = std::move(spare_.back());
        spare_.pop_back();
    } else {
        e.reset(curl_easy_init());
        if (!e) throw std::runtime_error("http::client: curl_easy_init failed");
    }
    // The connections this handle opens tell the client when their sockets
    // come and go (a socket's watch lives as long as the socket).
    set(e.get(), CURLOPT_OPENSOCKETFUNCTION, &client_core::on_open_socket);
    set(e.get(), CURLOPT_OPENSOCKETDATA, static_cast<void*>(this));
    set(e.get(), CURLOPT_CLOSESOCKETFUNCTION, &client_core::on_close_socket);
    set(e.get(), CURLOPT_CLOSESOCKETDATA, static_cast<void*>(this));
    return e;
}

void client_core::recycle(easy_ptr e) noexcept {
    if (!multi_ || spare_.size() >= spare_max) return; // freed here
    curl_easy_reset(e.get());
    try {
        spare_.push_back(std::move(e));
    } catch (...) {
    }
}

void client_core::added(transfer_op& op) noexcept {
    ops_.push_back(&op);
    ++active_;
}

void client_core::removed(transfer_op& op) noexcept {
    op.unlink();
    --active_;
}

int client_core::on_socket(CURL*, curl_socket_t s, int what, void* self, void* watch) noexcept {
    auto* c = static_cast<client_core*>(self);
    auto* w = static_cast<socket_watch*>(watch);
    if (what == CURL_POLL_REMOVE) {
        // The transfer is over; the socket may serve the next one. Its watch
        // keeps polling (stopping and starting again would cost epoll_ctl
        // calls), without keeping the loop alive.
        if (w) {
            w->wanted = false;
            uv_unref(reinterpret_cast<uv_handle_t*>(&w->poll));
            if (c->multi_) curl_multi_assign(c->multi_, s, nullptr);
        }
        return 0;
    }
    if (!w && !(w = c->watch_of(s))) {
        w = new (std::nothrow) socket_watch{};
        if (!w) return -1;
        w->core = c;
        w->fd = s;
        if (uv_poll_init_socket(c->uv_, &w->poll, s) < 0) {
            delete w;
            return -1;
        }
        w->poll.data = w;
        try {
            if (c->watch_by_fd_.size() <= static_cast<std::size_t>(s)) c->watch_by_fd_.resize(s + 1);
        } catch (...) {
            c->unwatch(w);
            return -1;
        }
        c->watch_by_fd_[s] = w;
        c->watches_.push_back(w);
    }
    if (!w->wanted) {
        w->wanted = true;
        uv_ref(reinterpret_cast<uv_handle_t*>(&w->poll));
        curl_multi_assign(c->multi_, s, w);
    }
    int events = 0;
    if (what & CURL_POLL_IN) events |= UV_READABLE;
    if (what & CURL_POLL_OUT) events |= UV_WRITABLE;
    if (events != w->events) {
        w->events = events;
        uv_poll_start(&w->poll, events, &client_core::on_poll);
    }
    return 0;
}

socket_watch* client_core::watch_of(curl_socket_t s) const noexcept {
    return s >= 0 && static_cast<std::size_t>(s) < watch_by_fd_.size() ? watch_by_fd_[s] : nullptr;
}

curl_socket_t client_core::on_open_socket(void* self, curlsocktype, curl_sockaddr* a) noexcept {
    auto* c = static_cast<client_core*>(self);
    const curl_socket_t s = ::socket(a->family, a->socktype, a->protocol);
    if (s < 0) return CURL_SOCKET_BAD;
    // A watch still under this number belongs to a socket closed behind our
    // back: it must not be taken for this one's.
    if (socket_watch* stale = c->watch_of(s)) c->unwatch(stale);
    return s;
}

int client_core::on_close_socket(void* self, curl_socket_t s) noexcept {
    auto* c = static_cast<client_core*>(self);
    if (socket_watch* w = c->watch_of(s)) c->unwatch(w); // before the number can come back
    return ::close(s);
}

void client_core::unwatch(socket_watch* w) noexcept {
    w->unlink();
    if (watch_of(w->fd) == w) watch_by_fd_[w->fd] = nullptr;
    uv_poll_stop(&w->poll);
    uv_close(reinterpret_cast<uv_handle_t*>(&w->poll),
             [](uv_handle_t* h) { delete static_cast<socket_watch*>(h->data); });
}

int client_core::on_timer(CURLM*, long timeout_ms, void* self) noexcept {
    auto* c = static_cast<client_core*>(self);
    if (!c->timer_) return 0;
    if (timeout_ms < 0) uv_timer_stop(c->timer_.get());
    else uv_timer_start(c->timer_.get(), &client_core::on_uv_timer, static_cast<std::uint64_t>(timeout_ms), 0);
    return 0;
}

void client_core::on_poll(uv_poll_t* h, int status, int events) {
    auto* w = static_cast<socket_watch*>(h->data);
    if (!w->wanted) { // a kept-alive connection between transfers: closed by the peer, most likely
        uv_poll_stop(h); // (libcurl sees it when it next uses the connection)
        w->events = 0;
        return;
    }
    int flags = 0;
    if (status < 0) {
        flags = CURL_CSELECT_ERR;
    } else {
        if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    }
    w->core->socket_action(w->fd, flags);
}

void client_core::on_uv_timer(uv_timer_t* t) {
    if (auto* c = static_cast<client_core*>(t->data)) c->socket_action(CURL_SOCKET_TIMEOUT, 0);
}

void client_core::socket_action(curl_socket_t s, int flags) noexcept {
    if (!multi_) return;
    add_ref(); // a woken task may drop the client: keep the multi handle till we are done
    int running = 0;
    curl_multi_socket_action(multi_, s, flags, &running);
    collect_done();
    release();
}

void client_core::collect_done() noexcept {
    int left = 0;
    while (multi_) {
        CURLMsg* m = curl_multi_info_read(multi_, &left);
        if (!m) break;
        if (m->msg != CURLMSG_DONE) continue;
        CURL* e = m->easy_handle;
        const CURLcode rc = m->data.result;
        void* op = nullptr;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, &op);
        if (op) static_cast<transfer_op*>(op)->complete(rc); // wakes its task, now
    }
}

// The request's coroutine: holds the core from the moment the request is
// made, so that a request awaited after its client is gone fails cleanly.
struct core_hold {
    client_core* c;
    explicit core_hold(client_core* core) : c(core) {
        if (!c) throw std::logic_error("http::client: the client was moved from");
        c->add_ref();
    }
    core_hold(core_hold&& o) noexcept : c(std::exchange(o.c, nullptr)) {}
    core_hold(const core_hold&) = delete;
    core_hold& operator=(const core_hold&) = delete;
    ~core_hold() {
        if (c) c->release();
    }
};

task<client_response> perform(core_hold core, client_request req) {
    transfer_op op(core.c, std::move(req));
    co_return co_await op;
}

} // namespace detail

std::optional<std::string_view> client_response::header(std::string_view name) const noexcept {
    for (const auto& [k, v] : headers)
        if (detail::iequals(k, name)) return std::string_view(v);
    return std::nullopt;
}

client::client(client_options options) : c_(new detail::client_core(std::move(options))) {}

client& client::operator=(client&& o) noexcept {
    if (this != &o) {
        if (c_) {
            c_->close();
            c_->release();
        }
        c_ = std::exchange(o.c_, nullptr);
    }
    return *this;
}

client::~client() {
    if (c_) {
        c_->close();
        c_->release();
    }
}

task<client_response> client::get(std::string url) {
    client_request r;
    r.url = std::move(url);
    return request(std::move(r));
}

task<client_response> client::post(std::string url, std::string body, std::string content_type) {
    client_request r;
    r.method = "POST";
    r.url = std::move(url);
    r.body = std::move(body);
    r.headers.emplace_back("Content-Type", std::move(content_type));
    return request(std::move(r));
}

task<client_response> client::request(client_request req) {
    return detail::perform(detail::core_hold(c_), std::move(req));
}

std::size_t client::active() const noexcept { return c_ ? c_->active() : 0; }

} // namespace uvasync::http
