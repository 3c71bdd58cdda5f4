// Files: aiofiles' open() and asyncio-style whole-file helpers, on libuv's
// fs requests (which run the system calls on libuv's thread pool, so the
// loop never blocks on a disk).
//
//   ua::file f = co_await ua::open_file("/var/log/app.log", "r");
//   for (;;) {
//       std::string line = co_await f.readline();
//       if (line.empty()) break; // EOF
//       ...
//   }
//   co_await f.close();
//
//   std::string all = co_await ua::read_file("config.json");
//   co_await ua::write_file("out.bin", std::move(all));
//   ua::file_stat st = co_await ua::stat("out.bin");
//
// Bytes in, bytes out: files are binary (Python's "rb"/"wb"). A file is
// buffered as Python's BufferedReader / BufferedWriter are: reads fill a
// buffer in large chunks, so readline() and small reads complete without a
// trip to the thread pool when the buffer holds what they need, and writes
// collect in a buffer that is written in large chunks (or by flush(),
// close(), size(), a read, or the file's destruction). On a regular file the
// next chunk is read ahead while the program works through the buffer.
//
// Errors are std::system_error (uv_category(), comparable with std::errc:
// no_such_file_or_directory, permission_denied, is_a_directory, ...) whose
// what() names the operation and the path: "open '/etc/shadow': permission
// denied". Using a closed file, reading a file opened for writing only (or
// the reverse), or starting an operation while another one of the same file
// is in progress: std::runtime_error.
//
// Cancellation. A request that the thread pool has not started is cancelled
// (uv_cancel). One that runs already cannot be stopped: the task goes on at
// once with cancelled_error, and the request finishes on its own; what it
// read is kept in the file's buffer for the next read (nothing is lost, even
// on a pipe), what it was writing is written. The file's next operation
// waits for it first. Beware of FIFOs and terminals: a read of one that
// never gets data keeps a thread-pool thread busy until data or EOF
// arrives, even after its task was cancelled, and event_loop::close() waits
// for it (libuv cannot free a loop with work in flight).
//
// Lifetime. A file dropped while open is flushed and closed then (with
// plain blocking calls, as Python's file.__del__ does; once a request still
// running on the thread pool has finished). The loop closing closes the
// files opened on it the same way.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "detail/operation.hpp"
#include "task.hpp"

namespace uvasync {

namespace detail {

struct file_access;

// What an operation of a file waits for (src/file.cpp does the work). Set
// up by reset() when the operation needs the library, not before: a
// readline that finds its line buffered never touches it.
struct file_want {
    enum class kind : std::uint8_t { read, read_all, readline, write, flush, close, size };
    kind what;
    bool appended;        // write: `data` went into the write buffer
    bool eof;             // a read found the end of the file while this waited
    bool stat_done;       // size(): the fstat came back
    int status;           // the libuv error that ended it
    const char* failed;   // ... and the call that met it
    std::size_t n;        // read(n)
    std::size_t scanned;  // readline: unread bytes searched already
    std::size_t found;    // readline: where its '\n' is
    std::uint64_t size;   // size()
    std::string* data;    // write(): the bytes (the operation holds them)

    void reset(kind k, std::size_t count, std::string* bytes) noexcept {
        what = k;
        appended = eof = stat_done = false;
        status = 0;
        failed = nullptr;
        n = count;
        scanned = 0;
        found = std::string_view::npos;
        size = 0;
        data = bytes;
    }
};

struct no_payload {};

// The part of an open file that readline() and small reads look at inline.
struct file_core {
    const char* rp = nullptr; // the buffered, unread bytes: [rp, rp + rn)
    std::size_t rn = 0;
    std::size_t read_ahead_below = 0; // taking the buffer below this starts the next read
    bool can_take = false;    // reads may take buffered bytes inline (open for reading, no operation running)
    std::uint32_t refs = 1;

    void add_ref() noexcept { ++refs; }
    void release() noexcept {
        if (--refs == 0) destroy();
    }
    void destroy() noexcept;
    void read_ahead() noexcept; // the buffer ran low
};

bool file_ready(file_core* f, file_want& w); // the cases that need no request
bool file_start(file_core* f, file_want& w, operation_base& op);
void file_unwait(file_core* f, file_want& w) noexcept;
std::string file_take_bytes(file_core* f, file_want& w);
void file_take_nothing(file_core* f, file_want& w);
std::uint64_t file_take_size(file_core* f, file_want& w);
[[noreturn]] void file_misuse(const char* what);

// A line already buffered: found by readline's ready(), taken by its
// result(); `len` is its length with the '\n'.
inline bool file_line_buffered(file_core* f, std::size_t& len) noexcept {
    if (!f->can_take || f->rn == 0) return false;
    const void* nl = std::memchr(f->rp, '\n', f->rn);
    if (!nl) return false;
    len = static_cast<std::size_t>(static_cast<const char*>(nl) - f->rp) + 1;
    return true;
}
inline std::string file_take_buffered(file_core* f, std::size_t n) {
    std::string out(f->rp, n);
    f->rp += n;
    f->rn -= n;
    if (f->rn < f->read_ahead_below) f->read_ahead();
    return out;
}

// An operation of a file: no coroutine frame, and none of the loop's time
// when the buffer has what it needs. While it waits it keeps the file alive.
template <class R, R (*Take)(file_core*, file_want&), file_want::kind What>
class file_op final : public operation<file_op<R, Take, What>> {
    using payload = std::conditional_t<What == file_want::kind::write, std::string, no_payload>;

public:
    explicit file_op(file_core* f, std::size_t n = 0) noexcept : f_(f), n_(n) {}
    file_op(file_core* f, payload data) noexcept : f_(f), data_(std::move(data)) {}
    // (Moved only before it starts: want_ is not set up yet.)
    file_op(file_op&& o) noexcept : operation<file_op>(std::move(o)), f_(o.f_), n_(o.n_), data_(std::move(o.data_)) {}
    ~file_op() {
        if (held_) f_->release();
    }

    bool ready() {
        if constexpr (What == file_want::kind::readline) {
            return buffered_ = file_line_buffered(f_, n_);
        } else if constexpr (What == file_want::kind::read) {
            if (!f_->can_take || (n_ != 0 && f_->rn < n_)) return false;
            buffered_ = n_ < 4096; // larger ones may hand the buffer itself over (file_take_bytes)
            if (!buffered_) set_up();
            return true;
        } else {
            set_up();
            return file_ready(f_, want_);
        }
    }
    bool start() {
        set_up();
        f_->add_ref();
        held_ = true;
        return file_start(f_, want_, *this);
    }
    cancel_outcome cancel() noexcept {
        file_unwait(f_, want_);
        return cancel_outcome::stopped;
    }
    R result() {
        if constexpr (What == file_want::kind::readline || What == file_want::kind::read) {
            if (buffered_) return file_take_buffered(f_, n_);
        }
        return Take(f_, want_);
    }
    const char* kind() const noexcept override {
        switch (What) {
        case file_want::kind::read: return "file.read";
        case file_want::kind::read_all: return "file.read";
        case file_want::kind::readline: return "file.readline";
        case file_want::kind::write: return "file.write";
        case file_want::kind::flush: return "file.flush";
        case file_want::kind::close: return "file.close";
        case file_want::kind::size: return "file.size";
        }
        return "file";
    }

private:
    void set_up() noexcept {
        if constexpr (What == file_want::kind::write) want_.reset(What, 0, &data_);
        else want_.reset(What, n_, nullptr);
    }

    file_core* f_;
    std::size_t n_ = 0;     // read(n): n; readline: the length of the line ready() found
    bool buffered_ = false; // ready() found it all buffered: result() takes it inline
    bool held_ = false;
    file_want want_;        // set up when the library is needed
    [[no_unique_address]] payload data_;
};

} // namespace detail

// An open file (aiofiles' file object). Move-only. Every operation is
// awaited: `co_await f.write(data)`. One operation at a time per file.
class file {
public:
    using read_op = detail::file_op<std::string, &detail::file_take_bytes, detail::file_want::kind::read>;
    using read_all_op = detail::file_op<std::string, &detail::file_take_bytes, detail::file_want::kind::read_all>;
    using readline_op = detail::file_op<std::string, &detail::file_take_bytes, detail::file_want::kind::readline>;
    using write_op = detail::file_op<void, &detail::file_take_nothing, detail::file_want::kind::write>;
    using flush_op = detail::file_op<void, &detail::file_take_nothing, detail::file_want::kind::flush>;
    using close_op = detail::file_op<void, &detail::file_take_nothing, detail::file_want::kind::close>;
    using size_op = detail::file_op<std::uint64_t, &detail::file_take_size, detail::file_want::kind::size>;

    file() noexcept = default; // no file: valid() is false
    file(file&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
    file& operator=(file&& o) noexcept;
    file(const file&) = delete;
    file& operator=(const file&) = delete;
    // Flushes and closes the file if it is still open (blocking calls).
    ~file();

    bool valid() const noexcept { return c_ != nullptr; }

    // n bytes, or fewer when the end of the file comes first; empty only at
    // the end (as Python's BufferedReader.read(n): on a pipe it waits for n
    // bytes or EOF).
    [[nodiscard]] read_op read(std::size_t n) { return read_op(core("read"), n); }
    // Everything from here to the end of the file.
    [[nodiscard]] read_all_op read() { return read_all_op(core("read")); }
    // One line, with its "\n"; at the end of the file what is left without
    // one; empty only at the end.
    [[nodiscard]] readline_op readline() { return readline_op(core("readline")); }
    // Buffers `data`; writes once the buffer is large. In "a" mode every
    // write goes to the end of the file.
    [[nodiscard]] write_op write(std::string data) { return write_op(core("write"), std::move(data)); }
    // Writes what is buffered.
    [[nodiscard]] flush_op flush() { return flush_op(core("flush")); }
    // Flushes and closes; idempotent. The file is closed even when the
    // flush fails (its error is thrown then).
    [[nodiscard]] close_op close() { return close_op(core("close")); }
    // The size of the file (after flushing, so that what was written counts).
    [[nodiscard]] size_op size() { return size_op(core("size")); }

    const std::string& path() const;
    bool closed() const;

private:
    friend struct detail::file_access;
    explicit file(detail::file_core* c) noexcept : c_(c) {}
    detail::file_core* core(const char* what) const {
        if (!c_) detail::file_misuse(what);
        return c_;
    }
    detail::file_core* c_ = nullptr;
};

// Opens `path`. Modes, as Python's open(): "r" reading; "w" writing,
// created or truncated; "a" appending, created if missing; "x" writing, a
// new file only (exists: std::errc::file_exists); "r+" reading and writing;
// "w+" the same, truncated. A "b" anywhere is accepted (files are binary
// anyway); any other mode ("t" included): std::invalid_argument. A
// directory: std::errc::is_a_directory, as Python raises IsADirectoryError.
task<file> open_file(std::string path, std::string mode = "r");

// The whole content of a file.
task<std::string> read_file(std::string path);
// Replaces the content of a file with `data` (created if missing).
task<> write_file(std::string path, std::string data);

// os.stat: what the file system says about `path` (following symlinks).
struct file_stat {
    std::uint64_t size = 0;
    std::chrono::system_clock::time_point mtime; // last modification
    std::uint32_t mode = 0;                      // st_mode: type and permission bits
    bool is_directory() const noexcept;
    bool is_regular() const noexcept;
};
task<file_stat> stat(std::string path);

} // namespace uvasync
