/*
 * cm_cx_int.h — helpers of the evaluator shared with cm_copr.c and the unit tests (not part of
 * the contract in cm_cx.h).
 */
#ifndef CM_CX_INT_H
#define CM_CX_INT_H

#include "cm_arena.h"
#include "cm_codec.h"
#include "cm_err.h"

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

/* An evaluation error (integer overflow, 1690) as a value on the stack: operators that MySQL
 * would not have evaluated — the right side of FALSE AND x, TRUE OR x, the untaken branch of IF,
 * what follows a non-NULL in IFNULL/COALESCE, or a NULL left operand of a comparison or LIKE —
 * drop it, every other operator passes it on, and it becomes the error only if it reaches the
 * result. So errors follow MySQL's short-circuit evaluation although the program is postfix.
 * Never outside cm_cx_eval. */
#define DT_POISON ((cm_dtype)0x7F)

/* The operators of cm_cx_eval over non-NULL operands (a, b borrowed; results may borrow from
 * them or live in scratch). Each returns 0, CM_E_BIGINT_RANGE (1690) or CM_E_NOMEM. */
/* op: CM_CX_ADD, SUB, MUL, DIV, INTDIV or MOD; division by zero gives NULL. */
int cm_cx_arith(int op, const cm_datum *a, const cm_datum *b, cm_datum *out, cm_err *err);
int cm_cx_neg(const cm_datum *a, cm_datum *out, cm_err *err);
int cm_cx_abs(const cm_datum *a, cm_datum *out, cm_err *err);
int cm_cx_change_case(const cm_datum *a, bool upper, cm_arena *scratch, cm_datum *out, cm_err *err);
/* LENGTH (bytes) or CHAR_LENGTH (chars: code points, bytes of BYTES). */
int cm_cx_length(const cm_datum *a, bool chars, cm_arena *scratch, cm_datum *out, cm_err *err);
/* subject LIKE pattern (both non-NULL). */
int cm_cx_like_values(const cm_datum *subj, const cm_datum *pat, uint8_t esc, cm_arena *scratch,
                      cm_datum *out, cm_err *err);
/* CONCAT of args[0..n): NULL (or the first poisoned value) when one of them is. */
int cm_cx_concat(const cm_datum *const *args, uint32_t n, cm_arena *scratch, cm_datum *out,
                 cm_err *err);

#endif
