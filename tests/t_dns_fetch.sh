#!/bin/sh
# t_dns_fetch.sh: `spate fetch` with the resolver (c-ares in the loop, TTL cache) against the test
# DNS responder (lib/dns_server.py): one lookup for 1,000 requests, TTL expiry and --dns-ttl,
# NXDOMAIN / SERVFAIL / silent server within the connect timeout, failover between A records,
# IPv6 (AAAA ::1), --resolve pinning, pooled connections dropped when their address leaves the
# record set, and time.dns on a lookup vs a cache hit. HOSTILE.md section 5 (N1-N3, N5, N6, N8-N10).
. "$(dirname "$0")/lib/tap.sh"
require_spate
plan 65
diag "binary: $SPATE_BIN"

tmpdir T
srv_start "$T" || { echo "Bail out! http_server.py did not start"; exit 1; }
P=$SRV_PORT # server A: http_server.py on 127.0.0.1:P

# --- the DNS responder ------------------------------------------------------------------------------
ZONE=$T/zone.json
QLOG=$T/queries.jsonl
: >"$QLOG"
# zone_set JSON: replaces the zone atomically (the responder re-reads it when its bytes change).
zone_set() { printf '%s\n' "$1" >"$ZONE.tmp" && mv "$ZONE.tmp" "$ZONE"; }
zone_set '{
 "one.test":   {"A": ["127.0.0.1"], "ttl": 300},
 "short.test": {"A": ["127.0.0.1"], "ttl": 1},
 "fixed.test": {"A": ["127.0.0.1"], "ttl": 1},
 "good.test":  {"A": ["127.0.0.1"], "ttl": 300},
 "nx.test":    {"rcode": "NXDOMAIN"},
 "sf.test":    {"rcode": "SERVFAIL"},
 "drop.test":  {"rcode": "DROP"},
 "two.test":   {"A": ["127.0.0.2", "127.0.0.1"], "ttl": 300},
 "six.test":   {"AAAA": ["::1"], "ttl": 300},
 "pin.test":   {"A": ["127.0.0.3"], "ttl": 300},
 "mv.test":    {"A": ["127.0.0.1"], "ttl": 1},
 "td.test":    {"A": ["127.0.0.2"], "ttl": 300}
}'
py_start "$T/dns" dns_server.py "$ZONE" "$QLOG" || { echo "Bail out! dns_server.py did not start"; exit 1; }
DNSP=$PY_PORT
DNS="--dns-server 127.0.0.1:$DNSP"

# queries NAME [TYPE]: how many queries the responder logged for NAME (of TYPE, if given).
queries() {
    jl "$QLOG" "len([q for q in rows if q['name'] == '$1' and ('${2:-}' == '' or q['type'] == '${2:-}')])"
}
# peer_start ADDR PORT LOG: dns_peer_http.py on ADDR:PORT; sets PEER_PORT (empty on failure).
peer_start() {
    : >"$3"
    PEER_PORT=
    py_start "$3" dns_peer_http.py "$1" "$2" "$3" && PEER_PORT=$PY_PORT
}
# f NAME ID EXPR: EXPR over r = the result line with that id in run NAME.
f() { jl "$(out "$1")" "(lambda r: $3)(by_id[$2])"; }
# all_ok NAME N: "yes" when run NAME printed N lines, all ok.
all_ok() { jl "$(out "$1")" "'yes' if len(rows) == $2 and all(r['ok'] for r in rows) else '%d lines, %d ok, errors %s' % (len(rows), sum(1 for r in rows if r['ok']), sorted(set(str(r['error']) for r in rows if not r['ok']))[:3])"; }
# vias NAME: the addresses of the -v "via" lines of run NAME, in order, space-separated.
vias() { sed -n 's/.* via \([^ ]*\) (.*/\1/p' "$(err "$1")" | tr '\n' ' ' | sed 's/ $//'; }
lt() { echo "$1 $2" | awk '{ exit !($1 < $2) }'; }

# --- N10: 1,000 requests to one name, one lookup -------------------------------------------------
for i in $(seq 0 999); do echo "http://one.test:$P/k/$i"; done >"$T/k.txt"
run k fetch -v -c 16 $DNS -i "$T/k.txt"
is "$RC" 0 "1000 requests to one.test: exit 0"
is "$(all_ok k 1000)" yes "1000 requests to one.test: 1000 results, all ok"
is "$(queries one.test A) $(queries one.test AAAA)" "1 1" "1000 requests, -c 16: the responder saw 1 A + 1 AAAA query"
like "$(grep 'DNS ' "$(err k)" | tail -n 1)" 'DNS 1 quer' "-v stats line: DNS 1 query"
like "$(grep 'DNS ' "$(err k)" | tail -n 1)" 'DNS 1 quer[a-z]*, 9[0-9][0-9] cache hits' "-v stats line: the rest were cache hits"
is "$(jl "$SRV_LOG" "len([r for r in rows if r.get('target', '').startswith('/k/')])")" 1000 "server A got the 1000 requests"
sanitizer_clean "$(err k)" "1000 requests: no sanitizer report"

# --- N5: TTL expiry; --dns-ttl fixes the lifetime --------------------------------------------------
for i in $(seq 0 35); do echo "http://short.test:$P/ttl/$i"; done >"$T/ttl.txt"
run ttl fetch -v -c 4 --rate 20 $DNS -i "$T/ttl.txt"
is "$(all_ok ttl 36)" yes "TTL 1, 36 requests at 20/s: all ok"
lt 1.5 "$ELAPSED"; ok $? "TTL 1: the run spans > 1.5 s (${ELAPSED}s)"
cmp_num "$(queries short.test A)" -ge 2 "TTL 1: the record was looked up again after it expired"
cmp_num "$(queries short.test A)" -le 3 "TTL 1: but not for every request"
like "$(grep 'DNS ' "$(err ttl)" | tail -n 1)" 'DNS [23] quer' "TTL 1: -v stats line counts 2 or 3 lookups"
sanitizer_clean "$(err ttl)" "TTL 1: no sanitizer report"

sed "s/short\\.test/fixed.test/" "$T/ttl.txt" >"$T/fixed.txt"
run fixed fetch -v -c 4 --rate 20 --dns-ttl 60 $DNS -i "$T/fixed.txt"
is "$(all_ok fixed 36)" yes "--dns-ttl 60 on a TTL-1 record: all ok"
lt 1.5 "$ELAPSED"; ok $? "--dns-ttl 60: the run spans > 1.5 s (${ELAPSED}s)"
is "$(queries fixed.test A) $(queries fixed.test AAAA)" "1 1" "--dns-ttl 60: one lookup (the fixed lifetime wins over TTL 1)"
like "$(grep 'DNS ' "$(err fixed)" | tail -n 1)" 'DNS 1 quer' "--dns-ttl 60: -v stats line shows 1 query"
sanitizer_clean "$(err fixed)" "--dns-ttl: no sanitizer report"

# --- N1-N3: NXDOMAIN, SERVFAIL, a silent server; other hosts unaffected ----------------------------
run fail fetch --connect-timeout 1.5 $DNS "http://nx.test:$P/nx" "http://sf.test:$P/sf" \
    "http://drop.test:$P/drop" "http://good.test:$P/good" "http://127.0.0.1:$P/literal"
is "$RC" 1 "DNS failures: exit 1"
lt "$ELAPSED" 3; ok $? "DNS failures with --connect-timeout 1.5: the run ends in < 3 s (${ELAPSED}s)"
is "$(f fail 0 "(r['ok'], r['status'], r['error']['kind'])")" '[false, null, "dns"]' "NXDOMAIN: kind dns"
is "$(f fail 0 "r['error']['message']")" "could not resolve host nx.test (NXDOMAIN)" "NXDOMAIN: message"
is "$(f fail 1 "(r['ok'], r['status'], r['error']['kind'])")" '[false, null, "dns"]' "SERVFAIL: kind dns"
like "$(f fail 1 "r['error']['message']")" '^DNS lookup for sf\.test failed \(server failure' "SERVFAIL: message names the host and says server failure"
unlike "$(f fail 1 "r['error']['message']")" '[Cc]onnection refused' "SERVFAIL: message does not claim the host refused a connection"
is "$(f fail 2 "(r['ok'], r['status'], r['error']['kind'])")" '[false, null, "dns"]' "silent DNS server: kind dns"
is "$(f fail 2 "r['error']['message']")" "DNS lookup for drop.test timed out" "silent DNS server: message says the DNS lookup timed out"
is "$(f fail 2 "r['time']['total'] <= 1.75")" true "silent DNS server: fails within the connect timeout"
is "$(f fail 2 "r['time']['dns'] >= 0.5")" true "silent DNS server: time.dns shows the time spent resolving"
is "$(f fail 3 "(r['ok'], r['status'])")" '[true, 200]' "good.test in the same run: ok"
is "$(f fail 4 "(r['ok'], r['status'])")" '[true, 200]' "IP-literal URL in the same run: ok"
is "$(f fail 4 "r['time']['dns'] == 0")" true "IP-literal URL: time.dns 0 (no lookup)"
is "$(jl "$SRV_LOG" "sorted(r['target'] for r in rows if r.get('target') in ('/nx', '/sf', '/drop', '/good', '/literal'))")" \
    '["/good", "/literal"]' "DNS failures: no request reached the server for the failed names"
sanitizer_clean "$(err fail)" "DNS failures: no sanitizer report"

# --- N8: two A records, the first refuses connections -----------------------------------------------
# 127.0.0.2:P has no listener (server A binds 127.0.0.1 only; server B below starts later).
for i in $(seq 0 19); do echo "http://two.test:$P/fo/$i"; done >"$T/fo.txt"
run fo fetch -v -c 4 $DNS -i "$T/fo.txt"
is "$(all_ok fo 20)" yes "failover: 20 requests to two.test (127.0.0.2 refuses, 127.0.0.1 serves): all ok"
is "$(jl "$(out fo)" "sorted(set(r['attempts'] for r in rows))")" "[1]" "failover: within one attempt (no retry needed)"
is "$(vias fo | tr ' ' '\n' | sort -u | tr '\n' ' ')" "127.0.0.1:$P " "failover: -v shows every request via 127.0.0.1:$P"
is "$(jl "$SRV_LOG" "len([r for r in rows if r.get('target', '').startswith('/fo/')])")" 20 "failover: server A got all 20"
lt "$ELAPSED" 5; ok $? "failover: refused -> next address at once (${ELAPSED}s)"
sanitizer_clean "$(err fo)" "failover: no sanitizer report"

# --- IPv6: AAAA ::1 only; --resolve overrides the DNS server -------------------------------------------
V6_SKIP=
if [ "$(cat /proc/sys/net/ipv6/conf/lo/disable_ipv6 2>/dev/null)" = 1 ]; then
    V6_SKIP="IPv6 disabled on lo"
else
    peer_start ::1 0 "$T/v6.jsonl"
    P6=$PEER_PORT
    [ -n "$P6" ] || V6_SKIP="cannot bind [::1]: $(cat "$T/v6.jsonl.stderr")"
fi
if [ -n "$V6_SKIP" ]; then
    for i in 1 2 3 4 5; do skip "$V6_SKIP"; done
else
    run v6 fetch -v $DNS "http://six.test:$P6/v6"
    is "$(f v6 0 "(r['ok'], r['status'])")" '[true, 200]' "AAAA-only name (::1): ok"
    is "$(vias v6)" "[::1]:$P6" "AAAA-only name: -v shows via [::1]:$P6"
    is "$(jl "$T/v6.jsonl" "[(r['addr'], r['target']) for r in rows]")" '[["::1", "/v6"]]' "AAAA-only name: the [::1] server got the request"
    cmp_num "$(queries six.test AAAA)" -ge 1 "AAAA-only name: an AAAA query was made"
    sanitizer_clean "$(err v6)" "IPv6: no sanitizer report"
fi

# pin.test is 127.0.0.3 (nothing listens) in the zone; --resolve pins it to 127.0.0.1.
run pin fetch -v $DNS --resolve "pin.test:$P:127.0.0.1" "http://pin.test:$P/pin"
is "$(f pin 0 "(r['ok'], r['status'])")" '[true, 200]' "--resolve pin.test:$P:127.0.0.1: ok"
is "$(vias pin)" "127.0.0.1:$P" "--resolve: -v shows via 127.0.0.1:$P"
is "$(queries pin.test)" 0 "--resolve: no query for the pinned name reached the DNS server"
is "$(f pin 0 "r['time']['dns'] == 0")" true "--resolve: time.dns 0"
sanitizer_clean "$(err pin)" "--resolve: no sanitizer report"

# --- N6: a pooled connection to an address that left the record set is not reused after the TTL ---
# server B: 127.0.0.2:P (same port as server A on 127.0.0.1). mv.test is 127.0.0.1 with TTL 1;
# right after spate's first lookup the zone moves it to 127.0.0.2.
peer_start 127.0.0.2 "$P" "$T/b.jsonl"
[ -n "$PEER_PORT" ] || diag "server B did not start: $(cat "$T/b.jsonl.stderr")"
sed 's/"mv.test": *{[^}]*}/"mv.test": {"A": ["127.0.0.2"], "ttl": 1}/' "$ZONE" >"$T/zone2.json"
for i in $(seq 0 14); do echo "http://mv.test:$P/mv/$i"; done >"$T/mv.txt"
(
    i=0
    while ! grep -q '"mv.test"' "$QLOG" && [ $i -lt 200 ]; do sleep 0.02; i=$((i + 1)); done
    sleep 0.2
    mv "$T/zone2.json" "$ZONE"
) &
MVPID=$!
on_exit "kill_wait $MVPID"
run mv fetch -v -c 1 --rate 5 $DNS -i "$T/mv.txt"
wait $MVPID 2>/dev/null
is "$(all_ok mv 15)" yes "record moves 127.0.0.1 -> 127.0.0.2 during the run: all 15 ok"
cmp_num "$(jl "$SRV_LOG" "len([r for r in rows if r.get('target', '').startswith('/mv/')])")" -ge 1 \
    "record move: the first requests reached server A (127.0.0.1)"
cmp_num "$(jl "$T/b.jsonl" "len([r for r in rows if r['target'].startswith('/mv/')])")" -ge 1 \
    "record move: later requests reached server B (127.0.0.2)"
like "$(vias mv)" "127\\.0\\.0\\.2:$P" "record move: -v shows via 127.0.0.2:$P"
like "$(vias mv)" "^(127\\.0\\.0\\.1:$P )+(127\\.0\\.0\\.2:$P ?)+\$" \
    "record move: once moved, never back to the old address (via A..., then B...)"
cmp_num "$(queries mv.test A)" -ge 2 "record move: the name was looked up again after the TTL"
sanitizer_clean "$(err mv)" "record move: no sanitizer report"

# --- time.dns: > 0 for the first request to a name, 0 on cache hits ---------------------------------
# td.test is 127.0.0.2 (server B); Connection: close makes every request open a new connection
# (and so resolve), so a 0 comes from the cache, not from a reused connection.
run td fetch -v -c 1 --ordered -H 'Connection: close' $DNS \
    "http://td.test:$P/td/0" "http://td.test:$P/td/1" "http://td.test:$P/td/2" "http://td.test:$P/td/3"
is "$(all_ok td 4)" yes "time.dns: 4 sequential requests ok"
is "$(f td 0 "r['time']['dns'] > 0")" true "time.dns > 0 for the first request to td.test"
is "$(jl "$(out td)" "[by_id[i]['time']['dns'] == 0 for i in (1, 2, 3)]")" "[true, true, true]" "time.dns 0 on the cache hits"
like "$(grep 'connections ' "$(err td)" | tail -n 1)" 'connections 4 opened' "time.dns: each request opened a new connection"
like "$(grep 'DNS ' "$(err td)" | tail -n 1)" 'DNS 1 quer[a-z]*, 3 cache hits' "time.dns: -v stats line: 1 query, 3 cache hits"
is "$(queries td.test A)" 1 "time.dns: the responder saw one A query for td.test"
sanitizer_clean "$(err td)" "time.dns: no sanitizer report"

sanitizer_sweep "no sanitizer report in any run of this file"
done_testing
