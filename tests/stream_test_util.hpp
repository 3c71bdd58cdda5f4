// Helpers shared by the stream tests (test_streams, test_server, test_unix,
// test_stream_interop, test_tls).
#pragma once

#include <gtest/gtest.h>
#include <uvasync/uvasync.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace stream_test {

using namespace uvasync;
using namespace std::chrono_literals;

// Runs a test body on a fresh loop with a deadline, so that a hang fails
// the test instead of stalling the run.
template <class T> T run_test(task<T> body, std::chrono::seconds limit = std::chrono::seconds(20)) {
    return run(wait_for(std::move(body), limit));
}

// Yields to the loop until `pred` holds (at most `rounds` loop turns).
template <class Pred> task<bool> until(Pred pred, int rounds = 100000) {
    for (int i = 0; i < rounds; ++i) {
        if (pred()) co_return true;
        co_await sleep(std::chrono::milliseconds(0));
    }
    co_return pred();
}

// A deterministic pattern of n bytes, different for each `seed`.
inline std::string pattern(std::size_t n, unsigned seed = 0) {
    std::string s(n, '\0');
    std::uint32_t x = 2463534242u + seed * 7919u;
    for (std::size_t i = 0; i < n; ++i) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        s[i] = static_cast<char>(x);
    }
    return s;
}

// asyncio's echo server: read, write, drain, until EOF; then close.
inline task<> echo_handler(stream_reader r, stream_writer w) {
    for (;;) {
        std::string data = co_await r.read(64 * 1024);
        if (data.empty()) break;
        w.write(std::move(data));
        co_await w.drain();
    }
    w.close();
    co_await w.wait_closed();
}

// A private temporary directory, removed with its contents.
class temp_dir {
public:
    temp_dir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "uvasync-test-XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    std::string operator/(const std::string& name) const { return (path_ / name).string(); }

private:
    std::filesystem::path path_;
};

// Makes the next close of the socket send a RST instead of a FIN.
inline void set_linger_zero(stream_writer& w) {
    uv_os_fd_t fd = -1;
    ASSERT_EQ(uv_fileno(reinterpret_cast<uv_handle_t*>(w.native_handle()), &fd), 0);
    linger l{1, 0};
    ASSERT_EQ(::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l), 0);
}

} // namespace stream_test
