/* pd_idmap.c — see pd_idmap.h. */
#include "pd_idmap.h"

#include "cm_assert.h"
#include "cm_err.h"

#include <stdlib.h>

static size_t slot_of(uint64_t id, size_t cap)
{
    /* Fibonacci hashing spreads sequential ids over the table. */
    return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1);
}

void pd_idmap_init(pd_idmap *m)
{
    m->slots = NULL;
    m->cap = 0;
    m->n = 0;
}

void pd_idmap_fini(pd_idmap *m)
{
    free(m->slots);
    pd_idmap_init(m);
}

void *pd_idmap_get(const pd_idmap *m, uint64_t id)
{
    if (m->cap == 0 || id == 0) {
        return NULL;
    }
    for (size_t i = slot_of(id, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->slots[i].id == id) {
            return m->slots[i].value;
        }
        if (m->slots[i].id == 0) {
            return NULL;
        }
    }
}

static void insert_slot(pd_idmap_slot *slots, size_t cap, uint64_t id, void *value)
{
    size_t i = slot_of(id, cap);
    while (slots[i].id != 0 && slots[i].id != id) {
        i = (i + 1) & (cap - 1);
    }
    slots[i].id = id;
    slots[i].value = value;
}

static int grow(pd_idmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 16;
    pd_idmap_slot *slots = calloc(cap, sizeof(*slots));
    if (slots == NULL) {
        return CM_E_NOMEM;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].id != 0) {
            insert_slot(slots, cap, m->slots[i].id, m->slots[i].value);
        }
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return 0;
}

int pd_idmap_put(pd_idmap *m, uint64_t id, void *value)
{
    CM_ASSERT(id != 0);
    /* Load factor stays at or under 1/2 so probes stay short. */
    if ((m->n + 1) * 2 > m->cap) {
        int rc = grow(m);
        if (rc != 0) {
            return rc;
        }
    }
    size_t i = slot_of(id, m->cap);
    while (m->slots[i].id != 0 && m->slots[i].id != id) {
        i = (i + 1) & (m->cap - 1);
    }
    if (m->slots[i].id == 0) {
        m->n++;
    }
    m->slots[i].id = id;
    m->slots[i].value = value;
    return 0;
}

void *pd_idmap_del(pd_idmap *m, uint64_t id)
{
    if (m->cap == 0 || id == 0) {
        return NULL;
    }
    size_t mask = m->cap - 1;
    size_t i = slot_of(id, m->cap);
    while (m->slots[i].id != id) {
        if (m->slots[i].id == 0) {
            return NULL;
        }
        i = (i + 1) & mask;
    }
    void *value = m->slots[i].value;
    /* Backward-shift: move later entries of the probe run into the hole so lookups that pass
     * through it still find them. */
    size_t hole = i;
    for (size_t j = (i + 1) & mask; m->slots[j].id != 0; j = (j + 1) & mask) {
        size_t home = slot_of(m->slots[j].id, m->cap);
        /* The entry at j may move to the hole when its home is not cyclically in (hole, j]. */
        int in_range = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!in_range) {
            m->slots[hole] = m->slots[j];
            hole = j;
        }
    }
    m->slots[hole].id = 0;
    m->slots[hole].value = NULL;
    m->n--;
    return value;
}
