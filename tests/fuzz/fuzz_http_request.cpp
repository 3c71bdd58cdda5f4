// Fuzz target: the request path of uvasync::http's server, from the socket
// to the handler (the connection's buffer, Beast's parser, the views into
// the buffer, pipelining, the limits, the error answers).
//
// The input is one config byte, then the bytes a client sends on one
// connection. Each input is sent twice to an http::serve server on
// loopback: once in one piece, once split into pieces (the config byte
// picks their sizes: 1 to 8, 1 to 64, 1 to 1024 bytes, or byte by byte
// for the first 64), the harness waiting after each piece until the server
// has read it, so that the server sees exactly those read boundaries. Then
// the client shuts its side down and reads until the server closes.
//
// What must hold, or the harness prints the input and aborts:
//  * the server closes the connection within 10 s (no hang);
//  * what it sent is a sequence of well-formed HTTP/1.1 responses, each
//    200 from the handler or one of the server's own 4xx answers (400,
//    413, 417, 431), an error answer being the last one;
//  * the answers to the split input are byte for byte the answers to the
//    input in one piece (the handler echoes the method, target, path,
//    query, headers and a checksum of the body, so a view that did not
//    follow a buffer move shows), except for "100 Continue", which the
//    server sends only when the body has not arrived with the head, and
//    for the last answer when it is an error answer: Beast may reject the
//    same bad head as 400 in one run and 431 in the other, or not before
//    EOF (see check_agree).
// Crashes, leaks and undefined behaviour are ASan's and UBSan's.
// UVASYNC_FUZZ_SHOW=1 prints each input and its answers.
//
// Built as a libFuzzer binary (UVASYNC_BUILD_FUZZ) and, in every other
// configuration, as a replay of tests/fuzz/corpus/http_request (ctest).
#include <uvasync/http/server.hpp>
#include <uvasync/uvasync.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace {

namespace ua = uvasync;
namespace http = uvasync::http;
using namespace std::chrono_literals;

std::string_view input_of(const std::uint8_t* data, std::size_t size) {
    return std::string_view(reinterpret_cast<const char*>(data), size);
}

std::string printable(std::string_view s) {
    std::string out;
    for (unsigned char c : s) {
        if (c == '\r') out += "\\r";
        else if (c == '\n') out += "\\n\n";
        else if (c >= 32 && c < 127 && c != '\\') out += static_cast<char>(c);
        else {
            char b[8];
            std::snprintf(b, sizeof b, "\\x%02x", c);
            out += b;
        }
    }
    return out;
}

std::string_view g_input; // for the failure report
unsigned g_config = 0;

[[noreturn]] void fail(const std::string& why, std::string_view one = {}, std::string_view split = {}) {
    std::fprintf(stderr, "fuzz_http_request: MISMATCH: %s\n-- config %u, input --\n%s\n", why.c_str(), g_config,
                 printable(g_input).c_str());
    if (!one.empty() || !split.empty())
        std::fprintf(stderr, "-- answers, one piece --\n%s\n-- answers, split --\n%s\n", printable(one).c_str(),
                     printable(split).c_str());
    std::fflush(stderr);
    std::abort();
}

// FNV-1a, 64 bits.
std::uint64_t fnv1a(std::string_view s) {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : s) {
        h ^= c;
        h *= 0x100000001b3ull;
    }
    return h;
}

// Everything the handler was given, back in the body.
ua::task<http::response> describe(http::request& req) {
    std::string out;
    out += req.method();
    out += ' ';
    out += req.target();
    out += "\npath ";
    out += req.path();
    out += "\nquery ";
    out += req.query_string();
    if (auto q = req.query("q")) {
        out += "\nq ";
        out += *q;
    }
    out += "\nversion " + std::to_string(req.version()) + (req.keep_alive() ? " keep-alive" : " close");
    for (const auto& [name, value] : req.headers()) {
        out += '\n';
        out += name;
        out += ": ";
        out += value;
    }
    if (auto h = req.header("host")) {
        out += "\nhost ";
        out += *h;
    }
    char sum[64];
    std::snprintf(sum, sizeof sum, "\nbody %zu %016llx", req.body().size(),
                  static_cast<unsigned long long>(fnv1a(req.body())));
    out += sum;
    http::response r = http::response::text(std::move(out));
    if (req.method() == "HEAD") r.set_header("X-Head", "1");
    co_return r;
}

// xorshift64*.
struct prng {
    std::uint64_t s;
    std::uint64_t next() noexcept {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        return s * 0x2545F4914F6CDD1Dull;
    }
};

std::vector<std::string_view> pieces_of(std::string_view in, unsigned config) {
    std::vector<std::string_view> out;
    prng g{(fnv1a(in) ^ config) | 1};
    const unsigned mode = config & 3;
    constexpr std::size_t max_pieces = 96; // the rest goes in the last one
    std::size_t at = 0;
    while (at < in.size()) {
        std::size_t n;
        if (out.size() + 1 == max_pieces) n = in.size() - at;
        else if (mode == 0) n = 1 + g.next() % 8;
        else if (mode == 1) n = 1 + g.next() % 64;
        else if (mode == 2) n = 1 + g.next() % 1024;
        else n = at < 64 ? 1 : in.size() - at;
        n = std::min(n, in.size() - at);
        out.push_back(in.substr(at, n));
        at += n;
    }
    return out;
}

// ---- the client: a plain blocking socket ----------------------------------------

int connect_to(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) fail("socket");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        // libFuzzer's timeout watchdog is a SIGALRM every second; a connect
        // it interrupts goes on without us: wait for it and take its result.
        if (errno != EINTR) fail(std::string("connect: ") + std::strerror(errno));
        pollfd p{fd, POLLOUT, 0};
        while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
        }
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) fail(std::string("connect: ") + std::strerror(err));
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

std::uint16_t port_of(const sockaddr_in& a) { return ntohs(a.sin_port); }

// The server's end of the client's connection: the descriptor of this
// process whose peer is the client's address (-1 until accepted).
int server_end(int client, std::uint16_t server_port) {
    sockaddr_in mine{};
    socklen_t len = sizeof mine;
    ::getsockname(client, reinterpret_cast<sockaddr*>(&mine), &len);
    for (int fd = 3; fd < 256; ++fd) {
        if (fd == client) continue;
        sockaddr_in peer{}, local{};
        socklen_t pl = sizeof peer, ll = sizeof local;
        if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &pl) != 0 || peer.sin_family != AF_INET) continue;
        if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &ll) != 0) continue;
        if (port_of(peer) == port_of(mine) && port_of(local) == server_port) return fd;
    }
    return -1;
}

// What the server sent so far, without blocking; false at EOF.
bool collect(int client, std::string& got) {
    char buf[16384];
    for (;;) {
        const ssize_t n = ::recv(client, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            got.append(buf, static_cast<std::size_t>(n));
            continue;
        }
        if (n == 0) return false;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
        if (errno == EINTR) continue;
        return false; // reset: what came before it is what we have
    }
}

ua::task<> turns(int n) {
    for (int i = 0; i < n; ++i) co_await ua::sleep(0s);
}

// Sends `pieces` on a new connection, then EOF; returns what the server
// answered before closing.
ua::task<std::string> exchange(std::uint16_t port, const std::vector<std::string_view>& pieces) {
    const int client = connect_to(port);
    std::string got;
    int server_fd = -1;
    for (int i = 0; i < 1000 && server_fd < 0; ++i) {
        co_await ua::sleep(0s);
        server_fd = server_end(client, port);
    }
    if (server_fd < 0) fail("the server did not accept");
    bool open = true;
    for (std::string_view piece : pieces) {
        for (std::size_t off = 0; off < piece.size();) {
            const ssize_t n = ::send(client, piece.data() + off, piece.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0) {
                off += static_cast<std::size_t>(n);
            } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                co_await ua::sleep(0s);
                open = open && collect(client, got);
            } else {
                open = false; // the server closed: the rest is not wanted
                break;
            }
        }
        if (!open) break;
        // Until the server has read the piece (or stopped reading: it
        // answered with an error, or waits for its answers to drain).
        for (int i = 0; i < 200; ++i) {
            int queued = 0;
            if (::ioctl(server_fd, FIONREAD, &queued) != 0 || queued == 0) break;
            co_await ua::sleep(0s);
            open = open && collect(client, got);
        }
        co_await turns(2);
        open = open && collect(client, got);
    }
    ::shutdown(client, SHUT_WR);
    const auto until = std::chrono::steady_clock::now() + 10s;
    for (int i = 0; open && collect(client, got); ++i) {
        if (std::chrono::steady_clock::now() > until) fail("the server did not close the connection within 10 s");
        if (i < 1000) co_await ua::sleep(0s); // a turn is enough, mostly
        else co_await ua::sleep(1ms);
    }
    ::close(client);
    co_return got;
}

// ---- the answers ----------------------------------------------------------------

constexpr std::string_view continue_line = "HTTP/1.1 100 Continue\r\n\r\n";

std::string without_continue(std::string s) {
    for (std::size_t at; (at = s.find(continue_line)) != std::string::npos;) s.erase(at, continue_line.size());
    return s;
}

// `got` must be well-formed responses, 200s then at most one error last;
// returns their statuses (100 Continue left out).
std::vector<int> check_answers(std::string_view got, std::string_view other) {
    std::vector<int> statuses;
    std::size_t at = 0;
    bool error_seen = false;
    while (at < got.size()) {
        if (error_seen) fail("an answer after an error answer", got, other);
        const std::size_t head_end = got.find("\r\n\r\n", at);
        if (head_end == std::string_view::npos) fail("a response head without its end", got, other);
        const std::string_view head = got.substr(at, head_end + 4 - at);
        if (head.substr(0, 9) != "HTTP/1.1 " || head.size() < 13) fail("a malformed status line", got, other);
        const int status = std::atoi(std::string(head.substr(9, 3)).c_str());
        if (status == 100) {
            at = head_end + 4;
            continue;
        }
        if (status != 200 && status != 400 && status != 413 && status != 417 && status != 431)
            fail("status " + std::to_string(status), got, other);
        statuses.push_back(status);
        error_seen = status != 200;
        std::size_t length = 0;
        const std::size_t cl = head.find("\r\nContent-Length: ");
        if (cl == std::string_view::npos) fail("no Content-Length", got, other);
        length = std::strtoul(std::string(head.substr(cl + 18, 20)).c_str(), nullptr, 10);
        if (head.find("\r\nX-Head: 1\r\n") != std::string_view::npos) length = 0;
        if (error_seen && head.find("\r\nConnection: close\r\n") == std::string_view::npos)
            fail("an error answer without Connection: close", got, other);
        at = head_end + 4 + length;
        if (at > got.size()) fail("a body shorter than its Content-Length", got, other);
    }
    return statuses;
}

// The answers up to the first error answer (every answer, without one).
std::string_view before_error(std::string_view all, const std::vector<int>& statuses) {
    if (statuses.empty() || statuses.back() == 200) return all;
    const std::size_t last = all.rfind("HTTP/1.1 " + std::to_string(statuses.back()) + " ");
    return all.substr(0, last);
}

// The two runs' answers agree: the same bytes, or the same answers up to a
// last error answer that differs or that only one run got. (Beast finds an
// error in a request line as soon as the line is complete when it arrives
// in one piece, but only once the whole head has arrived when it comes in
// pieces: the same bad request is then a 400 in one run and a 431 (its
// head outgrew the limit first) or no answer (closed at EOF before its head
// ended) in the other; every one of them a rejection.)
void check_agree(const std::string& one, const std::string& split) {
    const std::string a = without_continue(one), b = without_continue(split);
    if (a == b) return;
    const std::string_view a_ok = before_error(a, check_answers(a, b));
    const std::string_view b_ok = before_error(b, check_answers(b, a));
    if (a_ok == b_ok && (a_ok.size() < a.size() || b_ok.size() < b.size())) return;
    fail("the answers depend on how the input was split", one, split);
}

// The port of the previous input's server. Every input gets a new server,
// on the same port: where the server closes a connection first (an error
// answer, Connection: close), its end waits in TIME_WAIT for 60 s holding
// its port, so a new port per input ran the machine out of ports within
// minutes (connect: EADDRNOTAVAIL). libuv binds with SO_REUSEADDR, which
// lets a listener have a port that connections in TIME_WAIT hold.
std::uint16_t g_port = 0;

ua::task<http::server> serve_on_the_same_port(http::server_options o) {
    if (g_port != 0) {
        try {
            co_return co_await http::serve(http::handler(describe), "127.0.0.1", g_port, o);
        } catch (const std::system_error&) {
            // taken meanwhile by someone else: a new one
        }
    }
    http::server srv = co_await http::serve(http::handler(describe), "127.0.0.1", 0, o);
    g_port = srv.port();
    co_return srv;
}

ua::task<> session(std::string_view in, unsigned config) {
    http::server_options o;
    o.max_header_size = 1024;
    o.max_body_size = 4096;
    o.send_date = false;
    http::server srv = co_await serve_on_the_same_port(o);
    const std::uint16_t port = srv.port();

    const std::vector<std::string_view> whole{in};
    const std::string one = co_await exchange(port, whole);
    const std::vector<std::string_view> pieces = pieces_of(in, config);
    const std::string split = co_await exchange(port, pieces);

    if (std::getenv("UVASYNC_FUZZ_SHOW"))
        std::fprintf(stderr, "-- %zu pieces --\n%s\n-- answers --\n%s\n", pieces.size(), printable(in).c_str(),
                     printable(split).c_str());
    check_answers(one, split);
    check_answers(split, one);
    check_agree(one, split);

    srv.close();
    co_await srv.wait_closed();
    const auto until = std::chrono::steady_clock::now() + 5s;
    for (int i = 0; srv.connections() != 0; ++i) {
        if (std::chrono::steady_clock::now() > until) fail("connections still open after close");
        if (i < 1000) co_await ua::sleep(0s);
        else co_await ua::sleep(1ms);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    g_config = data[0];
    g_input = input_of(data + 1, size - 1);
    ua::event_loop loop;
    loop.run_until_complete(session(g_input, g_config));
    loop.close();
    return 0;
}
