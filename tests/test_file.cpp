// Files (docs/api.md): open_file and the file's reads, writes, flush, close
// and size; read_file, write_file, stat. What each test mirrors is named
// where there is one: aiofiles' tests (tests/test_simple.py,
// tests/threadpool/test_binary.py) and CPython's test_fileio / test_io.
#include "open_descriptors.hpp"
#include "stream_test_util.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

namespace ua = uvasync;
using namespace std::chrono_literals;
using stream_test::pattern;
using stream_test::run_test;
using stream_test::temp_dir;

namespace {

// libuv sets up some process-wide descriptors with the first loop: count
// after that.
void warm_libuv() { ua::event_loop().close(); }

std::uint64_t fnv1a(std::string_view data, std::uint64_t h = 14695981039346656037ull) {
    for (unsigned char c : data) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return h;
}

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

void put(const std::string& path, const std::string& data) { std::ofstream(path, std::ios::binary) << data; }

// Expects a std::system_error with `code` whose message names `path`.
template <class Body> ua::task<> expect_error(Body body, std::errc code, std::string path) {
    try {
        co_await body();
        ADD_FAILURE() << "no error for " << path;
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), code) << e.what();
        EXPECT_NE(std::string(e.what()).find("'" + path + "'"), std::string::npos) << e.what();
    }
}

// ---- reading ------------------------------------------------------------------

// aiofiles: test_binary.py::test_simple_read (at scale)
TEST(File, HundredMiBInOneMiBChunksMatchesItsChecksum) {
    temp_dir dir;
    const std::string path = dir / "big.bin";
    std::uint64_t expected = 14695981039346656037ull;
    {
        std::ofstream out(path, std::ios::binary);
        for (unsigned i = 0; i < 100; ++i) {
            const std::string block = pattern(1 << 20, i);
            expected = fnv1a(block, expected);
            out.write(block.data(), static_cast<std::streamsize>(block.size()));
        }
    }
    run_test([](std::string path, std::uint64_t expected) -> ua::task<> {
        ua::file f = co_await ua::open_file(path, "rb");
        std::uint64_t h = 14695981039346656037ull;
        std::size_t total = 0, reads = 0;
        for (;;) {
            std::string piece = co_await f.read(1 << 20);
            if (piece.empty()) break;
            ++reads;
            total += piece.size();
            h = fnv1a(piece, h);
            if (piece.size() != (1u << 20)) ADD_FAILURE() << "short read of " << piece.size();
        }
        EXPECT_EQ(total, 100u << 20);
        EXPECT_EQ(reads, 100u);
        EXPECT_EQ(h, expected);
        EXPECT_EQ(co_await f.size(), 100u << 20);
        co_await f.close();
        // The whole file at once.
        std::string all = co_await ua::read_file(path);
        EXPECT_EQ(all.size(), 100u << 20);
        EXPECT_EQ(fnv1a(all), expected);
    }(path, expected), std::chrono::seconds(120));
}

// aiofiles: test_simple.py::test_serve_small_bin_file (readline); CPython test_io readline
TEST(File, ReadlineOverManyLines) {
    temp_dir dir;
    const std::string path = dir / "lines.txt";
    std::vector<std::string> lines;
    std::string content;
    for (int i = 0; i < 100000; ++i) {
        std::string line = std::to_string(i) + std::string(static_cast<std::size_t>(i % 97), 'x') + "\n";
        if (i == 5000) line = std::string(300 * 1024, 'L') + "\n"; // longer than a read chunk
        if (i == 5001) line = "\n";                                 // empty line
        lines.push_back(line);
        content += line;
    }
    lines.push_back("no newline at the end");
    content += lines.back();
    put(path, content);
    run_test([](std::string path, std::vector<std::string> lines) -> ua::task<> {
        ua::file f = co_await ua::open_file(path, "r");
        std::size_t i = 0, wrong = 0;
        for (;;) {
            std::string line = co_await f.readline();
            if (line.empty()) break;
            if (i >= lines.size() || line != lines[i]) ++wrong;
            ++i;
        }
        EXPECT_EQ(i, lines.size());
        EXPECT_EQ(wrong, 0u);
        EXPECT_EQ(co_await f.readline(), ""); // still at the end
        EXPECT_EQ(co_await f.read(10), "");
        EXPECT_EQ(co_await f.read(), "");
    }(path, lines), std::chrono::seconds(60));
}

// CPython test_fileio: read(n) / read() / readline mixed, and at the end
TEST(File, ReadsMixed) {
    temp_dir dir;
    const std::string path = dir / "mixed.txt";
    put(path, "first line\nsecond line\nthe rest\nof it");
    run_test([](std::string path) -> ua::task<> {
        ua::file f = co_await ua::open_file(path, "r");
        EXPECT_EQ(co_await f.read(0), "");
        EXPECT_EQ(co_await f.read(5), "first");
        EXPECT_EQ(co_await f.readline(), " line\n");
        EXPECT_EQ(co_await f.read(7), "second ");
        EXPECT_EQ(co_await f.readline(), "line\n");
        EXPECT_EQ(co_await f.read(), "the rest\nof it");
        EXPECT_EQ(co_await f.read(), "");
        EXPECT_EQ(co_await f.read(3), "");
        EXPECT_EQ(co_await f.readline(), "");
        co_await f.close();
        EXPECT_TRUE(f.closed());
        // Empty files.
        put(path, "");
        ua::file e = co_await ua::open_file(path, "r");
        EXPECT_EQ(co_await e.readline(), "");
        EXPECT_EQ(co_await e.read(), "");
        EXPECT_EQ(co_await ua::read_file(path), "");
    }(path));
}

// ---- writing ------------------------------------------------------------------

// aiofiles: test_binary.py::test_simple_write, test_simple_flush
TEST(File, WriteFlushReadBack) {
    temp_dir dir;
    const std::string path = dir / "out.bin";
    run_test([](std::string path) -> ua::task<> {
        ua::file f = co_await ua::open_file(path, "wb");
        EXPECT_EQ(f.path(), path);
        co_await f.write("small ");
        co_await f.write(std::string("pieces "));
        const std::string big = pattern(3 * 1024 * 1024, 5); // more than the buffer: written at once
        co_await f.write(big);
        co_await f.write("tail");
        EXPECT_EQ(co_await f.size(), 13 + big.size() + 4); // size() flushes first
        co_await f.write(" after");
        co_await f.flush();
        EXPECT_EQ(slurp(path), "small pieces " + big + "tail after"); // visible to others after flush
        ua::file_stat st = co_await ua::stat(path);
        EXPECT_EQ(st.size, 13 + big.size() + 10);
        co_await f.close();
        co_await f.close(); // idempotent
        EXPECT_EQ(co_await ua::read_file(path), "small pieces " + big + "tail after");
        // write_file replaces.
        co_await ua::write_file(path, "replaced");
        EXPECT_EQ(slurp(path), "replaced");
        const std::string ten = pattern(10 * 1024 * 1024, 7);
        co_await ua::write_file(path, ten);
        EXPECT_TRUE(co_await ua::read_file(path) == ten);
    }(path), std::chrono::seconds(60));
}

// aiofiles: test_simple.py::test_simple_append; CPython test_fileio append
TEST(File, AppendMode) {
    temp_dir dir;
    const std::string path = dir / "log.txt";
    run_test([](std::string path) -> ua::task<> {
        co_await ua::write_file(path, "one\n");
        ua::file a = co_await ua::open_file(path, "a");
        co_await a.write("two\n");
        ua::file b = co_await ua::open_file(path, "ab");
        co_await b.write("three\n");
        co_await b.close(); // three reaches the file first: a's two is still buffered
        co_await a.write("four\n");
        co_await a.close();
        EXPECT_EQ(co_await ua::read_file(path), "one\nthree\ntwo\nfour\n");
        ua::file c = co_await ua::open_file(path, "a"); // created if missing, kept if not
        co_await c.close();
        EXPECT_EQ(slurp(path), "one\nthree\ntwo\nfour\n");
        ua::file fresh = co_await ua::open_file(path + ".new", "a");
        co_await fresh.write("x");
        co_await fresh.close();
        EXPECT_EQ(slurp(path + ".new"), "x");
    }(path));
}

// CPython test_io: BufferedRandom, a write after a read goes where reading stopped
TEST(File, ReadWriteMode) {
    temp_dir dir;
    const std::string path = dir / "rw.txt";
    put(path, "0123456789");
    run_test([](std::string path) -> ua::task<> {
        ua::file f = co_await ua::open_file(path, "r+");
        EXPECT_EQ(co_await f.read(3), "012");
        co_await f.write("ab");
        EXPECT_EQ(co_await f.read(2), "56"); // the write is flushed before the read
        co_await f.close();
        EXPECT_EQ(slurp(path), "012ab56789");
        ua::file g = co_await ua::open_file(path, "w+"); // truncated
        co_await g.write("new");
        EXPECT_EQ(co_await g.read(), "");
        EXPECT_EQ(co_await g.size(), 3u);
        co_await g.close();
        EXPECT_EQ(slurp(path), "new");
    }(path));
}

// CPython: io.open's __del__ flushes; the loop closing closes what was opened on it
TEST(File, DroppingAFileOrClosingTheLoopFlushesAndCloses) {
    temp_dir dir;
    const std::string dropped = dir / "dropped.txt", kept = dir / "kept.txt";
    warm_libuv();
    const std::size_t before = open_descriptors();
    ua::file outlives;
    {
        ua::event_loop loop;
        const std::size_t with_loop = open_descriptors();
        outlives = loop.run_until_complete([](std::string dropped, std::string kept) -> ua::task<ua::file> {
            {
                ua::file f = co_await ua::open_file(dropped, "w");
                co_await f.write("buffered, never flushed");
            }
            ua::file g = co_await ua::open_file(kept, "w");
            co_await g.write("buffered when the loop closed");
            co_return g;
        }(dropped, kept));
        EXPECT_EQ(slurp(dropped), "buffered, never flushed");
        EXPECT_EQ(open_descriptors(), with_loop + 1); // the dropped one is closed, the kept one open
        loop.close();
    }
    EXPECT_EQ(open_descriptors(), before);
    EXPECT_EQ(slurp(kept), "buffered when the loop closed");
    EXPECT_TRUE(outlives.closed());
}

TEST(File, ManyOpensLeaveNoFd) {
    temp_dir dir;
    const std::string path = dir / "f";
    put(path, "abc\n");
    warm_libuv();
    const std::size_t before = open_descriptors();
    run_test([](std::string path) -> ua::task<> {
        for (int i = 0; i < 1000; ++i) {
            ua::file f = co_await ua::open_file(path, i % 2 ? "r" : "r+");
            EXPECT_EQ(co_await f.readline(), "abc\n");
            if (i % 3) co_await f.close(); // the others close when dropped
        }
    }(path), std::chrono::seconds(60));
    EXPECT_EQ(open_descriptors(), before);
}

// ---- errors -------------------------------------------------------------------

// CPython test_fileio: FileNotFoundError, IsADirectoryError, PermissionError, FileExistsError
TEST(File, ErrorsNameThePath) {
    temp_dir dir;
    const std::string missing = dir / "missing.txt", sub = dir / "sub", exists = dir / "exists";
    std::filesystem::create_directory(sub);
    put(exists, "x");
    std::string forbidden = dir / "forbidden";
    if (::geteuid() == 0) {
        forbidden = "/sys/devices/system/cpu/online"; // read-only even for root
    } else {
        put(forbidden, "secret");
        ::chmod(forbidden.c_str(), 0);
    }
    run_test([](std::string missing, std::string sub, std::string exists, std::string forbidden) -> ua::task<> {
        co_await expect_error([&]() -> ua::task<> { (void)co_await ua::open_file(missing, "r"); },
                              std::errc::no_such_file_or_directory, missing);
        co_await expect_error([&]() -> ua::task<> { (void)co_await ua::read_file(missing); },
                              std::errc::no_such_file_or_directory, missing);
        co_await expect_error([&]() -> ua::task<> { (void)co_await ua::stat(missing); },
                              std::errc::no_such_file_or_directory, missing);
        co_await expect_error([&]() -> ua::task<> { co_await ua::write_file(missing + "/x", "data"); },
                              std::errc::no_such_file_or_directory, missing + "/x");
        co_await expect_error([&]() -> ua::task<> { (void)co_await ua::open_file(sub, "r"); },
                              std::errc::is_a_directory, sub);
        co_await expect_error([&]() -> ua::task<> { (void)co_await ua::open_file(sub, "w"); },
                              std::errc::is_a_directory, sub);
        co_await expect_error([&]() -> ua::task<> { (void)co_await ua::read_file(sub); },
                              std::errc::is_a_directory, sub);
        co_await expect_error([&]() -> ua::task<> { (void)co_await ua::open_file(exists, "x"); },
                              std::errc::file_exists, exists);
        co_await expect_error([&]() -> ua::task<> { (void)co_await ua::open_file(forbidden, "r+"); },
                              std::errc::permission_denied, forbidden);
    }(missing, sub, exists, forbidden));
}

TEST(File, MisuseIsRuntimeErrorAndBadModesInvalidArgument) {
    temp_dir dir;
    const std::string path = dir / "f";
    put(path, "data\n");
    run_test([](std::string path) -> ua::task<> {
        for (const char* mode : {"", "q", "rw", "rr", "a+", "rt", "r++", "bb"})
            EXPECT_THROW((void)co_await ua::open_file(path, mode), std::invalid_argument) << mode;
        EXPECT_THROW((void)co_await ua::open_file(std::string("a\0b", 3), "r"), std::invalid_argument);
        ua::file r = co_await ua::open_file(path, "r");
        EXPECT_THROW(co_await r.write("x"), std::runtime_error);
        ua::file w = co_await ua::open_file(path + ".w", "w");
        EXPECT_THROW((void)co_await w.readline(), std::runtime_error);
        EXPECT_THROW((void)co_await w.read(1), std::runtime_error);
        co_await r.close();
        try {
            (void)co_await r.readline();
            ADD_FAILURE() << "read a closed file";
        } catch (const std::runtime_error& e) {
            EXPECT_NE(std::string(e.what()).find("closed file '" + path + "'"), std::string::npos) << e.what();
        }
        EXPECT_THROW(co_await r.flush(), std::runtime_error);
        ua::file none;
        EXPECT_THROW((void)co_await none.read(), std::logic_error);
    }(path));
}

ua::task<std::string> read_all_of(ua::file* f) { co_return co_await f->read(); }

TEST(File, OneOperationAtATime) {
    temp_dir dir;
    const std::string path = dir / "f";
    put(path, pattern(1 << 20, 1));
    run_test([](std::string path) -> ua::task<> {
        ua::file f = co_await ua::open_file(path, "r");
        ua::task_handle<std::string> reading = ua::create_task(read_all_of(&f));
        co_await ua::sleep(0ms); // it has started and waits for the thread pool
        EXPECT_FALSE(reading.done());
        try {
            (void)co_await f.readline();
            ADD_FAILURE() << "two operations at once";
        } catch (const std::runtime_error& e) {
            EXPECT_NE(std::string(e.what()).find("another operation"), std::string::npos) << e.what();
        }
        EXPECT_EQ((co_await reading).size(), 1u << 20);
    }(path));
}

// ---- stat -----------------------------------------------------------------------

// CPython test_os: stat of a file and a directory
TEST(File, Stat) {
    temp_dir dir;
    const std::string path = dir / "f", sub = dir / "d";
    put(path, "12345");
    std::filesystem::create_directory(sub);
    run_test([](std::string path, std::string sub) -> ua::task<> {
        ua::file_stat f = co_await ua::stat(path);
        EXPECT_EQ(f.size, 5u);
        EXPECT_TRUE(f.is_regular());
        EXPECT_FALSE(f.is_directory());
        struct ::stat st {};
        EXPECT_EQ(::stat(path.c_str(), &st), 0);
        EXPECT_EQ(f.mode, st.st_mode);
        EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(f.mtime.time_since_epoch()).count(), st.st_mtime);
        const auto age = std::chrono::system_clock::now() - f.mtime;
        EXPECT_LT(age, std::chrono::minutes(5));
        ua::file_stat d = co_await ua::stat(sub);
        EXPECT_TRUE(d.is_directory());
        EXPECT_FALSE(d.is_regular());
    }(path, sub));
}

// ---- cancellation -------------------------------------------------------------

ua::task<std::string> readline_of(ua::file* f) { co_return co_await f->readline(); }

// Cancelling reads of a FIFO that never gets data: the read that runs on
// the thread pool cannot be stopped, and what it reads later is not lost.
// (Run it under the clang-asan preset: the file is dropped while its read
// still runs.)
TEST(File, CancellingReadsOfAnIdleFifo) {
    temp_dir dir;
    const std::string fifo = dir / "fifo";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    // Our own end: O_RDWR opens a FIFO without waiting for a reader.
    const int writer = ::open(fifo.c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(writer, 0);
    run_test([](std::string fifo, int writer) -> ua::task<> {
        {
            ua::file f = co_await ua::open_file(fifo, "r");
            ua::task_handle<std::string> waiting = ua::create_task(readline_of(&f));
            co_await ua::sleep(0ms); // its read is queued for the thread pool, or runs there
            EXPECT_FALSE(waiting.done());
            waiting.cancel();
            EXPECT_THROW((void)co_await waiting, ua::cancelled_error);
            // Nothing is lost: the line written now reaches the next readline,
            // whether the cancelled read had started or not.
            EXPECT_EQ(::write(writer, "hello\nworld\n", 12), 12);
            EXPECT_EQ(co_await f.readline(), "hello\n");
            EXPECT_EQ(co_await f.readline(), "world\n");
            // Once more, and this time drop the file while its read runs.
            ua::task_handle<std::string> again = ua::create_task(readline_of(&f));
            co_await ua::sleep(0ms);
            again.cancel();
            EXPECT_THROW((void)co_await again, ua::cancelled_error);
        }
        // The abandoned read (if it had started) completes into a file nobody
        // holds any more; then EOF, so that nothing is left blocked.
        EXPECT_EQ(::write(writer, "late\n", 5), 5);
        ::close(writer);
        // The FIFO can be opened and read again afterwards.
        const int w2 = ::open(fifo.c_str(), O_RDWR | O_CLOEXEC);
        ua::file g = co_await ua::open_file(fifo, "r");
        EXPECT_EQ(::write(w2, "again\n", 6), 6);
        std::string line = co_await g.readline();
        EXPECT_TRUE(line == "again\n" || line == "late\n") << line; // late: the abandoned read had not started
        ::close(w2);
    }(fifo, writer));
}

// Cancelling a large read and an open on a regular file: no leak, no use after free.
TEST(File, CancellingRegularFileOperations) {
    temp_dir dir;
    const std::string path = dir / "big";
    put(path, pattern(16 << 20, 3));
    warm_libuv();
    const std::size_t before = open_descriptors();
    run_test([](std::string path) -> ua::task<> {
        for (int i = 0; i < 20; ++i) {
            ua::task_handle<std::string> whole = ua::create_task(ua::read_file(path));
            for (int k = 0; k < i % 5; ++k) co_await ua::sleep(0ms);
            whole.cancel();
            try {
                std::string data = co_await whole;
                EXPECT_EQ(data.size(), 16u << 20);
            } catch (const ua::cancelled_error&) {
            }
        }
        ua::file f = co_await ua::open_file(path, "r");
        ua::task_handle<std::string> part = ua::create_task(readline_of(&f));
        part.cancel();
        EXPECT_THROW((void)co_await part, ua::cancelled_error);
        EXPECT_EQ((co_await f.read(4)).size(), 4u); // the file goes on from where it was
    }(path), std::chrono::seconds(60));
    EXPECT_EQ(open_descriptors(), before);
}

} // namespace
