/*
 * cm_raft_int.h — private structures of the Raft core, shared by its source files only.
 *
 *   cm_raft_log.c       the log: stable part in the injected storage, unstable tail in memory
 *   cm_raft_progress.c  per-follower replication progress, in-flight window, quorum arithmetic
 *   cm_raft_conf.c      configurations, conf-change encoding, log-time configuration tracking
 *   cm_raft.c           roles, elections, message dispatch, ticks
 *   cm_raft_leader.c    replication, commit, heartbeats, ReadIndex, lease, transfer
 *   cm_raft_ready.c     ready / advance
 *   cm_raft_msg.c       wire encoding of messages
 */
#ifndef CM_RAFT_INT_H
#define CM_RAFT_INT_H

#include "cm_raft.h"

#include "cm_assert.h"
#include "cm_log.h"

/* ---- log ----------------------------------------------------------------------------------- */

typedef struct raft_unstable {
    cm_raft_snapshot *snap; /* owned with its data, or NULL */
    cm_raft_entry *ents;    /* owned, each entry's data malloc'ed */
    size_t n;
    size_t cap;
    uint64_t offset; /* index of ents[0] */
} raft_unstable;

typedef struct raft_log {
    const cm_raft_storage_ops *ops;
    void *ctx;
    raft_unstable u;
    uint64_t committed;
    uint64_t applied;
} raft_log;

int raft_log_init(raft_log *l, const cm_raft_storage_ops *ops, void *ctx);
void raft_log_fini(raft_log *l);
uint64_t raft_log_first_index(const raft_log *l);
uint64_t raft_log_last_index(const raft_log *l);
/* 0, CM_E_NOT_FOUND (compacted) or CM_E_UNAVAILABLE (past the end). */
int raft_log_term(const raft_log *l, uint64_t index, uint64_t *term);
/* Term or 0 when unknown (compacted / past the end). */
uint64_t raft_log_term_or0(const raft_log *l, uint64_t index);
uint64_t raft_log_last_term(const raft_log *l);
bool raft_log_match_term(const raft_log *l, uint64_t index, uint64_t term);
bool raft_log_up_to_date(const raft_log *l, uint64_t last_index, uint64_t last_term);
/* Last index durable on this node (everything below the unstable tail). */
uint64_t raft_log_stable_index(const raft_log *l);
/* Appends copies of ents (contiguous) to the unstable tail, truncating the log from
 * ents[0].index. Returns 0 or CM_E_NOMEM. */
int raft_log_append(raft_log *l, const cm_raft_entry *ents, size_t n);
/* First index among ents whose term differs from the log's (or that lies past the end); 0 when
 * every entry is already present. */
uint64_t raft_log_find_conflict(const raft_log *l, const cm_raft_entry *ents, size_t n);
/* Largest index <= index whose term is <= term (the probe optimization of the Raft thesis §5.3,
 * as etcd does it); also returns that entry's term. */
uint64_t raft_log_find_conflict_by_term(const raft_log *l, uint64_t index, uint64_t term,
                                        uint64_t *term_out);
/* Entries [lo, hi) up to max_bytes (at least one) into arena memory; data is copied. */
int raft_log_slice(const raft_log *l, uint64_t lo, uint64_t hi, uint64_t max_bytes, cm_arena *arena,
                   cm_raft_entry **out, size_t *n_out);
/* Installs a snapshot received from a leader as the unstable snapshot (copied). */
int raft_log_restore(raft_log *l, const cm_raft_snapshot *s);
/* Marks entries up to index (with that term) and the unstable snapshot as persisted. */
void raft_log_stable_to(raft_log *l, uint64_t index, uint64_t term);
void raft_log_stable_snap_to(raft_log *l, uint64_t index);

/* ---- progress ------------------------------------------------------------------------------ */

typedef struct raft_inflights {
    uint64_t *idx; /* ring of last indexes of in-flight appends; allocated on first use */
    uint32_t start;
    uint32_t count;
    uint32_t cap;
} raft_inflights;

typedef enum raft_vote_state {
    RAFT_VOTE_NONE = 0,
    RAFT_VOTE_GRANTED = 1,
    RAFT_VOTE_REJECTED = 2,
} raft_vote_state;

typedef struct raft_progress {
    uint64_t id;
    uint64_t match;
    uint64_t next;
    uint8_t state; /* cm_raft_progress_state */
    bool learner;
    bool paused; /* probe sent, waiting for an answer */
    bool recent_active;
    uint8_t vote; /* raft_vote_state, candidates only */
    uint64_t pending_snapshot;
    uint32_t state_ticks; /* ticks spent in the snapshot state */
    uint64_t ack_seq;     /* highest heartbeat round acknowledged in this term */
    uint64_t ack_time_ns; /* send time of that round on the leader's clock */
    raft_inflights infl;
} raft_progress;

void raft_pr_reset(raft_progress *p, uint64_t next, uint32_t inflight_cap);
void raft_pr_fini(raft_progress *p);
void raft_pr_become_probe(raft_progress *p);
void raft_pr_become_replicate(raft_progress *p);
void raft_pr_become_snapshot(raft_progress *p, uint64_t snap_index);
/* Accepts a match index from an append response; false if it was stale. */
bool raft_pr_maybe_update(raft_progress *p, uint64_t n);
/* Handles a rejection of index `rejected` with probe hint; false if the rejection is stale. */
bool raft_pr_maybe_decr_to(raft_progress *p, uint64_t rejected, uint64_t match_hint);
bool raft_pr_is_paused(const raft_progress *p);
/* In-flight window: record a sent append that ends at last, free acknowledged ones. */
int raft_infl_add(raft_inflights *f, uint64_t last);
void raft_infl_free_le(raft_inflights *f, uint64_t index);
void raft_infl_free_first(raft_inflights *f);
bool raft_infl_full(const raft_inflights *f);
/* k-th largest of v[0..n) (k counted from 1), sorting v in place; the quorum value when
 * k = n/2 + 1. */
uint64_t raft_kth_largest(uint64_t *v, size_t n, size_t k);

/* ---- the group ----------------------------------------------------------------------------- */

typedef struct raft_pending_read {
    uint64_t ctx;
    uint64_t index;
    uint64_t seq; /* heartbeat round that must be acknowledged by a quorum */
} raft_pending_read;

struct cm_raft {
    cm_raft_config cfg;
    uint64_t id;
    uint64_t term;
    uint64_t vote;
    uint64_t lead;
    cm_raft_role role;
    raft_log log;

    /* Configurations (log-time semantics): conf is the latest in the log, at conf_index (0 when
     * it comes from the snapshot); conf_prev is the one before it, valid if conf_prev_ok. A new
     * change is only proposed once conf_index is committed, so a truncation can revert at most
     * one configuration — a second revert would mean a committed entry was truncated. */
    cm_raft_conf conf;
    uint64_t conf_index;
    cm_raft_conf conf_prev;
    bool conf_prev_ok;

    raft_progress prs[CM_RAFT_MEMBERS_MAX];
    size_t n_prs;

    uint32_t election_elapsed;
    uint32_t heartbeat_elapsed;
    uint32_t randomized_timeout;
    /* After a restart the node keeps the promise it may have made to a leader before the crash:
     * no vote for another node until one election timeout has passed (docs/raft.md, leases). */
    bool restart_quiet;

    /* Leader state. */
    uint64_t term_start_index;
    uint64_t transferee;
    uint32_t transfer_elapsed;
    bool transfer_sent; /* TimeoutNow sent for the current transfer (once only) */
    bool lease_dropped; /* for the rest of this term (a TimeoutNow may be in flight) */
    uint64_t lease_floor_ns;
    uint64_t hb_seq;
    bool need_bcast; /* proposals appended since the last broadcast */
    bool need_round; /* ReadIndex requests wait for a new heartbeat round */
    raft_pending_read *reads;
    size_t n_reads;
    size_t cap_reads;

    /* Output accumulated since the last advance. Message arrays (entries, snapshots) live in
     * arena, which is freed at advance. */
    cm_arena arena;
    cm_raft_msg *msgs;
    size_t n_msgs;
    size_t cap_msgs;
    cm_raft_msg *msgs_early;
    size_t n_msgs_early;
    size_t cap_msgs_early;
    cm_raft_read_state *rstates;
    size_t n_rstates;
    size_t cap_rstates;

    /* Ready bookkeeping. */
    cm_raft_hard_state prev_hs;
    bool ready_out;
    uint64_t rd_last_index;
    uint64_t rd_last_term;
    uint64_t rd_snap_index;
    uint64_t rd_applied_to;
    cm_raft_hard_state rd_hs;
    int deferred_err; /* an allocation failed while producing output */

    cm_raft_stats stats;
};

/* cm_raft.c */
void raft_become_follower(cm_raft *r, uint64_t term, uint64_t lead);
void raft_campaign(cm_raft *r, bool pre, bool force);
raft_progress *raft_pr_get(cm_raft *r, uint64_t id);
bool raft_is_voter(const cm_raft *r, uint64_t id);
bool raft_promotable(const cm_raft *r);
/* Queues a message; early ones may leave before the ready is persisted. */
void raft_send(cm_raft *r, cm_raft_msg *m);
uint64_t raft_now_ns(cm_raft *r);
void raft_set_commit(cm_raft *r, uint64_t index);

/* cm_raft_msg.c: the checks both the decoder and cm_raft_step apply to a message. */
int raft_msg_validate(const cm_raft_msg *m, cm_err *err);

/* cm_raft_conf.c */
/* Rebuilds the progress array from conf, keeping existing entries. */
int raft_conf_sync_progress(cm_raft *r);
/* Log-time configuration tracking: entries were appended (after truncation from first). */
int raft_conf_on_append(cm_raft *r, const cm_raft_entry *ents, size_t n);
/* The log was truncated so that index `from` and above are gone. */
int raft_conf_on_truncate(cm_raft *r, uint64_t from);
/* A snapshot replaced the log. */
int raft_conf_on_restore(cm_raft *r, const cm_raft_conf *c);
/* Loads conf from storage at start: the snapshot's configuration plus every conf entry after. */
int raft_conf_load(cm_raft *r, const cm_raft_conf *snap_conf, cm_err *err);
size_t raft_quorum(const cm_raft *r);

/* cm_raft_leader.c */
void raft_become_leader(cm_raft *r);
void raft_leader_step(cm_raft *r, const cm_raft_msg *m);
void raft_leader_tick(cm_raft *r);
bool raft_maybe_commit(cm_raft *r);
void raft_bcast_append(cm_raft *r);
void raft_bcast_heartbeat(cm_raft *r);
bool raft_send_append(cm_raft *r, uint64_t to, bool send_if_empty);
void raft_fail_reads(cm_raft *r);
void raft_abort_transfer(cm_raft *r);
void raft_flush(cm_raft *r);
/* Leader appends entries of its term (assigning term and index) to its own log. */
int raft_leader_append(cm_raft *r, cm_raft_entry *ents, size_t n);
void raft_after_self_stable(cm_raft *r);

#endif
