/*
 * sql_cat_sync.c — schema lease and version sync (sql_ddl_int.h, docs/ddl.md "Schema lease and
 * version sync").
 *
 * Lease: every successful poll of the version key (sql_cat_reload) confirms that this node's
 * installed schema was the newest one at the moment the poll's read began; the node holds its
 * lease while the last confirmation is younger than the schema lease, and the session's gate
 * (sql_cat_lease_check) refuses table statements with 8027 once it is not.
 *
 * Publisher: a thread puts "ddl/schema/<node id>" = version + address into PD's registry with a
 * TTL of one lease, at once when the installed version or the address changes and every quarter
 * lease otherwise, so a live node's entry never expires and a dead node's entry disappears
 * within a lease.
 *
 * Owner side: sql_cat_wait_synced lists the registry until every live entry reached the version,
 * for at most two leases: after that every node that did not load it has lost its lease (its
 * last confirmation is older than one lease) and serves nothing.
 */
#include "sql_cat_sync.h"

#include "cm_failpoint.h"
#include "cm_log.h"
#include "cm_pd_client.h"
#include "cm_time.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOG_COMP "catalog"

struct sql_cat_sync {
    sql_catalog *c;
    char key[SQL_CAT_REG_KEY_MAX];
    int64_t confirmed_ms; /* __atomic: mono ms before the read of the last good poll; 0: never */
    int64_t put_ok_ms;    /* __atomic: mono ms when the last successful put was sent; 0: never */
    pthread_t thread;
    bool started;
    pthread_mutex_t mu; /* everything below */
    pthread_cond_t cv;  /* CLOCK_MONOTONIC */
    bool stop;
    bool wake;
    uint64_t loaded;    /* installed version last noted (0: none yet) */
    uint64_t published; /* version of the last successful put (0: none) */
    char published_addr[300];
    int64_t put_sent_ms;   /* when the last successful put was sent */
    uint64_t put_failures; /* in a row */
};

/* ---- pure parts (sql_cat_sync.h) ------------------------------------------------------------- */

void sql_cat_options_fix(sql_cat_options *o)
{
    if (o->lease_ms <= 0) {
        o->lease_ms = SQL_CAT_LEASE_DEFAULT_MS;
    }
    if (o->lease_ms < SQL_CAT_LEASE_MIN_MS) {
        o->lease_ms = SQL_CAT_LEASE_MIN_MS;
    }
    if (o->poll_ms <= 0) {
        o->poll_ms = SQL_CAT_POLL_DEFAULT_MS;
    }
    if (o->poll_ms > o->lease_ms / 4) {
        o->poll_ms = o->lease_ms / 4;
    }
    if (o->owner_ttl_ms <= 0) {
        o->owner_ttl_ms =
            o->lease_ms < SQL_CAT_OWNER_TTL_MAX_MS ? o->lease_ms : SQL_CAT_OWNER_TTL_MAX_MS;
    }
    if (o->autoid_step == 0) {
        o->autoid_step = 1000;
    }
    if (o->backfill_workers == 0) {
        o->backfill_workers = 4;
    }
    if (o->backfill_batch_rows == 0) {
        o->backfill_batch_rows = 1024;
    }
}

bool sql_cat_lease_valid(int64_t confirmed_ms, int64_t now_ms, int64_t lease_ms)
{
    return confirmed_ms > 0 && now_ms >= confirmed_ms && now_ms - confirmed_ms < lease_ms;
}

int sql_cat_sync_value_encode(uint64_t version, const char *addr, cm_buf *out)
{
    int rc = cm_buf_append_u64le(out, version);
    if (rc == 0 && addr != NULL && addr[0] != '\0') {
        rc = cm_buf_append(out, addr, strlen(addr));
    }
    return rc;
}

int sql_cat_sync_value_decode(cm_slice v, uint64_t *version, cm_slice *addr)
{
    cm_reader r;
    cm_reader_init(&r, v.ptr, v.len);
    if (cm_reader_u64le(&r, version) != 0) {
        return CM_E_CORRUPT;
    }
    if (addr != NULL) {
        *addr = cm_slice_make(v.ptr + 8, v.len - 8);
    }
    return 0;
}

/* ---- the lease --------------------------------------------------------------------------------
 */

void sql_cat_sync_note_loaded(sql_catalog *c, uint64_t version, int64_t mono_ms)
{
    struct sql_cat_sync *s = c->sync;
    if (s == NULL) {
        return;
    }
    /* Two reloads may finish out of order: the confirmation only moves forward. */
    int64_t cur = __atomic_load_n(&s->confirmed_ms, __ATOMIC_ACQUIRE);
    while (mono_ms > cur && !__atomic_compare_exchange_n(&s->confirmed_ms, &cur, mono_ms, false,
                                                         __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    }
    pthread_mutex_lock(&s->mu);
    if (version > s->loaded) {
        s->loaded = version;
        s->wake = true;
        pthread_cond_signal(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
}

int sql_cat_lease_check(sql_catalog *c, cm_err *err)
{
    struct sql_cat_sync *s = c->sync;
    if (s == NULL) {
        return 0; /* not open yet (sql_cat_open allocates it before the first load) */
    }
    /* Both the schema (a poll) and the registry entry (a put, whose TTL is one lease counted by
     * PD from after it was sent) must be younger than a lease: while the node serves, the owner
     * sees its entry and waits for it. */
    int64_t conf = __atomic_load_n(&s->confirmed_ms, __ATOMIC_ACQUIRE);
    int64_t put = __atomic_load_n(&s->put_ok_ms, __ATOMIC_ACQUIRE);
    int64_t now = (int64_t)cm_time_mono_ms();
    if (sql_cat_lease_valid(conf, now, c->opt.lease_ms) &&
        sql_cat_lease_valid(put, now, c->opt.lease_ms)) {
        return 0;
    }
    return cm_err_set(err, CM_E_SCHEMA_OUT_OF_DATE,
                      "Information schema is out of date: schema failed to update in 1 lease, "
                      "please make sure the sqlnode can reach the KV store");
}

/* ---- the publisher --------------------------------------------------------------------------- */

static void addr_copy(sql_catalog *c, char *out, size_t cap)
{
    pthread_mutex_lock(&c->mu);
    snprintf(out, cap, "%s", c->address);
    pthread_mutex_unlock(&c->mu);
}

static int publish(struct sql_cat_sync *s, uint64_t version, const char *addr, cm_err *err)
{
    cm_buf v = CM_BUF_INIT;
    int rc = sql_cat_sync_value_encode(version, addr, &v);
    if (rc != 0) {
        rc = cm_err_set(err, CM_E_NOMEM, "out of memory");
    } else {
        rc = cm_pd_registry_put(cm_kv_client_pd(s->c->kc), s->key, cm_buf_slice(&v),
                                (uint64_t)s->c->opt.lease_ms, err);
    }
    cm_buf_fini(&v);
    return rc;
}

/* Waits on s->cv (mu held) until mono time until_ms, a wake or stop. */
static void wait_locked(struct sql_cat_sync *s, int64_t until_ms)
{
    int64_t now = (int64_t)cm_time_mono_ms();
    if (until_ms <= now) {
        return;
    }
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    int64_t ns = dl.tv_nsec + (until_ms - now) * 1000000;
    dl.tv_sec += (time_t)(ns / 1000000000);
    dl.tv_nsec = (long)(ns % 1000000000);
    while (!s->stop && !s->wake) {
        if (pthread_cond_timedwait(&s->cv, &s->mu, &dl) == ETIMEDOUT) {
            break;
        }
    }
}

static void *publisher_main(void *arg)
{
    struct sql_cat_sync *s = arg;
    sql_catalog *c = s->c;
    int64_t refresh = c->opt.lease_ms / 4;
    int64_t retry = refresh < 200 ? refresh : 200;
    char addr[sizeof(s->published_addr)];
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        s->wake = false;
        addr_copy(c, addr, sizeof(addr));
        int64_t now = (int64_t)cm_time_mono_ms();
        bool due =
            s->loaded > 0 && (s->published != s->loaded || strcmp(addr, s->published_addr) != 0 ||
                              now - s->put_sent_ms >= refresh);
        if (!due) {
            wait_locked(s, s->loaded > 0 ? s->put_sent_ms + refresh : now + refresh);
            continue;
        }
        uint64_t v = s->loaded;
        pthread_mutex_unlock(&s->mu);
        cm_err err;
        cm_err_clear(&err);
        int64_t sent = (int64_t)cm_time_mono_ms();
        int rc = publish(s, v, addr, &err);
        pthread_mutex_lock(&s->mu);
        if (rc == 0) {
            if (s->put_failures > 0) {
                CM_INFO(LOG_COMP, "schema version %llu published again after %llu failures",
                        (unsigned long long)v, (unsigned long long)s->put_failures);
            }
            s->published = v;
            snprintf(s->published_addr, sizeof(s->published_addr), "%s", addr);
            s->put_sent_ms = sent;
            s->put_failures = 0;
            __atomic_store_n(&s->put_ok_ms, sent, __ATOMIC_RELEASE);
        } else {
            if (s->put_failures++ % 50 == 0) {
                CM_WARN(LOG_COMP, "publishing schema version %llu to %s: %s", (unsigned long long)v,
                        s->key, err.msg);
            }
            wait_locked(s, (int64_t)cm_time_mono_ms() + retry);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

bool sql_cat_sync_wait_published(sql_catalog *c, int64_t timeout_ms)
{
    struct sql_cat_sync *s = c->sync;
    int64_t end = (int64_t)cm_time_mono_ms() + timeout_ms;
    while (s != NULL && __atomic_load_n(&s->put_ok_ms, __ATOMIC_ACQUIRE) == 0) {
        if ((int64_t)cm_time_mono_ms() >= end) {
            return false;
        }
        cm_time_sleep_ms(2);
    }
    return true;
}

void sql_cat_sync_wake(sql_catalog *c)
{
    struct sql_cat_sync *s = c->sync;
    if (s == NULL) {
        return;
    }
    pthread_mutex_lock(&s->mu);
    s->wake = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

int sql_cat_sync_start(sql_catalog *c, cm_err *err)
{
    struct sql_cat_sync *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    s->c = c;
    snprintf(s->key, sizeof(s->key), "%s%s", SQL_CAT_REG_SCHEMA, c->node_id);
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    c->sync = s;
    if (pthread_create(&s->thread, NULL, publisher_main, s) != 0) {
        return cm_err_set(err, CM_E_NOMEM, "cannot start the schema version publisher");
    }
    s->started = true;
    return 0;
}

void sql_cat_sync_stop(sql_catalog *c)
{
    struct sql_cat_sync *s = c->sync;
    if (s == NULL) {
        return;
    }
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (s->started) {
        pthread_join(s->thread, NULL);
        if (s->published > 0) {
            /* best effort: the owner stops waiting for this node at once, not after a lease */
            cm_err e;
            int deleted = 0;
            if (cm_pd_registry_delete(cm_kv_client_pd(c->kc), s->key, &deleted, &e) != 0) {
                CM_WARN(LOG_COMP, "removing %s from the registry: %s", s->key, e.msg);
            }
        }
    }
    c->sync = NULL;
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* ---- the owner's wait ---------------------------------------------------------------------- */

typedef struct sync_list {
    const char *own_key; /* this node: its installed version counts, not its (maybe older) entry */
    uint64_t own_version;
    uint64_t want;
    uint32_t live, behind, bad;
    char first_behind[SQL_CAT_REG_KEY_MAX + 330]; /* "key (version, addr)" for the log */
} sync_list;

static int list_cb(void *user, const char *key, cm_slice value, uint64_t ttl_left_ms)
{
    (void)ttl_left_ms;
    sync_list *l = user;
    uint64_t v = 0;
    cm_slice addr;
    if (sql_cat_sync_value_decode(value, &v, &addr) != 0) {
        if (l->bad++ == 0) {
            CM_DEBUG(LOG_COMP, "registry entry %s is not a schema version (%zu bytes): ignored",
                     key, value.len);
        }
        return 0;
    }
    l->live++;
    if (strcmp(key, l->own_key) == 0 && l->own_version > v) {
        v = l->own_version; /* its publisher has not put it yet */
    }
    if (v < l->want) {
        if (l->behind++ == 0) {
            snprintf(l->first_behind, sizeof(l->first_behind), "%s (version %llu, %.*s)", key,
                     (unsigned long long)v, (int)(addr.len > 300 ? 300 : addr.len),
                     (const char *)addr.ptr);
        }
    }
    return 0;
}

/* Sleeps up to ms on the catalog's stop condition; false when the catalog is closing. */
static bool nap(sql_catalog *c, int64_t ms)
{
    pthread_mutex_lock(&c->stop_mu);
    if (!c->stopping) {
        struct timespec ts; /* stop_cv runs on CLOCK_MONOTONIC (sql_cat_open) */
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t ns = ts.tv_nsec + ms * 1000000;
        ts.tv_sec += (time_t)(ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        pthread_cond_timedwait(&c->stop_cv, &c->stop_mu, &ts);
    }
    bool go_on = !c->stopping;
    pthread_mutex_unlock(&c->stop_mu);
    return go_on;
}

int sql_cat_wait_synced(sql_catalog *c, uint64_t v, bool *all, cm_err *err)
{
    int64_t start = (int64_t)cm_time_mono_ms();
    int64_t deadline = start + 2 * c->opt.lease_ms;
    if (all != NULL) {
        *all = false;
    }
    /* This node first: it need not wait for its own poll. */
    cm_err e;
    if (sql_cat_reload(c, &e) != 0) {
        CM_DEBUG(LOG_COMP, "reload before the sync wait: %s", e.msg);
    }
    bool listed = false;
    int rc = 0;
    sync_list l;
    uint32_t rounds = 0;
    for (;;) {
        memset(&l, 0, sizeof(l));
        l.want = v;
        l.own_key = c->sync != NULL ? c->sync->key : "";
        sql_schema *cur = sql_cat_acquire(c);
        l.own_version = cur != NULL ? cur->version : 0;
        sql_schema_release(cur);
        cm_err le;
        cm_err_clear(&le);
        rc = cm_pd_registry_list(cm_kv_client_pd(c->kc), SQL_CAT_REG_SCHEMA, 0, list_cb, &l, &le);
        rounds++;
        if (rc == 0) {
            listed = true;
            if (l.behind == 0) {
                if (all != NULL) {
                    *all = true;
                }
                CM_DEBUG(LOG_COMP, "schema version %llu loaded by %u nodes after %lld ms",
                         (unsigned long long)v, l.live,
                         (long long)((int64_t)cm_time_mono_ms() - start));
                return 0;
            }
        } else if (err != NULL) {
            *err = le;
        }
        if ((int64_t)cm_time_mono_ms() >= deadline) {
            break;
        }
        if (!nap(c, SQL_CAT_SYNC_LIST_MS)) {
            CM_INFO(LOG_COMP, "sync wait for schema version %llu stopped: the catalog closes",
                    (unsigned long long)v);
            return 0;
        }
    }
    if (!listed) {
        CM_WARN(LOG_COMP,
                "sync wait for schema version %llu: PD's registry did not answer for "
                "two leases (%u tries)",
                (unsigned long long)v, rounds);
        return rc;
    }
    CM_WARN(LOG_COMP,
            "sync wait for schema version %llu gave up after two leases (%lld ms): %u of %u "
            "nodes behind, first %s; they have lost their lease (%u malformed entries ignored)",
            (unsigned long long)v, (long long)(2 * c->opt.lease_ms), l.behind, l.live,
            l.first_behind, l.bad);
    return 0;
}
