# The twin of uvasync_http_client on aiohttp's client (uvloop by default):
#   aiohttp_client.py --port N [--requests 10000] [--conns 100] [--path /] [--loop uvloop|asyncio]
# Prints {"requests":..., "errors":..., "seconds":..., "rps":...}.
import argparse
import asyncio
import json
import time

import aiohttp


async def main(a):
    url = 'http://127.0.0.1:%d%s' % (a.port, a.path)
    left = a.requests
    errors = 0
    connector = aiohttp.TCPConnector(limit=a.conns, limit_per_host=a.conns)
    async with aiohttp.ClientSession(connector=connector) as s:
        async def worker():
            nonlocal left, errors
            while left > 0:
                left -= 1
                try:
                    async with s.get(url) as r:
                        await r.read()
                        if r.status != 200:
                            errors += 1
                except aiohttp.ClientError:
                    errors += 1
        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(a.conns)))
        secs = time.perf_counter() - t0
    print(json.dumps({'requests': a.requests, 'errors': errors, 'seconds': round(secs, 4),
                      'rps': round(a.requests / secs, 1)}))


if __name__ == '__main__':
    p = argparse.ArgumentParser()
    p.add_argument('--port', type=int, required=True)
    p.add_argument('--requests', type=int, default=10000)
    p.add_argument('--conns', type=int, default=100)
    p.add_argument('--path', default='/')
    p.add_argument('--loop', choices=['asyncio', 'uvloop'], default='uvloop')
    a = p.parse_args()
    if a.loop == 'uvloop':
        import uvloop
        uvloop.install()
    asyncio.run(main(a))
