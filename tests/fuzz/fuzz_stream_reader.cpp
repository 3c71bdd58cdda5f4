// Fuzz target: uvasync::stream_reader against a model of asyncio's
// StreamReader (stream_reader_model.hpp).
//
// The input is a script: a buffer limit, then commands -- feed a chunk,
// feed EOF, start readline / readuntil(separator of 1-4 bytes) /
// readexactly(n) / read(n) / read(span) / read(), cancel the waiting
// operation. The reader is the client end of a real Unix socket; the
// harness writes each chunk to the other end with a blocking send() and
// then waits until the kernel queue is empty and the loop has run, so the
// reader sees exactly the chunks the model sees, at the same boundaries.
// A chunk the model's transport would not read yet (paused: more than
// 2 x limit buffered) is held back until the model resumes reading, as the
// kernel holds it for a paused uvasync reader. After every step the
// operation's outcome, the buffered size and at_eof() must agree; a
// disagreement prints the script's trace and aborts.
//
// Built as a libFuzzer binary (UVASYNC_BUILD_FUZZ) and, in every other
// configuration, as a replay of tests/fuzz/corpus/stream_reader (ctest).
#include "stream_reader_model.hpp"

#include <uvasync/uvasync.hpp>

#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <span>
#include <string>
#include <vector>

namespace {

namespace ua = uvasync;
using namespace std::chrono_literals;

// ---- the script -------------------------------------------------------------------

enum class cmd_kind { feed, feed_eof, start, cancel, turns };

struct cmd {
    cmd_kind kind;
    std::string data; // feed
    fuzz::op o;       // start
};

constexpr std::size_t limits[] = {1, 2, 3, 4, 5, 7, 8, 13, 16, 31, 64, 100, 255, 1000, 4096, 65536};

struct reader_input {
    const std::uint8_t* p;
    const std::uint8_t* end;
    bool more() const noexcept { return p < end; }
    std::uint8_t byte() noexcept { return p < end ? *p++ : 0; }
    std::size_t u16() noexcept {
        std::size_t hi = byte();
        return hi << 8 | byte();
    }
    std::string bytes(std::size_t n) {
        n = std::min<std::size_t>(n, static_cast<std::size_t>(end - p));
        std::string s(reinterpret_cast<const char*>(p), n);
        p += n;
        return s;
    }
};

std::size_t parse(const std::uint8_t* data, std::size_t size, std::vector<cmd>& script) {
    reader_input in{data, data + size};
    const std::size_t limit = limits[in.byte() % std::size(limits)];
    while (in.more() && script.size() < 200) {
        const std::uint8_t c = in.byte();
        cmd k{cmd_kind::turns, {}, {}};
        switch (c % 12) {
        case 0:
        case 1: // a chunk taken from the input
            k.kind = cmd_kind::feed;
            k.data = in.bytes(1 + in.byte());
            break;
        case 2: { // a large chunk: `n` copies of one byte, a newline every `every`
            k.kind = cmd_kind::feed;
            const char fill = static_cast<char>(in.byte());
            const std::size_t every = in.byte();
            const std::size_t n = 1 + in.u16() % 60000; // below 64 KiB: read in one go
            k.data.assign(n, fill);
            if (every)
                for (std::size_t i = every - 1; i < n; i += every) k.data[i] = '\n';
            break;
        }
        case 3:
            k.kind = cmd_kind::feed_eof;
            break;
        case 4:
            k.kind = cmd_kind::start;
            k.o.kind = fuzz::op_kind::readline;
            break;
        case 5:
            k.kind = cmd_kind::start;
            k.o.kind = fuzz::op_kind::readuntil;
            k.o.separator = in.bytes(1 + (c >> 4) % 4);
            if (k.o.separator.empty()) k.o.separator = "\n";
            break;
        case 6:
            k.kind = cmd_kind::start;
            k.o.kind = fuzz::op_kind::readexactly;
            k.o.n = c & 0x80 ? in.u16() % 70000 : in.byte();
            break;
        case 7:
            k.kind = cmd_kind::start;
            k.o.kind = fuzz::op_kind::read_n;
            k.o.n = c & 0x80 ? in.u16() : in.byte();
            break;
        case 8:
            k.kind = cmd_kind::start;
            k.o.kind = fuzz::op_kind::read_into;
            k.o.n = c & 0x80 ? in.u16() : in.byte();
            break;
        case 9:
            k.kind = cmd_kind::start;
            k.o.kind = fuzz::op_kind::read_all;
            break;
        case 10:
            k.kind = cmd_kind::cancel;
            break;
        default:
            break;
        }
        script.push_back(std::move(k));
    }
    return limit;
}

// ---- running it --------------------------------------------------------------------

const char* kind_name(fuzz::op_kind k) {
    switch (k) {
    case fuzz::op_kind::readline: return "readline";
    case fuzz::op_kind::readuntil: return "readuntil";
    case fuzz::op_kind::readexactly: return "readexactly";
    case fuzz::op_kind::read_n: return "read(n)";
    case fuzz::op_kind::read_into: return "read(span)";
    case fuzz::op_kind::read_all: return "read()";
    }
    return "?";
}

std::string show(std::string_view s) {
    std::string out = "\"";
    for (std::size_t i = 0; i < s.size() && i < 40; ++i) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if (c == '\n') out += "\\n";
        else if (c >= 32 && c < 127 && c != '"' && c != '\\') out += static_cast<char>(c);
        else {
            char b[5];
            std::snprintf(b, sizeof b, "\\x%02x", c);
            out += b;
        }
    }
    if (s.size() > 40) out += "...(" + std::to_string(s.size()) + " bytes)";
    return out + "\"";
}

std::string show(const fuzz::outcome& o) {
    switch (o.kind) {
    case fuzz::outcome_kind::value: return "value " + show(o.data);
    case fuzz::outcome_kind::limit_overrun: return "limit_overrun consumed=" + std::to_string(o.consumed);
    case fuzz::outcome_kind::incomplete:
        return "incomplete partial=" + show(o.data) + " expected=" + std::to_string(o.expected);
    case fuzz::outcome_kind::cancelled: return "cancelled";
    }
    return "?";
}

struct real_op {
    bool done = false;
    fuzz::outcome result;
    std::string other_error; // anything but the outcomes above
};

ua::task<> run_op(ua::stream_reader* r, fuzz::op o, real_op* out) {
    try {
        switch (o.kind) {
        case fuzz::op_kind::readline:
            out->result.data = co_await r->readline();
            break;
        case fuzz::op_kind::readuntil:
            out->result.data = co_await r->readuntil(o.separator);
            break;
        case fuzz::op_kind::readexactly:
            out->result.data = co_await r->readexactly(o.n);
            break;
        case fuzz::op_kind::read_n:
            out->result.data = co_await r->read(o.n);
            break;
        case fuzz::op_kind::read_into: {
            std::string buf(o.n, '\0');
            const std::size_t got = co_await r->read(std::span<char>(buf.data(), buf.size()));
            buf.resize(got);
            out->result.data = std::move(buf);
            break;
        }
        case fuzz::op_kind::read_all:
            out->result.data = co_await r->read();
            break;
        }
    } catch (const ua::limit_overrun_error& e) {
        out->result.kind = fuzz::outcome_kind::limit_overrun;
        out->result.consumed = e.consumed();
    } catch (const ua::incomplete_read_error& e) {
        out->result.kind = fuzz::outcome_kind::incomplete;
        out->result.data = e.partial();
        out->result.expected = e.expected();
    } catch (const ua::cancelled_error&) {
        out->result.kind = fuzz::outcome_kind::cancelled;
    } catch (const std::exception& e) {
        out->other_error = e.what();
    }
    out->done = true;
}

int listening_socket(std::string& path) {
    path = "/tmp/uvasync-fuzz-reader-" + std::to_string(::getpid()) + ".sock";
    ::unlink(path.c_str());
    int l = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
    if (l < 0 || ::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(l, 16) != 0) {
        std::perror("fuzz_stream_reader: listening socket");
        std::abort();
    }
    return l;
}

// One listening socket for the process's inputs.
struct listener {
    std::string path;
    int fd = listening_socket(path);
    ~listener() {
        ::close(fd);
        ::unlink(path.c_str());
    }
};

class session {
public:
    session(std::size_t limit, const std::vector<cmd>& script) : model_(limit), script_(script), limit_(limit) {}

    ua::task<> run() {
        static listener l;
        ua::task<std::pair<ua::stream_reader, ua::stream_writer>> connecting = ua::open_unix_connection(l.path, limit_);
        auto rw = co_await std::move(connecting);
        reader_ = &rw.first;
        uv_os_fd_t fd = -1;
        uv_fileno(reinterpret_cast<uv_handle_t*>(rw.second.native_handle()), &fd);
        reader_fd_ = fd;
        // (libFuzzer's timeout watchdog is a SIGALRM every second: blocking
        // calls here are retried when it interrupts them)
        do peer_ = ::accept(l.fd, nullptr, nullptr);
        while (peer_ < 0 && errno == EINTR);
        if (peer_ < 0) fail("accept");
        trace_ = "limit=" + std::to_string(limit_) + "\n";

        for (const cmd& c : script_) {
            switch (c.kind) {
            case cmd_kind::feed:
                if (c.data.empty() || eof_queued_) break;
                held_.push_back(c);
                co_await deliver();
                break;
            case cmd_kind::feed_eof:
                if (eof_queued_) break;
                eof_queued_ = true;
                held_.push_back(c);
                co_await deliver();
                break;
            case cmd_kind::start:
                if (op_) break; // one reader at a time, as asyncio requires
                co_await start(c.o);
                break;
            case cmd_kind::cancel:
                if (op_) co_await cancel();
                break;
            case cmd_kind::turns:
                co_await turns(3);
                co_await compare("turns");
                break;
            }
        }
        // A waiting operation ends at EOF.
        if (op_ && !eof_queued_) {
            eof_queued_ = true;
            held_.push_back(cmd{cmd_kind::feed_eof, {}, {}});
            co_await deliver();
        }
        if (op_) co_await cancel();
        rw.second.abort();
        ::close(peer_);
    }

private:
    [[noreturn]] void fail(const std::string& why) {
        std::fprintf(stderr, "fuzz_stream_reader: MISMATCH: %s\n-- trace --\n%s", why.c_str(), trace_.c_str());
        std::fflush(stderr);
        std::abort();
    }

    static ua::task<> turns(int n) {
        for (int i = 0; i < n; ++i) co_await ua::sleep(0s);
    }

    // Waits until the reader has taken everything the kernel holds for it.
    ua::task<> settle_kernel() {
        const auto until = std::chrono::steady_clock::now() + 5s;
        for (;;) {
            int queued = 0;
            ::ioctl(reader_fd_, FIONREAD, &queued);
            if (queued == 0) break;
            if (std::chrono::steady_clock::now() > until)
                fail("the reader stopped reading with " + std::to_string(queued) +
                     " bytes in the kernel (the model's transport is reading)");
            co_await ua::sleep(0s);
        }
        co_await turns(3);
    }

    // Sends held chunks (and EOF) while the model's transport reads.
    ua::task<> deliver() {
        while (!held_.empty() && !model_.paused()) {
            cmd c = std::move(held_.front());
            held_.pop_front();
            std::optional<fuzz::outcome> r;
            if (c.kind == cmd_kind::feed) {
                trace_ += "feed " + show(c.data) + "\n";
                for (std::size_t off = 0; off < c.data.size();) {
                    const ssize_t n = ::send(peer_, c.data.data() + off, c.data.size() - off, MSG_NOSIGNAL);
                    if (n < 0 && errno == EINTR) continue;
                    if (n <= 0) fail("send");
                    off += static_cast<std::size_t>(n);
                }
                r = model_.feed(c.data);
                co_await settle_kernel();
            } else {
                trace_ += "feed_eof\n";
                ::shutdown(peer_, SHUT_WR);
                r = model_.feed_eof();
                co_await turns(3);
            }
            co_await settle_op(&r, "after the feed");
        }
    }

    // `*r`: what the model says the waiting operation did. (A pointer: GCC 12
    // must not see a std::optional<outcome> temporary across the co_await.)
    ua::task<> settle_op(const std::optional<fuzz::outcome>* rp, const char* when) {
        const std::optional<fuzz::outcome>& r = *rp;
        if (op_ && r) {
            const auto until = std::chrono::steady_clock::now() + 5s;
            while (!real_.done) {
                if (std::chrono::steady_clock::now() > until)
                    fail(std::string(kind_name(op_->kind)) + " " + when + ": the model completed it (" + show(*r) +
                         ") but uvasync's is still waiting");
                co_await ua::sleep(0s);
            }
            co_await handle_;
            check_outcome(*r);
            op_.reset();
        }
        if (model_.at_eof()) { // the EOF may need another turn to arrive
            const auto until = std::chrono::steady_clock::now() + 5s;
            while (!reader_->at_eof() && reader_->buffered_size() == 0 && std::chrono::steady_clock::now() < until)
                co_await ua::sleep(0s);
        }
        co_await compare(when);
    }

    void check_outcome(const fuzz::outcome& expected) {
        if (!real_.other_error.empty())
            fail(std::string(kind_name(op_->kind)) + " threw \"" + real_.other_error + "\"; the model: " + show(expected));
        trace_ += "  -> " + show(expected) + "\n";
        if (!(real_.result == expected))
            fail(std::string(kind_name(op_->kind)) + ": uvasync " + show(real_.result) + ", the model " + show(expected));
    }

    ua::task<> compare(const char* when) {
        if (op_ && real_.done)
            fail(std::string(kind_name(op_->kind)) + " " + when + ": uvasync's completed (" + show(real_.result) +
                 (real_.other_error.empty() ? "" : " / " + real_.other_error) + ") but the model's still waits");
        if (reader_->buffered_size() != model_.buffer().size())
            fail(std::string(when) + ": uvasync buffers " + std::to_string(reader_->buffered_size()) +
                 " bytes, the model " + std::to_string(model_.buffer().size()));
        if (reader_->at_eof() != model_.at_eof())
            fail(std::string(when) + ": at_eof() is " + (reader_->at_eof() ? "true" : "false") + ", the model's " +
                 (model_.at_eof() ? "true" : "false"));
        co_return;
    }

    ua::task<> start(const fuzz::op& o) {
        trace_ += std::string("start ") + kind_name(o.kind) +
                  (o.kind == fuzz::op_kind::readuntil ? " " + show(o.separator) : "") +
                  (o.n ? " n=" + std::to_string(o.n) : "") + "\n";
        op_ = o;
        real_ = real_op{};
        handle_ = ua::create_task(run_op(reader_, o, &real_));
        std::optional<fuzz::outcome> r = model_.start(o);
        co_await turns(3);
        co_await settle_op(&r, "when started");
        co_await deliver(); // the model may read again
    }

    ua::task<> cancel() {
        trace_ += std::string("cancel ") + kind_name(op_->kind) + "\n";
        handle_.cancel();
        model_.cancel();
        const auto until = std::chrono::steady_clock::now() + 5s;
        while (!real_.done) {
            if (std::chrono::steady_clock::now() > until) fail("a cancelled read does not finish");
            co_await ua::sleep(0s);
        }
        try {
            co_await handle_;
        } catch (const ua::cancelled_error&) {
        }
        if (real_.result.kind != fuzz::outcome_kind::cancelled)
            fail(std::string(kind_name(op_->kind)) + " completed when cancelled (" + show(real_.result) + ")");
        op_.reset();
        co_await turns(3);
        co_await compare("after the cancellation");
        co_await deliver();
    }

    fuzz::stream_reader_model model_;
    const std::vector<cmd>& script_;
    std::size_t limit_;
    ua::stream_reader* reader_ = nullptr;
    int reader_fd_ = -1;
    int peer_ = -1;
    std::deque<cmd> held_; // chunks (and EOF) the model's transport has not read yet
    bool eof_queued_ = false;
    std::optional<fuzz::op> op_;
    real_op real_;
    ua::task_handle<> handle_;
    std::string trace_;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::vector<cmd> script;
    const std::size_t limit = parse(data, size, script);
    ua::event_loop loop;
    session s(limit, script);
    loop.run_until_complete(s.run());
    loop.close();
    return 0;
}
