// A TLS echo server and client (asyncio's ssl=):
//
//   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes
//       -keyout key.pem -out cert.pem -days 30 -subj /CN=localhost -addext subjectAltName=DNS:localhost
//   (one command)
//   tls_echo server cert.pem key.pem [port]      (default 8443)
//   tls_echo client cert.pem [port]              (trusts cert.pem, sends one line)
#include <uvasync/uvasync.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace ua = uvasync;

ua::task<> echo(ua::stream_reader reader, ua::stream_writer writer) {
    const std::optional<ua::tls_info> tls = writer.tls();
    std::printf("connection from %s (%s, %s)\n", writer.peername().to_string().c_str(), tls->version.c_str(),
                tls->cipher.c_str());
    for (;;) {
        std::string line = co_await reader.readline();
        if (line.empty()) break; // EOF (with or without close_notify)
        writer.write(std::move(line));
        co_await writer.drain();
    }
    writer.close(); // close_notify, then the socket
    co_await writer.wait_closed();
}

ua::task<> serve(std::string cert, std::string key, std::uint16_t port) {
    ua::server_options options;
    options.tls = ua::tls_context::server(cert, key);
    ua::server srv = co_await ua::start_server(echo, "127.0.0.1", port, options);
    std::printf("Serving TLS on 127.0.0.1:%u\n", srv.port());
    std::fflush(stdout);
    co_await srv.serve_forever();
}

ua::task<> client(std::string cafile, std::uint16_t port) {
    ua::connect_options options;
    options.tls = ua::tls_context::client(); // the system's CA store, host name checked
    options.tls->load_verify_locations(cafile);
    options.server_hostname = "localhost"; // the name the certificate must carry
    auto [reader, writer] = co_await ua::open_connection("127.0.0.1", port, options);
    writer.write("hello over TLS\n");
    std::string back = co_await reader.readline();
    std::printf("Received: %s", back.c_str());
    writer.close();
    co_await writer.wait_closed();
}

int main(int argc, char** argv) {
    const bool is_server = argc >= 4 && std::strcmp(argv[1], "server") == 0;
    const bool is_client = argc >= 3 && std::strcmp(argv[1], "client") == 0;
    if (!is_server && !is_client) {
        std::fprintf(stderr, "usage: tls_echo server CERT KEY [PORT] | tls_echo client CAFILE [PORT]\n");
        return 2;
    }
    const int port_arg = is_server ? 4 : 3;
    const auto port = static_cast<std::uint16_t>(argc > port_arg ? std::atoi(argv[port_arg]) : 8443);
    try {
        if (is_server) ua::run(serve(argv[2], argv[3], port));
        else ua::run(client(argv[2], port));
    } catch (const ua::cancelled_error&) {
        return 130;
    } catch (const ua::tls_certificate_error& e) {
        std::fprintf(stderr, "tls_echo: %s (%s)\n", e.what(), e.verify_message().c_str());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "tls_echo: %s\n", e.what());
        return 1;
    }
}
