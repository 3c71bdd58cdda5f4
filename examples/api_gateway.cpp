// api_gateway: an HTTP API gateway, ported from examples/python/api_gateway.py
// (aiohttp); docs/porting.md walks through the port side by side.
//
// Every request `* /{tail}` goes to the backend with its method, query and
// JSON body; the backend's JSON answer comes back with its status. Around it:
// a sliding-window rate limiter per X-Client-ID (429 over the limit), a
// logging middleware that also feeds GET /metrics (Prometheus text), a pooled
// upstream client with a timeout (504 on timeout, 502 when the backend
// fails), and a small cache of GET responses with a TTL.
//
//   api_gateway [--port 8080] [--backend URL] [--rate-limit 1000]
//               [--rate-window 60] [--timeout 5] [--cache-ttl 5]
//
// The backend URL defaults to $BACKEND_URL, then http://127.0.0.1:8081.
// Durations are in seconds. Ctrl-C or SIGTERM stops it gracefully.
#include <uvasync/http.hpp>
#include <uvasync/uvasync.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>

namespace ua = uvasync;
namespace http = uvasync::http;
using json = nlohmann::json;
using seconds = std::chrono::duration<double>;

constexpr std::array<double, 10> buckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0}; // and +Inf
constexpr std::size_t cache_size = 1000;

struct options {
    std::uint16_t port = 8080;
    std::string backend = "http://127.0.0.1:8081";
    std::size_t rate_limit = 1000; // requests per client per window
    seconds rate_window{60}, timeout{5}, cache_ttl{5};
};

http::response error(int status, const std::string& message) {
    return http::response::json(json{{"error", message}}.dump(), status);
}

std::string label(std::string_view value) { // a Prometheus label value, escaped
    std::string out;
    for (char c : value) {
        if (c == '"' || c == '\\' || c == '\n') out += '\\';
        out += c == '\n' ? 'n' : c;
    }
    return out;
}

// At most `limit` requests per client in any `window`. Clients without a
// request in the window are forgotten whenever the table has doubled since
// it was last swept, so that clients who come once (or a client sending a
// new X-Client-ID each time) do not make it grow for good.
class rate_limiter {
public:
    rate_limiter(std::size_t limit, seconds window)
        : limit_(limit), window_(std::chrono::duration_cast<ua::clock::duration>(window)) {}

    bool allow(const std::string& client) {
        const auto now = ua::clock::now();
        if (hits_.size() >= 2 * swept_size_ + 64) {
            std::erase_if(hits_, [&](const auto& kv) { return kv.second.empty() || kv.second.back() <= now - window_; });
            swept_size_ = hits_.size();
        }
        auto& hits = hits_[client];
        while (!hits.empty() && hits.front() <= now - window_) hits.pop_front();
        if (hits.size() >= limit_) return false;
        hits.push_back(now);
        return true;
    }

    std::size_t clients() const noexcept { return hits_.size(); }

private:
    std::size_t limit_;
    ua::clock::duration window_;
    std::unordered_map<std::string, std::deque<ua::clock::time_point>> hits_;
    std::size_t swept_size_ = 0;
};

class metrics {
public:
    void observe(std::string_view method, std::string_view path, double elapsed) {
        path.remove_prefix(std::min(path.find_first_not_of('/'), path.size())); // "/users/7" -> "/users"
        const std::string endpoint = "/" + std::string(path.substr(0, path.find('/')));
        ++requests_[{std::string(method), endpoint}];
        for (std::size_t i = 0; i < buckets.size(); ++i) counts_[i] += elapsed <= buckets[i];
        sum_ += elapsed;
        ++count_;
    }

    std::string render(std::size_t connections, std::size_t clients) const {
        std::string out = "# HELP gateway_requests_total Requests by method and endpoint.\n"
                          "# TYPE gateway_requests_total counter\n";
        for (const auto& [key, n] : requests_)
            out += "gateway_requests_total{method=\"" + label(key.first) + "\",endpoint=\"" + label(key.second) +
                   "\"} " + std::to_string(n) + "\n";
        out += "# HELP gateway_request_duration_seconds Request latency.\n"
               "# TYPE gateway_request_duration_seconds histogram\n";
        char line[512];
        for (std::size_t i = 0; i < buckets.size(); ++i) {
            std::snprintf(line, sizeof line, "gateway_request_duration_seconds_bucket{le=\"%g\"} %llu\n", buckets[i],
                          static_cast<unsigned long long>(counts_[i]));
            out += line;
        }
        std::snprintf(line, sizeof line,
                      "gateway_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
                      "gateway_request_duration_seconds_sum %.6f\ngateway_request_duration_seconds_count %llu\n",
                      static_cast<unsigned long long>(count_), sum_, static_cast<unsigned long long>(count_));
        out += line;
        out += "# HELP gateway_active_connections Open client connections.\n"
               "# TYPE gateway_active_connections gauge\n"
               "gateway_active_connections " + std::to_string(connections) + "\n"
               "# HELP gateway_rate_limited_clients Clients the rate limiter keeps hits of.\n"
               "# TYPE gateway_rate_limited_clients gauge\n"
               "gateway_rate_limited_clients " + std::to_string(clients) + "\n";
        return out;
    }

private:
    std::map<std::pair<std::string, std::string>, std::uint64_t> requests_; // (method, endpoint) -> count
    std::array<std::uint64_t, buckets.size()> counts_{};
    double sum_ = 0;
    std::uint64_t count_ = 0;
};

http::client_options upstream_options(const options& opt) {
    http::client_options o;
    o.limit = 1000;
    o.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(opt.timeout);
    return o;
}

class gateway {
public:
    explicit gateway(const options& opt)
        : opt_(opt), limiter_(opt.rate_limit, opt.rate_window), upstream_(upstream_options(opt)) {}

    std::weak_ptr<http::server> server; // for the connections gauge

    ua::task<http::response> observe(http::request& req, http::next call_next) {
        const auto started = ua::clock::now();
        http::response r = co_await call_next(req);
        const double elapsed = seconds(ua::clock::now() - started).count();
        metrics_.observe(req.method(), req.path(), elapsed);
        std::fprintf(stderr, "%.*s %.*s %d %.2fms\n", int(req.method().size()), req.method().data(),
                     int(req.path().size()), req.path().data(), r.status(), elapsed * 1000);
        co_return r;
    }

    ua::task<http::response> rate_limit(http::request& req, http::next call_next) {
        auto id = req.header("x-client-id");
        const std::string client = id && !id->empty() ? std::string(*id) : req.remote().address();
        if (!limiter_.allow(client)) co_return error(429, "Rate limit exceeded");
        co_return co_await call_next(req);
    }

    ua::task<http::response> metrics_endpoint(http::request&) {
        auto srv = server.lock();
        http::response r = http::response::text(metrics_.render(srv ? srv->connections() : 0, limiter_.clients()));
        co_return r;
    }

    ua::task<http::response> forward(http::request& req) {
        const std::string key(req.target());
        const bool get = req.method() == "GET";
        if (auto hit = get ? cache_.find(key) : cache_.end(); hit != cache_.end() && hit->second.expires > ua::clock::now()) {
            http::response r = http::response::json(hit->second.body, hit->second.status);
            r.set_header("X-Cache", "HIT");
            co_return r;
        }
        http::client_request up;
        up.method = req.method();
        up.url = opt_.backend + key; // the path and query as sent
        if (!req.body().empty()) {
            json payload = json::parse(req.body(), nullptr, false);
            if (payload.is_discarded()) co_return error(400, "Invalid JSON body");
            up.body = payload.dump();
            up.headers.emplace_back("Content-Type", "application/json");
        }
        http::client_response answer;
        try {
            answer = co_await upstream_.request(std::move(up));
        } catch (const http::client_error& e) {
            co_return e.timed_out() ? error(504, "Gateway timeout") : error(502, std::string("Bad gateway: ") + e.what());
        } catch (const std::exception& e) {
            std::fprintf(stderr, "forwarding %s: %s\n", key.c_str(), e.what());
            co_return error(500, std::string("Internal error: ") + e.what());
        }
        json data = answer.body.empty() ? json(nullptr) : json::parse(answer.body, nullptr, false);
        if (data.is_discarded()) co_return error(502, "Bad gateway: the backend's answer is not JSON");
        std::string body = data.dump();
        if (get && answer.status == 200) remember(key, answer.status, body);
        http::response r = http::response::json(std::move(body), answer.status);
        r.set_header("X-Cache", "MISS");
        co_return r;
    }

private:
    struct cached {
        ua::clock::time_point expires;
        int status;
        std::string body;
    };

    // Every entry has the same TTL: the oldest one goes first when full.
    void remember(const std::string& key, int status, const std::string& body) {
        if (cache_.size() >= cache_size && !cache_.contains(key)) {
            cache_.erase(order_.front());
            order_.pop_front();
        }
        const auto expires = ua::clock::now() + std::chrono::duration_cast<ua::clock::duration>(opt_.cache_ttl);
        if (cache_.insert_or_assign(key, cached{expires, status, body}).second) order_.push_back(key);
    }

    options opt_;
    rate_limiter limiter_;
    metrics metrics_;
    std::unordered_map<std::string, cached> cache_; // raw path and query -> response
    std::deque<std::string> order_;                 // the keys of cache_, oldest first
    http::client upstream_;
};

ua::task<> amain(options opt) {
    // Shared with the handlers: a connection still finishing its request
    // after amain is gone (cancelled) keeps the gateway alive.
    auto gw = std::make_shared<gateway>(opt);
    http::router app;
    app.use([gw](http::request& r, http::next n) { return gw->observe(r, n); });
    app.use([gw](http::request& r, http::next n) { return gw->rate_limit(r, n); });
    app.get("/metrics", [gw](http::request& r) { return gw->metrics_endpoint(r); });
    app.add("*", "/{tail:.*}", [gw](http::request& r) { return gw->forward(r); });
    http::server listening = co_await http::serve(std::move(app), "127.0.0.1", opt.port);
    auto srv = std::make_shared<http::server>(std::move(listening));
    gw->server = srv;
    std::printf("listening on http://%s\n", srv->sockname().to_string().c_str());
    std::fflush(stdout);
    co_await ua::wait_signal(SIGINT, SIGTERM);
    srv->close(); // graceful: requests in flight finish
    co_await srv->wait_closed();
}

int main(int argc, char** argv) {
    options opt;
    if (const char* env = std::getenv("BACKEND_URL")) opt.backend = env;
    try {
        for (int i = 1; i < argc; i += 2) {
            const std::string flag = argv[i];
            if (i + 1 >= argc) throw std::invalid_argument(flag + " needs a value");
            const std::string value = argv[i + 1];
            if (flag == "--port") opt.port = static_cast<std::uint16_t>(std::stoul(value));
            else if (flag == "--backend") opt.backend = value;
            else if (flag == "--rate-limit") opt.rate_limit = std::stoul(value);
            else if (flag == "--rate-window") opt.rate_window = seconds(std::stod(value));
            else if (flag == "--timeout") opt.timeout = seconds(std::stod(value));
            else if (flag == "--cache-ttl") opt.cache_ttl = seconds(std::stod(value));
            else throw std::invalid_argument("unknown option " + flag);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "api_gateway: %s\nusage: api_gateway [--port N] [--backend URL] [--rate-limit N] "
                             "[--rate-window S] [--timeout S] [--cache-ttl S]\n", e.what());
        return 2;
    }
    while (!opt.backend.empty() && opt.backend.back() == '/') opt.backend.pop_back();
    try {
        ua::run(amain(opt));
    } catch (const ua::cancelled_error&) {
        return 130; // interrupted before the signal handlers were in place
    } catch (const std::exception& e) { // e.g. the port is in use
        std::fprintf(stderr, "api_gateway: %s\n", e.what());
        return 1;
    }
}
