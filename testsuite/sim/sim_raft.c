/*
 * sim_raft.c — one Raft group under deterministic simulation (see sim_raft.h).
 *
 * Each node is a cm_raft over a cm_raft_memstore that models the node's disk: the memstore holds
 * only what was synced. A ready is persisted op by op (snapshot, entries, hard state) and synced
 * before its non-early messages leave; a "torn" crash persists a random prefix of those ops and
 * loses the rest, as a crash between write and fsync does. The state machine is a small
 * key-value map whose state is also folded into a hash chain over the applied entries, so two
 * nodes that applied different entries anywhere in their history disagree on the chain.
 *
 * Checkers (all on every event unless noted):
 *   election    at most one leader per term
 *   completeness a new leader holds every entry committed in an earlier term
 *   commit      an index, once committed, never commits with another term
 *   durability  a leader's commit index is durable on a quorum of its configuration
 *   logmatch    two persisted entries with the same index and term have the same data and the
 *               same predecessor term (which by induction makes the logs equal up to there)
 *   apply       the same entry is applied at the same index everywhere (hash chain, snapshots
 *               included)
 *   step/codec  no correct peer's message is ever rejected as corrupt
 *   linearizable (end of run) every key's history of writes, ReadIndex and lease reads
 *   liveness    (after healing) a leader commits a probe write that reaches every live voter
 *   coverage    (end of run) the run did a minimum of work
 */
#include "sim_raft_int.h"

static const char *const ev_names[] = {
    "send",      "deliver",      "drop",      "dup",   "role",     "commit",   "apply", "crash",
    "torn",      "restart",      "partition", "heal",  "conf",     "transfer", "call",  "return",
    "snap-take", "snap-install", "phase",     "storm", "add-node", "stop",     "pause",
};

void sr_ev(sim *S, ev_type t, uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
    uint64_t h = sim_mix(S->hash, S->now);
    h = sim_mix(h, (uint64_t)t);
    h = sim_mix(h, a);
    h = sim_mix(h, b);
    h = sim_mix(h, c);
    S->hash = sim_mix(h, d);
    if (S->o.trace != NULL) {
        fprintf(S->o.trace, "%10.3f %-12s %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
                (double)S->now / (double)MS, ev_names[t], a, b, c, d);
    }
}

void sr_violate(sim *S, const char *check, const char *fmt, ...)
{
    if (S->failed) {
        return;
    }
    S->failed = true;
    S->res->ok = false;
    snprintf(S->res->check, sizeof(S->res->check), "%s", check);
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(S->res->why, sizeof(S->res->why), "t=%.3fms: ", (double)S->now / (double)MS);
    vsnprintf(S->res->why + n, sizeof(S->res->why) - (size_t)n, fmt, ap);
    va_end(ap);
    if (S->o.trace != NULL) {
        fprintf(S->o.trace, "VIOLATION %s: %s\n", S->res->check, S->res->why);
    }
}

static void sim_free(sim *S)
{
    for (uint64_t id = 1; id <= SIM_NODES_MAX; id++) {
        sim_node *n = &S->nodes[id];
        if (!n->exists) {
            continue;
        }
        if (n->r != NULL) {
            cm_raft_free(n->r);
        }
        cm_raft_memstore_fini(&n->disk);
        free(n->pw);
        free(n->pr);
        free(n->queued);
    }
    for (size_t i = 0; i < S->n_heap; i++) {
        cm_buf_fini(&S->heap[i].bytes);
    }
    free(S->heap);
    free(S->leader_of_term);
    free(S->committed);
    free(S->chain_at);
    free(S->logmap);
    free(S->ops);
    cm_arena_fini(&S->arena);
}

static void choose_params(sim *S)
{
    sim_rng *g = &S->rng;
    S->n_base = S->o.nodes ? S->o.nodes : (sim_rng_below(g, 2) ? 5 : 3);
    cm_raft_config *c = &S->tmpl;
    cm_raft_config_default(c);
    c->election_tick = ELECTION_TICK;
    c->heartbeat_tick = (uint32_t)sim_rng_range(g, 1, 3);
    c->pre_vote = sim_rng_below(g, 100) < 85;
    c->check_quorum = sim_rng_below(g, 100) < 85;
    c->lease_read = c->check_quorum;
    c->tick_ns = TICK_NS;
    static const uint32_t drifts[] = {0, 5000, 20000, 50000};
    c->drift_ppm = drifts[sim_rng_below(g, 4)];
    /* Small messages (one entry each) split an old leader's entries from the new leader's own,
     * which is where Figure 8 lives; large ones exercise batching. */
    static const uint64_t msg_bytes[] = {40, 40, 120, 600, 1u << 20};
    c->max_msg_bytes = msg_bytes[sim_rng_below(g, 5)];
    static const uint32_t windows[] = {1, 2, 4, 16, 256};
    c->max_inflight = windows[sim_rng_below(g, 5)];
    static const uint64_t apply_bytes[] = {0, 100, 4096};
    c->max_apply_bytes = apply_bytes[sim_rng_below(g, 3)];
    static const uint32_t drops[] = {0, 10000, 50000, 150000};
    S->drop_ppm = drops[sim_rng_below(g, 4)];
    static const uint32_t dups[] = {0, 10000, 50000};
    S->dup_ppm = dups[sim_rng_below(g, 3)];
    S->long_delay_ppm = (uint32_t)sim_rng_range(g, 0, 30000);
    S->fault_mean_ms = sim_rng_range(g, 60, 300);
    static const uint64_t conf_means[] = {150, 400, 1500, 100000};
    S->conf_mean_ms = conf_means[sim_rng_below(g, 4)];
    static const uint64_t transfer_means[] = {300, 1000, 100000};
    S->transfer_mean_ms = transfer_means[sim_rng_below(g, 3)];
    S->torn_ppm = (uint32_t)sim_rng_range(g, 0, 600);
    static const uint32_t flaky[] = {0, 300000, 600000, 900000, 900000};
    S->flaky_leader_ppm = flaky[sim_rng_below(g, 5)];
    S->snap_every = sim_rng_range(g, 5, 60);
    S->snap_keep = sim_rng_range(g, 0, 10);
}

int sim_raft_run(const sim_raft_opts *o, sim_raft_result *res)
{
    sim *S = calloc(1, sizeof(*S));
    if (S == NULL) {
        abort();
    }
    memset(res, 0, sizeof(*res));
    res->ok = true;
    S->o = *o;
    S->res = res;
    sim_rng_seed(&S->rng, o->seed);
    S->hash = sim_mix(0, o->seed);
    cm_arena_init(&S->arena, 0);
    choose_params(S);
    res->nodes = S->n_base;
    uint64_t chaos_ns = (o->chaos_ms ? o->chaos_ms : CHAOS_MS_DEFAULT) * MS;
    S->heal_at = chaos_ns;
    S->next_fault_at = sim_rng_range(&S->rng, 100, 300) * MS;
    S->forced_crash_at = chaos_ns / 4 + sim_rng_below(&S->rng, chaos_ns / 4);
    S->forced_part_at = chaos_ns / 2 + sim_rng_below(&S->rng, chaos_ns / 4);
    S->next_conf_at = sim_rng_range(&S->rng, 100, 400) * MS + sr_exp_ms(S, S->conf_mean_ms) / 2;
    S->next_transfer_at =
        sim_rng_range(&S->rng, 100, 600) * MS + sr_exp_ms(S, S->transfer_mean_ms) / 2;
    cm_raft_conf boot;
    memset(&boot, 0, sizeof(boot));
    for (int i = 1; i <= S->n_base; i++) {
        boot.voters[boot.n_voters++] = (uint64_t)i;
    }
    S->g_conf = boot;
    S->g_conf_index = 1;
    for (int i = 1; i <= S->n_base; i++) {
        sr_node_create(S, (uint64_t)i, &boot);
    }
    S->next_id = (uint64_t)S->n_base + 1;
    for (int i = 0; i < SIM_CLIENTS; i++) {
        S->clients[i].next_at = sim_rng_range(&S->rng, 50, 150) * MS;
        S->clients[i].stale = i >= SIM_CLIENTS / 2;
    }
    if (o->trace != NULL) {
        fprintf(o->trace,
                "# seed %" PRIu64 " nodes %d pre_vote %d check_quorum %d lease %d drift_ppm %u "
                "heartbeat_tick %u max_msg_bytes %" PRIu64 " inflight %u drop_ppm %u dup_ppm %u\n",
                o->seed, S->n_base, S->tmpl.pre_vote, S->tmpl.check_quorum, S->tmpl.lease_read,
                S->tmpl.drift_ppm, S->tmpl.heartbeat_tick, S->tmpl.max_msg_bytes,
                S->tmpl.max_inflight, S->drop_ppm, S->dup_ppm);
    }
    while (!S->failed && S->phase != PHASE_DONE) {
        S->now += STEP_NS;
        res->cov.steps_ms++;
        if (S->phase == PHASE_CHAOS && S->now >= S->heal_at) {
            sr_begin_heal(S);
        }
        if (S->phase == PHASE_CHAOS) {
            sr_chaos_step(S);
        }
        sr_restarts_due(S);
        sr_resume_queued(S);
        while (!S->failed && S->n_heap > 0 && S->heap[0].at <= S->now) {
            net_msg m = sr_heap_pop(S);
            if (sr_deliver(S, &m)) {
                cm_buf_fini(&m.bytes);
            }
        }
        for (uint64_t id = 1; id <= SIM_NODES_MAX && !S->failed; id++) {
            sim_node *n = &S->nodes[id];
            if (!n->exists || !n->up || sr_paused(S, n)) {
                continue;
            }
            uint64_t local = local_ns(S, n);
            if (local >= n->next_tick_local) {
                n->next_tick_local += TICK_NS;
                if (n->next_tick_local <= local) {
                    n->next_tick_local = local + TICK_NS; /* after a pause: one tick, not a burst */
                }
                cm_raft_tick(n->r);
                sr_check_node(S, n);
            }
        }
        if (!S->failed) {
            sr_clients_step(S);
        }
        for (uint64_t id = 1; id <= SIM_NODES_MAX && !S->failed; id++) {
            sim_node *n = &S->nodes[id];
            if (n->exists && n->up && !sr_paused(S, n)) {
                sr_process_node(S, n);
            }
        }
        if (!S->failed && S->phase == PHASE_HEAL) {
            sr_liveness_step(S);
        }
    }
    /* Whatever is still open has an unknown outcome. */
    for (size_t i = 0; i < S->n_ops; i++) {
        sim_op *op = &S->ops[i];
        if (op->status == ST_PENDING) {
            sr_op_finish(S, op, op->kind == OP_WRITE ? ST_UNKNOWN : ST_FAILED, 0);
        }
    }
    for (uint64_t id = 1; id <= SIM_NODES_MAX; id++) {
        sim_node *n = &S->nodes[id];
        if (n->exists) {
            if (n->up) {
                sr_acc_stats(n);
            }
            res->cov.elections += n->acc.elections;
            res->cov.pre_votes += n->acc.pre_votes;
            res->cov.snapshots_sent += n->acc.snapshots_sent;
        }
    }
    if (!S->failed) {
        sr_check_linearizable(S);
    }
    if (!S->failed && !o->no_min_coverage) {
        sr_check_coverage(S);
    }
    res->trace_hash = S->hash;
    sim_free(S);
    free(S);
    return res->ok ? 0 : 1;
}

void sim_raft_print_coverage(FILE *f, const sim_raft_coverage *c)
{
    fprintf(f,
            "steps_ms=%" PRIu64 " elections=%" PRIu64 " pre_votes=%" PRIu64
            " leader_changes=%" PRIu64 " max_term=%" PRIu64 " conf_changes=%" PRIu64
            " snapshots_sent=%" PRIu64 " snapshots_installed=%" PRIu64 " snapshots_taken=%" PRIu64
            " partitions=%" PRIu64 " pauses=%" PRIu64 " crashes=%" PRIu64 " torn_crashes=%" PRIu64
            " transfers=%" PRIu64 " writes_ok=%" PRIu64 " writes_failed=%" PRIu64
            " writes_unknown=%" PRIu64 " reads_ok=%" PRIu64 " lease_reads_ok=%" PRIu64
            " reads_refused=%" PRIu64 " msgs_sent=%" PRIu64 " msgs_dropped=%" PRIu64
            " msgs_duplicated=%" PRIu64 " liveness_ms=%" PRIu64 "\n",
            c->steps_ms, c->elections, c->pre_votes, c->leader_changes, c->max_term,
            c->conf_changes, c->snapshots_sent, c->snapshots_installed, c->snapshots_taken,
            c->partitions, c->pauses, c->crashes, c->torn_crashes, c->transfers, c->writes_ok,
            c->writes_failed, c->writes_unknown, c->reads_ok, c->lease_reads_ok, c->reads_refused,
            c->msgs_sent, c->msgs_dropped, c->msgs_duplicated, c->liveness_ms);
}
