/* pd_pbconv.c — see pd_pbconv.h. */
#include "pd_pbconv.h"

#include <inttypes.h>
#include <string.h>

void pd_region_to_pb(const pd_region *r, pd_region_pb *out)
{
    memset(out, 0, sizeof(*out));
    tessera__pdpb__region_info__init(&out->info);
    tessera__metapb__region__init(&out->region);
    tessera__metapb__region_epoch__init(&out->epoch);
    tessera__metapb__peer__init(&out->leader);
    out->region.id = r->id;
    out->region.start_key.data = r->start_key.ptr;
    out->region.start_key.len = r->start_key.len;
    out->region.end_key.data = r->end_key.ptr;
    out->region.end_key.len = r->end_key.len;
    out->epoch.conf_ver = r->conf_ver;
    out->epoch.version = r->version;
    out->region.epoch = &out->epoch;
    for (uint32_t i = 0; i < r->npeers && i < PD_REGION_PEERS_MAX; i++) {
        tessera__metapb__peer__init(&out->peers[i]);
        out->peers[i].id = r->peers[i].id;
        out->peers[i].store_id = r->peers[i].store_id;
        out->peers[i].role = (Tessera__Metapb__PeerRole)r->peers[i].role;
        out->peer_ptrs[i] = &out->peers[i];
    }
    out->region.n_peers = r->npeers;
    out->region.peers = out->peer_ptrs;
    out->info.region = &out->region;
    if (r->leader.id != 0) {
        out->leader.id = r->leader.id;
        out->leader.store_id = r->leader.store_id;
        out->leader.role = (Tessera__Metapb__PeerRole)r->leader.role;
        out->info.leader = &out->leader;
    }
    out->info.approximate_size_bytes = r->approx_size_bytes;
    out->info.approximate_keys = r->approx_keys;
}

int pd_region_from_meta_pb(const Tessera__Metapb__Region *m, pd_region *out, cm_err *err)
{
    if (m == NULL) {
        return cm_err_set(err, CM_E_INVALID, "region: missing");
    }
    if (m->start_key.len > PD_REGION_KEY_BYTES_MAX || m->end_key.len > PD_REGION_KEY_BYTES_MAX) {
        return cm_err_set(err, CM_E_INVALID, "region %" PRIu64 ": key longer than %d bytes", m->id,
                          PD_REGION_KEY_BYTES_MAX);
    }
    if (m->n_peers > PD_REGION_PEERS_MAX) {
        return cm_err_set(err, CM_E_INVALID, "region %" PRIu64 ": %zu peers (max %d)", m->id,
                          m->n_peers, PD_REGION_PEERS_MAX);
    }
    out->id = m->id;
    cm_buf_reset(&out->start_key);
    cm_buf_reset(&out->end_key);
    if (cm_buf_append(&out->start_key, m->start_key.data, m->start_key.len) != 0 ||
        cm_buf_append(&out->end_key, m->end_key.data, m->end_key.len) != 0) {
        return cm_err_set(err, CM_E_NOMEM, "region: out of memory");
    }
    out->conf_ver = m->epoch ? m->epoch->conf_ver : 0;
    out->version = m->epoch ? m->epoch->version : 0;
    out->npeers = 0;
    for (size_t i = 0; i < m->n_peers; i++) {
        if (m->peers[i] == NULL) {
            return cm_err_set(err, CM_E_INVALID, "region %" PRIu64 ": null peer", m->id);
        }
        if ((uint32_t)m->peers[i]->role > 1) {
            return cm_err_set(err, CM_E_INVALID, "region %" PRIu64 ": unknown peer role %d", m->id,
                              (int)m->peers[i]->role);
        }
        out->peers[i].id = m->peers[i]->id;
        out->peers[i].store_id = m->peers[i]->store_id;
        out->peers[i].role = (uint32_t)m->peers[i]->role;
        out->npeers++;
    }
    memset(&out->leader, 0, sizeof(out->leader));
    out->approx_size_bytes = 0;
    out->approx_keys = 0;
    return pd_region_validate(out, err);
}

int pd_region_from_pb(const Tessera__Pdpb__RegionInfo *info, pd_region *out, cm_err *err)
{
    if (info == NULL || info->region == NULL) {
        return cm_err_set(err, CM_E_INVALID, "region info: missing region");
    }
    int rc = pd_region_from_meta_pb(info->region, out, err);
    if (rc != 0) {
        return rc;
    }
    if (info->leader != NULL && info->leader->id != 0) {
        out->leader.id = info->leader->id;
        out->leader.store_id = info->leader->store_id;
        out->leader.role = (uint32_t)info->leader->role;
    }
    out->approx_size_bytes = info->approximate_size_bytes;
    out->approx_keys = info->approximate_keys;
    return pd_region_validate(out, err);
}

void pd_store_to_pb(const pd_store *s, pd_store_live live, uint64_t heartbeat_age_ms,
                    pd_store_pb *out)
{
    memset(out, 0, sizeof(*out));
    tessera__pdpb__store_info__init(&out->info);
    tessera__metapb__store__init(&out->store);
    tessera__pdpb__store_stats__init(&out->stats);
    out->store.id = s->id;
    out->store.address = (char *)s->address;
    out->store.status_address = (char *)s->status_address;
    out->store.state = (Tessera__Metapb__StoreState)s->meta_state;
    out->store.start_ts_ms = s->start_ts_ms;
    out->stats.store_id = s->id;
    out->stats.capacity_bytes = s->stats.capacity_bytes;
    out->stats.available_bytes = s->stats.available_bytes;
    out->stats.used_bytes = s->stats.used_bytes;
    out->stats.region_count = s->stats.region_count;
    out->stats.leader_count = s->stats.leader_count;
    out->info.store = &out->store;
    out->info.stats = &out->stats;
    out->info.live_state = (Tessera__Pdpb__StoreLiveState)live;
    out->info.heartbeat_age_ms = heartbeat_age_ms;
}

int pd_store_from_pb(const Tessera__Metapb__Store *m, pd_store *out, cm_err *err)
{
    memset(out, 0, sizeof(*out));
    if (m == NULL) {
        return cm_err_set(err, CM_E_INVALID, "store: missing");
    }
    const char *addr = m->address ? m->address : "";
    const char *saddr = m->status_address ? m->status_address : "";
    if (strlen(addr) >= sizeof(out->address) || strlen(saddr) >= sizeof(out->status_address)) {
        return cm_err_set(err, CM_E_INVALID, "store %" PRIu64 ": address too long", m->id);
    }
    if ((int)m->state < PD_STORE_META_UP || (int)m->state > PD_STORE_META_TOMBSTONE) {
        return cm_err_set(err, CM_E_INVALID, "store %" PRIu64 ": unknown state %d", m->id,
                          (int)m->state);
    }
    out->id = m->id;
    memcpy(out->address, addr, strlen(addr) + 1);
    memcpy(out->status_address, saddr, strlen(saddr) + 1);
    out->meta_state = (int)m->state;
    out->start_ts_ms = m->start_ts_ms;
    return 0;
}

void pd_store_stats_from_pb(const Tessera__Pdpb__StoreStats *p, pd_store_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (p == NULL) {
        return;
    }
    out->capacity_bytes = p->capacity_bytes;
    out->available_bytes = p->available_bytes;
    out->used_bytes = p->used_bytes;
    out->region_count = p->region_count;
    out->leader_count = p->leader_count;
}
