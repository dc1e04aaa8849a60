/* sql_dml.c — INSERT, REPLACE, UPDATE and DELETE in SQLite's dialect. The statement's head
 * (modifiers, IGNORE, INTO) is rewritten here — INSERT IGNORE is SQLite's INSERT OR IGNORE,
 * which the vtab module reads through sqlite3_vtab_on_conflict — and the rest goes through the
 * query translator (MySQL literals, operators, functions). */
#include "sql_session_int.h"
#include "sql_dml_ext.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int syntax(const char *src, const sql_token *t, uint32_t n, uint32_t i, cm_err *err)
{
    /* the statement is not NUL-terminated (a packet buffer): it ends with its last token */
    const char *near = i < n ? src + t[i].off : "";
    size_t len = i < n ? (size_t)t[n - 1].off + t[n - 1].len - t[i].off : 0;
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

static int is_name(const sql_token *t)
{
    return t->type == SQL_TK_IDENT || t->type == SQL_TK_QIDENT;
}

/* Appends the unquoted name of t and a NUL to b. */
static int append_name(const char *src, const sql_token *t, cm_buf *b)
{
    cm_buf v = CM_BUF_INIT;
    int rc = sql_tok_name(src, t, &v);
    if (rc == 0 && (cm_buf_append(b, v.ptr, v.len) != 0 || cm_buf_append_u8(b, 0) != 0)) {
        rc = CM_E_NOMEM;
    }
    cm_buf_fini(&v);
    return rc;
}

/* What the rows of VALUES give a column: nothing yet, values, DEFAULT, or both. */
enum { VAL_NONE = 0, VAL_VALUE = 1, VAL_DEFAULT = 2, VAL_MIXED = 3 };

/* Whether t[b, e) is the single keyword DEFAULT (a value of a VALUES row). */
static int is_default(const char *src, const sql_token *t, uint32_t b, uint32_t e)
{
    return e == b + 1 && sql_tok_is(src, &t[b], "DEFAULT");
}

/* Scans the rows of INSERT … VALUES (from the keyword at vk) for DEFAULT given as a value:
 * (*st)[k] tells what column position k receives (VAL_*); *st is owned by the caller (NULL
 * when there is no DEFAULT). With srcw/tw (writable copies of src and t) each such DEFAULT
 * becomes NULL, which the vtab turns into the default because the column counts as not named
 * (sql_vtab.h insert_named). Returns 0 or CM_E_NOMEM. */
static int values_defaults(const char *src, const sql_token *t, uint32_t n, uint32_t vk,
                           uint8_t **st, uint32_t *nst, char *srcw, sql_token *tw)
{
    *st = NULL;
    *nst = 0;
    uint32_t cap = 0, col = 0, eb = 0;
    int depth = 0, any = 0;
    uint8_t *v = NULL;
    for (uint32_t j = vk + 1; j < n; j++) {
        int type = t[j].type;
        if (depth == 0 && type != SQL_TK_LPAREN && type != SQL_TK_COMMA) {
            break; /* the rows ended (an alias, ON DUPLICATE …) */
        }
        if (depth == 0 && type == SQL_TK_LPAREN) {
            col = 0;
            eb = j + 1;
        }
        depth += type == SQL_TK_LPAREN;
        depth -= type == SQL_TK_RPAREN;
        if (!((depth == 1 && type == SQL_TK_COMMA) || (depth == 0 && type == SQL_TK_RPAREN))) {
            continue;
        }
        if (j > eb) { /* one value t[eb, j) at position col */
            if (col >= SQL_TR_ITEMS_MAX) {
                break;
            }
            if (col >= cap) {
                uint32_t nc = cap ? cap * 2 : 16;
                uint8_t *nv = realloc(v, nc);
                if (nv == NULL) {
                    free(v);
                    return CM_E_NOMEM;
                }
                memset(nv + cap, 0, nc - cap);
                v = nv;
                cap = nc;
            }
            int d = is_default(src, t, eb, j);
            any |= d;
            if (d && srcw != NULL) { /* same length, so every other offset holds */
                memcpy(srcw + t[eb].off, "NULL   ", 7);
                tw[eb].len = 4;
            }
            v[col] |= d ? VAL_DEFAULT : VAL_VALUE;
            *nst = col + 1 > *nst ? col + 1 : *nst;
        }
        col++;
        eb = j + 1;
    }
    if (!any) {
        free(v);
        *nst = 0;
        return 0;
    }
    *st = v;
    return 0;
}

/* `INSERT INTO [db.]t [()] VALUES ()` (one empty row; SQLite's INSERT … DEFAULT VALUES): the
 * index where the part after the table name starts, or 0 for any other form. */
static uint32_t empty_row(const char *src, const sql_token *t, uint32_t n, uint32_t i)
{
    uint32_t j = i + 1;
    if (j + 1 < n && t[j].type == SQL_TK_DOT && is_name(&t[j + 1])) {
        j += 2;
    }
    uint32_t end = j;
    if (j + 1 < n && t[j].type == SQL_TK_LPAREN && t[j + 1].type == SQL_TK_RPAREN) {
        j += 2;
    }
    int ok = i < n && is_name(&t[i]) && j + 3 == n &&
             (sql_tok_is(src, &t[j], "VALUES") || sql_tok_is(src, &t[j], "VALUE")) &&
             t[j + 1].type == SQL_TK_LPAREN && t[j + 2].type == SQL_TK_RPAREN;
    return ok ? end : 0;
}

/* Records the target of INSERT/REPLACE t[i…] in out->target (sql_translate.h). A form it does
 * not recognise leaves the target empty: the vtab then falls back to its own rule. */
static int insert_target(const char *src, const sql_token *t, uint32_t n, uint32_t i,
                         const uint8_t *dflt, uint32_t ndflt, cm_buf *out)
{
    cm_buf_reset(out);
    if (i >= n || !is_name(&t[i])) {
        return 0;
    }
    uint32_t db = n, table = i;
    i++;
    if (i + 1 < n && t[i].type == SQL_TK_DOT && is_name(&t[i + 1])) {
        db = table;
        table = i + 1;
        i += 2;
    }
    int list = i < n && t[i].type == SQL_TK_LPAREN;
    int any_dflt = 0;
    for (uint32_t k = 0; k < ndflt; k++) {
        any_dflt |= dflt[k] == VAL_DEFAULT;
    }
    int rc = cm_buf_append_u8(out, list ? 'L' : any_dflt ? 'D' : 'A') != 0 ? CM_E_NOMEM : 0;
    if (rc == 0) {
        rc = db < n ? append_name(src, &t[db], out) : cm_buf_append_u8(out, 0) != 0;
    }
    if (rc == 0) {
        rc = append_name(src, &t[table], out);
    }
    uint32_t pos = 0;
    for (i++; rc == 0 && list && i < n && t[i].type != SQL_TK_RPAREN; i++) {
        if (is_name(&t[i])) {
            /* a column given DEFAULT in every row counts as not named */
            rc = pos < ndflt && dflt[pos] == VAL_DEFAULT ? 0 : append_name(src, &t[i], out);
            pos++;
        } else if (t[i].type != SQL_TK_COMMA) {
            cm_buf_reset(out); /* not a plain column list: leave it to the vtab */
            return 0;
        }
    }
    for (uint32_t k = 0; rc == 0 && !list && any_dflt && k < ndflt; k++) {
        if (dflt[k] == VAL_DEFAULT) { /* 'D': positions of the columns given DEFAULT */
            rc = cm_buf_printf(out, "%u", k) != 0 || cm_buf_append_u8(out, 0) != 0;
        }
    }
    return rc != 0 ? CM_E_NOMEM : 0;
}

int sql_dml_bind_named(sql_sess *s, cm_err *err)
{
    const char *p = s->ins_target;
    size_t len = s->ins_target_len;
    if (p == NULL || len < 3 || s->schema == NULL || p[len - 1] != '\0') {
        return 0;
    }
    int list = p[0] == 'L';
    int by_pos = p[0] == 'D'; /* every column but the positions listed */
    const char *db = p + 1;
    const char *table = db + strlen(db) + 1;
    const char *names = table + strlen(table) + 1;
    const char *end = p + len;
    if (table >= end || names > end) {
        return 0;
    }
    if (db[0] == '\0') {
        if (!s->has_db) {
            return 0;
        }
        db = s->dbname;
    }
    const sql_cat_table *t = sql_schema_table(s->schema, db, table);
    if (t == NULL) {
        return 0;
    }
    if (t->ncols > s->cap_ins_named) {
        bool *v = realloc(s->ins_named, t->ncols * sizeof(*v));
        if (v == NULL) {
            return cm_err_set(err, CM_E_NOMEM, "out of memory");
        }
        s->ins_named = v;
        s->cap_ins_named = t->ncols;
    }
    uint32_t nvis = 0;
    for (uint32_t c = 0; c < t->ncols; c++) {
        const sql_cat_col *col = &t->cols[c];
        if (col->state != SQL_OBJ_PUBLIC) {
            continue; /* the vtab declares PUBLIC columns only */
        }
        bool named = !list;
        for (const char *q = names; list && !named && q < end; q += strlen(q) + 1) {
            named = strcasecmp(q, col->name) == 0;
        }
        for (const char *q = names; by_pos && named && q < end; q += strlen(q) + 1) {
            named = strtoul(q, NULL, 10) != nvis;
        }
        s->ins_named[nvis++] = named;
    }
    s->vt.insert_named = s->ins_named;
    s->vt.ninsert_named = nvis;
    s->vt.insert_table = t->id;
    return 0;
}

void sql_dml_unbind_named(sql_sess *s)
{
    s->vt.insert_named = NULL;
    s->vt.ninsert_named = 0;
    s->vt.insert_table = 0;
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
    if (is_update) { /* SET t.c = …, left-to-right values (sql_dml_multi.c) */
        sql_token *uq = NULL;
        uint32_t nuq = 0;
        int q = sql_dml_ext_rewrite_set(src, t, n, &uq, &nuq, err);
        if (q > 0) {
            q = sql_dml_translate(s, src, uq, nuq, out, err);
            free(uq);
            return q;
        }
        if (q < 0) {
            return q;
        }
    }
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
    uint32_t values_at = n;
    for (uint32_t j = i; j < n; j++) {
        depth += t[j].type == SQL_TK_LPAREN;
        depth -= t[j].type == SQL_TK_RPAREN;
        out->nparams += t[j].type == SQL_TK_PARAM;
        if (depth != 0 || t[j].type != SQL_TK_IDENT) {
            continue;
        }
        if (sql_tok_is(src, &t[j], "ON") && j + 2 < n && sql_tok_is(src, &t[j + 1], "DUPLICATE")) {
            if (!is_insert) {
                return syntax(src, t, n, j, err); /* REPLACE … ON DUPLICATE KEY UPDATE */
            }
            return cm_err_set(err, CM_E_UNSUPPORTED,
                              "This version of Tessera doesn't yet support 'ON DUPLICATE KEY "
                              "UPDATE'");
        }
        if ((is_insert || is_replace) &&
            (j == i + 1 || (j == i + 3 && t[i + 1].type == SQL_TK_DOT)) &&
            sql_tok_is(src, &t[j], "SET")) {
            return sql_upsert_translate_set(s, src, t, n, i, out, err); /* sql_upsert.c */
        }
        if ((is_insert || is_replace) && value_kw == n && sql_tok_is(src, &t[j], "VALUE")) {
            value_kw = j;
        }
        if ((is_insert || is_replace) && values_at == n &&
            (sql_tok_is(src, &t[j], "VALUE") || sql_tok_is(src, &t[j], "VALUES"))) {
            values_at = j;
        }
        if ((is_update || is_delete) &&
            (sql_tok_is(src, &t[j], "LIMIT") ||
             (sql_tok_is(src, &t[j], "ORDER") && j + 1 < n && sql_tok_is(src, &t[j + 1], "BY")))) {
            return cm_err_set(err, CM_E_UNSUPPORTED,
                              "This version of Tessera doesn't yet support '%s … ORDER BY/LIMIT'",
                              is_update ? "UPDATE" : "DELETE");
        }
    }
    /* DEFAULT as a value: the column counts as not named and receives NULL (then its default) */
    uint8_t *dflt = NULL;
    uint32_t ndflt = 0;
    char *srcw = NULL;
    sql_token *tw = NULL;
    if (values_at < n && values_defaults(src, t, n, values_at, &dflt, &ndflt, NULL, NULL) != 0) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    for (uint32_t k = 0; k < ndflt; k++) {
        if (dflt[k] == VAL_MIXED) {
            free(dflt);
            return cm_err_set(err, CM_E_UNSUPPORTED,
                              "This version of Tessera doesn't yet support DEFAULT and values in "
                              "one column across the rows of one INSERT");
        }
    }
    if (dflt != NULL) {
        size_t len = (size_t)t[n - 1].off + t[n - 1].len;
        srcw = malloc(len + 1);
        tw = malloc((size_t)n * sizeof(*tw));
        if (srcw == NULL || tw == NULL) {
            free(dflt);
            free(srcw);
            free(tw);
            return cm_err_set(err, CM_E_NOMEM, "out of memory");
        }
        memcpy(srcw, src, len);
        srcw[len] = '\0';
        memcpy(tw, t, (size_t)n * sizeof(*tw));
        uint8_t *again = NULL;
        uint32_t nagain = 0;
        int arc = values_defaults(src, t, n, values_at, &again, &nagain, srcw, tw);
        free(again);
        if (arc != 0) {
            free(dflt);
            free(srcw);
            free(tw);
            return cm_err_set(err, CM_E_NOMEM, "out of memory");
        }
        src = srcw;
        t = tw;
    }
    int trc = cm_buf_append(&out->sql, head, strlen(head));
    if (trc == 0 && (is_insert || is_replace)) {
        trc = insert_target(src, t, n, i, dflt, ndflt, &out->target);
    }
    free(dflt);
    if (trc != 0) {
        free(srcw);
        free(tw);
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    uint32_t empty_at = (is_insert || is_replace) ? empty_row(src, t, n, i) : 0;
    if (empty_at > 0) {
        value_kw = n;
        if (out->target.len > 0) {
            out->target.ptr[0] = 'L'; /* every column takes its default: none is named */
        }
    }
    sql_tr_out tmp;
    sql_tr_out_init(&tmp);
    int rc = append_translated(s, src, t, i, empty_at > 0 ? empty_at : value_kw, &tmp, out, err);
    if (rc == 0 && empty_at > 0) {
        rc = cm_buf_append(&out->sql, "DEFAULT VALUES", 14) == 0
                 ? 0
                 : cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    if (rc == 0 && value_kw < n) {
        rc = cm_buf_append(&out->sql, "VALUES ", 7) == 0
                 ? append_translated(s, src, t, value_kw + 1, n, &tmp, out, err)
                 : cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    sql_tr_out_fini(&tmp);
    free(srcw);
    free(tw);
    if (rc == 0 && cm_buf_terminate(&out->sql) != 0) {
        rc = cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    return rc;
}
