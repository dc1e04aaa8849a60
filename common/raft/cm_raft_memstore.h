/*
 * cm_raft_memstore.h — an in-memory implementation of cm_raft_storage_ops (what etcd calls
 * MemoryStorage). Unit tests, the simulator's disk model and the benchmark use it; the kvnode
 * puts its log in RocksDB behind the same callbacks.
 *
 * Layout: a base point (base_index, base_term, base_conf) — everything at or below it is
 * compacted — then entries base_index+1 .. last, and separately the latest snapshot (meta and
 * data), whose index is >= base_index.
 */
#ifndef CM_RAFT_MEMSTORE_H
#define CM_RAFT_MEMSTORE_H

#include "cm_raft.h"

typedef struct cm_raft_memstore {
    cm_raft_hard_state hs;
    uint64_t base_index;
    uint64_t base_term;
    cm_raft_conf base_conf;
    cm_raft_entry *ents; /* owned; data malloc'ed */
    size_t n;
    size_t cap;
    cm_raft_snapshot_meta snap; /* index 0: none yet */
    cm_buf snap_data;           /* owned */
} cm_raft_memstore;

extern const cm_raft_storage_ops cm_raft_memstore_ops;

void cm_raft_memstore_init(cm_raft_memstore *ms);
void cm_raft_memstore_fini(cm_raft_memstore *ms);
uint64_t cm_raft_memstore_last_index(const cm_raft_memstore *ms);
/* Term at index (base point included); 0 when unknown. */
uint64_t cm_raft_memstore_term(const cm_raft_memstore *ms, uint64_t index);
/* Appends copies of ents, dropping any stored entry at index >= ents[0].index. Entries at or
 * below the base point are skipped. Returns 0, CM_E_INVALID (gap) or CM_E_NOMEM. */
int cm_raft_memstore_append(cm_raft_memstore *ms, const cm_raft_entry *ents, size_t n);
/* Drops every entry after index (a torn write model for simulators). */
void cm_raft_memstore_truncate_after(cm_raft_memstore *ms, uint64_t index);
void cm_raft_memstore_set_hard_state(cm_raft_memstore *ms, const cm_raft_hard_state *hs);
/* Replaces the whole log by snapshot s (data copied): the base point becomes s's index. */
int cm_raft_memstore_apply_snapshot(cm_raft_memstore *ms, const cm_raft_snapshot *s);
/* Records a snapshot the application took at index (<= last, >= base) with configuration conf
 * and state data (copied). Does not compact. */
int cm_raft_memstore_create_snapshot(cm_raft_memstore *ms, uint64_t index, const cm_raft_conf *conf,
                                     cm_slice data);
/* Drops entries up to index (<= the snapshot's index), moving the base point there. */
int cm_raft_memstore_compact(cm_raft_memstore *ms, uint64_t index);

#endif
