#!/bin/sh
# t_hostile_retry.sh: hostile servers, HOSTILE.md §2 F (cases 62-68): Retry-After honoured and
# capped, garbage Retry-After, the backoff's shape, what is retried and what never is, retries
# after a partial body, and isolation during a retry storm. Waits are measured on the server
# side (arrival times in the tests/lib/hostile_http.py log). Short backoffs keep it quick.
. "$(dirname "$0")/lib/tap.sh"
require_spate
eval "$("$PY" "$TAP_LIB/hostile_http.py" shell)"

tmpdir T
hsrv_start srv --ports 2 || { echo "Bail out! hostile_http.py did not start"; exit 1; }
P2=${HPORTS#* }
# gaps KEY: the server-side gaps (s) between the requests whose target contains KEY, as JSON
gaps() { "$PY" "$HOSTILE_PY" gaps "$HLOG" "$1"; }
# gap_in KEY I LO HI: the I-th gap (from 0) is within [LO, HI] seconds
gap_in() { [ "$(jl /dev/null "(lambda g: len(g) > $2 and $3 <= g[$2] <= $4)($(gaps "$1"))")" = true ]; }
seen() { jl "$HLOG" "len([q for q in rows if 'method' in q and '''$1''' in q['target']])"; }
# rcase LABEL PATH EXPECT_RC [fetch options...]: one retry case, the baseline over it
rcase() {
    _rl=$1; _rp=$2; _rrc=$3; shift 3
    hrun "$_rl" 20 fetch -q --ordered --timeout 3 "$@" "$HURL/$_rp" "$HURL/ok?ctl=$_rl"
    hbase_run "$_rl" "$_rrc" "${RLIMIT:-3}"
    is "$(res "$_rl" "by_id[1]['ok']")" true "$_rl: BL4 the control request is ok"
}

# --- F62 Retry-After honoured: seconds and an IMF-fixdate, on 503 and 429 -----------------------------------
rcase F62.seconds_503 'fail/503/1?ra=1&f62=s503' 0 --retries 2 --backoff 0.05
is "$(res F62.seconds_503 "(by_id[0]['ok'], by_id[0]['attempts'])")" '[true, 2]' "F62.seconds_503: ok after 2 attempts"
gap_in f62=s503 0 0.98 1.4; ok $? "F62.seconds_503: the server saw the retry 1 s later (gaps $(gaps f62=s503))"
rcase F62.seconds_429 'fail/429/1?ra=1&f62=s429' 0 --retries 2 --backoff 0.05
gap_in f62=s429 0 0.98 1.4; ok $? "F62.seconds_429: 429 Retry-After honoured too (gaps $(gaps f62=s429))"
RLIMIT=4; rcase F62.date_503 'fail/503/1?ra=%40%2B2&f62=date' 0 --retries 2 --backoff 0.05
RLIMIT=3
gap_in f62=date 0 0.98 2.4; ok $? "F62.date_503: an IMF-fixdate 2 s ahead waits 1-2 s (1 s resolution) (gaps $(gaps f62=date))"
rcase F62.ignored_on_500 'fail/500/1?ra=1&f62=i500' 0 --retries 2 --backoff 0.05
gap_in f62=i500 0 0.02 0.3; ok $? "F62.ignored_on_500: Retry-After only counts on 429/503: plain backoff (gaps $(gaps f62=i500))"

# --- F63 huge Retry-After: capped by --retry-after-max, no overflow -------------------------------------------
rcase F63.huge_digits 'fail/503/1?ra=99999999999999999999&f63=digits' 0 --retries 1 --retry-after-max 0.3
gap_in f63=digits 0 0.28 0.8; ok $? "F63.huge_digits: capped at --retry-after-max 0.3 (gaps $(gaps f63=digits))"
rcase F63.day_429 'fail/429/1?ra=86400&f63=day' 0 --retries 1 --retry-after-max 0.5
gap_in f63=day 0 0.48 1.0; ok $? "F63.day_429: 86400 capped at --retry-after-max 0.5 (gaps $(gaps f63=day))"
rcase F63.far_date 'fail/503/1?ra=%40%2B999999999&f63=fardate' 0 --retries 1 --retry-after-max 0.4
gap_in f63=fardate 0 0.38 1.0; ok $? "F63.far_date: a date decades ahead capped too (gaps $(gaps f63=fardate))"

# --- F64 garbage Retry-After: ordinary backoff (--backoff 0.2: a wait in [0.1, 0.2] s); past/0: at once ---------
i=0
for v in -1 1.5 abc '' 'Sun,%2006%20Nov%201994' '%40-100' 0; do
    i=$((i + 1))
    rcase F64.value_$i "fail/503/1?ra=$v&f64=$i" 0 --retries 1 --backoff 0.2
    case $v in
        0|%40-100) lo=0; hi=0.09; what="retry at once" ;;
        *) lo=0.09; hi=0.45; what="ordinary backoff" ;;
    esac
    gap_in "f64=$i" 0 $lo $hi; ok $? "F64.value_$i: Retry-After '$v' -> $what (gaps $(gaps "f64=$i"))"
done
rcase F64.two_headers 'fail/503/1?ra=1&ra=0&f64=two' 0 --retries 1 --backoff 0.2
gap_in f64=two 0 0 1.3; ok $? "F64.two_headers: two Retry-After headers: a bounded wait (gaps $(gaps f64=two))"

# --- F65 backoff shape: base 0.1 doubling, jitter within [d/2, d] ---------------------------------------------------
RLIMIT=4; rcase F65.shape 'fail/503?f65=shape' 1 --retries 4 --backoff 0.1
RLIMIT=3
is "$(res F65.shape "(by_id[0]['attempts'], by_id[0]['error']['kind'], by_id[0]['status'])")" '[5, "http", 503]' \
    "F65.shape: 5 attempts, then kind http with status 503"
like "$(res F65.shape "by_id[0]['error']['message']")" '503' "F65.shape: the message gives the status"
is "$(seen f65=shape)" 5 "F65.shape: the server saw 5 requests"
n=0
for b in "0.045 0.16" "0.095 0.26" "0.195 0.46" "0.395 0.86"; do
    gap_in f65=shape $n $b; ok $? "F65.shape: wait $((n + 1)) within [${b% *}, ${b#* }] s (gaps $(gaps f65=shape))"
    n=$((n + 1))
done
rcase F65.capped 'fail/503?f65=cap' 1 --retries 3 --backoff 0.1 --backoff-max 0.15
is "$(jl /dev/null "max($(gaps f65=cap)) <= 0.2")" true "F65.capped: --backoff-max 0.15 caps every wait (gaps $(gaps f65=cap))"

# --- F66 what is retried: 4xx (and 408, 501) never; 429 500 502 503 504 yes; a POST only with --retry-all-methods ----
for s in 400 401 403 404 408 501; do
    rcase F66.never_$s "fail/$s?f66=$s" 1 --retries 2 --backoff 0.05
    is "$(seen "f66=$s")/$(res F66.never_$s "by_id[0]['attempts']")" 1/1 "F66.never_$s: status $s is not retried"
done
for s in 429 500 502 503 504; do
    rcase F66.retried_$s "fail/$s/1?f66=$s" 0 --retries 2 --backoff 0.05
    is "$(seen "f66=$s")/$(res F66.retried_$s "by_id[0]['attempts']")" 2/2 "F66.retried_$s: status $s is retried, then ok"
done
rcase F66.post_503 'fail/503?f66=post' 1 --retries 2 --backoff 0.05 -d x
is "$(seen f66=post)" 1 "F66.post_503: a POST is not retried"
rcase F66.post_503_all 'fail/503?f66=postall' 1 --retries 2 --backoff 0.05 -d x --retry-all-methods
is "$(seen f66=postall)" 3 "F66.post_503_all: with --retry-all-methods it is"
rcase F66.put_503 'fail/503/1?f66=put' 0 --retries 2 --backoff 0.05 -d x -X PUT
is "$(seen f66=put)" 2 "F66.put_503: PUT is idempotent: retried"
rcase F66.post_reset 'rst?f66=postrst' 1 --retries 2 --backoff 0.05 -d x
is "$(seen f66=postrst)/$(res F66.post_reset "by_id[0]['error']['kind']")" 1/reset \
    "F66.post_reset: a POST reset after it was written is never silently re-sent"

# --- F67 retry after a partial body (50 % then RST): never after response bytes (SPEC); the output never holds
# the body twice ---------------------------------------------------------------------------------------------------------------
mkdir "$T/o67"
printf '{"url": "%s", "id": "f67"}\n' "$HURL/partial_rst/1000?f67=1" >"$T/f67.in"
hrun F67.partial_body 20 fetch -q --timeout 3 --retries 2 --backoff 0.05 -o "$T/o67" -i "$T/f67.in"
hbase_run F67.partial_body 1 3
is "$(seen f67=1)" 1 "F67.partial_body: a reset after response bytes is not retried"
is "$("$PY" -c '
import hashlib, os, sys
want = bytes((i * 7) & 0xFF for i in range(1000))
p = sys.argv[1]
got = open(p, "rb").read() if os.path.exists(p) else b""
print("prefix" if want.startswith(got) else "garbled (%d bytes)" % len(got))' "$T/o67/f67")" prefix \
    "F67.partial_body: the output file never holds the body twice or out of order"

# --- F62b a Retry-After holds the host: its other queued request waits too ----------------------------------------
hrun F62b.host_hold 20 fetch -q -c 1 --ordered --timeout 3 --retries 1 --backoff 0.05 \
    "$HURL/fail/503/1?ra=1&hold=a" "$HURL/ok?hold=b"
hbase_run F62b.host_hold 0 3
is "$(res F62b.host_hold "[r['ok'] for r in rows]")" '[true, true]' "F62b.host_hold: both requests ok"
is "$(jl "$HLOG" "(lambda a, b: b - a >= 0.9)(min(q['t'] for q in rows if 'hold=a' in q.get('target', '')), min(q['t'] for q in rows if 'hold=b' in q.get('target', '')))")" true \
    "F62b.host_hold: the queued request to the same host waited out the Retry-After instead of going at once"

# --- F68 retry storm isolation: 30 URLs answering 503 Retry-After: 1, then 10 on a healthy origin, -c 10 ----------------------
: >"$T/f68.txt"
for i in $(seq 1 30); do echo "$HURL/fail/503?ra=1&f68s=$i" >>"$T/f68.txt"; done
for i in $(seq 1 10); do echo "http://127.0.0.1:$P2/case/ok?f68h=$i" >>"$T/f68.txt"; done
hrun F68.storm 20 fetch -q -c 10 --timeout 3 --retries 1 -i "$T/f68.txt"
hbase_run F68.storm 1 4
is "$(res F68.storm "sorted(Counter((r['error'] or {}).get('kind') or 'ok' for r in rows).items())")" '[["http", 30], ["ok", 10]]' \
    "F68.storm: 30 failures (kind http), 10 ok"
is "$(jl "$HLOG" "(lambda s, h: max(h) - min(s) < 0.6)([q['t'] for q in rows if 'f68s=' in q.get('target', '')], [q['t'] for q in rows if 'f68h=' in q.get('target', '')])")" true \
    "F68.storm: the healthy origin was served at once: slots are free during Retry-After waits"
is "$(res F68.storm "min(r['attempts'] for r in rows if 'f68s' in r['url'])")" 2 "F68.storm: every stormed request was retried once"

hcount
done_testing
