/*
 * kv_latch.h — per-key latches for transaction commands (DESIGN.md §5 "Writes").
 *
 * A command latches every key it will check and write before it reads its snapshot, and holds
 * the latches until its write batch is applied (or its proposal failed), so no check ever runs
 * against state that a pending proposal is about to change. Release may happen on another
 * thread than acquire (the apply path releases).
 *
 * Keys hash into a fixed table of slots; a command holds a set of slots, acquired in ascending
 * slot order, which makes deadlock impossible between commands that each hold one guard (two
 * distinct keys may share a slot: that only serializes them). Rules for callers:
 *   - hold at most one guard at a time per command, and never wait for anything else (another
 *     guard, a proposal) while acquiring;
 *   - release exactly once.
 * kv_latch_acquire blocks (server worker threads); kv_latch_try_acquire never blocks and takes
 * all or nothing, for single-threaded callers such as the simulator's event loop, which retry
 * after the next apply.
 */
#ifndef KV_LATCH_H
#define KV_LATCH_H

#include "cm_buf.h"
#include "cm_err.h"

#include <stddef.h>
#include <stdint.h>

typedef struct kv_latches kv_latches;

/* The slots a command holds: sorted, without duplicates. */
typedef struct kv_latch_guard {
    uint32_t *slots; /* owned */
    size_t n;
} kv_latch_guard;

/* Default table size: TiKV uses 2 Mi slots per store; a few thousand already make collisions
 * between concurrent commands rare at our concurrency (hundreds of commands in flight). */
#define KV_LATCH_SLOTS_DEFAULT 4096
/* Largest table: 16 Mi slots (16 MiB of flags). */
#define KV_LATCH_SLOTS_MAX (16u * 1024 * 1024)

/* Creates a table of slots rounded up to a power of two (0: the default). Returns 0 with *out,
 * CM_E_INVALID (above KV_LATCH_SLOTS_MAX) or CM_E_NOMEM. */
int kv_latches_new(size_t slots, kv_latches **out, cm_err *err);
/* Frees the table; no guard may be held. NULL is a no-op. */
void kv_latches_free(kv_latches *l);

/* Blocks until every key's slot (keys borrowed) is held by *g. Returns 0, or CM_E_NOMEM with
 * nothing held. n may be 0 (an empty guard). */
int kv_latch_acquire(kv_latches *l, const cm_slice *keys, size_t n, kv_latch_guard *g, cm_err *err);
/* Takes every slot at once or none: 0, CM_E_BUSY (some slot is held by another guard; nothing
 * is held) or CM_E_NOMEM. */
int kv_latch_try_acquire(kv_latches *l, const cm_slice *keys, size_t n, kv_latch_guard *g,
                         cm_err *err);
/* Releases every slot of g and wakes waiters; g is empty afterwards. */
void kv_latch_release(kv_latches *l, kv_latch_guard *g);

/* The slot of a key (for tests and diagnostics). */
uint32_t kv_latch_slot(const kv_latches *l, cm_slice key);

#endif
