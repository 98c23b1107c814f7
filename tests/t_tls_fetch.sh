#!/bin/sh
# t_tls_fetch.sh: `spate fetch` over TLS against a private nginx (one instance, one TLS server
# block per certificate / session setting, each on its own port):
#   - 1,000 small files at -c 8 with --cacert: all ok, connections reused, time.tls measured;
#     a 4 MiB body read through TLS byte for byte (many records per read event);
#   - session resumption (TLS 1.3 tickets, TLS 1.2 tickets, TLS 1.2 session ids; server closing
#     after each response, and the client sending Connection: close): the -v stats line, the -v
#     per-request lines and nginx's $ssl_session_reused agree; a session is never used for another
#     host; a server that refuses resumption still works;
#   - certificate failures (self-signed, expired, not yet valid, wrong host, untrusted CA, IP
#     written as a DNS SAN, CN without SAN) are kind tls naming the X509 reason and are never
#     retried; -k succeeds; one bad URL does not disturb the others;
#   - IP-literal URLs (127.0.0.1, [::1]) verified against IP SANs;
#   - a plain-HTTP port on an https URL, an https port on an http URL.
# Misbehaving TLS servers are in t_tls_hostile.sh. Runs $SPATE_BIN (ASan+UBSan in `make test`).
. "$(dirname "$0")/lib/tap.sh"
. "$TAP_LIB/nginx.sh"
. "$TAP_LIB/tls_certs.sh"
require_spate
command -v openssl >/dev/null 2>&1 || skip_all "openssl CLI not found"
[ -x "$NGINX_BIN" ] || skip_all "nginx not found at $NGINX_BIN"
plan 91

tmpdir T
make_certs "$T" || { echo "Bail out! make_certs failed"; exit 1; }
CA="--cacert $T/ca.crt"
N=1000
make_files "$T/www" $N
head -c 4194304 /dev/urandom >"$T/www/big.bin"

# IPv6 on lo: can we bind [::1]?
V6=0
"$PY" -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null && V6=1

# --- one nginx, many TLS servers -------------------------------------------------------------------
# tls.log: "$server_port $request_uri $connection $status $ssl_protocol $ssl_session_reused"
# ($ssl_session_reused is "r" when the handshake resumed a session, "." otherwise).
SERVERS="good one one12 ids nores self expired notyet wrong untrusted ipasdns cnonly"
tls_server_block() { # NAME PORT
    _cert=good _x=
    case $1 in
    good) [ "$V6" = 1 ] && _x="listen [::1]:$2 ssl;" ;;
    one) _x="keepalive_requests 1;" ;;
    one12) _x="keepalive_requests 1; ssl_protocols TLSv1.2;" ;;
    ids) _x="keepalive_requests 1; ssl_protocols TLSv1.2; ssl_session_tickets off; ssl_session_cache shared:IDS:1m;" ;;
    nores) _x="keepalive_requests 1; ssl_session_tickets off; ssl_session_cache off;" ;;
    *) _cert=$1 ;;
    esac
    cat <<EOF
    server {
        listen 127.0.0.1:$2 ssl; $_x
        server_name localhost;
        root $T/www;
        access_log $T/tls.log tls;
        ssl_certificate $T/$_cert.crt;
        ssl_certificate_key $T/leaf.key;
    }
EOF
}
start_tls_nginx() {
    _try=0
    while [ $_try -lt 3 ]; do
        _try=$((_try + 1))
        _conf="log_format tls '\$server_port \$request_uri \$connection \$status \$ssl_protocol \$ssl_session_reused';
    ssl_protocols TLSv1.2 TLSv1.3;"
        _all=
        for _s in $SERVERS; do
            _p=$(free_port)
            eval "P_$_s=$_p"
            _all="$_all $_p"
            _conf="$_conf
$(tls_server_block "$_s" "$_p")"
        done
        [ "$(echo $_all | tr ' ' '\n' | sort -u | wc -l)" = "$(echo $SERVERS | wc -w)" ] || continue
        if nginx_start "$T" "$_conf"; then
            _up=1
            for _p in $_all; do wait_port "$_p" 5 || _up=0; done
            [ $_up = 1 ] && return 0
            nginx_stop
        fi
    done
    return 1
}
start_tls_nginx || { echo "Bail out! nginx with TLS did not start"; exit 1; }
G=https://localhost:$P_good

# tls_log PORT: nginx's TLS log lines of that server.
tls_log() { awk -v p="$1" '$1 == p' "$T/tls.log"; }
# vstat NAME WORD: from the -v stats line of run NAME, the number before WORD
# (opened, established, reused, handshakes) or inside "(N resumed)".
vstat() {
    sed -n 's/^spate fetch: connections \([0-9]*\) opened (\([0-9]*\) established), \([0-9]*\) reused; TLS \([0-9]*\) handshakes (\([0-9]*\) resumed).*/\1 \2 \3 \4 \5/p' \
        "$(err "$1")" | awk -v w="$2" '{ i = (w == "opened") ? 1 : (w == "established") ? 2 : (w == "reused") ? 3 : (w == "handshakes") ? 4 : 5; print $i }'
}
# f NAME EXPR: EXPR over r = the single result line of run NAME.
f() { jl "$(out "$1")" "(lambda r: $2)(rows[0]) if len(rows) == 1 else 'got %d result lines' % len(rows)"; }

# --- 1,000 files, -c 8, verified ----------------------------------------------------------------
seq 0 $((N - 1)) | sed "s|^|$G/f/|" >"$T/urls.txt"
run big fetch -v -c 8 $CA -i "$T/urls.txt"
diag "1,000 URLs over TLS took ${ELAPSED}s; $(grep 'connections' "$(err big)")"
O=$(out big)
is "$RC" 0 "1k: exit status 0"
is "$(wc -l <"$O" | tr -d ' ')" $N "1k: exactly $N output lines"
jl_schema "$O" "1k: every line is a well-formed result object"
is "$(jl "$O" "sorted(key(r['id']) for r in rows) == list(range($N))")" true "1k: ids are 0..999, each once"
is "$(jl "$O" "[r for r in rows if not (r['status'] == 200 and r['ok'] is True and r['error'] is None)][:3]")" "[]" \
    "1k: all status 200, ok, no error"
is "$(jl "$O" "[r for r in rows if r['bytes'] != len('file %d\n' % r['id'])][:3]")" "[]" "1k: bytes == file size"
NTLS=$(jl "$O" "len([r for r in rows if r['time']['tls'] > 0])")
cmp_num "$NTLS" -ge 1 "1k: time.tls > 0 on the requests that opened a connection (got $NTLS)"
cmp_num "$NTLS" -le 8 "1k: time.tls is 0 on reused connections (at most 8 requests with a handshake, got $NTLS)"
is "$(jl "$O" "[r['time'] for r in rows if r['time']['tls'] > 0 and not (r['time']['dns'] <= r['time']['connect'] < r['time']['tls'] <= r['time']['ttfb'] <= r['time']['total'])][:3]")" \
    "[]" "1k: dns <= connect < tls <= ttfb <= total when there was a handshake (points from the start)"
OPENED=$(vstat big opened)
cmp_num "$OPENED" -le 8 "1k: at most 8 connections opened (got '$OPENED')"
cmp_num "$(vstat big reused)" -ge $((N - 8)) "1k: connections reused for >= $((N - 8)) requests"
is "$(vstat big handshakes)" "$OPENED" "1k: one completed TLS handshake per connection"
AL=$(tls_log "$P_good")
is "$(echo "$AL" | awk '$2 ~ /^\/f\// && $4 == 200' | wc -l | tr -d ' ')" $N "1k: nginx logged $N TLS requests, all 200"
cmp_num "$(echo "$AL" | awk '{print $3}' | sort -u | wc -l | tr -d ' ')" -le 8 "1k: nginx saw at most 8 TLS connections"
is "$(echo "$AL" | awk '{print $5}' | sort -u | tr '\n' ' ')" "TLSv1.3 " "1k: negotiated TLS 1.3"
sanitizer_clean "$(err big)" "1k: no sanitizer report"

# 4 MiB through TLS, 3 copies at once (HOSTILE T18): every byte, no stall. SSL_read returns one
# record (<= 16 KiB) at a time, so a read shorter than the buffer does not mean the socket is
# drained; with edge-triggered epoll a client that stops reading there waits forever.
mkdir "$T/dl"
run bigbody fetch -c 3 --timeout 10 $CA -o "$T/dl" "$G/big.bin" "$G/big.bin" "$G/big.bin"
is "$RC $(jl "$(out bigbody)" "[r['bytes'] for r in rows]")" "0 [4194304, 4194304, 4194304]" \
    "4 MiB body x3: exit 0, all bytes counted"
ok_cmd "4 MiB body x3: the files are byte-identical to the served one" \
    sh -c "cmp '$T/www/big.bin' '$T/dl/0' && cmp '$T/www/big.bin' '$T/dl/1' && cmp '$T/www/big.bin' '$T/dl/2'"

# --- session resumption -----------------------------------------------------------------------------
# resume NAME PORT PROTO [ARGS...]: 20 requests -c 1 to a server that closes after each response.
resume() {
    _n=$1 _p=$2 _proto=$3; shift 3
    seq 0 19 | sed "s|^|https://localhost:$_p/f/|" >"$T/$_n.txt"
    run "$_n" fetch -v -c 1 $CA "$@" -i "$T/$_n.txt"
    _hs=$(vstat "$_n" handshakes) _res=$(vstat "$_n" resumed)
    diag "$_n: $(grep connections "$(err "$_n")")"
    is "$RC/$(jl "$(out "$_n")" "len([r for r in rows if r['ok']])")" "0/20" "$_n: exit 0, 20 results ok"
    is "$_hs" 20 "$_n: 20 TLS handshakes (a new connection per request)"
    is "$_res" 19 "$_n: 19 of them resumed (every connection after the first)"
    is "$(grep -c '(new, TLS resumed)' "$(err "$_n")")" "$_res" "$_n: -v shows 'TLS resumed' on each resumed request"
    is "$(grep '#0 ' "$(err "$_n")" | grep -c 'resumed')" 0 "$_n: the first connection did a full handshake"
    is "$(tls_log "$_p" | awk '{print $6}' | sort | uniq -c | awk '{printf "%s%s ", $1, $2}')" "1. 19r " \
        "$_n: nginx agrees: 1 full handshake, 19 resumed"
    is "$(tls_log "$_p" | awk '{print $5}' | sort -u | tr '\n' ' ')" "$_proto " "$_n: negotiated $_proto"
    is "$(jl "$(out "$_n")" "[r['id'] for r in rows if not r['time']['tls'] > 0][:3]")" "[]" \
        "$_n: time.tls > 0 on every request (each did a handshake, resumed or not)"
}
resume resume13 "$P_one" TLSv1.3
resume resume12 "$P_one12" TLSv1.2
resume resume_ids "$P_ids" TLSv1.2

# Connection: close from the client on a keep-alive server: the same, client-initiated close.
: >"$T/cc.txt"
for i in 0 1 2 3 4 5; do echo "$G/f/$i" >>"$T/cc.txt"; done
run cclose fetch -v -c 1 $CA -H 'Connection: close' -i "$T/cc.txt"
is "$RC $(vstat cclose handshakes) $(vstat cclose resumed)" "0 6 5" \
    "Connection: close: 6 handshakes, 5 resumed, exit 0"

# A server that refuses resumption (no tickets, no cache): full handshakes, no errors.
seq 0 5 | sed "s|^|https://localhost:$P_nores/f/|" >"$T/nores.txt"
run nores fetch -v -c 1 $CA -i "$T/nores.txt"
is "$RC $(vstat nores handshakes) $(vstat nores resumed)" "0 6 0" \
    "server without resumption: 6 full handshakes, 0 resumed, exit 0"
is "$(tls_log "$P_nores" | awk '$6 == "r"' | wc -l | tr -d ' ')" 0 "server without resumption: nginx resumed none"

# A session belongs to host:port: localhost's session is not used for 127.0.0.1 (same server).
P=$P_one
run hosts fetch -v -c 1 $CA "https://localhost:$P/f/1" "https://127.0.0.1:$P/f/2" \
    "https://localhost:$P/f/3" "https://127.0.0.1:$P/f/4"
is "$RC" 0 "per-host sessions: exit 0"
is "$(sed -n 's/^spate fetch: #\([0-9]\) .*(new\(, TLS resumed\)\{0,1\}).*/\1\2/p' "$(err hosts)" | sort | tr '\n' '|')" \
    "0|1|2, TLS resumed|3, TLS resumed|" \
    "per-host sessions: the first 127.0.0.1 connection is a full handshake; later ones per host resume"
sanitizer_sweep "resumption: no sanitizer report"

# --- certificate failures -------------------------------------------------------------------------
# badcert NAME URL REASON_ERE
badcert() {
    run "$1" fetch $CA --retries 2 --backoff 0.01 "$2"
    is "$RC" 1 "$1: exit 1"
    is "$(f "$1" "[r['ok'], r['status'], r['error']['kind'], r['attempts']]")" '[false, null, "tls", 1]' \
        "$1: kind tls, status null, not retried (attempts 1 with --retries 2)"
    like_i "$(f "$1" "r['error']['message']")" "certificate verify failed: .*$3" "$1: message: $3"
    run "$1_k" fetch -k "$2"
    is "$RC $(f "$1_k" "[r['status'], r['ok']]")" "0 [200, true]" "$1: with -k: status 200, exit 0"
}
badcert self "https://localhost:$P_self/f/1" 'self-signed certificate'
badcert expired "https://localhost:$P_expired/f/1" 'certificate has expired'
badcert notyet "https://localhost:$P_notyet/f/1" 'not yet valid'
badcert wrong "https://localhost:$P_wrong/f/1" 'hostname mismatch'
badcert untrusted "https://localhost:$P_untrusted/f/1" 'unable to get local issuer certificate'
badcert ipasdns "https://127.0.0.1:$P_ipasdns/f/1" 'IP address mismatch'
like "$(f expired "r['error']['message']")" 'localhost' "expired: message names the host"
# CN-only certificate (no SAN): rejected, the subject CN is never used as a host name (pinned)
badcert cnonly "https://localhost:$P_cnonly/f/1" 'hostname mismatch'
# without --cacert the system store is used: the test CA is not in it
run sysstore fetch "$G/f/1"
is "$RC $(f sysstore "r['error']['kind']")" "1 tls" "no --cacert: the system store does not trust the test CA (kind tls)"
like "$(f sysstore "r['error']['message']")" 'unable to get local issuer certificate' "no --cacert: message gives the reason"
# an unusable --cacert is an input error before anything is fetched
run cafile_missing fetch --cacert "$T/no-such-ca.pem" "$G/f/1"
is "$RC $(wc -c <"$(out cafile_missing)" | tr -d ' ')" "2 0" "--cacert missing file: exit 2, no result lines"
like "$(cat "$(err cafile_missing)")" "no-such-ca\.pem.*(No such file|not found)" "--cacert missing file: the message names the file and the reason"
printf 'not a certificate\n' >"$T/junk.pem"
run cafile_junk fetch --cacert "$T/junk.pem" "$G/f/1"
is "$RC $(wc -c <"$(out cafile_junk)" | tr -d ' ')" "2 0" "--cacert file without certificates: exit 2, no result lines"
like "$(cat "$(err cafile_junk)")" "junk\.pem" "--cacert file without certificates: the message names the file"
# a failure on one URL does not affect the others in the same run
run mixed fetch -c 4 $CA "$G/f/1" "https://localhost:$P_self/f/2" "$G/f/3" "https://localhost:$P_expired/f/4"
is "$RC $(jl "$(out mixed)" "[(r['error'] or {}).get('kind') for r in sorted(rows, key=lambda r: r['id'])]")" \
    '1 [null, "tls", null, "tls"]' "mixed run: the good URLs succeed, the bad certificates fail, exit 1"

# --- IP literals -----------------------------------------------------------------------------------
run ip4 fetch $CA "https://127.0.0.1:$P_good/f/5"
is "$RC $(f ip4 "[r['status'], r['bytes']]")" "0 [200, 7]" "https://127.0.0.1: verified by the IP SAN, 200"
if [ "$V6" = 1 ]; then
    run ip6 fetch -v $CA "https://[::1]:$P_good/f/6"
    is "$RC $(f ip6 "[r['status'], r['bytes']]")" "0 [200, 7]" "https://[::1]: verified by the IP SAN, 200"
    like "$(cat "$(err ip6)")" 'via \[::1\]' "https://[::1]: connected over IPv6"
else
    skip "IPv6 unusable on lo"
    skip "IPv6 unusable on lo"
fi

# --- the wrong protocol on either side ------------------------------------------------------
run plain fetch $CA "https://localhost:$NGINX_PORT/f/1"
is "$RC $(f plain "r['error']['kind']")" "1 tls" "plain HTTP port on an https URL: kind tls, exit 1"
like "$(f plain "r['error']['message']")" 'did not speak TLS' "plain HTTP port: message says the server did not speak TLS"

run tlsonhttp fetch --timeout 10 "http://localhost:$P_good/f/1"
is "$(f tlsonhttp "[r['status'], r['error']['kind']]")" '[400, "http"]' \
    "TLS port on an http URL: nginx's 400 arrives as kind http (no hang)"

sanitizer_sweep "no sanitizer report in any run"
done_testing
