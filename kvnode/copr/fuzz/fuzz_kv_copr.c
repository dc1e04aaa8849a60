/*
 * fuzz_kv_copr.c — libFuzzer target for the kvnode's coprocessor executor: the input is a plan
 * (CoprocessorRequest.data, tp 2) run over a memory engine holding rows of table 7 (integers,
 * strings, decimals, doubles, NULLs, absent columns) and a non-unique index over them. Plan
 * decoding, expression decoding and evaluation, aggregation, TopN and paging all see arbitrary
 * plans: bad input must give an error, never a crash, a hang or a leak.
 */
#include "kv_copr.h"
#include "kv_memengine.h"
#include "kv_txn.h"

#include "cm_keys.h"
#include "cm_row.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static kv_engine *eng;

static void put(cm_slice key, cm_slice value, uint64_t ts)
{
    kv_mutation m = {KV_MUT_PUT, key, value};
    kv_prewrite_req pr = {&m, 1, key, ts, 3000, 1};
    for (int phase = 0; phase < 2; phase++) {
        kv_snapshot *snap = NULL;
        if (kv_engine_snapshot(eng, &snap, NULL) != 0) {
            return;
        }
        kv_batch b;
        kv_batch_init(&b);
        cm_arena a;
        cm_arena_init(&a, 4096);
        kv_txn_out out;
        kv_txn_out_init(&out, &b, &a);
        int rc = phase == 0 ? kv_txn_prewrite(snap, &pr, &out, NULL)
                            : kv_txn_commit(snap, &key, 1, ts, ts + 1, &out, NULL);
        kv_snapshot_release(snap);
        if (rc == 0) {
            kv_engine_write(eng, &b, false, NULL);
        }
        kv_batch_fini(&b);
        cm_arena_fini(&a);
    }
}

static void load(void)
{
    if (kv_memengine_open(&eng, NULL) != 0) {
        return;
    }
    cm_buf key = CM_BUF_INIT, row = CM_BUF_INIT;
    for (int64_t h = 0; h < 40; h++) {
        char s[16];
        snprintf(s, sizeof(s), "s%d  ", (int)(h % 4));
        cm_decimal d;
        cm_decimal_from_int64(h * 7 - 100, &d);
        cm_row_cell cells[5] = {{1, cm_datum_int64(h - 20)},
                                {2, cm_datum_string(cm_slice_make(s, strlen(s)))},
                                {3, cm_datum_decimal(&d)},
                                {4, cm_datum_float64((double)h / 3)},
                                {5, h % 5 == 0 ? cm_datum_null() : cm_datum_uint64((uint64_t)h)}};
        size_t n = h % 7 == 0 ? 4 : 5; /* column 5 absent in some rows */
        cm_buf_reset(&key);
        cm_buf_reset(&row);
        if (cm_keys_append_row(&key, 7, h) == 0 && cm_row_encode(&row, cells, n, NULL) == 0) {
            put(cm_buf_slice(&key), cm_buf_slice(&row), 10 + (uint64_t)h * 2);
        }
        cm_buf_reset(&key);
        bool in_key;
        if (cm_keys_append_index(&key, 7, 1, &cells[1].value, 1, false, h, &in_key, NULL) == 0) {
            put(cm_buf_slice(&key), cm_slice_make("0", 1), 200 + (uint64_t)h * 2);
        }
    }
    cm_buf_fini(&key);
    cm_buf_fini(&row);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (eng == NULL) {
        load();
    }
    if (eng == NULL || size < 1) {
        return 0;
    }
    uint32_t page = data[0] % 8; /* 0: the default page */
    cm_slice plan = cm_slice_make(data + 1, size - 1);
    cm_buf start = CM_BUF_INIT, end = CM_BUF_INIT;
    if (size > 2 && data[2] == CM_COPR_SCAN_INDEX) {
        cm_keys_index_range(7, 1, &start, &end);
    } else {
        cm_keys_rows_range(7, &start, &end);
    }
    kv_snapshot *snap = NULL;
    if (kv_engine_snapshot(eng, &snap, NULL) == 0) {
        cm_arena a;
        cm_arena_init(&a, 4096);
        kv_copr_range r = {cm_buf_slice(&start), cm_buf_slice(&end)};
        kv_copr_result out;
        cm_err err;
        for (int pages = 0; pages < 50; pages++) {
            int rc = kv_copr_handle(snap, CM_COPR_REQ_DAG, plan, &r, 1, 1000, page, &a, &out, &err);
            if (rc != 0 || !out.more) {
                break;
            }
            r.start = out.resume_key;
        }
        cm_arena_fini(&a);
        kv_snapshot_release(snap);
    }
    cm_buf_fini(&start);
    cm_buf_fini(&end);
    return 0;
}
