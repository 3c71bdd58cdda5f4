// uvasync_tls_echo_server --port N --cert FILE --key FILE: the TLS echo
// benchmark server: bench::echo_with_buffer (read into one reused buffer,
// write, drain) on a start_server with server_options.tls; TLS 1.3 with
// TLS_AES_128_GCM_SHA256 only, as every TLS server of the suite.
#include "uvasync_bench_common.hpp"

#include <openssl/ssl.h>

using namespace uvasync;

static task<> echo(stream_reader reader, stream_writer writer) {
    try {
        co_await bench::echo_with_buffer(reader, writer);
    } catch (const std::system_error&) {
        // the client reset the connection
    }
    writer.close();
}

static task<> serve(std::uint16_t port, std::string cert, std::string key) {
    server_options options;
    options.backlog = 4096;
    options.tls = tls_context::server(cert, key);
    options.tls->set_minimum_version(tls_version::tls1_3);
    SSL_CTX_set_ciphersuites(options.tls->native_handle(), "TLS_AES_128_GCM_SHA256");
    server srv = co_await start_server(echo, "127.0.0.1", port, options);
    co_await wait_signal(SIGINT, SIGTERM);
}

int main(int argc, char** argv) {
    long port = 0;
    std::string cert, key;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--port") == 0) port = std::strtol(argv[i + 1], nullptr, 10);
        else if (std::strcmp(argv[i], "--cert") == 0) cert = argv[i + 1];
        else if (std::strcmp(argv[i], "--key") == 0) key = argv[i + 1];
    }
    if (port <= 0 || port > 65535 || cert.empty() || key.empty()) {
        std::fprintf(stderr, "usage: %s --port N --cert FILE --key FILE\n", argv[0]);
        return 2;
    }
    // (no reporting of clients that go away mid-handshake when the load stops)
    bench::raise_nofile();
    run(serve(static_cast<std::uint16_t>(port), cert, key));
    return 0;
}
