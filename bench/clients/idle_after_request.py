# Server memory per idle keep-alive connection *after* a request (loadgen's
# idle mode measures connections that never sent one):
#   idle_after_request.py --port N --pid SERVER_PID [--conns 5000]
# Opens the connections, sends one GET on each and reads its answer, waits
# 0.5 s, and prints {"conns":..., "rss_before_kib":..., "rss_after_kib":...,
# "bytes_per_conn":...} (VmRSS growth / connections).
import argparse
import asyncio
import json


def rss_kib(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])


async def one(port, held):
    r, w = await asyncio.open_connection('127.0.0.1', port)
    w.write(b'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
    head = await r.readuntil(b'\r\n\r\n')
    length = int([l for l in head.split(b'\r\n') if l.lower().startswith(b'content-length:')][0].split(b':')[1])
    await r.readexactly(length)
    held.append(w)


async def main(a):
    before = rss_kib(a.pid)
    held = []
    for start in range(0, a.conns, 250):
        await asyncio.gather(*(one(a.port, held) for _ in range(min(250, a.conns - start))))
    await asyncio.sleep(0.5)
    after = rss_kib(a.pid)
    print(json.dumps({'conns': len(held), 'rss_before_kib': before, 'rss_after_kib': after,
                      'bytes_per_conn': round((after - before) * 1024 / len(held), 1)}))
    for w in held:
        w.close()


if __name__ == '__main__':
    p = argparse.ArgumentParser()
    p.add_argument('--port', type=int, required=True)
    p.add_argument('--pid', type=int, required=True)
    p.add_argument('--conns', type=int, default=5000)
    asyncio.run(main(p.parse_args()))
