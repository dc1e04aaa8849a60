/*
 * sql_cat_show.c — SHOW statements about schema objects, printed as MySQL 8.0 prints them:
 * DATABASES, [FULL] TABLES, [FULL] COLUMNS, INDEX, CREATE TABLE, CREATE DATABASE, TABLE STATUS,
 * and DESCRIBE. Filters: LIKE 'pattern', and WHERE <column> {= | LIKE} 'text' [AND …] (the
 * module does not link SQLite, so richer WHERE clauses are refused with 1235).
 */
#include "sql_cat_int.h"

#include "sql_my_const.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- result building ----------------------------------------------------------------------- */

#define SHOW_COLS_MAX 18

typedef struct cellv {
    int kind; /* 0 null, 1 text, 2 int */
    size_t off, len;
    int64_t i;
} cellv;

typedef struct res {
    uint32_t ncols;
    sql_column cols[SHOW_COLS_MAX];
    cm_buf text;
    cellv *cells;
    uint32_t ncells, cap;
    int oom;
    /* filter */
    const char *like; /* LIKE pattern on column 0 */
    uint32_t nw;      /* WHERE terms */
    int wcol[8];      /* column of each term */
    bool wlike[8];    /* LIKE (else =) */
    const char *wval[8];
    uint32_t row_start; /* first cell of the row being built */
} res;

static sql_column col_text(const char *name)
{
    sql_column c;
    memset(&c, 0, sizeof(c));
    c.name = name;
    c.name_len = strlen(name);
    c.type = SQL_TYPE_VAR_STRING;
    c.charset = 46;
    c.length = 256;
    return c;
}

static sql_column col_int(const char *name)
{
    sql_column c;
    memset(&c, 0, sizeof(c));
    c.name = name;
    c.name_len = strlen(name);
    c.type = SQL_TYPE_LONGLONG;
    c.charset = SQL_COLLATION_BINARY;
    c.length = 21;
    c.flags = SQL_FLAG_NUM;
    return c;
}

static void add_cell(res *r, cellv c)
{
    if (r->ncells == r->cap) {
        uint32_t cap = r->cap ? r->cap * 2 : 64;
        cellv *v = realloc(r->cells, sizeof(*v) * cap);
        if (v == NULL) {
            r->oom = 1;
            return;
        }
        r->cells = v;
        r->cap = cap;
    }
    r->cells[r->ncells++] = c;
}

static void put_text_n(res *r, const char *s, size_t n)
{
    cellv c = {1, r->text.len, n, 0};
    if (cm_buf_append(&r->text, s, n) != 0) {
        r->oom = 1;
    }
    add_cell(r, c);
}

static void put_text(res *r, const char *s)
{
    if (s == NULL) {
        cellv c = {0, 0, 0, 0};
        add_cell(r, c);
        return;
    }
    put_text_n(r, s, strlen(s));
}

static void put_int(res *r, int64_t i)
{
    cellv c = {2, 0, 0, i};
    add_cell(r, c);
}

static void put_null(res *r)
{
    cellv c = {0, 0, 0, 0};
    add_cell(r, c);
}

/* MySQL LIKE, case-insensitive for ASCII, with % _ and \ escapes. */
static bool like_match(const char *p, const char *s, size_t sn)
{
    size_t si = 0;
    for (; *p; p++) {
        if (*p == '%') {
            while (p[1] == '%') {
                p++;
            }
            if (p[1] == 0) {
                return true;
            }
            for (size_t k = si; k <= sn; k++) {
                if (like_match(p + 1, s + k, sn - k)) {
                    return true;
                }
            }
            return false;
        }
        if (si >= sn) {
            return false;
        }
        char pc = *p;
        if (pc == '\\' && p[1] != 0) {
            pc = *++p;
        } else if (pc == '_') {
            si++;
            continue;
        }
        char a = pc >= 'A' && pc <= 'Z' ? (char)(pc + 32) : pc;
        char b = s[si] >= 'A' && s[si] <= 'Z' ? (char)(s[si] + 32) : s[si];
        if (a != b) {
            return false;
        }
        si++;
    }
    return si == sn;
}

static void row_begin(res *r)
{
    r->row_start = r->ncells;
}

static const char *cell_text(const res *r, const cellv *c, size_t *n, char *ibuf, size_t icap)
{
    if (c->kind == 2) {
        *n = (size_t)snprintf(ibuf, icap, "%lld", (long long)c->i);
        return ibuf;
    }
    if (c->kind == 0) {
        *n = 0;
        return NULL;
    }
    *n = c->len;
    return r->text.ptr ? (const char *)r->text.ptr + c->off : "";
}

/* Drops the row just built when it fails the filter. */
static void row_end(res *r)
{
    if (r->oom || r->ncells != r->row_start + r->ncols) {
        return;
    }
    bool keep = true;
    char ib[32];
    size_t n;
    if (r->like != NULL) {
        const char *s = cell_text(r, &r->cells[r->row_start], &n, ib, sizeof(ib));
        keep = s != NULL && like_match(r->like, s, n);
    }
    for (uint32_t w = 0; keep && w < r->nw; w++) {
        const char *s = cell_text(r, &r->cells[r->row_start + r->wcol[w]], &n, ib, sizeof(ib));
        if (s == NULL) {
            keep = false;
        } else if (r->wlike[w]) {
            keep = like_match(r->wval[w], s, n);
        } else {
            keep = strlen(r->wval[w]) == n && strncasecmp(r->wval[w], s, n) == 0;
        }
    }
    if (!keep) {
        r->ncells = r->row_start;
    }
}

static int res_send(res *r, sql_sink *sink, cm_err *err)
{
    if (r->oom) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    int rc = sink->columns(sink, r->cols, (int)r->ncols);
    sql_value vals[SHOW_COLS_MAX];
    for (uint32_t i = 0; rc == 0 && i + r->ncols <= r->ncells; i += r->ncols) {
        for (uint32_t c = 0; c < r->ncols; c++) {
            const cellv *x = &r->cells[i + c];
            if (x->kind == 0) {
                vals[c] = sql_value_null();
            } else if (x->kind == 2) {
                vals[c] = sql_value_int(x->i);
            } else {
                vals[c] = sql_value_text((const char *)r->text.ptr + x->off, x->len);
            }
        }
        rc = sink->row(sink, vals, (int)r->ncols);
    }
    if (rc != 0) {
        return cm_err_set(err, rc, "sending the result failed");
    }
    return 0;
}

static void res_fini(res *r)
{
    cm_buf_fini(&r->text);
    free(r->cells);
}

/* ---- parsing the SHOW ---------------------------------------------------------------------- */

typedef enum show_kind {
    SHOW_NONE = 0,
    SHOW_DATABASES,
    SHOW_TABLES,
    SHOW_COLUMNS,
    SHOW_INDEX,
    SHOW_CREATE_TABLE,
    SHOW_CREATE_DB,
    SHOW_TABLE_STATUS,
} show_kind;

typedef struct show_req {
    show_kind kind;
    bool full;
    bool if_not_exists; /* SHOW CREATE DATABASE IF NOT EXISTS */
    char *table, *db;   /* the object (malloc'd) */
    char *like;         /* LIKE pattern */
    uint32_t where;     /* token index of WHERE, or 0 */
    uint32_t filter_end;
} show_req;

typedef struct sp {
    const char *src;
    const sql_token *t;
    uint32_t n, i;
} sp;

static bool skw(sp *p, const char *kw)
{
    if (p->i < p->n && sql_tok_is(p->src, &p->t[p->i], kw)) {
        p->i++;
        return true;
    }
    return false;
}

static char *sname(sp *p)
{
    if (p->i >= p->n || (p->t[p->i].type != SQL_TK_IDENT && p->t[p->i].type != SQL_TK_QIDENT &&
                         p->t[p->i].type != SQL_TK_STRING)) {
        return NULL;
    }
    cm_buf b = CM_BUF_INIT;
    int rc = p->t[p->i].type == SQL_TK_STRING ? sql_tok_string(p->src, &p->t[p->i], 0, &b)
                                              : sql_tok_name(p->src, &p->t[p->i], &b);
    if (rc != 0 || cm_buf_terminate(&b) != 0) {
        cm_buf_fini(&b);
        return NULL;
    }
    p->i++;
    return (char *)b.ptr;
}

static bool parse_show(const char *src, const sql_token *t, uint32_t n, show_req *r)
{
    memset(r, 0, sizeof(*r));
    sp p = {src, t, n, 0};
    if (n > 0 && t[n - 1].type == SQL_TK_SEMI) {
        p.n--;
    }
    if (!skw(&p, "SHOW")) {
        return false;
    }
    if (skw(&p, "CREATE")) {
        if (skw(&p, "TABLE")) {
            r->kind = SHOW_CREATE_TABLE;
        } else if (skw(&p, "DATABASE") || skw(&p, "SCHEMA")) {
            r->kind = SHOW_CREATE_DB;
            if (skw(&p, "IF")) {
                if (!skw(&p, "NOT") || !skw(&p, "EXISTS")) {
                    return false;
                }
                r->if_not_exists = true;
            }
        } else {
            return false;
        }
    } else {
        bool ext = skw(&p, "EXTENDED");
        r->full = skw(&p, "FULL");
        if (!ext && !r->full && (skw(&p, "DATABASES") || skw(&p, "SCHEMAS"))) {
            r->kind = SHOW_DATABASES;
        } else if (!ext && skw(&p, "TABLES")) {
            r->kind = SHOW_TABLES;
        } else if (skw(&p, "COLUMNS") || skw(&p, "FIELDS")) {
            r->kind = SHOW_COLUMNS;
        } else if (!r->full && (skw(&p, "INDEX") || skw(&p, "INDEXES") || skw(&p, "KEYS"))) {
            r->kind = SHOW_INDEX;
        } else if (!ext && !r->full && skw(&p, "TABLE")) {
            if (!skw(&p, "STATUS")) {
                return false;
            }
            r->kind = SHOW_TABLE_STATUS;
        } else {
            return false;
        }
    }
    /* the object */
    if (r->kind == SHOW_COLUMNS || r->kind == SHOW_INDEX) {
        if (!skw(&p, "FROM") && !skw(&p, "IN")) {
            return false;
        }
    }
    if (r->kind == SHOW_COLUMNS || r->kind == SHOW_INDEX || r->kind == SHOW_CREATE_TABLE ||
        r->kind == SHOW_CREATE_DB) {
        char *a = sname(&p);
        if (a == NULL) {
            return false;
        }
        if (p.i < p.n && t[p.i].type == SQL_TK_DOT && r->kind != SHOW_CREATE_DB) {
            p.i++;
            r->db = a;
            r->table = sname(&p);
            if (r->table == NULL) {
                return false;
            }
        } else if (r->kind == SHOW_CREATE_DB) {
            r->db = a;
        } else {
            r->table = a;
        }
    }
    if (r->kind == SHOW_COLUMNS || r->kind == SHOW_INDEX || r->kind == SHOW_TABLES ||
        r->kind == SHOW_TABLE_STATUS) {
        if (skw(&p, "FROM") || skw(&p, "IN")) {
            free(r->db);
            r->db = sname(&p);
            if (r->db == NULL) {
                return false;
            }
        }
    }
    if (r->kind != SHOW_CREATE_TABLE && r->kind != SHOW_CREATE_DB && r->kind != SHOW_INDEX &&
        skw(&p, "LIKE")) {
        if (p.i >= p.n || t[p.i].type != SQL_TK_STRING) {
            return false;
        }
        r->like = sname(&p);
        if (r->like == NULL) {
            return false;
        }
    } else if (r->kind != SHOW_CREATE_TABLE && r->kind != SHOW_CREATE_DB && p.i < p.n &&
               sql_tok_is(src, &t[p.i], "WHERE")) {
        r->where = p.i;
        p.i = p.n;
    }
    r->filter_end = p.n;
    return p.i == p.n;
}

static void show_req_fini(show_req *r)
{
    free(r->table);
    free(r->db);
    free(r->like);
}

bool sql_cat_is_show(const char *src, const sql_token *t, uint32_t n)
{
    show_req r;
    bool ok = parse_show(src, t, n, &r);
    show_req_fini(&r);
    return ok;
}

/* WHERE col {=|LIKE} 'x' [AND …] on the result's columns. */
static int parse_where(const char *src, const sql_token *t, uint32_t from, uint32_t end, res *r,
                       cm_arena *a, cm_err *err)
{
    uint32_t i = from + 1;
    while (i < end) {
        if (r->nw == 8 || i + 2 >= end) {
            return cm_err_set(err, CM_E_UNSUPPORTED,
                              "This version of Tessera doesn't yet support this WHERE in SHOW");
        }
        cm_buf nm = CM_BUF_INIT;
        int col = -1;
        if ((t[i].type == SQL_TK_IDENT || t[i].type == SQL_TK_QIDENT) &&
            sql_tok_name(src, &t[i], &nm) == 0 && cm_buf_terminate(&nm) == 0) {
            for (uint32_t c = 0; c < r->ncols; c++) {
                if (sql_cat_namecmp(r->cols[c].name, (const char *)nm.ptr) == 0) {
                    col = (int)c;
                }
            }
        }
        bool eq = t[i + 1].type == SQL_TK_OP && t[i + 1].len == 1 && src[t[i + 1].off] == '=';
        bool lk = sql_tok_is(src, &t[i + 1], "LIKE");
        if (col < 0 || (!eq && !lk) || t[i + 2].type != SQL_TK_STRING) {
            int rc = col < 0 && nm.ptr != NULL
                         ? cm_err_set(err, CM_E_BAD_FIELD, "Unknown column '%s' in 'where clause'",
                                      (const char *)nm.ptr)
                         : cm_err_set(err, CM_E_UNSUPPORTED,
                                      "This version of Tessera doesn't yet support this WHERE in "
                                      "SHOW");
            cm_buf_fini(&nm);
            return rc;
        }
        cm_buf_fini(&nm);
        cm_buf v = CM_BUF_INIT;
        if (sql_tok_string(src, &t[i + 2], 0, &v) != 0) {
            cm_buf_fini(&v);
            return cm_err_set(err, CM_E_NOMEM, "out of memory");
        }
        char *s = cm_arena_strndup(a, v.ptr ? (const char *)v.ptr : "", v.len);
        cm_buf_fini(&v);
        if (s == NULL) {
            return cm_err_set(err, CM_E_NOMEM, "out of memory");
        }
        r->wcol[r->nw] = col;
        r->wlike[r->nw] = lk;
        r->wval[r->nw] = s;
        r->nw++;
        i += 3;
        if (i < end) {
            if (!sql_tok_is(src, &t[i], "AND")) {
                return cm_err_set(err, CM_E_UNSUPPORTED,
                                  "This version of Tessera doesn't yet support this WHERE in SHOW");
            }
            i++;
        }
    }
    return 0;
}

/* ---- formatting ---------------------------------------------------------------------------- */

static bool col_in_pk(const sql_cat_table *t, uint32_t off)
{
    if (t->handle_col == (int32_t)off) {
        return true;
    }
    for (uint32_t i = 0; i < t->nindexes; i++) {
        const sql_cat_index *x = &t->indexes[i];
        for (uint32_t j = 0; x->primary && j < x->ncols; j++) {
            if (x->cols[j] == off) {
                return true;
            }
        }
    }
    return false;
}

static const char *col_key(const sql_cat_table *t, uint32_t off)
{
    if (col_in_pk(t, off)) {
        return "PRI";
    }
    bool mul = false;
    for (uint32_t i = 0; i < t->nindexes; i++) {
        const sql_cat_index *x = &t->indexes[i];
        if (x->state != SQL_OBJ_PUBLIC || x->cols[0] != off) {
            continue;
        }
        if (x->unique && x->ncols == 1) {
            return "UNI";
        }
        mul = true;
    }
    return mul ? "MUL" : "";
}

static void type_text(const sql_cat_col *c, cm_buf *b)
{
    cm_buf_reset(b);
    if (sql_type_format(&c->type, b) != 0 || cm_buf_terminate(b) != 0) {
        cm_buf_reset(b);
        cm_buf_terminate(b);
    }
}

static bool is_text_type(const sql_cat_col *c)
{
    return c->type.dtype == CM_DT_STRING || c->type.dtype == CM_DT_JSON ||
           c->type.dtype == CM_DT_ENUM || c->type.dtype == CM_DT_SET;
}

static void now_text(const sql_cat_col *c, char *b, size_t cap)
{
    if (c->type.decimals > 0) {
        snprintf(b, cap, "CURRENT_TIMESTAMP(%u)", c->type.decimals);
    } else {
        snprintf(b, cap, "CURRENT_TIMESTAMP");
    }
}

static void columns_rows(const sql_cat_table *t, bool full, res *r)
{
    cm_buf ty = CM_BUF_INIT;
    for (uint32_t i = 0; i < t->ncols; i++) {
        const sql_cat_col *c = &t->cols[i];
        if (c->state != SQL_OBJ_PUBLIC) {
            continue;
        }
        row_begin(r);
        put_text(r, c->name);
        type_text(c, &ty);
        put_text(r, (const char *)ty.ptr);
        if (full) {
            put_text(r, is_text_type(c) ? "utf8mb4_bin" : NULL);
        }
        put_text(r, c->not_null ? "NO" : "YES");
        put_text(r, col_key(t, i));
        char nb[40];
        if (c->default_now) {
            now_text(c, nb, sizeof(nb));
            put_text(r, nb);
        } else if (c->has_default && !c->default_null) {
            put_text(r, c->default_text ? c->default_text : "");
        } else {
            put_null(r);
        }
        char extra[96] = "";
        if (c->auto_inc) {
            snprintf(extra, sizeof(extra), "auto_increment");
        } else if (c->default_now && c->on_update_now) {
            now_text(c, nb, sizeof(nb));
            snprintf(extra, sizeof(extra), "DEFAULT_GENERATED on update %s", nb);
        } else if (c->default_now) {
            snprintf(extra, sizeof(extra), "DEFAULT_GENERATED");
        } else if (c->on_update_now) {
            now_text(c, nb, sizeof(nb));
            snprintf(extra, sizeof(extra), "on update %s", nb);
        }
        put_text(r, extra);
        if (full) {
            put_text(r, "select,insert,update,references");
            put_text(r, c->comment ? c->comment : "");
        }
        row_end(r);
    }
    cm_buf_fini(&ty);
}

static void columns_header(res *r, bool full)
{
    uint32_t k = 0;
    r->cols[k++] = col_text("Field");
    r->cols[k++] = col_text("Type");
    if (full) {
        r->cols[k++] = col_text("Collation");
    }
    r->cols[k++] = col_text("Null");
    r->cols[k++] = col_text("Key");
    r->cols[k++] = col_text("Default");
    r->cols[k++] = col_text("Extra");
    if (full) {
        r->cols[k++] = col_text("Privileges");
        r->cols[k++] = col_text("Comment");
    }
    r->ncols = k;
}

int sql_cat_show_columns(const sql_cat_table *t, bool full, const char *like, sql_sink *sink,
                         cm_err *err)
{
    res r;
    memset(&r, 0, sizeof(r));
    columns_header(&r, full);
    r.like = like;
    columns_rows(t, full, &r);
    int rc = res_send(&r, sink, err);
    res_fini(&r);
    return rc;
}

static void index_row(res *r, const sql_cat_table *t, const char *name, bool unique,
                      const uint32_t *cols, const uint32_t *prefix, uint32_t ncols,
                      const char *comment)
{
    for (uint32_t j = 0; j < ncols; j++) {
        const sql_cat_col *c = &t->cols[cols[j]];
        row_begin(r);
        put_text(r, t->name);
        put_int(r, unique ? 0 : 1);
        put_text(r, name);
        put_int(r, (int64_t)j + 1);
        put_text(r, c->name);
        put_text(r, "A");
        put_int(r, 0);
        if (prefix != NULL && prefix[j] > 0) {
            put_int(r, prefix[j]);
        } else {
            put_null(r);
        }
        put_null(r);
        put_text(r, c->not_null ? "" : "YES");
        put_text(r, "BTREE");
        put_text(r, "");
        put_text(r, comment ? comment : "");
        put_text(r, "YES");
        put_null(r);
        row_end(r);
    }
}

static void index_rows(const sql_cat_table *t, res *r)
{
    static const char *const names[] = {
        "Table",      "Non_unique",  "Key_name",      "Seq_in_index", "Column_name",
        "Collation",  "Cardinality", "Sub_part",      "Packed",       "Null",
        "Index_type", "Comment",     "Index_comment", "Visible",      "Expression"};
    for (uint32_t i = 0; i < 15; i++) {
        bool is_int = i == 1 || i == 3 || i == 6 || i == 7;
        r->cols[i] = is_int ? col_int(names[i]) : col_text(names[i]);
    }
    r->ncols = 15;
    if (t->handle_col >= 0) {
        uint32_t hc = (uint32_t)t->handle_col;
        index_row(r, t, "PRIMARY", true, &hc, NULL, 1, NULL);
    }
    for (uint32_t i = 0; i < t->nindexes; i++) {
        const sql_cat_index *x = &t->indexes[i];
        if (x->state == SQL_OBJ_PUBLIC) {
            index_row(r, t, x->name, x->unique, x->cols, x->prefix_len, x->ncols, x->comment);
        }
    }
}

static void append_quoted(cm_buf *b, const char *s, char q)
{
    cm_buf_append_u8(b, (uint8_t)q);
    for (; *s; s++) {
        if (*s == q) {
            cm_buf_append_u8(b, (uint8_t)q);
        } else if (q == '\'' && *s == '\\') {
            cm_buf_append_u8(b, '\\');
        }
        cm_buf_append_u8(b, (uint8_t)*s);
    }
    cm_buf_append_u8(b, (uint8_t)q);
}

static void key_cols(cm_buf *b, const sql_cat_table *t, const uint32_t *cols, const uint32_t *pl,
                     uint32_t n)
{
    cm_buf_printf(b, " (");
    for (uint32_t j = 0; j < n; j++) {
        if (j > 0) {
            cm_buf_printf(b, ",");
        }
        append_quoted(b, t->cols[cols[j]].name, '`');
        if (pl != NULL && pl[j] > 0) {
            cm_buf_printf(b, "(%u)", pl[j]);
        }
    }
    cm_buf_printf(b, ")");
}

void sql_cat_bit_literal(cm_buf *b, const char *bytes)
{
    cm_buf_printf(b, "b'");
    bool started = false;
    for (const unsigned char *p = (const unsigned char *)bytes; *p; p++) {
        for (int bit = 7; bit >= 0; bit--) {
            int one = (*p >> bit) & 1;
            started = started || one;
            if (started) {
                cm_buf_append_u8(b, one ? '1' : '0');
            }
        }
    }
    if (!started) {
        cm_buf_append_u8(b, '0');
    }
    cm_buf_append_u8(b, '\'');
}

/* MySQL prints no DEFAULT NULL for BLOB and TEXT columns (their field type is BLOB, which
 * SHOW CREATE TABLE gives no default clause); JSON keeps it. */
static bool no_default_null(const sql_coltype *t)
{
    return t->dtype != CM_DT_JSON &&
           (t->mysql_type == SQL_TYPE_BLOB || t->mysql_type == SQL_TYPE_TINY_BLOB ||
            t->mysql_type == SQL_TYPE_MEDIUM_BLOB || t->mysql_type == SQL_TYPE_LONG_BLOB);
}

int sql_cat_create_table_text(const sql_cat_table *t, uint64_t next_autoid, cm_buf *b)
{
    cm_buf ty = CM_BUF_INIT;
    cm_buf_printf(b, "CREATE TABLE ");
    append_quoted(b, t->name, '`');
    cm_buf_printf(b, " (\n");
    bool first = true;
    for (uint32_t i = 0; i < t->ncols; i++) {
        const sql_cat_col *c = &t->cols[i];
        if (c->state != SQL_OBJ_PUBLIC) {
            continue;
        }
        cm_buf_printf(b, "%s  ", first ? "" : ",\n");
        first = false;
        append_quoted(b, c->name, '`');
        type_text(c, &ty);
        cm_buf_printf(b, " %s", (const char *)ty.ptr);
        if (c->not_null) {
            cm_buf_printf(b, " NOT NULL");
        } else if (c->type.mysql_type == SQL_TYPE_TIMESTAMP) {
            cm_buf_printf(b, " NULL");
        }
        char nb[40];
        if (c->default_now) {
            now_text(c, nb, sizeof(nb));
            cm_buf_printf(b, " DEFAULT %s", nb);
        } else if (c->has_default && c->default_null && !c->auto_inc &&
                   !no_default_null(&c->type)) {
            cm_buf_printf(b, " DEFAULT NULL");
        } else if (c->has_default && c->default_text != NULL &&
                   c->type.mysql_type == SQL_TYPE_BIT) {
            cm_buf_printf(b, " DEFAULT ");
            sql_cat_bit_literal(b, c->default_text);
        } else if (c->has_default && c->default_text != NULL) {
            cm_buf_printf(b, " DEFAULT ");
            append_quoted(b, c->default_text, '\'');
        }
        if (c->on_update_now) {
            now_text(c, nb, sizeof(nb));
            cm_buf_printf(b, " ON UPDATE %s", nb);
        }
        if (c->auto_inc) {
            cm_buf_printf(b, " AUTO_INCREMENT");
        }
        if (c->comment != NULL) {
            cm_buf_printf(b, " COMMENT ");
            append_quoted(b, c->comment, '\'');
        }
    }
    if (t->handle_col >= 0) {
        uint32_t hc = (uint32_t)t->handle_col;
        cm_buf_printf(b, ",\n  PRIMARY KEY");
        key_cols(b, t, &hc, NULL, 1);
    }
    for (uint32_t i = 0; i < t->nindexes; i++) {
        const sql_cat_index *x = &t->indexes[i];
        if (x->state != SQL_OBJ_PUBLIC) {
            continue;
        }
        if (x->primary) {
            cm_buf_printf(b, ",\n  PRIMARY KEY");
        } else {
            cm_buf_printf(b, ",\n  %sKEY ", x->unique ? "UNIQUE " : "");
            append_quoted(b, x->name, '`');
        }
        key_cols(b, t, x->cols, x->prefix_len, x->ncols);
        if (x->comment != NULL) {
            cm_buf_printf(b, " COMMENT ");
            append_quoted(b, x->comment, '\'');
        }
    }
    cm_buf_printf(b, "\n) ENGINE=InnoDB");
    if (t->autoinc_col >= 0 && next_autoid > 1) {
        cm_buf_printf(b, " AUTO_INCREMENT=%llu", (unsigned long long)next_autoid);
    }
    cm_buf_printf(b, " DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
    if (t->comment != NULL) {
        cm_buf_printf(b, " COMMENT=");
        append_quoted(b, t->comment, '\'');
    }
    cm_buf_fini(&ty);
    return cm_buf_terminate(b);
}

/* ---- entry points ---------------------------------------------------------------------------- */

static int find_table(const sql_schema *s, const char *curdb, const show_req *q,
                      const sql_cat_table **out, cm_err *err)
{
    const char *db = q->db ? q->db : curdb;
    if (db == NULL) {
        return cm_err_set(err, CM_E_NO_DB, "No database selected");
    }
    *out = sql_schema_table(s, db, q->table);
    if (*out == NULL) {
        return cm_err_set(err, CM_E_NO_SUCH_TABLE, "Table '%s.%s' doesn't exist", db, q->table);
    }
    return 0;
}

static int show_tables(sql_catalog *c, const sql_schema *s, const char *curdb, const show_req *q,
                       res *r, cm_buf *title, bool status, cm_err *err)
{
    const char *dbn = q->db ? q->db : curdb;
    if (dbn == NULL) {
        return cm_err_set(err, CM_E_NO_DB, "No database selected");
    }
    const sql_cat_db *db = sql_schema_db(s, dbn);
    if (db == NULL) {
        return cm_err_set(err, CM_E_BAD_DB, "Unknown database '%s'", dbn);
    }
    if (status) {
        static const char *const names[] = {
            "Name",           "Engine",         "Version",         "Row_format",   "Rows",
            "Avg_row_length", "Data_length",    "Max_data_length", "Index_length", "Data_free",
            "Auto_increment", "Create_time",    "Update_time",     "Check_time",   "Collation",
            "Checksum",       "Create_options", "Comment"};
        for (uint32_t i = 0; i < 18; i++) {
            bool is_int = (i >= 2 && i <= 10 && i != 3) || i == 15;
            r->cols[i] = is_int ? col_int(names[i]) : col_text(names[i]);
        }
        r->ncols = 18;
    } else {
        cm_buf_printf(title, "Tables_in_%s", db->name);
        if (q->like != NULL) {
            cm_buf_printf(title, " (%s)", q->like);
        }
        cm_buf_terminate(title);
        r->cols[0] = col_text((const char *)title->ptr);
        r->ncols = 1;
        if (q->full) {
            r->cols[1] = col_text("Table_type");
            r->ncols = 2;
        }
    }
    uint32_t n = sql_schema_ntables(s, db);
    for (uint32_t i = 0; i < n; i++) {
        const sql_cat_table *t = sql_schema_table_at(s, db, i);
        row_begin(r);
        put_text(r, t->name);
        if (status) {
            put_text(r, "InnoDB");
            put_int(r, 10);
            put_text(r, "Dynamic");
            for (int k = 0; k < 6; k++) {
                put_int(r, 0);
            }
            if (t->autoinc_col >= 0) {
                put_int(r, (int64_t)sql_cat_autoid_peek(c, t));
            } else {
                put_null(r);
            }
            put_null(r);
            put_null(r);
            put_null(r);
            put_text(r, "utf8mb4_bin");
            put_null(r);
            put_text(r, "");
            put_text(r, t->comment ? t->comment : "");
        } else if (q->full) {
            put_text(r, "BASE TABLE");
        }
        row_end(r);
    }
    return 0;
}

int sql_cat_show(sql_catalog *c, const sql_schema *s, const char *curdb, const char *src,
                 const sql_token *t, uint32_t n, sql_sink *sink, cm_err *err)
{
    show_req q;
    if (!parse_show(src, t, n, &q)) {
        show_req_fini(&q);
        return cm_err_set(err, CM_E_PARSE,
                          "You have an error in your SQL syntax; check the manual that corresponds "
                          "to your MySQL server version for the right syntax to use");
    }
    res r;
    memset(&r, 0, sizeof(r));
    r.like = q.like;
    cm_arena a;
    cm_arena_init(&a, 0);
    cm_buf title = CM_BUF_INIT, text = CM_BUF_INIT;
    const sql_cat_table *tab = NULL;
    int rc = 0;
    switch (q.kind) {
    case SHOW_DATABASES:
        r.cols[0] = col_text("Database");
        r.ncols = 1;
        for (uint32_t i = 0; i < sql_schema_ndbs(s); i++) {
            row_begin(&r);
            put_text(&r, sql_schema_db_at(s, i)->name);
            row_end(&r);
        }
        break;
    case SHOW_TABLES:
    case SHOW_TABLE_STATUS:
        rc = show_tables(c, s, curdb, &q, &r, &title, q.kind == SHOW_TABLE_STATUS, err);
        break;
    case SHOW_COLUMNS:
        rc = find_table(s, curdb, &q, &tab, err);
        if (rc == 0) {
            columns_header(&r, q.full);
            columns_rows(tab, q.full, &r);
        }
        break;
    case SHOW_INDEX:
        rc = find_table(s, curdb, &q, &tab, err);
        if (rc == 0) {
            index_rows(tab, &r);
        }
        break;
    case SHOW_CREATE_TABLE:
        rc = find_table(s, curdb, &q, &tab, err);
        if (rc == 0) {
            r.cols[0] = col_text("Table");
            r.cols[1] = col_text("Create Table");
            r.ncols = 2;
            rc = sql_cat_create_table_text(tab, sql_cat_autoid_peek(c, tab), &text) != 0
                     ? CM_E_NOMEM
                     : 0;
            row_begin(&r);
            put_text(&r, tab->name);
            put_text_n(&r, (const char *)text.ptr, text.len ? text.len - 0 : 0);
            row_end(&r);
        }
        break;
    case SHOW_CREATE_DB: {
        const sql_cat_db *d = sql_schema_db(s, q.db);
        if (d == NULL) {
            rc = cm_err_set(err, CM_E_BAD_DB, "Unknown database '%s'", q.db);
            break;
        }
        r.cols[0] = col_text("Database");
        r.cols[1] = col_text("Create Database");
        r.ncols = 2;
        cm_buf_printf(&text, "CREATE DATABASE %s",
                      q.if_not_exists ? "/*!32312 IF NOT EXISTS*/ " : "");
        append_quoted(&text, d->name, '`');
        cm_buf_printf(&text, " /*!40100 DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin */ "
                             "/*!80016 DEFAULT ENCRYPTION='N' */");
        row_begin(&r);
        put_text(&r, d->name);
        put_text_n(&r, (const char *)text.ptr, text.len);
        row_end(&r);
        break;
    }
    default:
        rc = cm_err_set(err, CM_E_INTERNAL, "unknown SHOW");
    }
    if (rc == 0 && q.where > 0) {
        /* filter what was built: rebuild rows through the WHERE terms */
        rc = parse_where(src, t, q.where, q.filter_end, &r, &a, err);
        if (rc == 0) {
            uint32_t w = 0;
            for (uint32_t i = 0; i + r.ncols <= r.ncells; i += r.ncols) {
                r.row_start = r.ncells; /* evaluate the row in place via a copy at the end */
                for (uint32_t k = 0; k < r.ncols; k++) {
                    add_cell(&r, r.cells[i + k]);
                }
                row_end(&r);
                if (r.ncells > r.row_start) { /* kept */
                    memmove(&r.cells[w], &r.cells[r.row_start], sizeof(cellv) * r.ncols);
                    w += r.ncols;
                }
                r.ncells = r.row_start;
            }
            r.ncells = w;
        }
    }
    if (rc == CM_E_NOMEM) {
        rc = cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    if (rc == 0) {
        rc = res_send(&r, sink, err);
    }
    res_fini(&r);
    cm_buf_fini(&title);
    cm_buf_fini(&text);
    cm_arena_fini(&a);
    show_req_fini(&q);
    return rc;
}

int sql_cat_describe(sql_catalog *c, const sql_schema *s, const char *curdb, const char *table,
                     sql_sink *sink, cm_err *err)
{
    (void)c;
    if (curdb == NULL) {
        return cm_err_set(err, CM_E_NO_DB, "No database selected");
    }
    const sql_cat_table *t = sql_schema_table(s, curdb, table);
    if (t == NULL) {
        return cm_err_set(err, CM_E_NO_SUCH_TABLE, "Table '%s.%s' doesn't exist", curdb, table);
    }
    return sql_cat_show_columns(t, false, NULL, sink, err);
}
