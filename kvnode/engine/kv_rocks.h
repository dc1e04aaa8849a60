/*
 * kv_rocks.h — the RocksDB engine (production). The only file of the kvnode that includes
 * RocksDB's header is its implementation, kv_rocks.c (DESIGN.md §2).
 *
 * One RocksDB database per store with the column families of kv_batch.h, all created on open.
 * Sync writes fsync the WAL before returning; kv_engine_sync fsyncs it too. The block cache is
 * one LRU cache shared by every column family, so the store's read-cache memory is exactly
 * block_cache_bytes.
 */
#ifndef KV_ROCKS_H
#define KV_ROCKS_H

#include "kv_engine.h"

#include <stdint.h>

typedef struct kv_rocks_opts {
    const char *path;            /* borrowed; the database directory */
    uint64_t block_cache_bytes;  /* 0: KV_ROCKS_BLOCK_CACHE_BYTES_DEFAULT */
    uint64_t write_buffer_bytes; /* memtable size per column family; 0: RocksDB's (64 MiB) */
    bool create_if_missing;      /* create the database (and its directory's last level) */
} kv_rocks_opts;

/* A small default for tests and tools; the kvnode passes its block-cache-size setting. */
#define KV_ROCKS_BLOCK_CACHE_BYTES_DEFAULT (8u * 1024 * 1024)

/* Opens (or creates) the database at opts->path. Returns 0 with *out (close with
 * kv_engine_close), CM_E_INVALID (no path) or CM_E_IO (RocksDB's message in err). */
int kv_rocks_open(const kv_rocks_opts *opts, kv_engine **out, cm_err *err);

#endif
