/* test_copr_expr.c — the MySQL-token to coprocessor-bytecode compiler (sql_copr_expr.c):
 * expressions compile and the evaluator (cm_cx.h) gives MySQL's answer over a row; what the KV
 * side cannot evaluate exactly is refused as not pushable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sql_copr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { C_ID, C_I, C_U, C_D, C_F, C_C, C_V, C_BN, C_DT, C_TS, C_E, C_N };

static sql_cat_col cols[C_N];
static sql_cat_table tab;

static void col(int off, const char *name, uint8_t dtype, uint16_t coll, uint8_t fixed,
                uint8_t decimals)
{
    sql_cat_col *c = &cols[off];
    memset(c, 0, sizeof(*c));
    c->id = (uint32_t)off + 1;
    c->offset = (uint32_t)off;
    c->name = (char *)name;
    c->type.dtype = dtype;
    c->type.collation = coll;
    c->type.fixed = fixed;
    c->type.decimals = decimals;
    c->state = SQL_OBJ_PUBLIC;
}

static void setup_table(void)
{
    col(C_ID, "id", CM_DT_INT64, 63, 0, 0);
    col(C_I, "i", CM_DT_INT64, 63, 0, 0);
    col(C_U, "u", CM_DT_UINT64, 63, 0, 0);
    col(C_D, "d", CM_DT_DECIMAL, 63, 0, 2);
    col(C_F, "f", CM_DT_FLOAT64, 63, 0, 0);
    col(C_C, "c", CM_DT_STRING, 46, 1, 0);
    col(C_V, "v", CM_DT_STRING, 46, 0, 0);
    col(C_BN, "bn", CM_DT_BYTES, 63, 0, 0);
    col(C_DT, "dt", CM_DT_DATE, 63, 0, 0);
    col(C_TS, "ts", CM_DT_TIMESTAMP, 63, 0, 0);
    col(C_E, "e", CM_DT_ENUM, 46, 0, 0);
    memset(&tab, 0, sizeof(tab));
    tab.id = 42;
    tab.name = (char *)"t";
    tab.ncols = C_N;
    tab.cols = cols;
    tab.handle_col = C_ID;
    tab.autoinc_col = -1;
    tab.state = SQL_OBJ_PUBLIC;
}

/* Compiles text; returns the compiler's answer, the program in code. */
static int compile(const char *text, sql_copr_tcols *tc, cm_buf *code, char *why)
{
    sql_tokens toks;
    sql_tokens_init(&toks);
    cm_err err;
    assert_int_equal(sql_lex(text, strlen(text), 0, &toks, &err), 0);
    cm_cx_builder b;
    cm_cx_builder_init(&b);
    sql_copr_type ty;
    int rc = sql_copr_compile(text, 0, toks.v, toks.n, &tc->env, &b, &ty, why, 128, &err);
    if (rc == 0) {
        cm_slice s;
        assert_int_equal(cm_cx_finish(&b, &s, &err), 0);
        cm_buf_reset(code);
        assert_int_equal(cm_buf_append(code, s.ptr, s.len), 0);
    }
    cm_cx_builder_fini(&b);
    sql_tokens_fini(&toks);
    return rc;
}

/* The row the tests evaluate over, by table offset. */
static cm_datum row[C_N];

static void setup_row(void)
{
    static cm_decimal d150;
    cm_err err;
    assert_int_equal(cm_decimal_parse(cm_slice_cstr("1.50"), &d150, NULL, &err), 0);
    row[C_ID] = cm_datum_int64(1);
    row[C_I] = cm_datum_int64(5);
    row[C_U] = cm_datum_uint64(7);
    row[C_D] = cm_datum_decimal(&d150);
    row[C_F] = cm_datum_float64(0.5);
    row[C_C] = cm_datum_string(cm_slice_cstr("x"));
    row[C_V] = cm_datum_string(cm_slice_cstr("abc "));
    row[C_BN] = cm_datum_bytes(cm_slice_cstr("A"));
    cm_datetime dt;
    memset(&dt, 0, sizeof(dt));
    dt.year = 2024;
    dt.month = 1;
    dt.day = 15;
    row[C_DT] = cm_datum_uint(CM_DT_DATE, cm_datetime_pack(&dt));
    row[C_TS] = cm_datum_null();
    row[C_E] = cm_datum_null();
}

/* Evaluates text over row: 1 true, 0 false, -1 NULL. */
static int truth(const char *text)
{
    sql_copr_tcols tc;
    cm_err err;
    assert_int_equal(sql_copr_tcols_init(&tc, &tab, "db", NULL, &err), 0);
    cm_buf code = CM_BUF_INIT;
    char why[128];
    int rc = compile(text, &tc, &code, why);
    if (rc != 0) {
        fail_msg("'%s' not compiled: %s", text, why);
    }
    cm_datum *prow = calloc(tc.ncols + 1, sizeof(*prow));
    for (uint32_t k = 0; k < tc.ncols; k++) {
        prow[k] = row[tc.offs[k]];
    }
    cm_arena arena;
    cm_arena_init(&arena, 4096);
    cm_cx *p = NULL;
    assert_int_equal(cm_cx_decode(cm_buf_slice(&code), tc.ncols, &arena, &p, &err), 0);
    cm_datum out;
    rc = cm_cx_eval(p, prow, &arena, &out, &err);
    if (rc != 0) {
        fail_msg("'%s' did not evaluate: %s", text, err.msg);
    }
    int t = cm_cx_truth(&out);
    cm_arena_fini(&arena);
    free(prow);
    cm_buf_fini(&code);
    sql_copr_tcols_fini(&tc);
    return t;
}

static int pushable(const char *text)
{
    sql_copr_tcols tc;
    cm_err err;
    assert_int_equal(sql_copr_tcols_init(&tc, &tab, "db", "x", &err), 0);
    cm_buf code = CM_BUF_INIT;
    char why[128];
    int rc = compile(text, &tc, &code, why);
    cm_buf_fini(&code);
    sql_copr_tcols_fini(&tc);
    assert_true(rc == 0 || rc == SQL_COPR_NO);
    return rc == 0;
}

static void test_evaluates_as_mysql(void **state)
{
    (void)state;
    setup_table();
    setup_row();
    assert_int_equal(truth("i + 1 > 5"), 1);
    assert_int_equal(truth("i * 2 - u = 3"), 1);
    assert_int_equal(truth("i IN (1, 2, 5)"), 1);
    assert_int_equal(truth("i IN (1, 2, NULL)"), -1);
    assert_int_equal(truth("i NOT IN (1, 2)"), 1);
    assert_int_equal(truth("NOT i = 5"), 0); /* NOT binds below = */
    assert_int_equal(truth("!i = 0"), 1);    /* ! binds above = */
    assert_int_equal(truth("i = 5 OR u = 8 AND i > 10"), 1);
    assert_int_equal(truth("(i = 5 OR u = 8) AND i > 10"), 0);
    assert_int_equal(truth("d BETWEEN 1 AND 2"), 1);
    assert_int_equal(truth("d NOT BETWEEN 1.5 AND 2"), 0);
    assert_int_equal(truth("d = 1.5"), 1);
    assert_int_equal(truth("d * 2 = 3"), 1);
    assert_int_equal(truth("i / 2 = 2.5"), 1);
    assert_int_equal(truth("i DIV 2 = 2 AND i MOD 2 = 1 AND i % 3 = 2 AND MOD(i, 4) = 1"), 1);
    assert_int_equal(truth("-9223372036854775808 < i"), 1);
    assert_int_equal(truth("-i = -5"), 1);
    assert_int_equal(truth("v LIKE 'ab%'"), 1);
    assert_int_equal(truth("v LIKE 'a_c'"), 0); /* the trailing space is data for LIKE */
    assert_int_equal(truth("v = 'abc'"), 1);    /* PAD SPACE for = */
    assert_int_equal(truth("v LIKE 'a|%' ESCAPE '|'"), 0);
    assert_int_equal(truth("c = 'x' XOR i = 5"), 0);
    assert_int_equal(truth("f < 1 AND f > 0.25e0"), 1);
    assert_int_equal(truth("dt >= '2024-01-01' AND dt < '2024-02-01'"), 1);
    assert_int_equal(truth("bn = 'A' AND bn < 'B'"), 1);
    assert_int_equal(truth("ts IS NULL"), 1);
    assert_int_equal(truth("dt BETWEEN '2024-01-01' AND '2024-12-31'"), 1);
    assert_int_equal(truth("dt IN ('2023-01-01', '2024-01-15')"), 1);
    assert_int_equal(truth("i IS NOT NULL AND (i > 9) IS FALSE AND (NULL > 1) IS NOT TRUE"), 1);
    assert_int_equal(truth("IFNULL(NULL, i) = 5 AND COALESCE(NULL, NULL, u) = 7"), 1);
    assert_int_equal(truth("IF(i > 1, u, i) = 7"), 1);
    assert_int_equal(truth("LENGTH(v) = 4 AND CHAR_LENGTH(c) = 1 AND ABS(-i) = 5"), 1);
    assert_int_equal(truth("CONCAT(c, 'y') = 'xy'"), 1);
    assert_int_equal(truth("t.i = 5 AND db.t.u = 7"), 1);
    assert_int_equal(truth("i = NULL"), -1);
    assert_int_equal(truth("i <=> NULL"), 0);
}

static void test_refuses_what_is_not_exact(void **state)
{
    (void)state;
    setup_table();
    assert_true(pushable("x.i > 1 AND i < 2"));
    assert_false(pushable("t.i > 1")); /* the alias hides the name */
    assert_false(pushable("v = 1"));   /* string vs number: MySQL warns per row */
    assert_false(pushable("dt > 20240101"));
    assert_false(pushable("dt > v"));
    assert_false(pushable("ts > '2020-01-01'")); /* TIMESTAMP: the session's time zone */
    assert_false(pushable("e = 'a'"));
    assert_false(pushable("UPPER(v) = 'A'"));
    assert_false(pushable("i IN (1, 2.5e0)"));
    assert_false(pushable("i BETWEEN 1 AND 2e0"));
    assert_false(pushable("i | 1 = 1"));
    assert_false(pushable("i << 1 = 2"));
    assert_false(pushable("CASE WHEN i > 1 THEN 1 END = 1"));
    assert_false(pushable("@x = 1"));
    assert_false(pushable("i = ?"));
    assert_false(pushable("v REGEXP 'a'"));
    assert_false(pushable("i = (SELECT 1)"));
    assert_false(pushable("i = ANY (SELECT 1)"));
    assert_false(pushable("nosuch = 1"));
    assert_false(pushable("COUNT(*) > 1"));
    assert_false(pushable("ABS (i) = 1"));
    assert_false(pushable("v + 1 > 2"));
    assert_false(pushable("LENGTH(i) = 1"));
    assert_false(pushable("CHAR_LENGTH(bn) = 1"));
    assert_false(pushable("v LIKE 1"));
    assert_false(pushable("v = _latin1'a'"));
    assert_false(pushable("v = 'a' COLLATE utf8mb4_general_ci"));
    assert_false(pushable("(i, u) = (1, 2)"));
    assert_false(pushable("i = 1 i"));
    assert_false(pushable("i = 99999999999999999999999"));
    assert_false(pushable(""));
}

static void test_deep_expressions_are_refused(void **state)
{
    (void)state;
    setup_table();
    char buf[4096];
    size_t n = 0;
    for (int k = 0; k < 500; k++) {
        buf[n++] = '(';
    }
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "i");
    for (int k = 0; k < 500; k++) {
        buf[n++] = ')';
    }
    buf[n] = '\0';
    assert_false(pushable(buf));
    n = (size_t)snprintf(buf, sizeof(buf), "i");
    for (int k = 0; k < 300 && n + 8 < sizeof(buf); k++) {
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, " + -i");
    }
    assert_true(pushable(buf)); /* a long flat sum: iterative, the stack stays at two */
}

static void test_columns_are_collected_once(void **state)
{
    (void)state;
    setup_table();
    sql_copr_tcols tc;
    cm_err err;
    assert_int_equal(sql_copr_tcols_init(&tc, &tab, "db", NULL, &err), 0);
    cm_buf code = CM_BUF_INIT;
    char why[128];
    assert_int_equal(compile("i > 1 AND u > i AND id = 3 AND i < 9", &tc, &code, why), 0);
    assert_int_equal(tc.ncols, 3);
    assert_int_equal(tc.offs[0], C_I);
    assert_int_equal(tc.offs[1], C_U);
    assert_int_equal(tc.cols[1].id, cols[C_U].id);
    assert_int_equal(tc.cols[2].id, CM_COPR_HANDLE_ID); /* the handle column is the key's */
    cm_buf_fini(&code);
    sql_copr_tcols_fini(&tc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_evaluates_as_mysql),
        cmocka_unit_test(test_refuses_what_is_not_exact),
        cmocka_unit_test(test_deep_expressions_are_refused),
        cmocka_unit_test(test_columns_are_collected_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
