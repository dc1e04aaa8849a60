/* test_copr.c — unit tests of the first-cut coprocessor (kv_copr.h) on the memory engine:
 * projection, paging with a resume key, several ranges, a lock below start_ts, and malformed
 * request data answered with errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cm_keys.h"
#include "cm_row.h"
#include "kv_copr.h"
#include "kv_memengine.h"
#include "kv_txn.h"

#include <string.h>

static kv_engine *eng;

/* Writes (put or lock-only prewrite) through the Percolator functions. */
static void txn_write(int64_t handle, int64_t val, uint64_t start_ts, uint64_t commit_ts)
{
    cm_buf key = CM_BUF_INIT, row = CM_BUF_INIT;
    cm_err err;
    assert_int_equal(cm_keys_append_row(&key, 7, handle), 0);
    cm_row_cell cells[2] = {{1, cm_datum_int64(val)}, {2, cm_datum_int64(val * 2)}};
    assert_int_equal(cm_row_encode(&row, cells, 2, &err), 0);
    kv_mutation m = {KV_MUT_PUT, cm_buf_slice(&key), cm_buf_slice(&row)};
    kv_prewrite_req pr = {&m, 1, cm_buf_slice(&key), start_ts, 3000, 1};
    for (int phase = 0; phase < (commit_ts ? 2 : 1); phase++) {
        kv_snapshot *snap;
        assert_int_equal(kv_engine_snapshot(eng, &snap, &err), 0);
        kv_batch b;
        kv_batch_init(&b);
        cm_arena a;
        cm_arena_init(&a, 4096);
        kv_txn_out out;
        kv_txn_out_init(&out, &b, &a);
        cm_slice k = cm_buf_slice(&key);
        int rc = phase == 0 ? kv_txn_prewrite(snap, &pr, &out, &err)
                            : kv_txn_commit(snap, &k, 1, start_ts, commit_ts, &out, &err);
        assert_int_equal(rc, 0);
        kv_snapshot_release(snap);
        assert_int_equal(kv_engine_write(eng, &b, false, &err), 0);
        kv_batch_fini(&b);
        cm_arena_fini(&a);
    }
    cm_buf_fini(&key);
    cm_buf_fini(&row);
}

static void plan(cm_buf *p, int nsections)
{
    cm_buf_reset(p);
    cm_buf_append_u8(p, 1);
    cm_buf_append_uvarint(p, 2);
    cm_buf_append_uvarint(p, 2); /* column 2 first */
    cm_buf_append_u8(p, CM_DT_INT64);
    cm_buf_append_uvarint(p, 9); /* absent everywhere */
    cm_buf_append_u8(p, CM_DT_INT64);
    cm_buf_append_uvarint(p, (uint64_t)nsections);
    for (int i = 0; i < nsections; i++) {
        cm_buf_append_u8(p, 1);
        cm_buf_append_uvarint(p, 0);
    }
}

static int run(cm_slice data, cm_slice start, cm_slice end, uint64_t ts, uint32_t page, cm_arena *a,
               kv_copr_result *out)
{
    kv_snapshot *snap;
    cm_err err;
    assert_int_equal(kv_engine_snapshot(eng, &snap, &err), 0);
    kv_copr_range r = {start, end};
    int rc = kv_copr_handle(snap, KV_COPR_TABLE_SCAN, data, &r, 1, ts, page, a, out, &err);
    kv_snapshot_release(snap);
    return rc;
}

/* Counts rows and checks each: key handle h, column 2 = value * 2, column 9 absent. */
static size_t check_rows(cm_slice data, int64_t first)
{
    cm_reader rd;
    cm_reader_init(&rd, data.ptr, data.len);
    size_t n = 0;
    while (cm_reader_left(&rd) > 0) {
        uint64_t kl, vl;
        cm_slice k, v;
        uint8_t pr;
        assert_int_equal(cm_reader_uvarint(&rd, &kl), 0);
        assert_int_equal(cm_reader_bytes(&rd, kl, &k), 0);
        int64_t tid, h;
        cm_err err;
        assert_int_equal(cm_keys_decode_row(k, &tid, &h, &err), 0);
        assert_int_equal(h, first + (int64_t)n);
        assert_int_equal(cm_reader_u8(&rd, &pr), 0);
        assert_int_equal(pr, KV_COPR_VALUE);
        assert_int_equal(cm_reader_uvarint(&rd, &vl), 0);
        assert_int_equal(cm_reader_bytes(&rd, vl, &v), 0);
        cm_datum d;
        assert_int_equal(cm_row_value_decode(CM_DT_INT64, v, &d, &err), 0);
        assert_int_equal(d.v.i64, h * 100 * 2);
        assert_int_equal(cm_reader_u8(&rd, &pr), 0);
        assert_int_equal(pr, KV_COPR_ABSENT);
        n++;
    }
    return n;
}

static int setup(void **state)
{
    (void)state;
    cm_err err;
    assert_int_equal(kv_memengine_open(&eng, &err), 0);
    for (int64_t h = 0; h < 50; h++) {
        txn_write(h, h * 100, 10 + (uint64_t)h * 4, 12 + (uint64_t)h * 4);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kv_engine_close(eng);
    return 0;
}

static void test_scan_pages(void **state)
{
    (void)state;
    cm_buf p = CM_BUF_INIT, start = CM_BUF_INIT, end = CM_BUF_INIT;
    plan(&p, 0);
    cm_keys_rows_range(7, &start, &end);
    cm_arena a;
    cm_arena_init(&a, 4096);
    kv_copr_result out;
    size_t total = 0;
    cm_slice from = cm_buf_slice(&start);
    for (int page = 0; page < 10; page++) {
        int rc = run(cm_buf_slice(&p), from, cm_buf_slice(&end), 1000, 16, &a, &out);
        assert_int_equal(rc, 0);
        total += check_rows(out.data, (int64_t)total);
        if (!out.more) {
            break;
        }
        from = out.resume_key;
    }
    assert_int_equal(total, 50);
    /* At a timestamp between commits only the earlier rows exist. */
    assert_int_equal(
        run(cm_buf_slice(&p), cm_buf_slice(&start), cm_buf_slice(&end), 13 + 4 * 9, 0, &a, &out),
        0);
    assert_int_equal(check_rows(out.data, 0), 10);
    cm_arena_fini(&a);
    cm_buf_fini(&p);
    cm_buf_fini(&start);
    cm_buf_fini(&end);
}

static void test_lock_below_start_ts(void **state)
{
    (void)state;
    txn_write(60, 6000, 5000, 0); /* prewritten, never committed */
    cm_buf p = CM_BUF_INIT, start = CM_BUF_INIT, end = CM_BUF_INIT;
    plan(&p, 0);
    cm_keys_rows_range(7, &start, &end);
    cm_arena a;
    cm_arena_init(&a, 4096);
    kv_copr_result out;
    int rc = run(cm_buf_slice(&p), cm_buf_slice(&start), cm_buf_slice(&end), 6000, 0, &a, &out);
    assert_int_equal(rc, CM_E_KEY_IS_LOCKED);
    assert_int_equal(out.lock.start_ts, 5000);
    assert_int_equal(check_rows(out.data, 0), 50); /* the rows before the lock */
    assert_true(cm_slice_eq(out.resume_key, out.lock.key));
    /* Below the lock's start_ts the lock does not matter. */
    assert_int_equal(
        run(cm_buf_slice(&p), cm_buf_slice(&start), cm_buf_slice(&end), 4000, 0, &a, &out), 0);
    assert_int_equal(check_rows(out.data, 0), 50);
    cm_arena_fini(&a);
    cm_buf_fini(&p);
    cm_buf_fini(&start);
    cm_buf_fini(&end);
}

static void test_bad_requests(void **state)
{
    (void)state;
    cm_buf p = CM_BUF_INIT;
    cm_arena a;
    cm_arena_init(&a, 4096);
    kv_copr_result out;
    cm_slice none = cm_slice_make(NULL, 0);
    plan(&p, 1);
    assert_int_equal(run(cm_buf_slice(&p), none, none, 100, 0, &a, &out), CM_E_UNSUPPORTED);
    plan(&p, 0);
    for (size_t cut = 0; cut < p.len; cut++) { /* every truncation */
        int rc = run(cm_slice_make(p.ptr, cut), none, none, 100, 0, &a, &out);
        assert_true(rc == CM_E_INVALID);
    }
    uint8_t junk[] = {1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    assert_int_equal(run(cm_slice_make(junk, sizeof(junk)), none, none, 100, 0, &a, &out),
                     CM_E_INVALID);
    assert_int_equal(run(cm_buf_slice(&p), none, none, 0, 0, &a, &out), CM_E_INVALID);
    kv_snapshot *snap;
    cm_err err;
    assert_int_equal(kv_engine_snapshot(eng, &snap, &err), 0);
    assert_int_equal(kv_copr_handle(snap, 99, cm_buf_slice(&p), NULL, 0, 100, 0, &a, &out, &err),
                     CM_E_UNSUPPORTED);
    kv_snapshot_release(snap);
    cm_arena_fini(&a);
    cm_buf_fini(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_pages),
        cmocka_unit_test(test_lock_below_start_ts),
        cmocka_unit_test(test_bad_requests),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
