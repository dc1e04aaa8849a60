/*
 * cm_decimal.h — exact decimals for MySQL's DECIMAL(p, s): p ≤ 65 digits, s ≤ 30 of them after
 * the point. A value is a sign and a string of decimal digits with a scale; it carries its scale
 * (frac) so 1.50 in a DECIMAL(5,2) column prints as 1.50, while comparisons and key encodings
 * look only at the value (1.5 == 1.50). Parsing from and formatting to text, rounding to a scale,
 * comparison, and the memcomparable body used by cm_codec.h (byte layout in docs/codec.md).
 */
#ifndef CM_DECIMAL_H
#define CM_DECIMAL_H

#include "cm_buf.h"
#include "cm_err.h"

#include <stdbool.h>
#include <stdint.h>

/* MySQL's maxima for DECIMAL(M, D): M ≤ 65, D ≤ 30. */
#define CM_DECIMAL_DIGITS_MAX 65
#define CM_DECIMAL_FRAC_MAX   30
/* Longest memcomparable body: class, exponent, 33 digit pairs, terminator. */
#define CM_DECIMAL_KEY_BYTES_MAX 36
/* Longest text: sign, 65 digits, '.', a leading "0" when there is no integer digit. */
#define CM_DECIMAL_TEXT_MAX 68

/* Invariants (cm_decimal_valid): intg + frac ≤ 65, frac ≤ 30, every digit 0..9, no leading zero
 * in the integer part (intg is 0 for |x| < 1), zero is never negative. */
typedef struct cm_decimal {
    uint8_t neg;                           /* 1 when the value is below zero */
    uint8_t intg;                          /* digits before the point */
    uint8_t frac;                          /* digits after the point: the scale */
    uint8_t digits[CM_DECIMAL_DIGITS_MAX]; /* intg + frac digits, most significant first */
} cm_decimal;

/* Whether d satisfies the invariants above. */
bool cm_decimal_valid(const cm_decimal *d);
/* Zero with scale frac (≤ 30). */
void cm_decimal_zero(cm_decimal *d, unsigned frac);
bool cm_decimal_is_zero(const cm_decimal *d);
void cm_decimal_from_int64(int64_t v, cm_decimal *out);
void cm_decimal_from_uint64(uint64_t v, cm_decimal *out);

/* Parses [+-]digits[.digits][(e|E)[+-]digits] (at least one mantissa digit; no spaces). The
 * scale is the number of digits after the point once the exponent is applied ("1.50" → 2,
 * "15e-3" → 3, "1.5e2" → 0). A scale beyond 30 — or beyond what 65 digits leave — is rounded
 * half away from zero and *rounded (may be NULL) is set when that dropped a non-zero digit.
 * Returns 0, CM_E_INVALID (syntax) or CM_E_OUT_OF_RANGE (more than 65 integer digits). */
int cm_decimal_parse(cm_slice text, cm_decimal *out, bool *rounded, cm_err *err);
/* Appends the text of d: "-12.340", "0.5", "7". Returns 0 or CM_E_NOMEM. */
int cm_decimal_format(const cm_decimal *d, cm_buf *out);
/* The same text written into out (not NUL-terminated); returns its length. */
size_t cm_decimal_put_text(const cm_decimal *d, char out[CM_DECIMAL_TEXT_MAX]);

/* Rounds (half away from zero) or extends d to frac digits after the point into out (out may be
 * d). Returns 0, CM_E_INVALID (frac > 30) or CM_E_OUT_OF_RANGE (the result needs more than 65
 * digits). */
int cm_decimal_round(const cm_decimal *d, unsigned frac, cm_decimal *out, cm_err *err);
/* Whether d fits DECIMAL(precision, scale) as it is: at most precision - scale integer digits
 * and at most scale fraction digits (round first). Returns 0 or CM_E_OUT_OF_RANGE. */
int cm_decimal_check(const cm_decimal *d, unsigned precision, unsigned scale, cm_err *err);

/* Value order: -1, 0 or 1 (scales do not matter). */
int cm_decimal_cmp(const cm_decimal *a, const cm_decimal *b);

/* Memcomparable body (no flag): sorts by value, independent of scale, and keeps only the value:
 * reading it back gives the smallest scale that holds the value (1.50 → 1.5). */
int cm_decimal_append_key(cm_buf *b, const cm_decimal *d);
/* The same body written into out; returns its length (at most CM_DECIMAL_KEY_BYTES_MAX). */
size_t cm_decimal_put_key(const cm_decimal *d, uint8_t out[CM_DECIMAL_KEY_BYTES_MAX]);
/* Returns 0 or CM_E_CORRUPT (truncated, non-canonical or out-of-range body; r not moved). */
int cm_decimal_read_key(cm_reader *r, cm_decimal *out, cm_err *err);

/* ---- arithmetic (exact; used by the coprocessor's evaluator and aggregates) ----------------
 * Operands are valid decimals (borrowed; out may alias either). Each returns 0 or
 * CM_E_OUT_OF_RANGE when the result needs more than 65 integer digits (MySQL's 1690); digits
 * beyond scale 30 (or beyond what 65 digits leave) are cut as each function says. */

/* a + b and a - b at scale max(a.frac, b.frac). */
int cm_decimal_add(const cm_decimal *a, const cm_decimal *b, cm_decimal *out, cm_err *err);
int cm_decimal_sub(const cm_decimal *a, const cm_decimal *b, cm_decimal *out, cm_err *err);
/* a × b at scale min(a.frac + b.frac, 30), digits below it truncated. */
int cm_decimal_mul(const cm_decimal *a, const cm_decimal *b, cm_decimal *out, cm_err *err);
/* a / b at scale (≤ 30), rounded half away from zero. CM_E_INVALID when b is zero (SQL callers
 * give NULL before calling) or scale > 30. */
int cm_decimal_div(const cm_decimal *a, const cm_decimal *b, unsigned scale, cm_decimal *out,
                   cm_err *err);
/* a / b at scale (≤ 30), truncated toward zero: MySQL's internal quotient (kept to whole 9-digit
 * words) and, at scale 0, the exact part of DIV. Errors as cm_decimal_div. */
int cm_decimal_div_trunc(const cm_decimal *a, const cm_decimal *b, unsigned scale, cm_decimal *out,
                         cm_err *err);
/* a MOD b: a - b × trunc(a / b), with a's sign, at scale max(a.frac, b.frac). CM_E_INVALID when
 * b is zero. */
int cm_decimal_mod(const cm_decimal *a, const cm_decimal *b, cm_decimal *out, cm_err *err);
/* -a (zero stays non-negative). */
void cm_decimal_neg(const cm_decimal *a, cm_decimal *out);

/* The nearest double (correctly rounded through the text form). */
double cm_decimal_to_double(const cm_decimal *d);
/* The shortest decimal that reads back as v (MySQL's conversion of a DOUBLE), scale ≤ 30 (tinier
 * digits rounded). CM_E_INVALID for NaN or infinities, CM_E_OUT_OF_RANGE for |v| ≥ 10^65. */
int cm_decimal_from_double(double v, cm_decimal *out, cm_err *err);
/* The integer part (fraction truncated) as an int64 / uint64. CM_E_OUT_OF_RANGE when it does not
 * fit (a negative value for uint64, unless its integer part is zero). */
int cm_decimal_to_int64(const cm_decimal *d, int64_t *v, cm_err *err);
int cm_decimal_to_uint64(const cm_decimal *d, uint64_t *v, cm_err *err);

#endif
