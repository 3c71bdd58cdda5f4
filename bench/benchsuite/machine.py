"""What the machine is (CPU, kernel, compilers, library versions) and how
busy it was before the run."""
from __future__ import annotations

import os
import platform
import re
import time
from pathlib import Path

from .catalog import PY, ROOT
from .procs import cmd_output


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


def read_meminfo(key):
    for line in open("/proc/meminfo"):
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return None


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
    info["valgrind"] = cmd_output(["valgrind", "--version"])
    info["google_benchmark"] = cmd_output(["dpkg-query", "-W", "-f=${Version}", "libbenchmark-dev"])
    info["git_commit"] = cmd_output(["git", "-C", str(ROOT), "rev-parse", "HEAD"]) or None
    return info
