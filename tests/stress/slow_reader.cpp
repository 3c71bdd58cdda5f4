// slow reader: 100 MiB pushed through an echo server whose peer does not
// read for 5 s. The server's RSS stays bounded by its write high-water mark
// plus its reader's buffer plus a constant (flow control works both ways:
// drain() holds the handler, the paused reader holds the socket), it does
// not spin meanwhile, and every byte comes back in order.
//
//   stress_slow_reader [--quick] [--mib N] [--pause-ms N]
#include "stress.hpp"

namespace {

namespace ua = uvasync;
using namespace std::chrono_literals;
using stress::report;

struct client_result {
    std::uint64_t received = 0;
    std::uint64_t first_bad = UINT64_MAX;
    std::string error;
};

ua::task<> push(ua::stream_writer* w, std::uint64_t total) {
    constexpr std::size_t chunk = 256 * 1024;
    std::string buf(chunk, '\0');
    for (std::uint64_t off = 0; off < total;) {
        const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(chunk, total - off));
        for (std::size_t i = 0; i < k; ++i) buf[i] = stress::stream_byte(off + i);
        w->write(std::string_view(buf.data(), k));
        off += k;
        co_await w->drain();
    }
    w->write_eof();
}

ua::task<> slow_client(std::uint16_t port, std::uint64_t total, std::chrono::milliseconds pause, client_result* res) {
    try {
        auto rw = co_await stress::connect(port);
        ua::stream_reader& r = rw.first;
        ua::stream_writer& w = rw.second;
        ua::task_handle<> pusher = ua::create_task(push(&w, total));
        co_await ua::sleep(pause); // the peer does not read
        std::string got;
        for (;;) {
            got = co_await r.read(1 << 20);
            if (got.empty()) break;
            for (std::size_t i = 0; i < got.size(); ++i) {
                if (got[i] != stress::stream_byte(res->received + i) && res->first_bad == UINT64_MAX)
                    res->first_bad = res->received + i;
            }
            res->received += got.size();
        }
        co_await pusher;
        w.close();
        co_await w.wait_closed();
    } catch (const std::exception& e) {
        res->error = e.what();
    }
}

int client_main(std::uint16_t port, FILE* out, std::uint64_t total, std::chrono::milliseconds pause) {
    client_result res;
    ua::run(slow_client(port, total, pause, &res));
    std::fprintf(out, "received=%llu", static_cast<unsigned long long>(res.received));
    if (res.first_bad != UINT64_MAX) std::fprintf(out, " first_bad_byte=%llu", static_cast<unsigned long long>(res.first_bad));
    if (!res.error.empty()) std::fprintf(out, " error=%s", res.error.c_str());
    return res.received == total && res.first_bad == UINT64_MAX && res.error.empty() ? 0 : 1;
}

ua::task<> server_main(stress::client_process& client, report& rep, std::uint64_t total, std::chrono::milliseconds pause) {
    stress::exception_log reported;
    reported.install(ua::get_running_loop());
    stress::server_stats st;
    ua::task<ua::server> starting = ua::start_server(stress::echo_handler(st), "127.0.0.1", 0);
    ua::server srv = co_await std::move(starting);
    // Warm up with one echo, so that the baseline has what any first
    // connection allocates once (the shared read buffer, the frame cache).
    {
        auto rw = co_await stress::connect(srv.port());
        rw.second.write("warm up");
        std::string back = co_await rw.first.readexactly(7);
        rep.check(back == "warm up", "the warm-up echo came back wrong");
        rw.second.close();
        co_await rw.second.wait_closed();
    }
    co_await ua::sleep(100ms);
    const std::uint64_t warm_up_bytes = st.bytes;
    const long before = stress::rss_kib();
    stress::reset_peak_rss();
    const auto t0 = std::chrono::steady_clock::now();
    client.start(srv.port());
    co_await ua::sleep(pause / 5); // the write buffer fills and the peer still does not read
    const double cpu0 = stress::cpu_seconds();
    co_await ua::sleep(pause * 3 / 5);
    const double paused_cpu = (stress::cpu_seconds() - cpu0) / (std::chrono::duration<double>(pause * 3 / 5).count());
    const long peak_paused = stress::peak_rss_kib();
    const int rc = co_await client.wait(300s);
    const double elapsed = stress::since(t0);
    const long peak = stress::peak_rss_kib();

    // Bound: the write high-water mark (64 KiB) + the reader's 2 x limit
    // (128 KiB) + one 64 KiB read + 1 MiB for everything else.
    const long bound = before + 64 + 128 + 64 + 1024;
    rep.add("mib", "%llu", static_cast<unsigned long long>(total >> 20));
    rep.add("pause_ms", "%lld", static_cast<long long>(pause.count()));
    rep.add("rss_kib", "%ld/%ld/bound=%ld", before, peak, bound);
    rep.add("peak_while_paused_kib", "%ld", peak_paused);
    rep.add("max_write_buffer", "%zu", st.max_write_buffer);
    rep.add("cpu_while_paused", "%.1f%%", paused_cpu * 100);
    rep.add("time_s", "%.1f", elapsed);
    rep.add("client", "[%s]", client.result().c_str());
    rep.check(rc == 0, "the client failed (exit " + std::to_string(rc) + ")");
    rep.check(st.bytes - warm_up_bytes == total, "the server echoed " + std::to_string(st.bytes) + " bytes");
    rep.check(peak <= bound, "server RSS peaked at " + std::to_string(peak) + " KiB, above the bound");
    rep.check(paused_cpu < 0.05, "the server used CPU while its peer did not read");
    rep.check(st.peer_errors == 0, "the connection ended with an error on the server");
    rep.check(reported.count == 0, "exception handler: " + reported.first);
}

} // namespace

int main(int argc, char** argv) {
    stress::args a(argc, argv);
    const auto total = static_cast<std::uint64_t>(a.get("mib", 100, 100)) << 20;
    const std::chrono::milliseconds pause(a.get("pause-ms", 5000, 5000));
    stress::client_process client([=](std::uint16_t port, FILE* out) { return client_main(port, out, total, pause); });
    report rep("slow_reader");
    try {
        ua::run(server_main(client, rep, total, pause));
    } catch (const std::exception& e) {
        rep.check(false, e.what());
    }
    return rep.finish();
}
