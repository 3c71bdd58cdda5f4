// Subprocess benchmark (issue 9; the suite's spawn-* cases): spawn + wait of
// /bin/true, in sequence and all at once, as bench/py_spawn.py does with
// asyncio and uvloop.
//
//   uvasync_spawn sequential 1000
//   uvasync_spawn concurrent 100 [rounds]
//
// Prints one JSON object: {"impl": "uvasync", "case": ..., "n": ..., "rounds": ...,
// "seconds": ..., "spawns_per_second": ...}. `concurrent` starts n children,
// then waits for all of them, `rounds` times (default 10).
#include <uvasync/uvasync.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace ua = uvasync;

namespace {

ua::task<> sequential(int n) {
    for (int i = 0; i < n; ++i) {
        ua::process p = co_await ua::create_subprocess_exec("/bin/true");
        if (co_await p.wait() != 0) throw std::runtime_error("/bin/true failed");
    }
}

ua::task<> concurrent(int n, int rounds) {
    for (int r = 0; r < rounds; ++r) {
        std::vector<ua::process> running;
        running.reserve(static_cast<std::size_t>(n));
        for (int i = 0; i < n; ++i) running.push_back(co_await ua::create_subprocess_exec("/bin/true"));
        std::vector<ua::task<int>> waits;
        for (ua::process& p : running) waits.push_back(p.wait());
        for (int rc : co_await ua::gather(std::move(waits)))
            if (rc != 0) throw std::runtime_error("/bin/true failed");
    }
}

} // namespace

int main(int argc, char** argv) {
    const bool seq = argc >= 3 && std::strcmp(argv[1], "sequential") == 0;
    const bool conc = argc >= 3 && std::strcmp(argv[1], "concurrent") == 0;
    if (!seq && !conc) {
        std::fprintf(stderr, "usage: %s sequential N | concurrent N [rounds]\n", argv[0]);
        return 2;
    }
    const int n = std::atoi(argv[2]);
    const int rounds = conc ? (argc >= 4 ? std::atoi(argv[3]) : 10) : 1;
    const auto t0 = std::chrono::steady_clock::now();
    ua::run(seq ? sequential(n) : concurrent(n, rounds));
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("{\"impl\": \"uvasync\", \"case\": \"%s\", \"n\": %d, \"rounds\": %d, \"seconds\": %.4f, "
                "\"spawns_per_second\": %.1f}\n",
                argv[1], n, rounds, s, n * rounds / s);
}
