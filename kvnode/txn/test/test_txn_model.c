/*
 * test_txn_model.c — randomized, seeded, single-threaded model test of the Percolator layer.
 *
 * Many transactions run interleaved step by step against one engine: prewrite (all keys at once
 * or the primary and the secondaries separately, in either order), commit of the primary, lazy
 * commits of secondaries, aborts, clients that die mid-way (their locks expire and get resolved
 * by others through CheckTxnStatus + ResolveLock with caller-supplied TSO time), heartbeats,
 * cleanups, late duplicate messages, readers at fresh timestamps (Get, BatchGet, Scan) and GC
 * below a moving safe point. A reference model holds every committed version; the checks are the
 * snapshot-isolation properties:
 *   - every successful read equals the model's snapshot at its timestamp;
 *   - no two committed transactions that wrote a common key overlap in [start_ts, commit_ts]
 *     (first committer wins), checked against the model at each commit;
 *   - a secondary of a committed transaction never ends rolled back, a resolver never sees a
 *     commit the model does not have, and a rolled-back transaction never comes back;
 *   - at the end, after every lock is resolved, each key holds the model's latest value (no
 *     committed write is lost) and no lock remains.
 * Coverage counters prove each seed did real work.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "txn_testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NKEYS     10
#define MAXTXN    1000
#define MAXACTIVE 6
#define MAXW      4
#define MAXVER    512

typedef enum vkind { V_PUT, V_DEL, V_LOCK } vkind;

typedef struct version {
    uint64_t commit_ts;
    uint64_t start_ts;
    vkind kind;
    char val[320];
} version;

typedef enum tstate {
    T_INIT, /* nothing prewritten */
    T_HALF, /* some keys prewritten */
    T_PREWRITTEN,
    T_COMMITTED, /* primary committed; secondaries maybe not yet */
    T_DONE,      /* committed everywhere */
    T_ABORTED,   /* rolled back by its client */
    T_DEAD,      /* the client died; the store decides */
} tstate;

typedef struct mtxn {
    int id;
    uint64_t start_ts, commit_ts, ttl;
    int n;
    int keys[MAXW];
    vkind ops[MAXW];
    char vals[MAXW][320];
    bool pre[MAXW];  /* prewritten */
    bool done[MAXW]; /* secondary committed by the client */
    tstate st;
    bool committed; /* its primary commit succeeded (the model holds its versions) */
    int retries;
} mtxn;

typedef struct model {
    version vers[NKEYS][MAXVER];
    int nver[NKEYS];
    mtxn txns[MAXTXN];
    int ntxn;
    uint64_t phys, logical;
    uint64_t safe_point;
    uint64_t rng;
    /* coverage */
    int commits, aborts, conflicts, locked, expired, resolved, late_rejected, reads, gc_deleted,
        deaths;
} model;

static char kname[NKEYS][8];

static uint64_t rnd(model *m, uint64_t n)
{
    return t_rng(&m->rng) % n;
}

static uint64_t tso(model *m)
{
    m->logical++;
    return kv_ts_compose(m->phys, m->logical);
}

static void tick(model *m, uint64_t ms)
{
    if (ms) {
        m->phys += ms;
        m->logical = 0;
    }
}

static uint64_t now(model *m)
{
    return tso(m);
}

/* The model's value of key k at ts: NULL for absent. */
static const char *model_read(model *m, int k, uint64_t ts)
{
    const version *best = NULL;
    for (int i = 0; i < m->nver[k]; i++) {
        const version *v = &m->vers[k][i];
        if (v->kind != V_LOCK && v->commit_ts <= ts && (!best || v->commit_ts > best->commit_ts)) {
            best = v;
        }
    }
    return best && best->kind == V_PUT ? best->val : NULL;
}

static mtxn *txn_by_start(model *m, uint64_t start_ts)
{
    for (int i = 0; i < m->ntxn; i++) {
        if (m->txns[i].start_ts == start_ts) {
            return &m->txns[i];
        }
    }
    return NULL;
}

/* The primary commit of t succeeded: check first-committer-wins, record the versions. */
static void model_commit(model *m, mtxn *t)
{
    for (int i = 0; i < t->n; i++) {
        int k = t->keys[i];
        for (int j = 0; j < m->nver[k]; j++) {
            const version *v = &m->vers[k][j];
            if (v->commit_ts > t->start_ts && v->commit_ts < t->commit_ts) {
                print_message("# SI violation: txn %llu..%llu and a commit at %llu on %s\n",
                              (unsigned long long)t->start_ts, (unsigned long long)t->commit_ts,
                              (unsigned long long)v->commit_ts, kname[k]);
                fail();
            }
        }
        assert_true(m->nver[k] < MAXVER);
        version *v = &m->vers[k][m->nver[k]++];
        v->commit_ts = t->commit_ts;
        v->start_ts = t->start_ts;
        v->kind = t->ops[i];
        snprintf(v->val, sizeof(v->val), "%s", t->vals[i]);
    }
    t->st = T_COMMITTED;
    t->committed = true;
    m->commits++;
}

/* ---- the client's lock resolver ---------------------------------------------------------- */

/* Resolves one lock met by a reader or a writer. Returns true when it is gone. */
static bool resolve(tenv *v, model *m, const kv_lock_info *li)
{
    char key[KV_TXN_KEY_BYTES_MAX + 1], primary[KV_TXN_KEY_BYTES_MAX + 1];
    memcpy(key, li->key.ptr, li->key.len);
    key[li->key.len] = 0;
    memcpy(primary, li->primary.ptr, li->primary.len);
    primary[li->primary.len] = 0;
    uint64_t start_ts = li->start_ts, ttl = li->ttl_ms;
    uint64_t cur = now(m);
    bool expired = kv_txn_lock_expired(start_ts, ttl, cur);
    kv_txn_status st;
    int rc = t_check(v, primary, start_ts, cur, expired, &st);
    if (rc == CM_E_TXN_LOCK_NOT_FOUND) {
        assert_false(expired);
        return false; /* the primary's prewrite may still come: wait */
    }
    assert_int_equal(rc, 0);
    mtxn *t = txn_by_start(m, start_ts);
    assert_non_null(t);
    uint64_t commit_ts = 0;
    switch (st.state) {
    case KV_TXN_STATE_LOCKED:
        return false;
    case KV_TXN_STATE_COMMITTED:
        /* The store says committed: the model must agree, at the same commit_ts. */
        assert_true(t->committed);
        assert_int_equal(st.commit_ts, t->commit_ts);
        commit_ts = st.commit_ts;
        break;
    case KV_TXN_STATE_TTL_EXPIRED:
    case KV_TXN_STATE_LOCK_NOT_EXIST_ROLLED_BACK:
        m->expired++;
        /* fallthrough */
    case KV_TXN_STATE_ROLLED_BACK:
        assert_false(t->committed);
        break;
    }
    cm_slice k = K(key);
    assert_int_equal(t_resolve(v, start_ts, commit_ts, &k, 1), 0);
    m->resolved++;
    return true;
}

/* ---- reads -------------------------------------------------------------------------------- */

static void read_check(tenv *v, model *m)
{
    uint64_t ts = now(m);
    int k = (int)rnd(m, NKEYS);
    for (int attempt = 0; attempt < 2; attempt++) {
        const char *got;
        kv_lock_info li;
        int rc = t_get(v, kname[k], ts, &got, &li);
        if (rc == CM_E_KEY_IS_LOCKED) {
            m->locked++;
            if (!resolve(v, m, &li)) {
                return;
            }
            continue;
        }
        const char *want = model_read(m, k, ts);
        if (want == NULL) {
            assert_int_equal(rc, CM_E_NOT_FOUND);
        } else {
            assert_int_equal(rc, 0);
            assert_string_equal(got, want);
        }
        m->reads++;
        return;
    }
}

static void scan_check(tenv *v, model *m)
{
    uint64_t ts = now(m);
    kv_scan_req req = {K(""), K(""), ts, 0, false, rnd(m, 2) == 0};
    kv_read_result r;
    int rc = t_scan(v, &req, &r);
    assert_true(rc == 0 || rc == CM_E_KEY_IS_LOCKED);
    size_t pi = 0;
    for (int i = 0; i < NKEYS; i++) {
        int k = req.reverse ? NKEYS - 1 - i : i;
        bool is_locked = false;
        for (size_t j = 0; j < r.nlocks; j++) {
            is_locked |= cm_slice_eq(r.locks[j].key, K(kname[k]));
        }
        if (is_locked) {
            continue;
        }
        const char *want = model_read(m, k, ts);
        if (want != NULL) {
            assert_true(pi < r.npairs);
            assert_true(cm_slice_eq(r.pairs[pi].key, K(kname[k])));
            assert_true(cm_slice_eq(r.pairs[pi].value, K(want)));
            pi++;
        }
    }
    assert_int_equal(pi, r.npairs);
    m->reads++;
    /* Resolve what the scan met, as a client would before retrying. */
    kv_lock_info locks[NKEYS];
    size_t n = r.nlocks;
    for (size_t j = 0; j < n; j++) {
        locks[j] = r.locks[j];
        char *kp = malloc(locks[j].key.len), *pp = malloc(locks[j].primary.len);
        memcpy(kp, locks[j].key.ptr, locks[j].key.len);
        memcpy(pp, locks[j].primary.ptr, locks[j].primary.len);
        locks[j].key = cm_slice_make(kp, locks[j].key.len);
        locks[j].primary = cm_slice_make(pp, locks[j].primary.len);
    }
    for (size_t j = 0; j < n; j++) {
        resolve(v, m, &locks[j]);
        free((void *)locks[j].key.ptr);
        free((void *)locks[j].primary.ptr);
    }
}

/* ---- transactions -------------------------------------------------------------------------- */

static void txn_begin(model *m)
{
    if (m->ntxn == MAXTXN) {
        return;
    }
    mtxn *t = &m->txns[m->ntxn];
    memset(t, 0, sizeof(*t));
    t->id = m->ntxn++;
    t->start_ts = tso(m);
    t->ttl = 3 + rnd(m, 30);
    t->n = 1 + (int)rnd(m, MAXW);
    for (int i = 0; i < t->n; i++) {
        int k;
        bool dup;
        do {
            k = (int)rnd(m, NKEYS);
            dup = false;
            for (int j = 0; j < i; j++) {
                dup |= t->keys[j] == k;
            }
        } while (dup);
        t->keys[i] = k;
        uint64_t r = rnd(m, 10);
        t->ops[i] = r < 6 ? V_PUT : r < 8 ? V_DEL : V_LOCK;
        if (rnd(m, 5) == 0) {
            /* a long value: it goes to `default` */
            int len = snprintf(t->vals[i], sizeof(t->vals[i]), "long-t%d.%d-", t->id, i);
            memset(t->vals[i] + len, 'x', 300 - len);
            t->vals[i][300] = 0;
        } else {
            snprintf(t->vals[i], sizeof(t->vals[i]), "t%d.%d", t->id, i);
        }
    }
}

static int active_count(model *m)
{
    int n = 0;
    for (int i = 0; i < m->ntxn; i++) {
        tstate s = m->txns[i].st;
        n += s == T_INIT || s == T_HALF || s == T_PREWRITTEN || s == T_COMMITTED;
    }
    return n;
}

static void txn_abort(tenv *v, model *m, mtxn *t)
{
    cm_slice keys[MAXW];
    for (int i = 0; i < t->n; i++) {
        keys[i] = K(kname[t->keys[i]]);
    }
    assert_int_equal(t_rollback(v, t->start_ts, keys, t->n), 0);
    t->st = T_ABORTED;
    m->aborts++;
}

/* Prewrites the keys with index in [from, to) of t. */
static void txn_prewrite(tenv *v, model *m, mtxn *t, int from, int to)
{
    kv_mutation muts[MAXW];
    memset(muts, 0, sizeof(muts)); /* (gcc -O2 cannot see that from < to) */
    int n = 0;
    for (int i = from; i < to; i++) {
        muts[n].op = t->ops[i] == V_PUT   ? KV_MUT_PUT
                     : t->ops[i] == V_DEL ? KV_MUT_DELETE
                                          : KV_MUT_LOCK;
        muts[n].key = K(kname[t->keys[i]]);
        muts[n].value = t->ops[i] == V_PUT ? K(t->vals[i]) : K("");
        n++;
    }
    int rc = t_prewrite(v, t->start_ts, kname[t->keys[0]], t->ttl, muts, n);
    if (rc == 0) {
        for (int i = from; i < to; i++) {
            t->pre[i] = true;
        }
        bool all = true;
        for (int i = 0; i < t->n; i++) {
            all &= t->pre[i];
        }
        t->st = all ? T_PREWRITTEN : T_HALF;
        return;
    }
    if (rc == CM_E_WRITE_CONFLICT) {
        m->conflicts++;
        txn_abort(v, m, t);
        return;
    }
    assert_int_equal(rc, CM_E_KEY_IS_LOCKED);
    m->locked++;
    size_t nl = v->out.nlocks;
    kv_lock_info locks[MAXW];
    char keys[MAXW][8], prims[MAXW][8];
    for (size_t j = 0; j < nl; j++) {
        locks[j] = v->out.locks[j];
        memcpy(keys[j], locks[j].key.ptr, locks[j].key.len);
        memcpy(prims[j], locks[j].primary.ptr, locks[j].primary.len);
        locks[j].key = cm_slice_make(keys[j], locks[j].key.len);
        locks[j].primary = cm_slice_make(prims[j], locks[j].primary.len);
    }
    for (size_t j = 0; j < nl; j++) {
        resolve(v, m, &locks[j]);
    }
    if (++t->retries > 3) {
        txn_abort(v, m, t);
    }
}

static void txn_step(tenv *v, model *m, mtxn *t)
{
    if (rnd(m, 40) == 0) {
        t->st = T_DEAD; /* the client dies here; its locks stay behind */
        m->deaths++;
        return;
    }
    switch (t->st) {
    case T_INIT:
        if (rnd(m, 3) == 0 && t->n > 1) {
            /* Secondaries first or primary first, in separate requests. */
            if (rnd(m, 2)) {
                txn_prewrite(v, m, t, 1, t->n);
            } else {
                txn_prewrite(v, m, t, 0, 1);
            }
        } else {
            txn_prewrite(v, m, t, 0, t->n);
        }
        break;
    case T_HALF:
        txn_prewrite(v, m, t, t->pre[0] ? 1 : 0, t->pre[0] ? t->n : 1);
        break;
    case T_PREWRITTEN: {
        if (rnd(m, 10) == 0) {
            txn_abort(v, m, t);
            break;
        }
        if (rnd(m, 4) == 0) {
            uint64_t ttl;
            int rc = t_heartbeat(v, kname[t->keys[0]], t->start_ts, t->ttl + 20, &ttl);
            assert_true(rc == 0 || rc == CM_E_TXN_LOCK_NOT_FOUND);
            if (rc == 0) {
                assert_true(ttl >= t->ttl);
                t->ttl = ttl;
            }
            break;
        }
        t->commit_ts = tso(m);
        int rc = t_commit1(v, t->start_ts, t->commit_ts, kname[t->keys[0]]);
        if (rc == 0) {
            model_commit(m, t);
            t->done[0] = true;
        } else {
            /* Someone rolled the primary back after its TTL: the client gives up. */
            assert_int_equal(rc, CM_E_TXN_ROLLED_BACK);
            t->commit_ts = 0;
            txn_abort(v, m, t);
        }
        break;
    }
    case T_COMMITTED: {
        int i = 1 + (int)rnd(m, t->n > 1 ? t->n - 1 : 1);
        if (i < t->n && !t->done[i]) {
            /* A resolver may have committed it already: commit is idempotent. A rolled-back
             * secondary of a committed transaction would be a lost write. */
            assert_int_equal(t_commit1(v, t->start_ts, t->commit_ts, kname[t->keys[i]]), 0);
            t->done[i] = true;
        }
        bool all = true;
        for (int j = 0; j < t->n; j++) {
            all &= t->done[j];
        }
        if (all) {
            t->st = T_DONE;
        }
        break;
    }
    default:
        break;
    }
}

/* Late duplicates of finished transactions' messages. */
static void late_message(tenv *v, model *m)
{
    if (m->ntxn == 0) {
        return;
    }
    mtxn *t = &m->txns[rnd(m, m->ntxn)];
    int i = (int)rnd(m, t->n);
    if (t->start_ts <= m->safe_point) {
        return; /* older than the GC life time: no message lives that long */
    }
    if (t->st == T_ABORTED) {
        /* A rolled-back transaction can never come back. */
        kv_mutation mu = {t->ops[i] == V_PUT ? KV_MUT_PUT : KV_MUT_DELETE, K(kname[t->keys[i]]),
                          K(t->vals[i])};
        if (t->ops[i] == V_LOCK) {
            mu.op = KV_MUT_LOCK;
        }
        int rc = t_prewrite(v, t->start_ts, kname[t->keys[0]], t->ttl, &mu, 1);
        assert_true(rc == CM_E_WRITE_CONFLICT || rc == CM_E_KEY_IS_LOCKED);
        assert_int_equal(t_commit1(v, t->start_ts, tso(m), kname[t->keys[i]]),
                         CM_E_TXN_ROLLED_BACK);
        m->late_rejected++;
    } else if (t->st == T_DONE) {
        assert_int_equal(t_commit1(v, t->start_ts, t->commit_ts, kname[t->keys[i]]), 0);
        assert_int_equal(t_rollback1(v, t->start_ts, kname[t->keys[i]]), CM_E_TXN_COMMITTED);
        assert_int_equal(v->out.commit_ts, t->commit_ts);
        m->late_rejected++;
    }
}

/* A resolver pass over whatever locks exist (as the GC worker or a blocked reader would). */
static int resolve_all(tenv *v, model *m)
{
    kv_snapshot *s;
    assert_int_equal(kv_engine_snapshot(v->e, &s, NULL), 0);
    kv_scan_locks_req req = {K(""), K(""), UINT64_MAX, 0, 0};
    kv_locks_result res;
    cm_arena a;
    cm_arena_init(&a, 0);
    assert_int_equal(kv_txn_scan_locks(s, &req, &a, &res, NULL), 0);
    kv_snapshot_release(s);
    int left = 0;
    for (size_t i = 0; i < res.n; i++) {
        left += !resolve(v, m, &res.locks[i]);
    }
    cm_arena_fini(&a);
    return left;
}

static void gc_step(tenv *v, model *m)
{
    /* The safe point trails the clock and never passes a running transaction's start_ts. */
    uint64_t sp = kv_ts_compose(m->phys > 200 ? m->phys - 200 : 1, 0);
    for (int i = 0; i < m->ntxn; i++) {
        tstate s = m->txns[i].st;
        if ((s == T_INIT || s == T_HALF || s == T_PREWRITTEN || s == T_COMMITTED) &&
            m->txns[i].start_ts <= sp) {
            sp = m->txns[i].start_ts - 1;
        }
    }
    if (sp <= m->safe_point) {
        return;
    }
    kv_gc_result res;
    int rc = t_gc(v, sp, "", "", 0, &res);
    if (rc == CM_E_KEY_IS_LOCKED) {
        return; /* resolved by later passes; GC tries again */
    }
    assert_int_equal(rc, 0);
    assert_false(res.more);
    m->safe_point = sp;
    m->gc_deleted += (int)res.versions_deleted;
}

static void run_model(tenv *v, uint64_t seed, int steps)
{
    model *m = calloc(1, sizeof(*m));
    m->rng = seed;
    m->phys = 1000;
    for (int i = 0; i < NKEYS; i++) {
        snprintf(kname[i], sizeof(kname[i]), "r%d", i);
    }
    for (int step = 0; step < steps; step++) {
        tick(m, rnd(m, 3));
        uint64_t what = rnd(m, 100);
        if (what < 15 && active_count(m) < MAXACTIVE) {
            txn_begin(m);
        } else if (what < 60) {
            int active[MAXTXN], na = 0;
            for (int i = 0; i < m->ntxn; i++) {
                tstate s = m->txns[i].st;
                if (s == T_INIT || s == T_HALF || s == T_PREWRITTEN || s == T_COMMITTED) {
                    active[na++] = i;
                }
            }
            if (na > 0) {
                txn_step(v, m, &m->txns[active[rnd(m, na)]]);
            }
        } else if (what < 75) {
            read_check(v, m);
        } else if (what < 80) {
            scan_check(v, m);
        } else if (what < 90) {
            late_message(v, m);
        } else if (what < 95) {
            resolve_all(v, m);
        } else {
            gc_step(v, m);
        }
        if (m->ntxn == MAXTXN && active_count(m) == 0) {
            break;
        }
    }
    /* The end: every client stops; time passes beyond every TTL; all locks get resolved. */
    for (int i = 0; i < m->ntxn; i++) {
        if (m->txns[i].st != T_DONE && m->txns[i].st != T_ABORTED) {
            m->txns[i].st = T_DEAD;
        }
    }
    tick(m, 100000);
    assert_int_equal(resolve_all(v, m), 0);
    assert_int_equal(resolve_all(v, m), 0);
    uint64_t ts = now(m);
    for (int k = 0; k < NKEYS; k++) {
        const char *got;
        int rc = t_get(v, kname[k], ts, &got, NULL);
        const char *want = model_read(m, k, ts);
        if (want == NULL) {
            assert_int_equal(rc, CM_E_NOT_FOUND);
        } else {
            assert_int_equal(rc, 0);
            assert_string_equal(got, want);
        }
    }
    /* History above the last safe point is intact too. */
    for (int i = 0; i < 200; i++) {
        uint64_t lo = kv_ts_physical_ms(m->safe_point ? m->safe_point : kv_ts_compose(1000, 0));
        uint64_t at = kv_ts_compose(lo + rnd(m, m->phys - 100000 - lo + 1), 1 + rnd(m, 3));
        if (at < m->safe_point) {
            continue;
        }
        int k = (int)rnd(m, NKEYS);
        const char *got;
        int rc = t_get(v, kname[k], at, &got, NULL);
        const char *want = model_read(m, k, at);
        assert_int_equal(rc, want ? 0 : CM_E_NOT_FOUND);
        if (want) {
            assert_string_equal(got, want);
        }
    }
    print_message("# seed %llu: %d txns, %d commits, %d aborts, %d conflicts, %d locks met, "
                  "%d expired, %d resolved, %d late rejected, %d reads, %d deaths, %d gc'd\n",
                  (unsigned long long)seed, m->ntxn, m->commits, m->aborts, m->conflicts, m->locked,
                  m->expired, m->resolved, m->late_rejected, m->reads, m->deaths, m->gc_deleted);
    /* Each seed must have done real work of every kind. */
    assert_true(m->commits >= 100);
    assert_true(m->aborts >= 5);
    assert_true(m->conflicts >= 3);
    assert_true(m->locked >= 10);
    assert_true(m->expired >= 2);
    assert_true(m->resolved >= 10);
    assert_true(m->late_rejected >= 20);
    assert_true(m->reads >= 100);
    assert_true(m->gc_deleted >= 10);
    free(m);
}

static void t_model_memory(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 6; seed++) {
        tenv *v = tenv_open(0);
        run_model(v, seed, 5000);
        tenv_close(v);
    }
}

static int setup_rocks(void **state)
{
    *state = tenv_open(1);
    return 0;
}

static int teardown_rocks(void **state)
{
    tenv_close(*state); /* removes the temp dir, also after a failure */
    return 0;
}

static void t_model_rocksdb(void **state)
{
    run_model(*state, 77, 3000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_model_memory),
        cmocka_unit_test_setup_teardown(t_model_rocksdb, setup_rocks, teardown_rocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
