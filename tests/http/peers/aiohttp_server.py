# An aiohttp server as a peer for the client tests. Prints its port on the
# first line, then serves until killed.
#   /hello     "hello from aiohttp"
#   /echo      the request body back
#   /headers   the request's headers as JSON
#   /gzip      a large text body, gzip-compressed on the wire
#   /stats     {"connections": distinct connections that sent requests,
#               "max_open": most of them open at one time}
import asyncio
import json
import sys

from aiohttp import web

seen = []


async def hello(request):
    t = request.transport
    if all(t is not s for s in seen):
        seen.append(t)
    open_now = sum(1 for s in seen if not s.is_closing())
    request.app['max_open'] = max(request.app['max_open'], open_now)
    await asyncio.sleep(0.001)
    return web.Response(text='hello from aiohttp')


async def echo(request):
    return web.Response(body=await request.read())


async def headers(request):
    return web.json_response(dict(request.headers))


async def gzipped(request):
    r = web.Response(text='compressible ' * 10000)
    r.enable_compression(web.ContentCoding.gzip)
    return r


async def stats(request):
    return web.json_response({'connections': len(seen), 'max_open': request.app['max_open']})


async def main():
    app = web.Application()
    app['max_open'] = 0
    app.router.add_get('/hello', hello)
    app.router.add_post('/echo', echo)
    app.router.add_get('/headers', headers)
    app.router.add_get('/gzip', gzipped)
    app.router.add_get('/stats', stats)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, '127.0.0.1', 0)
    await site.start()
    print(site._server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
