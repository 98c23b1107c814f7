#!/usr/bin/env python3
"""http_server.py: the scriptable HTTP/1.1 test server (stdlib only, loopback only).

Usage: http_server.py LOGFILE [--ports N]

Listens on N (default 1) free ports of 127.0.0.1 and prints them, space-separated, as the first
line of stdout. Serves until SIGTERM/SIGINT, then appends {"event": "exit", "stats": {...}} to
LOGFILE and exits.

The path picks the scenario: /case/<name>[/<arg>...][?query]; any path not under /case/ is "ok".
Every request (head and body fully read) is one JSON line in LOGFILE:
  t, conn (connection serial), peer (client port), port (our port), n (request number on this
  connection, from 1), method, target, case, args, head (latin-1 text), head_hex, headers
  ([[name, value], ...]), body_len, body_hex (when <= 1 MiB), body_sha256.
Stats (also served at /case/stats): open / max_open (client connections open at once),
inflight / max_inflight (requests being answered at once), conns, requests, and the same per port.

Adding a case: write `async def case_NAME(req)` that answers through `send(req, bytes)` or
`respond(req, ...)` and returns KEEP (serve the next request on this connection) or CLOSE, then
add "NAME": case_NAME to CASES at the bottom. `req.args` holds the path segments after the name.
"""
import asyncio
import hashlib
import json
import os
import signal
import socket
import struct
import sys
import time

KEEP, CLOSE = True, False
MAX_HEAD = 1 << 20
MAX_LOGGED_BODY = 1 << 20


class Stats:
    def __init__(self):
        self.open = self.max_open = self.inflight = self.max_inflight = 0
        self.conns = self.requests = 0

    def as_dict(self):
        return dict(open=self.open, max_open=self.max_open, inflight=self.inflight,
                    max_inflight=self.max_inflight, conns=self.conns, requests=self.requests)

    def reset_max(self):
        self.max_open, self.max_inflight = self.open, self.inflight


class Server:
    def __init__(self, logpath):
        self.log = open(logpath, "a", encoding="utf-8")
        self.total = Stats()
        self.per_port = {}
        self.next_conn = 0

    def write_log(self, rec):
        self.log.write(json.dumps(rec) + "\n")
        self.log.flush()

    def stats(self):
        d = self.total.as_dict()
        d["ports"] = {str(p): s.as_dict() for p, s in self.per_port.items()}
        return d

    def count(self, port, attr, delta):
        for s in (self.total, self.per_port[port]):
            v = getattr(s, attr) + delta
            setattr(s, attr, v)
            if hasattr(s, "max_" + attr) and v > getattr(s, "max_" + attr):
                setattr(s, "max_" + attr, v)


class Conn:
    def __init__(self, srv, r, w):
        srv.next_conn += 1
        self.srv, self.r, self.w, self.id = srv, r, w, srv.next_conn
        self.peer = w.get_extra_info("peername")[1]
        self.port = w.get_extra_info("sockname")[1]
        self.nreq = 0
        self.idle_timeout = None  # seconds to wait for the next request before closing
        self.state = {}           # per-connection scratch space for cases


class Req:
    def __init__(self, conn, head, body, raw_body):
        self.conn, self.r, self.w, self.srv = conn, conn.r, conn.w, conn.srv
        self.head, self.body, self.raw = head, body, head + raw_body
        lines = head.split(b"\r\n")
        parts = lines[0].decode("latin-1").split(" ")
        self.method = parts[0]
        self.target = parts[1] if len(parts) > 1 else ""
        self.version = parts[2] if len(parts) > 2 else ""
        self.headers = []
        for line in lines[1:]:
            if line:
                name, _, value = line.decode("latin-1").partition(":")
                self.headers.append([name, value.strip(" \t")])
        path, _, self.query = self.target.partition("?")
        if path.startswith("/case/"):
            segs = path[len("/case/"):].split("/")
            self.case, self.args = segs[0], segs[1:]
        else:
            self.case, self.args = "ok", []

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def arg(self, i, default):
        try:
            return type(default)(self.args[i])
        except (IndexError, ValueError):
            return default


# --- response helpers ---------------------------------------------------------------------------

REASONS = {100: "Continue", 200: "OK", 201: "Created", 204: "No Content", 301: "Moved Permanently",
           302: "Found", 304: "Not Modified", 400: "Bad Request", 401: "Unauthorized",
           403: "Forbidden", 404: "Not Found", 429: "Too Many Requests",
           500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
           504: "Gateway Timeout"}


def response(status=200, body=b"", headers=(), reason=None):
    """Bytes of a complete response with Content-Length (none for 1xx/204/304)."""
    reason = REASONS.get(status, "Status") if reason is None else reason
    out = ["HTTP/1.1 %d %s" % (status, reason)]
    out += ["%s: %s" % hv for hv in headers]
    if not (status < 200 or status in (204, 304)):
        out.append("Content-Length: %d" % len(body))
    return ("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + body


async def send(req, data, close=False):
    req.w.write(data)
    await req.w.drain()
    return CLOSE if close else KEEP


async def respond(req, status=200, body=b"", headers=(), close=False):
    return await send(req, response(status, body, headers), close)


async def rst(req):
    """Abortive close: RST instead of FIN."""
    sock = req.w.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    req.w.transport.abort()
    return CLOSE


# --- cases: one function each, registered in CASES ---------------------------------------------

async def case_ok(req):
    return await respond(req, 200, b"ok")


async def case_echo(req):
    """200 whose body is the exact request bytes received (head + body as sent)."""
    return await respond(req, 200, req.raw, [("Content-Type", "application/octet-stream")])


async def case_status(req):
    """/case/status/<code>"""
    code = req.arg(0, 200)
    return await respond(req, code, b"status %d\n" % code)


async def case_bytes(req):
    """/case/bytes/<n>: n bytes of a repeating pattern."""
    n = req.arg(0, 0)
    pat = bytes(range(256))
    return await respond(req, 200, (pat * (n // 256 + 1))[:n])


async def case_slow(req):
    """/case/slow/<ms>: answers "ok" after ms milliseconds."""
    await asyncio.sleep(req.arg(0, 100) / 1000)
    return await respond(req, 200, b"ok")


async def case_hang(req):
    """Reads the request and never answers; ends when the client closes."""
    while await req.r.read(65536):
        pass
    return CLOSE


async def case_reset(req):
    return await rst(req)


async def case_close_idle(req):
    """/case/close_idle/<ms>: keep-alive answer, then closes the idle connection after ms [50]."""
    req.conn.idle_timeout = req.arg(0, 50) / 1000
    return await respond(req, 200, b"ok", [("Connection", "keep-alive")])


async def case_close_next(req):
    """Answers the first request of a connection; closes (FIN, no byte) on any later one:
    the deterministic stale keep-alive race (HOSTILE.md case 37)."""
    if req.conn.nreq == 1:
        return await respond(req, 200, b"ok", [("Connection", "keep-alive")])
    return CLOSE


async def case_stats(req):
    body = json.dumps(req.srv.stats()).encode()
    return await respond(req, 200, body, [("Content-Type", "application/json")])


async def case_stats_reset(req):
    req.srv.total.reset_max()
    for s in req.srv.per_port.values():
        s.reset_max()
    return await respond(req, 200, b"ok")


async def case_unknown(req):
    return await respond(req, 404, b"unknown case %s\n" % req.case.encode("latin-1"))


CASES = {
    "ok": case_ok,
    "echo": case_echo,
    "status": case_status,
    "bytes": case_bytes,
    "slow": case_slow,
    "hang": case_hang,
    "reset": case_reset,
    "close_idle": case_close_idle,
    "close_next": case_close_next,
    "stats": case_stats,
    "stats_reset": case_stats_reset,
}


# --- the connection loop ------------------------------------------------------------------------

async def read_body(r, head):
    """Returns (body, raw body bytes as received) per Content-Length or chunked framing."""
    low = head.lower()
    if b"\r\ntransfer-encoding:" in low and b"chunked" in low.split(b"\r\ntransfer-encoding:", 1)[1].split(b"\r\n", 1)[0]:
        body, raw = b"", b""
        while True:
            line = await r.readuntil(b"\r\n")
            raw += line
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while True:  # trailers up to the empty line
                    t = await r.readuntil(b"\r\n")
                    raw += t
                    if t == b"\r\n":
                        return body, raw
            data = await r.readexactly(size + 2)
            raw += data
            body += data[:size]
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            n = int(value.strip())
            data = await r.readexactly(n)
            return data, data
    return b"", b""


async def serve_one(conn):
    """Reads one request and answers it; returns KEEP or CLOSE."""
    srv = conn.srv
    if conn.idle_timeout is None:
        head = await conn.r.readuntil(b"\r\n\r\n")
    else:
        try:
            head = await asyncio.wait_for(conn.r.readuntil(b"\r\n\r\n"), conn.idle_timeout)
        except asyncio.TimeoutError:
            return CLOSE
    body, raw_body = await read_body(conn.r, head)
    conn.nreq += 1
    conn.idle_timeout = None
    req = Req(conn, head, body, raw_body)
    srv.count(conn.port, "requests", 1)
    srv.write_log(dict(
        t=time.time(), conn=conn.id, peer=conn.peer, port=conn.port, n=conn.nreq,
        method=req.method, target=req.target, case=req.case, args=req.args,
        head=head.decode("latin-1"), head_hex=head.hex(), headers=req.headers,
        body_len=len(body), body_hex=body.hex() if len(body) <= MAX_LOGGED_BODY else None,
        body_sha256=hashlib.sha256(body).hexdigest()))
    srv.count(conn.port, "inflight", 1)
    try:
        keep = await CASES.get(req.case, case_unknown)(req)
    finally:
        srv.count(conn.port, "inflight", -1)
    conn_hdr = (req.header("Connection") or "").lower()
    if conn_hdr == "close" or req.version == "HTTP/1.0" and conn_hdr != "keep-alive":
        return CLOSE
    return keep


async def handle(srv, r, w):
    conn = Conn(srv, r, w)
    srv.count(conn.port, "open", 1)
    srv.count(conn.port, "conns", 1)
    try:
        while await serve_one(conn) and not w.is_closing():
            pass
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
        pass
    finally:
        srv.count(conn.port, "open", -1)
        if not w.is_closing():
            w.close()


async def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    nports = int(sys.argv[sys.argv.index("--ports") + 1]) if "--ports" in sys.argv else 1
    srv = Server(sys.argv[1])
    servers = []
    for _ in range(nports):
        s = await asyncio.start_server(lambda r, w: handle(srv, r, w), "127.0.0.1", 0,
                                       limit=MAX_HEAD, backlog=1024)
        port = s.sockets[0].getsockname()[1]
        srv.per_port[port] = Stats()
        servers.append(s)
    print(" ".join(str(p) for p in srv.per_port), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    srv.write_log(dict(event="exit", t=time.time(), stats=srv.stats()))
    srv.log.close()
    os._exit(0)  # hanging cases may still hold tasks; nothing else to flush


if __name__ == "__main__":
    asyncio.run(main())
