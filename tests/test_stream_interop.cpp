// Streams against peers nobody here wrote: Python's own asyncio, as client
// of our server and as server for open_connection (Debian's /usr/bin/python3).
#include "stream_test_util.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <utility>

using namespace uvasync;
using namespace stream_test;

namespace {

constexpr const char* python = "/usr/bin/python3";

bool have_python() { return ::access(python, X_OK) == 0; }

void write_file(const std::string& path, const std::string& text) {
    std::ofstream f(path);
    f << text;
}

// Runs a command to completion on a worker thread: (exit status, stdout).
std::pair<int, std::string> run_command(const std::string& cmd) {
    std::string out;
    FILE* f = ::popen(cmd.c_str(), "r");
    if (!f) return {-1, out};
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    const int status = ::pclose(f);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// ---- a Python asyncio client against our echo servers -----------------------

const char* python_client = R"PY(
import asyncio, sys

async def one(port, i):
    r, w = await asyncio.open_connection('127.0.0.1', port)
    data = bytes((i * 7 + k) % 251 for k in range(300000))
    w.write(data)
    await w.drain()
    back = await r.readexactly(len(data))
    assert back == data, 'echo mismatch'
    w.writelines([b'line one\n', b'line two\n'])
    await w.drain()
    assert await r.readline() == b'line one\n'
    assert await r.readuntil(b'\n') == b'line two\n'
    w.write_eof()
    assert await r.read() == b'', 'data after EOF'
    w.close()
    await w.wait_closed()

async def main(port):
    await asyncio.gather(*(one(port, i) for i in range(10)))
    print('OK', flush=True)

asyncio.run(main(int(sys.argv[1])))
)PY";

task<> python_client_against_us(std::string script) {
    server srv = co_await start_server(echo_handler, "127.0.0.1", 0);
    const std::string cmd = std::string(python) + " " + script + " " + std::to_string(srv.port()) + " 2>&1";
    auto job = [cmd] { return run_command(cmd); };
    auto [status, out] = co_await to_thread(job); // the loop serves meanwhile
    EXPECT_EQ(status, 0) << out;
    EXPECT_EQ(out, "OK\n");
    srv.close();
    co_await srv.wait_closed();
}

TEST(StreamInterop, PythonAsyncioClientAgainstOurEchoServer) {
    if (!have_python()) GTEST_SKIP() << python << " is missing";
    temp_dir dir;
    write_file(dir / "client.py", python_client);
    run_test(python_client_against_us(dir / "client.py"), std::chrono::seconds(60));
}

// ---- open_connection against a Python asyncio server --------------------------

const char* python_server = R"PY(
import asyncio, sys

async def main():
    done = asyncio.Event()

    async def handle(r, w):
        while True:
            line = await r.readline()
            if not line:
                break
            w.write(line.upper())
            await w.drain()
        big = b'z' * 1000000
        w.write(big)
        await w.drain()
        w.close()
        await w.wait_closed()
        done.set()

    srv = await asyncio.start_server(handle, '127.0.0.1', 0)
    print(srv.sockets[0].getsockname()[1], flush=True)
    await asyncio.wait_for(done.wait(), 30)
    srv.close()
    await srv.wait_closed()
    print('BYE', flush=True)

asyncio.run(main())
)PY";

struct python_process {
    FILE* out = nullptr;
    int port = 0;
};

task<> us_against_python_server(std::string script) {
    const std::string cmd = std::string(python) + " " + script + " 2>&1";
    auto start = [cmd] {
        python_process p;
        p.out = ::popen(cmd.c_str(), "r");
        char line[64] = {};
        if (p.out && std::fgets(line, sizeof line, p.out)) p.port = std::atoi(line);
        return p;
    };
    python_process p = co_await to_thread(start);
    EXPECT_NE(p.out, nullptr);
    if (!p.out) co_return;
    EXPECT_GT(p.port, 0);
    if (p.port > 0) {
        auto [r, w] = co_await open_connection("127.0.0.1", static_cast<std::uint16_t>(p.port));
        w.write("hello\n");
        w.writelines(std::vector<std::string>{"from\n", "uvasync\n"});
        co_await w.drain();
        EXPECT_EQ(co_await r.readline(), "HELLO\n");
        EXPECT_EQ(co_await r.readline(), "FROM\n");
        EXPECT_EQ(co_await r.readline(), "UVASYNC\n");
        w.write_eof(); // the server answers EOF with 1,000,000 bytes and closes
        std::string big = co_await r.read();
        EXPECT_EQ(big, std::string(1000000, 'z'));
        EXPECT_TRUE(r.at_eof());
        w.close();
        co_await w.wait_closed();
    }
    FILE* f = p.out;
    auto finish = [f] {
        std::string rest;
        char buf[256];
        std::size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) rest.append(buf, n);
        const int status = ::pclose(f);
        return std::make_pair(WIFEXITED(status) ? WEXITSTATUS(status) : -1, rest);
    };
    auto [status, rest] = co_await to_thread(finish);
    EXPECT_EQ(status, 0) << rest;
    EXPECT_EQ(rest, "BYE\n");
}

TEST(StreamInterop, OpenConnectionToPythonAsyncioServer) {
    if (!have_python()) GTEST_SKIP() << python << " is missing";
    temp_dir dir;
    write_file(dir / "server.py", python_server);
    run_test(us_against_python_server(dir / "server.py"), std::chrono::seconds(60));
}

} // namespace
