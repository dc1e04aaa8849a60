/*
 * kv_rs_store.c — the store: its maps (region id -> peer, ordered range index, tombstones),
 * bootstrap, recovery at open, the one timer (tick) and the one loop iteration (process) that
 * persists every busy peer's ready with a single sync (kv_raftstore.h, docs/raftstore.md).
 */
#include "kv_rs_int.h"

#include <stdlib.h>
#include <string.h>

static void free_graveyard(kv_raftstore *s);

/* ---- hash map ------------------------------------------------------------------------------- */

static size_t slot_of(uint64_t key, size_t cap)
{
    uint64_t h = key * 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 17) & (cap - 1);
}

void rs_map_fini(rs_map *m)
{
    free(m->slots);
    memset(m, 0, sizeof(*m));
}

void *rs_map_get(const rs_map *m, uint64_t key)
{
    if (m->cap == 0 || key == 0) {
        return NULL;
    }
    for (size_t i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->slots[i].key == key) {
            return m->slots[i].val;
        }
        if (m->slots[i].key == 0) {
            return NULL;
        }
    }
}

static int map_grow(rs_map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 16;
    rs_map_slot *slots = calloc(cap, sizeof(*slots));
    if (slots == NULL) {
        return CM_E_NOMEM;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].key != 0) {
            size_t j = slot_of(m->slots[i].key, cap);
            while (slots[j].key != 0) {
                j = (j + 1) & (cap - 1);
            }
            slots[j] = m->slots[i];
        }
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return 0;
}

int rs_map_put(rs_map *m, uint64_t key, void *val)
{
    CM_ASSERT(key != 0);
    if ((m->n + 1) * 4 > m->cap * 3 && map_grow(m) != 0) {
        return CM_E_NOMEM;
    }
    size_t i = slot_of(key, m->cap);
    while (m->slots[i].key != 0 && m->slots[i].key != key) {
        i = (i + 1) & (m->cap - 1);
    }
    if (m->slots[i].key == 0) {
        m->n++;
    }
    m->slots[i].key = key;
    m->slots[i].val = val;
    return 0;
}

void *rs_map_del(rs_map *m, uint64_t key)
{
    if (m->cap == 0 || key == 0) {
        return NULL;
    }
    size_t i = slot_of(key, m->cap);
    while (m->slots[i].key != key) {
        if (m->slots[i].key == 0) {
            return NULL;
        }
        i = (i + 1) & (m->cap - 1);
    }
    void *val = m->slots[i].val;
    /* Backward-shift deletion keeps every probe chain unbroken without tombstones. */
    size_t j = i;
    for (;;) {
        j = (j + 1) & (m->cap - 1);
        if (m->slots[j].key == 0) {
            break;
        }
        size_t home = slot_of(m->slots[j].key, m->cap);
        bool movable = (j > i) ? (home <= i || home > j) : (home <= i && home > j);
        if (movable) {
            m->slots[i] = m->slots[j];
            i = j;
        }
    }
    m->slots[i].key = 0;
    m->slots[i].val = NULL;
    m->n--;
    return val;
}

/* ---- range index ---------------------------------------------------------------------------- */

/* First position whose start key is >= key. */
static size_t range_lower(const kv_raftstore *s, cm_slice key)
{
    size_t lo = 0, hi = s->n_ranges;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cm_slice_cmp(kv_region_start(&s->ranges[mid]->st.region), key) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

int rs_range_insert(kv_raftstore *s, rs_peer *p)
{
    CM_ASSERT(p->initialized);
    if (s->n_ranges == s->cap_ranges) {
        size_t cap = s->cap_ranges ? s->cap_ranges * 2 : 16;
        rs_peer **v = realloc(s->ranges, cap * sizeof(*v));
        if (v == NULL) {
            return CM_E_NOMEM;
        }
        s->ranges = v;
        s->cap_ranges = cap;
    }
    size_t i = range_lower(s, kv_region_start(&p->st.region));
    memmove(&s->ranges[i + 1], &s->ranges[i], (s->n_ranges - i) * sizeof(*s->ranges));
    s->ranges[i] = p;
    s->n_ranges++;
    return 0;
}

void rs_range_remove(kv_raftstore *s, rs_peer *p)
{
    for (size_t i = 0; i < s->n_ranges; i++) {
        if (s->ranges[i] == p) {
            memmove(&s->ranges[i], &s->ranges[i + 1], (s->n_ranges - i - 1) * sizeof(*s->ranges));
            s->n_ranges--;
            return;
        }
    }
}

rs_peer *rs_range_overlap(const kv_raftstore *s, cm_slice start, cm_slice end,
                          uint64_t except_region)
{
    /* Ranges do not overlap each other, so only the neighbourhood of start can: the region
     * starting at or before start, and those starting inside [start, end). */
    size_t i = range_lower(s, start);
    if (i > 0) {
        i--;
    }
    for (; i < s->n_ranges; i++) {
        rs_peer *p = s->ranges[i];
        cm_slice ps = kv_region_start(&p->st.region);
        if (end.len > 0 && cm_slice_cmp(ps, end) >= 0) {
            break;
        }
        if (p->region_id != except_region &&
            kv_range_overlaps(ps, kv_region_end(&p->st.region), start, end)) {
            return p;
        }
    }
    return NULL;
}

rs_peer *rs_range_right_of(const kv_raftstore *s, const rs_peer *p)
{
    cm_slice end = kv_region_end(&p->st.region);
    if (end.len == 0) {
        return NULL;
    }
    size_t i = range_lower(s, end);
    if (i < s->n_ranges && cm_slice_eq(kv_region_start(&s->ranges[i]->st.region), end)) {
        return s->ranges[i];
    }
    return NULL;
}

int kv_raftstore_route(kv_raftstore *s, cm_slice key, uint64_t *region_id)
{
    size_t i = range_lower(s, key);
    /* The region containing key starts at key (position i) or before it (i - 1). */
    if (i < s->n_ranges && cm_slice_eq(kv_region_start(&s->ranges[i]->st.region), key)) {
        *region_id = s->ranges[i]->region_id;
        return 0;
    }
    if (i > 0 && kv_region_contains(&s->ranges[i - 1]->st.region, key)) {
        *region_id = s->ranges[i - 1]->region_id;
        return 0;
    }
    return CM_E_REGION_NOT_FOUND;
}

/* ---- small helpers -------------------------------------------------------------------------- */

rs_peer *rs_find(const kv_raftstore *s, uint64_t region_id)
{
    return rs_map_get(&s->peers, region_id);
}

void rs_mark_dirty(rs_peer *p)
{
    kv_raftstore *s = p->store;
    if (p->dirty) {
        return;
    }
    if (s->n_dirty == s->cap_dirty) {
        size_t cap = s->cap_dirty ? s->cap_dirty * 2 : 16;
        rs_peer **v = realloc(s->dirty, cap * sizeof(*v));
        if (v == NULL) {
            return; /* the next tick marks it again */
        }
        s->dirty = v;
        s->cap_dirty = cap;
    }
    s->dirty[s->n_dirty++] = p;
    p->dirty = true;
}

uint64_t rs_now_ns(kv_raftstore *s)
{
    return s->env.clock_ns_cb ? s->env.clock_ns_cb(s->env.ctx) : 0;
}

int rs_write(kv_raftstore *s, const kv_batch *b, bool sync)
{
    if (s->poisoned) {
        return s->poisoned;
    }
    if (kv_batch_count(b) == 0 && !sync) {
        return 0;
    }
    cm_err err;
    int rc = kv_engine_write(s->env.engine, b, sync, &err);
    if (rc != 0) {
        CM_ERROR(RS_COMPONENT, "store=%llu engine write failed, store stopped: %s",
                 (unsigned long long)s->store_id, err.msg);
        s->poisoned = CM_E_IO;
        return CM_E_IO;
    }
    return 0;
}

uint64_t kv_raftstore_store_id(const kv_raftstore *s)
{
    return s->store_id;
}

void kv_raftstore_stats_get(const kv_raftstore *s, kv_raftstore_stats *out)
{
    *out = s->stats;
}

bool kv_raftstore_busy(const kv_raftstore *s)
{
    if (s->n_dirty > 0) {
        return true;
    }
    bool posted;
    pthread_mutex_lock((pthread_mutex_t *)&s->post_mu);
    posted = s->n_posts > 0;
    pthread_mutex_unlock((pthread_mutex_t *)&s->post_mu);
    return posted;
}

/* ---- configuration and lifecycle ------------------------------------------------------------ */

void kv_raftstore_config_default(kv_raftstore_config *c)
{
    memset(c, 0, sizeof(*c));
    c->election_tick = 10;
    c->heartbeat_tick = 2;
    c->tick_ns = 100u * 1000 * 1000;
    c->drift_ppm = 10000;
    c->lease_read = true;
    c->max_msg_bytes = 1u << 20;
    c->max_inflight = 256;
    c->max_apply_bytes = 4u << 20;
    c->send_before_sync = false;
    c->log_gc_ticks = 10;
    c->log_gc_threshold = 256;
    c->log_gc_lag_max = 4096;
    c->snap_chunk_bytes = 1u << 20;
    c->pd_heartbeat_ticks = 10;
    c->split_check_ticks = 50;
    c->request_timeout_ticks = 100;
    c->stale_peer_ticks = 200;
}

static int check_config(const kv_raftstore_env *env, const kv_raftstore_config *c, cm_err *err)
{
    if (env->engine == NULL || env->send_cb == NULL || env->rand_cb == NULL ||
        env->alloc_ids_cb == NULL) {
        return cm_err_set(err, CM_E_INVALID, "raftstore: engine, send, rand and alloc_ids needed");
    }
    if (c->lease_read && env->clock_ns_cb == NULL) {
        return cm_err_set(err, CM_E_INVALID, "raftstore: lease reads need a clock");
    }
    if (c->store_id == 0 || c->snap_chunk_bytes == 0 || c->log_gc_ticks == 0 ||
        c->pd_heartbeat_ticks == 0 || c->split_check_ticks == 0 || c->request_timeout_ticks == 0 ||
        c->stale_peer_ticks == 0) {
        return cm_err_set(err, CM_E_INVALID, "raftstore: zero store id or period");
    }
    return 0;
}

static int write_ident(kv_engine *e, uint64_t store_id, kv_batch *b, cm_err *err)
{
    cm_buf key = CM_BUF_INIT, val = CM_BUF_INIT;
    kv_rs_key_store_ident(&key);
    int rc = kv_engine_get(e, KV_CF_RAFT, cm_buf_slice(&key), &val, err);
    if (rc == 0) {
        cm_reader rd;
        cm_reader_init(&rd, val.ptr, val.len);
        uint8_t ver;
        uint64_t id;
        if (cm_reader_u8(&rd, &ver) != 0 || cm_reader_uvarint(&rd, &id) != 0) {
            rc = cm_err_set(err, CM_E_CORRUPT, "raftstore: store identity unreadable");
        } else if (id != store_id) {
            rc = cm_err_set(err, CM_E_EXISTS, "raftstore: engine belongs to store %llu",
                            (unsigned long long)id);
        }
    } else if (rc == CM_E_NOT_FOUND) {
        cm_buf_reset(&val);
        rc = cm_buf_append_u8(&val, 1);
        rc = rc ? rc : cm_buf_append_uvarint(&val, store_id);
        rc = rc ? rc : kv_batch_put(b, KV_CF_RAFT, cm_buf_slice(&key), cm_buf_slice(&val));
    }
    cm_buf_fini(&key);
    cm_buf_fini(&val);
    return rc;
}

int kv_raftstore_bootstrap(kv_engine *engine, uint64_t store_id, const kv_region *region,
                           cm_err *err)
{
    const kv_peer *me = kv_region_peer_on_store(region, store_id);
    if (me == NULL || region->id == 0) {
        return cm_err_set(err, CM_E_INVALID, "bootstrap: region %llu has no peer on store %llu",
                          (unsigned long long)region->id, (unsigned long long)store_id);
    }
    uint8_t key[KV_RS_META_KEY_LEN];
    kv_rs_key_meta(region->id, KV_RS_SUFFIX_REGION_STATE, key);
    cm_buf val = CM_BUF_INIT;
    int rc = kv_engine_get(engine, KV_CF_RAFT, cm_slice_make(key, sizeof(key)), &val, err);
    if (rc == 0) {
        cm_buf_fini(&val);
        return cm_err_set(err, CM_E_EXISTS, "bootstrap: region %llu already exists",
                          (unsigned long long)region->id);
    }
    if (rc != CM_E_NOT_FOUND) {
        cm_buf_fini(&val);
        return rc;
    }
    kv_batch b;
    kv_batch_init(&b);
    rc = write_ident(engine, store_id, &b, err);
    kv_rs_region_state st;
    kv_rs_region_state_init(&st);
    st.peer_id = me->id;
    rc = rc ? rc : kv_region_copy(&st.region, region);
    cm_buf_reset(&val);
    rc = rc ? rc : kv_rs_region_state_encode(&st, &val);
    rc =
        rc ? rc : kv_batch_put(&b, KV_CF_RAFT, cm_slice_make(key, sizeof(key)), cm_buf_slice(&val));
    kv_rs_raft_state rst;
    memset(&rst, 0, sizeof(rst));
    rst.hs.term = KV_RS_INIT_TERM;
    rst.hs.commit = KV_RS_INIT_INDEX;
    rst.trunc_index = KV_RS_INIT_INDEX;
    rst.trunc_term = KV_RS_INIT_TERM;
    kv_region_conf(region, &rst.trunc_conf);
    cm_buf_reset(&val);
    kv_rs_key_meta(region->id, KV_RS_SUFFIX_RAFT_STATE, key);
    rc = rc ? rc : kv_rs_raft_state_encode(&rst, &val);
    rc =
        rc ? rc : kv_batch_put(&b, KV_CF_RAFT, cm_slice_make(key, sizeof(key)), cm_buf_slice(&val));
    kv_rs_apply_state ast = {KV_RS_INIT_INDEX, KV_RS_INIT_TERM};
    cm_buf_reset(&val);
    kv_rs_key_meta(region->id, KV_RS_SUFFIX_APPLY_STATE, key);
    rc = rc ? rc : kv_rs_apply_state_encode(&ast, &val);
    rc =
        rc ? rc : kv_batch_put(&b, KV_CF_RAFT, cm_slice_make(key, sizeof(key)), cm_buf_slice(&val));
    rc = rc ? rc : kv_engine_write(engine, &b, true, err);
    kv_rs_region_state_fini(&st);
    kv_batch_fini(&b);
    cm_buf_fini(&val);
    return rc;
}

/* Loads every region local state of the engine (kv_rs_codec.h key layout). */
static int recover(kv_raftstore *s, cm_err *err)
{
    uint8_t lo[1] = {KV_RS_KEY_REGION_META}, hi[1] = {KV_RS_KEY_REGION_META + 1};
    kv_snapshot *snap;
    int rc = kv_engine_snapshot(s->env.engine, &snap, err);
    if (rc != 0) {
        return rc;
    }
    kv_iter_opts o = {cm_slice_make(lo, 1), cm_slice_make(hi, 1)};
    kv_iter *it;
    rc = kv_iter_new(snap, KV_CF_RAFT, &o, &it, err);
    if (rc != 0) {
        kv_snapshot_release(snap);
        return rc;
    }
    kv_rs_region_state st;
    kv_rs_region_state_init(&st);
    size_t n = 0, tombs = 0;
    for (kv_iter_seek_to_first(it); rc == 0 && kv_iter_valid(it); kv_iter_next(it)) {
        uint8_t kind, suffix;
        uint64_t rid, idx;
        if (kv_rs_key_parse(kv_iter_key(it), &kind, &rid, &suffix, &idx) != 0 ||
            kind != KV_RS_KEY_REGION_META) {
            rc = cm_err_set(err, CM_E_CORRUPT, "raftstore: unknown key in the raft column family");
            break;
        }
        if (suffix != KV_RS_SUFFIX_REGION_STATE) {
            continue;
        }
        rc = kv_rs_region_state_decode(kv_iter_value(it), &st, err);
        if (rc == 0 && st.region.id != rid) {
            rc = cm_err_set(err, CM_E_CORRUPT, "raftstore: region state under the wrong id");
        }
        if (rc != 0) {
            break;
        }
        if (st.state == KV_RS_PEER_TOMBSTONE) {
            rs_tomb *t = calloc(1, sizeof(*t));
            if (t == NULL || rs_map_put(&s->tombs, rid, t) != 0) {
                free(t);
                rc = cm_err_set(err, CM_E_NOMEM, "raftstore: out of memory");
                break;
            }
            t->peer_id = st.peer_id;
            t->epoch = st.region.epoch;
            tombs++;
            continue;
        }
        rc = rs_peer_load(s, &st, err);
        if (rc == 0 && st.region.n_peers > 0 &&
            rs_range_overlap(s, kv_region_start(&st.region), kv_region_end(&st.region), rid) !=
                NULL) {
            rc = cm_err_set(err, CM_E_CORRUPT, "raftstore: region %llu overlaps another",
                            (unsigned long long)rid);
        }
        n++;
    }
    if (rc == 0) {
        rc = kv_iter_status(it, err);
    }
    kv_rs_region_state_fini(&st);
    kv_iter_free(it);
    kv_snapshot_release(snap);
    if (rc == 0) {
        CM_INFO(RS_COMPONENT, "store=%llu recovered %zu regions, %zu tombstones",
                (unsigned long long)s->store_id, n, tombs);
    }
    return rc;
}

int kv_raftstore_open(const kv_raftstore_env *env, const kv_raftstore_config *cfg,
                      kv_raftstore **out, cm_err *err)
{
    *out = NULL;
    int rc = check_config(env, cfg, err);
    if (rc != 0) {
        return rc;
    }
    kv_raftstore *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "raftstore: out of memory");
    }
    s->env = *env;
    s->cfg = *cfg;
    s->store_id = cfg->store_id;
    pthread_mutex_init(&s->post_mu, NULL);
    kv_batch_init(&s->wb);
    kv_batch_init(&s->ab);
    cm_buf_init(&s->scratch);
    cm_buf_init(&s->msgbuf);
    kv_batch b;
    kv_batch_init(&b);
    rc = write_ident(env->engine, s->store_id, &b, err);
    if (rc == 0 && kv_batch_count(&b) > 0) {
        rc = kv_engine_write(env->engine, &b, true, err);
    }
    kv_batch_fini(&b);
    if (rc == 0) {
        rc = recover(s, err);
    }
    if (rc != 0) {
        kv_raftstore_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

void kv_raftstore_close(kv_raftstore *s)
{
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < s->peers.cap; i++) {
        rs_peer *p = s->peers.slots[i].val;
        if (s->peers.slots[i].key != 0 && p != NULL) {
            rs_fail_proposals(p, CM_E_CLOSED, "store closed", true);
            rs_fail_reads(p, CM_E_CLOSED, "store closed");
            if (p->conf_next.due && p->conf_next.cb != NULL) {
                rs_reply_simple(p->conf_next.cb, p->conf_next.user, p->region_id, CM_E_CLOSED,
                                "store closed");
            }
            rs_peer_free(p);
        }
    }
    rs_map_fini(&s->peers);
    for (size_t i = 0; i < s->tombs.cap; i++) {
        if (s->tombs.slots[i].key != 0) {
            free(s->tombs.slots[i].val);
        }
    }
    rs_map_fini(&s->tombs);
    rs_map_fini(&s->peer_stores);
    free(s->ranges);
    free(s->dirty);
    for (size_t i = 0; i < s->n_outs; i++) {
        cm_buf_fini(&s->outs[i].payload);
    }
    free(s->outs);
    rs_snap_recv_fini(s);
    for (size_t i = 0; i < s->n_pending_ranges; i++) {
        cm_buf_fini(&s->pending_ranges[i].start);
        cm_buf_fini(&s->pending_ranges[i].end);
    }
    free(s->pending_ranges);
    rs_split_news_fini(s);
    rs_dones_fini(s);
    free_graveyard(s);
    free(s->graveyard);
    free(s->posts);
    pthread_mutex_destroy(&s->post_mu);
    kv_batch_fini(&s->wb);
    kv_batch_fini(&s->ab);
    cm_buf_fini(&s->scratch);
    cm_buf_fini(&s->msgbuf);
    free(s);
}

int kv_raftstore_post(kv_raftstore *s, void (*fn)(kv_raftstore *s, void *arg), void *arg)
{
    pthread_mutex_lock(&s->post_mu);
    int rc = 0;
    if (s->n_posts == s->cap_posts) {
        size_t cap = s->cap_posts ? s->cap_posts * 2 : 16;
        rs_post *v = realloc(s->posts, cap * sizeof(*v));
        if (v == NULL) {
            rc = CM_E_NOMEM;
        } else {
            s->posts = v;
            s->cap_posts = cap;
        }
    }
    if (rc == 0) {
        s->posts[s->n_posts].fn = fn;
        s->posts[s->n_posts].arg = arg;
        s->n_posts++;
    }
    pthread_mutex_unlock(&s->post_mu);
    if (rc == 0 && s->env.wake_cb != NULL) {
        s->env.wake_cb(s->env.ctx);
    }
    return rc;
}

static void run_posts(kv_raftstore *s)
{
    for (;;) {
        pthread_mutex_lock(&s->post_mu);
        if (s->n_posts == 0) {
            pthread_mutex_unlock(&s->post_mu);
            return;
        }
        rs_post p = s->posts[0];
        memmove(s->posts, s->posts + 1, (s->n_posts - 1) * sizeof(*s->posts));
        s->n_posts--;
        pthread_mutex_unlock(&s->post_mu);
        p.fn(s, p.arg);
    }
}

/* ---- tick ----------------------------------------------------------------------------------- */

static void refresh_estimate(rs_peer *p)
{
    kv_raftstore *s = p->store;
    static const kv_cf cfs[] = {KV_CF_DEFAULT, KV_CF_LOCK, KV_CF_WRITE};
    uint64_t bytes = 0, keys = 0;
    for (size_t i = 0; i < CM_ARRAY_LEN(cfs); i++) {
        kv_range_stats rs;
        if (kv_engine_approx_range(s->env.engine, cfs[i], kv_region_start(&p->st.region),
                                   kv_region_end(&p->st.region), &rs, NULL) == 0) {
            bytes += rs.bytes;
            keys += rs.keys;
        }
    }
    p->approx_bytes = bytes;
    p->approx_keys = keys;
    p->approx_valid = true;
}

void rs_report(rs_peer *p)
{
    kv_raftstore *s = p->store;
    if (s->env.heartbeat_cb == NULL || !p->initialized || !rs_peer_is_leader(p)) {
        return;
    }
    if (!p->approx_valid) {
        refresh_estimate(p);
    }
    kv_region_heartbeat hb;
    memset(&hb, 0, sizeof(hb));
    hb.region = &p->st.region;
    rs_peer_leader(p, &hb.leader);
    cm_raft_status st;
    cm_raft_status_get(p->raft, &st);
    hb.term = st.term;
    hb.approx_bytes = p->approx_bytes;
    hb.approx_keys = p->approx_keys;
    for (size_t i = 0; i < p->st.region.n_peers; i++) {
        cm_raft_progress_info pi;
        if (p->st.region.peers[i].id != p->peer_id &&
            cm_raft_progress_of(p->raft, p->st.region.peers[i].id, &pi) == 0 &&
            pi.state != CM_RAFT_PR_REPLICATE && hb.pending_peers < KV_REGION_PEERS_MAX) {
            hb.pending_peer_ids[hb.pending_peers++] = p->st.region.peers[i].id;
        }
    }
    s->stats.heartbeats++;
    s->env.heartbeat_cb(s->env.ctx, &hb);
}

static void tick_peer(kv_raftstore *s, rs_peer *p, kv_batch *gc)
{
    (void)cm_raft_tick(p->raft);
    rs_mark_dirty(p);
    p->ticks_since_leader++;
    for (size_t i = 0; i < p->n_reads; i++) {
        p->reads[i].age_ticks++;
    }
    if (p->initialized && s->ticks % s->cfg.split_check_ticks == 0) {
        refresh_estimate(p);
    }
    if (s->ticks % s->cfg.log_gc_ticks == 0) {
        (void)rs_peer_compact(p, gc);
    }
    if (s->ticks % s->cfg.pd_heartbeat_ticks == 0) {
        rs_report(p);
    }
    if (p->initialized && p->ticks_since_leader >= s->cfg.stale_peer_ticks &&
        p->ticks_since_leader % s->cfg.stale_peer_ticks == 0) {
        rs_send_stale_probe(p);
    }
}

int kv_raftstore_tick(kv_raftstore *s)
{
    if (s->poisoned) {
        return s->poisoned;
    }
    CM_ASSERT(!s->in_process);
    s->ticks++;
    kv_batch gc;
    kv_batch_init(&gc);
    for (size_t i = 0; i < s->peers.cap; i++) {
        if (s->peers.slots[i].key != 0) {
            tick_peer(s, s->peers.slots[i].val, &gc);
        }
    }
    int rc = rs_write(s, &gc, false);
    kv_batch_fini(&gc);
    rs_snap_recv_tick(s);
    /* A leader's probes for stale peers and tombstones go out with the next iteration. */
    rs_flush_outboxes(s);
    return rc;
}

/* ---- the loop ------------------------------------------------------------------------------- */

static void clear_pending_ranges(kv_raftstore *s)
{
    for (size_t i = 0; i < s->n_pending_ranges; i++) {
        cm_buf_fini(&s->pending_ranges[i].start);
        cm_buf_fini(&s->pending_ranges[i].end);
    }
    s->n_pending_ranges = 0;
}

/* Leadership changes seen in a ready. Proposals of an old term can no longer be answered by
 * their apply: they fail as stale (outcome unknown, the client retries) — after advance, so
 * their callbacks may propose again. */
static void on_role(rs_peer *p)
{
    bool leader = p->rd.role == CM_RAFT_LEADER;
    uint64_t term = p->rd.hard_state.term;
    if (p->was_leader && (!leader || term != p->leader_term)) {
        p->role_lost = true;
        p->split_index = 0;
    }
    if (leader && (!p->was_leader || term != p->leader_term)) {
        p->hb_pending = true;
        CM_DEBUG(RS_COMPONENT, "store=%llu region=%llu peer=%llu leader at term %llu",
                 (unsigned long long)p->store->store_id, (unsigned long long)p->region_id,
                 (unsigned long long)p->peer_id, (unsigned long long)term);
    }
    p->was_leader = leader;
    p->leader_term = leader ? term : 0;
    if (p->rd.lead != 0 && p->rd.lead != p->peer_id) {
        p->ticks_since_leader = 0;
    } else if (leader) {
        p->ticks_since_leader = 0;
    }
}

static void after_role_lost(rs_peer *p)
{
    if (!p->role_lost) {
        return;
    }
    p->role_lost = false;
    rs_fail_proposals(p, CM_E_STALE_COMMAND, "leadership lost before the command applied", true);
    if (p->conf_next.due && p->conf_next.cb != NULL) {
        rs_reply_not_leader(p, p->conf_next.cb, p->conf_next.user);
    }
    p->conf_next.due = false;
}

static void send_msgs(rs_peer *p, const cm_raft_msg *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        rs_send_raft(p, &m[i]);
    }
}

/* Takes the readies of the busy peers; returns how many. */
static size_t collect(kv_raftstore *s, rs_peer ***out)
{
    rs_peer **busy = s->dirty;
    size_t n = 0;
    for (size_t i = 0; i < s->n_dirty; i++) {
        rs_peer *p = s->dirty[i];
        p->dirty = false;
        if (cm_raft_has_ready(p->raft) && cm_raft_ready_get(p->raft, &p->rd) == 0) {
            p->has_rd = true;
            busy[n++] = p;
        }
    }
    *out = busy;
    return n;
}

static int persist_all(kv_raftstore *s, rs_peer **busy, size_t n)
{
    kv_batch_clear(&s->wb);
    bool sync = false;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = rs_peer_persist(busy[i]);
        sync = sync || busy[i]->rd.must_sync;
    }
    if (rc != 0) {
        CM_ERROR(RS_COMPONENT, "store=%llu cannot build the persist batch: %s",
                 (unsigned long long)s->store_id, cm_err_name(rc));
        s->poisoned = CM_E_IO;
        return CM_E_IO;
    }
#ifdef KV_RS_PLANT_NOSYNC
    sync = false; /* planted bug (simulator self-test): acknowledge what is not durable */
#endif
    rc = rs_write(s, &s->wb, sync);
    if (rc == 0 && sync) {
        s->stats.syncs++;
    }
    return rc;
}

static int apply_all(kv_raftstore *s, rs_peer **busy, size_t n)
{
    kv_batch_clear(&s->ab);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = rs_apply_committed(busy[i]);
    }
    if (rc != 0) {
        s->poisoned = CM_E_IO;
        return CM_E_IO;
    }
    return rs_write(s, &s->ab, false);
}

static void after_advance(kv_raftstore *s, rs_peer **busy, size_t n)
{
    /* Split peers first: an answer delivered below may route to them. */
    rs_apply_create_split_peers(s);
    rs_deliver_dones(s);
    for (size_t i = 0; i < n; i++) {
        rs_peer *p = busy[i];
        if (p->destroy_pending || p->replaced) {
            continue;
        }
        after_role_lost(p);
        rs_serve_reads(p);
        rs_run_conf_next(p);
        if (p->campaign_pending) {
            p->campaign_pending = false;
            (void)cm_raft_campaign(p->raft);
            rs_mark_dirty(p);
        }
        if (p->hb_pending) {
            p->hb_pending = false;
            rs_report(p);
        }
        if (cm_raft_has_ready(p->raft)) {
            rs_mark_dirty(p);
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (busy[i]->destroy_pending && !busy[i]->replaced) {
            rs_peer_destroy(busy[i], CM_E_REGION_NOT_FOUND, "removed from the region");
        }
    }
}

static void free_graveyard(kv_raftstore *s)
{
    for (size_t i = 0; i < s->n_graveyard; i++) {
        rs_peer_free(s->graveyard[i]);
    }
    s->n_graveyard = 0;
}

int kv_raftstore_process(kv_raftstore *s)
{
    if (s->poisoned) {
        return s->poisoned;
    }
    run_posts(s);
    if (s->n_dirty == 0) {
        rs_flush_outboxes(s);
        return 0;
    }
    s->in_process = true;
    /* The dirty array becomes this iteration's busy list; later marks go to a fresh one. */
    rs_peer **busy;
    size_t n = collect(s, &busy);
    s->dirty = NULL;
    s->n_dirty = 0;
    s->cap_dirty = 0;
    int rc = 0;
    if (n > 0) {
        s->stats.iterations++;
        s->stats.ready_peers += n;
        for (size_t i = 0; i < n; i++) {
            on_role(busy[i]);
        }
        bool sync = false;
        for (size_t i = 0; i < n; i++) {
            sync = sync || busy[i]->rd.must_sync;
        }
        /* With send_before_sync the leader's appends leave before its own fsync, so followers
         * persist in parallel with it. An iteration that syncs nothing has nothing to overlap:
         * its messages (commit-index broadcasts, heartbeats) are encoded before advance (they
         * are borrowed until then) but handed to the transport only at the end, after the
         * answers — a send costs tens of microseconds per store, and the client waits for the
         * answer, not for the followers to learn the commit index. */
        if (s->cfg.send_before_sync) {
            for (size_t i = 0; i < n; i++) {
                send_msgs(busy[i], busy[i]->rd.msgs_early, busy[i]->rd.n_msgs_early);
            }
            if (sync) {
                rs_flush_outboxes(s);
            }
        }
        rc = persist_all(s, busy, n);
        if (rc == 0) {
            for (size_t i = 0; i < n; i++) {
                if (!s->cfg.send_before_sync) {
                    send_msgs(busy[i], busy[i]->rd.msgs_early, busy[i]->rd.n_msgs_early);
                }
                send_msgs(busy[i], busy[i]->rd.msgs, busy[i]->rd.n_msgs);
            }
            /* Append and vote responses (durable promises, now kept) go before the apply: the
             * leader waits for them. */
            if (sync || !s->cfg.send_before_sync) {
                rs_flush_outboxes(s);
            }
            rc = apply_all(s, busy, n);
        }
        if (rc == 0) {
            for (size_t i = 0; i < n; i++) {
                rs_apply_finish(busy[i]);
            }
            for (size_t i = 0; i < n; i++) {
                (void)cm_raft_advance(busy[i]->raft, &busy[i]->rd);
                busy[i]->has_rd = false;
            }
            after_advance(s, busy, n);
        }
    }
    clear_pending_ranges(s);
    free_graveyard(s);
    free(busy);
    rs_flush_outboxes(s);
    s->in_process = false;
    return rc;
}
