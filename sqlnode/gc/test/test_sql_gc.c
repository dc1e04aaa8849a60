/* Unit tests for sqlnode/gc: the running-transaction multiset (against a model), the safe point
 * rule, the delete-range queue encoding (round trip, order, every truncation). The worker itself
 * needs PD and kvnodes: testsuite/e2e/gc. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sql_gc.h"

#include "cm_keys.h"

#include <stdlib.h>
#include <string.h>

static void test_txnset_basic(void **state)
{
    (void)state;
    sql_gc_txnset s;
    sql_gc_txnset_init(&s);
    assert_int_equal(sql_gc_txnset_min(&s), 0);
    sql_gc_txnset_remove(&s, 5); /* absent, empty table: nothing */
    assert_int_equal(sql_gc_txnset_add(&s, 0), CM_E_INVALID);
    assert_int_equal(sql_gc_txnset_add(&s, 30), 0);
    assert_int_equal(sql_gc_txnset_add(&s, 10), 0);
    assert_int_equal(sql_gc_txnset_add(&s, 10), 0); /* two transactions at one start_ts */
    assert_int_equal(sql_gc_txnset_add(&s, 20), 0);
    assert_int_equal(sql_gc_txnset_size(&s), 3);
    assert_int_equal(sql_gc_txnset_min(&s), 10);
    sql_gc_txnset_remove(&s, 10);
    assert_int_equal(sql_gc_txnset_min(&s), 10); /* one of the two is still running */
    sql_gc_txnset_remove(&s, 10);
    assert_int_equal(sql_gc_txnset_min(&s), 20);
    sql_gc_txnset_remove(&s, 99);
    assert_int_equal(sql_gc_txnset_size(&s), 2);
    sql_gc_txnset_remove(&s, 20);
    sql_gc_txnset_remove(&s, 30);
    assert_int_equal(sql_gc_txnset_min(&s), 0);
    assert_int_equal(sql_gc_txnset_size(&s), 0);
    sql_gc_txnset_fini(&s);
}

/* Random adds and removes of TSO-like (clustered, sequential) timestamps against a counting
 * model: growth, collisions and backward-shift deletion keep every member findable. */
static void test_txnset_model(void **state)
{
    (void)state;
    enum { N = 400 };
    static uint32_t model[N];
    memset(model, 0, sizeof(model));
    sql_gc_txnset s;
    sql_gc_txnset_init(&s);
    srand(7);
    uint64_t base = (uint64_t)1 << 40;
    for (int step = 0; step < 60000; step++) {
        int i = rand() % N;
        /* Sequential values and values that differ by multiples of the table size both occur. */
        uint64_t ts = base + (uint64_t)(i % 2 ? i : i * 64);
        if (rand() % 2 == 0) {
            assert_int_equal(sql_gc_txnset_add(&s, ts), 0);
            model[i]++;
        } else {
            sql_gc_txnset_remove(&s, ts);
            if (model[i] > 0) {
                model[i]--;
            }
        }
        if (step % 97 == 0) {
            uint64_t m = 0;
            size_t distinct = 0;
            for (int k = 0; k < N; k++) {
                uint64_t t = base + (uint64_t)(k % 2 ? k : k * 64);
                if (model[k] > 0) {
                    distinct++;
                    m = (m == 0 || t < m) ? t : m;
                }
            }
            assert_int_equal(sql_gc_txnset_min(&s), m);
            assert_int_equal(sql_gc_txnset_size(&s), distinct);
        }
    }
    sql_gc_txnset_fini(&s);
}

static uint64_t ts_of(uint64_t ms, uint32_t logical)
{
    return ms << 18 | logical;
}

static void test_safe_point(void **state)
{
    (void)state;
    uint64_t now = ts_of(1000000, 77);
    /* now − life_time, logical 0 */
    assert_int_equal(sql_gc_compute_safe_point(now, 600000, 0), ts_of(400000, 0));
    /* never at or past the oldest running start_ts */
    assert_int_equal(sql_gc_compute_safe_point(now, 600000, ts_of(300000, 5)),
                     ts_of(300000, 5) - 1);
    assert_int_equal(sql_gc_compute_safe_point(now, 600000, ts_of(400000, 0)),
                     ts_of(400000, 0) - 1);
    /* an old transaction that is younger than now − life_time changes nothing */
    assert_int_equal(sql_gc_compute_safe_point(now, 600000, ts_of(500000, 0)), ts_of(400000, 0));
    /* too early in time's history: no safe point */
    assert_int_equal(sql_gc_compute_safe_point(ts_of(1000, 0), 600000, 0), 0);
    assert_int_equal(sql_gc_compute_safe_point(now, 0, 0), ts_of(1000000, 0));
    assert_int_equal(sql_gc_compute_safe_point(now, -5, 0), ts_of(1000000, 0));
}

static cm_slice S(const char *s)
{
    return cm_slice_make(s, strlen(s));
}

static void test_queue_codec(void **state)
{
    (void)state;
    cm_buf k = CM_BUF_INIT, v = CM_BUF_INIT, k2 = CM_BUF_INIT, qs = CM_BUF_INIT, qe = CM_BUF_INIT;
    cm_err err;
    const char bin[] = {'t', 0, '\xff', 'x'};
    cm_slice start = cm_slice_make(bin, sizeof(bin));
    assert_int_equal(sql_gc_queue_key(&k, 12345, start, &err), 0);
    assert_int_equal(sql_gc_queue_value(&v, start, S("u"), &err), 0);
    uint64_t ts = 0;
    cm_slice s0, e0;
    assert_int_equal(sql_gc_queue_decode(cm_buf_slice(&k), cm_buf_slice(&v), &ts, &s0, &e0, &err),
                     0);
    assert_int_equal(ts, 12345);
    assert_true(cm_slice_eq(s0, start));
    assert_true(cm_slice_eq(e0, S("u")));
    /* Queue keys are metadata keys, inside the queue's range, ordered by ts. */
    assert_int_equal(k.ptr[0], 'm');
    assert_int_equal(sql_gc_queue_range(&qs, &qe, &err), 0);
    assert_true(cm_slice_cmp(cm_buf_slice(&qs), cm_buf_slice(&k)) <= 0);
    assert_true(cm_slice_cmp(cm_buf_slice(&k), cm_buf_slice(&qe)) < 0);
    assert_int_equal(sql_gc_queue_key(&k2, 12346, S("a"), &err), 0);
    assert_true(cm_slice_cmp(cm_buf_slice(&k), cm_buf_slice(&k2)) < 0);
    assert_true(cm_slice_cmp(cm_buf_slice(&k2), cm_buf_slice(&qe)) < 0);
    /* An empty end (to the end of the key space) is allowed. */
    cm_buf_reset(&v);
    assert_int_equal(sql_gc_queue_value(&v, start, S(""), &err), 0);
    assert_int_equal(sql_gc_queue_decode(cm_buf_slice(&k), cm_buf_slice(&v), &ts, &s0, &e0, &err),
                     0);
    assert_int_equal(e0.len, 0);
    /* Every truncation of the value, and trailing garbage, is CORRUPT (never a crash). */
    for (size_t n = 0; n < v.len; n++) {
        assert_int_equal(
            sql_gc_queue_decode(cm_buf_slice(&k), cm_slice_make(v.ptr, n), &ts, &s0, &e0, &err),
            CM_E_CORRUPT);
    }
    assert_int_equal(cm_buf_append_u8(&v, 0), 0);
    assert_int_equal(sql_gc_queue_decode(cm_buf_slice(&k), cm_buf_slice(&v), &ts, &s0, &e0, &err),
                     CM_E_CORRUPT);
    /* start >= end is refused; so are keys that are not queue keys, and truncated keys. */
    cm_buf_reset(&v);
    assert_int_equal(sql_gc_queue_value(&v, S("b"), S("a"), &err), 0);
    assert_int_equal(sql_gc_queue_decode(cm_buf_slice(&k), cm_buf_slice(&v), &ts, &s0, &e0, &err),
                     CM_E_CORRUPT);
    cm_buf_reset(&v);
    assert_int_equal(sql_gc_queue_value(&v, S("a"), S("b"), &err), 0);
    cm_buf other = CM_BUF_INIT;
    assert_int_equal(cm_keys_append_meta_hash_field(&other, S("schema"), S("12345678")), 0);
    assert_int_not_equal(
        sql_gc_queue_decode(cm_buf_slice(&other), cm_buf_slice(&v), &ts, &s0, &e0, &err), 0);
    for (size_t n = 0; n < k.len; n++) {
        assert_int_not_equal(
            sql_gc_queue_decode(cm_slice_make(k.ptr, n), cm_buf_slice(&v), &ts, &s0, &e0, &err), 0);
    }
    cm_buf_fini(&other);
    cm_buf_fini(&k);
    cm_buf_fini(&k2);
    cm_buf_fini(&v);
    cm_buf_fini(&qs);
    cm_buf_fini(&qe);
}

static void test_options(void **state)
{
    (void)state;
    sql_gc_options o;
    sql_gc_options_default(&o);
    assert_int_equal(o.life_time_ms, 600000);
    assert_int_equal(o.interval_ms, 600000);
    assert_int_equal(o.publish_ms, 1000);
    sql_gc *g = (sql_gc *)1;
    cm_err err;
    /* no node name: refused before anything starts (the client is never touched) */
    assert_int_equal(sql_gc_start(NULL, &o, &g, &err), CM_E_INVALID);
    assert_null(g);
    /* sessions without a worker may call the registry functions */
    assert_int_equal(sql_gc_txn_begin(NULL, 5), 0);
    sql_gc_txn_end(NULL, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_txnset_basic), cmocka_unit_test(test_txnset_model),
        cmocka_unit_test(test_safe_point),   cmocka_unit_test(test_queue_codec),
        cmocka_unit_test(test_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
