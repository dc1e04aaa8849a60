/*
 * Unit tests for cm_codec: fixed byte layouts, then property tests — for every type, PAIRS random
 * pairs (seeded, seed printed) whose encodings must memcmp in the order of their values and
 * decode back exactly — then tuples, truncated and garbled input (which must fail cleanly or
 * decode to something that re-encodes to the very same bytes).
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
#define BYTES_CAP   64
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
    if (!tu_datum_same(d, &out)) {
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

typedef void (*pair_gen)(cm_datum *a, cm_datum *b, uint8_t *abuf, uint8_t *bbuf);

static void run_pairs(pair_gen gen, int n)
{
    cm_buf ea = CM_BUF_INIT, eb = CM_BUF_INIT;
    cm_arena arena;
    cm_arena_init(&arena, 0);
    uint8_t abuf[BYTES_CAP], bbuf[BYTES_CAP];
    int lt = 0, eq = 0, gt = 0;
    for (int i = 0; i < n; i++) {
        cm_datum a, b;
        gen(&a, &b, abuf, bbuf);
        check_pair(&a, &b, &ea, &eb, &arena);
        int c = tu_datum_cmp(&a, &b);
        lt += c < 0;
        eq += c == 0;
        gt += c > 0;
    }
    /* The generators must produce all three outcomes, or the test proves little. */
    assert_true(lt > n / 20);
    assert_true(gt > n / 20);
    assert_true(eq > 0);
    cm_buf_fini(&ea);
    cm_buf_fini(&eb);
    cm_arena_fini(&arena);
}

static void gen_int64(cm_datum *a, cm_datum *b, uint8_t *abuf, uint8_t *bbuf)
{
    (void)abuf;
    (void)bbuf;
    int64_t x = tu_rand_int64();
    int64_t y;
    switch (tu_below(4)) {
    case 0:
        y = x;
        break;
    case 1: /* neighbours, wrapping through unsigned arithmetic */
        y = (int64_t)((uint64_t)x + (tu_chance(50) ? 1u : UINT64_MAX));
        break;
    default:
        y = tu_rand_int64();
        break;
    }
    *a = cm_datum_int64(x);
    *b = cm_datum_int64(y);
}

static void gen_uint64(cm_datum *a, cm_datum *b, uint8_t *abuf, uint8_t *bbuf)
{
    (void)abuf;
    (void)bbuf;
    uint64_t x = tu_rand_uint64();
    uint64_t y = tu_chance(20)
                     ? x
                     : (tu_chance(25) ? x + (tu_chance(50) ? 1 : UINT64_MAX) : tu_rand_uint64());
    *a = cm_datum_uint64(x);
    *b = cm_datum_uint64(y);
}

static void gen_float64(cm_datum *a, cm_datum *b, uint8_t *abuf, uint8_t *bbuf)
{
    (void)abuf;
    (void)bbuf;
    double x = tu_rand_float64();
    double y;
    switch (tu_below(5)) {
    case 0:
        y = x;
        break;
    case 1:
        y = -x; /* also makes the ±0.0 pair */
        break;
    case 2:
        y = nextafter(x, tu_chance(50) ? INFINITY : -INFINITY);
        break;
    default:
        y = tu_rand_float64();
        break;
    }
    *a = cm_datum_float64(x);
    *b = cm_datum_float64(y);
}

static void gen_bytes(cm_datum *a, cm_datum *b, uint8_t *abuf, uint8_t *bbuf)
{
    size_t an = tu_rand_bytes(abuf, BYTES_CAP);
    size_t bn = tu_near_bytes(abuf, an, bbuf, BYTES_CAP);
    *a = cm_datum_bytes(cm_slice_make(abuf, an));
    *b = cm_datum_bytes(cm_slice_make(bbuf, bn));
}

static void test_int64_pairs(void **state)
{
    (void)state;
    run_pairs(gen_int64, PAIRS);
}

static void test_uint64_pairs(void **state)
{
    (void)state;
    run_pairs(gen_uint64, PAIRS);
}

static void test_float64_pairs(void **state)
{
    (void)state;
    run_pairs(gen_float64, PAIRS);
}

static void test_bytes_pairs(void **state)
{
    (void)state;
    run_pairs(gen_bytes, PAIRS);
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
    /* Unknown flags. */
    for (int f = 0; f < 256; f++) {
        if (f == 0x00 || f == 0x01 || f == 0x03 || f == 0x04 || f == 0x05) {
            continue;
        }
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
    switch (t) {
    case CM_DT_INT64:
        return cm_datum_int64(tu_rand_int64());
    case CM_DT_UINT64:
        return cm_datum_uint64(tu_rand_uint64());
    case CM_DT_FLOAT64:
        return cm_datum_float64(tu_rand_float64());
    case CM_DT_BYTES:
        return cm_datum_bytes(cm_slice_make(buf, tu_rand_bytes(buf, BYTES_CAP)));
    default:
        return cm_datum_null();
    }
}

static cm_dtype rand_type(void)
{
    static const cm_dtype types[] = {CM_DT_INT64, CM_DT_UINT64, CM_DT_FLOAT64, CM_DT_BYTES};
    return types[tu_below(4)];
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
        b->d[i] = a->d[i];
        if (a->d[i].type == CM_DT_BYTES) {
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
        assert_true(tu_datum_same(&t->d[i], &out[i]));
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

int main(void)
{
    tu_seed("codec");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layouts),           cmocka_unit_test(test_nan_refused),
        cmocka_unit_test(test_bad_input),         cmocka_unit_test(test_read_bytes_appends),
        cmocka_unit_test(test_decode_datums_cap), cmocka_unit_test(test_edge_values),
        cmocka_unit_test(test_int64_pairs),       cmocka_unit_test(test_uint64_pairs),
        cmocka_unit_test(test_float64_pairs),     cmocka_unit_test(test_bytes_pairs),
        cmocka_unit_test(test_tuple_pairs),       cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_garbled),
    };
    return cmocka_run_group_tests_name("codec", tests, NULL, NULL);
}
