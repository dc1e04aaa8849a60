/*
 * cm_kv_client.c — the KV client's routing and RPC layer (cm_kv_client.h): store connections,
 * leader hints, region errors and retries with backoff, the lock resolver, split and the
 * coprocessor scan. Transactions are in cm_txn.c.
 */
#include "cm_kv_int.h"

#include "cm_codec.h"
#include "cm_keys.h"
#include "cm_log.h"
#include "cm_time.h"

#include <stdlib.h>
#include <string.h>

#define KVC "kvclient"

void cm_kv_client_options_default(cm_kv_client_options *o)
{
    o->rpc_timeout_ms = 1000;
    o->retry_budget_ms = 20000;
    o->lock_ttl_ms = 3000;
    o->scan_page = 256;
    o->gc_page_keys = 0;
}

int cm_kv_client_create(const char *pd_addr, const cm_kv_client_options *o, cm_kv_client **out,
                        cm_err *err)
{
    *out = NULL;
    cm_kv_client *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    cm_kv_client_options_default(&c->o);
    if (o != NULL) {
        c->o = *o;
    }
    pthread_mutex_init(&c->mu, NULL);
    int rc = cm_pd_client_create(pd_addr, NULL, &c->pd, err);
    if (rc != 0) {
        pthread_mutex_destroy(&c->mu);
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void cm_kv_client_free(cm_kv_client *c)
{
    if (c == NULL) {
        return;
    }
    for (size_t i = 0; i < c->nconns; i++) {
        cm_rpc_client_free(c->conns[i].rpc);
    }
    cm_pd_client_free(c->pd);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

cm_pd_client *cm_kv_client_pd(cm_kv_client *c)
{
    return c->pd;
}

void cm_kv_client_stats_get(cm_kv_client *c, cm_kv_client_stats *s)
{
    s->rpcs = atomic_load(&c->rpcs);
    s->region_errors = atomic_load(&c->region_errors);
    s->retries = atomic_load(&c->retries);
    s->locks_resolved = atomic_load(&c->locks_resolved);
    s->commits = atomic_load(&c->commits);
    s->conflicts = atomic_load(&c->conflicts);
    s->undetermined = atomic_load(&c->undetermined);
}

void kv_backoff(unsigned attempt, uint64_t deadline_ms)
{
    uint64_t ms = 2ull << (attempt < 7 ? attempt : 7);
    if (ms > 200) {
        ms = 200;
    }
    uint64_t now = cm_time_mono_ms();
    if (now >= deadline_ms) {
        return;
    }
    if (now + ms > deadline_ms) {
        ms = deadline_ms - now;
    }
    cm_time_sleep_ms(ms);
}

/* ---- connections and hints -------------------------------------------------------------- */

static int conn_get(cm_kv_client *c, uint64_t store_id, cm_rpc_client **out, cm_err *err)
{
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->nconns; i++) {
        if (c->conns[i].store_id == store_id) {
            *out = c->conns[i].rpc;
            pthread_mutex_unlock(&c->mu);
            return 0;
        }
    }
    pthread_mutex_unlock(&c->mu);
    char addr[CM_ADDR_MAX];
    int rc = cm_pd_store_addr(c->pd, store_id, addr, sizeof(addr), err);
    if (rc != 0) {
        return rc;
    }
    cm_rpc_client *rpc = NULL;
    rc = cm_rpc_client_create(addr, &rpc, err);
    if (rc != 0) {
        return rc;
    }
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->nconns; i++) {
        if (c->conns[i].store_id == store_id) { /* another thread won */
            *out = c->conns[i].rpc;
            pthread_mutex_unlock(&c->mu);
            cm_rpc_client_free(rpc);
            return 0;
        }
    }
    if (c->nconns == CM_KV_CONNS_MAX) {
        pthread_mutex_unlock(&c->mu);
        cm_rpc_client_free(rpc);
        return cm_err_set(err, CM_E_TOO_LARGE, "more than %d stores", CM_KV_CONNS_MAX);
    }
    c->conns[c->nconns].store_id = store_id;
    c->conns[c->nconns].rpc = rpc;
    c->nconns++;
    *out = rpc;
    pthread_mutex_unlock(&c->mu);
    return 0;
}

static uint64_t hint_get(cm_kv_client *c, uint64_t region_id)
{
    pthread_mutex_lock(&c->mu);
    kv_hint *h = &c->hints[region_id % CM_KV_HINTS_MAX];
    uint64_t s = h->region_id == region_id ? h->store_id : 0;
    pthread_mutex_unlock(&c->mu);
    return s;
}

static void hint_set(cm_kv_client *c, uint64_t region_id, uint64_t store_id)
{
    pthread_mutex_lock(&c->mu);
    kv_hint *h = &c->hints[region_id % CM_KV_HINTS_MAX];
    h->region_id = region_id;
    h->store_id = store_id;
    pthread_mutex_unlock(&c->mu);
}

/* ---- routes ------------------------------------------------------------------------------- */

void kv_route_init(kv_route *rt)
{
    cm_pd_region_init(&rt->r);
    cm_buf_init(&rt->start_user);
    cm_buf_init(&rt->end_user);
}

void kv_route_fini(kv_route *rt)
{
    cm_pd_region_fini(&rt->r);
    cm_buf_fini(&rt->start_user);
    cm_buf_fini(&rt->end_user);
}

static int decode_bound(const cm_buf *enc, cm_buf *out, cm_err *err)
{
    cm_buf_reset(out);
    if (enc->len == 0) {
        return 0;
    }
    cm_reader rd;
    cm_reader_init(&rd, enc->ptr, enc->len);
    return cm_codec_read_bytes(&rd, out, err);
}

int kv_locate(cm_kv_client *c, cm_slice key, kv_route *rt, cm_err *err)
{
    cm_buf enc = CM_BUF_INIT;
    int rc = cm_keys_append_mvcc_prefix(&enc, key);
    rc = rc ? rc : cm_pd_locate_key(c->pd, cm_buf_slice(&enc), &rt->r, err);
    cm_buf_fini(&enc);
    rc = rc ? rc : decode_bound(&rt->r.start_key, &rt->start_user, err);
    rc = rc ? rc : decode_bound(&rt->r.end_key, &rt->end_user, err);
    return rc;
}

/* ---- sending -------------------------------------------------------------------------------- */

/* Every kvrpcpb request begins with its Context and every response with its RegionError. */
typedef struct any_req {
    ProtobufCMessage base;
    Tessera__Kvrpcpb__Context *context;
} any_req;
typedef struct any_resp {
    ProtobufCMessage base;
    Tessera__Kvrpcpb__RegionError *region_error;
} any_resp;

static bool transport_error(int rc)
{
    return rc == CM_E_TIMEOUT || rc == CM_E_UNAVAILABLE || rc == CM_E_CLOSED || rc == CM_E_IO ||
           rc == CM_E_BUSY;
}

int kv_send(cm_kv_client *c, const kv_route *rt, uint32_t method, ProtobufCMessage *req,
            const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
            uint64_t deadline_ms, bool *uncertain, cm_err *err)
{
    const cm_pd_region *r = &rt->r;
    if (r->npeers == 0) {
        cm_pd_invalidate_region(c->pd, r->id);
        return cm_err_set(err, CM_E_EPOCH_NOT_MATCH, "region %llu has no peers",
                          (unsigned long long)r->id);
    }
    Tessera__Metapb__RegionEpoch ep = TESSERA__METAPB__REGION_EPOCH__INIT;
    ep.conf_ver = r->conf_ver;
    ep.version = r->version;
    Tessera__Metapb__Peer peer = TESSERA__METAPB__PEER__INIT;
    Tessera__Kvrpcpb__Context ctx = TESSERA__KVRPCPB__CONTEXT__INIT;
    ctx.region_id = r->id;
    ctx.region_epoch = &ep;
    ctx.peer = &peer;
    ((any_req *)req)->context = &ctx;

    uint64_t target = hint_get(c, r->id);
    if (target == 0) {
        target = r->leader.store_id ? r->leader.store_id : r->peers[0].store_id;
    }
    unsigned rot = 0;
    uint64_t failed_store = 0; /* the last store that did not answer: hints naming it wait */
    int rc = 0;
    for (unsigned attempt = 0;; attempt++) {
        if (attempt > 0) {
            atomic_fetch_add(&c->retries, 1);
        }
        int64_t left = (int64_t)deadline_ms - (int64_t)cm_time_mono_ms();
        if (left <= 0) {
            rc = cm_err_set(err, CM_E_TIMEOUT, "region %llu: retry budget exhausted (last: %s)",
                            (unsigned long long)r->id, err->msg);
            break;
        }
        peer.store_id = target;
        peer.id = 0;
        for (uint32_t i = 0; i < r->npeers; i++) {
            if (r->peers[i].store_id == target) {
                peer.id = r->peers[i].id;
            }
        }
        cm_rpc_client *rpc = NULL;
        rc = conn_get(c, target, &rpc, err);
        if (rc == 0) {
            atomic_fetch_add(&c->rpcs, 1);
            int64_t to = left < c->o.rpc_timeout_ms ? left : c->o.rpc_timeout_ms;
            rc = cm_rpc_call_pb(rpc, method, req, resp_desc, resp, to, err);
            if (rc != 0 && (rc == CM_E_TIMEOUT || rc == CM_E_UNAVAILABLE)) {
                *uncertain = true;
            }
        }
        if (rc == CM_E_SERVER_IS_BUSY) {
            kv_backoff(attempt, deadline_ms); /* refused before it ran: same store again */
            continue;
        }
        if (rc != 0) {
            CM_DEBUG(KVC, "region=%llu store=%llu method=%u attempt=%u: %s",
                     (unsigned long long)r->id, (unsigned long long)target, method, attempt,
                     err->msg);
            if (!transport_error(rc) && rc != CM_E_NOT_FOUND && rc != CM_E_TOO_LARGE) {
                break; /* the server refused the request itself */
            }
            /* The store is down or slow: try the next peer. */
            failed_store = target;
            for (uint32_t k = 0; k < r->npeers; k++) {
                rot++;
                target = r->peers[rot % r->npeers].store_id;
                if (target != failed_store) {
                    break;
                }
            }
            hint_set(c, r->id, 0);
            kv_backoff(attempt, deadline_ms);
            continue;
        }
        Tessera__Kvrpcpb__RegionError *re = ((any_resp *)*resp)->region_error;
        if (re == NULL) {
            hint_set(c, r->id, target);
            break;
        }
        atomic_fetch_add(&c->region_errors, 1);
        CM_DEBUG(KVC, "region=%llu store=%llu method=%u attempt=%u: region error %s%s%s",
                 (unsigned long long)r->id, (unsigned long long)target, method, attempt,
                 re->message ? re->message : "", re->not_leader ? " not_leader hint=" : "",
                 re->not_leader && re->not_leader->leader ? "yes" : "");
        cm_err_set(err, CM_E_NOT_LEADER, "region %llu: %s", (unsigned long long)r->id,
                   re->message ? re->message : "region error");
        if (re->not_leader != NULL) {
            uint64_t hint = re->not_leader->leader ? re->not_leader->leader->store_id : 0;
            bool known = false;
            for (uint32_t i = 0; i < r->npeers; i++) {
                known |= hint != 0 && r->peers[i].store_id == hint;
            }
            if (hint != 0 && !known) {
                /* A leader on a store our route does not list: the route is old. */
                cm_pd_invalidate_region(c->pd, r->id);
                protobuf_c_message_free_unpacked(*resp, NULL);
                *resp = NULL;
                rc = cm_err_set(err, CM_E_EPOCH_NOT_MATCH, "region %llu: new peers",
                                (unsigned long long)r->id);
                break;
            }
            if (hint != 0 && hint != target) {
                if (hint == failed_store) {
                    /* The hint names the store that did not answer: it may have restarted and
                     * won the election, or the hint is stale. Wait a little, then try it. */
                    kv_backoff(attempt, deadline_ms);
                    failed_store = 0;
                }
                target = hint;
            } else {
                for (uint32_t k = 0; k < r->npeers; k++) {
                    rot++;
                    target = r->peers[rot % r->npeers].store_id;
                    if (target != failed_store) {
                        break;
                    }
                }
                kv_backoff(attempt, deadline_ms);
            }
            hint_set(c, r->id, hint);
        } else if (re->server_is_busy != NULL || re->stale_command) {
            if (re->stale_command) {
                *uncertain = true;
            }
            kv_backoff(attempt, deadline_ms);
        } else {
            /* EpochNotMatch, RegionNotFound, KeyNotInRegion: the route is stale. */
            cm_pd_invalidate_region(c->pd, r->id);
            protobuf_c_message_free_unpacked(*resp, NULL);
            *resp = NULL;
            rc = cm_err_set(err, CM_E_EPOCH_NOT_MATCH, "region %llu: route changed",
                            (unsigned long long)r->id);
            kv_backoff(0, deadline_ms);
            break;
        }
        protobuf_c_message_free_unpacked(*resp, NULL);
        *resp = NULL;
    }
    ((any_req *)req)->context = NULL;
    return rc;
}

/* Locates key and sends (relocating on route changes) until the deadline. */
int kv_send_by_key(cm_kv_client *c, cm_slice key, uint32_t method, ProtobufCMessage *req,
                   const ProtobufCMessageDescriptor *desc, ProtobufCMessage **resp,
                   uint64_t deadline_ms, bool *uncertain, cm_err *err)
{
    int rc;
    for (unsigned attempt = 0;; attempt++) {
        kv_route rt;
        kv_route_init(&rt);
        rc = kv_locate(c, key, &rt, err);
        if (rc == 0) {
            rc = kv_send(c, &rt, method, req, desc, resp, deadline_ms, uncertain, err);
        } else if (cm_time_mono_ms() < deadline_ms) {
            kv_backoff(attempt, deadline_ms);
            rc = CM_E_EPOCH_NOT_MATCH; /* PD unreachable for a moment: try again */
        }
        kv_route_fini(&rt);
        if (rc != CM_E_EPOCH_NOT_MATCH || cm_time_mono_ms() >= deadline_ms) {
            return rc == CM_E_EPOCH_NOT_MATCH ? cm_err_set(err, CM_E_TIMEOUT, "%s", err->msg) : rc;
        }
    }
}

/* ---- lock resolver --------------------------------------------------------------------------- */

/* CheckTxnStatus of lock's transaction: 0 with *commit_ts (0: rolled back) when it is over,
 * CM_E_KEY_IS_LOCKED (and *wait_ms) while it is alive. */
static int check_status(cm_kv_client *c, const Tessera__Kvrpcpb__LockInfo *lock, uint64_t caller_ts,
                        uint64_t deadline_ms, uint64_t *commit_ts, uint64_t *wait_ms, cm_err *err)
{
    *wait_ms = 0;
    *commit_ts = 0;
    uint64_t now_ts = 0;
    int rc = cm_pd_get_ts(c->pd, &now_ts, err);
    if (rc != 0) {
        return rc;
    }
    bool expired =
        cm_pd_ts_physical_ms(now_ts) > cm_pd_ts_physical_ms(lock->lock_version) + lock->lock_ttl;
    Tessera__Kvrpcpb__CheckTxnStatusRequest req = TESSERA__KVRPCPB__CHECK_TXN_STATUS_REQUEST__INIT;
    req.primary_key = lock->primary_lock;
    req.lock_ts = lock->lock_version;
    req.caller_start_ts = caller_ts;
    req.current_ts = now_ts;
    /* A secondary whose TTL passed while its primary has no lock nor record: the prewrite of the
     * primary never landed; roll it back so it never can. */
    req.rollback_if_not_exist = expired;
    Tessera__Kvrpcpb__CheckTxnStatusResponse *resp = NULL;
    bool unc = false;
    rc = kv_send_by_key(c, cm_slice_make(lock->primary_lock.data, lock->primary_lock.len),
                        TESSERA__KVRPCPB__METHOD__KV_CHECK_TXN_STATUS, &req.base,
                        &tessera__kvrpcpb__check_txn_status_response__descriptor,
                        (ProtobufCMessage **)&resp, deadline_ms, &unc, err);
    if (rc != 0) {
        return rc;
    }
    if (resp->error != NULL) {
        if (resp->error->txn_not_found) {
            *wait_ms = 20; /* the primary's prewrite may be on its way */
            rc = cm_err_set(err, CM_E_KEY_IS_LOCKED, "primary of %llu not found yet",
                            (unsigned long long)lock->lock_version);
        } else {
            rc = cm_err_set(err, resp->error->code ? resp->error->code : CM_E_INTERNAL,
                            "check txn status: %s", resp->error->message);
        }
    } else if (resp->lock_ttl > 0) {
        uint64_t end = cm_pd_ts_physical_ms(lock->lock_version) + resp->lock_ttl;
        uint64_t nowp = cm_pd_ts_physical_ms(now_ts);
        *wait_ms = end > nowp ? end - nowp : 1;
        if (*wait_ms > 100) {
            *wait_ms = 100;
        }
        rc = cm_err_set(err, CM_E_KEY_IS_LOCKED, "txn %llu alive",
                        (unsigned long long)lock->lock_version);
    } else {
        *commit_ts = resp->commit_version;
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return rc;
}

/* ResolveLock of keys (n >= 1, one region) of the transaction that started at start_ts. */
static int resolve_keys(cm_kv_client *c, uint64_t start_ts, uint64_t commit_ts,
                        ProtobufCBinaryData *keys, size_t n, uint64_t deadline_ms, cm_err *err)
{
    Tessera__Kvrpcpb__ResolveLockRequest rr = TESSERA__KVRPCPB__RESOLVE_LOCK_REQUEST__INIT;
    rr.start_version = start_ts;
    rr.commit_version = commit_ts;
    rr.n_keys = n;
    rr.keys = keys;
    Tessera__Kvrpcpb__ResolveLockResponse *rresp = NULL;
    bool unc = false;
    int rc = kv_send_by_key(c, cm_slice_make(keys[0].data, keys[0].len),
                            TESSERA__KVRPCPB__METHOD__KV_RESOLVE_LOCK, &rr.base,
                            &tessera__kvrpcpb__resolve_lock_response__descriptor,
                            (ProtobufCMessage **)&rresp, deadline_ms, &unc, err);
    if (rc == 0) {
        if (rresp->error != NULL) {
            rc = cm_err_set(err, rresp->error->code ? rresp->error->code : CM_E_INTERNAL,
                            "resolve lock: %s", rresp->error->message);
        }
        protobuf_c_message_free_unpacked(&rresp->base, NULL);
    }
    if (rc == 0) {
        atomic_fetch_add(&c->locks_resolved, n);
    }
    return rc;
}

int kv_resolve_lock(cm_kv_client *c, const Tessera__Kvrpcpb__LockInfo *lock, uint64_t caller_ts,
                    uint64_t deadline_ms, uint64_t *wait_ms, cm_err *err)
{
    uint64_t commit_ts = 0;
    int rc = check_status(c, lock, caller_ts, deadline_ms, &commit_ts, wait_ms, err);
    if (rc != 0) {
        return rc;
    }
    ProtobufCBinaryData k = lock->key;
    return resolve_keys(c, lock->lock_version, commit_ts, &k, 1, deadline_ms, err);
}

int kv_resolve_locks(cm_kv_client *c, Tessera__Kvrpcpb__LockInfo *const *locks, size_t n,
                     uint64_t caller_ts, uint64_t deadline_ms, uint64_t *wait_ms, cm_err *err)
{
    *wait_ms = 0;
    if (n == 1) {
        return kv_resolve_lock(c, locks[0], caller_ts, deadline_ms, wait_ms, err);
    }
    ProtobufCBinaryData *keys = malloc(sizeof(*keys) * n);
    bool *done = calloc(n, sizeof(*done));
    if (keys == NULL || done == NULL) {
        free(keys);
        free(done);
        return cm_err_set(err, CM_E_NOMEM, "resolving locks: out of memory");
    }
    int rc = 0, alive = 0;
    for (size_t i = 0; i < n && (rc == 0 || rc == CM_E_KEY_IS_LOCKED); i++) {
        if (done[i]) {
            continue;
        }
        size_t nk = 0;
        for (size_t j = i; j < n; j++) { /* every key of this holder */
            if (!done[j] && locks[j]->lock_version == locks[i]->lock_version) {
                done[j] = true;
                keys[nk++] = locks[j]->key;
            }
        }
        uint64_t commit_ts = 0, w = 0;
        int r = check_status(c, locks[i], caller_ts, deadline_ms, &commit_ts, &w, err);
        if (r == 0) {
            r = resolve_keys(c, locks[i]->lock_version, commit_ts, keys, nk, deadline_ms, err);
        }
        if (r == CM_E_KEY_IS_LOCKED) {
            alive++;
            if (*wait_ms == 0 || w < *wait_ms) {
                *wait_ms = w;
            }
            r = 0;
        }
        rc = r;
    }
    free(keys);
    free(done);
    if (rc == 0 && alive > 0) {
        rc = cm_err_set(err, CM_E_KEY_IS_LOCKED, "%d lock holder(s) alive", alive);
    }
    return rc;
}

/* ---- administration ------------------------------------------------------------------------ */

int cm_kv_split(cm_kv_client *c, cm_slice key, cm_err *err)
{
    Tessera__Kvrpcpb__SplitRegionRequest req = TESSERA__KVRPCPB__SPLIT_REGION_REQUEST__INIT;
    req.split_key.data = (uint8_t *)key.ptr;
    req.split_key.len = key.len;
    Tessera__Kvrpcpb__SplitRegionResponse *resp = NULL;
    bool unc = false;
    uint64_t deadline = cm_time_mono_ms() + (uint64_t)c->o.retry_budget_ms;
    int rc = kv_send_by_key(c, key, TESSERA__KVRPCPB__METHOD__SPLIT_REGION, &req.base,
                            &tessera__kvrpcpb__split_region_response__descriptor,
                            (ProtobufCMessage **)&resp, deadline, &unc, err);
    if (rc != 0) {
        return rc;
    }
    if (resp->error && resp->error[0]) {
        rc = cm_err_set(err, CM_E_INVALID, "split: %s", resp->error);
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    cm_pd_invalidate_all_regions(c->pd);
    return rc;
}

/* ---- GC and range deletion ------------------------------------------------------------------ */

/* Tells one store the safe point (GCRequest.announce), retrying transport failures and busy
 * answers until deadline_ms. */
static int gc_announce_store(cm_kv_client *c, uint64_t store_id, uint64_t sp, uint64_t deadline_ms,
                             cm_err *err)
{
    Tessera__Kvrpcpb__GCRequest req = TESSERA__KVRPCPB__GCREQUEST__INIT;
    req.safe_point = sp;
    req.announce = 1;
    int rc = 0;
    for (unsigned attempt = 0;; attempt++) {
        int64_t left = (int64_t)deadline_ms - (int64_t)cm_time_mono_ms();
        if (left <= 0) {
            return cm_err_set(err, CM_E_TIMEOUT,
                              "gc: store %llu did not take safe point %llu (last: %s)",
                              (unsigned long long)store_id, (unsigned long long)sp, err->msg);
        }
        cm_rpc_client *rpc = NULL;
        Tessera__Kvrpcpb__GCResponse *resp = NULL;
        rc = conn_get(c, store_id, &rpc, err);
        if (rc == 0) {
            atomic_fetch_add(&c->rpcs, 1);
            int64_t to = left < c->o.rpc_timeout_ms ? left : c->o.rpc_timeout_ms;
            rc = cm_rpc_call_pb(rpc, TESSERA__KVRPCPB__METHOD__KV_GC, &req.base,
                                &tessera__kvrpcpb__gcresponse__descriptor,
                                (ProtobufCMessage **)&resp, to, err);
        }
        if (rc == 0) {
            if (resp->error != NULL) {
                rc = cm_err_set(err, resp->error->code ? resp->error->code : CM_E_INTERNAL,
                                "gc: store %llu: %s", (unsigned long long)store_id,
                                resp->error->message ? resp->error->message : "");
            }
            protobuf_c_message_free_unpacked(&resp->base, NULL);
            return rc;
        }
        if (!transport_error(rc) && rc != CM_E_SERVER_IS_BUSY) {
            return rc;
        }
        if (rc != CM_E_SERVER_IS_BUSY) {
            cm_pd_invalidate_store(c->pd, store_id); /* it may have come back elsewhere */
        }
        atomic_fetch_add(&c->retries, 1);
        kv_backoff(attempt, deadline_ms);
    }
}

/* Every store that may serve a read must know the safe point before any version is removed. */
static int gc_announce(cm_kv_client *c, uint64_t sp, cm_err *err)
{
    cm_pd_store *stores = NULL;
    size_t n = 0;
    int rc = cm_pd_get_all_stores(c->pd, 1, &stores, &n, err);
    uint64_t deadline = cm_time_mono_ms() + (uint64_t)c->o.retry_budget_ms;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (stores[i].meta_state != CM_PD_STORE_META_TOMBSTONE) {
            rc = gc_announce_store(c, stores[i].id, sp, deadline, err);
        }
    }
    free(stores);
    return rc;
}

/* Resolves the locks a KV_GC request met (all must go before the region can be collected). */
static int gc_resolve(cm_kv_client *c, const Tessera__Kvrpcpb__GCResponse *resp, uint64_t sp,
                      uint64_t deadline_ms, cm_kv_gc_stats *st, cm_err *err)
{
    uint64_t wait_max = 0;
    for (size_t i = 0; i < resp->n_locks; i++) {
        uint64_t wait = 0;
        int rc = kv_resolve_lock(c, resp->locks[i], sp, deadline_ms, &wait, err);
        if (rc == CM_E_KEY_IS_LOCKED) {
            wait_max = wait > wait_max ? wait : wait_max; /* alive: wait for its TTL */
            continue;
        }
        if (rc != 0) {
            return rc;
        }
        st->locks_resolved++;
    }
    if (wait_max > 0) {
        if (cm_time_mono_ms() + wait_max >= deadline_ms) {
            return cm_err_set(err, CM_E_KEY_IS_LOCKED,
                              "gc: a transaction older than safe point %llu is still alive",
                              (unsigned long long)sp);
        }
        cm_time_sleep_ms(wait_max);
    }
    return 0;
}

/* One KV_GC request at *cur in route rt. *next: 1 = the region is done, 0 = call again. */
static int gc_request(cm_kv_client *c, const kv_route *rt, uint64_t sp, cm_buf *cur, cm_slice end,
                      uint64_t *deadline_ms, cm_kv_gc_stats *st, int *next, cm_err *err)
{
    Tessera__Kvrpcpb__GCRequest req = TESSERA__KVRPCPB__GCREQUEST__INIT;
    req.safe_point = sp;
    req.start_key.data = cur->ptr;
    req.start_key.len = cur->len;
    req.end_key.data = (uint8_t *)end.ptr;
    req.end_key.len = end.len;
    req.limit_keys = c->o.gc_page_keys;
    Tessera__Kvrpcpb__GCResponse *resp = NULL;
    bool unc = false;
    *next = 0;
    int rc = kv_send(c, rt, TESSERA__KVRPCPB__METHOD__KV_GC, &req.base,
                     &tessera__kvrpcpb__gcresponse__descriptor, (ProtobufCMessage **)&resp,
                     *deadline_ms, &unc, err);
    if (rc != 0) {
        return rc;
    }
    st->requests++;
    st->keys_scanned += resp->keys_scanned;
    st->versions_deleted += resp->versions_deleted;
    st->values_deleted += resp->values_deleted;
    if (resp->n_locks > 0) {
        rc = gc_resolve(c, resp, sp, *deadline_ms, st, err);
    } else if (resp->error != NULL) {
        rc = cm_err_set(err, resp->error->code ? resp->error->code : CM_E_INTERNAL,
                        "gc: region %llu: %s", (unsigned long long)rt->r.id,
                        resp->error->message ? resp->error->message : "");
    } else if (resp->more) {
        cm_buf_reset(cur);
        rc = cm_buf_append(cur, resp->resume_key.data, resp->resume_key.len);
    } else {
        *next = 1;
    }
    if (rc == 0 && (resp->more || resp->versions_deleted > 0 || resp->n_locks > 0)) {
        *deadline_ms = cm_time_mono_ms() + (uint64_t)c->o.retry_budget_ms; /* progress */
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return rc;
}

/* Moves *cur to the end of route rt; true when [start, end) is covered. */
static bool range_next_region(const kv_route *rt, cm_slice end, cm_buf *cur, int *rc)
{
    if (rt->end_user.len == 0 ||
        (end.len > 0 && cm_slice_cmp(cm_buf_slice(&rt->end_user), end) >= 0)) {
        return true;
    }
    cm_buf_reset(cur);
    *rc = cm_buf_append_slice(cur, cm_buf_slice(&rt->end_user));
    return false;
}

int cm_kv_gc_range(cm_kv_client *c, uint64_t safe_point, cm_slice start, cm_slice end,
                   cm_kv_gc_stats *st_out, cm_err *err)
{
    if (safe_point == 0) {
        return cm_err_set(err, CM_E_INVALID, "gc: safe point 0");
    }
    if (end.len > 0 && cm_slice_cmp(start, end) >= 0) {
        return 0;
    }
    cm_kv_gc_stats st;
    memset(&st, 0, sizeof(st));
    int rc = gc_announce(c, safe_point, err);
    cm_buf cur = CM_BUF_INIT;
    rc = rc ? rc : cm_buf_append_slice(&cur, start);
    uint64_t deadline = cm_time_mono_ms() + (uint64_t)c->o.retry_budget_ms;
    for (unsigned attempt = 0; rc == 0; attempt++) {
        kv_route rt;
        kv_route_init(&rt);
        rc = kv_locate(c, cm_buf_slice(&cur), &rt, err);
        int next = 0;
        rc = rc ? rc : gc_request(c, &rt, safe_point, &cur, end, &deadline, &st, &next, err);
        if (rc == 0 && next) {
            st.regions++;
            if (range_next_region(&rt, end, &cur, &rc)) {
                kv_route_fini(&rt);
                break;
            }
        }
        kv_route_fini(&rt);
        if (rc != 0 && rc != CM_E_EPOCH_NOT_MATCH && rc != CM_E_REGION_NOT_FOUND &&
            !transport_error(rc)) {
            break;
        }
        if (rc != 0 && cm_time_mono_ms() >= deadline) {
            break;
        }
        if (rc != 0) {
            kv_backoff(attempt, deadline); /* route changed or PD away: locate again */
            rc = 0;
        }
    }
    cm_buf_fini(&cur);
    if (st_out != NULL) {
        st_out->regions += st.regions;
        st_out->requests += st.requests;
        st_out->keys_scanned += st.keys_scanned;
        st_out->versions_deleted += st.versions_deleted;
        st_out->values_deleted += st.values_deleted;
        st_out->locks_resolved += st.locks_resolved;
    }
    if (rc == 0) {
        CM_INFO(KVC,
                "gc below %llu: %llu regions, %llu keys looked at, %llu versions and %llu "
                "values removed, %llu locks resolved",
                (unsigned long long)safe_point, (unsigned long long)st.regions,
                (unsigned long long)st.keys_scanned, (unsigned long long)st.versions_deleted,
                (unsigned long long)st.values_deleted, (unsigned long long)st.locks_resolved);
    }
    return rc;
}

int cm_kv_gc(cm_kv_client *c, uint64_t safe_point, cm_err *err)
{
    return cm_kv_gc_range(c, safe_point, cm_slice_make(NULL, 0), cm_slice_make(NULL, 0), NULL, err);
}

int cm_kv_delete_range_n(cm_kv_client *c, cm_slice start, cm_slice end, uint64_t *regions,
                         cm_err *err)
{
    if (regions != NULL) {
        *regions = 0;
    }
    if (end.len > 0 && cm_slice_cmp(start, end) >= 0) {
        return cm_err_set(err, CM_E_INVALID, "delete range: start is not below end");
    }
    cm_buf cur = CM_BUF_INIT;
    int rc = cm_buf_append_slice(&cur, start);
    uint64_t deadline = cm_time_mono_ms() + (uint64_t)c->o.retry_budget_ms;
    for (unsigned attempt = 0; rc == 0; attempt++) {
        kv_route rt;
        kv_route_init(&rt);
        rc = kv_locate(c, cm_buf_slice(&cur), &rt, err);
        Tessera__Kvrpcpb__DeleteRangeResponse *resp = NULL;
        if (rc == 0) {
            Tessera__Kvrpcpb__DeleteRangeRequest req = TESSERA__KVRPCPB__DELETE_RANGE_REQUEST__INIT;
            req.start_key.data = cur.ptr;
            req.start_key.len = cur.len;
            req.end_key.data = (uint8_t *)end.ptr;
            req.end_key.len = end.len;
            bool unc = false;
            rc = kv_send(c, &rt, TESSERA__KVRPCPB__METHOD__KV_DELETE_RANGE, &req.base,
                         &tessera__kvrpcpb__delete_range_response__descriptor,
                         (ProtobufCMessage **)&resp, deadline, &unc, err);
        }
        if (rc == 0 && resp->error != NULL && resp->error[0] != '\0') {
            rc = cm_err_set(err, CM_E_INTERNAL, "delete range: region %llu: %s",
                            (unsigned long long)rt.r.id, resp->error);
        }
        if (resp != NULL) {
            protobuf_c_message_free_unpacked(&resp->base, NULL);
        }
        bool done = false;
        if (rc == 0) {
            if (regions != NULL) {
                (*regions)++;
            }
            done = range_next_region(&rt, end, &cur, &rc);
            deadline = cm_time_mono_ms() + (uint64_t)c->o.retry_budget_ms;
        }
        kv_route_fini(&rt);
        if (rc == 0 && done) {
            break;
        }
        if (rc != 0 &&
            (rc == CM_E_EPOCH_NOT_MATCH || rc == CM_E_REGION_NOT_FOUND || transport_error(rc)) &&
            cm_time_mono_ms() < deadline) {
            kv_backoff(attempt, deadline);
            rc = 0;
        }
    }
    cm_buf_fini(&cur);
    return rc;
}

int cm_kv_delete_range(cm_kv_client *c, cm_slice start, cm_slice end, cm_err *err)
{
    return cm_kv_delete_range_n(c, start, end, NULL, err);
}

/* ---- grouping ------------------------------------------------------------------------------ */

int kv_group_sorted(const cm_slice *keys, size_t n, kv_locate_fn locate, void *ctx, size_t *starts,
                    size_t *ngroups, cm_err *err)
{
    *ngroups = 0;
    cm_buf end = CM_BUF_INIT;
    size_t i = 0;
    int rc = 0;
    while (i < n) {
        uint64_t rid = 0;
        rc = locate(ctx, keys[i], &rid, &end, err);
        if (rc != 0) {
            break;
        }
        starts[(*ngroups)++] = i;
        i++;
        while (i < n && (end.len == 0 || cm_slice_cmp(keys[i], cm_buf_slice(&end)) < 0)) {
            i++;
        }
    }
    cm_buf_fini(&end);
    return rc;
}

/* ---- coprocessor scan ------------------------------------------------------------------------ */

int cm_kv_copr_scan(cm_kv_client *c, cm_slice start, cm_slice end, uint64_t ts,
                    const cm_copr_col *cols, size_t ncols, cm_copr_row_cb cb, void *user,
                    cm_err *err)
{
    cm_buf plan = CM_BUF_INIT, cur = CM_BUF_INIT;
    /* A v2 plan (cm_copr.h): table scan of cols, no section (every column out). */
    int rc = cm_buf_append_u8(&plan, 2);
    rc = rc ? rc : cm_buf_append_u8(&plan, 1);
    rc = rc ? rc : cm_buf_append_uvarint(&plan, ncols);
    for (size_t i = 0; rc == 0 && i < ncols; i++) {
        rc = cm_buf_append_uvarint(&plan, cols[i].id);
        rc = rc ? rc : cm_buf_append_u8(&plan, cols[i].type);
    }
    rc = rc ? rc : cm_buf_append_uvarint(&plan, 0);
    rc = rc ? rc : cm_buf_append_slice(&cur, start);
    uint64_t deadline = cm_time_mono_ms() + (uint64_t)c->o.retry_budget_ms;
    bool stop = false;
    for (unsigned round = 0; rc == 0 && !stop; round++) {
        kv_route rt;
        kv_route_init(&rt);
        rc = kv_locate(c, cm_buf_slice(&cur), &rt, err);
        if (rc != 0 && cm_time_mono_ms() < deadline) {
            /* PD away for a moment, or a split seen half (the left region reported, the right
             * one not yet: no region covers the key) — locate again */
            kv_route_fini(&rt);
            kv_backoff(round, deadline);
            rc = 0;
            continue;
        }
        Tessera__Kvrpcpb__CoprocessorResponse *resp = NULL;
        if (rc == 0) {
            Tessera__Kvrpcpb__CoprocessorRequest req = TESSERA__KVRPCPB__COPROCESSOR_REQUEST__INIT;
            Tessera__Kvrpcpb__KeyRange kr = TESSERA__KVRPCPB__KEY_RANGE__INIT, *krp = &kr;
            kr.start.data = cur.ptr;
            kr.start.len = cur.len;
            kr.end.data = (uint8_t *)end.ptr;
            kr.end.len = end.len;
            req.tp = 2;
            req.data.data = plan.ptr;
            req.data.len = plan.len;
            req.n_ranges = 1;
            req.ranges = &krp;
            req.start_ts = ts;
            req.paging_size = c->o.scan_page;
            bool unc = false;
            rc = kv_send(c, &rt, TESSERA__KVRPCPB__METHOD__COPROCESSOR, &req.base,
                         &tessera__kvrpcpb__coprocessor_response__descriptor,
                         (ProtobufCMessage **)&resp, deadline, &unc, err);
        }
        if (rc == CM_E_EPOCH_NOT_MATCH && cm_time_mono_ms() < deadline) {
            rc = 0;
            kv_route_fini(&rt);
            continue;
        }
        if (rc == 0 && resp->other_error && resp->other_error[0]) {
            /* The store refuses a start_ts below its GC safe point with TiDB's message. */
            rc = kv_copr_other_error(resp->other_error, err);
        }
        if (rc == 0) {
            cm_reader rd;
            cm_reader_init(&rd, resp->data.data, resp->data.len);
            while (rc == 0 && !stop && cm_reader_left(&rd) > 0) {
                uint64_t kl;
                cm_slice k;
                size_t colstart;
                if (cm_reader_uvarint(&rd, &kl) != 0 || cm_reader_bytes(&rd, kl, &k) != 0) {
                    rc = cm_err_set(err, CM_E_CORRUPT, "coprocessor: truncated row");
                    break;
                }
                colstart = rd.pos;
                for (size_t i = 0; rc == 0 && i < ncols; i++) {
                    uint8_t pr;
                    uint64_t vl;
                    if (cm_reader_u8(&rd, &pr) != 0 ||
                        (pr == 2 &&
                         (cm_reader_uvarint(&rd, &vl) != 0 || cm_reader_skip(&rd, vl) != 0))) {
                        rc = cm_err_set(err, CM_E_CORRUPT, "coprocessor: truncated column");
                    }
                }
                if (rc == 0) {
                    stop = cb(user, k,
                              cm_slice_make(resp->data.data + colstart, rd.pos - colstart)) != 0;
                }
            }
            if (rc == 0 && !stop) {
                if (resp->locked == NULL) {
                    /* A page came back: the budget is for making progress, not for the scan. */
                    deadline = cm_time_mono_ms() + (uint64_t)c->o.retry_budget_ms;
                }
                if (resp->locked != NULL) {
                    uint64_t wait = 0;
                    int lrc = kv_resolve_lock(c, resp->locked, ts, deadline, &wait, err);
                    if (lrc == CM_E_KEY_IS_LOCKED && cm_time_mono_ms() < deadline) {
                        cm_time_sleep_ms(wait ? wait : 10);
                    } else if (lrc != 0) {
                        rc = lrc;
                    }
                    cm_buf_reset(&cur);
                    rc = rc ? rc
                            : cm_buf_append(&cur, resp->range->start.data, resp->range->start.len);
                } else if (resp->range != NULL && resp->range->start.len > 0) {
                    cm_buf_reset(&cur);
                    rc = cm_buf_append(&cur, resp->range->start.data, resp->range->start.len);
                } else if (rt.end_user.len == 0 ||
                           (end.len > 0 && cm_slice_cmp(cm_buf_slice(&rt.end_user), end) >= 0)) {
                    stop = true;
                } else {
                    cm_buf_reset(&cur);
                    rc = cm_buf_append_slice(&cur, cm_buf_slice(&rt.end_user));
                }
            }
        }
        if (resp) {
            protobuf_c_message_free_unpacked(&resp->base, NULL);
        }
        kv_route_fini(&rt);
    }
    cm_buf_fini(&plan);
    cm_buf_fini(&cur);
    return rc;
}
