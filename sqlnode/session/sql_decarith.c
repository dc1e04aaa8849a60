/* sql_decarith.c — exact DECIMAL arithmetic as SQLite functions (sql_numeric.h).
 *
 * The type inference rewrites DECIMAL `+ - * / MOD` of the select list into calls of these
 * functions (tessera_dadd(a, b), tessera_dsub, tessera_dmul, tessera_ddiv(a, b, scale),
 * tessera_dmod), so the arithmetic is exact where SQLite's is a double. Operands are DECIMAL
 * texts (columns), integers, or REALs (results of these functions, which hold at most 15
 * significant digits and so convert back exactly). Results follow the aggregates' policy
 * (agg_result_value in sql_numeric.c): an INTEGER or REAL when one holds the value exactly,
 * TEXT beyond 15 significant digits; the row path prints them at the item's scale.
 * Division and MOD by zero give NULL with warning 1365; more than 65 integer digits is 1690. */
#include "sql_numeric.h"

#include "cm_decimal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Digits of a magnitude: operands have at most 65 digits; a division shifts the dividend by up
 * to scale + divisor scale + 1 (30 + 30 + 1) digits, a product has up to 130. */
#define DN_MAX 200

typedef struct dnum {
    int neg;
    int scale;         /* value = digits · 10^-scale */
    int nd;            /* digits used (no leading zeros; 0 for zero) */
    uint8_t d[DN_MAX]; /* little-endian base 10 */
} dnum;

static void dn_trim(dnum *a)
{
    while (a->nd > 0 && a->d[a->nd - 1] == 0) {
        a->nd--;
    }
    if (a->nd == 0) {
        a->neg = 0;
    }
}

/* Parses [-+]digits[.digits][e[-+]N]; returns 0 or -1. */
static int dn_parse(const char *p, size_t n, dnum *out)
{
    memset(out, 0, sizeof(*out));
    size_t i = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\t')) {
        i++;
    }
    if (i < n && (p[i] == '-' || p[i] == '+')) {
        out->neg = p[i] == '-';
        i++;
    }
    uint8_t tmp[DN_MAX];
    int nt = 0, frac = 0, seen_point = 0, any = 0;
    for (; i < n; i++) {
        if (p[i] >= '0' && p[i] <= '9') {
            any = 1;
            if (nt == 0 && p[i] == '0' && !seen_point) {
                continue; /* leading zeros */
            }
            if (nt >= DN_MAX) {
                return -1;
            }
            tmp[nt++] = (uint8_t)(p[i] - '0');
            frac += seen_point;
        } else if (p[i] == '.' && !seen_point) {
            seen_point = 1;
        } else {
            break;
        }
    }
    if (!any) {
        return -1;
    }
    int exp = 0;
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        char *end;
        char buf[16];
        size_t m = n - i - 1 < sizeof(buf) - 1 ? n - i - 1 : sizeof(buf) - 1;
        memcpy(buf, p + i + 1, m);
        buf[m] = '\0';
        long e = strtol(buf, &end, 10);
        if (end == buf || e > 100 || e < -100) {
            return -1;
        }
        exp = (int)e;
        i = n;
    }
    while (i < n && (p[i] == ' ' || p[i] == '\t')) {
        i++;
    }
    if (i != n) {
        return -1;
    }
    /* value = tmp · 10^(exp - frac) */
    int scale = frac - exp;
    int shift = 0;
    if (scale < 0) {
        shift = -scale;
        scale = 0;
    }
    if (nt + shift > DN_MAX || scale > 100) {
        return -1;
    }
    for (int k = 0; k < shift; k++) {
        out->d[k] = 0;
    }
    for (int k = 0; k < nt; k++) {
        out->d[shift + k] = tmp[nt - 1 - k];
    }
    out->nd = nt + shift;
    out->scale = scale;
    dn_trim(out);
    return 0;
}

/* Multiplies by 10^k (k >= 0). */
static int dn_shift(dnum *a, int k)
{
    if (a->nd == 0 || k == 0) {
        return 0;
    }
    if (a->nd + k > DN_MAX) {
        return -1;
    }
    memmove(a->d + k, a->d, (size_t)a->nd);
    memset(a->d, 0, (size_t)k);
    a->nd += k;
    return 0;
}

/* Brings a to scale s (s >= a->scale). */
static int dn_rescale(dnum *a, int s)
{
    if (dn_shift(a, s - a->scale) != 0) {
        return -1;
    }
    a->scale = s;
    return 0;
}

static int mag_cmp(const dnum *a, const dnum *b)
{
    if (a->nd != b->nd) {
        return a->nd < b->nd ? -1 : 1;
    }
    for (int i = a->nd - 1; i >= 0; i--) {
        if (a->d[i] != b->d[i]) {
            return a->d[i] < b->d[i] ? -1 : 1;
        }
    }
    return 0;
}

/* r = |a| + |b| (same scale) */
static int mag_add(const dnum *a, const dnum *b, dnum *r)
{
    int n = a->nd > b->nd ? a->nd : b->nd;
    int carry = 0;
    for (int i = 0; i < n; i++) {
        int v = (i < a->nd ? a->d[i] : 0) + (i < b->nd ? b->d[i] : 0) + carry;
        r->d[i] = (uint8_t)(v % 10);
        carry = v / 10;
    }
    if (carry) {
        if (n >= DN_MAX) {
            return -1;
        }
        r->d[n++] = (uint8_t)carry;
    }
    r->nd = n;
    return 0;
}

/* r = |a| - |b|, |a| >= |b| (same scale) */
static void mag_sub(const dnum *a, const dnum *b, dnum *r)
{
    int borrow = 0;
    for (int i = 0; i < a->nd; i++) {
        int v = a->d[i] - (i < b->nd ? b->d[i] : 0) - borrow;
        borrow = v < 0;
        r->d[i] = (uint8_t)(borrow ? v + 10 : v);
    }
    r->nd = a->nd;
}

/* Signed sum a + (neg_b ? -b : b); both at the same scale. */
static int dn_addsub(dnum *a, dnum *b, int sub, dnum *r)
{
    int s = a->scale > b->scale ? a->scale : b->scale;
    if (dn_rescale(a, s) != 0 || dn_rescale(b, s) != 0) {
        return -1;
    }
    int bneg = b->neg ^ (sub && b->nd > 0);
    memset(r, 0, sizeof(*r));
    r->scale = s;
    if (a->neg == bneg) {
        if (mag_add(a, b, r) != 0) {
            return -1;
        }
        r->neg = a->neg;
    } else if (mag_cmp(a, b) >= 0) {
        mag_sub(a, b, r);
        r->neg = a->neg;
    } else {
        mag_sub(b, a, r);
        r->neg = bneg;
    }
    dn_trim(r);
    return 0;
}

static int dn_mul(const dnum *a, const dnum *b, dnum *r)
{
    memset(r, 0, sizeof(*r));
    if (a->nd == 0 || b->nd == 0) {
        r->scale = a->scale + b->scale;
        return 0;
    }
    if (a->nd + b->nd > DN_MAX) {
        return -1;
    }
    int acc[DN_MAX + 1];
    memset(acc, 0, sizeof(acc));
    for (int i = 0; i < a->nd; i++) {
        for (int j = 0; j < b->nd; j++) {
            acc[i + j] += a->d[i] * b->d[j];
        }
        for (int k = 0; k < a->nd + b->nd; k++) { /* keep the sums small */
            if (acc[k] >= 10) {
                acc[k + 1] += acc[k] / 10;
                acc[k] %= 10;
            }
        }
    }
    r->nd = a->nd + b->nd;
    for (int k = 0; k < r->nd; k++) {
        r->d[k] = (uint8_t)acc[k];
    }
    r->neg = a->neg != b->neg;
    r->scale = a->scale + b->scale;
    dn_trim(r);
    return 0;
}

/* q = floor(|a| / |b|) and rem = |a| mod |b| (integers: scales ignored), |b| > 0. */
static void mag_divmod(const dnum *a, const dnum *b, dnum *q, dnum *rem)
{
    memset(q, 0, sizeof(*q));
    memset(rem, 0, sizeof(*rem));
    for (int i = a->nd - 1; i >= 0; i--) {
        /* rem = rem · 10 + digit */
        if (rem->nd > 0 || a->d[i] != 0) {
            memmove(rem->d + 1, rem->d, (size_t)rem->nd);
            rem->d[0] = a->d[i];
            rem->nd++;
            dn_trim(rem);
        }
        int c = 0;
        while (mag_cmp(rem, b) >= 0) {
            mag_sub(rem, b, rem);
            dn_trim(rem);
            c++;
        }
        q->d[i] = (uint8_t)c;
    }
    q->nd = a->nd;
    dn_trim(q);
}

/* Rounds r half away from zero to `scale` digits (scale < r->scale). */
static void dn_round(dnum *r, int scale)
{
    int drop = r->scale - scale;
    if (drop <= 0) {
        return;
    }
    int up = drop <= r->nd && r->d[drop - 1] >= 5;
    if (drop >= r->nd) {
        r->nd = 0;
    } else {
        memmove(r->d, r->d + drop, (size_t)(r->nd - drop));
        r->nd -= drop;
    }
    r->scale = scale;
    for (int i = 0; up; i++) {
        if (i == r->nd) {
            r->d[r->nd++] = 1;
            break;
        }
        if (r->d[i] == 9) {
            r->d[i] = 0;
        } else {
            r->d[i]++;
            up = 0;
        }
    }
    dn_trim(r);
}

/* ---- SQLite glue ---- */

static int dn_from_value(sqlite3_value *v, dnum *out)
{
    switch (sqlite3_value_type(v)) {
    case SQLITE_INTEGER: {
        char buf[32];
        int n = snprintf(buf, sizeof(buf), "%lld", (long long)sqlite3_value_int64(v));
        return dn_parse(buf, (size_t)n, out);
    }
    case SQLITE_FLOAT: {
        double d = sqlite3_value_double(v);
        if (!isfinite(d)) {
            return -1;
        }
        char buf[40];
        int n = snprintf(buf, sizeof(buf), "%.14e", d); /* 15 significant digits */
        if (dn_parse(buf, (size_t)n, out) != 0) {
            return -1;
        }
        int z = 0; /* the zeros %e pads with are not digits of the value */
        while (z < out->scale && z < out->nd && out->d[z] == 0) {
            z++;
        }
        memmove(out->d, out->d + z, (size_t)(out->nd - z));
        out->nd -= z;
        out->scale -= z;
        return 0;
    }
    case SQLITE_TEXT:
    case SQLITE_BLOB: {
        const char *p = (const char *)sqlite3_value_text(v);
        int n = sqlite3_value_bytes(v);
        if (p != NULL && dn_parse(p, (size_t)n, out) == 0) {
            return 0;
        }
        char buf[40];
        n = snprintf(buf, sizeof(buf), "%.14e", sqlite3_value_double(v));
        return dn_parse(buf, (size_t)n, out);
    }
    default:
        return -1;
    }
}

static void dn_error(sqlite3_context *ctx, int code, const char *msg)
{
    sql_sess *s = sqlite3_user_data(ctx);
    if (s != NULL) {
        cm_err_set(&s->fn_err, code, "%s", msg);
    }
    sqlite3_result_error(ctx, msg, -1);
}

static void dn_result(sqlite3_context *ctx, const dnum *r)
{
    if (r->nd - r->scale > CM_DECIMAL_DIGITS_MAX) {
        dn_error(ctx, CM_E_BIGINT_RANGE, "DECIMAL value is out of range");
        return;
    }
    char buf[DN_MAX + 8];
    size_t len = 0;
    if (r->neg) {
        buf[len++] = '-';
    }
    int intd = r->nd - r->scale;
    if (intd <= 0) {
        buf[len++] = '0';
    } else {
        for (int i = r->nd - 1; i >= r->scale; i--) {
            buf[len++] = (char)('0' + r->d[i]);
        }
    }
    if (r->scale > 0) {
        buf[len++] = '.';
        for (int i = r->scale - 1; i >= 0; i--) {
            buf[len++] = (char)('0' + (i < r->nd ? r->d[i] : 0));
        }
    }
    buf[len] = '\0';
    sql_num_result_value(ctx, buf, (int)len, r->scale);
}

/* Reads both arguments; 1 when the result is NULL (a NULL argument) or set (an error). */
static int dn_args(sqlite3_context *ctx, sqlite3_value **argv, dnum *a, dnum *b)
{
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return 1;
    }
    if (dn_from_value(argv[0], a) != 0 || dn_from_value(argv[1], b) != 0) {
        /* not a decimal: what SQLite's arithmetic would do is all there is */
        sqlite3_result_null(ctx);
        return 1;
    }
    return 0;
}

static void dn_divzero(sqlite3_context *ctx)
{
    sql_sess *s = sqlite3_user_data(ctx);
    if (s != NULL) {
        sql_diag_add(s, SQL_DIAG_WARNING, 1365, "Division by 0");
    }
    sqlite3_result_null(ctx);
}

static void f_dadd(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    dnum a, b, r;
    if (dn_args(ctx, argv, &a, &b)) {
        return;
    }
    if (dn_addsub(&a, &b, 0, &r) != 0) {
        dn_error(ctx, CM_E_BIGINT_RANGE, "DECIMAL value is out of range");
        return;
    }
    dn_result(ctx, &r);
}

static void f_dsub(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    dnum a, b, r;
    if (dn_args(ctx, argv, &a, &b)) {
        return;
    }
    if (dn_addsub(&a, &b, 1, &r) != 0) {
        dn_error(ctx, CM_E_BIGINT_RANGE, "DECIMAL value is out of range");
        return;
    }
    dn_result(ctx, &r);
}

static void f_dmul(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    dnum a, b, r;
    if (dn_args(ctx, argv, &a, &b)) {
        return;
    }
    if (dn_mul(&a, &b, &r) != 0) {
        dn_error(ctx, CM_E_BIGINT_RANGE, "DECIMAL value is out of range");
        return;
    }
    if (r.scale > CM_DECIMAL_FRAC_MAX) {
        dn_round(&r, CM_DECIMAL_FRAC_MAX);
    }
    dn_result(ctx, &r);
}

/* tessera_ddiv(a, b, scale): a / b truncated at scale (MySQL keeps whole 9-digit words of a
 * quotient and rounds only when the value is printed at the item's decimals). */
static void f_ddiv(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    dnum a, b, q, rem;
    if (dn_args(ctx, argv, &a, &b)) {
        return;
    }
    if (b.nd == 0) {
        dn_divzero(ctx);
        return;
    }
    int scale = sqlite3_value_int(argv[2]);
    if (scale < 0 || scale > 45) {
        scale = 45;
    }
    /* q = floor(|a|·10^k / |b|) at scale */
    int k = scale + b.scale - a.scale;
    if ((k >= 0 ? dn_shift(&a, k) : dn_shift(&b, -k)) != 0) {
        dn_error(ctx, CM_E_BIGINT_RANGE, "DECIMAL value is out of range");
        return;
    }
    mag_divmod(&a, &b, &q, &rem);
    q.neg = (a.neg != b.neg) && q.nd > 0;
    q.scale = scale;
    dn_trim(&q);
    dn_result(ctx, &q);
}

/* tessera_dmod(a, b): the remainder of a / b truncated, with a's sign (MySQL's MOD). */
static void f_dmod(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    dnum a, b, q, rem;
    if (dn_args(ctx, argv, &a, &b)) {
        return;
    }
    if (b.nd == 0) {
        dn_divzero(ctx);
        return;
    }
    int s = a.scale > b.scale ? a.scale : b.scale;
    if (dn_rescale(&a, s) != 0 || dn_rescale(&b, s) != 0) {
        dn_error(ctx, CM_E_BIGINT_RANGE, "DECIMAL value is out of range");
        return;
    }
    mag_divmod(&a, &b, &q, &rem);
    rem.neg = a.neg && rem.nd > 0;
    rem.scale = s;
    dn_result(ctx, &rem);
}

int sql_decarith_register(sql_sess *s)
{
    static const struct {
        const char *name;
        int nargs;
        void (*fn)(sqlite3_context *, int, sqlite3_value **);
    } fns[] = {
        {"tessera_dadd", 2, f_dadd}, {"tessera_dsub", 2, f_dsub}, {"tessera_dmul", 2, f_dmul},
        {"tessera_ddiv", 3, f_ddiv}, {"tessera_dmod", 2, f_dmod},
    };
    for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
        if (sqlite3_create_function_v2(s->db, fns[i].name, fns[i].nargs,
                                       SQLITE_UTF8 | SQLITE_DETERMINISTIC, s, fns[i].fn, NULL, NULL,
                                       NULL) != SQLITE_OK) {
            return CM_E_INTERNAL;
        }
    }
    return 0;
}
