/* sql_prep.c — prepared statements (COM_STMT_PREPARE / EXECUTE). Queries keep their own SQLite
 * statement with the parameters bound at each execute; other statements (SET, SHOW, BEGIN …,
 * which sysbench and drivers also prepare) are re-run as text with the parameters substituted
 * as literals, so they take exactly the path of COM_QUERY. */
#include "sql_numeric.h"
#include "sql_session_int.h"
#include "sql_dml_ext.h"

#include "../mysql/sql_my_const.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint32_t sql_prep_param_count(const sql_prep *p)
{
    return p->nparams;
}

uint32_t sql_prep_column_count(const sql_prep *p)
{
    return p->ncols;
}

const sql_column *sql_prep_columns(const sql_prep *p)
{
    return p->cols;
}

const char *sql_prep_text(const sql_prep *p, size_t *len)
{
    *len = p->len;
    return p->sql;
}

void sql_sess_prep_free(sql_sess *s, sql_prep *p)
{
    for (sql_prep **pp = &s->preps; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    sqlite3_finalize(p->stmt);
    free(p->sql);
    free(p->items);
    free(p->target);
    free(p->cols);
    free(p->names);
    free(p);
}

/* Copies column descriptions, names included, into p. */
static int keep_columns(sql_prep *p, const sql_column *cols, uint32_t n)
{
    size_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        total += cols[i].name_len + 1;
    }
    p->cols = calloc(n ? n : 1, sizeof(*p->cols));
    p->names = malloc(total ? total : 1);
    if (p->cols == NULL || p->names == NULL) {
        return CM_E_NOMEM;
    }
    size_t off = 0;
    for (uint32_t i = 0; i < n; i++) {
        p->cols[i] = cols[i];
        memcpy(p->names + off, cols[i].name, cols[i].name_len);
        p->names[off + cols[i].name_len] = '\0';
        p->cols[i].name = p->names + off;
        off += cols[i].name_len + 1;
    }
    p->ncols = n;
    return 0;
}

/* The token range of the single statement in s->toks (trailing semicolons dropped). */
static int single_statement(sql_sess *s, const char *sql, uint32_t *n, cm_err *err)
{
    uint32_t end = s->toks.n;
    while (end > 0 && s->toks.v[end - 1].type == SQL_TK_SEMI) {
        end--;
    }
    for (uint32_t i = 0; i < end; i++) {
        if (s->toks.v[i].type == SQL_TK_SEMI) {
            const sql_token *t = &s->toks.v[i];
            return cm_err_set(err, CM_E_PARSE,
                              "You have an error in your SQL syntax; check the manual that "
                              "corresponds to your MySQL server version for the right syntax to "
                              "use near '%.*s' at line 1",
                              (int)(t->len), sql + t->off);
        }
    }
    if (end == 0) {
        return cm_err_set(err, CM_E_EMPTY_QUERY, "Query was empty");
    }
    *n = end;
    return 0;
}

static int prepare_query(sql_sess *s, sql_prep *p, uint32_t n, cm_err *err)
{
    sql_tr_ctx ctx = sql_sess_tr_ctx(s);
    const sql_token *t = s->toks.v;
    int rc = p->kind == SQL_KIND_DO    ? sql_translate_expr(p->sql, t + 1, n - 1, &ctx, &s->tr, err)
             : p->kind == SQL_KIND_DML ? sql_dml_translate(s, p->sql, t, n, &s->tr, err)
                                       : sql_translate_query(p->sql, t, n, &ctx, &s->tr, err);
    if (rc != 0) {
        return rc;
    }
    rc = sql_decl_prepare(s, (const char *)s->tr.sql.ptr, (int)s->tr.sql.len,
                          SQLITE_PREPARE_PERSISTENT, &p->stmt, NULL, err);
    if (rc == 0 && p->stmt == NULL) {
        rc = cm_err_set(err, CM_E_EMPTY_QUERY, "Query was empty");
    }
    if (rc != 0) {
        p->stmt = NULL;
        return rc;
    }
    if (p->kind == SQL_KIND_DML && s->tr.target.len > 0) {
        p->target = malloc(s->tr.target.len);
        if (p->target == NULL) {
            return cm_err_set(err, CM_E_NOMEM, "out of memory");
        }
        memcpy(p->target, s->tr.target.ptr, s->tr.target.len);
        p->target_len = s->tr.target.len;
    }
    if (p->kind == SQL_KIND_DO || p->kind == SQL_KIND_DML) {
        return 0;
    }
    (void)sql_ti_finish(s, p->sql, t, n, &p->stmt);
    if (s->tr.nitems > 0) {
        p->items = malloc(s->tr.nitems * sizeof(*p->items));
        if (p->items == NULL) {
            return cm_err_set(err, CM_E_NOMEM, "out of memory");
        }
        memcpy(p->items, s->tr.items, s->tr.nitems * sizeof(*p->items));
        p->nitems = s->tr.nitems;
    }
    int ncols = sqlite3_column_count(p->stmt);
    if ((rc = sql_sess_scratch(s, (uint32_t)(ncols > 0 ? ncols : 1), err)) != 0) {
        return rc;
    }
    sql_exec_describe(s, p->stmt, p->items, p->nitems, 0, s->cols, ncols);
    if (keep_columns(p, s->cols, (uint32_t)ncols) != 0) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    return 0;
}

int sql_sess_prepare(sql_sess *s, const char *sql, size_t len, sql_prep **out, cm_err *err)
{
    *out = NULL;
    uint32_t count = 0;
    for (sql_prep *q = s->preps; q != NULL; q = q->next) {
        count++;
    }
    int64_t max = sql_sysvars_get_int(s->env->globals, SQL_SV_MAX_PREPARED_STMT_COUNT);
    if (count >= SQL_PREPARED_PER_SESSION_MAX || (int64_t)count >= max) {
        return cm_err_set(
            err, CM_E_MAX_PREPARED,
            "Can't create more than max_prepared_stmt_count statements (current "
            "value: %lld)",
            (long long)(max < SQL_PREPARED_PER_SESSION_MAX ? max : SQL_PREPARED_PER_SESSION_MAX));
    }
    sql_diag_clear(s);
    s->toks.n = 0;
    int rc = sql_lex(sql, len, s->mode, &s->toks, err);
    uint32_t n = 0;
    if (rc == 0) {
        rc = single_statement(s, sql, &n, err);
    }
    if (rc != 0) {
        return rc;
    }
    sql_prep *p = calloc(1, sizeof(*p));
    if (p == NULL || (p->sql = malloc(len + 1)) == NULL) {
        free(p);
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    memcpy(p->sql, sql, len);
    p->sql[len] = '\0';
    p->len = len;
    p->kind = sql_classify(sql, s->toks.v, n);
    for (uint32_t i = 0; i < n; i++) {
        p->nparams += s->toks.v[i].type == SQL_TK_PARAM;
    }
    p->next = s->preps;
    s->preps = p;
    sql_sess_stmt_begin(s); /* the schema snapshot tables are declared from */
    switch (p->kind) {
    case SQL_KIND_DML:
        if (s->env->cat == NULL) {
            goto not_preparable;
        }
        if (sql_dml_ext_kind_of(sql, s->toks.v, n) != SQL_DML_EXT_NONE) {
            /* several SQLite statements (sql_dml_ext.h): run as text at execute */
            rc = keep_columns(p, NULL, 0) == 0 ? 0 : cm_err_set(err, CM_E_NOMEM, "out of memory");
            break;
        }
        /* fall through */
    case SQL_KIND_QUERY:
    case SQL_KIND_DO:
        rc = prepare_query(s, p, n, err);
        if (rc == 0 && p->kind == SQL_KIND_DML) {
            rc = keep_columns(p, NULL, 0) == 0 ? 0 : cm_err_set(err, CM_E_NOMEM, "out of memory");
        }
        break;
    case SQL_KIND_SHOW: {
        sql_column cols[8];
        uint32_t nc = sql_show_columns(s, sql, s->toks.v, n, cols, 8);
        rc = keep_columns(p, cols, nc) == 0 ? 0 : cm_err_set(err, CM_E_NOMEM, "out of memory");
        break;
    }
    case SQL_KIND_SET:
    case SQL_KIND_USE:
    case SQL_KIND_BEGIN:
    case SQL_KIND_COMMIT:
    case SQL_KIND_ROLLBACK:
    case SQL_KIND_KILL:
        rc = keep_columns(p, NULL, 0) == 0 ? 0 : cm_err_set(err, CM_E_NOMEM, "out of memory");
        break;
    case SQL_KIND_DESCRIBE:
    case SQL_KIND_UNSUPPORTED:
        if (s->env->cat != NULL) {
            /* DDL, DESCRIBE, …: run as text at execute (columns are known then). */
            rc = keep_columns(p, NULL, 0) == 0 ? 0 : cm_err_set(err, CM_E_NOMEM, "out of memory");
            break;
        }
        /* fall through */
    default:
    not_preparable:
        /* Statements that need tables or are not supported fail now, as MySQL reports unknown
         * tables at prepare time; they have no side effects. */
        rc = sql_sess_exec(s, p->sql, s->toks.v, n, p->sql, len, &sql_discard_sink, 0, err);
        if (rc == 0) {
            rc = cm_err_set(err, CM_E_INTERNAL, "statement cannot be prepared");
        }
        break;
    }
    if (rc != 0) {
        sql_sess_note_error(s, err);
        sql_sess_prep_free(s, p);
        return rc;
    }
    *out = p;
    return 0;
}

static int bind_params(sql_sess *s, sql_prep *p, const sql_value *v, uint32_t n, cm_err *err)
{
    (void)s;
    for (uint32_t i = 0; i < n; i++) {
        int k = (int)i + 1, lrc;
        switch (v[i].type) {
        case SQL_V_INT:
            lrc = sqlite3_bind_int64(p->stmt, k, v[i].i);
            break;
        case SQL_V_UINT:
            lrc = v[i].u <= (uint64_t)INT64_MAX ? sqlite3_bind_int64(p->stmt, k, (int64_t)v[i].u)
                                                : sqlite3_bind_double(p->stmt, k, (double)v[i].u);
            break;
        case SQL_V_DOUBLE:
            lrc = sqlite3_bind_double(p->stmt, k, v[i].d);
            break;
        case SQL_V_TEXT:
            lrc = sqlite3_bind_text(p->stmt, k, v[i].n ? v[i].s : "", (int)v[i].n, SQLITE_STATIC);
            break;
        case SQL_V_BLOB:
            lrc = sqlite3_bind_blob(p->stmt, k, v[i].n ? v[i].s : "", (int)v[i].n, SQLITE_STATIC);
            break;
        default:
            lrc = sqlite3_bind_null(p->stmt, k);
            break;
        }
        if (lrc != SQLITE_OK) {
            sqlite3_clear_bindings(p->stmt);
            return cm_err_set(err, lrc == SQLITE_TOOBIG ? CM_E_NET_PACKET_TOO_LARGE : CM_E_INTERNAL,
                              "cannot bind parameter %u", i + 1);
        }
    }
    return 0;
}

/* Appends a value as a MySQL literal. */
static int append_literal(sql_sess *s, cm_buf *b, const sql_value *v)
{
    static const char hexd[] = "0123456789ABCDEF";
    switch (v->type) {
    case SQL_V_NULL:
        return cm_buf_printf(b, "NULL");
    case SQL_V_INT:
        return cm_buf_printf(b, "%" PRId64, v->i);
    case SQL_V_UINT:
        return cm_buf_printf(b, "%" PRIu64, v->u);
    case SQL_V_DOUBLE:
        if (!isfinite(v->d)) {
            return cm_buf_printf(b, "NULL");
        }
        return cm_buf_printf(b, "%.17g", v->d);
    case SQL_V_TEXT: {
        int bs = !(s->mode & SQL_MODE_NO_BACKSLASH_ESCAPES);
        if (cm_buf_append_u8(b, '\'') != 0) {
            return CM_E_NOMEM;
        }
        for (size_t i = 0; i < v->n; i++) {
            char c = v->s[i];
            if ((c == '\'' && cm_buf_append_u8(b, '\'') != 0) ||
                (c == '\\' && bs && cm_buf_append_u8(b, '\\') != 0) ||
                cm_buf_append_u8(b, (uint8_t)c) != 0) {
                return CM_E_NOMEM;
            }
        }
        return cm_buf_append_u8(b, '\'');
    }
    case SQL_V_BLOB:
        if (cm_buf_append(b, "X'", 2) != 0) {
            return CM_E_NOMEM;
        }
        for (size_t i = 0; i < v->n; i++) {
            uint8_t c = (uint8_t)v->s[i];
            if (cm_buf_append_u8(b, (uint8_t)hexd[c >> 4]) != 0 ||
                cm_buf_append_u8(b, (uint8_t)hexd[c & 15]) != 0) {
                return CM_E_NOMEM;
            }
        }
        return cm_buf_append_u8(b, '\'');
    }
    return 0;
}

/* Re-runs a non-query statement as text with the parameters substituted. */
static int execute_as_text(sql_sess *s, sql_prep *p, const sql_value *params, uint32_t nparams,
                           sql_sink *sink, cm_err *err)
{
    s->toks.n = 0;
    int rc = sql_lex(p->sql, p->len, s->mode, &s->toks, err);
    if (rc != 0) {
        return rc;
    }
    cm_buf text = CM_BUF_INIT;
    size_t at = 0;
    uint32_t k = 0;
    for (uint32_t i = 0; i < s->toks.n && rc == 0; i++) {
        const sql_token *t = &s->toks.v[i];
        if (t->type != SQL_TK_PARAM) {
            continue;
        }
        rc = cm_buf_append(&text, p->sql + at, t->off - at);
        if (rc == 0 && k < nparams) {
            rc = append_literal(s, &text, &params[k++]);
        }
        at = t->off + t->len;
    }
    if (rc == 0) {
        rc = cm_buf_append(&text, p->sql + at, p->len - at);
    }
    if (rc != 0) {
        cm_buf_fini(&text);
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    s->toks.n = 0;
    const char *src = text.ptr ? (const char *)text.ptr : "";
    rc = sql_lex(src, text.len, s->mode, &s->toks, err);
    uint32_t n = 0;
    if (rc == 0) {
        rc = single_statement(s, src, &n, err);
    }
    if (rc == 0) {
        rc = sql_sess_exec(s, src, s->toks.v, n, src, text.len, sink, 0, err);
    }
    cm_buf_fini(&text);
    return rc;
}

int sql_sess_execute(sql_sess *s, sql_prep *p, const sql_value *params, uint32_t nparams,
                     sql_sink *sink, cm_err *err)
{
    s->questions++;
    if (nparams != p->nparams) {
        int rc =
            cm_err_set(err, CM_E_WRONG_ARGUMENTS, "Incorrect arguments to mysqld_stmt_execute");
        sql_sess_note_error(s, err);
        return rc;
    }
    int rc;
    if (p->kind == SQL_KIND_QUERY || p->kind == SQL_KIND_DO ||
        (p->kind == SQL_KIND_DML && p->stmt != NULL)) {
        sql_diag_clear(s);
        sql_sess_stmt_begin(s);
        s->stmt_dml = p->kind == SQL_KIND_DML;
        rc = bind_params(s, p, params, nparams, err);
        if (rc == 0) {
            int discard = p->kind == SQL_KIND_DO;
            s->ins_target = p->target;
            s->ins_target_len = p->target_len;
            rc = sql_exec_run(s, p->stmt, p->items, p->nitems, sink, 0, discard, err);
            if (rc == 0 && discard) {
                rc = sql_sess_done(s, sink, 0, 0, 0, NULL);
            }
        }
    } else {
        rc = execute_as_text(s, p, params, nparams, sink, err);
    }
    if (rc != 0) {
        sql_sess_note_error(s, err);
    }
    return rc;
}
