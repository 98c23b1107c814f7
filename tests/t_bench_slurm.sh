#!/bin/sh
# t_bench_slurm.sh: one test on several "machines" through the batch systems spate supports,
# against a private nginx whose access log is the ground truth:
#   1. the README's Slurm recipe on a private one-host cluster (tests/lib/slurm.sh): srun -n 2
#      --output=part.%t.json spate bench --segment auto --start-at $T ... --json, then spate
#      merge part.*.json: the merged count is nginx's, the rate is the responses over the union
#      of the two periods, both pieces started at T; skipped, with the reason, when Slurm cannot
#      start here;
#   2. the same with the variables a Slurm job step sets, by hand (always runs);
#   3. bench/k8s-indexed-job.yaml: parsed as YAML (an Indexed Job, completions = parallelism =
#      SEGMENTS, restartPolicy Never), then its container command run twice exactly as two pods
#      would (sh -c, with JOB_COMPLETION_INDEX 0 and 1, SEGMENTS 2 and the other variables it
#      names), then merged;
#   4. --segment auto with none of the variables: a usage error naming them.
. "$(dirname "$0")/lib/tap.sh"
. "$TAP_LIB/nginx.sh"
. "$TAP_LIB/slurm.sh"
require_spate
plan 16

SPATE_TIMEOUT=40
tmpdir T
nginx_start "$T" || { echo "Bail out! nginx did not start"; exit 1; }
printf 'hello from nginx, spate on a cluster\n' >"$T/www/small.txt"
U=$NGINX_URL
AL=$T/access.log
logged() { awk -v u="$1" '$1 == u' "$AL" | wc -l | tr -d ' '; }
# union_ok FILE N: the merged report FILE has N requests, all 200, and its rate is the responses
# over the union of the pieces' periods (which both began at T).
union_check() {
    jl "$1" "(lambda j: (j['requests'], j['status'], abs(j['rps'] - j['responses'] / (j['period']['end'] - j['period']['start'])) < 0.001 * j['rps'], j['period']['start'] == min(p['start'] for p in j['pieces']), j['period']['end'] == max(p['end'] for p in j['pieces']), [p['piece'] for p in j['pieces']], [p['late_s'] for p in j['pieces']], j['missing']))(rows[0])"
}
PIDS= KPIDS=
WANT_UNION='[4000, {"200": 4000}, true, true, true, [{"k": 0, "n": 2}, {"k": 1, "n": 2}], [0.0, 0.0], null]'

# --- 2. Slurm's job-step variables, by hand -------------------------------------------------------------
TS=$(($(date +%s) + 2))
for k in 0 1; do
    env SLURM_PROCID=$k SLURM_NTASKS=2 SLURM_STEP_ID=0 "$SPATE_BIN" bench --segment auto --start-at "$TS" \
        -n 4000 -c 4 --json "$U/small.txt?hand" >"$T/hand.$k.json" 2>"$T/hand.$k.err" &
    PIDS="$PIDS $!"
done
wait $PIDS
run hand merge --json "$T/hand.0.json" "$T/hand.1.json"
is "$RC:$(logged '/small.txt?hand')" "0:4000" "by hand (SLURM_PROCID 0/1 of 2): merged, nginx logged 4,000" ||
    diag "$(cat "$T"/hand.*.err)"
is "$(union_check "$(out hand)")" "$WANT_UNION" "by hand: 4,000 requests, rate over the union, pieces 0/2 and 1/2 on time"
is "$(jl "$T/hand.0.json" "rows[0]['period']['start'] == $TS")" true "by hand: piece 0 started measuring at T"

# --- 3. the Kubernetes Indexed Job -------------------------------------------------------------------------
Y=$TESTS_DIR/../bench/k8s-indexed-job.yaml
# The manifest's facts, one per line: kind, completionMode, completions, parallelism, restart
# policy, SEGMENTS, then the container's command as one shell-quoted line (for sh -c) and the
# names of its env variables.
if "$PY" -c 'import yaml' 2>/dev/null; then
    FACTS=$("$PY" - "$Y" <<'EOF'
import shlex, sys, yaml
docs = list(yaml.safe_load_all(open(sys.argv[1])))
assert len(docs) == 1, "one document"
j = docs[0]
s = j["spec"]
c = s["template"]["spec"]["containers"]
assert len(c) == 1, "one container"
env = {e["name"]: e["value"] for e in c[0]["env"]}
print(j["apiVersion"], j["kind"], s["completionMode"], s["completions"], s["parallelism"],
      s["template"]["spec"]["restartPolicy"], env["SEGMENTS"])
print(shlex.join(c[0]["command"]))
print(" ".join(sorted(env)))
EOF
    )
    PARSER=yaml
else # a small check without PyYAML: the lines that matter
    FACTS="$(sed -n 's/^apiVersion: *//p' "$Y") $(sed -n 's/^kind: *//p' "$Y") $(sed -n 's/^ *completionMode: *//p' "$Y") $(sed -n 's/^ *completions: *//p' "$Y") $(sed -n 's/^ *parallelism: *//p' "$Y") $(sed -n 's/^ *restartPolicy: *//p' "$Y") 4"
    PARSER=grep
fi
is "$(echo "$FACTS" | sed -n 1p)" "batch/v1 Job Indexed 4 4 Never 4" \
    "k8s-indexed-job.yaml ($PARSER): an Indexed Job, completions = parallelism = SEGMENTS = 4, restartPolicy Never"
if [ "$PARSER" = yaml ]; then
    CMD=$(echo "$FACTS" | sed -n 2p)
    is "$(echo "$FACTS" | sed -n 3p)" "LOAD SEGMENTS START_AT TARGET" "k8s: the pod's variables are LOAD, SEGMENTS, START_AT, TARGET"
    mkdir -p "$T/bin"
    ln -s "$SPATE_BIN" "$T/bin/spate"
    TK=$(($(date +%s) + 2))
    for k in 0 1; do
        # what the pod runs: its command, with Kubernetes' JOB_COMPLETION_INDEX and the env it sets
        env -i PATH="$T/bin:$PATH" ASAN_OPTIONS="$ASAN_OPTIONS" UBSAN_OPTIONS="$UBSAN_OPTIONS" \
            LSAN_OPTIONS="$LSAN_OPTIONS" JOB_COMPLETION_INDEX=$k SEGMENTS=2 START_AT=$TK \
            LOAD="-n 4000 -c 4" TARGET="$U/small.txt?k8s" \
            sh -c "eval \"\$0\"" "$CMD" >"$T/k8s.$k.json" 2>"$T/k8s.$k.err" &
        KPIDS="$KPIDS $!"
    done
    wait $KPIDS
    run k8s merge --json "$T/k8s.0.json" "$T/k8s.1.json"
    is "$RC:$(logged '/small.txt?k8s')" "0:4000" "k8s: two pods' pieces merged, nginx logged 4,000" ||
        diag "$(cat "$T"/k8s.*.err)" "command: $CMD"
    is "$(union_check "$(out k8s)")" "$WANT_UNION" "k8s: 4,000 requests, rate over the union, pieces 0/2 and 1/2 on time"
else
    skip "PyYAML not installed: the command is not extracted"
    skip "PyYAML not installed"
    skip "PyYAML not installed"
fi
env JOB_COMPLETION_INDEX=1 "$SPATE_BIN" bench --segment auto -n 10 "$U/small.txt" >/dev/null 2>"$T/k8s_non.err"
like "$?:$(cat "$T/k8s_non.err")" '^2:.*JOB_COMPLETION_INDEX=1 .*add --segments N' \
    "k8s: JOB_COMPLETION_INDEX without --segments: exit 2, asks for --segments"

# --- 4. --segment auto outside any batch system ------------------------------------------------------------------
env -u SLURM_PROCID -u SLURM_NTASKS -u SLURM_ARRAY_TASK_ID -u JOB_COMPLETION_INDEX \
    "$SPATE_BIN" bench --segment auto -n 10 "$U/small.txt" >/dev/null 2>"$T/none.err"
like "$?:$(cat "$T/none.err")" '^2:spate bench: --segment auto: no batch system found: none of SLURM_PROCID' \
    "--segment auto with no variables: exit 2, names the variables it looks for"

# --- 1. the Slurm recipe on a one-host cluster -----------------------------------------------------------------------
if slurm_start; then
    D=$SLURM_DIR
    T0=$(date +%s.%N)
    # the README's recipe, word for word but for the load and the URL
    T=$(($(date +%s) + 3)); srun -n 2 --output="$D/part.%t.json" "$SPATE_BIN" bench --segment auto --start-at $T -n 4000 -c 4 --json "$U/small.txt?slurm"
    SRC=$?
    diag "srun -n 2 took $(echo "$T0 $(date +%s.%N)" | awk '{printf "%.2f", $2 - $1}') s (T was $T)"
    is "$SRC" 0 "slurm: srun -n 2 ... spate bench --segment auto: exit 0" || diag "$(cat "$D"/part.*.json 2>/dev/null | head -c 1500)"
    is "$(ls "$D" | grep -c '^part\.[01]\.json$')" 2 "slurm: part.0.json and part.1.json written"
    run slurm merge --json "$D"/part.*.json
    is "$RC:$(logged '/small.txt?slurm')" "0:4000" "slurm: spate merge part.*.json, nginx logged 4,000"
    is "$(union_check "$(out slurm)")" "$WANT_UNION" "slurm: merged count equals nginx's; rate over the union of the periods; on time"
    is "$(jl "$D/part.0.json" "(rows[0]['period']['start'] == rows[0]['period']['start_at'] == $T, rows[0]['piece'])")" \
        '[true, {"k": 0, "n": 2}]' "slurm: task 0 is piece 0/2 (SLURM_PROCID) and started measuring at T"
    run slurmtxt merge "$D"/part.*.json
    like "$(cat "$(out slurmtxt)")" 'requests +4,000 in' "slurm: the merged text report says 4,000"
else
    for i in 1 2 3 4 5 6; do skip "Slurm cannot start here: $SLURM_WHY (the same run was done by hand above)"; done
fi

sanitizer_sweep "no sanitizer report in any run"
done_testing
