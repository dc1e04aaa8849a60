/*
 * Unit tests for kvnode/raftstore: several stores in one process on memory engines over the
 * fixture's in-memory transport (rs_fixture.h), driven deterministically by the test. Replication
 * and reads, failover, crashes that lose unsynced writes, splits, membership, snapshots, stale
 * epochs, messages for unknown regions, one sync per loop iteration, restart recovery.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "kv_rs_codec.h"
#include "rs_fixture.h"

#include "kvrpcpb.pb-c.h"

#include "cm_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_replicate_and_read(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, 3, 3, "", "", NULL);
    uint64_t l = fx_wait_leader(&f, 1);
    assert_true(l != 0);
    assert_int_equal(fx_put(&f, l, 1, "k1", "v1"), 0);
    cm_buf v = CM_BUF_INIT;
    bool found = false;
    assert_int_equal(fx_get(&f, l, 1, "k1", &found, &v), 0);
    assert_true(found);
    assert_true(cm_slice_eq(cm_buf_slice(&v), cm_slice_cstr("v1")));
    cm_buf_reset(&v);
    assert_int_equal(fx_get(&f, l, 1, "nope", &found, &v), 0);
    assert_false(found);
    /* Every replica applies it (the commit index reaches followers with the next heartbeat). */
    fx_tick(&f, 3);
    for (uint64_t s = 1; s <= 3; s++) {
        assert_true(fx_engine_has(&f, s, "k1", "v1"));
    }
    /* A follower refuses with a leader hint. */
    uint64_t follower = l == 1 ? 2 : 1;
    cm_buf_reset(&v);
    assert_int_equal(fx_get(&f, follower, 1, "k1", &found, &v), CM_E_NOT_LEADER);
    assert_int_equal(fx_put(&f, follower, 1, "k2", "v2"), CM_E_NOT_LEADER);
    kv_raftstore_stats st;
    kv_raftstore_stats_get(fx_rs(&f, l), &st);
    assert_true(st.lease_reads + st.index_reads >= 2);
    assert_true(st.writes_applied >= 1);
    cm_buf_fini(&v);
    fx_fini(&f);
}

/* The leader's store dies: a new leader is elected among the others and writes resume; the old
 * leader comes back and catches up. */
static void test_leader_crash_failover(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, 3, 3, "", "", NULL);
    uint64_t l = fx_wait_leader(&f, 1);
    assert_true(l != 0);
    assert_int_equal(fx_put(&f, l, 1, "a", "1"), 0);
    fx_crash(&f, l);
    uint64_t l2 = fx_wait_leader(&f, 1);
    assert_true(l2 != 0 && l2 != l);
    assert_int_equal(fx_put(&f, l2, 1, "b", "2"), 0);
    bool found;
    cm_buf v = CM_BUF_INIT;
    assert_int_equal(fx_get(&f, l2, 1, "a", &found, &v), 0);
    assert_true(found);
    fx_restart(&f, l);
    fx_tick(&f, 30);
    assert_true(fx_engine_has(&f, l, "a", "1"));
    assert_true(fx_engine_has(&f, l, "b", "2"));
    cm_buf_fini(&v);
    fx_fini(&f);
}

/* Every store crashes at once and loses whatever was not synced; after the restart every
 * acknowledged write is still there (acknowledgement comes only after a quorum synced it). */
static void test_crash_all_keeps_acked_writes(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, 3, 3, "", "", NULL);
    uint64_t l = fx_wait_leader(&f, 1);
    char key[16], val[16];
    for (int i = 0; i < 30; i++) {
        snprintf(key, sizeof(key), "k%02d", i);
        snprintf(val, sizeof(val), "v%d", i);
        assert_int_equal(fx_put(&f, l, 1, key, val), 0);
    }
    for (uint64_t s = 1; s <= 3; s++) {
        fx_crash(&f, s);
    }
    for (uint64_t s = 1; s <= 3; s++) {
        fx_restart(&f, s);
    }
    l = fx_wait_leader(&f, 1);
    assert_true(l != 0);
    fx_tick(&f, 5);
    cm_buf v = CM_BUF_INIT;
    for (int i = 0; i < 30; i++) {
        snprintf(key, sizeof(key), "k%02d", i);
        snprintf(val, sizeof(val), "v%d", i);
        bool found = false;
        cm_buf_reset(&v);
        assert_int_equal(fx_get(&f, l, 1, key, &found, &v), 0);
        assert_true(found);
        assert_true(cm_slice_eq(cm_buf_slice(&v), cm_slice_cstr(val)));
    }
    /* A crash of a minority between two writes loses nothing either. */
    uint64_t other = l == 3 ? 1 : l + 1;
    fx_crash(&f, other);
    assert_int_equal(fx_put(&f, l, 1, "after", "x"), 0);
    fx_restart(&f, other);
    fx_tick(&f, 20);
    assert_true(fx_engine_has(&f, other, "after", "x"));
    cm_buf_fini(&v);
    fx_fini(&f);
}

/* Split at "m": both halves exist on every store with version + 1, and take writes; a write
 * checked under the old epoch is refused with both current regions. */
static void test_split_then_write_both_halves(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, 3, 3, "", "", NULL);
    uint64_t l = fx_wait_leader(&f, 1);
    assert_int_equal(fx_put(&f, l, 1, "a", "left"), 0);
    assert_int_equal(fx_put(&f, l, 1, "z", "right"), 0);
    kv_epoch old = fx_epoch(&f, l, 1);
    uint64_t right = 0;
    assert_int_equal(fx_split(&f, l, 1, "m", &right), 0);
    assert_true(right != 0);
    fx_tick(&f, 3);
    for (uint64_t s = 1; s <= 3; s++) {
        assert_true(fx_has_region(&f, s, 1));
        assert_true(fx_has_region(&f, s, right));
        kv_epoch e = fx_epoch(&f, s, 1);
        assert_int_equal(e.version, old.version + 1);
        assert_int_equal(fx_epoch(&f, s, right).version, old.version + 1);
        uint64_t rid = 0;
        assert_int_equal(kv_raftstore_route(fx_rs(&f, s), cm_slice_cstr("a"), &rid), 0);
        assert_int_equal(rid, 1);
        assert_int_equal(kv_raftstore_route(fx_rs(&f, s), cm_slice_cstr("q"), &rid), 0);
        assert_int_equal(rid, right);
    }
    uint64_t lr = fx_wait_leader(&f, right);
    assert_true(lr != 0);
    assert_int_equal(fx_put(&f, l, 1, "b", "L2"), 0);
    assert_int_equal(fx_put(&f, lr, right, "x", "R2"), 0);
    /* Wrong region for the key, and a stale epoch. */
    assert_int_equal(fx_put(&f, l, 1, "y", "no"), CM_E_KEY_NOT_IN_REGION);
    assert_int_equal(fx_put_epoch(&f, l, 1, old, "c", "no"), CM_E_EPOCH_NOT_MATCH);
    bool found;
    cm_buf v = CM_BUF_INIT;
    assert_int_equal(fx_get(&f, lr, right, "z", &found, &v), 0);
    assert_true(found && cm_slice_eq(cm_buf_slice(&v), cm_slice_cstr("right")));
    cm_buf_reset(&v);
    assert_int_equal(fx_get(&f, lr, right, "x", &found, &v), 0);
    assert_true(found && cm_slice_eq(cm_buf_slice(&v), cm_slice_cstr("R2")));
    cm_buf_fini(&v);
    fx_fini(&f);
}

typedef struct cb_rec {
    int calls;
    int rc;
    size_t n_regions;
    uint64_t region_ids[2];
} cb_rec;

static void rec_cb(void *user, const kv_raftstore_result *res)
{
    cb_rec *r = user;
    r->calls++;
    r->rc = res->rc;
    r->n_regions = res->n_regions;
    for (size_t i = 0; i < res->n_regions && i < 2; i++) {
        r->region_ids[i] = res->regions[i].id;
    }
}

/* A write checked under the epoch of the moment, but ordered after a split in the log, is
 * refused at APPLY with EPOCH_NOT_MATCH (and the answer names both halves). */
static void test_stale_epoch_rejected_at_apply(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, 3, 3, "", "", NULL);
    uint64_t l = fx_wait_leader(&f, 1);
    kv_epoch e = fx_epoch(&f, l, 1);
    cb_rec split = {0}, w = {0};
    kv_raftstore_split(fx_rs(&f, l), 1, e, cm_slice_cstr("m"), rec_cb, &split);
    kv_batch b;
    kv_batch_init(&b);
    assert_int_equal(kv_batch_put(&b, KV_CF_DEFAULT, cm_slice_cstr("a"), cm_slice_cstr("x")), 0);
    kv_raftstore_propose(fx_rs(&f, l), 1, e, &b, rec_cb, &w);
    kv_batch_fini(&b);
    assert_int_equal(w.calls, 0); /* accepted: the split has not applied yet */
    fx_run(&f);
    fx_tick(&f, 2);
    assert_int_equal(split.calls, 1);
    assert_int_equal(split.rc, 0);
    assert_int_equal(w.calls, 1);
    assert_int_equal(w.rc, CM_E_EPOCH_NOT_MATCH);
    assert_int_equal(w.n_regions, 2);
    assert_int_equal(w.region_ids[0], 1);
    assert_int_equal(w.region_ids[1], split.region_ids[1]);
    for (uint64_t s = 1; s <= 3; s++) {
        assert_false(fx_engine_has(&f, s, "a", NULL));
    }
    kv_raftstore_stats st;
    kv_raftstore_stats_get(fx_rs(&f, l), &st);
    assert_true(st.epoch_rejections >= 1);
    fx_fini(&f);
}

/* A new store gets a learner (data arrives by snapshot), which is promoted; then a voter is
 * removed, and its store destroys the peer (tombstone) and its data. conf_ver + 1 each time. */
static void test_membership_learner_promote_remove(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, 4, 3, "", "", NULL);
    uint64_t l = fx_wait_leader(&f, 1);
    for (int i = 0; i < 25; i++) {
        char k[8];
        snprintf(k, sizeof(k), "m%02d", i);
        assert_int_equal(fx_put(&f, l, 1, k, "v"), 0);
    }
    fx_tick(&f, 6); /* log GC runs: the learner must be caught up by a snapshot */
    kv_epoch e0 = fx_epoch(&f, l, 1);
    assert_int_equal(fx_change(&f, l, 1, KV_CONF_ADD_LEARNER, 201, 4), 0);
    assert_int_equal(fx_epoch(&f, l, 1).conf_ver, e0.conf_ver + 1);
    fx_tick(&f, 20);
    assert_true(fx_has_region(&f, 4, 1));
    assert_true(fx_engine_has(&f, 4, "m00", "v"));
    assert_true(fx_engine_has(&f, 4, "m24", "v"));
    kv_raftstore_stats st4;
    kv_raftstore_stats_get(fx_rs(&f, 4), &st4);
    assert_true(st4.snapshots_applied >= 1);
    assert_int_equal(fx_put(&f, l, 1, "after-learner", "y"), 0);
    fx_tick(&f, 3);
    assert_true(fx_engine_has(&f, 4, "after-learner", "y"));
    /* A learner cannot be made voter twice, nor a missing peer promoted. */
    assert_int_equal(fx_change(&f, l, 1, KV_CONF_PROMOTE, 999, 0), CM_E_INVALID);
    assert_int_equal(fx_change(&f, l, 1, KV_CONF_PROMOTE, 201, 4), 0);
    kv_region r;
    kv_region_init(&r);
    assert_int_equal(kv_raftstore_region(fx_rs(&f, l), 1, &r, NULL), 0);
    assert_int_equal(r.n_peers, 4);
    assert_int_equal(kv_region_peer(&r, 201)->role, KV_PEER_VOTER);
    assert_int_equal(r.epoch.conf_ver, e0.conf_ver + 2);
    /* Remove a voter that is not the leader. */
    uint64_t victim = l == 3 ? 2 : 3;
    assert_int_equal(fx_change(&f, l, 1, KV_CONF_REMOVE, 100 + victim, victim), 0);
    fx_tick(&f, 5);
    assert_false(fx_has_region(&f, victim, 1));
    assert_false(fx_engine_has(&f, victim, "m00", NULL));
    kv_raftstore_stats stv;
    kv_raftstore_stats_get(fx_rs(&f, victim), &stv);
    assert_int_equal(stv.peers_destroyed, 1);
    /* The tombstone survives a restart: the removed peer does not come back. */
    fx_reopen(&f, victim);
    fx_tick(&f, 5);
    assert_false(fx_has_region(&f, victim, 1));
    assert_int_equal(fx_put(&f, l, 1, "after-remove", "z"), 0);
    kv_region_fini(&r);
    assert_int_equal(kv_raftstore_region(fx_rs(&f, l), 1, &r, NULL), 0);
    assert_int_equal(r.n_peers, 3);
    assert_int_equal(r.epoch.conf_ver, e0.conf_ver + 3);
    kv_region_fini(&r);
    fx_fini(&f);
}

/* A follower cut off while the log moves past the GC threshold catches up by snapshot. */
static void test_snapshot_catch_up_of_lagging_peer(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, 3, 3, "", "", NULL);
    uint64_t l = fx_wait_leader(&f, 1);
    uint64_t lag = l == 1 ? 2 : 1;
    fx_isolate(&f, lag, true);
    char key[16];
    for (int i = 0; i < 80; i++) {
        snprintf(key, sizeof(key), "s%03d", i);
        assert_int_equal(fx_put(&f, l, 1, key, "value-of-some-length"), 0);
    }
    fx_tick(&f, 6);
    kv_peer_status st;
    assert_int_equal(kv_raftstore_region(fx_rs(&f, l), 1, NULL, &st), 0);
    assert_true(st.first_index > 40); /* the leader's log was truncated past the laggard */
    fx_isolate(&f, lag, false);
    fx_tick(&f, 40);
    kv_raftstore_stats ss;
    kv_raftstore_stats_get(fx_rs(&f, lag), &ss);
    assert_true(ss.snapshots_applied >= 1);
    kv_raftstore_stats sl;
    kv_raftstore_stats_get(fx_rs(&f, l), &sl);
    assert_true(sl.snapshots_sent >= 1);
    assert_true(sl.snapshot_chunks_sent > sl.snapshots_sent); /* streamed in chunks */
    for (int i = 0; i < 80; i++) {
        snprintf(key, sizeof(key), "s%03d", i);
        assert_true(fx_engine_has(&f, lag, key, "value-of-some-length"));
    }
    /* And it keeps replicating afterwards. */
    assert_int_equal(fx_put(&f, l, 1, "post", "p"), 0);
    fx_tick(&f, 3);
    assert_true(fx_engine_has(&f, lag, "post", "p"));
    fx_fini(&f);
}

/* Builds a packed BatchRaftMessage with one heartbeat (commit 0) for region_id. */
static void forged_heartbeat(uint64_t region_id, uint64_t from_store, uint64_t to_store,
                             const char *start, const char *end, cm_buf *out)
{
    cm_raft_msg m;
    memset(&m, 0, sizeof(m));
    m.type = CM_RAFT_MSG_HEARTBEAT;
    m.from = 901;
    m.to = 902;
    m.term = 7;
    cm_buf enc = CM_BUF_INIT;
    assert_int_equal(cm_raft_msg_encode(&m, &enc), 0);
    Tessera__Metapb__Peer from = TESSERA__METAPB__PEER__INIT, to = TESSERA__METAPB__PEER__INIT;
    from.id = 901;
    from.store_id = from_store;
    to.id = 902;
    to.store_id = to_store;
    Tessera__Metapb__RegionEpoch ep = TESSERA__METAPB__REGION_EPOCH__INIT;
    ep.conf_ver = 1;
    ep.version = 1;
    Tessera__Kvrpcpb__RaftMessage rm = TESSERA__KVRPCPB__RAFT_MESSAGE__INIT;
    rm.region_id = region_id;
    rm.from_peer = &from;
    rm.to_peer = &to;
    rm.region_epoch = &ep;
    rm.message.data = enc.ptr;
    rm.message.len = enc.len;
    rm.start_key.data = (uint8_t *)start;
    rm.start_key.len = strlen(start);
    rm.end_key.data = (uint8_t *)end;
    rm.end_key.len = strlen(end);
    Tessera__Kvrpcpb__RaftMessage *msgs[1] = {&rm};
    Tessera__Kvrpcpb__BatchRaftMessage b = TESSERA__KVRPCPB__BATCH_RAFT_MESSAGE__INIT;
    b.from_store_id = from_store;
    b.n_msgs = 1;
    b.msgs = msgs;
    cm_buf_reset(out);
    assert_int_equal(cm_buf_reserve(out, tessera__kvrpcpb__batch_raft_message__get_packed_size(&b)),
                     0);
    out->len = tessera__kvrpcpb__batch_raft_message__pack(&b, out->ptr);
    cm_buf_fini(&enc);
}

/* A message for an unknown region whose range overlaps a local region is dropped; one that
 * overlaps nothing creates an uninitialized peer. Garbage is dropped without harm. */
static void test_unknown_region_messages(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, 3, 3, "b", "m", NULL);
    fx_wait_leader(&f, 1);
    kv_raftstore *rs = fx_rs(&f, 3);
    kv_raftstore_stats before, after;
    kv_raftstore_stats_get(rs, &before);
    cm_buf p = CM_BUF_INIT;
    forged_heartbeat(77, 1, 3, "c", "z", &p);
    assert_int_equal(kv_raftstore_on_raft_batch(rs, cm_buf_slice(&p)), 0);
    kv_raftstore_stats_get(rs, &after);
    assert_int_equal(after.msgs_dropped_overlap, before.msgs_dropped_overlap + 1);
    assert_int_equal(kv_raftstore_region(rs, 77, NULL, NULL), CM_E_REGION_NOT_FOUND);
    /* No overlap: [m, +inf) — an uninitialized peer appears and answers. */
    forged_heartbeat(78, 1, 3, "m", "", &p);
    assert_int_equal(kv_raftstore_on_raft_batch(rs, cm_buf_slice(&p)), 0);
    kv_peer_status st;
    assert_int_equal(kv_raftstore_region(rs, 78, NULL, &st), 0);
    assert_false(st.initialized);
    assert_int_equal(st.peer_id, 902);
    /* Misrouted (another store) and undecodable input. */
    forged_heartbeat(79, 1, 2, "m", "", &p);
    assert_int_equal(kv_raftstore_on_raft_batch(rs, cm_buf_slice(&p)), 0);
    assert_int_equal(kv_raftstore_region(rs, 79, NULL, NULL), CM_E_REGION_NOT_FOUND);
    static const uint8_t junk[] = {0x12, 0xff, 0xff, 0x01, 0x00};
    assert_int_equal(kv_raftstore_on_raft_batch(rs, cm_slice_make(junk, sizeof(junk))),
                     CM_E_CORRUPT);
    assert_int_equal(kv_raftstore_on_snapshot_chunk(rs, cm_slice_make(junk, sizeof(junk))),
                     CM_E_CORRUPT);
    fx_run(&f);
    fx_tick(&f, 2);
    /* The uninitialized peer survives a restart (it may have voted). */
    fx_reopen(&f, 3);
    assert_int_equal(kv_raftstore_region(fx_rs(&f, 3), 78, NULL, &st), 0);
    cm_buf_fini(&p);
    fx_fini(&f);
}

static void count_cb(void *user, const kv_raftstore_result *res)
{
    int *n = user;
    if (res->rc == 0) {
        (*n)++;
    }
}

/* Writes to four regions led by one store are persisted by ONE process() call with ONE sync. */
static void test_one_sync_per_iteration(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, 3, 3, "", "", NULL);
    assert_true(fx_elect(&f, 1, 1));
    uint64_t r2 = 0, r3 = 0, r4 = 0;
    assert_int_equal(fx_split(&f, 1, 1, "g", &r2), 0);
    assert_int_equal(fx_split(&f, 1, 1, "c", &r3), 0);
    assert_int_equal(fx_split(&f, 1, r2, "p", &r4), 0);
    uint64_t regions[4] = {1, r2, r3, r4};
    const char *keys[4] = {"a", "h", "d", "q"};
    for (int i = 0; i < 4; i++) {
        assert_true(fx_elect(&f, regions[i], 1));
    }
    fx_tick(&f, 2);
    kv_raftstore *rs = fx_rs(&f, 1);
    int acks = 0;
    kv_batch b;
    kv_batch_init(&b);
    for (int i = 0; i < 4; i++) {
        kv_batch_clear(&b);
        assert_int_equal(
            kv_batch_put(&b, KV_CF_DEFAULT, cm_slice_cstr(keys[i]), cm_slice_cstr("1")), 0);
        kv_raftstore_propose(rs, regions[i], fx_epoch(&f, 1, regions[i]), &b, count_cb, &acks);
    }
    kv_batch_fini(&b);
    kv_engine_stats e0, e1;
    kv_raftstore_stats s0, s1;
    kv_engine_stats_get(f.stores[0].engine, &e0);
    kv_raftstore_stats_get(rs, &s0);
    assert_int_equal(kv_raftstore_process(rs), 0);
    kv_engine_stats_get(f.stores[0].engine, &e1);
    kv_raftstore_stats_get(rs, &s1);
    assert_int_equal(e1.syncs - e0.syncs, 1);
    assert_int_equal(s1.iterations - s0.iterations, 1);
    assert_true(s1.ready_peers - s0.ready_peers >= 4);
    /* Messages went out coalesced: one batch per follower store. */
    assert_int_equal(s1.batches_sent - s0.batches_sent, 2);
    assert_true(s1.msgs_sent - s0.msgs_sent >= 8);
    /* Every later iteration syncs at most once too. */
    for (int round = 0; round < 50 && acks < 4; round++) {
        kv_engine_stats_get(f.stores[0].engine, &e0);
        fx_run(&f);
        fx_tick(&f, 1);
        kv_engine_stats_get(f.stores[0].engine, &e1);
    }
    assert_int_equal(acks, 4);
    kv_raftstore_stats_get(rs, &s1);
    kv_engine_stats_get(f.stores[0].engine, &e1);
    assert_true(s1.syncs <= s1.iterations);
    fx_fini(&f);
}

/* A clean restart of every store recovers each region's metadata, epochs, Raft state and
 * applied index, and the cluster carries on. */
static void test_restart_recovers_regions(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, 3, 3, "", "", NULL);
    uint64_t l = fx_wait_leader(&f, 1);
    uint64_t r2 = 0;
    assert_int_equal(fx_put(&f, l, 1, "a", "1"), 0);
    assert_int_equal(fx_split(&f, l, 1, "k", &r2), 0);
    uint64_t l2 = fx_wait_leader(&f, r2);
    assert_int_equal(fx_put(&f, l2, r2, "x", "2"), 0);
    fx_tick(&f, 3);
    kv_peer_status before[3][2];
    kv_epoch ep[3][2];
    for (uint64_t s = 1; s <= 3; s++) {
        assert_int_equal(kv_raftstore_region(fx_rs(&f, s), 1, NULL, &before[s - 1][0]), 0);
        assert_int_equal(kv_raftstore_region(fx_rs(&f, s), r2, NULL, &before[s - 1][1]), 0);
        ep[s - 1][0] = fx_epoch(&f, s, 1);
        ep[s - 1][1] = fx_epoch(&f, s, r2);
    }
    for (uint64_t s = 1; s <= 3; s++) {
        fx_reopen(&f, s);
    }
    for (uint64_t s = 1; s <= 3; s++) {
        kv_peer_status now;
        assert_int_equal(kv_raftstore_region(fx_rs(&f, s), 1, NULL, &now), 0);
        assert_int_equal(now.applied, before[s - 1][0].applied);
        assert_int_equal(now.term, before[s - 1][0].term);
        assert_int_equal(now.last_index, before[s - 1][0].last_index);
        assert_int_equal(kv_raftstore_region(fx_rs(&f, s), r2, NULL, &now), 0);
        assert_int_equal(now.applied, before[s - 1][1].applied);
        assert_true(kv_epoch_eq(fx_epoch(&f, s, 1), ep[s - 1][0]));
        assert_true(kv_epoch_eq(fx_epoch(&f, s, r2), ep[s - 1][1]));
    }
    l = fx_wait_leader(&f, 1);
    l2 = fx_wait_leader(&f, r2);
    assert_int_equal(fx_put(&f, l, 1, "b", "3"), 0);
    assert_int_equal(fx_put(&f, l2, r2, "y", "4"), 0);
    bool found;
    cm_buf v = CM_BUF_INIT;
    assert_int_equal(fx_get(&f, l2, r2, "x", &found, &v), 0);
    assert_true(found);
    cm_buf_fini(&v);
    fx_fini(&f);
}

/* Leadership moves on request; the new leader serves writes, the old one refuses them. */
static void test_transfer_leader(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, 3, 3, "", "", NULL);
    uint64_t l = fx_wait_leader(&f, 1);
    uint64_t target = l == 3 ? 1 : l + 1;
    assert_int_equal(kv_raftstore_transfer_leader(fx_rs(&f, l), 1, 100 + target), 0);
    fx_run(&f);
    fx_tick(&f, 3);
    assert_int_equal(fx_leader(&f, 1), target);
    assert_int_equal(fx_put(&f, target, 1, "t", "1"), 0);
    assert_int_equal(fx_put(&f, l, 1, "t", "2"), CM_E_NOT_LEADER);
    assert_int_equal(kv_raftstore_transfer_leader(fx_rs(&f, target), 1, 555), CM_E_INVALID);
    assert_int_equal(kv_raftstore_transfer_leader(fx_rs(&f, target), 9, 101),
                     CM_E_REGION_NOT_FOUND);
    fx_fini(&f);
}

/* Region heartbeats reach the PD sink from leaders only, with size estimates. */
static void test_heartbeats_and_estimates(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, 3, 3, "", "", NULL);
    uint64_t l = fx_wait_leader(&f, 1);
    for (int i = 0; i < 10; i++) {
        char k[8];
        snprintf(k, sizeof(k), "e%d", i);
        assert_int_equal(fx_put(&f, l, 1, k, "0123456789"), 0);
    }
    fx_tick(&f, 12);
    assert_true(f.stores[l - 1].heartbeats >= 2);
    for (uint64_t s = 1; s <= 3; s++) {
        if (s != l) {
            assert_int_equal(f.stores[s - 1].heartbeats, 0);
        }
    }
    kv_peer_status st;
    assert_int_equal(kv_raftstore_region(fx_rs(&f, l), 1, NULL, &st), 0);
    assert_int_equal(st.approx_keys, 10);
    assert_true(st.approx_bytes >= 120);
    fx_fini(&f);
}

/* ---- codecs --------------------------------------------------------------------------------- */

static void test_codecs_roundtrip_and_reject_garbage(void **state)
{
    (void)state;
    kv_region r, r2;
    kv_region_init(&r);
    kv_region_init(&r2);
    assert_int_equal(kv_region_set_range(&r, cm_slice_cstr("a"), cm_slice_cstr("q")), 0);
    r.id = 9;
    r.epoch.conf_ver = 3;
    r.epoch.version = 4;
    kv_peer p1 = {11, 1, KV_PEER_VOTER}, p2 = {12, 2, KV_PEER_LEARNER};
    assert_int_equal(kv_region_add_peer(&r, &p1), 0);
    assert_int_equal(kv_region_add_peer(&r, &p2), 0);
    assert_int_equal(kv_region_add_peer(&r, &p1), CM_E_EXISTS);
    cm_buf enc = CM_BUF_INIT;
    assert_int_equal(kv_region_encode(&r, &enc), 0);
    cm_reader rd;
    cm_reader_init(&rd, enc.ptr, enc.len);
    assert_int_equal(kv_region_decode(&rd, &r2, NULL), 0);
    assert_int_equal(r2.id, 9);
    assert_true(kv_epoch_eq(r2.epoch, r.epoch));
    assert_int_equal(r2.n_peers, 2);
    assert_int_equal(r2.peers[1].role, KV_PEER_LEARNER);
    /* Every truncation fails cleanly. */
    for (size_t n = 0; n < enc.len; n++) {
        cm_reader_init(&rd, enc.ptr, n);
        assert_int_equal(kv_region_decode(&rd, &r2, NULL), CM_E_CORRUPT);
    }
    /* Commands. */
    kv_rs_cmd c, d;
    memset(&c, 0, sizeof(c));
    c.kind = KV_RS_CMD_SPLIT;
    c.epoch = r.epoch;
    c.split_key = cm_slice_cstr("k");
    c.new_region_id = 77;
    c.n_new_peers = 2;
    c.new_peer_ids[0] = 5;
    c.new_peer_ids[1] = 6;
    cm_buf_reset(&enc);
    assert_int_equal(kv_rs_cmd_encode(&c, &enc), 0);
    assert_int_equal(kv_rs_cmd_decode(cm_buf_slice(&enc), &d, NULL), 0);
    assert_int_equal(d.new_region_id, 77);
    assert_int_equal(d.new_peer_ids[1], 6);
    assert_true(cm_slice_eq(d.split_key, cm_slice_cstr("k")));
    for (size_t n = 0; n < enc.len; n++) {
        assert_int_equal(kv_rs_cmd_decode(cm_slice_make(enc.ptr, n), &d, NULL), CM_E_CORRUPT);
    }
    /* Snapshot payload: records must stay in the region and in order. */
    kv_rs_region_state st, st2;
    kv_rs_region_state_init(&st);
    kv_rs_region_state_init(&st2);
    st.peer_id = 11;
    assert_int_equal(kv_region_copy(&st.region, &r), 0);
    cm_buf_reset(&enc);
    assert_int_equal(kv_rs_snap_begin(&st, &enc), 0);
    assert_int_equal(kv_rs_snap_add(&enc, KV_CF_DEFAULT, cm_slice_cstr("b"), cm_slice_cstr("1")),
                     0);
    assert_int_equal(kv_rs_snap_add(&enc, KV_CF_WRITE, cm_slice_cstr("c"), cm_slice_cstr("2")), 0);
    assert_int_equal(kv_rs_snap_finish(&enc), 0);
    kv_rs_snap_reader sr;
    assert_int_equal(kv_rs_snap_open(&sr, cm_buf_slice(&enc), &st2, NULL), 0);
    kv_cf cf;
    cm_slice k, v;
    assert_int_equal(kv_rs_snap_next(&sr, &st2.region, &cf, &k, &v, NULL), 1);
    assert_int_equal(kv_rs_snap_next(&sr, &st2.region, &cf, &k, &v, NULL), 1);
    assert_int_equal(cf, KV_CF_WRITE);
    assert_int_equal(kv_rs_snap_next(&sr, &st2.region, &cf, &k, &v, NULL), 0);
    cm_buf bad = CM_BUF_INIT;
    assert_int_equal(kv_rs_snap_begin(&st, &bad), 0);
    assert_int_equal(kv_rs_snap_add(&bad, KV_CF_DEFAULT, cm_slice_cstr("z"), cm_slice_cstr("1")),
                     0);
    assert_int_equal(kv_rs_snap_finish(&bad), 0);
    assert_int_equal(kv_rs_snap_open(&sr, cm_buf_slice(&bad), &st2, NULL), 0);
    assert_int_equal(kv_rs_snap_next(&sr, &st2.region, &cf, &k, &v, NULL), CM_E_CORRUPT);
    cm_buf_fini(&bad);
    kv_rs_region_state_fini(&st);
    kv_rs_region_state_fini(&st2);
    cm_buf_fini(&enc);
    kv_region_fini(&r);
    kv_region_fini(&r2);
}

int main(void)
{
    cm_log_set_level(getenv("RS_TEST_LOG") ? CM_LOG_INFO : CM_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replicate_and_read),
        cmocka_unit_test(test_leader_crash_failover),
        cmocka_unit_test(test_crash_all_keeps_acked_writes),
        cmocka_unit_test(test_split_then_write_both_halves),
        cmocka_unit_test(test_stale_epoch_rejected_at_apply),
        cmocka_unit_test(test_membership_learner_promote_remove),
        cmocka_unit_test(test_snapshot_catch_up_of_lagging_peer),
        cmocka_unit_test(test_unknown_region_messages),
        cmocka_unit_test(test_one_sync_per_iteration),
        cmocka_unit_test(test_restart_recovers_regions),
        cmocka_unit_test(test_transfer_leader),
        cmocka_unit_test(test_heartbeats_and_estimates),
        cmocka_unit_test(test_codecs_roundtrip_and_reject_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
