#!/bin/sh
# bench/compare.sh: spate bench against wrk and h2load (HTTP/1.1) on one small file served by a
# local nginx pinned to CPU 0, each client pinned to CPU 1; plain http and https. Reports requests/s,
# client CPU per request, peak RSS and spate's ratios (medians of ROUNDS runs), then a 10,000
# connections run (spate vs wrk) for memory per connection.
# Env: ROUNDS [3], DURATION [5], CONC [64], CONNS10K [10000] (0 skips), MODES ["http https"],
#      SERVER_CPU [0], CLIENT_CPU [1], SPATE [./spate], KEEP=1 keeps the work directory.
set -eu
. "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
CONC=${CONC:-64}
CONNS10K=${CONNS10K:-10000}
MODES=${MODES:-http https}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
PY=/usr/bin/python3
TOOLS="spate wrk h2load"

need nginx wrk h2load taskset openssl curl awk
:
[ -x $PY ] || die "missing $PY: run 'make deps'"
need_spate

# Enough descriptors for 10,000 connections on each side (the hard limit may be lower).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -H -n)" 2>/dev/null || true

# spate_parse FILE: "requests rps" from `spate bench --json`. Field names are assumed here only.
spate_parse() {
    $PY - "$1" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
req = d["requests"]
if isinstance(req, dict):
    req = req.get("total", req.get("completed", 0))
rps = d.get("rps") or d.get("requests_per_sec") or (req / d["duration"] if d.get("duration") else 0)
print(int(req), float(rps))
EOF
}

# parse TOOL FILE: "requests rps" from the tool's own report.
parse() {
    case $1 in
    spate) spate_parse "$2" ;;
    wrk) awk '/ requests in / { n = $1 } /^Requests\/sec:/ { r = $2 } END { print n + 0, r + 0 }' "$2" ;;
    h2load) awk '/^finished in/ { r = $4 } /^requests:/ { n = $6 } END { print n + 0, r + 0 }' "$2" ;;
    esac
}

# run TOOL URL CONNS SECONDS TAG: one timed run; prints "requests rps cpu_s maxrss_kb".
run() {
    out="$WORK/$5.$1.out" tf="$WORK/$5.$1.time" tag="$5 $1"
    k=""
    case $2 in https:*) k=-k ;; esac
    rc=0
    case $1 in
    spate) timed "$out" "$tf" "$SPATE" bench $k -c "$3" -d "$4" --json "$2" || rc=$? ;;
    wrk) timed "$out" "$tf" wrk -t1 -c "$3" -d "${4}s" "$2" || rc=$? ;;
    h2load) timed "$out" "$tf" h2load --h1 -t1 -c "$3" -D "$4" "$2" || rc=$? ;;
    esac
    # spate bench exits 1 when any request failed: report it, as the peers' error lines are.
    if [ "$rc" = 1 ] && [ "$1" = spate ]; then
        echo "$5 spate: some requests failed: $(grep -o '"errors_by_kind":{[^}]*}' "$out" || true)" >&2
    elif [ "$rc" != 0 ]; then
        tail -n 5 "$out" "$out.err" >&2
        die "$1 failed (exit $rc)"
    fi
    grep -E 'Socket errors|Non-2xx|[1-9][0-9]* failed|[1-9][0-9]* errored' "$out" >&2 || true
    res=$(parse "$1" "$out")
    set -- $res
    if [ "$1" -le 0 ]; then
        # at 10,000 TLS connections a peer may finish no handshake within the run: its memory
        # is still the figure wanted, so say so instead of stopping
        [ "${ALLOW_NONE:-0}" = 1 ] || die "no requests parsed from $out"
        echo "$tag: no request completed; the tool said:" >&2
        tail -n 4 "$out" >&2
    fi
    echo "$1 $2 $(tfield "$tf" cpu) $(tfield "$tf" 4)"
}

bench_init
mkdir -p "$WORK/www/f"
make_files "$WORK/www" 1
NGINX_CONNS=$((CONNS10K + 1024)) NGINX_TLS=1 NGINX_WRAP="taskset -c $SERVER_CPU" nginx_start "$WORK"

echo
echo "spate bench vs wrk vs h2load --h1: 1 small file ($(wc -c <"$WORK/www/f/0") bytes)," \
    "$CONC connections, ${DURATION}s, median of $ROUNDS"
machine_info
echo "versions: $("$SPATE" --version 2>/dev/null | head -n 1 || echo spate)," \
    "$(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2), $(h2load --version)"

for mode in $MODES; do
    if [ "$mode" = https ]; then
        url="https://127.0.0.1:$NGINX_TLS_PORT/f/0"
    else
        url="http://127.0.0.1:$NGINX_PORT/f/0"
    fi
    : >"$WORK/$mode.results"
    r=1
    while [ "$r" -le "$ROUNDS" ]; do # interleaved, so drift hits every tool alike
        for t in $TOOLS; do
            line=$(run "$t" "$url" "$CONC" "$DURATION" "$mode.$r")
            echo "  $mode round $r $t: requests rps cpu_s rss_kb = $line" >&2
            echo "$t $line" >>"$WORK/$mode.results"
        done
        r=$((r + 1))
    done
    # Per tool: median req/s, CPU µs per request, peak RSS MB.
    med() {
        awk -v t="$1" '$1 == t { print '"$2"' }' "$WORK/$mode.results" | median
    }
    s_rps=$(med spate '$3') s_cpu=$(med spate '$4 * 1e6 / $2') s_rss=$(med spate '$5 / 1024')
    echo
    echo "$mode ($url)"
    printf '%-7s %10s %12s %12s %13s %14s %14s\n' tool "req/s" "CPU µs/req " "peak RSS MB" \
        "spate rps/x" "spate CPU/x" "spate RSS/x"
    for t in $TOOLS; do
        rps=$(med "$t" '$3') cpu=$(med "$t" '$4 * 1e6 / $2') rss=$(med "$t" '$5 / 1024')
        printf '%-7s %10.0f %11.2f %12.1f %13s %14s %14s\n' "$t" "$rps" "$cpu" "$rss" \
            "$(ratio "$s_rps" "$rps")" "$(ratio "$s_cpu" "$cpu")" "$(ratio "$s_rss" "$rss")"
    done
done
echo "(rps > 1 and CPU, RSS < 1 favour spate; CPU = user + sys from getrusage (bench/rusage.py) / requests done)"

[ "$CONNS10K" -gt 0 ] || exit 0
lim=$(ulimit -n)
if [ "$lim" != unlimited ] && [ "$lim" -lt $((CONNS10K + 100)) ]; then
    echo "skipping $CONNS10K connections: open files limit is $lim (raise ulimit -n)" >&2
    exit 0
fi
for mode in $MODES; do
    if [ "$mode" = https ]; then
        url="https://127.0.0.1:$NGINX_TLS_PORT/f/0"
    else
        url="http://127.0.0.1:$NGINX_PORT/f/0"
    fi
    echo
    echo "$CONNS10K connections ($mode, ${DURATION}s):" \
        "RSS per connection = (peak RSS - peak RSS at 1 connection) / $CONNS10K"
    printf '%-7s %10s %14s %14s %16s\n' tool "req/s" "RSS@1 MB" "RSS@$CONNS10K MB" "per conn KB"
    for t in spate wrk; do
        res=$(run "$t" "$url" 1 2 "c1$mode")
        set -- $res
        base=$4
        res=$(ALLOW_NONE=1 run "$t" "$url" "$CONNS10K" "$DURATION" "c$CONNS10K$mode")
        set -- $res
        per=$(awk "BEGIN { printf \"%.2f\", ($4 - $base) / $CONNS10K }")
        printf '%-7s %10.0f %14.1f %14.1f %16s\n' "$t" "$2" "$(awk "BEGIN { print $base / 1024 }")" \
            "$(awk "BEGIN { print $4 / 1024 }")" "$per"
        eval "per_$t=$per"
    done
    echo "spate / wrk memory per connection ($mode): $(ratio "$per_spate" "$per_wrk")"
done
