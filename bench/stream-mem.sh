#!/bin/sh
# bench/stream-mem.sh: `spate fetch` on inputs of any size (issue 12): peak RSS and client CPU per
# URL for N URLs from a file against the private nginx (GNU time: getrusage of the child, as in
# hosts-mem.sh), and the time from the first input line to the first result line (a producer
# writes one line, then waits).
# Targets: RSS at 1,000,000 URLs at most 1.3x that at 100,000 and below 30 MB; the first result
# within 5 ms of the first line.
# Env: SIZES ["100000 1000000"], CONC [100], SPATE [./spate], OLD (another spate binary, e.g. the
#      build before a change, measured the same way for comparison), KEEP=1.
set -eu
. "$(dirname "$0")/lib.sh"

SIZES=${SIZES:-"100000 1000000"}
CONC=${CONC:-100}
need nginx taskset awk python3
[ -x /usr/bin/time ] || die "missing /usr/bin/time: run 'make deps' (Debian package time)"
need_spate

bench_init
mkdir -p "$WORK/www"
echo "hello" >"$WORK/www/x"
nginx_start "$WORK"
U=http://127.0.0.1:$NGINX_PORT/x

echo "spate fetch, N URLs from a file, -c $CONC"
machine_info
# measure BIN N: one line of figures; sets RSS
measure() {
    awk -v n="$2" -v u="$U" 'BEGIN { for (i = 0; i < n; i++) printf "%s?%d\n", u, i }' \
        >"$WORK/urls.txt"
    /usr/bin/time -o "$WORK/time" -f '%e %U %S %M' taskset -c "${CLIENT_CPU:-1}" "$1" fetch \
        -q -c "$CONC" -i "$WORK/urls.txt" >"$WORK/out" 2>"$WORK/out.err" ||
        die "spate failed: $(tail -n 3 "$WORK/out.err")"
    okn=$(grep -c '"ok":true' "$WORK/out" || true)
    [ "$okn" = "$2" ] || die "$okn of $2 ok: $(grep -m 1 '"ok":false' "$WORK/out")"
    RSS=$(tfield "$WORK/time" 4)
    cpu=$(tfield "$WORK/time" cpu)
    printf '%-8s %9d %7d KB %9.2f µs %10.0f req/s\n' "$3" "$2" "$RSS" \
        "$(awk -v c="$cpu" -v n="$2" 'BEGIN { print c / n * 1e6 }')" \
        "$(awk -v n="$2" -v w="$(tfield "$WORK/time" 1)" 'BEGIN { print (w > 0 ? n / w : 0) }')"
}
printf '%-8s %9s %10s %12s %16s\n' binary N "peak RSS" "CPU per URL" "rate"
first= last=
for n in $SIZES; do
    if [ -n "${OLD:-}" ]; then measure "$OLD" "$n" old; fi
    measure "$SPATE" "$n" new
    [ -n "$first" ] || first=$RSS
    last=$RSS
done
echo "peak RSS, largest vs smallest input: $(ratio "$last" "$first")x (target <= 1.3x, and < 30 MB: $last KB)"

# The first result: a producer writes one line and keeps the pipe open; the time from that
# write to the first result line read, 20 times; the median and the worst.
python3 - "$SPATE" "$U" <<'PY'
import subprocess, sys, time
spate, url = sys.argv[1], sys.argv[2]
lat = []
for i in range(20):
    p = subprocess.Popen([spate, "fetch", "-q", "-i", "-"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, bufsize=0)
    time.sleep(0.05)  # spate is up and waiting for its input
    t0 = time.monotonic()
    p.stdin.write(("%s?first%d\n" % (url, i)).encode())
    p.stdout.readline()
    lat.append((time.monotonic() - t0) * 1e3)
    p.stdin.close()
    p.wait()
lat.sort()
print("first input line to first result line: median %.2f ms, worst %.2f ms of 20 (target 5 ms)"
      % (lat[len(lat) // 2], lat[-1]))
PY
