/*
 * sql_type_time.c — MySQL's literal forms of DATE/DATETIME/TIMESTAMP/TIME values, as strings
 * and as numbers, normalised to cm_datetime (the codec's canonical forms are stricter:
 * docs/codec.md). Fractions are rounded to the column's fsp, carrying into seconds, minutes …
 * years, as MySQL does without TIME_TRUNCATE_FRACTIONAL.
 */
#include "sql_types_int.h"

#include <string.h>

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1..12). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t mp = (m + 9) % 12; /* March = 0 */
    int64_t doy = (153 * mp + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

int sql_time_add_us(cm_datetime *dt, uint64_t us)
{
    uint64_t micro = dt->micro + us % 1000000;
    uint64_t secs = us / 1000000 + micro / 1000000;
    micro %= 1000000;
    uint64_t sod = (uint64_t)dt->hour * 3600 + dt->minute * 60 + dt->second + secs;
    uint64_t days = sod / 86400;
    sod %= 86400;
    if (days > 0) {
        if (!cm_datetime_calendar_ok(dt)) {
            return -1; /* a zero date has no next day */
        }
        if (days > 4000000) {
            return -1;
        }
        int64_t z = days_from_civil(dt->year, dt->month, dt->day) + (int64_t)days;
        int64_t y;
        unsigned m, d;
        civil_from_days(z, &y, &m, &d);
        if (y > CM_DATETIME_YEAR_MAX) {
            return -1;
        }
        dt->year = (uint16_t)y;
        dt->month = (uint8_t)m;
        dt->day = (uint8_t)d;
    }
    dt->hour = (uint8_t)(sod / 3600);
    dt->minute = (uint8_t)(sod / 60 % 60);
    dt->second = (uint8_t)(sod % 60);
    dt->micro = (uint32_t)micro;
    return 0;
}

uint32_t sql_time_round_micro(uint32_t micro, unsigned fsp, bool *carry)
{
    static const uint32_t unit[7] = {1000000, 100000, 10000, 1000, 100, 10, 1};
    *carry = false;
    if (fsp >= 6) {
        return micro;
    }
    uint32_t u = unit[fsp];
    uint32_t r = (micro + u / 2) / u * u;
    if (r >= 1000000) {
        *carry = true;
        r = 0;
    }
    return r;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static void trim(const char **s, size_t *n)
{
    while (*n > 0 && is_space(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && is_space((*s)[*n - 1])) {
        (*n)--;
    }
}

/* Reads up to max digits at s[*i]; returns how many were read (0: none). */
static unsigned read_digits(const char *s, size_t n, size_t *i, unsigned max, uint64_t *v)
{
    unsigned k = 0;
    uint64_t x = 0;
    while (*i < n && k < max && is_digit(s[*i])) {
        x = x * 10 + (uint64_t)(s[*i] - '0');
        (*i)++;
        k++;
    }
    *v = x;
    return k;
}

/* Fraction digits at s[*i] (after the '.'): microseconds rounded on the 7th digit; *carry when
 * that rounds to a whole second. */
static uint32_t read_fraction(const char *s, size_t n, size_t *i, bool *carry)
{
    uint32_t micro = 0;
    unsigned k = 0;
    bool up = false;
    *carry = false;
    while (*i < n && is_digit(s[*i])) {
        if (k < 6) {
            micro = micro * 10 + (uint32_t)(s[*i] - '0');
        } else if (k == 6) {
            up = s[*i] >= '5';
        }
        k++;
        (*i)++;
    }
    for (; k < 6; k++) {
        micro *= 10;
    }
    if (up && ++micro >= 1000000) {
        micro = 0;
        *carry = true;
    }
    return micro;
}

static bool fields_ok(const cm_datetime *t)
{
    return t->year <= CM_DATETIME_YEAR_MAX && t->month <= 12 && t->day <= 31 && t->hour <= 23 &&
           t->minute <= 59 && t->second <= 59;
}

/* Applies a fraction and rounding to fsp, with carry. */
static int finish_datetime(sql_tparse *out, uint32_t micro, bool carry6, unsigned fsp)
{
    bool carry;
    uint32_t m = sql_time_round_micro(micro, fsp, &carry);
    out->dt.micro = m;
    if (!fields_ok(&out->dt)) {
        return -1;
    }
    if (carry || carry6) {
        uint64_t add = (uint64_t)(carry ? 1 : 0) + (carry6 ? 1 : 0);
        if (sql_time_add_us(&out->dt, add * 1000000) != 0) {
            return -1;
        }
    }
    return 0;
}

static uint16_t two_digit_year(uint64_t y)
{
    return (uint16_t)(y < 70 ? 2000 + y : 1900 + y);
}

static int parse_compact(const char *s, size_t n, size_t ndig, unsigned fsp, sql_tparse *out)
{
    size_t i = 0;
    uint64_t v;
    if (ndig == 6 || ndig == 12) {
        read_digits(s, n, &i, 2, &v);
        out->dt.year = two_digit_year(v);
    } else if (ndig == 8 || ndig == 14) {
        read_digits(s, n, &i, 4, &v);
        out->dt.year = (uint16_t)v;
    } else {
        return -1;
    }
    read_digits(s, n, &i, 2, &v);
    out->dt.month = (uint8_t)v;
    read_digits(s, n, &i, 2, &v);
    out->dt.day = (uint8_t)v;
    out->has_time = ndig >= 12;
    if (out->has_time) {
        read_digits(s, n, &i, 2, &v);
        out->dt.hour = (uint8_t)v;
        read_digits(s, n, &i, 2, &v);
        out->dt.minute = (uint8_t)v;
        read_digits(s, n, &i, 2, &v);
        out->dt.second = (uint8_t)v;
    }
    uint32_t micro = 0;
    bool carry6 = false;
    if (i < n) {
        if (s[i] != '.' || !out->has_time) {
            return -1;
        }
        i++;
        micro = read_fraction(s, n, &i, &carry6);
        if (i != n) {
            return -1;
        }
    }
    return finish_datetime(out, micro, carry6, fsp);
}

/* A time zone offset "+hh:mm" / "-hh:mm" at s[*i] (MySQL 8.0.19+), within -13:59 .. +14:00. */
static int read_offset(const char *s, size_t n, size_t *i, int *minutes)
{
    bool neg = s[*i] == '-';
    uint64_t h, m;
    (*i)++;
    if (read_digits(s, n, i, 2, &h) != 2 || *i >= n || s[*i] != ':') {
        return -1;
    }
    (*i)++;
    if (read_digits(s, n, i, 2, &m) != 2 || m > 59) {
        return -1;
    }
    int v = (int)(h * 60 + m);
    if ((neg && v > 13 * 60 + 59) || (!neg && v > 14 * 60)) {
        return -1;
    }
    *minutes = neg ? -v : v;
    return 0;
}

/* Moves a calendar date-time by minutes (either sign). Returns 0 or -1 (not a calendar day, or
 * the result leaves years 1..9999). */
static int shift_minutes(cm_datetime *dt, int minutes)
{
    if (!cm_datetime_calendar_ok(dt)) {
        return -1;
    }
    int64_t z = days_from_civil(dt->year, dt->month, dt->day);
    int64_t sod = (int64_t)dt->hour * 3600 + dt->minute * 60 + dt->second + (int64_t)minutes * 60;
    while (sod < 0) {
        sod += 86400;
        z--;
    }
    z += sod / 86400;
    sod %= 86400;
    int64_t y;
    unsigned m, d;
    civil_from_days(z, &y, &m, &d);
    if (y < 1 || y > CM_DATETIME_YEAR_MAX) {
        return -1;
    }
    dt->year = (uint16_t)y;
    dt->month = (uint8_t)m;
    dt->day = (uint8_t)d;
    dt->hour = (uint8_t)(sod / 3600);
    dt->minute = (uint8_t)(sod / 60 % 60);
    dt->second = (uint8_t)(sod % 60);
    return 0;
}

static bool is_delim(char c)
{
    return !is_digit(c) && !is_space(c) && (unsigned char)c < 0x80 && c != '\0';
}

int sql_time_parse_datetime(const char *s, size_t n, unsigned fsp, sql_tparse *out)
{
    memset(out, 0, sizeof(*out));
    trim(&s, &n);
    if (n == 0) {
        return -1;
    }
    size_t ndig = 0;
    while (ndig < n && is_digit(s[ndig])) {
        ndig++;
    }
    if (ndig == n || (ndig < n && s[ndig] == '.' && ndig >= 12)) {
        return parse_compact(s, n, ndig, fsp, out);
    }
    size_t i = 0;
    uint64_t y, mo, d;
    unsigned yl = read_digits(s, n, &i, 4, &y);
    if (yl == 0 || i >= n || !is_delim(s[i])) {
        return -1;
    }
    while (i < n && is_delim(s[i])) {
        i++;
    }
    if (read_digits(s, n, &i, 2, &mo) == 0 || i >= n || !is_delim(s[i])) {
        return -1;
    }
    while (i < n && is_delim(s[i])) {
        i++;
    }
    if (read_digits(s, n, &i, 2, &d) == 0) {
        return -1;
    }
    out->dt.year = yl <= 2 ? two_digit_year(y) : (uint16_t)y;
    out->dt.month = (uint8_t)mo;
    out->dt.day = (uint8_t)d;
    if (i == n) {
        return finish_datetime(out, 0, false, fsp);
    }
    /* date/time separator: 'T' or spaces */
    if (s[i] == 'T' || s[i] == 't') {
        i++;
    } else if (is_space(s[i])) {
        while (i < n && is_space(s[i])) {
            i++;
        }
    } else {
        return -1;
    }
    uint64_t h, mi = 0, se = 0;
    if (read_digits(s, n, &i, 2, &h) == 0) {
        return -1;
    }
    out->has_time = true;
    uint64_t *next[2] = {&mi, &se};
    for (int f = 0; f < 2 && i < n && is_delim(s[i]) && s[i] != '.'; f++) {
        i++;
        if (read_digits(s, n, &i, 2, next[f]) == 0) {
            return -1;
        }
    }
    out->dt.hour = (uint8_t)(h > 99 ? 99 : h);
    out->dt.minute = (uint8_t)mi;
    out->dt.second = (uint8_t)se;
    uint32_t micro = 0;
    bool carry6 = false;
    if (i < n && s[i] == '.') {
        i++;
        micro = read_fraction(s, n, &i, &carry6);
    }
    int off_min = 0;
    bool has_off = i < n && (s[i] == '+' || s[i] == '-');
    if (has_off && read_offset(s, n, &i, &off_min) != 0) {
        return -1;
    }
    if (i != n) {
        return -1;
    }
    int rc = finish_datetime(out, micro, carry6, fsp);
    if (rc != 0 || !has_off) {
        return rc;
    }
    return shift_minutes(&out->dt, -off_min);
}

int sql_time_datetime_from_number(uint64_t nr, uint32_t micro, unsigned fsp, sql_tparse *out)
{
    memset(out, 0, sizeof(*out));
    bool has_time = false;
    if (nr == 0) {
        return micro == 0 ? 0 : -1;
    }
    if (nr < 101) {
        return -1;
    }
    if (nr <= 691231) {
        nr = (nr + 20000000) * 1000000;
    } else if (nr < 700101) {
        return -1;
    } else if (nr <= 991231) {
        nr = (nr + 19000000) * 1000000;
    } else if (nr < 10000101) {
        return -1;
    } else if (nr <= 99991231) {
        nr = nr * 1000000;
    } else if (nr < 101000000) {
        return -1;
    } else if (nr <= 691231235959ull) {
        nr += 20000000000000ull;
        has_time = true;
    } else if (nr < 700101000000ull) {
        return -1;
    } else if (nr <= 991231235959ull) {
        nr += 19000000000000ull;
        has_time = true;
    } else if (nr < 10000101000000ull) {
        return -1;
    } else if (nr <= 99991231235959ull) {
        has_time = true;
    } else {
        return -1;
    }
    out->has_time = has_time || micro > 0;
    out->dt.second = (uint8_t)(nr % 100);
    out->dt.minute = (uint8_t)(nr / 100 % 100);
    out->dt.hour = (uint8_t)(nr / 10000 % 100);
    out->dt.day = (uint8_t)(nr / 1000000 % 100);
    out->dt.month = (uint8_t)(nr / 100000000 % 100);
    out->dt.year = (uint16_t)(nr / 10000000000ull);
    return finish_datetime(out, micro, false, fsp);
}

/* Rounds a TIME's fraction, carrying into seconds, minutes and hours. */
static int finish_time(sql_tparse *out, uint64_t hours, uint64_t mi, uint64_t se, uint32_t micro,
                       bool carry6, unsigned fsp)
{
    if (mi > 59 || se > 59) {
        return -1;
    }
    bool carry;
    micro = sql_time_round_micro(micro, fsp, &carry);
    uint64_t total = (hours * 3600 + mi * 60 + se) + carry + carry6;
    if (hours > 100000000) {
        return -1;
    }
    out->hours = total / 3600;
    out->dt.minute = (uint8_t)(total / 60 % 60);
    out->dt.second = (uint8_t)(total % 60);
    out->dt.micro = micro;
    return 0;
}

int sql_time_time_from_number(bool neg, uint64_t nr, uint32_t micro, unsigned fsp, sql_tparse *out)
{
    memset(out, 0, sizeof(*out));
    if (nr >= 10000000000ull) { /* a DATETIME number: its time part */
        sql_tparse dt;
        if (neg || sql_time_datetime_from_number(nr, micro, fsp, &dt) != 0) {
            return -1;
        }
        out->hours = dt.dt.hour;
        out->dt = dt.dt;
        return 0;
    }
    out->neg = neg;
    return finish_time(out, nr / 10000, nr / 100 % 100, nr % 100, micro, false, fsp);
}

int sql_time_parse_time(const char *s, size_t n, unsigned fsp, sql_tparse *out)
{
    memset(out, 0, sizeof(*out));
    trim(&s, &n);
    if (n == 0) {
        return -1;
    }
    /* A full DATETIME gives its time part. */
    sql_tparse dt;
    if (sql_time_parse_datetime(s, n, fsp, &dt) == 0 && (dt.has_time || memchr(s, '-', n))) {
        *out = dt;
        out->hours = dt.dt.hour;
        out->neg = false;
        return 0;
    }
    size_t i = 0;
    if (s[0] == '-') {
        out->neg = true;
        i++;
    }
    uint64_t days = 0, h = 0, mi = 0, se = 0;
    uint32_t micro = 0;
    bool carry6 = false;
    uint64_t first;
    unsigned nd = read_digits(s, n, &i, 12, &first);
    if (nd == 0) {
        return -1;
    }
    if (i < n && is_space(s[i])) { /* 'D hh[:mm[:ss]]' */
        days = first;
        while (i < n && is_space(s[i])) {
            i++;
        }
        if (read_digits(s, n, &i, 3, &h) == 0 || days > 34) {
            return -1;
        }
        if (i < n && s[i] == ':') {
            i++;
            if (read_digits(s, n, &i, 2, &mi) == 0) {
                return -1;
            }
            if (i < n && s[i] == ':') {
                i++;
                if (read_digits(s, n, &i, 2, &se) == 0) {
                    return -1;
                }
            }
        }
    } else if (i < n && s[i] == ':') { /* 'h:m[:s]' */
        h = first;
        i++;
        if (read_digits(s, n, &i, 2, &mi) == 0) {
            return -1;
        }
        if (i < n && s[i] == ':') {
            i++;
            if (read_digits(s, n, &i, 2, &se) == 0) {
                return -1;
            }
        }
    } else { /* compact [h…h]mmss */
        if (nd > 10) {
            return -1;
        }
        se = first % 100;
        mi = first / 100 % 100;
        h = first / 10000;
    }
    if (i < n && s[i] == '.') {
        i++;
        micro = read_fraction(s, n, &i, &carry6);
    }
    if (i != n) {
        return -1;
    }
    return finish_time(out, days * 24 + h, mi, se, micro, carry6, fsp);
}
