/*
 * loadgen: single-threaded epoll load client for the uvasync benchmark suite.
 *
 * Modes
 *   echo  N connections each sending S-byte messages and waiting for the same
 *         S bytes back; --pipeline K keeps K messages in flight per connection
 *         (K = 1 is ping-pong).  A "request" is S bytes sent and S bytes
 *         received back.
 *   line  like echo, but each message is S-1 payload bytes followed by '\n'
 *         (for readline-style echo servers).
 *   idle  open N connections, hold them for --hold seconds, close them.  With
 *         --server-pid it waits until the server has accepted every
 *         connection (its fd count grew by N), lets it settle, and reports
 *         the server's RSS growth per connection.
 *   burst N connections come and go: each is opened, sends one S-byte
 *         message and waits for its echo, all N are held until every echo is
 *         back (the peak), then all are closed.  With --server-pid it reads
 *         the server's VmRSS before, at the peak and, once the server has
 *         closed them all (its fd count is back), every 250 ms for --hold
 *         seconds of idleness.
 *
 * Output: one JSON object on stdout.  Nothing else is printed on stdout.
 * With --server-pid the server's utime/stime (from /proc/PID/stat) are read
 * at the start and at the end of the measured window and reported.  In echo
 * and line modes the run ends by letting every request in flight come back
 * (at most 2 s) before closing: "requests_total" then counts every request
 * the server answered over the whole run, warm-up included (the callgrind
 * cases divide the server's instructions by it).
 *
 * --tls (echo and line modes): every connection is TLS 1.3 with
 * TLS_AES_128_GCM_SHA256 (OpenSSL; the server's certificate is not
 * verified); the handshake happens before a connection counts as open, and
 * a request is S plaintext bytes each way.
 *
 * --reconnect (echo mode, pipeline 1): each connection carries one message,
 * then closes (after a close_notify with --tls) and a new one is opened in
 * its place; a request is then connect + handshake + one echo, its latency
 * measured from connect(). With --tls every handshake is a full one: the
 * client keeps no sessions, so nothing is resumed.
 *
 * Latency is recorded per request in a log-linear histogram (32 sub-buckets
 * per power of two, ~3% resolution); no allocation per request.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

/* ---------------------------------------------------------------- time */

static inline uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ----------------------------------------------------------- histogram */

#define SUB_BITS 5
#define SUB_COUNT (1 << SUB_BITS) /* 32 */
#define LINEAR_MAX (2 * SUB_COUNT) /* values below this are exact */
#define MAX_EXP 42                 /* ~73 minutes in ns */
#define NBUCKETS (LINEAR_MAX + (MAX_EXP - SUB_BITS) * SUB_COUNT)

typedef struct {
    uint64_t counts[NBUCKETS];
    uint64_t total;
    uint64_t max;
    long double sum;
} histogram;

static inline int hist_index(uint64_t v) {
    if (v < LINEAR_MAX) return (int)v;
    int e = 63 - __builtin_clzll(v); /* >= SUB_BITS + 1 */
    if (e >= MAX_EXP) return NBUCKETS - 1;
    int sub = (int)((v >> (e - SUB_BITS)) & (SUB_COUNT - 1));
    return LINEAR_MAX + (e - SUB_BITS - 1) * SUB_COUNT + sub;
}

/* midpoint of the bucket */
static double hist_value(int idx) {
    if (idx < LINEAR_MAX) return (double)idx;
    int k = idx - LINEAR_MAX;
    int e = k / SUB_COUNT + SUB_BITS + 1;
    int sub = k % SUB_COUNT;
    double width = (double)(1ull << (e - SUB_BITS));
    double lo = (double)(1ull << e) + sub * width;
    return lo + width / 2;
}

static inline void hist_record(histogram *h, uint64_t v) {
    h->counts[hist_index(v)]++;
    h->total++;
    h->sum += (long double)v;
    if (v > h->max) h->max = v;
}

static double hist_percentile(const histogram *h, double p) {
    if (h->total == 0) return 0;
    uint64_t rank = (uint64_t)((p / 100.0) * (double)h->total + 0.5);
    if (rank < 1) rank = 1;
    if (rank > h->total) rank = h->total;
    uint64_t seen = 0;
    for (int i = 0; i < NBUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            double v = hist_value(i);
            return v > (double)h->max ? (double)h->max : v;
        }
    }
    return (double)h->max;
}

/* ------------------------------------------------------------- options */

enum mode { MODE_ECHO, MODE_LINE, MODE_IDLE, MODE_BURST };

static struct {
    const char *host;
    int port;
    enum mode mode;
    int conns;
    size_t size;
    int pipeline;
    double duration;
    double warmup;
    double hold;
    double connect_timeout;
    int max_connecting;
    int server_pid;
    int verify;
    int tls;
    int reconnect;
} opt = {
    .host = "127.0.0.1",
    .port = 0,
    .mode = MODE_ECHO,
    .conns = 100,
    .size = 64,
    .pipeline = 1,
    .duration = 3,
    .warmup = 1,
    .hold = 5,
    .connect_timeout = 15,
    .max_connecting = 256,
    .server_pid = 0,
    .verify = 0,
};

static void usage(const char *argv0) {
    fprintf(stderr,
            "usage: %s --port N [--host 127.0.0.1] [--mode echo|line|idle|burst]\n"
            "          [--conns N] [--size BYTES] [--pipeline K]\n"
            "          [--duration S] [--warmup S] [--hold S]\n"
            "          [--server-pid PID] [--verify] [--max-connecting N] [--tls] [--reconnect]\n",
            argv0);
}

/* ---------------------------------------------------------- /proc/PID */

typedef struct {
    int ok;
    unsigned long long utime, stime; /* clock ticks */
} cpu_sample;

static cpu_sample read_cpu(int pid) {
    cpu_sample s = {0};
    if (pid <= 0) return s;
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return s;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    /* comm may contain spaces: skip to the last ')' */
    char *p = strrchr(buf, ')');
    if (!p) return s;
    p += 2; /* now at field 3 (state) */
    /* fields 3..13 are skipped, 14 = utime, 15 = stime */
    int field = 3;
    char *save = NULL;
    for (char *tok = strtok_r(p, " ", &save); tok; tok = strtok_r(NULL, " ", &save), field++) {
        if (field == 14) s.utime = strtoull(tok, NULL, 10);
        if (field == 15) {
            s.stime = strtoull(tok, NULL, 10);
            s.ok = 1;
            break;
        }
    }
    return s;
}

/* returns a value in KiB from /proc/PID/status, -1 if unavailable */
static long read_status_kib(int pid, const char *key) {
    if (pid <= 0) return -1;
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t klen = strlen(key);
    long v = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            v = strtol(line + klen + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

/* per-CPU jiffies from /proc/stat: user+nice, system, irq+softirq, steal,
 * idle+iowait; reported as shares of the measured window */
#define MAX_CPUS 64
typedef struct {
    int n;
    unsigned long long user[MAX_CPUS], sys[MAX_CPUS], irq[MAX_CPUS], steal[MAX_CPUS], idle[MAX_CPUS];
} stat_sample;

static stat_sample read_stat(void) {
    stat_sample s = {0};
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return s;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        int cpu;
        unsigned long long v[8] = {0};
        if (strncmp(line, "cpu", 3) != 0 || line[3] < '0' || line[3] > '9') continue;
        int got = sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0], &v[1], &v[2], &v[3],
                         &v[4], &v[5], &v[6], &v[7]);
        if (got < 5 || cpu < 0 || cpu >= MAX_CPUS) continue;
        s.user[cpu] = v[0] + v[1];
        s.sys[cpu] = v[2];
        s.idle[cpu] = v[3] + v[4];
        s.irq[cpu] = v[5] + v[6];
        s.steal[cpu] = v[7];
        if (cpu + 1 > s.n) s.n = cpu + 1;
    }
    fclose(f);
    return s;
}

static void print_stat(stat_sample a, stat_sample b) {
    printf("\"cpu_stat_pct\":[");
    for (int i = 0; i < b.n; i++) {
        double u = (double)(b.user[i] - a.user[i]), sy = (double)(b.sys[i] - a.sys[i]);
        double ir = (double)(b.irq[i] - a.irq[i]), st = (double)(b.steal[i] - a.steal[i]);
        double id = (double)(b.idle[i] - a.idle[i]);
        double t = u + sy + ir + st + id;
        if (t <= 0) t = 1;
        printf("%s{\"user\":%.1f,\"system\":%.1f,\"irq\":%.1f,\"steal\":%.1f,\"idle\":%.1f}", i ? "," : "",
               100 * u / t, 100 * sy / t, 100 * ir / t, 100 * st / t, 100 * id / t);
    }
    printf("]");
}

static long count_fds(int pid) {
    if (pid <= 0) return -1;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", pid);
    DIR *d = opendir(path);
    if (!d) return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

/* ---------------------------------------------------------- connections */

enum cstate { C_UNUSED, C_CONNECTING, C_OPEN, C_CLOSED };

typedef struct conn {
    int fd;
    enum cstate state;
    int want_out;          /* EPOLLOUT registered */
    uint64_t to_send;      /* bytes queued but not written yet */
    uint64_t sent;         /* total bytes written */
    uint64_t received;     /* total bytes read */
    uint64_t completed;    /* total responses completed */
    uint64_t *stamps;      /* ring of send timestamps, size pipeline */
    int ring_head, ring_len;
    SSL *ssl;              /* --tls */
    uint64_t connect_start; /* --reconnect: when connect() was called */
    int opened_once;        /* --reconnect: its first connection got open */
} conn;

static SSL_CTX *tls_ctx;

static conn *conns;
static int epfd;
static char *payload;      /* periodic stream of messages, multiple of size */
static size_t payload_len;
static char *rbuf;
static size_t rbuf_len = 256 * 1024;
static struct sockaddr_in addr;

static uint64_t errors;
static uint64_t connect_errors;
static uint64_t verify_errors;
static int n_open, n_connecting, n_next;
static int n_opened_once; /* --reconnect: slots whose first connection got open */
static int measuring, stopping;
static uint64_t measured_requests;
static uint64_t closed_completed; /* --reconnect: responses of connections closed */
static histogram hist;

static void ep_mod(conn *c, int out) {
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = out;
}

static void conn_fail(conn *c, int is_connect) {
    if (c->state == C_CLOSED) return;
    if (is_connect) connect_errors++;
    errors++;
    if (c->state == C_OPEN) n_open--;
    if (c->state == C_CONNECTING) n_connecting--;
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    if (c->ssl) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    close(c->fd);
    c->fd = -1;
    c->state = C_CLOSED;
}

static void start_connect(conn *c) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0) {
        c->state = C_CONNECTING;
        n_connecting++;
        conn_fail(c, 1);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->fd = fd;
    c->state = C_CONNECTING;
    c->connect_start = now_ns();
    n_connecting++;
    int r = connect(fd, (struct sockaddr *)&addr, sizeof addr);
    if (r < 0 && errno != EINPROGRESS) {
        conn_fail(c, 1);
        return;
    }
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    c->want_out = 1;
}

static void queue_message(conn *c, uint64_t t) {
    int slot = (c->ring_head + c->ring_len) % opt.pipeline;
    c->stamps[slot] = t;
    c->ring_len++;
    c->to_send += opt.size;
}

static void flush(conn *c) {
    while (c->to_send > 0) {
        size_t off = (size_t)(c->sent % payload_len);
        size_t len = payload_len - off;
        if (len > c->to_send) len = (size_t)c->to_send;
        ssize_t n;
        if (c->ssl) {
            ERR_clear_error();
            int w = SSL_write(c->ssl, payload + off, (int)len);
            if (w <= 0) {
                int e = SSL_get_error(c->ssl, w);
                if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) break;
                conn_fail(c, 0);
                return;
            }
            n = w;
        } else {
            n = send(c->fd, payload + off, len, MSG_NOSIGNAL);
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            if (errno == EINTR) continue;
            conn_fail(c, 0);
            return;
        }
        c->sent += (uint64_t)n;
        c->to_send -= (uint64_t)n;
    }
    int need_out = c->to_send > 0;
    if (need_out != c->want_out) ep_mod(c, need_out);
}

static void on_connected(conn *c, uint64_t t) {
    c->state = C_OPEN;
    n_connecting--;
    n_open++;
    if (!c->opened_once) {
        c->opened_once = 1;
        n_opened_once++;
    }
    if (opt.mode == MODE_IDLE) {
        ep_mod(c, 0);
        return;
    }
    for (int i = 0; i < opt.pipeline; i++) queue_message(c, opt.reconnect ? c->connect_start : t);
    flush(c);
}

/* --reconnect: the connection's one message came back; close it and open
 * another in its place (unless the run is stopping) */
static void reconnect(conn *c) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    if (c->ssl) {
        ERR_clear_error();
        SSL_shutdown(c->ssl); /* sends close_notify; the server's is not awaited */
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    close(c->fd);
    c->fd = -1;
    c->state = C_CLOSED;
    n_open--;
    closed_completed += c->completed;
    c->to_send = c->sent = c->received = c->completed = 0;
    c->ring_head = c->ring_len = 0;
    if (!stopping) start_connect(c);
}

static void on_bytes(conn *c, ssize_t n);

static void on_readable(conn *c) {
    if (c->ssl) { /* everything OpenSSL has: epoll does not see its buffer */
        for (;;) {
            ERR_clear_error();
            int r = SSL_read(c->ssl, rbuf, (int)rbuf_len);
            if (r <= 0) {
                int e = SSL_get_error(c->ssl, r);
                if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) conn_fail(c, 0);
                return;
            }
            on_bytes(c, r);
            if (c->state != C_OPEN) return;
        }
    }
    ssize_t n = recv(c->fd, rbuf, rbuf_len, 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
        conn_fail(c, 0);
        return;
    }
    if (n == 0) {
        conn_fail(c, 0);
        return;
    }
    on_bytes(c, n);
}

static void on_bytes(conn *c, ssize_t n) {
    if (opt.mode == MODE_IDLE) return; /* unexpected data: ignore */
    if (opt.verify) {
        size_t done = 0;
        while (done < (size_t)n) {
            size_t off = (size_t)((c->received + done) % payload_len);
            size_t len = payload_len - off;
            if (len > (size_t)n - done) len = (size_t)n - done;
            if (memcmp(rbuf + done, payload + off, len) != 0) verify_errors++;
            done += len;
        }
    }
    c->received += (uint64_t)n;
    uint64_t full = c->received / opt.size;
    if (full > c->completed) {
        uint64_t t = now_ns();
        while (c->completed < full) {
            c->completed++;
            if (c->ring_len == 0) { /* more bytes than we sent: protocol error */
                verify_errors++;
                continue;
            }
            uint64_t st = c->stamps[c->ring_head];
            c->ring_head = (c->ring_head + 1) % opt.pipeline;
            c->ring_len--;
            if (measuring) {
                hist_record(&hist, t - st);
                measured_requests++;
            }
            if (!stopping && !opt.reconnect) queue_message(c, t);
        }
        if (opt.reconnect && c->ring_len == 0) {
            reconnect(c);
            return;
        }
        flush(c);
    }
}

/* --tls: one step of the client handshake; on_connected once it is done */
static void tls_step(conn *c, uint64_t t) {
    ERR_clear_error();
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        on_connected(c, t);
        return;
    }
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ) ep_mod(c, 0);
    else if (e == SSL_ERROR_WANT_WRITE) ep_mod(c, 1);
    else conn_fail(c, 1);
}

static void on_event(conn *c, uint32_t ev, uint64_t t) {
    if (c->state == C_CONNECTING && c->ssl) {
        if (ev & (EPOLLERR | EPOLLHUP)) conn_fail(c, 1);
        else tls_step(c, t);
        return;
    }
    if (c->state == C_CONNECTING) {
        if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err != 0 || (ev & (EPOLLERR | EPOLLHUP))) {
                conn_fail(c, 1);
                return;
            }
            if (tls_ctx) {
                c->ssl = SSL_new(tls_ctx);
                SSL_set_fd(c->ssl, c->fd);
                SSL_set_connect_state(c->ssl);
                tls_step(c, t);
                return;
            }
            on_connected(c, t);
        }
        return;
    }
    if (c->state != C_OPEN) return;
    if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c);
    if (c->state == C_OPEN && (ev & EPOLLOUT)) flush(c);
}

static void raise_nofile(long need) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
    if ((long)rl.rlim_cur >= need) return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || (long)rl.rlim_max >= need ? (rlim_t)need : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
}

static void poll_events(int timeout_ms) {
    struct epoll_event evs[512];
    int n = epoll_wait(epfd, evs, 512, timeout_ms);
    if (n <= 0) return;
    uint64_t t = now_ns();
    for (int i = 0; i < n; i++) on_event((conn *)evs[i].data.ptr, evs[i].events, t);
}

/* Open connections, keeping at most max_connecting in flight; true when all
 * were attempted and none is still connecting. */
static void connect_step(void) {
    while (n_next < opt.conns && n_connecting < opt.max_connecting) start_connect(&conns[n_next++]);
}

static int connect_all(uint64_t deadline) {
    /* (--reconnect: some are always connecting; each must have got open once) */
    while (n_next < opt.conns || (opt.reconnect ? n_opened_once + (int)connect_errors < opt.conns : n_connecting > 0)) {
        connect_step();
        uint64_t t = now_ns();
        if (t >= deadline) return 0;
        int ms = (int)((deadline - t) / 1000000) + 1;
        if (ms > 50) ms = 50;
        poll_events(ms);
    }
    return 1;
}

static void run_until(uint64_t deadline) {
    for (;;) {
        uint64_t t = now_ns();
        if (t >= deadline) return;
        int ms = (int)((deadline - t) / 1000000);
        if (ms > 100) ms = 100;
        poll_events(ms); /* 0 ms near the deadline: spin briefly */
    }
}

/* requests sent whose response has not fully come back yet */
static long in_flight(void) {
    long n = 0;
    for (int i = 0; i < opt.conns; i++)
        if (conns[i].state == C_OPEN) n += conns[i].ring_len;
    return n;
}

/* with no new requests queued (stopping), wait for the ones in flight */
static int drain(uint64_t deadline) {
    while (in_flight() > 0 && now_ns() < deadline) poll_events(10);
    return in_flight() == 0;
}

static uint64_t requests_total(void) {
    uint64_t n = closed_completed;
    for (int i = 0; i < opt.conns; i++) n += conns[i].completed;
    return n;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* burst mode (see the top of the file) */
static int run_burst(void) {
    long rss_start = read_status_kib(opt.server_pid, "VmRSS");
    long fds_before = count_fds(opt.server_pid);
    stopping = 1;  /* one message per connection, nothing after its echo */
    measuring = 1; /* count the echoes */
    uint64_t t0 = now_ns();
    uint64_t deadline = t0 + (uint64_t)(opt.connect_timeout * 1e9);
    int all = connect_all(deadline);
    double connect_s = (double)(now_ns() - t0) / 1e9;
    while ((long)measured_requests < n_open && now_ns() < deadline) poll_events(50);
    int all_echoed = (long)measured_requests == opt.conns;
    double echo_s = (double)(now_ns() - t0) / 1e9;
    run_until(now_ns() + 100000000ull); /* let the server park every connection */
    long fds_peak = count_fds(opt.server_pid);
    long rss_peak = read_status_kib(opt.server_pid, "VmRSS");
    long hwm_peak = read_status_kib(opt.server_pid, "VmHWM");
    int held = n_open;
    for (int i = 0; i < opt.conns; i++) {
        if (conns[i].state == C_OPEN) {
            close(conns[i].fd); /* an ordinary close: the server reads EOF */
            conns[i].fd = -1;
            conns[i].state = C_CLOSED;
        }
    }
    n_open = 0;
    uint64_t c0 = now_ns();
    int server_closed_all = 0;
    if (opt.server_pid > 0) {
        uint64_t close_deadline = c0 + (uint64_t)(opt.connect_timeout * 1e9);
        while (now_ns() < close_deadline) {
            long fds = count_fds(opt.server_pid);
            if (fds < 0) break;
            if (fds <= fds_before) {
                server_closed_all = 1;
                break;
            }
            sleep_ms(20);
        }
    }
    double closed_s = (double)(now_ns() - c0) / 1e9;
    printf("{\"mode\":\"burst\",\"connections\":%d,\"connected\":%d,\"all_connected\":%s,"
           "\"echoed\":%llu,\"all_echoed\":%s,\"size\":%zu,\"errors\":%llu,\"connect_errors\":%llu,"
           "\"verify_errors\":%llu,\"connect_s\":%.3f,\"echo_s\":%.3f,\"server_closed_s\":%.3f,"
           "\"server_closed_all\":%s,\"server_fds_before\":%ld,\"server_fds_peak\":%ld,"
           "\"server_rss_start_kib\":%ld,\"server_rss_peak_kib\":%ld,\"server_hwm_kib\":%ld,"
           "\"latency_us\":{\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f},",
           opt.conns, held, all ? "true" : "false", (unsigned long long)measured_requests,
           all_echoed ? "true" : "false", opt.size, (unsigned long long)errors, (unsigned long long)connect_errors,
           (unsigned long long)verify_errors, connect_s, echo_s, closed_s, server_closed_all ? "true" : "false",
           fds_before, fds_peak, rss_start, rss_peak, hwm_peak, hist_percentile(&hist, 50) / 1e3,
           hist_percentile(&hist, 99) / 1e3, (double)hist.max / 1e3);
    /* the server's RSS while it sits idle after the burst */
    printf("\"idle_rss_kib\":[");
    long rss_after = read_status_kib(opt.server_pid, "VmRSS");
    printf("[0.0,%ld]", rss_after);
    int steps = (int)(opt.hold * 4 + 0.5);
    for (int k = 1; k <= steps; k++) {
        sleep_ms(250);
        rss_after = read_status_kib(opt.server_pid, "VmRSS");
        printf(",[%.2f,%ld]", k * 0.25, rss_after);
    }
    printf("],\"idle_s\":%.2f,\"server_rss_after_kib\":%ld}\n", steps * 0.25, rss_after);
    return 0;
}

static double tv_s(struct timeval tv) { return (double)tv.tv_sec + (double)tv.tv_usec / 1e6; }

static void print_cpu(const char *name, cpu_sample a, cpu_sample b) {
    long tck = sysconf(_SC_CLK_TCK);
    if (!a.ok || !b.ok) {
        printf("\"%s\":null", name);
        return;
    }
    printf("\"%s\":{\"clk_tck\":%ld,\"user_s\":%.4f,\"sys_s\":%.4f}", name, tck,
           (double)(b.utime - a.utime) / (double)tck, (double)(b.stime - a.stime) / (double)tck);
}

int main(int argc, char **argv) {
    static struct option lopts[] = {
        {"host", required_argument, 0, 'h'},     {"port", required_argument, 0, 'p'},
        {"mode", required_argument, 0, 'm'},     {"conns", required_argument, 0, 'c'},
        {"size", required_argument, 0, 's'},     {"pipeline", required_argument, 0, 'k'},
        {"duration", required_argument, 0, 'd'}, {"warmup", required_argument, 0, 'w'},
        {"hold", required_argument, 0, 'H'},     {"server-pid", required_argument, 0, 'P'},
        {"verify", no_argument, 0, 'V'},         {"max-connecting", required_argument, 0, 'M'},
        {"connect-timeout", required_argument, 0, 'T'}, {"tls", no_argument, 0, 'S'},
        {"reconnect", no_argument, 0, 'R'},
        {"help", no_argument, 0, '?'},           {0, 0, 0, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
        switch (ch) {
        case 'h': opt.host = optarg; break;
        case 'p': opt.port = atoi(optarg); break;
        case 'm':
            if (!strcmp(optarg, "echo")) opt.mode = MODE_ECHO;
            else if (!strcmp(optarg, "line")) opt.mode = MODE_LINE;
            else if (!strcmp(optarg, "idle")) opt.mode = MODE_IDLE;
            else if (!strcmp(optarg, "burst")) opt.mode = MODE_BURST;
            else { usage(argv[0]); return 2; }
            break;
        case 'c': opt.conns = atoi(optarg); break;
        case 's': opt.size = (size_t)strtoull(optarg, NULL, 10); break;
        case 'k': opt.pipeline = atoi(optarg); break;
        case 'd': opt.duration = atof(optarg); break;
        case 'w': opt.warmup = atof(optarg); break;
        case 'H': opt.hold = atof(optarg); break;
        case 'P': opt.server_pid = atoi(optarg); break;
        case 'V': opt.verify = 1; break;
        case 'S': opt.tls = 1; break;
        case 'R': opt.reconnect = 1; break;
        case 'M': opt.max_connecting = atoi(optarg); break;
        case 'T': opt.connect_timeout = atof(optarg); break;
        default: usage(argv[0]); return 2;
        }
    }
    if (opt.port <= 0 || opt.conns <= 0 || opt.size < 1 || opt.pipeline < 1 || opt.max_connecting < 1) {
        usage(argv[0]);
        return 2;
    }
    if (opt.mode == MODE_LINE && opt.size < 2) opt.size = 2;
    if (opt.mode == MODE_BURST) opt.pipeline = 1;
    if (opt.reconnect && (opt.mode != MODE_ECHO || opt.pipeline != 1)) {
        fprintf(stderr, "loadgen: --reconnect is for echo mode with --pipeline 1\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    raise_nofile((long)opt.conns + 64);
    if (opt.tls) {
        tls_ctx = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_min_proto_version(tls_ctx, TLS1_3_VERSION);
        SSL_CTX_set_ciphersuites(tls_ctx, "TLS_AES_128_GCM_SHA256");
        SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_NONE, NULL);
        SSL_CTX_set_mode(tls_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        SSL_CTX_set_session_cache_mode(tls_ctx, SSL_SESS_CACHE_OFF); /* every handshake a full one */
    }

    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)opt.port);
    if (inet_pton(AF_INET, opt.host, &addr.sin_addr) != 1) {
        fprintf(stderr, "loadgen: bad IPv4 address %s\n", opt.host);
        return 2;
    }

    /* payload: the message repeated enough times that one send() can carry
     * a whole pipeline window of small messages */
    size_t reps = (size_t)opt.pipeline;
    if (reps * opt.size < 65536) reps = (65536 + opt.size - 1) / opt.size;
    payload_len = reps * opt.size;
    payload = malloc(payload_len);
    rbuf = malloc(rbuf_len);
    for (size_t m = 0; m < reps; m++) {
        char *msg = payload + m * opt.size;
        for (size_t i = 0; i < opt.size; i++) msg[i] = (char)('a' + (i % 26));
        if (opt.mode == MODE_LINE) msg[opt.size - 1] = '\n';
    }

    conns = calloc((size_t)opt.conns, sizeof(conn));
    uint64_t *stamps = calloc((size_t)opt.conns * (size_t)opt.pipeline, sizeof(uint64_t));
    for (int i = 0; i < opt.conns; i++) {
        conns[i].fd = -1;
        conns[i].stamps = stamps + (size_t)i * (size_t)opt.pipeline;
    }
    epfd = epoll_create1(EPOLL_CLOEXEC);

    if (opt.mode == MODE_IDLE) {
        long rss_before = read_status_kib(opt.server_pid, "VmRSS");
        long fds_before = count_fds(opt.server_pid);
        uint64_t t0 = now_ns();
        int all = connect_all(t0 + (uint64_t)(opt.connect_timeout * 1e9));
        double connect_s = (double)(now_ns() - t0) / 1e9;
        /* wait for the server to accept all of them */
        long fds_after = fds_before;
        int accepted_all = 0;
        uint64_t accept_deadline = now_ns() + (uint64_t)(opt.connect_timeout * 1e9);
        if (opt.server_pid > 0) {
            while (now_ns() < accept_deadline) {
                fds_after = count_fds(opt.server_pid);
                if (fds_after < 0) break;
                if (fds_after - fds_before >= n_open) {
                    accepted_all = 1;
                    break;
                }
                poll_events(50);
            }
        }
        double accept_s = (double)(now_ns() - t0) / 1e9;
        run_until(now_ns() + 500000000ull); /* settle */
        long rss_after = read_status_kib(opt.server_pid, "VmRSS");
        long hwm = read_status_kib(opt.server_pid, "VmHWM");
        double rest = opt.hold - (double)(now_ns() - t0) / 1e9;
        if (rest > 0) run_until(now_ns() + (uint64_t)(rest * 1e9));
        int open_at_end = n_open;
        struct linger lg = {1, 0}; /* RST: no TIME_WAIT pile-up */
        for (int i = 0; i < opt.conns; i++) {
            if (conns[i].fd >= 0) {
                setsockopt(conns[i].fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
                close(conns[i].fd);
            }
        }
        printf("{\"mode\":\"idle\",\"connections\":%d,\"connected\":%d,\"open_at_end\":%d,"
               "\"all_connected\":%s,\"errors\":%llu,\"connect_errors\":%llu,"
               "\"connect_s\":%.3f,\"accept_s\":%.3f,\"server_accepted_all\":%s,"
               "\"server_fds_before\":%ld,\"server_fds_after\":%ld,"
               "\"server_rss_before_kib\":%ld,\"server_rss_after_kib\":%ld,\"server_hwm_kib\":%ld,",
               opt.conns, open_at_end, open_at_end, all ? "true" : "false",
               (unsigned long long)errors, (unsigned long long)connect_errors, connect_s, accept_s,
               accepted_all ? "true" : "false", fds_before, fds_after, rss_before, rss_after, hwm);
        if (rss_before >= 0 && rss_after >= 0 && open_at_end > 0)
            printf("\"rss_per_conn_bytes\":%.1f}\n", (double)(rss_after - rss_before) * 1024.0 / open_at_end);
        else
            printf("\"rss_per_conn_bytes\":null}\n");
        return 0;
    }

    if (opt.mode == MODE_BURST) return run_burst();

    /* echo / line */
    uint64_t t0 = now_ns();
    int all = connect_all(t0 + (uint64_t)(opt.connect_timeout * 1e9));
    double connect_s = (double)(now_ns() - t0) / 1e9;
    run_until(now_ns() + (uint64_t)(opt.warmup * 1e9));
    uint64_t errors_before = errors;
    cpu_sample cpu_a = read_cpu(opt.server_pid);
    struct rusage ru_a, ru_b;
    getrusage(RUSAGE_SELF, &ru_a);
    stat_sample st_a = read_stat();
    measuring = 1;
    uint64_t m0 = now_ns();
    run_until(m0 + (uint64_t)(opt.duration * 1e9));
    uint64_t m1 = now_ns();
    measuring = 0;
    cpu_sample cpu_b = read_cpu(opt.server_pid);
    getrusage(RUSAGE_SELF, &ru_b);
    stat_sample st_b = read_stat();
    stopping = 1;
    long hwm = read_status_kib(opt.server_pid, "VmHWM");
    long rss = read_status_kib(opt.server_pid, "VmRSS");
    int drained = drain(now_ns() + 2000000000ull);

    double secs = (double)(m1 - m0) / 1e9;
    double rps = (double)measured_requests / secs;
    double mib = rps * (double)opt.size / (1024.0 * 1024.0);
    printf("{\"mode\":\"%s\",\"connections\":%d,\"connected\":%d,\"all_connected\":%s,"
           "\"size\":%zu,\"pipeline\":%d,\"reconnect\":%s,\"warmup_s\":%.3f,\"duration_s\":%.4f,\"connect_s\":%.3f,"
           "\"requests\":%llu,\"rps\":%.1f,\"mib_s\":%.3f,\"requests_total\":%llu,\"drained\":%s,",
           opt.mode == MODE_LINE ? "line" : "echo", opt.conns, opt.reconnect ? n_opened_once : n_open,
           all ? "true" : "false", opt.size,
           opt.pipeline, opt.reconnect ? "true" : "false", opt.warmup, secs, connect_s, (unsigned long long)measured_requests, rps, mib,
           (unsigned long long)requests_total(), drained ? "true" : "false");
    printf("\"latency_us\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f,\"mean\":%.1f},",
           hist_percentile(&hist, 50) / 1e3, hist_percentile(&hist, 90) / 1e3, hist_percentile(&hist, 99) / 1e3,
           hist_percentile(&hist, 99.9) / 1e3, (double)hist.max / 1e3,
           hist.total ? (double)(hist.sum / hist.total) / 1e3 : 0.0);
    printf("\"errors\":%llu,\"errors_in_window\":%llu,\"connect_errors\":%llu,\"verify_errors\":%llu,",
           (unsigned long long)errors, (unsigned long long)(errors - errors_before),
           (unsigned long long)connect_errors, (unsigned long long)verify_errors);
    print_cpu("server_cpu", cpu_a, cpu_b);
    printf(",\"client_cpu\":{\"user_s\":%.4f,\"sys_s\":%.4f}", tv_s(ru_b.ru_utime) - tv_s(ru_a.ru_utime),
           tv_s(ru_b.ru_stime) - tv_s(ru_a.ru_stime));
    printf(",");
    print_stat(st_a, st_b);
    printf(",\"server_hwm_kib\":%ld,\"server_rss_kib\":%ld}\n", hwm, rss);
    fflush(stdout);
    for (int i = 0; i < opt.conns; i++)
        if (conns[i].fd >= 0) close(conns[i].fd);
    return 0;
}
