// push_service: messages published on Redis, pushed to the clients of
// their channel.
//
//   push_service [--port N] [--http-port N] [--redis host:port] [--queue N]
//
// Clients connect over TCP (port 8765 by default) and speak newline-
// delimited JSON: {"action":"subscribe","channel":"news"} joins a channel
// (a client may join several), {"action":"ping"} is answered
// {"type":"pong"}. (The asyncio original speaks WebSocket; uvasync has no
// WebSocket yet, a later issue.) Every message published on a Redis channel
// (PSUBSCRIBE *) reaches each client of that channel as
// {"type":"message","channel":...,"data":...}. Each client has a bounded
// queue (--queue, 1,000 messages) and a task of its own that sends from it,
// so a slow or dead client never stalls the others; a client whose queue is
// full has fallen too far behind and is disconnected. GET /health on
// --http-port (8080) reports the connection count.
//
// Redis is hiredis's asynchronous client with its libuv adapter, attached
// to uvasync's own uv_loop_t (event_loop::native_handle()): a libuv C
// library and uvasync tasks sharing one loop and one thread.
//
// The asyncio original is examples/python/push_service.py.
#include <uvasync/http.hpp>
#include <uvasync/uvasync.hpp>

#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "redis_subscriber.hpp"

namespace ua = uvasync;
namespace http = uvasync::http;
using json = nlohmann::json;
using line = std::shared_ptr<const std::string>; // one serialized message, shared by its recipients

struct client {
    client(ua::stream_writer w, std::size_t queue) : writer(std::move(w)), outbox(queue) {}
    ua::stream_writer writer;
    ua::queue<line> outbox;
    std::set<std::string> channels;
    bool dropped = false;
};

// Who is subscribed to what. Shared (std::shared_ptr) by the connections,
// the HTTP handler and the Redis callback, which may outlive main's frame.
struct hub {
    std::size_t queue_size = 1000;
    std::map<std::string, std::set<client*>, std::less<>> channels;
    std::size_t connections = 0, dropped = 0;

    void subscribe(client& c, const std::string& channel) {
        c.channels.insert(channel);
        channels[channel].insert(&c);
    }
    void leave(client& c) {
        for (const std::string& ch : c.channels) {
            auto it = channels.find(ch);
            it->second.erase(&c);
            if (it->second.empty()) channels.erase(it);
        }
        c.channels.clear();
    }
    // Queues `l` for `c`; false when its queue is full.
    static bool offer(client& c, const line& l) {
        if (c.outbox.full()) return false;
        c.outbox.put_nowait(l);
        return true;
    }
    // Disconnects a client that fell too far behind.
    void drop(client& c) {
        if (c.dropped) return;
        c.dropped = true;
        ++dropped;
        leave(c);
        c.writer.abort(); // its connection's readline ends, and with it the session
    }
    void send(client& c, const line& l) {
        if (!c.dropped && !offer(c, l)) drop(c);
    }
    void publish(std::string_view channel, std::string_view data) {
        auto it = channels.find(channel);
        if (it == channels.end()) return;
        const json m = {{"type", "message"}, {"channel", channel}, {"data", data}};
        const line l = std::make_shared<const std::string>(m.dump() + "\n");
        std::vector<client*> behind;
        for (client* c : it->second)
            if (!offer(*c, l)) behind.push_back(c);
        for (client* c : behind) drop(*c); // (drop() changes the set)
    }
};

// A client's task: sends what its queue holds. What queued up while it
// waited goes out in one write (one system call, not one per message).
ua::task<> send_loop(std::shared_ptr<client> c) {
    std::string out; // reused
    try {
        for (;;) {
            const line first = co_await c->outbox.get();
            out.assign(*first);
            while (!c->outbox.empty()) out += *c->outbox.get_nowait();
            c->writer.write(std::string_view(out));
            co_await c->writer.drain();
        }
    } catch (const std::exception&) {
        c->writer.abort(); // the peer is gone: end the session too
    }
}

// A connection's membership, undone however the session ends (cancellation included).
struct session {
    std::shared_ptr<hub> h;
    std::shared_ptr<client> c;
    ua::task_handle<> sender;
    ~session() {
        h->leave(*c);
        --h->connections;
        sender.cancel();
    }
};

// A string field of a request, or "".
std::string field(const json& request, const char* name) {
    auto it = request.find(name);
    return it != request.end() && it->is_string() ? it->get<std::string>() : std::string();
}

ua::task<> serve_client(std::shared_ptr<hub> h, ua::stream_reader reader, ua::stream_writer writer) {
    auto c = std::make_shared<client>(std::move(writer), h->queue_size);
    ++h->connections;
    session s{h, c, ua::create_task(send_loop(c))};
    const line pong = std::make_shared<const std::string>("{\"type\":\"pong\"}\n");
    try {
        for (;;) {
            const std::string text = co_await reader.readline();
            if (text.empty()) break; // EOF, or the hub dropped this client
            const json request = json::parse(text, nullptr, false);
            const std::string action = field(request, "action"), channel = field(request, "channel");
            if (action == "ping") {
                h->send(*c, pong);
            } else if (action == "subscribe" && !channel.empty()) {
                h->subscribe(*c, channel);
                json reply = {{"type", "subscribed"}, {"channel", channel}};
                h->send(*c, std::make_shared<const std::string>(reply.dump() + "\n"));
            } else {
                h->send(*c, std::make_shared<const std::string>(R"({"type":"error","error":"unknown request"})" "\n"));
            }
        }
    } catch (const std::exception&) {
        // a reset connection, a line over the limit: the session ends
    }
}

struct settings {
    std::uint16_t port = 8765, http_port = 8080;
    std::string redis_host = "127.0.0.1";
    int redis_port = 6379;
    std::size_t queue = 1000;
};

ua::task<http::response> health(std::shared_ptr<hub> h) {
    const json body = {{"status", "ok"}, {"connections", h->connections}, {"dropped", h->dropped}};
    co_return http::response::json(body.dump());
}

ua::task<std::string> stop_signal() {
    co_await ua::wait_signal(SIGINT, SIGTERM);
    co_return std::string();
}

ua::task<int> amain(settings s) {
    auto h = std::make_shared<hub>();
    h->queue_size = s.queue;
    redis_subscriber redis(s.redis_host, s.redis_port, "*",
                           [h](std::string_view channel, std::string_view data) { h->publish(channel, data); });
    co_await redis.subscribed();

    auto on_client = [h](ua::stream_reader r, ua::stream_writer w) { return serve_client(h, std::move(r), std::move(w)); };
    ua::server clients = co_await ua::start_server(on_client, "127.0.0.1", s.port);
    http::router app;
    app.get("/health", [h](http::request&) { return health(h); });
    http::server web = co_await http::serve(std::move(app), "127.0.0.1", s.http_port);
    std::printf("listening on tcp port %u, http port %u\n", clients.port(), web.port());

    // Until a signal (exit 0) or the loss of Redis (exit 1).
    std::vector<ua::task_handle<std::string>> ends;
    ends.push_back(ua::create_task(stop_signal()));
    ends.push_back(ua::create_task(redis.lost()));
    auto [done, pending] = co_await ua::wait(ends, ua::return_when::first_completed);
    for (auto& p : pending) p.cancel();
    const std::string error = done.front().result();
    if (!error.empty()) std::fprintf(stderr, "push_service: %s\n", error.c_str());
    clients.close();
    clients.abort_clients();
    web.close();
    co_await web.wait_closed();
    co_await clients.wait_closed();
    co_return error.empty() ? 0 : 1;
}

int main(int argc, char** argv) {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    settings s;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string arg = argv[i], value = argv[i + 1];
        if (arg == "--port") s.port = static_cast<std::uint16_t>(std::atoi(value.c_str()));
        else if (arg == "--http-port") s.http_port = static_cast<std::uint16_t>(std::atoi(value.c_str()));
        else if (arg == "--queue") s.queue = std::strtoul(value.c_str(), nullptr, 10);
        else if (arg == "--redis" && value.rfind(':') != std::string::npos) {
            s.redis_host = value.substr(0, value.rfind(':'));
            s.redis_port = std::atoi(value.c_str() + value.rfind(':') + 1);
        } else {
            std::fprintf(stderr, "usage: push_service [--port N] [--http-port N] [--redis host:port] [--queue N]\n");
            return 2;
        }
    }
    if (argc % 2 == 0 || s.queue == 0) {
        std::fprintf(stderr, "usage: push_service [--port N] [--http-port N] [--redis host:port] [--queue N]\n");
        return 2;
    }
    try {
        return ua::run(amain(std::move(s)));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "push_service: %s\n", e.what());
        return 1;
    }
}
