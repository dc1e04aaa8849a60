/*
 * pd_sched.c — replica repair decisions and the table of operators in flight (pd_sched.h).
 */
#include "pd_sched.h"

#include "cm_assert.h"

#include <stdlib.h>
#include <string.h>

#define ROLE_VOTER   0u
#define ROLE_LEARNER 1u

const char *pd_op_kind_name(pd_op_kind k)
{
    switch (k) {
    case PD_OP_NONE:
        return "none";
    case PD_OP_ADD_LEARNER:
        return "add_learner";
    case PD_OP_PROMOTE:
        return "promote_learner";
    case PD_OP_REMOVE:
        return "remove_peer";
    case PD_OP_TRANSFER_LEADER:
        return "transfer_leader";
    }
    return "unknown";
}

/* ---- decisions ------------------------------------------------------------------------------ */

static const pd_sched_store *find_store(const pd_sched_view *v, uint64_t id)
{
    for (size_t i = 0; i < v->n_stores; i++) {
        if (v->stores[i].id == id) {
            return &v->stores[i];
        }
    }
    return NULL;
}

static pd_store_live live_of(const pd_sched_view *v, uint64_t store_id)
{
    const pd_sched_store *st = find_store(v, store_id);
    return st ? st->live : PD_STORE_LIVE_UP;
}

/* A peer whose store is gone for good or silent past max-store-down-time: to be replaced. */
static int peer_lost(const pd_sched_view *v, const pd_peer *p)
{
    pd_store_live l = live_of(v, p->store_id);
    return l == PD_STORE_LIVE_DOWN || l == PD_STORE_LIVE_TOMBSTONE;
}

static int is_pending(const pd_sched_view *v, uint64_t peer_id)
{
    for (size_t i = 0; i < v->n_pending; i++) {
        if (v->pending_peer_ids[i] == peer_id) {
            return 1;
        }
    }
    return 0;
}

static int region_has_store(const pd_region *r, uint64_t store_id)
{
    for (uint32_t i = 0; i < r->npeers; i++) {
        if (r->peers[i].store_id == store_id) {
            return 1;
        }
    }
    return 0;
}

static uint64_t store_load(const pd_sched_store *st)
{
    return (uint64_t)st->region_count + st->adds_inflight;
}

/* The Up store holding no peer of r with the least load (ties: the lowest id); NULL if none. */
static const pd_sched_store *pick_target(const pd_sched_view *v)
{
    const pd_sched_store *best = NULL;
    for (size_t i = 0; i < v->n_stores; i++) {
        const pd_sched_store *st = &v->stores[i];
        if (st->live != PD_STORE_LIVE_UP || st->id == 0 || region_has_store(v->region, st->id)) {
            continue;
        }
        if (best == NULL || store_load(st) < store_load(best) ||
            (store_load(st) == store_load(best) && st->id < best->id)) {
            best = st;
        }
    }
    return best;
}

/* The voter to drop when there are too many: never the leader; a peer on a store that is not Up
 * first, then the busiest store, then the highest peer id. NULL if only the leader is left. */
static const pd_peer *pick_surplus(const pd_sched_view *v)
{
    const pd_region *r = v->region;
    const pd_peer *best = NULL;
    int best_up = 0;
    uint64_t best_load = 0;
    for (uint32_t i = 0; i < r->npeers; i++) {
        const pd_peer *p = &r->peers[i];
        if (p->role != ROLE_VOTER || p->id == r->leader.id) {
            continue;
        }
        const pd_sched_store *st = find_store(v, p->store_id);
        int up = st == NULL || st->live == PD_STORE_LIVE_UP;
        uint64_t load = st ? store_load(st) : 0;
        if (best == NULL || (!up && best_up) ||
            (up == best_up && (load > best_load || (load == best_load && p->id > best->id)))) {
            best = p;
            best_up = up;
            best_load = load;
        }
    }
    return best;
}

static pd_op_kind make(const pd_region *r, pd_op_kind kind, const pd_peer *p, pd_operator *op)
{
    op->region_id = r->id;
    op->conf_ver = r->conf_ver;
    op->version = r->version;
    op->kind = kind;
    op->peer = *p;
    return kind;
}

pd_op_kind pd_sched_decide(const pd_sched_view *v, pd_operator *op)
{
    const pd_region *r = v->region;
    memset(op, 0, sizeof(*op));
    CM_ASSERT(r != NULL);
    uint32_t healthy_voters = 0, voters = 0;
    const pd_peer *lost_voter = NULL, *lost_learner = NULL, *learner = NULL;
    for (uint32_t i = 0; i < r->npeers; i++) {
        const pd_peer *p = &r->peers[i];
        int lost = peer_lost(v, p);
        if (p->role == ROLE_LEARNER) {
            if (lost && lost_learner == NULL) {
                lost_learner = p;
            } else if (!lost && learner == NULL) {
                learner = p;
            }
            continue;
        }
        voters++;
        if (!lost) {
            healthy_voters++;
        } else if (p->id != r->leader.id && lost_voter == NULL) {
            lost_voter = p;
        }
    }
    /* 1. A learner that can never catch up. */
    if (lost_learner != NULL) {
        return make(r, PD_OP_REMOVE, lost_learner, op);
    }
    /* 2. A learner: the replacement under way, or surplus. */
    if (learner != NULL) {
        if (healthy_voters >= v->max_replicas) {
            return make(r, PD_OP_REMOVE, learner, op);
        }
        if (is_pending(v, learner->id)) {
            return PD_OP_NONE; /* still receiving its snapshot or catching up */
        }
        pd_peer p = *learner;
        p.role = ROLE_VOTER;
        return make(r, PD_OP_PROMOTE, &p, op);
    }
    /* 3. Too few healthy voters: add a learner (promoted once it caught up). */
    if (healthy_voters < v->max_replicas) {
        const pd_sched_store *st = pick_target(v);
        if (st == NULL) {
            return PD_OP_NONE;
        }
        pd_peer p = {0, st->id, ROLE_LEARNER};
        return make(r, PD_OP_ADD_LEARNER, &p, op);
    }
    /* 4. The replacement is in: drop the lost voter. */
    if (lost_voter != NULL) {
        return make(r, PD_OP_REMOVE, lost_voter, op);
    }
    /* 5. Too many voters. */
    if (voters > v->max_replicas) {
        const pd_peer *p = pick_surplus(v);
        if (p != NULL) {
            return make(r, PD_OP_REMOVE, p, op);
        }
    }
    return PD_OP_NONE;
}

static const pd_peer *peer_of(const pd_region *r, uint64_t id)
{
    for (uint32_t i = 0; i < r->npeers; i++) {
        if (r->peers[i].id == id) {
            return &r->peers[i];
        }
    }
    return NULL;
}

int pd_sched_op_done(const pd_operator *op, const pd_region *r)
{
    const pd_peer *p = peer_of(r, op->peer.id);
    switch (op->kind) {
    case PD_OP_ADD_LEARNER:
        return p != NULL;
    case PD_OP_PROMOTE:
        return p == NULL || p->role == ROLE_VOTER;
    case PD_OP_REMOVE:
        return p == NULL;
    case PD_OP_TRANSFER_LEADER:
        return r->leader.id == op->peer.id;
    case PD_OP_NONE:
        return 1;
    }
    return 1;
}

/* ---- operators in flight ------------------------------------------------------------------- */

void pd_sched_init(pd_sched *s, const pd_sched_options *o)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    s->o = *o;
    if (s->o.max_replicas == 0) {
        s->o.max_replicas = 3;
    }
    if (s->o.op_timeout_ms == 0) {
        s->o.op_timeout_ms = 30000;
    }
}

void pd_sched_fini(pd_sched *s)
{
    pthread_mutex_destroy(&s->mu);
}

static pd_sched_entry *find_entry(pd_sched *s, uint64_t region_id)
{
    for (size_t i = 0; i < s->n_inflight; i++) {
        if (s->inflight[i].op.region_id == region_id) {
            return &s->inflight[i];
        }
    }
    return NULL;
}

static void drop_entry(pd_sched *s, pd_sched_entry *e)
{
    size_t i = (size_t)(e - s->inflight);
    CM_ASSERT(i < s->n_inflight);
    s->inflight[i] = s->inflight[--s->n_inflight];
}

static int epoch_moved(const pd_operator *op, const pd_region *r)
{
    return op->conf_ver != r->conf_ver || op->version != r->version;
}

int pd_sched_region(pd_sched *s, const pd_sched_view *v, uint64_t now_ms, pd_operator *op,
                    cm_err *err)
{
    const pd_region *r = v->region;
    pd_sched_store *stores = NULL;
    if (v->n_stores > 0) {
        stores = malloc(v->n_stores * sizeof(*stores));
        if (stores == NULL) {
            return cm_err_set(err, CM_E_NOMEM, "scheduler: out of memory");
        }
        memcpy(stores, v->stores, v->n_stores * sizeof(*stores));
    }
    int rc = PD_SCHED_NOTHING;
    pthread_mutex_lock(&s->mu);
    pd_sched_entry *e = find_entry(s, r->id);
    if (e != NULL) {
        if (pd_sched_op_done(&e->op, r)) {
            s->stats.done++;
            drop_entry(s, e);
        } else if (now_ms >= e->deadline_ms) {
            s->stats.timeouts++;
            drop_entry(s, e);
        } else if (epoch_moved(&e->op, r) && e->op.kind != PD_OP_TRANSFER_LEADER) {
            s->stats.obsolete++;
            drop_entry(s, e);
        } else {
            *op = e->op;
            s->stats.resent++;
            rc = PD_SCHED_RESEND;
            goto out;
        }
    }
    for (size_t i = 0; i < s->n_inflight; i++) {
        const pd_sched_entry *x = &s->inflight[i];
        for (size_t j = 0; x->op.kind == PD_OP_ADD_LEARNER && j < v->n_stores; j++) {
            if (stores[j].id == x->op.peer.store_id) {
                stores[j].adds_inflight++;
            }
        }
    }
    pd_sched_view w = *v;
    w.stores = stores;
    w.max_replicas = s->o.max_replicas;
    pd_operator next;
    if (pd_sched_decide(&w, &next) == PD_OP_NONE) {
        goto out;
    }
    if (s->n_inflight == PD_SCHED_INFLIGHT_MAX) {
        s->stats.throttled++;
        goto out;
    }
    if (next.kind == PD_OP_ADD_LEARNER) {
        rc = s->o.alloc_id_cb(s->o.alloc_user, &next.peer.id, err);
        if (rc != 0) {
            goto out;
        }
        CM_ASSERT(next.peer.id != 0);
    }
    e = &s->inflight[s->n_inflight++];
    e->op = next;
    e->deadline_ms = now_ms + s->o.op_timeout_ms;
    s->stats.issued[next.kind]++;
    *op = next;
    rc = PD_SCHED_NEW;
out:
    pthread_mutex_unlock(&s->mu);
    free(stores);
    return rc;
}

void pd_sched_expire(pd_sched *s, uint64_t now_ms)
{
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n_inflight;) {
        if (now_ms >= s->inflight[i].deadline_ms) {
            s->stats.timeouts++;
            drop_entry(s, &s->inflight[i]);
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&s->mu);
}

void pd_sched_get_stats(pd_sched *s, pd_sched_stats *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->stats;
    pthread_mutex_unlock(&s->mu);
}

size_t pd_sched_inflight(pd_sched *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->n_inflight;
    pthread_mutex_unlock(&s->mu);
    return n;
}
