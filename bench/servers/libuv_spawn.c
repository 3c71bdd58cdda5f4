/*
 * libuv_spawn: spawn + wait of /bin/true on raw libuv callbacks, the
 * ceiling of the spawn-* cases (uvasync_spawn and bench/py_spawn.py are
 * the same work in uvasync and in asyncio / uvloop).
 *
 *   libuv_spawn sequential N
 *   libuv_spawn concurrent N [rounds]
 *
 * sequential: the next child is spawned from the exit callback of the one
 * before, once its handle is closed. concurrent: N children at once, the
 * next round when all N are closed. Prints one JSON object.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

static uv_loop_t* loop;
static int sequential, per_round, rounds_left, open_handles, spawned;

static void start_round(void);
static void spawn_one(void);

static void on_close(uv_handle_t* h) {
    free(h);
    --open_handles;
    if (sequential) {
        if (spawned < per_round) spawn_one();
    } else if (open_handles == 0 && --rounds_left > 0) {
        start_round();
    }
}

static void on_exit_cb(uv_process_t* p, int64_t status, int signal) {
    if (status != 0 || signal != 0) {
        fprintf(stderr, "libuv_spawn: /bin/true exited %lld (signal %d)\n", (long long)status, signal);
        exit(1);
    }
    uv_close((uv_handle_t*)p, on_close);
}

static void spawn_one(void) {
    static char* args[] = {"/bin/true", NULL};
    uv_stdio_container_t io[3];
    uv_process_options_t o;
    uv_process_t* p = malloc(sizeof *p);
    int r;
    memset(&o, 0, sizeof o);
    for (int i = 0; i < 3; ++i) {
        io[i].flags = UV_INHERIT_FD;
        io[i].data.fd = i;
    }
    o.file = args[0];
    o.args = args;
    o.exit_cb = on_exit_cb;
    o.stdio = io;
    o.stdio_count = 3;
    r = uv_spawn(loop, p, &o);
    if (r != 0) {
        fprintf(stderr, "libuv_spawn: uv_spawn: %s\n", uv_strerror(r));
        exit(1);
    }
    ++open_handles;
    ++spawned;
}

static void start_round(void) {
    for (int i = 0; i < per_round; ++i) spawn_one();
}

int main(int argc, char** argv) {
    struct timespec t0, t1;
    double s;
    int rounds;
    if (argc < 3 || (strcmp(argv[1], "sequential") != 0 && strcmp(argv[1], "concurrent") != 0)) {
        fprintf(stderr, "usage: %s sequential N | concurrent N [rounds]\n", argv[0]);
        return 2;
    }
    sequential = strcmp(argv[1], "sequential") == 0;
    per_round = atoi(argv[2]);
    rounds = sequential ? 1 : (argc >= 4 ? atoi(argv[3]) : 10);
    rounds_left = rounds;
    loop = uv_default_loop();
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (sequential) spawn_one();
    else start_round();
    uv_run(loop, UV_RUN_DEFAULT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("{\"impl\": \"libuv\", \"case\": \"%s\", \"n\": %d, \"rounds\": %d, \"seconds\": %.4f, "
           "\"spawns_per_second\": %.1f}\n",
           argv[1], per_round, rounds, s, per_round * rounds / s);
    return 0;
}
