/*
 * kv_rs_msg.c — messages between stores (proto/kvrpcpb.proto, docs/raftstore.md "messages").
 *
 * Out: every Raft message of an iteration is wrapped in a RaftMessage (region, peers, epoch,
 * range) and appended to the BatchRaftMessage of its destination store, which is built directly
 * in protobuf wire form (field 1 from_store_id, then one length-delimited field 2 per message)
 * and sent once per iteration. Snapshots travel apart, as SnapshotChunk messages: the first
 * carries the RaftMessage (with the snapshot's data left out), every chunk a slice of the data.
 *
 * In: a message is routed to its region's peer. For an unknown region the store creates an
 * uninitialized peer — unless the region's range overlaps a local region (the local parent has
 * not applied the split that creates it yet; the split will) or the region's peer here was
 * removed (tombstone). Stale peers learn of their removal from is_tombstone messages.
 */
#include "kv_rs_int.h"

#include "kvrpcpb.pb-c.h"
#include "metapb.pb-c.h"

#include <stdlib.h>
#include <string.h>

/* ---- out ------------------------------------------------------------------------------------ */

static rs_outbox *outbox_for(kv_raftstore *s, uint64_t store_id)
{
    for (size_t i = 0; i < s->n_outs; i++) {
        if (s->outs[i].store_id == store_id) {
            return &s->outs[i];
        }
    }
    if (s->n_outs == s->cap_outs) {
        size_t cap = s->cap_outs ? s->cap_outs * 2 : 8;
        rs_outbox *v = realloc(s->outs, cap * sizeof(*v));
        if (v == NULL) {
            return NULL;
        }
        s->outs = v;
        s->cap_outs = cap;
    }
    rs_outbox *o = &s->outs[s->n_outs++];
    memset(o, 0, sizeof(*o));
    o->store_id = store_id;
    cm_buf_init(&o->payload);
    return o;
}

/* Appends rm as one element of the repeated field 2 of o's BatchRaftMessage. */
static int outbox_add(kv_raftstore *s, rs_outbox *o, const Tessera__Kvrpcpb__RaftMessage *rm)
{
    int rc = 0;
    if (o->n_msgs == 0) {
        cm_buf_reset(&o->payload);
        rc = cm_buf_append_u8(&o->payload, 0x08); /* field 1, varint */
        rc = rc ? rc : cm_buf_append_uvarint(&o->payload, s->store_id);
    }
    size_t n = tessera__kvrpcpb__raft_message__get_packed_size(rm);
    rc = rc ? rc : cm_buf_append_u8(&o->payload, 0x12); /* field 2, length-delimited */
    rc = rc ? rc : cm_buf_append_uvarint(&o->payload, n);
    rc = rc ? rc : cm_buf_reserve(&o->payload, n);
    if (rc != 0) {
        return rc;
    }
    size_t w = tessera__kvrpcpb__raft_message__pack(rm, o->payload.ptr + o->payload.len);
    CM_ASSERT(w == n);
    o->payload.len += w;
    o->n_msgs++;
    return 0;
}

void rs_flush_outboxes(kv_raftstore *s)
{
    for (size_t i = 0; i < s->n_outs; i++) {
        rs_outbox *o = &s->outs[i];
        if (o->n_msgs == 0) {
            continue;
        }
        s->stats.batches_sent++;
        s->stats.msgs_sent += o->n_msgs;
        (void)s->env.send_cb(s->env.ctx, o->store_id, KV_RAFTSTORE_MSG_BATCH,
                             cm_buf_slice(&o->payload));
        o->n_msgs = 0;
        cm_buf_reset(&o->payload);
    }
}

typedef struct pb_peers {
    Tessera__Metapb__Peer from;
    Tessera__Metapb__Peer to;
    Tessera__Metapb__RegionEpoch epoch;
} pb_peers;

static void fill_header(Tessera__Kvrpcpb__RaftMessage *rm, pb_peers *pp, uint64_t region_id,
                        const kv_peer *from, const kv_peer *to, kv_epoch epoch)
{
    Tessera__Metapb__Peer pinit = TESSERA__METAPB__PEER__INIT;
    Tessera__Metapb__RegionEpoch einit = TESSERA__METAPB__REGION_EPOCH__INIT;
    pp->from = pinit;
    pp->to = pinit;
    pp->epoch = einit;
    pp->from.id = from->id;
    pp->from.store_id = from->store_id;
    pp->from.role = from->role == KV_PEER_LEARNER ? TESSERA__METAPB__PEER_ROLE__LEARNER
                                                  : TESSERA__METAPB__PEER_ROLE__VOTER;
    pp->to.id = to->id;
    pp->to.store_id = to->store_id;
    pp->to.role = to->role == KV_PEER_LEARNER ? TESSERA__METAPB__PEER_ROLE__LEARNER
                                              : TESSERA__METAPB__PEER_ROLE__VOTER;
    pp->epoch.conf_ver = epoch.conf_ver;
    pp->epoch.version = epoch.version;
    rm->region_id = region_id;
    rm->from_peer = &pp->from;
    rm->to_peer = &pp->to;
    rm->region_epoch = &pp->epoch;
}

static void peer_header(rs_peer *p, uint64_t to_id, uint64_t to_store,
                        Tessera__Kvrpcpb__RaftMessage *rm, pb_peers *pp)
{
    kv_peer from = {p->peer_id, p->store->store_id, KV_PEER_VOTER};
    const kv_peer *me = kv_region_peer(&p->st.region, p->peer_id);
    if (me != NULL) {
        from.role = me->role;
    }
    kv_peer to = {to_id, to_store, KV_PEER_VOTER};
    const kv_peer *kt = kv_region_peer(&p->st.region, to_id);
    if (kt != NULL) {
        to.role = kt->role;
    }
    fill_header(rm, pp, p->region_id, &from, &to, p->st.region.epoch);
    rm->start_key.data = p->st.region.start_key.ptr;
    rm->start_key.len = p->st.region.start_key.len;
    rm->end_key.data = p->st.region.end_key.ptr;
    rm->end_key.len = p->st.region.end_key.len;
}

static void send_snapshot(rs_peer *p, const cm_raft_msg *m, uint64_t to_store)
{
    kv_raftstore *s = p->store;
    cm_raft_msg mm = *m;
    cm_raft_snapshot sn = *m->snapshot;
    cm_slice data = sn.data;
    sn.data = cm_slice_make(NULL, 0);
    mm.snapshot = &sn;
    cm_buf_reset(&s->msgbuf);
    if (cm_raft_msg_encode(&mm, &s->msgbuf) != 0) {
        s->stats.msgs_dropped++;
        return;
    }
    Tessera__Kvrpcpb__RaftMessage rm = TESSERA__KVRPCPB__RAFT_MESSAGE__INIT;
    pb_peers pp;
    peer_header(p, m->to, to_store, &rm, &pp);
    rm.message.data = s->msgbuf.ptr;
    rm.message.len = s->msgbuf.len;
    uint64_t id = s->env.rand_cb(s->env.ctx) | 1;
    uint64_t chunk = s->cfg.snap_chunk_bytes;
    uint64_t n = data.len == 0 ? 1 : (data.len + chunk - 1) / chunk;
    cm_buf out = CM_BUF_INIT;
    for (uint64_t i = 0; i < n; i++) {
        Tessera__Kvrpcpb__SnapshotChunk c = TESSERA__KVRPCPB__SNAPSHOT_CHUNK__INIT;
        c.message = i == 0 ? &rm : NULL;
        c.snapshot_id = id;
        c.seq = (uint32_t)i;
        uint64_t off = i * chunk;
        uint64_t len = data.len - off < chunk ? data.len - off : chunk;
        c.data.data = (uint8_t *)(data.len ? data.ptr + off : NULL);
        c.data.len = data.len ? len : 0;
        c.last = i + 1 == n;
        size_t sz = tessera__kvrpcpb__snapshot_chunk__get_packed_size(&c);
        cm_buf_reset(&out);
        if (cm_buf_reserve(&out, sz) != 0) {
            break;
        }
        out.len = tessera__kvrpcpb__snapshot_chunk__pack(&c, out.ptr);
        s->stats.snapshot_chunks_sent++;
        (void)s->env.send_cb(s->env.ctx, to_store, KV_RAFTSTORE_MSG_SNAPSHOT, cm_buf_slice(&out));
    }
    cm_buf_fini(&out);
    s->stats.snapshots_sent++;
    CM_INFO(RS_COMPONENT, "store=%llu region=%llu snapshot %llu/%llu (%zu bytes) to peer %llu",
            (unsigned long long)s->store_id, (unsigned long long)p->region_id,
            (unsigned long long)m->snapshot->meta.index, (unsigned long long)m->snapshot->meta.term,
            data.len, (unsigned long long)m->to);
}

void rs_send_raft(rs_peer *p, const cm_raft_msg *m)
{
    kv_raftstore *s = p->store;
    uint64_t to_store = rs_peer_store_of(p, m->to);
    if (to_store == 0 || to_store == s->store_id) {
        s->stats.msgs_dropped++;
        return;
    }
    if (m->type == CM_RAFT_MSG_SNAP) {
        send_snapshot(p, m, to_store);
        return;
    }
    cm_buf_reset(&s->msgbuf);
    rs_outbox *o = outbox_for(s, to_store);
    if (o == NULL || cm_raft_msg_encode(m, &s->msgbuf) != 0) {
        s->stats.msgs_dropped++;
        return;
    }
    Tessera__Kvrpcpb__RaftMessage rm = TESSERA__KVRPCPB__RAFT_MESSAGE__INIT;
    pb_peers pp;
    peer_header(p, m->to, to_store, &rm, &pp);
    rm.message.data = s->msgbuf.ptr;
    rm.message.len = s->msgbuf.len;
    if (outbox_add(s, o, &rm) != 0) {
        s->stats.msgs_dropped++;
    }
}

void rs_send_tombstone(kv_raftstore *s, uint64_t region_id, const kv_peer *from, kv_epoch epoch,
                       const kv_peer *to)
{
    rs_outbox *o = outbox_for(s, to->store_id);
    if (o == NULL) {
        return;
    }
    Tessera__Kvrpcpb__RaftMessage rm = TESSERA__KVRPCPB__RAFT_MESSAGE__INIT;
    pb_peers pp;
    fill_header(&rm, &pp, region_id, from, to, epoch);
    rm.is_tombstone = 1;
    if (outbox_add(s, o, &rm) == 0) {
        s->stats.tombstones_sent++;
    }
}

void rs_send_stale_probe(rs_peer *p)
{
    kv_raftstore *s = p->store;
    for (size_t i = 0; i < p->st.region.n_peers; i++) {
        const kv_peer *to = &p->st.region.peers[i];
        if (to->id == p->peer_id || to->store_id == s->store_id) {
            continue;
        }
        rs_outbox *o = outbox_for(s, to->store_id);
        if (o == NULL) {
            return;
        }
        Tessera__Kvrpcpb__RaftMessage rm = TESSERA__KVRPCPB__RAFT_MESSAGE__INIT;
        pb_peers pp;
        peer_header(p, to->id, to->store_id, &rm, &pp);
        (void)outbox_add(s, o, &rm); /* an empty `message`: "am I still a member?" */
    }
}

/* ---- in ------------------------------------------------------------------------------------- */

static bool may_create(const cm_raft_msg *m)
{
    /* Messages a new or re-added peer legitimately receives first: a leader's heartbeat (commit
     * is 0 for a peer whose progress is unknown), votes of a new region's candidates, and a
     * snapshot. Appends and responses never create a peer: they may be stale. */
    return m->type == CM_RAFT_MSG_VOTE || m->type == CM_RAFT_MSG_PREVOTE ||
           (m->type == CM_RAFT_MSG_HEARTBEAT && m->commit == 0) || m->type == CM_RAFT_MSG_SNAP;
}

static bool pending_range_overlaps(kv_raftstore *s, uint64_t region_id, cm_slice start,
                                   cm_slice end)
{
    for (size_t i = 0; i < s->n_pending_ranges; i++) {
        rs_range *r = &s->pending_ranges[i];
        if (r->region_id != region_id &&
            kv_range_overlaps(cm_buf_slice(&r->start), cm_buf_slice(&r->end), start, end)) {
            return true;
        }
    }
    return false;
}

static int add_pending_range(kv_raftstore *s, uint64_t region_id, cm_slice start, cm_slice end)
{
    if (s->n_pending_ranges == s->cap_pending_ranges) {
        size_t cap = s->cap_pending_ranges ? s->cap_pending_ranges * 2 : 4;
        rs_range *v = realloc(s->pending_ranges, cap * sizeof(*v));
        if (v == NULL) {
            return CM_E_NOMEM;
        }
        s->pending_ranges = v;
        s->cap_pending_ranges = cap;
    }
    rs_range *r = &s->pending_ranges[s->n_pending_ranges];
    r->region_id = region_id;
    cm_buf_init(&r->start);
    cm_buf_init(&r->end);
    if (cm_buf_append_slice(&r->start, start) != 0 || cm_buf_append_slice(&r->end, end) != 0) {
        cm_buf_fini(&r->start);
        cm_buf_fini(&r->end);
        return CM_E_NOMEM;
    }
    s->n_pending_ranges++;
    return 0;
}

/* Whether the snapshot may be stepped into (possibly future) peer `p` of region_id. */
static bool snapshot_acceptable(kv_raftstore *s, rs_peer *p, uint64_t region_id, uint64_t peer_id,
                                cm_slice data)
{
    kv_rs_region_state st;
    kv_rs_region_state_init(&st);
    cm_err err;
    bool ok = false;
    const char *why = NULL;
    if (rs_snap_validate(region_id, peer_id, data, &st, &err) != 0) {
        why = err.msg;
    } else if (p != NULL && p->initialized &&
               (st.region.epoch.version < p->st.region.epoch.version ||
                st.region.epoch.conf_ver < p->st.region.epoch.conf_ver)) {
        why = "older epoch than the local region";
    } else if (rs_range_overlap(s, kv_region_start(&st.region), kv_region_end(&st.region),
                                region_id) != NULL ||
               pending_range_overlaps(s, region_id, kv_region_start(&st.region),
                                      kv_region_end(&st.region))) {
        why = "overlaps a local region";
    } else if (add_pending_range(s, region_id, kv_region_start(&st.region),
                                 kv_region_end(&st.region)) != 0) {
        why = "out of memory";
    } else {
        ok = true;
    }
    if (!ok) {
        s->stats.snapshots_rejected++;
        CM_INFO(RS_COMPONENT, "store=%llu region=%llu snapshot rejected: %s",
                (unsigned long long)s->store_id, (unsigned long long)region_id, why);
    }
    kv_rs_region_state_fini(&st);
    return ok;
}

static void reply_tombstone(kv_raftstore *s, rs_peer *p, const Tessera__Kvrpcpb__RaftMessage *rm)
{
    kv_peer me = {p->peer_id, s->store_id, KV_PEER_VOTER};
    kv_peer to = {rm->from_peer->id, rm->from_peer->store_id, KV_PEER_VOTER};
    rs_send_tombstone(s, p->region_id, &me, p->st.region.epoch, &to);
}

/* A peer not in our region whose epoch is older than ours was removed: tell it. */
static bool sender_is_stale(const rs_peer *p, const Tessera__Kvrpcpb__RaftMessage *rm)
{
    return p->initialized && kv_region_peer(&p->st.region, rm->from_peer->id) == NULL &&
           rm->region_epoch != NULL && rm->region_epoch->conf_ver < p->st.region.epoch.conf_ver;
}

static void on_tombstone(kv_raftstore *s, const Tessera__Kvrpcpb__RaftMessage *rm)
{
    rs_peer *p = rs_find(s, rm->region_id);
    if (p == NULL || p->peer_id != rm->to_peer->id || rm->region_epoch == NULL || s->in_process) {
        return;
    }
    if (!p->initialized || rm->region_epoch->conf_ver > p->st.region.epoch.conf_ver) {
        rs_peer_destroy(p, CM_E_REGION_NOT_FOUND, "told it was removed (tombstone message)");
    }
}

static int step(kv_raftstore *s, rs_peer *p, const Tessera__Kvrpcpb__RaftMessage *rm,
                const cm_raft_msg *m)
{
    int rc = cm_raft_step(p->raft, m);
    if (rc == CM_E_BUSY) {
        s->stats.msgs_dropped++;
        return rc;
    }
    if (m->type == CM_RAFT_MSG_APP || m->type == CM_RAFT_MSG_HEARTBEAT ||
        m->type == CM_RAFT_MSG_SNAP) {
        p->ticks_since_leader = 0;
    }
    (void)rm;
    rs_mark_dirty(p);
    return 0;
}

/* Routes one RaftMessage; snap_data is the assembled snapshot payload for a SNAP message. */
static void on_message(kv_raftstore *s, const Tessera__Kvrpcpb__RaftMessage *rm, cm_slice snap_data)
{
    s->stats.msgs_received++;
    if (rm->to_peer == NULL || rm->from_peer == NULL || rm->to_peer->store_id != s->store_id ||
        rm->region_id == 0 || rm->to_peer->id == 0 || rm->from_peer->id == 0 ||
        rm->from_peer->store_id == 0 || rm->from_peer->store_id == s->store_id ||
        rm->start_key.len > KV_KEY_BYTES_MAX || rm->end_key.len > KV_KEY_BYTES_MAX) {
        s->stats.msgs_dropped++;
        return;
    }
    (void)rs_map_put(&s->peer_stores, rm->from_peer->id,
                     (void *)(uintptr_t)rm->from_peer->store_id);
    if (rm->is_tombstone) {
        on_tombstone(s, rm);
        return;
    }
    rs_peer *p = rs_find(s, rm->region_id);
    if (p != NULL && rm->to_peer->id != p->peer_id) {
        if (rm->to_peer->id < p->peer_id || s->in_process) {
            s->stats.msgs_dropped++; /* for an older peer of ours */
            return;
        }
        /* For a newer peer of ours: ours was removed and the region re-added here. */
        rs_peer_destroy(p, CM_E_REGION_NOT_FOUND, "superseded by a newer peer");
        p = NULL;
    }
    if (p == NULL) {
        rs_tomb *t = rs_map_get(&s->tombs, rm->region_id);
        if (t != NULL && rm->to_peer->id <= t->peer_id) {
            s->stats.msgs_dropped++;
            return;
        }
    }
    if (rm->message.len == 0) {
        /* Stale-peer check: answer only if the asker is no longer a member. */
        if (p != NULL && sender_is_stale(p, rm)) {
            reply_tombstone(s, p, rm);
        }
        return;
    }
    cm_arena arena;
    cm_arena_init(&arena, 4096);
    cm_reader rd;
    cm_reader_init(&rd, rm->message.data, rm->message.len);
    cm_raft_msg m;
    cm_err err;
    if (cm_raft_msg_decode(&rd, &arena, &m, &err) != 0 || cm_reader_left(&rd) != 0 ||
        m.to != rm->to_peer->id || m.from != rm->from_peer->id) {
        s->stats.msgs_dropped++;
        cm_arena_fini(&arena);
        return;
    }
    if (m.type == CM_RAFT_MSG_SNAP) {
        if (snap_data.len == 0 || m.snapshot->data.len != 0) {
            s->stats.msgs_dropped++; /* snapshots come only through chunks */
            cm_arena_fini(&arena);
            return;
        }
        m.snapshot->data = snap_data;
    }
    if (p != NULL && (m.type == CM_RAFT_MSG_VOTE || m.type == CM_RAFT_MSG_PREVOTE) &&
        sender_is_stale(p, rm)) {
        reply_tombstone(s, p, rm);
        cm_arena_fini(&arena);
        return;
    }
    if (p == NULL) {
        cm_slice start = cm_slice_make(rm->start_key.data, rm->start_key.len);
        cm_slice end = cm_slice_make(rm->end_key.data, rm->end_key.len);
        if (!may_create(&m) || s->in_process) {
            s->stats.msgs_dropped++;
            cm_arena_fini(&arena);
            return;
        }
        if ((end.len > 0 && cm_slice_cmp(start, end) >= 0) ||
            rs_range_overlap(s, start, end, 0) != NULL) {
            /* The local parent has not split yet: the split will create this peer. */
            s->stats.msgs_dropped_overlap++;
            cm_arena_fini(&arena);
            return;
        }
        if (m.type == CM_RAFT_MSG_SNAP &&
            !snapshot_acceptable(s, NULL, rm->region_id, rm->to_peer->id, snap_data)) {
            cm_arena_fini(&arena);
            return;
        }
        if (rs_peer_create_uninit(s, rm->region_id, rm->to_peer->id, &p) != 0) {
            cm_arena_fini(&arena);
            return;
        }
    } else if (m.type == CM_RAFT_MSG_SNAP &&
               !snapshot_acceptable(s, p, rm->region_id, p->peer_id, snap_data)) {
        cm_arena_fini(&arena);
        return;
    }
    (void)step(s, p, rm, &m);
    cm_arena_fini(&arena);
}

int kv_raftstore_on_raft_batch(kv_raftstore *s, cm_slice payload)
{
    if (s->poisoned) {
        return s->poisoned;
    }
    Tessera__Kvrpcpb__BatchRaftMessage *b =
        tessera__kvrpcpb__batch_raft_message__unpack(NULL, payload.len, payload.ptr);
    if (b == NULL) {
        s->stats.msgs_dropped++;
        CM_WARN(RS_COMPONENT, "store=%llu dropped a raft batch that does not decode",
                (unsigned long long)s->store_id);
        return CM_E_CORRUPT;
    }
    for (size_t i = 0; i < b->n_msgs; i++) {
        on_message(s, b->msgs[i], cm_slice_make(NULL, 0));
    }
    tessera__kvrpcpb__batch_raft_message__free_unpacked(b, NULL);
    return 0;
}

/* ---- snapshot assembly ---------------------------------------------------------------------- */

static void recv_free(rs_snap_recv *r)
{
    cm_buf_fini(&r->head);
    for (uint32_t i = 0; i < r->cap; i++) {
        cm_buf_fini(&r->chunks[i]);
    }
    free(r->chunks);
    free(r->have);
    memset(r, 0, sizeof(*r));
}

static void recv_remove(kv_raftstore *s, size_t i)
{
    recv_free(&s->recvs[i]);
    s->recvs[i] = s->recvs[--s->n_recvs];
    memset(&s->recvs[s->n_recvs], 0, sizeof(s->recvs[0]));
}

void rs_snap_recv_fini(kv_raftstore *s)
{
    while (s->n_recvs > 0) {
        recv_remove(s, 0);
    }
}

void rs_snap_recv_tick(kv_raftstore *s)
{
    for (size_t i = 0; i < s->n_recvs;) {
        if (++s->recvs[i].age_ticks > s->cfg.request_timeout_ticks) {
            s->stats.snapshots_rejected++;
            recv_remove(s, i);
        } else {
            i++;
        }
    }
}

static int recv_store(rs_snap_recv *r, uint32_t seq, cm_slice data)
{
    if (seq >= r->cap) {
        uint32_t cap = r->cap ? r->cap : 8;
        while (cap <= seq) {
            cap *= 2;
        }
        cm_buf *c = realloc(r->chunks, cap * sizeof(*c));
        if (c == NULL) {
            return CM_E_NOMEM;
        }
        r->chunks = c;
        bool *h = realloc(r->have, cap * sizeof(*h));
        if (h == NULL) {
            return CM_E_NOMEM;
        }
        r->have = h;
        for (uint32_t i = r->cap; i < cap; i++) {
            cm_buf_init(&r->chunks[i]);
            r->have[i] = false;
        }
        r->cap = cap;
    }
    if (r->have[seq]) {
        return 0; /* a duplicate */
    }
    if (cm_buf_append_slice(&r->chunks[seq], data) != 0) {
        return CM_E_NOMEM;
    }
    r->have[seq] = true;
    r->n_have++;
    r->bytes += data.len;
    return 0;
}

static void recv_complete(kv_raftstore *s, size_t i)
{
    rs_snap_recv *r = &s->recvs[i];
    cm_buf data = CM_BUF_INIT;
    int rc = cm_buf_reserve(&data, r->bytes);
    for (uint32_t k = 0; rc == 0 && k < r->n_total; k++) {
        rc = r->have[k] ? cm_buf_append(&data, r->chunks[k].ptr, r->chunks[k].len) : CM_E_CORRUPT;
    }
    Tessera__Kvrpcpb__RaftMessage *rm =
        rc == 0 ? tessera__kvrpcpb__raft_message__unpack(NULL, r->head.len, r->head.ptr) : NULL;
    recv_remove(s, i);
    if (rm != NULL && data.len > 0) {
        s->stats.snapshots_received++;
        on_message(s, rm, cm_buf_slice(&data));
    } else {
        s->stats.snapshots_rejected++;
    }
    if (rm != NULL) {
        tessera__kvrpcpb__raft_message__free_unpacked(rm, NULL);
    }
    cm_buf_fini(&data);
}

int kv_raftstore_on_snapshot_chunk(kv_raftstore *s, cm_slice payload)
{
    if (s->poisoned) {
        return s->poisoned;
    }
    Tessera__Kvrpcpb__SnapshotChunk *c =
        tessera__kvrpcpb__snapshot_chunk__unpack(NULL, payload.len, payload.ptr);
    if (c == NULL || c->snapshot_id == 0 || c->seq >= KV_RS_SNAP_CHUNKS_MAX) {
        if (c != NULL) {
            tessera__kvrpcpb__snapshot_chunk__free_unpacked(c, NULL);
        }
        s->stats.snapshots_rejected++;
        return CM_E_CORRUPT;
    }
    size_t i = 0;
    while (i < s->n_recvs && s->recvs[i].snap_id != c->snapshot_id) {
        i++;
    }
    if (i == s->n_recvs) {
        if (s->n_recvs == KV_RS_SNAP_RECV_MAX) {
            s->stats.snapshots_rejected++;
            tessera__kvrpcpb__snapshot_chunk__free_unpacked(c, NULL);
            return 0; /* busy: the leader retries later */
        }
        memset(&s->recvs[i], 0, sizeof(s->recvs[i]));
        s->recvs[i].snap_id = c->snapshot_id;
        cm_buf_init(&s->recvs[i].head);
        s->n_recvs++;
    }
    rs_snap_recv *r = &s->recvs[i];
    int rc = 0;
    if (c->message != NULL && !r->have_head) {
        size_t n = tessera__kvrpcpb__raft_message__get_packed_size(c->message);
        rc = cm_buf_reserve(&r->head, n);
        if (rc == 0) {
            r->head.len = tessera__kvrpcpb__raft_message__pack(c->message, r->head.ptr);
            r->have_head = true;
        }
    }
    if (rc == 0) {
        rc = recv_store(r, c->seq, cm_slice_make(c->data.data, c->data.len));
    }
    if (rc == 0 && c->last) {
        if (r->n_total != 0 && r->n_total != c->seq + 1) {
            rc = CM_E_CORRUPT;
        }
        r->n_total = c->seq + 1;
    }
    if (rc == 0 && (r->bytes > KV_RS_SNAPSHOT_BYTES_MAX ||
                    (r->n_total != 0 && r->cap > r->n_total && r->n_have > r->n_total))) {
        rc = CM_E_TOO_LARGE;
    }
    tessera__kvrpcpb__snapshot_chunk__free_unpacked(c, NULL);
    if (rc != 0) {
        s->stats.snapshots_rejected++;
        recv_remove(s, i);
        return rc == CM_E_NOMEM ? rc : CM_E_CORRUPT;
    }
    if (r->have_head && r->n_total != 0 && r->n_have == r->n_total) {
        recv_complete(s, i);
    }
    return 0;
}
