// create_datagram_endpoint / datagram_socket: round trips (connected and
// not, IPv4 and IPv6), address checks, close semantics, cancellation, the
// receive queue, errors. Loopback addresses only.
#include <uvasync/uvasync.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

using namespace uvasync;
using namespace std::chrono_literals;

namespace {

class UdpTest : public ::testing::TestWithParam<const char*> {
protected:
    // The loopback address of the family under test.
    endpoint any_port() const { return endpoint(GetParam(), 0); }
};

task<datagram_socket> bound(endpoint local) { return create_datagram_endpoint(std::move(local)); }

task<datagram_socket> connected(endpoint remote) {
    std::optional<endpoint> local;
    std::optional<endpoint> peer = std::move(remote);
    return create_datagram_endpoint(std::move(local), std::move(peer));
}

// recvfrom with a deadline, so that a lost datagram fails the test instead
// of hanging it.
task<std::pair<std::string, endpoint>> receive(datagram_socket& s) {
    auto timed = wait_for(s.recvfrom(), 5s);
    co_return co_await std::move(timed);
}

} // namespace

INSTANTIATE_TEST_SUITE_P(Udp, UdpTest, ::testing::Values("127.0.0.1", "::1"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                             return std::string(info.param[0] == ':' ? "IPv6" : "IPv4");
                         });

TEST_P(UdpTest, UnconnectedRoundTrip) {
    auto body = [](endpoint any) -> task<> {
        datagram_socket server = co_await bound(any);
        datagram_socket client = co_await bound(any);
        EXPECT_NE(server.sockname().port(), 0);
        EXPECT_EQ(server.sockname().address(), any.address());
        EXPECT_FALSE(server.peername().has_value());

        co_await client.sendto("hello", server.sockname());
        auto [data, from] = co_await receive(server);
        EXPECT_EQ(data, "hello");
        EXPECT_EQ(from, client.sockname());

        std::string response = "resp:" + data;
        co_await server.sendto(std::move(response), from);
        auto [reply, replier] = co_await receive(client);
        EXPECT_EQ(reply, "resp:hello");
        EXPECT_EQ(replier, server.sockname());
    };
    run(body(any_port()));
}

TEST_P(UdpTest, ConnectedRoundTrip) {
    auto body = [](endpoint any) -> task<> {
        datagram_socket server = co_await bound(any);
        datagram_socket client = co_await connected(server.sockname());
        EXPECT_EQ(client.peername(), std::optional<endpoint>(server.sockname()));
        EXPECT_NE(client.sockname().port(), 0);

        co_await client.send("one");
        co_await client.sendto("two", server.sockname()); // the peer's own address is allowed
        auto [first, from] = co_await receive(server);
        auto [second, from2] = co_await receive(server);
        EXPECT_EQ(first, "one");
        EXPECT_EQ(second, "two");
        EXPECT_EQ(from, client.sockname());
        EXPECT_EQ(from2, client.sockname());

        std::string response = "resp:" + first;
        co_await server.sendto(std::move(response), from);
        auto [reply, replier] = co_await receive(client);
        EXPECT_EQ(reply, "resp:one");
        EXPECT_EQ(replier, server.sockname());
    };
    run(body(any_port()));
}

TEST_P(UdpTest, ConnectedSocketRejectsOtherAddresses) {
    auto body = [](endpoint any) -> task<> {
        datagram_socket server = co_await bound(any);
        datagram_socket other = co_await bound(any);
        datagram_socket client = co_await connected(server.sockname());
        bool rejected = false;
        try {
            co_await client.sendto("x", other.sockname());
        } catch (const std::invalid_argument& e) {
            rejected = true;
            EXPECT_NE(std::string(e.what()).find("Invalid address"), std::string::npos) << e.what();
        }
        EXPECT_TRUE(rejected);
        // Nothing went out: the next datagram the server sees is the good one.
        co_await client.send("good");
        auto [data, from] = co_await receive(server);
        EXPECT_EQ(data, "good");
        EXPECT_EQ(other.queued(), 0u);
    };
    run(body(any_port()));
}

TEST_P(UdpTest, SendOnUnconnectedSocketIsALogicError) {
    auto body = [](endpoint any) -> task<> {
        datagram_socket s = co_await bound(any);
        EXPECT_THROW(co_await s.send("x"), std::logic_error);
        EXPECT_THROW(co_await s.sendto("x", endpoint{}), std::invalid_argument);
    };
    run(body(any_port()));
}

TEST_P(UdpTest, EmptyAndLargestDatagrams) {
    auto body = [](endpoint any) -> task<> {
        datagram_socket server = co_await bound(any);
        datagram_socket client = co_await connected(server.sockname());
        co_await client.send("");
        auto [empty, from] = co_await receive(server);
        EXPECT_EQ(empty, "");
        EXPECT_EQ(from, client.sockname());

        const std::size_t largest = any.family() == AF_INET ? 65507 : 65527;
        std::string big(largest, 'x');
        big.front() = '<';
        big.back() = '>';
        co_await client.send(big);
        auto [got, from2] = co_await receive(server);
        EXPECT_EQ(got.size(), big.size());
        EXPECT_TRUE(got == big);

        bool too_big = false;
        try {
            std::string too_long(largest + 1, 'y');
            co_await client.send(std::move(too_long));
        } catch (const std::system_error& e) {
            too_big = e.code() == std::errc::message_size;
        }
        EXPECT_TRUE(too_big);
    };
    run(body(any_port()));
}

TEST_P(UdpTest, QueuedDatagramsArriveInOrder) {
    auto body = [](endpoint any) -> task<> {
        datagram_socket server = co_await bound(any);
        datagram_socket client = co_await connected(server.sockname());
        constexpr int count = 100;
        for (int i = 0; i < count; ++i) {
            std::string datagram = "datagram " + std::to_string(i);
            co_await client.send(std::move(datagram));
        }
        for (int i = 0; i < count; ++i) {
            auto [data, from] = co_await receive(server);
            EXPECT_EQ(data, "datagram " + std::to_string(i));
        }
        EXPECT_EQ(server.queued(), 0u);
    };
    run(body(any_port()));
}

TEST_P(UdpTest, DatagramsQueueWhileNobodyAwaits) {
    auto body = [](endpoint any) -> task<> {
        datagram_socket server = co_await bound(any);
        datagram_socket marker = co_await bound(any);
        datagram_socket client = co_await bound(any);
        for (int i = 0; i < 10; ++i) {
            std::string number = std::to_string(i);
            co_await client.sendto(std::move(number), server.sockname());
        }
        // Loopback delivers in sending order: once the marker has its
        // datagram, the loop has read the server's ten into its queue
        // (libuv reads up to 32 per socket and loop iteration), while
        // nobody awaited recvfrom() there.
        co_await client.sendto("sync", marker.sockname());
        auto [sync, from] = co_await receive(marker);
        EXPECT_EQ(sync, "sync");
        EXPECT_EQ(server.queued(), 10u);
        for (int i = 0; i < 10; ++i) {
            auto [data, sender] = co_await server.recvfrom(); // queued: no suspension
            EXPECT_EQ(data, std::to_string(i));
        }
        EXPECT_EQ(server.queued(), 0u);
    };
    run(body(any_port()));
}

TEST_P(UdpTest, FullQueueStopsReadingAndResumes) {
    // Past max_queued_datagrams the socket stops reading: the rest wait in
    // the kernel's buffer and come in order once recvfrom() drains the queue.
    auto body = [](endpoint any) -> task<> {
        datagram_socket server = co_await bound(any);
        datagram_socket marker = co_await bound(any);
        datagram_socket client = co_await bound(any);
        const int total = static_cast<int>(datagram_socket::max_queued_datagrams) + 76;
        int sent = 0;
        // Small batches, each followed by a marker datagram to another
        // socket: libuv reads at most 32 datagrams per socket per loop
        // iteration, so a batch this small is in the queue by the time the
        // marker's datagram (sent after it) has been received.
        while (sent < total) {
            for (int i = 0; i < 16 && sent < total; ++i, ++sent) {
                std::string number = std::to_string(sent);
                co_await client.sendto(std::move(number), server.sockname());
            }
            co_await client.sendto("sync", marker.sockname());
            auto [sync, from] = co_await receive(marker);
            EXPECT_EQ(sync, "sync");
        }
        EXPECT_EQ(server.queued(), datagram_socket::max_queued_datagrams);
        for (int i = 0; i < total; ++i) {
            auto [data, from] = co_await receive(server);
            EXPECT_EQ(data, std::to_string(i));
            if (data != std::to_string(i)) break;
        }
        EXPECT_EQ(server.queued(), 0u);
    };
    run(body(any_port()));
}

TEST_P(UdpTest, SendAfterCloseIsASilentNoOp) {
    auto body = [](endpoint any) -> task<> {
        datagram_socket server = co_await bound(any);
        datagram_socket client = co_await connected(server.sockname());
        const endpoint name = client.sockname();
        client.close();
        EXPECT_TRUE(client.is_closing());
        client.close(); // idempotent
        co_await client.sendto("x", server.sockname());
        co_await client.send("y");
        co_await client.sendto("z", endpoint{}); // even with a bad address: nothing is sent
        EXPECT_EQ(client.sockname(), name);      // still known after close
        bool bad_fd = false;
        try {
            co_await client.recvfrom();
        } catch (const std::system_error& e) {
            bad_fd = e.code() == std::errc::bad_file_descriptor;
        }
        EXPECT_TRUE(bad_fd);
        EXPECT_EQ(server.queued(), 0u);
    };
    run(body(any_port()));
}

TEST_P(UdpTest, CancelPendingRecvfromLosesNothing) {
    auto body = [](endpoint any) -> task<> {
        datagram_socket server = co_await bound(any);
        datagram_socket client = co_await connected(server.sockname());
        for (int i = 0; i < 3; ++i) {
            task_handle<std::pair<std::string, endpoint>> pending = create_task(server.recvfrom());
            co_await sleep(0s); // it starts and waits
            EXPECT_FALSE(pending.done());
            EXPECT_TRUE(pending.cancel());
            EXPECT_THROW(co_await pending, cancelled_error);
        }
        co_await client.send("after");
        auto [data, from] = co_await receive(server);
        EXPECT_EQ(data, "after");
    };
    run(body(any_port()));
}

TEST_P(UdpTest, WaitersAreServedInOrder) {
    auto body = [](endpoint any) -> task<> {
        datagram_socket server = co_await bound(any);
        datagram_socket client = co_await connected(server.sockname());
        task_handle<std::pair<std::string, endpoint>> a = create_task(server.recvfrom());
        task_handle<std::pair<std::string, endpoint>> b = create_task(server.recvfrom());
        task_handle<std::pair<std::string, endpoint>> c = create_task(server.recvfrom());
        co_await sleep(0s);
        b.cancel(); // leaves the line without taking a datagram
        co_await client.send("1");
        co_await client.send("2");
        std::pair<std::string, endpoint> ra = co_await a;
        std::pair<std::string, endpoint> rc = co_await c;
        EXPECT_EQ(ra.first, "1");
        EXPECT_EQ(rc.first, "2");
        EXPECT_TRUE(b.cancelled());
    };
    run(body(any_port()));
}

TEST_P(UdpTest, ClosingWakesWaitersWithBadFileDescriptor) {
    auto body = [](endpoint any) -> task<> {
        datagram_socket server = co_await bound(any);
        task_handle<std::pair<std::string, endpoint>> pending = create_task(server.recvfrom());
        co_await sleep(0s);
        server.close();
        bool bad_fd = false;
        try {
            co_await pending;
        } catch (const std::system_error& e) {
            bad_fd = e.code() == std::errc::bad_file_descriptor;
        }
        EXPECT_TRUE(bad_fd);
    };
    run(body(any_port()));
}

TEST_P(UdpTest, MovedSocketKeepsWorking) {
    auto body = [](endpoint any) -> task<> {
        datagram_socket server = co_await bound(any);
        datagram_socket client = co_await connected(server.sockname());
        task_handle<std::pair<std::string, endpoint>> pending = create_task(server.recvfrom());
        co_await sleep(0s);
        datagram_socket moved = std::move(server); // the waiting recvfrom is unaffected
        EXPECT_TRUE(server.is_closing());
        co_await client.send("moved");
        std::pair<std::string, endpoint> got = co_await pending;
        EXPECT_EQ(got.first, "moved");
        datagram_socket other;
        other = std::move(moved);
        co_await client.send("again");
        auto [data, from] = co_await receive(other);
        EXPECT_EQ(data, "again");
    };
    run(body(any_port()));
}

TEST_P(UdpTest, ConnectionRefusedSurfacesOnRecvfrom) {
    // Linux reports ICMP "port unreachable" to a connected UDP socket as
    // ECONNREFUSED on its next receive.
    auto body = [](endpoint any) -> task<> {
        datagram_socket gone = co_await bound(any);
        const endpoint closed_port = gone.sockname();
        gone.close(); // nobody listens on that port now
        datagram_socket client = co_await connected(closed_port);
        co_await client.send("anyone?");
        bool refused = false;
        try {
            co_await receive(client);
        } catch (const std::system_error& e) {
            refused = e.code() == std::errc::connection_refused;
            EXPECT_TRUE(refused) << e.what();
        }
        EXPECT_TRUE(refused);
        // The socket is still usable.
        EXPECT_FALSE(client.is_closing());
    };
    run(body(any_port()));
}

TEST_P(UdpTest, BindingAPortInUseFails) {
    auto body = [](endpoint any) -> task<> {
        datagram_socket first = co_await bound(any);
        bool in_use = false;
        try {
            datagram_socket second = co_await bound(first.sockname());
        } catch (const std::system_error& e) {
            in_use = e.code() == std::errc::address_in_use;
        }
        EXPECT_TRUE(in_use);
    };
    run(body(any_port()));
}

TEST(UdpArgs, BadEndpointsAreRejected) {
    auto body = []() -> task<> {
        EXPECT_THROW(co_await create_datagram_endpoint(), std::invalid_argument);
        std::optional<endpoint> v4 = endpoint("127.0.0.1", 0);
        std::optional<endpoint> v6 = endpoint("::1", 9);
        std::optional<endpoint> none = endpoint{};
        EXPECT_THROW(co_await create_datagram_endpoint(v4, v6), std::invalid_argument);
        EXPECT_THROW(co_await create_datagram_endpoint(none), std::invalid_argument);
        datagram_socket s = co_await create_datagram_endpoint(v4);
        EXPECT_THROW(co_await s.sendto("x", endpoint("::1", 9)), std::invalid_argument); // other family
        datagram_socket empty;
        EXPECT_TRUE(empty.is_closing());
        EXPECT_FALSE(empty.peername().has_value());
        EXPECT_THROW(empty.sockname(), std::logic_error);
        co_await empty.sendto("x", endpoint("127.0.0.1", 9)); // closed: no-op
    };
    run(body());
}

TEST(UdpLoop, ClosingTheLoopClosesTheSocket) {
    std::optional<datagram_socket> kept;
    task_handle<std::pair<std::string, endpoint>> pending;
    {
        event_loop loop;
        kept.emplace(loop.run_until_complete(create_datagram_endpoint(endpoint("127.0.0.1", 0))));
        pending = loop.create_task(kept->recvfrom());
        loop.run_until_complete(sleep(0s)); // it waits
        EXPECT_FALSE(kept->is_closing());
        loop.close();
        EXPECT_TRUE(kept->is_closing());
        EXPECT_TRUE(pending.done());
    }
    // The socket outlives its loop harmlessly.
    kept->close();
    kept.reset();
}
