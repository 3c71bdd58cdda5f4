// What every uvasync benchmark server shares (bench/README.md, "Server
// contract"): `--port N`, 127.0.0.1 with a large backlog, RLIMIT_NOFILE
// raised to the hard limit, nothing on stdout, one thread, exit on SIGTERM
// or SIGINT.
#pragma once

#include <uvasync/uvasync.hpp>

#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>

namespace bench {

inline std::uint16_t parse_port(int argc, char** argv) {
    long port = 0;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--port") == 0 && i + 1 < argc) port = std::strtol(argv[++i], nullptr, 10);
        else port = -1;
    }
    if (port <= 0 || port > 65535) {
        std::fprintf(stderr, "usage: %s --port N\n", argv[0]);
        std::exit(2);
    }
    return static_cast<std::uint16_t>(port);
}

inline void raise_nofile() {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

// The echo loop of a connection with one reused buffer, which libuv (or,
// over TLS, OpenSSL) fills directly: read(span), write, drain, until EOF.
inline uvasync::task<> echo_with_buffer(uvasync::stream_reader& reader, uvasync::stream_writer& writer) {
    constexpr std::size_t buffer_size = 64 * 1024;
    std::unique_ptr<char[]> buffer(new char[buffer_size]);
    for (;;) {
        std::size_t n = co_await reader.read(std::span<char>(buffer.get(), buffer_size));
        if (n == 0) break;
        writer.write(std::string_view(buffer.get(), n));
        co_await writer.drain();
    }
}

// Serves with `handler` on 127.0.0.1:port until SIGINT or SIGTERM.
inline uvasync::task<> serve(uvasync::client_connected_handler handler, std::uint16_t port) {
    uvasync::server_options options;
    options.backlog = 4096;
    uvasync::server srv = co_await uvasync::start_server(std::move(handler), "127.0.0.1", port, options);
    co_await uvasync::wait_signal(SIGINT, SIGTERM);
}

inline int main(uvasync::client_connected_handler handler, int argc, char** argv) {
    const std::uint16_t port = parse_port(argc, argv);
    raise_nofile();
    uvasync::run(serve(std::move(handler), port));
    return 0;
}

} // namespace bench
