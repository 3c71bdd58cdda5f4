// http_bad_input: uvasync::http's server under bad and awkward input -- a
// 1 MiB header line, requests split byte by byte, 1,000 pipelined requests
// in one write, and peers that reset mid-request -- keeps serving, answers
// each as it must, and gives its memory and descriptors back.
//
//   stress_http_bad_input [--quick] [--rounds N] [--pipelined N] [--resets N] [--bytewise N]
//
// The clients run in a process of their own (forked before any loop), so
// the RSS figures are the server's: cold (nothing served yet), warm (after
// 64 requests at once, as many as the pool of request contexts keeps,
// each with a 12 KiB body: the baseline), at the peak, and after everything
// closed. In order, --rounds
// times:
//  * big header: "X-Big: " followed by 1 MiB, then the head's end: 431,
//    the connection closed, the next request served;
//  * byte by byte: --bytewise requests (a GET and a chunked POST) on one
//    keep-alive connection, each byte its own write (TCP_NODELAY, 1 ms
//    apart): every answer right;
//  * pipelined: --pipelined requests (GET /n/i, every tenth a POST with a
//    body) in one write on one connection: every answer, in order;
//  * resets: --resets connections that send part of a request (a part of
//    the head, the head and part of a body, a whole request with its
//    answer unread) and reset (SO_LINGER 0).
// After each part a normal request must be answered. Fails on a wrong or
// missing answer, anything reaching the loop's exception handler, a
// descriptor leaked, or RSS not back within 10% (or 2 MiB) of the warm
// baseline.
#include "http_stress.hpp"

#include <malloc.h>
#include <netinet/tcp.h>

#include <vector>

namespace {

namespace ua = uvasync;
namespace web = stress::web;
using namespace std::chrono_literals;
using stress::report;

struct client_run {
    long rounds = 0, pipelined = 0, resets = 0, bytewise = 0;
    long errors = 0;
    std::string first_error;
    long big_431 = 0, bytewise_ok = 0, pipelined_ok = 0, resets_done = 0, checks_ok = 0;
    double big_s = 0, bytewise_s = 0, pipelined_s = 0, resets_s = 0;

    void fail(const std::string& what) {
        if (errors++ == 0) first_error = what;
    }
};

ua::task<bool> still_serving(std::uint16_t port, client_run* run, const char* after) {
    auto rw = co_await stress::connect(port);
    rw.second.write("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    std::optional<web::response> r = co_await web::read_response(rw.first);
    rw.second.close();
    if (!r || r->status != 200 || r->body != "Hello, World!") {
        run->fail(std::string("not serving after ") + after);
        co_return false;
    }
    ++run->checks_ok;
    co_return true;
}

// 1 MiB in one header line: 431, then the server closes.
ua::task<> big_header(std::uint16_t port, client_run* run) {
    auto rw = co_await stress::connect(port);
    std::string req = "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: ";
    req.append(1024 * 1024, 'b');
    req += "\r\n\r\n";
    try {
        rw.second.write(std::move(req));
        rw.second.write_eof();
    } catch (const std::exception&) {
        // the server may answer and close before everything is written
    }
    const std::string got = co_await web::read_to_end(rw.first);
    if (got.rfind("HTTP/1.1 431 ", 0) == 0) ++run->big_431;
    else run->fail("a 1 MiB header line: " + (got.empty() ? std::string("no answer") : got.substr(0, 40)));
    rw.second.abort();
}

ua::task<> send_bytewise(ua::stream_writer& w, std::string_view data) {
    for (std::size_t i = 0; i < data.size(); ++i) {
        w.write(data.substr(i, 1));
        co_await w.drain();
        co_await ua::sleep(1ms);
    }
}

ua::task<> bytewise(std::uint16_t port, client_run* run) {
    auto rw = co_await stress::connect(port);
    int one = 1;
    ::setsockopt(web::fd_of(rw.second), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    for (long i = 0; i < run->bytewise; ++i) {
        const bool post = i % 2 == 1;
        const std::string body = "body " + std::to_string(i);
        std::string req;
        if (post) {
            char size[16];
            std::snprintf(size, sizeof size, "%zx", body.size());
            req = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + std::string(size) + "\r\n" + body +
                  "\r\n0\r\n\r\n";
        } else {
            req = "GET /n/" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\nUser-Agent: byte-by-byte\r\n\r\n";
        }
        co_await send_bytewise(rw.second, req);
        std::optional<web::response> r = co_await web::read_response(rw.first);
        const std::string want = post ? body : std::to_string(i);
        if (!r || r->status != 200 || r->body != want) {
            run->fail("byte-by-byte request " + std::to_string(i) + ": " + (r ? r->head.substr(0, 20) + r->body : "closed"));
            break;
        }
        ++run->bytewise_ok;
    }
    rw.second.close();
    co_await rw.second.wait_closed();
}

ua::task<> pipelined(std::uint16_t port, client_run* run) {
    auto rw = co_await stress::connect(port);
    std::string all;
    for (long i = 0; i < run->pipelined; ++i) {
        if (i % 10 == 9) {
            const std::string body = "posted " + std::to_string(i);
            all += "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
        } else {
            all += "GET /n/" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n";
        }
    }
    rw.second.write(std::move(all));
    long i = 0;
    for (; i < run->pipelined; ++i) {
        std::optional<web::response> r = co_await web::read_response(rw.first);
        const std::string want = i % 10 == 9 ? "posted " + std::to_string(i) : std::to_string(i);
        if (!r || r->status != 200 || r->body != want) {
            run->fail("pipelined answer " + std::to_string(i) + ": " + (r ? r->body : std::string("closed")));
            break;
        }
    }
    if (i == run->pipelined) ++run->pipelined_ok;
    rw.second.close();
    co_await rw.second.wait_closed();
}

ua::task<> one_reset(std::uint16_t port, long i) {
    auto rw = co_await stress::connect(port);
    web::linger_zero(rw.second);
    switch (i % 4) {
    case 0: // part of the head
        rw.second.write("GET /hello HTTP/1.1\r\nHost: x\r\nX-Part");
        break;
    case 1: // the head and part of the body
        rw.second.write("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nonly some of it");
        break;
    case 2: // a chunked body cut in a chunk
        rw.second.write("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n100\r\nabc");
        break;
    default: // whole requests, answers unread
        rw.second.write("GET /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
        break;
    }
    co_await rw.second.drain();
    co_await ua::sleep(std::chrono::milliseconds(i % 3)); // some reach the server first
    rw.second.abort();
}

ua::task<> reset_peer(std::uint16_t port, long i, ua::semaphore* parallel, client_run* run) {
    try {
        co_await one_reset(port, i);
    } catch (const std::exception& e) {
        run->fail(std::string("reset peer: ") + e.what());
    }
    parallel->release();
}

ua::task<> resets(std::uint16_t port, client_run* run) {
    ua::semaphore parallel(50);
    std::vector<ua::task_handle<>> tasks;
    for (long i = 0; i < run->resets; ++i) {
        co_await parallel.acquire();
        tasks.push_back(ua::create_task(reset_peer(port, i, &parallel, run)));
    }
    for (auto& t : tasks) co_await t;
    run->resets_done += run->resets;
}

ua::task<> all_clients(std::uint16_t port, client_run* run) {
    for (long round = 0; round < run->rounds && run->errors == 0; ++round) {
        auto t0 = std::chrono::steady_clock::now();
        co_await big_header(port, run);
        run->big_s += stress::since(t0);
        if (!co_await still_serving(port, run, "a 1 MiB header line")) break;
        t0 = std::chrono::steady_clock::now();
        co_await bytewise(port, run);
        run->bytewise_s += stress::since(t0);
        if (!co_await still_serving(port, run, "requests split byte by byte")) break;
        t0 = std::chrono::steady_clock::now();
        co_await pipelined(port, run);
        run->pipelined_s += stress::since(t0);
        if (!co_await still_serving(port, run, "pipelined requests")) break;
        t0 = std::chrono::steady_clock::now();
        co_await resets(port, run);
        run->resets_s += stress::since(t0);
        if (!co_await still_serving(port, run, "resets mid-request")) break;
    }
}

int client_main(std::uint16_t port, FILE* out, client_run run) {
    try {
        ua::run(all_clients(port, &run));
    } catch (const std::exception& e) {
        run.fail(e.what());
    }
    std::fprintf(out,
                 "big_header_431=%ld/%ld bytewise_ok=%ld/%ld pipelined_ok=%ld/%ld(x%ld) resets=%ld served_after=%ld "
                 "seconds=big:%.2f,bytewise:%.2f,pipelined:%.2f,resets:%.2f errors=%ld%s%s",
                 run.big_431, run.rounds, run.bytewise_ok, run.rounds * run.bytewise, run.pipelined_ok, run.rounds,
                 run.pipelined, run.resets_done, run.checks_ok, run.big_s, run.bytewise_s, run.pipelined_s, run.resets_s,
                 run.errors, run.first_error.empty() ? "" : " first_error=", run.first_error.c_str());
    return run.errors == 0 && run.big_431 == run.rounds && run.pipelined_ok == run.rounds &&
                   run.bytewise_ok == run.rounds * run.bytewise
               ? 0
               : 1;
}

// Requests from the server's own process, so that the baseline has what
// served requests leave: 64 at once (the pool of request contexts keeps
// 64), each a 12 KiB POST, so that its context's pooled 16 KiB input buffer
// is written all over (memory not yet written to is not resident: the
// scenario's reads would make it so later, and it would look like growth).
ua::task<> warm_one(std::uint16_t port) {
    auto rw = co_await stress::connect(port);
    rw.second.write("POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 12288\r\n\r\n" +
                    std::string(12288, 'w'));
    co_await web::read_to_end(rw.first);
    rw.second.close();
    co_await rw.second.wait_closed();
}

ua::task<> warm_up(std::uint16_t port) {
    std::vector<ua::task_handle<>> all;
    for (int i = 0; i < 64; ++i) all.push_back(ua::create_task(warm_one(port)));
    for (auto& t : all) co_await t;
}

ua::task<> server_main(stress::client_process& clients, report& rep, long idle_ms) {
    stress::exception_log reported;
    reported.install(ua::get_running_loop());
    web::http::server_options o; // the defaults: 8 KiB of head, 1 MiB of body
    web::http::server srv = co_await web::serve(o);
    co_await ua::sleep(100ms);
    const long cold = stress::rss_kib();
    co_await warm_up(srv.port());
    auto none_open = [&] { return srv.connections() == 0; };
    co_await stress::wait_until(none_open, 5s);
    co_await ua::sleep(100ms);
    const long before = stress::rss_kib();
    const long heap_before = stress::heap_in_use_kib();
    stress::reset_peak_rss();
    const auto t0 = std::chrono::steady_clock::now();
    clients.start(srv.port());
    const int fds_before = stress::fd_count(); // (no connection accepted yet: the loop has not run)
    const int rc = co_await clients.wait(600s);
    const double elapsed = stress::since(t0);
    const long peak = stress::peak_rss_kib();
    const bool drained = co_await stress::wait_until(none_open, 10s);
    co_await ua::sleep(std::chrono::milliseconds(idle_ms));
    const long after = stress::rss_kib();
    const int fds_after = stress::fd_count();
    ::malloc_trim(0); // a figure for diagnosis: what glibc's heap still holds vs what the library holds
    const long after_trim = stress::rss_kib();
    const long heap_after = stress::heap_in_use_kib();

    rep.add("server_rss_kib", "cold:%ld,warm:%ld,peak:%ld,after:%ld", cold, before, peak, after);
    rep.add("after_malloc_trim_kib", "%ld", after_trim);
    rep.add("heap_in_use_kib", "%ld->%ld", heap_before, heap_after);
    rep.add("fds", "%d->%d", fds_before, fds_after);
    rep.add("time_s", "%.1f", elapsed);
    rep.add("client", "[%s]", clients.result().c_str());
    rep.check(rc == 0, "the clients failed (exit " + std::to_string(rc) + ")");
    rep.check(drained, "connections still open 10 s after the clients exited");
    rep.check(reported.count == 0, "exception handler: " + reported.first);
    rep.check(fds_after == fds_before, "descriptors leaked");
    if (!stress::rss_meaningful) rep.add("rss_check", "skipped(asan)");
    // The bound: 10% or 2 MiB over the warm figure. (Measured: +0.8 MiB
    // after the 10 full-size rounds, +1.3 MiB after 60, +1.7 MiB after 150,
    // none of it given back by malloc_trim and none of it a leak for LSan;
    // it grows only when resets are in the mix. The pool of request
    // contexts (64, each keeping buffers of up to 64 KiB) can hold that
    // much; whether it is all the pool is not settled.)
    rep.check(!stress::rss_meaningful || after <= before + std::max(before / 10, 2048L),
              "RSS did not come back: " + std::to_string(after) + " KiB after, " + std::to_string(before) + " KiB before");
    srv.close();
    co_await srv.wait_closed();
}

} // namespace

int main(int argc, char** argv) {
    stress::args a(argc, argv);
    client_run run;
    run.rounds = a.get("rounds", 10, 2);
    run.pipelined = a.get("pipelined", 1000);
    run.resets = a.get("resets", 1000, 400);
    run.bytewise = a.get("bytewise", 20, 4);
    const long idle_ms = a.get("idle-ms", 1000);
    stress::client_process clients([=](std::uint16_t port, FILE* out) { return client_main(port, out, run); });
    report rep("http_bad_input");
    try {
        ua::run(server_main(clients, rep, idle_ms));
    } catch (const std::exception& e) {
        rep.check(false, e.what());
    }
    return rep.finish();
}
