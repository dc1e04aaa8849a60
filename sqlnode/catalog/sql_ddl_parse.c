/*
 * sql_ddl_parse.c — the DDL statements of the catalog, from the session's tokens into a
 * sql_ddl_stmt: CREATE/DROP DATABASE, CREATE TABLE (columns, inline and table keys, table
 * options, LIKE), DROP TABLE, CREATE/DROP INDEX, ALTER TABLE ADD/DROP/RENAME INDEX, ADD/DROP/
 * RENAME/MODIFY/CHANGE COLUMN and options, TRUNCATE, RENAME TABLE. Column types go through the
 * types module (sql_type_parse); defaults are checked later by sql_ddl_build_table. What MySQL has
 * and this module does not run is 1235, not 1064.
 */
#include "sql_cat_int.h"

#include "sql_charset.h"

#include <stdlib.h>
#include <string.h>

typedef struct ps {
    const char *src;
    const sql_token *t;
    uint32_t n, i;
    cm_arena *a;
    cm_err *err;
    unsigned mode;  /* SQL_MODE_* bits the tokens were lexed with (string escapes) */
    bool alter_col; /* a column definition of ALTER TABLE: FIRST / AFTER / ';' end it too */
} ps;

static const sql_token *cur(const ps *p)
{
    return p->i < p->n ? &p->t[p->i] : NULL;
}

static bool is_kw(const ps *p, const char *kw)
{
    return p->i < p->n && sql_tok_is(p->src, &p->t[p->i], kw);
}

static bool is_kw_at(const ps *p, uint32_t k, const char *kw)
{
    return p->i + k < p->n && sql_tok_is(p->src, &p->t[p->i + k], kw);
}

static bool accept_kw(ps *p, const char *kw)
{
    if (is_kw(p, kw)) {
        p->i++;
        return true;
    }
    return false;
}

static bool is_type(const ps *p, sql_tk ty)
{
    return p->i < p->n && p->t[p->i].type == ty;
}

static bool accept_type(ps *p, sql_tk ty)
{
    if (is_type(p, ty)) {
        p->i++;
        return true;
    }
    return false;
}

static bool is_op(const ps *p, const char *op)
{
    const sql_token *k = cur(p);
    size_t n = strlen(op);
    return k != NULL && k->type == SQL_TK_OP && k->len == n && memcmp(p->src + k->off, op, n) == 0;
}

static bool accept_op(ps *p, const char *op)
{
    if (is_op(p, op)) {
        p->i++;
        return true;
    }
    return false;
}

static int syntax(ps *p)
{
    if (p->i >= p->n) {
        return cm_err_set(p->err, CM_E_PARSE,
                          "You have an error in your SQL syntax; check the manual that corresponds "
                          "to your MySQL server version for the right syntax to use near '' at "
                          "line 1");
    }
    const sql_token *k = &p->t[p->i];
    const sql_token *last = &p->t[p->n - 1];
    size_t len = last->off + last->len - k->off;
    return cm_err_set(p->err, CM_E_PARSE,
                      "You have an error in your SQL syntax; check the manual that corresponds to "
                      "your MySQL server version for the right syntax to use near '%.*s' at line 1",
                      (int)(len > 80 ? 80 : len), p->src + k->off);
}

static int unsupported(ps *p, const char *what)
{
    return cm_err_set(p->err, CM_E_UNSUPPORTED, "This version of Tessera doesn't yet support '%s'",
                      what);
}

static int expect_kw(ps *p, const char *kw)
{
    return accept_kw(p, kw) ? 0 : syntax(p);
}

static char *slice_dup(ps *p, const uint8_t *s, size_t n)
{
    char *d = cm_arena_strndup(p->a, (const char *)s, n);
    if (d == NULL) {
        cm_err_set(p->err, CM_E_NOMEM, "out of memory");
    }
    return d;
}

/* An identifier (bare or quoted) into the arena. */
static int ident(ps *p, char **out)
{
    const sql_token *k = cur(p);
    if (k == NULL || (k->type != SQL_TK_IDENT && k->type != SQL_TK_QIDENT)) {
        return syntax(p);
    }
    cm_buf b = CM_BUF_INIT;
    int rc = sql_tok_name(p->src, k, &b);
    if (rc == 0) {
        *out = slice_dup(p, b.ptr ? b.ptr : (const uint8_t *)"", b.len);
        rc = *out == NULL ? CM_E_NOMEM : 0;
    } else {
        rc = cm_err_set(p->err, rc, "out of memory");
    }
    cm_buf_fini(&b);
    if (rc == 0) {
        p->i++;
    }
    return rc;
}

/* A string literal (several adjacent ones concatenate, as in MySQL). */
static int string_lit(ps *p, char **out)
{
    if (!is_type(p, SQL_TK_STRING)) {
        return syntax(p);
    }
    cm_buf b = CM_BUF_INIT;
    int rc = 0;
    while (rc == 0 && is_type(p, SQL_TK_STRING)) {
        rc = sql_tok_string(p->src, cur(p), p->mode, &b);
        p->i++;
    }
    if (rc == 0) {
        *out = slice_dup(p, b.ptr ? b.ptr : (const uint8_t *)"", b.len);
        rc = *out == NULL ? CM_E_NOMEM : 0;
    } else {
        rc = cm_err_set(p->err, CM_E_NOMEM, "out of memory");
    }
    cm_buf_fini(&b);
    return rc;
}

/* A name or a string (charset names, engines, options). */
static int word_or_string(ps *p, char **out)
{
    if (is_type(p, SQL_TK_STRING)) {
        return string_lit(p, out);
    }
    return ident(p, out);
}

static int qualified(ps *p, sql_ddl_name *nm)
{
    nm->db = NULL;
    int rc = ident(p, &nm->name);
    if (rc == 0 && accept_type(p, SQL_TK_DOT)) {
        nm->db = nm->name;
        rc = ident(p, &nm->name);
    }
    return rc;
}

static uint64_t int_value(const ps *p, const sql_token *k, bool *ok)
{
    char buf[32];
    *ok = false;
    if (k->type != SQL_TK_INT || k->len >= sizeof(buf)) {
        return 0;
    }
    memcpy(buf, p->src + k->off, k->len);
    buf[k->len] = 0;
    char *end = NULL;
    unsigned long long v = strtoull(buf, &end, 10);
    *ok = end != NULL && *end == 0;
    return v;
}

static int uint_lit(ps *p, uint64_t *v)
{
    bool ok;
    const sql_token *k = cur(p);
    if (k == NULL) {
        return syntax(p);
    }
    *v = int_value(p, k, &ok);
    if (!ok) {
        return syntax(p);
    }
    p->i++;
    return 0;
}

static void *grow(ps *p, void *old, uint32_t n, size_t size)
{
    /* arrays grow by doubling inside the arena (the old block is simply left behind) */
    if (n != 0 && (n & (n - 1)) != 0) {
        return old;
    }
    uint32_t cap = n == 0 ? 4 : n * 2;
    void *q = cm_arena_alloc(p->a, (size_t)cap * size);
    if (q == NULL) {
        cm_err_set(p->err, CM_E_NOMEM, "out of memory");
        return NULL;
    }
    if (n > 0) {
        memcpy(q, old, (size_t)n * size);
    }
    return q;
}

/* ---- options -----------------------------------------------------------------------------------
 */

static int charset_name(ps *p, char **out)
{
    int rc = word_or_string(p, out);
    if (rc != 0) {
        return rc;
    }
    if (sql_cat_namecmp(*out, "binary") != 0 && sql_charset_default(*out, strlen(*out)) == NULL) {
        return cm_err_set(p->err, CM_E_UNKNOWN_CHARSET, "Unknown character set: '%s'", *out);
    }
    return 0;
}

static int collation_name(ps *p, char **out)
{
    int rc = word_or_string(p, out);
    if (rc != 0) {
        return rc;
    }
    if (sql_cat_namecmp(*out, "binary") != 0 && sql_collation_by_name(*out, strlen(*out)) == NULL) {
        return cm_err_set(p->err, CM_E_UNKNOWN_COLLATION, "Unknown collation: '%s'", *out);
    }
    return 0;
}

/* [DEFAULT] CHARACTER SET|CHARSET [=] x, [DEFAULT] COLLATE [=] x; 1 when one was read. */
static int charset_option(ps *p, sql_ddl_stmt *st)
{
    uint32_t save = p->i;
    accept_kw(p, "DEFAULT");
    bool cs = accept_kw(p, "CHARSET");
    if (!cs && is_kw(p, "CHARACTER") && is_kw_at(p, 1, "SET")) {
        p->i += 2;
        cs = true;
    }
    if (cs) {
        accept_op(p, "=");
        int rc = charset_name(p, &st->charset);
        return rc != 0 ? rc : 1;
    }
    if (accept_kw(p, "COLLATE")) {
        accept_op(p, "=");
        int rc = collation_name(p, &st->collation);
        return rc != 0 ? rc : 1;
    }
    p->i = save;
    return 0;
}

/* Table options MySQL has that change nothing here: accepted with a value. */
static const char *const ignored_options[] = {
    "ROW_FORMAT",       "KEY_BLOCK_SIZE",     "AVG_ROW_LENGTH",
    "MAX_ROWS",         "MIN_ROWS",           "PACK_KEYS",
    "STATS_PERSISTENT", "STATS_AUTO_RECALC",  "CHECKSUM",
    "DELAY_KEY_WRITE",  "STATS_SAMPLE_PAGES", "COMPRESSION",
    "ENCRYPTION",       "INSERT_METHOD",      "TABLE_CHECKSUM",
    "SECONDARY_ENGINE", "AUTOEXTEND_SIZE",    NULL,
};

static int option_value(ps *p)
{
    const sql_token *k = cur(p);
    if (k == NULL || k->type == SQL_TK_COMMA || k->type == SQL_TK_LPAREN ||
        k->type == SQL_TK_RPAREN || k->type == SQL_TK_SEMI) {
        return syntax(p);
    }
    p->i++;
    return 0;
}

/* One table option at p: 1 when one was read, 0 when none starts here, or an error. */
static int table_option(ps *p, sql_ddl_stmt *st)
{
    int rc = charset_option(p, st);
    if (rc != 0) {
        return rc;
    }
    if (accept_kw(p, "ENGINE")) {
        accept_op(p, "=");
        rc = word_or_string(p, &st->engine);
    } else if (accept_kw(p, "AUTO_INCREMENT")) {
        accept_op(p, "=");
        rc = uint_lit(p, &st->autoinc_start);
        st->has_autoinc_start = true;
    } else if (accept_kw(p, "COMMENT")) {
        accept_op(p, "=");
        rc = string_lit(p, &st->comment);
        if (rc == 0 && sql_cat_chars(st->comment) > SQL_CAT_COMMENT_MAX) {
            return cm_err_set(p->err, CM_E_TOO_LONG_TABLE_COMMENT,
                              "Comment for table '%s' is too long (max = %d)",
                              st->target.name ? st->target.name : "", SQL_CAT_COMMENT_MAX);
        }
    } else {
        uint32_t save = p->i;
        accept_kw(p, "DEFAULT"); /* DEFAULT ROW_FORMAT etc. */
        bool known = false;
        for (int j = 0; ignored_options[j] != NULL && !known; j++) {
            known = is_kw(p, ignored_options[j]);
        }
        if (!known) {
            p->i = save;
            return 0;
        }
        p->i++;
        accept_op(p, "=");
        rc = option_value(p);
    }
    return rc != 0 ? rc : 1;
}

static int table_options(ps *p, sql_ddl_stmt *st)
{
    for (;;) {
        if (p->i >= p->n || is_type(p, SQL_TK_SEMI)) {
            return 0;
        }
        int rc = table_option(p, st);
        if (rc < 0) {
            return rc;
        }
        if (rc == 0) {
            if (is_kw(p, "PARTITION") || is_kw(p, "TABLESPACE") || is_kw(p, "UNION") ||
                is_kw(p, "DATA") || is_kw(p, "INDEX")) {
                return unsupported(p, "table option");
            }
            return syntax(p);
        }
        accept_type(p, SQL_TK_COMMA);
    }
}

/* ---- keys ---------------------------------------------------------------------------------- */

/* (col [(len)] [ASC|DESC], ...) */
static int key_parts(ps *p, sql_ddl_index *ix)
{
    if (!accept_type(p, SQL_TK_LPAREN)) {
        return syntax(p);
    }
    do {
        if (is_type(p, SQL_TK_LPAREN)) {
            return unsupported(p, "functional key parts");
        }
        sql_ddl_keypart kp = {0};
        int rc = ident(p, &kp.col);
        if (rc != 0) {
            return rc;
        }
        if (accept_type(p, SQL_TK_LPAREN)) {
            uint64_t v;
            rc = uint_lit(p, &v);
            if (rc != 0) {
                return rc;
            }
            if (v == 0 || v > UINT32_MAX) {
                return cm_err_set(p->err, CM_E_WRONG_SUB_KEY,
                                  "Incorrect prefix key; the used key part isn't a string, the "
                                  "used length is longer than the key part, or the storage engine "
                                  "doesn't support unique prefix keys");
            }
            kp.prefix_len = (uint32_t)v;
            if (!accept_type(p, SQL_TK_RPAREN)) {
                return syntax(p);
            }
        }
        if (!accept_kw(p, "ASC") && accept_kw(p, "DESC")) {
            return unsupported(p, "descending indexes");
        }
        sql_ddl_keypart *parts = grow(p, ix->parts, ix->nparts, sizeof(*parts));
        if (parts == NULL) {
            return CM_E_NOMEM;
        }
        ix->parts = parts;
        ix->parts[ix->nparts++] = kp;
    } while (accept_type(p, SQL_TK_COMMA));
    if (!accept_type(p, SQL_TK_RPAREN)) {
        return syntax(p);
    }
    return 0;
}

/* USING BTREE|HASH, COMMENT 's', KEY_BLOCK_SIZE [=] n, VISIBLE, INVISIBLE */
static int index_options(ps *p, sql_ddl_index *ix)
{
    for (;;) {
        if (accept_kw(p, "USING")) {
            if (!accept_kw(p, "BTREE") && !accept_kw(p, "HASH")) {
                return syntax(p);
            }
        } else if (accept_kw(p, "COMMENT")) {
            int rc = string_lit(p, &ix->comment);
            if (rc != 0) {
                return rc;
            }
            if (sql_cat_chars(ix->comment) > SQL_CAT_COL_COMMENT_MAX) {
                return cm_err_set(p->err, CM_E_TOO_LONG_INDEX_COMMENT,
                                  "Comment for index '%s' is too long (max = %d)",
                                  ix->name ? ix->name : "", SQL_CAT_COL_COMMENT_MAX);
            }
        } else if (accept_kw(p, "KEY_BLOCK_SIZE")) {
            accept_op(p, "=");
            uint64_t v;
            int rc = uint_lit(p, &v);
            if (rc != 0) {
                return rc;
            }
        } else if (accept_kw(p, "VISIBLE")) {
        } else if (is_kw(p, "INVISIBLE")) {
            return unsupported(p, "invisible indexes");
        } else {
            return 0;
        }
    }
}

/* [name] [USING x] (parts) [options]; the name is optional unless need_name. */
static int index_body(ps *p, sql_ddl_index *ix, bool need_name)
{
    int rc;
    if (!is_type(p, SQL_TK_LPAREN) && !is_kw(p, "USING")) {
        rc = ident(p, &ix->name);
        if (rc != 0) {
            return rc;
        }
    } else if (need_name) {
        return syntax(p);
    }
    rc = index_options(p, ix);
    if (rc == 0) {
        rc = key_parts(p, ix);
    }
    if (rc == 0) {
        rc = index_options(p, ix);
    }
    return rc;
}

static int push_index(ps *p, sql_ddl_stmt *st, const sql_ddl_index *ix)
{
    sql_ddl_index *v = grow(p, st->indexes, st->nindexes, sizeof(*v));
    if (v == NULL) {
        return CM_E_NOMEM;
    }
    st->indexes = v;
    st->indexes[st->nindexes++] = *ix;
    return 0;
}

/* A table-level key definition, the first token already known to start one. */
static int table_key(ps *p, sql_ddl_index *ix)
{
    char *constraint = NULL;
    memset(ix, 0, sizeof(*ix));
    if (accept_kw(p, "CONSTRAINT")) {
        if (!is_kw(p, "PRIMARY") && !is_kw(p, "UNIQUE") && !is_kw(p, "FOREIGN") &&
            !is_kw(p, "CHECK")) {
            int rc = ident(p, &constraint);
            if (rc != 0) {
                return rc;
            }
        }
    }
    if (accept_kw(p, "PRIMARY")) {
        int rc = expect_kw(p, "KEY");
        if (rc != 0) {
            return rc;
        }
        ix->primary = true;
        ix->unique = true;
        rc = index_options(p, ix);
        if (rc == 0) {
            rc = key_parts(p, ix);
        }
        if (rc == 0) {
            rc = index_options(p, ix);
        }
        return rc;
    }
    if (accept_kw(p, "UNIQUE")) {
        if (!accept_kw(p, "INDEX")) {
            accept_kw(p, "KEY");
        }
        ix->unique = true;
        int rc = index_body(p, ix, false);
        if (rc == 0 && ix->name == NULL) {
            ix->name = constraint;
        }
        return rc;
    }
    if (constraint == NULL && (accept_kw(p, "INDEX") || accept_kw(p, "KEY"))) {
        return index_body(p, ix, false);
    }
    if (is_kw(p, "FOREIGN")) {
        return unsupported(p, "FOREIGN KEY");
    }
    if (is_kw(p, "CHECK")) {
        return unsupported(p, "CHECK constraints");
    }
    if (is_kw(p, "FULLTEXT") || is_kw(p, "SPATIAL")) {
        return unsupported(p, "FULLTEXT/SPATIAL indexes");
    }
    return syntax(p);
}

static bool starts_table_key(const ps *p)
{
    static const char *const kws[] = {"PRIMARY", "UNIQUE",   "KEY",     "INDEX", "CONSTRAINT",
                                      "FOREIGN", "FULLTEXT", "SPATIAL", "CHECK", NULL};
    for (int j = 0; kws[j] != NULL; j++) {
        if (is_kw(p, kws[j])) {
            return true;
        }
    }
    return false;
}

/* ---- columns ------------------------------------------------------------------------------- */

/* CURRENT_TIMESTAMP[(n)], NOW(n), LOCALTIME[()], LOCALTIMESTAMP[()]: *fsp gets n (0). */
static bool now_func(ps *p, uint8_t *fsp, int *rc)
{
    *rc = 0;
    bool paren_required = is_kw(p, "NOW");
    if (!is_kw(p, "CURRENT_TIMESTAMP") && !is_kw(p, "LOCALTIME") && !is_kw(p, "LOCALTIMESTAMP") &&
        !paren_required) {
        return false;
    }
    p->i++;
    *fsp = 0;
    if (accept_type(p, SQL_TK_LPAREN)) {
        if (!is_type(p, SQL_TK_RPAREN)) {
            uint64_t v;
            *rc = uint_lit(p, &v);
            if (*rc != 0) {
                return true;
            }
            if (v > 6) {
                *rc = cm_err_set(p->err, CM_E_INVALID,
                                 "Too-big precision %llu specified; "
                                 "maximum is 6",
                                 (unsigned long long)v);
                return true;
            }
            *fsp = (uint8_t)v;
        }
        if (!accept_type(p, SQL_TK_RPAREN)) {
            *rc = syntax(p);
        }
    } else if (paren_required) {
        *rc = syntax(p);
    }
    return true;
}

/* The literal of a DEFAULT clause as a value (text borrowed from the arena). */
static int default_literal(ps *p, sql_value *v, bool *is_null)
{
    *is_null = false;
    bool neg = false;
    if (accept_op(p, "-")) {
        neg = true;
    } else {
        accept_op(p, "+");
    }
    const sql_token *k = cur(p);
    if (k == NULL) {
        return syntax(p);
    }
    if (!neg && k->type == SQL_TK_STRING) {
        char *s;
        int rc = string_lit(p, &s);
        if (rc == 0) {
            *v = sql_value_text(s, strlen(s));
        }
        return rc;
    }
    if (k->type == SQL_TK_INT) {
        bool ok;
        uint64_t u = int_value(p, k, &ok);
        if (!ok) { /* beyond uint64: hand it over as text */
            k = NULL;
        } else if (neg) {
            if (u > (uint64_t)INT64_MAX + 1) {
                k = NULL;
            } else {
                *v = sql_value_int(u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u);
                p->i++;
                return 0;
            }
        } else if (u > (uint64_t)INT64_MAX) {
            *v = sql_value_null();
            v->type = SQL_V_UINT;
            v->u = u;
            p->i++;
            return 0;
        } else {
            *v = sql_value_int((int64_t)u);
            p->i++;
            return 0;
        }
        k = cur(p);
    }
    if (k->type == SQL_TK_INT || k->type == SQL_TK_DECIMAL || k->type == SQL_TK_FLOAT) {
        char *s = cm_arena_alloc(p->a, k->len + 2);
        if (s == NULL) {
            return cm_err_set(p->err, CM_E_NOMEM, "out of memory");
        }
        size_t o = 0;
        if (neg) {
            s[o++] = '-';
        }
        memcpy(s + o, p->src + k->off, k->len);
        s[o + k->len] = 0;
        *v = sql_value_text(s, strlen(s));
        p->i++;
        return 0;
    }
    if (neg) {
        return syntax(p);
    }
    if (k->type == SQL_TK_HEX || k->type == SQL_TK_BIT) {
        /* digits between voff/vlen (0x.. / X'..' / 0b.. / B'..') */
        const char *d = p->src + k->voff;
        uint32_t nd = k->vlen;
        bool hex = k->type == SQL_TK_HEX;
        if (hex) {
            size_t nb = (nd + 1) / 2;
            uint8_t *b = cm_arena_alloc(p->a, nb + 1);
            if (b == NULL) {
                return cm_err_set(p->err, CM_E_NOMEM, "out of memory");
            }
            for (size_t j = 0; j < nb; j++) {
                unsigned x = 0;
                for (size_t h = 0; h < 2; h++) {
                    size_t pos = j * 2 + h - (nd % 2); /* an odd count has an implied leading 0 */
                    char c = (j * 2 + h < nd % 2) ? '0' : d[pos];
                    x = x * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 32) - 'a' + 10);
                }
                b[j] = (uint8_t)x;
            }
            v->type = SQL_V_BLOB;
            v->s = (const char *)b;
            v->n = nb;
        } else {
            uint64_t u = 0;
            for (uint32_t j = 0; j < nd; j++) {
                u = u << 1 | (uint64_t)(d[j] == '1');
            }
            *v = sql_value_null();
            v->type = SQL_V_UINT;
            v->u = u;
        }
        p->i++;
        return 0;
    }
    if (accept_kw(p, "NULL")) {
        *is_null = true;
        *v = sql_value_null();
        return 0;
    }
    if (accept_kw(p, "TRUE")) {
        *v = sql_value_int(1);
        return 0;
    }
    if (accept_kw(p, "FALSE")) {
        *v = sql_value_int(0);
        return 0;
    }
    if (k->type == SQL_TK_LPAREN) {
        return unsupported(p, "expression defaults");
    }
    return syntax(p);
}

static int column_attrs(ps *p, sql_ddl_col *dc)
{
    sql_cat_col *c = &dc->col;
    for (;;) {
        const sql_token *k = cur(p);
        if (k == NULL || k->type == SQL_TK_COMMA || k->type == SQL_TK_RPAREN) {
            return 0;
        }
        if (p->alter_col && (k->type == SQL_TK_SEMI || is_kw(p, "FIRST") || is_kw(p, "AFTER"))) {
            return 0;
        }
        int rc = 0;
        if (accept_kw(p, "NOT")) {
            rc = expect_kw(p, "NULL");
            c->not_null = true;
            dc->null_explicit = false;
        } else if (accept_kw(p, "NULL")) {
            c->not_null = false;
            dc->null_explicit = true;
        } else if (accept_kw(p, "DEFAULT")) {
            uint8_t fsp = 0;
            c->default_now = false;
            c->default_null = false;
            dc->def_literal = false;
            if (now_func(p, &fsp, &rc)) {
                /* the fsp is checked against the type when the table is built */
                c->default_now = rc == 0;
                c->has_default = rc == 0;
                dc->now_fsp = fsp;
            } else {
                bool is_null;
                rc = default_literal(p, &dc->def_value, &is_null);
                if (rc == 0) {
                    c->has_default = true;
                    c->default_null = is_null;
                    dc->def_literal = !is_null;
                }
            }
        } else if (accept_kw(p, "ON")) {
            rc = expect_kw(p, "UPDATE");
            uint8_t fsp = 0;
            if (rc == 0 && !now_func(p, &fsp, &rc)) {
                rc = syntax(p);
            }
            c->on_update_now = rc == 0;
            dc->upd_fsp = fsp;
        } else if (accept_kw(p, "AUTO_INCREMENT")) {
            c->auto_inc = true;
        } else if (accept_kw(p, "UNIQUE")) {
            accept_kw(p, "KEY");
            dc->inline_unique = true;
        } else if (accept_kw(p, "PRIMARY")) {
            rc = expect_kw(p, "KEY");
            dc->inline_primary = true;
        } else if (accept_kw(p, "KEY")) {
            dc->inline_primary = true;
        } else if (accept_kw(p, "COMMENT")) {
            rc = string_lit(p, &c->comment);
            if (rc == 0 && sql_cat_chars(c->comment) > SQL_CAT_COL_COMMENT_MAX) {
                return cm_err_set(p->err, CM_E_TOO_LONG_FIELD_COMMENT,
                                  "Comment for field '%s' is too long (max = %d)", c->name,
                                  SQL_CAT_COL_COMMENT_MAX);
            }
        } else if (accept_kw(p, "COLLATE")) {
            char *x;
            rc = word_or_string(p, &x);
            if (rc == 0) {
                rc = sql_type_apply_collate(&c->type, x, strlen(x), p->err);
            }
        } else if (accept_kw(p, "CHARSET") ||
                   (is_kw(p, "CHARACTER") && is_kw_at(p, 1, "SET") && (p->i += 2))) {
            char *x;
            rc = charset_name(p, &x);
        } else if (accept_kw(p, "VISIBLE")) {
        } else if (accept_kw(p, "COLUMN_FORMAT") || accept_kw(p, "STORAGE")) {
            rc = option_value(p);
        } else if (accept_kw(p, "SERIAL")) {
            rc = expect_kw(p, "DEFAULT");
            if (rc == 0) {
                rc = expect_kw(p, "VALUE");
            }
            c->not_null = true;
            c->auto_inc = true;
            dc->inline_unique = true;
        } else if (is_kw(p, "GENERATED") || is_kw(p, "AS")) {
            return unsupported(p, "generated columns");
        } else if (is_kw(p, "REFERENCES")) {
            return unsupported(p, "FOREIGN KEY");
        } else if (is_kw(p, "CHECK")) {
            return unsupported(p, "CHECK constraints");
        } else if (is_kw(p, "INVISIBLE")) {
            return unsupported(p, "invisible columns");
        } else {
            return syntax(p);
        }
        if (rc != 0) {
            return rc;
        }
    }
}

/* name type attributes, into *out (CREATE TABLE and ALTER TABLE share it). */
static int column_def_into(ps *p, sql_ddl_col *out)
{
    sql_ddl_col dc;
    memset(&dc, 0, sizeof(dc));
    int rc = ident(p, &dc.col.name);
    if (rc != 0) {
        return rc;
    }
    sql_coltype ty;
    memset(&ty, 0, sizeof(ty));
    uint32_t pos = p->i;
    bool serial = is_kw(p, "SERIAL");
    rc = sql_type_parse_named(p->src, p->t, p->n, &pos, dc.col.name, p->mode, &ty, p->err);
    if (rc != 0) {
        return rc;
    }
    p->i = pos;
    /* members move into the arena so the statement owns everything in one place */
    dc.col.type = ty;
    dc.col.type.members = NULL;
    if (ty.nmembers > 0) {
        dc.col.type.members = cm_arena_alloc(p->a, sizeof(char *) * ty.nmembers);
        for (uint16_t m = 0; dc.col.type.members != NULL && m < ty.nmembers; m++) {
            dc.col.type.members[m] = cm_arena_strndup(p->a, ty.members[m], strlen(ty.members[m]));
            if (dc.col.type.members[m] == NULL) {
                dc.col.type.members = NULL;
            }
        }
        if (dc.col.type.members == NULL) {
            sql_coltype_free(&ty);
            return cm_err_set(p->err, CM_E_NOMEM, "out of memory");
        }
    }
    sql_coltype_free(&ty);
    if (serial) { /* SERIAL = BIGINT UNSIGNED NOT NULL AUTO_INCREMENT UNIQUE */
        dc.col.not_null = true;
        dc.col.auto_inc = true;
        dc.inline_unique = true;
    }
    rc = column_attrs(p, &dc);
    if (rc != 0) {
        return rc;
    }
    *out = dc;
    return 0;
}

static int column_def(ps *p, sql_ddl_stmt *st)
{
    sql_ddl_col dc;
    int rc = column_def_into(p, &dc);
    if (rc != 0) {
        return rc;
    }
    sql_ddl_col *v = grow(p, st->cols, st->ncols, sizeof(*v));
    if (v == NULL) {
        return CM_E_NOMEM;
    }
    st->cols = v;
    st->cols[st->ncols++] = dc;
    return 0;
}

/* ---- statements ---------------------------------------------------------------------------- */

static int end_of_statement(ps *p)
{
    accept_type(p, SQL_TK_SEMI);
    return p->i == p->n ? 0 : syntax(p);
}

static int if_not_exists(ps *p, bool *flag)
{
    if (accept_kw(p, "IF")) {
        int rc = expect_kw(p, "NOT");
        if (rc == 0) {
            rc = expect_kw(p, "EXISTS");
        }
        *flag = rc == 0;
        return rc;
    }
    return 0;
}

static int if_exists(ps *p, bool *flag)
{
    if (accept_kw(p, "IF")) {
        int rc = expect_kw(p, "EXISTS");
        *flag = rc == 0;
        return rc;
    }
    return 0;
}

static int create_database(ps *p, sql_ddl_stmt *st)
{
    st->kind = SQL_DDL_CREATE_DB;
    int rc = if_not_exists(p, &st->if_not_exists);
    if (rc == 0) {
        rc = ident(p, &st->target.name);
    }
    while (rc == 0 && p->i < p->n && !is_type(p, SQL_TK_SEMI)) {
        rc = charset_option(p, st);
        if (rc == 0) {
            uint32_t save = p->i;
            accept_kw(p, "DEFAULT");
            if (accept_kw(p, "ENCRYPTION")) {
                accept_op(p, "=");
                rc = option_value(p);
            } else {
                p->i = save;
                rc = syntax(p);
            }
        } else if (rc == 1) {
            rc = 0;
        }
    }
    return rc == 0 ? end_of_statement(p) : rc;
}

static int create_table(ps *p, sql_ddl_stmt *st)
{
    st->kind = SQL_DDL_CREATE_TABLE;
    int rc = if_not_exists(p, &st->if_not_exists);
    if (rc == 0) {
        rc = qualified(p, &st->target);
    }
    if (rc != 0) {
        return rc;
    }
    if (accept_kw(p, "LIKE")) {
        st->kind = SQL_DDL_CREATE_LIKE;
        rc = qualified(p, &st->like);
        return rc == 0 ? end_of_statement(p) : rc;
    }
    if (!accept_type(p, SQL_TK_LPAREN)) {
        if (is_kw(p, "AS") || is_kw(p, "SELECT")) {
            return unsupported(p, "CREATE TABLE ... SELECT");
        }
        return syntax(p);
    }
    if (accept_kw(p, "LIKE")) {
        st->kind = SQL_DDL_CREATE_LIKE;
        rc = qualified(p, &st->like);
        if (rc == 0 && !accept_type(p, SQL_TK_RPAREN)) {
            rc = syntax(p);
        }
        return rc == 0 ? end_of_statement(p) : rc;
    }
    do {
        if (starts_table_key(p) && cur(p)->type == SQL_TK_IDENT) {
            sql_ddl_index ix;
            rc = table_key(p, &ix);
            if (rc == 0) {
                rc = push_index(p, st, &ix);
            }
        } else {
            rc = column_def(p, st);
        }
        if (rc != 0) {
            return rc;
        }
    } while (accept_type(p, SQL_TK_COMMA));
    if (!accept_type(p, SQL_TK_RPAREN)) {
        return syntax(p);
    }
    if (is_kw(p, "PARTITION")) {
        return unsupported(p, "partitioned tables");
    }
    if (is_kw(p, "AS") || is_kw(p, "SELECT") || is_kw(p, "IGNORE") || is_kw(p, "REPLACE")) {
        return unsupported(p, "CREATE TABLE ... SELECT");
    }
    rc = table_options(p, st);
    return rc == 0 ? end_of_statement(p) : rc;
}

static int algorithm_lock(ps *p)
{
    while (is_kw(p, "ALGORITHM") || is_kw(p, "LOCK")) {
        p->i++;
        accept_op(p, "=");
        int rc = option_value(p);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static int push_op(ps *p, sql_ddl_stmt *st, const sql_alter_op *op)
{
    sql_alter_op *v = grow(p, st->ops, st->nops, sizeof(*v));
    if (v == NULL) {
        return CM_E_NOMEM;
    }
    st->ops = v;
    st->ops[st->nops++] = *op;
    return 0;
}

/* CREATE [UNIQUE] INDEX name [USING x] ON t (parts) [options] */
static int create_index(ps *p, sql_ddl_stmt *st, bool unique)
{
    st->kind = SQL_DDL_ALTER_TABLE;
    st->create_index = true;
    sql_alter_op op;
    memset(&op, 0, sizeof(op));
    op.kind = SQL_ALTER_ADD_INDEX;
    op.ix.unique = unique;
    int rc = ident(p, &op.ix.name);
    if (rc == 0) {
        rc = index_options(p, &op.ix);
    }
    if (rc == 0) {
        rc = expect_kw(p, "ON");
    }
    if (rc == 0) {
        rc = qualified(p, &st->target);
    }
    if (rc == 0) {
        rc = key_parts(p, &op.ix);
    }
    if (rc == 0) {
        rc = index_options(p, &op.ix);
    }
    if (rc == 0) {
        rc = algorithm_lock(p);
    }
    if (rc == 0) {
        rc = push_op(p, st, &op);
    }
    return rc == 0 ? end_of_statement(p) : rc;
}

static int parse_create(ps *p, sql_ddl_stmt *st)
{
    if (accept_kw(p, "DATABASE") || accept_kw(p, "SCHEMA")) {
        return create_database(p, st);
    }
    if (accept_kw(p, "TEMPORARY")) {
        return unsupported(p, "CREATE TEMPORARY TABLE");
    }
    if (accept_kw(p, "TABLE")) {
        return create_table(p, st);
    }
    if (accept_kw(p, "UNIQUE")) {
        int rc = expect_kw(p, "INDEX");
        return rc == 0 ? create_index(p, st, true) : rc;
    }
    if (accept_kw(p, "INDEX")) {
        return create_index(p, st, false);
    }
    if (is_kw(p, "FULLTEXT") || is_kw(p, "SPATIAL")) {
        return unsupported(p, "FULLTEXT/SPATIAL indexes");
    }
    return syntax(p);
}

static int name_list(ps *p, sql_ddl_stmt *st)
{
    do {
        sql_ddl_name nm;
        int rc = qualified(p, &nm);
        if (rc != 0) {
            return rc;
        }
        sql_ddl_name *v = grow(p, st->names, st->nnames, sizeof(*v));
        if (v == NULL) {
            return CM_E_NOMEM;
        }
        st->names = v;
        st->names[st->nnames++] = nm;
    } while (accept_type(p, SQL_TK_COMMA));
    return 0;
}

static int parse_drop(ps *p, sql_ddl_stmt *st)
{
    int rc;
    if (accept_kw(p, "DATABASE") || accept_kw(p, "SCHEMA")) {
        st->kind = SQL_DDL_DROP_DB;
        rc = if_exists(p, &st->if_exists);
        if (rc == 0) {
            rc = ident(p, &st->target.name);
        }
        return rc == 0 ? end_of_statement(p) : rc;
    }
    if (accept_kw(p, "TEMPORARY")) {
        return unsupported(p, "DROP TEMPORARY TABLE");
    }
    if (accept_kw(p, "TABLE") || accept_kw(p, "TABLES")) {
        st->kind = SQL_DDL_DROP_TABLE;
        rc = if_exists(p, &st->if_exists);
        if (rc == 0) {
            rc = name_list(p, st);
        }
        if (rc == 0 && !accept_kw(p, "RESTRICT")) {
            accept_kw(p, "CASCADE");
        }
        return rc == 0 ? end_of_statement(p) : rc;
    }
    if (accept_kw(p, "INDEX")) {
        st->kind = SQL_DDL_ALTER_TABLE;
        st->create_index = true;
        sql_alter_op op;
        memset(&op, 0, sizeof(op));
        op.kind = SQL_ALTER_DROP_INDEX;
        rc = ident(p, &op.ix.name);
        if (rc == 0) {
            rc = expect_kw(p, "ON");
        }
        if (rc == 0) {
            rc = qualified(p, &st->target);
        }
        if (rc == 0) {
            rc = algorithm_lock(p);
        }
        if (rc == 0) {
            op.ix.primary = sql_cat_namecmp(op.ix.name, "PRIMARY") == 0;
            rc = push_op(p, st, &op);
        }
        return rc == 0 ? end_of_statement(p) : rc;
    }
    return syntax(p);
}

/* A column definition of ALTER TABLE (ADD / MODIFY / CHANGE): coldef [FIRST | AFTER col]. */
static int alter_column_def(ps *p, sql_alter_op *op, bool position)
{
    p->alter_col = true;
    int rc = column_def_into(p, &op->col);
    p->alter_col = false;
    if (rc != 0 || !position) {
        return rc;
    }
    if (accept_kw(p, "FIRST")) {
        op->pos = SQL_COL_POS_FIRST;
    } else if (accept_kw(p, "AFTER")) {
        op->pos = SQL_COL_POS_AFTER;
        rc = ident(p, &op->pos_col);
    }
    return rc;
}

static bool starts_key_here(const ps *p)
{
    return starts_table_key(p) && cur(p)->type == SQL_TK_IDENT;
}

/* ADD [COLUMN] coldef [FIRST | AFTER c] | ADD [COLUMN] (coldef | key, …): one op per column. */
static int add_columns(ps *p, sql_ddl_stmt *st)
{
    sql_alter_op op;
    if (!accept_type(p, SQL_TK_LPAREN)) {
        memset(&op, 0, sizeof(op));
        op.kind = SQL_ALTER_ADD_COLUMN;
        int rc = alter_column_def(p, &op, true);
        return rc == 0 ? push_op(p, st, &op) : rc;
    }
    do {
        memset(&op, 0, sizeof(op));
        int rc;
        if (starts_key_here(p)) {
            op.kind = SQL_ALTER_ADD_INDEX;
            rc = table_key(p, &op.ix);
        } else {
            op.kind = SQL_ALTER_ADD_COLUMN;
            rc = alter_column_def(p, &op, false);
        }
        rc = rc ? rc : push_op(p, st, &op);
        if (rc != 0) {
            return rc;
        }
    } while (accept_type(p, SQL_TK_COMMA));
    return accept_type(p, SQL_TK_RPAREN) ? 0 : syntax(p);
}

static int alter_op(ps *p, sql_ddl_stmt *st)
{
    sql_alter_op op;
    memset(&op, 0, sizeof(op));
    int rc;
    if (accept_kw(p, "ADD")) {
        if (accept_kw(p, "COLUMN") || !starts_key_here(p)) {
            return add_columns(p, st);
        }
        op.kind = SQL_ALTER_ADD_INDEX;
        rc = table_key(p, &op.ix);
    } else if (accept_kw(p, "DROP")) {
        op.kind = SQL_ALTER_DROP_INDEX;
        if (accept_kw(p, "PRIMARY")) {
            rc = expect_kw(p, "KEY");
            op.ix.primary = true;
            op.ix.name = (char *)"PRIMARY";
        } else if (accept_kw(p, "INDEX") || accept_kw(p, "KEY")) {
            rc = ident(p, &op.ix.name);
        } else if (is_kw(p, "FOREIGN") || is_kw(p, "CHECK") || is_kw(p, "CONSTRAINT")) {
            return unsupported(p, "ALTER TABLE DROP FOREIGN KEY / CHECK / CONSTRAINT");
        } else {
            accept_kw(p, "COLUMN");
            op.kind = SQL_ALTER_DROP_COLUMN;
            rc = ident(p, &op.col_name);
        }
    } else if (accept_kw(p, "MODIFY")) {
        accept_kw(p, "COLUMN");
        op.kind = SQL_ALTER_MODIFY_COLUMN;
        rc = alter_column_def(p, &op, true);
    } else if (accept_kw(p, "CHANGE")) {
        accept_kw(p, "COLUMN");
        op.kind = SQL_ALTER_MODIFY_COLUMN;
        rc = ident(p, &op.col_name);
        rc = rc ? rc : alter_column_def(p, &op, true);
    } else if (accept_kw(p, "RENAME")) {
        if (accept_kw(p, "INDEX") || accept_kw(p, "KEY")) {
            op.kind = SQL_ALTER_RENAME_INDEX;
            rc = ident(p, &op.ix.name);
            if (rc == 0) {
                rc = expect_kw(p, "TO");
            }
            if (rc == 0) {
                rc = ident(p, &op.new_name);
            }
        } else if (accept_kw(p, "COLUMN")) {
            op.kind = SQL_ALTER_RENAME_COLUMN;
            rc = ident(p, &op.col_name);
            if (rc == 0) {
                rc = expect_kw(p, "TO");
            }
            if (rc == 0) {
                rc = ident(p, &op.new_name);
            }
        } else {
            /* RENAME [TO|AS] t2: a RENAME TABLE when it is the only change */
            if (!accept_kw(p, "TO")) {
                accept_kw(p, "AS");
            }
            sql_ddl_name to;
            rc = qualified(p, &to);
            if (rc != 0) {
                return rc;
            }
            if (st->nops > 0 || is_type(p, SQL_TK_COMMA)) {
                return unsupported(p, "ALTER TABLE RENAME with other changes");
            }
            sql_ddl_name *v = cm_arena_alloc(p->a, sizeof(*v) * 2);
            if (v == NULL) {
                return cm_err_set(p->err, CM_E_NOMEM, "out of memory");
            }
            v[0] = st->target;
            v[1] = to;
            st->kind = SQL_DDL_RENAME_TABLE;
            st->names = v;
            st->nnames = 2;
            return 0;
        }
    } else if ((is_kw(p, "DISABLE") || is_kw(p, "ENABLE")) && is_kw_at(p, 1, "KEYS")) {
        p->i += 2;
        op.kind = SQL_ALTER_NOOP;
        rc = 0;
    } else {
        rc = table_option(p, st);
        if (rc == 0) {
            return unsupported(p, "ALTER TABLE other than ADD/DROP/RENAME INDEX, ADD/DROP/RENAME/"
                                  "MODIFY/CHANGE COLUMN and options");
        }
        if (rc < 0) {
            return rc;
        }
        /* options may follow each other without commas */
        while ((rc = table_option(p, st)) == 1) {
        }
        if (rc < 0) {
            return rc;
        }
        op.kind = SQL_ALTER_OPTIONS;
    }
    return rc == 0 ? push_op(p, st, &op) : rc;
}

static int parse_alter(ps *p, sql_ddl_stmt *st)
{
    int rc = expect_kw(p, "TABLE");
    if (rc != 0) {
        return rc;
    }
    st->kind = SQL_DDL_ALTER_TABLE;
    rc = qualified(p, &st->target);
    if (rc != 0) {
        return rc;
    }
    do {
        uint32_t before = p->i;
        rc = algorithm_lock(p);
        if (rc == 0 && (p->i >= p->n || is_type(p, SQL_TK_SEMI))) {
            break;
        }
        if (rc == 0 && p->i > before && is_type(p, SQL_TK_COMMA)) {
            continue; /* ALGORITHM=… / LOCK=… is an item of the list by itself */
        }
        if (rc == 0) {
            rc = alter_op(p, st);
        }
        if (rc != 0) {
            return rc;
        }
    } while (st->kind == SQL_DDL_ALTER_TABLE && accept_type(p, SQL_TK_COMMA));
    if (st->kind == SQL_DDL_ALTER_TABLE && st->nops == 0) {
        return syntax(p);
    }
    return end_of_statement(p);
}

int sql_ddl_parse(const char *src, const sql_token *t, uint32_t n, cm_arena *a, sql_ddl_stmt *st,
                  cm_err *err)
{
    return sql_ddl_parse_mode(src, t, n, 0, a, st, err);
}

int sql_ddl_parse_mode(const char *src, const sql_token *t, uint32_t n, unsigned lex_mode,
                       cm_arena *a, sql_ddl_stmt *st, cm_err *err)
{
    ps p = {src, t, n, 0, a, err, lex_mode, false};
    memset(st, 0, sizeof(*st));
    if (accept_kw(&p, "CREATE")) {
        return parse_create(&p, st);
    }
    if (accept_kw(&p, "DROP")) {
        return parse_drop(&p, st);
    }
    if (accept_kw(&p, "ALTER")) {
        return parse_alter(&p, st);
    }
    if (accept_kw(&p, "TRUNCATE")) {
        accept_kw(&p, "TABLE");
        st->kind = SQL_DDL_TRUNCATE;
        int rc = qualified(&p, &st->target);
        return rc == 0 ? end_of_statement(&p) : rc;
    }
    if (accept_kw(&p, "RENAME")) {
        int rc = accept_kw(&p, "TABLE") || accept_kw(&p, "TABLES") ? 0 : syntax(&p);
        st->kind = SQL_DDL_RENAME_TABLE;
        while (rc == 0) {
            sql_ddl_name from, to;
            rc = qualified(&p, &from);
            if (rc == 0) {
                rc = expect_kw(&p, "TO");
            }
            if (rc == 0) {
                rc = qualified(&p, &to);
            }
            sql_ddl_name *v = rc == 0 ? grow(&p, st->names, st->nnames, sizeof(*v)) : NULL;
            if (rc == 0 && v != NULL) {
                st->names = v;
                st->names[st->nnames++] = from;
                v = grow(&p, st->names, st->nnames, sizeof(*v));
                if (v != NULL) {
                    st->names = v;
                    st->names[st->nnames++] = to;
                }
            }
            if (rc == 0 && v == NULL) {
                rc = CM_E_NOMEM;
            }
            if (rc != 0 || !accept_type(&p, SQL_TK_COMMA)) {
                break;
            }
        }
        return rc == 0 ? end_of_statement(&p) : rc;
    }
    return syntax(&p);
}

bool sql_ddl_is_ddl(const char *src, const sql_token *t, uint32_t n)
{
    if (n < 2) {
        return false;
    }
    if (sql_tok_is(src, &t[0], "CREATE")) {
        return sql_tok_is(src, &t[1], "DATABASE") || sql_tok_is(src, &t[1], "SCHEMA") ||
               sql_tok_is(src, &t[1], "TABLE") || sql_tok_is(src, &t[1], "TEMPORARY") ||
               sql_tok_is(src, &t[1], "INDEX") || sql_tok_is(src, &t[1], "FULLTEXT") ||
               sql_tok_is(src, &t[1], "SPATIAL") ||
               (sql_tok_is(src, &t[1], "UNIQUE") && n > 2 && sql_tok_is(src, &t[2], "INDEX"));
    }
    if (sql_tok_is(src, &t[0], "DROP")) {
        return sql_tok_is(src, &t[1], "DATABASE") || sql_tok_is(src, &t[1], "SCHEMA") ||
               sql_tok_is(src, &t[1], "TABLE") || sql_tok_is(src, &t[1], "TABLES") ||
               sql_tok_is(src, &t[1], "TEMPORARY") || sql_tok_is(src, &t[1], "INDEX");
    }
    if (sql_tok_is(src, &t[0], "ALTER")) {
        return sql_tok_is(src, &t[1], "TABLE");
    }
    if (sql_tok_is(src, &t[0], "TRUNCATE")) {
        return true;
    }
    if (sql_tok_is(src, &t[0], "RENAME")) {
        return sql_tok_is(src, &t[1], "TABLE") || sql_tok_is(src, &t[1], "TABLES");
    }
    return false;
}
