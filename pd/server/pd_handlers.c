/*
 * pd_handlers.c — the pdpb RPC methods (proto/pdpb.proto), one handler each, as a table.
 *
 * Each handler decodes its request (an undecodable one is a transport error: the RPC status
 * says CM_E_RPC_BAD_MESSAGE and nothing runs), checks the request's cluster id, runs the module
 * call, and always answers with a response whose header carries PD's cluster id and, on failure,
 * the CM_E_* code and message.
 */
#include "cm_log.h"
#include "pd_limits.h"
#include "pd_pbconv.h"
#include "pd_server_int.h"
#include "pdpb.pb-c.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* The response header being built by one handler. */
typedef struct hdr_ctx {
    pd_server *s;
    uint32_t method;
    Tessera__Pdpb__ResponseHeader hdr;
    Tessera__Pdpb__Error e;
    cm_err err;
    int rc;
} hdr_ctx;

static void begin(hdr_ctx *h, pd_server *s, uint32_t method, const Tessera__Pdpb__RequestHeader *rq)
{
    h->s = s;
    h->method = method;
    tessera__pdpb__response_header__init(&h->hdr);
    tessera__pdpb__error__init(&h->e);
    cm_err_clear(&h->err);
    h->rc = 0;
    h->hdr.cluster_id = pd_cluster_id(&s->cluster);
    if (method < PD_METHODS_COUNT) {
        cm_counter_inc(s->m.requests[method]);
    }
    if (rq != NULL && rq->cluster_id != 0 && rq->cluster_id != h->hdr.cluster_id) {
        h->rc = cm_err_set(&h->err, CM_E_INVALID,
                           "request for cluster %" PRIu64 " reached cluster %" PRIu64,
                           rq->cluster_id, h->hdr.cluster_id);
    }
}

static Tessera__Pdpb__ResponseHeader *finish(hdr_ctx *h)
{
    if (h->rc != 0) {
        h->e.code = h->rc;
        h->e.message = h->err.msg;
        h->hdr.error = &h->e;
        cm_counter_inc(h->s->m.request_errors);
        if (h->rc != CM_E_STALE_EPOCH && h->rc != CM_E_REGION_NOT_FOUND &&
            h->rc != CM_E_NOT_FOUND) {
            CM_DEBUG("pd", "method %u failed: %s", h->method, h->err.msg);
        }
    }
    return &h->hdr;
}

static int unpack(const cm_rpc_req *req, const ProtobufCMessageDescriptor *d, void *out,
                  cm_err *err)
{
    int rc = cm_rpc_unpack(req, d, (ProtobufCMessage **)out, err);
    if (rc != 0) {
        /* At most one line a second, so a flood of garbage cannot flood the log. */
        static _Atomic uint64_t last_ms, suppressed;
        uint64_t now = pd_server_mono_ms(), prev = atomic_load(&last_ms);
        if (now - prev >= 1000 && atomic_compare_exchange_strong(&last_ms, &prev, now)) {
            CM_WARN("pd", "undecodable request for method %u from %s: %s (suppressed=%" PRIu64 ")",
                    req->method, req->peer, err ? err->msg : "", atomic_exchange(&suppressed, 0));
        } else {
            atomic_fetch_add(&suppressed, 1);
        }
    }
    return rc;
}

static int pack(const void *msg, cm_buf *reply, cm_err *err)
{
    int rc = cm_rpc_pack((const ProtobufCMessage *)msg, reply);
    return rc == 0 ? 0 : cm_err_set(err, rc, "pd: cannot pack the reply");
}

static void free_msg(void *m)
{
    protobuf_c_message_free_unpacked((ProtobufCMessage *)m, NULL);
}

/* ---- members, timestamps, ids ------------------------------------------------------------ */

static int h_get_members(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    pd_server *s = user;
    Tessera__Pdpb__GetMembersRequest *in;
    int rc = unpack(req, &tessera__pdpb__get_members_request__descriptor, &in, err);
    if (rc != 0) {
        return rc;
    }
    hdr_ctx h;
    begin(&h, s, TESSERA__PDPB__METHOD__GET_MEMBERS, in->header);
    Tessera__Pdpb__GetMembersResponse out = TESSERA__PDPB__GET_MEMBERS_RESPONSE__INIT;
    out.name = s->name;
    out.advertise_addr = s->advertise_addr;
    out.bootstrapped = pd_cluster_is_bootstrapped(&s->cluster);
    out.start_wall_ms = s->start_wall_ms;
    out.version = s->version;
    out.header = finish(&h);
    rc = pack(&out, reply, err);
    free_msg(in);
    return rc;
}

static int h_tso(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    pd_server *s = user;
    Tessera__Pdpb__TsoRequest *in;
    int rc = unpack(req, &tessera__pdpb__tso_request__descriptor, &in, err);
    if (rc != 0) {
        return rc;
    }
    hdr_ctx h;
    begin(&h, s, TESSERA__PDPB__METHOD__TSO, in->header);
    Tessera__Pdpb__TsoResponse out = TESSERA__PDPB__TSO_RESPONSE__INIT;
    if (h.rc == 0) {
        uint64_t first = 0;
        h.rc = pd_tso_alloc(&s->tso, in->count, &first, &h.err);
        if (h.rc == 0) {
            out.first_ts = first;
            out.count = in->count;
            cm_counter_inc(s->m.tso_requests);
            cm_counter_add(s->m.tso_timestamps, in->count);
            cm_histogram_observe(s->m.tso_batch, (double)in->count);
        }
    }
    out.header = finish(&h);
    rc = pack(&out, reply, err);
    free_msg(in);
    return rc;
}

static int h_alloc_id(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    pd_server *s = user;
    Tessera__Pdpb__AllocIdRequest *in;
    int rc = unpack(req, &tessera__pdpb__alloc_id_request__descriptor, &in, err);
    if (rc != 0) {
        return rc;
    }
    hdr_ctx h;
    begin(&h, s, TESSERA__PDPB__METHOD__ALLOC_ID, in->header);
    Tessera__Pdpb__AllocIdResponse out = TESSERA__PDPB__ALLOC_ID_RESPONSE__INIT;
    if (h.rc == 0) {
        uint64_t first = 0;
        h.rc = pd_id_alloc_n(&s->ids, in->count, &first, &h.err);
        if (h.rc == 0) {
            out.first_id = first;
            out.count = in->count;
        }
    }
    out.header = finish(&h);
    rc = pack(&out, reply, err);
    free_msg(in);
    return rc;
}

/* ---- stores ------------------------------------------------------------------------------ */

static int h_put_store(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    pd_server *s = user;
    Tessera__Pdpb__PutStoreRequest *in;
    int rc = unpack(req, &tessera__pdpb__put_store_request__descriptor, &in, err);
    if (rc != 0) {
        return rc;
    }
    hdr_ctx h;
    begin(&h, s, TESSERA__PDPB__METHOD__PUT_STORE, in->header);
    Tessera__Pdpb__PutStoreResponse out = TESSERA__PDPB__PUT_STORE_RESPONSE__INIT;
    pd_region boot;
    pd_region_init(&boot);
    pd_region_pb boot_pb;
    if (h.rc == 0) {
        pd_store st;
        h.rc = pd_store_from_pb(in->store, &st, &h.err);
        int has = 0;
        if (h.rc == 0) {
            h.rc = pd_cluster_put_store(&s->cluster, &st, pd_server_mono_ms(), &boot, &has, &h.err);
        }
        if (h.rc == 0) {
            CM_INFO("pd", "store %" PRIu64 " registered address=%s", st.id, st.address);
        }
        if (h.rc == 0 && has) {
            pd_region_to_pb(&boot, &boot_pb);
            out.bootstrap_region = &boot_pb.region;
        }
    }
    out.header = finish(&h);
    rc = pack(&out, reply, err);
    pd_region_fini(&boot);
    free_msg(in);
    return rc;
}

static int h_store_heartbeat(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    pd_server *s = user;
    Tessera__Pdpb__StoreHeartbeatRequest *in;
    int rc = unpack(req, &tessera__pdpb__store_heartbeat_request__descriptor, &in, err);
    if (rc != 0) {
        return rc;
    }
    hdr_ctx h;
    begin(&h, s, TESSERA__PDPB__METHOD__STORE_HEARTBEAT, in->header);
    Tessera__Pdpb__StoreHeartbeatResponse out = TESSERA__PDPB__STORE_HEARTBEAT_RESPONSE__INIT;
    if (h.rc == 0 && in->stats == NULL) {
        h.rc = cm_err_set(&h.err, CM_E_INVALID, "store heartbeat without stats");
    }
    if (h.rc == 0) {
        pd_store_stats st;
        pd_store_stats_from_pb(in->stats, &st);
        h.rc = pd_cluster_store_heartbeat(&s->cluster, in->stats->store_id, &st,
                                          pd_server_mono_ms(), &h.err);
    }
    out.header = finish(&h);
    rc = pack(&out, reply, err);
    free_msg(in);
    return rc;
}

static int h_set_store_state(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    pd_server *s = user;
    Tessera__Pdpb__SetStoreStateRequest *in;
    int rc = unpack(req, &tessera__pdpb__set_store_state_request__descriptor, &in, err);
    if (rc != 0) {
        return rc;
    }
    hdr_ctx h;
    begin(&h, s, TESSERA__PDPB__METHOD__SET_STORE_STATE, in->header);
    Tessera__Pdpb__SetStoreStateResponse out = TESSERA__PDPB__SET_STORE_STATE_RESPONSE__INIT;
    if (h.rc == 0) {
        h.rc = pd_cluster_set_store_state(&s->cluster, in->store_id, (int)in->state, &h.err);
    }
    out.header = finish(&h);
    rc = pack(&out, reply, err);
    free_msg(in);
    return rc;
}

static int h_get_store(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    pd_server *s = user;
    Tessera__Pdpb__GetStoreRequest *in;
    int rc = unpack(req, &tessera__pdpb__get_store_request__descriptor, &in, err);
    if (rc != 0) {
        return rc;
    }
    hdr_ctx h;
    begin(&h, s, TESSERA__PDPB__METHOD__GET_STORE, in->header);
    Tessera__Pdpb__GetStoreResponse out = TESSERA__PDPB__GET_STORE_RESPONSE__INIT;
    pd_store st;
    pd_store_pb pb;
    if (h.rc == 0) {
        pd_store_live live;
        uint64_t now = pd_server_mono_ms();
        h.rc = pd_cluster_get_store(&s->cluster, in->store_id, now, &st, &live, &h.err);
        if (h.rc == 0) {
            pd_store_to_pb(&st, live, now > st.last_heartbeat_ms ? now - st.last_heartbeat_ms : 0,
                           &pb);
            out.store = &pb.info;
        }
    }
    out.header = finish(&h);
    rc = pack(&out, reply, err);
    free_msg(in);
    return rc;
}

typedef struct stores_ctx {
    pd_store *v;
    pd_store_live *live;
    size_t n, cap;
    int oom;
} stores_ctx;

static int collect_store_cb(void *user, const pd_store *s, pd_store_live live)
{
    stores_ctx *x = user;
    if (x->n == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 16;
        pd_store *v = realloc(x->v, cap * sizeof(*v));
        pd_store_live *l = v ? realloc(x->live, cap * sizeof(*l)) : NULL;
        if (v != NULL) {
            x->v = v;
        }
        if (l == NULL) {
            x->oom = 1;
            return 1;
        }
        x->live = l;
        x->cap = cap;
    }
    x->v[x->n] = *s;
    x->live[x->n] = live;
    x->n++;
    return 0;
}

static int h_get_all_stores(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    pd_server *s = user;
    Tessera__Pdpb__GetAllStoresRequest *in;
    int rc = unpack(req, &tessera__pdpb__get_all_stores_request__descriptor, &in, err);
    if (rc != 0) {
        return rc;
    }
    hdr_ctx h;
    begin(&h, s, TESSERA__PDPB__METHOD__GET_ALL_STORES, in->header);
    Tessera__Pdpb__GetAllStoresResponse out = TESSERA__PDPB__GET_ALL_STORES_RESPONSE__INIT;
    stores_ctx x = {NULL, NULL, 0, 0, 0};
    pd_store_pb *pbs = NULL;
    Tessera__Pdpb__StoreInfo **ptrs = NULL;
    uint64_t now = pd_server_mono_ms();
    if (h.rc == 0) {
        pd_cluster_foreach_store(&s->cluster, now, in->exclude_tombstone, collect_store_cb, &x);
        if (x.oom) {
            h.rc = cm_err_set(&h.err, CM_E_NOMEM, "pd: out of memory");
        }
    }
    if (h.rc == 0 && x.n > 0) {
        pbs = calloc(x.n, sizeof(*pbs));
        ptrs = calloc(x.n, sizeof(*ptrs));
        if (pbs == NULL || ptrs == NULL) {
            h.rc = cm_err_set(&h.err, CM_E_NOMEM, "pd: out of memory");
        } else {
            for (size_t i = 0; i < x.n; i++) {
                uint64_t age = now > x.v[i].last_heartbeat_ms ? now - x.v[i].last_heartbeat_ms : 0;
                pd_store_to_pb(&x.v[i], x.live[i], age, &pbs[i]);
                ptrs[i] = &pbs[i].info;
            }
            out.n_stores = x.n;
            out.stores = ptrs;
        }
    }
    out.header = finish(&h);
    rc = pack(&out, reply, err);
    free(pbs);
    free(ptrs);
    free(x.v);
    free(x.live);
    free_msg(in);
    return rc;
}

/* ---- regions ----------------------------------------------------------------------------- */

typedef struct store_list {
    pd_sched_store *v;
    size_t n, cap;
    int oom;
} store_list;

static int sched_store_cb(void *user, const pd_store *st, pd_store_live live)
{
    store_list *l = user;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        pd_sched_store *v = realloc(l->v, cap * sizeof(*v));
        if (v == NULL) {
            l->oom = 1;
            return 1;
        }
        l->v = v;
        l->cap = cap;
    }
    pd_sched_store *x = &l->v[l->n++];
    x->id = st->id;
    x->live = live;
    x->region_count = st->stats.region_count;
    x->adds_inflight = 0;
    return 0;
}

/* The operator for an accepted report (pd/sched), into *op_pb. Returns 1 when there is one.
 * Scheduling failures are logged and answered with no operator: the report itself succeeded. */
static int schedule(pd_server *s, const pd_region *r, const Tessera__Pdpb__RegionInfo *info,
                    Tessera__Pdpb__Operator *op_pb, Tessera__Metapb__RegionEpoch *epoch,
                    Tessera__Metapb__Peer *peer)
{
    uint64_t now = pd_server_mono_ms();
    store_list l = {NULL, 0, 0, 0};
    pd_cluster_foreach_store(&s->cluster, now, 0, sched_store_cb, &l);
    uint64_t pending[PD_REGION_PEERS_MAX];
    size_t np = 0;
    for (size_t i = 0; i < info->n_pending_peers && np < PD_REGION_PEERS_MAX; i++) {
        if (info->pending_peers[i] != NULL) {
            pending[np++] = info->pending_peers[i]->id;
        }
    }
    pd_sched_view v = {r, pending, np, l.v, l.n, 0};
    pd_operator op;
    cm_err e;
    int rc = l.oom ? cm_err_set(&e, CM_E_NOMEM, "out of memory") : 0;
    rc = rc ? rc : pd_sched_region(&s->sched, &v, now, &op, &e);
    free(l.v);
    if (rc < 0) {
        CM_WARN("pd", "region=%" PRIu64 " scheduling: %s", r->id, e.msg);
        return 0;
    }
    if (rc == PD_SCHED_NOTHING) {
        return 0;
    }
    if (rc == PD_SCHED_NEW) {
        cm_counter_inc(s->m.operators[op.kind]);
        CM_INFO("pd",
                "region=%" PRIu64 " operator %s peer %" PRIu64 "@%" PRIu64 " (epoch %" PRIu64
                ".%" PRIu64 ")",
                r->id, pd_op_kind_name(op.kind), op.peer.id, op.peer.store_id, op.conf_ver,
                op.version);
    }
    tessera__pdpb__operator__init(op_pb);
    tessera__metapb__region_epoch__init(epoch);
    tessera__metapb__peer__init(peer);
    epoch->conf_ver = op.conf_ver;
    epoch->version = op.version;
    peer->id = op.peer.id;
    peer->store_id = op.peer.store_id;
    peer->role =
        op.peer.role == 1 ? TESSERA__METAPB__PEER_ROLE__LEARNER : TESSERA__METAPB__PEER_ROLE__VOTER;
    op_pb->region_id = op.region_id;
    op_pb->epoch = epoch;
    op_pb->kind = (Tessera__Pdpb__OperatorKind)op.kind;
    op_pb->peer = peer;
    return 1;
}

static int h_region_heartbeat(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    pd_server *s = user;
    Tessera__Pdpb__RegionHeartbeatRequest *in;
    int rc = unpack(req, &tessera__pdpb__region_heartbeat_request__descriptor, &in, err);
    if (rc != 0) {
        return rc;
    }
    hdr_ctx h;
    begin(&h, s, TESSERA__PDPB__METHOD__REGION_HEARTBEAT, in->header);
    Tessera__Pdpb__RegionHeartbeatResponse out = TESSERA__PDPB__REGION_HEARTBEAT_RESPONSE__INIT;
    Tessera__Pdpb__Operator op;
    Tessera__Metapb__RegionEpoch op_epoch;
    Tessera__Metapb__Peer op_peer;
    cm_counter_inc(s->m.region_heartbeats);
    if (h.rc == 0) {
        pd_region r;
        pd_region_init(&r);
        h.rc = pd_region_from_pb(in->region, &r, &h.err);
        if (h.rc == 0) {
            h.rc = pd_cluster_region_heartbeat(&s->cluster, &r, &h.err);
            if (h.rc == CM_E_STALE_EPOCH) {
                cm_counter_inc(s->m.region_stale);
            }
        }
        /* Only a report PD accepted is scheduled: a stale one describes a past region. */
        if (h.rc == 0 && r.leader.id != 0 &&
            schedule(s, &r, in->region, &op, &op_epoch, &op_peer)) {
            out.operator_ = &op;
        }
        pd_region_fini(&r);
    }
    out.header = finish(&h);
    rc = pack(&out, reply, err);
    free_msg(in);
    return rc;
}

static int region_reply(hdr_ctx *h, pd_region *r, cm_buf *reply, cm_err *err)
{
    Tessera__Pdpb__GetRegionResponse out = TESSERA__PDPB__GET_REGION_RESPONSE__INIT;
    pd_region_pb pb;
    if (h->rc == 0) {
        pd_region_to_pb(r, &pb);
        out.region = &pb.info;
    }
    out.header = finish(h);
    return pack(&out, reply, err);
}

static int h_get_region(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    pd_server *s = user;
    Tessera__Pdpb__GetRegionRequest *in;
    int rc = unpack(req, &tessera__pdpb__get_region_request__descriptor, &in, err);
    if (rc != 0) {
        return rc;
    }
    hdr_ctx h;
    begin(&h, s, TESSERA__PDPB__METHOD__GET_REGION, in->header);
    pd_region r;
    pd_region_init(&r);
    if (h.rc == 0) {
        h.rc = pd_cluster_region_by_key(&s->cluster, cm_slice_make(in->key.data, in->key.len), &r,
                                        &h.err);
    }
    rc = region_reply(&h, &r, reply, err);
    pd_region_fini(&r);
    free_msg(in);
    return rc;
}

static int h_get_region_by_id(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    pd_server *s = user;
    Tessera__Pdpb__GetRegionByIdRequest *in;
    int rc = unpack(req, &tessera__pdpb__get_region_by_id_request__descriptor, &in, err);
    if (rc != 0) {
        return rc;
    }
    hdr_ctx h;
    begin(&h, s, TESSERA__PDPB__METHOD__GET_REGION_BY_ID, in->header);
    pd_region r;
    pd_region_init(&r);
    if (h.rc == 0) {
        h.rc = pd_cluster_region_by_id(&s->cluster, in->region_id, &r, &h.err);
    }
    rc = region_reply(&h, &r, reply, err);
    pd_region_fini(&r);
    free_msg(in);
    return rc;
}

typedef struct regions_ctx {
    pd_region *v;
    size_t n, cap;
    int oom;
} regions_ctx;

static int collect_region_cb(void *user, const pd_region *r)
{
    regions_ctx *x = user;
    if (x->n == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 16;
        pd_region *v = realloc(x->v, cap * sizeof(*v));
        if (v == NULL) {
            x->oom = 1;
            return 1;
        }
        x->v = v;
        x->cap = cap;
    }
    pd_region_init(&x->v[x->n]);
    if (pd_region_copy(&x->v[x->n], r) != 0) {
        pd_region_fini(&x->v[x->n]);
        x->oom = 1;
        return 1;
    }
    x->n++;
    return 0;
}

static int h_scan_regions(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    pd_server *s = user;
    Tessera__Pdpb__ScanRegionsRequest *in;
    int rc = unpack(req, &tessera__pdpb__scan_regions_request__descriptor, &in, err);
    if (rc != 0) {
        return rc;
    }
    hdr_ctx h;
    begin(&h, s, TESSERA__PDPB__METHOD__SCAN_REGIONS, in->header);
    Tessera__Pdpb__ScanRegionsResponse out = TESSERA__PDPB__SCAN_REGIONS_RESPONSE__INIT;
    regions_ctx x = {NULL, 0, 0, 0};
    pd_region_pb *pbs = NULL;
    Tessera__Pdpb__RegionInfo **ptrs = NULL;
    if (h.rc == 0) {
        size_t limit =
            in->limit == 0 || in->limit > PD_SCAN_REGIONS_MAX ? PD_SCAN_REGIONS_MAX : in->limit;
        pd_cluster_scan_regions(&s->cluster, cm_slice_make(in->start_key.data, in->start_key.len),
                                cm_slice_make(in->end_key.data, in->end_key.len), limit,
                                collect_region_cb, &x);
        if (x.oom) {
            h.rc = cm_err_set(&h.err, CM_E_NOMEM, "pd: out of memory");
        }
    }
    if (h.rc == 0 && x.n > 0) {
        pbs = calloc(x.n, sizeof(*pbs));
        ptrs = calloc(x.n, sizeof(*ptrs));
        if (pbs == NULL || ptrs == NULL) {
            h.rc = cm_err_set(&h.err, CM_E_NOMEM, "pd: out of memory");
        } else {
            for (size_t i = 0; i < x.n; i++) {
                pd_region_to_pb(&x.v[i], &pbs[i]);
                ptrs[i] = &pbs[i].info;
            }
            out.n_regions = x.n;
            out.regions = ptrs;
        }
    }
    out.header = finish(&h);
    rc = pack(&out, reply, err);
    for (size_t i = 0; i < x.n; i++) {
        pd_region_fini(&x.v[i]);
    }
    free(x.v);
    free(pbs);
    free(ptrs);
    free_msg(in);
    return rc;
}

/* ---- GC safe point ----------------------------------------------------------------------- */

static int h_get_gc_safe_point(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    pd_server *s = user;
    Tessera__Pdpb__GetGCSafePointRequest *in;
    int rc = unpack(req, &tessera__pdpb__get_gcsafe_point_request__descriptor, &in, err);
    if (rc != 0) {
        return rc;
    }
    hdr_ctx h;
    begin(&h, s, TESSERA__PDPB__METHOD__GET_GC_SAFE_POINT, in->header);
    Tessera__Pdpb__GetGCSafePointResponse out = TESSERA__PDPB__GET_GCSAFE_POINT_RESPONSE__INIT;
    if (h.rc == 0) {
        out.safe_point = pd_cluster_gc_safe_point(&s->cluster);
    }
    out.header = finish(&h);
    rc = pack(&out, reply, err);
    free_msg(in);
    return rc;
}

static int h_update_gc_safe_point(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    pd_server *s = user;
    Tessera__Pdpb__UpdateGCSafePointRequest *in;
    int rc = unpack(req, &tessera__pdpb__update_gcsafe_point_request__descriptor, &in, err);
    if (rc != 0) {
        return rc;
    }
    hdr_ctx h;
    begin(&h, s, TESSERA__PDPB__METHOD__UPDATE_GC_SAFE_POINT, in->header);
    Tessera__Pdpb__UpdateGCSafePointResponse out =
        TESSERA__PDPB__UPDATE_GCSAFE_POINT_RESPONSE__INIT;
    if (h.rc == 0) {
        uint64_t now_sp = 0;
        h.rc = pd_cluster_update_gc_safe_point(&s->cluster, in->safe_point, &now_sp, &h.err);
        out.new_safe_point = now_sp;
    }
    out.header = finish(&h);
    rc = pack(&out, reply, err);
    free_msg(in);
    return rc;
}

/* ---- registry ---------------------------------------------------------------------------- */

static int h_campaign(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    pd_server *s = user;
    Tessera__Pdpb__CampaignRequest *in;
    int rc = unpack(req, &tessera__pdpb__campaign_request__descriptor, &in, err);
    if (rc != 0) {
        return rc;
    }
    hdr_ctx h;
    begin(&h, s, TESSERA__PDPB__METHOD__CAMPAIGN, in->header);
    Tessera__Pdpb__CampaignResponse out = TESSERA__PDPB__CAMPAIGN_RESPONSE__INIT;
    pd_lease_info li;
    if (h.rc == 0) {
        h.rc = pd_registry_campaign(&s->registry, in->name, in->candidate, in->ttl_ms,
                                    pd_server_mono_ms(), &li, &h.err);
        if (h.rc == 0) {
            out.granted = li.granted;
            out.owner = li.owner;
            out.term = li.term;
            out.ttl_left_ms = li.ttl_left_ms;
        }
    }
    out.header = finish(&h);
    rc = pack(&out, reply, err);
    free_msg(in);
    return rc;
}

static int h_renew(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    pd_server *s = user;
    Tessera__Pdpb__RenewRequest *in;
    int rc = unpack(req, &tessera__pdpb__renew_request__descriptor, &in, err);
    if (rc != 0) {
        return rc;
    }
    hdr_ctx h;
    begin(&h, s, TESSERA__PDPB__METHOD__RENEW, in->header);
    Tessera__Pdpb__RenewResponse out = TESSERA__PDPB__RENEW_RESPONSE__INIT;
    if (h.rc == 0) {
        uint64_t left = 0;
        h.rc = pd_registry_renew(&s->registry, in->name, in->candidate, in->term, in->ttl_ms,
                                 pd_server_mono_ms(), &left, &h.err);
        out.ttl_left_ms = left;
    }
    out.header = finish(&h);
    rc = pack(&out, reply, err);
    free_msg(in);
    return rc;
}

static int h_resign(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    pd_server *s = user;
    Tessera__Pdpb__ResignRequest *in;
    int rc = unpack(req, &tessera__pdpb__resign_request__descriptor, &in, err);
    if (rc != 0) {
        return rc;
    }
    hdr_ctx h;
    begin(&h, s, TESSERA__PDPB__METHOD__RESIGN, in->header);
    Tessera__Pdpb__ResignResponse out = TESSERA__PDPB__RESIGN_RESPONSE__INIT;
    if (h.rc == 0) {
        h.rc = pd_registry_resign(&s->registry, in->name, in->candidate, in->term,
                                  pd_server_mono_ms(), &h.err);
    }
    out.header = finish(&h);
    rc = pack(&out, reply, err);
    free_msg(in);
    return rc;
}

static int h_get_owner(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    pd_server *s = user;
    Tessera__Pdpb__GetOwnerRequest *in;
    int rc = unpack(req, &tessera__pdpb__get_owner_request__descriptor, &in, err);
    if (rc != 0) {
        return rc;
    }
    hdr_ctx h;
    begin(&h, s, TESSERA__PDPB__METHOD__GET_OWNER, in->header);
    Tessera__Pdpb__GetOwnerResponse out = TESSERA__PDPB__GET_OWNER_RESPONSE__INIT;
    pd_lease_info li;
    if (h.rc == 0) {
        h.rc = pd_registry_owner(&s->registry, in->name, pd_server_mono_ms(), &li, &h.err);
        if (h.rc == 0) {
            out.owner = li.owner;
            out.term = li.term;
            out.ttl_left_ms = li.ttl_left_ms;
        }
    }
    out.header = finish(&h);
    rc = pack(&out, reply, err);
    free_msg(in);
    return rc;
}

static int h_registry_put(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    pd_server *s = user;
    Tessera__Pdpb__RegistryPutRequest *in;
    int rc = unpack(req, &tessera__pdpb__registry_put_request__descriptor, &in, err);
    if (rc != 0) {
        return rc;
    }
    hdr_ctx h;
    begin(&h, s, TESSERA__PDPB__METHOD__REGISTRY_PUT, in->header);
    Tessera__Pdpb__RegistryPutResponse out = TESSERA__PDPB__REGISTRY_PUT_RESPONSE__INIT;
    if (h.rc == 0) {
        h.rc = pd_registry_put(&s->registry, in->key, cm_slice_make(in->value.data, in->value.len),
                               in->ttl_ms, pd_server_mono_ms(), &h.err);
    }
    out.header = finish(&h);
    rc = pack(&out, reply, err);
    free_msg(in);
    return rc;
}

static int h_registry_get(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    pd_server *s = user;
    Tessera__Pdpb__RegistryGetRequest *in;
    int rc = unpack(req, &tessera__pdpb__registry_get_request__descriptor, &in, err);
    if (rc != 0) {
        return rc;
    }
    hdr_ctx h;
    begin(&h, s, TESSERA__PDPB__METHOD__REGISTRY_GET, in->header);
    Tessera__Pdpb__RegistryGetResponse out = TESSERA__PDPB__REGISTRY_GET_RESPONSE__INIT;
    Tessera__Pdpb__RegistryEntry e = TESSERA__PDPB__REGISTRY_ENTRY__INIT;
    cm_buf v = CM_BUF_INIT;
    if (h.rc == 0) {
        uint64_t left = 0;
        int grc = pd_registry_get(&s->registry, in->key, pd_server_mono_ms(), &v, &left, &h.err);
        if (grc == 0) {
            out.found = 1;
            e.key = in->key;
            e.value.data = v.ptr;
            e.value.len = v.len;
            e.ttl_left_ms = left;
            out.entry = &e;
        } else if (grc != CM_E_NOT_FOUND) {
            h.rc = grc;
        }
    }
    out.header = finish(&h);
    rc = pack(&out, reply, err);
    cm_buf_fini(&v);
    free_msg(in);
    return rc;
}

typedef struct list_ctx {
    Tessera__Pdpb__RegistryEntry *v;
    size_t n, cap;
    int oom;
} list_ctx;

static int list_cb(void *user, const char *key, cm_slice value, uint64_t ttl_left_ms)
{
    list_ctx *x = user;
    if (x->n == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 16;
        Tessera__Pdpb__RegistryEntry *v = realloc(x->v, cap * sizeof(*v));
        if (v == NULL) {
            x->oom = 1;
            return 1;
        }
        x->v = v;
        x->cap = cap;
    }
    Tessera__Pdpb__RegistryEntry *e = &x->v[x->n];
    tessera__pdpb__registry_entry__init(e);
    e->key = strdup(key);
    e->value.data = malloc(value.len ? value.len : 1);
    if (e->key == NULL || e->value.data == NULL) {
        free(e->key);
        free(e->value.data);
        x->oom = 1;
        return 1;
    }
    memcpy(e->value.data, value.ptr, value.len);
    e->value.len = value.len;
    e->ttl_left_ms = ttl_left_ms;
    x->n++;
    return 0;
}

static int h_registry_list(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    pd_server *s = user;
    Tessera__Pdpb__RegistryListRequest *in;
    int rc = unpack(req, &tessera__pdpb__registry_list_request__descriptor, &in, err);
    if (rc != 0) {
        return rc;
    }
    hdr_ctx h;
    begin(&h, s, TESSERA__PDPB__METHOD__REGISTRY_LIST, in->header);
    Tessera__Pdpb__RegistryListResponse out = TESSERA__PDPB__REGISTRY_LIST_RESPONSE__INIT;
    list_ctx x = {NULL, 0, 0, 0};
    Tessera__Pdpb__RegistryEntry **ptrs = NULL;
    if (h.rc == 0) {
        /* The list is copied out, so the reply is packed without holding the registry lock. */
        size_t limit =
            in->limit == 0 || in->limit > PD_REGISTRY_LIST_MAX ? PD_REGISTRY_LIST_MAX : in->limit;
        pd_registry_list(&s->registry, in->prefix ? in->prefix : "", limit, pd_server_mono_ms(),
                         list_cb, &x);
        if (!x.oom && x.n > 0) {
            ptrs = calloc(x.n, sizeof(*ptrs));
            x.oom = ptrs == NULL;
        }
        if (x.oom) {
            h.rc = cm_err_set(&h.err, CM_E_NOMEM, "pd: out of memory");
        } else {
            for (size_t i = 0; i < x.n; i++) {
                ptrs[i] = &x.v[i];
            }
            out.n_entries = x.n;
            out.entries = ptrs;
        }
    }
    out.header = finish(&h);
    rc = pack(&out, reply, err);
    for (size_t i = 0; i < x.n; i++) {
        free(x.v[i].key);
        free(x.v[i].value.data);
    }
    free(x.v);
    free(ptrs);
    free_msg(in);
    return rc;
}

static int h_registry_delete(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    pd_server *s = user;
    Tessera__Pdpb__RegistryDeleteRequest *in;
    int rc = unpack(req, &tessera__pdpb__registry_delete_request__descriptor, &in, err);
    if (rc != 0) {
        return rc;
    }
    hdr_ctx h;
    begin(&h, s, TESSERA__PDPB__METHOD__REGISTRY_DELETE, in->header);
    Tessera__Pdpb__RegistryDeleteResponse out = TESSERA__PDPB__REGISTRY_DELETE_RESPONSE__INIT;
    if (h.rc == 0) {
        int deleted = 0;
        h.rc = pd_registry_delete(&s->registry, in->key, &deleted, &h.err);
        out.deleted = deleted;
    }
    out.header = finish(&h);
    rc = pack(&out, reply, err);
    free_msg(in);
    return rc;
}

/* ---- the table --------------------------------------------------------------------------- */

const cm_rpc_method pd_methods[] = {
    {TESSERA__PDPB__METHOD__GET_MEMBERS, "GetMembers", h_get_members},
    {TESSERA__PDPB__METHOD__TSO, "Tso", h_tso},
    {TESSERA__PDPB__METHOD__ALLOC_ID, "AllocId", h_alloc_id},
    {TESSERA__PDPB__METHOD__PUT_STORE, "PutStore", h_put_store},
    {TESSERA__PDPB__METHOD__GET_STORE, "GetStore", h_get_store},
    {TESSERA__PDPB__METHOD__GET_ALL_STORES, "GetAllStores", h_get_all_stores},
    {TESSERA__PDPB__METHOD__STORE_HEARTBEAT, "StoreHeartbeat", h_store_heartbeat},
    {TESSERA__PDPB__METHOD__SET_STORE_STATE, "SetStoreState", h_set_store_state},
    {TESSERA__PDPB__METHOD__REGION_HEARTBEAT, "RegionHeartbeat", h_region_heartbeat},
    {TESSERA__PDPB__METHOD__GET_REGION, "GetRegion", h_get_region},
    {TESSERA__PDPB__METHOD__GET_REGION_BY_ID, "GetRegionById", h_get_region_by_id},
    {TESSERA__PDPB__METHOD__SCAN_REGIONS, "ScanRegions", h_scan_regions},
    {TESSERA__PDPB__METHOD__GET_GC_SAFE_POINT, "GetGCSafePoint", h_get_gc_safe_point},
    {TESSERA__PDPB__METHOD__UPDATE_GC_SAFE_POINT, "UpdateGCSafePoint", h_update_gc_safe_point},
    {TESSERA__PDPB__METHOD__CAMPAIGN, "Campaign", h_campaign},
    {TESSERA__PDPB__METHOD__RENEW, "Renew", h_renew},
    {TESSERA__PDPB__METHOD__RESIGN, "Resign", h_resign},
    {TESSERA__PDPB__METHOD__GET_OWNER, "GetOwner", h_get_owner},
    {TESSERA__PDPB__METHOD__REGISTRY_PUT, "RegistryPut", h_registry_put},
    {TESSERA__PDPB__METHOD__REGISTRY_GET, "RegistryGet", h_registry_get},
    {TESSERA__PDPB__METHOD__REGISTRY_LIST, "RegistryList", h_registry_list},
    {TESSERA__PDPB__METHOD__REGISTRY_DELETE, "RegistryDelete", h_registry_delete},
};
const size_t pd_methods_count = sizeof(pd_methods) / sizeof(pd_methods[0]);
