/* cm_raft_memstore.c — see cm_raft_memstore.h. */
#include "cm_raft_memstore.h"

#include "cm_assert.h"

#include <stdlib.h>
#include <string.h>

void cm_raft_memstore_init(cm_raft_memstore *ms)
{
    memset(ms, 0, sizeof(*ms));
    cm_buf_init(&ms->snap_data);
}

static void drop_from(cm_raft_memstore *ms, size_t k)
{
    for (size_t i = k; i < ms->n; i++) {
        free((void *)ms->ents[i].data.ptr);
    }
    if (k < ms->n) {
        ms->n = k;
    }
}

void cm_raft_memstore_fini(cm_raft_memstore *ms)
{
    drop_from(ms, 0);
    free(ms->ents);
    cm_buf_fini(&ms->snap_data);
    memset(ms, 0, sizeof(*ms));
}

uint64_t cm_raft_memstore_last_index(const cm_raft_memstore *ms)
{
    return ms->base_index + ms->n;
}

uint64_t cm_raft_memstore_term(const cm_raft_memstore *ms, uint64_t index)
{
    if (index == ms->base_index) {
        return ms->base_term;
    }
    if (index < ms->base_index || index > cm_raft_memstore_last_index(ms)) {
        return 0;
    }
    return ms->ents[index - ms->base_index - 1].term;
}

int cm_raft_memstore_append(cm_raft_memstore *ms, const cm_raft_entry *ents, size_t n)
{
    while (n > 0 && ents[0].index <= ms->base_index) {
        ents++;
        n--;
    }
    if (n == 0) {
        return 0;
    }
    uint64_t first = ents[0].index;
    if (first > cm_raft_memstore_last_index(ms) + 1) {
        return CM_E_INVALID;
    }
    drop_from(ms, (size_t)(first - ms->base_index - 1));
    if (ms->n + n > ms->cap) {
        size_t cap = ms->cap ? ms->cap : 16;
        while (cap < ms->n + n) {
            cap *= 2;
        }
        cm_raft_entry *p = realloc(ms->ents, cap * sizeof(*p));
        if (p == NULL) {
            return CM_E_NOMEM;
        }
        ms->ents = p;
        ms->cap = cap;
    }
    for (size_t i = 0; i < n; i++) {
        cm_raft_entry e = ents[i];
        CM_ASSERT(e.index == first + i);
        e.data.ptr = NULL;
        if (ents[i].data.len > 0) {
            uint8_t *d = malloc(ents[i].data.len);
            if (d == NULL) {
                return CM_E_NOMEM;
            }
            memcpy(d, ents[i].data.ptr, ents[i].data.len);
            e.data.ptr = d;
        }
        ms->ents[ms->n++] = e;
    }
    return 0;
}

void cm_raft_memstore_truncate_after(cm_raft_memstore *ms, uint64_t index)
{
    if (index < ms->base_index) {
        index = ms->base_index;
    }
    if (index < cm_raft_memstore_last_index(ms)) {
        drop_from(ms, (size_t)(index - ms->base_index));
    }
}

void cm_raft_memstore_set_hard_state(cm_raft_memstore *ms, const cm_raft_hard_state *hs)
{
    ms->hs = *hs;
}

int cm_raft_memstore_apply_snapshot(cm_raft_memstore *ms, const cm_raft_snapshot *s)
{
    cm_buf_reset(&ms->snap_data);
    int rc = cm_buf_append_slice(&ms->snap_data, s->data);
    if (rc != 0) {
        return rc;
    }
    drop_from(ms, 0);
    ms->snap = s->meta;
    ms->base_index = s->meta.index;
    ms->base_term = s->meta.term;
    ms->base_conf = s->meta.conf;
    if (ms->hs.commit < s->meta.index) {
        ms->hs.commit = s->meta.index;
    }
    return 0;
}

int cm_raft_memstore_create_snapshot(cm_raft_memstore *ms, uint64_t index, const cm_raft_conf *conf,
                                     cm_slice data)
{
    if (index < ms->base_index || index > cm_raft_memstore_last_index(ms) ||
        index < ms->snap.index) {
        return CM_E_INVALID;
    }
    cm_buf_reset(&ms->snap_data);
    int rc = cm_buf_append_slice(&ms->snap_data, data);
    if (rc != 0) {
        return rc;
    }
    ms->snap.index = index;
    ms->snap.term = cm_raft_memstore_term(ms, index);
    ms->snap.conf = *conf;
    return 0;
}

int cm_raft_memstore_compact(cm_raft_memstore *ms, uint64_t index)
{
    if (index <= ms->base_index) {
        return 0;
    }
    if (index > ms->snap.index || index > cm_raft_memstore_last_index(ms)) {
        return CM_E_INVALID;
    }
    /* The base configuration moves with the base point. */
    size_t k = (size_t)(index - ms->base_index);
    for (size_t i = 0; i < k; i++) {
        const cm_raft_entry *e = &ms->ents[i];
        if (e->type == CM_RAFT_ENTRY_CONF) {
            cm_raft_conf_change cc;
            if (cm_raft_conf_change_decode(e->data, &cc) == 0) {
                (void)cm_raft_conf_apply(&ms->base_conf, &cc);
            }
        }
    }
    ms->base_term = cm_raft_memstore_term(ms, index);
    for (size_t i = 0; i < k; i++) {
        free((void *)ms->ents[i].data.ptr);
    }
    memmove(ms->ents, ms->ents + k, (ms->n - k) * sizeof(*ms->ents));
    ms->n -= k;
    ms->base_index = index;
    return 0;
}

/* ---- cm_raft_storage_ops ----------------------------------------------------------------- */

static int ms_initial_state(void *ctx, cm_raft_hard_state *hs, cm_raft_conf *conf)
{
    cm_raft_memstore *ms = ctx;
    *hs = ms->hs;
    *conf = ms->base_conf;
    return 0;
}

static uint64_t ms_first_index(void *ctx)
{
    cm_raft_memstore *ms = ctx;
    return ms->base_index + 1;
}

static uint64_t ms_last_index(void *ctx)
{
    return cm_raft_memstore_last_index(ctx);
}

static int ms_term(void *ctx, uint64_t index, uint64_t *term)
{
    cm_raft_memstore *ms = ctx;
    if (index < ms->base_index) {
        return CM_E_NOT_FOUND;
    }
    if (index > cm_raft_memstore_last_index(ms)) {
        return CM_E_UNAVAILABLE;
    }
    *term = cm_raft_memstore_term(ms, index);
    return 0;
}

static int ms_entries(void *ctx, uint64_t lo, uint64_t hi, uint64_t max_bytes, cm_arena *arena,
                      cm_raft_entry **out, size_t *n_out)
{
    cm_raft_memstore *ms = ctx;
    *out = NULL;
    *n_out = 0;
    if (lo <= ms->base_index) {
        return CM_E_NOT_FOUND;
    }
    if (hi > cm_raft_memstore_last_index(ms) + 1 || lo >= hi) {
        return CM_E_UNAVAILABLE;
    }
    size_t n = 0;
    uint64_t bytes = 0;
    for (uint64_t i = lo; i < hi; i++) {
        uint64_t sz = cm_raft_entry_size(&ms->ents[i - ms->base_index - 1]);
        if (max_bytes != 0 && n > 0 && bytes + sz > max_bytes) {
            break;
        }
        bytes += sz;
        n++;
    }
    cm_raft_entry *v = cm_arena_alloc(arena, n * sizeof(*v));
    if (v == NULL) {
        return CM_E_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        v[i] = ms->ents[lo - ms->base_index - 1 + i];
        if (v[i].data.len > 0) {
            void *d = cm_arena_memdup(arena, v[i].data.ptr, v[i].data.len);
            if (d == NULL) {
                return CM_E_NOMEM;
            }
            v[i].data = cm_slice_make(d, v[i].data.len);
        }
    }
    *out = v;
    *n_out = n;
    return 0;
}

static int ms_snapshot(void *ctx, cm_arena *arena, cm_raft_snapshot *out)
{
    cm_raft_memstore *ms = ctx;
    if (ms->snap.index == 0) {
        return CM_E_BUSY;
    }
    memset(out, 0, sizeof(*out));
    out->meta = ms->snap;
    if (ms->snap_data.len > 0) {
        void *d = cm_arena_memdup(arena, ms->snap_data.ptr, ms->snap_data.len);
        if (d == NULL) {
            return CM_E_NOMEM;
        }
        out->data = cm_slice_make(d, ms->snap_data.len);
    }
    return 0;
}

const cm_raft_storage_ops cm_raft_memstore_ops = {
    .initial_state_cb = ms_initial_state,
    .first_index_cb = ms_first_index,
    .last_index_cb = ms_last_index,
    .term_cb = ms_term,
    .entries_cb = ms_entries,
    .snapshot_cb = ms_snapshot,
};
