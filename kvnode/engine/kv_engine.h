/*
 * kv_engine.h — the narrow storage-engine interface of the kvnode (DESIGN.md §9).
 *
 * Everything above this line (multi-raft store, Percolator, coprocessor) reaches storage only
 * through these calls, so the same code runs on RocksDB in production (kv_rocks.h) and on a
 * deterministic in-memory engine in simulation (kv_memengine.h), which loses every unsynced write
 * at a simulated crash. Both implementations pass one conformance suite
 * (kvnode/engine/test/test_engine.c).
 *
 * Model
 * - A store is KV_CF_COUNT ordered maps (column families, kv_batch.h), keys and values are byte
 *   strings ordered by memcmp (shorter first on a common prefix).
 * - Writes happen only through kv_engine_write(batch, sync): the batch is applied atomically
 *   (a reader sees all of it or none of it) and in order.
 * - Durability contract: a write is *visible* as soon as kv_engine_write returns. It is *durable*
 *   once kv_engine_write returned with sync = true for it or for any later write, or
 *   kv_engine_sync returned after it. kv_engine_crash() simulates a process/machine crash and
 *   restart: every durable write survives; of the non-durable ones, the memory engine keeps none
 *   (the harshest outcome allowed) and RocksDB keeps a prefix in write order (whatever its WAL
 *   holds — after a process crash, usually all). Batches are never torn.
 * - Reads: kv_engine_get reads the latest state; kv_engine_snapshot pins a consistent view of
 *   all column families at once, which later writes do not change. Iterators always read a
 *   snapshot.
 *
 * Threads: an engine may be used from several threads at once (writes are serialized inside);
 * a snapshot may be read from several threads; an iterator belongs to one thread at a time.
 *
 * Lifetimes: iterators must be freed before their snapshot is released, and every snapshot
 * released before kv_engine_crash or kv_engine_close (asserted).
 */
#ifndef KV_ENGINE_H
#define KV_ENGINE_H

#include "kv_batch.h"

#include "cm_buf.h"
#include "cm_err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kv_engine kv_engine;
typedef struct kv_snapshot kv_snapshot;
typedef struct kv_iter kv_iter;

/* Counters kept by every engine (for metrics, the benchmark's fsyncs per transaction and the
 * simulator's ack-after-sync check). */
typedef struct kv_engine_stats {
    uint64_t writes;        /* kv_engine_write calls that succeeded */
    uint64_t syncs;         /* durable points reached: sync writes + kv_engine_sync calls */
    uint64_t bytes_written; /* wire bytes of the batches written */
    uint64_t crashes;       /* kv_engine_crash calls */
    uint64_t write_seq;     /* number of the last batch written (1, 2, ...) */
    uint64_t durable_seq;   /* every batch numbered <= this is durable */
} kv_engine_stats;

/* Approximate size of a key range in one column family (for split checks). */
typedef struct kv_range_stats {
    uint64_t bytes; /* key + value bytes */
    uint64_t keys;  /* live keys */
} kv_range_stats;

/* Iterator bounds: keys k with lower <= k < upper. An empty bound (len 0) means unbounded on
 * that side, as an empty end key means "to the end" for a region. */
typedef struct kv_iter_opts {
    cm_slice lower; /* inclusive; copied */
    cm_slice upper; /* exclusive; copied */
} kv_iter_opts;

/* The engine's name ("rocksdb" or "memory"). */
const char *kv_engine_name(const kv_engine *e);

/* Closes the engine and frees it (NULL is a no-op). Unsynced writes of the memory engine are
 * lost with it, as at a crash; RocksDB keeps what its WAL holds. */
void kv_engine_close(kv_engine *e);

/* Reads the latest value of key into *value (replacing its contents). Returns 0,
 * CM_E_NOT_FOUND, CM_E_INVALID (bad cf), CM_E_NOMEM or CM_E_IO. err may be NULL. */
int kv_engine_get(kv_engine *e, kv_cf cf, cm_slice key, cm_buf *value, cm_err *err);

/* Applies batch atomically (borrowed). sync = true: the batch and every earlier one are durable
 * before this returns (RocksDB: WAL fsync). An empty batch with sync = true is kv_engine_sync.
 * Returns 0, CM_E_IO or CM_E_NOMEM; on error nothing of the batch is visible. */
int kv_engine_write(kv_engine *e, const kv_batch *batch, bool sync, cm_err *err);

/* Makes every write so far durable. Returns 0 or CM_E_IO. */
int kv_engine_sync(kv_engine *e, cm_err *err);

/* Approximate bytes and keys in [start, end) of cf; an empty end means "to the end of the
 * column family". The memory engine answers exactly; RocksDB estimates the SST part from its
 * file index and counts its memtables, so the figures are right in order of magnitude, not in
 * every digit, and may count overwritten or deleted keys that compaction has not dropped yet.
 * Cost: O(log n) in memory, in RocksDB proportional to the range's memtable entries.
 * Returns 0, CM_E_INVALID or CM_E_IO. */
int kv_engine_approx_range(kv_engine *e, kv_cf cf, cm_slice start, cm_slice end,
                           kv_range_stats *out, cm_err *err);

/* Asks the engine to reclaim space of deleted data in [start, end) (empty end: to the end).
 * RocksDB flushes and compacts the range (slow: for raft-log truncation and tests); the memory
 * engine frees as it goes, so this does nothing there. Returns 0 or CM_E_IO. */
int kv_engine_compact_range(kv_engine *e, kv_cf cf, cm_slice start, cm_slice end, cm_err *err);

/* Simulates a crash and restart in place: afterwards the engine holds exactly its durable state
 * (memory) or at least it (RocksDB: the database is closed without a flush and reopened from its
 * files and WAL). No snapshot may be open. Returns 0, or CM_E_IO when RocksDB cannot reopen (the
 * engine then fails every call with CM_E_CLOSED until closed). */
int kv_engine_crash(kv_engine *e, cm_err *err);

/* Copies the engine's counters. */
void kv_engine_stats_get(kv_engine *e, kv_engine_stats *out);

/* Pins a consistent read view of every column family. Returns 0 with *out (release it with
 * kv_snapshot_release), CM_E_NOMEM or CM_E_CLOSED. */
int kv_engine_snapshot(kv_engine *e, kv_snapshot **out, cm_err *err);
/* Releases a snapshot (NULL is a no-op); its iterators must already be freed. */
void kv_snapshot_release(kv_snapshot *s);
/* Point read in a snapshot; as kv_engine_get. */
int kv_snapshot_get(kv_snapshot *s, kv_cf cf, cm_slice key, cm_buf *value, cm_err *err);

/* Creates an iterator over cf in snapshot s, initially not valid (call a seek). opts may be
 * NULL (unbounded); its bounds are copied. Returns 0 with *out (free with kv_iter_free),
 * CM_E_INVALID or CM_E_NOMEM. */
int kv_iter_new(kv_snapshot *s, kv_cf cf, const kv_iter_opts *opts, kv_iter **out, cm_err *err);
void kv_iter_free(kv_iter *it);

/* Positioning. Each leaves the iterator on a key inside the bounds, or not valid:
 *   seek(k)          first key >= max(k, lower)
 *   seek_for_prev(k) last key <= k (and < upper)
 *   seek_to_first    first key >= lower
 *   seek_to_last     last key < upper
 *   next / prev      the following / preceding key; the iterator must be valid. */
void kv_iter_seek(kv_iter *it, cm_slice key);
void kv_iter_seek_for_prev(kv_iter *it, cm_slice key);
void kv_iter_seek_to_first(kv_iter *it);
void kv_iter_seek_to_last(kv_iter *it);
void kv_iter_next(kv_iter *it);
void kv_iter_prev(kv_iter *it);
bool kv_iter_valid(const kv_iter *it);
/* Current key and value, borrowed until the iterator moves or is freed; the iterator must be
 * valid. */
cm_slice kv_iter_key(const kv_iter *it);
cm_slice kv_iter_value(const kv_iter *it);
/* 0, or the I/O error that made the iterator invalid (RocksDB only), with context in err. */
int kv_iter_status(const kv_iter *it, cm_err *err);

#endif
