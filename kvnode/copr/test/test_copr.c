/* test_copr.c — unit tests of the coprocessor executor (kv_copr.h) on the memory engine: table
 * scans with projection and paging, selection, Limit, aggregation with and without GROUP BY,
 * TopN, index scans (non-unique and unique), locks for scans and for whole-region plans, and
 * malformed plans answered with errors (never a crash).
 *
 * Data: table 7, handles 0..49; column 1 = h*100, 2 = h*200 (INT64), 3 = "s<h%5>" (STRING),
 * 4 = NULL when h%3 == 0 else h (INT64); column 9 is absent everywhere. Index 1 (non-unique)
 * over column 3, index 2 (unique) over column 1 (value: the handle). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cm_copr.h"
#include "cm_cx.h"
#include "cm_keys.h"
#include "cm_row.h"
#include "kv_copr.h"
#include "kv_memengine.h"
#include "kv_txn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NROWS 50
#define TS    1000

static kv_engine *eng;

/* Writes key = value (or a lock only, commit_ts 0) through the Percolator functions. */
static void txn_put(cm_slice key, cm_slice value, uint64_t start_ts, uint64_t commit_ts)
{
    cm_err err;
    kv_mutation m = {KV_MUT_PUT, key, value};
    kv_prewrite_req pr = {&m, 1, key, start_ts, 3000, 1};
    for (int phase = 0; phase < (commit_ts ? 2 : 1); phase++) {
        kv_snapshot *snap;
        assert_int_equal(kv_engine_snapshot(eng, &snap, &err), 0);
        kv_batch b;
        kv_batch_init(&b);
        cm_arena a;
        cm_arena_init(&a, 4096);
        kv_txn_out out;
        kv_txn_out_init(&out, &b, &a);
        int rc = phase == 0 ? kv_txn_prewrite(snap, &pr, &out, &err)
                            : kv_txn_commit(snap, &key, 1, start_ts, commit_ts, &out, &err);
        assert_int_equal(rc, 0);
        kv_snapshot_release(snap);
        assert_int_equal(kv_engine_write(eng, &b, false, &err), 0);
        kv_batch_fini(&b);
        cm_arena_fini(&a);
    }
}

static void row_put(int64_t h, uint64_t start_ts, uint64_t commit_ts)
{
    cm_buf key = CM_BUF_INIT, row = CM_BUF_INIT, ik = CM_BUF_INIT, iv = CM_BUF_INIT;
    cm_err err;
    char s[8];
    snprintf(s, sizeof(s), "s%d", (int)(h % 5));
    cm_row_cell cells[4] = {{1, cm_datum_int64(h * 100)},
                            {2, cm_datum_int64(h * 200)},
                            {3, cm_datum_string(cm_slice_make(s, strlen(s)))},
                            {4, h % 3 == 0 ? cm_datum_null() : cm_datum_int64(h)}};
    assert_int_equal(cm_keys_append_row(&key, 7, h), 0);
    assert_int_equal(cm_row_encode(&row, cells, 4, &err), 0);
    txn_put(cm_buf_slice(&key), cm_buf_slice(&row), start_ts, commit_ts);
    if (commit_ts != 0) {
        bool in_key;
        assert_int_equal(
            cm_keys_append_index(&ik, 7, 1, &cells[2].value, 1, false, h, &in_key, &err), 0);
        txn_put(cm_buf_slice(&ik), cm_slice_make("0", 1), start_ts, commit_ts);
        cm_buf_reset(&ik);
        assert_int_equal(
            cm_keys_append_index(&ik, 7, 2, &cells[0].value, 1, true, h, &in_key, &err), 0);
        assert_false(in_key);
        assert_int_equal(cm_codec_append_int64(&iv, h), 0);
        txn_put(cm_buf_slice(&ik), cm_buf_slice(&iv), start_ts, commit_ts);
    }
    cm_buf_fini(&key);
    cm_buf_fini(&row);
    cm_buf_fini(&ik);
    cm_buf_fini(&iv);
}

static int setup(void **state)
{
    (void)state;
    cm_err err;
    assert_int_equal(kv_memengine_open(&eng, &err), 0);
    for (int64_t h = 0; h < NROWS; h++) {
        row_put(h, 10 + (uint64_t)h * 4, 12 + (uint64_t)h * 4);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kv_engine_close(eng);
    return 0;
}

/* ---- plan building -------------------------------------------------------------------------- */

/* Programs kept alive for one plan. */
typedef struct progs {
    cm_cx_builder b[16];
    int n;
} progs;

static void progs_init(progs *p)
{
    for (int i = 0; i < 16; i++) {
        cm_cx_builder_init(&p->b[i]);
    }
    p->n = 0;
}

static void progs_fini(progs *p)
{
    for (int i = 0; i < 16; i++) {
        cm_cx_builder_fini(&p->b[i]);
    }
}

static cm_cx_builder *prog_new(progs *p)
{
    assert_true(p->n < 16);
    return &p->b[p->n++];
}

static cm_slice prog_done(cm_cx_builder *b)
{
    cm_slice s;
    cm_err err;
    assert_int_equal(cm_cx_finish(b, &s, &err), 0);
    return s;
}

/* col(i) OP const int */
static cm_slice cmp_prog(progs *p, uint32_t col, cm_cx_op op, int64_t v)
{
    cm_cx_builder *b = prog_new(p);
    cm_datum d = cm_datum_int64(v);
    cm_cx_col(b, col);
    cm_cx_const(b, &d);
    cm_cx_op1(b, op);
    return prog_done(b);
}

static cm_slice col_prog(progs *p, uint32_t col)
{
    cm_cx_builder *b = prog_new(p);
    cm_cx_col(b, col);
    return prog_done(b);
}

/* lo <= col(i) < hi */
static cm_slice between_prog(progs *p, uint32_t col, int64_t lo, int64_t hi)
{
    cm_cx_builder *b = prog_new(p);
    cm_datum dl = cm_datum_int64(lo), dh = cm_datum_int64(hi);
    cm_cx_col(b, col);
    cm_cx_const(b, &dl);
    cm_cx_op1(b, CM_CX_GE);
    cm_cx_col(b, col);
    cm_cx_const(b, &dh);
    cm_cx_op1(b, CM_CX_LT);
    cm_cx_op1(b, CM_CX_AND);
    return prog_done(b);
}

/* The table columns of every table plan: 0 handle, 1 col1, 2 col2, 3 col3, 4 col4, 5 col9. */
static const cm_copr_pcol tcols[6] = {{CM_COPR_HANDLE_ID, CM_DT_INT64},
                                      {1, CM_DT_INT64},
                                      {2, CM_DT_INT64},
                                      {3, CM_DT_STRING},
                                      {4, CM_DT_INT64},
                                      {9, CM_DT_INT64}};

static void table_plan(cm_copr_plan *p)
{
    memset(p, 0, sizeof(*p));
    p->scan = CM_COPR_SCAN_TABLE;
    p->ncols = 6;
    p->cols = tcols;
}

static void encode(const cm_copr_plan *p, cm_buf *out)
{
    cm_err err;
    cm_buf_reset(out);
    assert_int_equal(cm_copr_plan_encode(p, out, &err), 0);
}

static int run_range(cm_slice plan, cm_slice start, cm_slice end, uint64_t ts, uint32_t page,
                     cm_arena *a, kv_copr_result *out)
{
    kv_snapshot *snap;
    cm_err err;
    assert_int_equal(kv_engine_snapshot(eng, &snap, &err), 0);
    kv_copr_range r = {start, end};
    int rc = kv_copr_handle(snap, CM_COPR_REQ_DAG, plan, &r, 1, ts, page, a, out, &err);
    kv_snapshot_release(snap);
    return rc;
}

/* Runs a plan over the rows (index_id 0) or an index of table 7. */
static int run(const cm_copr_plan *p, int64_t index_id, uint32_t page, cm_arena *a,
               kv_copr_result *out)
{
    cm_buf plan = CM_BUF_INIT, start = CM_BUF_INIT, end = CM_BUF_INIT;
    encode(p, &plan);
    if (index_id == 0) {
        cm_keys_rows_range(7, &start, &end);
    } else {
        cm_keys_index_range(7, index_id, &start, &end);
    }
    /* The result lives in a: keep the plan's bytes there too. */
    void *pb = cm_arena_memdup(a, plan.ptr, plan.len);
    int rc = run_range(cm_slice_make(pb, plan.len), cm_buf_slice(&start), cm_buf_slice(&end), TS,
                       page, a, out);
    cm_buf_fini(&plan);
    cm_buf_fini(&start);
    cm_buf_fini(&end);
    return rc;
}

/* ---- response reading ---------------------------------------------------------------------- */

typedef struct row {
    cm_slice key;
    int64_t handle; /* table rows: from the key */
    uint8_t pres[8];
    cm_datum v[8];
} row;

/* Reads rows with ncols columns of the given types; returns the count (at most cap). */
static size_t read_rows(cm_slice data, const cm_dtype *types, size_t ncols, row *rows, size_t cap)
{
    cm_reader rd;
    cm_reader_init(&rd, data.ptr, data.len);
    size_t n = 0;
    cm_err err;
    while (cm_reader_left(&rd) > 0) {
        assert_true(n < cap);
        row *r = &rows[n++];
        uint64_t kl;
        assert_int_equal(cm_reader_uvarint(&rd, &kl), 0);
        assert_int_equal(cm_reader_bytes(&rd, kl, &r->key), 0);
        int64_t tid;
        r->handle = -1;
        if (cm_keys_kind(r->key) == CM_KEY_ROW) {
            assert_int_equal(cm_keys_decode_row(r->key, &tid, &r->handle, &err), 0);
        }
        for (size_t i = 0; i < ncols; i++) {
            assert_int_equal(cm_reader_u8(&rd, &r->pres[i]), 0);
            r->v[i] = cm_datum_null();
            if (r->pres[i] == CM_COPR_VALUE) {
                uint64_t vl;
                cm_slice v;
                assert_int_equal(cm_reader_uvarint(&rd, &vl), 0);
                assert_int_equal(cm_reader_bytes(&rd, vl, &v), 0);
                assert_int_equal(cm_row_value_decode(types[i], v, &r->v[i], &err), 0);
            } else {
                assert_true(r->pres[i] == CM_COPR_NULL || r->pres[i] == CM_COPR_ABSENT);
            }
        }
    }
    return n;
}

/* ---- scans ---------------------------------------------------------------------------------- */

static void test_scan_pages(void **state)
{
    (void)state;
    cm_copr_plan p;
    table_plan(&p);
    uint32_t out_cols[3] = {2, 0, 5}; /* col2, handle, col9 */
    p.has_out = true;
    p.nout = 3;
    p.out = out_cols;
    cm_buf plan = CM_BUF_INIT, start = CM_BUF_INIT, end = CM_BUF_INIT;
    encode(&p, &plan);
    cm_keys_rows_range(7, &start, &end);
    cm_arena a;
    cm_arena_init(&a, 4096);
    kv_copr_result out;
    static row rows[NROWS];
    const cm_dtype types[3] = {CM_DT_INT64, CM_DT_INT64, CM_DT_INT64};
    size_t total = 0;
    int pages = 0;
    cm_slice from = cm_buf_slice(&start);
    for (; pages < 10; pages++) {
        assert_int_equal(run_range(cm_buf_slice(&plan), from, cm_buf_slice(&end), TS, 16, &a, &out),
                         0);
        size_t n = read_rows(out.data, types, 3, rows + total, NROWS - total);
        assert_int_equal(out.returned_rows, n);
        assert_true(n <= 16);
        for (size_t i = 0; i < n; i++) {
            row *r = &rows[total + i];
            assert_int_equal(r->handle, (int64_t)(total + i));
            assert_int_equal(r->pres[0], CM_COPR_VALUE);
            assert_int_equal(r->v[0].v.i64, r->handle * 200);
            assert_int_equal(r->v[1].v.i64, r->handle);
            assert_int_equal(r->pres[2], CM_COPR_ABSENT);
        }
        total += n;
        if (!out.more) {
            break;
        }
        from = out.resume_key;
    }
    assert_int_equal(total, NROWS);
    assert_int_equal(pages, 3); /* 16 + 16 + 16 + 2 */
    /* At a timestamp between commits only the earlier rows exist. */
    assert_int_equal(run_range(cm_buf_slice(&plan), cm_buf_slice(&start), cm_buf_slice(&end),
                               13 + 4 * 9, 0, &a, &out),
                     0);
    assert_int_equal(read_rows(out.data, types, 3, rows, NROWS), 10);
    cm_arena_fini(&a);
    cm_buf_fini(&plan);
    cm_buf_fini(&start);
    cm_buf_fini(&end);
}

static void test_selection_projection(void **state)
{
    (void)state;
    progs pr;
    progs_init(&pr);
    cm_copr_plan p;
    table_plan(&p);
    p.sel = between_prog(&pr, 1, 1000, 2000); /* h in 10..19 */
    uint32_t out_cols[2] = {3, 4};
    p.has_out = true;
    p.nout = 2;
    p.out = out_cols;
    cm_arena a;
    cm_arena_init(&a, 4096);
    kv_copr_result out;
    static row rows[NROWS];
    const cm_dtype types[2] = {CM_DT_STRING, CM_DT_INT64};
    assert_int_equal(run(&p, 0, 0, &a, &out), 0);
    size_t n = read_rows(out.data, types, 2, rows, NROWS);
    assert_int_equal(n, 10);
    assert_int_equal(out.scanned_rows, NROWS);
    assert_int_equal(out.returned_rows, 10);
    assert_false(out.more);
    for (size_t i = 0; i < n; i++) {
        int64_t h = 10 + (int64_t)i;
        char s[8];
        snprintf(s, sizeof(s), "s%d", (int)(h % 5));
        assert_int_equal(rows[i].handle, h);
        assert_true(cm_slice_eq(rows[i].v[0].v.bytes, cm_slice_make(s, strlen(s))));
        assert_int_equal(rows[i].pres[1], h % 3 == 0 ? CM_COPR_NULL : CM_COPR_VALUE);
    }
    /* A selective filter pages by rows sent: h % 3 = 0 (col4 IS NULL), 5 a page. */
    cm_cx_builder *b = prog_new(&pr);
    cm_cx_col(b, 4);
    cm_cx_op1(b, CM_CX_ISNULL);
    p.sel = prog_done(b);
    cm_buf plan = CM_BUF_INIT, start = CM_BUF_INIT, end = CM_BUF_INIT;
    encode(&p, &plan);
    cm_keys_rows_range(7, &start, &end);
    cm_slice from = cm_buf_slice(&start);
    size_t total = 0;
    for (int pages = 0; pages < 20; pages++) {
        assert_int_equal(run_range(cm_buf_slice(&plan), from, cm_buf_slice(&end), TS, 5, &a, &out),
                         0);
        size_t k = read_rows(out.data, types, 2, rows + total, NROWS - total);
        for (size_t i = 0; i < k; i++) {
            assert_int_equal(rows[total + i].handle, (int64_t)(total + i) * 3);
        }
        total += k;
        if (!out.more) {
            break;
        }
        from = out.resume_key;
    }
    assert_int_equal(total, 17); /* 0, 3, …, 48 */
    cm_buf_fini(&plan);
    cm_buf_fini(&start);
    cm_buf_fini(&end);
    cm_arena_fini(&a);
    progs_fini(&pr);
}

static void test_limit(void **state)
{
    (void)state;
    progs pr;
    progs_init(&pr);
    cm_copr_plan p;
    table_plan(&p);
    p.sel = cmp_prog(&pr, 0, CM_CX_GE, 10);
    p.has_limit = true;
    p.limit = 7;
    uint32_t out_cols[1] = {1};
    p.has_out = true;
    p.nout = 1;
    p.out = out_cols;
    cm_arena a;
    cm_arena_init(&a, 4096);
    kv_copr_result out;
    static row rows[NROWS];
    const cm_dtype types[1] = {CM_DT_INT64};
    assert_int_equal(run(&p, 0, 0, &a, &out), 0);
    assert_int_equal(read_rows(out.data, types, 1, rows, NROWS), 7);
    assert_false(out.more);
    assert_int_equal(rows[0].handle, 10);
    assert_int_equal(rows[6].handle, 16);
    assert_int_equal(out.scanned_rows, 17); /* stops at the limit */
    /* LIMIT above the page: the page ends first. */
    p.limit = 30;
    assert_int_equal(run(&p, 0, 4, &a, &out), 0);
    assert_int_equal(read_rows(out.data, types, 1, rows, NROWS), 4);
    assert_true(out.more);
    p.limit = 0;
    assert_int_equal(run(&p, 0, 0, &a, &out), 0);
    assert_int_equal(out.data.len, 0);
    assert_false(out.more);
    cm_arena_fini(&a);
    progs_fini(&pr);
}

/* ---- aggregation ---------------------------------------------------------------------------- */

/* Merges one group's partial states from rd into fresh states and returns their final values. */
static void read_aggs(cm_reader *rd, const cm_copr_agg *aggs, uint32_t naggs, cm_arena *a,
                      cm_datum *vals)
{
    cm_err err;
    for (uint32_t i = 0; i < naggs; i++) {
        cm_copr_agg_state s;
        cm_copr_agg_init(&s, (cm_copr_aggfn)aggs[i].fn);
        assert_int_equal(cm_copr_agg_merge(&s, rd, a, &err), 0);
        assert_int_equal(cm_copr_agg_final(&s, a, &vals[i], &err), 0);
        cm_copr_agg_fini(&s);
    }
}

/* The decimal's text (static buffer: one call at a time). */
static const char *dec_text(const cm_decimal *d)
{
    static char text[96];
    cm_buf b = CM_BUF_INIT;
    assert_int_equal(cm_decimal_format(d, &b), 0);
    assert_true(b.len < sizeof(text));
    memcpy(text, b.ptr, b.len);
    text[b.len] = 0;
    cm_buf_fini(&b);
    return text;
}

static int64_t as_int(const cm_datum *d)
{
    if (d->type == CM_DT_INT64) {
        return d->v.i64;
    }
    if (d->type == CM_DT_DECIMAL) {
        return strtoll(dec_text(&d->v.dec), NULL, 10);
    }
    fail_msg("unexpected type %s", cm_dtype_name(d->type));
    return 0;
}

static void test_agg_no_group(void **state)
{
    (void)state;
    progs pr;
    progs_init(&pr);
    cm_copr_plan p;
    table_plan(&p);
    p.sel = cmp_prog(&pr, 0, CM_CX_LT, 10);
    cm_copr_agg aggs[6] = {{CM_COPR_COUNT, {NULL, 0}},        {CM_COPR_SUM, col_prog(&pr, 1)},
                           {CM_COPR_COUNT, col_prog(&pr, 4)}, {CM_COPR_MIN, col_prog(&pr, 2)},
                           {CM_COPR_MAX, col_prog(&pr, 2)},   {CM_COPR_AVG, col_prog(&pr, 4)}};
    p.has_agg = true;
    p.naggs = 6;
    p.aggs = aggs;
    cm_arena a;
    cm_arena_init(&a, 4096);
    kv_copr_result out;
    assert_int_equal(run(&p, 0, 1, &a, &out), 0); /* page size does not cut aggregation */
    assert_false(out.more);
    assert_int_equal(out.returned_rows, 1);
    cm_reader rd;
    cm_reader_init(&rd, out.data.ptr, out.data.len);
    cm_datum v[6];
    read_aggs(&rd, aggs, 6, &a, v);
    assert_int_equal(cm_reader_left(&rd), 0);
    assert_int_equal(as_int(&v[0]), 10);
    assert_int_equal(as_int(&v[1]), 4500);
    assert_int_equal(as_int(&v[2]), 6); /* 1 2 4 5 7 8 */
    assert_int_equal(as_int(&v[3]), 0);
    assert_int_equal(as_int(&v[4]), 1800);
    assert_int_equal(v[5].type, CM_DT_DECIMAL); /* AVG(1,2,4,5,7,8) = 4.5 */
    assert_string_equal(dec_text(&v[5].v.dec), "4.5000");
    /* No row at all: still one group, COUNT 0 and NULLs. */
    p.sel = cmp_prog(&pr, 0, CM_CX_GT, 1000);
    assert_int_equal(run(&p, 0, 0, &a, &out), 0);
    assert_int_equal(out.returned_rows, 1);
    cm_reader_init(&rd, out.data.ptr, out.data.len);
    read_aggs(&rd, aggs, 6, &a, v);
    assert_int_equal(as_int(&v[0]), 0);
    assert_int_equal(v[1].type, CM_DT_NULL);
    assert_int_equal(as_int(&v[2]), 0);
    assert_int_equal(v[3].type, CM_DT_NULL);
    assert_int_equal(v[5].type, CM_DT_NULL);
    cm_arena_fini(&a);
    progs_fini(&pr);
}

static void test_agg_group_by(void **state)
{
    (void)state;
    progs pr;
    progs_init(&pr);
    cm_copr_plan p;
    table_plan(&p);
    cm_slice groups[1] = {col_prog(&pr, 3)};
    cm_copr_agg aggs[3] = {{CM_COPR_COUNT, {NULL, 0}},
                           {CM_COPR_SUM, col_prog(&pr, 1)},
                           {CM_COPR_MAX, col_prog(&pr, 4)}};
    p.has_agg = true;
    p.ngroup = 1;
    p.group = groups;
    p.naggs = 3;
    p.aggs = aggs;
    cm_arena a;
    cm_arena_init(&a, 4096);
    kv_copr_result out;
    assert_int_equal(run(&p, 0, 0, &a, &out), 0);
    assert_int_equal(out.returned_rows, 5);
    cm_reader rd;
    cm_reader_init(&rd, out.data.ptr, out.data.len);
    bool seen[5] = {false};
    cm_err err;
    for (int g = 0; g < 5; g++) {
        cm_datum key, v[3];
        assert_int_equal(cm_codec_decode_datum(&rd, &a, &key, &err), 0);
        assert_int_equal(key.type, CM_DT_STRING);
        assert_int_equal(key.v.bytes.len, 2);
        int k = key.v.bytes.ptr[1] - '0';
        assert_true(k >= 0 && k < 5 && !seen[k]);
        seen[k] = true;
        read_aggs(&rd, aggs, 3, &a, v);
        int64_t sum = 0, max = -1;
        for (int64_t h = k; h < NROWS; h += 5) {
            sum += h * 100;
            max = h % 3 != 0 && h > max ? h : max;
        }
        assert_int_equal(as_int(&v[0]), 10);
        assert_int_equal(as_int(&v[1]), sum);
        assert_int_equal(as_int(&v[2]), max);
    }
    assert_int_equal(cm_reader_left(&rd), 0);
    /* With GROUP BY and no row, no group is sent. */
    p.sel = cmp_prog(&pr, 0, CM_CX_LT, 0);
    assert_int_equal(run(&p, 0, 0, &a, &out), 0);
    assert_int_equal(out.data.len, 0);
    assert_int_equal(out.returned_rows, 0);
    cm_arena_fini(&a);
    progs_fini(&pr);
}

/* The group bound: exactly CM_COPR_GROUPS_MAX groups pass, one more is UNSUPPORTED (the
 * sqlnode then scans). Table 8 gets CM_COPR_GROUPS_MAX + 1 rows in one transaction. */
static void test_agg_groups_max(void **state)
{
    (void)state;
    size_t n = CM_COPR_GROUPS_MAX + 1;
    kv_mutation *m = calloc(n, sizeof(*m));
    cm_slice *keys = calloc(n, sizeof(*keys));
    cm_buf kb = CM_BUF_INIT, vb = CM_BUF_INIT;
    cm_err err;
    size_t *koff = calloc(n + 1, sizeof(size_t)), *voff = calloc(n + 1, sizeof(size_t));
    for (size_t h = 0; h < n; h++) {
        cm_row_cell c = {1, cm_datum_int64((int64_t)h)};
        koff[h] = kb.len;
        voff[h] = vb.len;
        assert_int_equal(cm_keys_append_row(&kb, 8, (int64_t)h), 0);
        assert_int_equal(cm_row_encode(&vb, &c, 1, &err), 0);
    }
    koff[n] = kb.len;
    voff[n] = vb.len;
    for (size_t h = 0; h < n; h++) {
        keys[h] = cm_slice_make(kb.ptr + koff[h], koff[h + 1] - koff[h]);
        m[h].op = KV_MUT_PUT;
        m[h].key = keys[h];
        m[h].value = cm_slice_make(vb.ptr + voff[h], voff[h + 1] - voff[h]);
    }
    kv_prewrite_req pr = {m, n, keys[0], 500, 3000, n};
    for (int phase = 0; phase < 2; phase++) {
        kv_snapshot *snap;
        assert_int_equal(kv_engine_snapshot(eng, &snap, &err), 0);
        kv_batch b;
        kv_batch_init(&b);
        cm_arena a;
        cm_arena_init(&a, 1 << 16);
        kv_txn_out out;
        kv_txn_out_init(&out, &b, &a);
        int rc = phase == 0 ? kv_txn_prewrite(snap, &pr, &out, &err)
                            : kv_txn_commit(snap, keys, n, 500, 501, &out, &err);
        assert_int_equal(rc, 0);
        kv_snapshot_release(snap);
        assert_int_equal(kv_engine_write(eng, &b, false, &err), 0);
        kv_batch_fini(&b);
        cm_arena_fini(&a);
    }
    progs pr2;
    progs_init(&pr2);
    static const cm_copr_pcol c1[1] = {{1, CM_DT_INT64}};
    cm_copr_plan p;
    memset(&p, 0, sizeof(p));
    p.scan = CM_COPR_SCAN_TABLE;
    p.ncols = 1;
    p.cols = c1;
    cm_slice groups[1] = {col_prog(&pr2, 0)};
    cm_copr_agg aggs[1] = {{CM_COPR_COUNT, {NULL, 0}}};
    p.has_agg = true;
    p.ngroup = 1;
    p.group = groups;
    p.naggs = 1;
    p.aggs = aggs;
    cm_buf plan = CM_BUF_INIT, start = CM_BUF_INIT, end = CM_BUF_INIT;
    encode(&p, &plan);
    cm_keys_rows_range(8, &start, &end);
    cm_arena a;
    cm_arena_init(&a, 4096);
    kv_copr_result out;
    assert_int_equal(
        run_range(cm_buf_slice(&plan), cm_buf_slice(&start), cm_buf_slice(&end), TS, 0, &a, &out),
        CM_E_UNSUPPORTED);
    p.sel = cmp_prog(&pr2, 0, CM_CX_LT, (int64_t)CM_COPR_GROUPS_MAX);
    encode(&p, &plan);
    assert_int_equal(
        run_range(cm_buf_slice(&plan), cm_buf_slice(&start), cm_buf_slice(&end), TS, 0, &a, &out),
        0);
    assert_int_equal(out.returned_rows, CM_COPR_GROUPS_MAX);
    assert_int_equal(out.scanned_rows, n);
    cm_arena_fini(&a);
    cm_buf_fini(&plan);
    cm_buf_fini(&start);
    cm_buf_fini(&end);
    progs_fini(&pr2);
    cm_buf_fini(&kb);
    cm_buf_fini(&vb);
    free(m);
    free(keys);
    free(koff);
    free(voff);
}

/* ---- TopN ----------------------------------------------------------------------------------- */

static void test_topn(void **state)
{
    (void)state;
    progs pr;
    progs_init(&pr);
    cm_copr_plan p;
    table_plan(&p);
    cm_copr_order ord[2] = {{col_prog(&pr, 4), false}};
    p.has_topn = true;
    p.topn_limit = 5;
    p.norder = 1;
    p.order = ord;
    uint32_t out_cols[1] = {4};
    p.has_out = true;
    p.nout = 1;
    p.out = out_cols;
    cm_arena a;
    cm_arena_init(&a, 4096);
    kv_copr_result out;
    static row rows[NROWS];
    const cm_dtype types[1] = {CM_DT_INT64};
    /* col4 ASC: NULLs first (h % 3 == 0), ties in key order. */
    assert_int_equal(run(&p, 0, 2, &a, &out), 0);
    assert_false(out.more);
    assert_int_equal(read_rows(out.data, types, 1, rows, NROWS), 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(rows[i].handle, i * 3);
        assert_int_equal(rows[i].pres[0], CM_COPR_NULL);
    }
    /* col4 DESC: NULLs last. */
    ord[0].desc = true;
    p.topn_limit = 3;
    assert_int_equal(run(&p, 0, 0, &a, &out), 0);
    assert_int_equal(read_rows(out.data, types, 1, rows, NROWS), 3);
    assert_int_equal(rows[0].handle, 49);
    assert_int_equal(rows[1].handle, 47);
    assert_int_equal(rows[2].handle, 46);
    /* col3 ASC, col1 DESC, with a selection (h >= 5). */
    ord[0].expr = col_prog(&pr, 3);
    ord[0].desc = false;
    ord[1].expr = col_prog(&pr, 1);
    ord[1].desc = true;
    p.norder = 2;
    p.topn_limit = 12;
    p.sel = cmp_prog(&pr, 0, CM_CX_GE, 5);
    assert_int_equal(run(&p, 0, 0, &a, &out), 0);
    assert_int_equal(read_rows(out.data, types, 1, rows, NROWS), 12);
    int64_t want[12] = {45, 40, 35, 30, 25, 20, 15, 10, 5, 46, 41, 36};
    for (int i = 0; i < 12; i++) {
        assert_int_equal(rows[i].handle, want[i]);
    }
    /* A limit larger than the rows gives every row, ordered. */
    p.topn_limit = 1000;
    assert_int_equal(run(&p, 0, 0, &a, &out), 0);
    assert_int_equal(read_rows(out.data, types, 1, rows, NROWS), 45);
    p.topn_limit = 0;
    assert_int_equal(run(&p, 0, 0, &a, &out), 0);
    assert_int_equal(out.data.len, 0);
    cm_arena_fini(&a);
    progs_fini(&pr);
}

/* ---- index scans ---------------------------------------------------------------------------- */

static void test_index_scan(void **state)
{
    (void)state;
    progs pr;
    progs_init(&pr);
    static const cm_copr_pcol icols[2] = {{0, CM_DT_STRING}, {CM_COPR_HANDLE_ID, CM_DT_INT64}};
    cm_copr_plan p;
    memset(&p, 0, sizeof(p));
    p.scan = CM_COPR_SCAN_INDEX;
    p.ncols = 2;
    p.cols = icols;
    cm_cx_builder *b = prog_new(&pr);
    cm_datum s2 = cm_datum_string(cm_slice_make("s2", 2));
    cm_cx_col(b, 0);
    cm_cx_const(b, &s2);
    cm_cx_op1(b, CM_CX_EQ);
    p.sel = prog_done(b);
    cm_arena a;
    cm_arena_init(&a, 4096);
    kv_copr_result out;
    static row rows[NROWS];
    const cm_dtype types[2] = {CM_DT_STRING, CM_DT_INT64};
    assert_int_equal(run(&p, 1, 0, &a, &out), 0);
    assert_int_equal(out.scanned_rows, NROWS);
    assert_int_equal(read_rows(out.data, types, 2, rows, NROWS), 10);
    for (int i = 0; i < 10; i++) {
        assert_true(cm_slice_eq(rows[i].v[0].v.bytes, cm_slice_make("s2", 2)));
        assert_int_equal(rows[i].v[1].v.i64, 2 + 5 * i);
    }
    /* Unique index over col1: the handle is the entry's value. Aggregate over it. */
    static const cm_copr_pcol ucols[2] = {{0, CM_DT_INT64}, {CM_COPR_HANDLE_ID, CM_DT_INT64}};
    p.cols = ucols;
    p.sel = between_prog(&pr, 0, 500, 1500); /* h 5..14 */
    cm_copr_agg aggs[2] = {{CM_COPR_COUNT, {NULL, 0}}, {CM_COPR_SUM, col_prog(&pr, 1)}};
    p.has_agg = true;
    p.naggs = 2;
    p.aggs = aggs;
    assert_int_equal(run(&p, 2, 0, &a, &out), 0);
    cm_reader rd;
    cm_reader_init(&rd, out.data.ptr, out.data.len);
    cm_datum v[2];
    read_aggs(&rd, aggs, 2, &a, v);
    assert_int_equal(as_int(&v[0]), 10);
    assert_int_equal(as_int(&v[1]), 95); /* 5 + … + 14 */
    /* Scan it with TopN on the handle, DESC. */
    p.has_agg = false;
    p.sel = cm_slice_make(NULL, 0);
    cm_copr_order ord[1] = {{col_prog(&pr, 1), true}};
    p.has_topn = true;
    p.topn_limit = 2;
    p.norder = 1;
    p.order = ord;
    const cm_dtype utypes[2] = {CM_DT_INT64, CM_DT_INT64};
    assert_int_equal(run(&p, 2, 0, &a, &out), 0);
    assert_int_equal(read_rows(out.data, utypes, 2, rows, NROWS), 2);
    assert_int_equal(rows[0].v[0].v.i64, 4900);
    assert_int_equal(rows[0].v[1].v.i64, 49);
    assert_int_equal(rows[1].v[1].v.i64, 48);
    /* A plan whose column type does not match the key's datums is refused. */
    p.has_topn = false;
    p.cols = icols;
    assert_int_equal(run(&p, 2, 0, &a, &out), CM_E_INVALID);
    cm_arena_fini(&a);
    progs_fini(&pr);
}

/* ---- locks ---------------------------------------------------------------------------------- */

static void test_locks(void **state)
{
    (void)state;
    row_put(60, 5000, 0); /* prewritten, never committed: after every row */
    progs pr;
    progs_init(&pr);
    cm_copr_plan p;
    table_plan(&p);
    uint32_t out_cols[1] = {1};
    p.has_out = true;
    p.nout = 1;
    p.out = out_cols;
    p.sel = cmp_prog(&pr, 0, CM_CX_GE, 40);
    cm_arena a;
    cm_arena_init(&a, 4096);
    kv_copr_result out;
    static row rows[NROWS];
    const cm_dtype types[1] = {CM_DT_INT64};
    cm_buf plan = CM_BUF_INIT, start = CM_BUF_INIT, end = CM_BUF_INIT;
    encode(&p, &plan);
    cm_keys_rows_range(7, &start, &end);
    int rc =
        run_range(cm_buf_slice(&plan), cm_buf_slice(&start), cm_buf_slice(&end), 6000, 0, &a, &out);
    assert_int_equal(rc, CM_E_KEY_IS_LOCKED);
    assert_int_equal(out.lock.start_ts, 5000);
    assert_int_equal(read_rows(out.data, types, 1, rows, NROWS), 10); /* the rows before it */
    assert_true(cm_slice_eq(out.resume_key, out.lock.key));
    /* Below the lock's start_ts the lock does not matter. */
    assert_int_equal(
        run_range(cm_buf_slice(&plan), cm_buf_slice(&start), cm_buf_slice(&end), 4000, 0, &a, &out),
        0);
    assert_int_equal(read_rows(out.data, types, 1, rows, NROWS), 10);
    /* Aggregation and TopN report the lock and send nothing. */
    cm_copr_agg aggs[1] = {{CM_COPR_COUNT, {NULL, 0}}};
    p.has_agg = true;
    p.naggs = 1;
    p.aggs = aggs;
    p.has_out = false;
    encode(&p, &plan);
    rc =
        run_range(cm_buf_slice(&plan), cm_buf_slice(&start), cm_buf_slice(&end), 6000, 0, &a, &out);
    assert_int_equal(rc, CM_E_KEY_IS_LOCKED);
    assert_int_equal(out.data.len, 0);
    assert_int_equal(out.lock.start_ts, 5000);
    p.has_agg = false;
    cm_copr_order ord[1] = {{col_prog(&pr, 1), false}};
    p.has_topn = true;
    p.topn_limit = 3;
    p.norder = 1;
    p.order = ord;
    encode(&p, &plan);
    rc =
        run_range(cm_buf_slice(&plan), cm_buf_slice(&start), cm_buf_slice(&end), 6000, 0, &a, &out);
    assert_int_equal(rc, CM_E_KEY_IS_LOCKED);
    assert_int_equal(out.data.len, 0);
    cm_buf_fini(&plan);
    cm_buf_fini(&start);
    cm_buf_fini(&end);
    cm_arena_fini(&a);
    progs_fini(&pr);
}

/* ---- malformed plans ------------------------------------------------------------------------ */

static bool is_error(int rc)
{
    return rc == CM_E_INVALID || rc == CM_E_UNSUPPORTED || rc == CM_E_CORRUPT;
}

static void test_bad_plans(void **state)
{
    (void)state;
    progs pr;
    progs_init(&pr);
    cm_copr_plan p;
    table_plan(&p);
    p.sel = between_prog(&pr, 1, 100, 900);
    cm_slice groups[1] = {col_prog(&pr, 3)};
    cm_copr_agg aggs[2] = {{CM_COPR_COUNT, {NULL, 0}}, {CM_COPR_SUM, col_prog(&pr, 1)}};
    p.has_agg = true;
    p.ngroup = 1;
    p.group = groups;
    p.naggs = 2;
    p.aggs = aggs;
    cm_buf plan = CM_BUF_INIT, start = CM_BUF_INIT, end = CM_BUF_INIT;
    encode(&p, &plan);
    cm_keys_rows_range(7, &start, &end);
    cm_arena a;
    cm_arena_init(&a, 4096);
    kv_copr_result out;
    cm_slice st = cm_buf_slice(&start), en = cm_buf_slice(&end);
    assert_int_equal(run_range(cm_buf_slice(&plan), st, en, TS, 0, &a, &out), 0);
    for (size_t cut = 0; cut < plan.len; cut++) { /* every truncation */
        int rc = run_range(cm_slice_make(plan.ptr, cut), st, en, TS, 0, &a, &out);
        assert_true(is_error(rc));
        cm_arena_reset(&a);
    }
    /* Random byte flips: an error or a well-formed answer, never a crash (ASan watches). */
    uint8_t *m = malloc(plan.len);
    srand(9);
    int errors = 0;
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(m, plan.ptr, plan.len);
        int flips = 1 + rand() % 3;
        for (int f = 0; f < flips; f++) {
            m[rand() % plan.len] = (uint8_t)rand();
        }
        int rc = run_range(cm_slice_make(m, plan.len), st, en, TS, 0, &a, &out);
        assert_true(rc == 0 || rc < 0);
        errors += rc != 0;
        cm_arena_reset(&a);
    }
    assert_true(errors > 0);
    free(m);
    /* Version 1 plans (the first cut) and an unknown section tag are refused. */
    uint8_t v1[] = {1, 1, 1, CM_DT_INT64, 0};
    assert_int_equal(run_range(cm_slice_make(v1, sizeof(v1)), st, en, TS, 0, &a, &out),
                     CM_E_UNSUPPORTED);
    uint8_t unk[] = {2, 1, 1, 1, CM_DT_INT64, 1, 99, 0};
    assert_int_equal(run_range(cm_slice_make(unk, sizeof(unk)), st, en, TS, 0, &a, &out),
                     CM_E_UNSUPPORTED);
    /* A column of type NULL, a handle that is not INT64. */
    uint8_t nullcol[] = {2, 1, 1, 1, CM_DT_NULL, 0};
    assert_true(
        is_error(run_range(cm_slice_make(nullcol, sizeof(nullcol)), st, en, TS, 0, &a, &out)));
    uint8_t hcol[] = {2, 1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f, CM_DT_STRING, 0};
    assert_true(is_error(run_range(cm_slice_make(hcol, sizeof(hcol)), st, en, TS, 0, &a, &out)));
    /* start_ts 0 and an unknown request kind. */
    assert_int_equal(run_range(cm_buf_slice(&plan), st, en, 0, 0, &a, &out), CM_E_INVALID);
    kv_snapshot *snap;
    cm_err err;
    assert_int_equal(kv_engine_snapshot(eng, &snap, &err), 0);
    assert_int_equal(kv_copr_handle(snap, 1, cm_buf_slice(&plan), NULL, 0, TS, 0, &a, &out, &err),
                     CM_E_UNSUPPORTED);
    kv_snapshot_release(snap);
    cm_buf_fini(&plan);
    cm_buf_fini(&start);
    cm_buf_fini(&end);
    cm_arena_fini(&a);
    progs_fini(&pr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_pages),   cmocka_unit_test(test_selection_projection),
        cmocka_unit_test(test_limit),        cmocka_unit_test(test_agg_no_group),
        cmocka_unit_test(test_agg_group_by), cmocka_unit_test(test_agg_groups_max),
        cmocka_unit_test(test_topn),         cmocka_unit_test(test_index_scan),
        cmocka_unit_test(test_bad_plans),    cmocka_unit_test(test_locks),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
