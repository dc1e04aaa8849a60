/* cm_datetime.c — packed temporal values; see cm_datetime.h. */
#include "cm_datetime.h"
#include "cm_assert.h"

#include <stdio.h>

#define MICRO_BITS 24
#define HMS_BITS   17
#define DAY_BITS   5
/* printf arguments for "%.*s" showing at most 40 bytes of a slice that may be empty. */
#define TEXT_ARG(s)                                                                                \
    (int)((s).len > 40 ? 40 : (s).len), (const char *)((s).ptr ? (s).ptr : (const uint8_t *)"")

bool cm_datetime_valid(const cm_datetime *t)
{
    return t->year <= CM_DATETIME_YEAR_MAX && t->month <= 12 && t->day <= 31 && t->hour <= 23 &&
           t->minute <= 59 && t->second <= 59 && t->micro <= 999999;
}

static bool leap(unsigned y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

bool cm_datetime_calendar_ok(const cm_datetime *t)
{
    static const uint8_t days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (!cm_datetime_valid(t) || t->month == 0 || t->day == 0) {
        return false;
    }
    unsigned n = days[t->month - 1] + (t->month == 2 && leap(t->year));
    return t->day <= n;
}

uint64_t cm_datetime_pack(const cm_datetime *t)
{
    CM_ASSERT(cm_datetime_valid(t));
    uint64_t ymd = ((uint64_t)t->year * 13 + t->month) << DAY_BITS | t->day;
    uint64_t hms = (uint64_t)t->hour << 12 | (uint64_t)t->minute << 6 | t->second;
    return (ymd << HMS_BITS | hms) << MICRO_BITS | t->micro;
}

int cm_datetime_unpack(uint64_t packed, cm_datetime *out, cm_err *err)
{
    cm_datetime t;
    t.micro = (uint32_t)(packed & ((1u << MICRO_BITS) - 1));
    uint64_t hms = (packed >> MICRO_BITS) & ((1u << HMS_BITS) - 1);
    uint64_t ymd = packed >> (MICRO_BITS + HMS_BITS);
    t.second = (uint8_t)(hms & 63);
    t.minute = (uint8_t)((hms >> 6) & 63);
    t.hour = (uint8_t)(hms >> 12); /* 5 bits: up to 31 */
    t.day = (uint8_t)(ymd & 31);
    uint64_t ym = ymd >> DAY_BITS; /* 18 bits: the year is at most 20164, it fits uint16_t */
    t.year = (uint16_t)(ym / 13);
    t.month = (uint8_t)(ym % 13);
    if (!cm_datetime_valid(&t)) {
        return cm_err_set(err, CM_E_CORRUPT, "packed datetime 0x%016llx out of range",
                          (unsigned long long)packed);
    }
    *out = t;
    return 0;
}

/* Appends fsp digits of micro (0..999999), truncated, with a leading '.'. */
static int append_fraction(char *text, int n, uint32_t micro, unsigned fsp)
{
    if (fsp == 0) {
        return n;
    }
    char six[8];
    snprintf(six, sizeof(six), "%06u", micro);
    text[n++] = '.';
    for (unsigned i = 0; i < fsp; i++) {
        text[n++] = six[i];
    }
    return n;
}

int cm_datetime_format(const cm_datetime *t, bool date_only, unsigned fsp, cm_buf *out)
{
    CM_ASSERT(cm_datetime_valid(t));
    CM_ASSERT(fsp <= CM_FSP_MAX);
    char text[40];
    int n;
    if (date_only) {
        n = snprintf(text, sizeof(text), "%04u-%02u-%02u", t->year, t->month, t->day);
    } else {
        n = snprintf(text, sizeof(text), "%04u-%02u-%02u %02u:%02u:%02u", t->year, t->month, t->day,
                     t->hour, t->minute, t->second);
        n = append_fraction(text, n, t->micro, fsp);
    }
    return cm_buf_append(out, text, (size_t)n);
}

/* Reads exactly `width` digits at *pos (width 0: 1..max digits). */
static int read_num(cm_slice s, size_t *pos, unsigned min, unsigned max, uint32_t *v)
{
    uint32_t x = 0;
    unsigned n = 0;
    while (*pos < s.len && n < max && s.ptr[*pos] >= '0' && s.ptr[*pos] <= '9') {
        x = x * 10 + (uint32_t)(s.ptr[*pos] - '0');
        (*pos)++;
        n++;
    }
    if (n < min) {
        return -1;
    }
    *v = x;
    return 0;
}

static int expect(cm_slice s, size_t *pos, char c)
{
    if (*pos >= s.len || s.ptr[*pos] != (uint8_t)c) {
        return -1;
    }
    (*pos)++;
    return 0;
}

/* Reads ".f…" (1..6 digits) if present, as microseconds. */
static int read_fraction(cm_slice s, size_t *pos, uint32_t *micro)
{
    *micro = 0;
    if (*pos >= s.len || s.ptr[*pos] != '.') {
        return 0;
    }
    (*pos)++;
    size_t start = *pos;
    uint32_t f;
    if (read_num(s, pos, 1, 6, &f) != 0) {
        return -1;
    }
    for (size_t i = *pos - start; i < 6; i++) {
        f *= 10;
    }
    *micro = f;
    return 0;
}

int cm_datetime_parse(cm_slice text, cm_datetime *out, cm_err *err)
{
    size_t pos = 0;
    uint32_t y, mo, d, h = 0, mi = 0, sec = 0, us = 0;
    int bad = read_num(text, &pos, 4, 4, &y) || expect(text, &pos, '-') ||
              read_num(text, &pos, 2, 2, &mo) || expect(text, &pos, '-') ||
              read_num(text, &pos, 2, 2, &d);
    if (!bad && pos < text.len) {
        bad = expect(text, &pos, ' ') || read_num(text, &pos, 2, 2, &h) ||
              expect(text, &pos, ':') || read_num(text, &pos, 2, 2, &mi) ||
              expect(text, &pos, ':') || read_num(text, &pos, 2, 2, &sec) ||
              read_fraction(text, &pos, &us);
    }
    if (bad || pos != text.len) {
        return cm_err_set(err, CM_E_INVALID, "not a datetime: '%.*s'", TEXT_ARG(text));
    }
    cm_datetime t = {(uint16_t)y, (uint8_t)mo,  (uint8_t)d, (uint8_t)h,
                     (uint8_t)mi, (uint8_t)sec, us};
    if (!cm_datetime_valid(&t)) {
        return cm_err_set(err, CM_E_INVALID, "datetime field out of range: '%.*s'", TEXT_ARG(text));
    }
    *out = t;
    return 0;
}

/* ---- TIME --------------------------------------------------------------------------------- */

bool cm_duration_valid(int64_t us)
{
    return us >= -CM_DURATION_US_MAX && us <= CM_DURATION_US_MAX;
}

int cm_duration_format(int64_t us, unsigned fsp, cm_buf *out)
{
    CM_ASSERT(cm_duration_valid(us));
    CM_ASSERT(fsp <= CM_FSP_MAX);
    uint64_t mag = us < 0 ? (uint64_t)-us : (uint64_t)us;
    uint64_t secs = mag / 1000000;
    char text[40];
    int n = snprintf(text, sizeof(text), "%s%02llu:%02llu:%02llu", us < 0 ? "-" : "",
                     (unsigned long long)(secs / 3600), (unsigned long long)(secs / 60 % 60),
                     (unsigned long long)(secs % 60));
    n = append_fraction(text, n, (uint32_t)(mag % 1000000), fsp);
    return cm_buf_append(out, text, (size_t)n);
}

int cm_duration_parse(cm_slice text, int64_t *us, cm_err *err)
{
    size_t pos = 0;
    bool neg = text.len > 0 && text.ptr[0] == '-';
    pos += neg;
    uint32_t h, m, s, f;
    int bad = read_num(text, &pos, 1, 3, &h) || expect(text, &pos, ':') ||
              read_num(text, &pos, 2, 2, &m) || expect(text, &pos, ':') ||
              read_num(text, &pos, 2, 2, &s) || read_fraction(text, &pos, &f);
    if (bad || pos != text.len || m > 59 || s > 59) {
        return cm_err_set(err, CM_E_INVALID, "not a time: '%.*s'", TEXT_ARG(text));
    }
    int64_t v = ((int64_t)h * 3600 + m * 60 + s) * 1000000 + f;
    if (!cm_duration_valid(v)) {
        return cm_err_set(err, CM_E_INVALID, "time out of range: '%.*s'", TEXT_ARG(text));
    }
    *us = neg ? -v : v;
    return 0;
}
