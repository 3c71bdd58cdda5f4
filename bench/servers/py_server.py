#!/usr/bin/python3
"""asyncio / uvloop comparison servers for the uvasync benchmark suite.

    /usr/bin/python3 bench/servers/py_server.py --loop asyncio|uvloop \
        --mode MODE --port N

Modes (single-threaded, 127.0.0.1 only, no third-party web framework):
  echo-streams      start_server; read() -> write() -> drain()
  echo-protocol     asyncio.Protocol; data_received -> transport.write()
  readline-streams  start_server; readline() -> write() -> drain()
  readline-protocol asyncio.Protocol; writes back complete lines only
  http-protocol     asyncio.Protocol; minimal HTTP/1.1 keep-alive hello
  http-streams      start_server; readuntil(b"\\r\\n\\r\\n") per request

HTTP: a request ends at "\\r\\n\\r\\n" (no request bodies); pipelined requests
are answered in order; "GET /health" -> {"status":"ok"} (application/json),
anything else -> "Hello, World!" (text/plain).

The listening socket is created here and handed over with sock=, so no
getaddrinfo runs in the default executor and the process stays
single-threaded.  Exits quietly on SIGTERM or SIGINT.
"""
import argparse
import asyncio
import resource
import signal
import socket
import sys

HELLO = (b"HTTP/1.1 200 OK\r\n"
         b"Content-Type: text/plain\r\n"
         b"Content-Length: 13\r\n"
         b"\r\n"
         b"Hello, World!")
HEALTH = (b"HTTP/1.1 200 OK\r\n"
          b"Content-Type: application/json\r\n"
          b"Content-Length: 15\r\n"
          b"\r\n"
          b'{"status":"ok"}')
HEALTH_PREFIX = b"GET /health "
MAX_HEADER = 64 * 1024


def respond(request: bytes) -> bytes:
    return HEALTH if request.startswith(HEALTH_PREFIX) else HELLO


# ---------------------------------------------------------------- streams

async def echo_streams(reader, writer):
    try:
        while True:
            data = await reader.read(256 * 1024)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def readline_streams(reader, writer):
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            writer.write(line)
            await writer.drain()
    except (ConnectionError, OSError, ValueError):
        pass
    finally:
        writer.close()


async def http_streams(reader, writer):
    try:
        while True:
            try:
                request = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                break
            writer.write(respond(request))
            await writer.drain()
    except (ConnectionError, OSError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


# -------------------------------------------------------------- protocols

def _nodelay(transport):
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass


class EchoProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        _nodelay(transport)

    def data_received(self, data):
        self.transport.write(data)


class ReadlineProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.buf = b""
        _nodelay(transport)

    def data_received(self, data):
        buf = self.buf + data if self.buf else data
        end = buf.rfind(b"\n")
        if end < 0:
            self.buf = buf
            if len(buf) > MAX_HEADER:
                self.transport.close()
            return
        self.transport.write(buf[:end + 1])
        self.buf = buf[end + 1:]


class HttpProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.buf = b""
        _nodelay(transport)

    def data_received(self, data):
        buf = self.buf + data if self.buf else data
        out = []
        start = 0
        while True:
            end = buf.find(b"\r\n\r\n", start)
            if end < 0:
                break
            out.append(respond(buf[start:start + 12]))
            start = end + 4
        self.buf = buf[start:] if start < len(buf) else b""
        if out:
            self.transport.write(out[0] if len(out) == 1 else b"".join(out))
        if len(self.buf) > MAX_HEADER:
            self.transport.close()


STREAM_HANDLERS = {
    "echo-streams": echo_streams,
    "readline-streams": readline_streams,
    "http-streams": http_streams,
}
PROTOCOLS = {
    "echo-protocol": EchoProtocol,
    "readline-protocol": ReadlineProtocol,
    "http-protocol": HttpProtocol,
}


def listening_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(4096)
    sock.setblocking(False)
    return sock


def tls_context(cert, key):
    if not cert:
        return None
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3  # (its one suite here: TLS_AES_128_GCM_SHA256 is the client's)
    ctx.load_cert_chain(cert, key)
    return ctx


async def serve(mode: str, port: int, tls=None) -> None:
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    sock = listening_socket(port)
    if mode in STREAM_HANDLERS:
        server = await asyncio.start_server(STREAM_HANDLERS[mode], sock=sock,
                                            backlog=4096, ssl=tls)
    else:
        server = await loop.create_server(PROTOCOLS[mode], sock=sock,
                                          backlog=4096)
    async with server:
        await stop


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    ap.add_argument("--mode", choices=sorted([*STREAM_HANDLERS, *PROTOCOLS]),
                    required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cert", help="TLS (streams modes): certificate chain; TLS 1.3, AES-128-GCM")
    ap.add_argument("--key", help="TLS: private key")
    args = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    if args.loop == "uvloop":
        import uvloop
        runner = uvloop.run if hasattr(uvloop, "run") else None
        if runner is None:
            uvloop.install()
    else:
        runner = None
    try:
        (runner or asyncio.run)(serve(args.mode, args.port, tls_context(args.cert, args.key)))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
