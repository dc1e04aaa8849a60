/*
 * sql_type_key.c — a comparison operand converted for an index key, and how the converted value
 * relates to the operand (sql_type_fit). Storing rounds and clamps silently where MySQL does
 * (5.5 into an INT is 6, without a warning), which is right for a write and wrong for a bound:
 * `col > 5.5` must start at 6 inclusive, not after 6. The vtab builds key ranges from these
 * answers and leaves the exact comparison to SQLite.
 */
#include "sql_types.h"

#include "sql_my_const.h"
#include "sql_types_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sql_type_fit fit_of_cmp(int c)
{
    return c == 0 ? SQL_TYPE_FIT_EXACT : c > 0 ? SQL_TYPE_FIT_UP : SQL_TYPE_FIT_DOWN;
}

/* The whole of s (spaces around allowed) as an exact decimal. */
static bool text_decimal(const char *s, size_t n, cm_decimal *d)
{
    while (n > 0 && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')) {
        s++;
        n--;
    }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r')) {
        n--;
    }
    bool rounded = false;
    return n > 0 && cm_decimal_parse(cm_slice_make(s, n), d, &rounded, NULL) == 0 && !rounded;
}

/* in as an exact decimal; false when it is not a number (or beyond DECIMAL's reach). */
static bool in_decimal(const sql_value *in, cm_decimal *d)
{
    switch (in->type) {
    case SQL_V_INT:
        cm_decimal_from_int64(in->i, d);
        return true;
    case SQL_V_UINT:
        cm_decimal_from_uint64(in->u, d);
        return true;
    case SQL_V_DOUBLE: {
        if (!isfinite(in->d)) {
            return false;
        }
        char buf[40];
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(buf, sizeof(buf), "%.*e", prec - 1, in->d);
            if (strtod(buf, NULL) == in->d) {
                break;
            }
        }
        bool rounded = false;
        return cm_decimal_parse(cm_slice_cstr(buf), d, &rounded, NULL) == 0 && !rounded;
    }
    case SQL_V_TEXT:
        return text_decimal(in->s != NULL ? in->s : "", in->n, d);
    default:
        return false;
    }
}

static sql_type_fit numeric_fit(const sql_coltype *t, const sql_value *in, const cm_datum *out,
                                const sql_type_note *note)
{
    cm_decimal a, b;
    if (note->code == 1264 || !in_decimal(in, &b)) {
        return SQL_TYPE_FIT_NONE;
    }
    switch (out->type) {
    case CM_DT_INT64:
        cm_decimal_from_int64(out->v.i64, &a);
        break;
    case CM_DT_UINT64:
    case CM_DT_YEAR:
        cm_decimal_from_uint64(out->v.u64, &a);
        break;
    case CM_DT_DECIMAL:
        a = out->v.dec;
        break;
    default:
        return SQL_TYPE_FIT_NONE;
    }
    int c = cm_decimal_cmp(&a, &b);
    if (t->dtype == CM_DT_YEAR && c != 0) {
        return SQL_TYPE_FIT_NONE; /* 24 is stored as 2024: not a neighbour of 24 */
    }
    return fit_of_cmp(c);
}

static sql_type_fit real_fit(const sql_value *in, const cm_datum *out, const sql_type_note *note)
{
    double d;
    if (note->code == 1264) {
        return SQL_TYPE_FIT_NONE;
    }
    switch (in->type) {
    case SQL_V_INT:
        d = (double)in->i;
        break;
    case SQL_V_UINT:
        d = (double)in->u;
        break;
    case SQL_V_DOUBLE:
        d = in->d;
        break;
    case SQL_V_TEXT: {
        cm_decimal x;
        if (!text_decimal(in->s != NULL ? in->s : "", in->n, &x)) {
            return SQL_TYPE_FIT_NONE;
        }
        cm_buf b = CM_BUF_INIT;
        if (cm_decimal_format(&x, &b) != 0 || cm_buf_terminate(&b) != 0) {
            cm_buf_fini(&b);
            return SQL_TYPE_FIT_NONE;
        }
        d = strtod((const char *)b.ptr, NULL);
        cm_buf_fini(&b);
        break;
    }
    default:
        return SQL_TYPE_FIT_NONE;
    }
    if (isnan(d)) {
        return SQL_TYPE_FIT_NONE;
    }
    double o = out->v.f64;
    return fit_of_cmp(o == d ? 0 : o > d ? 1 : -1);
}

static size_t trim_spaces(const uint8_t *p, size_t n)
{
    while (n > 0 && p[n - 1] == ' ') {
        n--;
    }
    return n;
}

static sql_type_fit string_fit(const sql_coltype *t, const sql_value *in, const cm_datum *out)
{
    const uint8_t *ip = (const uint8_t *)(in->s != NULL ? in->s : "");
    cm_slice o = out->v.bytes;
    if (t->dtype == CM_DT_STRING) {
        if (in->type == SQL_V_INT || in->type == SQL_V_UINT) {
            return SQL_TYPE_FIT_EXACT; /* SQLite compares the same decimal text */
        }
        if (in->type != SQL_V_TEXT) {
            return SQL_TYPE_FIT_NONE; /* a double's text differs; a BLOB never equals TEXT */
        }
        /* PAD SPACE: equal up to trailing spaces (CHAR drops them; a cut of spaces only) */
        size_t a = trim_spaces(o.ptr, o.len), b = trim_spaces(ip, in->n);
        return a == b && (a == 0 || memcmp(o.ptr, ip, a) == 0) ? SQL_TYPE_FIT_EXACT
                                                               : SQL_TYPE_FIT_NONE;
    }
    if (in->type != SQL_V_BLOB) {
        return SQL_TYPE_FIT_NONE; /* SQLite orders every BLOB above every TEXT and number */
    }
    if (o.len < in->n) {
        return SQL_TYPE_FIT_NONE; /* cut */
    }
    int c = in->n > 0 ? memcmp(o.ptr, ip, in->n) : 0;
    if (c != 0) {
        return SQL_TYPE_FIT_NONE;
    }
    /* BINARY(M) padding makes out the smallest M-byte value above a shorter in */
    return o.len == in->n ? SQL_TYPE_FIT_EXACT : SQL_TYPE_FIT_UP;
}

/* Temporal operands: in read at full precision (DATETIME(6) / TIME(6)) against out. */
static sql_type_fit temporal_fit(const sql_coltype *t, const sql_value *in, const cm_datum *out,
                                 const sql_type_note *note)
{
    if (note->code == 1264) {
        return SQL_TYPE_FIT_NONE; /* a TIMESTAMP or TIME out of range, clamped or zeroed */
    }
    sql_coltype full;
    memset(&full, 0, sizeof(full));
    full.decimals = CM_FSP_MAX;
    full.mysql_type = t->dtype == CM_DT_TIME ? SQL_TYPE_TIME : SQL_TYPE_DATETIME;
    full.dtype = t->dtype == CM_DT_TIME ? CM_DT_TIME : CM_DT_DATETIME;
    full.collation = SQL_COLLATION_BINARY;
    cm_datum d;
    sql_type_note n2;
    cm_err e;
    if (sql_type_store(&full, "", in, false, &d, NULL, &n2, &e) != 0 || n2.code != 0) {
        return SQL_TYPE_FIT_NONE; /* not a valid date/time */
    }
    if (t->dtype == CM_DT_TIME) {
        return fit_of_cmp(out->v.i64 == d.v.i64 ? 0 : out->v.i64 > d.v.i64 ? 1 : -1);
    }
    if (t->dtype == CM_DT_TIMESTAMP) {
        cm_datetime dt; /* out is in UTC (sql_type_tz.c): so is the value compared with it */
        if (cm_datetime_unpack(d.v.u64, &dt, &e) != 0) {
            return SQL_TYPE_FIT_NONE;
        }
        if (dt.month != 0) {
            sql_type_tz_to_utc(&dt);
        }
        d.v.u64 = cm_datetime_pack(&dt);
    }
    /* packed values compare in time order (docs/codec.md) */
    return fit_of_cmp(out->v.u64 == d.v.u64 ? 0 : out->v.u64 > d.v.u64 ? 1 : -1);
}

/* ENUM, SET, BIT: equality on what SQLite sees (member text, BLOB bytes; BIT also as the
 * integer SQLite holds it as), nothing else. */
static sql_type_fit member_fit(const sql_coltype *t, const sql_value *in, const cm_datum *out,
                               const sql_type_note *note)
{
    if (t->dtype == CM_DT_BIT && note->code == 0 &&
        (in->type == SQL_V_INT || in->type == SQL_V_UINT)) {
        uint64_t x = in->type == SQL_V_INT ? (uint64_t)in->i : in->u;
        return (in->type == SQL_V_UINT || in->i >= 0) && out->v.u64 == x ? SQL_TYPE_FIT_EXACT
                                                                         : SQL_TYPE_FIT_NONE;
    }
    if (note->code != 0 || (in->type != SQL_V_TEXT && in->type != SQL_V_BLOB)) {
        return SQL_TYPE_FIT_NONE;
    }
    if (t->dtype == CM_DT_ENUM && in->type != SQL_V_TEXT) {
        return SQL_TYPE_FIT_NONE;
    }
    if (t->dtype == CM_DT_BIT && in->type != SQL_V_BLOB) {
        return SQL_TYPE_FIT_NONE;
    }
    cm_buf b = CM_BUF_INIT;
    sql_value v;
    cm_err e;
    sql_type_fit fit = SQL_TYPE_FIT_NONE;
    if (sql_type_load(t, out, &v, &b, &e) == 0) {
        size_t a = v.n, n = in->n;
        if (t->dtype == CM_DT_ENUM) { /* members compare PAD SPACE */
            a = trim_spaces((const uint8_t *)v.s, a);
            n = trim_spaces((const uint8_t *)in->s, n);
        }
        if (a == n && (n == 0 || memcmp(v.s, in->s, n) == 0)) {
            fit = SQL_TYPE_FIT_EXACT;
        }
    }
    cm_buf_fini(&b);
    return fit;
}

int sql_type_key_value(const sql_coltype *t, const sql_value *in, cm_datum *out, cm_buf *scratch,
                       sql_type_fit *fit, cm_err *err)
{
    *fit = SQL_TYPE_FIT_NONE;
    if (in->type == SQL_V_NULL) {
        *out = cm_datum_null();
        *fit = SQL_TYPE_FIT_EXACT;
        return 0;
    }
    sql_type_note note;
    cm_err e2;
    int rc = sql_type_store(t, "", in, false, out, scratch, &note, &e2);
    if (rc == CM_E_NOMEM) {
        return cm_err_set(err, rc, "%s", e2.msg);
    }
    if (rc != 0) { /* invalid JSON: nothing to key */
        *out = cm_datum_null();
        return 0;
    }
    switch ((cm_dtype)t->dtype) {
    case CM_DT_INT64:
    case CM_DT_UINT64:
    case CM_DT_DECIMAL:
    case CM_DT_YEAR:
        *fit = numeric_fit(t, in, out, &note);
        break;
    case CM_DT_FLOAT32:
    case CM_DT_FLOAT64:
        *fit = real_fit(in, out, &note);
        break;
    case CM_DT_STRING:
    case CM_DT_BYTES:
        *fit = note.code == 0 || note.code == 1265 ? string_fit(t, in, out) : SQL_TYPE_FIT_NONE;
        break;
    case CM_DT_DATE:
    case CM_DT_DATETIME:
    case CM_DT_TIMESTAMP:
    case CM_DT_TIME:
        *fit = temporal_fit(t, in, out, &note);
        break;
    case CM_DT_ENUM:
    case CM_DT_SET:
    case CM_DT_BIT:
        *fit = member_fit(t, in, out, &note);
        break;
    default:
        *fit = SQL_TYPE_FIT_NONE;
        break;
    }
    return 0;
}

bool sql_type_key_ordered(const sql_coltype *t)
{
    switch ((cm_dtype)t->dtype) {
    case CM_DT_ENUM:
    case CM_DT_SET:
    case CM_DT_TIME:
    case CM_DT_BIT:
    case CM_DT_JSON:
        return false;
    default:
        return true;
    }
}
