/* push_load: the load of the push-service benchmark (bench/programs/push_bench.py).
 *
 *   push_load --port P --redis-port R [--subscribers 1000] [--seconds 3]
 *             [--window 100] [--size 64]
 *
 * Connects --subscribers clients to the push service (examples/push_service
 * or its Python original), each subscribed to channel "bench", then
 * PUBLISHes messages on Redis for --seconds: "<seq> <send time ns>" padded to
 * --size bytes, with at most --window messages not yet delivered to every
 * subscriber (closed loop, below the service's per-client queue bound, so
 * that nobody is dropped). Each delivery's latency is receive time minus send
 * time (CLOCK_MONOTONIC, one clock: client and publisher are this process).
 * Prints one JSON object: deliveries/s (message x subscriber), messages/s,
 * latency percentiles in us, errors. One thread, epoll.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_MESSAGES (1u << 22)
#define LATENCY_BUCKETS 2000000 /* 1 us each, up to 2 s; later ones count in the last */

struct conn {
    int fd;
    size_t len;
    char buf[65536];
};

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char* what) {
    fprintf(stderr, "push_load: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int connect_to(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr*)&a, sizeof a) != 0) die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void write_all(int fd, const char* p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) die("write");
        p += w;
        n -= (size_t)w;
    }
}

int main(int argc, char** argv) {
    int port = 0, redis_port = 0, subscribers = 1000, window = 100, size = 64;
    double seconds = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--redis-port")) redis_port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--subscribers")) subscribers = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seconds")) seconds = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--window")) window = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--size")) size = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "push_load: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (!port || !redis_port || subscribers <= 0 || window <= 0 || size < 32 || size > 60000) {
        fprintf(stderr, "usage: push_load --port P --redis-port R [--subscribers N] [--seconds S] [--window W] [--size B]\n");
        return 2;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    struct conn* conns = calloc((size_t)subscribers, sizeof *conns);
    uint16_t* delivered = calloc(MAX_MESSAGES, sizeof *delivered);
    uint64_t* latency = calloc(LATENCY_BUCKETS, sizeof *latency);
    if (!conns || !delivered || !latency) die("calloc");
    int ep = epoll_create1(0);
    static const char subscribe[] = "{\"action\":\"subscribe\",\"channel\":\"bench\"}\n";
    for (int i = 0; i < subscribers; ++i) {
        struct conn* c = &conns[i];
        c->fd = connect_to(port);
        write_all(c->fd, subscribe, sizeof subscribe - 1);
        char reply[256];
        size_t got = 0;
        while (got == 0 || reply[got - 1] != '\n') { /* the "subscribed" answer */
            ssize_t r = read(c->fd, reply + got, sizeof reply - 1 - got);
            if (r <= 0) die("read subscribe reply");
            got += (size_t)r;
        }
        reply[got] = 0;
        if (!strstr(reply, "subscribed")) {
            fprintf(stderr, "push_load: unexpected reply %s", reply);
            return 1;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) die("epoll_ctl");
    }
    int redis = connect_to(redis_port);
    struct epoll_event rev = {.events = EPOLLIN, .data.u32 = (uint32_t)subscribers};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, redis, &rev) != 0) die("epoll_ctl");

    uint32_t published = 0, completed = 0;
    uint64_t deliveries = 0, errors = 0, replies = 0;
    char payload[65536], command[66000];
    const uint64_t start = now_ns(), deadline = start + (uint64_t)(seconds * 1e9);
    uint64_t finish = start, last_progress = start;
    int publishing = 1;
    struct epoll_event evs[256];
    for (;;) {
        uint64_t t = now_ns();
        if (publishing && t >= deadline) publishing = 0;
        while (publishing && published - completed < (uint32_t)window && published < MAX_MESSAGES) {
            int n = snprintf(payload, sizeof payload, "%u %llu ", published, (unsigned long long)now_ns());
            memset(payload + n, 'x', (size_t)(size - n));
            int m = snprintf(command, sizeof command, "*3\r\n$7\r\nPUBLISH\r\n$5\r\nbench\r\n$%d\r\n", size);
            memcpy(command + m, payload, (size_t)size);
            memcpy(command + m + size, "\r\n", 2);
            write_all(redis, command, (size_t)(m + size + 2));
            ++published;
        }
        if (!publishing && completed == published) break;
        int n = epoll_wait(ep, evs, 256, 1000);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) die("epoll_wait");
        t = now_ns();
        if (n > 0) last_progress = t;
        else if (t - last_progress > 10000000000ull) {
            fprintf(stderr, "push_load: no progress for 10 s (%u of %u messages delivered to all)\n", completed,
                    published);
            return 1;
        }
        for (int k = 0; k < n; ++k) {
            uint32_t id = evs[k].data.u32;
            if (id == (uint32_t)subscribers) { /* PUBLISH replies: ":<receivers>\r\n" */
                char sink[65536];
                ssize_t r = recv(redis, sink, sizeof sink, MSG_DONTWAIT);
                if (r == 0) {
                    fprintf(stderr, "push_load: redis closed the connection\n");
                    return 1;
                }
                for (ssize_t j = 0; j < r; ++j) replies += sink[j] == ':';
                continue;
            }
            struct conn* c = &conns[id];
            ssize_t r = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, MSG_DONTWAIT);
            if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (r <= 0) {
                fprintf(stderr, "push_load: subscriber %u lost its connection\n", id);
                return 1;
            }
            c->len += (size_t)r;
            char* p = c->buf;
            char* end = c->buf + c->len;
            char* nl;
            while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
                *nl = 0;
                char* d = strstr(p, "\"data\":\"");
                if (d) {
                    char* q;
                    unsigned long seq = strtoul(d + 8, &q, 10);
                    unsigned long long sent = strtoull(q, NULL, 10);
                    uint64_t us = (t - sent) / 1000;
                    ++latency[us < LATENCY_BUCKETS ? us : LATENCY_BUCKETS - 1];
                    ++deliveries;
                    if (seq < MAX_MESSAGES && ++delivered[seq] == (uint16_t)subscribers) {
                        ++completed;
                        finish = t;
                    }
                } else {
                    ++errors;
                }
                p = nl + 1;
            }
            c->len = (size_t)(end - p);
            memmove(c->buf, p, c->len);
        }
    }
    const double elapsed = (double)(finish - start) / 1e9;
    double pct[4] = {0.5, 0.9, 0.99, 0.999};
    uint64_t at[4] = {0};
    uint64_t seen = 0;
    int next = 0;
    for (uint64_t us = 0; us < LATENCY_BUCKETS && next < 4; ++us) {
        seen += latency[us];
        while (next < 4 && seen >= (uint64_t)(pct[next] * (double)deliveries) && deliveries) at[next++] = us;
    }
    printf("{\"subscribers\": %d, \"messages\": %u, \"deliveries\": %llu, \"seconds\": %.4f, "
           "\"deliveries_per_s\": %.0f, \"messages_per_s\": %.1f, \"p50_us\": %llu, \"p90_us\": %llu, "
           "\"p99_us\": %llu, \"p999_us\": %llu, \"window\": %d, \"size\": %d, \"publish_replies\": %llu, "
           "\"errors\": %llu}\n",
           subscribers, published, (unsigned long long)deliveries, elapsed, (double)deliveries / elapsed,
           (double)completed / elapsed, (unsigned long long)at[0], (unsigned long long)at[1],
           (unsigned long long)at[2], (unsigned long long)at[3], window, size, (unsigned long long)replies,
           (unsigned long long)errors);
    return 0;
}
