/*
 * cm_raft_progress.c — the leader's view of each follower (etcd-raft's progress tracker, written
 * from the Raft thesis §4.2.1 and §10.2.1): a follower is probed one message at a time until an
 * append is accepted, then replicated optimistically with a bounded window of in-flight appends,
 * or waits for a snapshot. Also the quorum arithmetic used by commit, ReadIndex and leases.
 */
#include "cm_raft_int.h"

#include <stdlib.h>
#include <string.h>

void raft_pr_reset(raft_progress *p, uint64_t next, uint32_t inflight_cap)
{
    raft_inflights keep = p->infl;
    uint64_t id = p->id;
    bool learner = p->learner;
    memset(p, 0, sizeof(*p));
    p->id = id;
    p->learner = learner;
    p->next = next;
    p->state = CM_RAFT_PR_PROBE;
    p->infl = keep;
    p->infl.start = 0;
    p->infl.count = 0;
    if (p->infl.cap != inflight_cap) {
        free(p->infl.idx);
        p->infl.idx = NULL;
        p->infl.cap = inflight_cap;
    }
}

void raft_pr_fini(raft_progress *p)
{
    free(p->infl.idx);
    memset(p, 0, sizeof(*p));
}

static void reset_state(raft_progress *p, uint8_t state)
{
    p->paused = false;
    p->pending_snapshot = 0;
    p->state = state;
    p->state_ticks = 0;
    p->infl.start = 0;
    p->infl.count = 0;
}

void raft_pr_become_probe(raft_progress *p)
{
    if (p->state == CM_RAFT_PR_SNAPSHOT) {
        /* Resume after the snapshot (or from match if it never arrived). */
        uint64_t pending = p->pending_snapshot;
        reset_state(p, CM_RAFT_PR_PROBE);
        p->next = (p->match + 1 > pending + 1) ? p->match + 1 : pending + 1;
        return;
    }
    reset_state(p, CM_RAFT_PR_PROBE);
    p->next = p->match + 1;
}

void raft_pr_become_replicate(raft_progress *p)
{
    reset_state(p, CM_RAFT_PR_REPLICATE);
    p->next = p->match + 1;
}

void raft_pr_become_snapshot(raft_progress *p, uint64_t snap_index)
{
    reset_state(p, CM_RAFT_PR_SNAPSHOT);
    p->pending_snapshot = snap_index;
}

bool raft_pr_maybe_update(raft_progress *p, uint64_t n)
{
    bool updated = false;
    if (p->match < n) {
        p->match = n;
        updated = true;
        p->paused = false;
    }
    if (p->next < n + 1) {
        p->next = n + 1;
    }
    return updated;
}

bool raft_pr_maybe_decr_to(raft_progress *p, uint64_t rejected, uint64_t match_hint)
{
    if (p->state == CM_RAFT_PR_REPLICATE) {
        /* Rejections at or below match are stale (reordered or duplicated messages). */
        if (rejected <= p->match) {
            return false;
        }
        p->next = p->match + 1;
        return true;
    }
    /* Probing: only the answer to the outstanding probe counts. */
    if (p->next == 0 || p->next - 1 != rejected) {
        return false;
    }
    uint64_t n = rejected < match_hint + 1 ? rejected : match_hint + 1;
    if (n < p->match + 1) {
        n = p->match + 1;
    }
    if (n < 1) {
        n = 1;
    }
    p->next = n;
    p->paused = false;
    return true;
}

bool raft_pr_is_paused(const raft_progress *p)
{
    switch (p->state) {
    case CM_RAFT_PR_PROBE:
        return p->paused;
    case CM_RAFT_PR_REPLICATE:
        return raft_infl_full(&p->infl);
    default:
        return true;
    }
}

int raft_infl_add(raft_inflights *f, uint64_t last)
{
    if (f->idx == NULL) {
        f->idx = malloc((size_t)f->cap * sizeof(*f->idx));
        if (f->idx == NULL) {
            return CM_E_NOMEM;
        }
    }
    CM_ASSERT(f->count < f->cap);
    f->idx[(f->start + f->count) % f->cap] = last;
    f->count++;
    return 0;
}

void raft_infl_free_le(raft_inflights *f, uint64_t index)
{
    while (f->count > 0 && f->idx[f->start] <= index) {
        f->start = (f->start + 1) % f->cap;
        f->count--;
    }
    if (f->count == 0) {
        f->start = 0;
    }
}

void raft_infl_free_first(raft_inflights *f)
{
    if (f->count > 0) {
        raft_infl_free_le(f, f->idx[f->start]);
    }
}

bool raft_infl_full(const raft_inflights *f)
{
    return f->count >= f->cap;
}

uint64_t raft_kth_largest(uint64_t *v, size_t n, size_t k)
{
    CM_ASSERT(k >= 1 && k <= n);
    /* n <= CM_RAFT_MEMBERS_MAX: insertion sort, descending. */
    for (size_t i = 1; i < n; i++) {
        uint64_t x = v[i];
        size_t j = i;
        while (j > 0 && v[j - 1] < x) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
    return v[k - 1];
}
