#!/usr/bin/env python3
"""tls_server.py: small misbehaving TLS (and not-TLS) servers for the TLS tests (stdlib, loopback).

Usage: tls_server.py CERT KEY MODE [MODE ...]

Opens one listener on a free port of 127.0.0.1 per MODE and prints the ports, space-separated and
in MODE order, as the first line of stdout. Serves until SIGTERM/SIGINT. Every connection is one
line "MODE event..." on stderr (for diagnostics only).

Modes:
  stall      accepts TCP and never writes a byte (reads and discards; holds the socket <= 30 s)
  partial    reads the ClientHello, sends the first 5 bytes of a TLS record header, then stalls
  hs_close   reads the ClientHello (one recv), then closes
  noclose    TLS with CERT/KEY: reads one request head, answers
             "HTTP/1.1 200 OK / Content-Length: 2 / ok", then closes the socket WITHOUT sending
             close_notify (SSLSocket.close(), no unwrap())
  trunc_notify   TLS: answers "Content-Length: 100" with 10 body bytes, then close_notify (unwrap())
  trunc_noclose  TLS: the same 10 of 100 bytes, then close without close_notify
  eofbody    TLS: answers "HTTP/1.1 200 OK / Connection: close" (no length) + "partial-body",
             then closes without close_notify (body delimited by EOF: truncation undetectable)
  eofbody_notify  the same, then close_notify (unwrap()) before closing
  sha        TLS: reads each request's Content-Length body slowly (<= 64 KiB per 5 ms, small
             receive buffer, so the client's writes block) and answers with the body's SHA-256
             in hex; keeps the connection open for the next request
"""
import hashlib
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


def serve_partial(conn, ctx):
    conn.settimeout(30)
    try:
        conn.recv(4096)
        conn.sendall(b"\x16\x03\x03\x00\x7a")  # handshake record, 122 bytes announced
        end = time.monotonic() + 30
        while time.monotonic() < end and conn.recv(4096):
            pass
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


def tls_accept(conn, ctx, name):
    conn.settimeout(10)
    try:
        return ctx.wrap_socket(conn, server_side=True)
    except (OSError, ssl.SSLError) as e:
        log("%s: handshake failed: %r" % (name, e))
        conn.close()
        return None


def serve_trunc(conn, ctx, notify):
    s = tls_accept(conn, ctx, "trunc")
    if not s:
        return
    try:
        if read_head(s):
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
            time.sleep(0.05)
            if notify:
                s.unwrap()
                log("trunc_notify: 10 of 100 bytes, close_notify sent")
            else:
                log("trunc_noclose: 10 of 100 bytes, closing without close_notify")
    except (OSError, ssl.SSLError, ValueError) as e:
        log("trunc: %r" % e)
    s.close()


def serve_eofbody(conn, ctx, notify):
    s = tls_accept(conn, ctx, "eofbody")
    if not s:
        return
    try:
        if read_head(s):
            s.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\npartial-body")
            time.sleep(0.05)
            if notify:
                s.unwrap()
    except (OSError, ssl.SSLError, ValueError) as e:
        log("eofbody: %r" % e)
    s.close()


def serve_sha(conn, ctx):
    s = tls_accept(conn, ctx, "sha")
    if not s:
        return
    s.settimeout(20)
    buf = b""
    try:
        while True:
            while b"\r\n\r\n" not in buf:
                d = s.recv(65536)
                if not d:
                    raise EOFError
                buf += d
            head, buf = buf.split(b"\r\n\r\n", 1)
            n = 0
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    n = int(v.strip())
            h = hashlib.sha256()
            got = len(buf[:n])
            h.update(buf[:n])
            buf = buf[n:]
            while got < n:
                time.sleep(0.005)
                d = s.recv(min(65536, n - got))
                if not d:
                    raise EOFError
                h.update(d)
                got += len(d)
            body = h.hexdigest().encode()
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            log("sha: %d bytes, %s" % (got, body.decode()))
    except (OSError, ssl.SSLError, EOFError, ValueError) as e:
        log("sha: %r" % e)
    s.close()


MODES = {"stall": serve_stall, "partial": serve_partial, "hs_close": serve_hs_close,
         "noclose": serve_noclose, "sha": serve_sha,
         "trunc_notify": lambda c, x: serve_trunc(c, x, True),
         "trunc_noclose": lambda c, x: serve_trunc(c, x, False),
         "eofbody": lambda c, x: serve_eofbody(c, x, False),
         "eofbody_notify": lambda c, x: serve_eofbody(c, x, True)}


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
        if m == "sha":
            # a small receive window, set before listen(): shrinking it on an accepted socket can
            # stall loopback TCP itself (window below the MSS and below half the largest window)
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
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
