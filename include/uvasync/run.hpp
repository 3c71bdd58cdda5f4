// run: asyncio.run, the entry point of a program.
#pragma once

#include "event_loop.hpp"
#include "task.hpp"
#include "task_handle.hpp"

namespace uvasync {

// Runs `main` on a new event loop; then cancels every task still pending and
// waits for them, shuts the default executor down and closes the loop.
// Returns main's value or rethrows its failure.
template <class T> T run(task<T> main, run_options options = {}) {
    event_loop loop;
    loop.set_debug(options.debug);
    struct finally {
        event_loop& loop;
        ~finally() {
            try {
                loop.cancel_all_tasks();
                loop.shutdown_default_executor();
            } catch (...) {
            }
            loop.close();
        }
    } cleanup{loop};
    return loop.run_until_complete(std::move(main));
}

} // namespace uvasync
