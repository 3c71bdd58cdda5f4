"""Instructions per request under valgrind --tool=callgrind.

The server runs under callgrind with collection on from the start.  The
load is applied in three phases, each on fresh connections, and after each
one the suite waits until the server is quiescent (it has closed every
connection of the phase and then sat idle for SETTLE_S) and asks callgrind
for a dump (callgrind_control --dump), which writes the instructions counted
since the previous dump and zeroes the counters:

    dump 1  start-up + warm-up phase      (discarded: start-up, lazy symbol
                                           binding, first allocations)
    dump 2  short phase: S seconds of load, R_s requests, I_s instructions
    dump 3  long phase:  L seconds of load, R_l requests, I_l instructions

The figure is the marginal cost  (I_l - I_s) / (R_l - R_s).  Both measured
phases are identical apart from their length (same connections opened and
closed, same idle housekeeping afterwards: SETTLE_S is longer than the
library's one-second idle trim), so everything that is not per request
cancels: start-up, shutdown (after the last dump, never counted), accepting
and closing connections, the first request on each connection, and requests
in flight when wrk stops.  Requests are the load client's own counts:
loadgen's requests_total (it lets the requests in flight come back before
closing) and wrk's completed responses.
"""
from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from pathlib import Path

from .measure import parse_wrk
from .procs import count_fds, run_client, stop_process

SETTLE_S = 1.3
TOP_FUNCTIONS = 15


def unavailable():
    """None when valgrind and callgrind_control are installed, else why not."""
    for tool in ("valgrind", "callgrind_control"):
        if shutil.which(tool) is None:
            return f"{tool} not found (apt-get install valgrind)"
    return None


def phase_seconds(settings, case):
    """(warm-up, short, long) load seconds; wrk takes whole seconds."""
    if case["kind"] == "http":
        return (1, 1, 2) if settings.quick else (1, 1, 3)
    return (0.3, 0.5, 1.5) if settings.quick else (0.5, 1.0, 3.0)


def estimate(settings, case):
    """Upper-bound seconds for one server: valgrind start-up, three phases,
    three settles and dumps, the final dump at exit."""
    return 1.5 + sum(phase_seconds(settings, case)) + 3 * (SETTLE_S + 0.4) + 0.5


class Callgrind:
    def __init__(self, measurer):
        self.m = measurer

    def measure(self, case, cmd):
        port = self.m.ports.take()
        with tempfile.TemporaryDirectory(prefix="uvasync-callgrind-") as tmp, \
                tempfile.TemporaryFile() as errfile:
            out = Path(tmp) / "callgrind.out"
            prefix = Path(tmp) / "vgdb"
            # The frame cache turns itself off under valgrind (for memcheck);
            # counted instructions are those of the build as it runs.
            wrapper = ["env", "UVASYNC_NO_FRAME_POOL=0", "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                       "--vgdb=yes", f"--vgdb-prefix={prefix}", "--dump-line=no"]
            proc = self.m.start_server(cmd, port, errfile, wrapper, timeout=60)
            sample = {"ok": False, "phases": []}
            try:
                self._run(case, port, proc, out, prefix, sample)
            except (RuntimeError, ValueError, KeyError) as e:
                sample["error"] = str(e)
            finally:
                stop_process(proc, grace=15)
                errfile.seek(0)
                err = errfile.read().decode(errors="replace").strip()
            if not sample["ok"] and err:
                sample["server_stderr"] = err[-2000:]
        return sample

    def _run(self, case, port, proc, out, prefix, sample):
        time.sleep(0.3)           # the readiness probe's connection is closed by now
        base_fds = count_fds(proc.pid)
        names = ("start-up+warm-up", "short", "long")
        for n, (name, secs) in enumerate(zip(names, phase_seconds(self.m.s, case)), start=1):
            requests, client = self._load(case, port, proc, secs)
            self._quiesce(proc, base_fds)
            instructions = self._dump(proc, prefix, out, n, name)
            sample["phases"].append({"phase": name, "seconds": secs, "requests": requests,
                                     "instructions": instructions, "client": client})
        _, short, long_ = sample["phases"]
        dr = long_["requests"] - short["requests"]
        di = long_["instructions"] - short["instructions"]
        if dr <= 0:
            raise RuntimeError(f"the long phase served no more requests than the short one ({dr})")
        sample.update(ok=True, ir_per_request=di / dr, instructions=di, requests=dr,
                      ir_per_request_long_phase=long_["instructions"] / long_["requests"],
                      top_functions=top_functions(Path(f"{out}.3")))

    def _load(self, case, port, proc, secs):
        """Run one phase of load; (requests the client counted, its summary)."""
        if case["kind"] == "http":
            rc, text, err = run_client(self.m.wrk_cmd(case, port, secs), timeout=secs + 60)
            if rc != 0:
                raise RuntimeError(f"wrk exit {rc}: {err.strip()[-300:]}")
            parsed = parse_wrk(text)
            if not parsed.get("requests") or parsed.get("errors"):
                raise RuntimeError(f"wrk: {parsed.get('requests')} requests, {parsed.get('errors')} errors")
            return parsed["requests"], {k: parsed.get(k) for k in ("requests", "rps", "errors", "p50_us")}
        cmd = self.m.loadgen_cmd(case, port, proc.pid, secs, 0)
        rc, text, err = run_client(cmd, timeout=secs + 60)
        if rc != 0:
            raise RuntimeError(f"loadgen exit {rc}: {err.strip()[-300:]}")
        raw = json.loads(text)
        if not raw["all_connected"] or not raw["drained"] or raw["errors"]:
            raise RuntimeError(f"loadgen: {raw['connected']}/{raw['connections']} connected, drained: "
                               f"{raw['drained']}, errors: {raw['errors']}")
        return raw["requests_total"], {k: raw[k] for k in ("requests_total", "rps", "errors", "connect_s")}

    @staticmethod
    def _quiesce(proc, base_fds, timeout=30.0):
        """Wait until the server has closed the phase's connections, then
        SETTLE_S more so that its idle housekeeping falls in this phase."""
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}")
            fds = count_fds(proc.pid)
            if fds is not None and fds <= base_fds:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"server still has {fds} fds ({base_fds} before the phase) after {timeout:.0f} s")
            time.sleep(0.02)
        time.sleep(SETTLE_S)

    @staticmethod
    def _dump(proc, prefix, out, n, label):
        """Ask callgrind for dump number n; the instructions it counted."""
        rc, text, err = run_client(["callgrind_control", f"--vgdb-prefix={prefix}", f"--dump={label}",
                                    str(proc.pid)], timeout=60)
        if rc != 0:
            raise RuntimeError(f"callgrind_control exit {rc}: {(text + err).strip()[-300:]}")
        path = Path(f"{out}.{n}")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                m = re.search(r"^totals:\s+(\d+)", path.read_text(errors="replace"), re.M)
            except OSError:
                m = None
            if m:
                return int(m.group(1))
            time.sleep(0.05)
        raise RuntimeError(f"callgrind wrote no {path.name} after callgrind_control --dump")


def top_functions(path, n=TOP_FUNCTIONS):
    """The n functions with the highest self cost in a callgrind dump:
    [{"function", "object", "ir"}], read from the file format directly
    (cost lines of a function, minus the inclusive cost lines of its calls)."""
    names, objects = {}, {}
    costs = {}
    ob = fn = None
    after_calls = False

    def name(table, value):
        m = re.match(r"\((\d+)\)(?:\s+(.*))?$", value)
        if not m:
            return value
        if m.group(2) is not None:
            table[m.group(1)] = m.group(2)
        return table.get(m.group(1), value)

    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    for line in lines:
        if not line:
            continue
        if line.startswith("ob="):
            ob = name(objects, line[3:])
        elif line.startswith("fn="):
            fn = (name(names, line[3:]), ob)
        elif line.startswith("cob="):
            name(objects, line[4:])
        elif line.startswith("cfn="):
            name(names, line[4:])
        elif line.startswith("calls="):
            after_calls = True
        elif line[0].isdigit() or line[0] in "+-*":
            if after_calls:
                after_calls = False
            elif fn is not None:
                parts = line.split()
                if len(parts) >= 2:
                    costs[fn] = costs.get(fn, 0) + int(parts[1])
    top = sorted(costs.items(), key=lambda kv: -kv[1])[:n]
    return [{"function": f, "object": Path(o).name if o else None, "ir": c} for (f, o), c in top]


def describe(case, s):
    if not s.get("ok"):
        return f"FAILED: {s.get('error', '?')}"
    return (f"{s['ir_per_request']:>9,.0f} instructions/request  ({s['instructions']:,} over "
            f"{s['requests']:,} requests; long phase alone {s['ir_per_request_long_phase']:,.0f})")
