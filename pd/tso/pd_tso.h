/*
 * pd_tso.h — the timestamp oracle (DESIGN.md §6, docs/pd.md "TSO").
 *
 * A timestamp is physical_ms << 18 | logical. The allocator hands out strictly increasing
 * timestamps, `count` at a time, and keeps three promises:
 *   1. Across restarts (kill -9 included): before any timestamp with physical part p is handed
 *      out, a mark M >= p has been written with a synced write; after a restart the allocator
 *      starts at physical M + 1. The mark is written a window ahead (3 s by default), so the
 *      sync happens about once per window, normally from pd_tso_tick rather than a request.
 *   2. When the wall clock steps back, the physical part stays where it was (the logical part
 *      keeps counting).
 *   3. When a millisecond's 2^18 logical values run out, the physical part moves one ahead of
 *      the clock instead of wrapping (persisting a new mark first if that passes the old one).
 * The wall clock is injected (a callback), so all of this is tested without sleeping.
 * Thread-safe: requests and ticks may come from any thread.
 */
#ifndef PD_TSO_H
#define PD_TSO_H

#include "cm_err.h"
#include "pd_kv.h"
#include "pd_limits.h"

#include <pthread.h>
#include <stdint.h>

/* Returns wall-clock milliseconds since the Unix epoch; may step in either direction. */
typedef uint64_t (*pd_clock_ms_cb)(void *user);

static inline uint64_t pd_tso_compose(uint64_t physical_ms, uint32_t logical)
{
    return (physical_ms << PD_TSO_LOGICAL_BITS) | logical;
}
static inline uint64_t pd_tso_physical(uint64_t ts)
{
    return ts >> PD_TSO_LOGICAL_BITS;
}
static inline uint32_t pd_tso_logical(uint64_t ts)
{
    return (uint32_t)(ts & (PD_TSO_LOGICAL_LIMIT - 1));
}

typedef struct pd_tso_stats {
    uint64_t requests;      /* successful allocations */
    uint64_t timestamps;    /* timestamps handed out */
    uint64_t mark_writes;   /* synced writes of the mark */
    uint64_t clock_behind;  /* allocations where the wall clock was behind the last physical */
    uint64_t logical_spill; /* times the logical part ran out and physical moved ahead */
    uint64_t saved_mark_ms; /* the durable mark */
    uint64_t last_ts;       /* the last timestamp handed out (0 before the first) */
} pd_tso_stats;

typedef struct pd_tso {
    pthread_mutex_t mu;         /* guards everything below except the persist fields */
    pthread_mutex_t persist_mu; /* serializes writes of the mark (taken after mu, never before) */
    pd_kv *kv;                  /* borrowed */
    pd_clock_ms_cb clock;
    void *clock_user;
    uint64_t window_ms;
    uint64_t physical;  /* last physical handed out (or the mark after a restart) */
    uint32_t logical;   /* next logical value free in `physical` */
    uint64_t saved;     /* durable mark: nothing above it has been handed out */
    uint64_t persisted; /* guarded by persist_mu: the highest mark written */
    pd_tso_stats stats;
} pd_tso;

/* Loads the persisted mark (if any) and prepares to hand out timestamps above it. `kv` and
 * `clock_user` are borrowed and must outlive the allocator. window_ms > 0. */
int pd_tso_init(pd_tso *t, pd_kv *kv, pd_clock_ms_cb clock, void *clock_user, uint64_t window_ms,
                cm_err *err);
void pd_tso_fini(pd_tso *t);

/* Hands out `count` (1 .. PD_TSO_COUNT_MAX) consecutive timestamps *first .. *first + count - 1,
 * all larger than any handed out before (by this process or any earlier one on the same store).
 * Fails with CM_E_INVALID for a bad count and CM_E_IO when the mark cannot be persisted; nothing
 * is handed out then. */
int pd_tso_alloc(pd_tso *t, uint32_t count, uint64_t *first, cm_err *err);

/* Called periodically (the server: every 50 ms): persists the mark early when less than a third
 * of the window is left, so requests rarely wait for a sync. */
int pd_tso_tick(pd_tso *t, cm_err *err);

void pd_tso_get_stats(pd_tso *t, pd_tso_stats *out);

#endif
