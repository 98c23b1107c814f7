/* Unit tests for engine/htable.c: the one hash table (pool hosts, DNS cache). */
#include "htable.h"
#include "list.h"
#include "tap.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct item {
    struct spate_hnode node;
    char key[32];
};

static struct item *find(const struct spate_htable *t, const char *key)
{
    size_t h = spate_hash_str(key);
    for (struct spate_hnode *n = spate_htable_chain(t, h); n; n = n->next) {
        struct item *it = spate_container_of(n, struct item, node);
        if (n->hash == h && !strcmp(it->key, key)) return it;
    }
    return NULL;
}

static size_t chained(const struct spate_htable *t)
{
    size_t k = 0;
    for (size_t i = 0; i < t->nb; i++)
        for (const struct spate_hnode *n = t->b[i]; n; n = n->next)
            k += (n->hash & (t->nb - 1)) == i; /* counted only in its own bucket */
    return k;
}

static void test_hash(void)
{
    /* FNV-1a 64-bit reference values (the empty string is the offset basis) */
    ok(spate_hash_str("") == (size_t)14695981039346656037ull, "FNV-1a of \"\" is the basis");
    ok(spate_hash_str("a") == (size_t)0xaf63dc4c8601ec8cull, "FNV-1a of \"a\"");
    ok(spate_hash_str("foobar") == (size_t)0x85944171f73967e8ull, "FNV-1a of \"foobar\"");
}

static void test_grow_find_remove(void)
{
    enum { N = 5000 };
    struct spate_htable t;
    if (!is_int(spate_htable_init(&t, 4), 0, "init with 4 buckets")) return;
    struct item *items = calloc(N, sizeof(*items));
    for (int i = 0; i < N; i++) {
        snprintf(items[i].key, sizeof(items[i].key), "host%d.test", i);
        spate_htable_insert(&t, &items[i].node, spate_hash_str(items[i].key));
    }
    is_int((long long)t.n, N, "%d nodes counted", N);
    ok(t.nb >= N && (t.nb & (t.nb - 1)) == 0, "the table grew to a power of two >= n (%zu)", t.nb);
    is_int((long long)chained(&t), N, "every node sits in the bucket its hash names");
    int found = 0;
    for (int i = 0; i < N; i++)
        found += find(&t, items[i].key) == &items[i];
    is_int(found, N, "every key found, same node");
    ok(!find(&t, "host5000.test") && !find(&t, ""), "absent keys not found");
    for (int i = 0; i < N; i += 2)
        spate_htable_remove(&t, &items[i].node);
    int gone = 0, kept = 0;
    for (int i = 0; i < N; i++) {
        gone += i % 2 == 0 && !find(&t, items[i].key);
        kept += i % 2 == 1 && find(&t, items[i].key) == &items[i];
    }
    ok(gone == N / 2 && kept == N / 2 && t.n == N / 2,
       "removing every other node: those gone, the rest found, n = %zu", t.n);
    size_t at = 0, drained = 0;
    struct spate_hnode *n;
    while ((n = spate_htable_drain(&t, &at)))
        drained += (spate_container_of(n, struct item, node) - items) % 2 == 1;
    ok(drained == N / 2 && t.n == 0 && chained(&t) == 0, "drain hands out each node once");
    spate_htable_fini(&t);
    ok(t.b == NULL && t.n == 0, "fini frees the buckets");
    free(items);
}

static void test_same_bucket(void)
{
    /* distinct keys with one hash: the chain keeps both and the key comparison tells them apart */
    struct spate_htable t;
    spate_htable_init(&t, 8);
    struct item a = {.key = "a"}, b = {.key = "b"};
    spate_htable_insert(&t, &a.node, 42);
    spate_htable_insert(&t, &b.node, 42);
    int both = 0;
    for (struct spate_hnode *n = spate_htable_chain(&t, 42); n; n = n->next)
        both += n == &a.node || n == &b.node;
    spate_htable_remove(&t, &a.node);
    ok(both == 2 && spate_htable_chain(&t, 42) == &b.node && t.n == 1,
       "colliding nodes share a chain; removing one leaves the other");
    spate_htable_remove(&t, &b.node);
    ok(spate_htable_chain(&t, 42) == NULL && t.n == 0, "and the chain empties");
    spate_htable_fini(&t);
}

static void test_list(void)
{
    struct node {
        int v;
        struct spate_list link;
    } x[4];
    struct spate_list head;
    spate_list_init(&head);
    ok(spate_list_empty(&head) && !spate_list_first(&head) && !spate_list_last(&head),
       "a new list is empty");
    for (int i = 0; i < 4; i++) {
        x[i].v = i;
        spate_list_append(&head, &x[i].link);
    }
    spate_list_remove(&x[1].link);
    spate_list_remove(&x[1].link); /* a second remove of an unlinked node is harmless */
    spate_list_push(&head, &x[1].link);
    int order[4], k = 0;
    struct spate_list *n, *tmp;
    spate_list_foreach(n, tmp, &head)
    {
        order[k++] = spate_container_of(n, struct node, link)->v;
        if (k == 2) spate_list_remove(n); /* removing the current node mid-walk */
    }
    ok(k == 4 && order[0] == 1 && order[1] == 0 && order[2] == 2 && order[3] == 3,
       "append, push and remove keep order (1 0 2 3)");
    ok(spate_list_first(&head) == &x[1].link && spate_list_last(&head) == &x[3].link &&
           x[2].link.prev == &x[1].link && spate_list_empty(&x[0].link),
       "the node removed in the walk is unlinked, neighbours joined");
}

int main(void)
{
    test_hash();
    test_grow_find_remove();
    test_same_bucket();
    test_list();
    return done();
}
