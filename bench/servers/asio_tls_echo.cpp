// asio_tls_echo: single-threaded TLS echo server on Boost.Asio's
// ssl::stream with C++20 coroutines; TLS 1.3 with TLS_AES_128_GCM_SHA256
// only, as every TLS server of the suite.
//
//   asio_tls_echo --port N --cert FILE --key FILE
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;

namespace {

awaitable<void> echo_session(tcp::socket sock, ssl::context& tls) {
    try {
        sock.set_option(tcp::no_delay(true));
        ssl::stream<tcp::socket> s(std::move(sock), tls);
        co_await s.async_handshake(ssl::stream_base::server, use_awaitable);
        constexpr std::size_t kSize = 64 * 1024;
        auto buf = std::make_unique_for_overwrite<char[]>(kSize);
        for (;;) {
            std::size_t n = co_await s.async_read_some(asio::buffer(buf.get(), kSize), use_awaitable);
            co_await asio::async_write(s, asio::buffer(buf.get(), n), use_awaitable);
        }
    } catch (const std::exception&) {
        // EOF or connection error: the session ends
    }
}

awaitable<void> listener(tcp::acceptor acceptor, ssl::context& tls) {
    auto ex = co_await asio::this_coro::executor;
    for (;;) {
        tcp::socket sock = co_await acceptor.async_accept(use_awaitable);
        asio::co_spawn(ex, echo_session(std::move(sock), tls), asio::detached);
    }
}

}  // namespace

int main(int argc, char** argv) {
    int port = 0;
    const char *cert = nullptr, *key = nullptr;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--port")) port = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--cert")) cert = argv[i + 1];
        else if (!std::strcmp(argv[i], "--key")) key = argv[i + 1];
    }
    if (port <= 0 || port > 65535 || !cert || !key) {
        std::fprintf(stderr, "usage: %s --port N --cert FILE --key FILE\n", argv[0]);
        return 2;
    }
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    try {
        ssl::context tls(ssl::context::tls_server);
        SSL_CTX_set_min_proto_version(tls.native_handle(), TLS1_3_VERSION);
        SSL_CTX_set_ciphersuites(tls.native_handle(), "TLS_AES_128_GCM_SHA256");
        tls.use_certificate_chain_file(cert);
        tls.use_private_key_file(key, ssl::context::pem);
        asio::io_context ctx{1};
        tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port));
        tcp::acceptor acceptor(ctx);
        acceptor.open(ep.protocol());
        acceptor.set_option(tcp::acceptor::reuse_address(true));
        acceptor.bind(ep);
        acceptor.listen(4096);
        asio::signal_set signals(ctx, SIGINT, SIGTERM);
        signals.async_wait([&](auto, auto) { ctx.stop(); });
        asio::co_spawn(ctx, listener(std::move(acceptor), tls), asio::detached);
        ctx.run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "asio_tls_echo: %s\n", e.what());
        return 1;
    }
    return 0;
}
