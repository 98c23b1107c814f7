/* Unit tests for the bench report file format and its merge (cli/bench_read, cli/bench_merge):
 * pieces made from known latency sets, written with spate_bench_json, read back and merged, give
 * the percentiles of one histogram of all values and the exact counts; error causes add up;
 * the period is the union and the late piece is named; which share of a test a set of pieces
 * covers; and the refusals (another test, an overlapping piece, a corrupt report); merged reports
 * merged again give the flat merge, and a piece reached twice through them is refused. */
#include "bench_merge.h"
#include "bench_read.h"
#include "bench_report.h"
#include "text.h"
#include "tap.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 42;

static uint64_t rng(void) /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* A piece of a closed-model test of 8 connections, -n 3000: its report as JSON. */
struct piece {
    struct spate_bench_setup set;
    struct spate_bench_tally t;
    struct spate_load_report rep;
};

static void make_piece(struct piece *p, struct spate_split k, const char *url, double start,
                       double len, uint64_t n, int errors)
{
    spate_bench_tally_fini(&p->t); /* the previous use's messages */
    memset(p, 0, sizeof(*p));
    spate_hist_init(&p->t.hist);
    struct spate_bench_test *x = &p->set.test;
    x->url = url;
    x->method = "GET";
    x->connections = 8;
    x->requests = 3000;
    x->timeout_ns = 30000000000u;
    p->set.url = url;
    p->set.piece = k;
    p->set.procs = 1;
    p->set.connections = (unsigned)spate_split_share(8, k);
    p->set.requests = spate_split_share(3000, k);
    p->set.timeout_ns = x->timeout_ns;
    for (uint64_t i = 0; i < n; i++) { /* log-uniform from 10 us to 1 s */
        uint64_t v = (uint64_t)(1e4 * pow(1e5, (double)(rng() % 1000000) / 1e6));
        spate_hist_record(&p->t.hist, v);
        p->t.status[i % 10 ? 200 : 404]++;
        p->t.bad_status += i % 10 == 0;
        p->t.bytes += 100;
    }
    p->t.responses = n;
    char msg[64];
    for (int e = 0; e < errors; e++) { /* more distinct causes than are kept */
        snprintf(msg, sizeof(msg), "connect: cause %d", e % 6);
        spate_bench_errors_note(&p->t.errors, SPATE_E_CONNECT, msg);
    }
    p->rep.connections_wanted = p->set.connections;
    p->rep.connections_up = p->set.connections;
    p->rep.measuring = 1;
    p->rep.finished = p->rep.sent = n + (uint64_t)errors;
    p->rep.responses = n;
    p->rep.start_unix = start;
    p->rep.elapsed_ns = (uint64_t)(len * 1e9);
}

static int to_json(struct piece *p, struct spate_text *o)
{
    struct spate_bench_verdict v;
    spate_text_init(o);
    spate_bench_judge(&p->set, &p->t, &p->rep, NULL, &v);
    return spate_bench_json(o, &p->set, &p->t, &p->rep, NULL, &v, 0);
}

static struct piece pa, pb, pc;
static struct spate_bench_read rd;
static struct spate_bench_merge mg;
static struct spate_hist all;

/* Reads the JSON report o (borrowed) and adds it to m as name: the one path every report, a
 * piece's or a merge's, takes into a merge here, as `spate merge` reads its files. */
static int add_report(struct spate_bench_merge *m, const struct spate_text *o, const char *name,
                      char *err, size_t errlen)
{
    int rc = spate_bench_read(&rd, o->s, o->len, err, errlen);
    if (!rc) {
        rc = spate_bench_merge_add(m, &rd, name, 0, err, errlen);
        spate_bench_read_fini(&rd);
    }
    return rc;
}

/* Adds piece p, written as its JSON report and read back, to mg. */
static int add(struct piece *p, const char *name, char *err, size_t errlen)
{
    struct spate_text o;
    int rc = to_json(p, &o);
    if (!rc) rc = add_report(&mg, &o, name, err, errlen);
    spate_text_fini(&o);
    return rc;
}

/* One corruption of a good report: the first `from` replaced by `to`, refused naming `want`. */
struct edit {
    const char *from, *to, *want;
};

/* Each edit of the report good (borrowed) must fail to read with -EINVAL and a message holding
 * its `want`; label starts each test's name. */
static void refuse_edits(const struct spate_text *good, const struct edit *v, size_t n,
                         const char *label)
{
    char err[512];
    for (size_t i = 0; i < n; i++) {
        char *s = strndup(good->s, good->len), *at = strstr(s, v[i].from);
        struct spate_text e;
        spate_text_init(&e);
        if (at) {
            spate_text_add(&e, s, (size_t)(at - s));
            spate_text_adds(&e, v[i].to);
            spate_text_adds(&e, at + strlen(v[i].from));
        }
        err[0] = 0;
        int rc = at ? spate_bench_read(&rd, e.s, e.len, err, sizeof(err)) : 0;
        if (at && !rc) spate_bench_read_fini(&rd); /* read when it should not have been */
        ok(at && rc == -EINVAL && strstr(err, v[i].want), "%s%s -> %s: refused (%s)", label,
           v[i].from, v[i].to, at ? err : "edit not found");
        spate_text_fini(&e);
        free(s);
    }
}

/* 1 when histogram h holds exactly want's values: every bucket, the count, min, max and sum. */
static int same_hist(const struct spate_hist *h, const struct spate_hist *want)
{
    return memcmp(h->counts, want->counts, sizeof(want->counts)) == 0 && h->count == want->count &&
           h->min == want->min && h->max == want->max && h->sum == want->sum;
}

static void test_exact(void)
{
    char err[512];
    make_piece(&pa, (struct spate_split){0, 2}, "http://h/x", 1000.0, 2.0, 1500, 5);
    make_piece(&pb, (struct spate_split){1, 2}, "http://h/x", 1000.5, 2.0, 1497, 3);
    spate_hist_init(&all);
    spate_hist_merge(&all, &pa.t.hist);
    spate_hist_merge(&all, &pb.t.hist);
    spate_bench_merge_init(&mg, "pieces");
    ok(add(&pa, "a", err, sizeof(err)) == 0, "piece a read back and added (%s)", err);
    ok(add(&pb, "b", err, sizeof(err)) == 0, "piece b read back and added (%s)", err);
    ok(spate_bench_merge_finish(&mg) == 0, "finished");
    ok(same_hist(&mg.t.hist, &all),
       "merged histogram == one histogram of all %llu values, bucket by bucket",
       (unsigned long long)all.count);
    static const double ps[] = {0, 50, 90, 99, 99.9, 99.99, 100};
    int pct = 1;
    for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
        pct &= spate_hist_percentile(&mg.t.hist, ps[i]) == spate_hist_percentile(&all, ps[i]);
    ok(pct, "percentiles p0 .. p100 equal those of the one histogram");
    is_int((long long)mg.t.responses, 2997, "responses summed");
    is_int((long long)mg.t.status[200], 2697, "status 200 summed");
    is_int((long long)mg.t.status[404], 300, "status 404 summed");
    is_int((long long)mg.t.bad_status, 300, "failed by status summed");
    is_int((long long)mg.t.bytes, 299700, "bytes summed");
    is_int((long long)mg.t.errors.by_kind[SPATE_E_CONNECT], 8, "connect errors summed");
    uint64_t kept = 0;
    for (int i = 0; i < SPATE_BENCH_CAUSES; i++)
        kept += mg.t.errors.causes[SPATE_E_CONNECT][i].count;
    is_int((long long)(kept + mg.t.errors.other[SPATE_E_CONNECT]), 8,
           "the kept causes and 'other causes' add up to the kind's count");
    is_int((long long)mg.rep.elapsed_ns, 2500000000, "the period is the union: 1000.0 .. 1002.5");
    ok(mg.set.piece.k == 0 && mg.set.piece.n == 1 && !mg.parts.missing,
       "pieces 0/2 and 1/2 are the whole test");
    ok(fabs(mg.parts.v[1].late_s - 0.5) < 1e-6 && mg.parts.v[0].late_s == 0,
       "the piece that began 0.5 s after the earliest is 0.5 s late");
    is_int(mg.set.connections, 8, "the merged settings are the whole test's (8 connections)");
    spate_bench_merge_fini(&mg);
}

/* The share of the test the pieces cover, from their K/N alone. */
static void coverage(const struct spate_split *v, size_t n, struct spate_split *out,
                     const char **missing, char *buf, size_t len)
{
    char err[512];
    spate_bench_merge_init(&mg, "pieces");
    for (size_t i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof(name), "p%zu", i);
        make_piece(&pc, v[i], "http://h/x", 1000.0, 1.0, 10, 0);
        if (add(&pc, name, err, sizeof(err))) diag("add %s: %s", name, err);
    }
    spate_bench_merge_finish(&mg);
    *out = mg.set.piece;
    snprintf(buf, len, "%s", mg.parts.missing ? mg.parts.missing : "");
    *missing = buf;
    spate_bench_merge_fini(&mg);
}

static void test_coverage(void)
{
    struct spate_split got;
    const char *miss;
    char buf[128];
    const struct spate_split whole[] = {{1, 4}, {0, 2}, {3, 4}};
    coverage(whole, 3, &got, &miss, buf, sizeof(buf));
    ok(got.k == 0 && got.n == 1 && !*miss, "1/4 + 0/2 + 3/4: the whole test");
    const struct spate_split half[] = {{0, 4}, {2, 4}};
    coverage(half, 2, &got, &miss, buf, sizeof(buf));
    ok(got.k == 0 && got.n == 2, "0/4 + 2/4: piece 0/2 (got %u/%u)", got.k, got.n);
    is_str(miss, "only piece 0/2 of the test", "... named as only a piece");
    const struct spate_split thirds[] = {{0, 3}, {1, 3}};
    coverage(thirds, 2, &got, &miss, buf, sizeof(buf));
    ok(got.n == 0, "0/3 + 1/3: not one piece");
    is_str(miss, "no report of piece(s) 2/3", "... the missing piece named");
    const struct spate_split mixed[] = {{0, 2}, {1, 4}};
    coverage(mixed, 2, &got, &miss, buf, sizeof(buf));
    is_str(miss, "the pieces cover 75% of the test", "0/2 + 1/4: the share covered");
}

static void test_refusals(void)
{
    char err[512];
    spate_bench_merge_init(&mg, "pieces");
    make_piece(&pa, (struct spate_split){0, 2}, "http://h/x", 1000.0, 1.0, 10, 0);
    add(&pa, "a", err, sizeof(err));
    make_piece(&pb, (struct spate_split){2, 4}, "http://h/x", 1000.0, 1.0, 10, 0);
    ok(add(&pb, "b", err, sizeof(err)) == -EINVAL && strstr(err, "overlaps piece 0/2 of a"),
       "2/4 overlaps 0/2: refused (%s)", err);
    make_piece(&pb, (struct spate_split){1, 2}, "http://h/y", 1000.0, 1.0, 10, 0);
    ok(add(&pb, "b", err, sizeof(err)) == -EINVAL &&
           strstr(err, "b is a report of another test than a: URL http://h/y, not http://h/x"),
       "another URL: refused (%s)", err);
    make_piece(&pb, (struct spate_split){1, 2}, "http://h/x", 1000.0, 1.0, 10, 0);
    pb.set.test.rate = 100;
    ok(add(&pb, "b", err, sizeof(err)) == -EINVAL && strstr(err, "the open model, not the closed"),
       "another model: refused (%s)", err);
    pb.set.test.rate = 0;
    pb.set.test.requests = 3001;
    ok(add(&pb, "b", err, sizeof(err)) == -EINVAL && strstr(err, "-n 3001, not 3000"),
       "another -n: refused (%s)", err);
    spate_bench_merge_fini(&mg);

    /* corrupt reports: each edit of a good one is refused, with the field named */
    struct spate_text o;
    make_piece(&pa, (struct spate_split){0, 1}, "http://h/x", 1000.0, 1.0, 100, 2);
    to_json(&pa, &o);
    static const struct edit edits[] = {
        {"\"responses\":100,", "\"responses\":101,", "histogram holds 100 values"},
        {"\"errors\":2,", "\"errors\":3,", "\"errors_by_kind\" adds up to 2"},
        {"\"test\":{", "\"tset\":{", "\"test\" is missing"},
        {"\"piece\":{\"k\":0,\"n\":1}", "\"piece\":{\"k\":1,\"n\":1}", "is not a piece"},
        {"\"signal\":null", "\"signal\":\"SIGHUP\"", "\"signal\" is not null"},
        {"\"model\":\"closed\",\"rate\":0,", "\"model\":\"open\",\"rate\":0,", "does not fit"},
        {"\"unit\":\"ns\"", "\"unit\":\"us\"", "another layout"},
    };
    refuse_edits(&o, edits, sizeof(edits) / sizeof(edits[0]), "");
    ok(spate_bench_read(&rd, o.s, o.len / 2, err, sizeof(err)) == -EINVAL &&
           !strncmp(err, "not JSON: ", 10),
       "a truncated report: not JSON (%s)", err);
    ok(spate_bench_read(&rd, o.s, o.len, err, sizeof(err)) == 0, "the unedited report reads");
    spate_bench_read_fini(&rd);
    spate_text_fini(&o);
}

/* ---------- merged reports as pieces ---------- */

static struct piece pd;
static struct spate_bench_merge sub; /* a merge of some pieces, written out as a report */

/* The JSON report of `spate merge` of pieces v[0..n) named names[i], into o. */
static int merged_json(struct piece **v, const char *const *names, size_t n, struct spate_text *o)
{
    char err[512];
    int rc = 0;
    spate_bench_merge_init(&sub, "pieces");
    for (size_t i = 0; i < n && !rc; i++) {
        struct spate_text t;
        rc = to_json(v[i], &t);
        if (!rc) rc = add_report(&sub, &t, names[i], err, sizeof(err));
        spate_text_fini(&t);
    }
    struct spate_bench_verdict vd;
    if (!rc) rc = spate_bench_merge_finish(&sub);
    spate_bench_judge(&sub.set, &sub.t, &sub.rep, &sub.parts, &vd);
    spate_text_init(o);
    if (!rc) rc = spate_bench_json(o, &sub.set, &sub.t, &sub.rep, &sub.parts, &vd, sub.sig);
    spate_bench_merge_fini(&sub);
    if (rc) diag("merged_json: %d %s", rc, err);
    return rc;
}

/* Four pieces a..d: merge(merge(a, b), merge(c, d)) must be merge(a, b, c, d). */
static void test_nested(void)
{
    char err[512];
    make_piece(&pa, (struct spate_split){0, 4}, "http://h/x", 1000.0, 2.0, 700, 3);
    make_piece(&pb, (struct spate_split){1, 4}, "http://h/x", 1000.2, 1.8, 650, 0);
    make_piece(&pc, (struct spate_split){2, 4}, "http://h/x", 1000.1, 2.4, 800, 5);
    make_piece(&pd, (struct spate_split){3, 4}, "http://h/x", 1000.0, 1.0, 20, 0);
    struct piece *ab[] = {&pa, &pb}, *cd[] = {&pc, &pd}, *bc[] = {&pb, &pc};
    static const char *const nab[] = {"a", "b"}, *const ncd[] = {"c", "d"},
                             *const nbc[] = {"b", "c"};
    struct spate_text tab, tcd, tbc;
    ok(!merged_json(ab, nab, 2, &tab) && !merged_json(cd, ncd, 2, &tcd) &&
           !merged_json(bc, nbc, 2, &tbc),
       "merges ab, cd and bc written as reports");

    /* the flat merge, kept in `all` and a copy of its figures */
    spate_bench_merge_init(&mg, "pieces");
    add(&pa, "a", err, sizeof(err));
    add(&pb, "b", err, sizeof(err));
    add(&pc, "c", err, sizeof(err));
    add(&pd, "d", err, sizeof(err));
    spate_bench_merge_finish(&mg);
    spate_hist_init(&all);
    spate_hist_merge(&all, &mg.t.hist);
    struct spate_bench_tally ft = mg.t; /* plain numbers only are compared below */
    struct spate_load_report fr = mg.rep;
    struct spate_bench_setup fs = mg.set;
    double late[4];
    for (int i = 0; i < 4; i++)
        late[i] = mg.parts.v[i].late_s;
    spate_bench_merge_fini(&mg);

    spate_bench_merge_init(&mg, "pieces");
    ok(add_report(&mg, &tab, "ab", err, sizeof(err)) == 0, "merge ab read back and added (%s)",
       err);
    ok(add_report(&mg, &tcd, "cd", err, sizeof(err)) == 0, "merge cd read back and added (%s)",
       err);
    ok(spate_bench_merge_finish(&mg) == 0, "finished");
    ok(same_hist(&mg.t.hist, &all),
       "merge of merges: the histogram of the flat merge, bucket by bucket (%llu values)",
       (unsigned long long)all.count);
    ok(mg.t.responses == ft.responses && mg.t.bad_status == ft.bad_status &&
           mg.t.bytes == ft.bytes && !memcmp(mg.t.status, ft.status, sizeof(ft.status)) &&
           !memcmp(mg.t.errors.by_kind, ft.errors.by_kind, sizeof(ft.errors.by_kind)) &&
           mg.t.errors.total == 8,
       "responses, failed, bytes, statuses and errors by kind as in the flat merge");
    ok(mg.rep.finished == fr.finished && mg.rep.sent == fr.sent &&
           mg.rep.elapsed_ns == fr.elapsed_ns && mg.rep.start_unix == fr.start_unix &&
           mg.rep.elapsed_ns == 2500000000u,
       "requests, sent and the period (the union, 1000.0 .. 1002.5) as in the flat merge");
    ok(mg.set.piece.k == 0 && mg.set.piece.n == 1 && !mg.parts.missing &&
           mg.set.connections == fs.connections && mg.set.requests == fs.requests &&
           mg.set.procs == 4,
       "the whole test: 8 connections, 3,000 requests, 4 processes");
    int names = mg.parts.n == 4 && !strcmp(mg.parts.v[0].name, "ab: a") &&
                !strcmp(mg.parts.v[3].name, "cd: d") && mg.parts.v[2].piece.k == 2 &&
                mg.parts.v[2].requests == 805;
    for (int i = 0; i < 4 && names; i++)
        names &= fabs(mg.parts.v[i].late_s - late[i]) < 1e-9;
    ok(names, "the four pieces listed, named through their merge, late as in the flat merge");
    spate_bench_merge_fini(&mg);

    spate_bench_merge_init(&mg, "pieces");
    add_report(&mg, &tab, "ab", err, sizeof(err));
    ok(add_report(&mg, &tbc, "bc", err, sizeof(err)) == -EINVAL &&
           strstr(err, "bc: b is piece 1/4 of the test, which overlaps piece 1/4 of ab: b"),
       "ab + bc: piece b twice through two merges, refused (%s)", err);
    ok(add(&pb, "b", err, sizeof(err)) == -EINVAL &&
           strstr(err, "b is piece 1/4 of the test, which overlaps piece 1/4 of ab: b"),
       "ab + b: refused (%s)", err);
    spate_bench_merge_fini(&mg);

    /* corrupt merged reports */
    static const struct edit edits[] = {
        {"\"pieces\":[", "\"workers\":[],\"pieces\":[", "both \"workers\" and \"pieces\""},
        {"\"pieces\":[", "\"pieces_\":[", "\"piece\" 0/0 is not a piece"},
        {"\"requests\":703,", "\"requests\":704,",
         "\"pieces\" add up to 1354 requests, not \"requests\" 1353"},
        {"\"piece\":{\"k\":1,\"n\":4}", "\"piece\":{\"k\":4,\"n\":4}",
         "\"pieces\"[1].\"piece\" 4/4 is not a piece"},
        {"\"lost\":null,", "", "\"pieces\"[0].\"lost\" is missing"},
        {"\"pieces\":[{", "\"pieces\":[7,{", "\"pieces\"[0] is not an object"},
    };
    refuse_edits(&tab, edits, sizeof(edits) / sizeof(edits[0]), "merged: ");
    spate_text_fini(&tab);
    spate_text_fini(&tcd);
    spate_text_fini(&tbc);
}

int main(void)
{
    plan(35 + 17);
    test_exact();
    test_coverage();
    test_refusals();
    test_nested();
    spate_bench_tally_fini(&pd.t);
    spate_bench_tally_fini(&pa.t);
    spate_bench_tally_fini(&pb.t);
    spate_bench_tally_fini(&pc.t);
    return done();
}
