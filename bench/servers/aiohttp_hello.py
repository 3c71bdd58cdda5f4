# aiohttp's hello server, the one of the uvloop articles, on asyncio or
# uvloop (bench/README.md's server contract):
#   aiohttp_hello.py --loop asyncio|uvloop --port N
# GET /health -> {"status":"ok"}, POST /echo -> the body back as JSON, any
# other GET -> "Hello, World!" as text/plain. Access log off.
import argparse
import asyncio
import resource
import signal

from aiohttp import web


async def hello(request):
    return web.Response(text='Hello, World!', content_type='text/plain')


async def health(request):
    return web.Response(text='{"status":"ok"}', content_type='application/json')


async def echo(request):
    return web.Response(body=await request.read(), content_type='application/json')


async def main(port):
    app = web.Application()
    app.router.add_get('/health', health)
    app.router.add_post('/echo', echo)
    app.router.add_get('/{tail:.*}', hello)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, '127.0.0.1', port, backlog=4096)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for s in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(s, stop.set)
    await stop.wait()
    await runner.cleanup()


if __name__ == '__main__':
    p = argparse.ArgumentParser()
    p.add_argument('--loop', choices=['asyncio', 'uvloop'], default='asyncio')
    p.add_argument('--port', type=int, required=True)
    a = p.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if a.loop == 'uvloop':
        import uvloop
        uvloop.install()
    asyncio.run(main(a.port))
