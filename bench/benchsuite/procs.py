"""Child processes, ports and /proc readers.

Every child runs in its own session (process group) and is registered in
LIVE until it has been reaped, so that nothing outlives the suite: cleanup()
runs at exit and on SIGINT/SIGTERM.
"""
from __future__ import annotations

import atexit
import os
import random
import signal
import socket
import subprocess
import sys
import time

SERVER_CPU = "0"
CLIENT_CPU = "1"

LIVE: set = set()


def _killpg(proc, sig):
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_process(proc, grace=3.0):
    """SIGTERM to the process group, SIGKILL after `grace` seconds."""
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


def install_cleanup():
    """Stop every child at exit and on SIGINT/SIGTERM."""
    atexit.register(cleanup)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)


def spawn(cmd, **kw):
    proc = subprocess.Popen(cmd, start_new_session=True, **kw)
    LIVE.add(proc)
    return proc


def run_client(cmd, timeout):
    """Run a client to completion in its own process group; returns
    (returncode, stdout, stderr), returncode None on timeout."""
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


def cmd_output(cmd):
    """stdout of a short command, stripped, or None."""
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


class Ports:
    """Free TCP ports on 127.0.0.1, taken in turn from 20000-30000."""

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


def wait_ready(port, proc, timeout=15.0):
    """True once 127.0.0.1:port accepts a connection; False if the process
    exits first or the timeout passes."""
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
    """A KiB figure (VmRSS, VmHWM, ...) from /proc/PID/status, or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def count_fds(pid):
    """Open file descriptors of a process, or None."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None
