/* txn_testutil.c — see txn_testutil.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "txn_testutil.h"

#include "kv_memengine.h"
#include "kv_rocks.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

tenv *tenv_open(int rocks)
{
    tenv *v = calloc(1, sizeof(*v));
    assert_non_null(v);
    v->rocks = rocks;
    if (rocks) {
        snprintf(v->dir, sizeof(v->dir), "/tmp/tessera-kvtxn-XXXXXX");
        assert_non_null(mkdtemp(v->dir));
        kv_rocks_opts o = {v->dir, 1 << 20, 0, true};
        assert_int_equal(kv_rocks_open(&o, &v->e, &v->err), 0);
    } else {
        assert_int_equal(kv_memengine_open(&v->e, &v->err), 0);
    }
    cm_arena_init(&v->arena, 0);
    kv_batch_init(&v->batch);
    return v;
}

void tenv_close(tenv *v)
{
    kv_engine_close(v->e);
    if (v->rocks) {
        nftw(v->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    }
    cm_arena_fini(&v->arena);
    kv_batch_fini(&v->batch);
    free(v);
}

static kv_snapshot *begin(tenv *v)
{
    cm_arena_reset(&v->arena);
    kv_batch_clear(&v->batch);
    kv_txn_out_init(&v->out, &v->batch, &v->arena);
    cm_err_clear(&v->err);
    kv_snapshot *s = NULL;
    assert_int_equal(kv_engine_snapshot(v->e, &s, &v->err), 0);
    return s;
}

/* Writes the batch of a successful command; checks that a failed one wrote nothing. */
static int finish(tenv *v, kv_snapshot *s, int rc)
{
    kv_snapshot_release(s);
    if (rc == 0) {
        if (kv_batch_count(&v->batch) > 0) {
            /* The batch goes through its wire form, as it will through Raft. */
            kv_batch copy;
            kv_batch_init(&copy);
            assert_int_equal(kv_batch_load(&copy, kv_batch_data(&v->batch), &v->err), 0);
            assert_int_equal(kv_engine_write(v->e, &copy, false, &v->err), 0);
            kv_batch_fini(&copy);
            v->writes++;
        }
    } else {
        assert_int_equal(kv_batch_count(&v->batch), 0);
        assert_int_equal(v->err.code, rc);
    }
    return rc;
}

int t_prewrite(tenv *v, uint64_t start_ts, const char *primary, uint64_t ttl_ms,
               const kv_mutation *muts, size_t n)
{
    kv_snapshot *s = begin(v);
    kv_prewrite_req req = {muts, n, K(primary), start_ts, ttl_ms, n};
    return finish(v, s, kv_txn_prewrite(s, &req, &v->out, &v->err));
}

int t_put(tenv *v, uint64_t start_ts, const char *primary, const char *key, const char *value)
{
    kv_mutation m = {value ? KV_MUT_PUT : KV_MUT_DELETE, K(key), value ? K(value) : K("")};
    return t_prewrite(v, start_ts, primary, 3000, &m, 1);
}

int t_commit(tenv *v, uint64_t start_ts, uint64_t commit_ts, const cm_slice *keys, size_t n)
{
    kv_snapshot *s = begin(v);
    return finish(v, s, kv_txn_commit(s, keys, n, start_ts, commit_ts, &v->out, &v->err));
}

int t_commit1(tenv *v, uint64_t start_ts, uint64_t commit_ts, const char *key)
{
    cm_slice k = K(key);
    return t_commit(v, start_ts, commit_ts, &k, 1);
}

int t_rollback(tenv *v, uint64_t start_ts, const cm_slice *keys, size_t n)
{
    kv_snapshot *s = begin(v);
    return finish(v, s, kv_txn_rollback(s, keys, n, start_ts, &v->out, &v->err));
}

int t_rollback1(tenv *v, uint64_t start_ts, const char *key)
{
    cm_slice k = K(key);
    return t_rollback(v, start_ts, &k, 1);
}

int t_cleanup(tenv *v, const char *key, uint64_t start_ts, uint64_t current_ts)
{
    kv_snapshot *s = begin(v);
    return finish(v, s, kv_txn_cleanup(s, K(key), start_ts, current_ts, &v->out, &v->err));
}

int t_check(tenv *v, const char *primary, uint64_t lock_ts, uint64_t current_ts,
            bool rollback_if_not_exist, kv_txn_status *st)
{
    kv_snapshot *s = begin(v);
    return finish(v, s,
                  kv_txn_check_status(s, K(primary), lock_ts, current_ts, rollback_if_not_exist,
                                      &v->out, st, &v->err));
}

int t_heartbeat(tenv *v, const char *primary, uint64_t start_ts, uint64_t advise, uint64_t *ttl)
{
    kv_snapshot *s = begin(v);
    return finish(v, s, kv_txn_heartbeat(s, K(primary), start_ts, advise, &v->out, ttl, &v->err));
}

int t_resolve(tenv *v, uint64_t start_ts, uint64_t commit_ts, const cm_slice *keys, size_t n)
{
    kv_snapshot *s = begin(v);
    return finish(v, s, kv_txn_resolve_lock(s, start_ts, commit_ts, keys, n, &v->out, &v->err));
}

int t_gc(tenv *v, uint64_t safe_point, const char *start, const char *end, size_t limit,
         kv_gc_result *res)
{
    kv_snapshot *s = begin(v);
    kv_gc_req req = {safe_point, K(start), K(end), limit, 0};
    return finish(v, s, kv_gc(s, &req, &v->batch, &v->arena, res, &v->err));
}

int t_get(tenv *v, const char *key, uint64_t ts, const char **value, kv_lock_info *lock)
{
    kv_snapshot *s = begin(v);
    cm_slice val;
    kv_lock_info li;
    int rc = kv_mvcc_get(s, K(key), ts, &v->arena, &val, lock ? lock : &li, &v->err);
    kv_snapshot_release(s);
    *value = NULL;
    if (rc == 0) {
        char *p = cm_arena_alloc(&v->arena, val.len + 1);
        assert_non_null(p);
        memcpy(p, val.ptr, val.len);
        p[val.len] = 0;
        *value = p;
    }
    return rc;
}

int t_scan(tenv *v, const kv_scan_req *req, kv_read_result *res)
{
    kv_snapshot *s = begin(v);
    int rc = kv_mvcc_scan(s, req, &v->arena, res, &v->err);
    kv_snapshot_release(s);
    return rc;
}

bool t_raw_exists(tenv *v, kv_cf cf, cm_slice raw_key)
{
    cm_buf out = CM_BUF_INIT;
    int rc = kv_engine_get(v->e, cf, raw_key, &out, NULL);
    cm_buf_fini(&out);
    return rc == 0;
}

uint64_t t_rng(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
