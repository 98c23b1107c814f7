#!/bin/sh
# t_fetch_errors.sh: `spate fetch` failures and exit statuses: connection refused, timeouts,
# resets, HTTP errors (kind http, --no-fail), partial failures, and stale keep-alive connections
# that must never surface as errors (and never make a POST go twice).
. "$(dirname "$0")/lib/tap.sh"
require_spate
plan 54

tmpdir T
srv_start "$T" || { echo "Bail out! http_server.py did not start"; exit 1; }
S=$SRV_URL/case

# f NAME EXPR: EXPR over r = the single result line of run NAME.
f() { jl "$(out "$1")" "(lambda r: $2)(rows[0]) if len(rows) == 1 else 'got %d result lines' % len(rows)"; }
# logged PREFIX: how many requests the server logged with a target starting with PREFIX.
logged() { jl "$SRV_LOG" "len([r for r in rows if r.get('target', '').startswith('$1')])"; }
secs() { echo "$ELAPSED" | awk -v lo="$1" -v hi="$2" '{ exit !($1 >= lo && $1 <= hi) }'; }

# --- connection refused ---------------------------------------------------------------------------
DEAD=$(free_port)
run refused fetch "http://127.0.0.1:$DEAD/x"
is "$RC" 1 "refused: exit 1"
is "$(f refused "(r['ok'], r['status'], r['error']['kind'])")" '[false, null, "connect"]' \
    "refused: ok false, status null, kind connect"
like "$(f refused "r['error']['message']")" "127\\.0\\.0\\.1.*$DEAD|$DEAD.*127\\.0\\.0\\.1" "refused: message names the address and port"
like_i "$(f refused "r['error']['message']")" 'refused' "refused: message says refused"
secs 0 5; ok $? "refused: fails fast (${ELAPSED}s)"
like_i "$(cat "$(err refused)")" 'fail' "refused: summary on stderr counts the failure"

# --- timeouts -----------------------------------------------------------------------------------------
run hang fetch --timeout 1 "$S/hang/t1" "$S/ok/t1"
is "$RC" 1 "--timeout 1 on a silent server: exit 1"
is "$(jl "$(out hang)" "[(r['ok'], r['status'], (r['error'] or {}).get('kind')) for r in sorted(rows, key=lambda r: r['id'])]")" \
    '[[false, null, "timeout"], [true, 200, null]]' "--timeout: kind timeout; the other request in the run is ok"
like_i "$(jl "$(out hang)" "by_id[0]['error']['message']")" 'time' "--timeout: message says which timeout"
secs 0.9 4; ok $? "--timeout 1: ends after ~1 s (${ELAPSED}s)"
is "$(jl "$(out hang)" "by_id[0]['time']['total'] >= 0.9")" true "--timeout: time.total reflects the wait"

run rhang fetch --read-timeout 0.5 "$S/hang/r"
is "$(f rhang "(r['ok'], r['error']['kind'])")" '[false, "timeout"]' "--read-timeout 0.5: kind timeout"
secs 0.4 3; ok $? "--read-timeout 0.5: ends after ~0.5 s (${ELAPSED}s)"

run slowok fetch --timeout 2 "$S/slow/300"
is "$(f slowok "(r['ok'], r['status'])")" '[true, 200]' "--timeout 2: a 300 ms answer is in time"

# --- reset ------------------------------------------------------------------------------------------------
run reset fetch "$S/reset/1"
is "$RC" 1 "reset: exit 1"
is "$(f reset "(r['ok'], r['status'], r['error']['kind'], r['attempts'])")" '[false, null, "reset", 1]' \
    "reset: kind reset, one attempt (fresh connection: no silent re-send)"
is "$(logged /case/reset/1)" 1 "reset: the server saw the request once"

# --- HTTP errors ------------------------------------------------------------------------------------------------
run e404 fetch "$S/status/404"
is "$RC" 1 "404: exit 1"
is "$(f e404 "(r['ok'], r['status'], r['error']['kind'], r['bytes'])")" '[false, 404, "http", 11]' \
    "404: ok false, status 404, kind http, body still counted"
like "$(f e404 "r['error']['message']")" '404' "404: message gives the status"
run e500 fetch "$S/status/500"
is "$(f e500 "(r['ok'], r['status'], r['error']['kind'], r['attempts'])")" '[false, 500, "http", 1]' \
    "500: kind http, one attempt without --retries"
is "$(logged /case/status/500)" 1 "500: not retried by default"

run nofail fetch --no-fail "$S/status/404" "$S/status/503"
is "$RC" 0 "--no-fail: exit 0"
is "$(jl "$(out nofail)" "[(r['ok'], r['status'], r['error']) for r in sorted(rows, key=lambda r: r['id'])]")" \
    '[[true, 404, null], [true, 503, null]]' "--no-fail: complete responses are ok"
run nofail2 fetch --no-fail "http://127.0.0.1:$DEAD/"
is "$RC" 1 "--no-fail: a connect failure still fails"

run e3xx fetch "$S/status/304" "$S/status/204" "$S/status/302"
is "$RC" 0 "204/302/304 without -L: not failures, exit 0"
is "$(jl "$(out e3xx)" "[(r['status'], r['ok'], r['bytes']) for r in sorted(rows, key=lambda r: r['id'])]")" \
    '[[304, true, 0], [204, true, 0], [302, true, 11]]' "204/302/304: statuses, ok, bytes"

# --- partial failure: one bad request never cancels the others ------------------------------------------------------
run mix fetch -c 4 --timeout 1.5 "$S/ok/m0" "http://127.0.0.1:$DEAD/m1" "$S/status/404?m2" "$S/ok/m3" "$S/hang/m4" "$S/slow/200/m5"
is "$RC" 1 "mix: exit 1 when some failed"
is "$(jl "$(out mix)" "[(key(r['id']), r['ok'], (r['error'] or {}).get('kind')) for r in sorted(rows, key=lambda r: r['id'])]")" \
    '[[0, true, null], [1, false, "connect"], [2, false, "http"], [3, true, null], [4, false, "timeout"], [5, true, null]]' \
    "mix: each request has its own outcome"
like_i "$(cat "$(err mix)")" '3.*(ok|succe)|(ok|succe).*3' "mix: summary on stderr gives 3 ok"
like_i "$(cat "$(err mix)")" 'connect' "mix: summary lists failures by kind"
run allok fetch "$S/ok/a" "$S/ok/b"
is "$RC" 0 "all ok: exit 0"

# --- an item the engine refuses as it is submitted --------------------------------------------------
# spate_submit is the only check during a run: a line whose request head would pass 64 KiB (no
# check of the parts sees it) is a result of kind input naming FILE:LINE like any bad line, and
# the lines around it are fetched (checked before the submit, it used to end the run with exit 2).
"$PY" -c 'import json, sys; u = sys.argv[1]
print(u + "/ok/h0"); print(json.dumps({"url": u + "/ok/h1", "headers": {"X-Big": "v" * 70000}}))
print(u + "/ok/h2")' "$S" >"$T/bighead.txt"
run bighead fetch -q -i "$T/bighead.txt"
is "$RC" 1 "a head over 64 KiB: exit 1 (one request failed), not 2"
is "$(jl "$(out bighead)" "[(key(r['id']), r['ok'], (r['error'] or {}).get('kind'), r['attempts']) for r in sorted(rows, key=lambda r: r['id'])]")" \
    '[[0, true, null, 1], [1, false, "input", 0], [2, true, null, 1]]' \
    "  its line is a result of kind input with 0 attempts; the lines around it are fetched"
is "$(jl "$(out bighead)" "[r['error']['message'] for r in rows if not r['ok']]")" \
    "[\"$T/bighead.txt:2: request header too large (limit 65536 bytes)\"]" \
    "  the message names FILE:LINE and the engine's reason"
is "$(logged /case/ok/h)" 2 "  the server saw the other two only"

# --- stale keep-alive connections -----------------------------------------------------------------------------------
# close_idle/0: the server closes right after each response, without saying so; the next
# request on that connection races the FIN. Either spate sees the close before reuse, or the
# write fails / the read gets EOF before any response byte and the GET is re-sent once.
: >"$T/ci0.txt"
for i in $(seq 1 20); do echo "$S/close_idle/0?i=$i" >>"$T/ci0.txt"; done
run ci0 fetch -c 1 -i "$T/ci0.txt"
is "$RC" 0 "server closes after every response: exit 0"
is "$(jl "$(out ci0)" "[r for r in rows if not r['ok'] or r['attempts'] != 1][:2]")" "[]" \
    "server closes after every response: all 20 ok, attempts 1 (no visible error)"
is "$(logged /case/close_idle/0)" 20 "server closes after every response: 20 requests reached it"

# close_idle/60 with --rate 5: each request finds the pooled connection closed ~140 ms ago.
: >"$T/ci.txt"
for i in $(seq 1 8); do echo "$S/close_idle/60?i=$i" >>"$T/ci.txt"; done
run ci fetch -c 1 --rate 5 -i "$T/ci.txt"
is "$RC" 0 "idle connection closed by the server: exit 0"
is "$(jl "$(out ci)" "[r for r in rows if not r['ok'] or r['attempts'] != 1][:2]")" "[]" \
    "idle connection closed by the server: all 8 ok, attempts 1"
is "$(jl "$SRV_LOG" "len(set(r['conn'] for r in rows if r.get('target', '').startswith('/case/close_idle/60')))")" 8 \
    "idle connection closed by the server: a new connection per request (the test did close them)"
secs 1.2 6; ok $? "--rate 5: 8 requests take >= 1.4 s (${ELAPSED}s)"

# close_next: a reused connection is closed when the next request arrives (no byte answered).
: >"$T/cn.txt"
for i in $(seq 1 10); do echo "$S/close_next/g?i=$i" >>"$T/cn.txt"; done
run cn fetch -c 1 -i "$T/cn.txt"
is "$RC" 0 "close on reuse: exit 0"
is "$(jl "$(out cn)" "[r for r in rows if not r['ok'] or r['attempts'] != 1][:2]")" "[]" \
    "close on reuse: all 10 ok, attempts 1 (the re-send on a new connection is not a retry)"
cmp_num "$(logged /case/close_next/g)" -ge 11 "close on reuse: the stale path was exercised (connections were reused)"
cmp_num "$(logged /case/close_next/g)" -le 20 "close on reuse: each request re-sent at most once"

# A POST on a reused connection that closes: never sent twice without --retry-all-methods.
printf '%s\n{"url": "%s", "method": "POST", "body": "once"}\n' "$S/close_next/p0" "$S/close_next/p1" >"$T/post.jsonl"
run post fetch -c 1 --ordered -i "$T/post.jsonl"
is "$(logged /case/close_next/p1)" 1 "POST on a stale connection: the server got it exactly once"
is "$(jl "$(out post)" "(lambda r: r['ok'] or r['error']['kind'] == 'reset')(by_id[1])")" true \
    "POST on a stale connection: ok (sent on a new connection) or kind reset, never a silent re-send"
is "$(jl "$(out post)" "by_id[0]['ok']")" true "POST on a stale connection: the GET before it is ok"

# --- the run stays bounded when everything fails at once ------------------------------------------------------------
: >"$T/many.txt"
for i in $(seq 1 100); do echo "$S/reset/many?i=$i" >>"$T/many.txt"; done
run many fetch -q -c 50 -i "$T/many.txt"
is "$RC" 1 "100 resets: exit 1"
is "$(jl "$(out many)" "(len(rows), sorted(set(key(r['id']) for r in rows)) == list(range(100)), sorted(set(r['error']['kind'] for r in rows)))")" \
    '[100, true, ["reset"]]' "100 resets: 100 results, each id once, all kind reset"

# --- control request after all of that: the server and spate are fine --------------------------------------------
run control fetch -q "$S/ok/control"
is "$(f control "(r['ok'], r['status'], r['bytes'])")" '[true, 200, 2]' "control request ok"

sanitizer_sweep "no sanitizer report in any run"
done_testing
