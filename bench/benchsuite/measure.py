"""One sample of a timed load case (echo, readline, HTTP), of the idle
cases, of the burst case and of the HTTP client benchmark, against a fresh
server; the medians over samples; and the Python / uvasync microbenchmark
runs.  bench/README.md, "Method"."""
from __future__ import annotations

import json
import re
import resource
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from .catalog import BENCH, BURST_TARGET, CLIENT_BENCH_SERVER, IMPLEMENTATIONS, PY, case_method, rel, server_kind
from .procs import (CLIENT_CPU, SERVER_CPU, read_cpu_stat, read_proc_cpu, read_status_kib, run_client, spawn,
                    stat_delta_pct, stop_process, wait_ready)


class Settings:
    """Windows and repeats, from the command line (None = default)."""

    def __init__(self, quick=False, repeats=None, duration=None, warmup=None):
        self.quick = quick
        self.repeats = repeats if repeats else (1 if quick else 3)
        self.duration = duration if duration else (1.0 if quick else 2.0)
        self.warmup = warmup if warmup is not None else 0.5
        self.wrk_duration = max(1, int(round(self.duration)))   # wrk takes whole seconds
        self.wrk_warmup = 1
        self.idle_hold = 1.0 if quick else 2.0
        self.burst_idle = 3.0       # idle seconds watched after a burst

    def repeats_for(self, case):
        return case.get("repeats") or self.repeats


class Measurer:
    def __init__(self, settings, loadgen, ports):
        self.s = settings
        self.loadgen = loadgen
        self.ports = ports

    # ---- servers -------------------------------------------------------------
    def start_server(self, cmd, port, errfile, wrapper=(), timeout=15.0, cpu=SERVER_CPU):
        """Start `cmd --port N` pinned to the server CPU (inside `wrapper`,
        e.g. valgrind) and wait until it accepts connections."""
        proc = spawn(["taskset", "-c", cpu, *wrapper, *cmd, "--port", str(port)],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errfile)
        if not wait_ready(port, proc, timeout):
            stop_process(proc)
            errfile.seek(0)
            tail = errfile.read().decode(errors="replace")[-500:]
            raise RuntimeError(f"server did not start (exit {proc.returncode}): {tail.strip()}")
        time.sleep(0.05)
        return proc

    def measure(self, case, cmd, binaries=None):
        """One sample of a load, idle or burst case against a fresh server
        (`cmd`); for the client benchmark, `cmd` is the client and the
        server is CLIENT_BENCH_SERVER's HTTP server, on the client CPU."""
        method = case_method(case)
        if method == "program":  # programs (issues 9 and 12)
            return self.measure_program(case, cmd, binaries)
        port = self.ports.take()
        if method == "client":
            server = binaries.resolve(CLIENT_BENCH_SERVER, "http")
            return self.measure_client(case, cmd, server, port)
        with tempfile.TemporaryFile() as errfile:
            proc = self.start_server(cmd, port, errfile)
            try:
                if method == "idle":
                    sample = self.measure_idle(case, port, proc)
                elif method == "idle_http":
                    sample = self.measure_idle_http(case, port, proc)
                elif method == "burst":
                    sample = self.measure_burst(case, port, proc)
                elif case["kind"] == "http":
                    sample = self.measure_http(case, port, proc)
                else:
                    sample = self.measure_echo(case, port, proc)
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

    # ---- clients -------------------------------------------------------------
    def loadgen_cmd(self, case, port, pid, duration, warmup):
        return ["taskset", "-c", CLIENT_CPU, str(self.loadgen), "--port", str(port),
                "--mode", "line" if case["kind"] == "line" else "echo",
                "--conns", str(case["conns"]), "--size", str(case["size"]),
                "--pipeline", str(case["pipeline"]), "--duration", str(duration),
                "--warmup", str(warmup), "--server-pid", str(pid)] + (["--tls"] if case["kind"] == "tls_echo" else []) \
            + (["--reconnect"] if case.get("reconnect") else [])

    def measure_echo(self, case, port, proc):
        cmd = self.loadgen_cmd(case, port, proc.pid, self.s.duration, self.s.warmup)
        rc, out, err = run_client(cmd, timeout=self.s.duration + self.s.warmup + 40)
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
        cpu_fields(sample, cpu.get("user_s"), cpu.get("sys_s"), requests)
        noise(sample, raw, cpu)
        return sample

    def wrk_cmd(self, case, port, seconds, report=True):
        cmd = ["taskset", "-c", CLIENT_CPU, "wrk", "-t1", f"-c{case['conns']}", f"-d{seconds}s"]
        if case.get("wrk_script"):  # the case's requests (it loads report.lua itself)
            cmd += ["--latency"] if report else []
            cmd += ["-s", str(BENCH / "wrk" / case["wrk_script"])]
        elif report:
            cmd += ["--latency", "-s", str(BENCH / "wrk" / "report.lua")]
        return cmd + [f"http://127.0.0.1:{port}/"]

    def measure_http(self, case, port, proc):
        rc, out, err = run_client(self.wrk_cmd(case, port, self.s.wrk_warmup, report=False),
                                  timeout=self.s.wrk_warmup + 30)
        if rc != 0:
            return {"ok": False, "error": f"wrk warm-up exit {rc}: {err.strip()[-300:]}"}
        cpu_a = read_proc_cpu(proc.pid)
        stat_a = read_cpu_stat()
        kids_a = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        rc, out, err = run_client(self.wrk_cmd(case, port, self.s.wrk_duration), timeout=self.s.wrk_duration + 30)
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
            cpu_fields(sample, cpu_b[0] - cpu_a[0], cpu_b[1] - cpu_a[1], requests)
            pseudo = {
                "duration_s": elapsed,
                "cpu_stat_pct": stat_delta_pct(stat_a, stat_b),
                "client_cpu": {"user_s": kids_b.ru_utime - kids_a.ru_utime,
                               "sys_s": kids_b.ru_stime - kids_a.ru_stime},
            }
            noise(sample, pseudo, {"user_s": cpu_b[0] - cpu_a[0], "sys_s": cpu_b[1] - cpu_a[1]})
        else:
            cpu_fields(sample, None, None, requests)
        return sample

    def measure_idle(self, case, port, proc):
        cmd = ["taskset", "-c", CLIENT_CPU, str(self.loadgen), "--port", str(port),
               "--mode", "idle", "--conns", str(case["conns"]), "--hold", str(self.s.idle_hold),
               "--server-pid", str(proc.pid)]
        rc, out, err = run_client(cmd, timeout=self.s.idle_hold + 60)
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

    def measure_idle_http(self, case, port, proc):
        """Connections that made one request each and stay open (keep-alive):
        clients/idle_after_request.py, pinned to the client CPU."""
        cmd = ["taskset", "-c", CLIENT_CPU, PY, str(BENCH / "clients" / "idle_after_request.py"),
               "--port", str(port), "--pid", str(proc.pid), "--conns", str(case["conns"])]
        rc, out, err = run_client(cmd, timeout=120)
        if rc != 0:
            return {"ok": False, "error": f"idle_after_request exit {rc}: {err.strip()[-300:]}"}
        raw = json.loads(out)
        sample = {
            "ok": raw["conns"] == case["conns"],
            "connections": raw["conns"],
            "rss_before_kib": raw["rss_before_kib"],
            "rss_after_kib": raw["rss_after_kib"],
            "rss_per_conn_bytes": raw["bytes_per_conn"],
            "server_hwm_kib": read_status_kib(proc.pid, "VmHWM"),
            "raw": raw,
        }
        if not sample["ok"]:
            sample["error"] = f"{raw['conns']}/{case['conns']} connections held"
        return sample

    def measure_client(self, case, cmd, server, port):
        """The HTTP client benchmark: `cmd` (the client) pinned to the
        server CPU, the HTTP server on the client CPU; the client's own
        figures and CPU time."""
        with tempfile.TemporaryFile() as errfile:
            proc = self.start_server(server, port, errfile, cpu=CLIENT_CPU)
            try:
                kids_a = resource.getrusage(resource.RUSAGE_CHILDREN)
                rc, out, err = run_client(["taskset", "-c", SERVER_CPU, *cmd, "--port", str(port),
                                           "--requests", str(case["requests"]), "--conns", str(case["conns"])],
                                          timeout=300)
                kids_b = resource.getrusage(resource.RUSAGE_CHILDREN)
            finally:
                stop_process(proc)
        if rc != 0:
            return {"ok": False, "error": f"client exit {rc}: {err.strip()[-300:]}"}
        raw = json.loads(out)
        requests = raw["requests"]
        sample = {
            "ok": raw["errors"] == 0 and requests == case["requests"],
            "rps": raw["rps"], "seconds": raw["seconds"], "requests": requests, "errors": raw["errors"],
            "raw": raw,
        }
        if not sample["ok"]:
            sample["error"] = f"{raw['errors']} errors over {requests} requests"
        user = kids_b.ru_utime - kids_a.ru_utime
        system = kids_b.ru_stime - kids_a.ru_stime
        sample["client_cpu_user_us"] = user * 1e6 / requests
        sample["client_cpu_sys_us"] = system * 1e6 / requests
        sample["client_cpu_total_us"] = (user + system) * 1e6 / requests
        return sample

    def measure_burst(self, case, port, proc):
        cmd = ["taskset", "-c", CLIENT_CPU, str(self.loadgen), "--port", str(port),
               "--mode", "burst", "--conns", str(case["conns"]), "--size", str(case["size"]),
               "--hold", str(self.s.burst_idle), "--server-pid", str(proc.pid)]
        rc, out, err = run_client(cmd, timeout=self.s.burst_idle + 60)
        if rc != 0:
            return {"ok": False, "error": f"loadgen exit {rc}: {err.strip()[-300:]}"}
        raw = json.loads(out)
        start, peak, after = raw["server_rss_start_kib"], raw["server_rss_peak_kib"], raw["server_rss_after_kib"]
        ok = (raw["all_connected"] and raw["all_echoed"] and raw["server_closed_all"]
              and min(start, peak, after) >= 0)
        target = BURST_TARGET["factor"] * start + BURST_TARGET["slack_kib"]
        sample = {
            "ok": ok,
            "connections": raw["connected"],
            "rss_start_kib": start, "rss_peak_kib": peak, "rss_after_kib": after,
            "idle_s": raw["idle_s"],
            "server_hwm_kib": raw["server_hwm_kib"],
            "target_kib": target, "met": after <= target,
            "errors": raw["errors"],
            "raw": raw,
        }
        if not ok:
            sample["error"] = (f"{raw['connected']}/{raw['connections']} connected, all echoed: "
                               f"{raw['all_echoed']}, server closed all: {raw['server_closed_all']}")
        return sample

    # ---- microbenchmarks -----------------------------------------------------
    def run_micro(self, binaries, say):
        micro = {"python": {}, "uvasync": None}
        for loop in ("asyncio", "uvloop"):
            cmd = ["taskset", "-c", SERVER_CPU, PY, str(BENCH / "py_micro.py"), "--loop", loop]
            if self.s.quick:
                cmd.append("--quick")
            rc, out, err = run_client(cmd, timeout=180)
            if rc == 0:
                micro["python"][loop] = json.loads(out)
                m = micro["python"][loop]
                say(f"{'py_micro':>16} {loop:<17}: gather 10k sleep {m['gather_sleep_10k_ms']:.1f} ms, "
                    f"call_soon {m['call_soon_per_s'] / 1e6:.2f} M/s, lateness idle p50 "
                    f"{m['sleep_lateness_idle_us']['p50']} us, busy p50 "
                    f"{m['sleep_lateness_busy_us']['p50']} us")
            else:
                micro["python"][loop] = {"error": f"exit {rc}: {err.strip()[-300:]}"}
                say(f"{'py_micro':>16} {loop:<17}: failed: {err.strip()[-200:]}")
        binary = binaries.find("uvasync_micro")
        if binary is None:
            where = rel(binaries.dirs[0] / "uvasync_micro")
            micro["uvasync"] = {"skipped": f"not built ({where})"}
            say(f"{'uvasync_micro':>16}: skipped: not built ({where})")
            return micro
        with tempfile.TemporaryDirectory() as tmp:
            outfile = Path(tmp) / "micro.json"
            cmd = ["taskset", "-c", SERVER_CPU, str(binary), "--benchmark_format=json",
                   f"--benchmark_out={outfile}", "--benchmark_out_format=json"]
            if self.s.quick:
                cmd.append("--benchmark_min_time=0.05")
            else:  # medians of 3, as for the load cases
                cmd += ["--benchmark_repetitions=3", "--benchmark_report_aggregates_only=true"]
            rc, out, err = run_client(cmd, timeout=90 if self.s.quick else 300)
            try:
                data = json.loads(outfile.read_text())
            except (OSError, ValueError):
                data = None
            if rc != 0 or data is None:
                micro["uvasync"] = {"error": f"exit {rc}: {err.strip()[-500:]}", "partial": data}
                say(f"{'uvasync_micro':>16}: failed (exit {rc})")
            else:
                micro["uvasync"] = data
                say(f"{'uvasync_micro':>16}: {len(data.get('benchmarks', []))} results")
        return micro

    # ---- programs (issues 9 and 12) -------------------------------------------
    def measure_program(self, case, cmd, binaries):
        """One sample: the case's driver (bench/programs/) runs the program,
        or the program, given the case's args, measures itself."""
        from .catalog import PROGRAM_DRIVERS
        driver = []
        for part in PROGRAM_DRIVERS.get(case["kind"], []):
            if part.startswith("@"):
                path = binaries.find(part[1:])
                if path is None:
                    return {"ok": False, "error": f"{part[1:]} not built"}
                part = str(path)
            driver.append(part.replace("%PY", PY).replace("%BENCH", str(BENCH)))
        argv = [*driver, *case["args"], "--", *cmd] if driver else [*cmd, *case["args"]]
        rc, out, err = run_client(argv, timeout=600)
        try:
            sample = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            sample = {"error": f"exit {rc}: {(err or '').strip()[-300:]}"}
        sample["ok"] = rc == 0 and "error" not in sample
        return sample
    # ---- end of programs --------------------------------------------------------

    # ---- budget --------------------------------------------------------------
    def estimate(self, case, impl):
        """Upper-bound seconds for one sample."""
        py = IMPLEMENTATIONS[impl][server_kind(case)][0] == "%PY"
        startup = 0.35 if py else 0.05
        method = case_method(case)
        if method == "program":  # programs (issues 9 and 12)
            return case["estimate_s"] * (3 if py else 1)
        if method == "idle":
            return startup + (2.0 if py else 1.0) + 0.5 + max(0.0, self.s.idle_hold - 1.5) + 0.3
        if method == "burst":
            return startup + 1.5 + self.s.burst_idle + 0.3
        if method == "idle_http":
            return startup + 0.4 + case["conns"] / 1500 + 0.5 + 0.3
        if method == "client":  # start-up of the client and the server, the requests
            return startup + 0.35 + case["requests"] / (2000 if py else 10000)
        if case["kind"] == "http":
            return startup + self.s.wrk_warmup + self.s.wrk_duration + 0.25
        return startup + self.s.warmup + self.s.duration + 0.2 + case["conns"] / 2000


def cpu_fields(sample, user_s, sys_s, requests):
    if user_s is None or sys_s is None or not requests:
        sample.update(cpu_user_us=None, cpu_sys_us=None, cpu_total_us=None)
        return
    sample["cpu_user_us"] = user_s * 1e6 / requests
    sample["cpu_sys_us"] = sys_s * 1e6 / requests
    sample["cpu_total_us"] = (user_s + sys_s) * 1e6 / requests
    sample["server_cpu_s"] = {"user": user_s, "sys": sys_s}


def noise(sample, raw, cpu):
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


# ---- aggregation ---------------------------------------------------------------

MEDIAN_KEYS = {
    "load": ["rps", "mib_s", "p50_us", "p99_us", "p999_us", "cpu_user_us", "cpu_sys_us",
             "cpu_total_us", "server_hwm_kib", "errors", "other_load_pct"],
    "idle": ["rss_before_kib", "rss_after_kib", "rss_per_conn_bytes", "server_hwm_kib", "connections"],
    "idle_http": ["rss_before_kib", "rss_after_kib", "rss_per_conn_bytes", "server_hwm_kib", "connections"],
    "client": ["rps", "seconds", "requests", "errors", "client_cpu_user_us", "client_cpu_sys_us",
               "client_cpu_total_us"],
    "burst": ["connections", "rss_start_kib", "rss_peak_kib", "rss_after_kib", "idle_s", "server_hwm_kib",
              "target_kib"],
    "callgrind": ["ir_per_request", "instructions", "requests", "ir_per_request_long_phase"],
}


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def medians(case, samples):
    ok = [s for s in samples if s.get("ok")]
    if not ok:
        errs = "; ".join(sorted({s.get("error", "?") for s in samples}))
        return {"failed": errs or "no samples"}
    method = case_method(case)
    keys = MEDIAN_KEYS.get(method) or [k for k, v in ok[0].items()  # programs: every figure
                                       if type(v) in (int, float) and k != "repeat"]
    m = {k: median([s.get(k) for s in ok]) for k in keys}
    m["samples_ok"] = len(ok)
    m["samples"] = len(samples)
    if method in ("load", "client"):
        rps = [s["rps"] for s in ok]
        m["rps_min"], m["rps_max"] = min(rps), max(rps)
    if method == "burst":
        m["met"] = m["rss_after_kib"] <= m["target_kib"]
    return m


def describe(case, s):
    """One console line for a sample of a load, idle or burst case."""
    if not s.get("ok"):
        return f"FAILED: {s.get('error', '?')}"
    method = case_method(case)
    if method == "program":  # programs (issues 9 and 12)
        from .catalog import PROGRAM_FIGURES
        figures = [(case["metric"], case["metric"], 1)] + [f for f in PROGRAM_FIGURES.get(case["kind"], [])
                                                            if f[1] != case["metric"]]
        return "  ".join(f"{label} {fmt_figure(s.get(key), digits)}" for label, key, digits in figures)
    if method == "client":
        return (f"{s['rps']:>11,.0f} req/s  {s['requests']:,} requests in {s['seconds']:.2f} s  "
                f"client cpu {s['client_cpu_total_us']:.1f} us/req")
    if method in ("idle", "idle_http"):
        return (f"{s['connections']} conns, RSS {s['rss_before_kib'] / 1024:.1f} -> "
                f"{s['rss_after_kib'] / 1024:.1f} MiB, {s['rss_per_conn_bytes']:.0f} B/conn")
    if method == "burst":
        return (f"{s['connections']} conns, RSS {s['rss_start_kib'] / 1024:.1f} MiB at start, "
                f"{s['rss_peak_kib'] / 1024:.1f} at the peak, {s['rss_after_kib'] / 1024:.1f} after "
                f"{s['idle_s']:g} s idle (target {s['target_kib'] / 1024:.1f}: "
                f"{'met' if s['met'] else 'missed'})")
    cpu = f"{s['cpu_total_us']:.1f}" if s.get("cpu_total_us") is not None else "?"
    extra = ""
    if s.get("other_load_pct") is not None and s["other_load_pct"] > 10:
        extra = f" [other load {s['other_load_pct']:.0f}%]"
    return (f"{s['rps']:>11,.0f} req/s  {s['mib_s']:8.1f} MiB/s  p50 {s['p50_us']:8.0f} us  "
            f"p99 {s['p99_us']:8.0f} us  cpu {cpu} us/req{extra}")


def fmt_figure(v, digits):
    return "?" if v is None else f"{v:,.{digits}f}"


# ---- wrk output ------------------------------------------------------------------

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
