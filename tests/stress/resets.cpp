// resets: 1,000 peers that send and then reset their connection (SO_LINGER 0,
// so close sends RST) at different points: before sending, while the server
// waits in a read, while it waits in drain with a full write buffer, and with
// data still in flight. The server survives, its handlers all end, it still
// serves, nothing reaches the exception handler and no descriptor leaks.
//
//   stress_resets [--quick] [--peers N]
#include "stress.hpp"

#include <sys/socket.h>

#include <vector>

namespace {

namespace ua = uvasync;
using namespace std::chrono_literals;
using stress::report;

struct peers_run {
    long n = 0;
    long done = 0;
    long errors = 0;
    std::string first_error;
    ua::semaphore slots{100};
};

int fd_of(ua::stream_writer& w) {
    uv_os_fd_t fd = -1;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(w.native_handle()), &fd) != 0) throw std::runtime_error("uv_fileno");
    return fd;
}

// Makes close send RST instead of FIN.
void linger_zero(ua::stream_writer& w) {
    linger l{1, 0};
    if (::setsockopt(fd_of(w), SOL_SOCKET, SO_LINGER, &l, sizeof l) != 0) throw std::runtime_error("SO_LINGER");
}

// Small kernel buffers, so that a peer that does not read soon leaves the
// server waiting in drain.
void small_buffers(ua::stream_writer& w) {
    int size = 4096;
    ::setsockopt(fd_of(w), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    ::setsockopt(fd_of(w), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
}

ua::task<> one_peer(long i, std::uint16_t port, peers_run* run) {
    try {
        auto slot = co_await run->slots.scoped();
        auto rw = co_await stress::connect(port);
        ua::stream_reader& r = rw.first;
        ua::stream_writer& w = rw.second;
        linger_zero(w);
        const std::string data = stress::payload(static_cast<std::uint64_t>(i), 1000);
        switch (i % 4) {
        case 0: // reset at once: the server's first read fails
            break;
        case 1: { // an echo, then reset while the server waits in read
            w.write(data);
            std::string back = co_await r.readexactly(data.size());
            if (back != data) throw std::runtime_error("echo mismatch");
            break;
        }
        case 2: { // never read: the server fills its buffers and waits in drain
            small_buffers(w);
            const std::string big(1 << 20, 'x');
            w.write(big);
            // Our own buffer stops draining once the server stopped reading,
            // which it does while it waits in drain.
            std::size_t last = 0;
            for (int still = 0; still < 3;) {
                co_await ua::sleep(5ms);
                const std::size_t now = w.get_write_buffer_size();
                still = now == last && now > 0 ? still + 1 : 0;
                last = now;
            }
            break;
        }
        default: // reset with data in flight
            w.write(data);
            break;
        }
        w.abort();
        ++run->done;
    } catch (const std::exception& e) {
        if (run->errors++ == 0) run->first_error = e.what();
    }
}

ua::task<> all_peers(std::uint16_t port, peers_run* run) {
    std::vector<ua::task_handle<>> tasks;
    for (long i = 0; i < run->n; ++i) tasks.push_back(ua::create_task(one_peer(i, port, run)));
    for (auto& t : tasks) co_await t;
}

int client_main(std::uint16_t port, FILE* out, long n) {
    peers_run run;
    run.n = n;
    ua::run(all_peers(port, &run));
    std::fprintf(out, "reset=%ld errors=%ld%s%s", run.done, run.errors, run.first_error.empty() ? "" : " first_error=",
                 run.first_error.c_str());
    return run.done == n ? 0 : 1;
}

ua::task<> server_main(stress::client_process& peers, report& rep, long n) {
    stress::exception_log reported;
    reported.install(ua::get_running_loop());
    stress::server_stats st;
    st.sndbuf = 16 * 1024; // a peer that does not read soon leaves the handler in drain
    ua::task<ua::server> starting = ua::start_server(stress::echo_handler(st), "127.0.0.1", 0);
    ua::server srv = co_await std::move(starting);
    const auto t0 = std::chrono::steady_clock::now();
    peers.start(srv.port());
    const int fds_before = stress::fd_count();
    const int rc = co_await peers.wait(300s);
    auto all_ended = [&] { return st.active == 0; };
    const bool ended = co_await stress::wait_until(all_ended, 10s);
    const int fds_after = stress::fd_count();

    // Still serving.
    bool serves = false;
    try {
        auto rw = co_await stress::connect(srv.port());
        rw.second.write("still here\n");
        std::string line = co_await rw.first.readline();
        serves = line == "still here\n";
        rw.second.close();
        co_await rw.second.wait_closed();
    } catch (const std::exception&) {
    }
    auto last_ended = [&] { return st.active == 0; };
    co_await stress::wait_until(last_ended, 5s);

    rep.add("peers", "%ld", n);
    rep.add("accepted", "%ld", st.accepted);
    rep.add("server_errors", "%ld", st.peer_errors);
    rep.add("in_drain", "%ld", st.errors_in_drain);
    rep.add("max_write_buffer", "%zu", st.max_write_buffer);
    rep.add("fds", "%d->%d", fds_before, fds_after);
    rep.add("time_s", "%.1f", stress::since(t0));
    rep.add("client", "[%s]", peers.result().c_str());
    rep.check(rc == 0, "the peers failed (exit " + std::to_string(rc) + ")");
    rep.check(st.errors_in_drain > 0, "no reset reached the server while it waited in drain");
    rep.check(st.accepted >= n, "the server accepted only " + std::to_string(st.accepted));
    rep.check(ended, std::to_string(st.active) + " handlers still running 10 s after the last reset");
    rep.check(fds_after == fds_before, "descriptors leaked");
    rep.check(serves, "the server no longer echoes");
    rep.check(reported.count == 0, "exception handler: " + reported.first);
}

} // namespace

int main(int argc, char** argv) {
    stress::args a(argc, argv);
    const long n = a.get("peers", 1000, 1000);
    stress::client_process peers([=](std::uint16_t port, FILE* out) { return client_main(port, out, n); });
    report rep("resets");
    try {
        ua::run(server_main(peers, rep, n));
    } catch (const std::exception& e) {
        rep.check(false, e.what());
    }
    return rep.finish();
}
