/*
 * sim_raft.h — deterministic simulation of one Raft group (common/raft) with a replicated
 * key-value state machine, for `tools/sim raft` and the `sim` test suite (DESIGN.md §9).
 *
 * One run = one seed: N nodes (3 or 5), simulated time in 1 ms steps, one PRNG for everything,
 * a network that drops, duplicates, delays and reorders messages and partitions nodes, crashes
 * (also in the middle of persisting a ready) and restarts that keep only what was synced,
 * clock skew within the configured drift bound, membership changes and leadership transfers,
 * and clients doing writes, ReadIndex reads and lease reads. Checkers run after every event;
 * the client history is checked for linearizability at the end; after the faults heal the group
 * must elect a leader and commit within a bound. The run fails on any violation and also when
 * it did too little work (coverage minimums), so counting seeds means something.
 */
#ifndef SIM_RAFT_H
#define SIM_RAFT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct sim_raft_opts {
    uint64_t seed;
    int nodes;            /* 3 or 5; 0 lets the seed choose */
    uint32_t chaos_ms;    /* length of the fault phase (0: default) */
    FILE *trace;          /* one line per event when not NULL */
    bool no_min_coverage; /* do not fail a run for doing too little (for experiments) */
} sim_raft_opts;

typedef struct sim_raft_coverage {
    uint64_t steps_ms;
    uint64_t elections;      /* campaigns started (all nodes) */
    uint64_t pre_votes;      /* pre-vote rounds */
    uint64_t leader_changes; /* (term, leader) pairs observed */
    uint64_t max_term;
    uint64_t conf_changes; /* committed membership changes */
    uint64_t snapshots_sent;
    uint64_t snapshots_installed;
    uint64_t snapshots_taken;
    uint64_t partitions;
    uint64_t pauses; /* processes stopped for a while (GC pause, SIGSTOP) */
    uint64_t crashes;
    uint64_t torn_crashes; /* crashes in the middle of persisting a ready */
    uint64_t transfers;    /* leadership transfers requested */
    uint64_t writes_ok;    /* acknowledged (committed) client writes */
    uint64_t writes_failed;
    uint64_t writes_unknown;
    uint64_t reads_ok;       /* ReadIndex reads answered */
    uint64_t lease_reads_ok; /* lease reads answered */
    uint64_t reads_refused;
    uint64_t msgs_sent;
    uint64_t msgs_dropped;
    uint64_t msgs_duplicated;
    uint64_t liveness_ms; /* heal to probe committed everywhere */
} sim_raft_coverage;

typedef struct sim_raft_result {
    bool ok;
    char check[32]; /* name of the violated check, or "" */
    char why[512];  /* details */
    uint64_t trace_hash;
    int nodes;
    sim_raft_coverage cov;
} sim_raft_result;

/* Runs one seed. Returns 0 when the run held (res->ok), 1 on a violation. */
int sim_raft_run(const sim_raft_opts *o, sim_raft_result *res);

/* Prints the coverage counters as one line of key=value pairs. */
void sim_raft_print_coverage(FILE *f, const sim_raft_coverage *c);

#endif
