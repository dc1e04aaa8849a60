/*
 * test_engine.c — the engine conformance suite, written once and run against both engines
 * (memory and RocksDB), plus a randomized differential test (random batches and iterator walks
 * compared between the two engines and a simple reference model), crash tests and the write
 * batch's wire form.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "kv_batch.h"
#include "kv_engine.h"
#include "kv_memengine.h"
#include "kv_rocks.h"

#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------------------------ */

static cm_slice S(const char *s)
{
    return cm_slice_cstr(s);
}

static uint64_t rng_next(uint64_t *s)
{
    /* splitmix64: deterministic from the seed */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint32_t rng_below(uint64_t *s, uint32_t n)
{
    return (uint32_t)(rng_next(s) % n);
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

typedef struct fixture {
    int rocks; /* 0: memory, 1: RocksDB */
    kv_engine *e;
    char dir[64];
} fixture;

static kv_engine *open_engine(fixture *f)
{
    kv_engine *e = NULL;
    cm_err err;
    if (f->rocks) {
        kv_rocks_opts o = {f->dir, 1 << 20, 0, true};
        assert_int_equal(kv_rocks_open(&o, &e, &err), 0);
    } else {
        assert_int_equal(kv_memengine_open(&e, &err), 0);
    }
    return e;
}

static int setup_engine(void **state, int rocks)
{
    fixture *f = calloc(1, sizeof(*f));
    f->rocks = rocks;
    if (rocks) {
        snprintf(f->dir, sizeof(f->dir), "/tmp/tessera-kvengine-XXXXXX");
        if (mkdtemp(f->dir) == NULL) {
            free(f);
            return -1;
        }
    }
    f->e = open_engine(f);
    *state = f;
    return 0;
}

static int setup_mem(void **state)
{
    return setup_engine(state, 0);
}

static int setup_rocks(void **state)
{
    return setup_engine(state, 1);
}

static int teardown_engine(void **state)
{
    fixture *f = *state;
    kv_engine_close(f->e);
    if (f->rocks) {
        nftw(f->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    }
    free(f);
    return 0;
}

static void write1(kv_engine *e, kv_batch *b, bool sync)
{
    cm_err err;
    assert_int_equal(kv_engine_write(e, b, sync, &err), 0);
    kv_batch_clear(b);
}

static void expect_get(kv_engine *e, kv_cf cf, const char *k, const char *v)
{
    cm_buf out = CM_BUF_INIT;
    cm_err err;
    int rc = kv_engine_get(e, cf, S(k), &out, &err);
    if (v == NULL) {
        assert_int_equal(rc, CM_E_NOT_FOUND);
    } else {
        assert_int_equal(rc, 0);
        assert_int_equal(out.len, strlen(v));
        assert_memory_equal(out.ptr, v, out.len);
    }
    cm_buf_fini(&out);
}

static void expect_snap_get(kv_snapshot *s, kv_cf cf, const char *k, const char *v)
{
    cm_buf out = CM_BUF_INIT;
    cm_err err;
    int rc = kv_snapshot_get(s, cf, S(k), &out, &err);
    if (v == NULL) {
        assert_int_equal(rc, CM_E_NOT_FOUND);
    } else {
        assert_int_equal(rc, 0);
        assert_int_equal(out.len, strlen(v));
        assert_memory_equal(out.ptr, v, out.len);
    }
    cm_buf_fini(&out);
}

static void expect_at(kv_iter *it, const char *k, const char *v)
{
    if (k == NULL) {
        assert_false(kv_iter_valid(it));
        return;
    }
    assert_true(kv_iter_valid(it));
    cm_slice key = kv_iter_key(it);
    assert_int_equal(key.len, strlen(k));
    assert_memory_equal(key.ptr, k, key.len);
    if (v != NULL) {
        cm_slice val = kv_iter_value(it);
        assert_int_equal(val.len, strlen(v));
        assert_memory_equal(val.ptr, v, val.len);
    }
}

/* ---- conformance: basic operations --------------------------------------------------------- */

static void t_put_get_delete(void **state)
{
    fixture *f = *state;
    kv_batch b;
    kv_batch_init(&b);
    assert_int_equal(kv_batch_put(&b, KV_CF_DEFAULT, S("k1"), S("v1")), 0);
    assert_int_equal(kv_batch_put(&b, KV_CF_LOCK, S("k1"), S("lock")), 0);
    assert_int_equal(kv_batch_put(&b, KV_CF_WRITE, S("k2"), S("w")), 0);
    assert_int_equal(kv_batch_put(&b, KV_CF_RAFT, S(""), S("empty key")), 0);
    assert_int_equal(kv_batch_put(&b, KV_CF_DEFAULT, S("k3"), S("")), 0);
    write1(f->e, &b, false);
    expect_get(f->e, KV_CF_DEFAULT, "k1", "v1");
    expect_get(f->e, KV_CF_LOCK, "k1", "lock");
    expect_get(f->e, KV_CF_WRITE, "k1", NULL); /* column families are separate */
    expect_get(f->e, KV_CF_WRITE, "k2", "w");
    expect_get(f->e, KV_CF_RAFT, "", "empty key");
    expect_get(f->e, KV_CF_DEFAULT, "k3", ""); /* an empty value is a value */
    expect_get(f->e, KV_CF_DEFAULT, "k", NULL);

    /* Later operations of a batch win; a delete of a missing key is fine. */
    assert_int_equal(kv_batch_put(&b, KV_CF_DEFAULT, S("k1"), S("v2")), 0);
    assert_int_equal(kv_batch_delete(&b, KV_CF_LOCK, S("k1")), 0);
    assert_int_equal(kv_batch_delete(&b, KV_CF_LOCK, S("nope")), 0);
    assert_int_equal(kv_batch_put(&b, KV_CF_WRITE, S("k2"), S("w2")), 0);
    assert_int_equal(kv_batch_delete(&b, KV_CF_WRITE, S("k2")), 0);
    assert_int_equal(kv_batch_put(&b, KV_CF_WRITE, S("k9"), S("x")), 0);
    assert_int_equal(kv_batch_delete(&b, KV_CF_WRITE, S("k9")), 0);
    assert_int_equal(kv_batch_put(&b, KV_CF_WRITE, S("k9"), S("y")), 0);
    write1(f->e, &b, true);
    expect_get(f->e, KV_CF_DEFAULT, "k1", "v2");
    expect_get(f->e, KV_CF_LOCK, "k1", NULL);
    expect_get(f->e, KV_CF_WRITE, "k2", NULL);
    expect_get(f->e, KV_CF_WRITE, "k9", "y");

    /* An empty batch is fine, synced or not. */
    write1(f->e, &b, false);
    write1(f->e, &b, true);
    cm_err err;
    cm_buf out = CM_BUF_INIT;
    assert_int_equal(kv_engine_get(f->e, (kv_cf)7, S("k1"), &out, &err), CM_E_INVALID);
    cm_buf_fini(&out);
    kv_batch_fini(&b);
}

static void t_big_values(void **state)
{
    fixture *f = *state;
    size_t n = 3u << 20;
    char *big = malloc(n);
    for (size_t i = 0; i < n; i++) {
        big[i] = (char)(i * 7 + 3);
    }
    kv_batch b;
    kv_batch_init(&b);
    assert_int_equal(kv_batch_put(&b, KV_CF_DEFAULT, S("big"), cm_slice_make(big, n)), 0);
    write1(f->e, &b, false);
    cm_buf out = CM_BUF_INIT;
    cm_err err;
    assert_int_equal(kv_engine_get(f->e, KV_CF_DEFAULT, S("big"), &out, &err), 0);
    assert_int_equal(out.len, n);
    assert_memory_equal(out.ptr, big, n);
    cm_buf_fini(&out);
    kv_batch_fini(&b);
    free(big);
}

static void t_delete_range(void **state)
{
    fixture *f = *state;
    kv_batch b;
    kv_batch_init(&b);
    const char *keys[] = {"a", "b", "b\x00", "ba", "bb", "c", "d"};
    for (size_t i = 0; i < 7; i++) {
        cm_slice k = cm_slice_make(keys[i], i == 2 ? 2 : strlen(keys[i]));
        assert_int_equal(kv_batch_put(&b, KV_CF_WRITE, k, S("v")), 0);
        assert_int_equal(kv_batch_put(&b, KV_CF_LOCK, k, S("v")), 0);
    }
    write1(f->e, &b, false);
    /* [b, c) in write only; the same batch then puts one key back inside the range. */
    assert_int_equal(kv_batch_delete_range(&b, KV_CF_WRITE, S("b"), S("c")), 0);
    assert_int_equal(kv_batch_put(&b, KV_CF_WRITE, S("bb"), S("again")), 0);
    write1(f->e, &b, false);
    expect_get(f->e, KV_CF_WRITE, "a", "v");
    expect_get(f->e, KV_CF_WRITE, "b", NULL);
    expect_get(f->e, KV_CF_WRITE, "ba", NULL);
    expect_get(f->e, KV_CF_WRITE, "bb", "again");
    expect_get(f->e, KV_CF_WRITE, "c", "v");
    expect_get(f->e, KV_CF_LOCK, "ba", "v");
    kv_snapshot *s;
    cm_err err;
    assert_int_equal(kv_engine_snapshot(f->e, &s, &err), 0);
    kv_iter *it;
    assert_int_equal(kv_iter_new(s, KV_CF_WRITE, NULL, &it, &err), 0);
    kv_iter_seek_to_first(it);
    expect_at(it, "a", "v");
    kv_iter_next(it);
    expect_at(it, "bb", "again");
    kv_iter_next(it);
    expect_at(it, "c", "v");
    kv_iter_free(it);
    kv_snapshot_release(s);
    /* start >= end is refused when building the batch. */
    assert_int_equal(kv_batch_delete_range(&b, KV_CF_WRITE, S("c"), S("c")), CM_E_INVALID);
    assert_int_equal(kv_batch_delete_range(&b, KV_CF_WRITE, S("d"), S("c")), CM_E_INVALID);
    assert_int_equal(kv_batch_count(&b), 0);
    /* Everything from the empty key on. */
    assert_int_equal(kv_batch_delete_range(&b, KV_CF_LOCK, S(""), S("\xff\xff")), 0);
    write1(f->e, &b, false);
    expect_get(f->e, KV_CF_LOCK, "a", NULL);
    expect_get(f->e, KV_CF_LOCK, "d", NULL);
    kv_batch_fini(&b);
}

static void t_snapshot_isolation(void **state)
{
    fixture *f = *state;
    kv_batch b;
    kv_batch_init(&b);
    assert_int_equal(kv_batch_put(&b, KV_CF_DEFAULT, S("x"), S("1")), 0);
    assert_int_equal(kv_batch_put(&b, KV_CF_WRITE, S("y"), S("1")), 0);
    write1(f->e, &b, false);
    kv_snapshot *s1;
    cm_err err;
    assert_int_equal(kv_engine_snapshot(f->e, &s1, &err), 0);
    assert_int_equal(kv_batch_put(&b, KV_CF_DEFAULT, S("x"), S("2")), 0);
    assert_int_equal(kv_batch_delete(&b, KV_CF_WRITE, S("y")), 0);
    assert_int_equal(kv_batch_put(&b, KV_CF_WRITE, S("z"), S("2")), 0);
    write1(f->e, &b, true);
    kv_snapshot *s2;
    assert_int_equal(kv_engine_snapshot(f->e, &s2, &err), 0);
    assert_int_equal(kv_batch_delete_range(&b, KV_CF_WRITE, S("a"), S("zz")), 0);
    write1(f->e, &b, false);

    expect_snap_get(s1, KV_CF_DEFAULT, "x", "1");
    expect_snap_get(s1, KV_CF_WRITE, "y", "1");
    expect_snap_get(s1, KV_CF_WRITE, "z", NULL);
    expect_snap_get(s2, KV_CF_DEFAULT, "x", "2");
    expect_snap_get(s2, KV_CF_WRITE, "y", NULL);
    expect_snap_get(s2, KV_CF_WRITE, "z", "2");
    expect_get(f->e, KV_CF_WRITE, "z", NULL);

    kv_iter *it;
    assert_int_equal(kv_iter_new(s1, KV_CF_WRITE, NULL, &it, &err), 0);
    kv_iter_seek_to_first(it);
    expect_at(it, "y", "1");
    kv_iter_next(it);
    expect_at(it, NULL, NULL);
    kv_iter_free(it);
    assert_int_equal(kv_iter_new(s2, KV_CF_WRITE, NULL, &it, &err), 0);
    kv_iter_seek_to_last(it);
    expect_at(it, "z", "2");
    kv_iter_prev(it);
    expect_at(it, NULL, NULL);
    kv_iter_free(it);
    kv_snapshot_release(s2);
    kv_snapshot_release(s1);
    kv_batch_fini(&b);
}

static void t_iterator_bounds(void **state)
{
    fixture *f = *state;
    kv_batch b;
    kv_batch_init(&b);
    const char *keys[] = {"a", "ab", "b", "ba", "c", "d"};
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(kv_batch_put(&b, KV_CF_RAFT, S(keys[i]), S(keys[i])), 0);
    }
    assert_int_equal(kv_batch_put(&b, KV_CF_WRITE, S("zz"), S("other cf")), 0);
    write1(f->e, &b, false);
    kv_snapshot *s;
    cm_err err;
    assert_int_equal(kv_engine_snapshot(f->e, &s, &err), 0);
    kv_iter *it;
    /* Unbounded. */
    assert_int_equal(kv_iter_new(s, KV_CF_RAFT, NULL, &it, &err), 0);
    expect_at(it, NULL, NULL); /* not valid before a seek */
    kv_iter_seek(it, S("aa"));
    expect_at(it, "ab", "ab");
    kv_iter_seek(it, S("ab"));
    expect_at(it, "ab", "ab");
    kv_iter_seek(it, S("e"));
    expect_at(it, NULL, NULL);
    kv_iter_seek_for_prev(it, S("bb"));
    expect_at(it, "ba", "ba");
    kv_iter_seek_for_prev(it, S("b"));
    expect_at(it, "b", "b");
    kv_iter_seek_for_prev(it, S("0"));
    expect_at(it, NULL, NULL);
    kv_iter_seek_to_last(it);
    expect_at(it, "d", "d");
    kv_iter_seek_to_first(it);
    expect_at(it, "a", "a");
    kv_iter_prev(it);
    expect_at(it, NULL, NULL);
    kv_iter_seek(it, S("c"));
    kv_iter_prev(it);
    expect_at(it, "ba", "ba");
    kv_iter_next(it);
    expect_at(it, "c", "c");
    assert_int_equal(kv_iter_status(it, &err), 0);
    kv_iter_free(it);

    /* [ab, c) */
    kv_iter_opts o = {S("ab"), S("c")};
    assert_int_equal(kv_iter_new(s, KV_CF_RAFT, &o, &it, &err), 0);
    kv_iter_seek_to_first(it);
    expect_at(it, "ab", "ab");
    kv_iter_prev(it);
    expect_at(it, NULL, NULL);
    kv_iter_seek(it, S("")); /* below lower: lands on lower */
    expect_at(it, "ab", "ab");
    kv_iter_seek(it, S("bb"));
    expect_at(it, NULL, NULL); /* c is outside */
    kv_iter_seek_to_last(it);
    expect_at(it, "ba", "ba");
    kv_iter_next(it);
    expect_at(it, NULL, NULL);
    kv_iter_seek_for_prev(it, S("zzz")); /* above upper: lands below upper */
    expect_at(it, "ba", "ba");
    kv_iter_seek_for_prev(it, S("c"));
    expect_at(it, "ba", "ba");
    kv_iter_seek_for_prev(it, S("aa")); /* below lower */
    expect_at(it, NULL, NULL);
    kv_iter_free(it);

    /* Lower bound only, upper bound only, an empty range. */
    kv_iter_opts lo = {S("c"), S("")};
    assert_int_equal(kv_iter_new(s, KV_CF_RAFT, &lo, &it, &err), 0);
    kv_iter_seek_to_last(it);
    expect_at(it, "d", "d");
    kv_iter_prev(it);
    expect_at(it, "c", "c");
    kv_iter_prev(it);
    expect_at(it, NULL, NULL);
    kv_iter_free(it);
    kv_iter_opts hi = {S(""), S("ab")};
    assert_int_equal(kv_iter_new(s, KV_CF_RAFT, &hi, &it, &err), 0);
    kv_iter_seek_to_last(it);
    expect_at(it, "a", "a");
    kv_iter_seek(it, S("ab"));
    expect_at(it, NULL, NULL);
    kv_iter_free(it);
    kv_iter_opts none = {S("bb"), S("bc")};
    assert_int_equal(kv_iter_new(s, KV_CF_RAFT, &none, &it, &err), 0);
    kv_iter_seek_to_first(it);
    expect_at(it, NULL, NULL);
    kv_iter_seek_to_last(it);
    expect_at(it, NULL, NULL);
    kv_iter_free(it);
    kv_snapshot_release(s);
    kv_batch_fini(&b);
}

static void t_approx_range(void **state)
{
    fixture *f = *state;
    kv_batch b;
    kv_batch_init(&b);
    char key[32], val[100];
    memset(val, 'v', sizeof(val));
    for (int i = 0; i < 2000; i++) {
        snprintf(key, sizeof(key), "%c%06d", i < 1000 ? 'a' : 'b', i);
        assert_int_equal(kv_batch_put(&b, KV_CF_WRITE, S(key), cm_slice_make(val, 100)), 0);
        if (kv_batch_count(&b) == 200) {
            write1(f->e, &b, false);
        }
    }
    assert_int_equal(kv_batch_put(&b, KV_CF_LOCK, S("a0"), S("x")), 0);
    write1(f->e, &b, false);
    kv_range_stats st;
    cm_err err;
    /* Exact while the data is in memory (the memory engine, RocksDB's memtables). */
    assert_int_equal(kv_engine_approx_range(f->e, KV_CF_WRITE, S("a"), S("b"), &st, &err), 0);
    assert_int_equal(st.keys, 1000);
    assert_int_equal(st.bytes, 1000 * (7 + 100));
    assert_int_equal(kv_engine_approx_range(f->e, KV_CF_WRITE, S("b"), S(""), &st, &err), 0);
    assert_int_equal(st.keys, 1000);
    assert_int_equal(kv_engine_approx_range(f->e, KV_CF_WRITE, S(""), S(""), &st, &err), 0);
    assert_int_equal(st.keys, 2000);
    assert_int_equal(kv_engine_approx_range(f->e, KV_CF_WRITE, S("c"), S("d"), &st, &err), 0);
    assert_int_equal(st.keys, 0);
    assert_int_equal(kv_engine_approx_range(f->e, KV_CF_WRITE, S("b"), S("a"), &st, &err), 0);
    assert_int_equal(st.keys, 0);
    assert_int_equal(kv_engine_approx_range(f->e, KV_CF_LOCK, S(""), S(""), &st, &err), 0);
    assert_int_equal(st.keys, 1);

    /* After a compaction RocksDB answers from its file index: the right order of magnitude. */
    assert_int_equal(kv_engine_compact_range(f->e, KV_CF_WRITE, S(""), S(""), &err), 0);
    assert_int_equal(kv_engine_approx_range(f->e, KV_CF_WRITE, S("a"), S("b"), &st, &err), 0);
    if (f->rocks) {
        print_message("# rocksdb estimate of 1000 keys / 107000 bytes: %llu keys, %llu bytes\n",
                      (unsigned long long)st.keys, (unsigned long long)st.bytes);
        assert_in_range(st.keys, 250, 4000);
        assert_in_range(st.bytes, 107000 / 20, 107000 * 4);
    } else {
        assert_int_equal(st.keys, 1000);
    }
    assert_int_equal(kv_engine_approx_range(f->e, KV_CF_WRITE, S(""), S(""), &st, &err), 0);
    assert_in_range(st.keys, 500, 8000);
    assert_int_equal(kv_engine_approx_range(f->e, KV_CF_WRITE, S("x"), S(""), &st, &err), 0);
    assert_int_equal(st.keys, 0);
    /* Deleting a range drops it from the estimate once compacted (memory: at once). */
    assert_int_equal(kv_batch_delete_range(&b, KV_CF_WRITE, S("a"), S("b")), 0);
    write1(f->e, &b, false);
    assert_int_equal(kv_engine_compact_range(f->e, KV_CF_WRITE, S(""), S(""), &err), 0);
    assert_int_equal(kv_engine_approx_range(f->e, KV_CF_WRITE, S("a"), S("b"), &st, &err), 0);
    assert_true(st.keys < 100);
    kv_batch_fini(&b);
}

static void t_stats(void **state)
{
    fixture *f = *state;
    kv_batch b;
    kv_batch_init(&b);
    kv_engine_stats st;
    cm_err err;
    kv_engine_stats_get(f->e, &st);
    assert_int_equal(st.writes, 0);
    assert_int_equal(kv_batch_put(&b, KV_CF_DEFAULT, S("a"), S("1")), 0);
    write1(f->e, &b, false);
    kv_engine_stats_get(f->e, &st);
    assert_int_equal(st.write_seq, 1);
    assert_int_equal(st.durable_seq, 0);
    assert_int_equal(kv_batch_put(&b, KV_CF_DEFAULT, S("a"), S("2")), 0);
    write1(f->e, &b, true);
    kv_engine_stats_get(f->e, &st);
    assert_int_equal(st.write_seq, 2);
    assert_int_equal(st.durable_seq, 2);
    assert_int_equal(st.syncs, 1);
    assert_int_equal(kv_batch_put(&b, KV_CF_DEFAULT, S("a"), S("3")), 0);
    write1(f->e, &b, false);
    assert_int_equal(kv_engine_sync(f->e, &err), 0);
    kv_engine_stats_get(f->e, &st);
    assert_int_equal(st.durable_seq, 3);
    assert_int_equal(st.syncs, 2);
    assert_int_equal(st.writes, 3);
    assert_string_equal(kv_engine_name(f->e), f->rocks ? "rocksdb" : "memory");
    kv_batch_fini(&b);
}

/* ---- crash ---------------------------------------------------------------------------------- */

static void t_crash_keeps_durable(void **state)
{
    fixture *f = *state;
    kv_batch b;
    kv_batch_init(&b);
    cm_err err;
    assert_int_equal(kv_batch_put(&b, KV_CF_RAFT, S("hs"), S("term1")), 0);
    assert_int_equal(kv_batch_put(&b, KV_CF_WRITE, S("w"), S("1")), 0);
    write1(f->e, &b, true);
    assert_int_equal(kv_batch_put(&b, KV_CF_RAFT, S("e1"), S("entry1")), 0);
    write1(f->e, &b, false);
    assert_int_equal(kv_batch_put(&b, KV_CF_RAFT, S("e2"), S("entry2")), 0);
    write1(f->e, &b, false);
    /* A later sync write makes the earlier unsynced ones durable too. */
    assert_int_equal(kv_batch_put(&b, KV_CF_RAFT, S("e3"), S("entry3")), 0);
    write1(f->e, &b, true);
    assert_int_equal(kv_batch_put(&b, KV_CF_RAFT, S("e4"), S("entry4")), 0);
    write1(f->e, &b, false);
    assert_int_equal(kv_engine_sync(f->e, &err), 0); /* explicit sync */
    assert_int_equal(kv_batch_put(&b, KV_CF_RAFT, S("e5"), S("entry5")), 0);
    assert_int_equal(kv_batch_delete(&b, KV_CF_WRITE, S("w")), 0);
    write1(f->e, &b, false);                      /* not durable */
    expect_get(f->e, KV_CF_RAFT, "e5", "entry5"); /* but visible */
    assert_int_equal(kv_engine_crash(f->e, &err), 0);
    expect_get(f->e, KV_CF_RAFT, "hs", "term1");
    expect_get(f->e, KV_CF_RAFT, "e1", "entry1");
    expect_get(f->e, KV_CF_RAFT, "e2", "entry2");
    expect_get(f->e, KV_CF_RAFT, "e3", "entry3");
    expect_get(f->e, KV_CF_RAFT, "e4", "entry4");
    cm_buf out = CM_BUF_INIT;
    int e5 = kv_engine_get(f->e, KV_CF_RAFT, S("e5"), &out, &err);
    int w = kv_engine_get(f->e, KV_CF_WRITE, S("w"), &out, &err);
    cm_buf_fini(&out);
    /* The last batch is whole or absent; the memory engine always loses it. */
    assert_true((e5 == 0 && w == CM_E_NOT_FOUND) || (e5 == CM_E_NOT_FOUND && w == 0));
    if (!f->rocks) {
        assert_int_equal(e5, CM_E_NOT_FOUND);
    }
    kv_engine_stats st;
    kv_engine_stats_get(f->e, &st);
    assert_int_equal(st.crashes, 1);
    /* The engine keeps working after the crash. */
    assert_int_equal(kv_batch_put(&b, KV_CF_RAFT, S("e6"), S("entry6")), 0);
    write1(f->e, &b, true);
    assert_int_equal(kv_engine_crash(f->e, &err), 0);
    expect_get(f->e, KV_CF_RAFT, "e6", "entry6");
    kv_batch_fini(&b);
}

static void t_reopen(void **state)
{
    fixture *f = *state; /* RocksDB only: a memory engine has nothing to reopen */
    kv_batch b;
    kv_batch_init(&b);
    for (int cf = 0; cf < KV_CF_COUNT; cf++) {
        assert_int_equal(kv_batch_put(&b, (kv_cf)cf, S("k"), S(kv_cf_name((kv_cf)cf))), 0);
    }
    write1(f->e, &b, true);
    kv_engine_close(f->e);
    f->e = open_engine(f);
    for (int cf = 0; cf < KV_CF_COUNT; cf++) {
        expect_get(f->e, (kv_cf)cf, "k", kv_cf_name((kv_cf)cf));
    }
    /* Opening a missing database without create_if_missing fails with a message. */
    kv_rocks_opts o = {"/tmp/tessera-kvengine-does-not-exist/db", 0, 0, false};
    kv_engine *e2 = NULL;
    cm_err err;
    assert_int_equal(kv_rocks_open(&o, &e2, &err), CM_E_IO);
    assert_null(e2);
    assert_true(strlen(err.msg) > 0);
    kv_rocks_opts none = {NULL, 0, 0, true};
    assert_int_equal(kv_rocks_open(&none, &e2, &err), CM_E_INVALID);
    kv_batch_fini(&b);
}

/* ---- threads: atomic batches under concurrent snapshot readers ---------------------------- */

typedef struct thr_ctx {
    kv_engine *e;
    volatile int stop;
    int bad;
    int reads;
    int started;
} thr_ctx;

static void *reader_main(void *arg)
{
    thr_ctx *c = arg;
    cm_buf a = CM_BUF_INIT, d = CM_BUF_INIT;
    __atomic_add_fetch(&c->started, 1, __ATOMIC_ACQ_REL);
    for (int i = 0; i < 100000 && !__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE); i++) {
        kv_snapshot *s;
        if (kv_engine_snapshot(c->e, &s, NULL) != 0) {
            c->bad++;
            break;
        }
        /* Every batch writes the same counter into two keys of two column families and one
         * range of the raft CF; a snapshot must see them equal. */
        int ra = kv_snapshot_get(s, KV_CF_WRITE, S("ctr-a"), &a, NULL);
        int rd = kv_snapshot_get(s, KV_CF_DEFAULT, S("ctr-d"), &d, NULL);
        if (ra != rd || (ra == 0 && !cm_slice_eq(cm_buf_slice(&a), cm_buf_slice(&d)))) {
            c->bad++;
        }
        kv_iter *it;
        if (kv_iter_new(s, KV_CF_RAFT, NULL, &it, NULL) == 0) {
            int n = 0;
            for (kv_iter_seek_to_first(it); kv_iter_valid(it); kv_iter_next(it)) {
                if (ra == 0 && !cm_slice_eq(kv_iter_value(it), cm_buf_slice(&a))) {
                    c->bad++;
                }
                n++;
            }
            if (n != 0 && n != 8) {
                c->bad++;
            }
            kv_iter_free(it);
        }
        kv_snapshot_release(s);
        __atomic_add_fetch(&c->reads, 1, __ATOMIC_ACQ_REL);
    }
    cm_buf_fini(&a);
    cm_buf_fini(&d);
    return NULL;
}

static void t_concurrent_readers(void **state)
{
    fixture *f = *state;
    thr_ctx c = {f->e, 0, 0, 0, 0};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_create(&th[i], NULL, reader_main, &c), 0);
    }
    /* The writer starts once both readers run: every batch adds a range tombstone, and RocksDB
     * fragments the memtable's tombstones per iterator, so a writer that ran ahead of starved
     * readers would make each of their reads slower and slower (the CI run that aborted after
     * 45 s). Nothing in the loop may leave the test early while the readers hold the engine. */
    for (int w = 0; w < 10000 && __atomic_load_n(&c.started, __ATOMIC_ACQUIRE) < 2; w++) {
        usleep(1000);
    }
    kv_batch b;
    kv_batch_init(&b);
    char v[32], k[8];
    int write_failed = 0;
    /* At least 400 batches, and on until the readers have overlapped a good number of them
     * (bounded in count). */
    for (int i = 0; !write_failed &&
                    (i < 400 || (__atomic_load_n(&c.reads, __ATOMIC_ACQUIRE) < 200 && i < 20000));
         i++) {
        snprintf(v, sizeof(v), "%d", i);
        kv_batch_clear(&b);
        int rc = kv_batch_put(&b, KV_CF_WRITE, S("ctr-a"), S(v));
        rc |= kv_batch_put(&b, KV_CF_DEFAULT, S("ctr-d"), S(v));
        rc |= kv_batch_delete_range(&b, KV_CF_RAFT, S("r"), S("s"));
        for (int j = 0; j < 8; j++) {
            snprintf(k, sizeof(k), "r%d", j);
            rc |= kv_batch_put(&b, KV_CF_RAFT, S(k), S(v));
        }
        cm_err err;
        if (rc != 0 || kv_engine_write(f->e, &b, false, &err) != 0) {
            write_failed = 1;
        }
    }
    __atomic_store_n(&c.stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
    }
    kv_batch_fini(&b);
    assert_int_equal(write_failed, 0);
    assert_int_equal(c.bad, 0);
    print_message("# %d snapshot reads overlapped the writes\n", c.reads);
    assert_true(c.reads >= 200);
}

/* ---- the reference model ------------------------------------------------------------------ */

typedef struct mentry {
    cm_buf k, v;
} mentry;

typedef struct mcf {
    mentry *e;
    size_t n, cap;
} mcf;

typedef struct model {
    mcf cf[KV_CF_COUNT];
} model;

static size_t mcf_lower(const mcf *m, cm_slice k) /* first index with key >= k */
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cm_slice_cmp(cm_buf_slice(&m->e[mid].k), k) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static void mcf_put(mcf *m, cm_slice k, cm_slice v)
{
    size_t i = mcf_lower(m, k);
    if (i < m->n && cm_slice_eq(cm_buf_slice(&m->e[i].k), k)) {
        cm_buf_reset(&m->e[i].v);
        cm_buf_append_slice(&m->e[i].v, v);
        return;
    }
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 16;
        m->e = realloc(m->e, m->cap * sizeof(*m->e));
    }
    memmove(&m->e[i + 1], &m->e[i], (m->n - i) * sizeof(*m->e));
    cm_buf_init(&m->e[i].k);
    cm_buf_init(&m->e[i].v);
    cm_buf_append_slice(&m->e[i].k, k);
    cm_buf_append_slice(&m->e[i].v, v);
    m->n++;
}

static void mcf_erase(mcf *m, size_t from, size_t to)
{
    if (from >= to) {
        return;
    }
    for (size_t i = from; i < to; i++) {
        cm_buf_fini(&m->e[i].k);
        cm_buf_fini(&m->e[i].v);
    }
    memmove(&m->e[from], &m->e[to], (m->n - to) * sizeof(*m->e));
    m->n -= to - from;
}

static void model_apply(model *m, const kv_batch *b)
{
    kv_batch_cursor c;
    kv_batch_entry e;
    kv_batch_iter(b, &c);
    while (kv_batch_next(&c, &e)) {
        mcf *cf = &m->cf[e.cf];
        if (e.op == KV_BATCH_PUT) {
            mcf_put(cf, e.key, e.value);
        } else if (e.op == KV_BATCH_DELETE) {
            size_t i = mcf_lower(cf, e.key);
            if (i < cf->n && cm_slice_eq(cm_buf_slice(&cf->e[i].k), e.key)) {
                mcf_erase(cf, i, i + 1);
            }
        } else {
            mcf_erase(cf, mcf_lower(cf, e.key), mcf_lower(cf, e.value));
        }
    }
}

static void model_free(model *m)
{
    for (int c = 0; c < KV_CF_COUNT; c++) {
        mcf_erase(&m->cf[c], 0, m->cf[c].n);
        free(m->cf[c].e);
        memset(&m->cf[c], 0, sizeof(m->cf[c]));
    }
}

static void model_copy(model *dst, const model *src)
{
    memset(dst, 0, sizeof(*dst));
    for (int c = 0; c < KV_CF_COUNT; c++) {
        for (size_t i = 0; i < src->cf[c].n; i++) {
            mcf_put(&dst->cf[c], cm_buf_slice(&src->cf[c].e[i].k),
                    cm_buf_slice(&src->cf[c].e[i].v));
        }
    }
}

static void print_key(const char *what, cm_slice k)
{
    char hex[64] = "";
    for (size_t i = 0; i < k.len && i < 20; i++) {
        snprintf(hex + 3 * i, 4, "%02x ", k.ptr[i]);
    }
    print_message("#   %s: [%s] (%zu bytes)\n", what, hex, k.len);
}

/* Compares a whole snapshot with the model, forward and backward; on a difference, prints
 * where. */
static void check_full(kv_snapshot *s, const model *m, const char *who)
{
    cm_err err;
    for (int c = 0; c < KV_CF_COUNT; c++) {
        const mcf *cf = &m->cf[c];
        kv_iter *it;
        assert_int_equal(kv_iter_new(s, (kv_cf)c, NULL, &it, &err), 0);
        size_t i = 0;
        for (kv_iter_seek_to_first(it); kv_iter_valid(it); kv_iter_next(it), i++) {
            if (i >= cf->n || !cm_slice_eq(kv_iter_key(it), cm_buf_slice(&cf->e[i].k)) ||
                !cm_slice_eq(kv_iter_value(it), cm_buf_slice(&cf->e[i].v))) {
                print_message("# %s cf %s differs at index %zu of %zu\n", who, kv_cf_name((kv_cf)c),
                              i, cf->n);
                print_key("engine", kv_iter_key(it));
                if (i < cf->n) {
                    print_key("model", cm_buf_slice(&cf->e[i].k));
                }
                fail();
            }
        }
        assert_int_equal(i, cf->n);
        for (kv_iter_seek_to_last(it); kv_iter_valid(it); kv_iter_prev(it)) {
            assert_true(i > 0);
            i--;
            assert_true(cm_slice_eq(kv_iter_key(it), cm_buf_slice(&cf->e[i].k)));
        }
        assert_int_equal(i, 0);
        assert_int_equal(kv_iter_status(it, &err), 0);
        kv_iter_free(it);
    }
}

/* Whether a snapshot holds exactly the model's contents. */
static int snap_equals(kv_snapshot *s, const model *m)
{
    int same = 1;
    for (int c = 0; c < KV_CF_COUNT && same; c++) {
        const mcf *cf = &m->cf[c];
        kv_iter *it;
        assert_int_equal(kv_iter_new(s, (kv_cf)c, NULL, &it, NULL), 0);
        size_t i = 0;
        for (kv_iter_seek_to_first(it); kv_iter_valid(it) && same; kv_iter_next(it), i++) {
            same = i < cf->n && cm_slice_eq(kv_iter_key(it), cm_buf_slice(&cf->e[i].k)) &&
                   cm_slice_eq(kv_iter_value(it), cm_buf_slice(&cf->e[i].v));
        }
        same = same && i == cf->n;
        kv_iter_free(it);
    }
    return same;
}

/* Random short keys over a small alphabet with 0x00 and 0xff, so that prefixes, the empty key
 * and collisions are common. */
static void rand_key(uint64_t *rng, char *buf, size_t *len)
{
    static const char alpha[] = {'\0', 'a', 'b', '\xff'};
    *len = rng_below(rng, 5);
    for (size_t i = 0; i < *len; i++) {
        buf[i] = alpha[rng_below(rng, 4)];
    }
}

/* Model position for the iterator semantics of kv_engine.h: an index, or (size_t)-1. */
#define NOPOS ((size_t)-1)
typedef struct mbounds {
    cm_slice lo, hi;
} mbounds;

static size_t m_clamp(const mcf *cf, const mbounds *b, size_t i)
{
    if (i == NOPOS || i >= cf->n) {
        return NOPOS;
    }
    cm_slice k = cm_buf_slice(&cf->e[i].k);
    if (b->hi.len && cm_slice_cmp(k, b->hi) >= 0) {
        return NOPOS;
    }
    if (b->lo.len && cm_slice_cmp(k, b->lo) < 0) {
        return NOPOS;
    }
    return i;
}

static size_t m_seek(const mcf *cf, const mbounds *b, cm_slice k)
{
    if (b->lo.len && cm_slice_cmp(k, b->lo) < 0) {
        k = b->lo;
    }
    return m_clamp(cf, b, mcf_lower(cf, k));
}

static size_t m_seek_for_prev(const mcf *cf, const mbounds *b, cm_slice k)
{
    size_t i;
    if (b->hi.len && cm_slice_cmp(k, b->hi) >= 0) {
        i = mcf_lower(cf, b->hi); /* last < hi */
    } else {
        i = mcf_lower(cf, k);
        if (i < cf->n && cm_slice_eq(cm_buf_slice(&cf->e[i].k), k)) {
            return m_clamp(cf, b, i);
        }
    }
    return i == 0 ? NOPOS : m_clamp(cf, b, i - 1);
}

static void check_pos(kv_iter *it, const mcf *cf, size_t pos)
{
    if (pos == NOPOS) {
        assert_false(kv_iter_valid(it));
        return;
    }
    assert_true(kv_iter_valid(it));
    assert_true(cm_slice_eq(kv_iter_key(it), cm_buf_slice(&cf->e[pos].k)));
    assert_true(cm_slice_eq(kv_iter_value(it), cm_buf_slice(&cf->e[pos].v)));
}

/* Random walks with random bounds over one snapshot, checked against the model. */
static void check_walks(kv_snapshot *s, const model *m, uint64_t *rng, int walks)
{
    cm_err err;
    for (int w = 0; w < walks; w++) {
        kv_cf c = (kv_cf)rng_below(rng, KV_CF_COUNT);
        const mcf *cf = &m->cf[c];
        char lo[8], hi[8], t[8];
        size_t lol = 0, hil = 0, tl;
        if (rng_below(rng, 2)) {
            rand_key(rng, lo, &lol);
        }
        if (rng_below(rng, 2)) {
            rand_key(rng, hi, &hil);
        }
        mbounds b = {cm_slice_make(lo, lol), cm_slice_make(hi, hil)};
        kv_iter_opts o = {b.lo, b.hi};
        kv_iter *it;
        assert_int_equal(kv_iter_new(s, c, &o, &it, &err), 0);
        size_t pos = NOPOS;
        for (int step = 0; step < 12; step++) {
            uint32_t op = rng_below(rng, 6);
            if (pos == NOPOS && op >= 4) {
                op = rng_below(rng, 4);
            }
            rand_key(rng, t, &tl);
            switch (op) {
            case 0:
                kv_iter_seek(it, cm_slice_make(t, tl));
                pos = m_seek(cf, &b, cm_slice_make(t, tl));
                break;
            case 1:
                kv_iter_seek_for_prev(it, cm_slice_make(t, tl));
                pos = m_seek_for_prev(cf, &b, cm_slice_make(t, tl));
                break;
            case 2:
                kv_iter_seek_to_first(it);
                pos = m_seek(cf, &b, cm_slice_make("", 0));
                break;
            case 3:
                kv_iter_seek_to_last(it);
                pos = b.hi.len ? m_seek_for_prev(cf, &b, b.hi)
                               : (cf->n ? m_clamp(cf, &b, cf->n - 1) : NOPOS);
                break;
            case 4:
                kv_iter_next(it);
                pos = m_clamp(cf, &b, pos + 1);
                break;
            default:
                kv_iter_prev(it);
                pos = pos == 0 ? NOPOS : m_clamp(cf, &b, pos - 1);
                break;
            }
            check_pos(it, cf, pos);
        }
        kv_iter_free(it);
        /* A point read too. */
        rand_key(rng, t, &tl);
        cm_buf out = CM_BUF_INIT;
        int rc = kv_snapshot_get(s, c, cm_slice_make(t, tl), &out, &err);
        size_t i = mcf_lower(cf, cm_slice_make(t, tl));
        if (i < cf->n && cm_slice_eq(cm_buf_slice(&cf->e[i].k), cm_slice_make(t, tl))) {
            assert_int_equal(rc, 0);
            assert_true(cm_slice_eq(cm_buf_slice(&out), cm_buf_slice(&cf->e[i].v)));
        } else {
            assert_int_equal(rc, CM_E_NOT_FOUND);
        }
        cm_buf_fini(&out);
    }
}

static void rand_batch(uint64_t *rng, kv_batch *b, int step)
{
    int n = 1 + (int)rng_below(rng, 8);
    for (int i = 0; i < n; i++) {
        kv_cf c = (kv_cf)rng_below(rng, KV_CF_COUNT);
        char k[8], k2[8], v[24];
        size_t kl, k2l;
        rand_key(rng, k, &kl);
        uint32_t what = rng_below(rng, 20);
        if (what < 12) {
            int vl = snprintf(v, sizeof(v), "v%d.%d", step, i);
            assert_int_equal(kv_batch_put(b, c, cm_slice_make(k, kl), cm_slice_make(v, vl)), 0);
        } else if (what < 17) {
            assert_int_equal(kv_batch_delete(b, c, cm_slice_make(k, kl)), 0);
        } else {
            rand_key(rng, k2, &k2l);
            cm_slice a = cm_slice_make(k, kl), z = cm_slice_make(k2, k2l);
            int d = cm_slice_cmp(a, z);
            if (d != 0) {
                assert_int_equal(kv_batch_delete_range(b, c, d < 0 ? a : z, d < 0 ? z : a), 0);
            }
        }
    }
}

/* Both engines and the model take the same random batches; snapshots are compared right away
 * and again after later writes (isolation). */
static void t_differential(void **state)
{
    /* The RocksDB engine (and its temp dir) belong to the fixture, so a failure still removes
     * the dir; the memory engine is opened here. */
    fixture fm, fr = *(fixture *)*state;
    memset(&fm, 0, sizeof(fm));
    fm.e = open_engine(&fm);
    cm_err err;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        uint64_t rng = seed * 7919;
        model m = {0}, held_model = {0};
        kv_snapshot *held[2] = {NULL, NULL};
        kv_batch b;
        kv_batch_init(&b);
        /* Start from empty engines for each seed. */
        for (int c = 0; c < KV_CF_COUNT; c++) {
            assert_int_equal(kv_batch_delete_range(&b, (kv_cf)c, S(""), S("\xff\xff\xff\xff\xff")),
                             0);
        }
        assert_int_equal(kv_engine_write(fm.e, &b, false, &err), 0);
        write1(fr.e, &b, false);
        for (int step = 0; step < 400; step++) {
            rand_batch(&rng, &b, step);
            bool sync = rng_below(&rng, 50) == 0;
            model_apply(&m, &b);
            assert_int_equal(kv_engine_write(fm.e, &b, sync, &err), 0);
            assert_int_equal(kv_engine_write(fr.e, &b, sync, &err), 0);
            kv_batch_clear(&b);
            if (step % 20 == 19) {
                kv_snapshot *sm, *sr;
                assert_int_equal(kv_engine_snapshot(fm.e, &sm, &err), 0);
                assert_int_equal(kv_engine_snapshot(fr.e, &sr, &err), 0);
                check_full(sm, &m, "sm");
                check_full(sr, &m, "sr");
                uint64_t r2 = rng;
                check_walks(sm, &m, &rng, 10);
                check_walks(sr, &m, &r2, 10); /* the very same walks */
                kv_snapshot_release(sm);
                kv_snapshot_release(sr);
            }
            if (step % 50 == 10) {
                /* Hold snapshots over the next 40 steps of writes. */
                model_copy(&held_model, &m);
                assert_int_equal(kv_engine_snapshot(fm.e, &held[0], &err), 0);
                assert_int_equal(kv_engine_snapshot(fr.e, &held[1], &err), 0);
            }
            if (step % 50 == 49) {
                check_full(held[0], &held_model, "held[0]");
                check_full(held[1], &held_model, "held[1]");
                uint64_t r2 = rng;
                check_walks(held[0], &held_model, &rng, 5);
                check_walks(held[1], &held_model, &r2, 5);
                kv_snapshot_release(held[0]);
                kv_snapshot_release(held[1]);
                held[0] = held[1] = NULL;
                model_free(&held_model);
            }
            if (step % 100 == 99) {
                /* The exact memory engine's figures bound the model's; RocksDB's are exact here
                 * too while everything sits in its memtables. */
                for (int c = 0; c < KV_CF_COUNT; c++) {
                    kv_range_stats a, r;
                    assert_int_equal(
                        kv_engine_approx_range(fm.e, (kv_cf)c, S("a"), S(""), &a, &err), 0);
                    assert_int_equal(
                        kv_engine_approx_range(fr.e, (kv_cf)c, S("a"), S(""), &r, &err), 0);
                    assert_int_equal(a.keys, m.cf[c].n - mcf_lower(&m.cf[c], S("a")));
                    assert_int_equal(r.keys, a.keys);
                    assert_int_equal(r.bytes, a.bytes);
                }
            }
        }
        kv_snapshot_release(held[0]);
        kv_snapshot_release(held[1]);
        model_free(&held_model);
        model_free(&m);
        kv_batch_fini(&b);
    }
    kv_engine_close(fm.e);
}

/* The memory engine's crash contract, randomized: after every crash the state is exactly the
 * last durable one. */
static void t_mem_crash_random(void **state)
{
    (void)state;
    kv_engine *e;
    cm_err err;
    assert_int_equal(kv_memengine_open(&e, &err), 0);
    uint64_t rng = 4242;
    model cur = {0}, durable = {0};
    kv_batch b;
    kv_batch_init(&b);
    int crashes = 0, lost = 0;
    for (int step = 0; step < 1500; step++) {
        uint32_t what = rng_below(&rng, 40);
        if (what == 0) {
            kv_engine_stats st;
            kv_engine_stats_get(e, &st);
            lost += st.write_seq != st.durable_seq;
            assert_int_equal(kv_engine_crash(e, &err), 0);
            model_free(&cur);
            model_copy(&cur, &durable);
            crashes++;
            kv_snapshot *s;
            assert_int_equal(kv_engine_snapshot(e, &s, &err), 0);
            check_full(s, &cur, "s");
            kv_snapshot_release(s);
            kv_engine_stats_get(e, &st);
            assert_int_equal(st.write_seq, st.durable_seq);
        } else if (what == 1) {
            assert_int_equal(kv_engine_sync(e, &err), 0);
            model_free(&durable);
            model_copy(&durable, &cur);
        } else {
            rand_batch(&rng, &b, step);
            bool sync = rng_below(&rng, 10) == 0;
            model_apply(&cur, &b);
            assert_int_equal(kv_engine_write(e, &b, sync, &err), 0);
            kv_batch_clear(&b);
            if (sync) {
                model_free(&durable);
                model_copy(&durable, &cur);
            }
        }
    }
    assert_true(crashes >= 20);
    assert_true(lost >= 10); /* the test did crash with unsynced writes pending */
    model_free(&cur);
    model_free(&durable);
    kv_batch_fini(&b);
    kv_engine_close(e);
}

/* RocksDB: after a crash the state is the durable state plus a prefix of the later batches. */
static void t_rocks_crash_prefix(void **state)
{
    fixture *f = *state;
    cm_err err;
    uint64_t rng = 99;
    model m = {0};
    kv_batch b;
    kv_batch_init(&b);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 5; i++) {
            rand_batch(&rng, &b, i);
            model_apply(&m, &b);
            write1(f->e, &b, false);
        }
        assert_int_equal(kv_engine_sync(f->e, &err), 0);
        model states[6];
        model_copy(&states[0], &m);
        for (int i = 0; i < 5; i++) {
            rand_batch(&rng, &b, 100 + i);
            model_apply(&m, &b);
            model_copy(&states[i + 1], &m);
            write1(f->e, &b, false);
        }
        assert_int_equal(kv_engine_crash(f->e, &err), 0);
        /* Find which prefix survived by comparing full contents. */
        int match = -1;
        kv_snapshot *s;
        assert_int_equal(kv_engine_snapshot(f->e, &s, &err), 0);
        for (int i = 5; i >= 0 && match < 0; i--) {
            if (snap_equals(s, &states[i])) {
                match = i;
            }
        }
        kv_snapshot_release(s);
        print_message("# rocksdb kept %d of 5 unsynced batches at the crash\n", match);
        assert_true(match >= 0);
        assert_int_equal(kv_engine_snapshot(f->e, &s, &err), 0);
        check_full(s, &states[match], "s");
        kv_snapshot_release(s);
        model_free(&m);
        model_copy(&m, &states[match]);
        for (int i = 0; i < 6; i++) {
            model_free(&states[i]);
        }
    }
    model_free(&m);
    kv_batch_fini(&b);
}

/* ---- the batch wire form --------------------------------------------------------------------- */

static void t_batch_wire(void **state)
{
    (void)state;
    kv_batch b, c;
    kv_batch_init(&b);
    kv_batch_init(&c);
    cm_err err;
    assert_int_equal(kv_batch_size(&b), 1);
    assert_int_equal(kv_batch_load(&c, kv_batch_data(&b), &err), 0); /* empty batch */
    assert_int_equal(kv_batch_count(&c), 0);
    assert_int_equal(kv_batch_put(&b, KV_CF_WRITE, S("key"), S("value")), 0);
    assert_int_equal(kv_batch_delete(&b, KV_CF_LOCK, S("k2")), 0);
    assert_int_equal(kv_batch_delete_range(&b, KV_CF_RAFT, S("a"), S("b")), 0);
    assert_int_equal(kv_batch_put(&b, (kv_cf)4, S("k"), S("v")), CM_E_INVALID);
    assert_int_equal(kv_batch_count(&b), 3);
    cm_slice w = kv_batch_data(&b);
    assert_int_equal(kv_batch_load(&c, w, &err), 0);
    assert_int_equal(kv_batch_count(&c), 3);
    assert_true(cm_slice_eq(kv_batch_data(&c), w));
    kv_batch_cursor cur;
    kv_batch_entry e;
    kv_batch_iter(&c, &cur);
    assert_true(kv_batch_next(&cur, &e));
    assert_int_equal(e.op, KV_BATCH_PUT);
    assert_int_equal(e.cf, KV_CF_WRITE);
    assert_true(cm_slice_eq(e.key, S("key")));
    assert_true(cm_slice_eq(e.value, S("value")));
    assert_true(kv_batch_next(&cur, &e));
    assert_int_equal(e.op, KV_BATCH_DELETE);
    assert_true(kv_batch_next(&cur, &e));
    assert_int_equal(e.op, KV_BATCH_DELETE_RANGE);
    assert_true(cm_slice_eq(e.value, S("b")));
    assert_false(kv_batch_next(&cur, &e));
    /* Append. */
    assert_int_equal(kv_batch_append(&c, &b), 0);
    assert_int_equal(kv_batch_count(&c), 6);
    /* Every strict prefix either ends on an operation boundary (valid, fewer operations) or is
     * rejected as corrupt. Op boundaries of the three operations: */
    size_t ends[3];
    ends[0] = 1 + 2 + 1 + 3 + 1 + 5;
    ends[1] = ends[0] + 2 + 1 + 2;
    ends[2] = w.len;
    for (size_t n = 0; n < w.len; n++) {
        int rc = kv_batch_load(&c, cm_slice_make(w.ptr, n), &err);
        if (n == 1 || n == ends[0] || n == ends[1]) {
            assert_int_equal(rc, 0);
        } else {
            assert_int_equal(rc, CM_E_CORRUPT);
            assert_int_equal(kv_batch_count(&c), 0);
        }
    }
    /* Bad version, op, cf, and a delete_range with start >= end. */
    uint8_t bad[64];
    memcpy(bad, w.ptr, w.len);
    bad[0] = 2;
    assert_int_equal(kv_batch_load(&c, cm_slice_make(bad, w.len), &err), CM_E_CORRUPT);
    memcpy(bad, w.ptr, w.len);
    bad[1] = 9;
    assert_int_equal(kv_batch_load(&c, cm_slice_make(bad, w.len), &err), CM_E_CORRUPT);
    memcpy(bad, w.ptr, w.len);
    bad[2] = KV_CF_COUNT;
    assert_int_equal(kv_batch_load(&c, cm_slice_make(bad, w.len), &err), CM_E_CORRUPT);
    memcpy(bad, w.ptr, w.len);
    bad[w.len - 1] = 'a'; /* end "a" == start "a" */
    assert_int_equal(kv_batch_load(&c, cm_slice_make(bad, w.len), &err), CM_E_CORRUPT);
    /* A huge length prefix. */
    const uint8_t huge[] = {1, 1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f};
    assert_int_equal(kv_batch_load(&c, cm_slice_make(huge, sizeof(huge)), &err), CM_E_CORRUPT);
    /* Random garbage never crashes and never loads something the cursor cannot walk. */
    uint64_t rng = 5;
    for (int i = 0; i < 20000; i++) {
        size_t n = rng_below(&rng, 40);
        for (size_t j = 0; j < n; j++) {
            bad[j] = (uint8_t)rng_below(&rng, 8);
        }
        if (n > 0) {
            bad[0] = 1;
        }
        if (kv_batch_load(&c, cm_slice_make(bad, n), &err) == 0) {
            size_t k = 0;
            kv_batch_iter(&c, &cur);
            while (kv_batch_next(&cur, &e)) {
                k++;
            }
            assert_int_equal(k, kv_batch_count(&c));
        }
    }
    /* Limits. */
    cm_slice big_key = cm_slice_make(bad, 0);
    big_key.len = KV_KEY_BYTES_MAX + 1;
    assert_int_equal(kv_batch_put(&b, KV_CF_WRITE, big_key, S("v")), CM_E_INVALID);
    kv_batch_fini(&b);
    kv_batch_fini(&c);
}

/* ---- registration ------------------------------------------------------------------------------
 */

/* Each conformance test runs once per engine, named after it. */
#define BOTH(t)                                                                                    \
    {#t "(memory)", t, setup_mem, teardown_engine, NULL},                                          \
    {                                                                                              \
#t "(rocksdb)", t, setup_rocks, teardown_engine, NULL                                      \
    }

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(t_put_get_delete),
        BOTH(t_big_values),
        BOTH(t_delete_range),
        BOTH(t_snapshot_isolation),
        BOTH(t_iterator_bounds),
        BOTH(t_approx_range),
        BOTH(t_stats),
        BOTH(t_crash_keeps_durable),
        {"t_reopen(rocksdb)", t_reopen, setup_rocks, teardown_engine, NULL},
        BOTH(t_concurrent_readers),
        cmocka_unit_test_setup_teardown(t_rocks_crash_prefix, setup_rocks, teardown_engine),
        cmocka_unit_test_setup_teardown(t_differential, setup_rocks, teardown_engine),
        cmocka_unit_test(t_mem_crash_random),
        cmocka_unit_test(t_batch_wire),
    };
    if (getenv("KV_TEST_FILTER")) {
        cmocka_set_test_filter(getenv("KV_TEST_FILTER"));
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
