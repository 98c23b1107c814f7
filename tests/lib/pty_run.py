#!/usr/bin/env python3
"""pty_run.py: runs a command with its stderr on a pseudo-terminal (stdout to a file, stdin from
/dev/null) and records what the terminal received, with arrival times, for tests of progress lines.

Usage: pty_run.py OUTFILE TIMEOUT CMD [ARG...]

Prints one JSON object: {"rc": exit status (-N for signal N), "chunks": [[t, text], ...]} where
t is seconds since the start and text the bytes read at that time (latin-1). The command is
killed after TIMEOUT seconds.
"""
import json
import os
import pty
import select
import subprocess
import sys
import time


def main():
    outfile, limit, cmd = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
    master, slave = pty.openpty()
    t0 = time.monotonic()
    with open(outfile, "wb") as out:
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=slave)
    os.close(slave)
    chunks = []
    while time.monotonic() - t0 < limit:
        r, _, _ = select.select([master], [], [], 0.5)
        if not r:
            if p.poll() is not None:
                break
            continue
        try:
            d = os.read(master, 65536)
        except OSError:  # EIO: the last writer closed the terminal
            break
        if not d:
            break
        chunks.append([round(time.monotonic() - t0, 4), d.decode("latin-1")])
    if p.poll() is None:
        p.kill()
    rc = p.wait()
    os.close(master)
    print(json.dumps({"rc": rc, "chunks": chunks}))


if __name__ == "__main__":
    main()
