"""One sample of the crawler benchmark (the suite's "crawler-1k" case).

    /usr/bin/python3 bench/programs/crawler_bench.py --site PATH/crawler_site [--pages 1000]
                     [--delay-ms 5] -- CRAWLER COMMAND...

Starts bench/programs/crawler_site.cpp pinned to CPU 1 (--pages pages that
answer after --delay-ms; page i links to 10i+1..10i+10), measures what wrk
-c20 gets from it for 1 s (the ideal as the machine delivers it now: on a
loaded machine every timer wake-up is late, for every client), then runs
CRAWLER COMMAND + "--depth D URL-of-page-0" pinned to CPU 0, deep enough to
reach every page. The crawlers run at most 20 requests at once, so the
ideal is 20 / delay (4,000 pages/s at 5 ms). Prints one JSON object: the
crawler's own pages/s (pages over the time from its first request to
join()), that over the ideal and over wrk's figure, its CPU time per page
(rusage); with "error" and exit status 1 when something fails.
"""
import argparse
import json
import re
import resource
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchsuite.measure import parse_wrk  # noqa: E402
from benchsuite.procs import CLIENT_CPU, SERVER_CPU, install_cleanup, run_client, spawn, stop_process  # noqa: E402

CONCURRENCY = 20  # the crawlers' semaphore


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--site", required=True)
    ap.add_argument("--pages", type=int, default=1000)
    ap.add_argument("--delay-ms", type=int, default=5)
    ap.add_argument("crawler", nargs="+")
    args = ap.parse_args()
    install_cleanup()
    depth, reached = 0, 1  # pages up to depth d: 1 + 10 + ... + 10^d
    while reached < args.pages:
        depth, reached = depth + 1, reached * 10 + 1
    site = None
    try:
        site = spawn(["taskset", "-c", CLIENT_CPU, args.site, "--port", "0", "--pages", str(args.pages),
                      "--delay-ms", str(args.delay_ms)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        m = re.search(r"listening on (http://\S+)", site.stdout.readline())
        if not m:
            raise RuntimeError("the site did not start")
        url = m.group(1)
        rc, out, err = run_client(["taskset", "-c", SERVER_CPU, "wrk", "-t1", f"-c{CONCURRENCY}", "-d1s",
                                   f"{url}/p/5"], timeout=30)
        if rc != 0:
            raise RuntimeError(f"wrk exit {rc}: {err.strip()[-300:]}")
        wrk_rps = parse_wrk(out)["rps"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        rc, out, err = run_client(["taskset", "-c", SERVER_CPU, *args.crawler, "--depth", str(depth), f"{url}/p/0"],
                                  timeout=120)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        m = re.search(r"^crawled (\d+) pages, (\d+) errors in ([\d.]+) s", out, re.M)
        if rc != 0 or not m:
            raise RuntimeError(f"crawler exit {rc}: {err.strip()[-300:]}")
        pages, errors, seconds = int(m.group(1)), int(m.group(2)), float(m.group(3))
        if pages != args.pages or errors:
            raise RuntimeError(f"crawled {pages} pages with {errors} errors (expected {args.pages}, 0)")
        cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        ideal = CONCURRENCY / (args.delay_ms / 1000)
        print(json.dumps({"pages_per_s": pages / seconds, "crawl_s": seconds, "pages": pages,
                          "ideal_pages_per_s": ideal, "of_ideal": pages / seconds / ideal,
                          "wrk_c20_per_s": wrk_rps, "of_wrk_c20": pages / seconds / wrk_rps,
                          "cpu_us_per_page": cpu * 1e6 / pages}))
        return 0
    except Exception as e:
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
        return 1
    finally:
        if site:
            stop_process(site)


if __name__ == "__main__":
    sys.exit(main())
