// What the stress scenarios share (docs/reliability.md): process figures
// (RSS, descriptors, CPU time), RLIMIT_NOFILE, a client process forked
// before any loop exists, checksummed payloads, the echo handler the servers
// run, and the one line of figures each scenario prints.
//
// A scenario is a program: `stress_<name> [--quick] [--key value ...]`. It
// prints one line, `<name>: key=value ... OK` or `... FAIL: why`, and exits
// 0 only when nothing was lost.
#pragma once

#include <uvasync/uvasync.hpp>

#if defined(__SANITIZE_ADDRESS__)
#define UVASYNC_STRESS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UVASYNC_STRESS_ASAN 1
#endif
#endif
#ifndef UVASYNC_STRESS_ASAN
#define UVASYNC_STRESS_ASAN 0
#endif
#if UVASYNC_STRESS_ASAN
#include <sanitizer/allocator_interface.h>
#else
#include <malloc.h>
#endif

#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace stress {

namespace ua = uvasync;
using namespace std::chrono_literals;

// ---- command line ------------------------------------------------------------

// `--quick` and `--key value` pairs; get() falls back to the default.
class args {
public:
    args(int argc, char** argv) {
        for (int i = 1; i < argc; ++i) {
            std::string a = argv[i];
            if (a == "--quick") {
                quick_ = true;
            } else if (a.rfind("--", 0) == 0 && i + 1 < argc) {
                values_[a.substr(2)] = argv[++i];
            } else {
                std::fprintf(stderr, "%s: unknown argument %s\n", argv[0], a.c_str());
                std::exit(2);
            }
        }
    }
    bool quick() const noexcept { return quick_; }
    // The value of --key, or `full` (`quick` under --quick).
    long get(const std::string& key, long full, long quick) const {
        auto it = values_.find(key);
        if (it == values_.end()) return quick_ ? quick : full;
        return std::strtol(it->second.c_str(), nullptr, 10);
    }
    long get(const std::string& key, long both) const { return get(key, both, both); }

private:
    bool quick_ = false;
    std::map<std::string, std::string> values_;
};

// ---- process figures -----------------------------------------------------------

// A field of /proc/self/status in KiB ("VmRSS", "VmHWM"); -1 if absent.
inline long status_kib(const char* field) {
    FILE* f = std::fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long v = -1;
    const std::size_t n = std::strlen(field);
    while (std::fgets(line, sizeof line, f)) {
        if (std::strncmp(line, field, n) == 0 && line[n] == ':') {
            v = std::strtol(line + n + 1, nullptr, 10);
            break;
        }
    }
    std::fclose(f);
    return v;
}
inline long rss_kib() { return status_kib("VmRSS"); }
inline long peak_rss_kib() { return status_kib("VmHWM"); }

// Under ASan freed memory sits in its quarantine and ASan's own memory is
// most of RSS, so RSS says nothing about the library's: RSS bounds are
// checked in the builds without it (heap_in_use_kib() is checked in all).
inline constexpr bool rss_meaningful = !UVASYNC_STRESS_ASAN;

// What the program holds allocated (KiB), as its allocator counts it: with
// ASan, its allocator's live bytes (not the quarantine, not its caches);
// otherwise glibc's bytes in use in every arena plus its mmapped blocks.
// Unlike RSS, memory the allocator keeps for reuse is not in it.
inline long heap_in_use_kib() {
#if UVASYNC_STRESS_ASAN
    return static_cast<long>(__sanitizer_get_current_allocated_bytes() / 1024);
#else
    const struct mallinfo2 m = ::mallinfo2();
    return static_cast<long>((m.uordblks + m.hblkhd) / 1024);
#endif
}

// Resets VmHWM to the current RSS (Linux >= 4.0), so that a later
// peak_rss_kib() covers only what came after.
inline void reset_peak_rss() {
    FILE* f = std::fopen("/proc/self/clear_refs", "w");
    if (!f) return;
    std::fputs("5", f);
    std::fclose(f);
}

// Open descriptors of this process (entries of /proc/self/fd, not counting
// the directory's own); the limit itself when none is free to look.
inline int fd_count() {
    DIR* d = ::opendir("/proc/self/fd");
    if (!d) {
        rlimit rl{};
        return errno == EMFILE && ::getrlimit(RLIMIT_NOFILE, &rl) == 0 ? static_cast<int>(rl.rlim_cur) : -1;
    }
    int n = 0;
    while (dirent* e = ::readdir(d)) {
        if (e->d_name[0] != '.') ++n;
    }
    ::closedir(d);
    return n - 1;
}

// User + system CPU seconds of this process so far.
inline double cpu_seconds() {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    auto sec = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; };
    return sec(ru.ru_utime) + sec(ru.ru_stime);
}

inline double since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Sets RLIMIT_NOFILE's soft limit to `n` (capped by the hard limit, which is
// raised too when we may); returns the limit now in force.
inline long set_nofile(long n) {
    rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    if (static_cast<rlim_t>(n) > rl.rlim_max) {
        rlimit raised = rl;
        raised.rlim_max = raised.rlim_cur = static_cast<rlim_t>(n);
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) return n;
        n = static_cast<long>(rl.rlim_max);
    }
    rl.rlim_cur = static_cast<rlim_t>(n);
    ::setrlimit(RLIMIT_NOFILE, &rl);
    ::getrlimit(RLIMIT_NOFILE, &rl);
    return static_cast<long>(rl.rlim_cur);
}

// ---- payloads --------------------------------------------------------------------

// xorshift64*: the bytes a connection sends, reproducible from its seed.
struct prng {
    std::uint64_t s;
    explicit prng(std::uint64_t seed) noexcept : s(seed * 0x9E3779B97F4A7C15ull + 1) {}
    std::uint64_t next() noexcept {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        return s * 0x2545F4914F6CDD1Dull;
    }
    std::size_t below(std::size_t n) noexcept { return n ? static_cast<std::size_t>(next() % n) : 0; }
};

inline std::string payload(std::uint64_t seed, std::size_t n) {
    prng g(seed);
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(g.next() >> 56);
    return s;
}

// FNV-1a, 64 bits: the checksum of what came back.
inline std::uint64_t fnv1a(std::string_view data, std::uint64_t h = 0xcbf29ce484222325ull) noexcept {
    for (unsigned char c : data) {
        h ^= c;
        h *= 0x100000001b3ull;
    }
    return h;
}

// Byte i of an endless stream, for checking order without keeping a copy.
inline char stream_byte(std::uint64_t i) noexcept {
    return static_cast<char>((i * 2654435761u) >> 13);
}

// ---- known open bugs ------------------------------------------------------------------

// Bugs the campaign found whose fix has not landed: their checks report
// KNOWN instead of failing. Delete an entry with the fix that closes it;
// UVASYNC_STRESS_STRICT=1 treats every one as a failure.
inline bool known_open(std::string_view bug) {
    if (const char* s = std::getenv("UVASYNC_STRESS_STRICT"); s && *s == '1') return false;
    // None open now. (issue 8's two, gather leaving its children running
    // and the frame cache keeping a burst, were fixed by protocol v2.)
    (void)bug;
    return false;
}

// ---- the figures line ---------------------------------------------------------------

// Collects `key=value` figures and failures; finish() prints the line.
class report {
public:
    explicit report(std::string scenario) : line_(std::move(scenario) + ":") {}
    void add(const char* key, const char* fmt, ...) __attribute__((format(printf, 3, 4))) {
        char buf[1024];
        va_list ap;
        va_start(ap, fmt);
        std::vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        line_ += " ";
        line_ += key;
        line_ += "=";
        line_ += buf;
    }
    // Records a failure (the first one is printed) unless `ok`.
    void check(bool ok, const std::string& why) {
        if (!ok && failure_.empty()) failure_ = why;
    }
    // A check that a known, still-open bug makes fail (see known_open):
    // reported as KNOWN, without failing the scenario.
    void known(bool ok, const char* bug, const std::string& why) {
        if (ok) return;
        if (!known_open(bug)) {
            check(false, why);
        } else if (known_.empty()) {
            known_ = std::string(bug) + ": " + why;
        }
    }
    bool ok() const noexcept { return failure_.empty(); }
    int finish() {
        std::string verdict = failure_.empty() ? "OK" : "FAIL: " + failure_;
        if (!known_.empty()) verdict += " (KNOWN " + known_ + ")";
        std::printf("%s %s\n", line_.c_str(), verdict.c_str());
        std::fflush(stdout);
        return failure_.empty() ? 0 : 1;
    }

private:
    std::string line_;
    std::string failure_;
    std::string known_;
};

// ---- a client process -------------------------------------------------------------

// A process forked before the parent creates any loop. It waits for the
// server's port, runs `fn(port, out)` and exits with its result; what it
// writes to `out` comes back through result().
class client_process {
public:
    template <class F> explicit client_process(F fn) {
        int to_child[2], from_child[2];
        if (::pipe(to_child) != 0 || ::pipe(from_child) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
        std::fflush(nullptr);
        pid_ = ::fork();
        if (pid_ < 0) throw std::system_error(errno, std::generic_category(), "fork");
        if (pid_ == 0) {
            ::close(to_child[1]);
            ::close(from_child[0]);
            std::uint16_t port = 0;
            if (::read(to_child[0], &port, sizeof port) != static_cast<ssize_t>(sizeof port)) ::_exit(3);
            ::close(to_child[0]);
            FILE* out = ::fdopen(from_child[1], "w");
            int rc = 1;
            try {
                rc = fn(port, out);
            } catch (const std::exception& e) {
                std::fprintf(out, "client: %s", e.what());
            } catch (...) {
                std::fprintf(out, "client: unknown exception");
            }
            std::fclose(out);
            std::fflush(nullptr);
            ::_exit(rc);
        }
        ::close(to_child[0]);
        ::close(from_child[1]);
        to_child_ = to_child[1];
        from_child_ = from_child[0];
    }
    client_process(const client_process&) = delete;
    client_process& operator=(const client_process&) = delete;
    ~client_process() {
        if (pid_ > 0 && !exited_) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        if (to_child_ >= 0) ::close(to_child_);
        if (from_child_ >= 0) ::close(from_child_);
    }

    // Tells the client where the server listens: it starts then.
    void start(std::uint16_t port) {
        if (::write(to_child_, &port, sizeof port) != static_cast<ssize_t>(sizeof port))
            throw std::system_error(errno, std::generic_category(), "write to the client process");
        ::close(to_child_);
        to_child_ = -1;
    }

    // Polls (on the loop) until the client exited; returns its exit code
    // (128 + signal if it was killed), or -1 at the deadline (it is killed).
    ua::task<int> wait(std::chrono::seconds deadline) {
        const auto until = std::chrono::steady_clock::now() + deadline;
        for (;;) {
            int status = 0;
            pid_t r = ::waitpid(pid_, &status, WNOHANG);
            if (r == pid_) {
                exited_ = true;
                read_result();
                co_return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
            if (std::chrono::steady_clock::now() > until) {
                ::kill(pid_, SIGKILL);
                ::waitpid(pid_, nullptr, 0);
                exited_ = true;
                read_result();
                co_return -1;
            }
            co_await ua::sleep(20ms);
        }
    }
    // What the client wrote to `out`.
    const std::string& result() const noexcept { return result_; }

private:
    void read_result() {
        char buf[4096];
        ssize_t n;
        while ((n = ::read(from_child_, buf, sizeof buf)) > 0) result_.append(buf, static_cast<std::size_t>(n));
    }
    pid_t pid_ = -1;
    int to_child_ = -1;
    int from_child_ = -1;
    bool exited_ = false;
    std::string result_;
};

// ---- the echo server ------------------------------------------------------------------

struct server_stats {
    long accepted = 0;
    long active = 0;
    long peer_errors = 0; // connections that ended with a reset or another error
    long errors_in_drain = 0; // ... of which while waiting in drain (mid-write)
    std::uint64_t bytes = 0;
    std::size_t max_write_buffer = 0; // the largest write buffer seen before a drain
    int sndbuf = 0;                   // > 0: SO_SNDBUF of each accepted socket (so that drain waits)
};

// The echo handler as an asyncio program is ported: read, write, drain.
// A connection that fails (reset by the peer) counts in peer_errors.
inline ua::task<> echo_connection(ua::stream_reader reader, ua::stream_writer writer, server_stats* st) {
    ++st->accepted;
    ++st->active;
    struct leave {
        server_stats* s;
        ~leave() { --s->active; }
    } on_exit{st};
    if (st->sndbuf > 0) {
        uv_os_fd_t fd = -1;
        if (uv_fileno(reinterpret_cast<uv_handle_t*>(writer.native_handle()), &fd) == 0)
            ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &st->sndbuf, sizeof st->sndbuf);
    }
    bool draining = false;
    try {
        for (;;) {
            std::string data = co_await reader.read(64 * 1024);
            if (data.empty()) break;
            st->bytes += data.size();
            writer.write(std::move(data));
            st->max_write_buffer = std::max(st->max_write_buffer, writer.get_write_buffer_size());
            draining = true;
            co_await writer.drain();
            draining = false;
        }
        writer.close();
        co_await writer.wait_closed();
    } catch (const std::system_error&) {
        ++st->peer_errors;
        if (draining) ++st->errors_in_drain;
        writer.abort();
    }
}

inline ua::client_connected_handler echo_handler(server_stats& st) {
    return [s = &st](ua::stream_reader r, ua::stream_writer w) { return echo_connection(std::move(r), std::move(w), s); };
}

// Counts what reaches the loop's exception handler (and keeps the first
// message), instead of printing it.
struct exception_log {
    long count = 0;
    std::string first;
    void install(ua::event_loop& loop) {
        loop.set_exception_handler([this](ua::event_loop&, const ua::exception_context& ctx) {
            if (count++ == 0) {
                first = ctx.message;
                if (ctx.exception) {
                    try {
                        std::rethrow_exception(ctx.exception);
                    } catch (const std::exception& e) {
                        first += std::string(": ") + e.what();
                    } catch (...) {
                    }
                }
            }
        });
    }
};

// open_connection to 127.0.0.1:port. (The call is made outside the
// co_await expression, so that GCC 12 never sees its std::string and
// connect_options temporaries live across the suspension.)
inline ua::task<std::pair<ua::stream_reader, ua::stream_writer>> connect(std::uint16_t port) {
    ua::task<std::pair<ua::stream_reader, ua::stream_writer>> t = ua::open_connection("127.0.0.1", port);
    co_return co_await std::move(t);
}

// Waits (polling the loop) until pred() holds or the deadline passes.
template <class Pred> ua::task<bool> wait_until(Pred pred, std::chrono::milliseconds deadline) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > until) co_return false;
        co_await ua::sleep(10ms);
    }
    co_return true;
}

} // namespace stress
