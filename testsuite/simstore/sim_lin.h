/*
 * sim_lin.h — linearizability of one read/write register (the simulator's register workload),
 * by a depth-first search for a linearization with memoized states (Wing & Gong, with Lowe's
 * memoization). Written values are unique, reads return a value or 0 (absent, the initial
 * state). A write whose outcome is unknown (its client never heard, or heard "stale") may take
 * effect at any point after its invocation, or never.
 */
#ifndef SIM_LIN_H
#define SIM_LIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* At most this many operations per register: the search keeps the set of linearized operations
 * as a 64-bit mask. */
#define SIM_LIN_OPS_MAX 64
#define SIM_LIN_UNKNOWN UINT64_MAX

typedef enum sim_lin_kind {
    SIM_LIN_WRITE = 1,
    SIM_LIN_READ = 2,
} sim_lin_kind;

typedef struct sim_lin_op {
    uint8_t kind;
    uint64_t value;    /* written, or read (0: absent) */
    uint64_t invoke;   /* time the client sent it */
    uint64_t complete; /* time the client heard success; SIM_LIN_UNKNOWN: never (writes only) */
} sim_lin_op;

typedef enum sim_lin_result {
    SIM_LIN_OK = 0,
    SIM_LIN_VIOLATION = 1,
    SIM_LIN_INCONCLUSIVE = 2, /* the search passed its state budget */
} sim_lin_result;

/* Checks ops[0..n) (n <= SIM_LIN_OPS_MAX; reordered in place). On a violation, why explains. */
sim_lin_result sim_lin_check(sim_lin_op *ops, size_t n, char *why, size_t why_len);

#endif
