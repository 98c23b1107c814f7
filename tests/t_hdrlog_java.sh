#!/bin/sh
# t_hdrlog_java.sh: HdrHistogram's own Java code reads spate's interval logs. `test_hdrlog --write`
# (tests/test_hdrlog.c) writes a known 3-second log (untagged, Tag=w0, Tag=w1; a clamped value and
# an empty interval included) and prints what a reader must decode; a tiny program compiled here
# against Debian's libhdrhistogram-java decodes the log with org.HdrHistogram.HistogramLogReader and
# prints, per interval, tag, start and length (ms), total count, max and every value:count. The two
# must be identical. HistogramLogProcessor, HdrHistogram's log tool, must then report the total of
# the untagged intervals. Skipped (with the reason) without java, javac or the jar.
. "$(dirname "$0")/lib/tap.sh"

BIN=${HDRLOG_TEST_BIN:-$TESTS_DIR/../build/asan/tests/test_hdrlog}
[ -x "$BIN" ] || skip_all "$BIN not built (make build/asan/tests/test_hdrlog)"
command -v java >/dev/null 2>&1 && command -v javac >/dev/null 2>&1 ||
    skip_all "java or javac not installed"
JAR=
for j in /usr/share/java/hdrhistogram.jar /usr/share/java/HdrHistogram.jar; do
    [ -f "$j" ] && JAR=$j && break
done
[ -n "$JAR" ] || skip_all "HdrHistogram's jar not found (Debian package libhdrhistogram-java)"
plan 5

tmpdir T
cat >"$T/ReadLog.java" <<'EOF'
import org.HdrHistogram.*;

public class ReadLog {
    public static void main(String[] args) throws Exception {
        HistogramLogReader reader = new HistogramLogReader(args[0]);
        EncodableHistogram e;
        while ((e = reader.nextIntervalHistogram()) != null) {
            Histogram h = (Histogram) e;
            StringBuilder sb = new StringBuilder();
            sb.append(h.getTag() == null ? "-" : h.getTag())
              .append(' ').append(h.getStartTimeStamp())
              .append(' ').append(h.getEndTimeStamp() - h.getStartTimeStamp())
              .append(' ').append(h.getTotalCount())
              .append(' ').append(h.getMaxValue());
            for (HistogramIterationValue v : h.recordedValues())
                sb.append(' ').append(v.getValueIteratedTo()).append(':')
                  .append(v.getCountAtValueIteratedTo());
            System.out.println(sb);
        }
    }
}
EOF

"$BIN" --write "$T/spate.hlog" >"$T/expected"
ok $? "test_hdrlog --write wrote $(grep -c '^[0-9T]' "$T/spate.hlog") interval lines to spate.hlog"
javac -cp "$JAR" -d "$T" "$T/ReadLog.java" 2>"$T/javac.err"
ok $? "ReadLog.java compiles against $JAR" || diag "$(cat "$T/javac.err")"
timeout 60 java -cp "$JAR:$T" ReadLog "$T/spate.hlog" >"$T/java.out" 2>"$T/java.err"
ok $? "HistogramLogReader reads the log without an exception" || diag "$(head -20 "$T/java.err")"
if cmp -s "$T/expected" "$T/java.out"; then
    ok 0 "HdrHistogram decodes every interval to spate's counts: $(wc -l <"$T/java.out") intervals, $(awk '{n += NF - 5} END {print n}' "$T/java.out") buckets, tags, times, totals and max equal"
else
    ok 1 "HdrHistogram decodes every interval to spate's counts"
    diag "expected (summary):" "$(cut -d' ' -f1-5 "$T/expected")" "java (summary):" \
        "$(cut -d' ' -f1-5 "$T/java.out")"
fi

# HistogramLogProcessor accumulates the untagged intervals (tagged ones only with -tag).
WANT=$(awk '$1 == "-" {n += $4} END {print n}' "$T/expected")
timeout 60 java -cp "$JAR" org.HdrHistogram.HistogramLogProcessor -i "$T/spate.hlog" \
    -o "$T/proc" >"$T/proc.out" 2>"$T/proc.err"
GOT=$(sed -n 's/.*Total count *= *\([0-9]*\).*/\1/p' "$T/proc.hgrm" 2>/dev/null)
is "$GOT" "$WANT" "HistogramLogProcessor: total count of the untagged intervals is $WANT" ||
    diag "$(head -5 "$T/proc.err")" "$(ls "$T")"
done_testing
