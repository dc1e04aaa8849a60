/* sql_semantics.c — MySQL comparison coercion and user-variable assignment (sql_numeric.h).
 *
 * tessera_num(x): the number MySQL reads from x when a string meets a number in a comparison —
 * the longest numeric prefix (leading spaces, sign, digits, point, exponent), 0 when there is
 * none, warning 1292 "Truncated incorrect DOUBLE value" when anything but trailing spaces is
 * left over. Numbers and NULL pass through. The type inference (sql_typeinfer.c) wraps the
 * string side of a string-number comparison in it.
 *
 * __tsr_setvar(name, value): `@name := value` inside an expression — sets the session's user
 * variable and returns the value; not deterministic, so SQLite evaluates it per row. */
#include "sql_numeric.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void f_cte_depth(sqlite3_context *ctx, int argc, sqlite3_value **argv);

#define SEM_NUM_TEXT_MAX 400 /* longest numeric prefix read exactly; beyond, it is cut there */

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* Length of the numeric prefix of p[0, n) after leading spaces start at *lead; *integral set
 * when it has neither point nor exponent. */
static size_t num_prefix(const unsigned char *p, size_t n, size_t *lead, int *integral)
{
    size_t i = 0;
    while (i < n && is_space(p[i])) {
        i++;
    }
    *lead = i;
    *integral = 1;
    size_t b = i;
    if (i < n && (p[i] == '+' || p[i] == '-')) {
        i++;
    }
    size_t digits = 0;
    while (i < n && is_digit(p[i])) {
        i++;
        digits++;
    }
    if (i < n && p[i] == '.') {
        size_t j = i + 1, frac = 0;
        while (j < n && is_digit(p[j])) {
            j++;
            frac++;
        }
        if (digits + frac > 0) {
            i = j;
            digits += frac;
            *integral = 0;
        }
    }
    if (digits == 0) {
        return 0;
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        size_t j = i + 1;
        if (j < n && (p[j] == '+' || p[j] == '-')) {
            j++;
        }
        if (j < n && is_digit(p[j])) {
            while (j < n && is_digit(p[j])) {
                j++;
            }
            i = j;
            *integral = 0;
        }
    }
    return i - b;
}

static void warn_truncated(sql_sess *s, const unsigned char *p, size_t n)
{
    char msg[160];
    int len = n > 64 ? 64 : (int)n;
    snprintf(msg, sizeof(msg), "Truncated incorrect DOUBLE value: '%.*s'", len, (const char *)p);
    sql_diag_add(s, SQL_DIAG_WARNING, 1292, "%s", msg);
}

static void f_num(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    int t = sqlite3_value_type(argv[0]);
    if (t == SQLITE_NULL || t == SQLITE_INTEGER || t == SQLITE_FLOAT) {
        sqlite3_result_value(ctx, argv[0]);
        return;
    }
    const unsigned char *p =
        t == SQLITE_BLOB ? sqlite3_value_blob(argv[0]) : sqlite3_value_text(argv[0]);
    size_t n = (size_t)sqlite3_value_bytes(argv[0]);
    if (p == NULL) {
        p = (const unsigned char *)"";
        n = 0;
    }
    size_t lead = 0;
    int integral = 1;
    size_t len = num_prefix(p, n, &lead, &integral);
    size_t end = lead + len;
    while (end < n && is_space(p[end])) {
        end++;
    }
    if (len == 0 || end < n) {
        warn_truncated(sqlite3_user_data(ctx), p, n);
    }
    if (len == 0) {
        sqlite3_result_int64(ctx, 0);
        return;
    }
    char buf[SEM_NUM_TEXT_MAX + 1];
    if (len > SEM_NUM_TEXT_MAX) {
        len = SEM_NUM_TEXT_MAX;
        integral = 0;
    }
    memcpy(buf, p + lead, len);
    buf[len] = '\0';
    if (integral) {
        char *e = NULL;
        errno = 0;
        long long v = strtoll(buf, &e, 10);
        if (errno == 0 && e == buf + len) {
            sqlite3_result_int64(ctx, v);
            return;
        }
    }
    sqlite3_result_double(ctx, strtod(buf, NULL));
}

static void f_setvar(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    sql_sess *s = sqlite3_user_data(ctx);
    const char *name = (const char *)sqlite3_value_text(argv[0]);
    size_t nlen = (size_t)sqlite3_value_bytes(argv[0]);
    sql_value v = sql_value_null();
    switch (sqlite3_value_type(argv[1])) {
    case SQLITE_INTEGER:
        v.type = SQL_V_INT;
        v.i = sqlite3_value_int64(argv[1]);
        break;
    case SQLITE_FLOAT:
        v.type = SQL_V_DOUBLE;
        v.d = sqlite3_value_double(argv[1]);
        break;
    case SQLITE_TEXT:
        v.type = SQL_V_TEXT;
        v.s = (const char *)sqlite3_value_text(argv[1]);
        v.n = (size_t)sqlite3_value_bytes(argv[1]);
        break;
    case SQLITE_BLOB:
        v.type = SQL_V_BLOB;
        v.s = sqlite3_value_blob(argv[1]);
        v.n = (size_t)sqlite3_value_bytes(argv[1]);
        if (v.s == NULL) {
            v.s = "";
        }
        break;
    default:
        break;
    }
    cm_err err;
    cm_err_clear(&err);
    if (name == NULL || sql_uvar_set(s, name, nlen, &v, &err) != 0) {
        cm_err_set(&s->fn_err, err.code ? err.code : CM_E_NOMEM, "%s",
                   err.code ? err.msg : "out of memory");
        sqlite3_result_error(ctx, err.code ? err.msg : "out of memory", -1);
        return;
    }
    sqlite3_result_value(ctx, argv[1]);
}

int sql_sem_register(sql_sess *s)
{
    if (sqlite3_create_function_v2(s->db, "tessera_num", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, s,
                                   f_num, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_create_function_v2(s->db, "__tsr_setvar", 2, SQLITE_UTF8, s, f_setvar, NULL, NULL,
                                   NULL) != SQLITE_OK ||
        sqlite3_create_function_v2(s->db, "__tsr_cte_depth", 1, SQLITE_UTF8, s, f_cte_depth, NULL,
                                   NULL, NULL) != SQLITE_OK) {
        return CM_E_INTERNAL;
    }
    return 0;
}

/* ---- cte_max_recursion_depth ---- */

/* __tsr_cte_depth(d): d, the iteration a recursive CTE's row comes from; error 3636 beyond
 * @@cte_max_recursion_depth. */
static void f_cte_depth(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    sql_sess *s = sqlite3_user_data(ctx);
    int64_t d = sqlite3_value_int64(argv[0]);
    int64_t max = s->sv[SQL_SV_CTE_MAX_RECURSION_DEPTH].i;
    if (d > max) {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "Recursive query aborted after %lld iterations. Try increasing "
                 "@@cte_max_recursion_depth to a larger value.",
                 (long long)(max + 1));
        cm_err_set(&s->fn_err, CM_E_CTE_RECURSION, "%s", msg);
        sqlite3_result_error(ctx, msg, -1);
        return;
    }
    sqlite3_result_int64(ctx, d);
}

static int tok_is(const char *src, const sql_token *t, const char *kw)
{
    return t->type == SQL_TK_IDENT && sql_tok_is(src, t, kw);
}

static int same_name(const char *src, const sql_token *a, const sql_token *b)
{
    return (a->type == SQL_TK_IDENT || a->type == SQL_TK_QIDENT) && a->type == b->type &&
           a->len == b->len && strncasecmp(src + a->off, src + b->off, a->len) == 0;
}

static int put(cm_buf *o, const char *p, size_t n)
{
    return cm_buf_append(o, p, n);
}

static int put_tok(cm_buf *o, const char *src, const sql_token *t)
{
    return put(o, src + t->off, t->len) != 0 || put(o, " ", 1) != 0 ? -1 : 0;
}

/* Tokens [b, e) with, at depth 0, `, <extra>` added before the first FROM (or at the end). In
 * the recursive member (name != NULL), references to the CTE become name__tsr_r. */
static int put_member(cm_buf *o, const char *src, const sql_token *t, uint32_t b, uint32_t e,
                      const char *extra, const sql_token *name)
{
    int depth = 0, added = 0, in_from = 0;
    for (uint32_t i = b; i < e; i++) {
        depth += t[i].type == SQL_TK_LPAREN ? 1 : t[i].type == SQL_TK_RPAREN ? -1 : 0;
        if (!added && depth == 0 && tok_is(src, &t[i], "FROM")) {
            if (put(o, ", ", 2) != 0 || put(o, extra, strlen(extra)) != 0 || put(o, " ", 1) != 0) {
                return -1;
            }
            added = 1;
            in_from = 1;
        }
        if (name != NULL && same_name(src, &t[i], name) && i > b &&
            ((in_from && (tok_is(src, &t[i - 1], "FROM") || tok_is(src, &t[i - 1], "JOIN") ||
                          t[i - 1].type == SQL_TK_COMMA)) ||
             (i + 1 < e && t[i + 1].type == SQL_TK_DOT))) {
            if (put(o, src + t[i].off, t[i].len) != 0 || put(o, "__tsr_r ", 8) != 0) {
                return -1;
            }
            continue;
        }
        if (put_tok(o, src, &t[i]) != 0) {
            return -1;
        }
    }
    if (!added && (put(o, ", ", 2) != 0 || put(o, extra, strlen(extra)) != 0)) {
        return -1;
    }
    return 0;
}

int sql_sem_cte_rewrite(const char *src, const sql_token *t, uint32_t n, cm_buf *out)
{
    if (n < 8 || !tok_is(src, &t[0], "WITH") || !tok_is(src, &t[1], "RECURSIVE")) {
        return 0;
    }
    cm_buf_reset(out);
    if (put(out, "WITH RECURSIVE ", 15) != 0) {
        return -1;
    }
    uint32_t i = 2;
    int changed = 0;
    for (;;) {
        /* name [(cols)] AS ( body ) */
        if (i + 3 >= n || (t[i].type != SQL_TK_IDENT && t[i].type != SQL_TK_QIDENT)) {
            return 0;
        }
        const sql_token *name = &t[i];
        uint32_t cols_b = 0, cols_e = 0, j = i + 1;
        if (t[j].type == SQL_TK_LPAREN) {
            cols_b = j + 1;
            while (j < n && t[j].type != SQL_TK_RPAREN) {
                j++;
            }
            cols_e = j++;
        }
        if (j + 1 >= n || !tok_is(src, &t[j], "AS") || t[j + 1].type != SQL_TK_LPAREN) {
            return 0;
        }
        uint32_t body_b = j + 2, body_e = body_b, uall = 0, unions = 0, refs = 0;
        int depth = 0;
        for (; body_e < n; body_e++) {
            if (t[body_e].type == SQL_TK_LPAREN) {
                depth++;
            } else if (t[body_e].type == SQL_TK_RPAREN) {
                if (depth-- == 0) {
                    break;
                }
            } else if (depth == 0 && tok_is(src, &t[body_e], "UNION")) {
                unions++;
                uall = body_e;
            }
            refs += same_name(src, &t[body_e], name);
        }
        if (body_e >= n) {
            return 0;
        }
        int guard = cols_b != 0 && cols_e > cols_b && unions == 1 && refs > 0 &&
                    uall + 2 < body_e && tok_is(src, &t[uall + 1], "ALL") &&
                    tok_is(src, &t[body_b], "SELECT") && tok_is(src, &t[uall + 2], "SELECT");
        if (guard) {
            /* name__tsr_r(cols, __tsr_d) AS (anchor, 0 UNION ALL recursive, depth + 1),
             * name(cols) AS (SELECT cols FROM name__tsr_r) */
            if (put(out, src + name->off, name->len) != 0 || put(out, "__tsr_r (", 9) != 0 ||
                put(out, src + t[cols_b].off,
                    t[cols_e - 1].off + t[cols_e - 1].len - t[cols_b].off) != 0 ||
                put(out, ", __tsr_d) AS (", 15) != 0 ||
                put_member(out, src, t, body_b, uall, "0", NULL) != 0 ||
                put(out, " UNION ALL ", 11) != 0 ||
                put_member(out, src, t, uall + 2, body_e, "__tsr_cte_depth(__tsr_d + 1)", name) !=
                    0 ||
                put(out, "), ", 3) != 0 || put(out, src + name->off, name->len) != 0 ||
                put(out, " (", 2) != 0 ||
                put(out, src + t[cols_b].off,
                    t[cols_e - 1].off + t[cols_e - 1].len - t[cols_b].off) != 0 ||
                put(out, ") AS (SELECT ", 13) != 0 ||
                put(out, src + t[cols_b].off,
                    t[cols_e - 1].off + t[cols_e - 1].len - t[cols_b].off) != 0 ||
                put(out, " FROM ", 6) != 0 || put(out, src + name->off, name->len) != 0 ||
                put(out, "__tsr_r)", 8) != 0) {
                return -1;
            }
            changed = 1;
        } else {
            for (uint32_t k = i; k <= body_e; k++) {
                if (put_tok(out, src, &t[k]) != 0) {
                    return -1;
                }
            }
        }
        i = body_e + 1;
        if (i < n && t[i].type == SQL_TK_COMMA) {
            if (put(out, ", ", 2) != 0) {
                return -1;
            }
            i++;
            continue;
        }
        break;
    }
    if (!changed) {
        return 0;
    }
    /* the rest of the statement as written */
    if (i < n && (put(out, " ", 1) != 0 ||
                  put(out, src + t[i].off, t[n - 1].off + t[n - 1].len - t[i].off) != 0)) {
        return -1;
    }
    return cm_buf_terminate(out) == 0 ? 1 : -1;
}

int sql_sem_translate(sql_sess *s, const char *src, const sql_token *t, uint32_t n,
                      const sql_tr_ctx *ctx, sql_tr_out *tr, cm_err *err)
{
    cm_buf rw = CM_BUF_INIT;
    int r = sql_sem_cte_rewrite(src, t, n, &rw);
    if (r != 1) {
        cm_buf_fini(&rw);
        return r < 0 ? cm_err_set(err, CM_E_NOMEM, "out of memory")
                     : sql_translate_query(src, t, n, ctx, tr, err);
    }
    sql_tokens toks;
    sql_tokens_init(&toks);
    int rc = sql_lex((const char *)rw.ptr, rw.len, s->mode, &toks, err);
    if (rc == 0) {
        rc = sql_translate_query((const char *)rw.ptr, toks.v, toks.n, ctx, tr, err);
    }
    sql_tokens_fini(&toks);
    cm_buf_fini(&rw);
    return rc;
}
