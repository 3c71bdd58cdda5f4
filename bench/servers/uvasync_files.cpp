// File benchmark (issue 9; the suite's files-* cases, which run it through
// bench/programs/files_bench.py): reading a whole file and reading a file
// line by line, with uvasync (libuv fs requests on the thread pool) and,
// with --blocking, with plain blocking read(2) in C++, as bench/py_files.py
// does with Python's blocking reads in asyncio.to_thread.
//
//   uvasync_files [--blocking] read_file PATH [repeats]   # uvasync read_file()
//   uvasync_files [--blocking] lines PATH [repeats]       # uvasync readline() until EOF
//
// It prints one JSON object with the median wall-clock seconds of
// `repeats` runs (default 5), the throughput, and the median CPU seconds
// (user + system, every thread: the thread pool's reads count). Both sides make the same std::strings: the
// whole file in one (resized, then read into), or one per line.
#include <uvasync/uvasync.hpp>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

namespace ua = uvasync;

namespace {

struct outcome {
    std::size_t bytes = 0;
    std::size_t lines = 0;
};

ua::task<outcome> uv_read_file(std::string path) {
    std::string all = co_await ua::read_file(path);
    co_return outcome{all.size(), 0};
}

ua::task<outcome> uv_lines(std::string path) {
    ua::file f = co_await ua::open_file(path, "r");
    outcome o;
    for (;;) {
        std::string line = co_await f.readline();
        if (line.empty()) break;
        o.bytes += line.size();
        ++o.lines;
    }
    co_await f.close();
    co_return o;
}

outcome blocking_read_file(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    struct ::stat st {};
    ::fstat(fd, &st);
    std::string all;
    all.resize(static_cast<std::size_t>(st.st_size) + 1);
    std::size_t got = 0;
    for (;;) { // until read(2) says EOF, as read_file does
        if (got == all.size()) all.resize(all.size() * 2);
        const ssize_t n = ::read(fd, all.data() + got, all.size() - got);
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
    }
    all.resize(got);
    ::close(fd);
    return outcome{all.size(), 0};
}

outcome blocking_lines(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    constexpr std::size_t chunk = 128 * 1024;
    std::vector<char> buf(2 * chunk);
    std::size_t start = 0, end = 0;
    outcome o;
    for (;;) {
        const char* nl = static_cast<const char*>(std::memchr(buf.data() + start, '\n', end - start));
        if (nl) {
            const std::size_t len = static_cast<std::size_t>(nl - (buf.data() + start)) + 1;
            std::string line(buf.data() + start, len);
            o.bytes += line.size();
            ++o.lines;
            start += len;
            continue;
        }
        if (start > 0) { // keep the partial line at the front
            std::memmove(buf.data(), buf.data() + start, end - start);
            end -= start;
            start = 0;
        }
        if (buf.size() - end < chunk) buf.resize(buf.size() * 2);
        const ssize_t n = ::read(fd, buf.data() + end, buf.size() - end);
        if (n <= 0) {
            if (end > start) {
                std::string line(buf.data() + start, end - start);
                o.bytes += line.size();
                ++o.lines;
            }
            break;
        }
        end += static_cast<std::size_t>(n);
    }
    ::close(fd);
    return o;
}

} // namespace

int main(int argc, char** argv) {
    const bool blocking = argc >= 2 && std::strcmp(argv[1], "--blocking") == 0;
    argv += blocking;
    argc -= blocking;
    if (argc < 3) {
        std::fprintf(stderr, "usage: uvasync_files [--blocking] read_file|lines PATH [repeats]\n");
        return 2;
    }
    const std::string mode = argv[1], path = argv[2];
    const int repeats = argc >= 4 ? std::atoi(argv[3]) : 5;
    std::function<outcome()> once;
    if (mode == "read_file")
        once = [&] { return blocking ? blocking_read_file(path) : ua::run(uv_read_file(path)); };
    else if (mode == "lines")
        once = [&] { return blocking ? blocking_lines(path) : ua::run(uv_lines(path)); };
    else {
        std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
        return 2;
    }
    once(); // warm the page cache
    std::vector<double> times, cpu;
    outcome o;
    auto cpu_now = [] {
        rusage ru{};
        ::getrusage(RUSAGE_SELF, &ru);
        return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    };
    for (int i = 0; i < repeats; ++i) {
        const double c0 = cpu_now();
        const auto t0 = std::chrono::steady_clock::now();
        o = once();
        times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        cpu.push_back(cpu_now() - c0);
    }
    std::sort(times.begin(), times.end());
    std::sort(cpu.begin(), cpu.end());
    const double median = times[times.size() / 2];
    std::printf("{\"impl\": \"%s\", \"case\": \"%s\", \"bytes\": %zu, \"lines\": %zu, \"repeats\": %d, "
                "\"median_seconds\": %.5f, \"median_cpu_seconds\": %.5f, \"mib_per_second\": %.1f, "
                "\"lines_per_second\": %.0f}\n",
                blocking ? "c++ blocking read(2)" : "uvasync", mode.c_str(), o.bytes, o.lines, repeats,
                median, cpu[cpu.size() / 2], o.bytes / median / (1 << 20), o.lines / median);
}
