/* cm_region_cache.c — sorted array of regions by start key plus an id hash; see
 * cm_region_cache.h. */
#include "cm_region_cache.h"

#include "cm_assert.h"
#include "cm_err.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct id_slot {
    uint64_t id; /* 0: empty */
    cm_pd_region *r;
} id_slot;

struct cm_region_cache {
    pthread_rwlock_t lock;
    size_t max_entries;
    cm_pd_region **v; /* sorted by start key, non-overlapping */
    size_t n, cap;
    id_slot *ids; /* open addressing, linear probing, load <= 1/2 */
    size_t ids_cap, n_ids;
};

/* ---- id hash ----------------------------------------------------------------------------- */

static size_t id_home(uint64_t id, size_t cap)
{
    return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1);
}

static cm_pd_region *id_get(const cm_region_cache *c, uint64_t id)
{
    if (c->ids_cap == 0) {
        return NULL;
    }
    for (size_t i = id_home(id, c->ids_cap);; i = (i + 1) & (c->ids_cap - 1)) {
        if (c->ids[i].id == id) {
            return c->ids[i].r;
        }
        if (c->ids[i].id == 0) {
            return NULL;
        }
    }
}

static int id_put(cm_region_cache *c, uint64_t id, cm_pd_region *r)
{
    if ((c->n_ids + 1) * 2 > c->ids_cap) {
        size_t cap = c->ids_cap ? c->ids_cap * 2 : 64;
        id_slot *slots = calloc(cap, sizeof(*slots));
        if (slots == NULL) {
            return CM_E_NOMEM;
        }
        for (size_t i = 0; i < c->ids_cap; i++) {
            if (c->ids[i].id != 0) {
                size_t j = id_home(c->ids[i].id, cap);
                while (slots[j].id != 0) {
                    j = (j + 1) & (cap - 1);
                }
                slots[j] = c->ids[i];
            }
        }
        free(c->ids);
        c->ids = slots;
        c->ids_cap = cap;
    }
    size_t i = id_home(id, c->ids_cap);
    while (c->ids[i].id != 0 && c->ids[i].id != id) {
        i = (i + 1) & (c->ids_cap - 1);
    }
    if (c->ids[i].id == 0) {
        c->n_ids++;
    }
    c->ids[i].id = id;
    c->ids[i].r = r;
    return 0;
}

static void id_del(cm_region_cache *c, uint64_t id)
{
    if (c->ids_cap == 0) {
        return;
    }
    size_t mask = c->ids_cap - 1;
    size_t i = id_home(id, c->ids_cap);
    while (c->ids[i].id != id) {
        if (c->ids[i].id == 0) {
            return;
        }
        i = (i + 1) & mask;
    }
    /* Backward-shift deletion keeps every probe run unbroken. */
    size_t hole = i;
    for (size_t j = (i + 1) & mask; c->ids[j].id != 0; j = (j + 1) & mask) {
        size_t home = id_home(c->ids[j].id, c->ids_cap);
        int stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!stays) {
            c->ids[hole] = c->ids[j];
            hole = j;
        }
    }
    c->ids[hole].id = 0;
    c->ids[hole].r = NULL;
    c->n_ids--;
}

/* ---- array ------------------------------------------------------------------------------- */

/* Index of the last region with start_key <= key, or -1. */
static long find_le(const cm_region_cache *c, cm_slice key)
{
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cm_slice_cmp(cm_buf_slice(&c->v[mid]->start_key), key) <= 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return (long)lo - 1;
}

static void region_free(cm_pd_region *r)
{
    cm_pd_region_fini(r);
    free(r);
}

static void remove_at(cm_region_cache *c, size_t i)
{
    id_del(c, c->v[i]->id);
    region_free(c->v[i]);
    memmove(&c->v[i], &c->v[i + 1], (c->n - i - 1) * sizeof(*c->v));
    c->n--;
}

int cm_region_cache_create(size_t max_entries, cm_region_cache **out)
{
    cm_region_cache *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return CM_E_NOMEM;
    }
    pthread_rwlock_init(&c->lock, NULL);
    c->max_entries = max_entries ? max_entries : 1;
    *out = c;
    return 0;
}

static void clear_locked(cm_region_cache *c)
{
    for (size_t i = 0; i < c->n; i++) {
        region_free(c->v[i]);
    }
    c->n = 0;
    if (c->ids != NULL) {
        memset(c->ids, 0, c->ids_cap * sizeof(*c->ids));
    }
    c->n_ids = 0;
}

void cm_region_cache_free(cm_region_cache *c)
{
    if (c == NULL) {
        return;
    }
    clear_locked(c);
    free(c->v);
    free(c->ids);
    pthread_rwlock_destroy(&c->lock);
    free(c);
}

int cm_region_cache_by_key(cm_region_cache *c, cm_slice key, cm_pd_region *out)
{
    pthread_rwlock_rdlock(&c->lock);
    long i = find_le(c, key);
    int rc = 0;
    if (i >= 0 && cm_pd_region_contains(c->v[i], key)) {
        rc = cm_pd_region_copy(out, c->v[i]) == 0 ? 1 : CM_E_NOMEM;
    }
    pthread_rwlock_unlock(&c->lock);
    return rc;
}

int cm_region_cache_by_id(cm_region_cache *c, uint64_t id, cm_pd_region *out)
{
    pthread_rwlock_rdlock(&c->lock);
    const cm_pd_region *r = id_get(c, id);
    int rc = 0;
    if (r != NULL) {
        rc = cm_pd_region_copy(out, r) == 0 ? 1 : CM_E_NOMEM;
    }
    pthread_rwlock_unlock(&c->lock);
    return rc;
}

static int overlaps(const cm_pd_region *a, const cm_pd_region *b)
{
    cm_slice as = cm_buf_slice(&a->start_key), ae = cm_buf_slice(&a->end_key);
    cm_slice bs = cm_buf_slice(&b->start_key), be = cm_buf_slice(&b->end_key);
    int a_before_b_end = be.len == 0 || cm_slice_cmp(as, be) < 0;
    int b_before_a_end = ae.len == 0 || cm_slice_cmp(bs, ae) < 0;
    return a_before_b_end && b_before_a_end;
}

static int older_than(const cm_pd_region *r, const cm_pd_region *held)
{
    return r->version < held->version || r->conf_ver < held->conf_ver;
}

/* Whether the cache holds something newer than r: the entry of r's id or any entry r overlaps. */
static int cached_newer(const cm_region_cache *c, const cm_pd_region *r, const cm_pd_region *same)
{
    if (same != NULL && older_than(r, same)) {
        return 1;
    }
    long i = find_le(c, cm_buf_slice(&r->start_key));
    for (size_t pos = i < 0 ? 0 : (size_t)i; pos < c->n; pos++) {
        if (overlaps(c->v[pos], r)) {
            if (older_than(r, c->v[pos])) {
                return 1;
            }
        } else if (cm_slice_cmp(cm_buf_slice(&c->v[pos]->start_key), cm_buf_slice(&r->start_key)) >=
                   0) {
            break; /* past r's range */
        }
    }
    return 0;
}

int cm_region_cache_put(cm_region_cache *c, const cm_pd_region *r)
{
    cm_pd_region *copy = malloc(sizeof(*copy));
    if (copy == NULL) {
        return CM_E_NOMEM;
    }
    cm_pd_region_init(copy);
    if (cm_pd_region_copy(copy, r) != 0) {
        region_free(copy);
        return CM_E_NOMEM;
    }
    pthread_rwlock_wrlock(&c->lock);
    const cm_pd_region *old = id_get(c, r->id);
    if (cached_newer(c, r, old)) {
        /* A slower reply carrying an older route must not replace a newer one (PD's own
         * staleness rule, docs/pd.md). */
        pthread_rwlock_unlock(&c->lock);
        region_free(copy);
        return 0;
    }
    if (old != NULL) {
        long at = find_le(c, cm_buf_slice(&old->start_key));
        CM_ASSERT(at >= 0 && c->v[at] == old);
        remove_at(c, (size_t)at);
    }
    if (c->n >= c->max_entries) {
        clear_locked(c);
    }
    /* Drop everything the new range overlaps: possibly the entry starting before it, then the
     * entries starting inside it. */
    long i = find_le(c, cm_buf_slice(&r->start_key));
    size_t pos = i < 0 ? 0 : (size_t)i;
    if (pos < c->n && !overlaps(c->v[pos], r) &&
        cm_slice_cmp(cm_buf_slice(&c->v[pos]->start_key), cm_buf_slice(&r->start_key)) < 0) {
        pos++;
    }
    while (pos < c->n && overlaps(c->v[pos], r)) {
        remove_at(c, pos);
    }
    int rc = 0;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        cm_pd_region **nv = realloc(c->v, cap * sizeof(*nv));
        if (nv == NULL) {
            rc = CM_E_NOMEM;
        } else {
            c->v = nv;
            c->cap = cap;
        }
    }
    if (rc == 0) {
        rc = id_put(c, copy->id, copy);
    }
    if (rc == 0) {
        memmove(&c->v[pos + 1], &c->v[pos], (c->n - pos) * sizeof(*c->v));
        c->v[pos] = copy;
        c->n++;
        copy = NULL;
    }
    pthread_rwlock_unlock(&c->lock);
    if (copy != NULL) {
        region_free(copy);
    }
    return rc;
}

int cm_region_cache_invalidate(cm_region_cache *c, uint64_t id)
{
    pthread_rwlock_wrlock(&c->lock);
    const cm_pd_region *r = id_get(c, id);
    int found = 0;
    if (r != NULL) {
        long at = find_le(c, cm_buf_slice(&r->start_key));
        CM_ASSERT(at >= 0 && c->v[at] == r);
        remove_at(c, (size_t)at);
        found = 1;
    }
    pthread_rwlock_unlock(&c->lock);
    return found;
}

size_t cm_region_cache_invalidate_store(cm_region_cache *c, uint64_t store_id)
{
    size_t dropped = 0;
    pthread_rwlock_wrlock(&c->lock);
    for (size_t i = 0; i < c->n;) {
        int on_store = 0;
        for (uint32_t p = 0; p < c->v[i]->npeers; p++) {
            on_store |= c->v[i]->peers[p].store_id == store_id;
        }
        if (on_store) {
            remove_at(c, i);
            dropped++;
        } else {
            i++;
        }
    }
    pthread_rwlock_unlock(&c->lock);
    return dropped;
}

void cm_region_cache_clear(cm_region_cache *c)
{
    pthread_rwlock_wrlock(&c->lock);
    clear_locked(c);
    pthread_rwlock_unlock(&c->lock);
}

size_t cm_region_cache_count(cm_region_cache *c)
{
    pthread_rwlock_rdlock(&c->lock);
    size_t n = c->n;
    pthread_rwlock_unlock(&c->lock);
    return n;
}
