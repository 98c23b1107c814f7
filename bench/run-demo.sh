#!/bin/sh
# bench/run-demo.sh (`make run`): the main job on an embedded default. Starts a private nginx on
# loopback with 10,000 small files, fetches them all with `spate fetch`, then loads one of them with
# `spate bench`, and prints both results. Env: FILES [10000], DURATION [3], SPATE [./spate], KEEP=1.
set -eu
. "$(dirname "$0")/lib.sh"

FILES=${FILES:-10000}
DURATION=${DURATION:-3}

need nginx curl openssl awk
need_spate
bench_init
echo "== starting nginx on 127.0.0.1 with $FILES small files"
make_files "$WORK/www" "$FILES"
nginx_start "$WORK"
base="http://127.0.0.1:$NGINX_PORT"
i=0
while [ "$i" -lt "$FILES" ]; do
    echo "$base/f/$i"
    i=$((i + 1))
done >"$WORK/urls.txt"

echo
echo "== spate fetch -c 64 -i urls.txt > results.jsonl    ($FILES URLs like $base/f/0)"
rc=0
"$SPATE" fetch -c 64 -i "$WORK/urls.txt" >"$WORK/results.jsonl" || rc=$?
echo
echo "first 3 lines of results.jsonl:"
head -n 3 "$WORK/results.jsonl"
echo "$(grep -c '"ok": *true' "$WORK/results.jsonl" || true) of $FILES lines have \"ok\": true \
(exit status $rc)"

echo
echo "== spate bench -c 64 -d $DURATION $base/f/0"
brc=0
"$SPATE" bench -c 64 -d "$DURATION" "$base/f/0" || brc=$?

[ "$rc" = 0 ] && [ "$brc" = 0 ] || die "spate exited with status $rc (fetch), $brc (bench)"
