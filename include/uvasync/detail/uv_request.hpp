// A libuv request that may outlive the operation waiting for it: the one
// request base under DNS, connect, write, UDP send and file operations.
//
// Once libuv has accepted a request its callback always runs, possibly after
// the awaiting frame is gone (the task was cancelled, or event_loop::close()
// destroyed it). So the request lives apart from the frame and is freed by
// its own callback. The request points at its owner; an owner that gives up
// detaches it (and asks uv_cancel to stop it if it has not started), and the
// callback of a detached request only cleans up.
#pragma once

#include <uv.h>

#include "frame_pool.hpp"

namespace uvasync::detail {

template <class Req, class Owner> class uv_request : public pooled {
public:
    Req req;

    explicit uv_request(Owner* owner) noexcept : owner_(owner) { req.data = this; }
    uv_request(const uv_request&) = delete;
    uv_request& operator=(const uv_request&) = delete;

    // The request behind a libuv callback's argument.
    static uv_request* of(Req* r) noexcept { return static_cast<uv_request*>(r->data); }
    // Who waits for the completion; null once detached.
    Owner* owner() const noexcept { return owner_; }
    void set_owner(Owner* o) noexcept { owner_ = o; }
    // The owner gives up: the completion will find nobody. A request that
    // has not started yet is cancelled (its callback then sees UV_ECANCELED).
    void detach() noexcept {
        owner_ = nullptr;
        uv_cancel(reinterpret_cast<uv_req_t*>(&req)); // UV_EBUSY when running: then its result is dropped
    }

private:
    Owner* owner_;
};

} // namespace uvasync::detail
