#!/bin/sh
# t_bench_closed.sh: `spate bench` closed model against a private nginx: 20,000 requests at -c 32
# counted exactly (report, nginx access log, bytes on the wire), the connections kept, ordered
# latency figures, -d, the text report, --latency-file (HdrHistogram text), reconnects when the
# server closes keep-alive connections, request bodies (--data, --data-json, @FILE) checked at
# http_server.py, and usage errors (exit 2, message naming the option).
. "$(dirname "$0")/lib/tap.sh"
. "$TAP_LIB/nginx.sh"
require_spate
plan 66

SPATE_TIMEOUT=30
tmpdir T shm
mkdir -p "$T/www/short"
printf 'hello from nginx, spate bench\n' >"$T/www/small.txt"
cp "$T/www/small.txt" "$T/www/short/small.txt"
mkdir -p "$T/www/gz"
"$PY" -c 'import sys; open(sys.argv[1], "wb").write(bytes(range(256)) * 4096)' "$T/www/big.bin"
"$PY" -c 'import sys; open(sys.argv[1], "w").write("".join("line %d of a compressible text\n" % i for i in range(3000)))' "$T/www/gz/text.txt"
# /short/ closes each keep-alive connection after 10 requests (nginx says Connection: close);
# /gz/ answers gzip-compressed, chunked (the length is not known in advance).
nginx_start "$T" "" "location /short/ { keepalive_requests 10; } location /gz/ { gzip on; gzip_types *; gzip_min_length 0; }" \
    || { echo "Bail out! nginx did not start"; exit 1; }
U=$NGINX_URL
AL=$T/access.log

# J NAME EXPR: EXPR over j = the one JSON object run NAME printed on stdout.
J() { jl "$(out "$1")" "(lambda j: $2)(rows[0]) if len(rows) == 1 else 'got %d stdout lines' % len(rows)"; }
# logged URI: access-log lines whose $request_uri is exactly URI.
logged() { awk -v u="$1" '$1 == u' "$AL" | wc -l | tr -d ' '; }

# resp_size METHOD PATH [HEADER]: the exact size on the wire (head + body) of one keep-alive
# response, from a raw HTTP/1.1 request (Content-Length or chunked framing). Probes use a query
# string, which keeps them out of the access-log counts below (static files ignore it).
resp_size() {
    "$PY" - "$NGINX_PORT" "$@" <<'EOF'
import socket, sys
port, method, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
extra = (sys.argv[4] + "\r\n").encode() if len(sys.argv) > 4 else b""
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(b"%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: probe\r\n%s\r\n"
          % (method.encode(), path.encode(), port, extra))
buf = b""
def need(cond):
    global buf
    while not cond(buf):
        d = s.recv(65536)
        if not d:
            sys.exit("connection closed early")
        buf += d
need(lambda b: b"\r\n\r\n" in b)
hl = buf.index(b"\r\n\r\n") + 4
head = buf[:hl].lower()
if method == "HEAD":
    print(hl)
elif b"\r\ntransfer-encoding: chunked" in head:
    pos = hl
    while True:
        need(lambda b: b"\r\n" in b[pos:])
        e = buf.index(b"\r\n", pos)
        n = int(buf[pos:e].split(b";")[0], 16)
        pos = e + 2
        if n == 0:  # nginx sends no trailers: the empty line follows
            need(lambda b: len(b) >= pos + 2)
            print(pos + 2)
            break
        need(lambda b: len(b) >= pos + n + 2)
        pos += n + 2
else:
    n = [int(l.split(b":", 1)[1]) for l in head.split(b"\r\n") if l.startswith(b"content-length:")][0]
    need(lambda b: len(b) >= hl + n)
    print(hl + n)
EOF
}
RESP_SIZE=$(resp_size GET /small.txt?probe)
diag "one /small.txt response is $RESP_SIZE bytes on the wire"

# --- -n 20000 -c 32 --json ----------------------------------------------------------------------
run big bench -n 20000 -c 32 --json "$U/small.txt"
diag "20,000 requests took ${ELAPSED}s: $(J big "'%.0f req/s, p50 %.3f ms, p99 %.3f ms' % (j['rps'], j['latency']['p50'] * 1e3, j['latency']['p99'] * 1e3)")"
is "$RC" 0 "big: exit 0"
is "$(J big "(j['url'], j['connections'], j['model'], j['rate'] == 0)")" "[\"$U/small.txt\", 32, \"closed\", true]" \
    "big: url, connections 32, model closed, rate 0"
is "$(J big "(j['requests'], j['ok'], j['errors'])")" "[20000, 20000, 0]" "big: requests 20000, ok 20000, errors 0"
is "$(J big "j['status']")" '{"200": 20000}' 'big: status {"200": 20000}'
is "$(J big "j['errors_by_kind']")" '{}' "big: errors_by_kind empty"
is "$(logged /small.txt)" 20000 "big: nginx logged exactly 20,000 requests for the URI"
is "$(awk '$1 == "/small.txt" && ($3 != 200 || $4 != "GET")' "$AL" | head -3)" "" "big: nginx logged only 200 GET"
is "$(J big "j['bytes']")" "$((20000 * RESP_SIZE))" "big: bytes == 20000 x $RESP_SIZE (headers + body of each response)"
is "$(J big "(j['connections_requested'], j['connections_established'], j['reconnects'])")" "[32, 32, 0]" \
    "big: 32 connections requested and established, no reconnects"
NCONN=$(awk '$1 == "/small.txt" {print $2}' "$AL" | sort -u | wc -l | tr -d ' ')
cmp_num "$NCONN" -le 32 "big: nginx saw at most 32 connections ($NCONN)"
cmp_num "$NCONN" -ge 2 "big: requests ran on several connections ($NCONN)"
is "$(J big "(lambda l: [k for k in ('min','mean','stdev','max','p50','p90','p99','p99_9','p99_99') if not (isinstance(l[k], (int, float)) and l[k] >= 0)])(j['latency'])")" \
    "[]" "big: every latency figure is a number >= 0"
is "$(J big "j['latency']['unit']")" s "big: latency unit is s"
is "$(J big "(lambda l: l['min'] > 0 and l['min'] <= l['p50'] <= l['p90'] <= l['p99'] <= l['p99_9'] <= l['p99_99'] <= l['max'] and l['min'] <= l['mean'] <= l['max'])(j['latency'])")" \
    true "big: 0 < min <= p50 <= p90 <= p99 <= p99.9 <= p99.99 <= max, min <= mean <= max"
is "$(J big "j['latency']['max'] < 5 and j['latency']['stdev'] < j['latency']['max']")" true "big: latencies are plausible (max < 5 s, stdev < max)"
is "$(J big "abs(j['rps'] - j['requests'] / j['duration']) <= 0.01 * j['rps'] and abs(j['bytes_per_sec'] - j['bytes'] / j['duration']) <= 0.01 * j['bytes_per_sec']")" \
    true "big: rps and bytes_per_sec agree with requests, bytes and duration"
is "$(J big "0 < j['duration'] <= $ELAPSED + 0.05")" true "big: duration > 0 and no longer than the run"
is "$(J big "j['max_lag'] == 0 and j['late_sends'] == 0")" true "big: closed model: max_lag 0, late_sends 0"
is "$(cat "$(err big)")" "" "big: nothing on stderr"

# --- HEAD, a 1 MiB body, a chunked body: bytes on the wire are exact ---------------------------------
run head bench -n 100 -c 4 -X HEAD --json "$U/small.txt?head"
HSIZE=$(resp_size HEAD /small.txt?probe)
is "$(J head "(j['requests'], j['ok'], j['status'], j['bytes'])")" "[100, 100, {\"200\": 100}, $((100 * HSIZE))]" \
    "HEAD: 100 ok, bytes == 100 x $HSIZE (the head only)"
is "$(awk '$1 == "/small.txt?head" && $4 == "HEAD"' "$AL" | wc -l | tr -d ' ')" 100 "HEAD: nginx logged 100 HEAD requests"
run bigbody bench -n 200 -c 4 --json "$U/big.bin"
BSIZE=$(resp_size GET /big.bin?probe)
is "$(J bigbody "(j['requests'], j['ok'], j['bytes'])")" "[200, 200, $((200 * BSIZE))]" "1 MiB body: 200 ok, bytes == 200 x $BSIZE"
is "$(logged /big.bin)" 200 "1 MiB body: nginx logged exactly 200"
run gz bench -n 500 -c 4 -H 'Accept-Encoding: gzip' --json "$U/gz/text.txt"
GSIZE=$(resp_size GET /gz/text.txt?probe 'Accept-Encoding: gzip')
is "$(J gz "(j['requests'], j['ok'], j['errors'], j['bytes'], j['reconnects'])")" "[500, 500, 0, $((500 * GSIZE)), 0]" \
    "chunked gzip body: 500 ok, bytes == 500 x $GSIZE, keep-alive kept (no reconnects)"
is "$(logged /gz/text.txt)" 500 "chunked gzip body: nginx logged exactly 500"

# --- -n smaller than -c ---------------------------------------------------------------------------
run few bench -n 5 -c 32 --json "$U/small.txt?few"
is "$(J few "(j['requests'], j['ok'], j['status'])")" '[5, 5, {"200": 5}]' "-n 5 -c 32: exactly 5 requests reported"
is "$(logged '/small.txt?few')" 5 "-n 5 -c 32: nginx got exactly 5"

# --- -d 1 -------------------------------------------------------------------------------------------
run dur bench -d 1 -c 8 --json "$U/small.txt?d1"
is "$RC" 0 "-d 1: exit 0"
awk -v e="$ELAPSED" 'BEGIN { exit !(e < 3) }'; ok $? "-d 1: ends in < 3 s (${ELAPSED}s)"
is "$(J dur "j['requests'] > 0 and j['ok'] == j['requests']")" true "-d 1: requests > 0, all ok ($(J dur "j['requests']"))"
is "$(J dur "0.95 <= j['duration'] <= 1.5")" true "-d 1: duration ~1 s ($(J dur "j['duration']"))"
NL=$(logged '/small.txt?d1')
is "$(J dur "j['requests'] <= $NL <= j['requests'] + 8")" true \
    "-d 1: nginx logged the reported requests, plus at most the 8 in flight at the end ($NL)"

# --- text report ------------------------------------------------------------------------------------
run text bench -n 1000 -c 4 "$U/small.txt?text"
TXT=$(cat "$(out text)")
is "$RC" 0 "text: exit 0"
like "$TXT" 'requests' "text: mentions requests"
like "$TXT" '1,?000' "text: gives the request count"
like "$TXT" 'latency' "text: has a latency line"
like "$TXT" 'p99' "text: gives p99"
like "$TXT" 'status' "text: has the status counts"
like "$TXT" '200: ?1,?000' "text: 200 counted 1000 times"
unlike "$TXT" '^\{' "text: not JSON without --json"

# --- --latency-file -----------------------------------------------------------------------------------
run hgrm bench -n 2000 -c 4 --json --latency-file "$T/lat.hgrm" "$U/small.txt?hgrm"
is "$RC" 0 "--latency-file: exit 0"
ok_cmd "--latency-file: HdrHistogram text: header, increasing percentiles, footer; agrees with --json" \
    "$PY" - "$T/lat.hgrm" "$(out hgrm)" <<'EOF'
import json, sys
lines = open(sys.argv[1]).read().split("\n")
j = json.load(open(sys.argv[2]))
bad = []
if " ".join(lines[0].split()) != "Value Percentile TotalCount 1/(1-Percentile)":
    bad.append("header line is %r" % lines[0])
rows, footer = [], [l for l in lines if l.startswith("#[")]
for l in lines[1:]:
    f = l.split()
    if not f or l.startswith("#"):
        continue
    if len(f) not in (3, 4):
        bad.append("odd row %r" % l)
        continue
    rows.append((float(f[0]), float(f[1]), int(f[2])))
if len(rows) < 10:
    bad.append("only %d rows" % len(rows))
else:
    if any(b[1] <= a[1] for a, b in zip(rows, rows[1:])):
        bad.append("percentiles not strictly increasing")
    if any(b[0] < a[0] for a, b in zip(rows, rows[1:])):
        bad.append("values decrease")
    if any(b[2] < a[2] for a, b in zip(rows, rows[1:])):
        bad.append("TotalCount decreases")
    if rows[0][1] != 0.0 or rows[-1][1] != 1.0:
        bad.append("percentiles run %r .. %r, want 0 .. 1" % (rows[0][1], rows[-1][1]))
    if rows[-1][2] != j["requests"]:
        bad.append("last TotalCount %d != requests %d" % (rows[-1][2], j["requests"]))
    lat = j["latency"]
    # values in milliseconds: first row the min, last row the max
    if abs(rows[0][0] - lat["min"] * 1e3) > 1e-3 or abs(rows[-1][0] - lat["max"] * 1e3) > 1e-3:
        bad.append("min/max rows %r/%r ms vs json %r/%r s" % (rows[0][0], rows[-1][0], lat["min"], lat["max"]))
if not any(l.startswith("#[Mean") for l in footer):
    bad.append("no #[Mean footer")
else:
    mean = float([l for l in footer if l.startswith("#[Mean")][0].split("=")[1].split(",")[0])
    if abs(mean - j["latency"]["mean"] * 1e3) > 1e-3:
        bad.append("footer mean %r ms vs json %r s" % (mean, j["latency"]["mean"]))
tc = [l for l in footer if "Total count" in l]
if not tc or int(tc[0].split("=")[-1].strip(" ]")) != j["requests"]:
    bad.append("footer Total count missing or != requests: %r" % tc)
print("\n".join(bad))
sys.exit(1 if bad else 0)
EOF

# --- reconnects: nginx closes every connection after 10 requests -------------------------------------
run short bench -n 2000 -c 8 --json "$U/short/small.txt"
is "$(J short "(j['requests'], j['ok'], j['errors'], j['status'])")" '[2000, 2000, 0, {"200": 2000}]' \
    "keepalive_requests 10: all 2000 ok, no errors"
is "$(logged /short/small.txt)" 2000 "keepalive_requests 10: nginx logged exactly 2000"
NC=$(awk '$1 == "/short/small.txt" {print $2}' "$AL" | sort -u | wc -l | tr -d ' ')
is "$(J short "j['reconnects'] >= 190 and $NC <= j['connections_requested'] <= $NC + 8")" true \
    "keepalive_requests 10: >= 190 reconnects; requested ~ nginx's $NC connections ($(J short "(j['connections_requested'], j['reconnects'])"))"
is "$(J short "j['connections_requested'] == j['connections'] + j['reconnects'] == j['connections_established']")" true \
    "keepalive_requests 10: requested == -c + reconnects == established"

# --- request bodies, at http_server.py's echo case -----------------------------------------------------
srv_start "$T" || { echo "Bail out! http_server.py did not start"; exit 1; }
# Q PREFIX EXPR: EXPR over the server's records whose target starts with PREFIX (list qs).
Q() { jl "$SRV_LOG" "(lambda qs: $2)([q for q in rows if q.get('target', '').startswith('$1')])"; }
run post bench -n 3 -c 2 --json --data 'a=1&b=two' "$SRV_URL/case/echo/post"
is "$(J post "(j['requests'], j['ok'], j['status'])")" '[3, 3, {"200": 3}]' "--data: 3 requests, all 200"
is "$(Q /case/echo/post "[(q['method'], body(q).decode(), hdr(q, 'Content-Length')) for q in qs]")" \
    '[["POST", "a=1&b=two", ["9"]], ["POST", "a=1&b=two", ["9"]], ["POST", "a=1&b=two", ["9"]]]' \
    "--data: the server got 3 POSTs with the exact body and Content-Length"
# The echo answer is the request itself: its size on the wire is known from the server's log.
is "$(Q /case/echo/post "sum(len(b'HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n' % (len(hx(q['head_hex'])) + q['body_len'])) + len(hx(q['head_hex'])) + q['body_len'] for q in qs) == $(J post "j['bytes']")")" \
    true "--data: bytes == the echo responses' exact size"
JB='{"k": [1, 2], "s": "é"}'
printf '%s' "$JB" >"$T/json.txt"
run pjson bench -n 2 -c 1 --json --data-json "$JB" "$SRV_URL/case/echo/json"
is "$(Q /case/echo/json "[(q['method'], body(q), hdr(q, 'Content-Type'), hdr(q, 'Accept')) for q in qs] == [('POST', open('$T/json.txt', 'rb').read(), ['application/json'], ['application/json'])] * 2")" \
    true \
    "--data-json: POST, exact body, Content-Type and Accept application/json"
"$PY" -c 'import sys; open(sys.argv[1], "wb").write(b"\x00\xff\r\n--\x01" + bytes(range(256)) * 8)' "$T/body.bin"
run pfile bench -n 2 -c 2 --json -X PUT -H 'X-Bench: 1' --data "@$T/body.bin" "$SRV_URL/case/echo/file"
is "$(Q /case/echo/file "[(q['method'], q['body_sha256'], hdr(q, 'X-Bench')) for q in qs] == [('PUT', hashlib.sha256(open('$T/body.bin', 'rb').read()).hexdigest(), ['1'])] * 2")" \
    true "--data @FILE with -X PUT -H: the file's exact bytes, twice, with the header"
is "$(J pfile "(j['requests'], j['ok'])")" '[2, 2]' "--data @FILE: 2 requests ok"

# --- usage errors -------------------------------------------------------------------------------------------
DEAD=http://127.0.0.1:$(free_port)/
SPATE_TIMEOUT=10
# usage NAME ERE DESC ARGS...: exit 2, nothing on stdout, stderr matching ERE.
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
usage u_two 'URL' "two URLs: exit 2, says URL" -n 1 "$DEAD" "$DEAD"
usage u_none 'URL' "no URL: exit 2, says URL" -n 1
usage u_d0 "duration|'-d'" "-d 0: exit 2, names --duration" -d 0 "$DEAD"
usage u_dneg "duration|'-d'" "-d -1: exit 2, names --duration" -d -1 "$DEAD"
usage u_dabc "duration|'-d'" "-d abc: exit 2, names --duration" -d abc "$DEAD"
usage u_n0 "requests|'-n'" "-n 0: exit 2, names --requests" -n 0 "$DEAD"
usage u_c0 "connections|'-c'" "-c 0: exit 2, names --connections" -c 0 "$DEAD"
usage u_R0 "rate|'-R'" "-R 0: exit 2, names --rate" -R 0 "$DEAD"
usage u_Rneg "rate|'-R'" "-R -5: exit 2, names --rate" -R -5 "$DEAD"
usage u_unk 'bogus' "unknown option --bogus: exit 2, names it" --bogus "$DEAD"
usage u_unks "'-Z'|-Z" "unknown option -Z: exit 2, names it" -Z "$DEAD"
usage u_miss "'-n'|requests" "-n without a value: exit 2, names it" "$DEAD" -n
usage u_hdr 'header|-H|Header' "-H without a colon: exit 2" -H 'NoColon' -n 1 "$DEAD"

sanitizer_sweep "no sanitizer report in any run"
done_testing
