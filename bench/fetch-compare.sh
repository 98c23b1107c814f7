#!/bin/sh
# bench/fetch-compare.sh (`make bench`): fetch 10,000 small files from a local nginx with spate fetch,
# curl --parallel and aiohttp, each at 64 concurrent requests and pinned to its own CPU; report the
# median wall time and client CPU (user+sys) of ROUNDS runs, and spate's ratios to each peer and
# to the floor (bench/floor.c: a bare epoll loop, no parsing).
# Env: ROUNDS [3], FILES [10000], CONC [64], SERVER_CPU [0], CLIENT_CPU [1], SPATE [./spate], KEEP=1.
set -eu
. "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-3}
FILES=${FILES:-10000}
CONC=${CONC:-64}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
PY=/usr/bin/python3
TOOLS="spate curl aiohttp floor"

need nginx curl taskset openssl awk cc
:
$PY -c 'import aiohttp' 2>/dev/null || die "missing aiohttp for $PY: run 'make bench-deps'"
need_spate
[ "$(nproc)" -ge 2 ] || echo "warning: one CPU only: server and client share it" >&2

bench_init
echo "making $FILES files..." >&2
make_files "$WORK/www" "$FILES"
NGINX_WRAP="taskset -c $SERVER_CPU" nginx_start "$WORK"
base="http://127.0.0.1:$NGINX_PORT"

i=0
while [ "$i" -lt "$FILES" ]; do
    echo "$base/f/$i"
    i=$((i + 1))
done >"$WORK/urls.txt"
sed 's/.*/url = "&"\noutput = "\/dev\/null"/' "$WORK/urls.txt" >"$WORK/curl.cfg"

# run_tool TOOL ROUND: one timed run; appends "TOOL wall cpu" to results, fails loudly on errors.
run_tool() {
    out="$WORK/$1.$2.out" tf="$WORK/$1.$2.time"
    rc=0
    case $1 in
    spate) timed "$out" "$tf" "$SPATE" fetch -c "$CONC" -q -i "$WORK/urls.txt" || rc=$? ;;
    curl) timed "$out" "$tf" curl --parallel --parallel-max "$CONC" --no-progress-meter -f \
        -K "$WORK/curl.cfg" || rc=$? ;;
    aiohttp) timed "$out" "$tf" $PY "$BENCH_ROOT/bench/aiohttp_fetch.py" "$WORK/urls.txt" "$CONC" ||
        rc=$? ;;
    floor) timed "$out" "$tf" "$WORK/floor" "$NGINX_PORT" "$FILES" "$CONC" "$floor_len" || rc=$? ;;
    esac
    okn=$FILES
    [ "$1" = spate ] && okn=$(grep -c '"ok": *true' "$out" || true)
    if [ "$rc" != 0 ] || [ "$okn" != "$FILES" ]; then
        tail -n 5 "$out" "$out.err" >&2
        die "$1 failed (exit $rc, $okn of $FILES ok)"
    fi
    echo "$1 $(tfield "$tf" 1) $(tfield "$tf" cpu)" >>"$WORK/results"
    echo "  round $2 $1: wall $(tfield "$tf" 1) s, cpu $(tfield "$tf" cpu) s" >&2
}

# The floor: a bare epoll loop repeating one request (bench/floor.c), told its response length.
cc -O2 -o "$WORK/floor" "$BENCH_ROOT/bench/floor.c" || die "cannot build bench/floor.c"
floor_len=$(curl -si "$base/f/0" | wc -c)

# Warm nginx's page cache and the client binaries once, untimed.
curl --parallel --parallel-max "$CONC" --no-progress-meter -K "$WORK/curl.cfg" >/dev/null 2>&1 || true

: >"$WORK/results"
r=1
while [ "$r" -le "$ROUNDS" ]; do # interleaved, so drift hits every tool alike
    for t in $TOOLS; do run_tool "$t" "$r"; done
    r=$((r + 1))
done

med() { awk -v t="$1" -v f="$2" '$1 == t { print $f }' "$WORK/results" | median; }
s_wall=$(med spate 2)
s_cpu=$(med spate 3)

echo
echo "spate fetch vs curl --parallel vs aiohttp: $FILES URLs, $CONC concurrent, median of $ROUNDS"
machine_info
echo "versions: $("$SPATE" --version 2>/dev/null | head -n 1 || echo spate)," \
    "$(curl --version | head -n 1 | cut -d' ' -f1-2)," \
    "aiohttp $($PY -c 'import aiohttp; print(aiohttp.__version__)')," \
    "python $($PY -c 'import platform; print(platform.python_version())')"
echo
printf '%-8s %8s %8s %12s %16s %17s\n' tool "wall s" "CPU s" "CPU µs/URL " "spate CPU/peer" \
    "spate wall/peer"
for t in $TOOLS; do
    w=$(med "$t" 2) c=$(med "$t" 3)
    per=$(awk "BEGIN { printf \"%.1f\", $c * 1e6 / $FILES }")
    printf '%-8s %8.3f %8.3f %11s %16s %17s\n' "$t" "$w" "$c" "$per" "$(ratio "$s_cpu" "$c" 3)" \
        "$(ratio "$s_wall" "$w" 3)"
done
echo "(wall and CPU from getrusage (bench/rusage.py); CPU = user + sys of the client process tree; < 1 favours spate)"
echo "(floor: bench/floor.c, a bare epoll loop that repeats one request and reads a known length"
echo " without parsing: the kernel's share of a keep-alive request, not a peer)"
