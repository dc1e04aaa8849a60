/* Unit tests for the column parts of online DDL (sql_ddl_parse.c column clauses, the column
 * functions of sql_ddl_build.c, the origin default in sql_cat_codec.c): every ALTER form, every
 * error code (1060, 1054, 1091, 1090, 1067, 1171, 1235, 1064), positions and the index / handle
 * offsets they move, origin defaults (literal, implicit zero, NULL, the ALTER's time), column ids
 * never reused, and the stored form of an origin default (round trip, truncation, corruption). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cm_row.h"
#include "sql_ddl_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- helpers --------------------------------------------------------------------------------- */

typedef struct parsed {
    sql_tokens toks;
    cm_arena a;
    sql_ddl_stmt st;
    cm_err err;
    int rc;
} parsed;

static void parse(parsed *p, const char *sql)
{
    sql_tokens_init(&p->toks);
    cm_arena_init(&p->a, 0);
    cm_err_clear(&p->err);
    int rc = sql_lex(sql, strlen(sql), 0, &p->toks, &p->err);
    assert_int_equal(rc, 0);
    memset(&p->st, 0, sizeof(p->st));
    p->rc = sql_ddl_parse(sql, p->toks.v, p->toks.n, &p->a, &p->st, &p->err);
    if (p->rc != 0) {
        fprintf(stderr, "  parse: %s -> %s\n", sql, p->err.msg);
    }
}

static void parsed_fini(parsed *p)
{
    sql_tokens_fini(&p->toks);
    cm_arena_fini(&p->a);
}

static int64_t next_id;

static int test_id(void *user, int64_t *id, cm_err *err)
{
    (void)user;
    (void)err;
    *id = ++next_id;
    return 0;
}

/* A test table: built from CREATE TABLE, kept in its own arena. */
typedef struct tab {
    parsed p;
    sql_cat_table t;
} tab;

static void tab_make(tab *x, const char *create)
{
    parse(&x->p, create);
    assert_int_equal(x->p.rc, 0);
    assert_int_equal(sql_ddl_build_table(&x->p.st, &x->p.a, test_id, NULL, &x->t, &x->p.err), 0);
    x->t.id = 100;
    x->t.db_id = 2;
}

static void tab_fini(tab *x)
{
    parsed_fini(&x->p);
}

/* Applies the single column op of `alter` to in (ADD in `state`, DROP as a check followed by a
 * removal, RENAME / MODIFY / CHANGE) giving *out in x's arena; returns the MySQL errno (0). */
static int apply(tab *x, const sql_cat_table *in, const char *alter, uint8_t state,
                 sql_cat_table *out, uint32_t *col_id)
{
    parsed p;
    parse(&p, alter);
    int rc = p.rc;
    uint32_t id = 0;
    if (rc == 0) {
        assert_int_equal(p.st.kind, SQL_DDL_ALTER_TABLE);
        assert_int_equal(p.st.nops, 1);
        const sql_alter_op *op = &p.st.ops[0];
        cm_err_clear(&x->p.err);
        switch (op->kind) {
        case SQL_ALTER_ADD_COLUMN:
            rc = sql_ddl_add_column(in, op, state, &x->p.a, out, &id, &x->p.err);
            break;
        case SQL_ALTER_DROP_COLUMN:
            rc = sql_ddl_drop_column_check(in, op, &id, &x->p.err);
            if (rc == 0) {
                rc = sql_cat_table_copy(in, &x->p.a, out, &x->p.err);
                sql_cat_table_remove_column(out, id);
            }
            break;
        default:
            rc = sql_ddl_change_column(in, op, &x->p.a, out, &x->p.err);
            break;
        }
        if (rc != 0) {
            fprintf(stderr, "  %s -> %d %s\n", alter, cm_err_mysql_errno(rc), x->p.err.msg);
        }
    } else {
        fprintf(stderr, "  %s -> parse %d %s\n", alter, cm_err_mysql_errno(rc), p.err.msg);
    }
    if (col_id != NULL) {
        *col_id = id;
    }
    parsed_fini(&p);
    return rc == 0 ? 0 : cm_err_mysql_errno(rc);
}

/* The origin of column c as text ("NULL" for NULL), via sql_cat_col_origin. */
static void origin_text(const sql_cat_col *c, char *buf, size_t n)
{
    cm_buf mem = CM_BUF_INIT, scratch = CM_BUF_INIT;
    cm_datum d;
    cm_err err;
    assert_int_equal(cm_buf_reserve(&mem, 1024), 0);
    assert_int_equal(sql_cat_col_origin(c, &d, &mem, &err), 0);
    if (d.type == CM_DT_NULL) {
        snprintf(buf, n, "NULL");
    } else {
        sql_value v;
        assert_int_equal(sql_type_load(&c->type, &d, &v, &scratch, &err), 0);
        switch (v.type) {
        case SQL_V_INT:
            snprintf(buf, n, "%lld", (long long)v.i);
            break;
        case SQL_V_UINT:
            snprintf(buf, n, "%llu", (unsigned long long)v.u);
            break;
        case SQL_V_DOUBLE:
            snprintf(buf, n, "%g", v.d);
            break;
        default:
            snprintf(buf, n, "%.*s", (int)v.n, v.s ? v.s : "");
            break;
        }
    }
    cm_buf_fini(&mem);
    cm_buf_fini(&scratch);
}

static void assert_offsets(const sql_cat_table *t)
{
    for (uint32_t i = 0; i < t->ncols; i++) {
        assert_int_equal(t->cols[i].offset, i);
    }
}

/* The names of t's columns joined with ',' (every state). */
static const char *col_names(const sql_cat_table *t)
{
    static char buf[512];
    buf[0] = 0;
    for (uint32_t i = 0; i < t->ncols; i++) {
        strncat(buf, i ? "," : "", sizeof(buf) - strlen(buf) - 1);
        strncat(buf, t->cols[i].name, sizeof(buf) - strlen(buf) - 1);
    }
    return buf;
}

/* The column names of index ix (by offset) joined with ','. */
static const char *index_cols(const sql_cat_table *t, const char *ix)
{
    static char buf[256];
    buf[0] = 0;
    const sql_cat_index *x = sql_table_index(t, ix);
    assert_non_null(x);
    for (uint32_t j = 0; j < x->ncols; j++) {
        assert_true(x->cols[j] < t->ncols);
        strncat(buf, j ? "," : "", sizeof(buf) - strlen(buf) - 1);
        strncat(buf, t->cols[x->cols[j]].name, sizeof(buf) - strlen(buf) - 1);
    }
    return buf;
}

static void expect_parse_error(const char *sql, int my)
{
    parsed p;
    parse(&p, sql);
    if (p.rc == 0 || cm_err_mysql_errno(p.rc) != my) {
        fprintf(stderr, "statement: %s rc=%d msg=%s (wanted %d)\n", sql, p.rc, p.err.msg, my);
    }
    assert_int_not_equal(p.rc, 0);
    assert_int_equal(cm_err_mysql_errno(p.rc), my);
    parsed_fini(&p);
}

/* ---- parser ---------------------------------------------------------------------------------- */

static void test_parse_column_clauses(void **state)
{
    (void)state;
    parsed p;
    parse(&p, "ALTER TABLE db.t ADD COLUMN c1 INT NOT NULL DEFAULT 5 COMMENT 'x' AFTER a, "
              "ADD c2 VARCHAR(10) FIRST, ADD (c3 INT, c4 DATETIME DEFAULT CURRENT_TIMESTAMP, "
              "KEY k3 (c3)), DROP COLUMN d1, DROP d2, RENAME COLUMN r1 TO r2, "
              "MODIFY COLUMN m1 BIGINT NULL AFTER c1, MODIFY m2 CHAR(3) FIRST, "
              "CHANGE COLUMN o1 n1 INT, CHANGE o2 n2 TEXT AFTER n1, ADD INDEX ix (a), "
              "DROP INDEX ix2, ALGORITHM=INPLACE, LOCK=NONE;");
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.st.kind, SQL_DDL_ALTER_TABLE);
    assert_string_equal(p.st.target.db, "db");
    assert_int_equal(p.st.nops, 14);
    const sql_alter_op *o = p.st.ops;
    assert_int_equal(o[0].kind, SQL_ALTER_ADD_COLUMN);
    assert_string_equal(o[0].col.col.name, "c1");
    assert_true(o[0].col.col.not_null);
    assert_true(o[0].col.def_literal);
    assert_string_equal(o[0].col.col.comment, "x");
    assert_int_equal(o[0].pos, SQL_COL_POS_AFTER);
    assert_string_equal(o[0].pos_col, "a");
    assert_int_equal(o[1].kind, SQL_ALTER_ADD_COLUMN);
    assert_int_equal(o[1].pos, SQL_COL_POS_FIRST);
    assert_int_equal(o[1].col.col.type.length, 10);
    assert_int_equal(o[2].kind, SQL_ALTER_ADD_COLUMN);
    assert_string_equal(o[2].col.col.name, "c3");
    assert_int_equal(o[2].pos, SQL_COL_POS_LAST);
    assert_int_equal(o[3].kind, SQL_ALTER_ADD_COLUMN);
    assert_true(o[3].col.col.default_now);
    assert_int_equal(o[4].kind, SQL_ALTER_ADD_INDEX);
    assert_string_equal(o[4].ix.name, "k3");
    assert_int_equal(o[5].kind, SQL_ALTER_DROP_COLUMN);
    assert_string_equal(o[5].col_name, "d1");
    assert_int_equal(o[6].kind, SQL_ALTER_DROP_COLUMN);
    assert_string_equal(o[6].col_name, "d2");
    assert_int_equal(o[7].kind, SQL_ALTER_RENAME_COLUMN);
    assert_string_equal(o[7].col_name, "r1");
    assert_string_equal(o[7].new_name, "r2");
    assert_int_equal(o[8].kind, SQL_ALTER_MODIFY_COLUMN);
    assert_null(o[8].col_name);
    assert_string_equal(o[8].col.col.name, "m1");
    assert_true(o[8].col.null_explicit);
    assert_int_equal(o[8].pos, SQL_COL_POS_AFTER);
    assert_string_equal(o[8].pos_col, "c1");
    assert_int_equal(o[9].kind, SQL_ALTER_MODIFY_COLUMN);
    assert_int_equal(o[9].pos, SQL_COL_POS_FIRST);
    assert_int_equal(o[10].kind, SQL_ALTER_MODIFY_COLUMN);
    assert_string_equal(o[10].col_name, "o1");
    assert_string_equal(o[10].col.col.name, "n1");
    assert_int_equal(o[11].kind, SQL_ALTER_MODIFY_COLUMN);
    assert_string_equal(o[11].col_name, "o2");
    assert_string_equal(o[11].pos_col, "n1");
    assert_int_equal(o[12].kind, SQL_ALTER_ADD_INDEX);
    assert_int_equal(o[13].kind, SQL_ALTER_DROP_INDEX);
    parsed_fini(&p);

    /* the ADD forms that still mean an index */
    parse(&p, "ALTER TABLE t ADD UNIQUE (a), ADD PRIMARY KEY (b), ADD KEY (c)");
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.st.nops, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(p.st.ops[i].kind, SQL_ALTER_ADD_INDEX);
    }
    parsed_fini(&p);
    /* a quoted `key` is a column name */
    parse(&p, "ALTER TABLE t ADD `key` INT");
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.st.ops[0].kind, SQL_ALTER_ADD_COLUMN);
    assert_string_equal(p.st.ops[0].col.col.name, "key");
    parsed_fini(&p);
    /* column attributes parse as in CREATE TABLE */
    parse(&p, "ALTER TABLE t ADD COLUMN e ENUM('x','y') NOT NULL, ADD u INT UNIQUE, "
              "ADD ts TIMESTAMP(3) NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE "
              "CURRENT_TIMESTAMP(3)");
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.st.ops[0].col.col.type.nmembers, 2);
    assert_string_equal(p.st.ops[0].col.col.type.members[1], "y");
    assert_true(p.st.ops[1].col.inline_unique);
    assert_true(p.st.ops[2].col.col.on_update_now);
    assert_int_equal(p.st.ops[2].col.now_fsp, 3);
    parsed_fini(&p);

    expect_parse_error("ALTER TABLE t ADD COLUMN", 1064);
    expect_parse_error("ALTER TABLE t ADD COLUMN c", 1064);
    expect_parse_error("ALTER TABLE t ADD COLUMN c INT AFTER", 1064);
    expect_parse_error("ALTER TABLE t ADD COLUMN c INT FIRST AFTER a", 1064);
    expect_parse_error("ALTER TABLE t ADD (c INT", 1064);
    expect_parse_error("ALTER TABLE t ADD (c INT FIRST)", 1064);
    expect_parse_error("ALTER TABLE t DROP COLUMN", 1064);
    expect_parse_error("ALTER TABLE t RENAME COLUMN a b", 1064);
    expect_parse_error("ALTER TABLE t RENAME COLUMN a TO", 1064);
    expect_parse_error("ALTER TABLE t MODIFY a", 1064);
    expect_parse_error("ALTER TABLE t CHANGE a INT", 1064);
    expect_parse_error("ALTER TABLE t MODIFY a INT BOGUS", 1064);
    expect_parse_error("ALTER TABLE t ADD COLUMN c INT NOT NULL DEFAULT", 1064);
    expect_parse_error("ALTER TABLE t ADD c INT GENERATED ALWAYS AS (1)", 1235);
    expect_parse_error("ALTER TABLE t DROP FOREIGN KEY fk", 1235);
    expect_parse_error("ALTER TABLE t DROP CHECK ck", 1235);
    expect_parse_error("ALTER TABLE t ALTER COLUMN a SET DEFAULT 1", 1235);
    expect_parse_error("ALTER TABLE t ADD c INT, RENAME TO u", 1235);
}

/* ---- ADD COLUMN ------------------------------------------------------------------------------ */

static const char *const base_create =
    "CREATE TABLE t (id INT PRIMARY KEY, a INT NOT NULL, b VARCHAR(10), c CHAR(4) NOT NULL "
    "DEFAULT 'x', KEY ka (a), KEY kbc (b, c))";

static void test_add_column(void **state)
{
    (void)state;
    tab x;
    tab_make(&x, base_create);
    assert_int_equal(x.t.next_col_id, 5);
    assert_int_equal(x.t.handle_col, 0);
    sql_cat_table t1, t2, t3;
    uint32_t id = 0;
    /* last, delete-only */
    assert_int_equal(apply(&x, &x.t, "ALTER TABLE t ADD COLUMN d INT NOT NULL DEFAULT 7",
                           SQL_OBJ_DELETE_ONLY, &t1, &id),
                     0);
    assert_int_equal(id, 5);
    assert_int_equal(t1.ncols, 5);
    assert_int_equal(t1.next_col_id, 6);
    assert_string_equal(col_names(&t1), "id,a,b,c,d");
    assert_int_equal(t1.cols[4].id, 5);
    assert_int_equal(t1.cols[4].state, SQL_OBJ_DELETE_ONLY);
    assert_true(t1.cols[4].has_origin);
    assert_string_equal(t1.cols[4].default_text, "7");
    assert_offsets(&t1);
    /* the input is untouched */
    assert_int_equal(x.t.ncols, 4);
    assert_int_equal(x.t.next_col_id, 5);
    /* FIRST: every offset moves, the handle and the indexes follow their columns */
    assert_int_equal(
        apply(&x, &t1, "ALTER TABLE t ADD f1 VARCHAR(5) FIRST", SQL_OBJ_WRITE_ONLY, &t2, &id), 0);
    assert_int_equal(id, 6);
    assert_string_equal(col_names(&t2), "f1,id,a,b,c,d");
    assert_int_equal(t2.handle_col, 1);
    assert_string_equal(index_cols(&t2, "ka"), "a");
    assert_string_equal(index_cols(&t2, "kbc"), "b,c");
    assert_offsets(&t2);
    /* AFTER */
    assert_int_equal(
        apply(&x, &t2, "ALTER TABLE t ADD COLUMN g DATE AFTER A", SQL_OBJ_PUBLIC, &t3, &id), 0);
    assert_int_equal(id, 7);
    assert_string_equal(col_names(&t3), "f1,id,a,g,b,c,d");
    assert_string_equal(index_cols(&t3, "kbc"), "b,c");
    assert_int_equal(t3.handle_col, 1);
    assert_offsets(&t3);
    /* after the last column = last */
    assert_int_equal(apply(&x, &t3, "ALTER TABLE t ADD h INT AFTER c", SQL_OBJ_PUBLIC, &t1, &id),
                     0);
    assert_string_equal(col_names(&t1), "f1,id,a,g,b,c,h,d");
    assert_int_equal(apply(&x, &t1, "ALTER TABLE t ADD i INT AFTER h", SQL_OBJ_PUBLIC, &t2, &id),
                     0);
    assert_string_equal(col_names(&t2), "f1,id,a,g,b,c,h,i,d");
    assert_int_equal(id, 9);

    /* errors */
    assert_int_equal(apply(&x, &x.t, "ALTER TABLE t ADD A INT", SQL_OBJ_DELETE_ONLY, &t1, NULL),
                     1060);
    /* a column in any state holds its name */
    assert_int_equal(apply(&x, &t2, "ALTER TABLE t ADD d BIGINT", SQL_OBJ_DELETE_ONLY, &t1, NULL),
                     1060);
    assert_int_equal(
        apply(&x, &x.t, "ALTER TABLE t ADD z INT AFTER nosuch", SQL_OBJ_DELETE_ONLY, &t1, NULL),
        1054);
    /* AFTER a column not yet public: one added earlier in the same ALTER */
    assert_int_equal(
        apply(&x, &t2, "ALTER TABLE t ADD z INT AFTER f1", SQL_OBJ_DELETE_ONLY, &t3, NULL), 0);
    assert_string_equal(col_names(&t3), "f1,z,id,a,g,b,c,h,i,d");
    assert_int_equal(
        apply(&x, &x.t, "ALTER TABLE t ADD z INT DEFAULT 'abc'", SQL_OBJ_DELETE_ONLY, &t1, NULL),
        1067);
    assert_int_equal(apply(&x, &x.t, "ALTER TABLE t ADD z INT NOT NULL DEFAULT NULL",
                           SQL_OBJ_DELETE_ONLY, &t1, NULL),
                     1067);
    assert_int_equal(apply(&x, &x.t, "ALTER TABLE t ADD z INT DEFAULT CURRENT_TIMESTAMP",
                           SQL_OBJ_DELETE_ONLY, &t1, NULL),
                     1067);
    assert_int_equal(
        apply(&x, &x.t, "ALTER TABLE t ADD z TEXT DEFAULT 'a'", SQL_OBJ_DELETE_ONLY, &t1, NULL),
        1101);
    assert_int_equal(
        apply(&x, &x.t, "ALTER TABLE t ADD z INT PRIMARY KEY", SQL_OBJ_DELETE_ONLY, &t1, NULL),
        1235);
    assert_int_equal(
        apply(&x, &x.t, "ALTER TABLE t ADD z INT UNIQUE", SQL_OBJ_DELETE_ONLY, &t1, NULL), 1235);
    assert_int_equal(
        apply(&x, &x.t, "ALTER TABLE t ADD z INT AUTO_INCREMENT", SQL_OBJ_DELETE_ONLY, &t1, NULL),
        1235);
    assert_int_equal(apply(&x, &x.t, "ALTER TABLE t ADD `z ` INT", SQL_OBJ_DELETE_ONLY, &t1, NULL),
                     1166);
    tab_fini(&x);
}

static void test_add_column_origin(void **state)
{
    (void)state;
    tab x;
    tab_make(&x, "CREATE TABLE t (id INT PRIMARY KEY)");
    struct {
        const char *alter;
        const char *origin;
    } cases[] = {
        {"ALTER TABLE t ADD c INT NOT NULL DEFAULT 7", "7"},
        {"ALTER TABLE t ADD c INT DEFAULT 7", "7"},
        {"ALTER TABLE t ADD c INT", "NULL"},
        {"ALTER TABLE t ADD c INT DEFAULT NULL", "NULL"},
        {"ALTER TABLE t ADD c INT NOT NULL", "0"},
        {"ALTER TABLE t ADD c BIGINT UNSIGNED NOT NULL", "0"},
        {"ALTER TABLE t ADD c DOUBLE NOT NULL", "0"},
        {"ALTER TABLE t ADD c DECIMAL(6,2) NOT NULL", "0.00"},
        {"ALTER TABLE t ADD c DECIMAL(6,2) NOT NULL DEFAULT '1.5'", "1.50"},
        {"ALTER TABLE t ADD c VARCHAR(8) NOT NULL", ""},
        {"ALTER TABLE t ADD c VARCHAR(8) NOT NULL DEFAULT 'héllo'", "héllo"},
        {"ALTER TABLE t ADD c TEXT NOT NULL", ""},
        {"ALTER TABLE t ADD c DATE NOT NULL", "0000-00-00"},
        {"ALTER TABLE t ADD c DATETIME NOT NULL", "0000-00-00 00:00:00"},
        {"ALTER TABLE t ADD c TIME NOT NULL", "00:00:00"},
        {"ALTER TABLE t ADD c YEAR NOT NULL", "0"},
        {"ALTER TABLE t ADD c ENUM('x','y') NOT NULL", "x"},
        {"ALTER TABLE t ADD c ENUM('x','y') NOT NULL DEFAULT 'y'", "y"},
        {"ALTER TABLE t ADD c SET('x','y') NOT NULL", ""},
        {"ALTER TABLE t ADD c JSON NOT NULL", "null"},
        {"ALTER TABLE t ADD c DATE DEFAULT '2024-02-29'", "2024-02-29"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sql_cat_table t1;
        uint32_t id;
        assert_int_equal(apply(&x, &x.t, cases[i].alter, SQL_OBJ_DELETE_ONLY, &t1, &id), 0);
        assert_true(t1.cols[1].has_origin);
        char got[128];
        origin_text(&t1.cols[1], got, sizeof(got));
        if (strcmp(got, cases[i].origin) != 0) {
            fprintf(stderr, "%s: origin [%s], wanted [%s]\n", cases[i].alter, got, cases[i].origin);
        }
        assert_string_equal(got, cases[i].origin);
    }
    /* DEFAULT CURRENT_TIMESTAMP: the ALTER's time, fixed once */
    sql_cat_table t1;
    uint32_t id;
    sql_type_set_tz(0, 0);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts); /* time() is the coarse clock: it can lag */
    time_t before = ts.tv_sec;
    assert_int_equal(apply(&x, &x.t,
                           "ALTER TABLE t ADD c TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP",
                           SQL_OBJ_DELETE_ONLY, &t1, &id),
                     0);
    clock_gettime(CLOCK_REALTIME, &ts);
    time_t after = ts.tv_sec;
    char got[64], lo[64], hi[64];
    origin_text(&t1.cols[1], got, sizeof(got));
    struct tm tm;
    gmtime_r(&before, &tm);
    strftime(lo, sizeof(lo), "%Y-%m-%d %H:%M:%S", &tm);
    gmtime_r(&after, &tm);
    strftime(hi, sizeof(hi), "%Y-%m-%d %H:%M:%S", &tm);
    fprintf(stderr, "origin of CURRENT_TIMESTAMP: %s (%s .. %s)\n", got, lo, hi);
    assert_true(strcmp(got, lo) >= 0 && strcmp(got, hi) <= 0);
    /* it is kept: a later read (even in another time zone) sees the same instant */
    char again[64];
    origin_text(&t1.cols[1], again, sizeof(again));
    assert_string_equal(got, again);
    /* DATETIME(3) keeps milliseconds of the ALTER's time */
    assert_int_equal(apply(&x, &x.t, "ALTER TABLE t ADD c DATETIME(3) DEFAULT CURRENT_TIMESTAMP(3)",
                           SQL_OBJ_DELETE_ONLY, &t1, &id),
                     0);
    origin_text(&t1.cols[1], got, sizeof(got));
    assert_int_equal(strlen(got), strlen("2024-01-01 00:00:00.000"));
    assert_true(strcmp(got, lo) >= 0);

    /* columns of CREATE TABLE have no origin: the default, or the implicit zero for NOT NULL */
    tab y;
    tab_make(&y, "CREATE TABLE u (id INT PRIMARY KEY, a INT NOT NULL, b INT DEFAULT 3, c INT, "
                 "d DATETIME DEFAULT CURRENT_TIMESTAMP)");
    assert_false(y.t.cols[1].has_origin);
    origin_text(&y.t.cols[1], got, sizeof(got));
    assert_string_equal(got, "0");
    origin_text(&y.t.cols[2], got, sizeof(got));
    assert_string_equal(got, "3");
    origin_text(&y.t.cols[3], got, sizeof(got));
    assert_string_equal(got, "NULL");
    origin_text(&y.t.cols[4], got, sizeof(got));
    assert_string_equal(got, "NULL");
    tab_fini(&y);
    tab_fini(&x);
}

/* ---- DROP COLUMN ----------------------------------------------------------------------------- */

static void test_drop_column(void **state)
{
    (void)state;
    tab x;
    tab_make(&x, "CREATE TABLE t (a INT, id INT PRIMARY KEY, b INT, c INT NOT NULL, d INT, "
                 "KEY kc (c), KEY kdb (d, b))");
    sql_cat_table t1, t2;
    uint32_t id;
    assert_int_equal(x.t.handle_col, 1);
    assert_int_equal(apply(&x, &x.t, "ALTER TABLE t DROP nosuch", 0, &t1, NULL), 1091);
    assert_int_equal(apply(&x, &x.t, "ALTER TABLE t DROP COLUMN id", 0, &t1, NULL), 1235);
    assert_int_equal(apply(&x, &x.t, "ALTER TABLE t DROP COLUMN c", 0, &t1, NULL), 1235);
    assert_int_equal(apply(&x, &x.t, "ALTER TABLE t DROP COLUMN b", 0, &t1, NULL), 1235);
    /* an unindexed column: a comes out, everything after it moves down */
    assert_int_equal(apply(&x, &x.t, "ALTER TABLE t DROP COLUMN A", 0, &t1, &id), 0);
    assert_int_equal(id, 1);
    assert_string_equal(col_names(&t1), "id,b,c,d");
    assert_int_equal(t1.handle_col, 0);
    assert_string_equal(index_cols(&t1, "kc"), "c");
    assert_string_equal(index_cols(&t1, "kdb"), "d,b");
    assert_int_equal(t1.next_col_id, 6); /* ids are never handed out again */
    assert_offsets(&t1);
    /* a column that is not public cannot be dropped (it is invisible) */
    t1.cols[3].state = SQL_OBJ_WRITE_ONLY;
    assert_int_equal(apply(&x, &t1, "ALTER TABLE t DROP d", 0, &t2, NULL), 1091);
    /* dropped then added again with the same name: a new id */
    tab y;
    tab_make(&y, "CREATE TABLE v (id INT PRIMARY KEY, a INT, b INT)");
    assert_int_equal(apply(&y, &y.t, "ALTER TABLE v DROP a", 0, &t1, &id), 0);
    assert_int_equal(id, 2);
    assert_int_equal(apply(&y, &t1, "ALTER TABLE v ADD a INT", SQL_OBJ_DELETE_ONLY, &t2, &id), 0);
    assert_int_equal(id, 4);
    assert_string_equal(col_names(&t2), "id,b,a");
    /* 1090: the last public column */
    tab z;
    tab_make(&z, "CREATE TABLE w (a INT, b INT)");
    assert_int_equal(apply(&z, &z.t, "ALTER TABLE w DROP a", 0, &t1, NULL), 0);
    assert_int_equal(apply(&z, &t1, "ALTER TABLE w DROP b", 0, &t2, NULL), 1090);
    /* only public columns count: a column being added does not save the last one */
    assert_int_equal(apply(&z, &t1, "ALTER TABLE w ADD c INT", SQL_OBJ_WRITE_ONLY, &t2, NULL), 0);
    assert_int_equal(apply(&z, &t2, "ALTER TABLE w DROP b", 0, &t1, NULL), 1090);
    tab_fini(&z);
    tab_fini(&y);
    tab_fini(&x);
}

static void test_remove_column(void **state)
{
    (void)state;
    tab x;
    tab_make(&x, "CREATE TABLE t (a INT, b INT NOT NULL AUTO_INCREMENT, c INT, d VARCHAR(3), "
                 "e INT, KEY kb (b), UNIQUE KEY ued (e, d))");
    assert_int_equal(x.t.autoinc_col, 1);
    assert_int_equal(x.t.handle_col, -1);
    sql_cat_table t;
    assert_int_equal(sql_cat_table_copy(&x.t, &x.p.a, &t, &x.p.err), 0);
    sql_cat_table_remove_column(&t, 99); /* absent: nothing */
    assert_string_equal(col_names(&t), "a,b,c,d,e");
    sql_cat_table_remove_column(&t, 1);
    assert_string_equal(col_names(&t), "b,c,d,e");
    assert_int_equal(t.autoinc_col, 0);
    assert_string_equal(index_cols(&t, "kb"), "b");
    assert_string_equal(index_cols(&t, "ued"), "e,d");
    sql_cat_table_remove_column(&t, 3);
    assert_string_equal(col_names(&t), "b,d,e");
    assert_string_equal(index_cols(&t, "ued"), "e,d");
    assert_offsets(&t);
    /* the column ids stay those of CREATE TABLE */
    assert_int_equal(t.cols[0].id, 2);
    assert_int_equal(t.cols[1].id, 4);
    assert_int_equal(t.cols[2].id, 5);
    /* removing the handle / auto column clears them */
    tab y;
    tab_make(&y, "CREATE TABLE u (x INT, id INT PRIMARY KEY AUTO_INCREMENT)");
    sql_cat_table_remove_column(&y.t, 2);
    assert_int_equal(y.t.handle_col, -1);
    assert_int_equal(y.t.autoinc_col, -1);
    assert_int_equal(y.t.ncols, 1);
    tab_fini(&y);
    tab_fini(&x);
}

/* ---- RENAME / MODIFY / CHANGE ---------------------------------------------------------------- */

static void test_change_column(void **state)
{
    (void)state;
    tab x;
    tab_make(&x, "CREATE TABLE t (id INT PRIMARY KEY, a INT NOT NULL DEFAULT 1, "
                 "b VARCHAR(10) COMMENT 'bee', c CHAR(4) NOT NULL, d DECIMAL(5,2), "
                 "e TINYINT UNSIGNED, f DATETIME(3), g TEXT, h BINARY(4), KEY kb (b), "
                 "UNIQUE KEY uca (c, a))");
    sql_cat_table t1, t2;
    /* RENAME COLUMN */
    assert_int_equal(apply(&x, &x.t, "ALTER TABLE t RENAME COLUMN b TO bb", 0, &t1, NULL), 0);
    assert_string_equal(col_names(&t1), "id,a,bb,c,d,e,f,g,h");
    assert_string_equal(index_cols(&t1, "kb"), "bb");
    assert_int_equal(t1.cols[2].id, x.t.cols[2].id);
    assert_string_equal(t1.cols[2].comment, "bee");
    assert_int_equal(apply(&x, &x.t, "ALTER TABLE t RENAME COLUMN b TO B", 0, &t1, NULL), 0);
    assert_string_equal(col_names(&t1), "id,a,B,c,d,e,f,g,h");
    assert_int_equal(apply(&x, &x.t, "ALTER TABLE t RENAME COLUMN nosuch TO z", 0, &t1, NULL),
                     1054);
    assert_int_equal(apply(&x, &x.t, "ALTER TABLE t RENAME COLUMN b TO A", 0, &t1, NULL), 1060);
    /* MODIFY: widening without a rewrite */
    assert_int_equal(apply(&x, &x.t, "ALTER TABLE t MODIFY b VARCHAR(20)", 0, &t1, NULL), 0);
    assert_int_equal(t1.cols[2].type.length, 20);
    assert_null(t1.cols[2].comment); /* MODIFY replaces the whole definition (MySQL) */
    assert_true(t1.cols[2].default_null);
    assert_int_equal(
        apply(&x, &x.t, "ALTER TABLE t MODIFY a BIGINT NOT NULL DEFAULT 9", 0, &t1, NULL), 0);
    assert_string_equal(t1.cols[1].default_text, "9");
    assert_int_equal(apply(&x, &x.t, "ALTER TABLE t MODIFY e INT UNSIGNED", 0, &t1, NULL), 0);
    assert_int_equal(apply(&x, &x.t, "ALTER TABLE t MODIFY c CHAR(8) NOT NULL", 0, &t1, NULL), 0);
    assert_int_equal(apply(&x, &x.t, "ALTER TABLE t MODIFY c CHAR(4) NULL", 0, &t1, NULL), 0);
    assert_false(t1.cols[3].not_null);
    assert_int_equal(apply(&x, &x.t, "ALTER TABLE t MODIFY g MEDIUMTEXT", 0, &t1, NULL), 0);
    assert_int_equal(
        apply(&x, &x.t, "ALTER TABLE t MODIFY d DECIMAL(5,2) COMMENT 'dd'", 0, &t1, NULL), 0);
    assert_string_equal(t1.cols[4].comment, "dd");
    /* MODIFY with a position: the indexes follow their columns */
    assert_int_equal(apply(&x, &x.t, "ALTER TABLE t MODIFY c CHAR(4) NOT NULL FIRST", 0, &t1, NULL),
                     0);
    assert_string_equal(col_names(&t1), "c,id,a,b,d,e,f,g,h");
    assert_int_equal(t1.handle_col, 1);
    assert_string_equal(index_cols(&t1, "uca"), "c,a");
    assert_string_equal(index_cols(&t1, "kb"), "b");
    assert_offsets(&t1);
    assert_int_equal(
        apply(&x, &t1, "ALTER TABLE t MODIFY c CHAR(4) NOT NULL AFTER h", 0, &t2, NULL), 0);
    assert_string_equal(col_names(&t2), "id,a,b,d,e,f,g,h,c");
    assert_string_equal(index_cols(&t2, "uca"), "c,a");
    assert_int_equal(t2.handle_col, 0);
    assert_int_equal(apply(&x, &x.t, "ALTER TABLE t MODIFY id INT AFTER e", 0, &t1, NULL), 0);
    assert_string_equal(col_names(&t1), "a,b,c,d,e,id,f,g,h");
    assert_int_equal(t1.handle_col, 5);
    assert_true(t1.cols[5].not_null); /* a key column stays NOT NULL */
    assert_int_equal(apply(&x, &x.t, "ALTER TABLE t MODIFY a INT NOT NULL AFTER a", 0, &t1, NULL),
                     1054);
    assert_int_equal(apply(&x, &x.t, "ALTER TABLE t MODIFY a INT NOT NULL AFTER id", 0, &t1, NULL),
                     0);
    assert_string_equal(col_names(&t1), "id,a,b,c,d,e,f,g,h");
    /* CHANGE: rename and modify */
    assert_int_equal(
        apply(&x, &x.t, "ALTER TABLE t CHANGE COLUMN b b2 VARCHAR(12) AFTER c", 0, &t1, NULL), 0);
    assert_string_equal(col_names(&t1), "id,a,c,b2,d,e,f,g,h");
    assert_string_equal(index_cols(&t1, "kb"), "b2");
    assert_int_equal(t1.cols[3].type.length, 12);
    assert_int_equal(apply(&x, &x.t, "ALTER TABLE t CHANGE b a VARCHAR(12)", 0, &t1, NULL), 1060);
    assert_int_equal(apply(&x, &x.t, "ALTER TABLE t CHANGE nosuch z INT", 0, &t1, NULL), 1054);
    assert_int_equal(apply(&x, &x.t, "ALTER TABLE t MODIFY nosuch INT", 0, &t1, NULL), 1054);
    /* what would rewrite rows: 1235 */
    const char *rewrite[] = {
        "ALTER TABLE t MODIFY b VARCHAR(5)",                 /* narrower */
        "ALTER TABLE t MODIFY a SMALLINT NOT NULL",          /* narrower int */
        "ALTER TABLE t MODIFY a INT UNSIGNED",               /* signedness */
        "ALTER TABLE t MODIFY a VARCHAR(10)",                /* another kind */
        "ALTER TABLE t MODIFY b VARBINARY(20)",              /* string to bytes */
        "ALTER TABLE t MODIFY b CHAR(20)",                   /* VARCHAR to CHAR */
        "ALTER TABLE t MODIFY b VARCHAR(20) NOT NULL",       /* NULL no longer allowed */
        "ALTER TABLE t MODIFY d DECIMAL(6,2)",               /* another precision */
        "ALTER TABLE t MODIFY f DATETIME(6)",                /* another fsp */
        "ALTER TABLE t MODIFY g TINYTEXT",                   /* narrower text */
        "ALTER TABLE t MODIFY h BINARY(8)",                  /* BINARY pads to its length */
        "ALTER TABLE t MODIFY b VARCHAR(20) COLLATE binary", /* VARBINARY now */
        "ALTER TABLE t MODIFY a INT NOT NULL AUTO_INCREMENT",
        "ALTER TABLE t MODIFY b VARCHAR(20) UNIQUE",
    };
    for (size_t i = 0; i < sizeof(rewrite) / sizeof(rewrite[0]); i++) {
        int my = apply(&x, &x.t, rewrite[i], 0, &t1, NULL);
        if (my != 1235) {
            fprintf(stderr, "%s: %d (wanted 1235)\n", rewrite[i], my);
        }
        assert_int_equal(my, 1235);
    }
    assert_int_equal(
        apply(&x, &x.t, "ALTER TABLE t MODIFY a INT NOT NULL DEFAULT 'x'", 0, &t1, NULL), 1067);
    assert_int_equal(
        apply(&x, &x.t, "ALTER TABLE t MODIFY b VARCHAR(20) NOT NULL DEFAULT NULL", 0, &t1, NULL),
        1067);
    assert_int_equal(apply(&x, &x.t, "ALTER TABLE t MODIFY id INT NULL", 0, &t1, NULL), 1171);
    assert_int_equal(apply(&x, &x.t, "ALTER TABLE t CHANGE b `b ` VARCHAR(10)", 0, &t1, NULL),
                     1166);
    tab_fini(&x);
}

/* An added column keeps its origin through MODIFY (a new DEFAULT is for new rows only) */
static void test_origin_survives_modify(void **state)
{
    (void)state;
    tab x;
    tab_make(&x, "CREATE TABLE t (id INT PRIMARY KEY)");
    sql_cat_table t1, t2;
    uint32_t id;
    assert_int_equal(
        apply(&x, &x.t, "ALTER TABLE t ADD c INT NOT NULL DEFAULT 5", SQL_OBJ_PUBLIC, &t1, &id), 0);
    assert_int_equal(
        apply(&x, &t1, "ALTER TABLE t MODIFY c BIGINT NOT NULL DEFAULT 8", 0, &t2, NULL), 0);
    char got[32];
    origin_text(&t2.cols[1], got, sizeof(got));
    assert_string_equal(got, "5");
    assert_string_equal(t2.cols[1].default_text, "8");
    assert_int_equal(apply(&x, &t2, "ALTER TABLE t RENAME COLUMN c TO cc", 0, &t1, NULL), 0);
    origin_text(&t1.cols[1], got, sizeof(got));
    assert_string_equal(got, "5");
    tab_fini(&x);
}

/* ---- the stored form of an origin default ---------------------------------------------------- */

static void test_origin_encoding(void **state)
{
    (void)state;
    tab x;
    tab_make(&x, "CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(10))");
    sql_cat_table t1, t2;
    uint32_t id;
    assert_int_equal(apply(&x, &x.t, "ALTER TABLE t ADD s VARCHAR(10) NOT NULL DEFAULT 'abc'",
                           SQL_OBJ_WRITE_REORG, &t1, &id),
                     0);
    assert_int_equal(apply(&x, &t1, "ALTER TABLE t ADD n INT", SQL_OBJ_DELETE_ONLY, &t2, &id), 0);
    t2.version = 9;
    cm_buf enc = CM_BUF_INIT, enc2 = CM_BUF_INIT, plain = CM_BUF_INIT;
    assert_int_equal(sql_cat_encode_table(&t2, &enc), 0);
    cm_arena a;
    cm_arena_init(&a, 0);
    sql_cat_table d;
    cm_err err;
    assert_int_equal(sql_cat_decode_table(cm_buf_slice(&enc), &a, &d, &err), 0);
    assert_int_equal(d.ncols, 4);
    assert_false(d.cols[1].has_origin);
    assert_true(d.cols[2].has_origin);
    assert_int_equal(d.cols[2].state, SQL_OBJ_WRITE_REORG);
    assert_int_equal(d.cols[3].state, SQL_OBJ_DELETE_ONLY);
    assert_int_equal(d.cols[2].origin_len, t2.cols[2].origin_len);
    assert_memory_equal(d.cols[2].origin, t2.cols[2].origin, d.cols[2].origin_len);
    char got[32];
    origin_text(&d.cols[2], got, sizeof(got));
    assert_string_equal(got, "abc");
    origin_text(&d.cols[3], got, sizeof(got));
    assert_string_equal(got, "NULL");
    assert_int_equal(d.next_col_id, 5);
    /* re-encodes byte for byte; a copy too */
    assert_int_equal(sql_cat_encode_table(&d, &enc2), 0);
    assert_int_equal(enc.len, enc2.len);
    assert_memory_equal(enc.ptr, enc2.ptr, enc.len);
    sql_cat_table c;
    assert_int_equal(sql_cat_table_copy(&d, &a, &c, &err), 0);
    cm_buf_reset(&enc2);
    assert_int_equal(sql_cat_encode_table(&c, &enc2), 0);
    assert_memory_equal(enc.ptr, enc2.ptr, enc.len);
    /* a definition stored before origins existed (no flag) still decodes */
    assert_int_equal(sql_cat_encode_table(&x.t, &plain), 0);
    assert_int_equal(sql_cat_decode_table(cm_buf_slice(&plain), &a, &d, &err), 0);
    assert_false(d.cols[0].has_origin);
    assert_false(d.cols[1].has_origin);
    /* every truncation is refused */
    for (size_t n = 0; n < enc.len; n++) {
        assert_int_equal(sql_cat_decode_table(cm_slice_make(enc.ptr, n), &a, &d, &err),
                         CM_E_CORRUPT);
    }
    /* an origin that is not a one-cell row of the column's type is refused */
    t2.cols[2].origin[0] ^= 0xff;
    cm_buf_reset(&enc2);
    assert_int_equal(sql_cat_encode_table(&t2, &enc2), 0);
    assert_int_equal(sql_cat_decode_table(cm_buf_slice(&enc2), &a, &d, &err), CM_E_CORRUPT);
    t2.cols[2].origin[0] ^= 0xff;
    cm_buf row = CM_BUF_INIT;
    cm_row_cell cells[2] = {{.id = 1, .value = cm_datum_int64(1)},
                            {.id = 2, .value = cm_datum_int64(2)}};
    assert_int_equal(cm_row_encode(&row, cells, 2, &err), 0);
    uint8_t *keep = t2.cols[2].origin;
    uint32_t keep_len = t2.cols[2].origin_len;
    t2.cols[2].origin = row.ptr;
    t2.cols[2].origin_len = (uint32_t)row.len;
    cm_buf_reset(&enc2);
    assert_int_equal(sql_cat_encode_table(&t2, &enc2), 0);
    assert_int_equal(sql_cat_decode_table(cm_buf_slice(&enc2), &a, &d, &err), CM_E_CORRUPT);
    /* one cell of the wrong type (an INT64 for a VARCHAR decodes as bytes; a 3-byte STRING
     * cell for an INT column does not) */
    cm_buf_reset(&row);
    cells[0].value = cm_datum_string(cm_slice_make("abc", 3));
    assert_int_equal(cm_row_encode(&row, cells, 1, &err), 0);
    t2.cols[2].origin = keep;
    t2.cols[2].origin_len = keep_len;
    t2.cols[3].origin = row.ptr;
    t2.cols[3].origin_len = (uint32_t)row.len;
    cm_buf_reset(&enc2);
    assert_int_equal(sql_cat_encode_table(&t2, &enc2), 0);
    assert_int_equal(sql_cat_decode_table(cm_buf_slice(&enc2), &a, &d, &err), CM_E_CORRUPT);
    /* random corruption: an error or a definition that re-encodes, never a crash */
    srand(7);
    for (int k = 0; k < 20000; k++) {
        cm_buf_reset(&enc2);
        cm_buf_append(&enc2, enc.ptr, enc.len);
        int flips = 1 + rand() % 3;
        for (int f = 0; f < flips; f++) {
            enc2.ptr[rand() % enc2.len] = (uint8_t)rand();
        }
        cm_arena_reset(&a);
        int rc = sql_cat_decode_table(cm_buf_slice(&enc2), &a, &d, &err);
        assert_true(rc == 0 || rc == CM_E_CORRUPT);
        if (rc == 0) {
            cm_buf e3 = CM_BUF_INIT;
            assert_int_equal(sql_cat_encode_table(&d, &e3), 0);
            for (uint32_t i = 0; i < d.ncols; i++) {
                char g[300];
                if (d.cols[i].has_origin && d.cols[i].type.nmembers == 0) {
                    cm_buf mem = CM_BUF_INIT;
                    cm_datum dd;
                    assert_int_equal(sql_cat_col_origin(&d.cols[i], &dd, &mem, &err), 0);
                    cm_buf_fini(&mem);
                }
                (void)g;
            }
            cm_buf_fini(&e3);
        }
    }
    cm_buf_fini(&row);
    cm_arena_fini(&a);
    cm_buf_fini(&enc);
    cm_buf_fini(&enc2);
    cm_buf_fini(&plain);
    tab_fini(&x);
}

/* SHOW CREATE TABLE never shows a column (or index) that is not public */
static void test_show_hides_states(void **state)
{
    (void)state;
    tab x;
    tab_make(&x, "CREATE TABLE t (id INT PRIMARY KEY, a INT, KEY ka (a))");
    sql_cat_table t1;
    uint32_t id;
    static const uint8_t states[] = {SQL_OBJ_DELETE_ONLY, SQL_OBJ_WRITE_ONLY, SQL_OBJ_WRITE_REORG,
                                     SQL_OBJ_DELETE_REORG, SQL_OBJ_PUBLIC};
    for (size_t i = 0; i < sizeof(states); i++) {
        assert_int_equal(apply(&x, &x.t, "ALTER TABLE t ADD COLUMN hidden_c INT DEFAULT 3 AFTER id",
                               states[i], &t1, &id),
                         0);
        t1.indexes[0].state = states[i];
        cm_buf b = CM_BUF_INIT;
        assert_int_equal(sql_cat_create_table_text(&t1, 0, &b), 0);
        bool pub = states[i] == SQL_OBJ_PUBLIC;
        assert_int_equal(strstr((const char *)b.ptr, "hidden_c") != NULL, pub);
        assert_int_equal(strstr((const char *)b.ptr, "KEY `ka`") != NULL, pub);
        assert_non_null(strstr((const char *)b.ptr, "`a` int"));
        cm_buf_fini(&b);
    }
    tab_fini(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_column_clauses),   cmocka_unit_test(test_add_column),
        cmocka_unit_test(test_add_column_origin),      cmocka_unit_test(test_drop_column),
        cmocka_unit_test(test_remove_column),          cmocka_unit_test(test_change_column),
        cmocka_unit_test(test_origin_survives_modify), cmocka_unit_test(test_origin_encoding),
        cmocka_unit_test(test_show_hides_states),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
