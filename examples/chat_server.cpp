// A line-based chat server: every line a client sends goes to every other
// client, prefixed with the sender's address.
//
//   chat_server [port]        (default 8888; connect with `nc 127.0.0.1 8888`)
//
// A client that does not read what it is sent falls behind; once more than
// 1 MiB waits for it, it is disconnected, so it cannot make the server
// buffer without bound.
#include <uvasync/uvasync.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace ua = uvasync;

constexpr std::size_t max_backlog = 1024 * 1024;

std::vector<ua::stream_writer*> clients;

void broadcast(std::string_view message, const ua::stream_writer* from) {
    for (ua::stream_writer* c : clients) {
        if (c == from || c->is_closing()) continue;
        c->write(message);
        if (c->get_write_buffer_size() > max_backlog) c->abort(); // too slow: drop it
    }
}

// Lists a client's writer while its handler runs, however the handler ends
// (a cancellation included), so that `clients` never points at a writer
// that is gone.
struct listed {
    ua::stream_writer* writer;
    explicit listed(ua::stream_writer* w) : writer(w) { clients.push_back(w); }
    ~listed() { clients.erase(std::find(clients.begin(), clients.end(), writer)); }
};

ua::task<> handle_client(ua::stream_reader reader, ua::stream_writer writer) {
    const std::string name = writer.peername().to_string();
    listed membership(&writer);
    broadcast("* " + name + " joined\n", &writer);
    writer.write("* welcome, " + name + "; " + std::to_string(clients.size() - 1) + " other(s) here\n");
    try {
        for (;;) {
            std::string line = co_await reader.readline();
            if (line.empty()) break; // the client left
            if (line.back() != '\n') line += '\n';
            broadcast(name + ": " + line, &writer);
        }
    } catch (const std::exception& e) { // reset, or a line longer than the limit
        std::fprintf(stderr, "%s: %s\n", name.c_str(), e.what());
    }
    broadcast("* " + name + " left\n", &writer);
    writer.close();
    co_await writer.wait_closed();
}

ua::task<> amain(std::uint16_t port) {
    ua::server srv = co_await ua::start_server(handle_client, "127.0.0.1", port);
    std::printf("Chat on %s\n", srv.sockname().to_string().c_str());
    std::fflush(stdout);
    co_await srv.serve_forever();
}

int main(int argc, char** argv) {
    const auto port = static_cast<std::uint16_t>(argc > 1 ? std::atoi(argv[1]) : 8888);
    try {
        ua::run(amain(port)); // Ctrl-C cancels amain
    } catch (const ua::cancelled_error&) {
        return 130; // interrupted, as Python's KeyboardInterrupt
    } catch (const std::exception& e) {
        std::fprintf(stderr, "chat_server: %s\n", e.what());
        return 1;
    }
}
