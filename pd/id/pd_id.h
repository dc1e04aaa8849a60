/*
 * pd_id.h — the cluster-wide id allocator (stores, regions, peers, tables, indexes).
 *
 * Ids are 1, 2, 3, ... and never reused, not even after a crash: the allocator persists (synced)
 * the end of a window of `window` ids before handing out any id inside it, and after a restart
 * continues above the persisted end. A crash therefore skips at most one window of ids.
 * Thread-safe.
 */
#ifndef PD_ID_H
#define PD_ID_H

#include "cm_err.h"
#include "pd_kv.h"

#include <pthread.h>
#include <stdint.h>

typedef struct pd_id_alloc {
    pthread_mutex_t mu;
    pd_kv *kv; /* borrowed */
    uint64_t window;
    uint64_t next; /* next id to hand out */
    uint64_t end;  /* persisted: ids <= end may be handed out */
} pd_id_alloc;

/* `kv` is borrowed and must outlive the allocator; window >= 1. */
int pd_id_init(pd_id_alloc *a, pd_kv *kv, uint64_t window, cm_err *err);
void pd_id_fini(pd_id_alloc *a);
/* Hands out count (1 .. PD_ID_COUNT_MAX) consecutive ids *first .. *first + count - 1.
 * CM_E_INVALID for a bad count, CM_E_IO when the window cannot be persisted. */
int pd_id_alloc_n(pd_id_alloc *a, uint32_t count, uint64_t *first, cm_err *err);
/* The next id that would be handed out (for /status). */
uint64_t pd_id_peek(pd_id_alloc *a);

#endif
