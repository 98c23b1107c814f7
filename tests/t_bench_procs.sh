#!/bin/sh
# t_bench_procs.sh: `spate bench --procs N` against real servers:
#   - --procs 2 -n 20000: exactly 20,000 requests at nginx (access log), the report says 20,000,
#     the workers' counts add up, the histogram holds every response;
#   - -R 400 -d 3 --procs 2 at arrival_server.py (which logs when each request arrived): one even
#     schedule: no second of the run more than 10% off 400, no burst in the first 100 ms, and the
#     two workers' requests interleave (the median gap between arrivals is the 2.5 ms slot, and
#     few are under 0.5 ms: two schedules of 200/s side by side would arrive in pairs);
#   - a worker killed with SIGKILL mid-run: named in the report, exit 1, within the run's time;
#     SIGINT to the parent: the workers stop, the merged report of what ran, exit 130;
#   - workers that cannot connect: reported per worker, exit 1;
#   - --pin: worker i runs on CPU i only; usage errors for impossible splits (exit 2).
. "$(dirname "$0")/lib/tap.sh"
. "$TAP_LIB/nginx.sh"
require_spate
plan 35

SPATE_TIMEOUT=40
tmpdir T shm
printf 'hello from nginx, spate bench --procs\n' >"$T/www_small"
nginx_start "$T" || { echo "Bail out! nginx did not start"; exit 1; }
cp "$T/www_small" "$T/www/small.txt"
U=$NGINX_URL
AL=$T/access.log

# J NAME EXPR: EXPR over j = the one JSON object run NAME printed on stdout.
J() { jl "$(out "$1")" "(lambda j: $2)(rows[0]) if len(rows) == 1 else 'got %d stdout lines' % len(rows)"; }
logged() { awk -v u="$1" '$1 == u' "$AL" | wc -l | tr -d ' '; }

# --- --procs 2 -n 20000 --------------------------------------------------------------------------
run n20k bench --procs 2 -n 20000 -c 8 --json "$U/small.txt"
diag "--procs 2 -n 20000 -c 8: ${ELAPSED}s, $(J n20k "'%.0f req/s' % j['rps']")"
is "$RC" 0 "-n 20000: exit 0"
is "$(logged /small.txt)" 20000 "-n 20000: nginx logged exactly 20,000 requests"
is "$(J n20k "(j['requests'], j['responses'], j['ok'], j['errors'], j['status'])")" \
    '[20000, 20000, 20000, 0, {"200": 20000}]' "-n 20000: the report says 20,000 requests, all 200"
is "$(J n20k "[(w['name'], w['requests'], w['connections'], w['connections_up'], w['lost']) for w in j['workers']]")" \
    '[["worker 0", 10000, 4, 4, null], ["worker 1", 10000, 4, 4, null]]' \
    "-n 20000: two workers of 10,000 requests and 4 connections each, none lost"
is "$(J n20k "sum(w['requests'] for w in j['workers']) == j['requests'] and sum(w['responses'] for w in j['workers']) == j['responses']")" \
    true "-n 20000: the workers' requests and responses add up to the report's"
is "$(J n20k "(j['histogram']['count'], j['latency']['count'], sum(c for i, c in j['histogram']['counts']))")" \
    '[20000, 20000, 20000]' "-n 20000: the histogram holds the 20,000 responses"
is "$(J n20k "(j['connections'], j['connections_up'], j['connections_established'], j['procs'], j['piece'])")" \
    '[8, 8, 8, 2, {"k": 0, "n": 1}]' "-n 20000: 8 connections up in all, procs 2, the whole test"
NC=$(awk '$1 == "/small.txt" {print $2}' "$AL" | sort -u | wc -l | tr -d ' ')
is "$NC" 8 "-n 20000: nginx saw 8 connections"
is "$(J n20k "abs(j['rps'] - j['responses'] / (j['period']['end'] - j['period']['start'])) < 0.01 * j['rps'] and abs(j['duration'] - (j['period']['end'] - j['period']['start'])) < 1e-5")" \
    true "-n 20000: the rate is the responses over the measured period (start to end)"
is "$(J n20k "[w['start'] for w in j['workers']] == [j['period']['start']] * 2 and j['period']['start_at'] == j['period']['start']")" \
    true "-n 20000: both workers began measuring at the one common start"
is "$(cat "$(err n20k)")" "" "-n 20000: nothing on stderr"

run text bench --procs 2 -n 2000 -c 4 "$U/small.txt?text"
like "$(cat "$(out text)")" 'workers +2: 1,000 \+ 1,000 requests' "text: the workers' line"
like "$(cat "$(out text)")" 'requests +2,000 in [0-9.]+ s: 2,000 responses, 0 errors' "text: 2,000 requests"
is "$(logged '/small.txt?text')" 2000 "text: nginx logged 2,000"

# --- one even schedule: -R 400 -d 3 --procs 2 ------------------------------------------------------
py_start "$T/arrival" arrival_server.py --log "$T/arrivals.log"
AU=http://127.0.0.1:$PY_PORT
run sched bench --procs 2 -R 400 -d 3 -c 8 --json "$AU/sched"
is "$RC:$(J sched "(j['requests'], j['errors'], [w['requests'] for w in j['workers']])")" "0:[1200, 0, [600, 600]]" \
    "-R 400 -d 3: 1,200 requests, 600 per worker, exit 0"
sleep 0.2
SCHED=$("$PY" - "$T/arrivals.log" "$(out sched)" <<'EOF'
import json, sys
t = sorted(float(l.split()[0]) for l in open(sys.argv[1]) if l.split()[2:] == ["/sched"])
j = json.load(open(sys.argv[2]))
start, rate, dur = j["period"]["start"], 400, 3
per = [sum(1 for x in t if start + i <= x < start + i + 1) for i in range(dur)]
head = sum(1 for x in t if x < start + 0.1)
gaps = sorted(b - a for a, b in zip(t, t[1:]))
close = sum(1 for g in gaps if g < 0.0005) / len(gaps)
med = gaps[len(gaps) // 2] if gaps else 0
bad = []
if len(t) != 1200: bad.append("server got %d requests" % len(t))
if any(abs(p - rate) > 0.1 * rate for p in per): bad.append("per second %s" % per)
if not 28 <= head <= 52: bad.append("%d in the first 100 ms (40 due)" % head)
if close > 0.15: bad.append("%.0f%% of arrivals closer than 0.5 ms" % (close * 100))
if not 0.002 <= med <= 0.003: bad.append("median gap %.2f ms, not the 2.5 ms slot" % (med * 1e3))
if t and t[0] < start - 0.001: bad.append("a request before the start")
print("per second %s, first 100 ms %d, median gap %.2f ms, gaps < 0.5 ms %.1f%%; %s" % (per, head, med * 1e3, close * 100, "; ".join(bad) or "ok"))
EOF
)
like "$SCHED" '; ok$' "-R 400 --procs 2: one even schedule at the server ($SCHED)"

# --- a worker killed with SIGKILL ------------------------------------------------------------------
# bg_spate NAME ARGS...: spate in the background under timeout(1); sets TO_PID (timeout's pid) and,
# once they exist, SP (the spate parent) and WORKERS (its children, lowest pid first).
bg_spate() {
    _n=$1; shift
    timeout -k 5 30 "$SPATE_BIN" "$@" >"$T/$_n.out" 2>"$T/$_n.err" &
    TO_PID=$!
    on_exit "kill $TO_PID 2>/dev/null"
    _i=0 SP= WORKERS=
    while [ $_i -lt 100 ]; do
        SP=$(pgrep -P "$TO_PID" | head -n 1)
        [ -n "$SP" ] && WORKERS=$(pgrep -P "$SP" | sort -n | tr '\n' ' ')
        case $WORKERS in *' '*' '*) break ;; esac
        sleep 0.05; _i=$((_i + 1))
    done
    WORKERS=${WORKERS% }
}
T0=$(date +%s.%N)
bg_spate kill bench --procs 2 -R 200 -d 4 -c 4 --json "$U/small.txt?kill"
sleep 1.2
W0=${WORKERS%% *} W1=${WORKERS#* }
kill -KILL "$W0"
wait "$TO_PID"
KRC=$?
KEL=$(echo "$T0 $(date +%s.%N)" | awk '{printf "%.2f", $2 - $1}')
is "$KRC" 1 "SIGKILL of worker 0 (pid $W0): exit 1"
awk -v e="$KEL" 'BEGIN { exit !(e < 6) }'; ok $? "SIGKILL: the parent did not wait past the run (${KEL}s for -d 4)"
is "$(jl "$T/kill.out" "[(w['name'], w['pid'], w['lost']) for w in rows[0]['workers']]")" \
    "[[\"worker 0\", $W0, \"was killed by SIGKILL before reporting\"], [\"worker 1\", $W1, null]]" \
    "SIGKILL: worker 0 named lost, killed by SIGKILL; worker 1 reported" || diag "$(cat "$T/kill.err")"
NK=$(logged '/small.txt?kill')
is "$(jl "$T/kill.out" "(lambda j: (j['result'], j['requests'] == j['workers'][1]['requests'], 350 <= j['requests'] <= 400 < $NK))(rows[0])")" \
    '[{"ok": false, "reasons": ["connections", "lost"]}, true, true]' \
    "SIGKILL: failed (lost); the report holds worker 1's ~400 requests, nginx more ($NK)"
bg_spate killtxt bench --procs 2 -R 100 -d 3 -c 2 "$U/small.txt?k2"
sleep 1
kill -KILL "${WORKERS%% *}"
wait "$TO_PID"
KT=$(cat "$T/killtxt.out")
like "$KT" 'lost +worker 0 \(pid [0-9]+\) was killed by SIGKILL before reporting' "SIGKILL, text: the lost worker's line"
like "$KT" 'result +FAILED: 1 worker lost' "SIGKILL, text: FAILED: 1 worker lost"

# --- SIGINT to the parent ----------------------------------------------------------------------------
bg_spate int bench --procs 2 -R 200 -d 10 -c 4 --json "$U/small.txt?int"
sleep 1.5
T0=$(date +%s.%N)
kill -INT "$SP"
wait "$TO_PID"
IRC=$?
IEL=$(echo "$T0 $(date +%s.%N)" | awk '{printf "%.2f", $2 - $1}')
is "$IRC" 130 "SIGINT to the parent: exit 130 (in ${IEL}s)"
NI=$(logged '/small.txt?int')
is "$(jl "$T/int.out" "(lambda j: (j['interrupted'], j['signal'], [w['lost'] for w in j['workers']], j['requests'] + j['unfinished'] == $NI, 1.0 < j['duration'] < 3))(rows[0])")" \
    '[true, "SIGINT", [null, null], true, true]' \
    "SIGINT: both workers reported; requests + unfinished == nginx's $NI; the period is the ~1.5 s that ran"

# --- workers that cannot connect --------------------------------------------------------------------
DEAD=http://127.0.0.1:$(free_port)/
run dead bench --procs 2 -n 6 -c 2 --connect-timeout 1 --json "$DEAD"
is "$RC" 1 "nothing listening: exit 1"
is "$(J dead "([(w['connections_up'], w['lost']) for w in j['workers']], j['connections_up'], j['result']['ok'])")" \
    '[[[0, null], [0, null]], 0, false]' "nothing listening: each worker reported 0 connections up"
is "$(J dead "(j['setup_errors']['connect']['count'] >= 2, j['errors_by_kind']['connect']['count'] == j['requests'] == 6)")" \
    '[true, true]' "nothing listening: set-up errors counted, the 6 requests failed as connect errors"

# --- --pin ----------------------------------------------------------------------------------------------
if [ "$(nproc)" -ge 2 ]; then
    bg_spate pin bench --procs 2 --pin -d 2 -c 2 "$U/small.txt?pin"
    sleep 0.8
    CPUS=
    for w in $WORKERS; do CPUS="$CPUS $(awk '/^Cpus_allowed_list/ {print $2}' "/proc/$w/status")"; done
    wait "$TO_PID"
    FIRST=$("$PY" -c 'import os; c = sorted(os.sched_getaffinity(0)); print(" %d %d" % (c[0], c[1]))')
    is "$CPUS" "$FIRST" "--pin: worker 0 on the first allowed CPU, worker 1 on the second ($CPUS)"
else
    skip "--pin needs 2 CPUs"
fi

# --- usage errors --------------------------------------------------------------------------------------
usage() {
    _n=$1 _re=$2 _d=$3; shift 3
    run "$_n" bench "$@"
    _e=$(cat "$(err "$_n")")
    if [ "$RC" = 2 ] && [ ! -s "$(out "$_n")" ] && printf '%s\n' "$_e" | grep -Eq -- "$_re"; then
        ok 0 "$_d"
    else
        ok 1 "$_d"
        diag "rc=$RC stdout='$(head -c 300 "$(out "$_n")")' stderr='$(printf '%s' "$_e" | head -c 300)' want /$_re/"
    fi
}
usage u_p0 "procs" "--procs 0: exit 2" --procs 0 "$DEAD"
usage u_c1 "-c 1 cannot be shared by 2 pieces" "--procs 2 -c 1: exit 2, one connection per piece" --procs 2 -c 1 "$DEAD"
usage u_n2 "-n 2 cannot be shared by 3 pieces" "--procs 3 -n 2: exit 2, one request per piece" --procs 3 -n 2 "$DEAD"
usage u_seg "piece 2 does not exist" "--segment 2/2: exit 2" --segment 2/2 "$DEAD"
usage u_segs "--segments needs --segment" "--segments without --segment: exit 2" --segments 2 "$DEAD"
usage u_bad "invalid value 'banana'" "--start-at banana: exit 2" --start-at banana "$DEAD"

sanitizer_sweep "no sanitizer report in any run"
done_testing
