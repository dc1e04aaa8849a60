/*
 * kv_engine_int.h — private: what an engine implementation provides (kv_memengine.c,
 * kv_rocks.c). kv_engine.c wraps these operations with the checks and bookkeeping every engine
 * shares (column family range, iterator bound clamping, counters, lifetime asserts), so an
 * implementation only does storage. Never include this outside kvnode/engine/.
 */
#ifndef KV_ENGINE_INT_H
#define KV_ENGINE_INT_H

#include "kv_engine.h"

#include <pthread.h>

typedef struct kv_engine_ops {
    const char *name;
    /* true when a crash loses every non-durable write (the memory engine) */
    bool crash_drops_unsynced;
    void (*close)(kv_engine *e);
    int (*get)(kv_engine *e, kv_cf cf, cm_slice key, cm_buf *value, cm_err *err);
    int (*write)(kv_engine *e, const kv_batch *batch, bool sync, cm_err *err);
    int (*sync)(kv_engine *e, cm_err *err);
    int (*approx_range)(kv_engine *e, kv_cf cf, cm_slice start, cm_slice end, kv_range_stats *out,
                        cm_err *err);
    int (*compact_range)(kv_engine *e, kv_cf cf, cm_slice start, cm_slice end, cm_err *err);
    int (*crash)(kv_engine *e, cm_err *err);
    /* Returns a snapshot whose base fields kv_engine.c fills in. */
    int (*snapshot)(kv_engine *e, kv_snapshot **out, cm_err *err);
    void (*snapshot_release)(kv_snapshot *s);
    int (*snapshot_get)(kv_snapshot *s, kv_cf cf, cm_slice key, cm_buf *value, cm_err *err);
    /* Iterators: kv_engine.c allocates iter_size zeroed bytes, fills the base (snapshot, cf,
     * bounds) and calls iter_init; iter_fini undoes iter_init before the memory is freed. */
    size_t iter_size;
    int (*iter_init)(kv_iter *it, cm_err *err);
    void (*iter_fini)(kv_iter *it);
    /* Bounded primitives: seek's target is >= lower; seek_for_prev's target is < upper (when
     * there is one). Each must respect both bounds in what it lands on. */
    void (*iter_seek)(kv_iter *it, cm_slice key);
    void (*iter_seek_for_prev)(kv_iter *it, cm_slice key);
    void (*iter_seek_to_last)(kv_iter *it);
    void (*iter_next)(kv_iter *it);
    void (*iter_prev)(kv_iter *it);
    bool (*iter_valid)(const kv_iter *it);
    cm_slice (*iter_key)(const kv_iter *it);
    cm_slice (*iter_value)(const kv_iter *it);
    int (*iter_status)(const kv_iter *it, cm_err *err);
} kv_engine_ops;

/* The first member of every implementation's engine struct. */
struct kv_engine {
    const kv_engine_ops *ops;
    pthread_mutex_t stats_mu;
    kv_engine_stats stats; /* guarded by stats_mu */
    long snapshots_open;   /* guarded by stats_mu */
};

/* The first member of every implementation's snapshot struct. */
struct kv_snapshot {
    kv_engine *engine;
    long iters_open; /* atomically updated */
};

/* The first member of every implementation's iterator struct. */
struct kv_iter {
    kv_snapshot *snap;
    kv_cf cf;
    cm_buf lower; /* owned copy; len 0: none */
    cm_buf upper; /* owned copy; len 0: none */
};

/* Implementations call this on their fresh engine struct before returning it. */
void kv_engine_base_init(kv_engine *e, const kv_engine_ops *ops);
/* And this from their close before freeing it. */
void kv_engine_base_fini(kv_engine *e);

#endif
