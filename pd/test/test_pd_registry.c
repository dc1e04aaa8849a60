/* Unit tests for pd/registry: election leases and terms, the TTL map, persistence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cm_log.h"
#include "pd_registry.h"

#include <stdio.h>
#include <string.h>

static void test_election_lease(void **state)
{
    (void)state;
    pd_kv kv;
    cm_err err;
    assert_int_equal(pd_kv_mem_open(&kv, &err), 0);
    pd_registry r;
    assert_int_equal(pd_registry_open(&r, &kv, 0, &err), 0);
    pd_lease_info li;
    assert_int_equal(pd_registry_campaign(&r, "ddl", "sql-1", 1000, 0, &li, &err), 0);
    assert_true(li.granted);
    assert_string_equal(li.owner, "sql-1");
    assert_int_equal(li.term, 1);
    /* Another candidate loses while the lease runs. */
    assert_int_equal(pd_registry_campaign(&r, "ddl", "sql-2", 1000, 500, &li, &err), 0);
    assert_false(li.granted);
    assert_string_equal(li.owner, "sql-1");
    assert_int_equal(li.ttl_left_ms, 500);
    /* The holder renews. */
    uint64_t left = 0;
    assert_int_equal(pd_registry_renew(&r, "ddl", "sql-1", 1, 1000, 900, &left, &err), 0);
    assert_int_equal(left, 1000);
    assert_int_equal(pd_registry_campaign(&r, "ddl", "sql-2", 1000, 1800, &li, &err), 0);
    assert_false(li.granted);
    /* The lease expires; sql-2 wins with a new term; sql-1's renew fails. */
    assert_int_equal(pd_registry_campaign(&r, "ddl", "sql-2", 1000, 1900, &li, &err), 0);
    assert_true(li.granted);
    assert_int_equal(li.term, 2);
    assert_int_equal(pd_registry_renew(&r, "ddl", "sql-1", 1, 1000, 1901, &left, &err),
                     CM_E_NOT_FOUND);
    /* A renew naming an old term fails even for the right candidate. */
    assert_int_equal(pd_registry_renew(&r, "ddl", "sql-2", 1, 1000, 1901, &left, &err),
                     CM_E_NOT_FOUND);
    /* Resign frees it at once; terms keep growing. */
    assert_int_equal(pd_registry_resign(&r, "ddl", "sql-1", 2, 1902, &err), CM_E_NOT_FOUND);
    assert_int_equal(pd_registry_resign(&r, "ddl", "sql-2", 2, 1902, &err), 0);
    assert_int_equal(pd_registry_owner(&r, "ddl", 1903, &li, &err), 0);
    assert_string_equal(li.owner, "");
    assert_int_equal(pd_registry_campaign(&r, "ddl", "sql-1", 1000, 1904, &li, &err), 0);
    assert_true(li.granted);
    assert_int_equal(li.term, 3);
    /* Bad input. */
    assert_int_equal(pd_registry_campaign(&r, "", "x", 1000, 0, &li, &err), CM_E_INVALID);
    assert_int_equal(pd_registry_campaign(&r, "e", "", 1000, 0, &li, &err), CM_E_INVALID);
    assert_int_equal(pd_registry_campaign(&r, "e", "x", 0, 0, &li, &err), CM_E_INVALID);
    pd_registry_close(&r);
    pd_kv_close(&kv);
}

static void test_election_survives_crash(void **state)
{
    (void)state;
    pd_kv kv;
    cm_err err;
    assert_int_equal(pd_kv_mem_open(&kv, &err), 0);
    pd_registry r;
    assert_int_equal(pd_registry_open(&r, &kv, 0, &err), 0);
    pd_lease_info li;
    assert_int_equal(pd_registry_campaign(&r, "ddl", "a", 1000, 0, &li, &err), 0);
    assert_int_equal(pd_registry_campaign(&r, "ddl", "b", 1000, 5000, &li, &err), 0);
    assert_int_equal(li.term, 2);
    pd_registry_close(&r);
    pd_kv_mem_crash(&kv);
    /* After the restart the holder keeps its lease (a full TTL from the restart) and the term. */
    assert_int_equal(pd_registry_open(&r, &kv, 100, &err), 0);
    assert_int_equal(pd_registry_owner(&r, "ddl", 100, &li, &err), 0);
    assert_string_equal(li.owner, "b");
    assert_int_equal(li.term, 2);
    assert_int_equal(li.ttl_left_ms, 1000);
    assert_int_equal(pd_registry_campaign(&r, "ddl", "c", 1000, 1200, &li, &err), 0);
    assert_int_equal(li.term, 3);
    pd_registry_close(&r);
    pd_kv_close(&kv);
}

typedef struct list_ctx {
    char out[512];
} list_ctx;

static int list_cb(void *user, const char *key, cm_slice value, uint64_t ttl_left_ms)
{
    list_ctx *l = user;
    size_t used = strlen(l->out);
    snprintf(l->out + used, sizeof(l->out) - used, "%s=%.*s/%llu;", key, (int)value.len,
             (const char *)value.ptr, (unsigned long long)ttl_left_ms);
    return 0;
}

static void test_ttl_map(void **state)
{
    (void)state;
    pd_kv kv;
    cm_err err;
    assert_int_equal(pd_kv_mem_open(&kv, &err), 0);
    pd_registry r;
    assert_int_equal(pd_registry_open(&r, &kv, 0, &err), 0);
    assert_int_equal(pd_registry_put(&r, "schema/sql-2", cm_slice_cstr("7"), 1000, 0, &err), 0);
    assert_int_equal(pd_registry_put(&r, "schema/sql-1", cm_slice_cstr("8"), 2000, 0, &err), 0);
    assert_int_equal(pd_registry_put(&r, "other", cm_slice_cstr("x"), 0, 0, &err), 0);
    list_ctx l;
    memset(&l, 0, sizeof(l));
    pd_registry_list(&r, "schema/", 0, 500, list_cb, &l);
    assert_string_equal(l.out, "schema/sql-1=8/1500;schema/sql-2=7/500;");
    /* sql-2 expires; sql-1 refreshes. */
    int syncs = pd_kv_mem_sync_count(&kv);
    assert_int_equal(pd_registry_put(&r, "schema/sql-1", cm_slice_cstr("8"), 2000, 1500, &err), 0);
    assert_int_equal(pd_kv_mem_sync_count(&kv), syncs); /* an unchanged refresh writes nothing */
    memset(&l, 0, sizeof(l));
    pd_registry_list(&r, "schema/", 0, 1000, list_cb, &l);
    assert_string_equal(l.out, "schema/sql-1=8/2500;");
    cm_buf v = CM_BUF_INIT;
    uint64_t left;
    assert_int_equal(pd_registry_get(&r, "schema/sql-2", 1000, &v, &left, &err), CM_E_NOT_FOUND);
    assert_int_equal(pd_registry_get(&r, "other", 99999999, &v, &left, &err), 0);
    assert_int_equal(left, 0);
    assert_int_equal(pd_registry_expire(&r, 1000), 1);
    assert_int_equal(pd_registry_count(&r), 2);
    int deleted;
    assert_int_equal(pd_registry_delete(&r, "other", &deleted, &err), 0);
    assert_true(deleted);
    assert_int_equal(pd_registry_delete(&r, "other", &deleted, &err), 0);
    assert_false(deleted);
    /* Persisted: after a crash the entry is back with a full TTL. */
    pd_registry_close(&r);
    pd_kv_mem_crash(&kv);
    assert_int_equal(pd_registry_open(&r, &kv, 10000, &err), 0);
    cm_buf_reset(&v);
    assert_int_equal(pd_registry_get(&r, "schema/sql-1", 10000, &v, &left, &err), 0);
    assert_int_equal(left, 2000);
    assert_memory_equal(v.ptr, "8", 1);
    assert_int_equal(pd_registry_get(&r, "other", 10000, &v, &left, &err), CM_E_NOT_FOUND);
    /* Limits. */
    char big[PD_REGISTRY_KEY_BYTES_MAX + 2];
    memset(big, 'k', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(pd_registry_put(&r, big, cm_slice_cstr("1"), 0, 0, &err), CM_E_INVALID);
    assert_int_equal(
        pd_registry_put(&r, "k", cm_slice_make(big, 0), PD_REGISTRY_TTL_MS_MAX + 1, 0, &err),
        CM_E_INVALID);
    cm_buf_fini(&v);
    pd_registry_close(&r);
    pd_kv_close(&kv);
}

int main(void)
{
    cm_log_set_level(CM_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_election_lease),
        cmocka_unit_test(test_election_survives_crash),
        cmocka_unit_test(test_ttl_map),
    };
    return cmocka_run_group_tests_name("pd_registry", tests, NULL, NULL);
}
