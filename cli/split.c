/* Scale-out arithmetic (shares, the split open-model schedule) and the K/N option parser. */
#include "split.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t spate_split_share(uint64_t total, struct spate_split s)
{
    if (!s.n) return 0;
    return total / s.n + (s.k < total % s.n);
}

uint64_t spate_split_offset(uint64_t total, struct spate_split s)
{
    if (!s.n) return 0;
    uint64_t extra = total % s.n;
    return (uint64_t)s.k * (total / s.n) + (s.k < extra ? s.k : extra);
}

int spate_split_sub(struct spate_split outer, unsigned p, unsigned P, struct spate_split *out)
{
    if (!P || p >= P || !outer.n || outer.k >= outer.n) return -EINVAL;
    if ((uint64_t)outer.n * P > SPATE_SPLIT_MAX_N) return -ERANGE;
    out->k = outer.k + outer.n * p;
    out->n = outer.n * P;
    return 0;
}

/* 128-bit products keep the instants exact for any run length (GCC and clang on 64-bit targets). */
__extension__ typedef unsigned __int128 u128;

#define FS_PER_NS 1000000u

int spate_split_sched_init(struct spate_split_sched *s, double rate, struct spate_split piece)
{
    if (!piece.n || piece.k >= piece.n) return -EINVAL;
    if (!isfinite(rate) || rate < SPATE_SPLIT_RATE_MIN || rate > SPATE_SPLIT_RATE_MAX)
        return -ERANGE;
    s->period_fs = (uint64_t)nearbyint(1e15 / rate);
    s->piece = piece;
    return 0;
}

uint64_t spate_split_slot_ns(const struct spate_split_sched *s, uint64_t i)
{
    u128 t = (u128)i * s->period_fs / FS_PER_NS;
    return t > UINT64_MAX ? UINT64_MAX : (uint64_t)t;
}

uint64_t spate_split_due_ns(const struct spate_split_sched *s, uint64_t j)
{
    u128 i = (u128)j * s->piece.n + s->piece.k;
    if (i > UINT64_MAX) return UINT64_MAX;
    return spate_split_slot_ns(s, (uint64_t)i);
}

/* Slot i is due before t exactly when i * p < t * 1e6 (the floor changes nothing against an
 * integer bound), so ceil(t * 1e6 / p) slots of the whole schedule are. */
uint64_t spate_split_slots_before(const struct spate_split_sched *s, uint64_t t_ns)
{
    u128 total = ((u128)t_ns * FS_PER_NS + s->period_fs - 1) / s->period_fs;
    return spate_split_share(total > UINT64_MAX ? UINT64_MAX : (uint64_t)total, s->piece);
}

/* ---- K/N and `auto` ---------------------------------------------------------------------- */

struct ctx {
    const char *opt, *count_opt;
    unsigned count;
    spate_split_getenv_fn env;
    char *err;
    size_t errlen;
};

static int say(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int say(struct ctx *c, const char *fmt, ...)
{
    if (c->err && c->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err, c->errlen, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

/* A whole decimal number without sign, spaces or suffix, at most max. 0 or -1. */
static int number(const char *s, size_t len, unsigned long max, unsigned long *out)
{
    unsigned long v = 0;
    if (!len) return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        if (v > (max - (unsigned long)(s[i] - '0')) / 10) return -1;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Reads variable name as a number; 1 when set and valid, 0 when unset, -EINVAL (message) when
 * set to anything else. */
static int var(struct ctx *c, const char *name, unsigned long *out)
{
    const char *v = c->env(name);
    if (!v) return 0;
    if (number(v, strlen(v), SPATE_SPLIT_MAX_N * 4ul, out))
        return say(c, "%s auto: %s='%.40s' is not a whole number", c->opt, name, v);
    return 1;
}

/* The final checks every source shares: N in range, K < N, N agreeing with count_opt. what
 * names the source with its values ("SLURM_PROCID=3, SLURM_NTASKS=2"). */
static int settle(struct ctx *c, unsigned long k, unsigned long n, const char *what,
                  struct spate_split *out)
{
    if (n < 1 || n > SPATE_SPLIT_MAX_N)
        return say(c, "%s: %s: the number of pieces must be 1 to %u", c->opt, what,
                   SPATE_SPLIT_MAX_N);
    if (k >= n)
        return say(c, "%s: %s: piece %lu does not exist (pieces are 0 to %lu)", c->opt, what, k,
                   n - 1);
    if (c->count && c->count != n)
        return say(c, "%s: %s %u does not match %s (%lu pieces)", c->opt, c->count_opt, c->count,
                   what, n);
    out->k = (unsigned)k;
    out->n = (unsigned)n;
    return 0;
}

static int from_array(struct ctx *c, struct spate_split *out)
{
    unsigned long id = 0, min = 0, cnt = 0, step = 1;
    int rc;
    if ((rc = var(c, "SLURM_ARRAY_TASK_ID", &id)) < 0 ||
        (rc = var(c, "SLURM_ARRAY_TASK_MIN", &min)) < 0 ||
        (rc = var(c, "SLURM_ARRAY_TASK_COUNT", &cnt)) < 0 ||
        (rc = var(c, "SLURM_ARRAY_TASK_STEP", &step)) < 0)
        return rc;
    if (!c->env("SLURM_ARRAY_TASK_MIN") || !c->env("SLURM_ARRAY_TASK_COUNT"))
        return say(c,
                   "%s auto: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_MIN or "
                   "SLURM_ARRAY_TASK_COUNT is not",
                   c->opt);
    if (!step || id < min || (id - min) % step)
        return say(c,
                   "%s auto: SLURM_ARRAY_TASK_ID=%lu is not on the array's range from "
                   "SLURM_ARRAY_TASK_MIN=%lu in steps of %lu",
                   c->opt, id, min, step ? step : 1);
    if ((id - min) / step >= cnt)
        return say(c,
                   "%s auto: array task %lu is beyond SLURM_ARRAY_TASK_COUNT=%lu (the array "
                   "must be one range, --array=0-%lu)",
                   c->opt, id, cnt, cnt ? cnt - 1 : 0);
    char what[160];
    snprintf(what, sizeof(what),
             "SLURM_ARRAY_TASK_ID=%lu, SLURM_ARRAY_TASK_MIN=%lu, "
             "SLURM_ARRAY_TASK_COUNT=%lu",
             id, min, cnt);
    return settle(c, (id - min) / step, cnt, what, out);
}

static int from_kubernetes(struct ctx *c, struct spate_split *out)
{
    unsigned long idx = 0;
    int rc = var(c, "JOB_COMPLETION_INDEX", &idx);
    if (rc < 0) return rc;
    if (!c->count)
        return say(c,
                   "%s auto: JOB_COMPLETION_INDEX=%lu (a Kubernetes Indexed Job) does not say how "
                   "many pieces there are: add %s N (the Job's completions)",
                   c->opt, idx, c->count_opt);
    char what[96];
    snprintf(what, sizeof(what), "JOB_COMPLETION_INDEX=%lu with %s %u", idx, c->count_opt,
             c->count);
    return settle(c, idx, c->count, what, out);
}

/* SLURM_PROCID and SLURM_NTASKS outside a several-task job step: one task is piece 0 of 1; a batch
 * script of several tasks is one process that would run 1/N of the test alone. */
static int from_one_task(struct ctx *c, unsigned long id, int have_n, unsigned long n,
                         struct spate_split *out)
{
    if (have_n && n > 1)
        return say(c,
                   "%s auto: SLURM_NTASKS=%lu but no SLURM_STEP_ID: this is the batch script, "
                   "one process; start spate with srun so that each of the %lu tasks runs a piece",
                   c->opt, n, n);
    char what[64];
    snprintf(what, sizeof(what), "SLURM_PROCID=%lu in a one-task step", id);
    return settle(c, id, 1, what, out);
}

static int from_env(struct ctx *c, struct spate_split *out, const char **from)
{
    unsigned long id = 0, n = 0, step = 0;
    int have_id, have_n, have_step;
    if ((have_id = var(c, "SLURM_PROCID", &id)) < 0) return have_id;
    if ((have_n = var(c, "SLURM_NTASKS", &n)) < 0) return have_n;
    if ((have_step = var(c, "SLURM_STEP_ID", &step)) < 0) return have_step;
    if (have_id && have_n && have_step && n > 1) {
        char what[64];
        snprintf(what, sizeof(what), "SLURM_PROCID=%lu, SLURM_NTASKS=%lu", id, n);
        *from = "SLURM_PROCID/SLURM_NTASKS";
        return settle(c, id, n, what, out);
    }
    if (c->env("SLURM_ARRAY_TASK_ID")) {
        *from = "SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT";
        return from_array(c, out);
    }
    if (c->env("JOB_COMPLETION_INDEX")) {
        *from = "JOB_COMPLETION_INDEX";
        return from_kubernetes(c, out);
    }
    if (have_id) {
        *from = "SLURM_PROCID";
        return from_one_task(c, id, have_n, n, out);
    }
    return say(c,
               "%s auto: no batch system found: none of SLURM_PROCID/SLURM_NTASKS (srun -n N), "
               "SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_MIN/SLURM_ARRAY_TASK_COUNT (sbatch --array) "
               "or JOB_COMPLETION_INDEX with %s N (a Kubernetes Indexed Job) is set",
               c->opt, c->count_opt);
}

static const char *plain_getenv(const char *name)
{
    return getenv(name);
}

int spate_split_parse(const char *arg, const char *opt, const char *count_opt, unsigned count,
                      spate_split_getenv_fn env, struct spate_split *out, const char **from,
                      char *err, size_t errlen)
{
    struct ctx c = {opt, count_opt, count, env ? env : plain_getenv, err, errlen};
    const char *src = "argument";
    int rc;
    if (err && errlen) err[0] = '\0';
    if (!strcmp(arg, "auto")) {
        rc = from_env(&c, out, &src);
    } else {
        const char *slash = strchr(arg, '/');
        unsigned long k, n;
        if (!slash || number(arg, (size_t)(slash - arg), SPATE_SPLIT_MAX_N * 4ul, &k) ||
            number(slash + 1, strlen(slash + 1), SPATE_SPLIT_MAX_N * 4ul, &n))
            return say(&c,
                       "%s: invalid value '%.40s' (expected K/N, piece K counted from 0 of N, "
                       "or auto)",
                       opt, arg);
        char what[64];
        snprintf(what, sizeof(what), "%lu/%lu", k, n);
        rc = settle(&c, k, n, what, out);
    }
    if (rc == 0 && from) *from = src;
    return rc;
}
