/*
 * pd_kv.h — the narrow storage interface PD's state goes through.
 *
 * Two implementations: RocksDB (pd_kv_rocks.c, the only PD file that includes rocksdb/c.h) in
 * the server, and an in-memory one (pd_kv_mem.c) in unit tests that can also lose every write
 * not yet synced, as a crash would. The TSO, id allocator, cluster map and registry modules take
 * a pd_kv and never see which one they run on.
 *
 * Semantics (RocksDB's): writes are atomic per call; a write with sync=1 is durable when it
 * returns, together with every write made before it; a write with sync=0 may be lost by a crash
 * (but never reordered after a later synced write).
 */
#ifndef PD_KV_H
#define PD_KV_H

#include "cm_buf.h"
#include "cm_err.h"

#include <stddef.h>

typedef enum pd_kv_op_kind {
    PD_KV_PUT = 1,
    PD_KV_DEL = 2,
} pd_kv_op_kind;

/* One operation of an atomic write. key/value are borrowed for the call. */
typedef struct pd_kv_op {
    pd_kv_op_kind kind;
    cm_slice key;
    cm_slice value; /* PUT only */
} pd_kv_op;

/* Called for each key of a scan in key order; return non-zero to stop early (the scan then
 * returns 0). key/value are borrowed for the call only. */
typedef int (*pd_kv_scan_cb)(void *user, cm_slice key, cm_slice value);

typedef struct pd_kv_vtable {
    /* Appends the value of key to *value; CM_E_NOT_FOUND when absent. */
    int (*get)(void *impl, cm_slice key, cm_buf *value, cm_err *err);
    /* Applies ops atomically (n >= 1). */
    int (*write)(void *impl, const pd_kv_op *ops, size_t n, int sync, cm_err *err);
    /* Every key starting with prefix, in key order. */
    int (*scan)(void *impl, cm_slice prefix, pd_kv_scan_cb cb, void *user, cm_err *err);
    void (*close)(void *impl);
} pd_kv_vtable;

typedef struct pd_kv {
    const pd_kv_vtable *vt;
    void *impl; /* owned by the implementation; freed by pd_kv_close */
} pd_kv;

static inline int pd_kv_get(pd_kv *kv, cm_slice key, cm_buf *value, cm_err *err)
{
    return kv->vt->get(kv->impl, key, value, err);
}
static inline int pd_kv_write(pd_kv *kv, const pd_kv_op *ops, size_t n, int sync, cm_err *err)
{
    return kv->vt->write(kv->impl, ops, n, sync, err);
}
static inline int pd_kv_scan(pd_kv *kv, cm_slice prefix, pd_kv_scan_cb cb, void *user, cm_err *err)
{
    return kv->vt->scan(kv->impl, prefix, cb, user, err);
}
/* Closes and frees the implementation; kv is unusable afterwards. NULL-safe. */
void pd_kv_close(pd_kv *kv);

/* Convenience: one PUT / one DEL. */
int pd_kv_put(pd_kv *kv, cm_slice key, cm_slice value, int sync, cm_err *err);
int pd_kv_del(pd_kv *kv, cm_slice key, int sync, cm_err *err);
/* u64 values are stored as 8 bytes big-endian. Get: CM_E_NOT_FOUND when absent, CM_E_CORRUPT
 * when the stored value is not 8 bytes. */
int pd_kv_put_u64(pd_kv *kv, const char *key, uint64_t v, int sync, cm_err *err);
int pd_kv_get_u64(pd_kv *kv, const char *key, uint64_t *v, cm_err *err);

/* Opens (creating when missing) a RocksDB database in dir. */
int pd_kv_rocks_open(const char *dir, pd_kv *out, cm_err *err);

/* In-memory store for unit tests. */
int pd_kv_mem_open(pd_kv *out, cm_err *err);
/* Simulates a crash: every write not yet made durable by a synced write is lost. */
void pd_kv_mem_crash(pd_kv *kv);
/* The next `n` writes fail with CM_E_IO (and change nothing). */
void pd_kv_mem_fail_writes(pd_kv *kv, int n);
/* Number of synced writes so far. */
int pd_kv_mem_sync_count(pd_kv *kv);

#endif
