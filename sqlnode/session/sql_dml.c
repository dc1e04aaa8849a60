/* sql_dml.c — INSERT, REPLACE, UPDATE and DELETE in SQLite's dialect. The statement's head
 * (modifiers, IGNORE, INTO) is rewritten here — INSERT IGNORE is SQLite's INSERT OR IGNORE,
 * which the vtab module reads through sqlite3_vtab_on_conflict — and the rest goes through the
 * query translator (MySQL literals, operators, functions). */
#include "sql_session_int.h"

#include <string.h>

static int syntax(const char *src, const sql_token *t, uint32_t n, uint32_t i, cm_err *err)
{
    const char *near = i < n ? src + t[i].off : "";
    size_t len = i < n ? strlen(near) : 0;
    return cm_err_set(err, CM_E_PARSE,
                      "You have an error in your SQL syntax; check the manual that corresponds to "
                      "your MySQL server version for the right syntax to use near '%.*s' at line 1",
                      (int)(len > 60 ? 60 : len), near);
}

/* Appends the translation of t[b, e) to out->sql (through the scratch translation tmp). */
static int append_translated(sql_sess *s, const char *src, const sql_token *t, uint32_t b,
                             uint32_t e, sql_tr_out *tmp, sql_tr_out *out, cm_err *err)
{
    if (b >= e) {
        return 0;
    }
    sql_tr_ctx ctx = sql_sess_tr_ctx(s);
    int rc = sql_translate_fragment(src, t + b, e - b, &ctx, tmp, err);
    if (rc != 0) {
        return rc;
    }
    if (cm_buf_append(&out->sql, tmp->sql.ptr, tmp->sql.len) != 0 ||
        cm_buf_append_u8(&out->sql, ' ') != 0) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    return 0;
}

int sql_dml_translate(sql_sess *s, const char *src, const sql_token *t, uint32_t n, sql_tr_out *out,
                      cm_err *err)
{
    static const char *const modifiers[] = {"LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY", "QUICK",
                                            NULL};
    sql_tr_out_reset(out);
    int is_insert = sql_tok_is(src, &t[0], "INSERT");
    int is_replace = sql_tok_is(src, &t[0], "REPLACE");
    int is_update = sql_tok_is(src, &t[0], "UPDATE");
    int is_delete = sql_tok_is(src, &t[0], "DELETE");
    if (!is_insert && !is_replace && !is_update && !is_delete) {
        return cm_err_set(err, CM_E_UNSUPPORTED,
                          "This version of Tessera doesn't yet support '%.*s'", (int)t[0].len,
                          src + t[0].off);
    }
    uint32_t i = 1;
    int ignore = 0;
    for (; i < n && t[i].type == SQL_TK_IDENT; i++) {
        int mod = 0;
        for (const char *const *m = modifiers; *m; m++) {
            mod |= sql_tok_is(src, &t[i], *m);
        }
        if (sql_tok_is(src, &t[i], "IGNORE")) {
            ignore = mod = 1;
        }
        if (!mod) {
            break;
        }
    }
    const char *head;
    if (is_insert || is_replace) {
        if (i < n && sql_tok_is(src, &t[i], "INTO")) {
            i++;
        }
        head = is_replace ? "REPLACE INTO " : ignore ? "INSERT OR IGNORE INTO " : "INSERT INTO ";
    } else if (is_update) {
        head = ignore ? "UPDATE OR IGNORE " : "UPDATE ";
    } else {
        if (i >= n || !sql_tok_is(src, &t[i], "FROM")) {
            return syntax(src, t, n, i, err);
        }
        i++;
        head = "DELETE FROM ";
    }
    if (i >= n) {
        return syntax(src, t, n, i, err);
    }
    /* Forms SQLite cannot run on virtual tables, refused with MySQL's "not supported". */
    int depth = 0;
    uint32_t value_kw = n; /* MySQL's VALUE synonym of VALUES */
    for (uint32_t j = i; j < n; j++) {
        depth += t[j].type == SQL_TK_LPAREN;
        depth -= t[j].type == SQL_TK_RPAREN;
        out->nparams += t[j].type == SQL_TK_PARAM;
        if (depth != 0 || t[j].type != SQL_TK_IDENT) {
            continue;
        }
        if (sql_tok_is(src, &t[j], "ON") && j + 2 < n && sql_tok_is(src, &t[j + 1], "DUPLICATE")) {
            return cm_err_set(err, CM_E_UNSUPPORTED,
                              "This version of Tessera doesn't yet support 'ON DUPLICATE KEY "
                              "UPDATE'");
        }
        if ((is_insert || is_replace) && j == i + 1 && sql_tok_is(src, &t[j], "SET")) {
            return cm_err_set(err, CM_E_UNSUPPORTED,
                              "This version of Tessera doesn't yet support 'INSERT … SET'; use "
                              "INSERT … VALUES");
        }
        if ((is_insert || is_replace) && value_kw == n && sql_tok_is(src, &t[j], "VALUE")) {
            value_kw = j;
        }
        if ((is_update || is_delete) &&
            (sql_tok_is(src, &t[j], "LIMIT") ||
             (sql_tok_is(src, &t[j], "ORDER") && j + 1 < n && sql_tok_is(src, &t[j + 1], "BY")))) {
            return cm_err_set(err, CM_E_UNSUPPORTED,
                              "This version of Tessera doesn't yet support '%s … ORDER BY/LIMIT'",
                              is_update ? "UPDATE" : "DELETE");
        }
    }
    if (cm_buf_append(&out->sql, head, strlen(head)) != 0) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    sql_tr_out tmp;
    sql_tr_out_init(&tmp);
    int rc = append_translated(s, src, t, i, value_kw, &tmp, out, err);
    if (rc == 0 && value_kw < n) {
        rc = cm_buf_append(&out->sql, "VALUES ", 7) == 0
                 ? append_translated(s, src, t, value_kw + 1, n, &tmp, out, err)
                 : cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    sql_tr_out_fini(&tmp);
    if (rc == 0 && cm_buf_terminate(&out->sql) != 0) {
        rc = cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    return rc;
}
