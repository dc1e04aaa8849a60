/*
 * sql_copr.h — the sqlnode's side of the coprocessor (docs/coprocessor.md, "Aggregate pushdown
 * (sqlnode)"):
 *
 * - an expression compiler from MySQL tokens to the coprocessor bytecode (cm_cx.h), used for
 *   WHERE clauses and aggregate arguments pushed to the KV nodes and for HAVING / ORDER BY over
 *   merged aggregate rows; it can be reused for any expression over one table's columns (TopN);
 * - the single-table aggregate plan: recognises `SELECT aggregates FROM t [WHERE] [GROUP BY]
 *   [HAVING] [ORDER BY] [LIMIT]` on the tokens, sends partial aggregation to every region,
 *   merges and finishes the groups here, and answers EXPLAIN for such queries.
 *
 * The compiler is conservative: an expression compiles only when the KV side's evaluation is
 * MySQL's, exactly (cm_cx.h's semantics), for the operand types involved. Everything else is
 * "not pushable" (SQL_COPR_NO, with a reason), never an error: the caller then runs the query
 * through SQLite, unchanged.
 */
#ifndef SQL_COPR_H
#define SQL_COPR_H

#include "cm_copr.h"
#include "cm_cx.h"
#include "sql_catalog.h"
#include "sql_lexer.h"

#include <stdbool.h>
#include <stdint.h>

/* Return value of the compiler and the recognisers: the expression (query) is not pushable. */
#define SQL_COPR_NO 1

/* Deepest expression nesting the compiler accepts (recursion bound); deeper is SQL_COPR_NO. */
#define SQL_COPR_DEPTH_MAX 64

/* Value classes the compiler tracks to decide what is exact on the KV side. */
typedef enum sql_copr_cls {
    SQL_COPR_C_NULL = 0, /* the NULL literal */
    SQL_COPR_C_INT,      /* signed integers, booleans */
    SQL_COPR_C_UINT,     /* unsigned integers */
    SQL_COPR_C_DEC,      /* exact DECIMAL (scale in sql_copr_type.scale) */
    SQL_COPR_C_REAL,     /* DOUBLE / FLOAT */
    SQL_COPR_C_STR,      /* utf8mb4_bin text */
    SQL_COPR_C_BYTES,    /* binary strings */
    SQL_COPR_C_TIME,     /* DATE / DATETIME */
} sql_copr_cls;

typedef struct sql_copr_type {
    uint8_t cls;     /* sql_copr_cls */
    uint8_t scale;   /* DEC: digits after the point */
    bool is_const;   /* no column reference in it */
    int32_t col;     /* a plain column reference: its table offset; -1 otherwise */
    bool str_padded; /* STR that may hold trailing spaces (VARCHAR/TEXT, not CHAR) */
} sql_copr_type;

/* Resolves the names an expression refers to. Callbacks return 0 (found: *idx is the program's
 * column, *type its class), SQL_COPR_NO (unknown or not pushable) or a negative error. */
typedef struct sql_copr_env sql_copr_env;
struct sql_copr_env {
    /* A column reference t[0, n): 1, 3 or 5 tokens (name, q.name, db.q.name). */
    int (*column)(sql_copr_env *e, const char *src, const sql_token *t, uint32_t n, uint32_t *idx,
                  sql_copr_type *type, cm_err *err);
    /* An aggregate call t[0, n), from its name to its closing parenthesis; NULL: aggregates are
     * not allowed (WHERE, aggregate arguments). */
    int (*aggregate)(sql_copr_env *e, const char *src, const sql_token *t, uint32_t n,
                     uint32_t *idx, sql_copr_type *type, cm_err *err);
};

/* Compiles the expression t[0, n) of src (lexed under SQL_MODE_* bits mode) into b (appended:
 * b may already hold operands). Returns 0 with *type, SQL_COPR_NO (why gets the reason, at most
 * why_cap bytes) or a negative error (CM_E_NOMEM). b is unusable after SQL_COPR_NO / an error
 * (reset it). */
int sql_copr_compile(const char *src, unsigned mode, const sql_token *t, uint32_t n,
                     sql_copr_env *env, cm_cx_builder *b, sql_copr_type *type, char *why,
                     size_t why_cap, cm_err *err);

/* ---- one table's columns as program columns ---------------------------------------------- */

/* Columns of table t as the plan's columns: every column an expression names is added once
 * (the plan's column list: cols/offs), resolved by name, `q.name` (q the table's name or alias)
 * or `db.q.name`; only PUBLIC columns of the types whose KV evaluation is exact (integers,
 * DECIMAL, FLOAT/DOUBLE, CHAR/VARCHAR/TEXT in utf8mb4_bin, BINARY/VARBINARY/BLOB, DATE,
 * DATETIME) resolve; others are SQL_COPR_NO. */
typedef struct sql_copr_tcols {
    sql_copr_env env; /* first: the compiler's callbacks */
    const sql_cat_table *t;
    char db[260];   /* database of t (qualified references) */
    char qual[260]; /* name the query calls t by (its alias, or its name) */
    uint32_t ncols;
    cm_copr_pcol *cols; /* [ncols] plan columns; owned */
    uint32_t *offs;     /* [ncols] their table offsets; owned */
    int32_t *plan_of;   /* [t->ncols] plan column of each table column, -1: unused; owned */
} sql_copr_tcols;

/* qual (may be NULL: t's name) and db are copied. Returns 0 or CM_E_NOMEM. */
int sql_copr_tcols_init(sql_copr_tcols *c, const sql_cat_table *t, const char *db, const char *qual,
                        cm_err *err);
void sql_copr_tcols_fini(sql_copr_tcols *c);
/* Adds table column off (if not yet there) and returns its plan column in *idx: 0, or SQL_COPR_NO
 * when its type is not pushable. */
int sql_copr_tcols_add(sql_copr_tcols *c, uint32_t off, uint32_t *idx, sql_copr_type *type);
/* The class of a column type; false when the type is not pushable. */
bool sql_copr_col_class(const sql_coltype *ct, sql_copr_type *type);

/* ---- single-table aggregates (sql_copr_agg.c) ------------------------------------------------ */

typedef struct sql_sess sql_sess;

/* The query t[0, n) of src: when it is a single-table aggregate this module runs, runs it and
 * sends its result (returns 0 or an error); otherwise returns SQL_COPR_NO (not that shape: run
 * it as usual) or SQL_COPR_FALLBACK (that shape, but it runs through SQLite this time: pushdown
 * off, the table written by the transaction, too many groups — the caller should not cache the
 * SQLite statement, so the next run may push down again). */
#define SQL_COPR_FALLBACK 2
int sql_copr_agg_run(sql_sess *s, const char *src, const sql_token *t, uint32_t n, sql_sink *sink,
                     int more, cm_err *err);
/* EXPLAIN of the query t[0, n): sends the pushed plan's rows (0 or an error), or SQL_COPR_NO
 * when the query would not be pushed (the caller explains SQLite's plan). */
int sql_copr_agg_explain(sql_sess *s, const char *src, const sql_token *t, uint32_t n,
                         sql_sink *sink, int more, cm_err *err);

#endif
