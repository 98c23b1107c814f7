#!/bin/sh
# t_bench_hdrlog.sh: `spate bench --hdr-log FILE` against nginx, decoded two ways: by
# tests/lib/hdrlog_read.py (this project's own reader of the V2 compressed encoding) and by
# HdrHistogram's HistogramLogReader (Debian's libhdrhistogram-java, when java is installed).
#   - one process, -R 200 -d 3: one untagged interval per second, 1 s long (the last one up to the
#     end), ~200 values each; all intervals together are exactly the report's histogram, bucket by
#     bucket;
#   - --procs 2: the untagged interval of each second is exactly the sum of the w0 and w1 ones, and
#     each worker's intervals add up to its responses in the report;
#   - a log that cannot be created: exit 2, the file named.
. "$(dirname "$0")/lib/tap.sh"
. "$TAP_LIB/nginx.sh"
require_spate
plan 13

SPATE_TIMEOUT=30
tmpdir T
nginx_start "$T" || { echo "Bail out! nginx did not start"; exit 1; }
printf 'hello from nginx, --hdr-log\n' >"$T/www/small.txt"
U=$NGINX_URL
J() { jl "$(out "$1")" "(lambda j: $2)(rows[0]) if len(rows) == 1 else 'got %d stdout lines' % len(rows)"; }
decode() { "$PY" "$TAP_LIB/hdrlog_read.py" "$1" >"$1.jsonl"; }
# H FILE EXPR: EXPR over iv (the decoded intervals) and j (the report of run NAME, third arg).
H() { jl "$1.jsonl" "(lambda iv, j: $2)(rows, R[0])" R="$(out "$3")"; }

# --- one process ------------------------------------------------------------------------------------------
run one bench -R 200 -d 3 -c 4 --json --hdr-log "$T/one.hlog" "$U/small.txt"
is "$RC" 0 "one process: exit 0"
decode "$T/one.hlog"
ok $? "one process: hdrlog_read.py decodes every line" || diag "$(head -5 "$T/one.hlog")"
is "$(H "$T/one.hlog" "[(i['tag'], i['start'], i['length'] == 1.0 or i is iv[-1], 150 <= i['count'] <= 250) for i in iv]" one)" \
    '[[null, 0.0, true, true], [null, 1.0, true, true], [null, 2.0, true, true]]' \
    "one process: three untagged intervals at 0, 1, 2 s, 1 s long, ~200 values each ($(H "$T/one.hlog" "[i['count'] for i in iv]" one))"
is "$(H "$T/one.hlog" "(lambda s: s == {str(k): c for k, c in j['histogram']['counts']} and sum(s.values()) == j['responses'])(__import__('functools').reduce(lambda a, b: {k: a.get(k, 0) + b.get(k, 0) for k in set(a) | set(b)}, [i['counts'] for i in iv], {}))" one)" \
    true "one process: the intervals add up to the report's histogram, bucket by bucket ($(J one "j['responses']") values)"
is "$(H "$T/one.hlog" "abs(max(i['max_ms'] for i in iv) - j['latency']['max'] * 1e3) < 1e-3 and (iv[0]['digits'], iv[0]['highest']) == (2, 2**42 - 1)" one)" true \
    "one process: the largest interval max is the report's max; 2 digits, highest 2^42-1"
BASE=$(sed -n 's/^#\[BaseTime: \([0-9.]*\) .*/\1/p' "$T/one.hlog")
is "$(J one "abs(j['period']['start'] - $BASE) < 0.002")" true "one process: the log's BaseTime is the measured period's start"

# --- --procs 2 ----------------------------------------------------------------------------------------------
run two bench --procs 2 -R 200 -d 3 -c 4 --json --hdr-log "$T/two.hlog" "$U/small.txt?two"
decode "$T/two.hlog"
is "$RC:$?" "0:0" "--procs 2: exit 0, every line decoded"
is "$(H "$T/two.hlog" "[(i['tag'], i['start']) for i in iv]" two)" \
    '[[null, 0.0], ["w0", 0.0], ["w1", 0.0], [null, 1.0], ["w0", 1.0], ["w1", 1.0], [null, 2.0], ["w0", 2.0], ["w1", 2.0]]' \
    "--procs 2: for each of the 3 seconds the untagged interval, then w0's and w1's" || diag "$(cut -c1-60 "$T/two.hlog")"
is "$(H "$T/two.hlog" "all(u['counts'] == (lambda a, b: {k: a.get(k, 0) + b.get(k, 0) for k in set(a) | set(b)})(*[w['counts'] for w in iv if w['tag'] and w['start'] == u['start']]) for u in iv if u['tag'] is None)" two)" \
    true "--procs 2: each second's untagged histogram is exactly w0's plus w1's"
is "$(H "$T/two.hlog" "[sum(i['count'] for i in iv if i['tag'] == 'w%d' % w) for w in (0, 1)] == [x['responses'] for x in j['workers']] and sum(i['count'] for i in iv if i['tag'] is None) == j['responses']" two)" \
    true "--procs 2: each worker's intervals add up to its responses, the untagged ones to the report's"

# --- HdrHistogram's own reader ---------------------------------------------------------------------------------
JAR=
for f in /usr/share/java/hdrhistogram.jar /usr/share/java/HdrHistogram.jar; do [ -f "$f" ] && JAR=$f && break; done
if command -v javac >/dev/null 2>&1 && [ -n "$JAR" ]; then
    cat >"$T/Totals.java" <<'EOF'
import org.HdrHistogram.*;

public class Totals {
    public static void main(String[] args) throws Exception {
        HistogramLogReader r = new HistogramLogReader(args[0]);
        java.util.TreeMap<String, Long> t = new java.util.TreeMap<>();
        EncodableHistogram e;
        while ((e = r.nextIntervalHistogram()) != null) {
            Histogram h = (Histogram) e;
            String tag = h.getTag() == null ? "-" : h.getTag();
            t.merge(tag, h.getTotalCount(), Long::sum);
        }
        System.out.println(t);
    }
}
EOF
    javac -cp "$JAR" -d "$T" "$T/Totals.java" 2>"$T/javac.err" &&
        timeout 60 java -cp "$JAR:$T" Totals "$T/two.hlog" >"$T/java.out" 2>"$T/java.err"
    is "$(cat "$T/java.out")" "$(J two "'{-=%d, w0=%d, w1=%d}' % (j['responses'], j['workers'][0]['responses'], j['workers'][1]['responses'])")" \
        "HdrHistogram's HistogramLogReader: totals per tag equal the report's" || diag "$(head -5 "$T/javac.err" "$T/java.err")"
else
    skip "javac or HdrHistogram's jar not installed"
fi

# --- a log that cannot be written --------------------------------------------------------------------------------
run nolog bench -n 10 -c 1 --hdr-log "$T/no/such/dir/x.hlog" "$U/small.txt"
like "$RC:$(cat "$(err nolog)")" "^2:spate bench: --hdr-log: cannot create '$T/no/such/dir/x.hlog'" \
    "--hdr-log in a missing directory: exit 2, the file named"

sanitizer_sweep "no sanitizer report in any run"
done_testing
