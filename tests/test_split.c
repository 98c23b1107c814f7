/* Unit tests for cli/split: shares that add up exactly, composite pieces (--segment with --procs),
 * the open-model schedule whose pieces together are exactly the one schedule, and the K/N|auto
 * parser with Slurm's and Kubernetes' variables fed by a fake environment. */
#include "split.h"
#include "tap.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const uint64_t totals[] = {0, 1, 2, 5, 7, 64, 1000, 1000003, UINT64_MAX};
static const unsigned ns[] = {1, 2, 3, 7, 64, 1000};

static void test_share(void)
{
    int sum_ok = 1, even_ok = 1, order_ok = 1, offset_ok = 1;
    for (size_t t = 0; t < sizeof(totals) / sizeof(totals[0]); t++)
        for (size_t m = 0; m < sizeof(ns) / sizeof(ns[0]); m++) {
            uint64_t total = totals[t], sum = 0, lo = UINT64_MAX, hi = 0, prev = UINT64_MAX;
            unsigned n = ns[m];
            for (unsigned k = 0; k < n; k++) {
                struct spate_split s = {k, n};
                uint64_t x = spate_split_share(total, s);
                if (spate_split_offset(total, s) != sum) offset_ok = 0;
                sum += x;
                if (x < lo) lo = x;
                if (x > hi) hi = x;
                if (x > prev) order_ok = 0;
                prev = x;
            }
            if (sum != total) {
                sum_ok = 0;
                diag("total %llu in %u pieces sums to %llu", (unsigned long long)total, n,
                     (unsigned long long)sum);
            }
            if (hi - lo > 1) even_ok = 0;
        }
    ok(sum_ok, "shares of 0 .. 2^64-1 in 1 .. 1000 pieces add up to the total exactly");
    ok(even_ok && order_ok, "shares differ by at most one and the first pieces take the extra");
    ok(offset_ok, "each piece's offset is the sum of the shares before it");
    struct spate_split s = {1, 3};
    ok(spate_split_share(64, s) == 21 && spate_split_share(64, (struct spate_split){0, 3}) == 22 &&
           spate_split_offset(64, s) == 22,
       "-c 64 in 3 pieces: 22, 21, 21; piece 1 starts at 22");
}

/* --segment K/N on each of N machines with --procs P: the composite pieces are every piece of
 * N*P exactly once, so their shares are the whole again. */
static void test_sub(void)
{
    int cover_ok = 1, sum_ok = 1;
    for (unsigned N = 1; N <= 5; N++)
        for (unsigned P = 1; P <= 4; P++) {
            unsigned char seen[20] = {0};
            uint64_t sum = 0;
            for (unsigned K = 0; K < N; K++)
                for (unsigned p = 0; p < P; p++) {
                    struct spate_split c;
                    if (spate_split_sub((struct spate_split){K, N}, p, P, &c) || c.n != N * P ||
                        c.k >= c.n || seen[c.k]++)
                        cover_ok = 0;
                    else
                        sum += spate_split_share(10007, c);
                }
            for (unsigned i = 0; i < N * P; i++)
                if (seen[i] != 1) cover_ok = 0;
            if (sum != 10007) sum_ok = 0;
        }
    ok(cover_ok, "sub-pieces of N segments x P procs are the N*P pieces, each once");
    ok(sum_ok, "their shares of -n 10007 add up to 10007");
    struct spate_split c;
    ok(spate_split_sub((struct spate_split){0, 2}, 2, 2, &c) == -EINVAL &&
           spate_split_sub((struct spate_split){0, 2}, 0, 0, &c) == -EINVAL &&
           spate_split_sub((struct spate_split){0, 1024}, 0, 2048, &c) == -ERANGE,
       "sub-piece out of range is -EINVAL, too many pieces -ERANGE");
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The N pieces' due times for a duration, sorted, against the one schedule. */
static int union_is_whole(double rate, unsigned n, uint64_t dur_ns, uint64_t *buf, size_t cap)
{
    struct spate_split_sched whole, piece;
    if (spate_split_sched_init(&whole, rate, (struct spate_split){0, 1})) return 0;
    uint64_t g = spate_split_slots_before(&whole, dur_ns), got = 0;
    if (g > cap) return 0;
    for (unsigned k = 0; k < n; k++) {
        if (spate_split_sched_init(&piece, rate, (struct spate_split){k, n})) return 0;
        uint64_t m = spate_split_slots_before(&piece, dur_ns), prev = 0;
        for (uint64_t j = 0; j < m; j++) {
            uint64_t t = spate_split_due_ns(&piece, j);
            if (t >= dur_ns || (j && t <= prev) || got == cap) return 0;
            buf[got++] = prev = t;
        }
        /* the piece's next slot is past the end: nothing is left out */
        if (spate_split_due_ns(&piece, m) < dur_ns) return 0;
    }
    if (got != g) return 0;
    qsort(buf, got, sizeof(*buf), cmp_u64);
    for (uint64_t i = 0; i < g; i++)
        if (buf[i] != spate_split_slot_ns(&whole, i)) return 0;
    return 1;
}

static void test_schedule(void)
{
    static uint64_t buf[200000];
    static const double rates[] = {400, 3, 1000, 7.5, 333.333, 50000};
    int pass = 1;
    for (size_t r = 0; r < sizeof(rates) / sizeof(rates[0]); r++)
        for (unsigned n = 1; n <= 7; n++)
            if (!union_is_whole(rates[r], n, UINT64_C(3000000000), buf, 200000)) {
                pass = 0;
                diag("rate %g in %u pieces: the union is not the one schedule", rates[r], n);
            }
    ok(pass, "rates 3 .. 50000 in 1 .. 7 pieces over 3 s: the pieces' slots, merged, are exactly "
             "the one schedule's (no gap, no duplicate, none past the end)");

    struct spate_split_sched s;
    spate_split_sched_init(&s, 400, (struct spate_split){0, 1});
    struct spate_split_sched p0, p1;
    spate_split_sched_init(&p0, 400, (struct spate_split){0, 2});
    spate_split_sched_init(&p1, 400, (struct spate_split){1, 2});
    ok(spate_split_slots_before(&s, UINT64_C(3000000000)) == 1200 &&
           spate_split_slots_before(&p0, UINT64_C(3000000000)) == 600 &&
           spate_split_slots_before(&p1, UINT64_C(3000000000)) == 600 &&
           spate_split_due_ns(&p1, 0) == 2500000 && spate_split_due_ns(&p0, 1) == 5000000 &&
           spate_split_due_ns(&p1, 599) == UINT64_C(2997500000),
       "-R 400 -d 3 in 2 pieces: 600 slots each, piece 1 at 2.5 ms, 7.5 ms, ... 2997.5 ms");

    /* exact against integer arithmetic where 1e12 / R is a whole number of picoseconds */
    int exact = 1;
    struct spate_split_sched e;
    spate_split_sched_init(&e, 1e7, (struct spate_split){0, 1}); /* 100 ns exactly */
    for (uint64_t i = 0; i < 100000; i++)
        if (spate_split_slot_ns(&e, i * 977) != i * 977 * 100) exact = 0;
    ok(exact && spate_split_slot_ns(&e, UINT64_C(36000000000)) == UINT64_C(3600000000000),
       "-R 1e7: slot i at exactly i * 100 ns, also an hour in");
    double worst = 0;
    static const double drift_rates[] = {3, 7.5, 333.333, 12345.678, 1e6 / 7};
    for (size_t r = 0; r < sizeof(drift_rates) / sizeof(drift_rates[0]); r++) {
        spate_split_sched_init(&s, drift_rates[r], (struct spate_split){0, 1});
        uint64_t i = (uint64_t)(drift_rates[r] * 3600);
        double want = (double)i * 1e9 / drift_rates[r];
        double d = fabs((double)spate_split_slot_ns(&s, i) - want);
        if (d > worst) worst = d;
    }
    ok(worst < 1000, "an hour in, the slot times are within 1 us of i / R (worst %.0f ns)", worst);
    ok(spate_split_slot_ns(&e, UINT64_MAX) == UINT64_MAX &&
           spate_split_due_ns(&p1, UINT64_MAX / 2) == UINT64_MAX,
       "slot times saturate instead of wrapping");
    ok(spate_split_sched_init(&s, 0, (struct spate_split){0, 1}) == -ERANGE &&
           spate_split_sched_init(&s, -1, (struct spate_split){0, 1}) == -ERANGE &&
           spate_split_sched_init(&s, NAN, (struct spate_split){0, 1}) == -ERANGE &&
           spate_split_sched_init(&s, INFINITY, (struct spate_split){0, 1}) == -ERANGE &&
           spate_split_sched_init(&s, 9e-5, (struct spate_split){0, 1}) == -ERANGE &&
           spate_split_sched_init(&s, 1.1e9, (struct spate_split){0, 1}) == -ERANGE &&
           spate_split_sched_init(&s, 10, (struct spate_split){2, 2}) == -EINVAL &&
           spate_split_sched_init(&s, 10, (struct spate_split){0, 0}) == -EINVAL,
       "rates that are not finite and positive, or out of range, and bad pieces are refused");
}

/* ---- the parser, with a fake environment ---------------------------------------------------- */

static const char *const *fake_env; /* NAME=value strings, NULL-terminated */

static const char *fake_getenv(const char *name)
{
    size_t n = strlen(name);
    for (const char *const *e = fake_env; *e; e++)
        if (!strncmp(*e, name, n) && (*e)[n] == '=') return *e + n + 1;
    return NULL;
}

struct pcase {
    const char *arg;
    unsigned count;
    const char *env[8];
    int want_rc;
    unsigned k, n;
    const char *want; /* the source on success, a fragment of the message on failure */
};

static const struct pcase cases[] = {
    {"0/2", 0, {NULL}, 0, 0, 2, "argument"},
    {"1/2", 2, {NULL}, 0, 1, 2, "argument"},
    {"0/1", 0, {NULL}, 0, 0, 1, "argument"},
    {"2/2", 0, {NULL}, -EINVAL, 0, 0, "--segment: 2/2: piece 2 does not exist (pieces are 0 to 1)"},
    {"0/0", 0, {NULL}, -EINVAL, 0, 0, "the number of pieces must be 1 to 1048576"},
    {"0/1048577", 0, {NULL}, -EINVAL, 0, 0, "the number of pieces must be 1 to"},
    {"1/2", 3, {NULL}, -EINVAL, 0, 0, "--segments 3 does not match 1/2 (2 pieces)"},
    {"a/2", 0, {NULL}, -EINVAL, 0, 0, "invalid value 'a/2' (expected K/N"},
    {"1/", 0, {NULL}, -EINVAL, 0, 0, "invalid value '1/'"},
    {"/2", 0, {NULL}, -EINVAL, 0, 0, "invalid value '/2'"},
    {"1/2x", 0, {NULL}, -EINVAL, 0, 0, "invalid value '1/2x'"},
    {"-1/2", 0, {NULL}, -EINVAL, 0, 0, "invalid value '-1/2'"},
    {"+1/2", 0, {NULL}, -EINVAL, 0, 0, "invalid value"},
    {" 1/2", 0, {NULL}, -EINVAL, 0, 0, "invalid value"},
    {"1/2/3", 0, {NULL}, -EINVAL, 0, 0, "invalid value"},
    {"", 0, {NULL}, -EINVAL, 0, 0, "invalid value ''"},
    {"99999999999999999999/2", 0, {NULL}, -EINVAL, 0, 0, "invalid value"},
    {"Auto", 0, {"SLURM_PROCID=0", NULL}, -EINVAL, 0, 0, "invalid value 'Auto'"},
    /* srun -n 2 */
    {"auto",
     0,
     {"SLURM_PROCID=1", "SLURM_NTASKS=2", "SLURM_STEP_ID=0", NULL},
     0,
     1,
     2,
     "SLURM_PROCID/SLURM_NTASKS"},
    {"auto",
     2,
     {"SLURM_PROCID=0", "SLURM_NTASKS=2", "SLURM_STEP_ID=3", NULL},
     0,
     0,
     2,
     "SLURM_PROCID/SLURM_NTASKS"},
    {"auto",
     4,
     {"SLURM_PROCID=0", "SLURM_NTASKS=2", "SLURM_STEP_ID=0", NULL},
     -EINVAL,
     0,
     0,
     "--segments 4 does not match SLURM_PROCID=0, SLURM_NTASKS=2 (2 pieces)"},
    {"auto",
     0,
     {"SLURM_PROCID=2", "SLURM_NTASKS=2", "SLURM_STEP_ID=0", NULL},
     -EINVAL,
     0,
     0,
     "SLURM_PROCID=2, SLURM_NTASKS=2: piece 2 does not exist"},
    {"auto",
     0,
     {"SLURM_PROCID=1", "SLURM_NTASKS=two", "SLURM_STEP_ID=0", NULL},
     -EINVAL,
     0,
     0,
     "SLURM_NTASKS='two' is not a whole number"},
    /* the batch script of sbatch -n 3 (no srun): refused */
    {"auto",
     0,
     {"SLURM_PROCID=0", "SLURM_NTASKS=3", NULL},
     -EINVAL,
     0,
     0,
     "SLURM_NTASKS=3 but no SLURM_STEP_ID: this is the batch script, one process; start spate "
     "with srun"},
    /* one-task step, or a plain batch script: the whole test */
    {"auto",
     0,
     {"SLURM_PROCID=0", "SLURM_NTASKS=1", "SLURM_STEP_ID=0", NULL},
     0,
     0,
     1,
     "SLURM_PROCID"},
    {"auto", 0, {"SLURM_PROCID=0", NULL}, 0, 0, 1, "SLURM_PROCID"},
    /* job arrays */
    {"auto",
     0,
     {"SLURM_ARRAY_TASK_ID=5", "SLURM_ARRAY_TASK_MIN=4", "SLURM_ARRAY_TASK_COUNT=3",
      "SLURM_ARRAY_TASK_STEP=1", "SLURM_PROCID=0", NULL},
     0,
     1,
     3,
     "SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT"},
    {"auto",
     0,
     {"SLURM_ARRAY_TASK_ID=6", "SLURM_ARRAY_TASK_MIN=0", "SLURM_ARRAY_TASK_COUNT=4",
      "SLURM_ARRAY_TASK_STEP=2", NULL},
     0,
     3,
     4,
     "SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT"},
    {"auto",
     0,
     {"SLURM_ARRAY_TASK_ID=1", "SLURM_ARRAY_TASK_MIN=0", "SLURM_ARRAY_TASK_COUNT=2", NULL},
     0,
     1,
     2,
     "SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT"},
    {"auto",
     0,
     {"SLURM_ARRAY_TASK_ID=3", "SLURM_ARRAY_TASK_MIN=0", "SLURM_ARRAY_TASK_COUNT=4",
      "SLURM_ARRAY_TASK_STEP=2", NULL},
     -EINVAL,
     0,
     0,
     "SLURM_ARRAY_TASK_ID=3 is not on the array's range from SLURM_ARRAY_TASK_MIN=0 in steps of 2"},
    {"auto",
     0,
     {"SLURM_ARRAY_TASK_ID=4", "SLURM_ARRAY_TASK_MIN=1", "SLURM_ARRAY_TASK_COUNT=3", NULL},
     -EINVAL,
     0,
     0,
     "array task 4 is beyond SLURM_ARRAY_TASK_COUNT=3"},
    {"auto",
     0,
     {"SLURM_ARRAY_TASK_ID=1", "SLURM_ARRAY_TASK_COUNT=3", NULL},
     -EINVAL,
     0,
     0,
     "SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_MIN or SLURM_ARRAY_TASK_COUNT is not"},
    /* srun -n 2 inside an array task: the job step wins */
    {"auto",
     0,
     {"SLURM_PROCID=1", "SLURM_NTASKS=2", "SLURM_STEP_ID=0", "SLURM_ARRAY_TASK_ID=0",
      "SLURM_ARRAY_TASK_MIN=0", "SLURM_ARRAY_TASK_COUNT=4", NULL},
     0,
     1,
     2,
     "SLURM_PROCID/SLURM_NTASKS"},
    /* an array whose batch scripts have -n 3: the array */
    {"auto",
     0,
     {"SLURM_PROCID=0", "SLURM_NTASKS=3", "SLURM_ARRAY_TASK_ID=2", "SLURM_ARRAY_TASK_MIN=0",
      "SLURM_ARRAY_TASK_COUNT=4", NULL},
     0,
     2,
     4,
     "SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT"},
    /* Kubernetes Indexed Job */
    {"auto", 2, {"JOB_COMPLETION_INDEX=1", NULL}, 0, 1, 2, "JOB_COMPLETION_INDEX"},
    {"auto",
     0,
     {"JOB_COMPLETION_INDEX=1", NULL},
     -EINVAL,
     0,
     0,
     "JOB_COMPLETION_INDEX=1 (a Kubernetes Indexed Job) does not say how many pieces there are: "
     "add --segments N"},
    {"auto",
     2,
     {"JOB_COMPLETION_INDEX=2", NULL},
     -EINVAL,
     0,
     0,
     "JOB_COMPLETION_INDEX=2 with --segments 2: piece 2 does not exist"},
    {"auto",
     2,
     {"JOB_COMPLETION_INDEX=", NULL},
     -EINVAL,
     0,
     0,
     "JOB_COMPLETION_INDEX='' is not a whole number"},
    /* nothing set */
    {"auto",
     0,
     {"HOME=/root", NULL},
     -EINVAL,
     0,
     0,
     "--segment auto: no batch system found: none of SLURM_PROCID/SLURM_NTASKS (srun -n N), "
     "SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_MIN/SLURM_ARRAY_TASK_COUNT (sbatch --array) or "
     "JOB_COMPLETION_INDEX with --segments N (a Kubernetes Indexed Job) is set"},
};

static void test_parse(void)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct pcase *c = &cases[i];
        struct spate_split s = {99, 99};
        const char *from = NULL;
        char err[512];
        fake_env = c->env;
        int rc = spate_split_parse(c->arg, "--segment", "--segments", c->count, fake_getenv, &s,
                                   &from, err, sizeof(err));
        char envs[256] = "";
        for (const char *const *e = c->env; *e; e++) {
            strncat(envs, *e, sizeof(envs) - strlen(envs) - 2);
            strncat(envs, " ", sizeof(envs) - strlen(envs) - 1);
        }
        if (c->want_rc == 0) {
            int pass = rc == 0 && s.k == c->k && s.n == c->n && from && !strcmp(from, c->want);
            ok(pass, "'%s' count %u env [%s]: %u/%u from %s", c->arg, c->count, envs, c->k, c->n,
               c->want);
            if (!pass) diag("rc %d, %u/%u from %s: %s", rc, s.k, s.n, from ? from : "-", err);
        } else {
            int pass = rc == c->want_rc && strstr(err, c->want) != NULL && s.k == 99;
            ok(pass, "'%s' count %u env [%s] refused: ...%s...", c->arg, c->count, envs, c->want);
            if (!pass) diag("rc %d, message: %s", rc, err);
        }
    }
}

static void test_parse_names_and_getenv(void)
{
    struct spate_split s;
    char err[512];
    static const char *const none[] = {NULL};
    fake_env = none;
    int rc = spate_split_parse("auto", "--shard", "--shards", 0, fake_getenv, &s, NULL, err,
                               sizeof(err));
    ok(rc == -EINVAL && !strncmp(err, "--shard auto: ", 14) && strstr(err, "--shards N"),
       "--shard names itself and --shards in its messages");
    setenv("JOB_COMPLETION_INDEX", "3", 1);
    unsetenv("SLURM_PROCID");
    unsetenv("SLURM_ARRAY_TASK_ID");
    const char *from = NULL;
    rc = spate_split_parse("auto", "--shard", "--shards", 4, NULL, &s, &from, err, sizeof(err));
    ok(rc == 0 && s.k == 3 && s.n == 4 && from && !strcmp(from, "JOB_COMPLETION_INDEX"),
       "env NULL reads the process environment (JOB_COMPLETION_INDEX=3, --shards 4: 3/4)");
    unsetenv("JOB_COMPLETION_INDEX");
    char tiny[8];
    rc = spate_split_parse("5/2", "--segment", "--segments", 0, NULL, &s, NULL, tiny, sizeof(tiny));
    ok(rc == -EINVAL && strlen(tiny) == 7, "a short message buffer is cut, not overrun");
}

int main(void)
{
    plan(13 + (int)(sizeof(cases) / sizeof(cases[0])) + 3);
    test_share();
    test_sub();
    test_schedule();
    test_parse();
    test_parse_names_and_getenv();
    return done();
}
