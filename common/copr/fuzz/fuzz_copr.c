/*
 * fuzz_copr — libFuzzer target for the coprocessor plan decoder and the expression evaluator.
 * Input: u16 little-endian plan length | plan | row bytes. A plan that decodes must re-encode
 * and decode again; each of its programs must decode on its own; then rows of the plan's column
 * types, built from the row bytes, run through the selection, the GROUP BY, aggregate and ORDER
 * BY programs (errors such as integer overflow are fine, crashes and leaks are not), values
 * feed the aggregate states, whose partials are encoded and merged into a second state (three
 * times) and finalised. Any corrupt input must come back as an error code.
 */
#include "cm_copr.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROWS_MAX 32

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_copr: %s\n", what);
        abort();
    }
}

static uint64_t take(cm_reader *r, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t b = 0;
        (void)cm_reader_u8(r, &b);
        v = v << 8 | b;
    }
    return v;
}

/* A valid datum of type t made from r's bytes (zeros once they run out). */
static void make_datum(cm_reader *r, cm_dtype t, cm_datum *d)
{
    uint8_t sel = (uint8_t)take(r, 1);
    if (sel % 8 == 0) {
        *d = cm_datum_null();
        return;
    }
    switch (t) {
    case CM_DT_INT64:
        *d = cm_datum_int64((int64_t)(take(r, sel % 2 ? 1 : 8) - (sel & 4 ? 128u : 0u)));
        break;
    case CM_DT_UINT64:
    case CM_DT_SET:
    case CM_DT_BIT:
        *d = cm_datum_uint(t, take(r, sel % 2 ? 1 : 8));
        break;
    case CM_DT_FLOAT64:
    case CM_DT_FLOAT32: {
        uint64_t bits = take(r, 8);
        double f;
        memcpy(&f, &bits, sizeof(f));
        if (!isfinite(f)) {
            f = (double)(int64_t)bits;
        }
        if (t == CM_DT_FLOAT32) {
            f = (double)(float)f;
            if (!isfinite(f)) {
                f = 1.5;
            }
        }
        d->type = t;
        d->v.f64 = f;
        break;
    }
    case CM_DT_BYTES:
    case CM_DT_STRING:
    case CM_DT_JSON: {
        size_t len = take(r, 1) % 24;
        if (len > cm_reader_left(r)) {
            len = cm_reader_left(r);
        }
        cm_slice s;
        (void)cm_reader_bytes(r, len, &s);
        d->type = t;
        d->v.bytes = s;
        break;
    }
    case CM_DT_DECIMAL: {
        cm_decimal x;
        memset(&x, 0, sizeof(x));
        unsigned frac = (unsigned)take(r, 1) % (CM_DECIMAL_FRAC_MAX + 1);
        unsigned intg = (unsigned)take(r, 1) % (CM_DECIMAL_DIGITS_MAX - frac + 1);
        x.frac = (uint8_t)frac;
        x.intg = (uint8_t)intg;
        for (unsigned i = 0; i < intg + frac; i++) {
            x.digits[i] = (uint8_t)(take(r, 1) % 10);
        }
        if (intg > 0 && x.digits[0] == 0) {
            x.digits[0] = 1;
        }
        x.neg = (sel & 2) && !cm_decimal_is_zero(&x);
        *d = cm_datum_decimal(&x);
        break;
    }
    case CM_DT_DATE:
    case CM_DT_DATETIME:
    case CM_DT_TIMESTAMP: {
        cm_datetime v;
        memset(&v, 0, sizeof(v));
        v.year = (uint16_t)(take(r, 2) % 10000);
        v.month = (uint8_t)(take(r, 1) % 13);
        v.day = (uint8_t)(take(r, 1) % 32);
        if (t != CM_DT_DATE) {
            v.hour = (uint8_t)(take(r, 1) % 24);
            v.minute = (uint8_t)(take(r, 1) % 60);
            v.second = (uint8_t)(take(r, 1) % 60);
            v.micro = (uint32_t)(take(r, 3) % 1000000);
        }
        *d = cm_datum_uint(t, cm_datetime_pack(&v));
        break;
    }
    case CM_DT_TIME:
        *d = cm_datum_int(CM_DT_TIME,
                          (int64_t)(take(r, 6) % (2 * (uint64_t)CM_DURATION_US_MAX + 1)) -
                              CM_DURATION_US_MAX);
        break;
    case CM_DT_YEAR: {
        uint64_t y = take(r, 1);
        *d = cm_datum_uint(CM_DT_YEAR, y == 0 ? 0 : CM_YEAR_MIN + y % 255);
        break;
    }
    case CM_DT_ENUM:
        *d = cm_datum_uint(CM_DT_ENUM, take(r, 2));
        break;
    default:
        *d = cm_datum_null();
        break;
    }
}

/* Decodes a program the plan decoder accepted; it must decode again. */
static cm_cx *prog(cm_slice code, uint32_t ncols, cm_arena *arena)
{
    cm_cx *p = NULL;
    cm_err err;
    check(cm_cx_decode(code, ncols, arena, &p, &err) == 0, "a program of a valid plan fails");
    return p;
}

static void eval(const cm_cx *p, const cm_datum *row, cm_arena *scratch, cm_datum *out)
{
    cm_err err;
    int rc = cm_cx_eval(p, row, scratch, out, &err);
    if (rc != 0) {
        check(rc == CM_E_BIGINT_RANGE || rc == CM_E_NOMEM, "eval: unexpected error code");
        *out = cm_datum_null();
    }
}

static void run_plan(const cm_copr_plan *plan, cm_reader *rows, cm_arena *arena)
{
    uint32_t nc = plan->ncols;
    cm_cx *sel = plan->sel.len > 0 ? prog(plan->sel, nc, arena) : NULL;
    cm_cx *group[CM_COPR_GROUPBY_MAX];
    cm_cx *aggs[CM_COPR_AGGS_MAX];
    cm_cx *order[CM_COPR_ORDER_MAX];
    for (uint32_t i = 0; i < plan->ngroup; i++) {
        group[i] = prog(plan->group[i], nc, arena);
    }
    for (uint32_t i = 0; i < plan->naggs; i++) {
        aggs[i] = plan->aggs[i].arg.len > 0 ? prog(plan->aggs[i].arg, nc, arena) : NULL;
    }
    for (uint32_t i = 0; i < plan->norder; i++) {
        order[i] = prog(plan->order[i].expr, nc, arena);
    }
    static cm_copr_agg_state st[CM_COPR_AGGS_MAX];
    for (uint32_t i = 0; i < plan->naggs; i++) {
        cm_copr_agg_init(&st[i], (cm_copr_aggfn)plan->aggs[i].fn);
    }
    cm_arena scratch;
    cm_arena_init(&scratch, 0);
    cm_datum *row = cm_arena_alloc(arena, (nc == 0 ? 1 : nc) * sizeof(cm_datum));
    check(row != NULL, "out of memory");
    cm_datum keys[CM_COPR_ORDER_MAX];
    cm_err err;
    for (int n = 0; n < ROWS_MAX && cm_reader_left(rows) > 0; n++) {
        cm_arena_reset(&scratch);
        for (uint32_t c = 0; c < nc; c++) {
            make_datum(rows, (cm_dtype)plan->cols[c].dtype, &row[c]);
        }
        if (sel != NULL) {
            bool keep = false;
            int rc = cm_cx_filter(sel, row, &scratch, &keep, &err);
            check(rc == 0 || rc == CM_E_BIGINT_RANGE, "filter: unexpected error code");
        }
        cm_datum v;
        for (uint32_t i = 0; i < plan->ngroup; i++) {
            eval(group[i], row, &scratch, &v);
            cm_buf key = CM_BUF_INIT;
            if (v.type != CM_DT_JSON) {
                check(cm_codec_encode_datum(&key, &v, &err) == 0, "group key does not encode");
            }
            cm_buf_fini(&key);
        }
        for (uint32_t i = 0; i < plan->naggs; i++) {
            if (aggs[i] == NULL) {
                (void)cm_copr_agg_add(&st[i], NULL, &scratch, &err);
                continue;
            }
            eval(aggs[i], row, &scratch, &v);
            int rc = cm_copr_agg_add(&st[i], &v, &scratch, &err);
            check(rc == 0 || rc == CM_E_BIGINT_RANGE, "agg add: unexpected error code");
        }
        /* ORDER BY keys: comparison is antisymmetric, and every value equals itself */
        for (uint32_t i = 0; i < plan->norder; i++) {
            eval(order[i], row, &scratch, &keys[i]);
            const cm_datum *a = &keys[i], *b = i > 0 ? &keys[i - 1] : &keys[i];
            if (a->type == CM_DT_NULL || b->type == CM_DT_NULL) {
                continue;
            }
            int c1 = 0, c2 = 0, c0 = 1;
            check(cm_cx_compare(a, b, &scratch, &c1, &err) == 0, "compare");
            check(cm_cx_compare(b, a, &scratch, &c2, &err) == 0, "compare");
            check(cm_cx_compare(a, a, &scratch, &c0, &err) == 0 && c0 == 0, "compare to itself");
            check((c1 > 0) == (c2 < 0) && (c1 == 0) == (c2 == 0), "compare not antisymmetric");
        }
    }
    /* partials: encode each state, merge it three times into a fresh state, finalise both */
    for (uint32_t i = 0; i < plan->naggs; i++) {
        cm_buf enc = CM_BUF_INIT;
        int rc = cm_copr_agg_partial_encode(&st[i], &enc, &err);
        if (rc == 0) {
            cm_copr_agg_state m;
            cm_copr_agg_init(&m, (cm_copr_aggfn)plan->aggs[i].fn);
            for (int k = 0; k < 3; k++) {
                cm_reader r;
                cm_reader_init(&r, enc.ptr, enc.len);
                int mrc = cm_copr_agg_merge(&m, &r, &scratch, &err);
                check(mrc == 0 || mrc == CM_E_BIGINT_RANGE, "merge of a valid partial fails");
                check(mrc != 0 || cm_reader_left(&r) == 0, "merge leaves bytes");
            }
            cm_datum out;
            rc = cm_copr_agg_final(&m, arena, &out, &err);
            check(rc == 0 || rc == CM_E_BIGINT_RANGE, "final of merged state");
            cm_copr_agg_fini(&m);
        } else {
            check(rc == CM_E_INVALID, "partial encode: unexpected error code"); /* JSON MIN/MAX */
        }
        cm_datum out;
        rc = cm_copr_agg_final(&st[i], arena, &out, &err);
        check(rc == 0 || rc == CM_E_BIGINT_RANGE, "final");
        cm_buf_fini(&enc);
        cm_copr_agg_fini(&st[i]);
    }
    cm_arena_fini(&scratch);
}

/* Partial states straight from the input bytes: merge must refuse or accept, never crash. */
static void fuzz_merge(cm_slice in, cm_arena *arena)
{
    for (int fn = CM_COPR_COUNT; fn <= CM_COPR_AVG; fn++) {
        cm_copr_agg_state s;
        cm_copr_agg_init(&s, (cm_copr_aggfn)fn);
        cm_reader r;
        cm_reader_init(&r, in.ptr, in.len);
        cm_err err;
        for (int k = 0; k < 8 && cm_reader_left(&r) > 0; k++) {
            size_t at = r.pos;
            int rc = cm_copr_agg_merge(&s, &r, arena, &err);
            if (rc != 0) {
                check(rc == CM_E_CORRUPT || rc == CM_E_BIGINT_RANGE, "merge: unexpected error");
                check(r.pos == at, "merge moved the reader on error");
                break;
            }
        }
        cm_datum out;
        (void)cm_copr_agg_final(&s, arena, &out, &err);
        cm_copr_agg_fini(&s);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) {
        return 0;
    }
    size_t plen = (size_t)data[0] | (size_t)data[1] << 8;
    if (plen > size - 2) {
        plen = size - 2;
    }
    cm_slice plan_bytes = cm_slice_make(data + 2, plen);
    cm_arena arena;
    cm_arena_init(&arena, 0);
    cm_copr_plan plan;
    cm_err err;
    int rc = cm_copr_plan_decode(plan_bytes, &arena, &plan, &err);
    if (rc != 0) {
        check(rc == CM_E_INVALID || rc == CM_E_UNSUPPORTED, "plan decode: unexpected error");
        /* the same bytes as a single program against 8 columns, and as partial states */
        cm_cx *p;
        if (cm_cx_decode(plan_bytes, 8, &arena, &p, &err) == 0) {
            cm_datum row[8];
            cm_reader rows;
            cm_reader_init(&rows, data + 2 + plen, size - 2 - plen);
            static const cm_dtype types[8] = {CM_DT_INT64,   CM_DT_STRING, CM_DT_DECIMAL,
                                              CM_DT_FLOAT64, CM_DT_BYTES,  CM_DT_UINT64,
                                              CM_DT_DATE,    CM_DT_TIME};
            cm_arena scratch;
            cm_arena_init(&scratch, 0);
            for (int n = 0; n < ROWS_MAX && cm_reader_left(&rows) > 0; n++) {
                cm_arena_reset(&scratch);
                for (int c = 0; c < 8; c++) {
                    make_datum(&rows, types[c], &row[c]);
                }
                cm_datum out;
                eval(p, row, &scratch, &out);
            }
            cm_arena_fini(&scratch);
        }
        fuzz_merge(plan_bytes, &arena);
        cm_arena_fini(&arena);
        return 0;
    }
    /* re-encode and decode again */
    cm_buf re = CM_BUF_INIT;
    check(cm_copr_plan_encode(&plan, &re, &err) == 0, "a decoded plan does not encode");
    cm_copr_plan again;
    check(cm_copr_plan_decode(cm_buf_slice(&re), &arena, &again, &err) == 0,
          "a re-encoded plan does not decode");
    cm_buf re2 = CM_BUF_INIT;
    check(cm_copr_plan_encode(&again, &re2, &err) == 0, "second encode");
    check(cm_slice_eq(cm_buf_slice(&re), cm_buf_slice(&re2)), "encoding not stable");
    cm_buf_fini(&re);
    cm_buf_fini(&re2);
    cm_reader rows;
    cm_reader_init(&rows, data + 2 + plen, size - 2 - plen);
    run_plan(&plan, &rows, &arena);
    cm_arena_fini(&arena);
    return 0;
}
