// pipeline: asyncio's producer/consumer pattern, ported (docs/porting.md
// shows the Python original beside it).
//
// A producer puts URLs into a bounded queue; five workers take them, at most
// three "downloads" run at once (a semaphore), every item is marked
// task_done(); join() waits until all are processed, then shutdown() lets
// the workers leave their loops.
#include <uvasync/uvasync.hpp>

#include <cstdio>
#include <string>
#include <vector>

using namespace uvasync;
using namespace std::chrono_literals;

task<std::string> fetch(std::string url) {
    co_await sleep(10ms); // stands for the network
    co_return "<html>" + url + "</html>";
}

task<> worker(queue<std::string>& urls, semaphore& limit, std::vector<std::size_t>& sizes) {
    for (;;) {
        std::string url;
        try {
            url = co_await urls.get();
        } catch (const queue_shut_down&) {
            co_return; // shut down and drained: done
        }
        try {
            auto slot = co_await limit.scoped(); // async with limit:
            std::string page = co_await fetch(url);
            sizes.push_back(page.size());
        } catch (const std::exception& e) {
            std::fprintf(stderr, "%s: %s\n", url.c_str(), e.what());
        }
        urls.task_done();
    }
}

task<> pipeline() {
    queue<std::string> urls(10);
    semaphore limit(3);
    std::vector<std::size_t> sizes;

    std::vector<task_handle<>> workers;
    for (int i = 0; i < 5; ++i) workers.push_back(create_task(worker(urls, limit, sizes)));

    for (int i = 0; i < 50; ++i) {
        std::string url = "https://example.com/" + std::to_string(i);
        co_await urls.put(std::move(url)); // waits while 10 are queued
    }
    co_await urls.join(); // every item task_done()
    urls.shutdown();      // the workers' get() now throws queue_shut_down
    co_await gather(workers);
    std::printf("fetched %zu pages\n", sizes.size());
    if (sizes.size() != 50) throw std::runtime_error("pages went missing");
}

int main() {
    run(pipeline());
    return 0;
}
