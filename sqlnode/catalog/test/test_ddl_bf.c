/* Unit tests of what the parallel backfill and ADMIN CHECK share (sql_ddl_bf.h): the columns the
 * indexes read with their defaults, decoding coprocessor rows (absent, NULL, values, truncation,
 * bad presence bytes), entries equal to sql_cat_index_entry's, 1062's text. No cluster: the KV
 * parts are covered by testsuite/e2e/ddl_bf. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cm_copr.h"
#include "cm_keys.h"
#include "cm_row.h"
#include "sql_ddl_bf.h"

#include <stdlib.h>
#include <string.h>

typedef struct tdef {
    sql_tokens toks;
    cm_arena a;
    sql_ddl_stmt st;
    sql_cat_table t;
} tdef;

static int64_t next_id = 100;

static int take_id(void *user, int64_t *id, cm_err *err)
{
    (void)user;
    (void)err;
    *id = ++next_id;
    return 0;
}

static void make_table(tdef *d, const char *sql)
{
    cm_err err;
    sql_tokens_init(&d->toks);
    cm_arena_init(&d->a, 0);
    assert_int_equal(sql_lex(sql, strlen(sql), 0, &d->toks, &err), 0);
    assert_int_equal(sql_ddl_parse(sql, d->toks.v, d->toks.n, &d->a, &d->st, &err), 0);
    assert_int_equal(sql_ddl_build_table(&d->st, &d->a, take_id, NULL, &d->t, &err), 0);
    d->t.id = 42;
}

static void free_table(tdef *d)
{
    sql_tokens_fini(&d->toks);
    cm_arena_fini(&d->a);
}

static const char *TABLE = "CREATE TABLE t (id INT PRIMARY KEY, k INT NOT NULL DEFAULT 7, "
                           "c VARCHAR(20) DEFAULT 'abc', d INT, KEY a (k, c), UNIQUE KEY b (c(2)), "
                           "KEY e (d, k))";

/* Plan column of the column named name. */
static uint32_t pc(const tdef *d, const sql_bf_cols *b, const char *name)
{
    for (uint32_t j = 0; j < b->ncols; j++) {
        if (strcmp(d->t.cols[b->offs[j]].name, name) == 0) {
            return j;
        }
    }
    fail_msg("no plan column %s", name);
    return 0;
}

/* Position of index name in b->ix. */
static uint32_t pix(const sql_bf_cols *b, const char *name)
{
    for (uint32_t i = 0; i < b->nix; i++) {
        if (strcmp(b->ix[i]->name, name) == 0) {
            return i;
        }
    }
    fail_msg("no index %s", name);
    return 0;
}

static void setup_cols(tdef *d, sql_bf_cols *b)
{
    make_table(d, TABLE);
    const sql_cat_index *ix[3];
    for (uint32_t i = 0; i < 3; i++) {
        ix[i] = &d->t.indexes[i];
    }
    cm_err err;
    assert_int_equal(sql_bf_cols_init(b, &d->t, ix, 3, &err), 0);
}

static void test_cols_and_defaults(void **state)
{
    (void)state;
    tdef d;
    sql_bf_cols *b = malloc(sizeof(*b));
    setup_cols(&d, b);
    /* k, c, d once each */
    assert_int_equal(b->ncols, 3);
    uint32_t k = pc(&d, b, "k"), c = pc(&d, b, "c"), dd = pc(&d, b, "d");
    assert_true(k != c && c != dd && k != dd);
    uint32_t ei = pix(b, "e");
    assert_int_equal(b->pos[ei][0], dd);
    assert_int_equal(b->pos[ei][1], k);
    assert_int_equal(b->pos[pix(b, "b")][0], c);
    /* the values rows written before a column existed read */
    assert_int_equal(b->dflt[k].type, CM_DT_INT64);
    assert_int_equal(b->dflt[k].v.i64, 7);
    assert_int_equal(b->dflt[c].type, CM_DT_STRING);
    assert_int_equal(b->dflt[c].v.bytes.len, 3);
    assert_memory_equal(b->dflt[c].v.bytes.ptr, "abc", 3);
    assert_int_equal(b->dflt[dd].type, CM_DT_NULL);
    sql_bf_cols_fini(b);
    free(b);
    free_table(&d);
}

/* The row codec's bytes of one value. */
static void value_bytes(uint32_t id, cm_datum v, cm_buf *out)
{
    cm_row_cell cell = {id, v};
    cm_buf row = CM_BUF_INIT;
    cm_err err;
    assert_int_equal(cm_row_encode(&row, &cell, 1, &err), 0);
    cm_row_view view;
    assert_int_equal(cm_row_view_init(&view, cm_buf_slice(&row), &err), 0);
    cm_slice s;
    assert_int_equal(cm_row_view_find(&view, id, &s), CM_ROW_VALUE);
    cm_buf_append_slice(out, s);
    cm_buf_fini(&row);
}

static void test_read_row_and_entries(void **state)
{
    (void)state;
    tdef d;
    sql_bf_cols *b = malloc(sizeof(*b));
    setup_cols(&d, b);
    cm_err err;
    /* a response row: handle 5; k absent (default 7), c = "xyz", d NULL */
    cm_buf resp = CM_BUF_INIT, key = CM_BUF_INIT, v = CM_BUF_INIT;
    cm_keys_append_row(&key, 42, 5);
    cm_buf_append_uvarint(&resp, key.len);
    cm_buf_append_slice(&resp, cm_buf_slice(&key));
    cm_datum xyz;
    xyz.type = CM_DT_STRING;
    xyz.v.bytes = cm_slice_make("xyz", 3);
    uint32_t kc = pc(&d, b, "k"), cc = pc(&d, b, "c"), dc = pc(&d, b, "d");
    size_t cstart = resp.len;
    for (uint32_t j = 0; j < 3; j++) {
        if (j == kc) {
            cm_buf_append_u8(&resp, CM_COPR_ABSENT);
        } else if (j == cc) {
            value_bytes(d.t.cols[b->offs[cc]].id, xyz, &v);
            cm_buf_append_u8(&resp, CM_COPR_VALUE);
            cm_buf_append_uvarint(&resp, v.len);
            cm_buf_append_slice(&resp, cm_buf_slice(&v));
        } else {
            cm_buf_append_u8(&resp, CM_COPR_NULL);
        }
    }
    cm_reader rd;
    cm_reader_init(&rd, resp.ptr, resp.len);
    cm_slice k;
    cm_datum vals[3];
    assert_int_equal(sql_bf_read_row(b, &rd, &k, vals, &err), 0);
    assert_int_equal(cm_reader_left(&rd), 0);
    assert_true(cm_slice_eq(k, cm_buf_slice(&key)));
    assert_int_equal(vals[kc].v.i64, 7);
    assert_int_equal(vals[cc].v.bytes.len, 3);
    assert_memory_equal(vals[cc].v.bytes.ptr, "xyz", 3);
    assert_int_equal(vals[dc].type, CM_DT_NULL);

    /* entries are sql_cat_index_entry's bytes for the same values */
    for (uint32_t i = 0; i < 3; i++) {
        cm_datum dv[2];
        for (uint32_t p = 0; p < b->ix[i]->ncols; p++) {
            dv[p] = vals[b->pos[i][p]];
        }
        cm_buf k1 = CM_BUF_INIT, v1 = CM_BUF_INIT, k2 = CM_BUF_INIT, v2 = CM_BUF_INIT;
        bool h1 = false, h2 = false;
        assert_int_equal(sql_bf_entry(b, i, vals, 5, &k1, &v1, &h1, &err), 0);
        assert_int_equal(sql_cat_index_entry(&d.t, b->ix[i], dv, 5, &k2, &v2, &h2, &err), 0);
        assert_true(cm_slice_eq(cm_buf_slice(&k1), cm_buf_slice(&k2)));
        assert_true(cm_slice_eq(cm_buf_slice(&v1), cm_buf_slice(&v2)));
        assert_int_equal(h1, h2);
        if (b->ix[i]->unique) { /* b (c(2)): no NULL, the handle is the value */
            assert_false(h1);
            assert_int_equal(v1.len, 8);
        }
        cm_buf_fini(&k1);
        cm_buf_fini(&v1);
        cm_buf_fini(&k2);
        cm_buf_fini(&v2);
    }
    /* 1062's text joins the values with '-' */
    cm_buf txt = CM_BUF_INIT;
    sql_bf_dup_text(b, pix(b, "a"), vals, &txt);
    assert_int_equal(txt.len, 5);
    assert_memory_equal(txt.ptr, "7-xyz", 5);
    cm_buf_reset(&txt);
    sql_bf_dup_text(b, pix(b, "e"), vals, &txt);
    assert_memory_equal(txt.ptr, "NULL-7", 6);
    cm_buf_fini(&txt);

    /* every truncation is CM_E_CORRUPT, never a crash */
    for (size_t n = 0; n < resp.len; n++) {
        cm_reader_init(&rd, resp.ptr, n);
        assert_int_equal(sql_bf_read_row(b, &rd, &k, vals, &err), CM_E_CORRUPT);
    }
    /* an unknown presence byte */
    resp.ptr[cstart] = 9;
    cm_reader_init(&rd, resp.ptr, resp.len);
    assert_int_equal(sql_bf_read_row(b, &rd, &k, vals, &err), CM_E_CORRUPT);
    cm_buf_fini(&resp);
    cm_buf_fini(&key);
    cm_buf_fini(&v);
    sql_bf_cols_fini(b);
    free(b);
    free_table(&d);
}

static void test_plan_decodes(void **state)
{
    (void)state;
    tdef d;
    sql_bf_cols *b = malloc(sizeof(*b));
    setup_cols(&d, b);
    cm_err err;
    cm_buf plan = CM_BUF_INIT;
    assert_int_equal(sql_bf_plan(b, 500, &plan, &err), 0);
    cm_arena a;
    cm_arena_init(&a, 0);
    cm_copr_plan p;
    assert_int_equal(cm_copr_plan_decode(cm_buf_slice(&plan), &a, &p, &err), 0);
    assert_int_equal(p.scan, CM_COPR_SCAN_TABLE);
    assert_int_equal(p.ncols, 3);
    assert_true(p.has_limit);
    assert_int_equal(p.limit, 500);
    assert_int_equal(p.cols[pc(&d, b, "c")].id, sql_table_col(&d.t, "c")->id);
    cm_arena_fini(&a);
    cm_buf_fini(&plan);
    sql_bf_cols_fini(b);
    free(b);
    free_table(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cols_and_defaults),
        cmocka_unit_test(test_read_row_and_entries),
        cmocka_unit_test(test_plan_decodes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
