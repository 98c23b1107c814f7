#!/bin/sh
# t_fetch_request.sh: what `spate fetch` puts on the wire, byte for byte, checked from the
# requests http_server.py logged: method, headers, bodies (-d, -d @FILE, --json), auth,
# User-Agent, Host; JSON input lines (method, headers, body, json, id) and the echoed ids.
. "$(dirname "$0")/lib/tap.sh"
require_spate
plan 56

tmpdir T
srv_start "$T" || { echo "Bail out! http_server.py did not start"; exit 1; }
E=$SRV_URL/case/echo

# q TAG EXPR: EXPR over q = the single logged request whose target is /case/echo/TAG
# (prints "logged N times" when there is not exactly one).
q() {
    jl "$SRV_LOG" "(lambda m: (lambda q: $2)(m[0]) if len(m) == 1 else 'logged %d times' % len(m))([r for r in rows if r.get('target') == '/case/echo/$1'])"
}

# --- defaults ---------------------------------------------------------------------------------------
run get fetch -q --body "$E/get?a=1&b=%20x"
is "$RC" 0 "GET: exit 0"
is "$(jl "$SRV_LOG" "[reqline(r) for r in rows if r.get('target', '').startswith('/case/echo/get')]")" \
    '["GET /case/echo/get?a=1&b=%20x HTTP/1.1"]' "GET: request line exact, query kept as given, sent once"
is "$(jl "$SRV_LOG" "[hdr(r, 'Host') for r in rows if r.get('target', '').startswith('/case/echo/get')]")" \
    "[[\"127.0.0.1:$SRV_PORT\"]]" "GET: exactly one Host header, with the port"
like "$(jl "$SRV_LOG" "[hdr(r, 'User-Agent') for r in rows if r.get('target', '').startswith('/case/echo/get')]")" \
    '^\[\["spate/[0-9][^"]*"\]\]$' "GET: default User-Agent spate/VERSION, once"
is "$(jl "$SRV_LOG" "[r['body_len'] for r in rows if r.get('target', '').startswith('/case/echo/get')]")" "[0]" \
    "GET: no body sent"
is "$(jl "$(out get)" "(lambda r, q: r['body'] == q['head'] and r['bytes'] == len(q['head']) and r['method'] == 'GET')(rows[0], [x for x in log if x.get('target', '').startswith('/case/echo/get')][0])" "log=$SRV_LOG")" \
    true "GET: the echoed body equals the logged request, bytes counts it"

# --- -X, -H ---------------------------------------------------------------------------------------------
run put fetch -q -X PUT "$E/put"
is "$(q put "reqline(q)")" "PUT /case/echo/put HTTP/1.1" "-X PUT: request line"
is "$(jl "$(out put)" "rows[0]['method']")" PUT "-X PUT: output method PUT"

run hdrs fetch -q -H 'X-A: 1' -H 'X-B: two' "$E/hdrs"
is "$(q hdrs "[hdr(q, 'X-A'), hdr(q, 'X-B')]")" '[["1"], ["two"]]' "-H: both headers sent once with their values"
is "$(q hdrs "'\r\nX-A: 1\r\n' in q['head'] and '\r\nX-B: two\r\n' in q['head']")" true "-H: header lines sent as written"
is "$(q hdrs "reqline(q)")" "GET /case/echo/hdrs HTTP/1.1" "-H: method stays GET"

# --- bodies ---------------------------------------------------------------------------------------------------
run d fetch -q -d 'a=b' "$E/d"
is "$(q d "reqline(q)")" "POST /case/echo/d HTTP/1.1" "-d: method POST"
is "$(q d "hdr(q, 'Content-Length')")" '["3"]' "-d: Content-Length 3"
is "$(q d "body(q) == b'a=b'")" true "-d: body a=b"
is "$(q d "hdr(q, 'Transfer-Encoding')")" "[]" "-d: no Transfer-Encoding"
is "$(jl "$(out d)" "rows[0]['method']")" POST "-d: output method POST"

run xd fetch -q -X PUT -d 'xyz' "$E/xd"
is "$(q xd "(reqline(q), hdr(q, 'Content-Length'), body(q).decode())")" \
    '["PUT /case/echo/xd HTTP/1.1", ["3"], "xyz"]' "-X PUT -d: PUT with the body"

"$PY" -c 'import sys
data = b"\x00\r\n\r\nHTTP/1.1 200 OK\r\n\xff\xfe\x00" + bytes(range(256)) * 200 + b"\r\n"
open(sys.argv[1], "wb").write(data)' "$T/bin.dat"
SIZE=$(wc -c <"$T/bin.dat" | tr -d ' ')
run dfile fetch -q -d "@$T/bin.dat" "$E/dfile"
is "$(q dfile "reqline(q)")" "POST /case/echo/dfile HTTP/1.1" "-d @FILE: method POST"
is "$(q dfile "hdr(q, 'Content-Length')")" "[\"$SIZE\"]" "-d @FILE: Content-Length is the file size"
is "$(q dfile "body(q) == open('$T/bin.dat', 'rb').read()")" true "-d @FILE: body is the file's bytes unchanged (NUL, CR, LF, 0xff)"
is "$(jl "$(out dfile)" "rows[0]['ok'] and rows[0]['bytes'] > $SIZE")" true "-d @FILE: echoed back whole (bytes > file size)"

run json fetch -q --json '{"k":1}' "$E/json"
is "$(q json "reqline(q)")" "POST /case/echo/json HTTP/1.1" "--json: method POST"
is "$(q json "hdr(q, 'Content-Type')")" '["application/json"]' "--json: Content-Type application/json, once"
is "$(q json "hdr(q, 'Accept')")" '["application/json"]' "--json: Accept application/json, once"
is "$(q json "(body(q).decode(), hdr(q, 'Content-Length'))")" '["{\"k\":1}", ["7"]]' "--json: body sent as given"

# --- auth, User-Agent -------------------------------------------------------------------------------------------
run bearer fetch -q --bearer TOK "$E/bearer"
is "$(q bearer "hdr(q, 'Authorization')")" '["Bearer TOK"]' "--bearer: Authorization: Bearer TOK"
run basic fetch -q -u user:pw "$E/basic"
is "$(q basic "hdr(q, 'Authorization')")" '["Basic dXNlcjpwdw=="]' "-u: Authorization: Basic base64(user:pw)"
run basic2 fetch -q -u 'us:er:p@ss' "$E/basic2"
is "$(q basic2 "base64.b64decode(hdr(q, 'Authorization')[0].split()[1]).decode()")" 'us:er:p@ss' \
    "-u: a password with ':' and '@' is sent intact"
run ua fetch -q -A 'agent/1.0 (test)' "$E/ua"
is "$(q ua "hdr(q, 'User-Agent')")" '["agent/1.0 (test)"]' "-A: User-Agent replaced, sent once"

# --- JSON input lines ----------------------------------------------------------------------------------------------
cat >"$T/in.jsonl" <<EOF
# requests as JSON objects, mixed with a plain URL
{"url": "$E/j0", "method": "PATCH", "headers": {"X-J": "v", "X-K": "w w"}, "body": "hello", "id": "abc"}
{"url": "$E/j1", "json": {"a": [1, 2], "b": "x\u00e9"}, "id": 7}

{"url": "$E/j2", "id": {"x": [1, null]}}
$E/j3
{"url": "$E/j4"}
{"url": "$E/j5", "method": "DELETE"}
{"url": "$E/j6", "id": 2.5}
EOF
run jin fetch -q -H 'X-G: g' -i "$T/in.jsonl"
O=$(out jin)
is "$RC" 0 "JSON lines: exit 0"
is "$(wc -l <"$O" | tr -d ' ')" 7 "JSON lines: 7 results"
is "$(q j0 "(reqline(q), hdr(q, 'X-J'), hdr(q, 'X-K'), body(q).decode(), hdr(q, 'Content-Length'))")" \
    '["PATCH /case/echo/j0 HTTP/1.1", ["v"], ["w w"], "hello", ["5"]]' "JSON lines: method, headers and body sent"
is "$(q j0 "hdr(q, 'X-G')")" '["g"]' "JSON lines: command-line -H applies to them too"
is "$(q j1 "(reqline(q).split()[0], json.loads(body(q)), hdr(q, 'Content-Type'))")" \
    '["POST", {"a": [1, 2], "b": "x\u00e9"}, ["application/json"]]' "JSON lines: json is sent serialized, as POST, with its content type"
is "$(q j1 "hdr(q, 'Content-Length') == [str(len(body(q)))]")" true "JSON lines: json body has a right Content-Length"
is "$(q j2 "reqline(q)")" "GET /case/echo/j2 HTTP/1.1" "JSON lines: method defaults to GET"
is "$(q j5 "reqline(q)")" "DELETE /case/echo/j5 HTTP/1.1" "JSON lines: DELETE"
u() { jl "$O" "[r['id'] for r in rows if r['url'] == '$E/$1']"; }
is "$(u j0)" '["abc"]' "JSON lines: string id echoed"
is "$(u j1)" '[7]' "JSON lines: number id echoed"
is "$(u j2)" '[{"x": [1, null]}]' "JSON lines: object id echoed as given"
is "$(u j3)" '[3]' "JSON lines: a plain URL line gets its request index"
is "$(u j4)" '[4]' "JSON lines: an object without id gets its request index"
is "$(u j5)" '[5]' "JSON lines: ids count requests, not lines (comment and blank skipped)"
is "$(u j6)" '[2.5]' "JSON lines: a fractional id stays as given"
is "$(jl "$O" "sorted(r['method'] for r in rows)")" '["DELETE", "GET", "GET", "GET", "GET", "PATCH", "POST"]' \
    "JSON lines: output method fields"
is "$(jl "$O" "all(r['ok'] and r['status'] == 200 for r in rows)")" true "JSON lines: all ok"

# --- request-level body beats nothing: JSON line body with -X from the command line --------------------------------
printf '{"url": "%s", "body": "B"}\n' "$E/jx" >"$T/jx.jsonl"
run jx fetch -q -X PUT -i "$T/jx.jsonl"
is "$(q jx "(reqline(q).split()[0], body(q).decode())")" '["PUT", "B"]' "JSON lines: -X applies to a line without method"

# --- several requests on one connection: each one framed right ---------------------------------------------------------
run seq fetch -q -c 1 -d 'p1' "$E/s1" "$E/s2" "$E/s3"
is "$(jl "$SRV_LOG" "len(set(r['conn'] for r in rows if r.get('target', '').startswith('/case/echo/s')))")" 1 \
    "-c 1: three POSTs share one keep-alive connection"
is "$(jl "$SRV_LOG" "[body(r).decode() for r in rows if r.get('target', '').startswith('/case/echo/s')]")" '["p1", "p1", "p1"]' \
    "-c 1: each request on the connection has its whole body"
is "$(jl "$(out seq)" "all(r['ok'] for r in rows) and len(rows) == 3")" true "-c 1: all three ok"

# --- headers: a user Host header, a header with an empty value -------------------------------------------------------
run uhost fetch -q -H 'Host: example.test' "$E/uhost"
is "$(q uhost "hdr(q, 'Host')")" '["example.test"]' "-H Host: replaces the Host header (sent once)"
run uagent fetch -q -H 'User-Agent: mine' "$E/uagent"
is "$(q uagent "hdr(q, 'User-Agent')")" '["mine"]' "-H User-Agent: replaces the default (sent once)"

# --- what the server saw overall ---------------------------------------------------------------------------------------
is "$(jl "$SRV_LOG" "[r['head'] for r in rows if 'head' in r and not r['head'].endswith('\r\n\r\n')][:1]")" "[]" \
    "every request head ends with CRLF CRLF"
is "$(jl "$SRV_LOG" "[l for r in rows if 'head' in r for l in r['head'].split('\r\n') if '\n' in l or '\r' in l or '\0' in l][:2]")" "[]" \
    "no bare CR, LF or NUL inside any header line"
is "$(jl "$SRV_LOG" "[r['target'] for r in rows if 'head' in r and not r['head'].split('\r\n')[0].endswith(' HTTP/1.1')][:2]")" "[]" \
    "every request line ends in HTTP/1.1"

sanitizer_sweep "no sanitizer report in any run"
done_testing
