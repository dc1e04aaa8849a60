/* kv_gc.c — MVCC garbage collection; see kv_gc.h. */
#include "kv_gc.h"

#include "kv_txn.h"

#include "cm_codec.h"
#include "cm_keys.h"

#include <string.h>

typedef struct gc_state {
    const kv_gc_req *req;
    kv_batch *batch;
    kv_gc_result *out;
    cm_buf user;      /* encoded user key whose versions are being walked */
    cm_buf scratch;   /* default CF keys */
    bool have_latest; /* the version at the safe point of this user key has been met */
} gc_state;

static int nomem(cm_err *err)
{
    return cm_err_set(err, CM_E_NOMEM, "gc: out of memory");
}

static int batch_rc(int rc, cm_err *err)
{
    if (rc == CM_E_TOO_LARGE) {
        return cm_err_set(err, rc, "gc: the deletions do not fit one write batch");
    }
    return rc ? nomem(err) : 0;
}

/* Decides one version (write-CF key k, record w at commit_ts) of the current user key. */
static int gc_version(gc_state *s, cm_slice k, uint64_t commit_ts, const kv_write *w, cm_err *err)
{
    if (commit_ts > s->req->safe_point) {
        return 0;
    }
    bool drop;
    if (!s->have_latest) {
        if (w->kind == KV_WRITE_PUT) {
            s->have_latest = true;
            drop = false;
        } else if (w->kind == KV_WRITE_DELETE) {
            s->have_latest = true;
            drop = true;
        } else {
            drop = true; /* Lock / Rollback: never the version a reader sees */
        }
    } else {
        drop = true;
    }
    if (!drop) {
        return 0;
    }
    int rc = batch_rc(kv_batch_delete(s->batch, KV_CF_WRITE, k), err);
    if (rc != 0) {
        return rc;
    }
    s->out->versions_deleted++;
    if (w->kind == KV_WRITE_PUT && !w->has_short_value) {
        cm_buf_reset(&s->scratch);
        if (cm_buf_append_slice(&s->scratch, cm_buf_slice(&s->user)) ||
            cm_buf_append_u64be(&s->scratch, ~w->start_ts)) {
            return nomem(err);
        }
        rc = batch_rc(kv_batch_delete(s->batch, KV_CF_DEFAULT, cm_buf_slice(&s->scratch)), err);
        if (rc != 0) {
            return rc;
        }
        s->out->values_deleted++;
    }
    return 0;
}

/* Sets out->resume_key to the user key after the one encoded in s->user. */
static int set_resume(gc_state *s, cm_arena *arena, cm_err *err)
{
    cm_buf u = CM_BUF_INIT;
    cm_reader r;
    cm_reader_init(&r, s->user.ptr, s->user.len);
    int rc = cm_codec_read_bytes(&r, &u, err);
    if (rc == 0) {
        rc = cm_buf_append_u8(&u, 0) ? nomem(err) : 0;
    }
    if (rc == 0) {
        void *p = cm_arena_memdup(arena, u.ptr, u.len);
        rc = p ? 0 : nomem(err);
        s->out->resume_key = cm_slice_make(p, u.len);
        s->out->more = true;
    }
    cm_buf_fini(&u);
    return rc;
}

static int gc_walk(gc_state *s, kv_iter *it, cm_arena *arena, cm_err *err)
{
    size_t limit = s->req->limit_keys == 0 || s->req->limit_keys > KV_GC_KEYS_MAX
                       ? KV_GC_KEYS_MAX
                       : s->req->limit_keys;
    size_t dlimit = s->req->limit_deletes == 0 || s->req->limit_deletes > KV_GC_DELETES_MAX
                        ? KV_GC_DELETES_MAX
                        : s->req->limit_deletes;
    int rc = 0;
    for (kv_iter_seek_to_first(it); rc == 0 && kv_iter_valid(it); kv_iter_next(it)) {
        cm_slice k = kv_iter_key(it), enc;
        uint64_t commit_ts;
        rc = k.len == 0 ? cm_err_set(err, CM_E_CORRUPT, "gc: empty key in the write CF")
                        : cm_keys_split_mvcc(k, &enc, &commit_ts, err);
        if (rc != 0) {
            break;
        }
        if (!cm_slice_eq(enc, cm_buf_slice(&s->user))) {
            if (s->out->keys_scanned == limit ||
                s->out->versions_deleted + s->out->values_deleted >= dlimit) {
                return set_resume(s, arena, err); /* s->user is the last key finished */
            }
            cm_buf_reset(&s->user);
            if (cm_buf_append_slice(&s->user, enc) != 0) {
                return nomem(err);
            }
            s->have_latest = false;
            s->out->keys_scanned++;
        }
        kv_write w;
        rc = kv_write_decode(kv_iter_value(it), &w, err);
        if (rc == 0) {
            rc = gc_version(s, k, commit_ts, &w, err);
        }
    }
    return rc ? rc : kv_iter_status(it, err);
}

/* Refuses to run while locks at or below the safe point remain in the range. */
static int gc_check_locks(kv_snapshot *snap, const kv_gc_req *req, cm_arena *arena,
                          kv_gc_result *out, cm_err *err)
{
    kv_scan_locks_req lr = {req->start, req->end, req->safe_point, 0, KV_TXN_LOCKS_MAX};
    kv_locks_result locks;
    int rc = kv_txn_scan_locks(snap, &lr, arena, &locks, err);
    if (rc != 0) {
        return rc;
    }
    if (locks.n > 0) {
        out->locks = locks.locks;
        out->nlocks = locks.n;
        return cm_err_set(err, CM_E_KEY_IS_LOCKED,
                          "gc: %zu%s locks at or below safe point %llu must be resolved first",
                          locks.n, locks.more ? "+" : "", (unsigned long long)req->safe_point);
    }
    return 0;
}

int kv_gc(kv_snapshot *snap, const kv_gc_req *req, kv_batch *batch, cm_arena *arena,
          kv_gc_result *out, cm_err *err)
{
    memset(out, 0, sizeof(*out));
    if (req->safe_point == 0) {
        return cm_err_set(err, CM_E_INVALID, "gc: safe point 0");
    }
    if (req->end.len != 0 && cm_slice_cmp(req->start, req->end) >= 0) {
        return 0;
    }
    int rc = gc_check_locks(snap, req, arena, out, err);
    if (rc != 0) {
        return rc;
    }
    gc_state s;
    memset(&s, 0, sizeof(s));
    s.req = req;
    s.batch = batch;
    s.out = out;
    cm_buf lo = CM_BUF_INIT, hi = CM_BUF_INIT;
    if ((req->start.len && kv_mvcc_key_lock(&lo, req->start)) ||
        (req->end.len && kv_mvcc_key_lock(&hi, req->end))) {
        rc = nomem(err);
    }
    kv_iter *it = NULL;
    kv_iter_opts o = {cm_buf_slice(&lo), cm_buf_slice(&hi)};
    rc = rc ? rc : kv_iter_new(snap, KV_CF_WRITE, &o, &it, err);
    kv_batch_mark mark = kv_batch_mark_get(batch);
    if (rc == 0) {
        rc = gc_walk(&s, it, arena, err);
    }
    if (rc != 0) {
        kv_batch_rewind(batch, mark);
        out->versions_deleted = out->values_deleted = 0;
    }
    kv_iter_free(it);
    cm_buf_fini(&lo);
    cm_buf_fini(&hi);
    cm_buf_fini(&s.user);
    cm_buf_fini(&s.scratch);
    return rc;
}
