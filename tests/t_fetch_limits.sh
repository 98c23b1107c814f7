#!/bin/sh
# t_fetch_limits.sh: `spate fetch` concurrency limits, seen from the server: -c N bounds requests
# in flight and open connections, --per-host N bounds connections to one host:port.
# Each scenario gets a fresh http_server.py; its exit record gives the maxima it observed.
. "$(dirname "$0")/lib/tap.sh"
require_spate
plan 21

tmpdir T

# stat EXPR: evaluates EXPR with s = the stopped server's exit stats.
stat() { jl "$SRV_LOG" "(lambda s: $1)([r for r in rows if r.get('event') == 'exit'][-1]['stats'])"; }
# urls N PATH [PORT...]: N URLs to PATH, round-robin over the ports, each URL distinct.
urls() {
    _n=$1; _p=$2; shift 2
    "$PY" -c 'import sys; n, p, ports = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
for i in range(n): print("http://127.0.0.1:%s%s?i=%d" % (ports[i % len(ports)], p, i))' "$_n" "$_p" "$@"
}

# --- 200 requests, -c 50 --per-host 4 ---------------------------------------------------------
srv_start "$T" || { echo "Bail out! http_server.py did not start"; exit 1; }
urls 200 /case/slow/20 "$SRV_PORT" >"$T/u1.txt"
run perhost fetch -q -c 50 --per-host 4 -i "$T/u1.txt"
srv_stop
is "$RC" 0 "per-host 4: exit 0"
is "$(jl "$(out perhost)" "len(rows) == 200 and all(r['ok'] and r['status'] == 200 for r in rows)")" true \
    "per-host 4: 200 results, all ok"
is "$(stat "s['requests']")" 200 "per-host 4: the server got each request once"
cmp_num "$(stat "s['max_open']")" -le 4 "per-host 4: at most 4 connections open at once"
cmp_num "$(stat "s['max_inflight']")" -le 4 "per-host 4: at most 4 requests in flight at once"
cmp_num "$(stat "s['max_inflight']")" -ge 3 "per-host 4: the limit is used (>= 3 requests at once)"

# --- 200 requests, -c 8 -------------------------------------------------------------------------
srv_start "$T" || { echo "Bail out! http_server.py did not start"; exit 1; }
urls 200 /case/slow/20 "$SRV_PORT" >"$T/u2.txt"
run global fetch -q -c 8 -i "$T/u2.txt"
srv_stop
is "$RC" 0 "-c 8: exit 0"
is "$(jl "$(out global)" "len(rows) == 200 and all(r['ok'] for r in rows)")" true "-c 8: 200 results, all ok"
cmp_num "$(stat "s['max_open']")" -le 8 "-c 8: at most 8 connections open at once"
cmp_num "$(stat "s['max_inflight']")" -le 8 "-c 8: at most 8 requests in flight at once"
cmp_num "$(stat "s['max_inflight']")" -ge 6 "-c 8: the limit is used (>= 6 requests at once)"
cmp_num "$(stat "s['conns']")" -le 8 "-c 8: keep-alive: no more than 8 connections over the whole run"

# --- three origins, -c 8 --per-host 4: both limits at once ----------------------------------------
srv_start "$T" --ports 3 || { echo "Bail out! http_server.py did not start"; exit 1; }
# shellcheck disable=SC2086
urls 150 /case/slow/20 $SRV_PORTS >"$T/u3.txt"
run multi fetch -q -c 8 --per-host 4 -i "$T/u3.txt"
srv_stop
is "$RC" 0 "3 origins: exit 0"
is "$(jl "$(out multi)" "len(rows) == 150 and all(r['ok'] for r in rows)")" true "3 origins: 150 results, all ok"
is "$(stat "[p['max_open'] for p in s['ports'].values() if p['max_open'] > 4]")" "[]" \
    "3 origins: at most 4 connections to each origin"
cmp_num "$(stat "s['max_inflight']")" -le 8 "3 origins: at most 8 requests in flight overall"
cmp_num "$(stat "s['max_open']")" -le 8 "3 origins: at most 8 connections open overall"
cmp_num "$(stat "s['max_inflight']")" -ge 6 "3 origins: the global limit is used (>= 6 at once)"

# --- --per-host alone on one origin with a large -c: the per-host limit wins ---------------------
srv_start "$T" || { echo "Bail out! http_server.py did not start"; exit 1; }
urls 40 /case/slow/20 "$SRV_PORT" >"$T/u4.txt"
run ph1 fetch -q --per-host 1 -i "$T/u4.txt"
srv_stop
is "$(jl "$(out ph1)" "len(rows) == 40 and all(r['ok'] for r in rows)")" true "per-host 1: 40 results, all ok"
is "$(stat "(s['max_open'], s['max_inflight'], s['conns'])")" "[1, 1, 1]" \
    "per-host 1: one connection, one request at a time, reused throughout"

sanitizer_sweep "no sanitizer report in any run"
done_testing
