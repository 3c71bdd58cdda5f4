// beast_http --port N: Boost.Beast's own HTTP server on Asio C++20
// coroutines (http::async_read / async_write on a tcp_stream), single
// threaded, as Beast's examples write it: GET /health -> {"status":"ok"} as
// JSON, POST /echo -> the body back as JSON, any other GET -> "Hello,
// World!" as text/plain; keep-alive; no Date header.
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;

namespace {

http::response<http::string_body> answer(const http::request<http::string_body>& req) {
    http::response<http::string_body> res;
    res.version(req.version());
    res.keep_alive(req.keep_alive());
    res.result(http::status::ok);
    if (req.method() == http::verb::post && req.target() == "/echo") {
        res.set(http::field::content_type, "application/json");
        res.body() = req.body();
    } else if (req.target() == "/health") {
        res.set(http::field::content_type, "application/json");
        res.body() = R"({"status":"ok"})";
    } else {
        res.set(http::field::content_type, "text/plain");
        res.body() = "Hello, World!";
    }
    res.prepare_payload();
    return res;
}

awaitable<void> session(tcp::socket sock) {
    sock.set_option(tcp::no_delay(true));
    beast::flat_buffer buffer;
    try {
        for (;;) {
            http::request<http::string_body> req;
            co_await http::async_read(sock, buffer, req, use_awaitable);
            auto res = answer(req);
            co_await http::async_write(sock, res, use_awaitable);
            if (!res.keep_alive()) break;
        }
    } catch (const std::exception&) {
        // end of stream, reset
    }
    beast::error_code ec;
    sock.shutdown(tcp::socket::shutdown_send, ec);
}

awaitable<void> listener(tcp::acceptor acceptor) {
    auto ex = co_await asio::this_coro::executor;
    for (;;) {
        tcp::socket sock = co_await acceptor.async_accept(use_awaitable);
        asio::co_spawn(ex, session(std::move(sock)), asio::detached);
    }
}

} // namespace

int main(int argc, char** argv) {
    int port = 0;
    for (int i = 1; i < argc; i++) {
        if (!std::strcmp(argv[i], "--port") && i + 1 < argc) port = std::atoi(argv[++i]);
        else port = -1;
    }
    if (port <= 0 || port > 65535) {
        std::fprintf(stderr, "usage: %s --port N\n", argv[0]);
        return 2;
    }
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
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
        std::fprintf(stderr, "beast_http: %s\n", e.what());
        return 1;
    }
    return 0;
}
