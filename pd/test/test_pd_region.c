/* Unit tests for pd/cluster/pd_region: routing by key / id / range, the staleness rule, and a
 * randomized comparison of the skip list against a brute-force model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cm_log.h"
#include "pd_region.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void mk(pd_region *r, uint64_t id, const char *start, const char *end, uint64_t conf_ver,
               uint64_t version)
{
    pd_region_init(r);
    r->id = id;
    cm_buf_append(&r->start_key, start, strlen(start));
    cm_buf_append(&r->end_key, end, strlen(end));
    r->conf_ver = conf_ver;
    r->version = version;
    r->npeers = 1;
    r->peers[0].id = id * 100;
    r->peers[0].store_id = 1;
}

static uint64_t route(pd_region_tree *t, const char *key)
{
    const pd_region *r = pd_region_tree_by_key(t, cm_slice_cstr(key));
    return r ? r->id : 0;
}

static int put_checked(pd_region_tree *t, pd_region *r)
{
    cm_err err;
    pd_region_verdict v = pd_region_tree_check(t, r, &err);
    if (v == PD_REGION_NEWER) {
        assert_int_equal(pd_region_tree_put(t, r, NULL, NULL), 0);
    } else if (v == PD_REGION_SAME_META) {
        pd_region_tree_update_stats(t, r);
    }
    pd_region_fini(r);
    return (int)v;
}

static void test_route_by_key_and_id(void **state)
{
    (void)state;
    pd_region_tree t;
    assert_int_equal(pd_region_tree_init(&t), 0);
    pd_region r;
    mk(&r, 1, "", "g", 1, 1);
    put_checked(&t, &r);
    mk(&r, 2, "g", "p", 1, 1);
    put_checked(&t, &r);
    mk(&r, 3, "p", "", 1, 1);
    put_checked(&t, &r);
    assert_int_equal(pd_region_tree_count(&t), 3);
    assert_int_equal(route(&t, ""), 1);
    assert_int_equal(route(&t, "a"), 1);
    assert_int_equal(route(&t, "f\xff"), 1);
    assert_int_equal(route(&t, "g"), 2);
    assert_int_equal(route(&t, "o"), 2);
    assert_int_equal(route(&t, "p"), 3);
    assert_int_equal(route(&t, "zzzz"), 3);
    assert_non_null(pd_region_tree_by_id(&t, 2));
    assert_null(pd_region_tree_by_id(&t, 4));
    pd_region_tree_fini(&t);
}

typedef struct ids_ctx {
    uint64_t ids[64];
    int n;
} ids_ctx;

static int ids_cb(void *user, const pd_region *r)
{
    ids_ctx *x = user;
    x->ids[x->n++] = r->id;
    return 0;
}

static void test_scan(void **state)
{
    (void)state;
    pd_region_tree t;
    assert_int_equal(pd_region_tree_init(&t), 0);
    pd_region r;
    const char *bounds[] = {"", "b", "d", "f", "h", ""};
    for (int i = 0; i < 5; i++) {
        mk(&r, (uint64_t)i + 1, bounds[i], bounds[i + 1], 1, 1);
        put_checked(&t, &r);
    }
    ids_ctx x = {{0}, 0};
    pd_region_tree_scan(&t, cm_slice_cstr("c"), cm_slice_cstr("f"), 0, ids_cb, &x);
    assert_int_equal(x.n, 2); /* [b,d) and [d,f); [f,h) starts at the end: excluded */
    assert_int_equal(x.ids[0], 2);
    assert_int_equal(x.ids[1], 3);
    x.n = 0;
    pd_region_tree_scan(&t, cm_slice_cstr(""), cm_slice_cstr(""), 0, ids_cb, &x);
    assert_int_equal(x.n, 5);
    x.n = 0;
    pd_region_tree_scan(&t, cm_slice_cstr("a"), cm_slice_cstr(""), 2, ids_cb, &x);
    assert_int_equal(x.n, 2);
    x.n = 0;
    pd_region_tree_scan(&t, cm_slice_cstr("h"), cm_slice_cstr("i"), 0, ids_cb, &x);
    assert_int_equal(x.n, 1);
    assert_int_equal(x.ids[0], 5);
    pd_region_tree_fini(&t);
}

static void test_stale_lower_version(void **state)
{
    (void)state;
    pd_region_tree t;
    assert_int_equal(pd_region_tree_init(&t), 0);
    pd_region r;
    /* Region 1 [a, z) splits: PD learns [a, m) v2 from region 1 and [m, z) v2 from region 2. */
    mk(&r, 1, "a", "z", 1, 1);
    put_checked(&t, &r);
    mk(&r, 1, "a", "m", 1, 2);
    assert_int_equal(put_checked(&t, &r), PD_REGION_NEWER);
    assert_int_equal(route(&t, "q"), 0); /* the right half is unknown until region 2 reports */
    mk(&r, 2, "m", "z", 1, 2);
    assert_int_equal(put_checked(&t, &r), PD_REGION_NEWER);
    /* A late report of the parent (version 1) overlaps both children: stale. */
    mk(&r, 1, "a", "z", 1, 1);
    cm_err err;
    assert_int_equal(pd_region_tree_check(&t, &r, &err), PD_REGION_STALE);
    assert_int_equal(err.code, CM_E_STALE_EPOCH);
    assert_non_null(strstr(err.msg, "stale"));
    pd_region_fini(&r);
    assert_int_equal(route(&t, "b"), 1);
    assert_int_equal(route(&t, "q"), 2);
    assert_int_equal(
        cm_slice_cmp(cm_buf_slice(&pd_region_tree_by_id(&t, 1)->end_key), cm_slice_cstr("m")), 0);
    /* A stale report of another id overlapping only region 2 is stale too. */
    mk(&r, 9, "n", "o", 5, 1);
    assert_int_equal(put_checked(&t, &r), PD_REGION_STALE);
    assert_int_equal(route(&t, "n"), 2);
    pd_region_tree_fini(&t);
}

static void test_stale_lower_conf_ver_higher_version(void **state)
{
    (void)state;
    pd_region_tree t;
    assert_int_equal(pd_region_tree_init(&t), 0);
    pd_region r;
    mk(&r, 1, "a", "z", 5, 3);
    put_checked(&t, &r);
    /* Higher version but lower conf_ver: stale, never replaces. */
    mk(&r, 1, "a", "k", 4, 9);
    assert_int_equal(put_checked(&t, &r), PD_REGION_STALE);
    /* Same against a different overlapping region id. */
    mk(&r, 7, "b", "c", 4, 9);
    assert_int_equal(put_checked(&t, &r), PD_REGION_STALE);
    const pd_region *held = pd_region_tree_by_id(&t, 1);
    assert_int_equal(held->conf_ver, 5);
    assert_int_equal(held->version, 3);
    assert_int_equal(route(&t, "x"), 1);
    assert_null(pd_region_tree_by_id(&t, 7));
    /* Equal epoch and meta: statistics only. */
    mk(&r, 1, "a", "z", 5, 3);
    r.approx_keys = 77;
    assert_int_equal(put_checked(&t, &r), PD_REGION_SAME_META);
    assert_int_equal(pd_region_tree_by_id(&t, 1)->approx_keys, 77);
    /* A membership change (conf_ver + 1, new peer list) replaces it. */
    mk(&r, 1, "a", "z", 6, 3);
    r.npeers = 2;
    r.peers[1].id = 999;
    r.peers[1].store_id = 2;
    assert_int_equal(put_checked(&t, &r), PD_REGION_NEWER);
    assert_int_equal(pd_region_tree_by_id(&t, 1)->npeers, 2);
    pd_region_tree_fini(&t);
}

static void test_newer_replaces_all_overlaps(void **state)
{
    (void)state;
    pd_region_tree t;
    assert_int_equal(pd_region_tree_init(&t), 0);
    pd_region r;
    mk(&r, 1, "a", "c", 1, 2);
    put_checked(&t, &r);
    mk(&r, 2, "c", "e", 1, 2);
    put_checked(&t, &r);
    mk(&r, 3, "e", "g", 1, 2);
    put_checked(&t, &r);
    /* A merged region [b, f) at version 3 replaces all three. */
    mk(&r, 4, "b", "f", 1, 3);
    assert_int_equal(put_checked(&t, &r), PD_REGION_NEWER);
    assert_int_equal(pd_region_tree_count(&t), 1);
    assert_int_equal(route(&t, "a"), 0);
    assert_int_equal(route(&t, "b"), 4);
    assert_int_equal(route(&t, "e"), 4);
    assert_int_equal(route(&t, "f"), 0);
    pd_region_tree_fini(&t);
}

static void test_validate(void **state)
{
    (void)state;
    pd_region r;
    cm_err err;
    mk(&r, 1, "b", "a", 1, 1);
    assert_int_equal(pd_region_validate(&r, &err), CM_E_INVALID);
    pd_region_fini(&r);
    mk(&r, 1, "a", "", 1, 1);
    assert_int_equal(pd_region_validate(&r, &err), 0);
    r.leader.id = 5; /* not a peer */
    r.leader.store_id = 1;
    assert_int_equal(pd_region_validate(&r, &err), CM_E_INVALID);
    r.leader = r.peers[0];
    assert_int_equal(pd_region_validate(&r, &err), 0);
    r.npeers = 2;
    r.peers[1] = r.peers[0]; /* duplicate */
    assert_int_equal(pd_region_validate(&r, &err), CM_E_INVALID);
    r.npeers = PD_REGION_PEERS_MAX + 1;
    assert_int_equal(pd_region_validate(&r, &err), CM_E_INVALID);
    r.npeers = 1;
    r.id = 0;
    assert_int_equal(pd_region_validate(&r, &err), CM_E_INVALID);
    pd_region_fini(&r);
}

/* ---- randomized comparison with a brute-force model ------------------------------------ */

typedef struct model_region {
    uint64_t id;
    int start, end; /* end -1: +inf */
    uint64_t conf_ver, version;
    int live;
} model_region;

static int overlaps(int s1, int e1, int s2, int e2)
{
    int a = (e2 < 0 || s1 < e2);
    int b = (e1 < 0 || s2 < e1);
    return a && b;
}

static void key_of(int k, char *buf)
{
    snprintf(buf, 8, "k%04d", k);
}

static void test_random_against_model(void **state)
{
    (void)state;
    enum { MAXM = 4096, KEYS = 200 };
    model_region *m = calloc(MAXM, sizeof(*m));
    assert_non_null(m);
    int nm = 0;
    pd_region_tree t;
    assert_int_equal(pd_region_tree_init(&t), 0);
    uint64_t seed = 7;
    int stale = 0, newer = 0;
    for (int step = 0; step < 3000; step++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t x = (uint32_t)(seed >> 33);
        int s = (int)(x % KEYS);
        int len = 1 + (int)((x >> 8) % 40);
        int e = (x >> 20) % 10 == 0 ? -1 : (s + len < KEYS ? s + len : -1);
        uint64_t id = 1 + (x >> 12) % 60;
        uint64_t cv = 1 + (x >> 3) % 4, ver = 1 + (uint64_t)step / 50 + (x >> 5) % 3;
        /* Model verdict. */
        int is_stale = 0;
        for (int i = 0; i < nm; i++) {
            if (!m[i].live || !(m[i].id == id || overlaps(s, e, m[i].start, m[i].end))) {
                continue;
            }
            if (ver < m[i].version || cv < m[i].conf_ver) {
                is_stale = 1;
            }
        }
        char sk[8], ek[8];
        key_of(s, sk);
        if (e >= 0) {
            key_of(e, ek);
        } else {
            ek[0] = '\0';
        }
        pd_region r;
        mk(&r, id, sk, ek, cv, ver);
        int v = put_checked(&t, &r);
        assert_int_equal(v == PD_REGION_STALE, is_stale);
        if (!is_stale) {
            newer++;
            for (int i = 0; i < nm; i++) {
                if (m[i].live && (m[i].id == id || overlaps(s, e, m[i].start, m[i].end))) {
                    m[i].live = 0;
                }
            }
            assert_true(nm < MAXM);
            m[nm++] = (model_region){id, s, e, cv, ver, 1};
        } else {
            stale++;
        }
        /* Compare routing for every key, and the counts. */
        size_t live = 0;
        for (int i = 0; i < nm; i++) {
            live += (size_t)m[i].live;
        }
        assert_int_equal(pd_region_tree_count(&t), live);
        for (int k = 0; k < KEYS + 5; k += 3) {
            uint64_t want = 0;
            for (int i = 0; i < nm; i++) {
                if (m[i].live && k >= m[i].start && (m[i].end < 0 || k < m[i].end)) {
                    want = m[i].id;
                }
            }
            char kb[8];
            key_of(k, kb);
            assert_int_equal(route(&t, kb), want);
        }
    }
    assert_true(stale > 100);
    assert_true(newer > 100);
    pd_region_tree_fini(&t);
    free(m);
}

int main(void)
{
    cm_log_set_level(CM_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_by_key_and_id),
        cmocka_unit_test(test_scan),
        cmocka_unit_test(test_stale_lower_version),
        cmocka_unit_test(test_stale_lower_conf_ver_higher_version),
        cmocka_unit_test(test_newer_replaces_all_overlaps),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_random_against_model),
    };
    return cmocka_run_group_tests_name("pd_region", tests, NULL, NULL);
}
