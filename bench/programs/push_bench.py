"""One sample of the push-service benchmark (the suite's "push-1k" case).

    /usr/bin/python3 bench/programs/push_bench.py --load PATH/push_load [--subscribers 1000]
                     [--seconds 3] [--window 100] [--size 64] -- SERVICE COMMAND...

Starts a redis-server of its own (free port, no persistence) and the service
(SERVICE COMMAND + "--redis 127.0.0.1:R --port 0 --http-port 0") pinned to
CPU 0, waits for its "listening" line, runs push_load (bench/programs/
push_load.c) pinned to CPU 1 beside redis-server, and prints push_load's
JSON with the service's CPU time per delivery added. Exit status 1 (and a
JSON object with "error") when something fails.
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

SERVICE_CPU, CLIENT_CPU = "0", "1"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def wait_for_redis(port, proc):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"redis-server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            time.sleep(0.01)
    raise RuntimeError("redis-server did not start")


def stop(proc):
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--load", required=True)
    ap.add_argument("--subscribers", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=3)
    ap.add_argument("--window", type=int, default=100)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("service", nargs="+")
    args = ap.parse_args()
    redis_port = free_port()
    redis = service = None
    with tempfile.TemporaryDirectory() as tmp:
        try:
            redis = subprocess.Popen(["taskset", "-c", CLIENT_CPU, shutil.which("redis-server") or "redis-server",
                                      "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", tmp], stdout=subprocess.DEVNULL)
            wait_for_redis(redis_port, redis)
            service = subprocess.Popen(["taskset", "-c", SERVICE_CPU, *args.service, "--redis",
                                        f"127.0.0.1:{redis_port}", "--port", "0", "--http-port", "0"],
                                       stdout=subprocess.PIPE, text=True)
            ready = service.stdout.readline().split()
            if ready[:3] != ["listening", "on", "tcp"]:
                raise RuntimeError(f"the service did not start: {ready}")
            port = int(ready[4].rstrip(","))
            u0, s0 = cpu_seconds(service.pid)
            load = subprocess.run(["taskset", "-c", CLIENT_CPU, args.load, "--port", str(port), "--redis-port",
                                   str(redis_port), "--subscribers", str(args.subscribers), "--seconds",
                                   str(args.seconds), "--window", str(args.window), "--size", str(args.size)],
                                  capture_output=True, text=True, timeout=120)
            u1, s1 = cpu_seconds(service.pid)
            if load.returncode != 0:
                raise RuntimeError(f"push_load exit {load.returncode}: {load.stderr.strip()[-300:]}")
            out = json.loads(load.stdout)
            d = out["deliveries"] or 1
            out["service_cpu_user_us"] = (u1 - u0) * 1e6 / d
            out["service_cpu_sys_us"] = (s1 - s0) * 1e6 / d
            out["service_cpu_total_us"] = (u1 - u0 + s1 - s0) * 1e6 / d
            print(json.dumps(out))
            return 0
        except Exception as e:
            print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
            return 1
        finally:
            stop(service)
            stop(redis)


if __name__ == "__main__":
    sys.exit(main())
