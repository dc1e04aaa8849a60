/*
 * kv_memengine.c — the in-memory engine: persistent treaps with reference-counted nodes.
 *
 * Ownership discipline of the tree functions: every function BORROWS the trees it is given and
 * returns a tree it OWNS (one reference), except mk(), which takes ownership of the two child
 * trees handed to it. A function that runs out of memory sets ctx->oom and still returns a
 * well-formed (but incomplete) tree, so the caller can release everything and report
 * CM_E_NOMEM without a half-applied batch ever becoming visible.
 *
 * Locking: one mutex guards the roots and every reference count. Nodes and items never change
 * after creation, so iterators and snapshot reads walk them without the lock; only taking or
 * dropping references needs it.
 */
#include "kv_memengine.h"

#include "kv_engine_int.h"

#include "cm_assert.h"

#include <stdlib.h>
#include <string.h>

/* An immutable key/value pair shared by every node version that holds it. */
typedef struct item {
    uint32_t ref;
    uint32_t klen;
    size_t vlen;
    uint64_t prio;  /* treap priority: a fixed hash of the key */
    uint8_t data[]; /* key bytes, then value bytes */
} item;

typedef struct node {
    struct node *l, *r;
    item *it;
    uint64_t count; /* items in this subtree */
    uint64_t bytes; /* key + value bytes in this subtree */
    uint32_t ref;
} node;

typedef struct tctx {
    bool oom;
} tctx;

typedef struct mem_engine {
    kv_engine base;
    pthread_mutex_t mu;
    node *cur[KV_CF_COUNT];     /* the visible state */
    node *durable[KV_CF_COUNT]; /* the state a crash returns to */
} mem_engine;

typedef struct mem_snap {
    kv_snapshot base;
    node *roots[KV_CF_COUNT];
} mem_snap;

typedef struct mem_iter {
    kv_iter base;
    const node *root; /* borrowed from the snapshot */
    const node *cur;  /* NULL: not valid */
} mem_iter;

/* ---- items and nodes ------------------------------------------------------------------- */

static cm_slice item_key(const item *it)
{
    return cm_slice_make(it->data, it->klen);
}

static cm_slice item_value(const item *it)
{
    return cm_slice_make(it->data + it->klen, it->vlen);
}

static uint64_t key_hash(cm_slice k)
{
    /* FNV-1a, then a splitmix64 finalizer so that nearby keys get unrelated priorities. */
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < k.len; i++) {
        h = (h ^ k.ptr[i]) * 0x100000001b3ull;
    }
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h;
}

static item *item_new(cm_slice k, cm_slice v)
{
    item *it = malloc(sizeof(*it) + k.len + v.len);
    if (it == NULL) {
        return NULL;
    }
    it->ref = 1;
    it->klen = (uint32_t)k.len;
    it->vlen = v.len;
    it->prio = key_hash(k);
    if (k.len) {
        memcpy(it->data, k.ptr, k.len);
    }
    if (v.len) {
        memcpy(it->data + k.len, v.ptr, v.len);
    }
    return it;
}

static void item_release(item *it)
{
    if (--it->ref == 0) {
        free(it);
    }
}

static uint64_t cnt(const node *n)
{
    return n ? n->count : 0;
}

static uint64_t nbytes(const node *n)
{
    return n ? n->bytes : 0;
}

static node *retain(node *n)
{
    if (n != NULL) {
        n->ref++;
    }
    return n;
}

static void release(node *n)
{
    while (n != NULL) {
        CM_ASSERT(n->ref > 0);
        if (--n->ref != 0) {
            return;
        }
        node *l = n->l, *r = n->r;
        item_release(n->it);
        free(n);
        /* Recurse on one side, loop on the other: depth stays within the tree height. */
        release(l);
        n = r;
    }
}

/* Takes ownership of l and r; borrows (and retains) it. */
static node *mk(tctx *c, item *it, node *l, node *r)
{
    node *n = malloc(sizeof(*n));
    if (n == NULL) {
        c->oom = true;
        release(l);
        release(r);
        return NULL;
    }
    it->ref++;
    n->it = it;
    n->l = l;
    n->r = r;
    n->ref = 1;
    n->count = 1 + cnt(l) + cnt(r);
    n->bytes = it->klen + it->vlen + nbytes(l) + nbytes(r);
    return n;
}

static int cmp_key(cm_slice a, const node *n)
{
    return cm_slice_cmp(a, item_key(n->it));
}

/* ---- tree operations (borrow inputs, return owned trees) ------------------------------- */

/* Splits t into keys < key (or <= key when incl) and the rest. */
static void split(tctx *c, node *t, cm_slice key, bool incl, node **lo, node **hi)
{
    if (t == NULL) {
        *lo = *hi = NULL;
        return;
    }
    int d = cmp_key(key, t); /* > 0: t's key is smaller than key */
    if (d > 0 || (incl && d == 0)) {
        node *a, *b;
        split(c, t->r, key, incl, &a, &b);
        *lo = mk(c, t->it, retain(t->l), a);
        *hi = b;
    } else {
        node *a, *b;
        split(c, t->l, key, incl, &a, &b);
        *lo = a;
        *hi = mk(c, t->it, b, retain(t->r));
    }
}

/* Every key of a is below every key of b. */
static node *merge(tctx *c, node *a, node *b)
{
    if (a == NULL) {
        return retain(b);
    }
    if (b == NULL) {
        return retain(a);
    }
    if (a->it->prio >= b->it->prio) {
        return mk(c, a->it, retain(a->l), merge(c, a->r, b));
    }
    return mk(c, b->it, merge(c, a, b->l), retain(b->r));
}

/* Inserts or replaces it's key. */
static node *insert(tctx *c, node *t, item *it)
{
    if (t == NULL) {
        return mk(c, it, NULL, NULL);
    }
    cm_slice k = item_key(it);
    int d = cmp_key(k, t);
    if (d == 0) {
        return mk(c, it, retain(t->l), retain(t->r)); /* same key, same priority */
    }
    if (it->prio > t->it->prio) {
        /* The new node goes above t. Its key is not below t: an equal key has the same
         * priority, and the heap order keeps priorities below t at most t's. */
        node *lo, *hi;
        split(c, t, k, false, &lo, &hi);
        return mk(c, it, lo, hi);
    }
    if (d < 0) {
        return mk(c, t->it, insert(c, t->l, it), retain(t->r));
    }
    return mk(c, t->it, retain(t->l), insert(c, t->r, it));
}

static const node *find(const node *t, cm_slice key)
{
    while (t != NULL) {
        int d = cmp_key(key, t);
        if (d == 0) {
            return t;
        }
        t = d < 0 ? t->l : t->r;
    }
    return NULL;
}

static node *erase(tctx *c, node *t, cm_slice key)
{
    int d = cmp_key(key, t);
    if (d == 0) {
        return merge(c, t->l, t->r);
    }
    if (d < 0) {
        return mk(c, t->it, erase(c, t->l, key), retain(t->r));
    }
    return mk(c, t->it, retain(t->l), erase(c, t->r, key));
}

/* Items and bytes of keys < key (or <= key when incl). */
static void rank(const node *t, cm_slice key, bool incl, uint64_t *count, uint64_t *bytes)
{
    *count = 0;
    *bytes = 0;
    while (t != NULL) {
        int d = cmp_key(key, t);
        if (d > 0 || (incl && d == 0)) {
            *count += cnt(t->l) + 1;
            *bytes += nbytes(t->l) + t->it->klen + t->it->vlen;
            t = t->r;
        } else {
            t = t->l;
        }
    }
}

static node *delete_range(tctx *c, node *t, cm_slice start, cm_slice end)
{
    uint64_t a, b, unused;
    rank(t, start, false, &a, &unused);
    rank(t, end, false, &b, &unused);
    if (a == b) {
        return retain(t);
    }
    node *lo, *rest, *mid, *hi;
    split(c, t, start, false, &lo, &rest);
    split(c, rest, end, false, &mid, &hi);
    node *out = merge(c, lo, hi);
    release(lo);
    release(rest);
    release(mid);
    release(hi);
    return out;
}

/* First node with key > key (incl: >=). */
static const node *first_after(const node *t, cm_slice key, bool incl)
{
    const node *best = NULL;
    while (t != NULL) {
        int d = cmp_key(key, t);
        if (d < 0 || (incl && d == 0)) {
            best = t;
            t = t->l;
        } else {
            t = t->r;
        }
    }
    return best;
}

/* Last node with key < key (incl: <=). */
static const node *last_before(const node *t, cm_slice key, bool incl)
{
    const node *best = NULL;
    while (t != NULL) {
        int d = cmp_key(key, t);
        if (d > 0 || (incl && d == 0)) {
            best = t;
            t = t->r;
        } else {
            t = t->l;
        }
    }
    return best;
}

static const node *last_node(const node *t)
{
    while (t != NULL && t->r != NULL) {
        t = t->r;
    }
    return t;
}

/* ---- engine operations ------------------------------------------------------------------ */

static mem_engine *me(kv_engine *e)
{
    return (mem_engine *)e;
}

static void mem_close(kv_engine *e)
{
    mem_engine *m = me(e);
    for (int cf = 0; cf < KV_CF_COUNT; cf++) {
        release(m->cur[cf]);
        release(m->durable[cf]);
    }
    pthread_mutex_destroy(&m->mu);
    kv_engine_base_fini(e);
    free(m);
}

static int copy_value(const node *n, cm_buf *value, cm_err *err)
{
    if (n == NULL) {
        return CM_E_NOT_FOUND;
    }
    cm_buf_reset(value);
    if (cm_buf_append_slice(value, item_value(n->it)) != 0) {
        return cm_err_set(err, CM_E_NOMEM, "memory engine: out of memory for a value");
    }
    return 0;
}

static int mem_get(kv_engine *e, kv_cf cf, cm_slice key, cm_buf *value, cm_err *err)
{
    mem_engine *m = me(e);
    pthread_mutex_lock(&m->mu);
    int rc = copy_value(find(m->cur[cf], key), value, err);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

/* Applies one batch operation to *root (replacing it). */
static void apply_entry(tctx *c, node **root, const kv_batch_entry *e)
{
    node *next = NULL;
    switch (e->op) {
    case KV_BATCH_PUT: {
        item *it = item_new(e->key, e->value);
        if (it == NULL) {
            c->oom = true;
            return;
        }
        next = insert(c, *root, it);
        item_release(it);
        break;
    }
    case KV_BATCH_DELETE:
        if (find(*root, e->key) == NULL) {
            return;
        }
        next = erase(c, *root, e->key);
        break;
    case KV_BATCH_DELETE_RANGE:
        next = delete_range(c, *root, e->key, e->value);
        break;
    }
    release(*root);
    *root = next;
}

static int mem_write(kv_engine *e, const kv_batch *batch, bool sync, cm_err *err)
{
    mem_engine *m = me(e);
    tctx c = {false};
    pthread_mutex_lock(&m->mu);
    node *roots[KV_CF_COUNT];
    for (int cf = 0; cf < KV_CF_COUNT; cf++) {
        roots[cf] = retain(m->cur[cf]);
    }
    kv_batch_cursor cur;
    kv_batch_entry ent;
    kv_batch_iter(batch, &cur);
    while (!c.oom && kv_batch_next(&cur, &ent)) {
        apply_entry(&c, &roots[ent.cf], &ent);
    }
    for (int cf = 0; cf < KV_CF_COUNT; cf++) {
        node *drop = c.oom ? roots[cf] : m->cur[cf];
        if (!c.oom) {
            m->cur[cf] = roots[cf];
        }
        release(drop);
        if (sync && !c.oom) {
            release(m->durable[cf]);
            m->durable[cf] = retain(m->cur[cf]);
        }
    }
    pthread_mutex_unlock(&m->mu);
    if (c.oom) {
        return cm_err_set(err, CM_E_NOMEM, "memory engine: out of memory applying a batch");
    }
    return 0;
}

static int mem_sync(kv_engine *e, cm_err *err)
{
    mem_engine *m = me(e);
    pthread_mutex_lock(&m->mu);
    for (int cf = 0; cf < KV_CF_COUNT; cf++) {
        release(m->durable[cf]);
        m->durable[cf] = retain(m->cur[cf]);
    }
    pthread_mutex_unlock(&m->mu);
    return 0;
}

static int mem_approx_range(kv_engine *e, kv_cf cf, cm_slice start, cm_slice end,
                            kv_range_stats *out, cm_err *err)
{
    mem_engine *m = me(e);
    pthread_mutex_lock(&m->mu);
    const node *t = m->cur[cf];
    uint64_t c0, b0, c1 = cnt(t), b1 = nbytes(t);
    rank(t, start, false, &c0, &b0);
    if (end.len != 0) {
        rank(t, end, false, &c1, &b1);
    }
    pthread_mutex_unlock(&m->mu);
    out->keys = c1 - c0;
    out->bytes = b1 - b0;
    return 0;
}

static int mem_compact_range(kv_engine *e, kv_cf cf, cm_slice start, cm_slice end, cm_err *err)
{
    return 0; /* deleted data is freed as soon as no root reaches it */
}

static int mem_crash(kv_engine *e, cm_err *err)
{
    mem_engine *m = me(e);
    pthread_mutex_lock(&m->mu);
    for (int cf = 0; cf < KV_CF_COUNT; cf++) {
        release(m->cur[cf]);
        m->cur[cf] = retain(m->durable[cf]);
    }
    pthread_mutex_unlock(&m->mu);
    return 0;
}

static int mem_snapshot(kv_engine *e, kv_snapshot **out, cm_err *err)
{
    mem_engine *m = me(e);
    mem_snap *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "memory engine: out of memory for a snapshot");
    }
    pthread_mutex_lock(&m->mu);
    for (int cf = 0; cf < KV_CF_COUNT; cf++) {
        s->roots[cf] = retain(m->cur[cf]);
    }
    pthread_mutex_unlock(&m->mu);
    *out = &s->base;
    return 0;
}

static void mem_snapshot_release(kv_snapshot *base)
{
    mem_snap *s = (mem_snap *)base;
    mem_engine *m = me(base->engine);
    pthread_mutex_lock(&m->mu);
    for (int cf = 0; cf < KV_CF_COUNT; cf++) {
        release(s->roots[cf]);
    }
    pthread_mutex_unlock(&m->mu);
    free(s);
}

static int mem_snapshot_get(kv_snapshot *base, kv_cf cf, cm_slice key, cm_buf *value, cm_err *err)
{
    mem_snap *s = (mem_snap *)base;
    return copy_value(find(s->roots[cf], key), value, err);
}

/* ---- iterators --------------------------------------------------------------------------- */

static mem_iter *mi(kv_iter *it)
{
    return (mem_iter *)it;
}

static const mem_iter *cmi(const kv_iter *it)
{
    return (const mem_iter *)it;
}

static int mem_iter_init(kv_iter *it, cm_err *err)
{
    mem_snap *s = (mem_snap *)it->snap;
    mi(it)->root = s->roots[it->cf];
    mi(it)->cur = NULL;
    return 0;
}

static void mem_iter_fini(kv_iter *it)
{
}

/* Drops the position when it left the bounds. */
static void clamp(mem_iter *m)
{
    if (m->cur == NULL) {
        return;
    }
    cm_slice k = item_key(m->cur->it);
    if (m->base.upper.len != 0 && cm_slice_cmp(k, cm_buf_slice(&m->base.upper)) >= 0) {
        m->cur = NULL;
    } else if (m->base.lower.len != 0 && cm_slice_cmp(k, cm_buf_slice(&m->base.lower)) < 0) {
        m->cur = NULL;
    }
}

static void mem_iter_seek(kv_iter *it, cm_slice key)
{
    mem_iter *m = mi(it);
    m->cur = first_after(m->root, key, true);
    clamp(m);
}

static void mem_iter_seek_for_prev(kv_iter *it, cm_slice key)
{
    mem_iter *m = mi(it);
    m->cur = last_before(m->root, key, true);
    clamp(m);
}

static void mem_iter_seek_to_last(kv_iter *it)
{
    mem_iter *m = mi(it);
    if (it->upper.len != 0) {
        m->cur = last_before(m->root, cm_buf_slice(&it->upper), false);
    } else {
        m->cur = last_node(m->root);
    }
    clamp(m);
}

static void mem_iter_next(kv_iter *it)
{
    mem_iter *m = mi(it);
    m->cur = first_after(m->root, item_key(m->cur->it), false);
    clamp(m);
}

static void mem_iter_prev(kv_iter *it)
{
    mem_iter *m = mi(it);
    m->cur = last_before(m->root, item_key(m->cur->it), false);
    clamp(m);
}

static bool mem_iter_valid(const kv_iter *it)
{
    return cmi(it)->cur != NULL;
}

static cm_slice mem_iter_key(const kv_iter *it)
{
    return item_key(cmi(it)->cur->it);
}

static cm_slice mem_iter_value(const kv_iter *it)
{
    return item_value(cmi(it)->cur->it);
}

static int mem_iter_status(const kv_iter *it, cm_err *err)
{
    return 0;
}

static const kv_engine_ops mem_ops = {
    .name = "memory",
    .crash_drops_unsynced = true,
    .close = mem_close,
    .get = mem_get,
    .write = mem_write,
    .sync = mem_sync,
    .approx_range = mem_approx_range,
    .compact_range = mem_compact_range,
    .crash = mem_crash,
    .snapshot = mem_snapshot,
    .snapshot_release = mem_snapshot_release,
    .snapshot_get = mem_snapshot_get,
    .iter_size = sizeof(mem_iter),
    .iter_init = mem_iter_init,
    .iter_fini = mem_iter_fini,
    .iter_seek = mem_iter_seek,
    .iter_seek_for_prev = mem_iter_seek_for_prev,
    .iter_seek_to_last = mem_iter_seek_to_last,
    .iter_next = mem_iter_next,
    .iter_prev = mem_iter_prev,
    .iter_valid = mem_iter_valid,
    .iter_key = mem_iter_key,
    .iter_value = mem_iter_value,
    .iter_status = mem_iter_status,
};

int kv_memengine_open(kv_engine **out, cm_err *err)
{
    *out = NULL;
    mem_engine *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "memory engine: out of memory");
    }
    kv_engine_base_init(&m->base, &mem_ops);
    pthread_mutex_init(&m->mu, NULL);
    *out = &m->base;
    return 0;
}
