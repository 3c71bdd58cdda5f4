// uvasync_echo_server --port N: the echo benchmark server (bench/README.md).
// Every byte read is written back: read, write, drain, as asyncio's streams
// echo server does, with one reused buffer per connection (the span overload
// of read, which libuv fills directly) as a hand-written libuv server has.
#include "uvasync_bench_common.hpp"

#include <string>
#include <utility>

using namespace uvasync;

static task<> echo(stream_reader reader, stream_writer writer) {
    try {
        // An idle connection holds no buffer, and no more frame than this
        // one: its first bytes come as a string.
        std::string first = co_await reader.read(64 * 1024);
        if (!first.empty()) {
            writer.write(std::move(first));
            co_await writer.drain();
            co_await bench::echo_with_buffer(reader, writer); // from here on, one buffer
        }
    } catch (const std::system_error&) {
        // the client reset the connection
    }
    writer.close();
}

int main(int argc, char** argv) { return bench::main(echo, argc, argv); }
