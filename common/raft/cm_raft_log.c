/*
 * cm_raft_log.c — the Raft log as one node sees it: a stable prefix in the application's storage
 * and an unstable tail (entries, or a snapshot received from the leader) kept here until the
 * application reports them durable through cm_raft_advance. Raft reads storage only below the
 * unstable offset, so the application never has to expose writes it has not synced.
 */
#include "cm_raft_int.h"

#include <stdlib.h>
#include <string.h>

size_t cm_raft_entry_size(const cm_raft_entry *e)
{
    /* Payload plus a fixed estimate of the header, so that runs of empty entries are bounded by
     * bytes too. */
    return e->data.len + 16;
}

static void free_entry_data(cm_raft_entry *e)
{
    free((void *)e->data.ptr);
    e->data.ptr = NULL;
    e->data.len = 0;
}

static void free_snap(cm_raft_snapshot *s)
{
    if (s == NULL) {
        return;
    }
    free((void *)s->data.ptr);
    free(s);
}

int raft_log_init(raft_log *l, const cm_raft_storage_ops *ops, void *ctx)
{
    memset(l, 0, sizeof(*l));
    l->ops = ops;
    l->ctx = ctx;
    l->u.offset = ops->last_index_cb(ctx) + 1;
    l->committed = ops->first_index_cb(ctx) - 1;
    l->applied = l->committed;
    return 0;
}

void raft_log_fini(raft_log *l)
{
    for (size_t i = 0; i < l->u.n; i++) {
        free_entry_data(&l->u.ents[i]);
    }
    free(l->u.ents);
    free_snap(l->u.snap);
    memset(l, 0, sizeof(*l));
}

uint64_t raft_log_first_index(const raft_log *l)
{
    if (l->u.snap != NULL) {
        return l->u.snap->meta.index + 1;
    }
    return l->ops->first_index_cb(l->ctx);
}

uint64_t raft_log_last_index(const raft_log *l)
{
    if (l->u.n > 0) {
        return l->u.offset + l->u.n - 1;
    }
    if (l->u.snap != NULL) {
        return l->u.snap->meta.index;
    }
    return l->ops->last_index_cb(l->ctx);
}

uint64_t raft_log_stable_index(const raft_log *l)
{
    if (l->u.snap != NULL) {
        return 0;
    }
    return l->u.offset - 1;
}

int raft_log_term(const raft_log *l, uint64_t index, uint64_t *term)
{
    const raft_unstable *u = &l->u;
    if (u->n > 0 && index >= u->offset) {
        if (index - u->offset >= u->n) {
            return CM_E_UNAVAILABLE;
        }
        *term = u->ents[index - u->offset].term;
        return 0;
    }
    if (u->snap != NULL) {
        if (index == u->snap->meta.index) {
            *term = u->snap->meta.term;
            return 0;
        }
        return index < u->snap->meta.index ? CM_E_NOT_FOUND : CM_E_UNAVAILABLE;
    }
    uint64_t first = l->ops->first_index_cb(l->ctx);
    if (index + 1 < first) {
        return CM_E_NOT_FOUND;
    }
    if (index > l->ops->last_index_cb(l->ctx)) {
        return CM_E_UNAVAILABLE;
    }
    if (index == 0) {
        *term = 0;
        return 0;
    }
    return l->ops->term_cb(l->ctx, index, term);
}

uint64_t raft_log_term_or0(const raft_log *l, uint64_t index)
{
    uint64_t t = 0;
    if (raft_log_term(l, index, &t) != 0) {
        return 0;
    }
    return t;
}

uint64_t raft_log_last_term(const raft_log *l)
{
    return raft_log_term_or0(l, raft_log_last_index(l));
}

bool raft_log_match_term(const raft_log *l, uint64_t index, uint64_t term)
{
    uint64_t t;
    if (raft_log_term(l, index, &t) != 0) {
        return false;
    }
    return t == term;
}

bool raft_log_up_to_date(const raft_log *l, uint64_t last_index, uint64_t last_term)
{
    uint64_t my_term = raft_log_last_term(l);
    return last_term > my_term || (last_term == my_term && last_index >= raft_log_last_index(l));
}

static int unstable_reserve(raft_unstable *u, size_t need)
{
    if (need <= u->cap) {
        return 0;
    }
    size_t cap = u->cap ? u->cap * 2 : 8;
    while (cap < need) {
        cap *= 2;
    }
    cm_raft_entry *p = realloc(u->ents, cap * sizeof(*p));
    if (p == NULL) {
        return CM_E_NOMEM;
    }
    u->ents = p;
    u->cap = cap;
    return 0;
}

int raft_log_append(raft_log *l, const cm_raft_entry *ents, size_t n)
{
    if (n == 0) {
        return 0;
    }
    raft_unstable *u = &l->u;
    uint64_t after = ents[0].index;
    CM_ASSERT(after > l->committed);
    /* Keep only the unstable entries before `after`. */
    if (after <= u->offset) {
        for (size_t i = 0; i < u->n; i++) {
            free_entry_data(&u->ents[i]);
        }
        u->n = 0;
        u->offset = after;
    } else if (after < u->offset + u->n) {
        for (size_t i = after - u->offset; i < u->n; i++) {
            free_entry_data(&u->ents[i]);
        }
        u->n = after - u->offset;
    }
    CM_ASSERT(u->offset + u->n == after);
    int rc = unstable_reserve(u, u->n + n);
    if (rc != 0) {
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        cm_raft_entry *e = &u->ents[u->n];
        *e = ents[i];
        CM_ASSERT(e->index == after + i);
        e->data.ptr = NULL;
        if (ents[i].data.len > 0) {
            uint8_t *p = malloc(ents[i].data.len);
            if (p == NULL) {
                return CM_E_NOMEM;
            }
            memcpy(p, ents[i].data.ptr, ents[i].data.len);
            e->data.ptr = p;
        }
        u->n++;
    }
    return 0;
}

uint64_t raft_log_find_conflict(const raft_log *l, const cm_raft_entry *ents, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!raft_log_match_term(l, ents[i].index, ents[i].term)) {
            return ents[i].index;
        }
    }
    return 0;
}

uint64_t raft_log_find_conflict_by_term(const raft_log *l, uint64_t index, uint64_t term,
                                        uint64_t *term_out)
{
    uint64_t t = 0;
    for (;;) {
        if (raft_log_term(l, index, &t) != 0) {
            t = 0;
            break;
        }
        if (t <= term || index == 0) {
            break;
        }
        index--;
    }
    *term_out = t;
    return index;
}

int raft_log_slice(const raft_log *l, uint64_t lo, uint64_t hi, uint64_t max_bytes, cm_arena *arena,
                   cm_raft_entry **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (lo >= hi) {
        return 0;
    }
    if (lo < raft_log_first_index(l)) {
        return CM_E_NOT_FOUND;
    }
    CM_ASSERT(hi <= raft_log_last_index(l) + 1);
    if (hi - lo > CM_RAFT_MSG_ENTRIES_MAX) {
        hi = lo + CM_RAFT_MSG_ENTRIES_MAX;
    }
    const raft_unstable *u = &l->u;
    cm_raft_entry *stored = NULL;
    size_t n_stored = 0;
    uint64_t bytes = 0;
    if (lo < u->offset && u->snap == NULL) {
        uint64_t shi = hi < u->offset ? hi : u->offset;
        int rc = l->ops->entries_cb(l->ctx, lo, shi, max_bytes, arena, &stored, &n_stored);
        if (rc != 0) {
            return rc;
        }
        if (n_stored == 0) {
            return CM_E_NOT_FOUND;
        }
        for (size_t i = 0; i < n_stored; i++) {
            bytes += cm_raft_entry_size(&stored[i]);
        }
        if (n_stored < shi - lo || shi == hi) {
            *out = stored;
            *n_out = n_stored;
            return 0;
        }
    }
    uint64_t ulo = lo > u->offset ? lo : u->offset;
    size_t n_u = 0;
    for (uint64_t i = ulo; i < hi; i++) {
        uint64_t sz = cm_raft_entry_size(&u->ents[i - u->offset]);
        if (max_bytes != 0 && n_stored + n_u > 0 && bytes + sz > max_bytes) {
            break;
        }
        bytes += sz;
        n_u++;
    }
    cm_raft_entry *all = cm_arena_alloc(arena, (n_stored + n_u) * sizeof(*all));
    if (all == NULL) {
        return CM_E_NOMEM;
    }
    if (n_stored > 0) {
        memcpy(all, stored, n_stored * sizeof(*all));
    }
    for (size_t i = 0; i < n_u; i++) {
        const cm_raft_entry *e = &u->ents[ulo + i - u->offset];
        cm_raft_entry *d = &all[n_stored + i];
        *d = *e;
        if (e->data.len > 0) {
            void *p = cm_arena_memdup(arena, e->data.ptr, e->data.len);
            if (p == NULL) {
                return CM_E_NOMEM;
            }
            d->data = cm_slice_make(p, e->data.len);
        }
    }
    *out = all;
    *n_out = n_stored + n_u;
    return 0;
}

int raft_log_restore(raft_log *l, const cm_raft_snapshot *s)
{
    cm_raft_snapshot *copy = calloc(1, sizeof(*copy));
    if (copy == NULL) {
        return CM_E_NOMEM;
    }
    copy->meta = s->meta;
    if (s->data.len > 0) {
        uint8_t *p = malloc(s->data.len);
        if (p == NULL) {
            free(copy);
            return CM_E_NOMEM;
        }
        memcpy(p, s->data.ptr, s->data.len);
        copy->data = cm_slice_make(p, s->data.len);
    }
    raft_unstable *u = &l->u;
    for (size_t i = 0; i < u->n; i++) {
        free_entry_data(&u->ents[i]);
    }
    u->n = 0;
    free_snap(u->snap);
    u->snap = copy;
    u->offset = s->meta.index + 1;
    l->committed = s->meta.index;
    return 0;
}

void raft_log_stable_to(raft_log *l, uint64_t index, uint64_t term)
{
    raft_unstable *u = &l->u;
    if (u->snap != NULL || u->n == 0 || index < u->offset || index - u->offset >= u->n) {
        return;
    }
    if (u->ents[index - u->offset].term != term) {
        return; /* replaced by a newer leader's entries since the ready was handed out */
    }
    size_t k = index - u->offset + 1;
    for (size_t i = 0; i < k; i++) {
        free_entry_data(&u->ents[i]);
    }
    memmove(u->ents, u->ents + k, (u->n - k) * sizeof(*u->ents));
    u->n -= k;
    u->offset = index + 1;
    if (u->n == 0 && u->cap > 64) {
        free(u->ents); /* idle groups keep no tail memory */
        u->ents = NULL;
        u->cap = 0;
    }
}

void raft_log_stable_snap_to(raft_log *l, uint64_t index)
{
    raft_unstable *u = &l->u;
    if (u->snap != NULL && u->snap->meta.index == index) {
        free_snap(u->snap);
        u->snap = NULL;
    }
}
