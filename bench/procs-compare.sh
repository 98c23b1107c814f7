#!/bin/sh
# bench/procs-compare.sh: load from every core. nginx with 2 workers and the client share the
# machine's CPUs (nothing pinned): spate bench --procs 1 and 2, wrk -t1 and -t2, h2load --h1 -t1
# and -t2, each with 64 connections for DURATION seconds on one small file, interleaved for ROUNDS
# rounds; req/s and client CPU per request (user + sys from getrusage of the client and everything
# it waited for, bench/rusage.py), medians. Then, where a few per cent are inside this machine's
# noise, instructions per request under callgrind for --procs 1 and 2, as the slope between two
# request counts so that the fixed costs (start-up, the parent) drop out, and wrk -t2's as the
# slope between two durations (CALLGRIND=0 skips), and
# the time `spate merge` takes to add up two workers' reports.
# Env: ROUNDS [3], DURATION [5], CONC [64], CALLGRIND [1], SPATE [./spate], KEEP=1 keeps the work dir.
set -eu
. "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
CONC=${CONC:-64}
CALLGRIND=${CALLGRIND:-1}
PY=/usr/bin/python3
TOOLS="spate1 spate2 wrk1 wrk2 h2load1 h2load2"
CLIENT_CPU=$(nproc --all | awk '{ printf "0-%d", $1 - 1 }') # every CPU: nothing pinned

need nginx wrk h2load taskset curl awk
[ -x $PY ] || die "missing $PY: run 'make deps'"
need_spate

# parse TOOL FILE: "requests rps" from the tool's own report.
parse() {
    case $1 in
    spate*) $PY -c 'import json, sys; d = json.load(open(sys.argv[1])); print(d["requests"], d["rps"])' "$2" ;;
    wrk*) awk '/ requests in / { n = $1 } /^Requests\/sec:/ { r = $2 } END { print n + 0, r + 0 }' "$2" ;;
    h2load*) awk '/^finished in/ { r = $4 } /^requests:/ { n = $6 } END { print n + 0, r + 0 }' "$2" ;;
    esac
}

# run TOOL URL TAG: one timed run; prints "requests rps cpu_s".
run() {
    out="$WORK/$3.$1.out" tf="$WORK/$3.$1.time"
    case $1 in
    spate1) timed "$out" "$tf" "$SPATE" bench --procs 1 -c "$CONC" -d "$DURATION" --json "$2" ;;
    spate2) timed "$out" "$tf" "$SPATE" bench --procs 2 -c "$CONC" -d "$DURATION" --json "$2" ;;
    wrk1) timed "$out" "$tf" wrk -t1 -c "$CONC" -d "${DURATION}s" "$2" ;;
    wrk2) timed "$out" "$tf" wrk -t2 -c "$CONC" -d "${DURATION}s" "$2" ;;
    h2load1) timed "$out" "$tf" h2load --h1 -t1 -c "$CONC" -D "$DURATION" "$2" ;;
    h2load2) timed "$out" "$tf" h2load --h1 -t2 -c "$CONC" -D "$DURATION" "$2" ;;
    esac || { tail -n 5 "$out" "$out.err" >&2; die "$1 failed"; }
    res=$(parse "$1" "$out")
    set -- $res
    [ "$1" -gt 0 ] || die "no requests parsed from $out"
    echo "$1 $2 $(tfield "$tf" cpu)"
}

bench_init
make_files "$WORK/www" 1
NGINX_WORKERS=2 nginx_start "$WORK"
url="http://127.0.0.1:$NGINX_PORT/f/0"

echo
echo "every core: spate --procs 1 and 2 vs wrk -t1/-t2 vs h2load --h1 -t1/-t2; $CONC connections, ${DURATION}s," \
    "median of $ROUNDS; nginx 2 workers, nothing pinned"
machine_info | sed 's/^pinning:.*/pinning: none (server and client share the CPUs)/'
echo "versions: $("$SPATE" --version 2>/dev/null | head -n 1), $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2), $(h2load --version)"

: >"$WORK/results"
r=1
while [ "$r" -le "$ROUNDS" ]; do
    for t in $TOOLS; do
        line=$(run "$t" "$url" "r$r")
        echo "  round $r $t: requests rps cpu_s = $line" >&2
        echo "$t $line" >>"$WORK/results"
    done
    r=$((r + 1))
done
med() { awk -v t="$1" '$1 == t { print '"$2"' }' "$WORK/results" | median; }
echo
printf '%-8s %10s %12s %18s %16s\n' tool "req/s" "CPU µs/req" "CPU/req vs spate2" "req/s vs spate2"
s_cpu=$(med spate2 '$4 * 1e6 / $2') s_rps=$(med spate2 '$3')
for t in $TOOLS; do
    cpu=$(med "$t" '$4 * 1e6 / $2') rps=$(med "$t" '$3')
    printf '%-8s %10.0f %12.2f %18s %16s\n' "$t" "$rps" "$cpu" "$(ratio "$s_cpu" "$cpu")" "$(ratio "$s_rps" "$rps")"
    eval "cpu_$t=$cpu rps_$t=$rps"
done
echo "(ratios are spate --procs 2 / tool: CPU below 1 and req/s above 1 favour spate --procs 2)"
for pair in "spate2 spate1" "wrk2 wrk1" "h2load2 h2load1"; do
    set -- $pair
    eval "echo \"scaling $1 / $2: req/s \$(ratio \$rps_$1 \$rps_$2), CPU per request \$(ratio \$cpu_$1 \$cpu_$2 3)\""
done

# Instructions per request under callgrind (fork is followed; every process's total counted):
# the slope between -n N1 and -n N2, so that start-up and the parent's share drop out.
if [ "$CALLGRIND" = 1 ] && command -v valgrind >/dev/null 2>&1; then
    N1=5000 N2=25000
    ir() { # PROCS N: instructions of every process of one run
        rm -f "$WORK"/cg.*
        valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.%p" "$SPATE" bench --procs "$1" \
            -c "$CONC" -n "$2" --json "$url" >"$WORK/cg.json" 2>"$WORK/cg.err" ||
            die "callgrind run failed: $(tail -n 3 "$WORK/cg.err")"
        cat "$WORK"/cg.* | awk '/^summary:/ { s += $2 } END { print s }'
    }
    for p in 1 2; do
        a=$(ir $p $N1) b=$(ir $p $N2)
        eval "ir_$p=$(awk "BEGIN { printf \"%.1f\", ($b - $a) / ($N2 - $N1) }")"
        eval "echo \"callgrind --procs $p: \$ir_$p instructions per request (slope from -n $N1 to $N2;" \
            "-n $N2 in all: $b)\""
    done
    echo "instructions per request, --procs 2 / --procs 1: $(ratio "$ir_2" "$ir_1" 3)"
    # wrk has no request count: the slope between two durations, from the requests it reports
    # (its per-second work, slight, is charged to requests here; under callgrind it runs ~1/5 as
    # fast)
    wrk_ir() { # SECONDS: "instructions requests" of one wrk -t2 run
        rm -f "$WORK"/cgw.*
        valgrind --tool=callgrind --callgrind-out-file="$WORK/cgw.%p" wrk -t2 -c "$CONC" \
            -d "${1}s" "$url" >"$WORK/cgw.out" 2>"$WORK/cgw.err" ||
            die "callgrind wrk run failed: $(tail -n 3 "$WORK/cgw.err")"
        echo "$(cat "$WORK"/cgw.[0-9]* | awk '/^summary:/ { s += $2 } END { print s }')" \
            "$(parse wrk2 "$WORK/cgw.out" | cut -d' ' -f1)"
    }
    set -- $(wrk_ir 2) $(wrk_ir 6)
    ir_w=$(awk -v a="$1" -v na="$2" -v b="$3" -v nb="$4" 'BEGIN { printf "%.1f", (b - a) / (nb - na) }')
    echo "callgrind wrk -t2: $ir_w instructions per request (slope from -d 2 to -d 6: $2 and $4 requests)"
    echo "instructions per request, spate --procs 2 / wrk -t2: $(ratio "$ir_2" "$ir_w" 3)"
fi

# What merging adds: `spate merge` of two workers' reports against the same binary doing nothing
# but start (`spate --version`): the median difference of 201 interleaved pairs of runs, and
# instructions under callgrind.
"$SPATE" bench --segment 0/2 -c "$CONC" -n 20000 --json "$url" >"$WORK/w0.json"
"$SPATE" bench --segment 1/2 -c "$CONC" -n 20000 --json "$url" >"$WORK/w1.json"
$PY - "$SPATE" "$WORK/w0.json" "$WORK/w1.json" <<'EOF'
import statistics, subprocess, sys, time
spate, a, b = sys.argv[1:]
merge, bare = [], []
for _ in range(201):  # interleaved pairs: drift hits both alike
    t = time.perf_counter()
    subprocess.run([spate, "merge", "--json", a, b], stdout=subprocess.DEVNULL, check=True)
    merge.append(time.perf_counter() - t)
    t = time.perf_counter()
    subprocess.run([spate, "--version"], stdout=subprocess.DEVNULL, check=True)
    bare.append(time.perf_counter() - t)
d = statistics.median(m - v for m, v in zip(merge, bare))
print("spate merge of two reports: %.2f ms wall, a bare spate start %.2f ms (medians of 201): "
      "merging adds %.2f ms" % (statistics.median(merge) * 1e3, statistics.median(bare) * 1e3, d * 1e3))
EOF
if [ "$CALLGRIND" = 1 ] && command -v valgrind >/dev/null 2>&1; then
    cg() {
        valgrind --tool=callgrind --callgrind-out-file="$WORK/cgm" "$@" >/dev/null 2>&1
        awk '/^summary:/ { print $2 }' "$WORK/cgm"
    }
    im=$(cg "$SPATE" merge --json "$WORK/w0.json" "$WORK/w1.json")
    ib=$(cg "$SPATE" --version)
    echo "instructions: merge $im, bare start $ib: merging two reports costs $((im - ib))"
fi
