/*
 * kv_gc.h — MVCC garbage collection below a safe point (DESIGN.md §5, §6), as a pure function
 * over a snapshot that produces a write batch, like the actions of kv_txn.h.
 *
 * Rules, for every user key in the range (docs/kv-storage.md §5.9):
 * - versions with commit_ts > safe_point are kept;
 * - of those at or below it, the newest Put or Delete is "the version at the safe point": a Put
 *   is kept, a Delete is removed (a reader at the safe point sees nothing either way);
 * - everything older than that version is removed, and so are Lock and Rollback records at or
 *   below the safe point; the long values of removed Puts go from `default` with them.
 * So a reader at any ts >= safe_point reads exactly what it read before GC.
 *
 * Locks of transactions with start_ts <= safe_point are never removed by GC: such a
 * transaction's fate is unknown, and a reader at the safe point would need it. When the range
 * holds any, kv_gc writes nothing and answers CM_E_KEY_IS_LOCKED with them; the GC worker
 * resolves them (CheckTxnStatus on their primaries, then ResolveLock) and calls again.
 *
 * GC takes no latches: it removes only versions that no reader at or above the safe point and no
 * transaction command ever looks at (commands read a key's lock and its newest record).
 */
#ifndef KV_GC_H
#define KV_GC_H

#include "kv_mvcc.h"

typedef struct kv_gc_req {
    uint64_t safe_point;
    cm_slice start; /* user keys [start, end); empty end: to the end */
    cm_slice end;
    size_t limit_keys;    /* user keys per call (0: KV_GC_KEYS_MAX); a key's versions are never
                           * split across calls */
    size_t limit_deletes; /* stop at the next key once this many engine keys are deleted
                           * (0: KV_GC_DELETES_MAX) */
} kv_gc_req;

/* Most user keys one GC call looks at: bounds the batch it produces. */
#define KV_GC_KEYS_MAX 1024
/* Engine keys (write records + long values) after which a call stops at the next user key: one
 * Raft proposal of a GC step stays near this size (plus the versions of one key) however many
 * versions the keys hold. */
#define KV_GC_DELETES_MAX 4096

typedef struct kv_gc_result {
    size_t keys_scanned;     /* user keys with write records looked at */
    size_t versions_deleted; /* write records removed */
    size_t values_deleted;   /* long values removed from `default` */
    bool more;               /* stopped at the limit: call again from resume_key */
    cm_slice resume_key;     /* in the arena */
    kv_lock_info *locks;     /* CM_E_KEY_IS_LOCKED: locks at or below the safe point */
    size_t nlocks;
} kv_gc_result;

/* Appends the deletions of one GC step to batch (borrowed; nothing on error). Returns 0,
 * CM_E_KEY_IS_LOCKED, CM_E_INVALID (safe point 0), CM_E_CORRUPT, CM_E_IO, CM_E_NOMEM or
 * CM_E_TOO_LARGE. */
int kv_gc(kv_snapshot *snap, const kv_gc_req *req, kv_batch *batch, cm_arena *arena,
          kv_gc_result *out, cm_err *err);

#endif
