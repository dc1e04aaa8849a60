/*
 * txn_testutil.h — a tiny harness for the Percolator tests: an engine (memory or RocksDB in a
 * temp dir), and wrappers that run one command the way the raftstore will (snapshot, pure
 * function, then write the batch it produced), checking on every failure that the command left
 * no write behind.
 */
#ifndef TXN_TESTUTIL_H
#define TXN_TESTUTIL_H

#include "kv_engine.h"
#include "kv_gc.h"
#include "kv_mvcc.h"
#include "kv_txn.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct tenv {
    int rocks;
    kv_engine *e;
    char dir[64];
    cm_arena arena; /* reset at the start of every command: details live until the next one */
    kv_batch batch;
    kv_txn_out out;
    cm_err err;
    uint64_t writes; /* batches written */
} tenv;

tenv *tenv_open(int rocks);
void tenv_close(tenv *v);

static inline cm_slice K(const char *s)
{
    return cm_slice_cstr(s);
}

/* Commands; each returns the rc of the pure function (the batch is written on 0). */
int t_prewrite(tenv *v, uint64_t start_ts, const char *primary, uint64_t ttl_ms,
               const kv_mutation *muts, size_t n);
int t_put(tenv *v, uint64_t start_ts, const char *primary, const char *key, const char *value);
int t_commit(tenv *v, uint64_t start_ts, uint64_t commit_ts, const cm_slice *keys, size_t n);
int t_commit1(tenv *v, uint64_t start_ts, uint64_t commit_ts, const char *key);
int t_rollback(tenv *v, uint64_t start_ts, const cm_slice *keys, size_t n);
int t_rollback1(tenv *v, uint64_t start_ts, const char *key);
int t_cleanup(tenv *v, const char *key, uint64_t start_ts, uint64_t current_ts);
int t_check(tenv *v, const char *primary, uint64_t lock_ts, uint64_t current_ts,
            bool rollback_if_not_exist, kv_txn_status *st);
int t_heartbeat(tenv *v, const char *primary, uint64_t start_ts, uint64_t advise, uint64_t *ttl);
int t_resolve(tenv *v, uint64_t start_ts, uint64_t commit_ts, const cm_slice *keys, size_t n);
int t_gc(tenv *v, uint64_t safe_point, const char *start, const char *end, size_t limit,
         kv_gc_result *res);
/* Reads: the value (NUL-terminated copy in the arena) or NULL. */
int t_get(tenv *v, const char *key, uint64_t ts, const char **value, kv_lock_info *lock);
int t_scan(tenv *v, const kv_scan_req *req, kv_read_result *res);
/* 1 if the engine holds key in cf exactly (raw, encoded key built by the caller). */
bool t_raw_exists(tenv *v, kv_cf cf, cm_slice raw_key);

/* A deterministic random source for the randomized tests. */
uint64_t t_rng(uint64_t *s);

#endif
