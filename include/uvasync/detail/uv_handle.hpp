// Ownership of a libuv handle: its memory lives until libuv's close callback,
// not until the C++ object that used it goes away.
#pragma once

#include <uv.h>

#include <utility>

#include "../errors.hpp"

namespace uvasync::detail {

template <class Handle> class uv_handle {
public:
    uv_handle() noexcept = default;

    // Allocates a handle and initialises it with `init(Handle*)` (a libuv
    // init call returning a status); throws std::system_error on failure.
    template <class Init> static uv_handle make(Init&& init, const char* what) {
        auto* h = new Handle{};
        if (int rc = std::forward<Init>(init)(h); rc < 0) {
            delete h;
            throw_uv_error(rc, what);
        }
        return uv_handle(h);
    }

    uv_handle(uv_handle&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
    uv_handle& operator=(uv_handle&& o) noexcept {
        if (this != &o) {
            close();
            h_ = std::exchange(o.h_, nullptr);
        }
        return *this;
    }
    ~uv_handle() { close(); }

    Handle* get() const noexcept { return h_; }
    Handle* operator->() const noexcept { return h_; }
    explicit operator bool() const noexcept { return h_ != nullptr; }
    uv_handle_t* base() const noexcept { return reinterpret_cast<uv_handle_t*>(h_); }

    // Starts closing; the memory is freed by the close callback. No callback
    // of the handle runs after this.
    void close() noexcept {
        if (!h_) return;
        auto* b = reinterpret_cast<uv_handle_t*>(std::exchange(h_, nullptr));
        b->data = nullptr;
        if (!uv_is_closing(b)) uv_close(b, [](uv_handle_t* x) { delete reinterpret_cast<Handle*>(x); });
    }

private:
    explicit uv_handle(Handle* h) noexcept : h_(h) {}
    Handle* h_ = nullptr;
};

} // namespace uvasync::detail
