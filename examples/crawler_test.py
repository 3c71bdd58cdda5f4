#!/usr/bin/python3
"""The test of the crawler (ctest: example_crawler, and example_crawler_python
for the aiohttp original).

    crawler_test.py CRAWLER-COMMAND...

Serves a generated site (in this process, on a free port): page i links to
its children 3i+1..3i+3 (as absolute paths, absolute URLs and relative
paths), back to the root, to a fragment, to another host, to a page that
is missing (404) and to one that fails (500). Crawling /p/0 to depth 3 must
visit exactly the pages of depth <= 3 (0..39 of 121), each once, print
their titles, and count the two errors.
"""
import http.server
import re
import subprocess
import sys
import threading

PAGES = 121  # depths 0..4
DEPTH = 3
EXPECTED = 40  # 1 + 3 + 9 + 27


def page(i, port):
    links = []
    for k, child in enumerate(range(3 * i + 1, 3 * i + 4)):
        if child < PAGES:
            links.append([f"/p/{child}", f"http://127.0.0.1:{port}/p/{child}#top", f"../p/./{child}"][k])
    links += ["/p/0", "#self", "http://192.0.2.1/elsewhere", "mailto:someone@example.com"]
    if i == 0:
        links += ["/missing", "/fails", "/p/1"]
    anchors = "".join(f'<a href="{u}">link</a>\n' for u in links)
    return f"<html><head><TITLE>\n  Page {i}\n</TITLE></head><body>{anchors}</body></html>"


class Site(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hits = {}
    lock = threading.Lock()

    def do_GET(self):
        with Site.lock:
            Site.hits[self.path] = Site.hits.get(self.path, 0) + 1
        m = re.fullmatch(r"/p/(\d+)", self.path)
        status = 200 if m and int(m.group(1)) < PAGES else 500 if self.path == "/fails" else 404
        body = page(int(m.group(1)), self.server.server_port).encode() if status == 200 else b"no"
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Site)
    site.daemon_threads = True
    threading.Thread(target=site.serve_forever, daemon=True).start()
    port = site.server_port
    try:
        r = subprocess.run(sys.argv[1:] + ["--depth", str(DEPTH), f"http://127.0.0.1:{port}/p/0"],
                           capture_output=True, text=True, timeout=60)
    finally:
        site.shutdown()
    out = r.stdout
    if r.returncode != 0:
        sys.exit(f"crawler failed ({r.returncode}): {r.stderr}")
    visited = re.findall(r"^page (\S+) (.*)$", out, re.M)
    expected = {f"http://127.0.0.1:{port}/p/{i}": f"Page {i}" for i in range(EXPECTED)}
    if dict(visited) != expected or len(visited) != EXPECTED:
        sys.exit(f"visited {sorted(visited)}, expected {sorted(expected.items())}")
    if not re.search(rf"^crawled {EXPECTED} pages, 2 errors in ", out, re.M):
        sys.exit(f"summary: {out.splitlines()[-1:]}")
    if Site.hits.get("/missing") != 1 or Site.hits.get("/fails") != 1:
        sys.exit(f"error pages fetched {Site.hits}")
    if any(n != 1 for path, n in Site.hits.items()):
        sys.exit(f"a page was fetched twice: {Site.hits}")
    if len(re.findall(r"^error ", r.stderr, re.M)) != 2:
        sys.exit(f"errors reported: {r.stderr}")
    print("crawler: ok")


if __name__ == "__main__":
    main()
