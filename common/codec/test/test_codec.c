/*
 * Unit tests for cm_codec: fixed byte layouts, then property tests — for every type that can be
 * in a key, PAIRS random pairs (seeded, seed printed) whose encodings must memcmp in the order of
 * their values and decode back exactly — then tuples, truncated and garbled input (which must
 * fail cleanly or decode to something that re-encodes to the very same bytes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cm_codec.h"
#include "codec_testutil.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define PAIRS       100000
#define TUPLE_PAIRS 100000
#define BYTES_CAP   TU_PAYLOAD_CAP
#define TUPLE_MAX   5

static void hex(const char *what, cm_slice s)
{
    fprintf(stderr, "%s (%zu):", what, s.len);
    for (size_t i = 0; i < s.len; i++) {
        fprintf(stderr, " %02x", s.ptr[i]);
    }
    fprintf(stderr, "\n");
}

static void expect_bytes(cm_slice got, const uint8_t *want, size_t n)
{
    if (got.len != n || memcmp(got.ptr, want, n) != 0) {
        hex("got ", got);
        hex("want", cm_slice_make(want, n));
        fail_msg("encoding differs");
    }
}

/* Encodes d alone, decodes it back (and skips it), and checks the round trip. */
static void roundtrip_one(const cm_datum *d, cm_buf *enc, cm_arena *arena)
{
    cm_err err;
    cm_buf_reset(enc);
    assert_int_equal(cm_codec_encode_datum(enc, d, &err), 0);
    cm_reader r;
    cm_reader_init(&r, enc->ptr, enc->len);
    cm_datum out;
    int rc = cm_codec_decode_datum(&r, arena, &out, &err);
    if (rc != 0) {
        hex("encoding", cm_buf_slice(enc));
        fail_msg("decode failed: %s", err.msg);
    }
    assert_int_equal(r.pos, enc->len);
    if (!tu_datum_same(d, &out, true)) {
        hex("encoding", cm_buf_slice(enc));
        fail_msg("round trip changed a %s datum", cm_dtype_name(d->type));
    }
    cm_reader_init(&r, enc->ptr, enc->len);
    assert_int_equal(cm_codec_skip_datum(&r, &err), 0);
    assert_int_equal(r.pos, enc->len);
}

/* The order property for one pair, plus both round trips. */
static void check_pair(const cm_datum *a, const cm_datum *b, cm_buf *ea, cm_buf *eb,
                       cm_arena *arena)
{
    roundtrip_one(a, ea, arena);
    roundtrip_one(b, eb, arena);
    int want = tu_datum_cmp(a, b);
    int got = tu_sign(cm_slice_cmp(cm_buf_slice(ea), cm_buf_slice(eb)));
    if (want != got) {
        hex("a", cm_buf_slice(ea));
        hex("b", cm_buf_slice(eb));
        fail_msg("%s order: values compare %d, encodings %d", cm_dtype_name(a->type), want, got);
    }
    cm_arena_reset(arena);
}

static void test_type_pairs(void **state)
{
    cm_dtype t = *(const cm_dtype *)*state;
    cm_buf ea = CM_BUF_INIT, eb = CM_BUF_INIT;
    cm_arena arena;
    cm_arena_init(&arena, 0);
    uint8_t abuf[BYTES_CAP], bbuf[BYTES_CAP];
    int lt = 0, eq = 0, gt = 0;
    for (int i = 0; i < PAIRS; i++) {
        cm_datum a = tu_rand_datum(t, abuf);
        cm_datum b = tu_near_datum(&a, bbuf);
        if (tu_chance(50)) {
            cm_datum x = a;
            a = b;
            b = x;
        }
        check_pair(&a, &b, &ea, &eb, &arena);
        int c = tu_datum_cmp(&a, &b);
        lt += c < 0;
        eq += c == 0;
        gt += c > 0;
    }
    /* The generators must produce all three outcomes, or the test proves little. */
    if (lt < PAIRS / 20 || gt < PAIRS / 20 || eq < PAIRS / 50) {
        fail_msg("%s: weak pairs lt=%d eq=%d gt=%d", cm_dtype_name(t), lt, eq, gt);
    }
    cm_buf_fini(&ea);
    cm_buf_fini(&eb);
    cm_arena_fini(&arena);
}

/* Every pair of a sorted list of edge values, in both directions. */
static void check_sorted_edges(const cm_datum *v, size_t n)
{
    cm_buf ea = CM_BUF_INIT, eb = CM_BUF_INIT;
    cm_arena arena;
    cm_arena_init(&arena, 0);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            check_pair(&v[i], &v[j], &ea, &eb, &arena);
            if (i < j && tu_datum_cmp(&v[i], &v[j]) >= 0) {
                fail_msg("edge list not sorted at %zu", i);
            }
        }
    }
    cm_buf_fini(&ea);
    cm_buf_fini(&eb);
    cm_arena_fini(&arena);
}

static void test_edge_values(void **state)
{
    (void)state;
    const cm_datum ints[] = {
        cm_datum_int64(INT64_MIN), cm_datum_int64(INT64_MIN + 1),
        cm_datum_int64(-256),      cm_datum_int64(-1),
        cm_datum_int64(0),         cm_datum_int64(1),
        cm_datum_int64(255),       cm_datum_int64(INT64_MAX - 1),
        cm_datum_int64(INT64_MAX),
    };
    check_sorted_edges(ints, sizeof(ints) / sizeof(ints[0]));
    const cm_datum uints[] = {
        cm_datum_uint64(0),
        cm_datum_uint64(1),
        cm_datum_uint64(255),
        cm_datum_uint64(INT64_MAX),
        cm_datum_uint64(UINT64_C(1) << 63),
        cm_datum_uint64(UINT64_MAX),
    };
    check_sorted_edges(uints, sizeof(uints) / sizeof(uints[0]));
    const cm_datum floats[] = {
        cm_datum_float64(-INFINITY),    cm_datum_float64(-DBL_MAX),
        cm_datum_float64(-1.0),         cm_datum_float64(-DBL_MIN),
        cm_datum_float64(-DBL_MIN / 2), cm_datum_float64(-4.9406564584124654e-324),
        cm_datum_float64(0.0),          cm_datum_float64(4.9406564584124654e-324),
        cm_datum_float64(DBL_MIN / 2),  cm_datum_float64(DBL_MIN),
        cm_datum_float64(1.0),          cm_datum_float64(DBL_MAX),
        cm_datum_float64(INFINITY),
    };
    check_sorted_edges(floats, sizeof(floats) / sizeof(floats[0]));
    static const uint8_t raw[] = "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
                                 "\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
                                 "\xff\xff";
    const uint8_t *zeros = raw, *ffs = raw + 16;
    const cm_datum bytes[] = {
        cm_datum_bytes(cm_slice_make(zeros, 0)),   cm_datum_bytes(cm_slice_make(zeros, 1)),
        cm_datum_bytes(cm_slice_make(zeros, 7)),   cm_datum_bytes(cm_slice_make(zeros, 8)),
        cm_datum_bytes(cm_slice_make(zeros, 9)),   cm_datum_bytes(cm_slice_make(zeros, 16)),
        cm_datum_bytes(cm_slice_make(raw + 8, 9)), /* 8 zeros then 0xFF */
        cm_datum_bytes(cm_slice_make(ffs, 1)),     cm_datum_bytes(cm_slice_make(ffs, 7)),
        cm_datum_bytes(cm_slice_make(ffs, 8)),     cm_datum_bytes(cm_slice_make(ffs, 9)),
        cm_datum_bytes(cm_slice_make(ffs, 16)),
    };
    check_sorted_edges(bytes, sizeof(bytes) / sizeof(bytes[0]));
    /* -0.0 and +0.0 encode identically; NULL sorts before everything. */
    cm_datum negz = cm_datum_float64(-0.0), posz = cm_datum_float64(0.0);
    cm_buf ea = CM_BUF_INIT, eb = CM_BUF_INIT;
    cm_arena arena;
    cm_arena_init(&arena, 0);
    check_pair(&negz, &posz, &ea, &eb, &arena);
    assert_true(cm_slice_eq(cm_buf_slice(&ea), cm_buf_slice(&eb)));
    cm_datum null = cm_datum_null();
    const cm_datum *lowest[] = {&ints[0], &uints[0], &floats[0], &bytes[0]};
    for (size_t i = 0; i < 4; i++) {
        check_pair(&null, lowest[i], &ea, &eb, &arena);
        assert_true(cm_slice_cmp(cm_buf_slice(&ea), cm_buf_slice(&eb)) < 0);
    }
    cm_buf_fini(&ea);
    cm_buf_fini(&eb);
    cm_arena_fini(&arena);
}

static cm_datum str(const char *s, size_t n)
{
    return cm_datum_string(cm_slice_make(s, n));
}

static cm_datum dec(const char *text)
{
    cm_decimal d;
    cm_err err;
    if (cm_decimal_parse(cm_slice_cstr(text), &d, NULL, &err) != 0) {
        fail_msg("parse %s: %s", text, err.msg);
    }
    return cm_datum_decimal(&d);
}

static cm_datum packed(cm_dtype t, unsigned y, unsigned mo, unsigned d, unsigned h, unsigned mi,
                       unsigned s, unsigned us)
{
    cm_datetime f = {(uint16_t)y, (uint8_t)mo, (uint8_t)d, (uint8_t)h, (uint8_t)mi, (uint8_t)s, us};
    return cm_datum_uint(t, cm_datetime_pack(&f));
}

static void test_edge_values_more(void **state)
{
    (void)state;
    /* PAD SPACE: a string compares as if padded with spaces, across group boundaries too. */
    const cm_datum strings[] = {
        str("\x00", 1),       str("\t", 1),         str("", 0),
        str(" !", 2),         str("!", 1),          str("a\x00", 2),
        str("a\t", 2),        str("a       \t", 9), str("a", 1),
        str("a       !", 9),  str("a !", 3),        str("a!", 2),
        str("abcdefgh\t", 9), str("abcdefgh", 8),   str("abcdefgh         !", 18),
        str("abcdefgh!", 9),  str("\xc3\xa9", 2),
    };
    check_sorted_edges(strings, sizeof(strings) / sizeof(strings[0]));
    const cm_datum decimals[] = {
        dec("-99999999999999999999999999999999999999999999999999999999999999999"),
        dec("-99999999999999999999999999999999999.999999999999999999999999999999"),
        dec("-1"),
        dec("-0.5"),
        dec("-0.000000000000000000000000000001"),
        dec("0"),
        dec("0.000000000000000000000000000001"),
        dec("0.000000000000000000000000000011"),
        dec("0.5"),
        dec("1"),
        dec("1.000000000000000000000000000001"),
        dec("1.5"),
        dec("10"),
        dec("99999999999999999999999999999999999.999999999999999999999999999999"),
        dec("10000000000000000000000000000000000000000000000000000000000000000"),
        dec("99999999999999999999999999999999999999999999999999999999999999999"),
    };
    check_sorted_edges(decimals, sizeof(decimals) / sizeof(decimals[0]));
    const cm_datum f32[] = {
        cm_datum_float32(-INFINITY), cm_datum_float32(-FLT_MAX), cm_datum_float32(-1.0f),
        cm_datum_float32(-FLT_MIN),  cm_datum_float32(-1e-45f),  cm_datum_float32(0.0f),
        cm_datum_float32(1e-45f),    cm_datum_float32(FLT_MIN),  cm_datum_float32(0.1f),
        cm_datum_float32(1.0f),      cm_datum_float32(FLT_MAX),  cm_datum_float32(INFINITY),
    };
    check_sorted_edges(f32, sizeof(f32) / sizeof(f32[0]));
    const cm_datum dates[] = {
        packed(CM_DT_DATE, 0, 0, 0, 0, 0, 0, 0),      packed(CM_DT_DATE, 0, 1, 1, 0, 0, 0, 0),
        packed(CM_DT_DATE, 1000, 1, 1, 0, 0, 0, 0),   packed(CM_DT_DATE, 2024, 2, 29, 0, 0, 0, 0),
        packed(CM_DT_DATE, 2024, 3, 0, 0, 0, 0, 0),   packed(CM_DT_DATE, 2024, 3, 1, 0, 0, 0, 0),
        packed(CM_DT_DATE, 9999, 12, 31, 0, 0, 0, 0),
    };
    check_sorted_edges(dates, sizeof(dates) / sizeof(dates[0]));
    const cm_datum datetimes[] = {
        packed(CM_DT_DATETIME, 0, 0, 0, 0, 0, 0, 0),
        packed(CM_DT_DATETIME, 1970, 1, 1, 0, 0, 0, 1),
        packed(CM_DT_DATETIME, 1999, 12, 31, 23, 59, 59, 999999),
        packed(CM_DT_DATETIME, 2000, 1, 1, 0, 0, 0, 0),
        packed(CM_DT_DATETIME, 2000, 1, 1, 0, 0, 1, 0),
        packed(CM_DT_DATETIME, 2000, 1, 1, 0, 1, 0, 0),
        packed(CM_DT_DATETIME, 2000, 1, 1, 1, 0, 0, 0),
        packed(CM_DT_DATETIME, 9999, 12, 31, 23, 59, 59, 999999),
    };
    check_sorted_edges(datetimes, sizeof(datetimes) / sizeof(datetimes[0]));
    const cm_datum times[] = {
        cm_datum_int(CM_DT_TIME, -CM_DURATION_US_MAX),
        cm_datum_int(CM_DT_TIME, -1000000),
        cm_datum_int(CM_DT_TIME, -1),
        cm_datum_int(CM_DT_TIME, 0),
        cm_datum_int(CM_DT_TIME, 1),
        cm_datum_int(CM_DT_TIME, CM_DURATION_US_MAX),
    };
    check_sorted_edges(times, sizeof(times) / sizeof(times[0]));
    const cm_datum small[] = {
        cm_datum_uint(CM_DT_YEAR, 0),    cm_datum_uint(CM_DT_YEAR, CM_YEAR_MIN),
        cm_datum_uint(CM_DT_YEAR, 2155), cm_datum_uint(CM_DT_ENUM, 0),
        cm_datum_uint(CM_DT_ENUM, 1),    cm_datum_uint(CM_DT_ENUM, CM_ENUM_MAX),
        cm_datum_uint(CM_DT_SET, 0),     cm_datum_uint(CM_DT_SET, UINT64_MAX),
        cm_datum_uint(CM_DT_BIT, 0),     cm_datum_uint(CM_DT_BIT, UINT64_MAX),
    };
    check_sorted_edges(small, sizeof(small) / sizeof(small[0]));
    /* Values equal under their type's order encode identically. */
    cm_buf ea = CM_BUF_INIT, eb = CM_BUF_INIT;
    cm_arena arena;
    cm_arena_init(&arena, 0);
    const cm_datum same[][2] = {
        {str("abc", 3), str("abc     ", 8)},
        {str("", 0), str("                 ", 17)},
        {dec("1.5"), dec("1.50000")},
        {dec("0"), dec("-0.000")},
        {dec("100"), dec("1e2")},
        {cm_datum_float32(-0.0f), cm_datum_float32(0.0f)},
    };
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        check_pair(&same[i][0], &same[i][1], &ea, &eb, &arena);
        assert_true(cm_slice_eq(cm_buf_slice(&ea), cm_buf_slice(&eb)));
    }
    cm_buf_fini(&ea);
    cm_buf_fini(&eb);
    cm_arena_fini(&arena);
}

static void test_layouts(void **state)
{
    (void)state;
    cm_buf b = CM_BUF_INIT;
    cm_err err;
    struct {
        cm_datum d;
        uint8_t want[20];
        size_t n;
    } cases[] = {
        {cm_datum_null(), {0x00}, 1},
        {cm_datum_int64(0), {0x03, 0x80, 0, 0, 0, 0, 0, 0, 0}, 9},
        {cm_datum_int64(-1), {0x03, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 9},
        {cm_datum_int64(INT64_MIN), {0x03, 0, 0, 0, 0, 0, 0, 0, 0}, 9},
        {cm_datum_int64(INT64_MAX), {0x03, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 9},
        {cm_datum_int64(258), {0x03, 0x80, 0, 0, 0, 0, 0, 0x01, 0x02}, 9},
        {cm_datum_uint64(258), {0x04, 0, 0, 0, 0, 0, 0, 0x01, 0x02}, 9},
        {cm_datum_uint64(UINT64_MAX), {0x04, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 9},
        {cm_datum_float64(0.0), {0x05, 0x80, 0, 0, 0, 0, 0, 0, 0}, 9},
        {cm_datum_float64(-0.0), {0x05, 0x80, 0, 0, 0, 0, 0, 0, 0}, 9},
        {cm_datum_float64(1.0), {0x05, 0xbf, 0xf0, 0, 0, 0, 0, 0, 0}, 9},
        {cm_datum_float64(-1.0), {0x05, 0x40, 0x0f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 9},
        {cm_datum_float64(INFINITY), {0x05, 0xff, 0xf0, 0, 0, 0, 0, 0, 0}, 9},
        {cm_datum_float64(-INFINITY), {0x05, 0x00, 0x0f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 9},
        {cm_datum_bytes(cm_slice_make("", 0)), {0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0xf7}, 10},
        {cm_datum_bytes(cm_slice_make("abc", 3)), {0x01, 'a', 'b', 'c', 0, 0, 0, 0, 0, 0xfa}, 10},
        {cm_datum_bytes(cm_slice_make("12345678", 8)),
         {0x01, '1', '2', '3', '4', '5', '6', '7', '8', 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0xf7},
         19},
        {cm_datum_bytes(cm_slice_make("123456789", 9)),
         {0x01, '1', '2', '3', '4', '5', '6', '7', '8', 0xff, '9', 0, 0, 0, 0, 0, 0, 0, 0xf8},
         19},
        /* Strings: space padding, end marker 0x02; 0x03 / 0x01 when more follows above / below
         * spaces. */
        {str("", 0), {0x02, ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', 0x02}, 10},
        {str("ab  ", 4), {0x02, 'a', 'b', ' ', ' ', ' ', ' ', ' ', ' ', 0x02}, 10},
        {str("abcdefgh", 8), {0x02, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 0x02}, 10},
        {str("abcdefghi", 9),
         {0x02, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 0x03, 'i', ' ', ' ', ' ', ' ', ' ', ' ',
          ' ', 0x02},
         19},
        {str("abcdefgh \t", 10),
         {0x02, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 0x01, ' ', '\t', ' ', ' ', ' ', ' ', ' ',
          ' ', 0x02},
         19},
        /* Decimals: class, exponent + 0x80 (inverted when negative), digit pairs + 1, end. */
        {dec("0.00"), {0x07, 0x02}, 2},
        {dec("1"), {0x07, 0x03, 0x81, 0x0b, 0x00}, 5},
        {dec("-1"), {0x07, 0x01, 0x7e, 0xf4, 0xff}, 5},
        {dec("123.450"), {0x07, 0x03, 0x83, 0x0d, 0x23, 0x33, 0x00}, 7},
        {dec("0.05"), {0x07, 0x03, 0x7f, 0x33, 0x00}, 5},
        /* Other types: the int64 / uint64 / float64 bodies under their own flags. */
        {cm_datum_float32(1.0f), {0x06, 0xbf, 0xf0, 0, 0, 0, 0, 0, 0}, 9},
        {packed(CM_DT_DATE, 2024, 1, 2, 0, 0, 0, 0),
         {0x08, 0x19, 0xb2, 0x44, 0x00, 0x00, 0x00, 0x00, 0x00},
         9},
        {cm_datum_int(CM_DT_TIME, -1), {0x0b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 9},
        {cm_datum_uint(CM_DT_YEAR, 2024), {0x0c, 0, 0, 0, 0, 0, 0, 0x07, 0xe8}, 9},
        {cm_datum_uint(CM_DT_ENUM, 2), {0x0d, 0, 0, 0, 0, 0, 0, 0, 2}, 9},
        {cm_datum_uint(CM_DT_SET, 5), {0x0e, 0, 0, 0, 0, 0, 0, 0, 5}, 9},
        {cm_datum_uint(CM_DT_BIT, 1), {0x0f, 0, 0, 0, 0, 0, 0, 0, 1}, 9},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cm_buf_reset(&b);
        assert_int_equal(cm_codec_encode_datum(&b, &cases[i].d, &err), 0);
        expect_bytes(cm_buf_slice(&b), cases[i].want, cases[i].n);
    }
    cm_buf_fini(&b);
}

static void test_nan_refused(void **state)
{
    (void)state;
    cm_buf b = CM_BUF_INIT;
    cm_err err;
    assert_int_equal(cm_buf_append_u8(&b, 0x42), 0);
    cm_datum nan = cm_datum_float64(NAN);
    assert_int_equal(cm_codec_encode_datum(&b, &nan, &err), CM_E_INVALID);
    assert_int_equal(b.len, 1); /* untouched */
    cm_datum two[2] = {cm_datum_int64(7), cm_datum_float64(-NAN)};
    assert_int_equal(cm_codec_encode_datums(&b, two, 2, &err), CM_E_INVALID);
    assert_int_equal(b.len, 1); /* all or nothing */
    assert_int_equal(cm_codec_append_float64(&b, NAN), CM_E_INVALID);
    assert_int_equal(b.len, 1);
    /* Values outside their type's domain, and JSON, which has no key form. */
    cm_decimal bad_dec;
    cm_decimal_from_int64(5, &bad_dec);
    bad_dec.digits[0] = 10;
    const cm_datum refused[] = {
        cm_datum_json(cm_slice_make("{}", 2)),
        cm_datum_float32(0.0f),
        cm_datum_decimal(&bad_dec),
        cm_datum_uint(CM_DT_DATE, cm_datetime_pack(&(cm_datetime){2020, 1, 1, 1, 0, 0, 0})),
        cm_datum_uint(CM_DT_DATETIME, UINT64_MAX),
        cm_datum_int(CM_DT_TIME, CM_DURATION_US_MAX + 1),
        cm_datum_int(CM_DT_TIME, -CM_DURATION_US_MAX - 1),
        cm_datum_uint(CM_DT_YEAR, 1900),
        cm_datum_uint(CM_DT_YEAR, 2156),
        cm_datum_uint(CM_DT_ENUM, CM_ENUM_MAX + 1),
        cm_datum_int((cm_dtype)99, 0),
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        cm_datum d = refused[i];
        if (i == 1) {
            d.v.f64 = 0.1; /* not exactly a float */
        }
        if (cm_datum_valid(&d) && d.type != CM_DT_JSON) {
            fail_msg("refused[%zu] (%s) is valid", i, cm_dtype_name(d.type));
        }
        assert_int_equal(cm_codec_encode_datum(&b, &d, &err), CM_E_INVALID);
        assert_int_equal(b.len, 1);
    }
    cm_buf_fini(&b);
}

/* Decoding `in` as one datum must fail with CM_E_CORRUPT and leave the reader where it was. */
static void expect_corrupt(const uint8_t *in, size_t n)
{
    cm_arena arena;
    cm_arena_init(&arena, 0);
    cm_reader r;
    cm_reader_init(&r, in, n);
    cm_datum d;
    cm_err err;
    cm_err_clear(&err);
    int rc = cm_codec_decode_datum(&r, &arena, &d, &err);
    if (rc != CM_E_CORRUPT) {
        hex("input", cm_slice_make(in, n));
        fail_msg("decode returned %d, want CM_E_CORRUPT", rc);
    }
    assert_int_equal(err.code, CM_E_CORRUPT);
    assert_true(err.msg[0] != '\0');
    assert_int_equal(r.pos, 0);
    assert_int_equal(cm_codec_skip_datum(&r, NULL), CM_E_CORRUPT);
    assert_int_equal(r.pos, 0);
    cm_arena_fini(&arena);
}

static void test_bad_input(void **state)
{
    (void)state;
    /* Unknown flags: everything above BIT. */
    for (int f = CM_CODEC_FLAG_BIT + 1; f < 256; f++) {
        uint8_t in[10] = {(uint8_t)f, 0x80, 0, 0, 0, 0, 0, 0, 0, 0xf7};
        expect_corrupt(in, sizeof(in));
    }
    /* Empty input and truncated fixed-size bodies. */
    expect_corrupt((const uint8_t *)"", 0);
    const uint8_t int7[] = {0x03, 0x80, 0, 0, 0, 0, 0, 0};
    expect_corrupt(int7, sizeof(int7));
    expect_corrupt((const uint8_t[]){0x04}, 1);
    /* Float bodies that decode to NaN or to -0.0 are not canonical. */
    const uint8_t qnan[] = {0x05, 0xff, 0xf8, 0, 0, 0, 0, 0, 0};
    const uint8_t snan[] = {0x05, 0xff, 0xf0, 0, 0, 0, 0, 0, 1};
    const uint8_t negnan[] = {0x05, 0x00, 0x07, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    const uint8_t negzero[] = {0x05, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    expect_corrupt(qnan, sizeof(qnan));
    expect_corrupt(snan, sizeof(snan));
    expect_corrupt(negnan, sizeof(negnan));
    expect_corrupt(negzero, sizeof(negzero));
    /* Bytes: bad markers, non-zero padding, truncated groups. */
    const uint8_t m_f6[] = {0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0xf6};
    const uint8_t m_00[] = {0x01, 'a', 0, 0, 0, 0, 0, 0, 0, 0x00};
    const uint8_t pad1[] = {0x01, 'a', 'b', 'c', 0, 0, 0, 0, 1, 0xfa};
    const uint8_t pad8[] = {0x01, 0, 0, 0, 0, 0, 0, 0, 0x80, 0xf7};
    const uint8_t short_group[] = {0x01, 'a', 0, 0, 0, 0, 0, 0xf9};
    const uint8_t no_last[] = {0x01, '1', '2', '3', '4', '5', '6', '7', '8', 0xff};
    expect_corrupt(m_f6, sizeof(m_f6));
    expect_corrupt(m_00, sizeof(m_00));
    expect_corrupt(pad1, sizeof(pad1));
    expect_corrupt(pad8, sizeof(pad8));
    expect_corrupt(short_group, sizeof(short_group));
    expect_corrupt(no_last, sizeof(no_last));
    /* Strings: bad marker, a marker that lies about the rest, untrimmed spaces, truncation. */
    const uint8_t s_marker[] = {0x02, 'a', ' ', ' ', ' ', ' ', ' ', ' ', ' ', 0x04};
    const uint8_t s_lie[] = {0x02, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 0x01,
                             'i',  ' ', ' ', ' ', ' ', ' ', ' ', ' ', 0x02};
    const uint8_t s_spaces[] = {0x02, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 0x03,
                                ' ',  ' ', ' ', ' ', ' ', ' ', ' ', ' ', 0x02};
    const uint8_t s_short[] = {0x02, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 0x03};
    expect_corrupt(s_marker, sizeof(s_marker));
    expect_corrupt(s_lie, sizeof(s_lie));
    expect_corrupt(s_spaces, sizeof(s_spaces));
    expect_corrupt(s_short, sizeof(s_short));
    /* Decimals: bad class, exponent out of range, bad pair, leading or trailing zero digit,
     * missing terminator, too many digits for DECIMAL(65,30). */
    const uint8_t d_class[] = {0x07, 0x04, 0x81, 0x0b, 0x00};
    const uint8_t d_exp[] = {0x07, 0x03, 0xc2, 0x0b, 0x00};
    const uint8_t d_exp_lo[] = {0x07, 0x03, 0x62, 0x0b, 0x00};
    const uint8_t d_pair[] = {0x07, 0x03, 0x81, 0x65, 0x00};     /* 101: one above "99" */
    const uint8_t d_neg_pair[] = {0x07, 0x01, 0x7e, 0x9a, 0xff}; /* the same, negative */
    const uint8_t d_lead[] = {0x07, 0x03, 0x81, 0x02, 0x00};
    const uint8_t d_trail[] = {0x07, 0x03, 0x81, 0x0c, 0x01, 0x00};
    const uint8_t d_empty[] = {0x07, 0x03, 0x81, 0x00};
    const uint8_t d_unterminated[] = {0x07, 0x03, 0x81, 0x0b};
    const uint8_t d_frac[] = {0x07, 0x03, 0x63, 0x0b, 0x0b, 0x00}; /* 1.1e-30: 31 digits */
    expect_corrupt(d_class, sizeof(d_class));
    expect_corrupt(d_exp, sizeof(d_exp));
    expect_corrupt(d_exp_lo, sizeof(d_exp_lo));
    expect_corrupt(d_pair, sizeof(d_pair));
    expect_corrupt(d_neg_pair, sizeof(d_neg_pair));
    expect_corrupt(d_lead, sizeof(d_lead));
    expect_corrupt(d_trail, sizeof(d_trail));
    expect_corrupt(d_empty, sizeof(d_empty));
    expect_corrupt(d_unterminated, sizeof(d_unterminated));
    expect_corrupt(d_frac, sizeof(d_frac));
    /* Bodies outside their type's domain. */
    const uint8_t f32_not_float[] = {0x06, 0xbf, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a};
    const uint8_t year_1900[] = {0x0c, 0, 0, 0, 0, 0, 0, 0x07, 0x6c};
    const uint8_t enum_big[] = {0x0d, 0, 0, 0, 0, 0, 0x01, 0, 0};
    const uint8_t time_big[] = {0x0b, 0x80, 0, 0x02, 0xbf, 0x3d, 0xcf, 0x39, 0xc1}; /* +1 us */
    const uint8_t date_time_part[] = {0x08, 0x19, 0xb2, 0x44, 0x00, 0x00, 0x00, 0x00, 0x01};
    const uint8_t hour_24[] = {0x09, 0x19, 0xb2, 0x45, 0x80, 0x00, 0x00, 0x00, 0x00};
    const uint8_t dt_high[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    expect_corrupt(f32_not_float, sizeof(f32_not_float));
    expect_corrupt(year_1900, sizeof(year_1900));
    expect_corrupt(enum_big, sizeof(enum_big));
    expect_corrupt(time_big, sizeof(time_big));
    expect_corrupt(date_time_part, sizeof(date_time_part));
    expect_corrupt(hour_24, sizeof(hour_24));
    expect_corrupt(dt_high, sizeof(dt_high));
}

static void test_read_bytes_appends(void **state)
{
    (void)state;
    cm_buf enc = CM_BUF_INIT, out = CM_BUF_INIT;
    cm_err err;
    assert_int_equal(cm_codec_append_bytes(&enc, cm_slice_make("hello, world", 12)), 0);
    assert_int_equal(cm_codec_append_bytes(&enc, cm_slice_make("", 0)), 0);
    assert_int_equal(enc.len, CM_CODEC_BYTES_ENCODED_LEN(12) + CM_CODEC_BYTES_ENCODED_LEN(0));
    assert_int_equal(cm_buf_append(&out, "> ", 2), 0);
    cm_reader r;
    cm_reader_init(&r, enc.ptr, enc.len);
    assert_int_equal(cm_codec_read_bytes(&r, &out, &err), 0);
    assert_int_equal(cm_codec_read_bytes(&r, &out, &err), 0);
    assert_int_equal(r.pos, enc.len);
    assert_int_equal(out.len, 14);
    assert_memory_equal(out.ptr, "> hello, world", 14);
    size_t dec = 0;
    cm_reader_init(&r, enc.ptr, enc.len);
    assert_int_equal(cm_codec_skip_bytes(&r, &dec, &err), 0);
    assert_int_equal(dec, 12);
    cm_buf_fini(&enc);
    cm_buf_fini(&out);
}

/* ---- tuples ------------------------------------------------------------------------------- */

typedef struct tuple {
    size_t n;
    cm_datum d[TUPLE_MAX];
    uint8_t bytes[TUPLE_MAX][BYTES_CAP];
} tuple;

static cm_datum rand_datum_of(cm_dtype t, uint8_t *buf)
{
    return tu_rand_datum(t, buf);
}

static cm_dtype rand_type(void)
{
    return tu_key_types[tu_below(tu_key_types_n)];
}

/* A random tuple; column types follow `types` (as in an index) but any value may be NULL. */
static void rand_tuple(tuple *t, const cm_dtype *types, size_t n)
{
    t->n = n;
    for (size_t i = 0; i < n; i++) {
        t->d[i] = tu_chance(15) ? cm_datum_null() : rand_datum_of(types[i], t->bytes[i]);
    }
}

/* b = a on a random number of leading columns, random after that; sometimes shorter/longer. */
static void near_tuple(const tuple *a, tuple *b, const cm_dtype *types, size_t ntypes)
{
    rand_tuple(b, types, tu_chance(10) ? 1 + tu_below(ntypes) : a->n);
    size_t same = tu_below(b->n + 1);
    for (size_t i = 0; i < same && i < a->n; i++) {
        /* Equal, or near (which is often equal under the type's order). */
        b->d[i] = a->d[i].type == CM_DT_NULL || tu_chance(50)
                      ? a->d[i]
                      : tu_near_datum(&a->d[i], b->bytes[i]);
        if (b->d[i].v.bytes.ptr == a->d[i].v.bytes.ptr &&
            (a->d[i].type == CM_DT_BYTES || a->d[i].type == CM_DT_STRING)) {
            memcpy(b->bytes[i], a->d[i].v.bytes.ptr, a->d[i].v.bytes.len);
            b->d[i].v.bytes.ptr = b->bytes[i];
        }
    }
}

static int tuple_cmp(const tuple *a, const tuple *b)
{
    size_t n = a->n < b->n ? a->n : b->n;
    for (size_t i = 0; i < n; i++) {
        int c = tu_datum_cmp(&a->d[i], &b->d[i]);
        if (c != 0) {
            return c;
        }
    }
    return a->n < b->n ? -1 : (a->n > b->n ? 1 : 0);
}

static void encode_tuple(const tuple *t, cm_buf *b)
{
    cm_err err;
    cm_buf_reset(b);
    assert_int_equal(cm_codec_encode_datums(b, t->d, t->n, &err), 0);
}

static void check_tuple_roundtrip(const tuple *t, const cm_buf *enc, cm_arena *arena)
{
    cm_datum out[TUPLE_MAX];
    size_t n = 0;
    cm_err err;
    int rc = cm_codec_decode_datums(cm_buf_slice(enc), arena, out, TUPLE_MAX, &n, &err);
    if (rc != 0) {
        fail_msg("tuple decode: %s", err.msg);
    }
    assert_int_equal(n, t->n);
    for (size_t i = 0; i < n; i++) {
        assert_true(tu_datum_same(&t->d[i], &out[i], true));
    }
}

static void test_tuple_pairs(void **state)
{
    (void)state;
    cm_buf ea = CM_BUF_INIT, eb = CM_BUF_INIT;
    cm_arena arena;
    cm_arena_init(&arena, 0);
    static tuple a, b;
    int decided_late = 0;
    for (int i = 0; i < TUPLE_PAIRS; i++) {
        cm_dtype types[TUPLE_MAX];
        size_t ntypes = 1 + tu_below(TUPLE_MAX);
        for (size_t j = 0; j < ntypes; j++) {
            types[j] = rand_type();
        }
        rand_tuple(&a, types, ntypes);
        near_tuple(&a, &b, types, ntypes);
        if (tu_chance(5)) { /* mixed types in one column: ordered by type flag */
            size_t j = tu_below(b.n);
            b.d[j] = rand_datum_of(rand_type(), b.bytes[j]);
        }
        encode_tuple(&a, &ea);
        encode_tuple(&b, &eb);
        int want = tuple_cmp(&a, &b);
        int got = tu_sign(cm_slice_cmp(cm_buf_slice(&ea), cm_buf_slice(&eb)));
        if (want != got) {
            hex("a", cm_buf_slice(&ea));
            hex("b", cm_buf_slice(&eb));
            fail_msg("tuple order: values %d, encodings %d", want, got);
        }
        if (a.n > 1 && b.n > 1 && tu_datum_cmp(&a.d[0], &b.d[0]) == 0) {
            decided_late++;
        }
        check_tuple_roundtrip(&a, &ea, &arena);
        check_tuple_roundtrip(&b, &eb, &arena);
        cm_arena_reset(&arena);
    }
    assert_true(decided_late > TUPLE_PAIRS / 20); /* later columns were really compared */
    cm_buf_fini(&ea);
    cm_buf_fini(&eb);
    cm_arena_fini(&arena);
}

/* ---- truncated and garbled input ---------------------------------------------------------- */

typedef struct outcome {
    long ok;
    long corrupt;
} outcome;

/* Any input: decoding fails with CM_E_CORRUPT (and skipping agrees), or it succeeds and the
 * datums re-encode to exactly the input. */
static void decode_any(cm_slice in, cm_arena *arena, cm_buf *re, outcome *o)
{
    cm_datum out[64];
    size_t n = 0;
    cm_err err;
    int rc = cm_codec_decode_datums(in, arena, out, 64, &n, &err);
    cm_reader r;
    cm_reader_init(&r, in.ptr, in.len);
    int skip_rc = 0;
    while (skip_rc == 0 && cm_reader_left(&r) > 0) {
        skip_rc = cm_codec_skip_datum(&r, NULL);
    }
    if (rc == 0) {
        assert_int_equal(skip_rc, 0);
        cm_buf_reset(re);
        assert_int_equal(cm_codec_encode_datums(re, out, n, &err), 0);
        if (!cm_slice_eq(cm_buf_slice(re), in)) {
            hex("input  ", in);
            hex("re-enc ", cm_buf_slice(re));
            fail_msg("decoded input does not re-encode to itself");
        }
        o->ok++;
    } else {
        assert_int_equal(rc, CM_E_CORRUPT);
        assert_int_equal(skip_rc, CM_E_CORRUPT); /* inputs here hold far fewer than 64 datums */
        o->corrupt++;
    }
    cm_arena_reset(arena);
}

static void test_truncated(void **state)
{
    (void)state;
    cm_buf enc = CM_BUF_INIT, re = CM_BUF_INIT;
    cm_arena arena;
    cm_arena_init(&arena, 0);
    static tuple t;
    outcome o = {0, 0};
    for (int i = 0; i < 5000; i++) {
        cm_dtype types[TUPLE_MAX];
        size_t n = 1 + tu_below(TUPLE_MAX);
        for (size_t j = 0; j < n; j++) {
            types[j] = rand_type();
        }
        rand_tuple(&t, types, n);
        encode_tuple(&t, &enc);
        for (size_t len = 0; len < enc.len; len++) {
            decode_any(cm_slice_make(enc.ptr, len), &arena, &re, &o);
        }
    }
    /* Prefixes that end on a datum boundary decode; all others are corrupt. */
    assert_true(o.ok > 5000);
    assert_true(o.corrupt > 50000);
    cm_buf_fini(&enc);
    cm_buf_fini(&re);
    cm_arena_fini(&arena);
}

static void garble(cm_buf *b)
{
    int k = 1 + (int)tu_below(3);
    for (int i = 0; i < k; i++) {
        switch (tu_below(4)) {
        case 0:
            if (b->len) {
                b->ptr[tu_below(b->len)] ^= (uint8_t)(1u << tu_below(8));
            }
            break;
        case 1:
            if (b->len) {
                b->ptr[tu_below(b->len)] = (uint8_t)tu_next();
            }
            break;
        case 2: { /* insert a byte */
            size_t at = tu_below(b->len + 1);
            assert_int_equal(cm_buf_append_u8(b, 0), 0);
            memmove(b->ptr + at + 1, b->ptr + at, b->len - 1 - at);
            b->ptr[at] = (uint8_t)tu_next();
            break;
        }
        default: /* delete a byte */
            if (b->len) {
                size_t at = tu_below(b->len);
                memmove(b->ptr + at, b->ptr + at + 1, b->len - at - 1);
                b->len--;
            }
            break;
        }
    }
}

static void test_garbled(void **state)
{
    (void)state;
    cm_buf enc = CM_BUF_INIT, re = CM_BUF_INIT;
    cm_arena arena;
    cm_arena_init(&arena, 0);
    static tuple t;
    outcome o = {0, 0};
    for (int i = 0; i < 100000; i++) {
        cm_dtype types[TUPLE_MAX];
        size_t n = 1 + tu_below(TUPLE_MAX);
        for (size_t j = 0; j < n; j++) {
            types[j] = rand_type();
        }
        rand_tuple(&t, types, n);
        encode_tuple(&t, &enc);
        garble(&enc);
        decode_any(cm_buf_slice(&enc), &arena, &re, &o);
    }
    /* Plain random bytes too. */
    for (int i = 0; i < 20000; i++) {
        cm_buf_reset(&enc);
        size_t n = tu_below(48);
        for (size_t j = 0; j < n; j++) {
            assert_int_equal(
                cm_buf_append_u8(&enc, (uint8_t)(tu_chance(50) ? tu_below(6) : tu_next())), 0);
        }
        decode_any(cm_buf_slice(&enc), &arena, &re, &o);
    }
    assert_true(o.ok > 1000);
    assert_true(o.corrupt > 10000);
    cm_buf_fini(&enc);
    cm_buf_fini(&re);
    cm_arena_fini(&arena);
}

static void test_decode_datums_cap(void **state)
{
    (void)state;
    cm_buf b = CM_BUF_INIT;
    cm_err err;
    cm_datum in[3] = {cm_datum_int64(1), cm_datum_null(), cm_datum_uint64(2)};
    assert_int_equal(cm_codec_encode_datums(&b, in, 3, &err), 0);
    cm_arena arena;
    cm_arena_init(&arena, 0);
    cm_datum out[3];
    size_t n = 99;
    assert_int_equal(cm_codec_decode_datums(cm_buf_slice(&b), &arena, out, 2, &n, &err),
                     CM_E_CORRUPT);
    assert_int_equal(cm_codec_decode_datums(cm_buf_slice(&b), &arena, out, 3, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_int_equal(cm_codec_decode_datums(cm_slice_make(NULL, 0), &arena, out, 3, &n, &err), 0);
    assert_int_equal(n, 0);
    cm_arena_fini(&arena);
    cm_buf_fini(&b);
}

static const cm_dtype pair_types[] = {CM_DT_INT64,    CM_DT_UINT64,    CM_DT_FLOAT64, CM_DT_BYTES,
                                      CM_DT_STRING,   CM_DT_FLOAT32,   CM_DT_DECIMAL, CM_DT_DATE,
                                      CM_DT_DATETIME, CM_DT_TIMESTAMP, CM_DT_TIME,    CM_DT_YEAR,
                                      CM_DT_ENUM,     CM_DT_SET,       CM_DT_BIT};

#define PAIR_TEST(i, name)                                                                         \
    {                                                                                              \
        "pairs_" name, test_type_pairs, NULL, NULL, (void *)&pair_types[i]                         \
    }

int main(void)
{
    tu_seed("codec");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layouts),
        cmocka_unit_test(test_nan_refused),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_read_bytes_appends),
        cmocka_unit_test(test_decode_datums_cap),
        cmocka_unit_test(test_edge_values),
        cmocka_unit_test(test_edge_values_more),
        PAIR_TEST(0, "int64"),
        PAIR_TEST(1, "uint64"),
        PAIR_TEST(2, "float64"),
        PAIR_TEST(3, "bytes"),
        PAIR_TEST(4, "string"),
        PAIR_TEST(5, "float32"),
        PAIR_TEST(6, "decimal"),
        PAIR_TEST(7, "date"),
        PAIR_TEST(8, "datetime"),
        PAIR_TEST(9, "timestamp"),
        PAIR_TEST(10, "time"),
        PAIR_TEST(11, "year"),
        PAIR_TEST(12, "enum"),
        PAIR_TEST(13, "set"),
        PAIR_TEST(14, "bit"),
        cmocka_unit_test(test_tuple_pairs),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_garbled),
    };
    _Static_assert(sizeof(pair_types) / sizeof(pair_types[0]) == 15, "one PAIR_TEST per type");
    return cmocka_run_group_tests_name("codec", tests, NULL, NULL);
}
