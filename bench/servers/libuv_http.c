/*
 * libuv_http: minimal single-threaded HTTP/1.1 keep-alive "hello" server on
 * raw libuv callbacks.
 *
 *   libuv_http --port N
 *
 * A request ends at "\r\n\r\n" (request bodies are not supported: benchmark
 * clients send GETs).  Every complete request in a read is answered, in order,
 * with one write (pipelining).  "GET /health" gets {"status":"ok"} as
 * application/json; anything else gets "Hello, World!" as text/plain.
 * Connections stay open until the client closes them.
 *
 * Each connection owns an input buffer (grown only for a header block larger
 * than 16 KiB, up to 64 KiB) and an output buffer; the response goes out with
 * uv_try_write, and any remainder through uv_write with a request from a free
 * list while reading is paused.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#define IN_INITIAL (16 * 1024)
#define IN_MAX (64 * 1024)

static const char HELLO[] =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 13\r\n"
    "\r\n"
    "Hello, World!";
static const char HEALTH[] =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 15\r\n"
    "\r\n"
    "{\"status\":\"ok\"}";

typedef struct conn {
    uv_tcp_t tcp;
    char *in;
    size_t in_cap, in_used, scan_from;
    char *out;
    size_t out_cap, out_used;
    int writing;
} conn;

typedef struct wreq {
    uv_write_t req;
    conn *c;
    struct wreq *next;
} wreq;

static uv_loop_t *loop;
static uv_tcp_t server;
static wreq *free_reqs;

static wreq *get_req(void) {
    wreq *r = free_reqs;
    if (r) {
        free_reqs = r->next;
        return r;
    }
    return malloc(sizeof(wreq));
}

static void put_req(wreq *r) {
    r->next = free_reqs;
    free_reqs = r;
}

static void on_close(uv_handle_t *h) {
    conn *c = (conn *)h;
    free(c->in);
    free(c->out);
    free(c);
}

static void conn_close(conn *c) {
    if (!uv_is_closing((uv_handle_t *)&c->tcp)) uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    (void)suggested;
    conn *c = (conn *)h;
    if (!c->in) {
        c->in_cap = IN_INITIAL;
        c->in = malloc(c->in_cap);
    }
    if (c->in_used == c->in_cap && c->in_cap < IN_MAX) {
        c->in_cap *= 2;
        c->in = realloc(c->in, c->in_cap);
    }
    buf->base = c->in + c->in_used;
    buf->len = c->in_cap - c->in_used;
}

static void append_out(conn *c, const char *p, size_t n) {
    if (c->out_used + n > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap < c->out_used + n) cap *= 2;
        c->out = realloc(c->out, cap);
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_used, p, n);
    c->out_used += n;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void on_write(uv_write_t *req, int status) {
    wreq *r = (wreq *)req;
    conn *c = r->c;
    put_req(r);
    c->writing = 0;
    c->out_used = 0;
    if (status < 0) {
        conn_close(c);
        return;
    }
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) conn_close(c);
}

static void flush_out(conn *c) {
    uv_buf_t b = uv_buf_init(c->out, (unsigned)c->out_used);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n == (int)c->out_used) {
        c->out_used = 0;
        return;
    }
    if (n < 0 && n != UV_EAGAIN) {
        conn_close(c);
        return;
    }
    size_t done = n > 0 ? (size_t)n : 0;
    wreq *r = get_req();
    r->c = c;
    b = uv_buf_init(c->out + done, (unsigned)(c->out_used - done));
    c->writing = 1;
    uv_read_stop((uv_stream_t *)&c->tcp);
    if (uv_write(&r->req, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0) {
        put_req(r);
        conn_close(c);
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    (void)buf;
    conn *c = (conn *)s;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    if (nread == 0) return;
    c->in_used += (size_t)nread;

    size_t start = 0; /* start of the current request */
    size_t from = c->scan_from;
    for (;;) {
        char *end = memmem(c->in + from, c->in_used - from, "\r\n\r\n", 4);
        if (!end) break;
        size_t req_len = (size_t)(end - (c->in + start)) + 4;
        if (req_len >= 12 && memcmp(c->in + start, "GET /health ", 12) == 0)
            append_out(c, HEALTH, sizeof HEALTH - 1);
        else
            append_out(c, HELLO, sizeof HELLO - 1);
        start += req_len;
        from = start;
    }
    /* keep the unfinished request; rescan only its last 3 bytes + new data */
    if (start > 0) {
        memmove(c->in, c->in + start, c->in_used - start);
        c->in_used -= start;
    }
    c->scan_from = c->in_used > 3 ? c->in_used - 3 : 0;
    if (c->in_used == IN_MAX) {
        conn_close(c); /* header block too large */
        return;
    }
    if (c->out_used > 0) flush_out(c);
}

static void on_connection(uv_stream_t *srv, int status) {
    if (status < 0) return;
    conn *c = calloc(1, sizeof(conn));
    uv_tcp_init(loop, &c->tcp);
    if (uv_accept(srv, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) conn_close(c);
}

static void on_signal(uv_signal_t *h, int signum) {
    (void)h;
    (void)signum;
    uv_stop(loop);
}

static void raise_nofile(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv) {
    int port = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--port") && i + 1 < argc) port = atoi(argv[++i]);
        else port = -1;
    }
    if (port <= 0 || port > 65535) {
        fprintf(stderr, "usage: %s --port N\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    raise_nofile();
    loop = uv_default_loop();

    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", port, &addr);
    uv_tcp_init(loop, &server);
    int r = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
    if (r == 0) r = uv_listen((uv_stream_t *)&server, 4096, on_connection);
    if (r != 0) {
        fprintf(stderr, "libuv_http: listen on 127.0.0.1:%d: %s\n", port, uv_strerror(r));
        return 1;
    }

    uv_signal_t sigterm, sigint;
    uv_signal_init(loop, &sigterm);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_init(loop, &sigint);
    uv_signal_start(&sigint, on_signal, SIGINT);
    uv_unref((uv_handle_t *)&sigterm);
    uv_unref((uv_handle_t *)&sigint);

    uv_run(loop, UV_RUN_DEFAULT);
    return 0;
}
