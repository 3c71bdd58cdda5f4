// asio_http: minimal single-threaded HTTP/1.1 keep-alive "hello" server on
// Boost.Asio with C++20 coroutines.
//
//   asio_http --port N
//
// Same behaviour as libuv_http.c: a request ends at "\r\n\r\n" (no request
// bodies), all complete requests in a read are answered in order with one
// write (pipelining), "GET /health" gets {"status":"ok"} as application/json,
// anything else "Hello, World!" as text/plain, keep-alive until the client
// closes.
#include <boost/asio.hpp>

#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;

namespace {

constexpr std::string_view kHello =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 13\r\n"
    "\r\n"
    "Hello, World!";
constexpr std::string_view kHealth =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 15\r\n"
    "\r\n"
    "{\"status\":\"ok\"}";

constexpr std::size_t kInitial = 16 * 1024;
constexpr std::size_t kMax = 64 * 1024;

awaitable<void> session(tcp::socket sock) {
    try {
        sock.set_option(tcp::no_delay(true));
        // not zero-filled: pages are touched only as data arrives
        std::size_t cap = kInitial;
        auto in = std::make_unique_for_overwrite<char[]>(cap);
        std::size_t used = 0, scan_from = 0;
        std::string out;
        for (;;) {
            if (used == cap) {
                if (cap >= kMax) co_return;  // header block too large
                auto bigger = std::make_unique_for_overwrite<char[]>(cap * 2);
                std::memcpy(bigger.get(), in.get(), used);
                in = std::move(bigger);
                cap *= 2;
            }
            std::size_t n = co_await sock.async_read_some(
                asio::buffer(in.get() + used, cap - used), use_awaitable);
            used += n;
            std::string_view data(in.get(), used);
            std::size_t start = 0, from = scan_from;
            for (;;) {
                std::size_t end = data.find("\r\n\r\n", from);
                if (end == std::string_view::npos) break;
                if (data.substr(start, end + 4 - start).starts_with("GET /health "))
                    out.append(kHealth);
                else
                    out.append(kHello);
                start = end + 4;
                from = start;
            }
            if (start > 0) {
                std::memmove(in.get(), in.get() + start, used - start);
                used -= start;
            }
            scan_from = used > 3 ? used - 3 : 0;
            if (!out.empty()) {
                co_await asio::async_write(sock, asio::buffer(out), use_awaitable);
                out.clear();
            }
        }
    } catch (const std::exception&) {
        // EOF or connection error
    }
}

awaitable<void> listener(tcp::acceptor acceptor) {
    auto ex = co_await asio::this_coro::executor;
    for (;;) {
        tcp::socket sock = co_await acceptor.async_accept(use_awaitable);
        asio::co_spawn(ex, session(std::move(sock)), asio::detached);
    }
}

void raise_nofile() {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

}  // namespace

int main(int argc, char** argv) {
    int port = 0;
    for (int i = 1; i < argc; i++) {
        if (!std::strcmp(argv[i], "--port") && i + 1 < argc)
            port = std::atoi(argv[++i]);
        else
            port = -1;
    }
    if (port <= 0 || port > 65535) {
        std::fprintf(stderr, "usage: %s --port N\n", argv[0]);
        return 2;
    }
    raise_nofile();
    try {
        asio::io_context ctx{1};
        tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port));
        tcp::acceptor acceptor(ctx);
        acceptor.open(ep.protocol());
        acceptor.set_option(tcp::acceptor::reuse_address(true));
        acceptor.bind(ep);
        acceptor.listen(4096);
        asio::signal_set signals(ctx, SIGINT, SIGTERM);
        signals.async_wait([&](auto, auto) { ctx.stop(); });
        asio::co_spawn(ctx, listener(std::move(acceptor)), asio::detached);
        ctx.run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "asio_http: %s\n", e.what());
        return 1;
    }
    return 0;
}
