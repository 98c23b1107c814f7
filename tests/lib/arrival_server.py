#!/usr/bin/env python3
"""arrival_server.py: an HTTP/1.1 keep-alive server that logs when each request arrived (stdlib
only, loopback only), for the scale-out tests of `spate bench`.

Usage: arrival_server.py --log FILE [--tls CERT KEY] [--slow-after K] [--slow-s S]

Listens on a free port of 127.0.0.1 and prints it as the first line of stdout. One thread per
connection. Every request (a head ending in an empty line; bodies are not expected) is answered
"ok\\n" with status 200, keep-alive, and logged as one line, flushed at once:
    <arrival, Unix seconds with microseconds> <connection number from 0> <request target>
the arrival being the moment the request's first bytes were read.

With --tls the listener speaks TLS with CERT and KEY. With --slow-after K, connections after the
first K wait --slow-s seconds [1] before anything else (the TLS handshake, or reading the first
request): a client's connections to this server come up that much later. A line
"<time> <number> connected" is logged for each connection when it is ready.
"""
import argparse
import signal
import socket
import ssl
import sys
import threading
import time

OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n"


class Log:
    def __init__(self, path):
        self.f = open(path, "a", buffering=1)
        self.lock = threading.Lock()

    def line(self, text):
        with self.lock:
            self.f.write(text + "\n")


def serve(sock, n, args, ctx, log):
    try:
        if args.slow_after is not None and n >= args.slow_after:
            time.sleep(args.slow_s)
        if ctx:
            sock = ctx.wrap_socket(sock, server_side=True)
        log.line("%.6f %d connected" % (time.time(), n))
        buf = b""
        while True:
            first = None
            while b"\r\n\r\n" not in buf:
                d = sock.recv(65536)
                if not d:
                    return
                if first is None and not buf:
                    first = time.time()
                buf += d
            if first is None:
                first = time.time()  # pipelined behind the previous request
            head, buf = buf.split(b"\r\n\r\n", 1)
            target = head.split(b"\r\n", 1)[0].split(b" ")[1].decode("latin-1")
            log.line("%.6f %d %s" % (first, n, target))
            sock.sendall(OK)
    except (OSError, ssl.SSLError, IndexError):
        pass
    finally:
        try:
            sock.close()
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", required=True)
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--slow-after", type=int, default=None)
    ap.add_argument("--slow-s", type=float, default=1.0)
    args = ap.parse_args()
    ctx = None
    if args.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls[0], args.tls[1])
    log = Log(args.log)
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(1024)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    print(ls.getsockname()[1], flush=True)
    n = 0
    while True:
        s, _ = ls.accept()
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=serve, args=(s, n, args, ctx, log), daemon=True).start()
        n += 1


if __name__ == "__main__":
    main()
