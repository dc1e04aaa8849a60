/*
 * cm_membuf.h — a transaction's write buffer: an ordered in-memory map from user key to the
 * mutation the transaction will prewrite (put / delete / lock-only), with nested checkpoints
 * for statement staging in the SQL layer (checkpoint, rollback to a checkpoint, release).
 *
 * Layout: a sorted array of entries (binary search; appends in key order are O(1), inserts in
 * the middle move the tail — fine for the transaction sizes of this first cut, see
 * docs/kvclient.md) plus an undo log: every change records what the key held before, and a
 * checkpoint is a position in that log. The log is dropped whenever no checkpoint is open.
 * Not thread-safe (a transaction is used by one thread at a time).
 */
#ifndef CM_MEMBUF_H
#define CM_MEMBUF_H

#include "cm_buf.h"
#include "cm_err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum cm_membuf_op {
    CM_MB_PUT = 1,
    CM_MB_DELETE = 2,
    CM_MB_LOCK = 3, /* lock only: no value change; a later put/delete replaces it */
} cm_membuf_op;

typedef struct cm_membuf_entry {
    cm_buf key;   /* owned */
    cm_buf value; /* owned; CM_MB_PUT only */
    uint8_t op;   /* cm_membuf_op */
} cm_membuf_entry;

typedef struct cm_membuf_undo {
    cm_buf key;
    cm_buf value;
    uint8_t op; /* 0: the key was absent */
} cm_membuf_undo;

/* Most nested checkpoints: statements nest savepoints only a few deep. */
#define CM_MEMBUF_CHECKPOINTS_MAX 64

typedef struct cm_membuf {
    cm_membuf_entry *e;
    size_t n, cap;
    cm_membuf_undo *undo;
    size_t nundo, capundo;
    size_t cps[CM_MEMBUF_CHECKPOINTS_MAX]; /* undo positions */
    size_t ncps;
    size_t bytes; /* keys + values held */
} cm_membuf;

void cm_membuf_init(cm_membuf *m);
void cm_membuf_fini(cm_membuf *m);
/* Records op on key (value for CM_MB_PUT; all borrowed, copied). A lock on a key the buffer
 * already writes changes nothing. Returns 0 or CM_E_NOMEM. */
int cm_membuf_set(cm_membuf *m, cm_membuf_op op, cm_slice key, cm_slice value);
/* The entry of key, or NULL. Borrowed until the next change. */
const cm_membuf_entry *cm_membuf_get(const cm_membuf *m, cm_slice key);
/* Index of the first entry >= key (n when none). */
size_t cm_membuf_lower_bound(const cm_membuf *m, cm_slice key);
/* Opens a checkpoint; returns its id (>= 1) or CM_E_TOO_LARGE when too deeply nested. */
int cm_membuf_checkpoint(cm_membuf *m);
/* Undoes every change since checkpoint id and closes it and every later one. CM_E_INVALID for
 * an id that is not open. */
int cm_membuf_rollback_to(cm_membuf *m, int id);
/* Closes checkpoint id (and later ones) keeping the changes. CM_E_INVALID when not open. */
int cm_membuf_release(cm_membuf *m, int id);

#endif
