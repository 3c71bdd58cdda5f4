// asio_echo: single-threaded TCP echo server on Boost.Asio with C++20
// coroutines (awaitable / co_spawn / use_awaitable).
//
//   asio_echo --port N [--line]
//
// Default: each read is written back as it came.  --line: the session reads
// with async_read_until('\n') and writes back one line at a time, the
// readline() way.
#include <boost/asio.hpp>

#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;

namespace {

bool line_mode = false;

awaitable<void> echo_session(tcp::socket sock) {
    try {
        sock.set_option(tcp::no_delay(true));
        // not zero-filled: pages are touched only as data arrives, as in the
        // libuv server, so idle connections stay cheap
        constexpr std::size_t kSize = 64 * 1024;
        auto buf = std::make_unique_for_overwrite<char[]>(kSize);
        for (;;) {
            std::size_t n = co_await sock.async_read_some(asio::buffer(buf.get(), kSize), use_awaitable);
            co_await asio::async_write(sock, asio::buffer(buf.get(), n), use_awaitable);
        }
    } catch (const std::exception&) {
        // EOF or connection error: the session ends
    }
}

awaitable<void> line_session(tcp::socket sock) {
    try {
        sock.set_option(tcp::no_delay(true));
        std::string buf;
        auto dyn = asio::dynamic_buffer(buf, 64 * 1024);
        for (;;) {
            std::size_t n = co_await asio::async_read_until(sock, dyn, '\n', use_awaitable);
            co_await asio::async_write(sock, asio::buffer(buf.data(), n), use_awaitable);
            dyn.consume(n);
        }
    } catch (const std::exception&) {
    }
}

awaitable<void> listener(tcp::acceptor acceptor) {
    auto ex = co_await asio::this_coro::executor;
    for (;;) {
        tcp::socket sock = co_await acceptor.async_accept(use_awaitable);
        if (line_mode)
            asio::co_spawn(ex, line_session(std::move(sock)), asio::detached);
        else
            asio::co_spawn(ex, echo_session(std::move(sock)), asio::detached);
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
        else if (!std::strcmp(argv[i], "--line"))
            line_mode = true;
        else
            port = -1;
    }
    if (port <= 0 || port > 65535) {
        std::fprintf(stderr, "usage: %s --port N [--line]\n", argv[0]);
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
        std::fprintf(stderr, "asio_echo: %s\n", e.what());
        return 1;
    }
    return 0;
}
