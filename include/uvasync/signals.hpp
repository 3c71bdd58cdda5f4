// wait_signal: await the arrival of one of some signals.
// (Callbacks for signals are event_loop::add_signal_handler.)
#pragma once

#include <vector>

#include "task.hpp"

namespace uvasync {

namespace detail {
task<int> wait_signals(std::vector<int> signums);
}

// Suspends until one of the signals arrives, and returns its number.
// Cancellable; the signals' previous dispositions come back afterwards.
template <class... More> task<int> wait_signal(int signum, More... more) {
    return detail::wait_signals(std::vector<int>{signum, static_cast<int>(more)...});
}

} // namespace uvasync
