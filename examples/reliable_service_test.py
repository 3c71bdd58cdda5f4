"""The test of reliable_service, the uvasync port and its Python original
(ctest: example_reliable_service, example_reliable_service_py).

    python3 reliable_service_test.py COMMAND...

COMMAND runs the service; "--time-scale X host port" is appended. The
dependency is a PING/PONG server of this script's, on a free port, whose
connections follow a plan: each new connection answers that many PINGs, then
closes (0: closes at once); once the plan is used up, connections answer for
ever.
"""
import asyncio
import signal
import sys

COMMAND = sys.argv[1:]


class Dependency:
    def __init__(self, plan):
        self.plan = list(plan)

    async def handle(self, reader, writer):
        answers = self.plan.pop(0) if self.plan else None
        try:
            while answers is None or answers > 0:
                if not await reader.readline():
                    break
                writer.write(b"PONG\n")
                await writer.drain()
                if answers is not None:
                    answers -= 1
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def __aenter__(self):
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc):
        self.server.close()


async def run_service(port, scale, term_after=None):
    """Runs the service to its end; with term_after, sends it SIGTERM once it
    has printed a line starting with that. Returns (status, lines)."""
    proc = await asyncio.create_subprocess_exec(
        *COMMAND, "--time-scale", str(scale), "127.0.0.1", str(port), stdout=asyncio.subprocess.PIPE)
    lines = []
    try:
        while True:
            line = await asyncio.wait_for(proc.stdout.readline(), 30)
            if not line:
                break
            lines.append(line.decode().rstrip("\n"))
            if term_after and lines[-1].startswith(term_after):
                proc.send_signal(signal.SIGTERM)
                term_after = None
        return await asyncio.wait_for(proc.wait(), 30), lines
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def expect(lines, patterns):
    """Each line starts with its pattern's head and ends with its tail (head|tail)."""
    ok = len(lines) == len(patterns)
    for line, pattern in zip(lines, patterns):
        head, _, tail = pattern.partition("|")
        ok = ok and line.startswith(head) and line.endswith(tail)
    if not ok:
        sys.exit("expected:\n  " + "\n  ".join(patterns) + "\ngot:\n  " + "\n  ".join(lines))


async def main():
    # Two failed attempts, a connection whose second health check finds it
    # closed, one failed reconnection, a recovery; then SIGTERM.
    async with Dependency([0, 0, 2, 0]) as dep:
        status, lines = await run_service(dep.port, 0.001, term_after="recovered")
    expect(lines, ["attempt 1 failed: |; retrying in 2 s", "attempt 2 failed: |; retrying in 4 s",
                   f"connected to 127.0.0.1:{dep.port}", "health check failed: |; reconnecting",
                   "attempt 1 failed: |; retrying in 2 s", "recovered", "stopped"])
    assert status == 0, status

    # Nothing listens: five attempts, backoff 2, 4, 8, 10 s, then it gives up.
    async with Dependency([]) as dep:
        port = dep.port
    status, lines = await run_service(port, 0.001)
    expect(lines, ["attempt 1 failed: |; retrying in 2 s", "attempt 2 failed: |; retrying in 4 s",
                   "attempt 3 failed: |; retrying in 8 s", "attempt 4 failed: |; retrying in 10 s",
                   "giving up: "])
    assert status == 1, status

    # SIGTERM during a backoff (20 s at this scale) ends it at once, cleanly.
    async with Dependency([0] * 10) as dep:
        status, lines = await asyncio.wait_for(run_service(dep.port, 10, term_after="attempt 1 failed"), 15)
    expect(lines, ["attempt 1 failed: |; retrying in 2 s", "stopped"])
    assert status == 0, status
    print("reliable_service: ok")


asyncio.run(main())
