// The error types and libuv's error category.
#include <uvasync/errors.hpp>

#include <uv.h>

#include <cxxabi.h>

#include <cerrno>
#include <cstdlib>
#include <memory>
#include <typeinfo>

namespace uvasync {

namespace {

// What what() shows of each level: as Python's traceback, the first 15
// exceptions of a group and 10 levels of nesting.
constexpr std::size_t listed_per_group = 15;
constexpr int listed_depth = 10;

std::string type_name(const std::type_info& type) {
    int status = 0;
    std::unique_ptr<char, void (*)(void*)> name(abi::__cxa_demangle(type.name(), nullptr, nullptr, &status),
                                                std::free);
    return status == 0 && name ? std::string(name.get()) : std::string(type.name());
}

std::string heading(const std::string& message, std::size_t count) {
    return message + " (" + std::to_string(count) + " sub-exception" + (count == 1 ? "" : "s") + ")";
}

void list_exceptions(std::string& out, const std::vector<std::exception_ptr>& exceptions, int depth) {
    const std::string indent(2 * static_cast<std::size_t>(depth), ' ');
    if (depth > listed_depth) {
        out += "\n" + indent + "...";
        return;
    }
    std::size_t i = 0;
    for (const std::exception_ptr& e : exceptions) {
        if (i == listed_per_group) {
            const std::size_t more = exceptions.size() - i;
            out += "\n" + indent + "... and " + std::to_string(more) + " more sub-exception" + (more == 1 ? "" : "s");
            break;
        }
        out += "\n" + indent + "[" + std::to_string(++i) + "] ";
        try {
            std::rethrow_exception(e);
        } catch (const exception_group& g) {
            out += type_name(typeid(g)) + ": " + heading(g.message(), g.exceptions().size());
            list_exceptions(out, g.exceptions(), depth + 1);
        } catch (const cancelled_error& c) {
            out += type_name(typeid(c)) + ": " + c.what();
        } catch (const std::exception& x) {
            out += type_name(typeid(x)) + ": " + x.what();
        } catch (...) {
            const std::type_info* type = abi::__cxa_current_exception_type();
            out += type ? type_name(*type) : std::string("unknown exception");
        }
    }
}

} // namespace

exception_group::exception_group(std::string message, std::vector<std::exception_ptr> exceptions)
    : message_(std::move(message)), exceptions_(std::move(exceptions)) {
    if (exceptions_.empty()) throw std::invalid_argument("exception_group: no exceptions (the list must not be empty)");
    for (const std::exception_ptr& e : exceptions_) {
        if (!e) throw std::invalid_argument("exception_group: a null exception_ptr in the list");
    }
    what_ = heading(message_, exceptions_.size());
    list_exceptions(what_, exceptions_, 1);
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
