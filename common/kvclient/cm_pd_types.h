/*
 * cm_pd_types.h — what the PD client hands to its callers: regions, peers, stores.
 * Plain C structs (not protobuf), so the sqlnode and kvnode never touch pdpb directly.
 */
#ifndef CM_PD_TYPES_H
#define CM_PD_TYPES_H

#include "cm_buf.h"
#include "cm_limits.h"

#include <stdint.h>

/* Peers per region: PD refuses reports with more (pd/pd_limits.h PD_REGION_PEERS_MAX). */
#define CM_PD_PEERS_MAX 16

typedef struct cm_pd_peer {
    uint64_t id; /* 0: none */
    uint64_t store_id;
    uint32_t role; /* 0 voter, 1 learner (metapb.PeerRole) */
} cm_pd_peer;

typedef struct cm_pd_region {
    uint64_t id;
    cm_buf start_key; /* owned */
    cm_buf end_key;   /* owned; empty: +infinity */
    uint64_t conf_ver;
    uint64_t version;
    cm_pd_peer peers[CM_PD_PEERS_MAX];
    uint32_t npeers;
    cm_pd_peer leader; /* id 0: unknown */
    uint64_t approx_size_bytes;
    uint64_t approx_keys;
} cm_pd_region;

void cm_pd_region_init(cm_pd_region *r);
void cm_pd_region_fini(cm_pd_region *r);
/* Deep copy into an initialized dst. 0 or CM_E_NOMEM. */
int cm_pd_region_copy(cm_pd_region *dst, const cm_pd_region *src);
/* Whether key lies in [start_key, end_key). */
int cm_pd_region_contains(const cm_pd_region *r, cm_slice key);
/* Frees an array returned by the client (each region, then the array). */
void cm_pd_regions_free(cm_pd_region *v, size_t n);

/* A scheduling step PD asks a region's leader to take (pdpb.Operator, docs/pd.md
 * "Scheduling"). The leader executes it only while its region has this id and epoch. */
typedef enum cm_pd_op_kind {
    CM_PD_OP_NONE = 0,
    CM_PD_OP_ADD_LEARNER = 1,     /* peer {id, store_id} joins as a learner */
    CM_PD_OP_PROMOTE_LEARNER = 2, /* learner peer.id becomes a voter */
    CM_PD_OP_REMOVE_PEER = 3,     /* peer.id leaves */
    CM_PD_OP_TRANSFER_LEADER = 4, /* leadership moves to voter peer.id */
} cm_pd_op_kind;

typedef struct cm_pd_operator {
    int kind; /* cm_pd_op_kind; CM_PD_OP_NONE: nothing to do */
    uint64_t region_id;
    uint64_t conf_ver;
    uint64_t version;
    cm_pd_peer peer;
} cm_pd_operator;

/* Store liveness as PD reports it. */
typedef enum cm_pd_store_live {
    CM_PD_STORE_UP = 0,
    CM_PD_STORE_DISCONNECTED = 1,
    CM_PD_STORE_DOWN = 2,
    CM_PD_STORE_OFFLINE = 3,
    CM_PD_STORE_TOMBSTONE = 4,
} cm_pd_store_live;
const char *cm_pd_store_live_name(int live);

/* metapb.StoreState */
#define CM_PD_STORE_META_UP        0
#define CM_PD_STORE_META_OFFLINE   1
#define CM_PD_STORE_META_TOMBSTONE 2

typedef struct cm_pd_store_stats {
    uint64_t store_id;
    uint64_t capacity_bytes;
    uint64_t available_bytes;
    uint64_t used_bytes;
    uint32_t region_count;
    uint32_t leader_count;
} cm_pd_store_stats;

typedef struct cm_pd_store {
    uint64_t id;
    char address[CM_ADDR_MAX];
    char status_address[CM_ADDR_MAX];
    int meta_state; /* CM_PD_STORE_META_* */
    uint64_t start_ts_ms;
    /* Filled by reads from PD (ignored by PutStore): */
    int live_state; /* cm_pd_store_live */
    uint64_t heartbeat_age_ms;
    cm_pd_store_stats stats;
} cm_pd_store;

#endif
