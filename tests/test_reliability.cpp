// Regression tests for what the reliability campaign found
// (docs/reliability.md): each is the smallest program that showed the bug.
#include "coro_test_util.hpp"
#include "stream_test_util.hpp"

#include <gtest/gtest.h>
#include <uvasync/uvasync.hpp>

#include <cerrno>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <system_error>
#include <vector>

namespace {

using namespace uvasync;
using namespace std::chrono_literals;
using stream_test::run_test;
using stream_test::until;

// ---- EMFILE: the accept error reaches the exception handler, once -------------

// Restores RLIMIT_NOFILE and closes the raw sockets when the test ends.
struct fd_limit_scope {
    rlimit saved{};
    std::vector<int> fds;
    fd_limit_scope() { ::getrlimit(RLIMIT_NOFILE, &saved); }
    ~fd_limit_scope() {
        for (int fd : fds) ::close(fd);
        ::setrlimit(RLIMIT_NOFILE, &saved);
    }
    void set_soft(rlim_t n) {
        rlimit rl = saved;
        rl.rlim_cur = n;
        ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
};

struct holder {
    event release;
    int accepted = 0;
};

task<> hold(stream_reader, stream_writer, holder* h) {
    ++h->accepted;
    co_await h->release.wait();
}

// libuv hides EMFILE (it accepts and closes the connection with a spare
// descriptor, without calling back), so a server at its descriptor limit
// used to reset connections with nothing reported anywhere.
[[maybe_unused]] task<> emfile_reported_once() {
    std::vector<std::system_error> reports;
    get_running_loop().set_exception_handler([&](event_loop&, const exception_context& ctx) {
        try {
            std::rethrow_exception(ctx.exception);
        } catch (const std::system_error& e) {
            reports.push_back(e);
        } catch (...) {
            ADD_FAILURE() << "unexpected report: " << ctx.message;
        }
    });
    holder h;
    auto handler = [&h](stream_reader r, stream_writer w) { return hold(std::move(r), std::move(w), &h); };
    task<server> starting = start_server(handler, "127.0.0.1", 0);
    server srv = co_await std::move(starting);

    // The clients' sockets exist before the limit drops; the server then has
    // room for exactly `room` accepted sockets (descriptors go lowest first).
    fd_limit_scope limit;
    constexpr int clients = 12, room = 4;
    for (int i = 0; i < clients; ++i) limit.fds.push_back(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
    const int next_free = ::fcntl(0, F_DUPFD, 0);
    EXPECT_GE(next_free, 0);
    ::close(next_free);
    limit.set_soft(static_cast<rlim_t>(next_free + room));

    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    to.sin_port = htons(srv.port());
    for (int fd : limit.fds) ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to);
    auto full = [&] { return h.accepted == room && !reports.empty(); };
    EXPECT_TRUE(co_await until(full));
    // The other connections are reset meanwhile, without more reports.
    auto reset_all = [&] {
        int reset = 0;
        for (std::size_t i = 0; i < limit.fds.size(); ++i) {
            char c;
            if (::recv(limit.fds[i], &c, 1, MSG_DONTWAIT) == 0 || errno == ECONNRESET) ++reset;
        }
        return reset == clients - room;
    };
    EXPECT_TRUE(co_await until(reset_all));
    EXPECT_EQ(h.accepted, room);
    EXPECT_EQ(reports.size(), 1u);
    if (!reports.empty()) {
        EXPECT_EQ(reports[0].code(), std::errc::too_many_files_open);
        EXPECT_NE(std::string(reports[0].what()).find("accept on 127.0.0.1:"), std::string::npos) << reports[0].what();
    }

    // Descriptors free up (the handlers return, their sockets close):
    // accepting works again, and is not reported again.
    h.release.set();
    h.release.clear();
    for (int fd : limit.fds) ::close(fd);
    limit.fds.clear();
    task<std::pair<stream_reader, stream_writer>> connecting = open_connection("127.0.0.1", srv.port());
    auto client = co_await std::move(connecting);
    auto one_more = [&] { return h.accepted == room + 1; };
    EXPECT_TRUE(co_await until(one_more));
    EXPECT_EQ(reports.size(), 1u);
    h.release.set();
}

// Not under the sanitizers: their runtime needs free descriptors itself
// (UBSan's vptr check probes memory through a pipe(), ASan's stack
// unwinder opens /proc/self/maps), so at the limit they report false
// errors and abort. The gcc configuration runs it; so does stress_emfile.
#if defined(__SANITIZE_ADDRESS__)
#define UVASYNC_RELIABILITY_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define UVASYNC_RELIABILITY_SANITIZED 1
#endif
#endif
TEST(Reliability, RunningOutOfDescriptorsIsReportedOnceToTheExceptionHandler) {
#ifdef UVASYNC_RELIABILITY_SANITIZED
    GTEST_SKIP() << "the sanitizer runtime cannot work without free descriptors";
#else
    run_test(emfile_reported_once());
#endif
}

// ---- gather: a cancellation pending on entry cancels the children -------------

// asyncio: Task.__step hands a pending cancellation to the future the task
// now awaits, and gather's future cancels every child. Before protocol v2
// the children were scheduled, the gather did not park, and they ran on
// unobserved (found by stress_cancel_storm).
task<> pending_cancel_then_gather(event* never) {
    current_task()->cancel();
    task<int> a = coro_test_util::value_after(*never, 1);
    task<int> b = coro_test_util::value_after(*never, 2);
    co_await gather(std::move(a), std::move(b));
}

task<> gather_cancelled_on_entry() {
    const std::size_t before = all_tasks().size();
    event never;
    task_handle<> t = create_task(pending_cancel_then_gather(&never));
    try {
        co_await t;
        ADD_FAILURE() << "the gather returned";
    } catch (const cancelled_error&) {
    }
    co_await coro_test_util::ticks(3);
    EXPECT_EQ(all_tasks().size(), before) << "gather's children were left running";
    never.set();
}

TEST(Reliability, GatherCancelledOnEntryCancelsItsChildren) { run_test(gather_cancelled_on_entry()); }

} // namespace
