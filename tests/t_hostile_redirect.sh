#!/bin/sh
# t_hostile_redirect.sh: hostile servers, HOSTILE.md §2 E (cases 54-61): redirect loops,
# credential stripping across origins, non-HTTP targets, malformed Location headers, method rules,
# header budgets across hops and redirects with huge bodies, with tests/lib/hostile_http.py (one
# server with two ports on 127.0.0.1 and one on 127.0.0.2). Every case also asserts the baseline
# (no sanitizer report, exit status, bounded time, the right kind and message, a control request ok).
. "$(dirname "$0")/lib/tap.sh"
require_spate
eval "$("$PY" "$TAP_LIB/hostile_http.py" shell)"

tmpdir T
hsrv_start other --addr 127.0.0.2 || { echo "Bail out! hostile_http.py did not start on 127.0.0.2"; exit 1; }
OLOG=$HLOG; OPORT=$HPORT
hsrv_start srv --ports 2 || { echo "Bail out! hostile_http.py did not start"; exit 1; }
P2=${HPORTS#* }
enc() { "$PY" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
# logged LOG ERE EXPR: EXPR over the list q of requests in LOG whose target matches ERE
logged() { jl "$1" "(lambda q: $3)([r for r in rows if 'method' in r and re.search(r'''$2''', r['target'])])"; }
# redir CODE LOCATION: a path for hcase that answers CODE with that Location
redir() { echo "redirect/$1?to=$(enc "$2")"; }

# --- E54 loops: exactly max-redirs + 1 responses, then kind http "too many redirects (N)" -----------------
hcase E54.loop_self loop http 'too many redirects \(5\)' n=6 reuse=any -- -L --max-redirs 5
hcase E54.loop_default loop http 'too many redirects \(10\)' n=11 reuse=any -- -L
hcase E54.loop_ab loop_a http 'too many redirects \(4\)' n=3 reuse=any -- -L --max-redirs 4
is "$(logged "$HLOG" 'loop_b\?.*L=E54.loop_ab' 'len(q)')" 2 "E54.loop_ab: A B A B A: 2 requests to B"
hcase E54.no_follow loop ok '' status=302 reuse=any

# --- E55 credential stripping across origins ----------------------------------------------------------------------
for t in "a http://127.0.0.2:$OPORT/case/ok?e55=a" "b http://127.0.0.1:$P2/case/ok?e55=b" "d http://localhost:$HPORT/case/ok?e55=d"; do
    k=${t%% *}; loc=${t#* }
    hrun E55.cross_$k 10 fetch -q -L --timeout 2 -H 'Authorization: Bearer s3cret' -H 'Cookie: a=b' \
        -H 'Proxy-Authorization: Basic eA==' -H 'Host: evil.example' -H 'X-Keep: 1' \
        "http://127.0.0.1:$HPORT/case/$(redir 302 "$loc")&e55src=$k"
    hbase_run E55.cross_$k 0 3
    if [ "$k" = a ]; then L=$OLOG; else L=$HLOG; fi
    is "$(logged "$HLOG" "e55src=$k" "[[h[0] for h in r['headers'] if h[0] in ('Authorization', 'Cookie', 'Proxy-Authorization')] for r in q]")" \
        '[["Authorization", "Cookie", "Proxy-Authorization"]]' "E55.cross_$k: the first hop carried the credentials"
    is "$(logged "$L" "e55=$k" "[(hdr(r, 'Authorization'), hdr(r, 'Cookie'), hdr(r, 'Proxy-Authorization'), hdr(r, 'X-Keep')) for r in q]")" \
        '[[[], [], [], ["1"]]]' "E55.cross_$k: the other origin got no Authorization, Cookie, Proxy-Authorization (other headers kept)"
    case $k in a) want=127.0.0.2:$OPORT ;; b) want=127.0.0.1:$P2 ;; d) want=localhost:$HPORT ;; esac
    is "$(logged "$L" "e55=$k" "[hdr(r, 'Host') for r in q]")" "[[\"$want\"]]" "E55.cross_$k: Host is the target's authority, not the user-set one"
done
# URL userinfo (Basic auth) is not carried to another origin
hrun E55.userinfo 10 fetch -q -L --timeout 2 "http://user:pw@127.0.0.1:$HPORT/case/$(redir 302 "http://127.0.0.1:$P2/case/ok?e55=ui")&e55src=ui"
hbase_run E55.userinfo 0 3
is "$(logged "$HLOG" "e55src=ui" "[hdr(r, 'Authorization') for r in q]")" '[["Basic dXNlcjpwdw=="]]' "E55.userinfo: the first hop sent Basic auth"
is "$(logged "$HLOG" "e55=ui" "[hdr(r, 'Authorization') for r in q]")" '[[]]' "E55.userinfo: the other origin got no Authorization"
# same origin (positive control): the credentials stay
hrun E55.same_origin 10 fetch -q -L --timeout 2 -H 'Authorization: Bearer s3cret' -H 'Cookie: a=b' \
    "http://127.0.0.1:$HPORT/case/$(redir 302 "/case/ok?e55=same")"
hbase_run E55.same_origin 0 3
is "$(logged "$HLOG" "e55=same" "[(hdr(r, 'Authorization'), hdr(r, 'Cookie')) for r in q]")" '[[["Bearer s3cret"], ["a=b"]]]' \
    "E55.same_origin: a same-origin redirect keeps Authorization and Cookie"

# --- E56 non-HTTP targets: refused, nothing opened ----------------------------------------------------------------------
for t in "file file:///etc/passwd" "ftp ftp://127.0.0.1:$HPORT/e56" "gopher gopher://127.0.0.1:$HPORT/e56" "data data:,x" "javascript javascript:x"; do
    s=${t%% *}; loc=${t#* }
    hcase E56.$s "$(redir 302 "$loc")" http "redirect refused: unsupported scheme \"$s\"" reuse=any -- -L
done
is "$(logged "$HLOG" '^/e56' 'len(q)')" 0 "E56: nothing was requested from a non-HTTP target"

# --- E57 malformed Location -------------------------------------------------------------------------------------------------
hcase E57.empty "$(redir 302 '')" http 'redirect refused.*empty' reuse=any -- -L
hcase E57.ipv6_open "$(redir 302 'http://[::1')" http 'redirect refused.*IPv6' reuse=any -- -L
hcase E57.port_99999 "$(redir 302 'http://127.0.0.1:99999/')" http 'redirect refused.*port' reuse=any -- -L
hcase E57.space_host "$(redir 302 'http:// sp/')" http 'redirect refused.*host' reuse=any -- -L
hcase E57.raw_space "$(redir 302 '/case/ok?e57=raw sp')" http 'redirect refused.*character' reuse=any -- -L
hcase E57.huge_100k long_location/102400 too_large 'header section exceeds' -- -L
hcase E57.long_8k long_location/8192 ok '' bytes=2 reuse=any -- -L
hcase E57.no_location redirect/302 ok '' status=302 reuse=any -- -L
hcase E57.two_locations "redirect/302?to=$(enc /case/ok?e57=first)&to=$(enc /case/ok?e57=second)" ok '' bytes=2 reuse=any -- -L
is "$(logged "$HLOG" 'e57=(first|second)' '[r["target"] for r in q]')" '["/case/ok?e57=first"]' "E57.two_locations: the first Location is followed, once"
hcase E57.scheme_relative "$(redir 302 "//127.0.0.1:$P2/case/ok?e57=schemerel")" ok '' bytes=2 reuse=any -- -L
is "$(logged "$HLOG" 'e57=schemerel' '[r["port"] for r in q]')" "[$P2]" "E57.scheme_relative: resolved against the current scheme, to the other port"
hcase E57.dotdot "$(redir 302 '../ok?e57=dotdot')" ok '' bytes=2 reuse=any -- -L
is "$(logged "$HLOG" 'e57=dotdot' '[r["target"] for r in q]')" '["/case/ok?e57=dotdot"]' "E57.dotdot: ../ resolved per RFC 3986"
hcase E57.fragment "$(redir 302 '/case/ok?e57=frag#frag')" ok '' bytes=2 reuse=any -- -L
is "$(logged "$HLOG" 'e57=frag' '[r["target"] for r in q]')" '["/case/ok?e57=frag"]' "E57.fragment: the fragment is not sent"

# --- E58 method rules: 301/302/303 turn a POST into a GET without body; 307/308 keep method and body --------------------
for code in 301 302 303 307 308; do
    hrun E58.post_$code 10 fetch -q -L --timeout 2 -d 'hello body' "$HURL/$(redir $code "/case/ok?e58=$code")&e58src=$code"
    hbase_run E58.post_$code 0 3
    case $code in
        30[123]) want='[["GET", 0, []]]' ;;
        *) want='[["POST", 10, ["10"]]]' ;;
    esac
    is "$(logged "$HLOG" "e58=$code" "[(r['method'], r['body_len'], hdr(r, 'Content-Length')) for r in q]")" "$want" \
        "E58.post_$code: the redirected request is $want (method, body bytes, Content-Length)"
done
is "$(logged "$HLOG" 'e58(src)?=30[78]' 'len(set(r["body_sha256"] for r in q))')" 1 "E58: 307/308 re-send the identical body"
printf '{"url": "%s", "method": "HEAD"}\n' "$HURL/$(redir 303 /case/ok?e58=head)" >"$T/e58head.in"
hrun E58.head_303 10 fetch -q -L --timeout 2 -i "$T/e58head.in"
hbase_run E58.head_303 0 3
is "$(logged "$HLOG" 'e58=head' '[r["method"] for r in q]')" '["HEAD"]' "E58.head_303: a HEAD stays a HEAD after 303"

# --- E60 header budget across hops: 40 KB of headers per hop is under the per-response cap; 300 KB is not ----------------
hcase E60.hops_40k pad_loop/40000 http 'too many redirects \(10\)' n=11 reuse=any -- -L
[ -n "$MAXRSS" ] && cmp_num "$MAXRSS" -lt 200000 "E60.hops_40k: peak RSS ${MAXRSS} KiB stays bounded"
hcase E60.hop_300k pad_loop/307200 too_large 'header section exceeds 65536' -- -L

# --- E61 redirect with a 100 MiB body: bounded (follows after draining a little, or stops at --max-body) -------------------
hrun E61.huge_body_redirect 15 fetch -q -L --timeout 5 "$HURL/huge_redirect?e61=1" "$HURL/ok?ctl=E61"
NCASES=$((NCASES + 1))
sanitizer_clean "$(err E61.huge_body_redirect)" "E61.huge_body_redirect: BL1 no sanitizer report"
like "$RC" '^[01]$' "E61.huge_body_redirect: BL1 exit status 0 or 1 (got $RC)"
fle "$ELAPSED" 6; ok $? "E61.huge_body_redirect: BL2 ends within the timeout (${ELAPSED}s)"
is "$(res E61.huge_body_redirect "[(r['ok'], (r['error'] or {}).get('kind'), r['status']) for r in sorted(rows, key=lambda r: r['id'])]")" \
    '[[true, null, 200], [true, null, 200]]' \
    "E61.huge_body_redirect: the redirect is followed without reading its 100 MiB body; the control ok"
sent=$(jl "$HLOG" "max([r['bytes'] for r in rows if r.get('event') == 'sent' and 'e61=' in r['target']] or [-1])")
diag "E61: the server got $sent body bytes out before spate closed the connection"
cmp_num "$sent" -lt $((16 << 20)) "E61.huge_body_redirect: at most socket buffers' worth of the body left the server ($sent bytes)"

hcount
done_testing
