// uvasync_idiomatic_echo_server --port N: the echo benchmark server
// (bench/README.md) as a person porting asyncio's streams echo server writes
// it: every read returns a fresh string, which is handed to write() and
// drained. Compare uvasync_echo_server (one reused buffer, read(span)).
#include "uvasync_bench_common.hpp"

#include <string>
#include <utility>

namespace ua = uvasync;

static ua::task<> echo(ua::stream_reader reader, ua::stream_writer writer) {
    try {
        for (;;) {
            std::string data = co_await reader.read(65536);
            if (data.empty()) break; // EOF
            writer.write(std::move(data));
            co_await writer.drain();
        }
    } catch (const std::system_error&) {
        // the client reset the connection
    }
    writer.close();
}

int main(int argc, char** argv) { return bench::main(echo, argc, argv); }
