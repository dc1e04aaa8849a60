/* Unit tests for common/kvclient's core: the TSO batcher (against a fake oracle with delays)
 * and the region cache. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cm_log.h"
#include "cm_region_cache.h"
#include "cm_time.h"
#include "cm_tso_batch.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- fake oracle ------------------------------------------------------------------------- */

typedef struct oracle {
    pthread_mutex_t mu;
    uint64_t next;
    _Atomic int inflight, max_inflight;
    _Atomic int fail_next;
    uint32_t max_count_seen;
    _Atomic unsigned jitter;
} oracle;

static void spin_us(unsigned us)
{
    struct timespec ts = {0, (long)us * 1000};
    nanosleep(&ts, NULL);
}

/* Serves at the moment it takes the lock (like PD), then takes a while to "reply". */
static int oracle_fetch(void *user, uint32_t count, uint64_t *first, cm_err *err)
{
    oracle *o = user;
    int now = atomic_fetch_add(&o->inflight, 1) + 1;
    int prev = atomic_load(&o->max_inflight);
    while (now > prev && !atomic_compare_exchange_weak(&o->max_inflight, &prev, now)) {
    }
    spin_us(20);
    int rc = 0;
    if (atomic_exchange(&o->fail_next, 0)) {
        rc = cm_err_set(err, CM_E_TIMEOUT, "injected");
    } else {
        pthread_mutex_lock(&o->mu);
        *first = o->next;
        o->next += count;
        if (count > o->max_count_seen) {
            o->max_count_seen = count;
        }
        pthread_mutex_unlock(&o->mu);
    }
    /* A reply takes a varying time to come back, as replies do, so a batcher that had several
     * requests in flight would see them complete out of the order PD served them. */
    spin_us(10 + (unsigned)(atomic_fetch_add(&o->jitter, 7919) % 300));
    atomic_fetch_sub(&o->inflight, 1);
    return rc;
}

typedef struct rec {
    uint64_t start_ns, end_ns, ts;
} rec;

typedef struct worker {
    cm_tso_batcher *b;
    rec *recs;
    int n;
    int errors;
} worker;

static void *worker_main(void *p)
{
    worker *w = p;
    for (int i = 0; i < w->n; i++) {
        cm_err err;
        w->recs[i].start_ns = cm_time_mono_ns();
        if (cm_tso_batcher_get(w->b, &w->recs[i].ts, &err) != 0) {
            w->errors++;
            w->recs[i].ts = 0;
        }
        w->recs[i].end_ns = cm_time_mono_ns();
    }
    return NULL;
}

static int cmp_end(const void *a, const void *b)
{
    const rec *x = a, *y = b;
    return x->end_ns < y->end_ns ? -1 : (x->end_ns > y->end_ns ? 1 : 0);
}

static int cmp_ts(const void *a, const void *b)
{
    const rec *x = a, *y = b;
    return x->ts < y->ts ? -1 : (x->ts > y->ts ? 1 : 0);
}

/* Every fetch that started after another one ended got a larger timestamp. */
static void check_real_time_order(rec *all, size_t n)
{
    qsort(all, n, sizeof(*all), cmp_end);
    uint64_t *prefix_max = malloc(n * sizeof(uint64_t));
    assert_non_null(prefix_max);
    for (size_t i = 0; i < n; i++) {
        prefix_max[i] =
            i ? (all[i].ts > prefix_max[i - 1] ? all[i].ts : prefix_max[i - 1]) : all[i].ts;
    }
    for (size_t i = 0; i < n; i++) {
        /* Largest timestamp among fetches that ended strictly before all[i] started. */
        size_t lo = 0, hi = n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (all[mid].end_ns < all[i].start_ns) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if (lo > 0) {
            assert_true(all[i].ts > prefix_max[lo - 1]);
        }
    }
    free(prefix_max);
}

static void run_threads(cm_tso_batcher *b, int threads, int per, rec **out_all)
{
    pthread_t th[64];
    worker w[64];
    rec *all = calloc((size_t)threads * (size_t)per, sizeof(rec));
    assert_non_null(all);
    for (int i = 0; i < threads; i++) {
        w[i] = (worker){b, all + (size_t)i * (size_t)per, per, 0};
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].errors, 0);
        for (int j = 1; j < per; j++) {
            assert_true(w[i].recs[j].ts > w[i].recs[j - 1].ts); /* per thread increasing */
        }
    }
    *out_all = all;
}

static void test_batcher_properties(void **state)
{
    (void)state;
    enum { THREADS = 16, PER = 3000 };
    oracle o = {PTHREAD_MUTEX_INITIALIZER, 1000, 0, 0, 0, 0, 0};
    cm_tso_batcher *b;
    cm_err err;
    assert_int_equal(cm_tso_batcher_create(oracle_fetch, &o, 10000, &b, &err), 0);
    rec *all;
    run_threads(b, THREADS, PER, &all);
    size_t n = (size_t)THREADS * PER;
    qsort(all, n, sizeof(*all), cmp_ts);
    for (size_t i = 1; i < n; i++) {
        assert_true(all[i].ts > all[i - 1].ts); /* unique */
    }
    check_real_time_order(all, n);
    cm_tso_batch_stats st;
    cm_tso_batcher_stats(b, &st);
    assert_int_equal(st.timestamps, n);
    assert_true(st.requests < n / 2); /* batching happened */
    assert_true(st.max_batch > 1);
    assert_int_equal(atomic_load(&o.max_inflight), 1); /* one request on the wire at a time */
    uint64_t bucket_total = 0;
    for (int i = 0; i < CM_TSO_BATCH_BUCKETS; i++) {
        bucket_total += st.size_buckets[i];
    }
    assert_int_equal(bucket_total, st.requests);
    free(all);
    cm_tso_batcher_free(b);
}

static void test_batcher_max_batch(void **state)
{
    (void)state;
    oracle o = {PTHREAD_MUTEX_INITIALIZER, 1, 0, 0, 0, 0, 0};
    cm_tso_batcher *b;
    cm_err err;
    assert_int_equal(cm_tso_batcher_create(oracle_fetch, &o, 3, &b, &err), 0);
    rec *all;
    run_threads(b, 12, 500, &all);
    assert_true(o.max_count_seen <= 3);
    cm_tso_batch_stats st;
    cm_tso_batcher_stats(b, &st);
    assert_true(st.max_batch <= 3);
    free(all);
    cm_tso_batcher_free(b);
    assert_int_equal(cm_tso_batcher_create(oracle_fetch, &o, 0, &b, &err), CM_E_INVALID);
}

static void test_batcher_error_then_recovery(void **state)
{
    (void)state;
    oracle o = {PTHREAD_MUTEX_INITIALIZER, 5, 0, 0, 0, 0, 0};
    cm_tso_batcher *b;
    cm_err err;
    assert_int_equal(cm_tso_batcher_create(oracle_fetch, &o, 100, &b, &err), 0);
    uint64_t ts = 0, ts2 = 0;
    atomic_store(&o.fail_next, 1);
    assert_int_equal(cm_tso_batcher_get(b, &ts, &err), CM_E_TIMEOUT);
    assert_string_equal(err.msg, "injected");
    assert_int_equal(cm_tso_batcher_get(b, &ts, &err), 0);
    assert_int_equal(ts, 5);
    assert_int_equal(cm_tso_batcher_get(b, &ts2, &err), 0);
    assert_int_equal(ts2, 6);
    cm_tso_batch_stats st;
    cm_tso_batcher_stats(b, &st);
    assert_int_equal(st.errors, 1);
    assert_int_equal(st.requests, 3);
    cm_tso_batcher_free(b);
}

/* A signals B after receiving a; B's next timestamp must exceed a (under load from others). */
typedef struct pair_ctx {
    cm_tso_batcher *b;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t handed; /* a, when posted */
    int posted, acked, stop;
    int violations, pairs;
} pair_ctx;

static void *pair_b(void *p)
{
    pair_ctx *x = p;
    pthread_mutex_lock(&x->mu);
    for (;;) {
        while (!x->posted && !x->stop) {
            pthread_cond_wait(&x->cv, &x->mu);
        }
        if (x->stop) {
            break;
        }
        uint64_t a = x->handed;
        x->posted = 0;
        pthread_mutex_unlock(&x->mu);
        uint64_t bts = 0;
        cm_err err;
        assert_int_equal(cm_tso_batcher_get(x->b, &bts, &err), 0);
        pthread_mutex_lock(&x->mu);
        x->violations += bts <= a;
        x->pairs++;
        x->acked = 1;
        pthread_cond_broadcast(&x->cv);
    }
    pthread_mutex_unlock(&x->mu);
    return NULL;
}

static _Atomic int load_stop;

static void *load_main(void *p)
{
    cm_tso_batcher *b = p;
    while (!atomic_load(&load_stop)) {
        uint64_t ts;
        cm_err err;
        (void)cm_tso_batcher_get(b, &ts, &err);
    }
    return NULL;
}

static void test_batcher_causality_pairs(void **state)
{
    (void)state;
    oracle o = {PTHREAD_MUTEX_INITIALIZER, 1, 0, 0, 0, 0, 0};
    cm_tso_batcher *b;
    cm_err err;
    assert_int_equal(cm_tso_batcher_create(oracle_fetch, &o, 10000, &b, &err), 0);
    pair_ctx x;
    memset(&x, 0, sizeof(x));
    x.b = b;
    pthread_mutex_init(&x.mu, NULL);
    pthread_cond_init(&x.cv, NULL);
    atomic_store(&load_stop, 0);
    pthread_t load[8], tb;
    for (int i = 0; i < 8; i++) {
        pthread_create(&load[i], NULL, load_main, b);
    }
    pthread_create(&tb, NULL, pair_b, &x);
    for (int i = 0; i < 2000; i++) {
        uint64_t a;
        assert_int_equal(cm_tso_batcher_get(b, &a, &err), 0);
        pthread_mutex_lock(&x.mu);
        x.handed = a;
        x.posted = 1;
        x.acked = 0;
        pthread_cond_broadcast(&x.cv);
        while (!x.acked) {
            pthread_cond_wait(&x.cv, &x.mu);
        }
        pthread_mutex_unlock(&x.mu);
    }
    pthread_mutex_lock(&x.mu);
    x.stop = 1;
    pthread_cond_broadcast(&x.cv);
    pthread_mutex_unlock(&x.mu);
    pthread_join(tb, NULL);
    atomic_store(&load_stop, 1);
    for (int i = 0; i < 8; i++) {
        pthread_join(load[i], NULL);
    }
    assert_int_equal(x.pairs, 2000);
    assert_int_equal(x.violations, 0);
    cm_tso_batcher_free(b);
}

/* ---- region cache ------------------------------------------------------------------------ */

static void mk(cm_pd_region *r, uint64_t id, const char *s, const char *e, uint64_t cv, uint64_t v,
               uint64_t store)
{
    cm_pd_region_init(r);
    r->id = id;
    cm_buf_append(&r->start_key, s, strlen(s));
    cm_buf_append(&r->end_key, e, strlen(e));
    r->conf_ver = cv;
    r->version = v;
    r->npeers = 1;
    r->peers[0].id = id + 100;
    r->peers[0].store_id = store;
}

static void put(cm_region_cache *c, uint64_t id, const char *s, const char *e, uint64_t cv,
                uint64_t v, uint64_t store)
{
    cm_pd_region r;
    mk(&r, id, s, e, cv, v, store);
    assert_int_equal(cm_region_cache_put(c, &r), 0);
    cm_pd_region_fini(&r);
}

static uint64_t lookup(cm_region_cache *c, const char *key)
{
    cm_pd_region r;
    cm_pd_region_init(&r);
    uint64_t id = cm_region_cache_by_key(c, cm_slice_cstr(key), &r) == 1 ? r.id : 0;
    cm_pd_region_fini(&r);
    return id;
}

static void test_cache_basic(void **state)
{
    (void)state;
    cm_region_cache *c;
    assert_int_equal(cm_region_cache_create(100, &c), 0);
    put(c, 1, "", "g", 1, 1, 1);
    put(c, 2, "g", "p", 1, 1, 2);
    put(c, 3, "p", "", 1, 1, 1);
    assert_int_equal(lookup(c, "a"), 1);
    assert_int_equal(lookup(c, "g"), 2);
    assert_int_equal(lookup(c, "zz"), 3);
    cm_pd_region r;
    cm_pd_region_init(&r);
    assert_int_equal(cm_region_cache_by_id(c, 2, &r), 1);
    assert_int_equal(r.version, 1);
    /* Region 2 split: [g, k) v2 replaces the cached [g, p); [k, p) is unknown. */
    put(c, 2, "g", "k", 1, 2, 2);
    assert_int_equal(lookup(c, "h"), 2);
    assert_int_equal(lookup(c, "m"), 0);
    /* An older route arriving late does not replace the newer one. */
    put(c, 2, "g", "p", 1, 1, 2);
    assert_int_equal(lookup(c, "m"), 0);
    /* A late reply carrying the parent under another id does not replace the newer child. */
    put(c, 8, "g", "p", 1, 1, 2);
    assert_int_equal(lookup(c, "h"), 2);
    /* A region spanning several replaces them all. */
    put(c, 9, "b", "q", 1, 5, 3);
    assert_int_equal(lookup(c, "a"), 0);
    assert_int_equal(lookup(c, "p"), 9);
    assert_int_equal(lookup(c, "q"), 0); /* [p, +inf) overlapped [b, q) too */
    assert_int_equal(cm_region_cache_count(c), 1);
    assert_int_equal(cm_region_cache_by_id(c, 1, &r), 0);
    assert_int_equal(cm_region_cache_invalidate(c, 9), 1);
    assert_int_equal(cm_region_cache_invalidate(c, 9), 0);
    assert_int_equal(lookup(c, "p"), 0);
    put(c, 4, "a", "b", 1, 1, 7);
    put(c, 5, "b", "c", 1, 1, 8);
    assert_int_equal(cm_region_cache_invalidate_store(c, 7), 1);
    assert_int_equal(lookup(c, "a"), 0);
    assert_int_equal(lookup(c, "b"), 5);
    cm_region_cache_clear(c);
    assert_int_equal(cm_region_cache_count(c), 0);
    cm_pd_region_fini(&r);
    cm_region_cache_free(c);
}

static void test_cache_bounded(void **state)
{
    (void)state;
    cm_region_cache *c;
    assert_int_equal(cm_region_cache_create(10, &c), 0);
    for (int i = 0; i < 95; i++) {
        char s[8], e[8];
        snprintf(s, sizeof(s), "k%03d", i);
        snprintf(e, sizeof(e), "k%03d", i + 1);
        put(c, (uint64_t)i + 1, s, e, 1, 1, 1);
        assert_true(cm_region_cache_count(c) <= 10);
        assert_int_equal(lookup(c, s), (uint64_t)i + 1);
        /* The id index stays consistent with the array through clears and removals. */
        cm_pd_region r;
        cm_pd_region_init(&r);
        assert_int_equal(cm_region_cache_by_id(c, (uint64_t)i + 1, &r), 1);
        cm_pd_region_fini(&r);
    }
    cm_region_cache_free(c);
}

static void test_cache_random_ids(void **state)
{
    (void)state;
    /* Many puts and invalidations by id: the id index must agree with the array. */
    cm_region_cache *c;
    assert_int_equal(cm_region_cache_create(100000, &c), 0);
    uint64_t seed = 99;
    for (int step = 0; step < 20000; step++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t x = (uint32_t)(seed >> 33);
        int k = (int)(x % 2000);
        char s[8], e[8];
        snprintf(s, sizeof(s), "k%04d", k);
        snprintf(e, sizeof(e), "k%04d", k + 1);
        uint64_t id = (uint64_t)k + 1;
        if (x & 0x100000) {
            put(c, id, s, e, 1, 1 + (uint64_t)step, 1);
            assert_int_equal(lookup(c, s), id);
        } else {
            cm_region_cache_invalidate(c, id);
            assert_int_equal(lookup(c, s), 0);
        }
    }
    size_t n = cm_region_cache_count(c);
    size_t found = 0;
    for (int k = 0; k < 2000; k++) {
        cm_pd_region r;
        cm_pd_region_init(&r);
        found += (size_t)(cm_region_cache_by_id(c, (uint64_t)k + 1, &r) == 1);
        cm_pd_region_fini(&r);
    }
    assert_int_equal(found, n);
    cm_region_cache_free(c);
}

int main(void)
{
    cm_log_set_level(CM_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batcher_properties),
        cmocka_unit_test(test_batcher_max_batch),
        cmocka_unit_test(test_batcher_error_then_recovery),
        cmocka_unit_test(test_batcher_causality_pairs),
        cmocka_unit_test(test_cache_basic),
        cmocka_unit_test(test_cache_bounded),
        cmocka_unit_test(test_cache_random_ids),
    };
    return cmocka_run_group_tests_name("kvclient_core", tests, NULL, NULL);
}
