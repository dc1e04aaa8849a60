/*
 * sql_lexer.h — a MySQL lexer: turns statement text into tokens that point back into it.
 *
 * It knows MySQL's comments (`-- `, `#`, C-style, and `/ *! … * /` executable comments, whose
 * content is lexed as SQL), quoted identifiers, strings with backslash escapes (unless
 * NO_BACKSLASH_ESCAPES), `"` as a string or an identifier (ANSI_QUOTES), numbers, hex and bit
 * literals, `?` placeholders, `@user` and `@@[global.|session.|local.]system` variables, and
 * multi-character operators. Tokens carry offsets, never copies; helpers decode string and
 * identifier values on demand. Bad input (an unterminated string or comment) is an error.
 */
#ifndef SQL_LEXER_H
#define SQL_LEXER_H

#include "cm_buf.h"
#include "cm_err.h"

#include <stddef.h>
#include <stdint.h>

typedef enum sql_tk {
    SQL_TK_EOF = 0,
    SQL_TK_IDENT,   /* bare word, keywords included */
    SQL_TK_QIDENT,  /* `quoted` (or "quoted" under ANSI_QUOTES) */
    SQL_TK_STRING,  /* 'text' or "text"; flags: SQL_TKF_NATIONAL for N'…' */
    SQL_TK_INT,     /* 123 */
    SQL_TK_DECIMAL, /* 1.5, .5, 1. */
    SQL_TK_FLOAT,   /* 1e3, 1.5E-2 */
    SQL_TK_HEX,     /* 0x1F or X'1F' (flags: SQL_TKF_QUOTED for the X'' form) */
    SQL_TK_BIT,     /* 0b101 or B'101' */
    SQL_TK_PARAM,   /* ? */
    SQL_TK_USERVAR, /* @name, @'name', @`name` */
    SQL_TK_SYSVAR,  /* @@name; flags carry the scope */
    SQL_TK_OP,      /* operators and punctuation other than the ones below */
    SQL_TK_LPAREN,
    SQL_TK_RPAREN,
    SQL_TK_COMMA,
    SQL_TK_DOT,
    SQL_TK_SEMI,
} sql_tk;

#define SQL_TKF_NATIONAL 0x01 /* STRING: N'…' */
#define SQL_TKF_QUOTED   0x02 /* HEX/BIT: X'…' / B'…' form */
#define SQL_TKF_DQUOTE   0x04 /* STRING/QIDENT: delimited by " */
#define SQL_TKF_GLOBAL   0x10 /* SYSVAR: @@global. */
#define SQL_TKF_SESSION  0x20 /* SYSVAR: @@session. or @@local. */

typedef struct sql_token {
    uint8_t type;  /* sql_tk */
    uint8_t flags; /* SQL_TKF_* */
    uint32_t off;  /* start of the token in the source */
    uint32_t len;  /* whole token, quotes and prefixes included */
    uint32_t voff; /* start of the name/value part (after @@scope., inside quotes) */
    uint32_t vlen;
} sql_token;

/* sql_mode bits that change lexing or translation. */
#define SQL_MODE_ANSI_QUOTES          0x01
#define SQL_MODE_NO_BACKSLASH_ESCAPES 0x02
#define SQL_MODE_PIPES_AS_CONCAT      0x04
#define SQL_MODE_HIGH_NOT_PRECEDENCE  0x08

/* Most tokens one statement text may have. Bounds the token array of one query (12 bytes per
 * token would make a 64 MiB query ~380 MiB of tokens); queries this long are generated bulk
 * loads, which split their work. */
#define SQL_LEX_TOKENS_MAX (1u << 20)

typedef struct sql_tokens {
    sql_token *v; /* owned */
    uint32_t n;
    uint32_t cap;
} sql_tokens;

void sql_tokens_init(sql_tokens *t);
void sql_tokens_fini(sql_tokens *t);

/* Tokenizes src[0, len) (borrowed; tokens point into it) under the given SQL_MODE_* bits,
 * appending to *out (not including an EOF token). Returns 0, CM_E_PARSE (unterminated string,
 * identifier or comment, with the position in err) or CM_E_UNSUPPORTED (too many tokens). */
int sql_lex(const char *src, size_t len, unsigned mode, sql_tokens *out, cm_err *err);

/* Case-insensitive comparison of a bare word token with a keyword (upper-case ASCII). */
int sql_tok_is(const char *src, const sql_token *t, const char *kw);
/* Appends the decoded value of a STRING token (escapes resolved, doubled quotes undone) to out. */
int sql_tok_string(const char *src, const sql_token *t, unsigned mode, cm_buf *out);
/* Appends the name of an IDENT/QIDENT/USERVAR/SYSVAR token (quotes undone) to out. */
int sql_tok_name(const char *src, const sql_token *t, cm_buf *out);

#endif
