#!/usr/bin/env python3
"""count_server.py: an HTTP/1.1 server that counts connections and requests (stdlib only,
loopback only), for the `spate bench` tests.

Usage: count_server.py --log FILE [--fail-every K] [--delay-ms MS] [--stall-after N]

Listens on a free port of 127.0.0.1 (accept backlog 4096) and prints it as the first line of
stdout. One thread, one selectors loop. Every request (a head ending in an empty line, plus a
Content-Length body if any) gets a small keep-alive response: "ok\\n" with status 200, or status
500 for every K-th request (K, 2K, ...) with --fail-every K; --delay-ms holds each response that
long; requests after the first N with --stall-after N are counted but never answered.

Ground truth it keeps: connections accepted; requests; and, at the moment the first request's
bytes arrive, how many connections the kernel had completed (the listen queue is drained first:
a client's handshake completes before its request can arrive, so any connection the client made
before sending is counted). On SIGTERM/SIGINT it writes one JSON line to --log and exits:
  {"accepted": N, "requests": N, "answered": N, "accepted_at_first_request": N or null,
   "max_open": N, "open": N}
"""
import argparse
import heapq
import json
import os
import selectors
import signal
import socket
import sys
import time

OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n"
FAIL = b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nfail\n"


class Conn:
    def __init__(self, sock):
        self.sock, self.inbuf, self.outbuf, self.need_body = sock, b"", b"", 0


class Server:
    def __init__(self, args):
        self.args = args
        self.sel = selectors.DefaultSelector()
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(4096)
        self.lsock.setblocking(False)
        self.sel.register(self.lsock, selectors.EVENT_READ, None)
        self.accepted = self.requests = self.answered = self.open = self.max_open = 0
        self.at_first = None
        self.timers = []  # (due, seq, conn, bytes)
        self.seq = 0
        self.stop = False

    def accept_all(self):
        while True:
            try:
                s, _ = self.lsock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # EMFILE and the like: leave it queued
                return
            s.setblocking(False)
            self.accepted += 1
            self.open += 1
            self.max_open = max(self.max_open, self.open)
            self.sel.register(s, selectors.EVENT_READ, Conn(s))

    def close(self, c):
        self.sel.unregister(c.sock)
        c.sock.close()
        self.open -= 1

    def answer(self, c):
        self.requests += 1
        if self.args.stall_after is not None and self.requests > self.args.stall_after:
            return
        k = self.args.fail_every
        data = FAIL if k and self.requests % k == 0 else OK
        if self.args.delay_ms:
            self.seq += 1
            heapq.heappush(self.timers, (time.monotonic() + self.args.delay_ms / 1e3, self.seq, c, data))
        else:
            self.send(c, data)

    def send(self, c, data):
        if c.sock.fileno() < 0:
            return
        self.answered += 1
        c.outbuf += data
        self.flush(c)

    def flush(self, c):
        try:
            n = c.sock.send(c.outbuf)
            c.outbuf = c.outbuf[n:]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            self.close(c)
            return
        self.sel.modify(c.sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if c.outbuf else 0), c)

    def parse(self, c):
        while True:
            if c.need_body:
                take = min(c.need_body, len(c.inbuf))
                c.inbuf, c.need_body = c.inbuf[take:], c.need_body - take
                if c.need_body:
                    return
                self.answer(c)
                continue
            end = c.inbuf.find(b"\r\n\r\n")
            if end < 0:
                return
            head, c.inbuf = c.inbuf[:end].lower(), c.inbuf[end + 4:]
            n = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip() == b"content-length":
                    n = int(value.strip())
            if n:
                c.need_body = n
                continue
            self.answer(c)

    def readable(self, c):
        try:
            d = c.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            d = b""
        if not d:
            self.close(c)
            return
        if self.at_first is None:
            self.accept_all()  # every handshake completed so far is in the listen queue
            self.at_first = self.accepted
        c.inbuf += d
        self.parse(c)

    def run(self):
        while not self.stop:
            timeout = 0.2
            if self.timers:
                timeout = max(0.0, min(timeout, self.timers[0][0] - time.monotonic()))
            for key, ev in self.sel.select(timeout):
                c = key.data
                if c is None:
                    self.accept_all()
                    continue
                if ev & selectors.EVENT_WRITE and c.sock.fileno() >= 0:
                    self.flush(c)
                if ev & selectors.EVENT_READ and c.sock.fileno() >= 0:
                    self.readable(c)
            now = time.monotonic()
            while self.timers and self.timers[0][0] <= now:
                _, _, c, data = heapq.heappop(self.timers)
                self.send(c, data)

    def summary(self):
        return dict(accepted=self.accepted, requests=self.requests, answered=self.answered,
                    accepted_at_first_request=self.at_first, max_open=self.max_open, open=self.open)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", required=True)
    ap.add_argument("--fail-every", type=int, default=0)
    ap.add_argument("--delay-ms", type=float, default=0)
    ap.add_argument("--stall-after", type=int, default=None)
    args = ap.parse_args()
    srv = Server(args)

    def on_signal(_sig, _frm):
        srv.stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(srv.lsock.getsockname()[1], flush=True)
    srv.run()
    with open(args.log, "a") as f:
        f.write(json.dumps(srv.summary()) + "\n")
    os._exit(0)


if __name__ == "__main__":
    main()
