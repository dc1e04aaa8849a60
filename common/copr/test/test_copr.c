/*
 * Unit tests for cm_copr: plan round trips, refusal of malformed plans (every truncation of a
 * valid encoding, bad versions, kinds, tags, indexes, counts, combinations), and the aggregate
 * states (COUNT, SUM, AVG, MIN, MAX over integers, decimals, doubles, strings and NULLs; exact
 * sums beyond 2^63; merging partials equals a single pass).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cm_copr.h"
#include "copr_testutil.h"

#include <stdio.h>
#include <string.h>

static cm_arena arena;

static int setup(void **state)
{
    (void)state;
    cm_arena_init(&arena, 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cm_arena_fini(&arena);
    return 0;
}

static cm_datum DEC(const char *text)
{
    cm_decimal d;
    assert_int_equal(cm_decimal_parse(cm_slice_cstr(text), &d, NULL, NULL), 0);
    return cm_datum_decimal(&d);
}

#define EQ(got, want) assert_string_equal((got), (want))

/* ---- plans ---------------------------------------------------------------------------------- */

/* Programs the sample plan uses (kept in builders that live for the test). */
typedef struct sample {
    cm_cx_builder sel, g0, a1, o0;
    cm_copr_pcol cols[3];
    cm_slice group[1];
    cm_copr_agg aggs[3];
    cm_copr_order order[1];
    uint32_t out[2];
    cm_copr_dflt dflt[2];
    cm_copr_plan plan;
} sample;

static cm_slice prog(cm_cx_builder *b)
{
    cm_slice s;
    cm_err err;
    assert_int_equal(cm_cx_finish(b, &s, &err), 0);
    return s;
}

static void sample_init(sample *s, int kind)
{
    memset(s, 0, sizeof(*s));
    cm_cx_builder_init(&s->sel);
    cm_cx_builder_init(&s->g0);
    cm_cx_builder_init(&s->a1);
    cm_cx_builder_init(&s->o0);
    cm_datum ten = cm_datum_int64(10);
    cm_cx_col(&s->sel, 0);
    cm_cx_const(&s->sel, &ten);
    cm_cx_op1(&s->sel, CM_CX_GT);
    cm_cx_col(&s->g0, 1);
    cm_cx_col(&s->a1, 0);
    cm_cx_col(&s->a1, 2);
    cm_cx_op1(&s->a1, CM_CX_ADD);
    cm_cx_col(&s->o0, 2);
    s->cols[0] = (cm_copr_pcol){1, CM_DT_INT64};
    s->cols[1] = (cm_copr_pcol){2, CM_DT_STRING};
    s->cols[2] = (cm_copr_pcol){3, CM_DT_DECIMAL};
    cm_copr_plan *p = &s->plan;
    p->scan = CM_COPR_SCAN_TABLE;
    p->ncols = 3;
    p->cols = s->cols;
    p->sel = prog(&s->sel);
    if (kind == 0) { /* aggregation */
        s->group[0] = prog(&s->g0);
        s->aggs[0] = (cm_copr_agg){CM_COPR_COUNT, cm_slice_make(NULL, 0)};
        s->aggs[1] = (cm_copr_agg){CM_COPR_SUM, prog(&s->a1)};
        s->aggs[2] = (cm_copr_agg){CM_COPR_MAX, prog(&s->o0)};
        p->has_agg = true;
        p->ngroup = 1;
        p->group = s->group;
        p->naggs = 3;
        p->aggs = s->aggs;
    } else if (kind == 1) { /* TopN with output columns and defaults */
        s->order[0] = (cm_copr_order){prog(&s->o0), true};
        p->has_topn = true;
        p->topn_limit = 7;
        p->norder = 1;
        p->order = s->order;
        s->out[0] = 2;
        s->out[1] = 0;
        p->has_out = true;
        p->nout = 2;
        p->out = s->out;
        s->dflt[0] = (cm_copr_dflt){2, DEC("1.50")};
        s->dflt[1] = (cm_copr_dflt){1, cm_datum_string(cm_slice_cstr("dflt  "))};
        p->ndflt = 2;
        p->dflt = s->dflt;
    } else { /* limit */
        p->has_limit = true;
        p->limit = 1000000;
    }
}

static void sample_fini(sample *s)
{
    cm_cx_builder_fini(&s->sel);
    cm_cx_builder_fini(&s->g0);
    cm_cx_builder_fini(&s->a1);
    cm_cx_builder_fini(&s->o0);
}

static void same_plan(const cm_copr_plan *a, const cm_copr_plan *b)
{
    assert_int_equal(a->scan, b->scan);
    assert_int_equal(a->ncols, b->ncols);
    for (uint32_t i = 0; i < a->ncols; i++) {
        assert_int_equal(a->cols[i].id, b->cols[i].id);
        assert_int_equal(a->cols[i].dtype, b->cols[i].dtype);
    }
    assert_true(cm_slice_eq(a->sel, b->sel));
    assert_int_equal(a->has_agg, b->has_agg);
    assert_int_equal(a->ngroup, b->ngroup);
    for (uint32_t i = 0; i < a->ngroup; i++) {
        assert_true(cm_slice_eq(a->group[i], b->group[i]));
    }
    assert_int_equal(a->naggs, b->naggs);
    for (uint32_t i = 0; i < a->naggs; i++) {
        assert_int_equal(a->aggs[i].fn, b->aggs[i].fn);
        assert_true(cm_slice_eq(a->aggs[i].arg, b->aggs[i].arg));
    }
    assert_int_equal(a->has_topn, b->has_topn);
    assert_true(a->topn_limit == b->topn_limit);
    assert_int_equal(a->norder, b->norder);
    for (uint32_t i = 0; i < a->norder; i++) {
        assert_int_equal(a->order[i].desc, b->order[i].desc);
        assert_true(cm_slice_eq(a->order[i].expr, b->order[i].expr));
    }
    assert_int_equal(a->has_limit, b->has_limit);
    assert_true(a->limit == b->limit);
    assert_int_equal(a->has_out, b->has_out);
    assert_int_equal(a->nout, b->nout);
    for (uint32_t i = 0; i < a->nout; i++) {
        assert_int_equal(a->out[i], b->out[i]);
    }
    assert_int_equal(a->ndflt, b->ndflt);
    for (uint32_t i = 0; i < a->ndflt; i++) {
        assert_int_equal(a->dflt[i].col, b->dflt[i].col);
        EQ(show(&a->dflt[i].value), show(&b->dflt[i].value));
    }
}

static void test_plan_round_trip(void **state)
{
    (void)state;
    for (int kind = 0; kind < 3; kind++) {
        sample s;
        sample_init(&s, kind);
        cm_buf enc = CM_BUF_INIT;
        cm_err err;
        assert_int_equal(cm_copr_plan_encode(&s.plan, &enc, &err), 0);
        cm_copr_plan back;
        int rc = cm_copr_plan_decode(cm_buf_slice(&enc), &arena, &back, &err);
        if (rc != 0) {
            fail_msg("decode: %s", err.msg);
        }
        same_plan(&s.plan, &back);
        /* re-encoding gives the same bytes */
        cm_buf again = CM_BUF_INIT;
        assert_int_equal(cm_copr_plan_encode(&back, &again, &err), 0);
        assert_true(cm_slice_eq(cm_buf_slice(&enc), cm_buf_slice(&again)));
        cm_buf_fini(&again);
        cm_buf_fini(&enc);
        sample_fini(&s);
    }
}

/* Every truncation of a valid plan is refused, and so is one trailing byte. */
static void test_plan_truncations(void **state)
{
    (void)state;
    for (int kind = 0; kind < 3; kind++) {
        sample s;
        sample_init(&s, kind);
        cm_buf enc = CM_BUF_INIT;
        cm_err err;
        assert_int_equal(cm_copr_plan_encode(&s.plan, &enc, &err), 0);
        cm_copr_plan back;
        for (size_t n = 0; n < enc.len; n++) {
            int rc = cm_copr_plan_decode(cm_slice_make(enc.ptr, n), &arena, &back, &err);
            assert_int_equal(rc, CM_E_INVALID);
        }
        assert_int_equal(cm_buf_append_u8(&enc, 0), 0);
        assert_int_equal(cm_copr_plan_decode(cm_buf_slice(&enc), &arena, &back, &err),
                         CM_E_INVALID);
        cm_buf_fini(&enc);
        sample_fini(&s);
    }
}

/* Hand-made plans: header | cols | sections. */
typedef struct mk {
    uint8_t b[256];
    size_t n;
} mk;

static void put(mk *m, uint8_t v)
{
    assert_true(m->n < sizeof(m->b));
    m->b[m->n++] = v;
}

static void header(mk *m, uint8_t ncols, uint8_t nsec)
{
    m->n = 0;
    put(m, CM_COPR_PLAN_VERSION);
    put(m, CM_COPR_SCAN_TABLE);
    put(m, ncols);
    for (uint8_t i = 0; i < ncols; i++) {
        put(m, (uint8_t)(i + 1));
        put(m, CM_DT_INT64);
    }
    put(m, nsec);
}

static int dec(const mk *m)
{
    cm_copr_plan p;
    cm_err err;
    return cm_copr_plan_decode(cm_slice_make(m->b, m->n), &arena, &p, &err);
}

static void test_plan_rejects(void **state)
{
    (void)state;
    mk m;
    header(&m, 2, 0);
    assert_int_equal(dec(&m), 0);
    m.b[0] = 1; /* version */
    assert_int_equal(dec(&m), CM_E_UNSUPPORTED);
    header(&m, 2, 0);
    m.b[1] = 3; /* scan kind */
    assert_int_equal(dec(&m), CM_E_UNSUPPORTED);
    header(&m, 2, 0);
    m.b[4] = 0; /* column type NULL */
    assert_int_equal(dec(&m), CM_E_INVALID);
    m.b[4] = CM_DT_COUNT_;
    assert_int_equal(dec(&m), CM_E_INVALID);
    /* unknown section */
    header(&m, 1, 1);
    put(&m, 9);
    put(&m, 0);
    assert_int_equal(dec(&m), CM_E_UNSUPPORTED);
    /* SEL with a column out of range, then a good one, then repeated */
    header(&m, 1, 1);
    put(&m, CM_COPR_SEC_SEL);
    put(&m, 2);
    put(&m, CM_CX_COL);
    put(&m, 1);
    assert_int_equal(dec(&m), CM_E_INVALID);
    m.b[m.n - 1] = 0;
    assert_int_equal(dec(&m), 0);
    m.b[5] = 2;
    put(&m, CM_COPR_SEC_SEL);
    put(&m, 2);
    put(&m, CM_CX_COL);
    put(&m, 0);
    assert_int_equal(dec(&m), CM_E_INVALID);
    /* empty SEL */
    header(&m, 1, 1);
    put(&m, CM_COPR_SEC_SEL);
    put(&m, 0);
    assert_int_equal(dec(&m), CM_E_INVALID);
    /* section length beyond the data */
    header(&m, 1, 1);
    put(&m, CM_COPR_SEC_LIMIT);
    put(&m, 5);
    put(&m, 1);
    assert_int_equal(dec(&m), CM_E_INVALID);
    /* LIMIT with bytes after its value */
    header(&m, 1, 1);
    put(&m, CM_COPR_SEC_LIMIT);
    put(&m, 2);
    put(&m, 1);
    put(&m, 1);
    assert_int_equal(dec(&m), CM_E_INVALID);
    /* OUT naming column 1 of 1 */
    header(&m, 1, 1);
    put(&m, CM_COPR_SEC_OUT);
    put(&m, 2);
    put(&m, 1);
    put(&m, 1);
    assert_int_equal(dec(&m), CM_E_INVALID);
    m.b[m.n - 1] = 0;
    assert_int_equal(dec(&m), 0);
    /* AGG: SUM without an argument; unknown function; too many groups */
    header(&m, 1, 1);
    put(&m, CM_COPR_SEC_AGG);
    put(&m, 4);
    put(&m, 0); /* ngroup */
    put(&m, 1); /* naggs */
    put(&m, CM_COPR_SUM);
    put(&m, 0);
    assert_int_equal(dec(&m), CM_E_INVALID);
    m.b[m.n - 2] = CM_COPR_COUNT;
    assert_int_equal(dec(&m), 0);
    m.b[m.n - 2] = 6;
    assert_int_equal(dec(&m), CM_E_INVALID);
    header(&m, 1, 1);
    put(&m, CM_COPR_SEC_AGG);
    put(&m, 2);
    put(&m, CM_COPR_GROUPBY_MAX + 1);
    put(&m, 0);
    assert_int_equal(dec(&m), CM_E_INVALID);
    /* AGG with LIMIT */
    header(&m, 1, 2);
    put(&m, CM_COPR_SEC_AGG);
    put(&m, 2);
    put(&m, 0);
    put(&m, 0);
    put(&m, CM_COPR_SEC_LIMIT);
    put(&m, 1);
    put(&m, 3);
    assert_int_equal(dec(&m), CM_E_INVALID);
    /* TOPN: no order; bad direction; limit over the maximum */
    header(&m, 1, 1);
    put(&m, CM_COPR_SEC_TOPN);
    put(&m, 2);
    put(&m, 5);
    put(&m, 0);
    assert_int_equal(dec(&m), CM_E_INVALID);
    header(&m, 1, 1);
    put(&m, CM_COPR_SEC_TOPN);
    put(&m, 6);
    put(&m, 5);
    put(&m, 1);
    put(&m, 2); /* desc must be 0 or 1 */
    put(&m, 2);
    put(&m, CM_CX_COL);
    put(&m, 0);
    assert_int_equal(dec(&m), CM_E_INVALID);
    m.b[m.n - 4] = 1;
    assert_int_equal(dec(&m), 0);
    header(&m, 1, 1);
    put(&m, CM_COPR_SEC_TOPN);
    put(&m, 8);
    put(&m, 0xA1); /* 100001 */
    put(&m, 0x8D);
    put(&m, 0x06);
    put(&m, 1);
    put(&m, 0);
    put(&m, 2);
    put(&m, CM_CX_COL);
    put(&m, 0);
    assert_int_equal(dec(&m), CM_E_INVALID);
    /* DFLT: column out of range; value truncated */
    header(&m, 1, 1);
    put(&m, CM_COPR_SEC_DFLT);
    put(&m, 3);
    put(&m, 1);
    put(&m, 1);
    put(&m, CM_CODEC_FLAG_NULL);
    assert_int_equal(dec(&m), CM_E_INVALID);
    m.b[m.n - 2] = 0;
    assert_int_equal(dec(&m), 0);
    m.b[m.n - 1] = CM_CODEC_FLAG_INT64; /* no body */
    assert_int_equal(dec(&m), CM_E_INVALID);
    /* the handle pseudo column must be INT64 (and last in an index scan) */
    m.n = 0;
    put(&m, CM_COPR_PLAN_VERSION);
    put(&m, CM_COPR_SCAN_INDEX);
    put(&m, 2);
    put(&m, 0xFF);
    put(&m, 0xFF);
    put(&m, 0xFF);
    put(&m, 0xFF);
    put(&m, 0x0F);
    put(&m, CM_DT_INT64);
    put(&m, 1);
    put(&m, CM_DT_STRING);
    put(&m, 0);
    assert_int_equal(dec(&m), CM_E_INVALID);
    m.b[1] = CM_COPR_SCAN_TABLE;
    assert_int_equal(dec(&m), 0);
    m.b[8] = CM_DT_UINT64;
    assert_int_equal(dec(&m), CM_E_INVALID);
    /* more sections than exist; a column count over the maximum */
    header(&m, 1, 7);
    assert_int_equal(dec(&m), CM_E_INVALID);
    m.n = 0;
    put(&m, CM_COPR_PLAN_VERSION);
    put(&m, CM_COPR_SCAN_TABLE);
    put(&m, 0x81); /* 4097 */
    put(&m, 0x20);
    assert_int_equal(dec(&m), CM_E_INVALID);
}

static void test_plan_encode_rejects(void **state)
{
    (void)state;
    sample s;
    sample_init(&s, 0);
    cm_buf enc = CM_BUF_INIT;
    cm_err err;
    s.plan.has_limit = true;
    assert_int_equal(cm_copr_plan_encode(&s.plan, &enc, &err), CM_E_INVALID);
    s.plan.has_limit = false;
    s.plan.naggs = CM_COPR_AGGS_MAX + 1;
    assert_int_equal(cm_copr_plan_encode(&s.plan, &enc, &err), CM_E_INVALID);
    s.plan.naggs = 3;
    s.plan.scan = 7;
    assert_int_equal(cm_copr_plan_encode(&s.plan, &enc, &err), CM_E_INVALID);
    assert_int_equal(enc.len, 0);
    cm_buf_fini(&enc);
    sample_fini(&s);
}

/* ---- aggregate states ----------------------------------------------------------------------- */

/* Feeds vals[0..n) to a fresh state of fn and returns its final value's text. */
static const char *agg_run(cm_copr_aggfn fn, const cm_datum *vals, size_t n)
{
    cm_copr_agg_state s;
    cm_copr_agg_init(&s, fn);
    cm_err err;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(cm_copr_agg_add(&s, &vals[i], &arena, &err), 0);
    }
    cm_datum out;
    assert_int_equal(cm_copr_agg_final(&s, &arena, &out, &err), 0);
    cm_copr_agg_fini(&s);
    return show(&out);
}

/* The same values split over k partial states, each encoded, then merged. */
static const char *agg_merged(cm_copr_aggfn fn, const cm_datum *vals, size_t n, size_t k)
{
    cm_copr_agg_state final;
    cm_copr_agg_init(&final, fn);
    cm_err err;
    for (size_t part = 0; part < k; part++) {
        cm_copr_agg_state s;
        cm_copr_agg_init(&s, fn);
        for (size_t i = part; i < n; i += k) {
            assert_int_equal(cm_copr_agg_add(&s, &vals[i], &arena, &err), 0);
        }
        cm_buf enc = CM_BUF_INIT;
        assert_int_equal(cm_copr_agg_partial_encode(&s, &enc, &err), 0);
        cm_reader r;
        cm_reader_init(&r, enc.ptr, enc.len);
        assert_int_equal(cm_copr_agg_merge(&final, &r, &arena, &err), 0);
        assert_int_equal(cm_reader_left(&r), 0);
        cm_buf_fini(&enc);
        cm_copr_agg_fini(&s);
    }
    cm_datum out;
    assert_int_equal(cm_copr_agg_final(&final, &arena, &out, &err), 0);
    cm_copr_agg_fini(&final);
    return show(&out);
}

/* Checks one aggregate over vals: single pass == want, and merged over 1..5 partials == want. */
static void agg_check(cm_copr_aggfn fn, const cm_datum *vals, size_t n, const char *want)
{
    EQ(agg_run(fn, vals, n), want);
    for (size_t k = 1; k <= 5; k++) {
        EQ(agg_merged(fn, vals, n, k), want);
    }
}

static void test_agg_ints(void **state)
{
    (void)state;
    cm_datum v[] = {cm_datum_int64(1), cm_datum_null(), cm_datum_int64(2), cm_datum_int64(2),
                    cm_datum_int64(-7)};
    agg_check(CM_COPR_COUNT, v, 5, "i:4");
    agg_check(CM_COPR_SUM, v, 5, "d:-2");
    agg_check(CM_COPR_AVG, v, 5, "d:-0.5000");
    agg_check(CM_COPR_MIN, v, 5, "i:-7");
    agg_check(CM_COPR_MAX, v, 5, "i:2");
    agg_check(CM_COPR_AVG, v, 4, "d:1.6667"); /* 5 / 3 rounded at scale 4 */
    /* exact beyond 2^63: 1000 × INT64_MAX and UINT64_MAX */
    cm_datum big[1000];
    for (int i = 0; i < 1000; i++) {
        big[i] = cm_datum_int64(INT64_MAX);
    }
    agg_check(CM_COPR_SUM, big, 1000, "d:9223372036854775807000");
    agg_check(CM_COPR_AVG, big, 1000, "d:9223372036854775807.0000");
    agg_check(CM_COPR_SUM, big, 2, "d:18446744073709551614");
    cm_datum u[] = {cm_datum_uint64(UINT64_MAX), cm_datum_uint64(UINT64_MAX),
                    cm_datum_int64(INT64_MIN)};
    agg_check(CM_COPR_SUM, u, 3, "d:27670116110564327422");
    agg_check(CM_COPR_MAX, u, 3, "u:18446744073709551615");
    agg_check(CM_COPR_MIN, u, 3, "i:-9223372036854775808");
}

static void test_agg_decimals(void **state)
{
    (void)state;
    cm_datum v[] = {DEC("1.25"), DEC("2.5"), cm_datum_null(), DEC("-0.125")};
    agg_check(CM_COPR_SUM, v, 2, "d:3.75");
    agg_check(CM_COPR_AVG, v, 2, "d:1.875000");
    agg_check(CM_COPR_SUM, v, 4, "d:3.625");
    agg_check(CM_COPR_AVG, v, 4, "d:1.2083333"); /* 3.625 / 3 at scale 3 + 4 */
    agg_check(CM_COPR_MIN, v, 4, "d:-0.125");
    agg_check(CM_COPR_MAX, v, 4, "d:2.5");
    cm_datum sc[] = {DEC("1.50"), DEC("1.5")};
    sc[1].v.dec.frac = 1;
    agg_check(CM_COPR_MAX, sc, 1, "d:1.50"); /* the scale survives a partial */
    agg_check(CM_COPR_SUM, sc, 2, "d:3.00");
    /* integers mixed with decimals (as an expression could give) */
    cm_datum mix[] = {cm_datum_int64(1), DEC("0.5"), cm_datum_int64(INT64_MAX)};
    agg_check(CM_COPR_SUM, mix, 3, "d:9223372036854775808.5");
}

static void test_agg_doubles_strings(void **state)
{
    (void)state;
    cm_datum v[] = {cm_datum_float64(0.5), cm_datum_float64(0.25), cm_datum_null()};
    agg_check(CM_COPR_SUM, v, 3, "f:0.75");
    agg_check(CM_COPR_AVG, v, 3, "f:0.375");
    agg_check(CM_COPR_MAX, v, 3, "f:0.5");
    cm_datum s[] = {cm_datum_string(cm_slice_cstr("b")), cm_datum_string(cm_slice_cstr("a ")),
                    cm_datum_string(cm_slice_cstr("12x"))};
    agg_check(CM_COPR_SUM, s, 3, "f:12");
    agg_check(CM_COPR_MIN, s, 3, "s:12x");
    agg_check(CM_COPR_MAX, s, 3, "s:b");
    /* an empty string as MIN (fuzz_copr found final reading its NULL payload pointer) */
    cm_datum e[] = {cm_datum_string(cm_slice_make(NULL, 0)), cm_datum_string(cm_slice_cstr("z"))};
    agg_check(CM_COPR_MIN, e, 2, "s:");
    agg_check(CM_COPR_MAX, e, 1, "s:");
    /* trailing spaces survive a partial (the key codec drops them) */
    cm_datum sp[] = {cm_datum_string(cm_slice_cstr("a  ")), cm_datum_string(cm_slice_cstr("a"))};
    agg_check(CM_COPR_MAX, sp, 2, "s:a  ");
    agg_check(CM_COPR_MIN, sp, 2, "s:a  ");
    cm_datum sp2[] = {cm_datum_string(cm_slice_cstr("   "))};
    agg_check(CM_COPR_MIN, sp2, 1, "s:   ");
    cm_datum mixed[] = {cm_datum_int64(1), cm_datum_float64(0.5)};
    agg_check(CM_COPR_SUM, mixed, 2, "f:1.5");
}

static void test_agg_nulls(void **state)
{
    (void)state;
    cm_datum v[] = {cm_datum_null(), cm_datum_null()};
    agg_check(CM_COPR_COUNT, v, 2, "i:0");
    agg_check(CM_COPR_SUM, v, 2, "NULL");
    agg_check(CM_COPR_AVG, v, 2, "NULL");
    agg_check(CM_COPR_MIN, v, 2, "NULL");
    agg_check(CM_COPR_MAX, v, 0, "NULL");
    agg_check(CM_COPR_SUM, v, 0, "NULL");
    /* COUNT(*) counts rows, NULL pointer per row */
    cm_copr_agg_state s;
    cm_copr_agg_init(&s, CM_COPR_COUNT);
    cm_err err;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(cm_copr_agg_add(&s, NULL, &arena, &err), 0);
    }
    cm_datum out;
    assert_int_equal(cm_copr_agg_final(&s, &arena, &out, &err), 0);
    EQ(show(&out), "i:3");
    cm_copr_agg_fini(&s);
}

static void test_agg_merge_rejects(void **state)
{
    (void)state;
    static const cm_copr_aggfn fns[] = {CM_COPR_COUNT, CM_COPR_SUM, CM_COPR_MIN, CM_COPR_MAX,
                                        CM_COPR_AVG};
    cm_datum vals[] = {DEC("12.345"), cm_datum_string(cm_slice_cstr("some text"))};
    for (size_t f = 0; f < 5; f++) {
        for (size_t vi = 0; vi < 2; vi++) {
            cm_copr_agg_state s, m;
            cm_copr_agg_init(&s, fns[f]);
            cm_err err;
            assert_int_equal(cm_copr_agg_add(&s, &vals[vi], &arena, &err), 0);
            cm_buf enc = CM_BUF_INIT;
            assert_int_equal(cm_copr_agg_partial_encode(&s, &enc, &err), 0);
            /* every truncation is refused and leaves the reader where it was */
            for (size_t n = 0; n < enc.len; n++) {
                cm_copr_agg_init(&m, fns[f]);
                cm_reader r;
                cm_reader_init(&r, enc.ptr, n);
                assert_int_equal(cm_copr_agg_merge(&m, &r, &arena, &err), CM_E_CORRUPT);
                assert_int_equal(r.pos, 0);
                cm_copr_agg_fini(&m);
            }
            cm_buf_fini(&enc);
            cm_copr_agg_fini(&s);
        }
    }
    /* wrong types: a string where a count or a sum is expected; a negative count */
    cm_buf enc = CM_BUF_INIT;
    cm_err err;
    cm_datum str = cm_datum_string(cm_slice_cstr("x")), neg = cm_datum_int64(-1);
    assert_int_equal(cm_codec_encode_datum(&enc, &str, &err), 0);
    for (size_t f = 0; f < 2; f++) {
        cm_copr_agg_state m;
        cm_copr_agg_init(&m, fns[f]);
        cm_reader r;
        cm_reader_init(&r, enc.ptr, enc.len);
        assert_int_equal(cm_copr_agg_merge(&m, &r, &arena, &err), CM_E_CORRUPT);
        cm_copr_agg_fini(&m);
    }
    cm_buf_reset(&enc);
    assert_int_equal(cm_codec_encode_datum(&enc, &neg, &err), 0);
    cm_copr_agg_state m;
    cm_copr_agg_init(&m, CM_COPR_COUNT);
    cm_reader r;
    cm_reader_init(&r, enc.ptr, enc.len);
    assert_int_equal(cm_copr_agg_merge(&m, &r, &arena, &err), CM_E_CORRUPT);
    cm_copr_agg_fini(&m);
    /* AVG: a NULL sum with a count above zero */
    cm_buf_reset(&enc);
    cm_datum null = cm_datum_null(), three = cm_datum_int64(3);
    assert_int_equal(cm_codec_encode_datum(&enc, &null, &err), 0);
    assert_int_equal(cm_codec_encode_datum(&enc, &three, &err), 0);
    cm_copr_agg_init(&m, CM_COPR_AVG);
    cm_reader_init(&r, enc.ptr, enc.len);
    assert_int_equal(cm_copr_agg_merge(&m, &r, &arena, &err), CM_E_CORRUPT);
    cm_datum out;
    assert_int_equal(cm_copr_agg_final(&m, &arena, &out, &err), 0);
    EQ(show(&out), "NULL");
    cm_copr_agg_fini(&m);
    cm_buf_fini(&enc);
}

/* An empty region's partials (COUNT 0, others NULL) merge as nothing. */
static void test_agg_empty_partials(void **state)
{
    (void)state;
    cm_datum v[] = {cm_datum_int64(5), DEC("2.5")};
    static const cm_copr_aggfn fns[] = {CM_COPR_COUNT, CM_COPR_SUM, CM_COPR_MIN, CM_COPR_MAX,
                                        CM_COPR_AVG};
    const char *want[] = {"i:2", "d:7.5", "d:2.5", "i:5", "d:3.75000"};
    for (size_t f = 0; f < 5; f++) {
        cm_copr_agg_state fin, empty, full;
        cm_copr_agg_init(&fin, fns[f]);
        cm_copr_agg_init(&empty, fns[f]);
        cm_copr_agg_init(&full, fns[f]);
        cm_err err;
        for (size_t i = 0; i < 2; i++) {
            assert_int_equal(cm_copr_agg_add(&full, &v[i], &arena, &err), 0);
        }
        cm_buf enc = CM_BUF_INIT;
        assert_int_equal(cm_copr_agg_partial_encode(&empty, &enc, &err), 0);
        assert_int_equal(cm_copr_agg_partial_encode(&full, &enc, &err), 0);
        assert_int_equal(cm_copr_agg_partial_encode(&empty, &enc, &err), 0);
        cm_reader r;
        cm_reader_init(&r, enc.ptr, enc.len);
        for (int i = 0; i < 3; i++) {
            assert_int_equal(cm_copr_agg_merge(&fin, &r, &arena, &err), 0);
        }
        assert_int_equal(cm_reader_left(&r), 0);
        cm_datum out;
        assert_int_equal(cm_copr_agg_final(&fin, &arena, &out, &err), 0);
        EQ(show(&out), want[f]);
        cm_buf_fini(&enc);
        cm_copr_agg_fini(&fin);
        cm_copr_agg_fini(&empty);
        cm_copr_agg_fini(&full);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_round_trip),
        cmocka_unit_test(test_plan_truncations),
        cmocka_unit_test(test_plan_rejects),
        cmocka_unit_test(test_plan_encode_rejects),
        cmocka_unit_test(test_agg_ints),
        cmocka_unit_test(test_agg_decimals),
        cmocka_unit_test(test_agg_doubles_strings),
        cmocka_unit_test(test_agg_nulls),
        cmocka_unit_test(test_agg_merge_rejects),
        cmocka_unit_test(test_agg_empty_partials),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
