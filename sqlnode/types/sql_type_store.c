/*
 * sql_type_store.c — a value on its way into a column: MySQL's conversions and checks (DESIGN.md
 * §7 "Types"). In strict mode a value that does not fit is an error with MySQL's errno and
 * message; otherwise it is clamped, truncated or zeroed and the warning MySQL gives is left in
 * *note. A few problems are notes in both modes, as in MySQL (DECIMAL rounding, trailing spaces
 * cut, a DATE's time part dropped), and invalid JSON is an error in both.
 *
 * Zero dates: strict mode behaves as MySQL's default sql_mode does (STRICT_TRANS_TABLES with
 * NO_ZERO_DATE and NO_ZERO_IN_DATE): refused; non-strict mode accepts them.
 */
#include "sql_types.h"

#include "sql_my_const.h"
#include "sql_types_int.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sctx {
    const sql_coltype *t;
    const char *col;
    uint64_t row;
    bool strict;
    const sql_value *in;
    cm_datum *out;
    cm_buf *scratch;
    sql_type_note *note;
    cm_err *err;
    cm_buf tmp; /* formatted numbers; freed at the end of the call */
} sctx;

/* ---- diagnostics ---- */

static void set_note(sctx *c, int cmcode, bool is_note, const char *fmt, va_list ap)
{
    if (c->note == NULL) {
        return;
    }
    c->note->is_note = is_note;
    c->note->code = (uint16_t)cm_err_mysql_errno(cmcode);
    vsnprintf(c->note->msg, sizeof(c->note->msg), fmt, ap);
}

/* A note or a warning, never an error. */
static void note(sctx *c, int cmcode, bool is_note, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void note(sctx *c, int cmcode, bool is_note, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_note(c, cmcode, is_note, fmt, ap);
    va_end(ap);
}

/* Strict: the error (returned); otherwise a warning and 0, so the caller stores its fallback. */
static int problem(sctx *c, int cmcode, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int problem(sctx *c, int cmcode, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = 0;
    if (c->strict) {
        rc = cm_err_vset(c->err, cmcode, fmt, ap);
    } else {
        set_note(c, cmcode, false, fmt, ap);
    }
    va_end(ap);
    return rc;
}

static const char *col(const sctx *c)
{
    return c->col != NULL ? c->col : "";
}

static unsigned long long rown(const sctx *c)
{
    return (unsigned long long)c->row;
}

static int out_of_range(sctx *c)
{
    return problem(c, CM_E_OUT_OF_RANGE, "Out of range value for column '%s' at row %llu", col(c),
                   rown(c));
}

static int truncated(sctx *c)
{
    return problem(c, CM_E_DATA_TRUNCATED, "Data truncated for column '%s' at row %llu", col(c),
                   rown(c));
}

/* 1265 as a Note (DECIMAL rounding, spaces cut, a DATE's time part) or as the warning of a
 * non-strict truncation. */
static void truncated_note(sctx *c)
{
    note(c, CM_E_DATA_TRUNCATED, true, "Data truncated for column '%s' at row %llu", col(c),
         rown(c));
}

static void truncated_warning(sctx *c)
{
    note(c, CM_E_DATA_TRUNCATED, false, "Data truncated for column '%s' at row %llu", col(c),
         rown(c));
}

/* Too long for the column: 1406 in strict mode, a 1265 warning otherwise (MySQL's pairing). */
static int too_long(sctx *c)
{
    if (c->strict) {
        return cm_err_set(c->err, CM_E_DATA_TOO_LONG, "Data too long for column '%s' at row %llu",
                          col(c), rown(c));
    }
    truncated_warning(c);
    return 0;
}

/* Printable form of the input for messages: text cut at 64 bytes, numbers formatted. */
static const char *value_text(sctx *c, char *buf, size_t cap)
{
    const sql_value *v = c->in;
    switch (v->type) {
    case SQL_V_INT:
        snprintf(buf, cap, "%lld", (long long)v->i);
        break;
    case SQL_V_UINT:
        snprintf(buf, cap, "%llu", (unsigned long long)v->u);
        break;
    case SQL_V_DOUBLE:
        snprintf(buf, cap, "%.17g", v->d);
        break;
    case SQL_V_TEXT:
    case SQL_V_BLOB: {
        size_t n = v->n < 64 ? v->n : 64;
        size_t j = 0;
        for (size_t i = 0; i < n && j + 5 < cap; i++) {
            unsigned char ch = (unsigned char)v->s[i];
            if (ch < 0x20 || ch == 0x7f || (v->type == SQL_V_BLOB && ch >= 0x80)) {
                j += (size_t)snprintf(buf + j, cap - j, "\\x%02X", ch);
            } else {
                buf[j++] = (char)ch;
            }
        }
        buf[j] = '\0';
        break;
    }
    default:
        snprintf(buf, cap, "NULL");
        break;
    }
    return buf;
}

static int incorrect(sctx *c, int cmcode, const char *what)
{
    char vb[300];
    return problem(c, cmcode, "Incorrect %s value: '%s' for column '%s' at row %llu", what,
                   value_text(c, vb, sizeof(vb)), col(c), rown(c));
}

/* ---- input access ---- */

static const char *in_str(const sql_value *v)
{
    return v->s != NULL ? v->s : "";
}

static bool in_is_str(const sql_value *v)
{
    return v->type == SQL_V_TEXT || v->type == SQL_V_BLOB;
}

/* Copies bytes into scratch and points the datum there. */
static int emit_copy(sctx *c, cm_dtype type, const void *p, size_t n)
{
    c->out->type = type;
    if (n == 0) {
        c->out->v.bytes = cm_slice_make("", 0);
        return 0;
    }
    size_t at = c->scratch->len;
    int rc = cm_buf_append(c->scratch, p, n);
    if (rc != 0) {
        return cm_err_set(c->err, rc, "out of memory");
    }
    c->out->v.bytes = cm_slice_make(c->scratch->ptr + at, n);
    return 0;
}

/* The input's text form: strings as they are, numbers formatted as MySQL prints them. */
static int in_text(sctx *c, const char **p, size_t *n)
{
    const sql_value *v = c->in;
    int rc = 0;
    switch (v->type) {
    case SQL_V_TEXT:
    case SQL_V_BLOB:
        *p = in_str(v);
        *n = v->n;
        return 0;
    case SQL_V_INT:
        rc = cm_buf_printf(&c->tmp, "%lld", (long long)v->i);
        break;
    case SQL_V_UINT:
        rc = cm_buf_printf(&c->tmp, "%llu", (unsigned long long)v->u);
        break;
    default:
        rc = sql_num_format_double(v->d, &c->tmp);
        break;
    }
    if (rc != 0) {
        return cm_err_set(c->err, rc, "out of memory");
    }
    *p = (const char *)c->tmp.ptr;
    *n = c->tmp.len;
    return 0;
}

/* An exact decimal from the input. *garbage: a string had trailing non-numeric bytes; *empty: it
 * had no number at all (the value is then 0). Returns 0, or 1 when the value overflows DECIMAL
 * entirely (*neg_overflow says which way). */
static int in_decimal(sctx *c, cm_decimal *d, bool *garbage, bool *empty, bool *rounded,
                      bool *neg_overflow)
{
    const sql_value *v = c->in;
    *garbage = *empty = *rounded = *neg_overflow = false;
    switch (v->type) {
    case SQL_V_INT:
        cm_decimal_from_int64(v->i, d);
        return 0;
    case SQL_V_UINT:
        cm_decimal_from_uint64(v->u, d);
        return 0;
    case SQL_V_DOUBLE: {
        if (isnan(v->d)) {
            *empty = true;
            cm_decimal_zero(d, 0);
            return 0;
        }
        if (isinf(v->d)) {
            *neg_overflow = v->d < 0;
            return 1;
        }
        cm_buf_reset(&c->tmp);
        char buf[40];
        snprintf(buf, sizeof(buf), "%.17g", v->d);
        /* shortest digits: 0.1 is 0.1, not 0.10000000000000001 */
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(buf, sizeof(buf), "%.*e", prec - 1, v->d);
            if (strtod(buf, NULL) == v->d) {
                break;
            }
        }
        int rc = cm_decimal_parse(cm_slice_cstr(buf), d, rounded, NULL);
        if (rc == CM_E_OUT_OF_RANGE) {
            *neg_overflow = v->d < 0;
            return 1;
        }
        if (rc != 0) {
            cm_decimal_zero(d, 0);
            *empty = true;
        }
        return 0;
    }
    default: {
        const char *s = in_str(v);
        size_t start, used;
        bool blank;
        sql_num_prefix(s, v->n, &start, &used, &blank);
        if (used == 0) {
            *empty = true;
            cm_decimal_zero(d, 0);
            return 0;
        }
        *garbage = !blank;
        int rc = cm_decimal_parse(cm_slice_make(s + start, used - start), d, rounded, NULL);
        if (rc == CM_E_OUT_OF_RANGE) {
            *neg_overflow = s[start] == '-';
            return 1;
        }
        if (rc != 0) {
            *empty = true;
            cm_decimal_zero(d, 0);
        }
        return 0;
    }
    }
}

/* A double from the input; same flags as in_decimal. */
static void in_double(sctx *c, double *d, bool *garbage, bool *empty)
{
    const sql_value *v = c->in;
    *garbage = *empty = false;
    switch (v->type) {
    case SQL_V_INT:
        *d = (double)v->i;
        return;
    case SQL_V_UINT:
        *d = (double)v->u;
        return;
    case SQL_V_DOUBLE:
        *d = v->d;
        return;
    default: {
        const char *s = in_str(v);
        size_t start, used;
        bool blank;
        sql_num_prefix(s, v->n, &start, &used, &blank);
        if (used == 0) {
            *empty = true;
            *d = 0;
            return;
        }
        *garbage = !blank;
        char small[128];
        char *buf = small;
        size_t len = used - start;
        if (len >= sizeof(small)) {
            buf = malloc(len + 1);
            if (buf == NULL) {
                *d = 0;
                *empty = true;
                return;
            }
        }
        memcpy(buf, s + start, len);
        buf[len] = '\0';
        *d = strtod(buf, NULL);
        if (buf != small) {
            free(buf);
        }
        return;
    }
    }
}

/* ---- integers ---- */

static void int_range(const sql_coltype *t, int64_t *lo, uint64_t *hi)
{
    unsigned bits;
    switch (t->mysql_type) {
    case SQL_TYPE_TINY:
        bits = 8;
        break;
    case SQL_TYPE_SHORT:
        bits = 16;
        break;
    case SQL_TYPE_INT24:
        bits = 24;
        break;
    case SQL_TYPE_LONG:
        bits = 32;
        break;
    default:
        bits = 64;
        break;
    }
    if (t->is_unsigned) {
        *lo = 0;
        *hi = bits == 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
    } else {
        *lo = bits == 64 ? INT64_MIN : -(INT64_C(1) << (bits - 1));
        *hi = bits == 64 ? (uint64_t)INT64_MAX : (UINT64_C(1) << (bits - 1)) - 1;
    }
}

/* A signed 65-bit view of an integer: neg + magnitude. */
typedef struct wide {
    bool neg;
    uint64_t mag;
    bool overflow; /* beyond 64 bits of magnitude */
} wide;

static wide wide_from_decimal(const cm_decimal *d)
{
    wide w = {d->neg != 0, 0, false};
    for (unsigned i = 0; i < d->intg; i++) {
        unsigned dig = d->digits[i];
        if (w.mag > (UINT64_MAX - dig) / 10) {
            w.overflow = true;
            return w;
        }
        w.mag = w.mag * 10 + dig;
    }
    return w;
}

/* The input rounded to an integer (half away from zero). Returns 0, or an error (strict). */
static int in_wide(sctx *c, const char *what, wide *w, bool *no_number)
{
    const sql_value *v = c->in;
    memset(w, 0, sizeof(*w));
    *no_number = false;
    if (v->type == SQL_V_INT) {
        w->neg = v->i < 0;
        w->mag = w->neg ? (uint64_t)0 - (uint64_t)v->i : (uint64_t)v->i;
        return 0;
    }
    if (v->type == SQL_V_UINT) {
        w->mag = v->u;
        return 0;
    }
    if (v->type == SQL_V_DOUBLE) {
        double r = round(v->d);
        if (isnan(r)) {
            *no_number = true;
            return incorrect(c, CM_E_INCORRECT_VALUE, what);
        }
        w->neg = r < 0;
        double m = fabs(r);
        if (m >= 18446744073709551616.0) {
            w->overflow = true;
        } else {
            w->mag = (uint64_t)m;
        }
        return 0;
    }
    cm_decimal d;
    bool garbage, empty, rounded, negov;
    if (in_decimal(c, &d, &garbage, &empty, &rounded, &negov) != 0) {
        w->neg = negov;
        w->overflow = true;
        return garbage ? truncated(c) : 0;
    }
    if (empty) {
        *no_number = true;
        return incorrect(c, CM_E_INCORRECT_VALUE, what);
    }
    cm_decimal r;
    if (cm_decimal_round(&d, 0, &r, NULL) != 0) {
        w->neg = d.neg;
        w->overflow = true;
    } else {
        *w = wide_from_decimal(&r);
    }
    return garbage ? truncated(c) : 0;
}

static int store_int(sctx *c)
{
    const sql_coltype *t = c->t;
    wide w;
    bool no_number;
    int rc = in_wide(c, "integer", &w, &no_number);
    if (rc != 0) {
        return rc;
    }
    int64_t lo;
    uint64_t hi;
    int_range(t, &lo, &hi);
    uint64_t lo_mag = lo < 0 ? (uint64_t)0 - (uint64_t)lo : 0;
    if (w.neg && w.mag == 0) {
        w.neg = false;
    }
    bool over = w.overflow || (w.neg ? w.mag > lo_mag : w.mag > hi);
    if (over) {
        if ((rc = out_of_range(c)) != 0) {
            return rc;
        }
        w.overflow = false;
        if (w.neg) {
            w.mag = lo_mag;
            w.neg = lo_mag != 0;
        } else {
            w.mag = hi;
        }
    }
    if (t->is_unsigned) {
        *c->out = cm_datum_uint64(w.mag);
    } else {
        *c->out = cm_datum_int64(w.neg ? (int64_t)((uint64_t)0 - w.mag) : (int64_t)w.mag);
    }
    return 0;
}

/* ---- DECIMAL ---- */

static void decimal_max(unsigned precision, unsigned scale, bool neg, cm_decimal *d)
{
    memset(d, 0, sizeof(*d));
    d->neg = neg;
    d->intg = (uint8_t)(precision - scale);
    d->frac = (uint8_t)scale;
    for (unsigned i = 0; i < precision; i++) {
        d->digits[i] = 9;
    }
    if (precision == 0) {
        d->neg = 0;
    }
}

static int store_decimal(sctx *c)
{
    const sql_coltype *t = c->t;
    cm_decimal d, r;
    bool garbage, empty, rounded, negov;
    int rc;
    if (in_decimal(c, &d, &garbage, &empty, &rounded, &negov) != 0) {
        if (garbage && (rc = truncated(c)) != 0) {
            return rc;
        }
        if ((rc = out_of_range(c)) != 0) {
            return rc;
        }
        if (negov && t->is_unsigned) {
            cm_decimal_zero(&r, t->decimals);
        } else {
            decimal_max(t->precision, t->decimals, negov, &r);
        }
        *c->out = cm_datum_decimal(&r);
        return 0;
    }
    if (empty) {
        if ((rc = incorrect(c, CM_E_INCORRECT_VALUE, "decimal")) != 0) {
            return rc;
        }
        cm_decimal_zero(&r, t->decimals);
        *c->out = cm_datum_decimal(&r);
        return 0;
    }
    if (garbage && (rc = truncated(c)) != 0) {
        return rc;
    }
    bool over = cm_decimal_round(&d, t->decimals, &r, NULL) != 0;
    if (!over) {
        if (rounded || cm_decimal_cmp(&d, &r) != 0) {
            truncated_note(c);
        }
        if (t->is_unsigned && r.neg) {
            over = true;
        } else {
            over = cm_decimal_check(&r, t->precision, t->decimals, NULL) != 0;
        }
    }
    if (over) {
        if ((rc = out_of_range(c)) != 0) {
            return rc;
        }
        if (d.neg && t->is_unsigned) {
            cm_decimal_zero(&r, t->decimals);
        } else {
            decimal_max(t->precision, t->decimals, d.neg, &r);
        }
    }
    *c->out = cm_datum_decimal(&r);
    return 0;
}

/* ---- FLOAT / DOUBLE ---- */

static int store_real(sctx *c)
{
    const sql_coltype *t = c->t;
    double d;
    bool garbage, empty;
    int rc;
    in_double(c, &d, &garbage, &empty);
    if (empty || isnan(d)) {
        if ((rc = incorrect(c, CM_E_INCORRECT_VALUE, "double")) != 0) {
            return rc;
        }
        d = 0;
    } else if (garbage && (rc = truncated(c)) != 0) {
        return rc;
    }
    bool is_float = t->dtype == CM_DT_FLOAT32;
    double max = is_float ? FLT_MAX : DBL_MAX;
    if (t->decimals != SQL_TYPE_NOT_FIXED && t->length > 0) {
        /* FLOAT(M,D) / DOUBLE(M,D): round to D digits, at most M - D before the point */
        double scale = pow(10.0, t->decimals);
        double r = round(d * scale) / scale;
        if (isfinite(r)) {
            d = r;
        }
        double lim = pow(10.0, (double)(t->length - t->decimals)) - 1.0 / scale;
        max = lim < max ? lim : max;
    }
    if (d > max || d < -max) {
        if ((rc = out_of_range(c)) != 0) {
            return rc;
        }
        d = d > 0 ? max : -max;
    }
    if (t->is_unsigned && d < 0) {
        if ((rc = out_of_range(c)) != 0) {
            return rc;
        }
        d = 0;
    }
    if (d == 0) {
        d = 0; /* -0.0 is stored as 0, one value for one key */
    }
    if (is_float) {
        *c->out = cm_datum_float32((float)d);
    } else {
        *c->out = cm_datum_float64(d);
    }
    return 0;
}

/* ---- strings and bytes ---- */

static bool all_spaces(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != ' ') {
            return false;
        }
    }
    return true;
}

static int bad_string(sctx *c, const char *p, size_t n, size_t at)
{
    char hex[40] = "";
    size_t j = 0;
    for (size_t i = at; i < n && i < at + 6; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch >= 0x20 && ch < 0x7f) {
            hex[j++] = (char)ch;
            hex[j] = '\0';
        } else {
            j += (size_t)snprintf(hex + j, sizeof(hex) - j, "\\x%02X", ch);
        }
    }
    return problem(c, CM_E_INCORRECT_VALUE,
                   "Incorrect string value: '%s%s' for column '%s' at row %llu", hex,
                   n - at > 6 ? "..." : "", col(c), rown(c));
}

static int store_string(sctx *c)
{
    const sql_coltype *t = c->t;
    const char *p;
    size_t n;
    int rc = in_text(c, &p, &n);
    if (rc != 0) {
        return rc;
    }
    size_t nchars;
    size_t valid = sql_utf8_valid_prefix((const uint8_t *)p, n, &nchars);
    if (valid < n) {
        if ((rc = bad_string(c, p, n, valid)) != 0) {
            return rc;
        }
        n = valid;
    }
    bool lob = t->mysql_type != SQL_TYPE_STRING && t->mysql_type != SQL_TYPE_VARCHAR;
    size_t keep = n;
    if (lob && n > t->length) { /* TEXT kinds: a limit in bytes, cut at a character boundary */
        size_t k = 0;
        while (k < n) {
            size_t step = sql_utf8_bytes_of_chars((const uint8_t *)p + k, n - k, 1);
            if (k + step > t->length) {
                break;
            }
            k += step;
        }
        keep = k;
    } else if (!lob && nchars > t->length) {
        keep = sql_utf8_bytes_of_chars((const uint8_t *)p, n, t->length);
    }
    if (keep < n) {
        if (all_spaces(p + keep, n - keep)) {
            truncated_note(c);
        } else if ((rc = too_long(c)) != 0) {
            return rc;
        }
        n = keep;
    }
    if (t->fixed) { /* CHAR: trailing spaces are not kept (MySQL drops them on read) */
        while (n > 0 && p[n - 1] == ' ') {
            n--;
        }
    }
    if (p == (const char *)c->tmp.ptr) {
        return emit_copy(c, CM_DT_STRING, p, n);
    }
    *c->out = cm_datum_string(cm_slice_make(p, n));
    return 0;
}

static int store_bytes(sctx *c)
{
    const sql_coltype *t = c->t;
    const char *p;
    size_t n;
    int rc = in_text(c, &p, &n);
    if (rc != 0) {
        return rc;
    }
    if (n > t->length) {
        if ((rc = too_long(c)) != 0) {
            return rc;
        }
        n = t->length;
    }
    if (t->fixed && n < t->length && t->length > 0) { /* BINARY(M): padded with 0x00 */
        size_t at = c->scratch->len;
        if ((rc = cm_buf_reserve(c->scratch, t->length)) != 0) {
            return cm_err_set(c->err, rc, "out of memory");
        }
        if (n > 0) {
            memcpy(c->scratch->ptr + at, p, n);
        }
        memset(c->scratch->ptr + at + n, 0, t->length - n);
        c->scratch->len += t->length;
        *c->out = cm_datum_bytes(cm_slice_make(c->scratch->ptr + at, t->length));
        return 0;
    }
    if (p == (const char *)c->tmp.ptr) {
        return emit_copy(c, CM_DT_BYTES, p, n);
    }
    *c->out = cm_datum_bytes(cm_slice_make(p, n));
    return 0;
}

static int store_json(sctx *c)
{
    const char *p;
    size_t n;
    int rc = in_text(c, &p, &n);
    if (rc != 0) {
        return rc;
    }
    size_t pos;
    const char *why;
    if (!sql_json_valid((const uint8_t *)p, n, &pos, &why)) {
        return cm_err_set(c->err, CM_E_INVALID_JSON,
                          "Invalid JSON text: \"%s\" at position %zu in value for column '%s'.",
                          why, pos, col(c));
    }
    if (p == (const char *)c->tmp.ptr) {
        return emit_copy(c, CM_DT_JSON, p, n);
    }
    *c->out = cm_datum_json(cm_slice_make(p, n));
    return 0;
}

/* ---- temporal types ---- */

static const char *temporal_word(const sql_coltype *t)
{
    switch (t->dtype) {
    case CM_DT_DATE:
        return "date";
    case CM_DT_TIME:
        return "time";
    default:
        return "datetime";
    }
}

/* A number's integer part and microseconds (for DATETIME/TIME from numbers). */
static int in_number_parts(sctx *c, bool *neg, uint64_t *ip, uint32_t *micro)
{
    const sql_value *v = c->in;
    *micro = 0;
    if (v->type == SQL_V_INT) {
        *neg = v->i < 0;
        *ip = *neg ? (uint64_t)0 - (uint64_t)v->i : (uint64_t)v->i;
        return 0;
    }
    if (v->type == SQL_V_UINT) {
        *neg = false;
        *ip = v->u;
        return 0;
    }
    double d = v->d;
    if (!isfinite(d) || fabs(d) >= 1e15) {
        return -1;
    }
    *neg = d < 0;
    d = fabs(d);
    double fl = floor(d);
    *ip = (uint64_t)fl;
    double us = round((d - fl) * 1e6);
    if (us >= 1e6) {
        (*ip)++;
        us = 0;
    }
    *micro = (uint32_t)us;
    return 0;
}

static uint64_t pack_ts_limit(uint16_t y, uint8_t mo, uint8_t d, uint8_t h, uint8_t mi, uint8_t s,
                              uint32_t us)
{
    cm_datetime t = {y, mo, d, h, mi, s, us};
    return cm_datetime_pack(&t);
}

static int store_datetime(sctx *c)
{
    const sql_coltype *t = c->t;
    const sql_value *v = c->in;
    bool is_date = t->dtype == CM_DT_DATE;
    unsigned fsp = is_date ? CM_FSP_MAX : t->decimals;
    sql_tparse tp;
    int ok;
    if (in_is_str(v)) {
        ok = sql_time_parse_datetime(in_str(v), v->n, fsp, &tp);
    } else {
        bool neg;
        uint64_t ip;
        uint32_t micro;
        ok = in_number_parts(c, &neg, &ip, &micro) == 0 && !neg
                 ? sql_time_datetime_from_number(ip, micro, fsp, &tp)
                 : -1;
    }
    cm_datetime *dt = &tp.dt;
    int rc;
    bool zero_date = ok == 0 && dt->year == 0 && dt->month == 0 && dt->day == 0;
    bool zero_part = ok == 0 && !zero_date && (dt->month == 0 || dt->day == 0);
    bool bad_day = ok == 0 && !zero_date && !zero_part && !cm_datetime_calendar_ok(dt);
    if (ok != 0 || bad_day || (c->strict && (zero_date || zero_part))) {
        if (c->strict) {
            return incorrect(c, CM_E_TRUNCATED_VALUE, temporal_word(t));
        }
        truncated_warning(c);
        memset(dt, 0, sizeof(*dt));
        zero_date = true;
    }
    if (is_date && (dt->hour | dt->minute | dt->second | dt->micro) != 0) {
        truncated_note(c);
        dt->hour = dt->minute = dt->second = 0;
        dt->micro = 0;
    }
    if (t->dtype == CM_DT_TIMESTAMP && !zero_date) {
        sql_type_tz_to_utc(dt); /* read in the session's time zone, stored in UTC */
    }
    uint64_t packed = cm_datetime_pack(dt);
    if (t->dtype == CM_DT_TIMESTAMP && !zero_date) {
        /* TIMESTAMP holds 1970-01-01 00:00:01 .. 2038-01-19 03:14:07.999999 UTC. */
        uint64_t lo = pack_ts_limit(1970, 1, 1, 0, 0, 1, 0);
        uint64_t hi = pack_ts_limit(2038, 1, 19, 3, 14, 7, 999999);
        if (packed < lo || packed > hi) {
            if (c->strict) {
                return incorrect(c, CM_E_TRUNCATED_VALUE, "datetime");
            }
            if ((rc = out_of_range(c)) != 0) {
                return rc;
            }
            packed = 0;
        }
    }
    *c->out = cm_datum_uint((cm_dtype)t->dtype, packed);
    return 0;
}

static int store_time(sctx *c)
{
    const sql_coltype *t = c->t;
    const sql_value *v = c->in;
    sql_tparse tp;
    int ok;
    if (in_is_str(v)) {
        ok = sql_time_parse_time(in_str(v), v->n, t->decimals, &tp);
    } else {
        bool neg;
        uint64_t ip;
        uint32_t micro;
        ok = in_number_parts(c, &neg, &ip, &micro) == 0
                 ? sql_time_time_from_number(neg, ip, micro, t->decimals, &tp)
                 : -1;
    }
    int rc;
    if (ok != 0) {
        if (c->strict) {
            return incorrect(c, CM_E_TRUNCATED_VALUE, "time");
        }
        truncated_warning(c);
        *c->out = cm_datum_int(CM_DT_TIME, 0);
        return 0;
    }
    const uint64_t max_s = (uint64_t)(CM_DURATION_US_MAX / 1000000);
    uint64_t secs = tp.hours * 3600 + tp.dt.minute * 60u + tp.dt.second;
    int64_t us;
    if (tp.hours > max_s / 3600 + 1 || secs > max_s || (secs == max_s && tp.dt.micro > 0)) {
        if (c->strict) {
            return incorrect(c, CM_E_TRUNCATED_VALUE, "time");
        }
        if ((rc = out_of_range(c)) != 0) {
            return rc;
        }
        us = CM_DURATION_US_MAX;
    } else {
        us = (int64_t)secs * 1000000 + tp.dt.micro;
    }
    *c->out = cm_datum_int(CM_DT_TIME, tp.neg ? -us : us);
    return 0;
}

static int store_year(sctx *c)
{
    const sql_value *v = c->in;
    wide w;
    bool two_digit = false;
    int rc;
    if (in_is_str(v)) {
        /* '0'..'99' are two-digit years ('0' and '00' are 2000); '0000' is the zero year */
        const char *s = in_str(v);
        size_t start, used;
        bool blank;
        sql_num_prefix(s, v->n, &start, &used, &blank);
        size_t nd = 0;
        while (start + nd < used && s[start + nd] >= '0' && s[start + nd] <= '9') {
            nd++;
        }
        two_digit = nd > 0 && nd <= 2;
    }
    bool no_number;
    if ((rc = in_wide(c, "integer", &w, &no_number)) != 0) {
        return rc;
    }
    if (no_number) {
        *c->out = cm_datum_uint(CM_DT_YEAR, 0); /* non-strict: no number at all */
        return 0;
    }
    uint64_t y = w.mag;
    bool bad = w.overflow || (w.neg && w.mag != 0);
    if (!bad) {
        if (y == 0 && two_digit) {
            y = 2000;
        } else if (y >= 1 && y <= 69) {
            y += 2000;
        } else if (y >= 70 && y <= 99) {
            y += 1900;
        } else if (y != 0 && (y < CM_YEAR_MIN || y > CM_YEAR_MAX)) {
            bad = true;
        }
    }
    if (bad) {
        if ((rc = out_of_range(c)) != 0) {
            return rc;
        }
        y = 0;
    }
    *c->out = cm_datum_uint(CM_DT_YEAR, y);
    return 0;
}

/* ---- ENUM / SET / BIT ---- */

/* Index + 1 of the member equal to s[0, n) (trailing spaces ignored), or 0. */
static uint32_t find_member(const sql_coltype *t, const char *s, size_t n)
{
    while (n > 0 && s[n - 1] == ' ') {
        n--;
    }
    for (uint32_t i = 0; i < t->nmembers; i++) {
        if (strlen(t->members[i]) == n && memcmp(t->members[i], s, n) == 0) {
            return i + 1;
        }
    }
    return 0;
}

/* Whether s is an unsigned integer (with optional spaces around): *v its value. */
static bool text_uint(const char *s, size_t n, uint64_t *v)
{
    size_t start, used;
    bool blank;
    sql_num_prefix(s, n, &start, &used, &blank);
    if (used == 0 || !blank) {
        return false;
    }
    uint64_t x = 0;
    for (size_t i = start; i < used; i++) {
        if (s[i] < '0' || s[i] > '9' || x > (UINT64_MAX - 9) / 10) {
            return false;
        }
        x = x * 10 + (uint64_t)(s[i] - '0');
    }
    *v = x;
    return true;
}

/* An integer input for ENUM/SET/BIT as uint64 (negative numbers wrap as in two's complement);
 * *ok false when the input is not an integer. */
static uint64_t in_uint_bits(const sql_value *v, bool *ok)
{
    *ok = true;
    if (v->type == SQL_V_INT) {
        return (uint64_t)v->i;
    }
    if (v->type == SQL_V_UINT) {
        return v->u;
    }
    double r = round(v->d);
    if (!isfinite(r) || r >= 18446744073709551616.0 || r < -9223372036854775808.0) {
        *ok = false;
        return 0;
    }
    return r < 0 ? (uint64_t)(int64_t)r : (uint64_t)r;
}

static int store_enum(sctx *c)
{
    const sql_coltype *t = c->t;
    const sql_value *v = c->in;
    uint64_t idx = 0;
    bool ok;
    if (in_is_str(v)) {
        idx = find_member(t, in_str(v), v->n);
        ok = idx != 0;
        if (!ok && text_uint(in_str(v), v->n, &idx)) {
            ok = idx >= 1 && idx <= t->nmembers;
        }
    } else {
        idx = in_uint_bits(v, &ok);
        ok = ok && idx >= 1 && idx <= t->nmembers;
    }
    if (!ok) {
        int rc = truncated(c);
        if (rc != 0) {
            return rc;
        }
        idx = 0;
    }
    *c->out = cm_datum_uint(CM_DT_ENUM, idx);
    return 0;
}

static int store_set(sctx *c)
{
    const sql_coltype *t = c->t;
    const sql_value *v = c->in;
    uint64_t all = t->nmembers >= 64 ? UINT64_MAX : (UINT64_C(1) << t->nmembers) - 1;
    uint64_t bits = 0;
    bool ok = true;
    if (in_is_str(v)) {
        const char *s = in_str(v);
        size_t n = v->n;
        uint64_t num;
        if (text_uint(s, n, &num) && find_member(t, s, n) == 0) {
            bits = num;
            ok = (num & ~all) == 0;
            bits &= all;
        } else if (n > 0) {
            size_t i = 0;
            for (;;) {
                size_t j = i;
                while (j < n && s[j] != ',') {
                    j++;
                }
                uint32_t m = find_member(t, s + i, j - i);
                if (m == 0) {
                    ok = false;
                } else {
                    bits |= UINT64_C(1) << (m - 1);
                }
                if (j >= n) {
                    break;
                }
                i = j + 1;
            }
        }
    } else {
        bits = in_uint_bits(v, &ok);
        ok = ok && (bits & ~all) == 0;
        bits &= all;
    }
    if (!ok) {
        int rc = truncated(c);
        if (rc != 0) {
            return rc;
        }
    }
    *c->out = cm_datum_uint(CM_DT_SET, bits);
    return 0;
}

static int store_bit(sctx *c)
{
    const sql_coltype *t = c->t;
    const sql_value *v = c->in;
    uint64_t x = 0;
    bool ok = true;
    if (in_is_str(v)) { /* the bytes, big-endian: b'101' and 'A' (0x41) alike */
        const uint8_t *p = (const uint8_t *)in_str(v);
        size_t n = v->n, i = 0;
        while (i < n && p[i] == 0) {
            i++;
        }
        if (n - i > 8) {
            ok = false;
        } else {
            for (; i < n; i++) {
                x = x << 8 | p[i];
            }
        }
    } else {
        x = in_uint_bits(v, &ok);
    }
    uint64_t max = t->length >= 64 ? UINT64_MAX : (UINT64_C(1) << t->length) - 1;
    if (!ok || x > max) {
        if (c->strict) {
            return cm_err_set(c->err, CM_E_DATA_TOO_LONG,
                              "Data too long for column '%s' at row %llu", col(c), rown(c));
        }
        note(c, CM_E_OUT_OF_RANGE, false, "Out of range value for column '%s' at row %llu", col(c),
             rown(c));
        x = max;
    }
    *c->out = cm_datum_uint(CM_DT_BIT, x);
    return 0;
}

/* ---- entry points ---- */

static int dispatch(sctx *c)
{
    switch ((cm_dtype)c->t->dtype) {
    case CM_DT_INT64:
    case CM_DT_UINT64:
        return store_int(c);
    case CM_DT_DECIMAL:
        return store_decimal(c);
    case CM_DT_FLOAT32:
    case CM_DT_FLOAT64:
        return store_real(c);
    case CM_DT_STRING:
        return store_string(c);
    case CM_DT_BYTES:
        return store_bytes(c);
    case CM_DT_JSON:
        return store_json(c);
    case CM_DT_DATE:
    case CM_DT_DATETIME:
    case CM_DT_TIMESTAMP:
        return store_datetime(c);
    case CM_DT_TIME:
        return store_time(c);
    case CM_DT_YEAR:
        return store_year(c);
    case CM_DT_ENUM:
        return store_enum(c);
    case CM_DT_SET:
        return store_set(c);
    case CM_DT_BIT:
        return store_bit(c);
    default:
        return cm_err_set(c->err, CM_E_INVALID, "column '%s' has no storage type (%d)", col(c),
                          (int)c->t->dtype);
    }
}

int sql_type_store_row(const sql_coltype *t, const char *col_name, uint64_t row,
                       const sql_value *in, bool strict, cm_datum *out, cm_buf *scratch,
                       sql_type_note *note_out, cm_err *err)
{
    if (note_out != NULL) {
        note_out->code = 0;
        note_out->msg[0] = '\0';
    }
    if (in->type == SQL_V_NULL) {
        *out = cm_datum_null();
        return 0;
    }
    sctx c = {t, col_name, row, strict, in, out, scratch, note_out, err, CM_BUF_INIT};
    int rc = dispatch(&c);
    cm_buf_fini(&c.tmp);
    return rc;
}

int sql_type_store(const sql_coltype *t, const char *col_name, const sql_value *in, bool strict,
                   cm_datum *out, cm_buf *scratch, sql_type_note *note_out, cm_err *err)
{
    return sql_type_store_row(t, col_name, 1, in, strict, out, scratch, note_out, err);
}
