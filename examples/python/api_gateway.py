#!/usr/bin/python3
"""API gateway on aiohttp: the original of examples/api_gateway.cpp.

Every request `* /{tail}` goes to the backend with its method, query and JSON
body; the backend's JSON answer comes back with its status. Around it: a
sliding-window rate limiter per X-Client-ID (429 over the limit), a logging
middleware that also feeds GET /metrics (Prometheus text), a pooled upstream
session with a timeout (504 on timeout, 502 when the backend fails), and a
small cache of GET responses with a TTL.

    api_gateway.py [--uvloop] [--port 8080] [--backend URL] [--rate-limit 1000]
                   [--rate-window 60] [--timeout 5] [--cache-ttl 5]

The backend URL defaults to $BACKEND_URL, then http://127.0.0.1:8081.
"""
import argparse
import asyncio
import collections
import json
import logging
import os
import signal
import time

import aiohttp
from aiohttp import web

log = logging.getLogger("gateway")
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, float("inf"))
CACHE_SIZE = 1000


def label(value):
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class RateLimiter:
    """At most `limit` requests per client in any `window` seconds. Clients
    without a request in the window are forgotten whenever the table has
    doubled since it was last swept, so that clients who come once do not
    make it grow for good."""

    def __init__(self, limit, window):
        self.limit, self.window = limit, window
        self.hits = collections.defaultdict(collections.deque)
        self.swept_size = 0

    def allow(self, client):
        now = time.monotonic()
        if len(self.hits) >= 2 * self.swept_size + 64:
            self.hits = collections.defaultdict(collections.deque, {
                c: h for c, h in self.hits.items() if h and h[-1] > now - self.window})
            self.swept_size = len(self.hits)
        hits = self.hits[client]
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return False
        hits.append(now)
        return True


class Metrics:
    def __init__(self):
        self.requests = collections.Counter()  # (method, endpoint) -> count
        self.buckets = [0] * len(BUCKETS)
        self.latency_sum = 0.0
        self.latency_count = 0

    def observe(self, method, path, seconds):
        self.requests[method, "/" + path.lstrip("/").split("/", 1)[0]] += 1
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                self.buckets[i] += 1
        self.latency_sum += seconds
        self.latency_count += 1

    def render(self, connections, clients):
        out = ["# HELP gateway_requests_total Requests by method and endpoint.",
               "# TYPE gateway_requests_total counter"]
        for (method, endpoint), n in sorted(self.requests.items()):
            out.append(f'gateway_requests_total{{method="{label(method)}",endpoint="{label(endpoint)}"}} {n}')
        out += ["# HELP gateway_request_duration_seconds Request latency.",
                "# TYPE gateway_request_duration_seconds histogram"]
        for bound, n in zip(BUCKETS, self.buckets):
            le = "+Inf" if bound == float("inf") else f"{bound:g}"
            out.append(f'gateway_request_duration_seconds_bucket{{le="{le}"}} {n}')
        out += [f"gateway_request_duration_seconds_sum {self.latency_sum:.6f}",
                f"gateway_request_duration_seconds_count {self.latency_count}",
                "# HELP gateway_active_connections Open client connections.",
                "# TYPE gateway_active_connections gauge",
                f"gateway_active_connections {connections}",
                "# HELP gateway_rate_limited_clients Clients the rate limiter keeps hits of.",
                "# TYPE gateway_rate_limited_clients gauge",
                f"gateway_rate_limited_clients {clients}"]
        return "\n".join(out) + "\n"


class Gateway:
    def __init__(self, args):
        self.backend = args.backend.rstrip("/")
        self.limiter = RateLimiter(args.rate_limit, args.rate_window)
        self.metrics = Metrics()
        self.cache_ttl = args.cache_ttl
        self.cache = {}  # raw path and query -> (expires, status, body)
        self.timeout = aiohttp.ClientTimeout(total=args.timeout)
        self.session = None
        self.runner = None

    @web.middleware
    async def observe(self, request, handler):
        started = time.monotonic()
        response = await handler(request)
        elapsed = time.monotonic() - started
        self.metrics.observe(request.method, request.path, elapsed)
        log.info("%s %s %d %.2fms", request.method, request.path, response.status, elapsed * 1000)
        return response

    @web.middleware
    async def rate_limit(self, request, handler):
        client = request.headers.get("X-Client-ID") or request.remote
        if not self.limiter.allow(client):
            return web.json_response({"error": "Rate limit exceeded"}, status=429)
        return await handler(request)

    async def metrics_endpoint(self, request):
        return web.Response(text=self.metrics.render(len(self.runner.server.connections), len(self.limiter.hits)),
                            content_type="text/plain", charset="utf-8")

    async def forward(self, request):
        key = request.raw_path
        if request.method == "GET":
            hit = self.cache.get(key)
            if hit and hit[0] > time.monotonic():
                return web.json_response(text=hit[2], status=hit[1], headers={"X-Cache": "HIT"})
        try:
            payload = await request.json() if request.body_exists else None
        except ValueError:
            return web.json_response({"error": "Invalid JSON body"}, status=400)
        url = f"{self.backend}/{request.match_info['tail']}"
        try:
            async with self.session.request(request.method, url, params=request.query, json=payload) as r:
                data = await r.json(content_type=None)
                status = r.status
        except asyncio.TimeoutError:
            return web.json_response({"error": "Gateway timeout"}, status=504)
        except (aiohttp.ClientError, ValueError) as e:
            return web.json_response({"error": f"Bad gateway: {e}"}, status=502)
        except Exception as e:
            log.exception("forwarding %s", url)
            return web.json_response({"error": f"Internal error: {e}"}, status=500)
        body = json.dumps(data)
        if request.method == "GET" and status == 200:
            self.remember(key, status, body)
        return web.json_response(text=body, status=status, headers={"X-Cache": "MISS"})

    def remember(self, key, status, body):
        # Every entry has the same TTL: the oldest one goes first when full.
        if len(self.cache) >= CACHE_SIZE and key not in self.cache:
            del self.cache[next(iter(self.cache))]
        self.cache[key] = (time.monotonic() + self.cache_ttl, status, body)


async def main(args):
    gw = Gateway(args)
    gw.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1000), timeout=gw.timeout)
    app = web.Application(middlewares=[gw.observe, gw.rate_limit])
    app.router.add_get("/metrics", gw.metrics_endpoint)
    app.router.add_route("*", "/{tail:.*}", gw.forward)
    gw.runner = web.AppRunner(app, access_log=None)
    await gw.runner.setup()
    await web.TCPSite(gw.runner, "127.0.0.1", args.port).start()
    host, port = gw.runner.addresses[0][:2]
    print(f"listening on http://{host}:{port}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    await gw.runner.cleanup()  # graceful: requests in flight finish
    await gw.session.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="API gateway (aiohttp)")
    ap.add_argument("--uvloop", action="store_true", help="run on uvloop instead of asyncio's loop")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--backend", default=os.environ.get("BACKEND_URL", "http://127.0.0.1:8081"))
    ap.add_argument("--rate-limit", type=int, default=1000, help="requests per client per window")
    ap.add_argument("--rate-window", type=float, default=60.0, help="seconds")
    ap.add_argument("--timeout", type=float, default=5.0, help="upstream timeout, seconds")
    ap.add_argument("--cache-ttl", type=float, default=5.0, help="seconds a GET response is cached")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.uvloop:
        import uvloop
        uvloop.install()
    asyncio.run(main(args))
