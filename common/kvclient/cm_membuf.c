/* cm_membuf.c — the transaction write buffer with nested checkpoints (cm_membuf.h). */
#include "cm_membuf.h"

#include <stdlib.h>
#include <string.h>

void cm_membuf_init(cm_membuf *m)
{
    memset(m, 0, sizeof(*m));
}

static void undo_fini(cm_membuf_undo *u)
{
    cm_buf_fini(&u->key);
    cm_buf_fini(&u->value);
}

void cm_membuf_fini(cm_membuf *m)
{
    for (size_t i = 0; i < m->n; i++) {
        cm_buf_fini(&m->e[i].key);
        cm_buf_fini(&m->e[i].value);
    }
    for (size_t i = 0; i < m->nundo; i++) {
        undo_fini(&m->undo[i]);
    }
    free(m->e);
    free(m->undo);
    memset(m, 0, sizeof(*m));
}

size_t cm_membuf_lower_bound(const cm_membuf *m, cm_slice key)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cm_slice_cmp(cm_buf_slice(&m->e[mid].key), key) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

const cm_membuf_entry *cm_membuf_get(const cm_membuf *m, cm_slice key)
{
    size_t i = cm_membuf_lower_bound(m, key);
    if (i < m->n && cm_slice_eq(cm_buf_slice(&m->e[i].key), key)) {
        return &m->e[i];
    }
    return NULL;
}

/* Records the state of key before a change (only while a checkpoint is open). */
static int push_undo(cm_membuf *m, cm_slice key, const cm_membuf_entry *old)
{
    if (m->ncps == 0) {
        return 0;
    }
    if (m->nundo == m->capundo) {
        size_t nc = m->capundo ? m->capundo * 2 : 16;
        cm_membuf_undo *u = realloc(m->undo, nc * sizeof(*u));
        if (u == NULL) {
            return CM_E_NOMEM;
        }
        m->undo = u;
        m->capundo = nc;
    }
    cm_membuf_undo *u = &m->undo[m->nundo];
    memset(u, 0, sizeof(*u));
    int rc = cm_buf_append_slice(&u->key, key);
    if (rc == 0 && old != NULL) {
        u->op = old->op;
        rc = cm_buf_append_slice(&u->value, cm_buf_slice(&old->value));
    }
    if (rc != 0) {
        undo_fini(u);
        return rc;
    }
    m->nundo++;
    return 0;
}

/* Puts (op, value) at key without touching the undo log; op 0 removes the key. */
static int apply(cm_membuf *m, uint8_t op, cm_slice key, cm_slice value)
{
    size_t i = cm_membuf_lower_bound(m, key);
    bool found = i < m->n && cm_slice_eq(cm_buf_slice(&m->e[i].key), key);
    if (op == 0) {
        if (found) {
            m->bytes -= m->e[i].key.len + m->e[i].value.len;
            cm_buf_fini(&m->e[i].key);
            cm_buf_fini(&m->e[i].value);
            memmove(&m->e[i], &m->e[i + 1], (m->n - i - 1) * sizeof(m->e[0]));
            m->n--;
        }
        return 0;
    }
    if (!found) {
        if (m->n == m->cap) {
            size_t nc = m->cap ? m->cap * 2 : 16;
            cm_membuf_entry *e = realloc(m->e, nc * sizeof(*e));
            if (e == NULL) {
                return CM_E_NOMEM;
            }
            m->e = e;
            m->cap = nc;
        }
        memmove(&m->e[i + 1], &m->e[i], (m->n - i) * sizeof(m->e[0]));
        memset(&m->e[i], 0, sizeof(m->e[i]));
        m->n++;
        if (cm_buf_append_slice(&m->e[i].key, key) != 0) {
            memmove(&m->e[i], &m->e[i + 1], (m->n - i - 1) * sizeof(m->e[0]));
            m->n--;
            return CM_E_NOMEM;
        }
        m->bytes += key.len;
    }
    cm_membuf_entry *e = &m->e[i];
    m->bytes -= e->value.len;
    cm_buf_reset(&e->value);
    if (cm_buf_append_slice(&e->value, value) != 0) {
        return CM_E_NOMEM;
    }
    m->bytes += e->value.len;
    e->op = op;
    return 0;
}

int cm_membuf_set(cm_membuf *m, cm_membuf_op op, cm_slice key, cm_slice value)
{
    const cm_membuf_entry *old = cm_membuf_get(m, key);
    if (op == CM_MB_LOCK && old != NULL) {
        return 0; /* a write of the key already locks it */
    }
    int rc = push_undo(m, key, old);
    return rc ? rc : apply(m, (uint8_t)op, key, op == CM_MB_PUT ? value : cm_slice_make(NULL, 0));
}

int cm_membuf_checkpoint(cm_membuf *m)
{
    if (m->ncps == CM_MEMBUF_CHECKPOINTS_MAX) {
        return CM_E_TOO_LARGE;
    }
    m->cps[m->ncps++] = m->nundo;
    return (int)m->ncps;
}

int cm_membuf_rollback_to(cm_membuf *m, int id)
{
    if (id < 1 || (size_t)id > m->ncps) {
        return CM_E_INVALID;
    }
    size_t pos = m->cps[id - 1];
    int rc = 0;
    while (m->nundo > pos) {
        cm_membuf_undo *u = &m->undo[m->nundo - 1];
        int arc = apply(m, u->op, cm_buf_slice(&u->key), cm_buf_slice(&u->value));
        rc = rc ? rc : arc;
        undo_fini(u);
        m->nundo--;
    }
    m->ncps = (size_t)id - 1;
    return rc;
}

int cm_membuf_release(cm_membuf *m, int id)
{
    if (id < 1 || (size_t)id > m->ncps) {
        return CM_E_INVALID;
    }
    m->ncps = (size_t)id - 1;
    if (m->ncps == 0) {
        for (size_t i = 0; i < m->nundo; i++) {
            undo_fini(&m->undo[i]);
        }
        m->nundo = 0;
    }
    return 0;
}
