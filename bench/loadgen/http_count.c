/*
 * http_count: sends exactly N keep-alive GET requests over C connections,
 * one in flight per connection (as wrk does), then exits.  For measuring a
 * server's instructions per request under callgrind: run it twice with
 * different N against fresh servers and divide the difference in
 * instructions by the difference in N (start-up and shutdown cancel out).
 *
 *   http_count --port P [--requests 10000] [--conns 100] [--path /] [--post BYTES]
 *
 * --post BYTES sends POST <path> with a JSON body of that size instead.
 * Responses must carry Content-Length.  Prints "<requests> <seconds>";
 * exits 1 on a connection error or an unexpected response.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    int fd;
    char buf[65536];
    size_t used;
} conn;

static long sent, done, total;
static char *request;
static size_t request_len;

static int send_one(conn *c) {
    if (sent >= total) return 0;
    sent++;
    return write(c->fd, request, request_len) == (ssize_t)request_len ? 0 : -1;
}

/* Consumes complete responses from c->buf; returns how many, -1 on error. */
static int consume(conn *c) {
    int n = 0;
    for (;;) {
        char *end = memmem(c->buf, c->used, "\r\n\r\n", 4);
        if (!end) return n;
        if (c->used < 12 || memcmp(c->buf, "HTTP/1.1 200", 12) != 0) return -1;
        char *cl = memmem(c->buf, (size_t)(end - c->buf), "Content-Length: ", 16);
        if (!cl) return -1;
        size_t len = (size_t)strtoul(cl + 16, NULL, 10);
        size_t whole = (size_t)(end - c->buf) + 4 + len;
        if (c->used < whole) return n;
        memmove(c->buf, c->buf + whole, c->used - whole);
        c->used -= whole;
        n++;
    }
}

int main(int argc, char **argv) {
    int port = 0, conns = 100;
    const char *path = "/";
    long post = -1;
    total = 10000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--requests")) total = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--conns")) conns = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--path")) path = argv[i + 1];
        else if (!strcmp(argv[i], "--post")) post = atol(argv[i + 1]);
    }
    if (port <= 0 || conns <= 0 || total <= 0) {
        fprintf(stderr, "usage: %s --port P [--requests N] [--conns C] [--path /]\n", argv[0]);
        return 2;
    }
    request = malloc(1024 + (post > 0 ? (size_t)post : 0));
    if (post < 0) {
        request_len = (size_t)sprintf(request, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", path, port);
    } else {
        request_len = (size_t)sprintf(request,
                                      "POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
                                      "Content-Length: %ld\r\n\r\n",
                                      path, port, post);
        /* a JSON array of numbers, padded with spaces to the size asked */
        char *b = request + request_len;
        long n = 0;
        if (post >= 2) {
            b[n++] = '[';
            while (n + 6 < post) n += sprintf(b + n, "%ld,", n % 1000);
            if (b[n - 1] == ',') n--;
            b[n++] = ']';
        }
        while (n < post) b[n++] = ' ';
        request_len += (size_t)post;
    }
    int ep = epoll_create1(0);
    conn *cs = calloc((size_t)conns, sizeof(conn));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < conns; i++) {
        struct sockaddr_in a = {0};
        a.sin_family = AF_INET;
        a.sin_port = htons((unsigned short)port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        cs[i].fd = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(cs[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(cs[i].fd, (struct sockaddr *)&a, sizeof a) != 0) {
            perror("connect");
            return 1;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
        if (send_one(&cs[i]) < 0) return 1;
    }
    struct epoll_event evs[256];
    while (done < total) {
        int n = epoll_wait(ep, evs, 256, 10000);
        if (n <= 0) {
            fprintf(stderr, "http_count: no progress (%ld of %ld done)\n", done, total);
            return 1;
        }
        for (int i = 0; i < n; i++) {
            conn *c = evs[i].data.ptr;
            ssize_t r = read(c->fd, c->buf + c->used, sizeof c->buf - c->used);
            if (r <= 0) {
                fprintf(stderr, "http_count: connection closed or failed (%s)\n", r < 0 ? strerror(errno) : "EOF");
                return 1;
            }
            c->used += (size_t)r;
            int got = consume(c);
            if (got < 0) {
                fprintf(stderr, "http_count: unexpected response: %.60s\n", c->buf);
                return 1;
            }
            for (int k = 0; k < got; k++) {
                done++;
                if (send_one(c) < 0) return 1;
            }
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%ld %.4f\n", done, (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    return 0;
}
