/*
 * kv_mvcc.h — the MVCC layout of the kvnode (DESIGN.md §4) and snapshot reads over it.
 *
 * Column families and keys (enc(k) is the memcomparable bytes encoding of user key k,
 * cm_keys_append_mvcc_prefix; ^ts is ts big-endian and bit-inverted so newer sorts first):
 *   lock:    enc(k)              -> lock record   (at most one lock per key)
 *   write:   enc(k) ^commit_ts   -> write record  (Put/Delete/Lock commits and Rollbacks)
 *   default: enc(k) ^start_ts    -> value         (values longer than KV_SHORT_VALUE_MAX)
 * Lock and write records use the compact binary formats of docs/kv-storage.md §4; decoders
 * reject anything else with CM_E_CORRUPT.
 *
 * Reads (Get / BatchGet / Scan at a timestamp ts) see exactly the transactions committed with
 * commit_ts <= ts. A Put or Delete lock of a transaction with start_ts <= ts hides the key's
 * state at ts (that transaction may still commit below ts), so it is reported as
 * CM_E_KEY_IS_LOCKED with the lock's details; the caller resolves it (CheckTxnStatus, then
 * ResolveLock) and reads again. Lock-only locks (SELECT ... FOR UPDATE) never change a value
 * and do not block reads.
 *
 * Every function here is a pure read of one snapshot. Returned slices live in the caller's
 * arena.
 */
#ifndef KV_MVCC_H
#define KV_MVCC_H

#include "kv_engine.h"

#include "cm_arena.h"
#include "cm_buf.h"
#include "cm_err.h"

#include <stdbool.h>
#include <stdint.h>

/* Values up to this many bytes live inside the lock and write records (one read instead of two
 * for the small values that most rows and every index entry are); longer ones go to `default`.
 * 255 is TiKV's choice too and keeps the length in one byte of the record. */
#define KV_SHORT_VALUE_MAX 255
/* Longest user key: TiKV's default max-key-size. Bounds latches, lock records and index blocks;
 * TiDB's longest index key is ~3 KB. */
#define KV_TXN_KEY_BYTES_MAX (8u * 1024)
/* Longest value of one mutation: well below the 64 MiB batch / RPC bound so that a prewrite of
 * a few large values still fits one Raft entry (TiDB's txn-entry-size-limit is 6 MB). */
#define KV_TXN_VALUE_BYTES_MAX (16u * 1024 * 1024)
/* Most lock details one reply carries (KeyIsLocked from reads, prewrite and GC): enough for the
 * client to resolve a whole batch of dead locks at once, bounded so one reply stays small. */
#define KV_TXN_LOCKS_MAX 256

/* TSO timestamps (DESIGN.md §6): 46 bits of physical milliseconds, 18 logical bits. */
#define KV_TS_LOGICAL_BITS 18
static inline uint64_t kv_ts_physical_ms(uint64_t ts)
{
    return ts >> KV_TS_LOGICAL_BITS;
}
static inline uint64_t kv_ts_compose(uint64_t physical_ms, uint64_t logical)
{
    return (physical_ms << KV_TS_LOGICAL_BITS) | (logical & ((1u << KV_TS_LOGICAL_BITS) - 1));
}

/* ---- records ------------------------------------------------------------------------------- */

/* Numbers are stored in records: never renumber. */
typedef enum kv_lock_kind {
    KV_LOCK_PUT = 1,
    KV_LOCK_DELETE = 2,
    KV_LOCK_LOCK = 3,        /* lock-only: SELECT ... FOR UPDATE, unique checks */
    KV_LOCK_PESSIMISTIC = 4, /* reserved for pessimistic transactions (not produced yet) */
} kv_lock_kind;

typedef struct kv_lock {
    kv_lock_kind kind;
    uint64_t start_ts;
    uint64_t ttl_ms;
    cm_slice primary;       /* the transaction's primary (user key); never empty */
    bool has_short_value;   /* only for KV_LOCK_PUT: the value is inline */
    cm_slice short_value;   /* <= KV_SHORT_VALUE_MAX bytes */
    uint64_t min_commit_ts; /* 0: none. Reserved for async commit; stored, not used yet */
    uint64_t for_update_ts; /* 0: none. Reserved for pessimistic locks */
    uint64_t txn_size;      /* 0: unknown. Keys in the whole transaction, for resolvers */
} kv_lock;

typedef enum kv_write_kind {
    KV_WRITE_PUT = 1,
    KV_WRITE_DELETE = 2,
    KV_WRITE_LOCK = 3,     /* a committed lock-only mutation: no value change */
    KV_WRITE_ROLLBACK = 4, /* at ^start_ts of a rolled-back transaction; protects it */
} kv_write_kind;

typedef struct kv_write {
    kv_write_kind kind;
    uint64_t start_ts;
    bool has_short_value;     /* only for KV_WRITE_PUT: the value is inline */
    cm_slice short_value;     /* <= KV_SHORT_VALUE_MAX bytes */
    bool overlapped_rollback; /* a commit record that also stands for the rollback of the
                               * transaction whose start_ts equals this commit_ts */
} kv_write;

/* Encoders append to out; 0, CM_E_NOMEM or CM_E_INVALID (a record the decoder would refuse). */
int kv_lock_encode(const kv_lock *l, cm_buf *out);
int kv_write_encode(const kv_write *w, cm_buf *out);
/* Decoders borrow from in; 0 or CM_E_CORRUPT with context in err (may be NULL). */
int kv_lock_decode(cm_slice in, kv_lock *l, cm_err *err);
int kv_write_decode(cm_slice in, kv_write *w, cm_err *err);

/* ---- keys ---------------------------------------------------------------------------------- */

/* enc(k): the lock CF key of k, and the prefix of all its versions. Appends to out. */
int kv_mvcc_key_lock(cm_buf *out, cm_slice user_key);
/* enc(k) ^ts: a write CF key (ts = commit_ts) or a default CF key (ts = start_ts). */
int kv_mvcc_key_ts(cm_buf *out, cm_slice user_key, uint64_t ts);

/* ---- reads ----------------------------------------------------------------------------------- */

/* A lock as reported to clients; slices in the caller's arena. */
typedef struct kv_lock_info {
    cm_slice key;     /* the locked user key */
    cm_slice primary; /* its transaction's primary */
    uint64_t start_ts;
    uint64_t ttl_ms;
    kv_lock_kind kind;
    uint64_t txn_size;
} kv_lock_info;

typedef struct kv_pair {
    cm_slice key;
    cm_slice value; /* empty when key_only */
} kv_pair;

/* Reads user key at ts. Returns 0 with *value (in arena), CM_E_NOT_FOUND,
 * CM_E_KEY_IS_LOCKED with *lock (in arena), CM_E_INVALID (empty or oversized key, ts 0),
 * CM_E_CORRUPT (a bad record, a missing long value), CM_E_IO or CM_E_NOMEM. */
int kv_mvcc_get(kv_snapshot *snap, cm_slice key, uint64_t ts, cm_arena *arena, cm_slice *value,
                kv_lock_info *lock, cm_err *err);

typedef struct kv_read_result {
    kv_pair *pairs; /* found keys, in request order (BatchGet) or key order (Scan) */
    size_t npairs;
    kv_lock_info *locks; /* locks that hid keys (at most KV_TXN_LOCKS_MAX) */
    size_t nlocks;
    bool more;           /* Scan: stopped at the limit; continue from resume_key */
    cm_slice resume_key; /* Scan: where the next page starts (see kv_mvcc_scan) */
} kv_read_result;

/* Reads n keys (borrowed) at ts. Returns 0 when no key was locked, CM_E_KEY_IS_LOCKED when some
 * were (the others' values are in pairs all the same), or an error as kv_mvcc_get. */
int kv_mvcc_batch_get(kv_snapshot *snap, const cm_slice *keys, size_t n, uint64_t ts,
                      cm_arena *arena, kv_read_result *out, cm_err *err);

typedef struct kv_scan_req {
    cm_slice start; /* first user key (inclusive); empty: from the beginning */
    cm_slice end;   /* end user key (exclusive); empty: to the end */
    uint64_t ts;
    size_t limit;  /* most pairs returned (0: KV_SCAN_LIMIT_MAX) */
    bool key_only; /* return keys without values */
    bool reverse;  /* from the end down to start; pairs in descending key order */
} kv_scan_req;

/* Largest page of one scan: bounds the memory of one reply. */
#define KV_SCAN_LIMIT_MAX 10000

/* Scans [start, end) at ts, forward or in reverse. Keys hidden by a lock are reported in locks
 * and skipped; the call returns CM_E_KEY_IS_LOCKED when there is any (the pairs are right all
 * the same). Stops after limit pairs or KV_TXN_LOCKS_MAX locks with more = true; the next page
 * starts at resume_key (forward: the new start; reverse: the new end). */
int kv_mvcc_scan(kv_snapshot *snap, const kv_scan_req *req, cm_arena *arena, kv_read_result *out,
                 cm_err *err);

/* ---- internals shared with kv_txn.c ------------------------------------------------------- */

/* Where a transaction stands on one key, judged from the key's write records. */
typedef enum kv_commit_state {
    KV_TXN_NO_RECORD = 0,   /* neither committed nor rolled back on this key */
    KV_TXN_COMMITTED = 1,   /* *commit_ts set */
    KV_TXN_ROLLED_BACK = 2, /* a Rollback record (or an overlapped rollback flag) */
} kv_commit_state;

/* A reader holds one write-CF iterator for a whole request (RocksDB iterators are costly to
 * create) and scratch buffers. */
typedef struct kv_mvcc_reader {
    kv_snapshot *snap; /* borrowed */
    kv_iter *write_it; /* owned; created on first use */
    cm_buf key;        /* scratch */
    cm_buf lock_val;   /* the last lock loaded (kv_lock slices point here) */
    cm_buf val;        /* scratch */
} kv_mvcc_reader;

void kv_mvcc_reader_init(kv_mvcc_reader *r, kv_snapshot *snap);
void kv_mvcc_reader_fini(kv_mvcc_reader *r);
/* Loads the lock of user key into *lock (slices valid until the next load). Returns 0,
 * CM_E_NOT_FOUND, CM_E_CORRUPT, CM_E_IO or CM_E_NOMEM. */
int kv_mvcc_load_lock(kv_mvcc_reader *r, cm_slice user_key, kv_lock *lock, cm_err *err);
/* The newest write record of user key: *commit_ts and *write (short value copied into arena).
 * Returns 0, CM_E_NOT_FOUND or an error. */
int kv_mvcc_newest_write(kv_mvcc_reader *r, cm_slice user_key, cm_arena *arena, uint64_t *commit_ts,
                         kv_write *write, cm_err *err);
/* The record of the transaction start_ts on user key: its state, its commit_ts when committed,
 * and whether a record sits exactly at ^start_ts (*at_start, with that record in *at_start_rec,
 * short value copied into arena) — which a rollback must not overwrite. */
int kv_mvcc_txn_record(kv_mvcc_reader *r, cm_slice user_key, uint64_t start_ts, cm_arena *arena,
                       kv_commit_state *state, uint64_t *commit_ts, bool *at_start,
                       kv_write *at_start_rec, cm_err *err);
/* Copies a lock into a kv_lock_info in arena. */
int kv_mvcc_lock_info(cm_arena *arena, cm_slice user_key, const kv_lock *l, kv_lock_info *out);
/* Validates a user key: non-empty and at most KV_TXN_KEY_BYTES_MAX. */
int kv_mvcc_check_key(cm_slice key, cm_err *err);

#endif
