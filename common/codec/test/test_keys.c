/*
 * Unit tests for cm_keys: byte layouts; property tests (PAIRS random pairs, seed printed) showing
 * that row, index, metadata and MVCC keys memcmp in the order of their fields and decode back;
 * scan ranges that hold exactly the keys they should; and truncated or garbled keys, which every
 * decoder must refuse or decode to something that re-encodes to the same bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cm_keys.h"
#include "codec_testutil.h"

#include <stdio.h>
#include <string.h>

#define PAIRS     100000
#define BYTES_CAP 64
#define COLS_MAX  3

#define CMP3(a, b) ((a) < (b) ? -1 : ((a) > (b) ? 1 : 0))

static void hex(const char *what, cm_slice s)
{
    fprintf(stderr, "%s (%zu):", what, s.len);
    for (size_t i = 0; i < s.len; i++) {
        fprintf(stderr, " %02x", s.ptr[i]);
    }
    fprintf(stderr, "\n");
}

static void expect_order(int want, const cm_buf *a, const cm_buf *b, const char *what)
{
    int got = tu_sign(cm_slice_cmp(cm_buf_slice(a), cm_buf_slice(b)));
    if (got != want) {
        hex("a", cm_buf_slice(a));
        hex("b", cm_buf_slice(b));
        fail_msg("%s order: fields compare %d, keys %d", what, want, got);
    }
}

/* Whether key lies in [start, end); an empty end is unbounded. */
static int in_range(const cm_buf *key, const cm_buf *start, const cm_buf *end)
{
    if (cm_slice_cmp(cm_buf_slice(key), cm_buf_slice(start)) < 0) {
        return 0;
    }
    return end->len == 0 || cm_slice_cmp(cm_buf_slice(key), cm_buf_slice(end)) < 0;
}

/* Small pools make ties (same table, same index) common. */
static int64_t rand_id(void)
{
    static const int64_t ids[] = {1, 2, 3, 255, 256, INT64_MAX, -1, 0};
    return tu_chance(80) ? ids[tu_below(sizeof(ids) / sizeof(ids[0]))] : tu_rand_int64();
}

/* ---- rows ---------------------------------------------------------------------------------- */

static void test_row_layout(void **state)
{
    (void)state;
    cm_buf b = CM_BUF_INIT;
    cm_err err;
    assert_int_equal(cm_keys_append_row(&b, 1, -2), 0);
    static const uint8_t want[] = {'t', 0x80, 0,    0,    0,    0,    0,    0,    1,   '_',
                                   'r', 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe};
    assert_int_equal(b.len, CM_KEYS_ROW_LEN);
    assert_memory_equal(b.ptr, want, sizeof(want));
    assert_int_equal(cm_keys_kind(cm_buf_slice(&b)), CM_KEY_ROW);
    int64_t tid = 0, h = 0;
    assert_int_equal(cm_keys_decode_row(cm_buf_slice(&b), &tid, &h, &err), 0);
    assert_int_equal(tid, 1);
    assert_int_equal(h, -2);
    assert_int_equal(cm_keys_decode_table_id(cm_buf_slice(&b), &tid, &err), 0);
    assert_int_equal(tid, 1);

    /* Wrong lengths, wrong tag, wrong separator. */
    assert_int_equal(cm_keys_decode_row(cm_slice_make(want, 18), &tid, &h, &err), CM_E_CORRUPT);
    assert_int_equal(cm_buf_append_u8(&b, 0), 0);
    assert_int_equal(cm_keys_decode_row(cm_buf_slice(&b), &tid, &h, &err), CM_E_CORRUPT);
    uint8_t bad[CM_KEYS_ROW_LEN];
    memcpy(bad, want, sizeof(bad));
    bad[0] = 'u';
    assert_int_equal(cm_keys_decode_row(cm_slice_make(bad, sizeof(bad)), &tid, &h, &err),
                     CM_E_CORRUPT);
    assert_int_equal(cm_keys_decode_table_id(cm_slice_make(bad, sizeof(bad)), &tid, &err),
                     CM_E_CORRUPT);
    memcpy(bad, want, sizeof(bad));
    bad[10] = 'i';
    assert_int_equal(cm_keys_decode_row(cm_slice_make(bad, sizeof(bad)), &tid, &h, &err),
                     CM_E_CORRUPT);
    assert_int_equal(cm_keys_decode_row(cm_slice_make(NULL, 0), &tid, &h, &err), CM_E_CORRUPT);
    assert_int_equal(cm_keys_decode_table_id(cm_slice_make(want, 8), &tid, &err), CM_E_CORRUPT);
    cm_buf_fini(&b);
}

static void test_row_pairs(void **state)
{
    (void)state;
    cm_buf a = CM_BUF_INIT, b = CM_BUF_INIT;
    cm_err err;
    for (int i = 0; i < PAIRS; i++) {
        int64_t ta = rand_id(), tb = tu_chance(50) ? ta : rand_id();
        int64_t ha = tu_rand_int64(), hb = tu_chance(10) ? ha : tu_rand_int64();
        cm_buf_reset(&a);
        cm_buf_reset(&b);
        assert_int_equal(cm_keys_append_row(&a, ta, ha), 0);
        assert_int_equal(cm_keys_append_row(&b, tb, hb), 0);
        int want = ta != tb ? CMP3(ta, tb) : CMP3(ha, hb);
        expect_order(want, &a, &b, "row");
        int64_t t2, h2;
        assert_int_equal(cm_keys_decode_row(cm_buf_slice(&a), &t2, &h2, &err), 0);
        assert_true(t2 == ta && h2 == ha);
    }
    cm_buf_fini(&a);
    cm_buf_fini(&b);
}

/* ---- index entries ------------------------------------------------------------------------- */

/* A generated index entry with everything needed to rebuild and compare it. */
typedef struct entry {
    int64_t tid, iid, handle;
    bool unique, has_handle;
    size_t ncols;
    cm_datum vals[COLS_MAX];
    uint8_t bytes[COLS_MAX][BYTES_CAP];
} entry;

/* The column types of index iid, derived from its id so every entry of an index agrees. */
static cm_dtype index_col_type(int64_t iid, size_t col)
{
    return tu_key_types[((uint64_t)iid + col * 3) % tu_key_types_n];
}

static size_t index_ncols(int64_t iid)
{
    return 1 + (size_t)((uint64_t)iid % COLS_MAX);
}

static bool index_unique(int64_t iid)
{
    return ((uint64_t)iid / 3) % 2 == 0;
}

static cm_datum rand_val(cm_dtype t, uint8_t *buf)
{
    return tu_chance(15) ? cm_datum_null() : tu_rand_datum(t, buf);
}

static cm_datum copy_val(const cm_datum *d, uint8_t *buf)
{
    cm_datum c = *d;
    if (d->type == CM_DT_BYTES || d->type == CM_DT_STRING) {
        memcpy(buf, d->v.bytes.ptr, d->v.bytes.len);
        c.v.bytes.ptr = buf;
    }
    return c;
}

static void rand_entry(entry *e, const entry *like)
{
    e->tid = like && tu_chance(80) ? like->tid : rand_id();
    e->iid = like && tu_chance(80) ? like->iid : rand_id();
    e->ncols = index_ncols(e->iid);
    e->unique = index_unique(e->iid);
    bool same_index = like && like->tid == e->tid && like->iid == e->iid;
    size_t same = same_index ? tu_below(e->ncols + 1) : 0;
    for (size_t i = 0; i < e->ncols; i++) {
        if (i < same) {
            e->vals[i] = copy_val(&like->vals[i], e->bytes[i]);
        } else if (same_index && like->vals[i].type != CM_DT_NULL && tu_chance(50)) {
            e->vals[i] = tu_near_datum(&like->vals[i], e->bytes[i]);
        } else {
            e->vals[i] = rand_val(index_col_type(e->iid, i), e->bytes[i]);
        }
    }
    e->handle = like && tu_chance(30) ? like->handle : tu_rand_int64();
    e->has_handle = cm_keys_index_has_handle(e->unique, e->vals, e->ncols);
}

static void encode_entry(const entry *e, cm_buf *b)
{
    cm_err err;
    bool in_key = !e->has_handle;
    cm_buf_reset(b);
    assert_int_equal(cm_keys_append_index(b, e->tid, e->iid, e->vals, e->ncols, e->unique,
                                          e->handle, &in_key, &err),
                     0);
    assert_int_equal(in_key, e->has_handle);
}

static int entry_cmp(const entry *a, const entry *b)
{
    if (a->tid != b->tid) {
        return CMP3(a->tid, b->tid);
    }
    if (a->iid != b->iid) {
        return CMP3(a->iid, b->iid);
    }
    for (size_t i = 0; i < a->ncols; i++) {
        int c = tu_datum_cmp(&a->vals[i], &b->vals[i]);
        if (c != 0) {
            return c;
        }
    }
    /* Equal values of one index: both keys carry the handle or neither does. */
    assert_int_equal(a->has_handle, b->has_handle);
    return a->has_handle ? CMP3(a->handle, b->handle) : 0;
}

static void check_entry_decodes(const entry *e, const cm_buf *key, cm_arena *arena)
{
    cm_err err;
    int64_t tid, iid, handle = 0;
    cm_slice values;
    assert_int_equal(cm_keys_kind(cm_buf_slice(key)), CM_KEY_INDEX);
    assert_int_equal(cm_keys_decode_index(cm_buf_slice(key), &tid, &iid, &values, &err), 0);
    assert_true(tid == e->tid && iid == e->iid);
    cm_datum out[COLS_MAX];
    bool has_handle;
    int rc = cm_keys_decode_index_values(values, e->ncols, arena, out, &has_handle, &handle, &err);
    if (rc != 0) {
        fail_msg("index values: %s", err.msg);
    }
    assert_int_equal(has_handle, e->has_handle);
    if (has_handle) {
        assert_int_equal(handle, e->handle);
    }
    for (size_t i = 0; i < e->ncols; i++) {
        assert_true(tu_datum_same(&e->vals[i], &out[i], true));
    }
    cm_arena_reset(arena);
}

static void test_index_pairs(void **state)
{
    (void)state;
    cm_buf ka = CM_BUF_INIT, kb = CM_BUF_INIT, row = CM_BUF_INIT;
    cm_arena arena;
    cm_arena_init(&arena, 0);
    static entry a, b;
    int handle_decided = 0;
    for (int i = 0; i < PAIRS; i++) {
        rand_entry(&a, NULL);
        rand_entry(&b, &a);
        encode_entry(&a, &ka);
        encode_entry(&b, &kb);
        int want = entry_cmp(&a, &b);
        expect_order(want, &ka, &kb, "index");
        if (a.tid == b.tid && a.iid == b.iid && a.has_handle && a.handle != b.handle) {
            handle_decided += cm_slice_cmp(cm_buf_slice(&ka), cm_buf_slice(&kb)) != 0;
        }
        check_entry_decodes(&a, &ka, &arena);
        check_entry_decodes(&b, &kb, &arena);
        /* Every index entry of a table sorts before its rows ("_i" < "_r"). */
        cm_buf_reset(&row);
        assert_int_equal(cm_keys_append_row(&row, a.tid, tu_rand_int64()), 0);
        expect_order(-1, &ka, &row, "index vs row");
    }
    assert_true(handle_decided > 100);
    cm_buf_fini(&ka);
    cm_buf_fini(&kb);
    cm_buf_fini(&row);
    cm_arena_fini(&arena);
}

static void test_index_handle_policy(void **state)
{
    (void)state;
    cm_buf b = CM_BUF_INIT;
    cm_err err;
    bool in_key = true;
    cm_datum v[2] = {cm_datum_int64(5), cm_datum_bytes(cm_slice_make("x", 1))};
    /* Unique without NULL: values only; the entry's value holds the handle. */
    assert_int_equal(cm_keys_append_index(&b, 7, 1, v, 2, true, 42, &in_key, &err), 0);
    assert_false(in_key);
    assert_int_equal(b.len, CM_KEYS_INDEX_PREFIX_LEN + 9 + 10);
    static const uint8_t prefix[] = {'t', 0x80, 0, 0, 0, 0, 0, 0, 7, '_',
                                     'i', 0x80, 0, 0, 0, 0, 0, 0, 1};
    assert_memory_equal(b.ptr, prefix, sizeof(prefix));
    /* Non-unique: the handle follows as an int64 datum. */
    cm_buf_reset(&b);
    assert_int_equal(cm_keys_append_index(&b, 7, 1, v, 2, false, 42, &in_key, &err), 0);
    assert_true(in_key);
    assert_int_equal(b.len, CM_KEYS_INDEX_PREFIX_LEN + 9 + 10 + 9);
    assert_int_equal(b.ptr[b.len - 9], CM_CODEC_FLAG_INT64);
    /* Unique with a NULL: laid out like non-unique. */
    v[1] = cm_datum_null();
    cm_buf_reset(&b);
    assert_int_equal(cm_keys_append_index(&b, 7, 1, v, 2, true, 42, &in_key, &err), 0);
    assert_true(in_key);
    assert_int_equal(b.len, CM_KEYS_INDEX_PREFIX_LEN + 9 + 1 + 9);
    /* NaN: refused, buffer untouched. */
    v[0] = cm_datum_float64(0.0 / 0.0);
    assert_int_equal(cm_keys_append_index(&b, 7, 1, v, 2, true, 42, &in_key, &err), CM_E_INVALID);
    assert_int_equal(b.len, CM_KEYS_INDEX_PREFIX_LEN + 9 + 1 + 9);
    cm_buf_fini(&b);
}

static void test_index_decode_bad(void **state)
{
    (void)state;
    cm_buf b = CM_BUF_INIT;
    cm_err err;
    cm_arena arena;
    cm_arena_init(&arena, 0);
    int64_t tid, iid, h;
    cm_slice values;
    cm_datum out[4];
    bool has_handle;
    cm_datum v[2] = {cm_datum_int64(5), cm_datum_uint64(9)};

    assert_int_equal(cm_keys_append_index_prefix(&b, 3, 4), 0);
    assert_int_equal(
        cm_keys_decode_index(cm_slice_make(b.ptr, b.len - 1), &tid, &iid, &values, &err),
        CM_E_CORRUPT);
    assert_int_equal(cm_keys_decode_index(cm_buf_slice(&b), &tid, &iid, &values, &err), 0);
    assert_int_equal(values.len, 0);
    /* A row key is not an index key. */
    cm_buf_reset(&b);
    assert_int_equal(cm_keys_append_row(&b, 3, 4), 0);
    assert_int_equal(cm_keys_decode_index(cm_buf_slice(&b), &tid, &iid, &values, &err),
                     CM_E_CORRUPT);
    /* Two values of a two-column index, then a uint64 where the handle should be. */
    cm_buf_reset(&b);
    assert_int_equal(cm_codec_encode_datums(&b, v, 2, &err), 0);
    assert_int_equal(
        cm_keys_decode_index_values(cm_buf_slice(&b), 2, &arena, out, &has_handle, &h, &err), 0);
    assert_false(has_handle);
    assert_int_equal(
        cm_keys_decode_index_values(cm_buf_slice(&b), 1, &arena, out, &has_handle, &h, &err),
        CM_E_CORRUPT); /* handle of the wrong type */
    assert_int_equal(
        cm_keys_decode_index_values(cm_buf_slice(&b), 3, &arena, out, &has_handle, &h, &err),
        CM_E_CORRUPT); /* a value missing */
    /* Stray bytes after the handle. */
    cm_datum hd = cm_datum_int64(77);
    assert_int_equal(cm_codec_encode_datum(&b, &hd, &err), 0);
    assert_int_equal(
        cm_keys_decode_index_values(cm_buf_slice(&b), 1, &arena, out, &has_handle, &h, &err),
        CM_E_CORRUPT);
    assert_int_equal(
        cm_keys_decode_index_values(cm_buf_slice(&b), 2, &arena, out, &has_handle, &h, &err), 0);
    assert_true(has_handle);
    assert_int_equal(h, 77);
    assert_int_equal(cm_buf_append_u8(&b, 0), 0);
    assert_int_equal(
        cm_keys_decode_index_values(cm_buf_slice(&b), 2, &arena, out, &has_handle, &h, &err),
        CM_E_CORRUPT);
    cm_arena_fini(&arena);
    cm_buf_fini(&b);
}

/* ---- ranges -------------------------------------------------------------------------------- */

static void test_prefix_next(void **state)
{
    (void)state;
    cm_buf out = CM_BUF_INIT;
    assert_int_equal(cm_keys_prefix_next(cm_slice_make("ab", 2), &out), 0);
    assert_int_equal(out.len, 2);
    assert_memory_equal(out.ptr, "ac", 2);
    cm_buf_reset(&out);
    assert_int_equal(cm_keys_prefix_next(cm_slice_make("a\xff\xff", 3), &out), 0);
    assert_int_equal(out.len, 1);
    assert_memory_equal(out.ptr, "b", 1);
    cm_buf_reset(&out);
    assert_int_equal(cm_keys_prefix_next(cm_slice_make("\xff\xff", 2), &out), 0);
    assert_int_equal(out.len, 0); /* unbounded */
    assert_int_equal(cm_keys_prefix_next(cm_slice_make(NULL, 0), &out), 0);
    assert_int_equal(out.len, 0);
    cm_buf_fini(&out);
}

static void test_ranges(void **state)
{
    (void)state;
    cm_buf key = CM_BUF_INIT, start = CM_BUF_INIT, end = CM_BUF_INIT;
    cm_err err;
    static entry probe, e;
    int hits[4] = {0, 0, 0, 0};
    for (int i = 0; i < 20000; i++) {
        rand_entry(&probe, NULL);
        rand_entry(&e, &probe);
        int is_row = tu_chance(30);
        int64_t handle = tu_chance(5) ? (tu_chance(50) ? INT64_MIN : INT64_MAX) : tu_rand_int64();
        if (is_row) {
            cm_buf_reset(&key);
            assert_int_equal(cm_keys_append_row(&key, e.tid, handle), 0);
        } else {
            encode_entry(&e, &key);
        }
        /* Table range: everything of probe.tid. */
        cm_buf_reset(&start);
        cm_buf_reset(&end);
        assert_int_equal(cm_keys_table_range(probe.tid, &start, &end), 0);
        int want = e.tid == probe.tid;
        assert_int_equal(in_range(&key, &start, &end), want);
        hits[0] += want;
        /* Rows range. */
        cm_buf_reset(&start);
        cm_buf_reset(&end);
        assert_int_equal(cm_keys_rows_range(probe.tid, &start, &end), 0);
        want = is_row && e.tid == probe.tid;
        assert_int_equal(in_range(&key, &start, &end), want);
        hits[1] += want;
        /* Index range. */
        cm_buf_reset(&start);
        cm_buf_reset(&end);
        assert_int_equal(cm_keys_index_range(probe.tid, probe.iid, &start, &end), 0);
        want = !is_row && e.tid == probe.tid && e.iid == probe.iid;
        assert_int_equal(in_range(&key, &start, &end), want);
        hits[2] += want;
        /* Value-prefix range over the first n values of probe. */
        size_t n = tu_below(probe.ncols + 1);
        cm_buf_reset(&start);
        cm_buf_reset(&end);
        assert_int_equal(
            cm_keys_index_prefix_range(probe.tid, probe.iid, probe.vals, n, &start, &end, &err), 0);
        want = !is_row && e.tid == probe.tid && e.iid == probe.iid;
        for (size_t j = 0; want && j < n; j++) {
            want = tu_datum_cmp(&e.vals[j], &probe.vals[j]) == 0;
        }
        assert_int_equal(in_range(&key, &start, &end), want);
        hits[3] += want && n > 0;
    }
    for (int i = 0; i < 4; i++) {
        assert_true(hits[i] > 500); /* each range really contained keys */
    }
    cm_buf_fini(&key);
    cm_buf_fini(&start);
    cm_buf_fini(&end);
}

/* ---- metadata ------------------------------------------------------------------------------ */

typedef struct meta {
    cm_meta_kind kind;
    uint8_t name[192], field[192]; /* room for what a garbled key decodes to */
    size_t name_len, field_len;
    int64_t index;
} meta;

static void rand_meta(meta *m, const meta *like)
{
    static const cm_meta_kind kinds[] = {CM_META_STRING, CM_META_HASH, CM_META_LIST};
    m->kind = like && tu_chance(50) ? like->kind : kinds[tu_below(3)];
    m->name_len = like ? tu_near_bytes(like->name, like->name_len, m->name, BYTES_CAP)
                       : tu_rand_bytes(m->name, BYTES_CAP);
    m->field_len = like ? tu_near_bytes(like->field, like->field_len, m->field, BYTES_CAP)
                        : tu_rand_bytes(m->field, BYTES_CAP);
    m->index = like && tu_chance(30) ? like->index : tu_rand_int64();
}

static void encode_meta(const meta *m, cm_buf *b)
{
    cm_slice name = cm_slice_make(m->name, m->name_len);
    cm_buf_reset(b);
    switch (m->kind) {
    case CM_META_STRING:
        assert_int_equal(cm_keys_append_meta_string(b, name), 0);
        break;
    case CM_META_HASH:
        assert_int_equal(
            cm_keys_append_meta_hash_field(b, name, cm_slice_make(m->field, m->field_len)), 0);
        break;
    case CM_META_LIST:
        assert_int_equal(cm_keys_append_meta_list_item(b, name, m->index), 0);
        break;
    }
}

static int meta_cmp(const meta *a, const meta *b)
{
    int c = cm_slice_cmp(cm_slice_make(a->name, a->name_len), cm_slice_make(b->name, b->name_len));
    if (c != 0) {
        return c;
    }
    if (a->kind != b->kind) {
        return CMP3(a->kind, b->kind);
    }
    switch (a->kind) {
    case CM_META_HASH:
        return cm_slice_cmp(cm_slice_make(a->field, a->field_len),
                            cm_slice_make(b->field, b->field_len));
    case CM_META_LIST:
        return CMP3(a->index, b->index);
    default:
        return 0;
    }
}

static void test_meta_pairs(void **state)
{
    (void)state;
    cm_buf ka = CM_BUF_INIT, kb = CM_BUF_INIT, name = CM_BUF_INIT, field = CM_BUF_INIT;
    cm_buf start = CM_BUF_INIT, end = CM_BUF_INIT;
    cm_err err;
    static meta a, b;
    int contained = 0;
    for (int i = 0; i < PAIRS; i++) {
        rand_meta(&a, NULL);
        rand_meta(&b, &a);
        encode_meta(&a, &ka);
        encode_meta(&b, &kb);
        expect_order(meta_cmp(&a, &b), &ka, &kb, "meta");
        assert_int_equal(cm_keys_kind(cm_buf_slice(&ka)), CM_KEY_META);
        /* Round trip. */
        cm_meta_kind kind;
        int64_t index = 0;
        cm_buf_reset(&name);
        cm_buf_reset(&field);
        assert_int_equal(cm_keys_decode_meta(cm_buf_slice(&ka), &kind, &name, &field, &index, &err),
                         0);
        assert_int_equal(kind, a.kind);
        assert_true(cm_slice_eq(cm_buf_slice(&name), cm_slice_make(a.name, a.name_len)));
        if (kind == CM_META_HASH) {
            assert_true(cm_slice_eq(cm_buf_slice(&field), cm_slice_make(a.field, a.field_len)));
        } else if (kind == CM_META_LIST) {
            assert_int_equal(index, a.index);
        }
        assert_int_equal(cm_keys_decode_meta(cm_buf_slice(&ka), &kind, NULL, NULL, NULL, &err), 0);
        /* The prefix range of a's name and kind holds b exactly when they share both. */
        cm_buf_reset(&start);
        cm_buf_reset(&end);
        assert_int_equal(
            cm_keys_append_meta_prefix(&start, cm_slice_make(a.name, a.name_len), a.kind), 0);
        assert_int_equal(cm_keys_prefix_next(cm_buf_slice(&start), &end), 0);
        int want = a.kind == b.kind && cm_slice_eq(cm_slice_make(a.name, a.name_len),
                                                   cm_slice_make(b.name, b.name_len));
        assert_int_equal(in_range(&kb, &start, &end), want);
        contained += want;
    }
    assert_true(contained > PAIRS / 20);
    cm_buf_fini(&ka);
    cm_buf_fini(&kb);
    cm_buf_fini(&name);
    cm_buf_fini(&field);
    cm_buf_fini(&start);
    cm_buf_fini(&end);
}

static void test_meta_layout_and_bad(void **state)
{
    (void)state;
    cm_buf b = CM_BUF_INIT;
    cm_err err;
    cm_meta_kind kind;
    assert_int_equal(
        cm_keys_append_meta_hash_field(&b, cm_slice_cstr("DB:1"), cm_slice_cstr("Table:5")), 0);
    static const uint8_t want[] = {'m', 'D', 'B', ':', '1', 0,   0,   0,   0, 0xfb,
                                   'h', 'T', 'a', 'b', 'l', 'e', ':', '5', 0, 0xfe};
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.ptr, want, sizeof(want));
    /* Stray byte, unknown kind, missing kind, not 'm'. */
    assert_int_equal(cm_buf_append_u8(&b, 0), 0);
    assert_int_equal(cm_keys_decode_meta(cm_buf_slice(&b), &kind, NULL, NULL, NULL, &err),
                     CM_E_CORRUPT);
    uint8_t bad[sizeof(want)];
    memcpy(bad, want, sizeof(bad));
    bad[10] = 'x';
    assert_int_equal(
        cm_keys_decode_meta(cm_slice_make(bad, sizeof(bad)), &kind, NULL, NULL, NULL, &err),
        CM_E_CORRUPT);
    assert_int_equal(cm_keys_decode_meta(cm_slice_make(want, 10), &kind, NULL, NULL, NULL, &err),
                     CM_E_CORRUPT);
    bad[10] = 'h';
    bad[0] = 't';
    assert_int_equal(
        cm_keys_decode_meta(cm_slice_make(bad, sizeof(bad)), &kind, NULL, NULL, NULL, &err),
        CM_E_CORRUPT);
    cm_buf_fini(&b);
}

/* ---- MVCC ---------------------------------------------------------------------------------- */

static uint64_t rand_ts(void)
{
    static const uint64_t edges[] = {0, 1, UINT64_MAX - 1, UINT64_MAX};
    return tu_chance(10) ? edges[tu_below(4)] : tu_rand_uint64();
}

static void test_mvcc_pairs(void **state)
{
    (void)state;
    cm_buf a = CM_BUF_INIT, b = CM_BUF_INIT, uk = CM_BUF_INIT, start = CM_BUF_INIT;
    cm_buf end = CM_BUF_INIT;
    cm_err err;
    uint8_t ua[BYTES_CAP], ub[BYTES_CAP];
    int same_key = 0, prefix_keys = 0;
    for (int i = 0; i < PAIRS; i++) {
        size_t na = tu_rand_bytes(ua, BYTES_CAP);
        size_t nb = tu_near_bytes(ua, na, ub, BYTES_CAP);
        uint64_t ta = rand_ts();
        uint64_t tb = tu_chance(20) ? ta : (tu_chance(30) ? ta + 1 : rand_ts());
        cm_slice sa = cm_slice_make(ua, na), sb = cm_slice_make(ub, nb);
        cm_buf_reset(&a);
        cm_buf_reset(&b);
        assert_int_equal(cm_keys_append_mvcc(&a, sa, ta), 0);
        assert_int_equal(cm_keys_append_mvcc(&b, sb, tb), 0);
        /* User key ascending, then timestamp descending (newest version first). */
        int c = cm_slice_cmp(sa, sb);
        int want = c != 0 ? c : CMP3(tb, ta);
        expect_order(want, &a, &b, "mvcc");
        same_key += c == 0 && ta != tb;
        prefix_keys += c != 0 && na != nb && memcmp(ua, ub, na < nb ? na : nb) == 0;
        /* Decode and split. */
        uint64_t ts = 0;
        cm_buf_reset(&uk);
        assert_int_equal(cm_keys_decode_mvcc(cm_buf_slice(&a), &uk, &ts, &err), 0);
        assert_true(cm_slice_eq(cm_buf_slice(&uk), sa));
        assert_true(ts == ta);
        cm_slice ea, eb;
        uint64_t t1, t2;
        assert_int_equal(cm_keys_split_mvcc(cm_buf_slice(&a), &ea, &t1, &err), 0);
        assert_int_equal(cm_keys_split_mvcc(cm_buf_slice(&b), &eb, &t2, &err), 0);
        assert_true(t1 == ta && t2 == tb);
        assert_int_equal(cm_slice_eq(ea, eb), c == 0);
        /* The versions of a's user key are exactly [prefix, prefix_next(prefix)). */
        cm_buf_reset(&start);
        cm_buf_reset(&end);
        assert_int_equal(cm_keys_append_mvcc_prefix(&start, sa), 0);
        assert_true(cm_slice_eq(cm_buf_slice(&start), ea));
        assert_int_equal(cm_keys_prefix_next(cm_buf_slice(&start), &end), 0);
        assert_int_equal(in_range(&b, &start, &end), c == 0);
    }
    assert_true(same_key > PAIRS / 20);
    assert_true(prefix_keys > PAIRS / 20);
    cm_buf_fini(&a);
    cm_buf_fini(&b);
    cm_buf_fini(&uk);
    cm_buf_fini(&start);
    cm_buf_fini(&end);
}

static void test_mvcc_layout_and_bad(void **state)
{
    (void)state;
    cm_buf b = CM_BUF_INIT, uk = CM_BUF_INIT;
    cm_err err;
    uint64_t ts;
    assert_int_equal(cm_keys_append_mvcc(&b, cm_slice_cstr("k1"), 0x0102030405060708ull), 0);
    static const uint8_t want[] = {'k',  '1',  0,    0,    0,    0,    0,    0,   0xf9,
                                   0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 0xf9, 0xf8, 0xf7};
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.ptr, want, sizeof(want));
    /* The timestamp must be exactly 8 bytes. */
    assert_int_equal(cm_keys_decode_mvcc(cm_slice_make(want, 16), &uk, &ts, &err), CM_E_CORRUPT);
    assert_int_equal(cm_buf_append_u8(&b, 0), 0);
    assert_int_equal(cm_keys_decode_mvcc(cm_buf_slice(&b), &uk, &ts, &err), CM_E_CORRUPT);
    assert_int_equal(cm_keys_decode_mvcc(cm_slice_make(want, 9), &uk, &ts, &err), CM_E_CORRUPT);
    assert_int_equal(cm_keys_decode_mvcc(cm_slice_make(NULL, 0), &uk, &ts, &err), CM_E_CORRUPT);
    /* A garbled user key. */
    uint8_t bad[sizeof(want)];
    memcpy(bad, want, sizeof(bad));
    bad[8] = 0x10;
    assert_int_equal(cm_keys_decode_mvcc(cm_slice_make(bad, sizeof(bad)), &uk, &ts, &err),
                     CM_E_CORRUPT);
    assert_int_equal(uk.len, 0); /* nothing appended on failure */
    cm_buf_fini(&b);
    cm_buf_fini(&uk);
}

/* ---- every decoder on truncated and garbled keys --------------------------------------------- */

typedef struct tally {
    long ok, bad;
} tally;

/* Feeds in to every key decoder; whatever decodes must re-encode to exactly in. */
static void decode_all(cm_slice in, size_t ncols, cm_arena *arena, cm_buf *re, tally *t)
{
    cm_err err;
    int64_t tid, iid, h;
    int ok = 0;
    if (cm_keys_decode_row(in, &tid, &h, &err) == 0) {
        cm_buf_reset(re);
        assert_int_equal(cm_keys_append_row(re, tid, h), 0);
        assert_true(cm_slice_eq(cm_buf_slice(re), in));
        ok = 1;
    }
    cm_slice values;
    if (cm_keys_decode_index(in, &tid, &iid, &values, &err) == 0) {
        cm_datum out[COLS_MAX + 1];
        bool has_handle = false;
        if (cm_keys_decode_index_values(values, ncols, arena, out, &has_handle, &h, &err) == 0) {
            cm_buf_reset(re);
            assert_int_equal(cm_keys_append_index_prefix(re, tid, iid), 0);
            if (has_handle) {
                out[ncols] = cm_datum_int64(h);
            }
            assert_int_equal(cm_codec_encode_datums(re, out, ncols + has_handle, &err), 0);
            assert_true(cm_slice_eq(cm_buf_slice(re), in));
            ok = 1;
        } else {
            assert_int_equal(err.code, CM_E_CORRUPT);
        }
    }
    cm_meta_kind kind;
    cm_buf name = CM_BUF_INIT, field = CM_BUF_INIT;
    int64_t index;
    if (cm_keys_decode_meta(in, &kind, &name, &field, &index, &err) == 0) {
        meta m = {.kind = kind, .name_len = name.len, .field_len = field.len, .index = index};
        assert_true(name.len <= sizeof(m.name) && field.len <= sizeof(m.field));
        memcpy(m.name, name.ptr ? name.ptr : (uint8_t *)"", name.len);
        memcpy(m.field, field.ptr ? field.ptr : (uint8_t *)"", field.len);
        encode_meta(&m, re);
        assert_true(cm_slice_eq(cm_buf_slice(re), in));
        ok = 1;
    }
    cm_buf_reset(&name);
    uint64_t ts;
    if (cm_keys_decode_mvcc(in, &name, &ts, &err) == 0) {
        cm_buf_reset(re);
        assert_int_equal(cm_keys_append_mvcc(re, cm_buf_slice(&name), ts), 0);
        assert_true(cm_slice_eq(cm_buf_slice(re), in));
        ok = 1;
    } else {
        assert_int_equal(err.code, CM_E_CORRUPT);
    }
    cm_buf_fini(&name);
    cm_buf_fini(&field);
    cm_arena_reset(arena);
    t->ok += ok;
    t->bad += !ok;
}

static void garble(cm_buf *b)
{
    int k = 1 + (int)tu_below(3);
    for (int i = 0; i < k && b->len > 0; i++) {
        size_t at = tu_below(b->len);
        if (tu_chance(50)) {
            b->ptr[at] ^= (uint8_t)(1u << tu_below(8));
        } else {
            b->ptr[at] = (uint8_t)tu_next();
        }
    }
}

static void test_keys_truncated_and_garbled(void **state)
{
    (void)state;
    cm_buf key = CM_BUF_INIT, re = CM_BUF_INIT;
    cm_arena arena;
    cm_arena_init(&arena, 0);
    static entry e;
    static meta m;
    tally t = {0, 0};
    uint8_t uk[BYTES_CAP];
    for (int i = 0; i < 20000; i++) {
        size_t ncols = COLS_MAX;
        switch (tu_below(4)) {
        case 0:
            cm_buf_reset(&key);
            assert_int_equal(cm_keys_append_row(&key, rand_id(), tu_rand_int64()), 0);
            break;
        case 1:
            rand_entry(&e, NULL);
            encode_entry(&e, &key);
            ncols = e.ncols;
            break;
        case 2:
            rand_meta(&m, NULL);
            encode_meta(&m, &key);
            break;
        default:
            cm_buf_reset(&key);
            assert_int_equal(cm_keys_append_mvcc(
                                 &key, cm_slice_make(uk, tu_rand_bytes(uk, BYTES_CAP)), rand_ts()),
                             0);
            break;
        }
        decode_all(cm_buf_slice(&key), ncols, &arena, &re, &t);
        if (i % 8 == 0) {
            for (size_t len = 0; len < key.len; len++) {
                decode_all(cm_slice_make(key.ptr, len), ncols, &arena, &re, &t);
            }
        }
        garble(&key);
        decode_all(cm_buf_slice(&key), ncols, &arena, &re, &t);
    }
    assert_true(t.ok > 20000);
    assert_true(t.bad > 20000);
    cm_buf_fini(&key);
    cm_buf_fini(&re);
    cm_arena_fini(&arena);
}

int main(void)
{
    tu_seed("keys");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_row_layout),
        cmocka_unit_test(test_row_pairs),
        cmocka_unit_test(test_index_handle_policy),
        cmocka_unit_test(test_index_decode_bad),
        cmocka_unit_test(test_index_pairs),
        cmocka_unit_test(test_prefix_next),
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_meta_layout_and_bad),
        cmocka_unit_test(test_meta_pairs),
        cmocka_unit_test(test_mvcc_layout_and_bad),
        cmocka_unit_test(test_mvcc_pairs),
        cmocka_unit_test(test_keys_truncated_and_garbled),
    };
    return cmocka_run_group_tests_name("keys", tests, NULL, NULL);
}
