/* kv_engine.c — the checks and bookkeeping shared by every engine; see kv_engine.h. */
#include "kv_engine_int.h"

#include "cm_assert.h"

#include <stdlib.h>
#include <string.h>

void kv_engine_base_init(kv_engine *e, const kv_engine_ops *ops)
{
    e->ops = ops;
    pthread_mutex_init(&e->stats_mu, NULL);
    memset(&e->stats, 0, sizeof(e->stats));
    e->snapshots_open = 0;
}

void kv_engine_base_fini(kv_engine *e)
{
    pthread_mutex_destroy(&e->stats_mu);
}

const char *kv_engine_name(const kv_engine *e)
{
    return e->ops->name;
}

void kv_engine_close(kv_engine *e)
{
    if (e == NULL) {
        return;
    }
    pthread_mutex_lock(&e->stats_mu);
    long open = e->snapshots_open;
    pthread_mutex_unlock(&e->stats_mu);
    CM_ASSERT(open == 0);
    (void)open;
    e->ops->close(e);
}

static int check_cf(kv_cf cf, cm_err *err)
{
    if ((unsigned)cf >= KV_CF_COUNT) {
        return cm_err_set(err, CM_E_INVALID, "engine: bad column family %d", (int)cf);
    }
    return 0;
}

int kv_engine_get(kv_engine *e, kv_cf cf, cm_slice key, cm_buf *value, cm_err *err)
{
    int rc = check_cf(cf, err);
    return rc ? rc : e->ops->get(e, cf, key, value, err);
}

int kv_engine_write(kv_engine *e, const kv_batch *batch, bool sync, cm_err *err)
{
    int rc = e->ops->write(e, batch, sync, err);
    if (rc != 0) {
        return rc;
    }
    pthread_mutex_lock(&e->stats_mu);
    e->stats.writes++;
    e->stats.bytes_written += kv_batch_size(batch);
    e->stats.write_seq++;
    if (sync) {
        e->stats.syncs++;
        e->stats.durable_seq = e->stats.write_seq;
    }
    pthread_mutex_unlock(&e->stats_mu);
    return 0;
}

int kv_engine_sync(kv_engine *e, cm_err *err)
{
    pthread_mutex_lock(&e->stats_mu);
    uint64_t seq = e->stats.write_seq;
    pthread_mutex_unlock(&e->stats_mu);
    int rc = e->ops->sync(e, err);
    if (rc != 0) {
        return rc;
    }
    pthread_mutex_lock(&e->stats_mu);
    e->stats.syncs++;
    if (seq > e->stats.durable_seq) {
        e->stats.durable_seq = seq;
    }
    pthread_mutex_unlock(&e->stats_mu);
    return 0;
}

int kv_engine_approx_range(kv_engine *e, kv_cf cf, cm_slice start, cm_slice end,
                           kv_range_stats *out, cm_err *err)
{
    out->bytes = 0;
    out->keys = 0;
    int rc = check_cf(cf, err);
    if (rc != 0) {
        return rc;
    }
    if (end.len != 0 && cm_slice_cmp(start, end) >= 0) {
        return 0;
    }
    return e->ops->approx_range(e, cf, start, end, out, err);
}

int kv_engine_compact_range(kv_engine *e, kv_cf cf, cm_slice start, cm_slice end, cm_err *err)
{
    int rc = check_cf(cf, err);
    if (rc != 0) {
        return rc;
    }
    if (end.len != 0 && cm_slice_cmp(start, end) >= 0) {
        return 0;
    }
    return e->ops->compact_range(e, cf, start, end, err);
}

int kv_engine_crash(kv_engine *e, cm_err *err)
{
    pthread_mutex_lock(&e->stats_mu);
    long open = e->snapshots_open;
    pthread_mutex_unlock(&e->stats_mu);
    CM_ASSERT(open == 0);
    (void)open;
    int rc = e->ops->crash(e, err);
    pthread_mutex_lock(&e->stats_mu);
    e->stats.crashes++;
    if (rc == 0 && e->ops->crash_drops_unsynced) {
        e->stats.write_seq = e->stats.durable_seq;
    }
    pthread_mutex_unlock(&e->stats_mu);
    return rc;
}

void kv_engine_stats_get(kv_engine *e, kv_engine_stats *out)
{
    pthread_mutex_lock(&e->stats_mu);
    *out = e->stats;
    pthread_mutex_unlock(&e->stats_mu);
}

int kv_engine_snapshot(kv_engine *e, kv_snapshot **out, cm_err *err)
{
    *out = NULL;
    kv_snapshot *s = NULL;
    int rc = e->ops->snapshot(e, &s, err);
    if (rc != 0) {
        return rc;
    }
    s->engine = e;
    s->iters_open = 0;
    pthread_mutex_lock(&e->stats_mu);
    e->snapshots_open++;
    pthread_mutex_unlock(&e->stats_mu);
    *out = s;
    return 0;
}

void kv_snapshot_release(kv_snapshot *s)
{
    if (s == NULL) {
        return;
    }
    CM_ASSERT(__atomic_load_n(&s->iters_open, __ATOMIC_ACQUIRE) == 0);
    kv_engine *e = s->engine;
    e->ops->snapshot_release(s);
    pthread_mutex_lock(&e->stats_mu);
    CM_ASSERT(e->snapshots_open > 0);
    e->snapshots_open--;
    pthread_mutex_unlock(&e->stats_mu);
}

int kv_snapshot_get(kv_snapshot *s, kv_cf cf, cm_slice key, cm_buf *value, cm_err *err)
{
    int rc = check_cf(cf, err);
    return rc ? rc : s->engine->ops->snapshot_get(s, cf, key, value, err);
}

int kv_iter_new(kv_snapshot *s, kv_cf cf, const kv_iter_opts *opts, kv_iter **out, cm_err *err)
{
    *out = NULL;
    int rc = check_cf(cf, err);
    if (rc != 0) {
        return rc;
    }
    const kv_engine_ops *ops = s->engine->ops;
    CM_ASSERT(ops->iter_size >= sizeof(kv_iter));
    kv_iter *it = calloc(1, ops->iter_size);
    if (it == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "engine: out of memory for an iterator");
    }
    it->snap = s;
    it->cf = cf;
    cm_buf_init(&it->lower);
    cm_buf_init(&it->upper);
    if (opts != NULL) {
        rc = cm_buf_append_slice(&it->lower, opts->lower);
        if (rc == 0) {
            rc = cm_buf_append_slice(&it->upper, opts->upper);
        }
    }
    if (rc == 0) {
        rc = ops->iter_init(it, err);
    } else {
        cm_err_set(err, rc, "engine: out of memory for iterator bounds");
    }
    if (rc != 0) {
        cm_buf_fini(&it->lower);
        cm_buf_fini(&it->upper);
        free(it);
        return rc;
    }
    __atomic_add_fetch(&s->iters_open, 1, __ATOMIC_ACQ_REL);
    *out = it;
    return 0;
}

void kv_iter_free(kv_iter *it)
{
    if (it == NULL) {
        return;
    }
    it->snap->engine->ops->iter_fini(it);
    __atomic_sub_fetch(&it->snap->iters_open, 1, __ATOMIC_ACQ_REL);
    cm_buf_fini(&it->lower);
    cm_buf_fini(&it->upper);
    free(it);
}

void kv_iter_seek(kv_iter *it, cm_slice key)
{
    if (it->lower.len != 0 && cm_slice_cmp(key, cm_buf_slice(&it->lower)) < 0) {
        key = cm_buf_slice(&it->lower);
    }
    it->snap->engine->ops->iter_seek(it, key);
}

void kv_iter_seek_for_prev(kv_iter *it, cm_slice key)
{
    if (it->upper.len != 0 && cm_slice_cmp(key, cm_buf_slice(&it->upper)) >= 0) {
        it->snap->engine->ops->iter_seek_to_last(it);
        return;
    }
    it->snap->engine->ops->iter_seek_for_prev(it, key);
}

void kv_iter_seek_to_first(kv_iter *it)
{
    it->snap->engine->ops->iter_seek(it, cm_buf_slice(&it->lower));
}

void kv_iter_seek_to_last(kv_iter *it)
{
    it->snap->engine->ops->iter_seek_to_last(it);
}

void kv_iter_next(kv_iter *it)
{
    CM_ASSERT(kv_iter_valid(it));
    it->snap->engine->ops->iter_next(it);
}

void kv_iter_prev(kv_iter *it)
{
    CM_ASSERT(kv_iter_valid(it));
    it->snap->engine->ops->iter_prev(it);
}

bool kv_iter_valid(const kv_iter *it)
{
    return it->snap->engine->ops->iter_valid(it);
}

cm_slice kv_iter_key(const kv_iter *it)
{
    CM_ASSERT(kv_iter_valid(it));
    return it->snap->engine->ops->iter_key(it);
}

cm_slice kv_iter_value(const kv_iter *it)
{
    CM_ASSERT(kv_iter_valid(it));
    return it->snap->engine->ops->iter_value(it);
}

int kv_iter_status(const kv_iter *it, cm_err *err)
{
    return it->snap->engine->ops->iter_status(it, err);
}
