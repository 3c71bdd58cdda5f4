// File benchmark (issue 9): reading a whole file and reading a file line by
// line, with uvasync (libuv fs requests on the thread pool) and with plain
// blocking read(2) in C++, as bench/py_files.py does with Python's blocking
// reads in asyncio.to_thread.
//
//   uvasync_files gen BIG_PATH LINES_PATH       # 100 MiB of bytes, 1 M lines
//   uvasync_files read_file PATH [repeats]      # uvasync read_file()
//   uvasync_files lines PATH [repeats]          # uvasync readline() until EOF
//   uvasync_files blocking_read_file PATH [repeats]
//   uvasync_files blocking_lines PATH [repeats]
//
// Each prints one JSON object with the median wall-clock seconds of
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
#include <fstream>
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

void generate(const std::string& big, const std::string& lines) {
    std::string block(1 << 20, '\0');
    std::uint32_t x = 2463534242u;
    {
        std::ofstream out(big, std::ios::binary);
        for (int i = 0; i < 100; ++i) {
            for (char& c : block) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                c = static_cast<char>(x);
            }
            out.write(block.data(), static_cast<std::streamsize>(block.size()));
        }
    }
    std::ofstream out(lines, std::ios::binary);
    std::string line;
    for (int i = 0; i < 1000000; ++i) { // 1 M lines of 1 to 120 bytes
        line.assign("line ");
        line += std::to_string(i);
        line.append((static_cast<std::size_t>(i) * 7919u) % 100u, 'x');
        line += '\n';
        out << line;
    }
}

} // namespace

int main(int argc, char** argv) {
    if (argc >= 4 && std::strcmp(argv[1], "gen") == 0) {
        generate(argv[2], argv[3]);
        return 0;
    }
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s gen BIG LINES | read_file|lines|blocking_read_file|blocking_lines PATH [repeats]\n",
                     argv[0]);
        return 2;
    }
    const std::string mode = argv[1], path = argv[2];
    const int repeats = argc >= 4 ? std::atoi(argv[3]) : 5;
    std::function<outcome()> once;
    if (mode == "read_file") once = [&] { return ua::run(uv_read_file(path)); };
    else if (mode == "lines") once = [&] { return ua::run(uv_lines(path)); };
    else if (mode == "blocking_read_file") once = [&] { return blocking_read_file(path); };
    else if (mode == "blocking_lines") once = [&] { return blocking_lines(path); };
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
                mode.rfind("blocking", 0) == 0 ? "c++ blocking read(2)" : "uvasync",
                mode.rfind("blocking_", 0) == 0 ? mode.c_str() + 9 : mode.c_str(), o.bytes, o.lines, repeats,
                median, cpu[cpu.size() / 2], o.bytes / median / (1 << 20), o.lines / median);
}
