// supervisor: keeps a command running.
//
//   supervisor [--backoff-ms N] [--max-backoff-ms N] -- command [args...]
//
// The command is restarted whenever it crashes (exits with a non-zero
// status, or is killed by a signal), after a pause that doubles with each
// crash (from --backoff-ms, 100 by default, up to --max-backoff-ms, 30000).
// SIGTERM and SIGINT are forwarded to the command; the supervisor then waits
// for it to exit and does not restart it. It exits with the command's status
// (128 + N when signal N killed it), or 0 once the command exits cleanly.
//
// The asyncio program this is a port of is in docs/porting.md.
#include <uvasync/uvasync.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace ua = uvasync;
using namespace std::chrono_literals;

struct settings {
    std::chrono::milliseconds backoff{100};
    std::chrono::milliseconds max_backoff{30000};
    std::vector<std::string> command;
};

// What a shell reports for a child: its status, or 128 + N for signal N.
int exit_status(int returncode) { return returncode >= 0 ? returncode : 128 - returncode; }

// Resolves when `e` is set (wait_for needs a task or a handle to cancel).
ua::task<> set(ua::event& e) { co_await e.wait(); }

// The handlers below point into supervise()'s frame: gone with it.
struct forwarding {
    ua::event_loop& loop;
    ~forwarding() {
        loop.remove_signal_handler(SIGTERM);
        loop.remove_signal_handler(SIGINT);
    }
};

ua::task<int> supervise(settings s) {
    ua::event stopping;
    int stop_signal = 0;
    ua::process* child = nullptr; // the running child, if any
    ua::event_loop& loop = ua::get_running_loop();
    forwarding remove_at_exit{loop};
    for (int sig : {SIGTERM, SIGINT}) {
        loop.add_signal_handler(sig, [&, sig] {
            stop_signal = sig;
            stopping.set();
            if (child) child->send_signal(sig);
        });
    }
    const std::vector<std::string> args(s.command.begin() + 1, s.command.end());
    std::chrono::milliseconds delay = s.backoff;
    for (;;) {
        ua::process p = co_await ua::create_subprocess_exec(s.command[0], args);
        child = &p;
        if (stopping.is_set()) p.send_signal(stop_signal); // arrived while it was starting
        const int rc = co_await p.wait();
        child = nullptr;
        if (rc == 0 || stopping.is_set()) {
            std::fprintf(stderr, "supervisor: %s exited with status %d\n", s.command[0].c_str(), exit_status(rc));
            co_return exit_status(rc);
        }
        std::fprintf(stderr, "supervisor: %s crashed (%s %d), restarting in %lld ms\n", s.command[0].c_str(),
                     rc > 0 ? "status" : "signal", rc > 0 ? rc : -rc, static_cast<long long>(delay.count()));
        try {
            co_await ua::wait_for(set(stopping), delay); // a signal during the pause ends it
            co_return 128 + stop_signal;
        } catch (const ua::timeout_error&) {
        }
        delay = std::min(delay * 2, s.max_backoff);
    }
}

int main(int argc, char** argv) {
    settings s;
    int i = 1;
    for (; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--") {
            ++i;
            break;
        }
        if ((arg == "--backoff-ms" || arg == "--max-backoff-ms") && i + 1 < argc) {
            (arg == "--backoff-ms" ? s.backoff : s.max_backoff) = std::chrono::milliseconds(std::atol(argv[++i]));
        } else if (arg.rfind("--", 0) == 0) {
            i = argc; // an unknown option: usage
        } else {
            break; // the command
        }
    }
    for (; i < argc; ++i) s.command.emplace_back(argv[i]);
    if (s.command.empty()) {
        std::fprintf(stderr, "usage: supervisor [--backoff-ms N] [--max-backoff-ms N] -- command [args...]\n");
        return 2;
    }
    try {
        return ua::run(supervise(std::move(s)));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "supervisor: %s\n", e.what());
        return 1;
    }
}
