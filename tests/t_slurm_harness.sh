#!/bin/sh
# t_slurm_harness.sh: the private one-host Slurm cluster of tests/lib/slurm.sh works, and the
# variables `--segment auto` / `--shard auto` read are what Slurm really sets:
#   - `srun -n 2` runs two tasks with SLURM_PROCID 0 and 1, SLURM_NTASKS 2 and a SLURM_STEP_ID;
#   - a 2-task job array (sbatch --array=0-1, squeue polled) runs both tasks, each writing a file
#     named by its SLURM_ARRAY_TASK_ID with SLURM_ARRAY_TASK_MIN 0 and SLURM_ARRAY_TASK_COUNT 2;
#   - the batch script of `sbatch -n 3` has SLURM_NTASKS=3 and SLURM_PROCID=0 but no SLURM_STEP_ID
#     (why `auto` ignores SLURM_NTASKS outside a job step);
#   - slurm_stop leaves none of the three daemons running.
# When Slurm cannot start here, the file is skipped with the reason (never passed silently).
. "$(dirname "$0")/lib/tap.sh"
. "$TAP_LIB/slurm.sh"

T0=$(date +%s.%N)
slurm_start || skip_all "Slurm cannot start here: $SLURM_WHY"
plan 7
diag "one-host Slurm cluster up in $(echo "$T0 $(date +%s.%N)" | awk '{printf "%.2f", $2 - $1}') s ($SLURM_CONF)"
D=$SLURM_DIR

# 1. a two-task job step
timeout 30 srun -n 2 env >"$D/step.env" 2>"$D/step.err"
is "$(grep '^SLURM_PROCID=' "$D/step.env" | sort | tr '\n' ' ')" "SLURM_PROCID=0 SLURM_PROCID=1 " \
    "srun -n 2: two tasks, SLURM_PROCID 0 and 1" || diag "$(cat "$D/step.err")"
is "$(grep -c '^SLURM_NTASKS=2$' "$D/step.env"):$(grep -c '^SLURM_STEP_ID=' "$D/step.env")" "2:2" \
    "srun -n 2: both tasks see SLURM_NTASKS=2 and a SLURM_STEP_ID"

# 2. a two-task job array; each task writes its own file
cat >"$D/task.sh" <<'EOF'
#!/bin/sh
echo "$SLURM_ARRAY_TASK_ID $SLURM_ARRAY_TASK_MIN $SLURM_ARRAY_TASK_COUNT ${SLURM_STEP_ID:-none}" \
    >"$OUT_DIR/task.$SLURM_ARRAY_TASK_ID"
EOF
chmod +x "$D/task.sh"
T1=$(date +%s.%N)
JOB=$(OUT_DIR=$D sbatch --parsable --array=0-1 -o "$D/array.%a.out" "$D/task.sh" 2>"$D/sbatch.err")
ok $? "sbatch --array=0-1 accepted (job ${JOB:-none})" || diag "$(cat "$D/sbatch.err")"
slurm_wait_job "$JOB" 30
ok $? "the array left the queue within 30 s (squeue polled; $(echo "$T1 $(date +%s.%N)" |
    awk '{printf "%.2f", $2 - $1}') s)"
is "$(cat "$D/task.0" "$D/task.1" 2>/dev/null | tr '\n' ' ')" "0 0 2 none 1 0 2 none " \
    "each array task wrote task.\$SLURM_ARRAY_TASK_ID with MIN 0, COUNT 2, no job step" ||
    diag "$(cat "$D"/array.*.out 2>/dev/null)"

# 3. a batch script with -n 3 is not a job step
cat >"$D/batch.sh" <<'EOF'
#!/bin/sh
echo "${SLURM_NTASKS:-unset} ${SLURM_PROCID:-unset} ${SLURM_STEP_ID:-unset}" >"$OUT_DIR/batch.env"
EOF
chmod +x "$D/batch.sh"
JOB=$(OUT_DIR=$D sbatch --parsable -n 3 -o "$D/batch.out" "$D/batch.sh" 2>"$D/sbatch3.err")
slurm_wait_job "${JOB:-0}" 30
is "$(cat "$D/batch.env" 2>/dev/null)" "3 0 unset" \
    "sbatch -n 3: the batch script has SLURM_NTASKS=3, SLURM_PROCID=0 and no SLURM_STEP_ID" ||
    diag "$(cat "$D/sbatch3.err" "$D/batch.out" 2>/dev/null)"

# 4. stopping: every daemon is gone
PIDS="$SLURM_MUNGE_PID $SLURM_CTLD_PID $SLURM_D_PID $(cat "$D/slurmctld.pid" "$D/slurmd.pid" \
    "$D/munge/munged.pid" 2>/dev/null | tr '\n' ' ')"
slurm_stop
LEFT=
for p in $PIDS; do kill -0 "$p" 2>/dev/null && LEFT="$LEFT $p"; done
is "$LEFT" "" "slurm_stop: munged, slurmctld and slurmd are gone (pids $PIDS)"
done_testing
