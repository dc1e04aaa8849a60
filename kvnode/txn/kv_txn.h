/*
 * kv_txn.h — Percolator transactions (DESIGN.md §5) as pure functions: each reads one engine
 * snapshot and, when it succeeds, appends the writes it decided to a write batch. Nothing here
 * writes to an engine. The raftstore latches the command's keys (kv_latch.h), takes a snapshot
 * of the applied state, calls one of these, proposes the batch through Raft, and releases the
 * latches once the batch is applied (or the proposal failed) — so no check ever runs against
 * state that a pending proposal is about to change. Docs: docs/kv-storage.md §5.
 *
 * Conventions for every call:
 * - snap is borrowed; out->batch receives the writes only when the call returns 0 (on any
 *   error the batch is exactly as it was); details of errors and every returned slice live in
 *   out->arena.
 * - Timestamps are TSO timestamps (kv_mvcc.h); 0 is never a valid start_ts or commit_ts.
 * - Errors: CM_E_INVALID (a malformed request), CM_E_KEY_IS_LOCKED (out->locks),
 *   CM_E_WRITE_CONFLICT (out->conflict), CM_E_TXN_ROLLED_BACK, CM_E_TXN_COMMITTED
 *   (out->commit_ts), CM_E_TXN_LOCK_NOT_FOUND, CM_E_CORRUPT (a bad record in storage),
 *   CM_E_IO, CM_E_NOMEM, CM_E_TOO_LARGE (the writes would not fit one batch).
 *
 * Keys each command latches: prewrite its mutations' keys; commit, rollback and resolve_lock
 * their keys; cleanup, check_txn_status and heartbeat their one key. kv_txn_scan_locks and the
 * reads of kv_mvcc.h take no latch; neither does GC (kv_gc.h).
 */
#ifndef KV_TXN_H
#define KV_TXN_H

#include "kv_mvcc.h"

typedef enum kv_mut_op {
    KV_MUT_PUT = 1,
    KV_MUT_DELETE = 2,
    KV_MUT_LOCK = 3, /* lock only: conflicts like a write, changes no value */
} kv_mut_op;

typedef struct kv_mutation {
    kv_mut_op op;
    cm_slice key;   /* borrowed; 1..KV_TXN_KEY_BYTES_MAX bytes */
    cm_slice value; /* borrowed; KV_MUT_PUT only, up to KV_TXN_VALUE_BYTES_MAX bytes */
} kv_mutation;

typedef struct kv_write_conflict {
    cm_slice key;                /* the key that conflicted */
    cm_slice primary;            /* the failing transaction's primary */
    uint64_t start_ts;           /* the failing transaction */
    uint64_t conflict_start_ts;  /* the write record that conflicts: its transaction ... */
    uint64_t conflict_commit_ts; /* ... and its commit_ts (== start_ts for a rollback) */
} kv_write_conflict;

typedef struct kv_txn_out {
    kv_batch *batch;     /* borrowed: writes are appended on success */
    cm_arena *arena;     /* borrowed: every detail below lives here */
    kv_lock_info *locks; /* CM_E_KEY_IS_LOCKED: the locks in the way */
    size_t nlocks;
    kv_write_conflict conflict; /* CM_E_WRITE_CONFLICT */
    uint64_t commit_ts;         /* CM_E_TXN_COMMITTED: the commit that was found */
} kv_txn_out;

/* Prepares out for one call (batch and arena borrowed). */
void kv_txn_out_init(kv_txn_out *out, kv_batch *batch, cm_arena *arena);

/* ---- two-phase commit ------------------------------------------------------------------ */

typedef struct kv_prewrite_req {
    const kv_mutation *muts; /* borrowed; no key twice */
    size_t n;
    cm_slice primary; /* borrowed; the transaction's primary key (need not be among muts) */
    uint64_t start_ts;
    uint64_t ttl_ms;   /* how long the lock stays valid after start_ts's physical time */
    uint64_t txn_size; /* keys in the whole transaction (0: unknown), kept in the locks */
} kv_prewrite_req;

/* Prewrite: locks every key for start_ts. Per key, in order:
 *   - a lock of another transaction          -> KEY_IS_LOCKED (every such key is reported)
 *   - the transaction's own lock             -> nothing to do (a retried prewrite)
 *   - a write record with commit_ts >= start_ts (a Rollback at start_ts included, so a
 *     rolled-back transaction can never come back) -> WRITE_CONFLICT, at once
 *   - otherwise: lock {kind, primary, start_ts, ttl, value if <= 255 B}; a longer value goes
 *     to `default` at key ^start_ts.
 * All or nothing: on any error no lock is written. */
int kv_txn_prewrite(kv_snapshot *snap, const kv_prewrite_req *req, kv_txn_out *out, cm_err *err);

/* Commit keys of start_ts at commit_ts (> start_ts, else CM_E_INVALID): each lock of the
 * transaction becomes a write record at key ^commit_ts and goes away. A key whose lock is gone
 * but whose commit record exists is fine (commit is idempotent); a rolled-back key fails with
 * TXN_ROLLED_BACK; a key with neither fails with TXN_LOCK_NOT_FOUND. All or nothing. */
int kv_txn_commit(kv_snapshot *snap, const cm_slice *keys, size_t n, uint64_t start_ts,
                  uint64_t commit_ts, kv_txn_out *out, cm_err *err);

/* BatchRollback: for each key, removes the transaction's lock (and its long value) and writes a
 * protected Rollback record at key ^start_ts — also where no lock exists yet, so a late prewrite
 * fails. A key already rolled back is left alone; a committed key fails with TXN_COMMITTED
 * (out->commit_ts). All or nothing. */
int kv_txn_rollback(kv_snapshot *snap, const cm_slice *keys, size_t n, uint64_t start_ts,
                    kv_txn_out *out, cm_err *err);

/* Cleanup: rolls back key for start_ts as kv_txn_rollback does, but only when its lock has
 * expired at current_ts (TSO time supplied by the caller; 0 = do not check the TTL). A live
 * lock answers KEY_IS_LOCKED. */
int kv_txn_cleanup(kv_snapshot *snap, cm_slice key, uint64_t start_ts, uint64_t current_ts,
                   kv_txn_out *out, cm_err *err);

/* ---- lock resolution ------------------------------------------------------------------------ */

typedef enum kv_txn_state {
    KV_TXN_STATE_LOCKED = 1,      /* alive: lock present, TTL not expired */
    KV_TXN_STATE_COMMITTED = 2,   /* commit_ts set */
    KV_TXN_STATE_ROLLED_BACK = 3, /* rolled back earlier */
    KV_TXN_STATE_TTL_EXPIRED = 4, /* the lock had expired: rolled back by this call */
    KV_TXN_STATE_LOCK_NOT_EXIST_ROLLED_BACK = 5, /* no trace: a Rollback record was written */
} kv_txn_state;

typedef struct kv_txn_status {
    kv_txn_state state;
    uint64_t commit_ts; /* COMMITTED */
    kv_lock_info lock;  /* LOCKED: the primary's lock (ttl_ms is its current TTL) */
} kv_txn_status;

/* CheckTxnStatus on the primary key of the transaction lock_ts. The TTL is judged against
 * current_ts, a TSO timestamp supplied by the caller (never a local clock): the lock has expired
 * when physical(current_ts) > physical(lock_ts) + ttl_ms; an expired lock is rolled back here.
 * With no lock and no record: rollback_if_not_exist writes a Rollback record (the transaction
 * can then never commit) and answers LOCK_NOT_EXIST_ROLLED_BACK; otherwise the call fails with
 * TXN_LOCK_NOT_FOUND (the prewrite may still be on its way). */
int kv_txn_check_status(kv_snapshot *snap, cm_slice primary, uint64_t lock_ts, uint64_t current_ts,
                        bool rollback_if_not_exist, kv_txn_out *out, kv_txn_status *status,
                        cm_err *err);

/* TxnHeartBeat: raises the TTL of the primary's lock of start_ts to advise_ttl_ms (it never
 * shrinks); *ttl_ms gets the TTL now in force. No lock of start_ts: TXN_LOCK_NOT_FOUND. */
int kv_txn_heartbeat(kv_snapshot *snap, cm_slice primary, uint64_t start_ts, uint64_t advise_ttl_ms,
                     kv_txn_out *out, uint64_t *ttl_ms, cm_err *err);

typedef struct kv_scan_locks_req {
    cm_slice start; /* user keys [start, end); empty end: to the end */
    cm_slice end;
    uint64_t max_ts;   /* only locks with start_ts <= max_ts (UINT64_MAX: all) */
    uint64_t start_ts; /* only locks of this transaction (0: any) */
    size_t limit;      /* most locks returned (0 or more than KV_TXN_LOCKS_MAX: that) */
} kv_scan_locks_req;

typedef struct kv_locks_result {
    kv_lock_info *locks; /* in key order, in the arena */
    size_t n;
    bool more;           /* stopped at the limit */
    cm_slice resume_key; /* first user key not scanned, when more */
} kv_locks_result;

/* Lists locks in a range (the read phase of ResolveLock, and what GC must resolve first). */
int kv_txn_scan_locks(kv_snapshot *snap, const kv_scan_locks_req *req, cm_arena *arena,
                      kv_locks_result *out, cm_err *err);

/* ResolveLock: for each key that holds a lock of start_ts, commits it at commit_ts, or rolls it
 * back when commit_ts is 0. Keys without such a lock are skipped (already resolved). The
 * caller learns the keys from kv_txn_scan_locks and latches them. */
int kv_txn_resolve_lock(kv_snapshot *snap, uint64_t start_ts, uint64_t commit_ts,
                        const cm_slice *keys, size_t n, kv_txn_out *out, cm_err *err);

/* DeleteRange: appends deletions of every lock, version and value of the user keys in
 * [start, end) (empty end: to the end of the key space), whatever their state — the fast path
 * of DROP TABLE after its GC delay, never part of a transaction. Returns 0, CM_E_INVALID
 * (start >= end, or a key over the limit), CM_E_NOMEM or CM_E_TOO_LARGE. */
int kv_txn_delete_range(cm_slice start, cm_slice end, kv_batch *batch, cm_err *err);

/* Whether a lock has expired at TSO time current_ts (see kv_txn_check_status). */
bool kv_txn_lock_expired(uint64_t lock_start_ts, uint64_t ttl_ms, uint64_t current_ts);

#endif
