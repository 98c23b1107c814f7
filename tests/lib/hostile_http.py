#!/usr/bin/env python3
"""hostile_http.py: a raw-socket HTTP/1.1 server that misbehaves on purpose (stdlib only,
loopback only). It drives the hostile-input suite (tests/t_hostile_*.sh, HOSTILE.md §2 and §6).

Usage:
  hostile_http.py LOGFILE [--ports N] [--addr ADDR]
      Listens on N (default 1) ports of ADDR (default 127.0.0.1), each bound to port 0, and
      prints the ports, space-separated, as the first line of stdout. Serves until SIGTERM/SIGINT.
  hostile_http.py summary OUT LOG [HID [CID]]
      Shell assignments (for eval) describing one hostile case: the spate result rows with id HID
      (default 0, prefix H_) and CID (default 1, prefix C_), and what the server logged for their
      URLs (request counts, connection ids). See summary() below.
  hostile_http.py shell
      Prints the shell helpers the tests eval (hsrv_start, hrun, hsum, hcase, ...; see SHELL).
  hostile_http.py blackhole
      A port whose connects hang (listen backlog full, never accepts); prints it, then sleeps.
  hostile_http.py corpus BASE NAME... / splitcheck OUT
      The split-invariance URLs for static responses, and the check over spate's results.
  hostile_http.py gaps LOG SUBSTRING
      The gaps in seconds between successive logged requests whose target contains SUBSTRING,
      as a JSON list.

The path picks the scenario: /case/<name>[/<arg>...][?query]. Anything else is "ok".
Every request is logged as one JSON line: t (arrival of the complete head), conn (connection
serial: a reused connection keeps its serial), peer (client port), port (our port), n (request
number on this connection), open (client connections open now; open_port: on this port), method, target, case, args,
head (latin-1), head_hex, headers ([[name, value]...]), body_len, body_sha256. Cases that stream
log an extra {"event": ..., "conn": ..., ...} line (bytes sent, bytes received, ...).

Response scenarios come in two kinds:
- STATIC: fixed bytes plus what to do after them ("keep": serve the next request on the same
  connection, which is how a test sees that a poisoned connection was reused; "close": FIN;
  "rst": RST; "hold": keep the connection open and swallow anything that arrives).
  Every static scenario can also be sent split: /case/drip/<name>[/<ms>] writes one byte per TCP
  segment (TCP_NODELAY, <ms> apart, default 1), /case/split/<k>/<name> writes the first k bytes,
  waits 30 ms and writes the rest, /case/chop/<size>/<name> writes <size>-byte segments at full
  speed.
- dynamic: async functions below (retries, redirects, floods, stalls, uploads, ...).
"""
import asyncio
import email.utils
import hashlib
import json
import os
import shlex
import signal
import socket
import struct
import sys
import time
import urllib.parse

KEEP, CLOSE = True, False
MAX_HEAD = 1 << 20
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def R(status_line, headers=(), body=b"", cl=True):
    """A response: status line, header lines, Content-Length (unless cl is False), body."""
    h = b"".join(x + b"\r\n" for x in headers)
    if cl:
        h += b"Content-Length: %d\r\n" % len(body)
    return status_line + b"\r\n" + h + b"\r\n" + body


STATIC = {}


def S(name, data, after="keep"):
    STATIC[name] = (data, after)


# --- A. status line and header section ----------------------------------------------------------
S("ok", OK)
S("nonhttp", b"Hello world\r\n", "close")
S("v20", b"HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n")
S("v19", b"HTTP/1.9 200 OK\r\nContent-Length: 2\r\n\r\nok")
S("v30", b"HTTP/3.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
S("v09", b"HTTP/0.9 200 OK\r\nContent-Length: 2\r\n\r\nok")
S("v10", b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", "close")
S("vlower", b"http/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
S("st2", b"HTTP/1.1 2 OK\r\nContent-Length: 2\r\n\r\nok")
S("st2000", b"HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok")
S("stneg", b"HTTP/1.1 -200 OK\r\nContent-Length: 2\r\n\r\nok")
S("st099", b"HTTP/1.1 099 X\r\nContent-Length: 2\r\n\r\nok")
S("st600", b"HTTP/1.1 600 X\r\nContent-Length: 2\r\n\r\nok")
S("st999", b"HTTP/1.1 999 X\r\nContent-Length: 2\r\n\r\nok")
S("stalpha", b"HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\nok")
S("noreason", b"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok")
S("emptyreason", b"HTTP/1.1 200 \r\nContent-Length: 2\r\n\r\nok")
S("leadcrlf", b"\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
S("obstext", b"HTTP/1.1 200 OK\r\nX-A: caf\xe9 \x80\xff\r\nContent-Length: 2\r\n\r\nok")
S("barelf", b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok")
S("barelf_hdr", b"HTTP/1.1 200 OK\r\nX-A: b\nContent-Length: 2\r\n\r\nok")
S("barecr", b"HTTP/1.1 200 OK\r\nX: a\rContent-Length: 3\r\n\r\nabc")
S("nul", b"HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 2\r\n\r\nok")
S("ctl01", b"HTTP/1.1 200 OK\r\nX-A: a\x01b\r\nContent-Length: 2\r\n\r\nok")
S("del7f", b"HTTP/1.1 200 OK\r\nX-A: a\x7fb\r\nContent-Length: 2\r\n\r\nok")
S("name_space", b"HTTP/1.1 200 OK\r\nX A: b\r\nContent-Length: 2\r\n\r\nok")
S("name_sp_colon", b"HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok")
S("nocolon", b"HTTP/1.1 200 OK\r\nNoColonLine\r\nContent-Length: 2\r\n\r\nok")
S("emptyname", b"HTTP/1.1 200 OK\r\n: empty\r\nContent-Length: 2\r\n\r\nok")
S("obsfold", b"HTTP/1.1 200 OK\r\nX-A: one\r\n two\r\nContent-Length: 2\r\n\r\nok")
# a fold that would smuggle a framing header if it were taken as a new line
S("obsfold_te", b"HTTP/1.1 200 OK\r\nX-A: one\r\n Transfer-Encoding: chunked\r\n"
               b"Content-Length: 2\r\n\r\nok")
S("obsfold_cl", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n 3\r\n\r\nok")
S("obsfold_te_val", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n gzip\r\n\r\n"
                   b"2\r\nok\r\n0\r\n\r\n")
S("big70k", b"HTTP/1.1 200 OK\r\nX-Big: " + b"A" * 70000 + b"\r\nContent-Length: 2\r\n\r\nok")
S("cut_headers", b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n", "close")
S("cut_status", b"HTTP/1.1 20", "close")
S("cl_dup_same", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok")
S("cl_list", b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok")
S("cl_dup_diff", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nokX")
for _n, _v in (("neg", b"-6"), ("plus", b"+2"), ("hex", b"0x2"), ("space", b"2 2"),
               ("empty", b""), ("huge", b"99999999999999999999"), ("alpha", b"two"),
               ("u64max", b"18446744073709551615")):
    S("cl_" + _n, b"HTTP/1.1 200 OK\r\nContent-Length: " + _v + b"\r\n\r\nok")
S("cl_leading_zeros", b"HTTP/1.1 200 OK\r\nContent-Length: 002\r\n\r\nok")
S("cl_ows", b"HTTP/1.1 200 OK\r\nContent-Length: \t 2  \r\n\r\nok")  # (llhttp 8.1 rejects a trailing HTAB)
S("long_reason", b"HTTP/1.1 200 " + b"R" * 70000 + b"\r\nContent-Length: 2\r\n\r\nok")
S("long_name", b"HTTP/1.1 200 OK\r\nX-" + b"N" * 70000 + b": v\r\nContent-Length: 2\r\n\r\nok")
# a 1xx carrying Content-Length and bytes: a 1xx has no body, so "HELLO" is not a status line
S("interim_with_body", b"HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\nHELLO" + OK)
S("interim_100", b"HTTP/1.1 100 Continue\r\n\r\n" + OK)
S("interim_103", b"HTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\n" + OK)
S("interim_102_103", b"HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\n"
                    b"Link: </y>\r\n\r\n" + OK)
S("up101", b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
           b"\r\n\x81\x05hello")

# --- B. body framing ----------------------------------------------------------------------------
S("cl_long", b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789", "close")
S("cl_long_rst", b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789", "rst")
S("extra", OK + b"HTTP/1.1 200 OK\r\nX-Poison: 1\r\nContent-Length: 0\r\n\r\n")
S("extra_garbage", OK + b"\r\n\r\nGARBAGE")
S("cl_te", b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"3\r\nabc\r\n0\r\n\r\n")
S("te_cl", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
           b"3\r\nabc\r\n0\r\n\r\n")
CH = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
S("chunked_ok", CH + b"2\r\nok\r\n0\r\n\r\n")
S("chunked_multi", CH + b"1\r\no\r\n1\r\nk\r\n00\r\n\r\n")
S("chunk_overflow", CH + b"FFFFFFFFFFFFFFFFF\r\nabc\r\n0\r\n\r\n")
S("chunk_max", CH + b"FFFFFFFFFFFFFFFF\r\nabc", "close")
S("chunk_sp", CH + b"3  \r\nabc\r\n0\r\n\r\n")
S("chunk_ext_lf", CH + b"3;a=b\nabc\r\n0\r\n\r\n")
S("chunk_neg", CH + b"-3\r\nabc\r\n0\r\n\r\n")
S("chunk_0x", CH + b"0x3\r\nabc\r\n0\r\n\r\n")
S("chunk_xx", CH + b"3\r\nabcXX0\r\n\r\n")
S("chunk_nocrlf_end", CH + b"3\r\nabc0\r\n\r\n")
S("chunk_ext_ok", CH + b"2;a=b\r\nok\r\n0;c=\"d e\"\r\n\r\n")
S("chunk_ext_multi", CH + b"2;a=b;c=d\r\nok\r\n0\r\n\r\n")  # RFC-valid; llhttp 8.1 rejects it
S("chunk_trunc", CH + b"5\r\nhello\r\n", "close")
S("chunk_trunc_mid", CH + b"a\r\nhel", "close")
S("trailers_ok", CH + b"2\r\nok\r\n0\r\nX-T: 1\r\n\r\n")
for _n, _v in (("chunked_gzip", b"chunked, gzip"), ("gzip", b"gzip"),
               ("chunkedchunked", b"chunkedchunked"), ("identity", b"identity"),
               ("gzip_chunked", b"gzip, chunked"), ("chunked_chunked", b"chunked, chunked"),
               ("identity_chunked", b"identity, chunked"), ("chunked_identity", b"chunked, identity")):
    S("te_" + _n, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: " + _v + b"\r\n\r\n2\r\nok\r\n0\r\n\r\n")
S("te_twice", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"
              b"\r\n2\r\nok\r\n0\r\n\r\n")
S("te_upper", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: CHUNKED\r\n\r\n2\r\nok\r\n0\r\n\r\n")
S("noframe", b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 10240, "close")
S("head_cl", b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
S("head_cl_body", b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"B" * 1000)
S("s204_body", b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nHELLO")
S("s204_chunked", b"HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n")
S("s304_cl", b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n")
S("s204", b"HTTP/1.1 204 No Content\r\n\r\n")
S("halfclose_resp", OK)  # used by case_halfclose
# the server says close (or is HTTP/1.0 without keep-alive) but keeps the connection open
S("conn_close_open", b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
S("http10_open", b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
S("http10_keepalive", b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok")
# the same bytes as some cases above, but data and FIN in one segment ("fin1")
for _n in ("noframe", "cl_long", "cut_headers", "chunk_trunc", "nonhttp"):
    S(_n + "_fin1", STATIC[_n][0], "fin1")
S("ok_fin1", OK, "fin1")


# --- server state ------------------------------------------------------------------------------

class Server:
    def __init__(self, logpath):
        self.log = open(logpath, "a", encoding="utf-8")
        self.next_conn = 0
        self.open = self.max_open = 0
        self.open_port = {}  # our port -> client connections open on it now
        self.counters = {}  # target -> requests seen (for "fail N times then succeed")

    def write(self, rec):
        rec.setdefault("t", time.time())
        self.log.write(json.dumps(rec) + "\n")
        self.log.flush()

    def bump(self, key):
        self.counters[key] = self.counters.get(key, 0) + 1
        return self.counters[key]


class Req:
    def __init__(self, conn, head):
        self.conn, self.r, self.w, self.srv = conn, conn.r, conn.w, conn.srv
        self.head = head
        lines = head.split(b"\r\n")
        parts = lines[0].decode("latin-1").split(" ")
        self.method = parts[0]
        self.target = parts[1] if len(parts) > 1 else ""
        self.headers = []
        for line in lines[1:]:
            if line:
                k, _, v = line.decode("latin-1").partition(":")
                self.headers.append([k, v.strip(" \t")])
        path, _, q = self.target.partition("?")
        self.query = urllib.parse.parse_qs(q, keep_blank_values=True)
        if path.startswith("/case/"):
            segs = path[len("/case/"):].split("/")
            self.case, self.args = segs[0], segs[1:]
        else:
            self.case, self.args = "ok", []
        self.body = b""

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def content_length(self):
        v = self.header("Content-Length")
        try:
            return int(v) if v is not None else 0
        except ValueError:
            return 0

    def arg(self, i, default):
        try:
            return type(default)(self.args[i])
        except (IndexError, ValueError):
            return default

    def q(self, name, default=None):
        v = self.query.get(name)
        return v[0] if v else default


class Conn:
    def __init__(self, srv, r, w):
        srv.next_conn += 1
        self.srv, self.r, self.w, self.id = srv, r, w, srv.next_conn
        self.peer = w.get_extra_info("peername")[1]
        self.port = w.get_extra_info("sockname")[1]
        self.nreq = 0


def nodelay(w):
    w.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def send(req, data, after=KEEP):
    req.w.write(data)
    await req.w.drain()
    return after


async def rst(req):
    """Abortive close: RST instead of FIN."""
    sock = req.w.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    req.w.transport.abort()
    return CLOSE


async def hold(req, limit=60):
    """Keeps the connection open, swallowing whatever arrives, until the client closes."""
    end = time.monotonic() + limit
    try:
        while time.monotonic() < end:
            data = await asyncio.wait_for(req.r.read(65536), end - time.monotonic())
            if not data:
                break
    except (asyncio.TimeoutError, ConnectionError):
        pass
    return CLOSE


async def finish_static(req, after):
    if after == "keep":
        return KEEP
    if after == "rst":
        return await rst(req)
    if after == "hold":
        return await hold(req)
    return CLOSE


def send_with_fin(req, data):
    """data and the FIN in one TCP segment (TCP_CORK, then shutdown): the client gets a single
    readiness edge for both, so a reader that stops at a short read never sees the EOF."""
    raw = socket.socket(fileno=os.dup(req.w.get_extra_info("socket").fileno()))
    try:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
        raw.sendall(data)
        raw.shutdown(socket.SHUT_WR)
    finally:
        raw.close()


async def send_static(req, name, mode="whole", param=0):
    data, after = STATIC[name]
    if after == "fin1":
        send_with_fin(req, data)
        return CLOSE
    if mode == "whole":
        req.w.write(data)
        await req.w.drain()
    elif mode == "drip":
        nodelay(req.w)
        for i in range(len(data)):
            req.w.write(data[i:i + 1])
            await req.w.drain()
            await asyncio.sleep(param / 1000.0)
    elif mode == "split":
        nodelay(req.w)
        req.w.write(data[:param])
        await req.w.drain()
        await asyncio.sleep(0.03)
        req.w.write(data[param:])
        await req.w.drain()
    elif mode == "chop":
        nodelay(req.w)
        for i in range(0, len(data), param):
            req.w.write(data[i:i + param])
            await req.w.drain()
            await asyncio.sleep(0)
    return await finish_static(req, after)


def imf(t):
    return email.utils.formatdate(t, usegmt=True)


def ra_value(v):
    """Retry-After from the query: '@+N' / '@-N' become an IMF-fixdate N seconds ahead/behind."""
    if v.startswith("@+") or v.startswith("@-"):
        return imf(time.time() + float(v[1:]))
    return v


# --- dynamic cases ------------------------------------------------------------------------------

async def case_static(req):
    return await send_static(req, req.case)


async def case_drip(req):
    """/case/drip/<name>[/<ms>]"""
    return await send_static(req, req.arg(0, "ok"), "drip", req.arg(1, 1.0))


async def case_split(req):
    """/case/split/<k>/<name>"""
    return await send_static(req, req.arg(1, "ok"), "split", req.arg(0, 1))


async def case_chop(req):
    """/case/chop/<size>/<name>"""
    return await send_static(req, req.arg(1, "ok"), "chop", max(1, req.arg(0, 1)))


async def case_empty(req):
    """Reads the request, sends nothing, FIN."""
    return CLOSE


async def case_rst(req):
    return await rst(req)


async def case_hang(req):
    """Reads the request and never answers; ends when the client closes."""
    return await hold(req)


async def case_slow(req):
    """/case/slow/<ms>: "ok" after ms milliseconds."""
    await asyncio.sleep(req.arg(0, 100) / 1000.0)
    return await send(req, OK)


async def case_body(req):
    """/case/body/<n>: n bytes of 'x'."""
    n = req.arg(0, 0)
    return await send(req, R(b"HTTP/1.1 200 OK", body=b"x" * n))


async def case_big_header(req):
    """/case/big_header/<n>[/<seg>]: one header of n bytes; written in <seg>-byte segments
    (full speed) when seg is given."""
    n, seg = req.arg(0, 1 << 20), req.arg(1, 0)
    data = b"HTTP/1.1 200 OK\r\nX-Big: " + b"A" * n + b"\r\nContent-Length: 2\r\n\r\nok"
    if not seg:
        return await send(req, data)
    nodelay(req.w)
    try:
        for i in range(0, len(data), seg):
            req.w.write(data[i:i + seg])
            await req.w.drain()
            await asyncio.sleep(0)
    except ConnectionError:
        return CLOSE
    return KEEP


async def case_hdr_count(req):
    """/case/hdr_count/<n>: n small header fields, then a normal body."""
    n = req.arg(0, 100000)
    return await send(req, b"HTTP/1.1 200 OK\r\n" + b"X-N: v\r\n" * n + b"Content-Length: 2\r\n\r\nok")


async def case_hdr_endless(req):
    """Header lines at full speed and never a blank line; stops when the client goes away
    (or after 256 MiB). Logs how many bytes it got out."""
    line = b"X-a: b\r\n" * 8192
    sent, t0 = 0, time.monotonic()
    try:
        req.w.write(b"HTTP/1.1 200 OK\r\n")
        while sent < (256 << 20) and time.monotonic() - t0 < 20:
            req.w.write(line)
            await req.w.drain()
            sent += len(line)
    except ConnectionError:
        pass
    req.srv.write(dict(event="sent", conn=req.conn.id, target=req.target, bytes=sent,
                       secs=time.monotonic() - t0))
    return CLOSE


async def case_interim(req):
    """/case/interim/<n>/<code>[/<pad>]: n interim responses (pad: bytes of an extra header in
    each), then 200 "ok"."""
    n, code, pad = req.arg(0, 1000), req.arg(1, 103), req.arg(2, 0)
    one = b"HTTP/1.1 %d Early Hints\r\nLink: </x>\r\n" % code
    if pad:
        one += b"X-Pad: " + b"p" * pad + b"\r\n"
    one += b"\r\n"
    try:
        req.w.write(one * n + OK)
        await req.w.drain()
    except ConnectionError:
        return CLOSE
    return KEEP


async def case_trailer_flood(req):
    """/case/trailer_flood/<n>: a chunked body followed by n trailer lines."""
    n = req.arg(0, 100000)
    try:
        req.w.write(CH + b"2\r\nok\r\n0\r\n" + b"X-T: 1\r\n" * n + b"\r\n")
        await req.w.drain()
    except ConnectionError:
        return CLOSE
    return KEEP


async def case_chunk_ext_flood(req):
    """/case/chunk_ext_flood/<bytes>: chunk size 1 + <bytes> of ';ext' (names only: llhttp 8.1
    rejects a second extension after a token value), then the chunk."""
    n = req.arg(0, 1 << 20)
    try:
        req.w.write(CH + b"1" + b";ext" * (n // 4) + b"\r\nx\r\n0\r\n\r\n")
        await req.w.drain()
    except ConnectionError:
        return CLOSE
    return KEEP


async def case_poison(req):
    """/case/poison/<ms>: a normal keep-alive answer; ms later an unsolicited complete response
    on the now idle connection."""
    await send(req, OK)
    await asyncio.sleep(req.arg(0, 200) / 1000.0)
    try:
        req.w.write(b"HTTP/1.1 200 OK\r\nX-Poison: 1\r\nContent-Length: 6\r\n\r\nPOISON")
        await req.w.drain()
    except ConnectionError:
        return CLOSE
    return KEEP


async def case_close_next(req):
    """/case/close_next[/rst]: answers the first request of a connection; on any later request
    closes it (FIN, or RST with /rst) without a byte: the stale keep-alive race (case 37)."""
    if req.conn.nreq == 1:
        return await send(req, OK)
    if req.arg(0, "") == "rst":
        return await rst(req)
    return CLOSE


async def case_halfclose(req):
    """A complete framed response, then shutdown(SHUT_WR); keeps reading (and logging) until EOF."""
    await send(req, OK)
    try:
        req.w.get_extra_info("socket").shutdown(socket.SHUT_WR)
    except OSError:
        return CLOSE
    return "halfclosed"


async def case_slowloris(req):
    """/case/slowloris/<ms>: status line, then one header byte every ms, forever (60 s cap)."""
    nodelay(req.w)
    ms = req.arg(0, 300)
    pattern = b"X-Slow: " + b"z" * 64 + b"\r\n"
    try:
        req.w.write(b"HTTP/1.1 200 OK\r\n")
        await req.w.drain()
        i, t0 = 0, time.monotonic()
        while time.monotonic() - t0 < 60:
            await asyncio.sleep(ms / 1000.0)
            req.w.write(pattern[i % len(pattern):i % len(pattern) + 1])
            await req.w.drain()
            i += 1
    except ConnectionError:
        pass
    return CLOSE


async def case_trickle(req):
    """/case/trickle/<ms>: Content-Length 1000000 and then one body byte every ms."""
    nodelay(req.w)
    ms = req.arg(0, 300)
    try:
        req.w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
        await req.w.drain()
        t0 = time.monotonic()
        while time.monotonic() - t0 < 60:
            await asyncio.sleep(ms / 1000.0)
            req.w.write(b"t")
            await req.w.drain()
    except ConnectionError:
        pass
    return CLOSE


async def case_stall(req):
    """Content-Length 1000, 500 bytes, then silence with the socket open."""
    await send(req, b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"s" * 500)
    return await hold(req)


async def case_gap(req):
    """/case/gap/<ms>: headers and half the body, ms of silence, then the rest."""
    ms = req.arg(0, 300)
    nodelay(req.w)
    await send(req, b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nok")
    await asyncio.sleep(ms / 1000.0)
    return await send(req, b"ok")


async def case_early413(req):
    """/case/early413/<n>: reads n bytes of the request body, answers 413 with Connection: close
    and closes (unread body bytes make the kernel send RST). Logs what it read."""
    n = req.arg(0, 100)
    got = b""
    try:
        got = await req.r.readexactly(min(n, req.content_length()))
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    req.srv.write(dict(event="read", conn=req.conn.id, target=req.target, bytes=len(got)))
    return await send(req, b"HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\n"
                           b"Content-Length: 0\r\n\r\n", CLOSE)


async def case_upload_close(req):
    """/case/upload_close[/rst]: closes right after the request head, body unread (FIN, which the
    kernel turns into RST because of the unread bytes; or an explicit RST)."""
    if req.arg(0, "") == "rst":
        return await rst(req)
    return CLOSE


async def case_noread(req):
    """Never reads the request body and never answers (zero window); 20 s cap."""
    await asyncio.sleep(20)
    return CLOSE


async def case_fail(req):
    """/case/fail/<status>[/<nfail>]?ra=V...: the first nfail requests (default: all) to this exact
    target get <status> with a Retry-After header per ra (repeatable; '@+N'/'@-N' = date), later
    ones 200 "ok"."""
    status, nfail = req.arg(0, 503), req.arg(1, 1 << 30)
    seen = req.srv.bump(req.target)
    if seen > nfail:
        return await send(req, OK)
    hdrs = [b"Retry-After: " + ra_value(v).encode("latin-1") for v in req.query.get("ra", [])]
    return await send(req, R(b"HTTP/1.1 %d Status" % status, hdrs, b"status %d\n" % status))


async def case_partial_rst(req):
    """/case/partial_rst/<n>: first request to this target: Content-Length n, n/2 bytes, RST;
    later requests: the whole body."""
    n = req.arg(0, 1000)
    body = bytes((i * 7) & 0xFF for i in range(n))
    if req.srv.bump(req.target) > 1:
        return await send(req, R(b"HTTP/1.1 200 OK", body=body))
    req.w.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % n + body[:n // 2])
    await req.w.drain()
    await asyncio.sleep(0.05)
    return await rst(req)


async def case_redirect(req):
    """/case/redirect/<code>?to=LOC[&to=LOC2][&pad=N][&close=1]: a redirect with one Location per
    'to' (none when there is no 'to'), an optional X-Pad header of N bytes."""
    code = req.arg(0, 302)
    hdrs = [b"Location: " + v.encode("latin-1") for v in req.query.get("to", [])]
    pad = int(req.q("pad", "0"))
    if pad:
        hdrs.append(b"X-Pad: " + b"p" * pad)
    after = CLOSE if req.q("close") else KEEP
    return await send(req, R(b"HTTP/1.1 %d Redirect" % code, hdrs, b"moved\n"), after)


async def case_raw_location(req):
    """/case/raw_location/<hex>: 302 whose Location value is the given bytes (hex)."""
    loc = bytes.fromhex(req.arg(0, ""))
    return await send(req, R(b"HTTP/1.1 302 Found", [b"Location: " + loc], b""))


async def case_long_location(req):
    """/case/long_location/<n>: 302 whose Location is /case/ok?<n bytes>."""
    n = req.arg(0, 100 * 1024)
    return await send(req, R(b"HTTP/1.1 302 Found", [b"Location: /case/ok?" + b"a" * n], b""))


async def case_loop(req):
    """302 to itself (same query)."""
    return await send(req, R(b"HTTP/1.1 302 Found", [b"Location: " + req.target.encode()], b""))


async def case_loop_a(req):
    q = req.target.partition("?")[2]
    return await send(req, R(b"HTTP/1.1 302 Found", [b"Location: /case/loop_b?" + q.encode()], b""))


async def case_loop_b(req):
    q = req.target.partition("?")[2]
    return await send(req, R(b"HTTP/1.1 301 Moved", [b"Location: /case/loop_a?" + q.encode()], b""))


async def case_pad_loop(req):
    """/case/pad_loop/<n>: 301 to itself with an n-byte header, forever."""
    n = req.arg(0, 40000)
    return await send(req, R(b"HTTP/1.1 301 Moved", [b"Location: " + req.target.encode(),
                                                     b"X-Pad: " + b"p" * n], b""))


async def case_huge_redirect(req):
    """302 to /case/ok with Content-Length 104857600, streamed as fast as the client takes it;
    logs how many body bytes went out before the client stopped reading."""
    n = 100 << 20
    sent = 0
    block = b"z" * 65536
    try:
        req.w.write(b"HTTP/1.1 302 Found\r\nLocation: /case/ok?after=huge\r\n"
                    b"Content-Length: %d\r\n\r\n" % n)
        while sent < n:
            req.w.write(block)
            await asyncio.wait_for(req.w.drain(), 10)
            sent += len(block)
    except (ConnectionError, asyncio.TimeoutError):
        pass
    req.srv.write(dict(event="sent", conn=req.conn.id, target=req.target, bytes=sent))
    return CLOSE


async def case_stats(req):
    body = json.dumps(dict(open=req.srv.open, max_open=req.srv.max_open,
                           conns=req.srv.next_conn)).encode()
    return await send(req, R(b"HTTP/1.1 200 OK", [b"Content-Type: application/json"], body))


async def case_stats_reset(req):
    req.srv.max_open = req.srv.open
    return await send(req, OK)


CASES = {
    "drip": case_drip, "split": case_split, "chop": case_chop,
    "empty": case_empty, "rst": case_rst, "hang": case_hang, "slow": case_slow,
    "body": case_body, "big_header": case_big_header, "hdr_count": case_hdr_count,
    "hdr_endless": case_hdr_endless, "interim": case_interim,
    "trailer_flood": case_trailer_flood, "chunk_ext_flood": case_chunk_ext_flood,
    "poison": case_poison, "close_next": case_close_next, "halfclose": case_halfclose,
    "slowloris": case_slowloris, "trickle": case_trickle, "stall": case_stall, "gap": case_gap,
    "early413": case_early413, "upload_close": case_upload_close, "noread": case_noread,
    "fail": case_fail, "partial_rst": case_partial_rst, "redirect": case_redirect,
    "raw_location": case_raw_location, "long_location": case_long_location, "loop": case_loop, "loop_a": case_loop_a,
    "loop_b": case_loop_b, "pad_loop": case_pad_loop, "huge_redirect": case_huge_redirect,
    "stats": case_stats, "stats_reset": case_stats_reset,
}
# cases that read (or deliberately do not read) the request body themselves
OWN_BODY = {"early413", "upload_close", "noread"}


# --- the connection loop ------------------------------------------------------------------------

async def serve_one(conn):
    srv = conn.srv
    head = await conn.r.readuntil(b"\r\n\r\n")
    conn.nreq += 1
    req = Req(conn, head)
    own = req.case in OWN_BODY
    if not own and req.content_length():
        req.body = await conn.r.readexactly(req.content_length())
    srv.write(dict(
        t=time.time(), conn=conn.id, peer=conn.peer, port=conn.port, n=conn.nreq, open=srv.open,
        open_port=srv.open_port.get(conn.port, 0), method=req.method, target=req.target, case=req.case, args=req.args,
        head=head.decode("latin-1"), head_hex=head.hex(), headers=req.headers,
        body_len=None if own else len(req.body),
        body_sha256=None if own else hashlib.sha256(req.body).hexdigest()))
    fn = CASES.get(req.case)
    if fn is None:
        fn = case_static if req.case in STATIC else (lambda rq: send(rq, OK))
    return await fn(req)


async def handle(srv, r, w):
    conn = Conn(srv, r, w)
    srv.open += 1
    srv.max_open = max(srv.max_open, srv.open)
    srv.open_port[conn.port] = srv.open_port.get(conn.port, 0) + 1
    try:
        while True:
            keep = await serve_one(conn)
            if keep == "halfclosed":
                # cannot answer any more: log what still arrives, until EOF
                while True:
                    await serve_one_logonly(conn)
            if keep is not KEEP or w.is_closing():
                break
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
        pass
    finally:
        srv.open -= 1
        srv.open_port[conn.port] -= 1
        if not w.is_closing():
            w.close()


async def serve_one_logonly(conn):
    head = await conn.r.readuntil(b"\r\n\r\n")
    conn.nreq += 1
    req = Req(conn, head)
    conn.srv.write(dict(t=time.time(), conn=conn.id, peer=conn.peer, port=conn.port, n=conn.nreq,
                        open=conn.srv.open, method=req.method, target=req.target, case=req.case,
                        args=req.args, head=head.decode("latin-1"), head_hex=head.hex(),
                        headers=req.headers, body_len=None, body_sha256=None, unanswered=True))


async def serve(argv):
    logpath = argv[0]
    nports = int(argv[argv.index("--ports") + 1]) if "--ports" in argv else 1
    addr = argv[argv.index("--addr") + 1] if "--addr" in argv else "127.0.0.1"
    srv = Server(logpath)
    ports = []
    servers = []
    for _ in range(nports):
        s = await asyncio.start_server(lambda r, w: handle(srv, r, w), addr, 0,
                                       limit=MAX_HEAD, backlog=1024)
        ports.append(s.sockets[0].getsockname()[1])
        servers.append(s)
    print(" ".join(str(p) for p in ports), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    srv.write(dict(event="exit", max_open=srv.max_open, conns=srv.next_conn))
    srv.log.close()
    os._exit(0)


# --- log analysis for the shell tests -----------------------------------------------------------

def load(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                rows.append(json.loads(line))
    return rows


def target_of(url):
    p = urllib.parse.urlsplit(url)
    return (p.path or "/") + ("?" + p.query if p.query else "")


def summary(out, log, hid="0", cid="1"):
    """Prints shell assignments: NROWS, SCHEMA (problems or empty), and for H (row hid) and C
    (row cid): _OK _STATUS _KIND _MSG _ATT _BYTES _TOTAL _BODY (the body if --body was used),
    _N (requests the server logged for that row's URL), _CONNS (their connection serials, space
    separated); REUSED=1 when a control request went out on a connection that had carried the
    hostile request before it (a hostile retry riding on the control's pooled connection later
    is fine)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    try:
        import jsonl_check
        problems = lambda r: jsonl_check.row_problems(r)
    except ImportError:
        problems = lambda r: []
    try:
        rows = load(out)
    except (OSError, ValueError) as e:
        rows = []
        print("SCHEMA=%s" % shlex.quote("output is not JSON Lines: %s" % e))
    else:
        probs = [p for r in rows for p in problems(r)]
        print("SCHEMA=%s" % shlex.quote("; ".join(probs[:5])))
    reqs = [r for r in load(log) if "method" in r]  # request records, in arrival order
    by_id = {str(r.get("id")): r for r in rows if isinstance(r, dict)}
    print("NROWS=%d" % len(rows))
    tgts = {}
    for pre, i in (("H", hid), ("C", cid)):
        r = by_id.get(i) or {}
        err = r.get("error") or {}
        v = dict(OK=json.dumps(r.get("ok")), STATUS=json.dumps(r.get("status")),
                 KIND=err.get("kind", "none") if r else "missing", MSG=err.get("message", ""),
                 ATT=r.get("attempts", 0), BYTES=r.get("bytes", -1),
                 TOTAL=(r.get("time") or {}).get("total", -1), BODY=r.get("body", ""))
        tgts[pre] = target_of(r.get("url", "")) if r else None
        mine = [q for q in reqs if q["target"] == tgts[pre]]
        v["N"] = len(mine)
        v["CONNS"] = " ".join(str(q["conn"]) for q in mine)
        for k, val in v.items():
            print("%s_%s=%s" % (pre, k, shlex.quote(str(val))))
    # REUSED: a control request went out on a connection that had carried the hostile one before
    hostile_conns, reused = set(), 0
    for q in reqs:
        if q["target"] == tgts["H"]:
            hostile_conns.add(q["conn"])
        elif q["target"] == tgts["C"] and q["conn"] in hostile_conns:
            reused = 1
    print("REUSED=%d" % reused)


def gaps(log, sub):
    ts = [q["t"] for q in load(log) if "method" in q and sub in q["target"]]
    print(json.dumps([round(b - a, 4) for a, b in zip(ts, ts[1:])]))


SHELL = r'''
# --- shell helpers for tests/t_hostile_*.sh ---------------------------------------------------
# `eval "$("$PY" "$TAP_LIB/hostile_http.py" shell)"` after sourcing tap.sh defines:
#   hsrv_start NAME [--ports N] [--addr A]  start a server logging to $T/NAME.jsonl; sets HPORTS,
#                                           HPORT (first port), HLOG, HURL (http://127.0.0.1:HPORT/case)
#   hrun NAME DEADLINE ARGS...              spate ARGS under `timeout -k 3 DEADLINE`, output in
#                                           $(out NAME)/$(err NAME); sets RC, ELAPSED, MAXRSS (KiB,
#                                           empty without /usr/bin/time), CPU (user+sys seconds)
#   hsum NAME [HID [CID]]                   H_* C_* REUSED ... from `hostile_http.py summary`
#   hcase LABEL PATH KIND MSG_ERE [key=value...] [-- FETCH_OPTIONS...]
#        one hostile case with the baseline: fetches $HURL/PATH and the control $HURL/ok?ctl=LABEL
#        in one run (-c 1 --ordered, so a pooled hostile connection would carry the control),
#        with --retries 2 --backoff 0.05 --timeout 2 --connect-timeout 2 --read-timeout 1, then
#        asserts BL1 (no sanitizer report; exit 0 for KIND ok, else 1), BL2 (ELAPSED <= limit),
#        BL3 (the kind, and the message matching MSG_ERE, any case), BL4 (control ok, body "ok"),
#        BL5 (the control did not ride on a connection that carried the hostile request),
#        BL6 (the server saw the hostile URL exactly n times).
#        keys: n=N or n=MIN-MAX (default 1), limit=SECONDS (3.5), status=CODE (for KIND ok, 200),
#        bytes=N (for KIND ok: body bytes), reuse=any (BL5 not asserted), c=N (-c N, default 1),
#        method=M (hostile request method, via an input file), deadline=S (hard timeout, 15).
#   hbase_run LABEL RC LIMIT                BL1/BL2 for a custom run (counts one case)
#   res NAME EXPR                           EXPR over the result rows of run NAME (jsonl_check eval)
#   hcount                                  asserts every result line of the file is well formed,
#                                           prints the TAP comment with the number of cases
#   fle A B / fge A B                       decimal comparisons (exit status)
HOSTILE_PY=$TAP_LIB/hostile_http.py
NCASES=0
fle() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0) }'; }
fge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'; }
hsrv_start() {
    _hn=$1; shift
    [ -n "${T:-}" ] || tmpdir T
    HLOG=$T/$_hn.jsonl
    : >"$HLOG"
    bg_start "$PY" "$HOSTILE_PY" "$HLOG" "$@" >"$T/$_hn.ports" 2>"$T/$_hn.stderr"
    _i=0
    while ! grep -q . "$T/$_hn.ports" 2>/dev/null && [ $_i -lt 100 ]; do sleep 0.05; _i=$((_i + 1)); done
    HPORTS=$(head -n 1 "$T/$_hn.ports")
    HPORT=${HPORTS%% *}
    if [ -z "$HPORT" ]; then diag "hostile_http.py did not start:" "$(cat "$T/$_hn.stderr")"; return 1; fi
    HURL=http://127.0.0.1:$HPORT/case
}
hrun() {
    _n=$1; _d=$2; shift 2
    [ -n "$RUN_DIR" ] || tmpdir RUN_DIR
    _t0=$(date +%s.%N)
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f '%M %U %S' -o "$RUN_DIR/$_n.time" timeout -k 3 "$_d" "$SPATE_BIN" "$@" \
            <"${RUN_STDIN:-/dev/null}" >"$RUN_DIR/$_n.out" 2>"$RUN_DIR/$_n.err"
        RC=$?
    else
        timeout -k 3 "$_d" "$SPATE_BIN" "$@" <"${RUN_STDIN:-/dev/null}" >"$RUN_DIR/$_n.out" 2>"$RUN_DIR/$_n.err"
        RC=$?
    fi
    _t1=$(date +%s.%N)
    ELAPSED=$(echo "$_t0 $_t1" | awk '{printf "%.3f", $2 - $1}')
    MAXRSS=; CPU=
    if [ -s "$RUN_DIR/$_n.time" ]; then
        MAXRSS=$(tail -n 1 "$RUN_DIR/$_n.time" | awk '{print $1}')
        CPU=$(tail -n 1 "$RUN_DIR/$_n.time" | awk '{printf "%.3f", $2 + $3}')
    fi
    if [ "$RC" -ge 124 ] && [ "$RC" != 86 ]; then diag "$_n: spate ended by signal/timeout (rc=$RC, ${ELAPSED}s)"; fi
    return 0
}
hsum() { eval "$("$PY" "$HOSTILE_PY" summary "$(out "$1")" "$HLOG" "${2:-0}" "${3:-1}")"; }
hbase() {
    _l=$1; _k=$2; _m=$3
    NCASES=$((NCASES + 1))
    if [ "$_k" = ok ]; then _rc=0; else _rc=1; fi
    sanitizer_clean "$(err "$_l")" "$_l: BL1 no sanitizer report"
    is "$RC" "$_rc" "$_l: BL1 exit status $_rc (no crash, no signal, no hang)"
    fle "$ELAPSED" "$_lim"; ok $? "$_l: BL2 ends in time (${ELAPSED}s <= ${_lim}s)"
    if [ -n "$SCHEMA" ]; then diag "$_l: result schema: $SCHEMA"; fi
    if [ "$_k" = ok ]; then
        is "$H_OK $H_STATUS $H_KIND" "true $_st none" "$_l: BL3 succeeds with status $_st"
        if [ -n "$_by" ]; then is "$H_BYTES" "$_by" "$_l: BL3 body is $_by bytes"
        else like "$H_MSG" '^$' "$_l: BL3 no error message"; fi
    else
        like "$H_OK $H_KIND" "^false ($_k)\$" "$_l: BL3 fails with kind $_k"
        like_i "$H_MSG" "$_m" "$_l: BL3 message names the cause /$_m/"
    fi
    is "$C_OK $C_STATUS $C_BYTES $C_BODY" "true 200 2 ok" "$_l: BL4 control request on the same server succeeds"
    if [ "$_reuse" != any ]; then
        is "$REUSED" 0 "$_l: BL5 the control did not reuse the hostile connection (conns: hostile [$H_CONNS], control [$C_CONNS])"
    fi
    case $_nexp in
        *-*) cmp_num "$H_N" -ge "${_nexp%-*}" "$_l: BL6 the server saw the hostile request >= ${_nexp%-*} times (--retries 2)"
             cmp_num "$H_N" -le "${_nexp#*-}" "$_l: BL6 the server saw the hostile request <= ${_nexp#*-} times (stale re-send at most once)" ;;
        *) is "$H_N" "$_nexp" "$_l: BL6 the server saw the hostile request $_nexp time(s) (--retries 2)" ;;
    esac
}
hcase() {
    _l=$1; _p=$2; _k=$3; _m=$4; shift 4
    _nexp=1; _lim=3.5; _st=200; _by=; _reuse=; _c=1; _meth=; _dl=15
    while [ $# -gt 0 ]; do
        case $1 in
            --) shift; break ;;
            n=*) _nexp=${1#n=} ;; limit=*) _lim=${1#limit=} ;; status=*) _st=${1#status=} ;;
            bytes=*) _by=${1#bytes=} ;; reuse=*) _reuse=${1#reuse=} ;; c=*) _c=${1#c=} ;;
            method=*) _meth=${1#method=} ;; deadline=*) _dl=${1#deadline=} ;;
            *) diag "hcase: unknown key $1" ;;
        esac
        shift
    done
    case $_p in *\?*) _hu="$HURL/$_p&L=$_l" ;; *) _hu="$HURL/$_p?L=$_l" ;; esac
    _cu="$HURL/ok?ctl=$_l"
    if [ -n "$_meth" ]; then
        [ -n "$RUN_DIR" ] || tmpdir RUN_DIR
        printf '{"url": "%s", "method": "%s"}\n{"url": "%s"}\n' "$_hu" "$_meth" "$_cu" >"$RUN_DIR/$_l.in"
        hrun "$_l" "$_dl" fetch -q --body -c "$_c" --ordered --timeout 2 --connect-timeout 2 \
            --read-timeout 1 --retries 2 --backoff 0.05 "$@" -i "$RUN_DIR/$_l.in"
    else
        hrun "$_l" "$_dl" fetch -q --body -c "$_c" --ordered --timeout 2 --connect-timeout 2 \
            --read-timeout 1 --retries 2 --backoff 0.05 "$@" "$_hu" "$_cu"
    fi
    hsum "$_l"
    hbase "$_l" "$_k" "$_m"
}
hbase_run() {
    # hbase_run LABEL RC LIMIT: BL1 and BL2 for a run made with hrun (counts one case)
    NCASES=$((NCASES + 1))
    sanitizer_clean "$(err "$1")" "$1: BL1 no sanitizer report"
    is "$RC" "$2" "$1: BL1 exit status $2 (no crash, no signal, no hang)"
    fle "$ELAPSED" "$3"; ok $? "$1: BL2 ends in time (${ELAPSED}s <= $3s)"
}
# res NAME EXPR: EXPR over r = the result with id ID (r_ID) / rows of run NAME, via jsonl_check
res() { jl "$(out "$1")" "$2"; }
hcount() {
    cat "$RUN_DIR"/*.out >"$RUN_DIR/all-results.jsonl" 2>/dev/null
    jl_schema "$RUN_DIR/all-results.jsonl" "every result line of every run in $(basename "$0") is a well-formed result object"
    echo "# hostile cases in $(basename "$0"): $NCASES"
}
'''


def corpus(base, *names):
    """URLs replaying each static response whole, one byte per segment, and split at every point."""
    for name in names:
        print("%s/%s?whole=1" % (base, name))
        print("%s/drip/%s/0.5?drip=1" % (base, name))
        for k in range(1, len(STATIC[name][0])):
            print("%s/split/%d/%s?k=%d" % (base, k, name, k))


def splitcheck(out):
    """'identical' when every URL of one response (see corpus) has the same outcome, else the
    differing outcomes; then one line with the names of the responses that succeeded."""
    def name(u):
        p = urllib.parse.urlsplit(u).path.split("/case/", 1)[1].split("/")
        return p[2] if p[0] == "split" else p[1] if p[0] == "drip" else p[0]
    seen, oks = {}, set()
    for r in load(out):
        e = r.get("error") or {}
        o = (r["ok"], r["status"], e.get("kind"), e.get("message"), r["bytes"], r.get("body"))
        seen.setdefault(name(r["url"]), {}).setdefault(json.dumps(o), []).append(r["url"])
        if r["ok"]:
            oks.add(name(r["url"]))
    bad = {k: {o: u[:3] for o, u in v.items()} for k, v in seen.items() if len(v) != 1}
    print(json.dumps(bad)[:3000] if bad else "identical")
    print(" ".join(sorted(oks)))


def blackhole():
    """A listening socket with a backlog of 0 that never accepts, its queue filled by a few
    connections of our own: further SYNs are dropped, so connect() hangs (case 40). Prints the
    port, then sleeps until killed."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(0)
    port = ls.getsockname()[1]
    fillers = []
    for _ in range(8):
        c = socket.socket()
        c.setblocking(False)
        try:
            c.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(c)
        time.sleep(0.02)
    print(port, flush=True)
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    while True:
        time.sleep(3600)


def main():
    argv = sys.argv[1:]
    if not argv:
        sys.exit(__doc__)
    if argv[0] == "shell":
        sys.stdout.write(SHELL)
    elif argv[0] == "summary":
        summary(*argv[1:])
    elif argv[0] == "blackhole":
        blackhole()
    elif argv[0] == "corpus":
        corpus(*argv[1:])
    elif argv[0] == "splitcheck":
        splitcheck(*argv[1:])
    elif argv[0] == "gaps":
        gaps(*argv[1:])
    else:
        asyncio.run(serve(argv))


if __name__ == "__main__":
    main()
