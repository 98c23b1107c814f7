#!/bin/sh
# t_soak.sh: `spate fetch` against a server that fails 20% of requests at random
# (tests/lib/flaky_server.py: resets, 503s, stalls past --timeout, truncated bodies).
#  1. truncated bodies alone: each ends at once as a `reset` (the close is seen, not waited for
#     until --timeout) and is not retried (response bytes had arrived);
#  2. bodies delimited by the close: each is ok at once;
#  3. the soak: 20,000 requests, --retries 5: exactly 20,000 lines, ids 0..19999 once each, each ok
#     or an error of kind reset/timeout/http with a matching message, each result consistent with
#     what the server logged for that URL; fd count and RSS of the spate process sampled every
#     0.5 s: fds <= -c + 20, no RSS growth after 25% of the run;
#  4. valgrind memcheck on 2,000 requests: no error, nothing definitely lost, no fd left open.
# Runs the release binary ($SPATE_REL, default ./spate; built with `make spate` when missing)
# for speed. SOAK_N / SOAK_VG_N change the request counts.
. "$(dirname "$0")/lib/tap.sh"
ROOT=$(cd "$TESTS_DIR/.." && pwd)
SPATE_REL=${SPATE_REL:-$ROOT/spate}
if [ ! -x "$SPATE_REL" ]; then
    make -C "$ROOT" --no-print-directory spate >/dev/null 2>&1 || skip_all "cannot build the release binary"
fi
[ -x "$SPATE_REL" ] || skip_all "release binary $SPATE_REL not built"
SOAK_N=${SOAK_N:-20000}
SOAK_VG_N=${SOAK_VG_N:-2000}
CONC=64
plan 20

tmpdir T
FLAKY=$TAP_LIB/flaky_server.py

# flaky_start NAME ARGS...: starts flaky_server.py logging to $T/NAME.jsonl; sets FPORT, FPID.
flaky_start() {
    _n=$1; shift
    py_start "$T/$_n" "$FLAKY" "$T/$_n.jsonl" "$@" || { echo "Bail out! flaky_server.py did not start"; exit 1; }
    FPID=$PY_PID FPORT=$PY_PORT
}
# urls N FILE: N distinct URLs /0 .. /N-1 on the flaky server.
urls() { "$PY" -c 'import sys
for i in range(int(sys.argv[1])): print("http://127.0.0.1:%s/%d" % (sys.argv[2], i))' "$1" "$FPORT" >"$2"; }

# check NAME EXPR: evaluates a Python expression over rows (the JSON Lines output $T/NAME.out),
# srv (the server's request log records), stats (its exit stats) and seen (path -> the server's
# outcomes for it, in order); prints the value.
check() {
    "$PY" - "$T/$1.out" "$T/$1.jsonl" "$2" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
srv, stats = [], {}
for l in open(sys.argv[2]):
    r = json.loads(l)
    if r.get("event") == "exit": stats = r["stats"]
    else: srv.append(r)
seen = {}
for x in srv: seen.setdefault(x["path"], []).append(x["outcome"])
v = eval(sys.argv[3])
print(json.dumps(v) if not isinstance(v, str) else v)
EOF
}

FETCH_OPTS="--retries 5 --backoff 0.01 --backoff-max 0.05 --timeout 1 -c $CONC"

# --- 1. truncated bodies: reset at once, never retried -------------------------------------------
flaky_start trunc --fail 1 --kinds truncate
urls 200 "$T/trunc.urls"
timeout -k 5 60 "$SPATE_REL" fetch -q $FETCH_OPTS -i "$T/trunc.urls" >"$T/trunc.out" 2>"$T/trunc.err"
kill_wait "$FPID"
is "$(check trunc "sorted(set((r['error'] or {}).get('kind') for r in rows))")" '["reset"]' \
    "truncated bodies: every result is an error of kind reset"
is "$(check trunc "[r['id'] for r in rows if r['attempts'] != 1][:10]")" '[]' \
    "truncated bodies: not retried (attempts == 1: response bytes had arrived)"
is "$(check trunc "stats['requests']")" 200 "truncated bodies: the server got each request once"
is "$(check trunc "[(r['id'], r['time']['total']) for r in rows if r['time']['total'] > 0.5][:5]")" '[]' \
    "truncated bodies: the close is seen at once (no result waits for --timeout 1)"

# --- 2. bodies delimited by the close ----------------------------------------------------------
flaky_start eof --fail 1 --kinds eof_body
urls 200 "$T/eof.urls"
timeout -k 5 60 "$SPATE_REL" fetch -q --timeout 1 -c $CONC -i "$T/eof.urls" >"$T/eof.out" 2>"$T/eof.err"
kill_wait "$FPID"
is "$(check eof "[(r['id'], r['error']) for r in rows if not r['ok'] or r['bytes'] != len('ok /%d' % r['id']) + 1][:3]")" \
    '[]' "close-delimited bodies: all 200 ok with the whole body"
is "$(check eof "[(r['id'], r['time']['total']) for r in rows if r['time']['total'] > 0.5][:5]")" '[]' \
    "close-delimited bodies: the close ends each at once (no result waits for --timeout 1)"

# --- 3. the soak --------------------------------------------------------------------------------
flaky_start soak --fail 0.2 --seed 7 --stall 3
urls "$SOAK_N" "$T/soak.urls"
# sample.py: runs spate, samples /proc/PID/fd and VmRSS every 0.5 s with the output lines so far.
cat >"$T/sample.py" <<'EOF'
import json, os, subprocess, sys, time
out, err, samples_f, limit = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
period = float(os.environ.get("SOAK_SAMPLE", "0.5"))
cmd = sys.argv[5:]
t0 = time.monotonic()
with open(out, "wb") as fo, open(err, "wb") as fe:
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=fo, stderr=fe)
samples, lines, pos = [], 0, 0
def sample():
    global lines, pos
    try:
        fds = len(os.listdir("/proc/%d/fd" % p.pid))
        rss = 0
        for l in open("/proc/%d/status" % p.pid):
            if l.startswith("VmRSS:"): rss = int(l.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return
    with open(out, "rb") as f:
        f.seek(pos); chunk = f.read(); pos += len(chunk); lines += chunk.count(b"\n")
    if rss: samples.append({"t": round(time.monotonic() - t0, 3), "fds": fds, "rss_kb": rss, "lines": lines})
rc = None
while rc is None:
    sample()
    try:
        rc = p.wait(timeout=period)
    except subprocess.TimeoutExpired:
        if time.monotonic() - t0 > limit:
            p.kill(); rc = p.wait(); rc = 137
json.dump({"rc": rc, "wall": round(time.monotonic() - t0, 3), "samples": samples}, open(samples_f, "w"))
EOF
# shellcheck disable=SC2086
"$PY" "$T/sample.py" "$T/soak.out" "$T/soak.err" "$T/soak.samples" 150 \
    "$SPATE_REL" fetch -q $FETCH_OPTS -i "$T/soak.urls"
kill_wait "$FPID"
sval() { "$PY" -c 'import json, sys; s = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$T/soak.samples" "$1"; }
SOAK_RC=$(sval "s['rc']")
WALL=$(sval "s['wall']")
ok "$([ "$SOAK_RC" = 0 ] || [ "$SOAK_RC" = 1 ]; echo $?)" "soak: spate exits 0 or 1 (got $SOAK_RC)"
is "$(wc -l <"$T/soak.out" | tr -d ' ')" "$SOAK_N" "soak: exactly $SOAK_N output lines"
is "$(check soak "sorted(r['id'] for r in rows) == list(range($SOAK_N))")" true \
    "soak: ids 0..$((SOAK_N - 1)), each exactly once"
# the result's kind and message, as the spec names them
GOOD_RESULT='(r["ok"] and r["error"] is None and r["status"] == 200 and r["bytes"] == len("ok /%d" % r["id"]) + 1) or (not r["ok"] and r["error"] is not None and (
    (r["error"]["kind"] == "reset" and any(w in r["error"]["message"] for w in ("reset", "closed"))) or
    (r["error"]["kind"] == "timeout" and r["error"]["message"].startswith("timeout") and " 1 s" in r["error"]["message"]) or
    (r["error"]["kind"] == "http" and r["status"] == 503 and "503" in r["error"]["message"])))'
is "$(check soak "[(r['id'], r['status'], r['error']) for r in rows if not ($GOOD_RESULT)][:3]")" '[]' \
    "soak: each result is ok (200, whole body) or reset/timeout/http with a matching message"
is "$(check soak "[(r['id'], r['attempts'], seen.get('/%d' % r['id'])) for r in rows if not (r['attempts'] <= len(seen.get('/%d' % r['id'], [])) <= r['attempts'] + 1)][:3]")" \
    '[]' "soak: attempts agree with the server's log (one request each, plus at most one stale re-send)"
FINAL='{"ok": "ok", "503": "http", "truncate": "reset", "rst": "reset", "stall": "timeout"}'
is "$(check soak "[(r['id'], seen['/%d' % r['id']], r['error']) for r in rows if '/%d' % r['id'] in seen and $FINAL[seen['/%d' % r['id']][-1]] != ((r['error'] or {}).get('kind') or 'ok')][:3]")" \
    '[]' "soak: each result matches the server's last answer (ok/503->http/truncate->reset/rst->reset/stall->timeout)"
is "$(check soak "[(p, o) for p, o in seen.items() if 'truncate' in o[:-1]][:3]")" \
    '[]' "soak: no request retried after a truncated body (response bytes had arrived)"
FAILRATE=$(check soak "round(1 - stats['outcomes']['ok'] / stats['requests'], 3)")
cmp_num "$(check soak "int(0.1 < $FAILRATE < 0.3)")" -eq 1 "soak: the server failed about 20% of requests ($FAILRATE)"
MAXFD=$(sval "max(x['fds'] for x in s['samples'])")
NS=$(sval "len(s['samples'])")
cmp_num "$MAXFD" -le $((CONC + 20)) "soak: at most -c + 20 = $((CONC + 20)) fds open (max $MAXFD over $NS samples)"
RSS25=$(sval "([x['rss_kb'] for x in s['samples'] if x['lines'] >= $SOAK_N // 4] or [0])[0]")
RSSLAST=$(sval "max([x['rss_kb'] for x in s['samples'] if x['lines'] >= $SOAK_N * 3 // 4] or [0])")
if [ "$RSS25" -gt 0 ] && [ "$RSSLAST" -gt 0 ]; then
    cmp_num "$((RSSLAST * 2))" -le "$((RSS25 * 3))" \
        "soak: no memory growth (RSS in the last quarter $RSSLAST KiB <= 1.5 x $RSS25 KiB at 25%)"
else
    ok 1 "soak: no memory growth (too few samples: at 25% $RSS25 KiB, last quarter $RSSLAST KiB)"
fi
diag "soak: $SOAK_N requests in $WALL s ($(echo "$SOAK_N $WALL" | awk '{printf "%.0f", $1 / $2}') req/s), exit $SOAK_RC" \
    "soak: server: $(check soak "stats['requests']") requests ($(check soak "', '.join('%s %d' % kv for kv in stats['outcomes'].items())")), failure rate $FAILRATE" \
    "soak: results: $(check soak "(lambda c: ', '.join('%s %d' % kv for kv in sorted(c.items())))(__import__('collections').Counter((r['error'] or {}).get('kind', 'ok') for r in rows))")" \
    "soak: attempts: $(check soak "(lambda c: ', '.join('%d:%d' % kv for kv in sorted(c.items())))(__import__('collections').Counter(r['attempts'] for r in rows))")" \
    "soak: fds max $MAXFD; RSS at 25% $RSS25 KiB, last-quarter max $RSSLAST KiB; $NS samples"

# --- 4. valgrind on a smaller run ---------------------------------------------------------------
if command -v valgrind >/dev/null 2>&1; then
    flaky_start vg --fail 0.2 --seed 11 --stall 3
    urls "$SOAK_VG_N" "$T/vg.urls"
    _t0=$(date +%s)
    # shellcheck disable=SC2086
    timeout -k 5 150 valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
        --error-exitcode=99 --track-fds=yes --log-file="$T/vg.log" \
        "$SPATE_REL" fetch -q $FETCH_OPTS -i "$T/vg.urls" >"$T/vg.out" 2>"$T/vg.err"
    VG_RC=$?
    VG_WALL=$(( $(date +%s) - _t0 ))
    kill_wait "$FPID"
    ok "$([ "$VG_RC" = 0 ] || [ "$VG_RC" = 1 ]; echo $?)" "valgrind: exit status 0 or 1, not 99 (got $VG_RC)"
    ok "$(grep -q 'definitely lost' "$T/vg.log"; [ $? = 1 ]; echo $?)" "valgrind: nothing definitely lost"
    # --track-fds lists every fd open at exit beyond stdin/stdout/stderr ("Open file descriptor N").
    OPENFD=$(grep -c 'Open .*file descriptor' "$T/vg.log")
    INHERITED=$(grep -c 'inherited from parent' "$T/vg.log")
    is "$((OPENFD - INHERITED))" 0 "valgrind: no fd left open by spate at exit"
    is "$(wc -l <"$T/vg.out" | tr -d ' ')" "$SOAK_VG_N" "valgrind: exactly $SOAK_VG_N output lines"
    diag "valgrind: $SOAK_VG_N requests in $VG_WALL s, exit $VG_RC, $(grep -c . "$T/vg.log") log lines"
    [ "$VG_RC" = 99 ] || [ "$OPENFD" -gt "$INHERITED" ] && diag "$(head -60 "$T/vg.log")"
else
    skip "valgrind not installed"; skip "valgrind not installed"; skip "valgrind not installed"
    skip "valgrind not installed"
fi
done_testing
