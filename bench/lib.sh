# bench/lib.sh: shared helpers for the benchmark and demo scripts (POSIX sh, sourced).
# A private nginx on 127.0.0.1 (optionally TLS, optionally pinned with NGINX_WRAP), test files,
# getrusage measurement (bench/rusage.py) and small number helpers. Callers `set -eu` and call bench_init first.

BENCH_ROOT=$(cd "$(dirname "$0")/.." && pwd)
SPATE=${SPATE:-$BENCH_ROOT/spate}
NGINX_PID=""

die() {
    echo "${0##*/}: $*" >&2
    exit 1
}

# need TOOL...: fail clearly when a tool is missing.
need() {
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 || die "missing '$t': run 'make bench-deps' (Debian packages)"
    done
}

need_spate() {
    [ -x "$SPATE" ] || die "no spate binary at $SPATE: run 'make' first"
}

# Creates $WORK (removed on exit unless KEEP=1) and the exit trap that stops nginx.
bench_init() {
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/spate-bench.XXXXXX")
    chmod 755 "$WORK" # nginx workers may run as another user
    trap bench_cleanup EXIT
    trap 'exit 129' HUP
    trap 'exit 130' INT
    trap 'exit 141' PIPE # e.g. piped into head: still stop nginx
    trap 'exit 143' TERM
}

bench_cleanup() {
    nginx_stop
    if [ "${KEEP:-0}" = 1 ]; then
        echo "kept $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}

# make_files DIR N: N small files DIR/f/0 .. DIR/f/N-1 (about 100 bytes each).
make_files() {
    mkdir -p "$1/f"
    i=0
    while [ "$i" -lt "$2" ]; do
        printf 'file %d: a small static body for spate benchmarks, served by nginx on loopback.\n' \
            "$i" >"$1/f/$i"
        i=$((i + 1))
    done
}

# A free TCP port on 127.0.0.1 (the kernel picks it; a race with another process is unlikely).
free_port() {
    /usr/bin/python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# Self-signed P-256 certificate for localhost and 127.0.0.1, made at run time.
make_cert() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        -keyout "$1/key.pem" -out "$1/cert.pem" 2>/dev/null || die "openssl could not make a cert"
}

# nginx_start DIR: one nginx worker serving DIR/www on 127.0.0.1:$NGINX_PORT, and with NGINX_TLS=1
# also https on $NGINX_TLS_PORT. NGINX_WRAP prefixes the command (e.g. "taskset -c 0");
# NGINX_CONNS sets worker_connections [4096], NGINX_WORKERS worker_processes [1]. Exports
# NGINX_PORT, NGINX_TLS_PORT, NGINX_PID.
# nginx_http_common DIR: the http-level directives every benchmark nginx shares (no logging,
# unlimited keep-alive, temp paths inside DIR). sendfile and tcp_nopush are on as in Debian's
# shipped nginx.conf (NGINX_SENDFILE, NGINX_NOPUSH override): with both, nginx corks the socket so
# a small file's headers and body leave in one segment.
nginx_http_common() {
    cat <<EOF
    access_log off;
    sendfile ${NGINX_SENDFILE:-on};
    tcp_nopush ${NGINX_NOPUSH:-on};
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 100000000;
    client_body_temp_path $1/tmp;
    proxy_temp_path $1/tmp;
    fastcgi_temp_path $1/tmp;
    uwsgi_temp_path $1/tmp;
    scgi_temp_path $1/tmp;
    default_type application/octet-stream;
EOF
}

nginx_start() {
    d=$1
    conns=${NGINX_CONNS:-4096}
    nofile=$((conns * 2 + 64))
    lim=$(ulimit -n)
    [ "$lim" != unlimited ] && [ "$lim" -lt "$nofile" ] && nofile=$lim
    NGINX_PORT=$(free_port)
    NGINX_TLS_PORT=""
    tls_server=""
    if [ "${NGINX_TLS:-0}" = 1 ]; then
        make_cert "$d"
        NGINX_TLS_PORT=$(free_port)
        tls_server="server {
        listen 127.0.0.1:$NGINX_TLS_PORT ssl backlog=65535;
        ssl_certificate $d/cert.pem;
        ssl_certificate_key $d/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:SSL:10m;
        root $d/www;
    }"
    fi
    user_line=""
    [ "$(id -u)" = 0 ] && user_line="user root;"
    cat >"$d/nginx.conf" <<EOF
$user_line
worker_processes ${NGINX_WORKERS:-1};
worker_rlimit_nofile $nofile;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections $conns; multi_accept on; }
http {
$(nginx_http_common "$d")
    server {
        listen 127.0.0.1:$NGINX_PORT backlog=65535;
        root $d/www;
    }
    $tls_server
}
EOF
    mkdir -p "$d/tmp" "$d/www"
    export NGINX_PORT NGINX_TLS_PORT
    nginx_launch "$d" "http://127.0.0.1:$NGINX_PORT/"
}

# nginx_launch DIR URL...: starts nginx on DIR/nginx.conf (under NGINX_WRAP), sets NGINX_PID and
# waits until every URL answers; dies with nginx's own messages if it does not come up.
nginx_launch() {
    l_dir=$1
    shift
    # shellcheck disable=SC2086 # NGINX_WRAP is a command prefix, split on purpose
    ${NGINX_WRAP:-} nginx -e "$l_dir/error.log" -p "$l_dir" -c "$l_dir/nginx.conf" \
        >"$l_dir/nginx.out" 2>&1 &
    NGINX_PID=$!
    export NGINX_PID
    for l_url in "$@"; do
        n=0
        until curl -sk -o /dev/null "$l_url"; do
            n=$((n + 1))
            if [ "$n" -gt 100 ] || ! kill -0 "$NGINX_PID" 2>/dev/null; then
                cat "$l_dir/nginx.out" "$l_dir/error.log" >&2 2>/dev/null || true
                die "nginx did not start"
            fi
            sleep 0.05
        done
    done
}

nginx_stop() {
    [ -n "${NGINX_PID:-}" ] || return 0
    kill -TERM "$NGINX_PID" 2>/dev/null || true
    n=0
    while kill -0 "$NGINX_PID" 2>/dev/null && [ "$n" -lt 50 ]; do
        sleep 0.1
        n=$((n + 1))
    done
    kill -KILL "$NGINX_PID" 2>/dev/null || true
    wait "$NGINX_PID" 2>/dev/null || true
    NGINX_PID=""
}

# timed OUT TIMEFILE CMD...: runs CMD pinned to CPU 1 (CLIENT_CPU) under rusage.py (getrusage of
# the child, microsecond resolution), stdout to
# OUT and stderr to OUT.err; TIMEFILE gets "wall user sys maxrss_kb". Returns CMD's exit status.
timed() {
    t_out=$1 t_tf=$2
    shift 2
    t_rc=0
    python3 "$BENCH_ROOT/bench/rusage.py" "$t_tf" taskset -c "${CLIENT_CPU:-1}" "$@" >"$t_out" \
        2>"$t_out.err" || t_rc=$?
    return $t_rc
}

# Field N of a time file: 1 wall, 2 user, 3 sys, 4 maxrss KB; "cpu" is user+sys.
tfield() {
    case $2 in
    cpu) tail -n 1 "$1" | awk '{ printf "%.3f", $2 + $3 }' ;;
    *) tail -n 1 "$1" | awk -v f="$2" '{ print $f }' ;;
    esac
}

# median of the numbers on stdin.
median() {
    sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan";
        else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ratio A B [DIGITS]: A / B to DIGITS decimals [2], "-" when either is missing or B is 0.
ratio() {
    if [ "$2" = "-" ] || [ "$1" = "-" ] || awk "BEGIN { exit !($2 == 0) }"; then
        echo "-"
    else
        awk "BEGIN { printf \"%.${3:-2}f\", $1 / $2 }"
    fi
}

machine_info() {
    echo "machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //')), \
kernel $(uname -r), $(nginx -v 2>&1 | sed 's/.*: //'), $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "pinning: nginx (1 worker) on CPU ${SERVER_CPU:-0}, each client on CPU ${CLIENT_CPU:-1}"
}
