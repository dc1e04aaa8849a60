/*
 * sim_store.h — deterministic simulation of a cluster of raftstores (DESIGN.md §9).
 *
 * 3–5 stores run the real kvnode/raftstore on memory engines in one thread, over a simulated
 * network that drops, delays, reorders and duplicates messages and partitions stores; stores
 * crash (losing every unsynced write) and restart; a simple simulated PD splits regions, adds
 * learners, promotes, removes peers and transfers leaders; clients run a linearizable register
 * workload (one register per key, keys spread over the regions) or a Percolator bank workload
 * (kvnode/txn: transfers across regions, total preserved). Everything random comes from one
 * PRNG seeded by the run's seed, so a seed replays exactly (same trace hash).
 *
 * Checkers: Raft's election safety (one leader per region and term) and state-machine safety
 * (every store applies the same entry at each index of a region), region sanity (no overlapping
 * ranges on a store, one range per region epoch across stores), every acknowledged write durable
 * on a quorum at the moment of its acknowledgement (sim_oracle.h), per-key linearizability of the
 * register history (sim_lin.h), and replica convergence at the end. Coverage counters and a
 * minimum of work per seed make a count of seeds mean something.
 */
#ifndef SIM_STORE_H
#define SIM_STORE_H

#include <stdbool.h>
#include <stdint.h>

typedef enum sim_workload {
    SIM_WORKLOAD_MIXED = 0,    /* odd seeds bank, even seeds registers */
    SIM_WORKLOAD_REGISTER = 1, /* linearizable registers (raw writes through the raftstore) */
    SIM_WORKLOAD_BANK = 2,     /* Percolator transfers with kvnode/txn, total preserved */
} sim_workload;

typedef struct sim_store_opts {
    uint64_t seed;
    bool trace;       /* print events */
    uint32_t ticks;   /* length of the faulty phase (0: default) */
    uint8_t workload; /* sim_workload */
} sim_store_opts;

/* Coverage: every field a uint64_t (summed over seeds by the driver). */
typedef struct sim_store_coverage {
    uint64_t stores;
    uint64_t ticks;
    uint64_t writes_acked;
    uint64_t writes_failed;
    uint64_t writes_unknown;
    uint64_t reads_ok;
    uint64_t reads_failed;
    uint64_t lease_reads;
    uint64_t index_reads;
    uint64_t msgs_delivered;
    uint64_t msgs_dropped;
    uint64_t msgs_duplicated;
    uint64_t partitions;
    uint64_t crashes;
    uint64_t crashes_all;
    uint64_t splits;
    uint64_t conf_changes;
    uint64_t transfers;
    uint64_t leader_changes;
    uint64_t snapshots_applied;
    uint64_t peers_destroyed;
    uint64_t tombstones_sent;
    uint64_t overlap_drops;
    uint64_t epoch_rejections;
    uint64_t stale_commands;
    uint64_t log_compactions;
    uint64_t regions_at_end;
    uint64_t syncs;
    uint64_t acks_checked; /* acknowledgements verified against the durability oracle */
    uint64_t bank_seeds;
    uint64_t bank_committed;
    uint64_t bank_aborted;
    uint64_t bank_undetermined;
    uint64_t bank_checks; /* snapshots whose total was checked */
    uint64_t bank_locks_resolved;
    uint64_t bank_commits_verified;
} sim_store_coverage;

typedef struct sim_store_result {
    bool ok;
    char check[64]; /* which checker failed */
    char why[512];
    uint64_t trace_hash;
    sim_store_coverage cov;
} sim_store_result;

void sim_store_run(const sim_store_opts *o, sim_store_result *r);

#endif
