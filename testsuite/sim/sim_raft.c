/*
 * sim_raft.c — one Raft group under deterministic simulation (see sim_raft.h).
 *
 * Each node is a cm_raft over a cm_raft_memstore that models the node's disk: the memstore holds
 * only what was synced. A ready is persisted op by op (snapshot, entries, hard state) and synced
 * before its non-early messages leave; a "torn" crash persists a random prefix of those ops and
 * loses the rest, as a crash between write and fsync does. The state machine is a small
 * key-value map whose state is also folded into a hash chain over the applied entries, so two
 * nodes that applied different entries anywhere in their history disagree on the chain.
 *
 * Checkers (all on every event unless noted):
 *   election    at most one leader per term
 *   completeness a new leader holds every entry committed in an earlier term
 *   commit      an index, once committed, never commits with another term
 *   durability  a leader's commit index is durable on a quorum of its configuration
 *   logmatch    two persisted entries with the same index and term have the same data and the
 *               same predecessor term (which by induction makes the logs equal up to there)
 *   apply       the same entry is applied at the same index everywhere (hash chain, snapshots
 *               included)
 *   step/codec  no correct peer's message is ever rejected as corrupt
 *   linearizable (end of run) every key's history of writes, ReadIndex and lease reads
 *   liveness    (after healing) a leader commits a probe write that reaches every live voter
 *   coverage    (end of run) the run did a minimum of work
 */
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
#define SIM_KEYS        256
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
#define CHAOS_MS_DEFAULT 2500

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

static const char *const ev_names[] = {
    "send",      "deliver",      "drop",      "dup",   "role",     "commit",   "apply", "crash",
    "torn",      "restart",      "partition", "heal",  "conf",     "transfer", "call",  "return",
    "snap-take", "snap-install", "phase",     "storm", "add-node", "stop",     "pause",
};

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

static void *xrealloc(void *p, size_t n)
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
static void *vec_ensure(void *p, size_t *n, size_t need, size_t elem)
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

static void ev(sim *S, ev_type t, uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
    uint64_t h = sim_mix(S->hash, S->now);
    h = sim_mix(h, (uint64_t)t);
    h = sim_mix(h, a);
    h = sim_mix(h, b);
    h = sim_mix(h, c);
    S->hash = sim_mix(h, d);
    if (S->o.trace != NULL) {
        fprintf(S->o.trace, "%10.3f %-12s %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
                (double)S->now / (double)MS, ev_names[t], a, b, c, d);
    }
}

static void violate(sim *S, const char *check, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void violate(sim *S, const char *check, const char *fmt, ...)
{
    if (S->failed) {
        return;
    }
    S->failed = true;
    S->res->ok = false;
    snprintf(S->res->check, sizeof(S->res->check), "%s", check);
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(S->res->why, sizeof(S->res->why), "t=%.3fms: ", (double)S->now / (double)MS);
    vsnprintf(S->res->why + n, sizeof(S->res->why) - (size_t)n, fmt, ap);
    va_end(ap);
    if (S->o.trace != NULL) {
        fprintf(S->o.trace, "VIOLATION %s: %s\n", S->res->check, S->res->why);
    }
}

static uint64_t hash_bytes(cm_slice s, uint64_t seed)
{
    uint64_t h = 1469598103934665603ull ^ seed;
    for (size_t i = 0; i < s.len; i++) {
        h ^= s.ptr[i];
        h *= 1099511628211ull;
    }
    return h;
}

static uint64_t local_ns(const sim *S, const sim_node *n)
{
    int64_t skew = (int64_t)S->now / 1000 * n->skew_ppm / 1000;
    return n->clock_off_ns + (uint64_t)((int64_t)S->now + skew);
}

static uint64_t raft_rand_cb(void *ctx)
{
    sim *S = ctx;
    return sim_rng_next(&S->rng);
}

/* The clock callback needs both the node and the simulator. */
typedef struct clock_ctx {
    sim *S;
    sim_node *n;
} clock_ctx;
static clock_ctx clock_ctxs[SIM_NODES_MAX + 1];

static uint64_t raft_clock_cb(void *ctx)
{
    clock_ctx *c = ctx;
    return local_ns(c->S, c->n);
}

static int quorum_of(const cm_raft_conf *c)
{
    return c->n_voters / 2 + 1;
}

static bool in_conf(const cm_raft_conf *c, uint64_t id)
{
    return cm_raft_conf_is_voter(c, id) || cm_raft_conf_is_learner(c, id);
}

/* ---- state machine ------------------------------------------------------------------------- */

static void sm_encode(const sim_sm *sm, cm_buf *b)
{
    cm_buf_append_u64le(b, sm->applied);
    cm_buf_append_u64le(b, sm->chain);
    for (int k = 0; k <= SIM_KEYS; k++) {
        cm_buf_append_u64le(b, sm->values[k]);
    }
}

static int sm_decode(sim_sm *sm, cm_slice data, const cm_raft_conf *conf)
{
    cm_reader r;
    cm_reader_init(&r, data.ptr, data.len);
    memset(sm, 0, sizeof(*sm));
    int rc = cm_reader_u64le(&r, &sm->applied);
    rc = rc ? rc : cm_reader_u64le(&r, &sm->chain);
    for (int k = 0; rc == 0 && k <= SIM_KEYS; k++) {
        rc = cm_reader_u64le(&r, &sm->values[k]);
    }
    sm->conf = *conf;
    return rc;
}

/* ---- network ------------------------------------------------------------------------------- */

static bool msg_less(const net_msg *a, const net_msg *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void heap_push(sim *S, net_msg m)
{
    VEC_PUSH(S->heap, S->n_heap, S->cap_heap, m);
    size_t i = S->n_heap - 1;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!msg_less(&S->heap[i], &S->heap[p])) {
            break;
        }
        net_msg t = S->heap[i];
        S->heap[i] = S->heap[p];
        S->heap[p] = t;
        i = p;
    }
}

static net_msg heap_pop(sim *S)
{
    net_msg top = S->heap[0];
    S->heap[0] = S->heap[--S->n_heap];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < S->n_heap && msg_less(&S->heap[l], &S->heap[m])) {
            m = l;
        }
        if (r < S->n_heap && msg_less(&S->heap[r], &S->heap[m])) {
            m = r;
        }
        if (m == i) {
            break;
        }
        net_msg t = S->heap[i];
        S->heap[i] = S->heap[m];
        S->heap[m] = t;
        i = m;
    }
    return top;
}

static uint64_t net_delay(sim *S)
{
    uint64_t r = sim_rng_below(&S->rng, 1000000);
    if (S->phase == PHASE_CHAOS && r < S->long_delay_ppm) {
        return sim_rng_range(&S->rng, 40, 250) * MS;
    }
    if (r < S->long_delay_ppm + 80000) {
        return sim_rng_range(&S->rng, 5, 30) * MS;
    }
    return sim_rng_range(&S->rng, 1, 4) * MS;
}

static void net_send(sim *S, const cm_raft_msg *m)
{
    S->res->cov.msgs_sent++;
    ev(S, EV_SEND, m->from, m->to, m->type, m->term);
    uint32_t drop = S->phase == PHASE_CHAOS ? S->drop_ppm : 0;
    if (S->phase == PHASE_CHAOS && S->now < S->storm_until) {
        drop = S->storm_drop_ppm;
    }
    if (sim_rng_chance(&S->rng, drop)) {
        S->res->cov.msgs_dropped++;
        ev(S, EV_DROP, m->from, m->to, m->type, 0);
        return;
    }
    int copies = 1;
    if (S->phase == PHASE_CHAOS && sim_rng_chance(&S->rng, S->dup_ppm)) {
        copies = 2;
        S->res->cov.msgs_duplicated++;
        ev(S, EV_DUP, m->from, m->to, m->type, 0);
    }
    for (int c = 0; c < copies; c++) {
        net_msg x;
        memset(&x, 0, sizeof(x));
        x.at = S->now + net_delay(S);
        x.seq = ++S->msg_seq;
        x.from = m->from;
        x.to = m->to;
        x.type = m->type;
        cm_buf_init(&x.bytes);
        if (cm_raft_msg_encode(m, &x.bytes) != 0) {
            violate(S, "codec", "encoding a %s failed", cm_raft_msg_type_name(m->type));
            cm_buf_fini(&x.bytes);
            return;
        }
        heap_push(S, x);
    }
}

/* ---- checkers -------------------------------------------------------------------------------- */

static void log_record(sim *S, uint64_t node, uint64_t index, uint64_t term, uint64_t h,
                       uint64_t prev)
{
    if (S->n_logmap * 2 >= S->cap_logmap) {
        size_t ncap = S->cap_logmap ? S->cap_logmap * 2 : 1024;
        log_rec *m = calloc(ncap, sizeof(*m));
        if (m == NULL) {
            abort();
        }
        for (size_t i = 0; i < S->cap_logmap; i++) {
            if (S->logmap[i].used) {
                size_t j = sim_mix(S->logmap[i].index, S->logmap[i].term) & (ncap - 1);
                while (m[j].used) {
                    j = (j + 1) & (ncap - 1);
                }
                m[j] = S->logmap[i];
            }
        }
        free(S->logmap);
        S->logmap = m;
        S->cap_logmap = ncap;
    }
    size_t j = sim_mix(index, term) & (S->cap_logmap - 1);
    while (S->logmap[j].used) {
        log_rec *e = &S->logmap[j];
        if (e->index == index && e->term == term) {
            if (e->h != h || e->prev != prev) {
                violate(S, "logmatch",
                        "node %" PRIu64 " persisted index %" PRIu64 " term %" PRIu64
                        " with different %s than another node",
                        node, index, term, e->h != h ? "data" : "predecessor term");
            }
            return;
        }
        j = (j + 1) & (S->cap_logmap - 1);
    }
    S->logmap[j] = (log_rec){index, term, h, prev, true};
    S->n_logmap++;
}

static uint64_t entry_hash(const cm_raft_entry *e)
{
    return hash_bytes(e->data, e->type);
}

static commit_rec *commit_at(sim *S, uint64_t index)
{
    S->committed = vec_ensure(S->committed, &S->n_committed, index, sizeof(*S->committed));
    return &S->committed[index];
}

static void check_leader_completeness(sim *S, sim_node *n, const cm_raft_status *st)
{
    uint64_t lo = st->first_index > 1 ? st->first_index : 1;
    for (uint64_t i = lo; i <= S->max_committed && i < S->n_committed; i++) {
        const commit_rec *c = &S->committed[i];
        if (c->term == 0 || c->by_term >= st->term) {
            continue;
        }
        uint64_t t = 0;
        int rc = cm_raft_term_at(n->r, i, &t);
        if (rc == CM_E_NOT_FOUND) {
            continue; /* inside its snapshot: the apply chain covers it */
        }
        if (rc != 0 || t != c->term) {
            violate(S, "completeness",
                    "node %" PRIu64 " became leader of term %" PRIu64 " without index %" PRIu64
                    " (term %" PRIu64 ", committed in term %" PRIu64 "); it has term %" PRIu64,
                    n->id, st->term, i, c->term, c->by_term, rc == 0 ? t : 0);
            return;
        }
    }
}

static void check_durable_quorum(sim *S, sim_node *n, const cm_raft_status *st)
{
    uint64_t c = st->commit;
    uint64_t t = commit_at(S, c)->term;
    int have = 0;
    for (int i = 0; i < st->conf.n_voters; i++) {
        uint64_t v = st->conf.voters[i];
        if (v > SIM_NODES_MAX || !S->nodes[v].exists) {
            continue;
        }
        const cm_raft_memstore *d = &S->nodes[v].disk;
        if (d->base_index >= c || cm_raft_memstore_term(d, c) == t) {
            have++;
        }
    }
    if (have < quorum_of(&st->conf)) {
        violate(S, "durability",
                "leader %" PRIu64 " committed index %" PRIu64 " (term %" PRIu64
                ") but only %d of %d voters have it on disk",
                n->id, c, t, have, st->conf.n_voters);
    }
}

/* Last index and term of a node's log: its raft log when running, else its disk. */
static void node_last(sim *S, const sim_node *x, bool durable, uint64_t *li, uint64_t *lt)
{
    if (!durable && x->up) {
        cm_raft_status st;
        cm_raft_status_get(x->r, &st);
        *li = st.last_index;
        *lt = 0;
        cm_raft_term_at(x->r, st.last_index, lt);
        return;
    }
    *li = cm_raft_memstore_last_index(&x->disk);
    *lt = cm_raft_memstore_term(&x->disk, *li);
    (void)S;
}

static bool node_has(const sim_node *x, uint64_t index, uint64_t term)
{
    if (x->up) {
        uint64_t t = 0;
        int rc = cm_raft_term_at(x->r, index, &t);
        return rc == CM_E_NOT_FOUND || (rc == 0 && t == term);
    }
    return x->disk.base_index >= index || cm_raft_memstore_term(&x->disk, index) == term;
}

/*
 * Commit safety, checked the moment a leader advances its commit index to c: no voter lacking
 * entry (c, t) could still win an election, because a majority of voters hold logs (on disk)
 * more up to date than its own. Correct Raft guarantees it: that majority is the one that
 * acknowledged c. Committing an earlier term's entry by counting replicas (Figure 8) breaks it
 * whenever some node holds a conflicting entry of a later term.
 */
static void check_commit_safety(sim *S, sim_node *l, const cm_raft_status *st)
{
    uint64_t c = st->commit;
    uint64_t t = commit_at(S, c)->term;
    for (int i = 0; i < st->conf.n_voters && !S->failed; i++) {
        uint64_t xid = st->conf.voters[i];
        if (xid > SIM_NODES_MAX || !S->nodes[xid].exists || S->nodes[xid].stopped) {
            continue;
        }
        const sim_node *x = &S->nodes[xid];
        if (node_has(x, c, t)) {
            continue;
        }
        uint64_t xi, xt;
        node_last(S, x, false, &xi, &xt);
        int grants = 0;
        for (int j = 0; j < st->conf.n_voters; j++) {
            uint64_t vid = st->conf.voters[j];
            if (vid > SIM_NODES_MAX || !S->nodes[vid].exists) {
                continue;
            }
            uint64_t vi, vt;
            node_last(S, &S->nodes[vid], true, &vi, &vt);
            if (vid == xid || xt > vt || (xt == vt && xi >= vi)) {
                grants++;
            }
        }
        if (grants >= quorum_of(&st->conf)) {
            violate(S, "commit-safety",
                    "leader %" PRIu64 " (term %" PRIu64 ") committed index %" PRIu64
                    " (term %" PRIu64 ") while voter %" PRIu64 " without it (last %" PRIu64
                    "/term %" PRIu64 ") could still collect %d of %d votes",
                    l->id, st->term, c, t, xid, xi, xt, grants, st->conf.n_voters);
        }
    }
}

/* After anything that may have changed node n's raft state. */
static void check_node(sim *S, sim_node *n)
{
    if (!n->up || S->failed) {
        return;
    }
    cm_raft_status st;
    cm_raft_status_get(n->r, &st);
    if (st.role != n->last_role || st.term != n->last_term || st.lead != n->last_lead) {
        ev(S, EV_ROLE, n->id, st.role, st.term, st.lead);
    }
    if (st.term > S->res->cov.max_term) {
        S->res->cov.max_term = st.term;
    }
    if (st.role == CM_RAFT_LEADER && (n->last_role != CM_RAFT_LEADER || n->last_term != st.term)) {
        S->leader_of_term =
            vec_ensure(S->leader_of_term, &S->n_lot, st.term, sizeof(*S->leader_of_term));
        uint64_t prev = S->leader_of_term[st.term];
        if (prev != 0 && prev != n->id) {
            violate(S, "election",
                    "nodes %" PRIu64 " and %" PRIu64 " both leaders of term %" PRIu64, prev, n->id,
                    st.term);
            return;
        }
        S->leader_of_term[st.term] = n->id;
        S->res->cov.leader_changes++;
        if (S->phase == PHASE_CHAOS && S->isolate_at == 0 &&
            sim_rng_chance(&S->rng, S->flaky_leader_ppm)) {
            /* Leaders cut off before their first entries spread are what Figure 8 is made of. */
            S->isolate_at = S->now + sim_rng_range(&S->rng, 0, 15) * MS;
            S->isolate_who = n->id;
        }
        check_leader_completeness(S, n, &st);
    }
    n->last_role = st.role;
    n->last_term = st.term;
    n->last_lead = st.lead;
    if (st.commit > n->seen_commit) {
        for (uint64_t i = n->seen_commit + 1; i <= st.commit && !S->failed; i++) {
            uint64_t t;
            if (cm_raft_term_at(n->r, i, &t) != 0) {
                continue; /* compacted: reached through a snapshot */
            }
            commit_rec *c = commit_at(S, i);
            if (c->term == 0) {
                c->term = t;
                c->by_term = st.term;
                if (i > S->max_committed) {
                    S->max_committed = i;
                }
            } else if (c->term != t) {
                violate(S, "commit",
                        "index %" PRIu64 " committed with term %" PRIu64 " (in term %" PRIu64
                        "), node %" PRIu64 " commits it with term %" PRIu64,
                        i, c->term, c->by_term, n->id, t);
            }
        }
        ev(S, EV_COMMIT, n->id, st.commit, st.term, st.role);
        if (st.role == CM_RAFT_LEADER && !S->failed) {
            check_durable_quorum(S, n, &st);
            check_commit_safety(S, n, &st);
        }
        n->seen_commit = st.commit;
    }
}

/* ---- clients' operations ----------------------------------------------------------------------
 */

static sim_op *op_get(sim *S, uint64_t id)
{
    return (id >= 1 && id <= S->n_ops) ? &S->ops[id - 1] : NULL;
}

static void op_finish(sim *S, sim_op *op, int status, uint64_t value)
{
    if (op->status != ST_PENDING) {
        return;
    }
    op->status = (uint8_t)status;
    if (status == ST_OK) {
        op->ret = ++S->event_seq;
        if (op->kind != OP_WRITE) {
            op->value = value;
        }
    } else {
        op->ret = SIM_LIN_PENDING;
    }
    if (status == ST_FAILED && !op->probe && op->key < SIM_KEYS) {
        S->key_ops[op->key]--; /* no effect: not part of the history */
    }
    sim_raft_coverage *c = &S->res->cov;
    if (op->kind == OP_WRITE) {
        c->writes_ok += status == ST_OK && !op->probe;
        c->writes_failed += status == ST_FAILED;
        c->writes_unknown += status == ST_UNKNOWN;
    } else if (status == ST_OK) {
        if (op->kind == OP_READ_LEASE) {
            c->lease_reads_ok++;
        } else {
            c->reads_ok++;
        }
    } else {
        c->reads_refused++;
    }
    ev(S, EV_RETURN, op->id, status, op->kind == OP_WRITE ? op->index : value, op->node);
}

static void serve_reads(sim *S, sim_node *n)
{
    size_t k = 0;
    for (size_t i = 0; i < n->n_pr; i++) {
        pending_r *p = &n->pr[i];
        sim_op *op = op_get(S, p->op);
        if (op == NULL || op->status != ST_PENDING) {
            continue;
        }
        if (p->have_index && n->sm.applied >= p->index) {
            op_finish(S, op, ST_OK, n->sm.values[op->key]);
            continue;
        }
        n->pr[k++] = *p;
    }
    n->n_pr = k;
}

static void resolve_writes_at(sim *S, sim_node *n, uint64_t index, uint64_t term)
{
    size_t k = 0;
    for (size_t i = 0; i < n->n_pw; i++) {
        pending_w *p = &n->pw[i];
        sim_op *op = op_get(S, p->op);
        if (op == NULL || op->status != ST_PENDING) {
            continue;
        }
        if (p->index == index) {
            op_finish(S, op, p->term == term ? ST_OK : ST_FAILED, 0);
            continue;
        }
        n->pw[k++] = *p;
    }
    n->n_pw = k;
}

/* A snapshot jumped over pending proposals: their fate is in the committed log. */
static void resolve_writes_upto(sim *S, sim_node *n, uint64_t upto)
{
    size_t k = 0;
    for (size_t i = 0; i < n->n_pw; i++) {
        pending_w *p = &n->pw[i];
        sim_op *op = op_get(S, p->op);
        if (op == NULL || op->status != ST_PENDING) {
            continue;
        }
        if (p->index <= upto) {
            uint64_t t = p->index < S->n_committed ? S->committed[p->index].term : 0;
            op_finish(S, op, t == 0 ? ST_UNKNOWN : (t == p->term ? ST_OK : ST_FAILED), 0);
            continue;
        }
        n->pw[k++] = *p;
    }
    n->n_pw = k;
}

/* ---- nodes --------------------------------------------------------------------------------- */

static void start_raft(sim *S, sim_node *n, bool fresh)
{
    cm_raft_config c = S->tmpl;
    c.id = n->id;
    c.storage = &cm_raft_memstore_ops;
    c.storage_ctx = &n->disk;
    c.rand_cb = raft_rand_cb;
    c.rand_ctx = S;
    clock_ctxs[n->id].S = S;
    clock_ctxs[n->id].n = n;
    c.clock_ns_cb = raft_clock_cb;
    c.clock_ctx = &clock_ctxs[n->id];
    c.applied = n->sm.applied;
    c.fresh_start = fresh;
    cm_err err;
    if (cm_raft_new(&c, &n->r, &err) != 0) {
        violate(S, "restart", "node %" PRIu64 " cannot start: %s", n->id, err.msg);
        return;
    }
    n->up = true;
    n->next_tick_local = local_ns(S, n) + sim_rng_below(&S->rng, TICK_NS);
    cm_raft_status st;
    cm_raft_status_get(n->r, &st);
    n->last_role = st.role;
    n->last_term = st.term;
    n->last_lead = st.lead;
    n->seen_commit = st.commit;
}

static void node_create(sim *S, uint64_t id, const cm_raft_conf *bootstrap)
{
    sim_node *n = &S->nodes[id];
    memset(n, 0, sizeof(*n));
    n->id = id;
    n->exists = true;
    cm_raft_memstore_init(&n->disk);
    int64_t drift = (int64_t)S->tmpl.drift_ppm;
    /* Clock rates anywhere within the drift bound, the extremes more often than not. */
    uint64_t pick = sim_rng_below(&S->rng, 4);
    n->skew_ppm = pick == 0   ? drift
                  : pick == 1 ? -drift
                              : (int64_t)sim_rng_below(&S->rng, (uint64_t)(2 * drift + 1)) - drift;
    n->clock_off_ns = sim_rng_range(&S->rng, 1, 1000) * 1000 * MS;
    if (bootstrap != NULL) {
        memset(&n->sm, 0, sizeof(n->sm));
        n->sm.applied = 1;
        n->sm.conf = *bootstrap;
        cm_buf data = CM_BUF_INIT;
        sm_encode(&n->sm, &data);
        cm_raft_snapshot s;
        memset(&s, 0, sizeof(s));
        s.meta.index = 1;
        s.meta.term = 1;
        s.meta.conf = *bootstrap;
        s.data = cm_buf_slice(&data);
        cm_raft_memstore_apply_snapshot(&n->disk, &s);
        cm_buf_fini(&data);
        cm_raft_hard_state hs = {1, 0, 1};
        cm_raft_memstore_set_hard_state(&n->disk, &hs);
    }
    S->chain_at = vec_ensure(S->chain_at, &S->n_chain, 1, sizeof(*S->chain_at));
    S->chain_at[1].set = true;
    S->chain_at[1].chain = 0;
    n->fresh = true;
    start_raft(S, n, true);
}

static void acc_stats(sim_node *n)
{
    cm_raft_stats st;
    cm_raft_stats_get(n->r, &st);
    n->acc.elections += st.elections;
    n->acc.pre_votes += st.pre_votes;
    n->acc.snapshots_sent += st.snapshots_sent;
}

static void node_crash(sim *S, sim_node *n, bool torn)
{
    if (!n->up) {
        return;
    }
    acc_stats(n);
    cm_raft_free(n->r);
    n->r = NULL;
    n->up = false;
    n->torn_next = false;
    n->paused_until = 0;
    for (size_t i = 0; i < n->n_pw; i++) {
        sim_op *op = op_get(S, n->pw[i].op);
        if (op != NULL) {
            op_finish(S, op, ST_UNKNOWN, 0);
        }
    }
    n->n_pw = 0;
    for (size_t i = 0; i < n->n_pr; i++) {
        sim_op *op = op_get(S, n->pr[i].op);
        if (op != NULL) {
            op_finish(S, op, ST_FAILED, 0);
        }
    }
    n->n_pr = 0;
    for (size_t i = 0; i < n->n_queued; i++) {
        sim_op *op = op_get(S, n->queued[i]);
        if (op != NULL) {
            op_finish(S, op, ST_FAILED, 0); /* never reached the process */
        }
    }
    n->n_queued = 0;
    memset(&n->sm, 0, sizeof(n->sm));
    n->restart_at = S->now + sim_rng_range(&S->rng, 10, 400) * MS;
    S->res->cov.crashes++;
    ev(S, torn ? EV_TORN : EV_CRASH, n->id, n->restart_at / MS, 0, 0);
}

static void node_restart(sim *S, sim_node *n)
{
    /* The state machine comes back from the last durable snapshot; raft replays the rest. */
    memset(&n->sm, 0, sizeof(n->sm));
    if (n->disk.snap.index > 0) {
        if (sm_decode(&n->sm, cm_buf_slice(&n->disk.snap_data), &n->disk.snap.conf) != 0 ||
            n->sm.applied != n->disk.snap.index) {
            violate(S, "restart", "node %" PRIu64 ": unreadable snapshot", n->id);
            return;
        }
    }
    start_raft(S, n, false);
    ev(S, EV_RESTART, n->id, n->sm.applied, n->last_term, 0);
}

static void sm_apply(sim *S, sim_node *n, const cm_raft_entry *e)
{
    if (e->index != n->sm.applied + 1) {
        violate(S, "apply", "node %" PRIu64 " applied index %" PRIu64 " after %" PRIu64, n->id,
                e->index, n->sm.applied);
        return;
    }
    n->sm.chain = sim_mix(sim_mix(n->sm.chain, e->index), sim_mix(e->term, entry_hash(e)));
    S->chain_at = vec_ensure(S->chain_at, &S->n_chain, e->index, sizeof(*S->chain_at));
    chain_rec *c = &S->chain_at[e->index];
    bool first = !c->set;
    if (c->set && c->chain != n->sm.chain) {
        violate(S, "apply",
                "node %" PRIu64 " applied index %" PRIu64 " (term %" PRIu64
                ") on top of a different history than another node",
                n->id, e->index, e->term);
        return;
    }
    c->set = true;
    c->chain = n->sm.chain;
    if (e->type == CM_RAFT_ENTRY_CONF) {
        cm_raft_conf_change cc;
        if (cm_raft_conf_change_decode(e->data, &cc) == 0) {
            cm_raft_conf_apply(&n->sm.conf, &cc);
        }
        if (first && e->index > S->g_conf_index) {
            S->g_conf = n->sm.conf;
            S->g_conf_index = e->index;
            S->res->cov.conf_changes++;
        }
    } else if (e->data.len == 18) {
        cm_reader r;
        cm_reader_init(&r, e->data.ptr, e->data.len);
        uint64_t id, value;
        uint16_t key;
        cm_reader_u64le(&r, &id);
        cm_reader_u16le(&r, &key);
        cm_reader_u64le(&r, &value);
        if (key <= SIM_KEYS) {
            n->sm.values[key] = value;
        }
    }
    n->sm.applied = e->index;
    ev(S, EV_APPLY, n->id, e->index, e->term, e->type);
    resolve_writes_at(S, n, e->index, e->term);
}

static void sm_install(sim *S, sim_node *n, const cm_raft_snapshot *s)
{
    sim_sm sm;
    if (sm_decode(&sm, s->data, &s->meta.conf) != 0 || sm.applied != s->meta.index) {
        violate(S, "apply", "node %" PRIu64 " received an unreadable snapshot", n->id);
        return;
    }
    S->chain_at = vec_ensure(S->chain_at, &S->n_chain, sm.applied, sizeof(*S->chain_at));
    chain_rec *c = &S->chain_at[sm.applied];
    if (c->set && c->chain != sm.chain) {
        violate(S, "apply",
                "node %" PRIu64 " installed a snapshot at %" PRIu64
                " whose history differs from what others applied",
                n->id, sm.applied);
        return;
    }
    c->set = true;
    c->chain = sm.chain;
    n->sm = sm;
    S->res->cov.snapshots_installed++;
    ev(S, EV_SNAP_INSTALL, n->id, s->meta.index, s->meta.term, 0);
    resolve_writes_upto(S, n, s->meta.index);
}

static void persist_entries(sim *S, sim_node *n, const cm_raft_entry *ents, size_t k)
{
    if (k == 0) {
        return;
    }
    if (cm_raft_memstore_append(&n->disk, ents, k) != 0) {
        violate(S, "persist", "node %" PRIu64 " could not append at %" PRIu64, n->id,
                ents[0].index);
        return;
    }
    for (size_t i = 0; i < k && !S->failed; i++) {
        const cm_raft_entry *e = &ents[i];
        if (e->index <= n->disk.base_index) {
            continue;
        }
        log_record(S, n->id, e->index, e->term, entry_hash(e),
                   cm_raft_memstore_term(&n->disk, e->index - 1));
    }
}

static void maybe_snapshot(sim *S, sim_node *n)
{
    if (n->sm.applied < n->disk.snap.index + S->snap_every || n->sm.applied <= 1 ||
        n->sm.applied > cm_raft_memstore_last_index(&n->disk)) {
        return;
    }
    cm_buf data = CM_BUF_INIT;
    sm_encode(&n->sm, &data);
    int rc =
        cm_raft_memstore_create_snapshot(&n->disk, n->sm.applied, &n->sm.conf, cm_buf_slice(&data));
    cm_buf_fini(&data);
    if (rc != 0) {
        violate(S, "persist", "node %" PRIu64 " could not snapshot at %" PRIu64, n->id,
                n->sm.applied);
        return;
    }
    uint64_t upto = n->sm.applied > S->snap_keep ? n->sm.applied - S->snap_keep : 0;
    if (upto > n->disk.base_index) {
        cm_raft_memstore_compact(&n->disk, upto);
    }
    S->res->cov.snapshots_taken++;
    ev(S, EV_SNAP_TAKE, n->id, n->sm.applied, n->disk.base_index, 0);
}

/* Handles one ready of node n. Returns false if the node crashed while doing so. */
static bool handle_ready(sim *S, sim_node *n)
{
    cm_raft_ready rd;
    if (cm_raft_ready_get(n->r, &rd) != 0) {
        violate(S, "ready", "node %" PRIu64 ": ready failed", n->id);
        return false;
    }
    /* 1. A leader's appends and heartbeats may leave before its own write. */
    for (size_t i = 0; i < rd.n_msgs_early; i++) {
        net_send(S, &rd.msgs_early[i]);
    }
    /* 2. Persist, then sync: term and vote, snapshot, entries, commit index — the order the
     * contract allows when a ready cannot be written atomically (docs/raft.md). A torn crash
     * keeps only a random prefix of those writes (what reached the disk before the power went). */
    const cm_raft_hard_state *old_hs = &n->disk.hs;
    bool tv = rd.hard_state_changed &&
              (rd.hard_state.term != old_hs->term || rd.hard_state.vote != old_hs->vote);
    bool cm = rd.hard_state_changed && rd.hard_state.commit != old_hs->commit;
    size_t units = (tv ? 1 : 0) + (rd.snapshot ? 1 : 0) + rd.n_entries + (cm ? 1 : 0);
    bool torn = n->torn_next && units > 0;
    size_t budget = torn ? (size_t)sim_rng_below(&S->rng, units + 1) : units;
    if (tv && budget > 0) {
        budget--;
        cm_raft_hard_state hs = n->disk.hs;
        hs.term = rd.hard_state.term;
        hs.vote = rd.hard_state.vote;
        cm_raft_memstore_set_hard_state(&n->disk, &hs);
    } else if (tv) {
        budget = 0;
    }
    if (rd.snapshot != NULL && budget > 0) {
        budget--;
        cm_raft_memstore_apply_snapshot(&n->disk, rd.snapshot);
        uint64_t idx = rd.snapshot->meta.index;
        commit_rec *c = commit_at(S, idx);
        if (c->term != 0 && c->term != rd.snapshot->meta.term) {
            violate(S, "commit",
                    "node %" PRIu64 " received a snapshot at %" PRIu64 " term %" PRIu64
                    " but that index committed with term %" PRIu64,
                    n->id, idx, rd.snapshot->meta.term, c->term);
        }
    } else if (rd.snapshot != NULL) {
        budget = 0; /* a prefix: nothing after the lost snapshot write */
    }
    size_t ek = budget < rd.n_entries ? budget : rd.n_entries;
    persist_entries(S, n, rd.entries, ek);
    budget -= ek;
    if (cm && ek == rd.n_entries && budget > 0) {
        cm_raft_hard_state hs = n->disk.hs;
        if (rd.hard_state.commit > hs.commit) {
            hs.commit = rd.hard_state.commit;
        }
        cm_raft_memstore_set_hard_state(&n->disk, &hs);
    }
    if (torn) {
        S->res->cov.torn_crashes++;
        node_crash(S, n, true);
        return false;
    }
    /* 3. Synced: the rest of the messages. */
    for (size_t i = 0; i < rd.n_msgs; i++) {
        net_send(S, &rd.msgs[i]);
    }
    /* 4. Apply. */
    if (rd.snapshot) {
        sm_install(S, n, rd.snapshot);
    }
    for (size_t i = 0; i < rd.n_committed && !S->failed; i++) {
        sm_apply(S, n, &rd.committed[i]);
    }
    /* 5. Reads. */
    for (size_t i = 0; i < rd.n_reads; i++) {
        const cm_raft_read_state *rs = &rd.reads[i];
        for (size_t j = 0; j < n->n_pr; j++) {
            if (n->pr[j].op == rs->ctx && !n->pr[j].have_index) {
                if (rs->status != 0) {
                    sim_op *op = op_get(S, rs->ctx);
                    if (op != NULL) {
                        op_finish(S, op, ST_FAILED, 0);
                    }
                } else {
                    n->pr[j].have_index = true;
                    n->pr[j].index = rs->index;
                }
            }
        }
    }
    serve_reads(S, n);
    if (cm_raft_advance(n->r, &rd) != 0) {
        violate(S, "ready", "node %" PRIu64 ": advance failed", n->id);
        return false;
    }
    check_node(S, n);
    maybe_snapshot(S, n);
    return true;
}

static void process_node(sim *S, sim_node *n)
{
    for (int i = 0; i < 16 && n->up && !S->failed && cm_raft_has_ready(n->r); i++) {
        if (!handle_ready(S, n)) {
            return;
        }
    }
}

static bool paused(const sim *S, const sim_node *n)
{
    return n->paused_until > S->now;
}

/* Returns false when the message was put back in the queue (its receiver is paused). */
static bool deliver(sim *S, net_msg *x)
{
    sim_node *n = x->to <= SIM_NODES_MAX ? &S->nodes[x->to] : NULL;
    if (n == NULL || !n->exists || !n->up || x->from > SIM_NODES_MAX || S->cut[x->from][x->to]) {
        S->res->cov.msgs_dropped++;
        ev(S, EV_DROP, x->from, x->to, x->type, 1);
        return true;
    }
    if (paused(S, n)) {
        /* The kernel buffers it; the process reads it a little after it resumes, so a request
         * that was already waiting may be served first. */
        x->at = n->paused_until + sim_rng_range(&S->rng, 1, 5) * MS;
        x->seq = ++S->msg_seq;
        heap_push(S, *x);
        return false;
    }
    cm_reader r;
    cm_reader_init(&r, x->bytes.ptr, x->bytes.len);
    cm_arena_reset(&S->arena);
    cm_raft_msg m;
    cm_err err;
    if (cm_raft_msg_decode(&r, &S->arena, &m, &err) != 0 || cm_reader_left(&r) != 0) {
        violate(S, "codec", "message from %" PRIu64 " to %" PRIu64 " does not decode: %s", x->from,
                x->to, err.msg);
        return true;
    }
    ev(S, EV_DELIVER, x->from, x->to, x->type, m.term);
    int rc = cm_raft_step(n->r, &m);
    if (rc != 0) {
        violate(S, "step", "node %" PRIu64 " rejected a %s from %" PRIu64 ": %s", n->id,
                cm_raft_msg_type_name(m.type), x->from, cm_err_name(rc));
        return true;
    }
    check_node(S, n);
    return true;
}

/* ---- faults ------------------------------------------------------------------------------- */

static sim_node *find_leader(sim *S)
{
    sim_node *best = NULL;
    uint64_t best_term = 0;
    for (uint64_t id = 1; id <= SIM_NODES_MAX; id++) {
        sim_node *n = &S->nodes[id];
        if (!n->exists || !n->up) {
            continue;
        }
        cm_raft_status st;
        cm_raft_status_get(n->r, &st);
        if (st.role == CM_RAFT_LEADER && st.term > best_term) {
            best = n;
            best_term = st.term;
        }
    }
    return best;
}

static size_t members(sim *S, uint64_t *ids)
{
    size_t k = 0;
    for (uint64_t id = 1; id <= SIM_NODES_MAX; id++) {
        if (S->nodes[id].exists && !S->nodes[id].stopped) {
            ids[k++] = id;
        }
    }
    return k;
}

static void heal_links(sim *S)
{
    memset(S->cut, 0, sizeof(S->cut));
}

static void cut_sides(sim *S, const bool *side, const uint64_t *ids, size_t k)
{
    for (size_t i = 0; i < k; i++) {
        for (size_t j = 0; j < k; j++) {
            if (side[i] != side[j]) {
                S->cut[ids[i]][ids[j]] = true;
            }
        }
    }
}

static void partition(sim *S)
{
    uint64_t ids[SIM_NODES_MAX];
    size_t k = members(S, ids);
    if (k < 2) {
        return;
    }
    heal_links(S);
    bool side[SIM_NODES_MAX] = {false};
    uint64_t kind = sim_rng_below(&S->rng, 5);
    if (kind == 3 && k < 4) {
        kind = 0;
    }
    switch (kind) {
    case 0: { /* random split */
        uint64_t mask = 1 + sim_rng_below(&S->rng, (1ull << k) - 2);
        for (size_t i = 0; i < k; i++) {
            side[i] = (mask >> i) & 1;
        }
        cut_sides(S, side, ids, k);
        break;
    }
    case 1: { /* isolate the leader */
        sim_node *l = find_leader(S);
        uint64_t who = l ? l->id : ids[sim_rng_below(&S->rng, k)];
        for (size_t i = 0; i < k; i++) {
            side[i] = ids[i] == who;
        }
        cut_sides(S, side, ids, k);
        break;
    }
    case 2: /* halves */
        for (size_t i = 0; i < k; i++) {
            side[i] = i < k / 2;
        }
        cut_sides(S, side, ids, k);
        break;
    case 3: { /* ring: each node reaches only its two neighbours */
        uint64_t perm[SIM_NODES_MAX];
        memcpy(perm, ids, k * sizeof(ids[0]));
        for (size_t i = k - 1; i > 0; i--) {
            size_t j = (size_t)sim_rng_below(&S->rng, i + 1);
            uint64_t t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        for (size_t i = 0; i < k; i++) {
            for (size_t j = 0; j < k; j++) {
                size_t d = i > j ? i - j : j - i;
                if (d != 0 && d != 1 && d != k - 1) {
                    S->cut[perm[i]][perm[j]] = true;
                }
            }
        }
        break;
    }
    default: { /* one-way: a can no longer reach b */
        uint64_t a = ids[sim_rng_below(&S->rng, k)], b = ids[sim_rng_below(&S->rng, k)];
        if (a != b) {
            S->cut[a][b] = true;
        }
        break;
    }
    }
    S->res->cov.partitions++;
    ev(S, EV_PARTITION, kind, k, 0, 0);
}

static sim_node *random_up(sim *S, bool prefer_leader)
{
    if (prefer_leader && sim_rng_below(&S->rng, 100) < 40) {
        sim_node *l = find_leader(S);
        if (l != NULL) {
            return l;
        }
    }
    uint64_t ids[SIM_NODES_MAX];
    size_t k = 0;
    for (uint64_t id = 1; id <= SIM_NODES_MAX; id++) {
        if (S->nodes[id].exists && S->nodes[id].up) {
            ids[k++] = id;
        }
    }
    return k ? &S->nodes[ids[sim_rng_below(&S->rng, k)]] : NULL;
}

static void inject_fault(sim *S)
{
    uint64_t r = sim_rng_below(&S->rng, 100);
    if (r < 28) {
        partition(S);
    } else if (r < 46) {
        heal_links(S);
        ev(S, EV_HEAL, 0, 0, 0, 0);
    } else if (r < 64) {
        sim_node *n = random_up(S, true);
        if (n != NULL) {
            node_crash(S, n, false);
        }
    } else if (r < 74) {
        sim_node *n = random_up(S, true);
        if (n != NULL) {
            n->torn_next = true;
        }
    } else if (r < 84) {
        /* Stop a process (the leader more often than not) for about an election timeout or
         * more: the classic hazard for leases, which must expire on the stopped node's clock. */
        sim_node *n = sim_rng_below(&S->rng, 100) < 80 ? find_leader(S) : NULL;
        uint64_t index;
        if (n != NULL && S->tmpl.lease_read && cm_raft_lease_read(n->r, &index) != 0 &&
            sim_rng_below(&S->rng, 2) == 0) {
            n = NULL; /* prefer a leader that holds its lease right now */
        }
        n = n != NULL ? n : random_up(S, false);
        if (n != NULL && !paused(S, n)) {
            uint64_t et = ELECTION_TICK * TICK_NS;
            n->paused_until = S->now + sim_rng_range(&S->rng, et / 3, 3 * et);
            S->res->cov.pauses++;
            ev(S, EV_PAUSE, n->id, n->paused_until / MS, 0, 0);
        }
    } else if (r < 90) {
        for (uint64_t id = 1; id <= SIM_NODES_MAX; id++) {
            sim_node *n = &S->nodes[id];
            if (n->exists && !n->up && !n->stopped) {
                n->restart_at = S->now;
                break;
            }
        }
    } else {
        S->storm_until = S->now + sim_rng_range(&S->rng, 20, 200) * MS;
        S->storm_drop_ppm = (uint32_t)sim_rng_range(&S->rng, 200000, 800000);
        ev(S, EV_STORM, S->storm_drop_ppm, S->storm_until / MS, 0, 0);
    }
}

static void try_conf_change(sim *S)
{
    sim_node *l = find_leader(S);
    if (l == NULL) {
        return;
    }
    cm_raft_status st;
    cm_raft_status_get(l->r, &st);
    if (st.conf_pending) {
        return;
    }
    cm_raft_conf_change cc = {0, 0};
    if (st.conf.n_learners > 0) {
        uint64_t who = st.conf.learners[0];
        cm_raft_progress_info pi;
        bool caught_up = cm_raft_progress_of(l->r, who, &pi) == 0 && pi.match + 5 >= st.commit;
        if (sim_rng_below(&S->rng, 10) == 0 || st.conf.n_voters > S->n_base) {
            cc = (cm_raft_conf_change){CM_RAFT_CONF_REMOVE, who};
        } else if (caught_up) {
            cc = (cm_raft_conf_change){CM_RAFT_CONF_ADD_VOTER, who};
        } else {
            return;
        }
    } else if (st.conf.n_voters > S->n_base) {
        uint64_t who = st.conf.voters[sim_rng_below(&S->rng, st.conf.n_voters)];
        cc = (cm_raft_conf_change){CM_RAFT_CONF_REMOVE, who};
    } else {
        uint64_t id = S->pending_add;
        if (id == 0) {
            if (S->next_id > SIM_NODES_MAX) {
                return;
            }
            id = S->next_id++;
            node_create(S, id, NULL);
            S->pending_add = id;
            ev(S, EV_ADD_NODE, id, 0, 0, 0);
        }
        cc = (cm_raft_conf_change){CM_RAFT_CONF_ADD_LEARNER, id};
    }
    uint64_t index, term;
    int rc = cm_raft_propose_conf(l->r, &cc, &index, &term);
    if (rc == 0 && cc.op == CM_RAFT_CONF_ADD_LEARNER) {
        S->pending_add = 0;
    }
    ev(S, EV_CONF, l->id, cc.op, cc.node, (uint64_t)-rc);
}

static void try_transfer(sim *S)
{
    sim_node *l = find_leader(S);
    if (l == NULL) {
        return;
    }
    cm_raft_status st;
    cm_raft_status_get(l->r, &st);
    if (st.conf.n_voters < 2) {
        return;
    }
    uint64_t to = st.conf.voters[sim_rng_below(&S->rng, st.conf.n_voters)];
    if (to == l->id) {
        return;
    }
    int rc = cm_raft_transfer_leader(l->r, to);
    S->res->cov.transfers++;
    ev(S, EV_TRANSFER, l->id, to, (uint64_t)-rc, 0);
}

static uint64_t exp_ms(sim *S, uint64_t mean_ms)
{
    /* A cheap exponential-ish draw: sum of two uniforms in [0, mean]. */
    return (sim_rng_below(&S->rng, mean_ms + 1) + sim_rng_below(&S->rng, mean_ms + 1)) * MS + MS;
}

static void isolate(sim *S, uint64_t who)
{
    heal_links(S);
    for (uint64_t o = 1; o <= SIM_NODES_MAX; o++) {
        if (o != who) {
            S->cut[who][o] = true;
            S->cut[o][who] = true;
        }
    }
    S->res->cov.partitions++;
    ev(S, EV_PARTITION, 5, who, 0, 0);
}

static void chaos_step(sim *S)
{
    if (S->isolate_at != 0 && S->now >= S->isolate_at) {
        isolate(S, S->isolate_who);
        S->isolate_at = 0;
        S->unisolate_at = S->now + sim_rng_range(&S->rng, 20, 200) * MS;
    }
    if (S->unisolate_at != 0 && S->now >= S->unisolate_at) {
        heal_links(S);
        S->unisolate_at = 0;
        ev(S, EV_HEAL, 1, 0, 0, 0);
    }
    if (S->now >= S->next_fault_at) {
        inject_fault(S);
        S->next_fault_at = S->now + exp_ms(S, S->fault_mean_ms);
    }
    if (S->now >= S->forced_crash_at && S->res->cov.crashes == 0) {
        sim_node *n = random_up(S, true);
        if (n != NULL) {
            node_crash(S, n, false);
        }
    }
    if (S->now >= S->forced_part_at && S->res->cov.partitions == 0) {
        partition(S);
    }
    if (S->now >= S->next_conf_at) {
        try_conf_change(S);
        S->next_conf_at = S->now + exp_ms(S, S->conf_mean_ms);
    }
    if (S->now >= S->next_transfer_at) {
        try_transfer(S);
        S->next_transfer_at = S->now + exp_ms(S, S->transfer_mean_ms);
    }
    for (uint64_t id = 1; id <= SIM_NODES_MAX; id++) {
        sim_node *n = &S->nodes[id];
        if (n->exists && n->up && !n->torn_next && sim_rng_chance(&S->rng, S->torn_ppm)) {
            n->torn_next = true;
        }
    }
}

static void begin_heal(sim *S)
{
    S->phase = PHASE_HEAL;
    heal_links(S);
    S->storm_until = 0;
    bool removed_may_stay = S->tmpl.pre_vote && S->tmpl.check_quorum;
    for (uint64_t id = 1; id <= SIM_NODES_MAX; id++) {
        sim_node *n = &S->nodes[id];
        if (!n->exists || n->stopped) {
            continue;
        }
        n->torn_next = false;
        n->paused_until = 0;
        bool member = in_conf(&S->g_conf, id);
        if (!member && !removed_may_stay) {
            /* A removed node that cannot be kept quiet by pre-vote and check-quorum would keep
             * disturbing the group; shut it down as an operator would. */
            if (n->up) {
                acc_stats(n);
                cm_raft_free(n->r);
                n->r = NULL;
                n->up = false;
            }
            n->stopped = true;
            ev(S, EV_STOP, id, 0, 0, 0);
            continue;
        }
        if (!n->up) {
            n->restart_at = S->now;
        }
    }
    ev(S, EV_PHASE, PHASE_HEAL, 0, 0, 0);
}

static void restarts_due(sim *S)
{
    for (uint64_t id = 1; id <= SIM_NODES_MAX && !S->failed; id++) {
        sim_node *n = &S->nodes[id];
        if (n->exists && !n->up && !n->stopped && S->now >= n->restart_at) {
            node_restart(S, n);
        }
    }
}

/* ---- clients -------------------------------------------------------------------------------- */

static sim_op *new_op(sim *S, uint8_t kind, uint16_t key, sim_node *n)
{
    sim_op op;
    memset(&op, 0, sizeof(op));
    op.id = S->n_ops + 1;
    op.kind = kind;
    op.key = key;
    op.status = ST_PENDING;
    op.call = ++S->event_seq;
    op.node = n->id;
    op.deadline = S->now + (kind == OP_WRITE ? WRITE_TIMEOUT_NS : READ_TIMEOUT_NS);
    VEC_PUSH(S->ops, S->n_ops, S->cap_ops, op);
    ev(S, EV_CALL, op.id, kind, key, n->id);
    return &S->ops[S->n_ops - 1];
}

static bool propose_write(sim *S, sim_op *op, sim_node *n)
{
    op->value = op->id;
    uint8_t data[18];
    for (int i = 0; i < 8; i++) {
        data[i] = (uint8_t)(op->id >> (8 * i));
        data[10 + i] = (uint8_t)(op->value >> (8 * i));
    }
    data[8] = (uint8_t)op->key;
    data[9] = (uint8_t)(op->key >> 8);
    uint64_t index, term;
    int rc = cm_raft_propose(n->r, cm_slice_make(data, sizeof(data)), &index, &term);
    if (rc != 0) {
        op_finish(S, op, ST_FAILED, 0);
        return false;
    }
    op->index = index;
    pending_w p = {op->id, index, term};
    VEC_PUSH(n->pw, n->n_pw, n->cap_pw, p);
    return true;
}

/*
 * The lease's own claim, checked the moment a lease read is granted: while a leader's lease
 * holds, no leader of a later term has been elected (the quorum that acknowledged the lease's
 * heartbeat round promised not to vote for one). Catches a lease that outlives that promise even
 * when no client happens to read a key that the new leader has changed.
 */
static void check_lease(sim *S, sim_node *n)
{
    cm_raft_status st;
    cm_raft_status_get(n->r, &st);
    for (uint64_t t = st.term + 1; t < S->n_lot; t++) {
        if (S->leader_of_term[t] != 0) {
            violate(S, "lease",
                    "node %" PRIu64 " granted a lease read in term %" PRIu64 " after node %" PRIu64
                    " was elected leader of term %" PRIu64,
                    n->id, st.term, S->leader_of_term[t], t);
            return;
        }
    }
}

/* Runs a client operation at node n (which may have stopped leading since it was chosen). */
static void exec_op(sim *S, sim_op *op, sim_node *n)
{
    cm_raft_status st;
    cm_raft_status_get(n->r, &st);
    if (st.role != CM_RAFT_LEADER) {
        op_finish(S, op, ST_FAILED, 0); /* NotLeader: nothing happened */
        return;
    }
    if (op->kind == OP_WRITE) {
        propose_write(S, op, n);
    } else if (op->kind == OP_READ_INDEX) {
        int rc = cm_raft_read_index(n->r, op->id);
        if (rc != 0) {
            op_finish(S, op, ST_FAILED, 0);
        } else {
            pending_r p = {op->id, 0, false};
            VEC_PUSH(n->pr, n->n_pr, n->cap_pr, p);
        }
    } else {
        uint64_t index;
        int rc = cm_raft_lease_read(n->r, &index);
        if (rc == 0) {
            check_lease(S, n);
        }
        if (rc != 0) {
            op_finish(S, op, ST_FAILED, 0);
        } else {
            pending_r p = {op->id, index, true};
            VEC_PUSH(n->pr, n->n_pr, n->cap_pr, p);
            serve_reads(S, n);
        }
    }
}

static void start_op(sim *S, sim_client *c)
{
    sim_node *n = c->guess ? &S->nodes[c->guess] : NULL;
    if (n == NULL || !n->exists || !n->up) {
        n = random_up(S, false);
    }
    if (n == NULL) {
        c->next_at = S->now + sim_rng_range(&S->rng, 1, 5) * MS;
        return;
    }
    bool stopped = paused(S, n);
    if (!stopped) {
        cm_raft_status st;
        cm_raft_status_get(n->r, &st);
        if (st.role != CM_RAFT_LEADER) {
            /* Follow the leader hint, as a client library does on NotLeader; a client with a
             * stale route keeps its route until told otherwise, and else picks at random. */
            c->guess = (st.lead != 0 && st.lead <= SIM_NODES_MAX) ? st.lead : 0;
            c->next_at = S->now + sim_rng_range(&S->rng, 1, 5) * MS;
            return;
        }
    } else if (!c->stale) {
        c->guess = 0; /* an unresponsive node: a careful client looks elsewhere */
        c->next_at = S->now + sim_rng_range(&S->rng, 1, 5) * MS;
        return;
    }
    c->guess = n->id;
    uint16_t keys[ACTIVE_KEYS];
    int nk = 0;
    uint64_t epoch = S->now / EPOCH_NS;
    for (int k = 0; k < ACTIVE_KEYS; k++) {
        uint16_t key = (uint16_t)((epoch * ACTIVE_KEYS + (uint64_t)k) % SIM_KEYS);
        if (S->key_ops[key] < SIM_KEY_OPS_MAX) {
            keys[nk++] = key;
        }
    }
    if (nk == 0) {
        c->next_at = S->now + 5 * MS;
        return;
    }
    uint16_t key = keys[sim_rng_below(&S->rng, (uint64_t)nk)];
    /* Clients with stale routes mostly read: a deposed leader must refuse them. */
    uint64_t r = sim_rng_below(&S->rng, 100);
    uint64_t w = c->stale ? 30 : 50;
    uint8_t kind = r < w                                        ? OP_WRITE
                   : (r < (100 + w) / 2 || !S->tmpl.lease_read) ? OP_READ_INDEX
                                                                : OP_READ_LEASE;
    S->key_ops[key]++;
    sim_op *op = new_op(S, kind, key, n);
    c->op = op->id;
    if (stopped) {
        /* The request waits in the stopped process's socket and is served when it resumes —
         * before it reads the raft messages that queued up meanwhile. */
        VEC_PUSH(n->queued, n->n_queued, n->cap_queued, op->id);
        return;
    }
    exec_op(S, op, n);
}

/* Nodes whose pause ended serve the requests that waited for them. */
static void resume_queued(sim *S)
{
    for (uint64_t id = 1; id <= SIM_NODES_MAX && !S->failed; id++) {
        sim_node *n = &S->nodes[id];
        if (!n->exists || !n->up || paused(S, n) || n->n_queued == 0) {
            continue;
        }
        for (size_t i = 0; i < n->n_queued; i++) {
            sim_op *op = op_get(S, n->queued[i]);
            if (op != NULL && op->status == ST_PENDING) {
                exec_op(S, op, n);
            }
        }
        n->n_queued = 0;
    }
}

static void drop_pending_op(sim *S, sim_op *op)
{
    if (op->node > SIM_NODES_MAX) {
        return;
    }
    sim_node *n = &S->nodes[op->node];
    for (size_t i = 0; i < n->n_pw; i++) {
        if (n->pw[i].op == op->id) {
            n->pw[i] = n->pw[--n->n_pw];
            break;
        }
    }
    for (size_t i = 0; i < n->n_pr; i++) {
        if (n->pr[i].op == op->id) {
            n->pr[i] = n->pr[--n->n_pr];
            break;
        }
    }
    for (size_t i = 0; i < n->n_queued; i++) {
        if (n->queued[i] == op->id) {
            n->queued[i] = n->queued[--n->n_queued];
            break;
        }
    }
}

static void clients_step(sim *S)
{
    for (int i = 0; i < SIM_CLIENTS; i++) {
        sim_client *c = &S->clients[i];
        if (c->done) {
            continue;
        }
        if (c->op != 0) {
            sim_op *op = op_get(S, c->op);
            if (op->status == ST_PENDING && S->now >= op->deadline) {
                /* The client gives up: a write's outcome is now unknown; a read has no effect. */
                drop_pending_op(S, op);
                op_finish(S, op, op->kind == OP_WRITE ? ST_UNKNOWN : ST_FAILED, 0);
            }
            if (op->status == ST_PENDING) {
                continue;
            }
            c->op = 0;
            c->next_at = S->now + sim_rng_range(&S->rng, 0, 8) * MS;
        }
        if (S->now >= c->next_at) {
            start_op(S, c);
        }
    }
}

/* ---- liveness ---------------------------------------------------------------------------------
 */

static void liveness_step(sim *S)
{
    if (S->probe_done) {
        const sim_raft_coverage *c = &S->res->cov;
        bool enough =
            c->writes_ok >= MIN_WRITES_OK && c->reads_ok + c->lease_reads_ok >= MIN_READS_OK;
        bool clients_done = true;
        for (int i = 0; i < SIM_CLIENTS; i++) {
            clients_done = clients_done && S->clients[i].done;
        }
        if (S->now >= S->settle_until && (enough || clients_done || S->o.no_min_coverage)) {
            S->phase = PHASE_DONE;
        } else if (S->now >= S->heal_at + LIVENESS_NS) {
            S->phase = PHASE_DONE; /* check_coverage reports what was missing */
        }
        return;
    }
    sim_op *probe = op_get(S, S->probe_op);
    if (probe == NULL || probe->status == ST_FAILED || probe->status == ST_UNKNOWN ||
        (probe->status == ST_PENDING && S->now >= probe->deadline)) {
        if (probe != NULL && probe->status == ST_PENDING) {
            drop_pending_op(S, probe);
            op_finish(S, probe, ST_UNKNOWN, 0);
        }
        sim_node *l = find_leader(S);
        if (l != NULL) {
            sim_op *op = new_op(S, OP_WRITE, PROBE_KEY, l);
            op->probe = true;
            S->probe_op = op->id;
            propose_write(S, op, l);
        }
    } else if (probe->status == ST_OK) {
        bool all = true;
        for (int i = 0; i < S->g_conf.n_voters; i++) {
            sim_node *n = &S->nodes[S->g_conf.voters[i]];
            if (!n->up || n->sm.applied < probe->index) {
                all = false;
            }
        }
        if (all) {
            S->probe_done = true;
            S->res->cov.liveness_ms = (S->now - S->heal_at) / MS;
            S->settle_until = S->now + SETTLE_NS;
        }
    }
    if (!S->probe_done && S->now >= S->heal_at + LIVENESS_NS) {
        sim_node *l = find_leader(S);
        char behind[128] = "";
        size_t off = 0;
        for (int i = 0; i < S->g_conf.n_voters && off < sizeof(behind) - 24; i++) {
            sim_node *n = &S->nodes[S->g_conf.voters[i]];
            off += (size_t)snprintf(behind + off, sizeof(behind) - off, " %" PRIu64 "@%" PRIu64,
                                    n->id, n->sm.applied);
        }
        violate(S, "liveness",
                "%.0f ms after healing: leader %" PRIu64 ", probe %s; voters applied:%s",
                (double)LIVENESS_NS / MS, l ? l->id : 0,
                probe == NULL            ? "never proposed"
                : probe->status == ST_OK ? "committed"
                                         : "pending",
                behind);
    }
}

/* ---- end of run ----------------------------------------------------------------------------- */

static void check_linearizable(sim *S)
{
    /* Bucket the history by key (counting sort), then check each key on its own. */
    size_t *start = calloc(SIM_KEYS + 2, sizeof(*start));
    size_t *order = calloc(S->n_ops + 1, sizeof(*order));
    if (start == NULL || order == NULL) {
        abort();
    }
    for (size_t i = 0; i < S->n_ops; i++) {
        start[S->ops[i].key + 1]++;
    }
    for (int k = 0; k <= SIM_KEYS; k++) {
        start[k + 1] += start[k];
    }
    size_t *fill = calloc(SIM_KEYS + 1, sizeof(*fill));
    if (fill == NULL) {
        abort();
    }
    for (size_t i = 0; i < S->n_ops; i++) {
        uint16_t k = S->ops[i].key;
        order[start[k] + fill[k]++] = i;
    }
    sim_lin_op hist[SIM_LIN_OPS_MAX];
    for (int k = 0; k < SIM_KEYS && !S->failed; k++) {
        size_t n = 0;
        for (size_t j = start[k]; j < start[k + 1]; j++) {
            const sim_op *op = &S->ops[order[j]];
            bool in = op->status == ST_OK || (op->kind == OP_WRITE && op->status == ST_UNKNOWN);
            if (!in || op->probe) {
                continue;
            }
            if (n == SIM_LIN_OPS_MAX) {
                violate(S, "linearizable", "key %d has more than %d operations", k,
                        SIM_LIN_OPS_MAX);
                break;
            }
            hist[n].call = op->call;
            hist[n].ret = op->status == ST_OK ? op->ret : SIM_LIN_PENDING;
            hist[n].write = op->kind == OP_WRITE;
            hist[n].value = op->value;
            hist[n].id = op->id;
            n++;
        }
        if (S->failed) {
            break;
        }
        char why[256];
        sim_lin_result lr = sim_lin_check(hist, n, 0, why, sizeof(why));
        if (lr != SIM_LIN_OK) {
            violate(S, "linearizable", "key %d (%zu ops): %s", k, n, why);
        }
    }
    free(start);
    free(order);
    free(fill);
}

static void check_coverage(sim *S)
{
    const sim_raft_coverage *c = &S->res->cov;
    uint64_t reads = c->reads_ok + c->lease_reads_ok;
    if (c->writes_ok < MIN_WRITES_OK || reads < MIN_READS_OK || c->leader_changes < MIN_LEADERS ||
        c->crashes < MIN_CRASHES || c->partitions < MIN_PARTITIONS) {
        violate(S, "coverage",
                "too little work: writes %" PRIu64 " (min %d), reads %" PRIu64
                " (min %d), leaders %" PRIu64 " (min %d), crashes %" PRIu64
                " (min %d), partitions %" PRIu64 " (min %d)",
                c->writes_ok, MIN_WRITES_OK, reads, MIN_READS_OK, c->leader_changes, MIN_LEADERS,
                c->crashes, MIN_CRASHES, c->partitions, MIN_PARTITIONS);
    }
}

static void sim_free(sim *S)
{
    for (uint64_t id = 1; id <= SIM_NODES_MAX; id++) {
        sim_node *n = &S->nodes[id];
        if (!n->exists) {
            continue;
        }
        if (n->r != NULL) {
            cm_raft_free(n->r);
        }
        cm_raft_memstore_fini(&n->disk);
        free(n->pw);
        free(n->pr);
        free(n->queued);
    }
    for (size_t i = 0; i < S->n_heap; i++) {
        cm_buf_fini(&S->heap[i].bytes);
    }
    free(S->heap);
    free(S->leader_of_term);
    free(S->committed);
    free(S->chain_at);
    free(S->logmap);
    free(S->ops);
    cm_arena_fini(&S->arena);
}

static void choose_params(sim *S)
{
    sim_rng *g = &S->rng;
    S->n_base = S->o.nodes ? S->o.nodes : (sim_rng_below(g, 2) ? 5 : 3);
    cm_raft_config *c = &S->tmpl;
    cm_raft_config_default(c);
    c->election_tick = ELECTION_TICK;
    c->heartbeat_tick = (uint32_t)sim_rng_range(g, 1, 3);
    c->pre_vote = sim_rng_below(g, 100) < 85;
    c->check_quorum = sim_rng_below(g, 100) < 85;
    c->lease_read = c->check_quorum;
    c->tick_ns = TICK_NS;
    static const uint32_t drifts[] = {0, 5000, 20000, 50000};
    c->drift_ppm = drifts[sim_rng_below(g, 4)];
    /* Small messages (one entry each) split an old leader's entries from the new leader's own,
     * which is where Figure 8 lives; large ones exercise batching. */
    static const uint64_t msg_bytes[] = {40, 40, 120, 600, 1u << 20};
    c->max_msg_bytes = msg_bytes[sim_rng_below(g, 5)];
    static const uint32_t windows[] = {1, 2, 4, 16, 256};
    c->max_inflight = windows[sim_rng_below(g, 5)];
    static const uint64_t apply_bytes[] = {0, 100, 4096};
    c->max_apply_bytes = apply_bytes[sim_rng_below(g, 3)];
    static const uint32_t drops[] = {0, 10000, 50000, 150000};
    S->drop_ppm = drops[sim_rng_below(g, 4)];
    static const uint32_t dups[] = {0, 10000, 50000};
    S->dup_ppm = dups[sim_rng_below(g, 3)];
    S->long_delay_ppm = (uint32_t)sim_rng_range(g, 0, 30000);
    S->fault_mean_ms = sim_rng_range(g, 60, 300);
    static const uint64_t conf_means[] = {150, 400, 1500, 100000};
    S->conf_mean_ms = conf_means[sim_rng_below(g, 4)];
    static const uint64_t transfer_means[] = {300, 1000, 100000};
    S->transfer_mean_ms = transfer_means[sim_rng_below(g, 3)];
    S->torn_ppm = (uint32_t)sim_rng_range(g, 0, 600);
    static const uint32_t flaky[] = {0, 300000, 600000, 900000, 900000};
    S->flaky_leader_ppm = flaky[sim_rng_below(g, 5)];
    S->snap_every = sim_rng_range(g, 5, 60);
    S->snap_keep = sim_rng_range(g, 0, 10);
}

int sim_raft_run(const sim_raft_opts *o, sim_raft_result *res)
{
    sim *S = calloc(1, sizeof(*S));
    if (S == NULL) {
        abort();
    }
    memset(res, 0, sizeof(*res));
    res->ok = true;
    S->o = *o;
    S->res = res;
    sim_rng_seed(&S->rng, o->seed);
    S->hash = sim_mix(0, o->seed);
    cm_arena_init(&S->arena, 0);
    choose_params(S);
    res->nodes = S->n_base;
    uint64_t chaos_ns = (o->chaos_ms ? o->chaos_ms : CHAOS_MS_DEFAULT) * MS;
    S->heal_at = chaos_ns;
    S->next_fault_at = sim_rng_range(&S->rng, 100, 300) * MS;
    S->forced_crash_at = chaos_ns / 4 + sim_rng_below(&S->rng, chaos_ns / 4);
    S->forced_part_at = chaos_ns / 2 + sim_rng_below(&S->rng, chaos_ns / 4);
    S->next_conf_at = sim_rng_range(&S->rng, 100, 400) * MS + exp_ms(S, S->conf_mean_ms) / 2;
    S->next_transfer_at =
        sim_rng_range(&S->rng, 100, 600) * MS + exp_ms(S, S->transfer_mean_ms) / 2;
    cm_raft_conf boot;
    memset(&boot, 0, sizeof(boot));
    for (int i = 1; i <= S->n_base; i++) {
        boot.voters[boot.n_voters++] = (uint64_t)i;
    }
    S->g_conf = boot;
    S->g_conf_index = 1;
    for (int i = 1; i <= S->n_base; i++) {
        node_create(S, (uint64_t)i, &boot);
    }
    S->next_id = (uint64_t)S->n_base + 1;
    for (int i = 0; i < SIM_CLIENTS; i++) {
        S->clients[i].next_at = sim_rng_range(&S->rng, 50, 150) * MS;
        S->clients[i].stale = i >= SIM_CLIENTS / 2;
    }
    if (o->trace != NULL) {
        fprintf(o->trace,
                "# seed %" PRIu64 " nodes %d pre_vote %d check_quorum %d lease %d drift_ppm %u "
                "heartbeat_tick %u max_msg_bytes %" PRIu64 " inflight %u drop_ppm %u dup_ppm %u\n",
                o->seed, S->n_base, S->tmpl.pre_vote, S->tmpl.check_quorum, S->tmpl.lease_read,
                S->tmpl.drift_ppm, S->tmpl.heartbeat_tick, S->tmpl.max_msg_bytes,
                S->tmpl.max_inflight, S->drop_ppm, S->dup_ppm);
    }
    while (!S->failed && S->phase != PHASE_DONE) {
        S->now += STEP_NS;
        res->cov.steps_ms++;
        if (S->phase == PHASE_CHAOS && S->now >= S->heal_at) {
            begin_heal(S);
        }
        if (S->phase == PHASE_CHAOS) {
            chaos_step(S);
        }
        restarts_due(S);
        resume_queued(S);
        while (!S->failed && S->n_heap > 0 && S->heap[0].at <= S->now) {
            net_msg m = heap_pop(S);
            if (deliver(S, &m)) {
                cm_buf_fini(&m.bytes);
            }
        }
        for (uint64_t id = 1; id <= SIM_NODES_MAX && !S->failed; id++) {
            sim_node *n = &S->nodes[id];
            if (!n->exists || !n->up || paused(S, n)) {
                continue;
            }
            uint64_t local = local_ns(S, n);
            if (local >= n->next_tick_local) {
                n->next_tick_local += TICK_NS;
                if (n->next_tick_local <= local) {
                    n->next_tick_local = local + TICK_NS; /* after a pause: one tick, not a burst */
                }
                cm_raft_tick(n->r);
                check_node(S, n);
            }
        }
        if (!S->failed) {
            clients_step(S);
        }
        for (uint64_t id = 1; id <= SIM_NODES_MAX && !S->failed; id++) {
            sim_node *n = &S->nodes[id];
            if (n->exists && n->up && !paused(S, n)) {
                process_node(S, n);
            }
        }
        if (!S->failed && S->phase == PHASE_HEAL) {
            liveness_step(S);
        }
    }
    /* Whatever is still open has an unknown outcome. */
    for (size_t i = 0; i < S->n_ops; i++) {
        sim_op *op = &S->ops[i];
        if (op->status == ST_PENDING) {
            op_finish(S, op, op->kind == OP_WRITE ? ST_UNKNOWN : ST_FAILED, 0);
        }
    }
    for (uint64_t id = 1; id <= SIM_NODES_MAX; id++) {
        sim_node *n = &S->nodes[id];
        if (n->exists) {
            if (n->up) {
                acc_stats(n);
            }
            res->cov.elections += n->acc.elections;
            res->cov.pre_votes += n->acc.pre_votes;
            res->cov.snapshots_sent += n->acc.snapshots_sent;
        }
    }
    if (!S->failed) {
        check_linearizable(S);
    }
    if (!S->failed && !o->no_min_coverage) {
        check_coverage(S);
    }
    res->trace_hash = S->hash;
    sim_free(S);
    free(S);
    return res->ok ? 0 : 1;
}

void sim_raft_print_coverage(FILE *f, const sim_raft_coverage *c)
{
    fprintf(f,
            "steps_ms=%" PRIu64 " elections=%" PRIu64 " pre_votes=%" PRIu64
            " leader_changes=%" PRIu64 " max_term=%" PRIu64 " conf_changes=%" PRIu64
            " snapshots_sent=%" PRIu64 " snapshots_installed=%" PRIu64 " snapshots_taken=%" PRIu64
            " partitions=%" PRIu64 " pauses=%" PRIu64 " crashes=%" PRIu64 " torn_crashes=%" PRIu64
            " transfers=%" PRIu64 " writes_ok=%" PRIu64 " writes_failed=%" PRIu64
            " writes_unknown=%" PRIu64 " reads_ok=%" PRIu64 " lease_reads_ok=%" PRIu64
            " reads_refused=%" PRIu64 " msgs_sent=%" PRIu64 " msgs_dropped=%" PRIu64
            " msgs_duplicated=%" PRIu64 " liveness_ms=%" PRIu64 "\n",
            c->steps_ms, c->elections, c->pre_votes, c->leader_changes, c->max_term,
            c->conf_changes, c->snapshots_sent, c->snapshots_installed, c->snapshots_taken,
            c->partitions, c->pauses, c->crashes, c->torn_crashes, c->transfers, c->writes_ok,
            c->writes_failed, c->writes_unknown, c->reads_ok, c->lease_reads_ok, c->reads_refused,
            c->msgs_sent, c->msgs_dropped, c->msgs_duplicated, c->liveness_ms);
}
