/*
 * kv_batch.h — a write batch: an ordered list of put / delete / delete_range operations over the
 * column families of kv_engine.h, applied atomically by kv_engine_write.
 *
 * The batch is engine-independent and its in-memory form IS its wire form: the bytes returned
 * by kv_batch_data() can be proposed through Raft as they are, and kv_batch_load() validates such
 * bytes (from the network or the log) before any engine sees them. This is what lets the
 * Percolator layer (kvnode/txn) produce a batch on the leader and the apply path only write it.
 *
 * Wire format (docs/kv-storage.md §2):
 *   u8 version (1), then operations until the end:
 *     u8 op (1 put, 2 delete, 3 delete_range), u8 cf (0..KV_CF_COUNT-1),
 *     uvarint len + bytes of key (delete_range: start key),
 *     put: uvarint len + bytes of value; delete_range: uvarint len + bytes of end key.
 * Operations apply in order; a later operation on the same key wins.
 */
#ifndef KV_BATCH_H
#define KV_BATCH_H

#include "cm_buf.h"
#include "cm_err.h"

#include <stddef.h>
#include <stdint.h>

/* Column families (DESIGN.md §4). The numbers travel inside batches: never renumber. */
typedef enum kv_cf {
    KV_CF_DEFAULT = 0, /* MVCC values too long to inline: enc(key) + ^start_ts -> value */
    KV_CF_LOCK = 1,    /* Percolator locks: enc(key) -> lock record */
    KV_CF_WRITE = 2,   /* commit records: enc(key) + ^commit_ts -> write record */
    KV_CF_RAFT = 3,    /* Raft log entries, hard states, apply and region states (raftstore) */
    KV_CF_COUNT = 4,
} kv_cf;

/* The column family's name ("default", "lock", "write", "raft"); "?" when out of range. */
const char *kv_cf_name(kv_cf cf);

/* Largest key the engine accepts: a sanity bound for decoders of untrusted batches. Keys of the
 * MVCC layer are far smaller (KV_TXN_KEY_BYTES_MAX in kv_txn.h); raftstore keys are tiny. */
#define KV_KEY_BYTES_MAX (64u * 1024)
/* Largest value: a batch travels in one Raft entry inside one RPC message, so nothing in it can
 * exceed the RPC message bound (CM_RPC_MSG_BYTES_MAX, 64 MiB). */
#define KV_VALUE_BYTES_MAX (64u * 1024 * 1024)
/* Largest whole batch, for the same reason. */
#define KV_BATCH_BYTES_MAX (64u * 1024 * 1024)

typedef enum kv_batch_op {
    KV_BATCH_PUT = 1,
    KV_BATCH_DELETE = 2,
    KV_BATCH_DELETE_RANGE = 3,
} kv_batch_op;

typedef struct kv_batch {
    cm_buf data;  /* owned; the wire form, version byte first */
    size_t count; /* operations in data */
} kv_batch;

/* One decoded operation; slices borrow the batch's bytes. */
typedef struct kv_batch_entry {
    kv_batch_op op;
    kv_cf cf;
    cm_slice key;   /* delete_range: start (inclusive) */
    cm_slice value; /* put: the value; delete_range: end (exclusive); delete: empty */
} kv_batch_entry;

/* Walks a batch's operations in order. */
typedef struct kv_batch_cursor {
    cm_reader r;
} kv_batch_cursor;

void kv_batch_init(kv_batch *b);
void kv_batch_fini(kv_batch *b);
/* Drops every operation; keeps the memory. */
void kv_batch_clear(kv_batch *b);
static inline size_t kv_batch_count(const kv_batch *b)
{
    return b->count;
}
/* Bytes of the wire form (a version byte even when empty). */
size_t kv_batch_size(const kv_batch *b);

/* Appenders. Each returns 0, CM_E_NOMEM, CM_E_INVALID (bad cf, a key or value over the limits,
 * or delete_range with start >= end) or CM_E_TOO_LARGE (the batch would pass
 * KV_BATCH_BYTES_MAX). Key and value bytes are copied. On error the batch is unchanged. */
int kv_batch_put(kv_batch *b, kv_cf cf, cm_slice key, cm_slice value);
int kv_batch_delete(kv_batch *b, kv_cf cf, cm_slice key);
/* Deletes every key k with start <= k < end. */
int kv_batch_delete_range(kv_batch *b, kv_cf cf, cm_slice start, cm_slice end);
/* Appends every operation of src after those of dst. */
int kv_batch_append(kv_batch *dst, const kv_batch *src);

/* A position in a batch, to undo appends: kv_batch_rewind(b, m) drops every operation appended
 * after kv_batch_mark(b) returned m. (The transaction layer appends its writes as it checks
 * keys and rewinds when a later key fails, so a failed command leaves nothing behind.) */
typedef struct kv_batch_mark {
    size_t len;
    size_t count;
} kv_batch_mark;
kv_batch_mark kv_batch_mark_get(const kv_batch *b);
void kv_batch_rewind(kv_batch *b, kv_batch_mark m);

/* The wire form, borrowed from b (valid until b changes). */
cm_slice kv_batch_data(const kv_batch *b);
/* Replaces b's contents with a copy of wire bytes after validating every operation; on
 * CM_E_CORRUPT (garbage, truncation, a bad op or cf, limits, delete_range start >= end) or
 * CM_E_NOMEM the batch is left empty. err may be NULL. */
int kv_batch_load(kv_batch *b, cm_slice wire, cm_err *err);

/* Iteration over a batch that was built by the appenders or accepted by kv_batch_load (so the
 * bytes are known to be valid). kv_batch_next returns 1 with *e filled, or 0 at the end. */
void kv_batch_iter(const kv_batch *b, kv_batch_cursor *c);
int kv_batch_next(kv_batch_cursor *c, kv_batch_entry *e);

#endif
