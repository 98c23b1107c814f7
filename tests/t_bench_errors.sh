#!/bin/sh
# t_bench_errors.sh: `spate bench` when requests fail: connection refused (kind connect), a reset
# after the request (kind reset), a server that never answers (kind timeout), HTTP error statuses
# (counted by status, not as transport errors); counts, causes, exit statuses, bounded run times
# and the connection counters.
. "$(dirname "$0")/lib/tap.sh"
require_spate
plan 45

SPATE_TIMEOUT=20
tmpdir T
srv_start "$T" || { echo "Bail out! http_server.py did not start"; exit 1; }
S=$SRV_URL/case

# J NAME EXPR: EXPR over j = the one JSON object run NAME printed on stdout.
J() { jl "$(out "$1")" "(lambda j: $2)(rows[0]) if len(rows) == 1 else 'got %d stdout lines' % len(rows)"; }
# logged PREFIX: requests http_server.py logged with a target starting with PREFIX.
logged() { jl "$SRV_LOG" "len([r for r in rows if r.get('target', '').startswith('$1')])"; }
within() { awk -v e="$ELAPSED" -v hi="$1" 'BEGIN { exit !(e < hi) }'; }

# --- connection refused ------------------------------------------------------------------------------
DEAD=http://127.0.0.1:$(free_port)/x
run refused bench -n 50 -c 4 --json "$DEAD"
is "$RC" 1 "refused -n 50: exit 1 (nothing succeeded)"
is "$(J refused "(j['requests'], j['ok'], j['errors'], j['status'])")" '[50, 0, 50, {}]' \
    "refused: requests 50, ok 0, errors 50, no status"
is "$(J refused "sorted(j['errors_by_kind'])")" '["connect"]' "refused: the only kind is connect"
is "$(J refused "j['errors_by_kind']['connect']['count']")" 50 "refused: connect count 50"
like_i "$(J refused "' | '.join(c['message'] for c in j['errors_by_kind']['connect']['causes'])")" 'refused' \
    "refused: a cause says refused"
is "$(J refused "sum(c['count'] for c in j['errors_by_kind']['connect']['causes'])")" 50 "refused: cause counts add up to 50"
is "$(J refused "j['connections_established']")" 0 "refused: no connection established"
within 10; ok $? "refused -n 50: bounded (${ELAPSED}s)"
sanitizer_clean "$(err refused)" "refused: no sanitizer report"

run refused64 bench -n 50 --json "$DEAD"
is "$(J refused64 "(j['requests'], j['errors'])")" '[50, 50]' "refused -n 50 with the default 64 connections: exactly 50 counted"
is "$RC" 1 "refused -n 50 -c 64: exit 1"

run refusedd bench -d 1 -c 4 --json "$DEAD"
is "$RC" 1 "refused -d 1: exit 1"
is "$(J refusedd "j['errors'] > 0 and j['errors'] == j['errors_by_kind']['connect']['count'] == j['requests']")" true \
    "refused -d 1: every request a connect error ($(J refusedd "j['errors']"))"
within 3; ok $? "refused -d 1: ends in < 3 s (${ELAPSED}s)"
# Every connection after the first -c is a reconnect, and a reconnect is a connection requested.
is "$(J refusedd "j['connections_requested'] == j['connections'] + j['reconnects']")" true \
    "refused -d 1: connections_requested == -c + reconnects ($(J refusedd "(j['connections_requested'], j['connections'], j['reconnects'])"))"

# Open model: requests are scheduled at -R per second; a dead port must not turn each failed
# connect (retried every few ms) into a request of its own.
run refusedR bench -R 10 -c 4 -d 1 --json "$DEAD"
is "$RC" 1 "refused -R 10 -d 1: exit 1"
is "$(J refusedR "j['requests'] <= 15 and 'connect' in j['errors_by_kind']")" true \
    "refused -R 10 -d 1: connect errors reported, requests follow the schedule (<= 15: got $(J refusedR "j['requests']"))"

run refusedtxt bench -n 10 -c 2 "$DEAD"
is "$RC" 1 "refused, text report: exit 1"
like "$(cat "$(out refusedtxt)")" 'connect' "refused, text report: names the kind"
like_i "$(cat "$(out refusedtxt)")" 'refused' "refused, text report: gives the cause"

# --- reset after reading the request (SO_LINGER 0) ----------------------------------------------------------
run reset bench -n 50 -c 4 --json "$S/reset/b"
is "$RC" 1 "reset -n 50: exit 1"
is "$(J reset "(j['requests'], j['ok'], j['errors'], sorted(j['errors_by_kind']))")" '[50, 0, 50, ["reset"]]' \
    "reset: 50 requests, all errors of kind reset"
like_i "$(J reset "' | '.join(c['message'] for c in j['errors_by_kind']['reset']['causes'])")" 'reset' \
    "reset: a cause says reset"
is "$(logged /case/reset/b)" 50 "reset: the server read exactly 50 requests (none re-sent)"
is "$(J reset "j['connections_requested'] == j['connections_established'] == j['connections'] + j['reconnects']")" true \
    "reset: every connection came up; requested == -c + reconnects"
within 10; ok $? "reset: bounded (${ELAPSED}s)"
sanitizer_clean "$(err reset)" "reset: no sanitizer report"

# --- a server that never answers --------------------------------------------------------------------------
run hang bench -d 2 -c 4 --timeout 0.5 --json "$S/hang/b"
is "$RC" 1 "hang --timeout 0.5 -d 2: exit 1"
is "$(J hang "(j['ok'], sorted(j['errors_by_kind']), j['errors'] == j['requests'])")" '[0, ["timeout"], true]' \
    "hang: every request a timeout"
# Each connection times out at 0.5, 1.0, 1.5 (and maybe 2.0) s.
is "$(J hang "12 <= j['errors_by_kind']['timeout']['count'] <= 16")" true \
    "hang: 3 or 4 timeouts per connection ($(J hang "j['errors_by_kind']['timeout']['count']"))"
like "$(J hang "' | '.join(c['message'] for c in j['errors_by_kind']['timeout']['causes'])")" '0\.5' \
    "hang: the cause gives the 0.5 s limit"
is "$(J hang "$(logged /case/hang/b) >= j['requests']")" true "hang: the server got every timed-out request"
within 4; ok $? "hang -d 2: ends in < 4 s (${ELAPSED}s)"
sanitizer_clean "$(err hang)" "hang: no sanitizer report"

# --- some fail, some succeed: exit 1 unless --max-errors allows them ------------------------------------
# close_next answers the first request of a connection and closes on the next one.
run mix bench -n 20 -c 2 --json "$S/close_next/b"
is "$RC" 1 "mix: exit 1 when some requests failed (--max-errors 0)"
is "$(J mix "(j['requests'], j['ok'] + j['errors'], j['ok'] > 0, j['errors'] > 0, j['status'] == {'200': j['ok']})")" \
    '[20, 20, true, true, true]' "mix: 20 requests, some ok, some errors ($(J mix "(j['ok'], j['errors'], sorted(j['errors_by_kind']))"))"
is "$(J mix "j['connections_requested'] == j['connections'] + j['reconnects']")" true \
    "mix: connections_requested == -c + reconnects"
run mixmax bench -n 20 -c 2 --max-errors 20 --json "$S/close_next/b"
is "$RC:$(J mixmax "(j['failed'] == j['errors'] > 0, j['result'])")" '0:[true, {"ok": true, "reasons": []}]' \
    "mix --max-errors 20: exit 0, the failures counted ($(J mixmax "j['failed']"))"

run slow bench -n 8 -c 4 --timeout 1 --json "$S/slow/300"
is "$RC" 0 "slow 0.3 s answers within --timeout 1: exit 0"
is "$(J slow "(j['ok'], j['errors'], j['latency']['min'] >= 0.29)")" '[8, 0, true]' \
    "slow: all 8 ok, latency min >= 0.3 s"

# --- HTTP error statuses ------------------------------------------------------------------------------------------
run s503 bench -n 20 -c 2 --json "$S/status/503"
is "$(J s503 "(j['requests'], j['status'])")" '[20, {"503": 20}]' "503: counted by status"
is "$(J s503 "(j['errors'], j['errors_by_kind'])")" '[0, {}]' "503: an answered request is not a transport error"
is "$(J s503 "j['bytes'] > 0 and j['latency']['max'] > 0")" true "503: bytes and latency recorded"
is "$RC:$(J s503 "(j['responses'], j['failed'], j['ok'])")" '1:[20, 20, 0]' "503: 20 responses, all failed requests: exit 1"

sanitizer_sweep "no sanitizer report in any run"
done_testing
