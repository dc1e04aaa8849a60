/*
 * gc_driver.c — the GC end-to-end test's client: runs the SQL layer's GC worker (sqlnode/gc)
 * against a real cluster (pd + 3 kvnodes) and inspects the stores' RocksDB afterwards.
 *
 *   gc_driver --pd ADDR dead-prewrite KEY  prewrite KEY and exit without committing
 *   gc_driver --pd ADDR versions N   N keys gcv/NNNN with 3 versions (the middle one a long
 *                                    value in the default CF) and a deleted key, after a dead
 *                                    transaction's lock on gcv/lock; one GC round (life 1 ms) must
 *                                    resolve the lock, refuse reads below the safe point, keep
 *                                    the newest version, and leave nothing to do for a 2nd pass
 *   gc_driver --pd ADDR queue        keys drop/000..039 over 2 regions queued for deletion in a
 *                                    transaction; a round whose safe point is below the drop
 *                                    leaves them, a round above it removes them and the entry
 *   gc_driver --pd ADDR guard        a transaction registered on node B holds the safe point of
 *                                    node A's rounds below its start_ts until it ends
 *   gc_driver --pd ADDR worker       the worker thread alone: rounds every 300 ms as the owner,
 *                                    lease resigned and registry entry gone after stop
 *   gc_driver --pd ADDR inspect DIR  (cluster stopped) one store's RocksDB: every gcv/ key holds
 *                                    exactly its newest version, no long value, no lock; no
 *                                    drop/ key is left in any column family; the neighbours are
 * Exit status 0 when the check held, 1 when it did not, 2 on usage errors.
 */
#include "cm_codec.h"
#include "cm_keys.h"
#include "cm_kv_client.h"
#include "cm_log.h"
#include "cm_pd_client.h"
#include "cm_time.h"
#include "kv_engine.h"
#include "kv_rocks.h"
#include "sql_gc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static cm_kv_client *kc;
static const char *pd_addr;

static cm_slice S(const char *s)
{
    return cm_slice_make(s, strlen(s));
}

static int fail(const char *what, const cm_err *err)
{
    fprintf(stderr, "gc_driver: %s: %s\n", what, err ? err->msg : "check failed");
    return 1;
}

#define CHECK(cond, what)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "gc_driver: check failed: %s (%s:%d)\n", what, __FILE__, __LINE__);    \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

/* Writes every key of keys[0..n) with the value fmt % i in one transaction; *commit_ts. */
static int write_all(int n, const char *prefix, const char *valfmt, size_t pad, uint64_t *commit_ts,
                     cm_err *err)
{
    cm_txn *t = NULL;
    int rc = cm_txn_begin(kc, &t, err);
    char k[64], v[600];
    for (int i = 0; rc == 0 && i < n; i++) {
        snprintf(k, sizeof(k), "%s%04d", prefix, i);
        int len = snprintf(v, sizeof(v), valfmt, i);
        while ((size_t)len < pad && (size_t)len < sizeof(v) - 1) {
            v[len++] = '.';
        }
        v[len] = '\0';
        rc = cm_txn_set(t, S(k), S(v), err);
    }
    rc = rc ? rc : cm_txn_commit(t, err);
    *commit_ts = rc ? 0 : cm_txn_commit_ts(t);
    cm_txn_free(t);
    return rc;
}

static int start_gc(const char *node, int64_t life_ms, sql_gc **g, cm_err *err)
{
    sql_gc_options o;
    sql_gc_options_default(&o);
    o.node_name = node;
    o.life_time_ms = life_ms;
    o.interval_ms = 3600000; /* rounds only through sql_gc_run_once */
    o.publish_ms = 200;
    return sql_gc_start(kc, &o, g, err);
}

/* get at ts: 0 with the value, CM_E_NOT_FOUND, or the error (e.g. GC_TOO_EARLY). */
static int get_at(uint64_t ts, const char *key, cm_buf *v, cm_err *err)
{
    cm_txn *t = NULL;
    int rc = ts ? cm_txn_begin_at(kc, ts, &t, err) : cm_txn_begin(kc, &t, err);
    cm_buf_reset(v);
    rc = rc ? rc : cm_txn_get(t, S(key), v, err);
    cm_txn_free(t);
    return rc;
}

static int no_rows_cb(void *user, cm_slice key, cm_slice cols)
{
    (void)user;
    (void)key;
    (void)cols;
    return 1; /* never reached: the scan is refused */
}

static int cmd_versions(int n)
{
    cm_err err;
    uint64_t c1, c2, c3, cdel;
    int rc = write_all(n, "gcv/", "v1-%d", 0, &c1, &err);
    rc = rc ? rc : write_all(n, "gcv/", "v2-%d-long", 300, &c2, &err);
    rc = rc ? rc : write_all(n, "gcv/", "v3-%d", 0, &c3, &err);
    cm_txn *t = NULL;
    rc = rc ? rc : cm_txn_begin(kc, &t, &err);
    rc = rc ? rc : cm_txn_set(t, S("gcv/del"), S("gone soon"), &err);
    rc = rc ? rc : cm_txn_commit(t, &err);
    cm_txn_free(t);
    t = NULL;
    rc = rc ? rc : cm_txn_begin(kc, &t, &err);
    rc = rc ? rc : cm_txn_delete(t, S("gcv/del"), &err);
    rc = rc ? rc : cm_txn_commit(t, &err);
    cdel = rc ? 0 : cm_txn_commit_ts(t);
    cm_txn_free(t);
    if (rc != 0) {
        return fail("writing versions", &err);
    }
    cm_buf v = CM_BUF_INIT;
    CHECK(get_at(c1, "gcv/0000", &v, &err) == 0 && cm_slice_eq(cm_buf_slice(&v), S("v1-0")),
          "v1 readable at its commit before GC");
    /* A second client whose KV_GC requests page 3 keys at a time (resume keys across requests). */
    cm_kv_client_options po;
    cm_kv_client_options_default(&po);
    po.gc_page_keys = 3;
    cm_kv_client *paged = NULL;
    if (cm_kv_client_create(pd_addr, &po, &paged, &err) != 0) {
        return fail("client", &err);
    }
    /* GC of a sub-range first: the stores clip to [gcv/0010, gcv/0020) exactly (10 keys, v1 and
     * v2 of each removed, v2's long value with it). */
    uint64_t sp0 = 0;
    cm_kv_gc_stats st0;
    memset(&st0, 0, sizeof(st0));
    rc = cm_pd_get_ts(cm_kv_client_pd(kc), &sp0, &err);
    rc = rc ? rc : cm_kv_gc_range(paged, sp0, S("gcv/0010"), S("gcv/0020"), &st0, &err);
    if (rc != 0) {
        return fail("gc of a sub-range", &err);
    }
    CHECK(st0.keys_scanned == 10 && st0.versions_deleted == 20 && st0.values_deleted == 10,
          "sub-range GC removed exactly v1 and v2 of its 10 keys");
    CHECK(st0.requests >= 4, "pages of 3 keys: at least 4 requests");
    CHECK(get_at(c1, "gcv/0000", &v, &err) == CM_E_GC_TOO_EARLY,
          "after any GC, reads below its safe point are refused (store-wide)");
    cm_time_sleep_ms(20);

    sql_gc *g = NULL;
    uint64_t sp = 0;
    uint64_t t0 = cm_time_mono_ms();
    rc = start_gc("nodeA", 1, &g, &err);
    rc = rc ? rc : sql_gc_run_once(g, &sp, &err);
    if (rc != 0) {
        return fail("gc round", &err);
    }
    uint64_t round_ms = cm_time_mono_ms() - t0;
    CHECK(sp > cdel && sp > c3, "the safe point passed the last commit");
    uint64_t pd_sp = 0;
    CHECK(cm_pd_get_gc_safe_point(cm_kv_client_pd(kc), &pd_sp, &err) == 0 && pd_sp == sp,
          "PD holds the round's safe point");
    /* Below the safe point: refused, never a wrong answer. */
    rc = get_at(c1, "gcv/0000", &v, &err);
    CHECK(rc == CM_E_GC_TOO_EARLY, "a read at v1's commit is refused with GC_TOO_EARLY");
    CHECK(strstr(err.msg, "GC life time is shorter than transaction duration") != NULL,
          "TiDB's message");
    CHECK(get_at(c2, "gcv/0001", &v, &err) == CM_E_GC_TOO_EARLY, "a read at v2 is refused");
    CHECK(cm_kv_copr_scan(kc, S("gcv/"), S("gcv0"), c2, NULL, 0, no_rows_cb, NULL, &err) ==
              CM_E_GC_TOO_EARLY,
          "a coprocessor scan at v2 is refused");
    /* At and above it: the newest version of every key; the deleted key and the dead
     * transaction's key are absent. */
    char k[32], want[32];
    for (int i = 0; i < n; i++) {
        snprintf(k, sizeof(k), "gcv/%04d", i);
        snprintf(want, sizeof(want), "v3-%d", i);
        CHECK(get_at(sp, k, &v, &err) == 0 && cm_slice_eq(cm_buf_slice(&v), S(want)),
              "newest version at the safe point");
        CHECK(get_at(0, k, &v, &err) == 0 && cm_slice_eq(cm_buf_slice(&v), S(want)),
              "newest version now");
    }
    CHECK(get_at(0, "gcv/del", &v, &err) == CM_E_NOT_FOUND, "deleted key stays deleted");
    CHECK(get_at(0, "gcv/lock", &v, &err) == CM_E_NOT_FOUND, "dead lock resolved (rolled back)");
    /* A second pass over the keys finds nothing left to remove. */
    cm_kv_gc_stats st;
    memset(&st, 0, sizeof(st));
    rc = cm_kv_gc_range(paged, sp, S("gcv/"), S("gcv0"), &st, &err);
    if (rc != 0) {
        return fail("second gc pass", &err);
    }
    CHECK(st.versions_deleted == 0 && st.values_deleted == 0, "nothing left below the safe point");
    CHECK(st.keys_scanned == (uint64_t)n, "exactly the live keys remain (paged: none twice)");
    CHECK(st.requests >= (uint64_t)n / 3, "paged pass");
    cm_kv_client_free(paged);
    sql_gc_stats gs;
    sql_gc_stats_get(g, &gs);
    CHECK(gs.rounds == 1 && gs.safe_point == sp, "worker stats");
    sql_gc_stop(g);
    cm_buf_fini(&v);
    printf("versions ok keys=%d safe_point=%llu round_ms=%llu\n", n, (unsigned long long)sp,
           (unsigned long long)round_ms);
    return 0;
}

/* A transaction that prewrites KEY and dies (the process leaves without rolling back). */
static int cmd_dead_prewrite(const char *key)
{
    cm_err err;
    cm_txn *t = NULL;
    int rc = cm_txn_begin(kc, &t, &err);
    rc = rc ? rc : cm_txn_set(t, S(key), S("never committed"), &err);
    rc = rc ? rc : cm_txn_prewrite_only(t, &err);
    if (rc != 0) {
        return fail("dead prewrite", &err);
    }
    printf("dead-prewrite ok start_ts=%llu\n", (unsigned long long)cm_txn_start_ts(t));
    fflush(stdout);
    _exit(0); /* no cm_txn_free: it would roll the transaction back */
}

static int count_range(const char *start, const char *end, int *count, cm_err *err)
{
    cm_txn *t = NULL;
    cm_txn_iter *it = NULL;
    *count = 0;
    int rc = cm_txn_begin(kc, &t, err);
    rc = rc ? rc : cm_txn_scan(t, S(start), S(end), &it, err);
    for (int i = 0; rc == 0 && i < 100000; i++) {
        cm_slice k, v;
        int more = cm_txn_iter_next(it, &k, &v, err);
        if (more <= 0) {
            rc = more;
            break;
        }
        (*count)++;
    }
    cm_txn_iter_free(it);
    cm_txn_free(t);
    return rc;
}

static int cmd_queue(void)
{
    cm_err err;
    uint64_t cts;
    int rc = write_all(40, "drop/", "row-%d", 0, &cts, &err);
    cm_txn *t = NULL;
    rc = rc ? rc : cm_txn_begin(kc, &t, &err);
    rc = rc ? rc : cm_txn_set(t, S("drop."), S("neighbour below"), &err);
    rc = rc ? rc : cm_txn_set(t, S("dropA"), S("neighbour above"), &err);
    rc = rc ? rc : cm_txn_commit(t, &err);
    cm_txn_free(t);
    rc = rc ? rc : cm_kv_split(kc, S("drop/0020"), &err);
    if (rc != 0) {
        return fail("writing rows", &err);
    }
    /* The "drop": its cleanup queued in the dropping transaction itself. */
    t = NULL;
    rc = cm_txn_begin(kc, &t, &err);
    uint64_t drop_ts = t ? cm_txn_start_ts(t) : 0;
    rc = rc ? rc : sql_gc_queue_delete_range(t, drop_ts, S("drop/"), S("drop0"), &err);
    rc = rc ? rc : cm_txn_commit(t, &err);
    cm_txn_free(t);
    if (rc != 0) {
        return fail("queueing", &err);
    }
    int n = 0;
    /* A round whose safe point stays below the drop (life time 1 min) leaves everything. */
    sql_gc *g = NULL;
    uint64_t sp = 0;
    rc = start_gc("nodeA", 60000, &g, &err);
    rc = rc ? rc : sql_gc_run_once(g, &sp, &err);
    if (rc != 0) {
        return fail("gc round 1", &err);
    }
    sql_gc_stats gs;
    sql_gc_stats_get(g, &gs);
    sql_gc_stop(g);
    CHECK(gs.ranges_done == 0 && gs.ranges_waiting == 1, "the range waits for the safe point");
    CHECK(count_range("drop/", "drop0", &n, &err) == 0 && n == 40, "rows still there");
    /* Once the safe point passes the drop, the range runs and leaves the queue. */
    cm_time_sleep_ms(20);
    rc = start_gc("nodeA", 1, &g, &err);
    rc = rc ? rc : sql_gc_run_once(g, &sp, &err);
    if (rc != 0) {
        return fail("gc round 2", &err);
    }
    sql_gc_stats_get(g, &gs);
    CHECK(sp > drop_ts, "safe point passed the drop");
    CHECK(gs.ranges_done == 1 && gs.ranges_waiting == 0, "the range ran");
    CHECK(count_range("drop/", "drop0", &n, &err) == 0 && n == 0, "rows gone");
    CHECK(count_range("drop.", "drop/", &n, &err) == 0 && n == 1, "neighbour below kept");
    CHECK(count_range("drop0", "dropB", &n, &err) == 0 && n == 1, "neighbour above kept");
    cm_buf qs = CM_BUF_INIT, qe = CM_BUF_INIT;
    CHECK(sql_gc_queue_range(&qs, &qe, &err) == 0, "queue range");
    t = NULL;
    cm_txn_iter *it = NULL;
    cm_slice k, v;
    rc = cm_txn_begin(kc, &t, &err);
    rc = rc ? rc : cm_txn_scan(t, cm_buf_slice(&qs), cm_buf_slice(&qe), &it, &err);
    CHECK(rc == 0 && cm_txn_iter_next(it, &k, &v, &err) == 0, "queue empty");
    cm_txn_iter_free(it);
    cm_txn_free(t);
    /* A later round does not run it again. */
    rc = sql_gc_run_once(g, &sp, &err);
    sql_gc_stats_get(g, &gs);
    CHECK(rc == 0 && gs.ranges_done == 1, "ran once");
    sql_gc_stop(g);
    cm_buf_fini(&qs);
    cm_buf_fini(&qe);
    printf("queue ok drop_ts=%llu safe_point=%llu\n", (unsigned long long)drop_ts,
           (unsigned long long)sp);
    return 0;
}

static int cmd_guard(void)
{
    cm_err err;
    uint64_t cts;
    int rc = write_all(1, "guard/", "g-%d", 0, &cts, &err);
    sql_gc *b = NULL, *a = NULL;
    rc = rc ? rc : start_gc("nodeB", 1, &b, &err);
    rc = rc ? rc : start_gc("nodeA", 1, &a, &err);
    cm_txn *t = NULL;
    rc = rc ? rc : cm_txn_begin(kc, &t, &err);
    if (rc != 0) {
        return fail("setup", &err);
    }
    uint64_t ts = cm_txn_start_ts(t);
    CHECK(sql_gc_txn_begin(b, ts) == 0, "register");
    cm_time_sleep_ms(700); /* node B publishes every 200 ms */
    cm_buf pub = CM_BUF_INIT;
    uint64_t ttl_left = 0, pub_ts = 0;
    CHECK(cm_pd_registry_get(cm_kv_client_pd(kc), SQL_GC_TXN_PREFIX "nodeB", &pub, &ttl_left,
                             &err) == 0 &&
              pub.len == 8,
          "node B's entry in PD's registry");
    for (size_t i = 0; i < 8; i++) {
        pub_ts = pub_ts << 8 | pub.ptr[i];
    }
    cm_buf_fini(&pub);
    CHECK(pub_ts == ts && ttl_left > 0,
          "it carries the running transaction's start_ts, with a TTL");
    uint64_t sp = 0;
    for (int round = 0; round < 3; round++) {
        rc = sql_gc_run_once(a, &sp, &err);
        if (rc != 0) {
            return fail("gc round (held)", &err);
        }
        CHECK(sp < ts, "the safe point stays below the running transaction");
        cm_time_sleep_ms(100);
    }
    /* Node A holds the gc_owner lease: node B runs no round. */
    uint64_t spb = 0;
    CHECK(sql_gc_run_once(b, &spb, &err) == CM_E_BUSY && strstr(err.msg, "nodeA") != NULL,
          "a node without the lease runs no round and names the owner");
    cm_buf v = CM_BUF_INIT;
    CHECK(cm_txn_get(t, S("guard/0000"), &v, &err) == 0 && cm_slice_eq(cm_buf_slice(&v), S("g-0")),
          "the running transaction still reads");
    sql_gc_txn_end(b, ts);
    cm_time_sleep_ms(700);
    uint64_t sp2 = 0;
    rc = sql_gc_run_once(a, &sp2, &err);
    if (rc != 0) {
        return fail("gc round (released)", &err);
    }
    CHECK(sp2 > ts, "the safe point passes it once it ended");
    CHECK(cm_txn_get(t, S("guard/0000"), &v, &err) == CM_E_GC_TOO_EARLY,
          "the finished transaction's snapshot is now refused");
    cm_txn_free(t);
    sql_gc_stop(a);
    sql_gc_stop(b);
    cm_buf_fini(&v);
    printf("guard ok start_ts=%llu held_sp=%llu released_sp=%llu\n", (unsigned long long)ts,
           (unsigned long long)sp, (unsigned long long)sp2);
    return 0;
}

/* The worker thread on its own: rounds every 300 ms as the lease owner, then a clean stop
 * (lease resigned, registry entry removed). */
static int cmd_worker(void)
{
    cm_err err;
    uint64_t before = 0;
    int rc = cm_pd_get_ts(cm_kv_client_pd(kc), &before, &err);
    sql_gc_options o;
    sql_gc_options_default(&o);
    o.node_name = "nodeC";
    o.life_time_ms = 1;
    o.interval_ms = 300;
    o.publish_ms = 200;
    sql_gc *g = NULL;
    rc = rc ? rc : sql_gc_start(kc, &o, &g, &err);
    if (rc != 0) {
        return fail("start", &err);
    }
    sql_gc_stats st;
    memset(&st, 0, sizeof(st));
    uint64_t end = cm_time_mono_ms() + 20000;
    while (cm_time_mono_ms() < end) {
        sql_gc_stats_get(g, &st);
        if (st.rounds >= 3) {
            break;
        }
        cm_time_sleep_ms(50);
    }
    CHECK(st.rounds >= 3, "three rounds by the worker thread within 20 s");
    CHECK(st.owner, "the worker holds the gc_owner lease");
    CHECK(st.safe_point > before, "its rounds moved the safe point");
    CHECK(st.publishes >= 1, "it published this node's oldest start_ts");
    cm_pd_lease l;
    memset(&l, 0, sizeof(l));
    CHECK(cm_pd_get_owner(cm_kv_client_pd(kc), SQL_GC_OWNER_LEASE, &l, &err) == 0 &&
              strcmp(l.owner, "nodeC") == 0,
          "PD names nodeC the owner");
    sql_gc_stop(g);
    memset(&l, 0, sizeof(l));
    CHECK(cm_pd_get_owner(cm_kv_client_pd(kc), SQL_GC_OWNER_LEASE, &l, &err) == 0 &&
              l.owner[0] == '\0',
          "the lease is resigned at stop");
    cm_buf v = CM_BUF_INIT;
    uint64_t ttl = 0;
    CHECK(cm_pd_registry_get(cm_kv_client_pd(kc), SQL_GC_TXN_PREFIX "nodeC", &v, &ttl, &err) ==
              CM_E_NOT_FOUND,
          "the registry entry is removed at stop");
    cm_buf_fini(&v);
    printf("worker ok rounds=%llu safe_point=%llu\n", (unsigned long long)st.rounds,
           (unsigned long long)st.safe_point);
    return 0;
}

/* ---- inspecting a stopped store ------------------------------------------------------------ */

typedef struct cf_count {
    int gcv_keys;     /* distinct gcv/ user keys with write records */
    int gcv_bad;      /* gcv/ user keys with != 1 write record */
    int gcv_default;  /* default-CF values of gcv/ keys */
    int gcv_locks;    /* locks on gcv/ keys */
    int drop_entries; /* anything of drop/ keys in any CF */
    int neighbours;   /* write records of drop. and dropA */
} cf_count;

static int user_key_of(cm_slice k, bool versioned, cm_buf *out)
{
    cm_slice enc = k;
    uint64_t ts;
    if (versioned && cm_keys_split_mvcc(k, &enc, &ts, NULL) != 0) {
        return -1;
    }
    cm_reader r;
    cm_reader_init(&r, enc.ptr, enc.len);
    cm_buf_reset(out);
    return cm_codec_read_bytes(&r, out, NULL);
}

static bool has_prefix(const cm_buf *b, const char *p)
{
    size_t n = strlen(p);
    return b->len >= n && memcmp(b->ptr, p, n) == 0;
}

static int inspect_cf(kv_snapshot *snap, kv_cf cf, cf_count *c, cm_err *err)
{
    kv_iter *it = NULL;
    kv_iter_opts o;
    memset(&o, 0, sizeof(o));
    int rc = kv_iter_new(snap, cf, &o, &it, err);
    if (rc != 0) {
        return rc;
    }
    cm_buf u = CM_BUF_INIT, prev = CM_BUF_INIT;
    int versions = 0;
    for (kv_iter_seek_to_first(it); kv_iter_valid(it); kv_iter_next(it)) {
        if (user_key_of(kv_iter_key(it), cf != KV_CF_LOCK, &u) != 0) {
            continue;
        }
        if (has_prefix(&u, "drop/")) {
            c->drop_entries++;
        }
        if (cf == KV_CF_WRITE && (cm_slice_eq(cm_buf_slice(&u), S("drop.")) ||
                                  cm_slice_eq(cm_buf_slice(&u), S("dropA")))) {
            c->neighbours++;
        }
        if (!has_prefix(&u, "gcv/")) {
            continue;
        }
        if (cf == KV_CF_DEFAULT) {
            c->gcv_default++;
        } else if (cf == KV_CF_LOCK) {
            c->gcv_locks++;
        } else if (cm_slice_eq(cm_buf_slice(&u), cm_buf_slice(&prev))) {
            versions++;
        } else {
            if (prev.len > 0 && versions != 1) {
                c->gcv_bad++;
            }
            cm_buf_reset(&prev);
            cm_buf_append_slice(&prev, cm_buf_slice(&u));
            versions = 1;
            c->gcv_keys++;
        }
    }
    if (cf == KV_CF_WRITE && prev.len > 0 && versions != 1) {
        c->gcv_bad++;
    }
    rc = kv_iter_status(it, err);
    kv_iter_free(it);
    cm_buf_fini(&u);
    cm_buf_fini(&prev);
    return rc;
}

static int cmd_inspect(const char *dir, int n)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/db", dir);
    kv_rocks_opts o;
    memset(&o, 0, sizeof(o));
    o.path = path;
    kv_engine *e = NULL;
    kv_snapshot *snap = NULL;
    cm_err err;
    int rc = kv_rocks_open(&o, &e, &err);
    rc = rc ? rc : kv_engine_snapshot(e, &snap, &err);
    cf_count c;
    memset(&c, 0, sizeof(c));
    for (kv_cf cf = KV_CF_DEFAULT; rc == 0 && cf <= KV_CF_WRITE; cf++) {
        rc = inspect_cf(snap, cf, &c, &err);
    }
    kv_snapshot_release(snap);
    kv_engine_close(e);
    if (rc != 0) {
        return fail("inspect", &err);
    }
    printf("inspect %s gcv_keys=%d gcv_bad=%d gcv_default=%d gcv_locks=%d drop_entries=%d "
           "neighbours=%d\n",
           dir, c.gcv_keys, c.gcv_bad, c.gcv_default, c.gcv_locks, c.drop_entries, c.neighbours);
    CHECK(c.gcv_keys == n, "every live gcv key has one version (deleted/dead keys none)");
    CHECK(c.gcv_bad == 0, "no gcv key holds more than its newest version");
    CHECK(c.gcv_default == 0, "the long middle versions left the default CF");
    CHECK(c.gcv_locks == 0, "the dead lock was resolved");
    CHECK(c.drop_entries == 0, "the deleted range is empty in every CF");
    CHECK(c.neighbours == 2, "the neighbours of the range are kept");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4 || strcmp(argv[1], "--pd") != 0) {
        fprintf(stderr, "usage: gc_driver --pd ADDR CMD ARGS...\n");
        return 2;
    }
    cm_log_set_level(getenv("GC_DRIVER_DEBUG") ? CM_LOG_DEBUG : CM_LOG_WARN);
    const char *cmd = argv[3];
    if (strcmp(cmd, "inspect") == 0 && argc == 6) {
        return cmd_inspect(argv[4], atoi(argv[5]));
    }
    cm_err err;
    pd_addr = argv[2];
    if (cm_kv_client_create(argv[2], NULL, &kc, &err) != 0) {
        return fail("client", &err);
    }
    int rc = 2;
    if (strcmp(cmd, "versions") == 0 && argc == 5) {
        rc = cmd_versions(atoi(argv[4]));
    } else if (strcmp(cmd, "dead-prewrite") == 0 && argc == 5) {
        rc = cmd_dead_prewrite(argv[4]);
    } else if (strcmp(cmd, "queue") == 0 && argc == 4) {
        rc = cmd_queue();
    } else if (strcmp(cmd, "worker") == 0 && argc == 4) {
        rc = cmd_worker();
    } else if (strcmp(cmd, "guard") == 0 && argc == 4) {
        rc = cmd_guard();
    } else {
        fprintf(stderr, "gc_driver: unknown command or arguments: %s\n", cmd);
    }
    cm_kv_client_free(kc);
    return rc;
}
