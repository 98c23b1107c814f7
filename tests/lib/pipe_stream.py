#!/usr/bin/env python3
"""pipe_stream.py: does a command stream its results while its input pipe is still open?

Usage: pipe_stream.py [--batch N]... [--wait S] LINES -- CMD [ARG...]

Runs CMD (a `spate fetch ... -i -`) with a pipe on its stdin and its stdout, and feeds it the lines
of the file LINES in batches of the given sizes (--batch, repeated; the sizes must add up to the
number of lines; one line a batch when none is given). After each batch the pipe stays open, no
more is written, and the command must print one JSON result line for every input line written so
far within --wait seconds [10]: a command that waits for more input, for the end of it, or that
holds its output back, cannot. The pipe is closed only after the last batch's results are out.
A batch whose results do not come in time is "late"; the rest is then written without waiting,
so a broken command costs one wait at most.

Prints one line: "RC N VERDICT IDS-OK SLOWEST", with RC the exit status, N the result lines
read, VERDICT streamed, late-batch-K or input-closed-at-batch-K (the command closed its input),
IDS-OK True when the ids are 0..N-1 each once and every result is ok, and SLOWEST the longest
wait for a batch's results (seconds). The wait is a bound on a condition, not a measured window,
so a loaded machine makes the test slower, never wrong.

Used by t_fetch_stream.sh (one line at a time) and t_fetch_procs.sh (--procs 2, two batches of
100).
"""
import json
import subprocess
import sys
import threading
import time


def parse(argv):
    batches, wait = [], 10.0
    while argv and argv[0] != "--" and argv[0].startswith("--"):
        if argv[0] == "--batch":
            batches.append(int(argv[1]))
        elif argv[0] == "--wait":
            wait = float(argv[1])
        else:
            sys.exit("pipe_stream.py: unknown option %s" % argv[0])
        argv = argv[2:]
    if len(argv) < 3 or argv[1] != "--":
        sys.exit(__doc__)
    lines = open(argv[0]).read().splitlines()
    batches = batches or [1] * len(lines)
    if sum(batches) != len(lines):
        sys.exit("pipe_stream.py: batches of %d lines for a file of %d"
                 % (sum(batches), len(lines)))
    return batches, wait, lines, argv[2:]


def main():
    batches, wait, lines, cmd = parse(sys.argv[1:])
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
    results = []
    seen = threading.Condition()

    def read():
        for line in p.stdout:
            with seen:
                results.append(json.loads(line))
                seen.notify()

    reader = threading.Thread(target=read)
    reader.start()
    verdict, slowest, sent = "streamed", 0.0, 0
    for k, n in enumerate(batches):
        try:
            p.stdin.write("".join(l + "\n" for l in lines[sent:sent + n]).encode())
        except BrokenPipeError:  # the command is gone (or closed its input): say so, not a trace
            verdict = "input-closed-at-batch-%d" % k
            break
        sent += n
        if verdict != "streamed":
            continue
        t0 = time.monotonic()
        with seen:
            seen.wait_for(lambda: len(results) >= sent, timeout=wait)
            came = len(results) >= sent
        slowest = max(slowest, time.monotonic() - t0)
        if not came:
            verdict = "late-batch-%d" % k
    try:
        p.stdin.close()
    except BrokenPipeError:
        pass
    reader.join()
    rc = p.wait()
    ids_ok = sorted(r["id"] for r in results) == list(range(len(lines))) and \
        all(r["ok"] for r in results)
    print(rc, len(results), verdict, ids_ok, "%.3f" % slowest)


if __name__ == "__main__":
    main()
