// cancel storm: thousands of tasks, each parked in a random kind of
// operation, cancelled at random points (before they start, while parked,
// right after a wake-up), round after round; then a last batch is left
// parked and the loop is closed under it. Meant for the clang-asan build:
// any ASan/UBSan report or leak fails the run. The primitives' books must
// balance after every round: the lock is free, no semaphore unit and no
// queue item was lost or made up.
//
//   stress_cancel_storm [--quick] [--rounds N] [--tasks N] [--seed N]
//
// Adding a kind of operation is one function below and one row in `kinds`.
#include "stress.hpp"

#include <sys/socket.h>

#include <netinet/in.h>

#include <array>
#include <thread>
#include <vector>

namespace {

namespace ua = uvasync;
using namespace std::chrono_literals;
using stress::report;

// ---- what the operations park on ---------------------------------------------------

struct storm {
    stress::prng rng{1};
    ua::lock lk;
    ua::semaphore sem{0};
    ua::event ev;
    ua::queue<int> empty_q{0}; // getters park (the waker puts now and then)
    ua::queue<int> full_q{2};  // putters park (the waker takes now and then)
    std::uint16_t silent_port = 0;   // accepts, never reads nor writes
    std::uint16_t blackhole_port = 0; // its backlog is full: connects hang
    // books
    long sem_released = 0, sem_acquired = 0;
    long empty_put = 0, empty_got = 0;
    long full_put = 0, full_got = 0;
    // outcome counts per kind
    struct tally {
        long done = 0, cancelled = 0, failed = 0;
    };
    std::vector<tally> tallies;
    std::string first_failure;
    std::vector<int> blackhole_fds;
    ua::event round_over; // the silent server's handlers return
    ua::process sleeper;  // a child that outlives the storm: waits on it park
    std::string file_path; // 256 KiB of lines that file reads go through
};

ua::task<> park_sleep(storm& s) {
    const auto ms = std::chrono::milliseconds(1 + s.rng.below(50));
    co_await ua::sleep(ms);
}

ua::task<> park_read(storm& s) {
    auto rw = co_await stress::connect(s.silent_port);
    std::string got = co_await rw.first.read(100);
}

ua::task<> park_readline(storm& s) {
    auto rw = co_await stress::connect(s.silent_port);
    std::string line = co_await rw.first.readline();
}

ua::task<> park_drain(storm& s) {
    auto rw = co_await stress::connect(s.silent_port);
    uv_os_fd_t fd = -1;
    uv_fileno(reinterpret_cast<uv_handle_t*>(rw.second.native_handle()), &fd);
    int size = 4096;
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    rw.second.set_write_buffer_limits(1024);
    rw.second.write(std::string(256 * 1024, 'd'));
    co_await rw.second.drain();
}

ua::task<> park_connect(storm& s) {
    auto rw = co_await stress::connect(s.blackhole_port);
}

ua::task<> park_getaddrinfo(storm&) {
    ua::task<std::vector<ua::endpoint>> lookup = ua::getaddrinfo("localhost", 80);
    std::vector<ua::endpoint> addrs = co_await std::move(lookup);
}

ua::task<> park_lock(storm& s) {
    auto held = co_await s.lk.scoped();
    co_await ua::sleep(std::chrono::milliseconds(s.rng.below(3)));
}

ua::task<> park_semaphore(storm& s) {
    co_await s.sem.acquire();
    ++s.sem_acquired;
}

ua::task<> park_event(storm& s) { co_await s.ev.wait(); }

ua::task<> park_queue_get(storm& s) {
    int item = co_await s.empty_q.get();
    (void)item;
    ++s.empty_got;
}

ua::task<> park_queue_put(storm& s) {
    co_await s.full_q.put(1);
    ++s.full_put;
}

void short_job() { std::this_thread::sleep_for(std::chrono::microseconds(200)); }

ua::task<> park_to_thread(storm&) { co_await ua::to_thread(short_job); }

ua::task<> park_wait_for(storm& s) {
    ua::task<> inner = s.rng.below(2) ? park_event(s) : park_sleep(s);
    const auto timeout = std::chrono::milliseconds(s.rng.below(20));
    try {
        co_await ua::wait_for(std::move(inner), timeout);
    } catch (const ua::timeout_error&) {
    }
}

ua::task<> park_gather(storm& s) {
    ua::task<> a = park_sleep(s);
    ua::task<> b = park_event(s);
    ua::task<> c = park_semaphore(s);
    co_await ua::gather(std::move(a), std::move(b), std::move(c));
}

ua::task<> park_shield(storm& s) {
    ua::task<> inner = park_sleep(s);
    co_await ua::shield(std::move(inner));
}

// Waits for a child: mostly the long sleeper every such task shares (the
// loop's close kills it), one time in eight a child of its own that exits
// at once, so that a cancellation races with the exit notification.
ua::task<> park_process_wait(storm& s) {
    if (s.rng.below(8) == 0) {
        ua::task<ua::process> spawning = ua::create_subprocess_exec("/bin/true");
        ua::process p = co_await std::move(spawning);
        const int code = co_await p.wait();
        if (code != 0) throw std::runtime_error("/bin/true exited " + std::to_string(code));
    } else {
        const int code = co_await s.sleeper.wait();
        (void)code;
    }
}

// Reads the file through, by lines or in pieces, and closes it: cancelled
// while a request is on the thread pool or while the buffer serves it.
ua::task<> park_file_read(storm& s) {
    const bool lines = s.rng.below(2) == 0;
    const std::size_t piece = 1 + s.rng.below(64 * 1024);
    ua::task<ua::file> opening = ua::open_file(s.file_path, "r");
    ua::file f = co_await std::move(opening);
    std::size_t total = 0;
    for (;;) {
        std::string got;
        if (lines) got = co_await f.readline();
        else got = co_await f.read(piece);
        if (got.empty()) break;
        total += got.size();
    }
    co_await f.close();
    if (total != 256 * 1024) throw std::runtime_error("file read: " + std::to_string(total) + " bytes");
}

ua::task<> park_task_group(storm& s) {
    auto body = [&s](ua::task_group& tg) -> ua::task<> {
        tg.create_task(park_sleep(s));
        tg.create_task(park_event(s));
        tg.create_task(park_lock(s));
        co_return;
    };
    co_await ua::task_group::scope(body);
}

struct kind {
    const char* name;
    ua::task<> (*park)(storm&);
};

const std::array kinds{
    kind{"sleep", park_sleep},
    kind{"read", park_read},
    kind{"readline", park_readline},
    kind{"drain", park_drain},
    kind{"connect", park_connect},
    kind{"getaddrinfo", park_getaddrinfo},
    kind{"lock", park_lock},
    kind{"semaphore", park_semaphore},
    kind{"event", park_event},
    kind{"queue_get", park_queue_get},
    kind{"queue_put", park_queue_put},
    kind{"to_thread", park_to_thread},
    kind{"wait_for", park_wait_for},
    kind{"gather", park_gather},
    kind{"shield", park_shield},
    kind{"task_group", park_task_group},
    kind{"process_wait", park_process_wait},
    kind{"file_read", park_file_read},
};

// One operation of kind k, with its outcome tallied. With `pending`, the
// task cancels itself first: the cancellation is pending when the
// operation's first await begins (asyncio's __step hands it on).
ua::task<> run_kind(storm* s, std::size_t k, bool pending = false) {
    try {
        if (pending) ua::current_task()->cancel();
        co_await kinds[k].park(*s);
        ++s->tallies[k].done;
    } catch (const ua::cancelled_error&) {
        ++s->tallies[k].cancelled;
        throw;
    } catch (const std::exception& e) {
        // A connection the silent server's backlog refused, and the like,
        // are outcomes, not bugs; they are counted and the first is shown.
        ++s->tallies[k].failed;
        if (s->first_failure.empty()) s->first_failure = std::string(kinds[k].name) + ": " + e.what();
    }
}

// Wakes parked operations now and then, so that cancellations race with
// wake-ups.
ua::task<> waker(storm* s, bool* stop) {
    while (!*stop) {
        switch (s->rng.below(5)) {
        case 0:
            s->sem.release();
            ++s->sem_released;
            break;
        case 1:
            s->ev.set();
            s->ev.clear();
            break;
        case 2:
            if (!s->empty_q.full()) {
                s->empty_q.put_nowait(1);
                ++s->empty_put;
            }
            break;
        case 3:
            if (!s->full_q.empty()) {
                (void)s->full_q.get_nowait();
                ++s->full_got;
            }
            break;
        default:
            break;
        }
        co_await ua::sleep(std::chrono::microseconds(200 + s->rng.below(800)));
    }
}

// The silent server's connections: held open, never read nor written to,
// until the round is over.
ua::task<> hold_silently([[maybe_unused]] ua::stream_reader r, [[maybe_unused]] ua::stream_writer w, storm* s) {
    co_await s->round_over.wait();
}

ua::client_connected_handler silent_handler(storm* s) {
    return [s](ua::stream_reader r, ua::stream_writer w) { return hold_silently(std::move(r), std::move(w), s); };
}

// A listening socket whose backlog is full, so that a connect to it hangs
// (the kernel drops the SYN).
std::uint16_t make_blackhole(storm& s) {
    int l = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(l, 0) != 0 ||
        ::getsockname(l, reinterpret_cast<sockaddr*>(&a), &len) != 0)
        throw std::runtime_error("blackhole listener");
    s.blackhole_fds.push_back(l);
    for (int i = 0; i < 8; ++i) { // backlog 0 still queues one or two
        int c = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        ::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a);
        s.blackhole_fds.push_back(c);
    }
    return ntohs(a.sin_port);
}

struct round_figures {
    long tasks = 0;
    long cancelled_before_start = 0, cancelled_soon = 0, cancelled_later = 0, left_alone = 0, pending_on_entry = 0;
    long orphans = 0, orphans_rounds = 0; // tasks left pending after a round (and in how many rounds)
};

ua::task<> one_round(storm* s, long n, round_figures* f) {
    std::vector<ua::task_handle<>> handles;
    std::vector<ua::timer_handle> timers;
    ua::event_loop& loop = ua::get_running_loop();
    for (long i = 0; i < n; ++i) {
        const std::size_t k = s->rng.below(kinds.size());
        const std::size_t when = s->rng.below(5);
        ua::task_handle<> h = ua::create_task(run_kind(s, k, when == 4));
        switch (when) {
        case 0: // cancelled before its first step
            h.cancel();
            ++f->cancelled_before_start;
            break;
        case 1: // after a step or two
            loop.call_soon([h]() mutable { h.cancel(); });
            ++f->cancelled_soon;
            break;
        case 2: { // at a random point, often just after a wake-up
            const auto delay = std::chrono::microseconds(s->rng.below(20000));
            timers.push_back(loop.call_later(delay, [h]() mutable { h.cancel(); }));
            ++f->cancelled_later;
            break;
        }
        case 3:
            ++f->left_alone;
            break;
        default:
            ++f->pending_on_entry;
            break;
        }
        handles.push_back(std::move(h));
    }
    f->tasks += n;
    co_await ua::sleep(25ms);
    for (auto& h : handles) h.cancel(); // whatever is still parked
    for (auto& h : handles) {
        try {
            co_await h;
        } catch (const ua::cancelled_error&) {
        } catch (const std::exception&) {
        }
    }
}

// The books after a round, with the waker stopped and every task done.
ua::task<> check_books(storm* s, report* rep) {
    rep->check(!s->lk.locked(), "the lock is left held after its waiters were cancelled");
    long units = 0;
    while (!s->sem.locked()) {
        co_await s->sem.acquire();
        ++units;
    }
    rep->check(units == s->sem_released - s->sem_acquired,
               "semaphore units: " + std::to_string(units) + " left, expected " +
                   std::to_string(s->sem_released - s->sem_acquired));
    s->sem_released = s->sem_acquired = 0;
    rep->check(static_cast<long>(s->empty_q.qsize()) == s->empty_put - s->empty_got,
               "queue items lost or made up by cancelled getters");
    rep->check(static_cast<long>(s->full_q.qsize()) == 2 + s->full_put - s->full_got,
               "queue items lost or made up by cancelled putters");
}

ua::task<> storm_rounds(storm* s, long rounds, long n, round_figures* f, report* rep) {
    ua::task<ua::server> starting = ua::start_server(silent_handler(s), "127.0.0.1", 0);
    ua::server silent = co_await std::move(starting);
    s->silent_port = silent.port();
    s->blackhole_port = make_blackhole(*s);
    s->full_q.put_nowait(1);
    s->full_q.put_nowait(1);
    std::vector<std::string> sleep_args{"3600"};
    ua::task<ua::process> spawning = ua::create_subprocess_exec("/bin/sleep", std::move(sleep_args));
    s->sleeper = co_await std::move(spawning);
    std::string lines;
    for (int i = 0; lines.size() < 256 * 1024; ++i) lines += std::string(static_cast<std::size_t>(i % 97), 'x') + "\n";
    lines.resize(256 * 1024);
    s->file_path = "/tmp/uvasync-cancel-storm-" + std::to_string(::getpid());
    ua::task<> writing = ua::write_file(s->file_path, std::move(lines));
    co_await std::move(writing);
    for (long r = 0; r < rounds && rep->ok(); ++r) {
        bool stop = false;
        ua::task_handle<> w = ua::create_task(waker(s, &stop));
        co_await one_round(s, n, f);
        stop = true;
        co_await w;
        // Every task of the round is done, and so are the children it
        // started (gather's, shield's, wait_for's, the groups'): once the
        // silent server's handlers return, only this task is left.
        s->round_over.set();
        auto only_me = [] { return ua::all_tasks().size() == 1; };
        if (!co_await stress::wait_until(only_me, 500ms)) {
            const std::size_t left = ua::all_tasks().size() - 1;
            rep->check(false, std::to_string(left) + " tasks still pending after round " + std::to_string(r) +
                                  " (a cancellation pending on entry must reach gather's children)");
            ++f->orphans_rounds;
            f->orphans += static_cast<long>(left);
            for (auto& t : ua::all_tasks())
                if (!(t == *ua::current_task())) t.cancel();
            if (!co_await stress::wait_until(only_me, 5s))
                rep->check(false, "tasks still pending after they were cancelled at the end of a round");
        }
        co_await check_books(s, rep);
        s->round_over.clear();
    }
}

// The last batch: parked, then the loop closes under it.
ua::task<> park_last_batch(storm* s, long n) {
    for (long i = 0; i < n; ++i) ua::create_task(run_kind(s, s->rng.below(kinds.size())));
    co_await ua::sleep(20ms);
}

} // namespace

int main(int argc, char** argv) {
    stress::args a(argc, argv);
    const long rounds = a.get("rounds", 100, 12);
    const long n = a.get("tasks", 2000, 1000);
    const auto seed = static_cast<std::uint64_t>(a.get("seed", static_cast<long>(::time(nullptr) % 100000)));
    stress::set_nofile(16384);
    report rep("cancel_storm");
    storm s;
    s.rng = stress::prng(seed);
    s.tallies.resize(kinds.size());
    round_figures f;
    const auto t0 = std::chrono::steady_clock::now();
    try {
        ua::event_loop loop;
        stress::exception_log reported;
        reported.install(loop);
        loop.run_until_complete(storm_rounds(&s, rounds, n, &f, &rep));
        // A silent server for the last batch, left open as well.
        ua::server silent = loop.run_until_complete(ua::start_server(silent_handler(&s), "127.0.0.1", 0));
        s.silent_port = silent.port();
        loop.run_until_complete(park_last_batch(&s, n));
        loop.close();
        rep.check(reported.count == 0, "exception handler: " + reported.first);
    } catch (const std::exception& e) {
        rep.check(false, e.what());
    }
    for (int fd : s.blackhole_fds) ::close(fd);
    if (!s.file_path.empty()) ::unlink(s.file_path.c_str());
    rep.check(!s.sleeper.valid() || s.sleeper.returncode() == -SIGKILL,
              "the sleeper child was not killed when the loop closed");
    long done = 0, cancelled = 0, failed = 0;
    std::string per_kind;
    for (std::size_t k = 0; k < kinds.size(); ++k) {
        done += s.tallies[k].done;
        cancelled += s.tallies[k].cancelled;
        failed += s.tallies[k].failed;
        per_kind += (per_kind.empty() ? "" : ",") + std::string(kinds[k].name) + ":" + std::to_string(s.tallies[k].cancelled);
    }
    rep.add("seed", "%llu", static_cast<unsigned long long>(seed));
    rep.add("rounds", "%ld", rounds);
    rep.add("tasks", "%ld", f.tasks + n);
    rep.add("kinds", "%zu", kinds.size());
    rep.add("cancelled", "%ld", cancelled);
    rep.add("completed", "%ld", done);
    rep.add("failed", "%ld", failed);
    rep.add("cancel_points", "before_start:%ld,pending_on_entry:%ld,soon:%ld,later:%ld,at_end:%ld",
            f.cancelled_before_start, f.pending_on_entry, f.cancelled_soon, f.cancelled_later, f.left_alone);
    rep.add("orphans", "%ld(in %ld rounds)", f.orphans, f.orphans_rounds);
    rep.add("time_s", "%.1f", stress::since(t0));
    rep.add("cancelled_per_kind", "%s", per_kind.c_str());
    if (!s.first_failure.empty()) rep.add("first_failure", "\"%s\"", s.first_failure.c_str());
    return rep.finish();
}
