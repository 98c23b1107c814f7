#!/usr/bin/env python3
"""timed_server.py: an HTTP/1.1 server whose every delay is known, for checking the time fields
spate prints against ground truth (stdlib only, loopback only).

usage: timed_server.py LOGFILE [--addr ADDR]... [--port N] [--accept-after S | --never-accept]

Listens on ADDR [127.0.0.1] (an IPv6 address too) port N [0 = a free one] and prints the port as
the first line of stdout once it is ready. --never-accept takes several --addr (same port).
  --accept-after S  the listener's accept queue is full (backlog 0, filled by connections of our
                    own) for S seconds, so a client's SYNs go unanswered and its connect takes
                    until its next SYN after S (the kernel's retransmission); then it serves.
  --never-accept    the same, forever: connects to it hang (a black-holed address).

Requests: GET /t/<head_ms>/<body_ms>[?key=K&fail=N&ra=V&close=1&size=B]
  waits head_ms after the request head arrived, sends the response head (Content-Length), waits
  body_ms, then sends the body (B bytes [4]). The first N requests with the same key get
  "503" at once instead, with "Retry-After: V" when ra is given. close=1 answers with
  "Connection: close" and closes. Any other path: 200 at once.
Every request is one JSON line in LOGFILE: {"path", "key", "conn" (connection serial), "open"
(client connections open when it was accepted), "t_accept" (its connection accepted), "t_req"
(request head read), "t_head0" / "t_head" (right before / after the response head was written),
"t_end0" / "t_end" (the same for the last byte), "status"}, all from time.time(), so they compare
with spate's "start"; a write happened between its two stamps (this process may be descheduled
right after it, so one stamp alone is not the moment the client could see the bytes).
"""
import argparse
import asyncio
import json
import signal
import socket
import sys
import time
import urllib.parse


def full_listener(addr, port):
    """A listening socket with a backlog of 0 whose accept queue our own connections fill:
    further SYNs are dropped by the kernel. Returns (listener, fillers)."""
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(0)
    fillers = []
    for _ in range(4):
        c = socket.socket(fam, socket.SOCK_STREAM)
        c.setblocking(False)
        try:
            c.connect(ls.getsockname()[:2])
        except BlockingIOError:
            pass
        fillers.append(c)
        time.sleep(0.02)
    return ls, fillers


class State:
    def __init__(self, log):
        self.log = log
        self.conns = 0
        self.open = 0
        self.failed = {}

    def write(self, rec):
        self.log.write(json.dumps(rec) + "\n")
        self.log.flush()


async def read_head(reader):
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        return None
    return head.decode("latin-1")


async def answer(state, writer, target, conn, t_accept, t_req):
    url = urllib.parse.urlsplit(target)
    q = dict(urllib.parse.parse_qsl(url.query))
    parts = url.path.strip("/").split("/")
    rec = {"path": target, "key": q.get("key"), "conn": conn, "open": state.open,
           "t_accept": t_accept, "t_req": t_req}
    close = q.get("close") == "1"
    conn_hdr = b"Connection: close\r\n" if close else b""
    key = q.get("key")
    if key is not None and state.failed.get(key, 0) < int(q.get("fail", "0")):
        state.failed[key] = state.failed.get(key, 0) + 1
        ra = b"Retry-After: %s\r\n" % q["ra"].encode() if "ra" in q else b""
        writer.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n" + ra + conn_hdr +
                     b"\r\nbusy")
        rec.update(status=503, t_head0=rec["t_req"], t_end0=rec["t_req"], t_head=time.time(),
                   t_end=time.time())
        state.write(rec)
        return not close
    head_ms = body_ms = 0
    if len(parts) == 3 and parts[0] == "t":
        head_ms, body_ms = int(parts[1]), int(parts[2])
    size = int(q.get("size", "4"))
    await asyncio.sleep(head_ms / 1000)
    rec["t_head0"] = time.time()
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n%s\r\n" %
                 (size, conn_hdr))
    rec["t_head"] = time.time()
    await writer.drain()
    await asyncio.sleep(body_ms / 1000)
    rec["t_end0"] = time.time()
    writer.write(b"x" * size)
    rec["t_end"] = time.time()
    await writer.drain()
    rec["status"] = 200
    state.write(rec)
    return not close


async def serve(state, reader, writer):
    t_accept = time.time()
    state.conns += 1
    state.open += 1
    conn = state.conns
    try:
        while True:
            head = await read_head(reader)
            if head is None:
                break
            t_req = time.time()
            target = head.split(" ", 2)[1] if head.count(" ") >= 2 else "/"
            if not await answer(state, writer, target, conn, t_accept, t_req):
                break
    except ConnectionError:
        pass
    finally:
        state.open -= 1
        writer.close()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("--addr", action="append")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--accept-after", type=float, default=None)
    ap.add_argument("--never-accept", action="store_true")
    a = ap.parse_args()
    state = State(open(a.log, "a", encoding="utf-8"))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    addrs = a.addr or ["127.0.0.1"]
    if a.never_accept:
        held = [full_listener(addr, a.port) for addr in addrs]
        print(held[0][0].getsockname()[1], flush=True)
        await stop.wait()
        return
    if a.accept_after is not None:
        ls, fillers = full_listener(addrs[0], a.port)
        print(ls.getsockname()[1], flush=True)
        await asyncio.sleep(a.accept_after)
        for f in fillers:
            f.close()
        server = await asyncio.start_server(lambda r, w: serve(state, r, w), sock=ls)
    else:
        server = await asyncio.start_server(lambda r, w: serve(state, r, w), addrs[0], a.port,
                                            backlog=1024)
        print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    sys.exit(0)
