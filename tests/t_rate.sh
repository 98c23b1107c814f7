#!/bin/sh
# t_rate.sh: `spate fetch --rate R` is a token bucket over the whole run (requests started per
# second). 1,000 requests at --rate 200 -c 50 against tests/lib/flaky_server.py (no failures):
# the span from the first to the last request the server received is 999 / 200 = 4.995 s,
# asserted within 4.5 .. 5.5 s; the figure is printed as a TAP comment. Also: all ok, and no
# second of the run (after the first) received more than R + 10% requests (no bursts).
. "$(dirname "$0")/lib/tap.sh"
require_spate
N=${RATE_N:-1000}
R=${RATE_R:-200}
plan 5

tmpdir T
py_start "$T/srv" flaky_server.py "$T/srv.jsonl" --fail 0 || { echo "Bail out! flaky_server.py did not start"; exit 1; }
SPID=$PY_PID PORT=$PY_PORT
"$PY" -c 'import sys
for i in range(int(sys.argv[1])): print("http://127.0.0.1:%s/%d" % (sys.argv[2], i))' "$N" "$PORT" >"$T/urls"

SPATE_TIMEOUT=60 run rate fetch -q --rate "$R" -c 50 -i "$T/urls"
kill_wait "$SPID"

is "$RC" 0 "--rate $R: exit 0"
is "$(jl "$(out rate)" "len(rows) == $N and all(r['ok'] and r['status'] == 200 for r in rows)")" true \
    "--rate $R: $N results, all ok"
# stats over the server's receive times
rstat() {
    "$PY" - "$T/srv.jsonl" "$1" <<'EOF'
import json, sys
ts = sorted(json.loads(l)["t"] for l in open(sys.argv[1]) if '"path"' in l)
span = ts[-1] - ts[0] if ts else 0.0
# requests received in each 1-second window from the first one
per_sec = {}
for t in ts: per_sec[int(t - ts[0])] = per_sec.get(int(t - ts[0]), 0) + 1
print(eval(sys.argv[2]))
EOF
}
SPAN=$(rstat "'%.3f' % span")
COUNT=$(rstat "len(ts)")
EXPECT=$(echo "$N $R" | awk '{printf "%.3f", ($1 - 1) / $2}')
diag "rate test: $COUNT requests in $SPAN s (expected $EXPECT); spate wall time $ELAPSED s"
diag "rate test: received per second: $(rstat "' '.join(str(per_sec[k]) for k in sorted(per_sec))")"
is "$COUNT" "$N" "the server received $N requests (no retries, no duplicates)"
ok "$(echo "$SPAN" | awk '{exit !($1 >= 4.5 && $1 <= 5.5)}'; echo $?)" \
    "first to last request received: $SPAN s, within 4.5 .. 5.5 s (expected $EXPECT)"
# a bucket that lets the whole run's budget out early would show as a burst: no full second
# after the first may carry more than R + 10%
MAXSEC=$(rstat "max([v for k, v in per_sec.items() if k >= 1 and k < int(span)] or [0])")
cmp_num "$MAXSEC" -le $((R + R / 10)) "no burst: at most $((R + R / 10)) requests in any full second after the first (max $MAXSEC)"
done_testing
