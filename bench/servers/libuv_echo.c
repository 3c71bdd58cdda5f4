/*
 * libuv_echo: single-threaded TCP echo server on raw libuv callbacks.
 * The ceiling the other implementations are compared against.
 *
 *   libuv_echo --port N [--line]
 *
 * Default: every byte read is written back.  --line: only complete lines
 * (through the last '\n' received) are written back; a partial line waits for
 * its end, as a readline() loop would.
 *
 * Steady state allocates nothing: each connection owns one 64 KiB read buffer
 * (allocated at its first read), the echo is first tried with uv_try_write,
 * and whatever the socket does not take at once goes out through uv_write with
 * a request from a free list while reading is paused (back-pressure).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#define BUF_SIZE (64 * 1024)

typedef struct conn {
    uv_tcp_t tcp;
    char *buf;
    size_t used;      /* bytes held in buf (partial line in --line mode) */
    int writing;      /* a uv_write from buf is in flight */
} conn;

typedef struct wreq {
    uv_write_t req;
    conn *c;
    size_t len;       /* bytes of buf this write covers */
    struct wreq *next;
} wreq;

static uv_loop_t *loop;
static uv_tcp_t server;
static wreq *free_reqs;
static int line_mode;

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
    free(c->buf);
    free(c);
}

static void conn_close(conn *c) {
    if (!uv_is_closing((uv_handle_t *)&c->tcp)) uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    (void)suggested;
    conn *c = (conn *)h;
    if (!c->buf) c->buf = malloc(BUF_SIZE);
    buf->base = c->buf + c->used;
    buf->len = BUF_SIZE - c->used;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* drop the first n bytes of the buffer (the part that was echoed) */
static void consume(conn *c, size_t n) {
    if (n < c->used) memmove(c->buf, c->buf + n, c->used - n);
    c->used -= n;
}

static void on_write(uv_write_t *req, int status) {
    wreq *r = (wreq *)req;
    conn *c = r->c;
    size_t len = r->len;
    put_req(r);
    c->writing = 0;
    if (status < 0) {
        conn_close(c);
        return;
    }
    consume(c, len);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) conn_close(c);
}

/* echo buf[0, len) and then drop it from the buffer */
static void echo(conn *c, size_t len) {
    uv_buf_t b = uv_buf_init(c->buf, (unsigned)len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n == (int)len) {
        consume(c, len);
        return;
    }
    if (n < 0 && n != UV_EAGAIN) {
        conn_close(c);
        return;
    }
    size_t done = n > 0 ? (size_t)n : 0;
    consume(c, done);
    len -= done;
    /* the rest goes through a queued write; the buffer is busy until then */
    wreq *r = get_req();
    r->c = c;
    r->len = len;
    b = uv_buf_init(c->buf, (unsigned)len);
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
    c->used += (size_t)nread;
    if (!line_mode) {
        echo(c, c->used);
        return;
    }
    /* line mode: echo through the last newline; look only at the new bytes */
    char *start = c->buf + c->used - (size_t)nread;
    char *last = NULL;
    for (char *p = c->buf + c->used; p > start;) {
        --p;
        if (*p == '\n') {
            last = p;
            break;
        }
    }
    if (last) {
        echo(c, (size_t)(last - c->buf) + 1);
    } else if (c->used == BUF_SIZE) {
        conn_close(c); /* line longer than the buffer */
    }
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

static int parse_port(int argc, char **argv) {
    int port = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--port") && i + 1 < argc) port = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--line")) line_mode = 1;
        else {
            fprintf(stderr, "usage: %s --port N [--line]\n", argv[0]);
            exit(2);
        }
    }
    if (port <= 0 || port > 65535) {
        fprintf(stderr, "usage: %s --port N [--line]\n", argv[0]);
        exit(2);
    }
    return port;
}

int main(int argc, char **argv) {
    int port = parse_port(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    raise_nofile();
    loop = uv_default_loop();

    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", port, &addr);
    uv_tcp_init(loop, &server);
    int r = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
    if (r == 0) r = uv_listen((uv_stream_t *)&server, 4096, on_connection);
    if (r != 0) {
        fprintf(stderr, "libuv_echo: listen on 127.0.0.1:%d: %s\n", port, uv_strerror(r));
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
