// The error types and libuv's error category.
#include <uvasync/errors.hpp>

#include <uv.h>

#include <cerrno>

namespace uvasync {

exception_group::exception_group(std::string message, std::vector<std::exception_ptr> exceptions)
    : message_(std::move(message)), exceptions_(std::move(exceptions)) {
    what_ = message_ + " (" + std::to_string(exceptions_.size()) + " sub-exception" +
            (exceptions_.size() == 1 ? "" : "s") + ")";
}

incomplete_read_error::incomplete_read_error(std::string partial, std::size_t expected)
    : std::runtime_error(expected ? std::to_string(partial.size()) + " bytes read on a total of " +
                                        std::to_string(expected) + " expected bytes"
                                  : std::to_string(partial.size()) + " bytes read on a total of undefined expected bytes"),
      partial_(std::move(partial)), expected_(expected) {}

namespace {
class uv_error_category final : public std::error_category {
public:
    const char* name() const noexcept override { return "libuv"; }
    std::string message(int code) const override { return uv_strerror(code); }
    // libuv's error numbers are negated errno values on Unix: map them to the
    // generic category so that `code == std::errc::connection_refused` holds.
    std::error_condition default_error_condition(int code) const noexcept override {
        if (code < 0 && code > -1000) return std::error_condition(-code, std::generic_category());
        return std::error_condition(code, *this);
    }
};
} // namespace

const std::error_category& uv_category() noexcept {
    static const uv_error_category category;
    return category;
}

std::system_error make_uv_error(int status, const char* what) {
    return std::system_error(std::error_code(status, uv_category()), what);
}

void throw_uv_error(int status, const char* what) { throw make_uv_error(status, what); }

} // namespace uvasync
