#!/usr/bin/python3
"""The crawler benchmark (issue 12's "programs" section): the uvasync port
(examples/crawler) beside its aiohttp original (examples/python/crawler.py)
on asyncio and on uvloop, crawling a local site of 1,000 pages that answer
after 5 ms (bench/programs/crawler_site.cpp; page i links to 10i+1..10i+10,
so depth 3 covers them all).

    /usr/bin/python3 bench/programs/crawler_bench.py [--build-dir build/release]
        [--repeats 1] [--pages 1000] [--delay-ms 5] [--out bench/results/latest]

With at most 20 requests at once and 5 ms per page the ideal is 20 / 5 ms =
4,000 pages/s; the crawler's own figure (its summary line: pages over the
time from the first request to join()) is compared with it. The crawler
runs on CPU 0, the site on CPU 1; the crawler's CPU time per page comes from
its rusage. wrk -c20 against the same site, before each repeat, gives the
ideal as the machine delivers it at the time (late timer wake-ups under
load cost every client alike). Writes programs-crawler.json into --out.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from benchsuite.catalog import PY, ROOT, Binaries  # noqa: E402
from benchsuite.measure import parse_wrk  # noqa: E402
from benchsuite.procs import CLIENT_CPU, SERVER_CPU, install_cleanup, run_client, spawn, stop_process  # noqa: E402

CONCURRENCY = 20  # the crawler's semaphore


def crawler_cmds(build_dir):
    exe = Path(build_dir) / "examples" / "crawler"
    if not exe.is_absolute():
        exe = ROOT / exe
    py = [PY, str(ROOT / "examples" / "python" / "crawler.py")]
    return {"uvasync": [str(exe)], "aiohttp-asyncio": py, "aiohttp-uvloop": py + ["--uvloop"]}


def sample(cmd, site_port, pages):
    kids_a = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    rc, out, err = run_client(["taskset", "-c", SERVER_CPU] + cmd +
                              ["--depth", "3", f"http://127.0.0.1:{site_port}/p/0"], timeout=120)
    wall = time.monotonic() - t0
    kids_b = resource.getrusage(resource.RUSAGE_CHILDREN)
    m = re.search(r"^crawled (\d+) pages, (\d+) errors in ([\d.]+) s", out, re.M)
    if rc != 0 or not m:
        raise RuntimeError(f"{cmd[-1]}: exit {rc}: {err.strip()[-300:]}")
    crawled, errors, seconds = int(m.group(1)), int(m.group(2)), float(m.group(3))
    if crawled != pages or errors:
        raise RuntimeError(f"{cmd[-1]}: crawled {crawled} pages, {errors} errors (expected {pages}, 0)")
    cpu = (kids_b.ru_utime - kids_a.ru_utime) + (kids_b.ru_stime - kids_a.ru_stime)
    return {"pages_s": crawled / seconds, "crawl_s": seconds, "wall_s": wall, "pages": crawled,
            "cpu_us_per_page": cpu * 1e6 / crawled}


def wrk_ceiling(site_port, seconds=2):
    """What 20 connections of wrk get from the site: the ideal as this
    machine delivers it now (timer wake-ups late under load, ...)."""
    rc, out, err = run_client(["taskset", "-c", SERVER_CPU, "wrk", "-t1", f"-c{CONCURRENCY}", f"-d{seconds}s",
                               f"http://127.0.0.1:{site_port}/p/5"], timeout=seconds + 30)
    if rc != 0:
        raise RuntimeError(f"wrk exit {rc}: {err.strip()[-300:]}")
    return parse_wrk(out)["rps"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build-dir", default="build/release")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--pages", type=int, default=1000)
    ap.add_argument("--delay-ms", type=int, default=5)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "latest"))
    args = ap.parse_args()
    install_cleanup()
    site_exe = Binaries(args.build_dir).find("crawler_site")
    if site_exe is None:
        sys.exit("crawler_bench: crawler_site not built (cmake --preset release && cmake --build --preset release)")
    site = spawn(["taskset", "-c", CLIENT_CPU, str(site_exe), "--port", "0", "--pages", str(args.pages),
                  "--delay-ms", str(args.delay_ms)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    m = re.search(r"listening on http://[^:]+:(\d+)", site.stdout.readline())
    if not m:
        sys.exit("crawler_bench: the site did not start")
    port = int(m.group(1))
    ideal = CONCURRENCY / (args.delay_ms / 1000)
    cmds = crawler_cmds(args.build_dir)
    samples = {name: [] for name in cmds}
    samples["wrk-c20"] = []
    try:
        for _ in range(args.repeats):
            rps = wrk_ceiling(port)
            samples["wrk-c20"].append({"pages_s": rps})
            print(f"{'wrk -c20':16} {rps:>7,.0f} pages/s ({rps / ideal:.2f} of the ideal)", flush=True)
            for name, cmd in cmds.items():
                s = sample(cmd, port, args.pages)
                samples[name].append(s)
                print(f"{name:16} {s['pages_s']:>7,.0f} pages/s ({s['pages_s'] / ideal:.2f} of the ideal)  "
                      f"cpu {s['cpu_us_per_page']:7.1f} us/page", flush=True)
    finally:
        stop_process(site)
    med = {name: {k: statistics.median(x[k] for x in ss) for k in ss[0]} for name, ss in samples.items()}
    of_ideal = {name: m["pages_s"] / ideal for name, m in med.items()}
    of_wrk = {name: m["pages_s"] / med["wrk-c20"]["pages_s"] for name, m in med.items()}
    ratios = {f"uvasync / {ref}": {"pages_s": med["uvasync"]["pages_s"] / med[ref]["pages_s"],
                                    "cpu_per_page": med["uvasync"]["cpu_us_per_page"] / med[ref]["cpu_us_per_page"]}
              for ref in ("aiohttp-asyncio", "aiohttp-uvloop")}
    for label, r in ratios.items():
        print(f"{label}: pages/s x{r['pages_s']:.2f}, CPU/page x{r['cpu_per_page']:.3f}")
    met = of_ideal["uvasync"] >= 0.9
    print(f"target within 10% of the ideal {ideal:.0f} pages/s: {'met' if met else 'missed'} "
          f"({of_ideal['uvasync']:.3f}; {of_wrk['uvasync']:.3f} of what wrk -c20 gets from the site)")
    doc = {"benchmark": "crawler", "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "command": " ".join(["bench/programs/crawler_bench.py"] + sys.argv[1:]),
           "load_average_1min": os.getloadavg()[0], "setup": {"pages": args.pages, "delay_ms": args.delay_ms, "concurrency": CONCURRENCY,
                     "repeats": args.repeats, "ideal_pages_s": ideal},
           "medians": med, "of_ideal": of_ideal, "of_wrk_c20": of_wrk, "samples": samples, "ratios": ratios,
           "target": {"what": "pages/s uvasync / ideal", "limit": 0.9, "value": of_ideal["uvasync"], "met": met}}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "programs-crawler.json").write_text(json.dumps(doc, indent=1) + "\n")
    print(f"crawler_bench: wrote {out / 'programs-crawler.json'}")


if __name__ == "__main__":
    main()
