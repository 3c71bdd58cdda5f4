"""One sample of the file benchmarks (the suite's "files-*" cases).

    /usr/bin/python3 bench/programs/files_bench.py --case read_file|lines [--repeats 5] -- PROGRAM...

Generates the inputs once (cached under $TMPDIR/uvasync-bench-files: 100 MiB
of pseudo-random bytes, and 1 M lines of 6 to 111 bytes), then runs
PROGRAM + "CASE PATH REPEATS" (bench/servers/uvasync_files.cpp, with or
without --blocking, or bench/py_files.py), which reads the file once to warm
the page cache, then REPEATS times, and prints one JSON object with the
medians. Not pinned: uvasync's reads run on libuv's thread pool, Python's
in asyncio.to_thread.
"""
import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path


def inputs():
    cache = Path(tempfile.gettempdir()) / "uvasync-bench-files"
    big, lines = cache / "big.bin", cache / "lines.txt"
    if not (cache / "complete").exists():
        cache.mkdir(exist_ok=True)
        big.write_bytes(random.Random(1).randbytes(100 << 20))
        lines.write_text("".join(f"line {i}{'x' * (i * 7919 % 100)}\n" for i in range(1_000_000)))
        (cache / "complete").write_text("")
    return {"read_file": big, "lines": lines}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", choices=["read_file", "lines"], required=True)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("program", nargs="+")
    args = ap.parse_args()
    path = inputs()[args.case]
    p = subprocess.run([*args.program, args.case, str(path), str(args.repeats)], capture_output=True, text=True,
                       timeout=300)
    if p.returncode != 0:
        print(json.dumps({"error": f"exit {p.returncode}: {p.stderr.strip()[-300:]}"}))
        return 1
    print(p.stdout.strip().splitlines()[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
