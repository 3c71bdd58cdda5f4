"""Subprocess benchmark (issue 9; the suite's spawn-* cases), the asyncio /
uvloop side of bench/servers/uvasync_spawn.cpp: spawn + wait of /bin/true.

    /usr/bin/python3 bench/py_spawn.py sequential 1000
    /usr/bin/python3 bench/py_spawn.py --uvloop concurrent 100 [rounds]

Prints one JSON object, as the C++ program does.
"""
import asyncio
import json
import sys
import time


async def sequential(n):
    for _ in range(n):
        p = await asyncio.create_subprocess_exec("/bin/true")
        if await p.wait() != 0:
            raise RuntimeError("/bin/true failed")


async def concurrent(n, rounds):
    for _ in range(rounds):
        running = [await asyncio.create_subprocess_exec("/bin/true") for _ in range(n)]
        codes = await asyncio.gather(*(p.wait() for p in running))
        if any(codes):
            raise RuntimeError("/bin/true failed")


def main():
    args = sys.argv[1:]
    impl = "uvloop" if args[:1] == ["--uvloop"] else "asyncio"
    case, n, *rest = args[impl == "uvloop":]
    n = int(n)
    rounds = (int(rest[0]) if rest else 10) if case == "concurrent" else 1
    if impl == "uvloop":
        import uvloop
        uvloop.install()
    body = sequential(n) if case == "sequential" else concurrent(n, rounds)
    t0 = time.perf_counter()
    asyncio.run(body)
    s = time.perf_counter() - t0
    print(json.dumps({"impl": impl, "case": case, "n": n, "rounds": rounds, "seconds": round(s, 4),
                      "spawns_per_second": round(n * rounds / s, 1)}))


if __name__ == "__main__":
    main()
