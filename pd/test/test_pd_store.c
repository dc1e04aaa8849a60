/* Unit tests for pd/cluster/pd_store: registration rules, heartbeats, liveness by age. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cm_log.h"
#include "pd_store.h"

#include <stdio.h>
#include <string.h>

static pd_store mk(uint64_t id, const char *addr)
{
    pd_store s;
    memset(&s, 0, sizeof(s));
    s.id = id;
    snprintf(s.address, sizeof(s.address), "%s", addr);
    return s;
}

static void put(pd_store_table *t, pd_store s, uint64_t now, int want)
{
    cm_err err;
    int rc = pd_store_table_check_put(t, &s, &err);
    if (rc == 0) {
        rc = pd_store_table_put(t, &s, now, &err);
    }
    assert_int_equal(rc, want);
}

static void test_register_rules(void **state)
{
    (void)state;
    pd_store_table t;
    pd_store_table_init(&t, 20000, 1800000);
    put(&t, mk(1, "127.0.0.1:20160"), 0, 0);
    put(&t, mk(2, "127.0.0.1:20161"), 0, 0);
    put(&t, mk(0, "127.0.0.1:20162"), 0, CM_E_INVALID);
    put(&t, mk(3, ""), 0, CM_E_INVALID);
    put(&t, mk(3, "127.0.0.1:20160"), 0, CM_E_EXISTS); /* address of store 1 */
    put(&t, mk(1, "127.0.0.1:20170"), 0, 0);           /* store 1 moves: allowed */
    put(&t, mk(3, "127.0.0.1:20160"), 0, 0);           /* now free */
    assert_int_equal(pd_store_table_size(&t), 3);
    assert_string_equal(pd_store_table_get(&t, 1)->address, "127.0.0.1:20170");
    pd_store bad = mk(4, "x:1");
    bad.meta_state = PD_STORE_META_OFFLINE;
    put(&t, bad, 0, CM_E_INVALID);
    pd_store_table_fini(&t);
}

static void test_liveness_by_age(void **state)
{
    (void)state;
    pd_store_table t;
    pd_store_table_init(&t, 20000, 1800000);
    put(&t, mk(1, "a:1"), 1000, 0);
    const pd_store *s = pd_store_table_get(&t, 1);
    assert_int_equal(pd_store_table_live(&t, s, 1000), PD_STORE_LIVE_UP);
    assert_int_equal(pd_store_table_live(&t, s, 1000 + 19999), PD_STORE_LIVE_UP);
    assert_int_equal(pd_store_table_live(&t, s, 1000 + 20000), PD_STORE_LIVE_DISCONNECTED);
    assert_int_equal(pd_store_table_live(&t, s, 1000 + 1800000), PD_STORE_LIVE_DOWN);
    pd_store_stats st = {100, 60, 40, 7, 3};
    cm_err err;
    assert_int_equal(pd_store_table_heartbeat(&t, 1, &st, 1000 + 1800000, &err), 0);
    assert_int_equal(pd_store_table_live(&t, s, 1000 + 1800001), PD_STORE_LIVE_UP);
    assert_int_equal(s->stats.region_count, 7);
    assert_int_equal(s->stats.leader_count, 3);
    assert_int_equal(pd_store_table_heartbeat(&t, 9, &st, 0, &err), CM_E_NOT_FOUND);
    uint64_t counts[PD_STORE_LIVE_COUNT];
    put(&t, mk(2, "a:2"), 0, 0);
    pd_store_table_count(&t, 1000 + 1800001, counts);
    assert_int_equal(counts[PD_STORE_LIVE_UP], 1);
    assert_int_equal(counts[PD_STORE_LIVE_DOWN], 1);
    pd_store_table_fini(&t);
}

static void test_offline_tombstone(void **state)
{
    (void)state;
    pd_store_table t;
    pd_store_table_init(&t, 20000, 1800000);
    put(&t, mk(1, "a:1"), 0, 0);
    cm_err err;
    assert_int_equal(pd_store_table_set_state(&t, 1, PD_STORE_META_TOMBSTONE, 0, &err),
                     CM_E_INVALID); /* Up cannot jump to Tombstone */
    assert_int_equal(pd_store_table_set_state(&t, 1, PD_STORE_META_OFFLINE, 0, &err), 0);
    const pd_store *s = pd_store_table_get(&t, 1);
    assert_int_equal(pd_store_table_live(&t, s, 0), PD_STORE_LIVE_OFFLINE);
    /* Re-registering an Offline store keeps it Offline. */
    put(&t, mk(1, "a:1"), 0, 0);
    assert_int_equal(s->meta_state, PD_STORE_META_OFFLINE);
    assert_int_equal(pd_store_table_set_state(&t, 1, PD_STORE_META_TOMBSTONE, 2, &err), CM_E_BUSY);
    assert_int_equal(pd_store_table_set_state(&t, 1, PD_STORE_META_TOMBSTONE, 0, &err), 0);
    assert_int_equal(pd_store_table_live(&t, s, 0), PD_STORE_LIVE_TOMBSTONE);
    pd_store_stats st = {0};
    assert_int_equal(pd_store_table_heartbeat(&t, 1, &st, 0, &err), CM_E_INVALID);
    put(&t, mk(1, "a:1"), 0, CM_E_INVALID); /* a tombstone never comes back */
    put(&t, mk(2, "a:1"), 0, 0);            /* but its address may be reused */
    assert_int_equal(pd_store_table_set_state(&t, 1, PD_STORE_META_UP, 0, &err), CM_E_INVALID);
    pd_store_table_fini(&t);
}

static int collect_cb(void *user, const pd_store *s)
{
    uint64_t *ids = user;
    ids[ids[0] + 1] = s->id;
    ids[0]++;
    return 0;
}

static void test_foreach_in_id_order(void **state)
{
    (void)state;
    pd_store_table t;
    pd_store_table_init(&t, 20000, 1800000);
    uint64_t order[] = {40, 3, 17, 1, 99, 8};
    for (size_t i = 0; i < 6; i++) {
        char a[32];
        snprintf(a, sizeof(a), "h:%llu", (unsigned long long)order[i]);
        put(&t, mk(order[i], a), 0, 0);
    }
    uint64_t ids[8] = {0};
    pd_store_table_foreach(&t, collect_cb, ids);
    assert_int_equal(ids[0], 6);
    for (int i = 2; i <= 6; i++) {
        assert_true(ids[i] > ids[i - 1]);
    }
    pd_store_table_fini(&t);
}

int main(void)
{
    cm_log_set_level(CM_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_rules),
        cmocka_unit_test(test_liveness_by_age),
        cmocka_unit_test(test_offline_tombstone),
        cmocka_unit_test(test_foreach_in_id_order),
    };
    return cmocka_run_group_tests_name("pd_store", tests, NULL, NULL);
}
