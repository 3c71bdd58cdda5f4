// load: 10,000 concurrent connections to one echo server, each echoing a
// checksummed payload; 0 errors, and the server's memory comes back after
// they all closed.
//
//   stress_load [--quick] [--connections N] [--bytes N] [--idle-ms N]
//
// The clients run in a process of their own (forked before any loop), so
// the RSS figures are the server's alone: before the first connection, at
// the peak, and after every connection closed and the loop idled
// --idle-ms. Every connection is open before any sends (a true 10,000 at
// once); each then sends --bytes of its own pseudo-random bytes in random
// pieces and reads them back with readexactly, comparing checksums.
#include "stress.hpp"

#include <malloc.h>

#include <vector>

namespace {

namespace ua = uvasync;
using namespace std::chrono_literals;
using stress::report;

struct client_run {
    long n = 0;
    std::size_t bytes = 0;
    long connected = 0;
    long done = 0;
    long errors = 0;
    std::string first_error;
    ua::semaphore connecting{256}; // connects in flight (the listen backlog is 4,096)
    ua::event all_connected;

    void fail(const std::string& what) {
        if (errors++ == 0) first_error = what;
    }
};

ua::task<> one_client(long index, std::uint16_t port, client_run* run) {
    try {
        ua::stream_reader reader;
        ua::stream_writer writer;
        {
            auto slot = co_await run->connecting.scoped();
            auto rw = co_await stress::connect(port);
            reader = std::move(rw.first);
            writer = std::move(rw.second);
        }
        if (++run->connected == run->n) run->all_connected.set();
        co_await run->all_connected.wait();

        const std::string data = stress::payload(static_cast<std::uint64_t>(index), run->bytes);
        stress::prng pieces(static_cast<std::uint64_t>(index) + 7);
        for (std::size_t off = 0; off < data.size();) {
            const std::size_t k = std::min(data.size() - off, 1 + pieces.below(run->bytes / 2 + 1));
            writer.write(std::string_view(data).substr(off, k));
            off += k;
        }
        co_await writer.drain();
        std::string back = co_await reader.readexactly(data.size());
        if (stress::fnv1a(back) != stress::fnv1a(data)) run->fail("connection " + std::to_string(index) + ": checksum mismatch");
        writer.close();
        co_await writer.wait_closed();
        ++run->done;
    } catch (const std::exception& e) {
        run->fail("connection " + std::to_string(index) + ": " + e.what());
    }
}

ua::task<> all_clients(std::uint16_t port, client_run* run) {
    std::vector<ua::task_handle<>> tasks;
    tasks.reserve(static_cast<std::size_t>(run->n));
    for (long i = 0; i < run->n; ++i) tasks.push_back(ua::create_task(one_client(i, port, run)));
    for (auto& t : tasks) co_await t;
}

int client_main(std::uint16_t port, FILE* out, long n, std::size_t bytes) {
    stress::set_nofile(n + 256);
    client_run run;
    run.n = n;
    run.bytes = bytes;
    const auto t0 = std::chrono::steady_clock::now();
    ua::run(all_clients(port, &run));
    std::fprintf(out, "done=%ld errors=%ld client_s=%.1f%s%s", run.done, run.errors, stress::since(t0),
                 run.first_error.empty() ? "" : " first_error=", run.first_error.c_str());
    return run.errors == 0 && run.done == n ? 0 : 1;
}

ua::task<> server_main(stress::client_process& clients, report& rep, long n, std::size_t bytes, long idle_ms) {
    stress::exception_log reported;
    reported.install(ua::get_running_loop());
    stress::server_stats st;
    ua::server_options opts;
    opts.backlog = 4096;
    ua::task<ua::server> starting = ua::start_server(stress::echo_handler(st), "127.0.0.1", 0, opts);
    ua::server srv = co_await std::move(starting);
    co_await ua::sleep(100ms);
    const long before = stress::rss_kib();
    stress::reset_peak_rss();

    const auto t0 = std::chrono::steady_clock::now();
    clients.start(srv.port());
    const int fds_before = stress::fd_count(); // (no connection accepted yet: the loop has not run)
    const int rc = co_await clients.wait(600s);
    const double elapsed = stress::since(t0);
    const long peak = stress::peak_rss_kib();

    auto closed_all = [&] { return st.active == 0; };
    const bool drained = co_await stress::wait_until(closed_all, 10s);
    co_await ua::sleep(std::chrono::milliseconds(idle_ms)); // an idle loop hands memory back
    const long after = stress::rss_kib();
    const int fds_after = stress::fd_count();
    ::malloc_trim(0); // a figure for diagnosis: what glibc's heap still holds vs what the library holds
    const long after_trim = stress::rss_kib();

    rep.add("connections", "%ld", st.accepted);
    rep.add("bytes_each", "%zu", bytes);
    rep.add("rss_kib", "%ld/%ld/%ld", before, peak, after);
    rep.add("after_malloc_trim_kib", "%ld", after_trim);
    rep.add("fds", "%d->%d", fds_before, fds_after);
    rep.add("time_s", "%.1f", elapsed);
    rep.add("client", "[%s]", clients.result().c_str());
    rep.check(rc == 0, "the clients failed (exit " + std::to_string(rc) + ")");
    rep.check(st.accepted == n, "the server accepted " + std::to_string(st.accepted) + " connections, not " + std::to_string(n));
    rep.check(st.peer_errors == 0, std::to_string(st.peer_errors) + " connections ended with an error on the server");
    rep.check(st.bytes == static_cast<std::uint64_t>(n) * bytes, "the server echoed " + std::to_string(st.bytes) + " bytes");
    rep.check(drained, "connections still open on the server 10 s after the clients exited");
    rep.check(reported.count == 0, "exception handler: " + reported.first);
    rep.check(fds_after == fds_before, "descriptors leaked");
    // The bound: memory returns within 10% of the baseline.
    rep.check(after <= before + before / 10,
              "RSS did not come back: " + std::to_string(after) + " KiB after, " + std::to_string(before) + " KiB before");
}

} // namespace

int main(int argc, char** argv) {
    stress::args a(argc, argv);
    const long n = a.get("connections", 10'000, 10'000);
    const auto bytes = static_cast<std::size_t>(a.get("bytes", 16 * 1024, 4 * 1024));
    const long idle_ms = a.get("idle-ms", 2000);
    stress::client_process clients([=](std::uint16_t port, FILE* out) { return client_main(port, out, n, bytes); });
    stress::set_nofile(n + 256);
    report rep("load");
    try {
        ua::run(server_main(clients, rep, n, bytes, idle_ms));
    } catch (const std::exception& e) {
        rep.check(false, e.what());
    }
    return rep.finish();
}
