#!/bin/sh
# bench/tls-bench.sh: TLS cost of the spate client, against wrk and h2load (HTTP/1.1).
#   1. keep-alive https: one small file, CONC connections, DURATION s; client CPU µs per request
#      (user + sys from getrusage (bench/rusage.py)) and spate's ratio to each peer;
#   2. new connections: every request on its own connection (-H 'Connection: close'), against an
#      nginx server with session resumption on (ssl_session_cache shared + tickets) and one with it
#      off (no tickets, no cache): requests/s = new TLS connections/s, client CPU µs per connection.
#      spate and wrk only: h2load 1.52 --h1 ignores -D when the server closes every connection
#      (it ran for 15 minutes instead of 1 s here), so it is left out of this part.
# Before the runs, a short probe (nginx logging $ssl_session_reused) shows which clients resume.
# nginx: 1 worker pinned to SERVER_CPU [0]; each client alone pinned to CLIENT_CPU [1].
# Env: ROUNDS [3] (tools interleaved, medians), DURATION [5], CONC [64], PROTOS
#      ["TLSv1.2 TLSv1.3": what nginx offers], SPATE [./spate], KEEP=1 keeps the work directory.
# Not part of `make test`. Never run it while a build or the tests are running: the numbers would
# measure the neighbours.
set -eu
. "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
CONC=${CONC:-64}
PROTOS=${PROTOS:-TLSv1.2 TLSv1.3}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
PY=/usr/bin/python3
export CLIENT_CPU

need nginx wrk h2load taskset openssl curl awk
:
[ -x $PY ] || die "missing $PY: run 'make deps'"
need_spate
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -H -n)" 2>/dev/null || true

# tls_nginx_start DIR: nginx with three TLS servers on 127.0.0.1 (all serve DIR/www):
#   P_ON    resumption on  (ssl_session_cache shared:S:1m; ssl_session_tickets on)
#   P_OFF   resumption off (ssl_session_tickets off; ssl_session_cache off)
#   P_PROBE like P_ON, keepalive_requests 1, logging "$ssl_session_reused" to DIR/probe.log
tls_nginx_start() {
    d=$1
    make_cert "$d"
    P_ON=$(free_port) P_OFF=$(free_port) P_PROBE=$(free_port)
    user_line=""
    [ "$(id -u)" = 0 ] && user_line="user root;"
    common="ssl_certificate $d/cert.pem; ssl_certificate_key $d/key.pem; ssl_protocols $PROTOS; root $d/www;"
    cat >"$d/nginx.conf" <<EOF
$user_line
worker_processes 1;
worker_rlimit_nofile 65536;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 16384; multi_accept on; }
http {
$(nginx_http_common "$d")
    log_format reused '\$ssl_protocol \$ssl_session_reused';
    server {
        listen 127.0.0.1:$P_ON ssl backlog=65535;
        $common
        ssl_session_cache shared:S:1m;
        ssl_session_tickets on;
    }
    server {
        listen 127.0.0.1:$P_OFF ssl backlog=65535;
        $common
        ssl_session_tickets off;
        ssl_session_cache off;
    }
    server {
        listen 127.0.0.1:$P_PROBE ssl backlog=65535;
        $common
        ssl_session_cache shared:P:1m;
        ssl_session_tickets on;
        keepalive_requests 1;
        access_log $d/probe.log reused;
    }
}
EOF
    mkdir -p "$d/tmp" "$d/www"
    NGINX_WRAP="taskset -c $SERVER_CPU" nginx_launch "$d" "https://127.0.0.1:$P_ON/f" \
        "https://127.0.0.1:$P_OFF/f"
}

# run TOOL URL TAG [EXTRA_HEADER]: one timed run; prints "requests rps cpu_s maxrss_kb conns".
# Every client runs under `timeout` (DURATION + 20 s), so a tool that ignores its duration cannot
# hang the script.
run() {
    out="$WORK/$3.$1.out" tf="$WORK/$3.$1.time"
    lim="timeout -k 5 $((DURATION + 20))"
    rc=0
    case $1 in
    spate)
        if [ -n "${4:-}" ]; then
            timed "$out" "$tf" $lim "$SPATE" bench -k -c "$CONC" -d "$DURATION" --json -H "$4" "$2" || rc=$?
        else
            timed "$out" "$tf" $lim "$SPATE" bench -k -c "$CONC" -d "$DURATION" --json "$2" || rc=$?
        fi
        ;;
    wrk)
        if [ -n "${4:-}" ]; then
            timed "$out" "$tf" $lim wrk -t1 -c "$CONC" -d "${DURATION}s" -H "$4" "$2" || rc=$?
        else
            timed "$out" "$tf" $lim wrk -t1 -c "$CONC" -d "${DURATION}s" "$2" || rc=$?
        fi
        ;;
    h2load)
        if [ -n "${4:-}" ]; then
            timed "$out" "$tf" $lim h2load --h1 -t1 -c "$CONC" -D "$DURATION" -H "$4" "$2" || rc=$?
        else
            timed "$out" "$tf" $lim h2load --h1 -t1 -c "$CONC" -D "$DURATION" "$2" || rc=$?
        fi
        ;;
    esac
    if [ "$rc" = 1 ] && [ "$1" = spate ]; then
        echo "  $3 spate: some requests failed: $(grep -o '"errors_by_kind":{[^}]*}' "$out" || true)" >&2
    elif [ "$rc" != 0 ]; then
        tail -n 5 "$out" "$out.err" >&2
        die "$1 failed (exit $rc)"
    fi
    grep -E 'Socket errors|Non-2xx|[1-9][0-9]* failed|[1-9][0-9]* errored' "$out" >&2 || true
    case $1 in
    spate)
        res=$($PY -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(int(d["ok"]), float(d["ok"]) / d["duration"], int(d.get("connections_established", 0)))' "$out")
        ;;
    wrk) res=$(awk '/ requests in / { n = $1 } /^Requests\/sec:/ { r = $2 } END { print n + 0, r + 0, "-" }' "$out") ;;
    h2load) res=$(awk '/^finished in/ { r = $4 } /^requests:/ { n = $8 } END { print n + 0, r + 0, "-" }' "$out") ;;
    esac
    set -- $res
    [ "$1" -gt 0 ] || die "no successful requests parsed from $out"
    echo "$1 $2 $(tfield "$tf" cpu) $(tfield "$tf" 4) $3"
}

# probe TOOL: 1 s at 4 connections against P_PROBE (a new connection per request); prints how many
# of the server's handshakes resumed a session.
probe() {
    : >"$WORK/probe.log"
    kill -USR1 "$NGINX_PID" 2>/dev/null || true # reopen the log file
    sleep 0.2
    u="https://127.0.0.1:$P_PROBE/f"
    case $1 in
    spate) timeout -k 2 5 taskset -c "$CLIENT_CPU" "$SPATE" bench -k -c 4 -d 1 -H 'Connection: close' "$u" >/dev/null 2>&1 || true ;;
    wrk) timeout -k 2 5 taskset -c "$CLIENT_CPU" wrk -t1 -c 4 -d 1s -H 'Connection: close' "$u" >/dev/null 2>&1 || true ;;
    # h2load ignores -D here (see above): a fixed number of requests instead
    h2load) timeout -k 2 5 taskset -c "$CLIENT_CPU" h2load --h1 -t1 -c 4 -n 200 -H 'Connection: close' "$u" >/dev/null 2>&1 || true ;;
    esac
    sleep 0.2
    awk '{ n++; if ($2 == "r") r++; p[$1]++ } END { printf "%d of %d handshakes resumed", r, n;
        for (k in p) printf " (%s)", k; print "" }' "$WORK/probe.log"
}

bench_init
mkdir -p "$WORK/www"
printf 'a small static body for the spate TLS benchmark, served by nginx on loopback.\n' >"$WORK/www/f"
tls_nginx_start "$WORK"
TOOLS="spate wrk h2load"
CLOSE_TOOLS="spate wrk"

echo "spate TLS benchmark: 1 small file ($(wc -c <"$WORK/www/f") bytes), $CONC connections," \
    "${DURATION}s per run, median of $ROUNDS; nginx offers $PROTOS"
machine_info
echo "versions: $("$SPATE" --version 2>/dev/null | head -n 1 || echo spate)," \
    "$(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2), $(h2load --version), $(openssl version)"
echo
echo "session resumption probe (server with keepalive_requests 1, client sends Connection: close):"
for t in $TOOLS; do echo "  $t: $(probe "$t")"; done

# Rounds, tools interleaved. Tags: ka (keep-alive, P_ON), on / off (Connection: close).
: >"$WORK/results"
r=1
while [ "$r" -le "$ROUNDS" ]; do
    for t in $TOOLS; do
        line=$(run "$t" "https://127.0.0.1:$P_ON/f" "ka.$r")
        echo "  round $r keep-alive $t: requests rps cpu_s rss_kb conns = $line" >&2
        echo "ka $t $line" >>"$WORK/results"
    done
    for t in $CLOSE_TOOLS; do
        for s in on off; do
            eval "port=\$P_$(echo $s | tr a-z A-Z)"
            line=$(run "$t" "https://127.0.0.1:$port/f" "$s.$r" 'Connection: close')
            echo "  round $r close/resumption $s $t: requests rps cpu_s rss_kb conns = $line" >&2
            echo "$s $t $line" >>"$WORK/results"
        done
    done
    r=$((r + 1))
done

# med TAG TOOL AWKEXPR: median over rounds.
med() { awk -v g="$1" -v t="$2" '$1 == g && $2 == t { print '"$3"' }' "$WORK/results" | median; }

echo
echo "1. keep-alive https (https://127.0.0.1:$P_ON/f, -c $CONC)"
s_rps=$(med ka spate '$4') s_cpu=$(med ka spate '$5 * 1e6 / $3')
printf '%-7s %10s %13s %12s %14s %14s\n' tool "req/s" "CPU µs/req" "peak RSS MB" "spate CPU/x" "spate rps/x"
for t in $TOOLS; do
    rps=$(med ka "$t" '$4') cpu=$(med ka "$t" '$5 * 1e6 / $3') rss=$(med ka "$t" '$6 / 1024')
    printf '%-7s %10.0f %13.2f %12.1f %14s %14s\n' "$t" "$rps" "$cpu" "$rss" \
        "$(ratio "$s_cpu" "$cpu")" "$(ratio "$s_rps" "$rps")"
done

echo
echo "2. a new TLS connection per request (-H 'Connection: close', -c $CONC)"
printf '%-7s %-11s %12s %16s %16s %14s\n' tool resumption "conns/s" "CPU µs/conn" "on/off conns/s" "spate CPU/x"
for t in $CLOSE_TOOLS; do
    on_rps=$(med on "$t" '$4')
    for s in on off; do
        rps=$(med "$s" "$t" '$4') cpu=$(med "$s" "$t" '$5 * 1e6 / $3')
        gain=""
        [ "$s" = off ] && gain=$(ratio "$on_rps" "$rps")
        printf '%-7s %-11s %12.0f %16.2f %16s %14s\n' "$t" "$s" "$rps" "$cpu" "$gain" \
            "$(ratio "$(med "$s" spate '$5 * 1e6 / $3')" "$cpu")"
    done
done
for s in on off; do
    c=$(med "$s" spate '$7 / '"$DURATION")
    echo "  spate connections_established/s with resumption $s: $c"
done
echo "(CPU = user + sys of the client from getrusage (bench/rusage.py) / successful requests; CPU ratio < 1 and"
echo " rps ratio > 1 favour spate; with Connection: close each request is one TCP + TLS handshake)"
