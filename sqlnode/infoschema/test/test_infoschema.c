/* Unit tests for sqlnode/infoschema: names, declarations and result metadata, and the module on
 * a real in-memory SQLite connection without a cluster (no schema snapshot: the tables that come
 * from the catalog hold only information_schema's own rows), with a fake session list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sql_my_const.h"
#include "sql_infoschema.h"

#include <stdio.h>
#include <string.h>

static const sql_schema *no_schema(void *sess)
{
    (void)sess;
    return NULL;
}

static const char *user_cb(void *sess)
{
    (void)sess;
    return "alice";
}

/* Two sessions, as the server's SHOW FULL PROCESSLIST hook sends them. */
static int fake_processlist(void *sess, sql_sink *sink, cm_err *err)
{
    (void)sess;
    (void)err;
    sql_value v[8];
    v[0] = sql_value_int(7);
    v[1] = sql_value_text("root", 4);
    v[2] = sql_value_text("127.0.0.1:5", 11);
    v[3] = sql_value_null();
    v[4] = sql_value_text("Sleep", 5);
    v[5] = sql_value_int(3);
    v[6] = sql_value_text("", 0);
    v[7] = sql_value_null();
    int rc = sink->row(sink, v, 8);
    v[0] = sql_value_int(9);
    v[3] = sql_value_text("shop", 4);
    v[4] = sql_value_text("Query", 5);
    v[7] = sql_value_text("SELECT 1", 8);
    return rc ? rc : sink->row(sink, v, 8);
}

typedef struct fixture {
    sqlite3 *db;
    sql_is_env env;
    cm_err err;
} fixture;

static int setup(void **state)
{
    static fixture f;
    memset(&f, 0, sizeof(f));
    f.env.schema = no_schema;
    f.env.processlist = fake_processlist;
    f.env.user = user_cb;
    f.env.err = &f.err;
    if (sqlite3_open(":memory:", &f.db) != SQLITE_OK) {
        return -1;
    }
    cm_err e;
    if (sql_is_register(f.db, &f.env, &e) != 0) {
        return -1;
    }
    static const char *const tabs[] = {"ENGINES",     "tables",  "Collations", "SCHEMATA",
                                       "PROCESSLIST", "COLUMNS", "ROUTINES"};
    for (size_t i = 0; i < sizeof(tabs) / sizeof(tabs[0]); i++) {
        cm_buf sql = CM_BUF_INIT;
        if (sql_is_declare_sql("main", tabs[i], &sql, &e) != 0 ||
            sqlite3_exec(f.db, (const char *)sql.ptr, NULL, NULL, NULL) != SQLITE_OK) {
            cm_buf_fini(&sql);
            return -1;
        }
        cm_buf_fini(&sql);
    }
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    sqlite3_close(f->db);
    return 0;
}

/* The single value of a one-row, one-column query as text ("" for NULL). */
static void one(sqlite3 *db, const char *sql, char *out, size_t cap)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    const unsigned char *p = sqlite3_column_text(st, 0);
    snprintf(out, cap, "%s", p ? (const char *)p : "");
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
}

static void test_names(void **state)
{
    (void)state;
    assert_true(sql_is_db("information_schema"));
    assert_true(sql_is_db("INFORMATION_SCHEMA"));
    assert_false(sql_is_db("information_schem"));
    assert_false(sql_is_db(NULL));
    assert_true(sql_is_table("key_column_usage"));
    assert_false(sql_is_table("user_privileges_x"));
    assert_true(sql_is_ntables() >= 20);
    for (uint32_t i = 1; i < sql_is_ntables(); i++) { /* SHOW TABLES lists them in order */
        assert_true(strcmp(sql_is_table_name(i - 1), sql_is_table_name(i)) < 0);
    }
    assert_null(sql_is_table_name(sql_is_ntables()));
    cm_buf b = CM_BUF_INIT;
    cm_err e;
    assert_int_equal(sql_is_declare_sql("information_schema", "statistics", &b, &e), 0);
    assert_non_null(strstr((const char *)b.ptr, "\"information_schema\".\"statistics\""));
    assert_non_null(strstr((const char *)b.ptr, "USING infoschema(STATISTICS)"));
    cm_buf_reset(&b);
    assert_int_equal(sql_is_declare_sql("main", "nope", &b, &e), CM_E_UNKNOWN_TABLE);
    assert_int_equal(cm_err_mysql_errno(CM_E_UNKNOWN_TABLE), 1109);
    cm_buf_fini(&b);
}

static void test_column_meta(void **state)
{
    (void)state;
    sql_column c = {"x", 1, 0, 0, 0, 0, 0};
    assert_true(sql_is_column_meta("TABLES", "table_rows", &c));
    assert_int_equal(c.type, SQL_TYPE_LONGLONG);
    assert_true(c.flags & SQL_FLAG_UNSIGNED);
    assert_string_equal(c.name, "x"); /* the result's name is kept */
    assert_true(sql_is_column_meta("tables", "TABLE_NAME", &c));
    assert_int_equal(c.type, SQL_TYPE_VAR_STRING);
    assert_true(sql_is_column_meta("COLUMNS", "ORDINAL_POSITION", &c));
    assert_int_equal(c.type, SQL_TYPE_LONG);
    assert_true(sql_is_column_meta("TABLES", "CREATE_TIME", &c));
    assert_int_equal(c.type, SQL_TYPE_TIMESTAMP);
    assert_false(sql_is_column_meta("TABLES", "NO_SUCH", &c));
    assert_false(sql_is_column_meta("NO_SUCH", "TABLE_NAME", &c));
}

static void test_static_tables(void **state)
{
    fixture *f = *state;
    char v[256];
    one(f->db, "SELECT ENGINE || '/' || SUPPORT FROM engines", v, sizeof(v));
    assert_string_equal(v, "InnoDB/DEFAULT");
    one(f->db, "SELECT ID FROM collations WHERE COLLATION_NAME = 'utf8mb4_bin'", v, sizeof(v));
    assert_string_equal(v, "46");
    /* Without a snapshot: information_schema is the only database, its tables the only ones. */
    one(f->db, "SELECT group_concat(SCHEMA_NAME) FROM schemata", v, sizeof(v));
    assert_string_equal(v, "information_schema");
    one(f->db, "SELECT COUNT(*) FROM tables WHERE TABLE_SCHEMA = 'information_schema'", v,
        sizeof(v));
    char n[16];
    snprintf(n, sizeof(n), "%u", sql_is_ntables());
    assert_string_equal(v, n);
    /* The scan narrowed by TABLE_SCHEMA / TABLE_NAME gives what the full scan filtered gives. */
    one(f->db, "SELECT COUNT(*) FROM tables WHERE TABLE_SCHEMA = 'test'", v, sizeof(v));
    assert_string_equal(v, "0");
    one(f->db,
        "SELECT COUNT(*) FROM columns WHERE TABLE_SCHEMA = 'information_schema' AND "
        "TABLE_NAME = 'ENGINES'",
        v, sizeof(v));
    assert_string_equal(v, "6");
    one(f->db,
        "SELECT COUNT(*) FROM columns WHERE +TABLE_SCHEMA = 'information_schema' AND "
        "+TABLE_NAME = 'ENGINES'",
        v, sizeof(v));
    assert_string_equal(v, "6");
    one(f->db, "SELECT COUNT(*) FROM columns WHERE TABLE_NAME = NULL", v, sizeof(v));
    assert_string_equal(v, "0");
    one(f->db, "SELECT COUNT(*) FROM routines", v, sizeof(v));
    assert_string_equal(v, "0");
}

static void test_processlist(void **state)
{
    fixture *f = *state;
    char v[256];
    one(f->db,
        "SELECT group_concat(ID || ':' || COMMAND || ':' || IFNULL(DB, '-'), ' ') FROM "
        "processlist",
        v, sizeof(v));
    assert_string_equal(v, "7:Sleep:- 9:Query:shop");
    one(f->db, "SELECT INFO FROM processlist WHERE ID = 9", v, sizeof(v));
    assert_string_equal(v, "SELECT 1");
}

static void test_writes_refused(void **state)
{
    fixture *f = *state;
    static const char *const writes[] = {
        "INSERT INTO engines VALUES ('x', 'YES', 'c', 'NO', 'NO', 'NO')",
        "UPDATE tables SET TABLE_COMMENT = 'x'", "DELETE FROM schemata"};
    for (size_t i = 0; i < 3; i++) {
        cm_err_clear(&f->err);
        int lrc = sqlite3_exec(f->db, writes[i], NULL, NULL, NULL);
        assert_int_equal(lrc, SQLITE_ERROR);
        assert_int_equal(f->err.code, CM_E_DB_ACCESS_DENIED);
        assert_int_equal(cm_err_mysql_errno(f->err.code), 1044);
        assert_non_null(strstr(f->err.msg, "'alice'@'%' to database 'information_schema'"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),          cmocka_unit_test(test_column_meta),
        cmocka_unit_test(test_static_tables),  cmocka_unit_test(test_processlist),
        cmocka_unit_test(test_writes_refused),
    };
    return cmocka_run_group_tests_name("infoschema", tests, setup, teardown);
}
