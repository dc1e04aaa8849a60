/* pd_cluster.c — the cluster map and its persistence; see pd_cluster.h. */
#include "pd_cluster.h"

#include "cm_assert.h"
#include "cm_log.h"
#include "pd_pbconv.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define KEY_CLUSTER_ID "meta/cluster_id"
#define KEY_BOOTSTRAP  "meta/bootstrap"
#define KEY_GC         "gc/safe_point"
#define PREFIX_STORE   "store/"
#define PREFIX_REGION  "region/"

typedef struct id_key {
    uint8_t b[16];
    size_t len;
} id_key;

static id_key make_id_key(const char *prefix, uint64_t id)
{
    id_key k;
    size_t p = strlen(prefix);
    CM_ASSERT(p + 8 <= sizeof(k.b));
    memcpy(k.b, prefix, p);
    for (int i = 0; i < 8; i++) {
        k.b[p + (size_t)i] = (uint8_t)(id >> (56 - 8 * i));
    }
    k.len = p + 8;
    return k;
}

static cm_slice id_key_slice(const id_key *k)
{
    return cm_slice_make(k->b, k->len);
}

static int pack_region(const pd_region *r, cm_buf *out)
{
    pd_region_pb pb;
    pd_region_to_pb(r, &pb);
    size_t n = tessera__pdpb__region_info__get_packed_size(&pb.info);
    int rc = cm_buf_reserve(out, n);
    if (rc != 0) {
        return rc;
    }
    out->len += tessera__pdpb__region_info__pack(&pb.info, out->ptr + out->len);
    return 0;
}

static int pack_store(const pd_store *s, cm_buf *out)
{
    pd_store_pb pb;
    pd_store_to_pb(s, PD_STORE_LIVE_UP, 0, &pb);
    size_t n = tessera__metapb__store__get_packed_size(&pb.store);
    int rc = cm_buf_reserve(out, n);
    if (rc != 0) {
        return rc;
    }
    out->len += tessera__metapb__store__pack(&pb.store, out->ptr + out->len);
    return 0;
}

/* ---- loading ----------------------------------------------------------------------------- */

typedef struct load_ctx {
    pd_cluster *c;
    uint64_t now_ms;
    int rc;
    cm_err *err;
} load_ctx;

static int load_store_cb(void *user, cm_slice key, cm_slice value)
{
    load_ctx *l = user;
    Tessera__Metapb__Store *m = tessera__metapb__store__unpack(NULL, value.len, value.ptr);
    if (m == NULL) {
        l->rc = cm_err_set(l->err, CM_E_CORRUPT, "pd storage: store record does not decode");
        return 1;
    }
    pd_store s;
    int rc = pd_store_from_pb(m, &s, l->err);
    tessera__metapb__store__free_unpacked(m, NULL);
    if (rc == 0) {
        rc = pd_store_table_put(&l->c->stores, &s, l->now_ms, l->err);
    }
    l->rc = rc;
    return rc != 0;
}

static int load_region_cb(void *user, cm_slice key, cm_slice value)
{
    load_ctx *l = user;
    Tessera__Pdpb__RegionInfo *m = tessera__pdpb__region_info__unpack(NULL, value.len, value.ptr);
    if (m == NULL) {
        l->rc = cm_err_set(l->err, CM_E_CORRUPT, "pd storage: region record does not decode");
        return 1;
    }
    pd_region r;
    pd_region_init(&r);
    int rc = pd_region_from_pb(m, &r, l->err);
    tessera__pdpb__region_info__free_unpacked(m, NULL);
    if (rc == 0) {
        cm_err why;
        if (pd_region_tree_check(&l->c->regions, &r, &why) != PD_REGION_STALE) {
            rc = pd_region_tree_put(&l->c->regions, &r, NULL, NULL);
        } else {
            CM_WARN("pd", "load: skipping stored region %" PRIu64 ": %s", r.id, why.msg);
        }
    }
    pd_region_fini(&r);
    l->rc = rc;
    return rc != 0;
}

static int load_or_create_id(pd_cluster *c, const pd_cluster_options *o, cm_err *err)
{
    int rc = pd_kv_get_u64(c->kv, KEY_CLUSTER_ID, &c->cluster_id, err);
    if (rc == CM_E_NOT_FOUND) {
        CM_ASSERT(o->new_cluster_id != 0);
        c->cluster_id = o->new_cluster_id;
        rc = pd_kv_put_u64(c->kv, KEY_CLUSTER_ID, c->cluster_id, 1, err);
        if (rc == 0) {
            CM_INFO("pd", "new cluster id=%" PRIu64, c->cluster_id);
        }
    }
    return rc;
}

static int load_bootstrap(pd_cluster *c, cm_err *err)
{
    cm_buf b = CM_BUF_INIT;
    int rc = pd_kv_get(c->kv, cm_slice_cstr(KEY_BOOTSTRAP), &b, err);
    if (rc == CM_E_NOT_FOUND) {
        cm_buf_fini(&b);
        cm_err_clear(err);
        return 0;
    }
    if (rc == 0) {
        cm_reader r;
        cm_reader_init(&r, b.ptr, b.len);
        if (b.len != 16 || cm_reader_u64be(&r, &c->bootstrap_store_id) != 0 ||
            cm_reader_u64be(&r, &c->bootstrap_region_id) != 0) {
            rc = cm_err_set(err, CM_E_CORRUPT, "pd storage: bad bootstrap record");
        } else {
            c->bootstrapped = 1;
        }
    }
    cm_buf_fini(&b);
    return rc;
}

int pd_cluster_open(pd_cluster *c, pd_kv *kv, pd_id_alloc *ids, const pd_cluster_options *o,
                    uint64_t now_ms, cm_err *err)
{
    memset(c, 0, sizeof(*c));
    c->kv = kv;
    c->ids = ids;
    pd_store_table_init(&c->stores, o->heartbeat_timeout_ms, o->max_down_time_ms);
    int rc = pd_region_tree_init(&c->regions);
    if (rc != 0) {
        pd_store_table_fini(&c->stores);
        return cm_err_set(err, rc, "cluster: out of memory");
    }
    pthread_mutex_init(&c->mu, NULL);
    rc = load_or_create_id(c, o, err);
    if (rc == 0) {
        rc = load_bootstrap(c, err);
    }
    if (rc == 0) {
        rc = pd_kv_get_u64(kv, KEY_GC, &c->gc_safe_point, err);
        if (rc == CM_E_NOT_FOUND) {
            c->gc_safe_point = 0;
            cm_err_clear(err);
            rc = 0;
        }
    }
    load_ctx l = {c, now_ms, 0, err};
    if (rc == 0) {
        rc = pd_kv_scan(kv, cm_slice_cstr(PREFIX_STORE), load_store_cb, &l, err);
        rc = rc ? rc : l.rc;
    }
    if (rc == 0) {
        rc = pd_kv_scan(kv, cm_slice_cstr(PREFIX_REGION), load_region_cb, &l, err);
        rc = rc ? rc : l.rc;
    }
    if (rc != 0) {
        pd_cluster_close(c);
        return rc;
    }
    CM_INFO("pd",
            "cluster loaded id=%" PRIu64 " bootstrapped=%d stores=%zu regions=%zu gc=%" PRIu64,
            c->cluster_id, c->bootstrapped, pd_store_table_size(&c->stores),
            pd_region_tree_count(&c->regions), c->gc_safe_point);
    return 0;
}

void pd_cluster_close(pd_cluster *c)
{
    pd_region_tree_fini(&c->regions);
    pd_store_table_fini(&c->stores);
    pthread_mutex_destroy(&c->mu);
}

uint64_t pd_cluster_id(pd_cluster *c)
{
    return c->cluster_id; /* set once at open */
}

int pd_cluster_is_bootstrapped(pd_cluster *c)
{
    pthread_mutex_lock(&c->mu);
    int b = c->bootstrapped;
    pthread_mutex_unlock(&c->mu);
    return b;
}

/* ---- stores ------------------------------------------------------------------------------ */

/* Creates the first region [-inf, +inf) with one peer on store_id and persists it with the store
 * and the bootstrap record in one synced write. Called with mu held. */
static int bootstrap_locked(pd_cluster *c, const pd_store *s, uint64_t now_ms, cm_err *err)
{
    uint64_t first = 0;
    int rc = pd_id_alloc_n(c->ids, 2, &first, err);
    if (rc != 0) {
        return rc;
    }
    pd_region r;
    pd_region_init(&r);
    r.id = first;
    r.conf_ver = 1;
    r.version = 1;
    r.npeers = 1;
    r.peers[0].id = first + 1;
    r.peers[0].store_id = s->id;
    cm_buf sbuf = CM_BUF_INIT, rbuf = CM_BUF_INIT;
    uint8_t boot[16];
    for (int i = 0; i < 8; i++) {
        boot[i] = (uint8_t)(s->id >> (56 - 8 * i));
        boot[8 + i] = (uint8_t)(r.id >> (56 - 8 * i));
    }
    id_key sk = make_id_key(PREFIX_STORE, s->id), rk = make_id_key(PREFIX_REGION, r.id);
    rc = pack_store(s, &sbuf);
    if (rc == 0) {
        rc = pack_region(&r, &rbuf);
    }
    if (rc == 0) {
        pd_kv_op ops[3] = {
            {PD_KV_PUT, id_key_slice(&sk), cm_buf_slice(&sbuf)},
            {PD_KV_PUT, id_key_slice(&rk), cm_buf_slice(&rbuf)},
            {PD_KV_PUT, cm_slice_cstr(KEY_BOOTSTRAP), cm_slice_make(boot, sizeof(boot))},
        };
        rc = pd_kv_write(c->kv, ops, 3, 1, err);
    } else {
        cm_err_set(err, rc, "cluster: out of memory");
    }
    if (rc == 0) {
        rc = pd_store_table_put(&c->stores, s, now_ms, err);
    }
    if (rc == 0) {
        rc = pd_region_tree_put(&c->regions, &r, NULL, NULL);
        if (rc != 0) {
            cm_err_set(err, rc, "cluster: out of memory");
        }
    }
    if (rc == 0) {
        c->bootstrapped = 1;
        c->bootstrap_store_id = s->id;
        c->bootstrap_region_id = r.id;
        CM_INFO("pd", "cluster bootstrapped store=%" PRIu64 " region=%" PRIu64 " peer=%" PRIu64,
                s->id, r.id, r.peers[0].id);
    }
    pd_region_fini(&r);
    cm_buf_fini(&sbuf);
    cm_buf_fini(&rbuf);
    return rc;
}

int pd_cluster_put_store(pd_cluster *c, const pd_store *s, uint64_t now_ms, pd_region *bootstrap,
                         int *has_bootstrap, cm_err *err)
{
    *has_bootstrap = 0;
    pthread_mutex_lock(&c->mu);
    int rc = pd_store_table_check_put(&c->stores, s, err);
    if (rc == 0 && !c->bootstrapped) {
        rc = bootstrap_locked(c, s, now_ms, err);
    } else if (rc == 0) {
        /* A known store keeps its metapb state; persist what the table will hold. */
        pd_store merged = *s;
        const pd_store *old = pd_store_table_get(&c->stores, s->id);
        if (old != NULL) {
            merged.meta_state = old->meta_state;
        }
        cm_buf b = CM_BUF_INIT;
        id_key k = make_id_key(PREFIX_STORE, s->id);
        rc = pack_store(&merged, &b);
        if (rc == 0) {
            rc = pd_kv_put(c->kv, id_key_slice(&k), cm_buf_slice(&b), 1, err);
        } else {
            cm_err_set(err, rc, "cluster: out of memory");
        }
        cm_buf_fini(&b);
        if (rc == 0) {
            rc = pd_store_table_put(&c->stores, &merged, now_ms, err);
        }
    }
    if (rc == 0 && c->bootstrap_store_id == s->id) {
        const pd_region *r = pd_region_tree_by_id(&c->regions, c->bootstrap_region_id);
        if (r != NULL && r->conf_ver == 1 && r->version == 1 && r->npeers == 1 &&
            r->peers[0].store_id == s->id) {
            rc = pd_region_copy(bootstrap, r);
            if (rc == 0) {
                *has_bootstrap = 1;
            } else {
                cm_err_set(err, rc, "cluster: out of memory");
            }
        }
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int pd_cluster_store_heartbeat(pd_cluster *c, uint64_t store_id, const pd_store_stats *st,
                               uint64_t now_ms, cm_err *err)
{
    pthread_mutex_lock(&c->mu);
    int rc = pd_store_table_heartbeat(&c->stores, store_id, st, now_ms, err);
    c->stats.store_heartbeats++;
    pthread_mutex_unlock(&c->mu);
    return rc;
}

typedef struct count_peers_ctx {
    uint64_t store_id;
    uint64_t n;
} count_peers_ctx;

static int count_peers_cb(void *user, const pd_region *r)
{
    count_peers_ctx *x = user;
    for (uint32_t i = 0; i < r->npeers; i++) {
        if (r->peers[i].store_id == x->store_id) {
            x->n++;
        }
    }
    return 0;
}

int pd_cluster_set_store_state(pd_cluster *c, uint64_t store_id, int meta_state, cm_err *err)
{
    if (meta_state < PD_STORE_META_UP || meta_state > PD_STORE_META_TOMBSTONE) {
        return cm_err_set(err, CM_E_INVALID, "store: unknown state %d", meta_state);
    }
    pthread_mutex_lock(&c->mu);
    count_peers_ctx cnt = {store_id, 0};
    if (meta_state == PD_STORE_META_TOMBSTONE) {
        pd_region_tree_scan(&c->regions, cm_slice_make(NULL, 0), cm_slice_make(NULL, 0), 0,
                            count_peers_cb, &cnt);
    }
    const pd_store *old = pd_store_table_get(&c->stores, store_id);
    int rc;
    if (old == NULL) {
        rc = cm_err_set(err, CM_E_NOT_FOUND, "store %" PRIu64 " is not registered", store_id);
    } else {
        /* Apply in memory (which checks the transition), persist, undo if that fails. */
        pd_store next = *old;
        int from = old->meta_state;
        rc = pd_store_table_set_state(&c->stores, store_id, meta_state, cnt.n, err);
        if (rc == 0 && from != meta_state) {
            next.meta_state = meta_state;
            cm_buf b = CM_BUF_INIT;
            id_key k = make_id_key(PREFIX_STORE, store_id);
            rc = pack_store(&next, &b);
            if (rc == 0) {
                rc = pd_kv_put(c->kv, id_key_slice(&k), cm_buf_slice(&b), 1, err);
            } else {
                cm_err_set(err, rc, "cluster: out of memory");
            }
            cm_buf_fini(&b);
            if (rc != 0) {
                /* Not durable: undo, so memory never claims a state storage does not hold. */
                pd_store *in = pd_idmap_get(&c->stores.by_id, store_id);
                in->meta_state = from;
            } else {
                CM_INFO("pd", "store %" PRIu64 " state %d -> %d", store_id, from, meta_state);
            }
        }
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int pd_cluster_get_store(pd_cluster *c, uint64_t store_id, uint64_t now_ms, pd_store *out,
                         pd_store_live *live, cm_err *err)
{
    pthread_mutex_lock(&c->mu);
    const pd_store *s = pd_store_table_get(&c->stores, store_id);
    int rc = 0;
    if (s == NULL) {
        rc = cm_err_set(err, CM_E_NOT_FOUND, "store %" PRIu64 " is not registered", store_id);
    } else {
        *out = *s;
        *live = pd_store_table_live(&c->stores, s, now_ms);
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

typedef struct store_visit_ctx {
    pd_cluster *c;
    uint64_t now_ms;
    int exclude_tombstone;
    int (*cb)(void *user, const pd_store *s, pd_store_live live);
    void *user;
} store_visit_ctx;

static int store_visit_cb(void *user, const pd_store *s)
{
    store_visit_ctx *v = user;
    pd_store_live live = pd_store_table_live(&v->c->stores, s, v->now_ms);
    if (v->exclude_tombstone && live == PD_STORE_LIVE_TOMBSTONE) {
        return 0;
    }
    return v->cb(v->user, s, live);
}

void pd_cluster_foreach_store(pd_cluster *c, uint64_t now_ms, int exclude_tombstone,
                              int (*cb)(void *user, const pd_store *s, pd_store_live live),
                              void *user)
{
    store_visit_ctx v = {c, now_ms, exclude_tombstone, cb, user};
    pthread_mutex_lock(&c->mu);
    pd_store_table_foreach(&c->stores, store_visit_cb, &v);
    pthread_mutex_unlock(&c->mu);
}

void pd_cluster_store_counts(pd_cluster *c, uint64_t now_ms, uint64_t counts[PD_STORE_LIVE_COUNT])
{
    pthread_mutex_lock(&c->mu);
    pd_store_table_count(&c->stores, now_ms, counts);
    pthread_mutex_unlock(&c->mu);
}

/* ---- regions ----------------------------------------------------------------------------- */

typedef struct collect_ids_ctx {
    uint64_t ids[64];
    size_t n;
    cm_buf more; /* u64s beyond the first 64 */
    int rc;
} collect_ids_ctx;

static int collect_ids_cb(void *user, const pd_region *r)
{
    collect_ids_ctx *x = user;
    if (x->n < CM_ARRAY_LEN(x->ids)) {
        x->ids[x->n++] = r->id;
    } else if (cm_buf_append(&x->more, &r->id, sizeof(r->id)) != 0) {
        x->rc = CM_E_NOMEM;
        return 1;
    }
    return 0;
}

/* Persists r and deletes the regions it replaces, in one unsynced write. Called with mu held. */
static int persist_region_locked(pd_cluster *c, const pd_region *r, cm_err *err)
{
    collect_ids_ctx x;
    memset(&x, 0, sizeof(x));
    pd_region_tree_scan(&c->regions, cm_buf_slice(&r->start_key), cm_buf_slice(&r->end_key), 0,
                        collect_ids_cb, &x);
    const pd_region *same = pd_region_tree_by_id(&c->regions, r->id);
    size_t more = x.more.len / sizeof(uint64_t);
    size_t nops = 1 + x.n + more + (same != NULL);
    pd_kv_op *ops = calloc(nops, sizeof(*ops));
    id_key *keys = calloc(nops, sizeof(*keys));
    cm_buf val = CM_BUF_INIT;
    int rc = x.rc;
    if (ops == NULL || keys == NULL) {
        rc = CM_E_NOMEM;
    }
    if (rc == 0) {
        rc = pack_region(r, &val);
    }
    if (rc == 0) {
        size_t k = 0;
        keys[k] = make_id_key(PREFIX_REGION, r->id);
        ops[k] = (pd_kv_op){PD_KV_PUT, id_key_slice(&keys[k]), cm_buf_slice(&val)};
        k++;
        for (size_t i = 0; i < x.n + more + (same != NULL); i++) {
            uint64_t id;
            if (i < x.n) {
                id = x.ids[i];
            } else if (i < x.n + more) {
                memcpy(&id, x.more.ptr + (i - x.n) * sizeof(uint64_t), sizeof(id));
            } else {
                id = same->id;
            }
            if (id == r->id) {
                continue; /* the PUT above overwrites it */
            }
            keys[k] = make_id_key(PREFIX_REGION, id);
            ops[k] = (pd_kv_op){PD_KV_DEL, id_key_slice(&keys[k]), cm_slice_make(NULL, 0)};
            k++;
        }
        rc = pd_kv_write(c->kv, ops, k, 0, err);
    } else {
        cm_err_set(err, rc, "cluster: out of memory");
    }
    free(ops);
    free(keys);
    cm_buf_fini(&val);
    cm_buf_fini(&x.more);
    return rc;
}

static void log_removed_cb(void *user, const pd_region *old)
{
    const pd_region *r = user;
    if (old->id != r->id) {
        CM_INFO("pd",
                "region %" PRIu64 " (conf_ver %" PRIu64 ", version %" PRIu64
                ") replaced by region %" PRIu64 " (conf_ver %" PRIu64 ", version %" PRIu64 ")",
                old->id, old->conf_ver, old->version, r->id, r->conf_ver, r->version);
    }
}

int pd_cluster_region_heartbeat(pd_cluster *c, const pd_region *r, cm_err *err)
{
    pthread_mutex_lock(&c->mu);
    c->stats.region_heartbeats++;
    int rc = 0;
    switch (pd_region_tree_check(&c->regions, r, err)) {
    case PD_REGION_STALE:
        c->stats.region_stale++;
        rc = CM_E_STALE_EPOCH;
        CM_DEBUG("pd", "%s", err ? err->msg : "stale region report");
        break;
    case PD_REGION_SAME_META:
        pd_region_tree_update_stats(&c->regions, r);
        break;
    case PD_REGION_NEWER:
        rc = persist_region_locked(c, r, err);
        if (rc == 0) {
            rc = pd_region_tree_put(&c->regions, r, log_removed_cb, (void *)r);
            if (rc != 0) {
                cm_err_set(err, rc, "cluster: out of memory");
            }
        }
        if (rc == 0) {
            c->stats.region_updates++;
        }
        break;
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int pd_cluster_region_by_key(pd_cluster *c, cm_slice key, pd_region *out, cm_err *err)
{
    pthread_mutex_lock(&c->mu);
    const pd_region *r = pd_region_tree_by_key(&c->regions, key);
    int rc;
    if (r == NULL) {
        rc = cm_err_set(err, CM_E_REGION_NOT_FOUND, "no region covers the key");
    } else {
        rc = pd_region_copy(out, r);
        if (rc != 0) {
            cm_err_set(err, rc, "cluster: out of memory");
        }
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int pd_cluster_region_by_id(pd_cluster *c, uint64_t id, pd_region *out, cm_err *err)
{
    pthread_mutex_lock(&c->mu);
    const pd_region *r = pd_region_tree_by_id(&c->regions, id);
    int rc;
    if (r == NULL) {
        rc = cm_err_set(err, CM_E_REGION_NOT_FOUND, "region %" PRIu64 " not found", id);
    } else {
        rc = pd_region_copy(out, r);
        if (rc != 0) {
            cm_err_set(err, rc, "cluster: out of memory");
        }
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void pd_cluster_scan_regions(pd_cluster *c, cm_slice start, cm_slice end, size_t limit,
                             pd_region_visit_cb cb, void *user)
{
    pthread_mutex_lock(&c->mu);
    pd_region_tree_scan(&c->regions, start, end, limit, cb, user);
    pthread_mutex_unlock(&c->mu);
}

uint64_t pd_cluster_region_count(pd_cluster *c)
{
    pthread_mutex_lock(&c->mu);
    uint64_t n = pd_region_tree_count(&c->regions);
    pthread_mutex_unlock(&c->mu);
    return n;
}

/* ---- GC safe point ----------------------------------------------------------------------- */

uint64_t pd_cluster_gc_safe_point(pd_cluster *c)
{
    pthread_mutex_lock(&c->mu);
    uint64_t v = c->gc_safe_point;
    pthread_mutex_unlock(&c->mu);
    return v;
}

int pd_cluster_update_gc_safe_point(pd_cluster *c, uint64_t sp, uint64_t *now_sp, cm_err *err)
{
    pthread_mutex_lock(&c->mu);
    int rc = 0;
    if (sp > c->gc_safe_point) {
        rc = pd_kv_put_u64(c->kv, KEY_GC, sp, 1, err);
        if (rc == 0) {
            CM_INFO("pd", "gc safe point %" PRIu64 " -> %" PRIu64, c->gc_safe_point, sp);
            c->gc_safe_point = sp;
        }
    }
    *now_sp = c->gc_safe_point;
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void pd_cluster_get_stats(pd_cluster *c, pd_cluster_stats *out)
{
    pthread_mutex_lock(&c->mu);
    *out = c->stats;
    pthread_mutex_unlock(&c->mu);
}
