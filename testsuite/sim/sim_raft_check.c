/* sim_raft_check.c — the simulator's checkers (listed in sim_raft.c's header comment). */
#include "sim_raft_int.h"

/* ---- checkers -------------------------------------------------------------------------------- */

void sr_log_record(sim *S, uint64_t node, uint64_t index, uint64_t term, uint64_t h, uint64_t prev)
{
    if (S->n_logmap * 2 >= S->cap_logmap) {
        size_t ncap = S->cap_logmap ? S->cap_logmap * 2 : 1024;
        log_rec *m = calloc(ncap, sizeof(*m));
        if (m == NULL) {
            abort();
        }
        for (size_t i = 0; i < S->cap_logmap; i++) {
            if (S->logmap[i].used) {
                size_t j = sim_mix(S->logmap[i].index, S->logmap[i].term) & (ncap - 1);
                while (m[j].used) {
                    j = (j + 1) & (ncap - 1);
                }
                m[j] = S->logmap[i];
            }
        }
        free(S->logmap);
        S->logmap = m;
        S->cap_logmap = ncap;
    }
    size_t j = sim_mix(index, term) & (S->cap_logmap - 1);
    while (S->logmap[j].used) {
        log_rec *e = &S->logmap[j];
        if (e->index == index && e->term == term) {
            if (e->h != h || e->prev != prev) {
                sr_violate(S, "logmatch",
                           "node %" PRIu64 " persisted index %" PRIu64 " term %" PRIu64
                           " with different %s than another node",
                           node, index, term, e->h != h ? "data" : "predecessor term");
            }
            return;
        }
        j = (j + 1) & (S->cap_logmap - 1);
    }
    S->logmap[j] = (log_rec){index, term, h, prev, true};
    S->n_logmap++;
}

uint64_t sr_entry_hash(const cm_raft_entry *e)
{
    return hash_bytes(e->data, e->type);
}

commit_rec *sr_commit_at(sim *S, uint64_t index)
{
    S->committed = vec_ensure(S->committed, &S->n_committed, index, sizeof(*S->committed));
    return &S->committed[index];
}

static void check_leader_completeness(sim *S, sim_node *n, const cm_raft_status *st)
{
    uint64_t lo = st->first_index > 1 ? st->first_index : 1;
    for (uint64_t i = lo; i <= S->max_committed && i < S->n_committed; i++) {
        const commit_rec *c = &S->committed[i];
        if (c->term == 0 || c->by_term >= st->term) {
            continue;
        }
        uint64_t t = 0;
        int rc = cm_raft_term_at(n->r, i, &t);
        if (rc == CM_E_NOT_FOUND) {
            continue; /* inside its snapshot: the apply chain covers it */
        }
        if (rc != 0 || t != c->term) {
            sr_violate(S, "completeness",
                       "node %" PRIu64 " became leader of term %" PRIu64 " without index %" PRIu64
                       " (term %" PRIu64 ", committed in term %" PRIu64 "); it has term %" PRIu64,
                       n->id, st->term, i, c->term, c->by_term, rc == 0 ? t : 0);
            return;
        }
    }
}

static void check_durable_quorum(sim *S, sim_node *n, const cm_raft_status *st)
{
    uint64_t c = st->commit;
    uint64_t t = sr_commit_at(S, c)->term;
    int have = 0;
    for (int i = 0; i < st->conf.n_voters; i++) {
        uint64_t v = st->conf.voters[i];
        if (v > SIM_NODES_MAX || !S->nodes[v].exists) {
            continue;
        }
        const cm_raft_memstore *d = &S->nodes[v].disk;
        if (d->base_index >= c || cm_raft_memstore_term(d, c) == t) {
            have++;
        }
    }
    if (have < quorum_of(&st->conf)) {
        sr_violate(S, "durability",
                   "leader %" PRIu64 " committed index %" PRIu64 " (term %" PRIu64
                   ") but only %d of %d voters have it on disk",
                   n->id, c, t, have, st->conf.n_voters);
    }
}

/* Last index and term of a node's log: its raft log when running, else its disk. */
static void node_last(sim *S, const sim_node *x, bool durable, uint64_t *li, uint64_t *lt)
{
    if (!durable && x->up) {
        cm_raft_status st;
        cm_raft_status_get(x->r, &st);
        *li = st.last_index;
        *lt = 0;
        cm_raft_term_at(x->r, st.last_index, lt);
        return;
    }
    *li = cm_raft_memstore_last_index(&x->disk);
    *lt = cm_raft_memstore_term(&x->disk, *li);
    (void)S;
}

static bool node_has(const sim_node *x, uint64_t index, uint64_t term)
{
    if (x->up) {
        uint64_t t = 0;
        int rc = cm_raft_term_at(x->r, index, &t);
        return rc == CM_E_NOT_FOUND || (rc == 0 && t == term);
    }
    return x->disk.base_index >= index || cm_raft_memstore_term(&x->disk, index) == term;
}

/*
 * Commit safety, checked the moment a leader advances its commit index to c: no voter lacking
 * entry (c, t) could still win an election, because a majority of voters hold logs (on disk)
 * more up to date than its own. Correct Raft guarantees it: that majority is the one that
 * acknowledged c. Committing an earlier term's entry by counting replicas (Figure 8) breaks it
 * whenever some node holds a conflicting entry of a later term.
 */
static void check_commit_safety(sim *S, sim_node *l, const cm_raft_status *st)
{
    uint64_t c = st->commit;
    uint64_t t = sr_commit_at(S, c)->term;
    for (int i = 0; i < st->conf.n_voters && !S->failed; i++) {
        uint64_t xid = st->conf.voters[i];
        if (xid > SIM_NODES_MAX || !S->nodes[xid].exists || S->nodes[xid].stopped) {
            continue;
        }
        const sim_node *x = &S->nodes[xid];
        if (node_has(x, c, t)) {
            continue;
        }
        uint64_t xi, xt;
        node_last(S, x, false, &xi, &xt);
        int grants = 0;
        for (int j = 0; j < st->conf.n_voters; j++) {
            uint64_t vid = st->conf.voters[j];
            if (vid > SIM_NODES_MAX || !S->nodes[vid].exists) {
                continue;
            }
            uint64_t vi, vt;
            node_last(S, &S->nodes[vid], true, &vi, &vt);
            if (vid == xid || xt > vt || (xt == vt && xi >= vi)) {
                grants++;
            }
        }
        if (grants >= quorum_of(&st->conf)) {
            sr_violate(S, "commit-safety",
                       "leader %" PRIu64 " (term %" PRIu64 ") committed index %" PRIu64
                       " (term %" PRIu64 ") while voter %" PRIu64 " without it (last %" PRIu64
                       "/term %" PRIu64 ") could still collect %d of %d votes",
                       l->id, st->term, c, t, xid, xi, xt, grants, st->conf.n_voters);
        }
    }
}

/* After anything that may have changed node n's raft state. */
void sr_check_node(sim *S, sim_node *n)
{
    if (!n->up || S->failed) {
        return;
    }
    cm_raft_status st;
    cm_raft_status_get(n->r, &st);
    if (st.role != n->last_role || st.term != n->last_term || st.lead != n->last_lead) {
        sr_ev(S, EV_ROLE, n->id, st.role, st.term, st.lead);
    }
    if (st.term > S->res->cov.max_term) {
        S->res->cov.max_term = st.term;
    }
    if (st.role == CM_RAFT_LEADER && (n->last_role != CM_RAFT_LEADER || n->last_term != st.term)) {
        S->leader_of_term =
            vec_ensure(S->leader_of_term, &S->n_lot, st.term, sizeof(*S->leader_of_term));
        uint64_t prev = S->leader_of_term[st.term];
        if (prev != 0 && prev != n->id) {
            sr_violate(S, "election",
                       "nodes %" PRIu64 " and %" PRIu64 " both leaders of term %" PRIu64, prev,
                       n->id, st.term);
            return;
        }
        S->leader_of_term[st.term] = n->id;
        S->res->cov.leader_changes++;
        if (S->phase == PHASE_CHAOS && S->isolate_at == 0 &&
            sim_rng_chance(&S->rng, S->flaky_leader_ppm)) {
            /* Leaders cut off before their first entries spread are what Figure 8 is made of. */
            S->isolate_at = S->now + sim_rng_range(&S->rng, 0, 15) * MS;
            S->isolate_who = n->id;
        }
        check_leader_completeness(S, n, &st);
    }
    n->last_role = st.role;
    n->last_term = st.term;
    n->last_lead = st.lead;
    if (st.commit > n->seen_commit) {
        for (uint64_t i = n->seen_commit + 1; i <= st.commit && !S->failed; i++) {
            uint64_t t;
            if (cm_raft_term_at(n->r, i, &t) != 0) {
                continue; /* compacted: reached through a snapshot */
            }
            commit_rec *c = sr_commit_at(S, i);
            if (c->term == 0) {
                c->term = t;
                c->by_term = st.term;
                if (i > S->max_committed) {
                    S->max_committed = i;
                }
            } else if (c->term != t) {
                sr_violate(S, "commit",
                           "index %" PRIu64 " committed with term %" PRIu64 " (in term %" PRIu64
                           "), node %" PRIu64 " commits it with term %" PRIu64,
                           i, c->term, c->by_term, n->id, t);
            }
        }
        sr_ev(S, EV_COMMIT, n->id, st.commit, st.term, st.role);
        if (st.role == CM_RAFT_LEADER && !S->failed) {
            check_durable_quorum(S, n, &st);
            check_commit_safety(S, n, &st);
        }
        n->seen_commit = st.commit;
    }
}

/*
 * The lease's own claim, checked the moment a lease read is granted: while a leader's lease
 * holds, no leader of a later term has been elected (the quorum that acknowledged the lease's
 * heartbeat round promised not to vote for one). Catches a lease that outlives that promise even
 * when no client happens to read a key that the new leader has changed.
 */
void sr_check_lease(sim *S, sim_node *n)
{
    cm_raft_status st;
    cm_raft_status_get(n->r, &st);
    for (uint64_t t = st.term + 1; t < S->n_lot; t++) {
        if (S->leader_of_term[t] != 0) {
            sr_violate(S, "lease",
                       "node %" PRIu64 " granted a lease read in term %" PRIu64
                       " after node %" PRIu64 " was elected leader of term %" PRIu64,
                       n->id, st.term, S->leader_of_term[t], t);
            return;
        }
    }
}

/* ---- end of run ----------------------------------------------------------------------------- */

void sr_check_linearizable(sim *S)
{
    /* Bucket the history by key (counting sort), then check each key on its own. */
    size_t *start = calloc(SIM_KEYS + 2, sizeof(*start));
    size_t *order = calloc(S->n_ops + 1, sizeof(*order));
    if (start == NULL || order == NULL) {
        abort();
    }
    for (size_t i = 0; i < S->n_ops; i++) {
        start[S->ops[i].key + 1]++;
    }
    for (int k = 0; k <= SIM_KEYS; k++) {
        start[k + 1] += start[k];
    }
    size_t *fill = calloc(SIM_KEYS + 1, sizeof(*fill));
    if (fill == NULL) {
        abort();
    }
    for (size_t i = 0; i < S->n_ops; i++) {
        uint16_t k = S->ops[i].key;
        order[start[k] + fill[k]++] = i;
    }
    sim_lin_op hist[SIM_LIN_OPS_MAX];
    for (int k = 0; k < SIM_KEYS && !S->failed; k++) {
        size_t n = 0;
        for (size_t j = start[k]; j < start[k + 1]; j++) {
            const sim_op *op = &S->ops[order[j]];
            bool in = op->status == ST_OK || (op->kind == OP_WRITE && op->status == ST_UNKNOWN);
            if (!in || op->probe) {
                continue;
            }
            if (n == SIM_LIN_OPS_MAX) {
                sr_violate(S, "linearizable", "key %d has more than %d operations", k,
                           SIM_LIN_OPS_MAX);
                break;
            }
            hist[n].call = op->call;
            hist[n].ret = op->status == ST_OK ? op->ret : SIM_LIN_PENDING;
            hist[n].write = op->kind == OP_WRITE;
            hist[n].value = op->value;
            hist[n].id = op->id;
            n++;
        }
        if (S->failed) {
            break;
        }
        char why[256];
        sim_lin_result lr = sim_lin_check(hist, n, 0, why, sizeof(why));
        if (lr != SIM_LIN_OK) {
            sr_violate(S, "linearizable", "key %d (%zu ops): %s", k, n, why);
        }
    }
    free(start);
    free(order);
    free(fill);
}

void sr_check_coverage(sim *S)
{
    const sim_raft_coverage *c = &S->res->cov;
    uint64_t reads = c->reads_ok + c->lease_reads_ok;
    if (c->writes_ok < MIN_WRITES_OK || reads < MIN_READS_OK || c->leader_changes < MIN_LEADERS ||
        c->crashes < MIN_CRASHES || c->partitions < MIN_PARTITIONS) {
        sr_violate(S, "coverage",
                   "too little work: writes %" PRIu64 " (min %d), reads %" PRIu64
                   " (min %d), leaders %" PRIu64 " (min %d), crashes %" PRIu64
                   " (min %d), partitions %" PRIu64 " (min %d)",
                   c->writes_ok, MIN_WRITES_OK, reads, MIN_READS_OK, c->leader_changes, MIN_LEADERS,
                   c->crashes, MIN_CRASHES, c->partitions, MIN_PARTITIONS);
    }
}
