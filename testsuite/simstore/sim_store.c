/*
 * sim_store.c — the store simulator (sim_store.h). One thread, one PRNG, simulated time.
 *
 * Time advances from event to event: message deliveries (each message gets its own delay, so
 * messages reorder), client actions, and ticks (every TICK_NS: the stores' timers, the simulated
 * PD, faults, client timeouts). After every event the stores run their loop until they are
 * quiet, then the checkers look at what they can see.
 */
#include "sim_store.h"

#include "sim_int.h"
#include "sim_oracle.h"

#include "kv_memengine.h"
#include "kv_raftstore.h"
#include "kv_rs_codec.h"

#include "cm_assert.h"
#include "cm_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sim_fail(sim *s, const char *check, const char *fmt, ...)
{
    if (s->failed) {
        return;
    }
    s->failed = true;
    s->res->ok = false;
    snprintf(s->res->check, sizeof(s->res->check), "%s", check);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->res->why, sizeof(s->res->why), fmt, ap);
    va_end(ap);
}

void sim_trace(sim *s, const char *fmt, ...)
{
    if (!s->o->trace) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    printf("[%8.3f] ", (double)s->now / 1e9);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

void sim_hash_in(sim *s, uint64_t v)
{
    s->res->trace_hash = sim_mix(s->res->trace_hash, v);
}

/* ---- small tables --------------------------------------------------------------------------- */

static region_rec *region_slot(sim *s, uint64_t id, bool create)
{
    for (size_t i = 0; i < s->n_regions; i++) {
        if (s->regions[i].id == id) {
            return &s->regions[i];
        }
    }
    if (!create || s->n_regions == SIM_REGIONS_MAX) {
        return NULL;
    }
    region_rec *r = &s->regions[s->n_regions++];
    memset(r, 0, sizeof(*r));
    r->id = id;
    return r;
}

static size_t region_index(sim *s, uint64_t id)
{
    region_rec *r = region_slot(s, id, true);
    return r == NULL ? 0 : (size_t)(r - s->regions);
}

static void set_peer_store(sim *s, uint64_t peer, uint64_t store)
{
    if (peer < CM_ARRAY_LEN(s->peer_store)) {
        s->peer_store[peer] = store;
    }
}

static uint64_t peer_store(sim *s, uint64_t peer)
{
    return peer < CM_ARRAY_LEN(s->peer_store) ? s->peer_store[peer] : 0;
}

static void conf_push(sim *s, uint64_t region, uint64_t index, const uint64_t *voters, size_t n)
{
    region_rec *r = region_slot(s, region, true);
    if (r == NULL) {
        return;
    }
    if (r->n_confs > 0 && r->confs[r->n_confs - 1].index >= index) {
        return; /* already recorded by the first store to apply it */
    }
    if (r->n_confs == SIM_CONFS_MAX) {
        memmove(&r->confs[0], &r->confs[1], (SIM_CONFS_MAX - 1) * sizeof(r->confs[0]));
        r->n_confs--;
    }
    conf_rec *c = &r->confs[r->n_confs++];
    c->index = index;
    c->n = (uint8_t)n;
    memcpy(c->voters, voters, n * sizeof(*voters));
}

/* Generic open-addressing helpers over the record arrays. */
static size_t h2(uint64_t a, uint64_t b, size_t cap)
{
    uint64_t x = a * 0x9e3779b97f4a7c15ull ^ b * 0xc2b2ae3d27d4eb4full;
    x ^= x >> 31;
    return (size_t)x & (cap - 1);
}

/* The record keyed (a, b) in t, inserted zeroed but for its key when missing; the table grows
 * (from first_cap records) to stay at most half full. */
static uint64_t *rec_get(rec_table *t, uint64_t a, uint64_t b, size_t first_cap)
{
    const size_t w = t->words;
    if ((t->n + 1) * 2 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : first_cap;
        uint64_t *v = calloc(cap * w, sizeof(*v));
        if (v == NULL) {
            abort();
        }
        for (size_t i = 0; i < t->cap; i++) {
            const uint64_t *r = &t->v[i * w];
            if (r[1] != 0) {
                size_t j = h2(r[0], r[1], cap);
                while (v[j * w + 1] != 0) {
                    j = (j + 1) & (cap - 1);
                }
                memcpy(&v[j * w], r, w * sizeof(*v));
            }
        }
        free(t->v);
        t->v = v;
        t->cap = cap;
    }
    size_t j = h2(a, b, t->cap);
    uint64_t *r = &t->v[j * w];
    while (r[1] != 0 && (r[0] != a || r[1] != b)) {
        j = (j + 1) & (t->cap - 1);
        r = &t->v[j * w];
    }
    if (r[1] == 0) {
        r[0] = a;
        r[1] = b;
        t->n++;
    }
    return r;
}

static applied_rec *applied_get(sim *s, uint64_t region, uint64_t index)
{
    return (applied_rec *)rec_get(&s->applied, region, index, 4096);
}

static leader_rec *leader_get(sim *s, uint64_t region, uint64_t term)
{
    return (leader_rec *)rec_get(&s->leaders, region, term, 256);
}

static range_rec *range_get(sim *s, uint64_t region, uint64_t version)
{
    return (range_rec *)rec_get(&s->ranges, region, version, 256);
}

/* ---- network -------------------------------------------------------------------------------- */

static bool msg_less(const net_msg *a, const net_msg *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void heap_push(sim *s, net_msg *m)
{
    if (s->nheap == s->capheap) {
        s->capheap = s->capheap ? s->capheap * 2 : 256;
        s->heap = realloc(s->heap, s->capheap * sizeof(*s->heap));
        if (s->heap == NULL) {
            abort();
        }
    }
    size_t i = s->nheap++;
    s->heap[i] = m;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!msg_less(s->heap[i], s->heap[p])) {
            break;
        }
        net_msg *t = s->heap[i];
        s->heap[i] = s->heap[p];
        s->heap[p] = t;
        i = p;
    }
}

static net_msg *heap_pop(sim *s)
{
    net_msg *top = s->heap[0];
    s->heap[0] = s->heap[--s->nheap];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->nheap && msg_less(s->heap[l], s->heap[m])) {
            m = l;
        }
        if (r < s->nheap && msg_less(s->heap[r], s->heap[m])) {
            m = r;
        }
        if (m == i) {
            break;
        }
        net_msg *t = s->heap[i];
        s->heap[i] = s->heap[m];
        s->heap[m] = t;
        i = m;
    }
    return top;
}

static void enqueue(sim *s, int from, int to, uint32_t method, cm_slice payload)
{
    net_msg *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        abort();
    }
    m->at = s->now + 100000 + sim_rng_below(&s->r, s->delay_max_ns);
    m->seq = ++s->seq;
    m->from = (uint8_t)from;
    m->to = (uint8_t)to;
    m->method = method;
    cm_buf_init(&m->payload);
    if (cm_buf_append_slice(&m->payload, payload) != 0) {
        abort();
    }
    heap_push(s, m);
}

static int net_send(void *ctx, uint64_t to_store, uint32_t method, cm_slice payload)
{
    node *nd = ctx;
    sim *s = nd->s;
    if (to_store == 0 || to_store > s->n) {
        return CM_E_INVALID;
    }
    int to = (int)to_store - 1;
    if (s->cut[nd->idx][to] || !s->nodes[to].up) {
        s->res->cov.msgs_dropped++;
        return 0;
    }
    if (sim_rng_chance(&s->r, s->drop_ppm)) {
        s->res->cov.msgs_dropped++;
        return 0;
    }
    enqueue(s, nd->idx, to, method, payload);
    if (sim_rng_chance(&s->r, s->dup_ppm)) {
        s->res->cov.msgs_duplicated++;
        enqueue(s, nd->idx, to, method, payload);
    }
    return 0;
}

/* ---- environment callbacks ------------------------------------------------------------------ */

static uint64_t env_rand(void *ctx)
{
    node *nd = ctx;
    return sim_rng_next(&nd->s->r);
}

/* A store's clock runs at its own rate: true time scaled by (1 + skew). */
static uint64_t node_clock(const node *nd, uint64_t t)
{
    return (uint64_t)((int64_t)t + (int64_t)((__int128)t * nd->skew_ppm / 1000000));
}

static uint64_t env_clock(void *ctx)
{
    node *nd = ctx;
    return node_clock(nd, nd->s->now);
}

/* True time of the store's next timer tick: a fast clock ticks more often. */
static uint64_t tick_period(const node *nd)
{
    return (uint64_t)((__int128)TICK_NS * 1000000 / (1000000 + nd->skew_ppm));
}

static int env_alloc(void *ctx, size_t n, uint64_t *ids, cm_err *err)
{
    (void)err;
    node *nd = ctx;
    for (size_t i = 0; i < n; i++) {
        ids[i] = nd->s->next_id++;
    }
    return 0;
}

static void on_split_applied(sim *s, node *nd, uint64_t region, uint64_t index, cm_slice data)
{
    kv_rs_cmd c;
    if (kv_rs_cmd_decode(data, &c, NULL) != 0 || c.kind != KV_RS_CMD_SPLIT) {
        return;
    }
    kv_region parent;
    kv_region_init(&parent);
    if (kv_raftstore_region(nd->rs, region, &parent, NULL) == 0 &&
        parent.epoch.version == c.epoch.version + 1 &&
        cm_slice_eq(kv_region_end(&parent), c.split_key) && parent.n_peers == c.n_new_peers) {
        uint64_t voters[KV_REGION_PEERS_MAX];
        size_t nv = 0;
        for (size_t i = 0; i < parent.n_peers; i++) {
            set_peer_store(s, c.new_peer_ids[i], parent.peers[i].store_id);
            if (parent.peers[i].role == KV_PEER_VOTER) {
                voters[nv++] = c.new_peer_ids[i];
            }
        }
        conf_push(s, c.new_region_id, KV_RS_INIT_INDEX, voters, nv);
    }
    (void)index;
    kv_region_fini(&parent);
}

static void on_conf_applied(sim *s, uint64_t region, uint64_t index, cm_slice data)
{
    cm_raft_conf_change cc;
    region_rec *r = region_slot(s, region, true);
    if (r == NULL || cm_raft_conf_change_decode(data, &cc) != 0 || r->n_confs == 0) {
        return;
    }
    const conf_rec *last = &r->confs[r->n_confs - 1];
    if (last->index >= index) {
        return;
    }
    uint64_t v[KV_REGION_PEERS_MAX];
    size_t n = 0;
    for (size_t i = 0; i < last->n; i++) {
        if (last->voters[i] != cc.node) {
            v[n++] = last->voters[i];
        }
    }
    if (cc.op == CM_RAFT_CONF_ADD_VOTER && n < KV_REGION_PEERS_MAX) {
        v[n++] = cc.node;
    } else if (cc.op == CM_RAFT_CONF_ADD_LEARNER) {
        /* a learner is no voter; adding one never turns a voter into a learner */
        for (size_t i = 0; i < last->n; i++) {
            if (last->voters[i] == cc.node) {
                v[n++] = cc.node;
            }
        }
    }
    conf_push(s, region, index, v, n);
}

/* State-machine safety: every store applies the same entry at each index of a region, each
 * index at most once per incarnation. */
static void env_applied(void *ctx, uint64_t region, uint64_t index, uint64_t term, uint8_t type,
                        cm_slice data)
{
    node *nd = ctx;
    sim *s = nd->s;
    uint64_t h = sim_mix(fnv(data.ptr, data.len), type);
    applied_rec *a = applied_get(s, region, index);
    if (a->term == 0) {
        a->term = term;
        a->hash = h;
    } else if (a->term != term || a->hash != h) {
        sim_fail(s, "state-machine-safety",
                 "store %llu applied region %llu index %llu term %llu, another store applied term "
                 "%llu (or other data) there",
                 (unsigned long long)nd->id, (unsigned long long)region, (unsigned long long)index,
                 (unsigned long long)term, (unsigned long long)a->term);
    }
    size_t slot = region_index(s, region);
    if (index <= nd->last_applied[slot]) {
        sim_fail(s, "apply-once", "store %llu applied region %llu index %llu after %llu",
                 (unsigned long long)nd->id, (unsigned long long)region, (unsigned long long)index,
                 (unsigned long long)nd->last_applied[slot]);
    }
    nd->last_applied[slot] = index;
    if (type == CM_RAFT_ENTRY_CONF) {
        on_conf_applied(s, region, index, data);
    } else if (data.len > 1 && data.ptr[1] == KV_RS_CMD_SPLIT) {
        on_split_applied(s, nd, region, index, data);
    }
}

/* ---- nodes ---------------------------------------------------------------------------------- */

static void node_open(sim *s, node *nd)
{
    kv_raftstore_env env;
    memset(&env, 0, sizeof(env));
    env.engine = nd->eng;
    env.ctx = nd;
    env.send_cb = net_send;
    env.clock_ns_cb = env_clock;
    env.rand_cb = env_rand;
    env.alloc_ids_cb = env_alloc;
    env.apply_observer_cb = env_applied;
    kv_raftstore_config cfg = s->cfg;
    cfg.store_id = nd->id;
    cm_err err;
    int rc = kv_raftstore_open(&env, &cfg, &nd->rs, &err);
    if (rc != 0) {
        sim_fail(s, "restart", "store %llu does not reopen: %s", (unsigned long long)nd->id,
                 err.msg);
        nd->rs = NULL;
        nd->up = false;
        return;
    }
    nd->up = true;
    memset(nd->last_applied, 0, sizeof(nd->last_applied));
}

static void add_stats(kv_raftstore_stats *a, const kv_raftstore_stats *b)
{
    const uint64_t *src = (const uint64_t *)b;
    uint64_t *dst = (uint64_t *)a;
    for (size_t i = 0; i < sizeof(*b) / sizeof(uint64_t); i++) {
        dst[i] += src[i];
    }
}

static void node_crash(sim *s, node *nd)
{
    if (!nd->up) {
        return;
    }
    kv_raftstore_stats st;
    kv_raftstore_stats_get(nd->rs, &st);
    add_stats(&nd->acc, &st);
    kv_raftstore *rs = nd->rs;
    nd->rs = NULL;
    nd->up = false;
    kv_raftstore_close(rs); /* callbacks answer CLOSED: outcomes unknown */
    if (s->bank) {
        sim_bank_on_crash(s, nd->id);
    }
    cm_err err;
    if (kv_engine_crash(nd->eng, &err) != 0) {
        sim_fail(s, "crash", "engine crash failed: %s", err.msg);
    }
    nd->down_ticks = 0;
    s->res->cov.crashes++;
    sim_hash_in(s, 0xC0000 + nd->id);
    sim_trace(s, "crash store %llu", (unsigned long long)nd->id);
}

static void node_restart(sim *s, node *nd)
{
    if (nd->up) {
        return;
    }
    node_open(s, nd);
    sim_hash_in(s, 0xD0000 + nd->id);
    sim_trace(s, "restart store %llu", (unsigned long long)nd->id);
}

/* Runs every busy store until the cluster is quiet at this instant. */
static void drive(sim *s)
{
    for (int round = 0; round < SIM_DRIVE_ROUNDS_MAX; round++) {
        bool any = false;
        for (size_t i = 0; i < s->n; i++) {
            node *nd = &s->nodes[i];
            if (nd->up && kv_raftstore_busy(nd->rs)) {
                kv_engine_stats e0, e1;
                kv_engine_stats_get(nd->eng, &e0);
                int rc = kv_raftstore_process(nd->rs);
                kv_engine_stats_get(nd->eng, &e1);
                if (e1.syncs > e0.syncs + 1) {
                    sim_fail(s, "one-sync", "store %llu synced %llu times in one iteration",
                             (unsigned long long)nd->id, (unsigned long long)(e1.syncs - e0.syncs));
                }
                if (rc != 0) {
                    sim_fail(s, "process", "store %llu: %s", (unsigned long long)nd->id,
                             cm_err_name(rc));
                    return;
                }
                any = true;
            }
        }
        if (!any) {
            return;
        }
    }
}

/* ---- checkers ------------------------------------------------------------------------------- */

static void check_leaders(sim *s)
{
    uint64_t ids[SIM_REGIONS_MAX * 2];
    for (size_t i = 0; i < s->n; i++) {
        node *nd = &s->nodes[i];
        if (!nd->up) {
            continue;
        }
        size_t n = kv_raftstore_region_ids(nd->rs, ids, CM_ARRAY_LEN(ids));
        if (n > CM_ARRAY_LEN(ids)) {
            n = CM_ARRAY_LEN(ids);
        }
        for (size_t k = 0; k < n; k++) {
            kv_peer_status st;
            if (kv_raftstore_region(nd->rs, ids[k], NULL, &st) != 0 || !st.leader) {
                continue;
            }
            leader_rec *l = leader_get(s, ids[k], st.term);
            if (l->peer == 0) {
                l->peer = st.peer_id;
                s->res->cov.leader_changes++;
            } else if (l->peer != st.peer_id) {
                sim_fail(s, "election-safety", "region %llu term %llu has leaders %llu and %llu",
                         (unsigned long long)ids[k], (unsigned long long)st.term,
                         (unsigned long long)l->peer, (unsigned long long)st.peer_id);
            }
        }
    }
}

static void check_regions(sim *s)
{
    uint64_t ids[SIM_REGIONS_MAX * 2];
    kv_region prev, r;
    kv_region_init(&prev);
    kv_region_init(&r);
    for (size_t i = 0; i < s->n; i++) {
        node *nd = &s->nodes[i];
        if (!nd->up) {
            continue;
        }
        size_t n = kv_raftstore_region_ids(nd->rs, ids, CM_ARRAY_LEN(ids));
        if (n > CM_ARRAY_LEN(ids)) {
            n = CM_ARRAY_LEN(ids);
        }
        bool have_prev = false;
        for (size_t k = 0; k < n; k++) {
            kv_peer_status st;
            if (kv_raftstore_region(nd->rs, ids[k], &r, &st) != 0 || !st.initialized) {
                continue;
            }
            /* Initialized regions come in key order: each must start at or after the previous
             * one's end. */
            if (have_prev && (prev.end_key.len == 0 ||
                              cm_slice_cmp(kv_region_start(&r), kv_region_end(&prev)) < 0)) {
                sim_fail(s, "region-overlap", "store %llu: regions %llu and %llu overlap",
                         (unsigned long long)nd->id, (unsigned long long)prev.id,
                         (unsigned long long)r.id);
            }
            cm_buf d = CM_BUF_INIT;
            kv_region_describe(&r, &d);
            uint64_t h =
                sim_mix(fnv(r.start_key.ptr, r.start_key.len), fnv(r.end_key.ptr, r.end_key.len));
            cm_buf_fini(&d);
            range_rec *rr = range_get(s, r.id, r.epoch.version);
            if (rr->hash == 0) {
                rr->hash = h;
            } else if (rr->hash != h) {
                sim_fail(s, "region-range", "region %llu version %llu has two ranges",
                         (unsigned long long)r.id, (unsigned long long)r.epoch.version);
            }
            kv_region_copy(&prev, &r);
            have_prev = true;
        }
    }
    kv_region_fini(&prev);
    kv_region_fini(&r);
}

/* At the moment a write is acknowledged its entry must be durable on a quorum of the voters of
 * the configuration that committed it (the one in force at its index, or a later one). */
static size_t durable_voters(sim *s, uint64_t region, uint64_t index, uint64_t term,
                             const uint64_t *voters, size_t n)
{
    size_t have = 0;
    for (size_t k = 0; k < n; k++) {
        uint64_t st = peer_store(s, voters[k]);
        if (st != 0 && sim_oracle_durable((int)st - 1, region, index, term)) {
            have++;
        }
    }
    return have;
}

static void check_ack(sim *s, uint64_t store, uint64_t region, uint64_t index, uint64_t term)
{
    /* The configuration the leader used: raft's own, which may include a change appended after
     * the entry (a configuration takes effect when appended). */
    kv_peer_status ps;
    node *nd = store ? &s->nodes[store - 1] : NULL;
    if (nd != NULL && nd->up && kv_raftstore_region(nd->rs, region, NULL, &ps) == 0 &&
        durable_voters(s, region, index, term, ps.conf.voters, ps.conf.n_voters) >=
            (size_t)ps.conf.n_voters / 2 + 1) {
        s->res->cov.acks_checked++;
        return;
    }
    region_rec *r = region_slot(s, region, false);
    if (r == NULL || r->n_confs == 0) {
        sim_fail(s, "ack-durable", "acknowledged write in region %llu with no known configuration",
                 (unsigned long long)region);
        return;
    }
    size_t from = 0;
    for (size_t i = 0; i < r->n_confs; i++) {
        if (r->confs[i].index <= index) {
            from = i;
        }
    }
    size_t best = 0, need = 0;
    for (size_t i = from; i < r->n_confs; i++) {
        const conf_rec *c = &r->confs[i];
        size_t have = durable_voters(s, region, index, term, c->voters, c->n);
        if (have >= (size_t)c->n / 2 + 1) {
            s->res->cov.acks_checked++;
            return;
        }
        best = have;
        need = (size_t)c->n / 2 + 1;
    }
    for (size_t i = 0; i < r->n_confs && s->o->trace; i++) {
        printf("  conf of region %llu at %llu:", (unsigned long long)region,
               (unsigned long long)r->confs[i].index);
        for (size_t k = 0; k < r->confs[i].n; k++) {
            uint64_t st = peer_store(s, r->confs[i].voters[k]);
            printf(" %llu@%llu%s", (unsigned long long)r->confs[i].voters[k],
                   (unsigned long long)st,
                   st && sim_oracle_durable((int)st - 1, region, index, term) ? "*" : "");
        }
        printf("\n");
    }
    sim_fail(s, "ack-durable",
             "write at region %llu index %llu term %llu acknowledged while durable on %zu voters "
             "(quorum %zu)",
             (unsigned long long)region, (unsigned long long)index, (unsigned long long)term, best,
             need);
}

/* ---- clients -------------------------------------------------------------------------------- */

static void key_name(int k, char out[8])
{
    out[0] = 'k';
    out[1] = (char)('0' + (k / 10) % 10);
    out[2] = (char)('0' + k % 10);
    out[3] = '\0';
}

uint64_t sim_random_up_store(sim *s)
{
    for (int tries = 0; tries < 16; tries++) {
        size_t i = (size_t)sim_rng_below(&s->r, s->n);
        if (s->nodes[i].up) {
            return s->nodes[i].id;
        }
    }
    return 0;
}

static void client_idle(sim *s, client *c)
{
    c->busy = false;
    c->cur = NULL;
    c->next_at = s->now + 1000000 + sim_rng_below(&s->r, 2 * TICK_NS);
}

static void reroute(sim *s, client *c, int key, const kv_raftstore_result *res)
{
    switch (res->rc) {
    case CM_E_NOT_LEADER:
        c->route_store[key] =
            res->leader.store_id != 0 ? res->leader.store_id : sim_random_up_store(s);
        break;
    case CM_E_EPOCH_NOT_MATCH:
    case CM_E_KEY_NOT_IN_REGION:
        c->route_region[key] = 0;
        break;
    default:
        c->route_region[key] = 0;
        c->route_store[key] = sim_random_up_store(s);
        break;
    }
}

bool sim_definite_failure(int rc)
{
    return rc == CM_E_NOT_LEADER || rc == CM_E_EPOCH_NOT_MATCH || rc == CM_E_KEY_NOT_IN_REGION ||
           rc == CM_E_REGION_NOT_FOUND || rc == CM_E_SERVER_IS_BUSY || rc == CM_E_INVALID;
}

static void write_cb(void *user, const kv_raftstore_result *res)
{
    op *o = user;
    sim *s = o->s;
    if (o->state != OP_PENDING) {
        return;
    }
    client *c = &s->clients[o->client];
    o->complete = s->now;
    sim_hash_in(s, ((uint64_t)(uint32_t)res->rc << 32) ^ o->value);
    if (res->rc == 0) {
        o->state = OP_OK;
        s->res->cov.writes_acked++;
        check_ack(s, o->store, res->region_id, res->index, res->term);
    } else if (sim_definite_failure(res->rc)) {
        o->state = OP_FAILED;
        s->res->cov.writes_failed++;
    } else {
        o->state = OP_UNKNOWN;
        o->complete = SIM_LIN_PENDING;
        s->res->cov.writes_unknown++;
    }
    sim_trace(s, "write k%02d=%llu -> %s (region %llu index %llu term %llu)", o->key,
              (unsigned long long)o->value, cm_err_name(res->rc),
              (unsigned long long)res->region_id, (unsigned long long)res->index,
              (unsigned long long)res->term);
    if (res->rc != 0) {
        reroute(s, c, o->key, res);
    }
    if (c->cur == o) {
        client_idle(s, c);
    }
}

static void read_cb(void *user, const kv_raftstore_result *res, kv_snapshot *snap)
{
    op *o = user;
    sim *s = o->s;
    if (o->state != OP_PENDING) {
        kv_snapshot_release(snap);
        return;
    }
    client *c = &s->clients[o->client];
    o->complete = s->now;
    char k[8];
    key_name(o->key, k);
    if (res->rc == 0 &&
        (res->n_regions != 1 || !kv_region_contains(&res->regions[0], cm_slice_cstr(k)))) {
        /* The region served the read but does not hold the key: the caller must check (the
         * read names no keys). */
        kv_snapshot_release(snap);
        o->state = OP_FAILED;
        s->res->cov.reads_failed++;
        c->route_region[o->key] = 0;
        c->route_store[o->key] = sim_random_up_store(s);
        if (c->cur == o) {
            client_idle(s, c);
        }
        return;
    }
    if (res->rc == 0) {
        cm_buf v = CM_BUF_INIT;
        int rc = kv_snapshot_get(snap, KV_CF_DEFAULT, cm_slice_cstr(k), &v, NULL);
        if (rc == 0 && v.len == 8) {
            uint64_t x = 0;
            for (int i = 0; i < 8; i++) {
                x = (x << 8) | v.ptr[i];
            }
            o->value = x;
            o->state = OP_OK;
        } else if (rc == CM_E_NOT_FOUND) {
            o->value = 0;
            o->state = OP_OK;
        } else {
            o->state = OP_FAILED;
            sim_fail(s, "read", "bad value under k%02d (%s)", o->key, cm_err_name(rc));
        }
        cm_buf_fini(&v);
        kv_snapshot_release(snap);
        s->res->cov.reads_ok++;
    } else {
        o->state = OP_FAILED;
        s->res->cov.reads_failed++;
        reroute(s, c, o->key, res);
    }
    sim_hash_in(s, ((uint64_t)(uint32_t)res->rc << 32) ^ o->value ^ 0x5EAD);
    sim_trace(s, "read k%02d -> %s %llu (region %llu index %llu)", o->key, cm_err_name(res->rc),
              (unsigned long long)o->value, (unsigned long long)res->region_id,
              (unsigned long long)res->index);
    if (c->cur == o) {
        client_idle(s, c);
    }
}

static op *new_op(sim *s, int client_idx, uint8_t kind, int key)
{
    if (s->n_ops == SIM_OPS_MAX) {
        return NULL;
    }
    op *o = &s->ops[s->n_ops++];
    memset(o, 0, sizeof(*o));
    o->s = s;
    o->kind = kind;
    o->key = (uint8_t)key;
    o->client = client_idx;
    o->invoke = s->now;
    o->state = OP_PENDING;
    s->key_ops[key]++;
    return o;
}

static op *client_issue(sim *s, int ci, int key, uint8_t kind)
{
    client *c = &s->clients[ci];
    uint64_t store = c->route_store[key];
    if (store == 0 || !s->nodes[store - 1].up) {
        store = c->route_store[key] = sim_random_up_store(s);
    }
    if (store == 0) {
        c->next_at = s->now + TICK_NS;
        return NULL;
    }
    kv_raftstore *rs = s->nodes[store - 1].rs;
    char k[8];
    key_name(key, k);
    uint64_t region = c->route_region[key];
    if (region == 0 && kv_raftstore_route(rs, cm_slice_cstr(k), &region) != 0) {
        /* This store holds no region for the key: ask another one next time. */
        c->route_store[key] = sim_random_up_store(s);
        c->next_at = s->now + 1000000 + sim_rng_below(&s->r, TICK_NS / 2);
        return NULL;
    }
    c->route_region[key] = region;
    kv_region r;
    kv_region_init(&r);
    kv_epoch ep = {0, 0};
    if (kv_raftstore_region(rs, region, &r, NULL) == 0) {
        ep = r.epoch;
        if (!kv_region_contains(&r, cm_slice_cstr(k))) {
            /* Like a real client's route cache: a region whose range no longer holds the key
             * is a stale route. */
            uint64_t rid = 0;
            if (kv_raftstore_route(rs, cm_slice_cstr(k), &rid) == 0 &&
                kv_raftstore_region(rs, rid, &r, NULL) == 0) {
                region = c->route_region[key] = rid;
                ep = r.epoch;
            } else {
                kv_region_fini(&r);
                c->route_region[key] = 0;
                c->route_store[key] = sim_random_up_store(s);
                c->next_at = s->now + 1000000 + sim_rng_below(&s->r, TICK_NS / 2);
                return NULL;
            }
        }
    }
    kv_region_fini(&r);
    op *o = new_op(s, ci, kind, key);
    if (o == NULL) {
        c->next_at = UINT64_MAX;
        return NULL;
    }
    c->busy = true;
    c->cur = o;
    o->store = store;
    sim_trace(s, "client %d: %s k%02d to store %llu region %llu epoch %llu/%llu", ci,
              kind == OP_WRITE ? "write" : "read", key, (unsigned long long)store,
              (unsigned long long)region, (unsigned long long)ep.conf_ver,
              (unsigned long long)ep.version);
    if (kind == OP_WRITE) {
        o->value = ++s->next_value;
        uint8_t v[8];
        for (int i = 0; i < 8; i++) {
            v[i] = (uint8_t)(o->value >> (56 - 8 * i));
        }
        kv_batch b;
        kv_batch_init(&b);
        (void)kv_batch_put(&b, KV_CF_DEFAULT, cm_slice_cstr(k), cm_slice_make(v, 8));
        kv_raftstore_propose(rs, region, ep, &b, write_cb, o);
        kv_batch_fini(&b);
    } else {
        kv_raftstore_read(rs, region, ep, read_cb, o);
    }
    return o;
}

static void client_act(sim *s, int ci)
{
    client *c = &s->clients[ci];
    if (s->settling || s->bank) {
        c->next_at = UINT64_MAX;
        return;
    }
    int key = -1;
    for (int tries = 0; tries < 8 && key < 0; tries++) {
        int k = (int)sim_rng_below(&s->r, SIM_KEYS);
        if (s->key_ops[k] < SIM_OPS_PER_KEY) {
            key = k;
        }
    }
    if (key < 0) {
        c->next_at = s->now + TICK_NS;
        return;
    }
    (void)client_issue(s, ci, key, sim_rng_chance(&s->r, 550000) ? OP_WRITE : OP_READ);
}

static void client_timeouts(sim *s)
{
    for (int i = 0; i < SIM_CLIENTS; i++) {
        client *c = &s->clients[i];
        if (!c->busy || c->cur == NULL) {
            continue;
        }
        op *o = c->cur;
        if (s->now - o->invoke < SIM_OP_TIMEOUT_TICKS * TICK_NS) {
            continue;
        }
        /* The client gives up: a write may still apply later (unknown), a read tells nothing. */
        o->abandoned = true;
        if (o->kind == OP_WRITE) {
            o->state = OP_UNKNOWN;
            o->complete = SIM_LIN_PENDING;
            s->res->cov.writes_unknown++;
        } else {
            o->state = OP_FAILED;
            s->res->cov.reads_failed++;
        }
        c->route_store[o->key] = sim_random_up_store(s);
        c->route_region[o->key] = 0;
        client_idle(s, c);
    }
}

/* ---- simulated PD ------------------------------------------------------------------------------
 */

static void pd_cb(void *user, const kv_raftstore_result *res)
{
    sim *s = user;
    sim_hash_in(s, 0xBD0000 ^ (uint64_t)(uint32_t)res->rc);
}

static node *leader_of(sim *s, uint64_t region, kv_region *out)
{
    node *best = NULL;
    uint64_t best_term = 0;
    for (size_t i = 0; i < s->n; i++) {
        node *nd = &s->nodes[i];
        kv_peer_status st;
        if (nd->up && kv_raftstore_region(nd->rs, region, NULL, &st) == 0 && st.leader &&
            st.initialized && st.term > best_term) {
            best = nd;
            best_term = st.term;
        }
    }
    if (best != NULL) {
        kv_raftstore_region(best->rs, region, out, NULL);
    }
    return best;
}

/* One scheduling decision; false when nothing was issued. */
static bool pd_try(sim *s)
{
    /* A region some store leads. */
    uint64_t ids[SIM_REGIONS_MAX * 2];
    node *any = &s->nodes[sim_rng_below(&s->r, s->n)];
    if (!any->up) {
        return false;
    }
    size_t n = kv_raftstore_region_ids(any->rs, ids, CM_ARRAY_LEN(ids));
    if (n == 0) {
        return false;
    }
    if (n > CM_ARRAY_LEN(ids)) {
        n = CM_ARRAY_LEN(ids);
    }
    uint64_t region = ids[sim_rng_below(&s->r, n)];
    kv_region r;
    kv_region_init(&r);
    node *l = leader_of(s, region, &r);
    if (l == NULL || r.n_peers == 0) {
        kv_region_fini(&r);
        return false;
    }
    bool issued = false;
    size_t voters = 0, learner = SIZE_MAX;
    for (size_t i = 0; i < r.n_peers; i++) {
        if (r.peers[i].role == KV_PEER_VOTER) {
            voters++;
        } else {
            learner = i;
        }
    }
    uint64_t x = sim_rng_below(&s->r, 100);
    if (x < 30 && s->n_regions < SIM_REGIONS_MAX - 4) {
        char k[8];
        cm_buf kb = CM_BUF_INIT;
        int ki = (int)sim_rng_below(&s->r, SIM_KEYS - 1);
        if (s->bank) {
            sim_bank_split_key(s, ki, &kb);
        } else {
            key_name(1 + ki, k);
            (void)cm_buf_append_slice(&kb, cm_slice_cstr(k));
        }
        cm_slice key = cm_buf_slice(&kb);
        if (kv_region_contains(&r, key) && !cm_slice_eq(kv_region_start(&r), key)) {
            kv_raftstore_split(l->rs, region, r.epoch, key, pd_cb, s);
            s->res->cov.splits++;
            issued = true;
            sim_trace(s, "pd: split region %llu at key %d", (unsigned long long)region, ki);
        }
        cm_buf_fini(&kb);
    } else if (x < 45) {
        const kv_peer *t = &r.peers[sim_rng_below(&s->r, r.n_peers)];
        if (t->role == KV_PEER_VOTER && t->store_id != l->id) {
            kv_raftstore_transfer_leader(l->rs, region, t->id);
            s->res->cov.transfers++;
            issued = true;
            sim_trace(s, "pd: transfer region %llu to peer %llu", (unsigned long long)region,
                      (unsigned long long)t->id);
        }
    } else if (learner != SIZE_MAX) {
        kv_raftstore_change_peer(l->rs, region, r.epoch, KV_CONF_PROMOTE, r.peers[learner], pd_cb,
                                 s);
        s->res->cov.conf_changes++;
        issued = true;
        sim_trace(s, "pd: promote peer %llu of region %llu",
                  (unsigned long long)r.peers[learner].id, (unsigned long long)region);
    } else if (voters > 3) {
        const kv_peer *t = &r.peers[sim_rng_below(&s->r, r.n_peers)];
        kv_raftstore_change_peer(l->rs, region, r.epoch, KV_CONF_REMOVE, *t, pd_cb, s);
        s->res->cov.conf_changes++;
        issued = true;
        sim_trace(s, "pd: remove peer %llu of region %llu", (unsigned long long)t->id,
                  (unsigned long long)region);
    } else if (r.n_peers < s->n) {
        size_t start = (size_t)sim_rng_below(&s->r, s->n);
        for (size_t k = 0; k < s->n; k++) {
            node *nd = &s->nodes[(start + k) % s->n];
            if (kv_region_peer_on_store(&r, nd->id) == NULL) {
                kv_peer p = {s->next_id++, nd->id, KV_PEER_LEARNER};
                set_peer_store(s, p.id, nd->id);
                kv_raftstore_change_peer(l->rs, region, r.epoch, KV_CONF_ADD_LEARNER, p, pd_cb, s);
                s->res->cov.conf_changes++;
                issued = true;
                sim_trace(s, "pd: add learner %llu of region %llu on store %llu",
                          (unsigned long long)p.id, (unsigned long long)region,
                          (unsigned long long)nd->id);
                break;
            }
        }
    }
    kv_region_fini(&r);
    return issued;
}

static void pd_act(sim *s)
{
    for (int i = 0; i < 6 && !pd_try(s); i++) {
    }
}

/* ---- faults --------------------------------------------------------------------------------- */

static void heal(sim *s)
{
    memset(s->cut, 0, sizeof(s->cut));
    s->heal_at_tick = 0;
}

static void fault_act(sim *s)
{
    bool restarted = false;
    for (size_t i = 0; i < s->n; i++) {
        if (!s->nodes[i].up) {
            node_restart(s, &s->nodes[i]);
            restarted = true;
        }
    }
    if (restarted) {
        return;
    }
    uint64_t x = sim_rng_below(&s->r, 100);
    if (x < 40) {
        node_crash(s, &s->nodes[sim_rng_below(&s->r, s->n)]);
    } else if (x < 50) {
        for (size_t i = 0; i < s->n; i++) {
            node_crash(s, &s->nodes[i]);
        }
        s->res->cov.crashes_all++;
        /* a power cut: everyone comes back at the next fault tick */
    } else if (x < 85) {
        size_t a = (size_t)sim_rng_below(&s->r, s->n);
        for (size_t b = 0; b < s->n; b++) {
            if (b != a) {
                s->cut[a][b] = s->cut[b][a] = true;
            }
        }
        s->heal_at_tick = s->ticks + 5 + sim_rng_below(&s->r, 25);
        s->res->cov.partitions++;
        sim_trace(s, "partition store %zu away", a + 1);
    } else {
        size_t a = (size_t)sim_rng_below(&s->r, s->n), b = (size_t)sim_rng_below(&s->r, s->n);
        if (a != b) {
            s->cut[a][b] = s->cut[b][a] = true;
            s->heal_at_tick = s->ticks + 5 + sim_rng_below(&s->r, 25);
            s->res->cov.partitions++;
            sim_trace(s, "cut link %zu-%zu", a + 1, b + 1);
        }
    }
}

/* ---- the run ----------------------------------------------------------------------------------
 */

/* Each store's own timer. */
static void node_ticks(sim *s)
{
    for (size_t i = 0; i < s->n; i++) {
        node *nd = &s->nodes[i];
        while (nd->next_tick_at <= s->now) {
            nd->next_tick_at += tick_period(nd);
            if (nd->up) {
                sim_hash_in(s, 0x71C5 + nd->id);
                int rc = kv_raftstore_tick(nd->rs);
                if (rc != 0) {
                    sim_fail(s, "tick", "store %llu: %s", (unsigned long long)nd->id,
                             cm_err_name(rc));
                }
            }
        }
    }
}

/* The simulation's own tick: PD, faults, timeouts, checks. */
static void do_tick(sim *s)
{
    s->ticks++;
    sim_hash_in(s, 0x71C4 + s->ticks);
    if (!s->settling) {
        if (s->heal_at_tick != 0 && s->ticks >= s->heal_at_tick) {
            heal(s);
        }
        if (s->ticks >= s->next_pd_tick) {
            pd_act(s);
            s->next_pd_tick = s->ticks + 5 + sim_rng_below(&s->r, 15);
        }
        if (s->ticks >= s->next_fault_tick) {
            fault_act(s);
            bool down = false;
            for (size_t i = 0; i < s->n; i++) {
                down = down || !s->nodes[i].up;
            }
            s->next_fault_tick =
                s->ticks + (down ? 2 + sim_rng_below(&s->r, 10) : 10 + sim_rng_below(&s->r, 30));
        }
    }
    client_timeouts(s);
    if (s->bank) {
        sim_bank_tick(s);
    }
    check_regions(s);
}

static void deliver(sim *s, net_msg *m)
{
    node *nd = &s->nodes[m->to];
    if (nd->up && !s->cut[m->from][m->to]) {
        s->res->cov.msgs_delivered++;
        sim_hash_in(s,
                    sim_mix(((uint64_t)m->from << 8) | m->to, fnv(m->payload.ptr, m->payload.len)));
        if (m->method == KV_RAFTSTORE_MSG_BATCH) {
            (void)kv_raftstore_on_raft_batch(nd->rs, cm_buf_slice(&m->payload));
        } else {
            (void)kv_raftstore_on_snapshot_chunk(nd->rs, cm_buf_slice(&m->payload));
        }
    } else {
        s->res->cov.msgs_dropped++;
    }
    cm_buf_fini(&m->payload);
    free(m);
}

/* Advances to the next event and handles everything due then. */
void sim_step(sim *s, uint64_t until)
{
    uint64_t t = s->next_tick_at;
    for (size_t i = 0; i < s->n; i++) {
        if (s->nodes[i].next_tick_at < t) {
            t = s->nodes[i].next_tick_at;
        }
    }
    if (s->nheap > 0 && s->heap[0]->at < t) {
        t = s->heap[0]->at;
    }
    for (int i = 0; i < SIM_CLIENTS; i++) {
        if (!s->clients[i].busy && s->clients[i].next_at < t) {
            t = s->clients[i].next_at;
        }
    }
    if (s->bank) {
        uint64_t b = sim_bank_next_at(s);
        if (b < t) {
            t = b;
        }
    }
    if (t > until) {
        t = until;
    }
    s->now = t;
    while (s->nheap > 0 && s->heap[0]->at <= s->now) {
        deliver(s, heap_pop(s));
    }
    for (int i = 0; i < SIM_CLIENTS; i++) {
        if (!s->clients[i].busy && s->clients[i].next_at <= s->now) {
            client_act(s, i);
        }
    }
    if (s->bank && sim_bank_next_at(s) <= s->now) {
        sim_bank_act(s);
    }
    node_ticks(s);
    if (s->now >= s->next_tick_at) {
        s->next_tick_at += TICK_NS;
        do_tick(s);
    }
    drive(s);
    check_leaders(s);
}

static void setup(sim *s, const sim_store_opts *o, sim_store_result *r)
{
    memset(s, 0, sizeof(*s));
    s->applied.words = sizeof(applied_rec) / sizeof(uint64_t);
    s->leaders.words = sizeof(leader_rec) / sizeof(uint64_t);
    s->ranges.words = sizeof(range_rec) / sizeof(uint64_t);
    s->o = o;
    s->res = r;
    sim_rng_seed(&s->r, o->seed ^ 0x5107E5EEDull);
    s->n = 3 + (size_t)sim_rng_below(&s->r, 3); /* 3..5 stores */
    s->drop_ppm = (uint32_t)sim_rng_below(&s->r, 60000);
    s->dup_ppm = (uint32_t)sim_rng_below(&s->r, 30000);
    s->delay_max_ns = 1000000 + sim_rng_below(&s->r, 2 * TICK_NS);
    kv_raftstore_config_default(&s->cfg);
    s->cfg.tick_ns = TICK_NS;
    s->cfg.lease_read = sim_rng_below(&s->r, 100) < 80;
    s->cfg.send_before_sync = sim_rng_below(&s->r, 2) == 1;
    s->cfg.max_msg_bytes = 256 + sim_rng_below(&s->r, 8192);
    s->cfg.max_inflight = 2 + (uint32_t)sim_rng_below(&s->r, 32);
    s->cfg.log_gc_ticks = 3 + (uint32_t)sim_rng_below(&s->r, 8);
    s->cfg.log_gc_threshold = 8 + sim_rng_below(&s->r, 40);
    s->cfg.log_gc_lag_max = s->cfg.log_gc_threshold + sim_rng_below(&s->r, 60);
    s->cfg.snap_chunk_bytes = 64 + sim_rng_below(&s->r, 2048);
    s->cfg.pd_heartbeat_ticks = 10;
    s->cfg.split_check_ticks = 20;
    s->cfg.request_timeout_ticks = 30;
    s->cfg.stale_peer_ticks = 60 + (uint32_t)sim_rng_below(&s->r, 60);
    s->bank = o->workload == SIM_WORKLOAD_BANK ||
              (o->workload == SIM_WORKLOAD_MIXED && (o->seed & 1) == 1);
    s->next_id = 1000;
    s->now = 1000000000ull;
    s->next_tick_at = s->now + TICK_NS;
    s->next_pd_tick = 10;
    s->next_fault_tick = 15 + sim_rng_below(&s->r, 20);
    s->ops = calloc(SIM_OPS_MAX, sizeof(*s->ops));
    if (s->ops == NULL) {
        abort();
    }
    sim_oracle_reset();
    kv_region reg;
    kv_region_init(&reg);
    reg.id = 1;
    reg.epoch.conf_ver = 1;
    reg.epoch.version = 1;
    uint64_t voters[3];
    for (size_t i = 0; i < 3; i++) {
        kv_peer p = {101 + i, i + 1, KV_PEER_VOTER};
        kv_region_add_peer(&reg, &p);
        set_peer_store(s, p.id, p.store_id);
        voters[i] = p.id;
    }
    conf_push(s, 1, KV_RS_INIT_INDEX, voters, 3);
    /* Clock errors within the bound the raftstore assumes (cfg.drift_ppm) unless asked for more;
     * the lease is safe as long as rates differ by less than 2 * drift. */
    s->skew_max_ppm = o->skew_ppm ? o->skew_ppm : s->cfg.drift_ppm * 9 / 10;
    for (size_t i = 0; i < s->n; i++) {
        node *nd = &s->nodes[i];
        nd->s = s;
        nd->idx = (int)i;
        nd->id = i + 1;
        nd->skew_ppm = (int64_t)sim_rng_below(&s->r, 2 * (uint64_t)s->skew_max_ppm + 1) -
                       (int64_t)s->skew_max_ppm;
        nd->next_tick_at = s->now + sim_rng_below(&s->r, TICK_NS);
        cm_err err;
        if (kv_memengine_open(&nd->eng, &err) != 0) {
            abort();
        }
        sim_oracle_register(nd->eng, (int)i);
        if (i < 3 && kv_raftstore_bootstrap(nd->eng, nd->id, &reg, &err) != 0) {
            sim_fail(s, "bootstrap", "%s", err.msg);
        }
        node_open(s, nd);
    }
    kv_region_fini(&reg);
    for (int i = 0; i < SIM_CLIENTS; i++) {
        s->clients[i].next_at = s->bank ? UINT64_MAX : s->now + sim_rng_below(&s->r, TICK_NS);
    }
    if (s->bank) {
        sim_bank_init(s);
        s->res->cov.bank_seeds = 1;
    }
}

static void teardown(sim *s)
{
    for (size_t i = 0; i < s->n; i++) {
        node *nd = &s->nodes[i];
        if (nd->up) {
            kv_raftstore_stats st;
            kv_raftstore_stats_get(nd->rs, &st);
            add_stats(&nd->acc, &st);
            kv_raftstore_close(nd->rs);
            nd->rs = NULL;
            nd->up = false;
        }
        kv_engine_close(nd->eng);
        kv_raftstore_stats *a = &nd->acc;
        s->res->cov.lease_reads += a->lease_reads;
        s->res->cov.index_reads += a->index_reads;
        s->res->cov.snapshots_applied += a->snapshots_applied;
        s->res->cov.peers_destroyed += a->peers_destroyed;
        s->res->cov.tombstones_sent += a->tombstones_sent;
        s->res->cov.overlap_drops += a->msgs_dropped_overlap;
        s->res->cov.epoch_rejections += a->epoch_rejections;
        s->res->cov.stale_commands += a->stale_commands;
        s->res->cov.log_compactions += a->log_compactions;
        s->res->cov.syncs += a->syncs;
    }
    while (s->nheap > 0) {
        net_msg *m = heap_pop(s);
        cm_buf_fini(&m->payload);
        free(m);
    }
    free(s->heap);
    sim_bank_fini(s);
    free(s->ops);
    free(s->applied.v);
    free(s->leaders.v);
    free(s->ranges.v);
    sim_oracle_reset();
}

static void dump_regions(sim *s)
{
    uint64_t ids[SIM_REGIONS_MAX * 2];
    for (size_t i = 0; i < s->n; i++) {
        node *nd = &s->nodes[i];
        if (!nd->up) {
            printf("  store %llu down\n", (unsigned long long)nd->id);
            continue;
        }
        size_t n = kv_raftstore_region_ids(nd->rs, ids, CM_ARRAY_LEN(ids));
        for (size_t k = 0; k < n && k < CM_ARRAY_LEN(ids); k++) {
            kv_region r;
            kv_region_init(&r);
            kv_peer_status st;
            kv_raftstore_region(nd->rs, ids[k], &r, &st);
            cm_buf d = CM_BUF_INIT;
            kv_region_describe(&r, &d);
            cm_buf_terminate(&d);
            printf("  store %llu: %s peer %llu %s term %llu lead %llu commit %llu applied %llu "
                   "log [%llu, %llu] voters %u learners %u\n",
                   (unsigned long long)nd->id, d.ptr ? (char *)d.ptr : "",
                   (unsigned long long)st.peer_id, st.leader ? "LEADER" : "follower",
                   (unsigned long long)st.term, (unsigned long long)st.leader_peer_id,
                   (unsigned long long)st.commit, (unsigned long long)st.applied,
                   (unsigned long long)st.first_index, (unsigned long long)st.last_index,
                   st.conf.n_voters, st.conf.n_learners);
            cm_buf_fini(&d);
            kv_region_fini(&r);
        }
    }
}

/* Final reads: every key read through the raftstore after the faults stopped. */
static void final_reads(sim *s)
{
    for (int key = 0; key < SIM_KEYS && !s->failed; key++) {
        client *c = &s->clients[0];
        bool done = false;
        for (int attempt = 0; attempt < 60 && !done; attempt++) {
            op *o = client_issue(s, 0, key, OP_READ);
            uint64_t until = s->now + 20 * TICK_NS;
            while (o != NULL && o->state == OP_PENDING && s->now < until && !s->failed) {
                sim_step(s, until);
            }
            if (o != NULL && o->state == OP_PENDING) {
                o->state = OP_FAILED;
                o->abandoned = true;
                client_idle(s, c);
            }
            done = o != NULL && o->state == OP_OK;
            if (!done) {
                uint64_t t = s->now + TICK_NS;
                while (s->now < t && !s->failed) {
                    sim_step(s, t);
                }
            }
        }
        if (!done && !s->failed) {
            sim_fail(s, "liveness", "k%02d cannot be read after the faults stopped", key);
            if (s->o->trace) {
                dump_regions(s);
            }
        }
    }
}

/* Replicas that applied the same index of a region hold the same data in its range. */
static void check_convergence(sim *s)
{
    uint64_t ids[SIM_REGIONS_MAX * 2];
    node *n0 = NULL;
    for (size_t i = 0; i < s->n && n0 == NULL; i++) {
        if (s->nodes[i].up) {
            n0 = &s->nodes[i];
        }
    }
    if (n0 == NULL) {
        return;
    }
    size_t n = kv_raftstore_region_ids(n0->rs, ids, CM_ARRAY_LEN(ids));
    if (n > CM_ARRAY_LEN(ids)) {
        n = CM_ARRAY_LEN(ids);
    }
    s->res->cov.regions_at_end = 0;
    for (size_t k = 0; k < n; k++) {
        uint64_t applied_max = 0;
        uint64_t hashes[SIM_NODES_MAX] = {0};
        uint64_t applied[SIM_NODES_MAX] = {0};
        for (size_t i = 0; i < s->n; i++) {
            node *nd = &s->nodes[i];
            kv_region r;
            kv_region_init(&r);
            kv_peer_status st;
            if (nd->up && kv_raftstore_region(nd->rs, ids[k], &r, &st) == 0 && st.initialized) {
                applied[i] = st.applied;
                if (st.applied > applied_max) {
                    applied_max = st.applied;
                }
                kv_snapshot *snap;
                if (kv_engine_snapshot(nd->eng, &snap, NULL) == 0) {
                    kv_iter_opts io = {kv_region_start(&r), kv_region_end(&r)};
                    uint64_t h = 7;
                    static const kv_cf cfs[] = {KV_CF_DEFAULT, KV_CF_LOCK, KV_CF_WRITE};
                    for (size_t c = 0; c < CM_ARRAY_LEN(cfs); c++) {
                        kv_iter *it;
                        if (kv_iter_new(snap, cfs[c], &io, &it, NULL) != 0) {
                            continue;
                        }
                        for (kv_iter_seek_to_first(it); kv_iter_valid(it); kv_iter_next(it)) {
                            cm_slice kk = kv_iter_key(it), vv = kv_iter_value(it);
                            h = sim_mix(sim_mix(h, fnv(kk.ptr, kk.len) + c), fnv(vv.ptr, vv.len));
                        }
                        kv_iter_free(it);
                    }
                    kv_snapshot_release(snap);
                    hashes[i] = h;
                }
            }
            kv_region_fini(&r);
        }
        if (applied_max == 0) {
            continue;
        }
        s->res->cov.regions_at_end++;
        uint64_t ref = 0;
        for (size_t i = 0; i < s->n; i++) {
            if (applied[i] != applied_max) {
                continue;
            }
            if (ref == 0) {
                ref = hashes[i];
            } else if (hashes[i] != ref) {
                sim_fail(s, "convergence",
                         "region %llu: replicas at index %llu hold different data",
                         (unsigned long long)ids[k], (unsigned long long)applied_max);
            }
        }
    }
}

static void check_history(sim *s)
{
    sim_lin_op *v = calloc(SIM_LIN_OPS_MAX, sizeof(*v));
    if (v == NULL) {
        abort();
    }
    for (int key = 0; key < SIM_KEYS && !s->failed; key++) {
        size_t n = 0;
        for (size_t i = 0; i < s->n_ops && n < SIM_LIN_OPS_MAX; i++) {
            op *o = &s->ops[i];
            if (o->key != key || (o->state != OP_OK && o->state != OP_UNKNOWN) ||
                (o->kind == OP_READ && o->state != OP_OK)) {
                continue;
            }
            v[n].write = o->kind == OP_WRITE;
            v[n].value = o->value;
            v[n].call = o->invoke;
            v[n].ret = o->state == OP_UNKNOWN ? SIM_LIN_PENDING : o->complete;
            v[n].id = i;
            n++;
        }
        char why[256];
        sim_lin_result lr = sim_lin_check(v, n, 0, why, sizeof(why));
        if (lr == SIM_LIN_VIOLATION) {
            sim_fail(s, "linearizability", "k%02d: %s", key, why);
            for (size_t i = 0; i < n && s->o->trace; i++) {
                printf("  k%02d %s %llu [%llu, %llu]\n", key, v[i].write ? "W" : "R",
                       (unsigned long long)v[i].value, (unsigned long long)v[i].call,
                       (unsigned long long)v[i].ret);
            }
        }
    }
    free(v);
}

void sim_store_run(const sim_store_opts *o, sim_store_result *r)
{
    memset(r, 0, sizeof(*r));
    r->ok = true;
    r->trace_hash = 0x5EED;
    sim *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        abort();
    }
    setup(s, o, r);
    uint32_t ticks = o->ticks ? o->ticks : 220;
    uint64_t end = s->now + (uint64_t)ticks * TICK_NS;
    while (s->now < end && !s->failed) {
        sim_step(s, end);
    }
    /* Settle: faults stop, the network heals and stops losing messages, everyone comes back. */
    s->settling = true;
    heal(s);
    s->drop_ppm = 0;
    s->dup_ppm = 0;
    for (size_t i = 0; i < s->n; i++) {
        node_restart(s, &s->nodes[i]);
    }
    uint64_t settle_end = s->now + SIM_SETTLE_TICKS * TICK_NS;
    while (s->now < settle_end && !s->failed) {
        sim_step(s, settle_end);
    }
    for (int i = 0; i < SIM_CLIENTS; i++) {
        if (s->clients[i].busy && s->clients[i].cur != NULL) {
            s->clients[i].cur->invoke = 0; /* force the timeout */
        }
    }
    client_timeouts(s);
    if (!s->failed) {
        if (s->bank) {
            sim_bank_final(s);
        } else {
            final_reads(s);
        }
    }
    uint64_t conv_end = s->now + 20 * TICK_NS;
    while (s->now < conv_end && !s->failed) {
        sim_step(s, conv_end);
    }
    if (!s->failed) {
        check_convergence(s);
    }
    if (!s->failed) {
        check_history(s);
    }
    r->cov.stores = s->n;
    r->cov.ticks = s->ticks;
    teardown(s);
    /* The minimum of work that makes a seed count. */
    if (r->ok) {
        const sim_store_coverage *c = &r->cov;
        bool work = c->bank_seeds ? c->bank_committed >= 5 && c->bank_checks >= 2
                                  : c->writes_acked >= 15 && c->reads_ok >= 10;
        if (!work || c->crashes + c->partitions < 1 ||
            c->splits + c->conf_changes + c->transfers < 1) {
            r->ok = false;
            snprintf(r->check, sizeof(r->check), "min-work");
            snprintf(r->why, sizeof(r->why),
                     "too little work: %llu acked writes or commits, %llu reads or checks, %llu "
                     "faults, %llu pd ops",
                     (unsigned long long)(c->writes_acked + c->bank_committed),
                     (unsigned long long)(c->reads_ok + c->bank_checks),
                     (unsigned long long)(c->crashes + c->partitions),
                     (unsigned long long)(c->splits + c->conf_changes + c->transfers));
        }
    }
    free(s);
}
