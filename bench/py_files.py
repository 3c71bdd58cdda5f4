"""File benchmark (issue 9), the Python side of bench/servers/uvasync_files.cpp:
Python's blocking reads run in asyncio.to_thread (what aiofiles does).

    /usr/bin/python3 bench/py_files.py read_file PATH [repeats]
    /usr/bin/python3 bench/py_files.py lines PATH [repeats]

Prints one JSON object with the median wall-clock and CPU seconds of
`repeats` runs (default 5).
"""
import asyncio
import json
import os
import sys
import time


def read_whole(path):
    with open(path, "rb") as f:
        return f.read()


def count_lines(path):
    n = size = 0
    with open(path, "rb") as f:
        for line in f:
            n += 1
            size += len(line)
    return size, n


async def once(case, path):
    if case == "read_file":
        data = await asyncio.to_thread(read_whole, path)
        return len(data), 0
    return await asyncio.to_thread(count_lines, path)


def main():
    case, path = sys.argv[1], sys.argv[2]
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    asyncio.run(once(case, path))  # warm the page cache
    times, cpu = [], []
    for _ in range(repeats):
        c0 = sum(os.times()[:2])
        t0 = time.perf_counter()
        size, lines = asyncio.run(once(case, path))
        times.append(time.perf_counter() - t0)
        cpu.append(sum(os.times()[:2]) - c0)
    times.sort()
    cpu.sort()
    median = times[len(times) // 2]
    print(json.dumps({"impl": "python to_thread", "case": case, "bytes": size, "lines": lines, "repeats": repeats,
                      "median_seconds": round(median, 5),
                      "median_cpu_seconds": round(cpu[len(cpu) // 2], 5), "mib_per_second": round(size / median / 2**20, 1),
                      "lines_per_second": round(lines / median)}))


if __name__ == "__main__":
    main()
