#!/bin/sh
# bench/hosts-mem.sh: peak RSS and CPU of `spate fetch` as the number of distinct host names grows.
# A private nginx answers every name (its default server), tests/lib/dns_server.py answers every
# name under hosts.test with 127.0.0.1 ("*.hosts.test"). Each case fetches N URLs spread over K
# names, one run each, and prints peak RSS, client CPU per URL and the KB per name beyond the
# 1-name run of the same N (the input is the same size). Peak RSS comes from GNU time (getrusage
# of the child): a child forked by python (bench/rusage.py) inherits the interpreter's ~10 MB as
# its high-water mark, which hides everything below that.
# Env: CASES ["3000:1 3000:3000 30000:1 30000:30 30000:3000 30000:30000"], CONC [100], SPATE [./spate],
#      EXTRA (more spate options, e.g. "--dns-cache-size 0"), KEEP=1.
set -eu
. "$(dirname "$0")/lib.sh"

CASES=${CASES:-"3000:1 3000:3000 30000:1 30000:30 30000:3000 30000:30000"}
CONC=${CONC:-100}
need nginx curl taskset awk python3
[ -x /usr/bin/time ] || die "missing /usr/bin/time: run 'make deps' (Debian package time)"
need_spate

bench_init
mkdir -p "$WORK/www"
echo "hello" >"$WORK/www/x"
nginx_start "$WORK"
echo '{"*.hosts.test": {"A": ["127.0.0.1"], "ttl": 300}}' >"$WORK/zone.json"
python3 "$BENCH_ROOT/tests/lib/dns_server.py" "$WORK/zone.json" /dev/null >"$WORK/dns.port" &
DNS_PID=$!
trap 'kill $DNS_PID 2>/dev/null; bench_cleanup' EXIT
n=0
while [ ! -s "$WORK/dns.port" ] && [ "$n" -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
DNSP=$(head -n 1 "$WORK/dns.port")
[ -n "$DNSP" ] || die "dns_server.py did not start"

echo "spate fetch, N URLs over K names (all 127.0.0.1), -c $CONC ${EXTRA:-}"
machine_info
printf '%8s %8s %10s %12s %14s\n' N K "peak RSS" "CPU per URL" "KB per name"
for c in $CASES; do
    N=${c%%:*} K=${c#*:}
    awk -v n="$N" -v k="$K" -v p="$NGINX_PORT" \
        'BEGIN { for (i = 0; i < n; i++) printf "http://h%d.hosts.test:%d/x\n", i % k, p }' \
        >"$WORK/urls.txt"
    # shellcheck disable=SC2086 # EXTRA is a list of options
    /usr/bin/time -o "$WORK/time" -f '%e %U %S %M' taskset -c "${CLIENT_CPU:-1}" "$SPATE" fetch \
        -q -c "$CONC" --dns-server "127.0.0.1:$DNSP" ${EXTRA:-} -i "$WORK/urls.txt" \
        >"$WORK/out" 2>"$WORK/out.err" ||
        die "spate failed: $(tail -n 3 "$WORK/out.err") $(grep -m 1 '"ok":false' "$WORK/out")"
    okn=$(grep -c '"ok":true' "$WORK/out" || true)
    [ "$okn" = "$N" ] || die "$okn of $N ok: $(grep -m 1 '"ok":false' "$WORK/out")"
    rss=$(tfield "$WORK/time" 4)
    cpu=$(tfield "$WORK/time" cpu)
    [ "$K" = 1 ] && eval "base_$N=$rss"
    base=$(eval "echo \${base_$N:-}")
    per=$(awk -v r="$rss" -v b="$base" -v k="$K" \
        'BEGIN { if (b == "" || k == 1) print "-"; else printf "%.3f", (r - b) / (k - 1) }')
    printf '%8d %8d %7d KB %9.2f µs %14s\n' "$N" "$K" "$rss" \
        "$(awk -v c="$cpu" -v n="$N" 'BEGIN { print c / n * 1e6 }')" "$per"
done
