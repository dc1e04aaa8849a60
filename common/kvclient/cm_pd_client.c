/* cm_pd_client.c — the PD client; the contract is in cm_pd_client.h, the rules in docs/pd.md. */
#include "cm_pd_client.h"

#include "cm_assert.h"
#include "cm_log.h"
#include "cm_region_cache.h"
#include "cm_rpc.h"
#include "cm_time.h"
#include "pdpb.pb-c.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Backoff between retries of a safe call: starts small (PD restarts in well under a second)
 * and is capped so a recovered PD is noticed quickly. */
#define RETRY_BACKOFF_MIN_MS 10
#define RETRY_BACKOFF_MAX_MS 200
/* Most stores the address cache keeps (PD's own bound on stores, pd_limits.h). */
#define STORE_CACHE_MAX 4096

typedef struct store_addr {
    uint64_t id;
    char addr[CM_ADDR_MAX];
} store_addr;

struct cm_pd_client {
    cm_rpc_client *rpc;
    cm_pd_client_options opt;
    _Atomic uint64_t cluster_id;
    cm_tso_batcher *tso;
    cm_region_cache *regions;
    pthread_mutex_t stores_mu;
    store_addr *stores;
    size_t nstores, cap_stores;
    _Atomic uint64_t calls, retries, route_hits, route_misses;
};

void cm_pd_client_options_default(cm_pd_client_options *o)
{
    o->request_timeout_ms = 3000;
    o->retry_budget_ms = 10000;
    o->tso_batch_max = 10000;
    o->region_cache_max = 100000;
}

/* ---- the generic call -------------------------------------------------------------------- */

static int retryable(int rc)
{
    return rc == CM_E_TIMEOUT || rc == CM_E_UNAVAILABLE || rc == CM_E_CLOSED;
}

/* Every pdpb request and response has its header as field 1. */
static void set_request_header(ProtobufCMessage *req, Tessera__Pdpb__RequestHeader *hdr)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(req->descriptor, 1);
    CM_ASSERT(f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE);
    *(Tessera__Pdpb__RequestHeader **)((char *)req + f->offset) = hdr;
}

static const Tessera__Pdpb__ResponseHeader *response_header(const ProtobufCMessage *rep)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(rep->descriptor, 1);
    CM_ASSERT(f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE);
    return *(Tessera__Pdpb__ResponseHeader *const *)((const char *)rep + f->offset);
}

/* Checks PD's header: application error → its code; another cluster → CM_E_INVALID. */
static int check_header(cm_pd_client *c, const ProtobufCMessage *rep, cm_err *err)
{
    const Tessera__Pdpb__ResponseHeader *h = response_header(rep);
    if (h == NULL) {
        return cm_err_set(err, CM_E_RPC_BAD_MESSAGE, "pd: reply without header");
    }
    if (h->cluster_id != 0) {
        uint64_t expected = 0;
        if (!atomic_compare_exchange_strong(&c->cluster_id, &expected, h->cluster_id) &&
            expected != h->cluster_id) {
            return cm_err_set(err, CM_E_INVALID,
                              "pd: reply from cluster %" PRIu64 ", this client belongs to %" PRIu64,
                              h->cluster_id, expected);
        }
    }
    if (h->error != NULL && h->error->code != 0) {
        int code = cm_err_known(h->error->code) ? h->error->code : CM_E_INTERNAL;
        return cm_err_set(err, code, "%s", h->error->message ? h->error->message : "pd error");
    }
    return 0;
}

/* Sends req (its header is filled here) and unpacks the reply into *rep (free with
 * protobuf_c_message_free_unpacked). Safe calls are retried within the budget. */
static int pd_call(cm_pd_client *c, uint32_t method, ProtobufCMessage *req,
                   const ProtobufCMessageDescriptor *rep_desc, ProtobufCMessage **rep, int safe,
                   cm_err *err)
{
    Tessera__Pdpb__RequestHeader hdr = TESSERA__PDPB__REQUEST_HEADER__INIT;
    hdr.cluster_id = atomic_load(&c->cluster_id);
    set_request_header(req, &hdr);
    uint64_t start = cm_time_mono_ms();
    uint64_t budget = safe ? (uint64_t)c->opt.retry_budget_ms : 0;
    int64_t backoff = RETRY_BACKOFF_MIN_MS;
    for (int attempt = 0;; attempt++) {
        uint64_t elapsed = cm_time_mono_ms() - start;
        int64_t timeout = c->opt.request_timeout_ms;
        if (safe && attempt > 0 && (int64_t)(budget - elapsed) < timeout) {
            timeout = (int64_t)(budget - elapsed);
        }
        if (timeout < 1) {
            timeout = 1;
        }
        atomic_fetch_add(&c->calls, 1);
        if (attempt > 0) {
            atomic_fetch_add(&c->retries, 1);
        }
        *rep = NULL;
        int rc = cm_rpc_call_pb(c->rpc, method, req, rep_desc, rep, timeout, err);
        if (rc == 0) {
            rc = check_header(c, *rep, err);
            if (rc != 0) {
                protobuf_c_message_free_unpacked(*rep, NULL);
                *rep = NULL;
            }
            return rc;
        }
        elapsed = cm_time_mono_ms() - start;
        if (!safe || !retryable(rc) || elapsed + (uint64_t)backoff >= budget) {
            return rc;
        }
        CM_DEBUG("pd-client", "method %u failed (%s), retrying in %" PRId64 " ms", method,
                 err ? err->msg : cm_err_name(rc), backoff);
        cm_time_sleep_ms((uint64_t)backoff);
        backoff = backoff * 2 > RETRY_BACKOFF_MAX_MS ? RETRY_BACKOFF_MAX_MS : backoff * 2;
    }
}

#define PD_CALL(c, method, req, rep_type, rep, safe, err)                                          \
    pd_call((c), (method), (ProtobufCMessage *)(req), &tessera__pdpb__##rep_type##__descriptor,    \
            (ProtobufCMessage **)(rep), (safe), (err))

static void free_reply(void *rep)
{
    if (rep != NULL) {
        protobuf_c_message_free_unpacked((ProtobufCMessage *)rep, NULL);
    }
}

/* ---- conversions ------------------------------------------------------------------------- */

static int region_from_pb(const Tessera__Pdpb__RegionInfo *info, cm_pd_region *out, cm_err *err)
{
    if (info == NULL || info->region == NULL) {
        return cm_err_set(err, CM_E_RPC_BAD_MESSAGE, "pd: reply without region");
    }
    const Tessera__Metapb__Region *m = info->region;
    if (m->n_peers > CM_PD_PEERS_MAX) {
        return cm_err_set(err, CM_E_RPC_BAD_MESSAGE, "pd: region %" PRIu64 " with %zu peers", m->id,
                          m->n_peers);
    }
    out->id = m->id;
    cm_buf_reset(&out->start_key);
    cm_buf_reset(&out->end_key);
    if (cm_buf_append(&out->start_key, m->start_key.data, m->start_key.len) != 0 ||
        cm_buf_append(&out->end_key, m->end_key.data, m->end_key.len) != 0) {
        return cm_err_set(err, CM_E_NOMEM, "pd client: out of memory");
    }
    out->conf_ver = m->epoch ? m->epoch->conf_ver : 0;
    out->version = m->epoch ? m->epoch->version : 0;
    out->npeers = 0;
    for (size_t i = 0; i < m->n_peers; i++) {
        if (m->peers[i] == NULL) {
            return cm_err_set(err, CM_E_RPC_BAD_MESSAGE, "pd: null peer");
        }
        out->peers[i].id = m->peers[i]->id;
        out->peers[i].store_id = m->peers[i]->store_id;
        out->peers[i].role = (uint32_t)m->peers[i]->role;
        out->npeers++;
    }
    memset(&out->leader, 0, sizeof(out->leader));
    if (info->leader != NULL) {
        out->leader.id = info->leader->id;
        out->leader.store_id = info->leader->store_id;
        out->leader.role = (uint32_t)info->leader->role;
    }
    out->approx_size_bytes = info->approximate_size_bytes;
    out->approx_keys = info->approximate_keys;
    return 0;
}

typedef struct region_pb {
    Tessera__Pdpb__RegionInfo info;
    Tessera__Metapb__Region region;
    Tessera__Metapb__RegionEpoch epoch;
    Tessera__Metapb__Peer peers[CM_PD_PEERS_MAX];
    Tessera__Metapb__Peer *ptrs[CM_PD_PEERS_MAX];
    Tessera__Metapb__Peer leader;
} region_pb;

/* Borrows r's buffers. */
static void region_to_pb(const cm_pd_region *r, region_pb *p)
{
    tessera__pdpb__region_info__init(&p->info);
    tessera__metapb__region__init(&p->region);
    tessera__metapb__region_epoch__init(&p->epoch);
    tessera__metapb__peer__init(&p->leader);
    p->region.id = r->id;
    p->region.start_key.data = r->start_key.ptr;
    p->region.start_key.len = r->start_key.len;
    p->region.end_key.data = r->end_key.ptr;
    p->region.end_key.len = r->end_key.len;
    p->epoch.conf_ver = r->conf_ver;
    p->epoch.version = r->version;
    p->region.epoch = &p->epoch;
    uint32_t n = r->npeers < CM_PD_PEERS_MAX ? r->npeers : CM_PD_PEERS_MAX;
    for (uint32_t i = 0; i < n; i++) {
        tessera__metapb__peer__init(&p->peers[i]);
        p->peers[i].id = r->peers[i].id;
        p->peers[i].store_id = r->peers[i].store_id;
        p->peers[i].role = (Tessera__Metapb__PeerRole)r->peers[i].role;
        p->ptrs[i] = &p->peers[i];
    }
    p->region.n_peers = n;
    p->region.peers = p->ptrs;
    p->info.region = &p->region;
    if (r->leader.id != 0) {
        p->leader.id = r->leader.id;
        p->leader.store_id = r->leader.store_id;
        p->leader.role = (Tessera__Metapb__PeerRole)r->leader.role;
        p->info.leader = &p->leader;
    }
    p->info.approximate_size_bytes = r->approx_size_bytes;
    p->info.approximate_keys = r->approx_keys;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

static int store_from_pb(const Tessera__Pdpb__StoreInfo *si, cm_pd_store *out, cm_err *err)
{
    memset(out, 0, sizeof(*out));
    if (si == NULL || si->store == NULL) {
        return cm_err_set(err, CM_E_RPC_BAD_MESSAGE, "pd: reply without store");
    }
    out->id = si->store->id;
    copy_str(out->address, sizeof(out->address), si->store->address);
    copy_str(out->status_address, sizeof(out->status_address), si->store->status_address);
    out->meta_state = (int)si->store->state;
    out->start_ts_ms = si->store->start_ts_ms;
    out->live_state = (int)si->live_state;
    out->heartbeat_age_ms = si->heartbeat_age_ms;
    if (si->stats != NULL) {
        out->stats.store_id = si->stats->store_id;
        out->stats.capacity_bytes = si->stats->capacity_bytes;
        out->stats.available_bytes = si->stats->available_bytes;
        out->stats.used_bytes = si->stats->used_bytes;
        out->stats.region_count = si->stats->region_count;
        out->stats.leader_count = si->stats->leader_count;
    }
    return 0;
}

/* ---- lifecycle --------------------------------------------------------------------------- */

static int tso_fetch_cb(void *user, uint32_t count, uint64_t *first, cm_err *err)
{
    return cm_pd_get_ts_n(user, count, first, err);
}

int cm_pd_client_create(const char *addr, const cm_pd_client_options *o, cm_pd_client **out,
                        cm_err *err)
{
    cm_pd_client *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "pd client: out of memory");
    }
    if (o != NULL) {
        c->opt = *o;
    } else {
        cm_pd_client_options_default(&c->opt);
    }
    if (c->opt.request_timeout_ms <= 0 || c->opt.retry_budget_ms < 0 || c->opt.tso_batch_max == 0 ||
        c->opt.region_cache_max == 0) {
        free(c);
        return cm_err_set(err, CM_E_INVALID, "pd client: bad options");
    }
    pthread_mutex_init(&c->stores_mu, NULL);
    int rc = cm_rpc_client_create(addr, &c->rpc, err);
    if (rc == 0) {
        rc = cm_tso_batcher_create(tso_fetch_cb, c, c->opt.tso_batch_max, &c->tso, err);
    }
    if (rc == 0 && cm_region_cache_create(c->opt.region_cache_max, &c->regions) != 0) {
        rc = cm_err_set(err, CM_E_NOMEM, "pd client: out of memory");
    }
    if (rc != 0) {
        cm_pd_client_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void cm_pd_client_free(cm_pd_client *c)
{
    if (c == NULL) {
        return;
    }
    cm_tso_batcher_free(c->tso);
    cm_region_cache_free(c->regions);
    if (c->rpc != NULL) {
        cm_rpc_client_free(c->rpc);
    }
    free(c->stores);
    pthread_mutex_destroy(&c->stores_mu);
    free(c);
}

uint64_t cm_pd_client_cluster_id(cm_pd_client *c)
{
    return atomic_load(&c->cluster_id);
}

/* ---- members, timestamps, ids ------------------------------------------------------------ */

int cm_pd_get_members(cm_pd_client *c, cm_pd_members *out, cm_err *err)
{
    Tessera__Pdpb__GetMembersRequest req = TESSERA__PDPB__GET_MEMBERS_REQUEST__INIT;
    Tessera__Pdpb__GetMembersResponse *rep = NULL;
    int rc =
        PD_CALL(c, TESSERA__PDPB__METHOD__GET_MEMBERS, &req, get_members_response, &rep, 1, err);
    if (rc == 0) {
        memset(out, 0, sizeof(*out));
        out->cluster_id = rep->header->cluster_id;
        copy_str(out->name, sizeof(out->name), rep->name);
        copy_str(out->advertise_addr, sizeof(out->advertise_addr), rep->advertise_addr);
        out->bootstrapped = rep->bootstrapped;
        out->start_wall_ms = rep->start_wall_ms;
        copy_str(out->version, sizeof(out->version), rep->version);
    }
    free_reply(rep);
    return rc;
}

int cm_pd_get_ts(cm_pd_client *c, uint64_t *ts, cm_err *err)
{
    return cm_tso_batcher_get(c->tso, ts, err);
}

int cm_pd_get_ts_n(cm_pd_client *c, uint32_t count, uint64_t *first, cm_err *err)
{
    Tessera__Pdpb__TsoRequest req = TESSERA__PDPB__TSO_REQUEST__INIT;
    req.count = count;
    Tessera__Pdpb__TsoResponse *rep = NULL;
    /* Retrying is safe: a later request is served later, so it only gets larger timestamps;
     * the ones a lost reply carried are simply never used. */
    int rc = PD_CALL(c, TESSERA__PDPB__METHOD__TSO, &req, tso_response, &rep, 1, err);
    if (rc == 0) {
        if (rep->count != count || rep->first_ts == 0) {
            rc = cm_err_set(err, CM_E_RPC_BAD_MESSAGE, "pd: asked for %u timestamps, got %u", count,
                            rep->count);
        } else {
            *first = rep->first_ts;
        }
    }
    free_reply(rep);
    return rc;
}

int cm_pd_alloc_ids(cm_pd_client *c, uint32_t count, uint64_t *first, cm_err *err)
{
    Tessera__Pdpb__AllocIdRequest req = TESSERA__PDPB__ALLOC_ID_REQUEST__INIT;
    req.count = count;
    Tessera__Pdpb__AllocIdResponse *rep = NULL;
    int rc = PD_CALL(c, TESSERA__PDPB__METHOD__ALLOC_ID, &req, alloc_id_response, &rep, 1, err);
    if (rc == 0) {
        if (rep->count != count || rep->first_id == 0) {
            rc = cm_err_set(err, CM_E_RPC_BAD_MESSAGE, "pd: asked for %u ids, got %u", count,
                            rep->count);
        } else {
            *first = rep->first_id;
        }
    }
    free_reply(rep);
    return rc;
}

/* ---- stores ------------------------------------------------------------------------------ */

static void cache_store(cm_pd_client *c, uint64_t id, const char *addr)
{
    pthread_mutex_lock(&c->stores_mu);
    size_t i = 0;
    while (i < c->nstores && c->stores[i].id != id) {
        i++;
    }
    if (i == c->nstores) {
        if (c->nstores >= STORE_CACHE_MAX) {
            c->nstores = 0; /* full: start over rather than grow */
            i = 0;
        }
        if (c->nstores == c->cap_stores) {
            size_t cap = c->cap_stores ? c->cap_stores * 2 : 8;
            store_addr *v = realloc(c->stores, cap * sizeof(*v));
            if (v == NULL) {
                pthread_mutex_unlock(&c->stores_mu);
                return; /* not caching is always correct */
            }
            c->stores = v;
            c->cap_stores = cap;
        }
        c->nstores++;
    }
    c->stores[i].id = id;
    copy_str(c->stores[i].addr, sizeof(c->stores[i].addr), addr);
    pthread_mutex_unlock(&c->stores_mu);
}

void cm_pd_invalidate_store(cm_pd_client *c, uint64_t store_id)
{
    pthread_mutex_lock(&c->stores_mu);
    for (size_t i = 0; i < c->nstores; i++) {
        if (c->stores[i].id == store_id) {
            c->stores[i] = c->stores[c->nstores - 1];
            c->nstores--;
            break;
        }
    }
    pthread_mutex_unlock(&c->stores_mu);
}

int cm_pd_put_store(cm_pd_client *c, const cm_pd_store *s, cm_pd_region *bootstrap,
                    int *has_bootstrap, cm_err *err)
{
    *has_bootstrap = 0;
    Tessera__Metapb__Store st = TESSERA__METAPB__STORE__INIT;
    st.id = s->id;
    st.address = (char *)s->address;
    st.status_address = (char *)s->status_address;
    st.state = (Tessera__Metapb__StoreState)s->meta_state;
    st.start_ts_ms = s->start_ts_ms;
    Tessera__Pdpb__PutStoreRequest req = TESSERA__PDPB__PUT_STORE_REQUEST__INIT;
    req.store = &st;
    Tessera__Pdpb__PutStoreResponse *rep = NULL;
    int rc = PD_CALL(c, TESSERA__PDPB__METHOD__PUT_STORE, &req, put_store_response, &rep, 1, err);
    if (rc == 0 && rep->bootstrap_region != NULL) {
        Tessera__Pdpb__RegionInfo info = TESSERA__PDPB__REGION_INFO__INIT;
        info.region = rep->bootstrap_region;
        rc = region_from_pb(&info, bootstrap, err);
        *has_bootstrap = rc == 0;
    }
    free_reply(rep);
    return rc;
}

int cm_pd_store_heartbeat(cm_pd_client *c, const cm_pd_store_stats *s, cm_err *err)
{
    Tessera__Pdpb__StoreStats st = TESSERA__PDPB__STORE_STATS__INIT;
    st.store_id = s->store_id;
    st.capacity_bytes = s->capacity_bytes;
    st.available_bytes = s->available_bytes;
    st.used_bytes = s->used_bytes;
    st.region_count = s->region_count;
    st.leader_count = s->leader_count;
    Tessera__Pdpb__StoreHeartbeatRequest req = TESSERA__PDPB__STORE_HEARTBEAT_REQUEST__INIT;
    req.stats = &st;
    Tessera__Pdpb__StoreHeartbeatResponse *rep = NULL;
    int rc = PD_CALL(c, TESSERA__PDPB__METHOD__STORE_HEARTBEAT, &req, store_heartbeat_response,
                     &rep, 1, err);
    free_reply(rep);
    return rc;
}

int cm_pd_set_store_state(cm_pd_client *c, uint64_t store_id, int meta_state, cm_err *err)
{
    Tessera__Pdpb__SetStoreStateRequest req = TESSERA__PDPB__SET_STORE_STATE_REQUEST__INIT;
    req.store_id = store_id;
    req.state = (Tessera__Metapb__StoreState)meta_state;
    Tessera__Pdpb__SetStoreStateResponse *rep = NULL;
    int rc = PD_CALL(c, TESSERA__PDPB__METHOD__SET_STORE_STATE, &req, set_store_state_response,
                     &rep, 1, err);
    free_reply(rep);
    cm_pd_invalidate_store(c, store_id);
    return rc;
}

int cm_pd_get_store(cm_pd_client *c, uint64_t store_id, cm_pd_store *out, cm_err *err)
{
    Tessera__Pdpb__GetStoreRequest req = TESSERA__PDPB__GET_STORE_REQUEST__INIT;
    req.store_id = store_id;
    Tessera__Pdpb__GetStoreResponse *rep = NULL;
    int rc = PD_CALL(c, TESSERA__PDPB__METHOD__GET_STORE, &req, get_store_response, &rep, 1, err);
    if (rc == 0) {
        rc = store_from_pb(rep->store, out, err);
    }
    if (rc == 0) {
        if (out->meta_state == CM_PD_STORE_META_TOMBSTONE) {
            cm_pd_invalidate_store(c, store_id);
        } else {
            cache_store(c, out->id, out->address);
        }
    }
    free_reply(rep);
    return rc;
}

int cm_pd_get_all_stores(cm_pd_client *c, int exclude_tombstone, cm_pd_store **out, size_t *n,
                         cm_err *err)
{
    *out = NULL;
    *n = 0;
    Tessera__Pdpb__GetAllStoresRequest req = TESSERA__PDPB__GET_ALL_STORES_REQUEST__INIT;
    req.exclude_tombstone = exclude_tombstone != 0;
    Tessera__Pdpb__GetAllStoresResponse *rep = NULL;
    int rc = PD_CALL(c, TESSERA__PDPB__METHOD__GET_ALL_STORES, &req, get_all_stores_response, &rep,
                     1, err);
    if (rc == 0 && rep->n_stores > 0) {
        cm_pd_store *v = calloc(rep->n_stores, sizeof(*v));
        if (v == NULL) {
            rc = cm_err_set(err, CM_E_NOMEM, "pd client: out of memory");
        }
        for (size_t i = 0; rc == 0 && i < rep->n_stores; i++) {
            rc = store_from_pb(rep->stores[i], &v[i], err);
        }
        if (rc == 0) {
            *out = v;
            *n = rep->n_stores;
        } else {
            free(v);
        }
    }
    free_reply(rep);
    return rc;
}

int cm_pd_store_addr(cm_pd_client *c, uint64_t store_id, char *addr, size_t cap, cm_err *err)
{
    pthread_mutex_lock(&c->stores_mu);
    for (size_t i = 0; i < c->nstores; i++) {
        if (c->stores[i].id == store_id) {
            copy_str(addr, cap, c->stores[i].addr);
            pthread_mutex_unlock(&c->stores_mu);
            return 0;
        }
    }
    pthread_mutex_unlock(&c->stores_mu);
    cm_pd_store s;
    int rc = cm_pd_get_store(c, store_id, &s, err);
    if (rc == 0) {
        if (s.meta_state == CM_PD_STORE_META_TOMBSTONE) {
            return cm_err_set(err, CM_E_NOT_FOUND, "store %" PRIu64 " is a tombstone", store_id);
        }
        copy_str(addr, cap, s.address);
    }
    return rc;
}

/* ---- regions ----------------------------------------------------------------------------- */

int cm_pd_region_heartbeat(cm_pd_client *c, const cm_pd_region *r, cm_err *err)
{
    cm_pd_operator op;
    return cm_pd_region_heartbeat_op(c, r, NULL, 0, &op, err);
}

static void operator_from_pb(const Tessera__Pdpb__Operator *o, cm_pd_operator *op)
{
    memset(op, 0, sizeof(*op));
    if (o == NULL || o->kind <= TESSERA__PDPB__OPERATOR_KIND__OP_NONE ||
        o->kind > TESSERA__PDPB__OPERATOR_KIND__OP_TRANSFER_LEADER || o->peer == NULL ||
        o->peer->id == 0) {
        return; /* nothing, or a kind this client does not know: ignore it */
    }
    op->kind = (int)o->kind;
    op->region_id = o->region_id;
    op->conf_ver = o->epoch ? o->epoch->conf_ver : 0;
    op->version = o->epoch ? o->epoch->version : 0;
    op->peer.id = o->peer->id;
    op->peer.store_id = o->peer->store_id;
    op->peer.role = (uint32_t)o->peer->role;
}

int cm_pd_region_heartbeat_op(cm_pd_client *c, const cm_pd_region *r, const cm_pd_peer *pending,
                              uint32_t npending, cm_pd_operator *op, cm_err *err)
{
    memset(op, 0, sizeof(*op));
    if (r->npeers > CM_PD_PEERS_MAX || npending > CM_PD_PEERS_MAX) {
        return cm_err_set(err, CM_E_INVALID, "region %" PRIu64 ": too many peers", r->id);
    }
    region_pb p;
    region_to_pb(r, &p);
    Tessera__Metapb__Peer pend[CM_PD_PEERS_MAX];
    Tessera__Metapb__Peer *pend_ptrs[CM_PD_PEERS_MAX];
    for (uint32_t i = 0; i < npending; i++) {
        tessera__metapb__peer__init(&pend[i]);
        pend[i].id = pending[i].id;
        pend[i].store_id = pending[i].store_id;
        pend[i].role = (Tessera__Metapb__PeerRole)pending[i].role;
        pend_ptrs[i] = &pend[i];
    }
    p.info.n_pending_peers = npending;
    p.info.pending_peers = npending ? pend_ptrs : NULL;
    Tessera__Pdpb__RegionHeartbeatRequest req = TESSERA__PDPB__REGION_HEARTBEAT_REQUEST__INIT;
    req.region = &p.info;
    Tessera__Pdpb__RegionHeartbeatResponse *rep = NULL;
    int rc = PD_CALL(c, TESSERA__PDPB__METHOD__REGION_HEARTBEAT, &req, region_heartbeat_response,
                     &rep, 1, err);
    if (rc == 0 && rep != NULL) {
        operator_from_pb(rep->operator_, op);
    }
    free_reply(rep);
    return rc;
}

static int region_reply(cm_pd_client *c, Tessera__Pdpb__GetRegionResponse *rep, cm_pd_region *out,
                        cm_err *err)
{
    int rc = region_from_pb(rep->region, out, err);
    if (rc == 0 && cm_region_cache_put(c->regions, out) != 0) {
        CM_WARN("pd-client", "region cache: out of memory (route not cached)");
    }
    return rc;
}

int cm_pd_get_region(cm_pd_client *c, cm_slice key, cm_pd_region *out, cm_err *err)
{
    Tessera__Pdpb__GetRegionRequest req = TESSERA__PDPB__GET_REGION_REQUEST__INIT;
    req.key.data = (uint8_t *)key.ptr;
    req.key.len = key.len;
    Tessera__Pdpb__GetRegionResponse *rep = NULL;
    int rc = PD_CALL(c, TESSERA__PDPB__METHOD__GET_REGION, &req, get_region_response, &rep, 1, err);
    if (rc == 0) {
        rc = region_reply(c, rep, out, err);
    }
    free_reply(rep);
    return rc;
}

int cm_pd_get_region_by_id(cm_pd_client *c, uint64_t region_id, cm_pd_region *out, cm_err *err)
{
    Tessera__Pdpb__GetRegionByIdRequest req = TESSERA__PDPB__GET_REGION_BY_ID_REQUEST__INIT;
    req.region_id = region_id;
    Tessera__Pdpb__GetRegionResponse *rep = NULL;
    int rc = PD_CALL(c, TESSERA__PDPB__METHOD__GET_REGION_BY_ID, &req, get_region_response, &rep, 1,
                     err);
    if (rc == 0) {
        rc = region_reply(c, rep, out, err);
    }
    free_reply(rep);
    return rc;
}

int cm_pd_locate_key(cm_pd_client *c, cm_slice key, cm_pd_region *out, cm_err *err)
{
    int hit = cm_region_cache_by_key(c->regions, key, out);
    if (hit < 0) {
        return cm_err_set(err, hit, "pd client: out of memory");
    }
    if (hit) {
        atomic_fetch_add(&c->route_hits, 1);
        return 0;
    }
    atomic_fetch_add(&c->route_misses, 1);
    return cm_pd_get_region(c, key, out, err);
}

int cm_pd_locate_id(cm_pd_client *c, uint64_t region_id, cm_pd_region *out, cm_err *err)
{
    int hit = cm_region_cache_by_id(c->regions, region_id, out);
    if (hit < 0) {
        return cm_err_set(err, hit, "pd client: out of memory");
    }
    if (hit) {
        atomic_fetch_add(&c->route_hits, 1);
        return 0;
    }
    atomic_fetch_add(&c->route_misses, 1);
    return cm_pd_get_region_by_id(c, region_id, out, err);
}

int cm_pd_scan_regions(cm_pd_client *c, cm_slice start, cm_slice end, uint32_t limit,
                       cm_pd_region **out, size_t *n, cm_err *err)
{
    *out = NULL;
    *n = 0;
    Tessera__Pdpb__ScanRegionsRequest req = TESSERA__PDPB__SCAN_REGIONS_REQUEST__INIT;
    req.start_key.data = (uint8_t *)start.ptr;
    req.start_key.len = start.len;
    req.end_key.data = (uint8_t *)end.ptr;
    req.end_key.len = end.len;
    req.limit = limit;
    Tessera__Pdpb__ScanRegionsResponse *rep = NULL;
    int rc =
        PD_CALL(c, TESSERA__PDPB__METHOD__SCAN_REGIONS, &req, scan_regions_response, &rep, 1, err);
    if (rc == 0 && rep->n_regions > 0) {
        cm_pd_region *v = calloc(rep->n_regions, sizeof(*v));
        size_t done = 0;
        if (v == NULL) {
            rc = cm_err_set(err, CM_E_NOMEM, "pd client: out of memory");
        }
        for (; rc == 0 && done < rep->n_regions; done++) {
            cm_pd_region_init(&v[done]);
            rc = region_from_pb(rep->regions[done], &v[done], err);
        }
        if (rc == 0) {
            *out = v;
            *n = done;
        } else {
            cm_pd_regions_free(v, done);
        }
    }
    free_reply(rep);
    return rc;
}

void cm_pd_invalidate_region(cm_pd_client *c, uint64_t region_id)
{
    cm_region_cache_invalidate(c->regions, region_id);
}

void cm_pd_invalidate_all_regions(cm_pd_client *c)
{
    cm_region_cache_clear(c->regions);
}

/* ---- GC safe point ----------------------------------------------------------------------- */

int cm_pd_get_gc_safe_point(cm_pd_client *c, uint64_t *sp, cm_err *err)
{
    Tessera__Pdpb__GetGCSafePointRequest req = TESSERA__PDPB__GET_GCSAFE_POINT_REQUEST__INIT;
    Tessera__Pdpb__GetGCSafePointResponse *rep = NULL;
    int rc = PD_CALL(c, TESSERA__PDPB__METHOD__GET_GC_SAFE_POINT, &req, get_gcsafe_point_response,
                     &rep, 1, err);
    if (rc == 0) {
        *sp = rep->safe_point;
    }
    free_reply(rep);
    return rc;
}

int cm_pd_update_gc_safe_point(cm_pd_client *c, uint64_t sp, uint64_t *now_sp, cm_err *err)
{
    Tessera__Pdpb__UpdateGCSafePointRequest req = TESSERA__PDPB__UPDATE_GCSAFE_POINT_REQUEST__INIT;
    req.safe_point = sp;
    Tessera__Pdpb__UpdateGCSafePointResponse *rep = NULL;
    int rc = PD_CALL(c, TESSERA__PDPB__METHOD__UPDATE_GC_SAFE_POINT, &req,
                     update_gcsafe_point_response, &rep, 1, err);
    if (rc == 0) {
        *now_sp = rep->new_safe_point;
    }
    free_reply(rep);
    return rc;
}

/* ---- registry ---------------------------------------------------------------------------- */

static void lease_out(cm_pd_lease *out, int granted, const char *owner, uint64_t term,
                      uint64_t ttl_left_ms)
{
    out->granted = granted;
    copy_str(out->owner, sizeof(out->owner), owner);
    out->term = term;
    out->ttl_left_ms = ttl_left_ms;
}

int cm_pd_campaign(cm_pd_client *c, const char *name, const char *candidate, uint64_t ttl_ms,
                   cm_pd_lease *out, cm_err *err)
{
    Tessera__Pdpb__CampaignRequest req = TESSERA__PDPB__CAMPAIGN_REQUEST__INIT;
    req.name = (char *)name;
    req.candidate = (char *)candidate;
    req.ttl_ms = ttl_ms;
    Tessera__Pdpb__CampaignResponse *rep = NULL;
    int rc = PD_CALL(c, TESSERA__PDPB__METHOD__CAMPAIGN, &req, campaign_response, &rep, 0, err);
    if (rc == 0) {
        lease_out(out, rep->granted, rep->owner, rep->term, rep->ttl_left_ms);
    }
    free_reply(rep);
    return rc;
}

int cm_pd_renew(cm_pd_client *c, const char *name, const char *candidate, uint64_t term,
                uint64_t ttl_ms, uint64_t *ttl_left_ms, cm_err *err)
{
    Tessera__Pdpb__RenewRequest req = TESSERA__PDPB__RENEW_REQUEST__INIT;
    req.name = (char *)name;
    req.candidate = (char *)candidate;
    req.term = term;
    req.ttl_ms = ttl_ms;
    Tessera__Pdpb__RenewResponse *rep = NULL;
    int rc = PD_CALL(c, TESSERA__PDPB__METHOD__RENEW, &req, renew_response, &rep, 0, err);
    if (rc == 0) {
        *ttl_left_ms = rep->ttl_left_ms;
    }
    free_reply(rep);
    return rc;
}

int cm_pd_resign(cm_pd_client *c, const char *name, const char *candidate, uint64_t term,
                 cm_err *err)
{
    Tessera__Pdpb__ResignRequest req = TESSERA__PDPB__RESIGN_REQUEST__INIT;
    req.name = (char *)name;
    req.candidate = (char *)candidate;
    req.term = term;
    Tessera__Pdpb__ResignResponse *rep = NULL;
    int rc = PD_CALL(c, TESSERA__PDPB__METHOD__RESIGN, &req, resign_response, &rep, 0, err);
    free_reply(rep);
    return rc;
}

int cm_pd_get_owner(cm_pd_client *c, const char *name, cm_pd_lease *out, cm_err *err)
{
    Tessera__Pdpb__GetOwnerRequest req = TESSERA__PDPB__GET_OWNER_REQUEST__INIT;
    req.name = (char *)name;
    Tessera__Pdpb__GetOwnerResponse *rep = NULL;
    int rc = PD_CALL(c, TESSERA__PDPB__METHOD__GET_OWNER, &req, get_owner_response, &rep, 1, err);
    if (rc == 0) {
        lease_out(out, 0, rep->owner, rep->term, rep->ttl_left_ms);
    }
    free_reply(rep);
    return rc;
}

int cm_pd_registry_put(cm_pd_client *c, const char *key, cm_slice value, uint64_t ttl_ms,
                       cm_err *err)
{
    Tessera__Pdpb__RegistryPutRequest req = TESSERA__PDPB__REGISTRY_PUT_REQUEST__INIT;
    req.key = (char *)key;
    req.value.data = (uint8_t *)value.ptr;
    req.value.len = value.len;
    req.ttl_ms = ttl_ms;
    Tessera__Pdpb__RegistryPutResponse *rep = NULL;
    int rc =
        PD_CALL(c, TESSERA__PDPB__METHOD__REGISTRY_PUT, &req, registry_put_response, &rep, 1, err);
    free_reply(rep);
    return rc;
}

int cm_pd_registry_get(cm_pd_client *c, const char *key, cm_buf *value, uint64_t *ttl_left_ms,
                       cm_err *err)
{
    Tessera__Pdpb__RegistryGetRequest req = TESSERA__PDPB__REGISTRY_GET_REQUEST__INIT;
    req.key = (char *)key;
    Tessera__Pdpb__RegistryGetResponse *rep = NULL;
    int rc =
        PD_CALL(c, TESSERA__PDPB__METHOD__REGISTRY_GET, &req, registry_get_response, &rep, 1, err);
    if (rc == 0) {
        if (!rep->found || rep->entry == NULL) {
            rc = cm_err_set(err, CM_E_NOT_FOUND, "registry: no key %s", key);
        } else if (cm_buf_append(value, rep->entry->value.data, rep->entry->value.len) != 0) {
            rc = cm_err_set(err, CM_E_NOMEM, "pd client: out of memory");
        } else {
            *ttl_left_ms = rep->entry->ttl_left_ms;
        }
    }
    free_reply(rep);
    return rc;
}

int cm_pd_registry_list(cm_pd_client *c, const char *prefix, uint32_t limit, cm_pd_registry_cb cb,
                        void *user, cm_err *err)
{
    Tessera__Pdpb__RegistryListRequest req = TESSERA__PDPB__REGISTRY_LIST_REQUEST__INIT;
    req.prefix = (char *)prefix;
    req.limit = limit;
    Tessera__Pdpb__RegistryListResponse *rep = NULL;
    int rc = PD_CALL(c, TESSERA__PDPB__METHOD__REGISTRY_LIST, &req, registry_list_response, &rep, 1,
                     err);
    for (size_t i = 0; rc == 0 && i < rep->n_entries; i++) {
        const Tessera__Pdpb__RegistryEntry *e = rep->entries[i];
        if (e == NULL) {
            continue;
        }
        if (cb(user, e->key ? e->key : "", cm_slice_make(e->value.data, e->value.len),
               e->ttl_left_ms) != 0) {
            break;
        }
    }
    free_reply(rep);
    return rc;
}

int cm_pd_registry_delete(cm_pd_client *c, const char *key, int *deleted, cm_err *err)
{
    Tessera__Pdpb__RegistryDeleteRequest req = TESSERA__PDPB__REGISTRY_DELETE_REQUEST__INIT;
    req.key = (char *)key;
    Tessera__Pdpb__RegistryDeleteResponse *rep = NULL;
    int rc = PD_CALL(c, TESSERA__PDPB__METHOD__REGISTRY_DELETE, &req, registry_delete_response,
                     &rep, 1, err);
    if (rc == 0) {
        *deleted = rep->deleted;
    }
    free_reply(rep);
    return rc;
}

/* ---- statistics -------------------------------------------------------------------------- */

void cm_pd_client_stats_get(cm_pd_client *c, cm_pd_client_stats *out)
{
    memset(out, 0, sizeof(*out));
    cm_tso_batcher_stats(c->tso, &out->tso);
    out->calls = atomic_load(&c->calls);
    out->retries = atomic_load(&c->retries);
    out->route_hits = atomic_load(&c->route_hits);
    out->route_misses = atomic_load(&c->route_misses);
    out->region_entries = cm_region_cache_count(c->regions);
}
