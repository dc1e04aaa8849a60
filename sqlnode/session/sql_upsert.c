/* sql_upsert.c — INSERT … ON DUPLICATE KEY UPDATE and INSERT/REPLACE … SET.
 *
 * SQLite's own UPSERT (ON CONFLICT DO UPDATE) does not run on virtual tables, so the statement
 * is run by the session, inside one statement checkpoint of its transaction:
 *   1. the rows to insert are computed first (the VALUES rows, or the SELECT, which may read
 *      the target table: MySQL too reads it whole before writing) and kept in memory;
 *   2. each row is inserted with `INSERT INTO t (cols) VALUES (?, …)` while the vtab is in
 *      upsert mode (sql_vtab.h `upsert`): a row that conflicts with an existing row on the
 *      primary key or a unique index is not written, and the vtab names the conflicting row
 *      (the first key in MySQL's order: primary key, then the unique indexes);
 *   3. for such a row, `UPDATE t SET <assignments> WHERE rowid = ?` runs on that row, with
 *      VALUES(col) and the row alias's columns (`AS new`, `new.col`) bound to the row's values.
 * Rows are handled in statement order, so a later row sees what an earlier one wrote (two rows
 * with the same key: the second updates the first). Affected rows are MySQL's: 1 per inserted
 * row, 2 per updated row, 0 for an update that changes nothing (1 with CLIENT_FOUND_ROWS).
 * docs/sql-layer.md "DML forms beyond SQLite". */
#include "sql_dml_ext.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static int nomem(cm_err *err)
{
    return cm_err_set(err, CM_E_NOMEM, "out of memory");
}

static int kw(const char *src, const sql_token *t, uint32_t n, uint32_t i, const char *k)
{
    return i < n && t[i].type == SQL_TK_IDENT && sql_tok_is(src, &t[i], k);
}

static int is_eq(const char *src, const sql_token *t)
{
    return t->type == SQL_TK_OP && t->len == 1 && src[t->off] == '=';
}

/* The top-level `ON DUPLICATE KEY UPDATE` in t[b, n): index of ON, or n. */
static uint32_t find_odku(const char *src, const sql_token *t, uint32_t b, uint32_t n)
{
    int depth = 0;
    for (uint32_t j = b; j < n; j++) {
        depth += t[j].type == SQL_TK_LPAREN;
        depth -= t[j].type == SQL_TK_RPAREN;
        if (depth == 0 && kw(src, t, n, j, "ON") && kw(src, t, n, j + 1, "DUPLICATE")) {
            return j;
        }
    }
    return n;
}

/* ---- INSERT … SET ------------------------------------------------------------------------------
 */

/* Writes `<head> t (a, b) VALUES (x, y) <tail>` for `<head> t SET a = x, b = y <tail>` (t[i] is
 * the table name) into out. */
static int rewrite_set(const char *src, const sql_token *t, uint32_t n, uint32_t i, cm_buf *out,
                       cm_err *err)
{
    uint32_t te = i + 1;
    if (te + 1 < n && t[te].type == SQL_TK_DOT && sql_dml_ext_is_name(&t[te + 1])) {
        te += 2;
    }
    if (!kw(src, t, n, te, "SET")) {
        return sql_dml_ext_syntax(src, t, n, te, err);
    }
    uint32_t end = find_odku(src, t, te, n);
    cm_buf cols = CM_BUF_INIT, vals = CM_BUF_INIT;
    int rc = 0;
    uint32_t j = te + 1;
    while (rc == 0 && j < end) {
        uint32_t lb = j;
        while (j < end && (sql_dml_ext_is_name(&t[j]) || t[j].type == SQL_TK_DOT)) {
            j++;
        }
        if (j == lb || j >= end || !is_eq(src, &t[j]) || t[j - 1].type == SQL_TK_DOT) {
            rc = sql_dml_ext_syntax(src, t, n, j < end ? j : lb, err);
            break;
        }
        uint32_t rb = j + 1, re = rb;
        int depth = 0;
        while (re < end && !(depth == 0 && t[re].type == SQL_TK_COMMA)) {
            depth += t[re].type == SQL_TK_LPAREN;
            depth -= t[re].type == SQL_TK_RPAREN;
            re++;
        }
        if (re == rb || (re < end && re + 1 == end)) { /* `a =` or a trailing comma */
            rc = sql_dml_ext_syntax(src, t, n, re < end ? re + 1 : re, err);
            break;
        }
        if ((cols.len > 0 && cm_buf_append(&cols, ", ", 2) != 0) ||
            (vals.len > 0 && cm_buf_append(&vals, ", ", 2) != 0) ||
            sql_dml_ext_append_src(&cols, src, t, j - 1, j) != 0 ||
            sql_dml_ext_append_src(&vals, src, t, rb, re) != 0) {
            rc = nomem(err);
        }
        j = re < end ? re + 1 : end;
    }
    if (rc == 0 && cols.len == 0) {
        rc = sql_dml_ext_syntax(src, t, n, te + 1, err);
    }
    if (rc == 0) {
        if (sql_dml_ext_append_src(out, src, t, 0, te) != 0 || cm_buf_append_u8(out, '(') != 0 ||
            cm_buf_append(out, cols.ptr, cols.len) != 0 ||
            cm_buf_append(out, ") VALUES (", 10) != 0 ||
            cm_buf_append(out, vals.ptr, vals.len) != 0 || cm_buf_append(out, ") ", 2) != 0 ||
            sql_dml_ext_append_src(out, src, t, end, n) != 0) {
            rc = nomem(err);
        }
    }
    cm_buf_fini(&cols);
    cm_buf_fini(&vals);
    return rc;
}

int sql_upsert_translate_set(sql_sess *s, const char *src, const sql_token *t, uint32_t n,
                             uint32_t i, sql_tr_out *out, cm_err *err)
{
    cm_buf txt = CM_BUF_INIT;
    sql_tokens toks;
    sql_tokens_init(&toks);
    int rc = rewrite_set(src, t, n, i, &txt, err);
    rc = rc ? rc : sql_lex((const char *)txt.ptr, txt.len, s->mode, &toks, err);
    rc = rc ? rc : sql_dml_translate(s, (const char *)txt.ptr, toks.v, toks.n, out, err);
    sql_tokens_fini(&toks);
    cm_buf_fini(&txt);
    return rc;
}

/* ---- ON DUPLICATE KEY UPDATE ------------------------------------------------------------------
 */

/* A parameter of the UPDATE: the position of the value in the inserted row, or (col < 0) the
 * default of table column -col-1 (VALUES() of a column the INSERT does not name). */
typedef struct uparam {
    int32_t pos;
} uparam;

typedef struct upsert {
    const char *src;
    const sql_token *t;
    uint32_t n;
    int ignore;
    const sql_cat_table *tab;
    uint32_t *cols; /* table column offsets the INSERT names, in its order */
    uint32_t ncols;
    cm_buf source; /* MySQL text of the rows (VALUES … or the SELECT) */
    int source_is_query;
    cm_buf ins;      /* SQLite: INSERT INTO t (…) VALUES (?, …) */
    size_t ins_head; /* length of ins up to its VALUES list */
    cm_buf upd;      /* SQLite: UPDATE t SET … WHERE rowid = ? */
    cm_buf target;   /* sql_tr_out.target of the INSERT (named columns) */
    uparam *params;
    uint32_t nparams, cap_params;
    uint64_t *dflt; /* DEFAULT given as a value: row << 32 | column position, in order */
    uint32_t ndflt, cap_dflt;
} upsert;

static int name_is(const char *src, const sql_token *a, const char *s)
{
    cm_buf x = CM_BUF_INIT;
    int eq = sql_tok_name(src, a, &x) == 0 && x.len == strlen(s) &&
             (x.len == 0 || strncasecmp((const char *)x.ptr, s, x.len) == 0);
    cm_buf_fini(&x);
    return eq;
}

static int name_eq(const char *src, const sql_token *a, const sql_token *b)
{
    cm_buf x = CM_BUF_INIT, y = CM_BUF_INIT;
    int eq = sql_tok_name(src, a, &x) == 0 && sql_tok_name(src, b, &y) == 0 && x.len == y.len &&
             (x.len == 0 || strncasecmp((const char *)x.ptr, (const char *)y.ptr, x.len) == 0);
    cm_buf_fini(&x);
    cm_buf_fini(&y);
    return eq;
}

static int table_col(const sql_cat_table *tab, const char *src, const sql_token *c)
{
    for (uint32_t i = 0; i < tab->ncols; i++) {
        if (tab->cols[i].state == SQL_OBJ_PUBLIC && name_is(src, c, tab->cols[i].name)) {
            return (int)i;
        }
    }
    return -1;
}

static int unknown_col(const char *src, const sql_token *c, cm_err *err)
{
    cm_buf v = CM_BUF_INIT;
    sql_tok_name(src, c, &v);
    int rc = cm_err_set(err, CM_E_BAD_FIELD, "Unknown column '%.*s' in 'field list'",
                        (int)(v.len > 64 ? 64 : v.len), v.ptr ? (const char *)v.ptr : "");
    cm_buf_fini(&v);
    return rc;
}

static int add_param(upsert *u, int32_t pos, cm_err *err)
{
    if (u->nparams == u->cap_params) {
        uint32_t nc = u->cap_params ? u->cap_params * 2 : 16;
        uparam *np = realloc(u->params, nc * sizeof(*np));
        if (np == NULL) {
            return nomem(err);
        }
        u->params = np;
        u->cap_params = nc;
    }
    u->params[u->nparams++].pos = pos;
    return 0;
}

/* The parameter for table column c (by offset): its position among the inserted values, or its
 * default. */
static int32_t param_of_col(const upsert *u, uint32_t c)
{
    for (uint32_t k = 0; k < u->ncols; k++) {
        if (u->cols[k] == c) {
            return (int32_t)k;
        }
    }
    return -(int32_t)c - 1;
}

typedef struct alias {
    uint32_t name;   /* token of the row alias, or UINT32_MAX */
    uint32_t cb, ce; /* its column names t[cb, ce) (names and commas), empty when none */
} alias;

#define NO_COL INT32_MIN

/* The parameter (uparam.pos) an alias column name t[c] stands for, or NO_COL. */
static int32_t alias_col(const upsert *u, const alias *al, const sql_token *c)
{
    const char *src = u->src;
    if (al->cb < al->ce) {
        int32_t k = 0;
        for (uint32_t j = al->cb; j < al->ce; j++) {
            if (u->t[j].type == SQL_TK_COMMA) {
                continue;
            }
            if (name_eq(src, &u->t[j], c)) {
                return k < (int32_t)u->ncols ? k : NO_COL;
            }
            k++;
        }
        return NO_COL;
    }
    int tc = table_col(u->tab, src, c);
    return tc < 0 ? NO_COL : param_of_col(u, (uint32_t)tc);
}

/* Translates the value tk[0, e) of one assignment into out: VALUES(col), alias.col and the
 * alias's column names become parameters (recorded in u->params). */
static int translate_value(sql_sess *s, upsert *u, const alias *al, const sql_token *tk, uint32_t e,
                           cm_buf *out, cm_err *err)
{
    const char *src = u->src;
    const sql_token *t = u->t;
    sql_token *tw = malloc((size_t)(e ? e : 1) * sizeof(*tw));
    if (tw == NULL) {
        return nomem(err);
    }
    uint32_t m = 0;
    int rc = 0;
    for (uint32_t j = 0; rc == 0 && j < e;) {
        /* VALUES ( [db .] [t .] col ) */
        if (kw(src, tk, e, j, "VALUES") && j + 1 < e && tk[j + 1].type == SQL_TK_LPAREN) {
            uint32_t k = j + 2;
            while (k < e && (sql_dml_ext_is_name(&tk[k]) || tk[k].type == SQL_TK_DOT)) {
                k++;
            }
            if (k >= e || tk[k].type != SQL_TK_RPAREN || k == j + 2 ||
                !sql_dml_ext_is_name(&tk[k - 1])) {
                rc = sql_dml_ext_syntax(
                    src, t, u->n, (uint32_t)(&tk[j] - t) < u->n ? (uint32_t)(&tk[j] - t) : u->n,
                    err);
                break;
            }
            int tc = table_col(u->tab, src, &tk[k - 1]);
            if (tc < 0) {
                rc = unknown_col(src, &tk[k - 1], err);
                break;
            }
            rc = add_param(u, param_of_col(u, (uint32_t)tc), err);
            tw[m] = tk[j];
            tw[m].type = SQL_TK_PARAM;
            m++;
            j = k + 1;
            continue;
        }
        int prev_dot = j > 0 && tk[j - 1].type == SQL_TK_DOT;
        /* alias . col */
        if (al->name != UINT32_MAX && !prev_dot && sql_dml_ext_is_name(&tk[j]) && j + 2 < e &&
            tk[j + 1].type == SQL_TK_DOT && sql_dml_ext_is_name(&tk[j + 2]) &&
            name_eq(src, &tk[j], &t[al->name]) && !(j + 3 < e && tk[j + 3].type == SQL_TK_DOT)) {
            int32_t pos = alias_col(u, al, &tk[j + 2]);
            if (pos == NO_COL) {
                rc = unknown_col(src, &tk[j + 2], err);
                break;
            }
            rc = add_param(u, pos, err);
            tw[m] = tk[j];
            tw[m].type = SQL_TK_PARAM;
            m++;
            j += 3;
            continue;
        }
        /* a column name of the alias's list, unqualified */
        if (al->cb < al->ce && !prev_dot && sql_dml_ext_is_name(&tk[j]) &&
            !(j + 1 < e && (tk[j + 1].type == SQL_TK_DOT || tk[j + 1].type == SQL_TK_LPAREN))) {
            int32_t pos = alias_col(u, al, &tk[j]);
            if (pos != NO_COL) {
                rc = add_param(u, pos, err);
                tw[m] = tk[j];
                tw[m].type = SQL_TK_PARAM;
                m++;
                j++;
                continue;
            }
        }
        tw[m++] = tk[j++];
    }
    if (rc == 0) {
        sql_tr_ctx ctx = sql_sess_tr_ctx(s);
        sql_tr_out tr;
        sql_tr_out_init(&tr);
        rc = sql_translate_fragment(src, tw, m, &ctx, &tr, err);
        if (rc == 0 && cm_buf_append(out, tr.sql.ptr, tr.sql.len) != 0) {
            rc = nomem(err);
        }
        sql_tr_out_fini(&tr);
    }
    free(tw);
    return rc;
}

/* Builds u->upd from the assignments t[b, n). */
static int build_update(sql_sess *s, upsert *u, const alias *al, uint32_t tb, uint32_t te,
                        uint32_t b, cm_err *err)
{
    const char *src = u->src;
    const sql_token *t = u->t;
    uint32_t n = u->n;
    cm_buf *q = &u->upd;
    int rc = cm_buf_printf(q, "UPDATE %s", u->ignore ? "OR IGNORE " : "") != 0 ? CM_E_NOMEM : 0;
    if (rc == 0) {
        sql_tr_ctx ctx = sql_sess_tr_ctx(s);
        sql_tr_out tr;
        sql_tr_out_init(&tr);
        rc = sql_translate_fragment(src, t + tb, te - tb, &ctx, &tr, err);
        if (rc == 0 &&
            (cm_buf_append(q, tr.sql.ptr, tr.sql.len) != 0 || cm_buf_append(q, " SET ", 5) != 0)) {
            rc = nomem(err);
        }
        sql_tr_out_fini(&tr);
    } else {
        rc = nomem(err);
    }
    /* the assignments, then their values as MySQL evaluates them: left to right */
    sql_dml_set_item *items = NULL;
    uint32_t nitems = 0, cap = 0;
    uint32_t j = b;
    while (rc == 0 && j < n) {
        uint32_t lb = j;
        while (j < n && (sql_dml_ext_is_name(&t[j]) || t[j].type == SQL_TK_DOT)) {
            j++;
        }
        uint32_t nl = j - lb;
        if (!(nl == 1 || nl == 3 || nl == 5) || j >= n || !is_eq(src, &t[j])) {
            rc = sql_dml_ext_syntax(src, t, n, j < n ? j : lb, err);
            break;
        }
        if (nl > 1 && !name_is(src, &t[j - 3], u->tab->name)) {
            /* t.col names another table */
            size_t from = t[lb].off, to = (size_t)t[j - 1].off + t[j - 1].len;
            rc = cm_err_set(err, CM_E_BAD_FIELD, "Unknown column '%.*s' in 'field list'",
                            (int)(to - from > 64 ? 64 : to - from), src + from);
            break;
        }
        if (table_col(u->tab, src, &t[j - 1]) < 0) {
            rc = unknown_col(src, &t[j - 1], err);
            break;
        }
        uint32_t rb = j + 1, re = rb;
        int depth = 0;
        while (re < n && !(depth == 0 && t[re].type == SQL_TK_COMMA)) {
            depth += t[re].type == SQL_TK_LPAREN;
            depth -= t[re].type == SQL_TK_RPAREN;
            re++;
        }
        if (re == rb || (re < n && re + 1 >= n)) { /* `c =` or a trailing comma */
            rc = sql_dml_ext_syntax(src, t, n, re < n ? re + 1 : re, err);
            break;
        }
        if (nitems == cap) {
            cap = cap ? cap * 2 : 8;
            sql_dml_set_item *ni = realloc(items, cap * sizeof(*ni));
            if (ni == NULL) {
                rc = nomem(err);
                break;
            }
            items = ni;
        }
        items[nitems].col = j - 1;
        items[nitems].rb = rb;
        items[nitems].re = re;
        nitems++;
        j = re < n ? re + 1 : n;
    }
    if (rc == 0 && nitems == 0) {
        rc = sql_dml_ext_syntax(src, t, n, b, err);
    }
    sql_dml_set_expanded x;
    memset(&x, 0, sizeof(x));
    if (rc == 0) {
        rc = sql_dml_ext_expand_set(src, t, items, nitems, &t[te - 1], NULL, &x, err);
    }
    for (uint32_t k = 0; rc == 0 && k < nitems; k++) {
        int tc = table_col(u->tab, src, &t[items[k].col]);
        if ((k > 0 && cm_buf_append(q, ", ", 2) != 0) || cm_buf_append_u8(q, '"') != 0) {
            rc = nomem(err);
            break;
        }
        for (const char *p = u->tab->cols[tc].name; rc == 0 && *p; p++) {
            if (cm_buf_append_u8(q, (uint8_t)*p) != 0 ||
                (*p == '"' && cm_buf_append_u8(q, '"') != 0)) {
                rc = nomem(err);
            }
        }
        if (rc == 0 && cm_buf_append(q, "\" = ", 4) != 0) {
            rc = nomem(err);
        }
        rc = rc ? rc : translate_value(s, u, al, x.t + x.off[k], x.off[k + 1] - x.off[k], q, err);
    }
    sql_dml_ext_expanded_free(&x);
    free(items);
    if (rc == 0 && cm_buf_printf(q, " WHERE rowid = ?") != 0) {
        rc = nomem(err);
    }
    return rc;
}

/* Binds VALUES(col) of an inserted value: raw converted to column c's type as the INSERT
 * attempt stored it (MySQL's VALUES() is the value the row would have had: DECIMAL(5,1) gives
 * 1.6 for 1.567, not 1.567). Conversion notes are not raised again: the INSERT attempt raised
 * them. */
static void bind_converted(sql_sess *s, sqlite3_stmt *st, int idx, const sql_cat_col *c,
                           sqlite3_value *raw)
{
    sql_value in = sql_value_null();
    switch (sqlite3_value_type(raw)) {
    case SQLITE_INTEGER:
        in = sql_value_int(sqlite3_value_int64(raw));
        break;
    case SQLITE_FLOAT:
        in.type = SQL_V_DOUBLE;
        in.d = sqlite3_value_double(raw);
        break;
    case SQLITE_TEXT:
        in =
            sql_value_text((const char *)sqlite3_value_text(raw), (size_t)sqlite3_value_bytes(raw));
        break;
    case SQLITE_BLOB:
        in.type = SQL_V_BLOB;
        in.s = sqlite3_value_blob(raw) ? (const char *)sqlite3_value_blob(raw) : "";
        in.n = (size_t)sqlite3_value_bytes(raw);
        break;
    default:
        sqlite3_bind_null(st, idx);
        return;
    }
    cm_buf scratch = CM_BUF_INIT, tmp = CM_BUF_INIT;
    cm_datum d;
    sql_value out;
    sql_type_note note;
    memset(&note, 0, sizeof(note));
    cm_err e;
    if (cm_buf_reserve(&scratch, SQL_TYPE_STORE_SCRATCH_MAX) != 0 ||
        sql_type_store(&c->type, c->name, &in, s->vt.strict, &d, &scratch, &note, &e) != 0 ||
        sql_type_load(&c->type, &d, &out, &tmp, &e) != 0) {
        sqlite3_bind_value(st, idx, raw); /* the INSERT attempt stored it, so this is rare */
    } else {
        switch (out.type) {
        case SQL_V_INT:
            sqlite3_bind_int64(st, idx, out.i);
            break;
        case SQL_V_UINT:
            if (out.u <= (uint64_t)INT64_MAX) {
                sqlite3_bind_int64(st, idx, (int64_t)out.u);
            } else {
                char buf[32];
                snprintf(buf, sizeof buf, "%llu", (unsigned long long)out.u);
                sqlite3_bind_text(st, idx, buf, -1, SQLITE_TRANSIENT);
            }
            break;
        case SQL_V_DOUBLE:
            sqlite3_bind_double(st, idx, out.d);
            break;
        case SQL_V_TEXT:
            sqlite3_bind_text(st, idx, out.s ? out.s : "", (int)out.n, SQLITE_TRANSIENT);
            break;
        case SQL_V_BLOB:
            sqlite3_bind_blob(st, idx, out.s ? out.s : "", (int)out.n, SQLITE_TRANSIENT);
            break;
        default:
            sqlite3_bind_null(st, idx);
            break;
        }
    }
    cm_buf_fini(&scratch);
    cm_buf_fini(&tmp);
}

/* Binds the default of table column c (VALUES() of a column the INSERT does not name). */
static void bind_default(sql_sess *s, sqlite3_stmt *st, int idx, const sql_cat_col *c)
{
    if (c->default_now) {
        /* as the vtab fills DEFAULT CURRENT_TIMESTAMP: the statement's time */
        int64_t us = s->stmt_start_us;
        time_t secs = (time_t)(us / 1000000);
        struct tm tm;
        gmtime_r(&secs, &tm);
        cm_datetime dt = {(uint16_t)(tm.tm_year + 1900),
                          (uint8_t)(tm.tm_mon + 1),
                          (uint8_t)tm.tm_mday,
                          (uint8_t)tm.tm_hour,
                          (uint8_t)tm.tm_min,
                          (uint8_t)tm.tm_sec,
                          0};
        sql_type_tz_from_utc(&dt); /* NOW() is the session time zone's */
        char buf[64];
        snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d.%06d", dt.year, dt.month, dt.day,
                 dt.hour, dt.minute, dt.second, (int)(us % 1000000));
        sqlite3_bind_text(st, idx, buf, -1, SQLITE_TRANSIENT);
    } else if (c->has_default && !c->default_null && c->default_text != NULL) {
        sqlite3_bind_text(st, idx, c->default_text, -1, SQLITE_TRANSIENT);
    } else {
        sqlite3_bind_null(st, idx);
    }
}

/* Whether row r gave DEFAULT for column position c (u->dflt is sorted: rows in order). */
static int is_dflt(const upsert *u, uint32_t r, uint32_t c)
{
    uint64_t key = (uint64_t)r << 32 | c;
    uint32_t lo = 0, hi = u->ndflt;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (u->dflt[mid] < key) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < u->ndflt && u->dflt[lo] == key;
}

/* Binds inserted value c of row r (its column's default for DEFAULT). */
static void bind_value(sql_sess *s, const upsert *u, sqlite3_stmt *st, int idx, uint32_t r,
                       uint32_t c, sqlite3_value *v)
{
    if (u->ndflt > 0 && is_dflt(u, r, c)) {
        bind_default(s, st, idx, &u->tab->cols[u->cols[c]]);
    } else {
        sqlite3_bind_value(st, idx, v);
    }
}

/* Rows of one multi-row attempt (try_chunk): SQLite allows 32,766 parameters a statement. */
#define UPSERT_CHUNK_ROWS   256u
#define UPSERT_CHUNK_PARAMS 32000u

/* Prepares `INSERT INTO t (…) VALUES (?, …), … ` for k rows. */
static int prepare_chunk(sql_sess *s, const upsert *u, uint32_t k, sqlite3_stmt **out, cm_err *err)
{
    cm_buf q = CM_BUF_INIT;
    int rc = cm_buf_append(&q, u->ins.ptr, u->ins_head) != 0 ? CM_E_NOMEM : 0;
    uint32_t p = 1;
    for (uint32_t r = 0; rc == 0 && r < k; r++) {
        rc = cm_buf_append(&q, r ? ", (" : "(", r ? 3 : 1) != 0 ? CM_E_NOMEM : 0;
        for (uint32_t c = 0; rc == 0 && c < u->ncols; c++) {
            rc = cm_buf_printf(&q, "%s?%u", c ? ", " : "", p++) != 0 ? CM_E_NOMEM : 0;
        }
        rc = rc ? rc : cm_buf_append_u8(&q, ')') != 0 ? CM_E_NOMEM : 0;
    }
    rc = rc ? nomem(err) : sql_dml_ext_prepare(s, (const char *)q.ptr, q.len, out, err);
    cm_buf_fini(&q);
    return rc;
}

/* The fast path of rows [r0, r0 + k): one plain multi-row INSERT (the vtab checks all its keys
 * with one batch get) under a nested checkpoint. When it succeeds no row of the chunk met a
 * duplicate — not an existing row, not each other — so ON DUPLICATE KEY UPDATE would have
 * inserted every one of them exactly so: 1. When it fails for any reason, everything it did
 * is undone (writes, affected rows, warnings) and the caller runs the chunk row by row, which
 * gives MySQL's answer whatever it is: 0. */
static int try_chunk(sql_sess *s, const upsert *u, sqlite3_stmt *st, const sql_dml_rows *rows,
                     uint32_t r0, uint32_t k, uint64_t *insert_id, int *have_id, cm_err *err)
{
    cm_txn *txn = NULL;
    int rc = s->vt.txn(s->vt.sess, &txn, err);
    if (rc != 0) {
        return rc;
    }
    int cp = cm_txn_checkpoint(txn);
    uint64_t affected = s->vt.affected;
    uint32_t ndiag = s->ndiag, nwarn = s->nwarn_total, nerr = s->nerr_total;
    for (uint32_t r = 0; r < k; r++) {
        sqlite3_value **row = rows->v + (size_t)(r0 + r) * rows->ncols;
        for (uint32_t c = 0; c < u->ncols; c++) {
            bind_value(s, u, st, (int)(r * u->ncols + c) + 1, r0 + r, c, row[c]);
        }
    }
    s->vt.insert_id_set = false;
    cm_err scratch;
    rc = sql_dml_ext_step(s, st, &scratch);
    if (rc == 0) {
        cm_txn_release(txn, cp);
        if (s->vt.insert_id_set && !*have_id) {
            *insert_id = s->vt.first_insert_id;
            *have_id = 1;
        }
        return 1;
    }
    if (rc == CM_E_QUERY_INTERRUPTED) {
        *err = scratch; /* KILL: no fallback */
        return rc;
    }
    cm_txn_rollback_to(txn, cp);
    s->vt.affected = affected;
    for (uint32_t i = ndiag; i < s->ndiag; i++) {
        free(s->diag[i].msg);
    }
    s->ndiag = ndiag;
    s->nwarn_total = nwarn;
    s->nerr_total = nerr;
    cm_err_clear(&s->vt.err);
    s->fn_err.code = 0;
    return 0;
}

static int upsert_body(sql_sess *s, void *vctx, uint64_t *insert_id, int *have_id, cm_err *err)
{
    upsert *u = vctx;
    sqlite3_stmt *src_st = NULL, *ins = NULL, *upd = NULL;
    sql_dml_rows rows = {0};
    uint64_t lid_before = s->last_insert_id;
    int rc = sql_dml_ext_prepare_text(s, (const char *)u->source.ptr, u->source.len,
                                      u->source_is_query, &src_st, err);
    rc = rc ? rc : sql_dml_rows_read(s, src_st, &rows, err);
    if (rc == 0 && rows.nrows > 0 && rows.ncols != u->ncols) {
        rc = cm_err_set(err, CM_E_WRONG_VALUE_COUNT,
                        "Column count doesn't match value count at row 1");
    }
    rc = rc ? rc : sql_dml_ext_prepare(s, (const char *)u->ins.ptr, u->ins.len, &ins, err);
    rc = rc ? rc : sql_dml_ext_prepare(s, (const char *)u->upd.ptr, u->upd.len, &upd, err);
    if (rc == 0) {
        s->ins_target = (const char *)u->target.ptr;
        s->ins_target_len = u->target.len;
        rc = sql_dml_bind_named(s, err);
        s->ins_target = NULL;
    }
    int hp = upd != NULL ? sqlite3_bind_parameter_count(upd) : 0;
    /* chunks of rows: one multi-row INSERT when none of them is a duplicate, else row by row
     * (INSERT IGNORE would skip duplicates instead of failing: always row by row) */
    sqlite3_stmt *full = NULL, *part = NULL;
    uint32_t chunk = u->ncols > 0 ? UPSERT_CHUNK_PARAMS / u->ncols : 1;
    chunk = chunk > UPSERT_CHUNK_ROWS ? UPSERT_CHUNK_ROWS : chunk > 0 ? chunk : 1;
    uint32_t slow_end = 0; /* rows before this one are done */
    for (uint32_t r = 0; rc == 0 && r < rows.nrows; r++) {
        if (r >= slow_end && !u->ignore) {
            uint32_t k = rows.nrows - r < chunk ? rows.nrows - r : chunk;
            sqlite3_stmt **st = k == chunk ? &full : &part;
            if (k > 1 && *st == NULL) {
                rc = prepare_chunk(s, u, k, st, err);
            }
            int fast =
                rc == 0 && k > 1 ? try_chunk(s, u, *st, &rows, r, k, insert_id, have_id, err) : 0;
            if (fast < 0 || rc != 0) {
                rc = rc ? rc : fast;
                break;
            }
            if (fast == 1) {
                r += k - 1;
                continue;
            }
            slow_end = r + k; /* this chunk row by row */
        }
        sqlite3_value **row = rows.v + (size_t)r * rows.ncols;
        for (uint32_t c = 0; c < u->ncols; c++) {
            bind_value(s, u, ins, (int)c + 1, r, c, row[c]);
        }
        s->vt.upsert = true;
        s->vt.upsert_hit = false;
        s->vt.insert_id_set = false;
        rc = sql_dml_ext_step(s, ins, err);
        s->vt.upsert = false;
        if (rc != 0) {
            break;
        }
        if (!s->vt.upsert_hit) {
            if (s->vt.insert_id_set && !*have_id) {
                *insert_id = s->vt.first_insert_id;
                *have_id = 1;
            }
            continue;
        }
        for (uint32_t p = 0; p < u->nparams; p++) {
            int32_t pos = u->params[p].pos;
            if (pos >= 0 && u->ndflt > 0 && is_dflt(u, r, (uint32_t)pos)) {
                bind_default(s, upd, (int)p + 1, &u->tab->cols[u->cols[pos]]);
            } else if (pos >= 0) {
                bind_converted(s, upd, (int)p + 1, &u->tab->cols[u->cols[pos]], row[pos]);
            } else {
                bind_default(s, upd, (int)p + 1, &u->tab->cols[-pos - 1]);
            }
        }
        sqlite3_bind_int64(upd, hp, s->vt.upsert_handle);
        bool found = s->vt.found_rows;
        uint64_t before = s->vt.affected;
        s->vt.found_rows = false; /* 1: the row changed; 0: it already had these values */
        rc = sql_dml_ext_step(s, upd, err);
        s->vt.found_rows = found;
        if (rc == 0) {
            uint64_t changed = s->vt.affected - before;
            s->vt.affected = before + (changed > 0 ? 2 : found ? 1 : 0);
        }
    }
    if (rc == 0 && !*have_id && s->last_insert_id != lid_before) {
        *insert_id = s->last_insert_id; /* LAST_INSERT_ID(expr) in the assignments */
        *have_id = 1;
    }
    sql_dml_unbind_named(s);
    sqlite3_finalize(full);
    sqlite3_finalize(part);
    sqlite3_finalize(src_st);
    sqlite3_finalize(ins);
    sqlite3_finalize(upd);
    sql_dml_rows_free(&rows);
    return rc;
}

static int append_name_nul(cm_buf *b, const char *p)
{
    return cm_buf_append(b, p, strlen(p)) != 0 || cm_buf_append_u8(b, 0) != 0 ? CM_E_NOMEM : 0;
}

static int parse_and_run(sql_sess *s, upsert *u, sql_sink *sink, int more, cm_err *err)
{
    const char *src = u->src;
    const sql_token *t = u->t;
    uint32_t n = u->n;
    uint32_t i = 1;
    while (kw(src, t, n, i, "LOW_PRIORITY") || kw(src, t, n, i, "DELAYED") ||
           kw(src, t, n, i, "HIGH_PRIORITY") || kw(src, t, n, i, "IGNORE")) {
        u->ignore |= kw(src, t, n, i, "IGNORE");
        i++;
    }
    if (kw(src, t, n, i, "INTO")) {
        i++;
    }
    if (i >= n || !sql_dml_ext_is_name(&t[i])) {
        return sql_dml_ext_syntax(src, t, n, i, err);
    }
    uint32_t tb = i, te = i + 1;
    if (te + 1 < n && t[te].type == SQL_TK_DOT && sql_dml_ext_is_name(&t[te + 1])) {
        te += 2;
    }
    /* the table */
    char db[SQL_DB_MAX], name[SQL_DB_MAX];
    cm_buf v = CM_BUF_INIT;
    if (te - tb == 3) {
        sql_tok_name(src, &t[tb], &v);
        snprintf(db, sizeof db, "%.*s", (int)v.len, v.ptr ? (const char *)v.ptr : "");
        cm_buf_reset(&v);
    } else if (!s->has_db) {
        return cm_err_set(err, CM_E_NO_DB, "No database selected");
    } else {
        snprintf(db, sizeof db, "%s", s->dbname);
    }
    sql_tok_name(src, &t[te - 1], &v);
    snprintf(name, sizeof name, "%.*s", (int)v.len, v.ptr ? (const char *)v.ptr : "");
    cm_buf_fini(&v);
    u->tab = s->schema != NULL ? sql_schema_table(s->schema, db, name) : NULL;
    if (u->tab == NULL) {
        return cm_err_set(err, CM_E_NO_SUCH_TABLE, "Table '%s.%s' doesn't exist", db, name);
    }
    i = te;
    if (kw(src, t, n, i, "PARTITION")) {
        return cm_err_set(err, CM_E_UNSUPPORTED,
                          "This version of Tessera doesn't yet support 'PARTITION'");
    }
    /* the column list */
    u->cols = malloc((u->tab->ncols ? u->tab->ncols : 1) * sizeof(*u->cols));
    if (u->cols == NULL) {
        return nomem(err);
    }
    if (i < n && t[i].type == SQL_TK_LPAREN && !kw(src, t, n, i + 1, "SELECT") &&
        !kw(src, t, n, i + 1, "WITH") && !(i + 1 < n && t[i + 1].type == SQL_TK_LPAREN)) {
        for (i++; i < n && t[i].type != SQL_TK_RPAREN; i++) {
            if (t[i].type == SQL_TK_COMMA) {
                continue;
            }
            uint32_t c = i;
            if (i + 2 < n && t[i + 1].type == SQL_TK_DOT) {
                c = i + 2; /* t.col */
                i += 2;
            }
            if (!sql_dml_ext_is_name(&t[c])) {
                return sql_dml_ext_syntax(src, t, n, c, err);
            }
            int tc = table_col(u->tab, src, &t[c]);
            if (tc < 0) {
                return unknown_col(src, &t[c], err);
            }
            for (uint32_t k = 0; k < u->ncols; k++) {
                if (u->cols[k] == (uint32_t)tc) {
                    return cm_err_set(err, CM_E_INVALID, "Column '%s' specified twice",
                                      u->tab->cols[tc].name);
                }
            }
            u->cols[u->ncols++] = (uint32_t)tc;
        }
        if (i >= n) {
            return sql_dml_ext_syntax(src, t, n, i, err);
        }
        i++;
    } else {
        for (uint32_t c = 0; c < u->tab->ncols; c++) {
            if (u->tab->cols[c].state == SQL_OBJ_PUBLIC) {
                u->cols[u->ncols++] = c;
            }
        }
    }
    uint32_t od = find_odku(src, t, i, n);
    if (od >= n || !kw(src, t, n, od + 2, "KEY") || !kw(src, t, n, od + 3, "UPDATE")) {
        return sql_dml_ext_syntax(src, t, n, od + 1, err);
    }
    /* the rows */
    alias al = {UINT32_MAX, 0, 0};
    int rc = 0;
    if (kw(src, t, n, i, "VALUES") || kw(src, t, n, i, "VALUE")) {
        uint32_t rb = i + 1, re = rb;
        int depth = 0;
        uint32_t row = 0, col = 0;
        for (; re < od; re++) {
            int ty = t[re].type;
            if (depth == 0 && ty != SQL_TK_LPAREN && ty != SQL_TK_COMMA) {
                break;
            }
            if (depth == 1 && ty == SQL_TK_COMMA) {
                col++;
            }
            if (depth == 1 && kw(src, t, n, re, "DEFAULT") &&
                (t[re - 1].type == SQL_TK_LPAREN || t[re - 1].type == SQL_TK_COMMA) &&
                re + 1 < od &&
                (t[re + 1].type == SQL_TK_COMMA || t[re + 1].type == SQL_TK_RPAREN)) {
                /* DEFAULT as a value: NULL in the rows' text, the default when bound */
                if (u->ndflt == u->cap_dflt) {
                    uint32_t nc = u->cap_dflt ? u->cap_dflt * 2 : 16;
                    uint64_t *nd = realloc(u->dflt, nc * sizeof(*nd));
                    if (nd == NULL) {
                        return nomem(err);
                    }
                    u->dflt = nd;
                    u->cap_dflt = nc;
                }
                u->dflt[u->ndflt++] = (uint64_t)row << 32 | col;
            }
            if (depth == 1 && ty == SQL_TK_RPAREN) {
                row++;
                col = 0;
            }
            depth += ty == SQL_TK_LPAREN;
            depth -= ty == SQL_TK_RPAREN;
        }
        if (re == rb) {
            return sql_dml_ext_syntax(src, t, n, rb, err);
        }
        if (re < od && kw(src, t, n, re, "AS") && re + 1 < od && sql_dml_ext_is_name(&t[re + 1])) {
            al.name = re + 1;
            uint32_t k = re + 2;
            if (k < od && t[k].type == SQL_TK_LPAREN) {
                al.cb = k + 1;
                while (k < od && t[k].type != SQL_TK_RPAREN) {
                    k++;
                }
                al.ce = k;
                k++;
            }
            re = k;
        }
        if (re != od) {
            return sql_dml_ext_syntax(src, t, n, re, err);
        }
        u->source_is_query = 0;
        rc = cm_buf_append(&u->source, "VALUES ", 7) != 0 ? CM_E_NOMEM : 0;
        uint32_t rows_end = al.name != UINT32_MAX ? al.name - 1 : od;
        size_t base = u->source.len;
        rc = rc ? rc : sql_dml_ext_append_src(&u->source, src, t, rb, rows_end);
        for (uint32_t j = rb; rc == 0 && u->ndflt > 0 && j < rows_end; j++) {
            if (kw(src, t, n, j, "DEFAULT") && t[j].len == 7 &&
                (t[j - 1].type == SQL_TK_LPAREN || t[j - 1].type == SQL_TK_COMMA) &&
                j + 1 < rows_end &&
                (t[j + 1].type == SQL_TK_COMMA || t[j + 1].type == SQL_TK_RPAREN)) {
                memcpy(u->source.ptr + base + (t[j].off - t[rb].off), "NULL   ", 7);
            }
        }
    } else if (kw(src, t, n, i, "SELECT") || kw(src, t, n, i, "WITH") ||
               kw(src, t, n, i, "TABLE") || (i < n && t[i].type == SQL_TK_LPAREN)) {
        u->source_is_query = 1;
        uint32_t qb = i, qe = od;
        while (qe > qb + 1 && t[qb].type == SQL_TK_LPAREN && t[qe - 1].type == SQL_TK_RPAREN) {
            int depth = 0, whole = 1; /* (SELECT …): SQLite wants the SELECT bare */
            for (uint32_t j = qb; j < qe - 1 && whole; j++) {
                depth += t[j].type == SQL_TK_LPAREN;
                depth -= t[j].type == SQL_TK_RPAREN;
                whole = depth > 0;
            }
            if (!whole) {
                break;
            }
            qb++;
            qe--;
        }
        rc = sql_dml_ext_append_src(&u->source, src, t, qb, qe);
    } else {
        return sql_dml_ext_syntax(src, t, n, i, err);
    }
    if (rc != 0) {
        return nomem(err);
    }
    /* INSERT INTO t ("c1", …) VALUES (?, …) and the named columns for the vtab */
    cm_buf *q = &u->ins;
    rc = cm_buf_printf(q, "INSERT %sINTO ", u->ignore ? "OR IGNORE " : "") != 0 ? CM_E_NOMEM : 0;
    if (rc == 0) {
        sql_tr_ctx ctx = sql_sess_tr_ctx(s);
        sql_tr_out tr;
        sql_tr_out_init(&tr);
        rc = sql_translate_fragment(src, t + tb, te - tb, &ctx, &tr, err);
        if (rc == 0 && cm_buf_append(q, tr.sql.ptr, tr.sql.len) != 0) {
            rc = nomem(err);
        }
        sql_tr_out_fini(&tr);
    } else {
        rc = nomem(err);
    }
    rc = rc ? rc : cm_buf_append(q, " (", 2) != 0 ? CM_E_NOMEM : 0;
    for (uint32_t c = 0; rc == 0 && c < u->ncols; c++) {
        rc = cm_buf_printf(q, "%s\"", c ? ", " : "") != 0 ? CM_E_NOMEM : 0;
        for (const char *p = u->tab->cols[u->cols[c]].name; rc == 0 && *p; p++) {
            rc = cm_buf_append_u8(q, (uint8_t)*p) != 0 ||
                         (*p == '"' && cm_buf_append_u8(q, '"') != 0)
                     ? CM_E_NOMEM
                     : 0;
        }
        rc = rc ? rc : cm_buf_append_u8(q, '"') != 0 ? CM_E_NOMEM : 0;
    }
    rc = rc ? rc : cm_buf_append(q, ") VALUES (", 10) != 0 ? CM_E_NOMEM : 0;
    u->ins_head = q->len - 1;
    for (uint32_t c = 0; rc == 0 && c < u->ncols; c++) {
        rc = cm_buf_printf(q, "%s?%u", c ? ", " : "", c + 1) != 0 ? CM_E_NOMEM : 0;
    }
    rc = rc ? rc : cm_buf_append_u8(q, ')') != 0 ? CM_E_NOMEM : 0;
    rc = rc ? rc : cm_buf_append_u8(&u->target, 'L') != 0 ? CM_E_NOMEM : 0;
    rc = rc ? rc : append_name_nul(&u->target, te - tb == 3 ? db : "");
    rc = rc ? rc : append_name_nul(&u->target, name);
    for (uint32_t c = 0; rc == 0 && c < u->ncols; c++) {
        rc = append_name_nul(&u->target, u->tab->cols[u->cols[c]].name);
    }
    if (rc != 0) {
        return nomem(err);
    }
    rc = build_update(s, u, &al, tb, te, od + 4, err);
    if (rc != 0) {
        return rc;
    }
    return sql_dml_ext_exec(s, upsert_body, u, sink, more, err);
}

int sql_upsert_run(sql_sess *s, const char *src, const sql_token *t, uint32_t n, sql_sink *sink,
                   int more, cm_err *err)
{
    /* INSERT … SET … ON DUPLICATE KEY UPDATE: the VALUES form of the same statement */
    uint32_t i = 1;
    while (kw(src, t, n, i, "LOW_PRIORITY") || kw(src, t, n, i, "DELAYED") ||
           kw(src, t, n, i, "HIGH_PRIORITY") || kw(src, t, n, i, "IGNORE")) {
        i++;
    }
    i += kw(src, t, n, i, "INTO");
    uint32_t te = i + 1;
    if (te + 1 < n && t[te].type == SQL_TK_DOT) {
        te += 2;
    }
    if (i < n && sql_dml_ext_is_name(&t[i]) && kw(src, t, n, te, "SET")) {
        cm_buf txt = CM_BUF_INIT;
        sql_tokens toks;
        sql_tokens_init(&toks);
        int rc = rewrite_set(src, t, n, i, &txt, err);
        rc = rc ? rc : sql_lex((const char *)txt.ptr, txt.len, s->mode, &toks, err);
        if (rc == 0 && kw((const char *)txt.ptr, toks.v, toks.n, te, "SET")) {
            rc = cm_err_set(err, CM_E_INTERNAL, "INSERT … SET rewrite failed");
        }
        rc = rc ? rc : sql_upsert_run(s, (const char *)txt.ptr, toks.v, toks.n, sink, more, err);
        sql_tokens_fini(&toks);
        cm_buf_fini(&txt);
        return rc;
    }
    upsert u;
    memset(&u, 0, sizeof(u));
    u.src = src;
    u.t = t;
    u.n = n;
    cm_buf_init(&u.source);
    cm_buf_init(&u.ins);
    cm_buf_init(&u.upd);
    cm_buf_init(&u.target);
    int rc = parse_and_run(s, &u, sink, more, err);
    cm_buf_fini(&u.source);
    cm_buf_fini(&u.ins);
    cm_buf_fini(&u.upd);
    cm_buf_fini(&u.target);
    free(u.cols);
    free(u.params);
    free(u.dflt);
    return rc;
}
