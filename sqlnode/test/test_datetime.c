/*
 * test_datetime.c — unit tests of sql_datetime.c (MySQL's calendar arithmetic): day numbers
 * round-trip, week numbers agree with the C library's %U / %W / %V / %G over forty years of
 * days, parsing accepts MySQL's forms and rejects impossible dates, intervals read compound
 * units, month arithmetic clamps to the end of the month, DATE_FORMAT and STR_TO_DATE.
 */
#include "sql_datetime.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

static sql_dt parse(const char *s)
{
    sql_dt d;
    assert_int_equal(sql_dt_parse(s, strlen(s), &d), 0);
    return d;
}

static void check_fmt(const sql_dt *d, const char *want)
{
    char buf[64];
    size_t n = sql_dt_format(d, buf, sizeof(buf));
    assert_int_equal(n, strlen(want));
    assert_string_equal(buf, want);
}

static void test_daynr(void **state)
{
    (void)state;
    assert_int_equal(sql_dt_daynr(1970, 1, 1), 719528);
    assert_int_equal(sql_dt_daynr(2007, 10, 7), 733321); /* MySQL's TO_DAYS example */
    assert_int_equal(sql_dt_daynr(1995, 5, 1), 728779);
    assert_int_equal(sql_dt_daynr(1, 1, 1), 366);
    /* every day of years 1..9999 maps back to itself, and day numbers are consecutive */
    int64_t prev = sql_dt_daynr(1, 1, 1) - 1;
    for (int y = 1; y <= 9999; y++) {
        for (int m = 1; m <= 12; m++) {
            for (int d = 1; d <= sql_dt_days_in_month(y, m); d++) {
                int64_t n = sql_dt_daynr(y, m, d);
                int yy, mm, dd;
                assert_int_equal(sql_dt_from_daynr(n, &yy, &mm, &dd), 0);
                assert_int_equal(yy, y);
                assert_int_equal(mm, m);
                assert_int_equal(dd, d);
                assert_int_equal(n, prev + 1);
                prev = n;
            }
        }
    }
    assert_int_equal(sql_dt_from_daynr(0, &(int){0}, &(int){0}, &(int){0}), -1);
    assert_int_equal(sql_dt_weekday(sql_dt_daynr(1970, 1, 1)), 3); /* a Thursday */
    assert_int_equal(sql_dt_weekday(sql_dt_daynr(2007, 2, 3)), 5); /* a Saturday */
}

/* Week numbers against the C library over 1990–2030: mode 0 is strftime's %U, mode 5 is %W,
 * mode 3 is ISO 8601's %V with year %G. */
static void test_week_vs_libc(void **state)
{
    (void)state;
    for (int64_t dn = sql_dt_daynr(1990, 1, 1); dn <= sql_dt_daynr(2030, 12, 31); dn++) {
        sql_dt d = {.kind = SQL_DT_DATE};
        assert_int_equal(sql_dt_from_daynr(dn, &d.year, &d.month, &d.day), 0);
        struct tm tm = {0};
        tm.tm_year = d.year - 1900;
        tm.tm_mon = d.month - 1;
        tm.tm_mday = d.day;
        tm.tm_hour = 12;
        time_t t = timegm(&tm);
        gmtime_r(&t, &tm);
        char u[8], w[8], v[8], g[8];
        strftime(u, sizeof(u), "%U", &tm);
        strftime(w, sizeof(w), "%W", &tm);
        strftime(v, sizeof(v), "%V", &tm);
        strftime(g, sizeof(g), "%G", &tm);
        int y;
        assert_int_equal(sql_dt_week(&d, 0, &y), atoi(u));
        assert_int_equal(sql_dt_week(&d, 5, &y), atoi(w));
        assert_int_equal(sql_dt_week(&d, 3, &y), atoi(v));
        assert_int_equal(y, atoi(g));
    }
}

/* MySQL's documented WEEK() / YEARWEEK() examples. */
static void test_week_examples(void **state)
{
    (void)state;
    int y;
    sql_dt d = parse("2008-02-20");
    assert_int_equal(sql_dt_week(&d, 0, &y), 7);
    assert_int_equal(sql_dt_week(&d, 1, &y), 8);
    d = parse("2008-12-31");
    assert_int_equal(sql_dt_week(&d, 1, &y), 53);
    d = parse("2000-01-01");
    assert_int_equal(sql_dt_week(&d, 0, &y), 0);
    assert_int_equal(sql_dt_week(&d, 2, &y), 52);
    assert_int_equal(y, 1999);
    d = parse("1987-01-01");
    assert_int_equal(sql_dt_week(&d, 2, &y), 52);
    assert_int_equal(y, 1986);
}

static void test_parse(void **state)
{
    (void)state;
    sql_dt d = parse("2020-01-31");
    assert_int_equal(d.kind, SQL_DT_DATE);
    check_fmt(&d, "2020-01-31");
    d = parse("2020/1/2 3:4:5");
    assert_int_equal(d.kind, SQL_DT_DATETIME);
    check_fmt(&d, "2020-01-02 03:04:05");
    d = parse("20200131123000");
    check_fmt(&d, "2020-01-31 12:30:00");
    d = parse("990131");
    check_fmt(&d, "1999-01-31");
    d = parse("2020-01-01T10:11:12.5");
    check_fmt(&d, "2020-01-01 10:11:12.5"); /* the precision written */
    d = parse("2020-00-00");
    assert_int_equal(sql_dt_valid_date(&d), 0);
    static const char *const bad[] = {
        "2020-02-30", "2021-02-29", "2020-13-01", "2020-01-01 24:00:00",
        "abc",        "2020-01",    "",           "12345"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(sql_dt_parse(bad[i], strlen(bad[i]), &d), -1);
    }
    assert_int_equal(sql_dt_from_int(20200131, &d), 0);
    check_fmt(&d, "2020-01-31");

    assert_int_equal(sql_dt_parse_time("-12:30:05.25", 12, &d), 0);
    check_fmt(&d, "-12:30:05.25");
    assert_int_equal(sql_dt_parse_time("1 02:00:00", 10, &d), 0);
    check_fmt(&d, "26:00:00");
    assert_int_equal(sql_dt_parse_time("123456", 6, &d), 0);
    check_fmt(&d, "12:34:56");
    assert_int_equal(sql_dt_parse_time("2020-01-01 10:11:12", 19, &d), 0);
    check_fmt(&d, "10:11:12");
    assert_int_equal(sql_dt_parse_time("900:00:00", 9, &d), 0);
    check_fmt(&d, "838:59:59");
    assert_int_equal(sql_dt_parse_time("10:61:00", 8, &d), -1);
}

static sql_dt add(const char *date, const char *iv, const char *unit)
{
    sql_dt d = parse(date), r;
    sql_iv v;
    int u = sql_iv_unit_find(unit, strlen(unit));
    assert_true(u >= 0);
    assert_int_equal(sql_iv_parse(iv, strlen(iv), u, &v), 0);
    assert_int_equal(sql_dt_add(&d, &v, u, &r), 0);
    return r;
}

static void test_interval(void **state)
{
    (void)state;
    sql_dt r = add("2024-01-31", "1", "MONTH");
    check_fmt(&r, "2024-02-29");
    r = add("2023-01-31", "1", "month");
    check_fmt(&r, "2023-02-28");
    r = add("2020-02-29", "1", "YEAR");
    check_fmt(&r, "2021-02-28");
    r = add("2024-03-31", "-1", "MONTH");
    check_fmt(&r, "2024-02-29");
    r = add("2020-01-01", "2-3", "YEAR_MONTH");
    check_fmt(&r, "2022-04-01");
    r = add("2020-01-01", "1", "HOUR");
    check_fmt(&r, "2020-01-01 01:00:00");
    r = add("2025-01-01 00:00:00", "-1 1:1:1", "DAY_SECOND");
    check_fmt(&r, "2024-12-30 22:58:59");
    r = add("1992-12-31 23:59:59.000002", "1.999999", "SECOND_MICROSECOND");
    check_fmt(&r, "1993-01-01 00:00:01.000001");
    r = add("2100-12-31 23:59:59", "1:1", "MINUTE_SECOND"); /* left parts left out */
    check_fmt(&r, "2101-01-01 00:01:00");
    r = add("2020-01-01", "1.5", "SECOND_MICROSECOND");
    check_fmt(&r, "2020-01-01 00:00:01.500000");

    sql_iv v;
    assert_int_equal(sql_iv_parse("1:2:3", 5, SQL_IV_DAY_HOUR, &v), -1); /* too many parts */
    assert_int_equal(sql_iv_parse("", 0, SQL_IV_DAY, &v), -1);
    sql_dt d = parse("9999-12-31"), out;
    assert_int_equal(sql_iv_parse("1", 1, SQL_IV_DAY, &v), 0);
    assert_int_equal(sql_dt_add(&d, &v, SQL_IV_DAY, &out), -1);
    assert_int_equal(sql_iv_unit_find("FORTNIGHT", 9), -1);
}

static void check_date_format(const char *date, const char *fmt, const char *want)
{
    sql_dt d = parse(date);
    cm_buf b = CM_BUF_INIT;
    assert_int_equal(sql_dt_date_format(&d, fmt, strlen(fmt), &b), 0);
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.ptr, want, b.len);
    cm_buf_fini(&b);
}

static void test_date_format(void **state)
{
    (void)state;
    check_date_format("2009-10-04 22:23:00", "%W %M %Y", "Sunday October 2009");
    check_date_format("1900-10-04 22:23:00", "%D %y %a %d %m %b %j", "4th 00 Thu 04 10 Oct 277");
    check_date_format("1997-10-04 22:23:00", "%H %k %I %r %T %S %w",
                      "22 22 10 10:23:00 PM 22:23:00 00 6");
    check_date_format("1999-01-01", "%X %V", "1998 52");
    check_date_format("2020-01-01 00:00:00.000123", "%f %% %q", "000123 % q");
    check_date_format("2021-03-22", "%D %D %e %c", "22nd 22nd 22 3");
}

static void check_str_to_date(const char *s, const char *fmt, const char *want)
{
    sql_dt d;
    if (want == NULL) {
        assert_int_equal(sql_dt_str_to_date(s, strlen(s), fmt, strlen(fmt), &d), -1);
        return;
    }
    assert_int_equal(sql_dt_str_to_date(s, strlen(s), fmt, strlen(fmt), &d), 0);
    check_fmt(&d, want);
}

static void test_str_to_date(void **state)
{
    (void)state;
    check_str_to_date("01,5,2013", "%d,%m,%Y", "2013-05-01");
    check_str_to_date("May 1, 2013", "%M %d,%Y", "2013-05-01");
    check_str_to_date("a09:30:17", "a%h:%i:%s", "09:30:17");
    check_str_to_date("12:00:00 AM", "%r", "00:00:00");
    check_str_to_date("10:11 PM", "%h:%i %p", "22:11:00");
    check_str_to_date("2020-060", "%Y-%j", "2020-02-29");
    check_str_to_date("2013-05-01 10:11:12.5", "%Y-%m-%d %H:%i:%s.%f",
                      "2013-05-01 10:11:12.500000");
    check_str_to_date("2013-02-30", "%Y-%m-%d", NULL);
    check_str_to_date("abc", "%Y", NULL);
    check_str_to_date("13:00", "%h:%i", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_daynr),         cmocka_unit_test(test_week_vs_libc),
        cmocka_unit_test(test_week_examples), cmocka_unit_test(test_parse),
        cmocka_unit_test(test_interval),      cmocka_unit_test(test_date_format),
        cmocka_unit_test(test_str_to_date),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
