// reliable_service: a service that keeps its connection to a dependency
// healthy.
//
//   reliable_service [--time-scale X] host port
//
// It connects to the dependency (a TCP service that answers "PING\n" with
// "PONG\n") with retries and exponential backoff: 5 attempts, waiting 2, 4,
// 8, then 10 s between them. Every 30 s it checks the connection (a PING
// answered within 5 s); when a check fails it reconnects the same way. It
// gives up (exit 1) when 5 attempts in a row fail. SIGTERM or SIGINT stops
// it cleanly: the service task is cancelled, its connection closed, exit 0.
// --time-scale multiplies the backoff delays and the check interval (the
// test runs at 0.001); the 5 s answer timeout stays as it is.
//
// The asyncio original is examples/python/reliable_service.py.
#include <uvasync/uvasync.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace ua = uvasync;
using seconds = std::chrono::duration<double>;

constexpr seconds answer_timeout{5}; // for a PONG

struct settings {
    std::string host;
    std::uint16_t port = 0;
    double time_scale = 1.0;
};

// Awaits fn() until it succeeds, at most `attempts` times; between attempts
// it waits min_delay, twice that, ... up to max_delay (seconds, times
// `scale`). The last attempt's exception is rethrown. Cancellation is never
// retried (cancelled_error is not a std::exception).
template <class F>
auto retry(F fn, double scale, int attempts = 5, double min_delay = 2, double max_delay = 10) -> decltype(fn()) {
    double delay = min_delay;
    for (int attempt = 1;; ++attempt) {
        try {
            co_return co_await fn();
        } catch (const std::exception& e) {
            if (attempt == attempts) throw;
            std::printf("attempt %d failed: %s; retrying in %g s\n", attempt, e.what(), delay);
        }
        co_await ua::sleep(seconds(delay * scale));
        delay = std::min(delay * 2, max_delay);
    }
}

struct connection {
    ua::stream_reader reader;
    ua::stream_writer writer;
};

// One PING, answered by a PONG within `timeout`.
ua::task<> ping(connection& c, seconds timeout) {
    c.writer.write("PING\n");
    co_await c.writer.drain();
    auto readline = c.reader.readline();
    const std::string reply = co_await ua::wait_for(std::move(readline), timeout);
    if (reply.empty()) throw std::runtime_error("the dependency closed the connection");
    if (reply != "PONG\n") throw std::runtime_error("unexpected reply from the dependency");
}

ua::task<connection> connect(const settings& s) {
    auto [reader, writer] = co_await ua::open_connection(s.host, s.port);
    connection c{std::move(reader), std::move(writer)};
    co_await ping(c, answer_timeout);
    co_return c;
}

// Connects, then checks the connection every 30 s, reconnecting when a
// check fails. Returns only by an exception: giving up, or cancellation.
ua::task<> serve(settings s) {
    auto connect_once = [&s] { return connect(s); };
    connection conn = co_await retry(connect_once, s.time_scale);
    std::printf("connected to %s:%u\n", s.host.c_str(), static_cast<unsigned>(s.port));
    for (;;) {
        co_await ua::sleep(seconds(30 * s.time_scale));
        std::string failure;
        try {
            co_await ping(conn, answer_timeout);
            continue;
        } catch (const std::exception& e) {
            failure = e.what();
        }
        std::printf("health check failed: %s; reconnecting\n", failure.c_str());
        conn = connection{}; // closes the broken one
        conn = co_await retry(connect_once, s.time_scale);
        std::printf("recovered\n");
    }
}

ua::task<int> amain(settings s) {
    ua::task_handle<> service = ua::create_task(serve(std::move(s)));
    ua::event_loop& loop = ua::get_running_loop();
    for (int sig : {SIGTERM, SIGINT}) loop.add_signal_handler(sig, [service] { service.cancel(); });
    int status = 0;
    try {
        co_await service;
    } catch (const ua::cancelled_error&) {
        std::printf("stopped\n"); // the connection was closed as serve() unwound
    } catch (const std::exception& e) {
        std::printf("giving up: %s\n", e.what());
        status = 1;
    }
    co_return status;
}

int main(int argc, char** argv) {
    std::setvbuf(stdout, nullptr, _IOLBF, 0); // one line at a time, also into a pipe
    settings s;
    int i = 1;
    if (i + 1 < argc && std::string(argv[i]) == "--time-scale") {
        s.time_scale = std::atof(argv[i + 1]);
        i += 2;
    }
    if (argc - i != 2 || s.time_scale <= 0) {
        std::fprintf(stderr, "usage: reliable_service [--time-scale X] host port\n");
        return 2;
    }
    s.host = argv[i];
    s.port = static_cast<std::uint16_t>(std::atoi(argv[i + 1]));
    return ua::run(amain(std::move(s)));
}
