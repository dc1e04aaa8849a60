/*
 * sql_func_time.c — MySQL's date and time functions over sql_datetime.c: parts (YEAR …
 * MICROSECOND, WEEK, QUARTER, names), DATE_ADD / DATE_SUB / ADDDATE / SUBDATE and the
 * translator's `expr ± INTERVAL n unit` (_tdb_date_add), DATEDIFF, TIMEDIFF, TIMESTAMPDIFF,
 * TIMESTAMPADD, EXTRACT (_tdb_extract), DATE_FORMAT, TIME_FORMAT, STR_TO_DATE, FROM_UNIXTIME
 * with a format, and the conversions (TO_DAYS, FROM_DAYS, MAKEDATE, MAKETIME, SEC_TO_TIME,
 * TIME_TO_SEC, LAST_DAY, DATE, TIME, TIMESTAMP).
 *
 * Values travel as text ('YYYY-MM-DD[ HH:MM:SS[.ffffff]]', '[-]HH:MM:SS'), as MySQL prints
 * them; part extractors return INTEGER. A value that is not a valid date gives NULL and warning
 * 1292, as MySQL does. The session's time_zone applies where a wall clock is involved
 * (FROM_UNIXTIME), through sql_func_format_time.
 */
#include "sql_datetime.h"
#include "sql_func_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const month_names[] = {"January",   "February", "March",    "April",
                                          "May",       "June",     "July",     "August",
                                          "September", "October",  "November", "December"};
static const char *const day_names[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                        "Friday", "Saturday", "Sunday"};

static void warn_bad(sqlite3_context *ctx, sqlite3_value *v, const char *what)
{
    sql_fn_str a = sql_fn_get_str(v);
    sql_fn_warn(ctx, 1292, "Incorrect %s value: '%.*s'", what, (int)(a.n > 64 ? 64 : a.n),
                (const char *)a.p);
}

/* Fractional digits of a double's shortest text, at most 6 (the precision MySQL gives a
 * numeric literal such as 1.5 in a temporal function). */
static int real_fsp(double x)
{
    char buf[64];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, x);
        if (strtod(buf, NULL) == x) {
            break;
        }
    }
    if (strchr(buf, 'e') != NULL) {
        return x == floor(x) ? 0 : 6;
    }
    const char *dot = strchr(buf, '.');
    int n = dot ? (int)strlen(dot + 1) : 0;
    return n > 6 ? 6 : n;
}

/* Reads a DATE or DATETIME argument. Returns 1 with *d set, 0 for NULL (the result is NULL;
 * a warning was added when the value was not NULL but invalid). */
static int arg_dt(sqlite3_context *ctx, sqlite3_value *v, sql_dt *d)
{
    int t = sqlite3_value_type(v);
    int rc;
    if (t == SQLITE_NULL) {
        return 0;
    }
    if (t == SQLITE_INTEGER) {
        rc = sql_dt_from_int(sqlite3_value_int64(v), d);
    } else if (t == SQLITE_FLOAT) {
        double x = sqlite3_value_double(v);
        rc = x < 0 || x > 1e15 ? -1 : sql_dt_from_int((int64_t)x, d);
        if (rc == 0) {
            d->usec = (int)llround((x - floor(x)) * 1e6) % 1000000;
            d->fsp = real_fsp(x);
        }
    } else {
        sql_fn_str a = sql_fn_get_str(v);
        rc = sql_dt_parse((const char *)a.p, a.n, d);
    }
    if (rc != 0) {
        warn_bad(ctx, v, "datetime");
        return 0;
    }
    return 1;
}

/* A DATE or DATETIME that is a real calendar date (no zero month or day). */
static int arg_date(sqlite3_context *ctx, sqlite3_value *v, sql_dt *d)
{
    if (!arg_dt(ctx, v, d)) {
        return 0;
    }
    if (!sql_dt_valid_date(d)) {
        warn_bad(ctx, v, "datetime");
        return 0;
    }
    return 1;
}

/* Reads a TIME argument (a DATETIME gives its time part). */
static int arg_time(sqlite3_context *ctx, sqlite3_value *v, sql_dt *d)
{
    int t = sqlite3_value_type(v);
    int rc;
    if (t == SQLITE_NULL) {
        return 0;
    }
    if (t == SQLITE_INTEGER || t == SQLITE_FLOAT) {
        char buf[64];
        if (t == SQLITE_INTEGER) {
            snprintf(buf, sizeof(buf), "%lld", (long long)sqlite3_value_int64(v));
        } else {
            double x = sqlite3_value_double(v);
            snprintf(buf, sizeof(buf), "%.*f", real_fsp(x), x);
        }
        rc = sql_dt_parse_time(buf, strlen(buf), d);
    } else {
        sql_fn_str a = sql_fn_get_str(v);
        rc = sql_dt_parse_time((const char *)a.p, a.n, d);
    }
    if (rc != 0) {
        warn_bad(ctx, v, "time");
        return 0;
    }
    return 1;
}

static void result_dt(sqlite3_context *ctx, const sql_dt *d)
{
    char buf[64];
    size_t n = sql_dt_format(d, buf, sizeof(buf));
    sqlite3_result_text(ctx, buf, (int)n, SQLITE_TRANSIENT);
}

/* ---- parts ---- */

enum {
    P_YEAR,
    P_MONTH,
    P_DAY,
    P_DAYOFWEEK,
    P_WEEKDAY,
    P_DAYOFYEAR,
    P_QUARTER,
    P_TO_DAYS,
    P_DAYNAME,
    P_MONTHNAME,
    P_LAST_DAY,
    P_DATE,
};

static void date_part(sqlite3_context *ctx, sqlite3_value **argv, int part)
{
    sql_dt d;
    int need_valid =
        part != P_YEAR && part != P_MONTH && part != P_DAY && part != P_QUARTER && part != P_DATE;
    if (!(need_valid ? arg_date(ctx, argv[0], &d) : arg_dt(ctx, argv[0], &d))) {
        sqlite3_result_null(ctx);
        return;
    }
    int64_t dn = need_valid ? sql_dt_daynr(d.year, d.month, d.day) : 0;
    switch (part) {
    case P_YEAR:
        sqlite3_result_int(ctx, d.year);
        break;
    case P_MONTH:
        sqlite3_result_int(ctx, d.month);
        break;
    case P_DAY:
        sqlite3_result_int(ctx, d.day);
        break;
    case P_DAYOFWEEK:
        sqlite3_result_int(ctx, (sql_dt_weekday(dn) + 1) % 7 + 1);
        break;
    case P_WEEKDAY:
        sqlite3_result_int(ctx, sql_dt_weekday(dn));
        break;
    case P_DAYOFYEAR:
        sqlite3_result_int64(ctx, dn - sql_dt_daynr(d.year, 1, 1) + 1);
        break;
    case P_QUARTER:
        sqlite3_result_int(ctx, (d.month + 2) / 3);
        break;
    case P_TO_DAYS:
        sqlite3_result_int64(ctx, dn);
        break;
    case P_DAYNAME:
        sqlite3_result_text(ctx, day_names[sql_dt_weekday(dn)], -1, SQLITE_STATIC);
        break;
    case P_MONTHNAME:
        sqlite3_result_text(ctx, month_names[d.month - 1], -1, SQLITE_STATIC);
        break;
    case P_LAST_DAY:
        d.kind = SQL_DT_DATE;
        d.day = sql_dt_days_in_month(d.year, d.month);
        result_dt(ctx, &d);
        break;
    case P_DATE:
        d.kind = SQL_DT_DATE;
        result_dt(ctx, &d);
        break;
    default:
        sqlite3_result_null(ctx);
        break;
    }
}

#define DATE_PART_FN(fname, part)                                                                  \
    static void fname(sqlite3_context *ctx, int argc, sqlite3_value **argv)                        \
    {                                                                                              \
        (void)argc;                                                                                \
        date_part(ctx, argv, part);                                                                \
    }
/* All return INTEGER except DAYNAME, MONTHNAME (TEXT) and LAST_DAY, DATE (DATE text). */
DATE_PART_FN(f_year, P_YEAR)
DATE_PART_FN(f_month, P_MONTH)
DATE_PART_FN(f_day, P_DAY)
DATE_PART_FN(f_dayofweek, P_DAYOFWEEK)
DATE_PART_FN(f_weekday, P_WEEKDAY)
DATE_PART_FN(f_dayofyear, P_DAYOFYEAR)
DATE_PART_FN(f_quarter, P_QUARTER)
DATE_PART_FN(f_to_days, P_TO_DAYS)
DATE_PART_FN(f_dayname, P_DAYNAME)
DATE_PART_FN(f_monthname, P_MONTHNAME)
DATE_PART_FN(f_last_day, P_LAST_DAY)
DATE_PART_FN(f_date, P_DATE)

enum { T_HOUR, T_MINUTE, T_SECOND, T_MICROSECOND, T_TIME, T_TIME_TO_SEC };

static void time_part(sqlite3_context *ctx, sqlite3_value **argv, int part)
{
    sql_dt d;
    if (!arg_time(ctx, argv[0], &d)) {
        sqlite3_result_null(ctx);
        return;
    }
    switch (part) {
    case T_HOUR:
        sqlite3_result_int(ctx, d.hour);
        break;
    case T_MINUTE:
        sqlite3_result_int(ctx, d.minute);
        break;
    case T_SECOND:
        sqlite3_result_int(ctx, d.second);
        break;
    case T_MICROSECOND:
        sqlite3_result_int(ctx, d.usec);
        break;
    case T_TIME:
        d.kind = SQL_DT_TIME;
        result_dt(ctx, &d);
        break;
    default:
        sqlite3_result_int64(ctx, sql_dt_time_seconds(&d));
        break;
    }
}

#define TIME_PART_FN(fname, part)                                                                  \
    static void fname(sqlite3_context *ctx, int argc, sqlite3_value **argv)                        \
    {                                                                                              \
        (void)argc;                                                                                \
        time_part(ctx, argv, part);                                                                \
    }
/* INTEGER, except TIME() (TIME text). */
TIME_PART_FN(f_hour, T_HOUR)
TIME_PART_FN(f_minute, T_MINUTE)
TIME_PART_FN(f_second, T_SECOND)
TIME_PART_FN(f_microsecond, T_MICROSECOND)
TIME_PART_FN(f_time, T_TIME)
TIME_PART_FN(f_time_to_sec, T_TIME_TO_SEC)

static int week_mode(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    if (argc > 1) {
        return (int)(sqlite3_value_int64(argv[1]) & 7);
    }
    return (int)(SQL_FN_SESS(ctx)->sv[SQL_SV_DEFAULT_WEEK_FORMAT].i & 7);
}

/* WEEK(d[, mode]) → INTEGER. */
static void f_week(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    sql_dt d;
    if (sql_fn_any_null(argc, argv) || !arg_date(ctx, argv[0], &d)) {
        sqlite3_result_null(ctx);
        return;
    }
    int y;
    sqlite3_result_int(ctx, sql_dt_week(&d, week_mode(ctx, argc, argv), &y));
}

/* WEEKOFYEAR(d) → INTEGER: WEEK(d, 3). */
static void f_weekofyear(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    sql_dt d;
    if (!arg_date(ctx, argv[0], &d)) {
        sqlite3_result_null(ctx);
        return;
    }
    int y;
    sqlite3_result_int(ctx, sql_dt_week(&d, 3, &y));
}

/* YEARWEEK(d[, mode]) → INTEGER: the year and week, weeks always 1–53 (mode | 2). */
static void f_yearweek(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    sql_dt d;
    if (sql_fn_any_null(argc, argv) || !arg_date(ctx, argv[0], &d)) {
        sqlite3_result_null(ctx);
        return;
    }
    int mode = argc > 1 ? (int)(sqlite3_value_int64(argv[1]) & 7) : 0;
    int y;
    int w = sql_dt_week(&d, mode | 2, &y);
    sqlite3_result_int(ctx, y * 100 + w);
}

/* FROM_DAYS(n) → DATE text ('0000-00-00' below day 366, as MySQL). */
static void f_from_days(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    int64_t n = sqlite3_value_int64(argv[0]);
    sql_dt d = {.kind = SQL_DT_DATE};
    if (n >= 366 && sql_dt_from_daynr(n, &d.year, &d.month, &d.day) != 0) {
        sqlite3_result_null(ctx);
        return;
    }
    result_dt(ctx, &d);
}

/* MAKEDATE(year, dayofyear) → DATE text; NULL for dayofyear < 1. */
static void f_makedate(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    if (sql_fn_any_null(argc, argv)) {
        sqlite3_result_null(ctx);
        return;
    }
    int64_t y = sqlite3_value_int64(argv[0]);
    int64_t doy = sqlite3_value_int64(argv[1]);
    if (doy < 1 || y < 0 || y > 9999 || doy > 3660000) {
        sqlite3_result_null(ctx);
        return;
    }
    if (y < 70) {
        y += 2000;
    } else if (y < 100) {
        y += 1900;
    }
    sql_dt d = {.kind = SQL_DT_DATE};
    if (sql_dt_from_daynr(sql_dt_daynr((int)y, 1, 1) + doy - 1, &d.year, &d.month, &d.day) != 0) {
        sqlite3_result_null(ctx);
        return;
    }
    result_dt(ctx, &d);
}

static void result_time_us(sqlite3_context *ctx, int64_t us, int fsp)
{
    sql_dt d = {.kind = SQL_DT_TIME, .fsp = fsp};
    if (us < 0) {
        d.neg = 1;
        us = -us;
    }
    if (us > (int64_t)SQL_TIME_MAX_S * 1000000) {
        sql_fn_warn(ctx, 1292, "Truncated incorrect time value");
        us = (int64_t)SQL_TIME_MAX_S * 1000000;
    }
    int64_t s = us / 1000000;
    d.hour = (int)(s / 3600);
    d.minute = (int)(s / 60 % 60);
    d.second = (int)(s % 60);
    d.usec = (int)(us % 1000000);
    result_dt(ctx, &d);
}

/* MAKETIME(h, m, s) → TIME text; NULL when m or s is outside 0–59. */
static void f_maketime(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    if (sql_fn_any_null(argc, argv)) {
        sqlite3_result_null(ctx);
        return;
    }
    int64_t h = sqlite3_value_int64(argv[0]);
    int64_t m = sqlite3_value_int64(argv[1]);
    double sec = sqlite3_value_double(argv[2]);
    if (m < 0 || m > 59 || sec < 0 || sec >= 60 || h > 100000 || h < -100000) {
        sqlite3_result_null(ctx);
        return;
    }
    int fsp = sqlite3_value_type(argv[2]) == SQLITE_FLOAT ? real_fsp(sec) : 0;
    int64_t us = ((h < 0 ? -h : h) * 3600 + m * 60) * 1000000 + llround(sec * 1e6);
    result_time_us(ctx, h < 0 ? -us : us, fsp);
}

/* SEC_TO_TIME(s) → TIME text. */
static void f_sec_to_time(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    int t = sqlite3_value_type(argv[0]);
    if (t == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    double x = sqlite3_value_double(argv[0]);
    if (x > 1e12) {
        x = 1e12;
    } else if (x < -1e12) {
        x = -1e12;
    }
    result_time_us(ctx, llround(x * 1e6), t == SQLITE_FLOAT ? real_fsp(x) : 0);
}

/* DATEDIFF(a, b) → INTEGER days (time parts ignored). */
static void f_datediff(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    sql_dt a, b;
    if (!arg_date(ctx, argv[0], &a) || !arg_date(ctx, argv[1], &b)) {
        sqlite3_result_null(ctx);
        return;
    }
    sqlite3_result_int64(ctx, sql_dt_daynr(a.year, a.month, a.day) -
                                  sql_dt_daynr(b.year, b.month, b.day));
}

/* Reads an argument of TIMEDIFF: a DATETIME (kind DATETIME) or a TIME. */
static int arg_dt_or_time(sqlite3_context *ctx, sqlite3_value *v, sql_dt *d)
{
    if (sqlite3_value_type(v) == SQLITE_TEXT) {
        sql_fn_str a = sql_fn_get_str(v);
        if (sql_dt_parse((const char *)a.p, a.n, d) == 0 && d->kind == SQL_DT_DATETIME) {
            return 1;
        }
    }
    return arg_time(ctx, v, d);
}

/* TIMEDIFF(a, b) → TIME text a - b; NULL when one is a DATETIME and the other a TIME. */
static void f_timediff(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    sql_dt a, b;
    if (!arg_dt_or_time(ctx, argv[0], &a) || !arg_dt_or_time(ctx, argv[1], &b) ||
        a.kind != b.kind) {
        sqlite3_result_null(ctx);
        return;
    }
    result_time_us(ctx, sql_dt_to_us(&a) - sql_dt_to_us(&b), a.fsp > b.fsp ? a.fsp : b.fsp);
}

/* The unit named by a text argument ('DAY' …), or -1 with error 1064-like NULL. */
static int arg_unit(sqlite3_value *v)
{
    sql_fn_str u = sql_fn_get_str(v);
    return sql_iv_unit_find((const char *)u.p, u.n);
}

/* Reads the interval value v in unit; sign -1 subtracts. */
static int arg_iv(sqlite3_value *v, int unit, int sign, sql_iv *iv)
{
    int t = sqlite3_value_type(v);
    char buf[64];
    const char *p;
    size_t n;
    memset(iv, 0, sizeof(*iv));
    if (t == SQLITE_FLOAT && (unit == SQL_IV_SECOND || unit == SQL_IV_MICROSECOND)) {
        double x = sqlite3_value_double(v);
        if (fabs(x) > 1e14) {
            return -1;
        }
        iv->us = unit == SQL_IV_SECOND ? llround(x * 1e6) : llround(x);
        iv->fsp = unit == SQL_IV_SECOND ? real_fsp(x) : 6;
    } else {
        if (t == SQLITE_FLOAT && unit < SQL_IV_SECOND_MICROSECOND) {
            double x = sqlite3_value_double(v);
            if (fabs(x) > 1e15) {
                return -1;
            }
            snprintf(buf, sizeof(buf), "%lld", (long long)llround(x)); /* 1.5 DAY is 2 days */
            p = buf;
            n = strlen(buf);
        } else if (t == SQLITE_FLOAT) {
            snprintf(buf, sizeof(buf), "%.15g", sqlite3_value_double(v));
            p = buf;
            n = strlen(buf);
        } else {
            sql_fn_str a = sql_fn_get_str(v);
            p = (const char *)a.p;
            n = a.n;
        }
        if (sql_iv_parse(p, n, unit, iv) != 0) {
            return -1;
        }
    }
    if (sign < 0) {
        iv->months = -iv->months;
        iv->us = -iv->us;
    }
    return 0;
}

/* d + interval(v, unit) * sign → DATE or DATETIME text; NULL (warning 1441) outside the range. */
static void date_add(sqlite3_context *ctx, sqlite3_value *dv, sqlite3_value *v, int unit, int sign)
{
    sql_dt d, r;
    sql_iv iv;
    if (sqlite3_value_type(v) == SQLITE_NULL || !arg_dt(ctx, dv, &d)) {
        sqlite3_result_null(ctx);
        return;
    }
    if (unit < 0 || arg_iv(v, unit, sign, &iv) != 0) {
        sqlite3_result_null(ctx);
        return;
    }
    if (!sql_dt_valid_date(&d)) {
        warn_bad(ctx, dv, "datetime");
        sqlite3_result_null(ctx);
        return;
    }
    if (sql_dt_add(&d, &iv, unit, &r) != 0) {
        sql_fn_warn(ctx, 1441, "Datetime function: datetime field overflow");
        sqlite3_result_null(ctx);
        return;
    }
    result_dt(ctx, &r);
}

/* _tdb_date_add(d, n, 'UNIT', sign): the translator's `d ± INTERVAL n UNIT`. */
static void f_tdb_date_add(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    date_add(ctx, argv[0], argv[1], arg_unit(argv[2]), sqlite3_value_int(argv[3]) < 0 ? -1 : 1);
}

/* DATE_ADD(d, n, 'UNIT') and ADDDATE (the translator turns `INTERVAL n UNIT` into `n, 'UNIT'`);
 * ADDDATE(d, days). */
static void f_date_add(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    date_add(ctx, argv[0], argv[1], argc > 2 ? arg_unit(argv[2]) : SQL_IV_DAY, 1);
}

static void f_date_sub(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    date_add(ctx, argv[0], argv[1], argc > 2 ? arg_unit(argv[2]) : SQL_IV_DAY, -1);
}

/* TIMESTAMPADD(unit, n, d) → DATE or DATETIME text. */
static void f_timestampadd(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    int unit = arg_unit(argv[0]);
    if (unit > SQL_IV_YEAR) {
        sqlite3_result_null(ctx);
        return;
    }
    date_add(ctx, argv[2], argv[1], unit, 1);
}

/* TIMESTAMPDIFF(unit, a, b) → INTEGER: whole units from a to b. */
static void f_timestampdiff(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    sql_dt a, b;
    int unit = arg_unit(argv[0]);
    if (unit < 0 || unit > SQL_IV_YEAR || !arg_date(ctx, argv[1], &a) ||
        !arg_date(ctx, argv[2], &b)) {
        sqlite3_result_null(ctx);
        return;
    }
    a.kind = b.kind = SQL_DT_DATETIME;
    int64_t ua = sql_dt_to_us(&a), ub = sql_dt_to_us(&b);
    if (unit >= SQL_IV_MONTH) {
        int64_t months = ((int64_t)b.year * 12 + b.month) - ((int64_t)a.year * 12 + a.month);
        /* the rest of the month: day and time of day */
        int64_t ra = ua - sql_dt_daynr(a.year, a.month, 1) * 86400000000LL;
        int64_t rb = ub - sql_dt_daynr(b.year, b.month, 1) * 86400000000LL;
        if (months > 0 && rb < ra) {
            months--;
        } else if (months < 0 && rb > ra) {
            months++;
        }
        int64_t div = unit == SQL_IV_YEAR ? 12 : unit == SQL_IV_QUARTER ? 3 : 1;
        sqlite3_result_int64(ctx, months / div);
        return;
    }
    static const int64_t per[] = {
        1, 1000000, 60000000, 3600000000LL, 86400000000LL, 604800000000LL};
    sqlite3_result_int64(ctx, (ub - ua) / per[unit]);
}

/* _tdb_extract('UNIT', d) → INTEGER: EXTRACT(unit FROM d). */
static void f_extract(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    int unit = arg_unit(argv[0]);
    sql_dt d;
    if (sqlite3_value_type(argv[1]) == SQLITE_NULL || unit < 0) {
        sqlite3_result_null(ctx);
        return;
    }
    int timeish =
        unit <= SQL_IV_HOUR || (unit >= SQL_IV_SECOND_MICROSECOND && unit <= SQL_IV_HOUR_MINUTE);
    int ok;
    if (timeish && sqlite3_value_type(argv[1]) == SQLITE_TEXT) {
        sql_fn_str a = sql_fn_get_str(argv[1]);
        ok = (sql_dt_parse((const char *)a.p, a.n, &d) == 0 && d.kind == SQL_DT_DATETIME) ||
             arg_time(ctx, argv[1], &d);
    } else {
        ok = arg_dt(ctx, argv[1], &d);
    }
    if (!ok) {
        sqlite3_result_null(ctx);
        return;
    }
    int64_t v;
    int64_t hms = (int64_t)d.hour * 10000 + d.minute * 100 + d.second;
    int y;
    switch (unit) {
    case SQL_IV_MICROSECOND:
        v = d.usec;
        break;
    case SQL_IV_SECOND:
        v = d.second;
        break;
    case SQL_IV_MINUTE:
        v = d.minute;
        break;
    case SQL_IV_HOUR:
        v = d.hour;
        break;
    case SQL_IV_DAY:
        v = d.day;
        break;
    case SQL_IV_WEEK:
        if (!sql_dt_valid_date(&d)) {
            sqlite3_result_null(ctx);
            return;
        }
        v = sql_dt_week(&d, 0, &y);
        break;
    case SQL_IV_MONTH:
        v = d.month;
        break;
    case SQL_IV_QUARTER:
        v = (d.month + 2) / 3;
        break;
    case SQL_IV_YEAR:
        v = d.year;
        break;
    case SQL_IV_SECOND_MICROSECOND:
        v = (int64_t)d.second * 1000000 + d.usec;
        break;
    case SQL_IV_MINUTE_MICROSECOND:
        v = ((int64_t)d.minute * 100 + d.second) * 1000000 + d.usec;
        break;
    case SQL_IV_MINUTE_SECOND:
        v = (int64_t)d.minute * 100 + d.second;
        break;
    case SQL_IV_HOUR_MICROSECOND:
        v = hms * 1000000 + d.usec;
        break;
    case SQL_IV_HOUR_SECOND:
        v = hms;
        break;
    case SQL_IV_HOUR_MINUTE:
        v = (int64_t)d.hour * 100 + d.minute;
        break;
    case SQL_IV_DAY_MICROSECOND:
        v = ((int64_t)d.day * 1000000 + hms) * 1000000 + d.usec;
        break;
    case SQL_IV_DAY_SECOND:
        v = (int64_t)d.day * 1000000 + hms;
        break;
    case SQL_IV_DAY_MINUTE:
        v = (int64_t)d.day * 10000 + d.hour * 100 + d.minute;
        break;
    case SQL_IV_DAY_HOUR:
        v = (int64_t)d.day * 100 + d.hour;
        break;
    default: /* YEAR_MONTH */
        v = (int64_t)d.year * 100 + d.month;
        break;
    }
    if (d.neg) {
        v = -v;
    }
    sqlite3_result_int64(ctx, v);
}

static void format_dt(sqlite3_context *ctx, const sql_dt *d, sqlite3_value *fmt)
{
    sql_fn_str f = sql_fn_get_str(fmt);
    cm_buf out = CM_BUF_INIT;
    if (sql_dt_date_format(d, (const char *)f.p, f.n, &out) != 0) {
        cm_buf_fini(&out);
        sqlite3_result_error_nomem(ctx);
        return;
    }
    sql_fn_result_str(ctx, NULL, out.ptr, out.len);
    cm_buf_fini(&out);
}

/* DATE_FORMAT(d, fmt) → TEXT. */
static void f_date_format(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    sql_dt d;
    if (sql_fn_any_null(argc, argv) || !arg_dt(ctx, argv[0], &d)) {
        sqlite3_result_null(ctx);
        return;
    }
    format_dt(ctx, &d, argv[1]);
}

/* TIME_FORMAT(t, fmt) → TEXT (hour specifiers only make sense; %H may exceed 23). */
static void f_time_format(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    sql_dt d;
    if (sql_fn_any_null(argc, argv) || !arg_time(ctx, argv[0], &d)) {
        sqlite3_result_null(ctx);
        return;
    }
    format_dt(ctx, &d, argv[1]);
}

/* STR_TO_DATE(s, fmt) → DATE, TIME or DATETIME text; NULL and warning 1411 when s does not
 * match. */
static void f_str_to_date(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    if (sql_fn_any_null(argc, argv)) {
        sqlite3_result_null(ctx);
        return;
    }
    sql_fn_str s = sql_fn_get_str(argv[0]);
    sql_fn_str f = sql_fn_get_str(argv[1]);
    sql_dt d;
    if (sql_dt_str_to_date((const char *)s.p, s.n, (const char *)f.p, f.n, &d) != 0) {
        sql_fn_warn(ctx, 1411, "Incorrect datetime value: '%.*s' for function str_to_date",
                    (int)(s.n > 64 ? 64 : s.n), (const char *)s.p);
        sqlite3_result_null(ctx);
        return;
    }
    result_dt(ctx, &d);
}

/* FROM_UNIXTIME(ts[, fmt]) → DATETIME text in the session's time zone (or fmt applied). */
static void f_from_unixtime(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    if (sql_fn_any_null(argc, argv)) {
        sqlite3_result_null(ctx);
        return;
    }
    double secs = sqlite3_value_double(argv[0]);
    if (secs < 0 || secs > 32536771199.0) {
        sqlite3_result_null(ctx);
        return;
    }
    int fsp = sqlite3_value_type(argv[0]) == SQLITE_FLOAT ? real_fsp(secs) : 0;
    char buf[48];
    sql_func_format_time(SQL_FN_SESS(ctx), llround(secs * 1e6), 0, fsp, buf, sizeof(buf));
    if (argc == 1) {
        sqlite3_result_text(ctx, buf, -1, SQLITE_TRANSIENT);
        return;
    }
    sql_dt d;
    if (sql_dt_parse(buf, strlen(buf), &d) != 0) {
        sqlite3_result_null(ctx);
        return;
    }
    format_dt(ctx, &d, argv[1]);
}

/* TIMESTAMP(d) → DATETIME text; TIMESTAMP(d, t) adds the time t. */
static void f_timestamp(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    sql_dt d, t;
    if (sql_fn_any_null(argc, argv) || !arg_dt(ctx, argv[0], &d)) {
        sqlite3_result_null(ctx);
        return;
    }
    d.kind = SQL_DT_DATETIME;
    if (argc > 1) {
        if (!arg_time(ctx, argv[1], &t)) {
            sqlite3_result_null(ctx);
            return;
        }
        sql_iv iv = {0, sql_dt_to_us(&t), t.fsp};
        sql_dt r;
        if (sql_dt_add(&d, &iv, SQL_IV_MICROSECOND, &r) != 0) {
            sqlite3_result_null(ctx);
            return;
        }
        d = r;
    }
    result_dt(ctx, &d);
}

/* ADDTIME(t1, t2) / SUBTIME(t1, t2) → DATETIME text when t1 is a DATETIME, TIME text when it
 * is a TIME; t2 is a TIME. */
static void add_time(sqlite3_context *ctx, sqlite3_value **argv, int sign)
{
    sql_dt a, b;
    if (!arg_dt_or_time(ctx, argv[0], &a) || !arg_time(ctx, argv[1], &b)) {
        sqlite3_result_null(ctx);
        return;
    }
    int64_t us = sql_dt_to_us(&b) * sign;
    int fsp = a.fsp > b.fsp ? a.fsp : b.fsp;
    if (a.kind == SQL_DT_TIME) {
        result_time_us(ctx, sql_dt_to_us(&a) + us, fsp);
        return;
    }
    sql_dt r;
    if (sql_dt_from_us(sql_dt_to_us(&a) + us, &r) != 0) {
        sqlite3_result_null(ctx);
        return;
    }
    r.fsp = fsp;
    result_dt(ctx, &r);
}

static void f_addtime(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    add_time(ctx, argv, 1);
}

static void f_subtime(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    add_time(ctx, argv, -1);
}

/* A time zone argument of CONVERT_TZ as seconds east of UTC: '+hh:mm' / '-hh:mm', 'UTC' or
 * 'SYSTEM' (the session's zone when it is an offset). -1 when unknown (named zones need MySQL's
 * time zone tables, which Tessera does not have: MySQL then returns NULL too). */
static int tz_offset(sqlite3_context *ctx, sqlite3_value *v, int64_t *out)
{
    sql_fn_str z = sql_fn_get_str(v);
    const char *p = (const char *)z.p;
    if ((z.n == 3 && strncasecmp(p, "UTC", 3) == 0)) {
        *out = 0;
        return 0;
    }
    if (z.n == 6 && strncasecmp(p, "SYSTEM", 6) == 0) {
        sql_sess *s = SQL_FN_SESS(ctx);
        if (s->tz_system) {
            return -1;
        }
        *out = s->tz_offset_s;
        return 0;
    }
    int h, m, n = 0;
    char sign;
    char buf[16];
    if (z.n >= sizeof(buf)) {
        return -1;
    }
    memcpy(buf, p, z.n);
    buf[z.n] = '\0';
    if (sscanf(buf, "%c%d:%2d%n", &sign, &h, &m, &n) != 3 || (size_t)n != z.n ||
        (sign != '+' && sign != '-') || h > 14 || m > 59 || (h == 14 && m > 0)) {
        return -1;
    }
    *out = (sign == '-' ? -1 : 1) * ((int64_t)h * 3600 + m * 60);
    return 0;
}

/* CONVERT_TZ(dt, from, to) → DATETIME text; NULL for unknown zones. */
static void f_convert_tz(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    sql_dt d, r;
    int64_t from, to;
    if (sql_fn_any_null(argc, argv) || !arg_dt(ctx, argv[0], &d) || !sql_dt_valid_date(&d) ||
        tz_offset(ctx, argv[1], &from) != 0 || tz_offset(ctx, argv[2], &to) != 0) {
        sqlite3_result_null(ctx);
        return;
    }
    d.kind = SQL_DT_DATETIME;
    int fsp = d.fsp;
    if (sql_dt_from_us(sql_dt_to_us(&d) + (to - from) * 1000000, &r) != 0) {
        sqlite3_result_null(ctx);
        return;
    }
    r.fsp = fsp;
    result_dt(ctx, &r);
}

/* TO_SECONDS(d) → INTEGER: seconds since year 0 (TO_DAYS × 86400 + the time of day). */
static void f_to_seconds(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    sql_dt d;
    if (!arg_date(ctx, argv[0], &d)) {
        sqlite3_result_null(ctx);
        return;
    }
    sqlite3_result_int64(ctx,
                         sql_dt_daynr(d.year, d.month, d.day) * 86400 + sql_dt_time_seconds(&d));
}

/* A period (YYMM or YYYYMM) as months since year 0; -1 when malformed. */
static int64_t period_months(int64_t p)
{
    if (p <= 0 || p > 999999) {
        return p == 0 ? 0 : -1;
    }
    int64_t y = p / 100, m = p % 100;
    if (m < 1 || m > 12) {
        return -1;
    }
    if (y < 70) {
        y += 2000;
    } else if (y < 100) {
        y += 1900;
    }
    return y * 12 + m - 1;
}

/* PERIOD_ADD(P, N) → INTEGER YYYYMM; PERIOD_DIFF(P1, P2) → INTEGER months. */
static void f_period_add(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    if (sql_fn_any_null(argc, argv)) {
        sqlite3_result_null(ctx);
        return;
    }
    int64_t m = period_months(sqlite3_value_int64(argv[0]));
    int64_t n = sqlite3_value_int64(argv[1]);
    if (m < 0 || n > 1200000 || n < -1200000 || m + n < 0) {
        sqlite3_result_null(ctx);
        return;
    }
    if (m == 0) {
        sqlite3_result_int(ctx, 0);
        return;
    }
    m += n;
    sqlite3_result_int64(ctx, (m / 12) * 100 + m % 12 + 1);
}

static void f_period_diff(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    if (sql_fn_any_null(argc, argv)) {
        sqlite3_result_null(ctx);
        return;
    }
    int64_t a = period_months(sqlite3_value_int64(argv[0]));
    int64_t b = period_months(sqlite3_value_int64(argv[1]));
    if (a < 0 || b < 0) {
        sqlite3_result_null(ctx);
        return;
    }
    sqlite3_result_int64(ctx, a - b);
}

static const sql_fn_def time_fns[] = {
    {"convert_tz", 3, 0, f_convert_tz},
    {"to_seconds", 1, 1, f_to_seconds},
    {"period_add", 2, 1, f_period_add},
    {"period_diff", 2, 1, f_period_diff},
    {"addtime", 2, 1, f_addtime},
    {"subtime", 2, 1, f_subtime},
    {"year", 1, 1, f_year},
    {"month", 1, 1, f_month},
    {"day", 1, 1, f_day},
    {"dayofmonth", 1, 1, f_day},
    {"dayofweek", 1, 1, f_dayofweek},
    {"weekday", 1, 1, f_weekday},
    {"dayofyear", 1, 1, f_dayofyear},
    {"quarter", 1, 1, f_quarter},
    {"to_days", 1, 1, f_to_days},
    {"dayname", 1, 1, f_dayname},
    {"monthname", 1, 1, f_monthname},
    {"last_day", 1, 1, f_last_day},
    {"date", 1, 1, f_date},
    {"hour", 1, 1, f_hour},
    {"minute", 1, 1, f_minute},
    {"second", 1, 1, f_second},
    {"microsecond", 1, 1, f_microsecond},
    {"time", 1, 1, f_time},
    {"time_to_sec", 1, 1, f_time_to_sec},
    {"week", 1, 0, f_week},
    {"week", 2, 1, f_week},
    {"weekofyear", 1, 1, f_weekofyear},
    {"yearweek", 1, 1, f_yearweek},
    {"yearweek", 2, 1, f_yearweek},
    {"from_days", 1, 1, f_from_days},
    {"makedate", 2, 1, f_makedate},
    {"maketime", 3, 1, f_maketime},
    {"sec_to_time", 1, 1, f_sec_to_time},
    {"datediff", 2, 1, f_datediff},
    {"timediff", 2, 1, f_timediff},
    {"_tdb_date_add", 4, 1, f_tdb_date_add},
    {"date_add", 3, 1, f_date_add},
    {"adddate", 3, 1, f_date_add},
    {"adddate", 2, 1, f_date_add},
    {"date_sub", 3, 1, f_date_sub},
    {"subdate", 3, 1, f_date_sub},
    {"subdate", 2, 1, f_date_sub},
    {"timestampadd", 3, 1, f_timestampadd},
    {"timestampdiff", 3, 1, f_timestampdiff},
    {"_tdb_extract", 2, 1, f_extract},
    {"date_format", 2, 1, f_date_format},
    {"time_format", 2, 1, f_time_format},
    {"str_to_date", 2, 1, f_str_to_date},
    {"from_unixtime", 1, 0, f_from_unixtime},
    {"from_unixtime", 2, 0, f_from_unixtime},
    {"timestamp", 1, 1, f_timestamp},
    {"timestamp", 2, 1, f_timestamp},
};

int sql_func_time_register(sql_sess *s)
{
    return sql_fn_register_table(s, time_fns, sizeof(time_fns) / sizeof(time_fns[0]));
}
