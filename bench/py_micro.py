#!/usr/bin/python3
"""Python event-loop microbenchmarks (asyncio or uvloop), printed as JSON.

    /usr/bin/python3 bench/py_micro.py --loop asyncio|uvloop [--quick]

  gather_sleep   10,000 tasks each awaiting asyncio.sleep(0.001), gathered:
                 wall time in ms (median of 5 runs, each on a fresh loop)
  call_soon      1,000,000 loop.call_soon callbacks scheduled and run:
                 callbacks per second (median of 3 runs)
  sleep_lateness how late asyncio.sleep(0.001) wakes up (measured wall time
                 minus 1 ms), p50/p99 in microseconds, on an idle loop and on a
                 busy loop where 100 other tasks run `await asyncio.sleep(0)`
                 in a loop

--quick uses fewer runs and samples (not fewer tasks or callbacks).
"""
import argparse
import asyncio
import json
import platform
import statistics
import sys
import time


def new_loop(kind):
    if kind == "uvloop":
        import uvloop
        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def run_fresh(kind, coro_fn):
    loop = new_loop(kind)
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(coro_fn())
    finally:
        asyncio.set_event_loop(None)
        loop.close()


# (a) -----------------------------------------------------------------------

async def gather_sleep(n=10_000, delay=0.001):
    t0 = time.perf_counter()
    await asyncio.gather(*(asyncio.sleep(delay) for _ in range(n)))
    return (time.perf_counter() - t0) * 1e3


# (b) -----------------------------------------------------------------------

async def call_soon_rate(n=1_000_000):
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    remaining = [n]

    def cb():
        remaining[0] -= 1
        if remaining[0] == 0:
            done.set_result(None)

    t0 = time.perf_counter()
    call_soon = loop.call_soon
    for _ in range(n):
        call_soon(cb)
    await done
    return n / (time.perf_counter() - t0)


# (c) -----------------------------------------------------------------------

def percentile(sorted_values, p):
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1,
                   int(round(p / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


async def sleep_lateness(samples, busy_tasks=0, delay=0.001):
    stop = False

    async def spinner():
        while not stop:
            await asyncio.sleep(0)

    spinners = [asyncio.ensure_future(spinner()) for _ in range(busy_tasks)]
    await asyncio.sleep(0.01)  # let the spinners start
    late = []
    perf = time.perf_counter
    for _ in range(samples):
        t0 = perf()
        await asyncio.sleep(delay)
        late.append((perf() - t0 - delay) * 1e6)
    stop = True
    await asyncio.gather(*spinners)
    late.sort()
    return {"p50": round(percentile(late, 50), 1),
            "p99": round(percentile(late, 99), 1),
            "samples": samples, "busy_tasks": busy_tasks}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loop", choices=["asyncio", "uvloop"], required=True)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    kind = args.loop

    gather_runs = 3 if args.quick else 5
    soon_runs = 1 if args.quick else 3
    lateness_samples = 300 if args.quick else 2000

    gather = [run_fresh(kind, gather_sleep) for _ in range(gather_runs)]
    soon = [run_fresh(kind, call_soon_rate) for _ in range(soon_runs)]
    idle = run_fresh(kind, lambda: sleep_lateness(lateness_samples, 0))
    busy = run_fresh(kind, lambda: sleep_lateness(lateness_samples, 100))

    out = {
        "loop": kind,
        "python": platform.python_version(),
        "quick": args.quick,
        "gather_sleep_10k_ms": round(statistics.median(gather), 2),
        "gather_sleep_10k_runs_ms": [round(x, 2) for x in gather],
        "call_soon_per_s": round(statistics.median(soon)),
        "call_soon_runs_per_s": [round(x) for x in soon],
        "sleep_lateness_idle_us": idle,
        "sleep_lateness_busy_us": busy,
    }
    if kind == "uvloop":
        import uvloop
        out["uvloop"] = uvloop.__version__
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
