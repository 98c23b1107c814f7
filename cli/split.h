/* Scale-out arithmetic: how one test (connections, request count, open-model schedule) or one input
 * is cut into N pieces that together are exactly the whole, and where a piece learns its K and N
 * (`--segment K/N|auto`, `--shard K/N|auto`, from Slurm or a Kubernetes Indexed Job). */
#ifndef SPATE_SPLIT_H
#define SPATE_SPLIT_H
#include <stddef.h>
#include <stdint.h>

#define SPATE_SPLIT_MAX_N (1u << 20) /* pieces of one test: far above any real cluster */

/* Piece k (0-based) of n, n >= 1, k < n. Plain data. */
struct spate_split {
    unsigned k, n;
};

/* The piece's share of total: total / n, and one more for each of the first total % n pieces,
 * so the n shares add up to total exactly and differ by at most one. */
uint64_t spate_split_share(uint64_t total, struct spate_split s);

/* The sum of the shares of the pieces before k: the piece's first item when the total is cut into
 * consecutive runs (connection numbers, say). */
uint64_t spate_split_offset(uint64_t total, struct spate_split s);

/* Piece p of P inside piece `outer` (--procs P on a machine that runs --segment K/N): the piece
 * K + N*p of N*P. Its open-model slots are outer's slots number p, p + P, p + 2P, ..., so the P
 * sub-pieces of every outer piece together are the whole schedule again. Use the composite piece
 * for every share (connections, -n, slots) so that all pieces of the test agree.
 * 0, or -EINVAL (p >= P, P == 0) or -ERANGE (N*P above SPATE_SPLIT_MAX_N). */
int spate_split_sub(struct spate_split outer, unsigned p, unsigned P, struct spate_split *out);

/* The open model's one schedule: global slot i is due floor(i * 1e9 / R) ns after the common start
 * (the period kept in integer femtoseconds, so every piece computes the same instants; the rounding
 * of the period is at most 0.5 fs, a drift of at most 18 us over an hour at 1e7 requests/s). Piece
 * k of n takes the slots i with i mod n == k: its j-th request (0-based) is global slot k + j*n.
 * Plain data. */
#define SPATE_SPLIT_RATE_MIN 1e-4 /* one request every 2.8 hours */
#define SPATE_SPLIT_RATE_MAX 1e9
struct spate_split_sched {
    uint64_t period_fs; /* round(1e15 / R) */
    struct spate_split piece;
};

/* 0, or -ERANGE when the rate is not finite or outside SPATE_SPLIT_RATE_MIN ..
 * SPATE_SPLIT_RATE_MAX, -EINVAL for a piece with k >= n or n == 0. */
int spate_split_sched_init(struct spate_split_sched *s, double rate, struct spate_split piece);

/* ns after the common start at which global slot i is due; exact integer arithmetic, saturating
 * at UINT64_MAX (585 years). */
uint64_t spate_split_slot_ns(const struct spate_split_sched *s, uint64_t i);

/* ns after the common start at which this piece's j-th request is due (slot k + j*n). */
uint64_t spate_split_due_ns(const struct spate_split_sched *s, uint64_t j);

/* How many of this piece's slots are due before t_ns (a -d duration): the piece's share of the
 * global slots due before t_ns, so the pieces' counts add up to the one schedule's count. */
uint64_t spate_split_slots_before(const struct spate_split_sched *s, uint64_t t_ns);

/* Reads an environment variable; NULL when unset. getenv fits; tests pass their own. */
typedef const char *(*spate_split_getenv_fn)(const char *name);

/* Parses the value of `opt` ("--segment" or "--shard"): "K/N" with 0 <= K < N <= SPATE_SPLIT_MAX_N,
 * or "auto", which reads the batch system's variables through env (NULL means getenv), first match:
 *   1. a Slurm job step with several tasks: SLURM_PROCID of SLURM_NTASKS (srun -n N), only where
 *      SLURM_STEP_ID is set too: a batch script (sbatch -n N, no srun) also has SLURM_NTASKS=N and
 *      SLURM_PROCID=0 but is one process, so it is refused there with a hint to use srun;
 *   2. a Slurm job array: (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_STEP of
 *      SLURM_ARRAY_TASK_COUNT (sbatch --array=A-B[:S]; the step defaults to 1);
 *   3. a Kubernetes Indexed Job: JOB_COMPLETION_INDEX of `count` (given with count_opt, e.g.
 *      "--segments"; the Job's completions);
 *   4. a one-task Slurm step (SLURM_PROCID, SLURM_NTASKS=1): piece 0 of 1.
 * count is the value of count_opt, 0 when not given; when given it must agree with N from any
 * source. *from (may be NULL) is set to a static string naming where K and N came from ("argument",
 * "SLURM_PROCID/SLURM_NTASKS", ...). Returns 0, or -EINVAL with err holding one sentence naming
 * the option, the variables and what is wrong (no "spate CMD:" prefix: the caller adds it). */
int spate_split_parse(const char *arg, const char *opt, const char *count_opt, unsigned count,
                      spate_split_getenv_fn env, struct spate_split *out, const char **from,
                      char *err, size_t errlen);

#endif
