// redis_subscriber: PSUBSCRIBE on Redis through hiredis's asynchronous
// client, driven by the running uvasync loop (hiredis's libuv adapter on
// event_loop::native_handle()). Part of examples/push_service.cpp.
#pragma once

#include <uvasync/uvasync.hpp>

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>

#include <functional>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>

// Debian's hiredis 0.14 libuv adapter drops a poll error (status < 0), and
// libuv reports a refused connect or a reset as one (UV_EBADF): hiredis
// would never hear of it. On an error these hand hiredis the events it
// waits for, so that it finds the error on the socket itself (what newer
// hiredis adapters do).
static void poll_events(uv_poll_t* handle, int status, int events) {
    auto* p = static_cast<redisLibuvEvents*>(handle->data);
    redisLibuvPoll(handle, 0, status < 0 ? p->events : events);
}
static void repoll(void* adapter) {
    auto* p = static_cast<redisLibuvEvents*>(adapter);
    if (p->events) uv_poll_start(&p->handle, p->events, poll_events);
}
static void attach_to_loop(redisAsyncContext* ctx, uv_loop_t* loop) {
    if (redisLibuvAttach(ctx, loop) != REDIS_OK) throw std::runtime_error("redis: cannot attach to the loop");
    ctx->ev.addRead = [](void* p) {
        redisLibuvAddRead(p);
        repoll(p);
    };
    ctx->ev.delRead = [](void* p) {
        redisLibuvDelRead(p);
        repoll(p);
    };
    ctx->ev.addWrite = [](void* p) {
        redisLibuvAddWrite(p);
        repoll(p);
    };
    ctx->ev.delWrite = [](void* p) {
        redisLibuvDelWrite(p);
        repoll(p);
    };
}

// PSUBSCRIBE on Redis through hiredis, on the running loop. Calls
// on_message(channel, data) for every message, from the loop's thread.
class redis_subscriber {
public:
    using handler = std::function<void(std::string_view, std::string_view)>;
    redis_subscriber(const std::string& host, int port, const std::string& pattern, handler on_message)
        : on_message_(std::move(on_message)) {
        ctx_ = redisAsyncConnect(host.c_str(), port);
        if (!ctx_) throw std::bad_alloc();
        try {
            if (ctx_->err) throw std::runtime_error("redis: " + std::string(ctx_->errstr));
            attach_to_loop(ctx_, uvasync::get_running_loop().native_handle());
        } catch (...) {
            redisAsyncFree(ctx_);
            throw;
        }
        ctx_->data = this;
        redisAsyncSetConnectCallback(ctx_, on_connect);
        redisAsyncSetDisconnectCallback(ctx_, on_disconnect);
        redisAsyncCommand(ctx_, on_reply, this, "PSUBSCRIBE %s", pattern.c_str());
    }
    ~redis_subscriber() {
        if (!ctx_) return;
        closing_ = true;
        redisAsyncFree(ctx_); // the adapter's uv_poll_t is freed by its close callback
    }
    redis_subscriber(const redis_subscriber&) = delete;
    redis_subscriber& operator=(const redis_subscriber&) = delete;

    // Waits for Redis to confirm the subscription; throws if it cannot.
    uvasync::task<> subscribed() {
        co_await state_->changed.wait();
        if (!state_->error.empty()) throw std::runtime_error(state_->error);
    }
    // Waits until the connection to Redis is lost; returns why. (The task
    // shares the state: it may outlive the subscriber.)
    uvasync::task<std::string> lost() { return wait_lost(state_); }

private:
    struct state {
        uvasync::event changed, lost;
        std::string error;
    };
    static uvasync::task<std::string> wait_lost(std::shared_ptr<state> s) {
        co_await s->lost.wait();
        co_return s->error;
    }
    static void on_reply(redisAsyncContext*, void* r, void* self_ptr) {
        auto* self = static_cast<redis_subscriber*>(self_ptr);
        auto* reply = static_cast<redisReply*>(r);
        if (self->closing_ || !reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3) return;
        const std::string_view kind(reply->element[0]->str, reply->element[0]->len);
        if (kind == "psubscribe") {
            self->state_->changed.set();
        } else if (kind == "pmessage" && reply->elements == 4) {
            self->on_message_(std::string_view(reply->element[2]->str, reply->element[2]->len),
                              std::string_view(reply->element[3]->str, reply->element[3]->len));
        }
    }
    static void on_connect(const redisAsyncContext* ctx, int status) {
        if (status != REDIS_OK) on_disconnect(ctx, status); // (hiredis frees it without on_disconnect)
    }
    static void on_disconnect(const redisAsyncContext* ctx, int) {
        auto* self = static_cast<redis_subscriber*>(ctx->data);
        if (self->closing_) return;
        self->ctx_ = nullptr; // hiredis frees the context after this callback
        self->state_->error = std::string("redis: ") + (ctx->err ? ctx->errstr : "disconnected");
        self->state_->changed.set();
        self->state_->lost.set();
    }

    redisAsyncContext* ctx_ = nullptr;
    handler on_message_;
    std::shared_ptr<state> state_ = std::make_shared<state>();
    bool closing_ = false;
};
