/* Unit tests for sqlnode/catalog: the DDL parser and table builder (every statement form, MySQL
 * error codes), the definition encoding (round trips, every truncation, random corruption),
 * snapshots and lookups, index entry layout, and the SHOW output. No cluster: the KV parts are
 * covered by testsuite/e2e/catalog. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cm_keys.h"
#include "sql_cat_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    p->rc = sql_ddl_parse(sql, p->toks.v, p->toks.n, &p->a, &p->st, &p->err);
}

static void parsed_fini(parsed *p)
{
    sql_tokens_fini(&p->toks);
    cm_arena_fini(&p->a);
}

static int64_t next_test_id;

static int test_id(void *user, int64_t *id, cm_err *err)
{
    (void)user;
    (void)err;
    *id = ++next_test_id;
    return 0;
}

/* Parses and builds a CREATE TABLE; returns the build's rc (parse must succeed). */
static int build(parsed *p, const char *sql, sql_cat_table *t)
{
    parse(p, sql);
    if (p->rc != 0) {
        return p->rc;
    }
    assert_int_equal(p->st.kind, SQL_DDL_CREATE_TABLE);
    return sql_ddl_build_table(&p->st, &p->a, test_id, NULL, t, &p->err);
}

static int errno_of(int rc)
{
    return cm_err_mysql_errno(rc);
}

/* Expects the statement to fail (in parse or build) with MySQL errno my. */
static void expect_error(const char *sql, int my)
{
    parsed p;
    sql_cat_table t;
    parse(&p, sql);
    int rc = p.rc;
    if (rc == 0 && p.st.kind == SQL_DDL_CREATE_TABLE) {
        rc = sql_ddl_build_table(&p.st, &p.a, test_id, NULL, &t, &p.err);
    }
    if (rc == 0 || errno_of(rc) != my) {
        fprintf(stderr, "statement: %s\n  rc=%d errno=%d msg=%s (wanted %d)\n", sql, rc,
                rc ? errno_of(rc) : 0, p.err.msg, my);
    }
    assert_int_not_equal(rc, 0);
    assert_int_equal(errno_of(rc), my);
    parsed_fini(&p);
}

/* ---- parser: databases and other statements -------------------------------------------------- */

static void test_parse_databases(void **state)
{
    (void)state;
    parsed p;
    parse(&p, "CREATE DATABASE IF NOT EXISTS `Shop` DEFAULT CHARACTER SET utf8mb4 COLLATE "
              "utf8mb4_bin");
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.st.kind, SQL_DDL_CREATE_DB);
    assert_true(p.st.if_not_exists);
    assert_string_equal(p.st.target.name, "Shop");
    assert_string_equal(p.st.charset, "utf8mb4");
    assert_string_equal(p.st.collation, "utf8mb4_bin");
    parsed_fini(&p);

    parse(&p, "create schema s1 charset = latin1;");
    assert_int_equal(p.rc, 0);
    assert_false(p.st.if_not_exists);
    assert_string_equal(p.st.charset, "latin1");
    parsed_fini(&p);

    parse(&p, "DROP SCHEMA IF EXISTS s1");
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.st.kind, SQL_DDL_DROP_DB);
    assert_true(p.st.if_exists);
    parsed_fini(&p);

    expect_error("CREATE DATABASE d CHARSET nosuch", 1115);
    expect_error("CREATE DATABASE d COLLATE nosuch_ci", 1273);
    expect_error("CREATE DATABASE", 1064);
    expect_error("CREATE DATABASE IF EXISTS d", 1064);
    expect_error("DROP DATABASE d extra", 1064);
}

static void test_parse_other_statements(void **state)
{
    (void)state;
    parsed p;
    parse(&p, "DROP TABLE IF EXISTS t1, db2.t2 CASCADE");
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.st.kind, SQL_DDL_DROP_TABLE);
    assert_true(p.st.if_exists);
    assert_int_equal(p.st.nnames, 2);
    assert_null(p.st.names[0].db);
    assert_string_equal(p.st.names[1].db, "db2");
    assert_string_equal(p.st.names[1].name, "t2");
    parsed_fini(&p);

    parse(&p, "TRUNCATE TABLE t");
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.st.kind, SQL_DDL_TRUNCATE);
    parsed_fini(&p);
    parse(&p, "truncate d.t");
    assert_int_equal(p.rc, 0);
    assert_string_equal(p.st.target.db, "d");
    parsed_fini(&p);

    parse(&p, "RENAME TABLE a TO b, d.c TO e.f");
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.st.kind, SQL_DDL_RENAME_TABLE);
    assert_int_equal(p.st.nnames, 4);
    assert_string_equal(p.st.names[3].db, "e");
    parsed_fini(&p);

    /* sysbench's secondary index */
    parse(&p, "CREATE INDEX k_1 ON sbtest1(k)");
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.st.kind, SQL_DDL_ALTER_TABLE);
    assert_int_equal(p.st.nops, 1);
    assert_int_equal(p.st.ops[0].kind, SQL_ALTER_ADD_INDEX);
    assert_string_equal(p.st.ops[0].ix.name, "k_1");
    assert_false(p.st.ops[0].ix.unique);
    assert_int_equal(p.st.ops[0].ix.nparts, 1);
    assert_string_equal(p.st.ops[0].ix.parts[0].col, "k");
    parsed_fini(&p);

    parse(&p, "CREATE UNIQUE INDEX u USING BTREE ON t (a, b(10) DESC) COMMENT 'x'");
    assert_int_equal(p.rc, CM_E_UNSUPPORTED); /* descending indexes */
    parsed_fini(&p);
    parse(&p,
          "CREATE UNIQUE INDEX u USING BTREE ON t (a, b(10) ASC) COMMENT 'x' ALGORITHM=INPLACE");
    assert_int_equal(p.rc, 0);
    assert_true(p.st.ops[0].ix.unique);
    assert_int_equal(p.st.ops[0].ix.parts[1].prefix_len, 10);
    assert_string_equal(p.st.ops[0].ix.comment, "x");
    parsed_fini(&p);

    parse(&p, "DROP INDEX k_1 ON sbtest1");
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.st.ops[0].kind, SQL_ALTER_DROP_INDEX);
    assert_string_equal(p.st.ops[0].ix.name, "k_1");
    parsed_fini(&p);

    parse(&p, "ALTER TABLE t ADD INDEX (a), ADD UNIQUE KEY u (b), ADD CONSTRAINT c UNIQUE (c), "
              "DROP KEY old, DROP INDEX old2, ADD PRIMARY KEY (id), DROP PRIMARY KEY");
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.st.nops, 7);
    assert_null(p.st.ops[0].ix.name);
    assert_string_equal(p.st.ops[1].ix.name, "u");
    assert_true(p.st.ops[1].ix.unique);
    assert_string_equal(p.st.ops[2].ix.name, "c");
    assert_int_equal(p.st.ops[3].kind, SQL_ALTER_DROP_INDEX);
    assert_true(p.st.ops[5].ix.primary);
    assert_true(p.st.ops[6].ix.primary);
    parsed_fini(&p);

    parse(&p, "ALTER TABLE t ENGINE=InnoDB DEFAULT CHARSET=utf8mb4, COMMENT 'c', "
              "AUTO_INCREMENT=50 ROW_FORMAT=DYNAMIC, RENAME KEY a TO b, DISABLE KEYS");
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.st.kind, SQL_DDL_ALTER_TABLE);
    assert_int_equal(p.st.nops, 5);
    assert_int_equal(p.st.ops[0].kind, SQL_ALTER_OPTIONS);
    assert_int_equal(p.st.ops[1].kind, SQL_ALTER_OPTIONS);
    assert_int_equal(p.st.ops[2].kind, SQL_ALTER_OPTIONS);
    assert_int_equal(p.st.ops[3].kind, SQL_ALTER_RENAME_INDEX);
    assert_string_equal(p.st.ops[3].ix.name, "a");
    assert_string_equal(p.st.ops[3].new_name, "b");
    assert_int_equal(p.st.ops[4].kind, SQL_ALTER_NOOP);
    assert_string_equal(p.st.engine, "InnoDB");
    assert_string_equal(p.st.comment, "c");
    assert_true(p.st.has_autoinc_start);
    assert_int_equal(p.st.autoinc_start, 50);
    parsed_fini(&p);
    /* mysqldump: an executable comment the lexer opens */
    parse(&p, "/*!40000 ALTER TABLE `t` DISABLE KEYS */");
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.st.ops[0].kind, SQL_ALTER_NOOP);
    parsed_fini(&p);
    parse(&p, "ALTER TABLE d.t RENAME AS e.u");
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.st.kind, SQL_DDL_RENAME_TABLE);
    assert_int_equal(p.st.nnames, 2);
    assert_string_equal(p.st.names[0].db, "d");
    assert_string_equal(p.st.names[1].name, "u");
    parsed_fini(&p);

    parse(&p, "CREATE TABLE IF NOT EXISTS t2 LIKE d.t1");
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.st.kind, SQL_DDL_CREATE_LIKE);
    assert_string_equal(p.st.like.db, "d");
    parsed_fini(&p);
    parse(&p, "CREATE TABLE t2 (LIKE t1)");
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.st.kind, SQL_DDL_CREATE_LIKE);
    parsed_fini(&p);

    /* column clauses parse now (test_ddl_cols.c); what is left of ALTER is still 1235 */
    expect_error("ALTER TABLE t ALTER COLUMN x DROP DEFAULT", 1235);
    expect_error("ALTER TABLE t DROP FOREIGN KEY f", 1235);
    expect_error("ALTER TABLE t CONVERT TO CHARACTER SET utf8mb4", 1235);
    expect_error("ALTER TABLE t RENAME TO u, ADD INDEX (a)", 1235);
    expect_error("ALTER TABLE t RENAME COLUMN a TO b, RENAME TO u", 1235);
    expect_error("ALTER TABLE t RENAME INDEX a b", 1064);
    expect_error("ALTER TABLE t", 1064);
    expect_error("CREATE TEMPORARY TABLE t (a INT)", 1235);
    expect_error("CREATE FULLTEXT INDEX f ON t (a)", 1235);
    expect_error("CREATE TABLE t (a INT) PARTITION BY HASH(a)", 1235);
    expect_error("CREATE TABLE t AS SELECT 1", 1235);
    expect_error("CREATE TABLE t (a INT) SELECT 1", 1235);
    expect_error("DROP TABLE", 1064);
    expect_error("DROP INDEX i", 1064);
    expect_error("RENAME TABLE a b", 1064);
    expect_error("TRUNCATE", 1064);
    expect_error("CREATE INDEX ON t (a)", 1064);
}

static void test_is_ddl(void **state)
{
    (void)state;
    static const struct {
        const char *sql;
        bool ddl;
    } cases[] = {
        {"CREATE TABLE t (a INT)", true},
        {"create database d", true},
        {"CREATE SCHEMA d", true},
        {"CREATE INDEX i ON t (a)", true},
        {"CREATE UNIQUE INDEX i ON t (a)", true},
        {"DROP TABLE t", true},
        {"DROP TABLES t", true},
        {"DROP DATABASE d", true},
        {"DROP INDEX i ON t", true},
        {"ALTER TABLE t ADD INDEX (a)", true},
        {"TRUNCATE t", true},
        {"RENAME TABLE a TO b", true},
        {"CREATE USER u", false},
        {"CREATE VIEW v AS SELECT 1", false},
        {"DROP USER u", false},
        {"SELECT 1", false},
        {"ALTER USER u", false},
        {"INSERT INTO t VALUES (1)", false},
        {"CREATE", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sql_tokens toks;
        sql_tokens_init(&toks);
        cm_err err;
        assert_int_equal(sql_lex(cases[i].sql, strlen(cases[i].sql), 0, &toks, &err), 0);
        assert_int_equal(sql_ddl_is_ddl(cases[i].sql, toks.v, toks.n), cases[i].ddl);
        sql_tokens_fini(&toks);
    }
}

/* ---- builder -----------------------------------------------------------------------------------
 */

static const char *const sysbench_create =
    "CREATE TABLE sbtest1( id INTEGER NOT NULL AUTO_INCREMENT, k INTEGER DEFAULT '0' NOT NULL, c "
    "CHAR(120) DEFAULT '' NOT NULL, pad CHAR(60) DEFAULT '' NOT NULL, PRIMARY KEY (id) ) /*! "
    "ENGINE = innodb */";

static void test_build_sysbench(void **state)
{
    (void)state;
    parsed p;
    sql_cat_table t;
    assert_int_equal(build(&p, sysbench_create, &t), 0);
    assert_string_equal(t.name, "sbtest1");
    assert_string_equal(p.st.engine, "innodb");
    assert_int_equal(t.ncols, 4);
    assert_int_equal(t.handle_col, 0);
    assert_int_equal(t.autoinc_col, 0);
    assert_int_equal(t.nindexes, 0);
    assert_int_equal(t.next_col_id, 5);
    assert_int_equal(t.autoinc_start, 1);
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(t.cols[i].id, i + 1);
        assert_int_equal(t.cols[i].offset, i);
        assert_true(t.cols[i].not_null);
        assert_int_equal(t.cols[i].state, SQL_OBJ_PUBLIC);
    }
    assert_true(t.cols[0].auto_inc);
    assert_false(t.cols[0].has_default);
    assert_true(t.cols[1].has_default);
    assert_string_equal(t.cols[1].default_text, "0");
    assert_string_equal(t.cols[2].default_text, "");
    assert_int_equal(t.cols[2].type.length, 120);
    parsed_fini(&p);
}

static void test_build_handle_rule(void **state)
{
    (void)state;
    parsed p;
    sql_cat_table t;
    /* inline integer PK: the handle */
    assert_int_equal(build(&p, "CREATE TABLE t (a INT, id BIGINT PRIMARY KEY)", &t), 0);
    assert_int_equal(t.handle_col, 1);
    assert_int_equal(t.nindexes, 0);
    assert_true(t.cols[1].not_null);     /* implied by PRIMARY KEY */
    assert_false(t.cols[1].has_default); /* so no implied DEFAULT NULL */
    assert_true(t.cols[0].has_default);  /* a nullable column defaults to NULL */
    assert_true(t.cols[0].default_null);
    parsed_fini(&p);
    /* a string PK: hidden handle, the PK becomes the unique index PRIMARY */
    assert_int_equal(build(&p, "CREATE TABLE t (name VARCHAR(20), v INT, PRIMARY KEY (name))", &t),
                     0);
    assert_int_equal(t.handle_col, -1);
    assert_int_equal(t.nindexes, 1);
    assert_string_equal(t.indexes[0].name, "PRIMARY");
    assert_true(t.indexes[0].primary);
    assert_true(t.indexes[0].unique);
    assert_true(t.cols[0].not_null);
    parsed_fini(&p);
    /* composite PK */
    assert_int_equal(build(&p, "CREATE TABLE t (a INT, b INT, PRIMARY KEY (a, b))", &t), 0);
    assert_int_equal(t.handle_col, -1);
    assert_int_equal(t.indexes[0].ncols, 2);
    parsed_fini(&p);
    /* BIGINT UNSIGNED does not fit an int64 handle */
    assert_int_equal(build(&p, "CREATE TABLE t (a BIGINT UNSIGNED PRIMARY KEY)", &t), 0);
    assert_int_equal(t.handle_col, -1);
    assert_string_equal(t.indexes[0].name, "PRIMARY");
    parsed_fini(&p);
    /* INT UNSIGNED does */
    assert_int_equal(
        build(&p, "CREATE TABLE t (a INT UNSIGNED, CONSTRAINT pk PRIMARY KEY (a))", &t), 0);
    assert_int_equal(t.handle_col, 0);
    parsed_fini(&p);
    /* no PK at all */
    assert_int_equal(build(&p, "CREATE TABLE t (a INT)", &t), 0);
    assert_int_equal(t.handle_col, -1);
    assert_int_equal(t.nindexes, 0);
    parsed_fini(&p);
}

static void test_build_index_names(void **state)
{
    (void)state;
    parsed p;
    sql_cat_table t;
    assert_int_equal(
        build(&p,
              "CREATE TABLE t (id INT PRIMARY KEY, a INT, b INT UNIQUE, c VARCHAR(50), "
              "KEY (a), INDEX (a, b), UNIQUE (a), KEY named (c(10)) COMMENT 'hi', "
              "UNIQUE KEY (b))",
              &t),
        0);
    /* names as MySQL generates them (first column, then _2, _3 … while taken); unique keys
     * sort before the others, declaration order within each group */
    static const char *const want[] = {"b", "a_3", "b_2", "a", "a_2", "named"};
    assert_int_equal(t.nindexes, 6);
    for (uint32_t i = 0; i < 6; i++) {
        assert_string_equal(t.indexes[i].name, want[i]);
        assert_int_equal(t.indexes[i].unique, i < 3);
        assert_false(t.indexes[i].primary);
        assert_int_equal(t.indexes[i].state, SQL_OBJ_PUBLIC);
        for (uint32_t j = 0; j < i; j++) {
            assert_int_not_equal(t.indexes[i].id, t.indexes[j].id);
        }
    }
    assert_int_equal(t.indexes[4].ncols, 2);
    assert_int_equal(t.indexes[4].cols[1], 2);
    assert_int_equal(t.indexes[5].prefix_len[0], 10);
    assert_string_equal(t.indexes[5].comment, "hi");
    parsed_fini(&p);
    /* an explicit name equal to a generated one is a duplicate */
    expect_error("CREATE TABLE t (a INT, KEY (a), KEY a (a))", 1061);
}

static void test_build_options(void **state)
{
    (void)state;
    parsed p;
    sql_cat_table t;
    assert_int_equal(build(&p,
                           "CREATE TABLE IF NOT EXISTS d.t (a INT NOT NULL AUTO_INCREMENT, "
                           "ts TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE "
                           "CURRENT_TIMESTAMP(3), dt DATETIME DEFAULT NOW(), e ENUM('x','y') "
                           "DEFAULT 'y', d DECIMAL(10,2) DEFAULT -1, n INT DEFAULT NULL COMMENT "
                           "'the n', u INT UNSIGNED DEFAULT 0x10, KEY (a)) ENGINE=InnoDB "
                           "AUTO_INCREMENT=100 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin "
                           "COMMENT='tbl' ROW_FORMAT=DYNAMIC, STATS_PERSISTENT=0",
                           &t),
                     0);
    assert_string_equal(p.st.target.db, "d");
    assert_true(p.st.if_not_exists);
    assert_int_equal(t.autoinc_start, 100);
    assert_string_equal(t.comment, "tbl");
    assert_string_equal(t.engine, "InnoDB");
    assert_string_equal(t.charset, "utf8mb4");
    assert_true(t.cols[1].default_now);
    assert_true(t.cols[1].on_update_now);
    assert_true(t.cols[2].default_now);
    assert_string_equal(t.cols[3].default_text, "y");
    assert_string_equal(t.cols[4].default_text, "-1.00");
    assert_true(t.cols[5].default_null);
    assert_string_equal(t.cols[5].comment, "the n");
    assert_string_equal(t.cols[6].default_text, "16");
    assert_int_equal(t.autoinc_col, 0);
    parsed_fini(&p);
}

static void test_build_serial_collate(void **state)
{
    (void)state;
    parsed p;
    sql_cat_table t;
    assert_int_equal(build(&p,
                           "CREATE TABLE s (id SERIAL, name VARCHAR(10) NOT NULL COLLATE "
                           "utf8mb4_bin, b VARCHAR(4) COLLATE binary)",
                           &t),
                     0);
    /* SERIAL = BIGINT UNSIGNED NOT NULL AUTO_INCREMENT UNIQUE */
    assert_true(t.cols[0].not_null);
    assert_true(t.cols[0].auto_inc);
    assert_true(t.cols[0].type.is_unsigned);
    assert_int_equal(t.autoinc_col, 0);
    assert_int_equal(t.handle_col, -1);
    assert_int_equal(t.nindexes, 1);
    assert_string_equal(t.indexes[0].name, "id");
    assert_true(t.indexes[0].unique);
    assert_true(t.cols[1].not_null);
    assert_int_equal(t.cols[2].type.dtype, CM_DT_BYTES); /* a binary collation: VARBINARY */
    parsed_fini(&p);
    expect_error("CREATE TABLE s (a VARCHAR(10) NOT NULL COLLATE nosuch)", 1273);
}

/* Defaults keep the canonical text of the stored value (what MySQL's SHOW CREATE TABLE prints). */
static void test_build_default_canonical(void **state)
{
    (void)state;
    static const struct {
        const char *decl;
        const char *text;
    } cases[] = {
        {"DATETIME DEFAULT '2020-01-02'", "2020-01-02 00:00:00"},
        {"DATETIME(3) DEFAULT '2020-01-02 03:04:05.5'", "2020-01-02 03:04:05.500"},
        {"DATE DEFAULT '2020-1-2'", "2020-01-02"},
        {"DECIMAL(6,3) DEFAULT 1.5", "1.500"},
        {"DECIMAL(6,3) DEFAULT '-0.25'", "-0.250"},
        {"INT DEFAULT '  7'", "7"},
        {"INT UNSIGNED DEFAULT 0x10", "16"},
        {"BIGINT UNSIGNED DEFAULT 18446744073709551615", "18446744073709551615"},
        {"TINYINT DEFAULT TRUE", "1"},
        {"DOUBLE DEFAULT 2.5", "2.5"},
        {"ENUM('a','b') DEFAULT 'b'", "b"},
        {"YEAR DEFAULT 2024", "2024"},
        {"VARCHAR(5) DEFAULT 'ab'", "ab"},
        {"TIME DEFAULT '1:2:3'", "01:02:03"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char sql[256];
        snprintf(sql, sizeof(sql), "CREATE TABLE t (c %s)", cases[i].decl);
        parsed p;
        sql_cat_table t;
        int rc = build(&p, sql, &t);
        if (rc != 0 || t.cols[0].default_text == NULL ||
            strcmp(t.cols[0].default_text, cases[i].text) != 0) {
            fprintf(stderr, "%s: rc=%d %s default=%s\n", sql, rc, p.err.msg,
                    rc == 0 && t.cols[0].default_text ? t.cols[0].default_text : "(none)");
        }
        assert_int_equal(rc, 0);
        assert_string_equal(t.cols[0].default_text, cases[i].text);
        parsed_fini(&p);
    }
    expect_error("CREATE TABLE t (c DATE DEFAULT '2020-13-01')", 1067);
    expect_error("CREATE TABLE t (c ENUM('a') DEFAULT 'z')", 1067);
    expect_error("CREATE TABLE t (c INT UNSIGNED DEFAULT -1)", 1067);
    expect_error("CREATE TABLE t (c DECIMAL(3,1) DEFAULT 100)", 1067);
    expect_error("CREATE TABLE t (c YEAR DEFAULT 1800)", 1067);
}

static void test_parse_no_backslash_escapes(void **state)
{
    (void)state;
    /* SQL text: DEFAULT 'C:\d' COMMENT 'x\y' (one backslash each) */
    const char *sql = "CREATE TABLE t (a VARCHAR(10) DEFAULT 'C:\\d' COMMENT 'x\\y')";
    for (unsigned mode = 0; mode <= SQL_MODE_NO_BACKSLASH_ESCAPES;
         mode += SQL_MODE_NO_BACKSLASH_ESCAPES) {
        sql_tokens toks;
        sql_tokens_init(&toks);
        cm_arena a;
        cm_arena_init(&a, 0);
        cm_err err;
        sql_ddl_stmt st;
        sql_cat_table t;
        assert_int_equal(sql_lex(sql, strlen(sql), mode, &toks, &err), 0);
        assert_int_equal(sql_ddl_parse_mode(sql, toks.v, toks.n, mode, &a, &st, &err), 0);
        assert_int_equal(sql_ddl_build_table(&st, &a, test_id, NULL, &t, &err), 0);
        /* an unknown escape drops its backslash (MySQL); without escapes it is a character */
        assert_string_equal(t.cols[0].default_text, mode ? "C:\\d" : "C:d");
        assert_string_equal(t.cols[0].comment, mode ? "x\\y" : "xy");
        sql_tokens_fini(&toks);
        cm_arena_fini(&a);
    }
}

static void test_build_errors(void **state)
{
    (void)state;
    expect_error("CREATE TABLE t (a INT PRIMARY KEY, b INT PRIMARY KEY)", 1068);
    expect_error("CREATE TABLE t (a INT PRIMARY KEY, b INT, PRIMARY KEY (b))", 1068);
    expect_error("CREATE TABLE t (a INT AUTO_INCREMENT)", 1075);
    expect_error("CREATE TABLE t (a INT AUTO_INCREMENT, b INT, KEY (b, a))", 1075);
    expect_error("CREATE TABLE t (a INT AUTO_INCREMENT KEY, b INT AUTO_INCREMENT UNIQUE)", 1075);
    expect_error("CREATE TABLE t (a VARCHAR(10) AUTO_INCREMENT PRIMARY KEY)", 1063);
    expect_error("CREATE TABLE t (a INT DEFAULT 'abc')", 1067);
    expect_error("CREATE TABLE t (a TINYINT DEFAULT 300)", 1067);
    expect_error("CREATE TABLE t (a CHAR(2) DEFAULT 'abc')", 1067);
    expect_error("CREATE TABLE t (a INT NOT NULL DEFAULT NULL)", 1067);
    expect_error("CREATE TABLE t (a INT DEFAULT NULL PRIMARY KEY)", 1067);
    expect_error("CREATE TABLE t (a INT DEFAULT CURRENT_TIMESTAMP)", 1067);
    expect_error("CREATE TABLE t (a DATETIME(3) DEFAULT CURRENT_TIMESTAMP)", 1067);
    expect_error("CREATE TABLE t (a INT ON UPDATE CURRENT_TIMESTAMP)", 1067);
    expect_error("CREATE TABLE t (a INT AUTO_INCREMENT DEFAULT 1 PRIMARY KEY)", 1067);
    expect_error("CREATE TABLE t (a TEXT DEFAULT 'x')", 1101);
    expect_error("CREATE TABLE t (a JSON DEFAULT '{}')", 1101);
    expect_error("CREATE TABLE t (a INT, A INT)", 1060);
    expect_error("CREATE TABLE t (a INT, b INT, KEY k (a), KEY K (b))", 1061);
    expect_error("CREATE TABLE t (a INT, KEY (nosuch))", 1072);
    expect_error("CREATE TABLE t (a INT, KEY (a, a))", 1060);
    expect_error("CREATE TABLE t (a INT, KEY PRIMARY (a))", 1280);
    expect_error("CREATE TABLE t (a TEXT, KEY (a))", 1170);
    expect_error("CREATE TABLE t (a INT, KEY (a(4)))", 1089);
    expect_error("CREATE TABLE t (a VARCHAR(4), KEY (a(5)))", 1089);
    expect_error("CREATE TABLE t (a JSON, KEY (a))", 3152);
    expect_error("CREATE TABLE t (a INT NULL PRIMARY KEY)", 1171);
    expect_error("CREATE TABLE t (a INT NULL, PRIMARY KEY (a))", 1171);
    expect_error("CREATE TABLE t (a INT, FOREIGN KEY (a) REFERENCES u (b))", 1235);
    expect_error("CREATE TABLE t (a INT REFERENCES u (b))", 1235);
    expect_error("CREATE TABLE t (a INT, CHECK (a > 0))", 1235);
    expect_error("CREATE TABLE t (a INT, b INT AS (a + 1))", 1235);
    expect_error("CREATE TABLE t (a INT DEFAULT (1 + 1))", 1235);
    expect_error("CREATE TABLE t (a INT, KEY ((a + 1)))", 1235);
    expect_error("CREATE TABLE t (a INT) ENGINE", 1064);
    expect_error("CREATE TABLE t (a INT) NOSUCHOPTION=1", 1064);
    expect_error("CREATE TABLE t (a INT,)", 1064);
    expect_error("CREATE TABLE t (a NOSUCHTYPE)", 1064);
    expect_error("CREATE TABLE t (a INT NOT)", 1064);
    expect_error("CREATE TABLE t (a INT) DEFAULT CHARSET=klingon", 1115);
    expect_error("CREATE TABLE `t ` (a INT)", 1103);
    expect_error("CREATE TABLE t (`a ` INT)", 1166);
    expect_error("CREATE TABLE "
                 "t12345678901234567890123456789012345678901234567890123456789012345 (a INT)",
                 1059);
    expect_error("CREATE TABLE t "
                 "(c12345678901234567890123456789012345678901234567890123456789012345 INT)",
                 1059);
    /* comments: 2048 characters for a table, 1024 for columns and indexes */
    cm_buf b = CM_BUF_INIT;
    for (int k = 0; k < 3; k++) {
        int max = k == 0 ? 2048 : 1024;
        for (int extra = 0; extra < 2; extra++) {
            cm_buf_reset(&b);
            cm_buf_printf(&b, k == 0   ? "CREATE TABLE t (a INT) COMMENT '"
                              : k == 1 ? "CREATE TABLE t (a INT COMMENT '"
                                       : "CREATE TABLE t (a INT, KEY (a) COMMENT '");
            for (int i = 0; i < max + extra; i++) {
                cm_buf_printf(&b, "\xc3\xa9"); /* two bytes, one character */
            }
            cm_buf_printf(&b, k == 0 ? "'" : "')");
            cm_buf_terminate(&b);
            if (extra) {
                expect_error((const char *)b.ptr, k == 0 ? 1628 : k == 1 ? 1629 : 1688);
            } else {
                parsed q;
                sql_cat_table u;
                assert_int_equal(build(&q, (const char *)b.ptr, &u), 0);
                parsed_fini(&q);
            }
        }
    }
    cm_buf_fini(&b);
    /* 64 chars is fine */
    parsed p;
    sql_cat_table t;
    assert_int_equal(
        build(&p,
              "CREATE TABLE t1234567890123456789012345678901234567890123456789012345678901 (a INT)",
              &t),
        0);
    parsed_fini(&p);
}

static void test_build_limits(void **state)
{
    (void)state;
    cm_buf b = CM_BUF_INIT;
    /* 65 keys (64 + the clustered PK) */
    cm_buf_printf(&b, "CREATE TABLE t (id INT PRIMARY KEY, a INT");
    for (int i = 0; i < 64; i++) {
        cm_buf_printf(&b, ", KEY (a)");
    }
    cm_buf_printf(&b, ")");
    cm_buf_terminate(&b);
    expect_error((const char *)b.ptr, 1069);
    /* 64 is fine */
    cm_buf_reset(&b);
    cm_buf_printf(&b, "CREATE TABLE t (id INT PRIMARY KEY, a INT");
    for (int i = 0; i < 63; i++) {
        cm_buf_printf(&b, ", KEY (a)");
    }
    cm_buf_printf(&b, ")");
    cm_buf_terminate(&b);
    parsed p;
    sql_cat_table t;
    assert_int_equal(build(&p, (const char *)b.ptr, &t), 0);
    assert_int_equal(t.nindexes, 63);
    assert_string_equal(t.indexes[62].name, "a_63");
    parsed_fini(&p);
    /* 17 key parts */
    cm_buf_reset(&b);
    cm_buf_printf(&b, "CREATE TABLE t (");
    for (int i = 0; i < 17; i++) {
        cm_buf_printf(&b, "c%d INT, ", i);
    }
    cm_buf_printf(&b, "KEY (c0");
    for (int i = 1; i < 17; i++) {
        cm_buf_printf(&b, ", c%d", i);
    }
    cm_buf_printf(&b, "))");
    cm_buf_terminate(&b);
    expect_error((const char *)b.ptr, 1070);
    /* 4097 columns; 4096 build */
    for (int n = 4096; n <= 4097; n++) {
        cm_buf_reset(&b);
        cm_buf_printf(&b, "CREATE TABLE t (c0 INT");
        for (int i = 1; i < n; i++) {
            cm_buf_printf(&b, ", c%d INT", i);
        }
        cm_buf_printf(&b, ")");
        cm_buf_terminate(&b);
        if (n == 4097) {
            expect_error((const char *)b.ptr, 1117);
        } else {
            assert_int_equal(build(&p, (const char *)b.ptr, &t), 0);
            assert_int_equal(t.ncols, 4096);
            cm_buf enc = CM_BUF_INIT;
            assert_int_equal(sql_cat_encode_table(&t, &enc), 0);
            cm_arena a;
            cm_arena_init(&a, 0);
            sql_cat_table d;
            cm_err err;
            assert_int_equal(sql_cat_decode_table(cm_buf_slice(&enc), &a, &d, &err), 0);
            assert_int_equal(d.ncols, 4096);
            assert_string_equal(d.cols[4095].name, "c4095");
            cm_arena_fini(&a);
            cm_buf_fini(&enc);
            parsed_fini(&p);
        }
    }
    cm_buf_fini(&b);
}

static void test_add_index(void **state)
{
    (void)state;
    parsed p, q;
    sql_cat_table t, u;
    assert_int_equal(build(&p,
                           "CREATE TABLE t (id INT PRIMARY KEY, a INT, b VARCHAR(10) NULL, "
                           "KEY a (a))",
                           &t),
                     0);
    parse(&q, "ALTER TABLE t ADD UNIQUE (a)");
    assert_int_equal(q.rc, 0);
    assert_int_equal(sql_ddl_add_index(&t, &q.st.ops[0].ix, &q.a, test_id, NULL, &u, &q.err), 0);
    assert_int_equal(u.nindexes, 2);
    assert_string_equal(u.indexes[0].name, "a_2"); /* unique sorts first */
    assert_true(u.indexes[0].unique);
    assert_int_equal(t.nindexes, 1); /* the original is untouched */
    parsed_fini(&q);

    parse(&q, "CREATE INDEX a ON t (b)");
    assert_int_equal(sql_ddl_add_index(&t, &q.st.ops[0].ix, &q.a, test_id, NULL, &u, &q.err),
                     CM_E_DUP_KEYNAME);
    parsed_fini(&q);
    parse(&q, "ALTER TABLE t ADD PRIMARY KEY (a)");
    assert_int_equal(sql_ddl_add_index(&t, &q.st.ops[0].ix, &q.a, test_id, NULL, &u, &q.err),
                     CM_E_MULTIPLE_PRI_KEY);
    parsed_fini(&q);
    parse(&q, "ALTER TABLE t ADD KEY (zz)");
    assert_int_equal(sql_ddl_add_index(&t, &q.st.ops[0].ix, &q.a, test_id, NULL, &u, &q.err),
                     CM_E_KEY_COLUMN_MISSING);
    parsed_fini(&q);
    parsed_fini(&p);

    /* ADD PRIMARY KEY on a table with a hidden handle: a unique index PRIMARY (NOT NULL only) */
    assert_int_equal(build(&p, "CREATE TABLE t (a INT NOT NULL, b INT)", &t), 0);
    parse(&q, "ALTER TABLE t ADD PRIMARY KEY (b)");
    assert_int_equal(sql_ddl_add_index(&t, &q.st.ops[0].ix, &q.a, test_id, NULL, &u, &q.err),
                     CM_E_PRIMARY_CANT_HAVE_NULL);
    parsed_fini(&q);
    parse(&q, "ALTER TABLE t ADD PRIMARY KEY (a)");
    assert_int_equal(sql_ddl_add_index(&t, &q.st.ops[0].ix, &q.a, test_id, NULL, &u, &q.err), 0);
    assert_string_equal(u.indexes[0].name, "PRIMARY");
    assert_true(u.indexes[0].primary);
    parsed_fini(&q);
    parsed_fini(&p);
}

/* ---- encoding -------------------------------------------------------------------------------- */

static void assert_tables_equal(const sql_cat_table *a, const sql_cat_table *b)
{
    assert_int_equal(a->id, b->id);
    assert_int_equal(a->db_id, b->db_id);
    assert_string_equal(a->name, b->name);
    assert_int_equal(a->ncols, b->ncols);
    assert_int_equal(a->nindexes, b->nindexes);
    assert_int_equal(a->handle_col, b->handle_col);
    assert_int_equal(a->autoinc_col, b->autoinc_col);
    assert_int_equal(a->autoinc_start, b->autoinc_start);
    assert_int_equal(a->next_col_id, b->next_col_id);
    assert_int_equal(a->version, b->version);
    assert_int_equal(a->state, b->state);
    for (uint32_t i = 0; i < a->ncols; i++) {
        const sql_cat_col *x = &a->cols[i], *y = &b->cols[i];
        assert_int_equal(x->id, y->id);
        assert_int_equal(x->offset, y->offset);
        assert_string_equal(x->name, y->name);
        assert_int_equal(x->not_null, y->not_null);
        assert_int_equal(x->auto_inc, y->auto_inc);
        assert_int_equal(x->has_default, y->has_default);
        assert_int_equal(x->default_null, y->default_null);
        assert_int_equal(x->default_now, y->default_now);
        assert_int_equal(x->on_update_now, y->on_update_now);
        assert_true((x->default_text == NULL) == (y->default_text == NULL));
        if (x->default_text) {
            assert_string_equal(x->default_text, y->default_text);
        }
        assert_int_equal(x->type.mysql_type, y->type.mysql_type);
        assert_int_equal(x->type.dtype, y->type.dtype);
        assert_int_equal(x->type.length, y->type.length);
        assert_int_equal(x->type.nmembers, y->type.nmembers);
        for (uint16_t m = 0; m < x->type.nmembers; m++) {
            assert_string_equal(x->type.members[m], y->type.members[m]);
        }
    }
    for (uint32_t i = 0; i < a->nindexes; i++) {
        const sql_cat_index *x = &a->indexes[i], *y = &b->indexes[i];
        assert_int_equal(x->id, y->id);
        assert_string_equal(x->name, y->name);
        assert_int_equal(x->unique, y->unique);
        assert_int_equal(x->primary, y->primary);
        assert_int_equal(x->ncols, y->ncols);
        assert_memory_equal(x->cols, y->cols, sizeof(uint32_t) * x->ncols);
        assert_memory_equal(x->prefix_len, y->prefix_len, sizeof(uint32_t) * x->ncols);
        assert_int_equal(x->state, y->state);
    }
}

static const char *const sample_tables[] = {
    "CREATE TABLE sbtest1( id INTEGER NOT NULL AUTO_INCREMENT, k INTEGER DEFAULT '0' NOT NULL, c "
    "CHAR(120) DEFAULT '' NOT NULL, pad CHAR(60) DEFAULT '' NOT NULL, PRIMARY KEY (id) )",
    "CREATE TABLE t (name VARCHAR(20) COMMENT 'n', e ENUM('a','b','c') NOT NULL, j JSON, "
    "d DECIMAL(10,2) DEFAULT '1.50', ts DATETIME(6) DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE "
    "CURRENT_TIMESTAMP(6), PRIMARY KEY (name, e), UNIQUE KEY u (d), KEY (name(4), ts)) "
    "COMMENT 'x' AUTO_INCREMENT = 7",
};

static void test_encoding_roundtrip(void **state)
{
    (void)state;
    for (size_t s = 0; s < sizeof(sample_tables) / sizeof(sample_tables[0]); s++) {
        parsed p;
        sql_cat_table t;
        assert_int_equal(build(&p, sample_tables[s], &t), 0);
        t.id = 1000 + (int64_t)s;
        t.db_id = 2;
        t.version = 77;
        if (t.nindexes > 0) {
            t.indexes[0].state = SQL_OBJ_WRITE_REORG;
        }
        cm_buf enc = CM_BUF_INIT, enc2 = CM_BUF_INIT;
        assert_int_equal(sql_cat_encode_table(&t, &enc), 0);
        cm_arena a;
        cm_arena_init(&a, 0);
        sql_cat_table d;
        cm_err err;
        assert_int_equal(sql_cat_decode_table(cm_buf_slice(&enc), &a, &d, &err), 0);
        assert_tables_equal(&t, &d);
        assert_int_equal(sql_cat_encode_table(&d, &enc2), 0);
        assert_int_equal(enc.len, enc2.len);
        assert_memory_equal(enc.ptr, enc2.ptr, enc.len);
        /* a copy encodes the same */
        sql_cat_table c;
        assert_int_equal(sql_cat_table_copy(&d, &a, &c, &err), 0);
        cm_buf_reset(&enc2);
        assert_int_equal(sql_cat_encode_table(&c, &enc2), 0);
        assert_memory_equal(enc.ptr, enc2.ptr, enc.len);
        /* every truncation is refused */
        for (size_t n = 0; n < enc.len; n++) {
            assert_int_equal(sql_cat_decode_table(cm_slice_make(enc.ptr, n), &a, &d, &err),
                             CM_E_CORRUPT);
        }
        /* trailing bytes are refused */
        cm_buf_append_u8(&enc2, 0);
        assert_int_equal(sql_cat_decode_table(cm_buf_slice(&enc2), &a, &d, &err), CM_E_CORRUPT);
        /* random corruption: an error or a definition that re-encodes, never a crash */
        srand(42 + (unsigned)s);
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
                cm_buf_fini(&e3);
            }
        }
        cm_arena_fini(&a);
        cm_buf_fini(&enc);
        cm_buf_fini(&enc2);
        parsed_fini(&p);
    }
}

static void test_encoding_db(void **state)
{
    (void)state;
    sql_cat_db d = {12345, (char *)"Shop", (char *)"utf8mb4", NULL, SQL_OBJ_PUBLIC};
    cm_buf enc = CM_BUF_INIT;
    assert_int_equal(sql_cat_encode_db(&d, &enc), 0);
    /* format 1, id varint, state, "Shop", "utf8mb4", NULL */
    static const uint8_t want[] = {0x01, 0xb9, 0x60, 0x05, 0x05, 'S', 'h', 'o', 'p',
                                   0x08, 'u',  't',  'f',  '8',  'm', 'b', '4', 0x00};
    assert_int_equal(enc.len, sizeof(want));
    assert_memory_equal(enc.ptr, want, sizeof(want));
    cm_arena a;
    cm_arena_init(&a, 0);
    sql_cat_db o;
    cm_err err;
    assert_int_equal(sql_cat_decode_db(cm_buf_slice(&enc), &a, &o, &err), 0);
    assert_int_equal(o.id, 12345);
    assert_string_equal(o.name, "Shop");
    assert_string_equal(o.charset, "utf8mb4");
    assert_null(o.collation);
    for (size_t n = 0; n < enc.len; n++) {
        assert_int_equal(sql_cat_decode_db(cm_slice_make(enc.ptr, n), &a, &o, &err), CM_E_CORRUPT);
    }
    enc.ptr[0] = 2; /* a future format is not guessed at */
    assert_int_equal(sql_cat_decode_db(cm_buf_slice(&enc), &a, &o, &err), CM_E_CORRUPT);
    enc.ptr[0] = 1;
    enc.ptr[3] = 9; /* state out of range */
    assert_int_equal(sql_cat_decode_db(cm_buf_slice(&enc), &a, &o, &err), CM_E_CORRUPT);
    cm_arena_fini(&a);
    cm_buf_fini(&enc);
}

static void test_meta_keys(void **state)
{
    (void)state;
    cm_buf k = CM_BUF_INIT;
    assert_int_equal(sql_cat_key_table(&k, 1, 5), 0);
    /* docs/codec.md's example: hash DB:1 field Table:5 */
    static const uint8_t want[] = {0x6d, 0x44, 0x42, 0x3a, 0x31, 0,    0,    0,    0, 0xfb,
                                   0x68, 0x54, 0x61, 0x62, 0x6c, 0x65, 0x3a, 0x35, 0, 0xfe};
    assert_int_equal(k.len, sizeof(want));
    assert_memory_equal(k.ptr, want, sizeof(want));
    /* the table key lies in the database's range; the allocator key too */
    cm_buf s = CM_BUF_INIT, e = CM_BUF_INIT, ak = CM_BUF_INIT;
    assert_int_equal(sql_cat_key_db_range(1, &s, &e), 0);
    assert_int_equal(sql_cat_key_autoid(&ak, 1, 5), 0);
    assert_true(cm_slice_cmp(cm_buf_slice(&k), cm_buf_slice(&s)) >= 0);
    assert_true(cm_slice_cmp(cm_buf_slice(&k), cm_buf_slice(&e)) < 0);
    assert_true(cm_slice_cmp(cm_buf_slice(&ak), cm_buf_slice(&s)) >= 0);
    assert_true(cm_slice_cmp(cm_buf_slice(&ak), cm_buf_slice(&e)) < 0);
    /* DB:10's keys are outside DB:1's range */
    cm_buf k10 = CM_BUF_INIT;
    assert_int_equal(sql_cat_key_table(&k10, 10, 5), 0);
    assert_false(cm_slice_cmp(cm_buf_slice(&k10), cm_buf_slice(&s)) >= 0 &&
                 cm_slice_cmp(cm_buf_slice(&k10), cm_buf_slice(&e)) < 0);
    cm_buf_fini(&k);
    cm_buf_fini(&s);
    cm_buf_fini(&e);
    cm_buf_fini(&ak);
    cm_buf_fini(&k10);
}

/* ---- snapshots ------------------------------------------------------------------------------- */

static sql_schema *sample_schema(void)
{
    cm_arena a;
    cm_arena_init(&a, 0);
    sql_cat_db *dbs = cm_arena_alloc(&a, sizeof(sql_cat_db) * 3);
    dbs[0] = (sql_cat_db){10, cm_arena_strndup(&a, "test", 4), NULL, NULL, SQL_OBJ_PUBLIC};
    dbs[1] = (sql_cat_db){11, cm_arena_strndup(&a, "Alpha", 5), NULL, NULL, SQL_OBJ_PUBLIC};
    dbs[2] = (sql_cat_db){12, cm_arena_strndup(&a, "hidden", 6), NULL, NULL, SQL_OBJ_DELETE_ONLY};
    const char *names[] = {"zeta", "Beta", "alpha", "gamma"};
    int64_t dbids[] = {10, 10, 11, 12};
    sql_cat_table **ts = cm_arena_alloc(&a, sizeof(sql_cat_table *) * 4);
    for (int i = 0; i < 4; i++) {
        parsed p;
        sql_cat_table t;
        char sql[128];
        snprintf(sql, sizeof(sql), "CREATE TABLE %s (id INT PRIMARY KEY, v VARCHAR(5), KEY (v))",
                 names[i]);
        assert_int_equal(build(&p, sql, &t), 0);
        ts[i] = cm_arena_alloc(&a, sizeof(sql_cat_table));
        cm_err err;
        assert_int_equal(sql_cat_table_copy(&t, &a, ts[i], &err), 0);
        ts[i]->id = 100 - i;
        ts[i]->db_id = dbids[i];
        parsed_fini(&p);
    }
    sql_schema *s = NULL;
    cm_err err;
    assert_int_equal(sql_schema_build(9, &a, dbs, 3, ts, 4, &s, &err), 0);
    cm_arena_fini(&a); /* moved into the snapshot: now empty */
    return s;
}

static void test_schema_lookups(void **state)
{
    (void)state;
    sql_schema *s = sample_schema();
    assert_int_equal(sql_schema_version(s), 9);
    assert_int_equal(sql_schema_ndbs(s), 2); /* the non-public database is not listed */
    assert_string_equal(sql_schema_db_at(s, 0)->name, "Alpha");
    assert_string_equal(sql_schema_db_at(s, 1)->name, "test");
    assert_null(sql_schema_db_at(s, 2));
    assert_non_null(sql_schema_db(s, "TEST"));
    assert_null(sql_schema_db(s, "hidden"));
    assert_null(sql_schema_db(s, NULL));
    const sql_cat_db *test = sql_schema_db(s, "test");
    assert_int_equal(sql_schema_ntables(s, test), 2);
    assert_string_equal(sql_schema_table_at(s, test, 0)->name, "Beta");
    assert_string_equal(sql_schema_table_at(s, test, 1)->name, "zeta");
    assert_null(sql_schema_table_at(s, test, 2));
    assert_int_equal(sql_schema_table(s, "TeSt", "BETA")->id, 99);
    assert_null(sql_schema_table(s, "test", "alpha")); /* it lives in Alpha */
    assert_non_null(sql_schema_table(s, "alpha", "alpha"));
    assert_null(sql_schema_table(s, "hidden", "gamma"));
    assert_int_equal(sql_schema_table_by_id(s, 100)->id, 100);
    assert_null(sql_schema_table_by_id(s, 97)); /* in the non-public database */
    const sql_cat_table *t = sql_schema_table(s, "test", "zeta");
    assert_non_null(sql_table_col(t, "V"));
    assert_null(sql_table_col(t, "w"));
    assert_non_null(sql_table_index(t, "v"));
    sql_schema_retain(s);
    sql_schema_release(s);
    sql_schema_release(s);
}

/* ---- index entries --------------------------------------------------------------------------- */

static void test_index_entry(void **state)
{
    (void)state;
    parsed p;
    sql_cat_table t;
    assert_int_equal(build(&p,
                           "CREATE TABLE t (id INT PRIMARY KEY, a INT, s VARCHAR(20), "
                           "UNIQUE KEY u (a), KEY k (s(3)))",
                           &t),
                     0);
    t.id = 7;
    const sql_cat_index *u = sql_table_index(&t, "u"), *k = sql_table_index(&t, "k");
    cm_buf key = CM_BUF_INIT, val = CM_BUF_INIT, want = CM_BUF_INIT;
    cm_err err;
    bool hik;
    cm_datum v = {.type = CM_DT_INT64, .v.i64 = 5};
    /* unique, no NULL: the handle is the value (8-byte int64 body) */
    assert_int_equal(sql_cat_index_entry(&t, u, &v, -3, &key, &val, &hik, &err), 0);
    assert_false(hik);
    cm_keys_append_index(&want, 7, u->id, &v, 1, true, -3, NULL, &err);
    assert_int_equal(key.len, want.len);
    assert_memory_equal(key.ptr, want.ptr, key.len);
    assert_int_equal(val.len, 8);
    static const uint8_t h[] = {0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfd};
    assert_memory_equal(val.ptr, h, 8);
    /* unique with a NULL: laid out as non-unique */
    cm_datum nul = {.type = CM_DT_NULL};
    cm_buf_reset(&key);
    cm_buf_reset(&val);
    assert_int_equal(sql_cat_index_entry(&t, u, &nul, 4, &key, &val, &hik, &err), 0);
    assert_true(hik);
    assert_int_equal(val.len, 1);
    assert_int_equal(val.ptr[0], 0);
    /* a prefix of 3 characters (UTF-8 aware) */
    cm_datum sv = {.type = CM_DT_STRING};
    sv.v.bytes = cm_slice_make("h\xc3\xa9llo", 6);
    cm_buf_reset(&key);
    cm_buf_reset(&val);
    assert_int_equal(sql_cat_index_entry(&t, k, &sv, 9, &key, &val, &hik, &err), 0);
    assert_true(hik);
    cm_datum sp = {.type = CM_DT_STRING};
    sp.v.bytes = cm_slice_make("h\xc3\xa9l", 4);
    cm_buf_reset(&want);
    cm_keys_append_index(&want, 7, k->id, &sp, 1, false, 9, NULL, &err);
    assert_int_equal(key.len, want.len);
    assert_memory_equal(key.ptr, want.ptr, key.len);
    cm_buf_fini(&key);
    cm_buf_fini(&val);
    cm_buf_fini(&want);
    parsed_fini(&p);
}

/* ---- SHOW --------------------------------------------------------------------------------------
 */

typedef struct cap_sink {
    sql_sink sink;
    char cols[20][64];
    int ncols;
    cm_buf out; /* rows: cells joined by '|', rows by '\n' */
    int nrows;
} cap_sink;

static int cap_columns(sql_sink *s, const sql_column *cols, int n)
{
    cap_sink *c = (cap_sink *)s;
    c->ncols = n;
    for (int i = 0; i < n && i < 20; i++) {
        snprintf(c->cols[i], sizeof(c->cols[i]), "%.*s", (int)cols[i].name_len, cols[i].name);
    }
    return 0;
}

static int cap_row(sql_sink *s, const sql_value *v, int n)
{
    cap_sink *c = (cap_sink *)s;
    for (int i = 0; i < n; i++) {
        if (i > 0) {
            cm_buf_printf(&c->out, "|");
        }
        if (v[i].type == SQL_V_NULL) {
            cm_buf_printf(&c->out, "NULL");
        } else if (v[i].type == SQL_V_INT) {
            cm_buf_printf(&c->out, "%lld", (long long)v[i].i);
        } else {
            cm_buf_append(&c->out, v[i].s, v[i].n);
        }
    }
    cm_buf_printf(&c->out, "\n");
    cm_buf_terminate(&c->out);
    c->nrows++;
    return 0;
}

static int show(const sql_schema *s, const char *curdb, const char *sql, cap_sink *c)
{
    memset(c, 0, sizeof(*c));
    c->sink.columns = cap_columns;
    c->sink.row = cap_row;
    sql_tokens toks;
    sql_tokens_init(&toks);
    cm_err err;
    assert_int_equal(sql_lex(sql, strlen(sql), 0, &toks, &err), 0);
    assert_true(sql_cat_is_show(sql, toks.v, toks.n));
    int rc = sql_cat_show(NULL, s, curdb, sql, toks.v, toks.n, &c->sink, &err);
    sql_tokens_fini(&toks);
    cm_buf_terminate(&c->out);
    return rc;
}

static sql_schema *sysbench_schema(void)
{
    cm_arena a;
    cm_arena_init(&a, 0);
    sql_cat_db *dbs = cm_arena_alloc(&a, sizeof(sql_cat_db));
    dbs[0] = (sql_cat_db){10, cm_arena_strndup(&a, "sbtest", 6), NULL, NULL, SQL_OBJ_PUBLIC};
    sql_cat_table **ts = cm_arena_alloc(&a, sizeof(sql_cat_table *) * 2);
    const char *sqls[] = {sysbench_create, sample_tables[1]};
    for (int i = 0; i < 2; i++) {
        parsed p;
        sql_cat_table t;
        assert_int_equal(build(&p, sqls[i], &t), 0);
        ts[i] = cm_arena_alloc(&a, sizeof(sql_cat_table));
        cm_err err;
        assert_int_equal(sql_cat_table_copy(&t, &a, ts[i], &err), 0);
        ts[i]->id = 50 + i;
        ts[i]->db_id = 10;
        parsed_fini(&p);
    }
    /* sysbench adds k_1 afterwards */
    parsed q;
    parse(&q, "CREATE INDEX k_1 ON sbtest1(k)");
    sql_cat_table *u = cm_arena_alloc(&a, sizeof(sql_cat_table));
    cm_err err;
    assert_int_equal(sql_ddl_add_index(ts[0], &q.st.ops[0].ix, &a, test_id, NULL, u, &err), 0);
    ts[0] = u;
    parsed_fini(&q);
    sql_schema *s = NULL;
    assert_int_equal(sql_schema_build(3, &a, dbs, 1, ts, 2, &s, &err), 0);
    cm_arena_fini(&a);
    return s;
}

static void test_show_create_table(void **state)
{
    (void)state;
    sql_schema *s = sysbench_schema();
    cap_sink c;
    assert_int_equal(show(s, "sbtest", "SHOW CREATE TABLE sbtest1", &c), 0);
    assert_int_equal(c.ncols, 2);
    assert_string_equal(c.cols[1], "Create Table");
    assert_string_equal((const char *)c.out.ptr,
                        "sbtest1|CREATE TABLE `sbtest1` (\n"
                        "  `id` int NOT NULL AUTO_INCREMENT,\n"
                        "  `k` int NOT NULL DEFAULT '0',\n"
                        "  `c` char(120) NOT NULL DEFAULT '',\n"
                        "  `pad` char(60) NOT NULL DEFAULT '',\n"
                        "  PRIMARY KEY (`id`),\n"
                        "  KEY `k_1` (`k`)\n"
                        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin\n");
    cm_buf_fini(&c.out);
    assert_int_equal(show(s, NULL, "SHOW CREATE TABLE sbtest.t", &c), 0);
    assert_string_equal((const char *)c.out.ptr,
                        "t|CREATE TABLE `t` (\n"
                        "  `name` varchar(20) NOT NULL COMMENT 'n',\n"
                        "  `e` enum('a','b','c') NOT NULL,\n"
                        "  `j` json DEFAULT NULL,\n"
                        "  `d` decimal(10,2) DEFAULT '1.50',\n"
                        "  `ts` datetime(6) DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE "
                        "CURRENT_TIMESTAMP(6),\n"
                        "  PRIMARY KEY (`name`,`e`),\n"
                        "  UNIQUE KEY `u` (`d`),\n"
                        "  KEY `name` (`name`(4),`ts`)\n"
                        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin "
                        "COMMENT='x'\n");
    cm_buf_fini(&c.out);
    cm_err err;
    sql_tokens toks;
    sql_tokens_init(&toks);
    const char *q = "SHOW CREATE TABLE nosuch";
    sql_lex(q, strlen(q), 0, &toks, &err);
    assert_int_equal(sql_cat_show(NULL, s, "sbtest", q, toks.v, toks.n, &c.sink, &err),
                     CM_E_NO_SUCH_TABLE);
    assert_int_equal(sql_cat_show(NULL, s, NULL, q, toks.v, toks.n, &c.sink, &err), CM_E_NO_DB);
    sql_tokens_fini(&toks);
    sql_schema_release(s);
}

static void test_show_lists(void **state)
{
    (void)state;
    sql_schema *s = sysbench_schema();
    cap_sink c;
    assert_int_equal(show(s, NULL, "SHOW DATABASES", &c), 0);
    assert_string_equal(c.cols[0], "Database");
    assert_string_equal((const char *)c.out.ptr, "sbtest\n");
    cm_buf_fini(&c.out);
    assert_int_equal(show(s, "sbtest", "SHOW TABLES", &c), 0);
    assert_string_equal(c.cols[0], "Tables_in_sbtest");
    assert_string_equal((const char *)c.out.ptr, "sbtest1\nt\n");
    cm_buf_fini(&c.out);
    assert_int_equal(show(s, NULL, "SHOW FULL TABLES FROM sbtest LIKE 'SB%'", &c), 0);
    assert_string_equal(c.cols[0], "Tables_in_sbtest (SB%)");
    assert_string_equal(c.cols[1], "Table_type");
    assert_string_equal((const char *)c.out.ptr, "sbtest1|BASE TABLE\n");
    cm_buf_fini(&c.out);
    assert_int_equal(show(s, "sbtest", "SHOW TABLES WHERE Tables_in_sbtest = 't'", &c), 0);
    assert_string_equal((const char *)c.out.ptr, "t\n");
    cm_buf_fini(&c.out);
    assert_int_equal(show(s, "sbtest", "SHOW COLUMNS FROM sbtest1", &c), 0);
    assert_int_equal(c.ncols, 6);
    assert_string_equal((const char *)c.out.ptr, "id|int|NO|PRI|NULL|auto_increment\n"
                                                 "k|int|NO|MUL|0|\n"
                                                 "c|char(120)|NO|||\n"
                                                 "pad|char(60)|NO|||\n");
    cm_buf_fini(&c.out);
    assert_int_equal(show(s, "sbtest", "SHOW FULL FIELDS FROM t LIKE 't_'", &c), 0);
    assert_int_equal(c.ncols, 9);
    assert_string_equal((const char *)c.out.ptr,
                        "ts|datetime(6)|NULL|YES||CURRENT_TIMESTAMP(6)|DEFAULT_GENERATED on update "
                        "CURRENT_TIMESTAMP(6)|select,insert,update,references|\n");
    cm_buf_fini(&c.out);
    assert_int_equal(show(s, "sbtest", "SHOW INDEX FROM t", &c), 0);
    assert_int_equal(c.ncols, 15);
    assert_string_equal(c.cols[2], "Key_name");
    assert_string_equal((const char *)c.out.ptr,
                        "t|0|PRIMARY|1|name|A|0|NULL|NULL||BTREE|||YES|NULL\n"
                        "t|0|PRIMARY|2|e|A|0|NULL|NULL||BTREE|||YES|NULL\n"
                        "t|0|u|1|d|A|0|NULL|NULL|YES|BTREE|||YES|NULL\n"
                        "t|1|name|1|name|A|0|4|NULL||BTREE|||YES|NULL\n"
                        "t|1|name|2|ts|A|0|NULL|NULL|YES|BTREE|||YES|NULL\n");
    cm_buf_fini(&c.out);
    assert_int_equal(show(s, "sbtest", "SHOW KEYS IN sbtest1 WHERE Key_name = 'PRIMARY'", &c), 0);
    assert_int_equal(c.nrows, 1);
    cm_buf_fini(&c.out);
    assert_int_equal(show(s, "sbtest", "SHOW CREATE DATABASE sbtest", &c), 0);
    assert_string_equal((const char *)c.out.ptr,
                        "sbtest|CREATE DATABASE `sbtest` /*!40100 DEFAULT CHARACTER SET utf8mb4 "
                        "COLLATE utf8mb4_bin */ /*!80016 DEFAULT ENCRYPTION='N' */\n");
    cm_buf_fini(&c.out);
    assert_int_equal(show(s, "sbtest", "SHOW TABLE STATUS LIKE 'sbtest%'", &c), 0);
    assert_int_equal(c.ncols, 18);
    assert_int_equal(c.nrows, 1);
    cm_buf_fini(&c.out);
    /* DESCRIBE */
    memset(&c, 0, sizeof(c));
    c.sink.columns = cap_columns;
    c.sink.row = cap_row;
    cm_err err;
    assert_int_equal(sql_cat_describe(NULL, s, "sbtest", "SBTEST1", &c.sink, &err), 0);
    assert_int_equal(c.nrows, 4);
    cm_buf_fini(&c.out);
    assert_int_equal(sql_cat_describe(NULL, s, "sbtest", "nope", &c.sink, &err),
                     CM_E_NO_SUCH_TABLE);
    /* is_show */
    static const struct {
        const char *sql;
        bool yes;
    } cases[] = {{"SHOW DATABASES", true},        {"SHOW SCHEMAS LIKE 'x'", true},
                 {"SHOW TABLES FROM d", true},    {"SHOW COLUMNS FROM t FROM d", true},
                 {"SHOW INDEXES FROM d.t", true}, {"SHOW CREATE SCHEMA IF NOT EXISTS d", true},
                 {"SHOW VARIABLES", false},       {"SHOW CREATE USER u", false},
                 {"SHOW COLUMNS t", false},       {"SHOW TABLES LIKE", false},
                 {"SHOW PROCESSLIST", false},     {"SHOW TABLE STATUS FROM d", true}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sql_tokens toks;
        sql_tokens_init(&toks);
        assert_int_equal(sql_lex(cases[i].sql, strlen(cases[i].sql), 0, &toks, &err), 0);
        if (sql_cat_is_show(cases[i].sql, toks.v, toks.n) != cases[i].yes) {
            fprintf(stderr, "is_show(%s)\n", cases[i].sql);
        }
        assert_int_equal(sql_cat_is_show(cases[i].sql, toks.v, toks.n), cases[i].yes);
        sql_tokens_fini(&toks);
    }
    sql_schema_release(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_databases),
        cmocka_unit_test(test_parse_other_statements),
        cmocka_unit_test(test_is_ddl),
        cmocka_unit_test(test_build_sysbench),
        cmocka_unit_test(test_build_handle_rule),
        cmocka_unit_test(test_build_index_names),
        cmocka_unit_test(test_build_options),
        cmocka_unit_test(test_build_serial_collate),
        cmocka_unit_test(test_build_default_canonical),
        cmocka_unit_test(test_parse_no_backslash_escapes),
        cmocka_unit_test(test_build_errors),
        cmocka_unit_test(test_build_limits),
        cmocka_unit_test(test_add_index),
        cmocka_unit_test(test_encoding_roundtrip),
        cmocka_unit_test(test_encoding_db),
        cmocka_unit_test(test_meta_keys),
        cmocka_unit_test(test_schema_lookups),
        cmocka_unit_test(test_index_entry),
        cmocka_unit_test(test_show_create_table),
        cmocka_unit_test(test_show_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
