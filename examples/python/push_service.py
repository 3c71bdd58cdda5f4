"""push_service: messages published on Redis, pushed to the clients of their channel.

    python3 push_service.py [--uvloop] [--port N] [--http-port N] [--redis host:port] [--queue N]

Clients connect over TCP (port 8765) and speak newline-delimited JSON:
{"action":"subscribe","channel":"news"} joins a channel (a client may join
several), {"action":"ping"} is answered {"type":"pong"}. (The original of
this kind of service speaks WebSocket through aiohttp; the uvasync port has
no WebSocket yet, so both speak JSON lines.) Every message published on a
Redis channel (PSUBSCRIBE *) reaches each client of that channel as
{"type":"message","channel":...,"data":...}. Each client has a bounded queue
(--queue, 1,000 messages) and a task of its own that sends from it, so a slow
or dead client never stalls the others; a client whose queue is full has
fallen too far behind and is disconnected. GET /health on --http-port (8080)
reports the connection count. The uvasync port is examples/push_service.cpp.
"""
import argparse
import asyncio
import json
import signal
import sys

import redis.asyncio as aioredis
from aiohttp import web


class Client:
    def __init__(self, writer, queue_size):
        self.writer = writer
        self.outbox = asyncio.Queue(queue_size)
        self.channels = set()
        self.dropped = False


class Hub:
    def __init__(self, queue_size):
        self.queue_size = queue_size
        self.channels = {}
        self.connections = self.dropped = 0

    def subscribe(self, client, channel):
        client.channels.add(channel)
        self.channels.setdefault(channel, set()).add(client)

    def leave(self, client):
        for channel in client.channels:
            members = self.channels[channel]
            members.discard(client)
            if not members:
                del self.channels[channel]
        client.channels.clear()

    def drop(self, client):
        if client.dropped:
            return
        client.dropped = True
        self.dropped += 1
        self.leave(client)
        client.writer.transport.abort()

    def send(self, client, line):
        if client.dropped:
            return
        try:
            client.outbox.put_nowait(line)
        except asyncio.QueueFull:
            self.drop(client)

    def publish(self, channel, data):
        members = self.channels.get(channel)
        if not members:
            return
        line = (json.dumps({"type": "message", "channel": channel, "data": data}, separators=(",", ":")) + "\n").encode()
        for client in list(members):
            self.send(client, line)


async def send_loop(client):
    try:
        while True:
            line = await client.outbox.get()
            client.writer.write(line)
            await client.writer.drain()
    except (ConnectionError, RuntimeError):
        client.writer.transport.abort()


PONG = b'{"type":"pong"}\n'
UNKNOWN = b'{"type":"error","error":"unknown request"}\n'


async def serve_client(hub, reader, writer):
    client = Client(writer, hub.queue_size)
    hub.connections += 1
    sender = asyncio.create_task(send_loop(client))
    try:
        while line := await reader.readline():
            try:
                request = json.loads(line)
            except ValueError:
                request = None
            action = request.get("action") if isinstance(request, dict) else None
            channel = request.get("channel") if isinstance(request, dict) else None
            if action == "ping":
                hub.send(client, PONG)
            elif action == "subscribe" and isinstance(channel, str) and channel:
                hub.subscribe(client, channel)
                hub.send(client, (json.dumps({"type": "subscribed", "channel": channel}, separators=(",", ":")) + "\n").encode())
            else:
                hub.send(client, UNKNOWN)
    except (ConnectionError, ValueError):
        pass  # a reset connection, a line over the limit: the session ends
    finally:
        hub.leave(client)
        hub.connections -= 1
        sender.cancel()
        writer.close()


async def listen_redis(hub, pubsub):
    async for message in pubsub.listen():
        if message["type"] == "pmessage":
            hub.publish(message["channel"].decode(), message["data"].decode())
    raise ConnectionError("redis: disconnected")


async def main(args):
    hub = Hub(args.queue)
    host, _, port = args.redis.rpartition(":")
    redis = aioredis.Redis(host=host, port=int(port))
    pubsub = redis.pubsub()
    await pubsub.psubscribe("*")

    server = await asyncio.start_server(lambda r, w: serve_client(hub, r, w), "127.0.0.1", args.port)

    async def health(request):
        return web.json_response({"status": "ok", "connections": hub.connections, "dropped": hub.dropped})

    app = web.Application()
    app.router.add_get("/health", health)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", args.http_port)
    await site.start()
    print(f"listening on tcp port {server.sockets[0].getsockname()[1]}, http port {runner.addresses[0][1]}",
          flush=True)

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    listener = asyncio.create_task(listen_redis(hub, pubsub))
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait([listener, stopper], return_when=asyncio.FIRST_COMPLETED)
    status = 0
    if listener.done():
        print(f"push_service: {listener.exception()}", file=sys.stderr)
        status = 1
    listener.cancel()
    stopper.cancel()
    server.close()
    await runner.cleanup()
    await server.wait_closed()
    await pubsub.close()
    await redis.close()
    return status


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--uvloop", action="store_true")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--http-port", type=int, default=8080)
    parser.add_argument("--redis", default="127.0.0.1:6379")
    parser.add_argument("--queue", type=int, default=1000)
    args = parser.parse_args()
    factory = None
    if args.uvloop:
        import uvloop
        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        sys.exit(runner.run(main(args)))
