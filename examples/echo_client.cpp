// The TCP echo client of the asyncio documentation ("Streams" page), in
// uvasync:
//
//   echo_client [port [message]]   talks to echo_server on 127.0.0.1:port
//   echo_client                    starts its own echo server on a free port
//                                  first, so it runs anywhere (exit status 0
//                                  when the echo came back intact)
#include <uvasync/uvasync.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace ua = uvasync;

ua::task<std::string> tcp_echo_client(std::string message, std::uint16_t port) {
    auto [reader, writer] = co_await ua::open_connection("127.0.0.1", port);
    std::printf("Send: '%s'\n", message.c_str());
    writer.write(message);
    co_await writer.drain();
    std::string data = co_await reader.read(100);
    std::printf("Received: '%s'\n", data.c_str());
    std::printf("Close the connection\n");
    writer.close();
    co_await writer.wait_closed();
    co_return data;
}

// The server side, as in echo_server.cpp (without the printing).
ua::task<> handle_echo(ua::stream_reader reader, ua::stream_writer writer) {
    std::string data = co_await reader.read(100);
    writer.write(std::move(data));
    co_await writer.drain();
    writer.close();
    co_await writer.wait_closed();
}

ua::task<int> self_contained(std::string message) {
    ua::server srv = co_await ua::start_server(handle_echo, "127.0.0.1", 0);
    std::string echoed = co_await tcp_echo_client(message, srv.port());
    srv.close();
    co_await srv.wait_closed();
    co_return echoed == message ? 0 : 1;
}

int main(int argc, char** argv) {
    const std::string message = argc > 2 ? argv[2] : "Hello World!";
    if (argc > 1) {
        const auto port = static_cast<std::uint16_t>(std::atoi(argv[1]));
        return ua::run(tcp_echo_client(message, port)) == message ? 0 : 1;
    }
    return ua::run(self_contained(message));
}
