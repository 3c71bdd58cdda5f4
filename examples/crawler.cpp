// crawler: a web crawler, ported from examples/python/crawler.py (aiohttp).
//
// Fetches the start URLs and follows their links (on the same host and port)
// to a depth limit: a pool of workers takes URLs from a queue, at most 20
// requests run at once (a semaphore), each with a 10 s timeout. Every page's
// <title> is printed; errors (refused, timed out, HTTP status >= 400) are
// counted, never fatal. When the queue is done (join()), the workers are
// cancelled.
//
//   crawler [--depth 2] [--workers 50] URL...
//
// The workers are children of a task_group, so the crawler they share
// outlives them even when the crawl is cancelled.
#include <uvasync/http.hpp>
#include <uvasync/uvasync.hpp>

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

namespace ua = uvasync;
namespace http = uvasync::http;
using namespace std::chrono_literals;

constexpr std::ptrdiff_t concurrency = 20;
constexpr auto timeout = 10s;
constexpr auto npos = std::string_view::npos;

// Where `lower` (in lower case) occurs in `text` from `from` on, in any case.
std::size_t find_nocase(std::string_view text, std::string_view lower, std::size_t from = 0) {
    if (from > text.size()) return npos;
    auto same = [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; };
    auto it = std::search(text.begin() + from, text.end(), lower.begin(), lower.end(), same);
    return it == text.end() ? npos : std::size_t(it - text.begin());
}

// The text of <title>, its white space collapsed.
std::string title_of(std::string_view html) {
    const std::size_t open = find_nocase(html, "<title");
    const std::size_t start = open == npos ? npos : html.find('>', open);
    const std::size_t end = start == npos ? npos : find_nocase(html, "</title>", start);
    if (end == npos) return {};
    std::string title;
    for (char c : html.substr(start + 1, end - start - 1)) {
        if (!std::isspace(static_cast<unsigned char>(c))) title += c;
        else if (!title.empty() && title.back() != ' ') title += ' ';
    }
    if (!title.empty() && title.back() == ' ') title.pop_back();
    return title;
}

// The values of href="..." (or '...') attributes.
std::vector<std::string> hrefs_of(std::string_view html) {
    std::vector<std::string> out;
    for (std::size_t at = find_nocase(html, "href"); at != npos; at = find_nocase(html, "href", at)) {
        at = html.find_first_not_of(" \t\r\n", at + 4);
        if (at == npos || html[at] != '=') continue;
        at = html.find_first_not_of(" \t\r\n", at + 1);
        if (at == npos || (html[at] != '"' && html[at] != '\'')) continue;
        const std::size_t end = html.find_first_of("\"'", at + 1);
        if (end == npos) break;
        out.emplace_back(html.substr(at + 1, end - at - 1));
        at = end;
    }
    return out;
}

// `href` resolved against `base` (RFC 3986, as urljoin: libcurl's URL
// parser), without its fragment; empty unless it is an http(s) URL.
std::string resolve(const std::string& base, std::string href) {
    href.erase(std::min(href.find('#'), href.size())); // libcurl 7.88 takes "#x" for a path
    std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> u(curl_url(), curl_url_cleanup);
    char* out = nullptr;
    if (!u || curl_url_set(u.get(), CURLUPART_URL, base.c_str(), 0) != CURLUE_OK ||
        (!href.empty() && curl_url_set(u.get(), CURLUPART_URL, href.c_str(), 0) != CURLUE_OK) ||
        curl_url_set(u.get(), CURLUPART_FRAGMENT, nullptr, 0) != CURLUE_OK ||
        curl_url_get(u.get(), CURLUPART_URL, &out, 0) != CURLUE_OK)
        return {};
    std::string url(out);
    curl_free(out);
    return url.starts_with("http://") || url.starts_with("https://") ? url : std::string();
}

std::string origin(const std::string& url) { return url.substr(0, url.find('/', url.find("://") + 3)); }

http::client_options session_options() {
    http::client_options o;
    o.timeout = timeout;
    return o;
}

class crawler {
public:
    explicit crawler(int depth) : depth_(depth), session_(session_options()) {}

    std::size_t pages = 0, errors = 0;

    ua::task<> crawl(std::vector<std::string> urls, int workers) {
        for (std::string& u : urls) origins_.insert(origin(u = resolve(u, u)));
        for (std::string& u : urls) enqueue(std::move(u), 0);
        auto body = [&](ua::task_group& tg) -> ua::task<> {
            for (int i = 0; i < workers; ++i) tg.create_task(worker());
            co_await queue_.join();
            tg.cancel(); // the workers wait on an empty queue: stop them
        };
        co_await ua::task_group::scope(body);
    }

private:
    struct job {
        std::string url;
        int depth;
    };

    void enqueue(std::string url, int depth) {
        if (origins_.contains(origin(url)) && seen_.insert(url).second) queue_.put_nowait(job{std::move(url), depth});
    }

    ua::task<std::string> fetch(const std::string& url) {
        auto slot = co_await limit_.scoped(); // async with limit:
        http::client_response r = co_await session_.get(url);
        if (r.status >= 400) throw std::runtime_error("HTTP status " + std::to_string(r.status));
        co_return std::move(r.body);
    }

    ua::task<> worker() {
        for (;;) {
            job j = co_await queue_.get();
            try {
                const std::string html = co_await fetch(j.url);
                ++pages;
                std::printf("page %s %s\n", j.url.c_str(), title_of(html).c_str());
                if (j.depth < depth_)
                    for (const std::string& href : hrefs_of(html))
                        if (std::string link = resolve(j.url, href); !link.empty()) enqueue(std::move(link), j.depth + 1);
            } catch (const std::exception& e) { // refused, timed out, HTTP errors...: counted
                ++errors;
                std::fprintf(stderr, "error %s: %s\n", j.url.c_str(), e.what());
            }
            queue_.task_done();
        }
    }

    int depth_;
    http::client session_;
    ua::queue<job> queue_;
    ua::semaphore limit_{concurrency};
    std::unordered_set<std::string> seen_, origins_;
};

ua::task<> amain(std::vector<std::string> urls, int depth, int workers) {
    crawler c(depth);
    const auto started = ua::clock::now();
    co_await c.crawl(std::move(urls), workers);
    const double elapsed = std::chrono::duration<double>(ua::clock::now() - started).count();
    std::printf("crawled %zu pages, %zu errors in %.3f s (%.0f pages/s)\n", c.pages, c.errors, elapsed,
                c.pages / elapsed);
}

int main(int argc, char** argv) {
    int depth = 2, workers = 50;
    std::vector<std::string> urls;
    try {
        for (int i = 1; i < argc; ++i) {
            const std::string arg = argv[i];
            if ((arg == "--depth" || arg == "--workers") && i + 1 < argc) (arg == "--depth" ? depth : workers) = std::stoi(argv[++i]);
            else if (arg.starts_with("--")) throw std::invalid_argument("unknown option " + arg);
            else urls.push_back(arg);
        }
        if (urls.empty() || workers < 1) throw std::invalid_argument("give at least one URL and one worker");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "crawler: %s\nusage: crawler [--depth N] [--workers N] URL...\n", e.what());
        return 2;
    }
    try {
        ua::run(amain(std::move(urls), depth, workers));
    } catch (const ua::cancelled_error&) {
        return 130; // Ctrl-C, as KeyboardInterrupt
    } catch (const std::exception& e) {
        std::fprintf(stderr, "crawler: %s\n", e.what());
        return 1;
    }
}
