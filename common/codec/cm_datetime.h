/*
 * cm_datetime.h — packed integer forms of MySQL's temporal types, as stored by the row and key
 * codecs (docs/codec.md), with canonical text forms.
 *
 * DATE, DATETIME and TIMESTAMP are one packed uint64 whose integer order is the time order:
 *
 *     ym = year * 13 + month; ymd = ym << 5 | day; hms = hour << 12 | minute << 6 | second
 *     packed = ((ymd << 17 | hms) << 24) | microsecond
 *
 * (the layout MySQL and TiDB use for packed datetimes). A DATE has a zero time part; a TIMESTAMP
 * holds the UTC time (the SQL layer converts from and to the session time zone). Zero dates
 * ('0000-00-00') and zero months or days are representable, as MySQL allows them in some modes;
 * whether a value is acceptable at write time (strict mode, NO_ZERO_DATE, the TIMESTAMP range,
 * real calendar days) is decided by the SQL layer, which cm_datetime_calendar_ok helps.
 *
 * TIME is a signed count of microseconds, within ±838:59:59 (MySQL's range).
 */
#ifndef CM_DATETIME_H
#define CM_DATETIME_H

#include "cm_buf.h"
#include "cm_err.h"

#include <stdbool.h>
#include <stdint.h>

/* MySQL's TIME range: ±838:59:59 (the limit of the old 3-byte TIME format). */
#define CM_DURATION_US_MAX   (INT64_C(3020399) * 1000000)
#define CM_DATETIME_YEAR_MAX 9999
/* YEAR columns hold 0 or 1901..2155 (one byte in MySQL). */
#define CM_YEAR_MIN 1901
#define CM_YEAR_MAX 2155
/* ENUM members are numbered from 1; 0 is the '' of an invalid value. At most 65535 members. */
#define CM_ENUM_MAX 65535
/* Fractional second precision: 0..6 digits. */
#define CM_FSP_MAX 6

typedef struct cm_datetime {
    uint16_t year;  /* 0..9999 */
    uint8_t month;  /* 0..12 (0 only in zero dates) */
    uint8_t day;    /* 0..31 */
    uint8_t hour;   /* 0..23 */
    uint8_t minute; /* 0..59 */
    uint8_t second; /* 0..59 */
    uint32_t micro; /* 0..999999 */
} cm_datetime;

/* Whether every field is within the ranges above. */
bool cm_datetime_valid(const cm_datetime *t);
/* Whether the day exists in the calendar (month 1..12, day 1..days of that month; leap years
 * by the Gregorian rule). Zero dates and zero parts are not calendar days. */
bool cm_datetime_calendar_ok(const cm_datetime *t);
/* Packs a valid t (asserted). */
uint64_t cm_datetime_pack(const cm_datetime *t);
/* Unpacks; returns 0 or CM_E_CORRUPT if a field is out of range. */
int cm_datetime_unpack(uint64_t packed, cm_datetime *out, cm_err *err);

/* Appends "YYYY-MM-DD" (date_only) or "YYYY-MM-DD hh:mm:ss" plus fsp (0..6) fraction digits
 * (truncated, as the value is expected to be rounded to its column's fsp already). */
int cm_datetime_format(const cm_datetime *t, bool date_only, unsigned fsp, cm_buf *out);
/* Parses the canonical forms "YYYY-MM-DD" and "YYYY-MM-DD hh:mm:ss[.f…]" (1..6 fraction digits).
 * Fields must be in range (not necessarily a calendar day). Returns 0 or CM_E_INVALID. MySQL's
 * other literal forms are the SQL layer's to normalise. */
int cm_datetime_parse(cm_slice text, cm_datetime *out, cm_err *err);

/* TIME: whether us is within ±838:59:59. */
bool cm_duration_valid(int64_t us);
/* Appends "[-]hh:mm:ss" (at least two hour digits) plus fsp fraction digits (truncated). */
int cm_duration_format(int64_t us, unsigned fsp, cm_buf *out);
/* Parses "[-]h…h:mm:ss[.f…]" (1..3 hour digits, 1..6 fraction digits). Returns 0 or
 * CM_E_INVALID (syntax or beyond ±838:59:59). */
int cm_duration_parse(cm_slice text, int64_t *us, cm_err *err);

#endif
