#!/bin/sh
# t_fetch_interrupt.sh: SIGINT and SIGTERM during `spate fetch` against a slow http_server.py: no new
# request starts, requests in flight get --grace and are then canceled, every started request has
# exactly one whole line (and the server saw exactly those), queued ones have none, the summary is
# printed and the exit status is 130 / 143; a second signal stops at once.
. "$(dirname "$0")/lib/tap.sh"
require_spate
plan 36

tmpdir T
srv_start "$T" || { echo "Bail out! http_server.py did not start"; exit 1; }
S=$SRV_URL/case

# urls NAME MS N: N URLs answered after MS ms, each with its own path (/case/slow/MS/NAME-i).
urls() { for _i in $(seq 0 $(($3 - 1))); do echo "$S/slow/$2/$1-$_i"; done >"$T/$1.txt"; }
# logged NAME: requests of run NAME the server has read.
logged() { jl "$SRV_LOG" "len([q for q in rows if '/$1-' in q.get('target', '')])"; }
# wait_logged NAME N: until the server has read N requests of run NAME (10 s at most).
wait_logged() {
    _i=0
    while [ "$(logged "$1")" -lt "$2" ] && [ $_i -lt 200 ]; do sleep 0.05; _i=$((_i + 1)); done
}
now() { date +%s.%N; }
# start NAME ARGS...: spate fetch ARGS in the background (a shell's background job: SIGINT is
# ignored there until spate installs its handler), output in $T/NAME.out/.err; sets PID.
start() {
    _n=$1; shift
    "$SPATE_BIN" fetch "$@" >"$T/$_n.out" 2>"$T/$_n.err" </dev/null &
    PID=$!
    on_exit "kill -KILL $PID 2>/dev/null"
}
# finish LIMIT: waits for PID, killing it after LIMIT seconds; sets RC and TOOK (seconds since
# the last signal, SENT).
finish() {
    # a watchdog whose sleep, left behind when it is killed, holds no pipe of the test's
    sh -c 'sleep "$1"; kill -KILL "$2"' _ "$1" $PID >/dev/null 2>&1 </dev/null &
    _w=$!
    wait $PID
    RC=$?
    TOOK=$(echo "$SENT $(now)" | awk '{printf "%.3f", $2 - $1}')
    kill $_w 2>/dev/null
    wait $_w 2>/dev/null
}
within() { echo "$TOOK" | awk -v lo="$1" -v hi="$2" '{ exit !($1 >= lo && $1 <= hi) }'; }
# lines NAME EXPR: EXPR over the result lines of run NAME.
lines() { jl "$T/$1.out" "$2"; }
# same_ids NAME: the ids of the result lines are exactly the requests the server read.
same_ids() {
    jl "$T/$1.out" "sorted(r['id'] for r in rows) == sorted(int(q['target'].rsplit('-', 1)[1]) for q in srv if '/$1-' in q.get('target', ''))" srv="$SRV_LOG"
}

# --- SIGINT: the grace ends, the 4 in flight are canceled ----------------------------------------
urls int 5000 20
start int -c 4 --grace 0.5 -i "$T/int.txt"
wait_logged int 4
SENT=$(now)
kill -INT $PID
finish 20
is "$RC" 130 "SIGINT: exit status 130"
within 0.4 3; ok $? "SIGINT: exits after the 0.5 s grace (${TOOK}s after the signal)"
sleep 0.3
is "$(logged int)" 4 "SIGINT: the server saw the 4 requests in flight and no new one"
is "$(wc -l <"$T/int.out" | tr -d ' ')" 4 "SIGINT: one line per started request, none for the 16 queued"
is "$(same_ids int)" true "SIGINT: the lines are those of the requests the server saw"
is "$(lines int "sorted(set((r['ok'], r['attempts'], r['error']['kind']) for r in rows))")" '[[false, 1, "canceled"]]' \
    "SIGINT: each line is a canceled request with 1 attempt"
like "$(lines int "rows[0]['error']['message']")" 'SIGINT.*grace' "SIGINT: the message names the interrupt and the grace"
ok_cmd "SIGINT: every line is a whole result object" "$PY" "$TAP_LIB/jsonl_check.py" schema "$T/int.out"
E=$(cat "$T/int.err")
like "$E" '16 of 20 requests not started' "SIGINT: the summary counts the 16 never started"
like "$E" 'spate fetch: 4 requests, 0 ok, 4 failed' "SIGINT: the summary counts the 4 lines"
like "$E" 'canceled 4' "SIGINT: failures by kind: canceled 4"

# --- SIGTERM: the in-flight requests finish within the grace ------------------------------------
urls term 1000 20
start term -c 4 --grace 5 -i "$T/term.txt"
wait_logged term 4
SENT=$(now)
kill -TERM $PID
finish 20
is "$RC" 143 "SIGTERM: exit status 143"
within 0 3; ok $? "SIGTERM: exits when the 4 in flight are done, not after the 5 s grace (${TOOK}s)"
sleep 0.3
is "$(logged term)" 4 "SIGTERM: the server saw 4 requests, none after the signal"
is "$(wc -l <"$T/term.out" | tr -d ' ')" 4 "SIGTERM: 4 lines"
is "$(same_ids term)" true "SIGTERM: the lines are those of the requests the server saw"
is "$(lines term "sorted(set((r['ok'], r['status']) for r in rows))")" '[[true, 200]]' \
    "SIGTERM: all 4 finished ok within the grace"
like "$(cat "$T/term.err")" 'interrupted by SIGTERM: 16 of 20' "SIGTERM: summary printed"

# --- a second signal stops at once ----------------------------------------------------------------
urls twice 10000 20
start twice -c 4 --grace 30 -i "$T/twice.txt"
wait_logged twice 4
kill -INT $PID
sleep 0.3
SENT=$(now)
kill -INT $PID
finish 20
is "$RC" 130 "twice: exit status 130"
within 0 1.5; ok $? "twice: the second SIGINT stops at once, not after the 30 s grace (${TOOK}s)"
is "$(wc -l <"$T/twice.out" | tr -d ' ')" 4 "twice: still 4 whole lines"
is "$(lines twice "sorted(set(r['error']['kind'] for r in rows))")" '["canceled"]' "twice: all canceled"
is "$(same_ids twice)" true "twice: the lines are those of the requests the server saw"
like "$(cat "$T/twice.err")" 'spate fetch: 4 requests, 0 ok, 4 failed' "twice: summary printed"

# --- SIGINT then SIGTERM: the first signal names the exit status ------------------------------------
urls mixed 10000 6
start mixed -c 2 --grace 30 -i "$T/mixed.txt"
wait_logged mixed 2
kill -INT $PID
sleep 0.3
SENT=$(now)
kill -TERM $PID
finish 20
is "$RC" 130 "INT then TERM: exit status 130 (the first signal)"
is "$(wc -l <"$T/mixed.out" | tr -d ' ')" 2 "INT then TERM: 2 lines"

# --- --ordered: finished lines held behind a slow one are still printed, in order -----------------
{
    echo "$S/slow/5000/ord-0"
    echo "$S/ok/ord-1"
    echo "$S/ok/ord-2"
    for _i in 3 4 5 6 7; do echo "$S/slow/5000/ord-$_i"; done
} >"$T/ord.txt"
start ord -c 2 --ordered --grace 0.2 -i "$T/ord.txt"
wait_logged ord 4
SENT=$(now)
kill -INT $PID
finish 20
is "$RC" 130 "--ordered: exit status 130"
is "$(lines ord "[r['id'] for r in rows]")" '[0, 1, 2, 3]' "--ordered: the 4 started requests, in input order"
is "$(lines ord "[(r['ok'], (r['error'] or {}).get('kind')) for r in rows]")" \
    '[[false, "canceled"], [true, null], [true, null], [false, "canceled"]]' "--ordered: 2 ok, 2 canceled"
is "$(same_ids ord)" true "--ordered: the lines are those of the requests the server saw"

# --- an interrupt with nothing in flight: -q, --grace 0 -------------------------------------------
urls quiet 5000 10
start quiet -q -c 3 --grace 0 -i "$T/quiet.txt"
wait_logged quiet 3
SENT=$(now)
kill -TERM $PID
finish 20
is "$RC" 143 "--grace 0: exit status 143"
within 0 1.5; ok $? "--grace 0: canceled at once (${TOOK}s)"
is "$(wc -l <"$T/quiet.out" | tr -d ' ')" 3 "--grace 0: 3 lines"
is "$(cat "$T/quiet.err")" "" "-q: nothing on stderr"

# --- the server's own count of requests matches the lines of every run ---------------------------
sleep 0.3
is "$(jl "$SRV_LOG" "len([q for q in rows if 'target' in q])")" \
    "$(cat "$T"/int.out "$T"/term.out "$T"/twice.out "$T"/mixed.out "$T"/ord.out "$T"/quiet.out | wc -l | tr -d ' ')" \
    "every request the server read has exactly one line"
SANE=0
for _f in "$T"/*.err; do grep -Eq "$SANITIZER_RE" "$_f" && { SANE=1; diag "$(grep -E -A 12 "$SANITIZER_RE" "$_f" | head -30)"; }; done
ok $SANE "no sanitizer report in any run"
done_testing
