// The exceptions of uvasync, one for each of asyncio's.
//
// cancelled_error is deliberately not a std::exception: like asyncio's
// CancelledError (a BaseException), it must pass through
// `catch (const std::exception&)` so that cancellation is never swallowed by
// accident. Operating-system errors are std::system_error in uv_category(),
// comparable with std::errc.
#pragma once

#include <cstddef>
#include <exception>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace uvasync {

// asyncio.CancelledError. Not derived from std::exception, on purpose.
class cancelled_error {
public:
    cancelled_error() = default;
    explicit cancelled_error(std::string message) : message_(std::move(message)) {}
    // The message given to task_handle::cancel(msg); empty when none was.
    const std::string& message() const noexcept { return message_; }
    const char* what() const noexcept { return message_.empty() ? "cancelled" : message_.c_str(); }

private:
    std::string message_;
};

// asyncio.TimeoutError.
class timeout_error : public std::runtime_error {
public:
    timeout_error() : std::runtime_error("timed out") {}
    using std::runtime_error::runtime_error;
};

// asyncio.InvalidStateError: e.g. result() of a task that is not done.
class invalid_state_error : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

// asyncio.ExceptionGroup: the failures a task_group collected.
class exception_group : public std::exception {
public:
    exception_group(std::string message, std::vector<std::exception_ptr> exceptions);
    const char* what() const noexcept override { return what_.c_str(); }
    const std::string& message() const noexcept { return message_; }
    const std::vector<std::exception_ptr>& exceptions() const noexcept { return exceptions_; }

private:
    std::string message_;
    std::string what_;
    std::vector<std::exception_ptr> exceptions_;
};

// asyncio.IncompleteReadError: EOF came before the expected bytes.
// expected() is 0 when no exact count was expected (readuntil).
class incomplete_read_error : public std::runtime_error {
public:
    incomplete_read_error(std::string partial, std::size_t expected);
    const std::string& partial() const noexcept { return partial_; }
    std::size_t expected() const noexcept { return expected_; }

private:
    std::string partial_;
    std::size_t expected_;
};

// asyncio.LimitOverrunError: a separator was not found within the limit.
class limit_overrun_error : public std::runtime_error {
public:
    limit_overrun_error(const std::string& message, std::size_t consumed)
        : std::runtime_error(message), consumed_(consumed) {}
    std::size_t consumed() const noexcept { return consumed_; }

private:
    std::size_t consumed_;
};

// asyncio.QueueEmpty / QueueFull / QueueShutDown.
class queue_empty : public std::runtime_error {
public:
    queue_empty() : std::runtime_error("queue is empty") {}
};
class queue_full : public std::runtime_error {
public:
    queue_full() : std::runtime_error("queue is full") {}
};
class queue_shut_down : public std::runtime_error {
public:
    queue_shut_down() : std::runtime_error("queue is shut down") {}
};

// asyncio.BrokenBarrierError.
class broken_barrier_error : public std::runtime_error {
public:
    broken_barrier_error() : std::runtime_error("barrier is broken") {}
};

// The error category of libuv's error numbers (UV_ECONNREFUSED, ...). Its
// error_condition mapping makes `code == std::errc::connection_refused` hold.
const std::error_category& uv_category() noexcept;

// A std::system_error for a negative libuv status, with `what` saying which
// operation failed: "connect: connection refused".
[[noreturn]] void throw_uv_error(int status, const char* what);
std::system_error make_uv_error(int status, const char* what);

} // namespace uvasync
