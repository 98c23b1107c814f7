#!/bin/sh
# t_time_fields.sh: `spate fetch`'s start and time fields (SPEC.md "spate fetch") against servers
# whose delays the test controls: lib/timed_server.py logs when it accepted each connection, read
# each request, sent each head and each last byte (wall clock, as spate's start), and
# lib/dns_server.py when each query came (a write lies between the server's stamps before and
# after it). Every point must lie within a small tolerance after the
# event it marks, never before, and the points must be ordered dns <= connect <= tls <= ttfb <=
# total <= elapsed: in single runs (a wait before the head and between head and body, a connect
# that the listener lets through late, a DNS answer that comes late), in a batch of 300 slow
# requests among 900 others, and over retries (time.elapsed, Retry-After in all its forms).
. "$(dirname "$0")/lib/tap.sh"
require_spate
diag "binary: $SPATE_BIN"
tmpdir T

# TOL: a point may lie this much after the event it marks in a single run; BTOL: in the batch
# (an ASan build on a shared 2-core machine, 1,200 requests in flight at once).
TOL=0.05
BTOL=0.15
export TOL BTOL

# ts_start NAME ARGS...: timed_server.py logging to $T/NAME.jsonl; sets TS_PORT.
ts_start() {
    _n=$1
    shift
    : >"$T/$_n.jsonl"
    py_start "$T/$_n" timed_server.py "$T/$_n.jsonl" "$@" || return 1
    TS_PORT=$PY_PORT
}
# every RESULTS SERVERLOG COND [URL-REGEX]: "ok" when COND holds for every line (time_check.py).
every() { "$PY" "$TAP_LIB/time_check.py" "$1" "$2" "${DNSLOG:--}" "$3" ${4:+"$4"}; }
now() { "$PY" -c 'import time; print("%.6f" % time.time())'; }

ts_start main || { echo "Bail out! timed_server.py did not start"; exit 1; }
P=$TS_PORT
U=http://127.0.0.1:$P
SRV=$T/main.jsonl

# --- a wait before the head and between head and body, in single runs ------------------------------
# 300 ms before the head, 200 ms before the body: ttfb and total must show them, measured from
# this attempt's start, whatever the loop did meanwhile (it used to stamp them from a clock
# cached before its wait: ttfb 0.000156 in half the runs).
: >"$T/single.jsonl"
T0=$(now)
for i in 1 2 3 4 5; do
    run single$i fetch -q "$U/t/300/200?key=a$i"
    cat "$(out single$i)" >>"$T/single.jsonl"
done
is "$(jl "$T/single.jsonl" "[(r['ok'], r['attempts']) for r in rows]")" \
    '[[true, 1], [true, 1], [true, 1], [true, 1], [true, 1]]' "5 single runs, 300 ms + 200 ms: all ok, one attempt each"
jl_schema "$T/single.jsonl" "single runs: well-formed lines, times ordered"
is "$(every "$T/single.jsonl" "$SRV" "t['dns'] == 0 and t['tls'] == t['connect'] <= TOL")" ok \
    "single runs: dns 0 (an IP literal), tls = connect (plain http), connect within $TOL s"
is "$(every "$T/single.jsonl" "$SRV" "0.3 <= t['ttfb'] <= 0.3 + TOL")" ok \
    "single runs: ttfb within [0.3, 0.3 + $TOL] (the server waited 300 ms before the head)"
is "$(every "$T/single.jsonl" "$SRV" "s['t_head0'] - start - 0.002 <= t['ttfb'] <= s['t_head'] - start + TOL")" ok \
    "single runs: ttfb = when the server sent the head (its clock) - start, within $TOL s"
is "$(every "$T/single.jsonl" "$SRV" "0.5 <= t['total'] <= 0.5 + TOL and 0.2 - TOL <= t['total'] - t['ttfb']")" ok \
    "single runs: total within [0.5, 0.5 + $TOL], 200 ms after ttfb"
is "$(every "$T/single.jsonl" "$SRV" "s['t_end0'] - start - 0.002 <= t['total'] <= s['t_end'] - start + TOL")" ok \
    "single runs: total = when the server sent the last byte - start, within $TOL s"
is "$(every "$T/single.jsonl" "$SRV" "t['elapsed'] == t['total']")" ok "single runs: elapsed = total (one attempt)"
is "$(every "$T/single.jsonl" "$SRV" "$T0 <= start <= s['t_accept'] + 0.002")" ok \
    "single runs: start is the wall clock of the attempt's start (after the run began, before the server accepted)"

# --- a connect that the listener lets through late ----------------------------------------------------
# The listener's accept queue is full for 300 ms, so the SYN goes unanswered until the kernel
# sends it again: the connect takes as long as that, and ttfb comes 100 ms after it.
: >"$T/late.jsonl"
for i in 1 2; do
    ts_start late$i --accept-after 0.3 || break
    run late$i fetch -q --connect-timeout 5 "http://127.0.0.1:$TS_PORT/t/100/0?key=b$i"
    cat "$(out late$i)" >>"$T/late.jsonl"
    cat "$T/late$i.jsonl" >>"$T/late.srv.jsonl"
done
is "$(jl "$T/late.jsonl" "[(r['ok'], r['attempts']) for r in rows]")" '[[true, 1], [true, 1]]' "late accept: both ok, one attempt"
jl_schema "$T/late.jsonl" "late accept: well-formed lines, times ordered"
is "$(every "$T/late.jsonl" "$T/late.srv.jsonl" "t['connect'] >= 0.3 and abs(t['connect'] - (s['t_accept'] - start)) <= TOL")" ok \
    "late accept: connect >= 0.3 s, = when the server could accept it - start, within $TOL s"
diag "late accept: connect $(jl "$T/late.jsonl" "[r['time']['connect'] for r in rows]") s (the kernel's SYN retransmission)"
is "$(every "$T/late.jsonl" "$T/late.srv.jsonl" "t['dns'] == 0 and t['tls'] == t['connect'] and 0.1 <= t['ttfb'] - t['connect'] <= 0.1 + TOL")" ok \
    "late accept: ttfb 100 ms after connect (the server's wait)"
is "$(every "$T/late.jsonl" "$T/late.srv.jsonl" "s['t_end0'] - start - 0.002 <= t['total'] <= s['t_end'] - start + TOL and t['elapsed'] == t['total']")" ok \
    "late accept: total = the server's last byte - start; elapsed = total"

# --- a DNS answer that comes late -------------------------------------------------------------------
ZONE=$T/zone.json
QLOG=$T/queries.jsonl
: >"$QLOG"
printf '{"late.test": {"A": ["127.0.0.1"], "ttl": 300, "delay": 0.3}}\n' >"$ZONE"
py_start "$T/dns" dns_server.py "$ZONE" "$QLOG" || { echo "Bail out! dns_server.py did not start"; exit 1; }
DNSP=$PY_PORT
# the second request finds the name in the cache and the connection in the pool
run dnslate fetch -q -c 1 --ordered --dns-server "127.0.0.1:$DNSP" \
    "http://late.test:$P/t/100/0?key=c1" "http://late.test:$P/t/100/0?key=c2"
is "$(jl "$(out dnslate)" "[(r['ok'], r['attempts']) for r in rows]")" '[[true, 1], [true, 1]]' "late DNS: both ok"
jl_schema "$(out dnslate)" "late DNS: well-formed lines, times ordered"
is "$(DNSLOG=$QLOG DELAY=0.3 every "$(out dnslate)" "$SRV" "0.3 <= t['dns'] <= 0.3 + TOL and dns_sent - start - 0.002 <= t['dns'] <= dns_sent - start + TOL" 'key=c1')" ok \
    "late DNS: dns within [0.3, 0.3 + $TOL], = when the answer was sent - start"
is "$(every "$(out dnslate)" "$SRV" "t['dns'] <= t['connect'] <= t['dns'] + TOL and abs(t['connect'] - (s['t_accept'] - start)) <= TOL and t['tls'] == t['connect']" 'key=c1')" ok \
    "late DNS: connect right after the answer (= the server's accept - start)"
is "$(every "$(out dnslate)" "$SRV" "0.1 <= t['ttfb'] - t['connect'] <= 0.1 + TOL and t['elapsed'] == t['total']" 'key=c1')" ok \
    "late DNS: ttfb 100 ms after connect; elapsed = total"
is "$(every "$(out dnslate)" "$SRV" "t['dns'] == t['connect'] == t['tls'] == 0 and 0.1 <= t['ttfb'] <= 0.1 + TOL" 'key=c2')" ok \
    "cache hit on a pooled connection: dns = connect = tls = 0 (steps that did not happen), ttfb 100 ms"

# --- a batch: 300 slow requests among 900 others -----------------------------------------------------
# 300 requests wait 300 ms before the head and 200 ms before the body; 900 others are answered at
# once (some with 64 KiB bodies, some closing their connection), all 1,200 in flight together.
for i in $(seq 0 1199); do
    case $((i % 4)) in
    0) echo "$U/t/300/200?key=s$i" ;;
    1) echo "$U/t/0/0?key=f$i&size=65536" ;;
    2) echo "$U/t/0/0?key=f$i&close=1" ;;
    3) echo "$U/t/0/0?key=f$i" ;;
    esac
done >"$T/batch.txt"
run batch fetch -q -c 1200 -i "$T/batch.txt"
is "$RC" 0 "batch of 1,200 (300 slow): exit 0"
is "$(jl "$(out batch)" "(len(rows), sum(1 for r in rows if r['ok'] and r['attempts'] == 1))")" '[1200, 1200]' \
    "batch: 1,200 lines, all ok in one attempt"
jl_schema "$(out batch)" "batch: well-formed lines, times ordered"
is "$(every "$(out batch)" "$SRV" "0.3 <= t['ttfb'] and 0.5 <= t['total']" 'key=s')" ok \
    "batch: every slow request has ttfb >= 0.3 and total >= 0.5"
is "$(every "$(out batch)" "$SRV" "s['t_head0'] - start - 0.002 <= t['ttfb'] <= s['t_head'] - start + BTOL" 'key=s')" ok \
    "batch: every slow ttfb = when the server sent its head - start, within $BTOL s"
is "$(every "$(out batch)" "$SRV" "s['t_end0'] - start - 0.002 <= t['total'] <= s['t_end'] - start + BTOL" 'key=s')" ok \
    "batch: every slow total = when the server sent its last byte - start, within $BTOL s"
is "$(every "$(out batch)" "$SRV" "s['t_head0'] - start - 0.002 <= t['ttfb'] <= s['t_head'] - start + BTOL" 'key=f')" ok \
    "batch: every fast ttfb = when the server sent its head - start, within $BTOL s"
is "$(every "$(out batch)" "$SRV" "t['elapsed'] == t['total'] and s['t_accept'] - start >= -0.002 if t['connect'] > 0 else True")" ok \
    "batch: elapsed = total for all; start before the server accepted the connection"
diag "batch: slow ttfb $(jl "$(out batch)" "'%.4f..%.4f s' % (min(r['time']['ttfb'] for r in rows if 'key=s' in r['url']), max(r['time']['ttfb'] for r in rows if 'key=s' in r['url']))")"

# --- retries: total is the final attempt, elapsed the whole life ---------------------------------------
# 503 with Retry-After: 1, then 200 after 200 ms: the wait is known.
run ra fetch -q --retries 2 --backoff 5 "$U/t/200/0?key=e1&fail=1&ra=1"
is "$(jl "$(out ra)" "[(r['ok'], r['attempts']) for r in rows]")" '[[true, 2]]' "Retry-After 1: ok on the second attempt"
jl_schema "$(out ra)" "Retry-After 1: well-formed line, times ordered"
is "$(every "$(out ra)" "$SRV" "0.2 <= t['total'] <= 0.2 + TOL and s['t_end'] - s['t_req'] - TOL <= t['total']")" ok \
    "Retry-After 1: total within [0.2, 0.2 + $TOL] (the final attempt only)"
is "$(every "$(out ra)" "$SRV" "1.2 <= t['elapsed'] <= 1.2 + 2 * TOL and abs(t['elapsed'] - (s['t_end'] - start)) <= TOL")" ok \
    "Retry-After 1: elapsed within [1.2, 1.2 + $TOL x 2] = the server's last byte - the first attempt's start"
is "$(every "$(out ra)" "$SRV" "start <= s0['t_req'] and s['t_req'] - s0['t_req'] >= 1.0")" ok \
    "Retry-After 1: start is the first attempt's; the retry waited 1 s"
# backoff 0.2 s: waits uniform in [0.1, 0.2] and [0.2, 0.4]
run bo fetch -q --retries 2 --backoff 0.2 "$U/t/200/0?key=e2&fail=2"
is "$(jl "$(out bo)" "[(r['ok'], r['attempts']) for r in rows]")" '[[true, 3]]' "backoff: ok on the third attempt"
is "$(every "$(out bo)" "$SRV" "0.2 <= t['total'] <= 0.2 + TOL and 0.5 <= t['elapsed'] <= 0.8 + 2 * TOL")" ok \
    "backoff: total 0.2 s (final attempt), elapsed within [0.5, 0.8 + $TOL x 2] (two waits and three attempts)"
is "$(every "$(out bo)" "$SRV" "abs(t['elapsed'] - (s['t_end'] - start)) <= TOL and len(recs) == 3")" ok \
    "backoff: elapsed = the server's last byte - the first attempt's start; the server saw 3 requests"
# Retry-After in the obsolete HTTP-date forms (RFC 9110 5.6.7): honoured, not the 10 ms backoff
RA850=$("$PY" -c 'import time, urllib.parse as u; print(u.quote(time.strftime("%A, %d-%b-%y %H:%M:%S GMT", time.gmtime(int(time.time()) + 2))))')
RAASC=$("$PY" -c 'import time, urllib.parse as u; t = time.gmtime(int(time.time()) + 2); print(u.quote(time.strftime("%a %b ", t) + "%2d" % t.tm_mday + time.strftime(" %H:%M:%S %Y", t)))')
run radates fetch -q --retries 1 --backoff 0.01 "$U/t/0/0?key=e3&fail=1&ra=$RA850" "$U/t/0/0?key=e4&fail=1&ra=$RAASC"
is "$(jl "$(out radates)" "sorted((r['ok'], r['attempts']) for r in rows)")" '[[true, 2], [true, 2]]' "Retry-After dates: both ok on the second attempt"
is "$(every "$(out radates)" "$SRV" "0.9 <= s['t_req'] - s0['t_req'] <= 2.1 and t['elapsed'] >= 0.9")" ok \
    "Retry-After as RFC 850 and asctime dates 2 s ahead: the retry waited for the date (1-2 s), elapsed shows it"
diag "Retry-After values: $("$PY" -c 'import sys, urllib.parse as u; print(u.unquote(sys.argv[1]), "|", u.unquote(sys.argv[2]))' "$RA850" "$RAASC")"

sanitizer_sweep "no sanitizer report in any run"
done_testing
