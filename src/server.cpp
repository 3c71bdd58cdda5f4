// Servers: listening sockets, accepting, the per-connection handler task,
// start_server and start_unix_server.
#include "stream_conn.hpp"
#include "tls_session.hpp"

#include <uvasync/detail/operation.hpp>
#include <uvasync/event_loop.hpp>
#include <uvasync/server.hpp>
#include <uvasync/task_handle.hpp>

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <memory>
#include <stdexcept>
#include <vector>

namespace uvasync {

namespace detail {

struct listener {
    union {
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } h;
    server_state* s = nullptr;
    uv_handle_t* handle() noexcept { return reinterpret_cast<uv_handle_t*>(&h); }
    uv_stream_t* stream() noexcept { return reinterpret_cast<uv_stream_t*>(&h); }
};

class server_wait_op;

// The state of a server, shared by its `server` handle, its listening
// sockets (until their close callbacks) and its open connections.
struct server_state final : loop_core::resource {
    loop_core* loop = nullptr;
    std::uint32_t refs = 1; // the server handle's
    std::shared_ptr<const client_connected_handler> handler;
    std::size_t limit = default_stream_limit;
    std::optional<tls_context> tls;
    std::int64_t tls_timeout_ns = 0;
    bool is_pipe = false;
    bool closed = false;
    bool loop_gone = false;
    bool forever = false; // a task waits in serve_forever
    std::vector<listener*> listeners;
    std::size_t open_listeners = 0; // whose close callback has not run
    std::vector<endpoint> addrs;
    std::uint16_t port = 0;
    std::string path; // Unix
    dev_t dev = 0;
    ino_t ino = 0;
    intrusive_list<stream_conn, client_tag> clients;
    // Accept errors are reported once per episode (see report_accept_error).
    bool accept_error_reported = false;
    long fd_limit = 0; // RLIMIT_NOFILE as last read (0: not yet)
    intrusive_list<server_wait_op> closed_waiters;  // wait_closed()
    intrusive_list<server_wait_op> forever_waiters; // serve_forever()

    static server make(server_state* s) noexcept { return server(s); }
    static server_state* of(server& srv) noexcept { return srv.s_; }

    void add_ref() noexcept { ++refs; }
    void release() noexcept {
        if (--refs == 0) delete this;
    }
    bool fully_closed() const noexcept { return closed && open_listeners == 0 && clients.empty(); }

    // A listening handle; for TCP the socket exists at once (of `family`),
    // so that options can be set before bind.
    listener* new_listener(int family = AF_UNSPEC) {
        auto* l = new listener;
        l->s = this;
        uv_loop_t* uv = loop->owner().native_handle();
        int rc = is_pipe ? uv_pipe_init(uv, &l->h.pipe, 0)
                         : uv_tcp_init_ex(uv, &l->h.tcp, static_cast<unsigned>(family));
        if (rc < 0) {
            delete l;
            throw_uv_error(rc, "socket");
        }
        l->handle()->data = l;
        listeners.push_back(l);
        ++open_listeners;
        add_ref();
        return l;
    }

    void listen_tcp(const endpoint& at, const server_options& o) {
        listener* l = new_listener(at.family());
        const std::string where = at.to_string();
        uv_tcp_t* t = &l->h.tcp;
        if (o.reuse_port) { // (libuv 1.44 has no UV_TCP_REUSEPORT)
            uv_os_fd_t fd = -1;
            int one = 1;
            if (uv_fileno(l->handle(), &fd) != 0 || ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
                throw_uv_error(uv_translate_sys_error(errno), ("SO_REUSEPORT on " + where).c_str());
        }
        const unsigned flags = at.family() == AF_INET6 ? UV_TCP_IPV6ONLY : 0;
        if (int rc = uv_tcp_bind(t, at.data(), flags); rc < 0) throw_uv_error(rc, ("bind " + where).c_str());
        if (int rc = uv_listen(l->stream(), o.backlog, &on_connection); rc < 0)
            throw_uv_error(rc, ("bind " + where).c_str()); // libuv reports EADDRINUSE here
        sockaddr_storage ss{};
        int len = sizeof ss;
        if (uv_tcp_getsockname(t, reinterpret_cast<sockaddr*>(&ss), &len) == 0)
            addrs.push_back(endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss)));
        else
            addrs.push_back(at);
        if (port == 0) port = addrs.back().port();
    }

    void listen_unix(const std::string& p, const server_options& o) {
        struct stat st {};
        // A socket file left by an earlier run is replaced (as asyncio does);
        // anything else there makes bind fail with "address in use".
        if (::stat(p.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(p.c_str());
        listener* l = new_listener();
        if (int rc = uv_pipe_bind(&l->h.pipe, p.c_str()); rc < 0) throw_uv_error(rc, ("bind " + p).c_str());
        if (::stat(p.c_str(), &st) == 0) {
            dev = st.st_dev;
            ino = st.st_ino;
        }
        path = p;
        if (int rc = uv_listen(l->stream(), o.backlog, &on_connection); rc < 0)
            throw_uv_error(rc, ("listen on " + p).c_str());
        addrs.emplace_back();
    }

    static void on_connection(uv_stream_t* ls, int status);
    void report_accept_error(int status) noexcept;
    void watch_fd_limit(stream_conn* c) noexcept;
    static void on_listener_closed(uv_handle_t* h);

    void close() noexcept {
        if (closed) return;
        closed = true;
        if (!loop_gone) list_hook<resource_tag>::unlink(); // off the loop's resources
        for (listener* l : listeners) uv_close(l->handle(), &on_listener_closed);
        listeners.clear();
        addrs.clear();
        if (!path.empty()) { // remove our socket file, if it is still ours
            struct stat st {};
            if (::stat(path.c_str(), &st) == 0 && st.st_dev == dev && st.st_ino == ino) ::unlink(path.c_str());
        }
        if (!loop_gone) wake_all(forever_waiters);
        maybe_wake_closed();
    }

    void maybe_wake_closed() noexcept {
        if (!loop_gone && fully_closed()) wake_all(closed_waiters);
    }
    // Through the ready queue: close() may be called from inside a task.
    static void wake_all(intrusive_list<server_wait_op>& waiters) noexcept;

    void close_for_loop() noexcept override {
        loop_gone = true;
        closed_waiters.clear();
        forever_waiters.clear();
        close();
    }

    template <class F> void for_each_client(F f) {
        for (stream_conn* c = clients.front(); c;) {
            stream_conn* next = clients.next(c);
            f(c);
            c = next;
        }
    }
};

void server_client_closed(server_state* s, stream_conn* c) noexcept {
    c->list_hook<client_tag>::unlink();
    s->maybe_wake_closed();
    s->release();
}

void server_state::on_listener_closed(uv_handle_t* h) {
    auto* l = static_cast<listener*>(h->data);
    server_state* s = l->s;
    delete l;
    --s->open_listeners;
    s->maybe_wake_closed();
    s->release();
}

namespace {

// A TLS connection's task: the handshake first. A client that fails it is
// reported and dropped; the handler never sees it.
task<> run_tls_client(std::shared_ptr<const client_connected_handler> fn, stream_conn* c, std::int64_t timeout_ns,
                      stream_reader r, stream_writer w) {
    bool ok = false;
    try {
        co_await tls_handshake_op(c, timeout_ns);
        ok = true;
    } catch (const cancelled_error&) {
        throw;
    } catch (...) {
        c->abort();
        std::string name;
        if (auto t = current_task()) name = t->get_name();
        get_running_loop().core().report("TLS handshake failed", std::current_exception(), std::move(name));
    }
    if (ok) co_await (*fn)(std::move(r), std::move(w));
}

} // namespace

void server_state::on_connection(uv_stream_t* ls, int status) {
    auto* l = static_cast<listener*>(ls->data);
    if (!l) return;
    server_state* s = l->s;
    if (s->closed) return;
    if (status < 0) { // the connection is gone: libuv could not accept it
        s->report_accept_error(status);
        return;
    }
    stream_conn* c;
    try {
        c = stream_conn::create(*s->loop, s->is_pipe ? stream_conn::kind::pipe : stream_conn::kind::tcp, s->limit);
    } catch (...) {
        return;
    }
    if (uv_accept(ls, c->stream) < 0) {
        c->abort();
        c->release();
        return;
    }
    s->watch_fd_limit(c);
    c->setup_accepted_or_connected();
    c->srv = s;
    s->add_ref();
    s->clients.push_back(c);
    try {
        auto rw = c->make_pair();
        // A plain connection's task is the handler itself, with no wrapper
        // frame. What escapes it (not its cancellation) is reported as
        // asyncio reports it, when the task ends.
        task_handle<> t;
        if (s->tls) {
            tls_attach(c, *s->tls, true, {});
            t = s->loop->owner().create_task(
                run_tls_client(s->handler, c, s->tls_timeout_ns, std::move(rw.first), std::move(rw.second)));
        } else {
            t = s->loop->owner().create_task((*s->handler)(std::move(rw.first), std::move(rw.second)));
        }
        t.state()->report_unretrieved_as(task_state_base::unretrieved_report::client_connected_cb);
    } catch (...) {
        // the reader and writer are gone: the connection closes
    }
}

// Goes to the loop's exception handler once, until accepting works again
// below three quarters of the descriptor limit: an error per attempt would
// flood the handler while the condition lasts.
void server_state::report_accept_error(int status) noexcept {
    if (accept_error_reported || loop_gone) return;
    accept_error_reported = true;
    try {
        std::string where = is_pipe || addrs.empty() ? path : addrs.front().to_string();
        loop->report(status == UV_EMFILE || status == UV_ENFILE
                         ? "Server cannot accept: no file descriptor is free; connections are reset until some are"
                         : "Server cannot accept a connection",
                     std::make_exception_ptr(make_uv_error(status, ("accept on " + where).c_str())), {});
    } catch (...) {
    }
}

// libuv hides EMFILE: it keeps a spare descriptor, and when accept() fails
// for lack of descriptors it closes the spare, accepts the connection and
// closes it (the peer sees a reset), without calling on_connection. So the
// server watches for itself: descriptors are allocated lowest first, so an
// accepted socket on the last descriptor below the limit means none is
// left, and the next connections will be reset.
void server_state::watch_fd_limit(stream_conn* c) noexcept {
    uv_os_fd_t fd = -1;
    if (uv_fileno(c->handle(), &fd) != 0) return;
    if (fd + 1 < fd_limit) {
        if (accept_error_reported && fd < fd_limit / 4 * 3) accept_error_reported = false;
        return;
    }
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
    fd_limit = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > INT_MAX ? INT_MAX : static_cast<long>(rl.rlim_cur);
    if (fd + 1 >= fd_limit) report_accept_error(UV_EMFILE);
}

// wait_closed() and serve_forever(): cancelling serve_forever closes the server.
class server_wait_op final : public operation<server_wait_op>, public list_hook<> {
public:
    enum class what : std::uint8_t { closed, serving };
    server_wait_op(server_state* s, what w) noexcept : s_(s), what_(w) { s_->add_ref(); }
    ~server_wait_op() { s_->release(); }

    bool ready() const noexcept { return what_ == what::closed ? s_->fully_closed() : s_->closed; }
    bool start() noexcept {
        (what_ == what::closed ? s_->closed_waiters : s_->forever_waiters).push_back(this);
        return true;
    }
    cancel_outcome cancel() noexcept {
        unlink();
        if (what_ == what::serving) s_->close();
        return cancel_outcome::stopped;
    }
    void result() const noexcept {}
    const char* kind() const noexcept override { return what_ == what::closed ? "wait_closed" : "serve_forever"; }

private:
    server_state* s_;
    what what_;
};

void server_state::wake_all(intrusive_list<server_wait_op>& waiters) noexcept {
    while (server_wait_op* w = waiters.pop_front()) w->wake_soon();
}

namespace {

server_state* state_of(server_state* s, const char* what) {
    if (!s) throw std::logic_error(std::string(what) + ": the server is empty (moved from?)");
    return s;
}

server_state* new_server_state(client_connected_handler& handler, const server_options& o, bool is_pipe,
                               const char* what) {
    check_limit(o.limit, what);
    if (!handler) throw std::invalid_argument(std::string(what) + ": the handler is empty");
    if (o.backlog <= 0) throw std::invalid_argument(std::string(what) + ": backlog must be positive");
    auto* s = new server_state;
    s->loop = &get_running_loop().core();
    s->handler = std::make_shared<const client_connected_handler>(std::move(handler));
    s->limit = o.limit;
    s->tls = o.tls;
    s->tls_timeout_ns = handshake_timeout_ns(o.tls_handshake_timeout);
    s->is_pipe = is_pipe;
    s->loop->add_resource(*s);
    return s;
}

} // namespace

} // namespace detail

// ---- server ---------------------------------------------------------------

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

std::uint16_t server::port() const { return detail::state_of(s_, "port")->port; }
std::vector<endpoint> server::sockets() const { return detail::state_of(s_, "sockets")->addrs; }
endpoint server::sockname() const {
    const auto& a = detail::state_of(s_, "sockname")->addrs;
    return a.empty() ? endpoint() : a.front();
}
std::string server::unix_path() const { return detail::state_of(s_, "unix_path")->path; }
bool server::is_serving() const noexcept { return s_ && !s_->closed; }
void server::close() { detail::state_of(s_, "close")->close(); }

void server::close_clients() {
    detail::state_of(s_, "close_clients")->for_each_client([](detail::stream_conn* c) { c->close(); });
}

void server::abort_clients() {
    detail::state_of(s_, "abort_clients")->for_each_client([](detail::stream_conn* c) { c->abort(); });
}

task<> server::wait_closed() {
    detail::server_state* s = detail::state_of(s_, "wait_closed");
    while (!s->fully_closed()) co_await detail::server_wait_op(s, detail::server_wait_op::what::closed);
}

task<> server::serve_forever() {
    detail::server_state* s = detail::state_of(s_, "serve_forever");
    if (s->forever) throw std::runtime_error("serve_forever: the server is already being awaited on serve_forever()");
    if (s->closed) throw std::runtime_error("serve_forever: the server is closed");
    struct flag {
        detail::server_state* s;
        explicit flag(detail::server_state* st) noexcept : s(st) {
            s->forever = true;
            s->add_ref();
        }
        flag(const flag&) = delete;
        ~flag() {
            s->forever = false;
            s->release();
        }
    } serving(s);
    while (!s->closed) co_await detail::server_wait_op(s, detail::server_wait_op::what::serving);
}

// ---- start_server ------------------------------------------------------------

task<server> start_server(client_connected_handler handler, std::string host, std::uint16_t port,
                          server_options options) {
    server srv = detail::server_state::make(detail::new_server_state(handler, options, false, "start_server"));
    std::vector<endpoint> addrs;
    const bool any = host.empty();
    if (any) {
        addrs.emplace_back("0.0.0.0", port);
        addrs.emplace_back("::", port);
    } else {
        addrs = co_await detail::resolve_stream_host(host, port);
    }
    detail::server_state* s = detail::server_state::of(srv);
    for (std::size_t i = 0; i < addrs.size(); ++i) {
        endpoint at = addrs[i];
        if (port == 0 && s->port != 0) at = endpoint(at.address(), s->port); // one port for every socket
        try {
            s->listen_tcp(at, options);
        } catch (const std::system_error&) {
            // All interfaces: a host without IPv6 still serves IPv4.
            if (!(any && at.family() == AF_INET6)) throw;
        }
    }
    co_return srv;
}

task<server> start_unix_server(client_connected_handler handler, std::string path, server_options options) {
    if (path.empty()) throw std::invalid_argument("start_unix_server: empty path");
    if (path.size() >= sizeof(sockaddr_un{}.sun_path))
        throw std::invalid_argument("start_unix_server: path is too long for a Unix socket: " + path);
    server srv = detail::server_state::make(detail::new_server_state(handler, options, true, "start_unix_server"));
    detail::server_state::of(srv)->listen_unix(path, options);
    co_return srv;
}

task<server> start_server(client_connected_handler handler, std::string host, std::uint16_t port) {
    server_options options;
    return start_server(std::move(handler), std::move(host), port, std::move(options));
}

task<server> start_unix_server(client_connected_handler handler, std::string path) {
    server_options options;
    return start_unix_server(std::move(handler), std::move(path), std::move(options));
}

} // namespace uvasync
