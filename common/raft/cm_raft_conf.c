/*
 * cm_raft_conf.c — group membership. Single-server changes only (Raft thesis §4.1): any majority
 * of the old configuration intersects any majority of the new one, so no joint phase is needed,
 * provided that (a) a change takes effect as soon as its entry is in a node's log and is undone
 * if the entry is truncated, (b) a leader starts a change only when the previous one has
 * committed, and (c) a leader starts one only after an entry of its own term has committed (the
 * fix for the single-server bug Ongaro described in 2015). (b) means a log holds at most one
 * configuration entry past the true commit point, so remembering the previous configuration is
 * enough to undo a truncation.
 */
#include "cm_raft_int.h"

#include <stdlib.h>
#include <string.h>

static bool in_list(const uint64_t *v, size_t n, uint64_t id)
{
    for (size_t i = 0; i < n; i++) {
        if (v[i] == id) {
            return true;
        }
    }
    return false;
}

static void remove_from(uint64_t *v, uint8_t *n, uint64_t id)
{
    for (size_t i = 0; i < *n; i++) {
        if (v[i] == id) {
            v[i] = v[*n - 1];
            (*n)--;
            return;
        }
    }
}

bool cm_raft_conf_is_voter(const cm_raft_conf *c, uint64_t id)
{
    return in_list(c->voters, c->n_voters, id);
}

bool cm_raft_conf_is_learner(const cm_raft_conf *c, uint64_t id)
{
    return in_list(c->learners, c->n_learners, id);
}

int cm_raft_conf_apply(cm_raft_conf *c, const cm_raft_conf_change *cc)
{
    switch (cc->op) {
    case CM_RAFT_CONF_ADD_VOTER:
        if (cm_raft_conf_is_voter(c, cc->node)) {
            return 0;
        }
        if (cm_raft_conf_is_learner(c, cc->node)) {
            remove_from(c->learners, &c->n_learners, cc->node);
        } else if (c->n_voters + c->n_learners >= CM_RAFT_MEMBERS_MAX) {
            return CM_E_TOO_LARGE;
        }
        c->voters[c->n_voters++] = cc->node;
        return 0;
    case CM_RAFT_CONF_ADD_LEARNER:
        if (cm_raft_conf_is_learner(c, cc->node)) {
            return 0;
        }
        if (cm_raft_conf_is_voter(c, cc->node)) {
            /* Demoting a voter is not a single-step change we offer; treat as a no-op. */
            return 0;
        }
        if (c->n_voters + c->n_learners >= CM_RAFT_MEMBERS_MAX) {
            return CM_E_TOO_LARGE;
        }
        c->learners[c->n_learners++] = cc->node;
        return 0;
    case CM_RAFT_CONF_REMOVE:
        remove_from(c->voters, &c->n_voters, cc->node);
        remove_from(c->learners, &c->n_learners, cc->node);
        return 0;
    default:
        return CM_E_INVALID;
    }
}

int cm_raft_conf_change_encode(const cm_raft_conf_change *cc, cm_buf *out)
{
    int rc = cm_buf_append_u8(out, cc->op);
    if (rc == 0) {
        rc = cm_buf_append_uvarint(out, cc->node);
    }
    return rc;
}

int cm_raft_conf_change_decode(cm_slice data, cm_raft_conf_change *cc)
{
    cm_reader r;
    cm_reader_init(&r, data.ptr, data.len);
    uint8_t op;
    uint64_t node;
    if (cm_reader_u8(&r, &op) != 0 || cm_reader_uvarint(&r, &node) != 0) {
        return CM_E_CORRUPT;
    }
    if (op < CM_RAFT_CONF_ADD_VOTER || op > CM_RAFT_CONF_REMOVE || node == CM_RAFT_NONE ||
        cm_reader_left(&r) != 0) {
        return CM_E_CORRUPT;
    }
    cc->op = op;
    cc->node = node;
    return 0;
}

size_t raft_quorum(const cm_raft *r)
{
    return (size_t)r->conf.n_voters / 2 + 1;
}

int raft_conf_sync_progress(cm_raft *r)
{
    raft_progress next[CM_RAFT_MEMBERS_MAX];
    bool used[CM_RAFT_MEMBERS_MAX] = {false};
    size_t n = 0;
    uint64_t last = raft_log_last_index(&r->log);
    for (int pass = 0; pass < 2; pass++) {
        const uint64_t *ids = pass == 0 ? r->conf.voters : r->conf.learners;
        size_t cnt = pass == 0 ? r->conf.n_voters : r->conf.n_learners;
        for (size_t i = 0; i < cnt; i++) {
            size_t j;
            for (j = 0; j < r->n_prs; j++) {
                if (!used[j] && r->prs[j].id == ids[i]) {
                    break;
                }
            }
            if (j < r->n_prs) {
                next[n] = r->prs[j];
                used[j] = true;
            } else {
                memset(&next[n], 0, sizeof(next[n]));
                next[n].id = ids[i];
                raft_pr_reset(&next[n], last + 1, r->cfg.max_inflight);
                /* A new member counts as active so check-quorum does not fire before it has
                 * had a chance to answer. */
                next[n].recent_active = true;
                if (ids[i] == r->id) {
                    next[n].match = raft_log_stable_index(&r->log);
                }
            }
            next[n].learner = pass == 1;
            n++;
        }
    }
    for (size_t j = 0; j < r->n_prs; j++) {
        if (!used[j]) {
            raft_pr_fini(&r->prs[j]);
        }
    }
    memcpy(r->prs, next, n * sizeof(next[0]));
    r->n_prs = n;
    return 0;
}

static int apply_conf_entry(cm_raft *r, const cm_raft_entry *e)
{
    cm_raft_conf_change cc;
    if (cm_raft_conf_change_decode(e->data, &cc) != 0) {
        return CM_E_CORRUPT;
    }
    cm_raft_conf c = r->conf;
    int rc = cm_raft_conf_apply(&c, &cc);
    if (rc != 0) {
        return rc;
    }
    r->conf_prev = r->conf;
    r->conf_prev_ok = true;
    r->conf = c;
    r->conf_index = e->index;
    return 0;
}

int raft_conf_on_append(cm_raft *r, const cm_raft_entry *ents, size_t n)
{
    bool changed = false;
    for (size_t i = 0; i < n; i++) {
        if (ents[i].type != CM_RAFT_ENTRY_CONF) {
            continue;
        }
        int rc = apply_conf_entry(r, &ents[i]);
        if (rc != 0) {
            return rc;
        }
        changed = true;
    }
    return changed ? raft_conf_sync_progress(r) : 0;
}

int raft_conf_on_truncate(cm_raft *r, uint64_t from)
{
    if (r->conf_index == 0 || r->conf_index < from) {
        return 0;
    }
    if (!r->conf_prev_ok) {
        /* Two configurations past the commit point: a correct leader never produces that. */
        return CM_E_CORRUPT;
    }
    r->conf = r->conf_prev;
    r->conf_prev_ok = false;
    /* The reverted-to entry is committed (see the file comment); its exact index no longer
     * matters, only that it is below any future truncation point. */
    r->conf_index = r->log.committed;
    return raft_conf_sync_progress(r);
}

int raft_conf_on_restore(cm_raft *r, const cm_raft_conf *c)
{
    r->conf = *c;
    r->conf_index = 0;
    r->conf_prev_ok = false;
    return raft_conf_sync_progress(r);
}

int raft_conf_load(cm_raft *r, const cm_raft_conf *snap_conf, cm_err *err)
{
    r->conf = *snap_conf;
    r->conf_index = 0;
    r->conf_prev_ok = false;
    uint64_t lo = raft_log_first_index(&r->log);
    uint64_t last = raft_log_last_index(&r->log);
    while (lo <= last) {
        cm_arena a;
        cm_arena_init(&a, 0);
        cm_raft_entry *ents;
        size_t n;
        int rc = r->log.ops->entries_cb(r->log.ctx, lo, last + 1, 1u << 20, &a, &ents, &n);
        if (rc == 0 && n == 0) {
            rc = CM_E_CORRUPT;
        }
        for (size_t i = 0; rc == 0 && i < n; i++) {
            if (ents[i].index != lo + i) {
                rc = CM_E_CORRUPT;
            } else if (ents[i].type == CM_RAFT_ENTRY_CONF) {
                rc = apply_conf_entry(r, &ents[i]);
            }
        }
        cm_arena_fini(&a);
        if (rc != 0) {
            return cm_err_set(err, rc, "raft %llu: reading the log at %llu for its configuration",
                              (unsigned long long)r->id, (unsigned long long)lo);
        }
        lo += n;
    }
    return raft_conf_sync_progress(r);
}
