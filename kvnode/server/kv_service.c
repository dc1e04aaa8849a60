/*
 * kv_service.c — the kvnode's kvrpcpb request handlers (docs/kv-protocol.md) and the bridge
 * that runs raftstore commands on the store thread for RPC worker threads.
 *
 * Write path (DESIGN.md §5 "Writes"): latch the command's keys; read through the raftstore (a
 * lease or ReadIndex read, so the leader has applied its term's entry and every earlier write);
 * check the keys are in the region; run the Percolator step of kvnode/txn on that snapshot;
 * propose the resulting batch with the epoch the read was checked under; release the latches
 * only once the batch is applied (or the proposal failed); reply.
 * Read path: raftstore read, then an MVCC read at the request's timestamp.
 */
#include "kv_server_int.h"

#include "cm_codec.h"
#include "cm_keys.h"
#include "cm_log.h"
#include "cm_time.h"
#include "kv_copr.h"
#include "kv_gc.h"
#include "kv_txn.h"
#include "kvrpcpb.pb-c.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef Tessera__Kvrpcpb__RegionError RegionError;
typedef Tessera__Kvrpcpb__KeyError KeyError;
typedef Tessera__Kvrpcpb__LockInfo LockInfo;
typedef Tessera__Kvrpcpb__Context Ctx;

/* ---- the bridge ----------------------------------------------------------------------------- */

kv_call *kv_call_new(kv_server *s, kv_call_kind kind, uint64_t region_id, kv_epoch epoch)
{
    kv_call *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    c->refs = 1;
    c->srv = s;
    c->kind = kind;
    c->region_id = region_id;
    c->epoch = epoch;
    kv_batch_init(&c->batch);
    cm_buf_init(&c->split_key);
    kv_region_init(&c->regions[0]);
    kv_region_init(&c->regions[1]);
    return c;
}

static void call_unref(kv_call *c)
{
    pthread_mutex_lock(&c->mu);
    int left = --c->refs;
    pthread_mutex_unlock(&c->mu);
    if (left > 0) {
        return;
    }
    kv_snapshot_release(c->snap);
    if (c->has_guard) {
        kv_latch_release(c->srv->latches, &c->guard);
    }
    kv_batch_fini(&c->batch);
    cm_buf_fini(&c->split_key);
    kv_region_fini(&c->regions[0]);
    kv_region_fini(&c->regions[1]);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}

void kv_call_put(kv_call *c)
{
    if (c != NULL) {
        call_unref(c);
    }
}

static void call_finish(kv_call *c, const kv_raftstore_result *res, kv_snapshot *snap)
{
    pthread_mutex_lock(&c->mu);
    c->rc = res->rc;
    snprintf(c->msg, sizeof(c->msg), "%s", res->msg ? res->msg : "");
    c->leader = res->leader;
    c->n_regions = 0;
    for (size_t i = 0; i < res->n_regions && i < 2; i++) {
        if (kv_region_copy(&c->regions[i], &res->regions[i]) == 0) {
            c->n_regions++;
        }
    }
    if (c->abandoned) {
        kv_snapshot_release(snap);
    } else {
        c->snap = snap;
    }
    c->done = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    call_unref(c);
}

static void done_cb(void *user, const kv_raftstore_result *res)
{
    call_finish(user, res, NULL);
}

static void read_cb(void *user, const kv_raftstore_result *res, kv_snapshot *snap)
{
    call_finish(user, res, snap);
}

static void call_post(kv_raftstore *rs, void *arg)
{
    kv_call *c = arg;
    switch (c->kind) {
    case KV_CALL_READ:
        kv_raftstore_read(rs, c->region_id, c->epoch, read_cb, c);
        break;
    case KV_CALL_PROPOSE:
        kv_raftstore_propose(rs, c->region_id, c->epoch, &c->batch, done_cb, c);
        break;
    case KV_CALL_SPLIT:
        kv_raftstore_split(rs, c->region_id, c->epoch, cm_buf_slice(&c->split_key), done_cb, c);
        break;
    case KV_CALL_CONF:
        kv_raftstore_change_peer(rs, c->region_id, c->epoch, c->op, c->peer, done_cb, c);
        break;
    }
}

int kv_call_run(kv_call *c)
{
    if (!atomic_load(&c->srv->ready)) {
        c->rc = CM_E_SERVER_IS_BUSY;
        snprintf(c->msg, sizeof(c->msg), "store is starting");
        return c->rc;
    }
    c->refs++;
    if (kv_raftstore_post(c->srv->rs, call_post, c) != 0) {
        c->refs--;
        c->rc = CM_E_SERVER_IS_BUSY;
        snprintf(c->msg, sizeof(c->msg), "cannot post to the store thread");
        return c->rc;
    }
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += KV_SRV_CALL_TIMEOUT_MS / 1000;
    pthread_mutex_lock(&c->mu);
    while (!c->done) {
        if (pthread_cond_timedwait(&c->cv, &c->mu, &dl) == ETIMEDOUT) {
            break;
        }
    }
    if (!c->done) {
        /* The store's callback still comes: it will release what the call owns. */
        c->abandoned = true;
        c->rc = CM_E_STALE_COMMAND;
        snprintf(c->msg, sizeof(c->msg), "store did not answer in time");
    }
    int rc = c->rc;
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* One KV_GC request works at most this long (then answers `more`), so it stays far inside the
 * client's RPC timeout (1 s); and at most this many steps. */
#define KV_SRV_GC_WORK_MS   300
#define KV_SRV_GC_STEPS_MAX 256

/* ---- protobuf helpers (everything allocated in the request arena) ---------------------------- */

static void *anew(cm_arena *a, const void *init, size_t size)
{
    void *p = cm_arena_alloc(a, size);
    if (p != NULL) {
        memcpy(p, init, size);
    }
    return p;
}
#define ANEW(a, T, INIT) ((T *)anew((a), &(T)INIT, sizeof(T)))

static ProtobufCBinaryData pbytes(cm_slice s)
{
    ProtobufCBinaryData b = {s.len, (uint8_t *)s.ptr};
    return b;
}

static cm_slice sbytes(ProtobufCBinaryData b)
{
    return cm_slice_make(b.data, b.len);
}

static char *astr(cm_arena *a, const char *s)
{
    return cm_arena_strndup(a, s, strlen(s));
}

static Tessera__Metapb__Region *pb_region(cm_arena *a, const kv_region *r)
{
    Tessera__Metapb__Region *m = ANEW(a, Tessera__Metapb__Region, TESSERA__METAPB__REGION__INIT);
    Tessera__Metapb__RegionEpoch *e =
        ANEW(a, Tessera__Metapb__RegionEpoch, TESSERA__METAPB__REGION_EPOCH__INIT);
    Tessera__Metapb__Peer **ps = cm_arena_alloc(a, sizeof(*ps) * (r->n_peers + 1));
    if (m == NULL || e == NULL || ps == NULL) {
        return NULL;
    }
    m->id = r->id;
    m->start_key = pbytes(kv_region_start(r));
    m->end_key = pbytes(kv_region_end(r));
    e->conf_ver = r->epoch.conf_ver;
    e->version = r->epoch.version;
    m->epoch = e;
    for (uint8_t i = 0; i < r->n_peers; i++) {
        ps[i] = ANEW(a, Tessera__Metapb__Peer, TESSERA__METAPB__PEER__INIT);
        if (ps[i] == NULL) {
            return NULL;
        }
        ps[i]->id = r->peers[i].id;
        ps[i]->store_id = r->peers[i].store_id;
        ps[i]->role = r->peers[i].role;
    }
    m->n_peers = r->n_peers;
    m->peers = ps;
    return m;
}

/* A region error for a failed raftstore call (or NULL when out of memory). */
static RegionError *region_error(cm_arena *a, const kv_call *c, int rc, const char *msg)
{
    RegionError *re = ANEW(a, RegionError, TESSERA__KVRPCPB__REGION_ERROR__INIT);
    if (re == NULL) {
        return NULL;
    }
    re->message = astr(a, msg ? msg : cm_err_name(rc));
    uint64_t rid = c ? c->region_id : 0;
    switch (rc) {
    case CM_E_NOT_LEADER: {
        Tessera__Kvrpcpb__NotLeader *nl =
            ANEW(a, Tessera__Kvrpcpb__NotLeader, TESSERA__KVRPCPB__NOT_LEADER__INIT);
        if (nl != NULL) {
            nl->region_id = rid;
            if (c && c->leader.id != 0) {
                nl->leader = ANEW(a, Tessera__Metapb__Peer, TESSERA__METAPB__PEER__INIT);
                if (nl->leader) {
                    nl->leader->id = c->leader.id;
                    nl->leader->store_id = c->leader.store_id;
                }
            }
        }
        re->not_leader = nl;
        break;
    }
    case CM_E_EPOCH_NOT_MATCH: {
        Tessera__Kvrpcpb__EpochNotMatch *en =
            ANEW(a, Tessera__Kvrpcpb__EpochNotMatch, TESSERA__KVRPCPB__EPOCH_NOT_MATCH__INIT);
        if (en != NULL && c != NULL && c->n_regions > 0) {
            en->current_regions = cm_arena_alloc(a, sizeof(void *) * c->n_regions);
            for (size_t i = 0; en->current_regions && i < c->n_regions; i++) {
                en->current_regions[en->n_current_regions++] = pb_region(a, &c->regions[i]);
            }
        }
        re->epoch_not_match = en;
        break;
    }
    case CM_E_REGION_NOT_FOUND:
        re->region_not_found =
            ANEW(a, Tessera__Kvrpcpb__RegionNotFound, TESSERA__KVRPCPB__REGION_NOT_FOUND__INIT);
        if (re->region_not_found) {
            re->region_not_found->region_id = rid;
        }
        break;
    case CM_E_SERVER_IS_BUSY:
    case CM_E_BUSY:
        re->server_is_busy =
            ANEW(a, Tessera__Kvrpcpb__ServerIsBusy, TESSERA__KVRPCPB__SERVER_IS_BUSY__INIT);
        if (re->server_is_busy) {
            re->server_is_busy->reason = re->message;
            re->server_is_busy->backoff_ms = 10;
        }
        break;
    default:
        /* STALE_COMMAND, a timeout, a closing store, I/O: the outcome is unknown; retry. */
        re->stale_command = 1;
        break;
    }
    return re;
}

static RegionError *key_not_in_region(cm_arena *a, const kv_region *r, cm_slice key)
{
    RegionError *re = ANEW(a, RegionError, TESSERA__KVRPCPB__REGION_ERROR__INIT);
    Tessera__Kvrpcpb__KeyNotInRegion *k =
        ANEW(a, Tessera__Kvrpcpb__KeyNotInRegion, TESSERA__KVRPCPB__KEY_NOT_IN_REGION__INIT);
    if (re == NULL || k == NULL) {
        return NULL;
    }
    re->message = astr(a, "key not in region");
    k->key = pbytes(key);
    k->region_id = r->id;
    k->start_key = pbytes(kv_region_start(r));
    k->end_key = pbytes(kv_region_end(r));
    re->key_not_in_region = k;
    return re;
}

static LockInfo *lock_info(cm_arena *a, const kv_lock_info *l)
{
    LockInfo *li = ANEW(a, LockInfo, TESSERA__KVRPCPB__LOCK_INFO__INIT);
    if (li == NULL) {
        return NULL;
    }
    li->primary_lock = pbytes(l->primary);
    li->lock_version = l->start_ts;
    li->key = pbytes(l->key);
    li->lock_ttl = l->ttl_ms;
    li->lock_type = l->kind == KV_LOCK_DELETE ? TESSERA__KVRPCPB__OP__DEL
                    : l->kind == KV_LOCK_LOCK ? TESSERA__KVRPCPB__OP__LOCK
                                              : TESSERA__KVRPCPB__OP__PUT;
    li->txn_size = l->txn_size;
    return li;
}

/* The KeyError for a failed Percolator step; lock_i picks which lock for KEY_IS_LOCKED. */
static KeyError *key_error(cm_arena *a, int rc, const kv_txn_out *out, size_t lock_i,
                           const cm_err *e)
{
    KeyError *ke = ANEW(a, KeyError, TESSERA__KVRPCPB__KEY_ERROR__INIT);
    if (ke == NULL) {
        return NULL;
    }
    switch (rc) {
    case CM_E_KEY_IS_LOCKED:
        if (out && lock_i < out->nlocks) {
            ke->locked = lock_info(a, &out->locks[lock_i]);
            break;
        }
        ke->code = rc;
        break;
    case CM_E_WRITE_CONFLICT: {
        Tessera__Kvrpcpb__WriteConflict *wc =
            ANEW(a, Tessera__Kvrpcpb__WriteConflict, TESSERA__KVRPCPB__WRITE_CONFLICT__INIT);
        if (wc && out) {
            wc->start_ts = out->conflict.start_ts;
            wc->conflict_ts = out->conflict.conflict_start_ts;
            wc->conflict_commit_ts = out->conflict.conflict_commit_ts;
            wc->key = pbytes(out->conflict.key);
            wc->primary = pbytes(out->conflict.primary);
        }
        ke->conflict = wc;
        break;
    }
    case CM_E_TXN_ROLLED_BACK:
        ke->already_rolled_back = 1;
        break;
    case CM_E_TXN_LOCK_NOT_FOUND:
        ke->txn_not_found = 1;
        break;
    case CM_E_TXN_COMMITTED:
        ke->already_committed = 1;
        ke->commit_ts = out ? out->commit_ts : 0;
        break;
    default:
        break;
    }
    ke->code = rc;
    ke->message = astr(a, e && e->msg[0] ? e->msg : cm_err_name(rc));
    return ke;
}

/* ---- the store's GC safe point ---------------------------------------------------------------
 *
 * Reads and prewrites at a timestamp below the GC safe point are refused with GC_TOO_EARLY
 * (TiDB's "GC life time is shorter than transaction duration") instead of reading versions GC
 * may have removed. The store knows the highest safe point of: the announcements the GC client
 * sends every store before it collects any region (GCRequest.announce), the KV_GC requests this
 * store served, and PD's safe point, loaded once when the store serves its first timestamped
 * request (so a restarted store knows what the rounds it missed removed). Process-wide: one
 * kvnode per process (in-process test servers would share it, which only refuses more). */
static _Atomic uint64_t gc_sp;
static atomic_bool gc_sp_loaded;
static pthread_mutex_t gc_sp_mu = PTHREAD_MUTEX_INITIALIZER;

static void gc_sp_raise(uint64_t sp)
{
    uint64_t cur = atomic_load(&gc_sp);
    while (sp > cur && !atomic_compare_exchange_weak(&gc_sp, &cur, sp)) {
    }
}

/* 0 when ts may be served; CM_E_GC_TOO_EARLY; or the error loading PD's safe point. A read at
 * the safe point itself is fine (the version at the safe point is kept); a write (`writes`) at
 * it is not — the Rollback records that stop a late prewrite at or below it are gone. */
static int gc_gate(kv_server *s, uint64_t ts, bool writes, cm_err *err)
{
    if (!atomic_load(&gc_sp_loaded)) {
        pthread_mutex_lock(&gc_sp_mu);
        int rc = 0;
        if (!atomic_load(&gc_sp_loaded)) {
            uint64_t sp = 0;
            rc = s->pd ? cm_pd_get_gc_safe_point(s->pd, &sp, err) : 0;
            if (rc == 0) {
                gc_sp_raise(sp);
                atomic_store(&gc_sp_loaded, true);
            } else {
                CM_WARN(KV_SRV, "cannot load the GC safe point from PD: %s", err->msg);
            }
        }
        pthread_mutex_unlock(&gc_sp_mu);
        if (rc != 0) {
            return rc;
        }
    }
    uint64_t sp = atomic_load(&gc_sp);
    if (ts < sp || (writes && ts == sp && sp != 0)) {
        return cm_err_set(err, CM_E_GC_TOO_EARLY,
                          "GC life time is shorter than transaction duration: ts %llu is %s "
                          "the GC safe point %llu",
                          (unsigned long long)ts, ts < sp ? "below" : "at", (unsigned long long)sp);
    }
    return 0;
}

/* After a read's snapshot was taken: if a GC batch is in it, the safe point was raised before
 * that batch applied (announcement and KV_GC raise it first), so checking again here closes the
 * window between the first check and the snapshot. Puts the call and fills *ke when refused. */
static bool gc_refuse_after(kv_server *s, cm_arena *a, uint64_t ts, kv_call **c, KeyError **ke)
{
    uint64_t sp = atomic_load(&gc_sp);
    if (*c == NULL || ts >= sp) {
        return false;
    }
    cm_err e;
    cm_err_set(&e, CM_E_GC_TOO_EARLY,
               "GC life time is shorter than transaction duration: ts %llu is below the GC safe "
               "point %llu",
               (unsigned long long)ts, (unsigned long long)sp);
    *ke = key_error(a, CM_E_GC_TOO_EARLY, NULL, 0, &e);
    cm_counter_inc(s->m_errors);
    kv_call_put(*c);
    *c = NULL;
    return true;
}

/* Fills *ke or *re when ts may not be served (see gc_gate); true when refused. */
static bool gc_refuse(kv_server *s, cm_arena *a, uint64_t ts, bool writes, KeyError **ke,
                      RegionError **re)
{
    cm_err e;
    int rc = gc_gate(s, ts, writes, &e);
    if (rc == 0) {
        return false;
    }
    cm_counter_inc(s->m_errors);
    if (rc == CM_E_GC_TOO_EARLY) {
        *ke = key_error(a, rc, NULL, 0, &e);
    } else {
        *re = region_error(a, NULL, CM_E_SERVER_IS_BUSY, "GC safe point not loaded from PD yet");
    }
    return true;
}

/* ---- request plumbing --------------------------------------------------------------------- */

static int parse_ctx(const Ctx *ctx, uint64_t *region_id, kv_epoch *epoch, cm_err *err)
{
    if (ctx == NULL || ctx->region_id == 0) {
        return cm_err_set(err, CM_E_INVALID, "request without a region context");
    }
    *region_id = ctx->region_id;
    epoch->conf_ver = ctx->region_epoch ? ctx->region_epoch->conf_ver : 0;
    epoch->version = ctx->region_epoch ? ctx->region_epoch->version : 0;
    return 0;
}

/* Whether user key lies in region r (region ranges are encoded user keys). */
static bool key_in_region(const kv_region *r, cm_slice key)
{
    cm_buf enc = CM_BUF_INIT;
    bool in =
        cm_keys_append_mvcc_prefix(&enc, key) == 0 && kv_region_contains(r, cm_buf_slice(&enc));
    cm_buf_fini(&enc);
    return in;
}

/* The region's range as user keys (empty: unbounded), decoded into the arena. */
static int region_user_range(cm_arena *a, const kv_region *r, cm_slice *start, cm_slice *end)
{
    cm_slice enc[2] = {kv_region_start(r), kv_region_end(r)};
    cm_slice *outs[2] = {start, end};
    for (int i = 0; i < 2; i++) {
        *outs[i] = cm_slice_make(NULL, 0);
        if (enc[i].len == 0) {
            continue;
        }
        cm_buf b = CM_BUF_INIT;
        cm_reader rd;
        cm_reader_init(&rd, enc[i].ptr, enc[i].len);
        int rc = cm_codec_read_bytes(&rd, &b, NULL);
        if (rc != 0) {
            cm_buf_fini(&b);
            return CM_E_CORRUPT;
        }
        void *p = cm_arena_memdup(a, b.ptr ? b.ptr : (const uint8_t *)"", b.len);
        *outs[i] = cm_slice_make(p, b.len);
        cm_buf_fini(&b);
    }
    return 0;
}

/* Runs a linearizable read of the context's region. On success *callp holds the snapshot and
 * the region (the caller puts the call); otherwise *rerr is the region error to reply. */
static int begin_read(kv_server *s, const cm_rpc_req *req, const Ctx *ctx, kv_call **callp,
                      RegionError **rerr, cm_err *err)
{
    uint64_t rid = 0;
    kv_epoch ep = {0, 0};
    *callp = NULL;
    int rc = parse_ctx(ctx, &rid, &ep, err);
    if (rc != 0) {
        return rc;
    }
    kv_call *c = kv_call_new(s, KV_CALL_READ, rid, ep);
    if (c == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    rc = kv_call_run(c);
    if (rc != 0) {
        *rerr = region_error(req->arena, c, rc, c->msg);
        cm_counter_inc(s->m_errors);
        kv_call_put(c);
        return 0;
    }
    *callp = c;
    return 0;
}

typedef int (*txn_step_fn)(void *arg, kv_snapshot *snap, kv_txn_out *out, cm_err *err);

typedef struct write_result {
    RegionError *rerr; /* set: reply with it and nothing else */
    int txn_rc;        /* the Percolator step's result */
    cm_err txn_err;
    kv_txn_out out;
} write_result;

/* The write path of the file comment. keys: every key the step checks and writes (latched). */
static int run_write(kv_server *s, const cm_rpc_req *req, const Ctx *ctx, const cm_slice *keys,
                     size_t n, txn_step_fn fn, void *arg, write_result *wr, cm_err *err)
{
    memset(wr, 0, sizeof(*wr));
    uint64_t rid = 0;
    kv_epoch ep = {0, 0};
    int rc = parse_ctx(ctx, &rid, &ep, err);
    if (rc != 0) {
        return rc;
    }
    kv_call *prop = kv_call_new(s, KV_CALL_PROPOSE, rid, ep);
    kv_call *rd = kv_call_new(s, KV_CALL_READ, rid, ep);
    if (prop == NULL || rd == NULL) {
        kv_call_put(prop);
        kv_call_put(rd);
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    rc = kv_latch_acquire(s->latches, keys, n, &prop->guard, err);
    if (rc != 0) {
        kv_call_put(prop);
        kv_call_put(rd);
        return rc;
    }
    prop->has_guard = true;
    rc = kv_call_run(rd);
    if (rc != 0) {
        wr->rerr = region_error(req->arena, rd, rc, rd->msg);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (!key_in_region(&rd->regions[0], keys[i])) {
            wr->rerr = key_not_in_region(req->arena, &rd->regions[0], keys[i]);
            goto out;
        }
    }
    kv_txn_out_init(&wr->out, &prop->batch, req->arena);
    wr->txn_rc = fn(arg, rd->snap, &wr->out, &wr->txn_err);
    kv_snapshot_release(rd->snap);
    rd->snap = NULL;
    if (wr->txn_rc == 0 && kv_batch_count(&prop->batch) > 0) {
        rc = kv_call_run(prop);
        if (rc != 0) {
            wr->rerr = region_error(req->arena, prop, rc, prop->msg);
        }
    }
out:
    if (wr->rerr != NULL) {
        cm_counter_inc(s->m_errors);
    }
    kv_call_put(rd);
    kv_call_put(prop); /* releases the latches unless the store still holds the call */
    return 0;
}

#define UNPACK(T, desc, var)                                                                       \
    T *var = NULL;                                                                                 \
    do {                                                                                           \
        int urc_ = cm_rpc_unpack(req, &desc, (ProtobufCMessage **)&var, err);                      \
        if (urc_ != 0) {                                                                           \
            return urc_;                                                                           \
        }                                                                                          \
    } while (0)

/* Ends a handler: frees the request and, when rc is 0, packs the response (a non-zero rc — a
 * request the handler could not take — is returned as is, with no reply). */
static int finish(int rc, ProtobufCMessage *resp, ProtobufCMessage *reqmsg, cm_buf *reply)
{
    if (rc == 0) {
        rc = cm_rpc_pack(resp, reply);
    }
    protobuf_c_message_free_unpacked(reqmsg, NULL);
    return rc;
}

static void count(kv_server *s, uint32_t method)
{
    if (method < 64) {
        cm_counter_inc(s->m_requests[method]);
    }
}

/* ---- reads ---------------------------------------------------------------------------------- */

static int h_get(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    kv_server *s = user;
    count(s, req->method);
    UNPACK(Tessera__Kvrpcpb__GetRequest, tessera__kvrpcpb__get_request__descriptor, r);
    Tessera__Kvrpcpb__GetResponse resp = TESSERA__KVRPCPB__GET_RESPONSE__INIT;
    kv_call *c = NULL;
    int rc = gc_refuse(s, req->arena, r->version, false, &resp.error, &resp.region_error)
                 ? 0
                 : begin_read(s, req, r->context, &c, &resp.region_error, err);
    gc_refuse_after(s, req->arena, r->version, &c, &resp.error);
    if (rc == 0 && c != NULL) {
        cm_slice key = sbytes(r->key);
        if (!key_in_region(&c->regions[0], key)) {
            resp.region_error = key_not_in_region(req->arena, &c->regions[0], key);
        } else {
            cm_slice v;
            kv_lock_info li;
            cm_err e;
            int grc = kv_mvcc_get(c->snap, key, r->version, req->arena, &v, &li, &e);
            if (grc == 0) {
                resp.value = pbytes(v);
            } else if (grc == CM_E_NOT_FOUND) {
                resp.not_found = 1;
            } else if (grc == CM_E_KEY_IS_LOCKED) {
                kv_txn_out o;
                memset(&o, 0, sizeof(o));
                o.locks = &li;
                o.nlocks = 1;
                resp.error = key_error(req->arena, grc, &o, 0, &e);
            } else {
                resp.error = key_error(req->arena, grc, NULL, 0, &e);
            }
        }
        kv_call_put(c);
    }
    return finish(rc, &resp.base, &r->base, reply);
}

/* The reply pairs of a BatchGet or Scan: found values first, then one pair with a KeyIsLocked
 * error per lock met. NULL (with *n_out 0) on out-of-memory; memory comes from `arena`. */
static Tessera__Kvrpcpb__KvPair **read_pairs(cm_arena *arena, const kv_read_result *out,
                                             size_t *n_out, cm_err *e)
{
    *n_out = 0;
    Tessera__Kvrpcpb__KvPair **pairs =
        cm_arena_alloc(arena, sizeof(void *) * (out->npairs + out->nlocks + 1));
    if (pairs == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < out->npairs; i++) {
        Tessera__Kvrpcpb__KvPair *p =
            ANEW(arena, Tessera__Kvrpcpb__KvPair, TESSERA__KVRPCPB__KV_PAIR__INIT);
        p->key = pbytes(out->pairs[i].key);
        p->value = pbytes(out->pairs[i].value);
        pairs[(*n_out)++] = p;
    }
    kv_txn_out o;
    memset(&o, 0, sizeof(o));
    o.locks = out->locks;
    o.nlocks = out->nlocks;
    for (size_t i = 0; i < out->nlocks; i++) {
        Tessera__Kvrpcpb__KvPair *p =
            ANEW(arena, Tessera__Kvrpcpb__KvPair, TESSERA__KVRPCPB__KV_PAIR__INIT);
        p->key = pbytes(out->locks[i].key);
        p->error = key_error(arena, CM_E_KEY_IS_LOCKED, &o, i, e);
        pairs[(*n_out)++] = p;
    }
    return pairs;
}

static int h_batch_get(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    kv_server *s = user;
    count(s, req->method);
    UNPACK(Tessera__Kvrpcpb__BatchGetRequest, tessera__kvrpcpb__batch_get_request__descriptor, r);
    Tessera__Kvrpcpb__BatchGetResponse resp = TESSERA__KVRPCPB__BATCH_GET_RESPONSE__INIT;
    kv_call *c = NULL;
    int rc = gc_refuse(s, req->arena, r->version, false, &resp.error, &resp.region_error)
                 ? 0
                 : begin_read(s, req, r->context, &c, &resp.region_error, err);
    gc_refuse_after(s, req->arena, r->version, &c, &resp.error);
    if (rc == 0 && c != NULL) {
        cm_slice *keys = cm_arena_alloc(req->arena, sizeof(cm_slice) * (r->n_keys + 1));
        for (size_t i = 0; keys && i < r->n_keys && resp.region_error == NULL; i++) {
            keys[i] = sbytes(r->keys[i]);
            if (!key_in_region(&c->regions[0], keys[i])) {
                resp.region_error = key_not_in_region(req->arena, &c->regions[0], keys[i]);
            }
        }
        if (keys == NULL) {
            rc = cm_err_set(err, CM_E_NOMEM, "out of memory");
        } else if (resp.region_error == NULL) {
            kv_read_result out;
            cm_err e;
            int grc = kv_mvcc_batch_get(c->snap, keys, r->n_keys, r->version, req->arena, &out, &e);
            if (grc == 0 || grc == CM_E_KEY_IS_LOCKED) {
                resp.pairs = read_pairs(req->arena, &out, &resp.n_pairs, &e);
            } else {
                resp.error = key_error(req->arena, grc, NULL, 0, &e);
            }
        }
        kv_call_put(c);
    }
    return finish(rc, &resp.base, &r->base, reply);
}

/* The later of two lower bounds / the earlier of two upper bounds (empty = unbounded). */
static cm_slice max_start(cm_slice a, cm_slice b)
{
    return cm_slice_cmp(a, b) >= 0 ? a : b;
}
static cm_slice min_end(cm_slice a, cm_slice b)
{
    if (a.len == 0) {
        return b;
    }
    if (b.len == 0) {
        return a;
    }
    return cm_slice_cmp(a, b) <= 0 ? a : b;
}

static int h_scan(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    kv_server *s = user;
    count(s, req->method);
    UNPACK(Tessera__Kvrpcpb__ScanRequest, tessera__kvrpcpb__scan_request__descriptor, r);
    Tessera__Kvrpcpb__ScanResponse resp = TESSERA__KVRPCPB__SCAN_RESPONSE__INIT;
    kv_call *c = NULL;
    int rc = gc_refuse(s, req->arena, r->version, false, &resp.error, &resp.region_error)
                 ? 0
                 : begin_read(s, req, r->context, &c, &resp.region_error, err);
    gc_refuse_after(s, req->arena, r->version, &c, &resp.error);
    if (rc == 0 && c != NULL) {
        cm_slice rs, re;
        kv_scan_req sr;
        memset(&sr, 0, sizeof(sr));
        if (region_user_range(req->arena, &c->regions[0], &rs, &re) != 0) {
            rc = cm_err_set(err, CM_E_CORRUPT, "region boundary is not an encoded key");
        } else {
            sr.start = max_start(sbytes(r->start_key), rs);
            sr.end = min_end(sbytes(r->end_key), re);
            sr.ts = r->version;
            sr.limit = r->limit;
            sr.key_only = r->key_only;
            sr.reverse = r->reverse;
        }
        kv_read_result out;
        cm_err e;
        int grc = rc;
        if (rc == 0 && sr.end.len > 0 && cm_slice_cmp(sr.start, sr.end) >= 0) {
            memset(&out, 0, sizeof(out)); /* empty intersection */
        } else if (rc == 0) {
            grc = kv_mvcc_scan(c->snap, &sr, req->arena, &out, &e);
        }
        if (rc == 0 && (grc == 0 || grc == CM_E_KEY_IS_LOCKED)) {
            resp.pairs = read_pairs(req->arena, &out, &resp.n_pairs, &e);
        } else if (rc == 0) {
            resp.error = key_error(req->arena, grc, NULL, 0, &e);
        }
        kv_call_put(c);
    }
    return finish(rc, &resp.base, &r->base, reply);
}

/* ---- writes --------------------------------------------------------------------------------- */

typedef struct prewrite_arg {
    kv_server *srv;
    const kv_prewrite_req *pr;
} prewrite_arg;

static int step_prewrite(void *arg, kv_snapshot *snap, kv_txn_out *out, cm_err *err)
{
    prewrite_arg *a = arg;
    /* Again on the snapshot: a GC batch applied in it raised the safe point before it applied. */
    int rc = gc_gate(a->srv, a->pr->start_ts, true, err);
    return rc ? rc : kv_txn_prewrite(snap, a->pr, out, err);
}

static int h_prewrite(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    kv_server *s = user;
    count(s, req->method);
    UNPACK(Tessera__Kvrpcpb__PrewriteRequest, tessera__kvrpcpb__prewrite_request__descriptor, r);
    Tessera__Kvrpcpb__PrewriteResponse resp = TESSERA__KVRPCPB__PREWRITE_RESPONSE__INIT;
    size_t n = r->n_mutations;
    kv_mutation *muts = cm_arena_alloc(req->arena, sizeof(*muts) * (n + 1));
    cm_slice *keys = cm_arena_alloc(req->arena, sizeof(*keys) * (n + 1));
    if (muts == NULL || keys == NULL) {
        protobuf_c_message_free_unpacked(&r->base, NULL);
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        Tessera__Kvrpcpb__Mutation *m = r->mutations[i];
        muts[i].op = m->op == TESSERA__KVRPCPB__OP__DEL    ? KV_MUT_DELETE
                     : m->op == TESSERA__KVRPCPB__OP__LOCK ? KV_MUT_LOCK
                                                           : KV_MUT_PUT;
        muts[i].key = sbytes(m->key);
        muts[i].value = sbytes(m->value);
        keys[i] = muts[i].key;
    }
    kv_prewrite_req pr = {muts,        n,          sbytes(r->primary_lock), r->start_version,
                          r->lock_ttl, r->txn_size};
    write_result wr;
    KeyError *gce = NULL;
    if (gc_refuse(s, req->arena, r->start_version, true, &gce, &resp.region_error)) {
        /* Below the safe point GC may have removed the newest record a conflict check needs. */
        resp.errors = gce ? cm_arena_alloc(req->arena, sizeof(void *)) : NULL;
        if (resp.errors != NULL) {
            resp.errors[resp.n_errors++] = gce;
        }
        return finish(0, &resp.base, &r->base, reply);
    }
    prewrite_arg pa = {s, &pr};
    int rc = run_write(s, req, r->context, keys, n, step_prewrite, &pa, &wr, err);
    if (rc != 0) {
        protobuf_c_message_free_unpacked(&r->base, NULL);
        return rc;
    }
    resp.region_error = wr.rerr;
    if (wr.rerr == NULL && wr.txn_rc != 0) {
        size_t ne = (wr.txn_rc == CM_E_KEY_IS_LOCKED && wr.out.nlocks > 0) ? wr.out.nlocks : 1;
        resp.errors = cm_arena_alloc(req->arena, sizeof(void *) * ne);
        for (size_t i = 0; resp.errors && i < ne; i++) {
            resp.errors[resp.n_errors++] =
                key_error(req->arena, wr.txn_rc, &wr.out, i, &wr.txn_err);
        }
    }
    return finish(0, &resp.base, &r->base, reply);
}

typedef struct keys_arg {
    const cm_slice *keys;
    size_t n;
    uint64_t start_ts;
    uint64_t commit_ts;
    uint64_t current_ts;
    bool rollback_if_not_exist;
    uint64_t ttl;
    kv_txn_status status;
} keys_arg;

static int step_commit(void *arg, kv_snapshot *snap, kv_txn_out *out, cm_err *err)
{
    keys_arg *a = arg;
    return kv_txn_commit(snap, a->keys, a->n, a->start_ts, a->commit_ts, out, err);
}

static int step_rollback(void *arg, kv_snapshot *snap, kv_txn_out *out, cm_err *err)
{
    keys_arg *a = arg;
    return kv_txn_rollback(snap, a->keys, a->n, a->start_ts, out, err);
}

static int step_cleanup(void *arg, kv_snapshot *snap, kv_txn_out *out, cm_err *err)
{
    keys_arg *a = arg;
    return kv_txn_cleanup(snap, a->keys[0], a->start_ts, a->current_ts, out, err);
}

static int step_check(void *arg, kv_snapshot *snap, kv_txn_out *out, cm_err *err)
{
    keys_arg *a = arg;
    return kv_txn_check_status(snap, a->keys[0], a->start_ts, a->current_ts,
                               a->rollback_if_not_exist, out, &a->status, err);
}

static int step_heartbeat(void *arg, kv_snapshot *snap, kv_txn_out *out, cm_err *err)
{
    keys_arg *a = arg;
    return kv_txn_heartbeat(snap, a->keys[0], a->start_ts, a->ttl, out, &a->ttl, err);
}

static int step_resolve(void *arg, kv_snapshot *snap, kv_txn_out *out, cm_err *err)
{
    keys_arg *a = arg;
    return kv_txn_resolve_lock(snap, a->start_ts, a->commit_ts, a->keys, a->n, out, err);
}

static cm_slice *slices_of(cm_arena *a, ProtobufCBinaryData *v, size_t n)
{
    cm_slice *keys = cm_arena_alloc(a, sizeof(*keys) * (n + 1));
    for (size_t i = 0; keys && i < n; i++) {
        keys[i] = sbytes(v[i]);
    }
    return keys;
}

static int h_commit(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    kv_server *s = user;
    count(s, req->method);
    UNPACK(Tessera__Kvrpcpb__CommitRequest, tessera__kvrpcpb__commit_request__descriptor, r);
    Tessera__Kvrpcpb__CommitResponse resp = TESSERA__KVRPCPB__COMMIT_RESPONSE__INIT;
    keys_arg a;
    memset(&a, 0, sizeof(a));
    a.keys = slices_of(req->arena, r->keys, r->n_keys);
    a.n = r->n_keys;
    a.start_ts = r->start_version;
    a.commit_ts = r->commit_version;
    write_result wr;
    int rc = a.keys ? run_write(s, req, r->context, a.keys, a.n, step_commit, &a, &wr, err)
                    : cm_err_set(err, CM_E_NOMEM, "out of memory");
    if (rc != 0) {
        protobuf_c_message_free_unpacked(&r->base, NULL);
        return rc;
    }
    resp.region_error = wr.rerr;
    if (wr.rerr == NULL && wr.txn_rc != 0) {
        resp.error = key_error(req->arena, wr.txn_rc, &wr.out, 0, &wr.txn_err);
    }
    resp.commit_version = r->commit_version;
    return finish(0, &resp.base, &r->base, reply);
}

static int h_batch_rollback(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    kv_server *s = user;
    count(s, req->method);
    UNPACK(Tessera__Kvrpcpb__BatchRollbackRequest,
           tessera__kvrpcpb__batch_rollback_request__descriptor, r);
    Tessera__Kvrpcpb__BatchRollbackResponse resp = TESSERA__KVRPCPB__BATCH_ROLLBACK_RESPONSE__INIT;
    keys_arg a;
    memset(&a, 0, sizeof(a));
    a.keys = slices_of(req->arena, r->keys, r->n_keys);
    a.n = r->n_keys;
    a.start_ts = r->start_version;
    write_result wr;
    int rc = a.keys ? run_write(s, req, r->context, a.keys, a.n, step_rollback, &a, &wr, err)
                    : cm_err_set(err, CM_E_NOMEM, "out of memory");
    if (rc != 0) {
        protobuf_c_message_free_unpacked(&r->base, NULL);
        return rc;
    }
    resp.region_error = wr.rerr;
    if (wr.rerr == NULL && wr.txn_rc != 0) {
        resp.error = key_error(req->arena, wr.txn_rc, &wr.out, 0, &wr.txn_err);
    }
    return finish(0, &resp.base, &r->base, reply);
}

static int h_cleanup(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    kv_server *s = user;
    count(s, req->method);
    UNPACK(Tessera__Kvrpcpb__CleanupRequest, tessera__kvrpcpb__cleanup_request__descriptor, r);
    Tessera__Kvrpcpb__CleanupResponse resp = TESSERA__KVRPCPB__CLEANUP_RESPONSE__INIT;
    keys_arg a;
    memset(&a, 0, sizeof(a));
    cm_slice key = sbytes(r->key);
    a.keys = &key;
    a.n = 1;
    a.start_ts = r->start_version;
    a.current_ts = r->current_ts;
    write_result wr;
    int rc = run_write(s, req, r->context, &key, 1, step_cleanup, &a, &wr, err);
    if (rc != 0) {
        protobuf_c_message_free_unpacked(&r->base, NULL);
        return rc;
    }
    resp.region_error = wr.rerr;
    if (wr.rerr == NULL && wr.txn_rc != 0) {
        resp.error = key_error(req->arena, wr.txn_rc, &wr.out, 0, &wr.txn_err);
        if (wr.txn_rc == CM_E_TXN_COMMITTED) {
            resp.commit_version = wr.out.commit_ts;
        }
    }
    return finish(0, &resp.base, &r->base, reply);
}

static int h_check_txn_status(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    kv_server *s = user;
    count(s, req->method);
    UNPACK(Tessera__Kvrpcpb__CheckTxnStatusRequest,
           tessera__kvrpcpb__check_txn_status_request__descriptor, r);
    Tessera__Kvrpcpb__CheckTxnStatusResponse resp =
        TESSERA__KVRPCPB__CHECK_TXN_STATUS_RESPONSE__INIT;
    keys_arg a;
    memset(&a, 0, sizeof(a));
    cm_slice key = sbytes(r->primary_key);
    a.keys = &key;
    a.n = 1;
    a.start_ts = r->lock_ts;
    a.current_ts = r->current_ts;
    a.rollback_if_not_exist = r->rollback_if_not_exist;
    write_result wr;
    int rc = run_write(s, req, r->context, &key, 1, step_check, &a, &wr, err);
    if (rc != 0) {
        protobuf_c_message_free_unpacked(&r->base, NULL);
        return rc;
    }
    resp.region_error = wr.rerr;
    if (wr.rerr == NULL && wr.txn_rc != 0) {
        resp.error = key_error(req->arena, wr.txn_rc, &wr.out, 0, &wr.txn_err);
    } else if (wr.rerr == NULL) {
        switch (a.status.state) {
        case KV_TXN_STATE_LOCKED:
            resp.lock_ttl = a.status.lock.ttl_ms ? a.status.lock.ttl_ms : 1;
            resp.lock_info = lock_info(req->arena, &a.status.lock);
            break;
        case KV_TXN_STATE_COMMITTED:
            resp.commit_version = a.status.commit_ts;
            break;
        case KV_TXN_STATE_TTL_EXPIRED:
            resp.action = TESSERA__KVRPCPB__TXN_ACTION__TTL_EXPIRE_ROLLBACK;
            break;
        case KV_TXN_STATE_LOCK_NOT_EXIST_ROLLED_BACK:
            resp.action = TESSERA__KVRPCPB__TXN_ACTION__LOCK_NOT_EXIST_ROLLBACK;
            break;
        default:
            break;
        }
    }
    return finish(0, &resp.base, &r->base, reply);
}

static int h_txn_heart_beat(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    kv_server *s = user;
    count(s, req->method);
    UNPACK(Tessera__Kvrpcpb__TxnHeartBeatRequest,
           tessera__kvrpcpb__txn_heart_beat_request__descriptor, r);
    Tessera__Kvrpcpb__TxnHeartBeatResponse resp = TESSERA__KVRPCPB__TXN_HEART_BEAT_RESPONSE__INIT;
    keys_arg a;
    memset(&a, 0, sizeof(a));
    cm_slice key = sbytes(r->primary_lock);
    a.keys = &key;
    a.n = 1;
    a.start_ts = r->start_version;
    a.ttl = r->advise_lock_ttl;
    write_result wr;
    int rc = run_write(s, req, r->context, &key, 1, step_heartbeat, &a, &wr, err);
    if (rc != 0) {
        protobuf_c_message_free_unpacked(&r->base, NULL);
        return rc;
    }
    resp.region_error = wr.rerr;
    if (wr.rerr == NULL && wr.txn_rc != 0) {
        resp.error = key_error(req->arena, wr.txn_rc, &wr.out, 0, &wr.txn_err);
    }
    resp.lock_ttl = a.ttl;
    return finish(0, &resp.base, &r->base, reply);
}

/* Keys of the region holding a lock of start_ts (at most KV_TXN_LOCKS_MAX per round). */
static int region_lock_keys(kv_server *s, const cm_rpc_req *req, const Ctx *ctx, uint64_t start_ts,
                            cm_slice from, cm_slice **keys, size_t *n, bool *more, cm_slice *resume,
                            RegionError **rerr, cm_err *err)
{
    kv_call *c = NULL;
    *n = 0;
    *more = false;
    int rc = begin_read(s, req, ctx, &c, rerr, err);
    if (rc != 0 || c == NULL) {
        return rc;
    }
    cm_slice rs, re;
    rc = region_user_range(req->arena, &c->regions[0], &rs, &re);
    if (rc == 0) {
        kv_scan_locks_req lr = {max_start(from, rs), re, UINT64_MAX, start_ts, KV_TXN_LOCKS_MAX};
        kv_locks_result out;
        rc = kv_txn_scan_locks(c->snap, &lr, req->arena, &out, err);
        if (rc == 0) {
            *keys = cm_arena_alloc(req->arena, sizeof(cm_slice) * (out.n + 1));
            for (size_t i = 0; *keys && i < out.n; i++) {
                (*keys)[i] = out.locks[i].key;
            }
            *n = out.n;
            *more = out.more;
            *resume = out.resume_key;
        }
    }
    kv_call_put(c);
    return rc;
}

static int h_resolve_lock(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    kv_server *s = user;
    count(s, req->method);
    UNPACK(Tessera__Kvrpcpb__ResolveLockRequest, tessera__kvrpcpb__resolve_lock_request__descriptor,
           r);
    Tessera__Kvrpcpb__ResolveLockResponse resp = TESSERA__KVRPCPB__RESOLVE_LOCK_RESPONSE__INIT;
    keys_arg a;
    memset(&a, 0, sizeof(a));
    a.start_ts = r->start_version;
    a.commit_ts = r->commit_version;
    int rc = 0;
    write_result wr;
    memset(&wr, 0, sizeof(wr));
    if (r->n_keys > 0) {
        a.keys = slices_of(req->arena, r->keys, r->n_keys);
        a.n = r->n_keys;
        rc = run_write(s, req, r->context, a.keys, a.n, step_resolve, &a, &wr, err);
    } else {
        /* Every lock of the transaction in the region, a page at a time (bounded rounds). */
        cm_slice from = cm_slice_make(NULL, 0);
        for (int round = 0; rc == 0 && round < 1000; round++) {
            cm_slice *keys = NULL, resume;
            size_t n = 0;
            bool more = false;
            rc = region_lock_keys(s, req, r->context, a.start_ts, from, &keys, &n, &more, &resume,
                                  &wr.rerr, err);
            if (rc != 0 || wr.rerr != NULL || n == 0) {
                break;
            }
            a.keys = keys;
            a.n = n;
            rc = run_write(s, req, r->context, keys, n, step_resolve, &a, &wr, err);
            if (rc != 0 || wr.rerr != NULL || wr.txn_rc != 0 || !more) {
                break;
            }
            from = resume;
        }
    }
    if (rc != 0) {
        protobuf_c_message_free_unpacked(&r->base, NULL);
        return rc;
    }
    resp.region_error = wr.rerr;
    if (wr.rerr == NULL && wr.txn_rc != 0) {
        resp.error = key_error(req->arena, wr.txn_rc, &wr.out, 0, &wr.txn_err);
    }
    return finish(0, &resp.base, &r->base, reply);
}

static int h_scan_lock(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    kv_server *s = user;
    count(s, req->method);
    UNPACK(Tessera__Kvrpcpb__ScanLockRequest, tessera__kvrpcpb__scan_lock_request__descriptor, r);
    Tessera__Kvrpcpb__ScanLockResponse resp = TESSERA__KVRPCPB__SCAN_LOCK_RESPONSE__INIT;
    kv_call *c = NULL;
    int rc = begin_read(s, req, r->context, &c, &resp.region_error, err);
    if (rc == 0 && c != NULL) {
        cm_slice rs, re;
        rc = region_user_range(req->arena, &c->regions[0], &rs, &re);
        kv_scan_locks_req lr = {max_start(sbytes(r->start_key), rs), re, r->max_version, 0,
                                r->limit};
        kv_locks_result out;
        cm_err e;
        int grc = rc ? rc : kv_txn_scan_locks(c->snap, &lr, req->arena, &out, &e);
        if (grc == 0) {
            resp.locks = cm_arena_alloc(req->arena, sizeof(void *) * (out.n + 1));
            for (size_t i = 0; resp.locks && i < out.n; i++) {
                resp.locks[resp.n_locks++] = lock_info(req->arena, &out.locks[i]);
            }
        } else {
            resp.error = key_error(req->arena, grc, NULL, 0, &e);
        }
        rc = 0;
        kv_call_put(c);
    }
    return finish(rc, &resp.base, &r->base, reply);
}

/* ---- coprocessor ---------------------------------------------------------------------------- */

static int h_coprocessor(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    kv_server *s = user;
    count(s, req->method);
    uint64_t t0 = cm_time_mono_ns();
    UNPACK(Tessera__Kvrpcpb__CoprocessorRequest, tessera__kvrpcpb__coprocessor_request__descriptor,
           r);
    Tessera__Kvrpcpb__CoprocessorResponse resp = TESSERA__KVRPCPB__COPROCESSOR_RESPONSE__INIT;
    kv_call *c = NULL;
    KeyError *gce = NULL;
    int rc = gc_refuse(s, req->arena, r->start_ts, false, &gce, &resp.region_error)
                 ? 0
                 : begin_read(s, req, r->context, &c, &resp.region_error, err);
    gc_refuse_after(s, req->arena, r->start_ts, &c, &gce);
    if (gce != NULL) {
        resp.other_error = gce->message;
    }
    if (rc == 0 && c != NULL) {
        cm_slice rs, re;
        if (region_user_range(req->arena, &c->regions[0], &rs, &re) != 0) {
            resp.other_error = astr(req->arena, "region boundary is not an encoded key");
        } else {
            kv_copr_result out;
            memset(&out, 0, sizeof(out));
            size_t nr = r->n_ranges;
            kv_copr_range *ranges = cm_arena_alloc(req->arena, sizeof(*ranges) * (nr + 1));
            size_t m = 0;
            for (size_t i = 0; ranges && i < nr; i++) {
                cm_slice st = max_start(sbytes(r->ranges[i]->start), rs);
                cm_slice en = min_end(sbytes(r->ranges[i]->end), re);
                if (en.len > 0 && cm_slice_cmp(st, en) >= 0) {
                    continue; /* outside the region */
                }
                ranges[m].start = st;
                ranges[m].end = en;
                m++;
            }
            cm_err e;
            int crc = kv_copr_handle(c->snap, r->tp, sbytes(r->data), ranges, m, r->start_ts,
                                     r->paging_size, req->arena, &out, &e);
            if (crc == 0 || crc == CM_E_KEY_IS_LOCKED) {
                resp.data = pbytes(out.data);
                resp.scanned_rows = out.scanned_rows;
                resp.is_drained = !out.more;
                if (out.more || crc == CM_E_KEY_IS_LOCKED) {
                    resp.range = ANEW(req->arena, Tessera__Kvrpcpb__KeyRange,
                                      TESSERA__KVRPCPB__KEY_RANGE__INIT);
                    if (resp.range) {
                        resp.range->start = pbytes(out.resume_key);
                        resp.range->end = pbytes(out.resume_key);
                    }
                }
                if (crc == CM_E_KEY_IS_LOCKED) {
                    resp.locked = lock_info(req->arena, &out.lock);
                }
            } else {
                /* "[code] message": the client gives the caller the same CM_E_* code. */
                char msg[CM_ERR_MSG_MAX + 16];
                snprintf(msg, sizeof(msg), "[%d] %s", crc, e.msg);
                resp.other_error = astr(req->arena, msg);
                CM_DEBUG("copr", "region=%llu: %s", (unsigned long long)c->regions[0].id, msg);
            }
            cm_counter_inc(s->m_copr_requests);
            cm_counter_add(s->m_copr_scanned, out.scanned_rows);
            cm_counter_add(s->m_copr_returned, out.returned_rows);
            cm_counter_add(s->m_copr_bytes, out.data.len);
            cm_histogram_observe(s->m_copr_seconds, (double)(cm_time_mono_ns() - t0) / 1e9);
        }
        kv_call_put(c);
    }
    return finish(rc, &resp.base, &r->base, reply);
}

/* ---- administration ------------------------------------------------------------------------- */

static int h_split_region(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    kv_server *s = user;
    count(s, req->method);
    UNPACK(Tessera__Kvrpcpb__SplitRegionRequest, tessera__kvrpcpb__split_region_request__descriptor,
           r);
    Tessera__Kvrpcpb__SplitRegionResponse resp = TESSERA__KVRPCPB__SPLIT_REGION_RESPONSE__INIT;
    uint64_t rid = 0;
    kv_epoch ep = {0, 0};
    int rc = parse_ctx(r->context, &rid, &ep, err);
    if (rc == 0 && r->split_key.len == 0) {
        rc = cm_err_set(err, CM_E_INVALID, "empty split key");
    }
    kv_call *c = rc ? NULL : kv_call_new(s, KV_CALL_SPLIT, rid, ep);
    if (rc == 0 && c == NULL) {
        rc = cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    if (rc == 0) {
        /* Split keys are encoded user keys, so a boundary never falls between versions. */
        cm_keys_append_mvcc_prefix(&c->split_key, sbytes(r->split_key));
        int src = kv_call_run(c);
        if (src == 0 && c->n_regions == 2) {
            resp.left = pb_region(req->arena, &c->regions[0]);
            resp.right = pb_region(req->arena, &c->regions[1]);
        } else if (src == CM_E_INVALID) {
            resp.error = astr(req->arena, c->msg);
        } else if (src != 0) {
            resp.region_error = region_error(req->arena, c, src, c->msg);
        }
        kv_call_put(c);
    }
    return finish(rc, &resp.base, &r->base, reply);
}

/* ---- GC and DeleteRange --------------------------------------------------------------------- */

/* Proposes batch (not latched: GC and DeleteRange remove only what no command checks — see
 * kv_gc.h — or what nobody may use any more) on region rid at epoch ep. NULL on success,
 * else the region error to reply. */
static RegionError *propose_unlatched(kv_server *s, cm_arena *a, uint64_t rid, kv_epoch ep,
                                      const kv_batch *b, cm_err *err)
{
    kv_call *prop = kv_call_new(s, KV_CALL_PROPOSE, rid, ep);
    if (prop == NULL || kv_batch_append(&prop->batch, b) != 0) {
        kv_call_put(prop);
        cm_err_set(err, CM_E_NOMEM, "out of memory");
        return region_error(a, NULL, CM_E_SERVER_IS_BUSY, "out of memory");
    }
    RegionError *re = NULL;
    int rc = kv_call_run(prop);
    if (rc != 0) {
        re = region_error(a, prop, rc, prop->msg);
        cm_counter_inc(s->m_errors);
    }
    kv_call_put(prop);
    return re;
}

typedef struct gc_totals {
    uint64_t keys, versions, values;
} gc_totals;

/* One GC step of the region from *cursor: read, compute, propose. Sets *done when the region is
 * finished, else moves *cursor (arena) to the next step's start. */
static int gc_step(kv_server *s, const cm_rpc_req *req, const Tessera__Kvrpcpb__GCRequest *r,
                   uint64_t rid, kv_epoch ep, cm_slice *cursor, bool *done, gc_totals *tot,
                   Tessera__Kvrpcpb__GCResponse *resp, cm_err *err)
{
    kv_call *c = NULL;
    int rc = begin_read(s, req, r->context, &c, &resp->region_error, err);
    if (rc != 0 || c == NULL) {
        return rc;
    }
    cm_slice rs, re;
    kv_batch b;
    kv_batch_init(&b);
    kv_gc_result out;
    memset(&out, 0, sizeof(out));
    int grc = region_user_range(req->arena, &c->regions[0], &rs, &re);
    if (grc != 0) {
        cm_err_set(err, grc, "region boundary is not an encoded key");
    } else {
        kv_gc_req gr;
        memset(&gr, 0, sizeof(gr));
        gr.safe_point = r->safe_point;
        gr.limit_keys = r->limit_keys; /* 0 or above KV_GC_KEYS_MAX: kv_gc's own bound */
        gr.start = max_start(*cursor, rs);
        gr.end = min_end(sbytes(r->end_key), re);
        if (gr.end.len > 0 && cm_slice_cmp(gr.start, gr.end) >= 0) {
            *done = true;
        } else {
            grc = kv_gc(c->snap, &gr, &b, req->arena, &out, err);
        }
    }
    kv_call_put(c); /* the snapshot goes before the proposal waits */
    if (grc == CM_E_KEY_IS_LOCKED) {
        resp->locks = cm_arena_alloc(req->arena, sizeof(void *) * (out.nlocks + 1));
        for (size_t i = 0; resp->locks && i < out.nlocks; i++) {
            resp->locks[resp->n_locks++] = lock_info(req->arena, &out.locks[i]);
        }
    }
    if (grc != 0) {
        resp->error = key_error(req->arena, grc, NULL, 0, err);
    } else if (!*done) {
        if (kv_batch_count(&b) > 0) {
            resp->region_error = propose_unlatched(s, req->arena, rid, ep, &b, err);
        }
        if (resp->region_error == NULL) {
            tot->keys += out.keys_scanned;
            tot->versions += out.versions_deleted;
            tot->values += out.values_deleted;
            *done = !out.more;
            *cursor = out.resume_key;
        }
    }
    kv_batch_fini(&b);
    return 0;
}

/* KV_GC: records the safe point on this store (from now on nothing below it is served), then —
 * unless it is only an announcement — collects the region from start_key on, step by step
 * (each step at most KV_GC_KEYS_MAX keys / about KV_GC_DELETES_MAX deletions, one Raft
 * proposal), for at most KV_SRV_GC_WORK_MS; `more` + resume_key when time ran out. */
static int h_gc(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    kv_server *s = user;
    count(s, req->method);
    UNPACK(Tessera__Kvrpcpb__GCRequest, tessera__kvrpcpb__gcrequest__descriptor, r);
    Tessera__Kvrpcpb__GCResponse resp = TESSERA__KVRPCPB__GCRESPONSE__INIT;
    uint64_t rid = 0;
    kv_epoch ep = {0, 0};
    int rc = 0;
    cm_err e;
    if (r->safe_point == 0) {
        cm_err_set(&e, CM_E_INVALID, "gc: safe point 0");
        resp.error = key_error(req->arena, CM_E_INVALID, NULL, 0, &e);
    } else {
        gc_sp_raise(r->safe_point);
        if (!r->announce) {
            rc = parse_ctx(r->context, &rid, &ep, err);
        }
    }
    if (rc == 0 && resp.error == NULL && !r->announce) {
        cm_slice cursor = sbytes(r->start_key);
        gc_totals tot = {0, 0, 0};
        bool done = false;
        uint64_t deadline = cm_time_mono_ms() + KV_SRV_GC_WORK_MS;
        for (int step = 0; rc == 0 && !done && step < KV_SRV_GC_STEPS_MAX; step++) {
            rc = gc_step(s, req, r, rid, ep, &cursor, &done, &tot, &resp, &e);
            if (resp.region_error != NULL || resp.error != NULL) {
                break;
            }
            if (!done && (r->limit_keys != 0 || cm_time_mono_ms() >= deadline)) {
                break; /* a caller's page is one step */
            }
        }
        if (rc == 0 && resp.region_error == NULL && resp.error == NULL && !done) {
            resp.more = 1;
            resp.resume_key = pbytes(cursor);
        }
        resp.keys_scanned = tot.keys;
        resp.versions_deleted = tot.versions;
        resp.values_deleted = tot.values;
        if (tot.versions > 0) {
            CM_INFO(KV_SRV,
                    "region=%llu gc safe_point=%llu: %llu keys looked at, %llu versions "
                    "and %llu values removed",
                    (unsigned long long)rid, (unsigned long long)r->safe_point,
                    (unsigned long long)tot.keys, (unsigned long long)tot.versions,
                    (unsigned long long)tot.values);
        }
    }
    return finish(rc, &resp.base, &r->base, reply);
}

/* KV_DELETE_RANGE: every lock, version and value of user keys [start, end) ∩ region goes, by
 * three delete_range operations proposed through Raft (applied alike on every replica). */
static int h_delete_range(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    kv_server *s = user;
    count(s, req->method);
    UNPACK(Tessera__Kvrpcpb__DeleteRangeRequest, tessera__kvrpcpb__delete_range_request__descriptor,
           r);
    Tessera__Kvrpcpb__DeleteRangeResponse resp = TESSERA__KVRPCPB__DELETE_RANGE_RESPONSE__INIT;
    uint64_t rid = 0;
    kv_epoch ep = {0, 0};
    kv_call *c = NULL;
    int rc = parse_ctx(r->context, &rid, &ep, err);
    rc = rc ? rc : begin_read(s, req, r->context, &c, &resp.region_error, err);
    if (rc == 0 && c != NULL) {
        cm_slice rs, re;
        kv_batch b;
        kv_batch_init(&b);
        cm_err e;
        int drc = region_user_range(req->arena, &c->regions[0], &rs, &re);
        cm_slice st = max_start(sbytes(r->start_key), rs);
        cm_slice en = min_end(sbytes(r->end_key), re);
        kv_call_put(c);
        if (drc != 0) {
            resp.error = astr(req->arena, "region boundary is not an encoded key");
        } else if (en.len == 0 || cm_slice_cmp(st, en) < 0) {
            drc = kv_txn_delete_range(st, en, &b, &e);
            if (drc != 0) {
                resp.error = astr(req->arena, e.msg);
            } else {
                resp.region_error = propose_unlatched(s, req->arena, rid, ep, &b, &e);
            }
        }
        kv_batch_fini(&b);
    }
    return finish(rc, &resp.base, &r->base, reply);
}

static int h_store_status(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    kv_server *s = user;
    (void)err;
    count(s, req->method);
    Tessera__Kvrpcpb__StoreStatusResponse resp = TESSERA__KVRPCPB__STORE_STATUS_RESPONSE__INIT;
    cm_buf js = CM_BUF_INIT;
    kv_server_status_json(s, &js);
    cm_buf_terminate(&js);
    pthread_mutex_lock(&s->mu);
    resp.region_count = s->summary.regions;
    resp.leader_count = s->summary.leaders;
    pthread_mutex_unlock(&s->mu);
    resp.store_id = s->store_id;
    resp.json = js.ptr ? (char *)js.ptr : (char *)"{}";
    int rc = cm_rpc_pack(&resp.base, reply);
    cm_buf_fini(&js);
    return rc;
}

/* Handlers by method id. Every KV handler may block its RPC worker until the store answers;
 * the Raft transport's messages (RAFT_BATCH, SNAPSHOT_CHUNK) are served by the same workers,
 * and a leader whose workers all wait for proposals could not read the acknowledgements those
 * proposals wait for. So KV commands in progress are capped below the worker count; beyond
 * the cap a request is refused at once with SERVER_IS_BUSY (the client backs off). */
static cm_rpc_handler_cb handlers[64];

static int h_gate(void *user, const cm_rpc_req *req, cm_buf *reply, cm_err *err)
{
    kv_server *s = user;
    if (req->method >= 64 || handlers[req->method] == NULL) {
        return cm_err_set(err, CM_E_RPC_NO_METHOD, "method %u", req->method);
    }
    int now = atomic_fetch_add(&s->kv_inflight, 1);
    if (now >= s->kv_inflight_max) {
        atomic_fetch_sub(&s->kv_inflight, 1);
        cm_counter_inc(s->m_errors);
        return cm_err_set(err, CM_E_SERVER_IS_BUSY, "%d KV commands in progress", now);
    }
    int rc = handlers[req->method](user, req, reply, err);
    atomic_fetch_sub(&s->kv_inflight, 1);
    return rc;
}

static const cm_rpc_method methods[] = {
    {TESSERA__KVRPCPB__METHOD__KV_GET, "KvGet", h_gate},
    {TESSERA__KVRPCPB__METHOD__KV_BATCH_GET, "KvBatchGet", h_gate},
    {TESSERA__KVRPCPB__METHOD__KV_SCAN, "KvScan", h_gate},
    {TESSERA__KVRPCPB__METHOD__KV_PREWRITE, "KvPrewrite", h_gate},
    {TESSERA__KVRPCPB__METHOD__KV_COMMIT, "KvCommit", h_gate},
    {TESSERA__KVRPCPB__METHOD__KV_BATCH_ROLLBACK, "KvBatchRollback", h_gate},
    {TESSERA__KVRPCPB__METHOD__KV_CLEANUP, "KvCleanup", h_gate},
    {TESSERA__KVRPCPB__METHOD__KV_CHECK_TXN_STATUS, "KvCheckTxnStatus", h_gate},
    {TESSERA__KVRPCPB__METHOD__KV_TXN_HEART_BEAT, "KvTxnHeartBeat", h_gate},
    {TESSERA__KVRPCPB__METHOD__KV_RESOLVE_LOCK, "KvResolveLock", h_gate},
    {TESSERA__KVRPCPB__METHOD__KV_SCAN_LOCK, "KvScanLock", h_gate},
    {TESSERA__KVRPCPB__METHOD__KV_GC, "KvGC", h_gate},
    {TESSERA__KVRPCPB__METHOD__KV_DELETE_RANGE, "KvDeleteRange", h_gate},
    {TESSERA__KVRPCPB__METHOD__COPROCESSOR, "Coprocessor", h_gate},
    {TESSERA__KVRPCPB__METHOD__SPLIT_REGION, "SplitRegion", h_gate},
    {TESSERA__KVRPCPB__METHOD__STORE_STATUS, "StoreStatus", h_gate},
};

const cm_rpc_method *kv_service_methods(size_t *n)
{
    handlers[TESSERA__KVRPCPB__METHOD__KV_GET] = h_get;
    handlers[TESSERA__KVRPCPB__METHOD__KV_BATCH_GET] = h_batch_get;
    handlers[TESSERA__KVRPCPB__METHOD__KV_SCAN] = h_scan;
    handlers[TESSERA__KVRPCPB__METHOD__KV_PREWRITE] = h_prewrite;
    handlers[TESSERA__KVRPCPB__METHOD__KV_COMMIT] = h_commit;
    handlers[TESSERA__KVRPCPB__METHOD__KV_BATCH_ROLLBACK] = h_batch_rollback;
    handlers[TESSERA__KVRPCPB__METHOD__KV_CLEANUP] = h_cleanup;
    handlers[TESSERA__KVRPCPB__METHOD__KV_CHECK_TXN_STATUS] = h_check_txn_status;
    handlers[TESSERA__KVRPCPB__METHOD__KV_TXN_HEART_BEAT] = h_txn_heart_beat;
    handlers[TESSERA__KVRPCPB__METHOD__KV_RESOLVE_LOCK] = h_resolve_lock;
    handlers[TESSERA__KVRPCPB__METHOD__KV_SCAN_LOCK] = h_scan_lock;
    handlers[TESSERA__KVRPCPB__METHOD__KV_GC] = h_gc;
    handlers[TESSERA__KVRPCPB__METHOD__KV_DELETE_RANGE] = h_delete_range;
    handlers[TESSERA__KVRPCPB__METHOD__COPROCESSOR] = h_coprocessor;
    handlers[TESSERA__KVRPCPB__METHOD__SPLIT_REGION] = h_split_region;
    handlers[TESSERA__KVRPCPB__METHOD__STORE_STATUS] = h_store_status;

    *n = sizeof(methods) / sizeof(methods[0]);
    return methods;
}
