/*
 * kv_region.h — region metadata (proto/metapb.proto Region, in C): an id, a key range
 * [start_key, end_key), an epoch {conf_ver, version} and the peers (one per store) that replicate
 * it. This is what the raftstore persists, routes by and reports to PD.
 *
 * Keys are in the key space of the data column families (docs/raftstore.md, "keys"): the
 * memcomparable encoding of user keys, so a region boundary never falls between two versions of
 * one user key as long as split keys are encoded user keys without a timestamp. An empty
 * start_key is -infinity, an empty end_key +infinity.
 */
#ifndef KV_REGION_H
#define KV_REGION_H

#include "cm_buf.h"
#include "cm_err.h"
#include "cm_raft.h"

#include <stdbool.h>
#include <stdint.h>

/* Peers of one region: one per Raft member, so the Raft core's bound is ours. */
#define KV_REGION_PEERS_MAX CM_RAFT_MEMBERS_MAX

typedef enum kv_peer_role {
    KV_PEER_VOTER = 0,
    KV_PEER_LEARNER = 1,
} kv_peer_role;

typedef struct kv_peer {
    uint64_t id; /* Raft node id; unique in the cluster, allocated by PD */
    uint64_t store_id;
    uint8_t role; /* kv_peer_role */
} kv_peer;

typedef struct kv_epoch {
    uint64_t conf_ver; /* +1 on every membership change */
    uint64_t version;  /* +1 on every split */
} kv_epoch;

typedef struct kv_region {
    uint64_t id;
    cm_buf start_key; /* owned; empty = -infinity */
    cm_buf end_key;   /* owned; empty = +infinity */
    kv_epoch epoch;
    uint8_t n_peers;
    kv_peer peers[KV_REGION_PEERS_MAX];
} kv_region;

void kv_region_init(kv_region *r);
void kv_region_fini(kv_region *r);
/* Deep copy into dst (dst initialized). Returns 0 or CM_E_NOMEM. */
int kv_region_copy(kv_region *dst, const kv_region *src);
/* Replaces the range (keys copied). Returns 0 or CM_E_NOMEM. */
int kv_region_set_range(kv_region *r, cm_slice start, cm_slice end);

static inline cm_slice kv_region_start(const kv_region *r)
{
    return cm_buf_slice(&r->start_key);
}
static inline cm_slice kv_region_end(const kv_region *r)
{
    return cm_buf_slice(&r->end_key);
}
static inline bool kv_epoch_eq(kv_epoch a, kv_epoch b)
{
    return a.conf_ver == b.conf_ver && a.version == b.version;
}

/* Whether start <= key < end (empty end: no upper bound). */
bool kv_range_contains(cm_slice start, cm_slice end, cm_slice key);
/* Whether [s1, e1) and [s2, e2) share a key (empty ends are +infinity). */
bool kv_range_overlaps(cm_slice s1, cm_slice e1, cm_slice s2, cm_slice e2);
bool kv_region_contains(const kv_region *r, cm_slice key);

/* The peer with id peer_id / on store store_id, or NULL. */
const kv_peer *kv_region_peer(const kv_region *r, uint64_t peer_id);
const kv_peer *kv_region_peer_on_store(const kv_region *r, uint64_t store_id);
/* Adds a peer (CM_E_EXISTS if its id or store is present, CM_E_TOO_LARGE when full). */
int kv_region_add_peer(kv_region *r, const kv_peer *p);
/* Removes the peer with that id; false if absent. */
bool kv_region_remove_peer(kv_region *r, uint64_t peer_id);
/* The Raft configuration the peers describe (voters and learners). */
void kv_region_conf(const kv_region *r, cm_raft_conf *out);

/*
 * Compact encoding (for the raft column family and snapshots):
 *   u8 version (1) | uvarint id | bytes start | bytes end | uvarint conf_ver | uvarint version |
 *   u8 n_peers | n_peers * (uvarint id | uvarint store_id | u8 role)
 * bytes = uvarint length + data. Appends to out; returns 0 or CM_E_NOMEM.
 */
int kv_region_encode(const kv_region *r, cm_buf *out);
/* Decodes one region from rd into r (initialized; replaced). Bad input returns CM_E_CORRUPT with
 * a reason in err (may be NULL): truncation, too many peers, duplicate or zero peer ids or stores,
 * an unknown role, start >= end. */
int kv_region_decode(cm_reader *rd, kv_region *r, cm_err *err);

/* "id=7 [6162, 6364) epoch=2/3 peers=4@1,5@2,6@3L" into out (appended) for logs. */
void kv_region_describe(const kv_region *r, cm_buf *out);

#endif
