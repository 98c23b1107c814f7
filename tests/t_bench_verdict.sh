#!/bin/sh
# t_bench_verdict.sh: what `spate bench` counts and its exit status, checked against servers that
# count for themselves (count_server.py, http_server.py): exit 1 when every response is a 500,
# when every connection is refused, when failures pass --max-errors (0 at exactly the limit);
# --no-fail; req/s only of complete responses; -c larger than -n opens only -n connections; and
# 2,000 connections all established before the first request is sent (counted at the server).
. "$(dirname "$0")/lib/tap.sh"
require_spate
plan 36

SPATE_TIMEOUT=60
tmpdir T
srv_start "$T" || { echo "Bail out! http_server.py did not start"; exit 1; }
S=$SRV_URL/case

J() { jl "$(out "$1")" "(lambda j: $2)(rows[0]) if len(rows) == 1 else 'got %d stdout lines' % len(rows)"; }
# count_start NAME [ARGS]: a fresh count_server.py; sets CS_URL, CS_PID, CS_LOG (its summary,
# written when it is stopped with count_stop).
count_start() {
    _s=$1; shift
    CS_LOG=$T/$_s.count.json
    py_start "$T/$_s" count_server.py --log "$CS_LOG" "$@" || return 1
    CS_PID=$PY_PID CS_URL=http://127.0.0.1:$PY_PORT/
}
count_stop() { kill_wait "$CS_PID"; }
# C NAME EXPR: EXPR over c = count_server's summary for NAME.
C() { jl "$T/$1.count.json" "(lambda c: $2)(rows[-1])"; }

# --- every response a 500 -------------------------------------------------------------------------
run s500 bench -n 20 -c 2 --json "$S/status/500"
is "$RC" 1 "all 500: exit 1"
is "$(J s500 "(j['requests'], j['responses'], j['status'], j['ok'], j['failed'], j['errors'])")" \
    '[20, 20, {"500": 20}, 0, 20, 0]' "all 500: 20 responses, all counted as failed, none a transport error"
is "$(J s500 "j['result']")" '{"ok": false, "reasons": ["failed"]}' "all 500: the result names the failures"
run s500t bench -n 20 -c 2 "$S/status/500"
like "$(cat "$(out s500t)")" 'result +FAILED: 20 failed requests, more than --max-errors 0' "all 500, text: says why it failed"
run s500nf bench -n 20 -c 2 --no-fail --json "$S/status/500"
is "$RC:$(J s500nf "(j['failed'], j['ok'], j['no_fail'])")" '0:[0, 20, true]' "all 500 --no-fail: exit 0, nothing failed"
run s404m bench -n 20 -c 2 --max-errors 20 --json "$S/status/404"
is "$RC:$(J s404m "j['failed']")" '0:20' "all 404 --max-errors 20: exit 0 at exactly the limit"
run s404m1 bench -n 20 -c 2 --max-errors 19 --json "$S/status/404"
is "$RC:$(J s404m1 "j['failed']")" '1:20' "all 404 --max-errors 19: exit 1, one over the limit"

# --- every connection refused ---------------------------------------------------------------------------
DEAD=http://127.0.0.1:$(free_port)/x
run ref bench -n 3 --json "$DEAD"
is "$RC" 1 "refused -n 3: exit 1"
is "$(J ref "(j['rps'], j['responses'], j['failed'], j['connections'], j['connections_up'])")" '[0.0, 0, 3, 3, 0]' \
    "refused -n 3: 0 req/s (no complete response), 3 failed, 3 connections of which 0 came up"
is "$(J ref "(j['setup_errors']['connect']['count'], j['result']['reasons'])")" '[3, ["failed", "connections"]]' \
    "refused: set-up errors counted apart (3 connect), both reasons given"
run refd bench -d 1 -c 4 --max-errors 100000 --json "$DEAD"
is "$RC:$(J refd "(j['connections_up'], j['result']['reasons'])")" '1:[0, ["connections"]]' \
    "refused -d 1 --max-errors 100000: still exit 1, no connection came up"
run reft bench -n 3 "$DEAD"
like "$(cat "$(out reft)")" 'set-up +0 of 3 connections up' "refused, text: 0 of 3 connections up"
like "$(cat "$(out reft)")" 'throughput +0\.0 req/s' "refused, text: 0.0 req/s"

# --- mixed: every 10th response a 500 (count_server.py --fail-every 10) -------------------------------------
for m in 10 9; do
    count_start mix$m --fail-every 10 || { echo "Bail out! count_server.py did not start"; exit 1; }
    run mix$m bench -n 100 -c 4 --max-errors $m --json "$CS_URL"
    count_stop
done
is "$(C mix10 "(c['requests'], c['answered'])")" '[100, 100]' "mixed: the server answered exactly 100 requests"
is "$(J mix10 "(j['requests'], j['status'], j['failed'], j['ok'])")" '[100, {"200": 90, "500": 10}, 10, 90]' \
    "mixed: 90 x 200 and 10 x 500, as the server sent them: 10 failed"
is "$(J mix10 "j['result']")" '{"ok": true, "reasons": []}' "mixed --max-errors 10: result ok"
is "$(J mix9 "(j['failed'], j['result'])")" '[10, {"ok": false, "reasons": ["failed"]}]' "mixed --max-errors 9: not ok"
is "$(cat "$RUN_DIR/mix10.rc"):$(cat "$RUN_DIR/mix9.rc")" '0:1' "mixed: exit 0 with --max-errors 10, exit 1 with 9"
is "$(J mix10 "abs(j['rps'] - j['responses'] / j['duration']) <= 1e-3 * j['rps']")" true \
    "mixed: rps == complete responses / measured period ($(J mix10 "j['rps']"))"

# --- -c larger than -n ------------------------------------------------------------------------------
count_start few || { echo "Bail out! count_server.py did not start"; exit 1; }
run few bench -c 64 -n 3 --json "$CS_URL"
count_stop
is "$RC" 0 "-c 64 -n 3: exit 0"
is "$(C few "(c['accepted'], c['requests'])")" '[3, 3]' "-c 64 -n 3: the server accepted 3 connections and got 3 requests"
is "$(J few "(j['connections'], j['connections_up'], j['connections_established'], j['requests'])")" '[3, 3, 3, 3]' \
    "-c 64 -n 3: the report says 3 connections, all up"
count_start fewR || { echo "Bail out! count_server.py did not start"; exit 1; }
run fewR bench -R 100 -c 64 -n 5 --json "$CS_URL"
count_stop
is "$(C fewR "(c['accepted'], c['requests'])")" '[5, 5]' "-R 100 -c 64 -n 5: 5 connections, 5 requests at the server"
is "$RC:$(J fewR "(j['connections'], j['requests'])")" '0:[5, 5]' "-R 100 -c 64 -n 5: exit 0, 5 connections and requests reported"

# --- 2,000 connections, all up before the first request -----------------------------------------------
# count_server.py notes how many handshakes had completed when the first request arrived (it
# drains its listen queue first). spate and the server each need ~2,000 descriptors.
NEED=4500
HARD=$(ulimit -Hn)
if [ "$HARD" != unlimited ] && [ "$HARD" -lt "$NEED" ]; then
    for _i in 1 2 3 4 5 6 7 8 9 10 11; do skip "the open-files hard limit is $HARD, below $NEED"; done
else
    [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$NEED" ] && ulimit -n "$NEED"
    count_start c2k || { echo "Bail out! count_server.py did not start"; exit 1; }
    run c2k bench -c 2000 -n 6000 --json "$CS_URL"
    count_stop
    diag "2,000 connections: set-up $(J c2k "'%.3f s' % j['setup_seconds']"), then $(J c2k "'%d requests in %.3f s' % (j['requests'], j['duration'])") (${ELAPSED}s in all)"
    is "$RC" 0 "2,000 connections: exit 0"
    is "$(C c2k "c['accepted_at_first_request']")" 2000 \
        "2,000 connections: all 2,000 had connected when the first request reached the server"
    is "$(C c2k "(c['accepted'], c['max_open'], c['requests'])")" '[2000, 2000, 6000]' \
        "2,000 connections: the server accepted 2,000, all open at once, and got 6,000 requests"
    is "$(J c2k "(j['connections'], j['connections_up'], j['connections_established'], j['reconnects'])")" '[2000, 2000, 2000, 0]' \
        "2,000 connections: the report says 2,000 up, no reconnects"
    is "$(J c2k "(j['requests'], j['responses'], j['failed'], j['setup_errors'])")" '[6000, 6000, 0, {}]' \
        "2,000 connections: 6,000 responses, nothing failed"
    is "$(J c2k "0 < j['setup_seconds'] and j['setup_seconds'] + j['duration'] <= $ELAPSED")" true \
        "2,000 connections: set-up time and measured period both within the run ($(J c2k "(j['setup_seconds'], j['duration'])"))"
    # the run's length: set-up outside it, so the period is no longer than the whole run minus set-up
    is "$(J c2k "abs(j['rps'] - j['responses'] / j['duration']) <= 1e-3 * j['rps']")" true "2,000 connections: rps over the measured period only"
    sanitizer_clean "$(err c2k)" "2,000 connections: no sanitizer report"
    # the same over the open model
    count_start c2kR || { echo "Bail out! count_server.py did not start"; exit 1; }
    run c2kR bench -R 2000 -c 2000 -n 2000 --json "$CS_URL"
    count_stop
    is "$(C c2kR "(c['accepted_at_first_request'], c['accepted'], c['requests'])")" '[2000, 2000, 2000]' \
        "-R: all 2,000 connections up before the first request; 2,000 requests"
    is "$RC:$(J c2kR "(j['connections_up'], j['requests'], j['failed'])")" '0:[2000, 2000, 0]' "-R 2000 -c 2000: exit 0, 2,000 up"
    is "$(J c2kR "0.9 <= j['duration'] <= 1.5")" true "-R 2000 -n 2000: the schedule's ~1 s, set-up not in it ($(J c2kR "j['duration']"))"
fi

sanitizer_sweep "no sanitizer report in any run"
done_testing
