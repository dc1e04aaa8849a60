/*
 * rs_fixture.h — several raftstores in one process, each on its own memory engine, over an
 * in-memory transport that the test drives deterministically: messages queue until the test
 * delivers them, links can be cut, stores crashed (losing unsynced writes) and restarted.
 */
#ifndef RS_FIXTURE_H
#define RS_FIXTURE_H

#include "kv_memengine.h"
#include "kv_raftstore.h"

#include <stdbool.h>
#include <stdint.h>

#define FX_STORES_MAX 6

typedef struct fx fx;

typedef struct fx_store {
    fx *f;
    uint64_t id; /* store id = index + 1 */
    kv_engine *engine;
    kv_raftstore *rs; /* NULL while down */
    uint64_t heartbeats;
} fx_store;

typedef struct fx_msg {
    uint64_t from;
    uint64_t to;
    uint32_t method;
    cm_buf payload;
} fx_msg;

struct fx {
    size_t n;
    fx_store stores[FX_STORES_MAX];
    kv_raftstore_config cfg; /* template; store_id set per store */
    fx_msg *q;
    size_t nq;
    size_t capq;
    bool cut[FX_STORES_MAX + 1][FX_STORES_MAX + 1];
    uint64_t clock_ns;
    uint64_t rng;
    uint64_t next_id;
    uint64_t delivered;
};

/* n stores (ids 1..n); the first `replicas` bootstrap region 1 = [start, end) with peers
 * 101.. on stores 1..replicas. cfg may be NULL (test defaults: short log GC, small chunks). */
void fx_init(fx *f, size_t n, size_t replicas, const char *start, const char *end,
             const kv_raftstore_config *cfg);
void fx_fini(fx *f);

kv_raftstore *fx_rs(fx *f, uint64_t store);
/* Delivers queued messages and runs process() on every live store until nothing moves (bounded). */
void fx_run(fx *f);
/* k ticks: clock + tick_ns, tick every live store, fx_run. */
void fx_tick(fx *f, int k);
/* Ticks until `region` has a leader everyone agrees on (bounded); returns its store or 0. */
uint64_t fx_wait_leader(fx *f, uint64_t region);
/* Makes `store` the leader of region (campaign + ticks); true on success. */
bool fx_elect(fx *f, uint64_t region, uint64_t store);
uint64_t fx_leader(fx *f, uint64_t region);

void fx_cut(fx *f, uint64_t a, uint64_t b, bool cut); /* both directions */
void fx_isolate(fx *f, uint64_t a, bool cut);
/* Crash: the store loses its memory and every unsynced write; restart: reopen on the engine. */
void fx_crash(fx *f, uint64_t store);
void fx_restart(fx *f, uint64_t store);
/* Close without crashing the engine (a clean shutdown), then reopen. */
void fx_reopen(fx *f, uint64_t store);

/* Synchronous helpers: issue and tick until answered (bounded); return the result's rc. */
int fx_put(fx *f, uint64_t store, uint64_t region, const char *key, const char *value);
int fx_put_epoch(fx *f, uint64_t store, uint64_t region, kv_epoch epoch, const char *key,
                 const char *value);
/* Reads key through the raftstore; *found / value set on 0. */
int fx_get(fx *f, uint64_t store, uint64_t region, const char *key, bool *found, cm_buf *value);
int fx_split(fx *f, uint64_t store, uint64_t region, const char *key, uint64_t *new_region);
int fx_change(fx *f, uint64_t store, uint64_t region, kv_conf_op op, uint64_t peer_id,
              uint64_t peer_store);
kv_epoch fx_epoch(fx *f, uint64_t store, uint64_t region);
/* Value of key straight from a store's engine (default CF); true when present. */
bool fx_engine_has(fx *f, uint64_t store, const char *key, const char *value);
bool fx_has_region(fx *f, uint64_t store, uint64_t region);

#endif
