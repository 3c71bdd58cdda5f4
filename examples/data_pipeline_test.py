"""The test of data_pipeline, the uvasync port and its Python original
(ctest: example_data_pipeline, example_data_pipeline_py).

    python3 data_pipeline_test.py COMMAND...

COMMAND runs the pipeline; "input_dir output_dir" is appended. The input is
generated here: three *.json.gz files (one of two gzip members) with 25,500
good records (with, without and with an empty device) and three bad lines,
beside files the pipeline must ignore. The output must hold every good record
transformed, in batches of 1,000, and nothing else.
"""
import gzip
import json
import pathlib
import random
import subprocess
import sys
import tempfile

COMMAND = sys.argv[1:]


def record(rng, i):
    r = {"user_id": rng.randrange(1, 10**6), "action": rng.choice(["click", "view", "buy"]),
         "timestamp": 1_700_000_000 + i, "payload": {"x": rng.random(), "tags": ["a", "b"]}}
    kind = i % 3
    if kind == 0:
        r["device"] = {"type": rng.choice(["mobile", "desktop", "tablet"]), "os": "linux"}
    elif kind == 1:
        r["device"] = {"os": "ios"}
    return r


def expected(r):
    device = r.get("device", {}).get("type", "unknown")
    return {"user_id": r["user_id"], "action": r["action"], "timestamp": r["timestamp"], "device_type": device}


def lines(records):
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def run(input_dir, output_dir):
    p = subprocess.run([*COMMAND, str(input_dir), str(output_dir)], capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout.splitlines(), p.stderr


def check(condition, what):
    if not condition:
        sys.exit(f"data_pipeline test: {what}")


def main():
    rng = random.Random(12)
    good = [record(rng, i) for i in range(25_500)]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        inp, out = tmp / "in", tmp / "out"
        inp.mkdir()
        (inp / "a.json.gz").write_bytes(gzip.compress(lines(good[:10_000]) + b"not json\n"))
        (inp / "b.json.gz").write_bytes(gzip.compress(lines(good[10_000:12_000])) +
                                        gzip.compress(b"[1, 2]\n" + lines(good[12_000:20_000])))
        (inp / "c.json.gz").write_bytes(gzip.compress(lines(good[20_000:]) + b'{"user_id": 1}\n'))
        (inp / "ignored.json").write_bytes(lines(good[:10]))
        (inp / "ignored.txt.gz").write_bytes(gzip.compress(lines(good[:10])))

        status, stdout, stderr = run(inp, out)
        check(status == 0, f"status {status}: {stderr}")
        check(len(stdout) == 3 and stdout[0].startswith("10000 records (") and stdout[1].startswith("20000 records ("),
              f"progress lines: {stdout}")
        check(stdout[2].startswith("done: 25500 records in 26 batches from 3 files, 3 skipped ("), stdout[2])
        batches = sorted(out.iterdir())
        check([b.name for b in batches] == [f"batch-{i:06d}.json.gz" for i in range(1, 27)],
              [b.name for b in batches])
        got = []
        for b in batches:
            batch = gzip.decompress(b.read_bytes()).decode().splitlines()
            check(len(batch) == (1000 if b != batches[-1] else 500), f"{b.name}: {len(batch)} records")
            got += [json.loads(line) for line in batch]
        check(got == [expected(r) for r in good], "the output is not the input transformed")

        # A truncated file: a clear error naming it, exit 1.
        bad = tmp / "bad"
        bad.mkdir()
        (bad / "t.json.gz").write_bytes(gzip.compress(lines(good[:100]))[:-20])
        status, stdout, stderr = run(bad, tmp / "out2")
        check(status == 1 and "t.json.gz: not a complete gzip file" in stderr, f"status {status}: {stderr}")

        # Nothing to do.
        empty = tmp / "empty"
        empty.mkdir()
        status, stdout, stderr = run(empty, tmp / "out3")
        check(status == 0 and len(stdout) == 1 and stdout[0].startswith("done: 0 records in 0 batches from 0 files"),
              f"status {status}: {stdout} {stderr}")
    print("data_pipeline: ok")


main()
