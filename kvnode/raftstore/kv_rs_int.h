/*
 * kv_rs_int.h — private structures of the raftstore, shared by its source files only.
 *
 *   kv_rs_store.c   the store: maps, range index, tick, the loop (process)
 *   kv_rs_peer.c    a peer: creation, recovery, destruction, its Raft storage on the engine,
 *                   persisting readies, log GC, snapshot generation and installation
 *   kv_rs_apply.c   applying committed entries (writes, splits, membership) and answering
 *   kv_rs_msg.c     messages in and out: routing, peer creation, coalescing, snapshot chunks
 *   kv_rs_api.c     propose / read / split / change_peer / transfer, inspection
 */
#ifndef KV_RS_INT_H
#define KV_RS_INT_H

#include "kv_raftstore.h"
#include "kv_rs_codec.h"

#include "cm_assert.h"
#include "cm_log.h"
#include "cm_raft.h"

#include <pthread.h>

#define RS_COMPONENT "raftstore"

/* ---- limits (this module's; reasons given) -------------------------------------------------- */

/* Snapshots being assembled at once: a store receives one per lagging or new peer, and PD moves
 * a few regions at a time; more are refused so a flood cannot hold unbounded memory. */
#define KV_RS_SNAP_RECV_MAX 16
/* Largest snapshot accepted: a region splits at 96 MiB by default and may overshoot before the
 * split check; 256 MiB leaves room and still bounds what a malicious peer can make us buffer. */
#define KV_RS_SNAPSHOT_BYTES_MAX (256u * 1024 * 1024)
/* Chunks of one snapshot (1 MiB chunks cover the largest snapshot with room to spare). */
#define KV_RS_SNAP_CHUNKS_MAX 4096
/* Reads waiting on one peer: ReadIndex bounds its own queue at CM_RAFT_PENDING_READS_MAX. */
#define KV_RS_READS_MAX CM_RAFT_PENDING_READS_MAX
/* Proposals waiting on one peer; more are answered SERVER_IS_BUSY (back pressure). */
#define KV_RS_PROPOSALS_MAX 65536

/* ---- a tiny uint64 -> pointer hash map (key 0 is reserved) ---------------------------------- */

typedef struct rs_map_slot {
    uint64_t key;
    void *val;
} rs_map_slot;

typedef struct rs_map {
    rs_map_slot *slots;
    size_t cap; /* power of two or 0 */
    size_t n;
} rs_map;

void rs_map_fini(rs_map *m);
void *rs_map_get(const rs_map *m, uint64_t key);
int rs_map_put(rs_map *m, uint64_t key, void *val);
void *rs_map_del(rs_map *m, uint64_t key);

/* ---- peers ---------------------------------------------------------------------------------- */

typedef enum rs_prop_kind {
    RS_PROP_WRITE = 1,
    RS_PROP_SPLIT = 2,
    RS_PROP_PREPARE = 3, /* phase 1 of adding a peer; phase 2 proposes the conf change */
    RS_PROP_CONF = 4,
} rs_prop_kind;

typedef struct rs_proposal {
    uint64_t index;
    uint64_t term;
    uint8_t kind;
    kv_raftstore_done_cb cb;
    void *user;
    kv_conf_op op; /* PREPARE, CONF */
    kv_peer peer;
} rs_proposal;

typedef enum rs_read_state {
    RS_READ_RETRY = 1,  /* the leader could not take it yet (no entry of its term applied) */
    RS_READ_ASKED = 2,  /* ReadIndex requested, waiting for the confirmation */
    RS_READ_APPLY = 3,  /* index known, waiting for apply */
    RS_READ_FAILED = 4, /* ReadIndex refused (leadership lost): answer with rc */
} rs_read_state;

typedef struct rs_read {
    uint64_t id;
    uint64_t index;
    uint8_t state;
    int rc; /* RS_READ_FAILED */
    kv_epoch epoch;
    uint32_t age_ticks;
    kv_raftstore_read_cb cb;
    void *user;
} rs_read;

/* A membership change waiting to be proposed after its prepare entry applied. */
typedef struct rs_conf_next {
    bool due;
    kv_conf_op op;
    kv_peer peer;
    kv_raftstore_done_cb cb;
    void *user;
} rs_conf_next;

typedef struct rs_peer {
    kv_raftstore *store;
    uint64_t region_id;
    uint64_t peer_id;
    kv_rs_region_state st; /* region metadata and pending peers as of the applied index */
    bool initialized;      /* st.region has peers (a range and data) */
    cm_raft *raft;

    /* Raft storage (kv_rs_peer.c): what the engine holds, mirrored. */
    kv_rs_raft_state rs;
    uint64_t last_index;
    uint64_t last_term;
    kv_rs_apply_state apply;

    rs_proposal *props; /* in index order */
    size_t n_props;
    size_t cap_props;
    rs_read *reads;
    size_t n_reads;
    size_t cap_reads;
    rs_conf_next conf_next;

    /* Loop state. */
    bool dirty;
    bool has_rd;
    cm_raft_ready rd;
    bool state_changed;   /* st must be written with this iteration's apply */
    bool apply_changed;   /* apply state must be written */
    bool destroy_pending; /* removed by an applied conf change: destroy after advance */
    bool campaign_pending;
    bool hb_pending; /* report to PD after this iteration */
    bool was_leader;
    bool role_lost; /* leadership lost in this iteration: fail waiters after advance */
    uint64_t leader_term;
    uint64_t split_index; /* leader: a split proposed at this index and not applied yet */
    uint32_t ticks_since_leader;
    uint64_t approx_bytes;
    uint64_t approx_keys;
    bool approx_valid;
} rs_peer;

typedef struct rs_tomb {
    uint64_t peer_id;
    kv_epoch epoch;
} rs_tomb;

/* Outgoing batch for one store during one iteration. */
typedef struct rs_outbox {
    uint64_t store_id;
    cm_buf payload; /* packed BatchRaftMessage being built */
    size_t n_msgs;
} rs_outbox;

/* A snapshot being received. */
typedef struct rs_snap_recv {
    uint64_t snap_id;
    uint32_t age_ticks;
    cm_buf head; /* packed RaftMessage from chunk 0 */
    bool have_head;
    cm_buf *chunks; /* by seq */
    bool *have;
    uint32_t cap;
    uint32_t n_total; /* known when the last chunk arrived; 0 before */
    uint32_t n_have;
    uint64_t bytes;
} rs_snap_recv;

/* Ranges of snapshots accepted this iteration, not yet installed. */
typedef struct rs_range {
    uint64_t region_id;
    cm_buf start;
    cm_buf end;
} rs_range;

/* An answer computed during apply, delivered after every peer has advanced (so a callback may
 * propose again at once). */
typedef struct rs_done {
    kv_raftstore_done_cb cb;
    void *user;
    uint64_t region_id;
    int rc;
    const char *msg; /* static */
    uint64_t index;
    uint64_t term;
    uint8_t n_regions;
    kv_region regions[2];
    bool epoch_error; /* answer EPOCH_NOT_MATCH with the regions current at delivery */
} rs_done;

/* A region created by a split, materialized after the apply batch is written. */
typedef struct rs_split_new {
    kv_rs_region_state st;
    kv_rs_raft_state rst;
    bool replaces_uninit; /* an uninitialized peer of the region existed (it voted, maybe) */
    bool campaign;        /* the parent's leader is here: campaign at once */
} rs_split_new;

typedef struct rs_post {
    void (*fn)(kv_raftstore *s, void *arg);
    void *arg;
} rs_post;

struct kv_raftstore {
    kv_raftstore_env env;
    kv_raftstore_config cfg;
    uint64_t store_id;
    int poisoned; /* CM_E_IO once the engine failed */

    rs_map peers;     /* region id -> rs_peer */
    rs_peer **ranges; /* initialized peers by start key */
    size_t n_ranges;
    size_t cap_ranges;
    rs_map tombs;       /* region id -> rs_tomb */
    rs_map peer_stores; /* peer id -> store id learned from messages (as a pointer value) */

    rs_peer **dirty;
    size_t n_dirty;
    size_t cap_dirty;
    bool in_process;

    rs_outbox *outs;
    size_t n_outs;
    size_t cap_outs;

    rs_snap_recv recvs[KV_RS_SNAP_RECV_MAX];
    size_t n_recvs;
    rs_range *pending_ranges;
    size_t n_pending_ranges;
    size_t cap_pending_ranges;

    pthread_mutex_t post_mu;
    rs_post *posts;
    size_t n_posts;
    size_t cap_posts;

    rs_done *dones;
    size_t n_dones;
    size_t cap_dones;
    rs_split_new *split_news;
    size_t n_split_news;
    size_t cap_split_news;

    uint64_t next_read_id;
    uint64_t ticks;
    cm_buf msgbuf; /* encoding of one outgoing Raft message */
    kv_batch wb;   /* the iteration's persist batch */
    kv_batch ab;   /* the iteration's apply batch */
    cm_buf scratch;
    kv_raftstore_stats stats;
};

/* ---- kv_rs_store.c -------------------------------------------------------------------------- */

void rs_mark_dirty(rs_peer *p);
rs_peer *rs_find(const kv_raftstore *s, uint64_t region_id);
/* Range index of initialized peers. */
int rs_range_insert(kv_raftstore *s, rs_peer *p);
void rs_range_remove(kv_raftstore *s, rs_peer *p);
/* An initialized peer other than except_region whose range overlaps [start, end), or NULL. */
rs_peer *rs_range_overlap(const kv_raftstore *s, cm_slice start, cm_slice end,
                          uint64_t except_region);
/* The initialized peer whose range starts where p's ends, or NULL. */
rs_peer *rs_range_right_of(const kv_raftstore *s, const rs_peer *p);
uint64_t rs_now_ns(kv_raftstore *s);
/* Writes a batch outside the loop's two batches; poisons the store on failure. */
int rs_write(kv_raftstore *s, const kv_batch *b, bool sync);

/* ---- kv_rs_peer.c --------------------------------------------------------------------------- */

extern const cm_raft_storage_ops rs_storage_ops;

/* Creates a peer in memory from its persisted state (recovery) or for a fresh one. *
 * fresh_start: the peer never ran (no Raft state on disk). The peer is added to the maps. */
int rs_peer_create(kv_raftstore *s, const kv_rs_region_state *st, const kv_rs_raft_state *rst,
                   const kv_rs_apply_state *ast, uint64_t last_index, uint64_t last_term,
                   bool fresh_start, rs_peer **out, cm_err *err);
/* Loads one region's peer from the engine (its region state already decoded). */
int rs_peer_load(kv_raftstore *s, const kv_rs_region_state *st, cm_err *err);
/* Creates an uninitialized peer for a message to peer_id of an unknown region; persists its
 * state in the next persist batch. */
int rs_peer_create_uninit(kv_raftstore *s, uint64_t region_id, uint64_t peer_id, rs_peer **out);
/* Destroys the peer: answers its waiters with rc, deletes its Raft state, log and (when
 * initialized) data, writes a tombstone, frees it. */
void rs_peer_destroy(rs_peer *p, int rc, const char *why);
/* Frees the memory only (close). */
void rs_peer_free(rs_peer *p);
/* Checks a whole snapshot payload for peer_id of region_id; fills st (initialized by the
 * caller). Returns 0 or CM_E_CORRUPT. */
int rs_snap_validate(uint64_t region_id, uint64_t peer_id, cm_slice data, kv_rs_region_state *st,
                     cm_err *err);
/* Adds the ready's snapshot, entries and hard state to s->wb. */
int rs_peer_persist(rs_peer *p);
/* Log GC: truncates the log up to what is applied and what followers need. */
int rs_peer_compact(rs_peer *p, kv_batch *b);
/* The store of peer_id as this peer knows it (region, pending peers, message cache), or 0. */
uint64_t rs_peer_store_of(const rs_peer *p, uint64_t peer_id);
bool rs_peer_is_leader(const rs_peer *p);
uint64_t rs_peer_leader_id(const rs_peer *p);
void rs_peer_leader(const rs_peer *p, kv_peer *out);
/* Puts the region state / apply state into b. */
int rs_peer_put_region_state(rs_peer *p, kv_batch *b);
int rs_peer_put_apply_state(rs_peer *p, kv_batch *b);
int rs_peer_put_raft_state(rs_peer *p, kv_batch *b);
/* Adds deletes of every data-CF key in [start, end) to b. */
int rs_delete_data_range(kv_engine *e, kv_batch *b, cm_slice start, cm_slice end);

/* ---- kv_rs_apply.c -------------------------------------------------------------------------- */

/* Applies p->rd.committed into s->ab (data and states); answers are queued (rs_done). */
int rs_apply_committed(rs_peer *p);
/* After the apply batch is written: takes the ready's ReadIndex confirmations. */
void rs_apply_finish(rs_peer *p);
/* Delivers the queued answers (after every peer advanced). */
void rs_deliver_dones(kv_raftstore *s);
void rs_dones_fini(kv_raftstore *s);
/* Answers proposals that can no longer succeed (leadership lost or term moved). */
void rs_fail_proposals(rs_peer *p, int rc, const char *why, bool all);
void rs_fail_reads(rs_peer *p, int rc, const char *why);
/* Serves reads whose index is applied; retries reads waiting for the leader. */
void rs_serve_reads(rs_peer *p);
/* Answers r now with a snapshot (or EPOCH_NOT_MATCH if the region changed). */
void rs_read_serve(rs_peer *p, rs_read *r);
/* Queues r on p (copied). Returns 0, CM_E_SERVER_IS_BUSY or CM_E_NOMEM. */
int rs_read_push(rs_peer *p, const rs_read *r);
/* Starts r on a leader (kv_rs_api.c): 1 when answered at once (lease), 0 when it must wait
 * (r->state says for what), or a negative code (r not answered). */
int rs_read_issue(rs_peer *p, rs_read *r);
/* Answers cb with an EPOCH_NOT_MATCH carrying the peer's region and its right neighbour. */
void rs_reply_epoch(rs_peer *p, kv_raftstore_done_cb cb, void *user, const char *why);
void rs_reply_simple(kv_raftstore_done_cb cb, void *user, uint64_t region_id, int rc,
                     const char *msg);
void rs_reply_not_leader(rs_peer *p, kv_raftstore_done_cb cb, void *user);
/* Proposes the conf change of a prepared add (after advance). */
void rs_run_conf_next(rs_peer *p);
/* Splits created by this iteration's apply, materialized after the apply batch is written. */
void rs_apply_create_split_peers(kv_raftstore *s);
void rs_split_news_fini(kv_raftstore *s);
/* PD heartbeat for a leader peer. */
void rs_report(rs_peer *p);

/* ---- kv_rs_msg.c ---------------------------------------------------------------------------- */

/* Queues Raft message m of peer p for its destination store. */
void rs_send_raft(rs_peer *p, const cm_raft_msg *m);
/* Sends an is_tombstone message to peer `to` of region p's (from p). */
void rs_send_tombstone(kv_raftstore *s, uint64_t region_id, const kv_peer *from, kv_epoch epoch,
                       const kv_peer *to);
/* Sends every queued batch. */
void rs_flush_outboxes(kv_raftstore *s);
/* Drops snapshot assemblies that have waited too long. */
void rs_snap_recv_tick(kv_raftstore *s);
void rs_snap_recv_fini(kv_raftstore *s);
/* Asks the other peers whether p was removed (stale-peer check). */
void rs_send_stale_probe(rs_peer *p);

#endif
