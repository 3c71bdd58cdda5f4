// Unix socket streams (docs/api.md): open_unix_connection, start_unix_server,
// stale socket files, socket names.
#include "stream_test_util.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

using namespace uvasync;
using namespace stream_test;

namespace {

task<> line_echo(stream_reader r, stream_writer w) {
    for (;;) {
        std::string line = co_await r.readline();
        if (line.empty()) break;
        w.write(std::move(line));
        co_await w.drain();
    }
    w.close();
}

task<> round_trip(std::string path) {
    server_options opts;
    opts.limit = 4 * 1024 * 1024; // lines of 2 MiB below
    server srv = co_await start_unix_server(line_echo, path, opts);
    EXPECT_TRUE(srv.is_serving());
    EXPECT_EQ(srv.unix_path(), path);
    EXPECT_EQ(srv.port(), 0);
    EXPECT_TRUE(std::filesystem::is_socket(path));
    auto [r, w] = co_await open_unix_connection(path);
    EXPECT_EQ(w.unix_peername(), path);
    EXPECT_EQ(w.unix_sockname(), "");
    EXPECT_EQ(w.peername().family(), AF_UNSPEC);
    w.write("one\ntwo\nthree|four\n");
    EXPECT_EQ(co_await r.readline(), "one\n");
    EXPECT_EQ(co_await r.readuntil("\n"), "two\n");
    EXPECT_EQ(co_await r.readuntil("|"), "three|");
    EXPECT_EQ(co_await r.readexactly(2), "fo");
    EXPECT_EQ(co_await r.read(100), "ur\n");
    const std::string big = pattern(2 * 1024 * 1024, 3) + "\n";
    w.write(std::string_view(big));
    co_await w.drain();
    // read() is not bound by the limit.
    std::string back;
    while (back.size() < big.size()) {
        std::string piece = co_await r.read(1 << 20);
        if (piece.empty()) break;
        back += piece;
    }
    EXPECT_TRUE(back == big);
    w.write_eof();
    EXPECT_EQ(co_await r.read(), "");
    w.close();
    co_await w.wait_closed();
    srv.close();
    co_await srv.wait_closed();
    EXPECT_FALSE(std::filesystem::exists(path)); // the server removed its socket file
}

TEST(StreamUnix, RoundTripEveryReaderMethod) {
    temp_dir dir;
    run_test(round_trip(dir / "echo.sock"));
}

// A socket file left behind by a process that died.
void make_stale_socket(const std::string& path) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ::close(fd);
    ASSERT_TRUE(std::filesystem::is_socket(path));
}

task<> stale_replaced(std::string path) {
    // Nobody listens on the stale file: connecting is refused.
    try {
        auto rw = co_await open_unix_connection(path);
        ADD_FAILURE() << "connected to a stale socket";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), std::errc::connection_refused) << e.what();
    }
    server srv = co_await start_unix_server(line_echo, path);
    auto [r, w] = co_await open_unix_connection(path);
    w.write("alive\n");
    EXPECT_EQ(co_await r.readline(), "alive\n");
}

TEST(StreamUnix, StaleSocketFileIsReplaced) {
    temp_dir dir;
    const std::string path = dir / "stale.sock";
    make_stale_socket(path);
    run_test(stale_replaced(path));
}

task<> regular_file_in_the_way(std::string path) {
    try {
        server srv = co_await start_unix_server(line_echo, path);
        ADD_FAILURE() << "bound over a regular file";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), std::errc::address_in_use) << e.what();
        EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
}

TEST(StreamUnix, RegularFileAtPathIsAddressInUseAndKept) {
    temp_dir dir;
    const std::string path = dir / "data.txt";
    {
        std::ofstream f(path);
        f << "precious";
    }
    run_test(regular_file_in_the_way(path));
    ASSERT_TRUE(std::filesystem::is_regular_file(path));
    std::ifstream f(path);
    std::string content;
    f >> content;
    EXPECT_EQ(content, "precious");
}

task<> missing_and_bad_paths(std::string path) {
    try {
        auto rw = co_await open_unix_connection(path);
        ADD_FAILURE() << "connected to nothing";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), std::errc::no_such_file_or_directory) << e.what();
    }
    EXPECT_THROW((void)co_await open_unix_connection(std::string(200, 'x')), std::invalid_argument);
    EXPECT_THROW((void)co_await start_unix_server(line_echo, std::string(200, 'x')), std::invalid_argument);
    EXPECT_THROW((void)co_await start_unix_server(line_echo, ""), std::invalid_argument);
}

TEST(StreamUnix, MissingAndBadPaths) {
    temp_dir dir;
    run_test(missing_and_bad_paths(dir / "nobody.sock"));
}

task<> server_side_names(std::string path) {
    std::string server_saw_sock, server_saw_peer;
    client_connected_handler h = [&](stream_reader r, stream_writer w) -> task<> {
        server_saw_sock = w.unix_sockname();
        server_saw_peer = w.unix_peername();
        w.write(co_await r.readline());
    };
    server srv = co_await start_unix_server(std::move(h), path);
    auto [r, w] = co_await open_unix_connection(path);
    w.write("x\n");
    EXPECT_EQ(co_await r.readline(), "x\n");
    EXPECT_EQ(server_saw_sock, path);
    EXPECT_EQ(server_saw_peer, "");
    w.close();
    srv.close();
    co_await srv.wait_closed();
}

TEST(StreamUnix, ServerSideNames) {
    temp_dir dir;
    run_test(server_side_names(dir / "names.sock"));
}

} // namespace
