/* sim_oracle.c — see sim_oracle.h. */
#include "sim_oracle.h"

#include "kv_rs_codec.h"

#include <stdlib.h>
#include <string.h>

int __real_kv_engine_write(kv_engine *e, const kv_batch *batch, bool sync, cm_err *err);
int __real_kv_engine_sync(kv_engine *e, cm_err *err);
int __real_kv_engine_crash(kv_engine *e, cm_err *err);
int __wrap_kv_engine_write(kv_engine *e, const kv_batch *batch, bool sync, cm_err *err);
int __wrap_kv_engine_sync(kv_engine *e, cm_err *err);
int __wrap_kv_engine_crash(kv_engine *e, cm_err *err);

typedef struct ent {
    uint64_t region;
    uint64_t index; /* 0: empty slot */
    uint64_t term;
    uint64_t aux; /* truncation table: the truncation index */
} ent;

typedef struct table {
    ent *v;
    size_t cap;
    size_t n;
} table;

typedef struct follow {
    kv_engine *e;
    table durable; /* (region, index) -> term of the log */
    table trunc;   /* (region, 1) -> highest durable truncation point: aux = index, term */
    ent *pending;  /* log entries and truncation points (term | TRUNC_BIT) not yet durable */
    size_t npend;
    size_t cappend;
} follow;

#define TRUNC_BIT (1ull << 63)

static follow stores[SIM_ORACLE_STORES_MAX];
static uint64_t n_writes, n_syncs;

static size_t hash(uint64_t region, uint64_t index, size_t cap)
{
    uint64_t x = region * 0x9e3779b97f4a7c15ull ^ index * 0xbf58476d1ce4e5b9ull;
    x ^= x >> 29;
    return (size_t)x & (cap - 1);
}

static void table_put(table *t, uint64_t region, uint64_t index, uint64_t term, uint64_t aux)
{
    if ((t->n + 1) * 2 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        ent *v = calloc(cap, sizeof(*v));
        if (v == NULL) {
            abort();
        }
        for (size_t i = 0; i < t->cap; i++) {
            if (t->v[i].index != 0) {
                size_t j = hash(t->v[i].region, t->v[i].index, cap);
                while (v[j].index != 0) {
                    j = (j + 1) & (cap - 1);
                }
                v[j] = t->v[i];
            }
        }
        free(t->v);
        t->v = v;
        t->cap = cap;
    }
    size_t j = hash(region, index, t->cap);
    while (t->v[j].index != 0 && (t->v[j].region != region || t->v[j].index != index)) {
        j = (j + 1) & (t->cap - 1);
    }
    if (t->v[j].index == 0) {
        t->n++;
    }
    t->v[j].region = region;
    t->v[j].index = index;
    t->v[j].term = term;
    t->v[j].aux = aux;
}

static const ent *table_get(const table *t, uint64_t region, uint64_t index)
{
    if (t->cap == 0) {
        return NULL;
    }
    size_t j = hash(region, index, t->cap);
    while (t->v[j].index != 0) {
        if (t->v[j].region == region && t->v[j].index == index) {
            return &t->v[j];
        }
        j = (j + 1) & (t->cap - 1);
    }
    return NULL;
}

void sim_oracle_reset(void)
{
    for (int i = 0; i < SIM_ORACLE_STORES_MAX; i++) {
        free(stores[i].durable.v);
        free(stores[i].trunc.v);
        free(stores[i].pending);
    }
    memset(stores, 0, sizeof(stores));
    n_writes = 0;
    n_syncs = 0;
}

void sim_oracle_register(kv_engine *e, int i)
{
    stores[i].e = e;
}

static follow *find(kv_engine *e)
{
    for (int i = 0; i < SIM_ORACLE_STORES_MAX; i++) {
        if (stores[i].e == e) {
            return &stores[i];
        }
    }
    return NULL;
}

static void pend(follow *f, uint64_t region, uint64_t index, uint64_t term)
{
    if (f->npend == f->cappend) {
        f->cappend = f->cappend ? f->cappend * 2 : 256;
        f->pending = realloc(f->pending, f->cappend * sizeof(*f->pending));
        if (f->pending == NULL) {
            abort();
        }
    }
    f->pending[f->npend].region = region;
    f->pending[f->npend].index = index;
    f->pending[f->npend].term = term;
    f->npend++;
}

static void make_durable(follow *f)
{
    for (size_t i = 0; i < f->npend; i++) {
        ent *p = &f->pending[i];
        if (p->term & TRUNC_BIT) {
            const ent *old = table_get(&f->trunc, p->region, 1);
            /* Keep the highest truncation point seen (a destroyed and re-created peer starts
             * lower, but what was durable once stays a fact about the past). */
            if (old == NULL || old->aux < p->index) {
                table_put(&f->trunc, p->region, 1, p->term & ~TRUNC_BIT, p->index);
            }
        } else {
            table_put(&f->durable, p->region, p->index, p->term, 0);
        }
    }
    f->npend = 0;
    n_syncs++;
}

static void observe(follow *f, const kv_batch *b)
{
    kv_batch_cursor c;
    kv_batch_entry e;
    kv_batch_iter(b, &c);
    while (kv_batch_next(&c, &e) == 1) {
        if (e.cf != KV_CF_RAFT || e.op != KV_BATCH_PUT) {
            continue;
        }
        uint8_t kind, suffix;
        uint64_t region, index;
        if (kv_rs_key_parse(e.key, &kind, &region, &suffix, &index) != 0) {
            continue;
        }
        if (kind == KV_RS_KEY_LOG) {
            cm_raft_entry le;
            if (kv_rs_entry_decode(e.value, index, &le, NULL) == 0) {
                pend(f, region, index, le.term);
            }
        } else if (kind == KV_RS_KEY_REGION_META && suffix == KV_RS_SUFFIX_RAFT_STATE) {
            kv_rs_raft_state rs;
            if (kv_rs_raft_state_decode(e.value, &rs, NULL) == 0 && rs.trunc_index > 0) {
                pend(f, region, rs.trunc_index, rs.trunc_term | TRUNC_BIT);
            }
        }
    }
}

int __wrap_kv_engine_write(kv_engine *e, const kv_batch *batch, bool sync, cm_err *err)
{
    int rc = __real_kv_engine_write(e, batch, sync, err);
    follow *f = find(e);
    if (rc == 0 && f != NULL) {
        n_writes++;
        observe(f, batch);
        if (sync) {
            make_durable(f);
        }
    }
    return rc;
}

int __wrap_kv_engine_sync(kv_engine *e, cm_err *err)
{
    int rc = __real_kv_engine_sync(e, err);
    follow *f = find(e);
    if (rc == 0 && f != NULL) {
        make_durable(f);
    }
    return rc;
}

int __wrap_kv_engine_crash(kv_engine *e, cm_err *err)
{
    follow *f = find(e);
    if (f != NULL) {
        f->npend = 0;
    }
    return __real_kv_engine_crash(e, err);
}

bool sim_oracle_durable(int i, uint64_t region, uint64_t index, uint64_t term)
{
    const follow *f = &stores[i];
    const ent *d = table_get(&f->durable, region, index);
    if (d != NULL && d->term == term) {
        return true;
    }
    const ent *t = table_get(&f->trunc, region, 1);
    if (t != NULL && (t->aux > index || (t->aux == index && t->term == term))) {
        return true;
    }
    return false;
}

uint64_t sim_oracle_writes(void)
{
    return n_writes;
}

uint64_t sim_oracle_syncs(void)
{
    return n_syncs;
}
