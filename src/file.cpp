// Files on libuv's fs requests.
//
// An open file is a file_state: the descriptor, a read buffer, a write
// buffer, and at most one request on the thread pool at a time. It is
// reference counted: the file object, each operation waiting on it and the
// request in flight hold references, so the state (and the buffers a
// request reads into or writes from) outlives every request. A request is a
// detail::uv_request whose owner is the file state, never gone while the
// request is in flight; it is freed by its own callback, which calls
// uv_fs_req_cleanup.
//
// Operations are a small state machine, advance(): a read that the buffer
// cannot satisfy submits a read into the buffer's free tail (first writing
// what is buffered, for "r+"); a write appends to the write buffer and
// writes it once it is large; close flushes then closes. Each completion
// updates the buffers, then advances the operation that waits, if one does.
// A cancelled operation only leaves (file_unwait): the request it started
// completes into the buffers as if nobody had left (a read that has not
// started is cancelled with uv_cancel), and the next operation waits for it.
//
// Read ahead: on a regular file, once the unread bytes fall below a quarter of
// the read window and nothing is in flight, the next window is read (the
// window doubles from 64 KiB to 1 MiB while reading goes on); inline takes
// (readline, small reads) only move the front of the buffer, so they go on
// while the read lands behind them.
#include <uvasync/detail/uv_request.hpp>
#include <uvasync/errors.hpp>
#include <uvasync/event_loop.hpp>
#include <uvasync/file.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>

namespace uvasync {

namespace detail {

namespace {

constexpr std::size_t chunk = 128 * 1024;       // the write buffer's size
constexpr std::size_t first_window = 64 * 1024; // the first reads' size...
constexpr std::size_t max_window = 1 << 20;     // ... doubling up to this while reading goes on
constexpr std::size_t max_io = 1u << 30;        // one request moves at most this much
constexpr std::size_t keep_write_capacity = 1 << 20;

std::string quoted(const std::string& path) { return "'" + path + "'"; }

const char* name_of(file_want::kind k) noexcept {
    switch (k) {
    case file_want::kind::read:
    case file_want::kind::read_all: return "read";
    case file_want::kind::readline: return "readline";
    case file_want::kind::write: return "write";
    case file_want::kind::flush: return "flush";
    case file_want::kind::close: return "close";
    case file_want::kind::size: return "size";
    }
    return "file";
}

} // namespace

class file_state;

struct file_request final : uv_request<uv_fs_t, file_state> {
    enum class what : std::uint8_t { read, write, fstat, close };
    file_request(file_state* f, what k) noexcept : uv_request(f), kind(k) {}
    what kind;
    std::string data;     // write: the bytes, [done, size) still to go
    std::size_t done = 0;
};

class file_state final : public file_core, public loop_core::resource {
public:
    file_state(loop_core& l, int descriptor, std::string p) noexcept
        : loop(&l), uv(l.owner().native_handle()), fd(descriptor), path(std::move(p)) {}
    ~file_state() { close_now(); }

    static file_state* of(file_core* c) noexcept { return static_cast<file_state*>(c); }

    // ---- the operation in progress ------------------------------------------
    void check_usable(const file_want& w, const char* what) const;
    bool advance();              // false: the operation is over (done or failed)
    void finish_active() noexcept;
    void update() noexcept;      // the inline-take flags, after any change

    // ---- requests -------------------------------------------------------------
    bool submit_read(std::size_t min_bytes);
    bool submit_write();
    bool submit_fstat();
    bool submit_close();
    bool submitted(file_request* r, int rc, const char* what);
    static void on_done(uv_fs_t* req);
    void completed(file_request* r, ssize_t res, const uv_stat_t& st);

    bool read_satisfied(file_want& w) noexcept;
    void drop_read_buffer() noexcept;
    std::string take(std::size_t n);
    [[noreturn]] void throw_failure(const file_want& w, const char* what) const;

    // ---- closing --------------------------------------------------------------
    void close_for_loop() noexcept override;
    void close_now() noexcept; // blocking flush and close, for destruction and the loop's close

    loop_core* loop;
    uv_loop_t* uv;
    int fd;
    std::string path;
    bool readable = false, writable = false, append = false;
    bool positional = false;     // a regular file: reads and writes at `offset`
    bool closed = false;         // close() began (or the file was closed for the loop)
    bool loop_gone = false;
    bool eof_hint = false;       // the last read found the end: no read ahead
    std::int64_t offset = 0;     // positional: where the byte after the buffered ones is
    std::uint64_t size_hint = 0; // the size at open (or at the last size())
    std::size_t window = first_window; // how much a read asks for
    std::string rbuf;            // storage behind [rp, rp + rn)
    std::string wbuf;            // written, not yet handed to a request
    int deferred_error = 0;      // a write whose operation was cancelled failed
    file_request* inflight = nullptr;
    operation_base* active = nullptr;
    file_want* want = nullptr;
};

// ---- file_core ----------------------------------------------------------------

void file_core::destroy() noexcept { delete file_state::of(this); }

void file_core::read_ahead() noexcept {
    file_state* f = file_state::of(this);
    if (f->read_ahead_below == 0) return;
    f->submit_read(f->window);
}

// ---- the state machine ----------------------------------------------------------

void file_state::update() noexcept {
    can_take = readable && !closed && !active;
    read_ahead_below = positional && readable && !closed && !loop_gone && !eof_hint && !active && !inflight ? window / 4 : 0;
}

void file_state::check_usable(const file_want& w, const char* what) const {
    if (loop_gone) throw std::runtime_error(std::string(what) + ": the event loop of file " + quoted(path) + " is closed");
    if (closed && w.what != file_want::kind::close)
        throw std::runtime_error(std::string(what) + ": I/O operation on closed file " + quoted(path));
    if (active)
        throw std::runtime_error(std::string(what) + ": another operation is in progress on file " + quoted(path));
    switch (w.what) {
    case file_want::kind::read:
    case file_want::kind::read_all:
    case file_want::kind::readline:
        if (!readable) throw std::runtime_error(std::string(what) + ": file " + quoted(path) + " is not open for reading");
        break;
    case file_want::kind::write:
        if (!writable) throw std::runtime_error(std::string(what) + ": file " + quoted(path) + " is not open for writing");
        break;
    default: break;
    }
}

bool file_state::read_satisfied(file_want& w) noexcept {
    if (w.eof) return true;
    switch (w.what) {
    case file_want::kind::read: return w.n == 0 || rn >= w.n;
    case file_want::kind::readline:
        if (rn > w.scanned) {
            if (const void* nl = std::memchr(rp + w.scanned, '\n', rn - w.scanned)) {
                w.found = static_cast<std::size_t>(static_cast<const char*>(nl) - rp);
                return true;
            }
            w.scanned = rn;
        }
        return false;
    default: return false; // read_all: until EOF
    }
}

void file_state::drop_read_buffer() noexcept {
    // Writing after reading: the buffered bytes were not read by the
    // program, so the write goes where its reading stopped.
    if (positional) offset -= static_cast<std::int64_t>(rn);
    rp = rbuf.data();
    rn = 0;
    eof_hint = false;
}

bool file_state::advance() {
    file_want& w = *want;
    if (w.what == file_want::kind::close) {
        if (closed) return inflight != nullptr; // the close request is the one in flight
        if (!wbuf.empty() && w.status == 0) return submit_write();
        if (deferred_error && w.status == 0) {
            w.status = std::exchange(deferred_error, 0);
            w.failed = "write";
        }
        return submit_close();
    }
    if (w.status) return false;
    switch (w.what) {
    case file_want::kind::read:
    case file_want::kind::read_all:
    case file_want::kind::readline: {
        if (read_satisfied(w)) return false;
        if (!wbuf.empty()) return submit_write(); // "r+": what was written goes first
        std::size_t min_bytes = window;
        if (w.what == file_want::kind::read) {
            min_bytes = std::max(window, w.n - rn);
        } else if (w.what == file_want::kind::read_all) {
            const std::size_t tail = rbuf.size() - static_cast<std::size_t>(rp - rbuf.data()) - rn;
            min_bytes = tail > 0 ? 1 : std::max(window, rn); // read into what is there; else double
            if (positional && size_hint > static_cast<std::uint64_t>(offset)) // the rest in one read, plus the EOF
                min_bytes = std::max<std::size_t>(min_bytes, static_cast<std::size_t>(size_hint - offset) + 1);
        }
        return submit_read(min_bytes);
    }
    case file_want::kind::write:
        if (!w.appended) {
            if (rn) drop_read_buffer();
            if (wbuf.empty()) wbuf = std::move(*w.data);
            else wbuf.append(*w.data);
            w.appended = true;
            eof_hint = false;
        }
        if (deferred_error) {
            w.status = std::exchange(deferred_error, 0);
            w.failed = "write";
            return false;
        }
        return wbuf.size() >= chunk ? submit_write() : false;
    case file_want::kind::flush:
        if (!wbuf.empty()) return submit_write();
        if (deferred_error) {
            w.status = std::exchange(deferred_error, 0);
            w.failed = "write";
        }
        return false;
    case file_want::kind::size:
        if (!wbuf.empty()) return submit_write();
        return w.stat_done ? false : submit_fstat();
    case file_want::kind::close: break;
    }
    return false;
}

void file_state::finish_active() noexcept {
    operation_base* op = std::exchange(active, nullptr);
    want = nullptr;
    update();
    op->wake_now();
}

// ---- requests ---------------------------------------------------------------------

bool file_state::submitted(file_request* r, int rc, const char* what) {
    if (rc < 0) { // refused before it started: no callback will come
        delete r;
        if (want) {
            want->status = rc;
            want->failed = what;
        }
        update();
        return false;
    }
    inflight = r;
    add_ref();
    update();
    return true;
}

bool file_state::submit_read(std::size_t min_bytes) {
    std::size_t start = rn ? static_cast<std::size_t>(rp - rbuf.data()) : 0;
    if (rbuf.size() - start - rn < min_bytes) {
        if (rn + min_bytes <= rbuf.size()) {
            std::memmove(rbuf.data(), rp, rn);
        } else {
            std::string bigger;
            bigger.resize(std::max({rbuf.size() * 2, rn + min_bytes, 2 * window}));
            std::memcpy(bigger.data(), rp, rn);
            rbuf.swap(bigger);
        }
        start = 0;
    }
    rp = rbuf.data() + start;
    const std::size_t end = start + rn;
    auto* r = new file_request(this, file_request::what::read);
    uv_buf_t b = uv_buf_init(rbuf.data() + end, static_cast<unsigned>(std::min(rbuf.size() - end, max_io)));
    return submitted(r, uv_fs_read(uv, &r->req, fd, &b, 1, positional ? offset : -1, &on_done), "read");
}

bool file_state::submit_write() {
    auto* r = new file_request(this, file_request::what::write);
    r->data = std::move(wbuf);
    wbuf.clear();
    uv_buf_t b = uv_buf_init(r->data.data(), static_cast<unsigned>(std::min(r->data.size(), max_io)));
    return submitted(r, uv_fs_write(uv, &r->req, fd, &b, 1, positional && !append ? offset : -1, &on_done), "write");
}

bool file_state::submit_fstat() {
    auto* r = new file_request(this, file_request::what::fstat);
    return submitted(r, uv_fs_fstat(uv, &r->req, fd, &on_done), "fstat");
}

bool file_state::submit_close() {
    closed = true;
    if (!loop_gone) list_hook<resource_tag>::unlink(); // nothing left for the loop to close
    auto* r = new file_request(this, file_request::what::close);
    const int descriptor = std::exchange(fd, -1);
    const int rc = uv_fs_close(uv, &r->req, descriptor, &on_done);
    if (rc < 0) ::close(descriptor);
    return submitted(r, rc, "close");
}

void file_state::on_done(uv_fs_t* req) {
    auto* r = static_cast<file_request*>(file_request::of(req));
    file_state* f = r->owner();
    const ssize_t res = req->result;
    const uv_stat_t st = req->statbuf;
    uv_fs_req_cleanup(req);
    f->inflight = nullptr;
    f->completed(r, res, st);
    f->release(); // the request's
}

void file_state::completed(file_request* r, ssize_t res, const uv_stat_t& st) {
    const char* what = "read";
    file_want* w = want;
    const bool reading = w && (w->what == file_want::kind::read || w->what == file_want::kind::read_all ||
                               w->what == file_want::kind::readline);
    switch (r->kind) {
    case file_request::what::read:
        if (res > 0) {
            rn += static_cast<std::size_t>(res);
            if (positional) offset += res;
            eof_hint = false;
            window = std::min(window * 2, max_window); // reading goes on: read more at a time
        } else if (res == 0) {
            eof_hint = true;
            if (reading) w->eof = true;
        } else if (res != UV_ECANCELED && reading) {
            w->status = static_cast<int>(res);
            w->failed = what;
        }
        delete r;
        break;
    case file_request::what::write:
        what = "write";
        if (res >= 0) {
            r->done += static_cast<std::size_t>(res);
            if (positional && !append) offset += res;
            if (r->done < r->data.size()) { // a short write (a pipe): the rest, same request
                uv_buf_t b = uv_buf_init(r->data.data() + r->done,
                                         static_cast<unsigned>(std::min(r->data.size() - r->done, max_io)));
                const int rc = uv_fs_write(uv, &r->req, fd, &b, 1, positional && !append ? offset : -1, &on_done);
                if (rc == 0) {
                    inflight = r;
                    add_ref();
                    return;
                }
                res = rc;
            }
        }
        if (res < 0) {
            if (w) {
                w->status = static_cast<int>(res);
                w->failed = what;
            } else {
                deferred_error = static_cast<int>(res);
            }
        }
        if (wbuf.empty() && r->data.capacity() <= keep_write_capacity) { // keep the buffer
            wbuf = std::move(r->data);
            wbuf.clear();
        }
        delete r;
        break;
    case file_request::what::fstat:
        if (res == 0) size_hint = st.st_size;
        if (w && w->what == file_want::kind::size) {
            w->stat_done = true;
            if (res < 0) {
                w->status = static_cast<int>(res);
                w->failed = "fstat";
            } else {
                w->size = st.st_size;
            }
        }
        delete r;
        break;
    case file_request::what::close:
        if (res < 0 && w && w->what == file_want::kind::close && w->status == 0) {
            w->status = static_cast<int>(res);
            w->failed = "close";
        }
        delete r;
        break;
    }
    update();
    if (active) {
        if (!advance()) finish_active();
    } else if (loop_gone) {
        close_now();
    }
}

// ---- taking the result --------------------------------------------------------------

std::string file_state::take(std::size_t n) {
    std::string out;
    // All of a buffer that is about that size: hand the buffer itself over.
    if (n == rn && rp == rbuf.data() && !inflight && n > 0 && rbuf.size() - n <= n / 8) {
        out = std::move(rbuf);
        out.resize(n);
        rbuf = std::string();
        rp = rbuf.data();
        rn = 0;
    } else {
        out.assign(rp, n);
        rp += n;
        rn -= n;
    }
    if (rn < read_ahead_below) read_ahead();
    return out;
}

void file_state::throw_failure(const file_want& w, const char* what) const {
    throw_uv_error(w.status, (std::string(w.failed ? w.failed : what) + " " + quoted(path)).c_str());
}

// ---- closing ---------------------------------------------------------------------

void file_state::close_for_loop() noexcept {
    // The loop is closing: the waiting operations were cancelled already.
    loop_gone = true;
    closed = true;
    update();
    if (!inflight) close_now(); // otherwise once the request is back
}

void file_state::close_now() noexcept {
    if (fd < 0) return;
    std::size_t done = 0;
    while (done < wbuf.size()) {
        const ssize_t n = positional && !append ? ::pwrite(fd, wbuf.data() + done, wbuf.size() - done, offset)
                                                : ::write(fd, wbuf.data() + done, wbuf.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break; // nobody is left to hear of it
        done += static_cast<std::size_t>(n);
        if (positional) offset += n;
    }
    wbuf.clear();
    ::close(std::exchange(fd, -1));
    closed = true;
    update();
}

// ---- the operations' entry points ---------------------------------------------------

bool file_ready(file_core* c, file_want& w) {
    file_state* f = file_state::of(c);
    switch (w.what) {
    case file_want::kind::write:
        if (f->active || f->inflight || !f->writable || f->closed || f->deferred_error) return false;
        if (f->wbuf.size() + w.data->size() >= chunk) return false;
        if (f->rn) f->drop_read_buffer();
        f->wbuf.append(*w.data);
        f->eof_hint = false;
        f->update();
        return true;
    case file_want::kind::flush:
        return !f->active && !f->inflight && !f->closed && f->wbuf.empty() && !f->deferred_error;
    case file_want::kind::close:
        return f->closed && !f->inflight && !f->active;
    default: return false;
    }
}

bool file_start(file_core* c, file_want& w, operation_base& op) {
    file_state* f = file_state::of(c);
    f->check_usable(w, name_of(w.what));
    f->active = &op;
    f->want = &w;
    f->update();
    if (f->inflight) return true; // first the request in flight, then this
    if (f->advance()) return true;
    f->active = nullptr;
    f->want = nullptr;
    f->update();
    return false;
}

void file_unwait(file_core* c, file_want& w) noexcept {
    file_state* f = file_state::of(c);
    if (f->want != &w) return;
    f->active = nullptr;
    f->want = nullptr;
    f->update();
    // A read not started yet is not needed any more; one running lands in the buffer.
    if (f->inflight && f->inflight->kind == file_request::what::read)
        uv_cancel(reinterpret_cast<uv_req_t*>(&f->inflight->req));
}

std::string file_take_bytes(file_core* c, file_want& w) {
    file_state* f = file_state::of(c);
    if (w.status) f->throw_failure(w, name_of(w.what));
    switch (w.what) {
    case file_want::kind::read: return f->take(std::min(w.n, f->rn));
    case file_want::kind::readline:
        if (w.found != std::string_view::npos && w.found < f->rn) return f->take(w.found + 1);
        return f->take(f->rn); // the end of the file: what is left
    default: return f->take(f->rn);
    }
}

void file_take_nothing(file_core* c, file_want& w) {
    if (w.status) file_state::of(c)->throw_failure(w, name_of(w.what));
}

std::uint64_t file_take_size(file_core* c, file_want& w) {
    if (w.status) file_state::of(c)->throw_failure(w, "size");
    return w.size;
}

void file_misuse(const char* what) { throw std::logic_error(std::string(what) + ": no file (moved from?)"); }

// ---- one-shot requests: open, stat, fstat ----------------------------------------------

struct fs_result {
    ssize_t status = 0;
    uv_stat_t st{};
};

// One fs call on behalf of a task: the request is detached (and uv_cancel'led)
// when the task gives up; an open that succeeds for nobody closes its file.
class fs_call_op final : public operation<fs_call_op> {
public:
    enum class call : std::uint8_t { open, stat, fstat };
    fs_call_op(uv_loop_t* uv, call c, const std::string& path, int flags, int fd) noexcept
        : uv_(uv), call_(c), path_(path), flags_(flags), fd_(fd) {}

    bool start() {
        req_ = new request(this);
        int rc = 0;
        switch (call_) {
        case call::open: rc = uv_fs_open(uv_, &req_->req, path_.c_str(), flags_, 0666, &on_done); break;
        case call::stat: rc = uv_fs_stat(uv_, &req_->req, path_.c_str(), &on_done); break;
        case call::fstat: rc = uv_fs_fstat(uv_, &req_->req, fd_, &on_done); break;
        }
        if (rc < 0) {
            delete std::exchange(req_, nullptr);
            result_.status = rc;
            return false;
        }
        return true;
    }
    cancel_outcome cancel() noexcept {
        std::exchange(req_, nullptr)->detach();
        return cancel_outcome::stopped;
    }
    fs_result result() const noexcept { return result_; }
    const char* kind() const noexcept override {
        return call_ == call::open ? "open_file" : call_ == call::stat ? "stat" : "fstat";
    }

private:
    using request = uv_request<uv_fs_t, fs_call_op>;
    static void on_done(uv_fs_t* r) {
        request* req = request::of(r);
        fs_call_op* self = req->owner();
        if (self) {
            self->req_ = nullptr;
            self->result_.status = r->result;
            self->result_.st = r->statbuf;
        } else if (r->fs_type == UV_FS_OPEN && r->result >= 0) {
            ::close(static_cast<int>(r->result)); // opened for a task that left
        }
        uv_fs_req_cleanup(r);
        delete req;
        if (self) self->wake_now();
    }

    uv_loop_t* uv_;
    call call_;
    const std::string& path_;
    int flags_;
    int fd_;
    request* req_ = nullptr;
    fs_result result_;
};

struct file_access {
    static file make(file_core* c) noexcept { return file(c); }
    static file_state* state(const file& f) noexcept { return f.c_ ? file_state::of(f.c_) : nullptr; }
};

namespace {

struct open_mode {
    int flags = 0;
    bool readable = false, writable = false, append = false;
};

open_mode parse_mode(const std::string& mode) {
    char base = 0;
    bool plus = false, binary = false;
    for (char ch : mode) {
        if ((ch == 'r' || ch == 'w' || ch == 'a' || ch == 'x') && !base) base = ch;
        else if (ch == '+' && !plus) plus = true;
        else if (ch == 'b' && !binary) binary = true;
        else base = '?';
    }
    if (!base || base == '?' || (base == 'a' && plus))
        throw std::invalid_argument("open_file: invalid mode '" + mode +
                                    "' (one of r, w, a, x, r+, w+, x+, each with an optional b)");
    open_mode m;
    m.readable = base == 'r' || plus;
    m.writable = base != 'r' || plus;
    m.append = base == 'a';
    m.flags = m.readable && m.writable ? O_RDWR : m.readable ? O_RDONLY : O_WRONLY;
    if (base == 'w') m.flags |= O_CREAT | O_TRUNC;
    if (base == 'a') m.flags |= O_CREAT | O_APPEND;
    if (base == 'x') m.flags |= O_CREAT | O_EXCL;
    return m;
}

void check_path(const std::string& path, const char* what) {
    if (path.find('\0') != std::string::npos)
        throw std::invalid_argument(std::string(what) + ": the path contains a NUL character");
}

// Closes a descriptor unless handed on.
struct fd_guard {
    int fd;
    ~fd_guard() {
        if (fd >= 0) ::close(fd);
    }
};

} // namespace
} // namespace detail

// ---- file -----------------------------------------------------------------------------

file& file::operator=(file&& o) noexcept {
    if (this != &o) {
        if (c_) c_->release();
        c_ = std::exchange(o.c_, nullptr);
    }
    return *this;
}

file::~file() {
    if (c_) c_->release();
}

const std::string& file::path() const { return detail::file_state::of(core("path"))->path; }
bool file::closed() const { return detail::file_state::of(core("closed"))->closed; }

task<file> open_file(std::string path, std::string mode) {
    const detail::open_mode m = detail::parse_mode(mode);
    detail::check_path(path, "open_file");
    detail::loop_core& loop = detail::running_core();
    uv_loop_t* uv = loop.owner().native_handle();
    const detail::fs_result opened = co_await detail::fs_call_op(uv, detail::fs_call_op::call::open, path, m.flags, -1);
    if (opened.status < 0) throw_uv_error(static_cast<int>(opened.status), ("open '" + path + "'").c_str());
    detail::fd_guard guard{static_cast<int>(opened.status)};
    const detail::fs_result st = co_await detail::fs_call_op(uv, detail::fs_call_op::call::fstat, path, 0, guard.fd);
    if (st.status < 0) throw_uv_error(static_cast<int>(st.status), ("open '" + path + "'").c_str());
    if (S_ISDIR(st.st.st_mode)) throw_uv_error(UV_EISDIR, ("open '" + path + "'").c_str());
    auto* f = new detail::file_state(loop, std::exchange(guard.fd, -1), std::move(path));
    f->readable = m.readable;
    f->writable = m.writable;
    f->append = m.append;
    f->positional = S_ISREG(st.st.st_mode) || S_ISBLK(st.st.st_mode);
    f->size_hint = st.st.st_size;
    f->rp = f->rbuf.data();
    f->update();
    loop.add_resource(*f);
    co_return detail::file_access::make(f);
}

task<std::string> read_file(std::string path) {
    file f = co_await open_file(std::move(path), "r");
    std::string data = co_await f.read();
    co_await f.close();
    co_return data;
}

task<> write_file(std::string path, std::string data) {
    file f = co_await open_file(std::move(path), "w");
    co_await f.write(std::move(data));
    co_await f.close();
}

bool file_stat::is_directory() const noexcept { return S_ISDIR(mode); }
bool file_stat::is_regular() const noexcept { return S_ISREG(mode); }

task<file_stat> stat(std::string path) {
    detail::check_path(path, "stat");
    uv_loop_t* uv = get_running_loop().native_handle();
    const detail::fs_result r = co_await detail::fs_call_op(uv, detail::fs_call_op::call::stat, path, 0, -1);
    if (r.status < 0) throw_uv_error(static_cast<int>(r.status), ("stat '" + path + "'").c_str());
    file_stat out;
    out.size = r.st.st_size;
    out.mode = static_cast<std::uint32_t>(r.st.st_mode);
    out.mtime = std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
        std::chrono::seconds(r.st.st_mtim.tv_sec) + std::chrono::nanoseconds(r.st.st_mtim.tv_nsec)));
    co_return out;
}

} // namespace uvasync
