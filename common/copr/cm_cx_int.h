/*
 * cm_cx_int.h — helpers of the evaluator shared with cm_copr.c and the unit tests (not part of
 * the contract in cm_cx.h).
 */
#ifndef CM_CX_INT_H
#define CM_CX_INT_H

#include "cm_codec.h"

#include <stdbool.h>
#include <stddef.h>

/* Longest text cm_cx_format_double writes: sign, "0.", 14 zeros and 17 digits. */
#define CM_CX_DOUBLE_TEXT_MAX 40

/* MySQL's numeric value of a string: its longest numeric prefix after leading spaces ('12x' →
 * 12, 'abc' → 0, ' 1e3' → 1000); out-of-range magnitudes clamp to ±DBL_MAX. */
double cm_cx_str_to_double(cm_slice s);
/* A double as MySQL prints it (shortest round-trip digits); returns the length. */
size_t cm_cx_format_double(double v, char out[CM_CX_DOUBLE_TEXT_MAX]);
/* Any non-NULL value as a double (temporals in their YYYYMMDD[hhmmss] form). */
double cm_cx_to_double(const cm_datum *v);
/* A non-NULL value as a number the way arithmetic sees it: INT64 (signed integers, YEAR, a
 * temporal without microseconds in its numeric form), UINT64 (unsigned, ENUM, SET, BIT), DECIMAL
 * (a temporal with microseconds at scale 6), or FLOAT64 (floats, strings). */
void cm_cx_to_number(const cm_datum *v, cm_datum *out);
/* LIKE with `%`, `_` (a UTF-8 character, or a byte when binary) and the escape byte. */
bool cm_cx_like_match(cm_slice s, cm_slice pat, uint8_t esc, bool binary);

#endif
