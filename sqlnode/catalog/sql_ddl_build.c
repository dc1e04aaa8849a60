/*
 * sql_ddl_build.c — from a parsed CREATE TABLE (or an index to add) to a checked table
 * definition: column ids, defaults converted through the types module, the handle rule of
 * DESIGN.md §4 (a single-column integer PRIMARY KEY is the row handle, otherwise a hidden row id
 * is and the declared primary key becomes the unique index PRIMARY), index names generated as
 * MySQL does, and MySQL's limits and error codes. Pure: no KV, so unit tests cover all of it.
 */
#include "sql_ddl_int.h"

#include "cm_datetime.h"
#include "cm_row.h"
#include "sql_my_const.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int nomem(cm_err *err)
{
    return cm_err_set(err, CM_E_NOMEM, "out of memory");
}

static bool type_is_int(const sql_coltype *t)
{
    switch (t->mysql_type) {
    case SQL_TYPE_TINY:
    case SQL_TYPE_SHORT:
    case SQL_TYPE_INT24:
    case SQL_TYPE_LONG:
    case SQL_TYPE_LONGLONG:
        return true;
    default:
        return false;
    }
}

static bool type_is_blob(const sql_coltype *t)
{
    return t->mysql_type == SQL_TYPE_TINY_BLOB || t->mysql_type == SQL_TYPE_BLOB ||
           t->mysql_type == SQL_TYPE_MEDIUM_BLOB || t->mysql_type == SQL_TYPE_LONG_BLOB;
}

static bool type_is_datetime(const sql_coltype *t)
{
    return t->mysql_type == SQL_TYPE_DATETIME || t->mysql_type == SQL_TYPE_TIMESTAMP ||
           t->mysql_type == SQL_TYPE_DATETIME2 || t->mysql_type == SQL_TYPE_TIMESTAMP2;
}

/* The handle must be an int64: every integer type but BIGINT UNSIGNED fits. */
static bool type_can_be_handle(const sql_coltype *t)
{
    return type_is_int(t) && !(t->mysql_type == SQL_TYPE_LONGLONG && t->is_unsigned);
}

/* A value as text: the canonical form SHOW CREATE TABLE prints and DML re-reads. */
static int value_text(const sql_value *v, cm_buf *out)
{
    switch (v->type) {
    case SQL_V_NULL:
        return 0;
    case SQL_V_INT:
        return cm_buf_printf(out, "%lld", (long long)v->i);
    case SQL_V_UINT:
        return cm_buf_printf(out, "%llu", (unsigned long long)v->u);
    case SQL_V_DOUBLE: {
        char b[40];
        for (int prec = 6; prec <= 17; prec++) { /* the shortest form that reads back */
            snprintf(b, sizeof(b), "%.*g", prec, v->d);
            if (strtod(b, NULL) == v->d) {
                break;
            }
        }
        return cm_buf_printf(out, "%s", b);
    }
    case SQL_V_TEXT:
    case SQL_V_BLOB:
        return cm_buf_append(out, v->s, v->n);
    }
    return 0;
}

/* Checks a literal DEFAULT against the column's type and keeps its canonical text. */
static int check_default(sql_ddl_col *dc, sql_cat_col *c, cm_arena *a, cm_err *err)
{
    const char *name = c->name;
    if (c->auto_inc && c->has_default) {
        return cm_err_set(err, CM_E_INVALID_DEFAULT, "Invalid default value for '%s'", name);
    }
    if (c->default_null && c->not_null) {
        return cm_err_set(err, CM_E_INVALID_DEFAULT, "Invalid default value for '%s'", name);
    }
    if (c->default_now || c->on_update_now) {
        if (!type_is_datetime(&c->type)) {
            return cm_err_set(err, CM_E_INVALID_DEFAULT,
                              c->default_now ? "Invalid default value for '%s'"
                                             : "Invalid ON UPDATE clause for '%s' column",
                              name);
        }
        if ((c->default_now && dc->now_fsp != c->type.decimals) ||
            (c->on_update_now && dc->upd_fsp != c->type.decimals)) {
            return cm_err_set(err, CM_E_INVALID_DEFAULT, "Invalid default value for '%s'", name);
        }
    }
    if (!dc->def_literal) {
        return 0;
    }
    if (type_is_blob(&c->type) || c->type.dtype == CM_DT_JSON) {
        return cm_err_set(err, CM_E_BLOB_CANT_HAVE_DEFAULT,
                          "BLOB, TEXT, GEOMETRY or JSON column '%s' can't have a default value",
                          name);
    }
    sql_value in = dc->def_value;
    bool numeric = c->type.dtype == CM_DT_INT64 || c->type.dtype == CM_DT_UINT64 ||
                   c->type.dtype == CM_DT_FLOAT64 || c->type.dtype == CM_DT_FLOAT32 ||
                   c->type.dtype == CM_DT_DECIMAL || c->type.dtype == CM_DT_BIT ||
                   c->type.dtype == CM_DT_YEAR;
    if (in.type == SQL_V_BLOB && numeric && in.n <= 8) {
        /* a hex literal in a numeric context is a number (MySQL) */
        uint64_t u = 0;
        for (size_t i = 0; i < in.n; i++) {
            u = u << 8 | (uint8_t)in.s[i];
        }
        in = sql_value_int((int64_t)u);
        if (u > (uint64_t)INT64_MAX) {
            in.type = SQL_V_UINT;
            in.u = u;
        }
    }
    cm_datum d;
    cm_buf scratch = CM_BUF_INIT, scratch2 = CM_BUF_INIT, text = CM_BUF_INIT;
    sql_type_note note;
    memset(&note, 0, sizeof(note));
    cm_err e2;
    int rc = sql_type_store(&c->type, name, &in, true, &d, &scratch, &note, &e2);
    if (rc == CM_E_NOMEM) {
        rc = nomem(err);
    } else if (rc != 0) {
        rc = cm_err_set(err, CM_E_INVALID_DEFAULT, "Invalid default value for '%s'", name);
    } else {
        sql_value v;
        rc = sql_type_load(&c->type, &d, &v, &scratch2, err);
        if (rc == 0) {
            rc = value_text(&v, &text) != 0 ? nomem(err) : 0;
        }
        if (rc == 0) {
            c->default_text = cm_arena_strndup(a, text.ptr ? (const char *)text.ptr : "", text.len);
            rc = c->default_text == NULL ? nomem(err) : 0;
        }
    }
    cm_buf_fini(&scratch);
    cm_buf_fini(&scratch2);
    cm_buf_fini(&text);
    return rc;
}

static int find_col(const sql_cat_table *t, const char *name)
{
    for (uint32_t i = 0; i < t->ncols; i++) {
        if (sql_cat_namecmp(t->cols[i].name, name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static bool name_taken(const sql_cat_table *t, const char *name)
{
    for (uint32_t i = 0; i < t->nindexes; i++) {
        if (sql_cat_namecmp(t->indexes[i].name, name) == 0) {
            return true;
        }
    }
    /* a clustered primary key holds the name PRIMARY without an index entry */
    return t->handle_col >= 0 && sql_cat_namecmp(name, "PRIMARY") == 0;
}

/* MySQL's generated name: the first column's, then _2, _3 … until free. */
static char *generate_name(const sql_cat_table *t, const char *first_col, cm_arena *a)
{
    if (!name_taken(t, first_col) && sql_cat_namecmp(first_col, "PRIMARY") != 0) {
        return cm_arena_strndup(a, first_col, strlen(first_col));
    }
    char buf[SQL_CAT_NAME_CHARS_MAX * 4 + 16];
    for (uint32_t k = 2; k < 1000; k++) {
        snprintf(buf, sizeof(buf), "%.200s_%u", first_col, k);
        if (!name_taken(t, buf)) {
            return cm_arena_strndup(a, buf, strlen(buf));
        }
    }
    return NULL;
}

/* Resolves ix against t's columns into x (allocated in a); checks parts, prefixes, types. */
static int resolve_index(const sql_cat_table *t, const sql_ddl_index *ix, cm_arena *a,
                         sql_cat_index *x, cm_err *err)
{
    memset(x, 0, sizeof(*x));
    if (ix->nparts == 0) {
        return cm_err_set(err, CM_E_PARSE, "You have an error in your SQL syntax: empty key");
    }
    if (ix->nparts > SQL_CAT_KEY_PARTS_MAX) {
        return cm_err_set(err, CM_E_TOO_MANY_KEY_PARTS,
                          "Too many key parts specified; max %d parts allowed",
                          SQL_CAT_KEY_PARTS_MAX);
    }
    x->cols = cm_arena_alloc(a, sizeof(uint32_t) * ix->nparts);
    x->prefix_len = cm_arena_alloc(a, sizeof(uint32_t) * ix->nparts);
    if (x->cols == NULL || x->prefix_len == NULL) {
        return nomem(err);
    }
    x->ncols = ix->nparts;
    x->unique = ix->unique || ix->primary;
    x->primary = ix->primary;
    x->comment = ix->comment;
    x->state = SQL_OBJ_PUBLIC;
    for (uint32_t j = 0; j < ix->nparts; j++) {
        const sql_ddl_keypart *kp = &ix->parts[j];
        int off = find_col(t, kp->col);
        if (off < 0) {
            return cm_err_set(err, CM_E_KEY_COLUMN_MISSING,
                              "Key column '%s' doesn't exist in table", kp->col);
        }
        for (uint32_t k = 0; k < j; k++) {
            if (x->cols[k] == (uint32_t)off) {
                return cm_err_set(err, CM_E_DUP_FIELDNAME, "Duplicate column name '%s'",
                                  t->cols[off].name);
            }
        }
        const sql_coltype *ty = &t->cols[off].type;
        if (ty->dtype == CM_DT_JSON) {
            return cm_err_set(err, CM_E_JSON_USED_AS_KEY,
                              "JSON column '%s' supports indexing only via generated columns on a "
                              "specified JSON path.",
                              t->cols[off].name);
        }
        bool stringish = ty->dtype == CM_DT_STRING || ty->dtype == CM_DT_BYTES;
        if (kp->prefix_len > 0) {
            bool too_long = !type_is_blob(ty) && ty->length > 0 && kp->prefix_len > ty->length;
            if (!stringish || too_long) {
                return cm_err_set(err, CM_E_WRONG_SUB_KEY,
                                  "Incorrect prefix key; the used key part isn't a string, the "
                                  "used length is longer than the key part, or the storage engine "
                                  "doesn't support unique prefix keys");
            }
        } else if (type_is_blob(ty)) {
            return cm_err_set(err, CM_E_BLOB_KEY_NO_LENGTH,
                              "BLOB/TEXT column '%s' used in key specification without a key "
                              "length",
                              t->cols[off].name);
        }
        x->cols[j] = (uint32_t)off;
        /* a prefix as long as the whole column is the whole column (MySQL drops it too) */
        x->prefix_len[j] = (kp->prefix_len > 0 && !type_is_blob(ty) && kp->prefix_len == ty->length)
                               ? 0
                               : kp->prefix_len;
    }
    return 0;
}

/* Primary first, then unique, then the rest; declaration order within each group (MySQL's). */
static int index_rank(const sql_cat_index *x)
{
    return x->primary ? 0 : x->unique ? 1 : 2;
}

static void sort_indexes(sql_cat_table *t)
{
    for (uint32_t i = 1; i < t->nindexes; i++) { /* insertion sort: stable, n <= 64 */
        sql_cat_index v = t->indexes[i];
        uint32_t j = i;
        while (j > 0 && index_rank(&t->indexes[j - 1]) > index_rank(&v)) {
            t->indexes[j] = t->indexes[j - 1];
            j--;
        }
        t->indexes[j] = v;
    }
}

/* Adds the resolved index to t (room for it must exist), naming it; x->id set by the caller. */
static int place_index(sql_cat_table *t, const sql_ddl_index *ix, sql_cat_index *x, cm_arena *a,
                       cm_err *err)
{
    if (x->primary) {
        x->name = (char *)"PRIMARY";
    } else if (ix->name != NULL) {
        if (sql_cat_namecmp(ix->name, "PRIMARY") == 0) {
            return cm_err_set(err, CM_E_WRONG_NAME_FOR_INDEX, "Incorrect index name '%s'",
                              ix->name);
        }
        int rc = sql_cat_check_name(ix->name, CM_E_WRONG_NAME_FOR_INDEX, err);
        if (rc != 0) {
            return rc;
        }
        if (name_taken(t, ix->name)) {
            return cm_err_set(err, CM_E_DUP_KEYNAME, "Duplicate key name '%s'", ix->name);
        }
        x->name = cm_arena_strndup(a, ix->name, strlen(ix->name));
        if (x->name == NULL) {
            return nomem(err);
        }
    } else {
        x->name = generate_name(t, t->cols[x->cols[0]].name, a);
        if (x->name == NULL) {
            return nomem(err);
        }
    }
    if (x->comment != NULL) {
        x->comment = cm_arena_strndup(a, x->comment, strlen(x->comment));
        if (x->comment == NULL) {
            return nomem(err);
        }
    }
    t->indexes[t->nindexes++] = *x;
    return 0;
}

static uint32_t key_count(const sql_cat_table *t)
{
    return t->nindexes + (t->handle_col >= 0 ? 1 : 0);
}

/* AUTO_INCREMENT: one column, of a numeric type, first in some key (or the handle). */
static int check_auto(sql_cat_table *t, cm_err *err)
{
    t->autoinc_col = -1;
    for (uint32_t i = 0; i < t->ncols; i++) {
        const sql_cat_col *c = &t->cols[i];
        if (!c->auto_inc) {
            continue;
        }
        if (!type_is_int(&c->type) && c->type.dtype != CM_DT_FLOAT64 &&
            c->type.dtype != CM_DT_FLOAT32) {
            return cm_err_set(err, CM_E_WRONG_FIELD_SPEC,
                              "Incorrect column specifier for column '%s'", c->name);
        }
        if (t->autoinc_col >= 0) {
            return cm_err_set(err, CM_E_WRONG_AUTO_KEY,
                              "Incorrect table definition; there can be only one auto column and "
                              "it must be defined as a key");
        }
        t->autoinc_col = (int32_t)i;
    }
    if (t->autoinc_col < 0 || t->handle_col == t->autoinc_col) {
        return 0;
    }
    for (uint32_t i = 0; i < t->nindexes; i++) {
        if (t->indexes[i].cols[0] == (uint32_t)t->autoinc_col) {
            return 0;
        }
    }
    return cm_err_set(err, CM_E_WRONG_AUTO_KEY,
                      "Incorrect table definition; there can be only one auto column and it must "
                      "be defined as a key");
}

static int build_columns(const sql_ddl_stmt *st, cm_arena *a, sql_cat_table *out, cm_err *err)
{
    if (st->ncols == 0) {
        return cm_err_set(err, CM_E_TABLE_NO_COLUMNS, "A table must have at least 1 column");
    }
    if (st->ncols > SQL_CAT_COLS_MAX) {
        return cm_err_set(err, CM_E_TOO_MANY_FIELDS, "Too many columns");
    }
    out->ncols = st->ncols;
    out->cols = cm_arena_alloc(a, sizeof(sql_cat_col) * st->ncols);
    if (out->cols == NULL) {
        return nomem(err);
    }
    for (uint32_t i = 0; i < st->ncols; i++) {
        sql_cat_col *c = &out->cols[i];
        *c = st->cols[i].col;
        int rc = sql_cat_check_name(c->name, CM_E_WRONG_COLUMN_NAME, err);
        if (rc != 0) {
            return rc;
        }
        for (uint32_t j = 0; j < i; j++) {
            if (sql_cat_namecmp(out->cols[j].name, c->name) == 0) {
                return cm_err_set(err, CM_E_DUP_FIELDNAME, "Duplicate column name '%s'", c->name);
            }
        }
        c->id = i + 1;
        c->offset = i;
        c->state = SQL_OBJ_PUBLIC;
        c->default_text = NULL;
    }
    out->next_col_id = st->ncols + 1;
    return 0;
}

/* Gathers the declared keys: inline PRIMARY/UNIQUE of columns first, then table keys. */
static int gather_keys(const sql_ddl_stmt *st, cm_arena *a, sql_ddl_index **keys, uint32_t *nkeys,
                       cm_err *err)
{
    uint32_t n = st->nindexes;
    for (uint32_t i = 0; i < st->ncols; i++) {
        n += (st->cols[i].inline_primary ? 1 : 0) + (st->cols[i].inline_unique ? 1 : 0);
    }
    sql_ddl_index *k = cm_arena_alloc(a, sizeof(*k) * (n + 1));
    sql_ddl_keypart *parts = cm_arena_alloc(a, sizeof(*parts) * (n + 1));
    if (k == NULL || parts == NULL) {
        return nomem(err);
    }
    uint32_t m = 0, pk = 0;
    for (uint32_t i = 0; i < st->ncols; i++) {
        const sql_ddl_col *dc = &st->cols[i];
        for (int u = 0; u < 2; u++) {
            bool want = u == 0 ? dc->inline_primary : dc->inline_unique;
            if (!want) {
                continue;
            }
            memset(&k[m], 0, sizeof(k[m]));
            parts[m].col = dc->col.name;
            parts[m].prefix_len = 0;
            k[m].parts = &parts[m];
            k[m].nparts = 1;
            k[m].unique = true;
            k[m].primary = u == 0;
            pk += u == 0;
            m++;
        }
    }
    for (uint32_t i = 0; i < st->nindexes; i++) {
        k[m++] = st->indexes[i];
        pk += st->indexes[i].primary;
    }
    if (pk > 1) {
        return cm_err_set(err, CM_E_MULTIPLE_PRI_KEY, "Multiple primary key defined");
    }
    *keys = k;
    *nkeys = m;
    return 0;
}

/* PRIMARY KEY columns are NOT NULL (an explicit NULL is 1171) and lose an implied NULL default. */
static int primary_not_null(const sql_ddl_stmt *st, sql_cat_table *t, const sql_cat_index *x,
                            cm_err *err)
{
    for (uint32_t j = 0; j < x->ncols; j++) {
        sql_cat_col *c = &t->cols[x->cols[j]];
        if (st != NULL && st->cols[x->cols[j]].null_explicit) {
            return cm_err_set(err, CM_E_PRIMARY_CANT_HAVE_NULL,
                              "All parts of a PRIMARY KEY must be NOT NULL; if you need NULL in a "
                              "key, use UNIQUE instead");
        }
        if (st == NULL && !c->not_null) {
            return cm_err_set(err, CM_E_PRIMARY_CANT_HAVE_NULL,
                              "All parts of a PRIMARY KEY must be NOT NULL; if you need NULL in a "
                              "key, use UNIQUE instead");
        }
        /* an explicit DEFAULT NULL stays, and check_default refuses it (1067) */
        c->not_null = true;
    }
    return 0;
}

int sql_ddl_build_table(const sql_ddl_stmt *st, cm_arena *a, sql_cat_id_cb id_cb, void *id_user,
                        sql_cat_table *out, cm_err *err)
{
    memset(out, 0, sizeof(*out));
    out->handle_col = -1;
    out->autoinc_col = -1;
    out->state = SQL_OBJ_PUBLIC;
    out->name = st->target.name;
    int rc = sql_cat_check_name(out->name, CM_E_WRONG_TABLE_NAME, err);
    if (rc == 0) {
        rc = build_columns(st, a, out, err);
    }
    sql_ddl_index *keys = NULL;
    uint32_t nkeys = 0;
    if (rc == 0) {
        rc = gather_keys(st, a, &keys, &nkeys, err);
    }
    if (rc != 0) {
        return rc;
    }
    out->indexes = cm_arena_alloc(a, sizeof(sql_cat_index) * (nkeys + 1));
    if (out->indexes == NULL) {
        return nomem(err);
    }
    /* the primary key first: it decides the handle and owns the name PRIMARY */
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t i = 0; i < nkeys; i++) {
            if ((pass == 0) != keys[i].primary) {
                continue;
            }
            sql_cat_index x;
            rc = resolve_index(out, &keys[i], a, &x, err);
            if (rc == 0 && x.primary) {
                rc = primary_not_null(st, out, &x, err);
                if (rc == 0 && x.ncols == 1 && x.prefix_len[0] == 0 &&
                    type_can_be_handle(&out->cols[x.cols[0]].type)) {
                    out->handle_col = (int32_t)x.cols[0];
                    continue; /* clustered: no index entry */
                }
            }
            if (rc == 0) {
                rc = place_index(out, &keys[i], &x, a, err);
            }
            if (rc != 0) {
                return rc;
            }
        }
    }
    if (key_count(out) > SQL_CAT_INDEXES_MAX) {
        return cm_err_set(err, CM_E_TOO_MANY_KEYS, "Too many keys specified; max %d keys allowed",
                          SQL_CAT_INDEXES_MAX);
    }
    sort_indexes(out);
    /* defaults after the key rules (NOT NULL may have been implied) */
    for (uint32_t i = 0; i < out->ncols; i++) {
        sql_cat_col *c = &out->cols[i];
        sql_ddl_col dc = st->cols[i];
        rc = check_default(&dc, c, a, err);
        if (rc != 0) {
            return rc;
        }
        if (!c->has_default && !c->not_null && !c->auto_inc) {
            c->has_default = true; /* a nullable column defaults to NULL */
            c->default_null = true;
        }
    }
    rc = check_auto(out, err);
    if (rc != 0) {
        return rc;
    }
    for (uint32_t i = 0; i < out->nindexes; i++) {
        rc = id_cb(id_user, &out->indexes[i].id, err);
        if (rc != 0) {
            return rc;
        }
    }
    out->charset = st->charset;
    out->collation = st->collation;
    out->engine = st->engine;
    out->comment = st->comment;
    out->autoinc_start = st->has_autoinc_start && st->autoinc_start > 0 ? st->autoinc_start : 1;
    return 0;
}

int sql_ddl_add_index(const sql_cat_table *t, const sql_ddl_index *ix, cm_arena *a,
                      sql_cat_id_cb id_cb, void *id_user, sql_cat_table *out, cm_err *err)
{
    int rc = sql_cat_table_copy(t, a, out, err);
    if (rc != 0) {
        return rc;
    }
    if (ix->primary && (t->handle_col >= 0 || name_taken(t, "PRIMARY"))) {
        return cm_err_set(err, CM_E_MULTIPLE_PRI_KEY, "Multiple primary key defined");
    }
    if (key_count(t) + 1 > SQL_CAT_INDEXES_MAX) {
        return cm_err_set(err, CM_E_TOO_MANY_KEYS, "Too many keys specified; max %d keys allowed",
                          SQL_CAT_INDEXES_MAX);
    }
    sql_cat_index x;
    rc = resolve_index(out, ix, a, &x, err);
    if (rc == 0 && x.primary) {
        rc = primary_not_null(NULL, out, &x, err);
    }
    if (rc == 0) {
        rc = place_index(out, ix, &x, a, err);
    }
    if (rc == 0) {
        rc = id_cb(id_user, &out->indexes[out->nindexes - 1].id, err);
    }
    if (rc == 0) {
        sort_indexes(out);
    }
    return rc;
}

/* ---- columns (sql_ddl_int.h, docs/ddl.md "Columns") ------------------------------------------ */

#define ORIGIN_CELL 1 /* the cell id of an origin default's one-cell row */

/* Keeps the payload of a datum converted into mem: sql_type_store may leave it pointing into
 * its input (a borrowed default_text), which lives as long as the definition — fine either way. */
static int store_text(const sql_cat_col *c, const char *text, cm_datum *out, cm_buf *mem,
                      cm_err *err)
{
    sql_value in = sql_value_text(text, strlen(text));
    sql_type_note note;
    memset(&note, 0, sizeof(note));
    return sql_type_store(&c->type, c->name, &in, false, out, mem, &note, err);
}

/* MySQL's implicit default of a NOT NULL column without DEFAULT: what ADD COLUMN gives the rows
 * already there. */
static int implicit_zero(const sql_cat_col *c, cm_datum *out, cm_buf *mem, cm_err *err)
{
    sql_type_note note;
    memset(&note, 0, sizeof(note));
    switch ((cm_dtype)c->type.dtype) {
    case CM_DT_INT64:
        *out = cm_datum_int64(0);
        return 0;
    case CM_DT_UINT64:
        *out = cm_datum_uint64(0);
        return 0;
    case CM_DT_FLOAT64:
        *out = cm_datum_float64(0);
        return 0;
    case CM_DT_FLOAT32:
        *out = cm_datum_float32(0);
        return 0;
    case CM_DT_DATE:
    case CM_DT_DATETIME:
    case CM_DT_TIMESTAMP: /* the zero date packs to 0 */
    case CM_DT_YEAR:
    case CM_DT_SET:
    case CM_DT_BIT:
        *out = cm_datum_uint((cm_dtype)c->type.dtype, 0);
        return 0;
    case CM_DT_TIME:
        *out = cm_datum_int(CM_DT_TIME, 0);
        return 0;
    case CM_DT_ENUM: /* the first member (number 0 is the '' of an invalid value) */
        *out = cm_datum_uint(CM_DT_ENUM, c->type.nmembers > 0 ? 1 : 0);
        return 0;
    case CM_DT_JSON:
        *out = cm_datum_json(cm_slice_make("null", 4));
        return 0;
    case CM_DT_DECIMAL: {
        sql_value zero = sql_value_int(0);
        return sql_type_store(&c->type, c->name, &zero, false, out, mem, &note, err);
    }
    case CM_DT_STRING:
    case CM_DT_BYTES: /* '' (BINARY(n) pads it as the type does) */
        return store_text(c, "", out, mem, err);
    default:
        *out = cm_datum_null();
        return 0;
    }
}

int sql_cat_col_origin(const sql_cat_col *c, cm_datum *out, cm_buf *mem, cm_err *err)
{
    *out = cm_datum_null();
    if (c->has_origin) {
        cm_row_view view;
        cm_slice val;
        int rc = cm_row_view_init(&view, cm_slice_make(c->origin, c->origin_len), err);
        if (rc != 0) {
            return rc;
        }
        if (cm_row_view_find(&view, ORIGIN_CELL, &val) != CM_ROW_VALUE) {
            return 0;
        }
        return cm_row_value_decode((cm_dtype)c->type.dtype, val, out, err);
    }
    if (c->has_default && !c->default_null && c->default_text != NULL && !c->default_now) {
        return store_text(c, c->default_text, out, mem, err);
    }
    if (c->not_null && !c->auto_inc && !c->default_now) {
        return implicit_zero(c, out, mem, err);
    }
    return 0;
}

/* The public column of t named name, or -1. */
static int find_public_col(const sql_cat_table *t, const char *name)
{
    int off = find_col(t, name);
    return off >= 0 && t->cols[off].state == SQL_OBJ_PUBLIC ? off : -1;
}

static bool col_in_primary(const sql_cat_table *t, uint32_t off)
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

static bool col_in_index(const sql_cat_table *t, uint32_t off, const char **ix_name)
{
    for (uint32_t i = 0; i < t->nindexes; i++) {
        const sql_cat_index *x = &t->indexes[i];
        for (uint32_t j = 0; j < x->ncols; j++) {
            if (x->cols[j] == off) {
                *ix_name = x->name;
                return true;
            }
        }
    }
    return false;
}

/* Where op places its column in a table of ncols columns (the column itself not counted):
 * 0 for FIRST, after pos_col for AFTER (1054 when there is no such column; `self` is
 * skipped: MODIFY c AFTER c is MySQL's 1054 too), else last (ADD) or where it is (MODIFY). */
static int target_offset(const sql_cat_table *t, const sql_alter_op *op, int self, uint32_t *out,
                         cm_err *err)
{
    if (op->pos == SQL_COL_POS_FIRST) {
        *out = 0;
        return 0;
    }
    if (op->pos != SQL_COL_POS_AFTER) {
        *out = self >= 0 ? (uint32_t)self : t->ncols; /* MODIFY without a position: in place */
        return 0;
    }
    /* any state: the columns of t that are not public are those this same ALTER adds or drops
     * (jobs run one at a time), and MySQL lets ADD b …, ADD c … AFTER b name b */
    int after = op->pos_col != NULL ? find_col(t, op->pos_col) : -1;
    if (after < 0 || after == self) {
        return cm_err_set(err, CM_E_BAD_FIELD, "Unknown column '%s' in '%s'",
                          op->pos_col != NULL ? op->pos_col : "", t->name);
    }
    /* offsets once self is out of the way */
    *out = (uint32_t)after + 1 - (self >= 0 && self < after ? 1 : 0);
    return 0;
}

/* Moves the column at offset from to offset to (both within [0, ncols)), keeping index column
 * offsets, handle_col and autoinc_col on the same columns. */
static void move_column(sql_cat_table *t, uint32_t from, uint32_t to)
{
    if (from == to) {
        return;
    }
    /* new offset of the column now at offset o */
    sql_cat_col moving = t->cols[from];
    if (from < to) {
        memmove(&t->cols[from], &t->cols[from + 1], sizeof(sql_cat_col) * (to - from));
    } else {
        memmove(&t->cols[to + 1], &t->cols[to], sizeof(sql_cat_col) * (from - to));
    }
    t->cols[to] = moving;
    for (uint32_t i = 0; i < t->ncols; i++) {
        t->cols[i].offset = i;
    }
#define REMAP(o)                                                                                   \
    ((o) == from                              ? to                                                 \
     : (from < to && (o) > from && (o) <= to) ? (o)-1                                              \
     : (to < from && (o) >= to && (o) < from) ? (o) + 1                                            \
                                              : (o))
    for (uint32_t i = 0; i < t->nindexes; i++) {
        for (uint32_t j = 0; j < t->indexes[i].ncols; j++) {
            t->indexes[i].cols[j] = REMAP(t->indexes[i].cols[j]);
        }
    }
    if (t->handle_col >= 0) {
        t->handle_col = (int32_t)REMAP((uint32_t)t->handle_col);
    }
    if (t->autoinc_col >= 0) {
        t->autoinc_col = (int32_t)REMAP((uint32_t)t->autoinc_col);
    }
#undef REMAP
}

/* Keys and AUTO_INCREMENT in a column definition of ALTER: they need a backfilled index or a
 * rewrite of every row, which this ALTER does not do. */
static int no_keys_in_def(const sql_alter_op *op, const char *verb, cm_err *err)
{
    const sql_ddl_col *dc = &op->col;
    if (dc->inline_primary || dc->inline_unique) {
        return cm_err_set(err, CM_E_UNSUPPORTED,
                          "This version of Tessera doesn't yet support '%s with a PRIMARY KEY or "
                          "UNIQUE in the column definition' (add the column, then ADD INDEX)",
                          verb);
    }
    return 0;
}

/* The ALTER's time as the column's type stores it (DEFAULT CURRENT_TIMESTAMP of ADD COLUMN), in
 * the calling thread's time zone for DATETIME (sql_type_set_tz). */
static int now_datum(const sql_cat_col *c, cm_datum *out, cm_buf *mem, cm_err *err)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    time_t secs = ts.tv_sec;
    struct tm tm;
    gmtime_r(&secs, &tm);
    cm_datetime dt = {(uint16_t)(tm.tm_year + 1900), (uint8_t)(tm.tm_mon + 1), (uint8_t)tm.tm_mday,
                      (uint8_t)tm.tm_hour,           (uint8_t)tm.tm_min,       (uint8_t)tm.tm_sec,
                      (uint32_t)(ts.tv_nsec / 1000)};
    uint32_t unit = 1;
    for (unsigned k = c->type.decimals; k < 6; k++) {
        unit *= 10;
    }
    dt.micro -= dt.micro % unit; /* NOW(fsp) truncates, where storing would round */
    sql_type_tz_from_utc(&dt);
    cm_buf text = CM_BUF_INIT;
    int rc = cm_datetime_format(&dt, false, 6, &text) == 0 && cm_buf_terminate(&text) == 0
                 ? store_text(c, (const char *)text.ptr, out, mem, err)
                 : nomem(err);
    cm_buf_fini(&text);
    return rc;
}

/* The origin default of a column being added (c checked): its one-cell row in a. */
static int make_origin(sql_cat_col *c, cm_arena *a, cm_err *err)
{
    cm_buf mem = CM_BUF_INIT, row = CM_BUF_INIT;
    int rc = cm_buf_reserve(&mem, SQL_TYPE_STORE_SCRATCH_MAX + 64) == 0 ? 0 : nomem(err);
    cm_datum d = cm_datum_null();
    if (rc == 0 && c->default_now) {
        rc = now_datum(c, &d, &mem, err);
    } else if (rc == 0) {
        rc = sql_cat_col_origin(c, &d, &mem, err); /* has_origin is still false here */
    }
    cm_row_cell cell = {.id = ORIGIN_CELL, .value = d};
    rc = rc ? rc : cm_row_encode(&row, &cell, 1, err);
    if (rc == 0) {
        c->origin = cm_arena_memdup(a, row.ptr, row.len);
        c->origin_len = (uint32_t)row.len;
        c->has_origin = true;
        rc = c->origin == NULL ? nomem(err) : 0;
    }
    if (rc != 0 && rc != CM_E_NOMEM) {
        rc = cm_err_set(err, CM_E_INVALID_DEFAULT, "Invalid default value for '%s'", c->name);
    }
    cm_buf_fini(&mem);
    cm_buf_fini(&row);
    return rc;
}

/* A checked copy of op's column definition (defaults, the implied NULL default). */
static int checked_def(const sql_alter_op *op, cm_arena *a, sql_cat_col *c, cm_err *err)
{
    sql_ddl_col dc = op->col;
    *c = dc.col;
    c->default_text = NULL;
    c->has_origin = false;
    c->origin = NULL;
    c->origin_len = 0;
    int rc = sql_cat_check_name(c->name, CM_E_WRONG_COLUMN_NAME, err);
    rc = rc ? rc : check_default(&dc, c, a, err);
    if (rc == 0 && !c->has_default && !c->not_null && !c->auto_inc) {
        c->has_default = true; /* a nullable column defaults to NULL */
        c->default_null = true;
    }
    return rc;
}

int sql_ddl_add_column(const sql_cat_table *t, const sql_alter_op *op, uint8_t state, cm_arena *a,
                       sql_cat_table *out, uint32_t *col_id, cm_err *err)
{
    const char *name = op->col.col.name;
    if (name == NULL) {
        return cm_err_set(err, CM_E_PARSE, "You have an error in your SQL syntax: no column name");
    }
    if (find_col(t, name) >= 0) { /* any state: a column being dropped still holds its name */
        return cm_err_set(err, CM_E_DUP_FIELDNAME, "Duplicate column name '%s'", name);
    }
    if (t->ncols + 1 > SQL_CAT_COLS_MAX) {
        return cm_err_set(err, CM_E_TOO_MANY_FIELDS, "Too many columns");
    }
    int rc = no_keys_in_def(op, "ADD COLUMN", err);
    if (rc == 0 && op->col.col.auto_inc) {
        rc = cm_err_set(err, CM_E_UNSUPPORTED,
                        "This version of Tessera doesn't yet support 'ADD COLUMN with "
                        "AUTO_INCREMENT' (it would rewrite every row)");
    }
    uint32_t to = 0;
    rc = rc ? rc : target_offset(t, op, -1, &to, err);
    sql_cat_col c;
    rc = rc ? rc : checked_def(op, a, &c, err);
    if (rc == 0 && c.default_null && c.not_null) {
        rc = cm_err_set(err, CM_E_INVALID_DEFAULT, "Invalid default value for '%s'", c.name);
    }
    rc = rc ? rc : make_origin(&c, a, err);
    rc = rc ? rc : sql_cat_table_copy(t, a, out, err); /* one spare column slot */
    if (rc != 0) {
        return rc;
    }
    c.name = cm_arena_strndup(a, c.name, strlen(c.name));
    if (c.name == NULL || (c.comment != NULL && (c.comment = cm_arena_strndup(
                                                     a, c.comment, strlen(c.comment))) == NULL)) {
        return nomem(err);
    }
    if (c.type.nmembers > 0) {
        char **m = cm_arena_alloc(a, sizeof(char *) * c.type.nmembers);
        if (m == NULL) {
            return nomem(err);
        }
        for (uint16_t i = 0; i < c.type.nmembers; i++) {
            m[i] = cm_arena_strndup(a, c.type.members[i], strlen(c.type.members[i]));
            if (m[i] == NULL) {
                return nomem(err);
            }
        }
        c.type.members = m;
    }
    c.id = t->next_col_id;
    c.state = state;
    c.offset = out->ncols;
    out->cols[out->ncols++] = c;
    out->next_col_id = t->next_col_id + 1;
    move_column(out, out->ncols - 1, to);
    *col_id = c.id;
    return 0;
}

int sql_ddl_drop_column_check(const sql_cat_table *t, const sql_alter_op *op, uint32_t *col_id,
                              cm_err *err)
{
    const char *name = op->col_name != NULL ? op->col_name : "";
    int off = find_public_col(t, name);
    if (off < 0) {
        return cm_err_set(err, CM_E_CANT_DROP_KEY, "Can't DROP '%s'; check that column/key exists",
                          name);
    }
    uint32_t npublic = 0;
    for (uint32_t i = 0; i < t->ncols; i++) {
        npublic += t->cols[i].state == SQL_OBJ_PUBLIC;
    }
    if (npublic <= 1) {
        return cm_err_set(err, CM_E_CANT_REMOVE_ALL_FIELDS,
                          "You can't delete all columns with ALTER TABLE; use DROP TABLE instead");
    }
    const char *ix = NULL;
    if (t->handle_col == off) {
        return cm_err_set(err, CM_E_UNSUPPORTED,
                          "This version of Tessera doesn't yet support 'DROP COLUMN of the "
                          "clustered primary key column '%s''",
                          name);
    }
    if (t->autoinc_col == off) {
        return cm_err_set(err, CM_E_UNSUPPORTED,
                          "This version of Tessera doesn't yet support 'DROP COLUMN of the "
                          "AUTO_INCREMENT column '%s''",
                          name);
    }
    if (col_in_index(t, (uint32_t)off, &ix)) {
        return cm_err_set(err, CM_E_UNSUPPORTED,
                          "This version of Tessera doesn't yet support 'DROP COLUMN of column "
                          "'%s' covered by index '%s'' (drop the index first)",
                          name, ix);
    }
    *col_id = t->cols[off].id;
    return 0;
}

static bool int_family(uint8_t mysql_type, int *rank)
{
    switch (mysql_type) {
    case SQL_TYPE_TINY:
        *rank = 1;
        return true;
    case SQL_TYPE_SHORT:
        *rank = 2;
        return true;
    case SQL_TYPE_INT24:
        *rank = 3;
        return true;
    case SQL_TYPE_LONG:
        *rank = 4;
        return true;
    case SQL_TYPE_LONGLONG:
        *rank = 5;
        return true;
    default:
        return false;
    }
}

static bool blob_family(uint8_t mysql_type, int *rank)
{
    switch (mysql_type) {
    case SQL_TYPE_TINY_BLOB:
        *rank = 1;
        return true;
    case SQL_TYPE_BLOB:
        *rank = 2;
        return true;
    case SQL_TYPE_MEDIUM_BLOB:
        *rank = 3;
        return true;
    case SQL_TYPE_LONG_BLOB:
        *rank = 4;
        return true;
    default:
        return false;
    }
}

/* Whether every value stored as `from` is stored the same way as `to` and fits it: the change
 * rewrites no row and no index entry. */
static bool type_widens(const sql_coltype *from, const sql_coltype *to)
{
    if (from->dtype != to->dtype || from->is_unsigned != to->is_unsigned) {
        return false;
    }
    int rf, rt;
    if (int_family(from->mysql_type, &rf)) {
        return int_family(to->mysql_type, &rt) && rt >= rf; /* display width / ZEROFILL: free */
    }
    if (from->collation != to->collation || from->zerofill != to->zerofill) {
        return false;
    }
    if (blob_family(from->mysql_type, &rf)) {
        return blob_family(to->mysql_type, &rt) && rt >= rf;
    }
    if (from->mysql_type != to->mysql_type || from->fixed != to->fixed ||
        from->precision != to->precision || from->decimals != to->decimals ||
        from->nmembers != to->nmembers) {
        return false;
    }
    for (uint16_t i = 0; i < from->nmembers; i++) {
        if (strcmp(from->members[i], to->members[i]) != 0) {
            return false;
        }
    }
    bool by_length = from->dtype == CM_DT_STRING || from->dtype == CM_DT_BYTES;
    if (by_length && from->fixed && from->dtype == CM_DT_BYTES) {
        return from->length == to->length; /* BINARY(n) pads to n */
    }
    return by_length ? to->length >= from->length : from->length == to->length;
}

static int rewrite_needed(const char *name, const char *what, cm_err *err)
{
    return cm_err_set(err, CM_E_UNSUPPORTED,
                      "This version of Tessera doesn't yet support 'MODIFY/CHANGE COLUMN %s: %s' "
                      "(only changes that rewrite no row: a wider type of the same kind, NULL "
                      "allowed, default, comment, position, name)",
                      name, what);
}

int sql_ddl_change_column(const sql_cat_table *t, const sql_alter_op *op, cm_arena *a,
                          sql_cat_table *out, cm_err *err)
{
    bool rename_only = op->kind == SQL_ALTER_RENAME_COLUMN;
    const char *old_name = op->col_name != NULL ? op->col_name
                           : rename_only        ? NULL
                                                : op->col.col.name;
    if (old_name == NULL || (!rename_only && op->kind != SQL_ALTER_MODIFY_COLUMN)) {
        return cm_err_set(err, CM_E_INTERNAL, "column change without a column");
    }
    int off = find_public_col(t, old_name);
    if (off < 0) {
        return cm_err_set(err, CM_E_BAD_FIELD, "Unknown column '%s' in '%s'", old_name, t->name);
    }
    const sql_cat_col *old = &t->cols[off];
    const char *new_name = rename_only ? op->new_name : op->col.col.name;
    if (new_name == NULL) {
        return cm_err_set(err, CM_E_PARSE, "You have an error in your SQL syntax: no column name");
    }
    int rc = sql_cat_check_name(new_name, CM_E_WRONG_COLUMN_NAME, err);
    int other = find_col(t, new_name);
    if (rc == 0 && other >= 0 && other != off) {
        rc = cm_err_set(err, CM_E_DUP_FIELDNAME, "Duplicate column name '%s'", new_name);
    }
    sql_cat_col c = *old;
    uint32_t to = (uint32_t)off;
    if (rc == 0 && !rename_only) {
        rc = no_keys_in_def(op, "MODIFY COLUMN", err);
        rc = rc ? rc : checked_def(op, a, &c, err);
        if (rc == 0 && col_in_primary(t, (uint32_t)off)) {
            if (op->col.null_explicit) {
                rc = cm_err_set(err, CM_E_PRIMARY_CANT_HAVE_NULL,
                                "All parts of a PRIMARY KEY must be NOT NULL; if you need NULL in "
                                "a key, use UNIQUE instead");
            }
            if (rc == 0 && !c.not_null) { /* MySQL keeps a key column NOT NULL */
                c.not_null = true;
                if (c.default_null && !op->col.col.default_null) {
                    c.has_default = false;
                    c.default_null = false;
                }
            }
        }
        if (rc == 0 && c.default_null && c.not_null) {
            rc = cm_err_set(err, CM_E_INVALID_DEFAULT, "Invalid default value for '%s'", c.name);
        }
        if (rc == 0 && c.type.collation == 0) {
            c.type.collation = old->type.collation; /* not given: the column keeps its own */
        }
        if (rc == 0 && !type_widens(&old->type, &c.type)) {
            rc = rewrite_needed(old->name, "the new type stores values differently", err);
        }
        if (rc == 0 && c.not_null && !old->not_null) {
            rc = rewrite_needed(old->name, "NOT NULL on a column that allows NULL", err);
        }
        if (rc == 0 && c.auto_inc != old->auto_inc) {
            rc = rewrite_needed(old->name, "AUTO_INCREMENT added or removed", err);
        }
        rc = rc ? rc : target_offset(t, op, off, &to, err);
        /* what the change keeps: identity, state and the origin of older rows */
        c.id = old->id;
        c.state = old->state;
        c.has_origin = old->has_origin;
        c.origin = old->origin;
        c.origin_len = old->origin_len;
        c.type.members = old->type.members; /* equal (type_widens) */
    }
    rc = rc ? rc : sql_cat_table_copy(t, a, out, err);
    if (rc != 0) {
        return rc;
    }
    sql_cat_col *d = &out->cols[off];
    if (!rename_only) {
        char *nm = d->name;
        char **members = d->type.members;
        uint8_t *origin = d->origin;
        *d = c; /* strings from the statement's arena or the copy */
        d->name = nm;
        d->type.members = members;
        d->origin = origin;
        d->offset = (uint32_t)off;
        if (c.default_text != NULL) {
            d->default_text = cm_arena_strndup(a, c.default_text, strlen(c.default_text));
        }
        if (c.comment != NULL) {
            d->comment = cm_arena_strndup(a, c.comment, strlen(c.comment));
            if (d->comment == NULL) {
                return nomem(err);
            }
        }
        if (c.default_text != NULL && d->default_text == NULL) {
            return nomem(err);
        }
    }
    d->name = cm_arena_strndup(a, new_name, strlen(new_name));
    if (d->name == NULL) {
        return nomem(err);
    }
    move_column(out, (uint32_t)off, to);
    return 0;
}

void sql_cat_table_remove_column(sql_cat_table *t, uint32_t col_id)
{
    uint32_t off = t->ncols;
    for (uint32_t i = 0; i < t->ncols; i++) {
        if (t->cols[i].id == col_id) {
            off = i;
            break;
        }
    }
    if (off == t->ncols) {
        return;
    }
    move_column(t, off, t->ncols - 1); /* last, so nothing else moves when it goes */
    t->ncols--;
    if (t->handle_col == (int32_t)t->ncols) {
        t->handle_col = -1;
    }
    if (t->autoinc_col == (int32_t)t->ncols) {
        t->autoinc_col = -1;
    }
}
