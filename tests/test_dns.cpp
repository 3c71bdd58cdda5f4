// getaddrinfo / getnameinfo: answers equal the blocking resolver's, the
// numeric fast path, errors, cancellation, closing a loop with lookups in
// flight. Only loopback names and addresses: the machine has no network, and
// a name that is not in /etc/hosts would go to a DNS server.
#include <uvasync/uvasync.hpp>

#include <gtest/gtest.h>

#include <netdb.h>
#include <uv.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

using namespace uvasync;
using namespace std::chrono_literals;

namespace {

// ::getaddrinfo's answer, as sorted "address:port" strings.
std::vector<std::string> blocking_getaddrinfo(const char* host, const char* service, const addrinfo_options& o) {
    addrinfo hints{};
    hints.ai_family = o.family;
    hints.ai_socktype = o.socktype;
    hints.ai_protocol = o.protocol;
    hints.ai_flags = o.flags;
    addrinfo* res = nullptr;
    const int rc = ::getaddrinfo(host, service, &hints, &res);
    EXPECT_EQ(rc, 0) << gai_strerror(rc);
    std::vector<std::string> out;
    for (addrinfo* p = res; p; p = p->ai_next) out.push_back(endpoint::from_sockaddr(p->ai_addr).to_string());
    if (res) ::freeaddrinfo(res);
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<std::string> sorted_strings(const std::vector<endpoint>& eps) {
    std::vector<std::string> out;
    for (const endpoint& e : eps) out.push_back(e.to_string());
    std::sort(out.begin(), out.end());
    return out;
}

task<std::vector<endpoint>> resolve(std::string host, std::string service, addrinfo_options o) {
    co_return co_await getaddrinfo(std::move(host), std::move(service), o);
}

// The system_error getaddrinfo throws for these arguments (fails the test
// if it throws something else or nothing).
std::system_error resolve_error(std::string host, std::string service, addrinfo_options o = {}) {
    try {
        run(resolve(std::move(host), std::move(service), o));
    } catch (const std::system_error& e) {
        return e;
    }
    ADD_FAILURE() << "getaddrinfo did not throw std::system_error";
    return std::system_error(std::error_code());
}

} // namespace

TEST(DnsTest, LocalhostMatchesBlockingResolver) {
    std::vector<addrinfo_options> cases(4);
    cases[1].family = AF_INET;
    cases[2].socktype = SOCK_DGRAM;
    cases[3].socktype = 0; // one entry per socket type, as the resolver gives them
    for (const addrinfo_options& o : cases) {
        const std::vector<endpoint> got = run(resolve("localhost", "8080", o));
        ASSERT_FALSE(got.empty());
        EXPECT_EQ(sorted_strings(got), blocking_getaddrinfo("localhost", "8080", o));
        for (const endpoint& e : got) {
            EXPECT_TRUE(e.address() == "127.0.0.1" || e.address() == "::1") << e.to_string();
            EXPECT_EQ(e.port(), 8080);
        }
    }
}

TEST(DnsTest, PortOverloadAndServiceNames) {
    auto body = []() -> task<> {
        std::vector<endpoint> a = co_await getaddrinfo("localhost", 443);
        EXPECT_EQ(sorted_strings(a), blocking_getaddrinfo("localhost", "443", {}));
        std::vector<endpoint> b = co_await getaddrinfo("localhost", "http");
        EXPECT_FALSE(b.empty());
        for (const endpoint& e : b) EXPECT_EQ(e.port(), 80);
        EXPECT_EQ(sorted_strings(b), blocking_getaddrinfo("localhost", "http", {}));
        // A numeric host with a service name goes through the resolver.
        std::vector<endpoint> c = co_await getaddrinfo("127.0.0.1", "http");
        EXPECT_EQ(c.size(), 1u);
        if (!c.empty()) {
            EXPECT_EQ(c[0], endpoint("127.0.0.1", 80));
        }
        // An empty service is port 0.
        std::vector<endpoint> d = co_await getaddrinfo("localhost", "");
        EXPECT_FALSE(d.empty());
        for (const endpoint& e : d) EXPECT_EQ(e.port(), 0);
    };
    run(body());
}

TEST(DnsTest, NumericHostsAnswerWithoutSuspending) {
    // The fast path never suspends, so a cancellation requested beforehand
    // is not delivered at it (it would be at a thread-pool lookup).
    auto body = []() -> task<> {
        current_task()->cancel();
        std::vector<endpoint> v4 = co_await getaddrinfo("127.0.0.1", 8080);
        std::vector<endpoint> v6 = co_await getaddrinfo("::1", "53");
        EXPECT_EQ(v4.size(), 1u);
        if (!v4.empty()) {
            EXPECT_EQ(v4[0], endpoint("127.0.0.1", 8080));
        }
        EXPECT_EQ(v6.size(), 1u);
        if (!v6.empty()) {
            EXPECT_EQ(v6[0], endpoint("::1", 53));
        }
        EXPECT_EQ(sorted_strings(v6), blocking_getaddrinfo("::1", "53", {}));
        bool cancelled = false;
        try {
            co_await getaddrinfo("localhost", 80); // suspends: the cancellation lands here
        } catch (const cancelled_error&) {
            cancelled = true;
        }
        EXPECT_TRUE(cancelled);
    };
    run(body());
}

TEST(DnsTest, NumericHostOfTheOtherFamilyFails) {
    addrinfo_options o;
    o.family = AF_INET6;
    const std::system_error e = resolve_error("127.0.0.1", "80", o);
    EXPECT_EQ(&e.code().category(), &uv_category());
    EXPECT_LT(e.code().value(), 0);
}

TEST(DnsTest, UnknownHostThrowsSystemError) {
    // AI_NUMERICHOST makes the resolver fail locally instead of asking a
    // DNS server about a name that is not in /etc/hosts.
    addrinfo_options o;
    o.flags = AI_NUMERICHOST;
    const std::system_error e = resolve_error("no-such-host.invalid", "80", o);
    EXPECT_EQ(e.code(), std::error_code(UV_EAI_NONAME, uv_category()));
    EXPECT_NE(std::string(e.what()).find("no-such-host.invalid"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(uv_strerror(UV_EAI_NONAME)), std::string::npos) << e.what();
}

TEST(DnsTest, UnknownServiceThrowsSystemError) {
    const std::system_error e = resolve_error("localhost", "no-such-service");
    EXPECT_EQ(&e.code().category(), &uv_category());
    EXPECT_LT(e.code().value(), 0);
    EXPECT_NE(std::string(e.what()).find("no-such-service"), std::string::npos) << e.what();
}

TEST(DnsTest, EmptyHostIsNotFound) {
    // As socket.getaddrinfo('', 80): gaierror EAI_NONAME.
    const std::system_error e = resolve_error("", "80");
    EXPECT_EQ(e.code(), std::error_code(UV_EAI_NONAME, uv_category()));
}

TEST(DnsTest, MalformedNamesAreRejected) {
    // Over-long names were truncated by libuv < 1.48 into other names
    // (GHSA-f74f-cvh7-c6q6); embedded NULs would cut the name short.
    const std::string long_hex = "0x" + std::string(300, '0') + "7f000001";
    EXPECT_THROW(run(resolve(long_hex, "80", {})), std::invalid_argument);
    EXPECT_THROW(run(resolve(std::string("localhost\0.evil", 15), "80", {})), std::invalid_argument);
    EXPECT_THROW(run(resolve("localhost", std::string("80\0", 3), {})), std::invalid_argument);
}

TEST(DnsTest, GetnameinfoMatchesBlockingResolver) {
    auto body = []() -> task<> {
        for (const char* address : {"127.0.0.1", "::1"}) {
            for (int flags : {0, NI_NUMERICHOST | NI_NUMERICSERV, NI_DGRAM}) {
                const endpoint ep(address, 80);
                char host[NI_MAXHOST];
                char service[NI_MAXSERV];
                EXPECT_EQ(::getnameinfo(ep.data(), ep.size(), host, sizeof host, service, sizeof service, flags), 0);
                std::pair<std::string, std::string> got = co_await getnameinfo(ep, flags);
                EXPECT_EQ(got.first, host) << address << " flags " << flags;
                EXPECT_EQ(got.second, service) << address << " flags " << flags;
            }
        }
        std::pair<std::string, std::string> numeric =
            co_await getnameinfo(endpoint("127.0.0.1", 8080), NI_NUMERICHOST | NI_NUMERICSERV);
        EXPECT_EQ(numeric.first, "127.0.0.1");
        EXPECT_EQ(numeric.second, "8080");
    };
    run(body());
}

TEST(DnsTest, GetnameinfoOfAnEmptyEndpointThrows) {
    auto body = []() -> task<> { co_await getnameinfo(endpoint{}); };
    EXPECT_THROW(run(body()), std::invalid_argument);
}

TEST(DnsTest, CancelPendingLookups) {
    // Cancelled right after they started: queued requests are uv_cancel'led,
    // running ones detached; either way the task sees cancelled_error and
    // nothing leaks.
    auto body = []() -> task<> {
        for (int i = 0; i < 20; ++i) {
            task_handle<std::vector<endpoint>> a = create_task(getaddrinfo("localhost", 80));
            task_handle<std::pair<std::string, std::string>> n = create_task(getnameinfo(endpoint("127.0.0.1", 80)));
            co_await sleep(0s); // both start and park on their requests
            EXPECT_FALSE(a.done());
            EXPECT_FALSE(n.done());
            EXPECT_TRUE(a.cancel());
            EXPECT_TRUE(n.cancel());
            EXPECT_THROW(co_await a, cancelled_error);
            EXPECT_THROW(co_await n, cancelled_error);
            EXPECT_TRUE(a.cancelled());
            EXPECT_TRUE(n.cancelled());
        }
        // The resolver still works afterwards.
        std::vector<endpoint> after = co_await getaddrinfo("localhost", 80);
        EXPECT_FALSE(after.empty());
    };
    run(body());
}

TEST(DnsTest, WaitForTimesOutALookupOrGetsIt) {
    auto body = []() -> task<> {
        // Either outcome is fine; what matters is no hang, leak or crash.
        try {
            auto timed = wait_for(getaddrinfo("localhost", 80), 1ns);
            std::vector<endpoint> r = co_await std::move(timed);
            EXPECT_FALSE(r.empty());
        } catch (const timeout_error&) {
        }
    };
    run(body());
}

TEST(DnsTest, CloseLoopWithPendingLookups) {
    // uvloop's test_getaddrinfo_close_loop, both with the lookup cancelled
    // first and with the loop closed under it.
    for (int i = 0; i < 40; ++i) {
        event_loop loop;
        task_handle<std::vector<endpoint>> a = loop.create_task(getaddrinfo("localhost", 80));
        task_handle<std::pair<std::string, std::string>> n =
            loop.create_task(getnameinfo(endpoint("127.0.0.1", 80)));
        loop.run_until_complete(sleep(0s)); // the lookups start
        if (i % 2 == 0) {
            a.cancel();
            n.cancel();
        }
        loop.close();
        EXPECT_TRUE(a.done());
        EXPECT_TRUE(n.done());
    }
}

TEST(DnsTest, CloseLoopWaitsForThreadPoolWorkInFlight) {
    // A lookup already running on a pool thread cannot be cancelled; close()
    // must not free the uv loop under it. A slow piece of thread-pool work
    // stands in for a slow resolver.
    struct work {
        uv_work_t req{};
        std::atomic<bool> ran{false};
        int after_status = 1;
        int after_calls = 0;
    } w;
    {
        event_loop loop;
        w.req.data = &w;
        ASSERT_EQ(uv_queue_work(
                      loop.native_handle(), &w.req,
                      [](uv_work_t* r) {
                          std::this_thread::sleep_for(20ms); // the "resolver" takes a while
                          static_cast<work*>(r->data)->ran = true;
                      },
                      [](uv_work_t* r, int status) {
                          auto* self = static_cast<work*>(r->data);
                          self->after_status = status;
                          ++self->after_calls;
                      }),
                  0);
        loop.close();
        // The request finished (or was cancelled before it ran) inside close().
        EXPECT_EQ(w.after_calls, 1);
        EXPECT_TRUE(w.after_status == 0 || w.after_status == UV_ECANCELED) << w.after_status;
        if (w.after_status == 0) {
            EXPECT_TRUE(w.ran);
        }
    }
}
