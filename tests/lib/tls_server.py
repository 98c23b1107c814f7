#!/usr/bin/env python3
"""tls_server.py: small misbehaving TLS (and not-TLS) servers for the TLS tests (stdlib, loopback).

Usage: tls_server.py CERT KEY MODE [MODE ...]

Opens one listener on a free port of 127.0.0.1 per MODE and prints the ports, space-separated and
in MODE order, as the first line of stdout. Serves until SIGTERM/SIGINT. Every connection is one
line "MODE event..." on stderr (for diagnostics only).

Modes:
  stall      accepts TCP and never writes a byte (reads and discards; holds the socket <= 30 s)
  hs_close   reads the ClientHello (one recv), then closes
  noclose    TLS with CERT/KEY: reads one request head, answers
             "HTTP/1.1 200 OK / Content-Length: 2 / ok", then closes the socket WITHOUT sending
             close_notify (SSLSocket.close(), no unwrap())
"""
import socket
import ssl
import sys
import threading
import time

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def read_head(s, limit=65536):
    buf = b""
    while b"\r\n\r\n" not in buf and len(buf) < limit:
        d = s.recv(4096)
        if not d:
            break
        buf += d
    return buf


def serve_stall(conn, ctx):
    conn.settimeout(30)
    end = time.monotonic() + 30
    try:
        while time.monotonic() < end:
            if not conn.recv(4096):
                log("stall: client closed")
                break
    except OSError:
        pass
    conn.close()


def serve_hs_close(conn, ctx):
    conn.settimeout(10)
    try:
        n = len(conn.recv(4096))
        log("hs_close: read %d bytes, closing" % n)
    except OSError:
        pass
    conn.close()


def serve_noclose(conn, ctx):
    conn.settimeout(10)
    try:
        s = ctx.wrap_socket(conn, server_side=True)
    except (OSError, ssl.SSLError) as e:
        log("noclose: handshake failed: %r" % e)
        conn.close()
        return
    try:
        head = read_head(s)
        if head:
            s.sendall(RESPONSE)
            log("noclose: answered, closing without close_notify")
    except (OSError, ssl.SSLError) as e:
        log("noclose: %r" % e)
    s.close()  # no unwrap(): no close_notify


MODES = {"stall": serve_stall, "hs_close": serve_hs_close, "noclose": serve_noclose}


def accept_loop(ls, fn, ctx):
    while True:
        try:
            conn, _ = ls.accept()
        except OSError:
            return
        threading.Thread(target=fn, args=(conn, ctx), daemon=True).start()


def main():
    if len(sys.argv) < 4 or any(m not in MODES for m in sys.argv[3:]):
        sys.exit("usage: tls_server.py CERT KEY MODE... (modes: %s)" % " ".join(MODES))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[1], sys.argv[2])
    ports = []
    for m in sys.argv[3:]:
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", 0))
        ls.listen(64)
        ports.append(ls.getsockname()[1])
        threading.Thread(target=accept_loop, args=(ls, MODES[m], ctx), daemon=True).start()
    print(" ".join(map(str, ports)), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    import signal
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    main()
