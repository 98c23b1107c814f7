#!/bin/sh
# t_tls_hostile.sh: `spate fetch` against TLS servers that misbehave (tls_server.py), HOSTILE.md
# section 4: a server that accepts TCP and never speaks TLS, one that sends half a record header
# and stalls (T6: --connect-timeout, bounded, the slot is released); one that closes after reading
# the ClientHello; close without close_notify after a complete Content-Length response (T9: ok);
# close (with or without close_notify) in the middle of a Content-Length body (T11: truncated);
# a body delimited by EOF with and without close_notify (T10: the bytes are delivered); an 8 MiB
# POST to a slow reader (T17: partial SSL_write retries keep the bytes intact).
# Runs $SPATE_BIN (ASan+UBSan in `make test`); every run is checked for sanitizer reports.
. "$(dirname "$0")/lib/tap.sh"
. "$TAP_LIB/tls_certs.sh"
require_spate
command -v openssl >/dev/null 2>&1 || skip_all "openssl CLI not found"
plan 26

tmpdir T
make_certs "$T" || { echo "Bail out! make_certs failed"; exit 1; }
CA="--cacert $T/ca.crt"

MODES="stall partial hs_close noclose trunc_notify trunc_noclose eofbody eofbody_notify sha"
py_start "$T/ts" tls_server.py "$T/good.crt" "$T/leaf.key" $MODES
set -- $PY_PORTS
for _m in $MODES; do
    [ -n "${1:-}" ] || { echo "Bail out! tls_server.py did not start: $(cat "$T/ts.stderr")"; exit 1; }
    eval "P_$_m=\$1"
    shift
done
u() { echo "https://localhost:$(eval echo "\$P_$1")/$2"; }

# f NAME EXPR: EXPR over r = the single result line of run NAME.
f() { jl "$(out "$1")" "(lambda r: $2)(rows[0]) if len(rows) == 1 else 'got %d result lines' % len(rows)"; }
secs_below() { echo "$ELAPSED" | awk -v hi="$1" '{ exit !($1 < hi) }'; }

# --- T6: handshake stalls ------------------------------------------------------------------------
run stall fetch $CA --connect-timeout 1 "$(u stall x)"
is "$RC" 1 "never speaks TLS: exit 1"
is "$(f stall "[r['error']['kind'], r['status'], r['attempts']]")" '["timeout", null, 1]' \
    "never speaks TLS, --connect-timeout 1: kind timeout"
like_i "$(f stall "r['error']['message']")" 'tls|handshake' "never speaks TLS: the message says the TLS handshake did not finish"
secs_below 5; ok $? "never speaks TLS: bounded (${ELAPSED}s < 5 s)"
is "$(f stall "0.9 <= r['time']['total'] < 4")" true "never speaks TLS: time.total ~ the 1 s timeout"

# -c 1: each stalled handshake must release the only slot for the next request
run stalls fetch -c 1 $CA --connect-timeout 1 "$(u stall a)" "$(u partial b)" "$(u noclose c)"
is "$(jl "$(out stalls)" "[(r['error'] or {}).get('kind') for r in sorted(rows, key=lambda r: r['id'])]")" \
    '["timeout", "timeout", null]' "-c 1: silent server, half a record header: both time out; the next request is served"
secs_below 5; ok $? "-c 1: two 1 s handshake timeouts and a request in ${ELAPSED}s (< 5 s)"

# --- closed mid-handshake ----------------------------------------------------------------------------
run hsclose fetch $CA --timeout 10 "$(u hs_close x)"
is "$RC" 1 "closes after the ClientHello: exit 1"
like "$(f hsclose "r['error']['kind']")" '^(tls|reset)$' "closes after the ClientHello: kind tls or reset"
like_i "$(f hsclose "r['error']['message']")" 'handshake' "closes after the ClientHello: the message says during the handshake"
secs_below 5; ok $? "closes after the ClientHello: no hang (${ELAPSED}s)"

# --- T9: no close_notify after a complete Content-Length response ------------------------------------
run noclose fetch -v -c 1 --body $CA "$(u noclose a)" "$(u noclose b)"
is "$RC" 0 "close without close_notify after a complete Content-Length body: exit 0"
is "$(jl "$(out noclose)" "sorted([r['ok'], r['status'], r.get('body'), r['error']] for r in rows)")" \
    '[[true, 200, "ok", null], [true, 200, "ok", null]]' "close without close_notify: both results ok, body intact"

# --- T11: closed in the middle of a Content-Length body ------------------------------------------------
for m in trunc_notify trunc_noclose; do
    run "$m" fetch --body --timeout 10 $CA "$(u "$m" x)"
    is "$RC" 1 "$m: 10 of 100 bytes then close: exit 1"
    is "$(f "$m" "[r['ok'], r['error']['kind'], r['bytes']]")" '[false, "reset", 10]' \
        "$m: kind reset, 10 bytes counted (a clean TLS close does not make a short body complete)"
    like "$(f "$m" "r['error']['message']")" 'truncated' "$m: the message says truncated"
done

# --- T10: body delimited by EOF ----------------------------------------------------------------------------
run eofbody fetch --body --timeout 10 $CA "$(u eofbody x)"
is "$(f eofbody "[r['status'], r['bytes'], r.get('body')]")" '[200, 12, "partial-body"]' \
    "EOF-delimited body, no close_notify: the 12 bytes are delivered"
diag "EOF-delimited body without close_notify: ok=$(f eofbody "r['ok']") error=$(f eofbody "r['error']")"
run eofbody_n fetch --body --timeout 10 $CA "$(u eofbody_notify x)"
is "$RC $(f eofbody_n "[r['ok'], r['status'], r['bytes'], r.get('body'), r['error']]")" \
    '0 [true, 200, 12, "partial-body", null]' "EOF-delimited body ended by close_notify: plain success"

# --- T17: 4 MiB POST bodies to a slow reader (SSL_write returns partial / WANT_WRITE) -----------------------
head -c 4194304 /dev/urandom >"$T/body.bin"
SUM=$(sha256sum "$T/body.bin" | cut -d' ' -f1)
run post fetch -c 2 --body --timeout 30 $CA -d @"$T/body.bin" "$(u sha a)" "$(u sha b)"
is "$RC" 0 "4 MiB POST x2 to a slow TLS reader: exit 0"
is "$(jl "$(out post)" "sorted([r['status'], r.get('body')] for r in rows)")" "[[200, \"$SUM\"], [200, \"$SUM\"]]" \
    "4 MiB POST x2: the server's SHA-256 of each body matches the file"
diag "4 MiB POST x2 to the slow reader took ${ELAPSED}s"
# and the same connection used again afterwards: the TLS state is still sane after long writes
run post2 fetch -v -c 1 --body --timeout 30 $CA -d @"$T/body.bin" "$(u sha a)" "$(u sha b)"
is "$(jl "$(out post2)" "sorted([r['status'], r.get('body')] for r in rows)")" "[[200, \"$SUM\"], [200, \"$SUM\"]]" \
    "4 MiB POST twice on one connection: both hashes match"
like "$(cat "$(err post2)")" '#1 .*\(reused' "4 MiB POST twice on one connection: the second request reused it"

sanitizer_sweep "no sanitizer report in any run"
done_testing
