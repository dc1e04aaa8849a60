/*
 * pd_sched.h — PD's scheduler: replica repair, issued as operators in region heartbeat replies
 * (DESIGN.md §6, docs/pd.md "Scheduling").
 *
 * Two layers, both pure (no clock, no socket, no storage; time and id allocation come in):
 *
 * - pd_sched_decide(): from one region report and the stores' states, the one step that region
 *   needs now, or none. Rules, in order:
 *     1. a learner on a Down/Tombstone store                     -> remove it
 *     2. a learner elsewhere: while healthy voters < max-replicas, promote it once it is not
 *        pending (caught up), else wait; with enough healthy voters it is surplus -> remove it
 *     3. healthy voters < max-replicas (a peer on a Down store is not healthy)
 *                                                                -> add a learner on the Up store
 *        holding no peer of the region with the fewest regions (+ adds in flight to it);
 *        none eligible -> nothing
 *     4. a voter on a Down/Tombstone store (its replacement is in) -> remove it
 *     5. more voters than max-replicas -> remove one, never the leader (a peer on a store that is
 *        not Up first, then the busiest store)
 *   So a Down peer is replaced before it is removed: the region never has fewer healthy voters
 *   than it had.
 *
 * - pd_sched: one operator in flight per region. A heartbeat of a region with an operator in
 *   flight re-sends it until the report shows it done (the learner is in, the peer is a voter, the
 *   peer is gone, the leader moved) or it is obsolete (the region's epoch moved without it) or
 *   it timed out; then the next step is decided at once. At most PD_SCHED_INFLIGHT_MAX operators
 *   are in flight (each may ship a snapshot).
 *
 * Thread-safe: pd_sched has its own lock (heartbeats arrive on many RPC workers).
 */
#ifndef PD_SCHED_H
#define PD_SCHED_H

#include "cm_err.h"
#include "pd_region.h"
#include "pd_store.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* Operators in flight at once, across all regions: each add ships a snapshot, so this bounds
 * the repair traffic a Down store triggers (PD's replica-schedule-limit plays the same role);
 * it also keeps the linear searches of the in-flight table cheap. */
#define PD_SCHED_INFLIGHT_MAX 256

/* pdpb.OperatorKind values. */
typedef enum pd_op_kind {
    PD_OP_NONE = 0,
    PD_OP_ADD_LEARNER = 1,
    PD_OP_PROMOTE = 2,
    PD_OP_REMOVE = 3,
    PD_OP_TRANSFER_LEADER = 4,
} pd_op_kind;
#define PD_OP_KIND_COUNT 5

const char *pd_op_kind_name(pd_op_kind k);

typedef struct pd_operator {
    uint64_t region_id;
    uint64_t conf_ver; /* the epoch it was decided against */
    uint64_t version;
    pd_op_kind kind;
    pd_peer peer; /* add: the new peer (id allocated by PD); others: the peer acted on */
} pd_operator;

/* A store as the scheduler sees it. */
typedef struct pd_sched_store {
    uint64_t id;
    pd_store_live live;
    uint32_t region_count;  /* from its last heartbeat */
    uint32_t adds_inflight; /* filled by pd_sched: learners being added there */
} pd_sched_store;

/* One region report and what PD knows around it (all borrowed for the call). */
typedef struct pd_sched_view {
    const pd_region *region;          /* the accepted report, leader included */
    const uint64_t *pending_peer_ids; /* peers the leader sees behind */
    size_t n_pending;
    const pd_sched_store *stores; /* any order; a store not listed counts as Up */
    size_t n_stores;
    uint32_t max_replicas;
} pd_sched_view;

/* The step region v->region needs now. Returns the kind (PD_OP_NONE: nothing) and fills *op;
 * for PD_OP_ADD_LEARNER op->peer.id is 0 (the caller allocates it). */
pd_op_kind pd_sched_decide(const pd_sched_view *v, pd_operator *op);

/* Whether the report r shows op done. */
int pd_sched_op_done(const pd_operator *op, const pd_region *r);

typedef struct pd_sched_options {
    uint32_t max_replicas;
    uint64_t op_timeout_ms;
    /* Allocates one fresh id (peers). Returns 0 or an error. */
    int (*alloc_id_cb)(void *user, uint64_t *id, cm_err *err);
    void *alloc_user;
} pd_sched_options;

typedef struct pd_sched_stats {
    uint64_t issued[PD_OP_KIND_COUNT]; /* new operators by kind */
    uint64_t resent;                   /* replies re-carrying an operator in flight */
    uint64_t done;
    uint64_t timeouts;
    uint64_t obsolete;  /* dropped: the region's epoch moved without it */
    uint64_t throttled; /* decisions deferred: PD_SCHED_INFLIGHT_MAX reached */
} pd_sched_stats;

typedef struct pd_sched_entry {
    pd_operator op;
    uint64_t deadline_ms;
} pd_sched_entry;

typedef struct pd_sched {
    pthread_mutex_t mu;
    pd_sched_options o;
    pd_sched_entry inflight[PD_SCHED_INFLIGHT_MAX];
    size_t n_inflight;
    pd_sched_stats stats;
} pd_sched;

void pd_sched_init(pd_sched *s, const pd_sched_options *o);
void pd_sched_fini(pd_sched *s);

typedef enum pd_sched_result {
    PD_SCHED_NOTHING = 0,
    PD_SCHED_NEW = 1,    /* a new operator (count it as issued) */
    PD_SCHED_RESEND = 2, /* the operator already in flight */
} pd_sched_result;

/* Handles one accepted region report at now_ms (v->max_replicas is ignored: the options' value
 * rules; v->stores is copied before adds_inflight is filled). Returns a pd_sched_result (>= 0)
 * with *op filled for NEW / RESEND, or a negative error (id allocation failed, out of memory). */
int pd_sched_region(pd_sched *s, const pd_sched_view *v, uint64_t now_ms, pd_operator *op,
                    cm_err *err);

/* Drops operators past their deadline (regions that stopped reporting). */
void pd_sched_expire(pd_sched *s, uint64_t now_ms);

void pd_sched_get_stats(pd_sched *s, pd_sched_stats *out);
size_t pd_sched_inflight(pd_sched *s);

#endif
