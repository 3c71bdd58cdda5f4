// soak: minutes of random traffic through the whole API: TCP and Unix echo
// with checksums, reads cancelled by timeouts, resets mid-transfer,
// half-closes, servers started and stopped, DNS lookups, UDP, thread-pool
// jobs, task groups with a failing child, subprocesses (an echo through
// cat's pipes, a wait cancelled, a child killed). Meant for the clang-asan build.
// Nothing may be lost (every echo checks out, nothing unexpected is thrown
// or reported), and at the end the descriptor count and memory are where
// they were once the run had warmed up: the heap the allocator counts as
// live and, without ASan (whose own memory is most of RSS), RSS after
// malloc_trim.
//
//   stress_soak [--quick] [--seconds N] [--workers N] [--seed N] [--action K]
//
// --action K runs only the K-th of `actions` (0 echo ... 9 subprocess), to
// see which kind of traffic moves RSS.
#include "stress.hpp"

#include <sys/socket.h>

#include <malloc.h>

#include <array>
#include <thread>
#include <vector>

namespace {

namespace ua = uvasync;
using namespace std::chrono_literals;
using stress::report;

struct soak {
    stress::prng rng{1};
    long only_action = -1; // --action K: only actions[K]
    std::uint16_t tcp_port = 0;
    std::string unix_path;
    ua::datagram_socket* udp_echo = nullptr;
    ua::endpoint udp_addr;
    bool stop = false;
    long unexpected = 0;
    std::string first_unexpected;
    std::vector<long> counts;

    void fail(const std::string& what) {
        if (unexpected++ == 0) first_unexpected = what;
    }
};

using rw_pair = std::pair<ua::stream_reader, ua::stream_writer>;

ua::task<rw_pair> connect_any(soak& s) {
    if (s.rng.below(3) == 0) {
        ua::task<rw_pair> c = ua::open_unix_connection(s.unix_path);
        co_return co_await std::move(c);
    }
    co_return co_await stress::connect(s.tcp_port);
}

// Writes `data` in random pieces, draining now and then.
ua::task<> send_pieces(soak* s, ua::stream_writer* w, const std::string* data) {
    for (std::size_t off = 0; off < data->size();) {
        const std::size_t k = std::min(data->size() - off, 1 + s->rng.below(32 * 1024));
        w->write(std::string_view(*data).substr(off, k));
        off += k;
        if (s->rng.below(4) == 0) co_await w->drain();
    }
    co_await w->drain();
}

ua::task<> act_echo(soak& s) {
    auto rw = co_await connect_any(s);
    const std::string data = stress::payload(s.rng.next(), 1 + s.rng.below(256 * 1024));
    ua::task_handle<> sender = ua::create_task(send_pieces(&s, &rw.second, &data));
    std::string back;
    std::exception_ptr failed;
    try {
        back = co_await rw.first.readexactly(data.size());
    } catch (...) { // cancelled (a task group's sibling failed), or an error
        failed = std::current_exception();
    }
    if (failed) { // the sender uses `data` and the writer: it ends first
        sender.cancel();
        try {
            co_await sender;
        } catch (...) {
        }
        std::rethrow_exception(failed);
    }
    co_await sender;
    if (stress::fnv1a(back) != stress::fnv1a(data)) s.fail("echo: checksum mismatch");
    rw.second.close();
    co_await rw.second.wait_closed();
}

ua::task<> act_cancelled_read(soak& s) {
    auto rw = co_await connect_any(s);
    rw.second.write(stress::payload(s.rng.next(), 100));
    // Asks for more than will come: the read is cancelled by the timeout.
    ua::task<std::string> more = rw.first.readexactly(1000);
    try {
        std::string never = co_await ua::wait_for(std::move(more), std::chrono::milliseconds(1 + s.rng.below(10)));
        s.fail("cancelled read: readexactly(1000) returned after 100 bytes");
    } catch (const ua::timeout_error&) {
    }
    // The stream is still usable: the 100 bytes are there.
    std::string first = co_await rw.first.readexactly(100);
    if (s.rng.below(2)) rw.second.abort();
    else rw.second.close();
    co_await rw.second.wait_closed();
}

ua::task<> act_reset(soak& s) {
    auto rw = co_await connect_any(s);
    uv_os_fd_t fd = -1;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(rw.second.native_handle()), &fd) == 0) {
        linger l{1, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    rw.second.write(stress::payload(s.rng.next(), s.rng.below(512 * 1024)));
    if (s.rng.below(2)) co_await ua::sleep(std::chrono::milliseconds(s.rng.below(5)));
    rw.second.abort();
}

ua::task<> act_half_close(soak& s) {
    auto rw = co_await connect_any(s);
    const std::string data = stress::payload(s.rng.next(), 1 + s.rng.below(64 * 1024));
    rw.second.write(data);
    rw.second.write_eof();
    std::string back = co_await rw.first.read();
    if (back != data) s.fail("half close: the echo before EOF differs");
    rw.second.close();
    co_await rw.second.wait_closed();
}

ua::task<> echo_once(ua::stream_reader r, ua::stream_writer w) {
    std::string line = co_await r.readline();
    w.write(std::move(line));
    co_await w.drain();
}

ua::task<> act_server_churn(soak&) {
    ua::task<ua::server> starting = ua::start_server(echo_once, "127.0.0.1", 0);
    ua::server srv = co_await std::move(starting);
    auto rw = co_await stress::connect(srv.port());
    rw.second.write("churn\n");
    std::string line = co_await rw.first.readline();
    srv.close();
    rw.second.close();
    co_await srv.wait_closed();
}

ua::task<> act_dns(soak&) {
    ua::task<std::vector<ua::endpoint>> lookup = ua::getaddrinfo("localhost", 80);
    std::vector<ua::endpoint> a = co_await std::move(lookup);
    if (a.empty()) throw std::runtime_error("localhost resolved to nothing");
}

std::uint64_t crunch(std::uint64_t x) {
    for (int i = 0; i < 1000; ++i) x = x * 6364136223846793005ull + 1442695040888963407ull;
    return x;
}

ua::task<> act_thread(soak& s) {
    const std::uint64_t seed = s.rng.next();
    std::uint64_t r = co_await ua::to_thread(crunch, seed);
    if (r != crunch(seed)) s.fail("to_thread: wrong result");
}

ua::task<> act_udp(soak& s) {
    ua::task<ua::datagram_socket> open = ua::create_datagram_endpoint(std::nullopt, s.udp_addr);
    ua::datagram_socket sock = co_await std::move(open);
    const std::string msg = stress::payload(s.rng.next(), 1 + s.rng.below(1200));
    ua::task<> sending = sock.send(msg);
    co_await std::move(sending);
    ua::task<std::pair<std::string, ua::endpoint>> reply = sock.recvfrom();
    try {
        auto got = co_await ua::wait_for(std::move(reply), 200ms);
        if (got.first != msg) s.fail("udp: the echo differs");
    } catch (const ua::timeout_error&) {
        // UDP may drop under load: not a loss of ours
    }
}

ua::task<> failing_child() {
    co_await ua::sleep(1ms);
    throw std::runtime_error("child fails");
}

ua::task<> act_task_group(soak& s) {
    auto body = [&s](ua::task_group& tg) -> ua::task<> {
        tg.create_task(act_echo(s));
        tg.create_task(act_thread(s));
        tg.create_task(failing_child());
        tg.create_task(ua::sleep(10s)); // cancelled by the failure
        co_return;
    };
    try {
        co_await ua::task_group::scope(body);
        s.fail("task_group: the failing child was not reported");
    } catch (const ua::exception_group&) {
    }
}

// A child: cat echoes a payload through its pipes (communicate), or a
// sleeping child whose wait is cancelled by a timeout and which is then
// killed, or one terminated while its output is being read.
ua::task<> act_subprocess(soak& s) {
    ua::process_options o;
    o.stdin_ = ua::stdio::pipe;
    o.stdout_ = ua::stdio::pipe;
    switch (s.rng.below(3)) {
    case 0: {
        ua::task<ua::process> spawning = ua::create_subprocess_exec("/bin/cat", {}, o);
        ua::process p = co_await std::move(spawning);
        std::string msg = stress::payload(s.rng.next(), 1 + s.rng.below(128 * 1024)); // both ways past the pipe buffer
        const std::uint64_t sum = stress::fnv1a(msg);
        auto [out, err] = co_await p.communicate(std::move(msg));
        if (stress::fnv1a(out) != sum) s.fail("subprocess: cat's output differs from its input");
        if (p.returncode() != 0) s.fail("subprocess: cat exited " + std::to_string(p.returncode().value_or(-999)));
        break;
    }
    case 1: {
        std::vector<std::string> args{"10"};
        ua::task<ua::process> spawning = ua::create_subprocess_exec("/bin/sleep", std::move(args), o);
        ua::process p = co_await std::move(spawning);
        ua::task<int> waiting = p.wait();
        try {
            (void)co_await ua::wait_for(std::move(waiting), std::chrono::milliseconds(1 + s.rng.below(20)));
            s.fail("subprocess: sleep 10 exited early");
        } catch (const ua::timeout_error&) {
        }
        p.kill();
        const int code = co_await p.wait();
        if (code != -SIGKILL) s.fail("subprocess: a killed child's wait() gave " + std::to_string(code));
        break;
    }
    default: {
        ua::task<ua::process> spawning = ua::create_subprocess_exec("/bin/cat", {}, o);
        ua::process p = co_await std::move(spawning);
        p.stdin_pipe().write(stress::payload(s.rng.next(), 1000));
        std::string got = co_await p.stdout_pipe().readexactly(1000);
        p.terminate();
        const int code = co_await p.wait();
        if (code != -SIGTERM) s.fail("subprocess: a terminated child's wait() gave " + std::to_string(code));
        break;
    }
    }
}

struct action {
    const char* name;
    ua::task<> (*run)(soak&);
};

const std::array actions{
    action{"echo", act_echo},
    action{"cancelled_read", act_cancelled_read},
    action{"reset", act_reset},
    action{"half_close", act_half_close},
    action{"server_churn", act_server_churn},
    action{"dns", act_dns},
    action{"thread", act_thread},
    action{"udp", act_udp},
    action{"task_group", act_task_group},
    action{"subprocess", act_subprocess},
};

ua::task<> worker(soak* s) {
    while (!s->stop) {
        const std::size_t k = s->only_action >= 0 ? static_cast<std::size_t>(s->only_action) % actions.size()
                                                  : s->rng.below(actions.size());
        try {
            co_await actions[k].run(*s);
            ++s->counts[k];
        } catch (const std::exception& e) {
            // A reset's own connection may fail on our side; anything else
            // is unexpected.
            if (std::string_view(actions[k].name) != "reset") s->fail(std::string(actions[k].name) + ": " + e.what());
        }
    }
}

ua::task<> udp_echo_loop(ua::datagram_socket* sock) {
    for (;;) {
        auto [data, from] = co_await sock->recvfrom();
        ua::task<> reply = sock->sendto(std::move(data), from);
        co_await std::move(reply);
    }
}

struct figures {
    long rss_warm = 0, rss_end = 0, rss_warm_trimmed = 0, rss_end_trimmed = 0;
    long heap_warm = 0, heap_end = 0; // stress::heap_in_use_kib()
    int fds_warm = 0, fds_end = 0;
    long active_end = 0;
};

ua::task<> soak_main(soak* s, long seconds, long workers, figures* f, stress::server_stats* st) {
    ua::task<ua::server> starting = ua::start_server(stress::echo_handler(*st), "127.0.0.1", 0);
    ua::server tcp = co_await std::move(starting);
    s->tcp_port = tcp.port();
    s->unix_path = "/tmp/uvasync-soak-" + std::to_string(::getpid()) + ".sock";
    ua::task<ua::server> starting_unix = ua::start_unix_server(stress::echo_handler(*st), s->unix_path);
    ua::server unix_srv = co_await std::move(starting_unix);
    ua::task<ua::datagram_socket> open_udp = ua::create_datagram_endpoint(ua::endpoint("127.0.0.1", 0));
    ua::datagram_socket udp = co_await std::move(open_udp);
    s->udp_addr = udp.sockname();
    ua::task_handle<> udp_loop = ua::create_task(udp_echo_loop(&udp));

    std::vector<ua::task_handle<>> ws;
    for (long i = 0; i < workers; ++i) ws.push_back(ua::create_task(worker(s)));
    const auto warm = std::chrono::seconds(std::max(1L, seconds / 4));
    co_await ua::sleep(warm);
    // Warm: every kind of object has been made and freed many times over.
    // The figures are taken the same way as at the end: workers paused.
    s->stop = true;
    for (auto& w : ws) co_await w;
    auto idle = [&] { return st->active == 0; };
    co_await stress::wait_until(idle, 10s);
    // The frame cache keeps what a busy loop freed (up to 2 MiB a size
    // class) until a second has gone by without a free; it looks once a
    // second, so after 2 s of quiet it has given everything back.
    co_await ua::sleep(2500ms);
    f->rss_warm = stress::rss_kib();
    ::malloc_trim(0);
    f->rss_warm_trimmed = stress::rss_kib();
    f->heap_warm = stress::heap_in_use_kib();
    f->fds_warm = stress::fd_count();

    s->stop = false;
    ws.clear();
    for (long i = 0; i < workers; ++i) ws.push_back(ua::create_task(worker(s)));
    co_await ua::sleep(std::chrono::seconds(seconds) - warm);
    s->stop = true;
    for (auto& w : ws) co_await w;
    auto idle_again = [&] { return st->active == 0; };
    co_await stress::wait_until(idle_again, 10s);
    co_await ua::sleep(2500ms); // (as at the warm figure)
    f->rss_end = stress::rss_kib();
    f->fds_end = stress::fd_count();
    f->active_end = st->active;
    ::malloc_trim(0);
    f->rss_end_trimmed = stress::rss_kib();
    f->heap_end = stress::heap_in_use_kib();
    udp_loop.cancel();
    try {
        co_await udp_loop;
    } catch (const ua::cancelled_error&) {
    }
}

} // namespace

int main(int argc, char** argv) {
    stress::args a(argc, argv);
    const long seconds = a.get("seconds", 600, 60);
    const long workers = a.get("workers", 64, 32);
    const auto seed = static_cast<std::uint64_t>(a.get("seed", static_cast<long>(::time(nullptr) % 100000)));
    const long only_action = a.get("action", -1);
    stress::set_nofile(16384);
    report rep("soak");
    soak s;
    s.rng = stress::prng(seed);
    s.only_action = only_action;
    s.counts.resize(actions.size());
    figures f;
    stress::server_stats st;
    stress::exception_log reported;
    const auto t0 = std::chrono::steady_clock::now();
    try {
        ua::event_loop loop;
        reported.install(loop);
        loop.run_until_complete(soak_main(&s, seconds, workers, &f, &st));
        loop.close();
    } catch (const std::exception& e) {
        rep.check(false, e.what());
    }
    long total = 0;
    std::string per_action;
    for (std::size_t k = 0; k < actions.size(); ++k) {
        total += s.counts[k];
        per_action += (per_action.empty() ? "" : ",") + std::string(actions[k].name) + ":" + std::to_string(s.counts[k]);
    }
    rep.add("seed", "%llu", static_cast<unsigned long long>(seed));
    rep.add("seconds", "%ld", seconds);
    rep.add("workers", "%ld", workers);
    rep.add("actions", "%ld", total);
    rep.add("connections", "%ld", st.accepted);
    rep.add("rss_kib", "%ld->%ld(after malloc_trim %ld->%ld)", f.rss_warm, f.rss_end, f.rss_warm_trimmed, f.rss_end_trimmed);
    rep.add("heap_in_use_kib", "%ld->%ld", f.heap_warm, f.heap_end);
    rep.add("fds", "%d->%d", f.fds_warm, f.fds_end);
    rep.add("time_s", "%.1f", stress::since(t0));
    rep.add("per_action", "%s", per_action.c_str());
    rep.check(s.unexpected == 0, std::to_string(s.unexpected) + " unexpected outcomes, first: " + s.first_unexpected);
    rep.check(reported.count == 0, "exception handler: " + reported.first);
    rep.check(f.active_end == 0, "connections still open on the servers");
    rep.check(f.fds_end == f.fds_warm, "descriptors leaked");
    // Flat: at most 10% + 2 MiB above the warm figure (allocator noise),
    // both taken after malloc_trim, so that memory glibc keeps for reuse
    // (big payloads leave free chunks in its heap that RSS still counts)
    // is not taken for the library's.
    //
    // Under ASan, RSS is ASan's: its shadow, its quarantine (32 MB here)
    // and the free lists of its allocator, which it keeps and which
    // malloc_trim does not reach: about 70 MB for the 0.3 MB the program
    // holds, growing by a few MB over minutes of churn with the program's
    // own memory flat. There, what must stay flat is what the allocator
    // counts as live: at most 10% + 1 MiB above the warm figure.
    // Without ASan both must hold.
    rep.check(f.heap_end <= f.heap_warm + f.heap_warm / 10 + 1024, "live heap grew over the run");
    if (stress::rss_meaningful)
        rep.check(f.rss_end_trimmed <= f.rss_warm_trimmed + f.rss_warm_trimmed / 10 + 2048, "RSS grew over the run");
    return rep.finish();
}
