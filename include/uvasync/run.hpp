// run and runner: asyncio.run and asyncio.Runner, the entry points of a
// program.
//
//     int main() {
//         try {
//             return ua::run(amain());            // Ctrl-C cancels amain
//         } catch (const ua::cancelled_error&) {
//             return 130;                         // interrupted (as Python's KeyboardInterrupt)
//         } catch (const std::exception& e) {
//             std::fprintf(stderr, "error: %s\n", e.what());
//             return 1;
//         }
//     }
//
// run(main) is runner(options).run(main) followed by close(). A runner runs
// any number of tasks, one run() after another, on one loop: tasks one
// run() left pending go on in the next; close() (or the destructor) cancels
// and awaits them, shuts the default executor down and closes the loop.
//
// While run() runs, the first of options.cancel_main_on (SIGINT by default)
// that arrives cancels the main task, and run() then throws cancelled_error;
// a second one is left to the signal's default disposition (the program
// ends), as asyncio's Runner does with Ctrl-C. A handler the program
// installs for that signal itself (add_signal_handler, wait_signal) takes
// precedence while it is installed.
#pragma once

#include <memory>

#include "event_loop.hpp"
#include "task.hpp"
#include "task_handle.hpp"

namespace uvasync {

class runner {
public:
    explicit runner(run_options options = {});
    ~runner();
    runner(const runner&) = delete;
    runner& operator=(const runner&) = delete;

    // Runs `main` as a task until it is done; its value or its exception.
    // std::runtime_error after close(), or inside a running loop.
    template <class T> T run(task<T> main) {
        task_handle<T> h = start(std::move(main));
        wait(*h.state());
        return detail::result_of<T>(*h.state());
    }
    // The loop (std::runtime_error after close()).
    event_loop& get_loop();
    // Cancels and awaits the pending tasks, shuts the default executor
    // down, closes the loop. Idempotent.
    void close();

private:
    template <class T> task_handle<T> start(task<T> main) {
        check_runnable();
        return loop_->create_task(std::move(main));
    }
    void check_runnable() const;
    // Runs the loop until `main` is done, cancelling it on the first signal.
    void wait(detail::task_state_base& main);

    run_options options_;
    std::unique_ptr<event_loop> loop_;
};

// asyncio.run: a runner for one task.
template <class T> T run(task<T> main, run_options options = {}) {
    runner r(std::move(options));
    return r.run(std::move(main));
}

} // namespace uvasync
