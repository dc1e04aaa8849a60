/* sim_raft_fault.c — the fault schedule: partitions of every shape, crashes and torn crashes,
 * process pauses, loss storms, membership changes, leadership transfers, and healing. */
#include "sim_raft_int.h"

/* ---- faults ------------------------------------------------------------------------------- */

sim_node *sr_find_leader(sim *S)
{
    sim_node *best = NULL;
    uint64_t best_term = 0;
    for (uint64_t id = 1; id <= SIM_NODES_MAX; id++) {
        sim_node *n = &S->nodes[id];
        if (!n->exists || !n->up) {
            continue;
        }
        cm_raft_status st;
        cm_raft_status_get(n->r, &st);
        if (st.role == CM_RAFT_LEADER && st.term > best_term) {
            best = n;
            best_term = st.term;
        }
    }
    return best;
}

static size_t members(sim *S, uint64_t *ids)
{
    size_t k = 0;
    for (uint64_t id = 1; id <= SIM_NODES_MAX; id++) {
        if (S->nodes[id].exists && !S->nodes[id].stopped) {
            ids[k++] = id;
        }
    }
    return k;
}

static void heal_links(sim *S)
{
    memset(S->cut, 0, sizeof(S->cut));
}

static void cut_sides(sim *S, const bool *side, const uint64_t *ids, size_t k)
{
    for (size_t i = 0; i < k; i++) {
        for (size_t j = 0; j < k; j++) {
            if (side[i] != side[j]) {
                S->cut[ids[i]][ids[j]] = true;
            }
        }
    }
}

static void partition(sim *S)
{
    uint64_t ids[SIM_NODES_MAX];
    size_t k = members(S, ids);
    if (k < 2) {
        return;
    }
    heal_links(S);
    bool side[SIM_NODES_MAX] = {false};
    uint64_t kind = sim_rng_below(&S->rng, 5);
    if (kind == 3 && k < 4) {
        kind = 0;
    }
    switch (kind) {
    case 0: { /* random split */
        uint64_t mask = 1 + sim_rng_below(&S->rng, (1ull << k) - 2);
        for (size_t i = 0; i < k; i++) {
            side[i] = (mask >> i) & 1;
        }
        cut_sides(S, side, ids, k);
        break;
    }
    case 1: { /* isolate the leader */
        sim_node *l = sr_find_leader(S);
        uint64_t who = l ? l->id : ids[sim_rng_below(&S->rng, k)];
        for (size_t i = 0; i < k; i++) {
            side[i] = ids[i] == who;
        }
        cut_sides(S, side, ids, k);
        break;
    }
    case 2: /* halves */
        for (size_t i = 0; i < k; i++) {
            side[i] = i < k / 2;
        }
        cut_sides(S, side, ids, k);
        break;
    case 3: { /* ring: each node reaches only its two neighbours */
        uint64_t perm[SIM_NODES_MAX];
        memcpy(perm, ids, k * sizeof(ids[0]));
        for (size_t i = k - 1; i > 0; i--) {
            size_t j = (size_t)sim_rng_below(&S->rng, i + 1);
            uint64_t t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        for (size_t i = 0; i < k; i++) {
            for (size_t j = 0; j < k; j++) {
                size_t d = i > j ? i - j : j - i;
                if (d != 0 && d != 1 && d != k - 1) {
                    S->cut[perm[i]][perm[j]] = true;
                }
            }
        }
        break;
    }
    default: { /* one-way: a can no longer reach b */
        uint64_t a = ids[sim_rng_below(&S->rng, k)], b = ids[sim_rng_below(&S->rng, k)];
        if (a != b) {
            S->cut[a][b] = true;
        }
        break;
    }
    }
    S->res->cov.partitions++;
    sr_ev(S, EV_PARTITION, kind, k, 0, 0);
}

sim_node *sr_random_up(sim *S, bool prefer_leader)
{
    if (prefer_leader && sim_rng_below(&S->rng, 100) < 40) {
        sim_node *l = sr_find_leader(S);
        if (l != NULL) {
            return l;
        }
    }
    uint64_t ids[SIM_NODES_MAX];
    size_t k = 0;
    for (uint64_t id = 1; id <= SIM_NODES_MAX; id++) {
        if (S->nodes[id].exists && S->nodes[id].up) {
            ids[k++] = id;
        }
    }
    return k ? &S->nodes[ids[sim_rng_below(&S->rng, k)]] : NULL;
}

static void inject_fault(sim *S)
{
    uint64_t r = sim_rng_below(&S->rng, 100);
    if (r < 28) {
        partition(S);
    } else if (r < 46) {
        heal_links(S);
        sr_ev(S, EV_HEAL, 0, 0, 0, 0);
    } else if (r < 64) {
        sim_node *n = sr_random_up(S, true);
        if (n != NULL) {
            sr_node_crash(S, n, false);
        }
    } else if (r < 74) {
        sim_node *n = sr_random_up(S, true);
        if (n != NULL) {
            n->torn_next = true;
        }
    } else if (r < 84) {
        /* Stop a process (the leader more often than not) for about an election timeout or
         * more: the classic hazard for leases, which must expire on the stopped node's clock. */
        sim_node *n = sim_rng_below(&S->rng, 100) < 80 ? sr_find_leader(S) : NULL;
        uint64_t index;
        if (n != NULL && S->tmpl.lease_read && cm_raft_lease_read(n->r, &index) != 0 &&
            sim_rng_below(&S->rng, 2) == 0) {
            n = NULL; /* prefer a leader that holds its lease right now */
        }
        n = n != NULL ? n : sr_random_up(S, false);
        if (n != NULL && !sr_paused(S, n)) {
            uint64_t et = ELECTION_TICK * TICK_NS;
            n->paused_until = S->now + sim_rng_range(&S->rng, et / 3, 3 * et);
            S->res->cov.pauses++;
            sr_ev(S, EV_PAUSE, n->id, n->paused_until / MS, 0, 0);
        }
    } else if (r < 90) {
        for (uint64_t id = 1; id <= SIM_NODES_MAX; id++) {
            sim_node *n = &S->nodes[id];
            if (n->exists && !n->up && !n->stopped) {
                n->restart_at = S->now;
                break;
            }
        }
    } else {
        S->storm_until = S->now + sim_rng_range(&S->rng, 20, 200) * MS;
        S->storm_drop_ppm = (uint32_t)sim_rng_range(&S->rng, 200000, 800000);
        sr_ev(S, EV_STORM, S->storm_drop_ppm, S->storm_until / MS, 0, 0);
    }
}

static void try_conf_change(sim *S)
{
    sim_node *l = sr_find_leader(S);
    if (l == NULL) {
        return;
    }
    cm_raft_status st;
    cm_raft_status_get(l->r, &st);
    if (st.conf_pending) {
        return;
    }
    cm_raft_conf_change cc = {0, 0};
    if (st.conf.n_learners > 0) {
        uint64_t who = st.conf.learners[0];
        cm_raft_progress_info pi;
        bool caught_up = cm_raft_progress_of(l->r, who, &pi) == 0 && pi.match + 5 >= st.commit;
        if (sim_rng_below(&S->rng, 10) == 0 || st.conf.n_voters > S->n_base) {
            cc = (cm_raft_conf_change){CM_RAFT_CONF_REMOVE, who};
        } else if (caught_up) {
            cc = (cm_raft_conf_change){CM_RAFT_CONF_ADD_VOTER, who};
        } else {
            return;
        }
    } else if (st.conf.n_voters > S->n_base) {
        uint64_t who = st.conf.voters[sim_rng_below(&S->rng, st.conf.n_voters)];
        cc = (cm_raft_conf_change){CM_RAFT_CONF_REMOVE, who};
    } else {
        uint64_t id = S->pending_add;
        if (id == 0) {
            if (S->next_id > SIM_NODES_MAX) {
                return;
            }
            id = S->next_id++;
            sr_node_create(S, id, NULL);
            S->pending_add = id;
            sr_ev(S, EV_ADD_NODE, id, 0, 0, 0);
        }
        cc = (cm_raft_conf_change){CM_RAFT_CONF_ADD_LEARNER, id};
    }
    uint64_t index, term;
    int rc = cm_raft_propose_conf(l->r, &cc, &index, &term);
    if (rc == 0 && cc.op == CM_RAFT_CONF_ADD_LEARNER) {
        S->pending_add = 0;
    }
    sr_ev(S, EV_CONF, l->id, cc.op, cc.node, (uint64_t)-rc);
}

static void try_transfer(sim *S)
{
    sim_node *l = sr_find_leader(S);
    if (l == NULL) {
        return;
    }
    cm_raft_status st;
    cm_raft_status_get(l->r, &st);
    if (st.conf.n_voters < 2) {
        return;
    }
    uint64_t to = st.conf.voters[sim_rng_below(&S->rng, st.conf.n_voters)];
    if (to == l->id) {
        return;
    }
    int rc = cm_raft_transfer_leader(l->r, to);
    S->res->cov.transfers++;
    sr_ev(S, EV_TRANSFER, l->id, to, (uint64_t)-rc, 0);
}

uint64_t sr_exp_ms(sim *S, uint64_t mean_ms)
{
    /* A cheap exponential-ish draw: sum of two uniforms in [0, mean]. */
    return (sim_rng_below(&S->rng, mean_ms + 1) + sim_rng_below(&S->rng, mean_ms + 1)) * MS + MS;
}

static void isolate(sim *S, uint64_t who)
{
    heal_links(S);
    for (uint64_t o = 1; o <= SIM_NODES_MAX; o++) {
        if (o != who) {
            S->cut[who][o] = true;
            S->cut[o][who] = true;
        }
    }
    S->res->cov.partitions++;
    sr_ev(S, EV_PARTITION, 5, who, 0, 0);
}

void sr_chaos_step(sim *S)
{
    if (S->isolate_at != 0 && S->now >= S->isolate_at) {
        isolate(S, S->isolate_who);
        S->isolate_at = 0;
        S->unisolate_at = S->now + sim_rng_range(&S->rng, 20, 200) * MS;
    }
    if (S->unisolate_at != 0 && S->now >= S->unisolate_at) {
        heal_links(S);
        S->unisolate_at = 0;
        sr_ev(S, EV_HEAL, 1, 0, 0, 0);
    }
    if (S->now >= S->next_fault_at) {
        inject_fault(S);
        S->next_fault_at = S->now + sr_exp_ms(S, S->fault_mean_ms);
    }
    if (S->now >= S->forced_crash_at && S->res->cov.crashes == 0) {
        sim_node *n = sr_random_up(S, true);
        if (n != NULL) {
            sr_node_crash(S, n, false);
        }
    }
    if (S->now >= S->forced_part_at && S->res->cov.partitions == 0) {
        partition(S);
    }
    if (S->now >= S->next_conf_at) {
        try_conf_change(S);
        S->next_conf_at = S->now + sr_exp_ms(S, S->conf_mean_ms);
    }
    if (S->now >= S->next_transfer_at) {
        try_transfer(S);
        S->next_transfer_at = S->now + sr_exp_ms(S, S->transfer_mean_ms);
    }
    for (uint64_t id = 1; id <= SIM_NODES_MAX; id++) {
        sim_node *n = &S->nodes[id];
        if (n->exists && n->up && !n->torn_next && sim_rng_chance(&S->rng, S->torn_ppm)) {
            n->torn_next = true;
        }
    }
}

void sr_begin_heal(sim *S)
{
    S->phase = PHASE_HEAL;
    heal_links(S);
    S->storm_until = 0;
    bool removed_may_stay = S->tmpl.pre_vote && S->tmpl.check_quorum;
    for (uint64_t id = 1; id <= SIM_NODES_MAX; id++) {
        sim_node *n = &S->nodes[id];
        if (!n->exists || n->stopped) {
            continue;
        }
        n->torn_next = false;
        n->paused_until = 0;
        bool member = in_conf(&S->g_conf, id);
        if (!member && !removed_may_stay) {
            /* A removed node that cannot be kept quiet by pre-vote and check-quorum would keep
             * disturbing the group; shut it down as an operator would. */
            if (n->up) {
                sr_acc_stats(n);
                cm_raft_free(n->r);
                n->r = NULL;
                n->up = false;
            }
            n->stopped = true;
            sr_ev(S, EV_STOP, id, 0, 0, 0);
            continue;
        }
        if (!n->up) {
            n->restart_at = S->now;
        }
    }
    sr_ev(S, EV_PHASE, PHASE_HEAL, 0, 0, 0);
}

void sr_restarts_due(sim *S)
{
    for (uint64_t id = 1; id <= SIM_NODES_MAX && !S->failed; id++) {
        sim_node *n = &S->nodes[id];
        if (n->exists && !n->up && !n->stopped && S->now >= n->restart_at) {
            sr_node_restart(S, n);
        }
    }
}
