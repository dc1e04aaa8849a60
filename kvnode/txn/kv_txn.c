/*
 * kv_txn.c — Percolator actions over a snapshot; see kv_txn.h and docs/kv-storage.md §5.
 *
 * Every public function follows the same shape: validate the request, remember the batch's
 * length (kv_batch_mark_get), decide key by key while appending writes, and rewind the batch
 * when anything fails, so a failed command leaves no write behind.
 */
#include "kv_txn.h"

#include "cm_assert.h"
#include "cm_codec.h"

#include <stdlib.h>
#include <string.h>

void kv_txn_out_init(kv_txn_out *out, kv_batch *batch, cm_arena *arena)
{
    memset(out, 0, sizeof(*out));
    out->batch = batch;
    out->arena = arena;
}

bool kv_txn_lock_expired(uint64_t lock_start_ts, uint64_t ttl_ms, uint64_t current_ts)
{
    uint64_t born = kv_ts_physical_ms(lock_start_ts);
    uint64_t deadline = ttl_ms > UINT64_MAX - born ? UINT64_MAX : born + ttl_ms;
    return kv_ts_physical_ms(current_ts) > deadline;
}

/* ---- write helpers ---------------------------------------------------------------------- */

static int nomem(cm_err *err)
{
    return cm_err_set(err, CM_E_NOMEM, "txn: out of memory");
}

/* Maps a batch appender's failure to an error with context. */
static int batch_rc(int rc, cm_err *err)
{
    if (rc == CM_E_TOO_LARGE) {
        return cm_err_set(err, rc, "txn: the writes do not fit one write batch");
    }
    return rc ? nomem(err) : 0;
}

static int put_lock(kv_txn_out *out, cm_slice key, const kv_lock *l, cm_err *err)
{
    cm_buf k = CM_BUF_INIT, v = CM_BUF_INIT;
    int rc = kv_mvcc_key_lock(&k, key);
    if (rc == 0) {
        rc = kv_lock_encode(l, &v);
        CM_ASSERT(rc != CM_E_INVALID); /* callers build valid locks */
    }
    rc = rc ? nomem(err)
            : batch_rc(kv_batch_put(out->batch, KV_CF_LOCK, cm_buf_slice(&k), cm_buf_slice(&v)),
                       err);
    cm_buf_fini(&k);
    cm_buf_fini(&v);
    return rc;
}

static int put_write(kv_txn_out *out, cm_slice key, uint64_t ts, const kv_write *w, cm_err *err)
{
    cm_buf k = CM_BUF_INIT, v = CM_BUF_INIT;
    int rc = kv_mvcc_key_ts(&k, key, ts);
    if (rc == 0) {
        rc = kv_write_encode(w, &v);
    }
    if (rc == CM_E_INVALID) {
        /* a record read back from storage (CheckTxnStatus marks the one at start_ts as an
         * overlapped rollback) that the encoder refuses: the stored one was corrupt */
        rc = cm_err_set(err, CM_E_CORRUPT,
                        "write record of start_ts %llu at ts %llu cannot be written back",
                        (unsigned long long)w->start_ts, (unsigned long long)ts);
    } else {
        rc =
            rc ? nomem(err)
               : batch_rc(kv_batch_put(out->batch, KV_CF_WRITE, cm_buf_slice(&k), cm_buf_slice(&v)),
                          err);
    }
    cm_buf_fini(&k);
    cm_buf_fini(&v);
    return rc;
}

static int del_lock(kv_txn_out *out, cm_slice key, cm_err *err)
{
    cm_buf k = CM_BUF_INIT;
    int rc = kv_mvcc_key_lock(&k, key);
    rc = rc ? nomem(err) : batch_rc(kv_batch_delete(out->batch, KV_CF_LOCK, cm_buf_slice(&k)), err);
    cm_buf_fini(&k);
    return rc;
}

static int put_default(kv_txn_out *out, cm_slice key, uint64_t start_ts, cm_slice value,
                       cm_err *err)
{
    cm_buf k = CM_BUF_INIT;
    int rc = kv_mvcc_key_ts(&k, key, start_ts);
    rc = rc ? nomem(err)
            : batch_rc(kv_batch_put(out->batch, KV_CF_DEFAULT, cm_buf_slice(&k), value), err);
    cm_buf_fini(&k);
    return rc;
}

static int del_default(kv_txn_out *out, cm_slice key, uint64_t start_ts, cm_err *err)
{
    cm_buf k = CM_BUF_INIT;
    int rc = kv_mvcc_key_ts(&k, key, start_ts);
    rc = rc ? nomem(err)
            : batch_rc(kv_batch_delete(out->batch, KV_CF_DEFAULT, cm_buf_slice(&k)), err);
    cm_buf_fini(&k);
    return rc;
}

/* Records one lock in out->locks (allocated on first use, KV_TXN_LOCKS_MAX at most). */
static int report_lock(kv_txn_out *out, cm_slice key, const kv_lock *l, cm_err *err)
{
    if (out->locks == NULL) {
        out->locks = cm_arena_alloc(out->arena, KV_TXN_LOCKS_MAX * sizeof(kv_lock_info));
        if (out->locks == NULL) {
            return nomem(err);
        }
    }
    if (out->nlocks >= KV_TXN_LOCKS_MAX) {
        return 0;
    }
    if (kv_mvcc_lock_info(out->arena, key, l, &out->locks[out->nlocks]) != 0) {
        return nomem(err);
    }
    out->nlocks++;
    return 0;
}

static int check_ts(uint64_t ts, const char *what, cm_err *err)
{
    return ts == 0 ? cm_err_set(err, CM_E_INVALID, "txn: %s is 0", what) : 0;
}

/* ---- rollback of one key (shared by rollback, cleanup, check_txn_status, resolve_lock) ----- */

/* Rolls key back for start_ts. own is the transaction's lock on the key, or NULL when it has
 * none there. Writes the protected Rollback record at key ^start_ts unless the key is already
 * rolled back; a commit of another transaction already at ^start_ts (possible only when a
 * commit_ts equals this start_ts) is kept and flagged instead of overwritten. */
static int rollback_key(kv_mvcc_reader *r, kv_txn_out *out, cm_slice key, uint64_t start_ts,
                        const kv_lock *own, cm_err *err)
{
    kv_commit_state st;
    uint64_t cts;
    bool at_start;
    kv_write at_rec;
    int rc = kv_mvcc_txn_record(r, key, start_ts, out->arena, &st, &cts, &at_start, &at_rec, err);
    if (rc != 0) {
        return rc;
    }
    if (st == KV_TXN_COMMITTED) {
        CM_ASSERT(own == NULL); /* a commit removes the lock in the same batch */
        out->commit_ts = cts;
        return cm_err_set(err, CM_E_TXN_COMMITTED, "txn %llu is committed at %llu",
                          (unsigned long long)start_ts, (unsigned long long)cts);
    }
    if (own != NULL) {
        rc = del_lock(out, key, err);
        if (rc == 0 && own->kind == KV_LOCK_PUT && !own->has_short_value) {
            rc = del_default(out, key, start_ts, err);
        }
        if (rc != 0) {
            return rc;
        }
    }
    if (st == KV_TXN_ROLLED_BACK) {
        return 0;
    }
    if (at_start) {
        at_rec.overlapped_rollback = true;
        return put_write(out, key, start_ts, &at_rec, err);
    }
    kv_write rb = {KV_WRITE_ROLLBACK, start_ts, false, {NULL, 0}, false};
    return put_write(out, key, start_ts, &rb, err);
}

/* ---- prewrite --------------------------------------------------------------------------- */

static int cmp_mut_key(const void *a, const void *b)
{
    const kv_mutation *x = *(const kv_mutation *const *)a, *y = *(const kv_mutation *const *)b;
    return cm_slice_cmp(x->key, y->key);
}

static int validate_prewrite(const kv_prewrite_req *req, cm_arena *arena, cm_err *err)
{
    int rc = check_ts(req->start_ts, "start_ts", err);
    if (rc == 0) {
        rc = kv_mvcc_check_key(req->primary, err);
    }
    for (size_t i = 0; i < req->n && rc == 0; i++) {
        const kv_mutation *m = &req->muts[i];
        rc = kv_mvcc_check_key(m->key, err);
        if (rc == 0 && (m->op < KV_MUT_PUT || m->op > KV_MUT_LOCK)) {
            rc = cm_err_set(err, CM_E_INVALID, "prewrite: bad mutation op %d", (int)m->op);
        }
        if (rc == 0 && m->op == KV_MUT_PUT && m->value.len > KV_TXN_VALUE_BYTES_MAX) {
            rc = cm_err_set(err, CM_E_INVALID, "prewrite: value of %zu bytes", m->value.len);
        }
    }
    if (rc != 0 || req->n < 2) {
        return rc;
    }
    const kv_mutation **sorted = cm_arena_alloc(arena, req->n * sizeof(*sorted));
    if (sorted == NULL) {
        return nomem(err);
    }
    for (size_t i = 0; i < req->n; i++) {
        sorted[i] = &req->muts[i];
    }
    qsort(sorted, req->n, sizeof(*sorted), cmp_mut_key);
    for (size_t i = 1; i < req->n; i++) {
        if (cm_slice_eq(sorted[i - 1]->key, sorted[i]->key)) {
            return cm_err_set(err, CM_E_INVALID, "prewrite: a key appears twice");
        }
    }
    return 0;
}

/* One mutation. Returns 0 (lock written, or already ours), CM_E_KEY_IS_LOCKED (reported, keep
 * checking the other keys), or a final error. */
static int prewrite_one(kv_mvcc_reader *r, const kv_prewrite_req *req, const kv_mutation *m,
                        kv_txn_out *out, cm_err *err)
{
    kv_lock l;
    int rc = kv_mvcc_load_lock(r, m->key, &l, err);
    if (rc == 0) {
        if (l.start_ts == req->start_ts) {
            return 0; /* a retried prewrite: the lock is already ours */
        }
        rc = report_lock(out, m->key, &l, err);
        return rc ? rc : CM_E_KEY_IS_LOCKED;
    }
    if (rc != CM_E_NOT_FOUND) {
        return rc;
    }
    uint64_t cts = 0;
    kv_write w;
    rc = kv_mvcc_newest_write(r, m->key, out->arena, &cts, &w, err);
    if (rc == 0 && cts >= req->start_ts) {
        kv_write_conflict *c = &out->conflict;
        void *kp = cm_arena_memdup(out->arena, m->key.ptr, m->key.len);
        void *pp = cm_arena_memdup(out->arena, req->primary.ptr, req->primary.len);
        if (kp == NULL || pp == NULL) {
            return nomem(err);
        }
        c->key = cm_slice_make(kp, m->key.len);
        c->primary = cm_slice_make(pp, req->primary.len);
        c->start_ts = req->start_ts;
        c->conflict_start_ts = w.start_ts;
        c->conflict_commit_ts = cts;
        return cm_err_set(err, CM_E_WRITE_CONFLICT,
                          "write conflict: start_ts %llu, a %s record of txn %llu at %llu",
                          (unsigned long long)req->start_ts,
                          w.kind == KV_WRITE_ROLLBACK ? "rollback" : "commit",
                          (unsigned long long)w.start_ts, (unsigned long long)cts);
    }
    if (rc != 0 && rc != CM_E_NOT_FOUND) {
        return rc;
    }
    kv_lock nl;
    memset(&nl, 0, sizeof(nl));
    nl.kind = m->op == KV_MUT_PUT      ? KV_LOCK_PUT
              : m->op == KV_MUT_DELETE ? KV_LOCK_DELETE
                                       : KV_LOCK_LOCK;
    nl.start_ts = req->start_ts;
    nl.ttl_ms = req->ttl_ms;
    nl.txn_size = req->txn_size;
    nl.primary = req->primary;
    if (m->op == KV_MUT_PUT && m->value.len <= KV_SHORT_VALUE_MAX) {
        nl.has_short_value = true;
        nl.short_value = m->value;
    } else if (m->op == KV_MUT_PUT) {
        rc = put_default(out, m->key, req->start_ts, m->value, err);
        if (rc != 0) {
            return rc;
        }
    }
    return put_lock(out, m->key, &nl, err);
}

int kv_txn_prewrite(kv_snapshot *snap, const kv_prewrite_req *req, kv_txn_out *out, cm_err *err)
{
    int rc = validate_prewrite(req, out->arena, err);
    if (rc != 0) {
        return rc;
    }
    kv_batch_mark mark = kv_batch_mark_get(out->batch);
    kv_mvcc_reader r;
    kv_mvcc_reader_init(&r, snap);
    bool locked = false;
    for (size_t i = 0; i < req->n && rc == 0; i++) {
        rc = prewrite_one(&r, req, &req->muts[i], out, err);
        if (rc == CM_E_KEY_IS_LOCKED) {
            locked = true;
            rc = 0;
        }
    }
    kv_mvcc_reader_fini(&r);
    if (rc == 0 && locked) {
        rc = cm_err_set(err, CM_E_KEY_IS_LOCKED, "prewrite: %zu keys are locked by other txns",
                        out->nlocks);
    }
    if (rc != 0) {
        kv_batch_rewind(out->batch, mark);
    }
    return rc;
}

/* ---- commit ------------------------------------------------------------------------------ */

static kv_write_kind write_kind_of(kv_lock_kind k)
{
    return k == KV_LOCK_PUT ? KV_WRITE_PUT : k == KV_LOCK_DELETE ? KV_WRITE_DELETE : KV_WRITE_LOCK;
}

/* Turns the transaction's lock l on key into its commit record. */
static int commit_lock(kv_mvcc_reader *r, kv_txn_out *out, cm_slice key, const kv_lock *l,
                       uint64_t commit_ts, cm_err *err)
{
    if (l->kind == KV_LOCK_PESSIMISTIC) {
        return cm_err_set(err, CM_E_TXN_LOCK_NOT_FOUND,
                          "commit: the key holds only a pessimistic lock of the txn");
    }
    if (l->min_commit_ts != 0 && commit_ts < l->min_commit_ts) {
        return cm_err_set(err, CM_E_INVALID, "commit: commit_ts %llu below min_commit_ts %llu",
                          (unsigned long long)commit_ts, (unsigned long long)l->min_commit_ts);
    }
    kv_write w = {write_kind_of(l->kind), l->start_ts, l->has_short_value, l->short_value, false};
    /* A Rollback of the transaction whose start_ts is this commit_ts may sit at ^commit_ts; the
     * commit record takes its place and keeps its meaning as a flag. */
    cm_buf k = CM_BUF_INIT, v = CM_BUF_INIT;
    int rc = kv_mvcc_key_ts(&k, key, commit_ts) ? nomem(err) : 0;
    if (rc == 0) {
        rc = kv_snapshot_get(r->snap, KV_CF_WRITE, cm_buf_slice(&k), &v, err);
    }
    if (rc == 0) {
        kv_write old;
        rc = kv_write_decode(cm_buf_slice(&v), &old, err);
        if (rc == 0 && old.kind != KV_WRITE_ROLLBACK) {
            rc = cm_err_set(err, CM_E_CORRUPT, "commit: txn %llu already has a record at %llu",
                            (unsigned long long)old.start_ts, (unsigned long long)commit_ts);
        }
        if (rc == 0 && w.kind != KV_WRITE_ROLLBACK) {
            w.overlapped_rollback = true;
        }
    } else if (rc == CM_E_NOT_FOUND) {
        rc = 0;
    }
    cm_buf_fini(&k);
    cm_buf_fini(&v);
    if (rc == 0) {
        rc = put_write(out, key, commit_ts, &w, err);
    }
    return rc ? rc : del_lock(out, key, err);
}

static int commit_one(kv_mvcc_reader *r, kv_txn_out *out, cm_slice key, uint64_t start_ts,
                      uint64_t commit_ts, cm_err *err)
{
    kv_lock l;
    int rc = kv_mvcc_load_lock(r, key, &l, err);
    if (rc == 0 && l.start_ts == start_ts) {
        return commit_lock(r, out, key, &l, commit_ts, err);
    }
    if (rc != 0 && rc != CM_E_NOT_FOUND) {
        return rc;
    }
    kv_commit_state st;
    uint64_t cts;
    bool at_start;
    kv_write at_rec;
    rc = kv_mvcc_txn_record(r, key, start_ts, out->arena, &st, &cts, &at_start, &at_rec, err);
    if (rc != 0) {
        return rc;
    }
    switch (st) {
    case KV_TXN_COMMITTED:
        return 0; /* idempotent */
    case KV_TXN_ROLLED_BACK:
        return cm_err_set(err, CM_E_TXN_ROLLED_BACK, "commit: txn %llu was rolled back",
                          (unsigned long long)start_ts);
    default:
        return cm_err_set(err, CM_E_TXN_LOCK_NOT_FOUND, "commit: txn %llu has no lock here",
                          (unsigned long long)start_ts);
    }
}

static int check_keys(const cm_slice *keys, size_t n, cm_err *err)
{
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = kv_mvcc_check_key(keys[i], err);
    }
    return rc;
}

int kv_txn_commit(kv_snapshot *snap, const cm_slice *keys, size_t n, uint64_t start_ts,
                  uint64_t commit_ts, kv_txn_out *out, cm_err *err)
{
    int rc = check_ts(start_ts, "start_ts", err);
    if (rc == 0 && commit_ts <= start_ts) {
        rc = cm_err_set(err, CM_E_INVALID, "commit: commit_ts %llu is not above start_ts %llu",
                        (unsigned long long)commit_ts, (unsigned long long)start_ts);
    }
    rc = rc ? rc : check_keys(keys, n, err);
    if (rc != 0) {
        return rc;
    }
    kv_batch_mark mark = kv_batch_mark_get(out->batch);
    kv_mvcc_reader r;
    kv_mvcc_reader_init(&r, snap);
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = commit_one(&r, out, keys[i], start_ts, commit_ts, err);
    }
    kv_mvcc_reader_fini(&r);
    if (rc != 0) {
        kv_batch_rewind(out->batch, mark);
    }
    return rc;
}

/* ---- rollback and cleanup ------------------------------------------------------------------- */

/* Rolls back one key whatever its lock's TTL. */
static int rollback_one(kv_mvcc_reader *r, kv_txn_out *out, cm_slice key, uint64_t start_ts,
                        cm_err *err)
{
    kv_lock l;
    int rc = kv_mvcc_load_lock(r, key, &l, err);
    if (rc != 0 && rc != CM_E_NOT_FOUND) {
        return rc;
    }
    bool own = rc == 0 && l.start_ts == start_ts;
    return rollback_key(r, out, key, start_ts, own ? &l : NULL, err);
}

int kv_txn_rollback(kv_snapshot *snap, const cm_slice *keys, size_t n, uint64_t start_ts,
                    kv_txn_out *out, cm_err *err)
{
    int rc = check_ts(start_ts, "start_ts", err);
    rc = rc ? rc : check_keys(keys, n, err);
    if (rc != 0) {
        return rc;
    }
    kv_batch_mark mark = kv_batch_mark_get(out->batch);
    kv_mvcc_reader r;
    kv_mvcc_reader_init(&r, snap);
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = rollback_one(&r, out, keys[i], start_ts, err);
    }
    kv_mvcc_reader_fini(&r);
    if (rc != 0) {
        kv_batch_rewind(out->batch, mark);
    }
    return rc;
}

int kv_txn_cleanup(kv_snapshot *snap, cm_slice key, uint64_t start_ts, uint64_t current_ts,
                   kv_txn_out *out, cm_err *err)
{
    int rc = check_ts(start_ts, "start_ts", err);
    rc = rc ? rc : kv_mvcc_check_key(key, err);
    if (rc != 0) {
        return rc;
    }
    kv_batch_mark mark = kv_batch_mark_get(out->batch);
    kv_mvcc_reader r;
    kv_mvcc_reader_init(&r, snap);
    kv_lock l;
    rc = kv_mvcc_load_lock(&r, key, &l, err);
    bool own = rc == 0 && l.start_ts == start_ts;
    if (rc == 0 || rc == CM_E_NOT_FOUND) {
        rc = 0;
        if (own && current_ts != 0 && !kv_txn_lock_expired(l.start_ts, l.ttl_ms, current_ts)) {
            rc = report_lock(out, key, &l, err);
            rc = rc ? rc
                    : cm_err_set(err, CM_E_KEY_IS_LOCKED, "cleanup: the lock of %llu is alive",
                                 (unsigned long long)start_ts);
        } else {
            rc = rollback_key(&r, out, key, start_ts, own ? &l : NULL, err);
        }
    }
    kv_mvcc_reader_fini(&r);
    if (rc != 0) {
        kv_batch_rewind(out->batch, mark);
    }
    return rc;
}

/* ---- CheckTxnStatus and TxnHeartBeat ------------------------------------------------------ */

int kv_txn_check_status(kv_snapshot *snap, cm_slice primary, uint64_t lock_ts, uint64_t current_ts,
                        bool rollback_if_not_exist, kv_txn_out *out, kv_txn_status *status,
                        cm_err *err)
{
    memset(status, 0, sizeof(*status));
    int rc = check_ts(lock_ts, "lock_ts", err);
    rc = rc ? rc : check_ts(current_ts, "current_ts", err);
    rc = rc ? rc : kv_mvcc_check_key(primary, err);
    if (rc != 0) {
        return rc;
    }
    kv_batch_mark mark = kv_batch_mark_get(out->batch);
    kv_mvcc_reader r;
    kv_mvcc_reader_init(&r, snap);
    kv_lock l;
    rc = kv_mvcc_load_lock(&r, primary, &l, err);
    if (rc == 0 && l.start_ts == lock_ts && !cm_slice_eq(l.primary, primary)) {
        rc = cm_err_set(err, CM_E_INVALID, "check txn status: the key is not txn %llu's primary",
                        (unsigned long long)lock_ts);
    } else if (rc == 0 && l.start_ts == lock_ts) {
        if (kv_txn_lock_expired(l.start_ts, l.ttl_ms, current_ts)) {
            rc = rollback_key(&r, out, primary, lock_ts, &l, err);
            status->state = KV_TXN_STATE_TTL_EXPIRED;
        } else {
            status->state = KV_TXN_STATE_LOCKED;
            rc = kv_mvcc_lock_info(out->arena, primary, &l, &status->lock) ? nomem(err) : 0;
        }
    } else if (rc == 0 || rc == CM_E_NOT_FOUND) {
        kv_commit_state st;
        uint64_t cts;
        bool at_start;
        kv_write at_rec;
        rc = kv_mvcc_txn_record(&r, primary, lock_ts, out->arena, &st, &cts, &at_start, &at_rec,
                                err);
        if (rc == 0 && st == KV_TXN_COMMITTED) {
            status->state = KV_TXN_STATE_COMMITTED;
            status->commit_ts = cts;
        } else if (rc == 0 && st == KV_TXN_ROLLED_BACK) {
            status->state = KV_TXN_STATE_ROLLED_BACK;
        } else if (rc == 0 && rollback_if_not_exist) {
            rc = rollback_key(&r, out, primary, lock_ts, NULL, err);
            status->state = KV_TXN_STATE_LOCK_NOT_EXIST_ROLLED_BACK;
        } else if (rc == 0) {
            rc = cm_err_set(err, CM_E_TXN_LOCK_NOT_FOUND,
                            "check txn status: no lock and no record of txn %llu",
                            (unsigned long long)lock_ts);
        }
    }
    kv_mvcc_reader_fini(&r);
    if (rc != 0) {
        memset(status, 0, sizeof(*status));
        kv_batch_rewind(out->batch, mark);
    }
    return rc;
}

int kv_txn_heartbeat(kv_snapshot *snap, cm_slice primary, uint64_t start_ts, uint64_t advise_ttl_ms,
                     kv_txn_out *out, uint64_t *ttl_ms, cm_err *err)
{
    *ttl_ms = 0;
    int rc = check_ts(start_ts, "start_ts", err);
    rc = rc ? rc : kv_mvcc_check_key(primary, err);
    if (rc != 0) {
        return rc;
    }
    kv_mvcc_reader r;
    kv_mvcc_reader_init(&r, snap);
    kv_lock l;
    rc = kv_mvcc_load_lock(&r, primary, &l, err);
    if (rc == CM_E_NOT_FOUND || (rc == 0 && l.start_ts != start_ts)) {
        rc = cm_err_set(err, CM_E_TXN_LOCK_NOT_FOUND, "heartbeat: txn %llu holds no lock here",
                        (unsigned long long)start_ts);
    } else if (rc == 0) {
        *ttl_ms = l.ttl_ms;
        if (advise_ttl_ms > l.ttl_ms) {
            l.ttl_ms = advise_ttl_ms;
            rc = put_lock(out, primary, &l, err);
            if (rc == 0) {
                *ttl_ms = advise_ttl_ms;
            }
        }
    }
    kv_mvcc_reader_fini(&r);
    return rc;
}

/* ---- ScanLock and ResolveLock -------------------------------------------------------------- */

int kv_txn_scan_locks(kv_snapshot *snap, const kv_scan_locks_req *req, cm_arena *arena,
                      kv_locks_result *out, cm_err *err)
{
    memset(out, 0, sizeof(*out));
    size_t limit = req->limit == 0 || req->limit > KV_TXN_LOCKS_MAX ? KV_TXN_LOCKS_MAX : req->limit;
    out->locks = cm_arena_alloc(arena, limit * sizeof(kv_lock_info));
    if (out->locks == NULL) {
        return nomem(err);
    }
    cm_buf lo = CM_BUF_INIT, hi = CM_BUF_INIT, ukey = CM_BUF_INIT;
    int rc = 0;
    if ((req->start.len && kv_mvcc_key_lock(&lo, req->start)) ||
        (req->end.len && kv_mvcc_key_lock(&hi, req->end))) {
        rc = nomem(err);
    }
    kv_iter *it = NULL;
    kv_iter_opts o = {cm_buf_slice(&lo), cm_buf_slice(&hi)};
    rc = rc ? rc : kv_iter_new(snap, KV_CF_LOCK, &o, &it, err);
    if (rc == 0) {
        kv_iter_seek_to_first(it);
    }
    while (rc == 0 && kv_iter_valid(it)) {
        kv_lock l;
        rc = kv_lock_decode(kv_iter_value(it), &l, err);
        if (rc != 0) {
            break;
        }
        if (l.start_ts > req->max_ts || (req->start_ts != 0 && l.start_ts != req->start_ts)) {
            kv_iter_next(it);
            continue;
        }
        cm_buf_reset(&ukey);
        cm_reader rd;
        cm_slice k = kv_iter_key(it);
        cm_reader_init(&rd, k.ptr, k.len);
        rc = k.len == 0 ? cm_err_set(err, CM_E_CORRUPT, "empty key in the lock CF")
                        : cm_codec_read_bytes(&rd, &ukey, err);
        if (rc == 0 && cm_reader_left(&rd) != 0) {
            rc = cm_err_set(err, CM_E_CORRUPT, "lock CF key with trailing bytes");
        }
        if (rc != 0) {
            break;
        }
        if (out->n == limit) {
            out->more = true;
            void *p = cm_arena_memdup(arena, ukey.ptr, ukey.len);
            rc = p ? 0 : nomem(err);
            out->resume_key = cm_slice_make(p, ukey.len);
            break;
        }
        if (kv_mvcc_lock_info(arena, cm_buf_slice(&ukey), &l, &out->locks[out->n]) != 0) {
            rc = nomem(err);
            break;
        }
        out->n++;
        kv_iter_next(it);
    }
    if (rc == 0 && it != NULL) {
        rc = kv_iter_status(it, err);
    }
    kv_iter_free(it);
    cm_buf_fini(&lo);
    cm_buf_fini(&hi);
    cm_buf_fini(&ukey);
    return rc;
}

int kv_txn_resolve_lock(kv_snapshot *snap, uint64_t start_ts, uint64_t commit_ts,
                        const cm_slice *keys, size_t n, kv_txn_out *out, cm_err *err)
{
    int rc = check_ts(start_ts, "start_ts", err);
    if (rc == 0 && commit_ts != 0 && commit_ts <= start_ts) {
        rc = cm_err_set(err, CM_E_INVALID, "resolve lock: commit_ts %llu is not above %llu",
                        (unsigned long long)commit_ts, (unsigned long long)start_ts);
    }
    rc = rc ? rc : check_keys(keys, n, err);
    if (rc != 0) {
        return rc;
    }
    kv_batch_mark mark = kv_batch_mark_get(out->batch);
    kv_mvcc_reader r;
    kv_mvcc_reader_init(&r, snap);
    for (size_t i = 0; i < n && rc == 0; i++) {
        kv_lock l;
        rc = kv_mvcc_load_lock(&r, keys[i], &l, err);
        if (rc == CM_E_NOT_FOUND || (rc == 0 && l.start_ts != start_ts)) {
            rc = 0; /* resolved already */
            continue;
        }
        if (rc == 0) {
            rc = commit_ts ? commit_lock(&r, out, keys[i], &l, commit_ts, err)
                           : rollback_key(&r, out, keys[i], start_ts, &l, err);
        }
    }
    kv_mvcc_reader_fini(&r);
    if (rc != 0) {
        kv_batch_rewind(out->batch, mark);
    }
    return rc;
}

/* ---- DeleteRange ------------------------------------------------------------------------- */

/* An encoded key above every encoded user key of at most KV_TXN_KEY_BYTES_MAX bytes: the
 * memcomparable bytes encoding always ends with a group marker below 0xFF within
 * 9 * (len / 8 + 1) bytes, and an MVCC key adds 8, so a longer run of 0xFF sorts after all. */
#define KEY_SPACE_END_LEN (9 * (KV_TXN_KEY_BYTES_MAX / 8 + 1) + 8 + 1)

int kv_txn_delete_range(cm_slice start, cm_slice end, kv_batch *batch, cm_err *err)
{
    if (start.len > KV_TXN_KEY_BYTES_MAX || end.len > KV_TXN_KEY_BYTES_MAX ||
        (end.len != 0 && cm_slice_cmp(start, end) >= 0)) {
        return cm_err_set(err, CM_E_INVALID, "delete range: bad range");
    }
    cm_buf lo = CM_BUF_INIT, hi = CM_BUF_INIT;
    int rc = kv_mvcc_key_lock(&lo, start);
    if (rc == 0 && end.len != 0) {
        rc = kv_mvcc_key_lock(&hi, end);
    } else if (rc == 0) {
        rc = cm_buf_reserve(&hi, KEY_SPACE_END_LEN);
        if (rc == 0) {
            memset(hi.ptr, 0xff, KEY_SPACE_END_LEN);
            hi.len = KEY_SPACE_END_LEN;
        }
    }
    kv_batch_mark mark = kv_batch_mark_get(batch);
    static const kv_cf cfs[] = {KV_CF_LOCK, KV_CF_WRITE, KV_CF_DEFAULT};
    for (size_t i = 0; i < 3 && rc == 0; i++) {
        rc = kv_batch_delete_range(batch, cfs[i], cm_buf_slice(&lo), cm_buf_slice(&hi));
    }
    cm_buf_fini(&lo);
    cm_buf_fini(&hi);
    if (rc != 0) {
        kv_batch_rewind(batch, mark);
        return batch_rc(rc, err);
    }
    return 0;
}
