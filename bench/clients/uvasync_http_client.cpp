// uvasync_http_client: the HTTP client benchmark on uvasync::http.
//
//   uvasync_http_client --port N [--requests 10000] [--conns 100] [--path /]
//
// GETs http://127.0.0.1:N<path> `requests` times through one http::client
// whose pool holds `conns` connections, with `conns` requests in flight
// (that many tasks, each GETting in turn), and prints
// {"requests":..., "errors":..., "seconds":..., "rps":...} on stdout. The
// twin on aiohttp + uvloop is clients/aiohttp_client.py.
#include <uvasync/http.hpp>
#include <uvasync/uvasync.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace ua = uvasync;
namespace http = uvasync::http;

namespace {

struct config {
    int port = 0;
    int requests = 10000;
    int conns = 100;
    std::string path = "/";
};

ua::task<> worker(http::client& c, const std::string& url, int& left, int& errors) {
    while (left > 0) {
        --left;
        try {
            http::client_response r = co_await c.get(url);
            if (r.status != 200) ++errors;
        } catch (const http::client_error&) {
            ++errors;
        }
    }
}

ua::task<> bench(config cfg) {
    http::client_options o;
    o.limit = static_cast<std::size_t>(cfg.conns);
    o.limit_per_host = static_cast<std::size_t>(cfg.conns);
    http::client c(o);
    const std::string url = "http://127.0.0.1:" + std::to_string(cfg.port) + cfg.path;
    int left = cfg.requests, errors = 0;
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<ua::task<>> workers;
    for (int i = 0; i < cfg.conns; ++i) workers.push_back(worker(c, url, left, errors));
    co_await ua::gather(std::move(workers));
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("{\"requests\": %d, \"errors\": %d, \"seconds\": %.4f, \"rps\": %.1f}\n", cfg.requests, errors, s,
                cfg.requests / s);
}

} // namespace

int main(int argc, char** argv) {
    config cfg;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--port")) cfg.port = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--requests")) cfg.requests = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--conns")) cfg.conns = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--path")) cfg.path = argv[i + 1];
    }
    if (cfg.port <= 0 || cfg.requests <= 0 || cfg.conns <= 0) {
        std::fprintf(stderr, "usage: %s --port N [--requests 10000] [--conns 100] [--path /]\n", argv[0]);
        return 2;
    }
    ua::run(bench(cfg));
    return 0;
}
