"""reliable_service: a service that keeps its connection to a dependency healthy.

    python3 reliable_service.py [--uvloop] [--time-scale X] host port

It connects to the dependency (a TCP service that answers "PING\\n" with
"PONG\\n") with retries and exponential backoff: 5 attempts, waiting 2, 4, 8,
then 10 s between them. Every 30 s it checks the connection (a PING answered
within 5 s); when a check fails it reconnects the same way. It gives up (exit
1) when 5 attempts in a row fail. SIGTERM or SIGINT stops it cleanly: the
service task is cancelled, its connection closed, exit 0. --time-scale
multiplies the backoff delays and the check interval (the 5 s answer timeout
stays as it is). The uvasync port is examples/reliable_service.cpp.
"""
import argparse
import asyncio
import signal
import sys

ANSWER_TIMEOUT = 5.0  # for a PONG


async def retry(fn, scale, attempts=5, min_delay=2.0, max_delay=10.0):
    delay = min_delay
    for attempt in range(1, attempts + 1):
        try:
            return await fn()
        except Exception as e:
            if attempt == attempts:
                raise
            print(f"attempt {attempt} failed: {e}; retrying in {delay:g} s", flush=True)
        await asyncio.sleep(delay * scale)
        delay = min(delay * 2, max_delay)


async def ping(reader, writer, timeout):
    writer.write(b"PING\n")
    await writer.drain()
    reply = await asyncio.wait_for(reader.readline(), timeout)
    if not reply:
        raise ConnectionError("the dependency closed the connection")
    if reply != b"PONG\n":
        raise ConnectionError("unexpected reply from the dependency")


async def connect(args):
    reader, writer = await asyncio.open_connection(args.host, args.port)
    try:
        await ping(reader, writer, ANSWER_TIMEOUT)
    except BaseException:
        writer.close()
        raise
    return reader, writer


async def serve(args):
    connect_once = lambda: connect(args)
    reader, writer = await retry(connect_once, args.time_scale)
    print(f"connected to {args.host}:{args.port}", flush=True)
    try:
        while True:
            await asyncio.sleep(30 * args.time_scale)
            try:
                await ping(reader, writer, ANSWER_TIMEOUT)
                continue
            except Exception as e:
                failure = e
            print(f"health check failed: {failure}; reconnecting", flush=True)
            writer.close()
            reader, writer = await retry(connect_once, args.time_scale)
            print("recovered", flush=True)
    finally:
        writer.close()


async def main(args):
    loop = asyncio.get_running_loop()
    service = asyncio.create_task(serve(args))
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, service.cancel)
    try:
        await service
    except asyncio.CancelledError:
        print("stopped", flush=True)
    except Exception as e:
        print(f"giving up: {e}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--uvloop", action="store_true")
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    args = parser.parse_args()
    factory = None
    if args.uvloop:
        import uvloop
        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        sys.exit(runner.run(main(args)))
