// The machinery behind http::client (private): a libcurl multi handle
// driven by the uvasync loop, and the operation a task parks in while its
// transfer runs.
//
// libcurl says which sockets to watch (CURLMOPT_SOCKETFUNCTION: one
// uv_poll_t per socket) and when to call it back (CURLMOPT_TIMERFUNCTION:
// one uv_timer_t); the loop tells it what happened
// (curl_multi_socket_action), then collects the transfers that finished
// (curl_multi_info_read) and wakes their tasks. libcurl's callbacks never
// wake a task, so nothing runs inside libcurl but libcurl.
//
// Ownership: the core is counted. The client handle holds a reference, each
// transfer in flight another, and callbacks that may wake tasks hold one
// while they run, so that a task destroying its client from inside a
// wake-up leaves the multi handle in place until the callback is done.
// libuv handles are freed by their close callbacks; easy handles are reused
// (curl_easy_reset) and cleaned up with the core.
#pragma once

#include <uvasync/detail/intrusive_list.hpp>
#include <uvasync/detail/loop_core.hpp>
#include <uvasync/detail/operation.hpp>
#include <uvasync/detail/uv_handle.hpp>
#include <uvasync/http/client.hpp>

#include <curl/curl.h>
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <vector>

namespace uvasync::http::detail {

class client_core;

struct easy_deleter {
    void operator()(CURL* e) const noexcept { curl_easy_cleanup(e); }
};
using easy_ptr = std::unique_ptr<CURL, easy_deleter>;

struct url_deleter {
    void operator()(CURLU* u) const noexcept { curl_url_cleanup(u); }
};
using url_ptr = std::unique_ptr<CURLU, url_deleter>;

struct slist_deleter {
    void operator()(curl_slist* l) const noexcept { curl_slist_free_all(l); }
};
using slist_ptr = std::unique_ptr<curl_slist, slist_deleter>;

// One socket libcurl asked the loop to watch; freed by its close callback.
// It outlives libcurl's "remove" between two transfers on a kept-alive
// connection, still polling: the next transfer on the socket then costs no
// epoll_ctl. It goes when libcurl closes the socket.
struct socket_watch : uvasync::detail::list_hook<> {
    uv_poll_t poll;
    client_core* core;
    curl_socket_t fd;
    int events = 0;      // what the poll handle watches now (UV_READABLE, UV_WRITABLE)
    bool wanted = false; // libcurl watches the socket (a transfer uses it)
};

// The wait for one transfer, an operation of the cancellation protocol:
// start() hands the easy handle to the multi handle; cancel() stops the
// transfer for good (removes the easy handle at once: libcurl closes its
// connection); result() gives the response or throws. complete() and
// fail() are how the core reports the end of the transfer.
class transfer_op final : public uvasync::detail::operation<transfer_op>, public uvasync::detail::list_hook<> {
public:
    transfer_op(client_core* core, client_request req);
    transfer_op(const transfer_op&) = delete;
    transfer_op& operator=(const transfer_op&) = delete;
    ~transfer_op();

    bool start() noexcept;
    uvasync::detail::cancel_outcome cancel() noexcept {
        remove();
        return uvasync::detail::cancel_outcome::stopped;
    }
    client_response result();
    const char* kind() const noexcept override { return "http.client.request"; }

    // From the core: the transfer ended with `code` (CURLE_OK or not);
    // called from a libuv callback, the task resumes before it returns.
    void complete(CURLcode code) noexcept;
    // From the core: the client is going away; fail with `message`.
    void fail(std::string message) noexcept;

private:
    void remove() noexcept; // out of the multi handle, if it is in
    static std::size_t on_body(char* data, std::size_t size, std::size_t n, void* self) noexcept;
    static std::size_t on_header(char* data, std::size_t size, std::size_t n, void* self) noexcept;

    client_core* core_;
    client_request req_;
    url_ptr url_;      // the parsed URL the transfer uses (CURLOPT_CURLU)
    easy_ptr easy_;
    slist_ptr header_list_;
    client_response resp_;
    int code_ = 0;                 // CURLcode, or -1 for a failure of our own
    std::string message_;          // for a failure
    std::exception_ptr error_;     // from storing the response (bad_alloc)
    char errbuf_[CURL_ERROR_SIZE] = {};
};

class client_core final : public uvasync::detail::loop_core::resource {
public:
    explicit client_core(client_options o);
    client_core(const client_core&) = delete;
    client_core& operator=(const client_core&) = delete;

    void add_ref() noexcept { ++refs_; }
    void release() noexcept {
        if (--refs_ == 0) destroy();
    }

    // The client handle is gone: fail what is in flight.
    void close() noexcept;
    bool closed() const noexcept { return closed_; }

    // An easy handle set up for a request (a recycled one when there is).
    easy_ptr take_easy();
    void recycle(easy_ptr e) noexcept;

    CURLM* multi() const noexcept { return multi_; }
    const client_options& options() const noexcept { return opts_; }
    std::size_t active() const noexcept { return active_; }

    void added(transfer_op& op) noexcept;   // now in the multi handle
    void removed(transfer_op& op) noexcept; // out of it

private:
    ~client_core();
    void destroy() noexcept;
    void close_for_loop() noexcept override;
    void shut_down_curl() noexcept;

    static int on_socket(CURL* e, curl_socket_t s, int what, void* self, void* watch) noexcept;
    static curl_socket_t on_open_socket(void* self, curlsocktype purpose, curl_sockaddr* address) noexcept;
    static int on_close_socket(void* self, curl_socket_t s) noexcept;
    socket_watch* watch_of(curl_socket_t s) const noexcept;
    static int on_timer(CURLM* m, long timeout_ms, void* self) noexcept;
    static void on_poll(uv_poll_t* h, int status, int events);
    static void on_uv_timer(uv_timer_t* t);
    void socket_action(curl_socket_t s, int flags) noexcept;
    void collect_done() noexcept;
    void unwatch(socket_watch* w) noexcept;

    std::uint32_t refs_ = 1;
    client_options opts_;
    uv_loop_t* uv_;
    CURLM* multi_ = nullptr;
    uvasync::detail::uv_handle<uv_timer_t> timer_;
    uvasync::detail::intrusive_list<socket_watch> watches_;
    std::vector<socket_watch*> watch_by_fd_;
    uvasync::detail::intrusive_list<transfer_op> ops_; // in the multi handle
    std::vector<easy_ptr> spare_;
    std::size_t active_ = 0;
    bool closed_ = false;
    bool loop_gone_ = false;
};

} // namespace uvasync::http::detail
