/* Unit tests for pd/storage: both implementations behave alike (get/put/delete/scan, atomic
 * batches); the RocksDB one persists across reopen; the memory one loses unsynced writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cm_log.h"
#include "pd_kv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct scan_ctx {
    char seen[256];
    int n;
    int stop_after;
} scan_ctx;

static int scan_cb(void *user, cm_slice key, cm_slice value)
{
    scan_ctx *s = user;
    size_t used = strlen(s->seen);
    snprintf(s->seen + used, sizeof(s->seen) - used, "%.*s=%.*s;", (int)key.len,
             (const char *)key.ptr, (int)value.len, (const char *)value.ptr);
    s->n++;
    return s->stop_after && s->n >= s->stop_after;
}

static void exercise(pd_kv *kv)
{
    cm_err err;
    cm_buf v = CM_BUF_INIT;
    assert_int_equal(pd_kv_get(kv, cm_slice_cstr("a"), &v, &err), CM_E_NOT_FOUND);
    assert_int_equal(pd_kv_put(kv, cm_slice_cstr("b/2"), cm_slice_cstr("two"), 0, &err), 0);
    assert_int_equal(pd_kv_put(kv, cm_slice_cstr("b/1"), cm_slice_cstr("one"), 1, &err), 0);
    assert_int_equal(pd_kv_put(kv, cm_slice_cstr("c"), cm_slice_cstr("x"), 0, &err), 0);
    assert_int_equal(pd_kv_put(kv, cm_slice_cstr("a"), cm_slice_cstr("y"), 0, &err), 0);
    assert_int_equal(pd_kv_get(kv, cm_slice_cstr("b/1"), &v, &err), 0);
    assert_int_equal(v.len, 3);
    assert_memory_equal(v.ptr, "one", 3);
    scan_ctx s;
    memset(&s, 0, sizeof(s));
    assert_int_equal(pd_kv_scan(kv, cm_slice_cstr("b/"), scan_cb, &s, &err), 0);
    assert_string_equal(s.seen, "b/1=one;b/2=two;");
    memset(&s, 0, sizeof(s));
    s.stop_after = 1;
    assert_int_equal(pd_kv_scan(kv, cm_slice_cstr(""), scan_cb, &s, &err), 0);
    assert_string_equal(s.seen, "a=y;");
    /* A batch is applied whole. */
    pd_kv_op ops[2] = {{PD_KV_DEL, cm_slice_cstr("b/1"), cm_slice_make(NULL, 0)},
                       {PD_KV_PUT, cm_slice_cstr("b/3"), cm_slice_cstr("three")}};
    assert_int_equal(pd_kv_write(kv, ops, 2, 1, &err), 0);
    memset(&s, 0, sizeof(s));
    assert_int_equal(pd_kv_scan(kv, cm_slice_cstr("b/"), scan_cb, &s, &err), 0);
    assert_string_equal(s.seen, "b/2=two;b/3=three;");
    uint64_t u = 0;
    assert_int_equal(pd_kv_put_u64(kv, "n", 0x0102030405060708ull, 1, &err), 0);
    assert_int_equal(pd_kv_get_u64(kv, "n", &u, &err), 0);
    assert_true(u == 0x0102030405060708ull);
    assert_int_equal(pd_kv_get_u64(kv, "c", &u, &err), CM_E_CORRUPT);
    assert_int_equal(pd_kv_get_u64(kv, "zz", &u, &err), CM_E_NOT_FOUND);
    cm_buf_fini(&v);
}

static void test_mem(void **state)
{
    (void)state;
    pd_kv kv;
    cm_err err;
    assert_int_equal(pd_kv_mem_open(&kv, &err), 0);
    exercise(&kv);
    pd_kv_close(&kv);
}

static void test_mem_crash_keeps_only_synced(void **state)
{
    (void)state;
    pd_kv kv;
    cm_err err;
    assert_int_equal(pd_kv_mem_open(&kv, &err), 0);
    assert_int_equal(pd_kv_put(&kv, cm_slice_cstr("a"), cm_slice_cstr("1"), 0, &err), 0);
    assert_int_equal(pd_kv_put(&kv, cm_slice_cstr("b"), cm_slice_cstr("2"), 1, &err), 0);
    assert_int_equal(pd_kv_put(&kv, cm_slice_cstr("c"), cm_slice_cstr("3"), 0, &err), 0);
    pd_kv_mem_crash(&kv);
    cm_buf v = CM_BUF_INIT;
    /* "a" was made durable by the later synced write of "b", as a WAL fsync would. */
    assert_int_equal(pd_kv_get(&kv, cm_slice_cstr("a"), &v, &err), 0);
    assert_int_equal(pd_kv_get(&kv, cm_slice_cstr("b"), &v, &err), 0);
    assert_int_equal(pd_kv_get(&kv, cm_slice_cstr("c"), &v, &err), CM_E_NOT_FOUND);
    pd_kv_mem_fail_writes(&kv, 1);
    assert_int_equal(pd_kv_put(&kv, cm_slice_cstr("d"), cm_slice_cstr("4"), 1, &err), CM_E_IO);
    assert_int_equal(pd_kv_get(&kv, cm_slice_cstr("d"), &v, &err), CM_E_NOT_FOUND);
    cm_buf_fini(&v);
    pd_kv_close(&kv);
}

static void test_rocks(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_pd_kv_XXXXXX";
    assert_non_null(mkdtemp(dir));
    pd_kv kv;
    cm_err err;
    assert_int_equal(pd_kv_rocks_open(dir, &kv, &err), 0);
    exercise(&kv);
    pd_kv_close(&kv);
    /* Reopen: the data is still there. */
    assert_int_equal(pd_kv_rocks_open(dir, &kv, &err), 0);
    uint64_t u = 0;
    assert_int_equal(pd_kv_get_u64(&kv, "n", &u, &err), 0);
    assert_true(u == 0x0102030405060708ull);
    pd_kv_close(&kv);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    /* A path that cannot be created is an error, not a crash. */
    assert_int_equal(pd_kv_rocks_open("/proc/no/such/dir", &kv, &err), CM_E_IO);
}

int main(void)
{
    cm_log_set_level(CM_LOG_OFF);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mem),
        cmocka_unit_test(test_mem_crash_keeps_only_synced),
        cmocka_unit_test(test_rocks),
    };
    return cmocka_run_group_tests_name("pd_kv", tests, NULL, NULL);
}
