#!/usr/bin/env python3
"""dns_peer_http.py: a minimal HTTP/1.1 server on a chosen loopback address and port (stdlib only),
for the DNS tests that need a server at 127.0.0.2:P or [::1]:P (http_server.py binds 127.0.0.1
on its own free ports only).

usage: dns_peer_http.py ADDR PORT LOGFILE

Binds ADDR:PORT (PORT 0 = any free port), prints the bound port as the first line of stdout and
serves until SIGTERM/SIGINT. Every request gets `200 OK` with the body "peer ADDR\n" on a
keep-alive connection (unless the client asked for close). Each request is one JSON line in
LOGFILE: {"t", "addr" (our address), "port", "peer", "conn" (connection serial), "method",
"target"}.
"""
import asyncio
import json
import signal
import socket
import sys
import time


async def main():
    addr, port, logpath = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    log = open(logpath, "a", encoding="utf-8")
    serial = [0]
    body = ("peer %s\n" % addr).encode()

    async def handle(reader, writer):
        serial[0] += 1
        conn = serial[0]
        peer = writer.get_extra_info("peername")
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                parts = lines[0].split(" ")
                hdrs = {}
                for ln in lines[1:]:
                    if ":" in ln:
                        k, v = ln.split(":", 1)
                        hdrs[k.strip().lower()] = v.strip()
                n = int(hdrs.get("content-length", "0") or 0)
                if n:
                    await reader.readexactly(n)
                log.write(json.dumps({"t": time.time(), "addr": addr, "port": port,
                                      "peer": list(peer[:2]) if peer else None, "conn": conn,
                                      "method": parts[0],
                                      "target": parts[1] if len(parts) > 1 else ""}) + "\n")
                log.flush()
                close = hdrs.get("connection", "").lower() == "close"
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                             b"%s\r\n" % (len(body), b"Connection: close\r\n" if close else b"")
                             + body)
                await writer.drain()
                if close:
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
            pass
        finally:
            try:
                writer.close()
            except Exception:
                pass

    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    sock.bind((addr, port))
    port = sock.getsockname()[1]
    server = await asyncio.start_server(handle, sock=sock, backlog=512)
    print(port, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except OSError as e:
        print("dns_peer_http.py: %s" % e, file=sys.stderr)
        sys.exit(1)
