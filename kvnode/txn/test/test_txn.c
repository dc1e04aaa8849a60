/*
 * test_txn.c — Percolator scenarios on both engines: snapshot reads, write-write conflicts,
 * rollback protection, commit after rollback, idempotence, CheckTxnStatus with caller-supplied
 * TSO time, heartbeats, ResolveLock both ways, scans, GC retention; and the record codecs.
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

static int setup_mem(void **state)
{
    *state = tenv_open(0);
    return 0;
}

static int setup_rocks(void **state)
{
    *state = tenv_open(1);
    return 0;
}

static int teardown(void **state)
{
    tenv_close(*state);
    return 0;
}

/* Asserts the value of key at ts (NULL: absent). */
static void expect(tenv *v, const char *key, uint64_t ts, const char *want)
{
    const char *got = NULL;
    int rc = t_get(v, key, ts, &got, NULL);
    if (want == NULL) {
        if (rc != CM_E_NOT_FOUND) {
            print_message("# %s@%llu: want absent, got rc %d (%s)\n", key, (unsigned long long)ts,
                          rc, got ? got : "-");
        }
        assert_int_equal(rc, CM_E_NOT_FOUND);
    } else {
        if (rc != 0 || strcmp(got, want) != 0) {
            print_message("# %s@%llu: want %s, got rc %d (%s)\n", key, (unsigned long long)ts, want,
                          rc, got ? got : "-");
        }
        assert_int_equal(rc, 0);
        assert_string_equal(got, want);
    }
}

static void expect_locked(tenv *v, const char *key, uint64_t ts, uint64_t lock_ts,
                          const char *primary)
{
    const char *got;
    kv_lock_info li;
    assert_int_equal(t_get(v, key, ts, &got, &li), CM_E_KEY_IS_LOCKED);
    assert_int_equal(li.start_ts, lock_ts);
    assert_true(cm_slice_eq(li.key, K(key)));
    assert_true(cm_slice_eq(li.primary, K(primary)));
}

/* One whole transaction writing one key. */
static void commit_put(tenv *v, const char *key, const char *value, uint64_t start_ts,
                       uint64_t commit_ts)
{
    assert_int_equal(t_put(v, start_ts, key, key, value), 0);
    assert_int_equal(t_commit1(v, start_ts, commit_ts, key), 0);
}

static char *long_value(char c, size_t n)
{
    char *p = malloc(n + 1);
    memset(p, c, n);
    p[n] = 0;
    return p;
}

static size_t count_versions_any(tenv *v, const char *key)
{
    kv_snapshot *s;
    assert_int_equal(kv_engine_snapshot(v->e, &s, NULL), 0);
    cm_buf lo = CM_BUF_INIT;
    assert_int_equal(kv_mvcc_key_lock(&lo, K(key)), 0);
    kv_iter *it;
    assert_int_equal(kv_iter_new(s, KV_CF_WRITE, NULL, &it, NULL), 0);
    size_t n = 0;
    for (kv_iter_seek(it, cm_buf_slice(&lo)); kv_iter_valid(it); kv_iter_next(it)) {
        cm_slice k = kv_iter_key(it);
        if (k.len != lo.len + 8 || memcmp(k.ptr, lo.ptr, lo.len) != 0) {
            break;
        }
        n++;
    }
    kv_iter_free(it);
    kv_snapshot_release(s);
    cm_buf_fini(&lo);
    return n;
}

/* ---- snapshot reads ---------------------------------------------------------------------- */

static void test_snapshot_reads(void **state)
{
    tenv *v = *state;
    expect(v, "k", 5, NULL);
    commit_put(v, "k", "v1", 10, 20);
    commit_put(v, "k", "v2", 30, 40);
    expect(v, "k", 15, NULL);
    expect(v, "k", 19, NULL);
    expect(v, "k", 20, "v1");
    expect(v, "k", 39, "v1");
    expect(v, "k", 40, "v2");
    expect(v, "k", 1000, "v2");
    /* Delete. */
    commit_put(v, "k", NULL, 50, 60);
    expect(v, "k", 59, "v2");
    expect(v, "k", 60, NULL);
    /* A lock-only mutation commits a Lock record: reads look through it. */
    commit_put(v, "k", "v3", 70, 80);
    kv_mutation lk = {KV_MUT_LOCK, K("k"), K("")};
    assert_int_equal(t_prewrite(v, 90, "k", 3000, &lk, 1), 0);
    expect(v, "k", 95, "v3"); /* a lock-only lock does not block readers */
    assert_int_equal(t_commit1(v, 90, 100, "k"), 0);
    expect(v, "k", 100, "v3");
    /* A Rollback record is looked through too. */
    assert_int_equal(t_put(v, 110, "k", "k", "never"), 0);
    assert_int_equal(t_rollback1(v, 110, "k"), 0);
    expect(v, "k", 120, "v3");
    /* A long value lives in `default` and reads the same. */
    char *big = long_value('x', 1000);
    commit_put(v, "k", big, 130, 140);
    expect(v, "k", 140, big);
    expect(v, "k", 139, "v3");
    cm_buf raw = CM_BUF_INIT;
    assert_int_equal(kv_mvcc_key_ts(&raw, K("k"), 130), 0);
    assert_true(t_raw_exists(v, KV_CF_DEFAULT, cm_buf_slice(&raw)));
    cm_buf_fini(&raw);
    /* Exactly 255 bytes stays inline; 256 goes to default. */
    char *b255 = long_value('a', KV_SHORT_VALUE_MAX), *b256 = long_value('b', 256);
    commit_put(v, "s1", b255, 150, 160);
    commit_put(v, "s2", b256, 150, 160);
    cm_buf r1 = CM_BUF_INIT, r2 = CM_BUF_INIT;
    assert_int_equal(kv_mvcc_key_ts(&r1, K("s1"), 150), 0);
    assert_int_equal(kv_mvcc_key_ts(&r2, K("s2"), 150), 0);
    assert_false(t_raw_exists(v, KV_CF_DEFAULT, cm_buf_slice(&r1)));
    assert_true(t_raw_exists(v, KV_CF_DEFAULT, cm_buf_slice(&r2)));
    expect(v, "s1", 160, b255);
    expect(v, "s2", 160, b256);
    cm_buf_fini(&r1);
    cm_buf_fini(&r2);
    free(b255);
    free(b256);
    free(big);
    /* Keys that share prefixes never see each other's versions. */
    commit_put(v, "a", "A", 200, 210);
    commit_put(v, "ab", "AB", 220, 230);
    commit_put(v, "a\x01", "A1", 240, 250);
    expect(v, "a", 260, "A");
    expect(v, "ab", 215, NULL);
    expect(v, "ab", 260, "AB");
    expect(v, "a\x01", 260, "A1");
    /* Bad reads. */
    const char *got;
    assert_int_equal(t_get(v, "", 10, &got, NULL), CM_E_INVALID);
    assert_int_equal(t_get(v, "k", 0, &got, NULL), CM_E_INVALID);
}

static void test_locked_reads(void **state)
{
    tenv *v = *state;
    commit_put(v, "k", "old", 10, 20);
    assert_int_equal(t_put(v, 30, "p", "k", "new"), 0);
    /* A reader above the lock's start_ts cannot know the outcome: KeyIsLocked with details. */
    expect_locked(v, "k", 35, 30, "p");
    expect_locked(v, "k", 30, 30, "p");
    /* A reader below it is not affected. */
    expect(v, "k", 29, "old");
    /* BatchGet: the free keys are read, the locked one reported. */
    commit_put(v, "j", "J", 10, 20);
    kv_snapshot *s;
    assert_int_equal(kv_engine_snapshot(v->e, &s, NULL), 0);
    cm_slice keys[3] = {K("j"), K("k"), K("missing")};
    kv_read_result res;
    cm_err err;
    cm_arena_reset(&v->arena);
    assert_int_equal(kv_mvcc_batch_get(s, keys, 3, 40, &v->arena, &res, &err), CM_E_KEY_IS_LOCKED);
    assert_int_equal(res.npairs, 1);
    assert_true(cm_slice_eq(res.pairs[0].key, K("j")));
    assert_true(cm_slice_eq(res.pairs[0].value, K("J")));
    assert_int_equal(res.nlocks, 1);
    assert_true(cm_slice_eq(res.locks[0].key, K("k")));
    assert_int_equal(res.locks[0].ttl_ms, 3000);
    assert_int_equal(res.locks[0].kind, KV_LOCK_PUT);
    assert_int_equal(res.locks[0].txn_size, 1);
    assert_int_equal(kv_mvcc_batch_get(s, keys, 3, 25, &v->arena, &res, &err), 0);
    assert_int_equal(res.npairs, 2);
    kv_snapshot_release(s);
    /* Commit: the new value shows at and after commit_ts only. */
    assert_int_equal(t_commit1(v, 30, 40, "k"), 0);
    expect(v, "k", 39, "old");
    expect(v, "k", 40, "new");
}

/* ---- scans --------------------------------------------------------------------------------- */

static void check_pairs(const kv_read_result *r, const char *const *want, size_t n)
{
    if (r->npairs != n) {
        print_message("# scan: %zu pairs, want %zu\n", r->npairs, n);
    }
    assert_int_equal(r->npairs, n);
    for (size_t i = 0; i < n; i++) {
        char key[16];
        snprintf(key, sizeof(key), "%s", want[i]);
        assert_true(cm_slice_eq(r->pairs[i].key, K(key)));
    }
}

static void test_scan(void **state)
{
    tenv *v = *state;
    /* Keys k0..k9; k3 deleted later; k5 locked by a txn at 50; k7 only ever rolled back; k8 has
     * a long value; "k" itself (a prefix of all) has a value. */
    char key[8], val[16];
    for (int i = 0; i < 10; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        snprintf(val, sizeof(val), "v%d", i);
        if (i == 7) {
            assert_int_equal(t_put(v, 10, key, key, val), 0);
            assert_int_equal(t_rollback1(v, 10, key), 0);
            continue;
        }
        if (i == 8) {
            char *big = long_value('8', 700);
            commit_put(v, key, big, 10, 20);
            free(big);
            continue;
        }
        commit_put(v, key, val, 10, 20);
    }
    commit_put(v, "k", "root", 10, 20);
    commit_put(v, "k3", NULL, 30, 40);
    assert_int_equal(t_put(v, 50, "k5", "k5", "v5b"), 0);
    kv_lock_info li;
    const char *got;
    (void)li;
    (void)got;

    kv_read_result r;
    kv_scan_req all = {K(""), K(""), 45, 0, false, false};
    assert_int_equal(t_scan(v, &all, &r), 0); /* the lock at 50 is above 45 */
    const char *at45[] = {"k", "k0", "k1", "k2", "k4", "k5", "k6", "k8", "k9"};
    check_pairs(&r, at45, 9);
    assert_true(cm_slice_eq(r.pairs[0].value, K("root")));
    assert_int_equal(r.pairs[7].value.len, 700);
    assert_false(r.more);
    kv_scan_req at30 = {K(""), K(""), 30, 0, false, false};
    assert_int_equal(t_scan(v, &at30, &r), 0);
    assert_int_equal(r.npairs, 10); /* k3 not deleted yet */

    /* Above the lock: k5 is reported, the rest is read. */
    kv_scan_req at60 = {K("k"), K("k9"), 60, 0, true, false};
    assert_int_equal(t_scan(v, &at60, &r), CM_E_KEY_IS_LOCKED);
    const char *at60w[] = {"k", "k0", "k1", "k2", "k4", "k6", "k8"};
    check_pairs(&r, at60w, 7);
    assert_int_equal(r.nlocks, 1);
    assert_true(cm_slice_eq(r.locks[0].key, K("k5")));
    assert_int_equal(r.pairs[1].value.len, 0); /* key_only */

    /* Pages forward: limit 3, resume from the returned key. */
    kv_scan_req pg = {K("k0"), K(""), 45, 3, false, false};
    const char *seen[16];
    size_t nseen = 0;
    char resume[16] = "k0";
    for (int page = 0; page < 10; page++) {
        pg.start = cm_slice_make(resume, strlen(resume) + (page ? 1 : 0));
        assert_int_equal(t_scan(v, &pg, &r), 0);
        for (size_t i = 0; i < r.npairs; i++) {
            char *p = malloc(r.pairs[i].key.len + 1);
            memcpy(p, r.pairs[i].key.ptr, r.pairs[i].key.len);
            p[r.pairs[i].key.len] = 0;
            seen[nseen++] = p;
        }
        if (!r.more) {
            break;
        }
        assert_true(r.resume_key.len >= 1 && r.resume_key.ptr[r.resume_key.len - 1] == 0);
        memcpy(resume, r.resume_key.ptr, r.resume_key.len); /* includes the 0 byte */
        resume[r.resume_key.len] = 0;                       /* strlen stops before it */
    }
    const char *fw[] = {"k0", "k1", "k2", "k4", "k5", "k6", "k8", "k9"};
    assert_int_equal(nseen, 8);
    for (size_t i = 0; i < nseen; i++) {
        assert_string_equal(seen[i], fw[i]);
        free((void *)seen[i]);
    }

    /* Reverse, with a limit: descending order, resume key is the next page's end. */
    kv_scan_req rv = {K("k1"), K("k8"), 45, 3, false, true};
    int rc = t_scan(v, &rv, &r);
    if (rc != 0) {
        print_message("# %s\n", v->err.msg);
    }
    assert_int_equal(rc, 0);
    const char *rv1[] = {"k6", "k5", "k4"};
    check_pairs(&r, rv1, 3);
    assert_true(r.more);
    assert_true(cm_slice_eq(r.resume_key, K("k4")));
    char end2[8];
    memcpy(end2, r.resume_key.ptr, r.resume_key.len);
    rv.end = cm_slice_make(end2, r.resume_key.len);
    rc = t_scan(v, &rv, &r);
    if (rc != 0) {
        print_message("# %s\n", v->err.msg);
    }
    assert_int_equal(rc, 0);
    const char *rv2[] = {"k2", "k1"};
    check_pairs(&r, rv2, 2);
    assert_false(r.more);
    kv_scan_req rvl = {K(""), K(""), 60, 0, false, true};
    assert_int_equal(t_scan(v, &rvl, &r), CM_E_KEY_IS_LOCKED);
    const char *rvall[] = {"k9", "k8", "k6", "k4", "k2", "k1", "k0", "k"};
    check_pairs(&r, rvall, 8);
    assert_int_equal(r.nlocks, 1);
    /* Empty and inverted ranges. */
    kv_scan_req none = {K("k5"), K("k5"), 60, 0, false, false};
    assert_int_equal(t_scan(v, &none, &r), 0);
    assert_int_equal(r.npairs, 0);
    kv_scan_req z = {K("x"), K(""), 60, 0, false, false};
    assert_int_equal(t_scan(v, &z, &r), 0);
    assert_int_equal(r.npairs, 0);
}

/* ---- conflicts and protection -------------------------------------------------------------- */

static void test_write_conflict(void **state)
{
    tenv *v = *state;
    commit_put(v, "k", "v1", 10, 20);
    /* Started before the commit at 20: first committer wins. */
    assert_int_equal(t_put(v, 15, "k", "k", "late"), CM_E_WRITE_CONFLICT);
    assert_true(cm_slice_eq(v->out.conflict.key, K("k")));
    assert_int_equal(v->out.conflict.start_ts, 15);
    assert_int_equal(v->out.conflict.conflict_start_ts, 10);
    assert_int_equal(v->out.conflict.conflict_commit_ts, 20);
    /* commit_ts == start_ts conflicts as well ("commit_ts >= start_ts"). */
    assert_int_equal(t_put(v, 20, "k", "k", "same"), CM_E_WRITE_CONFLICT);
    /* Started after: fine. */
    assert_int_equal(t_put(v, 25, "k", "k", "v2"), 0);
    /* Another txn's lock: KeyIsLocked for every locked key, nothing written for any key. */
    assert_int_equal(t_put(v, 24, "x", "x", "free"), 0);
    assert_int_equal(t_rollback1(v, 24, "x"), 0);
    kv_mutation m[3] = {{KV_MUT_PUT, K("free1"), K("a")},
                        {KV_MUT_PUT, K("k"), K("b")},
                        {KV_MUT_DELETE, K("free2"), K("")}};
    assert_int_equal(t_prewrite(v, 30, "free1", 3000, m, 3), CM_E_KEY_IS_LOCKED);
    assert_int_equal(v->out.nlocks, 1);
    assert_int_equal(v->out.locks[0].start_ts, 25);
    expect(v, "free1", 100, NULL);
    kv_snapshot *s;
    assert_int_equal(kv_engine_snapshot(v->e, &s, NULL), 0);
    kv_mvcc_reader r;
    kv_mvcc_reader_init(&r, s);
    kv_lock l;
    assert_int_equal(kv_mvcc_load_lock(&r, K("free1"), &l, NULL), CM_E_NOT_FOUND);
    kv_mvcc_reader_fini(&r);
    kv_snapshot_release(s);
    /* Lock-only mutations conflict like writes. */
    assert_int_equal(t_commit1(v, 25, 35, "k"), 0);
    kv_mutation lk = {KV_MUT_LOCK, K("k"), K("")};
    assert_int_equal(t_prewrite(v, 30, "k", 3000, &lk, 1), CM_E_WRITE_CONFLICT);
    assert_int_equal(t_prewrite(v, 40, "k", 3000, &lk, 1), 0);
    assert_int_equal(t_commit1(v, 40, 45, "k"), 0);
    /* ... and a committed Lock record conflicts with a txn that started before it. */
    assert_int_equal(t_put(v, 42, "k", "k", "x"), CM_E_WRITE_CONFLICT);
    assert_int_equal(v->out.conflict.conflict_commit_ts, 45);
    /* Malformed prewrites. */
    kv_mutation dup[2] = {{KV_MUT_PUT, K("d"), K("1")}, {KV_MUT_PUT, K("d"), K("2")}};
    assert_int_equal(t_prewrite(v, 50, "d", 3000, dup, 2), CM_E_INVALID);
    kv_mutation empty = {KV_MUT_PUT, K(""), K("1")};
    assert_int_equal(t_prewrite(v, 50, "d", 3000, &empty, 1), CM_E_INVALID);
    kv_mutation badop = {(kv_mut_op)9, K("d"), K("1")};
    assert_int_equal(t_prewrite(v, 50, "d", 3000, &badop, 1), CM_E_INVALID);
    kv_mutation ok = {KV_MUT_PUT, K("d"), K("1")};
    assert_int_equal(t_prewrite(v, 0, "d", 3000, &ok, 1), CM_E_INVALID);
    assert_int_equal(t_prewrite(v, 50, "", 3000, &ok, 1), CM_E_INVALID);
}

static void test_rollback_protection(void **state)
{
    tenv *v = *state;
    /* A rollback that comes before the prewrite (the resolver gave up on a slow txn). */
    assert_int_equal(t_rollback1(v, 10, "k"), 0);
    assert_int_equal(t_put(v, 10, "k", "k", "late"), CM_E_WRITE_CONFLICT);
    assert_int_equal(v->out.conflict.conflict_start_ts, 10);
    assert_int_equal(v->out.conflict.conflict_commit_ts, 10);
    expect(v, "k", 100, NULL);
    /* Rolling back twice is a no-op the second time. */
    assert_int_equal(t_rollback1(v, 10, "k"), 0);
    assert_int_equal(kv_batch_count(&v->batch), 0);
    /* CheckTxnStatus with rollback_if_not_exist protects the primary the same way. */
    kv_txn_status st;
    assert_int_equal(t_check(v, "p", 20, kv_ts_compose(1, 0), true, &st), 0);
    assert_int_equal(st.state, KV_TXN_STATE_LOCK_NOT_EXIST_ROLLED_BACK);
    assert_int_equal(t_put(v, 20, "p", "p", "late"), CM_E_WRITE_CONFLICT);
    assert_int_equal(t_check(v, "p", 20, kv_ts_compose(1, 0), true, &st), 0);
    assert_int_equal(st.state, KV_TXN_STATE_ROLLED_BACK);
    /* Without rollback_if_not_exist nothing is written and the caller hears "not found". */
    assert_int_equal(t_check(v, "q", 30, kv_ts_compose(1, 0), false, &st), CM_E_TXN_LOCK_NOT_FOUND);
    assert_int_equal(t_put(v, 30, "q", "q", "fine"), 0);
    /* Rolling back a prewritten long value removes it from `default`. */
    char *big = long_value('z', 400);
    assert_int_equal(t_put(v, 40, "b", "b", big), 0);
    cm_buf raw = CM_BUF_INIT;
    assert_int_equal(kv_mvcc_key_ts(&raw, K("b"), 40), 0);
    assert_true(t_raw_exists(v, KV_CF_DEFAULT, cm_buf_slice(&raw)));
    assert_int_equal(t_rollback1(v, 40, "b"), 0);
    assert_false(t_raw_exists(v, KV_CF_DEFAULT, cm_buf_slice(&raw)));
    assert_int_equal(t_put(v, 40, "b", "b", big), CM_E_WRITE_CONFLICT);
    cm_buf_fini(&raw);
    free(big);
    /* A rollback where another txn holds the lock leaves that lock alone. */
    assert_int_equal(t_put(v, 50, "o", "o", "other"), 0);
    assert_int_equal(t_rollback1(v, 45, "o"), 0);
    assert_int_equal(t_commit1(v, 50, 60, "o"), 0);
    expect(v, "o", 60, "other");
}

static void test_commit_rules(void **state)
{
    tenv *v = *state;
    /* Commit after rollback fails. */
    assert_int_equal(t_put(v, 10, "k", "k", "v"), 0);
    assert_int_equal(t_rollback1(v, 10, "k"), 0);
    assert_int_equal(t_commit1(v, 10, 20, "k"), CM_E_TXN_ROLLED_BACK);
    /* Commit without a prewrite. */
    assert_int_equal(t_commit1(v, 30, 40, "nothing"), CM_E_TXN_LOCK_NOT_FOUND);
    /* commit_ts must be above start_ts. */
    assert_int_equal(t_put(v, 50, "k", "k", "v"), 0);
    assert_int_equal(t_commit1(v, 50, 50, "k"), CM_E_INVALID);
    assert_int_equal(t_commit1(v, 50, 49, "k"), CM_E_INVALID);
    /* Idempotent commit, idempotent prewrite. */
    assert_int_equal(t_put(v, 50, "k", "k", "v"), 0); /* retried prewrite: no new write */
    assert_int_equal(kv_batch_count(&v->batch), 0);
    assert_int_equal(t_commit1(v, 50, 60, "k"), 0);
    assert_int_equal(t_commit1(v, 50, 60, "k"), 0);
    assert_int_equal(kv_batch_count(&v->batch), 0);
    expect(v, "k", 60, "v");
    /* Rollback of a committed txn fails and names the commit. */
    assert_int_equal(t_rollback1(v, 50, "k"), CM_E_TXN_COMMITTED);
    assert_int_equal(v->out.commit_ts, 60);
    assert_int_equal(t_cleanup(v, "k", 50, 0), CM_E_TXN_COMMITTED);
    /* A retried prewrite after the commit cannot lock again (its own commit conflicts). */
    assert_int_equal(t_put(v, 50, "k", "k", "v"), CM_E_WRITE_CONFLICT);
    /* Commit of several keys is all or nothing. */
    kv_mutation m[2] = {{KV_MUT_PUT, K("a"), K("1")}, {KV_MUT_PUT, K("b"), K("2")}};
    assert_int_equal(t_prewrite(v, 70, "a", 3000, m, 2), 0);
    assert_int_equal(t_rollback1(v, 70, "b"), 0);
    cm_slice ab[2] = {K("a"), K("b")};
    assert_int_equal(t_commit(v, 70, 80, ab, 2), CM_E_TXN_ROLLED_BACK);
    expect_locked(v, "a", 90, 70, "a");
}

/* A commit_ts may equal another transaction's start_ts once commit timestamps can be computed
 * (async commit); the commit record and the rollback then share a key and neither may be lost. */
static void test_overlapped_rollback(void **state)
{
    tenv *v = *state;
    /* Rollback after the commit: the commit record is kept and flagged. */
    commit_put(v, "k", "A", 10, 20);
    assert_int_equal(t_rollback1(v, 20, "k"), 0);
    assert_int_equal(count_versions_any(v, "k"), 1);
    expect(v, "k", 25, "A");
    assert_int_equal(t_put(v, 20, "k", "k", "B"), CM_E_WRITE_CONFLICT);
    assert_int_equal(t_commit1(v, 20, 30, "k"), CM_E_TXN_ROLLED_BACK);
    kv_txn_status st;
    assert_int_equal(t_check(v, "k", 20, kv_ts_compose(1, 0), false, &st), 0);
    assert_int_equal(st.state, KV_TXN_STATE_ROLLED_BACK);
    assert_int_equal(t_rollback1(v, 20, "k"), 0);
    assert_int_equal(kv_batch_count(&v->batch), 0);
    assert_int_equal(t_rollback1(v, 10, "k"), CM_E_TXN_COMMITTED); /* A is still committed */
    /* Commit after the rollback: the rollback record is replaced by a flagged commit record. */
    assert_int_equal(t_put(v, 35, "m", "m", "D"), 0);
    assert_int_equal(t_rollback1(v, 40, "m"), 0); /* C (start 40) never reached m */
    assert_int_equal(t_commit1(v, 35, 40, "m"), 0);
    assert_int_equal(count_versions_any(v, "m"), 1);
    expect(v, "m", 40, "D");
    assert_int_equal(t_check(v, "m", 40, kv_ts_compose(1, 0), true, &st), 0);
    assert_int_equal(st.state, KV_TXN_STATE_ROLLED_BACK);
    assert_int_equal(t_put(v, 40, "m", "m", "C"), CM_E_WRITE_CONFLICT);
    assert_int_equal(t_check(v, "m", 35, kv_ts_compose(1, 0), false, &st), 0);
    assert_int_equal(st.state, KV_TXN_STATE_COMMITTED);
    assert_int_equal(st.commit_ts, 40);
}

/* ---- CheckTxnStatus, heartbeat, cleanup ---------------------------------------------------- */

static void test_check_txn_status(void **state)
{
    tenv *v = *state;
    uint64_t start = kv_ts_compose(1000, 5);
    kv_mutation m[2] = {{KV_MUT_PUT, K("p"), K("1")}, {KV_MUT_PUT, K("s"), K("2")}};
    assert_int_equal(t_prewrite(v, start, "p", 3000, m, 2), 0);
    kv_txn_status st;
    /* The TTL is judged against the caller's TSO time, not any clock of ours. */
    assert_int_equal(t_check(v, "p", start, kv_ts_compose(2000, 0), false, &st), 0);
    assert_int_equal(st.state, KV_TXN_STATE_LOCKED);
    assert_int_equal(st.lock.ttl_ms, 3000);
    assert_true(cm_slice_eq(st.lock.primary, K("p")));
    assert_int_equal(kv_batch_count(&v->batch), 0);
    assert_int_equal(t_check(v, "p", start, kv_ts_compose(4000, 99), false, &st), 0);
    assert_int_equal(st.state, KV_TXN_STATE_LOCKED); /* 1000 + 3000 is not past yet */
    /* On a secondary it is refused. */
    assert_int_equal(t_check(v, "s", start, kv_ts_compose(9000, 0), false, &st), CM_E_INVALID);
    /* Heartbeat: extends, never shrinks. */
    uint64_t ttl = 0;
    assert_int_equal(t_heartbeat(v, "p", start, 10000, &ttl), 0);
    assert_int_equal(ttl, 10000);
    assert_int_equal(t_heartbeat(v, "p", start, 2000, &ttl), 0);
    assert_int_equal(ttl, 10000);
    assert_int_equal(kv_batch_count(&v->batch), 0);
    assert_int_equal(t_check(v, "p", start, kv_ts_compose(4001, 0), false, &st), 0);
    assert_int_equal(st.state, KV_TXN_STATE_LOCKED);
    assert_int_equal(st.lock.ttl_ms, 10000);
    /* Cleanup of a live lock is refused. */
    /* (the secondary's TTL was not extended: 1000 + 3000) */
    assert_int_equal(t_cleanup(v, "s", start, kv_ts_compose(3500, 0)), CM_E_KEY_IS_LOCKED);
    assert_int_equal(v->out.nlocks, 1);
    /* Past the TTL: CheckTxnStatus rolls the primary back. */
    assert_int_equal(t_check(v, "p", start, kv_ts_compose(11001, 0), false, &st), 0);
    assert_int_equal(st.state, KV_TXN_STATE_TTL_EXPIRED);
    assert_int_equal(t_check(v, "p", start, kv_ts_compose(11001, 0), false, &st), 0);
    assert_int_equal(st.state, KV_TXN_STATE_ROLLED_BACK);
    assert_int_equal(t_commit1(v, start, kv_ts_compose(12000, 0), "p"), CM_E_TXN_ROLLED_BACK);
    assert_int_equal(t_heartbeat(v, "p", start, 20000, &ttl), CM_E_TXN_LOCK_NOT_FOUND);
    /* The secondary is still locked until resolved; expired cleanup removes it. */
    assert_int_equal(t_cleanup(v, "s", start, kv_ts_compose(20000, 0)), 0);
    expect(v, "s", kv_ts_compose(30000, 0), NULL);
    expect(v, "p", kv_ts_compose(30000, 0), NULL);

    /* A committed primary reports its commit_ts. */
    uint64_t s2 = kv_ts_compose(40000, 0), c2 = kv_ts_compose(40001, 0);
    commit_put(v, "q", "x", s2, c2);
    assert_int_equal(t_check(v, "q", s2, kv_ts_compose(99999, 0), true, &st), 0);
    assert_int_equal(st.state, KV_TXN_STATE_COMMITTED);
    assert_int_equal(st.commit_ts, c2);
    assert_int_equal(kv_batch_count(&v->batch), 0);
    /* Cleanup with current_ts 0 rolls back unconditionally. */
    uint64_t s3 = kv_ts_compose(50000, 0);
    assert_int_equal(t_put(v, s3, "r", "r", "y"), 0);
    assert_int_equal(t_cleanup(v, "r", s3, 0), 0);
    assert_int_equal(t_commit1(v, s3, s3 + 1, "r"), CM_E_TXN_ROLLED_BACK);
    /* Bad arguments. */
    assert_int_equal(t_check(v, "r", 0, 1, false, &st), CM_E_INVALID);
    assert_int_equal(t_check(v, "r", s3, 0, false, &st), CM_E_INVALID);
    assert_true(kv_txn_lock_expired(kv_ts_compose(10, 0), UINT64_MAX - 5, UINT64_MAX) == false);
}

/* ---- ResolveLock ------------------------------------------------------------------------- */

static void scan_txn_locks(tenv *v, uint64_t start_ts, cm_slice *keys, size_t *n, char store[][8])
{
    kv_snapshot *s;
    assert_int_equal(kv_engine_snapshot(v->e, &s, NULL), 0);
    kv_scan_locks_req req = {K(""), K(""), UINT64_MAX, start_ts, 0};
    kv_locks_result res;
    cm_arena_reset(&v->arena);
    assert_int_equal(kv_txn_scan_locks(s, &req, &v->arena, &res, NULL), 0);
    kv_snapshot_release(s);
    *n = res.n;
    for (size_t i = 0; i < res.n; i++) {
        memcpy(store[i], res.locks[i].key.ptr, res.locks[i].key.len);
        keys[i] = cm_slice_make(store[i], res.locks[i].key.len);
        assert_int_equal(res.locks[i].start_ts, start_ts);
    }
}

static void test_resolve_lock(void **state)
{
    tenv *v = *state;
    commit_put(v, "s1", "old1", 1, 2);
    commit_put(v, "s2", "old2", 1, 2);
    char *big = long_value('L', 300);
    /* Txn A (start 10): primary committed, secondaries left behind by a dead client. */
    kv_mutation a[3] = {{KV_MUT_PUT, K("pa"), K("A")},
                        {KV_MUT_PUT, K("s1"), K("A1")},
                        {KV_MUT_PUT, K("s2"), K(big)}};
    assert_int_equal(t_prewrite(v, 10, "pa", 3000, a, 3), 0);
    assert_int_equal(t_commit1(v, 10, 20, "pa"), 0);
    /* Txn B (start 11): never committed, rolled back via its primary. */
    kv_mutation b[2] = {{KV_MUT_PUT, K("pb"), K("B")}, {KV_MUT_DELETE, K("s3"), K("")}};
    assert_int_equal(t_prewrite(v, 11, "pb", 3000, b, 2), 0);
    kv_txn_status st;
    assert_int_equal(t_check(v, "pb", 11, kv_ts_compose(3001, 0), false, &st), 0);
    assert_int_equal(st.state, KV_TXN_STATE_TTL_EXPIRED);
    expect_locked(v, "s1", 30, 10, "pa");

    /* The read phase finds exactly A's locks; the write phase commits them. */
    cm_slice keys[8];
    char store[8][8];
    size_t n;
    scan_txn_locks(v, 10, keys, &n, store);
    assert_int_equal(n, 2);
    cm_slice all[3] = {keys[0], keys[1], K("pb")}; /* pb: not A's lock, left alone */
    assert_int_equal(t_resolve(v, 10, 20, all, 3), 0);
    expect(v, "s1", 30, "A1");
    expect(v, "s2", 30, big);
    expect(v, "s1", 19, "old1");
    scan_txn_locks(v, 10, keys, &n, store);
    assert_int_equal(n, 0);
    /* Resolving again is harmless. */
    assert_int_equal(t_resolve(v, 10, 20, all, 2), 0);
    assert_int_equal(kv_batch_count(&v->batch), 0);

    /* B: roll back the rest. */
    scan_txn_locks(v, 11, keys, &n, store);
    assert_int_equal(n, 1);
    assert_true(cm_slice_eq(keys[0], K("s3")));
    assert_int_equal(t_resolve(v, 11, 0, keys, 1), 0);
    expect(v, "s3", 30, NULL);
    assert_int_equal(t_put(v, 11, "pb", "s3", "late"), CM_E_WRITE_CONFLICT); /* protected */
    /* commit_ts must be above start_ts. */
    assert_int_equal(t_resolve(v, 11, 5, keys, 1), CM_E_INVALID);
    free(big);
}

/* ---- GC ------------------------------------------------------------------------------------ */

/* Versions of "k" (start -> commit): Put v1 10->11, Put v2 20->21, Delete 30->31, Put v4 40->41,
 * Lock 44->45, Rollback 50, Put v5 (long) 60->61. */
static void gc_history(tenv *v, const char *big)
{
    commit_put(v, "k", "v1", 10, 11);
    commit_put(v, "k", big, 20, 21);
    commit_put(v, "k", NULL, 30, 31);
    commit_put(v, "k", "v4", 40, 41);
    kv_mutation lk = {KV_MUT_LOCK, K("k"), K("")};
    assert_int_equal(t_prewrite(v, 44, "k", 3000, &lk, 1), 0);
    assert_int_equal(t_commit1(v, 44, 45, "k"), 0);
    assert_int_equal(t_rollback1(v, 50, "k"), 0);
    commit_put(v, "k", big, 60, 61);
    /* "j": Put a 10->11, Put b 20->21 (long), Lock 24->25, Rollback 27. */
    commit_put(v, "j", "a", 10, 11);
    commit_put(v, "j", big, 20, 21);
    assert_int_equal(t_prewrite(v, 24, "j", 3000, &(kv_mutation){KV_MUT_LOCK, K("j"), K("")}, 1),
                     0);
    assert_int_equal(t_commit1(v, 24, 25, "j"), 0);
    assert_int_equal(t_rollback1(v, 27, "j"), 0);
}

static void test_gc_retention(void **state)
{
    tenv *v = *state;
    char *big = long_value('G', 600);
    gc_history(v, big);
    assert_int_equal(count_versions_any(v, "k"), 7);
    /* What every reader at or above the safe point sees before GC... */
    const uint64_t probes[] = {35, 36, 40, 41, 44, 45, 50, 60, 61, 100};
    const char *before_k[10], *before_j[10];
    for (int i = 0; i < 10; i++) {
        const char *g;
        int rc = t_get(v, "k", probes[i], &g, NULL);
        before_k[i] = rc == 0 ? strdup(g) : NULL;
        rc = t_get(v, "j", probes[i], &g, NULL);
        before_j[i] = rc == 0 ? strdup(g) : NULL;
    }
    kv_gc_result res;
    assert_int_equal(t_gc(v, 35, "", "", 0, &res), 0);
    /* k: Delete@31 was the version at 35: it goes, with v2 and v1 below it; v4, Lock@45,
     * Rollback@50 and v5 are above 35 and stay. j: b@21 is the version at 35 and stays;
     * a@11 goes, and so do Lock@25 and Rollback@27. */
    assert_int_equal(res.keys_scanned, 2);
    assert_int_equal(res.versions_deleted, 3 + 3);
    assert_int_equal(res.values_deleted, 1); /* v2 of k was long */
    assert_int_equal(count_versions_any(v, "k"), 4);
    assert_int_equal(count_versions_any(v, "j"), 1);
    /* ... is exactly what they see after it. */
    for (int i = 0; i < 10; i++) {
        expect(v, "k", probes[i], before_k[i]);
        expect(v, "j", probes[i], before_j[i]);
        free((void *)before_k[i]);
        free((void *)before_j[i]);
    }
    expect(v, "j", 35, big);
    cm_buf raw = CM_BUF_INIT;
    assert_int_equal(kv_mvcc_key_ts(&raw, K("k"), 20), 0);
    assert_false(t_raw_exists(v, KV_CF_DEFAULT, cm_buf_slice(&raw)));
    cm_buf_reset(&raw);
    assert_int_equal(kv_mvcc_key_ts(&raw, K("j"), 20), 0);
    assert_true(t_raw_exists(v, KV_CF_DEFAULT, cm_buf_slice(&raw)));
    cm_buf_fini(&raw);
    /* Again at the same safe point: nothing left to do. */
    assert_int_equal(t_gc(v, 35, "", "", 0, &res), 0);
    assert_int_equal(res.versions_deleted, 0);
    /* A higher safe point: k keeps v5 only above... v4@41 is the version at 55 (Lock@45 and
     * Rollback@50 go), then at 70 v5@61 is, and v4 goes too. */
    assert_int_equal(t_gc(v, 55, "", "", 0, &res), 0);
    assert_int_equal(res.versions_deleted, 2);
    expect(v, "k", 55, "v4");
    assert_int_equal(t_gc(v, 70, "", "", 0, &res), 0);
    assert_int_equal(res.versions_deleted, 1);
    expect(v, "k", 70, big);
    assert_int_equal(count_versions_any(v, "k"), 1);

    /* A lock at or below the safe point stops GC until it is resolved. */
    commit_put(v, "m", "m1", 80, 81);
    commit_put(v, "m", "m2", 82, 83);
    assert_int_equal(t_put(v, 90, "m", "m", "m3"), 0);
    assert_int_equal(t_gc(v, 95, "", "", 0, &res), CM_E_KEY_IS_LOCKED);
    assert_int_equal(res.nlocks, 1);
    assert_int_equal(res.locks[0].start_ts, 90);
    assert_int_equal(count_versions_any(v, "m"), 2);
    /* A lock above the safe point does not. */
    assert_int_equal(t_gc(v, 89, "", "", 0, &res), 0);
    assert_int_equal(count_versions_any(v, "m"), 1);
    assert_int_equal(t_commit1(v, 90, 96, "m"), 0);
    assert_int_equal(t_gc(v, 95, "", "", 0, &res), 0);
    expect(v, "m", 95, "m2");
    expect(v, "m", 96, "m3");
    assert_int_equal(t_gc(v, 0, "", "", 0, &res), CM_E_INVALID);
    free(big);
}

static void test_gc_pages(void **state)
{
    tenv *v = *state;
    char key[8];
    for (int i = 0; i < 25; i++) {
        snprintf(key, sizeof(key), "g%02d", i);
        commit_put(v, key, "a", 10, 11);
        commit_put(v, key, "b", 20, 21);
    }
    kv_gc_result res;
    char start[16] = "";
    size_t total = 0, calls = 0;
    size_t start_len = 0;
    for (;;) {
        kv_snapshot *s;
        assert_int_equal(kv_engine_snapshot(v->e, &s, NULL), 0);
        kv_gc_req req = {30, cm_slice_make(start, start_len), K(""), 10, 0};
        kv_batch_clear(&v->batch);
        cm_arena_reset(&v->arena);
        assert_int_equal(kv_gc(s, &req, &v->batch, &v->arena, &res, NULL), 0);
        kv_snapshot_release(s);
        assert_int_equal(kv_engine_write(v->e, &v->batch, false, NULL), 0);
        total += res.versions_deleted;
        calls++;
        assert_true(res.keys_scanned <= 10);
        if (!res.more) {
            break;
        }
        memcpy(start, res.resume_key.ptr, res.resume_key.len);
        start_len = res.resume_key.len;
    }
    assert_int_equal(calls, 3);
    assert_int_equal(total, 25);
    for (int i = 0; i < 25; i++) {
        snprintf(key, sizeof(key), "g%02d", i);
        assert_int_equal(count_versions_any(v, key), 1);
        expect(v, key, 30, "b");
    }
}

/* limit_deletes stops a call at the first key boundary after that many deletions, so a
 * proposal stays bounded by deletions and not only by keys. */
static void test_gc_delete_bound(void **state)
{
    tenv *v = *state;
    char key[8];
    for (int i = 0; i < 6; i++) {
        snprintf(key, sizeof(key), "h%02d", i);
        for (uint64_t ts = 10; ts < 50; ts += 10) {
            commit_put(v, key, "x", ts, ts + 1); /* 4 versions: 3 go */
        }
    }
    kv_gc_result res;
    char start[16] = "";
    size_t start_len = 0, total = 0, calls = 0;
    for (;;) {
        kv_snapshot *s;
        assert_int_equal(kv_engine_snapshot(v->e, &s, NULL), 0);
        kv_gc_req req = {100, cm_slice_make(start, start_len), K(""), 0, 5};
        kv_batch_clear(&v->batch);
        cm_arena_reset(&v->arena);
        assert_int_equal(kv_gc(s, &req, &v->batch, &v->arena, &res, NULL), 0);
        kv_snapshot_release(s);
        assert_int_equal(kv_engine_write(v->e, &v->batch, false, NULL), 0);
        /* Two keys (6 deletions) pass the bound of 5; never a third. */
        assert_true(res.versions_deleted <= 6);
        total += res.versions_deleted;
        calls++;
        if (!res.more) {
            break;
        }
        assert_int_equal(res.versions_deleted, 6);
        memcpy(start, res.resume_key.ptr, res.resume_key.len);
        start_len = res.resume_key.len;
    }
    assert_int_equal(calls, 3);
    assert_int_equal(total, 18);
    for (int i = 0; i < 6; i++) {
        snprintf(key, sizeof(key), "h%02d", i);
        assert_int_equal(count_versions_any(v, key), 1);
        expect(v, key, 100, "x");
    }
}

static void test_delete_range(void **state)
{
    tenv *v = *state;
    commit_put(v, "a", "1", 10, 11);
    commit_put(v, "b", "2", 10, 11);
    commit_put(v, "c", "3", 10, 11);
    char *big = long_value('d', 500);
    commit_put(v, "bb", big, 12, 13);
    assert_int_equal(t_put(v, 20, "bc", "bc", "locked"), 0);
    kv_batch b;
    kv_batch_init(&b);
    assert_int_equal(kv_txn_delete_range(K("b"), K("c"), &b, NULL), 0);
    assert_int_equal(kv_engine_write(v->e, &b, false, NULL), 0);
    expect(v, "a", 30, "1");
    expect(v, "b", 30, NULL);
    expect(v, "bb", 30, NULL);
    expect(v, "bc", 30, NULL); /* its lock went too */
    expect(v, "c", 30, "3");
    kv_batch_clear(&b);
    assert_int_equal(kv_txn_delete_range(K("b"), K(""), &b, NULL), 0);
    assert_int_equal(kv_engine_write(v->e, &b, false, NULL), 0);
    expect(v, "c", 30, NULL);
    expect(v, "a", 30, "1");
    kv_batch_clear(&b);
    assert_int_equal(kv_txn_delete_range(K("c"), K("b"), &b, NULL), CM_E_INVALID);
    kv_batch_fini(&b);
    free(big);
}

/* ---- records ------------------------------------------------------------------------------- */

static void test_records(void **state)
{
    (void)state;
    cm_buf b = CM_BUF_INIT;
    kv_lock l = {KV_LOCK_PUT, 12345, 3000, K("primary"), true, K("short"), 0, 0, 7};
    assert_int_equal(kv_lock_encode(&l, &b), 0);
    kv_lock d;
    assert_int_equal(kv_lock_decode(cm_buf_slice(&b), &d, NULL), 0);
    assert_int_equal(d.kind, KV_LOCK_PUT);
    assert_int_equal(d.start_ts, 12345);
    assert_int_equal(d.ttl_ms, 3000);
    assert_true(cm_slice_eq(d.primary, K("primary")));
    assert_true(d.has_short_value);
    assert_true(cm_slice_eq(d.short_value, K("short")));
    assert_int_equal(d.txn_size, 7);
    /* Every truncation is refused, and so is a trailing byte. */
    for (size_t n = 0; n < b.len; n++) {
        assert_int_equal(kv_lock_decode(cm_slice_make(b.ptr, n), &d, NULL), CM_E_CORRUPT);
    }
    assert_int_equal(cm_buf_append_u8(&b, 0), 0);
    assert_int_equal(kv_lock_decode(cm_buf_slice(&b), &d, NULL), CM_E_CORRUPT);
    /* Optional fields round trip. */
    cm_buf_reset(&b);
    kv_lock l2 = {KV_LOCK_DELETE, 9, 0, K("p"), false, K(""), 77, 88, 0};
    assert_int_equal(kv_lock_encode(&l2, &b), 0);
    assert_int_equal(kv_lock_decode(cm_buf_slice(&b), &d, NULL), 0);
    assert_int_equal(d.min_commit_ts, 77);
    assert_int_equal(d.for_update_ts, 88);
    assert_false(d.has_short_value);
    /* Invalid locks are refused by the encoder. */
    kv_lock bad = l;
    bad.kind = KV_LOCK_DELETE; /* a short value on a delete */
    assert_int_equal(kv_lock_encode(&bad, &b), CM_E_INVALID);
    bad = l;
    bad.primary = K("");
    assert_int_equal(kv_lock_encode(&bad, &b), CM_E_INVALID);
    bad = l;
    bad.start_ts = 0;
    assert_int_equal(kv_lock_encode(&bad, &b), CM_E_INVALID);
    /* Hand-made garbage. */
    const uint8_t v2[] = {2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 'p'};
    assert_int_equal(kv_lock_decode(cm_slice_make(v2, sizeof(v2)), &d, NULL), CM_E_CORRUPT);
    const uint8_t kind9[] = {1, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 'p'};
    assert_int_equal(kv_lock_decode(cm_slice_make(kind9, sizeof(kind9)), &d, NULL), CM_E_CORRUPT);
    const uint8_t flag[] = {1, 1, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 'p'};
    assert_int_equal(kv_lock_decode(cm_slice_make(flag, sizeof(flag)), &d, NULL), CM_E_CORRUPT);
    const uint8_t ok[] = {1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 'p'};
    assert_int_equal(kv_lock_decode(cm_slice_make(ok, sizeof(ok)), &d, NULL), 0);
    const uint8_t ts0[] = {1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'p'};
    assert_int_equal(kv_lock_decode(cm_slice_make(ts0, sizeof(ts0)), &d, NULL), CM_E_CORRUPT);
    const uint8_t svdel[] = {1, 2, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 'p', 1, 'x'};
    assert_int_equal(kv_lock_decode(cm_slice_make(svdel, sizeof(svdel)), &d, NULL), CM_E_CORRUPT);

    cm_buf_reset(&b);
    kv_write w = {KV_WRITE_PUT, 555, true, K("val"), true};
    assert_int_equal(kv_write_encode(&w, &b), 0);
    assert_int_equal(b.len, 3 + 8 + 1 + 3);
    kv_write dw;
    assert_int_equal(kv_write_decode(cm_buf_slice(&b), &dw, NULL), 0);
    assert_int_equal(dw.kind, KV_WRITE_PUT);
    assert_int_equal(dw.start_ts, 555);
    assert_true(dw.overlapped_rollback);
    assert_true(cm_slice_eq(dw.short_value, K("val")));
    for (size_t n = 0; n < b.len; n++) {
        assert_int_equal(kv_write_decode(cm_slice_make(b.ptr, n), &dw, NULL), CM_E_CORRUPT);
    }
    kv_write rb = {KV_WRITE_ROLLBACK, 5, false, K(""), true};
    assert_int_equal(kv_write_encode(&rb, &b), CM_E_INVALID);
    const uint8_t rbov[] = {1, 4, 2, 0, 0, 0, 0, 0, 0, 0, 5};
    assert_int_equal(kv_write_decode(cm_slice_make(rbov, sizeof(rbov)), &dw, NULL), CM_E_CORRUPT);
    const uint8_t rbok[] = {1, 4, 0, 0, 0, 0, 0, 0, 0, 0, 5};
    assert_int_equal(kv_write_decode(cm_slice_make(rbok, sizeof(rbok)), &dw, NULL), 0);
    assert_int_equal(dw.kind, KV_WRITE_ROLLBACK);
    cm_buf_fini(&b);

    /* Version keys of one user key sort newest first, after the user key's lock-CF key. */
    cm_buf k1 = CM_BUF_INIT, k2 = CM_BUF_INIT, kl = CM_BUF_INIT;
    assert_int_equal(kv_mvcc_key_ts(&k1, K("key"), 100), 0);
    assert_int_equal(kv_mvcc_key_ts(&k2, K("key"), 200), 0);
    assert_int_equal(kv_mvcc_key_lock(&kl, K("key")), 0);
    assert_true(cm_slice_cmp(cm_buf_slice(&k2), cm_buf_slice(&k1)) < 0);
    assert_true(cm_slice_cmp(cm_buf_slice(&kl), cm_buf_slice(&k2)) < 0);
    cm_buf_fini(&k1);
    cm_buf_fini(&k2);
    cm_buf_fini(&kl);
}

/* A corrupt record in storage is an error, never a crash. */
static void test_corrupt_storage(void **state)
{
    tenv *v = *state;
    commit_put(v, "k", "v", 10, 20);
    kv_batch b;
    kv_batch_init(&b);
    cm_buf key = CM_BUF_INIT;
    assert_int_equal(kv_mvcc_key_lock(&key, K("k")), 0);
    assert_int_equal(kv_batch_put(&b, KV_CF_LOCK, cm_buf_slice(&key), K("garbage")), 0);
    assert_int_equal(kv_engine_write(v->e, &b, false, NULL), 0);
    const char *got;
    assert_int_equal(t_get(v, "k", 30, &got, NULL), CM_E_CORRUPT);
    assert_int_equal(t_put(v, 40, "k", "k", "x"), CM_E_CORRUPT);
    kv_batch_clear(&b);
    assert_int_equal(kv_batch_delete(&b, KV_CF_LOCK, cm_buf_slice(&key)), 0);
    cm_buf_reset(&key);
    assert_int_equal(kv_mvcc_key_ts(&key, K("k"), 30), 0);
    assert_int_equal(kv_batch_put(&b, KV_CF_WRITE, cm_buf_slice(&key), K("\x01\x09")), 0);
    assert_int_equal(kv_engine_write(v->e, &b, false, NULL), 0);
    assert_int_equal(t_get(v, "k", 35, &got, NULL), CM_E_CORRUPT);
    expect(v, "k", 25, "v"); /* the bad record is above 25 */
    /* A Put whose long value is missing. */
    kv_batch_clear(&b);
    cm_buf val = CM_BUF_INIT;
    kv_write w = {KV_WRITE_PUT, 50, false, K(""), false};
    assert_int_equal(kv_write_encode(&w, &val), 0);
    cm_buf_reset(&key);
    assert_int_equal(kv_mvcc_key_ts(&key, K("m"), 60), 0);
    assert_int_equal(kv_batch_put(&b, KV_CF_WRITE, cm_buf_slice(&key), cm_buf_slice(&val)), 0);
    assert_int_equal(kv_engine_write(v->e, &b, false, NULL), 0);
    assert_int_equal(t_get(v, "m", 70, &got, NULL), CM_E_CORRUPT);
    kv_read_result r;
    kv_scan_req all = {K(""), K(""), 70, 0, false, false};
    assert_int_equal(t_scan(v, &all, &r), CM_E_CORRUPT);
    cm_buf_fini(&val);
    cm_buf_fini(&key);
    kv_batch_fini(&b);
}

/* Forward scans walk a key's versions with next() and seek past keys with many versions
 * (kv_mvcc.c SCAN_NEXT_STEPS_MAX): keys with 0..20 versions mixing puts, deletes and rollbacks
 * read at every timestamp give what a point get gives. */
static void test_scan_many_versions(void **state)
{
    tenv *v = *state;
    char key[8], val[16];
    uint64_t ts = 10;
    for (int k = 0; k < 6; k++) {
        snprintf(key, sizeof key, "v%d", k);
        for (int i = 0; i < k * 4; i++, ts += 10) {
            if (i % 5 == 3) {
                kv_mutation del = {KV_MUT_DELETE, K(key), K("")};
                assert_int_equal(t_prewrite(v, ts, key, 3000, &del, 1), 0);
                assert_int_equal(t_commit1(v, ts, ts + 5, key), 0);
            } else if (i % 5 == 4) {
                snprintf(val, sizeof val, "r%d", i);
                assert_int_equal(t_put(v, ts, key, key, val), 0);
                assert_int_equal(t_rollback1(v, ts, key), 0);
            } else {
                snprintf(val, sizeof val, "%d.%d", k, i);
                assert_int_equal(t_put(v, ts, key, key, val), 0);
                assert_int_equal(t_commit1(v, ts, ts + 5, key), 0);
            }
        }
    }
    for (uint64_t rts = 1; rts <= ts + 10; rts += 3) {
        size_t at = 0;
        char got[6][16];
        bool have[6];
        for (int k = 0; k < 6; k++) {
            snprintf(key, sizeof key, "v%d", k);
            const char *g = NULL;
            int rc = t_get(v, key, rts, &g, NULL);
            assert_true(rc == 0 || rc == CM_E_NOT_FOUND);
            have[k] = rc == 0;
            if (have[k]) {
                snprintf(got[k], sizeof got[k], "%s", g);
            }
        }
        /* after the gets: every command resets the arena the results live in */
        kv_read_result r;
        kv_scan_req all = {K("v"), K("w"), rts, 0, false, false};
        assert_int_equal(t_scan(v, &all, &r), 0);
        for (int k = 0; k < 6; k++) {
            if (!have[k]) {
                continue;
            }
            snprintf(key, sizeof key, "v%d", k);
            assert_true(at < r.npairs);
            assert_int_equal(r.pairs[at].key.len, strlen(key));
            assert_memory_equal(r.pairs[at].key.ptr, key, strlen(key));
            assert_int_equal(r.pairs[at].value.len, strlen(got[k]));
            assert_memory_equal(r.pairs[at].value.ptr, got[k], strlen(got[k]));
            at++;
        }
        assert_int_equal(at, r.npairs);
    }
}

/* The number in a key "p%04d" (-1 for anything else). */
static int key_number(cm_slice k)
{
    if (k.len != 5 || k.ptr[0] != 'p') {
        return -1;
    }
    int n = 0;
    for (size_t i = 1; i < 5; i++) {
        n = n * 10 + (k.ptr[i] - '0');
    }
    return n;
}

/* Pages of a forward scan over keys some of which are locked (more than one page's worth of
 * locks, KV_TXN_LOCKS_MAX): every unlocked key is returned once and in order, every lock that
 * blocks the read is reported once, whatever the page size. */
static void test_scan_locked_pages(void **state)
{
    tenv *v = *state;
    char key[16];
    enum { NKEYS = 700 };
    for (int i = 0; i < NKEYS; i++) {
        snprintf(key, sizeof key, "p%04d", i);
        assert_int_equal(t_put(v, 10 + 2 * (uint64_t)i, key, key, "v"), 0);
        if (i % 3 != 0) {
            assert_int_equal(t_commit1(v, 10 + 2 * (uint64_t)i, 11 + 2 * (uint64_t)i, key), 0);
        }
    }
    for (size_t lim = 1; lim <= 1000; lim = lim * 7 + 3) {
        char start[16] = "p";
        size_t start_len = 1;
        size_t pairs = 0, locks = 0;
        int last_pair = -1, last_lock = -1;
        for (int pages = 0; pages < 2000; pages++) {
            kv_read_result r;
            kv_scan_req req = {cm_slice_make(start, start_len), K("q"), 5000, lim, false, false};
            int rc = t_scan(v, &req, &r);
            assert_true(rc == 0 || rc == CM_E_KEY_IS_LOCKED);
            assert_true(r.npairs <= lim);
            for (size_t i = 0; i < r.npairs; i++) {
                int n = key_number(r.pairs[i].key);
                assert_true(n > last_pair && n % 3 != 0);
                last_pair = n;
                pairs++;
            }
            for (size_t i = 0; i < r.nlocks; i++) {
                int n = key_number(r.locks[i].key);
                assert_true(n > last_lock && n % 3 == 0);
                last_lock = n;
                locks++;
            }
            if (!r.more) {
                break;
            }
            assert_true(r.resume_key.len < sizeof start);
            memcpy(start, r.resume_key.ptr, r.resume_key.len);
            start_len = r.resume_key.len;
        }
        assert_int_equal(pairs, NKEYS - (NKEYS + 2) / 3);
        assert_int_equal(locks, (NKEYS + 2) / 3);
    }
}

#define BOTH(t)                                                                                    \
    {#t "(memory)", t, setup_mem, teardown, NULL},                                                 \
    {                                                                                              \
#t "(rocksdb)", t, setup_rocks, teardown, NULL                                             \
    }

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_snapshot_reads),
        BOTH(test_locked_reads),
        BOTH(test_scan),
        BOTH(test_scan_many_versions),
        BOTH(test_scan_locked_pages),
        BOTH(test_write_conflict),
        BOTH(test_rollback_protection),
        BOTH(test_commit_rules),
        BOTH(test_overlapped_rollback),
        BOTH(test_check_txn_status),
        BOTH(test_resolve_lock),
        BOTH(test_gc_retention),
        BOTH(test_gc_pages),
        BOTH(test_gc_delete_bound),
        BOTH(test_delete_range),
        BOTH(test_corrupt_storage),
        cmocka_unit_test(test_records),
    };
    if (getenv("KV_TEST_FILTER")) {
        cmocka_set_test_filter(getenv("KV_TEST_FILTER"));
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
