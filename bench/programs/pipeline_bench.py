"""One sample of the data-pipeline benchmark (the suite's "pipeline-1M" case).

    /usr/bin/python3 bench/programs/pipeline_bench.py [--records 1000000] [--files 20] -- PIPELINE COMMAND...

Generates the input once (--records JSON records in --files *.json.gz files,
the records of examples/data_pipeline_test.py's shape; cached under
$TMPDIR/uvasync-bench-pipeline-<records>-<files>), runs PIPELINE COMMAND +
"input_dir output_dir" into a fresh output directory, checks that its
"done:" line counts every record, and prints one JSON object: records/s
(records over the wall-clock time of the whole process), the program's own
rate, the wall and CPU seconds (user + system of the process and its
threads). Not pinned: the programs use a thread pool for the compression.
"""
import argparse
import gzip
import json
import pathlib
import random
import resource
import subprocess
import sys
import tempfile
import time


def generate(directory, records, files):
    rng = random.Random(1)
    directory.mkdir(parents=True)
    per_file = records // files
    for f in range(files):
        lines = []
        for i in range(f * per_file, records if f == files - 1 else (f + 1) * per_file):
            r = {"user_id": rng.randrange(1, 10**6), "action": rng.choice(["click", "view", "buy"]),
                 "timestamp": 1_700_000_000 + i, "payload": {"x": rng.random(), "tags": ["a", "b"]}}
            if i % 3 == 0:
                r["device"] = {"type": rng.choice(["mobile", "desktop", "tablet"]), "os": "linux"}
            elif i % 3 == 1:
                r["device"] = {"os": "ios"}
            lines.append(json.dumps(r))
        (directory / f"part-{f:04d}.json.gz").write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), 6))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--files", type=int, default=20)
    ap.add_argument("pipeline", nargs="+")
    args = ap.parse_args()
    cache = pathlib.Path(tempfile.gettempdir()) / f"uvasync-bench-pipeline-{args.records}-{args.files}"
    if not (cache / "complete").exists():
        if cache.exists():
            for p in cache.iterdir():
                p.unlink()
            cache.rmdir()
        generate(cache, args.records, args.files)
        (cache / "complete").write_text("")
    with tempfile.TemporaryDirectory() as out:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        p = subprocess.run([*args.pipeline, str(cache), out], capture_output=True, text=True, timeout=600)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = [line for line in p.stdout.splitlines() if line.startswith("done: ")]
    if p.returncode != 0 or not done or not done[0].startswith(f"done: {args.records} records"):
        print(json.dumps({"error": f"exit {p.returncode}: {(done or [p.stderr.strip()[-300:]])[0]}"}))
        return 1
    own_rate = float(done[0].rsplit("(", 1)[1].split()[0])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(json.dumps({"records": args.records, "files": args.files, "wall_s": round(wall, 3),
                      "records_per_s": round(args.records / wall), "own_records_per_s": own_rate,
                      "cpu_s": round(cpu, 3), "cpu_us_per_record": round(cpu * 1e6 / args.records, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
