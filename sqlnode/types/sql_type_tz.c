/* sql_type_tz.c — the session time zone TIMESTAMP values are converted with (sql_types.h).
 *
 * TIMESTAMP is stored in UTC; a value written is read in the session's time_zone and a value read
 * is shown in it (DATETIME is never converted). The session sets the zone of its thread before
 * each statement (sql_type_set_tz), so the store, load and key-bound conversions that the
 * virtual tables run during sqlite3_step see it without a parameter on every call. */
#include "sql_types_int.h"

#include <time.h>

static _Thread_local int tz_system = 0;
static _Thread_local int64_t tz_offset = 0;

void sql_type_set_tz(int system, int64_t offset_s)
{
    tz_system = system;
    tz_offset = offset_s;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yy + (*m <= 2));
}

static int64_t to_secs(const cm_datetime *dt)
{
    return days_from_civil(dt->year, dt->month, dt->day) * 86400 + dt->hour * 3600 +
           dt->minute * 60 + dt->second;
}

static void from_secs(int64_t secs, cm_datetime *dt)
{
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t rem = secs - days * 86400;
    int y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    dt->year = (uint16_t)(y < 0 ? 0 : y > 9999 ? 9999 : y);
    dt->month = (uint8_t)m;
    dt->day = (uint8_t)d;
    dt->hour = (uint8_t)(rem / 3600);
    dt->minute = (uint8_t)(rem / 60 % 60);
    dt->second = (uint8_t)(rem % 60);
}

/* The system zone's offset at UTC instant utc. */
static int64_t system_offset(int64_t utc)
{
    time_t t = (time_t)utc;
    struct tm tm;
    if (localtime_r(&t, &tm) == NULL) {
        return 0;
    }
    return (int64_t)tm.tm_gmtoff;
}

void sql_type_tz_to_utc(cm_datetime *dt)
{
    int64_t local = to_secs(dt);
    int64_t off = tz_offset;
    if (tz_system) {
        /* the offset of the instant the local time names (twice: across a change) */
        off = system_offset(local);
        off = system_offset(local - off);
    }
    from_secs(local - off, dt);
}

void sql_type_tz_from_utc(cm_datetime *dt)
{
    int64_t utc = to_secs(dt);
    from_secs(utc + (tz_system ? system_offset(utc) : tz_offset), dt);
}
