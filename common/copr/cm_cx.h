/*
 * cm_cx.h — the coprocessor's expression bytecode: one encoder (a builder the sqlnode uses) and
 * one evaluator (the kvnode runs it per row; the sqlnode runs it too, e.g. over rows of its own
 * transaction buffer), so a predicate gives the same answer pushed down or not (DESIGN.md §5,
 * docs/coprocessor.md "Expression bytecode").
 *
 * A program is postfix: each instruction pushes one value, an operator pops its operands and
 * pushes its result. Instructions (u8 opcode, then operands):
 *   CM_CX_COL    uvarint i            column i of the row (0 ≤ i < ncols of the plan)
 *   CM_CX_CONST  datum                a constant: one datum in the memcomparable codec
 *                                     (cm_codec_encode_datum), then for DECIMAL a u8 scale
 *   CM_CX_STR    u8 dtype | uvarint len | bytes
 *                                     a STRING or BYTES constant kept verbatim: the builder uses
 *                                     it for a STRING with trailing spaces, which the
 *                                     memcomparable codec drops but LIKE, LENGTH and CONCAT see
 *   CM_CX_<op>                        operators with a fixed arity (table below)
 *   CM_CX_IN     uvarint n            pops n list values, then the probe; v IN (list)
 *   CM_CX_COALESCE/CONCAT uvarint n   n ≥ 1 operands
 *   CM_CX_LIKE   u8 escape            pops pattern, then subject
 * A program leaves exactly one value. Decoding validates everything (opcodes, column indexes,
 * constants, stack depth ≤ CM_CX_STACK_MAX, length ≤ CM_CX_CODE_MAX), so evaluating a decoded
 * program never reads outside the row or the stack, whatever bytes arrived.
 *
 * Semantics are MySQL 8.0's for utf8mb4_bin (PAD SPACE) and binary strings:
 * - NULL: comparisons, arithmetic and functions with a NULL operand give NULL, except
 *   `<=>` (NULL-safe), IS [NOT] NULL, AND/OR (three-valued: FALSE AND NULL = FALSE, TRUE OR
 *   NULL = TRUE), COALESCE/IFNULL, IF (NULL condition takes the else branch).
 * - Comparison of two operands (MySQL's Arg_comparator): both integers → integer compare
 *   (signed/unsigned aware: -1 < 18446744073709551615); integer/DECIMAL mix → DECIMAL; either a
 *   DOUBLE/FLOAT → double; a string against a number → both as doubles (the string's numeric
 *   prefix, 'abc' = 0, '12x' = 12); two strings → STRING vs STRING PAD SPACE (trailing spaces
 *   ignored) byte order, any BYTES operand → plain memcmp (no padding); DATE/DATETIME against
 *   each other → packed value (a DATE is a DATETIME at midnight); DATE/DATETIME against a string
 *   → the string parsed as a datetime (cm_datetime_parse), or compared as text with the
 *   temporal's printed form when it does not parse; a temporal against a number → the number
 *   YYYYMMDD[hhmmss] (MySQL's numeric form) compared as doubles.
 * - Truth of a value (WHERE, AND/OR/NOT, IF): NULL → unknown; a number → nonzero; a string →
 *   its numeric prefix as a double ≠ 0; a temporal → nonzero packed value.
 * - Arithmetic + - * : integer × integer in int64 (uint64 when either is UNSIGNED), overflow →
 *   CM_E_BIGINT_RANGE (MySQL 1690); with a DECIMAL → exact DECIMAL; with a DOUBLE or a string
 *   → double. `/` → DECIMAL for exact operands, double otherwise; division by zero → NULL. The
 *   DECIMAL quotient is MySQL's internal one: truncated at the operands' scales + 4
 *   (div_precision_increment) rounded up to whole 9-digit words (1/3 = 0.333333333, capped at
 *   scale 30); MySQL shows it rounded to dividend scale + 4, which is the sqlnode's to apply.
 *   DIV → integer (truncating), MOD/% →
 *   MySQL's sign of the dividend; by zero → NULL. Unary minus.
 * - LIKE: utf8mb4_bin, character-wise (UTF-8 aware `_`), `%` any run, escape char (default
 *   '\\'); operands converted to strings (numbers printed as MySQL prints them).
 * - IN: v IN (a, b, …) = v = a OR v = b …, with NULL results as OR gives them.
 * - Functions: ABS, IFNULL, COALESCE, IF, LENGTH (bytes), CHAR_LENGTH (code points), UPPER,
 *   LOWER (simple case mapping of ASCII and Latin-1; other code points unchanged: a documented
 *   gap), CONCAT (NULL if any operand is NULL).
 * Results borrow from the row, the program, or the arena given to cm_cx_eval.
 */
#ifndef CM_CX_H
#define CM_CX_H

#include "cm_arena.h"
#include "cm_buf.h"
#include "cm_codec.h"
#include "cm_err.h"

#include <stdbool.h>
#include <stdint.h>

/* Longest program accepted (bytes): a WHERE clause of a few thousand terms; bounds decode work. */
#define CM_CX_CODE_MAX (256u << 10)
/* Deepest evaluation stack: bounds the evaluator's memory (one cm_datum per slot). */
#define CM_CX_STACK_MAX 256

/* Opcodes: stable numbers (they travel in requests); only ever appended. */
typedef enum cm_cx_op {
    CM_CX_COL = 1,
    CM_CX_CONST = 2,
    CM_CX_STR = 3, /* u8 dtype | uvarint len | bytes */
    /* comparisons: pop b, a; push a op b (int 0/1 or NULL) */
    CM_CX_EQ = 10,
    CM_CX_NE = 11,
    CM_CX_LT = 12,
    CM_CX_LE = 13,
    CM_CX_GT = 14,
    CM_CX_GE = 15,
    CM_CX_NULLEQ = 16, /* <=> */
    /* logic */
    CM_CX_AND = 20,
    CM_CX_OR = 21,
    CM_CX_NOT = 22,
    CM_CX_XOR = 23,
    CM_CX_ISNULL = 24,
    CM_CX_ISNOTNULL = 25,
    CM_CX_ISTRUE = 26,  /* IS TRUE: never NULL */
    CM_CX_ISFALSE = 27, /* IS FALSE: never NULL */
    CM_CX_IN = 28,      /* uvarint n */
    CM_CX_LIKE = 29,    /* u8 escape */
    /* arithmetic */
    CM_CX_ADD = 40,
    CM_CX_SUB = 41,
    CM_CX_MUL = 42,
    CM_CX_DIV = 43,    /* `/` */
    CM_CX_INTDIV = 44, /* DIV */
    CM_CX_MOD = 45,    /* MOD, % */
    CM_CX_NEG = 46,
    /* functions */
    CM_CX_ABS = 60,
    CM_CX_IFNULL = 61,
    CM_CX_COALESCE = 62, /* uvarint n */
    CM_CX_IF = 63,       /* pops else, then, cond */
    CM_CX_LENGTH = 64,
    CM_CX_CHAR_LENGTH = 65,
    CM_CX_UPPER = 66,
    CM_CX_LOWER = 67,
    CM_CX_CONCAT = 68, /* uvarint n */
} cm_cx_op;

/* ---- builder (encoder) ----------------------------------------------------------------------
 * Emit instructions in postfix order; the builder tracks the stack depth so finish can check
 * the program leaves one value. Errors stick: after the first failed emit every call is a no-op
 * and cm_cx_finish returns that error. */
typedef struct cm_cx_builder {
    cm_buf code;
    int depth, max_depth;
    int rc; /* first error: CM_E_NOMEM, CM_E_INVALID (bad arity, stack over CM_CX_STACK_MAX) */
} cm_cx_builder;

void cm_cx_builder_init(cm_cx_builder *b);
void cm_cx_builder_fini(cm_cx_builder *b);
/* Forgets the program built so far (keeps the memory). */
void cm_cx_builder_reset(cm_cx_builder *b);
void cm_cx_col(cm_cx_builder *b, uint32_t i);
/* d's payload is copied. A DECIMAL keeps its scale (d->v.dec.frac). */
void cm_cx_const(cm_cx_builder *b, const cm_datum *d);
/* Fixed-arity operators and functions (not COL, CONST, IN, LIKE, COALESCE, CONCAT). */
void cm_cx_op1(cm_cx_builder *b, cm_cx_op op);
/* IN (n list values), COALESCE and CONCAT (n operands). */
void cm_cx_opn(cm_cx_builder *b, cm_cx_op op, uint32_t n);
void cm_cx_like(cm_cx_builder *b, uint8_t escape);
/* The finished program (borrowed from the builder): 0, or the first error. Exactly one value
 * must be on the stack. */
int cm_cx_finish(cm_cx_builder *b, cm_slice *code, cm_err *err);

/* ---- decoded program and evaluation --------------------------------------------------------- */

typedef struct cm_cx cm_cx; /* in the arena given to decode */

/* Validates code against a row of ncols columns. Returns 0, CM_E_INVALID (with a message naming
 * the byte offset) or CM_E_NOMEM. *out lives in arena; constants borrow from code. */
int cm_cx_decode(cm_slice code, uint32_t ncols, cm_arena *arena, cm_cx **out, cm_err *err);

/* Evaluates p over row[ncols] (CM_DT_NULL for NULL). scratch holds strings and decimals the
 * evaluation makes (reset it between rows when it grows). Returns 0 with *out, or
 * CM_E_BIGINT_RANGE (integer overflow), CM_E_NOMEM. */
int cm_cx_eval(const cm_cx *p, const cm_datum *row, cm_arena *scratch, cm_datum *out, cm_err *err);

/* MySQL truth of a value: 1 true, 0 false, -1 unknown (NULL). */
int cm_cx_truth(const cm_datum *v);

/* Evaluates p as a predicate: *keep = true only when the value is TRUE (not FALSE, not NULL). */
int cm_cx_filter(const cm_cx *p, const cm_datum *row, cm_arena *scratch, bool *keep, cm_err *err);

/* MySQL's comparison of two non-NULL values under the rules above: <0, 0, >0 in *cmp. Returns 0
 * or an error (CM_E_NOMEM). Also the order of TopN and MIN/MAX. */
int cm_cx_compare(const cm_datum *a, const cm_datum *b, cm_arena *scratch, int *cmp, cm_err *err);

#endif
