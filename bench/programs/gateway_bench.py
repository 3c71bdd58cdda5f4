"""One sample of the API gateway benchmark (the suite's "gateway-c100" case).

    /usr/bin/python3 bench/programs/gateway_bench.py --backend PATH/uvasync_http_lib [--conns 100]
                     [--seconds 3] -- GATEWAY COMMAND...

Starts the backend (bench's uvasync_http_lib, which echoes POST /echo) and
wrk pinned to CPU 1, the gateway (GATEWAY COMMAND + "--port 0 --backend URL"
with the rate limit raised out of the way; the limiter still runs) pinned to
CPU 0, waits for its "listening on" line, warms it up with 1 s of wrk, then
runs wrk -t1 -cN for --seconds: POST /echo with a 90-byte JSON body
(gateway_post.lua; only GETs are cached, so every request crosses both
hops). Prints one JSON object: req/s, latency, errors and the gateway's CPU
time per request (/proc/PID/stat); with "error" and exit status 1 when
something fails.
"""
import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from benchsuite.measure import parse_wrk  # noqa: E402
from benchsuite.procs import (CLIENT_CPU, SERVER_CPU, Ports, install_cleanup, read_proc_cpu, run_client,  # noqa: E402
                              spawn, stop_process, wait_ready)


def wrk(port, conns, seconds):
    rc, out, err = run_client(["taskset", "-c", CLIENT_CPU, "wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency",
                               "-s", str(HERE / "gateway_post.lua"), f"http://127.0.0.1:{port}/"],
                              timeout=seconds + 30)
    if rc != 0:
        raise RuntimeError(f"wrk exit {rc}: {err.strip()[-300:]}")
    return parse_wrk(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", required=True)
    ap.add_argument("--conns", type=int, default=100)
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("gateway", nargs="+")
    args = ap.parse_args()
    install_cleanup()
    backend = gateway = None
    try:
        port = Ports().take()
        backend = spawn(["taskset", "-c", CLIENT_CPU, args.backend, "--port", str(port)],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_ready(port, backend):
            raise RuntimeError("the backend did not start")
        gateway = spawn(["taskset", "-c", SERVER_CPU, *args.gateway, "--port", "0", "--backend",
                         f"http://127.0.0.1:{port}", "--rate-limit", "1000000000", "--rate-window", "1"],
                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        m = re.search(r"listening on http://[^:]+:(\d+)", gateway.stdout.readline())
        if not m:
            raise RuntimeError("the gateway did not start (no 'listening on' line)")
        wrk(m.group(1), args.conns, 1)  # warm-up: connections, caches, the interpreter's first calls
        user0, sys0 = read_proc_cpu(gateway.pid)
        r = wrk(m.group(1), args.conns, args.seconds)
        user1, sys1 = read_proc_cpu(gateway.pid)
        requests = r.get("requests") or 0
        if not requests or r.get("errors"):
            raise RuntimeError(f"{requests} requests, {r.get('errors')} errors")
        print(json.dumps({"rps": r["rps"], "requests": requests, "errors": r["errors"], "p50_us": r.get("p50_us"),
                          "p99_us": r.get("p99_us"), "p999_us": r.get("p999_us"),
                          "cpu_us_per_request": (user1 - user0 + sys1 - sys0) * 1e6 / requests}))
        return 0
    except Exception as e:
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
        return 1
    finally:
        for proc in (gateway, backend):
            if proc:
                stop_process(proc)


if __name__ == "__main__":
    sys.exit(main())
