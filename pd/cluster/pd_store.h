/*
 * pd_store.h — the stores (kvnodes) PD knows: registration, heartbeats, liveness.
 *
 * Liveness of a store whose metapb state is Up comes from the age of its last heartbeat on
 * PD's monotonic clock (passed in as now_ms, so tests need no sleeping):
 *   age < heartbeat_timeout_ms        Up
 *   age < max_down_time_ms            Disconnected (no new leaders or peers should go there)
 *   otherwise                         Down (its peers are to be replaced)
 * A store marked Offline (draining) or Tombstone (removed for good) reports that state instead.
 * A registration counts as a heartbeat; after a PD restart every store starts its clock anew.
 * Not thread-safe: the cluster's lock guards it.
 */
#ifndef PD_STORE_H
#define PD_STORE_H

#include "cm_err.h"
#include "cm_limits.h"
#include "pd_idmap.h"

#include <stdint.h>

typedef enum pd_store_live {
    PD_STORE_LIVE_UP = 0,
    PD_STORE_LIVE_DISCONNECTED = 1,
    PD_STORE_LIVE_DOWN = 2,
    PD_STORE_LIVE_OFFLINE = 3,
    PD_STORE_LIVE_TOMBSTONE = 4,
} pd_store_live;
#define PD_STORE_LIVE_COUNT 5
const char *pd_store_live_name(pd_store_live s);

/* metapb.StoreState values. */
#define PD_STORE_META_UP        0
#define PD_STORE_META_OFFLINE   1
#define PD_STORE_META_TOMBSTONE 2

typedef struct pd_store_stats {
    uint64_t capacity_bytes;
    uint64_t available_bytes;
    uint64_t used_bytes;
    uint32_t region_count;
    uint32_t leader_count;
} pd_store_stats;

typedef struct pd_store {
    uint64_t id;
    char address[CM_ADDR_MAX];
    char status_address[CM_ADDR_MAX];
    int meta_state; /* PD_STORE_META_* */
    uint64_t start_ts_ms;
    pd_store_stats stats;
    uint64_t last_heartbeat_ms; /* PD's monotonic clock */
} pd_store;

typedef struct pd_store_table {
    pd_idmap by_id;
    uint64_t heartbeat_timeout_ms;
    uint64_t max_down_time_ms;
} pd_store_table;

void pd_store_table_init(pd_store_table *t, uint64_t heartbeat_timeout_ms,
                         uint64_t max_down_time_ms);
void pd_store_table_fini(pd_store_table *t);

/* Checks a registration against the table without changing it: id non-zero, address present
 * and not used by another store that is not a Tombstone, not re-registering a Tombstone,
 * the table not full. CM_E_INVALID / CM_E_EXISTS / CM_E_BUSY with the reason. */
int pd_store_table_check_put(const pd_store_table *t, const pd_store *s, cm_err *err);
/* Adds or updates a store (after check_put). A known store keeps its stats and its metapb state
 * (Offline stays Offline); the registration counts as a heartbeat at now_ms. */
int pd_store_table_put(pd_store_table *t, const pd_store *s, uint64_t now_ms, cm_err *err);
/* Records a heartbeat. CM_E_NOT_FOUND for an unknown store; CM_E_INVALID for a Tombstone. */
int pd_store_table_heartbeat(pd_store_table *t, uint64_t id, const pd_store_stats *st,
                             uint64_t now_ms, cm_err *err);
/* Moves a store's metapb state: Up -> Offline, Offline -> Up, Offline -> Tombstone (only when
 * regions_on_store is 0), anything -> the same state. Others: CM_E_INVALID. */
int pd_store_table_set_state(pd_store_table *t, uint64_t id, int meta_state,
                             uint64_t regions_on_store, cm_err *err);
/* Borrowed; NULL when unknown. */
const pd_store *pd_store_table_get(const pd_store_table *t, uint64_t id);
pd_store_live pd_store_table_live(const pd_store_table *t, const pd_store *s, uint64_t now_ms);
/* Visits every store in id order; cb returns non-zero to stop. */
void pd_store_table_foreach(const pd_store_table *t, int (*cb)(void *user, const pd_store *s),
                            void *user);
/* counts[PD_STORE_LIVE_COUNT] by liveness. */
void pd_store_table_count(const pd_store_table *t, uint64_t now_ms,
                          uint64_t counts[PD_STORE_LIVE_COUNT]);
static inline size_t pd_store_table_size(const pd_store_table *t)
{
    return pd_idmap_count(&t->by_id);
}

#endif
