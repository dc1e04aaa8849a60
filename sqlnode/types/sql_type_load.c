/*
 * sql_type_load.c — a stored datum back into the value SQLite works with and the client sees:
 * numbers as numbers, DECIMAL as its exact text at the column's scale, temporal types in MySQL's
 * text forms with the column's fsp, ENUM/SET as member text, BIT as big-endian bytes.
 *
 * The datum's own type decides the conversion (the column's type gives the details: scale, fsp,
 * members, bits), so a value written before a column's type changed still reads.
 */
#include "sql_types.h"

#include "sql_my_const.h"
#include "sql_types_int.h"

#include <stdlib.h>
#include <string.h>

static sql_value text_at(const cm_buf *b, size_t at)
{
    if (b->ptr == NULL) {
        return sql_value_text("", 0);
    }
    return sql_value_text((const char *)b->ptr + at, b->len - at);
}

static int nomem(cm_err *err)
{
    return cm_err_set(err, CM_E_NOMEM, "out of memory");
}

static int load_set(const sql_coltype *t, uint64_t bits, cm_buf *scratch, cm_err *err)
{
    bool first = true;
    for (uint32_t i = 0; i < t->nmembers && i < 64; i++) {
        if ((bits >> i & 1) == 0) {
            continue;
        }
        if (!first && cm_buf_append_u8(scratch, ',') != 0) {
            return nomem(err);
        }
        if (cm_buf_append(scratch, t->members[i], strlen(t->members[i])) != 0) {
            return nomem(err);
        }
        first = false;
    }
    return 0;
}

/* Writes v as exactly `width` digits at p. */
static char *put_digits(char *p, uint64_t v, unsigned width)
{
    for (unsigned i = width; i > 0; i--) {
        p[i - 1] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

/* ".ffffff" cut to fsp digits (the value is already rounded to the column's fsp). */
static char *put_fraction(char *p, uint32_t micro, unsigned fsp)
{
    if (fsp == 0) {
        return p;
    }
    char f[6];
    put_digits(f, micro, 6);
    *p++ = '.';
    memcpy(p, f, fsp);
    return p + fsp;
}

/* Temporal text, formatted by hand: this runs for every temporal value read, and snprintf costs
 * several times the rest of the read. Same output as cm_datetime_format / cm_duration_format. */
static int load_temporal(const sql_coltype *t, const cm_datum *in, cm_buf *scratch, cm_err *err)
{
    unsigned fsp = t->decimals <= CM_FSP_MAX ? t->decimals : CM_FSP_MAX;
    char text[40];
    char *p = text;
    if (in->type == CM_DT_TIME) {
        if (!cm_duration_valid(in->v.i64)) {
            return cm_err_set(err, CM_E_CORRUPT, "TIME value out of range");
        }
        uint64_t mag = in->v.i64 < 0 ? (uint64_t)0 - (uint64_t)in->v.i64 : (uint64_t)in->v.i64;
        uint64_t secs = mag / 1000000, hours = secs / 3600;
        if (in->v.i64 < 0) {
            *p++ = '-';
        }
        p = put_digits(p, hours, hours >= 100 ? 3 : 2);
        *p++ = ':';
        p = put_digits(p, secs / 60 % 60, 2);
        *p++ = ':';
        p = put_digits(p, secs % 60, 2);
        p = put_fraction(p, (uint32_t)(mag % 1000000), t->dtype == CM_DT_TIME ? fsp : 0);
    } else {
        cm_datetime dt;
        int rc = cm_datetime_unpack(in->v.u64, &dt, err);
        if (rc != 0) {
            return rc;
        }
        bool date_only = in->type == CM_DT_DATE || t->dtype == CM_DT_DATE;
        if (t->dtype != CM_DT_DATETIME && t->dtype != CM_DT_TIMESTAMP) {
            fsp = 0;
        }
        if (t->dtype == CM_DT_TIMESTAMP && in->type != CM_DT_DATE && dt.month != 0) {
            sql_type_tz_from_utc(&dt); /* stored in UTC, shown in the session's zone */
        }
        p = put_digits(p, dt.year, 4);
        *p++ = '-';
        p = put_digits(p, dt.month, 2);
        *p++ = '-';
        p = put_digits(p, dt.day, 2);
        if (!date_only) {
            *p++ = ' ';
            p = put_digits(p, dt.hour, 2);
            *p++ = ':';
            p = put_digits(p, dt.minute, 2);
            *p++ = ':';
            p = put_digits(p, dt.second, 2);
            p = put_fraction(p, dt.micro, fsp);
        }
    }
    return cm_buf_append(scratch, text, (size_t)(p - text)) != 0 ? nomem(err) : 0;
}

int sql_type_load(const sql_coltype *t, const cm_datum *in, sql_value *out, cm_buf *scratch,
                  cm_err *err)
{
    size_t at = scratch->len;
    int rc;
    switch (in->type) {
    case CM_DT_NULL:
        *out = sql_value_null();
        return 0;
    case CM_DT_INT64:
        *out = sql_value_int(in->v.i64);
        return 0;
    case CM_DT_UINT64:
        *out = sql_value_int((int64_t)in->v.u64);
        out->type = SQL_V_UINT;
        out->u = in->v.u64;
        return 0;
    case CM_DT_FLOAT64:
        *out = sql_value_null();
        out->type = SQL_V_DOUBLE;
        out->d = in->v.f64;
        return 0;
    case CM_DT_FLOAT32: {
        /* The double nearest the float's shortest decimal form: 1.1f reads as 1.1 (what MySQL
         * prints), not 1.100000023841858. */
        if ((rc = sql_num_format_float((float)in->v.f64, scratch)) != 0) {
            return nomem(err);
        }
        if (cm_buf_terminate(scratch) != 0) {
            return nomem(err);
        }
        *out = sql_value_null();
        out->type = SQL_V_DOUBLE;
        out->d = strtod((const char *)scratch->ptr + at, NULL);
        scratch->len = at;
        return 0;
    }
    case CM_DT_DECIMAL: {
        cm_decimal d = in->v.dec;
        if (t->dtype == CM_DT_DECIMAL && d.frac != t->decimals &&
            cm_decimal_round(&d, t->decimals, &d, NULL) != 0) {
            d = in->v.dec;
        }
        if (cm_decimal_format(&d, scratch) != 0) {
            return nomem(err);
        }
        *out = text_at(scratch, at);
        return 0;
    }
    case CM_DT_STRING: {
        size_t n = in->v.bytes.len;
        if (t->fixed) { /* CHAR: trailing spaces removed on read */
            while (n > 0 && in->v.bytes.ptr[n - 1] == ' ') {
                n--;
            }
        }
        *out = sql_value_text((const char *)in->v.bytes.ptr, n);
        return 0;
    }
    case CM_DT_JSON:
        if (sql_json_normalize(in->v.bytes.ptr, in->v.bytes.len, scratch) != 0) {
            return nomem(err);
        }
        *out = text_at(scratch, at);
        return 0;
    case CM_DT_BYTES:
        *out = sql_value_text((const char *)in->v.bytes.ptr, in->v.bytes.len);
        out->type = SQL_V_BLOB;
        return 0;
    case CM_DT_DATE:
    case CM_DT_DATETIME:
    case CM_DT_TIMESTAMP:
    case CM_DT_TIME:
        if ((rc = load_temporal(t, in, scratch, err)) != 0) {
            return rc;
        }
        *out = text_at(scratch, at);
        return 0;
    case CM_DT_YEAR:
        *out = sql_value_int((int64_t)in->v.u64);
        return 0;
    case CM_DT_ENUM: {
        uint64_t i = in->v.u64;
        if (i >= 1 && i <= t->nmembers) {
            const char *m = t->members[i - 1];
            *out = sql_value_text(m, strlen(m));
        } else {
            *out = sql_value_text("", 0); /* 0 (an invalid value stored non-strictly) */
        }
        return 0;
    }
    case CM_DT_SET:
        if ((rc = load_set(t, in->v.u64, scratch, err)) != 0) {
            return rc;
        }
        *out = text_at(scratch, at);
        return 0;
    case CM_DT_BIT: {
        unsigned bits = t->dtype == CM_DT_BIT && t->length >= 1 && t->length <= 64 ? t->length : 64;
        unsigned nbytes = (bits + 7) / 8;
        for (unsigned i = 0; i < nbytes; i++) {
            if (cm_buf_append_u8(scratch, (uint8_t)(in->v.u64 >> (8 * (nbytes - 1 - i)))) != 0) {
                return nomem(err);
            }
        }
        *out = text_at(scratch, at);
        out->type = SQL_V_BLOB;
        return 0;
    }
    default:
        return cm_err_set(err, CM_E_CORRUPT, "datum of unknown type %d", (int)in->type);
    }
}
