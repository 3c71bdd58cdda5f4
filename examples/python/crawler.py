#!/usr/bin/python3
"""Web crawler on aiohttp: the original of examples/crawler.cpp.

Fetches the start URLs and follows their links (on the same host and port)
to a depth limit: a pool of workers takes URLs from a queue, at most 20
requests run at once (a semaphore), each with a 10 s timeout. Every page's
<title> is printed; errors (refused, timed out, HTTP status >= 400) are
counted, never fatal. When the queue is done (join()), the workers are
cancelled.

    crawler.py [--uvloop] [--depth 2] [--workers 50] URL...
"""
import argparse
import asyncio
import re
import sys
import time
import urllib.parse

import aiohttp

CONCURRENCY = 20
TIMEOUT = aiohttp.ClientTimeout(total=10)
TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)
HREF = re.compile(r"""href\s*=\s*["']([^"']*)["']""", re.I)


def parse(base, html):
    """The page's title and the absolute http(s) URLs it links to."""
    m = TITLE.search(html)
    title = " ".join(m.group(1).split()) if m else ""
    links = []
    for href in HREF.findall(html):
        url = urllib.parse.urldefrag(urllib.parse.urljoin(base, href)).url
        if url.startswith(("http://", "https://")):
            links.append(url)
    return title, links


def origin(url):
    u = urllib.parse.urlsplit(url)
    return u.scheme, u.netloc


class Crawler:
    def __init__(self, depth):
        self.depth = depth
        self.queue = asyncio.Queue()
        self.limit = asyncio.Semaphore(CONCURRENCY)
        self.seen = set()
        self.origins = set()
        self.pages = 0
        self.errors = 0

    def enqueue(self, url, depth):
        if url not in self.seen and origin(url) in self.origins:
            self.seen.add(url)
            self.queue.put_nowait((url, depth))

    async def fetch(self, session, url):
        async with self.limit:
            async with session.get(url) as r:
                r.raise_for_status()
                return await r.text(errors="replace")

    async def worker(self, session):
        while True:
            url, depth = await self.queue.get()
            try:
                html = await self.fetch(session, url)
                title, links = parse(url, html)
                self.pages += 1
                print(f"page {url} {title}")
                if depth < self.depth:
                    for link in links:
                        self.enqueue(link, depth + 1)
            except Exception as e:  # refused, timed out, HTTP errors, bad URLs...: counted
                self.errors += 1
                print(f"error {url}: {type(e).__name__} {e}", file=sys.stderr)
            finally:
                self.queue.task_done()

    async def crawl(self, urls, workers):
        self.origins = {origin(u) for u in urls}
        for u in urls:
            self.enqueue(u, 0)
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            tasks = [asyncio.create_task(self.worker(session)) for _ in range(workers)]
            await self.queue.join()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def main(args):
    crawler = Crawler(args.depth)
    started = time.monotonic()
    await crawler.crawl(args.urls, args.workers)
    elapsed = time.monotonic() - started
    print(f"crawled {crawler.pages} pages, {crawler.errors} errors in {elapsed:.3f} s "
          f"({crawler.pages / elapsed:.0f} pages/s)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="web crawler (aiohttp)")
    ap.add_argument("--uvloop", action="store_true", help="run on uvloop instead of asyncio's loop")
    ap.add_argument("--depth", type=int, default=2, help="links followed from a start URL")
    ap.add_argument("--workers", type=int, default=50)
    ap.add_argument("urls", nargs="+")
    args = ap.parse_args()
    if args.uvloop:
        import uvloop
        uvloop.install()
    asyncio.run(main(args))
