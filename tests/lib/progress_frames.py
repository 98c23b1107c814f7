"""progress_frames.py LOG EXPR: prints EXPR (JSON unless a string) evaluated over the progress frames
a pty_term.py LOG recorded, f = [[t, done, total, pct, elapsed s, eta s or None, in flight, rate
or None], ...] (t = seconds since start), t0, the time of the first frame, and st, the exit
status. Used by the fetch progress tests (t_fetch_progress.sh, t_fetch_procs.sh).

spate draws its first frame as it starts, so x[0] - t0 is the time since spate started, whatever
the exec took: on a loaded machine that was once a second after the recorder began."""
import json, re, sys
log = json.load(open(sys.argv[1]))
pat = re.compile(r"(\d+)/(\d+) done \(([\d.]+)%\)  elapsed (\d+):(\d\d)  ETA (--|(\d+):(\d\d))"
                 r"  in flight (\d+)  (--|\d+) req/s")
f = []
for t, text in log["chunks"]:
    for piece in text.split("\r"):
        m = pat.match(piece)
        if m:
            g = m.groups()
            f.append([t, int(g[0]), int(g[1]), float(g[2]), int(g[3]) * 60 + int(g[4]),
                      None if g[5] == "--" else int(g[6]) * 60 + int(g[7]), int(g[8]),
                      None if g[9] == "--" else int(g[9])])
t0 = f[0][0] if f else 0.0
st = log["status"]
v = eval(sys.argv[2])
print(v if isinstance(v, str) else json.dumps(v))
