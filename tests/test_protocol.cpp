// The cancellation protocol (docs/design.md, "The cancellation protocol"),
// checked for every kind of suspending operation of the library, in the three
// states a cancellation can find an awaiting task in:
//
//  (a) parked: the task waits on the operation and is cancelled;
//  (b) pending: the task cancelled itself (a cancellation is pending) right
//      before it awaits the operation; asyncio's Task.__step hands it to the
//      operation at once (CPython: test_tasks.py::test_cancel_current_task);
//  (c) woken: the operation completed and queued the task, which is
//      cancelled before it resumes; whatever completing handed over goes to
//      the next waiter (give_back).
//
// Every case runs on a loop of its own, whose exception handler must stay
// silent ("Task exception was never retrieved" and the like), and which must
// have nothing left armed or open once the scenario is over (uv_run returns).
// Under the clang-asan preset the same run finds leaks and use-after-free:
// a cancelled waiter left linked in a primitive is touched after its frame
// is gone the next time the primitive wakes someone.
//
// | operation                 | (a) parked: after the cancel                    | (b) pending                                  | (c) woken, then cancelled                       |
// |---------------------------|-------------------------------------------------|----------------------------------------------|-------------------------------------------------|
// | sleep(1h)                 | the timer is gone (uv_run returns)              | refused at the await                         | n/a: woken inline from the timer (fire() calls wake_now(): it resumes before fire returns) |
// | sleep(0)                  | n/a: never parked (queued at once)              | refused at the await                         | test_cancellation_rules.cpp (CPython test_cancel_yield) |
// | read(n), read(span), readline, readuntil, readexactly | the reader serves a fresh read of the bytes sent next | refused, the reader serves the next read | n/a: woken inline from libuv's read callback |
// | drain (buffer over the high-water mark, peer not reading) | after the peer read it all, a fresh drain does not wait | refused, same | n/a: woken inline from libuv's write callback |
// | open_connection (accept queue of a listen(fd, 0) socket full) | the connection is closed; connecting elsewhere works | refused, same | n/a: woken inline from libuv's connect callback |
// | getaddrinfo, getnameinfo  | a fresh lookup works (the request is detached); completing before the cancel is accepted | refused, same | n/a: woken inline from the request's callback |
// | recvfrom (UDP)            | the next datagram goes to a fresh recvfrom      | refused, same                                | n/a: woken inline from libuv's recv callback    |
// | lock.acquire (lock held)  | free after the holder's release, a newcomer takes it at once | refused, same                   | the lock goes to the second waiter              |
// | semaphore.acquire (bounded, 0 free) | the unit comes back, a newcomer takes one at once | refused, same                       | the unit goes to the second waiter, none is made up |
// | event.wait                | set() wakes no dead waiter, a newcomer passes   | refused, same                                | the second waiter returns                       |
// | condition.wait            | the lock is free again; notify reaches a newcomer | refused, the lock is not left held         | the notification passes to the second waiter    |
// | barrier.wait (3 parties)  | n_waiting back to 0; a full round passes        | refused, same                                | the others pass the barrier; next round works   |
// | queue.get (empty)         | the next item goes to a fresh get               | refused, same                                | the item goes to the second getter              |
// | queue.put (full)          | its item is not inserted                        | refused, same                                | the second putter's item goes in, not the first's |
// | to_thread, run_in_executor (one busy worker) | the job never runs (checked after the pool served a later job) | refused, the job never runs | n/a: the result comes through a loop callback that calls wake_now() |
// | wait_for, wait_until      | the awaited work is cancelled                   | the awaited work never starts                | (a task awaited by another task first) the second waiter gets the value |
// | gather                    | both children cancelled                         | both children cancelled, their bodies never ran | (the last child awaited by another task first) the second gather gets the values, children untouched |
// | wait                      | the tasks are not cancelled and finish later    | same                                         | (the task awaited by another task first) the second wait returns |
// | as_completed              | the first result goes to a fresh await          | refused, same                                | the result goes to the second awaiter           |
// | shield                    | the inner task is not cancelled and finishes    | same                                         | (inner awaited by another task first) the second shield gets the value |
// | task_group::scope         | both children cancelled                         | both children cancelled, bodies never ran    | the children finished normally; the scope is cancelled |
// | co_await future           | the future is cancelled (asyncio)               | the future is cancelled (asyncio's __step hands the cancel to it) | the second awaiter gets the value, the future is not cancelled |
// | co_await task_handle      | the awaited task is cancelled                   | the awaited task is cancelled                | (awaited by another task first) the second awaiter gets the value, the task is not cancelled |
// | process.wait (sleep 1000) | the child runs on; killed, a fresh wait returns -SIGKILL | refused, same                         | n/a: woken inline from libuv's exit callback    |
// | wait_signal               | the signal's next arrival goes to a fresh waiter| refused, same                                | n/a: woken inline from libuv's signal callback  |
//
// (c) needs a wake-up that goes through the ready queue. A task finishing
// hands the processor to its first waiter directly (symmetric transfer), so
// for the operations woken that way (wait_for, gather, wait, shield, a
// task_handle) the case puts another task ahead of the waiters under test;
// those then go through the ready queue, and the window exists.
#include "coro_test_util.hpp"
#include "protocol_test_util.hpp"
#include "stream_test_util.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <csignal>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

using namespace uvasync;
using namespace std::chrono_literals;
using coro_test_util::ticks;
using namespace protocol_test;

namespace {

// ---- the harness -------------------------------------------------------------

// What one waiter under test went through.
struct waiter_record {
    bool arrived = false;         // reached the co_await under test
    bool completed = false;       // the co_await returned
    bool cancelled_there = false; // cancelled_error came out of it
    std::string message;          // that cancelled_error's message
};

// One kind of suspending operation, set up so that awaiting it parks.
class op_case {
public:
    virtual ~op_case() = default;

    // What the call graph names the operation while a task is parked on it.
    virtual std::string parked_kind() const = 0;
    // A lookup may be answered before the test sees it parked.
    virtual bool may_complete_before_parked() const { return false; }

    // Brings about the state in which the operation parks.
    virtual task<> setup() { co_return; }
    // The co_await under test, for waiter 1 or 2.
    virtual task<> op(int who) = 0;
    // (a): the waiter is parked; what it waits for is under way (children
    // started) before the cancellation comes.
    virtual task<> when_parked() { co_return; }
    // Waiter 1 was cancelled while parked: nothing of it is left linked,
    // the primitive serves others.
    virtual task<> check_after_cancel() { co_return; }
    // Waiter 1 was refused at the await (cancellation pending).
    virtual task<> check_after_pending() { co_await check_after_cancel(); }
    // (c): before the waiters park (a task awaiting ahead of them).
    virtual task<> prepare_wake() { co_return; }
    // (c): completes the operation for waiter 1.
    virtual task<> wake() { co_return; }
    // (c): waiter 1 ended cancelled, waiter 2 returned: where the item went.
    virtual task<> check_handover() { co_return; }
    // Closes what setup opened.
    virtual task<> teardown() { co_return; }

    waiter_record rec[3];
};

// Runs the operation for waiter `who`, recording where a cancellation came out.
task<> run_op(op_case& c, int who) {
    waiter_record& r = c.rec[who];
    r.arrived = true;
    try {
        co_await c.op(who);
    } catch (const cancelled_error& e) {
        r.cancelled_there = true;
        r.message = e.message();
        throw;
    }
    r.completed = true;
}

// (a)
task<> cancelled_while_parked(op_case& c) {
    co_await c.setup();
    task_handle<> w = create_task(run_op(c, 1));
    const bool parked = co_await parked_on(w, c.parked_kind());
    if (!parked && c.may_complete_before_parked() && w.done()) {
        // Answered before the cancellation could find it parked: fine, as
        // long as it completed and nothing leaked.
        EXPECT_TRUE(c.rec[1].completed);
        co_await c.teardown();
        co_return;
    }
    EXPECT_TRUE(parked) << c.parked_kind() << ": the waiter never parked";
    if (!parked) {
        co_await stop_waiter(w);
        co_await c.teardown();
        co_return;
    }
    co_await c.when_parked();
    EXPECT_TRUE(w.cancel("while parked"));
    EXPECT_TRUE(co_await ends_cancelled(w, "while parked"));
    EXPECT_TRUE(c.rec[1].cancelled_there) << "cancelled_error did not come out of the co_await";
    EXPECT_FALSE(c.rec[1].completed);
    EXPECT_EQ(c.rec[1].message, "while parked");
    co_await c.check_after_cancel();
    co_await c.teardown();
}

// (b)
task<> pending_then_await(op_case& c) {
    current_task()->cancel("pending");
    co_await run_op(c, 1);
}

task<> cancellation_pending(op_case& c) {
    co_await c.setup();
    task_handle<> w = create_task(pending_then_await(c));
    EXPECT_TRUE(co_await ends_cancelled(w, "pending"));
    EXPECT_TRUE(c.rec[1].arrived);
    EXPECT_TRUE(c.rec[1].cancelled_there) << "the pending cancellation was not delivered at the co_await";
    EXPECT_FALSE(c.rec[1].completed);
    co_await c.check_after_pending();
    co_await c.teardown();
}

// (c)
task<> cancelled_after_woken(op_case& c) {
    co_await c.setup();
    co_await c.prepare_wake();
    task_handle<> w1 = create_task(run_op(c, 1));
    const bool parked1 = co_await parked_on(w1, c.parked_kind());
    task_handle<> w2 = create_task(run_op(c, 2));
    const bool parked2 = co_await parked_on(w2, c.parked_kind());
    EXPECT_TRUE(parked1 && parked2) << c.parked_kind() << ": the waiters never parked";
    if (!parked1 || !parked2) {
        co_await stop_waiter(w1);
        co_await stop_waiter(w2);
        co_await c.teardown();
        co_return;
    }
    co_await c.wake();
    const bool caught = co_await cancel_once_woken(w1, c.rec[1].arrived);
    EXPECT_TRUE(caught) << "waiter 1 was never seen woken and not yet resumed";
    if (caught) {
        EXPECT_TRUE(co_await ends_cancelled(w1, "woken"));
        EXPECT_TRUE(c.rec[1].cancelled_there);
        EXPECT_FALSE(c.rec[1].completed);
    } else {
        co_await stop_waiter(w1);
    }
    try {
        co_await w2;
    } catch (const cancelled_error&) {
        ADD_FAILURE() << "waiter 2 was cancelled";
    } catch (const std::exception& e) {
        ADD_FAILURE() << "waiter 2 failed: " << e.what();
    }
    EXPECT_TRUE(c.rec[2].completed) << "waiter 2 never got what waiter 1 gave back";
    co_await c.check_handover();
    co_await c.teardown();
}

// ---- the cases ---------------------------------------------------------------

struct child_log {
    bool started = false;
    bool saw_cancel = false;
};

// Returns v once `go` is set, logging whether it ran and was cancelled.
task<int> logged_child(event& go, int v, child_log& log) {
    log.started = true;
    try {
        co_await go.wait();
    } catch (const cancelled_error&) {
        log.saw_cancel = true;
        throw;
    }
    co_return v;
}

task<int> await_handle(task_handle<int> h) { co_return co_await h; }

task<> wait_all(std::vector<task_handle<int>> hs) { co_await wait(std::move(hs)); }

// Whether a fresh `aw`, run as a task of its own, completes within two ticks
// (a primitive with nothing stale linked serves a newcomer at once).
template <class A> task<bool> served_at_once(A aw) {
    auto h = create_task(std::move(aw));
    co_await ticks(2);
    const bool done = h.done();
    if (!done) co_await stop_waiter(h);
    co_return done;
}

// sleep(1h). (c) is n/a: the timer fires from libuv and resumes the task inline.
class sleep_case final : public op_case {
    std::string parked_kind() const override { return "sleep"; }
    task<> op(int) override { co_await sleep(1h); }
    task<> check_after_cancel() override {
        co_await sleep(1ms); // the timers still work; the hour-long one is gone (uv_run returns)
    }
};

// sleep(0): queued at once, never parked; only (b) applies here.
class sleep0_case final : public op_case {
    std::string parked_kind() const override { return ""; }
    task<> op(int) override { co_await sleep(0s); }
};

// ---- streams

enum class read_kind { some, span, line, until, exactly };

// A read with nothing buffered. (c) is n/a: data arrives in libuv's read
// callback, which resumes the reader inline.
// CPython (readline, (a)): test_streams.py::test_exception_cancel (no waiter left behind).
class read_case final : public op_case {
public:
    explicit read_case(read_kind k) : k_(k) {}
    std::string parked_kind() const override {
        switch (k_) {
        case read_kind::line: return "readline";
        case read_kind::until: return "readuntil";
        case read_kind::exactly: return "readexactly";
        default: return "read";
        }
    }
    task<> setup() override { co_await p_.open(); }
    task<> op(int) override { got_ = co_await read_once(); }
    task<> check_after_cancel() override {
        // The reader serves a fresh read (a cancelled one left registered
        // would make it throw "only one reader", or be woken after its
        // frame is gone), and no byte sent afterwards is lost.
        p_.peer_writer().write("hello\r\n");
        std::string all;
        while (all.size() < 7) {
            std::string part = co_await read_once();
            if (part.empty()) break;
            all += part;
        }
        EXPECT_EQ(all, "hello\r\n");
        EXPECT_EQ(p_.r.buffered_size(), 0u);
    }
    task<> teardown() override { co_await p_.close(); }

private:
    task<std::string> read_once() {
        switch (k_) {
        case read_kind::some: co_return co_await p_.r.read(100);
        case read_kind::span: {
            const std::size_t n = co_await p_.r.read(std::span<char>(buf_));
            co_return std::string(buf_.data(), n);
        }
        case read_kind::line: co_return co_await p_.r.readline();
        case read_kind::until: co_return co_await p_.r.readuntil("\r\n");
        case read_kind::exactly: co_return co_await p_.r.readexactly(7);
        }
        co_return std::string();
    }

    read_kind k_;
    tcp_pair p_;
    std::array<char, 64> buf_{};
    std::string got_;
};

// drain() over the high-water mark, the peer not reading. (c) is n/a:
// libuv's write callback resumes the drainers inline.
class drain_case final : public op_case {
    std::string parked_kind() const override { return "drain"; }
    task<> setup() override {
        co_await p_.open();
        p_.w.set_write_buffer_limits(4096);
        const std::string chunk(1024 * 1024, 'd');
        for (int i = 0; i < 64 && p_.w.get_write_buffer_size() <= 4096; ++i) {
            p_.w.write(std::string_view(chunk));
            total_ += chunk.size();
        }
        EXPECT_GT(p_.w.get_write_buffer_size(), 4096u) << "the socket took everything: nothing to drain";
    }
    task<> op(int) override { co_await p_.w.drain(); }
    task<> check_after_cancel() override {
        // The peer reads it all; the buffer flushes and wakes the drainers
        // still listed (a dead one would be touched here), and a fresh
        // drain does not wait.
        std::size_t got = 0;
        while (got < total_) {
            std::string part = co_await p_.peer_reader().read(1024 * 1024);
            if (part.empty()) break;
            got += part.size();
        }
        EXPECT_EQ(got, total_);
        EXPECT_TRUE(co_await served_at_once(p_.w.drain()));
        EXPECT_EQ(p_.w.get_write_buffer_size(), 0u);
    }
    task<> teardown() override { co_await p_.close(); }

    tcp_pair p_;
    std::size_t total_ = 0;
};

// open_connection to a listening socket whose accept queue is full
// (listen(fd, 0) and one connection nobody accepts): the SYN is dropped and
// the connect stays in flight. Local only. (c) is n/a: libuv's connect
// callback resumes the task inline.
class connect_case final : public op_case {
    std::string parked_kind() const override { return "connect"; }
    task<> setup() override {
        listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        EXPECT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
        EXPECT_EQ(::listen(listener_, 0), 0);
        socklen_t len = sizeof a;
        EXPECT_EQ(::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len), 0);
        port_ = ntohs(a.sin_port);
        filler_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        EXPECT_EQ(::connect(filler_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0); // the queue's one place
        co_return;
    }
    task<> op(int) override {
        auto conn = co_await open_connection("127.0.0.1", port_);
        (void)conn;
    }
    task<> check_after_cancel() override {
        // The abandoned connection is closed (uv_run returns; ASan sees no
        // leak) and connecting still works.
        tcp_pair other;
        co_await other.open();
        EXPECT_TRUE(other.w.valid());
        co_await other.close();
    }
    task<> teardown() override {
        if (filler_ >= 0) ::close(filler_);
        if (listener_ >= 0) ::close(listener_);
        filler_ = listener_ = -1;
        co_return;
    }

    int listener_ = -1;
    int filler_ = -1;
    std::uint16_t port_ = 0;
};

// getaddrinfo("localhost") through /etc/hosts, on libuv's thread pool; it
// may be answered before the cancellation finds it parked. (c) is n/a: the
// request's callback resumes the task inline.
class getaddrinfo_case final : public op_case {
    std::string parked_kind() const override { return "getaddrinfo"; }
    bool may_complete_before_parked() const override { return true; }
    task<> op(int) override {
        std::vector<endpoint> addrs = co_await getaddrinfo("localhost", "80");
        EXPECT_FALSE(addrs.empty());
    }
    task<> check_after_cancel() override {
        std::vector<endpoint> addrs = co_await getaddrinfo("localhost", "80");
        EXPECT_FALSE(addrs.empty());
    }
};

class getnameinfo_case final : public op_case {
    std::string parked_kind() const override { return "getnameinfo"; }
    bool may_complete_before_parked() const override { return true; }
    task<> op(int) override {
        auto names = co_await getnameinfo(endpoint("127.0.0.1", 80));
        EXPECT_FALSE(names.first.empty());
    }
    task<> check_after_cancel() override {
        auto names = co_await getnameinfo(endpoint("127.0.0.1", 80));
        EXPECT_FALSE(names.first.empty());
    }
};

// recvfrom on a UDP socket with nothing queued. (c) is n/a: libuv's recv
// callback hands the datagram over and resumes the task inline.
class recvfrom_case final : public op_case {
    std::string parked_kind() const override { return "recvfrom"; }
    task<> setup() override { sock_ = co_await create_datagram_endpoint(endpoint("127.0.0.1", 0)); }
    task<> op(int) override {
        auto [data, from] = co_await sock_.recvfrom();
        (void)data;
        (void)from;
    }
    task<> check_after_cancel() override {
        // The next datagram goes to a fresh recvfrom, not to the dead waiter.
        datagram_socket sender = co_await create_datagram_endpoint(std::nullopt, sock_.sockname());
        co_await sender.send("ping");
        auto [data, from] = co_await sock_.recvfrom();
        EXPECT_EQ(data, "ping");
        EXPECT_EQ(from, sender.sockname());
        EXPECT_EQ(sock_.queued(), 0u);
        sender.close();
    }
    task<> teardown() override {
        sock_.close();
        co_return;
    }

    datagram_socket sock_;
};

// lock.acquire() of a lock the test holds.
// CPython: test_locks.py::test_acquire_cancel (a); test_cancel_race,
// test_finished_waiter_cancelled (c).
class lock_case final : public op_case {
    std::string parked_kind() const override { return "lock.acquire"; }
    task<> setup() override {
        co_await l_.acquire(); // free: taken at once
        EXPECT_TRUE(l_.locked());
    }
    task<> op(int) override { co_await l_.acquire(); }
    task<> check_after_cancel() override {
        EXPECT_TRUE(l_.locked()); // still the test's
        l_.release();
        EXPECT_FALSE(l_.locked()); // nobody took it on the dead waiter's behalf
        EXPECT_TRUE(co_await served_at_once(l_.acquire()));
        EXPECT_TRUE(l_.locked());
        l_.release();
    }
    task<> wake() override {
        l_.release();
        co_return;
    }
    task<> check_handover() override {
        EXPECT_TRUE(l_.locked()); // waiter 2's
        l_.release();
        EXPECT_FALSE(l_.locked());
        EXPECT_TRUE(co_await served_at_once(l_.acquire()));
        l_.release();
    }

    lock l_;
};

// acquire() of a bounded_semaphore(1) whose unit the test holds (bounded:
// a unit made up by a give-back would show as a release too many).
// CPython: test_locks.py SemaphoreTests::test_acquire_cancel (a);
// test_acquire_no_hang, test_acquire_cancel_before_awoken (c).
class semaphore_case final : public op_case {
    std::string parked_kind() const override { return "semaphore.acquire"; }
    task<> setup() override {
        co_await s_.acquire();
        EXPECT_TRUE(s_.locked());
    }
    task<> op(int) override { co_await s_.acquire(); }
    task<> check_after_cancel() override {
        EXPECT_TRUE(s_.locked());
        s_.release();
        EXPECT_FALSE(s_.locked());
        EXPECT_THROW(s_.release(), std::logic_error); // exactly one unit exists
        EXPECT_TRUE(co_await served_at_once(s_.acquire()));
        s_.release();
    }
    task<> wake() override {
        s_.release();
        co_return;
    }
    task<> check_handover() override {
        EXPECT_TRUE(s_.locked()); // waiter 2 holds the one unit
        s_.release();
        EXPECT_FALSE(s_.locked());
        EXPECT_THROW(s_.release(), std::logic_error);
        co_return;
    }

    bounded_semaphore s_{1};
};

// event.wait() on a clear event.
// CPython: test_locks.py EventTests::test_wait_cancel (a).
class event_case final : public op_case {
    std::string parked_kind() const override { return "event.wait"; }
    task<> op(int) override { co_await e_.wait(); }
    task<> check_after_cancel() override {
        e_.set(); // wakes every listed waiter: a dead one would be touched
        EXPECT_TRUE(co_await served_at_once(e_.wait()));
    }
    task<> wake() override {
        e_.set();
        co_return;
    }
    task<> check_handover() override {
        EXPECT_TRUE(e_.is_set());
        co_return;
    }

    event e_;
};

// condition.wait() (with the lock taken first, as asyncio's `async with cond:`).
// CPython: test_locks.py ConditionTests::test_wait_cancel (a);
// test_cancelled_wakeup, test_cancelled_error_wakeup (c).
class condition_case final : public op_case {
    std::string parked_kind() const override { return "condition.wait"; }
    task<> op(int) override {
        auto guard = co_await c_.scoped();
        co_await c_.wait();
    }
    task<> check_after_cancel() override {
        EXPECT_FALSE(c_.locked()); // re-taken for the cancellation, then released
        // A notification reaches a newcomer.
        task_handle<> next = create_task(waits());
        const bool parked = co_await parked_on(next, "condition.wait");
        EXPECT_TRUE(parked);
        co_await c_.acquire();
        c_.notify(1);
        c_.release();
        if (parked) co_await next;
        EXPECT_FALSE(c_.locked());
    }
    task<> wake() override {
        co_await c_.acquire();
        c_.notify(1);
        c_.release();
    }
    task<> check_handover() override {
        EXPECT_FALSE(c_.locked());
        co_return;
    }

private:
    task<> waits() {
        auto guard = co_await c_.scoped();
        co_await c_.wait();
    }
    condition c_;
};

// barrier(3).wait() with fewer than three parties there.
// CPython: test_locks.py BarrierTests::test_filling_tasks_cancel_one (a).
class barrier_case final : public op_case {
    std::string parked_kind() const override { return "condition.wait"; }
    task<> op(int) override { (void)co_await b_.wait(); }
    task<> check_after_cancel() override {
        EXPECT_EQ(b_.n_waiting(), 0u);
        EXPECT_FALSE(b_.broken());
        co_await full_round();
    }
    task<> wake() override {
        third_ = create_task(b_.wait()); // the last party: everyone goes
        co_return;
    }
    task<> check_handover() override {
        (void)co_await third_;
        EXPECT_EQ(b_.n_waiting(), 0u);
        EXPECT_FALSE(b_.broken());
        co_await full_round();
    }

private:
    task<> full_round() {
        std::vector<task_handle<std::size_t>> parties;
        for (int i = 0; i < 3; ++i) parties.push_back(create_task(b_.wait()));
        std::vector<std::size_t> indices = co_await gather(std::move(parties));
        std::sort(indices.begin(), indices.end());
        EXPECT_EQ(indices, (std::vector<std::size_t>{0, 1, 2}));
    }
    barrier b_{3};
    task_handle<std::size_t> third_;
};

// queue.get() on an empty queue.
// CPython: test_queues.py::test_cancelled_getters_not_being_held_in_self_getters,
// test_get_cancelled_race (a); test_get_cancel_drop_one_pending_reader (c).
class queue_get_case final : public op_case {
    std::string parked_kind() const override { return "queue.get"; }
    task<> op(int who) override { got_[who] = co_await q_.get(); }
    task<> check_after_cancel() override {
        q_.put_nowait(7); // wakes the first listed getter: a dead one would be touched
        auto fresh = create_task(q_.get());
        co_await ticks(2);
        EXPECT_TRUE(fresh.done());
        if (fresh.done()) {
            EXPECT_EQ(fresh.result(), 7);
        } else {
            co_await stop_waiter(fresh);
        }
        EXPECT_TRUE(q_.empty());
    }
    task<> wake() override {
        q_.put_nowait(1);
        co_return;
    }
    task<> check_handover() override {
        EXPECT_EQ(got_[2], 1);
        EXPECT_EQ(got_[1], 0);
        EXPECT_TRUE(q_.empty());
        co_return;
    }

    queue<int> q_;
    int got_[3] = {0, 0, 0};
};

// queue.put() on a full queue(1).
// CPython: test_queues.py::test_cancelled_puts_not_being_held_in_self_putters (a);
// test_put_cancel_drop (c).
class queue_put_case final : public op_case {
    std::string parked_kind() const override { return "queue.put"; }
    task<> setup() override {
        q_.put_nowait(0);
        co_return;
    }
    task<> op(int who) override { co_await q_.put(10 * who); }
    task<> check_after_cancel() override {
        EXPECT_EQ(q_.qsize(), 1u); // the cancelled put inserted nothing
        EXPECT_EQ(q_.get_nowait(), 0);
        EXPECT_TRUE(q_.empty());
        EXPECT_TRUE(co_await served_at_once(q_.put(5)));
        EXPECT_EQ(q_.get_nowait(), 5);
    }
    task<> wake() override {
        EXPECT_EQ(q_.get_nowait(), 0); // room for one: putter 1 is woken
        co_return;
    }
    task<> check_handover() override {
        EXPECT_EQ(q_.qsize(), 1u);
        EXPECT_EQ(q_.get_nowait(), 20); // waiter 2's item, not waiter 1's
        EXPECT_TRUE(q_.empty());
        co_return;
    }

    queue<int> q_{1};
};

// to_thread / run_in_executor with the pool's only worker busy, so that the
// job is still queued when the cancellation comes: it must never run.
// (c) is n/a: the result comes back through a loop callback that resumes
// the task inline (wake_now).
class executor_case final : public op_case {
public:
    explicit executor_case(bool default_executor) : default_(default_executor) {}
    std::string parked_kind() const override { return "run_in_executor"; }
    task<> setup() override {
        ex_ = std::make_shared<thread_pool_executor>(1);
        if (default_) get_running_loop().set_default_executor(ex_);
        std::shared_future<void> gate = gate_.get_future().share();
        ex_->submit([gate] { gate.wait(); }); // the one worker waits for the test
        co_return;
    }
    task<> op(int) override {
        if (default_) co_await to_thread([this] { ran_ = true; });
        else co_await run_in_executor(*ex_, [this] { ran_ = true; });
    }
    task<> check_after_cancel() override {
        open_gate();
        // The worker serves jobs in order: once a later job came back, the
        // abandoned one has had its turn.
        const int later = co_await run_in_executor(*ex_, [] { return 1; });
        EXPECT_EQ(later, 1);
        EXPECT_FALSE(ran_.load()) << "an abandoned job ran";
    }
    task<> teardown() override {
        open_gate();
        ex_->shutdown(true);
        EXPECT_FALSE(ran_.load());
        co_return;
    }

private:
    void open_gate() {
        if (!opened_) gate_.set_value();
        opened_ = true;
    }
    bool default_;
    std::shared_ptr<thread_pool_executor> ex_;
    std::promise<void> gate_;
    bool opened_ = false;
    std::atomic<bool> ran_{false};
};

// wait_for / wait_until of work that does not finish. For (c), of a handle
// that another task awaits first.
// CPython: test_waitfor.py::test_cancel_wait_for, test_cancel_blocking_wait_for
// (a); test_wait_for_issue86296 (c: cancelled after the inner finished, the
// outer is cancelled all the same).
class wait_for_case final : public op_case {
public:
    explicit wait_for_case(bool until) : until_(until) {}
    std::string parked_kind() const override { return "wait_for"; }
    task<> op(int who) override {
        if (inner_.valid() && until_) got_[who] = co_await wait_until(inner_, clock::now() + 1h);
        else if (inner_.valid()) got_[who] = co_await wait_for(inner_, 1h);
        else if (until_) got_[who] = co_await wait_until(logged_child(go_, 5, log_), clock::now() + 1h);
        else got_[who] = co_await wait_for(logged_child(go_, 5, log_), 1h);
    }
    task<> when_parked() override {
        for (int i = 0; i < 100 && !log_.started; ++i) co_await sleep(0ms); // started: parked on go_
        EXPECT_TRUE(log_.started);
    }
    task<> check_after_cancel() override {
        EXPECT_TRUE(log_.saw_cancel) << "the awaited work was not cancelled";
        co_return;
    }
    task<> check_after_pending() override {
        EXPECT_FALSE(log_.started) << "the awaited work started despite the pending cancellation";
        co_return;
    }
    task<> prepare_wake() override {
        inner_ = create_task(logged_child(go_, 5, log_));
        first_ = create_task(await_handle(inner_));
        EXPECT_TRUE(co_await parked_on(first_, "task"));
    }
    task<> wake() override {
        go_.set();
        co_return;
    }
    task<> check_handover() override {
        EXPECT_EQ(got_[2], 5);
        EXPECT_EQ(co_await first_, 5);
        EXPECT_FALSE(inner_.cancelled());
        EXPECT_FALSE(log_.saw_cancel);
    }

private:
    bool until_;
    event go_;
    child_log log_;
    task_handle<int> inner_;
    task_handle<int> first_;
    int got_[3] = {0, 0, 0};
};

// gather of two children that wait. For (c), the children are made first
// and another task awaits them (asyncio.wait) ahead of the two gathers.
// CPython: test_tasks.py::test_cancellation_broadcast (a).
class gather_case final : public op_case {
    std::string parked_kind() const override { return "gather"; }
    task<> op(int who) override {
        if (!prepared_) { // the children are made by the awaiting task, as gather(coro, coro) does
            kids_[0] = create_task(logged_child(go_, 1, log_[0]));
            kids_[1] = create_task(logged_child(go_, 2, log_[1]));
        }
        auto [a, b] = co_await gather(kids_[0], kids_[1]);
        sum_[who] = a + b;
    }
    task<> when_parked() override {
        EXPECT_TRUE(co_await parked_on(kids_[0], "event.wait"));
        EXPECT_TRUE(co_await parked_on(kids_[1], "event.wait"));
    }
    // The gather ends with the first child's cancellation; the other one
    // ends soon after.
    task<> check_after_cancel() override {
        for (int i = 0; i < 2; ++i) {
            EXPECT_TRUE(co_await settles(kids_[i])) << "child " << i << " left running";
            EXPECT_TRUE(kids_[i].cancelled()) << "child " << i;
            EXPECT_TRUE(log_[i].saw_cancel) << "child " << i;
        }
    }
    task<> check_after_pending() override {
        for (int i = 0; i < 2; ++i) {
            EXPECT_TRUE(co_await settles(kids_[i])) << "child " << i << " left running";
            EXPECT_TRUE(kids_[i].cancelled()) << "child " << i;
            EXPECT_FALSE(log_[i].started) << "child " << i << " ran";
        }
    }
    task<> prepare_wake() override {
        prepared_ = true;
        kids_[0] = create_task(logged_child(go_, 1, log_[0]));
        kids_[1] = create_task(logged_child(go_, 2, log_[1]));
        std::vector<task_handle<int>> both{kids_[0], kids_[1]};
        first_ = create_task(wait_all(std::move(both)));
        EXPECT_TRUE(co_await parked_on(first_, "wait"));
    }
    task<> wake() override {
        go_.set();
        co_return;
    }
    task<> check_handover() override {
        EXPECT_EQ(sum_[2], 3);
        co_await first_;
        for (int i = 0; i < 2; ++i) EXPECT_FALSE(kids_[i].cancelled());
    }

    bool prepared_ = false;
    event go_;
    child_log log_[2];
    task_handle<int> kids_[2];
    task_handle<> first_;
    int sum_[3] = {0, 0, 0};
};

// wait() (all_completed) for a task that waits: waiting is cancelled, the
// task is not.
// CPython: test_tasks.py::test_yield_wait_does_not_shield_cancel (a).
class wait_case final : public op_case {
    std::string parked_kind() const override { return "wait"; }
    task<> setup() override {
        kid_ = create_task(logged_child(go_, 4, log_));
        co_return;
    }
    task<> op(int who) override {
        std::vector<task_handle<int>> hs{kid_};
        wait_result<int> r = co_await wait(std::move(hs));
        done_[who] = r.done.size();
    }
    task<> check_after_cancel() override {
        EXPECT_FALSE(kid_.done());
        go_.set();
        EXPECT_EQ(co_await kid_, 4);
        EXPECT_FALSE(log_.saw_cancel);
    }
    task<> prepare_wake() override {
        first_ = create_task(await_handle(kid_));
        EXPECT_TRUE(co_await parked_on(first_, "task"));
    }
    task<> wake() override {
        go_.set();
        co_return;
    }
    task<> check_handover() override {
        EXPECT_EQ(done_[2], 1u);
        EXPECT_EQ(co_await first_, 4);
        EXPECT_FALSE(kid_.cancelled());
    }

    event go_;
    child_log log_;
    task_handle<int> kid_;
    task_handle<int> first_;
    std::size_t done_[3] = {0, 0, 0};
};

// as_completed over two tasks that wait: an awaited next result.
class as_completed_case final : public op_case {
    std::string parked_kind() const override { return "as_completed"; }
    task<> setup() override {
        a_ = create_task(coro_test_util::value_after(go_a_, 1));
        b_ = create_task(coro_test_util::value_after(go_b_, 2));
        range_.emplace(as_completed(std::vector<task_handle<int>>{a_, b_}));
        co_return;
    }
    task<> op(int who) override {
        auto next = *range_->begin();
        got_[who] = co_await next;
    }
    task<> check_after_cancel() override {
        // The first result goes to a fresh await, not to the dead one.
        go_a_.set();
        auto first = *range_->begin();
        EXPECT_EQ(co_await first, 1);
        go_b_.set();
        auto second = *range_->begin();
        EXPECT_EQ(co_await second, 2);
    }
    task<> wake() override {
        go_a_.set(); // a finishes: its index is handed to waiter 1
        co_return;
    }
    task<> check_handover() override {
        EXPECT_EQ(got_[2], 1);
        go_b_.set();
        auto last = *range_->begin();
        EXPECT_EQ(co_await last, 2);
    }
    task<> teardown() override {
        go_a_.set();
        go_b_.set();
        co_await a_;
        co_await b_;
    }

    event go_a_, go_b_;
    task_handle<int> a_, b_;
    std::optional<as_completed_range<int>> range_;
    int got_[3] = {0, 0, 0};
};

// shield(inner) of a task that waits: the shield's waiter is cancelled,
// the inner task is not.
// CPython: test_tasks.py::test_shield_cancel_outer, test_shield_effect (a).
class shield_case final : public op_case {
    std::string parked_kind() const override { return "shield"; }
    task<> setup() override {
        inner_ = create_task(logged_child(go_, 9, log_));
        co_return;
    }
    task<> op(int who) override { got_[who] = co_await shield(inner_); }
    task<> check_after_cancel() override {
        EXPECT_FALSE(inner_.done());
        EXPECT_FALSE(log_.saw_cancel);
        go_.set();
        EXPECT_EQ(co_await inner_, 9);
    }
    task<> prepare_wake() override {
        first_ = create_task(await_handle(inner_));
        EXPECT_TRUE(co_await parked_on(first_, "task"));
    }
    task<> wake() override {
        go_.set();
        co_return;
    }
    task<> check_handover() override {
        EXPECT_EQ(got_[2], 9);
        EXPECT_EQ(co_await first_, 9);
        EXPECT_FALSE(inner_.cancelled());
    }

    event go_;
    child_log log_;
    task_handle<int> inner_;
    task_handle<int> first_;
    int got_[3] = {0, 0, 0};
};

// task_group::scope whose body starts two children that wait, then returns:
// the scope waits for the children.
// CPython: test_taskgroups.py::test_cancellation, test_taskgroup_07 (a).
class task_group_case final : public op_case {
    std::string parked_kind() const override { return "task_group"; }
    task<> op(int who) override {
        auto body = [this, who](task_group& g) -> task<> {
            kids_[who][0] = g.create_task(logged_child(go_, 1, log_[who][0]));
            kids_[who][1] = g.create_task(logged_child(go_, 2, log_[who][1]));
            co_return;
        };
        co_await task_group::scope(body);
    }
    task<> when_parked() override {
        EXPECT_TRUE(co_await parked_on(kids_[1][0], "event.wait"));
        EXPECT_TRUE(co_await parked_on(kids_[1][1], "event.wait"));
    }
    task<> check_after_cancel() override {
        for (int i = 0; i < 2; ++i) {
            EXPECT_TRUE(kids_[1][i].cancelled()) << "child " << i;
            EXPECT_TRUE(log_[1][i].saw_cancel) << "child " << i;
        }
        co_return;
    }
    task<> check_after_pending() override {
        for (int i = 0; i < 2; ++i) {
            EXPECT_TRUE(kids_[1][i].cancelled()) << "child " << i << " left running";
            EXPECT_FALSE(log_[1][i].started) << "child " << i << " ran";
        }
        co_return;
    }
    task<> wake() override {
        go_.set();
        co_return;
    }
    task<> check_handover() override {
        // Every child finished normally, in both groups; only the scope of
        // waiter 1 was cancelled, after the last of its children ended.
        for (int who = 1; who <= 2; ++who) {
            for (int i = 0; i < 2; ++i) {
                EXPECT_TRUE(kids_[who][i].done());
                EXPECT_FALSE(kids_[who][i].cancelled());
                EXPECT_EQ(kids_[who][i].result(), i + 1);
            }
        }
        co_return;
    }

    event go_;
    child_log log_[3][2];
    task_handle<int> kids_[3][2];
};

// co_await of a task_handle whose task waits.
// CPython: test_tasks.py::test_yield_future_passes_cancel (a).
class handle_case final : public op_case {
    std::string parked_kind() const override { return "task"; }
    task<> setup() override {
        target_ = create_task(logged_child(go_, 7, log_));
        co_return;
    }
    task<> op(int who) override { got_[who] = co_await target_; }
    task<> check_after_cancel() override {
        EXPECT_TRUE(target_.cancelled()) << "the awaited task was not cancelled";
        EXPECT_TRUE(log_.saw_cancel);
        co_return;
    }
    task<> prepare_wake() override {
        first_ = create_task(await_handle(target_));
        EXPECT_TRUE(co_await parked_on(first_, "task"));
    }
    task<> wake() override {
        go_.set();
        co_return;
    }
    task<> check_handover() override {
        EXPECT_EQ(got_[2], 7);
        EXPECT_EQ(co_await first_, 7);
        EXPECT_FALSE(target_.cancelled()); // done before the cancel: not touched
        EXPECT_EQ(target_.result(), 7);
    }

    event go_;
    child_log log_;
    task_handle<int> target_;
    task_handle<int> first_;
    int got_[3] = {0, 0, 0};
};

// co_await future<int>. As in asyncio, cancelling a task that awaits a
// future cancels the future, and so does a cancellation pending when the
// await begins (Task.__step cancels the future it is handed). set_result
// wakes every awaiter through the ready queue.
// CPython: test_tasks.py::test_cancel_inner_future (a), test_cancel_current_task (b).
class future_case final : public op_case {
    std::string parked_kind() const override { return "future"; }
    task<> setup() override {
        f_ = create_future<int>();
        co_return;
    }
    task<> op(int who) override { got_[who] = co_await f_; }
    task<> check_after_cancel() override {
        EXPECT_TRUE(f_.cancelled()) << "the awaited future was not cancelled";
        co_return;
    }
    task<> wake() override {
        f_.set_result(7);
        co_return;
    }
    task<> check_handover() override {
        EXPECT_EQ(got_[2], 7);
        EXPECT_FALSE(f_.cancelled()); // done before the cancel: not touched
        EXPECT_EQ(f_.result(), 7);
        co_return;
    }

    future<int> f_;
    int got_[3] = {0, 0, 0};
};

// process::wait() of a child that does not exit by itself. Cancelling the
// wait leaves the child running (asyncio). (c) is n/a: libuv's exit
// callback resumes the waiter inline.
// CPython: test_subprocess.py::test_cancel_process_wait.
class process_wait_case final : public op_case {
    std::string parked_kind() const override { return "process.wait"; }
    task<> setup() override {
        std::vector<std::string> args{"1000"};
        p_ = co_await create_subprocess_exec("sleep", std::move(args));
    }
    task<> op(int) override { (void)co_await p_.wait(); }
    task<> check_after_cancel() override {
        EXPECT_EQ(p_.returncode(), std::nullopt) << "cancelling the wait ended the child";
        co_return;
    }
    task<> teardown() override {
        if (!p_.valid()) co_return;
        if (!p_.returncode()) p_.kill();
        EXPECT_EQ(co_await p_.wait(), -SIGKILL); // a fresh wait is served
    }

    process p_;
};

// wait_signal(SIGUSR1). (c) is n/a: libuv's signal callback resumes the
// task inline.
class signal_case final : public op_case {
    std::string parked_kind() const override { return "wait_signal"; }
    task<> op(int) override { (void)co_await wait_signal(SIGUSR1); }
    task<> check_after_cancel() override {
        // The signal's next arrival goes to a fresh waiter.
        task_handle<int> fresh = create_task(wait_signal(SIGUSR1));
        const bool parked = co_await parked_on(fresh, "wait_signal");
        EXPECT_TRUE(parked);
        if (!parked) {
            co_await stop_waiter(fresh);
            co_return;
        }
        std::raise(SIGUSR1);
        EXPECT_EQ(co_await fresh, SIGUSR1);
    }
};

// ---- the parametrised tests ----------------------------------------------------

struct op_kind;
void PrintTo(const op_kind& k, std::ostream* os);

struct op_kind {
    const char* name;
    std::function<std::unique_ptr<op_case>()> make;
    bool parks = true;   // (a) applies
    bool woken = false;  // (c) applies
};

template <class C, class... Args> std::function<std::unique_ptr<op_case>()> make(Args... args) {
    return [=] { return std::unique_ptr<op_case>(new C(args...)); };
}

const std::vector<op_kind>& all_kinds() {
    static const std::vector<op_kind> kinds = {
        {"sleep", make<sleep_case>()},
        {"sleep0", make<sleep0_case>(), false, false},
        {"read_n", make<read_case>(read_kind::some)},
        {"read_span", make<read_case>(read_kind::span)},
        {"readline", make<read_case>(read_kind::line)},
        {"readuntil", make<read_case>(read_kind::until)},
        {"readexactly", make<read_case>(read_kind::exactly)},
        {"drain", make<drain_case>()},
        {"connect", make<connect_case>()},
        {"getaddrinfo", make<getaddrinfo_case>()},
        {"getnameinfo", make<getnameinfo_case>()},
        {"recvfrom", make<recvfrom_case>()},
        {"lock", make<lock_case>(), true, true},
        {"semaphore", make<semaphore_case>(), true, true},
        {"event", make<event_case>(), true, true},
        {"condition", make<condition_case>(), true, true},
        {"barrier", make<barrier_case>(), true, true},
        {"queue_get", make<queue_get_case>(), true, true},
        {"queue_put", make<queue_put_case>(), true, true},
        {"to_thread", make<executor_case>(true)},
        {"run_in_executor", make<executor_case>(false)},
        {"wait_for", make<wait_for_case>(false), true, true},
        {"wait_until", make<wait_for_case>(true), true, true},
        {"gather", make<gather_case>(), true, true},
        {"wait", make<wait_case>(), true, true},
        {"as_completed", make<as_completed_case>(), true, true},
        {"shield", make<shield_case>(), true, true},
        {"task_group", make<task_group_case>(), true, true},
        {"task_handle", make<handle_case>(), true, true},
        {"future", make<future_case>(), true, true},
        {"process_wait", make<process_wait_case>()},
        {"wait_signal", make<signal_case>()},
    };
    return kinds;
}

std::vector<op_kind> kinds_where(bool op_kind::*flag) {
    std::vector<op_kind> out;
    for (const op_kind& k : all_kinds())
        if (!flag || k.*flag) out.push_back(k);
    return out;
}

void PrintTo(const op_kind& k, std::ostream* os) { *os << k.name; }

std::string kind_name(const testing::TestParamInfo<op_kind>& info) { return info.param.name; }

// Runs `scenario` on a loop of its own (run_checked: nothing may be left
// armed or open, nothing reported to the loop's exception handler).
void run_scenario(task<> (*scenario)(op_case&), const op_kind& k) {
    std::unique_ptr<op_case> c = k.make();
    expect_no_reports(run_checked(scenario(*c)));
}

class ParkedOperation : public testing::TestWithParam<op_kind> {};
class PendingCancellation : public testing::TestWithParam<op_kind> {};
class WokenOperation : public testing::TestWithParam<op_kind> {};

// (a) Cancelled while parked: cancelled_error at that co_await, the task
// ends cancelled, nothing of it is left linked.
TEST_P(ParkedOperation, CancelledEndsTheTaskCancelledAndLeavesNothingLinked) {
    run_scenario(&cancelled_while_parked, GetParam());
}

// (b) A cancellation pending when the await begins is delivered there.
// CPython: test_tasks.py::test_cancel_current_task.
TEST_P(PendingCancellation, IsDeliveredAtTheAwait) { run_scenario(&cancellation_pending, GetParam()); }

// (c) Cancelled after being woken and before resuming: cancelled_error, and
// what was handed over goes to the next waiter.
TEST_P(WokenOperation, CancelledBeforeResumingPassesTheWakeUpOn) {
    run_scenario(&cancelled_after_woken, GetParam());
}

INSTANTIATE_TEST_SUITE_P(Every, ParkedOperation, testing::ValuesIn(kinds_where(&op_kind::parks)), kind_name);
INSTANTIATE_TEST_SUITE_P(Every, PendingCancellation, testing::ValuesIn(kinds_where(nullptr)), kind_name);
INSTANTIATE_TEST_SUITE_P(ReadyQueueWoken, WokenOperation, testing::ValuesIn(kinds_where(&op_kind::woken)), kind_name);

} // namespace
