#!/bin/sh
# t_fetch_procs.sh: `spate fetch --procs N` (issue 13), against a private nginx reached under six
# host names (--resolve), so the run spans six host:ports:
#  1. --procs 2 over 10,000 URLs: every id exactly once, every line a whole result, exit 0,
#     nginx served 10,000, one summary of 10,000; -v names the worker of each request: each
#     host:port is fetched by exactly one worker, and both workers work;
#  2. --ordered: ids in input order exactly, from a pipe (-i -) with --procs 3;
#  3. --procs 1 prints the same ids and URLs as a run without --procs;
#  4. a bad line among good ones: exactly one result of kind input (not one per worker), exit 1;
#  5. SIGINT to the parent mid-run (nginx's limit_req spreads the requests over seconds): exit
#     130, whole lines only, and every URL nginx served has its line; --resume then completes the
#     union exactly;
#  6. a worker killed by SIGKILL mid-run, unordered and --ordered: the parent ends by itself, exit
#     1, names the worker and its signal; every id still has exactly one line (in input order with
#     --ordered): the dead worker's unanswered requests say kind canceled and why, the other
#     worker's host:ports are all ok, every ok line was served by nginx, the summary counts them;
#     against nginx's log: no request nginx saw is said never sent, each canceled one it saw says
#     it may have reached the server;
#  8. a pipe streams: results come while the producer still holds the pipe open;
#  9. 10,000 URLs through a pipe: every id once, whole lines; --ordered order exact;
# 10. memory: --ordered behind a slow first request, 200,000 lines from a pipe: peak RSS (release
#     build, GNU time) at most 1.3x that of 20,000;
# 11. the progress line over a pty: drawn by the parent on a timer with the workers' figures
#     (done/total, in flight), cleared before result lines and at the end;
#  7. --procs above -c is refused (exit 2).
. "$(dirname "$0")/lib/tap.sh"
. "$TAP_LIB/nginx.sh"
require_spate
require_release_spate
plan 38

tmpdir T
mkdir -p "$T/www/lim"
echo hello >"$T/www/x"
echo slow >"$T/www/lim/x"
nginx_start "$T" 'limit_req_zone $server_name zone=lim:1m rate=2000r/s;' \
    'location /lim/ { limit_req zone=lim burst=100000; try_files /lim/x =404; }' ||
    { echo "Bail out! nginx did not start"; exit 1; }
P=$NGINX_PORT
LOG=$NGINX_DIR/access.log
RES=
for h in a b c d e f; do RES="$RES --resolve $h.test:$P:127.0.0.1"; done
# urls N PATH: N URLs over the six hosts, http://H.test:P/PATH?h=H&i=I
urls() { awk -v n="$1" -v p="$P" -v path="$2" 'BEGIN { for (i = 0; i < n; i++) { h = substr("abcdef", i % 6 + 1, 1); printf "http://%s.test:%d%s?h=%s&i=%d\n", h, p, path, h, i } }'; }

# --- 1. 10,000 URLs, two workers ------------------------------------------------------------------
urls 10000 /x >"$T/all.urls"
: >"$LOG"
run two fetch --procs 2 -c 20 -v $RES -i "$T/all.urls"
is "$RC" 0 "--procs 2 over 10,000 URLs on six host:ports: exit 0"
jl_schema "$(out two)" "  every line is a whole, well-formed result"
is "$(jl "$(out two)" "(len(rows), sorted(r['id'] for r in rows) == list(range(10000)), sum(1 for r in rows if r['ok'] and r['status'] == 200), all(r['url'].endswith('&i=%d' % r['id']) for r in rows))")" \
    '[10000, true, 10000, true]' "  every id exactly once, each with its own URL, all 200"
is "$(wc -l <"$LOG" | tr -d ' ')" 10000 "  nginx served 10,000"
is "$(grep -c 'requests, .* ok' "$(err two)") $(grep -o '[0-9]* requests, [0-9]* ok, [0-9]* failed' "$(err two)")" \
    "1 10000 requests, 10000 ok, 0 failed" "  one summary, the workers' counts summed"
W=$(sed -n 's/.*h=\([a-f]\)&i=.*worker \([0-9]\).*/\1 \2/p' "$(err two)" | sort -u)
is "$(echo "$W" | wc -l | tr -d ' ') $(echo "$W" | cut -c1 | sort -u | tr -d '\n') $(echo "$W" | cut -c3 | sort -u | tr -d '\n')" \
    "6 abcdef 01" "  -v: each host:port fetched by exactly one worker, both workers used"
is "$(grep -c 'worker [0-9]' "$(err two)")" 10000 "  -v names a worker for every request"

# --- 2. --ordered from a pipe, three workers --------------------------------------------------------
urls 3000 /x >"$T/ord.urls"
RUN_STDIN=$T/ord.urls run ord fetch -q --procs 3 -c 30 --ordered $RES -i -
is "$RC $(jl "$(out ord)" "[r['id'] for r in rows] == list(range(3000))")" "0 true" \
    "--ordered --procs 3 from a pipe: ids in input order exactly"

# --- 3. --procs 1 is the one-process path ---------------------------------------------------------
urls 500 /x >"$T/p1.urls"
run p1 fetch -q --procs 1 $RES -i "$T/p1.urls"
run p0 fetch -q $RES -i "$T/p1.urls"
is "$(jl "$(out p1)" "sorted((r['id'], r['url']) for r in rows) == sorted((r['id'], r['url']) for r in other)" other="$(out p0)") $(wc -l <"$(out p1)" | tr -d ' ')" \
    "true 500" "--procs 1: the same ids and URLs as without --procs"

# --- 4. a bad line ----------------------------------------------------------------------------------
{ head -n 100 "$T/p1.urls"; echo 'not a url'; tail -n 100 "$T/p1.urls"; } >"$T/bad.urls"
run bad fetch -q --procs 2 $RES -i "$T/bad.urls"
is "$RC $(jl "$(out bad)" "(len(rows), [(r['id'], r['error']['kind']) for r in rows if not r['ok']], sorted(r['id'] for r in rows) == list(range(201)))")" \
    '1 [201, [[100, "input"]], true]' "a bad line with --procs 2: one result of kind input (worker 0's), exit 1"

# --- 5. SIGINT mid-run, then --resume ---------------------------------------------------------------
urls 10000 /lim/x >"$T/lim.urls"
: >"$LOG"
: >"$T/int.out"
"$SPATE_BIN" fetch -q --procs 2 -c 40 $RES -i "$T/lim.urls" >"$T/int.out" 2>"$T/int.err" </dev/null &
PID=$!
on_exit "kill -KILL $PID 2>/dev/null"
i=0
while [ "$(wc -l <"$T/int.out")" -lt 1500 ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
kill -INT $PID
wait $PID
RC1=$?
N1=$(wc -l <"$T/int.out" | tr -d ' ')
is "$RC1 $([ "$N1" -ge 1500 ] && [ "$N1" -lt 10000 ] && echo mid-run)" "130 mid-run" "SIGINT to the parent part way: exit 130 after some ($N1) of 10,000 lines"
jl_schema "$T/int.out" "  every line whole"
sleep 0.3 # nginx logs a request when it ends
is "$("$PY" - "$LOG" "$T/int.out" <<'PYEOF'
import json, sys
served = {int(l.split()[0].rsplit("=", 1)[1]) for l in open(sys.argv[1]) if l.split()[2] == "200"}
have = {r["id"] for r in map(json.loads, open(sys.argv[2]))}
print(len(served) > 0, sorted(served - have)[:5])
PYEOF
)" "True []" "  every URL nginx served has its line"
sanitizer_clean "$T/int.err" "  no sanitizer report from the parent or the workers"
cp "$T/int.out" "$T/int.first"
run resume fetch -q --procs 2 -c 40 $RES -i "$T/lim.urls" --resume "$T/int.out"
cat "$(out resume)" >>"$T/int.out"
is "$RC $(jl "$T/int.out" "(sorted(r['id'] for r in rows if r['ok']) == list(range(10000)), len(set(r['id'] for r in rows if r['ok'])))")" \
    "0 [true, 10000]" "--resume --procs 2 after it: the union holds every id ok exactly once"

# --- 6. a worker killed: every request still gets exactly one line --------------------------------
# kill_run NAME OPTS...: fetch the 10,000 /lim/ URLs (-v: the worker of each request on stderr),
# SIGKILL the first worker once 500 lines are out; sets RCK and VICTIM. The parent must end by
# itself (bounded wait).
kill_run() {
    _n=$1
    shift
    : >"$T/$_n.out"
    "$SPATE_BIN" fetch -v --procs 2 -c 40 "$@" $RES -i "$T/lim.urls" >"$T/$_n.out" 2>"$T/$_n.err" </dev/null &
    PID=$!
    on_exit "kill -KILL $PID 2>/dev/null"
    i=0
    while [ "$(wc -l <"$T/$_n.out")" -lt 500 ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
    VICTIM=$(pgrep -P $PID | head -n 1)
    kill -KILL "$VICTIM"
    i=0
    while kill -0 $PID 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
    kill -KILL $PID 2>/dev/null
    wait $PID
    RCK=$?
    sleep 0.3 # nginx logs a request when it ends
}
# kill_check NAME ORDERED: the checks of one killed run, in a python3 line: [ids once (in order
# for ORDERED), whole lines, every failure canceled naming the dead worker, the survivor's hosts
# all ok, the dead worker's hosts the only failed ones, ok lines served by nginx, summary = lines]
kill_check() {
    "$PY" - "$T/$1.out" "$T/$1.err" "$LOG" "$VICTIM" "$2" <<'PYEOF'
import json, re, sys
out, err, log, victim, ordered = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5] == "1"
rows = [json.loads(l) for l in open(out)]
ids = [r["id"] for r in rows]
errt = open(err).read()
m = re.search(r"worker (\d) \(pid %s\) ended without its summary" % victim, errt)
dead = m.group(1) if m else "?"
host = lambda r: re.search(r"h=([a-f])&", r["url"]).group(1)
# the worker of each host, from -v (the requests a worker fetched name it)
owner = {}
for l in errt.splitlines():
    v = re.search(r"h=([a-f])&i=\d+ .*worker (\d)", l)
    if v: owner[v.group(1)] = v.group(2)
bad = [r for r in rows if not r["ok"]]
why = "worker %s (pid %s) was killed by signal 9" % (dead, victim)
served = {int(l.split()[0].rsplit("=", 1)[1]) for l in open(log) if l.split()[2] == "200"}
s = re.search(r"(\d+) requests, (\d+) ok, (\d+) failed", errt)
k = re.search(r"failures by kind: canceled (\d+)$", errt, re.M)
print(json.dumps([
    ids == list(range(10000)) if ordered else sorted(ids) == list(range(10000)),
    dead != "?",
    len(bad) > 0 and all(r["error"]["kind"] == "canceled" and why in r["error"]["message"] for r in bad),
    all(r["ok"] for r in rows if owner.get(host(r)) not in (None, dead)),
    sorted({host(r) for r in bad}) == sorted(h for h, w in owner.items() if w == dead),
    all(r["id"] in served for r in rows if r["ok"]),
    bool(s) and [int(x) for x in s.groups()] == [10000, len(rows) - len(bad), len(bad)] and bool(k) and int(k.group(1)) == len(bad),
]))
PYEOF
}
# kill_truth NAME: the canceled lines against what nginx saw (any status: the dead worker's
# connections were cut): [canceled requests nginx saw > 0, none of them said "never sent", all of
# them say "may have reached the server", some said "never sent", every canceled line says one]
kill_truth() {
    "$PY" - "$T/$1.out" "$LOG" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
seen = {int(l.split()[0].rsplit("=", 1)[1]) for l in open(sys.argv[2])}
bad = {r["id"]: r["error"]["message"] for r in rows if not r["ok"]}
never = {i for i, m in bad.items() if m.endswith("the request was never sent")}
maybe = {i for i, m in bad.items() if m.endswith("the request may have reached the server")}
print(json.dumps([len(seen & set(bad)) > 0, not (seen & never), seen & set(bad) <= maybe,
                  len(never) > 0, never | maybe == set(bad)]))
print("%d canceled, nginx saw %d of them: %d say they may have reached the server, %d never sent" %
      (len(bad), len(seen & set(bad)), len(maybe), len(never)), file=sys.stderr)
PYEOF
}
: >"$LOG"
kill_run kill
is "$RCK" 1 "a worker killed by SIGKILL mid-run: the parent ends by itself, exit 1"
like "$(cat "$T/kill.err")" "worker [01] \\(pid $VICTIM\\) ended without its summary \\(worker [01] \\(pid $VICTIM\\) was killed by signal 9" "  the message names the dead worker and its signal"
jl_schema "$T/kill.out" "  the lines written are whole"
is "$(kill_check kill 0)" '[true, true, true, true, true, true, true]' \
    "  every id once; each line of a request the dead worker took says so (kind canceled); the other worker's hosts all ok; the summary counts them"
is "$(kill_truth kill 2>"$T/truth.txt")" '[true, true, true, true, true]' \
    "  nginx's log: no request it saw is said never sent; each canceled one it saw may have reached it"
diag "$(cat "$T/truth.txt")"
sleep 0.3
: >"$LOG"
kill_run killo --ordered
is "$RCK $(kill_check killo 1)" '1 [true, true, true, true, true, true, true]' \
    "--ordered with a worker killed: exit 1, ids 0..9999 in input order, the dead worker's requests canceled"
is "$(kill_truth killo 2>"$T/truth.txt")" '[true, true, true, true, true]' \
    "  --ordered, nginx's log: no request it saw is said never sent; each canceled one it saw may have reached it"
diag "$(cat "$T/truth.txt")"

# --- 8. a pipe streams: results while the producer still holds the pipe open --------------------
# The producer (lib/pipe_stream.py) writes 100 URLs, then waits with the pipe open until their 100
# results are out (10 s at most), then writes 100 more and closes: the first 100 must come while
# the workers have no more input and no end of it (a wait on the results, not a fixed pause).
awk -v p="$P" 'BEGIN { for (i = 0; i < 200; i++) printf "http://%s.test:%d/x?i=%d\n", substr("abcdef", i % 6 + 1, 1), p, i }' >"$T/stream.urls"
"$PY" "$TAP_LIB/pipe_stream.py" --batch 100 --batch 100 "$T/stream.urls" -- \
    "$SPATE_BIN" fetch -q --procs 2 -c 8 $RES -i - >"$T/producer.txt" 2>"$T/producer.err"
is "$(cut -d ' ' -f 1-4 "$T/producer.txt")" "0 200 streamed True" \
    "--procs 2 from a pipe: the first 100 results are out while the producer still holds the pipe open; all 200 at the end (slowest $(cut -d ' ' -f 5 "$T/producer.txt") s)"

# --- 9. 10,000 URLs through a pipe -----------------------------------------------------------------
cat "$T/all.urls" | "$SPATE_BIN" fetch -q --procs 2 -c 20 $RES -i - >"$T/pipe.out" 2>"$T/pipe.err"
is "$? $(jl "$T/pipe.out" "(len(rows), sorted(r['id'] for r in rows) == list(range(10000)), all(r['ok'] and r['url'].endswith('&i=%d' % r['id']) for r in rows))")" \
    '0 [10000, true, true]' "10,000 URLs piped through stdin, --procs 2: every id once, each ok with its URL"
jl_schema "$T/pipe.out" "  every line whole"
cat "$T/all.urls" | "$SPATE_BIN" fetch -q --procs 2 -c 20 --ordered $RES -i - >"$T/pipeo.out" 2>"$T/pipeo.err"
is "$? $(jl "$T/pipeo.out" "[r['id'] for r in rows] == list(range(10000))")" '0 true' \
    "  --ordered: ids 0..9999 in input order exactly"
cat "$T/kill.err" "$T/killo.err" "$T/pipe.err" "$T/pipeo.err" >"$T/san.err"
sanitizer_clean "$T/san.err" "  no sanitizer report from the killed, piped and ordered runs (parent and workers)"

# --- 10. memory bounded under --ordered: a slow first request holds the order ------------------
# The first line waits 5 s at the test server; the rest go to nginx, over both workers. The
# parent must not keep the lines that are ahead of the first (its reorder window is bounded, and
# a worker that is ahead stalls on its pipe): peak RSS (GNU time: the parent and its workers) for
# 200,000 lines at most 1.3x that for 20,000.
srv_start "$T" || { echo "Bail out! http_server.py did not start"; exit 1; }
measure() { # NAME N: sets RSS (peak KB)
    { echo "$SRV_URL/case/slow/5000/first"; urls "$(($2 - 1))" /x; } >"$T/$1.urls"
    cat "$T/$1.urls" | /usr/bin/time -o "$T/$1.rss" -f %M timeout -k 5 300 "$SPATE_REL" fetch -q \
        --procs 2 -c 8 --ordered $RES -i - >"$T/$1.out" 2>"$T/$1.err"
    _rc=$?
    RSS=$(tail -n 1 "$T/$1.rss")
    is "$_rc $(jl "$T/$1.out" "'yes' if [r['id'] for r in rows] == list(range($2)) and all(r['ok'] for r in rows) else '%d lines, %d ok' % (len(rows), sum(1 for r in rows if r['ok']))")" \
        "0 yes" "--ordered, $2 lines from a pipe, the first one slow: exit 0, ids in order, all ok"
    diag "$1: $2 lines: peak RSS $RSS KB"
}
measure small 20000
RSS_SMALL=$RSS
measure big 200000
RSS_BIG=$RSS
at_most_times "$RSS_BIG" "$RSS_SMALL" 1.3 "  peak RSS for 200,000 lines $RSS_BIG KB vs 20,000 lines $RSS_SMALL KB"

# --- 11. the progress line over a terminal -----------------------------------------------------------
# 8 requests of 1.5 s each on 8 host names (-c 16: 8 per worker, so all 8 are in flight whatever
# the split): the parent draws one line from the workers' figures.
PRES=
for i in 0 1 2 3 4 5 6 7; do
    PRES="$PRES --resolve p$i.test:$SRV_PORT:127.0.0.1"
    echo "http://p$i.test:$SRV_PORT/case/slow/1500/p-$i"
done >"$T/p.txt"
$PY "$TAP_LIB/pty_term.py" --cols 200 "$T/p.json" -- "$SPATE_BIN" fetch --procs 2 -c 16 $PRES -i "$T/p.txt"
# frames LOG EXPR: EXPR over f, the progress frames (tests/lib/progress_frames.py: x[0] time,
# x[1] done, x[2] total, x[3] per cent, x[6] in flight), t0 (the first frame's time: the parent
# draws it as it starts) and st, the exit status.
frames() { "$PY" "$TAP_LIB/progress_frames.py" "$1" "$2"; }
is "$(frames "$T/p.json" st)" 0 "progress over a pty with --procs 2: exit 0"
# The workers' figures reach the parent once each worker has read its share and started it, which
# under a loaded machine may be after the first frames: before any answer (the frames with 0 done:
# no request can end before 1.5 s), in flight may only rise (never fall), and it reaches 8 (the 8
# requests are all sent at once, 1.5 s before the first answer). Times count from the first frame,
# not from the recorder's start: on a loaded machine the exec alone once took a second.
BEFORE="[x for x in f if x[1] == 0]"
is "$(frames "$T/p.json" "[len(set(x[0] for x in $BEFORE if 0.2 < x[0] - t0 < 1.3)) >= 3, sorted(set((x[1], x[2], x[3]) for x in f if x[0] - t0 < 1.3)), [x[6] for x in $BEFORE] == sorted(x[6] for x in $BEFORE), ([x[6] for x in $BEFORE] or [None])[-1]]")" \
    '[true, [[0, 8, 0.0]], true, 8]' "  redrawn on a timer before any answer: 0/8 done, 0.0%; in flight rises to 8 (the workers' sum) and never falls"
is "$(frames "$T/p.json" "(f[-1][1], f[-1][2], f[-1][3], f[-1][6]) if f else 'no frame'")" '[8, 8, 100.0, 0]' \
    "  last frame: 8/8 done, 100.0%, none in flight"
SCR=$($PY "$TAP_LIB/pty_term.py" screen "$T/p.json")
is "$(printf '%s\n' "$SCR" | grep -c '^{"id":') $(printf '%s\n' "$SCR" | grep '"id"' | "$PY" -c 'import sys, json; print(sum(1 for l in sys.stdin if json.loads(l)["ok"]))')" "8 8" \
    "  screen: 8 whole result lines, each alone on its line"
unlike "$SCR" '[0-9]+/[0-9]+ done' "  screen: no progress text left (cleared before results and at the end)"
like "$(printf '%s\n' "$SCR" | tail -n 1)" '^spate fetch: 8 requests, 8 ok, 0 failed' "  screen: the summary is the last line"

# --- 7. usage ----------------------------------------------------------------------------------------
run toomany fetch --procs 8 -c 4 http://a.test/
is "$RC" 2 "--procs 8 -c 4: refused, exit 2"
like "$(cat "$(err toomany)")" '\-\-procs 8.*-c 4' "  the message names both options"
