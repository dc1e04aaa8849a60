/*
 * cm_raft.h — the Raft consensus core: a pure, single-threaded state machine in the style of
 * etcd-raft (DESIGN.md §5). It never reads a clock, a socket, a file or a random source: storage,
 * randomness and the monotonic clock used for leases are injected through cm_raft_config, and
 * messages leave only through cm_raft_ready_get(). Multi-raft runs thousands of groups in one
 * process, so a group is a small heap object with no threads; the application drives it:
 *
 *     cm_raft_step(r, msg)     a message from a peer (decoded with cm_raft_msg_decode)
 *     cm_raft_tick(r)          one tick of logical time (election and heartbeat timers)
 *     cm_raft_propose(r, ...)  a command (leader only)
 *     cm_raft_ready_get(r, &rd)    what to persist, send, apply and answer
 *     ... persist rd, send rd.msgs, apply rd.committed ...
 *     cm_raft_advance(r, &rd)  tell raft that rd was handled
 *
 * Between cm_raft_ready_get() and cm_raft_advance() nothing else may be called on the group except
 * the read-only accessors (cm_raft_status_get, cm_raft_term_at, cm_raft_progress_of): the ready
 * borrows raft's memory. The persistence contract (what must be durable before which message
 * leaves) is written in docs/raft.md and summarized at cm_raft_ready below.
 *
 * Membership: single-server changes (add voter, add learner, remove), one pending at a time. A
 * configuration takes effect as soon as its entry is in a node's log (Raft thesis §4.1), and is
 * reverted if the entry is truncated; the application sees conf entries again when they commit
 * (to update its routing metadata) and decodes them with cm_raft_conf_change_decode.
 */
#ifndef CM_RAFT_H
#define CM_RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cm_arena.h"
#include "cm_buf.h"
#include "cm_err.h"

/* ---- limits (owned by this module; the reason for each value is given) ---------------------- */

/* Members (voters + learners) of one group. Regions run 3–5 voters plus a learner or two while a
 * replica moves; 16 leaves room for PD's own group and keeps a configuration a fixed-size value
 * that a decoder can bound. */
#define CM_RAFT_MEMBERS_MAX 16
/* Largest entry payload a leader accepts (a region's write batch is split well below this). It
 * bounds what one malformed length field can make a decoder believe. */
#define CM_RAFT_ENTRY_BYTES_MAX (8u * 1024 * 1024)
/* Entries in one append message: bounds the array a decoder allocates for one message. */
#define CM_RAFT_MSG_ENTRIES_MAX 4096
/* ReadIndex requests waiting for their heartbeat round; more are refused with CM_E_BUSY so a
 * partitioned leader cannot grow memory without bound. */
#define CM_RAFT_PENDING_READS_MAX 4096
/* Largest in-flight window a config may ask for (the window is a per-follower ring). */
#define CM_RAFT_INFLIGHT_MAX 1024
/* Largest snapshot payload accepted from the wire: the snapshot travels inside one message here;
 * the RPC layer's own maximum (CM_RPC_MSG_BYTES_MAX, 64 MiB) is the real bound. */
#define CM_RAFT_SNAPSHOT_BYTES_MAX (64u * 1024 * 1024)

/* Largest term or index a message may carry: 2^62 entries or elections cannot happen, and the
 * headroom keeps term+1 and index+n arithmetic from wrapping on hostile input. */
#define CM_RAFT_TERM_INDEX_MAX (1ull << 62)

#define CM_RAFT_NONE 0 /* "no node": node ids start at 1 */

typedef enum cm_raft_role {
    CM_RAFT_FOLLOWER = 0,
    CM_RAFT_PRECANDIDATE = 1,
    CM_RAFT_CANDIDATE = 2,
    CM_RAFT_LEADER = 3,
} cm_raft_role;

const char *cm_raft_role_name(cm_raft_role role);

/* ---- log entries, configurations, snapshots ------------------------------------------------ */

typedef enum cm_raft_entry_type {
    CM_RAFT_ENTRY_NORMAL = 0, /* application command (empty data: a leader's no-op) */
    CM_RAFT_ENTRY_CONF = 1,   /* data is an encoded cm_raft_conf_change */
} cm_raft_entry_type;

typedef struct cm_raft_entry {
    uint64_t term;
    uint64_t index;
    uint8_t type;  /* cm_raft_entry_type */
    cm_slice data; /* ownership is stated by whoever hands the entry out */
} cm_raft_entry;

typedef struct cm_raft_conf {
    uint8_t n_voters;
    uint8_t n_learners;
    uint64_t voters[CM_RAFT_MEMBERS_MAX];   /* n_voters ids, no duplicates */
    uint64_t learners[CM_RAFT_MEMBERS_MAX]; /* n_learners ids, disjoint from voters */
} cm_raft_conf;

typedef enum cm_raft_conf_op {
    CM_RAFT_CONF_ADD_VOTER = 1,   /* add a node as voter, or promote a learner */
    CM_RAFT_CONF_ADD_LEARNER = 2, /* add a node that replicates but never votes */
    CM_RAFT_CONF_REMOVE = 3,      /* remove a voter or a learner */
} cm_raft_conf_op;

typedef struct cm_raft_conf_change {
    uint8_t op; /* cm_raft_conf_op */
    uint64_t node;
} cm_raft_conf_change;

bool cm_raft_conf_is_voter(const cm_raft_conf *c, uint64_t id);
bool cm_raft_conf_is_learner(const cm_raft_conf *c, uint64_t id);
/* Applies cc to c (idempotent: adding a present voter or removing an absent node is a no-op).
 * Returns 0, or CM_E_TOO_LARGE when the group would exceed CM_RAFT_MEMBERS_MAX. */
int cm_raft_conf_apply(cm_raft_conf *c, const cm_raft_conf_change *cc);
/* Encodes a conf change as entry data (appends to out). Returns 0 or CM_E_NOMEM. */
int cm_raft_conf_change_encode(const cm_raft_conf_change *cc, cm_buf *out);
/* Decodes entry data; returns 0 or CM_E_CORRUPT (bad op, node 0, trailing bytes). */
int cm_raft_conf_change_decode(cm_slice data, cm_raft_conf_change *cc);

typedef struct cm_raft_snapshot_meta {
    uint64_t index; /* last entry the snapshot covers */
    uint64_t term;  /* its term */
    cm_raft_conf conf;
} cm_raft_snapshot_meta;

typedef struct cm_raft_snapshot {
    cm_raft_snapshot_meta meta;
    cm_slice data; /* the application's state at meta.index; ownership stated where handed out */
} cm_raft_snapshot;

typedef struct cm_raft_hard_state {
    uint64_t term;
    uint64_t vote;
    uint64_t commit;
} cm_raft_hard_state;

/* ---- messages ----------------------------------------------------------------------------- */

typedef enum cm_raft_msg_type {
    CM_RAFT_MSG_APP = 1,            /* append entries (log_term/index: the entry before them) */
    CM_RAFT_MSG_APP_RESP = 2,       /* index: last matched, or the rejected probe index */
    CM_RAFT_MSG_VOTE = 3,           /* index/log_term: candidate's last entry */
    CM_RAFT_MSG_VOTE_RESP = 4,      /* flag REJECT */
    CM_RAFT_MSG_PREVOTE = 5,        /* as VOTE, for term+1 without moving the term */
    CM_RAFT_MSG_PREVOTE_RESP = 6,   /* flag REJECT */
    CM_RAFT_MSG_HEARTBEAT = 7,      /* commit, and the round's hb_seq/hb_time_ns */
    CM_RAFT_MSG_HEARTBEAT_RESP = 8, /* echoes hb_seq/hb_time_ns */
    CM_RAFT_MSG_SNAP = 9,           /* snapshot */
    CM_RAFT_MSG_TIMEOUT_NOW = 10,   /* leadership transfer: campaign now */
} cm_raft_msg_type;
#define CM_RAFT_MSG_TYPE_MAX 10

const char *cm_raft_msg_type_name(int type);

#define CM_RAFT_FLAG_REJECT 0x01u /* response: request rejected */
#define CM_RAFT_FLAG_FORCE  0x02u /* vote request of a leadership transfer: ignore leader lease */
#define CM_RAFT_FLAGS_ALL   0x03u

typedef struct cm_raft_msg {
    uint8_t type;  /* cm_raft_msg_type */
    uint8_t flags; /* CM_RAFT_FLAG_* */
    uint64_t from;
    uint64_t to;
    uint64_t term;
    uint64_t log_term;    /* APP: term at index; VOTE: last term; APP_RESP reject: hint term */
    uint64_t index;       /* APP: prev index; VOTE: last index; APP_RESP: see type */
    uint64_t commit;      /* APP, HEARTBEAT */
    uint64_t reject_hint; /* APP_RESP with REJECT: follower's suggested probe index */
    uint64_t hb_seq;      /* HEARTBEAT(_RESP): round number within the leader's term */
    uint64_t hb_time_ns;  /* HEARTBEAT(_RESP): leader's clock when the round was sent */
    cm_raft_entry *entries;
    size_t n_entries;
    cm_raft_snapshot *snapshot; /* SNAP only */
} cm_raft_msg;

/* Appends the compact binary encoding of m to out (docs/raft.md, "wire format"). Messages are
 * self-delimiting, so a batch for one store is their concatenation. Returns 0 or CM_E_NOMEM. */
int cm_raft_msg_encode(const cm_raft_msg *m, cm_buf *out);
/* Decodes one message from r. Arrays (entries, snapshot) are allocated from arena; entry and
 * snapshot data are borrowed from r's bytes, so both must outlive *m. Garbage returns
 * CM_E_CORRUPT with a reason in err and never crashes. */
int cm_raft_msg_decode(cm_reader *r, cm_arena *arena, cm_raft_msg *m, cm_err *err);
/* Bytes the encoding of m's payload occupies (entries' data), for flow control and tests. */
size_t cm_raft_entry_size(const cm_raft_entry *e);

/* ---- storage (injected) --------------------------------------------------------------------- */

/*
 * The application's stable log. Raft reads only entries it was told are stable (cm_raft_advance
 * after they were persisted) and keeps the unstable tail itself. Indexes: the storage holds a
 * snapshot point (first_index-1, whose term must be answerable) and entries
 * [first_index, last_index]. Every callback returns 0 or a negative CM_E_* code:
 * CM_E_NOT_FOUND for a compacted index, CM_E_BUSY for a snapshot not ready yet.
 */
typedef struct cm_raft_storage_ops {
    /* Hard state and the configuration as of the storage's snapshot point. */
    int (*initial_state_cb)(void *ctx, cm_raft_hard_state *hs, cm_raft_conf *conf);
    uint64_t (*first_index_cb)(void *ctx);
    uint64_t (*last_index_cb)(void *ctx);
    /* Term of entry index, for index in [first_index-1, last_index]. */
    int (*term_cb)(void *ctx, uint64_t index, uint64_t *term);
    /* Entries [lo, hi) into *out (array and data allocated from arena), stopping before the
     * total size passes max_bytes but always returning at least one entry. */
    int (*entries_cb)(void *ctx, uint64_t lo, uint64_t hi, uint64_t max_bytes, cm_arena *arena,
                      cm_raft_entry **out, size_t *n_out);
    /* The latest snapshot (data allocated from arena). */
    int (*snapshot_cb)(void *ctx, cm_arena *arena, cm_raft_snapshot *out);
} cm_raft_storage_ops;

/* ---- configuration -------------------------------------------------------------------------- */

typedef struct cm_raft_config {
    uint64_t id; /* this node, >= 1 */
    /* Followers wait election_tick ticks without a leader before campaigning (randomized in
     * [election_tick, 2*election_tick)); a leader sends heartbeats every heartbeat_tick ticks. */
    uint32_t election_tick;
    uint32_t heartbeat_tick;
    bool pre_vote;          /* run a pre-vote round before moving the term */
    bool check_quorum;      /* leader steps down without a quorum; followers honour leader leases */
    bool lease_read;        /* allow cm_raft_lease_read (requires check_quorum and a clock) */
    uint64_t tick_ns;       /* nominal length of a tick on the injected clock (lease arithmetic) */
    uint32_t drift_ppm;     /* bound on any node's clock rate error, parts per million */
    uint64_t max_msg_bytes; /* entry bytes per append message (at least one entry is sent) */
    uint32_t max_inflight;  /* append messages in flight per follower (1..INFLIGHT_MAX) */
    uint64_t max_apply_bytes; /* committed entry bytes per ready (0: unlimited) */
    uint64_t applied;         /* on restart: index the application has applied */
    /* The node has never run before (a new group, or a peer being added): it cannot have made
     * a promise to a leader, so it need not stay quiet for an election timeout at start. Set it
     * only then; every restart must leave it false (docs/raft.md, leases). */
    bool fresh_start;
    const cm_raft_storage_ops *storage;
    void *storage_ctx;
    uint64_t (*rand_cb)(void *ctx); /* uniform 64-bit random numbers */
    void *rand_ctx;
    uint64_t (*clock_ns_cb)(void *ctx); /* monotonic clock (nanoseconds); needed for leases */
    void *clock_ctx;
} cm_raft_config;

/* Fills c with defaults (10/1 ticks, pre-vote and check-quorum on, lease off, 1 MiB messages,
 * window 256); the caller sets id, storage, rand and clock. */
void cm_raft_config_default(cm_raft_config *c);

typedef struct cm_raft cm_raft;

/* Creates a group from cfg (copied) and its storage. Returns 0 or CM_E_INVALID/CM_E_CORRUPT/
 * CM_E_NOMEM with a reason in err. The group starts as a follower. */
int cm_raft_new(const cm_raft_config *cfg, cm_raft **out, cm_err *err);
void cm_raft_free(cm_raft *r);

/* ---- driving the group ---------------------------------------------------------------------- */

/* One tick. Returns 0, or CM_E_BUSY between ready and advance. */
int cm_raft_tick(cm_raft *r);
/* A message from a peer (m and its arrays are borrowed for the call). Messages that raft's rules
 * say to ignore (stale terms, unknown senders) return 0; CM_E_CORRUPT means the message broke an
 * invariant that a correct peer never breaks (e.g. it rewrites a committed entry); it is
 * logged and dropped. */
int cm_raft_step(cm_raft *r, const cm_raft_msg *m);
/* Starts an election now (tests, operator tools); no-op for leaders and non-voters. */
int cm_raft_campaign(cm_raft *r);

/* Appends a command (data copied). Leader only: CM_E_NOT_LEADER otherwise, CM_E_BUSY during a
 * leadership transfer, CM_E_TOO_LARGE over CM_RAFT_ENTRY_BYTES_MAX. Returns the entry's index
 * and term: the command took effect iff that index commits with that term. Appends made before
 * the next cm_raft_ready_get are sent together (batching). */
int cm_raft_propose(cm_raft *r, cm_slice data, uint64_t *index, uint64_t *term);
/* Proposes one membership change. Refused (CM_E_BUSY) while another change is uncommitted, before
 * an entry of the leader's own term has committed, or during a transfer; CM_E_INVALID if it does
 * not change anything or would leave no voter. Drops the leader's lease. */
int cm_raft_propose_conf(cm_raft *r, const cm_raft_conf_change *cc, uint64_t *index,
                         uint64_t *term);
/* Starts a leadership transfer to target (a voter). The lease is dropped for the rest of the
 * term; proposals are refused until the transfer ends (success, or election_tick ticks). */
int cm_raft_transfer_leader(cm_raft *r, uint64_t target);

/*
 * ReadIndex: asks the leader to confirm its leadership for a read tagged ctx. Later a ready
 * carries a cm_raft_read_state {ctx, index}: once the application has applied index it may
 * serve the read. CM_E_NOT_LEADER on a non-leader; CM_E_UNAVAILABLE until the leader has applied
 * an entry of its own term; CM_E_BUSY over CM_RAFT_PENDING_READS_MAX.
 */
int cm_raft_read_index(cm_raft *r, uint64_t ctx);
/*
 * Lease read: if the leader's lease still holds on the injected clock, returns 0 and the index
 * the read must wait for (apply up to it, then read locally, no messages). CM_E_TIMEOUT when the
 * lease may have expired (use ReadIndex), CM_E_UNAVAILABLE as for ReadIndex or when the lease is
 * dropped (transfer, membership change), CM_E_NOT_LEADER on a non-leader.
 */
int cm_raft_lease_read(cm_raft *r, uint64_t *index);

typedef struct cm_raft_read_state {
    uint64_t ctx;   /* as given to cm_raft_read_index */
    uint64_t index; /* serve after applying this index */
    int status;     /* 0, or CM_E_NOT_LEADER if leadership was lost before confirmation */
} cm_raft_read_state;

/*
 * The work raft hands to the application, in this order (docs/raft.md, persistence contract):
 *   1. msgs_early may be sent at once, before or while persisting (a leader's appends,
 *      heartbeats, snapshots and TimeoutNow: they promise nothing about the sender's disk);
 *   2. persist hard_state (if hard_state_changed), snapshot (if any, replacing the whole log)
 *      and entries (truncating any stored entry at index >= entries[0].index) — atomically,
 *      or in the order term+vote, snapshot, entries, commit index; when must_sync, make it
 *      durable (fsync) before going on;
 *   3. send msgs (votes, vote and append responses: each promises durable state);
 *   4. install snapshot data in the state machine, then apply committed entries in order;
 *   5. answer reads (each waits until its index is applied);
 *   6. cm_raft_advance().
 * Everything is borrowed from raft until cm_raft_advance.
 */
typedef struct cm_raft_ready {
    uint64_t lead;     /* current leader (soft state, not persisted) */
    cm_raft_role role; /* current role (soft state) */
    bool hard_state_changed;
    cm_raft_hard_state hard_state;
    bool must_sync;
    const cm_raft_snapshot *snapshot; /* NULL if none */
    const cm_raft_entry *entries;
    size_t n_entries;
    const cm_raft_entry *committed;
    size_t n_committed;
    const cm_raft_msg *msgs_early;
    size_t n_msgs_early;
    const cm_raft_msg *msgs;
    size_t n_msgs;
    const cm_raft_read_state *reads;
    size_t n_reads;
} cm_raft_ready;

/* Whether cm_raft_ready_get would hand out anything. */
bool cm_raft_has_ready(cm_raft *r);
/* Fills rd. Returns 0, or CM_E_BUSY if the previous ready has not been advanced. */
int cm_raft_ready_get(cm_raft *r, cm_raft_ready *rd);
/* The application has handled rd (persisted, sent, applied). */
int cm_raft_advance(cm_raft *r, const cm_raft_ready *rd);

/* ---- inspection (allowed at any time) ------------------------------------------------------- */

typedef struct cm_raft_status {
    uint64_t id;
    uint64_t term;
    uint64_t vote;
    uint64_t lead;
    cm_raft_role role;
    uint64_t commit;
    uint64_t applied;
    uint64_t first_index;
    uint64_t last_index;
    uint64_t stable_index;     /* last index known durable on this node */
    uint64_t term_start_index; /* leader: index of its first entry of this term */
    uint64_t transferee;
    bool conf_pending; /* a configuration entry is in the log but not committed */
    cm_raft_conf conf; /* the configuration in force (latest in the log) */
} cm_raft_status;

void cm_raft_status_get(const cm_raft *r, cm_raft_status *st);
/* Term of the entry at index in this node's log (unstable tail included). Returns 0, CM_E_NOT_FOUND
 * (compacted) or CM_E_UNAVAILABLE (beyond the last index). */
int cm_raft_term_at(const cm_raft *r, uint64_t index, uint64_t *term);

typedef enum cm_raft_progress_state {
    CM_RAFT_PR_PROBE = 0,
    CM_RAFT_PR_REPLICATE = 1,
    CM_RAFT_PR_SNAPSHOT = 2,
} cm_raft_progress_state;

typedef struct cm_raft_progress_info {
    uint64_t match;
    uint64_t next;
    cm_raft_progress_state state;
    bool learner;
    bool recent_active;
} cm_raft_progress_info;

/* Leader's view of a member's replication; CM_E_NOT_FOUND if not leader or not a member. */
int cm_raft_progress_of(const cm_raft *r, uint64_t id, cm_raft_progress_info *out);

/* Counters for coverage reports; monotonic over the group's life. */
typedef struct cm_raft_stats {
    uint64_t elections;      /* campaigns started (pre-vote rounds not counted) */
    uint64_t pre_votes;      /* pre-vote rounds started */
    uint64_t became_leader;  /* times this node won */
    uint64_t snapshots_sent; /* snapshot messages produced */
    uint64_t snapshots_restored;
    uint64_t reads_confirmed; /* ReadIndex states released */
    uint64_t lease_reads;     /* lease reads granted */
    uint64_t lease_refused;   /* lease reads refused */
    uint64_t transfers;       /* TimeoutNow messages sent */
    uint64_t msgs_rejected;   /* messages refused as corrupt */
} cm_raft_stats;

void cm_raft_stats_get(const cm_raft *r, cm_raft_stats *st);

/* Lease duration on this node's clock, derived from cfg (docs/raft.md, "leases"):
 * (election_tick - 1) * tick_ns * (1 - 2 * drift). Exposed for tests and the simulator. */
uint64_t cm_raft_lease_ns(const cm_raft_config *cfg);

#endif
