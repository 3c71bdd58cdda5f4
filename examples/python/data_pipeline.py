"""data_pipeline: gzip'd JSON-lines files in, transformed batches out.

    python3 data_pipeline.py [--uvloop] input_dir output_dir

Every *.json.gz file of input_dir is read (on a thread: asyncio has no file
API) and decompressed; each line is one JSON record. A bounded queue (1,000
records) feeds the transform stage, which keeps the user id, the action, the
timestamp and the device type ("unknown" when the record has none).
Transformed records are collected in batches of 1,000, and each batch is
gzip-compressed on the thread pool (to_thread) and written to output_dir as
batch-NNNNNN.json.gz, one JSON object per line. A line that is not a JSON
object with user_id, action and timestamp is skipped and counted. A progress
line every 10,000 records, and the rate at the end. The uvasync port is
examples/data_pipeline.cpp.
"""
import argparse
import asyncio
import gzip
import json
import pathlib
import sys
import time

QUEUE_SIZE = 1000
BATCH_SIZE = 1000
PROGRESS_EVERY = 10000


class Stats:
    def __init__(self):
        self.records = self.skipped = self.batches = 0
        self.started = time.monotonic()

    def rate(self):
        return self.records / (time.monotonic() - self.started)


async def read_files(paths, records, stats):
    for path in paths:
        compressed = await asyncio.to_thread(path.read_bytes)
        try:
            text = gzip.decompress(compressed)
        except (OSError, EOFError) as e:
            raise RuntimeError(f"{path}: not a complete gzip file") from e
        for line in text.split(b"\n"):
            if not line:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                stats.skipped += 1
                continue
            await records.put(record)
    await records.put(None)  # the end (asyncio.Queue.shutdown is Python 3.13)


def transform(record):
    if not isinstance(record, dict) or not {"user_id", "action", "timestamp"} <= record.keys():
        return None
    device = record.get("device")
    device_type = device.get("type", "unknown") if isinstance(device, dict) else "unknown"
    return {"user_id": record["user_id"], "action": record["action"], "timestamp": record["timestamp"],
            "device_type": device_type}


async def transform_records(records, batches, stats):
    batch = []
    while (record := await records.get()) is not None:
        out = transform(record)
        if out is None:
            stats.skipped += 1
            continue
        batch.append(json.dumps(out, separators=(",", ":")))
        stats.records += 1
        if stats.records % PROGRESS_EVERY == 0:
            print(f"{stats.records} records ({stats.rate():.0f} records/s)", flush=True)
        if len(batch) == BATCH_SIZE:
            await batches.put(batch)
            batch = []
    if batch:
        await batches.put(batch)
    await batches.put(None)


def compress(batch):
    return gzip.compress(("\n".join(batch) + "\n").encode(), compresslevel=6)


async def write_batches(batches, output_dir, stats):
    while (batch := await batches.get()) is not None:
        compressed = await asyncio.to_thread(compress, batch)
        stats.batches += 1
        path = output_dir / f"batch-{stats.batches:06d}.json.gz"
        await asyncio.to_thread(path.write_bytes, compressed)


async def main(input_dir, output_dir):
    paths = sorted(p for p in pathlib.Path(input_dir).iterdir() if p.name.endswith(".json.gz") and len(p.name) > 8)
    output_dir = pathlib.Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    records = asyncio.Queue(QUEUE_SIZE)
    batches = asyncio.Queue(4)  # a few batches compressing while the transform goes on
    stats = Stats()
    async with asyncio.TaskGroup() as tg:
        tg.create_task(read_files(paths, records, stats))
        tg.create_task(transform_records(records, batches, stats))
        tg.create_task(write_batches(batches, output_dir, stats))
    print(f"done: {stats.records} records in {stats.batches} batches from {len(paths)} files, "
          f"{stats.skipped} skipped ({stats.rate():.0f} records/s)", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--uvloop", action="store_true")
    parser.add_argument("input_dir")
    parser.add_argument("output_dir")
    args = parser.parse_args()
    factory = None
    if args.uvloop:
        import uvloop
        factory = uvloop.new_event_loop
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(main(args.input_dir, args.output_dir))
    except* Exception as eg:
        for e in eg.exceptions:
            print(f"data_pipeline: {e}", file=sys.stderr)
        sys.exit(1)
