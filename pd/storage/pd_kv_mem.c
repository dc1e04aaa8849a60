/*
 * pd_kv_mem.c — an in-memory pd_kv for unit tests (never linked into the pd binary).
 *
 * It keeps two sorted maps: what a reader sees now ("live") and what would survive a crash
 * ("durable"). A synced write makes every earlier write durable with it (a WAL fsync does the
 * same); pd_kv_mem_crash() throws away what was never synced, so tests can check that the TSO
 * mark and id window are synced before anything under them is handed out.
 */
#include "pd_kv.h"

#include <stdlib.h>
#include <string.h>

typedef struct mem_entry {
    cm_buf key;
    cm_buf value;
} mem_entry;

typedef struct mem_map {
    mem_entry *v;
    size_t n, cap;
} mem_map;

typedef struct mem_impl {
    mem_map live;
    mem_map durable;
    int fail_writes;
    int sync_count;
} mem_impl;

static size_t map_find(const mem_map *m, cm_slice key, int *found)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cm_slice_cmp(cm_buf_slice(&m->v[mid].key), key);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *found = 0;
    return lo;
}

static int map_put(mem_map *m, cm_slice key, cm_slice value)
{
    int found;
    size_t i = map_find(m, key, &found);
    if (found) {
        cm_buf_reset(&m->v[i].value);
        return cm_buf_append_slice(&m->v[i].value, value);
    }
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        mem_entry *nv = realloc(m->v, cap * sizeof(*nv));
        if (nv == NULL) {
            return CM_E_NOMEM;
        }
        m->v = nv;
        m->cap = cap;
    }
    memmove(&m->v[i + 1], &m->v[i], (m->n - i) * sizeof(*m->v));
    cm_buf_init(&m->v[i].key);
    cm_buf_init(&m->v[i].value);
    m->n++;
    if (cm_buf_append_slice(&m->v[i].key, key) != 0 ||
        cm_buf_append_slice(&m->v[i].value, value) != 0) {
        return CM_E_NOMEM;
    }
    return 0;
}

static void map_del(mem_map *m, cm_slice key)
{
    int found;
    size_t i = map_find(m, key, &found);
    if (!found) {
        return;
    }
    cm_buf_fini(&m->v[i].key);
    cm_buf_fini(&m->v[i].value);
    memmove(&m->v[i], &m->v[i + 1], (m->n - i - 1) * sizeof(*m->v));
    m->n--;
}

static void map_clear(mem_map *m)
{
    for (size_t i = 0; i < m->n; i++) {
        cm_buf_fini(&m->v[i].key);
        cm_buf_fini(&m->v[i].value);
    }
    free(m->v);
    memset(m, 0, sizeof(*m));
}

static int map_copy(mem_map *dst, const mem_map *src)
{
    map_clear(dst);
    for (size_t i = 0; i < src->n; i++) {
        int rc = map_put(dst, cm_buf_slice(&src->v[i].key), cm_buf_slice(&src->v[i].value));
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static int mem_get(void *impl, cm_slice key, cm_buf *value, cm_err *err)
{
    mem_impl *m = impl;
    int found;
    size_t i = map_find(&m->live, key, &found);
    if (!found) {
        return cm_err_set(err, CM_E_NOT_FOUND, "pd storage: key not found");
    }
    return cm_buf_append_slice(value, cm_buf_slice(&m->live.v[i].value));
}

static int mem_write(void *impl, const pd_kv_op *ops, size_t n, int sync, cm_err *err)
{
    mem_impl *m = impl;
    if (m->fail_writes > 0) {
        m->fail_writes--;
        return cm_err_set(err, CM_E_IO, "pd storage: injected write failure");
    }
    for (size_t i = 0; i < n; i++) {
        if (ops[i].kind == PD_KV_PUT) {
            if (map_put(&m->live, ops[i].key, ops[i].value) != 0) {
                return cm_err_set(err, CM_E_NOMEM, "pd storage: out of memory");
            }
        } else {
            map_del(&m->live, ops[i].key);
        }
    }
    if (sync) {
        m->sync_count++;
        if (map_copy(&m->durable, &m->live) != 0) {
            return cm_err_set(err, CM_E_NOMEM, "pd storage: out of memory");
        }
    }
    return 0;
}

static int mem_scan(void *impl, cm_slice prefix, pd_kv_scan_cb cb, void *user, cm_err *err)
{
    mem_impl *m = impl;
    int found;
    for (size_t i = map_find(&m->live, prefix, &found); i < m->live.n; i++) {
        cm_slice k = cm_buf_slice(&m->live.v[i].key);
        if (k.len < prefix.len || memcmp(k.ptr, prefix.ptr, prefix.len) != 0) {
            break;
        }
        if (cb(user, k, cm_buf_slice(&m->live.v[i].value)) != 0) {
            break;
        }
    }
    return 0;
}

static void mem_close(void *impl)
{
    mem_impl *m = impl;
    map_clear(&m->live);
    map_clear(&m->durable);
    free(m);
}

static const pd_kv_vtable mem_vt = {mem_get, mem_write, mem_scan, mem_close};

int pd_kv_mem_open(pd_kv *out, cm_err *err)
{
    mem_impl *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "pd storage: out of memory");
    }
    out->vt = &mem_vt;
    out->impl = m;
    return 0;
}

void pd_kv_mem_crash(pd_kv *kv)
{
    mem_impl *m = kv->impl;
    (void)map_copy(&m->live, &m->durable);
}

void pd_kv_mem_fail_writes(pd_kv *kv, int n)
{
    ((mem_impl *)kv->impl)->fail_writes = n;
}

int pd_kv_mem_sync_count(pd_kv *kv)
{
    return ((mem_impl *)kv->impl)->sync_count;
}
