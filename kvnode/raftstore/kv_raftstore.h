/*
 * kv_raftstore.h — the multi-Raft store (TiKV's "raftstore"; DESIGN.md §5, docs/raftstore.md):
 * the layer between the Raft core (common/raft) and the transaction layer (kvnode/txn).
 *
 * A store holds many regions; each region is a Raft group and this store runs one replica of it
 * (a *peer*: a cm_raft instance, the region's metadata, its apply state, the proposals and reads
 * waiting on it). One loop iteration, kv_raftstore_process(), handles every busy peer at once:
 *
 *   1. collect the ready state of every busy peer;
 *   2. persist all of it (log entries, hard states, received snapshots) in ONE engine write
 *      batch with ONE sync;
 *   3. send the messages, coalesced into one BatchRaftMessage per destination store (snapshots
 *      travel separately, in SNAPSHOT_CHUNK messages);
 *   4. apply committed entries of every peer in ONE write batch that also carries each peer's
 *      applied index (so data and applied index are never out of step);
 *   5. answer proposals and reads, then advance every peer.
 * One timer drives all peers: the caller calls kv_raftstore_tick() every tick_ns.
 *
 * Everything external comes through kv_raftstore_env (engine, transport, clock, randomness, ids,
 * PD heartbeats), so the same code runs in the kvnode and in the deterministic simulator
 * (testsuite/simstore). Threads: a store is single-threaded — every call below, and every
 * callback it makes, happens on the thread that owns it (the store's loop thread), except
 * kv_raftstore_post(), which any thread may call to run a function on that thread.
 *
 * Results: propose/read/split/change_peer report through their callback exactly once, possibly
 * before they return (an immediate error such as NotLeader). A failed write is reported with a
 * region error as TiKV does: NOT_LEADER (with the leader when known), EPOCH_NOT_MATCH (with the
 * regions that now cover the range), REGION_NOT_FOUND, KEY_NOT_IN_REGION, SERVER_IS_BUSY, or
 * STALE_COMMAND (leadership moved before the command applied: its outcome is unknown, the caller
 * retries — Percolator commands are idempotent).
 */
#ifndef KV_RAFTSTORE_H
#define KV_RAFTSTORE_H

#include "kv_engine.h"
#include "kv_region.h"

#include "cm_buf.h"
#include "cm_err.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct kv_raftstore kv_raftstore;

/* ---- environment ---------------------------------------------------------------------------- */

/* Transport methods (proto/kvrpcpb.proto Method numbers). */
#define KV_RAFTSTORE_MSG_BATCH    30 /* payload: packed BatchRaftMessage */
#define KV_RAFTSTORE_MSG_SNAPSHOT 31 /* payload: packed SnapshotChunk */

/* What a leader reports to PD about its region. */
typedef struct kv_region_heartbeat {
    const kv_region *region; /* borrowed for the call */
    kv_peer leader;
    uint64_t term;
    uint64_t approx_bytes; /* data column families in the region's range (engine estimate) */
    uint64_t approx_keys;
    uint32_t pending_peers; /* peers that are behind (snapshot or probing) */
    uint64_t pending_peer_ids[KV_REGION_PEERS_MAX]; /* the first pending_peers of them */
} kv_region_heartbeat;

typedef struct kv_raftstore_env {
    kv_engine *engine; /* borrowed; holds the data CFs and the raft CF */
    void *ctx;         /* passed to every callback below */
    /* Sends payload (borrowed for the call) to store to_store. Delivery is best effort: Raft
     * tolerates loss, duplication and reordering. Returns 0 or an error (the message is lost). */
    int (*send_cb)(void *ctx, uint64_t to_store, uint32_t method, cm_slice payload);
    /* Monotonic clock for leader leases. */
    uint64_t (*clock_ns_cb)(void *ctx);
    /* Uniform 64-bit random numbers (election timeouts, snapshot ids). */
    uint64_t (*rand_cb)(void *ctx);
    /* Allocates n fresh ids (regions and peers; PD in production). Returns 0 or an error. */
    int (*alloc_ids_cb)(void *ctx, size_t n, uint64_t *ids, cm_err *err);
    /* Region heartbeat sink (optional). */
    void (*heartbeat_cb)(void *ctx, const kv_region_heartbeat *hb);
    /* Observer of every applied entry, for simulators and tests (optional): region, index,
     * term, entry type (cm_raft_entry_type) and the entry's data as stored in the log. Called
     * during process(); it may only inspect the store (kv_raftstore_region). */
    void (*apply_observer_cb)(void *ctx, uint64_t region_id, uint64_t index, uint64_t term,
                              uint8_t type, cm_slice data);
    /* Called (from the posting thread) after kv_raftstore_post queued a function, so a loop
     * sleeping on its transport can wake up (optional). */
    void (*wake_cb)(void *ctx);
} kv_raftstore_env;

/* ---- configuration -------------------------------------------------------------------------- */

typedef struct kv_raftstore_config {
    uint64_t store_id;
    /* Raft timing (ticks of tick_ns on the injected clock). */
    uint32_t election_tick;
    uint32_t heartbeat_tick;
    uint64_t tick_ns;
    uint32_t drift_ppm;
    bool lease_read;          /* serve reads under the leader lease (else always ReadIndex) */
    uint64_t max_msg_bytes;   /* entry bytes per append message */
    uint32_t max_inflight;    /* append messages in flight per follower */
    uint64_t max_apply_bytes; /* committed entry bytes applied per peer per iteration */
    /* Send the leader's appends and heartbeats before the iteration's sync (they promise nothing
     * about its disk); the rest follows after. Two batches per store per iteration instead of
     * one, and followers write in parallel with the leader. */
    bool send_before_sync;
    /* Raft log GC: every log_gc_ticks, a peer whose log holds more than log_gc_threshold applied
     * entries truncates it, keeping entries that followers still need unless they lag by more
     * than log_gc_lag_max entries (those get a snapshot). */
    uint32_t log_gc_ticks;
    uint64_t log_gc_threshold;
    uint64_t log_gc_lag_max;
    /* Snapshots are streamed in chunks of this many bytes. */
    uint64_t snap_chunk_bytes;
    /* Leaders report their region to PD every pd_heartbeat_ticks (and at once on a change). */
    uint32_t pd_heartbeat_ticks;
    /* Size estimates are refreshed every split_check_ticks. */
    uint32_t split_check_ticks;
    /* A read or conf-change phase that cannot make progress fails after this many ticks. */
    uint32_t request_timeout_ticks;
    /* A peer that hears no leader for this many ticks asks its region's other peers whether it
     * was removed (they answer with a tombstone message if so). */
    uint32_t stale_peer_ticks;
} kv_raftstore_config;

/* Defaults: 100 ms ticks, election 10 / heartbeat 2 ticks, leases on, 1 MiB messages, log GC
 * every 10 ticks above 256 entries, 1 MiB snapshot chunks, PD heartbeats every 10 ticks. */
void kv_raftstore_config_default(kv_raftstore_config *c);

/* ---- lifecycle ------------------------------------------------------------------------------ */

/* Writes the initial state of `region` on this store's engine (synced): the store identity and
 * the region with log position (5, 5), as every replica of a new cluster's first region (or
 * every store of a test cluster) does. CM_E_EXISTS if the engine already holds a store of
 * another id or the region. The region must have a peer on store_id. */
int kv_raftstore_bootstrap(kv_engine *engine, uint64_t store_id, const kv_region *region,
                           cm_err *err);

/* Opens the store on env->engine (which must have been bootstrapped or written by an earlier
 * store with the same id) and recovers every region: metadata, Raft state, applied index.
 * env and cfg are copied. Returns 0, CM_E_CORRUPT (inconsistent persisted state), CM_E_INVALID
 * (bad config), CM_E_IO or CM_E_NOMEM. */
int kv_raftstore_open(const kv_raftstore_env *env, const kv_raftstore_config *cfg,
                      kv_raftstore **out, cm_err *err);
/* Frees the store without writing anything (a crash looks the same to the engine). Every
 * waiting callback is answered with CM_E_CLOSED first. */
void kv_raftstore_close(kv_raftstore *s);

/* ---- the loop ------------------------------------------------------------------------------- */

/* One tick for every peer (election/heartbeat timers) and the periodic tasks (log GC, PD
 * heartbeats, size estimates, timeouts). */
int kv_raftstore_tick(kv_raftstore *s);
/* One loop iteration (see above). Returns 0, or CM_E_IO when the engine failed: the store is
 * then unusable (every later call fails) and must be reopened. */
int kv_raftstore_process(kv_raftstore *s);
/* Whether a process() call would do anything now. */
bool kv_raftstore_busy(const kv_raftstore *s);

/* Delivers what the transport received (payload borrowed for the call). Malformed input is
 * counted, logged and dropped; the return value is 0 or CM_E_CORRUPT for a payload that did not
 * decode at all. */
int kv_raftstore_on_raft_batch(kv_raftstore *s, cm_slice payload);
int kv_raftstore_on_snapshot_chunk(kv_raftstore *s, cm_slice payload);

/* Runs fn(arg) on the store's thread at the start of the next process() call. The only call that
 * may come from another thread. Returns 0 or CM_E_NOMEM. */
int kv_raftstore_post(kv_raftstore *s, void (*fn)(kv_raftstore *s, void *arg), void *arg);

/* ---- commands ------------------------------------------------------------------------------- */

typedef struct kv_raftstore_result {
    int rc;          /* 0 or a CM_E_* code */
    const char *msg; /* context for rc (valid during the callback) */
    uint64_t region_id;
    kv_peer leader;           /* NOT_LEADER: the leader if known (id 0 otherwise) */
    const kv_region *regions; /* EPOCH_NOT_MATCH: the regions now covering the range;
                                 split: left then right; change_peer: the region after it */
    size_t n_regions;
    cm_slice key;   /* KEY_NOT_IN_REGION: the offending key */
    uint64_t index; /* success: log position of the command */
    uint64_t term;
} kv_raftstore_result;

typedef void (*kv_raftstore_done_cb)(void *user, const kv_raftstore_result *res);
/* On success snap is a snapshot of the engine at or after the read's index, OWNED by the
 * callee (release it with kv_snapshot_release); res->regions[0] is the region (bound iterators
 * to its range). On error snap is NULL. */
typedef void (*kv_raftstore_read_cb)(void *user, const kv_raftstore_result *res, kv_snapshot *snap);

/* Proposes a write batch (borrowed; copied) that the caller checked under `epoch`. Only data
 * column families; every key inside the region. cb runs after the batch is APPLIED on this
 * store (so reads see it) or with an error. Apply rejects the command with EPOCH_NOT_MATCH if
 * the region split or changed membership after the check. */
void kv_raftstore_propose(kv_raftstore *s, uint64_t region_id, kv_epoch epoch,
                          const kv_batch *batch, kv_raftstore_done_cb cb, void *user);

/* A linearizable read: served by the leader under its lease, otherwise after a ReadIndex round,
 * once the applied index has reached the read's index. */
void kv_raftstore_read(kv_raftstore *s, uint64_t region_id, kv_epoch epoch, kv_raftstore_read_cb cb,
                       void *user);

/* Splits the region at split_key (start < split_key < end): the leader allocates a region id
 * and one peer id per peer, proposes the split, and every replica applies it, keeping [start,
 * split_key) under the old id and creating the new region [split_key, end); both get epoch
 * version + 1. cb gets the two regions. */
void kv_raftstore_split(kv_raftstore *s, uint64_t region_id, kv_epoch epoch, cm_slice split_key,
                        kv_raftstore_done_cb cb, void *user);

typedef enum kv_conf_op {
    KV_CONF_ADD_LEARNER = 1, /* peer {id, store_id} joins as a learner */
    KV_CONF_ADD_VOTER = 2,   /* peer joins as a voter directly */
    KV_CONF_PROMOTE = 3,     /* learner peer.id becomes a voter */
    KV_CONF_REMOVE = 4,      /* peer.id leaves */
} kv_conf_op;

/* A single-step membership change (conf_ver + 1). Adding takes two entries: one recording the
 * new peer's store, then the Raft conf change. cb gets the region after the change. */
void kv_raftstore_change_peer(kv_raftstore *s, uint64_t region_id, kv_epoch epoch, kv_conf_op op,
                              kv_peer peer, kv_raftstore_done_cb cb, void *user);

/* Asks the leader to hand leadership to peer_id (a voter). Returns 0 when the transfer started,
 * CM_E_NOT_LEADER, CM_E_REGION_NOT_FOUND or CM_E_INVALID. Completion shows in the status. */
int kv_raftstore_transfer_leader(kv_raftstore *s, uint64_t region_id, uint64_t peer_id);

/* Starts an election for the region's peer on this store now (tests and tools). */
int kv_raftstore_campaign(kv_raftstore *s, uint64_t region_id);

/* ---- inspection ----------------------------------------------------------------------------- */

typedef struct kv_peer_status {
    uint64_t region_id;
    uint64_t peer_id;
    bool initialized;
    bool leader;
    uint64_t leader_peer_id; /* 0 when unknown */
    uint64_t term;
    uint64_t commit;
    uint64_t applied;
    uint64_t first_index;
    uint64_t last_index;
    uint64_t approx_bytes;
    uint64_t approx_keys;
    cm_raft_conf conf; /* the Raft configuration in force (the latest in the peer's log) */
} kv_peer_status;

/* Copies the region (into an initialized kv_region) and the peer's status. Returns 0 or
 * CM_E_REGION_NOT_FOUND. Either output may be NULL. */
int kv_raftstore_region(kv_raftstore *s, uint64_t region_id, kv_region *region, kv_peer_status *st);
/* The local initialized region containing key: 0 with *region_id, or CM_E_REGION_NOT_FOUND. */
int kv_raftstore_route(kv_raftstore *s, cm_slice key, uint64_t *region_id);
/* Ids of every local peer's region, in key order of initialized regions then the others;
 * returns how many there are (writes at most cap). */
size_t kv_raftstore_region_ids(kv_raftstore *s, uint64_t *ids, size_t cap);

typedef struct kv_raftstore_stats {
    uint64_t iterations;   /* process() calls that handled at least one peer */
    uint64_t syncs;        /* synced engine writes made by process() */
    uint64_t ready_peers;  /* peer readies handled */
    uint64_t batches_sent; /* BatchRaftMessage payloads sent */
    uint64_t msgs_sent;    /* Raft messages in them */
    uint64_t msgs_received;
    uint64_t msgs_dropped;         /* malformed, misrouted, stale, unknown destination */
    uint64_t msgs_dropped_overlap; /* for an unknown region overlapping a local one */
    uint64_t snapshots_sent;
    uint64_t snapshot_chunks_sent;
    uint64_t snapshots_received; /* fully assembled */
    uint64_t snapshots_applied;
    uint64_t snapshots_rejected;
    uint64_t proposals;
    uint64_t writes_applied;
    uint64_t epoch_rejections; /* commands refused at propose or apply for a stale epoch */
    uint64_t stale_commands;
    uint64_t lease_reads;
    uint64_t index_reads;
    uint64_t splits_applied;
    uint64_t conf_changes_applied;
    uint64_t peers_created;
    uint64_t peers_destroyed;
    uint64_t log_compactions;
    uint64_t tombstones_sent;
    uint64_t heartbeats;
} kv_raftstore_stats;

void kv_raftstore_stats_get(const kv_raftstore *s, kv_raftstore_stats *out);
uint64_t kv_raftstore_store_id(const kv_raftstore *s);

#endif
