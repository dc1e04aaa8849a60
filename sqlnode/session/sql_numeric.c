/* sql_numeric.c — exact SUM and AVG, and DECIMAL results printed at their scale
 * (sql_numeric.h; docs/sql-layer.md "Numeric results and metadata").
 *
 * SUM and AVG replace SQLite's, which return doubles. DECIMAL columns reach SQLite as exact text
 * ('62.50'): such texts are summed exactly and the result keeps the largest scale seen; integers
 * are summed exactly (int64, spilling into the exact accumulator on overflow); a double (or a
 * text that is not a decimal) makes the result a double. AVG of exact inputs is the exact sum /
 * count rounded half up at scale + 4 (div_precision_increment). NULLs are skipped; no rows give
 * NULL. SQLite applies DISTINCT itself. Both also run as window functions (xInverse). The exact
 * result goes back to SQLite as a number whenever a number holds it exactly (sql_num_result_value),
 * so it orders and compares as a number. */
#include "sql_numeric.h"

#include "cm_decimal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Exact magnitudes: little-endian base-1e9 limbs of value · 10^AGG_FRAC. */
#define AGG_FRAC  36 /* internal scale: ≥ 30, a multiple of 9 */
#define AGG_LIMBS 16 /* 144 digits: 65 + 36 + room for 2^63 additions */
#define AGG_BASE  1000000000u

typedef struct agg_num {
    uint32_t l[AGG_LIMBS];
} agg_num;

typedef struct agg_state {
    int64_t n;    /* non-NULL values */
    int64_t ndbl; /* of which doubles (or non-decimal texts) */
    int64_t ndec; /* of which decimal texts */
    int64_t isum; /* exact integer part of the sum that fits int64 */
    int big;      /* pos/neg hold something: an integer sum is returned as decimal */
    int scale;    /* largest scale of a decimal text seen */
    double dsum;  /* sum of the doubles */
    agg_num pos;  /* exact positive terms */
    agg_num neg;  /* exact magnitudes of negative terms */
} agg_state;

static void agg_add(agg_num *a, const agg_num *b)
{
    uint32_t carry = 0;
    for (int i = 0; i < AGG_LIMBS; i++) {
        uint32_t v = a->l[i] + b->l[i] + carry;
        carry = v >= AGG_BASE;
        a->l[i] = carry ? v - AGG_BASE : v;
    }
}

static int agg_cmp(const agg_num *a, const agg_num *b)
{
    for (int i = AGG_LIMBS - 1; i >= 0; i--) {
        if (a->l[i] != b->l[i]) {
            return a->l[i] < b->l[i] ? -1 : 1;
        }
    }
    return 0;
}

/* a -= b, a ≥ b */
static void agg_sub(agg_num *a, const agg_num *b)
{
    uint32_t borrow = 0;
    for (int i = 0; i < AGG_LIMBS; i++) {
        uint32_t s = b->l[i] + borrow;
        borrow = a->l[i] < s;
        a->l[i] = borrow ? a->l[i] + AGG_BASE - s : a->l[i] - s;
    }
}

static void agg_from_u64(uint64_t m, agg_num *out)
{
    memset(out, 0, sizeof(*out));
    for (int i = AGG_FRAC / 9; m != 0; i++) {
        out->l[i] = (uint32_t)(m % AGG_BASE);
        m /= AGG_BASE;
    }
}

static void agg_from_decimal(const cm_decimal *d, agg_num *out)
{
    memset(out, 0, sizeof(*out));
    /* digit k (0 = least significant of value·10^AGG_FRAC) */
    int nd = d->intg + d->frac;
    int k = AGG_FRAC - d->frac;
    for (int j = nd - 1; j >= 0; j--, k++) {
        static const uint32_t p10[9] = {1,      10,      100,      1000,     10000,
                                        100000, 1000000, 10000000, 100000000};
        out->l[k / 9] += d->digits[j] * p10[k % 9];
    }
}

/* Signed value of the exact part (pos - neg + isum) as magnitude and sign. */
static void agg_exact(const agg_state *st, agg_num *mag, int *neg)
{
    agg_num p = st->pos, n = st->neg, t;
    if (st->isum >= 0) {
        agg_from_u64((uint64_t)st->isum, &t);
        agg_add(&p, &t);
    } else {
        agg_from_u64((uint64_t)0 - (uint64_t)st->isum, &t);
        agg_add(&n, &t);
    }
    if (agg_cmp(&p, &n) >= 0) {
        agg_sub(&p, &n);
        *mag = p;
        *neg = 0;
    } else {
        agg_sub(&n, &p);
        *mag = n;
        *neg = 1;
    }
}

/* Divides by d (> 0) in place; returns the remainder. */
static uint64_t agg_divmod(agg_num *a, uint64_t d)
{
    unsigned __int128 r = 0;
    for (int i = AGG_LIMBS - 1; i >= 0; i--) {
        unsigned __int128 cur = r * AGG_BASE + a->l[i];
        a->l[i] = (uint32_t)(cur / d);
        r = cur % d;
    }
    return (uint64_t)r;
}

static int agg_is_zero(const agg_num *a)
{
    for (int i = 0; i < AGG_LIMBS; i++) {
        if (a->l[i] != 0) {
            return 0;
        }
    }
    return 1;
}

/* Text of neg·mag/10^AGG_FRAC with `scale` digits after the point (mag already a multiple of
 * 10^(AGG_FRAC - scale)). */
static int agg_format(const agg_num *mag, int neg, int scale, char *buf, size_t cap)
{
    char digits[AGG_LIMBS * 9 + 1];
    for (int i = AGG_LIMBS - 1; i >= 0; i--) { /* left to right: each NUL is overwritten */
        snprintf(digits + (size_t)(AGG_LIMBS - 1 - i) * 9, 10, "%09u", mag->l[i]);
    }
    int total = AGG_LIMBS * 9;
    int point = total - AGG_FRAC; /* digits before the point */
    int start = 0;
    while (start < point - 1 && digits[start] == '0') {
        start++;
    }
    size_t len = 0;
    if (neg && !agg_is_zero(mag)) {
        buf[len++] = '-';
    }
    for (int i = start; i < point && len + 1 < cap; i++) {
        buf[len++] = digits[i];
    }
    if (scale > 0 && len + 1 < cap) {
        buf[len++] = '.';
        for (int i = 0; i < scale && len + 1 < cap; i++) {
            buf[len++] = digits[point + i];
        }
    }
    buf[len] = '\0';
    return (int)len;
}

static double agg_to_double(const agg_num *mag, int neg)
{
    char buf[AGG_LIMBS * 9 + 4];
    agg_format(mag, neg, AGG_FRAC, buf, sizeof(buf));
    return strtod(buf, NULL);
}

/* Whether text is an exact decimal literal; parsed into d. */
static int agg_text_decimal(sqlite3_value *v, cm_decimal *d)
{
    const unsigned char *p = sqlite3_value_text(v);
    int n = sqlite3_value_bytes(v);
    if (p == NULL || n == 0) {
        return 0;
    }
    cm_err err;
    cm_err_clear(&err);
    return cm_decimal_parse(cm_slice_make(p, (size_t)n), d, NULL, &err) == 0;
}

static void agg_step_dir(sqlite3_context *ctx, sqlite3_value *v, int dir)
{
    int type = sqlite3_value_type(v);
    if (type == SQLITE_NULL) {
        return;
    }
    agg_state *st = sqlite3_aggregate_context(ctx, sizeof(*st));
    if (st == NULL) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    st->n += dir;
    if (type == SQLITE_INTEGER) {
        int64_t x = sqlite3_value_int64(v);
        int64_t r;
        int ovf = dir > 0 ? __builtin_add_overflow(st->isum, x, &r)
                          : __builtin_sub_overflow(st->isum, x, &r);
        if (!ovf) {
            st->isum = r;
            return;
        }
        agg_num t;
        agg_from_u64(x < 0 ? (uint64_t)0 - (uint64_t)x : (uint64_t)x, &t);
        agg_add(((x < 0) == (dir > 0)) ? &st->neg : &st->pos, &t);
        st->big = 1;
        return;
    }
    cm_decimal d;
    if (type == SQLITE_TEXT && agg_text_decimal(v, &d)) {
        st->ndec += dir;
        if (d.frac > st->scale) {
            st->scale = d.frac;
        }
        agg_num t;
        agg_from_decimal(&d, &t);
        agg_add((d.neg != 0) == (dir > 0) ? &st->neg : &st->pos, &t);
        return;
    }
    st->ndbl += dir;
    st->dsum += dir * sqlite3_value_double(v);
}

static void agg_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    agg_step_dir(ctx, argv[0], 1);
}

static void agg_inverse(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    agg_step_dir(ctx, argv[0], -1);
}

/* Hands the exact result text[0, len) (scale digits after the point) to SQLite: as an INTEGER or
 * a REAL when that holds the value exactly (at most 15 significant digits: a double keeps 15
 * decimal digits through a round trip), so that ORDER BY, HAVING and comparisons with numbers are
 * numeric; as TEXT only beyond that. The row path prints it at the column's scale. */
void sql_num_result_value(sqlite3_context *ctx, const char *text, int len, int scale)
{
    int sig = 0, seen = 0, end = len;
    while (scale > 0 && end > 0 && text[end - 1] == '0') {
        end--; /* zeros ending the fraction are not significant */
    }
    for (int i = 0; i < end; i++) {
        if (text[i] >= '1' && text[i] <= '9') {
            seen = 1;
        }
        if (seen && text[i] >= '0' && text[i] <= '9') {
            sig++;
        }
    }
    if (scale == 0 && sig <= 18) {
        sqlite3_result_int64(ctx, strtoll(text, NULL, 10));
    } else if (sig <= 15) {
        sqlite3_result_double(ctx, strtod(text, NULL));
    } else {
        sqlite3_result_text(ctx, text, len, SQLITE_TRANSIENT);
    }
}

static void agg_result(sqlite3_context *ctx, int avg)
{
    agg_state *st = sqlite3_aggregate_context(ctx, 0);
    if (st == NULL || st->n <= 0) {
        sqlite3_result_null(ctx);
        return;
    }
    agg_num mag;
    int neg;
    agg_exact(st, &mag, &neg);
    if (st->ndbl > 0) {
        double x = st->dsum + agg_to_double(&mag, neg);
        sqlite3_result_double(ctx, avg ? x / (double)st->n : x);
        return;
    }
    if (!avg && st->ndec == 0 && !st->big) {
        sqlite3_result_int64(ctx, st->isum);
        return;
    }
    int scale = st->ndec > 0 ? st->scale : 0;
    if (avg) {
        scale += 4;
        if (scale > CM_DECIMAL_FRAC_MAX) {
            scale = CM_DECIMAL_FRAC_MAX;
        }
        /* q = floor(|sum| / n); the exact quotient is q + r/n with r/n < 1, so it is at or above
         * the rounding midpoint exactly when q's dropped digits are. */
        agg_num q = mag;
        agg_divmod(&q, (uint64_t)st->n);
        int drop = AGG_FRAC - scale; /* 6 … 36 */
        int lo_digits = drop > 18 ? 18 : drop;
        uint64_t lo_unit = 1, hi_unit = 1;
        for (int i = 0; i < lo_digits; i++) {
            lo_unit *= 10;
        }
        for (int i = lo_digits; i < drop; i++) {
            hi_unit *= 10;
        }
        uint64_t lo = agg_divmod(&q, lo_unit);
        uint64_t hi = hi_unit > 1 ? agg_divmod(&q, hi_unit) : 0;
        unsigned __int128 dropped = (unsigned __int128)hi * lo_unit + lo;
        unsigned __int128 half = (unsigned __int128)hi_unit * lo_unit / 2;
        if (dropped >= half) {
            agg_num one;
            agg_from_u64(0, &one);
            one.l[0] = 1;
            agg_add(&q, &one);
        }
        /* back to value·10^AGG_FRAC */
        for (int i = 0; i < drop; i++) {
            uint64_t carry = 0;
            for (int j = 0; j < AGG_LIMBS; j++) {
                uint64_t v = (uint64_t)q.l[j] * 10 + carry;
                q.l[j] = (uint32_t)(v % AGG_BASE);
                carry = v / AGG_BASE;
            }
        }
        mag = q;
    }
    char buf[AGG_LIMBS * 9 + 4];
    int len = agg_format(&mag, neg, scale, buf, sizeof(buf));
    sql_num_result_value(ctx, buf, len, scale);
}

static void agg_sum_final(sqlite3_context *ctx)
{
    agg_result(ctx, 0);
}

static void agg_avg_final(sqlite3_context *ctx)
{
    agg_result(ctx, 1);
}

int sql_num_register(sql_sess *s)
{
    if (sqlite3_create_window_function(s->db, "sum", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, s,
                                       agg_step, agg_sum_final, agg_sum_final, agg_inverse,
                                       NULL) != SQLITE_OK ||
        sqlite3_create_window_function(s->db, "avg", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, s,
                                       agg_step, agg_avg_final, agg_avg_final, agg_inverse,
                                       NULL) != SQLITE_OK) {
        return CM_E_INTERNAL;
    }
    return sql_decarith_register(s) != 0 ? CM_E_INTERNAL : sql_sem_register(s);
}

/* ---- DECIMAL results in the row path ---- */

int sql_num_format_decimal(double d, int decimals, char *buf, size_t cap)
{
    if (!isfinite(d) || fabs(d) >= 1e60 || decimals < 0 || decimals > 30) {
        return snprintf(buf, cap, "%.*f", decimals < 0 ? 0 : decimals > 30 ? 30 : decimals, d);
    }
    /* the 15 significant digits of |d|: value = 0.D0 D1 … D14 · 10^(exp + 1) */
    char e[40];
    snprintf(e, sizeof(e), "%.14e", fabs(d));
    char dg[16];
    dg[0] = e[0];
    memcpy(dg + 1, e + 2, 14);
    int exp = atoi(strchr(e, 'e') + 1);
    int point = exp + 1;         /* digits of dg before the point (may be <= 0) */
    int keep = point + decimals; /* digits of dg that are printed */
    char out[128];               /* the digits printed: point + decimals of them */
    int nout = 0, lead = 0;
    int up = keep >= 0 && keep < 15 && dg[keep >= 0 && keep < 15 ? keep : 14] >= '5';
    if (keep < 0) {
        keep = 0;
    }
    for (int k = 0; k < keep; k++) {
        out[k] = k < 15 ? dg[k] : '0';
    }
    nout = keep;
    if (up) {
        int k = nout - 1;
        while (k >= 0 && out[k] == '9') {
            out[k--] = '0';
        }
        if (k >= 0) {
            out[k]++;
        } else {
            memmove(out + 1, out, (size_t)nout);
            out[0] = '1';
            nout++;
            point++;
        }
    }
    /* out holds the digits from 10^(point-1) down to 10^-decimals; fewer when point < 0 */
    int first = nout - decimals; /* index in out of the units digit + 1 */
    size_t len = 0;
    int zero = 1;
    for (int k = 0; k < nout; k++) {
        zero &= out[k] == '0';
    }
    char res[160];
    if (d < 0 && !zero) {
        res[len++] = '-';
    }
    if (first <= 0) {
        res[len++] = '0';
    } else {
        for (int k = 0; k < first; k++) {
            if (!(lead == 0 && out[k] == '0' && k < first - 1)) {
                res[len++] = out[k];
                lead = 1;
            }
        }
    }
    if (decimals > 0) {
        res[len++] = '.';
        for (int k = first; k < nout; k++) {
            if (k < 0) {
                res[len++] = '0';
            } else {
                res[len++] = out[k];
            }
        }
        for (int k = nout > first ? nout : first; k < first + decimals; k++) {
            if (k >= nout) {
                res[len++] = '0';
            }
        }
    }
    res[len] = '\0';
    return snprintf(buf, cap, "%s", res);
}

/* A decimal text [-]digits[.digits] printed at `dec` decimals (rounded half away from zero or
 * padded with zeros) into out; -1 when it is not such a text or does not fit. */
static int round_text(const char *p, size_t n, int dec, char *out, size_t cap)
{
    size_t i = 0, o = 0;
    int neg = n > 0 && p[0] == '-';
    i += neg;
    size_t ib = i;
    while (i < n && p[i] >= '0' && p[i] <= '9') {
        i++;
    }
    size_t ie = i, fb = i, fe = i;
    if (i < n && p[i] == '.') {
        fb = ++i;
        while (i < n && p[i] >= '0' && p[i] <= '9') {
            i++;
        }
        fe = i;
    }
    if (i != n || ie == ib || (ie - ib) + (size_t)dec + 4 > cap || cap > 4096) {
        return -1;
    }
    char dg[4096];
    size_t nd = 0;
    for (size_t k = ib; k < ie; k++) {
        dg[nd++] = p[k];
    }
    for (int k = 0; k < dec; k++) {
        dg[nd++] = fb + (size_t)k < fe ? p[fb + (size_t)k] : '0';
    }
    if (fb + (size_t)dec < fe && p[fb + (size_t)dec] >= '5') {
        size_t k = nd;
        while (k > 0 && dg[k - 1] == '9') {
            dg[--k] = '0';
        }
        if (k == 0) {
            memmove(dg + 1, dg, nd++);
            dg[0] = '1';
        } else {
            dg[k - 1]++;
        }
    }
    size_t intd = nd - (size_t)dec, lead = 0;
    while (lead + 1 < intd && dg[lead] == '0') {
        lead++;
    }
    int zero = 1;
    for (size_t k = 0; k < nd; k++) {
        zero &= dg[k] == '0';
    }
    if (neg && !zero) {
        out[o++] = '-';
    }
    for (size_t k = lead; k < intd; k++) {
        out[o++] = dg[k];
    }
    if (dec > 0) {
        out[o++] = '.';
        for (size_t k = intd; k < nd; k++) {
            out[o++] = dg[k];
        }
    }
    out[o] = '\0';
    return (int)o;
}

int sql_num_row_needs(const sql_tr_item *items, uint32_t nitems, int ncols)
{
    for (uint32_t i = 0; i < nitems && i < (uint32_t)ncols; i++) {
        if (items[i].ti_type != 0 && items[i].ti_act != SQL_TI_ACT_NONE) {
            return 1;
        }
    }
    return 0;
}

int sql_num_fix_row(sql_sess *s, const sql_tr_item *items, uint32_t nitems, const sql_column *cols,
                    sql_value *v, int ncols, char *buf, cm_err *err)
{
    for (int i = 0; i < ncols && (uint32_t)i < nitems; i++) {
        const sql_tr_item *it = &items[i];
        if (it->ti_type == 0) {
            continue;
        }
        if (v[i].type == SQL_V_NULL) {
            if (it->ti_act & SQL_TI_ACT_DIVZERO) {
                sql_diag_add(s, SQL_DIAG_WARNING, 1365, "Division by 0");
            }
            continue;
        }
        switch (it->ti_act & SQL_TI_ACT_MASK) {
        case SQL_TI_ACT_DECIMAL: {
            char *p = buf + (size_t)i * SQL_NUM_TEXT_MAX;
            int n;
            if (v[i].type == SQL_V_DOUBLE) {
                n = sql_num_format_decimal(v[i].d, it->ti_decimals, p, SQL_NUM_TEXT_MAX);
            } else if (v[i].type == SQL_V_INT) {
                n = snprintf(p, SQL_NUM_TEXT_MAX, "%lld%s%.*s", (long long)v[i].i,
                             it->ti_decimals > 0 ? "." : "", (int)it->ti_decimals,
                             "000000000000000000000000000000");
            } else if (v[i].type == SQL_V_TEXT) {
                n = round_text(v[i].s, v[i].n, it->ti_decimals, p, SQL_NUM_TEXT_MAX);
            } else {
                break;
            }
            if (n < 0 || n >= SQL_NUM_TEXT_MAX) {
                break; /* keep the number as it is */
            }
            v[i].type = SQL_V_TEXT;
            v[i].s = p;
            v[i].n = (size_t)n;
            break;
        }
        case SQL_TI_ACT_INTCHECK:
            if (v[i].type == SQL_V_DOUBLE) {
                return cm_err_set(err, CM_E_BIGINT_RANGE, "BIGINT value is out of range in '%.*s'",
                                  (int)cols[i].name_len, cols[i].name);
            }
            break;
        case SQL_TI_ACT_TRUNC:
            if (v[i].type == SQL_V_DOUBLE && fabs(v[i].d) < 9.2e18) {
                v[i].type = SQL_V_INT;
                v[i].i = (int64_t)trunc(v[i].d);
            }
            break;
        default:
            break;
        }
    }
    return 0;
}
