// Helpers of the uvasync::http tests: a deadline for each test, peer
// processes (curl, python3, wrk) started by the test and stopped with it,
// and raw HTTP over a stream for the byte-level cases.
#pragma once

#include <gtest/gtest.h>
#include <uvasync/http.hpp>
#include <uvasync/uvasync.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// ASSERT_* for coroutines (gtest's return a value): fail, then co_return.
#define CO_ASSERT(cond)                                                                                      \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            ADD_FAILURE() << "assertion failed: " #cond;                                                     \
            co_return;                                                                                       \
        }                                                                                                    \
    } while (0)
#define CO_ASSERT_EQ(a, b)                                                                                   \
    do {                                                                                                     \
        EXPECT_EQ(a, b);                                                                                     \
        if (!((a) == (b))) co_return;                                                                        \
    } while (0)

namespace http_test {

namespace ua = uvasync;
namespace http = uvasync::http;
using namespace std::chrono_literals;

inline constexpr const char* python = "/usr/bin/python3";
inline const std::string peers_dir = UVASYNC_HTTP_PEERS_DIR;

inline bool have(const char* program) { return ::access(program, X_OK) == 0; }

// Runs a test body on a fresh loop with a deadline.
template <class T> T run_test(ua::task<T> body, std::chrono::seconds limit = std::chrono::seconds(60)) {
    return ua::run(ua::wait_for(std::move(body), limit));
}

// Yields to the loop until `pred` holds (at most `rounds` turns).
template <class Pred> ua::task<bool> until(Pred pred, int rounds = 1'000'000) {
    for (int i = 0; i < rounds; ++i) {
        if (pred()) co_return true;
        co_await ua::sleep(std::chrono::milliseconds(0));
    }
    co_return pred();
}

// A child process with its stdout on a pipe (stderr joins it). The
// destructor stops it (SIGTERM, then SIGKILL) and reaps it.
class process {
public:
    explicit process(std::vector<std::string> argv) {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
        pid_ = ::fork();
        if (pid_ < 0) throw std::runtime_error("fork failed");
        if (pid_ == 0) {
            ::setpgid(0, 0);
            ::dup2(fds[1], 1);
            ::dup2(fds[1], 2);
            std::vector<char*> args;
            for (auto& a : argv) args.push_back(a.data());
            args.push_back(nullptr);
            ::execv(args[0], args.data());
            std::_Exit(127);
        }
        ::close(fds[1]);
        out_ = fds[0];
    }
    process(const process&) = delete;
    process& operator=(const process&) = delete;
    ~process() {
        if (pid_ > 0 && !reaped_) {
            ::kill(-pid_, SIGTERM);
            ::kill(pid_, SIGTERM);
            for (int i = 0; i < 300; ++i) { // up to 3 s, then SIGKILL
                int st = 0;
                if (::waitpid(pid_, &st, WNOHANG) == pid_) {
                    reaped_ = true;
                    break;
                }
                ::usleep(10'000);
            }
            if (!reaped_) {
                ::kill(-pid_, SIGKILL);
                ::kill(pid_, SIGKILL);
                ::waitpid(pid_, nullptr, 0);
            }
        }
        if (out_ >= 0) ::close(out_);
    }

    int pid() const noexcept { return pid_; }

    // One line of output (blocking: call through to_thread); empty at EOF.
    std::string read_line() {
        std::string line;
        char ch;
        while (::read(out_, &ch, 1) == 1) {
            line.push_back(ch);
            if (ch == '\n') break;
        }
        return line;
    }
    // Everything until EOF (blocking).
    std::string read_all() {
        std::string all;
        char buf[4096];
        for (;;) {
            const ssize_t n = ::read(out_, buf, sizeof buf);
            if (n > 0) all.append(buf, static_cast<std::size_t>(n));
            else if (n == 0 || errno != EINTR) break;
        }
        return all;
    }
    // Exit status after EOF (blocking); -1 when killed by a signal.
    int wait() {
        int st = 0;
        ::waitpid(pid_, &st, 0);
        reaped_ = true;
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    }

private:
    int pid_ = -1;
    int out_ = -1;
    bool reaped_ = false;
};

struct outcome {
    int status = -1;
    std::string output;
};

// Runs a program to its end on a worker thread (the loop serves meanwhile).
// (Variadic, not a braced list: GCC 12 rejects braced lists in co_await.)
inline ua::task<outcome> run_argv(std::vector<std::string> argv) {
    auto job = [argv]() mutable {
        process p(std::move(argv));
        outcome o;
        o.output = p.read_all();
        o.status = p.wait();
        return o;
    };
    outcome o = co_await ua::to_thread(job);
    co_return o;
}
template <class... A> ua::task<outcome> run_program(A&&... args) {
    std::vector<std::string> argv;
    (argv.emplace_back(std::forward<A>(args)), ...);
    return run_argv(std::move(argv));
}

// A peer server: starts it and reads the port it prints on its first line.
struct peer_server {
    std::unique_ptr<process> proc;
    std::uint16_t port = 0;
};

inline ua::task<peer_server> start_argv(std::vector<std::string> argv) {
    peer_server s;
    s.proc = std::make_unique<process>(std::move(argv));
    process* p = s.proc.get();
    auto first = [p] { return p->read_line(); };
    const std::string line = co_await ua::to_thread(first);
    s.port = static_cast<std::uint16_t>(std::atoi(line.c_str()));
    if (s.port == 0) throw std::runtime_error("peer did not start: " + line);
    co_return s;
}
template <class... A> ua::task<peer_server> start_peer(A&&... args) {
    std::vector<std::string> argv;
    (argv.emplace_back(std::forward<A>(args)), ...);
    return start_argv(std::move(argv));
}

// A port nothing listens on (bound, then closed).
inline std::uint16_t unused_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

inline std::string url(std::uint16_t port, std::string_view path) {
    return "http://127.0.0.1:" + std::to_string(port) + std::string(path);
}

// ---- raw HTTP over a stream ----------------------------------------------------

// One response read off a stream: status, headers (raw), body.
struct raw_response {
    int status = 0;
    std::string head;
    std::string body;
    bool has(std::string_view header_line) const { return head.find(header_line) != std::string::npos; }
};

// Reads one response (Content-Length bodies only; `no_body` for HEAD).
inline ua::task<std::optional<raw_response>> read_response(ua::stream_reader& r, bool no_body = false) {
    raw_response out;
    try {
        out.head = co_await r.readuntil("\r\n\r\n");
    } catch (const ua::incomplete_read_error&) {
        co_return std::nullopt;
    }
    out.status = std::atoi(out.head.c_str() + 9);
    std::size_t length = 0;
    for (const char* name : {"Content-Length: ", "content-length: "})
        if (auto at = out.head.find(name); at != std::string::npos)
            length = static_cast<std::size_t>(std::atol(out.head.c_str() + at + std::strlen(name)));
    if (!no_body && length > 0) out.body = co_await r.readexactly(length);
    co_return out;
}

// Reads until EOF (or a reset); true when the peer closed.
inline ua::task<std::string> read_to_end(ua::stream_reader& r) {
    std::string all;
    try {
        all = co_await r.read();
    } catch (const std::system_error&) {
    }
    co_return all;
}

} // namespace http_test
