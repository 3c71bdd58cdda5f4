// outcome<T>: the value or the exception of one awaited operation; what
// gather_settled returns per child (asyncio's gather(..., return_exceptions=True)
// puts exceptions in place of results).
#pragma once

#include <exception>
#include <optional>
#include <utility>

#include "errors.hpp"

namespace uvasync {

namespace detail {
// Whether `e` holds a cancelled_error (rethrown to be looked at).
inline bool is_cancellation(const std::exception_ptr& e) noexcept {
    if (!e) return false;
    try {
        std::rethrow_exception(e);
    } catch (const cancelled_error&) {
        return true;
    } catch (...) {
        return false;
    }
}
} // namespace detail

template <class T> class outcome {
public:
    explicit outcome(T value) : value_(std::move(value)) {}
    explicit outcome(std::exception_ptr error) noexcept : error_(std::move(error)) {}

    bool has_value() const noexcept { return value_.has_value(); }
    explicit operator bool() const noexcept { return has_value(); }
    // The value; rethrows the exception if there is one.
    T& value() & {
        if (error_) std::rethrow_exception(error_);
        return *value_;
    }
    const T& value() const& {
        if (error_) std::rethrow_exception(error_);
        return *value_;
    }
    T&& value() && {
        if (error_) std::rethrow_exception(error_);
        return std::move(*value_);
    }
    // The exception (a cancelled child's holds its cancelled_error); null
    // when there is a value.
    std::exception_ptr error() const noexcept { return error_; }
    // The operation was cancelled: error() holds a cancelled_error.
    bool cancelled() const noexcept { return detail::is_cancellation(error_); }

private:
    std::optional<T> value_;
    std::exception_ptr error_;
};

template <> class outcome<void> {
public:
    outcome() noexcept = default;
    explicit outcome(std::exception_ptr error) noexcept : error_(std::move(error)) {}

    bool has_value() const noexcept { return !error_; }
    explicit operator bool() const noexcept { return has_value(); }
    void value() const {
        if (error_) std::rethrow_exception(error_);
    }
    std::exception_ptr error() const noexcept { return error_; }
    bool cancelled() const noexcept { return detail::is_cancellation(error_); }

private:
    std::exception_ptr error_;
};

} // namespace uvasync
