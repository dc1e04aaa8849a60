/*
 * pd_stress — drives a real pd process through the PD client for the end-to-end tests
 * (pd/test/test_pd_e2e.py) and the acceptance checks (tools/accept.d/pd). Every mode prints one
 * JSON object on stdout with what it measured and what it checked; the Python side asserts.
 *
 *   pd_stress tso --pd ADDR --threads T --count N [--seconds S] [--split-file F]
 *       T threads fetch up to N timestamps each (stopping after S seconds if given). Checks: all
 *       unique; increasing per thread; every fetch that started after another one ended got a
 *       larger timestamp (real-time order, on CLOCK_MONOTONIC). With --split-file, F holds a
 *       CLOCK_MONOTONIC time in ns (written by the test after it killed pd and saw it dead):
 *       fetches that ended before it and fetches that started after it are counted and their
 *       max/min compared.
 *   pd_stress causality --pd ADDR --load-threads L --pair-threads P --pairs N
 *       L threads hammer the TSO; P pairs of threads run N handoffs in total: A gets a, hands a
 *       to B, B gets b and checks b > a.
 *   pd_stress stale --pd ADDR
 *       registers a store, splits the bootstrap region by heartbeats, then sends stale reports
 *       (lower version; lower conf_ver with higher version) and checks routing did not change.
 *   pd_stress api --pd ADDR
 *       ids, GC safe point, registry (election and TTL map), store heartbeats and states.
 *   pd_stress garbage --pd ADDR
 *       random payloads to every method id (and unknown ones); pd must answer each with an error
 *       or a reply and still serve timestamps afterwards.
 */
#include "cm_log.h"
#include "cm_pd_client.h"
#include "cm_rpc.h"
#include "cm_time.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct args {
    const char *mode;
    const char *pd;
    int threads;
    long count;
    double seconds;
    const char *split_file;
    int load_threads;
    int pair_threads;
    long pairs;
} args;

static void usage(void)
{
    fprintf(stderr, "usage: pd_stress tso|causality|stale|api --pd ADDR [options] (see source)\n");
    exit(2);
}

static void parse_args(int argc, char **argv, args *a)
{
    memset(a, 0, sizeof(*a));
    a->threads = 8;
    a->count = 1000;
    a->load_threads = 64;
    a->pair_threads = 4;
    a->pairs = 1000;
    if (argc < 2) {
        usage();
    }
    a->mode = argv[1];
    for (int i = 2; i < argc; i += 2) {
        const char *k = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) {
            usage();
        }
        if (strcmp(k, "--pd") == 0) {
            a->pd = v;
        } else if (strcmp(k, "--threads") == 0) {
            a->threads = atoi(v);
        } else if (strcmp(k, "--count") == 0) {
            a->count = atol(v);
        } else if (strcmp(k, "--seconds") == 0) {
            a->seconds = atof(v);
        } else if (strcmp(k, "--split-file") == 0) {
            a->split_file = v;
        } else if (strcmp(k, "--load-threads") == 0) {
            a->load_threads = atoi(v);
        } else if (strcmp(k, "--pair-threads") == 0) {
            a->pair_threads = atoi(v);
        } else if (strcmp(k, "--pairs") == 0) {
            a->pairs = atol(v);
        } else {
            usage();
        }
    }
    if (a->pd == NULL || a->threads < 1 || a->threads > 1024 || a->count < 1 ||
        a->load_threads < 0 || a->load_threads > 1024 || a->pair_threads < 1 ||
        a->pair_threads > 256 || a->pairs < 1) {
        usage();
    }
}

static cm_pd_client *connect_pd(const char *addr)
{
    cm_pd_client_options o;
    cm_pd_client_options_default(&o);
    /* A restarted pd is back within a second or two; the budget covers that with room. */
    o.request_timeout_ms = 1000;
    o.retry_budget_ms = 20000;
    cm_pd_client *c = NULL;
    cm_err err;
    if (cm_pd_client_create(addr, &o, &c, &err) != 0) {
        fprintf(stderr, "pd_stress: %s\n", err.msg);
        exit(1);
    }
    return c;
}

static void print_batch_stats(cm_pd_client *c)
{
    cm_pd_client_stats st;
    cm_pd_client_stats_get(c, &st);
    printf("\"requests\":%" PRIu64 ",\"timestamps\":%" PRIu64 ",\"max_batch\":%" PRIu64
           ",\"avg_batch\":%.2f,\"rpc_retries\":%" PRIu64 ",\"batch_buckets\":[",
           st.tso.requests, st.tso.timestamps, st.tso.max_batch,
           st.tso.requests ? (double)st.tso.timestamps / (double)st.tso.requests : 0.0, st.retries);
    for (int i = 0; i < CM_TSO_BATCH_BUCKETS; i++) {
        printf("%s%" PRIu64, i ? "," : "", st.tso.size_buckets[i]);
    }
    printf("]");
}

/* ---- tso --------------------------------------------------------------------------------- */

typedef struct rec {
    uint64_t start_ns, end_ns, ts;
} rec;

typedef struct tso_worker {
    cm_pd_client *c;
    rec *recs;
    long cap, n;
    uint64_t deadline_ns; /* 0: none */
    long errors;
    char last_error[CM_ERR_MSG_MAX];
} tso_worker;

static void *tso_main(void *p)
{
    tso_worker *w = p;
    while (w->n < w->cap) {
        rec *r = &w->recs[w->n];
        cm_err err;
        r->start_ns = cm_time_mono_ns();
        if (w->deadline_ns && r->start_ns >= w->deadline_ns) {
            break;
        }
        if (cm_pd_get_ts(w->c, &r->ts, &err) != 0) {
            w->errors++;
            snprintf(w->last_error, sizeof(w->last_error), "%s", err.msg);
            continue;
        }
        r->end_ns = cm_time_mono_ns();
        w->n++;
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

/* Fetches that started after another ended but got a timestamp not above it. */
static long realtime_violations(rec *all, size_t n)
{
    qsort(all, n, sizeof(*all), cmp_end);
    uint64_t *pmax = malloc((n ? n : 1) * sizeof(uint64_t));
    if (pmax == NULL) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        pmax[i] = i == 0 || all[i].ts > pmax[i - 1] ? all[i].ts : pmax[i - 1];
    }
    long bad = 0;
    for (size_t i = 0; i < n; i++) {
        size_t lo = 0, hi = n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (all[mid].end_ns < all[i].start_ns) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if (lo > 0 && all[i].ts <= pmax[lo - 1]) {
            bad++;
        }
    }
    free(pmax);
    return bad;
}

static int mode_tso(const args *a)
{
    cm_pd_client *c = connect_pd(a->pd);
    tso_worker *w = calloc((size_t)a->threads, sizeof(*w));
    pthread_t *th = calloc((size_t)a->threads, sizeof(*th));
    rec *all = calloc((size_t)a->threads * (size_t)a->count, sizeof(rec));
    if (w == NULL || th == NULL || all == NULL) {
        fprintf(stderr, "pd_stress: out of memory\n");
        return 1;
    }
    uint64_t t0 = cm_time_mono_ns();
    uint64_t deadline = a->seconds > 0 ? t0 + (uint64_t)(a->seconds * 1e9) : 0;
    for (int i = 0; i < a->threads; i++) {
        w[i] = (tso_worker){c, all + (size_t)i * (size_t)a->count, a->count, 0, deadline, 0, ""};
        pthread_create(&th[i], NULL, tso_main, &w[i]);
    }
    long errors = 0, per_thread_bad = 0;
    const char *last_error = "";
    for (int i = 0; i < a->threads; i++) {
        pthread_join(th[i], NULL);
        errors += w[i].errors;
        if (w[i].errors) {
            last_error = w[i].last_error;
        }
        for (long j = 1; j < w[i].n; j++) {
            per_thread_bad += w[i].recs[j].ts <= w[i].recs[j - 1].ts;
        }
    }
    double elapsed = (double)(cm_time_mono_ns() - t0) / 1e9;
    /* Compact the records of every thread into one array. */
    size_t n = 0;
    for (int i = 0; i < a->threads; i++) {
        memmove(all + n, w[i].recs, (size_t)w[i].n * sizeof(rec));
        n += (size_t)w[i].n;
    }
    /* The split, if any: ended before vs started after. */
    uint64_t split = 0;
    if (a->split_file != NULL) {
        FILE *f = fopen(a->split_file, "r");
        unsigned long long v = 0;
        if (f != NULL && fscanf(f, "%llu", &v) == 1) {
            split = v;
        }
        if (f != NULL) {
            fclose(f);
        }
    }
    long before = 0, after = 0;
    uint64_t max_before = 0, min_after = UINT64_MAX;
    for (size_t i = 0; split && i < n; i++) {
        if (all[i].end_ns < split) {
            before++;
            max_before = all[i].ts > max_before ? all[i].ts : max_before;
        } else if (all[i].start_ns > split) {
            after++;
            min_after = all[i].ts < min_after ? all[i].ts : min_after;
        }
    }
    long rt_bad = realtime_violations(all, n);
    qsort(all, n, sizeof(*all), cmp_ts);
    long dups = 0;
    for (size_t i = 1; i < n; i++) {
        dups += all[i].ts == all[i - 1].ts;
    }
    printf("{\"mode\":\"tso\",\"threads\":%d,\"fetched\":%zu,\"errors\":%ld,\"last_error\":\"%s\","
           "\"duplicates\":%ld,\"per_thread_not_increasing\":%ld,\"realtime_violations\":%ld,"
           "\"elapsed_s\":%.3f,\"rate_per_s\":%.0f,",
           a->threads, n, errors, errors ? "see stderr" : "", dups, per_thread_bad, rt_bad, elapsed,
           (double)n / elapsed);
    if (errors) {
        fprintf(stderr, "pd_stress: last error: %s\n", last_error);
    }
    if (split) {
        printf("\"split_ns\":%" PRIu64 ",\"before\":%ld,\"after\":%ld,\"max_before\":%" PRIu64
               ",\"min_after\":%" PRIu64 ",",
               split, before, after, max_before, after ? min_after : 0);
    }
    print_batch_stats(c);
    printf("}\n");
    free(all);
    free(w);
    free(th);
    cm_pd_client_free(c);
    return 0;
}

/* ---- causality --------------------------------------------------------------------------- */

typedef struct pair {
    cm_pd_client *c;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t a;
    int posted, acked, stop;
    long pairs, violations, errors;
    long todo;
} pair;

static void *pair_b_main(void *p)
{
    pair *x = p;
    pthread_mutex_lock(&x->mu);
    for (;;) {
        while (!x->posted && !x->stop) {
            pthread_cond_wait(&x->cv, &x->mu);
        }
        if (x->stop) {
            break;
        }
        uint64_t a = x->a;
        x->posted = 0;
        pthread_mutex_unlock(&x->mu);
        uint64_t b = 0;
        cm_err err;
        int rc = cm_pd_get_ts(x->c, &b, &err);
        pthread_mutex_lock(&x->mu);
        if (rc != 0) {
            x->errors++;
        } else {
            x->violations += b <= a;
            x->pairs++;
        }
        x->acked = 1;
        pthread_cond_broadcast(&x->cv);
    }
    pthread_mutex_unlock(&x->mu);
    return NULL;
}

static void *pair_a_main(void *p)
{
    pair *x = p;
    for (long i = 0; i < x->todo; i++) {
        uint64_t a;
        cm_err err;
        if (cm_pd_get_ts(x->c, &a, &err) != 0) {
            pthread_mutex_lock(&x->mu);
            x->errors++;
            pthread_mutex_unlock(&x->mu);
            continue;
        }
        pthread_mutex_lock(&x->mu);
        x->a = a;
        x->posted = 1;
        x->acked = 0;
        pthread_cond_broadcast(&x->cv);
        while (!x->acked) {
            pthread_cond_wait(&x->cv, &x->mu);
        }
        pthread_mutex_unlock(&x->mu);
    }
    pthread_mutex_lock(&x->mu);
    x->stop = 1;
    pthread_cond_broadcast(&x->cv);
    pthread_mutex_unlock(&x->mu);
    return NULL;
}

static _Atomic int load_stop;
static _Atomic long load_fetched;

static void *load_main(void *p)
{
    cm_pd_client *c = p;
    long n = 0;
    while (!atomic_load(&load_stop)) {
        uint64_t ts;
        cm_err err;
        n += cm_pd_get_ts(c, &ts, &err) == 0;
    }
    atomic_fetch_add(&load_fetched, n);
    return NULL;
}

static int mode_causality(const args *a)
{
    cm_pd_client *c = connect_pd(a->pd);
    int np = a->pair_threads;
    pair *pairs = calloc((size_t)np, sizeof(*pairs));
    pthread_t *ta = calloc((size_t)np, sizeof(pthread_t));
    pthread_t *tb = calloc((size_t)np, sizeof(pthread_t));
    pthread_t *tl = calloc((size_t)a->load_threads + 1, sizeof(pthread_t));
    if (!pairs || !ta || !tb || !tl) {
        return 1;
    }
    uint64_t t0 = cm_time_mono_ns();
    for (int i = 0; i < a->load_threads; i++) {
        pthread_create(&tl[i], NULL, load_main, c);
    }
    for (int i = 0; i < np; i++) {
        pairs[i].c = c;
        pthread_mutex_init(&pairs[i].mu, NULL);
        pthread_cond_init(&pairs[i].cv, NULL);
        pairs[i].todo = a->pairs / np + (i < a->pairs % np ? 1 : 0);
        pthread_create(&tb[i], NULL, pair_b_main, &pairs[i]);
        pthread_create(&ta[i], NULL, pair_a_main, &pairs[i]);
    }
    long done = 0, bad = 0, errors = 0;
    for (int i = 0; i < np; i++) {
        pthread_join(ta[i], NULL);
        pthread_join(tb[i], NULL);
        done += pairs[i].pairs;
        bad += pairs[i].violations;
        errors += pairs[i].errors;
    }
    atomic_store(&load_stop, 1);
    for (int i = 0; i < a->load_threads; i++) {
        pthread_join(tl[i], NULL);
    }
    double elapsed = (double)(cm_time_mono_ns() - t0) / 1e9;
    printf("{\"mode\":\"causality\",\"load_threads\":%d,\"pair_threads\":%d,\"pairs\":%ld,"
           "\"violations\":%ld,\"errors\":%ld,\"load_fetched\":%ld,\"elapsed_s\":%.3f,",
           a->load_threads, np, done, bad, errors, atomic_load(&load_fetched), elapsed);
    print_batch_stats(c);
    printf("}\n");
    cm_pd_client_free(c);
    free(pairs);
    free(ta);
    free(tb);
    free(tl);
    return 0;
}

/* ---- stale heartbeats -------------------------------------------------------------------- */

static int checks_failed;

static void check(int first, const char *name, int ok, const char *detail)
{
    if (!ok) {
        checks_failed++;
    }
    printf("%s\"%s\":{\"ok\":%s,\"detail\":\"%s\"}", first ? "" : ",", name, ok ? "true" : "false",
           detail ? detail : "");
}

static void set_range(cm_pd_region *r, const char *start, const char *end)
{
    cm_buf_reset(&r->start_key);
    cm_buf_reset(&r->end_key);
    cm_buf_append(&r->start_key, start, strlen(start));
    cm_buf_append(&r->end_key, end, strlen(end));
}

/* Fresh route (bypassing the cache): the region id covering key and its epoch. */
static uint64_t route(cm_pd_client *c, const char *key, uint64_t *version, uint64_t *conf_ver)
{
    cm_pd_region r;
    cm_pd_region_init(&r);
    cm_err err;
    uint64_t id = 0;
    if (cm_pd_get_region(c, cm_slice_cstr(key), &r, &err) == 0) {
        id = r.id;
        *version = r.version;
        *conf_ver = r.conf_ver;
    }
    cm_pd_region_fini(&r);
    return id;
}

static int mode_stale(const args *a)
{
    cm_pd_client *c = connect_pd(a->pd);
    cm_err err;
    char detail[600];
    printf("{\"mode\":\"stale\",\"checks\":{");
    uint64_t sid = 0, ids = 0;
    int rc = cm_pd_alloc_ids(c, 1, &sid, &err);
    check(1, "alloc_store_id", rc == 0, rc ? err.msg : "");
    cm_pd_store st;
    memset(&st, 0, sizeof(st));
    st.id = sid;
    snprintf(st.address, sizeof(st.address), "127.0.0.1:%" PRIu64, 40000 + sid);
    cm_pd_region boot, r;
    cm_pd_region_init(&boot);
    cm_pd_region_init(&r);
    int has = 0;
    rc = cm_pd_put_store(c, &st, &boot, &has, &err);
    check(0, "put_store_bootstraps",
          rc == 0 && has && boot.npeers == 1 && boot.start_key.len == 0 && boot.end_key.len == 0,
          rc ? err.msg : "");
    /* Split the first region at "m": the left half keeps its id, the right gets a new one. */
    rc = cm_pd_alloc_ids(c, 2, &ids, &err);
    uint64_t left_id = boot.id, right_id = ids;
    cm_pd_region_copy(&r, &boot);
    set_range(&r, "", "m");
    r.version = 2;
    r.leader = r.peers[0];
    rc = rc ? rc : cm_pd_region_heartbeat(c, &r, &err);
    cm_pd_region right;
    cm_pd_region_init(&right);
    cm_pd_region_copy(&right, &r);
    right.id = right_id;
    right.peers[0].id = ids + 1;
    right.leader = right.peers[0];
    set_range(&right, "m", "");
    rc = rc ? rc : cm_pd_region_heartbeat(c, &right, &err);
    uint64_t v = 0, cv = 0;
    uint64_t rl = route(c, "a", &v, &cv), rr = route(c, "z", &v, &cv);
    snprintf(detail, sizeof(detail), "a->%" PRIu64 " z->%" PRIu64, rl, rr);
    check(0, "split_routes", rc == 0 && rl == left_id && rr == right_id, rc ? err.msg : detail);
    /* Stale 1: the parent as it was before the split (version 1). */
    cm_pd_region_copy(&r, &boot);
    r.leader = r.peers[0];
    rc = cm_pd_region_heartbeat(c, &r, &err);
    check(0, "lower_version_refused", rc == CM_E_STALE_EPOCH, err.msg);
    rl = route(c, "a", &v, &cv);
    rr = route(c, "z", &v, &cv);
    check(0, "lower_version_routing_unchanged", rl == left_id && rr == right_id && v == 2, "");
    /* Stale 2: the right region with a higher version but a lower conf_ver. Move the held
     * conf_ver up first (a membership change), then report conf_ver 1 with version 9. */
    right.conf_ver = 3;
    rc = cm_pd_region_heartbeat(c, &right, &err);
    check(0, "conf_change_accepted", rc == 0, rc ? err.msg : "");
    cm_pd_region stale;
    cm_pd_region_init(&stale);
    cm_pd_region_copy(&stale, &right);
    stale.conf_ver = 1;
    stale.version = 9;
    set_range(&stale, "k", ""); /* wider too: it would steal keys from the left region */
    rc = cm_pd_region_heartbeat(c, &stale, &err);
    check(0, "lower_conf_ver_higher_version_refused", rc == CM_E_STALE_EPOCH, err.msg);
    uint64_t rk = route(c, "k", &v, &cv);
    rr = route(c, "z", &v, &cv);
    snprintf(detail, sizeof(detail), "k->%" PRIu64 " z->%" PRIu64 " (v%" PRIu64 ", cv%" PRIu64 ")",
             rk, rr, v, cv);
    check(0, "lower_conf_ver_routing_unchanged",
          rk == left_id && rr == right_id && v == 2 && cv == 3, detail);
    /* A genuinely newer report still goes through. */
    right.version = 3;
    rc = cm_pd_region_heartbeat(c, &right, &err);
    rr = route(c, "z", &v, &cv);
    check(0, "newer_accepted", rc == 0 && rr == right_id && v == 3, rc ? err.msg : "");
    /* The client's cache: a cached route is served until invalidated. */
    cm_pd_region got;
    cm_pd_region_init(&got);
    rc = cm_pd_locate_key(c, cm_slice_cstr("q"), &got, &err);
    cm_pd_client_stats s1, s2;
    cm_pd_client_stats_get(c, &s1);
    rc = rc ? rc : cm_pd_locate_key(c, cm_slice_cstr("r"), &got, &err);
    cm_pd_client_stats_get(c, &s2);
    check(0, "route_cache_hit", rc == 0 && got.id == right_id && s2.route_hits == s1.route_hits + 1,
          "");
    cm_pd_invalidate_region(c, right_id);
    rc = cm_pd_locate_key(c, cm_slice_cstr("r"), &got, &err);
    cm_pd_client_stats_get(c, &s1);
    check(0, "route_cache_invalidate", rc == 0 && s1.route_misses == s2.route_misses + 1, "");
    printf("},\"failed\":%d}\n", checks_failed);
    cm_pd_region_fini(&boot);
    cm_pd_region_fini(&r);
    cm_pd_region_fini(&right);
    cm_pd_region_fini(&stale);
    cm_pd_region_fini(&got);
    cm_pd_client_free(c);
    return 0;
}

/* ---- the rest of the API ----------------------------------------------------------------- */

static int count_cb(void *user, const char *key, cm_slice value, uint64_t ttl_left_ms)
{
    (*(int *)user)++;
    return 0;
}

static int mode_api(const args *a)
{
    cm_pd_client *c = connect_pd(a->pd);
    cm_err err;
    printf("{\"mode\":\"api\",\"checks\":{");
    uint64_t id1 = 0, id2 = 0;
    int rc = cm_pd_alloc_ids(c, 10, &id1, &err);
    rc = rc ? rc : cm_pd_alloc_ids(c, 1, &id2, &err);
    check(1, "ids_increase", rc == 0 && id2 >= id1 + 10, rc ? err.msg : "");
    uint64_t sp = 0;
    rc = cm_pd_update_gc_safe_point(c, 1000, &sp, &err);
    check(0, "gc_update", rc == 0 && sp >= 1000, rc ? err.msg : "");
    rc = cm_pd_update_gc_safe_point(c, 10, &sp, &err);
    check(0, "gc_never_lower", rc == 0 && sp >= 1000, rc ? err.msg : "");
    uint64_t got = 0;
    rc = cm_pd_get_gc_safe_point(c, &got, &err);
    check(0, "gc_get", rc == 0 && got == sp, "");
    cm_pd_lease l1, l2;
    rc = cm_pd_campaign(c, "ddl-owner", "sql-a", 2000, &l1, &err);
    rc = rc ? rc : cm_pd_campaign(c, "ddl-owner", "sql-b", 2000, &l2, &err);
    check(0, "election_one_owner",
          rc == 0 && l1.granted && !l2.granted && strcmp(l2.owner, "sql-a") == 0, "");
    uint64_t left = 0;
    rc = cm_pd_renew(c, "ddl-owner", "sql-a", l1.term, 2000, &left, &err);
    check(0, "election_renew", rc == 0 && left == 2000, rc ? err.msg : "");
    rc = cm_pd_renew(c, "ddl-owner", "sql-b", l1.term, 2000, &left, &err);
    check(0, "election_renew_by_other_fails", rc == CM_E_NOT_FOUND, "");
    rc = cm_pd_resign(c, "ddl-owner", "sql-a", l1.term, &err);
    rc = rc ? rc : cm_pd_campaign(c, "ddl-owner", "sql-b", 2000, &l2, &err);
    check(0, "election_resign_then_other_wins", rc == 0 && l2.granted && l2.term == l1.term + 1,
          rc ? err.msg : "");
    cm_pd_lease o;
    rc = cm_pd_get_owner(c, "ddl-owner", &o, &err);
    check(0, "election_get_owner", rc == 0 && strcmp(o.owner, "sql-b") == 0, "");
    rc = cm_pd_registry_put(c, "schema/sql-a", cm_slice_cstr("41"), 300, &err);
    rc = rc ? rc : cm_pd_registry_put(c, "schema/sql-b", cm_slice_cstr("42"), 60000, &err);
    int n = 0;
    rc = rc ? rc : cm_pd_registry_list(c, "schema/", 0, count_cb, &n, &err);
    check(0, "registry_list", rc == 0 && n == 2, rc ? err.msg : "");
    cm_time_sleep_ms(500);
    n = 0;
    rc = cm_pd_registry_list(c, "schema/", 0, count_cb, &n, &err);
    check(0, "registry_ttl_expires", rc == 0 && n == 1, "");
    cm_buf v = CM_BUF_INIT;
    rc = cm_pd_registry_get(c, "schema/sql-b", &v, &left, &err);
    check(0, "registry_get", rc == 0 && v.len == 2 && memcmp(v.ptr, "42", 2) == 0, "");
    int deleted = 0;
    rc = cm_pd_registry_delete(c, "schema/sql-b", &deleted, &err);
    cm_buf_reset(&v);
    int rc2 = cm_pd_registry_get(c, "schema/sql-b", &v, &left, &err);
    check(0, "registry_delete", rc == 0 && deleted && rc2 == CM_E_NOT_FOUND, "");
    cm_buf_fini(&v);
    /* Stores: a second store, heartbeats, Offline. */
    uint64_t sid = 0;
    rc = cm_pd_alloc_ids(c, 1, &sid, &err);
    cm_pd_store st;
    memset(&st, 0, sizeof(st));
    st.id = sid;
    snprintf(st.address, sizeof(st.address), "127.0.0.1:%" PRIu64, 50000 + sid % 10000);
    cm_pd_region boot;
    cm_pd_region_init(&boot);
    int has = 0;
    rc = rc ? rc : cm_pd_put_store(c, &st, &boot, &has, &err);
    cm_pd_store_stats stats = {sid, 1000, 600, 400, 5, 2};
    rc = rc ? rc : cm_pd_store_heartbeat(c, &stats, &err);
    cm_pd_store back;
    rc = rc ? rc : cm_pd_get_store(c, sid, &back, &err);
    check(0, "store_heartbeat",
          rc == 0 && back.stats.region_count == 5 && back.live_state == CM_PD_STORE_UP,
          rc ? err.msg : "");
    char addr[CM_ADDR_MAX];
    rc = cm_pd_store_addr(c, sid, addr, sizeof(addr), &err);
    check(0, "store_addr", rc == 0 && strcmp(addr, st.address) == 0, "");
    rc = cm_pd_set_store_state(c, sid, CM_PD_STORE_META_OFFLINE, &err);
    rc = rc ? rc : cm_pd_get_store(c, sid, &back, &err);
    check(0, "store_offline", rc == 0 && back.live_state == CM_PD_STORE_OFFLINE, "");
    cm_pd_store_stats unknown = {999999999, 0, 0, 0, 0, 0};
    rc = cm_pd_store_heartbeat(c, &unknown, &err);
    check(0, "unknown_store_heartbeat_refused", rc == CM_E_NOT_FOUND, "");
    printf("},\"failed\":%d}\n", checks_failed);
    cm_pd_region_fini(&boot);
    cm_pd_client_free(c);
    return 0;
}

/* ---- garbage ----------------------------------------------------------------------------- */

static int mode_garbage(const args *a)
{
    cm_rpc_client *rpc = NULL;
    cm_err err;
    if (cm_rpc_client_create(a->pd, &rpc, &err) != 0) {
        fprintf(stderr, "pd_stress: %s\n", err.msg);
        return 1;
    }
    uint64_t x = 0x9E3779B97F4A7C15ull;
    long sent = 0, errors = 0, replies = 0, timeouts = 0;
    uint8_t buf[256];
    for (uint32_t method = 0; method < 32; method++) {
        for (int i = 0; i < 60; i++) {
            size_t len = 0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            len = (size_t)(x % sizeof(buf));
            for (size_t j = 0; j < len; j++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                buf[j] = (uint8_t)x;
            }
            cm_buf reply = CM_BUF_INIT;
            int rc = cm_rpc_call(rpc, method, cm_slice_make(buf, len), &reply, 3000, &err);
            sent++;
            if (rc == 0) {
                replies++;
            } else if (rc == CM_E_TIMEOUT || rc == CM_E_UNAVAILABLE) {
                timeouts++;
            } else {
                errors++;
            }
            cm_buf_fini(&reply);
        }
    }
    cm_rpc_client_free(rpc);
    cm_pd_client *c = connect_pd(a->pd);
    uint64_t ts = 0;
    int alive = cm_pd_get_ts(c, &ts, &err) == 0 && ts != 0;
    printf("{\"mode\":\"garbage\",\"sent\":%ld,\"replies\":%ld,\"errors\":%ld,"
           "\"timeouts\":%ld,\"alive_after\":%s}\n",
           sent, replies, errors, timeouts, alive && timeouts == 0 ? "true" : "false");
    cm_pd_client_free(c);
    return 0;
}

int main(int argc, char **argv)
{
    args a;
    parse_args(argc, argv, &a);
    cm_log_set_level(CM_LOG_WARN);
    if (strcmp(a.mode, "tso") == 0) {
        return mode_tso(&a);
    }
    if (strcmp(a.mode, "causality") == 0) {
        return mode_causality(&a);
    }
    if (strcmp(a.mode, "stale") == 0) {
        return mode_stale(&a);
    }
    if (strcmp(a.mode, "api") == 0) {
        return mode_api(&a);
    }
    if (strcmp(a.mode, "garbage") == 0) {
        return mode_garbage(&a);
    }
    usage();
    return 2;
}
