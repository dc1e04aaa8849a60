/*
 * pd_idmap.h — a hash map from a non-zero 64-bit id to a pointer (open addressing, linear
 * probing, backward-shift deletion). Used for regions and stores by id. Not thread-safe: the
 * owner's lock guards it.
 */
#ifndef PD_IDMAP_H
#define PD_IDMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct pd_idmap_slot {
    uint64_t id; /* 0: empty */
    void *value; /* borrowed */
} pd_idmap_slot;

typedef struct pd_idmap {
    pd_idmap_slot *slots;
    size_t cap; /* power of two, or 0 */
    size_t n;
} pd_idmap;

void pd_idmap_init(pd_idmap *m);
void pd_idmap_fini(pd_idmap *m);
/* NULL when absent. */
void *pd_idmap_get(const pd_idmap *m, uint64_t id);
/* Inserts or replaces (id != 0). Returns 0 or CM_E_NOMEM. */
int pd_idmap_put(pd_idmap *m, uint64_t id, void *value);
/* Removes id if present; returns the value it held or NULL. */
void *pd_idmap_del(pd_idmap *m, uint64_t id);
static inline size_t pd_idmap_count(const pd_idmap *m)
{
    return m->n;
}

#endif
