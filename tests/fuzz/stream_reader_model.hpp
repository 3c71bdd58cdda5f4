// A reference model of asyncio's StreamReader (CPython 3.11,
// Lib/asyncio/streams.py), written from its documented and observable
// behaviour, for checking uvasync::stream_reader against.
//
// The model is a buffer, an EOF flag, the transport's paused flag (asyncio
// pauses reading when more than 2 x limit bytes are buffered, resumes when
// a read leaves at most `limit`, and always resumes when a reader must wait)
// and at most one operation waiting for data. An operation either completes
// when started, or waits; every feed_data / feed_eof then runs the waiting
// operation on from where asyncio's coroutine would resume (readuntil keeps
// its search offset, read() its blocks).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace fuzz {

enum class op_kind { readline, readuntil, readexactly, read_n, read_into, read_all };

struct op {
    op_kind kind = op_kind::read_n;
    std::size_t n = 0;     // readexactly, read_n, read_into
    std::string separator; // readuntil
};

enum class outcome_kind { value, limit_overrun, incomplete, cancelled };

struct outcome {
    outcome_kind kind = outcome_kind::value;
    std::string data;          // the value; incomplete_read_error's partial
    std::size_t consumed = 0;  // limit_overrun_error's consumed (readuntil only)
    std::size_t expected = 0;  // incomplete_read_error's expected
    bool compare_consumed = true;

    friend bool operator==(const outcome& a, const outcome& b) {
        if (a.kind != b.kind || a.data != b.data) return false;
        if (a.kind == outcome_kind::limit_overrun && a.compare_consumed && b.compare_consumed)
            return a.consumed == b.consumed;
        if (a.kind == outcome_kind::incomplete) return a.expected == b.expected;
        return true;
    }
};

class stream_reader_model {
public:
    explicit stream_reader_model(std::size_t limit) : limit_(limit) {}

    const std::string& buffer() const noexcept { return buf_; }
    bool eof() const noexcept { return eof_; }
    bool at_eof() const noexcept { return eof_ && buf_.empty(); }
    bool paused() const noexcept { return paused_; }
    bool waiting() const noexcept { return pending_.has_value(); }

    // Starts `o`; its outcome if it completes at once.
    std::optional<outcome> start(const op& o) {
        pending_ = o;
        offset_ = 0;
        blocks_.clear();
        inner_waited_ = false;
        waited_ = false;
        return run();
    }

    // feed_data: the outcome of the waiting operation if it completes.
    std::optional<outcome> feed(std::string_view chunk) {
        if (chunk.empty()) return std::nullopt; // asyncio ignores it (no wake-up)
        buf_.append(chunk);
        if (!paused_ && buf_.size() > 2 * limit_) paused_ = true;
        return resume();
    }

    // feed_eof.
    std::optional<outcome> feed_eof() {
        eof_ = true;
        return resume();
    }

    // The waiting operation is cancelled: it gives up where it is (read()
    // drops the blocks it took, as asyncio's does).
    void cancel() noexcept { pending_.reset(); }

private:
    std::optional<outcome> resume() {
        if (!pending_) return std::nullopt;
        waited_ = true;
        return run();
    }

    std::optional<outcome> done(outcome o) {
        pending_.reset();
        return o;
    }

    // _wait_for_data: a waiting reader resumes the transport.
    std::nullopt_t wait() {
        paused_ = false;
        return std::nullopt;
    }

    // _maybe_resume_transport.
    void maybe_resume() {
        if (paused_ && buf_.size() <= limit_) paused_ = false;
    }

    std::string take(std::size_t n) {
        std::string d = buf_.substr(0, n);
        buf_.erase(0, d.size());
        return d;
    }

    std::optional<outcome> run() {
        const op o = *pending_;
        switch (o.kind) {
        case op_kind::readuntil:
            return readuntil(o.separator, true);
        case op_kind::readline:
            return readuntil("\n", false);
        case op_kind::readexactly:
            return readexactly(o.n);
        case op_kind::read_n:
        case op_kind::read_into:
            return read_n(o.n);
        case op_kind::read_all:
            return read_all();
        }
        return std::nullopt;
    }

    // readuntil (and readline, which turns its errors into results).
    std::optional<outcome> readuntil(const std::string& sep, bool until) {
        const std::size_t seplen = sep.size();
        std::size_t isep = std::string::npos;
        for (;;) {
            const std::size_t buflen = buf_.size();
            if (buflen >= offset_ + seplen) {
                isep = buf_.find(sep, offset_);
                if (isep != std::string::npos) break;
                offset_ = buflen + 1 - seplen;
                if (offset_ > limit_) return overrun(offset_, sep, until);
            }
            if (eof_) {
                std::string chunk = take(buf_.size());
                if (!until) return done(outcome{outcome_kind::value, std::move(chunk)}); // readline: the partial line
                return done(outcome{outcome_kind::incomplete, std::move(chunk), 0, 0});
            }
            return wait();
        }
        if (isep > limit_) return overrun(isep, sep, until);
        std::string chunk = take(isep + seplen);
        maybe_resume();
        return done(outcome{outcome_kind::value, std::move(chunk)});
    }

    std::optional<outcome> overrun(std::size_t consumed, const std::string& sep, bool until) {
        outcome r{outcome_kind::limit_overrun, {}, consumed};
        if (!until) {
            // readline: discard the line if its newline is there, else the buffer.
            if (buf_.compare(consumed, sep.size(), sep) == 0) buf_.erase(0, consumed + sep.size());
            else buf_.clear();
            maybe_resume();
            r.compare_consumed = false; // asyncio raises ValueError, without it
        }
        return done(r);
    }

    std::optional<outcome> readexactly(std::size_t n) {
        if (n == 0) return done(outcome{});
        while (buf_.size() < n) {
            if (eof_) {
                std::string partial = take(buf_.size());
                return done(outcome{outcome_kind::incomplete, std::move(partial), 0, n});
            }
            return wait();
        }
        std::string d = take(n);
        maybe_resume();
        return done(outcome{outcome_kind::value, std::move(d)});
    }

    std::optional<outcome> read_n(std::size_t n) {
        if (n == 0) return done(outcome{});
        if (!waited_ && buf_.empty() && !eof_) return wait();
        std::string d = take(n);
        maybe_resume();
        return done(outcome{outcome_kind::value, std::move(d)});
    }

    // read(): read(limit) until it returns nothing.
    std::optional<outcome> read_all() {
        for (;;) {
            if (!inner_waited_ && buf_.empty() && !eof_) {
                inner_waited_ = true;
                return wait();
            }
            if (inner_waited_ && !waited_) return std::nullopt; // (not resumed yet)
            inner_waited_ = false;
            waited_ = false;
            std::string block = take(limit_);
            maybe_resume();
            if (block.empty()) return done(outcome{outcome_kind::value, std::move(blocks_)});
            blocks_ += block;
        }
    }

    std::size_t limit_;
    std::string buf_;
    bool eof_ = false;
    bool paused_ = false;
    std::optional<op> pending_;
    std::size_t offset_ = 0; // readuntil's search offset, kept across waits
    std::string blocks_;     // read()'s blocks so far
    bool inner_waited_ = false;
    bool waited_ = false;    // resumed after a wait
};

} // namespace fuzz
