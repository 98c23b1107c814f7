#!/bin/sh
# t_fetch_hosts.sh: memory bounded in the number of host names, and --dns-cache-size.
#  1. Peak RSS of the release binary (GNU time: getrusage of the child) fetching 30,000 URLs on
#     30,000 distinct names (tests/lib/dns_server.py answers every *.hosts.test with 127.0.0.1;
#     the private nginx serves them all) stays within 1.3x of 30,000 URLs on 3,000 names: the
#     input is the same size, so the difference is what 27,000 more names cost. Every URL ok, each
#     name resolved once. And issue 12's literal form: within 1.3x of 3,000 URLs on 3,000 names
#     (the input streams, so its size costs nothing).
#  2. --dns-cache-size: the least recently used name is asked again, 0 caches nothing, bad values
#     are refused.
#  3. The sanitizer build through host churn: distinct names, redirects to other names, NXDOMAIN
#     names and a refused port, with host entries freed as their last use ends.
# Python forks inherit the interpreter's ~10 MB as their RSS high-water mark, hence GNU time.
# The 30,000-name run opens 30,000 connections to one nginx port: more than the ephemeral port
# range unless TIME_WAIT ports are reused on loopback (net.ipv4.tcp_tw_reuse 2, Linux's default).
. "$(dirname "$0")/lib/tap.sh"
. "$TAP_LIB/nginx.sh"
require_spate
require_release_spate
plan 28
diag "release binary: $SPATE_REL; sanitizer binary: $SPATE_BIN"

tmpdir T
mkdir -p "$T/www/r"
echo hello >"$T/www/x"
# /r/?to=NAME answers 302 to the same path /x on another name (a redirect across hosts)
nginx_start "$T" "" 'location /r/ { return 302 http://$arg_to:$server_port/x; }' ||
    { echo "Bail out! nginx did not start"; exit 1; }
P=$NGINX_PORT

ZONE=$T/zone.json
QLOG=$T/queries.jsonl
: >"$QLOG"
printf '%s\n' '{"*.hosts.test": {"A": ["127.0.0.1"], "ttl": 300},
 "*.nx.hosts.test": {"rcode": "NXDOMAIN"},
 "a.test": {"A": ["127.0.0.1"], "ttl": 300},
 "b.test": {"A": ["127.0.0.1"], "ttl": 300}}' >"$ZONE"
py_start "$T/dns" dns_server.py "$ZONE" "$QLOG" || { echo "Bail out! dns_server.py did not start"; exit 1; }
DNSP=$PY_PORT
DNS="--dns-server 127.0.0.1:$DNSP"

# A queries the responder logged for names matching the regular expression $1 since line $2.
a_queries() {
    "$PY" - "$QLOG" "$1" "${2:-0}" <<'EOF'
import json, re, sys
rx, skip = re.compile(sys.argv[2]), int(sys.argv[3])
lines = open(sys.argv[1]).read().splitlines()[skip:]
print(sum(1 for l in lines if json.loads(l)["type"] == "A" and rx.fullmatch(json.loads(l)["name"])))
EOF
}
qlines() { wc -l <"$QLOG" | tr -d ' '; }
nginx_hits() { grep -c '^/x ' "$NGINX_DIR/access.log" || true; }

# --- 1. peak RSS over many names ---------------------------------------------------------------------
# measure NAME N K: the release binary fetches URL i = http://h<i mod K>.hosts.test:P/x for
# i < N at -c 100; sets RSS (peak KB) and checks every result, the queries and nginx's count.
measure() {
    _m=$1 _n=$2 _k=$3
    awk -v n="$_n" -v k="$_k" -v p="$P" \
        'BEGIN { for (i = 0; i < n; i++) printf "http://h%d.hosts.test:%d/x\n", i % k, p }' >"$T/$_m.urls"
    _q0=$(qlines)
    _h0=$(nginx_hits)
    /usr/bin/time -o "$T/$_m.rss" -f %M timeout -k 5 180 "$SPATE_REL" fetch -q -c 100 --connect-timeout 30 $DNS ${MEASURE_OPTS:-} \
        -i "$T/$_m.urls" >"$T/$_m.out" 2>"$T/$_m.err"
    _rc=$?
    RSS=$(tail -n 1 "$T/$_m.rss")
    is "$_rc $(jl "$T/$_m.out" "'yes' if sorted(r['id'] for r in rows) == list(range($_n)) and all(r['ok'] and r['status'] == 200 and r['bytes'] == 6 and r['url'] == 'http://h%d.hosts.test:$P/x' % (r['id'] % $_k) for r in rows) else '%d lines, %d ok: %s' % (len(rows), sum(1 for r in rows if r['ok']), [r['error'] for r in rows if not r['ok']][:2])")" \
        "0 yes" "$_m: $_n URLs on $_k names: exit 0, every id once, each ok with its own URL"
    is "$(a_queries 'h[0-9]+\.hosts\.test' "$_q0") $(($(nginx_hits) - _h0))" "$_k $_n" \
        "$_m: the DNS server saw one A query per name ($_k), nginx served $_n requests"
    diag "$_m: $_n URLs on $_k names: peak RSS $RSS KB"
}

measure small 3000 3000
RSS_SMALL=$RSS
measure same 30000 3000
RSS_SAME=$RSS
measure many 30000 30000
RSS_MANY=$RSS
at_most_times "$RSS_MANY" "$RSS_SAME" 1.3 "30,000 names vs 3,000 names, 30,000 URLs each: peak RSS $RSS_MANY KB vs $RSS_SAME KB"
diag "per extra name: $(awk -v a="$RSS_MANY" -v b="$RSS_SAME" 'BEGIN { printf "%.0f", (a - b) * 1024 / 27000 }') bytes"
# Issue 12's form. With the default cache cap (10,000 names, about 1.5 MB when full) the large
# run holds 7,000 more cached names than the small one by design, which puts it near 1.28x: the
# default run only guards against a return of per-host growth (the old code gave 1.73x), and the
# 1.3x bound is asserted with a cap both runs fill (3,000), so it measures the host entries alone.
at_most_times "$RSS_MANY" "$RSS_SMALL" 1.45 "issue 12's form, default cache: 30,000 URLs on 30,000 names vs 3,000 on 3,000: peak RSS $RSS_MANY KB vs $RSS_SMALL KB"
MEASURE_OPTS="--dns-cache-size 3000"
measure small_cap 3000 3000
RSS_SMALL_CAP=$RSS
measure many_cap 30000 30000
RSS_MANY_CAP=$RSS
MEASURE_OPTS=
at_most_times "$RSS_MANY_CAP" "$RSS_SMALL_CAP" 1.3 "issue 12's form, --dns-cache-size 3000: peak RSS $RSS_MANY_CAP KB vs $RSS_SMALL_CAP KB"

# --- 2. --dns-cache-size --------------------------------------------------------------------------------
# At -c 1 the connection to b closes the idle one to a, so the third request resolves a again:
# from the cache, unless the cache had to make room for b.
printf 'http://a.test:%s/x\nhttp://b.test:%s/x\nhttp://a.test:%s/x\n' "$P" "$P" "$P" >"$T/aba.urls"
for size in default 2 1 0; do
    opt=
    [ "$size" != default ] && opt="--dns-cache-size $size"
    q0=$(qlines)
    run "aba$size" fetch -q -c 1 $DNS $opt -i "$T/aba.urls"
    got="$RC $(jl "$(out "aba$size")" "sum(1 for r in rows if r['ok'])") $(a_queries 'a\.test' "$q0")"
    case $size in
    default | 2) want="0 3 1" why="a stays cached" ;;
    *) want="0 3 2" why="a is asked again" ;;
    esac
    is "$got" "$want" "a, b, a at -c 1 with cache size $size: all ok, $why (exit, ok, A queries for a)"
done
run bad1 fetch --dns-cache-size -1 "http://a.test:$P/x"
is "$RC" 2 "--dns-cache-size -1: exit 2"
like "$(cat "$(err bad1)")" 'dns-cache-size' "  the message names the option"
run bad2 fetch --dns-cache-size lots "http://a.test:$P/x"
is "$RC $(wc -l <"$(out bad2)" | tr -d ' ')" "2 0" "--dns-cache-size lots: exit 2, nothing fetched"
run help fetch --help
like "$(cat "$(out help)" "$(err help)")" '--dns-cache-size N' "--help lists --dns-cache-size"

# --- 3. host churn under the sanitizers ---------------------------------------------------------------
# 600 plain names, 300 redirects each to another name, 150 NXDOMAIN names, 150 names on a port
# nothing listens on; -c 20 so idle connections are evicted and host entries freed all the time.
DEAD=$(free_port)
"$PY" - "$P" "$DEAD" >"$T/churn.urls" <<'EOF'
import sys
p, dead = sys.argv[1], sys.argv[2]
for i in range(1200):
    if i % 8 < 4:
        print("http://c%d.hosts.test:%s/x" % (i, p))
    elif i % 8 < 6:
        print("http://r%d.hosts.test:%s/r/?to=t%d.hosts.test" % (i, p, i))
    elif i % 8 == 6:
        print("http://n%d.nx.hosts.test:%s/x" % (i, p))
    else:
        print("http://d%d.hosts.test:%s/x" % (i, dead))
EOF
run churn fetch -q -L -c 20 --connect-timeout 20 $DNS -i "$T/churn.urls"
C=$(out churn)
is "$RC" 1 "churn: exit 1 (some requests failed, as they must)"
is "$(jl "$C" "sorted(r['id'] for r in rows) == list(range(1200))")" true "churn: 1200 results, each id once"
is "$(jl "$C" "[r['id'] for r in rows if r['id'] % 8 < 6 and not (r['ok'] and r['status'] == 200 and r['bytes'] == 6)][:5]")" "[]" \
    "churn: the 600 plain names and the 300 cross-name redirects are all ok (200, 6 bytes)"
is "$(jl "$C" "[r['id'] for r in rows if r['id'] % 8 == 6 and not (not r['ok'] and r['error']['kind'] == 'dns' and 'n%d.nx.hosts.test (NXDOMAIN)' % r['id'] in r['error']['message'])][:5]")" "[]" \
    "churn: the 150 NXDOMAIN names fail with kind dns naming the host"
is "$(jl "$C" "[r['id'] for r in rows if r['id'] % 8 == 7 and not (not r['ok'] and r['error']['kind'] == 'connect' and ':$DEAD' in r['error']['message'])][:5]")" "[]" \
    "churn: the 150 names on the dead port fail with kind connect naming the address"
is "$(grep -c '^/r/' "$NGINX_DIR/access.log")" 300 "churn: nginx saw the 300 redirecting requests"
sanitizer_sweep "no sanitizer report in any run"
done_testing
