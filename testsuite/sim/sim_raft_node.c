/* sim_raft_node.c — simulated nodes: the disk model (only synced writes survive a crash, a torn
 * crash keeps a prefix of a ready's writes), ready handling in the contract's order, the
 * replicated key-value state machine with its hash chain, and the network. */
#include "sim_raft_int.h"

static uint64_t raft_rand_cb(void *ctx)
{
    sim *S = ctx;
    return sim_rng_next(&S->rng);
}

/* The clock callback needs both the node and the simulator. */
typedef struct clock_ctx {
    sim *S;
    sim_node *n;
} clock_ctx;

static clock_ctx clock_ctxs[SIM_NODES_MAX + 1];

static uint64_t raft_clock_cb(void *ctx)
{
    clock_ctx *c = ctx;
    return local_ns(c->S, c->n);
}

/* ---- state machine ------------------------------------------------------------------------- */

static void sm_encode(const sim_sm *sm, cm_buf *b)
{
    cm_buf_append_u64le(b, sm->applied);
    cm_buf_append_u64le(b, sm->chain);
    for (int k = 0; k <= SIM_KEYS; k++) {
        cm_buf_append_u64le(b, sm->values[k]);
    }
}

static int sm_decode(sim_sm *sm, cm_slice data, const cm_raft_conf *conf)
{
    cm_reader r;
    cm_reader_init(&r, data.ptr, data.len);
    memset(sm, 0, sizeof(*sm));
    int rc = cm_reader_u64le(&r, &sm->applied);
    rc = rc ? rc : cm_reader_u64le(&r, &sm->chain);
    for (int k = 0; rc == 0 && k <= SIM_KEYS; k++) {
        rc = cm_reader_u64le(&r, &sm->values[k]);
    }
    sm->conf = *conf;
    return rc;
}

/* ---- network ------------------------------------------------------------------------------- */

static bool msg_less(const net_msg *a, const net_msg *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void heap_push(sim *S, net_msg m)
{
    VEC_PUSH(S->heap, S->n_heap, S->cap_heap, m);
    size_t i = S->n_heap - 1;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!msg_less(&S->heap[i], &S->heap[p])) {
            break;
        }
        net_msg t = S->heap[i];
        S->heap[i] = S->heap[p];
        S->heap[p] = t;
        i = p;
    }
}

net_msg sr_heap_pop(sim *S)
{
    net_msg top = S->heap[0];
    S->heap[0] = S->heap[--S->n_heap];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < S->n_heap && msg_less(&S->heap[l], &S->heap[m])) {
            m = l;
        }
        if (r < S->n_heap && msg_less(&S->heap[r], &S->heap[m])) {
            m = r;
        }
        if (m == i) {
            break;
        }
        net_msg t = S->heap[i];
        S->heap[i] = S->heap[m];
        S->heap[m] = t;
        i = m;
    }
    return top;
}

static uint64_t net_delay(sim *S)
{
    uint64_t r = sim_rng_below(&S->rng, 1000000);
    if (S->phase == PHASE_CHAOS && r < S->long_delay_ppm) {
        return sim_rng_range(&S->rng, 40, 250) * MS;
    }
    if (r < S->long_delay_ppm + 80000) {
        return sim_rng_range(&S->rng, 5, 30) * MS;
    }
    return sim_rng_range(&S->rng, 1, 4) * MS;
}

static void net_send(sim *S, const cm_raft_msg *m)
{
    S->res->cov.msgs_sent++;
    sr_ev(S, EV_SEND, m->from, m->to, m->type, m->term);
    uint32_t drop = S->phase == PHASE_CHAOS ? S->drop_ppm : 0;
    if (S->phase == PHASE_CHAOS && S->now < S->storm_until) {
        drop = S->storm_drop_ppm;
    }
    if (sim_rng_chance(&S->rng, drop)) {
        S->res->cov.msgs_dropped++;
        sr_ev(S, EV_DROP, m->from, m->to, m->type, 0);
        return;
    }
    int copies = 1;
    if (S->phase == PHASE_CHAOS && sim_rng_chance(&S->rng, S->dup_ppm)) {
        copies = 2;
        S->res->cov.msgs_duplicated++;
        sr_ev(S, EV_DUP, m->from, m->to, m->type, 0);
    }
    for (int c = 0; c < copies; c++) {
        net_msg x;
        memset(&x, 0, sizeof(x));
        x.at = S->now + net_delay(S);
        x.seq = ++S->msg_seq;
        x.from = m->from;
        x.to = m->to;
        x.type = m->type;
        cm_buf_init(&x.bytes);
        if (cm_raft_msg_encode(m, &x.bytes) != 0) {
            sr_violate(S, "codec", "encoding a %s failed", cm_raft_msg_type_name(m->type));
            cm_buf_fini(&x.bytes);
            return;
        }
        heap_push(S, x);
    }
}

/* ---- nodes --------------------------------------------------------------------------------- */

static void start_raft(sim *S, sim_node *n, bool fresh)
{
    cm_raft_config c = S->tmpl;
    c.id = n->id;
    c.storage = &cm_raft_memstore_ops;
    c.storage_ctx = &n->disk;
    c.rand_cb = raft_rand_cb;
    c.rand_ctx = S;
    clock_ctxs[n->id].S = S;
    clock_ctxs[n->id].n = n;
    c.clock_ns_cb = raft_clock_cb;
    c.clock_ctx = &clock_ctxs[n->id];
    c.applied = n->sm.applied;
    c.fresh_start = fresh;
    cm_err err;
    if (cm_raft_new(&c, &n->r, &err) != 0) {
        sr_violate(S, "restart", "node %" PRIu64 " cannot start: %s", n->id, err.msg);
        return;
    }
    n->up = true;
    n->next_tick_local = local_ns(S, n) + sim_rng_below(&S->rng, TICK_NS);
    cm_raft_status st;
    cm_raft_status_get(n->r, &st);
    n->last_role = st.role;
    n->last_term = st.term;
    n->last_lead = st.lead;
    n->seen_commit = st.commit;
}

void sr_node_create(sim *S, uint64_t id, const cm_raft_conf *bootstrap)
{
    sim_node *n = &S->nodes[id];
    memset(n, 0, sizeof(*n));
    n->id = id;
    n->exists = true;
    cm_raft_memstore_init(&n->disk);
    int64_t drift = (int64_t)S->tmpl.drift_ppm;
    /* Clock rates anywhere within the drift bound, the extremes more often than not. */
    uint64_t pick = sim_rng_below(&S->rng, 4);
    n->skew_ppm = pick == 0   ? drift
                  : pick == 1 ? -drift
                              : (int64_t)sim_rng_below(&S->rng, (uint64_t)(2 * drift + 1)) - drift;
    n->clock_off_ns = sim_rng_range(&S->rng, 1, 1000) * 1000 * MS;
    if (bootstrap != NULL) {
        memset(&n->sm, 0, sizeof(n->sm));
        n->sm.applied = 1;
        n->sm.conf = *bootstrap;
        cm_buf data = CM_BUF_INIT;
        sm_encode(&n->sm, &data);
        cm_raft_snapshot s;
        memset(&s, 0, sizeof(s));
        s.meta.index = 1;
        s.meta.term = 1;
        s.meta.conf = *bootstrap;
        s.data = cm_buf_slice(&data);
        cm_raft_memstore_apply_snapshot(&n->disk, &s);
        cm_buf_fini(&data);
        cm_raft_hard_state hs = {1, 0, 1};
        cm_raft_memstore_set_hard_state(&n->disk, &hs);
    }
    S->chain_at = vec_ensure(S->chain_at, &S->n_chain, 1, sizeof(*S->chain_at));
    S->chain_at[1].set = true;
    S->chain_at[1].chain = 0;
    n->fresh = true;
    start_raft(S, n, true);
}

void sr_acc_stats(sim_node *n)
{
    cm_raft_stats st;
    cm_raft_stats_get(n->r, &st);
    n->acc.elections += st.elections;
    n->acc.pre_votes += st.pre_votes;
    n->acc.snapshots_sent += st.snapshots_sent;
}

void sr_node_crash(sim *S, sim_node *n, bool torn)
{
    if (!n->up) {
        return;
    }
    sr_acc_stats(n);
    cm_raft_free(n->r);
    n->r = NULL;
    n->up = false;
    n->torn_next = false;
    n->paused_until = 0;
    for (size_t i = 0; i < n->n_pw; i++) {
        sim_op *op = sr_op_get(S, n->pw[i].op);
        if (op != NULL) {
            sr_op_finish(S, op, ST_UNKNOWN, 0);
        }
    }
    n->n_pw = 0;
    for (size_t i = 0; i < n->n_pr; i++) {
        sim_op *op = sr_op_get(S, n->pr[i].op);
        if (op != NULL) {
            sr_op_finish(S, op, ST_FAILED, 0);
        }
    }
    n->n_pr = 0;
    for (size_t i = 0; i < n->n_queued; i++) {
        sim_op *op = sr_op_get(S, n->queued[i]);
        if (op != NULL) {
            sr_op_finish(S, op, ST_FAILED, 0); /* never reached the process */
        }
    }
    n->n_queued = 0;
    memset(&n->sm, 0, sizeof(n->sm));
    n->restart_at = S->now + sim_rng_range(&S->rng, 10, 400) * MS;
    S->res->cov.crashes++;
    sr_ev(S, torn ? EV_TORN : EV_CRASH, n->id, n->restart_at / MS, 0, 0);
}

void sr_node_restart(sim *S, sim_node *n)
{
    /* The state machine comes back from the last durable snapshot; raft replays the rest. */
    memset(&n->sm, 0, sizeof(n->sm));
    if (n->disk.snap.index > 0) {
        if (sm_decode(&n->sm, cm_buf_slice(&n->disk.snap_data), &n->disk.snap.conf) != 0 ||
            n->sm.applied != n->disk.snap.index) {
            sr_violate(S, "restart", "node %" PRIu64 ": unreadable snapshot", n->id);
            return;
        }
    }
    start_raft(S, n, false);
    sr_ev(S, EV_RESTART, n->id, n->sm.applied, n->last_term, 0);
}

static void sm_apply(sim *S, sim_node *n, const cm_raft_entry *e)
{
    if (e->index != n->sm.applied + 1) {
        sr_violate(S, "apply", "node %" PRIu64 " applied index %" PRIu64 " after %" PRIu64, n->id,
                   e->index, n->sm.applied);
        return;
    }
    n->sm.chain = sim_mix(sim_mix(n->sm.chain, e->index), sim_mix(e->term, sr_entry_hash(e)));
    S->chain_at = vec_ensure(S->chain_at, &S->n_chain, e->index, sizeof(*S->chain_at));
    chain_rec *c = &S->chain_at[e->index];
    bool first = !c->set;
    if (c->set && c->chain != n->sm.chain) {
        sr_violate(S, "apply",
                   "node %" PRIu64 " applied index %" PRIu64 " (term %" PRIu64
                   ") on top of a different history than another node",
                   n->id, e->index, e->term);
        return;
    }
    c->set = true;
    c->chain = n->sm.chain;
    if (e->type == CM_RAFT_ENTRY_CONF) {
        cm_raft_conf_change cc;
        if (cm_raft_conf_change_decode(e->data, &cc) == 0) {
            cm_raft_conf_apply(&n->sm.conf, &cc);
        }
        if (first && e->index > S->g_conf_index) {
            S->g_conf = n->sm.conf;
            S->g_conf_index = e->index;
            S->res->cov.conf_changes++;
        }
    } else if (e->data.len == 18) {
        cm_reader r;
        cm_reader_init(&r, e->data.ptr, e->data.len);
        uint64_t id, value;
        uint16_t key;
        cm_reader_u64le(&r, &id);
        cm_reader_u16le(&r, &key);
        cm_reader_u64le(&r, &value);
        if (key <= SIM_KEYS) {
            n->sm.values[key] = value;
        }
    }
    n->sm.applied = e->index;
    sr_ev(S, EV_APPLY, n->id, e->index, e->term, e->type);
    sr_resolve_writes_at(S, n, e->index, e->term);
}

static void sm_install(sim *S, sim_node *n, const cm_raft_snapshot *s)
{
    sim_sm sm;
    if (sm_decode(&sm, s->data, &s->meta.conf) != 0 || sm.applied != s->meta.index) {
        sr_violate(S, "apply", "node %" PRIu64 " received an unreadable snapshot", n->id);
        return;
    }
    S->chain_at = vec_ensure(S->chain_at, &S->n_chain, sm.applied, sizeof(*S->chain_at));
    chain_rec *c = &S->chain_at[sm.applied];
    if (c->set && c->chain != sm.chain) {
        sr_violate(S, "apply",
                   "node %" PRIu64 " installed a snapshot at %" PRIu64
                   " whose history differs from what others applied",
                   n->id, sm.applied);
        return;
    }
    c->set = true;
    c->chain = sm.chain;
    n->sm = sm;
    S->res->cov.snapshots_installed++;
    sr_ev(S, EV_SNAP_INSTALL, n->id, s->meta.index, s->meta.term, 0);
    sr_resolve_writes_upto(S, n, s->meta.index);
}

static void persist_entries(sim *S, sim_node *n, const cm_raft_entry *ents, size_t k)
{
    if (k == 0) {
        return;
    }
    if (cm_raft_memstore_append(&n->disk, ents, k) != 0) {
        sr_violate(S, "persist", "node %" PRIu64 " could not append at %" PRIu64, n->id,
                   ents[0].index);
        return;
    }
    for (size_t i = 0; i < k && !S->failed; i++) {
        const cm_raft_entry *e = &ents[i];
        if (e->index <= n->disk.base_index) {
            continue;
        }
        sr_log_record(S, n->id, e->index, e->term, sr_entry_hash(e),
                      cm_raft_memstore_term(&n->disk, e->index - 1));
    }
}

static void maybe_snapshot(sim *S, sim_node *n)
{
    if (n->sm.applied < n->disk.snap.index + S->snap_every || n->sm.applied <= 1 ||
        n->sm.applied > cm_raft_memstore_last_index(&n->disk)) {
        return;
    }
    cm_buf data = CM_BUF_INIT;
    sm_encode(&n->sm, &data);
    int rc =
        cm_raft_memstore_create_snapshot(&n->disk, n->sm.applied, &n->sm.conf, cm_buf_slice(&data));
    cm_buf_fini(&data);
    if (rc != 0) {
        sr_violate(S, "persist", "node %" PRIu64 " could not snapshot at %" PRIu64, n->id,
                   n->sm.applied);
        return;
    }
    uint64_t upto = n->sm.applied > S->snap_keep ? n->sm.applied - S->snap_keep : 0;
    if (upto > n->disk.base_index) {
        cm_raft_memstore_compact(&n->disk, upto);
    }
    S->res->cov.snapshots_taken++;
    sr_ev(S, EV_SNAP_TAKE, n->id, n->sm.applied, n->disk.base_index, 0);
}

/* Handles one ready of node n. Returns false if the node crashed while doing so. */
static bool handle_ready(sim *S, sim_node *n)
{
    cm_raft_ready rd;
    if (cm_raft_ready_get(n->r, &rd) != 0) {
        sr_violate(S, "ready", "node %" PRIu64 ": ready failed", n->id);
        return false;
    }
    /* 1. A leader's appends and heartbeats may leave before its own write. */
    for (size_t i = 0; i < rd.n_msgs_early; i++) {
        net_send(S, &rd.msgs_early[i]);
    }
    /* 2. Persist, then sync: term and vote, snapshot, entries, commit index — the order the
     * contract allows when a ready cannot be written atomically (docs/raft.md). A torn crash
     * keeps only a random prefix of those writes (what reached the disk before the power went). */
    const cm_raft_hard_state *old_hs = &n->disk.hs;
    bool tv = rd.hard_state_changed &&
              (rd.hard_state.term != old_hs->term || rd.hard_state.vote != old_hs->vote);
    bool cm = rd.hard_state_changed && rd.hard_state.commit != old_hs->commit;
    size_t units = (tv ? 1 : 0) + (rd.snapshot ? 1 : 0) + rd.n_entries + (cm ? 1 : 0);
    bool torn = n->torn_next && units > 0;
    size_t budget = torn ? (size_t)sim_rng_below(&S->rng, units + 1) : units;
    if (tv && budget > 0) {
        budget--;
        cm_raft_hard_state hs = n->disk.hs;
        hs.term = rd.hard_state.term;
        hs.vote = rd.hard_state.vote;
        cm_raft_memstore_set_hard_state(&n->disk, &hs);
    } else if (tv) {
        budget = 0;
    }
    if (rd.snapshot != NULL && budget > 0) {
        budget--;
        cm_raft_memstore_apply_snapshot(&n->disk, rd.snapshot);
        uint64_t idx = rd.snapshot->meta.index;
        commit_rec *c = sr_commit_at(S, idx);
        if (c->term != 0 && c->term != rd.snapshot->meta.term) {
            sr_violate(S, "commit",
                       "node %" PRIu64 " received a snapshot at %" PRIu64 " term %" PRIu64
                       " but that index committed with term %" PRIu64,
                       n->id, idx, rd.snapshot->meta.term, c->term);
        }
    } else if (rd.snapshot != NULL) {
        budget = 0; /* a prefix: nothing after the lost snapshot write */
    }
    size_t ek = budget < rd.n_entries ? budget : rd.n_entries;
    persist_entries(S, n, rd.entries, ek);
    budget -= ek;
    if (cm && ek == rd.n_entries && budget > 0) {
        cm_raft_hard_state hs = n->disk.hs;
        if (rd.hard_state.commit > hs.commit) {
            hs.commit = rd.hard_state.commit;
        }
        cm_raft_memstore_set_hard_state(&n->disk, &hs);
    }
    if (torn) {
        S->res->cov.torn_crashes++;
        sr_node_crash(S, n, true);
        return false;
    }
    /* 3. Synced: the rest of the messages. */
    for (size_t i = 0; i < rd.n_msgs; i++) {
        net_send(S, &rd.msgs[i]);
    }
    /* 4. Apply. */
    if (rd.snapshot) {
        sm_install(S, n, rd.snapshot);
    }
    for (size_t i = 0; i < rd.n_committed && !S->failed; i++) {
        sm_apply(S, n, &rd.committed[i]);
    }
    /* 5. Reads. */
    for (size_t i = 0; i < rd.n_reads; i++) {
        const cm_raft_read_state *rs = &rd.reads[i];
        for (size_t j = 0; j < n->n_pr; j++) {
            if (n->pr[j].op == rs->ctx && !n->pr[j].have_index) {
                if (rs->status != 0) {
                    sim_op *op = sr_op_get(S, rs->ctx);
                    if (op != NULL) {
                        sr_op_finish(S, op, ST_FAILED, 0);
                    }
                } else {
                    n->pr[j].have_index = true;
                    n->pr[j].index = rs->index;
                }
            }
        }
    }
    sr_serve_reads(S, n);
    if (cm_raft_advance(n->r, &rd) != 0) {
        sr_violate(S, "ready", "node %" PRIu64 ": advance failed", n->id);
        return false;
    }
    sr_check_node(S, n);
    maybe_snapshot(S, n);
    return true;
}

void sr_process_node(sim *S, sim_node *n)
{
    for (int i = 0; i < 16 && n->up && !S->failed && cm_raft_has_ready(n->r); i++) {
        if (!handle_ready(S, n)) {
            return;
        }
    }
}

bool sr_paused(const sim *S, const sim_node *n)
{
    return n->paused_until > S->now;
}

/* Returns false when the message was put back in the queue (its receiver is paused). */
bool sr_deliver(sim *S, net_msg *x)
{
    sim_node *n = x->to <= SIM_NODES_MAX ? &S->nodes[x->to] : NULL;
    if (n == NULL || !n->exists || !n->up || x->from > SIM_NODES_MAX || S->cut[x->from][x->to]) {
        S->res->cov.msgs_dropped++;
        sr_ev(S, EV_DROP, x->from, x->to, x->type, 1);
        return true;
    }
    if (sr_paused(S, n)) {
        /* The kernel buffers it; the process reads it a little after it resumes, so a request
         * that was already waiting may be served first. */
        x->at = n->paused_until + sim_rng_range(&S->rng, 1, 5) * MS;
        x->seq = ++S->msg_seq;
        heap_push(S, *x);
        return false;
    }
    cm_reader r;
    cm_reader_init(&r, x->bytes.ptr, x->bytes.len);
    cm_arena_reset(&S->arena);
    cm_raft_msg m;
    cm_err err;
    if (cm_raft_msg_decode(&r, &S->arena, &m, &err) != 0 || cm_reader_left(&r) != 0) {
        sr_violate(S, "codec", "message from %" PRIu64 " to %" PRIu64 " does not decode: %s",
                   x->from, x->to, err.msg);
        return true;
    }
    sr_ev(S, EV_DELIVER, x->from, x->to, x->type, m.term);
    int rc = cm_raft_step(n->r, &m);
    if (rc != 0) {
        sr_violate(S, "step", "node %" PRIu64 " rejected a %s from %" PRIu64 ": %s", n->id,
                   cm_raft_msg_type_name(m.type), x->from, cm_err_name(rc));
        return true;
    }
    sr_check_node(S, n);
    return true;
}
