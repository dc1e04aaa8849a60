/* sql_dml_multi.c — UPDATE/DELETE … ORDER BY … LIMIT, multi-table UPDATE and DELETE, and the
 * statement runner the forms of sql_dml_ext.h share.
 *
 * Each statement reads first and writes after: a SELECT of the rows' handles (the vtab's rowid)
 * — with the new values of a multi-table UPDATE — materialized in memory, then one UPDATE or
 * DELETE by handle per row (a point get and the write), in the order the SELECT returned them
 * (so `UPDATE t SET id = id + 1 ORDER BY id DESC` never collides), each target row once.
 * docs/sql-layer.md "DML forms beyond SQLite". */
#include "sql_dml_ext.h"

#include "cm_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- helpers ----------------------------------------------------------------------------------
 */

int sql_dml_ext_syntax(const char *src, const sql_token *t, uint32_t n, uint32_t i, cm_err *err)
{
    /* the statement is not NUL-terminated: it ends with its last token */
    const char *near = i < n ? src + t[i].off : "";
    size_t len = i < n ? (size_t)t[n - 1].off + t[n - 1].len - t[i].off : 0;
    return cm_err_set(err, CM_E_PARSE,
                      "You have an error in your SQL syntax; check the manual that corresponds to "
                      "your MySQL server version for the right syntax to use near '%.*s' at line 1",
                      (int)(len > 60 ? 60 : len), near);
}

int sql_dml_ext_is_name(const sql_token *t)
{
    return t->type == SQL_TK_IDENT || t->type == SQL_TK_QIDENT;
}

int sql_dml_ext_append_src(cm_buf *out, const char *src, const sql_token *t, uint32_t b, uint32_t e)
{
    if (b >= e) {
        return 0;
    }
    size_t from = t[b].off, to = (size_t)t[e - 1].off + t[e - 1].len;
    if (cm_buf_append(out, src + from, to - from) != 0 || cm_buf_append_u8(out, ' ') != 0) {
        return CM_E_NOMEM;
    }
    return 0;
}

int sql_dml_ext_append_qname(cm_buf *out, const char *src, const sql_token *t)
{
    cm_buf v = CM_BUF_INIT;
    int rc = sql_tok_name(src, t, &v) == 0 ? 0 : CM_E_NOMEM;
    rc = rc ? rc : cm_buf_append_u8(out, '"') != 0 ? CM_E_NOMEM : 0;
    for (size_t i = 0; rc == 0 && i < v.len; i++) {
        uint8_t c = v.ptr[i];
        if (cm_buf_append_u8(out, c ? c : ' ') != 0 ||
            (c == '"' && cm_buf_append_u8(out, '"') != 0)) {
            rc = CM_E_NOMEM;
        }
    }
    rc = rc ? rc : cm_buf_append(out, "\" ", 2) != 0 ? CM_E_NOMEM : 0;
    cm_buf_fini(&v);
    return rc;
}

static int nomem(cm_err *err)
{
    return cm_err_set(err, CM_E_NOMEM, "out of memory");
}

int sql_dml_ext_prepare(sql_sess *s, const char *sql, size_t len, sqlite3_stmt **out, cm_err *err)
{
    const char *tail = NULL;
    int rc = sql_decl_prepare(s, sql, (int)len, 0, out, &tail, err);
    if (rc == 0 && *out == NULL) {
        rc = cm_err_set(err, CM_E_EMPTY_QUERY, "Query was empty");
    }
    return rc;
}

int sql_dml_ext_prepare_text(sql_sess *s, const char *txt, size_t len, int query,
                             sqlite3_stmt **out, cm_err *err)
{
    *out = NULL;
    sql_tokens toks;
    sql_tokens_init(&toks);
    sql_tr_out tr;
    sql_tr_out_init(&tr);
    int rc = sql_lex(txt, len, s->mode, &toks, err);
    if (rc == 0) {
        sql_tr_ctx ctx = sql_sess_tr_ctx(s);
        rc = query ? sql_translate_query(txt, toks.v, toks.n, &ctx, &tr, err)
                   : sql_translate_fragment(txt, toks.v, toks.n, &ctx, &tr, err);
    }
    if (rc == 0) {
        rc = sql_dml_ext_prepare(s, (const char *)tr.sql.ptr, tr.sql.len, out, err);
    }
    sql_tr_out_fini(&tr);
    sql_tokens_fini(&toks);
    return rc;
}

static int step_error(sql_sess *s, int lrc, cm_err *err)
{
    if (s->vt.err.code != 0 && lrc != SQLITE_INTERRUPT) {
        int rc = s->vt.err.code;
        if (err != NULL) {
            *err = s->vt.err;
        }
        return rc;
    }
    return sql_exec_sqlite_error(s, lrc, err);
}

int sql_dml_ext_step(sql_sess *s, sqlite3_stmt *st, cm_err *err)
{
    if (sql_sess_killed(s) != 0) { /* row by row: a KILL lands between two rows */
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return cm_err_set(err, CM_E_QUERY_INTERRUPTED, "Query execution was interrupted");
    }
    s->fn_err.code = 0;
    int lrc;
    uint32_t guard = 0;
    while ((lrc = sqlite3_step(st)) == SQLITE_ROW && guard++ < SQL_DML_EXT_ROWS_MAX) {
    }
    int rc = lrc == SQLITE_DONE ? 0 : step_error(s, lrc, err);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

void sql_dml_rows_free(sql_dml_rows *r)
{
    for (size_t i = 0; r->v != NULL && i < (size_t)r->nrows * r->ncols; i++) {
        sqlite3_value_free(r->v[i]);
    }
    free(r->v);
    memset(r, 0, sizeof(*r));
}

int sql_dml_rows_read(sql_sess *s, sqlite3_stmt *st, sql_dml_rows *r, cm_err *err)
{
    sql_dml_rows_free(r);
    r->ncols = (uint32_t)sqlite3_column_count(st);
    s->fn_err.code = 0;
    int lrc, rc = 0;
    while ((lrc = sqlite3_step(st)) == SQLITE_ROW) {
        if (r->nrows >= SQL_DML_EXT_ROWS_MAX) {
            rc = cm_err_set(err, CM_E_UNSUPPORTED,
                            "This version of Tessera doesn't yet support more than %u rows in "
                            "one statement of this form",
                            SQL_DML_EXT_ROWS_MAX);
            break;
        }
        if (r->nrows == r->cap) {
            uint32_t nc = r->cap ? r->cap * 2 : 64;
            sqlite3_value **nv =
                realloc(r->v, (size_t)nc * (r->ncols ? r->ncols : 1) * sizeof(*nv));
            if (nv == NULL) {
                rc = nomem(err);
                break;
            }
            r->v = nv;
            r->cap = nc;
        }
        sqlite3_value **row = r->v + (size_t)r->nrows * r->ncols;
        for (uint32_t c = 0; c < r->ncols; c++) {
            row[c] = sqlite3_value_dup(sqlite3_column_value(st, (int)c));
            if (row[c] == NULL) {
                for (uint32_t k = 0; k < c; k++) {
                    sqlite3_value_free(row[k]);
                }
                rc = nomem(err);
                break;
            }
        }
        if (rc != 0) {
            break;
        }
        r->nrows++;
    }
    if (rc == 0 && lrc != SQLITE_ROW && lrc != SQLITE_DONE) {
        rc = step_error(s, lrc, err);
    }
    sqlite3_reset(st);
    return rc;
}

/* ---- the runner -------------------------------------------------------------------------------
 */

static void backoff(sql_sess *s, uint32_t attempt)
{
    uint32_t base = 1u << (attempt < 5 ? attempt : 5);
    uint64_t x = s->id * 0x9E3779B97F4A7C15ULL ^ (uint64_t)sql_sess_now_us(s);
    x ^= x >> 29;
    int64_t ms = (int64_t)(base + (uint32_t)(x % (base + 1)));
    if (s->env->sleep_ms != NULL) {
        (void)s->env->sleep_ms(s->env->user, ms, &s->killed);
        return;
    }
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int sql_dml_ext_exec(sql_sess *s, sql_dml_ext_body body, void *ctx, sql_sink *sink, int more,
                     cm_err *err)
{
    if (s->trans_ro && s->in_trans) {
        return cm_err_set(err, CM_E_READ_ONLY_TXN,
                          "Cannot execute statement in a READ ONLY transaction.");
    }
    s->stmt_dml = 1;
    uint32_t retries =
        s->env->autocommit_retries ? s->env->autocommit_retries : SQL_SESS_AUTOCOMMIT_RETRIES;
    uint64_t insert_id = 0;
    int have_id = 0, rc;
    for (uint32_t attempt = 0;; attempt++) {
        insert_id = 0;
        have_id = 0;
        sql_txn_stmt_prologue(s);
        rc = body(s, ctx, &insert_id, &have_id, err);
        rc = sql_txn_stmt_epilogue(s, rc, err);
        if (rc != 0 && sql_txn_retryable(rc) && !sql_txn_explicit(s) && attempt < retries) {
            CM_DEBUG("sql", "conn=%llu: write conflict, autocommit statement re-run (attempt %u)",
                     (unsigned long long)s->id, attempt + 2);
            backoff(s, attempt);
            sql_diag_clear(s);
            continue;
        }
        break;
    }
    s->vt.upsert = false;
    sql_dml_unbind_named(s);
    if (rc != 0) {
        return sql_txn_map_error(s, rc, err);
    }
    uint64_t affected = s->vt.affected;
    s->row_count = (int64_t)affected;
    if (have_id) {
        s->last_insert_id = insert_id;
    }
    return sql_sess_done(s, sink, affected, have_id ? insert_id : 0, more, NULL);
}

/* ---- statement shapes -------------------------------------------------------------------------
 */

static int kw(const char *src, const sql_token *t, uint32_t n, uint32_t i, const char *k)
{
    return i < n && t[i].type == SQL_TK_IDENT && sql_tok_is(src, &t[i], k);
}

static int is_join_word(const char *src, const sql_token *t, uint32_t n, uint32_t i)
{
    return kw(src, t, n, i, "JOIN") || kw(src, t, n, i, "STRAIGHT_JOIN");
}

/* Words that end a table factor's name (never an alias). */
static int factor_end_word(const char *src, const sql_token *t, uint32_t n, uint32_t i)
{
    static const char *const w[] = {"ON",    "USING", "JOIN",      "INNER",         "CROSS",
                                    "LEFT",  "RIGHT", "NATURAL",   "OUTER",         "WHERE",
                                    "SET",   "USE",   "FORCE",     "IGNORE",        "ORDER",
                                    "LIMIT", "FROM",  "PARTITION", "STRAIGHT_JOIN", NULL};
    for (const char *const *k = w; *k; k++) {
        if (kw(src, t, n, i, *k)) {
            return 1;
        }
    }
    return 0;
}

/* Index of the first top-level token in [b, e) that is keyword k (k2 after it when given). */
static uint32_t find_top(const char *src, const sql_token *t, uint32_t b, uint32_t e, const char *k,
                         const char *k2)
{
    int depth = 0;
    for (uint32_t j = b; j < e; j++) {
        depth += t[j].type == SQL_TK_LPAREN;
        depth -= t[j].type == SQL_TK_RPAREN;
        if (depth == 0 && kw(src, t, e, j, k) && (k2 == NULL || kw(src, t, e, j + 1, k2))) {
            return j;
        }
    }
    return e;
}

/* Skips the modifiers after UPDATE/DELETE; *ignore set for IGNORE. */
static uint32_t skip_mods(const char *src, const sql_token *t, uint32_t n, uint32_t i, int *ignore)
{
    *ignore = 0;
    while (i < n && (kw(src, t, n, i, "LOW_PRIORITY") || kw(src, t, n, i, "QUICK") ||
                     kw(src, t, n, i, "IGNORE"))) {
        *ignore |= kw(src, t, n, i, "IGNORE");
        i++;
    }
    return i;
}

/* Whether the table references t[b, e) hold more than one table. */
static int several_tables(const char *src, const sql_token *t, uint32_t b, uint32_t e)
{
    int depth = 0;
    for (uint32_t j = b; j < e; j++) {
        depth += t[j].type == SQL_TK_LPAREN;
        depth -= t[j].type == SQL_TK_RPAREN;
        if (depth == 0 && (t[j].type == SQL_TK_COMMA || is_join_word(src, t, e, j))) {
            return 1;
        }
    }
    return 0;
}

sql_dml_ext_kind sql_dml_ext_kind_of(const char *src, const sql_token *t, uint32_t n)
{
    if (n < 2) {
        return SQL_DML_EXT_NONE;
    }
    int ign;
    if (sql_tok_is(src, &t[0], "INSERT")) {
        return find_top(src, t, 1, n, "ON", "DUPLICATE") < n ? SQL_DML_EXT_UPSERT
                                                             : SQL_DML_EXT_NONE;
    }
    if (sql_tok_is(src, &t[0], "UPDATE")) {
        uint32_t b = skip_mods(src, t, n, 1, &ign);
        uint32_t set = find_top(src, t, b, n, "SET", NULL);
        if (set >= n) {
            return SQL_DML_EXT_NONE;
        }
        if (several_tables(src, t, b, set)) {
            return SQL_DML_EXT_UPDATE_MULTI;
        }
        if (find_top(src, t, set, n, "ORDER", "BY") < n ||
            find_top(src, t, set, n, "LIMIT", NULL) < n) {
            return SQL_DML_EXT_UPDATE_ORDERED;
        }
        return SQL_DML_EXT_NONE;
    }
    if (sql_tok_is(src, &t[0], "DELETE")) {
        uint32_t b = skip_mods(src, t, n, 1, &ign);
        if (!kw(src, t, n, b, "FROM")) {
            return SQL_DML_EXT_DELETE_MULTI; /* DELETE t1[, t2] FROM … */
        }
        if (find_top(src, t, b, n, "USING", NULL) < n || several_tables(src, t, b + 1, n)) {
            return SQL_DML_EXT_DELETE_MULTI;
        }
        if (find_top(src, t, b, n, "ORDER", "BY") < n ||
            find_top(src, t, b, n, "LIMIT", NULL) < n) {
            return SQL_DML_EXT_DELETE_ORDERED;
        }
    }
    return SQL_DML_EXT_NONE;
}

/* ---- per-row writes by handle -----------------------------------------------------------------
 */

typedef struct handle_ref {
    int64_t h;
    uint32_t row;
} handle_ref;

static int cmp_handle_ref(const void *a, const void *b)
{
    const handle_ref *x = a, *y = b;
    if (x->h != y->h) {
        return x->h < y->h ? -1 : 1;
    }
    return x->row < y->row ? -1 : x->row > y->row;
}

static int cmp_row(const void *a, const void *b)
{
    const handle_ref *x = a, *y = b;
    return x->row < y->row ? -1 : x->row > y->row;
}

/* The distinct non-NULL handles of columns cols[0, ncols) of r, each with its first row, in row
 * order. */
static int distinct_handles(const sql_dml_rows *r, const uint32_t *cols, uint32_t ncols,
                            handle_ref **out, uint32_t *nout, cm_err *err)
{
    *out = NULL;
    *nout = 0;
    if (r->nrows == 0 || ncols == 0) {
        return 0;
    }
    handle_ref *v = malloc((size_t)r->nrows * ncols * sizeof(*v));
    if (v == NULL) {
        return nomem(err);
    }
    size_t m = 0;
    for (uint32_t i = 0; i < r->nrows; i++) {
        for (uint32_t c = 0; c < ncols; c++) {
            sqlite3_value *x = r->v[(size_t)i * r->ncols + cols[c]];
            if (sqlite3_value_type(x) == SQLITE_NULL) {
                continue; /* an outer join's missing side */
            }
            v[m].h = sqlite3_value_int64(x);
            v[m].row = i;
            m++;
        }
    }
    qsort(v, m, sizeof(*v), cmp_handle_ref);
    uint32_t k = 0;
    for (size_t i = 0; i < m; i++) {
        if (k == 0 || v[k - 1].h != v[i].h) {
            v[k++] = v[i];
        }
    }
    qsort(v, k, sizeof(*v), cmp_row);
    *out = v;
    *nout = k;
    return 0;
}

/* Writes the rows hs[0, nh) with `<del> WHERE rowid IN (?, …)`, SQL_DML_EXT_DELETE_BATCH
 * handles a statement (the vtab reads an IN list on the handle with one batch get per region,
 * where one statement per row would make a round trip each). del[0, len): `DELETE FROM <table>`
 * or `UPDATE <table> SET …` in SQLite's dialect. The rows are written in handle order. */
static int delete_handles(sql_sess *s, const char *del, size_t len, const handle_ref *hs,
                          uint32_t nh, cm_err *err)
{
    uint32_t b = nh < SQL_DML_EXT_DELETE_BATCH ? nh : SQL_DML_EXT_DELETE_BATCH;
    cm_buf q = CM_BUF_INIT;
    int rc = cm_buf_append(&q, del, len) != 0 || cm_buf_printf(&q, " WHERE rowid IN (") != 0;
    for (uint32_t i = 0; rc == 0 && i < b; i++) {
        rc = cm_buf_printf(&q, "%s?%u", i ? ", " : "", i + 1) != 0;
    }
    rc = rc == 0 && cm_buf_append_u8(&q, ')') == 0 ? 0 : nomem(err);
    sqlite3_stmt *st = NULL;
    rc = rc ? rc : sql_dml_ext_prepare(s, (const char *)q.ptr, q.len, &st, err);
    for (uint32_t at = 0; rc == 0 && at < nh; at += b) {
        for (uint32_t i = 0; i < b; i++) {
            /* a short last batch repeats its last handle: the IN list is a set */
            uint32_t k = at + i < nh ? at + i : nh - 1;
            sqlite3_bind_int64(st, (int)i + 1, hs[k].h);
        }
        rc = sql_dml_ext_step(s, st, err);
    }
    sqlite3_finalize(st);
    cm_buf_fini(&q);
    return rc;
}

/* ---- single table: ORDER BY / LIMIT ------------------------------------------------------------
 */

typedef struct ordered {
    const char *src;
    const sql_token *t;
    uint32_t n;
    int is_update;
    int ignore;
    int batch;       /* UPDATE whose order cannot matter: rows written in batches (order_free) */
    uint32_t tb, te; /* the table reference (name, alias) */
    uint32_t sb, se; /* UPDATE: the assignments */
    uint32_t wb;     /* WHERE / ORDER BY / LIMIT … to the end */
} ordered;

static int ordered_body(sql_sess *s, void *vctx, uint64_t *insert_id, int *have_id, cm_err *err)
{
    (void)insert_id;
    (void)have_id;
    ordered *o = vctx;
    cm_buf q = CM_BUF_INIT, w = CM_BUF_INIT;
    sqlite3_stmt *sel = NULL, *wr = NULL;
    sql_dml_rows rows = {0};
    handle_ref *hs = NULL;
    uint32_t nh = 0;
    /* SELECT rowid FROM t WHERE … ORDER BY … LIMIT … */
    int rc = cm_buf_append(&q, "SELECT rowid FROM ", 18) != 0 ? CM_E_NOMEM : 0;
    rc = rc ? rc : sql_dml_ext_append_src(&q, o->src, o->t, o->tb, o->te);
    rc = rc ? rc : sql_dml_ext_append_src(&q, o->src, o->t, o->wb, o->n);
    if (rc != 0) {
        rc = nomem(err);
        goto out;
    }
    rc = sql_dml_ext_prepare_text(s, (const char *)q.ptr, q.len, 1, &sel, err);
    rc = rc ? rc : sql_dml_rows_read(s, sel, &rows, err);
    uint32_t col0 = 0;
    rc = rc ? rc : distinct_handles(&rows, &col0, 1, &hs, &nh, err);
    if (rc != 0 || nh == 0) {
        goto out;
    }
    /* UPDATE t SET … WHERE rowid = ? / DELETE FROM t WHERE rowid = ?, translated once */
    cm_buf_reset(&q);
    if (o->is_update) {
        rc = cm_buf_append(&q, "UPDATE ", 7) != 0 ? CM_E_NOMEM : 0;
        rc = rc ? rc : sql_dml_ext_append_src(&q, o->src, o->t, o->tb, o->se);
    } else {
        rc = cm_buf_append(&q, "DELETE FROM ", 12) != 0 ? CM_E_NOMEM : 0;
        rc = rc ? rc : sql_dml_ext_append_src(&q, o->src, o->t, o->tb, o->te);
    }
    if (rc != 0) {
        rc = nomem(err);
        goto out;
    }
    {
        /* the translated statement, then the handle parameter */
        sql_tokens toks;
        sql_tokens_init(&toks);
        sql_tr_out tr;
        sql_tr_out_init(&tr);
        rc = sql_lex((const char *)q.ptr, q.len, s->mode, &toks, err);
        if (rc == 0) {
            rc = sql_dml_translate(s, (const char *)q.ptr, toks.v, toks.n, &tr, err);
        }
        if (rc == 0) {
            const char *sqltxt = (const char *)tr.sql.ptr;
            size_t len = tr.sql.len;
            if (o->ignore && o->is_update && len >= 7 && strncmp(sqltxt, "UPDATE ", 7) == 0) {
                rc = cm_buf_append(&w, "UPDATE OR IGNORE ", 17) == 0 &&
                             cm_buf_append(&w, sqltxt + 7, len - 7) == 0
                         ? 0
                         : CM_E_NOMEM;
            } else {
                rc = cm_buf_append(&w, sqltxt, len) == 0 ? 0 : CM_E_NOMEM;
            }
            if (rc == 0 && (!o->is_update || o->batch)) {
                rc = delete_handles(s, (const char *)w.ptr, w.len, hs, nh, err);
                sql_tr_out_fini(&tr);
                sql_tokens_fini(&toks);
                goto out;
            }
            rc = rc ? rc : cm_buf_printf(&w, " WHERE rowid = ?") != 0 ? CM_E_NOMEM : 0;
            if (rc != 0) {
                rc = nomem(err);
            }
        }
        sql_tr_out_fini(&tr);
        sql_tokens_fini(&toks);
    }
    rc = rc ? rc : sql_dml_ext_prepare(s, (const char *)w.ptr, w.len, &wr, err);
    if (rc != 0) {
        goto out;
    }
    int hp = sqlite3_bind_parameter_count(wr);
    for (uint32_t i = 0; rc == 0 && i < nh; i++) {
        sqlite3_bind_int64(wr, hp, hs[i].h);
        rc = sql_dml_ext_step(s, wr, err);
    }
out:
    sqlite3_finalize(sel);
    sqlite3_finalize(wr);
    sql_dml_rows_free(&rows);
    free(hs);
    cm_buf_fini(&q);
    cm_buf_fini(&w);
    return rc;
}

static int col_in_unique_key(const sql_cat_table *tab, uint32_t col)
{
    if (tab->handle_col >= 0 && (uint32_t)tab->handle_col == col) {
        return 1;
    }
    for (uint32_t i = 0; i < tab->nindexes; i++) {
        const sql_cat_index *ix = &tab->indexes[i];
        for (uint32_t k = 0; ix->unique && k < ix->ncols; k++) {
            if (ix->cols[k] == col) {
                return 1;
            }
        }
    }
    return 0;
}

static int col_of(const sql_cat_table *tab, const char *src, const sql_token *c);
static void name_copy(const char *src, const sql_token *t, char *buf, size_t cap);

/* Whether the rows of an ordered UPDATE may be written in any order: no assigned column is part
 * of the primary key or a unique index (so no row can collide with another's new key — the
 * only way the order shows in MySQL), and no LAST_INSERT_ID(expr) (whose last value shows). */
static int order_free(sql_sess *s, const ordered *o)
{
    const char *src = o->src;
    const sql_token *t = o->t;
    char db[SQL_DB_MAX], name[SQL_DB_MAX];
    if (o->tb + 2 < o->te && t[o->tb + 1].type == SQL_TK_DOT) {
        name_copy(src, &t[o->tb], db, sizeof db);
        name_copy(src, &t[o->tb + 2], name, sizeof name);
    } else if (s->has_db) {
        snprintf(db, sizeof db, "%s", s->dbname);
        name_copy(src, &t[o->tb], name, sizeof name);
    } else {
        return 0;
    }
    const sql_cat_table *tab = s->schema != NULL ? sql_schema_table(s->schema, db, name) : NULL;
    if (tab == NULL) {
        return 0;
    }
    int depth = 0;
    for (uint32_t j = o->sb; j < o->se; j++) {
        if (kw(src, t, o->se, j, "LAST_INSERT_ID")) {
            return 0;
        }
        depth += t[j].type == SQL_TK_LPAREN;
        depth -= t[j].type == SQL_TK_RPAREN;
        if (depth == 0 && t[j].type == SQL_TK_OP && t[j].len == 1 && src[t[j].off] == '=' &&
            j > o->sb &&
            (j - 1 == o->sb || t[j - 2].type == SQL_TK_COMMA || t[j - 2].type == SQL_TK_DOT)) {
            int c = sql_dml_ext_is_name(&t[j - 1]) ? col_of(tab, src, &t[j - 1]) : -1;
            if (c < 0 || col_in_unique_key(tab, (uint32_t)c)) {
                return 0;
            }
        }
    }
    return 1;
}

static int run_ordered(sql_sess *s, int is_update, const char *src, const sql_token *t, uint32_t n,
                       sql_sink *sink, int more, cm_err *err)
{
    ordered o = {.src = src, .t = t, .n = n, .is_update = is_update};
    uint32_t i = skip_mods(src, t, n, 1, &o.ignore);
    if (!is_update) {
        i++; /* FROM; DELETE IGNORE has no error to ignore here (no foreign keys) */
    }
    o.tb = i;
    if (is_update) {
        o.te = find_top(src, t, i, n, "SET", NULL);
        o.sb = o.te + 1;
    } else {
        o.te = n;
    }
    uint32_t from = is_update ? o.sb : o.tb;
    uint32_t wb = find_top(src, t, from, n, "WHERE", NULL);
    uint32_t ob = find_top(src, t, from, n, "ORDER", "BY");
    uint32_t lb = find_top(src, t, from, n, "LIMIT", NULL);
    wb = wb < ob ? wb : ob;
    wb = wb < lb ? wb : lb;
    o.wb = wb;
    if (lb < n &&
        !(lb + 2 == n && (t[lb + 1].type == SQL_TK_INT || t[lb + 1].type == SQL_TK_PARAM))) {
        return sql_dml_ext_syntax(src, t, n, lb + 1 < n ? lb + 2 : n, err); /* LIMIT n only */
    }
    if (is_update) {
        o.se = wb;
    } else {
        o.te = wb;
    }
    if (o.te <= o.tb || (is_update && o.se <= o.sb)) {
        return sql_dml_ext_syntax(src, t, n, is_update ? o.sb : o.tb, err);
    }
    o.batch = is_update && order_free(s, &o);
    return sql_dml_ext_exec(s, ordered_body, &o, sink, more, err);
}

/* ---- several tables -----------------------------------------------------------------------------
 */

typedef struct tref {
    uint32_t b, e;  /* [db .] table tokens */
    uint32_t alias; /* alias token, or UINT32_MAX */
    const sql_cat_table *tab;
    int target; /* index among the targets, or -1 */
} tref;

typedef struct assign {
    uint32_t lb, le; /* the column reference */
    uint32_t rb, re; /* the value */
    int ref;         /* the table it writes */
    uint32_t col;    /* table column offset */
} assign;

typedef struct multi {
    const char *src;
    const sql_token *t;
    uint32_t n;
    int is_update;
    int ignore;
    uint32_t rb, re; /* table references */
    uint32_t wb;     /* WHERE … (or n) */
    tref refs[SQL_DML_EXT_TABLES_MAX];
    uint32_t nrefs;
    int targets[SQL_DML_EXT_TABLES_MAX]; /* ref index of each target */
    uint32_t ntargets;
    assign *as;
    uint32_t nas;
} multi;

static int name_eq(const char *src, const sql_token *a, const sql_token *b)
{
    cm_buf x = CM_BUF_INIT, y = CM_BUF_INIT;
    int eq = sql_tok_name(src, a, &x) == 0 && sql_tok_name(src, b, &y) == 0 && x.len == y.len &&
             (x.len == 0 || strncasecmp((const char *)x.ptr, (const char *)y.ptr, x.len) == 0);
    cm_buf_fini(&x);
    cm_buf_fini(&y);
    return eq;
}

static int name_is(const char *src, const sql_token *a, const char *s)
{
    cm_buf x = CM_BUF_INIT;
    int eq = sql_tok_name(src, a, &x) == 0 && x.len == strlen(s) &&
             (x.len == 0 || strncasecmp((const char *)x.ptr, s, x.len) == 0);
    cm_buf_fini(&x);
    return eq;
}

/* Copies the unquoted name of t into buf (NUL-terminated, truncated to cap). */
static void name_copy(const char *src, const sql_token *t, char *buf, size_t cap)
{
    cm_buf x = CM_BUF_INIT;
    buf[0] = '\0';
    if (sql_tok_name(src, t, &x) == 0) {
        size_t l = x.len < cap - 1 ? x.len : cap - 1;
        memcpy(buf, x.ptr ? (const char *)x.ptr : "", l);
        buf[l] = '\0';
    }
    cm_buf_fini(&x);
}

/* Reads the table references t[m->rb, m->re) into m->refs and looks each table up. */
static int parse_refs(sql_sess *s, multi *m, cm_err *err)
{
    const char *src = m->src;
    const sql_token *t = m->t;
    uint32_t e = m->re;
    uint32_t i = m->rb;
    while (i < e) {
        int derived = t[i].type == SQL_TK_LPAREN &&
                      (kw(src, t, e, i + 1, "SELECT") || kw(src, t, e, i + 1, "WITH"));
        if (t[i].type == SQL_TK_LPAREN && !derived) {
            return cm_err_set(err, CM_E_UNSUPPORTED,
                              "This version of Tessera doesn't yet support parenthesized joins "
                              "in a multi-table %s",
                              m->is_update ? "UPDATE" : "DELETE");
        }
        if (derived) {
            /* (SELECT …) [AS] alias: read, never written (tab NULL) */
            int depth = 0;
            uint32_t j = i;
            for (; j < e; j++) {
                depth += t[j].type == SQL_TK_LPAREN;
                depth -= t[j].type == SQL_TK_RPAREN;
                if (depth == 0) {
                    break;
                }
            }
            if (j >= e || m->nrefs >= SQL_DML_EXT_TABLES_MAX) {
                return sql_dml_ext_syntax(src, t, m->n, j < e ? j : i, err);
            }
            tref *r = &m->refs[m->nrefs++];
            r->b = i;
            r->e = j + 1;
            r->alias = UINT32_MAX;
            r->target = -1;
            r->tab = NULL;
            i = j + 1;
            if (kw(src, t, e, i, "AS")) {
                i++;
            }
            if (i >= e || !sql_dml_ext_is_name(&t[i]) || factor_end_word(src, t, e, i)) {
                return cm_err_set(err, CM_E_PARSE, "Every derived table must have its own alias");
            }
            r->alias = i++;
        } else if (!sql_dml_ext_is_name(&t[i])) {
            return sql_dml_ext_syntax(src, t, m->n, i, err);
        } else {
            if (m->nrefs >= SQL_DML_EXT_TABLES_MAX) {
                return cm_err_set(err, CM_E_UNSUPPORTED,
                                  "Too many tables; MySQL can only use %d "
                                  "tables in a join",
                                  SQL_DML_EXT_TABLES_MAX);
            }
            tref *r = &m->refs[m->nrefs++];
            r->b = i;
            r->e = i + 1;
            r->alias = UINT32_MAX;
            r->target = -1;
            if (i + 2 < e && t[i + 1].type == SQL_TK_DOT && sql_dml_ext_is_name(&t[i + 2])) {
                r->e = i + 3;
            }
            i = r->e;
            if (kw(src, t, e, i, "AS") && i + 1 < e && sql_dml_ext_is_name(&t[i + 1])) {
                r->alias = i + 1;
                i += 2;
            } else if (i < e && sql_dml_ext_is_name(&t[i]) && !factor_end_word(src, t, e, i)) {
                r->alias = i;
                i++;
            }
            char db[SQL_DB_MAX], name[SQL_DB_MAX];
            if (r->e - r->b == 3) {
                name_copy(src, &t[r->b], db, sizeof db);
                name_copy(src, &t[r->b + 2], name, sizeof name);
            } else {
                if (!s->has_db) {
                    return cm_err_set(err, CM_E_NO_DB, "No database selected");
                }
                snprintf(db, sizeof db, "%s", s->dbname);
                name_copy(src, &t[r->b], name, sizeof name);
            }
            r->tab = s->schema != NULL ? sql_schema_table(s->schema, db, name) : NULL;
            if (r->tab == NULL) {
                return cm_err_set(err, CM_E_NO_SUCH_TABLE, "Table '%s.%s' doesn't exist", db, name);
            }
        }
        /* to the next table factor: after a top-level comma or JOIN (ON/USING skipped) */
        int depth = 0;
        while (i < e) {
            depth += t[i].type == SQL_TK_LPAREN;
            depth -= t[i].type == SQL_TK_RPAREN;
            if (depth == 0 && (t[i].type == SQL_TK_COMMA || is_join_word(src, t, e, i))) {
                i++;
                break;
            }
            i++;
        }
    }
    if (m->nrefs == 0) {
        return sql_dml_ext_syntax(src, t, m->n, m->rb, err);
    }
    return 0;
}

/* The reference a qualifier names: [db .] name t[qb, qe) against aliases and table names. */
static int ref_of(const multi *m, uint32_t qb, uint32_t qe)
{
    const char *src = m->src;
    const sql_token *t = m->t;
    for (uint32_t k = 0; k < m->nrefs; k++) {
        const tref *r = &m->refs[k];
        if (qe - qb == 1) {
            if (r->alias != UINT32_MAX ? name_eq(src, &t[r->alias], &t[qb])
                                       : name_eq(src, &t[r->e - 1], &t[qb])) {
                return (int)k;
            }
        } else if (r->alias == UINT32_MAX && r->e - r->b == 3 && name_eq(src, &t[r->b], &t[qb]) &&
                   name_eq(src, &t[r->b + 2], &t[qb + 2])) {
            return (int)k;
        }
    }
    return -1;
}

static int col_of(const sql_cat_table *tab, const char *src, const sql_token *c)
{
    for (uint32_t i = 0; i < tab->ncols; i++) {
        if (tab->cols[i].state == SQL_OBJ_PUBLIC && name_is(src, c, tab->cols[i].name)) {
            return (int)i;
        }
    }
    return -1;
}

static int add_target(multi *m, int ref)
{
    if (m->refs[ref].target < 0) {
        m->refs[ref].target = (int)m->ntargets;
        m->targets[m->ntargets++] = ref;
    }
    return m->refs[ref].target;
}

static int unknown_col(const multi *m, uint32_t b, uint32_t e, cm_err *err)
{
    size_t from = m->t[b].off, to = (size_t)m->t[e - 1].off + m->t[e - 1].len;
    return cm_err_set(err, CM_E_BAD_FIELD, "Unknown column '%.*s' in 'field list'",
                      (int)(to - from > 64 ? 64 : to - from), m->src + from);
}

/* A derived table named as what to write: 1288. */
static int not_updatable(const multi *m, const tref *r, cm_err *err)
{
    char name[SQL_DB_MAX];
    name_copy(m->src, &m->t[r->alias], name, sizeof name);
    return cm_err_set(err, CM_E_NON_UPDATABLE_TABLE,
                      "The target table %s of the %s is not updatable", name,
                      m->is_update ? "UPDATE" : "DELETE");
}

/* UPDATE: the assignments t[b, e) (col = expr, …), each resolved to its table and column. */
static int parse_assigns(multi *m, uint32_t b, uint32_t e, cm_err *err)
{
    const char *src = m->src;
    const sql_token *t = m->t;
    uint32_t cap = 0;
    uint32_t i = b;
    while (i < e) {
        uint32_t lb = i, le = i;
        while (le < e && (sql_dml_ext_is_name(&t[le]) || t[le].type == SQL_TK_DOT)) {
            le++;
        }
        uint32_t nl = le - lb;
        if (!(nl == 1 || nl == 3 || nl == 5) || le >= e || t[le].type != SQL_TK_OP ||
            t[le].len != 1 || src[t[le].off] != '=') {
            return sql_dml_ext_syntax(src, t, m->n, le < e ? le : lb, err);
        }
        uint32_t rb = le + 1, re = rb;
        int depth = 0;
        while (re < e && !(depth == 0 && t[re].type == SQL_TK_COMMA)) {
            depth += t[re].type == SQL_TK_LPAREN;
            depth -= t[re].type == SQL_TK_RPAREN;
            re++;
        }
        if (re == rb) {
            return sql_dml_ext_syntax(src, t, m->n, rb, err);
        }
        if (m->nas == cap) {
            cap = cap ? cap * 2 : 8;
            assign *na = realloc(m->as, cap * sizeof(*na));
            if (na == NULL) {
                return nomem(err);
            }
            m->as = na;
        }
        assign *a = &m->as[m->nas++];
        a->lb = lb;
        a->le = le;
        a->rb = rb;
        a->re = re;
        a->ref = -1;
        const sql_token *cn = &t[le - 1];
        if (nl == 1) {
            for (uint32_t k = 0; k < m->nrefs; k++) {
                if (m->refs[k].tab != NULL && col_of(m->refs[k].tab, src, cn) >= 0) {
                    if (a->ref >= 0) {
                        cm_buf v = CM_BUF_INIT;
                        sql_tok_name(src, cn, &v);
                        int rc = cm_err_set(
                            err, CM_E_NON_UNIQ_FIELD, "Column '%.*s' in field list is ambiguous",
                            (int)(v.len > 64 ? 64 : v.len), v.ptr ? (const char *)v.ptr : "");
                        cm_buf_fini(&v);
                        return rc;
                    }
                    a->ref = (int)k;
                }
            }
        } else {
            a->ref = ref_of(m, lb, le - 2);
            if (a->ref >= 0 && m->refs[a->ref].tab == NULL) {
                return not_updatable(m, &m->refs[a->ref], err);
            }
        }
        int col = a->ref >= 0 ? col_of(m->refs[a->ref].tab, src, cn) : -1;
        if (col < 0) {
            return unknown_col(m, lb, le, err);
        }
        a->col = (uint32_t)col;
        add_target(m, a->ref);
        i = re < e ? re + 1 : e;
    }
    return m->nas == 0 ? sql_dml_ext_syntax(src, t, m->n, b, err) : 0;
}

/* DELETE: the target list t[b, e) (names or aliases, optionally `.*`). */
static int parse_targets(multi *m, uint32_t b, uint32_t e, cm_err *err)
{
    const char *src = m->src;
    const sql_token *t = m->t;
    uint32_t i = b;
    while (i < e) {
        uint32_t qb = i, qe = i;
        while (qe < e && (sql_dml_ext_is_name(&t[qe]) || (t[qe].type == SQL_TK_DOT && qe + 1 < e &&
                                                          t[qe + 1].type != SQL_TK_OP))) {
            qe++;
        }
        uint32_t next = qe;
        if (next + 1 < e && t[next].type == SQL_TK_DOT && t[next + 1].type == SQL_TK_OP &&
            src[t[next + 1].off] == '*') {
            next += 2; /* t.* */
        }
        if (!(qe - qb == 1 || qe - qb == 3) || (next < e && t[next].type != SQL_TK_COMMA)) {
            return sql_dml_ext_syntax(src, t, m->n, qe < e ? qe : qb, err);
        }
        int ref = ref_of(m, qb, qe);
        if (ref >= 0 && m->refs[ref].tab == NULL) {
            return not_updatable(m, &m->refs[ref], err);
        }
        if (ref < 0) {
            cm_buf v = CM_BUF_INIT;
            sql_tok_name(src, &t[qe - 1], &v);
            int rc = cm_err_set(err, CM_E_UNKNOWN_TABLE_MULTI_DELETE,
                                "Unknown table '%.*s' in MULTI DELETE",
                                (int)(v.len > 64 ? 64 : v.len), v.ptr ? (const char *)v.ptr : "");
            cm_buf_fini(&v);
            return rc;
        }
        add_target(m, ref);
        i = next + 1;
    }
    return m->ntargets == 0 ? sql_dml_ext_syntax(src, t, m->n, b, err) : 0;
}

/* Appends the SQLite name of ref r's table ("db"."t" or "t"). */
static int append_table(cm_buf *b, const multi *m, const tref *r)
{
    int rc = 0;
    if (r->e - r->b == 3) {
        rc = sql_dml_ext_append_qname(b, m->src, &m->t[r->b]);
        if (rc == 0 && b->len > 0 && b->ptr[b->len - 1] == ' ') {
            b->len--;
        }
        rc = rc ? rc : cm_buf_append_u8(b, '.') != 0 ? CM_E_NOMEM : 0;
    }
    return rc ? rc : sql_dml_ext_append_qname(b, m->src, &m->t[r->e - 1]);
}

/* Appends the qualifier naming ref r in the SELECT (its alias, or [db.]table as written). */
static int append_qual(cm_buf *b, const multi *m, const tref *r)
{
    uint32_t qb = r->alias != UINT32_MAX ? r->alias : r->b;
    uint32_t qe = r->alias != UINT32_MAX ? r->alias + 1 : r->e;
    int rc = sql_dml_ext_append_src(b, m->src, m->t, qb, qe);
    if (rc == 0 && b->len > 0 && b->ptr[b->len - 1] == ' ') {
        b->len--;
    }
    return rc;
}

static int is_pk_col(const sql_cat_table *tab, uint32_t col)
{
    if (tab->handle_col >= 0) {
        return (uint32_t)tab->handle_col == col;
    }
    for (uint32_t i = 0; i < tab->nindexes; i++) {
        const sql_cat_index *ix = &tab->indexes[i];
        for (uint32_t k = 0; ix->primary && k < ix->ncols; k++) {
            if (ix->cols[k] == col) {
                return 1;
            }
        }
    }
    return 0;
}

/* MySQL refuses to change a primary key of a table updated under two names (1706). */
static int key_conflict(const multi *m, cm_err *err)
{
    for (uint32_t a = 0; a < m->nas; a++) {
        const tref *r = &m->refs[m->as[a].ref];
        if (!is_pk_col(r->tab, m->as[a].col)) {
            continue;
        }
        for (uint32_t k = 0; k < m->ntargets; k++) {
            const tref *r2 = &m->refs[m->targets[k]];
            if (r2 != r && r2->tab->id == r->tab->id) {
                char n1[SQL_DB_MAX], n2[SQL_DB_MAX];
                name_copy(m->src, &m->t[r->alias != UINT32_MAX ? r->alias : r->e - 1], n1,
                          sizeof n1);
                name_copy(m->src, &m->t[r2->alias != UINT32_MAX ? r2->alias : r2->e - 1], n2,
                          sizeof n2);
                return cm_err_set(err, CM_E_MULTI_UPDATE_KEY_CONFLICT,
                                  "Primary key/partition key update is not allowed since the "
                                  "table is updated both as '%s' and '%s'",
                                  r2 < r ? n2 : n1, r2 < r ? n1 : n2);
            }
        }
    }
    return 0;
}

/* Appends a double-quoted SQLite identifier for name. */
static int append_ident(cm_buf *q, const char *name)
{
    if (cm_buf_append_u8(q, '"') != 0) {
        return CM_E_NOMEM;
    }
    for (const char *p = name; *p; p++) {
        if (cm_buf_append_u8(q, (uint8_t)*p) != 0 || (*p == '"' && cm_buf_append_u8(q, '"') != 0)) {
            return CM_E_NOMEM;
        }
    }
    return cm_buf_append_u8(q, '"') != 0 ? CM_E_NOMEM : 0;
}

/* Prepares the UPDATE of target k for b rows at a time:
 *   UPDATE t SET c = CASE rowid WHEN ?1 THEN ?(b+1) WHEN ?2 THEN … END, …
 *   WHERE rowid IN (?1, …, ?b)
 * handle i is ?(i+1), the value of its j-th assignment ?(b + i*na + j + 1). */
static int prepare_update(sql_sess *s, const multi *m, uint32_t k, uint32_t b, uint32_t na,
                          sqlite3_stmt **out, cm_err *err)
{
    const tref *r = &m->refs[m->targets[k]];
    cm_buf q = CM_BUF_INIT;
    int rc = cm_buf_printf(&q, "UPDATE %s", m->ignore ? "OR IGNORE " : "") != 0 ? CM_E_NOMEM : 0;
    rc = rc ? rc : append_table(&q, m, r);
    rc = rc ? rc : cm_buf_printf(&q, " SET ") != 0 ? CM_E_NOMEM : 0;
    uint32_t j = 0;
    for (uint32_t a = 0; rc == 0 && a < m->nas; a++) {
        if (m->as[a].ref != m->targets[k]) {
            continue;
        }
        rc = j > 0 && cm_buf_append(&q, ", ", 2) != 0 ? CM_E_NOMEM : 0;
        rc = rc ? rc : append_ident(&q, r->tab->cols[m->as[a].col].name);
        rc = rc ? rc : cm_buf_printf(&q, " = CASE rowid") != 0 ? CM_E_NOMEM : 0;
        for (uint32_t i = 0; rc == 0 && i < b; i++) {
            rc = cm_buf_printf(&q, " WHEN ?%u THEN ?%u", i + 1, b + i * na + j + 1) != 0
                     ? CM_E_NOMEM
                     : 0;
        }
        rc = rc ? rc : cm_buf_printf(&q, " END") != 0 ? CM_E_NOMEM : 0;
        j++;
    }
    rc = rc ? rc : cm_buf_printf(&q, " WHERE rowid IN (") != 0 ? CM_E_NOMEM : 0;
    for (uint32_t i = 0; rc == 0 && i < b; i++) {
        rc = cm_buf_printf(&q, "%s?%u", i ? ", " : "", i + 1) != 0 ? CM_E_NOMEM : 0;
    }
    rc = rc ? rc : cm_buf_append_u8(&q, ')') != 0 ? CM_E_NOMEM : 0;
    rc = rc ? nomem(err) : sql_dml_ext_prepare(s, (const char *)q.ptr, q.len, out, err);
    cm_buf_fini(&q);
    return rc;
}

/* Writes the new values of target k into its rows hs[0, nh), SQL_DML_EXT_DELETE_BATCH rows a
 * statement (one batch get per region, not a round trip per row). The rows are written in
 * handle order: MySQL leaves the order of a multi-table UPDATE undefined. */
static int update_handles(sql_sess *s, const multi *m, uint32_t k, const sql_dml_rows *rows,
                          const handle_ref *hs, uint32_t nh, cm_err *err)
{
    uint32_t na = 0;
    for (uint32_t a = 0; a < m->nas; a++) {
        na += m->as[a].ref == m->targets[k];
    }
    uint32_t b = SQL_DML_EXT_DELETE_BATCH;
    while (b > 1 && b * (na + 1) > 32000) { /* SQLite's 32,766 parameters */
        b /= 2;
    }
    sqlite3_stmt *full = NULL, *part = NULL;
    int rc = 0;
    for (uint32_t at = 0; rc == 0 && at < nh; at += b) {
        uint32_t cnt = nh - at < b ? nh - at : b;
        sqlite3_stmt **st = cnt == b ? &full : &part;
        if (*st == NULL) {
            rc = prepare_update(s, m, k, cnt, na, st, err);
        }
        for (uint32_t i = 0; rc == 0 && i < cnt; i++) {
            const handle_ref *h = &hs[at + i];
            sqlite3_value **row = rows->v + (size_t)h->row * rows->ncols;
            sqlite3_bind_int64(*st, (int)i + 1, h->h);
            uint32_t j = 0;
            for (uint32_t a = 0; a < m->nas; a++) {
                if (m->as[a].ref == m->targets[k]) {
                    sqlite3_bind_value(*st, (int)(cnt + i * na + j + 1), row[m->ntargets + a]);
                    j++;
                }
            }
        }
        rc = rc ? rc : sql_dml_ext_step(s, *st, err);
    }
    sqlite3_finalize(full);
    sqlite3_finalize(part);
    return rc;
}

static int multi_body(sql_sess *s, void *vctx, uint64_t *insert_id, int *have_id, cm_err *err)
{
    (void)insert_id;
    (void)have_id;
    multi *m = vctx;
    cm_buf q = CM_BUF_INIT;
    sqlite3_stmt *sel = NULL;
    sql_dml_rows rows = {0};
    handle_ref *hs = NULL;
    uint32_t nh = 0;
    int rc = cm_buf_append(&q, "SELECT ", 7) != 0 ? CM_E_NOMEM : 0;
    for (uint32_t k = 0; rc == 0 && k < m->ntargets; k++) {
        rc = append_qual(&q, m, &m->refs[m->targets[k]]);
        rc = rc ? rc : cm_buf_printf(&q, ".rowid, ") != 0 ? CM_E_NOMEM : 0;
    }
    for (uint32_t k = 0; rc == 0 && k < m->nas; k++) {
        rc = cm_buf_append_u8(&q, '(') != 0 ? CM_E_NOMEM : 0;
        rc = rc ? rc : sql_dml_ext_append_src(&q, m->src, m->t, m->as[k].rb, m->as[k].re);
        rc = rc ? rc : cm_buf_append(&q, "), ", 3) != 0 ? CM_E_NOMEM : 0;
    }
    if (rc == 0) {
        q.len -= 2; /* the last ", " */
        rc = cm_buf_append(&q, " FROM ", 6) != 0 ? CM_E_NOMEM : 0;
    }
    rc = rc ? rc : sql_dml_ext_append_src(&q, m->src, m->t, m->rb, m->re);
    rc = rc ? rc : sql_dml_ext_append_src(&q, m->src, m->t, m->wb, m->n);
    if (rc != 0) {
        rc = nomem(err);
        goto out;
    }
    rc = sql_dml_ext_prepare_text(s, (const char *)q.ptr, q.len, 1, &sel, err);
    rc = rc ? rc : sql_dml_rows_read(s, sel, &rows, err);
    for (uint32_t k = 0; rc == 0 && k < m->ntargets; k++) {
        const tref *r = &m->refs[m->targets[k]];
        /* DELETE: targets that are one table under two names delete each row once */
        uint32_t cols[SQL_DML_EXT_TABLES_MAX], ncols = 0;
        int seen = 0;
        for (uint32_t k2 = 0; k2 < m->ntargets; k2++) {
            const tref *r2 = &m->refs[m->targets[k2]];
            if (k2 == k || (!m->is_update && r2->tab->id == r->tab->id)) {
                seen |= k2 < k;
                cols[ncols++] = k2;
            }
        }
        if (seen) {
            continue;
        }
        rc = distinct_handles(&rows, cols, ncols, &hs, &nh, err);
        if (rc != 0 || nh == 0) {
            free(hs);
            hs = NULL;
            continue;
        }
        cm_buf_reset(&q);
        if (m->is_update) {
            rc = update_handles(s, m, k, &rows, hs, nh, err);
        } else {
            rc = cm_buf_printf(&q, "DELETE FROM ") != 0 ? CM_E_NOMEM : 0;
            rc = rc ? rc : append_table(&q, m, r);
            rc = rc ? nomem(err) : delete_handles(s, (const char *)q.ptr, q.len, hs, nh, err);
        }
        free(hs);
        hs = NULL;
    }
out:
    sqlite3_finalize(sel);
    sql_dml_rows_free(&rows);
    free(hs);
    cm_buf_fini(&q);
    return rc;
}

static int run_multi(sql_sess *s, int is_update, const char *src, const sql_token *t, uint32_t n,
                     sql_sink *sink, int more, cm_err *err)
{
    multi *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        return nomem(err);
    }
    m->src = src;
    m->t = t;
    m->n = n;
    m->is_update = is_update;
    uint32_t i = skip_mods(src, t, n, 1, &m->ignore);
    int rc = 0;
    const char *what = is_update ? "UPDATE" : "DELETE";
    uint32_t ob = find_top(src, t, i, n, "ORDER", "BY");
    uint32_t lb = find_top(src, t, i, n, "LIMIT", NULL);
    if (ob < n || lb < n) {
        rc = cm_err_set(err, CM_E_WRONG_USAGE, "Incorrect usage of %s and %s", what,
                        ob < n ? "ORDER BY" : "LIMIT");
        goto out;
    }
    m->wb = find_top(src, t, i, n, "WHERE", NULL);
    if (is_update) {
        uint32_t set = find_top(src, t, i, n, "SET", NULL);
        m->rb = i;
        m->re = set;
        rc = parse_refs(s, m, err);
        rc = rc ? rc : parse_assigns(m, set + 1, m->wb, err);
        rc = rc ? rc : key_conflict(m, err);
    } else if (kw(src, t, n, i, "FROM")) { /* DELETE FROM targets USING refs */
        uint32_t u = find_top(src, t, i, n, "USING", NULL);
        if (u >= m->wb) {
            rc = sql_dml_ext_syntax(src, t, n, i + 1, err);
            goto out;
        }
        m->rb = u + 1;
        m->re = m->wb;
        rc = parse_refs(s, m, err);
        rc = rc ? rc : parse_targets(m, i + 1, u, err);
    } else { /* DELETE targets FROM refs */
        uint32_t f = find_top(src, t, i, n, "FROM", NULL);
        if (f >= m->wb) {
            rc = sql_dml_ext_syntax(src, t, n, i, err);
            goto out;
        }
        m->rb = f + 1;
        m->re = m->wb;
        rc = parse_refs(s, m, err);
        rc = rc ? rc : parse_targets(m, i, f, err);
    }
    if (rc == 0) {
        rc = sql_dml_ext_exec(s, multi_body, m, sink, more, err);
    }
out:
    free(m->as);
    free(m);
    return rc;
}

/* ---- single-table SET lists: qualifiers, left-to-right evaluation ------------------------------
 */

static int tok_push(sql_token **v, uint32_t *n, uint32_t *cap, const sql_token *t)
{
    if (*n >= SQL_DML_EXT_SET_TOKENS_MAX) {
        return CM_E_UNSUPPORTED;
    }
    if (*n == *cap) {
        uint32_t nc = *cap ? *cap * 2 : 64;
        sql_token *nv = realloc(*v, (size_t)nc * sizeof(*nv));
        if (nv == NULL) {
            return CM_E_NOMEM;
        }
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = *t;
    return 0;
}

static int push_paren(sql_token **v, uint32_t *n, uint32_t *cap, const sql_token *at, int type)
{
    sql_token p = *at;
    p.type = (uint8_t)type;
    return tok_push(v, n, cap, &p);
}

int sql_dml_ext_expand_set(const char *src, const sql_token *t, const sql_dml_set_item *items,
                           uint32_t nitems, const sql_token *table, const sql_token *alias,
                           sql_dml_set_expanded *out, cm_err *err)
{
    memset(out, 0, sizeof(*out));
    out->off = calloc(nitems + 1, sizeof(*out->off));
    if (out->off == NULL) {
        return nomem(err);
    }
    uint32_t cap = 0;
    int rc = 0;
    for (uint32_t k = 0; rc == 0 && k < nitems; k++) {
        out->off[k] = out->n;
        const sql_dml_set_item *it = &items[k];
        for (uint32_t j = it->rb; rc == 0 && j < it->re; j++) {
            /* a subquery keeps its own names; VALUES(c) names the inserted value */
            int values =
                kw(src, t, it->re, j, "VALUES") && j + 1 < it->re && t[j + 1].type == SQL_TK_LPAREN;
            if (values || (t[j].type == SQL_TK_LPAREN && j + 1 < it->re &&
                           kw(src, t, it->re, j + 1, "SELECT"))) {
                if (values && (rc = tok_push(&out->t, &out->n, &cap, &t[j++])) != 0) {
                    break;
                }
                int depth = 0;
                uint32_t m = j;
                for (; m < it->re; m++) {
                    depth += t[m].type == SQL_TK_LPAREN;
                    depth -= t[m].type == SQL_TK_RPAREN;
                    if ((rc = tok_push(&out->t, &out->n, &cap, &t[m])) != 0 || depth == 0) {
                        break;
                    }
                }
                j = m;
                continue;
            }
            /* a column reference: c, or q.c with q the table or its alias */
            uint32_t c = UINT32_MAX, last = j;
            int after_dot = j > it->rb && t[j - 1].type == SQL_TK_DOT;
            if (!after_dot && sql_dml_ext_is_name(&t[j])) {
                if (j + 2 < it->re && t[j + 1].type == SQL_TK_DOT &&
                    sql_dml_ext_is_name(&t[j + 2]) &&
                    !(j + 3 < it->re &&
                      (t[j + 3].type == SQL_TK_DOT || t[j + 3].type == SQL_TK_LPAREN))) {
                    if ((alias != NULL && name_eq(src, &t[j], alias)) ||
                        (alias == NULL && name_eq(src, &t[j], table))) {
                        c = j + 2;
                        last = j + 2;
                    }
                } else if (!(j + 1 < it->re &&
                             (t[j + 1].type == SQL_TK_DOT || t[j + 1].type == SQL_TK_LPAREN))) {
                    c = j;
                }
            }
            int prev = -1;
            for (uint32_t q = 0; c != UINT32_MAX && q < k; q++) {
                if (name_eq(src, &t[items[q].col], &t[c])) {
                    prev = (int)q; /* the latest assignment before this one */
                }
            }
            if (prev < 0) {
                rc = tok_push(&out->t, &out->n, &cap, &t[j]);
                continue;
            }
            /* (the value assigned before), itself already expanded */
            rc = push_paren(&out->t, &out->n, &cap, &t[j], SQL_TK_LPAREN);
            for (uint32_t m = out->off[prev]; rc == 0 && m < out->off[prev + 1]; m++) {
                sql_token copy = out->t[m]; /* out->t may move while it grows */
                rc = tok_push(&out->t, &out->n, &cap, &copy);
            }
            rc = rc ? rc : push_paren(&out->t, &out->n, &cap, &t[j], SQL_TK_RPAREN);
            out->expanded = 1;
            j = last;
        }
        out->off[k + 1] = out->n;
    }
    if (rc == CM_E_UNSUPPORTED) {
        return cm_err_set(err, CM_E_UNSUPPORTED,
                          "This version of Tessera doesn't yet support SET lists whose "
                          "left-to-right expansion exceeds %u tokens",
                          SQL_DML_EXT_SET_TOKENS_MAX);
    }
    return rc != 0 ? nomem(err) : 0;
}

void sql_dml_ext_expanded_free(sql_dml_set_expanded *x)
{
    free(x->t);
    free(x->off);
    memset(x, 0, sizeof(*x));
}

int sql_dml_ext_rewrite_set(const char *src, const sql_token *t, uint32_t n, sql_token **out,
                            uint32_t *nout, cm_err *err)
{
    *out = NULL;
    *nout = 0;
    int ign;
    uint32_t b = skip_mods(src, t, n, 1, &ign);
    uint32_t set = find_top(src, t, b, n, "SET", NULL);
    if (set >= n || b >= set || several_tables(src, t, b, set)) {
        return 0;
    }
    /* UPDATE [db .] table [[AS] alias] SET */
    uint32_t te = b + 1;
    if (te + 1 < set && t[te].type == SQL_TK_DOT) {
        te += 2;
    }
    const sql_token *table = &t[te - 1];
    int dbq = te - b == 3; /* db . table */
    uint32_t alias = UINT32_MAX;
    if (te < set && kw(src, t, set, te, "AS")) {
        te++;
    }
    if (te < set && sql_dml_ext_is_name(&t[te])) {
        alias = te++;
    }
    if (te != set || !sql_dml_ext_is_name(&t[b])) {
        return 0; /* a form this does not know: left to SQLite */
    }
    uint32_t end = find_top(src, t, set, n, "WHERE", NULL);
    uint32_t ob = find_top(src, t, set, n, "ORDER", "BY");
    uint32_t lb = find_top(src, t, set, n, "LIMIT", NULL);
    end = end < ob ? end : ob;
    end = end < lb ? end : lb;
    /* the assignments: [[db .] q .] c = value */
    sql_dml_set_item items[SQL_DML_EXT_SET_ITEMS_MAX];
    uint32_t nitems = 0;
    int qualified = 0;
    for (uint32_t j = set + 1; j < end;) {
        uint32_t lb2 = j;
        while (j < end && (sql_dml_ext_is_name(&t[j]) || t[j].type == SQL_TK_DOT)) {
            j++;
        }
        uint32_t nl = j - lb2;
        if (!(nl == 1 || nl == 3 || nl == 5) || j >= end || t[j].type != SQL_TK_OP ||
            t[j].len != 1 || src[t[j].off] != '=' || nitems >= SQL_DML_EXT_SET_ITEMS_MAX) {
            return 0; /* not a plain list: SQLite reports what is wrong */
        }
        if (nl > 1) {
            /* the qualifier must name the table (or its alias) */
            uint32_t q = j - 3;
            int ok = nl == 3 ? name_eq(src, &t[q], alias != UINT32_MAX ? &t[alias] : table)
                             : alias == UINT32_MAX && dbq && name_eq(src, &t[lb2], &t[b]) &&
                                   name_eq(src, &t[q], table);
            if (!ok) {
                size_t from = t[lb2].off, to = (size_t)t[j - 1].off + t[j - 1].len;
                return cm_err_set(err, CM_E_BAD_FIELD, "Unknown column '%.*s' in 'field list'",
                                  (int)(to - from > 64 ? 64 : to - from), src + from);
            }
            qualified = 1;
        }
        uint32_t rb = j + 1, re = rb;
        int depth = 0;
        while (re < end && !(depth == 0 && t[re].type == SQL_TK_COMMA)) {
            depth += t[re].type == SQL_TK_LPAREN;
            depth -= t[re].type == SQL_TK_RPAREN;
            re++;
        }
        items[nitems].col = j - 1;
        items[nitems].rb = rb;
        items[nitems].re = re;
        nitems++;
        j = re < end ? re + 1 : end;
    }
    if (nitems == 0) {
        return 0;
    }
    sql_dml_set_expanded x;
    int rc = sql_dml_ext_expand_set(src, t, items, nitems, table,
                                    alias != UINT32_MAX ? &t[alias] : NULL, &x, err);
    if (rc != 0 || (!x.expanded && !qualified)) {
        sql_dml_ext_expanded_free(&x);
        return rc;
    }
    /* head, then `c = value` per assignment, then the rest */
    sql_token *w = NULL;
    uint32_t m = 0, cap = 0;
    for (uint32_t j = 0; rc == 0 && j <= set; j++) {
        rc = tok_push(&w, &m, &cap, &t[j]);
    }
    for (uint32_t k = 0; rc == 0 && k < nitems; k++) {
        if (k > 0) {
            rc = tok_push(&w, &m, &cap, &t[items[k - 1].re]); /* the comma */
        }
        rc = rc ? rc : tok_push(&w, &m, &cap, &t[items[k].col]);
        rc = rc ? rc : tok_push(&w, &m, &cap, &t[items[k].col + 1]); /* = */
        for (uint32_t q = x.off[k]; rc == 0 && q < x.off[k + 1]; q++) {
            rc = tok_push(&w, &m, &cap, &x.t[q]);
        }
    }
    for (uint32_t j = end; rc == 0 && j < n; j++) {
        rc = tok_push(&w, &m, &cap, &t[j]);
    }
    sql_dml_ext_expanded_free(&x);
    if (rc != 0) {
        free(w);
        return rc == CM_E_UNSUPPORTED
                   ? cm_err_set(err, CM_E_UNSUPPORTED,
                                "This version of Tessera doesn't yet support SET lists whose "
                                "left-to-right expansion exceeds %u tokens",
                                SQL_DML_EXT_SET_TOKENS_MAX)
                   : nomem(err);
    }
    *out = w;
    *nout = m;
    return 1;
}

int sql_dml_ext_run(sql_sess *s, sql_dml_ext_kind k, const char *src, const sql_token *t,
                    uint32_t n, sql_sink *sink, int more, cm_err *err)
{
    switch (k) {
    case SQL_DML_EXT_UPDATE_ORDERED:
        return run_ordered(s, 1, src, t, n, sink, more, err);
    case SQL_DML_EXT_DELETE_ORDERED:
        return run_ordered(s, 0, src, t, n, sink, more, err);
    case SQL_DML_EXT_UPDATE_MULTI:
        return run_multi(s, 1, src, t, n, sink, more, err);
    case SQL_DML_EXT_DELETE_MULTI:
        return run_multi(s, 0, src, t, n, sink, more, err);
    case SQL_DML_EXT_UPSERT:
        return sql_upsert_run(s, src, t, n, sink, more, err);
    default:
        return cm_err_set(err, CM_E_INTERNAL, "not a multi-statement DML form");
    }
}
