#!/usr/bin/python3
"""The test of the API gateway (ctest: example_api_gateway, and
example_api_gateway_python for the aiohttp original).

    api_gateway_test.py GATEWAY-COMMAND...

Starts a JSON backend (in this process, on a free port), then the gateway
(--port 0; its "listening on" line gives the port) with a small rate limit
and a short upstream timeout, and checks: forwarding of method, query and
JSON body; 400 on a body that is not JSON; 429 exactly after the limit, per
client, and clients quiet for a window forgotten; the GET cache and its
TTL; 504 on a backend that does not answer
in time; 502 on a backend that is down or answers something else than
JSON; /metrics; the log lines; a clean exit on SIGTERM.
"""
import http.client
import http.server
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

LIMIT = 5


class Backend(http.server.BaseHTTPRequestHandler):
    hits = {}
    release = threading.Event()  # the slow endpoint answers once this is set
    protocol_version = "HTTP/1.1"

    def answer(self):
        url = urllib.parse.urlsplit(self.path)
        Backend.hits[url.path] = Backend.hits.get(url.path, 0) + 1
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if url.path == "/slow":
            Backend.release.wait(30)
        if url.path == "/notjson":
            data = b"<html>not json</html>"
        else:
            data = json.dumps({"method": self.command, "path": url.path, "query": url.query,
                               "content_type": self.headers.get("Content-Type"),
                               "body": json.loads(body) if body else None,
                               "hits": Backend.hits[url.path]}).encode()
        try:
            self.send_response(201 if url.path == "/created" else 200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # /slow: the gateway gave up on it
            pass

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = answer

    def log_message(self, *args):
        pass


def start_gateway(cmd, backend, *more):
    p = subprocess.Popen(cmd + ["--port", "0", "--backend", backend, "--rate-limit", str(LIMIT),
                                "--rate-window", "60", "--timeout", "2", "--cache-ttl", "60", *more],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    m = re.search(r"listening on http://[^:]+:(\d+)", line)
    if not m:
        p.kill()
        sys.exit(f"the gateway did not start: {line!r} {p.stderr.read()}")
    return p, int(m.group(1))


def request(port, method, path, body=None, client="test", raw=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    headers = {"X-Client-ID": client} if client else {}
    data = raw if raw is not None else (json.dumps(body) if body is not None else None)
    if data is not None:
        headers["Content-Type"] = "application/json"
    c.request(method, path, body=data, headers=headers)
    r = c.getresponse()
    text = r.read().decode()
    c.close()
    return r.status, dict(r.getheaders()), text


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def main():
    cmd = sys.argv[1:]
    backend = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Backend)
    backend.daemon_threads = True
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    gw, port = start_gateway(cmd, f"http://127.0.0.1:{backend.server_port}")
    try:
        # Forwarding: method, path, query, JSON body; the backend's status.
        s, h, t = request(port, "POST", "/api/items?x=1&y=two%20words", {"name": "widget", "n": [1, 2]}, "fwd")
        d = json.loads(t)
        check(s == 200 and h.get("Content-Type", "").startswith("application/json"), (s, h))
        check(d["method"] == "POST" and d["path"] == "/api/items", d)
        check(urllib.parse.parse_qs(d["query"]) == {"x": ["1"], "y": ["two words"]}, d)
        check(d["body"] == {"name": "widget", "n": [1, 2]} and d["content_type"] == "application/json", d)
        for method in ("PUT", "PATCH", "DELETE"):
            s, _, t = request(port, method, "/api/items/7", {"m": method}, "fwd-" + method)
            d = json.loads(t)
            check(s == 200 and d["method"] == method and d["body"] == {"m": method}, (method, s, t))
        s, _, t = request(port, "GET", "/created", None, "fwd-status")
        check(s == 201 and json.loads(t)["method"] == "GET", (s, t))
        s, _, t = request(port, "POST", "/api/items", None, "bad-json", raw="{not json")
        check(s == 400 and "error" in json.loads(t), (s, t))

        # Rate limit: exactly LIMIT requests per client in the window.
        for i in range(LIMIT):
            s, _, t = request(port, "GET", f"/api/limited/{i}", None, "limited")
            check(s == 200, ("under the limit", i, s, t))
        s, _, t = request(port, "GET", "/api/limited/x", None, "limited")
        check(s == 429 and json.loads(t) == {"error": "Rate limit exceeded"}, ("over the limit", s, t))
        s, _, _ = request(port, "GET", "/api/limited/x", None, "limited")
        check(s == 429, ("still over the limit", s))
        s, _, _ = request(port, "GET", "/api/limited/x", None, "another")
        check(s == 200, ("another client", s))

        # Cache: the second GET does not reach the backend.
        s1, h1, t1 = request(port, "GET", "/api/cached?q=1", None, "cache")
        s2, h2, t2 = request(port, "GET", "/api/cached?q=1", None, "cache")
        check(s1 == s2 == 200 and json.loads(t1) == json.loads(t2), (s1, s2, t1, t2))
        check(h1.get("X-Cache") == "MISS" and h2.get("X-Cache") == "HIT", (h1, h2))
        check(Backend.hits["/api/cached"] == 1, Backend.hits)
        s3, h3, _ = request(port, "GET", "/api/cached?q=2", None, "cache")
        check(s3 == 200 and h3.get("X-Cache") == "MISS" and Backend.hits["/api/cached"] == 2, (h3, Backend.hits))

        # Failures: a backend too slow, an answer that is not JSON.
        s, _, t = request(port, "GET", "/slow", None, "slow")
        check(s == 504 and "error" in json.loads(t), ("slow backend", s, t))
        s, _, t = request(port, "GET", "/notjson", None, "notjson")
        check(s == 502 and "error" in json.loads(t), ("not JSON", s, t))

        # Metrics.
        s, h, t = request(port, "GET", "/metrics", None, "metrics")
        check(s == 200 and h.get("Content-Type", "").startswith("text/plain"), (s, h))
        check('gateway_requests_total{method="POST",endpoint="/api"} 2' in t, t)
        check('gateway_requests_total{method="GET",endpoint="/api"} 11' in t, t)
        check('gateway_requests_total{method="GET",endpoint="/slow"} 1' in t, t)
        check("# TYPE gateway_request_duration_seconds histogram" in t, t)
        count = int(re.search(r"^gateway_request_duration_seconds_count (\d+)$", t, re.M).group(1))
        inf = int(re.search(r'^gateway_request_duration_seconds_bucket\{le="\+Inf"\} (\d+)$', t, re.M).group(1))
        buckets = [int(n) for n in re.findall(r'^gateway_request_duration_seconds_bucket\{le="[^"]+"\} (\d+)$', t, re.M)]
        fast = int(re.search(r'^gateway_request_duration_seconds_bucket\{le="0.25"\} (\d+)$', t, re.M).group(1))
        check(count == inf == 19 and len(buckets) == 11 and buckets == sorted(buckets), (count, inf, buckets, t))
        check(fast <= count - 1, (fast, t))  # /slow took the 2 s timeout
        conns = int(re.search(r"^gateway_active_connections (\d+)$", t, re.M).group(1))
        check(conns >= 1, t)

        # Clients gone quiet for a window are forgotten: 100 clients, a
        # window (3 s) later 100 others; the table is swept once it has
        # doubled, and keeps the second 100 (and the one asking for /metrics).
        gw4, port4 = start_gateway(cmd, f"http://127.0.0.1:{backend.server_port}", "--rate-window", "3")
        try:
            for i in range(100):
                check(request(port4, "GET", "/api/once", None, f"early-{i}")[0] == 200, "early clients")
            time.sleep(3.2)  # the window itself: the first 100 fall out of it
            for i in range(100):
                check(request(port4, "GET", "/api/once", None, f"late-{i}")[0] == 200, "late clients")
            _, _, t = request(port4, "GET", "/metrics", None, "metrics")
            tracked = int(re.search(r"^gateway_rate_limited_clients (\d+)$", t, re.M).group(1))
            check(tracked == 101, ("clients kept after the sweep (201 without it)", tracked))
        finally:
            gw4.send_signal(signal.SIGTERM)
            gw4.communicate(timeout=20)

        # A TTL of 0: nothing is served from the cache.
        gw3, port3 = start_gateway(cmd, f"http://127.0.0.1:{backend.server_port}", "--cache-ttl", "0")
        try:
            for n in (1, 2):
                s, h, t = request(port3, "GET", "/api/uncached", None, "ttl")
                check(s == 200 and h.get("X-Cache") == "MISS" and json.loads(t)["hits"] == n, ("TTL 0", n, h, t))
        finally:
            gw3.send_signal(signal.SIGTERM)
            gw3.communicate(timeout=20)

        # The port is taken: a message and status 1.
        busy = subprocess.run(cmd + ["--port", str(port), "--backend", "http://127.0.0.1:1"],
                              capture_output=True, text=True, timeout=20)
        check(busy.returncode == 1 and busy.stderr.strip(), ("port in use", busy.returncode, busy.stderr))

        # A backend that is down.
        dead = socket.socket()
        dead.bind(("127.0.0.1", 0))
        dead_port = dead.getsockname()[1]
        dead.close()
        gw2, port2 = start_gateway(cmd, f"http://127.0.0.1:{dead_port}")
        try:
            s, _, t = request(port2, "GET", "/api/x", None, "down")
            check(s == 502 and json.loads(t)["error"].startswith("Bad gateway"), ("backend down", s, t))
        finally:
            gw2.send_signal(signal.SIGTERM)
            gw2.communicate(timeout=20)
    finally:
        Backend.release.set()
        gw.send_signal(signal.SIGTERM)
        out, err = gw.communicate(timeout=20)
        backend.shutdown()
    check(gw.returncode == 0, ("exit status", gw.returncode, err))
    check(re.search(r"^POST /api/items 200 [\d.]+ms$", err, re.M), err)
    check(re.search(r"^GET /api/limited/x 429 [\d.]+ms$", err, re.M), err)
    check(re.search(r"^GET /slow 504 [\d.]+ms$", err, re.M), err)
    print("api_gateway: ok")


if __name__ == "__main__":
    main()
