/* sql_is_rows.c — the tables of information_schema: MySQL 8's columns and types, and the
 * generators that build their rows from the schema snapshot, the character set table and the
 * server's session list. */
#include "sql_is_int.h"

#include "../mysql/sql_my_const.h"
#include "sql_charset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- the row buffer ---- */

void is_rows_init(is_rows *r, uint32_t ncols)
{
    memset(r, 0, sizeof(*r));
    r->ncols = ncols;
    cm_buf_init(&r->text);
}

void is_rows_fini(is_rows *r)
{
    free(r->cells);
    cm_buf_fini(&r->text);
    memset(r, 0, sizeof(*r));
}

static is_cell *cell_next(is_rows *r)
{
    if (r->ncells == r->cap) {
        uint32_t cap = r->cap ? r->cap * 2 : 256;
        is_cell *c = realloc(r->cells, (size_t)cap * sizeof(*c));
        if (c == NULL) {
            r->oom = true;
            return NULL;
        }
        r->cells = c;
        r->cap = cap;
    }
    is_cell *c = &r->cells[r->ncells++];
    memset(c, 0, sizeof(*c));
    return c;
}

void is_null(is_rows *r)
{
    (void)cell_next(r);
}

void is_int(is_rows *r, int64_t v)
{
    is_cell *c = cell_next(r);
    if (c != NULL) {
        c->kind = IS_INT;
        c->i = v;
    }
}

void is_strn(is_rows *r, const char *s, size_t n)
{
    is_cell *c = cell_next(r);
    if (c == NULL) {
        return;
    }
    c->kind = IS_TEXT;
    c->off = r->text.len;
    c->len = n;
    if (n > 0 && cm_buf_append(&r->text, s, n) != 0) {
        r->oom = true;
    }
}

void is_str(is_rows *r, const char *s)
{
    if (s == NULL) {
        is_null(r);
    } else {
        is_strn(r, s, strlen(s));
    }
}

bool is_want(const is_rows *r, const char *db, const char *table)
{
    if (r->want_db != NULL && strcasecmp(r->want_db, db) != 0) {
        return false;
    }
    return table == NULL || r->want_table == NULL || strcasecmp(r->want_table, table) == 0;
}

static void nulls(is_rows *r, int n)
{
    for (int i = 0; i < n; i++) {
        is_null(r);
    }
}

/* ---- column facts from a catalog column ---- */

static const char IS_DB[] = "information_schema";
static const char DEF_CHARSET[] = "utf8mb4";
static const char DEF_COLLATION[] = "utf8mb4_bin";

static bool is_text(const sql_coltype *t)
{
    return t->dtype == CM_DT_STRING || t->dtype == CM_DT_JSON || t->dtype == CM_DT_ENUM ||
           t->dtype == CM_DT_SET;
}

static bool col_in_pk(const sql_cat_table *t, uint32_t off)
{
    if (t->handle_col == (int32_t)off) {
        return true;
    }
    for (uint32_t i = 0; i < t->nindexes; i++) {
        const sql_cat_index *x = &t->indexes[i];
        for (uint32_t j = 0; x->primary && x->state == SQL_OBJ_PUBLIC && j < x->ncols; j++) {
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
        if (x->state != SQL_OBJ_PUBLIC || x->ncols == 0 || x->cols[0] != off) {
            continue;
        }
        if (x->unique && x->ncols == 1) {
            return "UNI";
        }
        mul = true;
    }
    return mul ? "MUL" : "";
}

static void now_text(const sql_cat_col *c, char *b, size_t cap)
{
    if (c->type.decimals > 0) {
        snprintf(b, cap, "CURRENT_TIMESTAMP(%u)", c->type.decimals);
    } else {
        snprintf(b, cap, "CURRENT_TIMESTAMP");
    }
}

static void col_extra(const sql_cat_col *c, char *extra, size_t cap)
{
    char nb[40];
    extra[0] = '\0';
    if (c->auto_inc) {
        snprintf(extra, cap, "auto_increment");
    } else if (c->default_now && c->on_update_now) {
        now_text(c, nb, sizeof(nb));
        snprintf(extra, cap, "DEFAULT_GENERATED on update %s", nb);
    } else if (c->default_now) {
        snprintf(extra, cap, "DEFAULT_GENERATED");
    } else if (c->on_update_now) {
        now_text(c, nb, sizeof(nb));
        snprintf(extra, cap, "on update %s", nb);
    }
}

/* NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION as MySQL 8 reports them (-1: NULL). */
static void numeric_facts(const sql_coltype *t, int64_t *prec, int64_t *scale, int64_t *dtprec)
{
    *prec = *scale = *dtprec = -1;
    switch (t->mysql_type) {
    case SQL_TYPE_TINY:
        *prec = 3, *scale = 0;
        break;
    case SQL_TYPE_SHORT:
        *prec = 5, *scale = 0;
        break;
    case SQL_TYPE_INT24:
        *prec = 7, *scale = 0;
        break;
    case SQL_TYPE_LONG:
        *prec = 10, *scale = 0;
        break;
    case SQL_TYPE_LONGLONG:
        *prec = t->is_unsigned ? 20 : 19, *scale = 0;
        break;
    case SQL_TYPE_NEWDECIMAL:
    case SQL_TYPE_DECIMAL:
        *prec = t->precision, *scale = t->decimals;
        break;
    case SQL_TYPE_FLOAT:
        *prec = 12;
        break;
    case SQL_TYPE_DOUBLE:
        *prec = 22;
        break;
    case SQL_TYPE_BIT:
        *prec = t->length;
        break;
    case SQL_TYPE_TIME:
    case SQL_TYPE_DATETIME:
    case SQL_TYPE_TIMESTAMP:
        *dtprec = t->decimals;
        break;
    default:
        break;
    }
    if ((t->mysql_type == SQL_TYPE_FLOAT || t->mysql_type == SQL_TYPE_DOUBLE) && t->decimals > 0 &&
        t->decimals < 31) {
        *prec = t->length > 0 ? t->length : *prec;
        *scale = t->decimals;
    }
}

static void int_or_null(is_rows *r, int64_t v)
{
    if (v < 0) {
        is_null(r);
    } else {
        is_int(r, v);
    }
}

/* ---- generators ---- */

static int rows_schemata(const sql_is_env *env, is_rows *r, cm_err *err)
{
    (void)err;
    const sql_schema *s = env->schema(env->sess);
    if (is_want(r, IS_DB, NULL)) {
        is_str(r, "def");
        is_str(r, IS_DB);
        is_str(r, "utf8mb3");
        is_str(r, "utf8mb3_general_ci");
        is_null(r);
        is_str(r, "NO");
    }
    for (uint32_t i = 0; s != NULL && i < sql_schema_ndbs(s); i++) {
        const sql_cat_db *d = sql_schema_db_at(s, i);
        if (!is_want(r, d->name, NULL) ||
            (env->visible != NULL && !env->visible(env->sess, d->name, NULL))) {
            continue;
        }
        is_str(r, "def");
        is_str(r, d->name);
        is_str(r, DEF_CHARSET);
        is_str(r, DEF_COLLATION);
        is_null(r);
        is_str(r, "NO");
    }
    return 0;
}

/* Calls fn for every PUBLIC table of every database the scan wants. */
static void each_table(const sql_is_env *env, is_rows *r,
                       void (*fn)(const sql_is_env *, is_rows *, const sql_cat_db *,
                                  const sql_cat_table *))
{
    const sql_schema *s = env->schema(env->sess);
    for (uint32_t i = 0; s != NULL && i < sql_schema_ndbs(s); i++) {
        const sql_cat_db *d = sql_schema_db_at(s, i);
        if (!is_want(r, d->name, NULL)) {
            continue;
        }
        uint32_t n = sql_schema_ntables(s, d);
        for (uint32_t k = 0; k < n; k++) {
            const sql_cat_table *t = sql_schema_table_at(s, d, k);
            if (t->state == SQL_OBJ_PUBLIC && is_want(r, d->name, t->name) &&
                (env->visible == NULL || env->visible(env->sess, d->name, t->name))) {
                fn(env, r, d, t);
            }
        }
    }
}

static void table_row(const sql_is_env *env, is_rows *r, const sql_cat_db *d,
                      const sql_cat_table *t)
{
    is_str(r, "def");
    is_str(r, d->name);
    is_str(r, t->name);
    is_str(r, "BASE TABLE");
    is_str(r, "InnoDB");
    is_int(r, 10);
    is_str(r, "Dynamic");
    for (int k = 0; k < 6; k++) { /* TABLE_ROWS … DATA_FREE: no statistics are kept */
        is_int(r, 0);
    }
    if (t->autoinc_col >= 0 && env->cat != NULL) {
        is_int(r, (int64_t)sql_cat_autoid_peek(env->cat, t));
    } else {
        is_null(r);
    }
    nulls(r, 3); /* CREATE_TIME, UPDATE_TIME, CHECK_TIME */
    is_str(r, DEF_COLLATION);
    is_null(r);
    is_str(r, "");
    is_str(r, t->comment ? t->comment : "");
}

static int rows_tables(const sql_is_env *env, is_rows *r, cm_err *err)
{
    (void)err;
    for (uint32_t i = 0; i < sql_is_ntabs && is_want(r, IS_DB, NULL); i++) {
        if (!is_want(r, IS_DB, sql_is_tables[i].name)) {
            continue;
        }
        is_str(r, "def");
        is_str(r, IS_DB);
        is_str(r, sql_is_tables[i].name);
        is_str(r, "SYSTEM VIEW");
        is_null(r);
        is_int(r, 10);
        is_null(r);
        for (int k = 0; k < 6; k++) {
            is_int(r, 0);
        }
        nulls(r, 4);
        is_null(r);
        is_null(r);
        is_str(r, "");
        is_str(r, "");
    }
    each_table(env, r, table_row);
    return 0;
}

static void column_rows(const sql_is_env *env, is_rows *r, const sql_cat_db *d,
                        const sql_cat_table *t)
{
    (void)env;
    cm_buf ty = CM_BUF_INIT;
    uint32_t pos = 0;
    for (uint32_t i = 0; i < t->ncols; i++) {
        const sql_cat_col *c = &t->cols[i];
        if (c->state != SQL_OBJ_PUBLIC) {
            continue;
        }
        cm_buf_reset(&ty);
        if (sql_type_format(&c->type, &ty) != 0 || cm_buf_terminate(&ty) != 0) {
            r->oom = true;
            break;
        }
        const char *tt = (const char *)ty.ptr;
        is_str(r, "def");
        is_str(r, d->name);
        is_str(r, t->name);
        is_str(r, c->name);
        is_int(r, ++pos);
        char nb[40];
        if (c->default_now) {
            now_text(c, nb, sizeof(nb));
            is_str(r, nb);
        } else if (c->has_default && !c->default_null && c->default_text != NULL &&
                   c->type.mysql_type == SQL_TYPE_BIT) {
            cm_buf bl = CM_BUF_INIT;
            sql_cat_bit_literal(&bl, c->default_text);
            is_strn(r, bl.ptr ? (const char *)bl.ptr : "", bl.len);
            cm_buf_fini(&bl);
        } else if (c->has_default && !c->default_null && c->default_text != NULL) {
            is_str(r, c->default_text);
        } else {
            is_null(r);
        }
        is_str(r, c->not_null || col_in_pk(t, i) ? "NO" : "YES");
        size_t dl = strcspn(tt, "( ");
        is_strn(r, tt, dl);
        const sql_coltype *ct = &c->type;
        if (ct->dtype == CM_DT_STRING || ct->dtype == CM_DT_BYTES) {
            bool bytes = ct->dtype == CM_DT_BYTES;
            bool lob = ct->mysql_type == SQL_TYPE_BLOB || ct->mysql_type == SQL_TYPE_TINY_BLOB ||
                       ct->mysql_type == SQL_TYPE_MEDIUM_BLOB ||
                       ct->mysql_type == SQL_TYPE_LONG_BLOB;
            int64_t len = ct->length;
            if (lob && !bytes) { /* TEXT kinds: MySQL reports the byte maximum as characters */
                is_int(r, len / 4 > 0 ? len / 4 : len);
                is_int(r, len);
            } else {
                is_int(r, len);
                is_int(r, bytes || lob ? len : len * 4);
            }
        } else if (ct->dtype == CM_DT_ENUM || ct->dtype == CM_DT_SET) {
            int64_t mx = 0;
            for (uint32_t k = 0; k < ct->nmembers; k++) {
                int64_t l = (int64_t)strlen(ct->members[k]);
                if (ct->dtype == CM_DT_SET) {
                    mx += l + (k > 0);
                } else if (l > mx) {
                    mx = l;
                }
            }
            is_int(r, mx);
            is_int(r, mx * 4);
        } else if (ct->dtype == CM_DT_JSON) {
            is_int(r, 4294967295LL);
            is_int(r, 4294967295LL);
        } else {
            is_null(r);
            is_null(r);
        }
        int64_t prec, scale, dtprec;
        numeric_facts(ct, &prec, &scale, &dtprec);
        int_or_null(r, prec);
        int_or_null(r, scale);
        int_or_null(r, dtprec);
        bool txt = is_text(ct) && ct->dtype != CM_DT_JSON;
        is_str(r, txt ? DEF_CHARSET : NULL);
        is_str(r, txt ? DEF_COLLATION : NULL);
        is_str(r, tt);
        is_str(r, col_key(t, i));
        char extra[96];
        col_extra(c, extra, sizeof(extra));
        is_str(r, extra);
        is_str(r, "select,insert,update,references");
        is_str(r, c->comment ? c->comment : "");
        is_str(r, "");
        is_null(r);
    }
    cm_buf_fini(&ty);
}

/* COLUMNS rows of information_schema's own tables, from their declared types. */
static void is_column_rows(is_rows *r)
{
    for (uint32_t i = 0; i < sql_is_ntabs; i++) {
        const is_tabdef *td = &sql_is_tables[i];
        if (!is_want(r, IS_DB, td->name)) {
            continue;
        }
        for (uint32_t k = 0; k < td->ncols; k++) {
            const char *tt = td->cols[k].type;
            is_str(r, "def");
            is_str(r, IS_DB);
            is_str(r, td->name);
            is_str(r, td->cols[k].name);
            is_int(r, k + 1);
            is_null(r);
            is_str(r, "YES");
            is_strn(r, tt, strcspn(tt, "( "));
            bool str = strncmp(tt, "varchar", 7) == 0 || strstr(tt, "text") != NULL ||
                       strncmp(tt, "enum", 4) == 0;
            if (str) {
                int64_t len = strncmp(tt, "varchar(", 8) == 0 ? strtoll(tt + 8, NULL, 10)
                              : strcmp(tt, "text") == 0       ? 21845
                                                              : 1431655765;
                is_int(r, len);
                is_int(r, len * 3);
            } else {
                nulls(r, 2);
            }
            bool integer = strstr(tt, "int") != NULL;
            bool big = strncmp(tt, "bigint", 6) == 0;
            if (integer) {
                is_int(r, big ? (strstr(tt, "unsigned") ? 20 : 19) : 10);
                is_int(r, 0);
            } else {
                nulls(r, 2);
            }
            if (strcmp(tt, "datetime") == 0 || strcmp(tt, "timestamp") == 0) {
                is_int(r, 0);
            } else {
                is_null(r);
            }
            is_str(r, str ? "utf8mb3" : NULL);
            is_str(r, str ? "utf8mb3_general_ci" : NULL);
            is_str(r, tt);
            is_str(r, "");
            is_str(r, "");
            is_str(r, "select");
            is_str(r, "");
            is_str(r, "");
            is_null(r);
        }
    }
}

static int rows_columns(const sql_is_env *env, is_rows *r, cm_err *err)
{
    (void)err;
    if (is_want(r, IS_DB, NULL)) {
        is_column_rows(r);
    }
    each_table(env, r, column_rows);
    return 0;
}

static void stat_row(is_rows *r, const sql_cat_db *d, const sql_cat_table *t, const char *name,
                     bool unique, const uint32_t *cols, const uint32_t *prefix, uint32_t ncols,
                     const char *comment)
{
    for (uint32_t j = 0; j < ncols; j++) {
        const sql_cat_col *c = &t->cols[cols[j]];
        is_str(r, "def");
        is_str(r, d->name);
        is_str(r, t->name);
        is_int(r, unique ? 0 : 1);
        is_str(r, d->name);
        is_str(r, name);
        is_int(r, (int64_t)j + 1);
        is_str(r, c->name);
        is_str(r, "A");
        is_int(r, 0);
        if (prefix != NULL && prefix[j] > 0) {
            is_int(r, prefix[j]);
        } else {
            is_null(r);
        }
        is_null(r);
        is_str(r, c->not_null || col_in_pk(t, cols[j]) ? "" : "YES");
        is_str(r, "BTREE");
        is_str(r, "");
        is_str(r, comment ? comment : "");
        is_str(r, "YES");
        is_null(r);
    }
}

static void stat_rows(const sql_is_env *env, is_rows *r, const sql_cat_db *d,
                      const sql_cat_table *t)
{
    (void)env;
    if (t->handle_col >= 0) {
        uint32_t hc = (uint32_t)t->handle_col;
        stat_row(r, d, t, "PRIMARY", true, &hc, NULL, 1, NULL);
    }
    for (uint32_t i = 0; i < t->nindexes; i++) {
        const sql_cat_index *x = &t->indexes[i];
        if (x->state == SQL_OBJ_PUBLIC) {
            stat_row(r, d, t, x->name, x->unique, x->cols, x->prefix_len, x->ncols, x->comment);
        }
    }
}

static int rows_statistics(const sql_is_env *env, is_rows *r, cm_err *err)
{
    (void)err;
    each_table(env, r, stat_rows);
    return 0;
}

static void kcu_row(is_rows *r, const sql_cat_db *d, const sql_cat_table *t, const char *name,
                    const uint32_t *cols, uint32_t ncols)
{
    for (uint32_t j = 0; j < ncols; j++) {
        is_str(r, "def");
        is_str(r, d->name);
        is_str(r, name);
        is_str(r, "def");
        is_str(r, d->name);
        is_str(r, t->name);
        is_str(r, t->cols[cols[j]].name);
        is_int(r, (int64_t)j + 1);
        nulls(r, 4);
    }
}

static void kcu_rows(const sql_is_env *env, is_rows *r, const sql_cat_db *d, const sql_cat_table *t)
{
    (void)env;
    if (t->handle_col >= 0) {
        uint32_t hc = (uint32_t)t->handle_col;
        kcu_row(r, d, t, "PRIMARY", &hc, 1);
    }
    for (uint32_t i = 0; i < t->nindexes; i++) {
        const sql_cat_index *x = &t->indexes[i];
        if (x->state == SQL_OBJ_PUBLIC && (x->unique || x->primary)) {
            kcu_row(r, d, t, x->primary ? "PRIMARY" : x->name, x->cols, x->ncols);
        }
    }
}

static int rows_kcu(const sql_is_env *env, is_rows *r, cm_err *err)
{
    (void)err;
    each_table(env, r, kcu_rows);
    return 0;
}

static void tc_row(is_rows *r, const sql_cat_db *d, const sql_cat_table *t, const char *name,
                   const char *type)
{
    is_str(r, "def");
    is_str(r, d->name);
    is_str(r, name);
    is_str(r, d->name);
    is_str(r, t->name);
    is_str(r, type);
    is_str(r, "YES");
}

static void tc_rows(const sql_is_env *env, is_rows *r, const sql_cat_db *d, const sql_cat_table *t)
{
    (void)env;
    if (t->handle_col >= 0) {
        tc_row(r, d, t, "PRIMARY", "PRIMARY KEY");
    }
    for (uint32_t i = 0; i < t->nindexes; i++) {
        const sql_cat_index *x = &t->indexes[i];
        if (x->state == SQL_OBJ_PUBLIC && (x->unique || x->primary)) {
            tc_row(r, d, t, x->primary ? "PRIMARY" : x->name,
                   x->primary ? "PRIMARY KEY" : "UNIQUE");
        }
    }
}

static int rows_tc(const sql_is_env *env, is_rows *r, cm_err *err)
{
    (void)err;
    each_table(env, r, tc_rows);
    return 0;
}

static void part_row(const sql_is_env *env, is_rows *r, const sql_cat_db *d, const sql_cat_table *t)
{
    (void)env;
    is_str(r, "def");
    is_str(r, d->name);
    is_str(r, t->name);
    nulls(r, 9); /* PARTITION_NAME … PARTITION_DESCRIPTION */
    for (int k = 0; k < 6; k++) {
        is_int(r, 0);
    }
    nulls(r, 4); /* CREATE_TIME … CHECKSUM */
    is_str(r, "");
    is_null(r);
    is_null(r);
}

static int rows_partitions(const sql_is_env *env, is_rows *r, cm_err *err)
{
    (void)err;
    each_table(env, r, part_row);
    return 0;
}

/* A sink that turns SHOW FULL PROCESSLIST's rows into cells. */
typedef struct cap_sink {
    sql_sink sink;
    is_rows *r;
} cap_sink;

static int cap_columns(sql_sink *sink, const sql_column *cols, int ncols)
{
    (void)sink;
    (void)cols;
    (void)ncols;
    return 0;
}

static int cap_row(sql_sink *sink, const sql_value *v, int ncols)
{
    is_rows *r = ((cap_sink *)sink)->r;
    for (int i = 0; i < ncols && i < 8; i++) {
        switch (v[i].type) {
        case SQL_V_INT:
            is_int(r, v[i].i);
            break;
        case SQL_V_UINT:
            is_int(r, (int64_t)v[i].u);
            break;
        case SQL_V_TEXT:
        case SQL_V_BLOB:
            is_strn(r, v[i].s, v[i].n);
            break;
        default:
            is_null(r);
        }
    }
    for (int i = ncols; i < 8; i++) {
        is_null(r);
    }
    return r->oom ? CM_E_NOMEM : 0;
}

static int cap_done(sql_sink *sink, const sql_done *d)
{
    (void)sink;
    (void)d;
    return 0;
}

static int rows_processlist(const sql_is_env *env, is_rows *r, cm_err *err)
{
    if (env->processlist == NULL) {
        return 0;
    }
    cap_sink cs = {{cap_columns, cap_row, cap_done}, r};
    return env->processlist(env->sess, &cs.sink, err);
}

static int rows_engines(const sql_is_env *env, is_rows *r, cm_err *err)
{
    (void)env;
    (void)err;
    is_str(r, "InnoDB");
    is_str(r, "DEFAULT");
    is_str(r, "Supports transactions, row-level locking, and foreign keys");
    is_str(r, "YES");
    is_str(r, "YES");
    is_str(r, "YES");
    return 0;
}

static int rows_charsets(const sql_is_env *env, is_rows *r, cm_err *err)
{
    (void)env;
    (void)err;
    for (size_t i = 0; i < sql_collation_count(); i++) {
        const sql_collation *c = sql_collation_at(i);
        if (c->is_default) {
            is_str(r, c->charset);
            is_str(r, c->name);
            is_str(r, sql_charset_description(c->charset));
            is_int(r, c->maxlen);
        }
    }
    return 0;
}

static int rows_collations(const sql_is_env *env, is_rows *r, cm_err *err)
{
    (void)env;
    (void)err;
    for (size_t i = 0; i < sql_collation_count(); i++) {
        const sql_collation *c = sql_collation_at(i);
        is_str(r, c->name);
        is_str(r, c->charset);
        is_int(r, c->id);
        is_str(r, c->is_default ? "Yes" : "");
        is_str(r, "Yes");
        is_int(r, 1);
        is_str(r, strstr(c->name, "0900") ? "NO PAD" : "PAD SPACE");
    }
    return 0;
}

static int rows_ccsa(const sql_is_env *env, is_rows *r, cm_err *err)
{
    (void)env;
    (void)err;
    for (size_t i = 0; i < sql_collation_count(); i++) {
        const sql_collation *c = sql_collation_at(i);
        is_str(r, c->name);
        is_str(r, c->charset);
    }
    return 0;
}

/* ---- the definitions (MySQL 8.0's columns and types) ---- */

#define V64      "varchar(64)"
#define NCOLS(a) ((uint32_t)(sizeof(a) / sizeof((a)[0])))

static const is_coldef c_schemata[] = {{"CATALOG_NAME", V64},
                                       {"SCHEMA_NAME", V64},
                                       {"DEFAULT_CHARACTER_SET_NAME", V64},
                                       {"DEFAULT_COLLATION_NAME", V64},
                                       {"SQL_PATH", "binary(0)"},
                                       {"DEFAULT_ENCRYPTION", "enum('NO','YES')"}};

static const is_coldef c_tables[] = {
    {"TABLE_CATALOG", V64},
    {"TABLE_SCHEMA", V64},
    {"TABLE_NAME", V64},
    {"TABLE_TYPE", "enum('BASE TABLE','VIEW','SYSTEM VIEW')"},
    {"ENGINE", V64},
    {"VERSION", "int"},
    {"ROW_FORMAT", "enum('Fixed','Dynamic','Compressed','Redundant','Compact','Paged')"},
    {"TABLE_ROWS", "bigint unsigned"},
    {"AVG_ROW_LENGTH", "bigint unsigned"},
    {"DATA_LENGTH", "bigint unsigned"},
    {"MAX_DATA_LENGTH", "bigint unsigned"},
    {"INDEX_LENGTH", "bigint unsigned"},
    {"DATA_FREE", "bigint unsigned"},
    {"AUTO_INCREMENT", "bigint unsigned"},
    {"CREATE_TIME", "timestamp"},
    {"UPDATE_TIME", "datetime"},
    {"CHECK_TIME", "datetime"},
    {"TABLE_COLLATION", V64},
    {"CHECKSUM", "bigint"},
    {"CREATE_OPTIONS", "varchar(256)"},
    {"TABLE_COMMENT", "text"}};

static const is_coldef c_columns[] = {{"TABLE_CATALOG", V64},
                                      {"TABLE_SCHEMA", V64},
                                      {"TABLE_NAME", V64},
                                      {"COLUMN_NAME", V64},
                                      {"ORDINAL_POSITION", "int unsigned"},
                                      {"COLUMN_DEFAULT", "text"},
                                      {"IS_NULLABLE", "varchar(3)"},
                                      {"DATA_TYPE", "longtext"},
                                      {"CHARACTER_MAXIMUM_LENGTH", "bigint"},
                                      {"CHARACTER_OCTET_LENGTH", "bigint"},
                                      {"NUMERIC_PRECISION", "bigint unsigned"},
                                      {"NUMERIC_SCALE", "bigint unsigned"},
                                      {"DATETIME_PRECISION", "int unsigned"},
                                      {"CHARACTER_SET_NAME", V64},
                                      {"COLLATION_NAME", V64},
                                      {"COLUMN_TYPE", "mediumtext"},
                                      {"COLUMN_KEY", "enum('','PRI','UNI','MUL')"},
                                      {"EXTRA", "varchar(256)"},
                                      {"PRIVILEGES", "varchar(154)"},
                                      {"COLUMN_COMMENT", "text"},
                                      {"GENERATION_EXPRESSION", "longtext"},
                                      {"SRS_ID", "int unsigned"}};

static const is_coldef c_statistics[] = {{"TABLE_CATALOG", V64},
                                         {"TABLE_SCHEMA", V64},
                                         {"TABLE_NAME", V64},
                                         {"NON_UNIQUE", "int"},
                                         {"INDEX_SCHEMA", V64},
                                         {"INDEX_NAME", V64},
                                         {"SEQ_IN_INDEX", "int unsigned"},
                                         {"COLUMN_NAME", V64},
                                         {"COLLATION", "varchar(1)"},
                                         {"CARDINALITY", "bigint"},
                                         {"SUB_PART", "bigint"},
                                         {"PACKED", "binary(0)"},
                                         {"NULLABLE", "varchar(3)"},
                                         {"INDEX_TYPE", "varchar(11)"},
                                         {"COMMENT", "varchar(8)"},
                                         {"INDEX_COMMENT", "varchar(2048)"},
                                         {"IS_VISIBLE", "varchar(3)"},
                                         {"EXPRESSION", "longtext"}};

static const is_coldef c_kcu[] = {{"CONSTRAINT_CATALOG", V64},
                                  {"CONSTRAINT_SCHEMA", V64},
                                  {"CONSTRAINT_NAME", V64},
                                  {"TABLE_CATALOG", V64},
                                  {"TABLE_SCHEMA", V64},
                                  {"TABLE_NAME", V64},
                                  {"COLUMN_NAME", V64},
                                  {"ORDINAL_POSITION", "int unsigned"},
                                  {"POSITION_IN_UNIQUE_CONSTRAINT", "int unsigned"},
                                  {"REFERENCED_TABLE_SCHEMA", V64},
                                  {"REFERENCED_TABLE_NAME", V64},
                                  {"REFERENCED_COLUMN_NAME", V64}};

static const is_coldef c_tc[] = {{"CONSTRAINT_CATALOG", V64}, {"CONSTRAINT_SCHEMA", V64},
                                 {"CONSTRAINT_NAME", V64},    {"TABLE_SCHEMA", V64},
                                 {"TABLE_NAME", V64},         {"CONSTRAINT_TYPE", "varchar(11)"},
                                 {"ENFORCED", "varchar(3)"}};

static const is_coldef c_processlist[] = {{"ID", "bigint unsigned"},
                                          {"USER", "varchar(32)"},
                                          {"HOST", "varchar(261)"},
                                          {"DB", V64},
                                          {"COMMAND", "varchar(16)"},
                                          {"TIME", "int"},
                                          {"STATE", V64},
                                          {"INFO", "longtext"}};

static const is_coldef c_engines[] = {{"ENGINE", V64},
                                      {"SUPPORT", "varchar(8)"},
                                      {"COMMENT", "varchar(80)"},
                                      {"TRANSACTIONS", "varchar(3)"},
                                      {"XA", "varchar(3)"},
                                      {"SAVEPOINTS", "varchar(3)"}};

static const is_coldef c_charsets[] = {{"CHARACTER_SET_NAME", V64},
                                       {"DEFAULT_COLLATE_NAME", V64},
                                       {"DESCRIPTION", "varchar(2048)"},
                                       {"MAXLEN", "int unsigned"}};

static const is_coldef c_collations[] = {{"COLLATION_NAME", V64},
                                         {"CHARACTER_SET_NAME", V64},
                                         {"ID", "bigint unsigned"},
                                         {"IS_DEFAULT", "varchar(3)"},
                                         {"IS_COMPILED", "varchar(3)"},
                                         {"SORTLEN", "int unsigned"},
                                         {"PAD_ATTRIBUTE", "enum('PAD SPACE','NO PAD')"}};

static const is_coldef c_ccsa[] = {{"COLLATION_NAME", V64}, {"CHARACTER_SET_NAME", V64}};

static const is_coldef c_partitions[] = {{"TABLE_CATALOG", V64},
                                         {"TABLE_SCHEMA", V64},
                                         {"TABLE_NAME", V64},
                                         {"PARTITION_NAME", V64},
                                         {"SUBPARTITION_NAME", V64},
                                         {"PARTITION_ORDINAL_POSITION", "int unsigned"},
                                         {"SUBPARTITION_ORDINAL_POSITION", "int unsigned"},
                                         {"PARTITION_METHOD", "varchar(13)"},
                                         {"SUBPARTITION_METHOD", "varchar(13)"},
                                         {"PARTITION_EXPRESSION", "varchar(2048)"},
                                         {"SUBPARTITION_EXPRESSION", "varchar(2048)"},
                                         {"PARTITION_DESCRIPTION", "text"},
                                         {"TABLE_ROWS", "bigint unsigned"},
                                         {"AVG_ROW_LENGTH", "bigint unsigned"},
                                         {"DATA_LENGTH", "bigint unsigned"},
                                         {"MAX_DATA_LENGTH", "bigint unsigned"},
                                         {"INDEX_LENGTH", "bigint unsigned"},
                                         {"DATA_FREE", "bigint unsigned"},
                                         {"CREATE_TIME", "timestamp"},
                                         {"UPDATE_TIME", "datetime"},
                                         {"CHECK_TIME", "datetime"},
                                         {"CHECKSUM", "bigint"},
                                         {"PARTITION_COMMENT", "text"},
                                         {"NODEGROUP", "varchar(256)"},
                                         {"TABLESPACE_NAME", "varchar(268)"}};

static const is_coldef c_files[] = {{"FILE_ID", "bigint"},
                                    {"FILE_NAME", "text"},
                                    {"FILE_TYPE", "varchar(256)"},
                                    {"TABLESPACE_NAME", "varchar(268)"},
                                    {"TABLE_CATALOG", V64},
                                    {"TABLE_SCHEMA", V64},
                                    {"TABLE_NAME", V64},
                                    {"LOGFILE_GROUP_NAME", "varchar(256)"},
                                    {"LOGFILE_GROUP_NUMBER", "bigint"},
                                    {"ENGINE", V64},
                                    {"FULLTEXT_KEYS", V64},
                                    {"DELETED_ROWS", "bigint"},
                                    {"UPDATE_COUNT", "bigint"},
                                    {"FREE_EXTENTS", "bigint"},
                                    {"TOTAL_EXTENTS", "bigint"},
                                    {"EXTENT_SIZE", "bigint"},
                                    {"INITIAL_SIZE", "bigint"},
                                    {"MAXIMUM_SIZE", "bigint"},
                                    {"AUTOEXTEND_SIZE", "bigint"},
                                    {"CREATION_TIME", "bigint"},
                                    {"LAST_UPDATE_TIME", "bigint"},
                                    {"LAST_ACCESS_TIME", "bigint"},
                                    {"RECOVER_TIME", "bigint"},
                                    {"TRANSACTION_COUNTER", "bigint"},
                                    {"VERSION", "bigint"},
                                    {"ROW_FORMAT", "varchar(256)"},
                                    {"TABLE_ROWS", "bigint"},
                                    {"AVG_ROW_LENGTH", "bigint"},
                                    {"DATA_LENGTH", "bigint"},
                                    {"MAX_DATA_LENGTH", "bigint"},
                                    {"INDEX_LENGTH", "bigint"},
                                    {"DATA_FREE", "bigint"},
                                    {"CREATE_TIME", "bigint"},
                                    {"UPDATE_TIME", "bigint"},
                                    {"CHECK_TIME", "bigint"},
                                    {"CHECKSUM", "bigint"},
                                    {"STATUS", "varchar(256)"},
                                    {"EXTRA", "varchar(256)"}};

static const is_coldef c_routines[] = {{"SPECIFIC_NAME", V64},
                                       {"ROUTINE_CATALOG", V64},
                                       {"ROUTINE_SCHEMA", V64},
                                       {"ROUTINE_NAME", V64},
                                       {"ROUTINE_TYPE", "enum('FUNCTION','PROCEDURE')"},
                                       {"DATA_TYPE", "longtext"},
                                       {"CHARACTER_MAXIMUM_LENGTH", "bigint"},
                                       {"CHARACTER_OCTET_LENGTH", "bigint"},
                                       {"NUMERIC_PRECISION", "int unsigned"},
                                       {"NUMERIC_SCALE", "int unsigned"},
                                       {"DATETIME_PRECISION", "int unsigned"},
                                       {"CHARACTER_SET_NAME", V64},
                                       {"COLLATION_NAME", V64},
                                       {"DTD_IDENTIFIER", "longtext"},
                                       {"ROUTINE_BODY", "varchar(8)"},
                                       {"ROUTINE_DEFINITION", "longtext"},
                                       {"EXTERNAL_NAME", "varchar(0)"},
                                       {"EXTERNAL_LANGUAGE", V64},
                                       {"PARAMETER_STYLE", "varchar(3)"},
                                       {"IS_DETERMINISTIC", "varchar(3)"},
                                       {"SQL_DATA_ACCESS", V64},
                                       {"SQL_PATH", "varchar(0)"},
                                       {"SECURITY_TYPE", "enum('DEFAULT','INVOKER','DEFINER')"},
                                       {"CREATED", "timestamp"},
                                       {"LAST_ALTERED", "timestamp"},
                                       {"SQL_MODE", "varchar(520)"},
                                       {"ROUTINE_COMMENT", "text"},
                                       {"DEFINER", "varchar(288)"},
                                       {"CHARACTER_SET_CLIENT", V64},
                                       {"COLLATION_CONNECTION", V64},
                                       {"DATABASE_COLLATION", V64}};

static const is_coldef c_triggers[] = {{"TRIGGER_CATALOG", V64},
                                       {"TRIGGER_SCHEMA", V64},
                                       {"TRIGGER_NAME", V64},
                                       {"EVENT_MANIPULATION", "enum('INSERT','UPDATE','DELETE')"},
                                       {"EVENT_OBJECT_CATALOG", V64},
                                       {"EVENT_OBJECT_SCHEMA", V64},
                                       {"EVENT_OBJECT_TABLE", V64},
                                       {"ACTION_ORDER", "int unsigned"},
                                       {"ACTION_CONDITION", "binary(0)"},
                                       {"ACTION_STATEMENT", "longtext"},
                                       {"ACTION_ORIENTATION", "varchar(3)"},
                                       {"ACTION_TIMING", "enum('BEFORE','AFTER')"},
                                       {"ACTION_REFERENCE_OLD_TABLE", "binary(0)"},
                                       {"ACTION_REFERENCE_NEW_TABLE", "binary(0)"},
                                       {"ACTION_REFERENCE_OLD_ROW", "varchar(3)"},
                                       {"ACTION_REFERENCE_NEW_ROW", "varchar(3)"},
                                       {"CREATED", "timestamp(2)"},
                                       {"SQL_MODE", "varchar(520)"},
                                       {"DEFINER", "varchar(288)"},
                                       {"CHARACTER_SET_CLIENT", V64},
                                       {"COLLATION_CONNECTION", V64},
                                       {"DATABASE_COLLATION", V64}};

static const is_coldef c_views[] = {{"TABLE_CATALOG", V64},
                                    {"TABLE_SCHEMA", V64},
                                    {"TABLE_NAME", V64},
                                    {"VIEW_DEFINITION", "longtext"},
                                    {"CHECK_OPTION", "enum('NONE','LOCAL','CASCADED')"},
                                    {"IS_UPDATABLE", "enum('NO','YES')"},
                                    {"DEFINER", "varchar(288)"},
                                    {"SECURITY_TYPE", "varchar(7)"},
                                    {"CHARACTER_SET_CLIENT", V64},
                                    {"COLLATION_CONNECTION", V64}};

static const is_coldef c_parameters[] = {{"SPECIFIC_CATALOG", V64},
                                         {"SPECIFIC_SCHEMA", V64},
                                         {"SPECIFIC_NAME", V64},
                                         {"ORDINAL_POSITION", "bigint unsigned"},
                                         {"PARAMETER_MODE", "varchar(5)"},
                                         {"PARAMETER_NAME", V64},
                                         {"DATA_TYPE", "longtext"},
                                         {"CHARACTER_MAXIMUM_LENGTH", "bigint"},
                                         {"CHARACTER_OCTET_LENGTH", "bigint"},
                                         {"NUMERIC_PRECISION", "int unsigned"},
                                         {"NUMERIC_SCALE", "bigint"},
                                         {"DATETIME_PRECISION", "int unsigned"},
                                         {"CHARACTER_SET_NAME", V64},
                                         {"COLLATION_NAME", V64},
                                         {"DTD_IDENTIFIER", "mediumtext"},
                                         {"ROUTINE_TYPE", "enum('FUNCTION','PROCEDURE')"}};

static const is_coldef c_events[] = {{"EVENT_CATALOG", V64},
                                     {"EVENT_SCHEMA", V64},
                                     {"EVENT_NAME", V64},
                                     {"DEFINER", "varchar(288)"},
                                     {"TIME_ZONE", V64},
                                     {"EVENT_BODY", "varchar(3)"},
                                     {"EVENT_DEFINITION", "longtext"},
                                     {"EVENT_TYPE", "varchar(9)"},
                                     {"EXECUTE_AT", "datetime"},
                                     {"INTERVAL_VALUE", "varchar(256)"},
                                     {"INTERVAL_FIELD", "varchar(18)"},
                                     {"SQL_MODE", "varchar(520)"},
                                     {"STARTS", "datetime"},
                                     {"ENDS", "datetime"},
                                     {"STATUS", "varchar(21)"},
                                     {"ON_COMPLETION", "varchar(12)"},
                                     {"CREATED", "timestamp"},
                                     {"LAST_ALTERED", "timestamp"},
                                     {"LAST_EXECUTED", "datetime"},
                                     {"EVENT_COMMENT", V64},
                                     {"ORIGINATOR", "int unsigned"},
                                     {"CHARACTER_SET_CLIENT", V64},
                                     {"COLLATION_CONNECTION", V64},
                                     {"DATABASE_COLLATION", V64}};

static const is_coldef c_refc[] = {{"CONSTRAINT_CATALOG", V64},
                                   {"CONSTRAINT_SCHEMA", V64},
                                   {"CONSTRAINT_NAME", V64},
                                   {"UNIQUE_CONSTRAINT_CATALOG", V64},
                                   {"UNIQUE_CONSTRAINT_SCHEMA", V64},
                                   {"UNIQUE_CONSTRAINT_NAME", V64},
                                   {"MATCH_OPTION", "enum('NONE','PARTIAL','FULL')"},
                                   {"UPDATE_RULE", "varchar(11)"},
                                   {"DELETE_RULE", "varchar(11)"},
                                   {"TABLE_NAME", V64},
                                   {"REFERENCED_TABLE_NAME", V64}};

/* MySQL 8's histograms (ANALYZE TABLE … UPDATE HISTOGRAM): none here; MySQL 8's mysqldump reads
 * it for every table. */
static const is_coldef c_colstats[] = {
    {"SCHEMA_NAME", V64}, {"TABLE_NAME", V64}, {"COLUMN_NAME", V64}, {"HISTOGRAM", "json"}};

static const is_coldef c_checks[] = {{"CONSTRAINT_CATALOG", V64},
                                     {"CONSTRAINT_SCHEMA", V64},
                                     {"CONSTRAINT_NAME", V64},
                                     {"CHECK_CLAUSE", "longtext"}};

/* In name order (SHOW TABLES FROM information_schema lists them so). */
const is_tabdef sql_is_tables[] = {
    {"CHARACTER_SETS", c_charsets, NCOLS(c_charsets), -1, -1, rows_charsets},
    {"CHECK_CONSTRAINTS", c_checks, NCOLS(c_checks), 1, -1, NULL},
    {"COLLATIONS", c_collations, NCOLS(c_collations), -1, -1, rows_collations},
    {"COLLATION_CHARACTER_SET_APPLICABILITY", c_ccsa, NCOLS(c_ccsa), -1, -1, rows_ccsa},
    {"COLUMNS", c_columns, NCOLS(c_columns), 1, 2, rows_columns},
    {"COLUMN_STATISTICS", c_colstats, NCOLS(c_colstats), 0, 1, NULL},
    {"ENGINES", c_engines, NCOLS(c_engines), -1, -1, rows_engines},
    {"EVENTS", c_events, NCOLS(c_events), 1, -1, NULL},
    {"FILES", c_files, NCOLS(c_files), 5, 6, NULL},
    {"KEY_COLUMN_USAGE", c_kcu, NCOLS(c_kcu), 4, 5, rows_kcu},
    {"PARAMETERS", c_parameters, NCOLS(c_parameters), 1, -1, NULL},
    {"PARTITIONS", c_partitions, NCOLS(c_partitions), 1, 2, rows_partitions},
    {"PROCESSLIST", c_processlist, NCOLS(c_processlist), -1, -1, rows_processlist},
    {"REFERENTIAL_CONSTRAINTS", c_refc, NCOLS(c_refc), 1, 9, NULL},
    {"ROUTINES", c_routines, NCOLS(c_routines), 2, -1, NULL},
    {"SCHEMATA", c_schemata, NCOLS(c_schemata), 1, -1, rows_schemata},
    {"STATISTICS", c_statistics, NCOLS(c_statistics), 1, 2, rows_statistics},
    {"TABLES", c_tables, NCOLS(c_tables), 1, 2, rows_tables},
    {"TABLE_CONSTRAINTS", c_tc, NCOLS(c_tc), 3, 4, rows_tc},
    {"TRIGGERS", c_triggers, NCOLS(c_triggers), 5, 6, NULL},
    {"VIEWS", c_views, NCOLS(c_views), 1, 2, NULL},
};
const uint32_t sql_is_ntabs = NCOLS(sql_is_tables);

const is_tabdef *sql_is_find(const char *name)
{
    for (uint32_t i = 0; i < sql_is_ntabs; i++) {
        if (strcasecmp(sql_is_tables[i].name, name) == 0) {
            return &sql_is_tables[i];
        }
    }
    return NULL;
}
