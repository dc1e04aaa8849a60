/*
 * cm_txn.c — transactions of the KV client (cm_kv_client.h): snapshot reads with lock
 * resolution, the write buffer with checkpoints, the scan iterator, and the 2PC committer
 * (prewrite grouped by region in parallel, commit the primary, then the secondaries; a
 * heartbeat thread keeps the primary's lock alive during a long commit).
 */
#include "cm_kv_int.h"

#include "cm_keys.h"
#include "cm_log.h"
#include "cm_time.h"

#include <stdlib.h>
#include <string.h>

#define KVC "kvclient"

struct cm_txn {
    cm_kv_client *c;
    uint64_t start_ts;
    uint64_t commit_ts;
    cm_membuf mb;
    bool prewrote;                /* some prewrite was sent: free rolls back */
    bool finished;                /* committed or rolled back */
    cm_txn_commit_check_fn check; /* cm_txn_set_commit_check */
    void *check_user;
};

static uint64_t deadline_of(cm_kv_client *c)
{
    return cm_time_mono_ms() + (uint64_t)c->o.retry_budget_ms;
}

int cm_txn_begin_at(cm_kv_client *c, uint64_t start_ts, cm_txn **out, cm_err *err)
{
    cm_txn *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    t->c = c;
    t->start_ts = start_ts;
    cm_membuf_init(&t->mb);
    *out = t;
    return 0;
}

int cm_txn_begin(cm_kv_client *c, cm_txn **out, cm_err *err)
{
    uint64_t ts = 0;
    int rc = cm_pd_get_ts(c->pd, &ts, err);
    return rc ? rc : cm_txn_begin_at(c, ts, out, err);
}

uint64_t cm_txn_start_ts(const cm_txn *t)
{
    return t->start_ts;
}

uint64_t cm_txn_commit_ts(const cm_txn *t)
{
    return t->commit_ts;
}

void cm_txn_set_commit_check(cm_txn *t, cm_txn_commit_check_fn cb, void *user)
{
    t->check = cb;
    t->check_user = user;
}

size_t cm_txn_size(const cm_txn *t)
{
    return t->mb.n;
}

/* ---- reads ------------------------------------------------------------------------------- */

/* Handles a lock met by a read: resolve, or wait for a live one. 0: read again. */
static int on_locked(cm_txn *t, const Tessera__Kvrpcpb__LockInfo *li, uint64_t deadline,
                     cm_err *err)
{
    uint64_t wait = 0;
    int rc = kv_resolve_lock(t->c, li, t->start_ts, deadline, &wait, err);
    if (rc == CM_E_KEY_IS_LOCKED) {
        if (cm_time_mono_ms() + wait >= deadline) {
            return rc;
        }
        cm_time_sleep_ms(wait ? wait : 5);
        return 0;
    }
    return rc;
}

static int snapshot_get(cm_txn *t, cm_slice key, cm_buf *value, cm_err *err)
{
    uint64_t deadline = deadline_of(t->c);
    for (unsigned attempt = 0;; attempt++) {
        kv_route rt;
        kv_route_init(&rt);
        int rc = kv_locate(t->c, key, &rt, err);
        Tessera__Kvrpcpb__GetResponse *resp = NULL;
        if (rc == 0) {
            Tessera__Kvrpcpb__GetRequest req = TESSERA__KVRPCPB__GET_REQUEST__INIT;
            req.key.data = (uint8_t *)key.ptr;
            req.key.len = key.len;
            req.version = t->start_ts;
            bool unc = false;
            rc = kv_send(t->c, &rt, TESSERA__KVRPCPB__METHOD__KV_GET, &req.base,
                         &tessera__kvrpcpb__get_response__descriptor, (ProtobufCMessage **)&resp,
                         deadline, &unc, err);
        } else {
            rc = CM_E_EPOCH_NOT_MATCH;
        }
        kv_route_fini(&rt);
        if (rc == CM_E_EPOCH_NOT_MATCH && cm_time_mono_ms() < deadline) {
            kv_backoff(attempt, deadline);
            continue;
        }
        if (rc != 0) {
            return rc;
        }
        if (resp->error != NULL && resp->error->locked != NULL) {
            rc = on_locked(t, resp->error->locked, deadline, err);
            protobuf_c_message_free_unpacked(&resp->base, NULL);
            if (rc != 0) {
                return rc;
            }
            continue;
        }
        if (resp->error != NULL) {
            rc = cm_err_set(err, resp->error->code ? resp->error->code : CM_E_INTERNAL, "get: %s",
                            resp->error->message);
        } else if (resp->not_found) {
            rc = CM_E_NOT_FOUND;
        } else {
            cm_buf_reset(value);
            rc = cm_buf_append(value, resp->value.data, resp->value.len);
        }
        protobuf_c_message_free_unpacked(&resp->base, NULL);
        return rc;
    }
}

int cm_txn_get(cm_txn *t, cm_slice key, cm_buf *value, cm_err *err)
{
    const cm_membuf_entry *e = cm_membuf_get(&t->mb, key);
    if (e != NULL && e->op == CM_MB_PUT) {
        cm_buf_reset(value);
        return cm_buf_append_slice(value, cm_buf_slice(&e->value));
    }
    if (e != NULL && e->op == CM_MB_DELETE) {
        return CM_E_NOT_FOUND;
    }
    return snapshot_get(t, key, value, err);
}

/* Reads keys idx[lo, hi) (sorted by key, all in one region of rt) with one BatchGet. Returns 0
 * when the group is done, 1 when a lock was resolved (read the group again), or an error
 * (CM_E_EPOCH_NOT_MATCH: regroup). */
static int batch_get_group(cm_txn *t, const kv_route *rt, const cm_slice *keys, const size_t *idx,
                           size_t lo, size_t hi, cm_buf *values, bool *found, uint64_t deadline,
                           cm_err *err)
{
    size_t n = hi - lo;
    ProtobufCBinaryData *kb = calloc(n, sizeof(*kb));
    if (kb == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        kb[i].data = (uint8_t *)keys[idx[lo + i]].ptr;
        kb[i].len = keys[idx[lo + i]].len;
    }
    Tessera__Kvrpcpb__BatchGetRequest req = TESSERA__KVRPCPB__BATCH_GET_REQUEST__INIT;
    req.n_keys = n;
    req.keys = kb;
    req.version = t->start_ts;
    Tessera__Kvrpcpb__BatchGetResponse *resp = NULL;
    bool unc = false;
    int rc = kv_send(t->c, rt, TESSERA__KVRPCPB__METHOD__KV_BATCH_GET, &req.base,
                     &tessera__kvrpcpb__batch_get_response__descriptor, (ProtobufCMessage **)&resp,
                     deadline, &unc, err);
    free(kb);
    if (rc != 0) {
        return rc;
    }
    if (resp->error != NULL) {
        rc = cm_err_set(err, resp->error->code ? resp->error->code : CM_E_INTERNAL, "batch get: %s",
                        resp->error->message);
    }
    bool relock = false;
    for (size_t p = 0; rc == 0 && p < resp->n_pairs; p++) {
        Tessera__Kvrpcpb__KvPair *kp = resp->pairs[p];
        if (kp->error != NULL && kp->error->locked != NULL) {
            rc = on_locked(t, kp->error->locked, deadline, err);
            relock = true;
            continue;
        }
        cm_slice k = cm_slice_make(kp->key.data, kp->key.len);
        /* Every request index with this key (duplicates allowed). */
        for (size_t i = lo; rc == 0 && i < hi; i++) {
            if (cm_slice_eq(keys[idx[i]], k)) {
                cm_buf_reset(&values[idx[i]]);
                rc = cm_buf_append(&values[idx[i]], kp->value.data, kp->value.len);
                found[idx[i]] = true;
            }
        }
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return rc ? rc : relock ? 1 : 0;
}

int cm_txn_batch_get(cm_txn *t, const cm_slice *keys, size_t n, cm_buf *values, bool *found,
                     cm_err *err)
{
    size_t *idx = calloc(n + 1, sizeof(size_t));
    if (idx == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        found[i] = false;
        const cm_membuf_entry *e = cm_membuf_get(&t->mb, keys[i]);
        if (e != NULL && e->op == CM_MB_PUT) {
            cm_buf_reset(&values[i]);
            if (cm_buf_append_slice(&values[i], cm_buf_slice(&e->value)) != 0) {
                free(idx);
                return cm_err_set(err, CM_E_NOMEM, "out of memory");
            }
            found[i] = true;
        } else if (e == NULL || e->op != CM_MB_DELETE) {
            idx[m++] = i;
        }
    }
    /* qsort has no context argument: keys are only read, and one transaction is used by one
     * thread, but several transactions may sort at once — so sort by insertion instead. */
    for (size_t i = 1; i < m; i++) {
        size_t v = idx[i], j = i;
        while (j > 0 && cm_slice_cmp(keys[idx[j - 1]], keys[v]) > 0) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = v;
    }
    uint64_t deadline = deadline_of(t->c);
    size_t lo = 0;
    int rc = 0;
    for (unsigned attempt = 0; rc == 0 && lo < m;) {
        kv_route rt;
        kv_route_init(&rt);
        rc = kv_locate(t->c, keys[idx[lo]], &rt, err);
        size_t hi = lo + 1;
        while (
            rc == 0 && hi < m &&
            (rt.end_user.len == 0 || cm_slice_cmp(keys[idx[hi]], cm_buf_slice(&rt.end_user)) < 0)) {
            hi++;
        }
        if (rc == 0) {
            rc = batch_get_group(t, &rt, keys, idx, lo, hi, values, found, deadline, err);
        } else {
            rc = CM_E_EPOCH_NOT_MATCH;
        }
        kv_route_fini(&rt);
        if (rc == CM_E_EPOCH_NOT_MATCH && cm_time_mono_ms() < deadline) {
            kv_backoff(attempt++, deadline);
            rc = 0;
            continue;
        }
        if (rc == 1) { /* a lock was resolved: read the group again */
            rc = 0;
            continue;
        }
        if (rc == 0) {
            lo = hi;
        }
    }
    free(idx);
    return rc;
}

/* ---- writes --------------------------------------------------------------------------------- */

static int check_key(cm_txn *t, cm_slice key, cm_err *err)
{
    if (t->finished || t->prewrote) {
        return cm_err_set(err, CM_E_INVALID, "transaction already committing or finished");
    }
    if (key.len == 0) {
        return cm_err_set(err, CM_E_INVALID, "empty key");
    }
    return 0;
}

int cm_txn_set(cm_txn *t, cm_slice key, cm_slice value, cm_err *err)
{
    int rc = check_key(t, key, err);
    rc = rc ? rc : cm_membuf_set(&t->mb, CM_MB_PUT, key, value);
    return rc;
}

int cm_txn_delete(cm_txn *t, cm_slice key, cm_err *err)
{
    int rc = check_key(t, key, err);
    return rc ? rc : cm_membuf_set(&t->mb, CM_MB_DELETE, key, cm_slice_make(NULL, 0));
}

int cm_txn_lock(cm_txn *t, cm_slice key, cm_err *err)
{
    int rc = check_key(t, key, err);
    return rc ? rc : cm_membuf_set(&t->mb, CM_MB_LOCK, key, cm_slice_make(NULL, 0));
}

int cm_txn_checkpoint(cm_txn *t)
{
    return cm_membuf_checkpoint(&t->mb);
}

int cm_txn_rollback_to(cm_txn *t, int id)
{
    return cm_membuf_rollback_to(&t->mb, id);
}

int cm_txn_release(cm_txn *t, int id)
{
    return cm_membuf_release(&t->mb, id);
}

/* ---- scan ----------------------------------------------------------------------------------- */

struct cm_txn_iter {
    cm_txn *t;
    cm_buf start;
    cm_buf cur; /* next snapshot key to fetch from */
    cm_buf end;
    bool snap_done;
    Tessera__Kvrpcpb__ScanResponse *page;
    size_t page_i;
    cm_buf last; /* last key returned */
    bool has_last;
    cm_buf k, v; /* what next returned */
};

int cm_txn_scan(cm_txn *t, cm_slice start, cm_slice end, cm_txn_iter **out, cm_err *err)
{
    cm_txn_iter *it = calloc(1, sizeof(*it));
    if (it == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    it->t = t;
    if (cm_buf_append_slice(&it->cur, start) != 0 || cm_buf_append_slice(&it->start, start) != 0 ||
        cm_buf_append_slice(&it->end, end) != 0) {
        cm_txn_iter_free(it);
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    *out = it;
    return 0;
}

void cm_txn_iter_free(cm_txn_iter *it)
{
    if (it == NULL) {
        return;
    }
    if (it->page) {
        protobuf_c_message_free_unpacked(&it->page->base, NULL);
    }
    cm_buf_fini(&it->start);
    cm_buf_fini(&it->cur);
    cm_buf_fini(&it->end);
    cm_buf_fini(&it->last);
    cm_buf_fini(&it->k);
    cm_buf_fini(&it->v);
    free(it);
}

/* Fetches the next non-empty snapshot page (or sets snap_done). */
static int fetch_page(cm_txn_iter *it, cm_err *err)
{
    cm_txn *t = it->t;
    uint64_t deadline = deadline_of(t->c);
    uint32_t limit = t->c->o.scan_page ? t->c->o.scan_page : 256;
    for (unsigned attempt = 0; !it->snap_done;) {
        if (it->page) {
            protobuf_c_message_free_unpacked(&it->page->base, NULL);
            it->page = NULL;
        }
        it->page_i = 0;
        if (it->end.len > 0 && cm_slice_cmp(cm_buf_slice(&it->cur), cm_buf_slice(&it->end)) >= 0) {
            it->snap_done = true;
            break;
        }
        kv_route rt;
        kv_route_init(&rt);
        int rc = kv_locate(t->c, cm_buf_slice(&it->cur), &rt, err);
        Tessera__Kvrpcpb__ScanResponse *resp = NULL;
        if (rc == 0) {
            Tessera__Kvrpcpb__ScanRequest req = TESSERA__KVRPCPB__SCAN_REQUEST__INIT;
            req.start_key.data = it->cur.ptr;
            req.start_key.len = it->cur.len;
            req.end_key.data = it->end.ptr;
            req.end_key.len = it->end.len;
            req.limit = limit;
            req.version = t->start_ts;
            bool unc = false;
            rc = kv_send(t->c, &rt, TESSERA__KVRPCPB__METHOD__KV_SCAN, &req.base,
                         &tessera__kvrpcpb__scan_response__descriptor, (ProtobufCMessage **)&resp,
                         deadline, &unc, err);
        } else {
            rc = CM_E_EPOCH_NOT_MATCH;
        }
        if (rc == CM_E_EPOCH_NOT_MATCH && cm_time_mono_ms() < deadline) {
            kv_route_fini(&rt);
            kv_backoff(attempt++, deadline);
            continue;
        }
        if (rc == 0 && resp->error != NULL) {
            rc = cm_err_set(err, resp->error->code ? resp->error->code : CM_E_INTERNAL, "scan: %s",
                            resp->error->message);
        }
        bool locked = false;
        for (size_t i = 0; rc == 0 && i < resp->n_pairs; i++) {
            if (resp->pairs[i]->error && resp->pairs[i]->error->locked) {
                rc = on_locked(t, resp->pairs[i]->error->locked, deadline, err);
                locked = true;
            }
        }
        if (rc != 0 || locked) {
            if (resp) {
                protobuf_c_message_free_unpacked(&resp->base, NULL);
            }
            kv_route_fini(&rt);
            if (rc != 0) {
                return rc;
            }
            continue; /* read the page again */
        }
        /* Next position: after the last key when the page was full, else the region's end. */
        size_t np = resp->n_pairs;
        cm_buf_reset(&it->cur);
        if (np >= limit) {
            rc = cm_buf_append(&it->cur, resp->pairs[np - 1]->key.data,
                               resp->pairs[np - 1]->key.len);
            rc = rc ? rc : cm_buf_append_u8(&it->cur, 0);
        } else if (rt.end_user.len == 0) {
            it->snap_done = true;
        } else {
            rc = cm_buf_append_slice(&it->cur, cm_buf_slice(&rt.end_user));
        }
        kv_route_fini(&rt);
        it->page = resp;
        if (rc != 0 || np > 0) {
            return rc;
        }
    }
    return 0;
}

int cm_txn_iter_next(cm_txn_iter *it, cm_slice *key, cm_slice *value, cm_err *err)
{
    const cm_membuf *mb = &it->t->mb;
    for (;;) {
        if ((it->page == NULL || it->page_i >= it->page->n_pairs) && !it->snap_done) {
            int rc = fetch_page(it, err);
            if (rc != 0) {
                return rc;
            }
        }
        cm_slice sk = cm_slice_make(NULL, 0), sv = sk;
        bool has_s = it->page != NULL && it->page_i < it->page->n_pairs;
        if (has_s) {
            sk = cm_slice_make(it->page->pairs[it->page_i]->key.data,
                               it->page->pairs[it->page_i]->key.len);
            sv = cm_slice_make(it->page->pairs[it->page_i]->value.data,
                               it->page->pairs[it->page_i]->value.len);
        }
        /* The first buffered entry after the last key returned (positions shift on writes). */
        size_t mi = it->has_last ? cm_membuf_lower_bound(mb, cm_buf_slice(&it->last))
                                 : cm_membuf_lower_bound(mb, cm_buf_slice(&it->start));
        while (mi < mb->n && it->has_last &&
               cm_slice_cmp(cm_buf_slice(&mb->e[mi].key), cm_buf_slice(&it->last)) <= 0) {
            mi++;
        }
        bool has_m = false;
        const cm_membuf_entry *me = NULL;
        for (; mi < mb->n; mi++) {
            me = &mb->e[mi];
            cm_slice mk = cm_buf_slice(&me->key);
            if (it->end.len > 0 && cm_slice_cmp(mk, cm_buf_slice(&it->end)) >= 0) {
                break;
            }
            has_m = true;
            break;
        }
        if (!has_s && !has_m) {
            return 0;
        }
        cm_slice outk, outv;
        bool skip = false;
        int cmp = !has_s ? 1 : !has_m ? -1 : cm_slice_cmp(sk, cm_buf_slice(&me->key));
        if (cmp < 0) {
            outk = sk;
            outv = sv;
            it->page_i++;
        } else {
            if (cmp == 0) {
                it->page_i++;
            }
            outk = cm_buf_slice(&me->key);
            outv = cm_buf_slice(&me->value);
            if (me->op == CM_MB_DELETE) {
                skip = true;
            } else if (me->op == CM_MB_LOCK) {
                if (cmp == 0) {
                    outv = sv;
                } else {
                    skip = true; /* locked but absent in the snapshot */
                }
            }
        }
        cm_buf_reset(&it->last);
        if (cm_buf_append_slice(&it->last, outk) != 0) {
            return cm_err_set(err, CM_E_NOMEM, "out of memory");
        }
        it->has_last = true;
        if (skip) {
            continue;
        }
        cm_buf_reset(&it->k);
        cm_buf_reset(&it->v);
        if (cm_buf_append_slice(&it->k, outk) != 0 || cm_buf_append_slice(&it->v, outv) != 0) {
            return cm_err_set(err, CM_E_NOMEM, "out of memory");
        }
        *key = cm_buf_slice(&it->k);
        *value = cm_buf_slice(&it->v);
        return 1;
    }
}

/* ---- two-phase commit --------------------------------------------------------------------- */

typedef struct locate_ctx {
    cm_kv_client *c;
} locate_ctx;

static int locate_cb(void *ctx, cm_slice key, uint64_t *region_id, cm_buf *end_user, cm_err *err)
{
    locate_ctx *lc = ctx;
    kv_route rt;
    kv_route_init(&rt);
    int rc = kv_locate(lc->c, key, &rt, err);
    if (rc == 0) {
        *region_id = rt.r.id;
        cm_buf_reset(end_user);
        rc = cm_buf_append_slice(end_user, cm_buf_slice(&rt.end_user));
    }
    kv_route_fini(&rt);
    return rc;
}

typedef enum phase { PH_PREWRITE, PH_COMMIT, PH_ROLLBACK } phase;

/* One group's work: keys [lo, hi) of the sorted mutation list. */
typedef struct group_job {
    cm_txn *t;
    phase ph;
    const cm_slice *keys; /* all keys, sorted */
    size_t lo, hi;
    uint64_t deadline;
    bool first_only; /* stop after the first region group sent (the primary's, see commit) */
    size_t done_hi;  /* with first_only: the end of the group that was sent */
    int rc;
    bool uncertain;
    cm_err err;
    pthread_t th;
} group_job;

static uint64_t lock_ttl(cm_txn *t)
{
    uint64_t now = cm_time_wall_ms();
    uint64_t st = cm_pd_ts_physical_ms(t->start_ts);
    return (now > st ? now - st : 0) + t->c->o.lock_ttl_ms;
}

/* Sends one region's batch of the phase. 0, CM_E_EPOCH_NOT_MATCH (regroup), or an error. */
static int send_group(group_job *j, const kv_route *rt, size_t lo, size_t hi)
{
    cm_txn *t = j->t;
    size_t n = hi - lo;
    ProtobufCBinaryData *kb = calloc(n, sizeof(*kb));
    Tessera__Kvrpcpb__Mutation *ms = NULL, **mps = NULL;
    int rc = kb ? 0 : CM_E_NOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        kb[i].data = (uint8_t *)j->keys[lo + i].ptr;
        kb[i].len = j->keys[lo + i].len;
    }
    ProtobufCMessage *resp = NULL;
    if (rc == 0 && j->ph == PH_PREWRITE) {
        ms = calloc(n, sizeof(*ms));
        mps = calloc(n, sizeof(*mps));
        rc = ms && mps ? 0 : CM_E_NOMEM;
        for (size_t i = 0; rc == 0 && i < n; i++) {
            Tessera__Kvrpcpb__Mutation init = TESSERA__KVRPCPB__MUTATION__INIT;
            ms[i] = init;
            const cm_membuf_entry *e = cm_membuf_get(&t->mb, j->keys[lo + i]);
            ms[i].op = e->op == CM_MB_PUT      ? TESSERA__KVRPCPB__OP__PUT
                       : e->op == CM_MB_DELETE ? TESSERA__KVRPCPB__OP__DEL
                                               : TESSERA__KVRPCPB__OP__LOCK;
            ms[i].key = kb[i];
            ms[i].value.data = e->value.ptr;
            ms[i].value.len = e->value.len;
            mps[i] = &ms[i];
        }
        Tessera__Kvrpcpb__PrewriteRequest req = TESSERA__KVRPCPB__PREWRITE_REQUEST__INIT;
        req.n_mutations = n;
        req.mutations = mps;
        req.primary_lock.data = (uint8_t *)j->keys[0].ptr;
        req.primary_lock.len = j->keys[0].len;
        req.start_version = t->start_ts;
        req.lock_ttl = lock_ttl(t);
        req.txn_size = t->mb.n;
        rc = rc ? rc
                : kv_send(t->c, rt, TESSERA__KVRPCPB__METHOD__KV_PREWRITE, &req.base,
                          &tessera__kvrpcpb__prewrite_response__descriptor, &resp, j->deadline,
                          &j->uncertain, &j->err);
        if (rc == 0) {
            Tessera__Kvrpcpb__PrewriteResponse *pr = (void *)resp;
            Tessera__Kvrpcpb__LockInfo **locked =
                pr->n_errors > 0 ? malloc(sizeof(*locked) * pr->n_errors) : NULL;
            size_t nlocked = 0;
            if (pr->n_errors > 0 && locked == NULL) {
                rc = cm_err_set(&j->err, CM_E_NOMEM, "prewrite: out of memory");
            }
            for (size_t i = 0; rc == 0 && i < pr->n_errors; i++) {
                Tessera__Kvrpcpb__KeyError *ke = pr->errors[i];
                if (ke->conflict != NULL) {
                    rc = cm_err_set(&j->err, CM_E_WRITE_CONFLICT, "write conflict");
                } else if (ke->already_rolled_back) {
                    rc = cm_err_set(&j->err, CM_E_TXN_ROLLED_BACK, "rolled back");
                } else if (ke->locked != NULL) {
                    locked[nlocked++] = ke->locked;
                } else {
                    rc = cm_err_set(&j->err, ke->code ? ke->code : CM_E_INTERNAL, "prewrite: %s",
                                    ke->message);
                }
            }
            if (rc == 0 && nlocked > 0) {
                /* every locked key of the region at once (a dead transaction's locks go in one
                 * round per holder, not one per key) */
                uint64_t wait = 0;
                int lrc = kv_resolve_locks(t->c, locked, nlocked, t->start_ts, j->deadline, &wait,
                                           &j->err);
                if (lrc == CM_E_KEY_IS_LOCKED) {
                    /* A live transaction holds a key: an optimistic transaction does not wait
                     * for it (two that wait for each other would both sit out a TTL); it fails
                     * as a conflict and the caller retries from scratch. */
                    rc = cm_err_set(&j->err, CM_E_WRITE_CONFLICT, "key locked by txn %llu",
                                    (unsigned long long)locked[0]->lock_version);
                } else if (lrc != 0) {
                    rc = lrc;
                } else {
                    rc = CM_E_EPOCH_NOT_MATCH; /* retry this group */
                }
            }
            free(locked);
        }
    } else if (rc == 0 && j->ph == PH_COMMIT) {
        Tessera__Kvrpcpb__CommitRequest req = TESSERA__KVRPCPB__COMMIT_REQUEST__INIT;
        req.n_keys = n;
        req.keys = kb;
        req.start_version = t->start_ts;
        req.commit_version = t->commit_ts;
        rc = kv_send(t->c, rt, TESSERA__KVRPCPB__METHOD__KV_COMMIT, &req.base,
                     &tessera__kvrpcpb__commit_response__descriptor, &resp, j->deadline,
                     &j->uncertain, &j->err);
        if (rc == 0 && ((Tessera__Kvrpcpb__CommitResponse *)resp)->error != NULL) {
            Tessera__Kvrpcpb__KeyError *ke = ((Tessera__Kvrpcpb__CommitResponse *)resp)->error;
            rc = ke->already_rolled_back ? CM_E_TXN_ROLLED_BACK
                 : ke->txn_not_found     ? CM_E_TXN_LOCK_NOT_FOUND
                                         : (ke->code ? ke->code : CM_E_INTERNAL);
            cm_err_set(&j->err, rc, "commit: %s", ke->message);
        }
    } else if (rc == 0) {
        Tessera__Kvrpcpb__BatchRollbackRequest req = TESSERA__KVRPCPB__BATCH_ROLLBACK_REQUEST__INIT;
        req.n_keys = n;
        req.keys = kb;
        req.start_version = t->start_ts;
        rc = kv_send(t->c, rt, TESSERA__KVRPCPB__METHOD__KV_BATCH_ROLLBACK, &req.base,
                     &tessera__kvrpcpb__batch_rollback_response__descriptor, &resp, j->deadline,
                     &j->uncertain, &j->err);
        if (rc == 0 && ((Tessera__Kvrpcpb__BatchRollbackResponse *)resp)->error != NULL) {
            Tessera__Kvrpcpb__KeyError *ke =
                ((Tessera__Kvrpcpb__BatchRollbackResponse *)resp)->error;
            rc = ke->already_committed ? CM_E_TXN_COMMITTED : (ke->code ? ke->code : CM_E_INTERNAL);
            cm_err_set(&j->err, rc, "rollback: %s", ke->message);
        }
    }
    if (resp != NULL) {
        protobuf_c_message_free_unpacked(resp, NULL);
    }
    free(kb);
    free(ms);
    free(mps);
    return rc;
}

/* Runs the phase over keys [lo, hi), regrouping by region after route changes. */
static void *group_run(void *arg)
{
    group_job *j = arg;
    size_t lo = j->lo;
    locate_ctx lc = {j->t->c};
    unsigned attempt = 0;
    while (lo < j->hi) {
        kv_route rt;
        kv_route_init(&rt);
        int rc = locate_cb(&lc, j->keys[lo], &rt.r.id, &rt.end_user, &j->err);
        kv_route_fini(&rt);
        kv_route_init(&rt);
        rc = rc ? rc : kv_locate(j->t->c, j->keys[lo], &rt, &j->err);
        size_t hi = lo + 1;
        while (
            rc == 0 && hi < j->hi &&
            (rt.end_user.len == 0 || cm_slice_cmp(j->keys[hi], cm_buf_slice(&rt.end_user)) < 0)) {
            hi++;
        }
        if (rc == 0) {
            rc = send_group(j, &rt, lo, hi);
        } else {
            rc = CM_E_EPOCH_NOT_MATCH;
        }
        kv_route_fini(&rt);
        if (rc == CM_E_EPOCH_NOT_MATCH) {
            if (cm_time_mono_ms() >= j->deadline) {
                j->rc = cm_err_set(&j->err, CM_E_TIMEOUT, "retry budget exhausted: %s", j->err.msg);
                return NULL;
            }
            kv_backoff(attempt++, j->deadline);
            continue;
        }
        if (rc != 0) {
            j->rc = rc;
            return NULL;
        }
        lo = hi;
        if (j->first_only) {
            break;
        }
    }
    j->done_hi = lo;
    j->rc = 0;
    return NULL;
}

/* Runs the phase for keys [lo, hi) split into region groups, in parallel. Returns the first
 * error (a conflict before anything else). */
static int run_phase(cm_txn *t, phase ph, const cm_slice *keys, size_t lo, size_t hi,
                     uint64_t deadline, bool *uncertain, cm_err *err)
{
    size_t n = hi - lo;
    if (n == 0) {
        return 0;
    }
    size_t *starts = calloc(n, sizeof(size_t));
    if (starts == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    size_t ng = 0;
    locate_ctx lc = {t->c};
    int rc = kv_group_sorted(keys + lo, n, locate_cb, &lc, starts, &ng, err);
    if (rc != 0) {
        ng = 1; /* PD unreachable now: one job that regroups as it goes */
        starts[0] = 0;
        rc = 0;
    }
    group_job *jobs = calloc(ng, sizeof(*jobs));
    if (jobs == NULL) {
        free(starts);
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    for (size_t g = 0; g < ng; g++) {
        jobs[g].t = t;
        jobs[g].ph = ph;
        jobs[g].keys = keys;
        jobs[g].lo = lo + starts[g];
        jobs[g].hi = g + 1 < ng ? lo + starts[g + 1] : hi;
        jobs[g].deadline = deadline;
    }
    /* The first group on this thread, the others on their own threads. */
    for (size_t g = 1; g < ng; g++) {
        if (pthread_create(&jobs[g].th, NULL, group_run, &jobs[g]) != 0) {
            group_run(&jobs[g]);
            jobs[g].th = 0;
        }
    }
    group_run(&jobs[0]);
    for (size_t g = 1; g < ng; g++) {
        if (jobs[g].th) {
            pthread_join(jobs[g].th, NULL);
        }
    }
    for (size_t g = 0; g < ng; g++) {
        *uncertain |= jobs[g].uncertain;
        if (jobs[g].rc == CM_E_WRITE_CONFLICT && rc != CM_E_WRITE_CONFLICT) {
            rc = jobs[g].rc;
            *err = jobs[g].err;
        } else if (jobs[g].rc != 0 && rc == 0) {
            rc = jobs[g].rc;
            *err = jobs[g].err;
        }
    }
    free(jobs);
    free(starts);
    return rc;
}

/* Heartbeats the primary's lock while a commit runs (long transactions). */
typedef struct hb_state {
    cm_txn *t;
    cm_slice primary;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
} hb_state;

static void *hb_run(void *arg)
{
    hb_state *h = arg;
    uint64_t period = h->t->c->o.lock_ttl_ms / 3 ? h->t->c->o.lock_ttl_ms / 3 : 1000;
    pthread_mutex_lock(&h->mu);
    while (!h->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += (time_t)(period / 1000);
        ts.tv_nsec += (long)(period % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&h->cv, &h->mu, &ts);
        if (h->stop) {
            break;
        }
        pthread_mutex_unlock(&h->mu);
        Tessera__Kvrpcpb__TxnHeartBeatRequest req = TESSERA__KVRPCPB__TXN_HEART_BEAT_REQUEST__INIT;
        req.primary_lock.data = (uint8_t *)h->primary.ptr;
        req.primary_lock.len = h->primary.len;
        req.start_version = h->t->start_ts;
        req.advise_lock_ttl = lock_ttl(h->t);
        ProtobufCMessage *resp = NULL;
        bool unc = false;
        cm_err err;
        if (kv_send_by_key(h->t->c, h->primary, TESSERA__KVRPCPB__METHOD__KV_TXN_HEART_BEAT,
                           &req.base, &tessera__kvrpcpb__txn_heart_beat_response__descriptor, &resp,
                           cm_time_mono_ms() + period, &unc, &err) == 0) {
            protobuf_c_message_free_unpacked(resp, NULL);
        }
        pthread_mutex_lock(&h->mu);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

static int collect_keys(cm_txn *t, cm_slice **out)
{
    *out = calloc(t->mb.n + 1, sizeof(cm_slice));
    if (*out == NULL) {
        return CM_E_NOMEM;
    }
    for (size_t i = 0; i < t->mb.n; i++) {
        (*out)[i] = cm_buf_slice(&t->mb.e[i].key);
    }
    return 0;
}

static void rollback_all(cm_txn *t, const cm_slice *keys, size_t n)
{
    bool unc = false;
    cm_err err;
    uint64_t deadline = cm_time_mono_ms() + 5000;
    if (run_phase(t, PH_ROLLBACK, keys, 0, n, deadline, &unc, &err) != 0) {
        CM_WARN(KVC, "txn=%llu rollback after a failed prewrite: %s (readers will resolve)",
                (unsigned long long)t->start_ts, err.msg);
    }
}

int cm_txn_prewrite_only(cm_txn *t, cm_err *err)
{
    cm_slice *keys = NULL;
    if (collect_keys(t, &keys) != 0) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    t->prewrote = true;
    bool unc = false;
    int rc = run_phase(t, PH_PREWRITE, keys, 0, t->mb.n, deadline_of(t->c), &unc, err);
    free(keys);
    t->finished = true; /* the "dead client" never commits nor rolls back */
    return rc;
}

int cm_txn_commit(cm_txn *t, cm_err *err)
{
    if (t->finished || t->prewrote) {
        return cm_err_set(err, CM_E_INVALID, "transaction already committing or finished");
    }
    size_t n = t->mb.n;
    if (n == 0) {
        t->finished = true;
        return 0;
    }
    cm_slice *keys = NULL;
    if (collect_keys(t, &keys) != 0) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    hb_state hb;
    memset(&hb, 0, sizeof(hb));
    hb.t = t;
    hb.primary = keys[0];
    pthread_mutex_init(&hb.mu, NULL);
    pthread_cond_init(&hb.cv, NULL);
    pthread_t hbt;
    bool hb_on = pthread_create(&hbt, NULL, hb_run, &hb) == 0;

    uint64_t deadline = deadline_of(t->c);
    bool unc = false;
    t->prewrote = true;
    int rc = run_phase(t, PH_PREWRITE, keys, 0, n, deadline, &unc, err);
    if (rc == 0) {
        rc = cm_pd_get_ts(t->c->pd, &t->commit_ts, err);
    }
    if (rc == 0 && t->check != NULL) {
        rc = t->check(t->check_user, t->commit_ts, err);
        if (rc != 0) {
            CM_DEBUG(KVC, "txn=%llu refused by its commit check at commit_ts=%llu: %s",
                     (unsigned long long)t->start_ts, (unsigned long long)t->commit_ts,
                     err != NULL ? err->msg : "");
        }
    }
    if (rc != 0) {
        /* Nothing is committed before the primary: roll back what may be prewritten. */
        rollback_all(t, keys, n);
        if (rc == CM_E_WRITE_CONFLICT) {
            atomic_fetch_add(&t->c->conflicts, 1);
        }
        goto out;
    }
    /* The primary decides the transaction. It is committed together with the other keys of its
     * region, in one request (as TiDB's primary batch): the kvnode commits a request's keys in
     * one Raft entry, all or none (kv_txn_commit writes nothing if any key fails, the primary
     * included), so no secondary can be committed while the primary is not. A one-region
     * transaction then needs one commit round instead of two. The group is the region of the
     * primary (keys[0], the smallest) as routed when the request goes out. */
    group_job pj;
    memset(&pj, 0, sizeof(pj));
    pj.t = t;
    pj.ph = PH_COMMIT;
    pj.keys = keys;
    pj.lo = 0;
    pj.hi = n;
    pj.deadline = deadline_of(t->c);
    pj.first_only = true;
    group_run(&pj);
    rc = pj.rc;
    unc = pj.uncertain;
    if (rc != 0) {
        *err = pj.err;
    }
    size_t sec_lo = rc == 0 ? pj.done_hi : n;
    if (rc == CM_E_TIMEOUT || rc == CM_E_UNAVAILABLE || rc == CM_E_CLOSED ||
        (rc != 0 && rc != CM_E_TXN_ROLLED_BACK && rc != CM_E_TXN_LOCK_NOT_FOUND && unc)) {
        atomic_fetch_add(&t->c->undetermined, 1);
        rc = cm_err_set(err, CM_E_TXN_UNDETERMINED,
                        "txn %llu: the primary's commit outcome is unknown (%s)",
                        (unsigned long long)t->start_ts, err->msg);
        goto out;
    }
    if (rc != 0) {
        /* Rolled back by a reader (our TTL passed) or lock lost: definitely not committed. */
        if (rc == CM_E_TXN_LOCK_NOT_FOUND) {
            rc = cm_err_set(err, CM_E_TXN_ROLLED_BACK, "txn %llu: primary lock gone: %s",
                            (unsigned long long)t->start_ts, err->msg);
        }
        rollback_all(t, keys, n);
        goto out;
    }
    atomic_fetch_add(&t->c->commits, 1);
    /* Secondaries: best effort; a reader resolves any left behind from the primary. */
    if (sec_lo < n) {
        cm_err e2;
        bool u2 = false;
        if (run_phase(t, PH_COMMIT, keys, sec_lo, n, deadline_of(t->c), &u2, &e2) != 0) {
            CM_WARN(KVC, "txn=%llu secondaries: %s (readers will resolve)",
                    (unsigned long long)t->start_ts, e2.msg);
        }
    }
out:
    if (hb_on) {
        pthread_mutex_lock(&hb.mu);
        hb.stop = true;
        pthread_cond_signal(&hb.cv);
        pthread_mutex_unlock(&hb.mu);
        pthread_join(hbt, NULL);
    }
    pthread_mutex_destroy(&hb.mu);
    pthread_cond_destroy(&hb.cv);
    free(keys);
    t->finished = true;
    if (rc != 0) {
        t->commit_ts = 0;
    }
    return rc;
}

void cm_txn_free(cm_txn *t)
{
    if (t == NULL) {
        return;
    }
    cm_membuf_fini(&t->mb);
    free(t);
}
