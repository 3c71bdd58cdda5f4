// TLS against peers nobody here wrote (openssl s_server / s_client,
// Python's asyncio with ssl=) and against itself, with certificates made at
// test time by `openssl req` / `openssl x509`: a throwaway CA, a server
// certificate for localhost, an expired one, one for another host name, a
// self-signed one.
#include "coro_test_util.hpp"
#include "stream_test_util.hpp"

#include <uvasync/tls.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <span>
#include <string>
#include <vector>

using namespace uvasync;
using namespace stream_test;

namespace {

constexpr const char* python = "/usr/bin/python3";
constexpr const char* openssl = "/usr/bin/openssl";

bool have_tools() { return ::access(python, X_OK) == 0 && ::access(openssl, X_OK) == 0; }

void write_file(const std::string& path, const std::string& text) {
    std::ofstream f(path);
    f << text;
}

// ---- certificates -------------------------------------------------------------

struct test_certs {
    temp_dir dir;
    std::string ca, server_cert, server_key, expired_cert, wrong_cert, self_cert, self_key, client_cert, client_key;
    bool ok = false;
};

void sh(const std::string& cmd, bool& ok) {
    if (!ok) return;
    if (std::system((cmd + " >/dev/null 2>&1").c_str()) != 0) {
        ADD_FAILURE() << "failed: " << cmd;
        ok = false;
    }
}

// Made once per test process.
const test_certs& certs() {
    static std::unique_ptr<test_certs> c = [] {
        auto t = std::make_unique<test_certs>();
        const std::string d = t->dir / "";
        const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes ";
        bool ok = true;
        sh(std::string(openssl) + " req -x509" + ec + "-keyout " + d + "ca.key -out " + d +
               "ca.pem -days 30 -subj '/CN=uvasync test CA' -addext basicConstraints=critical,CA:TRUE"
               " -addext keyUsage=critical,keyCertSign,cRLSign",
           ok);
        write_file(d + "localhost.ext", "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n");
        write_file(d + "wrong.ext", "subjectAltName=DNS:wrong.example\nbasicConstraints=CA:FALSE\n");
        sh(std::string(openssl) + " req" + ec + "-keyout " + d + "server.key -out " + d +
               "server.csr -subj '/O=uvasync tests/CN=localhost'",
           ok);
        auto sign = [&](const std::string& ext, const std::string& out, const std::string& days) {
            sh(std::string(openssl) + " x509 -req -in " + d + "server.csr -CA " + d + "ca.pem -CAkey " + d +
                   "ca.key -CAcreateserial -days " + days + " -extfile " + d + ext + " -out " + d + out,
               ok);
        };
        sign("localhost.ext", "server.pem", "30");
        sign("localhost.ext", "expired.pem", "-1"); // not after < not before: expired
        sign("wrong.ext", "wrong.pem", "30");
        sh(std::string(openssl) + " req -x509" + ec + "-keyout " + d + "self.key -out " + d +
               "self.pem -days 30 -subj /CN=localhost -addext subjectAltName=DNS:localhost",
           ok);
        sh(std::string(openssl) + " req" + ec + "-keyout " + d + "client.key -out " + d +
               "client.csr -subj /CN=test-client",
           ok);
        sh(std::string(openssl) + " x509 -req -in " + d + "client.csr -CA " + d + "ca.pem -CAkey " + d +
               "ca.key -CAcreateserial -days 30 -out " + d + "client.pem",
           ok);
        t->ca = d + "ca.pem";
        t->server_cert = d + "server.pem";
        t->server_key = d + "server.key";
        t->expired_cert = d + "expired.pem";
        t->wrong_cert = d + "wrong.pem";
        t->self_cert = d + "self.pem";
        t->self_key = d + "self.key";
        t->client_cert = d + "client.pem";
        t->client_key = d + "client.key";
        t->ok = ok;
        return t;
    }();
    return *c;
}

#define REQUIRE_TOOLS()                                                                                                \
    do {                                                                                                               \
        if (!have_tools()) GTEST_SKIP() << "needs " << python << " and " << openssl;                                  \
        ASSERT_TRUE(certs().ok);                                                                                       \
    } while (0)

tls_context trusting_client() {
    tls_context ctx = tls_context::client();
    ctx.load_verify_locations(certs().ca);
    return ctx;
}

connect_options tls_options(tls_context ctx, std::string server_hostname = "localhost") {
    connect_options o;
    o.tls = std::move(ctx);
    o.server_hostname = std::move(server_hostname);
    return o;
}

// A port nobody listens on right now (for peers that cannot report theirs).
std::uint16_t free_port() {
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

process_options piped() {
    process_options o;
    o.stdin_ = stdio::pipe;
    o.stdout_ = stdio::pipe;
    o.stderr_ = stdio::devnull;
    return o;
}

// Connects until the peer (just started) listens: readiness by connecting.
task<std::pair<stream_reader, stream_writer>> connect_when_up(std::uint16_t port, connect_options o) {
    for (int i = 0;; ++i) {
        try {
            co_return co_await open_connection("127.0.0.1", port, o);
        } catch (const tls_error&) {
            throw;
        } catch (const std::system_error& e) {
            if (e.code() != std::errc::connection_refused || i > 500) throw;
        }
        co_await sleep(std::chrono::milliseconds(10)); // (a back-off between attempts)
    }
}

// Reads n bytes concurrently with the caller's writing.
task<std::string> read_n(stream_reader& r, std::size_t n) { co_return co_await r.readexactly(n); }

// ---- the Python peer ------------------------------------------------------------

const char* python_peer = R"PY(
import asyncio, ssl, sys

mode = sys.argv[1]

async def echo(r, w):
    while True:
        data = await r.read(65536)
        if not data:
            break
        w.write(data)
        await w.drain()
    w.close()

async def server(cert, key):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    done = asyncio.Event()
    def sni(sslobj, name, c):
        print('SNI', name, flush=True)
    ctx.sni_callback = sni
    async def handle(r, w):
        try:
            await echo(r, w)
        finally:
            done.set()
    srv = await asyncio.start_server(handle, '127.0.0.1', 0, ssl=ctx)
    print(srv.sockets[0].getsockname()[1], flush=True)
    await asyncio.wait_for(done.wait(), 60)
    srv.close()
    print('BYE', flush=True)

async def starttls(cert, key):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    done = asyncio.Event()
    async def handle(r, w):
        assert await r.readline() == b'STARTTLS\n'
        w.write(b'GO AHEAD\n')
        await w.drain()
        await w.start_tls(ctx)
        line = await r.readline()
        w.write(line.upper())
        await w.drain()
        w.close()
        done.set()
    srv = await asyncio.start_server(handle, '127.0.0.1', 0)
    print(srv.sockets[0].getsockname()[1], flush=True)
    await asyncio.wait_for(done.wait(), 60)
    srv.close()
    print('BYE', flush=True)

async def client(port, cafile, sizes):
    ctx = ssl.create_default_context(cafile=cafile)
    for n in sizes:
        r, w = await asyncio.open_connection('127.0.0.1', port, ssl=ctx, server_hostname='localhost')
        data = bytes((k * 131 + n) % 251 for k in range(n)) if n < 100000 else (bytes(range(251)) * (n // 251 + 1))[:n]
        async def send():
            w.write(data)
            await w.drain()
        s = asyncio.create_task(send())
        back = await r.readexactly(n)
        await s
        assert back == data, 'echo mismatch at %d bytes' % n
        w.close()
        await w.wait_closed()
    print('OK', flush=True)

if mode == 'server':
    asyncio.run(server(sys.argv[2], sys.argv[3]))
elif mode == 'starttls':
    asyncio.run(starttls(sys.argv[2], sys.argv[3]))
else:
    asyncio.run(client(int(sys.argv[2]), sys.argv[3], [int(x) for x in sys.argv[4:]]))
)PY";

struct python_script {
    temp_dir dir;
    std::string path = dir / "peer.py";
    python_script() { write_file(path, python_peer); }
};

server_options tls_server_options() {
    server_options o;
    o.tls = tls_context::server(certs().server_cert, certs().server_key);
    return o;
}

// Records what reaches the loop's exception handler.
struct reports {
    std::vector<std::string> messages;
    std::vector<std::exception_ptr> errors;
    void install() {
        get_running_loop().set_exception_handler([this](event_loop&, const exception_context& c) {
            messages.push_back(c.message);
            errors.push_back(c.exception);
        });
    }
};

const std::vector<std::size_t> sizes = {1, 100, 16 * 1024 + 1, 1000000, 10 * 1024 * 1024};

// ---- uvasync client -> openssl s_server ---------------------------------------------

task<> client_to_s_server() {
    const std::uint16_t port = free_port();
    std::vector<std::string> args = {"s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-cert",
                                     certs().server_cert, "-key", certs().server_key, "-quiet"};
    process p = co_await create_subprocess_exec(openssl, std::move(args), piped());
    const connect_options o = tls_options(trusting_client());
    auto [r, w] = co_await connect_when_up(port, o);
    std::optional<tls_info> info = w.tls();
    EXPECT_TRUE(info);
    if (info) {
        EXPECT_EQ(info->version, "TLSv1.3");
        EXPECT_NE(info->peer_subject.find("CN=localhost"), std::string::npos) << info->peer_subject;
        EXPECT_EQ(info->peer_certificate_pem.rfind("-----BEGIN CERTIFICATE-----", 0), 0u);
        EXPECT_TRUE(info->alpn_protocol.empty());
    }
    std::size_t seed = 0;
    for (std::size_t n : sizes) {
        // to s_server: it prints what it receives
        const std::string up = pattern(n, static_cast<unsigned>(++seed));
        auto got = get_running_loop().create_task(read_n(p.stdout_pipe(), n));
        w.write(up);
        co_await w.drain();
        EXPECT_TRUE(co_await got == up) << n << " bytes up";
        // from s_server: it sends what it reads on stdin
        const std::string down = pattern(n, static_cast<unsigned>(++seed));
        auto back = get_running_loop().create_task(read_n(r, n));
        p.stdin_pipe().write(down);
        co_await p.stdin_pipe().drain();
        EXPECT_TRUE(co_await back == down) << n << " bytes down";
    }
    w.close();
    co_await w.wait_closed();
    p.kill();
    co_await p.wait();
}

TEST(Tls, ClientToOpensslServer) {
    REQUIRE_TOOLS();
    run_test(client_to_s_server(), std::chrono::seconds(90));
}

// ---- uvasync client -> Python asyncio server ----------------------------------------

task<> client_to_python_server() {
    python_script py;
    std::vector<std::string> args = {py.path, "server", certs().server_cert, certs().server_key};
    process p = co_await create_subprocess_exec(python, std::move(args), piped());
    const std::string port_line = co_await p.stdout_pipe().readline();
    const auto port = static_cast<std::uint16_t>(std::stoi(port_line));
    const connect_options o = tls_options(trusting_client());
    auto [r, w] = co_await open_connection("127.0.0.1", port, o);
    EXPECT_EQ(co_await p.stdout_pipe().readline(), "SNI localhost\n"); // the server saw our SNI
    unsigned seed = 100;
    for (std::size_t n : sizes) {
        const std::string data = pattern(n, ++seed);
        auto back = get_running_loop().create_task(read_n(r, n));
        w.write(data);
        co_await w.drain();
        EXPECT_TRUE(co_await back == data) << n << " bytes";
    }
    w.close(); // close_notify: Python's reader sees EOF and closes in turn
    EXPECT_EQ(co_await r.read(), "");
    co_await w.wait_closed();
    EXPECT_EQ(co_await p.stdout_pipe().readline(), "BYE\n");
    EXPECT_EQ(co_await p.wait(), 0);
}

TEST(Tls, ClientToPythonAsyncioServer) {
    REQUIRE_TOOLS();
    run_test(client_to_python_server(), std::chrono::seconds(90));
}

// ---- openssl s_client -> uvasync server ------------------------------------------------

// Reads exactly `n` bytes, sends them back and closes (close_notify), so that
// s_client (which ignores its stdin's EOF with -quiet) exits.
task<> echo_n(std::size_t n, stream_reader r, stream_writer w) {
    std::string data = co_await r.readexactly(n);
    w.write(std::move(data));
    w.close();
    co_await w.wait_closed();
}

task<> s_client_to_us() {
    std::size_t expect = 0;
    auto handler = [&expect](stream_reader r, stream_writer w) { return echo_n(expect, std::move(r), std::move(w)); };
    const server_options so = tls_server_options();
    server srv = co_await start_server(handler, "127.0.0.1", 0, so);
    unsigned seed = 200;
    for (std::size_t n : sizes) {
        expect = n;
        std::vector<std::string> args = {"s_client", "-connect", "127.0.0.1:" + std::to_string(srv.port()),
                                         "-CAfile", certs().ca, "-servername", "localhost", "-verify_return_error",
                                         "-quiet"};
        process p = co_await create_subprocess_exec(openssl, std::move(args), piped());
        const std::string data = pattern(n, ++seed);
        auto out = get_running_loop().create_task(p.stdout_pipe().read());
        p.stdin_pipe().write(data);
        co_await p.stdin_pipe().drain();
        EXPECT_TRUE(co_await out == data) << n << " bytes";
        p.stdin_pipe().close();
        EXPECT_EQ(co_await p.wait(), 0);
    }
    srv.close();
    co_await srv.wait_closed();
}

TEST(Tls, OpensslClientToOurServer) {
    REQUIRE_TOOLS();
    run_test(s_client_to_us(), std::chrono::seconds(90));
}

// ---- Python asyncio client -> uvasync server ----------------------------------------------

task<> python_client_to_us() {
    python_script py;
    const server_options so = tls_server_options();
    server srv = co_await start_server(echo_handler, "127.0.0.1", 0, so);
    std::vector<std::string> args = {py.path, "client", std::to_string(srv.port()), certs().ca};
    for (std::size_t n : sizes) args.push_back(std::to_string(n));
    process p = co_await create_subprocess_exec(python, std::move(args), piped());
    EXPECT_EQ(co_await p.stdout_pipe().read(), "OK\n");
    EXPECT_EQ(co_await p.wait(), 0);
    srv.close();
    co_await srv.wait_closed();
}

TEST(Tls, PythonAsyncioClientToOurServer) {
    REQUIRE_TOOLS();
    run_test(python_client_to_us(), std::chrono::seconds(90));
}

// ---- verification ----------------------------------------------------------------------

// A uvasync TLS server with the given certificate; the failed handshakes it
// sees go to `seen`.
task<server> serve_cert(const std::string& cert, const std::string& key) {
    server_options o;
    o.tls = tls_context::server(cert, key);
    co_return co_await start_server(echo_handler, "127.0.0.1", 0, o);
}

// The verify_message of the tls_certificate_error that connecting throws
// ("" when it connects).
task<std::string> rejection(std::uint16_t port, tls_context ctx, std::string name = "localhost") {
    try {
        const connect_options o = tls_options(ctx, name);
        auto [r, w] = co_await open_connection("127.0.0.1", port, o);
        w.write("ping");
        co_await w.drain();
        EXPECT_EQ(co_await r.readexactly(4), "ping");
        w.close();
        co_await w.wait_closed();
        co_return std::string();
    } catch (const tls_certificate_error& e) {
        EXPECT_NE(std::string(e.what()).find("certificate verify failed"), std::string::npos) << e.what();
        co_return e.verify_message();
    }
}

task<> verification() {
    reports seen;
    seen.install();
    server good = co_await serve_cert(certs().server_cert, certs().server_key);
    server expired = co_await serve_cert(certs().expired_cert, certs().server_key);
    server wrong = co_await serve_cert(certs().wrong_cert, certs().server_key);
    server self = co_await serve_cert(certs().self_cert, certs().self_key);

    // the system store does not know our CA
    EXPECT_EQ(co_await rejection(good.port(), tls_context::client()), "unable to get local issuer certificate");
    EXPECT_EQ(co_await rejection(good.port(), trusting_client()), ""); // accepted once the CA is loaded
    EXPECT_EQ(co_await rejection(good.port(), trusting_client(), "127.0.0.1"), ""); // IP SAN
    EXPECT_EQ(co_await rejection(expired.port(), trusting_client()), "certificate has expired");
    EXPECT_EQ(co_await rejection(wrong.port(), trusting_client()), "hostname mismatch");
    EXPECT_EQ(co_await rejection(good.port(), trusting_client(), "other.example"), "hostname mismatch");
    EXPECT_EQ(co_await rejection(self.port(), trusting_client()), "self-signed certificate");

    // insecure only by explicit calls, in Python's order
    tls_context insecure = tls_context::client();
    EXPECT_THROW(insecure.set_verify_peer(false), std::logic_error);
    insecure.set_check_hostname(false);
    insecure.set_verify_peer(false);
    EXPECT_FALSE(insecure.verify_peer());
    EXPECT_EQ(co_await rejection(self.port(), insecure), "");
    EXPECT_EQ(co_await rejection(wrong.port(), insecure), "");
    insecure.set_check_hostname(true); // turns verification back on
    EXPECT_TRUE(insecure.verify_peer());
    EXPECT_EQ(co_await rejection(self.port(), insecure), "self-signed certificate");

    // the servers heard of the refused handshakes (the client's alert)
    EXPECT_TRUE(co_await until([&] { return seen.messages.size() >= 6; })); // (the alerts arrive)
    EXPECT_EQ(seen.messages.size(), 6u);
    for (const std::string& m : seen.messages) EXPECT_EQ(m, "TLS handshake failed");
    for (server* s : {&good, &expired, &wrong, &self}) {
        s->close();
        co_await s->wait_closed();
    }
}

TEST(Tls, CertificateVerification) {
    REQUIRE_TOOLS();
    run_test(verification(), std::chrono::seconds(60));
}

TEST(Tls, ContextErrors) {
    REQUIRE_TOOLS();
    EXPECT_THROW(tls_context::server("/nonexistent.pem", certs().server_key), tls_error);
    EXPECT_THROW(tls_context::server(certs().server_cert, certs().self_key), tls_error); // key mismatch
    tls_context c = tls_context::client();
    EXPECT_THROW(c.load_verify_locations("/nonexistent.pem"), tls_error);
    EXPECT_THROW(c.set_alpn_protocols({"h2", ""}), std::invalid_argument);
    EXPECT_TRUE(c.check_hostname());
    EXPECT_NE(c.native_handle(), nullptr);
    try {
        tls_context::server("/nonexistent.pem", certs().server_key);
    } catch (const tls_error& e) {
        EXPECT_NE(std::string(e.what()).find("/nonexistent.pem"), std::string::npos) << e.what();
    }
}

// ---- ALPN, versions, client certificates ---------------------------------------------------

task<> alpn_and_versions() {
    // ALPN and TLS 1.2 against openssl s_server
    const std::uint16_t port = free_port();
    std::vector<std::string> args = {"s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-cert",
                                     certs().server_cert, "-key", certs().server_key, "-quiet", "-tls1_2",
                                     "-alpn", "h2,http/1.1"};
    process p = co_await create_subprocess_exec(openssl, std::move(args), piped());
    tls_context ctx = trusting_client();
    ctx.set_alpn_protocols({"spdy/1", "http/1.1"});
    {
        const connect_options o = tls_options(ctx);
        auto [r, w] = co_await connect_when_up(port, o);
        std::optional<tls_info> info = w.tls();
        EXPECT_TRUE(info);
        if (info) {
            EXPECT_EQ(info->version, "TLSv1.2");
            EXPECT_EQ(info->alpn_protocol, "http/1.1");
            EXPECT_FALSE(info->cipher.empty());
        }
        w.write("x");
        co_await w.drain();
        EXPECT_EQ(co_await p.stdout_pipe().readexactly(1), "x");
        w.close();
        co_await w.wait_closed();
    }
    // a client that insists on TLS 1.3 cannot talk to it
    tls_context only13 = trusting_client();
    only13.set_minimum_version(tls_version::tls1_3);
    const connect_options o13 = tls_options(only13);
    EXPECT_THROW(co_await open_connection("127.0.0.1", port, o13), tls_error);
    p.kill();
    co_await p.wait();

    // our server: ALPN choice, TLS 1.3, a client certificate asked for
    server_options so = tls_server_options();
    so.tls->set_alpn_protocols({"h2", "http/1.1"});
    so.tls->set_verify_peer(true);
    so.tls->load_verify_locations(certs().ca);
    std::string client_subject;
    auto handler = [&client_subject](stream_reader r, stream_writer w) -> task<> {
        std::optional<tls_info> info = w.tls();
        if (info) client_subject = info->peer_subject + " " + info->alpn_protocol;
        co_await echo_handler(std::move(r), std::move(w));
    };
    server srv = co_await start_server(handler, "127.0.0.1", 0, so);
    tls_context with_cert = trusting_client();
    with_cert.load_cert_chain(certs().client_cert, certs().client_key);
    with_cert.set_alpn_protocols({"http/1.1", "h2"});
    const connect_options wo = tls_options(with_cert);
    auto [r, w] = co_await open_connection("127.0.0.1", srv.port(), wo);
    EXPECT_EQ(w.tls()->alpn_protocol, "h2"); // the server's preference
    EXPECT_EQ(w.tls()->version, "TLSv1.3");
    w.write("hello\n");
    EXPECT_EQ(co_await r.readline(), "hello\n");
    EXPECT_EQ(client_subject, "CN=test-client h2");
    w.close();
    co_await w.wait_closed();
    srv.close();
    co_await srv.wait_closed();
}

TEST(Tls, AlpnVersionsAndClientCertificates) {
    REQUIRE_TOOLS();
    run_test(alpn_and_versions(), std::chrono::seconds(60));
}

// ---- STARTTLS --------------------------------------------------------------------------

task<> starttls_with_python() {
    python_script py;
    std::vector<std::string> args = {py.path, "starttls", certs().server_cert, certs().server_key};
    process p = co_await create_subprocess_exec(python, std::move(args), piped());
    const auto port = static_cast<std::uint16_t>(std::stoi(co_await p.stdout_pipe().readline()));
    auto [r, w] = co_await open_connection("127.0.0.1", port);
    EXPECT_FALSE(w.tls());
    w.write("STARTTLS\n");
    EXPECT_EQ(co_await r.readline(), "GO AHEAD\n");
    co_await w.start_tls(trusting_client(), "localhost");
    EXPECT_TRUE(w.tls());
    w.write("secret\n");
    EXPECT_EQ(co_await r.readline(), "SECRET\n");
    EXPECT_THROW(co_await w.start_tls(trusting_client(), "localhost"), std::runtime_error); // TLS already
    w.close();
    co_await w.wait_closed();
    EXPECT_EQ(co_await p.stdout_pipe().readline(), "BYE\n");
    EXPECT_EQ(co_await p.wait(), 0);
}

TEST(Tls, StartTlsWithPythonServer) {
    REQUIRE_TOOLS();
    run_test(starttls_with_python(), std::chrono::seconds(60));
}

// A plain server whose connections are upgraded after their "STARTTLS"
// line, then echoed.
task<> starttls_then_echo(const tls_context& ctx, stream_reader r, stream_writer w) {
    EXPECT_EQ(co_await r.readline(), "STARTTLS\n");
    co_await w.start_tls(ctx);
    co_await echo_handler(std::move(r), std::move(w));
}
task<server> starttls_echo_server(const tls_context& ctx) {
    auto handler = [&ctx](stream_reader r, stream_writer w) {
        return starttls_then_echo(ctx, std::move(r), std::move(w));
    };
    co_return co_await start_server(handler, "127.0.0.1", 0);
}

// Both sides ours: the server upgrades an accepted connection, and the
// client's hello, sent right behind its plain line, is already buffered.
task<> starttls_both_ours() {
    tls_context server_ctx = tls_context::server(certs().server_cert, certs().server_key);
    server srv = co_await starttls_echo_server(server_ctx);
    auto [r, w] = co_await open_connection("127.0.0.1", srv.port());
    w.write("STARTTLS\n");
    co_await w.start_tls(trusting_client(), "localhost");
    w.write("over tls\n");
    EXPECT_EQ(co_await r.readline(), "over tls\n");
    w.close();
    co_await w.wait_closed();
    srv.close();
    co_await srv.wait_closed();
}

TEST(Tls, StartTlsBothSides) {
    REQUIRE_TOOLS();
    run_test(starttls_both_ours());
}

// Says STARTTLS, then runs start_tls eagerly up to where it waits for the
// peer: the handshake is under way when this returns.
task<task_handle<>> upgrading(stream_writer& w) {
    w.write("STARTTLS\n");
    co_await w.drain();
    co_return coro_test_util::started(w.start_tls(trusting_client(), "localhost"));
}

// Another task writes while the handshake runs: asyncio buffers the bytes
// and sends them over TLS once it is over, before what is written after.
task<> starttls_write_during_handshake() {
    tls_context server_ctx = tls_context::server(certs().server_cert, certs().server_key);
    server srv = co_await starttls_echo_server(server_ctx);
    auto [r, w] = co_await open_connection("127.0.0.1", srv.port());
    task_handle<> upgrade = co_await upgrading(w);
    EXPECT_FALSE(upgrade.done());
    EXPECT_FALSE(w.tls()); // not over yet
    w.write("early\n");
    EXPECT_EQ(w.get_write_buffer_size(), 6u); // counted until it is sent
    co_await upgrade;
    EXPECT_TRUE(w.tls());
    w.write("after\n");
    EXPECT_EQ(co_await r.readline(), "early\n");
    EXPECT_EQ(co_await r.readline(), "after\n");
    co_await w.drain();
    EXPECT_EQ(w.get_write_buffer_size(), 0u);
    w.close();
    co_await w.wait_closed();
    srv.close();
    co_await srv.wait_closed();
}

TEST(Tls, WritesDuringTheHandshakeGoOutAfterIt) {
    REQUIRE_TOOLS();
    run_test(starttls_write_during_handshake());
}

// close() or write_eof() during the handshake, with bytes written: nothing
// written before it is lost; the handshake ends, the bytes go, then the
// close (or close_notify and EOF, reading going on).
task<> starttls_close_during_handshake() {
    tls_context server_ctx = tls_context::server(certs().server_cert, certs().server_key);
    std::vector<std::string> heard;
    auto handler = [&server_ctx, &heard](stream_reader r, stream_writer w) -> task<> {
        EXPECT_EQ(co_await r.readline(), "STARTTLS\n");
        co_await w.start_tls(server_ctx);
        heard.push_back(co_await r.read()); // until close_notify or EOF
        w.write("bye");
        w.close();
    };
    server srv = co_await start_server(handler, "127.0.0.1", 0);
    {
        auto [r, w] = co_await open_connection("127.0.0.1", srv.port());
        task_handle<> upgrade = co_await upgrading(w);
        w.write("last words\n");
        w.close();
        co_await upgrade;
        co_await w.wait_closed();
    }
    {
        auto [r, w] = co_await open_connection("127.0.0.1", srv.port());
        task_handle<> upgrade = co_await upgrading(w);
        w.write("half");
        w.write_eof();
        co_await upgrade;
        EXPECT_EQ(co_await r.read(), "bye"); // reading goes on
        w.close();
        co_await w.wait_closed();
    }
    EXPECT_TRUE(co_await until([&] { return heard.size() == 2; }));
    EXPECT_EQ(heard, (std::vector<std::string>{"last words\n", "half"}));
    srv.close();
    co_await srv.wait_closed();
}

TEST(Tls, CloseOrWriteEofDuringTheHandshakeLosesNothing) {
    REQUIRE_TOOLS();
    run_test(starttls_close_during_handshake());
}

// ---- misbehaving peers ---------------------------------------------------------------------

// A plain server whose connections do `what` to the client's hello.
enum class bad_peer { silent, garbage, reset };

task<> bad_server(bad_peer what, stream_reader r, stream_writer w) {
    if (what == bad_peer::silent) {
        co_await r.read(); // until the client gives up
    } else if (what == bad_peer::garbage) {
        co_await r.read(1);
        w.write("HTTP/1.1 400 Bad Request\r\n\r\n");
        co_await w.drain();
        co_await r.read();
    } else {
        co_await r.read(1); // part of the hello
        set_linger_zero(w);
        w.abort();
    }
}

task<> client_against_bad_servers() {
    for (bad_peer what : {bad_peer::silent, bad_peer::garbage, bad_peer::reset}) {
        auto handler = [what](stream_reader r, stream_writer w) { return bad_server(what, std::move(r), std::move(w)); };
        server srv = co_await start_server(handler, "127.0.0.1", 0);
        connect_options o = tls_options(trusting_client());
        o.tls_handshake_timeout = std::chrono::milliseconds(300);
        try {
            co_await open_connection("127.0.0.1", srv.port(), o);
            ADD_FAILURE() << "connected to a bad server";
        } catch (const tls_error& e) {
            const std::errc expected = what == bad_peer::silent    ? std::errc::timed_out
                                       : what == bad_peer::garbage ? std::errc::protocol_error
                                                                   : std::errc::connection_reset;
            EXPECT_EQ(e.code(), expected) << e.what();
        }
        srv.close();
        srv.abort_clients();
        co_await srv.wait_closed();
    }
}

TEST(Tls, ClientAgainstSilentGarbageAndResettingServers) {
    REQUIRE_TOOLS();
    run_test(client_against_bad_servers());
}

// Our TLS server against clients that stall, send garbage or reset: each is
// dropped and reported, none reaches the handler, and a good client is
// served meanwhile.
task<> server_against_bad_clients() {
    reports seen;
    seen.install();
    int handled = 0;
    auto handler = [&handled](stream_reader r, stream_writer w) {
        ++handled;
        return echo_handler(std::move(r), std::move(w));
    };
    server_options so = tls_server_options();
    so.tls_handshake_timeout = std::chrono::milliseconds(500);
    server srv = co_await start_server(handler, "127.0.0.1", 0, so);

    auto [sr, sw] = co_await open_connection("127.0.0.1", srv.port()); // silent: says nothing
    auto [gr, gw] = co_await open_connection("127.0.0.1", srv.port()); // garbage
    gw.write("GET / HTTP/1.0\r\n\r\n");
    auto [xr, xw] = co_await open_connection("127.0.0.1", srv.port()); // resets after part of a hello
    xw.write(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11));
    co_await xw.drain();

    // a good client is served while the silent one stalls
    const connect_options o = tls_options(trusting_client());
    auto [r, w] = co_await open_connection("127.0.0.1", srv.port(), o);
    w.write("hello\n");
    EXPECT_EQ(co_await r.readline(), "hello\n");
    w.close();
    co_await w.wait_closed();
    EXPECT_EQ(handled, 1);

    set_linger_zero(xw);
    xw.abort();
    // the garbage client is closed (an alert, then EOF), the silent one at the deadline
    for (stream_reader* c : {&gr, &sr}) {
        try {
            co_await c->read();
        } catch (const std::system_error&) { // (a reset is fine too)
        }
        EXPECT_TRUE(c->at_eof());
    }
    EXPECT_TRUE(co_await until([&] { return seen.messages.size() == 3; }));
    EXPECT_EQ(handled, 1);
    bool timed_out = false;
    for (std::size_t i = 0; i < seen.errors.size(); ++i) {
        EXPECT_EQ(seen.messages[i], "TLS handshake failed");
        try {
            std::rethrow_exception(seen.errors[i]);
        } catch (const tls_error& e) {
            if (e.code() == std::errc::timed_out) timed_out = true;
        } catch (...) {
            ADD_FAILURE() << "not a tls_error";
        }
    }
    EXPECT_TRUE(timed_out);
    srv.close();
    co_await srv.wait_closed();
}

TEST(Tls, ServerDropsBadClients) {
    REQUIRE_TOOLS();
    run_test(server_against_bad_clients());
}

// A bad record after the handshake fails that connection only.
task<> bad_record() {
    tls_context server_ctx = tls_context::server(certs().server_cert, certs().server_key);
    stream_writer* plain_writer = nullptr;
    auto handler = [&](stream_reader r, stream_writer w) -> task<> {
        EXPECT_EQ(co_await r.readline(), "STARTTLS\n");
        co_await w.start_tls(server_ctx);
        w.write("ready\n");
        // then garbage the client cannot decrypt: reach under TLS
        plain_writer = &w;
        try {
            co_await r.read();
        } catch (const tls_error&) { // the client's alert: bad record mac
        }
    };
    server srv = co_await start_server(handler, "127.0.0.1", 0);
    auto [r, w] = co_await open_connection("127.0.0.1", srv.port());
    w.write("STARTTLS\n");
    co_await w.start_tls(trusting_client(), "localhost");
    EXPECT_EQ(co_await r.readline(), "ready\n");
    EXPECT_NE(plain_writer, nullptr);
    if (!plain_writer) co_return;
    // a forged application-data record
    uv_buf_t b;
    char junk[] = "\x17\x03\x03\x00\x10XXXXXXXXXXXXXXXX";
    b.base = junk;
    b.len = sizeof junk - 1;
    EXPECT_EQ(uv_try_write(plain_writer->native_handle(), &b, 1), static_cast<int>(b.len));
    EXPECT_THROW(co_await r.read(10), tls_error);
    // other connections are fine
    auto [r2, w2] = co_await open_connection("127.0.0.1", srv.port());
    w2.write("STARTTLS\n");
    co_await w2.start_tls(trusting_client(), "localhost");
    EXPECT_EQ(co_await r2.readline(), "ready\n");
    w2.close();
    srv.close();
    srv.close_clients();
    co_await srv.wait_closed();
}

TEST(Tls, BadRecordFailsThatConnectionOnly) {
    REQUIRE_TOOLS();
    run_test(bad_record());
}

// ---- close_notify and EOF --------------------------------------------------------------------

task<> close_notify_and_eof() {
    std::string heard;
    auto handler = [&heard](stream_reader r, stream_writer w) -> task<> {
        heard = co_await r.read(); // until close_notify
        w.write("bye");
        w.close();
        co_await w.wait_closed();
    };
    const server_options so = tls_server_options();
    server srv = co_await start_server(handler, "127.0.0.1", 0, so);
    const connect_options o = tls_options(trusting_client());
    auto [r, w] = co_await open_connection("127.0.0.1", srv.port(), o);
    w.write("one");
    w.write_eof(); // close_notify, then FIN; reading goes on
    EXPECT_EQ(co_await r.read(), "bye");
    EXPECT_TRUE(r.at_eof());
    EXPECT_EQ(heard, "one");
    w.close();
    co_await w.wait_closed();

    // a peer that closes without close_notify: EOF all the same
    auto [r2, w2] = co_await open_connection("127.0.0.1", srv.port(), o);
    w2.write("two");
    co_await w2.drain();
    EXPECT_TRUE(co_await until([&] { return heard == "one"; }));
    w2.abort();
    srv.close();
    co_await srv.wait_closed();
}

TEST(Tls, CloseNotifyAndEof) {
    REQUIRE_TOOLS();
    run_test(close_notify_and_eof());
}

// read(span) on a TLS connection: SSL_read decrypts straight into the
// reader's buffer. Spans smaller, as large as and larger than a record,
// writes of every size: every byte arrives, in order.
task<> read_into_span() {
    constexpr std::size_t total = 700 * 1024;
    const std::string data = pattern(total, 5);
    std::string received;
    auto handler = [&received](stream_reader r, stream_writer w) -> task<> {
        std::vector<char> buf(40 * 1024);
        const std::size_t spans[] = {1, 700, 16 * 1024, 16 * 1024 + 1, 40 * 1024};
        for (std::size_t i = 0;; ++i) {
            const std::size_t n = co_await r.read(std::span<char>(buf.data(), spans[i % 5]));
            if (n == 0) break;
            received.append(buf.data(), n);
            w.write(std::string_view(buf.data(), n)); // echoed from the span
            co_await w.drain();
        }
        w.close();
    };
    const server_options so = tls_server_options();
    server srv = co_await start_server(handler, "127.0.0.1", 0, so);
    const connect_options o = tls_options(trusting_client());
    auto [r, w] = co_await open_connection("127.0.0.1", srv.port(), o);
    for (std::size_t at = 0, piece = 1; at < total; at += piece, piece = piece * 13 % 50000 + 1)
        w.write(std::string_view(data).substr(at, std::min(piece, total - at)));
    w.write_eof();
    std::string echoed;
    std::vector<char> buf(3000);
    for (;;) {
        const std::size_t n = co_await r.read(std::span<char>(buf.data(), buf.size()));
        if (n == 0) break;
        echoed.append(buf.data(), n);
    }
    EXPECT_TRUE(received == data) << "the server's span reads got " << received.size() << " bytes of " << total;
    EXPECT_TRUE(echoed == data) << "the client's span reads got " << echoed.size() << " bytes of " << total;
    w.close();
    srv.close();
    co_await srv.wait_closed();
}

TEST(Tls, ReadIntoSpanGetsEveryByteInOrder) {
    REQUIRE_TOOLS();
    run_test(read_into_span(), std::chrono::seconds(60));
}

// ---- flow control ---------------------------------------------------------------------------

// 50 MiB to a reader that reads slowly: the writer's buffer stays near the
// high-water mark, and the reader's near 2 x limit.
task<> bounded_memory() {
    constexpr std::size_t total = 50 * 1024 * 1024, chunk = 64 * 1024;
    std::size_t max_write_buffer = 0;
    auto handler = [&max_write_buffer](stream_reader r, stream_writer w) -> task<> {
        const std::string block = pattern(chunk, 9);
        for (std::size_t sent = 0; sent < total; sent += chunk) {
            w.write(block);
            max_write_buffer = std::max(max_write_buffer, w.get_write_buffer_size());
            co_await w.drain();
        }
        w.close();
        co_await w.wait_closed();
        (void)r;
    };
    const server_options so = tls_server_options();
    server srv = co_await start_server(handler, "127.0.0.1", 0, so);
    const connect_options o = tls_options(trusting_client());
    auto [r, w] = co_await open_connection("127.0.0.1", srv.port(), o);
    std::size_t got = 0, max_read_buffer = 0;
    for (int i = 0;; ++i) {
        std::string data = co_await r.read(4096);
        if (data.empty()) break;
        got += data.size();
        max_read_buffer = std::max(max_read_buffer, r.buffered_size());
        if (i % 64 == 0) co_await sleep(std::chrono::milliseconds(0)); // (slow: others run)
    }
    EXPECT_EQ(got, total);
    // high-water (64 KiB) + one chunk + TLS record overhead
    EXPECT_LE(max_write_buffer, 64 * 1024 + chunk + 4096);
    // 2 x limit + what one socket read (64 KiB of ciphertext) decrypts to
    EXPECT_LE(max_read_buffer, 2 * default_stream_limit + 64 * 1024);
    w.close();
    srv.close();
    co_await srv.wait_closed();
}

TEST(Tls, FiftyMebibytesToASlowReaderStayBounded) {
    REQUIRE_TOOLS();
    run_test(bounded_memory(), std::chrono::seconds(120));
}

// ---- cancellation ---------------------------------------------------------------------------

task<> cancellation() {
    // a handshake: the server says nothing
    auto silent = [](stream_reader r, stream_writer) -> task<> { co_await r.read(); };
    server quiet = co_await start_server(silent, "127.0.0.1", 0);
    const connect_options hs = tls_options(trusting_client());
    auto handshake = get_running_loop().create_task(open_connection("127.0.0.1", quiet.port(), hs));
    EXPECT_TRUE(co_await until([&] { return quiet.is_serving(); }, 10));
    co_await sleep(std::chrono::milliseconds(0));
    handshake.cancel();
    EXPECT_THROW(co_await handshake, cancelled_error);
    quiet.close();
    quiet.abort_clients();
    co_await quiet.wait_closed();

    // a read and a drain: the server reads nothing and sends nothing
    event release;
    auto idle = [&](stream_reader r, stream_writer w) -> task<> {
        co_await release.wait();
        co_await r.read(); // everything, until close_notify
        w.close();
    };
    const server_options so = tls_server_options();
    server srv = co_await start_server(idle, "127.0.0.1", 0, so);
    const connect_options o = tls_options(trusting_client());
    auto [r, w] = co_await open_connection("127.0.0.1", srv.port(), o);
    auto reading = get_running_loop().create_task(task<std::string>(r.read(100)));
    co_await sleep(std::chrono::milliseconds(0));
    reading.cancel();
    EXPECT_THROW(co_await reading, cancelled_error);
    w.write(pattern(8 * 1024 * 1024));
    auto draining = get_running_loop().create_task(task<>(w.drain()));
    co_await sleep(std::chrono::milliseconds(0));
    EXPECT_FALSE(draining.done());
    draining.cancel();
    EXPECT_THROW(co_await draining, cancelled_error);
    // the connection still works
    release.set();
    co_await w.drain();
    w.close();
    co_await w.wait_closed();
    srv.close();
    co_await srv.wait_closed();
}

TEST(Tls, CancelHandshakeReadAndDrain) {
    REQUIRE_TOOLS();
    run_test(cancellation());
}

} // namespace
