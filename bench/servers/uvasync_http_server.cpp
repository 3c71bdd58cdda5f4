// uvasync_http_server --port N: the HTTP benchmark server (bench/README.md),
// the same handler as examples/http_hello.cpp. Keep-alive; every complete
// request buffered is answered, in order, with one write (pipelining).
#include "uvasync_bench_common.hpp"

#include <string_view>

using namespace uvasync;

static constexpr std::string_view hello =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";
static constexpr std::string_view health =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"status\":\"ok\"}";

static task<> http(stream_reader reader, stream_writer writer) {
    std::string out;
    try {
        for (;;) {
            std::string head = co_await reader.readuntil("\r\n\r\n"); // no request bodies
            out += head.starts_with("GET /health ") ? health : hello;
            if (reader.buffered_size() == 0) { // answer what was pipelined in one write
                writer.write(std::string_view(out));
                out.clear();
                co_await writer.drain();
            }
        }
    } catch (const std::exception&) {
        // the client closed (incomplete_read_error), reset, or sent a huge head
    }
    writer.close();
}

int main(int argc, char** argv) { return bench::main(http, argc, argv); }
