// The storage behind one http::request (private): the parser and what it
// found (views into the connection's input, the body), an arena for decoded
// strings, the routing result, and the connection's output buffer.
//
// Contexts are pooled per thread and a connection holds one only while a
// request is in progress (an idle keep-alive connection holds none), so the
// buffers and the arena's block are reused from request to request and the
// hot path allocates nothing once warm.
#pragma once

#include <uvasync/http/request.hpp>
#include <uvasync/http/response.hpp>
#include <uvasync/http/router.hpp>

#include "request_parser.hpp"

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace uvasync::http::detail {

// A bump allocator (decoded paths and parameters, unfolded header values):
// allocations come from a block inside the context and,
// once that is used up, from blocks that reset() frees. Nothing is freed one
// by one.
class arena {
public:
    arena() noexcept : p_(first_), end_(first_ + sizeof first_) {}
    arena(const arena&) = delete;
    arena& operator=(const arena&) = delete;
    ~arena() { reset(); }

    void* allocate(std::size_t n, std::size_t align) {
        char* p = align_up(p_, align);
        if (p + n > end_) p = grow(n, align);
        p_ = p + n;
        return p;
    }
    void reset() noexcept {
        while (extra_) std::free(std::exchange(extra_, extra_->next));
        p_ = first_;
        end_ = first_ + sizeof first_;
    }

private:
    struct block {
        block* next;
    };
    static char* align_up(char* p, std::size_t a) noexcept {
        const auto v = reinterpret_cast<std::uintptr_t>(p);
        return reinterpret_cast<char*>((v + a - 1) & ~(static_cast<std::uintptr_t>(a) - 1));
    }
    char* grow(std::size_t n, std::size_t align);

    alignas(std::max_align_t) char first_[1024];
    char* p_;
    char* end_;
    block* extra_ = nullptr;
};

// A growable byte buffer that, unlike std::string, does not zero-fill the
// room it makes: serialization reserves an upper bound, writes, and sets
// the size.
class byte_buffer {
public:
    bool empty() const noexcept { return size_ == 0; }
    std::size_t size() const noexcept { return size_; }
    std::size_t capacity() const noexcept { return cap_; }
    std::string_view view() const noexcept { return std::string_view(data_.get(), size_); }
    void clear() noexcept { size_ = 0; }
    void release_memory() noexcept {
        data_.reset();
        size_ = cap_ = 0;
    }
    // Room for n more bytes; returns where they go. commit() them after.
    char* prepare(std::size_t n) {
        if (size_ + n > cap_) {
            const std::size_t want = std::max(size_ + n, std::max<std::size_t>(cap_ * 2, 512));
            auto bigger = std::make_unique_for_overwrite<char[]>(want);
            if (size_) std::memcpy(bigger.get(), data_.get(), size_);
            data_ = std::move(bigger);
            cap_ = want;
        }
        return data_.get() + size_;
    }
    void commit(char* end) noexcept { size_ = static_cast<std::size_t>(end - data_.get()); }
    void append(std::string_view s) {
        char* p = prepare(s.size());
        std::memcpy(p, s.data(), s.size());
        size_ += s.size();
    }

private:
    std::unique_ptr<char[]> data_;
    std::size_t size_ = 0;
    std::size_t cap_ = 0;
};

struct connection;

struct request_context {
    request req{this};
    arena mem;
    std::optional<request_parser> parser; // while a request is parsed
    parsed_request parsed;
    bool header_seen = false;
    // Where the request is in the connection's input buffer: its first byte
    // and (once header_seen) the end of its head. The bytes from head_begin
    // on stay put while the request is in progress (parsed's views).
    std::size_t head_begin = 0;
    std::size_t head_end = 0;
    // Responses serialized and not yet handed to the stream writer.
    byte_buffer out;
    // The connection's input once it outgrows the connection's own buffer.
    std::unique_ptr<char[]> in_heap;
    std::size_t in_heap_size = 0;

    // Routing: the handler matched, or the status to answer (404/405, with
    // the Allow value for 405), and the path parameters.
    const handler* matched = nullptr;
    int route_status = 0;
    std::string allow;
    std::vector<std::pair<std::string_view, std::string_view>> params;
    std::string_view path; // decoded, once asked for
    bool path_ready = false;

    // The handler's answer (here, not in the connection's coroutine frame,
    // so that an idle connection does not carry its room).
    response answer;

    connection* conn = nullptr;
    request_context* next_free = nullptr;

    // Gets the parser ready for a new request.
    void start(std::size_t max_header, std::size_t max_body);
    // Forgets the request (keeps the buffers).
    void finish() noexcept;

    // A decoded copy of `s` in the arena (s itself when nothing is encoded).
    std::string_view decode(std::string_view s, bool plus_is_space);

    static request_context* acquire();
    static void release(request_context* c) noexcept;
};

struct request_access {
    static request_context& of(const request& r) noexcept { return *r.c_; }
};

// Percent-decoding into `out`; a malformed escape is kept as it is, as
// aiohttp (yarl) keeps it.
void percent_decode(std::string_view in, std::string& out, bool plus_is_space);

// The path part of a request target (origin or absolute form), undecoded.
std::string_view raw_path_of(std::string_view target) noexcept;
// Where the query ('?') or fragment ('#') of `s` begins; s.size() if nowhere.
std::size_t query_start(std::string_view s) noexcept;

// Case-insensitive ASCII comparison, as for header names and tokens.
bool iequals(std::string_view a, std::string_view b) noexcept;

} // namespace uvasync::http::detail
