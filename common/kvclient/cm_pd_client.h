/*
 * cm_pd_client.h — the PD client used by kvnodes, sqlnodes and tools (docs/pd.md).
 *
 * One client per process is enough: every function is thread-safe and calls from many threads
 * share one RPC connection (common/rpc keeps many requests in flight on it).
 *
 * Timestamps: cm_pd_get_ts batches concurrent callers under the rule of cm_tso_batch.h — a
 * caller only ever joins a batch that has not been sent yet, so a timestamp obtained after
 * another call returned is always larger than what that call returned.
 *
 * Routes: cm_pd_locate_key / cm_pd_locate_id answer from a cache and ask PD on a miss. When a
 * store answers NotLeader / EpochNotMatch / RegionNotFound, the caller invalidates the region
 * (cm_pd_invalidate_region) and locates again. Store addresses are cached the same way.
 *
 * Failures: the RPC layer reconnects by itself after PD restarts. Calls that are safe to repeat
 * (reads, timestamps, ids, heartbeats, registry puts/deletes, GC safe point updates — see
 * docs/pd.md) are retried on CM_E_TIMEOUT / CM_E_UNAVAILABLE / CM_E_CLOSED until
 * retry_budget_ms has passed, with backoff. Election calls (campaign, renew, resign) are sent
 * once: their caller owns the timing of its lease. Errors PD reports come back as their CM_E_*
 * code with PD's message (e.g. CM_E_STALE_EPOCH, CM_E_REGION_NOT_FOUND, CM_E_NOT_FOUND).
 *
 * Cluster id: learned from PD's first reply and sent with every request afterwards; a reply
 * from a different cluster fails with CM_E_INVALID.
 *
 * Ownership: outputs are written into caller-provided structs; regions must be initialized
 * with cm_pd_region_init and freed with cm_pd_region_fini; arrays returned through `**out`
 * are owned by the caller (cm_pd_regions_free / free()).
 */
#ifndef CM_PD_CLIENT_H
#define CM_PD_CLIENT_H

#include "cm_buf.h"
#include "cm_err.h"
#include "cm_pd_types.h"
#include "cm_tso_batch.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cm_pd_client cm_pd_client;

typedef struct cm_pd_client_options {
    int64_t request_timeout_ms; /* one RPC attempt (default 3000) */
    int64_t retry_budget_ms;    /* total time spent retrying a safe call (default 10000) */
    uint32_t tso_batch_max;     /* most callers one TSO request serves (default 10000) */
    size_t region_cache_max;    /* cached regions before the cache is cleared (default 100000) */
} cm_pd_client_options;

void cm_pd_client_options_default(cm_pd_client_options *o);

/* Creates a client for PD at addr ("host:port"). Does not wait for PD: calls do. `o` may be
 * NULL (defaults). */
int cm_pd_client_create(const char *addr, const cm_pd_client_options *o, cm_pd_client **out,
                        cm_err *err);
/* No call may be in progress. */
void cm_pd_client_free(cm_pd_client *c);
/* 0 until the first reply from PD. */
uint64_t cm_pd_client_cluster_id(cm_pd_client *c);

/* ---- members ------------------------------------------------------------------------------ */
typedef struct cm_pd_members {
    uint64_t cluster_id;
    char name[128];
    char advertise_addr[CM_ADDR_MAX];
    int bootstrapped;
    uint64_t start_wall_ms;
    char version[64];
} cm_pd_members;
int cm_pd_get_members(cm_pd_client *c, cm_pd_members *out, cm_err *err);

/* ---- timestamps and ids -------------------------------------------------------------------- */
/* One timestamp (batched with concurrent callers). */
int cm_pd_get_ts(cm_pd_client *c, uint64_t *ts, cm_err *err);
/* `count` consecutive timestamps in one unbatched request (tools, benchmarks). */
int cm_pd_get_ts_n(cm_pd_client *c, uint32_t count, uint64_t *first, cm_err *err);
static inline uint64_t cm_pd_ts_physical_ms(uint64_t ts)
{
    return ts >> 18;
}
static inline uint32_t cm_pd_ts_logical(uint64_t ts)
{
    return (uint32_t)(ts & ((1u << 18) - 1));
}
/* `count` (1..10000) consecutive ids *first .. *first + count - 1. */
int cm_pd_alloc_ids(cm_pd_client *c, uint32_t count, uint64_t *first, cm_err *err);

/* ---- stores ------------------------------------------------------------------------------ */
/* Registers (or re-registers) a store; s->id comes from cm_pd_alloc_ids. When the reply carries
 * the bootstrap region (see docs/pd.md), it is copied to *bootstrap (initialized by the caller)
 * and *has_bootstrap is set. */
int cm_pd_put_store(cm_pd_client *c, const cm_pd_store *s, cm_pd_region *bootstrap,
                    int *has_bootstrap, cm_err *err);
int cm_pd_store_heartbeat(cm_pd_client *c, const cm_pd_store_stats *st, cm_err *err);
int cm_pd_set_store_state(cm_pd_client *c, uint64_t store_id, int meta_state, cm_err *err);
/* Fresh from PD (also refreshes the store cache). CM_E_NOT_FOUND for an unknown store. */
int cm_pd_get_store(cm_pd_client *c, uint64_t store_id, cm_pd_store *out, cm_err *err);
/* Every store in id order; *out is malloc'ed (free()). */
int cm_pd_get_all_stores(cm_pd_client *c, int exclude_tombstone, cm_pd_store **out, size_t *n,
                         cm_err *err);
/* A store's RPC address, from the cache or PD. */
int cm_pd_store_addr(cm_pd_client *c, uint64_t store_id, char *addr, size_t cap, cm_err *err);
void cm_pd_invalidate_store(cm_pd_client *c, uint64_t store_id);

/* ---- regions ----------------------------------------------------------------------------- */
/* A leader's report. CM_E_STALE_EPOCH when PD holds something newer (nothing changed). */
int cm_pd_region_heartbeat(cm_pd_client *c, const cm_pd_region *r, cm_err *err);
/* The same, also reporting the peers the leader sees behind (pending, borrowed; may be NULL
 * with npending 0), and returning PD's operator for the region in *op (kind CM_PD_OP_NONE when
 * there is none, or when the call failed). An operator of an unknown kind is returned as NONE. */
int cm_pd_region_heartbeat_op(cm_pd_client *c, const cm_pd_region *r, const cm_pd_peer *pending,
                              uint32_t npending, cm_pd_operator *op, cm_err *err);
/* Routes through the cache; CM_E_REGION_NOT_FOUND when no region covers the key. */
int cm_pd_locate_key(cm_pd_client *c, cm_slice key, cm_pd_region *out, cm_err *err);
int cm_pd_locate_id(cm_pd_client *c, uint64_t region_id, cm_pd_region *out, cm_err *err);
/* Fresh from PD, bypassing (and refreshing) the cache. */
int cm_pd_get_region(cm_pd_client *c, cm_slice key, cm_pd_region *out, cm_err *err);
int cm_pd_get_region_by_id(cm_pd_client *c, uint64_t region_id, cm_pd_region *out, cm_err *err);
/* Regions overlapping [start, end) (end empty: +inf) in key order, at most limit (0: PD's
 * maximum per reply). *out is owned by the caller (cm_pd_regions_free). */
int cm_pd_scan_regions(cm_pd_client *c, cm_slice start, cm_slice end, uint32_t limit,
                       cm_pd_region **out, size_t *n, cm_err *err);
void cm_pd_invalidate_region(cm_pd_client *c, uint64_t region_id);
void cm_pd_invalidate_all_regions(cm_pd_client *c);

/* ---- GC safe point ----------------------------------------------------------------------- */
int cm_pd_get_gc_safe_point(cm_pd_client *c, uint64_t *sp, cm_err *err);
/* Moves the safe point up; *now_sp receives PD's safe point after the call (a lower request
 * is ignored by PD, so *now_sp may be above sp). */
int cm_pd_update_gc_safe_point(cm_pd_client *c, uint64_t sp, uint64_t *now_sp, cm_err *err);

/* ---- registry for the SQL layer ----------------------------------------------------------- */
typedef struct cm_pd_lease {
    int granted;
    char owner[257]; /* "" when none */
    uint64_t term;
    uint64_t ttl_left_ms;
} cm_pd_lease;
/* Count the lease from *before* the call on the caller's monotonic clock (docs/pd.md). */
int cm_pd_campaign(cm_pd_client *c, const char *name, const char *candidate, uint64_t ttl_ms,
                   cm_pd_lease *out, cm_err *err);
/* CM_E_NOT_FOUND: the lease is lost. */
int cm_pd_renew(cm_pd_client *c, const char *name, const char *candidate, uint64_t term,
                uint64_t ttl_ms, uint64_t *ttl_left_ms, cm_err *err);
int cm_pd_resign(cm_pd_client *c, const char *name, const char *candidate, uint64_t term,
                 cm_err *err);
int cm_pd_get_owner(cm_pd_client *c, const char *name, cm_pd_lease *out, cm_err *err);
int cm_pd_registry_put(cm_pd_client *c, const char *key, cm_slice value, uint64_t ttl_ms,
                       cm_err *err);
/* Appends the value to *value; CM_E_NOT_FOUND when absent or expired. */
int cm_pd_registry_get(cm_pd_client *c, const char *key, cm_buf *value, uint64_t *ttl_left_ms,
                       cm_err *err);
/* cb sees each live entry under prefix in key order (borrowed data); returns non-zero to stop. */
typedef int (*cm_pd_registry_cb)(void *user, const char *key, cm_slice value, uint64_t ttl_left_ms);
int cm_pd_registry_list(cm_pd_client *c, const char *prefix, uint32_t limit, cm_pd_registry_cb cb,
                        void *user, cm_err *err);
int cm_pd_registry_delete(cm_pd_client *c, const char *key, int *deleted, cm_err *err);

/* ---- statistics -------------------------------------------------------------------------- */
typedef struct cm_pd_client_stats {
    cm_tso_batch_stats tso;
    uint64_t calls;          /* RPC attempts */
    uint64_t retries;        /* attempts after the first */
    uint64_t route_hits;     /* cm_pd_locate_* answered by the cache */
    uint64_t route_misses;   /* ... that asked PD */
    uint64_t region_entries; /* regions in the cache now */
} cm_pd_client_stats;
void cm_pd_client_stats_get(cm_pd_client *c, cm_pd_client_stats *out);

#endif
