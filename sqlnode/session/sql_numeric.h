/*
 * sql_numeric.h — MySQL's numeric semantics and result-set metadata on top of SQLite
 * (docs/sql-layer.md "Numeric results and metadata").
 *
 * sql_typeinfer.c parses each top-level select item with a small expression parser over the
 * translator's tokens and computes the type MySQL gives it (DECIMAL with MySQL's precision and
 * scale for `/` and exact arithmetic, BIGINT for COUNT, DOUBLE for float math, DECIMAL for SUM and
 * AVG of exact types, strings with charset and length), resolving column references against the
 * tables of the FROM clause in the statement's schema snapshot. sql_numeric.c holds the exact
 * SUM/AVG aggregates and the row path that prints values of DECIMAL columns at their scale.
 */
#ifndef SQL_NUMERIC_H
#define SQL_NUMERIC_H

#include "sql_session_int.h"

/* What the row path does with a column's values (sql_tr_item.ti_act). */
enum {
    SQL_TI_ACT_NONE = 0,
    /* DECIMAL: a REAL/INTEGER value is printed at ti_decimals */
    SQL_TI_ACT_DECIMAL = 1,
    /* signed integer arithmetic: a REAL value is SQLite's overflow (1690) */
    SQL_TI_ACT_INTCHECK = 2,
    /* DIV: a REAL value is truncated to an integer */
    SQL_TI_ACT_TRUNC = 3,
    SQL_TI_ACT_MASK = 0x0f,
    /* flag: the value can be NULL only through a division by zero (warning 1365) */
    SQL_TI_ACT_DIVZERO = 0x10,
    /* flag on a plain column reference (ti_type 0): the inner side of an outer join, nullable */
    SQL_TI_ACT_NULLABLE = 0x20,
};

/* Most tables of one FROM clause the inference resolves columns against (more: none resolved). */
#define SQL_TI_TABLES_MAX 32
/* Longest text of a DECIMAL value: 65 digits, sign, point, NUL. */
#define SQL_NUM_TEXT_MAX 72

/* Fills the ti_* fields of tr->items for the query t[0, n) whose prepared statement has ncols
 * columns (after the translation and the prepare, so the schema snapshot is the statement's).
 * Items it cannot type keep ti_type 0. A single `*` / `t.*` item is spread over the columns it
 * stands for, so that items[i] describes column i. */
void sql_ti_infer(sql_sess *s, const char *src, const sql_token *t, uint32_t n, int ncols,
                  sql_tr_out *tr);
/* Column metadata of an inferred item (it->ti_type != 0); c->name is kept. */
void sql_ti_describe(const sql_tr_item *it, sql_column *c);

/* Registers SUM and AVG (exact over integers and DECIMAL texts) and the exact DECIMAL operators
 * (sql_decarith.c). Returns 0 or CM_E_INTERNAL. */
int sql_num_register(sql_sess *s);
/* sql_decarith.c: tessera_dadd/dsub/dmul(a, b), tessera_ddiv(a, b, scale), tessera_dmod(a, b). */
int sql_decarith_register(sql_sess *s);
/* sql_semantics.c: tessera_num(x) (a string read as MySQL reads it in a comparison with a number)
 * and __tsr_setvar(name, value) (`@name := value`). */
int sql_sem_register(sql_sess *s);
/* `WITH RECURSIVE` whose CTEs are `name(cols) AS (SELECT … UNION ALL SELECT …)`: into out, the
 * text with each such CTE carrying a hidden iteration column checked against
 * @@cte_max_recursion_depth (error 3636). Returns 1 when out holds it, 0 (nothing to do), -1. */
int sql_sem_cte_rewrite(const char *src, const sql_token *t, uint32_t n, cm_buf *out);
/* sql_translate_query of t, or of its sql_sem_cte_rewrite form. */
int sql_sem_translate(sql_sess *s, const char *src, const sql_token *t, uint32_t n,
                      const sql_tr_ctx *ctx, sql_tr_out *tr, cm_err *err);
/* Hands an exact decimal result text[0, len) with `scale` decimals to SQLite: INTEGER or REAL
 * when that holds it exactly (at most 15 significant digits), TEXT otherwise. */
void sql_num_result_value(sqlite3_context *ctx, const char *text, int len, int scale);
/* After a query t[0, n) of src is translated and prepared into *st: infers the select list's
 * types into s->tr.items, and when DECIMAL arithmetic in it can be made exact, translates and
 * prepares the query again with those operators as tessera_d* calls (replacing *st; the
 * original stays when that fails). Returns 0 (never fails the statement). */
int sql_ti_finish(sql_sess *s, const char *src, const sql_token *t, uint32_t n, sqlite3_stmt **st);
/* Whether any column of a result needs sql_num_fix_row. */
int sql_num_row_needs(const sql_tr_item *items, uint32_t nitems, int ncols);
/* Rewrites the values of one row as the items ask: DECIMAL values as text at their scale
 * (into buf: ncols * SQL_NUM_TEXT_MAX bytes); a NULL that only a division by zero explains adds
 * warning 1365. Returns 0 or CM_E_BIGINT_RANGE (1690). */
int sql_num_fix_row(sql_sess *s, const sql_tr_item *items, uint32_t nitems, const sql_column *cols,
                    sql_value *v, int ncols, char *buf, cm_err *err);
/* Text of d rounded half away from zero at `decimals` digits (as MySQL prints a DECIMAL), from its
 * 15 significant digits. Returns the length. */
int sql_num_format_decimal(double d, int decimals, char *buf, size_t cap);

#endif
