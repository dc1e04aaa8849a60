/*
 * kv_rs_peer.c — one peer (one replica of one region): creation, recovery from the engine,
 * destruction, and its Raft storage on the engine's raft column family (docs/raftstore.md):
 * the storage callbacks the Raft core reads through, persisting a ready into the loop's batch,
 * installing a received snapshot, generating one for a follower, and log GC.
 *
 * The peer mirrors in memory what the engine holds (hard state, truncation point, last index,
 * apply state, region state); the mirror changes only together with a batch that carries the
 * same change, so the Raft core, which reads storage only between readies, always sees what is
 * written.
 */
#include "kv_rs_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- storage callbacks ---------------------------------------------------------------------- */

static int st_initial_state(void *ctx, cm_raft_hard_state *hs, cm_raft_conf *conf)
{
    rs_peer *p = ctx;
    *hs = p->rs.hs;
    *conf = p->rs.trunc_conf;
    return 0;
}

static uint64_t st_first_index(void *ctx)
{
    rs_peer *p = ctx;
    return p->rs.trunc_index + 1;
}

static uint64_t st_last_index(void *ctx)
{
    rs_peer *p = ctx;
    return p->last_index;
}

static int read_entry(rs_peer *p, uint64_t index, cm_buf *val, cm_raft_entry *e)
{
    uint8_t key[KV_RS_LOG_KEY_LEN];
    kv_rs_key_log(p->region_id, index, key);
    cm_err err;
    int rc =
        kv_engine_get(p->store->env.engine, KV_CF_RAFT, cm_slice_make(key, sizeof(key)), val, &err);
    if (rc == CM_E_NOT_FOUND) {
        CM_ERROR(RS_COMPONENT, "region=%llu log entry %llu missing (first %llu last %llu)",
                 (unsigned long long)p->region_id, (unsigned long long)index,
                 (unsigned long long)p->rs.trunc_index + 1, (unsigned long long)p->last_index);
        return CM_E_CORRUPT;
    }
    if (rc != 0) {
        return rc;
    }
    return kv_rs_entry_decode(cm_buf_slice(val), index, e, &err);
}

static int st_term(void *ctx, uint64_t index, uint64_t *term)
{
    rs_peer *p = ctx;
    if (index == p->rs.trunc_index) {
        *term = p->rs.trunc_term;
        return 0;
    }
    if (index < p->rs.trunc_index) {
        return CM_E_NOT_FOUND;
    }
    if (index > p->last_index) {
        return CM_E_UNAVAILABLE;
    }
    if (index == p->last_index) {
        *term = p->last_term;
        return 0;
    }
    cm_buf val = CM_BUF_INIT;
    cm_raft_entry e;
    int rc = read_entry(p, index, &val, &e);
    if (rc == 0) {
        *term = e.term;
    }
    cm_buf_fini(&val);
    return rc;
}

static int st_entries(void *ctx, uint64_t lo, uint64_t hi, uint64_t max_bytes, cm_arena *arena,
                      cm_raft_entry **out, size_t *n_out)
{
    rs_peer *p = ctx;
    *out = NULL;
    *n_out = 0;
    if (lo <= p->rs.trunc_index) {
        return CM_E_NOT_FOUND;
    }
    if (hi > p->last_index + 1 || lo >= hi) {
        return CM_E_UNAVAILABLE;
    }
    size_t cap = (size_t)(hi - lo);
    cm_raft_entry *v = cm_arena_alloc(arena, cap * sizeof(*v));
    if (v == NULL) {
        return CM_E_NOMEM;
    }
    cm_buf val = CM_BUF_INIT;
    uint64_t bytes = 0;
    size_t n = 0;
    int rc = 0;
    for (uint64_t i = lo; i < hi; i++) {
        cm_raft_entry e;
        rc = read_entry(p, i, &val, &e);
        if (rc != 0) {
            break;
        }
        uint64_t sz = cm_raft_entry_size(&e);
        if (max_bytes != 0 && n > 0 && bytes + sz > max_bytes) {
            break;
        }
        bytes += sz;
        if (e.data.len > 0) {
            void *d = cm_arena_memdup(arena, e.data.ptr, e.data.len);
            if (d == NULL) {
                rc = CM_E_NOMEM;
                break;
            }
            e.data = cm_slice_make(d, e.data.len);
        }
        v[n++] = e;
    }
    cm_buf_fini(&val);
    if (rc != 0) {
        return rc;
    }
    *out = v;
    *n_out = n;
    return 0;
}

/* Scans [start, end) of every data CF in snap into the snapshot payload. */
static int snap_collect(kv_snapshot *snap, const kv_region *r, cm_buf *out)
{
    static const kv_cf cfs[] = {KV_CF_DEFAULT, KV_CF_LOCK, KV_CF_WRITE};
    for (size_t i = 0; i < CM_ARRAY_LEN(cfs); i++) {
        kv_iter_opts o = {kv_region_start(r), kv_region_end(r)};
        kv_iter *it;
        int rc = kv_iter_new(snap, cfs[i], &o, &it, NULL);
        if (rc != 0) {
            return rc;
        }
        for (kv_iter_seek_to_first(it); rc == 0 && kv_iter_valid(it); kv_iter_next(it)) {
            rc = kv_rs_snap_add(out, cfs[i], kv_iter_key(it), kv_iter_value(it));
            if (rc == 0 && out->len > KV_RS_SNAPSHOT_BYTES_MAX) {
                rc = CM_E_TOO_LARGE;
            }
        }
        if (rc == 0) {
            rc = kv_iter_status(it, NULL);
        }
        kv_iter_free(it);
        if (rc != 0) {
            return rc;
        }
    }
    return kv_rs_snap_finish(out);
}

/* The application's state at its applied index: region state plus every data key in range.
 * Generated synchronously (docs/raftstore.md, "snapshots": the weak spot for huge regions). */
static int st_snapshot(void *ctx, cm_arena *arena, cm_raft_snapshot *out)
{
    rs_peer *p = ctx;
    memset(out, 0, sizeof(*out));
    if (!p->initialized) {
        return CM_E_BUSY;
    }
    kv_snapshot *snap;
    int rc = kv_engine_snapshot(p->store->env.engine, &snap, NULL);
    if (rc != 0) {
        return rc;
    }
    cm_buf data = CM_BUF_INIT;
    rc = kv_rs_snap_begin(&p->st, &data);
    if (rc == 0) {
        rc = snap_collect(snap, &p->st.region, &data);
    }
    kv_snapshot_release(snap);
    if (rc == 0) {
        void *d = cm_arena_memdup(arena, data.ptr, data.len);
        if (d == NULL) {
            rc = CM_E_NOMEM;
        } else {
            out->data = cm_slice_make(d, data.len);
            out->meta.index = p->apply.applied_index;
            out->meta.term = p->apply.applied_term;
            kv_region_conf(&p->st.region, &out->meta.conf);
        }
    }
    cm_buf_fini(&data);
    if (rc != 0) {
        CM_WARN(RS_COMPONENT, "region=%llu snapshot not generated: %s",
                (unsigned long long)p->region_id, cm_err_name(rc));
        return rc == CM_E_NOMEM ? rc : CM_E_BUSY;
    }
    return 0;
}

const cm_raft_storage_ops rs_storage_ops = {
    .initial_state_cb = st_initial_state,
    .first_index_cb = st_first_index,
    .last_index_cb = st_last_index,
    .term_cb = st_term,
    .entries_cb = st_entries,
    .snapshot_cb = st_snapshot,
};

/* ---- state writes --------------------------------------------------------------------------- */

static int put_meta(kv_raftstore *s, kv_batch *b, uint64_t region_id, uint8_t suffix)
{
    uint8_t key[KV_RS_META_KEY_LEN];
    kv_rs_key_meta(region_id, suffix, key);
    return kv_batch_put(b, KV_CF_RAFT, cm_slice_make(key, sizeof(key)), cm_buf_slice(&s->scratch));
}

int rs_peer_put_region_state(rs_peer *p, kv_batch *b)
{
    kv_raftstore *s = p->store;
    cm_buf_reset(&s->scratch);
    int rc = kv_rs_region_state_encode(&p->st, &s->scratch);
    return rc ? rc : put_meta(s, b, p->region_id, KV_RS_SUFFIX_REGION_STATE);
}

int rs_peer_put_apply_state(rs_peer *p, kv_batch *b)
{
    kv_raftstore *s = p->store;
    cm_buf_reset(&s->scratch);
    int rc = kv_rs_apply_state_encode(&p->apply, &s->scratch);
    return rc ? rc : put_meta(s, b, p->region_id, KV_RS_SUFFIX_APPLY_STATE);
}

int rs_peer_put_raft_state(rs_peer *p, kv_batch *b)
{
    kv_raftstore *s = p->store;
    cm_buf_reset(&s->scratch);
    int rc = kv_rs_raft_state_encode(&p->rs, &s->scratch);
    return rc ? rc : put_meta(s, b, p->region_id, KV_RS_SUFFIX_RAFT_STATE);
}

int rs_delete_data_range(kv_engine *e, kv_batch *b, cm_slice start, cm_slice end)
{
    static const kv_cf cfs[] = {KV_CF_DEFAULT, KV_CF_LOCK, KV_CF_WRITE};
    static const uint8_t ff = 0xFF;
    int rc = 0;
    if (end.len > 0) {
        for (size_t i = 0; rc == 0 && i < CM_ARRAY_LEN(cfs) && cm_slice_cmp(start, end) < 0; i++) {
            rc = kv_batch_delete_range(b, cfs[i], start, end);
        }
        return rc;
    }
    /* delete_range needs a finite end: [start, "\xff") by range, then the keys from "\xff" on
     * (none in practice: encoded user keys start with a type flag) one by one. */
    cm_slice mid = cm_slice_make(&ff, 1);
    for (size_t i = 0; rc == 0 && i < CM_ARRAY_LEN(cfs); i++) {
        if (cm_slice_cmp(start, mid) < 0) {
            rc = kv_batch_delete_range(b, cfs[i], start, mid);
        }
    }
    kv_snapshot *snap = NULL;
    rc = rc ? rc : kv_engine_snapshot(e, &snap, NULL);
    for (size_t i = 0; rc == 0 && i < CM_ARRAY_LEN(cfs); i++) {
        kv_iter_opts o = {cm_slice_cmp(start, mid) < 0 ? mid : start, cm_slice_make(NULL, 0)};
        kv_iter *it;
        rc = kv_iter_new(snap, cfs[i], &o, &it, NULL);
        if (rc != 0) {
            break;
        }
        for (kv_iter_seek_to_first(it); rc == 0 && kv_iter_valid(it); kv_iter_next(it)) {
            rc = kv_batch_delete(b, cfs[i], kv_iter_key(it));
        }
        kv_iter_free(it);
    }
    kv_snapshot_release(snap);
    return rc;
}

static int delete_log(rs_peer *p, kv_batch *b, uint64_t from, uint64_t to_excl)
{
    if (from >= to_excl) {
        return 0;
    }
    uint8_t k1[KV_RS_LOG_KEY_LEN], k2[KV_RS_LOG_KEY_LEN];
    kv_rs_key_log(p->region_id, from, k1);
    kv_rs_key_log(p->region_id, to_excl, k2);
    return kv_batch_delete_range(b, KV_CF_RAFT, cm_slice_make(k1, sizeof(k1)),
                                 cm_slice_make(k2, sizeof(k2)));
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

bool rs_peer_is_leader(const rs_peer *p)
{
    cm_raft_status st;
    cm_raft_status_get(p->raft, &st);
    return st.role == CM_RAFT_LEADER;
}

uint64_t rs_peer_leader_id(const rs_peer *p)
{
    cm_raft_status st;
    cm_raft_status_get(p->raft, &st);
    return st.lead;
}

uint64_t rs_peer_store_of(const rs_peer *p, uint64_t peer_id)
{
    const kv_peer *kp = kv_region_peer(&p->st.region, peer_id);
    if (kp != NULL) {
        return kp->store_id;
    }
    for (size_t i = 0; i < p->st.n_pending; i++) {
        if (p->st.pending[i].peer.id == peer_id) {
            return p->st.pending[i].peer.store_id;
        }
    }
    void *v = rs_map_get(&p->store->peer_stores, peer_id);
    return (uint64_t)(uintptr_t)v;
}

void rs_peer_leader(const rs_peer *p, kv_peer *out)
{
    memset(out, 0, sizeof(*out));
    uint64_t lead = rs_peer_leader_id(p);
    if (lead == 0) {
        return;
    }
    const kv_peer *kp = kv_region_peer(&p->st.region, lead);
    if (kp != NULL) {
        *out = *kp;
    } else {
        out->id = lead;
        out->store_id = rs_peer_store_of(p, lead);
    }
}

int rs_peer_create(kv_raftstore *s, const kv_rs_region_state *st, const kv_rs_raft_state *rst,
                   const kv_rs_apply_state *ast, uint64_t last_index, uint64_t last_term,
                   bool fresh_start, rs_peer **out, cm_err *err)
{
    *out = NULL;
    rs_peer *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "raftstore: out of memory");
    }
    p->store = s;
    p->region_id = st->region.id;
    p->peer_id = st->peer_id;
    kv_rs_region_state_init(&p->st);
    if (kv_region_copy(&p->st.region, &st->region) != 0) {
        rs_peer_free(p);
        return cm_err_set(err, CM_E_NOMEM, "raftstore: out of memory");
    }
    p->st.state = KV_RS_PEER_NORMAL;
    p->st.peer_id = st->peer_id;
    p->st.n_pending = st->n_pending;
    memcpy(p->st.pending, st->pending, sizeof(p->st.pending));
    p->initialized = st->region.n_peers > 0;
    p->rs = *rst;
    p->apply = *ast;
    p->last_index = last_index;
    p->last_term = last_term;

    cm_raft_config rc;
    cm_raft_config_default(&rc);
    rc.id = p->peer_id;
    rc.election_tick = s->cfg.election_tick;
    rc.heartbeat_tick = s->cfg.heartbeat_tick;
    rc.pre_vote = true;
    rc.check_quorum = true;
    rc.lease_read = s->cfg.lease_read;
    rc.tick_ns = s->cfg.tick_ns;
    rc.drift_ppm = s->cfg.drift_ppm;
    rc.max_msg_bytes = s->cfg.max_msg_bytes;
    rc.max_inflight = s->cfg.max_inflight;
    rc.max_apply_bytes = s->cfg.max_apply_bytes;
    rc.applied = p->apply.applied_index;
    rc.fresh_start = fresh_start;
    rc.storage = &rs_storage_ops;
    rc.storage_ctx = p;
    rc.rand_cb = s->env.rand_cb;
    rc.rand_ctx = s->env.ctx;
    rc.clock_ns_cb = s->env.clock_ns_cb;
    rc.clock_ctx = s->env.ctx;
    int r = cm_raft_new(&rc, &p->raft, err);
    if (r != 0) {
        rs_peer_free(p);
        return r;
    }
    r = rs_map_put(&s->peers, p->region_id, p);
    if (r == 0 && p->initialized) {
        r = rs_range_insert(s, p);
        if (r != 0) {
            rs_map_del(&s->peers, p->region_id);
        }
    }
    if (r != 0) {
        rs_peer_free(p);
        return cm_err_set(err, r, "raftstore: out of memory");
    }
    free(rs_map_del(&s->tombs, p->region_id));
    rs_mark_dirty(p);
    *out = p;
    return 0;
}

static int load_meta(kv_raftstore *s, uint64_t region_id, uint8_t suffix, cm_buf *val)
{
    uint8_t key[KV_RS_META_KEY_LEN];
    kv_rs_key_meta(region_id, suffix, key);
    return kv_engine_get(s->env.engine, KV_CF_RAFT, cm_slice_make(key, sizeof(key)), val, NULL);
}

/* The last log entry of the region on disk (index 0 when the log is empty). */
static int load_last(kv_raftstore *s, uint64_t region_id, uint64_t *index, uint64_t *term,
                     cm_err *err)
{
    *index = 0;
    *term = 0;
    uint8_t lo[KV_RS_LOG_KEY_LEN], hi[KV_RS_LOG_KEY_LEN];
    kv_rs_key_log(region_id, 0, lo);
    kv_rs_key_log(region_id, UINT64_MAX, hi);
    kv_snapshot *snap;
    int rc = kv_engine_snapshot(s->env.engine, &snap, err);
    if (rc != 0) {
        return rc;
    }
    kv_iter_opts o = {cm_slice_make(lo, sizeof(lo)), cm_slice_make(hi, sizeof(hi))};
    kv_iter *it;
    rc = kv_iter_new(snap, KV_CF_RAFT, &o, &it, err);
    if (rc == 0) {
        kv_iter_seek_to_last(it);
        if (kv_iter_valid(it)) {
            uint8_t kind, suffix;
            uint64_t rid;
            cm_raft_entry e;
            rc = kv_rs_key_parse(kv_iter_key(it), &kind, &rid, &suffix, index);
            if (rc == 0) {
                rc = kv_rs_entry_decode(kv_iter_value(it), *index, &e, err);
            }
            if (rc == 0) {
                *term = e.term;
            }
        } else {
            rc = kv_iter_status(it, err);
        }
        kv_iter_free(it);
    }
    kv_snapshot_release(snap);
    return rc;
}

int rs_peer_load(kv_raftstore *s, const kv_rs_region_state *st, cm_err *err)
{
    uint64_t id = st->region.id;
    kv_rs_raft_state rst;
    kv_rs_apply_state ast;
    memset(&rst, 0, sizeof(rst));
    memset(&ast, 0, sizeof(ast));
    cm_buf val = CM_BUF_INIT;
    int rc = load_meta(s, id, KV_RS_SUFFIX_RAFT_STATE, &val);
    if (rc == 0) {
        rc = kv_rs_raft_state_decode(cm_buf_slice(&val), &rst, err);
    } else if (rc == CM_E_NOT_FOUND) {
        rc = 0; /* an uninitialized peer that never persisted a hard state */
    }
    bool initialized = st->region.n_peers > 0;
    if (rc == 0) {
        rc = load_meta(s, id, KV_RS_SUFFIX_APPLY_STATE, &val);
        if (rc == 0) {
            rc = kv_rs_apply_state_decode(cm_buf_slice(&val), &ast, err);
        } else if (rc == CM_E_NOT_FOUND && !initialized) {
            rc = 0;
        }
    }
    cm_buf_fini(&val);
    uint64_t last = 0, last_term = 0;
    if (rc == 0) {
        rc = load_last(s, id, &last, &last_term, err);
    }
    if (rc != 0) {
        return cm_err_set(err, rc == CM_E_NOT_FOUND ? CM_E_CORRUPT : rc,
                          "raftstore: region %llu: state unreadable: %s", (unsigned long long)id,
                          err->code ? err->msg : cm_err_name(rc));
    }
    if (last == 0 || last < rst.trunc_index) {
        last = rst.trunc_index;
        last_term = rst.trunc_term;
    }
    if (ast.applied_index < rst.trunc_index || ast.applied_index > last ||
        (initialized && ast.applied_index == 0)) {
        return cm_err_set(err, CM_E_CORRUPT,
                          "raftstore: region %llu: applied %llu outside log [%llu, %llu]",
                          (unsigned long long)id, (unsigned long long)ast.applied_index,
                          (unsigned long long)rst.trunc_index, (unsigned long long)last);
    }
    rs_peer *p;
    return rs_peer_create(s, st, &rst, &ast, last, last_term, false, &p, err);
}

int rs_peer_create_uninit(kv_raftstore *s, uint64_t region_id, uint64_t peer_id, rs_peer **out)
{
    kv_rs_region_state st;
    kv_rs_region_state_init(&st);
    st.peer_id = peer_id;
    st.region.id = region_id;
    kv_rs_raft_state rst;
    kv_rs_apply_state ast;
    memset(&rst, 0, sizeof(rst));
    memset(&ast, 0, sizeof(ast));
    cm_err err;
    int rc = rs_peer_create(s, &st, &rst, &ast, 0, 0, true, out, &err);
    kv_rs_region_state_fini(&st);
    if (rc != 0) {
        CM_WARN(RS_COMPONENT, "store=%llu region=%llu: cannot create peer: %s",
                (unsigned long long)s->store_id, (unsigned long long)region_id, err.msg);
        return rc;
    }
    /* Persist the peer's existence so a vote it casts is never forgotten across a restart: its
     * hard state follows in a synced batch, after this write. */
    kv_batch b;
    kv_batch_init(&b);
    rc = rs_peer_put_region_state(*out, &b);
    if (rc == 0) {
        rc = rs_write(s, &b, false);
    }
    kv_batch_fini(&b);
    s->stats.peers_created++;
    CM_INFO(RS_COMPONENT, "store=%llu region=%llu peer=%llu created (uninitialized)",
            (unsigned long long)s->store_id, (unsigned long long)region_id,
            (unsigned long long)peer_id);
    return rc;
}

void rs_peer_free(rs_peer *p)
{
    if (p == NULL) {
        return;
    }
    cm_raft_free(p->raft);
    kv_rs_region_state_fini(&p->st);
    free(p->props);
    free(p->reads);
    free(p);
}

void rs_peer_destroy(rs_peer *p, int rc, const char *why)
{
    kv_raftstore *s = p->store;
    CM_ASSERT(!p->has_rd);
    CM_INFO(RS_COMPONENT, "store=%llu region=%llu peer=%llu destroyed: %s",
            (unsigned long long)s->store_id, (unsigned long long)p->region_id,
            (unsigned long long)p->peer_id, why);
    rs_fail_proposals(p, rc, why, true);
    rs_fail_reads(p, rc, why);
    if (p->conf_next.due && p->conf_next.cb != NULL) {
        rs_reply_simple(p->conf_next.cb, p->conf_next.user, p->region_id, rc, why);
    }
    p->conf_next.due = false;
    kv_batch b;
    kv_batch_init(&b);
    uint8_t key[KV_RS_META_KEY_LEN];
    int r = delete_log(p, &b, 0, UINT64_MAX);
    kv_rs_key_meta(p->region_id, KV_RS_SUFFIX_RAFT_STATE, key);
    r = r ? r : kv_batch_delete(&b, KV_CF_RAFT, cm_slice_make(key, sizeof(key)));
    kv_rs_key_meta(p->region_id, KV_RS_SUFFIX_APPLY_STATE, key);
    r = r ? r : kv_batch_delete(&b, KV_CF_RAFT, cm_slice_make(key, sizeof(key)));
    if (r == 0 && p->initialized) {
        rs_range_remove(s, p);
        /* Data in the range belongs to no other local region (ranges never overlap), unless a
         * newer peer already owns part of it — then leave the data alone. */
        if (rs_range_overlap(s, kv_region_start(&p->st.region), kv_region_end(&p->st.region), 0) ==
            NULL) {
            r = rs_delete_data_range(s->env.engine, &b, kv_region_start(&p->st.region),
                                     kv_region_end(&p->st.region));
        }
    }
    p->st.state = KV_RS_PEER_TOMBSTONE;
    r = r ? r : rs_peer_put_region_state(p, &b);
    if (r == 0) {
        (void)rs_write(s, &b, false);
    }
    kv_batch_fini(&b);
    rs_tomb *t = calloc(1, sizeof(*t));
    if (t != NULL) {
        t->peer_id = p->peer_id;
        t->epoch = p->st.region.epoch;
        rs_tomb *old = rs_map_get(&s->tombs, p->region_id);
        if (old != NULL) {
            rs_map_del(&s->tombs, p->region_id);
            free(old);
        }
        if (rs_map_put(&s->tombs, p->region_id, t) != 0) {
            free(t);
        }
    }
    rs_map_del(&s->peers, p->region_id);
    for (size_t i = 0; i < s->n_dirty; i++) {
        if (s->dirty[i] == p) {
            s->dirty[i] = s->dirty[--s->n_dirty];
            break;
        }
    }
    s->stats.peers_destroyed++;
    rs_peer_free(p);
}

/* ---- persisting a ready --------------------------------------------------------------------- */

int rs_snap_validate(uint64_t region_id, uint64_t peer_id, cm_slice data, kv_rs_region_state *st,
                     cm_err *err)
{
    kv_rs_snap_reader sr;
    int rc = kv_rs_snap_open(&sr, data, st, err);
    if (rc != 0) {
        return rc;
    }
    if (st->region.id != region_id || kv_region_peer(&st->region, peer_id) == NULL ||
        st->region.n_peers == 0) {
        return cm_err_set(err, CM_E_CORRUPT, "snapshot is for another region or peer");
    }
    for (;;) {
        kv_cf cf;
        cm_slice k, v;
        rc = kv_rs_snap_next(&sr, &st->region, &cf, &k, &v, err);
        if (rc <= 0) {
            return rc;
        }
    }
}

static int install_snapshot(rs_peer *p, const cm_raft_snapshot *snap)
{
    kv_raftstore *s = p->store;
    kv_batch *b = &s->wb;
    kv_rs_region_state st;
    kv_rs_region_state_init(&st);
    cm_err err;
    int rc = rs_snap_validate(p->region_id, p->peer_id, snap->data, &st, &err);
    if (rc != 0) {
        /* Checked when it arrived (kv_rs_msg.c); a failure here is a bug. */
        CM_ERROR(RS_COMPONENT, "region=%llu snapshot no longer valid: %s",
                 (unsigned long long)p->region_id, err.msg);
        kv_rs_region_state_fini(&st);
        return CM_E_INTERNAL;
    }
    if (p->initialized) {
        rc = rs_delete_data_range(s->env.engine, b, kv_region_start(&p->st.region),
                                  kv_region_end(&p->st.region));
    }
    rc = rc ? rc
            : rs_delete_data_range(s->env.engine, b, kv_region_start(&st.region),
                                   kv_region_end(&st.region));
    kv_rs_snap_reader sr;
    kv_rs_region_state tmp;
    kv_rs_region_state_init(&tmp);
    rc = rc ? rc : kv_rs_snap_open(&sr, snap->data, &tmp, &err);
    kv_rs_region_state_fini(&tmp);
    while (rc == 0) {
        kv_cf cf;
        cm_slice k, v;
        int n = kv_rs_snap_next(&sr, &st.region, &cf, &k, &v, &err);
        if (n <= 0) {
            rc = n;
            break;
        }
        rc = kv_batch_put(b, cf, k, v);
    }
    rc = rc ? rc : delete_log(p, b, 0, UINT64_MAX);
    if (rc != 0) {
        kv_rs_region_state_fini(&st);
        return rc;
    }
    /* The mirror moves with the batch. */
    if (p->initialized) {
        rs_range_remove(s, p);
    }
    rc = kv_region_copy(&p->st.region, &st.region);
    p->st.n_pending = st.n_pending;
    memcpy(p->st.pending, st.pending, sizeof(p->st.pending));
    kv_rs_region_state_fini(&st);
    if (rc != 0) {
        return rc;
    }
    p->initialized = true;
    rc = rs_range_insert(s, p);
    p->rs.trunc_index = snap->meta.index;
    p->rs.trunc_term = snap->meta.term;
    p->rs.trunc_conf = snap->meta.conf;
    if (p->rs.hs.commit < snap->meta.index) {
        p->rs.hs.commit = snap->meta.index;
    }
    p->last_index = snap->meta.index;
    p->last_term = snap->meta.term;
    p->apply.applied_index = snap->meta.index;
    p->apply.applied_term = snap->meta.term;
    rc = rc ? rc : rs_peer_put_region_state(p, b);
    rc = rc ? rc : rs_peer_put_apply_state(p, b);
    rc = rc ? rc : rs_peer_put_raft_state(p, b);
    s->stats.snapshots_applied++;
    p->approx_valid = false;
    CM_INFO(RS_COMPONENT, "store=%llu region=%llu peer=%llu installed snapshot at %llu/%llu",
            (unsigned long long)s->store_id, (unsigned long long)p->region_id,
            (unsigned long long)p->peer_id, (unsigned long long)snap->meta.index,
            (unsigned long long)snap->meta.term);
    return rc;
}

int rs_peer_persist(rs_peer *p)
{
    kv_raftstore *s = p->store;
    const cm_raft_ready *rd = &p->rd;
    int rc = 0;
    bool raft_state = false;
    if (rd->snapshot != NULL) {
        rc = install_snapshot(p, rd->snapshot);
        raft_state = true;
    }
    if (rc == 0 && rd->n_entries > 0) {
        cm_buf *v = &s->scratch;
        uint8_t key[KV_RS_LOG_KEY_LEN];
        /* The new entries attach to the log (raft never leaves a gap). */
        CM_ASSERT(rd->entries[0].index <= p->last_index + 1);
        for (size_t i = 0; rc == 0 && i < rd->n_entries; i++) {
            const cm_raft_entry *e = &rd->entries[i];
            CM_ASSERT(e->index > p->rs.trunc_index);
            cm_buf_reset(v);
            kv_rs_key_log(p->region_id, e->index, key);
            rc = kv_rs_entry_encode(e, v);
            rc = rc ? rc
                    : kv_batch_put(&s->wb, KV_CF_RAFT, cm_slice_make(key, sizeof(key)),
                                   cm_buf_slice(v));
        }
        const cm_raft_entry *last = &rd->entries[rd->n_entries - 1];
        if (rc == 0 && p->last_index > last->index) {
            /* A leader overwrote our tail: what followed the new entries is gone too. */
            rc = delete_log(p, &s->wb, last->index + 1, p->last_index + 1);
        }
        p->last_index = last->index;
        p->last_term = last->term;
    }
    if (rc == 0 && rd->hard_state_changed) {
        p->rs.hs = rd->hard_state;
        raft_state = true;
    }
    if (rc == 0 && raft_state) {
        rc = rs_peer_put_raft_state(p, &s->wb);
    }
    return rc;
}

/* ---- log GC --------------------------------------------------------------------------------- */

/* Where the log may be cut: what is applied, held back (as a leader) by followers that are
 * within log_gc_lag_max of it — followers further behind get a snapshot. */
static uint64_t compact_target(rs_peer *p)
{
    uint64_t applied = p->apply.applied_index;
    uint64_t target = applied;
    cm_raft_status st;
    cm_raft_status_get(p->raft, &st);
    if (st.role == CM_RAFT_LEADER) {
        const cm_raft_conf *c = &st.conf;
        for (size_t i = 0; i < (size_t)c->n_voters + c->n_learners; i++) {
            uint64_t id = i < c->n_voters ? c->voters[i] : c->learners[i - c->n_voters];
            cm_raft_progress_info pi;
            if (id == p->peer_id || cm_raft_progress_of(p->raft, id, &pi) != 0) {
                continue;
            }
            if (pi.match < target && applied - pi.match <= p->store->cfg.log_gc_lag_max) {
                target = pi.match;
            }
        }
    }
    return target;
}

int rs_peer_compact(rs_peer *p, kv_batch *b)
{
    kv_raftstore *s = p->store;
    if (!p->initialized || p->has_rd) {
        return 0;
    }
    uint64_t trunc = p->rs.trunc_index;
    if (p->apply.applied_index < trunc + s->cfg.log_gc_threshold) {
        return 0;
    }
    uint64_t target = compact_target(p);
    if (target <= trunc || target < trunc + s->cfg.log_gc_threshold / 2) {
        return 0;
    }
    /* The configuration at the new truncation point: the old one plus every conf entry up to
     * it, in order (what raft_conf_load will add the later ones to). */
    cm_raft_conf conf = p->rs.trunc_conf;
    uint64_t term = 0;
    cm_buf val = CM_BUF_INIT;
    int rc = 0;
    for (uint64_t i = trunc + 1; rc == 0 && i <= target; i++) {
        cm_raft_entry e;
        rc = read_entry(p, i, &val, &e);
        if (rc != 0) {
            break;
        }
        if (e.type == CM_RAFT_ENTRY_CONF) {
            cm_raft_conf_change cc;
            if (cm_raft_conf_change_decode(e.data, &cc) == 0) {
                (void)cm_raft_conf_apply(&conf, &cc);
            }
        }
        term = e.term;
    }
    cm_buf_fini(&val);
    if (rc != 0) {
        return rc;
    }
    rc = delete_log(p, b, trunc + 1, target + 1);
    if (rc != 0) {
        return rc;
    }
    p->rs.trunc_index = target;
    p->rs.trunc_term = term;
    p->rs.trunc_conf = conf;
    s->stats.log_compactions++;
    return rs_peer_put_raft_state(p, b);
}
