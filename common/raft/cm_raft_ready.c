/*
 * cm_raft_ready.c — handing work to the application and taking its acknowledgement. A ready
 * borrows raft's memory (unstable tail, message arrays, the arena) until cm_raft_advance, which
 * is why no other call is allowed in between.
 */
#include "cm_raft_int.h"

#include <string.h>

static bool hs_equal(const cm_raft_hard_state *a, const cm_raft_hard_state *b)
{
    return a->term == b->term && a->vote == b->vote && a->commit == b->commit;
}

static void current_hs(const cm_raft *r, cm_raft_hard_state *hs)
{
    hs->term = r->term;
    hs->vote = r->vote;
    hs->commit = r->log.committed;
}

/* Committed entries not yet handed out: (applied, committed], none while a snapshot waits. */
static bool has_committed(const cm_raft *r)
{
    return r->log.u.snap == NULL && r->log.committed > r->log.applied;
}

bool cm_raft_has_ready(cm_raft *r)
{
    if (r->ready_out) {
        return false;
    }
    cm_raft_hard_state hs;
    current_hs(r, &hs);
    return r->need_bcast || r->need_round || r->log.u.n > 0 || r->log.u.snap != NULL ||
           !hs_equal(&hs, &r->prev_hs) || has_committed(r) || r->n_msgs > 0 ||
           r->n_msgs_early > 0 || r->n_rstates > 0;
}

int cm_raft_ready_get(cm_raft *r, cm_raft_ready *rd)
{
    if (r->ready_out) {
        return CM_E_BUSY;
    }
    raft_flush(r);
    memset(rd, 0, sizeof(*rd));
    rd->lead = r->lead;
    rd->role = r->role;
    current_hs(r, &rd->hard_state);
    rd->hard_state_changed = !hs_equal(&rd->hard_state, &r->prev_hs);
    rd->must_sync = rd->hard_state.term != r->prev_hs.term ||
                    rd->hard_state.vote != r->prev_hs.vote || r->log.u.n > 0 ||
                    r->log.u.snap != NULL;
    rd->snapshot = r->log.u.snap;
    rd->entries = r->log.u.ents;
    rd->n_entries = r->log.u.n;
    r->rd_applied_to = r->log.applied;
    if (has_committed(r)) {
        uint64_t hi = r->log.committed;
        uint64_t last = raft_log_last_index(&r->log);
        if (hi > last) {
            hi = last;
        }
        cm_raft_entry *ents = NULL;
        size_t n = 0;
        int rc = raft_log_slice(&r->log, r->log.applied + 1, hi + 1, r->cfg.max_apply_bytes,
                                &r->arena, &ents, &n);
        if (rc != 0) {
            return rc;
        }
        rd->committed = ents;
        rd->n_committed = n;
        if (n > 0) {
            r->rd_applied_to = ents[n - 1].index;
        }
    }
    rd->msgs_early = r->msgs_early;
    rd->n_msgs_early = r->n_msgs_early;
    rd->msgs = r->msgs;
    rd->n_msgs = r->n_msgs;
    rd->reads = r->rstates;
    rd->n_reads = r->n_rstates;
    r->rd_hs = rd->hard_state;
    r->rd_snap_index = rd->snapshot ? rd->snapshot->meta.index : 0;
    r->rd_last_index = rd->n_entries ? rd->entries[rd->n_entries - 1].index : 0;
    r->rd_last_term = rd->n_entries ? rd->entries[rd->n_entries - 1].term : 0;
    r->ready_out = true;
    return 0;
}

int cm_raft_advance(cm_raft *r, const cm_raft_ready *rd)
{
    (void)rd;
    if (!r->ready_out) {
        return CM_E_INVALID;
    }
    r->prev_hs = r->rd_hs;
    if (r->rd_snap_index != 0) {
        raft_log_stable_snap_to(&r->log, r->rd_snap_index);
        if (r->log.applied < r->rd_snap_index) {
            r->log.applied = r->rd_snap_index;
        }
    }
    if (r->rd_last_index != 0) {
        raft_log_stable_to(&r->log, r->rd_last_index, r->rd_last_term);
    }
    if (r->rd_applied_to > r->log.applied) {
        r->log.applied = r->rd_applied_to;
    }
    r->n_msgs = 0;
    r->n_msgs_early = 0;
    r->n_rstates = 0;
    cm_arena_fini(&r->arena);
    cm_arena_init(&r->arena, 4096);
    r->ready_out = false;
    /* The leader counts itself only now that its entries are durable. */
    raft_after_self_stable(r);
    return 0;
}
