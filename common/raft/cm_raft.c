/*
 * cm_raft.c — roles, elections and message dispatch of the Raft core (Raft paper §5.2, thesis
 * §9.6 for pre-vote and check-quorum). The follower and candidate sides live here; the leader's
 * side is cm_raft_leader.c, ready/advance cm_raft_ready.c.
 */
#include "cm_raft_int.h"

#include <stdlib.h>
#include <string.h>

#define COMPONENT "raft"

const char *cm_raft_role_name(cm_raft_role role)
{
    switch (role) {
    case CM_RAFT_FOLLOWER:
        return "follower";
    case CM_RAFT_PRECANDIDATE:
        return "pre-candidate";
    case CM_RAFT_CANDIDATE:
        return "candidate";
    case CM_RAFT_LEADER:
        return "leader";
    }
    return "?";
}

void cm_raft_config_default(cm_raft_config *c)
{
    memset(c, 0, sizeof(*c));
    c->election_tick = 10;
    c->heartbeat_tick = 1;
    c->pre_vote = true;
    c->check_quorum = true;
    c->lease_read = false;
    c->tick_ns = 100u * 1000 * 1000;
    c->drift_ppm = 10000;
    c->max_msg_bytes = 1u << 20;
    c->max_inflight = 256;
    c->max_apply_bytes = 4u << 20;
}

uint64_t cm_raft_lease_ns(const cm_raft_config *cfg)
{
    if (cfg->election_tick < 2 || cfg->drift_ppm >= 500000) {
        return 0;
    }
    /* A follower that heard the leader refuses other candidates for election_tick ticks of its
     * own clock; the first of those ticks may come at once, so the promise is (election_tick-1)
     * ticks. Clocks err by at most rho each way, so the leader shortens the promise by 2*rho:
     * (1 - 2*rho) <= (1 - rho) / (1 + rho). */
    unsigned __int128 base = (unsigned __int128)(cfg->election_tick - 1) * cfg->tick_ns;
    return (uint64_t)(base * (1000000u - 2u * cfg->drift_ppm) / 1000000u);
}

static int validate_config(const cm_raft_config *c, cm_err *err)
{
    if (c->id == CM_RAFT_NONE) {
        return cm_err_set(err, CM_E_INVALID, "raft: node id must be >= 1");
    }
    if (c->heartbeat_tick < 1 || c->election_tick <= c->heartbeat_tick) {
        return cm_err_set(err, CM_E_INVALID,
                          "raft: need 1 <= heartbeat_tick < election_tick (got %u, %u)",
                          c->heartbeat_tick, c->election_tick);
    }
    if (c->max_inflight < 1 || c->max_inflight > CM_RAFT_INFLIGHT_MAX || c->max_msg_bytes == 0) {
        return cm_err_set(err, CM_E_INVALID, "raft: bad flow control settings");
    }
    const cm_raft_storage_ops *s = c->storage;
    if (s == NULL || s->initial_state_cb == NULL || s->first_index_cb == NULL ||
        s->last_index_cb == NULL || s->term_cb == NULL || s->entries_cb == NULL ||
        s->snapshot_cb == NULL) {
        return cm_err_set(err, CM_E_INVALID, "raft: storage callbacks missing");
    }
    if (c->rand_cb == NULL) {
        return cm_err_set(err, CM_E_INVALID, "raft: a random source must be injected");
    }
    if (c->lease_read) {
        if (!c->check_quorum || c->clock_ns_cb == NULL || c->tick_ns == 0 ||
            cm_raft_lease_ns(c) == 0) {
            return cm_err_set(err, CM_E_INVALID,
                              "raft: lease reads need check_quorum, a clock, tick_ns, "
                              "election_tick >= 2 and drift < 50%%");
        }
    }
    return 0;
}

static void reset_randomized_timeout(cm_raft *r)
{
    uint64_t x = r->cfg.rand_cb(r->cfg.rand_ctx);
    r->randomized_timeout = r->cfg.election_tick + (uint32_t)(x % r->cfg.election_tick);
}

uint64_t raft_now_ns(cm_raft *r)
{
    return r->cfg.clock_ns_cb ? r->cfg.clock_ns_cb(r->cfg.clock_ctx) : 0;
}

raft_progress *raft_pr_get(cm_raft *r, uint64_t id)
{
    for (size_t i = 0; i < r->n_prs; i++) {
        if (r->prs[i].id == id) {
            return &r->prs[i];
        }
    }
    return NULL;
}

bool raft_is_voter(const cm_raft *r, uint64_t id)
{
    return cm_raft_conf_is_voter(&r->conf, id);
}

bool raft_promotable(const cm_raft *r)
{
    return raft_is_voter(r, r->id) && r->log.u.snap == NULL;
}

int cm_raft_new(const cm_raft_config *cfg, cm_raft **out, cm_err *err)
{
    *out = NULL;
    int rc = validate_config(cfg, err);
    if (rc != 0) {
        return rc;
    }
    cm_raft *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "raft: out of memory");
    }
    r->cfg = *cfg;
    r->id = cfg->id;
    cm_arena_init(&r->arena, 4096);
    raft_log_init(&r->log, cfg->storage, cfg->storage_ctx);
    cm_raft_hard_state hs;
    cm_raft_conf conf;
    memset(&hs, 0, sizeof(hs));
    memset(&conf, 0, sizeof(conf));
    rc = cfg->storage->initial_state_cb(cfg->storage_ctx, &hs, &conf);
    if (rc != 0) {
        cm_raft_free(r);
        return cm_err_set(err, rc, "raft %llu: reading the initial state",
                          (unsigned long long)cfg->id);
    }
    uint64_t first = raft_log_first_index(&r->log);
    uint64_t last = raft_log_last_index(&r->log);
    uint64_t commit = hs.commit > first - 1 ? hs.commit : first - 1;
    if (commit > last) {
        /* The hard state reached the disk but entries of the same ready did not (the contract
         * lets term and vote go first): those entries are committed elsewhere, not here. */
        commit = last;
    }
    uint64_t last_term = raft_log_last_term(&r->log);
    if (last_term > hs.term) {
        cm_raft_free(r);
        return cm_err_set(err, CM_E_CORRUPT,
                          "raft %llu: log holds term %llu but the hard state only term %llu "
                          "(term and vote must be durable no later than entries)",
                          (unsigned long long)cfg->id, (unsigned long long)last_term,
                          (unsigned long long)hs.term);
    }
    if (cfg->applied > commit || cfg->applied + 1 < first) {
        cm_raft_free(r);
        return cm_err_set(err, CM_E_CORRUPT,
                          "raft %llu: inconsistent state (first %llu last %llu commit %llu "
                          "applied %llu)",
                          (unsigned long long)cfg->id, (unsigned long long)first,
                          (unsigned long long)last, (unsigned long long)commit,
                          (unsigned long long)cfg->applied);
    }
    r->log.committed = commit;
    r->log.applied = cfg->applied;
    rc = raft_conf_load(r, &conf, err);
    if (rc != 0) {
        cm_raft_free(r);
        return rc;
    }
    r->term = hs.term;
    r->vote = hs.vote;
    r->prev_hs = hs;
    r->prev_hs.commit = commit;
    raft_become_follower(r, r->term, CM_RAFT_NONE);
    r->restart_quiet = !cfg->fresh_start;
    *out = r;
    return 0;
}

void cm_raft_free(cm_raft *r)
{
    if (r == NULL) {
        return;
    }
    for (size_t i = 0; i < r->n_prs; i++) {
        raft_pr_fini(&r->prs[i]);
    }
    raft_log_fini(&r->log);
    cm_arena_fini(&r->arena);
    free(r->msgs);
    free(r->msgs_early);
    free(r->rstates);
    free(r->reads);
    free(r);
}

static int push_msg(cm_raft_msg **arr, size_t *n, size_t *cap, const cm_raft_msg *m)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        cm_raft_msg *p = realloc(*arr, nc * sizeof(*p));
        if (p == NULL) {
            return CM_E_NOMEM;
        }
        *arr = p;
        *cap = nc;
    }
    (*arr)[(*n)++] = *m;
    return 0;
}

void raft_send(cm_raft *r, cm_raft_msg *m)
{
    m->from = r->id;
    if (m->term == 0) {
        m->term = r->term;
    }
    /* A leader's appends, heartbeats, snapshots and TimeoutNow promise nothing about the leader's
     * own disk (it counts itself only after persisting), so they may leave before the ready is
     * persisted. Everything else carries a promise about durable state. */
    bool early = r->role == CM_RAFT_LEADER &&
                 (m->type == CM_RAFT_MSG_APP || m->type == CM_RAFT_MSG_HEARTBEAT ||
                  m->type == CM_RAFT_MSG_SNAP || m->type == CM_RAFT_MSG_TIMEOUT_NOW);
    int rc = early ? push_msg(&r->msgs_early, &r->n_msgs_early, &r->cap_msgs_early, m)
                   : push_msg(&r->msgs, &r->n_msgs, &r->cap_msgs, m);
    if (rc != 0) {
        r->deferred_err = rc; /* the message is lost, which Raft tolerates */
    }
}

static void msg_init(cm_raft_msg *m, uint8_t type, uint64_t to)
{
    memset(m, 0, sizeof(*m));
    m->type = type;
    m->to = to;
}

void raft_set_commit(cm_raft *r, uint64_t index)
{
    if (index > r->log.committed) {
        CM_ASSERT(index <= raft_log_last_index(&r->log));
        r->log.committed = index;
    }
}

static void reset_term(cm_raft *r, uint64_t term)
{
    if (r->term != term) {
        r->term = term;
        r->vote = CM_RAFT_NONE;
    }
    r->lead = CM_RAFT_NONE;
    r->election_elapsed = 0;
    r->heartbeat_elapsed = 0;
    reset_randomized_timeout(r);
    raft_abort_transfer(r);
    r->need_bcast = false;
    r->need_round = false;
    for (size_t i = 0; i < r->n_prs; i++) {
        r->prs[i].vote = RAFT_VOTE_NONE;
    }
}

void raft_become_follower(cm_raft *r, uint64_t term, uint64_t lead)
{
    if (r->role == CM_RAFT_LEADER) {
        raft_fail_reads(r);
    }
    reset_term(r, term);
    r->lead = lead;
    r->role = CM_RAFT_FOLLOWER;
}

/* Counts votes among voters: 1 won, -1 lost, 0 undecided. */
static int tally(cm_raft *r)
{
    size_t granted = 0, rejected = 0;
    for (size_t i = 0; i < r->n_prs; i++) {
        const raft_progress *p = &r->prs[i];
        if (p->learner) {
            continue;
        }
        granted += p->vote == RAFT_VOTE_GRANTED;
        rejected += p->vote == RAFT_VOTE_REJECTED;
    }
    size_t q = raft_quorum(r);
    if (granted >= q) {
        return 1;
    }
    if (rejected > (size_t)r->conf.n_voters - q) {
        return -1;
    }
    return 0;
}

static void record_vote(cm_raft *r, uint64_t id, bool granted)
{
    raft_progress *p = raft_pr_get(r, id);
    if (p != NULL && !p->learner && p->vote == RAFT_VOTE_NONE) {
        p->vote = granted ? RAFT_VOTE_GRANTED : RAFT_VOTE_REJECTED;
    }
}

void raft_campaign(cm_raft *r, bool pre, bool force)
{
    if (!raft_promotable(r) || r->role == CM_RAFT_LEADER) {
        return;
    }
    uint64_t vote_term;
    uint8_t type;
    if (pre) {
        /* Pre-vote: ask whether we could win term+1 without moving our term, so a node that
         * was cut off cannot push the group's term up on its return. */
        reset_term(r, r->term);
        r->role = CM_RAFT_PRECANDIDATE;
        vote_term = r->term + 1;
        type = CM_RAFT_MSG_PREVOTE;
        r->stats.pre_votes++;
    } else {
        reset_term(r, r->term + 1);
        r->vote = r->id;
        r->role = CM_RAFT_CANDIDATE;
        vote_term = r->term;
        type = CM_RAFT_MSG_VOTE;
        r->stats.elections++;
    }
    record_vote(r, r->id, true);
    if (tally(r) == 1) {
        if (pre) {
            raft_campaign(r, false, force);
        } else {
            raft_become_leader(r);
        }
        return;
    }
    uint64_t last = raft_log_last_index(&r->log);
    uint64_t last_term = raft_log_last_term(&r->log);
    for (size_t i = 0; i < r->conf.n_voters; i++) {
        uint64_t to = r->conf.voters[i];
        if (to == r->id) {
            continue;
        }
        cm_raft_msg m;
        msg_init(&m, type, to);
        m.term = vote_term;
        m.index = last;
        m.log_term = last_term;
        m.flags = force ? CM_RAFT_FLAG_FORCE : 0;
        raft_send(r, &m);
    }
}

static void reply(cm_raft *r, const cm_raft_msg *req, uint8_t type, uint64_t term)
{
    cm_raft_msg m;
    msg_init(&m, type, req->from);
    m.term = term;
    raft_send(r, &m);
}

static void handle_vote_request(cm_raft *r, const cm_raft_msg *m)
{
    bool pre = m->type == CM_RAFT_MSG_PREVOTE;
    uint8_t resp = pre ? CM_RAFT_MSG_PREVOTE_RESP : CM_RAFT_MSG_VOTE_RESP;
    /* We may vote for whom we already voted for, for anyone if we have neither voted nor seen a
     * leader this term, and pre-vote for anyone asking about a later term. */
    bool can_vote = r->vote == m->from || (r->vote == CM_RAFT_NONE && r->lead == CM_RAFT_NONE) ||
                    (pre && m->term > r->term);
#ifdef CM_RAFT_PLANT_VOTE_NO_LOG_CHECK
    bool up_to_date = true; /* planted bug: the election restriction (§5.4.1) is skipped */
#else
    bool up_to_date = raft_log_up_to_date(&r->log, m->index, m->log_term);
#endif
    if (can_vote && up_to_date) {
        reply(r, m, resp, m->term);
        if (!pre) {
            r->election_elapsed = 0;
            r->vote = m->from;
        }
    } else {
        cm_raft_msg out;
        msg_init(&out, resp, m->from);
        out.term = r->term;
        out.flags = CM_RAFT_FLAG_REJECT;
        raft_send(r, &out);
    }
}

static int handle_append(cm_raft *r, const cm_raft_msg *m)
{
    cm_raft_msg out;
    msg_init(&out, CM_RAFT_MSG_APP_RESP, m->from);
    if (m->index < r->log.committed) {
        out.index = r->log.committed;
        raft_send(r, &out);
        return 0;
    }
    if (raft_log_match_term(&r->log, m->index, m->log_term)) {
        uint64_t last_new = m->index + m->n_entries;
        uint64_t ci = raft_log_find_conflict(&r->log, m->entries, m->n_entries);
        if (ci != 0) {
            if (ci <= r->log.committed) {
                return CM_E_CORRUPT; /* would rewrite a committed entry */
            }
            size_t off = (size_t)(ci - (m->index + 1));
            if (ci <= raft_log_last_index(&r->log)) {
                int rc = raft_conf_on_truncate(r, ci);
                if (rc != 0) {
                    return rc;
                }
            }
            int rc = raft_log_append(&r->log, m->entries + off, m->n_entries - off);
            if (rc == 0) {
                rc = raft_conf_on_append(r, m->entries + off, m->n_entries - off);
            }
            if (rc != 0) {
                return rc;
            }
        }
        raft_set_commit(r, m->commit < last_new ? m->commit : last_new);
        out.index = last_new;
        raft_send(r, &out);
        return 0;
    }
    uint64_t last = raft_log_last_index(&r->log);
    uint64_t hint = m->index < last ? m->index : last;
    uint64_t hint_term = 0;
    hint = raft_log_find_conflict_by_term(&r->log, hint, m->log_term, &hint_term);
    out.flags = CM_RAFT_FLAG_REJECT;
    out.index = m->index;
    out.reject_hint = hint;
    out.log_term = hint_term;
    raft_send(r, &out);
    return 0;
}

static void handle_heartbeat(cm_raft *r, const cm_raft_msg *m)
{
    uint64_t last = raft_log_last_index(&r->log);
    raft_set_commit(r, m->commit < last ? m->commit : last);
    cm_raft_msg out;
    msg_init(&out, CM_RAFT_MSG_HEARTBEAT_RESP, m->from);
    out.hb_seq = m->hb_seq;
    out.hb_time_ns = m->hb_time_ns;
    raft_send(r, &out);
}

static int handle_snapshot(cm_raft *r, const cm_raft_msg *m)
{
    const cm_raft_snapshot *s = m->snapshot;
    cm_raft_msg out;
    msg_init(&out, CM_RAFT_MSG_APP_RESP, m->from);
    if (s->meta.index <= r->log.committed) {
        out.index = r->log.committed;
        raft_send(r, &out);
        return 0;
    }
    if (raft_log_match_term(&r->log, s->meta.index, s->meta.term)) {
        /* We already have the entries: fast-forward the commit index only. */
        raft_set_commit(r, s->meta.index);
        out.index = r->log.committed;
        raft_send(r, &out);
        return 0;
    }
    int rc = raft_log_restore(&r->log, s);
    if (rc == 0) {
        rc = raft_conf_on_restore(r, &s->meta.conf);
    }
    if (rc != 0) {
        return rc;
    }
    r->stats.snapshots_restored++;
    out.index = s->meta.index;
    raft_send(r, &out);
    return 0;
}

static int step_follower(cm_raft *r, const cm_raft_msg *m)
{
    switch (m->type) {
    case CM_RAFT_MSG_APP:
        r->election_elapsed = 0;
        r->lead = m->from;
        return handle_append(r, m);
    case CM_RAFT_MSG_HEARTBEAT:
        r->election_elapsed = 0;
        r->lead = m->from;
        handle_heartbeat(r, m);
        return 0;
    case CM_RAFT_MSG_SNAP:
        r->election_elapsed = 0;
        r->lead = m->from;
        return handle_snapshot(r, m);
    case CM_RAFT_MSG_TIMEOUT_NOW:
        /* Only our leader may hand leadership over; a stale TimeoutNow from an older leader
         * arrives with an older term and never reaches here. */
        if (m->from == r->lead) {
            raft_campaign(r, false, true);
        }
        return 0;
    default:
        return 0;
    }
}

static int step_candidate(cm_raft *r, const cm_raft_msg *m)
{
    switch (m->type) {
    case CM_RAFT_MSG_APP:
    case CM_RAFT_MSG_HEARTBEAT:
    case CM_RAFT_MSG_SNAP:
        /* A leader of our term exists. */
        raft_become_follower(r, m->term, m->from);
        return step_follower(r, m);
    case CM_RAFT_MSG_VOTE_RESP:
    case CM_RAFT_MSG_PREVOTE_RESP: {
        bool pre = r->role == CM_RAFT_PRECANDIDATE;
        if (pre != (m->type == CM_RAFT_MSG_PREVOTE_RESP)) {
            return 0; /* answer to an earlier round */
        }
        if (pre && !(m->flags & CM_RAFT_FLAG_REJECT) && m->term != r->term + 1) {
            return 0; /* a grant for an earlier pre-vote round */
        }
        record_vote(r, m->from, !(m->flags & CM_RAFT_FLAG_REJECT));
        int t = tally(r);
        if (t == 1) {
            if (pre) {
                raft_campaign(r, false, false);
            } else {
                raft_become_leader(r);
            }
        } else if (t == -1) {
            raft_become_follower(r, r->term, CM_RAFT_NONE);
        }
        return 0;
    }
    default:
        return 0;
    }
}

int cm_raft_step(cm_raft *r, const cm_raft_msg *m)
{
    if (r->ready_out) {
        return CM_E_BUSY;
    }
    cm_err err;
    int rc = raft_msg_validate(m, &err);
    if (rc != 0) {
        r->stats.msgs_rejected++;
        CM_WARN(COMPONENT, "node=%llu dropped message: %s", (unsigned long long)r->id, err.msg);
        return rc;
    }
    if (m->to != r->id || m->from == r->id) {
        return 0; /* misrouted */
    }
    bool vote_req = m->type == CM_RAFT_MSG_VOTE || m->type == CM_RAFT_MSG_PREVOTE;
    if (m->term > r->term) {
        if (vote_req) {
            bool force = (m->flags & CM_RAFT_FLAG_FORCE) != 0;
            /* Check-quorum's leader lease: a node that heard from a leader less than an election
             * timeout ago (or restarted less than one ago) ignores other candidates. Leader
             * leases for reads rest on this promise. */
            bool in_lease = r->cfg.check_quorum && (r->lead != CM_RAFT_NONE || r->restart_quiet) &&
                            r->election_elapsed < r->cfg.election_tick;
            if (!force && in_lease) {
                return 0;
            }
        }
        if (m->type == CM_RAFT_MSG_PREVOTE ||
            (m->type == CM_RAFT_MSG_PREVOTE_RESP && !(m->flags & CM_RAFT_FLAG_REJECT))) {
            /* Pre-votes never move terms. */
        } else {
            bool from_leader = m->type == CM_RAFT_MSG_APP || m->type == CM_RAFT_MSG_HEARTBEAT ||
                               m->type == CM_RAFT_MSG_SNAP;
            raft_become_follower(r, m->term, from_leader ? m->from : CM_RAFT_NONE);
        }
    } else if (m->term < r->term) {
        if ((r->cfg.check_quorum || r->cfg.pre_vote) &&
            (m->type == CM_RAFT_MSG_APP || m->type == CM_RAFT_MSG_HEARTBEAT)) {
            /* Tell a stale leader about the newer term so it steps down. */
            reply(r, m, CM_RAFT_MSG_APP_RESP, r->term);
        } else if (m->type == CM_RAFT_MSG_PREVOTE) {
            cm_raft_msg out;
            msg_init(&out, CM_RAFT_MSG_PREVOTE_RESP, m->from);
            out.term = r->term;
            out.flags = CM_RAFT_FLAG_REJECT;
            raft_send(r, &out);
        }
        return 0;
    }
    if (vote_req) {
        handle_vote_request(r, m);
        return 0;
    }
    switch (r->role) {
    case CM_RAFT_LEADER:
        raft_leader_step(r, m);
        rc = 0;
        break;
    case CM_RAFT_CANDIDATE:
    case CM_RAFT_PRECANDIDATE:
        rc = step_candidate(r, m);
        break;
    default:
        rc = step_follower(r, m);
        break;
    }
    if (rc != 0) {
        r->stats.msgs_rejected++;
        CM_WARN(COMPONENT, "node=%llu message type=%s from=%llu broke an invariant: %s",
                (unsigned long long)r->id, cm_raft_msg_type_name(m->type),
                (unsigned long long)m->from, cm_err_name(rc));
    }
    return rc;
}

int cm_raft_tick(cm_raft *r)
{
    if (r->ready_out) {
        return CM_E_BUSY;
    }
    if (r->role == CM_RAFT_LEADER) {
        raft_leader_tick(r);
        return 0;
    }
    r->election_elapsed++;
    if (r->election_elapsed >= r->cfg.election_tick) {
        r->restart_quiet = false;
    }
    if (raft_promotable(r) && r->election_elapsed >= r->randomized_timeout) {
        r->election_elapsed = 0;
        raft_campaign(r, r->cfg.pre_vote, false);
    }
    return 0;
}

int cm_raft_campaign(cm_raft *r)
{
    if (r->ready_out) {
        return CM_E_BUSY;
    }
    raft_campaign(r, r->cfg.pre_vote, false);
    return 0;
}

int cm_raft_propose(cm_raft *r, cm_slice data, uint64_t *index, uint64_t *term)
{
    if (r->ready_out) {
        return CM_E_BUSY;
    }
    if (r->role != CM_RAFT_LEADER) {
        return CM_E_NOT_LEADER;
    }
    if (r->transferee != CM_RAFT_NONE) {
        return CM_E_BUSY;
    }
    if (data.len > CM_RAFT_ENTRY_BYTES_MAX) {
        return CM_E_TOO_LARGE;
    }
    cm_raft_entry e;
    memset(&e, 0, sizeof(e));
    e.type = CM_RAFT_ENTRY_NORMAL;
    e.data = data;
    int rc = raft_leader_append(r, &e, 1);
    if (rc != 0) {
        return rc;
    }
    *index = e.index;
    *term = e.term;
    return 0;
}

void cm_raft_status_get(const cm_raft *r, cm_raft_status *st)
{
    memset(st, 0, sizeof(*st));
    st->id = r->id;
    st->term = r->term;
    st->vote = r->vote;
    st->lead = r->lead;
    st->role = r->role;
    st->commit = r->log.committed;
    st->applied = r->log.applied;
    st->first_index = raft_log_first_index(&r->log);
    st->last_index = raft_log_last_index(&r->log);
    st->stable_index = raft_log_stable_index(&r->log);
    st->term_start_index = r->term_start_index;
    st->transferee = r->transferee;
    st->conf_pending = r->conf_index > r->log.committed;
    st->conf = r->conf;
}

int cm_raft_term_at(const cm_raft *r, uint64_t index, uint64_t *term)
{
    return raft_log_term(&r->log, index, term);
}

int cm_raft_progress_of(const cm_raft *r, uint64_t id, cm_raft_progress_info *out)
{
    if (r->role != CM_RAFT_LEADER) {
        return CM_E_NOT_FOUND;
    }
    for (size_t i = 0; i < r->n_prs; i++) {
        const raft_progress *p = &r->prs[i];
        if (p->id == id) {
            out->match = p->match;
            out->next = p->next;
            out->state = (cm_raft_progress_state)p->state;
            out->learner = p->learner;
            out->recent_active = p->recent_active;
            return 0;
        }
    }
    return CM_E_NOT_FOUND;
}

void cm_raft_stats_get(const cm_raft *r, cm_raft_stats *st)
{
    *st = r->stats;
}
