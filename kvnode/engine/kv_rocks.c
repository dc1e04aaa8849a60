/*
 * kv_rocks.c — the RocksDB engine over RocksDB's C API (rocksdb/c.h, librocksdb 7.8).
 *
 * Notes on the C API that shape this file:
 * - Iterator bounds are held by the read options as pointers to our bytes, so every iterator
 *   owns its read options and the bound copies kept in its kv_iter base.
 * - rocksdb_approximate_sizes_cf counts SST files only; data still in memtables (all of it, for
 *   a small or young store) is counted by iterating the memtables alone (read tier
 *   kMemtableTier), which costs time proportional to the range's memtable entries.
 * - A crash is simulated by closing the database without a flush and reopening it: what the WAL
 *   holds comes back, which includes at least every synced write.
 */
#include "kv_rocks.h"

#include "kv_engine_int.h"

#include "cm_assert.h"
#include "cm_limits.h"

#include <rocksdb/c.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* RocksDB's ReadTier kMemtableTier (include/rocksdb/options.h), not named in the C header. */
#define ROCKS_READ_TIER_MEMTABLE 3

typedef struct rocks_engine {
    kv_engine base;
    char *path; /* owned */
    rocksdb_options_t *opts;
    rocksdb_block_based_table_options_t *table_opts;
    rocksdb_cache_t *cache;
    rocksdb_t *db; /* NULL after a failed reopen */
    rocksdb_column_family_handle_t *cfs[KV_CF_COUNT];
    rocksdb_writeoptions_t *wo_sync;
    rocksdb_writeoptions_t *wo_nosync;
    rocksdb_readoptions_t *ro; /* latest state */
} rocks_engine;

typedef struct rocks_snap {
    kv_snapshot base;
    const rocksdb_snapshot_t *snap;
    rocksdb_readoptions_t *ro;
} rocks_snap;

typedef struct rocks_iter {
    kv_iter base;
    rocksdb_readoptions_t *ro;
    rocksdb_iterator_t *it;
} rocks_iter;

static const char *const cf_rocks_names[KV_CF_COUNT] = {"default", "lock", "write", "raft"};

static rocks_engine *re(kv_engine *e)
{
    return (rocks_engine *)e;
}

/* Turns a RocksDB error string (freed here) into a cm_err. */
static int rocks_err(cm_err *err, int code, const char *what, char *msg)
{
    cm_err_set(err, code, "rocksdb: %s: %s", what, msg ? msg : "?");
    rocksdb_free(msg);
    return code;
}

static int closed_err(cm_err *err)
{
    return cm_err_set(err, CM_E_CLOSED, "rocksdb: the database is closed after a failed reopen");
}

static void close_db(rocks_engine *r)
{
    if (r->db == NULL) {
        return;
    }
    for (int cf = 0; cf < KV_CF_COUNT; cf++) {
        if (r->cfs[cf] != NULL) {
            rocksdb_column_family_handle_destroy(r->cfs[cf]);
            r->cfs[cf] = NULL;
        }
    }
    rocksdb_close(r->db);
    r->db = NULL;
}

static int open_db(rocks_engine *r, cm_err *err)
{
    const rocksdb_options_t *cf_opts[KV_CF_COUNT];
    for (int cf = 0; cf < KV_CF_COUNT; cf++) {
        cf_opts[cf] = r->opts;
    }
    char *msg = NULL;
    r->db = rocksdb_open_column_families(r->opts, r->path, KV_CF_COUNT, cf_rocks_names, cf_opts,
                                         r->cfs, &msg);
    if (msg != NULL) {
        r->db = NULL;
        return rocks_err(err, CM_E_IO, r->path, msg);
    }
    return 0;
}

static void rocks_free(rocks_engine *r)
{
    close_db(r);
    if (r->ro) {
        rocksdb_readoptions_destroy(r->ro);
    }
    if (r->wo_sync) {
        rocksdb_writeoptions_destroy(r->wo_sync);
    }
    if (r->wo_nosync) {
        rocksdb_writeoptions_destroy(r->wo_nosync);
    }
    if (r->opts) {
        rocksdb_options_destroy(r->opts);
    }
    if (r->table_opts) {
        rocksdb_block_based_options_destroy(r->table_opts);
    }
    if (r->cache) {
        rocksdb_cache_destroy(r->cache);
    }
    free(r->path);
    kv_engine_base_fini(&r->base);
    free(r);
}

static void rocks_close(kv_engine *e)
{
    rocks_free(re(e));
}

static int rocks_get_ro(rocks_engine *r, const rocksdb_readoptions_t *ro, kv_cf cf, cm_slice key,
                        cm_buf *value, cm_err *err)
{
    if (r->db == NULL) {
        return closed_err(err);
    }
    char *msg = NULL;
    rocksdb_pinnableslice_t *p =
        rocksdb_get_pinned_cf(r->db, ro, r->cfs[cf], (const char *)key.ptr, key.len, &msg);
    if (msg != NULL) {
        return rocks_err(err, CM_E_IO, "get", msg);
    }
    if (p == NULL) {
        return CM_E_NOT_FOUND;
    }
    size_t n = 0;
    const char *v = rocksdb_pinnableslice_value(p, &n);
    cm_buf_reset(value);
    int rc = cm_buf_append(value, v, n);
    rocksdb_pinnableslice_destroy(p);
    if (rc != 0) {
        return cm_err_set(err, CM_E_NOMEM, "rocksdb: out of memory for a value");
    }
    return 0;
}

static int rocks_get(kv_engine *e, kv_cf cf, cm_slice key, cm_buf *value, cm_err *err)
{
    rocks_engine *r = re(e);
    return rocks_get_ro(r, r->ro, cf, key, value, err);
}

static int rocks_sync(kv_engine *e, cm_err *err)
{
    rocks_engine *r = re(e);
    if (r->db == NULL) {
        return closed_err(err);
    }
    char *msg = NULL;
    rocksdb_flush_wal(r->db, 1, &msg);
    if (msg != NULL) {
        return rocks_err(err, CM_E_IO, "sync WAL", msg);
    }
    return 0;
}

static int rocks_write(kv_engine *e, const kv_batch *batch, bool sync, cm_err *err)
{
    rocks_engine *r = re(e);
    if (r->db == NULL) {
        return closed_err(err);
    }
    if (kv_batch_count(batch) == 0) {
        /* RocksDB may skip the WAL for an empty batch; the contract says it syncs. */
        return sync ? rocks_sync(e, err) : 0;
    }
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    kv_batch_cursor cur;
    kv_batch_entry ent;
    kv_batch_iter(batch, &cur);
    while (kv_batch_next(&cur, &ent)) {
        rocksdb_column_family_handle_t *h = r->cfs[ent.cf];
        const char *k = (const char *)ent.key.ptr;
        const char *v = (const char *)ent.value.ptr;
        switch (ent.op) {
        case KV_BATCH_PUT:
            rocksdb_writebatch_put_cf(wb, h, k, ent.key.len, v, ent.value.len);
            break;
        case KV_BATCH_DELETE:
            rocksdb_writebatch_delete_cf(wb, h, k, ent.key.len);
            break;
        case KV_BATCH_DELETE_RANGE:
            rocksdb_writebatch_delete_range_cf(wb, h, k, ent.key.len, v, ent.value.len);
            break;
        }
    }
    char *msg = NULL;
    rocksdb_write(r->db, sync ? r->wo_sync : r->wo_nosync, wb, &msg);
    rocksdb_writebatch_destroy(wb);
    if (msg != NULL) {
        return rocks_err(err, CM_E_IO, "write", msg);
    }
    return 0;
}

/* SST part of the estimate: bytes from RocksDB's file index, keys from the column family's
 * average entry size. */
static int files_estimate(rocks_engine *r, kv_cf cf, cm_slice start, cm_slice end,
                          kv_range_stats *out, cm_err *err)
{
    const rocksdb_livefiles_t *lf = rocksdb_livefiles(r->db);
    if (lf == NULL) {
        return 0;
    }
    uint64_t entries = 0, size = 0;
    cm_buf largest = CM_BUF_INIT;
    int rc = 0;
    int n = rocksdb_livefiles_count(lf);
    for (int i = 0; i < n && rc == 0; i++) {
        if (strcmp(rocksdb_livefiles_column_family_name(lf, i), cf_rocks_names[cf]) != 0) {
            continue;
        }
        entries += rocksdb_livefiles_entries(lf, i);
        size += rocksdb_livefiles_size(lf, i);
        size_t klen = 0;
        const char *k = rocksdb_livefiles_largestkey(lf, i, &klen);
        if (cm_slice_cmp(cm_slice_make(k, klen), cm_buf_slice(&largest)) > 0) {
            cm_buf_reset(&largest);
            rc = cm_buf_append(&largest, k, klen);
        }
    }
    rocksdb_livefiles_destroy(lf);
    if (rc == 0 && size > 0 && end.len == 0) {
        /* "To the end" becomes "just past the largest key in any file". */
        rc = cm_buf_append_u8(&largest, 0);
        end = cm_buf_slice(&largest);
    }
    if (rc != 0) {
        cm_buf_fini(&largest);
        return cm_err_set(err, CM_E_NOMEM, "rocksdb: out of memory estimating a range");
    }
    if (size > 0 && cm_slice_cmp(start, end) < 0) {
        const char *sk = (const char *)start.ptr, *ek = (const char *)end.ptr;
        size_t sl = start.len, el = end.len;
        uint64_t bytes = 0;
        char *msg = NULL;
        rocksdb_approximate_sizes_cf(r->db, r->cfs[cf], 1, &sk, &sl, &ek, &el, &bytes, &msg);
        if (msg != NULL) {
            cm_buf_fini(&largest);
            return rocks_err(err, CM_E_IO, "approximate sizes", msg);
        }
        out->bytes += bytes;
        out->keys += (uint64_t)((double)bytes * (double)entries / (double)size);
    }
    cm_buf_fini(&largest);
    return 0;
}

/* Memtable part of the estimate: an exact count of what the memtables hold in the range. */
static int memtable_count(rocks_engine *r, kv_cf cf, cm_slice start, cm_slice end,
                          kv_range_stats *out, cm_err *err)
{
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_read_tier(ro, ROCKS_READ_TIER_MEMTABLE);
    rocksdb_readoptions_set_fill_cache(ro, 0);
    if (end.len != 0) {
        rocksdb_readoptions_set_iterate_upper_bound(ro, (const char *)end.ptr, end.len);
    }
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(r->db, ro, r->cfs[cf]);
    for (rocksdb_iter_seek(it, (const char *)start.ptr, start.len); rocksdb_iter_valid(it);
         rocksdb_iter_next(it)) {
        size_t kl = 0, vl = 0;
        rocksdb_iter_key(it, &kl);
        rocksdb_iter_value(it, &vl);
        out->keys++;
        out->bytes += kl + vl;
    }
    char *msg = NULL;
    rocksdb_iter_get_error(it, &msg);
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ro);
    if (msg != NULL) {
        return rocks_err(err, CM_E_IO, "memtable scan", msg);
    }
    return 0;
}

static int rocks_approx_range(kv_engine *e, kv_cf cf, cm_slice start, cm_slice end,
                              kv_range_stats *out, cm_err *err)
{
    rocks_engine *r = re(e);
    if (r->db == NULL) {
        return closed_err(err);
    }
    int rc = files_estimate(r, cf, start, end, out, err);
    return rc ? rc : memtable_count(r, cf, start, end, out, err);
}

static int rocks_compact_range(kv_engine *e, kv_cf cf, cm_slice start, cm_slice end, cm_err *err)
{
    rocks_engine *r = re(e);
    if (r->db == NULL) {
        return closed_err(err);
    }
    rocksdb_compact_range_cf(r->db, r->cfs[cf], start.len ? (const char *)start.ptr : NULL,
                             start.len, end.len ? (const char *)end.ptr : NULL, end.len);
    return 0;
}

static int rocks_crash(kv_engine *e, cm_err *err)
{
    rocks_engine *r = re(e);
    close_db(r);
    return open_db(r, err);
}

static int rocks_snapshot(kv_engine *e, kv_snapshot **out, cm_err *err)
{
    rocks_engine *r = re(e);
    if (r->db == NULL) {
        return closed_err(err);
    }
    rocks_snap *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "rocksdb: out of memory for a snapshot");
    }
    s->snap = rocksdb_create_snapshot(r->db);
    s->ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_snapshot(s->ro, s->snap);
    *out = &s->base;
    return 0;
}

static void rocks_snapshot_release(kv_snapshot *base)
{
    rocks_snap *s = (rocks_snap *)base;
    rocks_engine *r = re(base->engine);
    rocksdb_readoptions_destroy(s->ro);
    if (r->db != NULL) {
        rocksdb_release_snapshot(r->db, s->snap);
    }
    free(s);
}

static int rocks_snapshot_get(kv_snapshot *base, kv_cf cf, cm_slice key, cm_buf *value, cm_err *err)
{
    rocks_snap *s = (rocks_snap *)base;
    return rocks_get_ro(re(base->engine), s->ro, cf, key, value, err);
}

/* ---- iterators --------------------------------------------------------------------------- */

static rocks_iter *ri(kv_iter *it)
{
    return (rocks_iter *)it;
}

static const rocks_iter *cri(const kv_iter *it)
{
    return (const rocks_iter *)it;
}

static int rocks_iter_init(kv_iter *base, cm_err *err)
{
    rocks_iter *it = ri(base);
    rocks_snap *s = (rocks_snap *)base->snap;
    rocks_engine *r = re(base->snap->engine);
    if (r->db == NULL) {
        return closed_err(err);
    }
    it->ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_snapshot(it->ro, s->snap);
    if (base->lower.len != 0) {
        rocksdb_readoptions_set_iterate_lower_bound(it->ro, (const char *)base->lower.ptr,
                                                    base->lower.len);
    }
    if (base->upper.len != 0) {
        rocksdb_readoptions_set_iterate_upper_bound(it->ro, (const char *)base->upper.ptr,
                                                    base->upper.len);
    }
    it->it = rocksdb_create_iterator_cf(r->db, it->ro, r->cfs[base->cf]);
    return 0;
}

static void rocks_iter_fini(kv_iter *base)
{
    rocks_iter *it = ri(base);
    rocksdb_iter_destroy(it->it);
    rocksdb_readoptions_destroy(it->ro);
}

static void rocks_iter_seek(kv_iter *it, cm_slice key)
{
    rocksdb_iter_seek(ri(it)->it, (const char *)key.ptr, key.len);
}

static void rocks_iter_seek_for_prev(kv_iter *it, cm_slice key)
{
    rocksdb_iter_seek_for_prev(ri(it)->it, (const char *)key.ptr, key.len);
}

static void rocks_iter_seek_to_last(kv_iter *it)
{
    rocksdb_iter_seek_to_last(ri(it)->it);
}

static void rocks_iter_next(kv_iter *it)
{
    rocksdb_iter_next(ri(it)->it);
}

static void rocks_iter_prev(kv_iter *it)
{
    rocksdb_iter_prev(ri(it)->it);
}

static bool rocks_iter_valid(const kv_iter *it)
{
    return rocksdb_iter_valid(cri(it)->it) != 0;
}

static cm_slice rocks_iter_key(const kv_iter *it)
{
    size_t n = 0;
    const char *k = rocksdb_iter_key(cri(it)->it, &n);
    return cm_slice_make(k, n);
}

static cm_slice rocks_iter_value(const kv_iter *it)
{
    size_t n = 0;
    const char *v = rocksdb_iter_value(cri(it)->it, &n);
    return cm_slice_make(v, n);
}

static int rocks_iter_status(const kv_iter *it, cm_err *err)
{
    char *msg = NULL;
    rocksdb_iter_get_error(cri(it)->it, &msg);
    if (msg != NULL) {
        return rocks_err(err, CM_E_IO, "iterator", msg);
    }
    return 0;
}

static const kv_engine_ops rocks_ops = {
    .name = "rocksdb",
    .crash_drops_unsynced = false,
    .close = rocks_close,
    .get = rocks_get,
    .write = rocks_write,
    .sync = rocks_sync,
    .approx_range = rocks_approx_range,
    .compact_range = rocks_compact_range,
    .crash = rocks_crash,
    .snapshot = rocks_snapshot,
    .snapshot_release = rocks_snapshot_release,
    .snapshot_get = rocks_snapshot_get,
    .iter_size = sizeof(rocks_iter),
    .iter_init = rocks_iter_init,
    .iter_fini = rocks_iter_fini,
    .iter_seek = rocks_iter_seek,
    .iter_seek_for_prev = rocks_iter_seek_for_prev,
    .iter_seek_to_last = rocks_iter_seek_to_last,
    .iter_next = rocks_iter_next,
    .iter_prev = rocks_iter_prev,
    .iter_valid = rocks_iter_valid,
    .iter_key = rocks_iter_key,
    .iter_value = rocks_iter_value,
    .iter_status = rocks_iter_status,
};

int kv_rocks_open(const kv_rocks_opts *o, kv_engine **out, cm_err *err)
{
    *out = NULL;
    if (o == NULL || o->path == NULL || o->path[0] == '\0' || strlen(o->path) >= CM_PATH_MAX) {
        return cm_err_set(err, CM_E_INVALID, "rocksdb: a database path is required");
    }
    rocks_engine *r = calloc(1, sizeof(*r));
    if (r == NULL || (r->path = strdup(o->path)) == NULL) {
        free(r);
        return cm_err_set(err, CM_E_NOMEM, "rocksdb: out of memory");
    }
    kv_engine_base_init(&r->base, &rocks_ops);
    size_t cache_bytes =
        o->block_cache_bytes ? o->block_cache_bytes : KV_ROCKS_BLOCK_CACHE_BYTES_DEFAULT;
    r->cache = rocksdb_cache_create_lru(cache_bytes);
    r->table_opts = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_block_cache(r->table_opts, r->cache);
    /* Point reads of locks and values dominate: a bloom filter saves most misses a disk read. */
    rocksdb_block_based_options_set_filter_policy(r->table_opts,
                                                  rocksdb_filterpolicy_create_bloom_full(10));
    r->opts = rocksdb_options_create();
    rocksdb_options_set_block_based_table_factory(r->opts, r->table_opts);
    rocksdb_options_set_create_if_missing(r->opts, o->create_if_missing);
    rocksdb_options_set_create_missing_column_families(r->opts, 1);
    rocksdb_options_set_info_log_level(r->opts, 2 /* WARN */);
    rocksdb_options_set_keep_log_file_num(r->opts, 4);
    if (o->write_buffer_bytes) {
        rocksdb_options_set_write_buffer_size(r->opts, o->write_buffer_bytes);
    }
    r->wo_sync = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(r->wo_sync, 1);
    r->wo_nosync = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(r->wo_nosync, 0);
    r->ro = rocksdb_readoptions_create();
    int rc = open_db(r, err);
    if (rc != 0) {
        rocks_free(r);
        return rc;
    }
    *out = &r->base;
    return 0;
}
