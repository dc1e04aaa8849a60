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

#endif
