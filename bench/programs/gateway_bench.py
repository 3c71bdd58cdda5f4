#!/usr/bin/python3
"""The API gateway benchmark (issue 12's "programs" section): wrk through
the gateway to a fast JSON backend, the uvasync port (examples/api_gateway)
beside its aiohttp original (examples/python/api_gateway.py) on asyncio and
on uvloop.

    /usr/bin/python3 bench/programs/gateway_bench.py [--build-dir build/release]
        [--duration 5] [--repeats 1] [--conns 100] [--callgrind] [--out bench/results/latest]

Requests: POST /echo with a 90-byte JSON body (bench/programs/gateway_post.lua),
forwarded every time (only GETs are cached) to bench's uvasync_http_lib,
which echoes it; the rate limit is raised out of the way (the limiter still
runs). The gateway runs on CPU 0, wrk and the backend on CPU 1. Reports req/s,
p99 and the gateway's CPU per request (/proc/PID/stat); with --callgrind
also its user-space instructions per request (callgrind, bench's
http_count as the client, 10 connections). Writes programs-gateway.json
into --out (bench/report.py adds it to results.md).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from benchsuite.catalog import PY, ROOT, Binaries  # noqa: E402
from benchsuite.measure import parse_wrk  # noqa: E402
from benchsuite.procs import (CLIENT_CPU, SERVER_CPU, Ports, install_cleanup, read_proc_cpu, run_client,  # noqa: E402
                              spawn, stop_process, wait_ready)


def gateway_cmds(build_dir):
    exe = Path(build_dir) / "examples" / "api_gateway"
    if not exe.is_absolute():
        exe = ROOT / exe
    py = [PY, str(ROOT / "examples" / "python" / "api_gateway.py")]
    return {"uvasync": [str(exe)], "aiohttp-asyncio": py, "aiohttp-uvloop": py + ["--uvloop"]}


def start_gateway(cmd, backend_port):
    proc = spawn(["taskset", "-c", SERVER_CPU] + cmd +
                 ["--port", "0", "--backend", f"http://127.0.0.1:{backend_port}",
                  "--rate-limit", "1000000000", "--rate-window", "1"],
                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    m = re.search(r"listening on http://[^:]+:(\d+)", proc.stdout.readline())
    if not m:
        stop_process(proc)
        raise RuntimeError(f"{cmd[0]}: no 'listening on' line")
    return proc, int(m.group(1))


def wrk(port, conns, seconds):
    cmd = ["taskset", "-c", CLIENT_CPU, "wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency",
           "-s", str(HERE / "gateway_post.lua"), f"http://127.0.0.1:{port}/"]
    rc, out, err = run_client(cmd, timeout=seconds + 30)
    if rc != 0:
        raise RuntimeError(f"wrk exit {rc}: {err.strip()[-300:]}")
    return parse_wrk(out)


def sample(cmd, backend_port, conns, duration):
    proc, port = start_gateway(cmd, backend_port)
    try:
        wrk(port, conns, 1)  # warm-up: connections, caches, the JIT-less interpreter's first calls
        cpu_a = read_proc_cpu(proc.pid)
        r = wrk(port, conns, duration)
        cpu_b = read_proc_cpu(proc.pid)
    finally:
        stop_process(proc)
    cpu_s = (cpu_b[0] - cpu_a[0]) + (cpu_b[1] - cpu_a[1])
    return {"rps": r["rps"], "p99_us": r.get("p99_us"), "p50_us": r.get("p50_us"), "requests": r["requests"],
            "errors": r.get("errors", 0), "cpu_us_per_request": cpu_s * 1e6 / max(1, r["requests"])}


def callgrind_ir(cmd, backend_port, http_count, requests):
    """User-space instructions of the gateway process serving `requests`
    POSTs from bench's http_count (10 connections), start-up included."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = spawn(["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/cg.%p"] + cmd +
                     ["--port", "0", "--backend", f"http://127.0.0.1:{backend_port}",
                      "--rate-limit", "1000000000", "--rate-window", "1"],
                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                     env=dict(os.environ, UVASYNC_NO_FRAME_POOL="0"))
        m = re.search(r"listening on http://[^:]+:(\d+)", proc.stdout.readline())
        try:
            if not m:
                raise RuntimeError(f"{cmd[0]} under valgrind: no 'listening on' line")
            rc, out, err = run_client([str(http_count), "--port", m.group(1), "--requests", str(requests),
                                       "--conns", "10", "--path", "/echo", "--post", "90"], timeout=1800)
            if rc != 0:
                raise RuntimeError(f"http_count exit {rc}: {err.strip()[-300:]}")
        finally:
            stop_process(proc, grace=120)
        total = 0
        for f in Path(tmp).glob("cg.*"):
            m = re.search(r"^summary:\s+(\d+)", f.read_text(errors="replace"), re.M)
            total += int(m.group(1)) if m else 0
        return total


def callgrind(cmds, backend_port, binaries):
    """Instructions per request: the difference of two runs (n and 4n
    requests) over 3n, so that start-up and shutdown cancel out."""
    http_count = binaries.find("http_count")
    if http_count is None:
        sys.exit("gateway_bench: http_count not built")
    out = {}
    for name, cmd in cmds.items():
        n = 2000 if name == "uvasync" else 300  # the interpreter runs ~50x slower under valgrind
        a = callgrind_ir(cmd, backend_port, http_count, n)
        b = callgrind_ir(cmd, backend_port, http_count, 4 * n)
        out[name] = {"ir_per_request": (b - a) / (3 * n), "requests": [n, 4 * n], "instructions": [a, b]}
        print(f"{name:16} {out[name]['ir_per_request']:>12,.0f} instructions per request", flush=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build-dir", default="build/release")
    ap.add_argument("--duration", type=int, default=5, help="seconds of wrk per sample")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--conns", type=int, default=100)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "latest"))
    ap.add_argument("--callgrind", action="store_true",
                    help="also count instructions per request under callgrind (about 5 minutes)")
    args = ap.parse_args()
    install_cleanup()
    binaries = Binaries(args.build_dir)
    backend_exe = binaries.find("uvasync_http_lib")
    if backend_exe is None:
        sys.exit("gateway_bench: uvasync_http_lib not built (cmake --preset release && cmake --build --preset release)")
    cmds = gateway_cmds(args.build_dir)
    port = Ports().take()
    backend = spawn(["taskset", "-c", CLIENT_CPU, str(backend_exe), "--port", str(port)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not wait_ready(port, backend):
        sys.exit("gateway_bench: the backend did not start")
    samples = {name: [] for name in cmds}
    counted = None
    try:
        if args.callgrind:
            counted = callgrind(cmds, port, binaries)
        for _ in range(args.repeats):
            for name, cmd in cmds.items():  # implementations take turns within a repeat
                s = sample(cmd, port, args.conns, args.duration)
                samples[name].append(s)
                print(f"{name:16} {s['rps']:>9,.0f} req/s  p99 {s['p99_us'] / 1000:7.2f} ms  "
                      f"cpu {s['cpu_us_per_request']:6.1f} us/req  errors {s['errors']}", flush=True)
    finally:
        stop_process(backend)
    med = {name: {k: statistics.median(x[k] for x in ss) for k in ss[0]} for name, ss in samples.items()}
    ratios = {f"uvasync / {ref}": {"rps": med["uvasync"]["rps"] / med[ref]["rps"],
                                    "p99": med["uvasync"]["p99_us"] / med[ref]["p99_us"],
                                    "cpu_per_request": med["uvasync"]["cpu_us_per_request"] /
                                                       med[ref]["cpu_us_per_request"]}
              for ref in ("aiohttp-asyncio", "aiohttp-uvloop")}
    if counted:
        for ref in ("aiohttp-asyncio", "aiohttp-uvloop"):
            ratios[f"uvasync / {ref}"]["ir_per_request"] = (counted["uvasync"]["ir_per_request"] /
                                                            counted[ref]["ir_per_request"])
    target = ratios["uvasync / aiohttp-uvloop"]["rps"]
    for label, r in ratios.items():
        print(f"{label}: req/s x{r['rps']:.2f}, p99 x{r['p99']:.3f}, CPU/request x{r['cpu_per_request']:.3f}")
    print(f"target req/s >= 5x uvloop: {'met' if target >= 5 else 'missed'} (x{target:.2f})")
    doc = {"benchmark": "gateway", "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "command": " ".join(["bench/programs/gateway_bench.py"] + sys.argv[1:]),
           "load_average_1min": os.getloadavg()[0], "setup": {"conns": args.conns, "duration_s": args.duration, "repeats": args.repeats,
                     "request": "POST /echo, 90-byte JSON body", "backend": "uvasync_http_lib"},
           "medians": med, "samples": samples, "ratios": ratios, "callgrind": counted,
           "target": {"what": "req/s uvasync / aiohttp-uvloop", "limit": 5.0, "value": target, "met": target >= 5}}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "programs-gateway.json").write_text(json.dumps(doc, indent=1) + "\n")
    print(f"gateway_bench: wrote {out / 'programs-gateway.json'}")


if __name__ == "__main__":
    main()
