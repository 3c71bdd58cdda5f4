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
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
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
//
// Inner exceptions are held as exception_ptrs, in order; a nested group
// stays nested. what() is the message, the count, and one line per inner
// exception (its type and what(), nested groups indented):
//
//     unhandled errors in a task_group (2 sub-exceptions)
//       [1] std::runtime_error: boom
//       [2] std::system_error: connect: connection refused
//
// contains<E>() / find<E>() look for an inner exception of type E (or
// derived from it), depth first through nested groups; find's pointer
// refers to the exception object the group holds, valid while the group
// lives. split<E>() is ExceptionGroup.split(E): {the exceptions that are E,
// the rest}, each a group with this group's message and the nesting kept,
// nullopt where empty; when this group is itself an E, {a copy of it,
// nullopt}. A nested group that is an E goes to the matching side whole.
class exception_group : public std::exception {
public:
    // An empty list, or a null exception_ptr in it, is std::invalid_argument
    // (as ExceptionGroup rejects an empty sequence).
    exception_group(std::string message, std::vector<std::exception_ptr> exceptions);
    const char* what() const noexcept override { return what_.c_str(); }
    const std::string& message() const noexcept { return message_; }
    const std::vector<std::exception_ptr>& exceptions() const noexcept { return exceptions_; }

    template <class E> const E* find() const noexcept;
    template <class E> bool contains() const noexcept { return find<E>() != nullptr; }
    template <class E> std::pair<std::optional<exception_group>, std::optional<exception_group>> split() const;

private:
    std::string message_;
    std::string what_;
    std::vector<std::exception_ptr> exceptions_;
};

namespace detail {
// What one inner exception of a group is to find<E> and split<E>: an E, a
// group that is not an E, or neither. It is rethrown to be looked at (the
// only portable way to see the type behind an exception_ptr); the pointers
// refer to the object the exception_ptr holds.
template <class E> struct inner_exception {
    const E* match = nullptr;
    const exception_group* group = nullptr;
};
template <class E> inner_exception<E> look_at(const std::exception_ptr& e) noexcept {
    try {
        std::rethrow_exception(e);
    } catch (const E& x) {
        return {&x, nullptr};
    } catch (...) {
    }
    if constexpr (!std::is_base_of_v<E, exception_group>) {
        try {
            std::rethrow_exception(e);
        } catch (const exception_group& g) {
            return {nullptr, &g};
        } catch (...) {
        }
    }
    return {};
}
} // namespace detail

template <class E> const E* exception_group::find() const noexcept {
    for (const std::exception_ptr& e : exceptions_) {
        const detail::inner_exception<E> inner = detail::look_at<E>(e);
        if (inner.match) return inner.match;
        if (inner.group) {
            if (const E* x = inner.group->template find<E>()) return x;
        }
    }
    return nullptr;
}

template <class E>
std::pair<std::optional<exception_group>, std::optional<exception_group>> exception_group::split() const {
    if constexpr (std::is_base_of_v<E, exception_group>) {
        return {*this, std::nullopt};
    } else {
        if constexpr (std::is_polymorphic_v<E>) { // a group derived from exception_group may be an E
            if (dynamic_cast<const E*>(static_cast<const std::exception*>(this))) return {*this, std::nullopt};
        }
        std::vector<std::exception_ptr> match, rest;
        for (const std::exception_ptr& e : exceptions_) {
            const detail::inner_exception<E> inner = detail::look_at<E>(e);
            if (inner.match) {
                match.push_back(e);
            } else if (inner.group) {
                auto [m, r] = inner.group->template split<E>();
                if (m) match.push_back(std::make_exception_ptr(std::move(*m)));
                if (r) rest.push_back(std::make_exception_ptr(std::move(*r)));
            } else {
                rest.push_back(e);
            }
        }
        std::pair<std::optional<exception_group>, std::optional<exception_group>> parts;
        if (!match.empty()) parts.first.emplace(message_, std::move(match));
        if (!rest.empty()) parts.second.emplace(message_, std::move(rest));
        return parts;
    }
}

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
