/*
 * sql_xor.h — the operands of MySQL's logical XOR, for the translator (sql_translate.c).
 *
 * SQLite has no logical XOR. `a XOR b` is written `((NOT (a)) <> (NOT (b)))`: NOT turns any
 * value into 0/1 as MySQL's truth test does (a number, a string through its numeric prefix) and
 * keeps NULL, and `<>` of two NULL-or-boolean values is XOR with NULL when either side is NULL.
 * The translator is token-linear, so the operands' extent is found on the tokens with MySQL's
 * precedence: XOR binds looser than NOT, AND and the comparisons and tighter than OR (`||`
 * unless PIPES_AS_CONCAT) and assignment; it is left-associative.
 */
#ifndef SQL_XOR_H
#define SQL_XOR_H

#include "sql_lexer.h"

#include <stdint.h>

/* Index of the first token of XOR t[x]'s left operand (at least b). */
uint32_t sql_xor_left(const char *src, const sql_token *t, uint32_t b, uint32_t x, unsigned mode);
/* Index one past the last token of XOR t[x]'s right operand (at most e). */
uint32_t sql_xor_right(const char *src, const sql_token *t, uint32_t x, uint32_t e, unsigned mode);

#endif
