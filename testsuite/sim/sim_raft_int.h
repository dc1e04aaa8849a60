/*
 * sim_raft_int.h — private structures of the Raft simulator, shared by its files:
 *   sim_raft.c         parameters, the step loop, trace and violations
 *   sim_raft_node.c    nodes: disk model, ready handling, state machine, network
 *   sim_raft_fault.c   faults: partitions, crashes, pauses, membership changes, transfers
 *   sim_raft_client.c  clients and their operations, the liveness probe
 *   sim_raft_check.c   the checkers
 */
#ifndef SIM_RAFT_INT_H
#define SIM_RAFT_INT_H

#include "sim_raft.h"

#include "cm_raft.h"
#include "cm_raft_memstore.h"
#include "sim_lin.h"
#include "sim_rng.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define SIM_NODES_MAX 12
/* Keys rotate: ACTIVE_KEYS are in use at a time and the set moves on every EPOCH_NS, so each
 * key's history is short (fast to check) yet densely contended (stale reads show). */
#define SIM_KEYS        512
#define ACTIVE_KEYS     4
#define EPOCH_NS        (120 * MS)
#define PROBE_KEY       SIM_KEYS /* the liveness probe's key, outside the checked histories */
#define SIM_KEY_OPS_MAX 60       /* per-key history size, below SIM_LIN_OPS_MAX */
#define SIM_CLIENTS     6 /* the first half follow leader hints; the rest have stale routes */

#define MS               1000000ull
#define STEP_NS          (1 * MS)
#define TICK_NS          (10 * MS)
#define ELECTION_TICK    10
#define WRITE_TIMEOUT_NS (250 * MS)
#define READ_TIMEOUT_NS  (100 * MS)
#define LIVENESS_NS      (4000 * MS) /* after healing: 400 ticks, 40 election timeouts */
#define SETTLE_NS        (200 * MS)
#define CHAOS_MS_DEFAULT 4000

/* Coverage minimums: a run below any of them fails. */
#define MIN_WRITES_OK  20
#define MIN_READS_OK   10
#define MIN_LEADERS    1
#define MIN_CRASHES    1
#define MIN_PARTITIONS 1

enum { OP_WRITE, OP_READ_INDEX, OP_READ_LEASE };
enum { ST_PENDING, ST_OK, ST_FAILED, ST_UNKNOWN };
enum { PHASE_CHAOS, PHASE_HEAL, PHASE_DONE };

typedef enum ev_type {
    EV_SEND,
    EV_DELIVER,
    EV_DROP,
    EV_DUP,
    EV_ROLE,
    EV_COMMIT,
    EV_APPLY,
    EV_CRASH,
    EV_TORN,
    EV_RESTART,
    EV_PARTITION,
    EV_HEAL,
    EV_CONF,
    EV_TRANSFER,
    EV_CALL,
    EV_RETURN,
    EV_SNAP_TAKE,
    EV_SNAP_INSTALL,
    EV_PHASE,
    EV_STORM,
    EV_ADD_NODE,
    EV_STOP,
    EV_PAUSE,
} ev_type;

typedef struct sim_op {
    uint64_t id;
    uint8_t kind;
    uint16_t key;
    uint8_t status;
    bool probe;
    uint64_t value; /* write: the value (= id); read: the value returned */
    uint64_t call;
    uint64_t ret;
    uint64_t node;
    uint64_t deadline;
    uint64_t index; /* write: proposal index */
} sim_op;

typedef struct sim_sm {
    uint64_t applied;
    uint64_t chain;
    uint64_t values[SIM_KEYS + 1];
    cm_raft_conf conf;
} sim_sm;

typedef struct pending_w {
    uint64_t op;
    uint64_t index;
    uint64_t term;
} pending_w;

typedef struct pending_r {
    uint64_t op;
    uint64_t index;
    bool have_index;
} pending_r;

typedef struct sim_node {
    uint64_t id;
    bool exists;
    bool up;
    bool stopped; /* removed from the group and shut down for good */
    bool torn_next;
    bool fresh;
    cm_raft *r;
    cm_raft_memstore disk;
    int64_t skew_ppm;
    uint64_t clock_off_ns;
    uint64_t next_tick_local;
    uint64_t restart_at;
    uint64_t paused_until; /* a stopped process (GC pause, SIGSTOP): no ticks, no messages */
    sim_sm sm;
    pending_w *pw;
    size_t n_pw, cap_pw;
    pending_r *pr;
    size_t n_pr, cap_pr;
    uint64_t *queued; /* client ops waiting for a paused node */
    size_t n_queued, cap_queued;
    cm_raft_role last_role;
    uint64_t last_term;
    uint64_t last_lead;
    uint64_t seen_commit;
    cm_raft_stats acc; /* stats of earlier incarnations */
} sim_node;

typedef struct net_msg {
    uint64_t at;
    uint64_t seq;
    uint64_t from;
    uint64_t to;
    uint8_t type;
    cm_buf bytes;
} net_msg;

typedef struct commit_rec {
    uint64_t term;    /* 0: not committed yet */
    uint64_t by_term; /* term of the leader that first declared it */
} commit_rec;

typedef struct chain_rec {
    uint64_t chain;
    bool set;
} chain_rec;

typedef struct log_rec {
    uint64_t index;
    uint64_t term;
    uint64_t h;
    uint64_t prev;
    bool used;
} log_rec;

typedef struct sim_client {
    uint64_t next_at;
    uint64_t op; /* index+1 into ops, 0 when idle */
    uint64_t guess;
    bool done;
    bool stale;
} sim_client;

typedef struct sim {
    sim_raft_opts o;
    sim_raft_result *res;
    sim_rng rng;
    uint64_t now;
    uint64_t event_seq;
    uint64_t hash;
    bool failed;
    int phase;
    int n_base; /* voters at start and the target size */
    cm_raft_config tmpl;
    sim_node nodes[SIM_NODES_MAX + 1];
    uint64_t next_id;
    uint64_t pending_add;
    bool cut[SIM_NODES_MAX + 1][SIM_NODES_MAX + 1];
    /* network */
    net_msg *heap;
    size_t n_heap, cap_heap;
    uint64_t msg_seq;
    uint32_t drop_ppm, dup_ppm, long_delay_ppm;
    uint32_t storm_drop_ppm;
    uint64_t storm_until;
    cm_arena arena;
    /* fault schedule */
    uint64_t heal_at, next_fault_at, next_conf_at, next_transfer_at;
    uint64_t forced_crash_at, forced_part_at;
    uint64_t fault_mean_ms;
    uint64_t conf_mean_ms;     /* membership changes; a pending one suspends the lease */
    uint64_t transfer_mean_ms; /* leadership transfers; each drops the lease for the term */
    uint32_t torn_ppm;
    uint32_t flaky_leader_ppm; /* chance to cut a new leader off moments after it won */
    uint64_t isolate_at;
    uint64_t isolate_who;
    uint64_t unisolate_at; /* flaky isolations heal by themselves */
    /* snapshots */
    uint64_t snap_every, snap_keep;
    /* checkers */
    uint64_t *leader_of_term;
    size_t n_lot;
    commit_rec *committed;
    size_t n_committed;
    uint64_t max_committed;
    chain_rec *chain_at;
    size_t n_chain;
    log_rec *logmap;
    size_t cap_logmap, n_logmap;
    cm_raft_conf g_conf;
    uint64_t g_conf_index;
    /* clients */
    sim_op *ops;
    size_t n_ops, cap_ops;
    uint32_t key_ops[SIM_KEYS];
    sim_client clients[SIM_CLIENTS];
    /* liveness */
    uint64_t probe_op;
    bool probe_done;
    uint64_t settle_until;
} sim;

/* ---- small helpers ------------------------------------------------------------------------ */

static inline void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL) {
        fprintf(stderr, "sim: out of memory\n");
        abort();
    }
    return q;
}

#define VEC_PUSH(arr, n, cap, val)                                                                 \
    do {                                                                                           \
        if ((n) == (cap)) {                                                                        \
            (cap) = (cap) ? (cap)*2 : 16;                                                          \
            (arr) = xrealloc((arr), (cap) * sizeof(*(arr)));                                       \
        }                                                                                          \
        (arr)[(n)++] = (val);                                                                      \
    } while (0)

/* Grows a zero-initialized vector so that index `need` is valid. */
static inline void *vec_ensure(void *p, size_t *n, size_t need, size_t elem)
{
    if (need < *n) {
        return p;
    }
    size_t nn = *n ? *n : 64;
    while (nn <= need) {
        nn *= 2;
    }
    p = xrealloc(p, nn * elem);
    memset((char *)p + *n * elem, 0, (nn - *n) * elem);
    *n = nn;
    return p;
}

static inline uint64_t hash_bytes(cm_slice s, uint64_t seed)
{
    uint64_t h = 1469598103934665603ull ^ seed;
    for (size_t i = 0; i < s.len; i++) {
        h ^= s.ptr[i];
        h *= 1099511628211ull;
    }
    return h;
}

static inline uint64_t local_ns(const sim *S, const sim_node *n)
{
    int64_t skew = (int64_t)S->now / 1000 * n->skew_ppm / 1000;
    return n->clock_off_ns + (uint64_t)((int64_t)S->now + skew);
}

static inline int quorum_of(const cm_raft_conf *c)
{
    return c->n_voters / 2 + 1;
}

static inline bool in_conf(const cm_raft_conf *c, uint64_t id)
{
    return cm_raft_conf_is_voter(c, id) || cm_raft_conf_is_learner(c, id);
}

void sr_ev(sim *S, ev_type t, uint64_t a, uint64_t b, uint64_t c, uint64_t d);
void sr_violate(sim *S, const char *check, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
net_msg sr_heap_pop(sim *S);
void sr_log_record(sim *S, uint64_t node, uint64_t index, uint64_t term, uint64_t h, uint64_t prev);
uint64_t sr_entry_hash(const cm_raft_entry *e);
commit_rec *sr_commit_at(sim *S, uint64_t index);
void sr_check_node(sim *S, sim_node *n);
sim_op *sr_op_get(sim *S, uint64_t id);
void sr_op_finish(sim *S, sim_op *op, int status, uint64_t value);
void sr_serve_reads(sim *S, sim_node *n);
void sr_resolve_writes_at(sim *S, sim_node *n, uint64_t index, uint64_t term);
void sr_resolve_writes_upto(sim *S, sim_node *n, uint64_t upto);
void sr_node_create(sim *S, uint64_t id, const cm_raft_conf *bootstrap);
void sr_acc_stats(sim_node *n);
void sr_node_crash(sim *S, sim_node *n, bool torn);
void sr_node_restart(sim *S, sim_node *n);
void sr_process_node(sim *S, sim_node *n);
bool sr_paused(const sim *S, const sim_node *n);
bool sr_deliver(sim *S, net_msg *x);
sim_node *sr_find_leader(sim *S);
sim_node *sr_random_up(sim *S, bool prefer_leader);
uint64_t sr_exp_ms(sim *S, uint64_t mean_ms);
void sr_chaos_step(sim *S);
void sr_begin_heal(sim *S);
void sr_restarts_due(sim *S);
void sr_check_lease(sim *S, sim_node *n);
void sr_resume_queued(sim *S);
void sr_clients_step(sim *S);
void sr_liveness_step(sim *S);
void sr_check_linearizable(sim *S);
void sr_check_coverage(sim *S);

#endif
