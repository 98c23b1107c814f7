#!/usr/bin/env python3
"""stall_server.py: an HTTP/1.1 server that stalls once (stdlib asyncio only, loopback only).

Usage: stall_server.py [--stall-at S] [--stall-for S] [--log FILE]

Listens on a free port of 127.0.0.1 and prints it as the first line of stdout. Answers every
request at once with a small keep-alive 200 ("ok\n", Content-Length framing), except that ONCE,
STALL_AT seconds [1.0] after the first request arrived, it stops answering on all connections for
STALL_FOR seconds [1.0]: a request that arrives (or is waiting to be answered) during the stall is
answered when the stall ends, in arrival order. Nothing else ever delays an answer. This is the
server a closed-model load generator under-reports (coordinated omission) and an open-model one
must not.

On SIGTERM/SIGINT it writes one JSON line to --log FILE (when given) and exits:
  {"requests": N, "stalled": N (answered late because of the stall), "conns": N,
   "first": t, "stall_start": t, "stall_end": t}   (t: time.monotonic() of this process; the
  stall times are null when no request ever came)
"""
import asyncio
import json
import os
import signal
import sys
import time

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n"


class State:
    def __init__(self, stall_at, stall_for):
        self.stall_at, self.stall_for = stall_at, stall_for
        self.first = self.stall_start = self.stall_end = None
        self.requests = self.stalled = self.conns = 0

    def arrived(self):
        now = time.monotonic()
        if self.first is None:
            self.first = now
            self.stall_start = now + self.stall_at
            self.stall_end = self.stall_start + self.stall_for
        self.requests += 1
        return now

    def hold(self, now):
        """Seconds to wait before answering a request that is ready at `now`."""
        if self.stall_start is not None and self.stall_start <= now < self.stall_end:
            return self.stall_end - now
        return 0.0


async def read_request(r):
    head = await r.readuntil(b"\r\n\r\n")
    low = head.lower()
    n = 0
    for line in low.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip() == b"content-length":
            n = int(value.strip())
        elif name.strip() == b"transfer-encoding" and b"chunked" in value:
            while True:  # chunked body: sizes, data, trailers
                size = int((await r.readuntil(b"\r\n")).split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while await r.readuntil(b"\r\n") != b"\r\n":
                        pass
                    break
                await r.readexactly(size + 2)
    if n:
        await r.readexactly(n)
    return head


async def handle(st, r, w):
    st.conns += 1
    try:
        while True:
            head = await read_request(r)
            now = st.arrived()
            wait = st.hold(now)
            if wait > 0:
                st.stalled += 1
                await asyncio.sleep(wait)
            # A request that arrived just before the stall and is answered during it waits too.
            wait = st.hold(time.monotonic())
            if wait > 0:
                await asyncio.sleep(wait)
            w.write(RESPONSE)
            await w.drain()
            if b"\r\nconnection: close" in head.lower():
                break
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
        pass
    finally:
        if not w.is_closing():
            w.close()


def opt(name, default):
    if name in sys.argv:
        return sys.argv[sys.argv.index(name) + 1]
    return default


async def main():
    st = State(float(opt("--stall-at", "1.0")), float(opt("--stall-for", "1.0")))
    log = opt("--log", None)
    srv = await asyncio.start_server(lambda r, w: handle(st, r, w), "127.0.0.1", 0, backlog=1024)
    print(srv.sockets[0].getsockname()[1], flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(json.dumps(dict(requests=st.requests, stalled=st.stalled, conns=st.conns,
                                    first=st.first, stall_start=st.stall_start,
                                    stall_end=st.stall_end)) + "\n")
    os._exit(0)


if __name__ == "__main__":
    asyncio.run(main())
