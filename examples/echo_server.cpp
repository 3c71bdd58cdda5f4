// The TCP echo server of the asyncio documentation ("Streams" page), in
// uvasync:
//
//   echo_server [port]        (default 8888; try it with echo_client)
#include <uvasync/uvasync.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace ua = uvasync;

ua::task<> handle_echo(ua::stream_reader reader, ua::stream_writer writer) {
    std::string data = co_await reader.read(100);
    const std::string addr = writer.peername().to_string();
    std::printf("Received '%s' from %s\n", data.c_str(), addr.c_str());
    std::printf("Send: '%s'\n", data.c_str());
    writer.write(std::move(data));
    co_await writer.drain();
    std::printf("Close the connection\n");
    writer.close();
    co_await writer.wait_closed();
}

ua::task<> amain(std::uint16_t port) {
    ua::server srv = co_await ua::start_server(handle_echo, "127.0.0.1", port);
    std::string addrs;
    for (const ua::endpoint& e : srv.sockets()) addrs += (addrs.empty() ? "" : ", ") + e.to_string();
    std::printf("Serving on %s\n", addrs.c_str());
    std::fflush(stdout);
    co_await srv.serve_forever();
}

int main(int argc, char** argv) {
    const auto port = static_cast<std::uint16_t>(argc > 1 ? std::atoi(argv[1]) : 8888);
    try {
        ua::run(amain(port)); // Ctrl-C cancels amain
    } catch (const ua::cancelled_error&) {
        return 130; // interrupted, as Python's KeyboardInterrupt
    } catch (const std::exception& e) {
        std::fprintf(stderr, "echo_server: %s\n", e.what());
        return 1;
    }
}
