// UDP sockets on uv_udp_t.
//
// udp_state is the socket: the libuv handle, the receive buffer, the queue
// of datagrams nobody has asked for yet and the list of recvfrom()s waiting
// for one. It stays put (datagram_socket moves only a pointer to it) and
// outlives close(): only the owner's destructor frees it. Closing wakes the
// waiters (they see EBADF) and detaches them, so that nothing refers to the
// state afterwards.
#include <uvasync/datagram.hpp>
#include <uvasync/detail/operation.hpp>
#include <uvasync/detail/uv_request.hpp>
#include <uvasync/errors.hpp>
#include <uvasync/event_loop.hpp>

#include <deque>
#include <stdexcept>

namespace uvasync {

namespace detail {

class recv_op;

struct received {
    std::string data;
    endpoint from;
    int error = 0; // a libuv error instead of a datagram
};

struct udp_state final : loop_core::resource {
    static constexpr std::size_t buffer_size = 64 * 1024;

    loop_core* loop = nullptr; // while registered as the loop's resource
    uv_handle<uv_udp_t> handle;
    std::unique_ptr<char[]> buffer;
    std::deque<received> queue;
    std::size_t queued_bytes = 0;
    intrusive_list<recv_op> waiters; // recvfrom()s waiting for a datagram
    endpoint local;
    std::optional<endpoint> peer;
    int family = AF_UNSPEC;
    bool closed = false;
    bool reading = false;

    udp_state() = default;
    udp_state(const udp_state&) = delete;
    udp_state& operator=(const udp_state&) = delete;
    ~udp_state() { close(); }

    void close() noexcept {
        if (loop) {
            list_hook<resource_tag>::unlink(); // off the loop's resources
            loop = nullptr;
        }
        shut(true);
    }
    void close_for_loop() noexcept override {
        loop = nullptr; // already taken off the loop's list
        shut(false);
    }
    void shut(bool wake) noexcept;

    void start_reading() noexcept;
    void stop_reading() noexcept {
        if (reading) uv_udp_recv_stop(handle.get());
        reading = false;
    }
    bool full() const noexcept {
        return queue.size() >= datagram_socket::max_queued_datagrams ||
               queued_bytes >= datagram_socket::max_queued_bytes;
    }
    received pop() noexcept {
        received r = std::move(queue.front());
        queue.pop_front();
        queued_bytes -= r.data.size();
        if (!reading && !closed && queue.size() <= datagram_socket::max_queued_datagrams / 2 &&
            queued_bytes <= datagram_socket::max_queued_bytes / 2)
            start_reading();
        return r;
    }

    static void on_alloc(uv_handle_t* h, std::size_t, uv_buf_t* buf) noexcept;
    static void on_recv(uv_udp_t* h, ssize_t nread, const uv_buf_t* buf, const sockaddr* addr, unsigned flags) noexcept;
};

// A recvfrom() that waits for a datagram.
class recv_op final : public operation<recv_op>, public list_hook<> {
public:
    explicit recv_op(udp_state* s) noexcept : sock(s) {}

    bool ready() noexcept {
        if (!sock || sock->closed) {
            got.error = UV_EBADF;
            return true;
        }
        if (!sock->queue.empty()) { // already here: no suspension, as asyncio's sock_recvfrom
            got = sock->pop();
            return true;
        }
        return false;
    }
    bool start() noexcept {
        sock->waiters.push_back(this);
        return true;
    }
    cancel_outcome cancel() noexcept {
        unlink();
        return cancel_outcome::stopped;
    }
    std::pair<std::string, endpoint> result() {
        if (got.error < 0) throw_uv_error(got.error, "recvfrom");
        return {std::move(got.data), got.from};
    }
    const char* kind() const noexcept override { return "recvfrom"; }

    udp_state* sock;
    received got;
};

void udp_state::shut(bool wake) noexcept {
    if (closed) return;
    closed = true;
    reading = false;
    handle.close(); // no callback of ours runs after this; pending sends end with UV_ECANCELED
    buffer.reset();
    queue.clear();
    queued_bytes = 0;
    while (recv_op* w = waiters.pop_front()) {
        w->sock = nullptr;
        w->got.error = UV_EBADF;
        if (wake) w->wake_soon(); // never re-enter a task from inside close()
    }
}

void udp_state::start_reading() noexcept {
    if (reading || closed) return;
    if (const int rc = uv_udp_recv_start(handle.get(), &on_alloc, &on_recv); rc < 0) {
        try { // tell the next recvfrom
            received r;
            r.error = rc;
            queue.push_back(std::move(r));
        } catch (...) {
        }
        return;
    }
    reading = true;
}

void udp_state::on_alloc(uv_handle_t* h, std::size_t, uv_buf_t* buf) noexcept {
    auto* self = static_cast<udp_state*>(h->data);
    if (!self || !self->buffer) {
        *buf = uv_buf_init(nullptr, 0);
        return;
    }
    *buf = uv_buf_init(self->buffer.get(), buffer_size);
}

void udp_state::on_recv(uv_udp_t* h, ssize_t nread, const uv_buf_t* buf, const sockaddr* addr, unsigned) noexcept {
    auto* self = static_cast<udp_state*>(h->data);
    if (!self || self->closed) return;
    if (nread == 0 && !addr) return; // nothing (more) to read
    received r;
    try {
        if (nread > 0) r.data.assign(buf->base, static_cast<std::size_t>(nread));
    } catch (...) {
        return; // out of memory: the datagram is lost, as the kernel would lose it
    }
    if (nread < 0) r.error = static_cast<int>(nread);
    else r.from = endpoint::from_sockaddr(addr);

    if (recv_op* w = self->waiters.pop_front()) {
        w->got = std::move(r);
        w->wake_now(); // may close or destroy the socket: touch nothing after
        return;
    }
    try {
        self->queued_bytes += r.data.size();
        self->queue.push_back(std::move(r));
    } catch (...) {
        self->queued_bytes -= r.data.size();
        return;
    }
    if (self->full()) self->stop_reading(); // the kernel's buffer holds the rest
}

// A send that libuv had to queue (the kernel's buffer was full). The request
// carries the data and outlives an abandoned frame.
class send_op;
struct udp_send_req final : uv_request<uv_udp_send_t, send_op> {
    using uv_request::uv_request;
    std::string data;
};

class send_op final : public operation<send_op> {
public:
    send_op(uv_udp_t* h, std::string data, const sockaddr* to) : handle_(h), addr_(to), data_(std::move(data)) {}

    bool start() {
        req_ = new udp_send_req(this);
        req_->data = std::move(data_);
        uv_buf_t buf = uv_buf_init(req_->data.data(), static_cast<unsigned>(req_->data.size()));
        if (const int rc = uv_udp_send(&req_->req, handle_, &buf, 1, addr_, &on_sent); rc < 0) {
            delete std::exchange(req_, nullptr);
            status_ = rc;
            return false;
        }
        return true;
    }
    cancel_outcome cancel() noexcept {
        std::exchange(req_, nullptr)->set_owner(nullptr); // the datagram still goes out
        return cancel_outcome::stopped;
    }
    void result() const {
        if (status_ == UV_ECANCELED) return; // the socket closed first: dropped, as a send after close()
        if (status_ < 0) throw_uv_error(status_, "sendto");
    }
    const char* kind() const noexcept override { return "sendto"; }

private:
    static void on_sent(uv_udp_send_t* r, int status) noexcept {
        auto* req = static_cast<udp_send_req*>(udp_send_req::of(r));
        send_op* op = req->owner();
        delete req;
        if (!op) return; // abandoned
        op->req_ = nullptr;
        op->status_ = status;
        op->wake_now();
    }

    uv_udp_t* handle_;
    const sockaddr* addr_;
    std::string data_;             // until handed to libuv
    udp_send_req* req_ = nullptr;  // while libuv has it and we wait
    int status_ = 0;
};

namespace {

bool has_address(const endpoint& e) noexcept { return e.family() == AF_INET || e.family() == AF_INET6; }

const char* family_name(int family) noexcept { return family == AF_INET6 ? "IPv6" : "IPv4"; }

task<std::pair<std::string, endpoint>> udp_recvfrom(udp_state* s) { co_return co_await recv_op(s); }

// `to` empty: send() on a connected socket.
task<> udp_sendto(udp_state* s, std::string data, std::optional<endpoint> to) {
    if (!s || s->closed) co_return; // uvloop: a send after close is a silent no-op
    const sockaddr* addr = nullptr;
    if (to) {
        if (!has_address(*to)) throw std::invalid_argument("sendto: the endpoint has no address");
        if (s->peer) {
            if (!(*to == *s->peer))
                throw std::invalid_argument("sendto: Invalid address: the socket is connected to " +
                                            s->peer->to_string() + ", not " + to->to_string());
        } else {
            if (to->family() != s->family)
                throw std::invalid_argument(std::string("sendto: ") + to->to_string() + " is an " +
                                            family_name(to->family()) + " address and the socket is " +
                                            family_name(s->family));
            addr = to->data();
        }
    } else if (!s->peer) {
        throw std::logic_error("send: the datagram socket is not connected; use sendto()");
    }
    uv_buf_t buf = uv_buf_init(data.data(), static_cast<unsigned>(data.size()));
    const int rc = uv_udp_try_send(s->handle.get(), &buf, 1, addr);
    if (rc >= 0) co_return;
    if (rc != UV_EAGAIN) throw_uv_error(rc, "sendto");
    co_await send_op(s->handle.get(), std::move(data), addr); // wait for room
}

} // namespace
} // namespace detail

task<datagram_socket> create_datagram_endpoint(std::optional<endpoint> local, std::optional<endpoint> remote) {
    if (!local && !remote)
        throw std::invalid_argument(
            "create_datagram_endpoint: neither a local nor a remote address was given (the address family is unknown)");
    if (local && !detail::has_address(*local))
        throw std::invalid_argument("create_datagram_endpoint: the local endpoint has no address");
    if (remote && !detail::has_address(*remote))
        throw std::invalid_argument("create_datagram_endpoint: the remote endpoint has no address");
    if (local && remote && local->family() != remote->family())
        throw std::invalid_argument(std::string("create_datagram_endpoint: address family mismatch: local ") +
                                    local->to_string() + " is " + detail::family_name(local->family()) +
                                    ", remote " + remote->to_string() + " is " +
                                    detail::family_name(remote->family()));
    event_loop& loop = get_running_loop();
    auto s = std::make_unique<detail::udp_state>();
    s->family = local ? local->family() : remote->family();
    s->handle = detail::uv_handle<uv_udp_t>::make(
        [&](uv_udp_t* h) { return uv_udp_init_ex(loop.native_handle(), h, static_cast<unsigned>(s->family)); },
        "create_datagram_endpoint");
    s->handle->data = s.get();
    if (local) {
        if (const int rc = uv_udp_bind(s->handle.get(), local->data(), 0); rc < 0)
            throw_uv_error(rc, ("create_datagram_endpoint: bind to " + local->to_string()).c_str());
    }
    if (remote) {
        if (const int rc = uv_udp_connect(s->handle.get(), remote->data()); rc < 0)
            throw_uv_error(rc, ("create_datagram_endpoint: connect to " + remote->to_string()).c_str());
        s->peer = *remote;
    }
    sockaddr_storage name{};
    int len = sizeof name;
    if (const int rc = uv_udp_getsockname(s->handle.get(), reinterpret_cast<sockaddr*>(&name), &len); rc < 0)
        throw_uv_error(rc, "create_datagram_endpoint: getsockname");
    s->local = endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&name));
    s->buffer.reset(new char[detail::udp_state::buffer_size]);
    s->start_reading();
    if (!s->reading) {
        const int rc = s->queue.front().error;
        throw_uv_error(rc, "create_datagram_endpoint: recv_start");
    }
    s->loop = &loop.core();
    s->loop->add_resource(*s);
    co_return datagram_socket(std::move(s));
}

datagram_socket::datagram_socket() noexcept = default;
datagram_socket::datagram_socket(std::unique_ptr<detail::udp_state> s) noexcept : s_(std::move(s)) {}
datagram_socket::datagram_socket(datagram_socket&& other) noexcept = default;
datagram_socket& datagram_socket::operator=(datagram_socket&& other) noexcept = default;
datagram_socket::~datagram_socket() = default;

task<std::pair<std::string, endpoint>> datagram_socket::recvfrom() { return detail::udp_recvfrom(s_.get()); }

task<> datagram_socket::sendto(std::string data, endpoint to) {
    return detail::udp_sendto(s_.get(), std::move(data), std::move(to));
}

task<> datagram_socket::send(std::string data) { return detail::udp_sendto(s_.get(), std::move(data), std::nullopt); }

endpoint datagram_socket::sockname() const {
    if (!s_) throw std::logic_error("sockname: the datagram socket was moved from or never opened");
    return s_->local;
}

std::optional<endpoint> datagram_socket::peername() const { return s_ ? s_->peer : std::nullopt; }

void datagram_socket::close() noexcept {
    if (s_) s_->close();
}

bool datagram_socket::is_closing() const noexcept { return !s_ || s_->closed; }

std::size_t datagram_socket::queued() const noexcept { return s_ ? s_->queue.size() : 0; }

} // namespace uvasync
