/*
 * cm_raft_leader.c — the leader's side: replication with flow control, the commit rule,
 * heartbeat rounds (which carry ReadIndex confirmations and leases), leadership transfer and
 * membership proposals.
 *
 * Heartbeat rounds: each broadcast is round hb_seq, stamped with the leader's clock at the time
 * it was produced (before it is sent, so the stamp is never late). Followers echo both. A
 * ReadIndex request waits for a round started after it to be acknowledged by a quorum; the
 * lease starts at the send time of the newest round a quorum acknowledged.
 */
#include "cm_raft_int.h"

#include <stdlib.h>
#include <string.h>

static void msg_init(cm_raft_msg *m, uint8_t type, uint64_t to)
{
    memset(m, 0, sizeof(*m));
    m->type = type;
    m->to = to;
}

int raft_leader_append(cm_raft *r, cm_raft_entry *ents, size_t n)
{
    uint64_t li = raft_log_last_index(&r->log);
    for (size_t i = 0; i < n; i++) {
        ents[i].term = r->term;
        ents[i].index = li + 1 + i;
    }
    int rc = raft_log_append(&r->log, ents, n);
    if (rc == 0) {
        rc = raft_conf_on_append(r, ents, n);
    }
    if (rc != 0) {
        return rc;
    }
    /* The leader's own progress moves only when the entries are durable (raft_after_self_stable):
     * it may send them to followers in parallel with its own write. */
    r->need_bcast = true;
    return 0;
}

void raft_become_leader(cm_raft *r)
{
    CM_ASSERT(r->role != CM_RAFT_FOLLOWER);
    r->role = CM_RAFT_LEADER;
    r->lead = r->id;
    r->election_elapsed = 0;
    r->heartbeat_elapsed = 0;
    uint64_t last = raft_log_last_index(&r->log);
    for (size_t i = 0; i < r->n_prs; i++) {
        raft_progress *p = &r->prs[i];
        raft_pr_reset(p, last + 1, r->cfg.max_inflight);
        if (p->id == r->id) {
            p->match = raft_log_stable_index(&r->log);
            p->recent_active = true;
        }
    }
    r->transferee = CM_RAFT_NONE;
    r->lease_dropped = false;
    r->lease_floor_ns = 0;
    r->hb_seq = 0;
    r->n_reads = 0;
    r->stats.became_leader++;
    /* An empty entry of the new term: entries of earlier terms commit only through it (§5.4.2),
     * and reads wait until it is applied. */
    cm_raft_entry noop;
    memset(&noop, 0, sizeof(noop));
    if (raft_leader_append(r, &noop, 1) != 0) {
        r->deferred_err = CM_E_NOMEM;
        raft_become_follower(r, r->term, CM_RAFT_NONE);
        return;
    }
    r->term_start_index = noop.index;
    raft_bcast_append(r);
    r->need_bcast = false;
}

static void send_snapshot(cm_raft *r, raft_progress *p)
{
    if (!p->recent_active) {
        return; /* do not ship a snapshot to a node that does not answer */
    }
    cm_raft_snapshot *s = cm_arena_alloc(&r->arena, sizeof(*s));
    if (s == NULL) {
        r->deferred_err = CM_E_NOMEM;
        return;
    }
    int rc = r->log.ops->snapshot_cb(r->log.ctx, &r->arena, s);
    if (rc != 0 || s->meta.index == 0) {
        return; /* not available yet (CM_E_BUSY): try again on a later round */
    }
    cm_raft_msg m;
    msg_init(&m, CM_RAFT_MSG_SNAP, p->id);
    m.snapshot = s;
    raft_pr_become_snapshot(p, s->meta.index);
    r->stats.snapshots_sent++;
    raft_send(r, &m);
}

bool raft_send_append(cm_raft *r, uint64_t to, bool send_if_empty)
{
    raft_progress *p = raft_pr_get(r, to);
    if (p == NULL || to == r->id || raft_pr_is_paused(p)) {
        return false;
    }
    uint64_t last = raft_log_last_index(&r->log);
    uint64_t prev = p->next - 1;
    uint64_t prev_term = 0;
    cm_raft_entry *ents = NULL;
    size_t n = 0;
    int rc = raft_log_term(&r->log, prev, &prev_term);
    if (rc == 0) {
        rc = raft_log_slice(&r->log, p->next, last + 1, r->cfg.max_msg_bytes, &r->arena, &ents, &n);
    }
    if (rc == CM_E_NOT_FOUND) {
        send_snapshot(r, p);
        return false;
    }
    if (rc != 0) {
        r->deferred_err = rc;
        return false;
    }
    if (n == 0 && !send_if_empty) {
        return false;
    }
    cm_raft_msg m;
    msg_init(&m, CM_RAFT_MSG_APP, to);
    m.index = prev;
    m.log_term = prev_term;
    m.entries = ents;
    m.n_entries = n;
    m.commit = r->log.committed;
    if (p->state == CM_RAFT_PR_REPLICATE) {
        if (n > 0) {
            uint64_t last_sent = ents[n - 1].index;
            p->next = last_sent + 1;
            if (raft_infl_add(&p->infl, last_sent) != 0) {
                r->deferred_err = CM_E_NOMEM;
            }
        }
    } else {
        p->paused = true;
    }
    raft_send(r, &m);
    return n > 0;
}

void raft_bcast_append(cm_raft *r)
{
    if (r->role != CM_RAFT_LEADER) {
        return;
    }
    for (size_t i = 0; i < r->n_prs; i++) {
        if (r->prs[i].id != r->id) {
            raft_send_append(r, r->prs[i].id, true);
        }
    }
}

void raft_bcast_heartbeat(cm_raft *r)
{
    r->hb_seq++;
    uint64_t now = raft_now_ns(r);
    for (size_t i = 0; i < r->n_prs; i++) {
        raft_progress *p = &r->prs[i];
        if (p->id == r->id) {
            p->ack_seq = r->hb_seq;
            p->ack_time_ns = now;
            continue;
        }
        cm_raft_msg m;
        msg_init(&m, CM_RAFT_MSG_HEARTBEAT, p->id);
        /* Never more than the follower is known to have: it may lack later entries. */
        m.commit = p->match < r->log.committed ? p->match : r->log.committed;
        m.hb_seq = r->hb_seq;
        m.hb_time_ns = now;
        raft_send(r, &m);
    }
    r->need_round = false;
}

bool raft_maybe_commit(cm_raft *r)
{
    uint64_t v[CM_RAFT_MEMBERS_MAX];
    size_t n = 0;
    for (size_t i = 0; i < r->n_prs; i++) {
        const raft_progress *p = &r->prs[i];
        if (!p->learner) {
            v[n++] = p->match;
        }
    }
    if (n == 0) {
        return false;
    }
    uint64_t mci = raft_kth_largest(v, n, raft_quorum(r));
    if (mci <= r->log.committed) {
        return false;
    }
#ifndef CM_RAFT_PLANT_FIG8
    /* Only entries of the current term commit by counting replicas (§5.4.2, Figure 8); earlier
     * ones commit with them. */
    if (raft_log_term_or0(&r->log, mci) != r->term) {
        return false;
    }
#endif
    raft_set_commit(r, mci);
    if (r->conf_index <= r->log.committed && !raft_is_voter(r, r->id)) {
        /* Our own removal has committed: tell the others, then step down (thesis §4.2.2). */
        raft_bcast_append(r);
        raft_become_follower(r, r->term, CM_RAFT_NONE);
    }
    return true;
}

static void release_reads(cm_raft *r)
{
    if (r->n_reads == 0) {
        return;
    }
    uint64_t v[CM_RAFT_MEMBERS_MAX];
    size_t n = 0;
    for (size_t i = 0; i < r->n_prs; i++) {
        if (!r->prs[i].learner) {
            v[n++] = r->prs[i].id == r->id ? r->hb_seq : r->prs[i].ack_seq;
        }
    }
    if (n == 0) {
        return;
    }
    uint64_t acked = raft_kth_largest(v, n, raft_quorum(r));
    size_t k = 0;
    while (k < r->n_reads && r->reads[k].seq <= acked) {
        k++;
    }
    for (size_t i = 0; i < k; i++) {
        if (r->n_rstates == r->cap_rstates) {
            size_t nc = r->cap_rstates ? r->cap_rstates * 2 : 8;
            cm_raft_read_state *p = realloc(r->rstates, nc * sizeof(*p));
            if (p == NULL) {
                r->deferred_err = CM_E_NOMEM;
                return;
            }
            r->rstates = p;
            r->cap_rstates = nc;
        }
        cm_raft_read_state *rs = &r->rstates[r->n_rstates++];
        rs->ctx = r->reads[i].ctx;
        rs->index = r->reads[i].index;
        rs->status = 0;
        r->stats.reads_confirmed++;
    }
    memmove(r->reads, r->reads + k, (r->n_reads - k) * sizeof(*r->reads));
    r->n_reads -= k;
}

static int push_rstate(cm_raft *r, uint64_t ctx, uint64_t index, int status)
{
    if (r->n_rstates == r->cap_rstates) {
        size_t nc = r->cap_rstates ? r->cap_rstates * 2 : 8;
        cm_raft_read_state *p = realloc(r->rstates, nc * sizeof(*p));
        if (p == NULL) {
            return CM_E_NOMEM;
        }
        r->rstates = p;
        r->cap_rstates = nc;
    }
    cm_raft_read_state *rs = &r->rstates[r->n_rstates++];
    rs->ctx = ctx;
    rs->index = index;
    rs->status = status;
    return 0;
}

void raft_fail_reads(cm_raft *r)
{
    for (size_t i = 0; i < r->n_reads; i++) {
        if (push_rstate(r, r->reads[i].ctx, 0, CM_E_NOT_LEADER) != 0) {
            r->deferred_err = CM_E_NOMEM;
            break;
        }
    }
    r->n_reads = 0;
}

void raft_abort_transfer(cm_raft *r)
{
    r->transferee = CM_RAFT_NONE;
    r->transfer_elapsed = 0;
    r->transfer_sent = false;
}

static void send_timeout_now(cm_raft *r, uint64_t to)
{
    if (r->transfer_sent) {
        return; /* once per transfer; if it is lost the transfer times out */
    }
    r->transfer_sent = true;
    cm_raft_msg m;
    msg_init(&m, CM_RAFT_MSG_TIMEOUT_NOW, to);
    r->stats.transfers++;
    raft_send(r, &m);
}

static void on_append_resp(cm_raft *r, raft_progress *p, const cm_raft_msg *m)
{
    uint64_t last = raft_log_last_index(&r->log);
    if (m->index > last) {
        return; /* acknowledges entries we never had: not from this term's log */
    }
    if (m->flags & CM_RAFT_FLAG_REJECT) {
        uint64_t hint = m->reject_hint;
        if (m->log_term > 0) {
            uint64_t t;
            hint = raft_log_find_conflict_by_term(&r->log, hint, m->log_term, &t);
        }
        if (raft_pr_maybe_decr_to(p, m->index, hint)) {
            if (p->state == CM_RAFT_PR_REPLICATE) {
                raft_pr_become_probe(p);
            }
            raft_send_append(r, p->id, true);
        }
        return;
    }
    bool was_paused = raft_pr_is_paused(p);
    if (!raft_pr_maybe_update(p, m->index)) {
        return;
    }
    if (p->state == CM_RAFT_PR_PROBE) {
        raft_pr_become_replicate(p);
    } else if (p->state == CM_RAFT_PR_SNAPSHOT) {
        if (p->match >= p->pending_snapshot || p->match + 1 >= raft_log_first_index(&r->log)) {
            raft_pr_become_probe(p);
            raft_pr_become_replicate(p);
        }
    } else {
        raft_infl_free_le(&p->infl, m->index);
    }
    uint64_t id = p->id;
    if (raft_maybe_commit(r)) {
        raft_bcast_append(r);
    } else if (was_paused) {
        raft_send_append(r, id, false);
    }
    if (r->role != CM_RAFT_LEADER) {
        return;
    }
    while (raft_send_append(r, id, false)) {
    }
    p = raft_pr_get(r, id);
    if (p != NULL && id == r->transferee && p->match == raft_log_last_index(&r->log)) {
        send_timeout_now(r, id);
    }
}

void raft_leader_step(cm_raft *r, const cm_raft_msg *m)
{
    raft_progress *p = raft_pr_get(r, m->from);
    if (p == NULL) {
        return; /* not a member (removed, or not yet added) */
    }
    switch (m->type) {
    case CM_RAFT_MSG_APP_RESP:
        p->recent_active = true;
        on_append_resp(r, p, m);
        return;
    case CM_RAFT_MSG_HEARTBEAT_RESP:
        p->recent_active = true;
        p->paused = p->state == CM_RAFT_PR_PROBE ? false : p->paused;
        if (p->state == CM_RAFT_PR_REPLICATE && raft_infl_full(&p->infl)) {
            raft_infl_free_first(&p->infl);
        }
        if (p->match < raft_log_last_index(&r->log)) {
            raft_send_append(r, p->id, true);
        }
        if (m->hb_seq <= r->hb_seq && m->hb_seq > p->ack_seq) {
            p->ack_seq = m->hb_seq;
            p->ack_time_ns = m->hb_time_ns;
        }
        release_reads(r);
        return;
    default:
        return;
    }
}

void raft_leader_tick(cm_raft *r)
{
    r->heartbeat_elapsed++;
    r->election_elapsed++;
    if (r->transferee != CM_RAFT_NONE && ++r->transfer_elapsed >= r->cfg.election_tick) {
        raft_abort_transfer(r); /* the lease stays dropped for this term */
    }
    if (r->election_elapsed >= r->cfg.election_tick) {
        r->election_elapsed = 0;
        if (r->cfg.check_quorum) {
            size_t active = 0;
            for (size_t i = 0; i < r->n_prs; i++) {
                raft_progress *p = &r->prs[i];
                if (!p->learner && (p->recent_active || p->id == r->id)) {
                    active++;
                }
                if (p->id != r->id) {
                    p->recent_active = false;
                }
            }
            if (active < raft_quorum(r)) {
                raft_become_follower(r, r->term, CM_RAFT_NONE);
                return;
            }
        }
    }
    for (size_t i = 0; i < r->n_prs; i++) {
        raft_progress *p = &r->prs[i];
        /* A snapshot message may have been lost: after two election timeouts probe again. */
        if (p->state == CM_RAFT_PR_SNAPSHOT && ++p->state_ticks >= 2 * r->cfg.election_tick) {
            raft_pr_become_probe(p);
            p->next = p->match + 1;
        }
    }
    if (r->heartbeat_elapsed >= r->cfg.heartbeat_tick) {
        r->heartbeat_elapsed = 0;
        raft_bcast_heartbeat(r);
    }
}

void raft_flush(cm_raft *r)
{
    if (r->role != CM_RAFT_LEADER) {
        r->need_bcast = false;
        r->need_round = false;
        return;
    }
    if (r->need_bcast) {
        r->need_bcast = false;
        raft_bcast_append(r);
    }
    if (r->need_round) {
        raft_bcast_heartbeat(r);
    }
}

void raft_after_self_stable(cm_raft *r)
{
    if (r->role != CM_RAFT_LEADER) {
        return;
    }
    raft_progress *self = raft_pr_get(r, r->id);
    if (self != NULL) {
        uint64_t s = raft_log_stable_index(&r->log);
        if (s > self->match) {
            self->match = s;
            self->next = s + 1;
        }
    }
    if (raft_maybe_commit(r)) {
        raft_bcast_append(r);
    }
    if (r->role == CM_RAFT_LEADER && r->transferee != CM_RAFT_NONE) {
        raft_progress *p = raft_pr_get(r, r->transferee);
        if (p != NULL && p->match == raft_log_last_index(&r->log)) {
            send_timeout_now(r, p->id);
        }
    }
}

int cm_raft_read_index(cm_raft *r, uint64_t ctx)
{
    if (r->ready_out) {
        return CM_E_BUSY;
    }
    if (r->role != CM_RAFT_LEADER) {
        return CM_E_NOT_LEADER;
    }
    /* A new leader's commit index may lag the group's until its own first entry commits; and
     * the application must have applied that far before it serves anything (DESIGN.md §5). */
    if (r->log.applied < r->term_start_index) {
        return CM_E_UNAVAILABLE;
    }
    if (r->conf.n_voters == 1 && raft_is_voter(r, r->id)) {
        return push_rstate(r, ctx, r->log.committed, 0);
    }
    if (r->n_reads >= CM_RAFT_PENDING_READS_MAX) {
        return CM_E_BUSY;
    }
    if (r->n_reads == r->cap_reads) {
        size_t nc = r->cap_reads ? r->cap_reads * 2 : 8;
        raft_pending_read *p = realloc(r->reads, nc * sizeof(*p));
        if (p == NULL) {
            return CM_E_NOMEM;
        }
        r->reads = p;
        r->cap_reads = nc;
    }
    raft_pending_read *pr = &r->reads[r->n_reads++];
    pr->ctx = ctx;
    pr->index = r->log.committed;
    pr->seq = r->hb_seq + 1;
    r->need_round = true;
    return 0;
}

int cm_raft_lease_read(cm_raft *r, uint64_t *index)
{
    if (r->ready_out) {
        return CM_E_BUSY;
    }
    if (r->role != CM_RAFT_LEADER) {
        return CM_E_NOT_LEADER;
    }
    if (!r->cfg.lease_read) {
        return CM_E_UNSUPPORTED;
    }
    if (r->log.applied < r->term_start_index || r->lease_dropped || r->transferee != CM_RAFT_NONE ||
        r->conf_index > r->log.committed) {
        r->stats.lease_refused++;
        return CM_E_UNAVAILABLE;
    }
    uint64_t now = raft_now_ns(r);
    uint64_t v[CM_RAFT_MEMBERS_MAX];
    size_t n = 0;
    for (size_t i = 0; i < r->n_prs; i++) {
        const raft_progress *p = &r->prs[i];
        if (!p->learner) {
            v[n++] = p->id == r->id ? now : (p->ack_seq > 0 ? p->ack_time_ns : 0);
        }
    }
    uint64_t start = n > 0 ? raft_kth_largest(v, n, raft_quorum(r)) : 0;
    if (start == 0 || start <= r->lease_floor_ns || now >= start + cm_raft_lease_ns(&r->cfg)) {
        r->stats.lease_refused++;
        return CM_E_TIMEOUT;
    }
    *index = r->log.committed;
    r->stats.lease_reads++;
    return 0;
}

int cm_raft_transfer_leader(cm_raft *r, uint64_t target)
{
    if (r->ready_out) {
        return CM_E_BUSY;
    }
    if (r->role != CM_RAFT_LEADER) {
        return CM_E_NOT_LEADER;
    }
    if (target == r->id) {
        return 0;
    }
    if (!raft_is_voter(r, target)) {
        return CM_E_INVALID;
    }
    if (r->transferee == target) {
        return 0;
    }
    raft_abort_transfer(r);
    r->transferee = target;
    r->transfer_elapsed = 0;
    /* The target will campaign with FORCE, which voters honour despite our lease; and a
     * TimeoutNow may linger in the network, so the lease is gone for the rest of this term. */
    r->lease_dropped = true;
    raft_progress *p = raft_pr_get(r, target);
    if (p != NULL && p->match == raft_log_last_index(&r->log)) {
        send_timeout_now(r, target);
    } else {
        raft_send_append(r, target, true);
    }
    return 0;
}

int cm_raft_propose_conf(cm_raft *r, const cm_raft_conf_change *cc, uint64_t *index, uint64_t *term)
{
    if (r->ready_out) {
        return CM_E_BUSY;
    }
    if (r->role != CM_RAFT_LEADER) {
        return CM_E_NOT_LEADER;
    }
    if (r->transferee != CM_RAFT_NONE || r->conf_index > r->log.committed ||
        r->log.committed < r->term_start_index) {
        /* One change at a time, and only once an entry of this term has committed: otherwise
         * an uncommitted change of an earlier leader could combine with ours into two steps. */
        return CM_E_BUSY;
    }
    if (cc->node == CM_RAFT_NONE || cc->op < CM_RAFT_CONF_ADD_VOTER ||
        cc->op > CM_RAFT_CONF_REMOVE) {
        return CM_E_INVALID;
    }
    cm_raft_conf c = r->conf;
    bool voter = cm_raft_conf_is_voter(&c, cc->node);
    bool learner = cm_raft_conf_is_learner(&c, cc->node);
    if ((cc->op == CM_RAFT_CONF_ADD_VOTER && voter) ||
        (cc->op == CM_RAFT_CONF_ADD_LEARNER && (voter || learner)) ||
        (cc->op == CM_RAFT_CONF_REMOVE && !voter && !learner) ||
        (cc->op == CM_RAFT_CONF_REMOVE && voter && c.n_voters == 1)) {
        return CM_E_INVALID;
    }
    int rc = cm_raft_conf_apply(&c, cc);
    if (rc != 0) {
        return rc;
    }
    cm_buf enc = CM_BUF_INIT;
    rc = cm_raft_conf_change_encode(cc, &enc);
    cm_raft_entry e;
    memset(&e, 0, sizeof(e));
    e.type = CM_RAFT_ENTRY_CONF;
    e.data = cm_buf_slice(&enc);
    if (rc == 0) {
        rc = raft_leader_append(r, &e, 1);
    }
    cm_buf_fini(&enc);
    if (rc != 0) {
        return rc;
    }
    /* Leases rest on the configuration's quorum: start over with rounds sent from now on. */
    r->lease_floor_ns = raft_now_ns(r);
    if (cc->op == CM_RAFT_CONF_REMOVE && cc->node == r->transferee) {
        raft_abort_transfer(r);
    }
    if (raft_maybe_commit(r)) {
        raft_bcast_append(r);
    }
    *index = e.index;
    *term = e.term;
    return 0;
}
