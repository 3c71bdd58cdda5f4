// Subprocesses (docs/api.md): create_subprocess_exec / _shell, the process's
// pipes, wait, communicate, signals, reaping. Each test names the CPython
// (test_asyncio/test_subprocess.py) or uvloop (tests/test_process.py) test it
// mirrors, where there is one.
#include "open_descriptors.hpp"
#include "stream_test_util.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace ua = uvasync;
using namespace std::chrono_literals;
using stream_test::pattern;
using stream_test::run_test;
using stream_test::temp_dir;

namespace {

const std::vector<std::string> no_args;

// ---- helpers ----------------------------------------------------------------

// The first loop and the first spawn of a process set up libuv's
// process-wide descriptors (its signal pipe) for good: count after them.
void warm_libuv() {
    ua::event_loop warm;
    warm.run_until_complete([]() -> ua::task<> {
        ua::process p = co_await ua::create_subprocess_exec("/bin/true");
        EXPECT_EQ(co_await p.wait(), 0);
    }());
}

// This process's children as (pid, state) from /proc: 'Z' is a zombie.
std::vector<std::pair<int, char>> children() {
    std::vector<std::pair<int, char>> out;
    const int self = ::getpid();
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
        const std::string name = entry.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream in(entry.path() / "stat");
        std::string stat;
        if (!std::getline(in, stat)) continue; // gone meanwhile
        const auto close = stat.rfind(')');
        if (close == std::string::npos) continue;
        std::istringstream rest(stat.substr(close + 2));
        char state = 0;
        int ppid = 0;
        rest >> state >> ppid;
        if (ppid == self) out.emplace_back(std::stoi(name), state);
    }
    return out;
}

// No child at all, running or zombie (and the kernel agrees: nothing to wait for).
void expect_no_children() {
    EXPECT_TRUE(children().empty());
    siginfo_t info{};
    EXPECT_EQ(::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT), -1);
    EXPECT_EQ(errno, ECHILD);
}

bool alive_and_not_zombie(int pid) {
    for (auto [p, state] : children())
        if (p == pid) return state != 'Z';
    return false;
}

// Loop turns until `pred` holds or ten seconds pass: for what the library
// does by itself with no event of ours to await (reaping a dropped child).
template <class Pred> ua::task<bool> eventually(Pred pred) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline) co_return false;
        co_await ua::sleep(1ms);
    }
    co_return true;
}

ua::process_options piped(bool in, bool out, bool err) {
    ua::process_options o;
    if (in) o.stdin_ = ua::stdio::pipe;
    if (out) o.stdout_ = ua::stdio::pipe;
    if (err) o.stderr_ = ua::stdio::pipe;
    return o;
}

// (No default process_options arguments: GCC 12 miscompiles such a
// temporary inside a co_await expression.)
ua::task<ua::process> shell(std::string cmd, ua::process_options o) {
    co_return co_await ua::create_subprocess_shell(std::move(cmd), std::move(o));
}
ua::task<ua::process> shell(std::string cmd) { co_return co_await ua::create_subprocess_shell(std::move(cmd)); }

// Runs `cmd` in the shell and returns (stdout, exit code).
ua::task<std::pair<std::string, int>> output_of(std::string cmd, ua::process_options o) {
    ua::process p = co_await shell(std::move(cmd), std::move(o));
    auto [out, err] = co_await p.communicate();
    co_return std::make_pair(std::move(out), p.returncode().value());
}
ua::task<std::pair<std::string, int>> output_of(std::string cmd) {
    ua::process_options o = piped(false, true, false);
    co_return co_await output_of(std::move(cmd), std::move(o));
}

// ---- spawning and exit codes ------------------------------------------------

// uvloop: test_process.py::test_subprocess_fd_leak_2 (normal exit), at scale
TEST(Process, AThousandSpawnsOfTrueLeaveNoFdAndNoZombie) {
    warm_libuv();
    const std::size_t before = open_descriptors();
    run_test([]() -> ua::task<> {
        for (int i = 0; i < 1000; ++i) {
            ua::process p = co_await ua::create_subprocess_exec("/bin/true");
            EXPECT_GT(p.pid(), 0);
            const int rc = co_await p.wait();
            if (rc != 0) {
                ADD_FAILURE() << "spawn " << i << " returned " << rc;
                break;
            }
            EXPECT_EQ(p.returncode(), 0);
        }
    }(), std::chrono::seconds(100));
    EXPECT_EQ(open_descriptors(), before);
    expect_no_children();
}

// uvloop: test_process.py::test_subprocess_fd_leak_2, with every stdio a pipe
TEST(Process, SpawnsWithPipesLeaveNoFd) {
    warm_libuv();
    const std::size_t before = open_descriptors();
    run_test([]() -> ua::task<> {
        for (int i = 0; i < 100; ++i) {
            ua::process p = co_await shell("echo out; echo err >&2", piped(true, true, true));
            auto [out, err] = co_await p.communicate("ignored");
            EXPECT_EQ(out, "out\n");
            EXPECT_EQ(err, "err\n");
        }
    }(), std::chrono::seconds(60));
    EXPECT_EQ(open_descriptors(), before);
    expect_no_children();
}

// CPython: test_subprocess.py::test_shell
TEST(Process, ShellExitCode) {
    run_test([]() -> ua::task<> {
        ua::process p = co_await ua::create_subprocess_shell("exit 7");
        EXPECT_EQ(p.returncode(), std::nullopt);
        EXPECT_EQ(co_await p.wait(), 7);
        EXPECT_EQ(p.returncode(), 7);
    }());
}

// CPython: test_subprocess.py::test_kill, test_terminate, test_send_signal
TEST(Process, KilledBySignalReturnsMinusTheSignal) {
    run_test([]() -> ua::task<> {
        std::vector<std::string> args{"1000"};
        ua::process a = co_await ua::create_subprocess_exec("sleep", args);
        a.kill();
        EXPECT_EQ(co_await a.wait(), -SIGKILL);
        ua::process b = co_await ua::create_subprocess_exec("sleep", args);
        b.terminate();
        EXPECT_EQ(co_await b.wait(), -SIGTERM);
        ua::process c = co_await ua::create_subprocess_exec("sleep", args);
        c.send_signal(SIGHUP);
        EXPECT_EQ(co_await c.wait(), -SIGHUP);
        // A child that dies of a signal of its own.
        ua::process d = co_await shell("kill -SEGV $$");
        EXPECT_EQ(co_await d.wait(), -SIGSEGV);
        // Signalling a reaped child does nothing (its pid may be reused).
        d.send_signal(SIGKILL);
        d.terminate();
        EXPECT_EQ(d.returncode(), -SIGSEGV);
    }());
}

// CPython: test_subprocess.py::test_subprocess_concurrent_wait, check_stdout_output
TEST(Process, ManyWaitersGetTheSameCodeAndWaitAfterExitReturnsAtOnce) {
    run_test([]() -> ua::task<> {
        ua::process p = co_await shell("exit 3");
        std::vector<ua::task<int>> waits;
        for (int i = 0; i < 10; ++i) waits.push_back(p.wait());
        std::vector<int> codes = co_await ua::gather(std::move(waits));
        EXPECT_EQ(codes, std::vector<int>(10, 3));
        EXPECT_EQ(co_await p.wait(), 3);
    }());
}

// uvloop: test_process.py test_process_executable_1 / CPython: FileNotFoundError from Popen
TEST(Process, AProgramThatDoesNotExistThrowsENOENT) {
    warm_libuv();
    const std::size_t before = open_descriptors();
    run_test([]() -> ua::task<> {
        for (std::string prog : {"/nonexistent/program", "no-such-program-uvasync"}) {
            try {
                ua::process p = co_await ua::create_subprocess_exec(prog);
                ADD_FAILURE() << "spawned " << prog;
            } catch (const std::system_error& e) {
                EXPECT_EQ(e.code(), std::errc::no_such_file_or_directory) << e.what();
                EXPECT_NE(std::string(e.what()).find(prog), std::string::npos) << e.what();
            }
        }
        // with pipes too (CPython: test_popen_error_with_stdin_pipe)
        ua::process_options o = piped(true, true, true);
        EXPECT_THROW((void)co_await ua::create_subprocess_exec("/nonexistent/program", no_args, o), std::system_error);
    }());
    EXPECT_EQ(open_descriptors(), before); // uvloop: test_subprocess_fd_leak_1
    expect_no_children();
}

TEST(Process, AProgramWithoutExecutePermissionThrowsEACCES) {
    temp_dir dir;
    const std::string path = dir / "not-executable";
    std::ofstream(path) << "#!/bin/sh\nexit 0\n";
    ::chmod(path.c_str(), 0644);
    run_test([](std::string path) -> ua::task<> {
        try {
            ua::process p = co_await ua::create_subprocess_exec(path);
            ADD_FAILURE() << "spawned " << path;
        } catch (const std::system_error& e) {
            EXPECT_EQ(e.code(), std::errc::permission_denied) << e.what();
            EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
        }
    }(path));
    expect_no_children();
}

TEST(Process, BadArgumentsAreInvalidArgument) {
    run_test([]() -> ua::task<> {
        EXPECT_THROW((void)co_await ua::create_subprocess_exec(""), std::invalid_argument);
        EXPECT_THROW((void)co_await ua::create_subprocess_exec(std::string("a\0b", 3)), std::invalid_argument);
        std::vector<std::string> nul_arg{std::string("x\0y", 3)};
        EXPECT_THROW((void)co_await ua::create_subprocess_exec("/bin/true", nul_arg), std::invalid_argument);
        ua::process_options o;
        o.env = std::map<std::string, std::string>{{"A=B", "c"}};
        EXPECT_THROW((void)co_await ua::create_subprocess_exec("/bin/true", no_args, o), std::invalid_argument);
        o.env = std::map<std::string, std::string>{{"", "c"}};
        EXPECT_THROW((void)co_await ua::create_subprocess_exec("/bin/true", no_args, o), std::invalid_argument);
        ua::process_options bad_stdin;
        bad_stdin.stdin_ = ua::stdio::to_stdout;
        EXPECT_THROW((void)co_await ua::create_subprocess_exec("/bin/true", no_args, bad_stdin), std::invalid_argument);
        ua::process_options no_limit;
        no_limit.limit = 0;
        EXPECT_THROW((void)co_await ua::create_subprocess_exec("/bin/true", no_args, no_limit), std::invalid_argument);
        // A pipe that was not asked for (asyncio: proc.stdout is None).
        ua::process p = co_await ua::create_subprocess_exec("/bin/true");
        EXPECT_THROW(p.stdin_pipe(), std::logic_error);
        EXPECT_THROW(p.stdout_pipe(), std::logic_error);
        EXPECT_THROW(p.stderr_pipe(), std::logic_error);
        EXPECT_THROW((void)co_await p.communicate("input"), std::invalid_argument);
        EXPECT_EQ(co_await p.wait(), 0);
        ua::process none;
        EXPECT_FALSE(none.valid());
        EXPECT_THROW(none.pid(), std::logic_error);
        EXPECT_EQ(none.returncode(), std::nullopt);
    }());
}

// ---- the pipes ---------------------------------------------------------------

// CPython: test_subprocess.py::test_stdin_stdout
TEST(Process, WriteStdinReadStdout) {
    run_test([]() -> ua::task<> {
        ua::process p = co_await ua::create_subprocess_exec("cat", no_args, piped(true, true, false));
        ua::stream_writer& in = p.stdin_pipe();
        in.write("one\ntwo\n");
        co_await in.drain();
        EXPECT_EQ(co_await p.stdout_pipe().readline(), "one\n");
        EXPECT_EQ(co_await p.stdout_pipe().readuntil("o\n"), "two\n");
        in.write("three");
        in.close();
        EXPECT_EQ(co_await p.stdout_pipe().read(), "three");
        EXPECT_TRUE(p.stdout_pipe().at_eof());
        EXPECT_EQ(co_await p.wait(), 0);
    }());
}

// CPython: test_subprocess.py::test_communicate, uvloop large stdin/stdout cases
TEST(Process, CommunicateTenMiBThroughCatBothWays) {
    run_test([]() -> ua::task<> {
        const std::string input = pattern(10 * 1024 * 1024, 9);
        ua::process p = co_await ua::create_subprocess_exec("cat", no_args, piped(true, true, true));
        auto [out, err] = co_await p.communicate(input);
        EXPECT_EQ(out.size(), input.size());
        EXPECT_TRUE(out == input);
        EXPECT_EQ(err, "");
        EXPECT_EQ(p.returncode(), 0);
    }(), std::chrono::seconds(60));
}

// uvloop: test_process.py large stdout 65536 / 65537 / 1,000,000 bytes, large stdin 8192 ... 219264
TEST(Process, CommunicateAtBufferBoundaries) {
    run_test([]() -> ua::task<> {
        for (std::size_t n : {0u, 1u, 8192u, 8193u, 65536u, 65537u, 219263u, 219264u, 1000000u}) {
            ua::process p = co_await ua::create_subprocess_exec("cat", no_args, piped(true, true, false));
            auto [out, err] = co_await p.communicate(pattern(n, static_cast<unsigned>(n)));
            EXPECT_TRUE(out == pattern(n, static_cast<unsigned>(n))) << n;
        }
    }(), std::chrono::seconds(60));
}

// CPython: test_subprocess.py::test_communicate_none_input, test_devnull_*
TEST(Process, CommunicateWithoutPipesAndDevnull) {
    run_test([]() -> ua::task<> {
        ua::process_options o;
        o.stdin_ = ua::stdio::devnull;
        o.stdout_ = ua::stdio::devnull;
        o.stderr_ = ua::stdio::devnull;
        ua::process p = co_await shell("cat; echo to-null; echo to-null >&2", o);
        auto [out, err] = co_await p.communicate();
        EXPECT_EQ(out, "");
        EXPECT_EQ(err, "");
        EXPECT_EQ(p.returncode(), 0);
        // stdin from /dev/null: cat sees EOF at once.
        ua::process_options in_null = piped(false, true, false);
        in_null.stdin_ = ua::stdio::devnull;
        auto [text, code] = co_await output_of("cat; echo done", in_null);
        EXPECT_EQ(text, "done\n");
        EXPECT_EQ(code, 0);
    }());
}

// uvloop: test_process.py::test_process_streams_redirect / stderr=STDOUT
TEST(Process, StderrToStdout) {
    run_test([]() -> ua::task<> {
        ua::process_options o = piped(false, true, false);
        o.stderr_ = ua::stdio::to_stdout;
        auto [out, code] = co_await output_of("echo out; echo err >&2; echo out2", o);
        EXPECT_EQ(out, "out\nerr\nout2\n");
        // and separately
        ua::process p = co_await shell("echo out; echo err >&2", piped(false, true, true));
        auto [o2, e2] = co_await p.communicate();
        EXPECT_EQ(o2, "out\n");
        EXPECT_EQ(e2, "err\n");
    }());
}

// CPython: test_subprocess.py::test_read_stdout_after_process_exit
TEST(Process, OutputIsReadableAfterTheChildExited) {
    run_test([]() -> ua::task<> {
        ua::process p = co_await shell("echo hello; echo world", piped(false, true, false));
        EXPECT_EQ(co_await p.wait(), 0);
        EXPECT_EQ(co_await p.stdout_pipe().readline(), "hello\n");
        EXPECT_EQ(co_await p.stdout_pipe().read(), "world\n");
    }());
}

// CPython: test_subprocess.py::test_stdin_broken_pipe, test_communicate_ignore_broken_pipe
TEST(Process, BrokenStdinPipe) {
    run_test([]() -> ua::task<> {
        const std::string lots = pattern(4 * 1024 * 1024, 1);
        {
            ua::process p = co_await ua::create_subprocess_exec("/bin/true", no_args, piped(true, false, false));
            EXPECT_EQ(co_await p.wait(), 0);
            bool failed = false;
            try {
                p.stdin_pipe().write(std::string_view(lots));
                co_await p.stdin_pipe().drain();
            } catch (const std::system_error& e) {
                failed = e.code() == std::errc::broken_pipe || e.code() == std::errc::connection_reset;
                EXPECT_TRUE(failed) << e.what();
            }
            EXPECT_TRUE(failed);
        }
        ua::process q = co_await ua::create_subprocess_exec("/bin/true", no_args, piped(true, true, false));
        auto [out, err] = co_await q.communicate(lots);
        EXPECT_EQ(out, "");
        EXPECT_EQ(q.returncode(), 0);
    }());
}

// CPython: test_subprocess.py::test_pause_reading (limit= and flow control)
TEST(Process, SmallLimitStillReadsEverything) {
    run_test([]() -> ua::task<> {
        ua::process_options o = piped(false, true, false);
        o.limit = 16;
        ua::process p = co_await shell("head -c 1000000 /dev/zero", o);
        std::size_t total = 0;
        for (;;) {
            std::string piece = co_await p.stdout_pipe().read(4096);
            if (piece.empty()) break;
            total += piece.size();
        }
        EXPECT_EQ(total, 1000000u);
        EXPECT_EQ(co_await p.wait(), 0);
    }());
}

// CPython: test_subprocess.py::test_subprocess_communicate_stdout (many at once)
TEST(Process, AHundredAtOnce) {
    run_test([]() -> ua::task<> {
        std::vector<ua::task<std::pair<std::string, int>>> runs;
        for (int i = 0; i < 100; ++i) runs.push_back(output_of("echo " + std::to_string(i) + "; exit " + std::to_string(i % 7)));
        auto results = co_await ua::gather(std::move(runs));
        for (int i = 0; i < 100; ++i) {
            EXPECT_EQ(results[i].first, std::to_string(i) + "\n");
            EXPECT_EQ(results[i].second, i % 7);
        }
    }(), std::chrono::seconds(60));
    expect_no_children();
}

// ---- environment, directory, session ----------------------------------------

// CPython: test_subprocess.py::test_create_subprocess_env_shell / _exec; uvloop: test_process_env_1/2
TEST(Process, EnvReplacesTheEnvironment) {
    ::setenv("UVASYNC_PARENT_ONLY", "1", 1);
    run_test([]() -> ua::task<> {
        ua::process_options o = piped(false, true, false);
        o.env = std::map<std::string, std::string>{{"FOO", "bar"}, {"EMPTY", ""}};
        ua::process p = co_await ua::create_subprocess_exec("/usr/bin/env", no_args, o);
        auto [out, err] = co_await p.communicate();
        EXPECT_EQ(out, "EMPTY=\nFOO=bar\n");
        // An empty environment (uvloop: test_process_env_2).
        o.env = std::map<std::string, std::string>{};
        ua::process q = co_await ua::create_subprocess_exec("/usr/bin/env", no_args, o);
        auto [none, err2] = co_await q.communicate();
        EXPECT_EQ(none, "");
        // Unset: the parent's.
        auto [inherited, code] = co_await output_of("echo $UVASYNC_PARENT_ONLY");
        EXPECT_EQ(inherited, "1\n");
    }());
    ::unsetenv("UVASYNC_PARENT_ONLY");
}

// uvloop: test_process.py::test_process_cwd_1
TEST(Process, Cwd) {
    temp_dir dir;
    const std::string where = std::filesystem::canonical(std::filesystem::path(dir / "x").parent_path()).string();
    run_test([](std::string where) -> ua::task<> {
        ua::process_options o = piped(false, true, false);
        o.cwd = where;
        ua::process p = co_await ua::create_subprocess_exec("/bin/pwd", no_args, o);
        auto [out, err] = co_await p.communicate();
        EXPECT_EQ(out, where + "\n");
        o.cwd = where + "/missing";
        try {
            (void)co_await ua::create_subprocess_exec("/bin/pwd", no_args, o);
            ADD_FAILURE() << "spawned in a missing directory";
        } catch (const std::system_error& e) {
            EXPECT_EQ(e.code(), std::errc::no_such_file_or_directory);
            EXPECT_NE(std::string(e.what()).find(where + "/missing"), std::string::npos) << e.what();
        }
    }(where));
}

// CPython: test_subprocess.py::test_start_new_session
TEST(Process, StartNewSession) {
    run_test([]() -> ua::task<> {
        ua::process_options o = piped(false, true, false);
        o.start_new_session = true;
        // The child's session id (field 6 of /proc/self/stat) is its own pid.
        ua::process p = co_await shell("cut -d' ' -f6 /proc/$$/stat", o);
        auto [out, err] = co_await p.communicate();
        EXPECT_EQ(out, std::to_string(p.pid()) + "\n");
        ua::process q = co_await shell("cut -d' ' -f6 /proc/$$/stat", piped(false, true, false));
        auto [same, err2] = co_await q.communicate();
        EXPECT_EQ(same, std::to_string(::getsid(0)) + "\n");
    }());
}

// ---- cancellation and lifetime ------------------------------------------------

ua::task<int> wait_for_exit(ua::process* p) { co_return co_await p->wait(); }
ua::task<std::pair<std::string, std::string>> communicate_with(ua::process* p, std::string input) {
    co_return co_await p->communicate(std::move(input));
}

// CPython: test_subprocess.py::test_cancel_process_wait
TEST(Process, CancellingWaitLeavesTheChildRunning) {
    run_test([]() -> ua::task<> {
        std::vector<std::string> args{"1000"};
        ua::process p = co_await ua::create_subprocess_exec("sleep", args);
        ua::task_handle<int> waiting = ua::create_task(wait_for_exit(&p));
        co_await ua::sleep(0ms);
        EXPECT_FALSE(waiting.done());
        waiting.cancel();
        EXPECT_THROW((void)co_await waiting, ua::cancelled_error);
        EXPECT_EQ(p.returncode(), std::nullopt);
        EXPECT_TRUE(alive_and_not_zombie(p.pid()));
        p.kill();
        EXPECT_EQ(co_await p.wait(), -SIGKILL);
    }());
    expect_no_children();
}

// CPython: test_subprocess.py::test_cancel_process_wait, for communicate
TEST(Process, CancellingCommunicateLeavesTheChildRunning) {
    run_test([]() -> ua::task<> {
        // The child keeps stdout open and never exits by itself.
        ua::process p = co_await shell("exec sleep 1000", piped(true, true, true));
        ua::task_handle<std::pair<std::string, std::string>> talking =
            ua::create_task(communicate_with(&p, pattern(1 << 20, 2)));
        for (int i = 0; i < 10; ++i) co_await ua::sleep(0ms);
        EXPECT_FALSE(talking.done());
        talking.cancel();
        EXPECT_THROW((void)co_await talking, ua::cancelled_error);
        EXPECT_EQ(p.returncode(), std::nullopt);
        EXPECT_TRUE(alive_and_not_zombie(p.pid()));
        p.kill();
        EXPECT_EQ(co_await p.wait(), -SIGKILL);
    }());
    expect_no_children();
}

// asyncio: the child watcher keeps watching a child whose Process is gone.
TEST(Process, ADroppedProcessIsReapedWhenItsChildExits) {
    run_test([]() -> ua::task<> {
        int cat_pid = 0, sleep_pid = 0;
        {
            // Dropping it closes its stdin: cat exits by itself.
            ua::process cat = co_await ua::create_subprocess_exec("cat", no_args, piped(true, false, false));
            cat_pid = cat.pid();
            std::vector<std::string> args{"1000"};
            ua::process sleeper = co_await ua::create_subprocess_exec("sleep", args);
            sleep_pid = sleeper.pid();
        }
        EXPECT_TRUE(alive_and_not_zombie(sleep_pid));
        ::kill(sleep_pid, SIGKILL); // from outside, with no process object left
        EXPECT_TRUE(co_await eventually([] { return children().empty(); }));
        (void)cat_pid;
    }());
    expect_no_children();
}

// asyncio: test_close_kill_running (the loop closes with the child running);
// the process object outlives its loop.
TEST(Process, ClosingTheLoopKillsAndReapsARunningChild) {
    ua::process p;
    {
        ua::event_loop loop;
        p = loop.run_until_complete([]() -> ua::task<ua::process> {
            std::vector<std::string> args{"1000"};
            ua::process_options o = piped(true, true, true);
            co_return co_await ua::create_subprocess_exec("sleep", args, o);
        }());
        ASSERT_TRUE(alive_and_not_zombie(p.pid()));
        // A task still waiting for it when the loop closes.
        ua::task_handle<int> waiting = loop.create_task(wait_for_exit(&p));
        loop.run_until_complete(ua::sleep(0ms));
        EXPECT_FALSE(waiting.done());
        loop.close();
    }
    expect_no_children();
    EXPECT_EQ(p.returncode(), -SIGKILL);
    p.send_signal(SIGTERM); // nothing: reaped
    p.kill();
    EXPECT_TRUE(p.stdout_pipe().at_eof());
}

// The same with nobody holding the process any more.
TEST(Process, ClosingTheLoopReapsADroppedChild) {
    {
        ua::event_loop loop;
        loop.run_until_complete([]() -> ua::task<> {
            std::vector<std::string> args{"1000"};
            ua::process p = co_await ua::create_subprocess_exec("sleep", args);
            EXPECT_TRUE(alive_and_not_zombie(p.pid()));
        }());
        EXPECT_EQ(children().size(), 1u);
    }
    expect_no_children();
}

} // namespace
