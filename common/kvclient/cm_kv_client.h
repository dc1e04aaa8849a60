/*
 * cm_kv_client.h — the transactional KV client (DESIGN.md §5 "Transactions", §7; docs/kvclient.md).
 *
 * One cm_kv_client per process (thread-safe: many threads share it). A cm_txn is a snapshot-
 * isolated Percolator transaction; it is used by one thread at a time.
 *
 *   cm_kv_client_create(pd_addr, opts)       routes, store connections, PD client
 *   cm_txn_begin(client)                     start_ts from PD's TSO
 *   cm_txn_get / cm_txn_batch_get            read-your-writes, then the snapshot at start_ts
 *   cm_txn_set / cm_txn_delete / cm_txn_lock buffered in order, in memory
 *   cm_txn_scan + cm_txn_iter_next           forward range scan merging the buffer
 *   cm_txn_checkpoint / rollback_to / release  nested statement staging
 *   cm_txn_commit                            2PC: prewrite per region in parallel, commit the
 *                                            primary, then the secondaries
 *   cm_txn_free                              rolls back an uncommitted transaction
 *   cm_kv_copr_scan                          coprocessor table scan (kvnode/copr)
 *
 * Failover: region errors (NotLeader, EpochNotMatch, RegionNotFound, KeyNotInRegion,
 * ServerIsBusy, stale commands) and store failures are retried with backoff inside a time
 * budget (retry_budget_ms, default 20 s), invisible to callers. Locks met by reads are resolved
 * (CheckTxnStatus on the primary with a fresh TSO time, then ResolveLock); live locks are
 * waited for within the budget.
 *
 * Errors (negative CM_E_*): CM_E_NOT_FOUND (get), CM_E_WRITE_CONFLICT (commit: another
 * transaction wrote a key after start_ts — restart the transaction), CM_E_TXN_ROLLED_BACK
 * (commit: this transaction's locks were rolled back by a reader after its TTL), CM_E_KEY_IS_LOCKED
 * (a live lock did not go away within the budget), CM_E_TXN_UNDETERMINED (commit: the primary's
 * commit was sent but no answer came back within the budget — the transaction may or may not
 * have committed; never retry it blindly), CM_E_TIMEOUT (the budget ran out before anything was
 * written), CM_E_INVALID, CM_E_NOMEM.
 */
#ifndef CM_KV_CLIENT_H
#define CM_KV_CLIENT_H

#include "cm_buf.h"
#include "cm_err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cm_kv_client cm_kv_client;
typedef struct cm_txn cm_txn;
typedef struct cm_txn_iter cm_txn_iter;
typedef struct cm_pd_client cm_pd_client;

typedef struct cm_kv_client_options {
    int64_t rpc_timeout_ms;  /* one attempt (default 1000: a dead store costs that) */
    int64_t retry_budget_ms; /* one operation's total (default 20000) */
    uint64_t lock_ttl_ms;    /* base TTL of this client's locks (default 3000) */
    uint32_t scan_page;      /* rows fetched per scan request (default 256) */
    uint32_t gc_page_keys;   /* user keys per KV_GC request (default 0: each request works
                              * ~300 ms on the store); tests set it to exercise paging */
} cm_kv_client_options;

void cm_kv_client_options_default(cm_kv_client_options *o);
/* o may be NULL (defaults). */
int cm_kv_client_create(const char *pd_addr, const cm_kv_client_options *o, cm_kv_client **out,
                        cm_err *err);
/* No transaction may still be in use. */
void cm_kv_client_free(cm_kv_client *c);
/* The client's PD client (borrowed), for timestamps and routes. */
cm_pd_client *cm_kv_client_pd(cm_kv_client *c);

/* Splits the region holding user key `key` at that key (administration; ctl split). */
int cm_kv_split(cm_kv_client *c, cm_slice key, cm_err *err);

/* ---- GC and range deletion (docs/kvclient.md "GC") ----------------------------------------- */

typedef struct cm_kv_gc_stats {
    uint64_t regions;          /* region passes completed */
    uint64_t requests;         /* KV_GC requests answered */
    uint64_t keys_scanned;     /* user keys looked at */
    uint64_t versions_deleted; /* write records removed */
    uint64_t values_deleted;   /* long values removed */
    uint64_t locks_resolved;   /* locks at or below the safe point resolved first */
} cm_kv_gc_stats;

/* Collects every region below safe_point (normally the value just stored in PD with
 * cm_pd_update_gc_safe_point): first announces the safe point to every store PD knows that is
 * not a tombstone (each refuses reads and prewrites below it from then on; if one cannot be
 * reached nothing is deleted and the call fails with its error), then walks the regions in key
 * order with KV_GC — locks at or below the safe point are resolved first (CheckTxnStatus on
 * their primaries, then ResolveLock) — keeping for every key the newest version at or below
 * the safe point. Region errors are retried like other calls (within retry_budget_ms of no
 * progress). Idempotent. */
int cm_kv_gc(cm_kv_client *c, uint64_t safe_point, cm_err *err);
/* The same over user keys [start, end) (end empty: to the end), with figures (st may be NULL;
 * it is added to). */
int cm_kv_gc_range(cm_kv_client *c, uint64_t safe_point, cm_slice start, cm_slice end,
                   cm_kv_gc_stats *st, cm_err *err);
/* Removes every version and lock of user keys [start, end) (end empty: to the end of the key
 * space), region by region, each through Raft on every replica. Not transactional: for data
 * nobody reads or writes any more (dropped tables and indexes, after the safe point passed the
 * drop). */
int cm_kv_delete_range(cm_kv_client *c, cm_slice start, cm_slice end, cm_err *err);
/* The same; *regions (may be NULL) receives the number of regions the range was removed from. */
int cm_kv_delete_range_n(cm_kv_client *c, cm_slice start, cm_slice end, uint64_t *regions,
                         cm_err *err);

/* ---- transactions ------------------------------------------------------------------------- */

int cm_txn_begin(cm_kv_client *c, cm_txn **out, cm_err *err);
/* A read-only view (or a transaction) at a given start_ts. */
int cm_txn_begin_at(cm_kv_client *c, uint64_t start_ts, cm_txn **out, cm_err *err);
uint64_t cm_txn_start_ts(const cm_txn *t);
/* After a successful commit: its commit_ts (0 for a transaction that wrote nothing). */
uint64_t cm_txn_commit_ts(const cm_txn *t);

/* value is reset and receives the value. CM_E_NOT_FOUND when absent (or deleted here). */
int cm_txn_get(cm_txn *t, cm_slice key, cm_buf *value, cm_err *err);
/* values[i] (initialized by the caller) and found[i] for each of n keys (any order, duplicates
 * allowed). */
int cm_txn_batch_get(cm_txn *t, const cm_slice *keys, size_t n, cm_buf *values, bool *found,
                     cm_err *err);
int cm_txn_set(cm_txn *t, cm_slice key, cm_slice value, cm_err *err);
int cm_txn_delete(cm_txn *t, cm_slice key, cm_err *err);
/* Lock-only mutation: the key conflicts like a write at commit, its value does not change. */
int cm_txn_lock(cm_txn *t, cm_slice key, cm_err *err);

/* Forward scan of [start, end) (empty end: to the end of the key space) at start_ts merged with
 * the buffer. Keys and values returned by next are borrowed until the next call. */
int cm_txn_scan(cm_txn *t, cm_slice start, cm_slice end, cm_txn_iter **out, cm_err *err);
/* 1 with a pair, 0 at the end, or an error. */
int cm_txn_iter_next(cm_txn_iter *it, cm_slice *key, cm_slice *value, cm_err *err);
void cm_txn_iter_free(cm_txn_iter *it);

/* Statement staging: nested checkpoints of the write buffer. checkpoint returns an id >= 1. */
int cm_txn_checkpoint(cm_txn *t);
int cm_txn_rollback_to(cm_txn *t, int id);
int cm_txn_release(cm_txn *t, int id);
/* Mutations buffered now. */
size_t cm_txn_size(const cm_txn *t);

/* Two-phase commit (see the errors above). The transaction can only be freed afterwards. */
int cm_txn_commit(cm_txn *t, cm_err *err);
/* Commit check: cb runs inside cm_txn_commit after every prewrite succeeded and commit_ts was
 * fetched, before the primary commits (the last moment the transaction can still be refused).
 * A non-zero return (err filled by cb) rolls the transaction back and cm_txn_commit returns it.
 * The sqlnode checks there that no table it wrote changed its schema (DESIGN.md §8). cb NULL:
 * none. Not called for a transaction that wrote nothing. */
typedef int (*cm_txn_commit_check_fn)(void *user, uint64_t commit_ts, cm_err *err);
void cm_txn_set_commit_check(cm_txn *t, cm_txn_commit_check_fn cb, void *user);
/* Frees the transaction; one that prewrote and did not commit is rolled back first. */
void cm_txn_free(cm_txn *t);

/* Testing hook: prewrite every mutation and stop (as if the client died after prewrite). */
int cm_txn_prewrite_only(cm_txn *t, cm_err *err);

/* ---- coprocessor ------------------------------------------------------------------------- */

typedef struct cm_copr_col {
    uint32_t id;
    uint8_t type; /* cm_dtype */
} cm_copr_col;

/* Row callback: key and the response's per-column bytes (docs/kv-protocol.md), borrowed.
 * Return non-zero to stop. */
typedef int (*cm_copr_row_cb)(void *user, cm_slice key, cm_slice cols);

/* Table scan of [start, end) at ts returning columns cols (borrowed), across regions, in key
 * order; locks met are resolved and the page retried. */
int cm_kv_copr_scan(cm_kv_client *c, cm_slice start, cm_slice end, uint64_t ts,
                    const cm_copr_col *cols, size_t ncols, cm_copr_row_cb cb, void *user,
                    cm_err *err);

/* ---- coprocessor plans (common/copr/cm_copr.h) ----------------------------------------------
 * cm_kv_copr runs one encoded plan (tp CM_COPR_REQ_DAG) over [start, end) at ts on every region
 * the range touches: up to o->concurrency regions in flight at once (threads of the client,
 * bounded; memory bounded by concurrency × one page), each region paged with its resume key,
 * locks resolved and the page retried, region errors (epoch, not leader) re-routed. cb gets each
 * response's data (borrowed until it returns), always on the caller's thread; with o->ordered
 * in key order (scans), otherwise as they arrive (aggregates, TopN). cb returns non-zero to
 * stop: outstanding requests are abandoned and cm_kv_copr returns 0. */
#define CM_KV_COPR_CONCURRENCY_DEFAULT 4
#define CM_KV_COPR_CONCURRENCY_MAX     16
typedef struct cm_kv_copr_opts {
    uint32_t concurrency; /* 0: CM_KV_COPR_CONCURRENCY_DEFAULT; capped at _MAX */
    uint32_t paging_size; /* rows per page; 0: the client's scan_page */
    bool ordered;
} cm_kv_copr_opts;
typedef int (*cm_kv_copr_cb)(void *user, cm_slice data);
int cm_kv_copr(cm_kv_client *c, cm_slice plan, cm_slice start, cm_slice end, uint64_t ts,
               const cm_kv_copr_opts *o, cm_kv_copr_cb cb, void *user, cm_err *err);

typedef struct cm_kv_client_stats {
    uint64_t rpcs;
    uint64_t region_errors;
    uint64_t retries;
    uint64_t locks_resolved;
    uint64_t commits;
    uint64_t conflicts;
    uint64_t undetermined;
} cm_kv_client_stats;
void cm_kv_client_stats_get(cm_kv_client *c, cm_kv_client_stats *out);

#endif
