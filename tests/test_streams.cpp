// stream_reader / stream_writer / open_connection over TCP (docs/api.md;
// asyncio-semantics.md §12): every reader method, limits, EOF, half-close,
// errors, cancellation.
#include "stream_test_util.hpp"

#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

using namespace uvasync;
using namespace stream_test;

namespace {

// A server on 127.0.0.1 whose handler sends `script` and then closes.
task<server> script_server(std::string script, bool close_after = true) {
    client_connected_handler h = [script, close_after](stream_reader r, stream_writer w) -> task<> {
        (void)r;
        w.write(std::string_view(script));
        if (close_after) {
            w.close();
            co_await w.wait_closed();
        } else {
            co_await w.drain();
            std::string rest = co_await r.read(); // hold the connection until the client closes
        }
    };
    server srv = co_await start_server(std::move(h), "127.0.0.1", 0);
    co_return srv;
}

task<> every_reader_method() {
    server srv = co_await script_server("line1\nline2\nabcdefXYZrest");
    auto [r, w] = co_await open_connection("127.0.0.1", srv.port());
    EXPECT_EQ(co_await r.readline(), "line1\n");
    EXPECT_EQ(co_await r.readuntil("\n"), "line2\n");
    EXPECT_EQ(co_await r.readexactly(3), "abc");
    EXPECT_EQ(co_await r.readuntil("XYZ"), "defXYZ");
    EXPECT_EQ(co_await r.read(0), "");
    EXPECT_EQ(co_await r.read(2), "re");
    EXPECT_EQ(co_await r.read(), "st");
    EXPECT_TRUE(r.at_eof());
    EXPECT_EQ(co_await r.read(10), "");
    EXPECT_EQ(co_await r.readline(), "");
    EXPECT_EQ(co_await r.readexactly(0), "");
    w.close();
    co_await w.wait_closed();
    EXPECT_TRUE(w.is_closing());
}

TEST(StreamReader, EveryMethodRoundTrip) { run_test(every_reader_method()); }

// The first whole separator, after near misses and overlapping starts.
task<> readuntil_near_misses() {
    server srv = co_await script_server("GET / HTTP/1.1\r\nHost: x\r\n\r\nnext\r\n\r\r\n\r\naaab|abababc");
    auto [r, w] = co_await open_connection("127.0.0.1", srv.port());
    EXPECT_EQ(co_await r.readuntil("\r\n\r\n"), "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(co_await r.readuntil("\r\n\r\n"), "next\r\n\r\r\n\r\n");
    EXPECT_EQ(co_await r.readuntil("aab"), "aaab");
    EXPECT_EQ(co_await r.readuntil("ababc"), "|abababc");
    w.close();
    co_await w.wait_closed();
}

TEST(StreamReader, ReaduntilFindsTheFirstWholeSeparator) { run_test(readuntil_near_misses()); }

task<> readexactly_eof() {
    server srv = co_await script_server("12345");
    auto [r, w] = co_await open_connection("127.0.0.1", srv.port());
    try {
        (void)co_await r.readexactly(10);
        ADD_FAILURE() << "readexactly did not throw";
    } catch (const incomplete_read_error& e) {
        EXPECT_EQ(e.partial(), "12345");
        EXPECT_EQ(e.expected(), 10u);
        EXPECT_STREQ(e.what(), "5 bytes read on a total of 10 expected bytes");
    }
    EXPECT_EQ(r.buffered_size(), 0u); // the partial bytes left the buffer
    EXPECT_TRUE(r.at_eof());
    EXPECT_EQ(co_await r.read(), "");
}

TEST(StreamReader, ReadexactlyAtEofThrowsIncompleteReadWithPartialBytes) { run_test(readexactly_eof()); }

task<> readline_eof() {
    server srv = co_await script_server("abc");
    auto [r, w] = co_await open_connection("127.0.0.1", srv.port());
    EXPECT_EQ(co_await r.readline(), "abc");
    EXPECT_EQ(co_await r.readline(), "");
    EXPECT_TRUE(r.at_eof());
}

TEST(StreamReader, ReadlineAtEofWithoutNewlineReturnsTheRest) { run_test(readline_eof()); }

task<> readuntil_eof() {
    server srv = co_await script_server("abc");
    auto [r, w] = co_await open_connection("127.0.0.1", srv.port());
    try {
        (void)co_await r.readuntil("XX");
        ADD_FAILURE() << "readuntil did not throw";
    } catch (const incomplete_read_error& e) {
        EXPECT_EQ(e.partial(), "abc");
        EXPECT_EQ(e.expected(), 0u);
    }
    EXPECT_EQ(r.buffered_size(), 0u);
}

TEST(StreamReader, ReaduntilAtEofThrowsIncompleteReadWithEverything) { run_test(readuntil_eof()); }

task<> readuntil_limit_found() {
    server srv = co_await script_server("0123456789abcdef\nnext\n");
    connect_options opts;
    opts.limit = 8;
    auto [r, w] = co_await open_connection("127.0.0.1", srv.port(), opts);
    EXPECT_EQ(r.limit(), 8u);
    // Wait until the whole script is buffered, so that the separator is seen.
    std::string first = co_await r.readexactly(1);
    EXPECT_EQ(first, "0");
    auto buffered = [&] { return r.buffered_size() == 21 || r.at_eof(); };
    bool all = co_await until(buffered);
    EXPECT_TRUE(all);
    try {
        (void)co_await r.readuntil("\n");
        ADD_FAILURE() << "readuntil did not throw";
    } catch (const limit_overrun_error& e) {
        EXPECT_EQ(e.consumed(), 15u); // where the separator is
        EXPECT_NE(std::string(e.what()).find("is found"), std::string::npos) << e.what();
    }
    // The data stays in the buffer.
    EXPECT_EQ(co_await r.readexactly(16), "123456789abcdef\n");
    EXPECT_EQ(co_await r.readuntil("\n"), "next\n");
}

TEST(StreamReader, ReaduntilSeparatorBeyondLimitLeavesDataBuffered) { run_test(readuntil_limit_found()); }

task<> readuntil_limit_not_found() {
    server srv = co_await script_server(std::string(20, 'x'), false);
    connect_options opts;
    opts.limit = 8;
    auto [r, w] = co_await open_connection("127.0.0.1", srv.port(), opts);
    try {
        (void)co_await r.readuntil("\r\n");
        ADD_FAILURE() << "readuntil did not throw";
    } catch (const limit_overrun_error& e) {
        EXPECT_GT(e.consumed(), 8u);
        EXPECT_NE(std::string(e.what()).find("not found"), std::string::npos) << e.what();
    }
    EXPECT_GT(r.buffered_size(), 8u); // left in the buffer
    std::string got;
    while (got.size() < 20) got += co_await r.read(100);
    EXPECT_EQ(got, std::string(20, 'x'));
    w.close();
}

TEST(StreamReader, ReaduntilWithoutSeparatorPastLimitThrowsLimitOverrun) { run_test(readuntil_limit_not_found()); }

task<> readline_limit() {
    // limit 7: seven bytes and a newline fit; eight do not.
    server srv = co_await script_server("1234567\n12345678\nok\n");
    connect_options opts;
    opts.limit = 7;
    auto [r, w] = co_await open_connection("127.0.0.1", srv.port(), opts);
    EXPECT_EQ(co_await r.readline(), "1234567\n");
    auto buffered = [&] { return r.buffered_size() == 12 || r.at_eof(); };
    bool all = co_await until(buffered);
    EXPECT_TRUE(all);
    EXPECT_THROW((void)co_await r.readline(), limit_overrun_error);
    // The over-long line (newline included) was discarded, as asyncio does.
    EXPECT_EQ(co_await r.readline(), "ok\n");
}

TEST(StreamReader, ReadlineLongerThanLimitIsDiscardedAndThrows) { run_test(readline_limit()); }

task<> empty_separator() {
    server srv = co_await script_server("abc");
    auto [r, w] = co_await open_connection("127.0.0.1", srv.port());
    EXPECT_THROW((void)co_await r.readuntil(""), std::invalid_argument);
    EXPECT_EQ(co_await r.read(), "abc");
}

TEST(StreamReader, EmptySeparatorIsInvalidArgument) { run_test(empty_separator()); }

// The server sends "ab\r", waits for "go", then sends "\ntail": the
// two-byte separator is split over two chunks.
task<> separator_across_chunks() {
    client_connected_handler h = [](stream_reader r, stream_writer w) -> task<> {
        w.write("ab\r");
        co_await w.drain();
        EXPECT_EQ(co_await r.readexactly(2), "go");
        w.write("\ntail");
        w.close();
        co_await w.wait_closed();
    };
    server srv = co_await start_server(std::move(h), "127.0.0.1", 0);
    auto [r, w] = co_await open_connection("127.0.0.1", srv.port());
    task_handle<std::string> line = create_task(r.readuntil("\r\n"));
    auto first_part = [&] { return r.buffered_size() == 3; };
    bool got_first = co_await until(first_part);
    EXPECT_TRUE(got_first);
    EXPECT_FALSE(line.done());
    w.write("go");
    EXPECT_EQ(co_await line, "ab\r\n");
    EXPECT_EQ(co_await r.read(), "tail");
}

TEST(StreamReader, MultiByteSeparatorFoundAcrossChunks) { run_test(separator_across_chunks()); }

task<> second_reader_rejected() {
    server srv = co_await script_server("", false);
    auto [r, w] = co_await open_connection("127.0.0.1", srv.port());
    task_handle<std::string> first = create_task(r.read(10));
    co_await sleep(0ms);
    EXPECT_FALSE(first.done());
    EXPECT_THROW((void)co_await r.readline(), std::runtime_error);
    first.cancel();
    EXPECT_THROW((void)co_await first, cancelled_error);
    w.close();
}

TEST(StreamReader, ConcurrentReadsAreRejected) { run_test(second_reader_rejected()); }

task<> cancel_read_then_read_again() {
    client_connected_handler h = [](stream_reader r, stream_writer w) -> task<> {
        EXPECT_EQ(co_await r.readexactly(4), "send");
        w.write("data\n");
        co_await w.drain();
        (void)co_await r.read();
    };
    server srv = co_await start_server(std::move(h), "127.0.0.1", 0);
    auto [r, w] = co_await open_connection("127.0.0.1", srv.port());
    task_handle<std::string> pending = create_task(r.readline());
    co_await sleep(0ms);
    EXPECT_FALSE(pending.done());
    EXPECT_TRUE(pending.cancel());
    EXPECT_THROW((void)co_await pending, cancelled_error);
    EXPECT_TRUE(pending.cancelled());
    // The stream is still usable: the cancelled read left nothing behind.
    w.write("send");
    EXPECT_EQ(co_await r.readline(), "data\n");
    w.close();
    co_await w.wait_closed();
}

TEST(StreamReader, CancelledReadLeavesStreamUsable) { run_test(cancel_read_then_read_again()); }

// read(std::span<char>): the socket is read straight into the caller's
// buffer while it waits; bytes already buffered are copied; 0 at EOF.
task<> read_into_span() {
    server srv = co_await script_server("line\nrest" + pattern(100 * 1024, 3));
    auto [r, w] = co_await open_connection("127.0.0.1", srv.port());
    EXPECT_EQ(co_await r.readline(), "line\n");
    std::string got;
    std::vector<char> buf(4096);
    for (;;) {
        std::size_t n = co_await r.read(std::span<char>(buf));
        if (n == 0) break;
        EXPECT_LE(n, buf.size());
        got.append(buf.data(), n);
    }
    EXPECT_EQ(got, "rest" + pattern(100 * 1024, 3));
    EXPECT_TRUE(r.at_eof());
    EXPECT_EQ(co_await r.read(std::span<char>(buf)), 0u);
    EXPECT_EQ(co_await r.read(std::span<char>()), 0u);
    w.close();
    co_await w.wait_closed();
}

TEST(StreamReader, ReadIntoCallerBufferDirectAndBuffered) { run_test(read_into_span()); }

task<std::size_t> read_into_own_buffer(stream_reader* r) {
    std::vector<char> mine(64); // lent to the socket while parked, freed when cancelled
    co_return co_await r->read(std::span<char>(mine));
}

task<> cancel_span_read() {
    client_connected_handler h = [](stream_reader r, stream_writer w) -> task<> {
        EXPECT_EQ(co_await r.readexactly(4), "send");
        w.write("data\n");
        co_await w.drain();
        (void)co_await r.read();
    };
    server srv = co_await start_server(std::move(h), "127.0.0.1", 0);
    auto [r, w] = co_await open_connection("127.0.0.1", srv.port());
    task_handle<std::size_t> pending = create_task(read_into_own_buffer(&r));
    co_await sleep(0ms);
    EXPECT_FALSE(pending.done());
    EXPECT_TRUE(pending.cancel());
    EXPECT_THROW((void)co_await pending, cancelled_error);
    // The buffer it lent is gone: the next bytes must not land there (ASan).
    w.write("send");
    EXPECT_EQ(co_await r.readline(), "data\n");
    w.close();
    co_await w.wait_closed();
}

TEST(StreamReader, CancelledReadIntoBufferStopsLendingIt) { run_test(cancel_span_read()); }

task<> sends_then_closes() {
    const std::string big = pattern(3 * 1024 * 1024 + 17, 1);
    server srv = co_await script_server(big);
    auto [r, w] = co_await open_connection("127.0.0.1", srv.port());
    std::string got = co_await r.read();
    EXPECT_EQ(got.size(), big.size());
    EXPECT_TRUE(got == big);
    EXPECT_TRUE(r.at_eof());
}

TEST(StreamReader, PeerSendsThenClosesEveryByteArrivesBeforeEof) { run_test(sends_then_closes()); }

// ---- writer --------------------------------------------------------------

task<> half_close() {
    client_connected_handler h = [](stream_reader r, stream_writer w) -> task<> {
        std::string all = co_await r.read(); // until the client's EOF
        w.write("got " + std::to_string(all.size()) + ":" + all);
        w.close();
        co_await w.wait_closed();
    };
    server srv = co_await start_server(std::move(h), "127.0.0.1", 0);
    auto [r, w] = co_await open_connection("127.0.0.1", srv.port());
    EXPECT_TRUE(w.can_write_eof());
    w.write("hello");
    w.write_eof();
    w.write_eof(); // idempotent
    EXPECT_THROW(w.write("more"), std::runtime_error);
    EXPECT_EQ(co_await r.read(), "got 5:hello");
}

TEST(StreamWriter, HalfCloseWriteEofPeerSeesEofAndAnswers) { run_test(half_close()); }

task<> write_overloads() {
    client_connected_handler h = [](stream_reader r, stream_writer w) -> task<> {
        std::string all = co_await r.read();
        w.write(std::move(all));
        w.close();
    };
    server srv = co_await start_server(std::move(h), "127.0.0.1", 0);
    auto [r, w] = co_await open_connection("127.0.0.1", srv.port());
    w.write("literal|");
    const std::string lvalue = "lvalue|";
    w.write(lvalue);
    std::string moved(100, 'm');
    w.write(std::move(moved));
    w.write(std::string_view("view|"));
    std::vector<std::string> lines{"a\n", "b\n"};
    w.writelines(lines);
    EXPECT_EQ(lines[0], "a\n"); // an lvalue range is copied
    w.writelines(std::vector<std::string>{"c\n", "d\n"});
    const char* const ptrs[] = {"e", "f"};
    w.writelines(ptrs);
    co_await w.drain();
    w.write_eof();
    EXPECT_EQ(co_await r.read(), "literal|lvalue|" + std::string(100, 'm') + "view|a\nb\nc\nd\nef");
}

TEST(StreamWriter, WriteOverloadsAndWritelines) { run_test(write_overloads()); }

// The asyncio way of echoing (read, write(std::move(data)), drain) hands the
// sent strings' buffers to later reads, old bytes and all: reads of every
// size, shorter, longer and the same as the string they reuse, return
// exactly what arrived.
task<> reads_into_sent_strings() {
    server srv = co_await start_server(echo_handler, "127.0.0.1", 0);
    auto [r, w] = co_await open_connection("127.0.0.1", srv.port());
    // Sent strings of many sizes become the spares (of this thread: the
    // server's reads take them too), then reads of other sizes take them.
    std::string expected;
    const std::size_t sent[] = {100, 20, 3000, 40, 40000, 16, 17, 300};
    for (std::size_t i = 0; i < std::size(sent); ++i) {
        std::string message = pattern(sent[i], static_cast<unsigned>(i));
        expected += message;
        w.write(std::move(message));
    }
    const std::size_t read[] = {17, 3000, 1, 20, 40000, 100, 16, 339};
    std::size_t at = 0;
    for (std::size_t n : read) {
        std::string back = co_await r.readexactly(n);
        EXPECT_TRUE(back == expected.substr(at, n)) << n << " bytes at " << at;
        at += n;
        w.write(std::move(back)); // echoed once more, and a spare again
    }
    EXPECT_EQ(at, expected.size());
    at = 0;
    for (std::size_t n : sent) {
        std::string again = co_await r.readexactly(n);
        EXPECT_TRUE(again == expected.substr(at, n)) << n << " bytes at " << at << ", echoed twice";
        at += n;
    }
    w.write_eof();
    EXPECT_EQ(co_await r.read(), "");
}

TEST(StreamReader, ReadsIntoSentStringsReturnExactlyWhatArrived) { run_test(reads_into_sent_strings()); }

task<> write_after_close() {
    server srv = co_await script_server("", false);
    auto [r, w] = co_await open_connection("127.0.0.1", srv.port());
    w.close();
    EXPECT_TRUE(w.is_closing());
    EXPECT_THROW(w.write("x"), std::runtime_error);
    co_await w.wait_closed();
    EXPECT_TRUE(r.at_eof()); // closing the writer ends the reader too
    EXPECT_EQ(co_await r.read(), "");
    try {
        co_await w.drain();
        ADD_FAILURE() << "drain after close did not throw";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), std::errc::connection_reset);
    }
}

TEST(StreamWriter, WriteAfterCloseThrowsDrainAfterCloseIsConnectionReset) { run_test(write_after_close()); }

task<> buffer_limits() {
    server srv = co_await script_server("", false);
    auto [r, w] = co_await open_connection("127.0.0.1", srv.port());
    EXPECT_EQ(w.get_write_buffer_limits(), (std::pair<std::size_t, std::size_t>(16384, 65536)));
    w.set_write_buffer_limits(std::nullopt, 16385);
    EXPECT_EQ(w.get_write_buffer_limits(), (std::pair<std::size_t, std::size_t>(16385, 65540)));
    w.set_write_buffer_limits(1000);
    EXPECT_EQ(w.get_write_buffer_limits(), (std::pair<std::size_t, std::size_t>(250, 1000)));
    EXPECT_THROW(w.set_write_buffer_limits(10, 20), std::invalid_argument);
    w.set_write_buffer_limits(0, 0);
    EXPECT_EQ(w.get_write_buffer_size(), 0u);
    w.close();
    co_await w.wait_closed();
}

TEST(StreamWriter, SetWriteBufferLimitsAsAsyncio) { run_test(buffer_limits()); }

task<> names_and_nodelay() {
    server srv = co_await script_server("", false);
    auto [r, w] = co_await open_connection("127.0.0.1", srv.port());
    EXPECT_EQ(w.peername(), endpoint("127.0.0.1", srv.port()));
    EXPECT_EQ(w.sockname().address(), "127.0.0.1");
    EXPECT_NE(w.sockname().port(), 0);
    uv_os_fd_t fd = -1;
    EXPECT_EQ(uv_fileno(reinterpret_cast<uv_handle_t*>(w.native_handle()), &fd), 0);
    int nodelay = 0;
    socklen_t len = sizeof nodelay;
    EXPECT_EQ(::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len), 0);
    EXPECT_NE(nodelay, 0);
    const endpoint peer = w.peername();
    w.close();
    co_await w.wait_closed();
    EXPECT_EQ(w.peername(), peer); // still known after close
    EXPECT_EQ(w.native_handle(), nullptr);
}

TEST(StreamWriter, PeernameSocknameAndTcpNodelay) { run_test(names_and_nodelay()); }

// ---- errors ------------------------------------------------------------------

task<std::uint16_t> free_port() {
    client_connected_handler h = [](stream_reader, stream_writer) -> task<> { co_return; };
    server srv = co_await start_server(std::move(h), "127.0.0.1", 0);
    const std::uint16_t port = srv.port();
    srv.close();
    co_await srv.wait_closed();
    co_return port;
}

task<> refused() {
    const std::uint16_t port = co_await free_port();
    try {
        auto rw = co_await open_connection("127.0.0.1", port);
        ADD_FAILURE() << "connected to a closed port";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), std::errc::connection_refused) << e.what();
        EXPECT_EQ(&e.code().category(), &uv_category());
        EXPECT_NE(std::string(e.what()).find("127.0.0.1"), std::string::npos) << e.what();
    }
}

TEST(StreamConnect, ConnectionRefusedIsSystemError) { run_test(refused()); }

task<> bad_arguments() {
    connect_options opts;
    opts.limit = 0;
    EXPECT_THROW((void)co_await open_connection("127.0.0.1", 1, opts), std::invalid_argument);
    EXPECT_THROW((void)co_await open_unix_connection(""), std::invalid_argument);
    stream_reader r;
    EXPECT_FALSE(r.valid());
    EXPECT_THROW((void)co_await r.read(1), std::logic_error);
}

TEST(StreamConnect, BadArgumentsThrowClearly) { run_test(bad_arguments()); }

task<> cancel_connect() {
    server srv = co_await script_server("", false);
    // Cancelled before it starts: its body never runs.
    auto early = create_task(open_connection("127.0.0.1", srv.port()));
    early.cancel();
    EXPECT_THROW((void)co_await early, cancelled_error);
    // Cancelled while the connect is in flight (the task has run up to its
    // first suspension, the connect request; the loop has not polled yet).
    auto pending = create_task(open_connection("127.0.0.1", srv.port()));
    co_await sleep(0ms);
    EXPECT_FALSE(pending.done());
    pending.cancel();
    EXPECT_THROW((void)co_await pending, cancelled_error);
    // And a normal connect still works.
    auto [r, w] = co_await open_connection("127.0.0.1", srv.port());
    w.close();
    co_await w.wait_closed();
}

TEST(StreamConnect, CancelPendingConnect) { run_test(cancel_connect()); }

task<> connect_by_name() {
    server srv = co_await script_server("hi");
    auto [r, w] = co_await open_connection("localhost", srv.port());
    EXPECT_EQ(co_await r.read(), "hi");
    connect_options opts;
    opts.local_addr = endpoint("127.0.0.1", 0);
    auto [r2, w2] = co_await open_connection("127.0.0.1", srv.port(), opts);
    EXPECT_EQ(w2.sockname().address(), "127.0.0.1");
    EXPECT_EQ(co_await r2.read(), "hi");
}

TEST(StreamConnect, HostNameAndLocalAddr) { run_test(connect_by_name()); }

// The peer resets the connection (SO_LINGER 0) while we wait in read().
task<> reset_during_read() {
    client_connected_handler h = [](stream_reader r, stream_writer w) -> task<> {
        std::string cmd = co_await r.readexactly(5);
        if (cmd == "reset") {
            set_linger_zero(w);
            w.abort();
            co_return;
        }
        w.write(cmd); // anything else is echoed
        std::string rest = co_await r.read();
    };
    server srv = co_await start_server(std::move(h), "127.0.0.1", 0);
    auto [r, w] = co_await open_connection("127.0.0.1", srv.port());
    // Another connection, which must not notice.
    auto [r2, w2] = co_await open_connection("127.0.0.1", srv.port());
    w.write("reset");
    try {
        (void)co_await r.read(100);
        ADD_FAILURE() << "read after a reset did not throw";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), std::errc::connection_reset) << e.what();
    }
    EXPECT_THROW(co_await w.drain(), std::system_error);
    w2.write("hello");
    EXPECT_EQ(co_await r2.readexactly(5), "hello");
    w2.close();
    co_await w2.wait_closed();
}

TEST(StreamErrors, PeerResetDuringReadIsSystemError) { run_test(reset_during_read()); }

// The peer stops reading and resets while we wait in drain().
task<> reset_during_drain() {
    auto go = std::make_shared<bool>(false);
    client_connected_handler h = [go](stream_reader r, stream_writer w) -> task<> {
        EXPECT_EQ(co_await r.readexactly(1), "x");
        auto released = [go] { return *go; };
        bool ok = co_await until(released);
        EXPECT_TRUE(ok);
        set_linger_zero(w);
        w.abort();
    };
    server srv = co_await start_server(std::move(h), "127.0.0.1", 0);
    auto [r, w] = co_await open_connection("127.0.0.1", srv.port());
    w.set_write_buffer_limits(1024);
    const std::string chunk(256 * 1024, 'z');
    w.write("x");
    // Fill the socket buffers until drain has to wait.
    for (int i = 0; i < 200 && w.get_write_buffer_size() <= 1024; ++i) w.write(std::string_view(chunk));
    EXPECT_GT(w.get_write_buffer_size(), 1024u);
    if (w.get_write_buffer_size() <= 1024u) co_return;
    task_handle<> d = create_task(w.drain());
    co_await sleep(0ms);
    EXPECT_FALSE(d.done());
    *go = true;
    try {
        co_await d;
        ADD_FAILURE() << "drain after a reset did not throw";
    } catch (const std::system_error& e) {
        EXPECT_TRUE(e.code() == std::errc::connection_reset || e.code() == std::errc::broken_pipe) << e.what();
    }
    EXPECT_THROW(co_await w.drain(), std::system_error);
}

TEST(StreamErrors, PeerResetDuringDrainIsSystemError) { run_test(reset_during_drain()); }

} // namespace
