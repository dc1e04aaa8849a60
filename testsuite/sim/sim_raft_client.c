/* sim_raft_client.c — clients (writes, ReadIndex and lease reads over a rotating key set; half
 * of them with stale routes), their operations' outcomes, and the liveness probe. */
#include "sim_raft_int.h"

/* ---- clients' operations ----------------------------------------------------------------------
 */

sim_op *sr_op_get(sim *S, uint64_t id)
{
    return (id >= 1 && id <= S->n_ops) ? &S->ops[id - 1] : NULL;
}

void sr_op_finish(sim *S, sim_op *op, int status, uint64_t value)
{
    if (op->status != ST_PENDING) {
        return;
    }
    op->status = (uint8_t)status;
    if (status == ST_OK) {
        op->ret = ++S->event_seq;
        if (op->kind != OP_WRITE) {
            op->value = value;
        }
    } else {
        op->ret = SIM_LIN_PENDING;
    }
    if (status == ST_FAILED && !op->probe && op->key < SIM_KEYS) {
        S->key_ops[op->key]--; /* no effect: not part of the history */
    }
    sim_raft_coverage *c = &S->res->cov;
    if (op->kind == OP_WRITE) {
        c->writes_ok += status == ST_OK && !op->probe;
        c->writes_failed += status == ST_FAILED;
        c->writes_unknown += status == ST_UNKNOWN;
    } else if (status == ST_OK) {
        if (op->kind == OP_READ_LEASE) {
            c->lease_reads_ok++;
        } else {
            c->reads_ok++;
        }
    } else {
        c->reads_refused++;
    }
    sr_ev(S, EV_RETURN, op->id, status, op->kind == OP_WRITE ? op->index : value, op->node);
}

void sr_serve_reads(sim *S, sim_node *n)
{
    size_t k = 0;
    for (size_t i = 0; i < n->n_pr; i++) {
        pending_r *p = &n->pr[i];
        sim_op *op = sr_op_get(S, p->op);
        if (op == NULL || op->status != ST_PENDING) {
            continue;
        }
        if (p->have_index && n->sm.applied >= p->index) {
            sr_op_finish(S, op, ST_OK, n->sm.values[op->key]);
            continue;
        }
        n->pr[k++] = *p;
    }
    n->n_pr = k;
}

void sr_resolve_writes_at(sim *S, sim_node *n, uint64_t index, uint64_t term)
{
    size_t k = 0;
    for (size_t i = 0; i < n->n_pw; i++) {
        pending_w *p = &n->pw[i];
        sim_op *op = sr_op_get(S, p->op);
        if (op == NULL || op->status != ST_PENDING) {
            continue;
        }
        if (p->index == index) {
            sr_op_finish(S, op, p->term == term ? ST_OK : ST_FAILED, 0);
            continue;
        }
        n->pw[k++] = *p;
    }
    n->n_pw = k;
}

/* A snapshot jumped over pending proposals: their fate is in the committed log. */
void sr_resolve_writes_upto(sim *S, sim_node *n, uint64_t upto)
{
    size_t k = 0;
    for (size_t i = 0; i < n->n_pw; i++) {
        pending_w *p = &n->pw[i];
        sim_op *op = sr_op_get(S, p->op);
        if (op == NULL || op->status != ST_PENDING) {
            continue;
        }
        if (p->index <= upto) {
            uint64_t t = p->index < S->n_committed ? S->committed[p->index].term : 0;
            sr_op_finish(S, op, t == 0 ? ST_UNKNOWN : (t == p->term ? ST_OK : ST_FAILED), 0);
            continue;
        }
        n->pw[k++] = *p;
    }
    n->n_pw = k;
}

/* ---- clients -------------------------------------------------------------------------------- */

static sim_op *new_op(sim *S, uint8_t kind, uint16_t key, sim_node *n)
{
    sim_op op;
    memset(&op, 0, sizeof(op));
    op.id = S->n_ops + 1;
    op.kind = kind;
    op.key = key;
    op.status = ST_PENDING;
    op.call = ++S->event_seq;
    op.node = n->id;
    op.deadline = S->now + (kind == OP_WRITE ? WRITE_TIMEOUT_NS : READ_TIMEOUT_NS);
    VEC_PUSH(S->ops, S->n_ops, S->cap_ops, op);
    sr_ev(S, EV_CALL, op.id, kind, key, n->id);
    return &S->ops[S->n_ops - 1];
}

static bool propose_write(sim *S, sim_op *op, sim_node *n)
{
    op->value = op->id;
    uint8_t data[18];
    for (int i = 0; i < 8; i++) {
        data[i] = (uint8_t)(op->id >> (8 * i));
        data[10 + i] = (uint8_t)(op->value >> (8 * i));
    }
    data[8] = (uint8_t)op->key;
    data[9] = (uint8_t)(op->key >> 8);
    uint64_t index, term;
    int rc = cm_raft_propose(n->r, cm_slice_make(data, sizeof(data)), &index, &term);
    if (rc != 0) {
        sr_op_finish(S, op, ST_FAILED, 0);
        return false;
    }
    op->index = index;
    pending_w p = {op->id, index, term};
    VEC_PUSH(n->pw, n->n_pw, n->cap_pw, p);
    return true;
}

/* Runs a client operation at node n (which may have stopped leading since it was chosen). */
static void exec_op(sim *S, sim_op *op, sim_node *n)
{
    cm_raft_status st;
    cm_raft_status_get(n->r, &st);
    if (st.role != CM_RAFT_LEADER) {
        sr_op_finish(S, op, ST_FAILED, 0); /* NotLeader: nothing happened */
        return;
    }
    if (op->kind == OP_WRITE) {
        propose_write(S, op, n);
    } else if (op->kind == OP_READ_INDEX) {
        int rc = cm_raft_read_index(n->r, op->id);
        if (rc != 0) {
            sr_op_finish(S, op, ST_FAILED, 0);
        } else {
            pending_r p = {op->id, 0, false};
            VEC_PUSH(n->pr, n->n_pr, n->cap_pr, p);
        }
    } else {
        uint64_t index;
        int rc = cm_raft_lease_read(n->r, &index);
        if (rc == 0) {
            sr_check_lease(S, n);
        }
        if (rc != 0) {
            sr_op_finish(S, op, ST_FAILED, 0);
        } else {
            pending_r p = {op->id, index, true};
            VEC_PUSH(n->pr, n->n_pr, n->cap_pr, p);
            sr_serve_reads(S, n);
        }
    }
}

static void start_op(sim *S, sim_client *c)
{
    sim_node *n = c->guess ? &S->nodes[c->guess] : NULL;
    if (n == NULL || !n->exists || !n->up) {
        n = sr_random_up(S, false);
    }
    if (n == NULL) {
        c->next_at = S->now + sim_rng_range(&S->rng, 1, 5) * MS;
        return;
    }
    bool stopped = sr_paused(S, n);
    if (!stopped) {
        cm_raft_status st;
        cm_raft_status_get(n->r, &st);
        if (st.role != CM_RAFT_LEADER) {
            /* Follow the leader hint, as a client library does on NotLeader; a client with a
             * stale route keeps its route until told otherwise, and else picks at random. */
            c->guess = (st.lead != 0 && st.lead <= SIM_NODES_MAX) ? st.lead : 0;
            c->next_at = S->now + sim_rng_range(&S->rng, 1, 5) * MS;
            return;
        }
    } else if (!c->stale) {
        c->guess = 0; /* an unresponsive node: a careful client looks elsewhere */
        c->next_at = S->now + sim_rng_range(&S->rng, 1, 5) * MS;
        return;
    }
    c->guess = n->id;
    uint16_t keys[ACTIVE_KEYS];
    int nk = 0;
    uint64_t epoch = S->now / EPOCH_NS;
    for (int k = 0; k < ACTIVE_KEYS; k++) {
        uint16_t key = (uint16_t)((epoch * ACTIVE_KEYS + (uint64_t)k) % SIM_KEYS);
        if (S->key_ops[key] < SIM_KEY_OPS_MAX) {
            keys[nk++] = key;
        }
    }
    if (nk == 0) {
        c->next_at = S->now + 5 * MS;
        return;
    }
    uint16_t key = keys[sim_rng_below(&S->rng, (uint64_t)nk)];
    /* Clients with stale routes mostly read: a deposed leader must refuse them. */
    uint64_t r = sim_rng_below(&S->rng, 100);
    uint64_t w = c->stale ? 30 : 50;
    uint8_t kind = r < w                                        ? OP_WRITE
                   : (r < (100 + w) / 2 || !S->tmpl.lease_read) ? OP_READ_INDEX
                                                                : OP_READ_LEASE;
    S->key_ops[key]++;
    sim_op *op = new_op(S, kind, key, n);
    c->op = op->id;
    if (stopped) {
        /* The request waits in the stopped process's socket and is served when it resumes —
         * before it reads the raft messages that queued up meanwhile. */
        VEC_PUSH(n->queued, n->n_queued, n->cap_queued, op->id);
        return;
    }
    exec_op(S, op, n);
}

/* Nodes whose pause ended serve the requests that waited for them. */
void sr_resume_queued(sim *S)
{
    for (uint64_t id = 1; id <= SIM_NODES_MAX && !S->failed; id++) {
        sim_node *n = &S->nodes[id];
        if (!n->exists || !n->up || sr_paused(S, n) || n->n_queued == 0) {
            continue;
        }
        for (size_t i = 0; i < n->n_queued; i++) {
            sim_op *op = sr_op_get(S, n->queued[i]);
            if (op != NULL && op->status == ST_PENDING) {
                exec_op(S, op, n);
            }
        }
        n->n_queued = 0;
    }
}

static void drop_pending_op(sim *S, sim_op *op)
{
    if (op->node > SIM_NODES_MAX) {
        return;
    }
    sim_node *n = &S->nodes[op->node];
    for (size_t i = 0; i < n->n_pw; i++) {
        if (n->pw[i].op == op->id) {
            n->pw[i] = n->pw[--n->n_pw];
            break;
        }
    }
    for (size_t i = 0; i < n->n_pr; i++) {
        if (n->pr[i].op == op->id) {
            n->pr[i] = n->pr[--n->n_pr];
            break;
        }
    }
    for (size_t i = 0; i < n->n_queued; i++) {
        if (n->queued[i] == op->id) {
            n->queued[i] = n->queued[--n->n_queued];
            break;
        }
    }
}

void sr_clients_step(sim *S)
{
    for (int i = 0; i < SIM_CLIENTS; i++) {
        sim_client *c = &S->clients[i];
        if (c->done) {
            continue;
        }
        if (c->op != 0) {
            sim_op *op = sr_op_get(S, c->op);
            if (op->status == ST_PENDING && S->now >= op->deadline) {
                /* The client gives up: a write's outcome is now unknown; a read has no effect. */
                drop_pending_op(S, op);
                sr_op_finish(S, op, op->kind == OP_WRITE ? ST_UNKNOWN : ST_FAILED, 0);
            }
            if (op->status == ST_PENDING) {
                continue;
            }
            c->op = 0;
            c->next_at = S->now + sim_rng_range(&S->rng, 0, 8) * MS;
        }
        if (S->now >= c->next_at) {
            start_op(S, c);
        }
    }
}

/* ---- liveness ---------------------------------------------------------------------------------
 */

void sr_liveness_step(sim *S)
{
    if (S->probe_done) {
        const sim_raft_coverage *c = &S->res->cov;
        bool enough =
            c->writes_ok >= MIN_WRITES_OK && c->reads_ok + c->lease_reads_ok >= MIN_READS_OK;
        bool clients_done = true;
        for (int i = 0; i < SIM_CLIENTS; i++) {
            clients_done = clients_done && S->clients[i].done;
        }
        if (S->now >= S->settle_until && (enough || clients_done || S->o.no_min_coverage)) {
            S->phase = PHASE_DONE;
        } else if (S->now >= S->heal_at + LIVENESS_NS) {
            S->phase = PHASE_DONE; /* check_coverage reports what was missing */
        }
        return;
    }
    sim_op *probe = sr_op_get(S, S->probe_op);
    if (probe == NULL || probe->status == ST_FAILED || probe->status == ST_UNKNOWN ||
        (probe->status == ST_PENDING && S->now >= probe->deadline)) {
        if (probe != NULL && probe->status == ST_PENDING) {
            drop_pending_op(S, probe);
            sr_op_finish(S, probe, ST_UNKNOWN, 0);
        }
        sim_node *l = sr_find_leader(S);
        if (l != NULL) {
            sim_op *op = new_op(S, OP_WRITE, PROBE_KEY, l);
            op->probe = true;
            S->probe_op = op->id;
            propose_write(S, op, l);
        }
    } else if (probe->status == ST_OK) {
        bool all = true;
        for (int i = 0; i < S->g_conf.n_voters; i++) {
            sim_node *n = &S->nodes[S->g_conf.voters[i]];
            if (!n->up || n->sm.applied < probe->index) {
                all = false;
            }
        }
        if (all) {
            S->probe_done = true;
            S->res->cov.liveness_ms = (S->now - S->heal_at) / MS;
            S->settle_until = S->now + SETTLE_NS;
        }
    }
    if (!S->probe_done && S->now >= S->heal_at + LIVENESS_NS) {
        sim_node *l = sr_find_leader(S);
        char behind[128] = "";
        size_t off = 0;
        for (int i = 0; i < S->g_conf.n_voters && off < sizeof(behind) - 24; i++) {
            sim_node *n = &S->nodes[S->g_conf.voters[i]];
            off += (size_t)snprintf(behind + off, sizeof(behind) - off, " %" PRIu64 "@%" PRIu64,
                                    n->id, n->sm.applied);
        }
        sr_violate(S, "liveness",
                   "%.0f ms after healing: leader %" PRIu64 ", probe %s; voters applied:%s",
                   (double)LIVENESS_NS / MS, l ? l->id : 0,
                   probe == NULL            ? "never proposed"
                   : probe->status == ST_OK ? "committed"
                                            : "pending",
                   behind);
    }
}
