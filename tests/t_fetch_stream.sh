#!/bin/sh
# t_fetch_stream.sh: `spate fetch` at any size (issue 12), against a private nginx:
#  1. input streams: a producer writing one URL at a time sees its result before it writes the
#     next line, and every result before it closes the pipe;
#  2. memory bounded by the work in flight: peak RSS of the release binary (GNU time: getrusage
#     of the child) for 200,000 URLs at most 1.3x that for 20,000; every id exactly once;
#  3. bad lines at the start, middle and end of 1,000 good ones: a result of kind input naming
#     FILE:LINE for each (attempts 0, start null, the index counting the bad lines), every good one
#     ok, exit 1; --strict: exit 2, each bad line named on stderr, nginx's log empty;
#  4. interrupt and resume: SIGINT part way through 20,000 URLs (nginx's limit_req spreads them
#     over seconds), then --resume with the same input appended to the same output: exactly
#     20,000 ids ok in the union, and nginx fetched no URL twice except those the first run
#     reported canceled; --resume ignores lines that do not parse (a cut line) and ok false;
#  5. --shard 0/3, 1/3, 2/3 (one of them --ordered): the outputs together hold every id once,
#     each in the shard i mod 3; --shard refuses bad values.
. "$(dirname "$0")/lib/tap.sh"
. "$TAP_LIB/nginx.sh"
require_spate
require_release_spate
plan 24

tmpdir T
mkdir -p "$T/www/lim"
echo hello >"$T/www/x"
echo slow >"$T/www/lim/x"
# /lim/ is spread to 4,000 requests/s by limit_req (queued, not refused), so 20,000 take 5 s
nginx_start "$T" 'limit_req_zone $server_name zone=lim:1m rate=4000r/s;' \
    'location /lim/ { limit_req zone=lim burst=100000; try_files /lim/x =404; }' ||
    { echo "Bail out! nginx did not start"; exit 1; }
U=$NGINX_URL
LOG=$NGINX_DIR/access.log
# urls N PATH: N URLs PATH?i for i < N, one a line
urls() { awk -v n="$1" -v u="$U$2" 'BEGIN { for (i = 0; i < n; i++) printf "%s?%d\n", u, i }'; }

# --- 1. a slow producer ---------------------------------------------------------------------------
# The producer (lib/pipe_stream.py) writes one URL, then waits with the pipe open until its result
# is out (10 s at most) before it writes the next, and closes the pipe only after the fifth: each
# result must come while spate has no more input and no end of it. A wait on the result, not a
# fixed pace: an exec that is slow on a loaded machine delays the test, it cannot fail it.
urls 5 /x >"$T/slow.urls"
"$PY" "$TAP_LIB/pipe_stream.py" "$T/slow.urls" -- "$SPATE_BIN" fetch -q -i - >"$T/producer.txt" 2>"$T/producer.err"
is "$(cut -d ' ' -f 1-4 "$T/producer.txt")" "0 5 streamed True" \
    "a producer writing one URL at a time: each result before the next line, all 5 ok before the pipe closes (slowest $(cut -d ' ' -f 5 "$T/producer.txt") s)"


# --- 2. peak RSS: 200,000 URLs vs 20,000 -------------------------------------------------------------
measure() { # NAME N: sets RSS (peak KB)
    urls "$2" /x >"$T/$1.urls"
    /usr/bin/time -o "$T/$1.rss" -f %M timeout -k 5 300 "$SPATE_REL" fetch -q -c 100 \
        -i "$T/$1.urls" >"$T/$1.out" 2>"$T/$1.err"
    _rc=$?
    RSS=$(tail -n 1 "$T/$1.rss")
    is "$_rc $(jl "$T/$1.out" "'yes' if sorted(r['id'] for r in rows) == list(range($2)) and all(r['ok'] and r['url'].endswith('?%d' % r['id']) for r in rows) else '%d lines, %d ok' % (len(rows), sum(1 for r in rows if r['ok']))")" \
        "0 yes" "$1: $2 URLs: exit 0, every id once, each ok with its own URL"
    diag "$1: $2 URLs: peak RSS $RSS KB"
}
measure small 20000
RSS_SMALL=$RSS
measure big 200000
RSS_BIG=$RSS
at_most_times "$RSS_BIG" "$RSS_SMALL" 1.3 "peak RSS for 200,000 URLs $RSS_BIG KB vs 20,000 URLs $RSS_SMALL KB"

# --- 3. bad lines ---------------------------------------------------------------------------------
# lines 1, 502 and 1003 are bad (a URL with a space, a JSON object cut short, an ftp URL)
"$PY" - "$U/x" >"$T/bad.urls" <<'EOF'
import sys
u = sys.argv[1]
lines = ["not a url"] + ["%s?%d" % (u, i) for i in range(500)] + ['{"url": '] + \
        ["%s?%d" % (u, i) for i in range(500, 1000)] + ["ftp://x/"]
print("\n".join(lines))
EOF
: >"$LOG"
run strict fetch -q --strict -i "$T/bad.urls"
is "$RC $(wc -l <"$(out strict)" | tr -d ' ')" "2 0" "--strict with 3 bad lines: exit 2, no result line"
like "$(tr '\n' ' ' <"$(err strict)")" 'bad\.urls:1: .*bad\.urls:502: .*bad\.urls:1003: ' "  stderr names each bad line"
sleep 0.2
is "$(wc -l <"$LOG" | tr -d ' ')" 0 "  nginx's log is empty: nothing fetched"
run badlines fetch -q -i "$T/bad.urls"
is "$RC" 1 "without --strict: exit 1"
is "$(jl "$(out badlines)" "[(r['id'], re.sub(r'^.*/', '', r['error']['message'].split(': ')[0]), r['attempts'], r['start'], r['status']) for r in rows if not r['ok'] and r['error']['kind'] == 'input']")" \
    '[[0, "bad.urls:1", 0, null, null], [501, "bad.urls:502", 0, null, null], [1002, "bad.urls:1003", 0, null, null]]' \
    "  one result of kind input per bad line: its index, FILE:LINE, attempts 0, start null"
is "$(jl "$(out badlines)" "(len(rows), sum(1 for r in rows if r['ok'] and r['status'] == 200), sorted(r['id'] for r in rows) == list(range(1003)), all(r['url'].endswith('?%d' % (r['id'] - 1 - (r['id'] > 501))) for r in rows if r['ok']))")" \
    '[1003, 1000, true, true]' "  the 1,000 good lines all ok, ids counting the bad lines"
is "$(wc -l <"$LOG" | tr -d ' ')" 1000 "  nginx served the 1,000 good ones"
like "$(jl "$(out badlines)" "[r['error']['message'] for r in rows if r['id'] in (0, 501, 1002)]")" \
    'invalid character.*invalid JSON.*scheme' "  each message names the broken rule"

# --- 4. interrupt and resume ---------------------------------------------------------------------
urls 20000 /lim/x >"$T/res.urls"
: >"$LOG"
: >"$T/res.out" # there before the loop below reads it
"$SPATE_BIN" fetch -q -c 50 -i "$T/res.urls" >"$T/res.out" 2>"$T/res.err" </dev/null &
PID=$!
on_exit "kill -KILL $PID 2>/dev/null"
i=0
while [ "$(wc -l <"$T/res.out")" -lt 3000 ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
kill -INT $PID
wait $PID
RC1=$?
N1=$(wc -l <"$T/res.out" | tr -d ' ')
is "$RC1 $([ "$N1" -ge 3000 ] && [ "$N1" -lt 20000 ] && echo mid-run)" "130 mid-run" "SIGINT part way: exit 130 after some ($N1) of 20,000 lines"
cp "$T/res.out" "$T/res.first"
run resume fetch -q -c 50 -i "$T/res.urls" --resume "$T/res.out"
cat "$(out resume)" >>"$T/res.out"
is "$RC" 0 "--resume with the same input: exit 0"
is "$(jl "$T/res.out" "(sorted(r['id'] for r in rows if r['ok']) == list(range(20000)), len(rows) - sum(1 for r in rows if r['ok']))")" \
    '[true, 0]' "  the union holds every id ok exactly once (and no failure)"
is "$(jl "$(out resume)" "len(rows)") " "$((20000 - $(jl "$T/res.first" "sum(1 for r in rows if r['ok'])"))) " \
    "  the second run fetched only what the first did not finish"
is "$("$PY" - "$LOG" "$T/res.first" <<'EOF'
import json, sys
from collections import Counter
c = Counter(l.split()[0] for l in open(sys.argv[1]))
canceled = {r["url"].split("/", 3)[3] for r in map(json.loads, open(sys.argv[2])) if not r["ok"]}
twice = {u for u, n in c.items() if n > 1}
print(len(c), "ok" if twice <= {"/" + u for u in canceled} else "fetched twice: %s" % sorted(twice)[:5])
EOF
)" "20000 ok" "  nginx served all 20,000 URLs, none twice but those the first run reported canceled"
# a cut line, garbage and ok false are not done
printf '{"id":0,"ok":true}\ngarbage\n{"id":2,"ok":false}\n{"id":3,"ok":true,"url":"x"}{"id":1,"ok":tr' >"$T/cut.jsonl"
urls 4 /x >"$T/four.urls"
run cut fetch -q -i "$T/four.urls" --resume "$T/cut.jsonl"
is "$RC $(jl "$(out cut)" "sorted(r['id'] for r in rows)")" "0 [1, 2, 3]" \
    "--resume skips only ids with a whole ok true line (a glued or cut line is ignored)"
run nores fetch -q -i "$T/four.urls" --resume "$T/missing.jsonl"
is "$RC $(wc -l <"$(out nores)" | tr -d ' ')" "2 0" "--resume with a missing file: exit 2, nothing fetched"
like "$(cat "$(err nores)")" 'resume.*missing\.jsonl' "  the message names the option and the file"

# --- 5. shards ------------------------------------------------------------------------------------
urls 1000 /x >"$T/sh.urls"
run sh0 fetch -q -i "$T/sh.urls" --shard 0/3
run sh1 fetch -q -i "$T/sh.urls" --shard 1/3 --ordered
run sh2 fetch -q -i "$T/sh.urls" --shard 2/3
cat "$(out sh0)" "$(out sh1)" "$(out sh2)" >"$T/sh.all"
is "$(jl "$T/sh.all" "(sorted(r['id'] for r in rows) == list(range(1000)), all(r['ok'] and r['url'].endswith('?%d' % r['id']) for r in rows))")" \
    '[true, true]' "--shard 0/3, 1/3, 2/3: together every id exactly once, each ok with its URL"
is "$(for k in 0 1 2; do jl "$(out sh$k)" "all(r['id'] % 3 == $k for r in rows)"; done | tr '\n' ' ')" \
    "true true true " "  each shard holds the ids i mod 3 = K"
is "$(jl "$(out sh1)" "[r['id'] for r in rows] == sorted(r['id'] for r in rows)")" true \
    "  --ordered with --shard prints its ids in order"
run shbad fetch -q -i "$T/sh.urls" --shard 3/3
like "$RC $(cat "$(err shbad)")" '^2 .*--shard' "--shard 3/3: exit 2 naming the option"
