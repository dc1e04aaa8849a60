/*
 * sql_dml_ext.h — MySQL DML forms that are more than one SQLite statement on the `tessera`
 * virtual tables (docs/sql-layer.md "DML forms beyond SQLite"):
 *   INSERT … ON DUPLICATE KEY UPDATE (sql_upsert.c),
 *   UPDATE/DELETE … ORDER BY … LIMIT and multi-table UPDATE/DELETE (sql_dml_multi.c).
 * Each runs as one MySQL statement: one statement checkpoint in the session's transaction,
 * several SQLite statements inside it (a read that picks the rows, then writes row by row), the
 * whole re-run on a write conflict in autocommit like any statement (sql_dml_ext_exec).
 * Also INSERT/REPLACE … SET, rewritten into the VALUES form before translation.
 */
#ifndef SQL_DML_EXT_H
#define SQL_DML_EXT_H

#include "sql_session_int.h"

/* Rows one statement of these forms reads before writing (they are kept in memory between the
 * read and the writes): bounds what one statement can make the server hold. */
#define SQL_DML_EXT_ROWS_MAX 1000000u
/* Rows one DELETE statement of these forms removes by handle (`rowid IN (?, …)`): SQLite's
 * default limit is 32,766 parameters; 256 keeps a batch get a few KB of keys. */
#define SQL_DML_EXT_DELETE_BATCH 256u
/* Tables of one multi-table UPDATE/DELETE (MySQL's join limit is 61). */
#define SQL_DML_EXT_TABLES_MAX 61

typedef enum sql_dml_ext_kind {
    SQL_DML_EXT_NONE = 0,
    SQL_DML_EXT_UPSERT,         /* INSERT … ON DUPLICATE KEY UPDATE */
    SQL_DML_EXT_UPDATE_ORDERED, /* single-table UPDATE with ORDER BY and/or LIMIT */
    SQL_DML_EXT_DELETE_ORDERED, /* single-table DELETE with ORDER BY and/or LIMIT */
    SQL_DML_EXT_UPDATE_MULTI,   /* UPDATE t1 JOIN t2 … / UPDATE t1, t2 … */
    SQL_DML_EXT_DELETE_MULTI,   /* DELETE t1 FROM … / DELETE FROM t1 USING … */
} sql_dml_ext_kind;

/* Which of the forms above t[0, n) is (a DML statement); SQL_DML_EXT_NONE for the forms one
 * SQLite statement runs (sql_dml_translate). */
sql_dml_ext_kind sql_dml_ext_kind_of(const char *src, const sql_token *t, uint32_t n);

/* Runs statement t[0, n) of kind k and sends its OK (affected rows, insert id). */
int sql_dml_ext_run(sql_sess *s, sql_dml_ext_kind k, const char *src, const sql_token *t,
                    uint32_t n, sql_sink *sink, int more, cm_err *err);

/* INSERT … ON DUPLICATE KEY UPDATE (sql_upsert.c); called by sql_dml_ext_run. */
int sql_upsert_run(sql_sess *s, const char *src, const sql_token *t, uint32_t n, sql_sink *sink,
                   int more, cm_err *err);

/* INSERT/REPLACE … SET a = x, b = y [tail]: t[i] is the table name. Translates the statement as
 * INSERT … (a, b) VALUES (x, y) [tail] into out (sql_dml_translate). */
int sql_upsert_translate_set(sql_sess *s, const char *src, const sql_token *t, uint32_t n,
                             uint32_t i, sql_tr_out *out, cm_err *err);

/* Most assignments in one single-table SET list, and most tokens its left-to-right expansion may
 * grow to (each later reference to an earlier assigned column copies that value: a chain like
 * `a = a + a, a = a + a, …` doubles at every step). */
#define SQL_DML_EXT_SET_ITEMS_MAX  4096u
#define SQL_DML_EXT_SET_TOKENS_MAX 65536u

/* One assignment `c = value` of a SET list: c is the (bare) column token, the value
 * t[rb, re). */
typedef struct sql_dml_set_item {
    uint32_t col;
    uint32_t rb, re;
} sql_dml_set_item;

/* The values of a SET list as MySQL evaluates a single-table list, left to right: in each
 * value, a reference to a column assigned earlier in the list (`c`, or `q.c` with q the table —
 * or its alias when it has one) becomes `(that earlier value)`, already expanded; subqueries
 * keep their own names. Value k is t[off[k], off[k + 1]). */
typedef struct sql_dml_set_expanded {
    sql_token *t;
    uint32_t n;
    uint32_t *off;
    int expanded; /* some reference was replaced */
} sql_dml_set_expanded;
int sql_dml_ext_expand_set(const char *src, const sql_token *t, const sql_dml_set_item *items,
                           uint32_t nitems, const sql_token *table, const sql_token *alias,
                           sql_dml_set_expanded *out, cm_err *err);
void sql_dml_ext_expanded_free(sql_dml_set_expanded *x);

/* Single-table UPDATE: rewrites the SET list into what SQLite runs with MySQL's meaning —
 * qualified columns (`t.c = …`, `alias.c`, `db.t.c`; SQLite accepts bare names only) lose
 * their qualifier, and values are expanded left to right (sql_dml_ext_expand_set). 1 with
 * *out (malloc'd, the caller frees) the new tokens; 0 when nothing changes; an error (1054 for
 * a qualifier that is not the table). */
int sql_dml_ext_rewrite_set(const char *src, const sql_token *t, uint32_t n, sql_token **out,
                            uint32_t *nout, cm_err *err);

/* ---- shared by sql_upsert.c and sql_dml_multi.c (sql_dml_multi.c) ---- */

/* The body of one statement; called again from scratch when an autocommit statement is re-run
 * after a write conflict. Adds to s->vt.affected; sets *insert_id / *have_id for an OK packet's
 * insert id. */
typedef int (*sql_dml_ext_body)(sql_sess *s, void *ctx, uint64_t *insert_id, int *have_id,
                                cm_err *err);
int sql_dml_ext_exec(sql_sess *s, sql_dml_ext_body body, void *ctx, sql_sink *sink, int more,
                     cm_err *err);
/* Steps st to SQLITE_DONE (a write), mapping a failure to its MySQL error; resets st. */
int sql_dml_ext_step(sql_sess *s, sqlite3_stmt *st, cm_err *err);
/* Lexes MySQL text txt[0, len) and translates it as a query (query = 1) or a fragment, then
 * prepares the result. */
int sql_dml_ext_prepare_text(sql_sess *s, const char *txt, size_t len, int query,
                             sqlite3_stmt **out, cm_err *err);
/* Prepares SQLite text. */
int sql_dml_ext_prepare(sql_sess *s, const char *sql, size_t len, sqlite3_stmt **out, cm_err *err);

/* Materialized result rows: ncols values per row (sqlite3_value_dup copies). */
typedef struct sql_dml_rows {
    sqlite3_value **v;
    uint32_t ncols;
    uint32_t nrows;
    uint32_t cap; /* rows */
} sql_dml_rows;
void sql_dml_rows_free(sql_dml_rows *r);
/* Steps query st to the end, copying every row into r (reset first). */
int sql_dml_rows_read(sql_sess *s, sqlite3_stmt *st, sql_dml_rows *r, cm_err *err);

/* The 1064 message near token i. */
int sql_dml_ext_syntax(const char *src, const sql_token *t, uint32_t n, uint32_t i, cm_err *err);
/* Whether t is a name (IDENT or QIDENT). */
int sql_dml_ext_is_name(const sql_token *t);
/* Appends src text of tokens t[b, e) (with the original spacing) to out. */
int sql_dml_ext_append_src(cm_buf *out, const char *src, const sql_token *t, uint32_t b,
                           uint32_t e);
/* Appends a double-quoted SQLite identifier for the name token t. */
int sql_dml_ext_append_qname(cm_buf *out, const char *src, const sql_token *t);

#endif
