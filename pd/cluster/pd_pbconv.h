/*
 * pd_pbconv.h — conversions between PD's structs (pd_region, pd_store) and the protobuf-c
 * messages of proto/ (wire and PD's own storage records).
 *
 * To protobuf: the holder structs carry every sub-message, so nothing is allocated; the message
 * borrows the source's key buffers and strings and is valid while the source is unchanged.
 * From protobuf: validates input from outside (lengths, limits) and returns CM_E_INVALID.
 */
#ifndef PD_PBCONV_H
#define PD_PBCONV_H

#include "cm_err.h"
#include "pd_region.h"
#include "pd_store.h"
#include "pdpb.pb-c.h"

typedef struct pd_region_pb {
    Tessera__Pdpb__RegionInfo info;
    Tessera__Metapb__Region region;
    Tessera__Metapb__RegionEpoch epoch;
    Tessera__Metapb__Peer peers[PD_REGION_PEERS_MAX];
    Tessera__Metapb__Peer *peer_ptrs[PD_REGION_PEERS_MAX];
    Tessera__Metapb__Peer leader;
} pd_region_pb;

/* Fills out (borrowing r's buffers); out->info is the message to pack. */
void pd_region_to_pb(const pd_region *r, pd_region_pb *out);
/* Only out->region (metapb.Region) is then meaningful. */
static inline Tessera__Metapb__Region *pd_region_pb_meta(pd_region_pb *p)
{
    return &p->region;
}
/* Converts a received RegionInfo (info->region must be present) into *out (initialized by the
 * caller) and validates it. */
int pd_region_from_pb(const Tessera__Pdpb__RegionInfo *info, pd_region *out, cm_err *err);
/* Same for a bare metapb.Region (leader unknown, no statistics). */
int pd_region_from_meta_pb(const Tessera__Metapb__Region *m, pd_region *out, cm_err *err);

typedef struct pd_store_pb {
    Tessera__Pdpb__StoreInfo info;
    Tessera__Metapb__Store store;
    Tessera__Pdpb__StoreStats stats;
} pd_store_pb;

void pd_store_to_pb(const pd_store *s, pd_store_live live, uint64_t heartbeat_age_ms,
                    pd_store_pb *out);
/* metapb.Store → pd_store (stats zero). CM_E_INVALID for over-long addresses or a bad state. */
int pd_store_from_pb(const Tessera__Metapb__Store *m, pd_store *out, cm_err *err);
void pd_store_stats_from_pb(const Tessera__Pdpb__StoreStats *p, pd_store_stats *out);

#endif
