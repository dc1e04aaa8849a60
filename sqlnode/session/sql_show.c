/* sql_show.c — SHOW statements answered by the session itself: VARIABLES, STATUS, WARNINGS,
 * ERRORS, PROCESSLIST, COLLATION, CHARACTER SET. LIKE filters in C; WHERE filters run the
 * translated condition in SQLite over the rows. Catalog SHOWs arrive with the SQL layer. */
#include "sql_session_int.h"

#include "../mysql/sql_my_const.h"
#include "sql_charset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct cell {
    size_t off, len;
    int is_null;
    int is_int;
    int64_t i;
} cell;

typedef struct rows {
    uint32_t ncols;
    cm_buf text;
    cell *cells;
    uint32_t ncells, cap;
    int oom;
} rows;

static void rows_init(rows *r, uint32_t ncols)
{
    memset(r, 0, sizeof(*r));
    r->ncols = ncols;
    cm_buf_init(&r->text);
}

static void rows_fini(rows *r)
{
    cm_buf_fini(&r->text);
    free(r->cells);
}

static cell *next_cell(rows *r)
{
    if (r->ncells == r->cap) {
        uint32_t cap = r->cap ? r->cap * 2 : 64;
        cell *c = realloc(r->cells, cap * sizeof(*c));
        if (c == NULL) {
            r->oom = 1;
            return NULL;
        }
        r->cells = c;
        r->cap = cap;
    }
    cell *c = &r->cells[r->ncells++];
    memset(c, 0, sizeof(*c));
    return c;
}

static void add_text(rows *r, const char *p, size_t n)
{
    cell *c = next_cell(r);
    if (c == NULL) {
        return;
    }
    c->off = r->text.len;
    c->len = n;
    if (cm_buf_append(&r->text, p, n) != 0) {
        r->oom = 1;
    }
}

static void add_str(rows *r, const char *s)
{
    add_text(r, s, strlen(s));
}

static void add_int(rows *r, int64_t v)
{
    cell *c = next_cell(r);
    if (c != NULL) {
        c->is_int = 1;
        c->i = v;
    }
}

static int cmp_rows(const void *a, const void *b, void *ctx)
{
    const cell *x = a, *y = b;
    const char *base = (const char *)((rows *)ctx)->text.ptr;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = strncasecmp(base + x->off, base + y->off, n);
    return c != 0 ? c : (x->len < y->len ? -1 : x->len > y->len);
}

/* Sorts rows by their first (text) column. Rows are ncols cells each; sorting moves whole rows
 * by sorting an index. */
static int sort_rows(rows *r)
{
    uint32_t nrows = r->ncols ? r->ncells / r->ncols : 0;
    if (nrows < 2) {
        return 0;
    }
    if (r->ncols == 1) {
        qsort_r(r->cells, nrows, sizeof(cell), cmp_rows, r);
        return 0;
    }
    /* Rows of several cells: sort (first cell, row index) pairs, then permute. */
    cell *keys = malloc(nrows * sizeof(*keys));
    cell *out = malloc(r->ncells * sizeof(*out));
    if (keys == NULL || out == NULL) {
        free(keys);
        free(out);
        return CM_E_NOMEM;
    }
    for (uint32_t i = 0; i < nrows; i++) {
        keys[i] = r->cells[i * r->ncols];
        keys[i].i = i; /* row index rides in i */
    }
    qsort_r(keys, nrows, sizeof(*keys), cmp_rows, r);
    for (uint32_t i = 0; i < nrows; i++) {
        memcpy(&out[i * r->ncols], &r->cells[keys[i].i * r->ncols], r->ncols * sizeof(cell));
    }
    free(r->cells);
    r->cells = out;
    r->cap = r->ncells;
    free(keys);
    return 0;
}

/* MySQL LIKE with % and _ and backslash escapes, ASCII case-insensitive (SHOW's columns use a
 * case-insensitive collation). Iterative with one backtrack point, so no input can blow up. */
int sql_show_like(const char *p, size_t pn, const char *s, size_t sn)
{
    size_t pi = 0, si = 0, star_p = (size_t)-1, star_s = 0;
    while (si < sn) {
        if (pi < pn && p[pi] == '%') {
            star_p = ++pi;
            star_s = si;
            continue;
        }
        if (pi < pn) {
            char pc = p[pi];
            size_t adv = 1;
            int any = pc == '_';
            if (pc == '\\' && pi + 1 < pn) {
                pc = p[pi + 1];
                adv = 2;
                any = 0;
            }
            char a = pc >= 'A' && pc <= 'Z' ? (char)(pc + 32) : pc;
            char b = s[si] >= 'A' && s[si] <= 'Z' ? (char)(s[si] + 32) : s[si];
            if (any || a == b) {
                pi += adv;
                si++;
                continue;
            }
        }
        if (star_p != (size_t)-1) {
            pi = star_p;
            si = ++star_s;
            continue;
        }
        return 0;
    }
    while (pi < pn && p[pi] == '%') {
        pi++;
    }
    return pi == pn;
}

static int syntax_at(const char *src, const sql_token *t, uint32_t n, uint32_t i, cm_err *err)
{
    return cm_err_set(err, CM_E_PARSE,
                      "You have an error in your SQL syntax; check the manual that corresponds to "
                      "your MySQL server version for the right syntax to use near '%.*s' at line 1",
                      i < n ? (int)(t[i].len > 60 ? 60 : t[i].len) : 0,
                      i < n ? src + t[i].off : "");
}

static void cell_value(const rows *r, const cell *c, sql_value *v)
{
    if (c->is_null) {
        *v = sql_value_null();
    } else if (c->is_int) {
        *v = sql_value_int(c->i);
    } else {
        *v = sql_value_text(r->text.ptr ? (const char *)r->text.ptr + c->off : "", c->len);
    }
}

/* Sends the rows through the filter t[f, n) (LIKE 'x' or WHERE expr, or nothing). */
static int send_rows(sql_sess *s, rows *r, const sql_column *cols, const char *src,
                     const sql_token *t, uint32_t n, uint32_t f, sql_sink *sink, int more,
                     cm_err *err)
{
    if (r->oom) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    uint32_t nrows = r->ncols ? r->ncells / r->ncols : 0;
    int rc = sql_sess_scratch(s, r->ncols, err);
    if (rc != 0) {
        return rc;
    }
    if (f < n && sql_tok_is(src, &t[f], "WHERE")) {
        /* WITH t(cols…) AS (VALUES (?, …), …) SELECT * FROM t WHERE <translated> */
        sql_tr_ctx ctx = sql_sess_tr_ctx(s);
        rc = sql_translate_fragment(src, t + f + 1, n - f - 1, &ctx, &s->tr, err);
        if (rc != 0) {
            return rc;
        }
        cm_buf q = CM_BUF_INIT;
        cm_buf_printf(&q, "WITH t(");
        for (uint32_t c = 0; c < r->ncols; c++) {
            cm_buf_printf(&q, "%s\"%.*s\"", c ? "," : "", (int)cols[c].name_len, cols[c].name);
        }
        cm_buf_printf(&q, ") AS (");
        if (nrows == 0) {
            cm_buf_printf(&q, "SELECT ");
            for (uint32_t c = 0; c < r->ncols; c++) {
                cm_buf_printf(&q, "%sNULL", c ? "," : "");
            }
            cm_buf_printf(&q, " WHERE 0");
        } else {
            cm_buf_printf(&q, "VALUES ");
            for (uint32_t i = 0; i < nrows; i++) {
                cm_buf_printf(&q, "%s(", i ? "," : "");
                for (uint32_t c = 0; c < r->ncols; c++) {
                    cm_buf_printf(&q, "%s?", c ? "," : "");
                }
                cm_buf_printf(&q, ")");
            }
        }
        cm_buf_printf(&q, ") SELECT * FROM t WHERE %s", (const char *)s->tr.sql.ptr);
        if (cm_buf_terminate(&q) != 0) {
            cm_buf_fini(&q);
            return cm_err_set(err, CM_E_NOMEM, "out of memory");
        }
        sqlite3_stmt *st = NULL;
        s->fn_err.code = 0;
        int lrc = sqlite3_prepare_v2(s->db, (const char *)q.ptr, (int)q.len, &st, NULL);
        cm_buf_fini(&q);
        if (lrc != SQLITE_OK) {
            return sql_exec_sqlite_error(s, lrc, err);
        }
        for (uint32_t i = 0; i < r->ncells; i++) {
            const cell *c = &r->cells[i];
            if (c->is_int) {
                sqlite3_bind_int64(st, (int)i + 1, c->i);
            } else if (!c->is_null) {
                sqlite3_bind_text(st, (int)i + 1, (const char *)r->text.ptr + c->off, (int)c->len,
                                  SQLITE_STATIC);
            }
        }
        rc = sink->columns(sink, cols, (int)r->ncols);
        while (rc == 0 && (lrc = sqlite3_step(st)) == SQLITE_ROW) {
            for (uint32_t c = 0; c < r->ncols; c++) {
                sql_value *v = &s->vals[c];
                memset(v, 0, sizeof(*v));
                if (sqlite3_column_type(st, (int)c) == SQLITE_INTEGER) {
                    *v = sql_value_int(sqlite3_column_int64(st, (int)c));
                } else if (sqlite3_column_type(st, (int)c) == SQLITE_NULL) {
                    *v = sql_value_null();
                } else {
                    const char *p = (const char *)sqlite3_column_text(st, (int)c);
                    *v = sql_value_text(p ? p : "", (size_t)sqlite3_column_bytes(st, (int)c));
                }
            }
            rc = sink->row(sink, s->vals, (int)r->ncols);
        }
        if (rc == 0 && lrc != SQLITE_DONE) {
            rc = sql_exec_sqlite_error(s, lrc, err);
        }
        sqlite3_finalize(st);
        return rc ? rc : sql_sess_done(s, sink, 0, 0, more, NULL);
    }
    cm_buf pat = CM_BUF_INIT;
    int have_like = 0;
    if (f < n) {
        if (!sql_tok_is(src, &t[f], "LIKE") || f + 2 != n || t[f + 1].type != SQL_TK_STRING) {
            return syntax_at(src, t, n, f, err);
        }
        if (sql_tok_string(src, &t[f + 1], SQL_MODE_NO_BACKSLASH_ESCAPES, &pat) != 0) {
            return cm_err_set(err, CM_E_NOMEM, "out of memory");
        }
        have_like = 1;
    }
    rc = sink->columns(sink, cols, (int)r->ncols);
    for (uint32_t i = 0; rc == 0 && i < nrows; i++) {
        const cell *row = &r->cells[i * r->ncols];
        if (have_like && !sql_show_like(pat.ptr ? (const char *)pat.ptr : "", pat.len,
                                        (const char *)r->text.ptr + row[0].off, row[0].len)) {
            continue;
        }
        for (uint32_t c = 0; c < r->ncols; c++) {
            cell_value(r, &row[c], &s->vals[c]);
        }
        rc = sink->row(sink, s->vals, (int)r->ncols);
    }
    cm_buf_fini(&pat);
    return rc ? rc : sql_sess_done(s, sink, 0, 0, more, NULL);
}

/* ---- the individual SHOWs ---- */

static int show_variables(sql_sess *s, int global, rows *r)
{
    cm_buf v = CM_BUF_INIT;
    for (int id = 0; id < SQL_SV_COUNT; id++) {
        const sql_sysvar_def *d = sql_sysvar_def_of(id);
        if (global && !(d->flags & SQL_SV_GLOBAL)) {
            continue;
        }
        cm_buf_reset(&v);
        if (sql_sess_sysvar_text(s, id, global, &v) != 0) {
            r->oom = 1;
            break;
        }
        add_str(r, d->name);
        add_text(r, v.ptr ? (const char *)v.ptr : "", v.len);
    }
    cm_buf_fini(&v);
    return sort_rows(r);
}

static int status_emit(void *ctx, const char *name, const char *value)
{
    rows *r = ctx;
    add_str(r, name);
    add_str(r, value);
    return r->oom ? CM_E_NOMEM : 0;
}

static int show_status(sql_sess *s, int global, rows *r)
{
    if (s->env->status != NULL) {
        s->env->status(s->env->user, s, global, status_emit, r);
    } else {
        char buf[32];
        snprintf(buf, sizeof(buf), "%llu", (unsigned long long)s->questions);
        status_emit(r, "Questions", buf);
    }
    return sort_rows(r);
}

static void diag_rows(sql_sess *s, int errors_only, int64_t off, int64_t lim, rows *r)
{
    static const char *const levels[] = {"Note", "Warning", "Error"};
    int64_t k = 0;
    for (uint32_t i = 0; i < s->ndiag; i++) {
        const sql_diag *d = &s->diag[i];
        if (errors_only && d->level != SQL_DIAG_ERROR) {
            continue;
        }
        if (k++ < off || (lim >= 0 && k > off + lim)) {
            continue;
        }
        add_str(r, levels[d->level]);
        add_int(r, d->code);
        add_str(r, d->msg);
    }
}

static void collation_rows(rows *r)
{
    for (size_t i = 0; i < sql_collation_count(); i++) {
        const sql_collation *c = sql_collation_at(i);
        add_str(r, c->name);
        add_str(r, c->charset);
        add_int(r, c->id);
        add_str(r, c->is_default ? "Yes" : "");
        add_str(r, "Yes");
        add_int(r, 1);
        add_str(r, strstr(c->name, "0900") ? "NO PAD" : "PAD SPACE");
    }
}

static void charset_rows(rows *r)
{
    for (size_t i = 0; i < sql_collation_count(); i++) {
        const sql_collation *c = sql_collation_at(i);
        if (!c->is_default) {
            continue;
        }
        add_str(r, c->charset);
        add_str(r, sql_charset_description(c->charset));
        add_str(r, c->name);
        add_int(r, c->maxlen);
    }
}

enum {
    SHOW_NONE,
    SHOW_VARS,
    SHOW_STATUS,
    SHOW_WARNINGS,
    SHOW_ERRORS,
    SHOW_COUNT,
    SHOW_PROCLIST,
    SHOW_COLLATION,
    SHOW_CHARSET,
    SHOW_ENGINES
};

/* Recognizes the SHOW form; *f is the index after its name (where LIKE/WHERE/LIMIT starts). */
static int show_kind(const char *src, const sql_token *t, uint32_t n, int *global, int *full,
                     uint32_t *f)
{
    uint32_t i = 1;
    *global = 0;
    *full = 0;
    if (i < n && (sql_tok_is(src, &t[i], "GLOBAL") || sql_tok_is(src, &t[i], "SESSION") ||
                  sql_tok_is(src, &t[i], "LOCAL"))) {
        *global = sql_tok_is(src, &t[i], "GLOBAL");
        i++;
    }
    if (i < n && sql_tok_is(src, &t[i], "FULL")) {
        *full = 1;
        i++;
    }
    if (i >= n) {
        return SHOW_NONE;
    }
    *f = i + 1;
    if (sql_tok_is(src, &t[i], "VARIABLES")) {
        return SHOW_VARS;
    }
    if (sql_tok_is(src, &t[i], "STATUS")) {
        return SHOW_STATUS;
    }
    if (sql_tok_is(src, &t[i], "WARNINGS")) {
        return SHOW_WARNINGS;
    }
    if (sql_tok_is(src, &t[i], "ERRORS")) {
        return SHOW_ERRORS;
    }
    if (sql_tok_is(src, &t[i], "PROCESSLIST")) {
        return SHOW_PROCLIST;
    }
    if (sql_tok_is(src, &t[i], "COLLATION")) {
        return SHOW_COLLATION;
    }
    if (sql_tok_is(src, &t[i], "ENGINES")) {
        return SHOW_ENGINES;
    }
    if (sql_tok_is(src, &t[i], "STORAGE") && i + 1 < n && sql_tok_is(src, &t[i + 1], "ENGINES")) {
        *f = i + 2;
        return SHOW_ENGINES;
    }
    if (sql_tok_is(src, &t[i], "CHARSET")) {
        return SHOW_CHARSET;
    }
    if (sql_tok_is(src, &t[i], "CHARACTER") && i + 1 < n && sql_tok_is(src, &t[i + 1], "SET")) {
        *f = i + 2;
        return SHOW_CHARSET;
    }
    if (sql_tok_is(src, &t[i], "COUNT") && i + 4 < n && t[i + 1].type == SQL_TK_LPAREN &&
        t[i + 3].type == SQL_TK_RPAREN &&
        (sql_tok_is(src, &t[i + 4], "WARNINGS") || sql_tok_is(src, &t[i + 4], "ERRORS"))) {
        *f = i + 5;
        return SHOW_COUNT;
    }
    return SHOW_NONE;
}

static uint32_t columns_of(sql_sess *s, int kind, const char *src, const sql_token *t, uint32_t f,
                           sql_column *c, uint32_t cap)
{
    if (cap < 8) {
        return 0;
    }
    switch (kind) {
    case SHOW_VARS:
    case SHOW_STATUS:
        c[0] = sql_col_text(s, "Variable_name");
        c[1] = sql_col_text(s, "Value");
        return 2;
    case SHOW_WARNINGS:
    case SHOW_ERRORS:
        c[0] = sql_col_text(s, "Level");
        c[1] = sql_col_int("Code", 1);
        c[2] = sql_col_text(s, "Message");
        return 3;
    case SHOW_COUNT:
        c[0] = sql_col_int(sql_tok_is(src, &t[f - 1], "WARNINGS") ? "@@session.warning_count"
                                                                  : "@@session.error_count",
                           0);
        return 1;
    case SHOW_COLLATION:
        c[0] = sql_col_text(s, "Collation");
        c[1] = sql_col_text(s, "Charset");
        c[2] = sql_col_int("Id", 1);
        c[3] = sql_col_text(s, "Default");
        c[4] = sql_col_text(s, "Compiled");
        c[5] = sql_col_int("Sortlen", 1);
        c[6] = sql_col_text(s, "Pad_attribute");
        return 7;
    case SHOW_CHARSET:
        c[0] = sql_col_text(s, "Charset");
        c[1] = sql_col_text(s, "Description");
        c[2] = sql_col_text(s, "Default collation");
        c[3] = sql_col_int("Maxlen", 1);
        return 4;
    case SHOW_ENGINES:
        c[0] = sql_col_text(s, "Engine");
        c[1] = sql_col_text(s, "Support");
        c[2] = sql_col_text(s, "Comment");
        c[3] = sql_col_text(s, "Transactions");
        c[4] = sql_col_text(s, "XA");
        c[5] = sql_col_text(s, "Savepoints");
        return 6;
    case SHOW_PROCLIST:
        c[0] = sql_col_int("Id", 1);
        c[1] = sql_col_text(s, "User");
        c[2] = sql_col_text(s, "Host");
        c[3] = sql_col_text(s, "db");
        c[4] = sql_col_text(s, "Command");
        c[5] = sql_col_int("Time", 0);
        c[6] = sql_col_text(s, "State");
        c[7] = sql_col_text(s, "Info");
        return 8;
    default:
        return 0;
    }
}

uint32_t sql_show_columns(sql_sess *s, const char *src, const sql_token *t, uint32_t n,
                          sql_column *cols, uint32_t cap)
{
    int global, full;
    uint32_t f = 0;
    int kind = show_kind(src, t, n, &global, &full, &f);
    return columns_of(s, kind, src, t, f, cols, cap);
}

/* LIMIT [off,] n of SHOW WARNINGS/ERRORS. */
static int parse_limit(const char *src, const sql_token *t, uint32_t n, uint32_t f, int64_t *off,
                       int64_t *lim, cm_err *err)
{
    *off = 0;
    *lim = -1;
    if (f == n) {
        return 0;
    }
    if (!sql_tok_is(src, &t[f], "LIMIT") || f + 1 >= n || t[f + 1].type != SQL_TK_INT) {
        return syntax_at(src, t, n, f, err);
    }
    *lim = strtoll(src + t[f + 1].off, NULL, 10);
    if (f + 2 == n) {
        return 0;
    }
    if (f + 4 == n && t[f + 2].type == SQL_TK_COMMA && t[f + 3].type == SQL_TK_INT) {
        *off = *lim;
        *lim = strtoll(src + t[f + 3].off, NULL, 10);
        return 0;
    }
    return syntax_at(src, t, n, f + 2, err);
}

static int show_unsupported(sql_sess *s, const char *src, const sql_token *t, uint32_t n,
                            cm_err *err)
{
    static const char *const table_forms[] = {"COLUMNS", "FIELDS", "INDEX",
                                              "INDEXES", "KEYS",   NULL};
    uint32_t i = 1;
    if (i < n && sql_tok_is(src, &t[i], "FULL")) {
        i++;
    }
    if (i < n && sql_tok_is(src, &t[i], "TABLES") && !s->has_db) {
        return cm_err_set(err, CM_E_NO_DB, "No database selected");
    }
    for (const char *const *k = table_forms; *k && i < n; k++) {
        if (sql_tok_is(src, &t[i], *k) && i + 2 < n) {
            cm_buf name = CM_BUF_INIT;
            sql_tok_name(src, &t[i + 2], &name);
            int rc = cm_err_set(err, CM_E_NO_SUCH_TABLE,
                                "Table '%s.%.*s' doesn't exist (tables arrive with the SQL layer)",
                                s->has_db ? s->dbname : "", (int)(name.len > 64 ? 64 : name.len),
                                name.ptr ? (const char *)name.ptr : "");
            cm_buf_fini(&name);
            return rc;
        }
    }
    if (i + 2 < n && sql_tok_is(src, &t[i], "CREATE") && sql_tok_is(src, &t[i + 1], "TABLE")) {
        cm_buf name = CM_BUF_INIT;
        sql_tok_name(src, &t[i + 2], &name);
        int rc = cm_err_set(err, CM_E_NO_SUCH_TABLE,
                            "Table '%s.%.*s' doesn't exist (tables arrive with the SQL layer)",
                            s->has_db ? s->dbname : "", (int)(name.len > 64 ? 64 : name.len),
                            name.ptr ? (const char *)name.ptr : "");
        cm_buf_fini(&name);
        return rc;
    }
    size_t len = t[n - 1].off + t[n - 1].len - t[0].off;
    return cm_err_set(
        err, CM_E_UNSUPPORTED,
        "This version of Tessera doesn't yet support '%.*s' (the catalog arrives with "
        "the SQL layer)",
        (int)(len > 60 ? 60 : len), src + t[0].off);
}

int sql_show_run(sql_sess *s, const char *src, const sql_token *t, uint32_t n, sql_sink *sink,
                 int more, cm_err *err)
{
    int global, full;
    uint32_t f = 0;
    int kind = show_kind(src, t, n, &global, &full, &f);
    if (kind == SHOW_NONE) {
        return show_unsupported(s, src, t, n, err);
    }
    sql_column cols[8];
    uint32_t ncols = columns_of(s, kind, src, t, f, cols, 8);
    rows r;
    rows_init(&r, ncols);
    int rc = 0;
    switch (kind) {
    case SHOW_VARS:
        rc = show_variables(s, global, &r);
        break;
    case SHOW_STATUS:
        rc = show_status(s, global, &r);
        break;
    case SHOW_WARNINGS:
    case SHOW_ERRORS: {
        int64_t off, lim;
        rc = parse_limit(src, t, n, f, &off, &lim, err);
        if (rc == 0) {
            diag_rows(s, kind == SHOW_ERRORS, off, lim, &r);
            f = n;
        }
        break;
    }
    case SHOW_COUNT:
        if (f != n) {
            rc = syntax_at(src, t, n, f, err);
            break;
        }
        add_int(&r, sql_tok_is(src, &t[f - 1], "WARNINGS") ? (int64_t)s->nwarn_total + s->nerr_total
                                                           : (int64_t)s->nerr_total);
        break;
    case SHOW_COLLATION:
        collation_rows(&r);
        break;
    case SHOW_CHARSET:
        charset_rows(&r);
        break;
    case SHOW_ENGINES:
        /* One engine: every table is stored in the KV store, reported as InnoDB (the engine
         * MySQL clients expect of transactional tables). No LIKE/WHERE, as in MySQL. */
        if (f != n) {
            rc = syntax_at(src, t, n, f, err);
            break;
        }
        add_str(&r, "InnoDB");
        add_str(&r, "DEFAULT");
        add_str(&r, "Supports transactions, row-level locking, and foreign keys");
        add_str(&r, "YES");
        add_str(&r, "YES");
        add_str(&r, "YES");
        break;
    case SHOW_PROCLIST:
        rows_fini(&r);
        if (f != n) {
            return syntax_at(src, t, n, f, err);
        }
        if (s->env->processlist != NULL) {
            rc = s->env->processlist(s->env->user, s, full, sink, err);
        } else {
            rc = sink->columns(sink, cols, (int)ncols);
        }
        return rc ? rc : sql_sess_done(s, sink, 0, 0, more, NULL);
    default:
        break;
    }
    if (rc == 0) {
        rc = send_rows(s, &r, cols, src, t, n, f, sink, more, err);
    } else if (rc == CM_E_NOMEM) {
        rc = cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    rows_fini(&r);
    return rc;
}

int sql_sess_field_list(sql_sess *s, const char *table, size_t len, const char *wild,
                        size_t wild_len, sql_field_cb field_cb, void *ctx, cm_err *err)
{
    sql_diag_clear(s);
    sql_sess_stmt_begin(s); /* the current schema snapshot */
    if (!s->has_db) {
        return cm_err_set(err, CM_E_NO_DB, "No database selected");
    }
    char name[SQL_DB_MAX];
    size_t n = len < sizeof(name) - 1 ? len : sizeof(name) - 1;
    memcpy(name, table, n);
    name[n] = '\0';
    const sql_cat_table *t = s->schema != NULL && memchr(table, 0, len) == NULL
                                 ? sql_schema_table(s->schema, s->dbname, name)
                                 : NULL;
    if (t == NULL) {
        return cm_err_set(
            err, CM_E_NO_SUCH_TABLE, "Table '%s.%.64s' doesn't exist%s", s->dbname, name,
            s->env->cat == NULL ? " (no cluster: this sqlnode runs without --pd)" : "");
    }
    for (uint32_t i = 0; i < t->ncols; i++) {
        const sql_cat_col *c = &t->cols[i];
        if (c->state != SQL_OBJ_PUBLIC ||
            (wild_len > 0 && !sql_show_like(wild, wild_len, c->name, strlen(c->name)))) {
            continue;
        }
        sql_column col = sql_decl_col_meta(t, c, c->name, strlen(c->name));
        const char *dflt = c->has_default && !c->default_null ? c->default_text : NULL;
        if (c->default_now) {
            dflt = "CURRENT_TIMESTAMP";
        }
        int rc = field_cb(ctx, &col, t->name, dflt);
        if (rc != 0) {
            return cm_err_set(err, rc, "sending a field list failed");
        }
    }
    return 0;
}
