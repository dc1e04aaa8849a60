/*
 * sql_func_str.c — MySQL string functions that sql_func.c does not have: SUBSTRING_INDEX, INSTR,
 * FIND_IN_SET, FORMAT, ORD, CHAR, ELT, FIELD, INSERT, QUOTE, TO_BASE64 / FROM_BASE64 and the
 * translator's TRIM forms (_tdb_trim). Positions count UTF-8 characters of text and bytes of
 * binary strings; comparisons are by bytes (the session's collation is utf8mb4_bin). Each
 * function says the storage class it returns.
 */
#include "sql_func_int.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

/* Byte offset of the first occurrence of w in s at or after from, or -1. */
static int64_t find_bytes(const sql_fn_str *s, size_t from, const sql_fn_str *w)
{
    if (w->n == 0) {
        return (int64_t)from;
    }
    for (size_t i = from; i + w->n <= s->n; i++) {
        if (memcmp(s->p + i, w->p, w->n) == 0) {
            return (int64_t)i;
        }
    }
    return -1;
}

/* SUBSTRING_INDEX(str, delim, count) → TEXT: str before the count-th delim (from the right when
 * count is negative). */
static void f_substring_index(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    if (sql_fn_any_null(argc, argv)) {
        sqlite3_result_null(ctx);
        return;
    }
    sql_fn_str s = sql_fn_get_str(argv[0]);
    sql_fn_str d = sql_fn_get_str(argv[1]);
    int64_t count = sqlite3_value_int64(argv[2]);
    if (count == 0 || d.n == 0) {
        sql_fn_result_str(ctx, &s, "", 0);
        return;
    }
    if (count > 0) {
        size_t at = 0;
        for (int64_t k = 0; k < count; k++) {
            int64_t f = find_bytes(&s, at, &d);
            if (f < 0) {
                sql_fn_result_str(ctx, &s, s.p, s.n);
                return;
            }
            if (k == count - 1) {
                sql_fn_result_str(ctx, &s, s.p, (size_t)f);
                return;
            }
            at = (size_t)f + d.n;
        }
        return;
    }
    /* from the right: the occurrences, counted from the end (they may not overlap) */
    int64_t want = -count;
    int64_t found = 0;
    int64_t pos = (int64_t)s.n - (int64_t)d.n;
    while (pos >= 0) {
        if (memcmp(s.p + pos, d.p, d.n) == 0) {
            found++;
            if (found == want) {
                size_t b = (size_t)pos + d.n;
                sql_fn_result_str(ctx, &s, s.p + b, s.n - b);
                return;
            }
            pos -= (int64_t)d.n;
        } else {
            pos--;
        }
    }
    sql_fn_result_str(ctx, &s, s.p, s.n);
}

/* INSTR(str, substr) → INTEGER: 1-based character position, 0 when absent. */
static void f_instr(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    if (sql_fn_any_null(argc, argv)) {
        sqlite3_result_null(ctx);
        return;
    }
    sql_fn_str s = sql_fn_get_str(argv[0]);
    sql_fn_str w = sql_fn_get_str(argv[1]);
    int64_t f = find_bytes(&s, 0, &w);
    sqlite3_result_int64(ctx, f < 0 ? 0 : (int64_t)sql_fn_char_count(s.p, (size_t)f, s.blob) + 1);
}

/* FIND_IN_SET(str, list) → INTEGER: position of str among list's comma-separated items. */
static void f_find_in_set(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    if (sql_fn_any_null(argc, argv)) {
        sqlite3_result_null(ctx);
        return;
    }
    sql_fn_str s = sql_fn_get_str(argv[0]);
    sql_fn_str l = sql_fn_get_str(argv[1]);
    if (memchr(s.p, ',', s.n) != NULL) {
        sqlite3_result_int(ctx, 0);
        return;
    }
    int64_t idx = 1;
    size_t b = 0;
    for (size_t i = 0; i <= l.n; i++) {
        if (i == l.n || l.p[i] == ',') {
            if (i - b == s.n && memcmp(l.p + b, s.p, s.n) == 0) {
                sqlite3_result_int64(ctx, idx);
                return;
            }
            idx++;
            b = i + 1;
        }
    }
    sqlite3_result_int(ctx, 0);
}

/* ---- decimal text (FORMAT, ROUND on exact values) ---- */

/* Reads the leading number of text p[0, n) as sign, integer digits and fraction digits. */
typedef struct dec_txt {
    int neg;
    char digits[128]; /* integer then fraction digits, no point */
    int nint, nfrac;
} dec_txt;

static int dec_from_text(const char *p, size_t n, dec_txt *d)
{
    size_t i = 0;
    memset(d, 0, sizeof(*d));
    while (i < n && (p[i] == ' ' || p[i] == '\t')) {
        i++;
    }
    if (i < n && (p[i] == '-' || p[i] == '+')) {
        d->neg = p[i] == '-';
        i++;
    }
    while (i < n && p[i] == '0' && i + 1 < n && p[i + 1] >= '0' && p[i + 1] <= '9') {
        i++;
    }
    int k = 0;
    while (i < n && p[i] >= '0' && p[i] <= '9') {
        if (k >= 65) {
            return -1;
        }
        d->digits[k++] = p[i++];
    }
    d->nint = k;
    if (i < n && p[i] == '.') {
        i++;
        while (i < n && p[i] >= '0' && p[i] <= '9') {
            if (k < 120) {
                d->digits[k++] = p[i];
                d->nfrac++;
            }
            i++;
        }
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        return -1; /* exponent: the caller goes through a double */
    }
    if (d->nint == 0) {
        memmove(d->digits + 1, d->digits, (size_t)k);
        d->digits[0] = '0';
        d->nint = 1;
    }
    return 0;
}

/* The shortest decimal text that reads back as x (what MySQL shows for a DOUBLE). */
static void double_text(double x, char *buf, size_t cap)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, x);
        if (strtod(buf, NULL) == x) {
            break;
        }
    }
    /* expand an exponent into plain digits */
    if (strchr(buf, 'e') != NULL && fabs(x) < 1e30 && fabs(x) >= 1e-30) {
        char tmp[128];
        int prec = 0;
        const char *e = strchr(buf, 'e');
        const char *dot = strchr(buf, '.');
        int mant = dot && dot < e ? (int)(e - dot - 1) : 0;
        int ex = atoi(e + 1);
        prec = mant - ex > 0 ? mant - ex : 0;
        snprintf(tmp, sizeof(tmp), "%.*f", prec > 60 ? 60 : prec, x);
        snprintf(buf, cap, "%s", tmp);
    }
}

/* Reads an argument as decimal text: integers and text exactly, doubles by their shortest text.
 * Returns -1 when it cannot (an exponent too large, NaN). */
static int dec_of(sqlite3_value *v, dec_txt *d)
{
    char buf[128];
    int t = sqlite3_value_type(v);
    if (t == SQLITE_INTEGER) {
        snprintf(buf, sizeof(buf), "%lld", (long long)sqlite3_value_int64(v));
        return dec_from_text(buf, strlen(buf), d);
    }
    if (t == SQLITE_TEXT || t == SQLITE_BLOB) {
        sql_fn_str s = sql_fn_get_str(v);
        if (dec_from_text((const char *)s.p, s.n, d) == 0) {
            return 0;
        }
    }
    double x = sqlite3_value_double(v);
    if (!isfinite(x) || fabs(x) >= 1e60) {
        return -1;
    }
    double_text(x, buf, sizeof(buf));
    return dec_from_text(buf, strlen(buf), d);
}

/* Rounds (half away from zero) or truncates d to keep `places` fraction digits (negative:
 * zeros left of the point). */
static void dec_round(dec_txt *d, int places, int truncate)
{
    int keep = d->nint + places; /* digits kept */
    int total = d->nint + d->nfrac;
    if (places >= d->nfrac) {
        return;
    }
    int up = 0;
    if (keep < 0) {
        keep = 0;
    } else if (!truncate && keep < total) {
        up = d->digits[keep] >= '5';
    }
    for (int i = keep; i < total; i++) {
        d->digits[i] = '0';
    }
    for (int i = keep - 1; up && i >= 0; i--) {
        if (d->digits[i] == '9') {
            d->digits[i] = '0';
        } else {
            d->digits[i]++;
            up = 0;
        }
    }
    if (up) { /* 9.9 → 10 */
        memmove(d->digits + 1, d->digits, (size_t)total);
        d->digits[0] = '1';
        d->nint++;
    }
    d->nfrac = places > 0 ? places : 0;
}

/* Writes d as text with exactly `places` fraction digits (0: no point); thousands groups with
 * sep when sep is non-zero. */
static size_t dec_to_text(const dec_txt *d, int places, char sep, char *out, size_t cap)
{
    size_t k = 0;
    int zero = 1;
    for (int i = 0; i < d->nint + (places < d->nfrac ? places : d->nfrac); i++) {
        zero &= d->digits[i] == '0';
    }
    if (d->neg && !zero && k + 1 < cap) {
        out[k++] = '-';
    }
    int lead = 0;
    while (lead < d->nint - 1 && d->digits[lead] == '0') {
        lead++;
    }
    for (int i = lead; i < d->nint && k + 2 < cap; i++) {
        out[k++] = d->digits[i];
        int left = d->nint - 1 - i;
        if (sep && left > 0 && left % 3 == 0) {
            out[k++] = sep;
        }
    }
    if (places > 0 && k + 1 < cap) {
        out[k++] = '.';
        for (int i = 0; i < places && k + 1 < cap; i++) {
            out[k++] = i < d->nfrac ? d->digits[d->nint + i] : '0';
        }
    }
    out[k] = '\0';
    return k;
}

size_t sql_fn_dec_round_text(sqlite3_value *v, int places, int truncate, char *out, size_t cap)
{
    dec_txt d;
    if (dec_of(v, &d) != 0) {
        return 0;
    }
    dec_round(&d, places, truncate);
    int shown = places < 0 ? 0 : places;
    if (shown > d.nfrac && places >= 0) {
        shown = d.nfrac; /* ROUND(1.5, 3) keeps the value's own scale */
    }
    return dec_to_text(&d, shown, 0, out, cap);
}

/* FORMAT(x, d[, locale]) → TEXT: x rounded to d decimals (0–30) with ',' thousands groups
 * (en_US; other locales are not supported and format as en_US). */
static void f_format(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    (void)argc;
    int64_t places = sqlite3_value_int64(argv[1]);
    if (places < 0) {
        places = 0;
    } else if (places > 30) {
        places = 30;
    }
    dec_txt d;
    if (dec_of(argv[0], &d) != 0) {
        sqlite3_result_null(ctx);
        return;
    }
    dec_round(&d, (int)places, 0);
    char buf[256];
    size_t n = dec_to_text(&d, (int)places, ',', buf, sizeof(buf));
    sqlite3_result_text(ctx, buf, (int)n, SQLITE_TRANSIENT);
}

/* ORD(str) → INTEGER: the first character's bytes as a big-endian number. */
static void f_ord(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    sql_fn_str s = sql_fn_get_str(argv[0]);
    size_t len = s.n ? sql_fn_char_offset(s.p, s.n, 1, s.blob) : 0;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        v = v * 256 + s.p[i];
    }
    sqlite3_result_int64(ctx, v);
}

/* CHAR(n, …) → BLOB: each integer as its big-endian bytes (no leading zero bytes); NULLs are
 * skipped. MySQL's result is a binary string. */
static void f_char(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    unsigned char *buf = malloc((size_t)argc * 4 + 1);
    size_t k = 0;
    if (buf == NULL) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    for (int i = 0; i < argc; i++) {
        if (sqlite3_value_type(argv[i]) == SQLITE_NULL) {
            continue;
        }
        uint32_t v = (uint32_t)sqlite3_value_int64(argv[i]);
        int started = 0;
        for (int b = 3; b >= 0; b--) {
            unsigned char c = (unsigned char)(v >> (8 * b));
            if (c != 0 || started || b == 0) {
                buf[k++] = c;
                started = 1;
            }
        }
    }
    sqlite3_result_blob(ctx, k ? buf : (unsigned char *)"", (int)k, SQLITE_TRANSIENT);
    free(buf);
}

/* ELT(n, s1, …) → the n-th string, NULL when n is out of range. */
static void f_elt(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    if (argc < 2) {
        sql_fn_error(ctx, CM_E_WRONG_ARGUMENTS, "Incorrect parameter count in the call to elt");
        return;
    }
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    int64_t n = sqlite3_value_int64(argv[0]);
    if (n < 1 || n >= argc) {
        sqlite3_result_null(ctx);
        return;
    }
    sqlite3_result_value(ctx, argv[n]);
}

static int is_num(sqlite3_value *v)
{
    int t = sqlite3_value_type(v);
    return t == SQLITE_INTEGER || t == SQLITE_FLOAT;
}

/* FIELD(s, s1, …) → INTEGER: index of the first si equal to s (numbers when all are numbers,
 * bytes otherwise); 0 when none is, or s is NULL. */
static void f_field(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    if (argc < 2) {
        sql_fn_error(ctx, CM_E_WRONG_ARGUMENTS, "Incorrect parameter count in the call to field");
        return;
    }
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_int(ctx, 0);
        return;
    }
    int numeric = 1;
    for (int i = 0; i < argc; i++) {
        numeric &= is_num(argv[i]) || sqlite3_value_type(argv[i]) == SQLITE_NULL;
    }
    sql_fn_str s = sql_fn_get_str(argv[0]);
    double x = sqlite3_value_double(argv[0]);
    for (int i = 1; i < argc; i++) {
        if (sqlite3_value_type(argv[i]) == SQLITE_NULL) {
            continue;
        }
        if (numeric) {
            if (sqlite3_value_double(argv[i]) == x) {
                sqlite3_result_int(ctx, i);
                return;
            }
            continue;
        }
        sql_fn_str w = sql_fn_get_str(argv[i]);
        s = sql_fn_get_str(argv[0]); /* text of argv[0] may have moved */
        if (w.n == s.n && memcmp(w.p, s.p, s.n) == 0) {
            sqlite3_result_int(ctx, i);
            return;
        }
    }
    sqlite3_result_int(ctx, 0);
}

/* INSERT(str, pos, len, newstr) → TEXT: str with len characters at pos replaced by newstr; str
 * itself when pos is outside it. */
static void f_insert(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    if (sql_fn_any_null(argc, argv)) {
        sqlite3_result_null(ctx);
        return;
    }
    sql_fn_str s = sql_fn_get_str(argv[0]);
    int64_t pos = sqlite3_value_int64(argv[1]);
    int64_t len = sqlite3_value_int64(argv[2]);
    sql_fn_str ins = sql_fn_get_str(argv[3]);
    s = sql_fn_get_str(argv[0]);
    int64_t chars = (int64_t)sql_fn_char_count(s.p, s.n, s.blob);
    if (pos < 1 || pos > chars) {
        sql_fn_result_str(ctx, &s, s.p, s.n);
        return;
    }
    if (len < 0 || len > chars - pos + 1) {
        len = chars - pos + 1;
    }
    size_t b0 = sql_fn_char_offset(s.p, s.n, (size_t)(pos - 1), s.blob);
    size_t b1 = sql_fn_char_offset(s.p, s.n, (size_t)(pos - 1 + len), s.blob);
    cm_buf b = CM_BUF_INIT;
    if (cm_buf_append(&b, s.p, b0) != 0 || cm_buf_append(&b, ins.p, ins.n) != 0 ||
        cm_buf_append(&b, s.p + b1, s.n - b1) != 0) {
        cm_buf_fini(&b);
        sqlite3_result_error_nomem(ctx);
        return;
    }
    sql_fn_str like = {NULL, 0, s.blob || ins.blob};
    sql_fn_result_str(ctx, &like, b.ptr, b.len);
    cm_buf_fini(&b);
}

/* QUOTE(str) → TEXT: a single-quoted literal with \, ', NUL and ^Z escaped; the word NULL for
 * NULL. */
static void f_quote(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_text(ctx, "NULL", 4, SQLITE_STATIC);
        return;
    }
    sql_fn_str s = sql_fn_get_str(argv[0]);
    cm_buf b = CM_BUF_INIT;
    int rc = cm_buf_reserve(&b, s.n + 2) != 0 || cm_buf_append_u8(&b, '\'') != 0;
    for (size_t i = 0; i < s.n && rc == 0; i++) {
        unsigned char c = s.p[i];
        if (c == '\\' || c == '\'') {
            rc = cm_buf_append_u8(&b, '\\') != 0 || cm_buf_append_u8(&b, c) != 0;
        } else if (c == 0) {
            rc = cm_buf_append(&b, "\\0", 2) != 0;
        } else if (c == 26) {
            rc = cm_buf_append(&b, "\\Z", 2) != 0;
        } else {
            rc = cm_buf_append_u8(&b, c) != 0;
        }
    }
    if (rc != 0 || cm_buf_append_u8(&b, '\'') != 0) {
        cm_buf_fini(&b);
        sqlite3_result_error_nomem(ctx);
        return;
    }
    sql_fn_result_str(ctx, NULL, b.ptr, b.len);
    cm_buf_fini(&b);
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* TO_BASE64(str) → TEXT, a newline after every 76 output characters (as MySQL). */
static void f_to_base64(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    sql_fn_str s = sql_fn_get_str(argv[0]);
    if ((double)s.n * 1.4 > (double)sql_fn_max_len(ctx)) {
        sqlite3_result_error_toobig(ctx);
        return;
    }
    cm_buf b = CM_BUF_INIT;
    int rc = 0;
    size_t line = 0;
    for (size_t i = 0; i < s.n && rc == 0; i += 3) {
        uint32_t v = (uint32_t)s.p[i] << 16;
        size_t left = s.n - i;
        if (left > 1) {
            v |= (uint32_t)s.p[i + 1] << 8;
        }
        if (left > 2) {
            v |= s.p[i + 2];
        }
        if (line == 76) {
            rc = cm_buf_append_u8(&b, '\n');
            line = 0;
        }
        char q[4] = {b64[(v >> 18) & 63], b64[(v >> 12) & 63], left > 1 ? b64[(v >> 6) & 63] : '=',
                     left > 2 ? b64[v & 63] : '='};
        rc |= cm_buf_append(&b, q, 4);
        line += 4;
    }
    if (rc != 0) {
        cm_buf_fini(&b);
        sqlite3_result_error_nomem(ctx);
        return;
    }
    sql_fn_result_str(ctx, NULL, b.ptr, b.len);
    cm_buf_fini(&b);
}

static int b64val(unsigned char c)
{
    const char *p = c ? strchr(b64, c) : NULL;
    return p ? (int)(p - b64) : -1;
}

/* FROM_BASE64(str) → BLOB (MySQL returns a binary string); NULL for malformed input.
 * Whitespace is skipped. */
static void f_from_base64(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    sql_fn_str s = sql_fn_get_str(argv[0]);
    unsigned char *out = malloc(s.n / 4 * 3 + 4);
    if (out == NULL) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    size_t k = 0;
    uint32_t acc = 0;
    int nq = 0, pad = 0, bad = 0;
    for (size_t i = 0; i < s.n && !bad; i++) {
        unsigned char c = s.p[i];
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
            continue;
        }
        if (c == '=') {
            pad++;
            acc <<= 6;
            nq++;
        } else {
            int v = b64val(c);
            if (v < 0 || pad > 0) {
                bad = 1;
                break;
            }
            acc = (acc << 6) | (uint32_t)v;
            nq++;
        }
        if (nq == 4) {
            if (pad > 2) {
                bad = 1;
                break;
            }
            out[k++] = (unsigned char)(acc >> 16);
            if (pad < 2) {
                out[k++] = (unsigned char)(acc >> 8);
            }
            if (pad < 1) {
                out[k++] = (unsigned char)acc;
            }
            acc = 0;
            nq = 0;
        }
    }
    if (bad || nq != 0) {
        free(out);
        sqlite3_result_null(ctx);
        return;
    }
    sqlite3_result_blob(ctx, out, (int)k, free);
}

/* _tdb_trim(mode, remstr, str) → TEXT: TRIM([BOTH|LEADING|TRAILING] [remstr] FROM str). mode 0
 * both, 1 leading, 2 trailing; plus 10 when no remstr was given (a space is removed). remstr is
 * removed as a whole string, repeatedly. */
static void f_trim(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    int mode = sqlite3_value_int(argv[0]);
    int space = mode >= 10;
    mode %= 10;
    if (sqlite3_value_type(argv[2]) == SQLITE_NULL ||
        (!space && sqlite3_value_type(argv[1]) == SQLITE_NULL)) {
        sqlite3_result_null(ctx);
        return;
    }
    sql_fn_str r = {(const unsigned char *)" ", 1, 0};
    if (!space) {
        r = sql_fn_get_str(argv[1]);
    }
    sql_fn_str s = sql_fn_get_str(argv[2]);
    size_t b = 0, e = s.n;
    if (r.n > 0) {
        if (mode != 2) {
            while (e - b >= r.n && memcmp(s.p + b, r.p, r.n) == 0) {
                b += r.n;
            }
        }
        if (mode != 1) {
            while (e - b >= r.n && memcmp(s.p + e - r.n, r.p, r.n) == 0) {
                e -= r.n;
            }
        }
    }
    sql_fn_result_str(ctx, &s, s.p + b, e - b);
}

/* ---- case mapping ---- */

/* Decodes one UTF-8 character at p[0, n): its code point and length, or length 0 when the bytes
 * are not a well-formed character. */
static size_t utf8_decode(const unsigned char *p, size_t n, uint32_t *cp)
{
    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    size_t len = p[0] >= 0xF0 ? 4 : p[0] >= 0xE0 ? 3 : p[0] >= 0xC0 ? 2 : 0;
    if (len == 0 || len > n || p[0] > 0xF4) {
        return 0;
    }
    uint32_t v = p[0] & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            return 0;
        }
        v = (v << 6) | (p[i] & 0x3F);
    }
    *cp = v;
    return len;
}

static int utf8_encode(cm_buf *b, uint32_t cp)
{
    uint8_t u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (uint8_t)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (uint8_t)(0xC0 | (cp >> 6));
        u[1] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (uint8_t)(0xE0 | (cp >> 12));
        u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (uint8_t)(0xF0 | (cp >> 18));
        u[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return cm_buf_append(b, u, n);
}

/* UPPER / LOWER → TEXT: Unicode case mapping of each character; binary strings unchanged (as
 * MySQL: case conversion does not apply to them). */
static void change_case(sqlite3_context *ctx, sqlite3_value *v, int upper)
{
    if (sqlite3_value_type(v) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    sql_fn_str s = sql_fn_get_str(v);
    if (s.blob) {
        sql_fn_result_str(ctx, &s, s.p, s.n);
        return;
    }
    locale_t utf8_locale = sql_fn_utf8_locale();
    cm_buf b = CM_BUF_INIT;
    int rc = cm_buf_reserve(&b, s.n + 1);
    for (size_t i = 0; i < s.n && rc == 0;) {
        uint32_t cp;
        size_t len = utf8_decode(s.p + i, s.n - i, &cp);
        if (len == 0) {
            rc = cm_buf_append_u8(&b, s.p[i]);
            i++;
            continue;
        }
        uint32_t m = cp;
        if (utf8_locale != (locale_t)0) {
            m = (uint32_t)(upper ? towupper_l((wint_t)cp, utf8_locale)
                                 : towlower_l((wint_t)cp, utf8_locale));
        } else if (upper && cp >= 'a' && cp <= 'z') {
            m = cp - 32;
        } else if (!upper && cp >= 'A' && cp <= 'Z') {
            m = cp + 32;
        }
        rc = m == cp ? cm_buf_append(&b, s.p + i, len) : utf8_encode(&b, m);
        i += len;
    }
    if (rc != 0) {
        cm_buf_fini(&b);
        sqlite3_result_error_nomem(ctx);
        return;
    }
    sql_fn_result_str(ctx, &s, b.ptr, b.len);
    cm_buf_fini(&b);
}

static void f_upper(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    change_case(ctx, argv[0], 1);
}

static void f_lower(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    change_case(ctx, argv[0], 0);
}

/* BIT_LENGTH(str) → INTEGER: 8 × its bytes. */
static void f_bit_length(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    sql_fn_str a = sql_fn_get_str(argv[0]);
    sqlite3_result_int64(ctx, (int64_t)a.n * 8);
}

static const sql_fn_def str_fns[] = {
    {"bit_length", 1, 1, f_bit_length},
    {"upper", 1, 1, f_upper},
    {"ucase", 1, 1, f_upper},
    {"lower", 1, 1, f_lower},
    {"lcase", 1, 1, f_lower},
    {"substring_index", 3, 1, f_substring_index},
    {"instr", 2, 1, f_instr},
    {"find_in_set", 2, 1, f_find_in_set},
    {"format", 2, 1, f_format},
    {"format", 3, 1, f_format},
    {"ord", 1, 1, f_ord},
    {"char", -1, 1, f_char},
    {"elt", -1, 1, f_elt},
    {"field", -1, 1, f_field},
    {"insert", 4, 1, f_insert},
    {"quote", 1, 1, f_quote},
    {"to_base64", 1, 1, f_to_base64},
    {"from_base64", 1, 1, f_from_base64},
    {"_tdb_trim", 3, 1, f_trim},
};

int sql_func_str_register(sql_sess *s)
{
    return sql_fn_register_table(s, str_fns, sizeof(str_fns) / sizeof(str_fns[0]));
}
