// EMFILE: a server under RLIMIT_NOFILE 256 is offered 400 connections. It
// keeps serving the connections it has, does not spin while it cannot
// accept, accepts again once descriptors are free, and the accept error
// reaches the loop's exception handler once per episode instead of being
// lost or printed per attempt.
//
//   stress_emfile [--quick] [--nofile N] [--offered N] [--hold-ms N]
//
// The clients (another process) drive the phases and ask the server's CPU
// time and descriptor count over a control connection ("cpu", "fds").
#include "stress.hpp"

#include <vector>

namespace {

namespace ua = uvasync;
using namespace std::chrono_literals;
using stress::report;

// ---- the server: echoes lines; answers "cpu" and "fds" ------------------------------

struct line_server {
    long accepted = 0;
    long active = 0;
};

ua::task<> serve_lines(ua::stream_reader reader, ua::stream_writer writer, line_server* s) {
    ++s->accepted;
    ++s->active;
    try {
        for (;;) {
            std::string line = co_await reader.readline();
            if (line.empty()) break;
            if (line == "cpu\n") line = std::to_string(stress::cpu_seconds()) + "\n";
            else if (line == "fds\n") line = std::to_string(stress::fd_count()) + "\n";
            writer.write(std::move(line));
            co_await writer.drain();
        }
    } catch (const std::system_error&) {
    }
    --s->active;
}

// ---- the clients ----------------------------------------------------------------------

struct conn {
    ua::stream_reader r;
    ua::stream_writer w;
};

// Connects and checks one echoed line; an empty optional when the server
// dropped the connection instead (what it does with those it cannot accept).
ua::task<std::optional<conn>> try_connect(std::uint16_t port, int id) {
    conn c;
    try {
        auto rw = co_await stress::connect(port);
        c.r = std::move(rw.first);
        c.w = std::move(rw.second);
        const std::string hello = "hello " + std::to_string(id) + "\n";
        c.w.write(hello);
        ua::task<std::string> line = c.r.readline();
        std::string back = co_await ua::wait_for(std::move(line), 10s);
        if (back != hello) co_return std::nullopt;
    } catch (const std::system_error&) {
        co_return std::nullopt; // reset
    }
    co_return std::optional<conn>(std::move(c));
}

ua::task<std::string> ask(conn& control, const char* what) {
    control.w.write(std::string(what) + "\n");
    std::string line = co_await control.r.readline();
    if (line.empty()) throw std::runtime_error("the control connection closed");
    line.pop_back();
    co_return line;
}

struct client_figures {
    long served = 0, dropped = 0, still_served = 0, dropped_while_full = 0, served_after = 0;
    double hold_cpu = -1, hold_s = 0;
    std::string server_fds_full, server_fds_freed;
    std::string error;
};

// Offers n connections at once; those the server served go into `kept`.
ua::task<long> offer(std::uint16_t port, int n, int first_id, std::vector<conn>& kept) {
    std::vector<ua::task_handle<std::optional<conn>>> tries;
    for (int i = 0; i < n; ++i) tries.push_back(ua::create_task(try_connect(port, first_id + i)));
    long served = 0;
    for (auto& t : tries) {
        std::optional<conn> c = co_await t;
        if (c) {
            kept.push_back(std::move(*c));
            ++served;
        }
    }
    co_return served;
}

ua::task<> clients(std::uint16_t port, int offered, std::chrono::milliseconds hold, client_figures* f) {
    try {
        std::optional<conn> control = co_await try_connect(port, -1);
        if (!control) throw std::runtime_error("the control connection was not served");
        std::vector<conn> kept;
        f->served = co_await offer(port, offered, 0, kept);
        f->dropped = offered - f->served;
        f->server_fds_full = co_await ask(*control, "fds");

        // At the limit: more connections keep arriving, slowly; the server
        // must not spin meanwhile.
        const double cpu0 = std::stod(co_await ask(*control, "cpu"));
        const auto t0 = std::chrono::steady_clock::now();
        while (std::chrono::steady_clock::now() - t0 < hold) {
            std::vector<conn> more;
            if (co_await offer(port, 5, 100000, more) == 0) f->dropped_while_full += 5;
            co_await ua::sleep(50ms);
        }
        f->hold_cpu = std::stod(co_await ask(*control, "cpu")) - cpu0;
        f->hold_s = stress::since(t0);

        // Every connection it has is still served.
        for (std::size_t i = 0; i < kept.size(); ++i) {
            const std::string again = "again " + std::to_string(i) + "\n";
            kept[i].w.write(again);
            std::string back = co_await kept[i].r.readline();
            if (back == again) ++f->still_served;
        }

        // Descriptors free up: it accepts again.
        for (conn& c : kept) c.w.close();
        for (conn& c : kept) co_await c.w.wait_closed();
        kept.clear();
        for (int i = 0; i < 100; ++i) {
            f->server_fds_freed = co_await ask(*control, "fds");
            if (std::stol(f->server_fds_freed) < 64) break;
            co_await ua::sleep(10ms);
        }
        f->served_after = co_await offer(port, 100, 200000, kept);
        for (conn& c : kept) c.w.close();
        control->w.close();
        co_await control->w.wait_closed();
    } catch (const std::exception& e) {
        f->error = e.what();
    }
}

int client_main(std::uint16_t port, FILE* out, int offered, std::chrono::milliseconds hold) {
    stress::set_nofile(4096);
    client_figures f;
    ua::run(clients(port, offered, hold, &f));
    std::fprintf(out,
                 "served=%ld dropped=%ld server_fds_at_limit=%s still_served=%ld dropped_while_full=%ld "
                 "hold_cpu_s=%.3f/%.1f server_fds_freed=%s served_after=%ld%s%s",
                 f.served, f.dropped, f.server_fds_full.c_str(), f.still_served, f.dropped_while_full, f.hold_cpu,
                 f.hold_s, f.server_fds_freed.c_str(), f.served_after, f.error.empty() ? "" : " error=", f.error.c_str());
    bool ok = f.error.empty() && f.served > 0 && f.dropped > 0 && f.still_served == f.served && f.served_after == 100 &&
              f.hold_cpu >= 0 && f.hold_cpu < 0.05 * f.hold_s;
    return ok ? 0 : 1;
}

ua::task<> server_main(stress::client_process& client, report& rep, long nofile) {
    stress::exception_log reported;
    reported.install(ua::get_running_loop());
    line_server s;
    ua::server_options opts;
    opts.backlog = 1024;
    auto handler = [&s](ua::stream_reader r, ua::stream_writer w) { return serve_lines(std::move(r), std::move(w), &s); };
    ua::task<ua::server> starting = ua::start_server(handler, "127.0.0.1", 0, opts);
    ua::server srv = co_await std::move(starting);
    const auto t0 = std::chrono::steady_clock::now();
    client.start(srv.port());
    const int rc = co_await client.wait(300s);
    rep.add("nofile", "%ld", nofile);
    rep.add("accepted", "%ld", s.accepted);
    rep.add("reports", "%ld", reported.count);
    rep.add("time_s", "%.1f", stress::since(t0));
    rep.add("client", "[%s]", client.result().c_str());
    rep.check(rc == 0, "the clients failed (exit " + std::to_string(rc) + ")");
    rep.check(reported.count >= 1, "the accept error never reached the exception handler");
    rep.check(reported.count <= 4, "the accept error was reported per attempt (" + std::to_string(reported.count) + " times)");
    if (reported.count) rep.add("first_report", "\"%s\"", reported.first.c_str());
}

} // namespace

int main(int argc, char** argv) {
    stress::args a(argc, argv);
    const long nofile = a.get("nofile", 256);
    const int offered = static_cast<int>(a.get("offered", 400));
    const std::chrono::milliseconds hold(a.get("hold-ms", 2000, 1000));
    stress::client_process client([=](std::uint16_t port, FILE* out) { return client_main(port, out, offered, hold); });
    report rep("emfile");
    stress::set_nofile(nofile);
    try {
        ua::run(server_main(client, rep, nofile));
    } catch (const std::exception& e) {
        rep.check(false, e.what());
    }
    return rep.finish();
}
