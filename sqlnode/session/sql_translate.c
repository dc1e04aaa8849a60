/* sql_translate.c — classify MySQL statements and translate queries to SQLite's dialect. */
#include "sql_translate.h"

#include "../mysql/sql_my_const.h"
#include "sql_datetime.h"
#include "sql_sysvar.h"
#include "sql_lockread.h"
#include "sql_xor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- classification ---- */

static int is_kw(const char *src, const sql_token *t, const char *const *list)
{
    for (; *list; list++) {
        if (sql_tok_is(src, t, *list)) {
            return 1;
        }
    }
    return 0;
}

sql_kind sql_classify(const char *src, const sql_token *t, uint32_t n)
{
    static const char *const dml[] = {"INSERT", "UPDATE", "DELETE",  "REPLACE",
                                      "LOAD",   "CALL",   "HANDLER", NULL};
    static const char *const unsupported[] = {
        "CREATE",   "DROP",     "ALTER",    "TRUNCATE",   "RENAME",    "GRANT",     "REVOKE",
        "FLUSH",    "ANALYZE",  "OPTIMIZE", "REPAIR",     "CHECK",     "CHECKSUM",  "LOCK",
        "UNLOCK",   "PREPARE",  "EXECUTE",  "DEALLOCATE", "INSTALL",   "UNINSTALL", "RESET",
        "PURGE",    "CHANGE",   "ADMIN",    "IMPORT",     "XA",        "HELP",      "BINLOG",
        "CACHE",    "SHUTDOWN", "RESTART",  "CLONE",      "SAVEPOINT", "RELEASE",   "SIGNAL",
        "RESIGNAL", "GET",      "TABLE",    NULL};
    if (n == 0) {
        return SQL_KIND_EMPTY;
    }
    const sql_token *f = &t[0];
    if (f->type == SQL_TK_LPAREN) {
        return SQL_KIND_QUERY;
    }
    if (f->type != SQL_TK_IDENT) {
        return SQL_KIND_UNKNOWN;
    }
    if (sql_tok_is(src, f, "SELECT") || sql_tok_is(src, f, "WITH") ||
        sql_tok_is(src, f, "VALUES")) {
        return SQL_KIND_QUERY;
    }
    if (sql_tok_is(src, f, "DO")) {
        return SQL_KIND_DO;
    }
    if (sql_tok_is(src, f, "SET")) {
        return SQL_KIND_SET;
    }
    if (sql_tok_is(src, f, "SHOW")) {
        return SQL_KIND_SHOW;
    }
    if (sql_tok_is(src, f, "USE")) {
        return SQL_KIND_USE;
    }
    if (sql_tok_is(src, f, "BEGIN") ||
        (sql_tok_is(src, f, "START") && n > 1 && sql_tok_is(src, &t[1], "TRANSACTION"))) {
        return SQL_KIND_BEGIN;
    }
    if (sql_tok_is(src, f, "COMMIT")) {
        return SQL_KIND_COMMIT;
    }
    if (sql_tok_is(src, f, "ROLLBACK")) {
        for (uint32_t i = 1; i < n; i++) {
            if (sql_tok_is(src, &t[i], "TO")) {
                return SQL_KIND_UNSUPPORTED; /* ROLLBACK TO SAVEPOINT */
            }
        }
        return SQL_KIND_ROLLBACK;
    }
    if (sql_tok_is(src, f, "KILL")) {
        return SQL_KIND_KILL;
    }
    if (sql_tok_is(src, f, "DESCRIBE") || sql_tok_is(src, f, "DESC") ||
        sql_tok_is(src, f, "EXPLAIN")) {
        return SQL_KIND_DESCRIBE;
    }
    if (is_kw(src, f, dml)) {
        return SQL_KIND_DML;
    }
    if (is_kw(src, f, unsupported)) {
        return SQL_KIND_UNSUPPORTED;
    }
    return SQL_KIND_UNKNOWN;
}

const char *sql_kind_name(sql_kind k)
{
    static const char *const names[] = {"empty", "query",    "do",          "set",      "show",
                                        "use",   "begin",    "commit",      "rollback", "kill",
                                        "dml",   "describe", "unsupported", "unknown"};
    return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "unknown";
}

/* ---- translation ---- */

void sql_tr_out_init(sql_tr_out *o)
{
    memset(o, 0, sizeof(*o));
    cm_buf_init(&o->sql);
    cm_buf_init(&o->target);
}

void sql_tr_out_reset(sql_tr_out *o)
{
    cm_buf_reset(&o->sql);
    cm_buf_reset(&o->target);
    o->nitems = 0;
    o->nparams = 0;
}

void sql_tr_out_fini(sql_tr_out *o)
{
    cm_buf_fini(&o->sql);
    cm_buf_fini(&o->target);
    free(o->items);
    memset(o, 0, sizeof(*o));
}

enum { SPECIAL_CAST = 1, SPECIAL_POSITION, SPECIAL_SUBSTRING };

typedef struct tr {
    const char *src;
    const sql_token *t;
    uint32_t n;
    const sql_tr_ctx *ctx;
    sql_tr_out *out;
    cm_err *err;
    int depth;
    int special_depth[SQL_TR_DEPTH_MAX + 1]; /* kind of the special form opened at each depth */
    int top_done;                            /* the top-level select list was seen */
    uint16_t *iv_open; /* _tdb_date_add( calls opening before each token (NULL: none) */
    /* XOR (sql_xor.h), allocated when the statement has one: output length before each token
     * was emitted, and the closing parentheses due before each token (index n: at the end). */
    size_t *xor_pos;
    uint32_t *xor_close;
    uint32_t xor_flushed; /* tokens whose closes were emitted */
} tr;

static int nomem(tr *x)
{
    return cm_err_set(x->err, CM_E_NOMEM, "out of memory translating a statement");
}

static int emit(tr *x, const char *s)
{
    cm_buf *b = &x->out->sql;
    if (b->len > 0 && b->ptr[b->len - 1] != ' ' && cm_buf_append_u8(b, ' ') != 0) {
        return nomem(x);
    }
    return cm_buf_append(b, s, strlen(s)) == 0 ? 0 : nomem(x);
}

static int emit_n(tr *x, const char *s, size_t n)
{
    cm_buf *b = &x->out->sql;
    if (b->len > 0 && b->ptr[b->len - 1] != ' ' && cm_buf_append_u8(b, ' ') != 0) {
        return nomem(x);
    }
    return cm_buf_append(b, s, n) == 0 ? 0 : nomem(x);
}

static int unsupported(tr *x, uint32_t i, const char *what)
{
    const sql_token *t = &x->t[i];
    return cm_err_set(x->err, CM_E_UNSUPPORTED,
                      "This version of Tessera doesn't yet support '%s' (near '%.*s')", what,
                      (int)(t->len > 40 ? 40 : t->len), x->src + t->off);
}

static int syntax(tr *x, uint32_t i)
{
    if (i >= x->n) {
        return cm_err_set(x->err, CM_E_PARSE,
                          "You have an error in your SQL syntax; check the manual that corresponds "
                          "to your MySQL server version for the right syntax to use near '' at "
                          "line 1");
    }
    const sql_token *t = &x->t[i];
    return cm_err_set(x->err, CM_E_PARSE,
                      "You have an error in your SQL syntax; check the manual that corresponds to "
                      "your MySQL server version for the right syntax to use near '%.*s' at line 1",
                      (int)(t->len > 60 ? 60 : t->len), x->src + t->off);
}

static int kw(tr *x, uint32_t i, const char *k)
{
    return i < x->n && sql_tok_is(x->src, &x->t[i], k);
}

static int next_is_lparen(tr *x, uint32_t i)
{
    return i + 1 < x->n && x->t[i + 1].type == SQL_TK_LPAREN;
}

/* Appends a SQLite string literal of bytes p[0, n). */
static int emit_string_bytes(tr *x, const char *p, size_t n)
{
    cm_buf *b = &x->out->sql;
    if (b->len > 0 && b->ptr[b->len - 1] != ' ' && cm_buf_append_u8(b, ' ') != 0) {
        return nomem(x);
    }
    if (memchr(p, '\0', n) != NULL) {
        static const char hexd[] = "0123456789ABCDEF";
        if (cm_buf_append(b, "CAST(X'", 7) != 0 || cm_buf_reserve(b, 2 * n + 16) != 0) {
            return nomem(x);
        }
        for (size_t i = 0; i < n; i++) {
            uint8_t c = (uint8_t)p[i];
            b->ptr[b->len++] = (uint8_t)hexd[c >> 4];
            b->ptr[b->len++] = (uint8_t)hexd[c & 15];
        }
        return cm_buf_append(b, "' AS TEXT)", 10) == 0 ? 0 : nomem(x);
    }
    if (cm_buf_reserve(b, n + 2) != 0 || cm_buf_append_u8(b, '\'') != 0) {
        return nomem(x);
    }
    for (size_t i = 0; i < n; i++) {
        if (cm_buf_append_u8(b, (uint8_t)p[i]) != 0 ||
            (p[i] == '\'' && cm_buf_append_u8(b, '\'') != 0)) {
            return nomem(x);
        }
    }
    return cm_buf_append_u8(b, '\'') == 0 ? 0 : nomem(x);
}

/* Whether a numeric literal p[0, n) has more digits than SQLite keeps exactly: an integer above
 * INT64_MAX, or a decimal with more than 15 significant digits. */
static int literal_needs_text(const char *p, size_t n, int integer)
{
    size_t digits = 0, i = 0;
    while (i < n && (p[i] == '0' || p[i] == '.')) {
        i++;
    }
    const char *first = p + i;
    for (; i < n; i++) {
        digits += p[i] >= '0' && p[i] <= '9';
    }
    if (!integer) {
        return digits > 15;
    }
    return digits > 19 || (digits == 19 && memcmp(first, "9223372036854775807", 19) > 0);
}

/* Appends a double-quoted SQLite identifier. */
static int emit_qident(tr *x, const char *p, size_t n)
{
    cm_buf *b = &x->out->sql;
    if (b->len > 0 && b->ptr[b->len - 1] != ' ' && cm_buf_append_u8(b, ' ') != 0) {
        return nomem(x);
    }
    if (cm_buf_append_u8(b, '"') != 0) {
        return nomem(x);
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)p[i];
        if (c == 0) {
            c = ' ';
        }
        if (cm_buf_append_u8(b, c) != 0 || (c == '"' && cm_buf_append_u8(b, '"') != 0)) {
            return nomem(x);
        }
    }
    return cm_buf_append_u8(b, '"') == 0 ? 0 : nomem(x);
}

/* Emits consecutive STRING tokens starting at i as one literal; returns the next index. */
static int emit_strings(tr *x, uint32_t *i)
{
    cm_buf v = CM_BUF_INIT;
    uint32_t j = *i;
    int rc = 0;
    while (j < x->n && x->t[j].type == SQL_TK_STRING) {
        if (sql_tok_string(x->src, &x->t[j], x->ctx->mode, &v) != 0) {
            rc = nomem(x);
            break;
        }
        j++;
    }
    if (rc == 0) {
        rc = emit_string_bytes(x, v.ptr ? (const char *)v.ptr : "", v.len);
    }
    cm_buf_fini(&v);
    *i = j;
    return rc;
}

static int emit_hex(tr *x, const sql_token *t)
{
    const char *p = x->src + t->voff;
    size_t n = t->vlen;
    for (size_t k = 0; k < n; k++) {
        char c = p[k];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return cm_err_set(x->err, CM_E_PARSE, "invalid hexadecimal literal");
        }
    }
    if ((t->flags & SQL_TKF_QUOTED) && (n % 2) != 0) {
        return cm_err_set(x->err, CM_E_PARSE, "hexadecimal literal needs an even digit count");
    }
    cm_buf *b = &x->out->sql;
    if (emit(x, "X'") != 0) {
        return CM_E_NOMEM;
    }
    if ((n % 2) != 0 && cm_buf_append_u8(b, '0') != 0) {
        return nomem(x);
    }
    if (cm_buf_append(b, p, n) != 0 || cm_buf_append_u8(b, '\'') != 0) {
        return nomem(x);
    }
    return 0;
}

static int emit_bit(tr *x, const sql_token *t)
{
    const char *p = x->src + t->voff;
    uint64_t v = 0;
    size_t sig = 0;
    for (size_t k = 0; k < t->vlen; k++) {
        if (p[k] != '0' && p[k] != '1') {
            return cm_err_set(x->err, CM_E_PARSE, "invalid bit literal");
        }
        if (sig > 0 || p[k] == '1') {
            sig++;
        }
        v = (v << 1) | (uint64_t)(p[k] - '0');
    }
    if (sig > 63) {
        return cm_err_set(x->err, CM_E_UNSUPPORTED, "bit literals wider than 63 bits");
    }
    char buf[32];
    snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
    return emit(x, buf);
}

/* Maps a CAST/CONVERT target type t[b, e) to SQLite's. */
static int emit_cast_type(tr *x, uint32_t b, uint32_t e)
{
    static const struct {
        const char *my;
        const char *lite;
    } map[] = {{"SIGNED", "INTEGER"},  {"UNSIGNED", "INTEGER"}, {"INT", "INTEGER"},
               {"INTEGER", "INTEGER"}, {"BIGINT", "INTEGER"},   {"CHAR", "TEXT"},
               {"NCHAR", "TEXT"},      {"VARCHAR", "TEXT"},     {"CHARACTER", "TEXT"},
               {"TEXT", "TEXT"},       {"BINARY", "BLOB"},      {"VARBINARY", "BLOB"},
               {"BLOB", "BLOB"},       {"DECIMAL", "NUMERIC"},  {"NUMERIC", "NUMERIC"},
               {"DEC", "NUMERIC"},     {"DOUBLE", "REAL"},      {"FLOAT", "REAL"},
               {"REAL", "REAL"},       {"DATE", "TEXT"},        {"DATETIME", "TEXT"},
               {"TIME", "TEXT"},       {"YEAR", "INTEGER"},     {"JSON", "TEXT"}};
    if (b >= e) {
        return syntax(x, b);
    }
    for (size_t k = 0; k < sizeof(map) / sizeof(map[0]); k++) {
        if (sql_tok_is(x->src, &x->t[b], map[k].my)) {
            return emit(x, map[k].lite);
        }
    }
    return syntax(x, b);
}

/* Index of the RPAREN matching the LPAREN at i, or x->n. */
static uint32_t match_paren(tr *x, uint32_t i)
{
    int d = 0;
    for (uint32_t j = i; j < x->n; j++) {
        if (x->t[j].type == SQL_TK_LPAREN) {
            d++;
        } else if (x->t[j].type == SQL_TK_RPAREN && --d == 0) {
            return j;
        }
    }
    return x->n;
}

static int translate_range(tr *x, uint32_t b, uint32_t e, int top);

/* CONVERT(expr, type) and CONVERT(expr USING charset); i is at CONVERT. */
static int emit_convert(tr *x, uint32_t *pi, uint32_t e)
{
    uint32_t i = *pi;
    uint32_t close = match_paren(x, i + 1);
    if (close >= e) {
        return syntax(x, i);
    }
    uint32_t split = 0, is_using = 0;
    int d = 0;
    for (uint32_t j = i + 2; j < close; j++) {
        if (x->t[j].type == SQL_TK_LPAREN) {
            d++;
        } else if (x->t[j].type == SQL_TK_RPAREN) {
            d--;
        } else if (d == 0 && (x->t[j].type == SQL_TK_COMMA || kw(x, j, "USING"))) {
            split = j;
            is_using = kw(x, j, "USING");
            break;
        }
    }
    if (split == 0) {
        return syntax(x, i);
    }
    int rc;
    if ((rc = emit(x, is_using ? "(" : "CAST(")) != 0) {
        return rc;
    }
    x->depth++;
    if (x->depth > SQL_TR_DEPTH_MAX) {
        return cm_err_set(x->err, CM_E_PARSE, "expression nested too deeply");
    }
    rc = translate_range(x, i + 2, split, 0);
    x->depth--;
    if (rc != 0) {
        return rc;
    }
    if (!is_using) {
        if ((rc = emit(x, "AS")) != 0 || (rc = emit_cast_type(x, split + 1, close)) != 0) {
            return rc;
        }
    }
    *pi = close + 1;
    return emit(x, ")");
}

static const char *const operator_words[] = {
    "AND",     "OR",       "NOT",      "XOR",    "IS",     "IN",  "LIKE", "REGEXP", "RLIKE",
    "BETWEEN", "CASE",     "WHEN",     "THEN",   "ELSE",   "AS",  "DIV",  "MOD",    "BINARY",
    "COLLATE", "INTERVAL", "DISTINCT", "SELECT", "ESCAPE", "ALL", "ANY",  "SOME",   NULL};
static const char *const reserved_alias[] = {
    "AND",    "OR",     "NOT",    "XOR",   "IS",      "NULL",    "TRUE",     "FALSE",    "UNKNOWN",
    "IN",     "LIKE",   "REGEXP", "RLIKE", "BETWEEN", "CASE",    "WHEN",     "THEN",     "ELSE",
    "END",    "AS",     "DIV",    "MOD",   "BINARY",  "COLLATE", "INTERVAL", "DISTINCT", "FROM",
    "WHERE",  "GROUP",  "HAVING", "ORDER", "LIMIT",   "INTO",    "FOR",      "UNION",    "SELECT",
    "EXISTS", "ESCAPE", "ALL",    "ANY",   "SOME",    "ON",      "USING",    "JOIN",     "WINDOW",
    "OVER",   "DESC",   "ASC",    "LOCK",  NULL};

/* Whether token i can end an operand (so that a following word is an alias). */
static int ends_operand(tr *x, uint32_t i)
{
    const sql_token *t = &x->t[i];
    switch (t->type) {
    case SQL_TK_INT:
    case SQL_TK_DECIMAL:
    case SQL_TK_FLOAT:
    case SQL_TK_STRING:
    case SQL_TK_HEX:
    case SQL_TK_BIT:
    case SQL_TK_QIDENT:
    case SQL_TK_RPAREN:
    case SQL_TK_SYSVAR:
    case SQL_TK_USERVAR:
    case SQL_TK_PARAM:
        return 1;
    case SQL_TK_IDENT:
        return !is_kw(x->src, t, operator_words);
    default:
        return 0;
    }
}

/* Number of trailing tokens of item [b, e) that form its alias (0, 1 or 2). */
static uint32_t alias_len(tr *x, uint32_t b, uint32_t e)
{
    if (e - b < 2) {
        return 0;
    }
    const sql_token *last = &x->t[e - 1];
    if (kw(x, e - 2, "AS")) {
        return 2;
    }
    int word = last->type == SQL_TK_QIDENT ||
               (last->type == SQL_TK_IDENT && !is_kw(x->src, last, reserved_alias)) ||
               (last->type == SQL_TK_STRING && x->t[e - 2].type != SQL_TK_STRING);
    if (word && ends_operand(x, e - 2) && x->t[e - 2].type != SQL_TK_DOT) {
        return 1;
    }
    return 0;
}

static const struct {
    const char *name;
    uint8_t type;
    uint8_t strong;
} func_types[] = {
    {"NOW", SQL_TYPE_DATETIME, 1},
    {"CURRENT_TIMESTAMP", SQL_TYPE_DATETIME, 1},
    {"LOCALTIME", SQL_TYPE_DATETIME, 1},
    {"LOCALTIMESTAMP", SQL_TYPE_DATETIME, 1},
    {"SYSDATE", SQL_TYPE_DATETIME, 1},
    {"UTC_TIMESTAMP", SQL_TYPE_DATETIME, 1},
    {"FROM_UNIXTIME", SQL_TYPE_DATETIME, 1},
    {"CURDATE", SQL_TYPE_DATE, 1},
    {"CURRENT_DATE", SQL_TYPE_DATE, 1},
    {"UTC_DATE", SQL_TYPE_DATE, 1},
    {"CURTIME", SQL_TYPE_TIME, 1},
    {"CURRENT_TIME", SQL_TYPE_TIME, 1},
    {"UTC_TIME", SQL_TYPE_TIME, 1},
    {"CONNECTION_ID", SQL_TYPE_LONGLONG, 0},
    {"LAST_INSERT_ID", SQL_TYPE_LONGLONG, 0},
    {"ROW_COUNT", SQL_TYPE_LONGLONG, 0},
    {"FOUND_ROWS", SQL_TYPE_LONGLONG, 0},
    {"UNIX_TIMESTAMP", SQL_TYPE_LONGLONG, 0},
    {"LENGTH", SQL_TYPE_LONGLONG, 0},
    {"CHAR_LENGTH", SQL_TYPE_LONGLONG, 0},
    {"RAND", SQL_TYPE_DOUBLE, 0},
    {"PI", SQL_TYPE_DOUBLE, 0},
};

/* Static type of item [b, e) (alias excluded). */
static sql_tr_item item_info(tr *x, uint32_t b, uint32_t e, int sysvar_id)
{
    sql_tr_item it = {.guess = SQL_TYPE_VAR_STRING};
    uint32_t n = e - b;
    const sql_token *t = &x->t[b];
    if (n == 2 && t->type == SQL_TK_OP && t->len == 1 && x->src[t->off] == '-') {
        t++;
        n = 1;
    }
    if (n == 1) {
        switch (t->type) {
        case SQL_TK_INT:
        case SQL_TK_BIT:
            it.guess = SQL_TYPE_LONGLONG;
            it.literal = 1;
            return it;
        case SQL_TK_DECIMAL:
        case SQL_TK_FLOAT:
            it.guess = SQL_TYPE_DOUBLE;
            it.literal = 1;
            return it;
        case SQL_TK_STRING:
        case SQL_TK_HEX:
            it.literal = 1;
            return it;
        case SQL_TK_SYSVAR: {
            const sql_sysvar_def *d = sql_sysvar_def_of(sysvar_id);
            if (d && (d->type == SQL_SV_INT || d->type == SQL_SV_BOOL || d->type == SQL_SV_UINT)) {
                it.guess = SQL_TYPE_LONGLONG;
            } else if (d && d->type == SQL_SV_DOUBLE) {
                it.guess = SQL_TYPE_DOUBLE;
            }
            return it;
        }
        case SQL_TK_IDENT:
            if (sql_tok_is(x->src, t, "NULL")) {
                it.guess = SQL_TYPE_NULL;
                it.literal = 1;
                return it;
            }
            if (sql_tok_is(x->src, t, "TRUE") || sql_tok_is(x->src, t, "FALSE")) {
                it.guess = SQL_TYPE_LONGLONG;
                it.literal = 1;
                return it;
            }
            break;
        default:
            return it;
        }
    }
    if (t->type == SQL_TK_IDENT &&
        (n == 1 || (n >= 3 && t[1].type == SQL_TK_LPAREN && match_paren(x, b + 1) == e - 1))) {
        for (size_t k = 0; k < sizeof(func_types) / sizeof(func_types[0]); k++) {
            if (sql_tok_is(x->src, t, func_types[k].name)) {
                if (n == 1 && !func_types[k].strong) {
                    break; /* a bare word that is not a keyword function */
                }
                it.guess = func_types[k].type;
                it.strong = func_types[k].strong ? func_types[k].type : 0;
                return it;
            }
        }
    }
    return it;
}

/* Whether item [b, e) is a column reference: `col` quoted, `t.col` or `db.t.col` (each part a
 * bare or quoted identifier). A bare single word stays an expression (NULL, CURRENT_DATE …). */
static int column_ref(tr *x, uint32_t b, uint32_t e)
{
    uint32_t n = e - b;
    if (n == 1) {
        return x->t[b].type == SQL_TK_QIDENT;
    }
    if (n != 3 && n != 5) {
        return 0;
    }
    for (uint32_t i = b; i < e; i++) {
        int name = x->t[i].type == SQL_TK_IDENT || x->t[i].type == SQL_TK_QIDENT;
        if ((i - b) % 2 == 0 ? !name : x->t[i].type != SQL_TK_DOT) {
            return 0;
        }
    }
    return 1;
}

/* Ends a top-level select item [b, e): records its type and adds the MySQL column name. */
static int finish_item(tr *x, uint32_t b, uint32_t e, int sysvar_id)
{
    if (b >= e) {
        return syntax(x, e);
    }
    sql_tr_out *o = x->out;
    if (o->nitems >= SQL_TR_ITEMS_MAX) {
        return cm_err_set(x->err, CM_E_UNSUPPORTED, "more than %d select items", SQL_TR_ITEMS_MAX);
    }
    if (o->nitems == o->cap_items) {
        uint32_t cap = o->cap_items ? o->cap_items * 2 : 16;
        sql_tr_item *v = realloc(o->items, cap * sizeof(*v));
        if (v == NULL) {
            return nomem(x);
        }
        o->items = v;
        o->cap_items = cap;
    }
    uint32_t al = alias_len(x, b, e);
    o->items[o->nitems++] = item_info(x, b, e - al, sysvar_id);
    if (al > 0) {
        return 0;
    }
    const sql_token *last = &x->t[e - 1];
    if (last->type == SQL_TK_OP && last->len == 1 && x->src[last->off] == '*') {
        return 0; /* * and t.* keep their columns' names */
    }
    if (emit(x, "AS") != 0) {
        return CM_E_NOMEM;
    }
    if (e - b == 1 && x->t[b].type == SQL_TK_STRING) {
        cm_buf v = CM_BUF_INIT;
        int rc = sql_tok_string(x->src, &x->t[b], x->ctx->mode, &v);
        if (rc == 0) {
            size_t n = v.len > SQL_TR_NAME_MAX ? SQL_TR_NAME_MAX : v.len;
            rc = emit_qident(x, v.ptr ? (const char *)v.ptr : "", n);
        }
        cm_buf_fini(&v);
        return rc;
    }
    if (column_ref(x, b, e)) {
        /* A column reference is named after the column as written, without its qualifier or
         * quotes: MySQL names `SELECT i.name` and `SELECT db.t.name` columns "name". */
        cm_buf v = CM_BUF_INIT;
        int rc = sql_tok_name(x->src, last, &v) == 0 ? 0 : nomem(x);
        if (rc == 0) {
            size_t n = v.len > SQL_TR_NAME_MAX ? SQL_TR_NAME_MAX : v.len;
            rc = emit_qident(x, v.ptr ? (const char *)v.ptr : "", n);
        }
        cm_buf_fini(&v);
        return rc;
    }
    size_t start = x->t[b].off;
    size_t end = last->off + last->len;
    size_t n = end - start;
    if (n > SQL_TR_NAME_MAX) {
        n = SQL_TR_NAME_MAX;
        while (n > 0 && ((unsigned char)x->src[start + n] & 0xc0) == 0x80) {
            n--; /* keep UTF-8 whole */
        }
    }
    if (memmem(x->src + start, n, "/*!", 3) == NULL) {
        return emit_qident(x, x->src + start, n);
    }
    /* MySQL names an item with an executable comment after its text without the comment's
     * markers and version: `1 <exec comment with +1>` is "1  +1" */
    cm_buf v = CM_BUF_INIT;
    int rc = 0;
    for (size_t k = 0; k < n && rc == 0; k++) {
        const char *c = x->src + start + k;
        if (k + 3 <= n && memcmp(c, "/*!", 3) == 0) {
            k += 2;
            while (k + 1 < n && x->src[start + k + 1] >= '0' && x->src[start + k + 1] <= '9') {
                k++;
            }
        } else if (k + 2 <= n && memcmp(c, "*/", 2) == 0) {
            k++;
        } else if (cm_buf_append(&v, c, 1) != 0) {
            rc = nomem(x);
        }
    }
    while (rc == 0 && v.len > 0 && v.ptr[v.len - 1] == ' ') {
        v.len--;
    }
    if (rc == 0) {
        rc = emit_qident(x, v.ptr ? (const char *)v.ptr : "", v.len);
    }
    cm_buf_fini(&v);
    return rc;
}

static const char *const list_end[] = {"FROM",      "WHERE",  "GROUP", "HAVING", "ORDER",
                                       "LIMIT",     "INTO",   "FOR",   "UNION",  "EXCEPT",
                                       "INTERSECT", "WINDOW", "LOCK",  NULL};
static const char *const select_modifiers_dropped[] = {
    "HIGH_PRIORITY",  "STRAIGHT_JOIN",       "SQL_SMALL_RESULT",
    "SQL_BIG_RESULT", "SQL_BUFFER_RESULT",   "SQL_NO_CACHE",
    "SQL_CACHE",      "SQL_CALC_FOUND_ROWS", NULL};
static const char *const charsets[] = {"_UTF8MB4", "_UTF8",  "_UTF8MB3", "_LATIN1",
                                       "_BINARY",  "_ASCII", NULL};

/* ---- function forms that need more than a token rewrite (built-in functions, issue #8):
 * `expr ± INTERVAL n unit`, `INTERVAL n unit + expr` and DATE_ADD(d, INTERVAL n unit) become
 * calls of _tdb_date_add / date_add with the unit as a string; TRIM(… FROM …) becomes
 * _tdb_trim; EXTRACT(unit FROM d) _tdb_extract; TIMESTAMPADD/DIFF get their unit quoted;
 * GROUP_CONCAT(… ORDER BY … SEPARATOR …) becomes the aggregate _tdb_group_concat
 * (sqlnode/session/sql_func_*.c). ---- */

/* Translates t[b, e) as a parenthesised sub-expression (its own depth level). */
static int emit_sub(tr *x, uint32_t b, uint32_t e)
{
    if (b >= e) {
        return syntax(x, e);
    }
    if (x->depth >= SQL_TR_DEPTH_MAX) {
        return cm_err_set(x->err, CM_E_PARSE, "expression nested too deeply");
    }
    x->depth++;
    x->special_depth[x->depth] = 0;
    int rc = emit(x, "(");
    if (rc == 0) {
        rc = translate_range(x, b, e, 0);
    }
    x->special_depth[x->depth] = 0;
    x->depth--;
    return rc == 0 ? emit(x, ")") : rc;
}

/* Whether token i is an INTERVAL unit keyword (DAY, HOUR_MINUTE …) used as a unit (not called). */
static int is_unit(tr *x, uint32_t i)
{
    return i < x->n && x->t[i].type == SQL_TK_IDENT &&
           sql_iv_unit_find(x->src + x->t[i].off, x->t[i].len) >= 0 && !next_is_lparen(x, i);
}

/* Emits ' UNIT' (upper case, quoted) of unit token i. */
static int emit_unit(tr *x, uint32_t i)
{
    int u = sql_iv_unit_find(x->src + x->t[i].off, x->t[i].len);
    char buf[48];
    snprintf(buf, sizeof(buf), "'%s'", sql_iv_unit_name(u));
    return emit(x, buf);
}

/* The unit token ending `INTERVAL expr unit` whose expr starts at b (before e), or e. */
static uint32_t interval_unit(tr *x, uint32_t b, uint32_t e)
{
    int d = 0;
    for (uint32_t j = b; j < e; j++) {
        if (x->t[j].type == SQL_TK_LPAREN) {
            d++;
        } else if (x->t[j].type == SQL_TK_RPAREN) {
            if (--d < 0) {
                return e;
            }
        } else if (d == 0 && j > b && is_unit(x, j)) {
            return j;
        } else if (d == 0 && x->t[j].type == SQL_TK_COMMA) {
            return e;
        }
    }
    return e;
}

static int is_op(tr *x, uint32_t i, const char *op)
{
    size_t n = strlen(op);
    return i < x->n && x->t[i].type == SQL_TK_OP && x->t[i].len == n &&
           memcmp(x->src + x->t[i].off, op, n) == 0;
}

/* Words that end an additive operand (lower precedence than + and -, or clause keywords). */
static const char *const operand_stops[] = {
    "SELECT", "WHERE", "AND",    "OR",        "NOT",     "XOR",      "WHEN",     "THEN", "ELSE",
    "ON",     "SET",   "HAVING", "BY",        "BETWEEN", "IN",       "IS",       "LIKE", "REGEXP",
    "RLIKE",  "CASE",  "AS",     "LIMIT",     "VALUES",  "FROM",     "DISTINCT", "ALL",  "ESCAPE",
    "END",    "ASC",   "DESC",   "SEPARATOR", "USING",   "INTERVAL", NULL};

/* Whether token j ends an additive operand (scanning either way). plus: + and - end it too. */
static int operand_stop(tr *x, uint32_t j, int plus)
{
    const sql_token *t = &x->t[j];
    if (t->type == SQL_TK_COMMA || t->type == SQL_TK_SEMI) {
        return 1;
    }
    if (t->type == SQL_TK_IDENT) {
        return is_kw(x->src, t, operand_stops);
    }
    if (t->type != SQL_TK_OP) {
        return 0;
    }
    const char *p = x->src + t->off;
    if (t->len == 1 && (p[0] == '*' || p[0] == '/' || p[0] == '%' || p[0] == '^' || p[0] == '~')) {
        return 0;
    }
    if (t->len == 1 && (p[0] == '+' || p[0] == '-')) {
        return plus;
    }
    return 1; /* comparisons, ||, &&, |, &, <<, >>, := */
}

/* First token of the left operand of the additive operator at k. */
static uint32_t left_operand(tr *x, uint32_t k)
{
    uint32_t j = k;
    while (j > 0) {
        uint32_t p = j - 1;
        if (x->t[p].type == SQL_TK_RPAREN) {
            int d = 0;
            uint32_t q = p + 1;
            while (q > 0) {
                q--;
                if (x->t[q].type == SQL_TK_RPAREN) {
                    d++;
                } else if (x->t[q].type == SQL_TK_LPAREN && --d == 0) {
                    break;
                }
            }
            j = q;
            continue;
        }
        if (x->t[p].type == SQL_TK_LPAREN) {
            break;
        }
        if (kw(x, p, "END")) { /* CASE … END: back to its CASE */
            int d = 0;
            uint32_t q = p + 1;
            while (q > 0) {
                q--;
                d += kw(x, q, "END") ? 1 : kw(x, q, "CASE") ? -1 : 0;
                if (d == 0) {
                    break;
                }
            }
            if (d != 0) {
                break;
            }
            j = q;
            continue;
        }
        if (kw(x, p, "INTERVAL") && p + 1 < k) {
            j = p; /* INTERVAL n unit + d + INTERVAL …: the earlier form is part of it */
            continue;
        }
        if (operand_stop(x, p, 0)) {
            break;
        }
        j = p;
    }
    return j;
}

/* End (exclusive) of the operand starting at b: the next + or - or lower-precedence token. */
static uint32_t right_operand_end(tr *x, uint32_t b, uint32_t e)
{
    int d = 0;
    for (uint32_t j = b; j < e; j++) {
        if (x->t[j].type == SQL_TK_LPAREN) {
            d++;
        } else if (x->t[j].type == SQL_TK_RPAREN) {
            if (--d < 0) {
                return j;
            }
        } else if (d == 0 && j > b && operand_stop(x, j, 1)) {
            return j;
        }
    }
    return e;
}

/* Marks, before translation, the left operands of `± INTERVAL`: x->iv_open[i] counts the
 * _tdb_date_add( calls that open before token i. */
static int interval_prepass(tr *x)
{
    int any = 0;
    for (uint32_t i = 0; i + 1 < x->n; i++) {
        any |= kw(x, i, "INTERVAL");
    }
    if (!any) {
        return 0;
    }
    x->iv_open = calloc(x->n, sizeof(*x->iv_open));
    if (x->iv_open == NULL) {
        return nomem(x);
    }
    for (uint32_t i = 1; i + 1 < x->n; i++) {
        if ((is_op(x, i, "+") || is_op(x, i, "-")) && kw(x, i + 1, "INTERVAL")) {
            uint32_t l = left_operand(x, i);
            if (l < i && x->iv_open[l] < UINT16_MAX) {
                x->iv_open[l]++;
            }
        }
    }
    return 0;
}

/* Emits the closes due before token i (and every token before it not yet done). */
static int xor_flush(tr *x, uint32_t i)
{
    for (; x->xor_close != NULL && x->xor_flushed <= i && x->xor_flushed <= x->n;
         x->xor_flushed++) {
        for (uint32_t k = x->xor_close[x->xor_flushed]; k > 0; k--) {
            if (cm_buf_append(&x->out->sql, ")))", 3) != 0) {
                return nomem(x);
            }
        }
        x->xor_close[x->xor_flushed] = 0;
    }
    return 0;
}

/* At `+` or `-` (index *pi) followed by INTERVAL: emits `, n, 'UNIT', ±1)`. */
static int emit_interval_op(tr *x, uint32_t *pi, uint32_t e)
{
    uint32_t i = *pi;
    int sign = is_op(x, i, "-") ? -1 : 1;
    uint32_t unit = interval_unit(x, i + 2, e);
    if (unit >= e) {
        return syntax(x, i + 1);
    }
    int rc;
    if ((rc = emit(x, ",")) != 0 || (rc = emit_sub(x, i + 2, unit)) != 0 ||
        (rc = emit(x, ",")) != 0 || (rc = emit_unit(x, unit)) != 0 ||
        (rc = emit(x, sign < 0 ? ", -1)" : ", 1)")) != 0) {
        return rc;
    }
    *pi = unit + 1;
    return 0;
}

/* INTERVAL at *pi that is not after + or -: `INTERVAL n unit + expr`, an argument
 * (DATE_ADD(d, INTERVAL n unit) → date_add(d, n, 'UNIT')), or the INTERVAL(n, n1, …) function. */
static int emit_interval_word(tr *x, uint32_t *pi, uint32_t e)
{
    uint32_t i = *pi;
    uint32_t unit = interval_unit(x, i + 1, e);
    int rc;
    if (unit >= e) {
        if (next_is_lparen(x, i)) {
            *pi = i + 1;
            return emit(x, "_tdb_interval");
        }
        return unsupported(x, i, "INTERVAL outside date arithmetic");
    }
    if (is_op(x, unit + 1, "+")) {
        uint32_t rb = unit + 2;
        uint32_t re = right_operand_end(x, rb, e);
        if ((rc = emit(x, "_tdb_date_add(")) != 0 || (rc = emit_sub(x, rb, re)) != 0 ||
            (rc = emit(x, ",")) != 0 || (rc = emit_sub(x, i + 1, unit)) != 0 ||
            (rc = emit(x, ",")) != 0 || (rc = emit_unit(x, unit)) != 0 ||
            (rc = emit(x, ", 1)")) != 0) {
            return rc;
        }
        *pi = re;
        return 0;
    }
    if (i > 0 && x->t[i - 1].type == SQL_TK_COMMA &&
        (unit + 1 >= e || x->t[unit + 1].type == SQL_TK_RPAREN)) {
        if ((rc = emit_sub(x, i + 1, unit)) != 0 || (rc = emit(x, ",")) != 0 ||
            (rc = emit_unit(x, unit)) != 0) {
            return rc;
        }
        *pi = unit + 1;
        return 0;
    }
    return unsupported(x, i, "INTERVAL outside date arithmetic");
}

/* The top-level argument separators of the call whose '(' is at open: fills at[] with the
 * indexes of kw (NULL: commas) at depth 0 inside it; returns how many (at most cap). */
static uint32_t call_split(tr *x, uint32_t open, uint32_t close, const char *word, uint32_t *at,
                           uint32_t cap)
{
    uint32_t k = 0;
    int d = 0;
    for (uint32_t j = open + 1; j < close && k < cap; j++) {
        if (x->t[j].type == SQL_TK_LPAREN) {
            d++;
        } else if (x->t[j].type == SQL_TK_RPAREN) {
            d--;
        } else if (d == 0 && (word ? kw(x, j, word) : x->t[j].type == SQL_TK_COMMA)) {
            at[k++] = j;
        }
    }
    return k;
}

/* TRIM([{BOTH|LEADING|TRAILING}] [remstr] FROM str) → _tdb_trim(mode, remstr, str); TRIM(str)
 * stays SQLite's trim (spaces, as MySQL). *pi is at TRIM. */
static int emit_trim(tr *x, uint32_t *pi, uint32_t e)
{
    uint32_t i = *pi;
    uint32_t close = match_paren(x, i + 1);
    uint32_t from;
    if (close >= e) {
        return syntax(x, i);
    }
    uint32_t b = i + 2;
    int mode = 0;
    if (kw(x, b, "BOTH") || kw(x, b, "LEADING") || kw(x, b, "TRAILING")) {
        mode = kw(x, b, "LEADING") ? 1 : kw(x, b, "TRAILING") ? 2 : 0;
        b++;
    } else if (call_split(x, i + 1, close, "FROM", &from, 1) == 0) {
        *pi = i + 1;
        return emit(x, "trim");
    }
    if (call_split(x, i + 1, close, "FROM", &from, 1) == 0) {
        return syntax(x, close);
    }
    char head[48];
    snprintf(head, sizeof(head), "_tdb_trim(%d,", mode + (from == b ? 10 : 0));
    int rc = emit(x, head);
    if (rc == 0) {
        rc = from == b ? emit(x, "NULL") : emit_sub(x, b, from);
    }
    if (rc == 0 && (rc = emit(x, ",")) == 0 && (rc = emit_sub(x, from + 1, close)) == 0) {
        rc = emit(x, ")");
    }
    *pi = close + 1;
    return rc;
}

/* EXTRACT(unit FROM d) → _tdb_extract('UNIT', d). */
static int emit_extract(tr *x, uint32_t *pi, uint32_t e)
{
    uint32_t i = *pi;
    uint32_t close = match_paren(x, i + 1);
    if (close >= e || !is_unit(x, i + 2) || !kw(x, i + 3, "FROM")) {
        return syntax(x, i + 2);
    }
    int rc;
    if ((rc = emit(x, "_tdb_extract(")) != 0 || (rc = emit_unit(x, i + 2)) != 0 ||
        (rc = emit(x, ",")) != 0 || (rc = emit_sub(x, i + 4, close)) != 0) {
        return rc;
    }
    *pi = close + 1;
    return emit(x, ")");
}

/* TIMESTAMPADD(unit, n, d) / TIMESTAMPDIFF(unit, a, b): the unit becomes a string. */
static int emit_unit_call(tr *x, uint32_t *pi, uint32_t e)
{
    uint32_t i = *pi;
    uint32_t close = match_paren(x, i + 1);
    if (close >= e || !is_unit(x, i + 2) || x->t[i + 3].type != SQL_TK_COMMA) {
        return syntax(x, i + 2);
    }
    int rc;
    if ((rc = emit_n(x, x->src + x->t[i].off, x->t[i].len)) != 0 || (rc = emit(x, "(")) != 0 ||
        (rc = emit_unit(x, i + 2)) != 0) {
        return rc;
    }
    uint32_t commas[2];
    if (call_split(x, i + 1, close, NULL, commas, 2) != 2) {
        return syntax(x, close);
    }
    for (int k = 0; k < 2; k++) {
        uint32_t end = k == 0 ? commas[1] : close;
        if ((rc = emit(x, ",")) != 0 || (rc = emit_sub(x, commas[k] + 1, end)) != 0) {
            return rc;
        }
    }
    *pi = close + 1;
    return emit(x, ")");
}

/* GROUP_CONCAT([DISTINCT] e, … [ORDER BY k [ASC|DESC], …] [SEPARATOR 's']) →
 * _tdb_group_concat(distinct, sep, n, e1 … en, k1, desc1, …). */
static int emit_group_concat(tr *x, uint32_t *pi, uint32_t e)
{
    uint32_t i = *pi;
    uint32_t close = match_paren(x, i + 1);
    if (close >= e) {
        return syntax(x, i);
    }
    uint32_t b = i + 2;
    int distinct = kw(x, b, "DISTINCT");
    b += distinct;
    uint32_t order = close, sep = close;
    uint32_t at;
    if (call_split(x, i + 1, close, "SEPARATOR", &at, 1) == 1) {
        sep = at;
        if (sep + 2 != close || x->t[sep + 1].type != SQL_TK_STRING) {
            return syntax(x, sep + 1);
        }
    }
    order = sep; /* the expressions end at ORDER BY, else at SEPARATOR, else at ')' */
    if (call_split(x, i + 1, sep, "ORDER", &at, 1) == 1) {
        order = at;
        if (!kw(x, order + 1, "BY")) {
            return syntax(x, order + 1);
        }
    }
    uint32_t ends[SQL_TR_ITEMS_MAX > 64 ? 64 : SQL_TR_ITEMS_MAX];
    uint32_t nexpr = call_split(x, b - 1, order, NULL, ends, 63);
    ends[nexpr++] = order;
    char head[64];
    snprintf(head, sizeof(head), "_tdb_group_concat(%d,", distinct);
    int rc = emit(x, head);
    if (rc == 0) {
        uint32_t s = sep + 1;
        rc = sep < close ? emit_strings(x, &s) : emit(x, "','");
    }
    if (rc == 0) {
        snprintf(head, sizeof(head), ", %u", nexpr);
        rc = emit(x, head);
    }
    uint32_t from = b;
    for (uint32_t k = 0; k < nexpr && rc == 0; k++) {
        if ((rc = emit(x, ",")) == 0) {
            rc = emit_sub(x, from, ends[k]);
        }
        from = ends[k] + 1;
    }
    if (rc == 0 && order < sep) {
        uint32_t keys[64];
        uint32_t nk = call_split(x, order + 1, sep, NULL, keys, 63);
        keys[nk++] = sep;
        from = order + 2;
        for (uint32_t k = 0; k < nk && rc == 0; k++) {
            uint32_t end = keys[k];
            int desc = 0;
            if (end > from && (kw(x, end - 1, "DESC") || kw(x, end - 1, "ASC"))) {
                desc = kw(x, end - 1, "DESC");
                end--;
            }
            if ((rc = emit(x, ",")) == 0 && (rc = emit_sub(x, from, end)) == 0) {
                rc = emit(x, desc ? ", 1" : ", 0");
            }
            from = keys[k] + 1;
        }
    }
    *pi = close + 1;
    return rc == 0 ? emit(x, ")") : rc;
}

/* Calls whose value arguments become JSON booleans when they are TRUE, FALSE or a comparison
 * (MySQL's JSON_ARRAY(TRUE, 1 = 1) is [true, true]; SQLite's booleans are integers). */
static const char *const json_value_calls[] = {
    "JSON_ARRAY",    "JSON_OBJECT",    "JSON_SET",          "JSON_INSERT",       "JSON_REPLACE",
    "JSON_ARRAYAGG", "JSON_OBJECTAGG", "JSON_ARRAY_APPEND", "JSON_ARRAY_INSERT", NULL};
static const char *const bool_words[] = {"AND", "OR",      "NOT",    "XOR",   "IS", "LIKE",
                                         "IN",  "BETWEEN", "REGEXP", "RLIKE", NULL};

/* Whether argument t[b, e) is boolean-valued: TRUE, FALSE, or a comparison or logical operator
 * at its top level (not inside parentheses or a CASE). */
static int bool_arg(tr *x, uint32_t b, uint32_t e)
{
    if (e == b + 1 && (kw(x, b, "TRUE") || kw(x, b, "FALSE"))) {
        return 1;
    }
    if (e > b + 2 && x->t[b].type == SQL_TK_LPAREN && match_paren(x, b) == e - 1) {
        return bool_arg(x, b + 1, e - 1); /* (a = b) */
    }
    int d = 0, found = 0;
    for (uint32_t j = b; j < e; j++) {
        const sql_token *t = &x->t[j];
        if (t->type == SQL_TK_LPAREN) {
            d++;
        } else if (t->type == SQL_TK_RPAREN) {
            d--;
        } else if (d == 0 && kw(x, j, "CASE")) {
            return 0;
        } else if (d == 0 && t->type == SQL_TK_IDENT && is_kw(x->src, t, bool_words)) {
            found = 1;
        } else if (d == 0 && t->type == SQL_TK_OP) {
            const char *p = x->src + t->off;
            found |= p[0] == '=' || p[0] == '<' || p[0] == '>' || p[0] == '!' ||
                     (t->len == 2 && (memcmp(p, "&&", 2) == 0 || memcmp(p, "||", 2) == 0));
            if (t->len == 2 && (memcmp(p, "<<", 2) == 0 || memcmp(p, ">>", 2) == 0)) {
                found = 0; /* shifts are arithmetic */
            }
        }
    }
    return found;
}

/* JSON constructors (json_value_calls): each value argument translated, booleans wrapped in
 * _tdb_json_bool so they become JSON true/false. *pi is at the function name. */
static int emit_json_call(tr *x, uint32_t *pi, uint32_t e)
{
    uint32_t i = *pi;
    uint32_t close = match_paren(x, i + 1);
    if (close >= e) {
        return syntax(x, i);
    }
    int object = kw(x, i, "JSON_OBJECT") || kw(x, i, "JSON_OBJECTAGG");
    int array = kw(x, i, "JSON_ARRAY") || kw(x, i, "JSON_ARRAYAGG");
    int rc = emit_n(x, x->src + x->t[i].off, x->t[i].len);
    if (rc == 0) {
        rc = emit(x, "(");
    }
    uint32_t from = i + 2;
    int d = 0;
    for (uint32_t j = i + 2, k = 0; j <= close && rc == 0 && close > i + 2; j++) {
        if (j < close && x->t[j].type == SQL_TK_LPAREN) {
            d++;
        } else if (j < close && x->t[j].type == SQL_TK_RPAREN) {
            d--;
        }
        if (j < close && !(d == 0 && x->t[j].type == SQL_TK_COMMA)) {
            continue;
        }
        /* the argument [from, j) is number k */
        int value = array || (object ? k % 2 == 1 : k >= 2 && k % 2 == 0);
        int wrap = value && from < j && bool_arg(x, from, j);
        if (k > 0) {
            rc = emit(x, ",");
        }
        if (rc == 0 && wrap) {
            rc = emit(x, "_tdb_json_bool");
        }
        if (rc == 0) {
            rc = emit_sub(x, from, j);
        }
        from = j + 1;
        k++;
    }
    *pi = close + 1;
    return rc == 0 ? emit(x, ")") : rc;
}

/* CHAR(n, … USING charset) → CAST(char(n, …) AS TEXT): a character string instead of CHAR's
 * binary one. *pi is at CHAR. */
static int emit_char_using(tr *x, uint32_t *pi, uint32_t e, uint32_t using_at)
{
    uint32_t i = *pi;
    uint32_t close = match_paren(x, i + 1);
    if (close >= e || using_at + 2 != close) {
        return syntax(x, using_at);
    }
    int rc = emit(x, "CAST(char");
    if (rc == 0) {
        rc = emit_sub(x, i + 2, using_at);
    }
    *pi = close + 1;
    return rc == 0 ? emit(x, "AS TEXT)") : rc;
}

/* `a XOR b` as `((NOT (a)) <> (NOT (b)))` (sql_xor.h); i is at XOR, a is already emitted. */
static int emit_xor(tr *x, uint32_t i, uint32_t e)
{
    uint32_t l = sql_xor_left(x->src, x->t, 0, i, x->ctx->mode);
    uint32_t r = sql_xor_right(x->src, x->t, i, e, x->ctx->mode);
    if (l >= i || r <= i + 1 || x->xor_pos == NULL) {
        return syntax(x, l >= i ? i : i + 1);
    }
    size_t at = x->xor_pos[l];
    for (uint32_t k = l; at == SIZE_MAX && k < i; k++) {
        at = x->xor_pos[k];
    }
    cm_buf *b = &x->out->sql;
    static const char open[] = " ((NOT (";
    size_t add = sizeof(open) - 1;
    if (at == SIZE_MAX || at > b->len || cm_buf_reserve(b, add) != 0) {
        return at == SIZE_MAX || at > b->len ? syntax(x, i) : nomem(x);
    }
    memmove(b->ptr + at + add, b->ptr + at, b->len - at);
    memcpy(b->ptr + at, open, add);
    b->len += add;
    for (uint32_t k = l + 1; k <= i; k++) {
        if (x->xor_pos[k] != SIZE_MAX && x->xor_pos[k] >= at) {
            x->xor_pos[k] += add;
        }
    }
    x->xor_close[r]++;
    return emit(x, ")) <> (NOT (");
}

/* One bare word at index *pi. */
static int emit_word(tr *x, uint32_t *pi, uint32_t e)
{
    uint32_t i = *pi;
    const sql_token *t = &x->t[i];
    const char *w = x->src + t->off;
    int rc;
    int call = next_is_lparen(x, i) && i + 1 < e;
    int qualified = i > 0 && x->t[i - 1].type == SQL_TK_DOT;
    *pi = i + 1;

    if (!qualified && kw(x, i, "INTERVAL")) {
        *pi = i;
        return emit_interval_word(x, pi, e);
    }
    if (!qualified && kw(x, i, "XOR")) {
        return emit_xor(x, i, e);
    }
    if (!qualified && call) {
        if (kw(x, i, "IF")) {
            return emit(x, "iif");
        }
        if (is_kw(x->src, t, json_value_calls)) {
            *pi = i;
            return emit_json_call(x, pi, e);
        }
        uint32_t using_at;
        if (kw(x, i, "CHAR") &&
            call_split(x, i + 1, match_paren(x, i + 1), "USING", &using_at, 1)) {
            *pi = i;
            return emit_char_using(x, pi, e, using_at);
        }
        if (kw(x, i, "TRIM") || kw(x, i, "EXTRACT") || kw(x, i, "TIMESTAMPADD") ||
            kw(x, i, "TIMESTAMPDIFF") || kw(x, i, "GROUP_CONCAT")) {
            *pi = i;
            return kw(x, i, "TRIM")           ? emit_trim(x, pi, e)
                   : kw(x, i, "EXTRACT")      ? emit_extract(x, pi, e)
                   : kw(x, i, "GROUP_CONCAT") ? emit_group_concat(x, pi, e)
                                              : emit_unit_call(x, pi, e);
        }
        if (kw(x, i, "CAST") || kw(x, i, "POSITION") || kw(x, i, "SUBSTRING") ||
            kw(x, i, "SUBSTR") || kw(x, i, "MID")) {
            int d = x->depth + 1;
            if (d <= SQL_TR_DEPTH_MAX) {
                x->special_depth[d] = kw(x, i, "CAST")       ? SPECIAL_CAST
                                      : kw(x, i, "POSITION") ? SPECIAL_POSITION
                                                             : SPECIAL_SUBSTRING;
            }
            return emit(x, kw(x, i, "CAST")       ? "CAST"
                           : kw(x, i, "POSITION") ? "locate"
                                                  : "substring");
        }
        if (kw(x, i, "CONVERT")) {
            *pi = i;
            return emit_convert(x, pi, e);
        }
        if (kw(x, i, "CURRENT_TIMESTAMP") || kw(x, i, "LOCALTIME") || kw(x, i, "LOCALTIMESTAMP")) {
            return emit(x, "now");
        }
        if (kw(x, i, "CURRENT_DATE")) {
            return emit(x, "curdate");
        }
        if (kw(x, i, "CURRENT_TIME")) {
            return emit(x, "curtime");
        }
        if (kw(x, i, "LEFT") || kw(x, i, "RIGHT") || kw(x, i, "INSERT") || kw(x, i, "ISNULL")) {
            return emit_qident(x, w, t->len);
        }
        return emit_n(x, w, t->len);
    }
    if (!qualified) {
        if (kw(x, i, "CURRENT_TIMESTAMP") || kw(x, i, "LOCALTIME") || kw(x, i, "LOCALTIMESTAMP")) {
            return emit(x, "now()");
        }
        if (kw(x, i, "CURRENT_DATE")) {
            return emit(x, "curdate()");
        }
        if (kw(x, i, "CURRENT_TIME")) {
            return emit(x, "curtime()");
        }
        if (kw(x, i, "UTC_TIMESTAMP") || kw(x, i, "UTC_DATE") || kw(x, i, "UTC_TIME") ||
            kw(x, i, "CURRENT_USER")) {
            if ((rc = emit_n(x, w, t->len)) != 0) {
                return rc;
            }
            return cm_buf_append(&x->out->sql, "()", 2) == 0 ? 0 : nomem(x);
        }
        if (kw(x, i, "MOD")) {
            return emit(x, "%");
        }
        if (kw(x, i, "DIV")) {
            return emit(x, "/");
        }
        if (kw(x, i, "RLIKE")) {
            return emit(x, "REGEXP");
        }
        if (kw(x, i, "BINARY")) {
            return 0; /* text already compares as bytes (utf8mb4_bin) */
        }
        if (kw(x, i, "DISTINCTROW")) {
            return emit(x, "DISTINCT");
        }
        if (is_kw(x->src, t, select_modifiers_dropped)) {
            return 0;
        }
        if (kw(x, i, "FROM") && kw(x, i + 1, "DUAL")) {
            *pi = i + 2;
            return 0;
        }
        if (kw(x, i, "COLLATE") && i + 1 < e) {
            const sql_token *c = &x->t[i + 1];
            *pi = i + 2;
            if (c->len > 3 && strncasecmp(x->src + c->off + c->len - 3, "_ci", 3) == 0) {
                return emit(x, "COLLATE NOCASE");
            }
            return 0;
        }
        if (kw(x, i, "INTO")) {
            return unsupported(x, i, "SELECT … INTO");
        }
        if (x->depth == 0 &&
            ((kw(x, i, "FOR") && (kw(x, i + 1, "UPDATE") || kw(x, i + 1, "SHARE"))) ||
             (kw(x, i, "LOCK") && kw(x, i + 1, "IN")))) {
            /* locking reads: optimistic, FOR UPDATE checked at commit (sql_lockread.h) */
            uint32_t bad = e;
            int exclusive = 0;
            if (sql_lockread_check(x->src, x->t, i, e, &bad, &exclusive) != 0) {
                return syntax(x, bad);
            }
            *pi = e;
            return exclusive ? emit(x, &SQL_LOCKREAD_MARK[1]) : 0; /* the last text (session) */
        }
        if (w[0] == '_' && i + 1 < e &&
            (x->t[i + 1].type == SQL_TK_STRING || x->t[i + 1].type == SQL_TK_HEX) &&
            is_kw(x->src, t, charsets)) {
            return 0; /* charset introducer: text is UTF-8 bytes already */
        }
        int d = x->depth;
        if (d > 0 && d <= SQL_TR_DEPTH_MAX) {
            if (x->special_depth[d] == SPECIAL_CAST && kw(x, i, "AS")) {
                uint32_t close = i + 1;
                while (close < e && x->t[close].type != SQL_TK_RPAREN) {
                    if (x->t[close].type == SQL_TK_LPAREN) {
                        close = match_paren(x, close);
                    }
                    if (close < e) {
                        close++;
                    }
                }
                if ((rc = emit(x, "AS")) != 0 || (rc = emit_cast_type(x, i + 1, close)) != 0) {
                    return rc;
                }
                *pi = close;
                return 0;
            }
            if (x->special_depth[d] == SPECIAL_POSITION && kw(x, i, "IN")) {
                return emit(x, ",");
            }
            if (x->special_depth[d] == SPECIAL_SUBSTRING && (kw(x, i, "FROM") || kw(x, i, "FOR"))) {
                return emit(x, ",");
            }
        }
    }
    /* A plain identifier or keyword. Words SQLite would not lex as identifiers are quoted. */
    int plain = !(w[0] >= '0' && w[0] <= '9') && memchr(w, '$', t->len) == NULL;
    return plain ? emit_n(x, w, t->len) : emit_qident(x, w, t->len);
}

static int translate_range(tr *x, uint32_t b, uint32_t e, int top);

/* `@v := expr` at *pi (inside an expression): __tsr_setvar('v', expr), expr reaching as far as
 * the lowest-precedence operator does — to a comma, a closing parenthesis, a clause keyword or
 * the item's alias at this depth. */
static int assign_uservar(tr *x, uint32_t *pi, uint32_t e)
{
    uint32_t i = *pi, j = i + 2;
    int depth = 0;
    for (; j < e; j++) {
        const sql_token *t = &x->t[j];
        if (t->type == SQL_TK_LPAREN) {
            depth++;
        } else if (t->type == SQL_TK_RPAREN) {
            if (depth-- == 0) {
                break;
            }
        } else if (depth == 0 &&
                   (t->type == SQL_TK_COMMA || t->type == SQL_TK_SEMI || kw(x, j, "AS") ||
                    is_kw(x->src, t, list_end) ||
                    (j > i + 2 && (t->type == SQL_TK_IDENT || t->type == SQL_TK_QIDENT) &&
                     ends_operand(x, j - 1) && !is_kw(x->src, t, operator_words) &&
                     !kw(x, j, "END")))) {
            break;
        }
    }
    if (j == i + 2) {
        return syntax(x, j);
    }
    cm_buf name = CM_BUF_INIT;
    int rc = sql_tok_name(x->src, &x->t[i], &name) == 0 ? emit(x, "__tsr_setvar(") : nomem(x);
    if (rc == 0) {
        rc = emit_string_bytes(x, name.ptr ? (const char *)name.ptr : "", name.len);
    }
    cm_buf_fini(&name);
    if (rc == 0) {
        rc = cm_buf_append_u8(&x->out->sql, ',') == 0 ? 0 : nomem(x);
    }
    if (rc == 0) {
        rc = translate_range(x, i + 2, j, 0);
    }
    if (rc == 0) {
        rc = emit(x, ")");
    }
    *pi = j;
    return rc;
}

static int translate_range(tr *x, uint32_t b, uint32_t e, int top)
{
    int rc = 0;
    uint32_t i = b;
    int in_list = 0;
    uint32_t item_b = 0;
    int item_sysvar = -1;
    while (i < e) {
        const sql_token *t = &x->t[i];
        if (x->xor_pos != NULL) {
            if ((rc = xor_flush(x, i)) != 0) {
                return rc;
            }
            x->xor_pos[i] = x->out->sql.len;
        }
        if (top && !x->top_done && x->depth == 0 && kw(x, i, "SELECT")) {
            if ((rc = emit(x, "SELECT")) != 0) {
                return rc;
            }
            i++;
            while (i < e && (kw(x, i, "ALL") || kw(x, i, "DISTINCT") || kw(x, i, "DISTINCTROW") ||
                             is_kw(x->src, &x->t[i], select_modifiers_dropped))) {
                if (!is_kw(x->src, &x->t[i], select_modifiers_dropped) &&
                    (rc = emit(x, kw(x, i, "ALL") ? "ALL" : "DISTINCT")) != 0) {
                    return rc;
                }
                i++;
            }
            x->top_done = 1;
            in_list = 1;
            item_b = i;
            item_sysvar = -1;
            continue;
        }
        if (in_list && x->depth == 0 &&
            (t->type == SQL_TK_COMMA || is_kw(x->src, t, list_end) || t->type == SQL_TK_RPAREN)) {
            if ((rc = finish_item(x, item_b, i, item_sysvar)) != 0) {
                return rc;
            }
            if (t->type == SQL_TK_COMMA) {
                item_b = i + 1;
                item_sysvar = -1;
            } else {
                in_list = 0;
            }
        }
        for (uint16_t k = x->iv_open ? x->iv_open[i] : 0; k > 0; k--) {
            if ((rc = emit(x, "_tdb_date_add(")) != 0) {
                return rc;
            }
        }
        if (x->iv_open && (is_op(x, i, "+") || is_op(x, i, "-")) && kw(x, i + 1, "INTERVAL")) {
            if ((rc = emit_interval_op(x, &i, e)) != 0) {
                return rc;
            }
            continue;
        }
        switch (t->type) {
        case SQL_TK_STRING:
            rc = emit_strings(x, &i);
            continue;
        case SQL_TK_QIDENT: {
            cm_buf v = CM_BUF_INIT;
            rc = sql_tok_name(x->src, t, &v) == 0
                     ? emit_qident(x, v.ptr ? (const char *)v.ptr : "", v.len)
                     : nomem(x);
            cm_buf_fini(&v);
            break;
        }
        case SQL_TK_INT:
        case SQL_TK_DECIMAL:
            /* Digits a double cannot hold (BIGINT UNSIGNED above 2^63, long DECIMALs) go as
             * text, which the column types store exactly (sql_type_store). */
            rc = literal_needs_text(x->src + t->off, t->len, t->type == SQL_TK_INT)
                     ? emit_string_bytes(x, x->src + t->off, t->len)
                     : emit_n(x, x->src + t->off, t->len);
            break;
        case SQL_TK_FLOAT:
            rc = emit_n(x, x->src + t->off, t->len);
            break;
        case SQL_TK_HEX:
            rc = emit_hex(x, t);
            break;
        case SQL_TK_BIT:
            rc = emit_bit(x, t);
            break;
        case SQL_TK_PARAM:
            x->out->nparams++;
            rc = emit(x, "?");
            break;
        case SQL_TK_SYSVAR: {
            int scope = (t->flags & SQL_TKF_GLOBAL) ? 1 : (t->flags & SQL_TKF_SESSION) ? 2 : 0;
            cm_buf name = CM_BUF_INIT;
            int id = -1;
            rc = sql_tok_name(x->src, t, &name);
            if (rc == 0) {
                rc = x->ctx->sysvar(x->ctx->user, name.ptr ? (const char *)name.ptr : "", name.len,
                                    scope, &id, x->err);
            }
            cm_buf_fini(&name);
            if (rc == 0) {
                char buf[64];
                snprintf(buf, sizeof(buf), "__tsr_sysvar(%d,%d)", id, scope);
                rc = emit(x, buf);
                item_sysvar = id;
            }
            break;
        }
        case SQL_TK_USERVAR: {
            if (i + 1 < e && x->t[i + 1].type == SQL_TK_OP && x->t[i + 1].len == 2 &&
                memcmp(x->src + x->t[i + 1].off, ":=", 2) == 0) {
                rc = assign_uservar(x, &i, e);
                if (rc != 0) {
                    return rc;
                }
                continue;
            }
            cm_buf name = CM_BUF_INIT;
            rc = sql_tok_name(x->src, t, &name);
            if (rc == 0 && (rc = emit(x, "__tsr_uservar(")) == 0) {
                rc = emit_string_bytes(x, name.ptr ? (const char *)name.ptr : "", name.len);
                if (rc == 0) {
                    rc = cm_buf_append_u8(&x->out->sql, ')') == 0 ? 0 : nomem(x);
                }
            }
            cm_buf_fini(&name);
            break;
        }
        case SQL_TK_IDENT:
            rc = emit_word(x, &i, e);
            if (rc != 0) {
                return rc;
            }
            continue;
        case SQL_TK_LPAREN:
            if (x->depth >= SQL_TR_DEPTH_MAX) {
                return cm_err_set(x->err, CM_E_PARSE, "expression nested too deeply");
            }
            x->depth++;
            if (!(i > b && x->t[i - 1].type == SQL_TK_IDENT &&
                  (kw(x, i - 1, "CAST") || kw(x, i - 1, "POSITION") || kw(x, i - 1, "SUBSTRING") ||
                   kw(x, i - 1, "SUBSTR") || kw(x, i - 1, "MID")))) {
                x->special_depth[x->depth] = 0;
            }
            rc = emit(x, "(");
            break;
        case SQL_TK_RPAREN:
            if (x->depth == 0) {
                return syntax(x, i);
            }
            x->special_depth[x->depth] = 0;
            x->depth--;
            rc = emit(x, ")");
            break;
        case SQL_TK_COMMA:
            rc = emit(x, ",");
            break;
        case SQL_TK_DOT:
            /* no spaces around the dot of a qualified name */
            if (x->out->sql.len > 0 && x->out->sql.ptr[x->out->sql.len - 1] == ' ') {
                x->out->sql.len--;
            }
            rc = cm_buf_append_u8(&x->out->sql, '.') == 0 ? 0 : nomem(x);
            if (rc == 0 && i + 1 < e && x->t[i + 1].type == SQL_TK_IDENT) {
                rc = cm_buf_append(&x->out->sql, x->src + x->t[i + 1].off, x->t[i + 1].len) == 0
                         ? 0
                         : nomem(x);
                i++;
            }
            break;
        case SQL_TK_SEMI:
            return syntax(x, i);
        case SQL_TK_OP: {
            const char *p = x->src + t->off;
            if (t->len == 2 && memcmp(p, "||", 2) == 0) {
                rc = emit(x, (x->ctx->mode & SQL_MODE_PIPES_AS_CONCAT) ? "||" : "OR");
            } else if (t->len == 2 && memcmp(p, "&&", 2) == 0) {
                rc = emit(x, "AND");
            } else if (t->len == 3 && memcmp(p, "<=>", 3) == 0) {
                rc = emit(x, "IS");
            } else if (t->len == 2 && memcmp(p, ":=", 2) == 0) {
                return unsupported(x, i, ":=");
            } else if (t->len == 1 && p[0] == '-' && i + 1 < e && x->t[i + 1].type == SQL_TK_INT &&
                       x->t[i + 1].len == 19 &&
                       memcmp(x->src + x->t[i + 1].off, "9223372036854775808", 19) == 0 &&
                       (i == b || !ends_operand(x, i - 1))) {
                /* BIGINT's minimum is a literal SQLite reads as an integer too (the digits
                 * alone would go as text, and their negation be a double) */
                rc = emit(x, "-9223372036854775808");
                i++;
            } else if (t->len == 1 && p[0] == '!') {
                rc = emit(x, "NOT");
            } else if (t->len == 1 && p[0] == '/') {
                rc = emit(x, "* 1.0 /"); /* MySQL's / never truncates */
            } else if (t->len == 1 && p[0] == '^') {
                return unsupported(x, i, "^ (bitwise XOR)");
            } else {
                rc = emit_n(x, p, t->len);
            }
            break;
        }
        default:
            rc = syntax(x, i);
            break;
        }
        if (rc != 0) {
            return rc;
        }
        i++;
    }
    if (x->xor_pos != NULL && (rc = xor_flush(x, e)) != 0) {
        return rc;
    }
    if (in_list) {
        rc = finish_item(x, item_b, e, item_sysvar);
    }
    return rc;
}

static int run(const char *src, const sql_token *t, uint32_t n, const sql_tr_ctx *ctx,
               sql_tr_out *out, cm_err *err, const char *prefix, int top)
{
    sql_tr_out_reset(out);
    tr x;
    memset(&x, 0, sizeof(x));
    x.src = src;
    x.t = t;
    x.n = n;
    x.ctx = ctx;
    x.out = out;
    x.err = err;
    if (n == 0) {
        return cm_err_set(err, CM_E_PARSE,
                          "You have an error in your SQL syntax; an expression is missing");
    }
    if (prefix != NULL && emit(&x, prefix) != 0) {
        return CM_E_NOMEM;
    }
    int rc = interval_prepass(&x);
    for (uint32_t i = 0; rc == 0 && i < n && x.xor_pos == NULL; i++) {
        if (t[i].type == SQL_TK_IDENT && sql_tok_is(src, &t[i], "XOR")) {
            x.xor_pos = malloc(((size_t)n + 1) * sizeof(*x.xor_pos));
            x.xor_close = calloc((size_t)n + 1, sizeof(*x.xor_close));
            if (x.xor_pos == NULL || x.xor_close == NULL) {
                rc = nomem(&x);
                break;
            }
            for (uint32_t k = 0; k <= n; k++) {
                x.xor_pos[k] = SIZE_MAX;
            }
        }
    }
    rc = rc ? rc : translate_range(&x, 0, n, top);
    if (rc == 0 && x.xor_pos != NULL) {
        rc = xor_flush(&x, n);
    }
    free(x.iv_open);
    free(x.xor_pos);
    free(x.xor_close);
    if (rc == 0 && x.depth != 0) {
        rc = syntax(&x, n);
    }
    if (rc == 0 && cm_buf_terminate(&out->sql) != 0) {
        rc = cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    return rc;
}

int sql_translate_query(const char *src, const sql_token *t, uint32_t n, const sql_tr_ctx *ctx,
                        sql_tr_out *out, cm_err *err)
{
    return run(src, t, n, ctx, out, err, NULL, 1);
}

int sql_translate_expr(const char *src, const sql_token *t, uint32_t n, const sql_tr_ctx *ctx,
                       sql_tr_out *out, cm_err *err)
{
    return run(src, t, n, ctx, out, err, "SELECT", 0);
}

int sql_translate_fragment(const char *src, const sql_token *t, uint32_t n, const sql_tr_ctx *ctx,
                           sql_tr_out *out, cm_err *err)
{
    return run(src, t, n, ctx, out, err, NULL, 0);
}
