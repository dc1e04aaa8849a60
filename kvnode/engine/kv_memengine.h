/*
 * kv_memengine.h — the in-memory engine for deterministic simulation (DESIGN.md §9).
 *
 * Same contract as every engine (kv_engine.h), with the harshest crash allowed: kv_engine_crash
 * rolls every column family back to the last durable point, so each write that was not followed
 * by a sync (a sync write or kv_engine_sync) is lost. Nothing in it depends on time, threads
 * or randomness, so a simulation replays exactly from its seed.
 *
 * Inside, each column family is a persistent (immutable, path-copying) treap whose node
 * priorities are a fixed hash of the key: a snapshot or the durable state is just a set of
 * shared roots, taking one costs O(1), and a write batch copies O(log n) nodes per key.
 * Reference counts free what no root reaches any more.
 */
#ifndef KV_MEMENGINE_H
#define KV_MEMENGINE_H

#include "kv_engine.h"

/* Creates an empty memory engine. Returns 0 with *out (close with kv_engine_close) or
 * CM_E_NOMEM. */
int kv_memengine_open(kv_engine **out, cm_err *err);

#endif
