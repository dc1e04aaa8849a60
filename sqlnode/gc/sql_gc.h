/*
 * sql_gc.h — the GC worker of the SQL layer (DESIGN.md §6) and the delete-range queue.
 *
 * One sqlnode at a time (the owner of the PD lease "gc_owner") runs the worker: every
 * `interval_ms` (10 min) it moves PD's GC safe point to now − gc_life_time (10 min), but never
 * past the oldest start_ts of a transaction still running on any sqlnode (each node publishes
 * its own oldest start_ts in PD's registry under "gc/txn/<node>" with a TTL), then asks every
 * region to collect versions below the safe point (KV_GC), and runs the queued delete ranges
 * whose drop happened before the safe point (KV_DELETE_RANGE) — the data of dropped and
 * truncated tables and of dropped indexes.
 *
 * Queue format (metadata keys, written by the catalog inside the DDL's own transaction so the
 * drop and its cleanup commit together): see sql_gc_queue_delete_range.
 */
#ifndef SQL_GC_H
#define SQL_GC_H

#include "cm_buf.h"
#include "cm_err.h"
#include "cm_kv_client.h"

#include <stdint.h>

/* Queues the removal of user keys [start, end) once the safe point passes ts (the dropping
 * transaction's start_ts). Staged in t; takes effect if t commits. */
int sql_gc_queue_delete_range(cm_txn *t, uint64_t ts, cm_slice start, cm_slice end, cm_err *err);

typedef struct sql_gc sql_gc;

typedef struct sql_gc_options {
    const char *node_name; /* this sqlnode's name in the registry (its advertised address) */
    int64_t life_time_ms;  /* gc_life_time: 600000 */
    int64_t interval_ms;   /* run every: 600000 */
    int64_t publish_ms;    /* how often this node publishes its oldest start_ts: 1000 */
} sql_gc_options;
void sql_gc_options_default(sql_gc_options *o);

/* Starts the worker thread (campaigns for the lease, publishes this node's running
 * transactions). kc is borrowed. */
int sql_gc_start(cm_kv_client *kc, const sql_gc_options *o, sql_gc **out, cm_err *err);
void sql_gc_stop(sql_gc *g);

/* Sessions register each transaction they run so the safe point never passes it. Thread-safe,
 * O(1) amortized. */
int sql_gc_txn_begin(sql_gc *g, uint64_t start_ts);
void sql_gc_txn_end(sql_gc *g, uint64_t start_ts);

/* Runs one round now (tests and ADMIN): returns the safe point set. */
int sql_gc_run_once(sql_gc *g, uint64_t *safe_point, cm_err *err);

/* ---- added by the gc module (docs/sql-layer.md "GC") -------------------------------------- */

/* The PD lease and the registry prefix the worker uses. */
#define SQL_GC_OWNER_LEASE        "gc_owner"
#define SQL_GC_TXN_PREFIX         "gc/txn/"
#define SQL_GC_QUEUE_NAME         "gc_delete_range" /* metadata hash holding the queue */
#define SQL_GC_LEASE_TTL_MS       10000             /* the owner renews every third of it */
#define SQL_GC_PUBLISH_TTL_X      5                 /* registry entries live 5 x publish_ms ... */
#define SQL_GC_PUBLISH_TTL_MIN_MS 3000              /* ... and at least 3 s */

typedef struct sql_gc_stats {
    uint64_t rounds;         /* rounds run (this node as owner) */
    uint64_t safe_point;     /* PD's safe point after the last round */
    uint64_t ranges_done;    /* queued delete ranges run and dequeued */
    uint64_t ranges_waiting; /* queued ranges seen above the safe point in the last round */
    uint64_t publishes;      /* registry puts of this node's oldest start_ts */
    uint64_t errors;         /* rounds or publishes that failed */
    int owner;               /* holds the lease now */
    char last_error[160];
} sql_gc_stats;
void sql_gc_stats_get(sql_gc *g, sql_gc_stats *out);

/* The safe point a round may set: now − life_time (TSO time, logical 0), but below the oldest
 * running start_ts when there is one (0: none). 0 when no safe point can be set yet. Pure. */
uint64_t sql_gc_compute_safe_point(uint64_t now_ts, int64_t life_time_ms, uint64_t oldest_running);

/* Queue entries: key = metadata hash field of SQL_GC_QUEUE_NAME with field u64be(ts) ‖ start
 * (fields sort by ts); value = uvarint len ‖ start ‖ uvarint len ‖ end. */
int sql_gc_queue_key(cm_buf *key, uint64_t ts, cm_slice start, cm_err *err);
int sql_gc_queue_value(cm_buf *value, cm_slice start, cm_slice end, cm_err *err);
/* Decodes one queue entry; start and end point into value (borrowed). CM_E_CORRUPT if
 * malformed. */
int sql_gc_queue_decode(cm_slice key, cm_slice value, uint64_t *ts, cm_slice *start, cm_slice *end,
                        cm_err *err);
/* [start, end) of every queue key. */
int sql_gc_queue_range(cm_buf *start, cm_buf *end, cm_err *err);

/* The running-transaction multiset behind sql_gc_txn_begin/end: open addressing, O(1)
 * amortized add/remove, O(capacity) min (taken once per publish). Not thread-safe by itself. */
typedef struct sql_gc_txnset {
    uint64_t *ts; /* 0: empty slot (0 is never a start_ts) */
    uint32_t *count;
    size_t cap; /* power of two, or 0 */
    size_t used;
} sql_gc_txnset;
void sql_gc_txnset_init(sql_gc_txnset *s);
void sql_gc_txnset_fini(sql_gc_txnset *s);
int sql_gc_txnset_add(sql_gc_txnset *s, uint64_t ts);     /* 0, CM_E_INVALID (ts 0), CM_E_NOMEM */
void sql_gc_txnset_remove(sql_gc_txnset *s, uint64_t ts); /* one occurrence; absent: nothing */
uint64_t sql_gc_txnset_min(const sql_gc_txnset *s);       /* 0 when empty */
size_t sql_gc_txnset_size(const sql_gc_txnset *s);        /* distinct start_ts held */

#endif
