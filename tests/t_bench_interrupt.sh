#!/bin/sh
# t_bench_interrupt.sh: `spate bench` stopped by a signal and watched on a terminal. SIGINT in the
# measured period prints the report for the time that ran (its counts agree with what the server
# received) and exits 130, promptly; SIGTERM exits 143; SIGINT during set-up (a listener that never
# accepts) reports the set-up so far. On a terminal (a pty) the progress line is redrawn every
# second and cleared before the report; the figures it shows are the run's.
. "$(dirname "$0")/lib/tap.sh"
require_spate
plan 27

tmpdir T

J() { jl "$T/$1.out" "(lambda j: $2)(rows[0]) if len(rows) == 1 else 'got %d stdout lines' % len(rows)"; }
C() { jl "$T/$1.count.json" "(lambda c: $2)(rows[-1])"; }
count_start() {
    _s=$1; shift
    CS_LOG=$T/$_s.count.json
    py_start "$T/$_s" count_server.py --log "$CS_LOG" "$@" || return 1
    CS_PID=$PY_PID CS_URL=http://127.0.0.1:$PY_PORT/
}
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }

# sig_run NAME SIG AFTER ARGS...: starts spate ARGS in the background (stdout NAME.out, stderr
# NAME.err), sends SIG after AFTER seconds and waits at most 10 s for it to exit. Sets RC, T_RUN
# (seconds from start to the signal), T_EXIT (from the signal to the exit) and T_LIFE (from before
# the exec to after the exit was seen: spate's whole life, whatever the machine's load).
sig_run() {
    _n=$1 _sig=$2 _after=$3; shift 3
    _t0=$(now)
    "$SPATE_BIN" "$@" </dev/null >"$T/$_n.out" 2>"$T/$_n.err" &
    _p=$!
    on_exit "kill -KILL $_p 2>/dev/null"
    sleep "$_after"
    _tk=$(now)
    kill -"$_sig" "$_p"
    _i=0
    while kill -0 "$_p" 2>/dev/null && [ $_i -lt 200 ]; do sleep 0.05; _i=$((_i + 1)); done
    _te=$(now)
    kill -KILL "$_p" 2>/dev/null
    wait "$_p"
    RC=$?
    T_RUN=$(secs "$_t0" "$_tk")
    T_EXIT=$(secs "$_tk" "$_te")
    T_LIFE=$(secs "$_t0" "$_te")
}

# --- SIGINT in the measured period -------------------------------------------------------------------
# The server answers after 2 ms: with -c 8 a few thousand requests a second, 8 in flight at any time.
count_start int --delay-ms 2 || { echo "Bail out! count_server.py did not start"; exit 1; }
sig_run int INT 1.5 bench -c 8 -d 30 --json "$CS_URL"
kill_wait "$CS_PID"
diag "SIGINT after ${T_RUN}s, exit ${T_EXIT}s later: $(J int "'%d requests in %.3f s (sent %d, unfinished %d)' % (j['requests'], j['duration'], j['sent'], j['unfinished'])"); the server got $(C int "c['requests']")"
is "$RC" 130 "SIGINT: exit status 130"
lt "$T_EXIT" 1; ok $? "SIGINT: exits promptly (${T_EXIT}s after the signal)"
is "$(J int "(j['interrupted'], j['signal'], j['measured'])")" '[true, "SIGINT", true]' "SIGINT: the report says interrupted by SIGINT"
# The period runs from the end of set-up to the signal as spate saw it, so it lies within spate's
# life (T_LIFE: the time to the signal plus the prompt exit, not -d 30). Not T_RUN alone: spate may
# see the signal later than this shell sent it by more than it took to start (~10 ms unloaded).
is "$(J int "0.5 < j['duration'] <= $T_LIFE")" true "SIGINT: the measured period ends at the signal ($(J int "j['duration']") s, signal after ${T_RUN}s, exit after ${T_LIFE}s)"
is "$(J int "j['requests'] > 100 and j['requests'] == j['responses'] and j['failed'] == 0")" true \
    "SIGINT: the requests that ran are reported, none as failed ($(J int "j['requests']"))"
is "$(J int "j['requests'] <= $(C int "c['requests']") <= j['sent']")" true \
    "SIGINT: the server received between the reported requests and those sent ($(J int "j['requests']") <= $(C int "c['requests']") <= $(J int "j['sent']"))"
is "$(J int "j['sent'] - j['requests'] == j['unfinished'] <= 8")" true \
    "SIGINT: the requests cut off are reported as unfinished, at most -c ($(J int "j['unfinished']"))"
is "$(J int "abs(j['rps'] - j['responses'] / j['duration']) <= 1e-3 * j['rps']")" true "SIGINT: rps over the time that ran"
sanitizer_clean "$T/int.err" "SIGINT: no sanitizer report"

count_start intt --delay-ms 2 || { echo "Bail out! count_server.py did not start"; exit 1; }
sig_run intt INT 1 bench -c 4 -d 30 "$CS_URL"
kill_wait "$CS_PID"
is "$RC" 130 "SIGINT, text report: exit 130"
like "$(cat "$T/intt.out")" 'interrupted +by SIGINT after [0-9.]+(ms|s) of measuring' "SIGINT, text: says so"
# the period ran from the end of set-up to the signal: within spate's life (T_LIFE, as above)
D=$(sed -n 's/.*requests \{1,\}[0-9,]\{1,\} in \([0-9.]\{1,\}\) s.*/\1/p' "$T/intt.out" | head -n 1)
is "$(awk -v d="${D:-x}" -v r="$T_LIFE" 'BEGIN { print (d ~ /^[0-9.]+$/ && d > 0 && d <= r) ? "yes" : "no" }')" yes \
    "SIGINT, text: the report of the time that ran (${D:-none} s, signal after ${T_RUN}s, exit after ${T_LIFE}s)"

count_start term --delay-ms 2 || { echo "Bail out! count_server.py did not start"; exit 1; }
sig_run term TERM 1 bench -c 4 -R 500 -d 30 --json "$CS_URL"
kill_wait "$CS_PID"
is "$RC" 143 "SIGTERM (open model): exit status 143"
is "$(J term "(j['interrupted'], j['signal'], j['model'])")" '[true, "SIGTERM", "open"]' "SIGTERM: the report says so"
is "$(J term "j['requests'] <= $(C term "c['requests']") <= j['sent'] and j['requests'] > 100")" true \
    "SIGTERM: the server received between the reported and the sent requests"

# --- SIGINT during set-up ---------------------------------------------------------------------------
# A listener with a backlog of 0 that never accepts: the kernel completes one or two handshakes,
# the other connections wait for a SYN-ACK that does not come. Set-up cannot finish.
"$PY" -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)
print(s.getsockname()[1], flush=True)
time.sleep(60)
' >"$T/deaf.port" &
DEAF_PID=$!
on_exit "kill_wait $DEAF_PID"
_i=0; while ! grep -q . "$T/deaf.port" && [ $_i -lt 100 ]; do sleep 0.05; _i=$((_i + 1)); done
sig_run setup INT 1.5 bench -c 20 -n 100 --connect-timeout 30 --json "http://127.0.0.1:$(head -n 1 "$T/deaf.port")/"
is "$RC" 130 "SIGINT during set-up: exit 130"
lt "$T_EXIT" 1; ok $? "SIGINT during set-up: exits promptly (${T_EXIT}s)"
is "$(J setup "(j['interrupted'], j['measured'], j['requests'], j['duration'])")" '[true, false, 0, 0.0]' \
    "SIGINT during set-up: reported as interrupted before measuring, no requests"
# set-up time: from spate's start to the signal as it saw it, within spate's life (T_LIFE)
is "$(J setup "0 <= j['connections_up'] < 20 == j['connections'] and 1.0 <= j['setup_seconds'] <= $T_LIFE")" true \
    "SIGINT during set-up: $(J setup "j['connections_up']") of 20 up, set-up time up to the signal ($(J setup "j['setup_seconds']") s, signal after ${T_RUN}s, exit after ${T_LIFE}s)"

# --- the progress line on a terminal -----------------------------------------------------------------
count_start prog --delay-ms 1 || { echo "Bail out! count_server.py did not start"; exit 1; }
"$PY" "$TAP_LIB/pty_run.py" "$T/prog.out" 20 "$SPATE_BIN" bench -c 4 -d 3.5 --json "$CS_URL" >"$T/prog.pty"
kill_wait "$CS_PID"
# P EXPR: EXPR over p = the pty record, d = the redraws [(t, text)], split at each "\r\033[K"
P() {
    "$PY" - "$T/prog.pty" "$1" <<'EOF'
import json, re, sys
p = json.load(open(sys.argv[1]))
# a redraw may arrive in several reads: split the whole stream, each redraw timed by the read
# that brought its start
whole, starts = "", []
for t, text in p["chunks"]:
    starts += [(len(whole) + m.start(), t) for m in re.finditer(re.escape("\r\x1b[K"), text)]
    whole += text
d = [(t, whole[i + 4:(starts[n + 1][0] if n + 1 < len(starts) else len(whole))])
     for n, (i, t) in enumerate(starts)]
print(json.dumps(eval(sys.argv[2])))
EOF
}
diag "progress redraws: $(P "[(t, x) for t, x in d]")"
is "$(P "p['rc']")" 0 "progress: the run under a terminal exits 0"
is "$(P "len([x for t, x in d if 'req/s' in x])")" 3 "progress: one line per second of the 3.5 s run (3)"
is "$(P "all(0.7 <= b[0] - a[0] <= 1.5 for a, b in zip(d, d[1:3]))")" true "progress: redrawn every second"
is "$(P "d[-1][1] == '' and ''.join(x for t, x in p['chunks']).endswith('\r\x1b[K')")" true \
    "progress: the line is cleared before the report (the terminal's last bytes)"
is "$(P "[re.match(r'(\d) s of 3\.5 s: (\d+) responses, (\d+) req/s, 0 failed, (\d) in flight$', x).group(1) for t, x in d[:3]]")" '["1", "2", "3"]' \
    "progress: elapsed seconds of the duration, responses, req/s, failures and in flight"
N3=$(P "int(re.match(r'3 s of 3\.5 s: (\d+) responses', d[2][1]).group(1))")
is "$(jl "$T/prog.out" "rows[0]['responses'] * 3 / 3.5 * 0.8 <= $N3 <= rows[0]['responses']")" true \
    "progress: responses at 3 s ($N3) about 3/3.5 of the final count ($(jl "$T/prog.out" "rows[0]['responses']"))"
is "$(grep -c "$(printf '\033')" "$T/prog.out")" 0 "progress: nothing of it on stdout"

sanitizer_clean "$T/term.err" "no sanitizer report (SIGTERM run)"
done_testing
