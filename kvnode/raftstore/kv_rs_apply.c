/*
 * kv_rs_apply.c — applying committed entries. Every peer of the iteration applies into the
 * store's one apply batch, which also carries each peer's new apply state (and region state when
 * a split or membership change moved it), so the applied index and the applied data are never out
 * of step on disk. Commands are checked against the region epoch they were proposed under; a
 * split or membership change in between makes apply refuse them (EPOCH_NOT_MATCH), identically
 * on every replica.
 *
 * Answers (proposal callbacks, reads) are queued and delivered only after every peer has
 * advanced, so a callback may propose again at once.
 */
#include "kv_rs_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- answers -------------------------------------------------------------------------------- */

static rs_done *push_done(kv_raftstore *s, rs_peer *p, kv_raftstore_done_cb cb, void *user, int rc,
                          const char *msg)
{
    if (cb == NULL) {
        return NULL;
    }
    if (s->n_dones == s->cap_dones) {
        size_t cap = s->cap_dones ? s->cap_dones * 2 : 32;
        rs_done *v = realloc(s->dones, cap * sizeof(*v));
        if (v == NULL) {
            /* Answer now rather than never: the caller must not wait forever. */
            rs_reply_simple(cb, user, p->region_id, CM_E_NOMEM, "out of memory");
            return NULL;
        }
        s->dones = v;
        s->cap_dones = cap;
    }
    rs_done *d = &s->dones[s->n_dones++];
    memset(d, 0, sizeof(*d));
    d->cb = cb;
    d->user = user;
    d->region_id = p->region_id;
    d->rc = rc;
    d->msg = msg;
    return d;
}

void rs_reply_simple(kv_raftstore_done_cb cb, void *user, uint64_t region_id, int rc,
                     const char *msg)
{
    if (cb == NULL) {
        return;
    }
    kv_raftstore_result res;
    memset(&res, 0, sizeof(res));
    res.rc = rc;
    res.msg = msg;
    res.region_id = region_id;
    cb(user, &res);
}

void rs_reply_not_leader(rs_peer *p, kv_raftstore_done_cb cb, void *user)
{
    kv_raftstore_result res;
    memset(&res, 0, sizeof(res));
    res.rc = CM_E_NOT_LEADER;
    res.msg = "not leader";
    res.region_id = p->region_id;
    rs_peer_leader(p, &res.leader);
    if (res.leader.id == p->peer_id) {
        memset(&res.leader, 0, sizeof(res.leader));
    }
    cb(user, &res);
}

void rs_reply_epoch(rs_peer *p, kv_raftstore_done_cb cb, void *user, const char *why)
{
    kv_raftstore *s = p->store;
    kv_raftstore_result res;
    memset(&res, 0, sizeof(res));
    res.rc = CM_E_EPOCH_NOT_MATCH;
    res.msg = why;
    res.region_id = p->region_id;
    kv_region regs[2];
    kv_region_init(&regs[0]);
    kv_region_init(&regs[1]);
    size_t n = 0;
    if (kv_region_copy(&regs[0], &p->st.region) == 0) {
        n = 1;
        /* A split keeps the left part under the old id: the right part is the neighbour. */
        rs_peer *r = rs_range_right_of(s, p);
        if (r != NULL && kv_region_copy(&regs[1], &r->st.region) == 0) {
            n = 2;
        }
    }
    res.regions = regs;
    res.n_regions = n;
    s->stats.epoch_rejections++;
    cb(user, &res);
    kv_region_fini(&regs[0]);
    kv_region_fini(&regs[1]);
}

void rs_deliver_dones(kv_raftstore *s)
{
    /* Callbacks may queue more answers (through the API): take the array first. */
    while (s->n_dones > 0) {
        rs_done *v = s->dones;
        size_t n = s->n_dones;
        s->dones = NULL;
        s->n_dones = 0;
        s->cap_dones = 0;
        for (size_t i = 0; i < n; i++) {
            rs_done *d = &v[i];
            rs_peer *p = rs_find(s, d->region_id);
            if (d->epoch_error && p != NULL) {
                rs_reply_epoch(p, d->cb, d->user, d->msg);
            } else {
                kv_raftstore_result res;
                memset(&res, 0, sizeof(res));
                res.rc = d->epoch_error ? CM_E_EPOCH_NOT_MATCH : d->rc;
                res.msg = d->msg;
                res.region_id = d->region_id;
                res.index = d->index;
                res.term = d->term;
                res.regions = d->regions;
                res.n_regions = d->n_regions;
                d->cb(d->user, &res);
            }
            for (size_t k = 0; k < d->n_regions; k++) {
                kv_region_fini(&d->regions[k]);
            }
        }
        free(v);
    }
}

void rs_dones_fini(kv_raftstore *s)
{
    for (size_t i = 0; i < s->n_dones; i++) {
        rs_done *d = &s->dones[i];
        rs_reply_simple(d->cb, d->user, d->region_id, CM_E_CLOSED, "store closed");
        for (size_t k = 0; k < d->n_regions; k++) {
            kv_region_fini(&d->regions[k]);
        }
    }
    free(s->dones);
    s->dones = NULL;
    s->n_dones = 0;
    s->cap_dones = 0;
}

void rs_fail_proposals(rs_peer *p, int rc, const char *why, bool all)
{
    (void)all;
    size_t n = p->n_props;
    rs_proposal *v = p->props;
    p->props = NULL;
    p->n_props = 0;
    p->cap_props = 0;
    for (size_t i = 0; i < n; i++) {
        if (rc == CM_E_STALE_COMMAND) {
            p->store->stats.stale_commands++;
        }
        if (rc == CM_E_NOT_LEADER) {
            rs_reply_not_leader(p, v[i].cb, v[i].user);
        } else {
            rs_reply_simple(v[i].cb, v[i].user, p->region_id, rc, why);
        }
    }
    free(v);
}

/* The proposal waiting for (index, term), removed from the queue; NULL when none. Proposals
 * before index whose entries were overwritten can never apply: they are answered stale. */
static bool take_proposal(rs_peer *p, uint64_t index, uint64_t term, rs_proposal *out)
{
    size_t k = 0;
    bool found = false;
    while (k < p->n_props && p->props[k].index <= index) {
        rs_proposal *pr = &p->props[k];
        if (pr->index == index && pr->term == term) {
            *out = *pr;
            found = true;
        } else {
            p->store->stats.stale_commands++;
            push_done(p->store, p, pr->cb, pr->user, CM_E_STALE_COMMAND,
                      "the command's entry was replaced by another leader's");
        }
        k++;
    }
    if (k > 0) {
        memmove(p->props, p->props + k, (p->n_props - k) * sizeof(*p->props));
        p->n_props -= k;
    }
    return found;
}

/* ---- commands ------------------------------------------------------------------------------- */

static bool batch_in_region(const kv_region *r, const kv_batch *b)
{
    kv_batch_cursor c;
    kv_batch_entry e;
    kv_batch_iter(b, &c);
    while (kv_batch_next(&c, &e) == 1) {
        if (e.cf == KV_CF_RAFT || !kv_region_contains(r, e.key)) {
            return false;
        }
        if (e.op == KV_BATCH_DELETE_RANGE && r->end_key.len > 0 &&
            cm_slice_cmp(e.value, kv_region_end(r)) > 0) {
            return false;
        }
    }
    return true;
}

static int apply_write(rs_peer *p, const kv_rs_cmd *c, rs_proposal *pr, bool mine)
{
    kv_raftstore *s = p->store;
    if (!kv_epoch_eq(c->epoch, p->st.region.epoch)) {
        if (mine) {
            rs_done *d = push_done(s, p, pr->cb, pr->user, CM_E_EPOCH_NOT_MATCH,
                                   "region changed after the command was checked");
            if (d != NULL) {
                d->epoch_error = true;
            }
        }
        return 0;
    }
    kv_batch b;
    kv_batch_init(&b);
    cm_err err;
    int rc = kv_batch_load(&b, c->batch, &err);
    if (rc == 0 && !batch_in_region(&p->st.region, &b)) {
        rc = CM_E_KEY_NOT_IN_REGION;
    }
    if (rc == CM_E_CORRUPT || rc == CM_E_KEY_NOT_IN_REGION) {
        /* A leader never proposes this; every replica skips it the same way. */
        CM_ERROR(RS_COMPONENT, "region=%llu skipping a bad write command: %s",
                 (unsigned long long)p->region_id, cm_err_name(rc));
        if (mine) {
            push_done(s, p, pr->cb, pr->user, rc, "bad write command");
        }
        kv_batch_fini(&b);
        return 0;
    }
    if (rc == 0) {
        rc = kv_batch_append(&s->ab, &b);
    }
    kv_batch_fini(&b);
    if (rc == 0) {
        s->stats.writes_applied++;
        p->approx_valid = p->approx_valid; /* estimates refresh on their own period */
    }
    return rc;
}

static void add_pending(rs_peer *p, const kv_peer *peer)
{
    kv_rs_region_state *st = &p->st;
    for (size_t i = 0; i < st->n_pending; i++) {
        if (st->pending[i].peer.id == peer->id) {
            st->pending[i].peer = *peer;
            return;
        }
    }
    if (st->n_pending == KV_RS_PENDING_PEERS_MAX) {
        memmove(&st->pending[0], &st->pending[1], (st->n_pending - 1) * sizeof(st->pending[0]));
        st->n_pending--;
    }
    st->pending[st->n_pending++].peer = *peer;
}

static void drop_pending(rs_peer *p, uint64_t peer_id)
{
    kv_rs_region_state *st = &p->st;
    for (size_t i = 0; i < st->n_pending; i++) {
        if (st->pending[i].peer.id == peer_id) {
            memmove(&st->pending[i], &st->pending[i + 1],
                    (st->n_pending - i - 1) * sizeof(st->pending[0]));
            st->n_pending--;
            return;
        }
    }
}

static int apply_prepare(rs_peer *p, const kv_rs_cmd *c, rs_proposal *pr, bool mine)
{
    kv_raftstore *s = p->store;
    if (!kv_epoch_eq(c->epoch, p->st.region.epoch)) {
        if (mine) {
            rs_done *d = push_done(s, p, pr->cb, pr->user, CM_E_EPOCH_NOT_MATCH,
                                   "region changed before the membership change");
            if (d != NULL) {
                d->epoch_error = true;
            }
        }
        return 0;
    }
    add_pending(p, &c->peer);
    p->state_changed = true;
    if (mine) {
        /* Phase 2 (the Raft conf change) is proposed after advance. */
        p->conf_next.due = true;
        p->conf_next.op = pr->op;
        p->conf_next.peer = pr->peer;
        p->conf_next.cb = pr->cb;
        p->conf_next.user = pr->user;
    }
    return 0;
}

/* Records the new region's initial state in the apply batch; the peer is created after the
 * batch is written (rs_apply_create_split_peers). */
static int split_create_new(rs_peer *p, const kv_region *right, uint64_t my_new_peer, bool leader)
{
    kv_raftstore *s = p->store;
    rs_peer *old = rs_find(s, right->id);
    rs_tomb *tomb = rs_map_get(&s->tombs, right->id);
    if ((old != NULL && old->initialized) || (tomb != NULL && tomb->peer_id >= my_new_peer)) {
        /* The new region already lives here (or its peer here was removed): it moved on through
         * other paths; its data in our old range is stale. */
        CM_INFO(RS_COMPONENT, "store=%llu split of region %llu: new region %llu %s here",
                (unsigned long long)s->store_id, (unsigned long long)p->region_id,
                (unsigned long long)right->id, old != NULL ? "already exists" : "was removed");
        if (old == NULL) {
            return rs_delete_data_range(s->env.engine, &s->ab, kv_region_start(right),
                                        kv_region_end(right));
        }
        return 0;
    }
    if (s->n_split_news == s->cap_split_news) {
        size_t cap = s->cap_split_news ? s->cap_split_news * 2 : 4;
        rs_split_new *v = realloc(s->split_news, cap * sizeof(*v));
        if (v == NULL) {
            return CM_E_NOMEM;
        }
        s->split_news = v;
        s->cap_split_news = cap;
    }
    rs_split_new *sn = &s->split_news[s->n_split_news];
    memset(sn, 0, sizeof(*sn));
    kv_rs_region_state_init(&sn->st);
    sn->st.peer_id = my_new_peer;
    int rc = kv_region_copy(&sn->st.region, right);
    if (rc != 0) {
        kv_rs_region_state_fini(&sn->st);
        return rc;
    }
    sn->rst.hs.term = KV_RS_INIT_TERM;
    sn->rst.hs.commit = KV_RS_INIT_INDEX;
    if (old != NULL) {
        /* An uninitialized peer of the region may have voted: keep its promise. */
        sn->replaces_uninit = true;
        if (old->rs.hs.term > KV_RS_INIT_TERM) {
            sn->rst.hs.term = old->rs.hs.term;
            sn->rst.hs.vote = old->rs.hs.vote;
        }
    }
    sn->rst.trunc_index = KV_RS_INIT_INDEX;
    sn->rst.trunc_term = KV_RS_INIT_TERM;
    kv_region_conf(right, &sn->rst.trunc_conf);
    sn->campaign = leader;
    s->n_split_news++;
    /* The states, in this batch, atomically with the parent's new range. */
    cm_buf *v = &s->scratch;
    uint8_t key[KV_RS_META_KEY_LEN];
    cm_buf_reset(v);
    kv_rs_key_meta(right->id, KV_RS_SUFFIX_REGION_STATE, key);
    rc = kv_rs_region_state_encode(&sn->st, v);
    rc = rc ? rc
            : kv_batch_put(&s->ab, KV_CF_RAFT, cm_slice_make(key, sizeof(key)), cm_buf_slice(v));
    cm_buf_reset(v);
    kv_rs_key_meta(right->id, KV_RS_SUFFIX_RAFT_STATE, key);
    rc = rc ? rc : kv_rs_raft_state_encode(&sn->rst, v);
    rc = rc ? rc
            : kv_batch_put(&s->ab, KV_CF_RAFT, cm_slice_make(key, sizeof(key)), cm_buf_slice(v));
    kv_rs_apply_state ast = {KV_RS_INIT_INDEX, KV_RS_INIT_TERM};
    cm_buf_reset(v);
    kv_rs_key_meta(right->id, KV_RS_SUFFIX_APPLY_STATE, key);
    rc = rc ? rc : kv_rs_apply_state_encode(&ast, v);
    rc = rc ? rc
            : kv_batch_put(&s->ab, KV_CF_RAFT, cm_slice_make(key, sizeof(key)), cm_buf_slice(v));
    return rc;
}

static int apply_split(rs_peer *p, const kv_rs_cmd *c, rs_proposal *pr, bool mine)
{
    kv_raftstore *s = p->store;
    kv_region *r = &p->st.region;
    if (!kv_epoch_eq(c->epoch, r->epoch)) {
        if (mine) {
            rs_done *d = push_done(s, p, pr->cb, pr->user, CM_E_EPOCH_NOT_MATCH,
                                   "region changed before the split");
            if (d != NULL) {
                d->epoch_error = true;
            }
        }
        return 0;
    }
    if (!kv_region_contains(r, c->split_key) || cm_slice_eq(c->split_key, kv_region_start(r)) ||
        c->n_new_peers != r->n_peers) {
        CM_ERROR(RS_COMPONENT, "region=%llu skipping a bad split command",
                 (unsigned long long)p->region_id);
        if (mine) {
            push_done(s, p, pr->cb, pr->user, CM_E_INVALID, "bad split command");
        }
        return 0;
    }
    kv_region right;
    kv_region_init(&right);
    int rc = kv_region_set_range(&right, c->split_key, kv_region_end(r));
    right.id = c->new_region_id;
    right.epoch.conf_ver = r->epoch.conf_ver;
    right.epoch.version = r->epoch.version + 1;
    uint64_t my_new = 0;
    for (size_t i = 0; i < r->n_peers; i++) {
        right.peers[i] = r->peers[i];
        right.peers[i].id = c->new_peer_ids[i];
        if (r->peers[i].id == p->peer_id) {
            my_new = c->new_peer_ids[i];
        }
    }
    right.n_peers = r->n_peers;
    if (rc == 0) {
        rc = kv_region_set_range(r, kv_region_start(r), c->split_key);
    }
    r->epoch.version++;
    p->state_changed = true;
    p->approx_valid = false;
    if (pr != NULL && mine) {
        rs_done *d = push_done(s, p, pr->cb, pr->user, 0, "split");
        if (d != NULL) {
            kv_region_init(&d->regions[0]);
            kv_region_init(&d->regions[1]);
            d->n_regions = 2;
            if (kv_region_copy(&d->regions[0], r) != 0 || kv_region_copy(&d->regions[1], &right)) {
                d->rc = CM_E_NOMEM;
            }
        }
    }
    bool leader = p->rd.role == CM_RAFT_LEADER;
    if (rc == 0 && my_new != 0) {
        rc = split_create_new(p, &right, my_new, leader);
    }
    kv_region_fini(&right);
    if (p->split_index != 0 && p->split_index <= p->apply.applied_index + 1) {
        p->split_index = 0;
    }
    p->hb_pending = leader;
    s->stats.splits_applied++;
    CM_INFO(RS_COMPONENT, "store=%llu region=%llu split at a key; new region %llu",
            (unsigned long long)s->store_id, (unsigned long long)p->region_id,
            (unsigned long long)c->new_region_id);
    return rc;
}

static int apply_normal(rs_peer *p, const cm_raft_entry *e, rs_proposal *pr, bool mine)
{
    kv_rs_cmd c;
    cm_err err;
    if (kv_rs_cmd_decode(e->data, &c, &err) != 0) {
        CM_ERROR(RS_COMPONENT, "region=%llu entry %llu: %s", (unsigned long long)p->region_id,
                 (unsigned long long)e->index, err.msg);
        if (mine) {
            push_done(p->store, p, pr->cb, pr->user, CM_E_CORRUPT, "undecodable command");
        }
        return 0;
    }
    int rc = 0;
    switch (c.kind) {
    case KV_RS_CMD_WRITE:
        rc = apply_write(p, &c, pr, mine);
        if (rc == 0 && mine && kv_epoch_eq(c.epoch, p->st.region.epoch)) {
            rs_done *d = push_done(p->store, p, pr->cb, pr->user, 0, "applied");
            if (d != NULL) {
                d->index = e->index;
                d->term = e->term;
            }
        }
        return rc;
    case KV_RS_CMD_SPLIT:
        return apply_split(p, &c, pr, mine);
    case KV_RS_CMD_PREPARE_PEER:
        return apply_prepare(p, &c, pr, mine);
    default:
        return 0;
    }
}

static int apply_conf(rs_peer *p, const cm_raft_entry *e, rs_proposal *pr, bool mine)
{
    kv_raftstore *s = p->store;
    cm_raft_conf_change cc;
    if (cm_raft_conf_change_decode(e->data, &cc) != 0) {
        CM_ERROR(RS_COMPONENT, "region=%llu entry %llu: bad conf change",
                 (unsigned long long)p->region_id, (unsigned long long)e->index);
        return 0;
    }
    kv_region *r = &p->st.region;
    kv_peer *cur = (kv_peer *)kv_region_peer(r, cc.node);
    if (cc.op == CM_RAFT_CONF_REMOVE) {
        kv_region_remove_peer(r, cc.node);
        if (cc.node == p->peer_id) {
            p->destroy_pending = true;
        } else if (cur != NULL) {
            /* Tell the removed peer at once; if this is lost it asks later (stale check). */
            kv_peer me = {p->peer_id, s->store_id, KV_PEER_VOTER};
            kv_peer gone = {cc.node, rs_peer_store_of(p, cc.node), KV_PEER_VOTER};
            kv_epoch ep = r->epoch;
            ep.conf_ver++;
            if (gone.store_id != 0 && rs_peer_is_leader(p)) {
                rs_send_tombstone(s, p->region_id, &me, ep, &gone);
            }
        }
    } else if (cur != NULL) {
        if (cc.op == CM_RAFT_CONF_ADD_VOTER) {
            cur->role = KV_PEER_VOTER;
        }
    } else {
        kv_peer np = {cc.node, rs_peer_store_of(p, cc.node),
                      cc.op == CM_RAFT_CONF_ADD_LEARNER ? KV_PEER_LEARNER : KV_PEER_VOTER};
        if (np.store_id == 0 || kv_region_add_peer(r, &np) != 0) {
            CM_ERROR(RS_COMPONENT,
                     "region=%llu conf change adds peer %llu on an unknown or taken "
                     "store; region metadata left without it",
                     (unsigned long long)p->region_id, (unsigned long long)cc.node);
        }
    }
    drop_pending(p, cc.node);
    r->epoch.conf_ver++;
    p->state_changed = true;
    p->hb_pending = rs_peer_is_leader(p);
    s->stats.conf_changes_applied++;
    if (mine) {
        rs_done *d = push_done(s, p, pr->cb, pr->user, 0, "membership changed");
        if (d != NULL) {
            d->index = e->index;
            d->term = e->term;
            kv_region_init(&d->regions[0]);
            d->n_regions = 1;
            if (kv_region_copy(&d->regions[0], r) != 0) {
                d->rc = CM_E_NOMEM;
            }
        }
    }
    return 0;
}

int rs_apply_committed(rs_peer *p)
{
    kv_raftstore *s = p->store;
    const cm_raft_ready *rd = &p->rd;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < rd->n_committed && !p->destroy_pending; i++) {
        const cm_raft_entry *e = &rd->committed[i];
        if (e->index <= p->apply.applied_index) {
            continue; /* covered by a snapshot installed in this iteration */
        }
        CM_ASSERT(e->index == p->apply.applied_index + 1);
        rs_proposal pr;
        memset(&pr, 0, sizeof(pr));
        bool mine = take_proposal(p, e->index, e->term, &pr);
        if (e->type == CM_RAFT_ENTRY_CONF) {
            rc = apply_conf(p, e, &pr, mine);
        } else if (e->data.len > 0) {
            rc = apply_normal(p, e, &pr, mine);
        }
        p->apply.applied_index = e->index;
        p->apply.applied_term = e->term;
        p->apply_changed = true;
        if (s->env.apply_observer_cb != NULL) {
            s->env.apply_observer_cb(s->env.ctx, p->region_id, e->index, e->term, e->data);
        }
    }
    if (rc == 0 && p->state_changed) {
        rc = rs_peer_put_region_state(p, &s->ab);
        p->state_changed = false;
    }
    if (rc == 0 && p->apply_changed) {
        rc = rs_peer_put_apply_state(p, &s->ab);
        p->apply_changed = false;
    }
    return rc;
}

void rs_apply_finish(rs_peer *p)
{
    const cm_raft_ready *rd = &p->rd;
    for (size_t i = 0; i < rd->n_reads; i++) {
        for (size_t k = 0; k < p->n_reads; k++) {
            rs_read *r = &p->reads[k];
            if (r->id != rd->reads[i].ctx || r->state != RS_READ_ASKED) {
                continue;
            }
            if (rd->reads[i].status != 0) {
                r->state = RS_READ_FAILED;
                r->rc = CM_E_NOT_LEADER;
            } else {
                r->state = RS_READ_APPLY;
                r->index = rd->reads[i].index;
            }
            break;
        }
    }
}

/* ---- after advance -------------------------------------------------------------------------- */

void rs_split_news_fini(kv_raftstore *s)
{
    for (size_t i = 0; i < s->n_split_news; i++) {
        kv_rs_region_state_fini(&s->split_news[i].st);
    }
    free(s->split_news);
    s->split_news = NULL;
    s->n_split_news = 0;
    s->cap_split_news = 0;
}

void rs_apply_create_split_peers(kv_raftstore *s)
{
    for (size_t i = 0; i < s->n_split_news; i++) {
        rs_split_new *sn = &s->split_news[i];
        rs_peer *old = rs_find(s, sn->st.region.id);
        if (old != NULL) {
            CM_ASSERT(!old->initialized);
            rs_fail_reads(old, CM_E_REGION_NOT_FOUND, "replaced by a split");
            rs_map_del(&s->peers, old->region_id);
            for (size_t k = 0; k < s->n_dirty; k++) {
                if (s->dirty[k] == old) {
                    s->dirty[k] = s->dirty[--s->n_dirty];
                    break;
                }
            }
            rs_peer_free(old);
        }
        kv_rs_apply_state ast = {KV_RS_INIT_INDEX, KV_RS_INIT_TERM};
        rs_peer *p;
        cm_err err;
        /* A peer born from a split never ran, unless it replaces one that may have voted. */
        int rc = rs_peer_create(s, &sn->st, &sn->rst, &ast, KV_RS_INIT_INDEX, KV_RS_INIT_TERM,
                                !sn->replaces_uninit, &p, &err);
        if (rc != 0) {
            CM_ERROR(RS_COMPONENT, "store=%llu cannot create split region %llu: %s",
                     (unsigned long long)s->store_id, (unsigned long long)sn->st.region.id,
                     err.msg);
            continue;
        }
        s->stats.peers_created++;
        if (sn->campaign) {
            /* The parent's leader is here: campaign at once instead of waiting out an election
             * timeout (the other replicas apply the split at about the same time). */
            (void)cm_raft_campaign(p->raft);
        }
    }
    rs_split_news_fini(s);
}

void rs_run_conf_next(rs_peer *p)
{
    if (!p->conf_next.due) {
        return;
    }
    rs_conf_next cn = p->conf_next;
    p->conf_next.due = false;
    cm_raft_conf_change cc;
    cc.node = cn.peer.id;
    cc.op = cn.op == KV_CONF_ADD_LEARNER ? CM_RAFT_CONF_ADD_LEARNER : CM_RAFT_CONF_ADD_VOTER;
    uint64_t index, term;
    int rc = cm_raft_propose_conf(p->raft, &cc, &index, &term);
    if (rc == CM_E_NOT_LEADER) {
        rs_reply_not_leader(p, cn.cb, cn.user);
        return;
    }
    if (rc != 0) {
        rs_reply_simple(cn.cb, cn.user, p->region_id, rc == CM_E_BUSY ? CM_E_SERVER_IS_BUSY : rc,
                        "the Raft core refused the membership change");
        return;
    }
    rs_mark_dirty(p);
    if (p->n_props == p->cap_props) {
        size_t cap = p->cap_props ? p->cap_props * 2 : 8;
        rs_proposal *v = realloc(p->props, cap * sizeof(*v));
        if (v == NULL) {
            rs_reply_simple(cn.cb, cn.user, p->region_id, CM_E_NOMEM, "out of memory");
            return;
        }
        p->props = v;
        p->cap_props = cap;
    }
    rs_proposal *pr = &p->props[p->n_props++];
    memset(pr, 0, sizeof(*pr));
    pr->index = index;
    pr->term = term;
    pr->kind = RS_PROP_CONF;
    pr->cb = cn.cb;
    pr->user = cn.user;
    pr->op = cn.op;
    pr->peer = cn.peer;
}

/* ---- reads ---------------------------------------------------------------------------------- */

static void read_reply(rs_peer *p, rs_read *r, int rc, const char *why)
{
    kv_raftstore_result res;
    memset(&res, 0, sizeof(res));
    res.rc = rc;
    res.msg = why;
    res.region_id = p->region_id;
    kv_region regs[2];
    kv_region_init(&regs[0]);
    kv_region_init(&regs[1]);
    kv_snapshot *snap = NULL;
    if (rc == CM_E_NOT_LEADER) {
        rs_peer_leader(p, &res.leader);
        if (res.leader.id == p->peer_id) {
            memset(&res.leader, 0, sizeof(res.leader));
        }
    } else if (rc == CM_E_EPOCH_NOT_MATCH) {
        p->store->stats.epoch_rejections++;
        if (kv_region_copy(&regs[0], &p->st.region) == 0) {
            res.n_regions = 1;
            rs_peer *right = rs_range_right_of(p->store, p);
            if (right != NULL && kv_region_copy(&regs[1], &right->st.region) == 0) {
                res.n_regions = 2;
            }
        }
        res.regions = regs;
    } else if (rc == 0) {
        cm_err err;
        res.rc = kv_engine_snapshot(p->store->env.engine, &snap, &err);
        res.msg = res.rc == 0 ? "ok" : "engine snapshot failed";
        res.regions = &p->st.region;
        res.n_regions = 1;
        res.index = r->index;
    }
    r->cb(r->user, &res, snap);
    kv_region_fini(&regs[0]);
    kv_region_fini(&regs[1]);
}

void rs_read_serve(rs_peer *p, rs_read *r)
{
    if (!kv_epoch_eq(r->epoch, p->st.region.epoch)) {
        /* A split or membership change applied while the read waited. */
        read_reply(p, r, CM_E_EPOCH_NOT_MATCH, "region changed while the read waited");
        return;
    }
    read_reply(p, r, 0, "ok");
}

void rs_fail_reads(rs_peer *p, int rc, const char *why)
{
    size_t n = p->n_reads;
    rs_read *v = p->reads;
    p->reads = NULL;
    p->n_reads = 0;
    p->cap_reads = 0;
    for (size_t i = 0; i < n; i++) {
        read_reply(p, &v[i], rc, why);
    }
    free(v);
}

int rs_read_push(rs_peer *p, const rs_read *r)
{
    if (p->n_reads >= KV_RS_READS_MAX) {
        return CM_E_SERVER_IS_BUSY;
    }
    if (p->n_reads == p->cap_reads) {
        size_t cap = p->cap_reads ? p->cap_reads * 2 : 8;
        rs_read *v = realloc(p->reads, cap * sizeof(*v));
        if (v == NULL) {
            return CM_E_NOMEM;
        }
        p->reads = v;
        p->cap_reads = cap;
    }
    p->reads[p->n_reads++] = *r;
    return 0;
}

void rs_serve_reads(rs_peer *p)
{
    if (p->n_reads == 0) {
        return;
    }
    kv_raftstore *s = p->store;
    size_t n = p->n_reads;
    rs_read *v = p->reads;
    p->reads = NULL;
    p->n_reads = 0;
    p->cap_reads = 0;
    bool leader = rs_peer_is_leader(p);
    for (size_t i = 0; i < n; i++) {
        rs_read *r = &v[i];
        if (r->state == RS_READ_FAILED) {
            read_reply(p, r, r->rc, "leadership lost before the read was confirmed");
        } else if (r->state == RS_READ_APPLY && r->index <= p->apply.applied_index) {
            rs_read_serve(p, r);
        } else if (r->age_ticks >= s->cfg.request_timeout_ticks) {
            read_reply(p, r, CM_E_TIMEOUT, "the read could not be confirmed in time");
        } else if (!leader && r->state != RS_READ_APPLY) {
            read_reply(p, r, CM_E_NOT_LEADER, "not leader");
        } else if (r->state == RS_READ_RETRY) {
            int rc = rs_read_issue(p, r);
            if (rc < 0) {
                read_reply(p, r, rc, "read refused");
            } else if (rc == 0 && rs_read_push(p, r) != 0) {
                read_reply(p, r, CM_E_SERVER_IS_BUSY, "too many reads");
            }
        } else if (rs_read_push(p, r) != 0) {
            read_reply(p, r, CM_E_SERVER_IS_BUSY, "too many reads");
        }
    }
    free(v);
}
