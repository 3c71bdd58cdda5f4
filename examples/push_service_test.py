"""The test of push_service, the uvasync port and its Python original
(ctest: example_push_service, example_push_service_py).

    python3 push_service_test.py COMMAND...

Starts a redis-server of its own on a free port (no persistence), then the
service (COMMAND --redis ... --port 0 --http-port 0 --queue 64), and checks:
every message published on a channel reaches every client of that channel,
in order, and no other client; ping gets pong; GET /health counts the
connections; a client that stops reading is disconnected once its queue is
full, while the other clients of its channel receive everything.
"""
import asyncio
import json
import shutil
import signal
import socket
import sys
import tempfile

COMMAND = sys.argv[1:]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def resp(*args):
    out = f"*{len(args)}\r\n".encode()
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out += f"${len(a)}\r\n".encode() + a + b"\r\n"
    return out


class Redis:
    """The publishing side, in RESP directly."""
    async def connect(self, port):
        for _ in range(500):  # until redis-server accepts connections
            try:
                self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:
                await asyncio.sleep(0.01)
        else:
            raise RuntimeError("redis-server did not start")
        self.writer.write(resp("PING"))
        assert await self.reader.readline() == b"+PONG\r\n"

    async def publish(self, channel, data):
        """Returns how many subscribers Redis delivered to."""
        self.writer.write(resp("PUBLISH", channel, data))
        reply = await self.reader.readline()
        assert reply.startswith(b":"), reply
        return int(reply[1:])


class Client:
    async def connect(self, port, rcvbuf=None):
        sock = socket.socket()
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        self.reader, self.writer = await asyncio.open_connection(sock=sock, limit=1 << 20)
        return self

    async def request(self, **fields):
        self.writer.write((json.dumps(fields) + "\n").encode())
        return await self.receive()

    async def receive(self):
        line = await asyncio.wait_for(self.reader.readline(), 60)
        assert line, "the service closed the connection"
        return json.loads(line)

    async def messages(self, count):
        got = []
        for _ in range(count):
            m = await self.receive()
            assert m["type"] == "message", m
            got.append((m["channel"], m["data"]))
        return got


async def health(port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    response = await reader.read()
    writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    return json.loads(body)


async def until_health(port, **expected):
    for _ in range(1000):
        h = await health(port)
        if all(h[k] == v for k, v in expected.items()):
            return
        await asyncio.sleep(0.01)  # polled: the service acts on its own time
    raise AssertionError(f"health is {h}, expected {expected}")


async def start_service(redis_port):
    """The service, once it says it listens (after Redis confirmed its subscription)."""
    service = await asyncio.create_subprocess_exec(
        *COMMAND, "--redis", f"127.0.0.1:{redis_port}", "--port", "0", "--http-port", "0", "--queue", "64",
        stdout=asyncio.subprocess.PIPE)
    ready = (await asyncio.wait_for(service.stdout.readline(), 60)).decode().split()
    assert ready[:3] == ["listening", "on", "tcp"], ready
    service.port, service.http_port = int(ready[4].rstrip(",")), int(ready[7])
    return service


async def main():
    redis_port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        redis_server = await asyncio.create_subprocess_exec(
            shutil.which("redis-server") or "/usr/bin/redis-server", "--port", str(redis_port),
            "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", tmp,
            stdout=asyncio.subprocess.DEVNULL)
        service = None
        try:
            pub = Redis()
            await pub.connect(redis_port)
            service = await start_service(redis_port)
            await run_checks(pub, service.port, service.http_port)
            service.send_signal(signal.SIGTERM)
            status = await asyncio.wait_for(service.wait(), 60)
            assert status == 0, f"the service exited with {status}"

            # Losing Redis ends the service with status 1; so does not finding it.
            service = await start_service(redis_port)
            redis_server.terminate()
            await redis_server.wait()
            status = await asyncio.wait_for(service.wait(), 60)
            assert status == 1, f"the service exited with {status} when Redis went away"
            service = await asyncio.create_subprocess_exec(*COMMAND, "--redis", f"127.0.0.1:{redis_port}",
                                                           stderr=asyncio.subprocess.PIPE)
            _, stderr = await asyncio.wait_for(service.communicate(), 60)
            assert service.returncode == 1 and b"redis" in stderr.lower(), (service.returncode, stderr)
        finally:
            if service and service.returncode is None:
                service.kill()
                await service.wait()
            if redis_server.returncode is None:
                redis_server.terminate()
                await redis_server.wait()
    print("push_service: ok")


async def run_checks(pub, port, http_port):
    a1, a2, b1, both, none = [await Client().connect(port) for _ in range(5)]
    for c, channels in ((a1, ["alpha"]), (a2, ["alpha"]), (b1, ["beta"]), (both, ["alpha", "beta"])):
        for ch in channels:
            assert await c.request(action="subscribe", channel=ch) == {"type": "subscribed", "channel": ch}
    assert await none.request(action="ping") == {"type": "pong"}
    assert (await none.request(action="dance"))["type"] == "error"
    await until_health(http_port, connections=5, dropped=0)

    # 200 messages on two channels, then an "end" on each and one on a
    # channel nobody joined; in rounds of 30, each read by the clients before
    # the next (a burst larger than a client's queue would get it dropped).
    sent = [("alpha" if i % 3 else "beta", f"message {i} " + "x" * (i % 50)) for i in range(200)]
    sent += [("alpha", "end"), ("beta", "end"), ("nobody", "lost")]
    members = ((a1, {"alpha"}), (a2, {"alpha"}), (b1, {"beta"}), (both, {"alpha", "beta"}))
    for start in range(0, len(sent), 30):
        batch = sent[start:start + 30]
        for channel, data in batch:
            assert await pub.publish(channel, data) == 1  # the service's one subscription
        for c, channels in members:
            expected = [m for m in batch if m[0] in channels]  # in the order published
            assert await c.messages(len(expected)) == expected
    # The service handled every message before the ends: had it sent any
    # other to these clients, it would come before the pong.
    for c in (a1, a2, b1, both, none):
        assert await c.request(action="ping") == {"type": "pong"}

    # A client that stops reading: disconnected once its queue (64) is full;
    # the others of its channel get everything.
    slow = await Client().connect(port, rcvbuf=4096)
    assert await slow.request(action="subscribe", channel="alpha") == {"type": "subscribed", "channel": "alpha"}
    # Published in rounds of 32, each read by the others before the next:
    # their queues never hold more than 32, the slow client's fills.
    big = [("alpha", f"{i} " + "y" * 8000) for i in range(2000)]
    for start in range(0, len(big), 32):
        batch = big[start:start + 32]
        for channel, data in batch:
            await pub.publish(channel, data)
        for c in (a1, a2, both):
            assert await c.messages(len(batch)) == batch
    received = 0
    try:
        while await asyncio.wait_for(slow.reader.readline(), 60):
            received += 1
    except ConnectionError:
        pass
    assert received < len(big), "the slow client was not disconnected"
    await until_health(http_port, connections=5, dropped=1)


asyncio.run(main())
