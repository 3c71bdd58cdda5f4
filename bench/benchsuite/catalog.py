"""What the suite measures: implementations, cases, the reference columns,
the targets, and where the binaries are.

Implementations are discovered by name.  Each kind of server ("echo": byte
echo, "line": readline echo, "http": hello server; and "http_client", the
HTTP client benchmark, a client rather than a server) is a command; "@NAME" is
a binary from the build directory (bench/ subdirectory of the build), "%PY"
is Debian's python3, "%BENCH" is bench/.  The suite appends "--port N".  A
missing binary skips that implementation with "skipped: not built"; an
implementation without a kind of server simply has no row in those cases.
"""
from __future__ import annotations

import os
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent
ROOT = BENCH.parent
PY = "/usr/bin/python3"          # Debian's python: has uvloop and matplotlib


def _py(loop, mode):
    return ["%PY", "%BENCH/servers/py_server.py", "--loop", loop, "--mode", mode]


# The TLS cases' certificate and key ("%CERT", "%KEY" in a command): one
# self-signed EC certificate per run, made with `openssl req`.
TLS_ARGS = ["--cert", "%CERT", "--key", "%KEY"]
_tls_dir = None


def tls_files():
    global _tls_dir
    if _tls_dir is None:
        import atexit
        import shutil
        import subprocess
        import tempfile
        _tls_dir = tempfile.mkdtemp(prefix="uvasync-bench-tls-")
        atexit.register(shutil.rmtree, _tls_dir, True)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", f"{_tls_dir}/key.pem", "-out", f"{_tls_dir}/cert.pem", "-days", "2",
                        "-subj", "/CN=localhost"], check=True, capture_output=True)
    return f"{_tls_dir}/cert.pem", f"{_tls_dir}/key.pem"


def _aiohttp(loop):
    return ["%PY", "%BENCH/servers/aiohttp_hello.py", "--loop", loop]


# "native": compiled (C/C++) servers, the ones measured under callgrind.
# "http_bodies": the HTTP server reads request bodies (POST /echo answers
# the body back as JSON); the others stop at the head.
IMPLEMENTATIONS = {
    "libuv": {
        "echo": ["@libuv_echo"],
        "tls_echo": ["@libuv_tls_echo", *TLS_ARGS],
        "line": ["@libuv_echo", "--line"],
        "http": ["@libuv_http"],
        "native": True,
        "about": "raw libuv callbacks (C), the ceiling",
    },
    "asio": {
        "echo": ["@asio_echo"],
        "tls_echo": ["@asio_tls_echo", *TLS_ARGS],
        "line": ["@asio_echo", "--line"],
        "http": ["@asio_http"],
        "native": True,
        "about": "Boost.Asio 1.81, C++20 coroutines, io_context{1}",
    },
    "beast": {
        "http": ["@beast_http"],
        "http_bodies": True,
        "native": True,
        "about": "Boost.Beast 1.81's own HTTP server: http::async_read/async_write on Asio C++20 coroutines",
    },
    "aiohttp-asyncio": {
        "http": _aiohttp("asyncio"),
        "http_client": ["%PY", "%BENCH/clients/aiohttp_client.py", "--loop", "asyncio"],
        "http_bodies": True,
        "about": "aiohttp (web.Application, the uvloop articles' server; ClientSession as the client) on asyncio",
    },
    "aiohttp-uvloop": {
        "http": _aiohttp("uvloop"),
        "http_client": ["%PY", "%BENCH/clients/aiohttp_client.py", "--loop", "uvloop"],
        "http_bodies": True,
        "about": "aiohttp (web.Application, the uvloop articles' server; ClientSession as the client) on uvloop",
    },
    "asyncio-streams": {
        "echo": _py("asyncio", "echo-streams"),
        "tls_echo": _py("asyncio", "echo-streams") + TLS_ARGS,
        "line": _py("asyncio", "readline-streams"),
        "http": _py("asyncio", "http-streams"),
        "about": "CPython asyncio, start_server + StreamReader/StreamWriter",
    },
    "asyncio-protocol": {
        "echo": _py("asyncio", "echo-protocol"),
        "line": _py("asyncio", "readline-protocol"),
        "http": _py("asyncio", "http-protocol"),
        "about": "CPython asyncio, asyncio.Protocol",
    },
    "uvloop-streams": {
        "echo": _py("uvloop", "echo-streams"),
        "tls_echo": _py("uvloop", "echo-streams") + TLS_ARGS,
        "line": _py("uvloop", "readline-streams"),
        "http": _py("uvloop", "http-streams"),
        "about": "uvloop, start_server + StreamReader/StreamWriter",
    },
    "uvloop-protocol": {
        "echo": _py("uvloop", "echo-protocol"),
        "line": _py("uvloop", "readline-protocol"),
        "http": _py("uvloop", "http-protocol"),
        "about": "uvloop, asyncio.Protocol",
    },
    "uvasync": {
        "echo": ["@uvasync_echo_server"],
        "tls_echo": ["@uvasync_tls_echo_server", *TLS_ARGS],
        "line": ["@uvasync_readline_echo_server"],
        "http": ["@uvasync_http_lib"],
        "http_client": ["@uvasync_http_client"],
        "http_bodies": True,
        "native": True,
        "about": "uvasync (this project): start_server + stream_reader/stream_writer; "
                 "echo with one reused buffer, read(span); HTTP on uvasync::http (server and client)",
    },
    "uvasync-streams": {
        "http": ["@uvasync_http_server"],
        "native": True,
        "about": "uvasync's HTTP hello split by hand on stream_reader::readuntil (no parser), "
                 "for comparison with uvasync::http",
    },
    "uvasync-idiomatic": {
        "echo": ["@uvasync_idiomatic_echo_server"],
        "native": True,
        "about": "uvasync echo as an asyncio port writes it: "
                 "read(65536) -> write(std::move(data)) -> drain()",
    },
}
IMPL_ORDER = list(IMPLEMENTATIONS)
SERVER_KINDS = ("echo", "line", "http", "http_client", "tls_echo")

# The reference columns of the tables (a case may name its own with
# "ref_ceiling" / "ref_uvloop").
REF_CEILING = "libuv"
REF_UVLOOP = {"echo": "uvloop-streams", "line": "uvloop-streams", "tls_echo": "uvloop-streams",
              "idle": "uvloop-streams", "http": "uvloop-protocol", "idle_http": "aiohttp-uvloop",
              "http_client": "aiohttp-uvloop"}

# The server every client of the HTTP client benchmark talks to.
CLIENT_BENCH_SERVER = "libuv"

# Cases.  "method": "load" (timed, the default), "idle", "burst",
# "callgrind", or for the kinds of their own "idle_http" (connections held
# open after one request each) and "client" (the HTTP client benchmark);
# "native_only": only compiled servers; "bodies": only HTTP servers that
# read request bodies; "wrk_script": the wrk script of an HTTP load case;
# "quick_impls": the implementations taking part in --quick runs;
# "repeats": a fixed sample count (callgrind counts and burst RSS do not
# need medians).
CASES = [
    {"name": "echo-64B", "kind": "echo", "size": 64, "conns": 100, "pipeline": 1},
    {"name": "echo-1KiB", "kind": "echo", "size": 1024, "conns": 100, "pipeline": 1},
    {"name": "echo-16KiB", "kind": "echo", "size": 16384, "conns": 100, "pipeline": 1},
    {"name": "echo-100KiB", "kind": "echo", "size": 102400, "conns": 100, "pipeline": 1},
    {"name": "echo-1KiB-c10", "kind": "echo", "size": 1024, "conns": 10, "pipeline": 1},
    {"name": "echo-1KiB-c1000", "kind": "echo", "size": 1024, "conns": 1000, "pipeline": 1},
    {"name": "echo-64B-p16", "kind": "echo", "size": 64, "conns": 100, "pipeline": 16},
    {"name": "readline-1KiB", "kind": "line", "size": 1024, "conns": 100, "pipeline": 1},
    {"name": "http-c10", "kind": "http", "conns": 10},
    {"name": "http-c100", "kind": "http", "conns": 100,
     "quick_impls": ["libuv", "asio", "beast", "asyncio-protocol", "uvloop-protocol", "aiohttp-uvloop",
                     "uvasync", "uvasync-streams"]},
    {"name": "http-post-4KiB", "kind": "http", "conns": 100, "bodies": True, "wrk_script": "post_4k.lua",
     "ref_ceiling": "beast", "ref_uvloop": "aiohttp-uvloop"},
    {"name": "idle-10k", "kind": "idle", "conns": 10000},
    {"name": "idle-http-5k", "kind": "idle_http", "conns": 5000, "quick_impls": ["uvasync"]},
    {"name": "http-client-10k", "kind": "http_client", "requests": 10000, "conns": 100,
     "quick_impls": ["aiohttp-uvloop", "uvasync"]},
    {"name": "burst-10k", "kind": "burst", "size": 64, "conns": 10000, "native_only": True, "repeats": 1,
     "quick_impls": ["libuv", "uvasync"]},
    # TLS: TLS 1.3, TLS_AES_128_GCM_SHA256 for every server and loadgen --tls
    {"name": "tls-echo-1KiB", "kind": "tls_echo", "size": 1024, "conns": 100, "pipeline": 1},
    {"name": "tls-echo-16KiB", "kind": "tls_echo", "size": 16384, "conns": 100, "pipeline": 1},
    # "reconnect": every connection carries one message, then closes and is
    # opened again (loadgen --reconnect): a full handshake per request.
    {"name": "tls-handshakes", "kind": "tls_echo", "size": 64, "conns": 20, "pipeline": 1, "reconnect": True},
    {"name": "callgrind-tls-echo-1KiB", "kind": "tls_echo", "method": "callgrind", "size": 1024, "conns": 10,
     "pipeline": 1, "native_only": True, "repeats": 1},
    {"name": "callgrind-tls-echo-16KiB", "kind": "tls_echo", "method": "callgrind", "size": 16384, "conns": 10,
     "pipeline": 1, "native_only": True, "repeats": 1},
    {"name": "callgrind-echo-64B", "kind": "echo", "method": "callgrind", "size": 64, "conns": 10,
     "pipeline": 1, "native_only": True, "repeats": 1, "quick_impls": ["libuv", "uvasync", "uvasync-idiomatic"]},
    {"name": "callgrind-readline-64B", "kind": "line", "method": "callgrind", "size": 64, "conns": 10,
     "pipeline": 1, "native_only": True, "repeats": 1},
    {"name": "callgrind-http-c10", "kind": "http", "method": "callgrind", "conns": 10,
     "native_only": True, "repeats": 1, "quick_impls": ["libuv", "uvasync"]},
]
QUICK_CASES = ["echo-1KiB", "echo-64B-p16", "readline-1KiB", "http-c100", "idle-10k", "burst-10k",
               "callgrind-echo-64B", "idle-http-5k", "http-client-10k"]

CASE_TITLES = {
    "echo-64B": "Echo, 64 B messages, 100 connections, ping-pong",
    "echo-1KiB": "Echo, 1 KiB messages, 100 connections, ping-pong",
    "echo-16KiB": "Echo, 16 KiB messages, 100 connections, ping-pong",
    "echo-100KiB": "Echo, 100 KiB messages, 100 connections, ping-pong",
    "echo-1KiB-c10": "Echo, 1 KiB messages, 10 connections, ping-pong",
    "echo-1KiB-c1000": "Echo, 1 KiB messages, 1,000 connections, ping-pong",
    "echo-64B-p16": "Echo, 64 B messages, 100 connections, pipelined 16 deep",
    "readline-1KiB": "Readline echo, 1 KiB lines, 100 connections, ping-pong",
    "http-c10": "HTTP/1.1 hello (wrk -t1 -c10, keep-alive)",
    "http-c100": "HTTP/1.1 hello (wrk -t1 -c100, keep-alive)",
    "http-post-4KiB": "HTTP/1.1 POST /echo of a 4 KiB JSON body (wrk -t1 -c100, keep-alive)",
    "idle-10k": "10,000 idle connections: server memory",
    "idle-http-5k": "5,000 idle HTTP keep-alive connections, each after one request: server memory",
    "http-client-10k": "HTTP client: 10,000 GETs over 100 pooled keep-alive connections against raw libuv",
    "burst-10k": "10,000 connections come and go: server RSS before, at the peak, after",
    "tls-echo-1KiB": "TLS echo (TLS 1.3, AES-128-GCM), 1 KiB messages, 100 connections, ping-pong",
    "tls-echo-16KiB": "TLS echo (TLS 1.3, AES-128-GCM), 16 KiB messages, 100 connections, ping-pong",
    "tls-handshakes": "TLS full handshakes per second (TLS 1.3, X25519, ECDSA P-256 certificate): connect, "
                      "handshake, one 64 B echo, close, 20 connections at a time",
    "callgrind-tls-echo-1KiB": "Instructions per request: TLS echo, 1 KiB ping-pong, 10 connections (callgrind)",
    "callgrind-tls-echo-16KiB": "Instructions per request: TLS echo, 16 KiB ping-pong, 10 connections (callgrind)",
    "callgrind-echo-64B": "Instructions per request: echo, 64 B ping-pong, 10 connections (callgrind)",
    "callgrind-readline-64B": "Instructions per request: readline echo, 64 B lines, 10 connections (callgrind)",
    "callgrind-http-c10": "Instructions per request: HTTP hello, wrk -c10 (callgrind)",
}

# The protocol-v2 targets on callgrind counts: measured (case, impl) over
# reference (case, impl) must be at most the limit.
CALLGRIND_TARGETS = [
    ("read(span) echo / raw libuv echo",
     ("callgrind-echo-64B", "uvasync"), ("callgrind-echo-64B", "libuv"), 1.25),
    ("idiomatic echo / raw libuv echo",
     ("callgrind-echo-64B", "uvasync-idiomatic"), ("callgrind-echo-64B", "libuv"), 1.5),
    ("readline echo / raw libuv echo",
     ("callgrind-readline-64B", "uvasync"), ("callgrind-echo-64B", "libuv"), 1.6),
    ("HTTP hello, hand-split streams / raw libuv HTTP",
     ("callgrind-http-c10", "uvasync-streams"), ("callgrind-http-c10", "libuv"), 1.3),
    ("read(span) echo / Asio echo",
     ("callgrind-echo-64B", "uvasync"), ("callgrind-echo-64B", "asio"), 0.4),
    ("idiomatic echo / Asio echo",
     ("callgrind-echo-64B", "uvasync-idiomatic"), ("callgrind-echo-64B", "asio"), 0.4),
    ("readline echo / Asio readline echo",
     ("callgrind-readline-64B", "uvasync"), ("callgrind-readline-64B", "asio"), 0.4),
    ("HTTP hello, hand-split streams / Asio HTTP",
     ("callgrind-http-c10", "uvasync-streams"), ("callgrind-http-c10", "asio"), 0.4),
]

# uvasync::http's targets: (label, metric, measured (case, impl), reference
# (case, impl) or None for an absolute limit, "min" (ratio at least the
# limit) or "max" (at most), limit).  Metrics are keys of the medians;
# req/s targets hold for every case listed.
HTTP_TARGETS = [
    ("req/s, HTTP hello c10 / raw libuv", "rps", ("http-c10", "uvasync"), ("http-c10", "libuv"), "min", 0.9),
    ("req/s, HTTP hello c100 / raw libuv", "rps", ("http-c100", "uvasync"), ("http-c100", "libuv"), "min", 0.9),
    ("req/s, HTTP hello c10 / Beast", "rps", ("http-c10", "uvasync"), ("http-c10", "beast"), "min", 1.0),
    ("req/s, HTTP hello c100 / Beast", "rps", ("http-c100", "uvasync"), ("http-c100", "beast"), "min", 1.0),
    ("req/s, 4 KiB POST echo / Beast", "rps", ("http-post-4KiB", "uvasync"), ("http-post-4KiB", "beast"),
     "min", 1.0),
    ("req/s, HTTP hello c10 / aiohttp on uvloop", "rps", ("http-c10", "uvasync"), ("http-c10", "aiohttp-uvloop"),
     "min", 5.0),
    ("req/s, HTTP hello c100 / aiohttp on uvloop", "rps", ("http-c100", "uvasync"),
     ("http-c100", "aiohttp-uvloop"), "min", 5.0),
    ("req/s, 4 KiB POST echo / aiohttp on uvloop", "rps", ("http-post-4KiB", "uvasync"),
     ("http-post-4KiB", "aiohttp-uvloop"), "min", 5.0),
    ("instructions per request, HTTP hello / raw libuv", "ir_per_request", ("callgrind-http-c10", "uvasync"),
     ("callgrind-http-c10", "libuv"), "max", 1.5),
    ("server memory per idle keep-alive connection, after a request (bytes)", "rss_per_conn_bytes",
     ("idle-http-5k", "uvasync"), None, "max", 2048),
    ("client req/s, 10,000 GETs / aiohttp's client on uvloop", "rps", ("http-client-10k", "uvasync"),
     ("http-client-10k", "aiohttp-uvloop"), "min", 5.0),
]

# burst-10k: RSS a few idle seconds after the burst <= factor x RSS at start + slack.
BURST_TARGET = {"factor": 2.0, "slack_kib": 4096}



# ---- programs (issues 9 and 12) -----------------------------------------------
# Whole programs against their asyncio originals (examples/python/, bench/py_*.py;
# on asyncio and on uvloop, listed under the streams implementations, or
# under aiohttp's for the aiohttp programs). A case of kind K runs the driver
# PROGRAM_DRIVERS[K] with the case's "args", "--" and the implementation's
# command for K (without a driver: the command with the args); the driver
# (or the program) prints one JSON sample, its last line. "metric" is the
# figure compared with the reference (REF_UVLOOP[K]), "sense" whether higher
# or lower is better, "target" the least ratio over the reference the issue
# asks for, or, with "target_metric", the least value of that figure.
_EX = "%BENCH/../examples/python/"
PROGRAMS = {  # kind: uvasync's program, the Python original, its rows on asyncio and on uvloop
    "push": ("@push_service", _EX + "push_service.py", "asyncio-streams", "uvloop-streams"),
    "pipeline": ("@data_pipeline", _EX + "data_pipeline.py", "asyncio-streams", "uvloop-streams"),
    "spawn": ("@uvasync_spawn", "%BENCH/py_spawn.py", "asyncio-streams", "uvloop-streams"),
    "gateway": ("@api_gateway", _EX + "api_gateway.py", "aiohttp-asyncio", "aiohttp-uvloop"),
    "crawler": ("@crawler", _EX + "crawler.py", "aiohttp-asyncio", "aiohttp-uvloop"),
}
for kind, (program, original, on_asyncio, on_uvloop) in PROGRAMS.items():
    IMPLEMENTATIONS["uvasync"][kind] = [program]
    IMPLEMENTATIONS[on_asyncio][kind] = ["%PY", original]
    IMPLEMENTATIONS[on_uvloop][kind] = ["%PY", original, "--uvloop"]
    REF_UVLOOP[kind] = on_uvloop
# The spawn cases' ceiling: the same loop on raw libuv callbacks.
IMPLEMENTATIONS["libuv"]["spawn"] = ["@libuv_spawn"]
IMPLEMENTATIONS["uvasync"]["files"] = ["@uvasync_files"]
IMPLEMENTATIONS["asyncio-streams"]["files"] = ["%PY", "%BENCH/py_files.py"]
IMPLEMENTATIONS["cpp-blocking"] = {"files": ["@uvasync_files", "--blocking"], "native": True,
                                   "about": "plain blocking read(2) in C++ (uvasync_files --blocking): "
                                            "the files cases' reference"}
IMPL_ORDER = list(IMPLEMENTATIONS)
REF_UVLOOP["files"] = "cpp-blocking"
SERVER_KINDS = SERVER_KINDS + ("push", "pipeline", "spawn", "gateway", "crawler", "files")
PROGRAM_DRIVERS = {
    "push": ["%PY", "%BENCH/programs/push_bench.py", "--load", "@push_load"],
    "pipeline": ["%PY", "%BENCH/programs/pipeline_bench.py"],
    "gateway": ["%PY", "%BENCH/programs/gateway_bench.py", "--backend", "@uvasync_http_lib"],
    "crawler": ["%PY", "%BENCH/programs/crawler_bench.py", "--site", "@crawler_site"],
    "files": ["%PY", "%BENCH/programs/files_bench.py"],
}
# The figures of a sample shown beside the metric: kind -> (label, key, digits).
PROGRAM_FIGURES = {
    "push": [("p99 µs", "p99_us", 0), ("service CPU µs / delivery", "service_cpu_total_us", 2)],
    "pipeline": [("wall s", "wall_s", 1), ("CPU µs / record", "cpu_us_per_record", 2)],
    "gateway": [("p99 µs", "p99_us", 0), ("CPU µs / request", "cpu_us_per_request", 1)],
    "crawler": [("of the ideal", "of_ideal", 2), ("of wrk -c20", "of_wrk_c20", 2),
                ("CPU µs / page", "cpu_us_per_page", 0)],
    "spawn": [("seconds", "seconds", 2)],
    "files": [("median s", "median_seconds", 3), ("CPU s", "median_cpu_seconds", 3)],
}
CASES += [
    {"name": "push-1k", "kind": "push", "method": "program", "metric": "deliveries_per_s", "sense": "higher",
     "target": 5.0, "args": ["--subscribers", "1000", "--seconds", "3", "--window", "100"], "estimate_s": 6},
    {"name": "push-1k-latency", "kind": "push", "method": "program", "metric": "p99_us", "sense": "lower",
     "target": 5.0, "args": ["--subscribers", "1000", "--seconds", "3", "--window", "1"], "estimate_s": 6},
    {"name": "pipeline-1M", "kind": "pipeline", "method": "program", "metric": "records_per_s", "sense": "higher",
     "target": 5.0, "args": ["--records", "1000000"], "estimate_s": 10},
    {"name": "gateway-c100", "kind": "gateway", "method": "program", "metric": "rps", "sense": "higher",
     "target": 5.0, "args": ["--conns", "100", "--seconds", "3"], "estimate_s": 5},
    {"name": "crawler-1k", "kind": "crawler", "method": "program", "metric": "pages_per_s", "sense": "higher",
     "target": 0.9, "target_metric": "of_ideal", "args": ["--pages", "1000", "--delay-ms", "5"], "estimate_s": 2},
    {"name": "spawn-seq-1k", "kind": "spawn", "method": "program", "metric": "spawns_per_second",
     "sense": "higher", "target": 3.0, "args": ["sequential", "1000"], "estimate_s": 1.5},
    {"name": "spawn-100", "kind": "spawn", "method": "program", "metric": "spawns_per_second",
     "sense": "higher", "target": 3.0, "args": ["concurrent", "100", "10"], "estimate_s": 1.5},
    {"name": "files-read-100MiB", "kind": "files", "method": "program", "metric": "mib_per_second",
     "sense": "higher", "target": 0.9, "args": ["--case", "read_file"], "estimate_s": 2},
    {"name": "files-lines-1M", "kind": "files", "method": "program", "metric": "lines_per_second",
     "sense": "higher", "target": 0.9, "args": ["--case", "lines"], "estimate_s": 2},
]
QUICK_CASES.append("spawn-seq-1k")
CASE_TITLES.update({
    "push-1k": "Push service: messages delivered per second to 1,000 subscribers (100 messages in flight)",
    "push-1k-latency": "Push service: delivery latency to 1,000 subscribers, one message at a time",
    "pipeline-1M": "Data pipeline: 1 M JSON records, gzip in, transformed batches gzip out",
    "gateway-c100": "API gateway: wrk -c100 POSTs through the gateway to a JSON backend",
    "crawler-1k": "Crawler: 1,000 pages answered after 5 ms each, 20 requests at once",
    "spawn-seq-1k": "Subprocesses: spawn + wait of /bin/true, 1,000 in sequence",
    "spawn-100": "Subprocesses: spawn + wait of /bin/true, 100 at once, 10 rounds",
    "files-read-100MiB": "Files: read a 100 MiB file whole",
    "files-lines-1M": "Files: read a 1 M-line file line by line",
})
# ---- end of programs ----------------------------------------------------------


def case_method(case):
    return case.get("method") or {"idle": "idle", "burst": "burst", "idle_http": "idle_http",
                                  "http_client": "client"}.get(case["kind"], "load")


def server_kind(case):
    """The kind of server a case runs against (for the client benchmark: the
    kind of client it runs)."""
    return {"idle": "echo", "burst": "echo", "idle_http": "http"}.get(case["kind"], case["kind"])


def case_refs(case):
    """The case's reference implementations: (ceiling, uvloop column)."""
    return case.get("ref_ceiling", REF_CEILING), case.get("ref_uvloop", REF_UVLOOP[case["kind"]])


def case_impls(case, impls, quick=False):
    """The implementations (from `impls`, in order) that take part in a case."""
    kind = server_kind(case)
    return [i for i in impls
            if kind in IMPLEMENTATIONS[i] and (IMPLEMENTATIONS[i].get("native") or not case.get("native_only"))
            and (IMPLEMENTATIONS[i].get("http_bodies") or not case.get("bodies"))
            and not (quick and "quick_impls" in case and i not in case["quick_impls"])]


def evaluate_http_targets(results):
    """The HTTP_TARGETS against results[case][impl]["median"]."""
    def value(case, impl, metric):
        m = (results.get(case, {}).get(impl) or {}).get("median") or {}
        return m.get(metric)

    out = []
    for label, metric, (mc, mi), ref, sense, limit in HTTP_TARGETS:
        a = value(mc, mi, metric)
        if ref is None:
            b, r = None, a
        else:
            b = value(ref[0], ref[1], metric)
            r = a / b if a is not None and b else None
        met = None if r is None else (r >= limit if sense == "min" else r <= limit)
        out.append({"target": label, "metric": metric, "measured": [mc, mi],
                    "reference": None if ref is None else list(ref), "sense": sense, "limit": limit,
                    "value": a, "reference_value": b, "ratio": None if ref is None else r, "met": met})
    return out


def evaluate_targets(results):
    """The CALLGRIND_TARGETS against results[case][impl]["median"]["ir_per_request"]."""
    def ir(case, impl):
        m = (results.get(case, {}).get(impl) or {}).get("median") or {}
        return m.get("ir_per_request")

    out = []
    for label, (mc, mi), (rc, ri), limit in CALLGRIND_TARGETS:
        a, b = ir(mc, mi), ir(rc, ri)
        r = a / b if a is not None and b else None
        out.append({"target": label, "measured": [mc, mi], "reference": [rc, ri], "limit": limit,
                    "ir_per_request": a, "reference_ir_per_request": b,
                    "ratio": r, "met": None if r is None else r <= limit})
    return out


def rel(path):
    """A path relative to the repository when it is inside it."""
    try:
        return str(Path(path).relative_to(ROOT))
    except ValueError:
        return str(path)


class Binaries:
    """Looks binaries up in <build>/bench, <build> and build/bench-standalone."""

    def __init__(self, build_dir):
        b = Path(build_dir) if build_dir else ROOT / "build" / "release"
        if not b.is_absolute():
            b = ROOT / b
        self.dirs = [b / "bench", b, b / "examples", ROOT / "build" / "bench-standalone"]

    def find(self, name):
        for d in self.dirs:
            p = d / name
            if p.is_file() and os.access(p, os.X_OK):
                return p
        return None

    def resolve(self, impl, kind):
        """Command list for (impl, kind) or raise LookupError(reason)."""
        spec = IMPLEMENTATIONS[impl].get(kind)
        if spec is None:
            raise LookupError(f"no {kind} server")
        cmd = []
        for part in spec:
            if part.startswith("@"):
                path = self.find(part[1:])
                if path is None:
                    raise LookupError(f"not built ({rel(self.dirs[0] / part[1:])})")
                cmd.append(str(path))
            elif part in ("%CERT", "%KEY"):
                cmd.append(tls_files()[0 if part == "%CERT" else 1])
            else:
                cmd.append(part.replace("%PY", PY).replace("%BENCH", str(BENCH)))
        return cmd
