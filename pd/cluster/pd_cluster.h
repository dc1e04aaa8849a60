/*
 * pd_cluster.h — the cluster map: cluster id and bootstrap, stores, regions, GC safe point, and
 * their persistence in PD's storage. One lock guards it all (heartbeats are short; the TSO,
 * the id allocator and the registry have locks of their own so they never wait on it).
 *
 * Bootstrap (docs/pd.md): the cluster id is generated at PD's first start and persisted; the
 * first region, covering the whole key space, is created when the first store registers, with
 * one peer on that store. The store learns it from its PutStore reply (bootstrap_region) and
 * creates the peer.
 *
 * Storage layout: meta/cluster_id, meta/bootstrap (store id, region id), store/<id be64>
 * (metapb.Store), region/<id be64> (pdpb.RegionInfo), gc/safe_point. Store and bootstrap writes
 * are synced; region writes are not (a region lost by a crash is re-learned from the next
 * heartbeat of its leader, and staleness checks keep older reports out).
 */
#ifndef PD_CLUSTER_H
#define PD_CLUSTER_H

#include "cm_err.h"
#include "pd_id.h"
#include "pd_kv.h"
#include "pd_region.h"
#include "pd_store.h"

#include <pthread.h>
#include <stdint.h>

typedef struct pd_cluster_options {
    uint64_t heartbeat_timeout_ms; /* store Up -> Disconnected */
    uint64_t max_down_time_ms;     /* store Disconnected -> Down */
    uint64_t new_cluster_id;       /* used only when none is persisted yet; non-zero */
} pd_cluster_options;

typedef struct pd_cluster_stats {
    uint64_t region_heartbeats;
    uint64_t region_stale;   /* reports refused as stale */
    uint64_t region_updates; /* reports that changed the map */
    uint64_t store_heartbeats;
} pd_cluster_stats;

typedef struct pd_cluster {
    pthread_mutex_t mu;
    pd_kv *kv;        /* borrowed */
    pd_id_alloc *ids; /* borrowed */
    uint64_t cluster_id;
    int bootstrapped;
    uint64_t bootstrap_store_id;
    uint64_t bootstrap_region_id;
    pd_store_table stores;
    pd_region_tree regions;
    uint64_t gc_safe_point;
    pd_cluster_stats stats;
} pd_cluster;

/* Loads (or creates) the cluster state. kv and ids are borrowed and must outlive c. */
int pd_cluster_open(pd_cluster *c, pd_kv *kv, pd_id_alloc *ids, const pd_cluster_options *o,
                    uint64_t now_ms, cm_err *err);
void pd_cluster_close(pd_cluster *c);

uint64_t pd_cluster_id(pd_cluster *c);
int pd_cluster_is_bootstrapped(pd_cluster *c);

/* Registers or updates a store. When this registration bootstraps the cluster, or when the store
 * is the bootstrap store and the first region is still exactly as created, *bootstrap (an
 * initialized region) receives that region and *has_bootstrap is set. */
int pd_cluster_put_store(pd_cluster *c, const pd_store *s, uint64_t now_ms, pd_region *bootstrap,
                         int *has_bootstrap, cm_err *err);
int pd_cluster_store_heartbeat(pd_cluster *c, uint64_t store_id, const pd_store_stats *st,
                               uint64_t now_ms, cm_err *err);
int pd_cluster_set_store_state(pd_cluster *c, uint64_t store_id, int meta_state, cm_err *err);
/* Copies a store out. CM_E_NOT_FOUND when unknown. */
int pd_cluster_get_store(pd_cluster *c, uint64_t store_id, uint64_t now_ms, pd_store *out,
                         pd_store_live *live, cm_err *err);
/* Visits stores in id order under the lock (cb must not call back into the cluster). */
void pd_cluster_foreach_store(pd_cluster *c, uint64_t now_ms, int exclude_tombstone,
                              int (*cb)(void *user, const pd_store *s, pd_store_live live),
                              void *user);
void pd_cluster_store_counts(pd_cluster *c, uint64_t now_ms, uint64_t counts[PD_STORE_LIVE_COUNT]);

/* A leader's region report (validated by the caller with pd_region_validate). 0 when accepted,
 * CM_E_STALE_EPOCH (nothing changed) when stale. */
int pd_cluster_region_heartbeat(pd_cluster *c, const pd_region *r, cm_err *err);
/* Copy the region covering key / with id into *out (initialized). CM_E_REGION_NOT_FOUND. */
int pd_cluster_region_by_key(pd_cluster *c, cm_slice key, pd_region *out, cm_err *err);
int pd_cluster_region_by_id(pd_cluster *c, uint64_t id, pd_region *out, cm_err *err);
/* Visits regions overlapping [start, end) in key order under the lock, at most limit. */
void pd_cluster_scan_regions(pd_cluster *c, cm_slice start, cm_slice end, size_t limit,
                             pd_region_visit_cb cb, void *user);
uint64_t pd_cluster_region_count(pd_cluster *c);

uint64_t pd_cluster_gc_safe_point(pd_cluster *c);
/* Moves the safe point up to sp; a lower or equal sp is ignored (no error). *now_sp receives the
 * safe point after the call. CM_E_IO when it cannot be persisted. */
int pd_cluster_update_gc_safe_point(pd_cluster *c, uint64_t sp, uint64_t *now_sp, cm_err *err);

void pd_cluster_get_stats(pd_cluster *c, pd_cluster_stats *out);

#endif
