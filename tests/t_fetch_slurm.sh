#!/bin/sh
# t_fetch_slurm.sh: one batch of URLs shared by several "machines" with `spate fetch --shard auto`,
# against a private nginx whose access log is the ground truth:
#   1. the README's job-array recipe on a private one-host Slurm cluster (tests/lib/slurm.sh):
#      sbatch --array=0-1 --output=part.%a.jsonl --wrap 'spate fetch --shard auto ...' over 4,000
#      URLs: the two outputs hold every id exactly once, all ok, and nginx served 4,000; skipped,
#      with the reason, when Slurm cannot start here;
#   2. the same with a job array's variables set by hand (always runs);
#   3. a Kubernetes Indexed Job's pods: JOB_COMPLETION_INDEX 0 and 1 with --shards 2.
. "$(dirname "$0")/lib/tap.sh"
. "$TAP_LIB/nginx.sh"
. "$TAP_LIB/slurm.sh"
require_spate
plan 7

tmpdir T
nginx_start "$T" || { echo "Bail out! nginx did not start"; exit 1; }
make_files "$T/www" 4000
awk -v u="$NGINX_URL" 'BEGIN { for (i = 0; i < 4000; i++) printf "%s/f/%d\n", u, i }' >"$T/urls.txt"
served() { grep -c '^/f/' "$NGINX_DIR/access.log" || true; }

# whole FILE...: "yes" when the result lines hold ids 0..3999 exactly once, each ok with its own
# URL and 200; else what is wrong.
whole() {
    "$PY" - "$@" <<'EOF'
import json, sys
rows = [json.loads(l) for f in sys.argv[1:] for l in open(f) if l.strip()]
ids = sorted(r["id"] for r in rows)
bad = [r for r in rows if not (r["ok"] and r["status"] == 200 and r["url"].endswith("/f/%d" % r["id"]))]
print("yes" if ids == list(range(4000)) and not bad else
      "%d lines, %d distinct ids, %d bad: %s" % (len(rows), len(set(ids)), len(bad), bad[:1]))
EOF
}

# --- 2. a job array's variables, by hand ----------------------------------------------------------
h0=$(served)
for k in 0 1; do
    env SLURM_ARRAY_TASK_ID=$((k + 3)) SLURM_ARRAY_TASK_MIN=3 SLURM_ARRAY_TASK_COUNT=2 \
        timeout -k 5 60 "$SPATE_BIN" fetch --shard auto -q -c 16 -i "$T/urls.txt" >"$T/hand.$k.jsonl" 2>"$T/hand.$k.err"
    echo $? >"$T/hand.$k.rc"
done
is "$(cat "$T/hand.0.rc" "$T/hand.1.rc" | tr '\n' ' ')$(($(served) - h0))" "0 0 4000" \
    "by hand (array tasks 3 and 4 of MIN 3, COUNT 2): both exit 0, nginx served 4,000" ||
    diag "$(cat "$T"/hand.*.err)"
is "$(whole "$T/hand.0.jsonl" "$T/hand.1.jsonl")" yes "by hand: the two outputs hold every id once, all ok"
is "$(wc -l <"$T/hand.0.jsonl" | tr -d ' ') $(head -n 1 "$T/hand.1.jsonl" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["id"] % 2)')" \
    "2000 1" "by hand: task 0 took the even indexes (2,000), task 1 the odd ones"

# --- 3. Kubernetes Indexed Job pods ---------------------------------------------------------------------
h0=$(served)
for k in 0 1; do
    env JOB_COMPLETION_INDEX=$k timeout -k 5 60 "$SPATE_BIN" fetch --shard auto --shards 2 -q -c 16 -i "$T/urls.txt" \
        >"$T/k8s.$k.jsonl" 2>"$T/k8s.$k.err"
done
is "$(whole "$T/k8s.0.jsonl" "$T/k8s.1.jsonl") $(($(served) - h0))" "yes 4000" \
    "k8s (JOB_COMPLETION_INDEX 0/1, --shards 2): every id once, all ok, nginx served 4,000" ||
    diag "$(cat "$T"/k8s.*.err)"

# --- 1. the README's job-array recipe on a one-host cluster ------------------------------------------------
if slurm_start; then
    D=$SLURM_DIR
    h0=$(served)
    # the README's recipe but for the paths (-e keeps a sanitizer's report apart from the lines)
    JOB=$(sbatch --parsable --array=0-1 --output="$D/part.%a.jsonl" -e "$D/part.%a.err" \
        --wrap "$SPATE_BIN fetch --shard auto -q -c 16 -i $T/urls.txt" 2>"$D/sbatch.err")
    ok $? "sbatch --array=0-1 --wrap 'spate fetch --shard auto ...' accepted (job ${JOB:-none})" ||
        diag "$(cat "$D/sbatch.err")"
    slurm_wait_job "$JOB" 60
    ok $? "the array left the queue within 60 s"
    cat "$D"/part.*.jsonl >"$T/all.jsonl" 2>/dev/null
    is "$(whole "$T/all.jsonl") $(($(served) - h0))" "yes 4000" \
        "slurm: cat part.*.jsonl holds every id exactly once, all ok; nginx served 4,000" ||
        diag "$(cat "$D"/part.*.err 2>/dev/null | head -c 1500)"
else
    skip "Slurm cannot start here: $SLURM_WHY"
    skip "Slurm cannot start here: $SLURM_WHY"
    skip "Slurm cannot start here: $SLURM_WHY"
fi
done_testing
