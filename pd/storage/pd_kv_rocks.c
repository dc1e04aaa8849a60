/*
 * pd_kv_rocks.c — pd_kv on RocksDB (the only PD file that includes rocksdb/c.h, DESIGN.md §2).
 *
 * PD's state is small (ids, the TSO mark, stores, regions, registry), so the database uses
 * RocksDB's defaults with a small write buffer. Synced writes set WriteOptions.sync, which
 * fsyncs the WAL before returning: that is what makes the TSO mark and the id window durable
 * before anything under them is handed out.
 */
#include "pd_kv.h"

#include "cm_log.h"

#include <rocksdb/c.h>
#include <stdlib.h>
#include <string.h>

typedef struct rocks_impl {
    rocksdb_t *db;
    rocksdb_options_t *opts;
    rocksdb_writeoptions_t *wo_sync;
    rocksdb_writeoptions_t *wo_nosync;
    rocksdb_readoptions_t *ro;
} rocks_impl;

static int rocks_error(cm_err *err, char *msg, const char *what)
{
    int rc = cm_err_set(err, CM_E_IO, "pd storage: %s: %s", what, msg ? msg : "?");
    CM_ERROR("pd", "storage %s failed: %s", what, msg ? msg : "?");
    rocksdb_free(msg);
    return rc;
}

static int rocks_get(void *impl, cm_slice key, cm_buf *value, cm_err *err)
{
    rocks_impl *r = impl;
    char *e = NULL;
    size_t vlen = 0;
    char *v = rocksdb_get(r->db, r->ro, (const char *)key.ptr, key.len, &vlen, &e);
    if (e != NULL) {
        return rocks_error(err, e, "get");
    }
    if (v == NULL) {
        return cm_err_set(err, CM_E_NOT_FOUND, "pd storage: key not found");
    }
    int rc = cm_buf_append(value, v, vlen);
    rocksdb_free(v);
    return rc == 0 ? 0 : cm_err_set(err, rc, "pd storage: out of memory");
}

static int rocks_write(void *impl, const pd_kv_op *ops, size_t n, int sync, cm_err *err)
{
    rocks_impl *r = impl;
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    for (size_t i = 0; i < n; i++) {
        if (ops[i].kind == PD_KV_PUT) {
            rocksdb_writebatch_put(wb, (const char *)ops[i].key.ptr, ops[i].key.len,
                                   (const char *)ops[i].value.ptr, ops[i].value.len);
        } else {
            rocksdb_writebatch_delete(wb, (const char *)ops[i].key.ptr, ops[i].key.len);
        }
    }
    char *e = NULL;
    rocksdb_write(r->db, sync ? r->wo_sync : r->wo_nosync, wb, &e);
    rocksdb_writebatch_destroy(wb);
    if (e != NULL) {
        return rocks_error(err, e, "write");
    }
    return 0;
}

static int rocks_scan(void *impl, cm_slice prefix, pd_kv_scan_cb cb, void *user, cm_err *err)
{
    rocks_impl *r = impl;
    rocksdb_iterator_t *it = rocksdb_create_iterator(r->db, r->ro);
    rocksdb_iter_seek(it, (const char *)prefix.ptr, prefix.len);
    for (; rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t klen = 0, vlen = 0;
        const char *k = rocksdb_iter_key(it, &klen);
        if (klen < prefix.len || memcmp(k, prefix.ptr, prefix.len) != 0) {
            break;
        }
        const char *v = rocksdb_iter_value(it, &vlen);
        if (cb(user, cm_slice_make(k, klen), cm_slice_make(v, vlen)) != 0) {
            break;
        }
    }
    char *e = NULL;
    rocksdb_iter_get_error(it, &e);
    rocksdb_iter_destroy(it);
    if (e != NULL) {
        return rocks_error(err, e, "scan");
    }
    return 0;
}

static void rocks_free(rocks_impl *r)
{
    if (r->db) {
        rocksdb_close(r->db);
    }
    if (r->opts) {
        rocksdb_options_destroy(r->opts);
    }
    if (r->wo_sync) {
        rocksdb_writeoptions_destroy(r->wo_sync);
    }
    if (r->wo_nosync) {
        rocksdb_writeoptions_destroy(r->wo_nosync);
    }
    if (r->ro) {
        rocksdb_readoptions_destroy(r->ro);
    }
    free(r);
}

static void rocks_close(void *impl)
{
    rocks_free(impl);
}

static const pd_kv_vtable rocks_vt = {rocks_get, rocks_write, rocks_scan, rocks_close};

int pd_kv_rocks_open(const char *dir, pd_kv *out, cm_err *err)
{
    rocks_impl *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "pd storage: out of memory");
    }
    r->opts = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(r->opts, 1);
    /* PD's working set is tiny; 4 MiB memtables keep the footprint small. */
    rocksdb_options_set_write_buffer_size(r->opts, 4u << 20);
    rocksdb_options_set_max_open_files(r->opts, 256);
    r->wo_sync = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(r->wo_sync, 1);
    r->wo_nosync = rocksdb_writeoptions_create();
    r->ro = rocksdb_readoptions_create();
    char *e = NULL;
    r->db = rocksdb_open(r->opts, dir, &e);
    if (e != NULL) {
        int rc = cm_err_set(err, CM_E_IO, "pd storage: cannot open %s: %s", dir, e);
        rocksdb_free(e);
        r->db = NULL;
        rocks_free(r);
        return rc;
    }
    out->vt = &rocks_vt;
    out->impl = r;
    return 0;
}
