/*
 * fuzz_kv_records.c — libFuzzer target for what the kvnode decodes from storage and from Raft:
 * lock and write records, MVCC keys and write batches. Beyond the decoders, input that loads as
 * a write batch is applied to a fresh memory engine (arbitrary bytes in the lock, write and
 * default column families) and the reads, the Percolator actions and GC run over it: corrupt
 * storage must give errors, never a crash, a hang or a leak.
 */
#include "kv_batch.h"
#include "kv_engine.h"
#include "kv_gc.h"
#include "kv_memengine.h"
#include "kv_mvcc.h"
#include "kv_txn.h"

#include "cm_keys.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void run_over_engine(const kv_batch *b)
{
    kv_engine *e = NULL;
    if (kv_memengine_open(&e, NULL) != 0) {
        return;
    }
    kv_snapshot *s = NULL;
    if (kv_engine_write(e, b, false, NULL) == 0 && kv_engine_snapshot(e, &s, NULL) == 0) {
        cm_arena a;
        cm_arena_init(&a, 0);
        kv_read_result r;
        kv_scan_req fwd = {
            cm_slice_make("", 0), cm_slice_make("", 0), UINT64_MAX - 1, 50, false, false};
        kv_mvcc_scan(s, &fwd, &a, &r, NULL);
        kv_scan_req rev = fwd;
        rev.reverse = true;
        kv_mvcc_scan(s, &rev, &a, &r, NULL);
        /* Point operations on the keys the scans walked over and on a fixed one. */
        cm_slice keys[2] = {cm_slice_make("k", 1), cm_slice_make("\0", 1)};
        kv_mvcc_batch_get(s, keys, 2, 1000, &a, &r, NULL);
        kv_batch out_b;
        kv_batch_init(&out_b);
        kv_txn_out out;
        kv_txn_out_init(&out, &out_b, &a);
        kv_mutation m = {KV_MUT_PUT, keys[0], cm_slice_make("v", 1)};
        kv_prewrite_req pw = {&m, 1, keys[0], 500, 10, 1};
        kv_txn_prewrite(s, &pw, &out, NULL);
        kv_txn_commit(s, keys, 2, 500, 600, &out, NULL);
        kv_txn_rollback(s, keys, 2, 700, &out, NULL);
        kv_txn_status st;
        kv_txn_check_status(s, keys[0], 500, UINT64_MAX, true, &out, &st, NULL);
        kv_locks_result lr;
        kv_scan_locks_req sl = {cm_slice_make("", 0), cm_slice_make("", 0), UINT64_MAX, 0, 0};
        kv_txn_scan_locks(s, &sl, &a, &lr, NULL);
        kv_gc_result g;
        kv_gc_req gr = {UINT64_MAX - 1, cm_slice_make("", 0), cm_slice_make("", 0), 0, 0};
        kv_gc(s, &gr, &out_b, &a, &g, NULL);
        kv_batch_fini(&out_b);
        cm_arena_fini(&a);
        kv_snapshot_release(s);
    }
    kv_engine_close(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cm_slice in = cm_slice_make(data, size);
    kv_lock l;
    if (kv_lock_decode(in, &l, NULL) == 0) {
        /* What decodes must encode back to the same bytes (the format is canonical). */
        cm_buf b = CM_BUF_INIT;
        if (kv_lock_encode(&l, &b) == 0 && !cm_slice_eq(cm_buf_slice(&b), in)) {
            __builtin_trap();
        }
        cm_buf_fini(&b);
    }
    kv_write w;
    if (kv_write_decode(in, &w, NULL) == 0) {
        cm_buf b = CM_BUF_INIT;
        if (kv_write_encode(&w, &b) == 0 && !cm_slice_eq(cm_buf_slice(&b), in)) {
            __builtin_trap();
        }
        cm_buf_fini(&b);
    }
    cm_slice user;
    uint64_t ts;
    if (size > 0) {
        cm_keys_split_mvcc(in, &user, &ts, NULL);
    }
    kv_batch batch;
    kv_batch_init(&batch);
    if (kv_batch_load(&batch, in, NULL) == 0) {
        kv_batch_cursor c;
        kv_batch_entry e;
        size_t n = 0;
        kv_batch_iter(&batch, &c);
        while (kv_batch_next(&c, &e)) {
            n++;
        }
        if (n != kv_batch_count(&batch)) {
            __builtin_trap();
        }
        run_over_engine(&batch);
    }
    kv_batch_fini(&batch);
    return 0;
}
