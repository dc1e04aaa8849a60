/* Unit tests of the schema lease's pure parts (sql_cat_sync.h): lease arithmetic, the registry
 * value, option defaults and clamps. The publisher, the sync wait and the lease gate against a
 * real cluster are in testsuite/e2e/schema_sync. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sql_cat_sync.h"

#include <string.h>

static void test_lease_valid(void **state)
{
    (void)state;
    /* never confirmed: no lease */
    assert_false(sql_cat_lease_valid(0, 5, 1000));
    /* within the lease, up to one millisecond before its end */
    assert_true(sql_cat_lease_valid(100, 100, 1000));
    assert_true(sql_cat_lease_valid(100, 1099, 1000));
    /* exactly one lease after the confirmation: gone (a confirmation counts from before the
     * read, so the node stops trusting its schema no later than a lease after it knew it) */
    assert_false(sql_cat_lease_valid(100, 1100, 1000));
    assert_false(sql_cat_lease_valid(100, 100000, 1000));
    /* a confirmation from the future (clock misuse) is not trusted */
    assert_false(sql_cat_lease_valid(2000, 1000, 1000));
    /* 45 s default */
    assert_true(sql_cat_lease_valid(1, 45000, 45000));
    assert_false(sql_cat_lease_valid(1, 45001, 45000));
}

static void test_value_roundtrip(void **state)
{
    (void)state;
    cm_buf b = CM_BUF_INIT;
    assert_int_equal(sql_cat_sync_value_encode(0x0102030405060708ull, "127.0.0.1:4000", &b), 0);
    assert_int_equal(b.len, 8 + 14);
    assert_int_equal(b.ptr[0], 0x08); /* little-endian */
    assert_int_equal(b.ptr[7], 0x01);
    uint64_t v = 0;
    cm_slice addr;
    assert_int_equal(sql_cat_sync_value_decode(cm_buf_slice(&b), &v, &addr), 0);
    assert_true(v == 0x0102030405060708ull);
    assert_int_equal(addr.len, 14);
    assert_memory_equal(addr.ptr, "127.0.0.1:4000", 14);
    /* no address */
    cm_buf_reset(&b);
    assert_int_equal(sql_cat_sync_value_encode(7, "", &b), 0);
    assert_int_equal(b.len, 8);
    assert_int_equal(sql_cat_sync_value_decode(cm_buf_slice(&b), &v, NULL), 0);
    assert_int_equal(v, 7);
    /* every truncation below 8 bytes is refused */
    for (size_t n = 0; n < 8; n++) {
        assert_int_equal(sql_cat_sync_value_decode(cm_slice_make(b.ptr, n), &v, &addr),
                         CM_E_CORRUPT);
    }
    cm_buf_fini(&b);
}

static void test_options(void **state)
{
    (void)state;
    sql_cat_options o;
    sql_cat_options_default(&o);
    assert_int_equal(o.lease_ms, 45000);
    assert_int_equal(o.poll_ms, 100);
    assert_int_equal(o.backfill_workers, 4);
    assert_int_equal(o.backfill_batch_rows, 1024);
    assert_false(o.no_ddl_worker);
    sql_cat_options_fix(&o);
    assert_int_equal(o.owner_ttl_ms, 10000); /* min(lease, 10 s) */
    assert_int_equal(o.poll_ms, 100);
    /* a 1 s lease: poll at most every 250 ms, the owner's lease 1 s */
    sql_cat_options_default(&o);
    o.lease_ms = 1000;
    o.poll_ms = 1000;
    sql_cat_options_fix(&o);
    assert_int_equal(o.poll_ms, 250);
    assert_int_equal(o.owner_ttl_ms, 1000);
    /* 2 s lease, default poll */
    sql_cat_options_default(&o);
    o.lease_ms = 2000;
    sql_cat_options_fix(&o);
    assert_int_equal(o.poll_ms, 100);
    assert_int_equal(o.owner_ttl_ms, 2000);
    /* below the minimum lease: raised; zeros: defaults; explicit values kept */
    memset(&o, 0, sizeof(o));
    o.lease_ms = 10;
    o.owner_ttl_ms = 3000;
    o.backfill_workers = 9;
    sql_cat_options_fix(&o);
    assert_int_equal(o.lease_ms, 1000);
    assert_int_equal(o.owner_ttl_ms, 3000);
    assert_int_equal(o.backfill_workers, 9);
    assert_int_equal(o.backfill_batch_rows, 1024);
    assert_int_equal(o.autoid_step, 1000);
    assert_int_equal(o.poll_ms, 100 < 250 ? 100 : 250);
    memset(&o, 0, sizeof(o));
    sql_cat_options_fix(&o);
    assert_int_equal(o.lease_ms, 45000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lease_valid),
        cmocka_unit_test(test_value_roundtrip),
        cmocka_unit_test(test_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
