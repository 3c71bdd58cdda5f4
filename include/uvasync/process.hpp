// Subprocesses: asyncio's create_subprocess_exec / create_subprocess_shell
// and asyncio.subprocess.Process, on libuv's uv_spawn.
//
//   ua::process_options opts;
//   opts.stdout_ = ua::stdio::pipe;
//   std::vector<std::string> args{"-l", "/tmp"};
//   ua::process p = co_await ua::create_subprocess_exec("ls", std::move(args), opts);
//   auto [out, err] = co_await p.communicate();
//   int code = p.returncode().value(); // what wait() returned
//
// The program is looked up in PATH when its name has no slash (in the PATH
// of `env` when that is given, as Python does). A program that cannot be
// started throws std::system_error from create_subprocess_exec (ENOENT,
// EACCES, ...), as asyncio raises from it; there is no half-made process.
//
// The child's pipes are the library's own stream_writer (stdin) and
// stream_reader (stdout, stderr): the same buffering, flow control,
// readline/readuntil and errors as a socket. wait() can deadlock when the
// child writes more than the pipe and the reader's buffer hold while nobody
// reads it (the reader stops reading at 2 x limit, as asyncio's does);
// communicate() feeds stdin and drains both outputs at once and never does.
//
// Lifetime, as asyncio:
//  - Every child is reaped. A process object dropped while its child runs
//    closes its pipes (the child sees EOF on stdin, EPIPE on its output) but
//    does not signal it; the library reaps the child when it exits.
//  - Cancelling wait() or communicate() leaves the child running.
//  - When the event loop closes with a child still running, the child is
//    killed (SIGKILL) and reaped then (as asyncio's transport.close() kills
//    a running child): a loop leaves no process behind. A process object
//    that outlives its loop stays safe to use: returncode() is -SIGKILL, its
//    pipes are closed, send_signal() does nothing.
//
// Descriptors: the child gets its three stdio descriptors and whatever the
// program opened without close-on-exec (libuv and uvasync open everything
// with it; Python's close_fds=True closes the rest, libuv cannot).
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "streams.hpp"
#include "task.hpp"

namespace uvasync {

// What one of the child's stdin / stdout / stderr is connected to
// (asyncio.subprocess.PIPE, DEVNULL, STDOUT; `inherit` is asyncio's None).
enum class stdio {
    inherit,   // the parent's own descriptor
    pipe,      // a pipe to the parent: process::stdin_pipe() / stdout_pipe() / stderr_pipe()
    devnull,   // /dev/null
    to_stdout, // stderr only: wherever stdout goes (asyncio's stderr=STDOUT)
};

struct process_options {
    stdio stdin_ = stdio::inherit;
    stdio stdout_ = stdio::inherit;
    stdio stderr_ = stdio::inherit;
    // The child's working directory; empty: the parent's.
    std::string cwd;
    // The child's whole environment, when set (as asyncio's env=); unset:
    // the parent's.
    std::optional<std::map<std::string, std::string>> env;
    // The pipes' reader buffer limit (asyncio's limit=).
    std::size_t limit = default_stream_limit;
    // Run the child in a new session (setsid), as asyncio's
    // start_new_session=True: it no longer gets the terminal's signals.
    bool start_new_session = false;
};

namespace detail {
class process_state;
struct process_access;
}

// asyncio.subprocess.Process. Move-only; see the top of this file for what
// dropping it does.
class process {
public:
    process() noexcept = default; // no process: valid() is false
    process(process&& o) noexcept;
    process& operator=(process&& o) noexcept;
    process(const process&) = delete;
    process& operator=(const process&) = delete;
    ~process();

    bool valid() const noexcept { return s_ != nullptr; }
    int pid() const;

    // The child's pipes, for options set to stdio::pipe; otherwise
    // std::logic_error (asyncio's proc.stdin is None). The references stay
    // valid while this object is not moved.
    stream_writer& stdin_pipe();
    stream_reader& stdout_pipe();
    stream_reader& stderr_pipe();

    // Waits for the child to exit: its exit code, or -N when signal N
    // killed it. Returns at once once it has exited; any number of tasks
    // may wait. Cancelling it leaves the child running.
    task<int> wait();

    // Writes `input` to stdin and closes it, reads stdout and stderr until
    // EOF, all at once, then waits for the child: (stdout, stderr), each
    // empty when that stream is not a pipe. A child that exits without
    // reading all its input is not an error (the broken pipe is ignored, as
    // asyncio does). `input` with stdin not a pipe: std::invalid_argument.
    // Cancelling it leaves the child running (what was read is dropped).
    task<std::pair<std::string, std::string>> communicate(std::string input);
    task<std::pair<std::string, std::string>> communicate();

    // Sends a signal to the child. Once the child has exited (returncode()
    // is set) this does nothing: its pid may belong to another process by
    // then. A bad signal number: std::system_error.
    void send_signal(int signum);
    void terminate(); // SIGTERM
    void kill();      // SIGKILL

    // Set once the child has exited: what wait() returns.
    std::optional<int> returncode() const noexcept;

private:
    friend struct detail::process_access;
    explicit process(detail::process_state* s) noexcept : s_(s) {}
    detail::process_state* state(const char* what) const;

    detail::process_state* s_ = nullptr;
    stream_writer stdin_;
    stream_reader stdout_;
    stream_reader stderr_;
};

// asyncio.create_subprocess_exec(program, *args, ...): runs `program` with
// `args` (argv[0] is `program`). Empty program, a NUL character in any
// string, an env name that is empty or holds '=', stdin_ or stdout_ set to
// to_stdout: std::invalid_argument.
//
// GCC 12: build `args` and `options` as named locals before the co_await (a
// braced list or a process_options temporary inside it is miscompiled).
// That is why these are overloads rather than default arguments: a default
// `process_options{}` would be such a temporary.
task<process> create_subprocess_exec(std::string program);
task<process> create_subprocess_exec(std::string program, std::vector<std::string> args);
task<process> create_subprocess_exec(std::string program, std::vector<std::string> args, process_options options);

// asyncio.create_subprocess_shell(cmd, ...): `/bin/sh -c cmd`.
task<process> create_subprocess_shell(std::string cmd);
task<process> create_subprocess_shell(std::string cmd, process_options options);

} // namespace uvasync
