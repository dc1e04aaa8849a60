/* Unit tests for pd/cluster/pd_cluster: bootstrap, persistence across restarts and crashes,
 * stale heartbeats, GC safe point. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cm_log.h"
#include "pd_cluster.h"

#include <stdio.h>
#include <string.h>

typedef struct fixture {
    pd_kv kv;
    pd_id_alloc ids;
    pd_cluster c;
} fixture;

static void fx_open(fixture *f, uint64_t new_id)
{
    cm_err err;
    assert_int_equal(pd_id_init(&f->ids, &f->kv, 10, &err), 0);
    pd_cluster_options o = {20000, 1800000, new_id};
    assert_int_equal(pd_cluster_open(&f->c, &f->kv, &f->ids, &o, 0, &err), 0);
}

static void fx_close(fixture *f)
{
    pd_cluster_close(&f->c);
    pd_id_fini(&f->ids);
}

static pd_store mk_store(uint64_t id, const char *addr)
{
    pd_store s;
    memset(&s, 0, sizeof(s));
    s.id = id;
    snprintf(s.address, sizeof(s.address), "%s", addr);
    return s;
}

static void test_cluster_id_persists(void **state)
{
    (void)state;
    fixture f;
    cm_err err;
    assert_int_equal(pd_kv_mem_open(&f.kv, &err), 0);
    fx_open(&f, 111);
    assert_int_equal(pd_cluster_id(&f.c), 111);
    assert_false(pd_cluster_is_bootstrapped(&f.c));
    fx_close(&f);
    pd_kv_mem_crash(&f.kv);
    fx_open(&f, 222); /* a different candidate is ignored: the id was persisted */
    assert_int_equal(pd_cluster_id(&f.c), 111);
    fx_close(&f);
    pd_kv_close(&f.kv);
}

static void test_bootstrap_on_first_store(void **state)
{
    (void)state;
    fixture f;
    cm_err err;
    assert_int_equal(pd_kv_mem_open(&f.kv, &err), 0);
    fx_open(&f, 1);
    uint64_t sid;
    assert_int_equal(pd_id_alloc_n(&f.ids, 1, &sid, &err), 0);
    pd_store s = mk_store(sid, "127.0.0.1:1");
    pd_region boot;
    pd_region_init(&boot);
    int has = 0;
    assert_int_equal(pd_cluster_put_store(&f.c, &s, 0, &boot, &has, &err), 0);
    assert_true(has);
    assert_true(pd_cluster_is_bootstrapped(&f.c));
    assert_int_equal(boot.start_key.len, 0);
    assert_int_equal(boot.end_key.len, 0);
    assert_int_equal(boot.npeers, 1);
    assert_int_equal(boot.peers[0].store_id, sid);
    assert_true(boot.id > sid);
    assert_int_equal(boot.conf_ver, 1);
    assert_int_equal(boot.version, 1);
    /* Every key routes to the first region. */
    pd_region got;
    pd_region_init(&got);
    assert_int_equal(pd_cluster_region_by_key(&f.c, cm_slice_cstr("anything"), &got, &err), 0);
    assert_int_equal(got.id, boot.id);
    /* A second store does not bootstrap again. */
    pd_store s2 = mk_store(sid + 100, "127.0.0.1:2");
    assert_int_equal(pd_cluster_put_store(&f.c, &s2, 0, &boot, &has, &err), 0);
    assert_false(has);
    /* The bootstrap store restarting before creating its peer learns the region again. */
    assert_int_equal(pd_cluster_put_store(&f.c, &s, 0, &boot, &has, &err), 0);
    assert_true(has);
    /* Once the region has moved on (a heartbeat with a newer epoch), it is not offered again. */
    got.version = 2;
    got.leader = got.peers[0];
    assert_int_equal(pd_cluster_region_heartbeat(&f.c, &got, &err), 0);
    assert_int_equal(pd_cluster_put_store(&f.c, &s, 0, &boot, &has, &err), 0);
    assert_false(has);
    /* Bootstrap survives a crash: everything was synced. */
    uint64_t boot_id = boot.id;
    fx_close(&f);
    pd_kv_mem_crash(&f.kv);
    fx_open(&f, 1);
    assert_true(pd_cluster_is_bootstrapped(&f.c));
    pd_store out;
    pd_store_live live;
    assert_int_equal(pd_cluster_get_store(&f.c, sid + 100, 0, &out, &live, &err), 0);
    assert_string_equal(out.address, "127.0.0.1:2");
    assert_int_equal(pd_cluster_region_by_id(&f.c, boot_id, &got, &err), 0);
    pd_region_fini(&got);
    pd_region_fini(&boot);
    fx_close(&f);
    pd_kv_close(&f.kv);
}

static void mk_region(pd_region *r, uint64_t id, const char *s, const char *e, uint64_t cv,
                      uint64_t v)
{
    pd_region_init(r);
    r->id = id;
    cm_buf_append(&r->start_key, s, strlen(s));
    cm_buf_append(&r->end_key, e, strlen(e));
    r->conf_ver = cv;
    r->version = v;
    r->npeers = 1;
    r->peers[0].id = id + 1000;
    r->peers[0].store_id = 1;
    r->leader = r->peers[0];
}

static uint64_t route(pd_cluster *c, const char *key)
{
    pd_region r;
    pd_region_init(&r);
    cm_err err;
    uint64_t id = 0;
    if (pd_cluster_region_by_key(c, cm_slice_cstr(key), &r, &err) == 0) {
        id = r.id;
    } else {
        assert_int_equal(err.code, CM_E_REGION_NOT_FOUND);
    }
    pd_region_fini(&r);
    return id;
}

static void heartbeat(pd_cluster *c, uint64_t id, const char *s, const char *e, uint64_t cv,
                      uint64_t v, int want)
{
    pd_region r;
    mk_region(&r, id, s, e, cv, v);
    cm_err err;
    assert_int_equal(pd_cluster_region_heartbeat(c, &r, &err), want);
    pd_region_fini(&r);
}

static void test_stale_heartbeats_do_not_change_routing(void **state)
{
    (void)state;
    fixture f;
    cm_err err;
    assert_int_equal(pd_kv_mem_open(&f.kv, &err), 0);
    fx_open(&f, 1);
    heartbeat(&f.c, 10, "", "m", 2, 5, 0);
    heartbeat(&f.c, 11, "m", "", 2, 5, 0);
    heartbeat(&f.c, 10, "", "", 2, 4, CM_E_STALE_EPOCH); /* lower version */
    heartbeat(&f.c, 10, "", "", 1, 6, CM_E_STALE_EPOCH); /* lower conf_ver, higher version */
    heartbeat(&f.c, 12, "k", "p", 1, 9, CM_E_STALE_EPOCH);
    assert_int_equal(route(&f.c, "a"), 10);
    assert_int_equal(route(&f.c, "z"), 11);
    pd_cluster_stats st;
    pd_cluster_get_stats(&f.c, &st);
    assert_int_equal(st.region_stale, 3);
    assert_int_equal(st.region_updates, 2);
    /* Regions survive a clean restart (region writes are not synced, a crash may lose them). */
    fx_close(&f);
    fx_open(&f, 1);
    assert_int_equal(route(&f.c, "a"), 10);
    assert_int_equal(route(&f.c, "z"), 11);
    assert_int_equal(pd_cluster_region_count(&f.c), 2);
    /* A newer report replaces both; the replaced ones are gone from storage too. */
    heartbeat(&f.c, 13, "", "", 2, 7, 0);
    fx_close(&f);
    fx_open(&f, 1);
    assert_int_equal(pd_cluster_region_count(&f.c), 1);
    assert_int_equal(route(&f.c, "z"), 13);
    fx_close(&f);
    pd_kv_close(&f.kv);
}

static void test_gc_safe_point_monotonic(void **state)
{
    (void)state;
    fixture f;
    cm_err err;
    assert_int_equal(pd_kv_mem_open(&f.kv, &err), 0);
    fx_open(&f, 1);
    uint64_t now;
    assert_int_equal(pd_cluster_gc_safe_point(&f.c), 0);
    assert_int_equal(pd_cluster_update_gc_safe_point(&f.c, 100, &now, &err), 0);
    assert_int_equal(now, 100);
    assert_int_equal(pd_cluster_update_gc_safe_point(&f.c, 50, &now, &err), 0);
    assert_int_equal(now, 100); /* lower: ignored */
    assert_int_equal(pd_cluster_update_gc_safe_point(&f.c, 100, &now, &err), 0);
    assert_int_equal(now, 100);
    pd_kv_mem_fail_writes(&f.kv, 1);
    assert_int_equal(pd_cluster_update_gc_safe_point(&f.c, 300, &now, &err), CM_E_IO);
    assert_int_equal(now, 100);
    assert_int_equal(pd_cluster_update_gc_safe_point(&f.c, 200, &now, &err), 0);
    fx_close(&f);
    pd_kv_mem_crash(&f.kv);
    fx_open(&f, 1);
    assert_int_equal(pd_cluster_gc_safe_point(&f.c), 200);
    fx_close(&f);
    pd_kv_close(&f.kv);
}

static void test_store_state_persists(void **state)
{
    (void)state;
    fixture f;
    cm_err err;
    assert_int_equal(pd_kv_mem_open(&f.kv, &err), 0);
    fx_open(&f, 1);
    pd_store s = mk_store(1, "h:1");
    pd_region boot;
    pd_region_init(&boot);
    int has;
    assert_int_equal(pd_cluster_put_store(&f.c, &s, 0, &boot, &has, &err), 0);
    pd_store s2 = mk_store(2, "h:2");
    assert_int_equal(pd_cluster_put_store(&f.c, &s2, 0, &boot, &has, &err), 0);
    assert_int_equal(pd_cluster_set_store_state(&f.c, 1, PD_STORE_META_OFFLINE, &err), 0);
    /* Store 1 holds the bootstrap region's peer: it cannot become a tombstone yet. */
    assert_int_equal(pd_cluster_set_store_state(&f.c, 1, PD_STORE_META_TOMBSTONE, &err), CM_E_BUSY);
    assert_int_equal(pd_cluster_set_store_state(&f.c, 2, PD_STORE_META_OFFLINE, &err), 0);
    pd_kv_mem_fail_writes(&f.kv, 1);
    assert_int_equal(pd_cluster_set_store_state(&f.c, 2, PD_STORE_META_TOMBSTONE, &err), CM_E_IO);
    pd_store out;
    pd_store_live live;
    assert_int_equal(pd_cluster_get_store(&f.c, 2, 0, &out, &live, &err), 0);
    assert_int_equal(live, PD_STORE_LIVE_OFFLINE); /* the failed change was undone */
    assert_int_equal(pd_cluster_set_store_state(&f.c, 2, PD_STORE_META_TOMBSTONE, &err), 0);
    fx_close(&f);
    pd_kv_mem_crash(&f.kv);
    fx_open(&f, 1);
    assert_int_equal(pd_cluster_get_store(&f.c, 1, 0, &out, &live, &err), 0);
    assert_int_equal(live, PD_STORE_LIVE_OFFLINE);
    assert_int_equal(pd_cluster_get_store(&f.c, 2, 0, &out, &live, &err), 0);
    assert_int_equal(live, PD_STORE_LIVE_TOMBSTONE);
    uint64_t counts[PD_STORE_LIVE_COUNT];
    pd_cluster_store_counts(&f.c, 0, counts);
    assert_int_equal(counts[PD_STORE_LIVE_OFFLINE], 1);
    assert_int_equal(counts[PD_STORE_LIVE_TOMBSTONE], 1);
    pd_region_fini(&boot);
    fx_close(&f);
    pd_kv_close(&f.kv);
}

int main(void)
{
    cm_log_set_level(CM_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cluster_id_persists),
        cmocka_unit_test(test_bootstrap_on_first_store),
        cmocka_unit_test(test_stale_heartbeats_do_not_change_routing),
        cmocka_unit_test(test_gc_safe_point_monotonic),
        cmocka_unit_test(test_store_state_persists),
    };
    return cmocka_run_group_tests_name("pd_cluster", tests, NULL, NULL);
}
