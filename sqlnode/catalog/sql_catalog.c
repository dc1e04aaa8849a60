/*
 * sql_catalog.c — the catalog object: bootstrap of a fresh cluster, loading a snapshot from the
 * metadata keys at one start_ts, installing newer snapshots (after local DDL and from the poll
 * thread that watches the version key), ids from PD, and AUTO_INCREMENT / row-id batches.
 */
#include "sql_cat_int.h"
#include "sql_cat_sync.h"
#include "sql_cat_user.h"

#include "cm_failpoint.h"
#include "cm_keys.h"
#include "cm_log.h"
#include "cm_pd_client.h"
#include "cm_time.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOG_COMP "catalog"

void sql_cat_options_default(sql_cat_options *o)
{
    memset(o, 0, sizeof(*o));
    o->poll_ms = SQL_CAT_POLL_DEFAULT_MS;
    o->autoid_step = 1000;
    o->lease_ms = SQL_CAT_LEASE_DEFAULT_MS;
    o->owner_ttl_ms = 0; /* sql_cat_open: min(lease_ms, 10 s) of the lease it is given */
    o->backfill_workers = 4;
    o->backfill_batch_rows = 1024;
    o->no_ddl_worker = false;
}

int sql_cat_alloc_ids(sql_catalog *c, uint32_t n, int64_t *first, cm_err *err)
{
    uint64_t f = 0;
    int rc = cm_pd_alloc_ids(cm_kv_client_pd(c->kc), n, &f, err);
    if (rc != 0) {
        return rc;
    }
    if (f == 0 || f > (uint64_t)INT64_MAX - n) {
        return cm_err_set(err, CM_E_INTERNAL, "PD returned an unusable id %llu",
                          (unsigned long long)f);
    }
    *first = (int64_t)f;
    return 0;
}

static int read_u64(cm_txn *t, cm_slice key, uint64_t *v, bool *found, cm_err *err)
{
    cm_buf val = CM_BUF_INIT;
    int rc = cm_txn_get(t, key, &val, err);
    *found = rc == 0;
    *v = 0;
    if (rc == CM_E_NOT_FOUND) {
        rc = 0;
    } else if (rc == 0) {
        cm_reader r;
        cm_reader_init(&r, val.ptr, val.len);
        if (cm_reader_u64le(&r, v) != 0 || cm_reader_left(&r) != 0) {
            rc = cm_err_set(err, CM_E_CORRUPT, "metadata counter of %zu bytes", val.len);
        }
    }
    cm_buf_fini(&val);
    return rc;
}

static int write_u64(cm_txn *t, cm_slice key, uint64_t v, cm_err *err)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)(v >> (8 * i));
    }
    return cm_txn_set(t, key, cm_slice_make(b, 8), err);
}

int sql_cat_read_version(cm_txn *t, uint64_t *v, bool *found, cm_err *err)
{
    cm_buf k = CM_BUF_INIT;
    int rc = sql_cat_key_version(&k);
    rc = rc != 0 ? cm_err_set(err, rc, "out of memory")
                 : read_u64(t, cm_buf_slice(&k), v, found, err);
    cm_buf_fini(&k);
    return rc;
}

int sql_cat_write_version(cm_txn *t, uint64_t v, cm_err *err)
{
    cm_buf k = CM_BUF_INIT;
    int rc = sql_cat_key_version(&k);
    rc = rc != 0 ? cm_err_set(err, rc, "out of memory") : write_u64(t, cm_buf_slice(&k), v, err);
    cm_buf_fini(&k);
    return rc;
}

/* ---- loading --------------------------------------------------------------------------------- */

typedef struct loader {
    cm_arena arena;
    sql_cat_db *dbs;
    uint32_t ndbs, cap_dbs;
    sql_cat_table **tables;
    uint32_t ntables, cap_tables;
} loader;

static int scan_range(cm_txn *t, cm_buf *start, cm_buf *end,
                      int (*cb)(loader *, cm_slice k, cm_slice v, cm_err *), loader *l, cm_err *err)
{
    cm_txn_iter *it = NULL;
    int rc = cm_txn_scan(t, cm_buf_slice(start), cm_buf_slice(end), &it, err);
    if (rc != 0) {
        return rc;
    }
    cm_slice k, v;
    while ((rc = cm_txn_iter_next(it, &k, &v, err)) == 1) {
        rc = cb(l, k, v, err);
        if (rc != 0) {
            break;
        }
    }
    cm_txn_iter_free(it);
    return rc;
}

static int on_db(loader *l, cm_slice k, cm_slice v, cm_err *err)
{
    (void)k;
    if (l->ndbs == l->cap_dbs) {
        uint32_t cap = l->cap_dbs ? l->cap_dbs * 2 : 16;
        sql_cat_db *d = realloc(l->dbs, sizeof(*d) * cap);
        if (d == NULL) {
            return cm_err_set(err, CM_E_NOMEM, "out of memory");
        }
        l->dbs = d;
        l->cap_dbs = cap;
    }
    int rc = sql_cat_decode_db(v, &l->arena, &l->dbs[l->ndbs], err);
    if (rc != 0) {
        return rc;
    }
    l->ndbs++;
    return 0;
}

static int on_db_field(loader *l, cm_slice k, cm_slice v, cm_err *err)
{
    /* fields of hash DB:<id>: Table:<id> definitions and TID:<id> allocators (skipped) */
    cm_buf field = CM_BUF_INIT;
    cm_meta_kind kind;
    int rc = cm_keys_decode_meta(k, &kind, NULL, &field, NULL, err);
    bool is_table = rc == 0 && field.len > 6 && memcmp(field.ptr, "Table:", 6) == 0;
    cm_buf_fini(&field);
    if (rc != 0 || !is_table) {
        return rc;
    }
    if (l->ntables == l->cap_tables) {
        uint32_t cap = l->cap_tables ? l->cap_tables * 2 : 64;
        sql_cat_table **d = realloc(l->tables, sizeof(*d) * cap);
        if (d == NULL) {
            return cm_err_set(err, CM_E_NOMEM, "out of memory");
        }
        l->tables = d;
        l->cap_tables = cap;
    }
    sql_cat_table *t = cm_arena_alloc(&l->arena, sizeof(*t));
    if (t == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    rc = sql_cat_decode_table(v, &l->arena, t, err);
    if (rc != 0) {
        return rc;
    }
    l->tables[l->ntables++] = t;
    return 0;
}

int sql_cat_load(cm_txn *t, sql_schema **out, cm_err *err)
{
    loader l;
    memset(&l, 0, sizeof(l));
    cm_arena_init(&l.arena, 64 * 1024);
    uint64_t version = 0;
    bool found = false;
    int rc = sql_cat_read_version(t, &version, &found, err);
    if (rc == 0 && !found) {
        rc = cm_err_set(err, CM_E_NOT_FOUND, "the schema version key is missing");
    }
    cm_buf s = CM_BUF_INIT, e = CM_BUF_INIT;
    if (rc == 0) {
        rc = sql_cat_key_dbs_range(&s, &e) != 0 ? cm_err_set(err, CM_E_NOMEM, "out of memory")
                                                : scan_range(t, &s, &e, on_db, &l, err);
    }
    uint32_t ndbs = l.ndbs;
    for (uint32_t i = 0; rc == 0 && i < ndbs; i++) {
        cm_buf_reset(&s);
        cm_buf_reset(&e);
        rc = sql_cat_key_db_range(l.dbs[i].id, &s, &e) != 0
                 ? cm_err_set(err, CM_E_NOMEM, "out of memory")
                 : scan_range(t, &s, &e, on_db_field, &l, err);
    }
    cm_buf_fini(&s);
    cm_buf_fini(&e);
    if (rc == 0) {
        rc = sql_schema_build(version, &l.arena, l.dbs, l.ndbs, l.tables, l.ntables, out, err);
    }
    cm_arena_fini(&l.arena);
    free(l.dbs);
    free(l.tables);
    return rc;
}

void sql_cat_install(sql_catalog *c, sql_schema *s)
{
    pthread_mutex_lock(&c->mu);
    sql_schema *old = NULL;
    if (c->current == NULL || s->version > c->current->version) {
        old = c->current;
        c->current = s;
    } else {
        old = s;
    }
    pthread_mutex_unlock(&c->mu);
    sql_schema_release(old);
}

sql_schema *sql_cat_acquire(sql_catalog *c)
{
    pthread_mutex_lock(&c->mu);
    sql_schema *s = c->current;
    if (s != NULL) {
        sql_schema_retain(s);
    }
    pthread_mutex_unlock(&c->mu);
    return s;
}

static uint64_t current_version(sql_catalog *c)
{
    pthread_mutex_lock(&c->mu);
    uint64_t v = c->current ? c->current->version : 0;
    pthread_mutex_unlock(&c->mu);
    return v;
}

/* The schema version this node installs at most: failpoint ddl_schema_hold = V (0: no limit). */
static uint64_t hold_version(void)
{
    int64_t h = CM_FP("ddl_schema_hold");
    return h > 0 ? (uint64_t)h : UINT64_MAX;
}

int sql_cat_reload(sql_catalog *c, cm_err *err)
{
    pthread_mutex_lock(&c->load_mu);
    /* The lease is counted from before the read: the version read is the newest one as of a
     * snapshot taken after this moment, so the node never trusts a schema longer than a lease
     * after the last moment it knew it was current. */
    int64_t before = (int64_t)cm_time_mono_ms();
    cm_txn *t = NULL;
    int rc = cm_txn_begin(c->kc, &t, err);
    uint64_t v = 0;
    bool found = false;
    if (rc == 0) {
        rc = sql_cat_read_version(t, &v, &found, err);
    }
    /* (the first load at open installs whatever is stored: there is no older version to stay
     * on) */
    uint64_t hold = current_version(c) == 0 ? UINT64_MAX : hold_version();
    if (rc == 0 && found && v != current_version(c) && v <= hold) {
        sql_schema *s = NULL;
        rc = sql_cat_load(t, &s, err);
        if (rc == 0) {
            CM_INFO(LOG_COMP, "schema version %llu loaded (%u databases, %u tables)",
                    (unsigned long long)s->version, s->ndbs, s->ntables);
            sql_cat_install(c, s);
        }
    } else if (rc == 0 && found && v > hold && v != current_version(c)) {
        CM_DEBUG(LOG_COMP, "schema version %llu not installed: failpoint ddl_schema_hold=%llu",
                 (unsigned long long)v, (unsigned long long)hold);
    }
    if (rc == 0 && found) {
        /* with ddl_schema_hold the node keeps its lease on the version it holds (a live node
         * slow to load the next one) */
        sql_cat_sync_note_loaded(c, current_version(c), before);
    }
    cm_txn_free(t);
    pthread_mutex_unlock(&c->load_mu);
    return rc;
}

/* ---- bootstrap ------------------------------------------------------------------------------- */

/* Creates version 1 and the initial databases once; racing nodes conflict and the loser sees
 * the winner's version key on its retry. */
static int bootstrap(sql_catalog *c, cm_err *err)
{
    static const char *const initial[] = {"mysql", "test"};
    for (int attempt = 0; attempt < SQL_CAT_DDL_RETRIES; attempt++) {
        cm_txn *t = NULL;
        int rc = cm_txn_begin(c->kc, &t, err);
        uint64_t v = 0;
        bool found = false;
        if (rc == 0) {
            rc = sql_cat_read_version(t, &v, &found, err);
        }
        if (rc != 0 || found) {
            cm_txn_free(t);
            return rc;
        }
        int64_t first = 0;
        rc = sql_cat_alloc_ids(c, 2, &first, err);
        cm_buf k = CM_BUF_INIT, val = CM_BUF_INIT;
        for (int i = 0; rc == 0 && i < 2; i++) {
            sql_cat_db d = {first + i, (char *)initial[i], NULL, NULL, SQL_OBJ_PUBLIC};
            cm_buf_reset(&k);
            cm_buf_reset(&val);
            rc = sql_cat_key_db(&k, d.id) != 0 || sql_cat_encode_db(&d, &val) != 0
                     ? cm_err_set(err, CM_E_NOMEM, "out of memory")
                     : cm_txn_set(t, cm_buf_slice(&k), cm_buf_slice(&val), err);
        }
        cm_buf_fini(&k);
        cm_buf_fini(&val);
        if (rc == 0) {
            rc = sql_cat_write_version(t, 1, err);
        }
        if (rc == 0) {
            rc = cm_txn_commit(t, err);
        }
        cm_txn_free(t);
        if (rc == 0) {
            CM_INFO(LOG_COMP, "bootstrapped the schema (version 1, databases mysql and test)");
            return 0;
        }
        if (rc != CM_E_WRITE_CONFLICT && rc != CM_E_TXN_ROLLED_BACK) {
            return rc;
        }
    }
    return cm_err_set(err, CM_E_WRITE_CONFLICT, "bootstrap kept conflicting");
}

/* ---- poll thread ----------------------------------------------------------------------------- */

static void *poll_main(void *arg)
{
    sql_catalog *c = arg;
    uint64_t next_users = 0;
    pthread_mutex_lock(&c->stop_mu);
    while (!c->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t ns = ts.tv_nsec + (c->opt.poll_ms % 1000) * 1000000;
        ts.tv_sec += c->opt.poll_ms / 1000 + ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        int w = 0;
        while (!c->stopping && w != ETIMEDOUT) {
            w = pthread_cond_timedwait(&c->stop_cv, &c->stop_mu, &ts);
        }
        if (c->stopping) {
            break;
        }
        pthread_mutex_unlock(&c->stop_mu);
        cm_err err;
        cm_err_clear(&err);
        if (CM_FP("ddl_schema_poll_fail") != 0) {
            /* failpoint: this node's polls fail (the KV store unreachable for the schema) */
            CM_DEBUG(LOG_COMP, "schema poll skipped: failpoint ddl_schema_poll_fail");
        } else if (sql_cat_reload(c, &err) != 0) {
            CM_WARN(LOG_COMP, "schema poll failed: %s", err.msg);
        }
        /* accounts change rarely and nothing waits for them: at most once a second */
        if (cm_time_mono_ms() >= next_users) {
            if (sql_cat_users_reload(c, &err) != 0) {
                CM_WARN(LOG_COMP, "privilege poll failed: %s", err.msg);
            }
            next_users = cm_time_mono_ms() + 1000;
        }
        pthread_mutex_lock(&c->stop_mu);
    }
    pthread_mutex_unlock(&c->stop_mu);
    return NULL;
}

/* 32 random hex digits (the node's id in the DDL registry). */
static void make_node_id(char out[33])
{
    unsigned char r[16];
    FILE *f = fopen("/dev/urandom", "rb");
    size_t got = f != NULL ? fread(r, 1, sizeof(r), f) : 0;
    if (f != NULL) {
        fclose(f);
    }
    if (got != sizeof(r)) { /* no /dev/urandom: time and pid, still unique enough per host */
        uint64_t a = (uint64_t)cm_time_mono_ms() ^ ((uint64_t)getpid() << 32);
        uint64_t b = (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)(uintptr_t)out;
        memcpy(r, &a, 8);
        memcpy(r + 8, &b, 8);
    }
    for (int i = 0; i < 16; i++) {
        snprintf(out + 2 * i, 3, "%02x", r[i]);
    }
}

const char *sql_cat_node_id(const sql_catalog *c)
{
    return c->node_id;
}

void sql_cat_set_address(sql_catalog *c, const char *addr)
{
    pthread_mutex_lock(&c->mu);
    snprintf(c->address, sizeof(c->address), "%s", addr != NULL ? addr : "");
    pthread_mutex_unlock(&c->mu);
    sql_cat_sync_wake(c); /* published with the version */
}

int sql_cat_open(cm_kv_client *kc, const sql_cat_options *o, sql_catalog **out, cm_err *err)
{
    sql_catalog *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    c->kc = kc;
    sql_cat_options_default(&c->opt);
    if (o != NULL) {
        c->opt = *o;
    }
    sql_cat_options_fix(&c->opt);
    make_node_id(c->node_id);
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->load_mu, NULL);
    pthread_mutex_init(&c->ddl_mu, NULL);
    pthread_mutex_init(&c->stop_mu, NULL);
    pthread_condattr_t ca; /* CLOCK_MONOTONIC: a wall clock step never stretches a wait */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->stop_cv, &ca);
    pthread_condattr_destroy(&ca);
    int rc = bootstrap(c, err);
    /* The publisher's state exists before the first load, which confirms the lease; its thread
     * publishes once a version is loaded. */
    if (rc == 0) {
        rc = sql_cat_sync_start(c, err);
    }
    if (rc == 0) {
        rc = sql_cat_reload(c, err);
    }
    if (rc == 0 && c->current == NULL) {
        rc = cm_err_set(err, CM_E_INTERNAL, "no schema after bootstrap");
    }
    if (rc == 0) {
        if (pthread_create(&c->poller, NULL, poll_main, c) != 0) {
            rc = cm_err_set(err, CM_E_NOMEM, "cannot start the schema poll thread");
        } else {
            c->poller_started = true;
        }
    }
    if (rc == 0 &&
        !sql_cat_sync_wait_published(c, c->opt.lease_ms < 5000 ? c->opt.lease_ms : 5000)) {
        /* not fatal: the node answers table statements with 8027 until it can publish */
        CM_WARN(LOG_COMP, "schema version not published to PD within a lease after open");
    }
    if (rc == 0) { /* with no_ddl_worker it only waits for jobs, it never campaigns */
        rc = sql_ddl_worker_start(c, err);
    }
    if (rc != 0) {
        sql_cat_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

void sql_cat_close(sql_catalog *c)
{
    if (c == NULL) {
        return;
    }
    /* Closing: the poll thread and an owner's sync wait (sql_cat_wait_synced) stop at once. */
    pthread_mutex_lock(&c->stop_mu);
    c->stopping = true;
    pthread_cond_broadcast(&c->stop_cv);
    pthread_mutex_unlock(&c->stop_mu);
    /* the worker first: it uses the poller and the publisher (a no-op when it never started,
     * c->ddl NULL) */
    sql_ddl_worker_stop(c);
    if (c->poller_started) {
        pthread_join(c->poller, NULL);
    }
    sql_cat_sync_stop(c); /* deletes this node's registry entry (best effort) */
    sql_schema_release(c->current);
    sql_cat_users_close(c);
    free(c->autoid);
    pthread_mutex_destroy(&c->mu);
    pthread_mutex_destroy(&c->load_mu);
    pthread_mutex_destroy(&c->ddl_mu);
    pthread_mutex_destroy(&c->stop_mu);
    pthread_cond_destroy(&c->stop_cv);
    free(c);
}

/* ---- AUTO_INCREMENT / row ids ---------------------------------------------------------------- */

static sql_autoid_ent *autoid_slot(sql_catalog *c, int64_t table_id, bool create)
{
    if (c->autoid_cap == 0 || (create && (c->autoid_n + 1) * 2 > c->autoid_cap)) {
        if (!create) {
            return NULL;
        }
        uint32_t cap = c->autoid_cap ? c->autoid_cap * 2 : 64;
        sql_autoid_ent *v = calloc(cap, sizeof(*v));
        if (v == NULL) {
            return NULL;
        }
        for (uint32_t i = 0; i < c->autoid_cap; i++) {
            if (c->autoid[i].table_id == 0) {
                continue;
            }
            uint32_t h = (uint32_t)((uint64_t)c->autoid[i].table_id * 0x9E3779B97F4A7C15ull >> 40);
            while (v[h & (cap - 1)].table_id != 0) {
                h++;
            }
            v[h & (cap - 1)] = c->autoid[i];
        }
        free(c->autoid);
        c->autoid = v;
        c->autoid_cap = cap;
    }
    uint32_t h = (uint32_t)((uint64_t)table_id * 0x9E3779B97F4A7C15ull >> 40);
    for (uint32_t n = 0; n < c->autoid_cap; n++, h++) {
        sql_autoid_ent *e = &c->autoid[h & (c->autoid_cap - 1)];
        if (e->table_id == table_id) {
            return e;
        }
        if (e->table_id == 0) {
            if (!create) {
                return NULL;
            }
            e->table_id = table_id;
            e->next = 1;
            e->end = 0; /* exhausted: the first call takes a batch */
            c->autoid_n++;
            return e;
        }
    }
    return NULL;
}

void sql_cat_autoid_forget(sql_catalog *c, int64_t table_id)
{
    pthread_mutex_lock(&c->mu);
    sql_autoid_ent *e = autoid_slot(c, table_id, false);
    if (e != NULL) {
        e->next = 1;
        e->end = 0; /* a tombstone with an empty batch keeps probing chains intact */
    }
    pthread_mutex_unlock(&c->mu);
}

/* Moves the table's allocator key from base to max(base, floor) + step in its own transaction;
 * (*lo, *hi] is then this node's. step 0 only raises the base to floor. */
static int autoid_take(sql_catalog *c, const sql_cat_table *t, uint64_t floor, uint64_t step,
                       uint64_t *lo, uint64_t *hi, cm_err *err)
{
    cm_buf k = CM_BUF_INIT, tk = CM_BUF_INIT, tv = CM_BUF_INIT;
    if (sql_cat_key_autoid(&k, t->db_id, t->id) != 0 ||
        sql_cat_key_table(&tk, t->db_id, t->id) != 0) {
        cm_buf_fini(&k);
        cm_buf_fini(&tk);
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    int rc = 0;
    for (int attempt = 0; attempt < SQL_CAT_DDL_RETRIES; attempt++) {
        cm_txn *x = NULL;
        rc = cm_txn_begin(c->kc, &x, err);
        uint64_t base = 0;
        bool found;
        if (rc == 0) {
            /* a definition from an old snapshot (the table was dropped or truncated since)
             * must not leave an allocator key behind */
            rc = cm_txn_get(x, cm_buf_slice(&tk), &tv, err);
            if (rc == CM_E_NOT_FOUND) {
                rc = cm_err_set(err, CM_E_SCHEMA_CHANGED,
                                "Information schema is changed: table '%s' was dropped or "
                                "truncated",
                                t->name);
            }
        }
        if (rc == 0) {
            rc = read_u64(x, cm_buf_slice(&k), &base, &found, err);
        }
        bool raised = false;
        if (rc == 0) {
            if (base < floor) {
                base = floor;
                raised = true;
            }
            if (base > UINT64_MAX - step) {
                rc = cm_err_set(err, CM_E_OUT_OF_RANGE,
                                "Failed to read auto-increment value from storage engine");
            }
        }
        if (rc == 0 && (step > 0 || raised)) {
            rc = write_u64(x, cm_buf_slice(&k), base + step, err);
        }
        if (rc == 0) {
            rc = cm_txn_commit(x, err);
        }
        cm_txn_free(x);
        if (rc == 0) {
            *lo = base;
            *hi = base + step;
            break;
        }
        if (rc != CM_E_WRITE_CONFLICT && rc != CM_E_TXN_ROLLED_BACK) {
            break;
        }
    }
    cm_buf_fini(&k);
    cm_buf_fini(&tk);
    cm_buf_fini(&tv);
    return rc;
}

uint64_t sql_cat_autoid_peek(sql_catalog *c, const sql_cat_table *t)
{
    uint64_t start = t->autoinc_start > 0 ? t->autoinc_start : 1;
    if (c == NULL) {
        return start;
    }
    /* What this node hands out next when it holds a batch with room (as MySQL's Auto_increment:
     * the value the next insert through this connection's server gets); otherwise the value
     * above every batch taken so far. */
    pthread_mutex_lock(&c->mu);
    sql_autoid_ent *e = autoid_slot(c, t->id, false);
    uint64_t local = e != NULL && e->next <= e->end ? e->next : 0;
    pthread_mutex_unlock(&c->mu);
    if (local >= start) {
        return local;
    }
    cm_buf k = CM_BUF_INIT;
    cm_txn *x = NULL;
    cm_err err;
    uint64_t base = 0;
    bool found = false;
    if (sql_cat_key_autoid(&k, t->db_id, t->id) == 0 && cm_txn_begin(c->kc, &x, &err) == 0 &&
        read_u64(x, cm_buf_slice(&k), &base, &found, &err) == 0 && found && base >= start) {
        start = base + 1;
    }
    cm_txn_free(x);
    cm_buf_fini(&k);
    return start;
}

int sql_cat_next_autoid(sql_catalog *c, const sql_cat_table *t, uint64_t *out, cm_err *err)
{
    pthread_mutex_lock(&c->mu);
    sql_autoid_ent *e = autoid_slot(c, t->id, true);
    if (e != NULL && e->next <= e->end) {
        *out = e->next++;
        pthread_mutex_unlock(&c->mu);
        return 0;
    }
    pthread_mutex_unlock(&c->mu);
    if (e == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    /* a new batch: (lo, hi] above the table's AUTO_INCREMENT start */
    uint64_t lo = 0, hi = 0;
    uint64_t floor = t->autoinc_start > 0 ? t->autoinc_start - 1 : 0;
    int rc = autoid_take(c, t, floor, c->opt.autoid_step, &lo, &hi, err);
    if (rc != 0) {
        return rc;
    }
    pthread_mutex_lock(&c->mu);
    e = autoid_slot(c, t->id, true);
    if (e == NULL) {
        pthread_mutex_unlock(&c->mu);
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    if (e->next > e->end || e->end < lo + 1) {
        /* another thread may have installed a batch meanwhile: the newer (higher) one wins;
         * this node's values stay increasing either way */
        e->next = lo + 1;
        e->end = hi;
    }
    *out = e->next++;
    pthread_mutex_unlock(&c->mu);
    return 0;
}

int sql_cat_rebase_autoid(sql_catalog *c, const sql_cat_table *t, uint64_t v, cm_err *err)
{
    pthread_mutex_lock(&c->mu);
    sql_autoid_ent *e = autoid_slot(c, t->id, true);
    if (e != NULL && v < e->next) {
        pthread_mutex_unlock(&c->mu);
        return 0; /* below what this node hands out next */
    }
    if (e != NULL && v <= e->end) {
        e->next = v + 1; /* inside the batch: skip past it */
        pthread_mutex_unlock(&c->mu);
        return 0;
    }
    pthread_mutex_unlock(&c->mu);
    if (e == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    /* beyond the batch: a new batch above v, so a run of explicit values (a restore) costs one
     * transaction per autoid_step values, not one each */
    uint64_t lo, hi;
    int rc = autoid_take(c, t, v, c->opt.autoid_step, &lo, &hi, err);
    if (rc != 0) {
        return rc;
    }
    pthread_mutex_lock(&c->mu);
    e = autoid_slot(c, t->id, true);
    if (e != NULL && e->end < hi) {
        e->next = lo + 1; /* lo >= v */
        e->end = hi;
    }
    pthread_mutex_unlock(&c->mu);
    return e == NULL ? cm_err_set(err, CM_E_NOMEM, "out of memory") : 0;
}
