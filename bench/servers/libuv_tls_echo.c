/*
 * libuv_tls_echo --port N --cert FILE --key FILE: the TLS echo ceiling, raw
 * libuv callbacks with OpenSSL between two memory BIOs (the arrangement
 * uvasync uses): ciphertext read from the socket goes into the input BIO,
 * SSL_read's plaintext is SSL_write'n straight back, and the output BIO's
 * ciphertext goes out with uv_try_write, the rest with one uv_write. TLS 1.3
 * with TLS_AES_128_GCM_SHA256 only.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define BUF_SIZE (64 * 1024)

typedef struct conn {
    uv_tcp_t tcp;
    SSL *ssl;
    BIO *in, *out;
    int writing; /* a uv_write is in flight: reading is stopped meanwhile */
    char *pending; /* its bytes */
} conn;

static uv_loop_t *loop;
static uv_tcp_t server;
static SSL_CTX *ctx;
static char readbuf[BUF_SIZE];   /* ciphertext from the socket */
static char plainbuf[BUF_SIZE];  /* plaintext out of SSL_read */
static char cipherbuf[BUF_SIZE]; /* ciphertext for the socket */

static void on_close(uv_handle_t *h) {
    conn *c = (conn *)h;
    SSL_free(c->ssl);
    free(c->pending);
    free(c);
}

static void conn_close(conn *c) {
    if (!uv_is_closing((uv_handle_t *)&c->tcp)) uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    (void)h;
    (void)suggested;
    buf->base = readbuf;
    buf->len = BUF_SIZE;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void on_write(uv_write_t *req, int status) {
    conn *c = req->data;
    free(req);
    free(c->pending);
    c->pending = NULL;
    c->writing = 0;
    if (status < 0 || uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) conn_close(c);
}

/* the output BIO's ciphertext to the socket */
static void flush(conn *c) {
    int n;
    while ((n = BIO_read(c->out, cipherbuf, BUF_SIZE)) > 0) {
        uv_buf_t b = uv_buf_init(cipherbuf, (unsigned)n);
        int sent = c->writing ? UV_EAGAIN : uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        if (sent == n) continue;
        if (sent < 0 && sent != UV_EAGAIN) {
            conn_close(c);
            return;
        }
        if (sent < 0) sent = 0;
        /* rare (the socket is full): one queued write, reading paused */
        size_t rest = (size_t)(n - sent) + BIO_ctrl_pending(c->out);
        char *p = realloc(c->pending, rest);
        memcpy(p, cipherbuf + sent, (size_t)(n - sent));
        BIO_read(c->out, p + (n - sent), (int)(rest - (size_t)(n - sent)));
        if (c->writing) { /* (not reached: reading stops while writing) */
            free(p);
            conn_close(c);
            return;
        }
        c->pending = p;
        uv_write_t *req = malloc(sizeof *req);
        req->data = c;
        b = uv_buf_init(p, (unsigned)rest);
        c->writing = 1;
        uv_read_stop((uv_stream_t *)&c->tcp);
        if (uv_write(req, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0) {
            free(req);
            conn_close(c);
        }
        return;
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    conn *c = (conn *)s;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    if (nread == 0) return;
    BIO_write(c->in, buf->base, (int)nread);
    if (!SSL_is_init_finished(c->ssl)) {
        int r = SSL_do_handshake(c->ssl);
        if (r != 1 && SSL_get_error(c->ssl, r) != SSL_ERROR_WANT_READ) {
            ERR_clear_error();
            flush(c);
            conn_close(c);
            return;
        }
        if (r != 1) {
            flush(c);
            return;
        }
    }
    for (;;) {
        int n = SSL_read(c->ssl, plainbuf, BUF_SIZE);
        if (n <= 0) {
            int e = SSL_get_error(c->ssl, n);
            if (e != SSL_ERROR_WANT_READ) {
                ERR_clear_error();
                flush(c);
                conn_close(c);
                return;
            }
            break;
        }
        SSL_write(c->ssl, plainbuf, n);
    }
    flush(c);
}

static void on_connection(uv_stream_t *srv, int status) {
    if (status < 0) return;
    conn *c = calloc(1, sizeof(conn));
    uv_tcp_init(loop, &c->tcp);
    c->ssl = SSL_new(ctx);
    c->in = BIO_new(BIO_s_mem());
    c->out = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(c->in, -1);
    BIO_set_mem_eof_return(c->out, -1);
    SSL_set_bio(c->ssl, c->in, c->out);
    SSL_set_accept_state(c->ssl);
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

int main(int argc, char **argv) {
    int port = 0;
    const char *cert = NULL, *key = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--cert")) cert = argv[i + 1];
        else if (!strcmp(argv[i], "--key")) key = argv[i + 1];
    }
    if (port <= 0 || port > 65535 || !cert || !key) {
        fprintf(stderr, "usage: %s --port N --cert FILE --key FILE\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256");
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        fprintf(stderr, "libuv_tls_echo: cannot load %s / %s\n", cert, key);
        return 1;
    }
    loop = uv_default_loop();
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", port, &addr);
    uv_tcp_init(loop, &server);
    int r = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
    if (r == 0) r = uv_listen((uv_stream_t *)&server, 4096, on_connection);
    if (r != 0) {
        fprintf(stderr, "libuv_tls_echo: listen on 127.0.0.1:%d: %s\n", port, uv_strerror(r));
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
