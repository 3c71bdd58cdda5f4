// pipeline: asyncio's producer/consumer pattern, ported (docs/porting.md
// shows the Python original beside it).
//
// A producer puts URLs into a bounded queue; five workers take them, at most
// three "downloads" run at once (a semaphore), every item is marked
// task_done(); join() waits until all are processed, then shutdown() lets
// the workers leave their loops.
//
// The workers are children of a task_group whose scope ends inside
// pipeline(): whatever ends pipeline() (the workers finishing, an error, or
// a cancellation from outside such as wait_for(pipeline(), 100ms)), the
// workers are finished before the queue, the semaphore and the sizes they
// use by reference go.
#include <uvasync/uvasync.hpp>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

namespace ua = uvasync;
using namespace std::chrono_literals;

ua::task<std::string> fetch(std::string url) {
    co_await ua::sleep(10ms); // stands for the network
    co_return "<html>" + url + "</html>";
}

ua::task<> worker(ua::queue<std::string>& urls, ua::semaphore& limit, std::vector<std::size_t>& sizes) {
    for (;;) {
        std::string url;
        try {
            url = co_await urls.get();
        } catch (const ua::queue_shut_down&) {
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

ua::task<> pipeline() {
    ua::queue<std::string> urls(10);
    ua::semaphore limit(3);
    std::vector<std::size_t> sizes;

    auto body = [&](ua::task_group& tg) -> ua::task<> { // async with asyncio.TaskGroup() as tg:
        for (int i = 0; i < 5; ++i) tg.create_task(worker(urls, limit, sizes));
        for (int i = 0; i < 50; ++i) {
            std::string url = "https://example.com/" + std::to_string(i);
            co_await urls.put(std::move(url)); // waits while 10 are queued
        }
        co_await urls.join(); // every item task_done()
        urls.shutdown();      // the workers' get() now throws queue_shut_down
    };
    co_await ua::task_group::scope(body); // returns once every worker has finished
    std::printf("fetched %zu pages\n", sizes.size());
    if (sizes.size() != 50) throw std::runtime_error("pages went missing");
}

int main() {
    ua::run(pipeline());
    return 0;
}
