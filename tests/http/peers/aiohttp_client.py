# aiohttp's client against the server under test (port in argv[1]): GET,
# POST, HEAD, path parameters, 404/405, and 200 concurrent requests through
# one pooled session. Prints "OK".
import asyncio
import sys

import aiohttp


async def main(port):
    base = 'http://127.0.0.1:%d' % port
    async with aiohttp.ClientSession() as s:
        async with s.get(base + '/hello') as r:
            assert r.status == 200
            assert r.headers['Content-Type'] == 'text/plain; charset=utf-8'
            assert await r.text() == 'Hello, World!'
        async with s.post(base + '/echo', data=b'\x00\x01binary' * 1000) as r:
            assert r.status == 200
            assert await r.read() == b'\x00\x01binary' * 1000
        async with s.head(base + '/hello') as r:
            assert r.status == 200 and r.headers['Content-Length'] == '13'
        async with s.get(base + '/users/%C3%A9t%C3%A9') as r:
            assert await r.text() == 'user \u00e9t\u00e9'
        async with s.get(base + '/nope') as r:
            assert r.status == 404
        async with s.patch(base + '/users/1') as r:
            assert r.status == 405 and 'PUT' in r.headers['Allow']

        async def one(i):
            async with s.get(base + '/n/%d' % i) as r:
                assert r.status == 200
                assert await r.text() == str(i)
        await asyncio.gather(*(one(i) for i in range(200)))
    print('OK')

asyncio.run(main(int(sys.argv[1])))
