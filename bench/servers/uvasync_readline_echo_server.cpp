// uvasync_readline_echo_server --port N: the readline echo benchmark server
// (bench/README.md). Complete lines are written back, the readline() way.
#include "uvasync_bench_common.hpp"

using namespace uvasync;

static task<> echo_lines(stream_reader reader, stream_writer writer) {
    try {
        for (;;) {
            std::string line = co_await reader.readline();
            if (line.empty()) break;    // EOF
            if (line.back() != '\n') break; // EOF in the middle of a line
            writer.write(std::move(line));
            co_await writer.drain();
        }
    } catch (const std::exception&) {
        // reset by the client, or a line longer than the limit
    }
    writer.close();
}

int main(int argc, char** argv) { return bench::main(echo_lines, argc, argv); }
