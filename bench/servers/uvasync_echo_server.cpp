// uvasync_echo_server --port N: the echo benchmark server (bench/README.md).
// Every byte read is written back: read, write, drain, as asyncio's streams
// echo server does.
#include "uvasync_bench_common.hpp"

using namespace uvasync;

static task<> echo(stream_reader reader, stream_writer writer) {
    try {
        for (;;) {
            std::string data = co_await reader.read(64 * 1024);
            if (data.empty()) break;
            writer.write(std::move(data));
            co_await writer.drain();
        }
    } catch (const std::system_error&) {
        // the client reset the connection
    }
    writer.close();
}

int main(int argc, char** argv) { return bench::main(echo, argc, argv); }
