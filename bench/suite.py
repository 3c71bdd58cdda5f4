#!/usr/bin/python3
"""uvasync benchmark suite: asyncio vs uvloop vs raw libuv vs Boost.Asio vs
uvasync, in one run, on one machine.

    /usr/bin/python3 bench/suite.py [--quick] [--repeats N] [--impls a,b]
                                    [--cases x,y] [--build-dir DIR] [--out DIR]

Every server runs pinned to CPU 0 and every client (bench/loadgen or wrk) to
CPU 1 with taskset.  Each (case, implementation) pair is measured --repeats
times, with a fresh server process per sample; implementations take turns
within each repeat.  The medians of the samples are reported.  See
bench/README.md for the method and for how to add an implementation.

Writes bench/results/<UTC timestamp>/{results.json,results.md,*.png} and
copies them to bench/results/latest/.
"""
from __future__ import annotations

import argparse
import atexit
import datetime as dt
import json
import os
import platform
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PY = "/usr/bin/python3"          # Debian's python: has uvloop and matplotlib
SERVER_CPU = "0"
CLIENT_CPU = "1"

# --------------------------------------------------------------------------
# Implementations, discovered by name.  Each kind of server ("echo": byte
# echo, "line": readline echo, "http": hello server) is a command; "@NAME" is
# a binary from the build directory (bench/ subdirectory of the build), "%PY"
# is Debian's python3, "%BENCH" is this directory.  The suite appends
# "--port N".  A missing binary skips that implementation with
# "skipped: not built".
# --------------------------------------------------------------------------


def _py(loop, mode):
    return ["%PY", "%BENCH/servers/py_server.py", "--loop", loop, "--mode", mode]


IMPLEMENTATIONS = {
    "libuv": {
        "echo": ["@libuv_echo"],
        "line": ["@libuv_echo", "--line"],
        "http": ["@libuv_http"],
        "about": "raw libuv callbacks (C), the ceiling",
    },
    "asio": {
        "echo": ["@asio_echo"],
        "line": ["@asio_echo", "--line"],
        "http": ["@asio_http"],
        "about": "Boost.Asio 1.81, C++20 coroutines, io_context{1}",
    },
    "asyncio-streams": {
        "echo": _py("asyncio", "echo-streams"),
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
        "line": ["@uvasync_readline_echo_server"],
        "http": ["@uvasync_http_server"],
        "about": "uvasync (this project): start_server + stream_reader/stream_writer",
    },
}
IMPL_ORDER = list(IMPLEMENTATIONS)

# The reference columns of the tables.
REF_CEILING = "libuv"
REF_UVLOOP = {"echo": "uvloop-streams", "line": "uvloop-streams",
              "idle": "uvloop-streams", "http": "uvloop-protocol"}

# --------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------

CASES = [
    # name, kind, size, connections, pipeline
    {"name": "echo-64B", "kind": "echo", "size": 64, "conns": 100, "pipeline": 1},
    {"name": "echo-1KiB", "kind": "echo", "size": 1024, "conns": 100, "pipeline": 1},
    {"name": "echo-16KiB", "kind": "echo", "size": 16384, "conns": 100, "pipeline": 1},
    {"name": "echo-100KiB", "kind": "echo", "size": 102400, "conns": 100, "pipeline": 1},
    {"name": "echo-1KiB-c10", "kind": "echo", "size": 1024, "conns": 10, "pipeline": 1},
    {"name": "echo-1KiB-c1000", "kind": "echo", "size": 1024, "conns": 1000, "pipeline": 1},
    {"name": "echo-64B-p16", "kind": "echo", "size": 64, "conns": 100, "pipeline": 16},
    {"name": "readline-1KiB", "kind": "line", "size": 1024, "conns": 100, "pipeline": 1},
    {"name": "http-c10", "kind": "http", "conns": 10},
    {"name": "http-c100", "kind": "http", "conns": 100},
    {"name": "idle-10k", "kind": "idle", "conns": 10000},
]
QUICK_CASES = ["echo-1KiB", "echo-64B-p16", "readline-1KiB", "http-c100", "idle-10k"]

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
    "idle-10k": "10,000 idle connections: server memory",
}

# --------------------------------------------------------------------------
# Process bookkeeping: nothing may outlive the suite.
# --------------------------------------------------------------------------

LIVE: set = set()


def _killpg(proc, sig):
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_process(proc, grace=3.0):
    if proc.poll() is None:
        _killpg(proc, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            _killpg(proc, signal.SIGKILL)
            proc.wait()
    LIVE.discard(proc)


def cleanup():
    for proc in list(LIVE):
        stop_process(proc, grace=1.0)


def _on_signal(signum, frame):
    cleanup()
    sys.stderr.write(f"\nsuite: interrupted by signal {signum}\n")
    os._exit(128 + signum)


def spawn(cmd, **kw):
    proc = subprocess.Popen(cmd, start_new_session=True, **kw)
    LIVE.add(proc)
    return proc


def run_client(cmd, timeout):
    """Run a client to completion in its own process group; returns
    (returncode, stdout, stderr)."""
    proc = spawn(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_process(proc, grace=0.5)
        out, err = proc.communicate()
        LIVE.discard(proc)
        return None, out, (err or "") + f"\n[timed out after {timeout:.0f} s]"
    LIVE.discard(proc)
    return proc.returncode, out, err


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------

class Ports:
    def __init__(self):
        self.next = random.randint(20000, 28000)

    def take(self):
        for _ in range(1000):
            port = self.next
            self.next = 20000 if self.next >= 30000 else self.next + 1
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                    return port
                except OSError:
                    continue
        raise RuntimeError("no free port in 20000-30000")


def read_proc_cpu(pid):
    """(utime, stime) in seconds from /proc/PID/stat, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(")") + 2:].split()
    tck = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tck, int(fields[12]) / tck


def read_cpu_stat():
    """Per-CPU [user+nice, system, irq+softirq, steal, idle+iowait] jiffies."""
    rows = []
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3].isdigit():
                v = [int(x) for x in line.split()[1:9]]
                rows.append([v[0] + v[1], v[2], v[5] + v[6], v[7], v[3] + v[4]])
    return rows


def stat_delta_pct(a, b):
    out = []
    for ra, rb in zip(a, b):
        d = [y - x for x, y in zip(ra, rb)]
        t = sum(d) or 1
        out.append({k: round(100 * v / t, 1) for k, v in zip(("user", "system", "irq", "steal", "idle"), d)})
    return out


def read_status_kib(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def wait_ready(port, proc, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.01)
    return False


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def cmd_output(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


# --------------------------------------------------------------------------
# The suite
# --------------------------------------------------------------------------

class Suite:
    def __init__(self, args):
        self.args = args
        self.quick = args.quick
        self.repeats = args.repeats if args.repeats else (1 if self.quick else 3)
        self.duration = args.duration if args.duration else (1.0 if self.quick else 2.0)
        self.warmup = args.warmup if args.warmup is not None else (0.5 if self.quick else 0.5)
        # wrk only takes whole seconds
        self.wrk_duration = max(1, int(round(self.duration)))
        self.wrk_warmup = 1
        self.idle_hold = 1.0 if self.quick else 2.0
        self.build_dirs = self._build_dirs(args.build_dir)
        self.loadgen = self.find_binary("loadgen")
        self.ports = Ports()
        names = [c["name"] for c in CASES]
        if args.cases:
            wanted = args.cases.split(",")
            for w in wanted:
                if w not in names:
                    sys.exit(f"suite: unknown case {w!r}; known: {', '.join(names)}")
            self.cases = [c for c in CASES if c["name"] in wanted]
        elif self.quick:
            self.cases = [c for c in CASES if c["name"] in QUICK_CASES]
        else:
            self.cases = list(CASES)
        if args.impls:
            wanted = args.impls.split(",")
            for w in wanted:
                if w not in IMPLEMENTATIONS:
                    sys.exit(f"suite: unknown implementation {w!r}; known: {', '.join(IMPL_ORDER)}")
            self.impls = [i for i in IMPL_ORDER if i in wanted]
        else:
            self.impls = list(IMPL_ORDER)
        self.results = {}       # case name -> impl -> {"samples": [...], "median": {...}} or skip
        self.skipped = {}       # (impl, kind) -> reason
        self.log_lines = []

    # ---- discovery -------------------------------------------------------
    @staticmethod
    def _build_dirs(build_dir):
        b = Path(build_dir) if build_dir else ROOT / "build" / "release"
        if not b.is_absolute():
            b = ROOT / b
        return [b / "bench", b, ROOT / "build" / "bench-standalone"]

    def find_binary(self, name):
        for d in self.build_dirs:
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
                path = self.find_binary(part[1:])
                if path is None:
                    raise LookupError(f"not built ({rel(self.build_dirs[0] / part[1:])})")
                cmd.append(str(path))
            else:
                cmd.append(part.replace("%PY", PY).replace("%BENCH", str(BENCH)))
        return cmd

    def say(self, msg):
        print(msg, flush=True)
        self.log_lines.append(msg)

    # ---- budget ----------------------------------------------------------
    def estimate_seconds(self):
        total = 0.0
        for case in self.cases:
            for impl in self.impls:
                py = IMPLEMENTATIONS[impl][server_kind(case)][0] == "%PY"
                startup = 0.35 if py else 0.05
                if case["kind"] == "http":
                    per = startup + self.wrk_warmup + self.wrk_duration + 0.25
                elif case["kind"] == "idle":
                    per = startup + (2.0 if py else 1.0) + 0.5 + max(0.0, self.idle_hold - 1.5) + 0.3
                else:
                    per = startup + self.warmup + self.duration + 0.2 + case["conns"] / 2000
                total += per * self.repeats
        total += 8 if self.quick else 26          # py_micro, both loops
        total += 30 if self.quick else 90         # uvasync_micro budget (when built)
        return total

    # ---- one sample --------------------------------------------------------
    def start_server(self, cmd, port, errfile):
        proc = spawn(["taskset", "-c", SERVER_CPU, *cmd, "--port", str(port)],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errfile)
        if not wait_ready(port, proc):
            stop_process(proc)
            errfile.seek(0)
            tail = errfile.read().decode(errors="replace")[-500:]
            raise RuntimeError(f"server did not start (exit {proc.returncode}): {tail.strip()}")
        time.sleep(0.05)
        return proc

    def measure(self, case, cmd):
        port = self.ports.take()
        with tempfile.TemporaryFile() as errfile:
            proc = self.start_server(cmd, port, errfile)
            try:
                if case["kind"] in ("echo", "line"):
                    sample = self.measure_echo(case, port, proc)
                elif case["kind"] == "http":
                    sample = self.measure_http(case, port, proc)
                else:
                    sample = self.measure_idle(case, port, proc)
                if proc.poll() is not None:
                    sample["ok"] = False
                    sample["error"] = f"server exited with {proc.returncode} during the run"
            finally:
                stop_process(proc)
                errfile.seek(0)
                err = errfile.read().decode(errors="replace").strip()
            if err:
                sample["server_stderr"] = err[-2000:]
        return sample

    def measure_echo(self, case, port, proc):
        cmd = ["taskset", "-c", CLIENT_CPU, str(self.loadgen), "--port", str(port),
               "--mode", "line" if case["kind"] == "line" else "echo",
               "--conns", str(case["conns"]), "--size", str(case["size"]),
               "--pipeline", str(case["pipeline"]), "--duration", str(self.duration),
               "--warmup", str(self.warmup), "--server-pid", str(proc.pid)]
        rc, out, err = run_client(cmd, timeout=self.duration + self.warmup + 40)
        if rc != 0:
            return {"ok": False, "error": f"loadgen exit {rc}: {err.strip()[-300:]}"}
        raw = json.loads(out)
        requests = raw["requests"]
        cpu = raw.get("server_cpu") or {}
        sample = {
            "ok": raw["all_connected"] and requests > 0,
            "rps": raw["rps"], "mib_s": raw["mib_s"], "requests": requests,
            "p50_us": raw["latency_us"]["p50"], "p99_us": raw["latency_us"]["p99"],
            "p999_us": raw["latency_us"]["p999"],
            "errors": raw["errors"] + raw.get("verify_errors", 0),
            "server_hwm_kib": raw.get("server_hwm_kib"),
            "window_s": raw["duration_s"],
            "raw": raw,
        }
        if not raw["all_connected"]:
            sample["error"] = f"only {raw['connected']}/{raw['connections']} connections opened"
        self._cpu_fields(sample, cpu.get("user_s"), cpu.get("sys_s"), requests)
        self._noise(sample, raw, cpu)
        return sample

    def measure_http(self, case, port, proc):
        url = f"http://127.0.0.1:{port}/"
        base = ["taskset", "-c", CLIENT_CPU, "wrk", "-t1", f"-c{case['conns']}"]
        rc, out, err = run_client(base + [f"-d{self.wrk_warmup}s", url], timeout=self.wrk_warmup + 30)
        if rc != 0:
            return {"ok": False, "error": f"wrk warm-up exit {rc}: {err.strip()[-300:]}"}
        cpu_a = read_proc_cpu(proc.pid)
        stat_a = read_cpu_stat()
        kids_a = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        rc, out, err = run_client(base + [f"-d{self.wrk_duration}s", "--latency", "-s",
                                          str(BENCH / "wrk" / "report.lua"), url],
                                  timeout=self.wrk_duration + 30)
        elapsed = time.monotonic() - t0
        cpu_b = read_proc_cpu(proc.pid)
        stat_b = read_cpu_stat()
        kids_b = resource.getrusage(resource.RUSAGE_CHILDREN)  # = wrk: the only child reaped meanwhile
        hwm = read_status_kib(proc.pid, "VmHWM")
        if rc != 0:
            return {"ok": False, "error": f"wrk exit {rc}: {err.strip()[-300:]}"}
        parsed = parse_wrk(out)
        requests = parsed.get("requests") or 0
        sample = {
            "ok": requests > 0 and parsed.get("rps") is not None,
            "rps": parsed.get("rps"), "mib_s": parsed.get("mib_s"), "requests": requests,
            "p50_us": parsed.get("p50_us"), "p99_us": parsed.get("p99_us"),
            "p999_us": parsed.get("p999_us"), "errors": parsed.get("errors", 0),
            "server_hwm_kib": hwm, "window_s": elapsed,
            "raw": {"wrk_stdout": out, "parsed": parsed},
        }
        if cpu_a and cpu_b:
            self._cpu_fields(sample, cpu_b[0] - cpu_a[0], cpu_b[1] - cpu_a[1], requests)
            pseudo = {
                "duration_s": elapsed,
                "cpu_stat_pct": stat_delta_pct(stat_a, stat_b),
                "client_cpu": {"user_s": kids_b.ru_utime - kids_a.ru_utime,
                               "sys_s": kids_b.ru_stime - kids_a.ru_stime},
            }
            self._noise(sample, pseudo, {"user_s": cpu_b[0] - cpu_a[0], "sys_s": cpu_b[1] - cpu_a[1]})
        else:
            self._cpu_fields(sample, None, None, requests)
        return sample

    def measure_idle(self, case, port, proc):
        cmd = ["taskset", "-c", CLIENT_CPU, str(self.loadgen), "--port", str(port),
               "--mode", "idle", "--conns", str(case["conns"]), "--hold", str(self.idle_hold),
               "--server-pid", str(proc.pid)]
        rc, out, err = run_client(cmd, timeout=self.idle_hold + 60)
        if rc != 0:
            return {"ok": False, "error": f"loadgen exit {rc}: {err.strip()[-300:]}"}
        raw = json.loads(out)
        ok = raw["all_connected"] and raw["server_accepted_all"] and raw["rss_per_conn_bytes"] is not None
        sample = {
            "ok": ok,
            "connections": raw["connected"],
            "rss_before_kib": raw["server_rss_before_kib"],
            "rss_after_kib": raw["server_rss_after_kib"],
            "rss_per_conn_bytes": raw["rss_per_conn_bytes"],
            "server_hwm_kib": raw["server_hwm_kib"],
            "errors": raw["errors"],
            "raw": raw,
        }
        if not ok:
            sample["error"] = (f"{raw['connected']}/{raw['connections']} connected, "
                               f"server accepted all: {raw['server_accepted_all']}")
        return sample

    @staticmethod
    def _cpu_fields(sample, user_s, sys_s, requests):
        if user_s is None or sys_s is None or not requests:
            sample.update(cpu_user_us=None, cpu_sys_us=None, cpu_total_us=None)
            return
        sample["cpu_user_us"] = user_s * 1e6 / requests
        sample["cpu_sys_us"] = sys_s * 1e6 / requests
        sample["cpu_total_us"] = (user_s + sys_s) * 1e6 / requests
        sample["server_cpu_s"] = {"user": user_s, "sys": sys_s}

    @staticmethod
    def _noise(sample, raw, cpu):
        """CPU time on the two benchmark CPUs not explained by server+client:
        other processes on the machine (percent of one CPU)."""
        stat = raw.get("cpu_stat_pct") or []
        if len(stat) < 2 or not cpu:
            return
        cpus = [int(SERVER_CPU), int(CLIENT_CPU)]
        used = sum(stat[c]["user"] + stat[c]["system"] for c in cpus)
        window = raw["duration_s"] or 1
        ours = ((cpu.get("user_s") or 0) + (cpu.get("sys_s") or 0)
                + raw["client_cpu"]["user_s"] + raw["client_cpu"]["sys_s"]) / window * 100
        sample["other_load_pct"] = round(max(0.0, used - ours), 1)
        sample["steal_pct"] = round(sum(stat[c]["steal"] for c in cpus), 1)

    # ---- the run -----------------------------------------------------------
    def run(self):
        t_start = time.monotonic()
        if self.loadgen is None:
            sys.exit(f"suite: loadgen not built (looked in {', '.join(map(str, self.build_dirs))});"
                     " run scripts/bench or build bench/ first")
        if shutil.which("wrk") is None and any(c["kind"] == "http" for c in self.cases):
            sys.exit("suite: wrk not found (apt-get install wrk)")
        if shutil.which("taskset") is None:
            sys.exit("suite: taskset not found (util-linux)")
        if (os.cpu_count() or 1) < 2:
            sys.exit("suite: needs at least 2 CPUs (server on CPU 0, client on CPU 1)")

        est = self.estimate_seconds()
        self.say(f"suite: {len(self.cases)} cases x {len(self.impls)} implementations x "
                 f"{self.repeats} repeats, {self.duration:g} s windows after {self.warmup:g} s "
                 f"warm-up (wrk: {self.wrk_duration} s after {self.wrk_warmup} s); "
                 f"estimated {est / 60:.1f} min")
        self.background = background_load()
        if self.background["busy_pct"] > 10:
            self.say(f"suite: WARNING: the machine is not idle before the run "
                     f"({self.background['busy_pct']:.0f}% of a CPU busy: "
                     f"{', '.join(self.background['top'])}); results will be noisy")

        # resolve every server once; report skips up front
        for impl in self.impls:
            for kind in sorted({server_kind(c) for c in self.cases}):
                try:
                    self.resolve(impl, kind)
                except LookupError as e:
                    self.skipped[(impl, kind)] = str(e)
                    self.say(f"{impl} [{kind} server]: skipped: {e}")

        for case in self.cases:
            kind = server_kind(case)
            self.results[case["name"]] = {}
            for impl in self.impls:
                if (impl, kind) in self.skipped:
                    self.results[case["name"]][impl] = {"skipped": self.skipped[(impl, kind)]}
                else:
                    self.results[case["name"]][impl] = {"samples": []}
            for rep in range(self.repeats):
                for impl in self.impls:
                    entry = self.results[case["name"]][impl]
                    if "skipped" in entry:
                        continue
                    try:
                        sample = self.measure(case, self.resolve(impl, kind))
                    except Exception as e:  # keep going: one broken server must not sink the suite
                        sample = {"ok": False, "error": f"{type(e).__name__}: {e}"}
                    sample["repeat"] = rep
                    entry["samples"].append(sample)
                    self.say(f"{case['name']:>16} {impl:<17} #{rep + 1}: {describe(case, sample)}")
            for impl in self.impls:
                entry = self.results[case["name"]][impl]
                if "samples" in entry:
                    entry["median"] = medians(case, entry["samples"])

        self.micro = self.run_micro()
        self.elapsed = time.monotonic() - t_start
        self.say(f"suite: finished in {self.elapsed / 60:.1f} min (estimate was {est / 60:.1f} min)")
        return self.write_outputs(est)

    # ---- micro benchmarks ---------------------------------------------------
    def run_micro(self):
        micro = {"python": {}, "uvasync": None}
        for loop in ("asyncio", "uvloop"):
            cmd = ["taskset", "-c", SERVER_CPU, PY, str(BENCH / "py_micro.py"), "--loop", loop]
            if self.quick:
                cmd.append("--quick")
            rc, out, err = run_client(cmd, timeout=180)
            if rc == 0:
                micro["python"][loop] = json.loads(out)
                m = micro["python"][loop]
                self.say(f"{'py_micro':>16} {loop:<17}: gather 10k sleep {m['gather_sleep_10k_ms']:.1f} ms, "
                         f"call_soon {m['call_soon_per_s'] / 1e6:.2f} M/s, lateness idle p50 "
                         f"{m['sleep_lateness_idle_us']['p50']} us, busy p50 "
                         f"{m['sleep_lateness_busy_us']['p50']} us")
            else:
                micro["python"][loop] = {"error": f"exit {rc}: {err.strip()[-300:]}"}
                self.say(f"{'py_micro':>16} {loop:<17}: failed: {err.strip()[-200:]}")
        binary = self.find_binary("uvasync_micro")
        if binary is None:
            micro["uvasync"] = {"skipped": f"not built ({rel(self.build_dirs[0] / 'uvasync_micro')})"}
            self.say(f"{'uvasync_micro':>16}: skipped: not built ({rel(self.build_dirs[0] / 'uvasync_micro')})")
            return micro
        with tempfile.TemporaryDirectory() as tmp:
            outfile = Path(tmp) / "micro.json"
            cmd = ["taskset", "-c", SERVER_CPU, str(binary), "--benchmark_format=json",
                   f"--benchmark_out={outfile}", "--benchmark_out_format=json"]
            if self.quick:
                cmd.append("--benchmark_min_time=0.05")
            else:  # medians of 3, as for the load cases
                cmd += ["--benchmark_repetitions=3", "--benchmark_report_aggregates_only=true"]
            rc, out, err = run_client(cmd, timeout=90 if self.quick else 300)
            try:
                data = json.loads(outfile.read_text())
            except (OSError, ValueError):
                data = None
            if rc != 0 or data is None:
                micro["uvasync"] = {"error": f"exit {rc}: {err.strip()[-500:]}", "partial": data}
                self.say(f"{'uvasync_micro':>16}: failed (exit {rc})")
            else:
                micro["uvasync"] = data
                self.say(f"{'uvasync_micro':>16}: {len(data.get('benchmarks', []))} results")
        return micro

    # ---- outputs ------------------------------------------------------------
    def write_outputs(self, estimate):
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        out_root = Path(self.args.out) if self.args.out else BENCH / "results"
        outdir = out_root / stamp
        outdir.mkdir(parents=True, exist_ok=True)
        doc = {
            "timestamp_utc": stamp,
            "machine": machine_info(self.build_dirs),
            "background_before_run": self.background,
            "method": self.method(),
            "elapsed_s": round(self.elapsed, 1),
            "estimated_s": round(estimate, 1),
            "implementations": {i: {"about": IMPLEMENTATIONS[i]["about"],
                                    "commands": {k: IMPLEMENTATIONS[i][k] for k in ("echo", "line", "http")}}
                                for i in self.impls},
            "cases": [dict(c, title=CASE_TITLES[c["name"]]) for c in self.cases],
            "results": self.results,
            "micro": self.micro,
            "skipped": [{"impl": i, "kind": k, "reason": r} for (i, k), r in self.skipped.items()],
            "log": self.log_lines,
        }
        (outdir / "results.json").write_text(json.dumps(doc, indent=1))
        charts = make_charts(doc, outdir)
        (outdir / "results.md").write_text(render_markdown(doc, charts))
        latest = out_root / "latest"
        if latest.exists():
            shutil.rmtree(latest)
        latest.mkdir(parents=True)
        for f in ["results.json", "results.md", *charts]:
            shutil.copy2(outdir / f, latest / f)
        self.say(f"suite: wrote {outdir} (and {latest})")
        return outdir

    def method(self):
        return {
            "quick": self.quick,
            "repeats": self.repeats,
            "aggregate": "median of the repeats, metric by metric",
            "server_cpu": int(SERVER_CPU), "client_cpu": int(CLIENT_CPU),
            "pinning": "taskset -c",
            "echo_warmup_s": self.warmup, "echo_duration_s": self.duration,
            "wrk_warmup_s": self.wrk_warmup, "wrk_duration_s": self.wrk_duration,
            "idle_hold_s": self.idle_hold,
            "fresh_server_per_sample": True,
            "order": "for each case, for each repeat, every implementation in turn",
            "echo_request": "S bytes sent and the same S bytes received back; MiB/s counts one direction",
            "http_request": "one wrk request/response; MiB/s is response bytes read by wrk",
            "latency": "per request, from the moment the request is queued until its last response "
                       "byte is read; loadgen: log-linear histogram (~3% buckets); wrk: its own histogram",
            "server_cpu_per_request": "delta of utime/stime in /proc/PID/stat over the measured window "
                                      "divided by the requests completed in it (clock-tick resolution)",
            "server_peak_rss": "VmHWM from /proc/PID/status at the end of the window (fresh process per sample)",
            "idle": "server VmRSS with N connections open (after the server accepted them all and 0.5 s "
                    "settling) minus VmRSS before connecting, divided by N",
            "other_load_pct": "user+system time on CPUs 0 and 1 during the window not accounted to the "
                              "server or the client (percent of one CPU): other processes on the machine",
        }


def rel(path):
    """A path relative to the repository when it is inside it."""
    try:
        return str(Path(path).relative_to(ROOT))
    except ValueError:
        return str(path)


def server_kind(case):
    return "echo" if case["kind"] == "idle" else case["kind"]


def medians(case, samples):
    ok = [s for s in samples if s.get("ok")]
    if not ok:
        errs = "; ".join(sorted({s.get("error", "?") for s in samples}))
        return {"failed": errs or "no samples"}
    if case["kind"] == "idle":
        keys = ["rss_before_kib", "rss_after_kib", "rss_per_conn_bytes", "server_hwm_kib", "connections"]
    else:
        keys = ["rps", "mib_s", "p50_us", "p99_us", "p999_us", "cpu_user_us", "cpu_sys_us",
                "cpu_total_us", "server_hwm_kib", "errors", "other_load_pct"]
    m = {k: median([s.get(k) for s in ok]) for k in keys}
    m["samples_ok"] = len(ok)
    m["samples"] = len(samples)
    if case["kind"] != "idle":
        rps = [s["rps"] for s in ok]
        m["rps_min"], m["rps_max"] = min(rps), max(rps)
    return m


def describe(case, s):
    if not s.get("ok"):
        return f"FAILED: {s.get('error', '?')}"
    if case["kind"] == "idle":
        return (f"{s['connections']} conns, RSS {s['rss_before_kib'] / 1024:.1f} -> "
                f"{s['rss_after_kib'] / 1024:.1f} MiB, {s['rss_per_conn_bytes']:.0f} B/conn")
    cpu = f"{s['cpu_total_us']:.1f}" if s.get("cpu_total_us") is not None else "?"
    extra = ""
    if s.get("other_load_pct") is not None and s["other_load_pct"] > 10:
        extra = f" [other load {s['other_load_pct']:.0f}%]"
    return (f"{s['rps']:>11,.0f} req/s  {s['mib_s']:8.1f} MiB/s  p50 {s['p50_us']:8.0f} us  "
            f"p99 {s['p99_us']:8.0f} us  cpu {cpu} us/req{extra}")


# --------------------------------------------------------------------------
# wrk output
# --------------------------------------------------------------------------

_UNITS_T = {"us": 1.0, "ms": 1e3, "s": 1e6, "m": 60e6}
_UNITS_B = {"B": 1, "KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3}


def parse_wrk(text):
    res = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if m:
        res["rps"] = float(m.group(1))
    m = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", text)
    if m:
        res["mib_s"] = float(m.group(1)) * _UNITS_B.get(m.group(2), 1) / 2 ** 20
    for pct, key in (("50", "p50_us"), ("90", "p90_us"), ("99", "p99_us")):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
        if m:
            res[key] = float(m.group(1)) * _UNITS_T[m.group(2)]
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", text)
    if m:
        res["requests"] = int(m.group(1))
    errors = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        errors += sum(int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        errors += int(m.group(1))
    res["errors"] = errors
    # report.lua adds exact figures, p99.9 included
    m = re.search(r"^SUITE_JSON (.*)$", text, re.M)
    if m:
        j = json.loads(m.group(1))
        res["requests"] = j["requests"]
        if j["duration_us"]:
            res["mib_s"] = j["bytes"] / (j["duration_us"] / 1e6) / 2 ** 20
        lat = j["latency_us"]
        res.update(p50_us=lat["p50"], p90_us=lat["p90"], p99_us=lat["p99"], p999_us=lat["p999"])
        res["errors"] = sum(j["errors"].values())
        res["lua"] = j
    return res


# --------------------------------------------------------------------------
# Machine
# --------------------------------------------------------------------------

def background_load(seconds=1.0):
    """Busy share of all CPUs over a short idle window, and the busiest
    processes in it."""
    def snap():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        procs = {}
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/stat") as f:
                    d = f.read()
                fields = d[d.rindex(")") + 2:].split()
                procs[pid] = (d[d.index("(") + 1:d.rindex(")")], int(fields[11]) + int(fields[12]))
            except (OSError, ValueError, IndexError):
                pass
        return v, procs

    a, pa = snap()
    time.sleep(seconds)
    b, pb = snap()
    d = [y - x for x, y in zip(a, b)]
    total = sum(d) or 1
    busy = total - d[3] - d[4]
    ncpu = os.cpu_count() or 1
    tck = os.sysconf("SC_CLK_TCK")
    top = []
    for pid, (name, t) in pb.items():
        if pid in pa and t > pa[pid][1]:
            top.append(((t - pa[pid][1]) / tck / seconds * 100, f"{name}[{pid}]"))
    top.sort(reverse=True)
    return {"busy_pct": round(busy / total * 100 * ncpu, 1),
            "top": [f"{n} {p:.0f}%" for p, n in top[:5]],
            "loadavg": open("/proc/loadavg").read().split()[:3]}


def machine_info(build_dirs):
    info = {"nproc": os.cpu_count(), "kernel": platform.release(), "machine": platform.machine()}
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        info["mem_total_kib"] = read_meminfo("MemTotal")
    except OSError:
        pass
    first = lambda s: s.splitlines()[0] if s else None  # noqa: E731
    info["cc"] = first(cmd_output(["cc", "--version"]))
    info["gcc"] = first(cmd_output(["gcc", "--version"]))
    info["g++"] = first(cmd_output(["g++", "--version"]))
    info["clang"] = first(cmd_output(["clang", "--version"]))
    for d in build_dirs[:2]:
        cache = d / "CMakeCache.txt"
        if cache.is_file():
            for line in cache.read_text(errors="replace").splitlines():
                for key in ("CMAKE_C_COMPILER:", "CMAKE_CXX_COMPILER:", "CMAKE_BUILD_TYPE:"):
                    if line.startswith(key):
                        info["cmake_" + key.rstrip(":").lower()[6:]] = line.split("=", 1)[1]
            compiler = info.get("cmake_cxx_compiler")
            if compiler:
                info["cxx_compiler_version"] = first(cmd_output([compiler, "--version"]))
            break
    info["libuv"] = cmd_output(["pkg-config", "--modversion", "libuv"])
    try:
        m = re.search(r'#define BOOST_LIB_VERSION "([\d_]+)"',
                      Path("/usr/include/boost/version.hpp").read_text())
        info["boost"] = m.group(1).replace("_", ".") if m else None
    except OSError:
        info["boost"] = None
    info["python"] = cmd_output([PY, "-c", "import platform; print(platform.python_version())"])
    info["python_path"] = PY
    info["uvloop"] = cmd_output([PY, "-c", "import uvloop; print(uvloop.__version__)"])
    wrk = first(cmd_output(["wrk", "-v"]) or "")
    info["wrk"] = wrk.split(" Copyright")[0].strip() if wrk else None
    info["google_benchmark"] = cmd_output(["dpkg-query", "-W", "-f=${Version}", "libbenchmark-dev"])
    info["git_commit"] = cmd_output(["git", "-C", str(ROOT), "rev-parse", "HEAD"]) or None
    return info


def read_meminfo(key):
    for line in open("/proc/meminfo"):
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return None


# --------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------

def fmt(v, digits=0, unit=""):
    if v is None:
        return "–"
    if digits == 0:
        return f"{v:,.0f}{unit}"
    return f"{v:,.{digits}f}{unit}"


def ratio(a, b):
    if a is None or not b:
        return "–"
    return f"{a / b:.2f}×"


# Python micro metrics and the uvasync_micro benchmarks that match them
# (first regex match on the benchmark name, aggregates excluded).
MICRO_ROWS = [
    # key, label, unit, how to read the Python figure, uvasync name patterns, how to read gbench
    ("gather_sleep_10k_ms", "10,000 tasks × sleep(1 ms), gathered: wall time", "ms",
     lambda m: m.get("gather_sleep_10k_ms"),
     [r"gather.*sleep", r"sleep.*gather", r"tasks_sleeping_1ms/10000(/|$)"], "time_ms"),
    ("call_soon_per_s", "1,000,000 call_soon callbacks: rate", "M/s",
     lambda m: (m.get("call_soon_per_s") or 0) / 1e6 or None, [r"call_soon"], "items_per_s_M"),
    ("lateness_idle_p50", "sleep(1 ms) lateness, idle loop, p50", "µs",
     lambda m: m.get("sleep_lateness_idle_us", {}).get("p50"), [r"(lateness|sched\w*delay|timer\w*late).*idle"], "p50_us"),
    ("lateness_idle_p99", "sleep(1 ms) lateness, idle loop, p99", "µs",
     lambda m: m.get("sleep_lateness_idle_us", {}).get("p99"), [r"(lateness|sched\w*delay|timer\w*late).*idle"], "p99_us"),
    ("lateness_busy_p50", "sleep(1 ms) lateness, busy loop (100 sleep(0) tasks), p50", "µs",
     lambda m: m.get("sleep_lateness_busy_us", {}).get("p50"), [r"(lateness|sched\w*delay|timer\w*late).*busy"], "p50_us"),
    ("lateness_busy_p99", "sleep(1 ms) lateness, busy loop (100 sleep(0) tasks), p99", "µs",
     lambda m: m.get("sleep_lateness_busy_us", {}).get("p99"), [r"(lateness|sched\w*delay|timer\w*late).*busy"], "p99_us"),
]

_TIME_TO_MS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}


def gbench_lookup(data, patterns, how):
    if not data or "benchmarks" not in data:
        return None, None
    for pat in patterns:
        for b in data["benchmarks"]:
            if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
                continue
            if re.search(pat, b.get("name", ""), re.I):
                if how == "time_ms":
                    return b.get("real_time", 0) * _TIME_TO_MS.get(b.get("time_unit", "ns"), 1e-6), b["name"]
                if how == "items_per_s_M":
                    v = b.get("items_per_second")
                    return (v / 1e6 if v else None), b["name"]
                v = b.get(how)
                return v, b["name"]
    return None, None


def render_markdown(doc, charts):
    mi = doc["machine"]
    me = doc["method"]
    out = []
    w = out.append
    w(f"# uvasync benchmark results — {doc['timestamp_utc']}{' (quick run)' if me['quick'] else ''}\n")
    w(f"Machine: {mi.get('cpu_model', '?')}, {mi['nproc']} CPUs, Linux {mi['kernel']}; "
      f"{mi.get('cxx_compiler_version') or mi.get('g++')}; libuv {mi.get('libuv')}, Boost {mi.get('boost')}, "
      f"Python {mi.get('python')}, uvloop {mi.get('uvloop')}, {mi.get('wrk')}.\n")
    w(f"Method: server on CPU {me['server_cpu']}, client on CPU {me['client_cpu']} (taskset); "
      f"{me['repeats']} repeat(s), fresh server per sample, medians shown; echo windows "
      f"{me['echo_duration_s']:g} s after {me['echo_warmup_s']:g} s warm-up, wrk {me['wrk_duration_s']} s "
      f"after {me['wrk_warmup_s']} s warm-up. Suite time {doc['elapsed_s'] / 60:.1f} min. "
      f"Latencies in µs; CPU = server CPU time per request in µs (user / system / total); "
      f"RSS = server peak RSS (VmHWM). Ratio columns compare req/s: "
      f"**× libuv** against raw libuv (the ceiling), **× uvloop** against uvloop-streams for echo "
      f"and readline cases and uvloop-protocol for HTTP. See bench/README.md.\n")
    bg = doc.get("background_before_run") or {}
    noisy = []
    for case in doc["cases"]:
        for impl, e in doc["results"][case["name"]].items():
            ol = (e.get("median") or {}).get("other_load_pct")
            if ol is not None and ol > 15:
                noisy.append(f"{case['name']}/{impl} ({ol:.0f}%)")
    if bg.get("busy_pct", 0) > 10 or noisy:
        w("> **Warning: the machine was not idle.** "
          + (f"Before the run {bg['busy_pct']:.0f}% of a CPU was busy ({', '.join(bg.get('top', []))}). "
             if bg.get("busy_pct", 0) > 10 else "")
          + (f"Other processes used more than 15% of a CPU during: {', '.join(noisy[:12])}"
             f"{' …' if len(noisy) > 12 else ''}. " if noisy else "")
          + "Treat these figures as indicative; rerun on a quiet machine.\n")

    # summary
    load_cases = [c for c in doc["cases"] if c["kind"] != "idle"]
    impls = list(doc["implementations"])
    if load_cases:
        w("## Summary: requests per second (median)\n")
        w("| Case | " + " | ".join(impls) + " |")
        w("|---|" + "---:|" * len(impls))
        for c in load_cases:
            row = []
            for impl in impls:
                e = doc["results"][c["name"]].get(impl, {})
                if "skipped" in e:
                    row.append("skipped")
                elif "failed" in e.get("median", {}):
                    row.append("failed")
                else:
                    row.append(fmt(e.get("median", {}).get("rps")))
            w(f"| {c['name']} | " + " | ".join(row) + " |")
        w("")

    for case in doc["cases"]:
        name = case["name"]
        res = doc["results"][name]
        w(f"## {CASE_TITLES.get(name, name)} (`{name}`)\n")
        ref_u = REF_UVLOOP[case["kind"]]
        if case["kind"] == "idle":
            w(f"Server RSS growth per connection; ratio columns compare bytes per connection "
              f"(lower is better) against libuv and {ref_u}.\n")
            w("| Implementation | connections | RSS before (MiB) | RSS with conns (MiB) | bytes / conn "
              "| × libuv | × uvloop |")
            w("|---|---:|---:|---:|---:|---:|---:|")
            ref_c = (res.get(REF_CEILING, {}).get("median") or {}).get("rss_per_conn_bytes")
            ref_v = (res.get(ref_u, {}).get("median") or {}).get("rss_per_conn_bytes")
            for impl, e in res.items():
                if "skipped" in e:
                    w(f"| {impl} | skipped: {e['skipped']} |  |  |  |  |  |")
                    continue
                m = e["median"]
                if "failed" in m:
                    w(f"| {impl} | failed: {m['failed'][:120]} |  |  |  |  |  |")
                    continue
                w(f"| {impl} | {fmt(m['connections'])} | {fmt(m['rss_before_kib'] / 1024, 1)} | "
                  f"{fmt(m['rss_after_kib'] / 1024, 1)} | {fmt(m['rss_per_conn_bytes'])} | "
                  f"{ratio(m['rss_per_conn_bytes'], ref_c)} | {ratio(m['rss_per_conn_bytes'], ref_v)} |")
            w("")
            continue
        w(f"× uvloop = against {ref_u}.\n")
        w("| Implementation | req/s | MiB/s | p50 | p99 | p99.9 | CPU user | CPU sys | CPU total "
          "| peak RSS (MiB) | × libuv | × uvloop | errors |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        ref_c = (res.get(REF_CEILING, {}).get("median") or {}).get("rps")
        ref_v = (res.get(ref_u, {}).get("median") or {}).get("rps")
        for impl, e in res.items():
            if "skipped" in e:
                w(f"| {impl} | skipped: {e['skipped']} |" + " |" * 11)
                continue
            m = e["median"]
            if "failed" in m:
                w(f"| {impl} | failed: {m['failed'][:120]} |" + " |" * 11)
                continue
            spread = ""
            if m.get("samples", 1) > 1 and m["rps"]:
                spread = f" (±{(m['rps_max'] - m['rps_min']) / 2 / m['rps'] * 100:.0f}%)"
            w(f"| {impl} | {fmt(m['rps'])}{spread} | {fmt(m['mib_s'], 1)} | {fmt(m['p50_us'])} | "
              f"{fmt(m['p99_us'])} | {fmt(m['p999_us'])} | {fmt(m['cpu_user_us'], 2)} | "
              f"{fmt(m['cpu_sys_us'], 2)} | {fmt(m['cpu_total_us'], 2)} | "
              f"{fmt((m['server_hwm_kib'] or 0) / 1024, 1)} | {ratio(m['rps'], ref_c)} | "
              f"{ratio(m['rps'], ref_v)} | {fmt(m['errors'])} |")
        w("")

    # micro
    micro = doc.get("micro") or {}
    py = micro.get("python", {})
    ub = micro.get("uvasync") or {}
    w("## Event-loop microbenchmarks\n")
    if ub.get("skipped"):
        w(f"uvasync_micro: skipped: {ub['skipped']}.\n")
    elif ub.get("error"):
        w(f"uvasync_micro: failed: {ub['error'][:300]}\n")
    w("Python figures from bench/py_micro.py (pinned to CPU 0); the uvasync column comes from the "
      "uvasync_micro benchmark whose name matches (named in brackets).\n")
    w("| Metric | unit | asyncio | uvloop | uvasync |")
    w("|---|---|---:|---:|---:|")
    for key, label, unit, get_py, pats, how in MICRO_ROWS:
        cells = []
        for loop in ("asyncio", "uvloop"):
            m = py.get(loop) or {}
            v = get_py(m) if "error" not in m else None
            cells.append(fmt(v, 2 if unit == "M/s" else 1))
        v, bname = gbench_lookup(ub, pats, how)
        cells.append(f"{fmt(v, 2 if unit == 'M/s' else 1)} [{bname}]" if bname else "–")
        w(f"| {label} | {unit} | " + " | ".join(cells) + " |")
    w("")
    benchmarks = ub.get("benchmarks") if isinstance(ub, dict) else None
    if benchmarks:
        w("### uvasync_micro (Google Benchmark, all results)\n")
        w("| Benchmark | real time | CPU time | unit | iterations | items/s | counters |")
        w("|---|---:|---:|---|---:|---:|---|")
        std = {"name", "run_name", "run_type", "repetitions", "repetition_index", "threads", "iterations",
               "real_time", "cpu_time", "time_unit", "items_per_second", "bytes_per_second", "family_index",
               "per_family_instance_index", "aggregate_name", "aggregate_unit", "label", "error_occurred",
               "error_message"}
        for b in benchmarks:
            counters = ", ".join(f"{k}={v:.4g}" if isinstance(v, (int, float)) else f"{k}={v}"
                                 for k, v in b.items() if k not in std)
            w(f"| {b.get('name')} | {fmt(b.get('real_time'), 1)} | {fmt(b.get('cpu_time'), 1)} | "
              f"{b.get('time_unit', '')} | {fmt(b.get('iterations'))} | {fmt(b.get('items_per_second'))} | "
              f"{counters} |")
        w("")

    if charts:
        w("## Charts\n")
        for c in charts:
            w(f"![{c}]({c})\n")
    if doc.get("skipped"):
        w("## Skipped\n")
        for sk in doc["skipped"]:
            w(f"- {sk['impl']} ({sk['kind']} server): skipped: {sk['reason']}")
        w("")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------
# Charts
# --------------------------------------------------------------------------

COLORS = {"libuv": "#444444", "asio": "#8c564b", "asyncio-streams": "#1f77b4",
          "asyncio-protocol": "#aec7e8", "uvloop-streams": "#2ca02c", "uvloop-protocol": "#98df8a",
          "uvasync": "#d62728"}


def make_charts(doc, outdir):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("suite: matplotlib missing, no charts", file=sys.stderr)
        return []
    charts = []
    impls = list(doc["implementations"])

    def med(case, impl, key):
        e = doc["results"].get(case, {}).get(impl, {})
        m = e.get("median") or {}
        return m.get(key) if "failed" not in m else None

    def grouped(ax, groups, key, scale=1.0, log=False):
        present = [i for i in impls if any(med(g, i, key) is not None for g in groups)]
        if not present:
            return False
        width = 0.8 / len(present)
        for j, impl in enumerate(present):
            vals = [(med(g, impl, key) or 0) * scale for g in groups]
            xs = [x + (j - (len(present) - 1) / 2) * width for x in range(len(groups))]
            ax.bar(xs, vals, width, label=impl, color=COLORS.get(impl))
        ax.set_xticks(range(len(groups)))
        if log:
            ax.set_yscale("log")
        ax.grid(axis="y", alpha=0.3)
        return True

    names = {c["name"] for c in doc["cases"]}
    title_suffix = f" — {doc['machine'].get('cpu_model', '')}, {doc['timestamp_utc']}"

    # 1. throughput by message size
    sizes = [n for n in ("echo-64B", "echo-1KiB", "echo-16KiB", "echo-100KiB") if n in names]
    if sizes:
        fig, axes = plt.subplots(1, 2, figsize=(13, 5))
        ok = grouped(axes[0], sizes, "rps", log=True)
        grouped(axes[1], sizes, "mib_s")
        if ok:
            labels = [n.replace("echo-", "") for n in sizes]
            axes[0].set_xticklabels(labels)
            axes[1].set_xticklabels(labels)
            axes[0].set_title("Echo throughput, 100 connections: requests/s (log)")
            axes[1].set_title("Echo throughput, 100 connections: MiB/s")
            axes[0].set_xlabel("message size")
            axes[1].set_xlabel("message size")
            axes[1].legend(fontsize=8)
            fig.suptitle("Throughput by message size" + title_suffix, fontsize=10)
            fig.tight_layout()
            fig.savefig(outdir / "throughput_by_size.png", dpi=110)
            charts.append("throughput_by_size.png")
        plt.close(fig)

    # 2. all load cases relative to libuv
    load = [c["name"] for c in doc["cases"] if c["kind"] != "idle"]
    if load:
        fig, ax = plt.subplots(figsize=(max(8, 1.3 * len(load) + 3), 5))
        present = [i for i in impls if any(med(c, i, "rps") is not None for c in load)]
        width = 0.8 / max(1, len(present))
        for j, impl in enumerate(present):
            vals = []
            for c in load:
                v, ref = med(c, impl, "rps"), med(c, REF_CEILING, "rps")
                vals.append(v / ref if v and ref else 0)
            xs = [x + (j - (len(present) - 1) / 2) * width for x in range(len(load))]
            ax.bar(xs, vals, width, label=impl, color=COLORS.get(impl))
        ax.axhline(1.0, color="black", lw=0.8)
        ax.set_xticks(range(len(load)))
        ax.set_xticklabels(load, rotation=20, ha="right")
        ax.set_ylabel("requests/s relative to raw libuv")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_title("Throughput relative to raw libuv" + title_suffix, fontsize=10)
        fig.tight_layout()
        fig.savefig(outdir / "relative_throughput.png", dpi=110)
        charts.append("relative_throughput.png")
        plt.close(fig)

    # 3. latency percentiles
    lat_cases = [n for n in ("echo-1KiB", "echo-64B-p16", "http-c100") if n in names]
    if lat_cases:
        fig, axes = plt.subplots(1, len(lat_cases), figsize=(5.5 * len(lat_cases), 5), squeeze=False)
        for ax, case in zip(axes[0], lat_cases):
            present = [i for i in impls if med(case, i, "p50_us") is not None]
            pcts = [("p50_us", "p50"), ("p99_us", "p99"), ("p999_us", "p99.9")]
            width = 0.8 / max(1, len(present))
            for j, impl in enumerate(present):
                vals = [med(case, impl, k) or 0 for k, _ in pcts]
                xs = [x + (j - (len(present) - 1) / 2) * width for x in range(len(pcts))]
                ax.bar(xs, vals, width, label=impl, color=COLORS.get(impl))
            ax.set_xticks(range(len(pcts)))
            ax.set_xticklabels([p for _, p in pcts])
            ax.set_yscale("log")
            ax.set_ylabel("latency (µs, log)")
            ax.set_title(case)
            ax.grid(axis="y", alpha=0.3)
        axes[0][-1].legend(fontsize=8)
        fig.suptitle("Latency percentiles" + title_suffix, fontsize=10)
        fig.tight_layout()
        fig.savefig(outdir / "latency.png", dpi=110)
        charts.append("latency.png")
        plt.close(fig)

    # 4. server CPU per request (user + system stacked)
    cpu_cases = [n for n in ("echo-64B", "echo-1KiB", "echo-64B-p16", "readline-1KiB", "http-c100")
                 if n in names]
    if cpu_cases:
        fig, axes = plt.subplots(1, len(cpu_cases), figsize=(4.6 * len(cpu_cases), 5), squeeze=False)
        for ax, case in zip(axes[0], cpu_cases):
            present = [i for i in impls if med(case, i, "cpu_total_us") is not None]
            users = [med(case, i, "cpu_user_us") or 0 for i in present]
            syss = [med(case, i, "cpu_sys_us") or 0 for i in present]
            ax.bar(range(len(present)), users, label="user", color="#1f77b4")
            ax.bar(range(len(present)), syss, bottom=users, label="system", color="#ff7f0e")
            ax.set_xticks(range(len(present)))
            ax.set_xticklabels(present, rotation=35, ha="right", fontsize=8)
            ax.set_ylabel("server CPU µs per request")
            ax.set_title(case)
            ax.grid(axis="y", alpha=0.3)
        axes[0][0].legend(fontsize=8)
        fig.suptitle("Server CPU time per request" + title_suffix, fontsize=10)
        fig.tight_layout()
        fig.savefig(outdir / "cpu_per_request.png", dpi=110)
        charts.append("cpu_per_request.png")
        plt.close(fig)
    return charts


# --------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description="uvasync benchmark suite (see bench/README.md)")
    ap.add_argument("--quick", action="store_true",
                    help="fewer cases, 1 s windows, 1 repeat (< 2 minutes)")
    ap.add_argument("--repeats", type=int, help="samples per case and implementation (default 3, quick 1)")
    ap.add_argument("--duration", type=float, help="measured window in seconds (default 2, quick 1)")
    ap.add_argument("--warmup", type=float, help="loadgen warm-up in seconds (default 0.5)")
    ap.add_argument("--impls", help="comma-separated implementations (default: all): " + ",".join(IMPL_ORDER))
    ap.add_argument("--cases", help="comma-separated cases (default: all, or the quick set): "
                    + ",".join(c["name"] for c in CASES))
    ap.add_argument("--build-dir", help="build tree (default build/release); binaries are looked up "
                    "in <dir>/bench, <dir> and build/bench-standalone")
    ap.add_argument("--out", help="results root (default bench/results)")
    ap.add_argument("--list", action="store_true", help="list implementations and cases, then exit")
    args = ap.parse_args()

    if args.list:
        suite = Suite(args)
        for impl in IMPL_ORDER:
            status = []
            for kind in ("echo", "line", "http"):
                try:
                    suite.resolve(impl, kind)
                    status.append(f"{kind}: ok")
                except LookupError as e:
                    status.append(f"{kind}: {e}")
            print(f"{impl:<17} {IMPLEMENTATIONS[impl]['about']}\n{'':17} {'; '.join(status)}")
        print()
        for c in CASES:
            print(f"{c['name']:<16} {CASE_TITLES[c['name']]}{'  [quick]' if c['name'] in QUICK_CASES else ''}")
        return 0

    atexit.register(cleanup)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    Suite(args).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
