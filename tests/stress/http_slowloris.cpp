// http_slowloris: 50 connections each sending a request head one byte per
// 100 ms (never finishing it) while a normal client goes on getting answers
// at its usual latency.
//
//   stress_http_slowloris [--quick] [--slow N] [--seconds N] [--header-timeout-ms N]
//
// The clients run in a process of their own (forked before any loop), so
// the server's figures are its own. The normal client sends GET /hello on
// one keep-alive connection every 5 ms: first alone (the baseline), then
// while the --slow connections trickle. The server's header_timeout
// (--header-timeout-ms) answers each slow connection 408 and closes it;
// the slow client then reconnects, as an attacker would. Figures: the
// normal client's p50/p99/max latency alone and under slowloris, the slow
// connections made and closed with 408, the server's RSS and descriptors.
// Fails if the normal client sees an error or a p99 under slowloris above
// max(5 x its baseline p99, 50 ms), if a slow connection is ever answered
// anything but 408, or if the server keeps memory or descriptors after.
#include "http_stress.hpp"

#include <malloc.h>

#include <vector>

namespace {

namespace ua = uvasync;
namespace web = stress::web;
using namespace std::chrono_literals;
using stress::report;

struct client_run {
    long slow = 0;
    std::chrono::milliseconds loaded_time{};
    std::vector<long> base_us, loaded_us; // the normal client's latencies
    int phase = 0;                         // 0 baseline, 1 under slowloris, 2 stop
    long normal_errors = 0;
    std::string first_error;
    long slow_connects = 0, slow_bytes = 0, slow_408 = 0, slow_closed_without_answer = 0, slow_wrong = 0;
    std::string wrong_answer;

    void fail(const std::string& what) {
        if (normal_errors++ == 0) first_error = what;
    }
};

ua::task<> normal_client(std::uint16_t port, client_run* run) {
    auto rw = co_await stress::connect(port);
    while (run->phase < 2) {
        const auto t0 = std::chrono::steady_clock::now();
        rw.second.write("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
        std::optional<web::response> r = co_await web::read_response(rw.first);
        const long us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count();
        if (!r || r->status != 200 || r->body != "Hello, World!") {
            run->fail(r ? "status " + std::to_string(r->status) : std::string("connection closed"));
            co_return;
        }
        (run->phase == 0 ? run->base_us : run->loaded_us).push_back(us);
        co_await ua::sleep(5ms);
    }
    rw.second.close();
    co_await rw.second.wait_closed();
}

// The answer a slow connection gets, read while it trickles.
ua::task<> slow_reader(ua::stream_reader& r, std::string* got, bool* closed) {
    *got = co_await web::read_to_end(r);
    *closed = true;
}

ua::task<> slow_client(std::uint16_t port, client_run* run, long index) {
    static const std::string head = "GET /hello HTTP/1.1\r\nHost: x\r\nUser-Agent: slowloris\r\nX-Slow: " + std::string(4096, 'a');
    // Spread the connections over the first 100 ms.
    co_await ua::sleep(std::chrono::milliseconds(index * 100 / std::max(1L, run->slow)));
    while (run->phase == 1) {
        ua::stream_reader reader;
        ua::stream_writer writer;
        try {
            auto rw = co_await stress::connect(port);
            reader = std::move(rw.first);
            writer = std::move(rw.second);
        } catch (const std::exception& e) {
            run->fail(std::string("slow connect: ") + e.what());
            co_return;
        }
        ++run->slow_connects;
        std::string got;
        bool closed = false;
        ua::task_handle<> reading = ua::create_task(slow_reader(reader, &got, &closed));
        try {
            for (std::size_t i = 0; i < head.size() && !closed && run->phase == 1; ++i) {
                writer.write(std::string_view(head).substr(i, 1));
                ++run->slow_bytes;
                co_await ua::sleep(100ms);
            }
        } catch (const std::exception&) {
            // the server closed: the answer tells
        }
        if (!closed && run->phase == 1) {
            run->fail("a slow connection sent its whole head");
        }
        if (closed) {
            if (got.rfind("HTTP/1.1 408 ", 0) == 0) ++run->slow_408;
            else if (got.empty()) ++run->slow_closed_without_answer;
            else if (run->slow_wrong++ == 0) run->wrong_answer = got.substr(0, 40);
        }
        reading.cancel();
        try {
            co_await reading;
        } catch (const ua::cancelled_error&) {
        }
        writer.abort();
    }
}

ua::task<> all_clients(std::uint16_t port, client_run* run, std::chrono::milliseconds base_time) {
    ua::task_handle<> normal = ua::create_task(normal_client(port, run));
    co_await ua::sleep(base_time);
    run->phase = 1;
    std::vector<ua::task_handle<>> slow;
    for (long i = 0; i < run->slow; ++i) slow.push_back(ua::create_task(slow_client(port, run, i)));
    co_await ua::sleep(run->loaded_time);
    run->phase = 2;
    co_await normal;
    for (auto& t : slow) co_await t;
}

int client_main(std::uint16_t port, FILE* out, long slow, long seconds) {
    client_run run;
    run.slow = slow;
    run.loaded_time = std::chrono::milliseconds(seconds * 1000);
    ua::run(all_clients(port, &run, 2000ms));
    const double b50 = web::quantile_ms(run.base_us, 0.5), b99 = web::quantile_ms(run.base_us, 0.99);
    const double l50 = web::quantile_ms(run.loaded_us, 0.5), l99 = web::quantile_ms(run.loaded_us, 0.99);
    const double bmax = web::quantile_ms(run.base_us, 1.0), lmax = web::quantile_ms(run.loaded_us, 1.0);
    std::fprintf(out,
                 "normal_ms_alone=p50:%.2f,p99:%.2f,max:%.2f normal_ms_slowloris=p50:%.2f,p99:%.2f,max:%.2f "
                 "requests=%zu/%zu slow_connects=%ld slow_bytes=%ld slow_408=%ld slow_closed_silently=%ld",
                 b50, b99, bmax, l50, l99, lmax, run.base_us.size(), run.loaded_us.size(), run.slow_connects,
                 run.slow_bytes, run.slow_408, run.slow_closed_without_answer);
    int rc = 0;
    auto bad = [&](const std::string& why) {
        if (rc == 0) std::fprintf(out, " client_failure=\"%s\"", why.c_str());
        rc = 1;
    };
    if (run.normal_errors) bad(run.first_error);
    if (run.slow_wrong) bad("a slow connection was answered: " + run.wrong_answer);
    if (run.loaded_us.size() < 10) bad("the normal client got too few answers under slowloris");
    if (l99 > std::max(5 * b99, 50.0)) bad("the normal client's p99 grew past max(5 x alone, 50 ms)");
    if (run.slow_connects < slow) bad("slow connections did not all connect");
    return rc;
}

ua::task<> server_main(stress::client_process& clients, report& rep, long slow, long header_timeout_ms, long idle_ms) {
    stress::exception_log reported;
    reported.install(ua::get_running_loop());
    web::http::server_options o;
    o.header_timeout = std::chrono::milliseconds(header_timeout_ms);
    web::http::server srv = co_await web::serve(o);
    co_await ua::sleep(100ms);
    const long before = stress::rss_kib();
    stress::reset_peak_rss();
    const double cpu0 = stress::cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    clients.start(srv.port());
    const int fds_before = stress::fd_count(); // (no connection accepted yet: the loop has not run)
    std::size_t most = 0;
    ua::task_handle<int> waiting = ua::create_task(clients.wait(600s));
    while (!waiting.done()) {
        most = std::max(most, srv.connections());
        co_await ua::sleep(50ms);
    }
    const int rc = co_await waiting;
    const double cpu = stress::cpu_seconds() - cpu0, elapsed = stress::since(t0);
    const long peak = stress::peak_rss_kib();
    auto none_open = [&] { return srv.connections() == 0; };
    const bool drained = co_await stress::wait_until(none_open, 10s);
    co_await ua::sleep(std::chrono::milliseconds(idle_ms));
    const long after = stress::rss_kib();
    const int fds_after = stress::fd_count();
    ::malloc_trim(0); // a figure for diagnosis: what glibc's heap still holds vs what the library holds
    const long after_trim = stress::rss_kib();

    rep.add("slow_connections", "%ld", slow);
    rep.add("header_timeout_ms", "%ld", header_timeout_ms);
    rep.add("server_most_open", "%zu", most);
    rep.add("server_rss_kib", "%ld/%ld/%ld", before, peak, after);
    rep.add("server_cpu_pct", "%.0f", 100 * cpu / std::max(elapsed, 0.001));
    rep.add("after_malloc_trim_kib", "%ld", after_trim);
    rep.add("fds", "%d->%d", fds_before, fds_after);
    rep.add("client", "[%s]", clients.result().c_str());
    rep.check(rc == 0, "the clients failed (exit " + std::to_string(rc) + ")");
    rep.check(drained, "connections still open 10 s after the clients exited");
    rep.check(reported.count == 0, "exception handler: " + reported.first);
    rep.check(fds_after == fds_before, "descriptors leaked");
    if (!stress::rss_meaningful) rep.add("rss_check", "skipped(asan)");
    rep.check(!stress::rss_meaningful || after <= before + std::max(before / 10, 1024L),
              "RSS did not come back: " + std::to_string(after) + " KiB after, " + std::to_string(before) + " KiB before");
    srv.close();
    co_await srv.wait_closed();
}

} // namespace

int main(int argc, char** argv) {
    stress::args a(argc, argv);
    const long slow = a.get("slow", 50);
    const long seconds = a.get("seconds", 30, 6);
    const long header_timeout_ms = a.get("header-timeout-ms", 10'000, 2'000);
    const long idle_ms = a.get("idle-ms", 1000);
    stress::client_process clients([=](std::uint16_t port, FILE* out) { return client_main(port, out, slow, seconds); });
    report rep("http_slowloris");
    try {
        ua::run(server_main(clients, rep, slow, header_timeout_ms, idle_ms));
    } catch (const std::exception& e) {
        rep.check(false, e.what());
    }
    return rep.finish();
}
