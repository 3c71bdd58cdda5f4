// crawler_site --port N [--pages 1000] [--delay-ms 5]: the site the crawler
// benchmark crawls (bench/programs/crawler_bench.py). GET /p/i answers,
// after the delay, an HTML page titled "Page i" that links to pages
// 10i+1..10i+10 (those below --pages) and back to /p/0; anything else: 404.
// Prints "listening on http://127.0.0.1:PORT" once it accepts.
#include <uvasync/http.hpp>
#include <uvasync/uvasync.hpp>

#include <csignal>
#include <cstdio>
#include <string>

namespace ua = uvasync;
namespace http = uvasync::http;

struct site {
    long pages = 1000;
    std::chrono::milliseconds delay{5};
};

ua::task<> amain(std::uint16_t port, site s) {
    http::router app;
    app.get("/p/{i}", [s](http::request& req) -> ua::task<http::response> {
        const long i = std::strtol(std::string(req.param("i")).c_str(), nullptr, 10);
        co_await ua::sleep(s.delay);
        if (i < 0 || i >= s.pages) co_return http::response::text("no such page", 404);
        std::string html = "<html><head><title>Page " + std::to_string(i) + "</title></head><body>\n";
        for (long c = 10 * i + 1; c <= 10 * i + 10 && c < s.pages; ++c)
            html += "<a href=\"/p/" + std::to_string(c) + "\">page " + std::to_string(c) + "</a>\n";
        html += "<a href=\"/p/0\">home</a></body></html>\n";
        http::response r;
        r.set_body(std::move(html), "text/html");
        co_return r;
    });
    http::server_options o;
    o.backlog = 4096;
    http::server srv = co_await http::serve(std::move(app), "127.0.0.1", port, o);
    std::printf("listening on http://%s\n", srv.sockname().to_string().c_str());
    std::fflush(stdout);
    co_await ua::wait_signal(SIGINT, SIGTERM);
}

int main(int argc, char** argv) {
    std::uint16_t port = 0;
    site s;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        const long v = std::strtol(argv[i + 1], nullptr, 10);
        if (flag == "--port") port = static_cast<std::uint16_t>(v);
        else if (flag == "--pages") s.pages = v;
        else if (flag == "--delay-ms") s.delay = std::chrono::milliseconds(v);
        else {
            std::fprintf(stderr, "usage: crawler_site [--port N] [--pages N] [--delay-ms N]\n");
            return 2;
        }
    }
    ua::run(amain(port, s));
}
