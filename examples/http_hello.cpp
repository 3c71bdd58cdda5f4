// A minimal HTTP/1.1 keep-alive "hello" server: GET /health answers
// {"status":"ok"} as JSON, anything else "Hello, World!". Pipelined requests
// are answered in order, all that arrived together in one write.
//
//   http_hello [port]         (default 8080; try `curl -i localhost:8080/health`)
//
// Requests end at the blank line; bodies are not supported (GETs only).
#include <uvasync/uvasync.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

using namespace uvasync;

constexpr std::string_view hello =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";
constexpr std::string_view health =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"status\":\"ok\"}";

task<> handle_http(stream_reader reader, stream_writer writer) {
    std::string responses;
    try {
        for (;;) {
            // The request line and headers; a head over the reader's limit
            // (64 KiB) throws limit_overrun_error.
            std::string head = co_await reader.readuntil("\r\n\r\n");
            responses += head.starts_with("GET /health ") ? health : hello;
            if (reader.buffered_size() == 0) { // nothing more pipelined: send
                writer.write(std::string_view(responses));
                responses.clear();
                co_await writer.drain();
            }
        }
    } catch (const incomplete_read_error&) {
        // the client closed the connection (between requests, or mid-request)
    } catch (const std::exception& e) {
        std::fprintf(stderr, "http_hello: %s\n", e.what()); // reset, huge head
    }
    writer.close();
}

task<> amain(std::uint16_t port) {
    server srv = co_await start_server(handle_http, "127.0.0.1", port);
    std::printf("Serving HTTP on http://%s/\n", srv.sockname().to_string().c_str());
    std::fflush(stdout);
    co_await srv.serve_forever();
}

int main(int argc, char** argv) {
    const auto port = static_cast<std::uint16_t>(argc > 1 ? std::atoi(argv[1]) : 8080);
    run(amain(port));
}
