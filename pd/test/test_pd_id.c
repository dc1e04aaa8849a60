/* Unit tests for pd/id: windows persisted before use, no reuse after a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cm_log.h"
#include "pd_id.h"
#include "pd_kv.h"

static void test_sequential_and_windowed(void **state)
{
    (void)state;
    pd_kv kv;
    cm_err err;
    assert_int_equal(pd_kv_mem_open(&kv, &err), 0);
    pd_id_alloc a;
    assert_int_equal(pd_id_init(&a, &kv, 100, &err), 0);
    uint64_t id;
    assert_int_equal(pd_id_alloc_n(&a, 1, &id, &err), 0);
    assert_int_equal(id, 1);
    assert_int_equal(pd_kv_mem_sync_count(&kv), 1);
    assert_int_equal(pd_id_alloc_n(&a, 5, &id, &err), 0);
    assert_int_equal(id, 2);
    for (int i = 0; i < 94; i++) {
        assert_int_equal(pd_id_alloc_n(&a, 1, &id, &err), 0);
    }
    assert_int_equal(id, 100);
    assert_int_equal(pd_kv_mem_sync_count(&kv), 1); /* the first window covered 1..101 */
    assert_int_equal(pd_id_alloc_n(&a, 3, &id, &err), 0);
    assert_int_equal(id, 101);
    assert_int_equal(pd_kv_mem_sync_count(&kv), 2);
    assert_int_equal(pd_id_peek(&a), 104);
    assert_int_equal(pd_id_alloc_n(&a, 0, &id, &err), CM_E_INVALID);
    assert_int_equal(pd_id_alloc_n(&a, 10001, &id, &err), CM_E_INVALID);
    pd_id_fini(&a);
    pd_kv_close(&kv);
}

static void test_no_reuse_after_crash(void **state)
{
    (void)state;
    pd_kv kv;
    cm_err err;
    assert_int_equal(pd_kv_mem_open(&kv, &err), 0);
    uint64_t last = 0, id;
    for (int round = 0; round < 50; round++) {
        pd_id_alloc a;
        assert_int_equal(pd_id_init(&a, &kv, 7, &err), 0);
        for (int i = 0; i < round % 13 + 1; i++) {
            uint32_t n = (uint32_t)(i % 4 + 1);
            assert_int_equal(pd_id_alloc_n(&a, n, &id, &err), 0);
            assert_true(id > last);
            last = id + n - 1;
        }
        pd_id_fini(&a);
        pd_kv_mem_crash(&kv);
    }
    pd_kv_close(&kv);
}

static void test_persist_failure(void **state)
{
    (void)state;
    pd_kv kv;
    cm_err err;
    assert_int_equal(pd_kv_mem_open(&kv, &err), 0);
    pd_id_alloc a;
    assert_int_equal(pd_id_init(&a, &kv, 2, &err), 0);
    uint64_t id;
    pd_kv_mem_fail_writes(&kv, 1);
    assert_int_equal(pd_id_alloc_n(&a, 1, &id, &err), CM_E_IO);
    assert_int_equal(pd_id_alloc_n(&a, 1, &id, &err), 0);
    assert_int_equal(id, 1); /* nothing was handed out by the failed call */
    pd_id_fini(&a);
    pd_kv_close(&kv);
}

int main(void)
{
    cm_log_set_level(CM_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sequential_and_windowed),
        cmocka_unit_test(test_no_reuse_after_crash),
        cmocka_unit_test(test_persist_failure),
    };
    return cmocka_run_group_tests_name("pd_id", tests, NULL, NULL);
}
