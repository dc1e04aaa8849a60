/*
 * Unit tests for cm_row: the byte layout, random rows of every type that must decode back exactly
 * (whole or any subset of columns, in any order), ADD/DROP COLUMN semantics (absent ids),
 * header widths, limits, refused input, and truncated or garbled rows, which must be refused or
 * decode to values that re-encode to the same bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cm_row.h"
#include "codec_testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROWS     20000
#define COLS_MAX 12

typedef struct row {
    size_t n;
    cm_row_cell cells[COLS_MAX];
    cm_dtype types[COLS_MAX]; /* schema type of each cell (NULL cells too) */
    uint8_t bytes[COLS_MAX][TU_PAYLOAD_CAP];
} row;

static uint32_t rand_col_id(void)
{
    switch (tu_below(8)) {
    case 0:
        return (uint32_t)tu_below(65536);
    case 1:
        return (uint32_t)tu_next();
    default:
        return (uint32_t)tu_below(40);
    }
}

static bool has_id(const row *r, uint32_t id)
{
    for (size_t i = 0; i < r->n; i++) {
        if (r->cells[i].id == id) {
            return true;
        }
    }
    return false;
}

static void rand_row(row *r)
{
    r->n = tu_below(COLS_MAX + 1);
    for (size_t i = 0; i < r->n; i++) {
        uint32_t id;
        do {
            id = rand_col_id();
        } while (has_id(r, id) && tu_chance(99));
        if (has_id(r, id)) { /* give up on small pools: find a free id */
            for (id = 0; has_id(r, id); id++) {
            }
        }
        r->cells[i].id = id;
        r->types[i] = tu_row_types[tu_below(tu_row_types_n)];
        r->cells[i].value =
            tu_chance(15) ? cm_datum_null() : tu_rand_datum(r->types[i], r->bytes[i]);
    }
}

static void encode_row(const row *r, cm_buf *b)
{
    cm_err err;
    cm_buf_reset(b);
    int rc = cm_row_encode(b, r->cells, r->n, &err);
    if (rc != 0) {
        fail_msg("row encode: %s", err.msg);
    }
}

static void test_layout(void **state)
{
    (void)state;
    cm_buf b = CM_BUF_INIT;
    cm_err err;
    const cm_row_cell cells[] = {
        {3, cm_datum_string(cm_slice_cstr("ab"))},
        {2, cm_datum_null()},
        {1, cm_datum_int64(-2)},
        {7, cm_datum_uint64(300)},
    };
    assert_int_equal(cm_row_encode(&b, cells, 4, &err), 0);
    static const uint8_t want[] = {
        0x01, 0x00,                         /* version, flags: 1-byte ids, 2-byte offsets */
        0x03, 0x00, 0x01, 0x00,             /* 3 values, 1 NULL */
        0x01, 0x03, 0x07,                   /* value ids */
        0x02,                               /* NULL ids */
        0x01, 0x00, 0x03, 0x00, 0x05, 0x00, /* end offsets */
        0xfe, 'a',  'b',  0x2c, 0x01,       /* -2 in 1 byte, "ab", 300 in 2 bytes */
    };
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.ptr, want, sizeof(want));

    cm_row_view v;
    assert_int_equal(cm_row_view_init(&v, cm_buf_slice(&b), &err), 0);
    assert_int_equal(cm_row_view_count(&v), 4);
    uint32_t id;
    bool is_null;
    cm_row_view_column(&v, 3, &id, &is_null);
    assert_true(id == 2 && is_null);
    cm_slice value;
    assert_int_equal(cm_row_view_find(&v, 3, &value), CM_ROW_VALUE);
    assert_true(cm_slice_eq(value, cm_slice_cstr("ab")));
    assert_int_equal(cm_row_view_find(&v, 2, &value), CM_ROW_NULL);
    assert_int_equal(cm_row_view_find(&v, 4, &value), CM_ROW_ABSENT);

    /* The empty row. */
    cm_buf_reset(&b);
    assert_int_equal(cm_row_encode(&b, NULL, 0, &err), 0);
    static const uint8_t empty[] = {0x01, 0x00, 0x00, 0x00, 0x00, 0x00};
    assert_int_equal(b.len, sizeof(empty));
    assert_memory_equal(b.ptr, empty, sizeof(empty));
    assert_int_equal(cm_row_view_init(&v, cm_buf_slice(&b), &err), 0);
    assert_int_equal(cm_row_view_find(&v, 0, NULL), CM_ROW_ABSENT);
    cm_buf_fini(&b);
}

/* Schema evolution: a column added after the row was written is absent (its default applies); a
 * dropped column's value is simply never asked for. */
static void test_add_drop_column(void **state)
{
    (void)state;
    cm_buf b = CM_BUF_INIT;
    cm_err err;
    const cm_row_cell cells[] = {
        {1, cm_datum_int64(10)},
        {2, cm_datum_string(cm_slice_cstr("dropped later"))},
        {3, cm_datum_null()},
    };
    assert_int_equal(cm_row_encode(&b, cells, 3, &err), 0);
    const cm_row_col schema[] = {{4, CM_DT_STRING}, {3, CM_DT_DECIMAL}, {1, CM_DT_INT64}};
    cm_datum out[3];
    bool present[3];
    assert_int_equal(cm_row_decode(cm_buf_slice(&b), schema, 3, out, present, &err), 0);
    assert_false(present[0]);
    assert_int_equal(out[0].type, CM_DT_NULL);
    assert_true(present[1]);
    assert_int_equal(out[1].type, CM_DT_NULL);
    assert_true(present[2]);
    assert_true(out[2].type == CM_DT_INT64 && out[2].v.i64 == 10);
    assert_int_equal(cm_row_decode(cm_buf_slice(&b), schema, 3, out, NULL, &err), 0);
    cm_buf_fini(&b);
}

static void test_roundtrip(void **state)
{
    (void)state;
    cm_buf b = CM_BUF_INIT, re = CM_BUF_INIT;
    cm_err err;
    static row r;
    long subsets = 0, absent = 0;
    for (int iter = 0; iter < ROWS; iter++) {
        rand_row(&r);
        encode_row(&r, &b);
        /* All columns, in the order given, plus an absent one. */
        cm_row_col cols[COLS_MAX + 1];
        cm_datum out[COLS_MAX + 1];
        bool present[COLS_MAX + 1];
        for (size_t i = 0; i < r.n; i++) {
            cols[i].id = r.cells[i].id;
            cols[i].type = r.types[i];
        }
        uint32_t missing;
        do {
            missing = rand_col_id();
        } while (has_id(&r, missing));
        cols[r.n].id = missing;
        cols[r.n].type = CM_DT_INT64;
        int rc = cm_row_decode(cm_buf_slice(&b), cols, r.n + 1, out, present, &err);
        if (rc != 0) {
            fail_msg("row decode: %s", err.msg);
        }
        for (size_t i = 0; i < r.n; i++) {
            assert_true(present[i]);
            if (!tu_datum_same(&r.cells[i].value, &out[i], false)) {
                fail_msg("column %u (%s) changed", r.cells[i].id, cm_dtype_name(r.types[i]));
            }
        }
        assert_false(present[r.n]);
        absent++;
        /* Re-encoding what was decoded gives the same bytes. */
        cm_row_cell again[COLS_MAX];
        for (size_t i = 0; i < r.n; i++) {
            again[i].id = cols[i].id;
            again[i].value = out[i];
        }
        cm_buf_reset(&re);
        assert_int_equal(cm_row_encode(&re, again, r.n, &err), 0);
        assert_true(cm_slice_eq(cm_buf_slice(&b), cm_buf_slice(&re)));
        /* A random subset in a random order. */
        size_t k = 0;
        size_t pick[COLS_MAX];
        for (size_t i = 0; i < r.n; i++) {
            if (tu_chance(40)) {
                pick[k++] = i;
            }
        }
        for (size_t i = k; i > 1; i--) {
            size_t j = tu_below(i);
            size_t t = pick[i - 1];
            pick[i - 1] = pick[j];
            pick[j] = t;
        }
        for (size_t i = 0; i < k; i++) {
            cols[i].id = r.cells[pick[i]].id;
            cols[i].type = r.types[pick[i]];
        }
        assert_int_equal(cm_row_decode(cm_buf_slice(&b), cols, k, out, present, &err), 0);
        for (size_t i = 0; i < k; i++) {
            assert_true(present[i] && tu_datum_same(&r.cells[pick[i]].value, &out[i], false));
        }
        subsets += k > 0;
    }
    assert_true(subsets > ROWS / 2);
    assert_true(absent == ROWS);
    cm_buf_fini(&b);
    cm_buf_fini(&re);
}

static void test_widths_and_limits(void **state)
{
    (void)state;
    cm_buf b = CM_BUF_INIT;
    cm_err err;
    cm_row_view v;
    /* Id widths follow the largest id. */
    const uint32_t max_ids[] = {0, 255, 256, 65535, 65536, UINT32_MAX};
    const uint8_t width[] = {1, 1, 2, 2, 4, 4};
    for (size_t i = 0; i < 6; i++) {
        cm_row_cell c[2] = {{1, cm_datum_int64(1)}, {max_ids[i], cm_datum_null()}};
        cm_buf_reset(&b);
        assert_int_equal(cm_row_encode(&b, c, 2, &err), 0);
        assert_int_equal(cm_row_view_init(&v, cm_buf_slice(&b), &err), 0);
        assert_int_equal(v.id_width, width[i]);
        assert_int_equal(cm_row_view_find(&v, max_ids[i], NULL), CM_ROW_NULL);
    }
    /* Values past 64 KiB switch to 4-byte offsets. */
    size_t big_len = 70000;
    uint8_t *big = malloc(big_len);
    assert_non_null(big);
    memset(big, 'x', big_len);
    cm_row_cell c2[2] = {{1, cm_datum_bytes(cm_slice_make(big, 65535))}, {2, cm_datum_null()}};
    cm_buf_reset(&b);
    assert_int_equal(cm_row_encode(&b, c2, 2, &err), 0);
    assert_int_equal(cm_row_view_init(&v, cm_buf_slice(&b), &err), 0);
    assert_int_equal(v.off_width, 2);
    c2[1].value = cm_datum_string(cm_slice_make("y", 1));
    cm_buf_reset(&b);
    assert_int_equal(cm_row_encode(&b, c2, 2, &err), 0);
    assert_int_equal(cm_row_view_init(&v, cm_buf_slice(&b), &err), 0);
    assert_int_equal(v.off_width, 4);
    cm_slice value;
    assert_int_equal(cm_row_view_find(&v, 2, &value), CM_ROW_VALUE);
    assert_true(cm_slice_eq(value, cm_slice_make("y", 1)));
    free(big);

    /* CM_ROW_COLS_MAX columns, in reverse order; one more is refused. */
    cm_row_cell *many = calloc(CM_ROW_COLS_MAX + 1, sizeof(*many));
    assert_non_null(many);
    for (size_t i = 0; i <= CM_ROW_COLS_MAX; i++) {
        many[i].id = (uint32_t)(CM_ROW_COLS_MAX - i) * 3;
        many[i].value = i % 3 == 0 ? cm_datum_null() : cm_datum_int64((int64_t)i * 1000);
    }
    cm_buf_reset(&b);
    assert_int_equal(cm_row_encode(&b, many, CM_ROW_COLS_MAX, &err), 0);
    assert_int_equal(cm_row_view_init(&v, cm_buf_slice(&b), &err), 0);
    assert_int_equal(cm_row_view_count(&v), CM_ROW_COLS_MAX);
    for (size_t i = 0; i < CM_ROW_COLS_MAX; i += 97) {
        cm_datum d;
        assert_int_equal(cm_row_view_find(&v, many[i].id, &value),
                         i % 3 == 0 ? CM_ROW_NULL : CM_ROW_VALUE);
        if (i % 3 != 0) {
            assert_int_equal(cm_row_value_decode(CM_DT_INT64, value, &d, &err), 0);
            assert_true(d.v.i64 == (int64_t)i * 1000);
        }
    }
    size_t len0 = b.len;
    assert_int_equal(cm_row_encode(&b, many, CM_ROW_COLS_MAX + 1, &err), CM_E_INVALID);
    assert_int_equal(b.len, len0);
    free(many);

    /* Duplicate ids (as values, as NULLs, across both) and invalid values are refused. */
    cm_row_cell dup1[2] = {{5, cm_datum_int64(1)}, {5, cm_datum_int64(2)}};
    cm_row_cell dup2[3] = {{5, cm_datum_null()}, {6, cm_datum_int64(2)}, {5, cm_datum_null()}};
    cm_row_cell dup3[3] = {{4, cm_datum_int64(1)}, {5, cm_datum_int64(2)}, {5, cm_datum_null()}};
    cm_row_cell nan[1] = {{1, cm_datum_float64(0.0 / 0.0)}};
    cm_row_cell year[1] = {{1, cm_datum_uint(CM_DT_YEAR, 1900)}};
    assert_int_equal(cm_row_encode(&b, dup1, 2, &err), CM_E_INVALID);
    assert_int_equal(cm_row_encode(&b, dup2, 3, &err), CM_E_INVALID);
    assert_int_equal(cm_row_encode(&b, dup3, 3, &err), CM_E_INVALID);
    assert_int_equal(cm_row_encode(&b, nan, 1, &err), CM_E_INVALID);
    assert_int_equal(cm_row_encode(&b, year, 1, &err), CM_E_INVALID);
    assert_int_equal(b.len, len0);
    cm_buf_fini(&b);
}

static void expect_value_corrupt(cm_dtype t, const uint8_t *bytes, size_t n)
{
    cm_datum d;
    cm_err err;
    int rc = cm_row_value_decode(t, cm_slice_make(bytes, n), &d, &err);
    if (rc != CM_E_CORRUPT) {
        fail_msg("%s value of %zu bytes: rc %d, want CM_E_CORRUPT", cm_dtype_name(t), n, rc);
    }
}

static void test_bad_values_and_headers(void **state)
{
    (void)state;
    /* Integer widths: only 1, 2, 4, 8, and the smallest that holds the value. */
    expect_value_corrupt(CM_DT_INT64, (const uint8_t *)"\x01\x02\x03", 3);
    expect_value_corrupt(CM_DT_INT64, (const uint8_t *)"", 0);
    expect_value_corrupt(CM_DT_INT64, (const uint8_t *)"\x05\x00", 2);
    expect_value_corrupt(CM_DT_INT64, (const uint8_t *)"\xff\xff", 2); /* -1 fits 1 byte */
    expect_value_corrupt(CM_DT_UINT64, (const uint8_t *)"\xff\x00", 2);
    expect_value_corrupt(CM_DT_UINT64, (const uint8_t *)"\x01\x00\x00\x00\x00\x00\x00\x00", 8);
    expect_value_corrupt(CM_DT_FLOAT64, (const uint8_t *)"\x00\x00\x00\x00\x00\x00\xf8", 7);
    expect_value_corrupt(CM_DT_FLOAT64, (const uint8_t *)"\x00\x00\x00\x00\x00\x00\xf8\x7f", 8);
    expect_value_corrupt(CM_DT_FLOAT32, (const uint8_t *)"\x00\x00\xc0\x7f", 4); /* NaN */
    expect_value_corrupt(CM_DT_FLOAT32, (const uint8_t *)"\x00\x00\x80\x3f\x00", 5);
    /* Decimal: scale byte below the value's own scale, above 30, stray bytes, empty. */
    expect_value_corrupt(CM_DT_DECIMAL, (const uint8_t *)"\x00\x03\x7f\x33\x00", 5); /* 0.05 */
    expect_value_corrupt(CM_DT_DECIMAL, (const uint8_t *)"\x1f\x02", 2);
    expect_value_corrupt(CM_DT_DECIMAL, (const uint8_t *)"\x00\x02\x00", 3);
    expect_value_corrupt(CM_DT_DECIMAL, (const uint8_t *)"\x00", 1);
    /* Domains. */
    expect_value_corrupt(CM_DT_YEAR, (const uint8_t *)"\x6c\x07", 2); /* 1900 */
    expect_value_corrupt(CM_DT_ENUM, (const uint8_t *)"\x00\x00\x01\x00", 4);
    expect_value_corrupt(CM_DT_TIME, (const uint8_t *)"\xc1\x39\xcf\x3d\xbf\x02\x00\x00", 8);
    expect_value_corrupt(CM_DT_DATE, (const uint8_t *)"\x01\x00\x00\x00\x00\x44\xb2\x19", 8);
    expect_value_corrupt(CM_DT_NULL, (const uint8_t *)"\x00", 1);
    cm_datum d;
    cm_err err;
    assert_int_equal(
        cm_row_value_decode(CM_DT_DECIMAL, cm_slice_make("\x03\x03\x7f\x33\x00", 5), &d, &err), 0);
    assert_int_equal(d.v.dec.frac, 3); /* 0.050: the scale byte restores the trailing zero */

    /* Headers. */
    cm_row_view v;
    const struct {
        const char *bytes;
        size_t n;
    } bad[] = {
        {"", 0},
        {"\x01\x00\x00\x00\x00", 5},                          /* short */
        {"\x02\x00\x00\x00\x00\x00", 6},                      /* version */
        {"\x01\x08\x00\x00\x00\x00", 6},                      /* unknown flag bit */
        {"\x01\x03\x00\x00\x00\x00", 6},                      /* id width code 3 */
        {"\x01\x04\x00\x00\x00\x00", 6},                      /* wide offsets for no data */
        {"\x01\x01\x00\x00\x01\x00\x05\x00", 8},              /* 2-byte id where 1 byte does */
        {"\x01\x00\x01\x00\x00\x00\x01\x01\x00", 9},          /* offset past the data */
        {"\x01\x00\x00\x00\x02\x00\x05\x05", 8},              /* duplicate NULL ids */
        {"\x01\x00\x00\x00\x02\x00\x06\x05", 8},              /* NULL ids out of order */
        {"\x01\x00\x01\x00\x01\x00\x05\x05\x01\x00\x07", 11}, /* id both NULL and not */
        {"\x01\x00\x02\x00\x00\x00\x01\x02\x01\x00\x00\x00\x07", 13}, /* offsets go back */
        {"\x01\x00\x01\x00\x00\x00\x01\x01\x00\x07\x08", 11},         /* stray data */
        {"\x01\x00\x00\x10\x00\x00", 6}, /* 4096 columns announced, none there */
        {"\x01\x00\x01\x10\x00\x00", 6}, /* 4097 columns */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = cm_row_view_init(&v, cm_slice_make(bad[i].bytes, bad[i].n), &err);
        if (rc != CM_E_CORRUPT) {
            fail_msg("bad header %zu: rc %d", i, rc);
        }
    }
    assert_int_equal(
        cm_row_view_init(&v, cm_slice_make("\x01\x00\x01\x00\x00\x00\x01\x01\x00\x07", 10), &err),
        0);
}

/* Any bytes: refused, or every listed column decodes with its type and re-encodes exactly. */
static void decode_any(cm_slice in, const row *r, cm_buf *re, long *ok, long *bad)
{
    cm_err err;
    cm_row_view v;
    if (cm_row_view_init(&v, in, &err) != 0) {
        assert_int_equal(err.code, CM_E_CORRUPT);
        (*bad)++;
        return;
    }
    size_t n = cm_row_view_count(&v);
    cm_row_cell *cells = calloc(n ? n : 1, sizeof(*cells));
    assert_non_null(cells);
    bool all = true;
    for (size_t i = 0; i < n && all; i++) {
        bool is_null;
        cm_row_view_column(&v, i, &cells[i].id, &is_null);
        cm_slice value;
        cm_row_presence p = cm_row_view_find(&v, cells[i].id, &value);
        assert_int_equal(p, is_null ? CM_ROW_NULL : CM_ROW_VALUE);
        if (is_null) {
            cells[i].value = cm_datum_null();
            continue;
        }
        /* The type the schema gives this id, or a guess for ids the row did not have. */
        cm_dtype t = tu_row_types[cells[i].id % tu_row_types_n];
        for (size_t j = 0; j < r->n; j++) {
            if (r->cells[j].id == cells[i].id) {
                t = r->types[j];
            }
        }
        if (cm_row_value_decode(t, value, &cells[i].value, &err) != 0) {
            assert_int_equal(err.code, CM_E_CORRUPT);
            all = false;
        }
    }
    if (all) {
        cm_buf_reset(re);
        assert_int_equal(cm_row_encode(re, cells, n, &err), 0);
        assert_true(cm_slice_eq(cm_buf_slice(re), in));
        (*ok)++;
    } else {
        (*bad)++;
    }
    free(cells);
}

static void test_truncated_and_garbled(void **state)
{
    (void)state;
    cm_buf b = CM_BUF_INIT, re = CM_BUF_INIT;
    static row r;
    long ok = 0, bad = 0;
    for (int iter = 0; iter < ROWS; iter++) {
        rand_row(&r);
        encode_row(&r, &b);
        decode_any(cm_buf_slice(&b), &r, &re, &ok, &bad);
        if (iter % 16 == 0) {
            for (size_t len = 0; len < b.len; len++) {
                decode_any(cm_slice_make(b.ptr, len), &r, &re, &ok, &bad);
            }
        }
        int k = 1 + (int)tu_below(3);
        for (int i = 0; i < k && b.len > 0; i++) {
            size_t at = tu_below(b.len);
            if (tu_chance(50)) {
                b.ptr[at] ^= (uint8_t)(1u << tu_below(8));
            } else {
                b.ptr[at] = (uint8_t)tu_next();
            }
        }
        decode_any(cm_buf_slice(&b), &r, &re, &ok, &bad);
    }
    assert_true(ok > ROWS);
    assert_true(bad > ROWS / 2);
    cm_buf_fini(&b);
    cm_buf_fini(&re);
}

int main(void)
{
    tu_seed("row");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_add_drop_column),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_widths_and_limits),
        cmocka_unit_test(test_bad_values_and_headers),
        cmocka_unit_test(test_truncated_and_garbled),
    };
    return cmocka_run_group_tests_name("row", tests, NULL, NULL);
}
