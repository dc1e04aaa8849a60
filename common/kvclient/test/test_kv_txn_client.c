/* test_kv_txn_client.c — unit tests of the KV client's pure parts: the write buffer with nested
 * checkpoints (against a brute-force model) and the committer's grouping of sorted keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cm_kv_int.h"
#include "cm_membuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cm_slice S(const char *s)
{
    return cm_slice_make(s, strlen(s));
}

static void expect_entry(cm_membuf *m, const char *k, int op, const char *v)
{
    const cm_membuf_entry *e = cm_membuf_get(m, S(k));
    if (op == 0) {
        assert_null(e);
        return;
    }
    assert_non_null(e);
    assert_int_equal(e->op, op);
    if (v) {
        assert_true(cm_slice_eq(cm_buf_slice(&e->value), S(v)));
    }
}

static void test_membuf_basic(void **state)
{
    (void)state;
    cm_membuf m;
    cm_membuf_init(&m);
    assert_int_equal(cm_membuf_set(&m, CM_MB_PUT, S("b"), S("1")), 0);
    assert_int_equal(cm_membuf_set(&m, CM_MB_PUT, S("a"), S("2")), 0);
    assert_int_equal(cm_membuf_set(&m, CM_MB_DELETE, S("c"), S("")), 0);
    assert_int_equal(cm_membuf_set(&m, CM_MB_LOCK, S("a"), S("")), 0); /* no effect */
    assert_int_equal(m.n, 3);
    assert_true(cm_slice_eq(cm_buf_slice(&m.e[0].key), S("a")));
    assert_true(cm_slice_eq(cm_buf_slice(&m.e[2].key), S("c")));
    expect_entry(&m, "a", CM_MB_PUT, "2");
    assert_int_equal(cm_membuf_lower_bound(&m, S("bb")), 2);
    assert_int_equal(cm_membuf_set(&m, CM_MB_PUT, S("a"), S("3")), 0);
    expect_entry(&m, "a", CM_MB_PUT, "3");
    cm_membuf_fini(&m);
}

static void test_membuf_checkpoints(void **state)
{
    (void)state;
    cm_membuf m;
    cm_membuf_init(&m);
    cm_membuf_set(&m, CM_MB_PUT, S("k1"), S("v1"));
    int c1 = cm_membuf_checkpoint(&m);
    assert_int_equal(c1, 1);
    cm_membuf_set(&m, CM_MB_PUT, S("k1"), S("v1b"));
    cm_membuf_set(&m, CM_MB_PUT, S("k2"), S("v2"));
    int c2 = cm_membuf_checkpoint(&m);
    cm_membuf_set(&m, CM_MB_DELETE, S("k2"), S(""));
    cm_membuf_set(&m, CM_MB_LOCK, S("k3"), S(""));
    expect_entry(&m, "k2", CM_MB_DELETE, NULL);
    assert_int_equal(cm_membuf_rollback_to(&m, c2), 0);
    expect_entry(&m, "k2", CM_MB_PUT, "v2");
    expect_entry(&m, "k3", 0, NULL);
    assert_int_equal(cm_membuf_rollback_to(&m, c2), CM_E_INVALID); /* closed */
    int c3 = cm_membuf_checkpoint(&m);
    cm_membuf_set(&m, CM_MB_PUT, S("k4"), S("v4"));
    assert_int_equal(cm_membuf_release(&m, c3), 0);
    expect_entry(&m, "k4", CM_MB_PUT, "v4");
    assert_int_equal(cm_membuf_rollback_to(&m, c1), 0); /* undoes the released one too */
    expect_entry(&m, "k1", CM_MB_PUT, "v1");
    expect_entry(&m, "k2", 0, NULL);
    expect_entry(&m, "k4", 0, NULL);
    assert_int_equal(m.n, 1);
    assert_int_equal(m.nundo, 0);
    cm_membuf_fini(&m);
}

/* Random operations against a model: an array of 16 keys with (op, value) and a stack of
 * snapshots for checkpoints. */
typedef struct model {
    int op[16];
    int val[16];
} model;

static void check_model(cm_membuf *m, const model *md)
{
    size_t count = 0;
    for (int k = 0; k < 16; k++) {
        char key[8], v[16];
        snprintf(key, sizeof(key), "k%02d", k);
        snprintf(v, sizeof(v), "%d", md->val[k]);
        expect_entry(m, key, md->op[k], md->op[k] == CM_MB_PUT ? v : NULL);
        count += md->op[k] != 0;
    }
    assert_int_equal(m->n, count);
    for (size_t i = 1; i < m->n; i++) {
        assert_true(cm_slice_cmp(cm_buf_slice(&m->e[i - 1].key), cm_buf_slice(&m->e[i].key)) < 0);
    }
}

static void test_membuf_random(void **state)
{
    (void)state;
    srand(7);
    for (int round = 0; round < 50; round++) {
        cm_membuf m;
        cm_membuf_init(&m);
        model md, stack[CM_MEMBUF_CHECKPOINTS_MAX];
        memset(&md, 0, sizeof(md));
        int depth = 0;
        for (int step = 0; step < 400; step++) {
            int r = rand() % 10, k = rand() % 16;
            char key[8], v[16];
            snprintf(key, sizeof(key), "k%02d", k);
            if (r < 5) {
                int op = 1 + rand() % 3, val = rand() % 1000;
                snprintf(v, sizeof(v), "%d", val);
                assert_int_equal(cm_membuf_set(&m, op, S(key), S(v)), 0);
                if (!(op == CM_MB_LOCK && md.op[k] != 0)) {
                    md.op[k] = op;
                    md.val[k] = op == CM_MB_PUT ? val : 0;
                }
            } else if (r < 7 && depth < CM_MEMBUF_CHECKPOINTS_MAX) {
                stack[depth] = md;
                depth++;
                assert_int_equal(cm_membuf_checkpoint(&m), depth);
            } else if (r < 8 && depth > 0) {
                int id = 1 + rand() % depth;
                assert_int_equal(cm_membuf_rollback_to(&m, id), 0);
                md = stack[id - 1];
                depth = id - 1;
            } else if (r < 9 && depth > 0) {
                int id = 1 + rand() % depth;
                assert_int_equal(cm_membuf_release(&m, id), 0);
                depth = id - 1;
            }
            check_model(&m, &md);
        }
        cm_membuf_fini(&m);
    }
}

/* Fake routes: regions split at "d", "m", "t". */
static int fake_locate(void *ctx, cm_slice key, uint64_t *region_id, cm_buf *end_user, cm_err *err)
{
    (void)err;
    int *calls = ctx;
    (*calls)++;
    static const char *bounds[] = {"d", "m", "t"};
    cm_buf_reset(end_user);
    for (int i = 0; i < 3; i++) {
        if (cm_slice_cmp(key, S(bounds[i])) < 0) {
            *region_id = (uint64_t)i + 1;
            return cm_buf_append_slice(end_user, S(bounds[i]));
        }
    }
    *region_id = 4;
    return 0;
}

static void test_grouping(void **state)
{
    (void)state;
    const char *ks[] = {"a", "b", "d", "da", "l", "x", "y", "z"};
    cm_slice keys[8];
    for (int i = 0; i < 8; i++) {
        keys[i] = S(ks[i]);
    }
    size_t starts[8], ng = 0;
    int calls = 0;
    cm_err err;
    assert_int_equal(kv_group_sorted(keys, 8, fake_locate, &calls, starts, &ng, &err), 0);
    assert_int_equal(ng, 3); /* [a b] [d da l] [x y z]; no key in [m, t) */
    assert_int_equal(starts[0], 0);
    assert_int_equal(starts[1], 2);
    assert_int_equal(starts[2], 5);
    assert_int_equal(calls, 3); /* one lookup per group, not per key */
    assert_int_equal(kv_group_sorted(keys, 0, fake_locate, &calls, starts, &ng, &err), 0);
    assert_int_equal(ng, 0);
    cm_slice one = S("zz");
    assert_int_equal(kv_group_sorted(&one, 1, fake_locate, &calls, starts, &ng, &err), 0);
    assert_int_equal(ng, 1);
}

static int count_check(void *user, uint64_t commit_ts, cm_err *err)
{
    (void)commit_ts;
    (*(int *)user)++;
    return cm_err_set(err, CM_E_DEADLOCK, "refused");
}

/* The commit check runs only for a transaction with mutations (after prewrite, which needs a
 * cluster: testsuite/e2e/schema_sync covers that part); one whose writes were all rolled back to
 * a checkpoint commits without calling it and without touching the client. */
static void test_commit_check_not_called_without_writes(void **state)
{
    (void)state;
    cm_txn *t = NULL;
    cm_err err;
    assert_int_equal(cm_txn_begin_at(NULL, 42, &t, &err), 0);
    int calls = 0;
    cm_txn_set_commit_check(t, count_check, &calls);
    int cp = cm_txn_checkpoint(t);
    assert_int_equal(cm_txn_set(t, S("k"), S("v"), &err), 0);
    assert_int_equal(cm_txn_size(t), 1);
    assert_int_equal(cm_txn_rollback_to(t, cp), 0);
    assert_int_equal(cm_txn_size(t), 0);
    assert_int_equal(cm_txn_commit(t, &err), 0);
    assert_int_equal(calls, 0);
    assert_int_equal(cm_txn_commit_ts(t), 0);
    cm_txn_free(t);
    /* set and cleared: no check either way */
    assert_int_equal(cm_txn_begin_at(NULL, 43, &t, &err), 0);
    cm_txn_set_commit_check(t, count_check, &calls);
    cm_txn_set_commit_check(t, NULL, NULL);
    assert_int_equal(cm_txn_commit(t, &err), 0);
    assert_int_equal(calls, 0);
    cm_txn_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_membuf_basic),
        cmocka_unit_test(test_membuf_checkpoints),
        cmocka_unit_test(test_membuf_random),
        cmocka_unit_test(test_grouping),
        cmocka_unit_test(test_commit_check_not_called_without_writes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
