#!/usr/bin/env python3
"""pty_term.py: runs a command on a pseudo-terminal, all of stdin, stdout and stderr (stdout to a
file on request), records what it draws and replays it as a screen (stdlib only). For a
progress line that shares the terminal with results; pty_run.py puts only stderr on one.

Usage: pty_term.py [--cols N] [--stdout FILE] [--timeout S] LOG -- CMD [ARG...]

The command's stdin, stdout and stderr are the terminal (stdout goes to FILE instead with
--stdout). LOG gets one JSON object: {"status": exit status (128+N for signal N),
"chunks": [[seconds since start, text], ...]} with the bytes read from the terminal decoded as
latin-1, so every byte survives. The command is killed after --timeout seconds [60].

  pty_term.py screen LOG    prints the final screen: the recorded bytes replayed through a minimal
                           terminal (CR, LF, ESC[K), one line per screen line.
"""
import fcntl
import json
import os
import pty
import select
import signal
import struct
import sys
import termios
import time


def record(argv):
    cols, stdout, limit = 0, None, 60.0
    while argv[0].startswith("--") and argv[0] != "--":
        opt, val = argv[0], argv[1]
        argv = argv[2:]
        if opt == "--cols":
            cols = int(val)
        elif opt == "--stdout":
            stdout = val
        elif opt == "--timeout":
            limit = float(val)
    log, argv = argv[0], argv[1:]
    if argv[0] == "--":
        argv = argv[1:]
    pid, fd = pty.fork()
    if pid == 0:
        if cols:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 50, cols, 0, 0))
        if stdout:
            out = os.open(stdout, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(out, 1)
            os.close(out)
        os.execvp(argv[0], argv)
    t0 = time.monotonic()
    chunks = []
    while time.monotonic() - t0 < limit:
        r, _, _ = select.select([fd], [], [], 0.5)
        if not r:
            continue
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: every writer closed the terminal
            break
        if not data:
            break
        chunks.append([round(time.monotonic() - t0, 4), data.decode("latin-1")])
    else:
        os.kill(pid, signal.SIGKILL)
    _, st = os.waitpid(pid, 0)
    status = os.WEXITSTATUS(st) if os.WIFEXITED(st) else 128 + os.WTERMSIG(st)
    with open(log, "w") as f:
        json.dump({"status": status, "chunks": chunks}, f)


def screen(log):
    text = "".join(c for _, c in json.load(open(log))["chunks"])
    lines, cur, col = [], [], 0
    i = 0
    while i < len(text):
        ch = text[i]
        if text.startswith("\033[K", i):
            del cur[col:]
            i += 3
            continue
        if ch == "\r":
            col = 0
        elif ch == "\n":
            lines.append("".join(cur))
            cur, col = [], 0
        else:
            if col < len(cur):
                cur[col] = ch
            else:
                cur.append(ch)
            col += 1
        i += 1
    if cur:
        lines.append("".join(cur))
    for line in lines:
        print(line)


if __name__ == "__main__":
    if sys.argv[1] == "screen":
        screen(sys.argv[2])
    else:
        record(sys.argv[1:])
