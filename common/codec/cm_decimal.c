/* cm_decimal.c — exact decimals; see cm_decimal.h and docs/codec.md. */
#include "cm_decimal.h"
#include "cm_assert.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Key body: class byte, then (non-zero values) exponent, digit pairs and a terminator. */
#define KEY_NEG  0x01
#define KEY_ZERO 0x02
#define KEY_POS  0x03
/* The exponent E (value = 0.D × 10^E, D's first digit non-zero) is stored as E + EXP_BIAS. */
#define EXP_BIAS  0x80
#define EXP_MIN   (1 - CM_DECIMAL_FRAC_MAX) /* 10^-30 = 0.1 × 10^-29 */
#define EXP_MAX   CM_DECIMAL_DIGITS_MAX
#define PAIRS_MAX ((CM_DECIMAL_DIGITS_MAX + 1) / 2)
/* Significant digits the parser keeps: enough for 65 digits plus the rounding digit. */
#define PARSE_KEEP (CM_DECIMAL_DIGITS_MAX + 8)

CM_STATIC_ASSERT(EXP_MIN + EXP_BIAS > 0 && EXP_MAX + EXP_BIAS < 0xFF, "exponent fits a byte");
CM_STATIC_ASSERT(2 + PAIRS_MAX + 1 == CM_DECIMAL_KEY_BYTES_MAX, "key size");

static unsigned ndigits(const cm_decimal *d)
{
    return (unsigned)d->intg + d->frac;
}

bool cm_decimal_valid(const cm_decimal *d)
{
    if (d->frac > CM_DECIMAL_FRAC_MAX || ndigits(d) > CM_DECIMAL_DIGITS_MAX || d->neg > 1) {
        return false;
    }
    for (unsigned i = 0; i < ndigits(d); i++) {
        if (d->digits[i] > 9) {
            return false;
        }
    }
    if (d->intg > 0 && d->digits[0] == 0) {
        return false;
    }
    return !(d->neg && cm_decimal_is_zero(d));
}

void cm_decimal_zero(cm_decimal *d, unsigned frac)
{
    CM_ASSERT(frac <= CM_DECIMAL_FRAC_MAX);
    memset(d, 0, sizeof(*d));
    d->frac = (uint8_t)frac;
}

bool cm_decimal_is_zero(const cm_decimal *d)
{
    for (unsigned i = 0; i < ndigits(d); i++) {
        if (d->digits[i] != 0) {
            return false;
        }
    }
    return true;
}

void cm_decimal_from_uint64(uint64_t v, cm_decimal *out)
{
    uint8_t tmp[20];
    unsigned n = 0;
    cm_decimal_zero(out, 0);
    while (v > 0) {
        tmp[n++] = (uint8_t)(v % 10);
        v /= 10;
    }
    for (unsigned i = 0; i < n; i++) {
        out->digits[i] = tmp[n - 1 - i];
    }
    out->intg = (uint8_t)n;
}

void cm_decimal_from_int64(int64_t v, cm_decimal *out)
{
    uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    cm_decimal_from_uint64(mag, out);
    out->neg = v < 0;
}

/* ---- text --------------------------------------------------------------------------------- */

static int is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

/* The parsed mantissa: significant digits a[0..alen) (the first one non-zero; only the first
 * PARSE_KEEP are kept) and the exponent e, so that the value is 0.a × 10^e. */
typedef struct mantissa {
    uint8_t a[PARSE_KEEP];
    int64_t alen;
    bool beyond_nonzero; /* a non-zero digit past PARSE_KEEP */
    int64_t e;
    bool neg;
} mantissa;

static int parse_mantissa(cm_slice text, mantissa *m, cm_err *err)
{
    const uint8_t *p = text.ptr;
    size_t n = text.len, i = 0;
    memset(m, 0, sizeof(*m));
    if (i < n && (p[i] == '+' || p[i] == '-')) {
        m->neg = p[i] == '-';
        i++;
    }
    bool seen_point = false;
    size_t digits = 0;
    for (; i < n; i++) {
        if (is_digit(p[i])) {
            digits++;
            if (m->alen == 0 && p[i] == '0') {
                m->e -= seen_point; /* a leading zero after the point shifts the value down */
                continue;
            }
            if (m->alen < PARSE_KEEP) {
                m->a[m->alen] = (uint8_t)(p[i] - '0');
            } else if (p[i] != '0') {
                m->beyond_nonzero = true;
            }
            m->alen++;
            m->e += !seen_point;
        } else if (p[i] == '.' && !seen_point) {
            seen_point = true;
        } else {
            break;
        }
    }
    if (digits == 0) {
        return cm_err_set(err, CM_E_INVALID, "decimal: no digits");
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < n && (p[i] == '+' || p[i] == '-')) {
            eneg = p[i] == '-';
            i++;
        }
        if (i >= n || !is_digit(p[i])) {
            return cm_err_set(err, CM_E_INVALID, "decimal: exponent without digits");
        }
        int64_t x = 0;
        for (; i < n && is_digit(p[i]); i++) {
            if (x < 1000000000) { /* saturate: any larger exponent is out of range anyway */
                x = x * 10 + (p[i] - '0');
            }
        }
        m->e += eneg ? -x : x;
    }
    if (i != n) {
        return cm_err_set(err, CM_E_INVALID, "decimal: unexpected character at position %zu", i);
    }
    return 0;
}

static uint8_t mantissa_digit(const mantissa *m, int64_t k)
{
    return (k >= 0 && k < m->alen && k < PARSE_KEEP) ? m->a[k] : 0;
}

/* Adds one unit in the last place of digits[0..n); returns the carry out of digits[0]. */
static int increment(uint8_t *digits, unsigned n)
{
    for (unsigned i = n; i-- > 0;) {
        if (digits[i] < 9) {
            digits[i]++;
            return 0;
        }
        digits[i] = 0;
    }
    return 1;
}

/* After a carry out of the top digit: shifts in a leading 1 (one more integer digit), dropping a
 * (necessarily zero) fraction digit if 65 digits would not hold the result. */
static int carry_out(cm_decimal *d, cm_err *err)
{
    if (d->intg + 1 > CM_DECIMAL_DIGITS_MAX) {
        return cm_err_set(err, CM_E_OUT_OF_RANGE, "decimal: more than %d integer digits",
                          CM_DECIMAL_DIGITS_MAX);
    }
    if (ndigits(d) + 1 > CM_DECIMAL_DIGITS_MAX) {
        d->frac--;
    }
    memmove(d->digits + 1, d->digits, ndigits(d));
    d->digits[0] = 1;
    d->intg++;
    return 0;
}

int cm_decimal_parse(cm_slice text, cm_decimal *out, bool *rounded, cm_err *err)
{
    mantissa m;
    int rc = parse_mantissa(text, &m, err);
    if (rc != 0) {
        return rc;
    }
    if (rounded != NULL) {
        *rounded = false;
    }
    int64_t frac_req = m.alen - m.e > 0 ? m.alen - m.e : 0;
    if (m.alen == 0) { /* zero: keep the scale that was written, as far as it goes */
        cm_decimal_zero(
            out, (unsigned)(frac_req < CM_DECIMAL_FRAC_MAX ? frac_req : CM_DECIMAL_FRAC_MAX));
        return 0;
    }
    if (m.e > CM_DECIMAL_DIGITS_MAX) {
        return cm_err_set(err, CM_E_OUT_OF_RANGE, "decimal: more than %d integer digits",
                          CM_DECIMAL_DIGITS_MAX);
    }
    int64_t intg = m.e > 0 ? m.e : 0;
    int64_t frac = frac_req;
    if (frac > CM_DECIMAL_FRAC_MAX) {
        frac = CM_DECIMAL_FRAC_MAX;
    }
    if (intg + frac > CM_DECIMAL_DIGITS_MAX) {
        frac = CM_DECIMAL_DIGITS_MAX - intg;
    }
    memset(out, 0, sizeof(*out));
    out->intg = (uint8_t)intg;
    out->frac = (uint8_t)frac;
    /* Output digit j weighs 10^(intg-1-j); mantissa digit k weighs 10^(e-1-k). */
    int64_t shift = m.e - intg;
    for (int64_t j = 0; j < intg + frac; j++) {
        out->digits[j] = mantissa_digit(&m, j + shift);
    }
    /* Digits from k_round on are dropped; the first of them decides the rounding. */
    int64_t k_round = intg + frac + shift;
    bool dropped_nonzero = m.beyond_nonzero;
    for (int64_t k = k_round < 0 ? 0 : k_round; k < m.alen && k < PARSE_KEEP; k++) {
        dropped_nonzero |= m.a[k] != 0;
    }
    if (rounded != NULL) {
        *rounded = dropped_nonzero;
    }
    if (mantissa_digit(&m, k_round) >= 5 && increment(out->digits, ndigits(out))) {
        rc = carry_out(out, err);
        if (rc != 0) {
            return rc;
        }
    }
    out->neg = m.neg && !cm_decimal_is_zero(out);
    CM_ASSERT(cm_decimal_valid(out));
    return 0;
}

size_t cm_decimal_put_text(const cm_decimal *d, char text[CM_DECIMAL_TEXT_MAX])
{
    size_t n = 0;
    if (d->neg) {
        text[n++] = '-';
    }
    if (d->intg == 0) {
        text[n++] = '0';
    }
    for (unsigned i = 0; i < d->intg; i++) {
        text[n++] = (char)('0' + d->digits[i]);
    }
    if (d->frac > 0) {
        text[n++] = '.';
        for (unsigned i = d->intg; i < ndigits(d); i++) {
            text[n++] = (char)('0' + d->digits[i]);
        }
    }
    CM_ASSERT(n <= CM_DECIMAL_TEXT_MAX);
    return n;
}

int cm_decimal_format(const cm_decimal *d, cm_buf *out)
{
    char text[CM_DECIMAL_TEXT_MAX];
    size_t n = cm_decimal_put_text(d, text);
    return cm_buf_append(out, text, n);
}

/* ---- arithmetic-free operations ----------------------------------------------------------- */

int cm_decimal_round(const cm_decimal *d, unsigned frac, cm_decimal *out, cm_err *err)
{
    if (frac > CM_DECIMAL_FRAC_MAX) {
        return cm_err_set(err, CM_E_INVALID, "decimal: scale %u above %d", frac,
                          CM_DECIMAL_FRAC_MAX);
    }
    if (d->intg + frac > CM_DECIMAL_DIGITS_MAX) {
        return cm_err_set(err, CM_E_OUT_OF_RANGE, "decimal: %u digits do not fit in %d",
                          d->intg + frac, CM_DECIMAL_DIGITS_MAX);
    }
    cm_decimal r = *d;
    r.frac = (uint8_t)frac;
    if (frac >= d->frac) {
        memset(r.digits + ndigits(d), 0, frac - d->frac);
    } else {
        uint8_t first_dropped = d->digits[d->intg + frac];
        if (first_dropped >= 5 && increment(r.digits, ndigits(&r))) {
            int rc = carry_out(&r, err);
            if (rc != 0) {
                return rc;
            }
            if (r.frac != frac) { /* carry_out gave up a fraction digit: scale not kept */
                return cm_err_set(err, CM_E_OUT_OF_RANGE, "decimal: rounding overflows %d digits",
                                  CM_DECIMAL_DIGITS_MAX);
            }
        }
        r.neg = d->neg && !cm_decimal_is_zero(&r);
    }
    *out = r;
    return 0;
}

int cm_decimal_check(const cm_decimal *d, unsigned precision, unsigned scale, cm_err *err)
{
    if (precision < 1 || precision > CM_DECIMAL_DIGITS_MAX || scale > CM_DECIMAL_FRAC_MAX ||
        scale > precision) {
        return cm_err_set(err, CM_E_INVALID, "DECIMAL(%u,%u) is not a valid type", precision,
                          scale);
    }
    if (d->intg > precision - scale || d->frac > scale) {
        return cm_err_set(err, CM_E_OUT_OF_RANGE, "decimal does not fit DECIMAL(%u,%u)", precision,
                          scale);
    }
    return 0;
}

static int sign_of(const cm_decimal *d)
{
    return cm_decimal_is_zero(d) ? 0 : (d->neg ? -1 : 1);
}

int cm_decimal_cmp(const cm_decimal *a, const cm_decimal *b)
{
    int sa = sign_of(a), sb = sign_of(b);
    if (sa != sb || sa == 0) {
        return sa < sb ? -1 : (sa > sb ? 1 : 0);
    }
    int mag = 0;
    if (a->intg != b->intg) {
        mag = a->intg < b->intg ? -1 : 1; /* no leading zeros: more integer digits is larger */
    } else {
        unsigned n = ndigits(a) > ndigits(b) ? ndigits(a) : ndigits(b);
        for (unsigned i = 0; i < n && mag == 0; i++) {
            uint8_t x = i < ndigits(a) ? a->digits[i] : 0;
            uint8_t y = i < ndigits(b) ? b->digits[i] : 0;
            mag = x < y ? -1 : (x > y ? 1 : 0);
        }
    }
    return sa < 0 ? -mag : mag;
}

/* ---- memcomparable body ------------------------------------------------------------------- */

size_t cm_decimal_put_key(const cm_decimal *d, uint8_t key[CM_DECIMAL_KEY_BYTES_MAX])
{
    CM_ASSERT(cm_decimal_valid(d));
    size_t n = 0;
    int first = -1, last = -1;
    for (unsigned i = 0; i < ndigits(d); i++) {
        if (d->digits[i] != 0) {
            first = first < 0 ? (int)i : first;
            last = (int)i;
        }
    }
    if (first < 0) {
        key[n++] = KEY_ZERO;
        return n;
    }
    /* Larger magnitudes must sort lower among negatives: invert everything after the class. */
    uint8_t inv = d->neg ? 0xFF : 0x00;
    key[n++] = d->neg ? KEY_NEG : KEY_POS;
    key[n++] = (uint8_t)((d->intg - first + EXP_BIAS) ^ inv);
    for (int k = first; k <= last; k += 2) {
        uint8_t lo = k + 1 <= last ? d->digits[k + 1] : 0;
        key[n++] = (uint8_t)((d->digits[k] * 10 + lo + 1) ^ inv);
    }
    key[n++] = inv; /* terminator: below every pair (or above, inverted) */
    CM_ASSERT(n <= CM_DECIMAL_KEY_BYTES_MAX);
    return n;
}

int cm_decimal_append_key(cm_buf *b, const cm_decimal *d)
{
    uint8_t key[CM_DECIMAL_KEY_BYTES_MAX];
    size_t n = cm_decimal_put_key(d, key);
    return cm_buf_append(b, key, n);
}

static int bad_key(const cm_reader *r, const char *why, cm_err *err)
{
    return cm_err_set(err, CM_E_CORRUPT, "decimal key at offset %zu: %s", r->pos, why);
}

int cm_decimal_read_key(cm_reader *r, cm_decimal *out, cm_err *err)
{
    const uint8_t *p = r->ptr + r->pos;
    size_t left = cm_reader_left(r);
    if (left < 1) {
        return bad_key(r, "truncated", err);
    }
    if (p[0] == KEY_ZERO) {
        cm_decimal_zero(out, 0);
        r->pos += 1;
        return 0;
    }
    if (p[0] != KEY_NEG && p[0] != KEY_POS) {
        return bad_key(r, "bad class byte", err);
    }
    uint8_t inv = p[0] == KEY_NEG ? 0xFF : 0x00;
    if (left < 2) {
        return bad_key(r, "truncated", err);
    }
    int e = (int)(p[1] ^ inv) - EXP_BIAS;
    if (e < EXP_MIN || e > EXP_MAX) {
        return bad_key(r, "exponent out of range", err);
    }
    uint8_t dig[2 * PAIRS_MAX];
    int nd = 0;
    size_t i = 2;
    for (;; i++) {
        if (i >= left) {
            return bad_key(r, "truncated", err);
        }
        uint8_t v = p[i] ^ inv;
        if (v == 0) {
            break; /* terminator */
        }
        if (v > 100 || nd == 2 * PAIRS_MAX) {
            return bad_key(r, v > 100 ? "bad digit pair" : "too many digits", err);
        }
        dig[nd++] = (uint8_t)((v - 1) / 10);
        dig[nd++] = (uint8_t)((v - 1) % 10);
    }
    if (nd == 0 || dig[0] == 0) {
        return bad_key(r, "no leading significant digit", err);
    }
    if (dig[nd - 1] == 0) {
        nd--; /* odd count: the last pair was padded with a zero */
        if (dig[nd - 1] == 0) {
            return bad_key(r, "trailing zero digit", err);
        }
    }
    int intg = e > 0 ? e : 0;
    int frac = nd - e > 0 ? nd - e : 0;
    if (frac > CM_DECIMAL_FRAC_MAX || intg + frac > CM_DECIMAL_DIGITS_MAX) {
        return bad_key(r, "more digits than DECIMAL(65,30) holds", err);
    }
    memset(out, 0, sizeof(*out));
    out->neg = inv != 0;
    out->intg = (uint8_t)intg;
    out->frac = (uint8_t)frac;
    for (int k = 0; k < nd; k++) {
        out->digits[k - e + intg] = dig[k]; /* digit k weighs 10^(e-1-k) */
    }
    r->pos += i + 1;
    CM_ASSERT(cm_decimal_valid(out));
    return 0;
}

/* ---- arithmetic ----------------------------------------------------------------------------
 * Magnitudes are worked on as unscaled integers: little-endian arrays of base-10 digits (value ×
 * 10^scale). 65 digits shifted by up to 30 + 30 + 1 for a division, or a 130-digit product, fit
 * in BN_MAX. Simple digit loops: operands are short, and the common integer cases of the
 * evaluator never get here. */
#define BN_MAX 200

typedef struct bn {
    int n;             /* digits used; no leading zeros (0 for zero) */
    uint8_t d[BN_MAX]; /* little-endian */
} bn;

static void bn_trim(bn *a)
{
    while (a->n > 0 && a->d[a->n - 1] == 0) {
        a->n--;
    }
}

/* |x| × 10^scale (scale ≥ x->frac). */
static void bn_from_dec(const cm_decimal *x, unsigned scale, bn *out)
{
    CM_ASSERT(scale >= x->frac && scale + ndigits(x) <= BN_MAX);
    unsigned pad = scale - x->frac, nd = ndigits(x);
    memset(out->d, 0, pad);
    for (unsigned i = 0; i < nd; i++) {
        out->d[pad + i] = x->digits[nd - 1 - i];
    }
    out->n = (int)(pad + nd);
    bn_trim(out);
}

static int bn_cmp(const bn *a, const bn *b)
{
    if (a->n != b->n) {
        return a->n < b->n ? -1 : 1;
    }
    for (int i = a->n; i-- > 0;) {
        if (a->d[i] != b->d[i]) {
            return a->d[i] < b->d[i] ? -1 : 1;
        }
    }
    return 0;
}

static void bn_add(const bn *a, const bn *b, bn *r)
{
    int n = a->n > b->n ? a->n : b->n, carry = 0;
    CM_ASSERT(n < BN_MAX);
    for (int i = 0; i < n; i++) {
        int s = (i < a->n ? a->d[i] : 0) + (i < b->n ? b->d[i] : 0) + carry;
        r->d[i] = (uint8_t)(s % 10);
        carry = s / 10;
    }
    r->d[n] = (uint8_t)carry;
    r->n = n + 1;
    bn_trim(r);
}

/* r = a - b with a ≥ b. */
static void bn_sub(const bn *a, const bn *b, bn *r)
{
    int borrow = 0;
    for (int i = 0; i < a->n; i++) {
        int s = a->d[i] - (i < b->n ? b->d[i] : 0) - borrow;
        borrow = s < 0;
        r->d[i] = (uint8_t)(s + (borrow ? 10 : 0));
    }
    r->n = a->n;
    bn_trim(r);
}

static void bn_mul(const bn *a, const bn *b, bn *r)
{
    uint32_t acc[BN_MAX] = {0};
    int n = a->n + b->n;
    CM_ASSERT(n <= BN_MAX);
    for (int i = 0; i < a->n; i++) {
        for (int j = 0; j < b->n; j++) {
            acc[i + j] += (uint32_t)a->d[i] * b->d[j];
        }
    }
    uint32_t carry = 0;
    for (int i = 0; i < n; i++) {
        uint32_t s = acc[i] + carry;
        r->d[i] = (uint8_t)(s % 10);
        carry = s / 10;
    }
    r->n = n;
    bn_trim(r);
}

/* a × 10^k (a's digits plus k must fit: asserted; callers bound k). */
static void bn_shift(bn *a, int k)
{
    if (a->n == 0 || k <= 0) {
        return;
    }
    CM_ASSERT(a->n + k <= BN_MAX);
    memmove(a->d + k, a->d, (size_t)a->n);
    memset(a->d, 0, (size_t)k);
    a->n += k;
}

/* q = a / b, r = a mod b (b non-zero): schoolbook division, one decimal digit at a time. */
static void bn_divmod(const bn *a, const bn *b, bn *q, bn *r)
{
    CM_ASSERT(b->n > 0);
    bn rem = {0};
    q->n = a->n;
    for (int i = a->n; i-- > 0;) {
        bn_shift(&rem, 1);
        if (rem.n == 0) {
            rem.n = 1;
            rem.d[0] = 0;
        }
        rem.d[0] = a->d[i];
        bn_trim(&rem);
        uint8_t digit = 0;
        while (bn_cmp(&rem, b) >= 0) {
            bn_sub(&rem, b, &rem);
            digit++;
        }
        q->d[i] = digit;
    }
    bn_trim(q);
    *r = rem;
}

/* Adds one to the magnitude. */
static void bn_inc(bn *a)
{
    for (int i = 0; i < a->n; i++) {
        if (a->d[i] < 9) {
            a->d[i]++;
            return;
        }
        a->d[i] = 0;
    }
    CM_ASSERT(a->n < BN_MAX);
    a->d[a->n++] = 1;
}

/* Drops the k lowest digits, rounding half away from zero when round is set. */
static void bn_drop(bn *a, int k, bool round)
{
    if (k <= 0) {
        return;
    }
    bool up = round && k <= a->n && a->d[k - 1] >= 5;
    if (k >= a->n) {
        a->n = 0;
    } else {
        memmove(a->d, a->d + k, (size_t)(a->n - k));
        a->n -= k;
    }
    if (up) {
        bn_inc(a);
    }
}

/* The decimal (neg, m × 10^-scale_in) at scale_out (≤ 30), cutting digits by rounding or
 * truncation, and fewer fraction digits when 65 would not hold the integer part. */
static int bn_to_dec(bn *m, unsigned scale_in, unsigned scale_out, bool neg, bool round,
                     cm_decimal *out, cm_err *err)
{
    CM_ASSERT(scale_out <= CM_DECIMAL_FRAC_MAX);
    if (scale_out < scale_in) {
        bn_drop(m, (int)(scale_in - scale_out), round);
    } else {
        bn_shift(m, (int)(scale_out - scale_in));
    }
    int intg = m->n > (int)scale_out ? m->n - (int)scale_out : 0;
    if (intg > CM_DECIMAL_DIGITS_MAX) {
        return cm_err_set(err, CM_E_OUT_OF_RANGE, "decimal: more than %d integer digits",
                          CM_DECIMAL_DIGITS_MAX);
    }
    if (intg + (int)scale_out > CM_DECIMAL_DIGITS_MAX) {
        unsigned keep = (unsigned)(CM_DECIMAL_DIGITS_MAX - intg);
        return bn_to_dec(m, scale_out, keep, neg, round, out, err);
    }
    memset(out, 0, sizeof(*out));
    out->intg = (uint8_t)intg;
    out->frac = (uint8_t)scale_out;
    int total = intg + (int)scale_out;
    for (int j = 0; j < total; j++) {
        int idx = total - 1 - j;
        out->digits[j] = idx < m->n ? m->d[idx] : 0;
    }
    out->neg = neg && m->n > 0;
    CM_ASSERT(cm_decimal_valid(out));
    return 0;
}

static int add_signed(const cm_decimal *a, const cm_decimal *b, bool negate_b, cm_decimal *out,
                      cm_err *err)
{
    unsigned s = a->frac > b->frac ? a->frac : b->frac;
    bn x, y, r;
    bn_from_dec(a, s, &x);
    bn_from_dec(b, s, &y);
    bool xn = a->neg, yn = b->neg != negate_b;
    bool neg;
    if (xn == yn) {
        bn_add(&x, &y, &r);
        neg = xn;
    } else if (bn_cmp(&x, &y) >= 0) {
        bn_sub(&x, &y, &r);
        neg = xn;
    } else {
        bn_sub(&y, &x, &r);
        neg = yn;
    }
    return bn_to_dec(&r, s, s, neg, false, out, err);
}

int cm_decimal_add(const cm_decimal *a, const cm_decimal *b, cm_decimal *out, cm_err *err)
{
    return add_signed(a, b, false, out, err);
}

int cm_decimal_sub(const cm_decimal *a, const cm_decimal *b, cm_decimal *out, cm_err *err)
{
    return add_signed(a, b, true, out, err);
}

int cm_decimal_mul(const cm_decimal *a, const cm_decimal *b, cm_decimal *out, cm_err *err)
{
    bn x, y, r;
    bn_from_dec(a, a->frac, &x);
    bn_from_dec(b, b->frac, &y);
    bn_mul(&x, &y, &r);
    unsigned s = (unsigned)a->frac + b->frac;
    unsigned so = s < CM_DECIMAL_FRAC_MAX ? s : CM_DECIMAL_FRAC_MAX;
    return bn_to_dec(&r, s, so, a->neg != b->neg, false, out, err);
}

static int div_common(const cm_decimal *a, const cm_decimal *b, unsigned scale, bool round,
                      cm_decimal *out, cm_err *err)
{
    if (scale > CM_DECIMAL_FRAC_MAX) {
        return cm_err_set(err, CM_E_INVALID, "decimal: scale %u above %d", scale,
                          CM_DECIMAL_FRAC_MAX);
    }
    if (cm_decimal_is_zero(b)) {
        return cm_err_set(err, CM_E_INVALID, "decimal: division by zero");
    }
    /* q × 10^-(scale+1) = |a| / |b|: numerator |A| × 10^k, k = scale + 1 + b.frac - a.frac. */
    bn x, y, q, r;
    bn_from_dec(a, a->frac, &x);
    bn_from_dec(b, b->frac, &y);
    int k = (int)scale + 1 + b->frac - a->frac;
    if (k >= 0) {
        bn_shift(&x, k);
    } else {
        bn_shift(&y, -k);
    }
    bn_divmod(&x, &y, &q, &r);
    return bn_to_dec(&q, scale + 1, scale, a->neg != b->neg, round, out, err);
}

int cm_decimal_div(const cm_decimal *a, const cm_decimal *b, unsigned scale, cm_decimal *out,
                   cm_err *err)
{
    return div_common(a, b, scale, true, out, err);
}

int cm_decimal_div_trunc(const cm_decimal *a, const cm_decimal *b, unsigned scale, cm_decimal *out,
                         cm_err *err)
{
    return div_common(a, b, scale, false, out, err);
}

int cm_decimal_mod(const cm_decimal *a, const cm_decimal *b, cm_decimal *out, cm_err *err)
{
    if (cm_decimal_is_zero(b)) {
        return cm_err_set(err, CM_E_INVALID, "decimal: division by zero");
    }
    unsigned s = a->frac > b->frac ? a->frac : b->frac;
    bn x, y, q, r;
    bn_from_dec(a, s, &x);
    bn_from_dec(b, s, &y);
    bn_divmod(&x, &y, &q, &r);
    return bn_to_dec(&r, s, s, a->neg, false, out, err);
}

void cm_decimal_neg(const cm_decimal *a, cm_decimal *out)
{
    *out = *a;
    out->neg = !a->neg && !cm_decimal_is_zero(a);
}

double cm_decimal_to_double(const cm_decimal *d)
{
    char text[CM_DECIMAL_TEXT_MAX + 1];
    size_t n = 0;
    if (d->neg) {
        text[n++] = '-';
    }
    text[n++] = '0';
    for (unsigned i = 0; i < d->intg; i++) {
        text[n++] = (char)('0' + d->digits[i]);
    }
    text[n++] = '.';
    for (unsigned i = d->intg; i < ndigits(d); i++) {
        text[n++] = (char)('0' + d->digits[i]);
    }
    CM_ASSERT(n < sizeof(text));
    text[n] = '\0';
    return strtod(text, NULL);
}

int cm_decimal_from_double(double v, cm_decimal *out, cm_err *err)
{
    if (!isfinite(v)) {
        return cm_err_set(err, CM_E_INVALID, "decimal: not a finite number");
    }
    char text[40];
    int len = 0;
    for (int prec = 1; prec <= 17; prec++) {
        len = snprintf(text, sizeof(text), "%.*e", prec - 1, v);
        if (strtod(text, NULL) == v) {
            break;
        }
    }
    CM_ASSERT(len > 0 && (size_t)len < sizeof(text));
    int rc = cm_decimal_parse(cm_slice_make(text, (size_t)len), out, NULL, err);
    if (rc != 0) {
        return rc;
    }
    return 0;
}

static int to_mag(const cm_decimal *d, uint64_t *mag, cm_err *err)
{
    uint64_t m = 0;
    for (unsigned i = 0; i < d->intg; i++) {
        if (m > (UINT64_MAX - d->digits[i]) / 10) {
            return cm_err_set(err, CM_E_OUT_OF_RANGE, "decimal: integer part beyond 64 bits");
        }
        m = m * 10 + d->digits[i];
    }
    *mag = m;
    return 0;
}

int cm_decimal_to_int64(const cm_decimal *d, int64_t *v, cm_err *err)
{
    uint64_t m = 0;
    int rc = to_mag(d, &m, err);
    if (rc != 0) {
        return rc;
    }
    if (d->neg ? m > (uint64_t)INT64_MAX + 1 : m > (uint64_t)INT64_MAX) {
        return cm_err_set(err, CM_E_OUT_OF_RANGE, "decimal: integer part beyond BIGINT");
    }
    *v = d->neg ? (int64_t)(0 - m) : (int64_t)m;
    return 0;
}

int cm_decimal_to_uint64(const cm_decimal *d, uint64_t *v, cm_err *err)
{
    uint64_t m = 0;
    int rc = to_mag(d, &m, err);
    if (rc != 0) {
        return rc;
    }
    if (d->neg && m != 0) {
        return cm_err_set(err, CM_E_OUT_OF_RANGE, "decimal: negative value for BIGINT UNSIGNED");
    }
    *v = m;
    return 0;
}
