/* rs_fixture.c — see rs_fixture.h. */
#include "rs_fixture.h"

#include "cm_assert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FX_RUN_ROUNDS_MAX 10000
#define FX_WAIT_TICKS_MAX 400

static uint64_t fx_rand(void *ctx)
{
    fx_store *st = ctx;
    uint64_t z = (st->f->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t fx_clock(void *ctx)
{
    fx_store *st = ctx;
    return st->f->clock_ns;
}

static int fx_send(void *ctx, uint64_t to, uint32_t method, cm_slice payload)
{
    fx_store *st = ctx;
    fx *f = st->f;
    if (to == 0 || to > f->n || f->cut[st->id][to]) {
        return 0;
    }
    if (f->nq == f->capq) {
        f->capq = f->capq ? f->capq * 2 : 64;
        f->q = realloc(f->q, f->capq * sizeof(*f->q));
        CM_ASSERT(f->q != NULL);
    }
    fx_msg *m = &f->q[f->nq++];
    m->from = st->id;
    m->to = to;
    m->method = method;
    cm_buf_init(&m->payload);
    (void)cm_buf_append_slice(&m->payload, payload);
    return 0;
}

static int fx_alloc(void *ctx, size_t n, uint64_t *ids, cm_err *err)
{
    (void)err;
    fx_store *st = ctx;
    for (size_t i = 0; i < n; i++) {
        ids[i] = st->f->next_id++;
    }
    return 0;
}

static void fx_hb(void *ctx, const kv_region_heartbeat *hb)
{
    (void)hb;
    fx_store *st = ctx;
    st->heartbeats++;
}

static void open_store(fx *f, fx_store *st)
{
    kv_raftstore_env env;
    memset(&env, 0, sizeof(env));
    env.engine = st->engine;
    env.ctx = st;
    env.send_cb = fx_send;
    env.clock_ns_cb = fx_clock;
    env.rand_cb = fx_rand;
    env.alloc_ids_cb = fx_alloc;
    env.heartbeat_cb = fx_hb;
    kv_raftstore_config cfg = f->cfg;
    cfg.store_id = st->id;
    cm_err err;
    int rc = kv_raftstore_open(&env, &cfg, &st->rs, &err);
    if (rc != 0) {
        fprintf(stderr, "fixture: open store %llu: %s\n", (unsigned long long)st->id, err.msg);
    }
    CM_ASSERT(rc == 0);
}

void fx_init(fx *f, size_t n, size_t replicas, const char *start, const char *end,
             const kv_raftstore_config *cfg)
{
    CM_ASSERT(n <= FX_STORES_MAX && replicas <= n);
    memset(f, 0, sizeof(*f));
    f->n = n;
    f->rng = 42;
    f->next_id = 1000;
    f->clock_ns = 1000000000ull;
    if (cfg != NULL) {
        f->cfg = *cfg;
    } else {
        kv_raftstore_config_default(&f->cfg);
        f->cfg.log_gc_ticks = 5;
        f->cfg.log_gc_threshold = 20;
        f->cfg.log_gc_lag_max = 40;
        f->cfg.snap_chunk_bytes = 64;
        f->cfg.split_check_ticks = 5;
        f->cfg.pd_heartbeat_ticks = 5;
        f->cfg.stale_peer_ticks = 50;
    }
    kv_region r;
    kv_region_init(&r);
    CM_ASSERT(kv_region_set_range(&r, cm_slice_cstr(start), cm_slice_cstr(end)) == 0);
    r.id = 1;
    r.epoch.conf_ver = 1;
    r.epoch.version = 1;
    for (size_t i = 0; i < replicas; i++) {
        kv_peer p = {101 + i, i + 1, KV_PEER_VOTER};
        CM_ASSERT(kv_region_add_peer(&r, &p) == 0);
    }
    for (size_t i = 0; i < n; i++) {
        fx_store *st = &f->stores[i];
        st->f = f;
        st->id = i + 1;
        cm_err err;
        CM_ASSERT(kv_memengine_open(&st->engine, &err) == 0);
        if (i < replicas) {
            CM_ASSERT(kv_raftstore_bootstrap(st->engine, st->id, &r, &err) == 0);
        }
        open_store(f, st);
    }
    kv_region_fini(&r);
}

void fx_fini(fx *f)
{
    for (size_t i = 0; i < f->n; i++) {
        kv_raftstore_close(f->stores[i].rs);
        kv_engine_close(f->stores[i].engine);
    }
    for (size_t i = 0; i < f->nq; i++) {
        cm_buf_fini(&f->q[i].payload);
    }
    free(f->q);
}

kv_raftstore *fx_rs(fx *f, uint64_t store)
{
    CM_ASSERT(store >= 1 && store <= f->n);
    return f->stores[store - 1].rs;
}

static bool deliver_all(fx *f)
{
    if (f->nq == 0) {
        return false;
    }
    fx_msg *q = f->q;
    size_t n = f->nq;
    f->q = NULL;
    f->nq = 0;
    f->capq = 0;
    for (size_t i = 0; i < n; i++) {
        fx_msg *m = &q[i];
        kv_raftstore *rs = f->stores[m->to - 1].rs;
        if (rs != NULL && !f->cut[m->from][m->to]) {
            if (m->method == KV_RAFTSTORE_MSG_BATCH) {
                (void)kv_raftstore_on_raft_batch(rs, cm_buf_slice(&m->payload));
            } else {
                (void)kv_raftstore_on_snapshot_chunk(rs, cm_buf_slice(&m->payload));
            }
            f->delivered++;
        }
        cm_buf_fini(&m->payload);
    }
    free(q);
    return true;
}

void fx_run(fx *f)
{
    for (int round = 0; round < FX_RUN_ROUNDS_MAX; round++) {
        bool moved = deliver_all(f);
        for (size_t i = 0; i < f->n; i++) {
            kv_raftstore *rs = f->stores[i].rs;
            if (rs != NULL && kv_raftstore_busy(rs)) {
                CM_ASSERT(kv_raftstore_process(rs) == 0);
                moved = true;
            }
        }
        if (!moved && f->nq == 0) {
            return;
        }
    }
}

void fx_tick(fx *f, int k)
{
    for (int i = 0; i < k; i++) {
        f->clock_ns += f->cfg.tick_ns;
        for (size_t s = 0; s < f->n; s++) {
            if (f->stores[s].rs != NULL) {
                CM_ASSERT(kv_raftstore_tick(f->stores[s].rs) == 0);
            }
        }
        fx_run(f);
    }
}

uint64_t fx_leader(fx *f, uint64_t region)
{
    uint64_t best = 0, best_term = 0;
    for (size_t i = 0; i < f->n; i++) {
        kv_peer_status st;
        if (f->stores[i].rs != NULL &&
            kv_raftstore_region(f->stores[i].rs, region, NULL, &st) == 0 && st.leader &&
            st.term > best_term) {
            best = i + 1;
            best_term = st.term;
        }
    }
    return best;
}

uint64_t fx_wait_leader(fx *f, uint64_t region)
{
    for (int t = 0; t < FX_WAIT_TICKS_MAX; t++) {
        uint64_t l = fx_leader(f, region);
        if (l != 0) {
            return l;
        }
        fx_tick(f, 1);
    }
    return 0;
}

bool fx_elect(fx *f, uint64_t region, uint64_t store)
{
    for (int attempt = 0; attempt < 20; attempt++) {
        if (fx_leader(f, region) == store) {
            return true;
        }
        kv_raftstore *rs = fx_rs(f, store);
        uint64_t cur = fx_leader(f, region);
        kv_peer_status st;
        if (cur != 0 && kv_raftstore_region(rs, region, NULL, &st) == 0) {
            (void)kv_raftstore_transfer_leader(fx_rs(f, cur), region, st.peer_id);
        } else {
            (void)kv_raftstore_campaign(rs, region);
        }
        fx_run(f);
        fx_tick(f, 3);
    }
    return fx_leader(f, region) == store;
}

void fx_cut(fx *f, uint64_t a, uint64_t b, bool cut)
{
    f->cut[a][b] = cut;
    f->cut[b][a] = cut;
}

void fx_isolate(fx *f, uint64_t a, bool cut)
{
    for (uint64_t b = 1; b <= f->n; b++) {
        if (b != a) {
            fx_cut(f, a, b, cut);
        }
    }
}

void fx_crash(fx *f, uint64_t store)
{
    fx_store *st = &f->stores[store - 1];
    kv_raftstore_close(st->rs);
    st->rs = NULL;
    cm_err err;
    CM_ASSERT(kv_engine_crash(st->engine, &err) == 0);
}

void fx_restart(fx *f, uint64_t store)
{
    fx_store *st = &f->stores[store - 1];
    CM_ASSERT(st->rs == NULL);
    open_store(f, st);
}

void fx_reopen(fx *f, uint64_t store)
{
    fx_store *st = &f->stores[store - 1];
    kv_raftstore_close(st->rs);
    st->rs = NULL;
    open_store(f, st);
}

/* ---- synchronous helpers -------------------------------------------------------------------- */

typedef struct fx_wait {
    bool done;
    int rc;
    uint64_t new_region;
    bool found;
    cm_buf *value;
    cm_slice key;
} fx_wait;

static void done_cb(void *user, const kv_raftstore_result *res)
{
    fx_wait *w = user;
    w->done = true;
    w->rc = res->rc;
    if (res->rc == 0 && res->n_regions == 2) {
        w->new_region = res->regions[1].id;
    }
}

static void read_cb(void *user, const kv_raftstore_result *res, kv_snapshot *snap)
{
    fx_wait *w = user;
    w->done = true;
    w->rc = res->rc;
    if (res->rc == 0) {
        CM_ASSERT(snap != NULL);
        CM_ASSERT(res->n_regions == 1 && kv_region_contains(&res->regions[0], w->key));
        int rc = kv_snapshot_get(snap, KV_CF_DEFAULT, w->key, w->value, NULL);
        w->found = rc == 0;
        if (rc != 0 && rc != CM_E_NOT_FOUND) {
            w->rc = rc;
        }
        kv_snapshot_release(snap);
    }
}

static void wait_done(fx *f, fx_wait *w)
{
    fx_run(f);
    for (int t = 0; t < FX_WAIT_TICKS_MAX && !w->done; t++) {
        fx_tick(f, 1);
    }
    CM_ASSERT(w->done);
}

kv_epoch fx_epoch(fx *f, uint64_t store, uint64_t region)
{
    kv_region r;
    kv_region_init(&r);
    kv_epoch e = {0, 0};
    if (kv_raftstore_region(fx_rs(f, store), region, &r, NULL) == 0) {
        e = r.epoch;
    }
    kv_region_fini(&r);
    return e;
}

int fx_put_epoch(fx *f, uint64_t store, uint64_t region, kv_epoch epoch, const char *key,
                 const char *value)
{
    kv_batch b;
    kv_batch_init(&b);
    CM_ASSERT(kv_batch_put(&b, KV_CF_DEFAULT, cm_slice_cstr(key), cm_slice_cstr(value)) == 0);
    fx_wait w;
    memset(&w, 0, sizeof(w));
    kv_raftstore_propose(fx_rs(f, store), region, epoch, &b, done_cb, &w);
    kv_batch_fini(&b);
    wait_done(f, &w);
    return w.rc;
}

int fx_put(fx *f, uint64_t store, uint64_t region, const char *key, const char *value)
{
    return fx_put_epoch(f, store, region, fx_epoch(f, store, region), key, value);
}

int fx_get(fx *f, uint64_t store, uint64_t region, const char *key, bool *found, cm_buf *value)
{
    fx_wait w;
    memset(&w, 0, sizeof(w));
    w.value = value;
    w.key = cm_slice_cstr(key);
    kv_raftstore_read(fx_rs(f, store), region, fx_epoch(f, store, region), read_cb, &w);
    wait_done(f, &w);
    *found = w.found;
    return w.rc;
}

int fx_split(fx *f, uint64_t store, uint64_t region, const char *key, uint64_t *new_region)
{
    fx_wait w;
    memset(&w, 0, sizeof(w));
    kv_raftstore_split(fx_rs(f, store), region, fx_epoch(f, store, region), cm_slice_cstr(key),
                       done_cb, &w);
    wait_done(f, &w);
    if (new_region != NULL) {
        *new_region = w.new_region;
    }
    return w.rc;
}

int fx_change(fx *f, uint64_t store, uint64_t region, kv_conf_op op, uint64_t peer_id,
              uint64_t peer_store)
{
    fx_wait w;
    memset(&w, 0, sizeof(w));
    kv_peer p = {peer_id, peer_store, KV_PEER_VOTER};
    kv_raftstore_change_peer(fx_rs(f, store), region, fx_epoch(f, store, region), op, p, done_cb,
                             &w);
    wait_done(f, &w);
    return w.rc;
}

bool fx_engine_has(fx *f, uint64_t store, const char *key, const char *value)
{
    cm_buf v = CM_BUF_INIT;
    int rc =
        kv_engine_get(f->stores[store - 1].engine, KV_CF_DEFAULT, cm_slice_cstr(key), &v, NULL);
    bool ok = rc == 0 && (value == NULL || cm_slice_eq(cm_buf_slice(&v), cm_slice_cstr(value)));
    cm_buf_fini(&v);
    return ok;
}

bool fx_has_region(fx *f, uint64_t store, uint64_t region)
{
    kv_peer_status st;
    return fx_rs(f, store) != NULL &&
           kv_raftstore_region(fx_rs(f, store), region, NULL, &st) == 0 && st.initialized;
}
