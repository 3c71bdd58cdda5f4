#!/usr/bin/python3
"""uvasync benchmark suite: asyncio vs uvloop vs raw libuv vs Boost.Asio vs
uvasync, in one run, on one machine.

    /usr/bin/python3 bench/suite.py [--quick] [--repeats N] [--impls a,b]
                                    [--cases x,y] [--build-dir DIR] [--out DIR]

Every server runs pinned to CPU 0 and every client (bench/loadgen or wrk) to
CPU 1 with taskset.  Each (case, implementation) pair is measured --repeats
times, with a fresh server process per sample; implementations take turns
within each repeat.  The medians of the samples are reported.  The callgrind
cases count the instructions per request of the compiled servers under
valgrind.  See bench/README.md for the method and for how to add an
implementation.

Writes bench/results/<UTC timestamp>/{results.json,results.md,*.png} and
copies them to bench/results/latest/.  bench/report.py regenerates
results.md and the charts from a results.json alone.

This file is the orchestration; the work is in bench/benchsuite/.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import time
from pathlib import Path

from benchsuite import callgrind
from benchsuite.catalog import (BENCH, CASE_TITLES, CASES, CLIENT_BENCH_SERVER, IMPL_ORDER, IMPLEMENTATIONS,
                                QUICK_CASES, SERVER_KINDS, Binaries, case_impls, case_method, evaluate_http_targets,
                                evaluate_targets, server_kind)
from benchsuite.machine import background_load, machine_info
from benchsuite.measure import Measurer, Settings, describe, medians
from benchsuite.procs import CLIENT_CPU, SERVER_CPU, Ports, install_cleanup
from benchsuite.report import write_report


class Suite:
    def __init__(self, args):
        self.args = args
        self.s = Settings(args.quick, args.repeats, args.duration, args.warmup)
        self.binaries = Binaries(args.build_dir)
        self.loadgen = self.binaries.find("loadgen")
        self.measurer = Measurer(self.s, self.loadgen, Ports())
        self.callgrind = callgrind.Callgrind(self.measurer)
        names = [c["name"] for c in CASES]
        if args.cases:
            wanted = args.cases.split(",")
            for w in wanted:
                if w not in names:
                    sys.exit(f"suite: unknown case {w!r}; known: {', '.join(names)}")
            self.cases = [c for c in CASES if c["name"] in wanted]
        elif self.s.quick:
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

    def say(self, msg):
        print(msg, flush=True)
        self.log_lines.append(msg)

    def estimate_seconds(self):
        total = 0.0
        for case in self.cases:
            for impl in case_impls(case, self.impls, self.s.quick):
                if case_method(case) == "callgrind":
                    per = callgrind.estimate(self.s, case)
                else:
                    per = self.measurer.estimate(case, impl)
                total += per * self.s.repeats_for(case)
        total += 8 if self.s.quick else 26          # py_micro, both loops
        total += 30 if self.s.quick else 90         # uvasync_micro budget (when built)
        return total

    def sample(self, case, impl):
        try:
            cmd = self.binaries.resolve(impl, server_kind(case))
            if case_method(case) == "callgrind":
                return self.callgrind.measure(case, cmd), callgrind.describe
            return self.measurer.measure(case, cmd, self.binaries), describe
        except Exception as e:  # keep going: one broken server must not sink the suite
            return {"ok": False, "error": f"{type(e).__name__}: {e}"}, describe

    def run(self):
        t_start = time.monotonic()
        if self.loadgen is None:
            sys.exit(f"suite: loadgen not built (looked in {', '.join(map(str, self.binaries.dirs))});"
                     " run scripts/bench or build bench/ first")
        if shutil.which("wrk") is None and any(c["kind"] in ("http", "gateway", "crawler") for c in self.cases):
            sys.exit("suite: wrk not found (apt-get install wrk)")
        if shutil.which("taskset") is None:
            sys.exit("suite: taskset not found (util-linux)")
        if (os.cpu_count() or 1) < 2:
            sys.exit("suite: needs at least 2 CPUs (server on CPU 0, client on CPU 1)")
        no_callgrind = callgrind.unavailable()

        est = self.estimate_seconds()
        self.say(f"suite: {len(self.cases)} cases x {len(self.impls)} implementations x "
                 f"{self.s.repeats} repeats, {self.s.duration:g} s windows after {self.s.warmup:g} s "
                 f"warm-up (wrk: {self.s.wrk_duration} s after {self.s.wrk_warmup} s); "
                 f"estimated {est / 60:.1f} min")
        self.background = background_load()
        if self.background["busy_pct"] > 10:
            self.say(f"suite: WARNING: the machine is not idle before the run "
                     f"({self.background['busy_pct']:.0f}% of a CPU busy: "
                     f"{', '.join(self.background['top'])}); results will be noisy")

        # resolve every server once; report skips up front
        for impl in self.impls:
            for kind in sorted({server_kind(c) for c in self.cases if impl in case_impls(c, self.impls, self.s.quick)}):
                try:
                    self.binaries.resolve(impl, kind)
                except LookupError as e:
                    self.skipped[(impl, kind)] = str(e)
                    self.say(f"{impl} [{kind} server]: skipped: {e}")
        if no_callgrind and any(case_method(c) == "callgrind" for c in self.cases):
            self.say(f"callgrind cases: skipped: {no_callgrind}")

        for case in self.cases:
            kind = server_kind(case)
            entries = self.results[case["name"]] = {}
            for impl in case_impls(case, self.impls, self.s.quick):
                if (impl, kind) in self.skipped:
                    entries[impl] = {"skipped": self.skipped[(impl, kind)]}
                elif case_method(case) == "callgrind" and no_callgrind:
                    entries[impl] = {"skipped": no_callgrind}
                else:
                    entries[impl] = {"samples": []}
            for rep in range(self.s.repeats_for(case)):
                for impl, entry in entries.items():
                    if "skipped" in entry:
                        continue
                    sample, how = self.sample(case, impl)
                    sample["repeat"] = rep
                    entry["samples"].append(sample)
                    self.say(f"{case['name']:>16} {impl:<17} #{rep + 1}: {how(case, sample)}")
            for entry in entries.values():
                if "samples" in entry:
                    entry["median"] = medians(case, entry["samples"])

        self.micro = self.measurer.run_micro(self.binaries, self.say)
        self.elapsed = time.monotonic() - t_start
        self.say(f"suite: finished in {self.elapsed / 60:.1f} min (estimate was {est / 60:.1f} min)")
        return self.write_outputs(est)

    def write_outputs(self, estimate):
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        out_root = Path(self.args.out) if self.args.out else BENCH / "results"
        outdir = out_root / stamp
        outdir.mkdir(parents=True, exist_ok=True)
        doc = {
            "timestamp_utc": stamp,
            "machine": machine_info(self.binaries.dirs),
            "background_before_run": self.background,
            "method": self.method(),
            "elapsed_s": round(self.elapsed, 1),
            "estimated_s": round(estimate, 1),
            "implementations": {i: {"about": IMPLEMENTATIONS[i]["about"],
                                    "commands": {k: IMPLEMENTATIONS[i][k] for k in SERVER_KINDS
                                                 if k in IMPLEMENTATIONS[i]}}
                                for i in self.impls},
            "cases": [dict(c, title=CASE_TITLES[c["name"]]) for c in self.cases],
            "results": self.results,
            "targets": evaluate_targets(self.results),
            "http_targets": evaluate_http_targets(self.results),
            "micro": self.micro,
            "skipped": [{"impl": i, "kind": k, "reason": r} for (i, k), r in self.skipped.items()],
            "log": self.log_lines,
        }
        (outdir / "results.json").write_text(json.dumps(doc, indent=1))
        charts = write_report(doc, outdir)
        latest = out_root / "latest"
        if latest.exists():
            shutil.rmtree(latest)
        latest.mkdir(parents=True)
        for f in ["results.json", "results.md", *charts]:
            shutil.copy2(outdir / f, latest / f)
        self.say(f"suite: wrote {outdir} (and {latest})")
        return outdir

    def method(self):
        s = self.s
        m = {
            "quick": s.quick,
            "repeats": s.repeats,
            "aggregate": "median of the repeats, metric by metric",
            "server_cpu": int(SERVER_CPU), "client_cpu": int(CLIENT_CPU),
            "pinning": "taskset -c",
            "echo_warmup_s": s.warmup, "echo_duration_s": s.duration,
            "wrk_warmup_s": s.wrk_warmup, "wrk_duration_s": s.wrk_duration,
            "idle_hold_s": s.idle_hold,
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
        if any(c.get("wrk_script") for c in self.cases):
            m["http_post"] = ("wrk with the case's script (bench/wrk/post_4k.lua: POST /echo, a 4,096-byte JSON "
                              "body, answered back as JSON); only servers that read request bodies")
        if any(case_method(c) == "idle_http" for c in self.cases):
            m["idle_http"] = ("bench/clients/idle_after_request.py opens N connections (250 at a time), sends one "
                              "GET on each and reads its answer, keeps them open and idle 0.5 s, and reads the "
                              "server's VmRSS: (RSS with them - RSS before) / N")
        if any(case_method(c) == "client" for c in self.cases):
            m["http_client"] = (f"the client under test pinned to CPU {SERVER_CPU}, the {CLIENT_BENCH_SERVER} HTTP "
                                f"server on CPU {CLIENT_CPU}; N GETs with C in flight through a pool of C "
                                "keep-alive connections, timed by the client itself; client CPU time from "
                                "getrusage(RUSAGE_CHILDREN)")
        if any(case_method(c) == "burst" for c in self.cases):
            m["burst_idle_s"] = s.burst_idle
            m["burst"] = ("server VmRSS before connecting, with all N connections open after each has had "
                          "one message echoed (the peak), and after the server closed them all and sat idle "
                          f"for {s.burst_idle:g} s (sampled every 250 ms); ordinary close by the client")
        if any(case_method(c) == "callgrind" for c in self.cases):
            m["callgrind"] = {
                "tool": "valgrind --tool=callgrind --dump-line=no; callgrind_control --dump after each phase",
                "phases_s": {k: list(callgrind.phase_seconds(s, {"kind": k})) for k in ("echo", "http")},
                "settle_s": callgrind.SETTLE_S,
                "figure": "(I_long - I_short) / (R_long - R_short): instructions of the long phase minus "
                          "the short phase, over the difference of the requests the load client counted",
                "quiescent": "before each dump the server has closed every connection of the phase and "
                             "then sat idle for settle_s",
            }
        return m


def main():
    ap = argparse.ArgumentParser(description="uvasync benchmark suite (see bench/README.md)")
    ap.add_argument("--quick", action="store_true",
                    help="fewer cases, 1 s windows, 1 repeat (about 2 minutes)")
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
        binaries = Binaries(args.build_dir)
        for impl in IMPL_ORDER:
            status = []
            for kind in SERVER_KINDS:
                if kind not in IMPLEMENTATIONS[impl]:
                    continue
                try:
                    binaries.resolve(impl, kind)
                    status.append(f"{kind}: ok")
                except LookupError as e:
                    status.append(f"{kind}: {e}")
            print(f"{impl:<17} {IMPLEMENTATIONS[impl]['about']}\n{'':17} {'; '.join(status)}")
        print()
        for c in CASES:
            print(f"{c['name']:<22} {CASE_TITLES[c['name']]}{'  [quick]' if c['name'] in QUICK_CASES else ''}")
        why = callgrind.unavailable()
        if why:
            print(f"\ncallgrind cases: {why}")
        return 0

    install_cleanup()
    Suite(args).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
