/* Unit tests for the session module: the statement path from MySQL text to results, system
 * and user variables, SET/SHOW, multi-statements, prepared statements, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cm_err.h"
#include "sql_my_const.h"
#include "sql_session.h"
#include "sql_session_int.h"
#include "sql_test_session.h"

#include <stdlib.h>
#include <string.h>

static void test_select_literals(void **state)
{
    fixture *f = *state;
    assert_int_equal(q(f, "SELECT 1"), 0);
    assert_string_equal(ts_text(&f->sink), "cols 1:8\nrow 1\ndone more=0 warn=0\n");
    assert_int_equal(f->sink.cols[0].charset, SQL_COLLATION_BINARY);
    assert_true(f->sink.cols[0].flags & SQL_FLAG_NOT_NULL);
    assert_int_equal(q(f, "select 1+1, 'abc', 1.5, NULL, X'41'"), 0);
    assert_string_equal(ts_text(&f->sink), "cols 1+1:8,abc:253,1.5:246,NULL:6,X'41':253\n"
                                           "row 2|abc|1.5|\\N|A\ndone more=0 warn=0\n");
    assert_int_equal(f->sink.cols[1].charset, 46);
    assert_int_equal(f->sink.cols[4].charset, SQL_COLLATION_BINARY);
    assert_int_equal(q(f, "SELECT 1 AS one, 2 two, 'x' AS `three`, 4 'four'"), 0);
    assert_string_equal(ts_text(&f->sink),
                        "cols one:8,two:8,three:253,four:8\nrow 1|2|x|4\ndone more=0 warn=0\n");
}

/* EXPLAIN answers SQLite's query plan in TiDB's columns (vtab rows are tested end to end). */
static void test_explain(void **state)
{
    fixture *f = *state;
    assert_int_equal(q(f, "EXPLAIN SELECT x FROM (SELECT 1 AS x UNION ALL SELECT 2) t ORDER BY x"),
                     0);
    const char *t = ts_text(&f->sink);
    assert_true(strncmp(t, "cols id:253,estRows:253,task:253,access object:253,operator info:253\n",
                        69) == 0);
    assert_non_null(strstr(t, "USE TEMP B-TREE FOR ORDER BY|\\N|root||"));
    assert_non_null(strstr(t, "COMPOUND QUERY"));
    assert_int_equal(q(f, "DESCRIBE SELECT 1"), 0);
    assert_int_equal(q(f, "EXPLAIN ANALYZE SELECT 1"), 1235);
    assert_int_equal(q(f, "EXPLAIN FORMAT=TREE SELECT 1"), 1235);
    assert_int_equal(q(f, "EXPLAIN FORMAT = 'brief' SELECT x FROM (SELECT 1 AS x UNION SELECT 2)"),
                     0);
    assert_non_null(strstr(ts_text(&f->sink), "COMPOUND QUERY"));
    assert_int_equal(q(f, "EXPLAIN FORMAT=traditional SELECT 1"), 0);
}

/* MySQL names a column reference after the column as written, without qualifier or quotes;
 * expressions keep their text. */
static void test_column_ref_names(void **state)
{
    fixture *f = *state;
    assert_int_equal(q(f, "SELECT i.x, j.Y, `x`, i.`x`, i.x + 1, `i`.`x` FROM (SELECT 1 AS x, 2 AS "
                          "y) i JOIN (SELECT 3 AS y) j"),
                     0);
    assert_string_equal(ts_text(&f->sink), "cols x:8,Y:8,x:8,x:8,i.x + 1:8,x:8\n"
                                           "row 1|3|1|1|2|1\ndone more=0 warn=0\n");
    assert_int_equal(q(f, "SELECT i.* FROM (SELECT 1 AS x, 2 AS y) i"), 0);
    assert_true(strncmp(ts_text(&f->sink), "cols x:8,y:8\n", 13) == 0);
    /* executable comments: their markers and version are not part of the name */
    assert_int_equal(q(f, "SELECT 1 /*! +1 */, 2 /*!40101 *3 */ + 1, -9223372036854775808"), 0);
    assert_string_equal(ts_text(&f->sink), "cols 1  +1:8,2  *3  + 1:8,-9223372036854775808:8\n"
                                           "row 2|7|-9223372036854775808\ndone more=0 warn=0\n");
}

static void test_functions(void **state)
{
    fixture *f = *state;
    check_value(f, "SELECT CONCAT('a','b')", "ab");
    check_value(f, "SELECT CONCAT('a', NULL)", "\\N");
    check_value(f, "SELECT CONCAT_WS(',', 'a', NULL, 'b')", "a,b");
    check_value(f, "SELECT 'a' 'b' 'c'", "abc");
    check_value(f, "SELECT LENGTH('\xc3\xa9'), CHAR_LENGTH('\xc3\xa9')", "2|1");
    check_value(f, "SELECT SUBSTRING('hello', 2, 3), SUBSTRING('hello', -2), MID('abc',2,1)",
                "ell|lo|b");
    check_value(f, "SELECT SUBSTRING('hello' FROM 2 FOR 2), POSITION('l' IN 'hello')", "el|3");
    check_value(f, "SELECT LEFT('abc', 2), RIGHT('abc', 2), REPEAT('ab', 3), REVERSE('abc')",
                "ab|bc|ababab|cba");
    check_value(f, "SELECT LPAD('7', 3, '0'), RPAD('a', 3, 'xy'), LOCATE('c', 'abcabc', 4)",
                "007|axy|6");
    check_value(f, "SELECT HEX(255), HEX('AB'), UNHEX('4142'), UPPER('ab'), LCASE('AB')",
                "FF|4142|AB|AB|ab");
    check_value(f,
                "SELECT IF(1 > 0, 'yes', 'no'), IFNULL(NULL, 3), ISNULL(NULL), COALESCE(NULL, 2)",
                "yes|3|1|2");
    check_value(f, "SELECT 1/2, 7 DIV 2, 7 MOD 3, 7 % 3, -3", "0.5000|3|1|1|-3");
    check_value(f, "SELECT CAST('12' AS SIGNED), CAST(12 AS CHAR), CONVERT('5', UNSIGNED)",
                "12|12|5");
    check_value(f, "SELECT GREATEST(1, 3, 2), LEAST('b', 'a'), GREATEST(1, NULL)", "3|a|\\N");
    check_value(f, "SELECT FLOOR(1.5), CEIL(1.2), ROUND(2.4), ABS(-2), MOD(7, 2)", "1|2|2|2|1");
    check_value(f, "SELECT 1 <=> NULL, NULL <=> NULL, 1 && 0, 1 || 0, !0", "0|1|0|1|1");
    check_value(f, "SELECT 'abc' LIKE 'a%', 'ABC' LIKE 'a%', 'abc' REGEXP '^a.c$'", "1|0|1");
    check_value(f, "SELECT _utf8mb4'x' COLLATE utf8mb4_bin, N'y', BINARY 'z'", "x|y|z");
    check_value(f, "SELECT b'101', 0x41, STRCMP('a', 'b')", "5|A|-1");
    check_value(f, "SELECT 1 FROM DUAL", "1");
    check_value(f, "SELECT VERSION(), DATABASE(), CONNECTION_ID(), USER(), CURRENT_USER()",
                SQL_SERVER_VERSION "|\\N|7|root@127.0.0.1|root@%");
    check_value(f, "/*!40101 SELECT 9 */", "9");
    check_value(f, "SELECT 1 /* c */ + 1 -- tail", "2");
}

static void test_time(void **state)
{
    fixture *f = *state;
    assert_int_equal(q(f, "SELECT NOW(), CURDATE(), CURTIME(), CURRENT_TIMESTAMP, UTC_TIMESTAMP()"),
                     0);
    assert_non_null(strstr(ts_text(&f->sink), "cols NOW():12,CURDATE():10,CURTIME():11,"
                                              "CURRENT_TIMESTAMP:12,UTC_TIMESTAMP():12"));
    assert_int_equal(q(f, "SET time_zone = '+01:00'"), 0);
    check_value(f, "SELECT NOW(), UTC_TIMESTAMP(), UNIX_TIMESTAMP()",
                "1970-01-02 01:00:00|1970-01-02 00:00:00|86400");
    check_value(f, "SELECT UNIX_TIMESTAMP('1970-01-02 01:00:00'), FROM_UNIXTIME(0)",
                "86400|1970-01-01 01:00:00");
    assert_int_equal(q(f, "SET timestamp = 3600"), 0);
    check_value(f, "SELECT NOW(3), @@timestamp", "1970-01-01 02:00:00.000|3600");
    assert_int_equal(q(f, "SET timestamp = DEFAULT"), 0);
    assert_int_equal(q(f, "SET time_zone = 'Mars/Olympus'"), 1298);
    assert_int_equal(q(f, "SET time_zone = '+15:00'"), 1298);
}

static void test_sysvars(void **state)
{
    fixture *f = *state;
    check_value(f, "SELECT @@version, @@version_comment LIMIT 1",
                SQL_SERVER_VERSION "|Tessera distributed SQL (Apache-2.0)");
    assert_int_equal(q(f, "SELECT @@session.auto_increment_increment AS auto_increment_increment"),
                     0);
    assert_string_equal(ts_text(&f->sink),
                        "cols auto_increment_increment:8\nrow 1\ndone more=0 warn=0\n");
    check_value(f,
                "SELECT @@autocommit, @@global.autocommit, @@tx_isolation, "
                "@@transaction_isolation",
                "1|1|REPEATABLE-READ|REPEATABLE-READ");
    assert_int_equal(q(f, "SET autocommit=0"), 0);
    check_value(f, "SELECT @@autocommit, @@global.autocommit", "0|1");
    assert_int_equal(sql_sess_status(f->s) & SQL_STATUS_AUTOCOMMIT, 0);
    assert_int_equal(q(f, "SET SESSION autocommit = ON, @@session.wait_timeout = 100"), 0);
    check_value(f, "SELECT @@autocommit, @@wait_timeout", "1|100");
    assert_int_equal(sql_sess_wait_timeout_ms(f->s), 100000);
    assert_int_equal(q(f, "set sql_mode=concat(@@sql_mode, ',STRICT_TRANS_TABLES')"), 0);
    check_value(f, "SELECT @@sql_mode",
                "ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,"
                "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION");
    assert_int_equal(q(f, "SET sql_mode = 'ANSI_QUOTES'"), 0);
    check_value(f, "SELECT \"a\" IS NULL, 'b'", "0|b");
    assert_int_equal(q(f, "SET sql_mode = ''"), 0);
    check_value(f, "SELECT \"a\"", "a");
    assert_int_equal(q(f, "SET sql_mode = 'NOPE'"), 1231);
    assert_int_equal(q(f, "SET NAMES latin1"), 0);
    check_value(f, "SELECT @@character_set_client, @@collation_connection, @@character_set_results",
                "latin1|latin1_swedish_ci|latin1");
    assert_int_equal(q(f, "SET NAMES utf8mb4 COLLATE utf8mb4_general_ci"), 0);
    assert_int_equal(sql_sess_collation(f->s), 45);
    assert_int_equal(q(f, "SET NAMES klingon"), 1115);
    assert_int_equal(q(f, "SET character_set_results = NULL"), 0);
    check_value(f, "SELECT @@character_set_results", "\\N");
    assert_int_equal(q(f, "SELECT @@nope"), 1193);
    assert_int_equal(q(f, "SET nope = 1"), 1193);
    assert_int_equal(q(f, "SET version = 'x'"), 1238);
    assert_int_equal(q(f, "SET max_connections = 10"), 1229);
    assert_int_equal(q(f, "SET GLOBAL warning_count = 1"), 1238);
    assert_int_equal(q(f, "SELECT @@session.max_connections"), 1238);
    assert_int_equal(q(f, "SET max_allowed_packet = 1024"), 1238);
    assert_int_equal(q(f, "SET GLOBAL max_connections = 10"), 0);
    check_value(f, "SELECT @@max_connections, @@global.max_connections", "10|10");
    assert_int_equal(q(f, "SET autocommit = 2"), 1231);
    assert_int_equal(q(f, "SET wait_timeout = 'x'"), 1232);
    /* Out of range: clamped with a warning, as MySQL does. */
    assert_int_equal(q(f, "SET auto_increment_increment = 0"), 0);
    assert_non_null(strstr(ts_text(&f->sink), "warn=1"));
    assert_int_equal(q(f, "SHOW WARNINGS"), 0);
    assert_non_null(strstr(ts_text(&f->sink), "row Warning|1292|Truncated incorrect"));
    check_value(f, "SELECT @@auto_increment_increment", "1");
    assert_int_equal(q(f, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"), 0);
    check_value(f, "SELECT @@transaction_isolation, @@tx_isolation",
                "READ-COMMITTED|READ-COMMITTED");
    assert_int_equal(q(f, "SET TRANSACTION READ ONLY"), 0);
    check_value(f, "SELECT @@transaction_read_only", "1");
}

static void test_show(void **state)
{
    fixture *f = *state;
    assert_int_equal(q(f, "SHOW VARIABLES LIKE 'auto%'"), 0);
    assert_string_equal(ts_text(&f->sink),
                        "cols Variable_name:253,Value:253\nrow auto_increment_increment|1\n"
                        "row auto_increment_offset|1\nrow autocommit|ON\ndone more=0 warn=0\n");
    assert_int_equal(q(f, "SHOW SESSION VARIABLES WHERE Variable_name = 'version' OR "
                          "Variable_name IN ('port', 'license')"),
                     0);
    assert_string_equal(ts_text(&f->sink),
                        "cols Variable_name:253,Value:253\nrow license|Apache-2.0\n"
                        "row port|4000\nrow version|" SQL_SERVER_VERSION "\ndone more=0 warn=0\n");
    assert_int_equal(q(f, "SHOW GLOBAL VARIABLES LIKE 'warning_count'"), 0);
    assert_null(strstr(ts_text(&f->sink), "row"));
    assert_int_equal(q(f, "show collation like 'utf8mb4_bin'"), 0);
    assert_non_null(strstr(ts_text(&f->sink), "row utf8mb4_bin|utf8mb4|46|Yes|Yes|1|PAD SPACE"));
    assert_int_equal(q(f, "SHOW CHARACTER SET LIKE 'utf8mb4'"), 0);
    assert_non_null(strstr(ts_text(&f->sink), "row utf8mb4|UTF-8 Unicode|utf8mb4_bin|4"));
    assert_int_equal(q(f, "SHOW STATUS LIKE 'Questions'"), 0);
    assert_non_null(strstr(ts_text(&f->sink), "row Questions|"));
    assert_int_equal(q(f, "SHOW PROCESSLIST"), 0);
    assert_int_equal(q(f, "SHOW VARIABLES LIKE"), 1064);
    assert_int_equal(q(f, "SHOW DATABASES"), 1235);
    assert_int_equal(q(f, "SHOW TABLES"), 1046);
    assert_int_equal(q(f, "SHOW COLUMNS FROM t"), 1146);
    /* Errors stay readable by SHOW ERRORS / SHOW WARNINGS / COUNT(*). */
    assert_int_equal(q(f, "SELECT nope()"), 1305);
    assert_int_equal(q(f, "SHOW COUNT(*) ERRORS"), 0);
    assert_string_equal(first_row(f), "1");
    assert_int_equal(q(f, "SHOW ERRORS LIMIT 1"), 0);
    assert_non_null(strstr(ts_text(&f->sink), "row Error|1305|FUNCTION nope does not exist"));
    /* Reading the counts keeps the previous statement's diagnostics (MySQL's rule): the error
     * counts in both. */
    check_value(f, "SELECT @@warning_count, @@error_count", "1|1");
}

static void test_errors(void **state)
{
    fixture *f = *state;
    assert_int_equal(q(f, ""), 1065);
    assert_int_equal(q(f, "  -- only a comment"), 1065);
    assert_int_equal(q(f, "SELEC 1"), 1064);
    assert_int_equal(q(f, "SELECT 'unterminated"), 1064);
    assert_int_equal(q(f, "SELECT (1"), 1064);
    assert_int_equal(q(f, "SELECT 1)"), 1064);
    assert_int_equal(q(f, "SELECT * FROM t"), 1046);
    assert_int_equal(q(f, "USE test"), 0);
    check_value(f, "SELECT DATABASE()", "test");
    assert_int_equal(q(f, "SELECT * FROM t"), 1146);
    assert_non_null(strstr(ts_text(&f->sink), "Table 'test.t' doesn't exist"));
    assert_int_equal(q(f, "SELECT c FROM other.t"), 1146);
    assert_int_equal(q(f, "SELECT * FROM sqlite_master"), 1146);
    assert_int_equal(q(f, "SELECT nocolumn"), 1054);
    assert_int_equal(q(f, "INSERT INTO t VALUES (1)"), 1146);
    assert_int_equal(q(f, "UPDATE IGNORE t SET a = 1"), 1146);
    assert_int_equal(q(f, "DELETE FROM x.t"), 1146);
    assert_int_equal(q(f, "CREATE TABLE t (a INT)"), 1235);
    assert_int_equal(q(f, "EXPLAIN FORMAT=JSON SELECT 1"), 1235);
    assert_int_equal(q(f, "EXPLAIN SELECT * FROM nosuch"), 1146);
    assert_int_equal(q(f, "DESC t"), 1146);
    assert_int_equal(q(f, "SELECT CONCAT()"), 1582);
    assert_int_equal(q(f, "SELECT 1 ^ 0"), 1235);
    assert_int_equal(q(f, "SELECT 1 XOR"), 1064);
    assert_int_equal(q(f, "KILL 99"), 1094);
    assert_int_equal(q(f, "SELECT SLEEP(-1)"), 1210);
    char deep[2048];
    size_t n = 0;
    n += (size_t)snprintf(deep, sizeof(deep), "SELECT ");
    for (int i = 0; i < 300; i++) {
        deep[n++] = '(';
    }
    deep[n++] = '1';
    for (int i = 0; i < 300; i++) {
        deep[n++] = ')';
    }
    deep[n] = '\0';
    assert_int_equal(q(f, deep), 1064);
}

static void test_multi_statements(void **state)
{
    fixture *f = *state;
    assert_int_equal(q(f, "SELECT 1; SELECT 2"), 1064);
    sql_sess_set_multi_statements(f->s, 1);
    assert_int_equal(q(f, "SELECT 1; SELECT 2;"), 0);
    assert_string_equal(ts_text(&f->sink), "cols 1:8\nrow 1\ndone more=1 warn=0\n"
                                           "cols 2:8\nrow 2\ndone more=0 warn=0\n");
    assert_int_equal(q(f, "SET @a = 1; SELECT @a + 1; DO 1"), 0);
    assert_string_equal(ts_text(&f->sink), "done more=1 warn=0\ncols @a + 1:8\nrow 2\n"
                                           "done more=1 warn=0\ndone more=0 warn=0\n");
    /* An error stops the batch; what ran before it has been sent. */
    assert_int_equal(q(f, "SELECT 1; SELECT nope; SELECT 3"), 1054);
    assert_non_null(strstr(ts_text(&f->sink), "row 1\ndone more=1"));
    assert_null(strstr(ts_text(&f->sink), "row 3"));
    assert_int_equal(q(f, "SELECT 1;;SELECT 2"), 1064);
    assert_int_equal(q(f, "SELECT ';' ; SELECT \"a;b\""), 0);
    assert_non_null(strstr(ts_text(&f->sink), "row a;b"));
}

static void test_user_vars(void **state)
{
    fixture *f = *state;
    assert_int_equal(q(f, "SET @x = 5, @y = 'str', @z = NULL, @F = 1.5"), 0);
    check_value(f, "SELECT @x + 1, @y, @z, @f, @undefined", "6|str|\\N|1.5|\\N");
    assert_int_equal(q(f, "SET @x := @x * 2"), 0);
    check_value(f, "SELECT @x", "10");
    cm_err err;
    assert_int_equal(sql_sess_reset(f->s, &err), 0);
    check_value(f, "SELECT @x", "\\N");
}

static void test_transactions(void **state)
{
    fixture *f = *state;
    assert_int_equal(q(f, "BEGIN"), 0);
    assert_true(sql_sess_status(f->s) & SQL_STATUS_IN_TRANS);
    assert_int_equal(q(f, "COMMIT"), 0);
    assert_false(sql_sess_status(f->s) & SQL_STATUS_IN_TRANS);
    assert_int_equal(q(f, "START TRANSACTION READ ONLY"), 0);
    assert_true(sql_sess_status(f->s) & SQL_STATUS_IN_TRANS_READONLY);
    assert_int_equal(q(f, "ROLLBACK"), 0);
    assert_int_equal(sql_sess_status(f->s) & SQL_STATUS_IN_TRANS, 0);
    assert_int_equal(q(f, "ROLLBACK TO SAVEPOINT a"), 1235);
}

/* The DML translator (sql_dml.c): the statement head rewritten for SQLite, the rest through the
 * query translator; forms SQLite cannot run on virtual tables refused with 1235. */
/* The INSERT target of the last dml() call, NULs shown as '|'. */
static char last_target[256];

static int dml(fixture *f, const char *sql, char *out, size_t cap, uint32_t *nparams)
{
    sql_tokens toks;
    sql_tokens_init(&toks);
    sql_tr_out tr;
    sql_tr_out_init(&tr);
    cm_err err;
    cm_err_clear(&err);
    int rc = sql_lex(sql, strlen(sql), 0, &toks, &err);
    if (rc == 0) {
        rc = sql_dml_translate(f->s, sql, toks.v, toks.n, &tr, &err);
    }
    snprintf(out, cap, "%s", rc == 0 ? (const char *)tr.sql.ptr : err.msg);
    if (nparams != NULL) {
        *nparams = tr.nparams;
    }
    size_t tl = tr.target.len < sizeof(last_target) - 1 ? tr.target.len : sizeof(last_target) - 1;
    for (size_t i = 0; i < tl; i++) {
        last_target[i] = tr.target.ptr[i] ? (char)tr.target.ptr[i] : '|';
    }
    last_target[tl] = '\0';
    sql_tr_out_fini(&tr);
    sql_tokens_fini(&toks);
    return rc == 0 ? 0 : cm_err_mysql_errno(rc);
}

/* Random token soups through the XOR, locking-clause and SET-list rewrites (sql_xor.c,
 * sql_lockread.c, sql_dml_multi.c, sql_upsert.c): any error is fine, a crash or an ASan report
 * is not. */
static void test_dml_forms_random(void **state)
{
    fixture *f = *state;
    static const char *const sel[] = {
        "1",    "0",  "NULL", "'a'",  "XOR",  "XOR",    "AND",    "OR",     "NOT",    "(",
        ")",    ",",  "CASE", "WHEN", "THEN", "ELSE",   "END",    "FOR",    "UPDATE", "SHARE",
        "LOCK", "IN", "MODE", "OF",   "t",    "NOWAIT", "SKIP",   "LOCKED", "=",      "+",
        "AS",   "x",  "||",   "IF",   "-",    "2.5",    "SELECT", "FROM",   "WHERE",  "`q`"};
    static const char *const set[] = {
        "a",      "b",      "t",  ".",     "=",         "1",   "(",      ")",    ",",
        "SELECT", "VALUES", "+",  "WHERE", "ORDER",     "BY",  "LIMIT",  "x",    "AS",
        "XOR",    "`a`",    "db", "ON",    "DUPLICATE", "KEY", "UPDATE", "NULL", "'s'"};
    uint64_t r = 0x2545F4914F6CDD1DULL;
    char sql[512];
    char out[512];
    for (int k = 0; k < 30000; k++) {
        int kind = k % 3;
        size_t n = (size_t)snprintf(sql, sizeof sql, "%s",
                                    kind == 0   ? "SELECT "
                                    : kind == 1 ? "UPDATE t SET "
                                                : "INSERT INTO t SET ");
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        int words = 1 + (int)(r % 14);
        for (int w = 0; w < words && n + 16 < sizeof sql; w++) {
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            const char *word = kind == 0 ? sel[r % (sizeof sel / sizeof sel[0])]
                                         : set[r % (sizeof set / sizeof set[0])];
            n += (size_t)snprintf(sql + n, sizeof sql - n, "%s ", word);
        }
        if (kind == 0) {
            (void)q(f, sql);
        } else {
            (void)dml(f, sql, out, sizeof out, NULL);
        }
    }
    /* the fixed points of the same rewrites */
    assert_int_equal(dml(f, "UPDATE t SET a = b, b = a", out, sizeof out, NULL), 0);
    assert_non_null(strstr(out, "b = ( b )"));
    assert_int_equal(q(f, "SELECT 1 XOR 1 XOR 1, 0 OR 1 XOR 1, NOT 1 XOR 1"), 0);
    assert_int_equal(q(f, "SELECT 1 FOR UPDATE OF t, u SKIP LOCKED"), 0);
    assert_int_equal(q(f, "SELECT 1 FOR UPDATE SKIP"), 1064);
}

static void test_dml_translate(void **state)
{
    fixture *f = *state;
    char out[512];
    uint32_t np = 0;
    assert_int_equal(
        dml(f, "INSERT IGNORE INTO t (a, b) VALUES (1, 'x'), (?, ?)", out, sizeof out, &np), 0);
    assert_true(strncmp(out, "INSERT OR IGNORE INTO t", 23) == 0);
    assert_non_null(strstr(out, "VALUES"));
    assert_int_equal(np, 2);
    assert_int_equal(dml(f, "INSERT LOW_PRIORITY `t` VALUE (1)", out, sizeof out, NULL), 0);
    assert_true(strncmp(out, "INSERT INTO \"t\"", 14) == 0);
    assert_non_null(strstr(out, "VALUES ( 1 )"));
    assert_int_equal(dml(f, "REPLACE INTO db.t VALUES (1)", out, sizeof out, NULL), 0);
    assert_true(strncmp(out, "REPLACE INTO db.t", 17) == 0);
    assert_int_equal(dml(f, "UPDATE IGNORE t SET k=k+1 WHERE id=?", out, sizeof out, &np), 0);
    assert_true(strncmp(out, "UPDATE OR IGNORE t", 18) == 0);
    assert_int_equal(np, 1);
    assert_int_equal(dml(f, "DELETE QUICK FROM t WHERE id = 3", out, sizeof out, NULL), 0);
    assert_true(strncmp(out, "DELETE FROM t", 13) == 0);
    assert_int_equal(dml(f, "DELETE t WHERE id = 3", out, sizeof out, NULL), 1064);
    assert_int_equal(dml(f, "INSERT INTO", out, sizeof out, NULL), 1064);
    assert_int_equal(
        dml(f, "INSERT INTO t VALUES (1) ON DUPLICATE KEY UPDATE a=1", out, sizeof out, NULL),
        1235);
    /* INSERT … SET is the VALUES form; ON DUPLICATE KEY UPDATE and UPDATE … ORDER BY/LIMIT run
     * as several statements (sql_dml_ext.h), never as one translation */
    assert_int_equal(dml(f, "INSERT INTO t SET a=1, `B` = 'x'", out, sizeof out, NULL), 0);
    assert_non_null(strstr(out, "INSERT INTO t ( a , \"B\" ) VALUES ( 1 , 'x' )"));
    assert_string_equal(last_target, "L|t|a|B|");
    assert_int_equal(dml(f, "INSERT INTO t SET a=1,", out, sizeof out, NULL), 1064);
    assert_int_equal(dml(f, "UPDATE t SET t.a = 1 WHERE a = 2", out, sizeof out, NULL), 0);
    assert_true(strncmp(out, "UPDATE t SET a = 1", 18) == 0);
    assert_int_equal(dml(f, "UPDATE t SET u.a = 1", out, sizeof out, NULL), 1054);
    assert_int_equal(dml(f, "UPDATE t SET a=1 ORDER BY a LIMIT 1", out, sizeof out, NULL), 1235);
    /* the INSERT target and named columns (sql_translate.h target); DEFAULT as a value */
    assert_int_equal(dml(f, "INSERT INTO t (a, `B`) SELECT 1, 2", out, sizeof out, NULL), 0);
    assert_string_equal(last_target, "L|t|a|B|");
    assert_int_equal(dml(f, "INSERT INTO d.t VALUES (1)", out, sizeof out, NULL), 0);
    assert_string_equal(last_target, "Ad|t|");
    assert_int_equal(
        dml(f, "INSERT INTO t (a, b) VALUES (1, DEFAULT), (2, default)", out, sizeof out, NULL), 0);
    assert_string_equal(last_target, "L|t|a|");
    assert_non_null(strstr(out, "( 1 , NULL ) , ( 2 , NULL )"));
    assert_int_equal(
        dml(f, "REPLACE d.t VALUES (DEFAULT, 'DEFAULT', DEFAULT)", out, sizeof out, NULL), 0);
    assert_string_equal(last_target, "Dd|t|0|2|");
    assert_non_null(strstr(out, "'DEFAULT'"));
    assert_int_equal(
        dml(f, "INSERT INTO t (a, b) VALUES (1, DEFAULT), (2, 3)", out, sizeof out, NULL), 1235);
    assert_int_equal(dml(f, "UPDATE t SET a = 1", out, sizeof out, NULL), 0);
    assert_string_equal(last_target, "");
    assert_int_equal(dml(f, "INSERT INTO d.t VALUES ()", out, sizeof out, NULL), 0);
    assert_string_equal(out, "INSERT INTO d.t DEFAULT VALUES");
    assert_string_equal(last_target, "Ld|t|");
    assert_int_equal(dml(f, "REPLACE `t` () VALUE ()", out, sizeof out, NULL), 0);
    assert_string_equal(out, "REPLACE INTO \"t\" DEFAULT VALUES");
    assert_string_equal(last_target, "L|t|");
    /* Without a cluster DML still names the missing table (no tables exist). */
    assert_int_equal(q(f, "USE d"), 0);
    assert_int_equal(q(f, "INSERT INTO t VALUES (1)"), 1146);
    assert_int_equal(q(f, "CREATE TABLE t (a INT)"), 1235);
}

/* KV-layer errors as users see them (docs/errors.md); mapping twice changes nothing. */
static void test_kv_error_mapping(void **state)
{
    fixture *f = *state;
    static const struct {
        int code;
        int mysql_errno;
        const char *prefix;
    } cases[] = {
        {CM_E_WRITE_CONFLICT, 1213, "Deadlock found"},
        {CM_E_TXN_ROLLED_BACK, 1213, "Deadlock found"},
        {CM_E_TXN_UNDETERMINED, 8110, "Commit result is undetermined"},
        {CM_E_KEY_IS_LOCKED, 1205, "Lock wait timeout exceeded"},
        {CM_E_TIMEOUT, 9005, "Region is unavailable"},
        {CM_E_NOT_LEADER, 9005, "Region is unavailable"},
        {CM_E_UNAVAILABLE, 9005, "Region is unavailable"},
        {CM_E_SERVER_IS_BUSY, 9003, "KV server is busy"},
        {CM_E_DUP_ENTRY, 1062, "Duplicate entry 'x' for key 't.PRIMARY'"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cm_err err;
        cm_err_set(&err, cases[i].code, "%s",
                   cases[i].code == CM_E_DUP_ENTRY ? "Duplicate entry 'x' for key 't.PRIMARY'"
                                                   : "detail");
        int rc = sql_txn_map_error(f->s, cases[i].code, &err);
        assert_int_equal(cm_err_mysql_errno(rc), cases[i].mysql_errno);
        assert_true(strncmp(err.msg, cases[i].prefix, strlen(cases[i].prefix)) == 0);
        char once[CM_ERR_MSG_MAX];
        snprintf(once, sizeof once, "%s", err.msg);
        rc = sql_txn_map_error(f->s, rc, &err);
        assert_int_equal(cm_err_mysql_errno(rc), cases[i].mysql_errno);
        assert_string_equal(err.msg, once);
    }
    /* 1213 is never the answer to an undetermined commit. */
    cm_err err;
    cm_err_set(&err, CM_E_TXN_UNDETERMINED, "primary commit timed out");
    assert_int_not_equal(cm_err_mysql_errno(sql_txn_map_error(f->s, CM_E_TXN_UNDETERMINED, &err)),
                         1213);
}

static void test_prepared(void **state)
{
    fixture *f = *state;
    cm_err err;
    sql_prep *p;
    const char *sql = "SELECT ? + 1 AS a, CONCAT(?, 'x'), ?";
    assert_int_equal(sql_sess_prepare(f->s, sql, strlen(sql), &p, &err), 0);
    assert_int_equal(sql_prep_param_count(p), 3);
    assert_int_equal(sql_prep_column_count(p), 3);
    assert_string_equal(sql_prep_columns(p)[0].name, "a");
    sql_value v[3] = {sql_value_int(41), sql_value_text("ab", 2), sql_value_null()};
    cm_buf_reset(&f->sink.out);
    assert_int_equal(sql_sess_execute(f->s, p, v, 3, &f->sink.sink, &err), 0);
    assert_string_equal(ts_text(&f->sink),
                        "cols a:8,CONCAT(?, 'x'):253,?:253\nrow 42|abx|\\N\ndone more=0 warn=0\n");
    v[0].type = SQL_V_DOUBLE;
    v[0].d = 0.5;
    cm_buf_reset(&f->sink.out);
    assert_int_equal(sql_sess_execute(f->s, p, v, 3, &f->sink.sink, &err), 0);
    assert_non_null(strstr(ts_text(&f->sink), "row 1.5|abx|"));
    assert_int_equal(sql_sess_execute(f->s, p, v, 2, &f->sink.sink, &err), CM_E_WRONG_ARGUMENTS);
    sql_sess_prep_free(f->s, p);

    /* Non-query statements are prepared too (sysbench prepares BEGIN and COMMIT). */
    sql = "SET @p = ?";
    assert_int_equal(sql_sess_prepare(f->s, sql, strlen(sql), &p, &err), 0);
    sql_value s1 = sql_value_text("it's \\ ok", 9);
    assert_int_equal(sql_sess_execute(f->s, p, &s1, 1, &f->sink.sink, &err), 0);
    check_value(f, "SELECT @p", "it's \\ ok");
    sql_sess_prep_free(f->s, p);
    sql = "BEGIN";
    assert_int_equal(sql_sess_prepare(f->s, sql, strlen(sql), &p, &err), 0);
    assert_int_equal(sql_sess_execute(f->s, p, NULL, 0, &f->sink.sink, &err), 0);
    assert_true(sql_sess_status(f->s) & SQL_STATUS_IN_TRANS);
    sql_sess_prep_free(f->s, p);
    sql = "SHOW VARIABLES LIKE ?";
    assert_int_equal(sql_sess_prepare(f->s, sql, strlen(sql), &p, &err), 0);
    assert_int_equal(sql_prep_column_count(p), 2);
    sql_value pat = sql_value_text("port", 4);
    cm_buf_reset(&f->sink.out);
    assert_int_equal(sql_sess_execute(f->s, p, &pat, 1, &f->sink.sink, &err), 0);
    assert_non_null(strstr(ts_text(&f->sink), "row port|4000"));
    sql_sess_prep_free(f->s, p);
    sql = "SELECT * FROM t";
    assert_int_equal(sql_sess_prepare(f->s, sql, strlen(sql), &p, &err), CM_E_NO_DB);
    sql = "SELECT 1; SELECT 2";
    assert_int_equal(sql_sess_prepare(f->s, sql, strlen(sql), &p, &err), CM_E_PARSE);
}

static void test_kill_flag(void **state)
{
    fixture *f = *state;
    sql_sess_interrupt(f->s, 1);
    assert_int_equal(sql_sess_killed(f->s), 1);
    /* A KILL QUERY that arrives between statements does not cancel the next one. */
    check_value(f, "SELECT 5", "5");
    sql_sess_interrupt(f->s, 0);
    assert_int_equal(sql_sess_killed(f->s), 2);
    assert_int_equal(q(f, "SELECT SLEEP(10)"), 1317);
}

static void test_runaway_statements(void **state)
{
    fixture *f = *state;
    /* A recursive CTE without an end produces no output and never finishes by itself: the
     * per-statement budget (injected here; max_execution_time with a real clock) stops it. */
    f->env.stmt_ops_max = 2000000;
    const char *forever = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
                          "SELECT COUNT(*) FROM c";
    assert_int_equal(q(f, forever), 3636); /* cte_max_recursion_depth (1000) stops it first */
    assert_int_equal(q(f, "SET cte_max_recursion_depth = 4294967295"), 0);
    assert_int_equal(q(f, forever), 3024);
    check_value(f, "SELECT 1", "1"); /* the session goes on */
    f->env.stmt_ops_max = 0;
    /* A KILL QUERY stops it too (the progress handler sees the flag). */
    sql_sess_interrupt(f->s, 1);
    assert_int_equal(q(f, "SELECT 2"), 0); /* a stale KILL QUERY is dropped at statement start */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_select_literals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_functions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sysvars, setup, teardown),
        cmocka_unit_test_setup_teardown(test_show, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multi_statements, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_vars, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_column_ref_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_explain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepared, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dml_translate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dml_forms_random, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kv_error_mapping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_flag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runaway_statements, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
