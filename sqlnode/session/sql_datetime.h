/*
 * sql_datetime.h — MySQL's calendar arithmetic without SQLite: parsing of DATE / DATETIME /
 * TIME text, day numbers (TO_DAYS), week numbers in the eight WEEK() modes, INTERVAL values and
 * date addition with end-of-month clamping, DATE_FORMAT and STR_TO_DATE. Pure functions over
 * sql_dt, unit-tested in sqlnode/test/test_datetime.c; sql_func_time.c registers the SQL side.
 */
#ifndef SQL_DATETIME_H
#define SQL_DATETIME_H

#include "cm_buf.h"

#include <stddef.h>
#include <stdint.h>

enum { SQL_DT_DATE = 1, SQL_DT_DATETIME = 2, SQL_DT_TIME = 3 };

/* A broken-down MySQL temporal value. For TIME, hour may reach 838 and neg marks a negative
 * value; year/month/day are 0. fsp: fractional digits the text had (0–6), which results show
 * (MySQL takes a constant's precision from its digits: TIME('10:00:00.5') is 10:00:00.5). */
typedef struct sql_dt {
    int kind; /* SQL_DT_* */
    int year, month, day;
    int hour, minute, second, usec;
    int neg;
    int fsp;
} sql_dt;

/* The largest TIME MySQL holds: 838:59:59 (in seconds). */
#define SQL_TIME_MAX_S (838 * 3600 + 59 * 60 + 59)

/* Parses a DATE or DATETIME text (delimited 'Y-M-D[ H:M:S[.f]]' with any punctuation, or the
 * digit-only forms YYMMDD, YYYYMMDD, YYMMDDHHMMSS, YYYYMMDDHHMMSS). Zero months and days pass
 * (MySQL keeps '2020-00-00'); other out-of-range parts fail. Returns 0 or -1. */
int sql_dt_parse(const char *p, size_t n, sql_dt *out);
/* Parses a TIME text ('[-][D ]H:M:S[.f]', 'H:M', 'HHMMSS', 'SS'), or a DATETIME text (its time
 * part). Returns 0 or -1. */
int sql_dt_parse_time(const char *p, size_t n, sql_dt *out);
/* A number as MySQL reads it in a date context: 20200131 → DATE, 20200131123000 → DATETIME. */
int sql_dt_from_int(int64_t v, sql_dt *out);

int sql_dt_days_in_month(int year, int month);
/* A real calendar date (month 1–12, day within the month). */
int sql_dt_valid_date(const sql_dt *d);
/* MySQL's day number (TO_DAYS): '0001-01-01' is 366, '1970-01-01' is 719528. */
int64_t sql_dt_daynr(int year, int month, int day);
/* The inverse of sql_dt_daynr; -1 when the day number is outside years 0–9999. */
int sql_dt_from_daynr(int64_t daynr, int *year, int *month, int *day);
/* 0 = Monday … 6 = Sunday. */
int sql_dt_weekday(int64_t daynr);
/* WEEK(date, mode) for modes 0–7; *year receives the year the week belongs to (YEARWEEK). */
int sql_dt_week(const sql_dt *d, int mode, int *year);

/* Seconds of the time of day (or of a TIME, signed). */
int64_t sql_dt_time_seconds(const sql_dt *d);
/* Microseconds since 0000-00-00 00:00:00 by day numbers (for differences). */
int64_t sql_dt_to_us(const sql_dt *d);
/* Back from sql_dt_to_us as a DATETIME; -1 outside years 0–9999. */
int sql_dt_from_us(int64_t us, sql_dt *out);

/* INTERVAL units. */
typedef enum sql_iv_unit {
    SQL_IV_MICROSECOND,
    SQL_IV_SECOND,
    SQL_IV_MINUTE,
    SQL_IV_HOUR,
    SQL_IV_DAY,
    SQL_IV_WEEK,
    SQL_IV_MONTH,
    SQL_IV_QUARTER,
    SQL_IV_YEAR,
    SQL_IV_SECOND_MICROSECOND,
    SQL_IV_MINUTE_MICROSECOND,
    SQL_IV_MINUTE_SECOND,
    SQL_IV_HOUR_MICROSECOND,
    SQL_IV_HOUR_SECOND,
    SQL_IV_HOUR_MINUTE,
    SQL_IV_DAY_MICROSECOND,
    SQL_IV_DAY_SECOND,
    SQL_IV_DAY_MINUTE,
    SQL_IV_DAY_HOUR,
    SQL_IV_YEAR_MONTH,
    SQL_IV_COUNT
} sql_iv_unit;

/* The unit named name (case-insensitive, n bytes), or -1. */
int sql_iv_unit_find(const char *name, size_t n);
const char *sql_iv_unit_name(int unit);
/* Whether a unit has a time part (the result of DATE + INTERVAL is then a DATETIME). */
int sql_iv_unit_has_time(int unit);

/* An interval: months and microseconds, each signed. */
typedef struct sql_iv {
    int64_t months;
    int64_t us;
    int fsp; /* fractional digits the value shows (0–6): a result shows the most of its inputs */
} sql_iv;

/* Reads an interval value given as text ('1:30' for MINUTE_SECOND, '-1 2' for DAY_HOUR …) in
 * unit; units with a microsecond part show 6 fractional digits. Returns 0 or -1 (no digits, a
 * part out of range). */
int sql_iv_parse(const char *p, size_t n, int unit, sql_iv *out);
/* Adds iv to d (DATE or DATETIME; days past the end of a month are clamped to its last day).
 * The result is a DATETIME unless d is a DATE and the interval has no time part. Returns 0, or
 * -1 when the result leaves years 0–9999. */
int sql_dt_add(const sql_dt *d, const sql_iv *iv, int unit, sql_dt *out);

/* Text of a value as MySQL prints it: 'YYYY-MM-DD', 'YYYY-MM-DD HH:MM:SS[.ffffff]',
 * '[-]HH:MM:SS[.ffffff]' (fsp digits of the fraction). Returns the length written. */
size_t sql_dt_format(const sql_dt *d, char *buf, size_t cap);

/* DATE_FORMAT(d, fmt): appends the formatted text to out. Returns 0 or CM_E_NOMEM. */
int sql_dt_date_format(const sql_dt *d, const char *fmt, size_t fn, cm_buf *out);
/* STR_TO_DATE(s, fmt): 0 and *out (kind DATE, TIME or DATETIME from the specifiers the format
 * uses), or -1 when s does not match. */
int sql_dt_str_to_date(const char *s, size_t sn, const char *fmt, size_t fn, sql_dt *out);

#endif
