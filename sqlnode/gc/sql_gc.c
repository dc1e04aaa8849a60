/*
 * sql_gc.c — the GC worker of the SQL layer, the delete-range queue and the running-transaction
 * registry (sql_gc.h, docs/sql-layer.md "GC").
 *
 * The worker thread wakes at the earliest of three deadlines: publish this node's oldest running
 * start_ts (every publish_ms), renew the gc_owner lease (every third of its TTL while owner),
 * and run a round (every interval_ms; a node that does not own the lease campaigns then). The
 * lease only avoids duplicate work: a round is idempotent (PD's safe point is monotonic, KV_GC
 * keeps what a reader at the safe point needs, a delete range removes what nobody uses), so two
 * owners overlapping after a lease loss do no harm.
 */
#include "sql_gc.h"

#include "cm_keys.h"
#include "cm_log.h"
#include "cm_pd_client.h"
#include "cm_time.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GC "gc"

/* ---- the running-transaction multiset ----------------------------------------------------- */

void sql_gc_txnset_init(sql_gc_txnset *s)
{
    memset(s, 0, sizeof(*s));
}

void sql_gc_txnset_fini(sql_gc_txnset *s)
{
    free(s->ts);
    free(s->count);
    memset(s, 0, sizeof(*s));
}

static size_t slot_of(uint64_t ts, size_t cap)
{
    uint64_t h = ts * 0x9E3779B97F4A7C15ull; /* Fibonacci hashing: TSO values are sequential */
    return (size_t)(h >> 32) & (cap - 1);
}

static int txnset_grow(sql_gc_txnset *s)
{
    size_t cap = s->cap ? s->cap * 2 : 64;
    uint64_t *ts = calloc(cap, sizeof(*ts));
    uint32_t *cnt = calloc(cap, sizeof(*cnt));
    if (ts == NULL || cnt == NULL) {
        free(ts);
        free(cnt);
        return CM_E_NOMEM;
    }
    for (size_t i = 0; i < s->cap; i++) {
        if (s->ts[i] == 0) {
            continue;
        }
        size_t j = slot_of(s->ts[i], cap);
        while (ts[j] != 0) {
            j = (j + 1) & (cap - 1);
        }
        ts[j] = s->ts[i];
        cnt[j] = s->count[i];
    }
    free(s->ts);
    free(s->count);
    s->ts = ts;
    s->count = cnt;
    s->cap = cap;
    return 0;
}

int sql_gc_txnset_add(sql_gc_txnset *s, uint64_t ts)
{
    if (ts == 0) {
        return CM_E_INVALID;
    }
    if ((s->used + 1) * 4 > s->cap * 3 && txnset_grow(s) != 0) { /* load factor <= 3/4 */
        return CM_E_NOMEM;
    }
    size_t i = slot_of(ts, s->cap);
    while (s->ts[i] != 0 && s->ts[i] != ts) {
        i = (i + 1) & (s->cap - 1);
    }
    if (s->ts[i] == ts) {
        s->count[i]++;
        return 0;
    }
    s->ts[i] = ts;
    s->count[i] = 1;
    s->used++;
    return 0;
}

void sql_gc_txnset_remove(sql_gc_txnset *s, uint64_t ts)
{
    if (ts == 0 || s->cap == 0) {
        return;
    }
    size_t mask = s->cap - 1, i = slot_of(ts, s->cap);
    while (s->ts[i] != 0 && s->ts[i] != ts) {
        i = (i + 1) & mask;
    }
    if (s->ts[i] == 0 || --s->count[i] > 0) {
        return;
    }
    /* Backward-shift deletion: move later members of the probe run into the hole when their
     * home slot does not lie cyclically in (hole, j]. */
    size_t hole = i, j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (s->ts[j] == 0) {
            break;
        }
        size_t home = slot_of(s->ts[j], s->cap);
        bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!stays) {
            s->ts[hole] = s->ts[j];
            s->count[hole] = s->count[j];
            hole = j;
        }
    }
    s->ts[hole] = 0;
    s->count[hole] = 0;
    s->used--;
}

uint64_t sql_gc_txnset_min(const sql_gc_txnset *s)
{
    uint64_t m = 0;
    for (size_t i = 0; i < s->cap; i++) {
        if (s->ts[i] != 0 && (m == 0 || s->ts[i] < m)) {
            m = s->ts[i];
        }
    }
    return m;
}

size_t sql_gc_txnset_size(const sql_gc_txnset *s)
{
    return s->used;
}

/* ---- safe point and queue encodings (pure) -------------------------------------------------- */

uint64_t sql_gc_compute_safe_point(uint64_t now_ts, int64_t life_time_ms, uint64_t oldest_running)
{
    uint64_t now_ms = cm_pd_ts_physical_ms(now_ts);
    uint64_t life = life_time_ms < 0 ? 0 : (uint64_t)life_time_ms;
    if (now_ms <= life) {
        return 0;
    }
    uint64_t sp = (now_ms - life) << 18;
    if (oldest_running != 0 && sp >= oldest_running) {
        /* Below the oldest reader, so its own locks (start_ts == oldest) never stop GC. */
        sp = oldest_running - 1;
    }
    return sp;
}

static cm_slice queue_name(void)
{
    return cm_slice_make(SQL_GC_QUEUE_NAME, strlen(SQL_GC_QUEUE_NAME));
}

int sql_gc_queue_key(cm_buf *key, uint64_t ts, cm_slice start, cm_err *err)
{
    cm_buf field = CM_BUF_INIT;
    int rc = cm_buf_append_u64be(&field, ts);
    rc = rc ? rc : cm_buf_append_slice(&field, start);
    rc = rc ? rc : cm_keys_append_meta_hash_field(key, queue_name(), cm_buf_slice(&field));
    cm_buf_fini(&field);
    return rc ? cm_err_set(err, CM_E_NOMEM, "gc: out of memory") : 0;
}

int sql_gc_queue_value(cm_buf *value, cm_slice start, cm_slice end, cm_err *err)
{
    int rc = cm_buf_append_uvarint(value, start.len);
    rc = rc ? rc : cm_buf_append_slice(value, start);
    rc = rc ? rc : cm_buf_append_uvarint(value, end.len);
    rc = rc ? rc : cm_buf_append_slice(value, end);
    return rc ? cm_err_set(err, CM_E_NOMEM, "gc: out of memory") : 0;
}

int sql_gc_queue_decode(cm_slice key, cm_slice value, uint64_t *ts, cm_slice *start, cm_slice *end,
                        cm_err *err)
{
    cm_meta_kind kind;
    cm_buf name = CM_BUF_INIT, field = CM_BUF_INIT;
    int rc = cm_keys_decode_meta(key, &kind, &name, &field, NULL, err);
    if (rc == 0 && (kind != CM_META_HASH || !cm_slice_eq(cm_buf_slice(&name), queue_name()) ||
                    field.len < 8)) {
        rc = cm_err_set(err, CM_E_CORRUPT, "gc: not a delete-range queue key");
    }
    if (rc == 0) {
        cm_reader r;
        cm_reader_init(&r, field.ptr, field.len);
        cm_reader_u64be(&r, ts);
        uint64_t n1 = 0, n2 = 0;
        cm_reader_init(&r, value.ptr, value.len);
        if (cm_reader_uvarint(&r, &n1) != 0 || cm_reader_bytes(&r, n1, start) != 0 ||
            cm_reader_uvarint(&r, &n2) != 0 || cm_reader_bytes(&r, n2, end) != 0 ||
            cm_reader_left(&r) != 0) {
            rc = cm_err_set(err, CM_E_CORRUPT, "gc: malformed delete-range queue entry");
        } else if (end->len > 0 && cm_slice_cmp(*start, *end) >= 0) {
            rc = cm_err_set(err, CM_E_CORRUPT, "gc: queued range is empty");
        }
    }
    cm_buf_fini(&name);
    cm_buf_fini(&field);
    return rc;
}

int sql_gc_queue_range(cm_buf *start, cm_buf *end, cm_err *err)
{
    int rc = cm_keys_append_meta_prefix(start, queue_name(), CM_META_HASH);
    rc = rc ? rc : cm_buf_append_slice(end, cm_buf_slice(start));
    if (rc != 0) {
        return cm_err_set(err, CM_E_NOMEM, "gc: out of memory");
    }
    end->ptr[end->len - 1]++; /* the kind byte 'h' + 1: just past every field */
    return 0;
}

int sql_gc_queue_delete_range(cm_txn *t, uint64_t ts, cm_slice start, cm_slice end, cm_err *err)
{
    if (ts == 0 || (end.len > 0 && cm_slice_cmp(start, end) >= 0)) {
        return cm_err_set(err, CM_E_INVALID, "gc: bad delete range (ts %llu)",
                          (unsigned long long)ts);
    }
    cm_buf k = CM_BUF_INIT, v = CM_BUF_INIT;
    int rc = sql_gc_queue_key(&k, ts, start, err);
    rc = rc ? rc : sql_gc_queue_value(&v, start, end, err);
    rc = rc ? rc : cm_txn_set(t, cm_buf_slice(&k), cm_buf_slice(&v), err);
    cm_buf_fini(&k);
    cm_buf_fini(&v);
    return rc;
}

/* ---- the worker ----------------------------------------------------------------------------- */

struct sql_gc {
    cm_kv_client *kc;
    cm_pd_client *pd;
    sql_gc_options o;
    char node[200];
    char reg_key[256];

    pthread_t thread;
    bool started;
    pthread_mutex_t mu; /* everything below */
    pthread_cond_t cv;
    bool stop;
    sql_gc_txnset txns;
    /* lease: owner while mono time < lease_until_ms (counted from before the request) */
    uint64_t term;
    uint64_t lease_until_ms;
    sql_gc_stats st;
    pthread_mutex_t round_mu; /* one round at a time (worker vs sql_gc_run_once) */
};

void sql_gc_options_default(sql_gc_options *o)
{
    o->node_name = NULL;
    o->life_time_ms = 600000;
    o->interval_ms = 600000;
    o->publish_ms = 1000;
}

void sql_gc_stats_get(sql_gc *g, sql_gc_stats *out)
{
    pthread_mutex_lock(&g->mu);
    *out = g->st;
    out->owner = g->term != 0 && cm_time_mono_ms() < g->lease_until_ms;
    pthread_mutex_unlock(&g->mu);
}

static void note_error(sql_gc *g, const cm_err *e)
{
    pthread_mutex_lock(&g->mu);
    g->st.errors++;
    size_t n = strnlen(e->msg, sizeof(g->st.last_error) - 1);
    memcpy(g->st.last_error, e->msg, n);
    g->st.last_error[n] = '\0';
    pthread_mutex_unlock(&g->mu);
}

int sql_gc_txn_begin(sql_gc *g, uint64_t start_ts)
{
    if (g == NULL) {
        return 0;
    }
    pthread_mutex_lock(&g->mu);
    int rc = sql_gc_txnset_add(&g->txns, start_ts);
    pthread_mutex_unlock(&g->mu);
    return rc;
}

void sql_gc_txn_end(sql_gc *g, uint64_t start_ts)
{
    if (g == NULL) {
        return;
    }
    pthread_mutex_lock(&g->mu);
    sql_gc_txnset_remove(&g->txns, start_ts);
    pthread_mutex_unlock(&g->mu);
}

static uint64_t local_oldest(sql_gc *g)
{
    pthread_mutex_lock(&g->mu);
    uint64_t m = sql_gc_txnset_min(&g->txns);
    pthread_mutex_unlock(&g->mu);
    return m;
}

/* Publishes this node's oldest running start_ts (8 bytes BE; 0: none) with a TTL. */
static int publish(sql_gc *g, cm_err *err)
{
    uint8_t v[8];
    uint64_t m = local_oldest(g);
    for (int i = 0; i < 8; i++) {
        v[i] = (uint8_t)(m >> (56 - 8 * i));
    }
    uint64_t ttl = (uint64_t)g->o.publish_ms * SQL_GC_PUBLISH_TTL_X;
    if (ttl < SQL_GC_PUBLISH_TTL_MIN_MS) {
        ttl = SQL_GC_PUBLISH_TTL_MIN_MS;
    }
    int rc = cm_pd_registry_put(g->pd, g->reg_key, cm_slice_make(v, sizeof(v)), ttl, err);
    if (rc == 0) {
        pthread_mutex_lock(&g->mu);
        g->st.publishes++;
        pthread_mutex_unlock(&g->mu);
    }
    return rc;
}

static int oldest_cb(void *user, const char *key, cm_slice value, uint64_t ttl_left_ms)
{
    (void)key;
    (void)ttl_left_ms;
    uint64_t *oldest = user, ts = 0;
    if (value.len != 8) {
        CM_WARN(GC, "registry entry %s is not a start_ts (%zu bytes): ignored", key, value.len);
        return 0;
    }
    for (size_t i = 0; i < 8; i++) {
        ts = ts << 8 | value.ptr[i];
    }
    if (ts != 0 && (*oldest == 0 || ts < *oldest)) {
        *oldest = ts;
    }
    return 0;
}

/* The oldest start_ts running on any sqlnode (0: none): the registry and this node's own. */
static int oldest_running(sql_gc *g, uint64_t *oldest, cm_err *err)
{
    *oldest = 0;
    int rc = cm_pd_registry_list(g->pd, SQL_GC_TXN_PREFIX, 0, oldest_cb, oldest, err);
    uint64_t mine = local_oldest(g);
    if (mine != 0 && (*oldest == 0 || mine < *oldest)) {
        *oldest = mine;
    }
    return rc;
}

/* Takes or renews the gc_owner lease. Sets *owner. */
static int lease_tick(sql_gc *g, bool campaign, bool *owner, cm_err *err)
{
    uint64_t sent = cm_time_mono_ms();
    pthread_mutex_lock(&g->mu);
    uint64_t term = g->term;
    bool held = term != 0 && sent < g->lease_until_ms;
    pthread_mutex_unlock(&g->mu);
    int rc = 0;
    uint64_t ttl_left = 0, new_term = 0;
    if (held) {
        rc = cm_pd_renew(g->pd, SQL_GC_OWNER_LEASE, g->node, term, SQL_GC_LEASE_TTL_MS, &ttl_left,
                         err);
        new_term = rc == 0 ? term : 0;
        if (rc == CM_E_NOT_FOUND) {
            rc = 0; /* lost (expired, or PD moved on): a campaign may win it back at once */
        }
    }
    if (new_term == 0 && rc == 0 && campaign) {
        cm_pd_lease l;
        memset(&l, 0, sizeof(l));
        rc = cm_pd_campaign(g->pd, SQL_GC_OWNER_LEASE, g->node, SQL_GC_LEASE_TTL_MS, &l, err);
        if (rc == 0 && l.granted) {
            new_term = l.term;
            ttl_left = l.ttl_left_ms ? l.ttl_left_ms : SQL_GC_LEASE_TTL_MS;
        } else if (rc == 0) {
            cm_err_set(err, CM_E_BUSY, "gc: %s owns the gc_owner lease", l.owner);
        }
    }
    pthread_mutex_lock(&g->mu);
    if (new_term != 0) {
        if (g->term != new_term) {
            CM_INFO(GC, "%s is the GC owner (term %llu)", g->node, (unsigned long long)new_term);
        }
        g->term = new_term;
        g->lease_until_ms = sent + ttl_left;
    } else {
        g->term = 0; /* lost, or unknown: act as a non-owner until a campaign succeeds */
        g->lease_until_ms = 0;
    }
    *owner = g->term != 0 && cm_time_mono_ms() < g->lease_until_ms;
    pthread_mutex_unlock(&g->mu);
    return rc;
}

/* Runs (and dequeues) every queued delete range with ts below sp. */
static int run_delete_ranges(sql_gc *g, uint64_t sp, cm_err *err)
{
    cm_buf qs = CM_BUF_INIT, qe = CM_BUF_INIT;
    cm_txn *t = NULL;
    cm_txn_iter *it = NULL;
    int rc = sql_gc_queue_range(&qs, &qe, err);
    rc = rc ? rc : cm_txn_begin(g->kc, &t, err);
    rc = rc ? rc : cm_txn_scan(t, cm_buf_slice(&qs), cm_buf_slice(&qe), &it, err);
    uint64_t done = 0, waiting = 0;
    for (int n = 0; rc == 0 && n < 100000; n++) { /* bounded: one round's worth of entries */
        cm_slice k, v, start, end;
        uint64_t ts = 0;
        int more = cm_txn_iter_next(it, &k, &v, err);
        if (more <= 0) {
            rc = more;
            break;
        }
        cm_err e;
        if (sql_gc_queue_decode(k, v, &ts, &start, &end, &e) != 0) {
            CM_WARN(GC, "skipping a malformed delete-range queue entry: %s", e.msg);
            continue;
        }
        if (ts >= sp) {
            waiting++; /* fields sort by ts: the rest are later still */
            continue;
        }
        rc = cm_kv_delete_range(g->kc, start, end, err);
        cm_txn *d = NULL;
        rc = rc ? rc : cm_txn_begin(g->kc, &d, err);
        rc = rc ? rc : cm_txn_delete(d, k, err);
        rc = rc ? rc : cm_txn_commit(d, err);
        cm_txn_free(d);
        if (rc == 0) {
            done++;
        }
    }
    cm_txn_iter_free(it);
    cm_txn_free(t);
    cm_buf_fini(&qs);
    cm_buf_fini(&qe);
    pthread_mutex_lock(&g->mu);
    g->st.ranges_done += done;
    g->st.ranges_waiting = waiting;
    pthread_mutex_unlock(&g->mu);
    if (done > 0) {
        CM_INFO(GC, "ran %llu queued delete ranges below safe point %llu (%llu waiting)",
                (unsigned long long)done, (unsigned long long)sp, (unsigned long long)waiting);
    }
    return rc;
}

/* One round as owner: safe point, PD, KV_GC of every region, queued delete ranges. */
static int round_run(sql_gc *g, uint64_t *safe_point, cm_err *err)
{
    uint64_t now_ts = 0, oldest = 0, now_sp = 0;
    int rc = cm_pd_get_ts(g->pd, &now_ts, err);
    rc = rc ? rc : oldest_running(g, &oldest, err);
    if (rc != 0) {
        return rc;
    }
    uint64_t sp = sql_gc_compute_safe_point(now_ts, g->o.life_time_ms, oldest);
    if (sp == 0) {
        *safe_point = 0;
        return 0;
    }
    rc = cm_pd_update_gc_safe_point(g->pd, sp, &now_sp, err);
    if (rc == 0 && now_sp > sp) {
        CM_INFO(GC, "PD's safe point %llu is already above %llu", (unsigned long long)now_sp,
                (unsigned long long)sp);
    }
    rc = rc ? rc : cm_kv_gc(g->kc, now_sp, err);
    rc = rc ? rc : run_delete_ranges(g, now_sp, err);
    if (rc == 0) {
        *safe_point = now_sp;
        pthread_mutex_lock(&g->mu);
        g->st.rounds++;
        g->st.safe_point = now_sp;
        pthread_mutex_unlock(&g->mu);
        CM_INFO(GC, "round done: safe point %llu (oldest running %llu)", (unsigned long long)now_sp,
                (unsigned long long)oldest);
    }
    return rc;
}

int sql_gc_run_once(sql_gc *g, uint64_t *safe_point, cm_err *err)
{
    *safe_point = 0;
    pthread_mutex_lock(&g->round_mu);
    bool owner = false;
    err->code = 0;
    int rc = lease_tick(g, true, &owner, err);
    if (rc == 0 && !owner) {
        /* lease_tick named the owner when PD refused the campaign */
        rc = err->code == CM_E_BUSY
                 ? CM_E_BUSY
                 : cm_err_set(err, CM_E_BUSY, "gc: this node does not own the gc_owner lease");
    }
    rc = rc ? rc : round_run(g, safe_point, err);
    pthread_mutex_unlock(&g->round_mu);
    if (rc != 0) {
        note_error(g, err);
    }
    return rc;
}

static void wait_until(sql_gc *g, uint64_t until_ms)
{
    uint64_t now = cm_time_mono_ms();
    if (until_ms <= now) {
        return;
    }
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    uint64_t ns = (uint64_t)dl.tv_nsec + (until_ms - now) * 1000000ull;
    dl.tv_sec += (time_t)(ns / 1000000000ull);
    dl.tv_nsec = (long)(ns % 1000000000ull);
    pthread_mutex_lock(&g->mu);
    while (!g->stop) {
        if (pthread_cond_timedwait(&g->cv, &g->mu, &dl) == ETIMEDOUT) {
            break;
        }
    }
    pthread_mutex_unlock(&g->mu);
}

static bool stopping(sql_gc *g)
{
    pthread_mutex_lock(&g->mu);
    bool s = g->stop;
    pthread_mutex_unlock(&g->mu);
    return s;
}

static void *worker(void *arg)
{
    sql_gc *g = arg;
    uint64_t now = cm_time_mono_ms();
    uint64_t next_pub = now, next_renew = now + SQL_GC_LEASE_TTL_MS / 3,
             next_round = now + (uint64_t)g->o.interval_ms;
    while (!stopping(g)) {
        cm_err e;
        now = cm_time_mono_ms();
        if (now >= next_pub) {
            if (publish(g, &e) != 0) {
                CM_WARN(GC, "publishing the oldest running start_ts: %s", e.msg);
                note_error(g, &e);
            }
            next_pub = cm_time_mono_ms() + (uint64_t)g->o.publish_ms;
        }
        if (now >= next_round) {
            uint64_t sp = 0;
            bool owner = false;
            pthread_mutex_lock(&g->round_mu);
            int rc = lease_tick(g, true, &owner, &e);
            if (rc == 0 && owner) {
                rc = round_run(g, &sp, &e);
            }
            pthread_mutex_unlock(&g->round_mu);
            if (rc != 0) {
                CM_WARN(GC, "GC round: %s", e.msg);
                note_error(g, &e);
            }
            next_round = cm_time_mono_ms() + (uint64_t)g->o.interval_ms;
            next_renew = cm_time_mono_ms() + SQL_GC_LEASE_TTL_MS / 3;
        } else if (now >= next_renew) {
            bool owner = false;
            if (lease_tick(g, false, &owner, &e) != 0) {
                CM_WARN(GC, "renewing the gc_owner lease: %s", e.msg);
            }
            next_renew = cm_time_mono_ms() + SQL_GC_LEASE_TTL_MS / 3;
        }
        uint64_t until = next_pub < next_round ? next_pub : next_round;
        until = next_renew < until ? next_renew : until;
        wait_until(g, until);
    }
    return NULL;
}

int sql_gc_start(cm_kv_client *kc, const sql_gc_options *o, sql_gc **out, cm_err *err)
{
    *out = NULL;
    if (o == NULL || o->node_name == NULL || o->node_name[0] == '\0' ||
        strlen(o->node_name) >= 200 || o->interval_ms <= 0 || o->publish_ms <= 0 ||
        o->life_time_ms < 0) {
        return cm_err_set(err, CM_E_INVALID, "gc: bad options (node name, intervals)");
    }
    sql_gc *g = calloc(1, sizeof(*g));
    if (g == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "gc: out of memory");
    }
    g->kc = kc;
    g->pd = cm_kv_client_pd(kc);
    g->o = *o;
    snprintf(g->node, sizeof(g->node), "%s", o->node_name);
    snprintf(g->reg_key, sizeof(g->reg_key), "%s%s", SQL_GC_TXN_PREFIX, o->node_name);
    g->o.node_name = g->node;
    sql_gc_txnset_init(&g->txns);
    pthread_mutex_init(&g->mu, NULL);
    pthread_mutex_init(&g->round_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&g->thread, NULL, worker, g) != 0) {
        sql_gc_stop(g);
        return cm_err_set(err, CM_E_NOMEM, "gc: cannot start the worker thread");
    }
    g->started = true;
    *out = g;
    return 0;
}

void sql_gc_stop(sql_gc *g)
{
    if (g == NULL) {
        return;
    }
    pthread_mutex_lock(&g->mu);
    g->stop = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    if (g->started) {
        pthread_join(g->thread, NULL);
    }
    uint64_t term = g->term; /* the worker is gone: no one else touches it */
    cm_err e;
    if (term != 0) {
        cm_pd_resign(g->pd, SQL_GC_OWNER_LEASE, g->node, term, &e); /* best effort */
    }
    int deleted = 0;
    if (g->started) {
        cm_pd_registry_delete(g->pd, g->reg_key, &deleted, &e); /* best effort */
    }
    sql_gc_txnset_fini(&g->txns);
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->round_mu);
    pthread_mutex_destroy(&g->mu);
    free(g);
}
