#!/usr/bin/env python3
"""flaky_server.py LOGFILE [options]: an HTTP/1.1 server on 127.0.0.1 (port 0 unless --port) that
answers GET /anything with 200 and a small body, but fails a fraction of requests at random:

  rst       abortive close (SO_LINGER 0): the client sees a connection reset, no response byte
  503       "503 Service Unavailable" with a small body, connection kept
  stall     nothing is sent for --stall seconds (longer than the client's --timeout), then close
  truncate  "Content-Length: 100" and 10 body bytes, then close
  eof_body  (only when named in --kinds) a good 200 whose body is delimited by the close: no
            Content-Length, "Connection: close", the body, then close (one write, then FIN)

Prints the port on stdout once listening. Logs one JSON line per request to LOGFILE:
  {"t": <time.time() when the request head was received>, "path": "/n", "outcome": "ok"|...,
   "conn": <connection number>}
and on SIGTERM/SIGINT a last line {"event": "exit", "stats": {...}} (requests, outcomes, conns,
max_open). Standard library only (asyncio).

Options:
  --fail P        probability that a request fails [0.2]; 0 = every request is answered 200
  --seed N        seed of the random choices [1]
  --kinds LIST    comma-separated failure kinds to choose from [rst,503,stall,truncate]
  --stall S       seconds a stalled request is held before the close [3]
  --port N        port to listen on [0 = any free one]
"""
import argparse
import asyncio
import json
import random
import signal
import socket
import struct
import sys
import time

KINDS = ("rst", "503", "stall", "truncate")
EXTRA_KINDS = ("eof_body",)


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("log")
    ap.add_argument("--fail", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--stall", type=float, default=3.0)
    ap.add_argument("--port", type=int, default=0)
    a = ap.parse_args()
    a.kinds = [k for k in a.kinds.split(",") if k]
    for k in a.kinds:
        if k not in KINDS + EXTRA_KINDS:
            ap.error("unknown kind %r (known: %s)" % (k, ",".join(KINDS + EXTRA_KINDS)))
    return a


class Server:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.log = open(args.log, "a", buffering=1 << 16)
        self.stats = {"requests": 0, "conns": 0, "open": 0, "max_open": 0,
                      "outcomes": {k: 0 for k in ("ok",) + KINDS + EXTRA_KINDS}}
        self.pending = set()

    def choose(self):
        if self.args.fail > 0 and self.args.kinds and self.rng.random() < self.args.fail:
            return self.rng.choice(self.args.kinds)
        return "ok"

    def record(self, t, path, outcome, conn):
        self.stats["requests"] += 1
        self.stats["outcomes"][outcome] += 1
        self.log.write(json.dumps({"t": t, "path": path, "outcome": outcome, "conn": conn}) + "\n")

    async def handle(self, r, w):
        st = self.stats
        st["conns"] += 1
        st["open"] += 1
        st["max_open"] = max(st["max_open"], st["open"])
        conn = st["conns"]
        task = asyncio.current_task()
        self.pending.add(task)
        try:
            while True:
                head = await r.readuntil(b"\r\n\r\n")
                t = time.time()
                line = head.split(b"\r\n", 1)[0].split(b" ")
                path = line[1].decode("latin-1") if len(line) > 1 else "?"
                outcome = self.choose()
                self.record(t, path, outcome, conn)
                if outcome == "ok":
                    body = ("ok %s\n" % path).encode("latin-1")
                    w.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"
                            % (len(body), body))
                    await w.drain()
                elif outcome == "503":
                    body = b"busy\n"
                    w.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                    await w.drain()
                elif outcome == "rst":
                    sock = w.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    w.transport.abort()
                    return
                elif outcome == "stall":
                    await asyncio.sleep(self.args.stall)
                    return
                elif outcome == "eof_body":
                    body = ("ok %s\n" % path).encode("latin-1")
                    w.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body)
                    await w.drain()
                    return
                else:  # truncate
                    w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
                    await w.drain()
                    return
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, OSError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            st["open"] -= 1
            self.pending.discard(task)
            if not w.is_closing():
                w.close()

    def finish(self):
        self.log.write(json.dumps({"event": "exit", "t": time.time(), "stats": self.stats}) + "\n")
        self.log.flush()


async def main():
    args = parse_args()
    srv = Server(args)
    server = await asyncio.start_server(srv.handle, "127.0.0.1", args.port, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()
        server.close()
        for t in list(srv.pending):
            t.cancel()
    srv.finish()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    sys.exit(0)
