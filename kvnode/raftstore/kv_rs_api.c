/*
 * kv_rs_api.c — what the transaction layer and PD's scheduler call: propose, read, split,
 * membership changes, leader transfer; and inspection. Each command is checked here against the
 * region's current epoch and leadership (the cheap, early refusal) and again at apply (the one
 * that decides, kv_rs_apply.c).
 */
#include "kv_rs_int.h"

#include <stdlib.h>
#include <string.h>

/* The leader peer of an initialized region with the caller's epoch, or NULL after answering. */
static rs_peer *leader_for(kv_raftstore *s, uint64_t region_id, kv_epoch epoch,
                           kv_raftstore_done_cb cb, void *user)
{
    if (s->poisoned) {
        rs_reply_simple(cb, user, region_id, s->poisoned, "store stopped after an I/O error");
        return NULL;
    }
    rs_peer *p = rs_find(s, region_id);
    if (p == NULL || !p->initialized) {
        rs_reply_simple(cb, user, region_id, CM_E_REGION_NOT_FOUND, "region not on this store");
        return NULL;
    }
    if (!kv_epoch_eq(epoch, p->st.region.epoch)) {
        rs_reply_epoch(p, cb, user, "stale region epoch");
        return NULL;
    }
    if (!rs_peer_is_leader(p)) {
        rs_reply_not_leader(p, cb, user);
        return NULL;
    }
    return p;
}

static int push_proposal(rs_peer *p, uint8_t kind, uint64_t index, uint64_t term,
                         kv_raftstore_done_cb cb, void *user, kv_conf_op op, const kv_peer *peer)
{
    if (p->n_props == p->cap_props) {
        size_t cap = p->cap_props ? p->cap_props * 2 : 8;
        rs_proposal *v = realloc(p->props, cap * sizeof(*v));
        if (v == NULL) {
            return CM_E_NOMEM;
        }
        p->props = v;
        p->cap_props = cap;
    }
    rs_proposal *pr = &p->props[p->n_props++];
    memset(pr, 0, sizeof(*pr));
    pr->index = index;
    pr->term = term;
    pr->kind = kind;
    pr->cb = cb;
    pr->user = user;
    pr->op = op;
    if (peer != NULL) {
        pr->peer = *peer;
    }
    return 0;
}

/* Proposes an encoded command; answers cb on failure. Returns 0 when cb will be answered by
 * apply (the proposal is queued). */
static int propose_cmd(rs_peer *p, const kv_rs_cmd *c, uint8_t kind, kv_raftstore_done_cb cb,
                       void *user, kv_conf_op op, const kv_peer *peer, uint64_t *index_out)
{
    kv_raftstore *s = p->store;
    if (p->n_props >= KV_RS_PROPOSALS_MAX) {
        rs_reply_simple(cb, user, p->region_id, CM_E_SERVER_IS_BUSY, "too many proposals");
        return CM_E_SERVER_IS_BUSY;
    }
    cm_buf data = CM_BUF_INIT;
    int rc = kv_rs_cmd_encode(c, &data);
    uint64_t index = 0, term = 0;
    if (rc == 0) {
        rc = cm_raft_propose(p->raft, cm_buf_slice(&data), &index, &term);
    }
    cm_buf_fini(&data);
    if (rc == 0) {
        rc = push_proposal(p, kind, index, term, cb, user, op, peer);
        /* Without its record the entry still applies; the caller hears nothing, so say so. */
    }
    if (rc == CM_E_NOT_LEADER) {
        rs_reply_not_leader(p, cb, user);
        return rc;
    }
    if (rc != 0) {
        rs_reply_simple(cb, user, p->region_id, rc == CM_E_BUSY ? CM_E_SERVER_IS_BUSY : rc,
                        rc == CM_E_BUSY ? "leadership transfer in progress" : "proposal refused");
        return rc;
    }
    s->stats.proposals++;
    rs_mark_dirty(p);
    if (index_out != NULL) {
        *index_out = index;
    }
    return 0;
}

void kv_raftstore_propose(kv_raftstore *s, uint64_t region_id, kv_epoch epoch,
                          const kv_batch *batch, kv_raftstore_done_cb cb, void *user)
{
    rs_peer *p = leader_for(s, region_id, epoch, cb, user);
    if (p == NULL) {
        return;
    }
    if (kv_batch_count(batch) == 0) {
        rs_reply_simple(cb, user, region_id, CM_E_INVALID, "empty write batch");
        return;
    }
    kv_batch_cursor cur;
    kv_batch_entry e;
    kv_batch_iter(batch, &cur);
    while (kv_batch_next(&cur, &e) == 1) {
        if (e.cf == KV_CF_RAFT) {
            rs_reply_simple(cb, user, region_id, CM_E_INVALID, "writes to the raft column family");
            return;
        }
        bool in = kv_region_contains(&p->st.region, e.key);
        if (in && e.op == KV_BATCH_DELETE_RANGE && p->st.region.end_key.len > 0 &&
            cm_slice_cmp(e.value, kv_region_end(&p->st.region)) > 0) {
            in = false;
        }
        if (!in) {
            kv_raftstore_result res;
            memset(&res, 0, sizeof(res));
            res.rc = CM_E_KEY_NOT_IN_REGION;
            res.msg = "key not in region";
            res.region_id = region_id;
            res.key = e.key;
            res.regions = &p->st.region;
            res.n_regions = 1;
            cb(user, &res);
            return;
        }
    }
    kv_rs_cmd c;
    memset(&c, 0, sizeof(c));
    c.kind = KV_RS_CMD_WRITE;
    c.epoch = epoch;
    c.batch = kv_batch_data(batch);
    (void)propose_cmd(p, &c, RS_PROP_WRITE, cb, user, 0, NULL, NULL);
}

/* ---- reads ---------------------------------------------------------------------------------- */

int rs_read_issue(rs_peer *p, rs_read *r)
{
    kv_raftstore *s = p->store;
    if (s->cfg.lease_read && p->split_index == 0) {
        /* Lease reads only when everything committed is applied: a split committed but not yet
         * applied here may already have moved keys to a new region elsewhere (its replicas
         * apply on their own), so it is the apply, not the lease, that must decide. */
        cm_raft_status st;
        cm_raft_status_get(p->raft, &st);
        uint64_t idx;
        if (st.commit == p->apply.applied_index && cm_raft_lease_read(p->raft, &idx) == 0 &&
            idx <= p->apply.applied_index) {
            r->index = idx;
            s->stats.lease_reads++;
            rs_read_serve(p, r);
            return 1;
        }
    }
    int rc = cm_raft_read_index(p->raft, r->id);
    switch (rc) {
    case 0:
        r->state = RS_READ_ASKED;
        s->stats.index_reads++;
        rs_mark_dirty(p);
        return 0;
    case CM_E_UNAVAILABLE:
        r->state = RS_READ_RETRY; /* no entry of the leader's term applied yet */
        return 0;
    case CM_E_BUSY:
        return CM_E_SERVER_IS_BUSY;
    default:
        return rc;
    }
}

void kv_raftstore_read(kv_raftstore *s, uint64_t region_id, kv_epoch epoch, kv_raftstore_read_cb cb,
                       void *user)
{
    kv_raftstore_result res;
    memset(&res, 0, sizeof(res));
    res.region_id = region_id;
    rs_peer *p = s->poisoned ? NULL : rs_find(s, region_id);
    if (s->poisoned || p == NULL || !p->initialized) {
        res.rc = s->poisoned ? s->poisoned : CM_E_REGION_NOT_FOUND;
        res.msg = "region not on this store";
        cb(user, &res, NULL);
        return;
    }
    rs_read r;
    memset(&r, 0, sizeof(r));
    r.id = ++s->next_read_id;
    r.epoch = epoch;
    r.cb = cb;
    r.user = user;
    r.state = RS_READ_RETRY;
    if (!kv_epoch_eq(epoch, p->st.region.epoch)) {
        rs_read_serve(p, &r); /* answers EPOCH_NOT_MATCH */
        return;
    }
    if (!rs_peer_is_leader(p)) {
        res.rc = CM_E_NOT_LEADER;
        res.msg = "not leader";
        rs_peer_leader(p, &res.leader);
        if (res.leader.id == p->peer_id) {
            memset(&res.leader, 0, sizeof(res.leader));
        }
        cb(user, &res, NULL);
        return;
    }
    int rc = rs_read_issue(p, &r);
    if (rc == 0) {
        rc = rs_read_push(p, &r);
    }
    if (rc < 0) {
        res.rc = rc;
        res.msg = "read refused";
        if (rc == CM_E_NOT_LEADER) {
            rs_peer_leader(p, &res.leader);
        }
        cb(user, &res, NULL);
    }
}

/* ---- split ---------------------------------------------------------------------------------- */

void kv_raftstore_split(kv_raftstore *s, uint64_t region_id, kv_epoch epoch, cm_slice split_key,
                        kv_raftstore_done_cb cb, void *user)
{
    rs_peer *p = leader_for(s, region_id, epoch, cb, user);
    if (p == NULL) {
        return;
    }
    kv_region *r = &p->st.region;
    if (split_key.len == 0 || split_key.len > KV_KEY_BYTES_MAX ||
        !kv_region_contains(r, split_key) || cm_slice_eq(split_key, kv_region_start(r))) {
        kv_raftstore_result res;
        memset(&res, 0, sizeof(res));
        res.rc = CM_E_KEY_NOT_IN_REGION;
        res.msg = "split key not strictly inside the region";
        res.region_id = region_id;
        res.key = split_key;
        res.regions = r;
        res.n_regions = 1;
        cb(user, &res);
        return;
    }
    if (p->split_index != 0) {
        rs_reply_simple(cb, user, region_id, CM_E_SERVER_IS_BUSY, "a split is in progress");
        return;
    }
    uint64_t ids[1 + KV_REGION_PEERS_MAX];
    cm_err err;
    memset(&err, 0, sizeof(err));
    int rc = s->env.alloc_ids_cb(s->env.ctx, 1 + (size_t)r->n_peers, ids, &err);
    if (rc != 0) {
        rs_reply_simple(cb, user, region_id, rc, "no ids for the split");
        return;
    }
    kv_rs_cmd c;
    memset(&c, 0, sizeof(c));
    c.kind = KV_RS_CMD_SPLIT;
    c.epoch = epoch;
    c.split_key = split_key;
    c.new_region_id = ids[0];
    c.n_new_peers = r->n_peers;
    for (size_t i = 0; i < r->n_peers; i++) {
        c.new_peer_ids[i] = ids[1 + i];
    }
    uint64_t index;
    if (propose_cmd(p, &c, RS_PROP_SPLIT, cb, user, 0, NULL, &index) == 0) {
        p->split_index = index; /* lease reads wait until it is applied */
    }
}

/* ---- membership ----------------------------------------------------------------------------- */

void kv_raftstore_change_peer(kv_raftstore *s, uint64_t region_id, kv_epoch epoch, kv_conf_op op,
                              kv_peer peer, kv_raftstore_done_cb cb, void *user)
{
    rs_peer *p = leader_for(s, region_id, epoch, cb, user);
    if (p == NULL) {
        return;
    }
    const kv_region *r = &p->st.region;
    const kv_peer *cur = kv_region_peer(r, peer.id);
    if (peer.id == 0) {
        rs_reply_simple(cb, user, region_id, CM_E_INVALID, "peer id 0");
        return;
    }
    if (op == KV_CONF_ADD_LEARNER || op == KV_CONF_ADD_VOTER) {
        if (cur != NULL || peer.store_id == 0 ||
            kv_region_peer_on_store(r, peer.store_id) != NULL) {
            rs_reply_simple(cb, user, region_id, CM_E_INVALID,
                            "the peer or its store is already in the region");
            return;
        }
        kv_rs_cmd c;
        memset(&c, 0, sizeof(c));
        c.kind = KV_RS_CMD_PREPARE_PEER;
        c.epoch = epoch;
        c.peer = peer;
        c.peer.role = op == KV_CONF_ADD_LEARNER ? KV_PEER_LEARNER : KV_PEER_VOTER;
        (void)propose_cmd(p, &c, RS_PROP_PREPARE, cb, user, op, &c.peer, NULL);
        return;
    }
    cm_raft_conf_change cc;
    cc.node = peer.id;
    if (op == KV_CONF_PROMOTE) {
        if (cur == NULL || cur->role != KV_PEER_LEARNER) {
            rs_reply_simple(cb, user, region_id, CM_E_INVALID, "not a learner of the region");
            return;
        }
        cc.op = CM_RAFT_CONF_ADD_VOTER;
    } else if (op == KV_CONF_REMOVE) {
        if (cur == NULL) {
            rs_reply_simple(cb, user, region_id, CM_E_INVALID, "not a peer of the region");
            return;
        }
        cc.op = CM_RAFT_CONF_REMOVE;
    } else {
        rs_reply_simple(cb, user, region_id, CM_E_INVALID, "unknown membership operation");
        return;
    }
    uint64_t index, term;
    int rc = cm_raft_propose_conf(p->raft, &cc, &index, &term);
    if (rc == 0) {
        rc = push_proposal(p, RS_PROP_CONF, index, term, cb, user, op, &peer);
    }
    if (rc == CM_E_NOT_LEADER) {
        rs_reply_not_leader(p, cb, user);
        return;
    }
    if (rc != 0) {
        rs_reply_simple(cb, user, region_id, rc == CM_E_BUSY ? CM_E_SERVER_IS_BUSY : rc,
                        "the Raft core refused the membership change");
        return;
    }
    s->stats.proposals++;
    rs_mark_dirty(p);
}

int kv_raftstore_transfer_leader(kv_raftstore *s, uint64_t region_id, uint64_t peer_id)
{
    rs_peer *p = rs_find(s, region_id);
    if (p == NULL) {
        return CM_E_REGION_NOT_FOUND;
    }
    int rc = cm_raft_transfer_leader(p->raft, peer_id);
    if (rc == 0) {
        rs_mark_dirty(p);
    }
    return rc;
}

int kv_raftstore_campaign(kv_raftstore *s, uint64_t region_id)
{
    rs_peer *p = rs_find(s, region_id);
    if (p == NULL) {
        return CM_E_REGION_NOT_FOUND;
    }
    int rc = cm_raft_campaign(p->raft);
    if (rc == 0) {
        rs_mark_dirty(p);
    }
    return rc;
}

/* ---- inspection ----------------------------------------------------------------------------- */

int kv_raftstore_region(kv_raftstore *s, uint64_t region_id, kv_region *region, kv_peer_status *out)
{
    rs_peer *p = rs_find(s, region_id);
    if (p == NULL) {
        return CM_E_REGION_NOT_FOUND;
    }
    if (region != NULL && kv_region_copy(region, &p->st.region) != 0) {
        return CM_E_NOMEM;
    }
    if (out != NULL) {
        cm_raft_status st;
        cm_raft_status_get(p->raft, &st);
        memset(out, 0, sizeof(*out));
        out->region_id = region_id;
        out->peer_id = p->peer_id;
        out->initialized = p->initialized;
        out->leader = st.role == CM_RAFT_LEADER;
        out->leader_peer_id = st.lead;
        out->term = st.term;
        out->commit = st.commit;
        out->applied = p->apply.applied_index;
        out->first_index = p->rs.trunc_index + 1;
        out->last_index = p->last_index;
        out->approx_bytes = p->approx_bytes;
        out->approx_keys = p->approx_keys;
    }
    return 0;
}

size_t kv_raftstore_region_ids(kv_raftstore *s, uint64_t *ids, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n_ranges; i++) {
        if (n < cap) {
            ids[n] = s->ranges[i]->region_id;
        }
        n++;
    }
    for (size_t i = 0; i < s->peers.cap; i++) {
        rs_peer *p = s->peers.slots[i].val;
        if (s->peers.slots[i].key != 0 && !p->initialized) {
            if (n < cap) {
                ids[n] = p->region_id;
            }
            n++;
        }
    }
    return n;
}
