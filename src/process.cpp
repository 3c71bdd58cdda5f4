// Subprocesses on uv_spawn and uv_process_t.
//
// A process_state owns the uv_process_t (embedded: the state lives until the
// handle's close callback) and is reference counted: the process object, the
// handle and every waiting wait() hold a reference. libuv reaps a child only
// while its handle is open, so the handle stays open until the child has
// exited, whether or not anyone still holds the process object; the exit
// callback closes it.
//
// The pipes are socket pairs made here, not by uv_spawn (UV_CREATE_PIPE):
// the parent's end becomes a stream connection like any socket's, the
// child's end is handed to the child with UV_INHERIT_FD and closed in the
// parent after the spawn. That way stderr can share stdout's pipe
// (stdio::to_stdout), which uv_spawn's own pipes cannot express.
#include <uvasync/detail/operation.hpp>
#include <uvasync/errors.hpp>
#include <uvasync/event_loop.hpp>
#include <uvasync/gather.hpp>
#include <uvasync/process.hpp>

#include "stream_conn.hpp"

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <stdexcept>
#include <system_error>

namespace uvasync {

namespace detail {

class process_wait_op;

class process_state final : public loop_core::resource {
public:
    explicit process_state(loop_core& l) noexcept : loop(&l) {}

    void add_ref() noexcept { ++refs; }
    void release() noexcept {
        if (--refs == 0) delete this;
    }

    static void on_exit(uv_process_t* h, std::int64_t status, int signal);
    static void on_close(uv_handle_t* h) { static_cast<process_state*>(h->data)->release(); }
    void close_for_loop() noexcept override;

    uv_process_t handle{};
    loop_core* loop;
    std::optional<int> code; // set once the child has exited (and was reaped)
    int pid = 0;
    std::uint32_t refs = 1;  // the process object's (the handle adds its own)
    intrusive_list<process_wait_op> waiters;

private:
    void exited(int c) noexcept;
};

// wait(): parked until the exit callback; no suspension once it has come.
class process_wait_op final : public operation<process_wait_op>, public list_hook<> {
public:
    explicit process_wait_op(process_state* s) noexcept : s_(s) {}
    ~process_wait_op() {
        if (held_) s_->release();
    }
    process_wait_op(const process_wait_op&) = delete;
    process_wait_op& operator=(const process_wait_op&) = delete;

    bool ready() const noexcept { return s_->code.has_value(); }
    bool start() {
        s_->waiters.push_back(this);
        s_->add_ref();
        held_ = true;
        return true;
    }
    cancel_outcome cancel() noexcept {
        unlink();
        return cancel_outcome::stopped;
    }
    int result() const noexcept { return *s_->code; }
    const char* kind() const noexcept override { return "process.wait"; }

private:
    process_state* s_;
    bool held_ = false;
};

void process_state::on_exit(uv_process_t* h, std::int64_t status, int signal) {
    static_cast<process_state*>(h->data)->exited(signal ? -signal : static_cast<int>(status));
}

void process_state::exited(int c) noexcept {
    code = c;
    list_hook<resource_tag>::unlink(); // reaped: nothing left for the loop to close
    uv_close(reinterpret_cast<uv_handle_t*>(&handle), &on_close);
    // Those waiting now; a woken task may drop the process object.
    intrusive_list<process_wait_op> now;
    now.splice_back(waiters);
    add_ref();
    while (process_wait_op* op = now.pop_front()) op->wake_now();
    release();
}

void process_state::close_for_loop() noexcept {
    // The loop is closing: the waiting frames are gone already. A child that
    // still runs would never be reaped once the handle is closed (libuv
    // reaps only the children of open handles): kill it and reap it now.
    waiters.clear();
    if (!code) {
        ::kill(pid, SIGKILL);
        int status = 0;
        pid_t r;
        do r = ::waitpid(pid, &status, 0);
        while (r < 0 && errno == EINTR);
        if (r == pid && WIFEXITED(status)) code = WEXITSTATUS(status); // it exited meanwhile
        else if (r == pid && WIFSIGNALED(status)) code = -WTERMSIG(status);
        else code = -SIGKILL;
    }
    uv_handle_t* h = reinterpret_cast<uv_handle_t*>(&handle);
    if (!uv_is_closing(h)) uv_close(h, &on_close);
}

struct process_access {
    static process make(process_state* s) noexcept { return process(s); }
    static stream_writer& stdin_of(process& p) noexcept { return p.stdin_; }
    static stream_reader& stdout_of(process& p) noexcept { return p.stdout_; }
    static stream_reader& stderr_of(process& p) noexcept { return p.stderr_; }
};

namespace {

void check_no_nul(const std::string& s, const char* what) {
    if (s.find('\0') != std::string::npos)
        throw std::invalid_argument(std::string("create_subprocess_exec: ") + what + " contains a NUL character");
}

// The pipes being set up for one spawn: the parent's ends as connections,
// the child's ends as descriptors. Whatever is not handed on is closed.
struct spawn_pipes {
    stream_conn* conn[3] = {};
    int child_fd[3] = {-1, -1, -1};

    spawn_pipes() = default;
    spawn_pipes(const spawn_pipes&) = delete;
    spawn_pipes& operator=(const spawn_pipes&) = delete;
    ~spawn_pipes() {
        close_child_ends();
        for (stream_conn*& c : conn) {
            if (c) {
                c->abort();
                c->release();
            }
        }
    }

    void open(int i, loop_core& loop, std::size_t limit) {
        int sv[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
            throw std::system_error(errno, std::generic_category(), "create_subprocess_exec: socketpair");
        child_fd[i] = sv[1];
        try {
            conn[i] = stream_conn::create(loop, stream_conn::kind::pipe, limit);
        } catch (...) {
            ::close(sv[0]);
            throw;
        }
        if (int rc = uv_pipe_open(&conn[i]->h.pipe, sv[0]); rc < 0) {
            ::close(sv[0]);
            throw_uv_error(rc, "create_subprocess_exec: uv_pipe_open");
        }
    }
    void close_child_ends() noexcept {
        for (int& fd : child_fd) {
            if (fd >= 0) ::close(std::exchange(fd, -1));
        }
    }
    // The parent's end as a connection, both halves (the caller keeps one).
    std::pair<stream_reader, stream_writer> take(int i) { return std::exchange(conn[i], nullptr)->make_pair(); }
};

process spawn_process(std::string& program, std::vector<std::string>& args, process_options& o) {
    if (program.empty()) throw std::invalid_argument("create_subprocess_exec: empty program");
    check_no_nul(program, "the program");
    for (const std::string& a : args) check_no_nul(a, "an argument");
    check_no_nul(o.cwd, "cwd");
    if (o.stdin_ == stdio::to_stdout || o.stdout_ == stdio::to_stdout)
        throw std::invalid_argument("create_subprocess_exec: only stderr can go to stdout (stdio::to_stdout)");
    check_limit(o.limit, "create_subprocess_exec");

    std::vector<char*> argv;
    argv.reserve(args.size() + 2);
    argv.push_back(program.data());
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    std::vector<std::string> env_entries;
    std::vector<char*> envp;
    if (o.env) {
        env_entries.reserve(o.env->size());
        for (const auto& [name, value] : *o.env) {
            if (name.empty() || name.find('=') != std::string::npos)
                throw std::invalid_argument("create_subprocess_exec: illegal environment variable name '" + name +
                                            "'");
            check_no_nul(name, "an environment variable name");
            check_no_nul(value, "an environment variable value");
            env_entries.push_back(name + "=" + value);
        }
        for (std::string& e : env_entries) envp.push_back(e.data());
        envp.push_back(nullptr);
    }

    loop_core& loop = running_core();
    spawn_pipes pipes;
    const stdio wanted[3] = {o.stdin_, o.stdout_, o.stderr_};
    uv_stdio_container_t stdio_fds[3];
    for (int i = 0; i < 3; ++i) {
        switch (wanted[i]) {
        case stdio::inherit:
            stdio_fds[i].flags = UV_INHERIT_FD;
            stdio_fds[i].data.fd = i;
            break;
        case stdio::devnull: // uv_spawn opens /dev/null in the child for an ignored 0, 1 or 2
            stdio_fds[i].flags = UV_IGNORE;
            break;
        case stdio::pipe:
            pipes.open(i, loop, o.limit);
            stdio_fds[i].flags = UV_INHERIT_FD;
            stdio_fds[i].data.fd = pipes.child_fd[i];
            break;
        case stdio::to_stdout:
            stdio_fds[i] = stdio_fds[1];
            break;
        }
    }

    uv_process_options_t opts{};
    opts.exit_cb = &process_state::on_exit;
    opts.file = program.c_str();
    opts.args = argv.data();
    opts.env = o.env ? envp.data() : nullptr;
    opts.cwd = o.cwd.empty() ? nullptr : o.cwd.c_str();
    opts.flags = o.start_new_session ? UV_PROCESS_DETACHED : 0;
    opts.stdio_count = 3;
    opts.stdio = stdio_fds;

    auto* s = new process_state(loop);
    const int rc = uv_spawn(loop.owner().native_handle(), &s->handle, &opts);
    s->handle.data = s;
    // The handle is initialised whatever the outcome: it is closed (and the
    // state freed) by its close callback.
    s->add_ref();
    pipes.close_child_ends();
    if (rc < 0) {
        uv_close(reinterpret_cast<uv_handle_t*>(&s->handle), &process_state::on_close);
        s->release();
        std::string what = "create_subprocess_exec '" + program + "'";
        if (!o.cwd.empty()) what += " (cwd '" + o.cwd + "')";
        throw_uv_error(rc, what.c_str());
    }
    s->pid = s->handle.pid;
    loop.add_resource(*s);

    process p = process_access::make(s);
    if (pipes.conn[0]) process_access::stdin_of(p) = std::move(pipes.take(0).second);
    if (pipes.conn[1]) process_access::stdout_of(p) = std::move(pipes.take(1).first);
    if (pipes.conn[2]) process_access::stderr_of(p) = std::move(pipes.take(2).first);
    return p;
}

task<> feed_stdin(stream_writer* w, std::string input) {
    if (!w) co_return;
    try {
        if (!input.empty()) {
            w->write(std::move(input));
            co_await w->drain();
        }
    } catch (const std::system_error& e) {
        // The child exited without reading everything: not an error (asyncio).
        if (e.code() != std::errc::broken_pipe && e.code() != std::errc::connection_reset) throw;
    }
    w->close();
}

task<std::string> read_to_eof(stream_reader* r) {
    if (!r) co_return std::string();
    co_return co_await r->read();
}

} // namespace
} // namespace detail

// ---- process --------------------------------------------------------------

process::process(process&& o) noexcept
    : s_(std::exchange(o.s_, nullptr)), stdin_(std::move(o.stdin_)), stdout_(std::move(o.stdout_)),
      stderr_(std::move(o.stderr_)) {}

process& process::operator=(process&& o) noexcept {
    if (this != &o) {
        stdin_ = std::move(o.stdin_);
        stdout_ = std::move(o.stdout_);
        stderr_ = std::move(o.stderr_);
        if (s_) s_->release();
        s_ = std::exchange(o.s_, nullptr);
    }
    return *this;
}

process::~process() {
    if (s_) s_->release();
}

detail::process_state* process::state(const char* what) const {
    if (!s_) throw std::logic_error(std::string(what) + ": no process (moved from?)");
    return s_;
}

int process::pid() const { return state("pid")->pid; }

stream_writer& process::stdin_pipe() {
    state("stdin_pipe");
    if (!stdin_.valid()) throw std::logic_error("stdin_pipe: the child's stdin is not a pipe (stdio::pipe)");
    return stdin_;
}

stream_reader& process::stdout_pipe() {
    state("stdout_pipe");
    if (!stdout_.valid()) throw std::logic_error("stdout_pipe: the child's stdout is not a pipe (stdio::pipe)");
    return stdout_;
}

stream_reader& process::stderr_pipe() {
    state("stderr_pipe");
    if (!stderr_.valid()) throw std::logic_error("stderr_pipe: the child's stderr is not a pipe (stdio::pipe)");
    return stderr_;
}

task<int> process::wait() {
    detail::process_state* s = state("wait");
    co_return co_await detail::process_wait_op(s);
}

task<std::pair<std::string, std::string>> process::communicate(std::string input) {
    state("communicate");
    if (!input.empty() && !stdin_.valid())
        throw std::invalid_argument("communicate: input given, but the child's stdin is not a pipe");
    auto [fed, out, err] = co_await gather(detail::feed_stdin(stdin_.valid() ? &stdin_ : nullptr, std::move(input)),
                                           detail::read_to_eof(stdout_.valid() ? &stdout_ : nullptr),
                                           detail::read_to_eof(stderr_.valid() ? &stderr_ : nullptr));
    (void)fed;
    co_await wait();
    co_return std::pair<std::string, std::string>(std::move(out), std::move(err));
}

task<std::pair<std::string, std::string>> process::communicate() { return communicate(std::string()); }

void process::send_signal(int signum) {
    detail::process_state* s = state("send_signal");
    if (s->code) return; // reaped: the pid is not ours any more
    if (int rc = uv_process_kill(&s->handle, signum); rc < 0)
        throw_uv_error(rc, ("send_signal(" + std::to_string(signum) + ")").c_str());
}

void process::terminate() { send_signal(SIGTERM); }
void process::kill() { send_signal(SIGKILL); }

std::optional<int> process::returncode() const noexcept { return s_ ? s_->code : std::nullopt; }

// ---- creating -------------------------------------------------------------

task<process> create_subprocess_exec(std::string program, std::vector<std::string> args, process_options options) {
    co_return detail::spawn_process(program, args, options);
}

task<process> create_subprocess_exec(std::string program, std::vector<std::string> args) {
    process_options options;
    co_return detail::spawn_process(program, args, options);
}

task<process> create_subprocess_exec(std::string program) {
    std::vector<std::string> args;
    process_options options;
    co_return detail::spawn_process(program, args, options);
}

task<process> create_subprocess_shell(std::string cmd, process_options options) {
    std::string sh = "/bin/sh";
    std::vector<std::string> args;
    args.push_back("-c");
    args.push_back(std::move(cmd));
    co_return detail::spawn_process(sh, args, options);
}

task<process> create_subprocess_shell(std::string cmd) {
    process_options options;
    co_return co_await create_subprocess_shell(std::move(cmd), std::move(options));
}

} // namespace uvasync
