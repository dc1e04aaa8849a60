/* Unit tests for MySQL's numeric semantics in the session (sql_numeric.h): DECIMAL printing at a
 * scale, exact SUM/AVG (values and storage classes), `/` and DECIMAL arithmetic with their
 * result metadata, 1690 for BIGINT overflow — on a session without a cluster. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cm_err.h"
#include "sql_my_const.h"
#include "sql_numeric.h"
#include "sql_session.h"
#include "sql_test_session.h"

#include <stdlib.h>
#include <string.h>

/* Column i of the last result: type, length, decimals, flags. */
static void check_col(fixture *f, int i, uint8_t type, uint32_t length, uint8_t decimals,
                      uint16_t flags)
{
    assert_true(i < f->sink.ncols);
    const sql_column *c = &f->sink.cols[i];
    if (c->type != type || c->length != length || c->decimals != decimals || c->flags != flags) {
        fail_msg("column %d (%.*s): type %u len %u dec %u flags %u, want %u %u %u %u", i,
                 (int)c->name_len, c->name, c->type, c->length, c->decimals, c->flags, type, length,
                 decimals, flags);
    }
}

static void test_format_decimal(void **state)
{
    (void)state;
    static const struct {
        double d;
        int dec;
        const char *want;
    } cases[] = {
        {0.5, 4, "0.5000"},
        {1.0 / 3, 4, "0.3333"},
        {2.0 / 3, 4, "0.6667"},
        {0.03125, 4, "0.0313"}, /* half away from zero, not the binary value's even rounding */
        {-0.03125, 4, "-0.0313"},
        {0.1 + 0.2, 1, "0.3"},
        {1.15 * 1.15, 4, "1.3225"},
        {100.0, 2, "100.00"},
        {0.0, 2, "0.00"},
        {-0.0001, 2, "0.00"}, /* no "-0.00" */
        {0.00005, 4, "0.0001"},
        {0.000049, 4, "0.0000"},
        {9.9999, 2, "10.00"},
        {-9.995, 2, "-10.00"},
        {12345678901.25, 2, "12345678901.25"},
        {7.0, 0, "7"},
        {2.5, 0, "3"},
        {1e20, 2, "100000000000000000000.00"},
        {123.456, 30, "123.456000000000000000000000000000"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[SQL_NUM_TEXT_MAX];
        int n = sql_num_format_decimal(cases[i].d, cases[i].dec, buf, sizeof(buf));
        if (strcmp(buf, cases[i].want) != 0 || n != (int)strlen(cases[i].want)) {
            fail_msg("case %zu: %.17g at %d: got '%s' want '%s'", i, cases[i].d, cases[i].dec, buf,
                     cases[i].want);
        }
    }
}

/* SUM/AVG values and the storage class SQLite gets (a number whenever one holds the value). */
static void test_sum_avg(void **state)
{
    fixture *f = *state;
    /* DECIMAL columns reach SQLite as exact text: a CTE of texts stands for one here */
    check_value(f,
                "WITH t(d) AS (VALUES ('62.50'), ('62.50'), (NULL)) SELECT typeof(SUM(d)), "
                "SUM(d) = 125, typeof(AVG(d)), AVG(d) = 62.5 FROM t",
                "real|1|real|1");
    check_value(f,
                "WITH t(d) AS (VALUES ('0.1'), ('0.2'), ('-0.35')) SELECT SUM(d) = -0.05, "
                "AVG(d) = -0.016667 FROM t",
                "1|1");
    /* beyond 15 significant digits the exact text is kept */
    check_value(f,
                "WITH t(d) AS (VALUES ('99999999999999999999.99'), ('0.01')) SELECT SUM(d), "
                "typeof(SUM(d)) FROM t",
                "100000000000000000000.00|text");
    /* integers: exact, beyond BIGINT too */
    check_value(f, "WITH t(k) AS (VALUES (1), (2), (3), (4)) SELECT SUM(k), typeof(SUM(k)) FROM t",
                "10|integer");
    check_value(f,
                "WITH t(k) AS (VALUES (9223372036854775807), (9223372036854775807), (2))"
                " SELECT SUM(k), AVG(k) FROM t",
                "18446744073709551616|6148914691236517205.3333");
    check_value(f, "WITH t(k) AS (VALUES (-9223372036854775807 - 1), (-1)) SELECT SUM(k) FROM t",
                "-9223372036854775809");
    /* AVG rounds half up at scale + 4 */
    check_value(f, "WITH t(d) AS (VALUES ('2'), ('0'), ('0')) SELECT AVG(d) = 0.6667 FROM t", "1");
    check_value(f, "WITH t(d) AS (VALUES ('0.00005'), ('0')) SELECT AVG(d) = 0.000025 FROM t", "1");
    /* doubles stay doubles */
    check_value(f, "WITH t(x) AS (VALUES (1.5), (2.25)) SELECT SUM(x), AVG(x) FROM t",
                "3.75|1.875");
    /* no rows, only NULLs */
    check_value(f, "WITH t(x) AS (VALUES (NULL)) SELECT SUM(x), AVG(x) FROM t", "\\N|\\N");
    /* ORDER BY and comparisons see numbers, not texts ('100.00' < '99.50' as text) */
    check_value(f,
                "WITH t(g, d) AS (VALUES (1, '99.50'), (2, '60.00'), (2, '40.00')) SELECT "
                "group_concat(g) FROM (SELECT g, SUM(d) s FROM t GROUP BY g HAVING SUM(d) > 99 "
                "ORDER BY s)",
                "1,2");
    /* as a window function */
    check_value(f,
                "WITH t(i, d) AS (VALUES (1, '1.10'), (2, '2.20'), (3, '3.30'))"
                " SELECT group_concat(s SEPARATOR ',') FROM (SELECT SUM(d) OVER (ORDER BY i ROWS 1"
                " PRECEDING) AS s FROM t)",
                "1.1,3.3,5.5");
}

static void test_division_and_metadata(void **state)
{
    fixture *f = *state;
    check_value(f, "SELECT 1/2, 1/3, 10/4, 1.5/3, 1/0", "0.5000|0.3333|2.5000|0.50000|\\N");
    check_col(f, 0, SQL_TYPE_NEWDECIMAL, 7, 4, SQL_FLAG_BINARY);
    check_col(f, 2, SQL_TYPE_NEWDECIMAL, 8, 4, SQL_FLAG_BINARY);
    check_col(f, 3, SQL_TYPE_NEWDECIMAL, 8, 5, SQL_FLAG_BINARY);
    check_value(f, "SELECT 0.1 + 0.2, 1.10 * 2, 0.1, -1.5", "0.3|2.20|0.1|-1.5");
    check_col(f, 0, SQL_TYPE_NEWDECIMAL, 5, 1, SQL_FLAG_BINARY | SQL_FLAG_NOT_NULL);
    check_col(f, 1, SQL_TYPE_NEWDECIMAL, 6, 2, SQL_FLAG_BINARY | SQL_FLAG_NOT_NULL);
    check_col(f, 2, SQL_TYPE_NEWDECIMAL, 4, 1, SQL_FLAG_BINARY | SQL_FLAG_NOT_NULL);
    check_value(f, "SELECT 1 + 1, 5 DIV 2, 5 MOD 2, 1e0 + 1, 'abc', CONCAT('ab', 1)",
                "2|2|1|2|abc|ab1");
    check_col(f, 0, SQL_TYPE_LONGLONG, 3, 0, SQL_FLAG_BINARY | SQL_FLAG_NOT_NULL);
    check_col(f, 1, SQL_TYPE_LONGLONG, 1, 0, SQL_FLAG_BINARY);
    check_col(f, 2, SQL_TYPE_LONGLONG, 2, 0, SQL_FLAG_BINARY);
    check_col(f, 3, SQL_TYPE_DOUBLE, 23, SQL_DECIMALS_NOT_FIXED,
              SQL_FLAG_BINARY | SQL_FLAG_NOT_NULL);
    check_col(f, 4, SQL_TYPE_VAR_STRING, 12, SQL_DECIMALS_NOT_FIXED, SQL_FLAG_NOT_NULL);
    check_col(f, 5, SQL_TYPE_VAR_STRING, 12, SQL_DECIMALS_NOT_FIXED, 0);
    /* an alias does not change the type; COUNT is BIGINT NOT NULL */
    check_value(f, "SELECT 1/4 AS q, COUNT(*) FROM (SELECT 1)", "0.2500|1");
    check_col(f, 0, SQL_TYPE_NEWDECIMAL, 7, 4, SQL_FLAG_BINARY);
    check_col(f, 1, SQL_TYPE_LONGLONG, 21, 0, SQL_FLAG_BINARY | SQL_FLAG_NOT_NULL);
    /* 2.5 DIV 1 is an integer */
    check_value(f, "SELECT 2.5 DIV 1", "2");
    /* division by zero: NULL with warning 1365 when nothing else can make the item NULL */
    assert_int_equal(q(f, "SELECT 1/0, 5 MOD 0, 1/2"), 0);
    assert_non_null(strstr(ts_text(&f->sink), "row \\N|\\N|0.5000\ndone more=0 warn=2"));
    assert_int_equal(q(f, "SELECT NULL/0"), 0); /* NULL operand: no warning */
    assert_non_null(strstr(ts_text(&f->sink), "warn=0"));
}

static void test_bigint_overflow(void **state)
{
    fixture *f = *state;
    assert_int_equal(q(f, "SELECT 9223372036854775807 + 1"), 1690);
    assert_int_equal(q(f, "SELECT -9223372036854775807 - 2"), 1690);
    assert_int_equal(q(f, "SELECT 4611686018427387904 * 2"), 1690);
    check_value(f, "SELECT 9223372036854775806 + 1", "9223372036854775807");
    check_value(f, "SELECT -9223372036854775807 - 1", "-9223372036854775808");
}

/* The exact DECIMAL operators, called directly and through the select-list rewrite. */
static void test_exact_operators(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *sql, *want;
    } cases[] = {
        /* direct calls: exact texts in, numbers out while 15 digits hold them */
        {"SELECT tessera_dadd('0.1', '0.2') = 0.3, typeof(tessera_dadd('0.1', '0.2'))", "1|real"},
        {"SELECT tessera_dsub('1.00', '3'), tessera_dmul('-1.5', '-1.5')", "-2|2.25"},
        {"SELECT tessera_dadd('99999999999999999999.99', '0.01')", "100000000000000000000.00"},
        {"SELECT tessera_dmul('12345678901234567890', '98765432109876543210')",
         "1219326311370217952237463801111263526900"},
        {"SELECT tessera_ddiv(1, 3, 9) = 0.333333333, tessera_ddiv(-2, 3, 9) = -0.666666666, "
         "tessera_ddiv(1, 8, 2)",
         "1|1|0.12"},
        {"SELECT tessera_ddiv('10', '0.25', 9), tessera_ddiv(0, 5, 4)", "40|0"},
        {"SELECT tessera_dmod('7.5', 2), tessera_dmod('-7.5', 2), tessera_dmod(7, '-2.5')",
         "1.5|-1.5|2"},
        {"SELECT tessera_dadd(NULL, 1), tessera_ddiv(1, NULL, 4)", "\\N|\\N"},
        {"SELECT tessera_dadd(1e300, 1)", "\\N"}, /* not a DECIMAL: no answer */
        /* through the rewrite: names, scales, nesting, literals beyond a double */
        {"SELECT 1/3*3, 2/3 + 1/3, 10/3/3", "1.0000|1.0000|1.11111111"},
        {"SELECT 12345678901234567.89 + 0.01, -12345678901234567.89 - 0.01",
         "12345678901234567.90|-12345678901234567.90"},
        {"SELECT 1234567890123456789 / 7", "176366841446208112.7143"},
        {"SELECT 7.5 MOD 2, -7.5 % 2, 0.1 + 0.2 = 0.3", "1.5|-1.5|1"},
        {"SELECT (1.5 + 2.5) / (0.5 - 0.25)", "16.00000"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        check_value(f, cases[i].sql, cases[i].want);
    }
    /* the rewritten items keep MySQL's names */
    assert_int_equal(q(f, "SELECT 1/3*3, 0.1 + 0.2 AS s"), 0);
    assert_non_null(strstr(ts_text(&f->sink), "cols 1/3*3:246,s:246\n"));
    /* division by zero warns once per NULL */
    assert_int_equal(q(f, "SELECT 1.5 / 0, 7.5 MOD 0"), 0);
    assert_non_null(strstr(ts_text(&f->sink), "row \\N|\\N\ndone more=0 warn=2"));
    /* a rewritten statement after another one of the same query */
    sql_sess_set_multi_statements(f->s, 1);
    assert_int_equal(q(f, "SELECT 1; SELECT 1/3*3, 7.5 MOD 2"), 0);
    assert_non_null(strstr(ts_text(&f->sink), "row 1.0000|1.5\n"));
    /* beyond 65 integer digits */
    assert_int_equal(q(f, "SELECT tessera_dmul(99999999999999999999999999999999999,"
                          " 99999999999999999999999999999999999)"),
                     1690);
}

/* Forms the parser must get through (typed or left to the fallback), each answering its value. */
static void test_parser_forms(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *sql, *want;
    } cases[] = {
        {"SELECT ((((1/2))))", "0.5000"},
        {"SELECT -(-(-1.5))", "-1.5"},
        {"SELECT 1/2 x, 'a' 'b' y, 3 AS `z`", "0.5000|ab|3"},
        {"SELECT COUNT(*) + 1, COUNT(*) * 1.5", "2|1.5"},
        {"SELECT NOT 1/0, 1 IS NULL, 1/0 IS NULL", "\\N|0|1"},
        {"SELECT ~0 & 5, 1 << 2, 5 | 3", "5|4|7"},
        {"SELECT 1 BETWEEN 0 AND 2, 1 IN (1, 2), 2 NOT IN (1)", "1|1|1"},
        {"SELECT CASE WHEN 1 THEN 1/2 END, CASE 2 WHEN 1 THEN 1.5 ELSE 2 END", "0.5000|2.0"},
        {"SELECT (SELECT 1/2)", NULL},
        {"SELECT SUM(DISTINCT 1), AVG(ALL 2)", "1|2.0000"},
        {"SELECT 1 = 1 AND 2 > 1 OR 0, 1 <=> NULL, 'a' LIKE 'a'", "1|0|1"},
        {"SELECT ABS(-2.50), LENGTH('abc'), UPPER('x')", "2.50|3|X"},
        {"SELECT CONCAT(1/4, 'x')", NULL},
        {"SELECT 0.1 + 0.2 + 0.3 + 0.4, 1.5 * 1.5 * 1.5", "1.0|3.375"},
        {"SELECT 123456789012.345 * 1000", "123456789012345.000"},
        {"SELECT MIN(1.5), MAX(2), @@version IS NULL", "1.5|2|0"},
    };
    /* want NULL: forms left to the fallback (subqueries, a DECIMAL inside a string
     * function: printed the SQLite way, a gap docs/sql-layer.md lists) — they must only run */
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (cases[i].want == NULL) {
            assert_int_equal(q(f, cases[i].sql), 0);
            continue;
        }
        check_value(f, cases[i].sql, cases[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_decimal),
        cmocka_unit_test_setup_teardown(test_sum_avg, setup, teardown),
        cmocka_unit_test_setup_teardown(test_division_and_metadata, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bigint_overflow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exact_operators, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parser_forms, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
