/*
 * sim_lin.h — linearizability of a single register's history, checked with the Wing–Gong
 * algorithm as improved by Lowe (memoizing the set of linearized operations together with the
 * register's value, so each configuration is explored once).
 *
 * Times are strictly increasing event numbers of the simulator (one clock for every client), so
 * "a returned before b was called" is exact. An operation whose outcome is unknown (a write whose
 * client gave up, or whose node crashed) has ret = SIM_LIN_PENDING: it may take effect at any point
 * after its call, or never.
 */
#ifndef SIM_LIN_H
#define SIM_LIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIM_LIN_PENDING UINT64_MAX
/* Operations per register history: the linearized set is one 64-bit mask. */
#define SIM_LIN_OPS_MAX 64

typedef struct sim_lin_op {
    uint64_t call;
    uint64_t ret; /* SIM_LIN_PENDING when unknown */
    bool write;
    uint64_t value; /* written value, or the value the read returned */
    uint64_t id;    /* for reports */
} sim_lin_op;

typedef enum sim_lin_result {
    SIM_LIN_OK = 0,
    SIM_LIN_VIOLATION = 1,
    SIM_LIN_TOO_BIG = 2, /* more than SIM_LIN_OPS_MAX ops, or the search budget ran out */
} sim_lin_result;

/* Checks ops[0..n) against a register that starts at `initial`. On a violation, why receives a
 * short explanation (the op the search could not place). */
sim_lin_result sim_lin_check(const sim_lin_op *ops, size_t n, uint64_t initial, char *why,
                             size_t why_len);

#endif
