/* sql_datetime.c — MySQL's calendar arithmetic (see sql_datetime.h). */
#include "sql_datetime.h"

#include "cm_err.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const month_names[] = {"January",   "February", "March",    "April",
                                          "May",       "June",     "July",     "August",
                                          "September", "October",  "November", "December"};
static const char *const day_names[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                        "Friday", "Saturday", "Sunday"};

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

int sql_dt_days_in_month(int year, int month)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month < 1 || month > 12) {
        return 0;
    }
    if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0)) {
        return 29;
    }
    return dim[month - 1];
}

int sql_dt_valid_date(const sql_dt *d)
{
    return d->month >= 1 && d->month <= 12 && d->day >= 1 &&
           d->day <= sql_dt_days_in_month(d->year, d->month);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (eras of 400 years). */
static int64_t civil_days(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* MySQL numbers '1970-01-01' 719528. */
#define DAYNR_EPOCH 719528

int64_t sql_dt_daynr(int year, int month, int day)
{
    return civil_days(year, month, day) + DAYNR_EPOCH;
}

int sql_dt_from_daynr(int64_t daynr, int *year, int *month, int *day)
{
    if (daynr < 1 || daynr > 3652424) { /* '0000-01-01' … '9999-12-31' */
        return -1;
    }
    int64_t z = daynr - DAYNR_EPOCH + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1);
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = (int)(y + (m <= 2));
    *month = m;
    *day = d;
    return 0;
}

int sql_dt_weekday(int64_t daynr)
{
    return (int)((daynr + 5) % 7);
}

/* First day of week 1 of year y. monday: weeks start on Monday; four: week 1 is the first week
 * with four or more days in the year (else the first week starting in the year). */
static int64_t week1_start(int y, int monday, int four)
{
    int64_t jan1 = sql_dt_daynr(y, 1, 1);
    int wd = sql_dt_weekday(jan1); /* 0 Monday */
    int off = monday ? wd : (wd + 1) % 7;
    if (four) {
        return off <= 3 ? jan1 - off : jan1 + 7 - off;
    }
    return off == 0 ? jan1 : jan1 + 7 - off;
}

int sql_dt_week(const sql_dt *d, int mode, int *year)
{
    static const int monday_first[8] = {0, 1, 0, 1, 0, 1, 0, 1};
    static const int four_days[8] = {0, 1, 0, 1, 1, 0, 1, 0};
    static const int from_one[8] = {0, 0, 1, 1, 0, 0, 1, 1};
    mode &= 7;
    int mon = monday_first[mode], four = four_days[mode];
    int64_t dn = sql_dt_daynr(d->year, d->month, d->day);
    int y = d->year;
    int64_t ws = week1_start(y, mon, four);
    if (dn < ws) {
        if (!from_one[mode]) {
            *year = y;
            return 0;
        }
        y--;
        ws = week1_start(y, mon, four);
    } else if (from_one[mode]) {
        int64_t next = week1_start(y + 1, mon, four);
        if (dn >= next) {
            *year = y + 1;
            return 1;
        }
    }
    *year = y;
    return (int)((dn - ws) / 7 + 1);
}

int64_t sql_dt_time_seconds(const sql_dt *d)
{
    int64_t s = (int64_t)d->hour * 3600 + d->minute * 60 + d->second;
    return d->neg ? -s : s;
}

int64_t sql_dt_to_us(const sql_dt *d)
{
    if (d->kind == SQL_DT_TIME) {
        int64_t us = ((int64_t)d->hour * 3600 + d->minute * 60 + d->second) * 1000000 + d->usec;
        return d->neg ? -us : us;
    }
    int64_t days = sql_dt_daynr(d->year, d->month, d->day);
    return (days * 86400 + (int64_t)d->hour * 3600 + d->minute * 60 + d->second) * 1000000 +
           d->usec;
}

int sql_dt_from_us(int64_t us, sql_dt *out)
{
    if (us < 0) {
        return -1;
    }
    int64_t secs = us / 1000000;
    int64_t days = secs / 86400;
    int64_t rem = secs % 86400;
    memset(out, 0, sizeof(*out));
    out->kind = SQL_DT_DATETIME;
    if (sql_dt_from_daynr(days, &out->year, &out->month, &out->day) != 0) {
        return -1;
    }
    out->hour = (int)(rem / 3600);
    out->minute = (int)(rem / 60 % 60);
    out->second = (int)(rem % 60);
    out->usec = (int)(us % 1000000);
    return 0;
}

/* ---- parsing ---- */

/* Reads up to 6 fractional digits after '.', as microseconds; *digits gets how many were read. */
static int read_frac(const char **pp, const char *e, int *digits)
{
    const char *p = *pp;
    int f = 0, k = 0;
    while (p < e && is_digit(*p)) {
        if (k < 6) {
            f = f * 10 + (*p - '0');
            k++;
        }
        p++;
    }
    *digits = k;
    for (int i = k; i < 6; i++) {
        f *= 10;
    }
    *pp = p;
    return f;
}

static int year2(int v, int ndigits)
{
    if (ndigits <= 2) {
        return v < 70 ? 2000 + v : 1900 + v;
    }
    return v;
}

static int check_dt(sql_dt *d)
{
    if (d->year > 9999 || d->month > 12 || d->day > 31 || d->hour > 23 || d->minute > 59 ||
        d->second > 59) {
        return -1;
    }
    if (d->month > 0 && d->day > sql_dt_days_in_month(d->year, d->month)) {
        return -1;
    }
    return 0;
}

/* Digit-only text: YYMMDD, YYYYMMDD, YYMMDDHHMMSS, YYYYMMDDHHMMSS (MySQL's packed forms). */
static int parse_packed(const char *p, size_t n, sql_dt *d)
{
    int v[7] = {0};
    int ylen = (n == 8 || n == 14) ? 4 : 2;
    if (n != 6 && n != 8 && n != 12 && n != 14) {
        return -1;
    }
    size_t i = 0;
    for (int g = 0; i < n; g++) {
        int len = g == 0 ? ylen : 2;
        for (int k = 0; k < len; k++) {
            v[g] = v[g] * 10 + (p[i++] - '0');
        }
    }
    d->year = year2(v[0], ylen);
    d->month = v[1];
    d->day = v[2];
    d->hour = v[3];
    d->minute = v[4];
    d->second = v[5];
    d->kind = n >= 12 ? SQL_DT_DATETIME : SQL_DT_DATE;
    return 0;
}

int sql_dt_parse(const char *p, size_t n, sql_dt *out)
{
    const char *e = p + n;
    memset(out, 0, sizeof(*out));
    while (p < e && is_space(*p)) {
        p++;
    }
    while (e > p && is_space(e[-1])) {
        e--;
    }
    const char *q = p;
    while (q < e && is_digit(*q)) {
        q++;
    }
    if (q == p) {
        return -1;
    }
    if (q == e || *q == '.') {
        if (parse_packed(p, (size_t)(q - p), out) != 0) {
            return -1;
        }
        if (q < e) {
            if (out->kind != SQL_DT_DATETIME) {
                return -1;
            }
            q++;
            int digits;
            out->usec = read_frac(&q, e, &digits);
            out->fsp = digits;
        }
        return check_dt(out);
    }
    int v[6] = {0};
    int len0 = 0;
    int g = 0;
    while (g < 6 && p < e) {
        const char *s = p;
        int64_t x = 0;
        while (p < e && is_digit(*p)) {
            x = x * 10 + (*p - '0');
            if (x > 1000000) {
                return -1;
            }
            p++;
        }
        if (p == s) {
            return -1;
        }
        if (g == 0) {
            len0 = (int)(p - s);
        }
        v[g++] = (int)x;
        if (p >= e) {
            break;
        }
        if (g >= 3 && *p == '.') {
            if (g == 3) {
                return -1;
            }
            break;
        }
        if (g == 3) {
            /* date / time separator: 'T' or spaces */
            if (*p != 'T' && *p != 't' && !is_space(*p)) {
                break;
            }
            while (p < e && (is_space(*p) || *p == 'T' || *p == 't')) {
                p++;
            }
            continue;
        }
        if (is_digit(*p) || is_space(*p) || *p == '.' || (unsigned char)*p >= 0x80) {
            if (g < 3) {
                return -1;
            }
            break;
        }
        p++; /* one punctuation delimiter */
    }
    if (g < 3) {
        return -1;
    }
    out->year = year2(v[0], len0);
    out->month = v[1];
    out->day = v[2];
    out->hour = v[3];
    out->minute = v[4];
    out->second = v[5];
    out->kind = g > 3 ? SQL_DT_DATETIME : SQL_DT_DATE;
    if (g == 6 && p < e && *p == '.') {
        p++;
        int digits;
        out->usec = read_frac(&p, e, &digits);
        out->fsp = digits;
    }
    return check_dt(out);
}

int sql_dt_parse_time(const char *p, size_t n, sql_dt *out)
{
    const char *e = p + n;
    memset(out, 0, sizeof(*out));
    while (p < e && is_space(*p)) {
        p++;
    }
    while (e > p && is_space(e[-1])) {
        e--;
    }
    /* A full datetime: its time part. */
    const char *q = p;
    while (q < e && is_digit(*q)) {
        q++;
    }
    if ((q < e && (*q == '-' || *q == '/') && q > p) || (q == e && (q - p) >= 12)) {
        sql_dt d;
        if (sql_dt_parse(p, (size_t)(e - p), &d) == 0 && d.kind == SQL_DT_DATETIME) {
            *out = d;
            out->kind = SQL_DT_TIME;
            out->year = out->month = out->day = 0;
            return 0;
        }
        if (q < e && *q != '-') {
            return -1;
        }
    }
    out->kind = SQL_DT_TIME;
    if (p < e && *p == '-') {
        out->neg = 1;
        p++;
    }
    int64_t v[4] = {0};
    int g = 0;
    int64_t days = 0;
    const char *s = p;
    while (p < e && is_digit(*p)) {
        v[0] = v[0] * 10 + (*p - '0');
        if (v[0] > 100000000) {
            return -1;
        }
        p++;
    }
    if (p == s) {
        return -1;
    }
    if (p < e && is_space(*p)) { /* 'D HH:MM:SS' */
        days = v[0];
        v[0] = 0;
        while (p < e && is_space(*p)) {
            p++;
        }
        s = p;
        while (p < e && is_digit(*p)) {
            v[0] = v[0] * 10 + (*p - '0');
            if (v[0] > 100000000) {
                return -1;
            }
            p++;
        }
        if (p == s) {
            return -1;
        }
    }
    g = 1;
    while (g < 3 && p < e && *p == ':') {
        p++;
        s = p;
        while (p < e && is_digit(*p)) {
            v[g] = v[g] * 10 + (*p - '0');
            if (v[g] > 100) {
                return -1;
            }
            p++;
        }
        if (p == s) {
            return -1;
        }
        g++;
    }
    int64_t h, mi, se;
    if (g == 1 && days == 0) { /* HHMMSS packed */
        h = v[0] / 10000;
        mi = v[0] / 100 % 100;
        se = v[0] % 100;
    } else {
        h = v[0] + days * 24;
        mi = v[1];
        se = v[2]; /* 'HH:MM' has no seconds */
    }
    if (p < e && *p == '.') {
        p++;
        int digits;
        out->usec = read_frac(&p, e, &digits);
        out->fsp = digits;
    }
    if (p < e) {
        return -1;
    }
    if (mi > 59 || se > 59) {
        return -1;
    }
    if (h > 838) {
        h = 838;
        mi = 59;
        se = 59;
        out->usec = 0;
    }
    out->hour = (int)h;
    out->minute = (int)mi;
    out->second = (int)se;
    if (h == 0 && mi == 0 && se == 0 && out->usec == 0) {
        out->neg = 0;
    }
    return 0;
}

int sql_dt_from_int(int64_t v, sql_dt *out)
{
    char buf[32];
    if (v < 0) {
        return -1;
    }
    int n = snprintf(buf, sizeof(buf), "%lld", (long long)v);
    if (n == 5 || n == 7 || n == 11 || n == 13) { /* leading zero dropped: 10101 is 0001-01-01 */
        memmove(buf + 1, buf, (size_t)n + 1);
        buf[0] = '0';
        n++;
    }
    return sql_dt_parse(buf, (size_t)n, out);
}

/* ---- intervals ---- */

static const char *const unit_names[SQL_IV_COUNT] = {"MICROSECOND",
                                                     "SECOND",
                                                     "MINUTE",
                                                     "HOUR",
                                                     "DAY",
                                                     "WEEK",
                                                     "MONTH",
                                                     "QUARTER",
                                                     "YEAR",
                                                     "SECOND_MICROSECOND",
                                                     "MINUTE_MICROSECOND",
                                                     "MINUTE_SECOND",
                                                     "HOUR_MICROSECOND",
                                                     "HOUR_SECOND",
                                                     "HOUR_MINUTE",
                                                     "DAY_MICROSECOND",
                                                     "DAY_SECOND",
                                                     "DAY_MINUTE",
                                                     "DAY_HOUR",
                                                     "YEAR_MONTH"};

int sql_iv_unit_find(const char *name, size_t n)
{
    for (int i = 0; i < SQL_IV_COUNT; i++) {
        if (strlen(unit_names[i]) == n && strncasecmp(unit_names[i], name, n) == 0) {
            return i;
        }
    }
    return -1;
}

const char *sql_iv_unit_name(int unit)
{
    return unit >= 0 && unit < SQL_IV_COUNT ? unit_names[unit] : "?";
}

int sql_iv_unit_has_time(int unit)
{
    return !(unit == SQL_IV_DAY || unit == SQL_IV_WEEK || unit == SQL_IV_MONTH ||
             unit == SQL_IV_QUARTER || unit == SQL_IV_YEAR || unit == SQL_IV_YEAR_MONTH);
}

/* Parts of each unit, largest first: y(ear) M(onth) d(ay) h m s u(microsecond). */
static const char *const unit_parts[SQL_IV_COUNT] = {
    "u",   "s",  "m",    "h",   "d",  "w",     "M",    "q",   "y",  "su",
    "msu", "ms", "hmsu", "hms", "hm", "dhmsu", "dhms", "dhm", "dh", "yM"};

int sql_iv_parse(const char *p, size_t n, int unit, sql_iv *out)
{
    const char *e = p + n;
    memset(out, 0, sizeof(*out));
    if (unit < 0 || unit >= SQL_IV_COUNT) {
        return -1;
    }
    const char *parts = unit_parts[unit];
    int np = (int)strlen(parts);
    while (p < e && is_space(*p)) {
        p++;
    }
    int neg = 0;
    if (p < e && *p == '-') {
        neg = 1;
        p++;
    }
    int64_t v[8] = {0};
    int vdig[8] = {0};
    int g = 0;
    while (p < e) {
        while (p < e && !is_digit(*p)) {
            p++;
        }
        if (p >= e) {
            break;
        }
        if (g >= np) {
            if (np == 1) {
                break; /* a simple unit reads the leading integer only */
            }
            return -1;
        }
        int64_t x = 0;
        int k = 0;
        while (p < e && is_digit(*p)) {
            if (x > (int64_t)1e15) {
                return -1;
            }
            x = x * 10 + (*p - '0');
            k++;
            p++;
        }
        v[g] = x;
        vdig[g] = k;
        g++;
    }
    if (g == 0) {
        return -1;
    }
    /* fewer values than parts: the leftmost parts were left out */
    int shift = np - g;
    int64_t months = 0, us = 0;
    for (int i = 0; i < g; i++) {
        char part = parts[i + shift];
        int64_t x = v[i];
        switch (part) {
        case 'y':
            months += x * 12;
            break;
        case 'q':
            months += x * 3;
            break;
        case 'M':
            months += x;
            break;
        case 'w':
            us += x * 7 * 86400000000LL;
            break;
        case 'd':
            us += x * 86400000000LL;
            break;
        case 'h':
            us += x * 3600000000LL;
            break;
        case 'm':
            us += x * 60000000LL;
            break;
        case 's':
            us += x * 1000000LL;
            break;
        case 'u':
            if (np > 1) {
                for (int k = vdig[i]; k < 6; k++) {
                    x *= 10; /* '1.5' SECOND_MICROSECOND is 1.500000 s */
                }
            }
            us += x;
            out->fsp = 6;
            break;
        default:
            return -1;
        }
        if (months > 120000 || us > 3652500LL * 86400000000LL) {
            return -1;
        }
    }
    out->months = neg ? -months : months;
    out->us = neg ? -us : us;
    return 0;
}

int sql_dt_add(const sql_dt *d, const sql_iv *iv, int unit, sql_dt *out)
{
    *out = *d;
    if (d->kind == SQL_DT_TIME) {
        return -1;
    }
    if (iv->months != 0) {
        int64_t m = (int64_t)d->year * 12 + (d->month - 1) + iv->months;
        if (m < 0 || m >= 120000) {
            return -1;
        }
        out->year = (int)(m / 12);
        out->month = (int)(m % 12) + 1;
        int dim = sql_dt_days_in_month(out->year, out->month);
        if (out->day > dim) {
            out->day = dim;
        }
    }
    int has_time = sql_iv_unit_has_time(unit);
    if (iv->us != 0) {
        sql_dt tmp = *out;
        tmp.kind = SQL_DT_DATETIME;
        int64_t us = sql_dt_to_us(&tmp) + iv->us;
        int fsp = out->fsp;
        if (sql_dt_from_us(us, out) != 0) {
            return -1;
        }
        out->fsp = fsp;
    }
    if (out->year > 9999 || out->year < 0) {
        return -1;
    }
    out->kind = (d->kind == SQL_DT_DATE && !has_time) ? SQL_DT_DATE : SQL_DT_DATETIME;
    out->fsp = d->fsp > iv->fsp ? d->fsp : iv->fsp;
    return 0;
}

/* ---- formatting ---- */

size_t sql_dt_format(const sql_dt *d, char *buf, size_t cap)
{
    int n;
    if (d->kind == SQL_DT_DATE) {
        n = snprintf(buf, cap, "%04d-%02d-%02d", d->year, d->month, d->day);
    } else if (d->kind == SQL_DT_TIME) {
        n = snprintf(buf, cap, "%s%02d:%02d:%02d", d->neg ? "-" : "", d->hour, d->minute,
                     d->second);
    } else {
        n = snprintf(buf, cap, "%04d-%02d-%02d %02d:%02d:%02d", d->year, d->month, d->day, d->hour,
                     d->minute, d->second);
    }
    if (n < 0 || (size_t)n >= cap) {
        return 0;
    }
    if (d->kind != SQL_DT_DATE && d->fsp > 0) {
        char frac[16];
        snprintf(frac, sizeof(frac), ".%06d", d->usec);
        frac[1 + (d->fsp > 6 ? 6 : d->fsp)] = '\0';
        int k = snprintf(buf + n, cap - (size_t)n, "%s", frac);
        if (k > 0 && (size_t)(n + k) < cap) {
            n += k;
        }
    }
    return (size_t)n;
}

static const char *day_suffix(int day)
{
    if (day >= 11 && day <= 13) {
        return "th";
    }
    switch (day % 10) {
    case 1:
        return "st";
    case 2:
        return "nd";
    case 3:
        return "rd";
    default:
        return "th";
    }
}

int sql_dt_date_format(const sql_dt *d, const char *fmt, size_t fn, cm_buf *out)
{
    int valid = d->kind != SQL_DT_TIME && sql_dt_valid_date(d);
    int64_t dn = valid ? sql_dt_daynr(d->year, d->month, d->day) : 0;
    int wd = valid ? sql_dt_weekday(dn) : 0;
    int h12 = d->hour % 12 == 0 ? 12 : d->hour % 12;
    int rc = 0;
    for (size_t i = 0; i < fn && rc == 0; i++) {
        char c = fmt[i];
        if (c != '%' || i + 1 >= fn) {
            rc = cm_buf_append_u8(out, (uint8_t)c);
            continue;
        }
        c = fmt[++i];
        int wy;
        switch (c) {
        case 'a':
            rc = valid ? cm_buf_printf(out, "%.3s", day_names[wd]) : 0;
            break;
        case 'b':
            rc = d->month >= 1 ? cm_buf_printf(out, "%.3s", month_names[d->month - 1]) : 0;
            break;
        case 'c':
            rc = cm_buf_printf(out, "%d", d->month);
            break;
        case 'D':
            rc = cm_buf_printf(out, "%d%s", d->day, day_suffix(d->day));
            break;
        case 'd':
            rc = cm_buf_printf(out, "%02d", d->day);
            break;
        case 'e':
            rc = cm_buf_printf(out, "%d", d->day);
            break;
        case 'f':
            rc = cm_buf_printf(out, "%06d", d->usec);
            break;
        case 'H':
            rc = cm_buf_printf(out, "%02d", d->hour);
            break;
        case 'h':
        case 'I':
            rc = cm_buf_printf(out, "%02d", h12);
            break;
        case 'i':
            rc = cm_buf_printf(out, "%02d", d->minute);
            break;
        case 'j':
            rc =
                cm_buf_printf(out, "%03d", valid ? (int)(dn - sql_dt_daynr(d->year, 1, 1) + 1) : 0);
            break;
        case 'k':
            rc = cm_buf_printf(out, "%d", d->hour);
            break;
        case 'l':
            rc = cm_buf_printf(out, "%d", h12);
            break;
        case 'M':
            rc = d->month >= 1 ? cm_buf_printf(out, "%s", month_names[d->month - 1]) : 0;
            break;
        case 'm':
            rc = cm_buf_printf(out, "%02d", d->month);
            break;
        case 'p':
            rc = cm_buf_printf(out, "%s", d->hour % 24 < 12 ? "AM" : "PM");
            break;
        case 'r':
            rc = cm_buf_printf(out, "%02d:%02d:%02d %s", h12, d->minute, d->second,
                               d->hour % 24 < 12 ? "AM" : "PM");
            break;
        case 'S':
        case 's':
            rc = cm_buf_printf(out, "%02d", d->second);
            break;
        case 'T':
            rc = cm_buf_printf(out, "%02d:%02d:%02d", d->hour, d->minute, d->second);
            break;
        case 'U':
            rc = valid ? cm_buf_printf(out, "%02d", sql_dt_week(d, 0, &wy)) : 0;
            break;
        case 'u':
            rc = valid ? cm_buf_printf(out, "%02d", sql_dt_week(d, 1, &wy)) : 0;
            break;
        case 'V':
            rc = valid ? cm_buf_printf(out, "%02d", sql_dt_week(d, 2, &wy)) : 0;
            break;
        case 'v':
            rc = valid ? cm_buf_printf(out, "%02d", sql_dt_week(d, 3, &wy)) : 0;
            break;
        case 'W':
            rc = valid ? cm_buf_printf(out, "%s", day_names[wd]) : 0;
            break;
        case 'w':
            rc = valid ? cm_buf_printf(out, "%d", (wd + 1) % 7) : 0;
            break;
        case 'X':
            if (valid) {
                (void)sql_dt_week(d, 2, &wy);
                rc = cm_buf_printf(out, "%04d", wy);
            }
            break;
        case 'x':
            if (valid) {
                (void)sql_dt_week(d, 3, &wy);
                rc = cm_buf_printf(out, "%04d", wy);
            }
            break;
        case 'Y':
            rc = cm_buf_printf(out, "%04d", d->year);
            break;
        case 'y':
            rc = cm_buf_printf(out, "%02d", d->year % 100);
            break;
        default: /* %% and unknown specifiers: the character itself */
            rc = cm_buf_append_u8(out, (uint8_t)c);
            break;
        }
    }
    return rc == 0 ? 0 : CM_E_NOMEM;
}

/* ---- STR_TO_DATE ---- */

static int read_num(const char **pp, const char *e, int maxd, int *v)
{
    const char *p = *pp;
    int x = 0, k = 0;
    while (p < e && k < maxd && is_digit(*p)) {
        x = x * 10 + (*p - '0');
        p++;
        k++;
    }
    if (k == 0) {
        return -1;
    }
    *v = x;
    *pp = p;
    return 0;
}

/* Matches one of names (full, or its first 3 letters when abbrev) case-insensitively. */
static int read_name(const char **pp, const char *e, const char *const *names, int count,
                     int abbrev)
{
    for (int i = 0; i < count; i++) {
        size_t len = abbrev ? 3 : strlen(names[i]);
        if ((size_t)(e - *pp) >= len && strncasecmp(*pp, names[i], len) == 0) {
            *pp += len;
            return i;
        }
    }
    return -1;
}

/* The state of one STR_TO_DATE: the input left, what was read, and the parts seen. */
typedef struct s2d {
    const char *p, *e;
    sql_dt *out;
    int has_date, has_time;
    int pm;  /* -1 none, 0 AM, 1 PM */
    int h12; /* the hour was read on a 12-hour clock */
    int yday;
} s2d;

static void skip_spaces(s2d *st)
{
    while (st->p < st->e && is_space(*st->p)) {
        st->p++;
    }
}

/* AM or PM at the input (after spaces): 0 or 1, or -1 when neither is there. */
static int read_meridiem(s2d *st)
{
    skip_spaces(st);
    if (st->e - st->p >= 2 && strncasecmp(st->p, "AM", 2) == 0) {
        st->p += 2;
        return 0;
    }
    if (st->e - st->p >= 2 && strncasecmp(st->p, "PM", 2) == 0) {
        st->p += 2;
        return 1;
    }
    return -1;
}

/* %T (hh:mm:ss) and %r (hh:mm:ss followed by AM or PM). */
static int read_clock(s2d *st, int twelve)
{
    sql_dt *o = st->out;
    if (read_num(&st->p, st->e, 2, &o->hour) != 0 || st->p >= st->e || *st->p++ != ':' ||
        read_num(&st->p, st->e, 2, &o->minute) != 0 || st->p >= st->e || *st->p++ != ':' ||
        read_num(&st->p, st->e, 2, &o->second) != 0) {
        return -1;
    }
    st->has_time = 1;
    if (twelve) {
        st->h12 = 1;
        int m = read_meridiem(st);
        st->pm = m >= 0 ? m : st->pm;
    }
    return 0;
}

/* Reads the input of specifier %c. Returns 0 or -1 (no match, or a specifier not read). */
static int read_spec(s2d *st, char c)
{
    sql_dt *o = st->out;
    int v = 0, digits;
    if (c != '%' && c != 'p') {
        skip_spaces(st);
    }
    switch (c) {
    case 'Y':
    case 'y':
        st->has_date = 1;
        if (read_num(&st->p, st->e, c == 'Y' ? 4 : 2, &v) != 0) {
            return -1;
        }
        o->year = c == 'Y' ? v : year2(v, 2);
        return 0;
    case 'm':
    case 'c':
        st->has_date = 1;
        return read_num(&st->p, st->e, 2, &o->month);
    case 'M':
    case 'b':
        st->has_date = 1;
        v = read_name(&st->p, st->e, month_names, 12, c == 'b');
        o->month = v + 1;
        return v < 0 ? -1 : 0;
    case 'd':
    case 'e':
    case 'D':
        st->has_date = 1;
        if (read_num(&st->p, st->e, 2, &o->day) != 0) {
            return -1;
        }
        if (c == 'D' && st->e - st->p >= 2) {
            st->p += 2; /* the English suffix: 1st, 2nd … */
        }
        return 0;
    case 'j':
        st->has_date = 1;
        return read_num(&st->p, st->e, 3, &st->yday);
    case 'H':
    case 'k':
        st->has_time = 1;
        return read_num(&st->p, st->e, 3, &o->hour);
    case 'h':
    case 'I':
    case 'l':
        st->has_time = 1;
        st->h12 = 1;
        return read_num(&st->p, st->e, 2, &o->hour);
    case 'i':
        st->has_time = 1;
        return read_num(&st->p, st->e, 2, &o->minute);
    case 's':
    case 'S':
        st->has_time = 1;
        return read_num(&st->p, st->e, 2, &o->second);
    case 'f':
        st->has_time = 1;
        if (st->p >= st->e || !is_digit(*st->p)) {
            return -1;
        }
        o->usec = read_frac(&st->p, st->e, &digits);
        o->fsp = 6;
        return 0;
    case 'p':
        st->pm = read_meridiem(st);
        return st->pm < 0 ? -1 : 0;
    case 'r':
    case 'T':
        return read_clock(st, c == 'r');
    case 'W':
    case 'a':
        return read_name(&st->p, st->e, day_names, 7, c == 'a') < 0 ? -1 : 0;
    case '%':
        return st->p < st->e && *st->p++ == '%' ? 0 : -1;
    default:
        return -1; /* week specifiers (%U %u %V %v %X %x) are not read */
    }
}

/* After the format: the 12-hour clock, the day of the year, the kind, and the range checks. */
static int s2d_finish(s2d *st)
{
    sql_dt *o = st->out;
    if (st->h12) {
        if (o->hour < 1 || o->hour > 12) {
            return -1;
        }
        if (st->pm == 1 && o->hour < 12) {
            o->hour += 12;
        } else if (st->pm != 1 && o->hour == 12) {
            o->hour = 0;
        }
    }
    if (st->yday > 0 &&
        (st->yday > 366 || sql_dt_from_daynr(sql_dt_daynr(o->year, 1, 1) + st->yday - 1, &o->year,
                                             &o->month, &o->day) != 0)) {
        return -1;
    }
    o->kind = st->has_date && st->has_time ? SQL_DT_DATETIME
              : st->has_time               ? SQL_DT_TIME
                                           : SQL_DT_DATE;
    if (o->kind == SQL_DT_TIME) {
        return o->minute > 59 || o->second > 59 || o->hour > 838 ? -1 : 0;
    }
    return check_dt(o) != 0 || o->month == 0 || o->day == 0 ? -1 : 0;
}

int sql_dt_str_to_date(const char *s, size_t sn, const char *fmt, size_t fn, sql_dt *out)
{
    s2d st = {s, s + sn, out, 0, 0, -1, 0, 0};
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < fn; i++) {
        char c = fmt[i];
        if (is_space(c)) {
            skip_spaces(&st); /* a space in the format matches any run of spaces */
            continue;
        }
        if (c != '%' || i + 1 >= fn) {
            if (st.p >= st.e || *st.p != c) {
                return -1;
            }
            st.p++;
            continue;
        }
        if (read_spec(&st, fmt[++i]) != 0) {
            return -1;
        }
    }
    return s2d_finish(&st); /* characters left over are ignored, as MySQL does */
}
