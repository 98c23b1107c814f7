#!/bin/sh
# t_fetch_progress.sh: the progress line of `spate fetch` on a pseudo-terminal (lib/pty_term.py):
# redrawn on a timer while no request ends, its figures (done/total, percent, elapsed, ETA, in
# flight, rate) against what the test controls (a server that answers after a known delay, -c),
# cleared before result lines reach the same terminal and at the end, cut to the terminal's
# width; --progress / --no-progress / -q.
. "$(dirname "$0")/lib/tap.sh"
require_spate
plan 27

tmpdir T
srv_start "$T" || { echo "Bail out! http_server.py did not start"; exit 1; }
S=$SRV_URL/case
PTY="$PY $TAP_LIB/pty_term.py"

# frames LOG EXPR: EXPR over f, the progress frames drawn ([t, done, total, pct, elapsed s, eta s
# or None, in flight, rate or None], t = seconds since the recorder began), t0 (the first frame's
# t: spate draws it as it starts, so x[0] - t0 is spate's own time, however late it started), and
# st, the exit status.
frames() { "$PY" "$TAP_LIB/progress_frames.py" "$1" "$2"; }
screen() { $PY "$TAP_LIB/pty_term.py" screen "$1"; }

# --- no request ends for 1.5 s: the line is redrawn on a timer meanwhile --------------------------
for i in 0 1 2 3; do echo "$S/slow/1500/p-$i"; done >"$T/p.txt"
$PY "$TAP_LIB/pty_term.py" --cols 200 "$T/p.json" -- "$SPATE_BIN" fetch -c 4 -i "$T/p.txt"
is "$(frames "$T/p.json" st)" 0 "pty: exit 0"
is "$(frames "$T/p.json" "len(set(x[0] for x in f if x[0] - t0 < 1.3 and x[1] == 0)) >= 4")" true \
    "timer: at least 4 redraws in spate's first 1.3 s, before any request ended ($(frames "$T/p.json" "[round(x[0] - t0, 4) for x in f if x[1] == 0]"))"
is "$(frames "$T/p.json" "sorted(set((x[1], x[2], x[3], x[6]) for x in f if x[0] - t0 < 1.3))")" '[[0, 4, 0.0, 4]]' \
    "before the answers: 0/4 done, 0.0%, 4 in flight (-c 4)"
is "$(frames "$T/p.json" "[x for x in f if x[0] - t0 < 1.3 and x[5] is not None]")" '[]' "before any answer: ETA unknown (--)"
# elapsed can be no more than the recorder's time (spate began after it) and no less than the time
# since the first frame, less one (whole seconds)
is "$(frames "$T/p.json" "[x for x in f if not (x[4] <= x[0] + 0.05 and x[4] > x[0] - t0 - 1.05)]")" '[]' \
    "elapsed: whole seconds since the start, at every frame"
is "$(frames "$T/p.json" "(f[-1][1], f[-1][2], f[-1][3], f[-1][6])")" '[4, 4, 100.0, 0]' "last frame: 4/4 done, 100.0%, none in flight"
SCR=$(screen "$T/p.json")
is "$(printf '%s\n' "$SCR" | grep -c '^{"id":')" 4 "screen: 4 result lines, each alone on its line"
is "$(printf '%s\n' "$SCR" | grep '"id"' | "$PY" -c 'import sys, json; print(sum(1 for l in sys.stdin if json.loads(l)["ok"]))')" 4 \
    "screen: each result line is one whole JSON object"
unlike "$SCR" '[0-9]+/[0-9]+ done' "screen: no progress text left anywhere (cleared before results and at the end)"
like "$(printf '%s\n' "$SCR" | tail -n 1)" '^spate fetch: 4 requests, 4 ok, 0 failed' "screen: the summary is the last line"

# --- the figures of a steady run: 8 requests/s (-c 4, 0.5 s each), 40 requests --------------------
for i in $(seq 0 39); do echo "$S/slow/500/r-$i"; done >"$T/r.txt"
$PY "$TAP_LIB/pty_term.py" --cols 200 --stdout "$T/r.out" "$T/r.json" -- "$SPATE_BIN" fetch -c 4 -i "$T/r.txt"
is "$(frames "$T/r.json" st)" 0 "steady: exit 0"
MID="[x for x in f if 2.0 <= x[0] - t0 <= 4.0]"
cmp_num "$(frames "$T/r.json" "len($MID)")" -ge 4 "steady: frames drawn between 2 s and 4 s"
is "$(frames "$T/r.json" "[x for x in $MID if not (5 <= x[7] <= 9)]")" '[]' \
    "steady: the rate is 8 req/s (5..9) between 2 s and 4 s"
is "$(frames "$T/r.json" "[x for x in $MID if x[6] != 4]")" '[]' "steady: 4 in flight"
is "$(frames "$T/r.json" "[x for x in $MID if abs(x[5] - (x[2] - x[1]) / 8.0) > 1.6]")" '[]' \
    "steady: ETA = requests left / 8 per s (within 1.6 s)"
is "$(frames "$T/r.json" "[x for x in f if abs(x[3] - 100.0 * x[1] / x[2]) > 0.051]")" '[]' "steady: percent = done / total"
is "$(frames "$T/r.json" "[x for x in f if x[2] != 40]")" '[]' "steady: total 40"
is "$(frames "$T/r.json" "sorted(x[1] for x in f) == [x[1] for x in f]")" true "steady: done never goes back"
# stdout was a file: results are plain lines, the terminal only had the progress line and summary
ok_cmd "steady: stdout (a file) holds 40 whole result lines" "$PY" "$TAP_LIB/jsonl_check.py" schema "$T/r.out"
is "$(wc -l <"$T/r.out" | tr -d ' ')" 40 "steady: 40 lines in the file"
unlike "$(cat "$T/r.out")" "$(printf '\r')" "steady: no progress bytes in the results file"

# --- a narrow terminal: the line is cut to fit, so \r can redraw it ------------------------------
$PY "$TAP_LIB/pty_term.py" --cols 30 "$T/n.json" -- "$SPATE_BIN" fetch -c 4 -i "$T/p.txt"
is "$("$PY" -c '
import json, sys
t = "".join(c for _, c in json.load(open(sys.argv[1]))["chunks"])
print(max(len(p.split("\033[K")[0]) for p in t.split("\r") if "done" in p))' "$T/n.json")" 29 \
    "30 columns: the progress line is cut to 29"

# --- --no-progress, -q, --progress on a file ------------------------------------------------------
$PY "$TAP_LIB/pty_term.py" "$T/np.json" -- "$SPATE_BIN" fetch --no-progress -c 4 -i "$T/p.txt"
is "$(frames "$T/np.json" "len(f)")" 0 "--no-progress: no progress line on the terminal"
$PY "$TAP_LIB/pty_term.py" --stdout "$T/q.out" "$T/q.json" -- "$SPATE_BIN" fetch -q -c 4 -i "$T/p.txt"
is "$(frames "$T/q.json" "''.join(c for _, c in log['chunks'])")" "" "-q: nothing at all on the terminal"
run forced fetch --progress -c 4 -i "$T/p.txt"
cmp_num "$(tr '\r' '\n' <"$(err forced)" | grep -c '/4 done')" -ge 4 "--progress: drawn to stderr that is not a terminal"
run default fetch -c 4 -i "$T/p.txt"
is "$(tr '\r' '\n' <"$(err default)" | grep -c '/4 done')" 0 "default: no progress line when stderr is not a terminal"

SANE=0
for _f in "$RUN_DIR"/*.err; do grep -Eq "$SANITIZER_RE" "$_f" && SANE=1; done
for _f in "$T"/*.json; do grep -Eq "$SANITIZER_RE" "$_f" && { SANE=1; diag "sanitizer report in $_f"; }; done
ok $SANE "no sanitizer report in any run"
done_testing
