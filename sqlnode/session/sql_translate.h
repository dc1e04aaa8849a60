/*
 * sql_translate.h — the classifier and the MySQL → SQLite dialect translator.
 *
 * The classifier names what a statement is from its leading keywords, so SET, SHOW, USE,
 * transaction control and KILL are handled by the session's own code and only queries reach
 * SQLite (DESIGN.md §7). The translator rewrites a query's tokens into SQLite SQL: MySQL
 * strings and identifiers, `@@var` and `@var` as registered functions, MySQL operators
 * (`||` as OR, `&&`, `<=>`, `/` always fractional, MOD, DIV), keyword forms of functions
 * (CURRENT_TIMESTAMP …), CAST types, charset introducers and COLLATE, FROM DUAL, SELECT
 * modifiers; and it names every top-level select item the way MySQL names it (the expression's
 * own text, or a string literal's value) with an explicit alias. It is linear in the tokens and
 * does not parse expressions; what needs a parser is listed in docs/mysql-protocol.md.
 */
#ifndef SQL_TRANSLATE_H
#define SQL_TRANSLATE_H

#include "cm_buf.h"
#include "cm_err.h"
#include "sql_lexer.h"

#include <stdint.h>

typedef enum sql_kind {
    SQL_KIND_EMPTY = 0,
    SQL_KIND_QUERY,       /* SELECT, WITH, VALUES, ( … ) — run by SQLite */
    SQL_KIND_DO,          /* DO expr — evaluated by SQLite, result dropped */
    SQL_KIND_SET,         /* SET … (variables, NAMES, TRANSACTION) */
    SQL_KIND_SHOW,        /* SHOW … */
    SQL_KIND_USE,         /* USE db */
    SQL_KIND_BEGIN,       /* BEGIN, START TRANSACTION */
    SQL_KIND_COMMIT,      /* COMMIT */
    SQL_KIND_ROLLBACK,    /* ROLLBACK */
    SQL_KIND_KILL,        /* KILL [QUERY|CONNECTION] id */
    SQL_KIND_DML,         /* INSERT, UPDATE, DELETE, REPLACE, LOAD — need tables */
    SQL_KIND_DESCRIBE,    /* DESCRIBE/DESC/EXPLAIN */
    SQL_KIND_UNSUPPORTED, /* DDL, user management, … — arrive with later issues */
    SQL_KIND_UNKNOWN,     /* not a statement we recognise: syntax error */
} sql_kind;

sql_kind sql_classify(const char *src, const sql_token *t, uint32_t n);
const char *sql_kind_name(sql_kind k);

/* Static type information about one top-level select item, from its tokens alone. */
typedef struct sql_tr_item {
    uint8_t guess;   /* SQL_TYPE_* expected (VAR_STRING when unknown) */
    uint8_t strong;  /* non-zero: the column has this type whatever the value's storage class
                        (NOW() is DATETIME although SQLite returns text) */
    uint8_t literal; /* a constant literal: NOT NULL */
    /* Set by the select-list type inference (sql_typeinfer.c); ti_type 0: nothing inferred. */
    uint8_t ti_type;     /* SQL_TYPE_* the column has */
    uint8_t ti_decimals; /* decimals (DECIMAL values are printed with exactly these) */
    uint8_t ti_act;      /* SQL_TI_ACT_*: what the row path does to this column's values */
    uint16_t ti_flags;
    uint16_t ti_charset;
    uint32_t ti_length;
} sql_tr_item;

/* Most select items a query may name (MySQL's own limit on columns is 4096). */
#define SQL_TR_ITEMS_MAX 4096
/* Deepest parenthesis nesting accepted: bounds the work and stack of SQLite's parser. */
#define SQL_TR_DEPTH_MAX 200
/* Longest generated column name, in bytes (MySQL keeps 256 characters of an expression). */
#define SQL_TR_NAME_MAX 256

/* Resolves `@@name`: returns 0 and the variable's id, or an error (unknown variable 1193, wrong
 * scope 1238). scope: 0 none, 1 global, 2 session. */
typedef int (*sql_tr_sysvar_cb)(void *user, const char *name, size_t n, int scope, int *id,
                                cm_err *err);

typedef struct sql_tr_ctx {
    unsigned mode; /* SQL_MODE_* */
    void *user;
    sql_tr_sysvar_cb sysvar;
} sql_tr_ctx;

typedef struct sql_tr_out {
    cm_buf sql;         /* SQLite text, NUL-terminated */
    sql_tr_item *items; /* owned; nitems entries (top-level select list) */
    uint32_t nitems;
    uint32_t cap_items;
    uint32_t nparams; /* `?` placeholders */
    /* INSERT/REPLACE only (sql_dml_translate; empty otherwise): the target and the columns the
     * statement names, as 'L' (a column list follows) or 'A' (no list: every column), then
     * db NUL table NUL (db empty: the current database), then each listed name NUL. */
    cm_buf target;
} sql_tr_out;

void sql_tr_out_init(sql_tr_out *o);
void sql_tr_out_reset(sql_tr_out *o);
void sql_tr_out_fini(sql_tr_out *o);

/* Translates the query t[0, n) of src. Returns 0, CM_E_PARSE, CM_E_UNSUPPORTED (a MySQL form the
 * translator does not handle yet), or what the sysvar callback returns. */
int sql_translate_query(const char *src, const sql_token *t, uint32_t n, const sql_tr_ctx *ctx,
                        sql_tr_out *out, cm_err *err);
/* Translates an expression t[0, n) into "SELECT <expr>" (SET's right-hand sides). */
int sql_translate_expr(const char *src, const sql_token *t, uint32_t n, const sql_tr_ctx *ctx,
                       sql_tr_out *out, cm_err *err);
/* Translates a bare expression into out->sql without any prefix (SHOW … WHERE). */
int sql_translate_fragment(const char *src, const sql_token *t, uint32_t n, const sql_tr_ctx *ctx,
                           sql_tr_out *out, cm_err *err);

#endif
