/*
 * sim_int.h — the store simulator's private state, shared by sim_store.c (the cluster, network,
 * faults, PD, register workload, checkers) and sim_bank.c (the Percolator bank workload).
 */
#ifndef SIM_INT_H
#define SIM_INT_H

#include "sim_lin.h"
#include "sim_rng.h"
#include "sim_store.h"

#include "kv_raftstore.h"

#include "cm_assert.h"

#include <stdio.h>

#define TICK_NS              (100ull * 1000 * 1000)
#define SIM_NODES_MAX        5
#define SIM_KEYS             12
#define SIM_CLIENTS          4
#define SIM_OPS_MAX          2048
#define SIM_OPS_PER_KEY      (SIM_LIN_OPS_MAX - 4) /* room for the final read */
#define SIM_REGIONS_MAX      64
#define SIM_CONFS_MAX        64
#define SIM_PEERS_MAX        512
#define SIM_OP_TIMEOUT_TICKS 40
#define SIM_SETTLE_TICKS     50
#define SIM_DRIVE_ROUNDS_MAX 200

/* ---- hashing (the PRNG is testsuite/sim/sim_rng.h, shared with the Raft simulator) ---- */

static inline uint64_t fnv(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ p[i]) * 1099511628211ull;
    }
    return h;
}

/* ---- state ---------------------------------------------------------------------------------- */

typedef struct sim sim;

typedef struct node {
    sim *s;
    int idx;
    uint64_t id;
    kv_engine *eng;
    kv_raftstore *rs;
    bool up;
    uint64_t down_ticks;
    kv_raftstore_stats acc; /* counters of earlier incarnations */
    int64_t skew_ppm;       /* this store's clock (and timer) rate error, parts per million */
    uint64_t next_tick_at;  /* its own timer, in simulated (true) time */
    uint64_t last_applied[SIM_REGIONS_MAX]; /* per region slot, this incarnation */
} node;

typedef struct net_msg {
    uint64_t at;
    uint64_t seq;
    uint8_t from;
    uint8_t to;
    uint32_t method;
    cm_buf payload;
} net_msg;

enum { OP_PENDING = 0, OP_OK = 1, OP_FAILED = 2, OP_UNKNOWN = 3 };
enum { OP_WRITE = 1, OP_READ = 2 };

typedef struct op {
    sim *s;
    uint8_t kind;
    uint8_t key;
    uint8_t state;
    bool abandoned;
    int client;
    uint64_t store; /* where it was sent */
    uint64_t value;
    uint64_t invoke;
    uint64_t complete;
} op;

typedef struct client {
    bool busy;
    op *cur;
    uint64_t next_at;
    uint64_t route_region[SIM_KEYS];
    uint64_t route_store[SIM_KEYS];
} client;

typedef struct conf_rec {
    uint64_t index;
    uint8_t n;
    uint64_t voters[KV_REGION_PEERS_MAX];
} conf_rec;

typedef struct region_rec {
    uint64_t id;
    conf_rec confs[SIM_CONFS_MAX];
    size_t n_confs;
} region_rec;

/* An open-addressing table of records whose first two words are the key (a, b); b == 0 marks an
 * empty slot. Used for the applied, leader and range records below. */
typedef struct rec_table {
    uint64_t *v;  /* cap records of `words` words each */
    size_t cap;   /* a power of two, or 0 */
    size_t n;     /* records in use */
    size_t words; /* words per record, >= 2 */
} rec_table;

typedef struct applied_rec {
    uint64_t region;
    uint64_t index; /* 0: empty */
    uint64_t term;
    uint64_t hash;
} applied_rec;

typedef struct leader_rec {
    uint64_t region;
    uint64_t term; /* 0: empty */
    uint64_t peer;
} leader_rec;

typedef struct range_rec {
    uint64_t region;
    uint64_t version; /* 0: empty */
    uint64_t hash;
} range_rec;

struct sim {
    const sim_store_opts *o;
    sim_store_result *res;
    sim_rng r;
    uint64_t now;
    uint64_t next_tick_at;
    uint64_t ticks;
    uint64_t next_id;
    uint64_t seq;
    bool settling;

    /* parameters of this seed */
    size_t n;
    uint32_t drop_ppm;
    uint32_t dup_ppm;
    uint64_t delay_max_ns;
    kv_raftstore_config cfg;

    node nodes[SIM_NODES_MAX];
    bool cut[SIM_NODES_MAX][SIM_NODES_MAX];
    uint64_t heal_at_tick;

    net_msg **heap;
    size_t nheap;
    size_t capheap;

    op *ops;
    size_t n_ops;
    uint32_t key_ops[SIM_KEYS];
    uint64_t next_value;
    client clients[SIM_CLIENTS];

    region_rec regions[SIM_REGIONS_MAX];
    size_t n_regions;
    uint64_t peer_store[SIM_PEERS_MAX * 8]; /* peer id -> store (ids stay small) */
    rec_table applied;                      /* applied_rec by (region, index) */
    rec_table leaders;                      /* leader_rec by (region, term) */
    rec_table ranges;                       /* range_rec by (region, version) */

    uint64_t next_pd_tick;
    uint64_t next_fault_tick;
    bool failed;
    bool bank;             /* workload: Percolator bank (else registers) */
    uint32_t skew_max_ppm; /* bound of the stores' clock errors this run */
    struct sim_bank *bk;   /* sim_bank.c */
};

/* sim_store.c, shared with the workloads */
void sim_fail(sim *s, const char *check, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sim_trace(sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sim_hash_in(sim *s, uint64_t v);
uint64_t sim_random_up_store(sim *s);
/* One event step (deliveries, clients, a tick) up to `until`, then the stores run. */
void sim_step(sim *s, uint64_t until);
bool sim_definite_failure(int rc);

/* sim_bank.c: the Percolator bank workload over the raftstore and kvnode/txn. */
void sim_bank_init(sim *s);
void sim_bank_fini(sim *s);
/* Earliest time a bank client wants to act (UINT64_MAX: none). */
uint64_t sim_bank_next_at(sim *s);
void sim_bank_act(sim *s);
void sim_bank_tick(sim *s);
void sim_bank_on_crash(sim *s, uint64_t store);
/* Split keys of the bank's key space (encoded account keys): candidate i into out. */
void sim_bank_split_key(sim *s, int i, cm_buf *out);
/* After the faults stopped: final total and acknowledged commits present. */
void sim_bank_final(sim *s);

#endif
