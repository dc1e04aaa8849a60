/* sql_is_vtab.c — the SQLite module `infoschema`: one read-only virtual table per
 * information_schema table. A scan builds all rows at xFilter (narrowed by equality on the
 * table's schema/table name columns when the query has them) and hands them out from memory. */
#include "sql_is_int.h"

#include "cm_log.h"
#include "sql_lexer.h"
#include "sql_types.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct is_vtab {
    sqlite3_vtab base;
    const sql_is_env *env;
    const is_tabdef *def;
} is_vtab;

typedef struct is_cursor {
    sqlite3_vtab_cursor base;
    is_rows rows;
    uint32_t row, nrows;
    char *want_db, *want_table;
} is_cursor;

bool sql_is_db(const char *name)
{
    return name != NULL && strcasecmp(name, "information_schema") == 0;
}

bool sql_is_table(const char *name)
{
    return name != NULL && sql_is_find(name) != NULL;
}

uint32_t sql_is_ntables(void)
{
    return sql_is_ntabs;
}

const char *sql_is_table_name(uint32_t i)
{
    return i < sql_is_ntabs ? sql_is_tables[i].name : NULL;
}

static int append_qid(cm_buf *b, const char *name)
{
    if (cm_buf_append_u8(b, '"') != 0) {
        return CM_E_NOMEM;
    }
    for (const char *p = name; *p; p++) {
        if ((*p == '"' && cm_buf_append_u8(b, '"') != 0) || cm_buf_append_u8(b, (uint8_t)*p) != 0) {
            return CM_E_NOMEM;
        }
    }
    return cm_buf_append_u8(b, '"');
}

int sql_is_declare_sql(const char *schema, const char *name, cm_buf *out, cm_err *err)
{
    const is_tabdef *d = sql_is_find(name);
    if (d == NULL) {
        return cm_err_set(err, CM_E_UNKNOWN_TABLE, "Unknown table '%.64s' in information_schema",
                          name);
    }
    if (cm_buf_printf(out, "CREATE VIRTUAL TABLE ") != 0 || append_qid(out, schema) != 0 ||
        cm_buf_append_u8(out, '.') != 0 || append_qid(out, name) != 0 ||
        cm_buf_printf(out, " USING infoschema(%s)", d->name) != 0 || cm_buf_terminate(out) != 0) {
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    return 0;
}

/* Parses a MySQL type text into t (false when it does not parse). */
static bool parse_type(const char *text, sql_coltype *t)
{
    sql_tokens toks;
    sql_tokens_init(&toks);
    cm_err err;
    uint32_t pos = 0;
    bool ok = sql_lex(text, strlen(text), 0, &toks, &err) == 0 &&
              sql_type_parse(text, toks.v, toks.n, &pos, t, &err) == 0;
    sql_tokens_fini(&toks);
    return ok;
}

bool sql_is_column_meta(const char *table, const char *col, sql_column *c)
{
    const is_tabdef *d = sql_is_find(table);
    if (d == NULL) {
        return false;
    }
    for (uint32_t i = 0; i < d->ncols; i++) {
        if (strcasecmp(d->cols[i].name, col) != 0) {
            continue;
        }
        sql_coltype t;
        memset(&t, 0, sizeof(t));
        if (!parse_type(d->cols[i].type, &t)) {
            return false;
        }
        sql_column m = sql_type_column(&t, c->name, false, 0);
        sql_coltype_free(&t);
        m.name = c->name;
        m.name_len = c->name_len;
        *c = m;
        return true;
    }
    return false;
}

/* ---- the module ---- */

static int vt_connect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out,
                      char **errmsg)
{
    if (argc < 4) {
        *errmsg = sqlite3_mprintf("infoschema: the table name is missing");
        return SQLITE_ERROR;
    }
    const is_tabdef *d = sql_is_find(argv[3]);
    if (d == NULL) {
        *errmsg = sqlite3_mprintf("infoschema: no table %s", argv[3]);
        return SQLITE_ERROR;
    }
    cm_buf sql = CM_BUF_INIT;
    cm_buf_printf(&sql, "CREATE TABLE x(");
    for (uint32_t i = 0; i < d->ncols; i++) {
        const char *ty = d->cols[i].type;
        bool integer = strstr(ty, "int") != NULL;
        /* Text compares case-insensitively, as MySQL's information_schema columns do (and
         * as Tessera's names do: lower_case_table_names=2). */
        cm_buf_printf(&sql, "%s\"%s\" %s", i ? ", " : "", d->cols[i].name,
                      integer ? "INTEGER" : "TEXT COLLATE NOCASE");
    }
    cm_buf_printf(&sql, ")");
    if (cm_buf_terminate(&sql) != 0) {
        cm_buf_fini(&sql);
        return SQLITE_NOMEM;
    }
    int rc = sqlite3_declare_vtab(db, (const char *)sql.ptr);
    cm_buf_fini(&sql);
    if (rc != SQLITE_OK) {
        return rc;
    }
    is_vtab *v = sqlite3_malloc(sizeof(*v));
    if (v == NULL) {
        return SQLITE_NOMEM;
    }
    memset(v, 0, sizeof(*v));
    v->env = aux;
    v->def = d;
    *out = &v->base;
    return SQLITE_OK;
}

static int vt_disconnect(sqlite3_vtab *vt)
{
    sqlite3_free(vt);
    return SQLITE_OK;
}

/* idxNum bit 1: argv has the database name; bit 2: the table name (argv in that order). */
static int vt_best_index(sqlite3_vtab *vt, sqlite3_index_info *info)
{
    is_vtab *v = (is_vtab *)vt;
    int sc = -1, tc = -1;
    for (int i = 0; i < info->nConstraint; i++) {
        const struct sqlite3_index_constraint *c = &info->aConstraint[i];
        if (!c->usable || c->op != SQLITE_INDEX_CONSTRAINT_EQ) {
            continue;
        }
        if (c->iColumn == v->def->schema_col && v->def->schema_col >= 0) {
            sc = i;
        } else if (c->iColumn == v->def->table_col && v->def->table_col >= 0) {
            tc = i;
        }
    }
    int argi = 1;
    info->idxNum = 0;
    if (sc >= 0) {
        info->aConstraintUsage[sc].argvIndex = argi++;
        info->idxNum |= 1;
    }
    if (tc >= 0) {
        info->aConstraintUsage[tc].argvIndex = argi++;
        info->idxNum |= 2;
    }
    /* SQLite checks the constraints again (omit stays 0): the narrowing is an optimisation. */
    info->estimatedCost = 1000.0 / (double)argi;
    info->estimatedRows = 1000 / argi;
    return SQLITE_OK;
}

static int vt_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **out)
{
    (void)vt;
    is_cursor *c = sqlite3_malloc(sizeof(*c));
    if (c == NULL) {
        return SQLITE_NOMEM;
    }
    memset(c, 0, sizeof(*c));
    *out = &c->base;
    return SQLITE_OK;
}

static void cursor_reset(is_cursor *c)
{
    is_rows_fini(&c->rows);
    free(c->want_db);
    free(c->want_table);
    c->want_db = c->want_table = NULL;
    c->row = c->nrows = 0;
}

static int vt_close(sqlite3_vtab_cursor *cur)
{
    is_cursor *c = (is_cursor *)cur;
    cursor_reset(c);
    sqlite3_free(c);
    return SQLITE_OK;
}

static char *arg_text(sqlite3_value *v)
{
    const unsigned char *p = sqlite3_value_text(v);
    return p != NULL ? strdup((const char *)p) : NULL;
}

static int vt_filter(sqlite3_vtab_cursor *cur, int idx, const char *idxstr, int argc,
                     sqlite3_value **argv)
{
    (void)idxstr;
    is_cursor *c = (is_cursor *)cur;
    is_vtab *v = (is_vtab *)cur->pVtab;
    cursor_reset(c);
    is_rows_init(&c->rows, v->def->ncols);
    int a = 0;
    if ((idx & 1) && a < argc) {
        c->want_db = arg_text(argv[a++]);
        if (c->want_db == NULL) {
            return SQLITE_OK; /* = NULL matches nothing */
        }
    }
    if ((idx & 2) && a < argc) {
        c->want_table = arg_text(argv[a++]);
        if (c->want_table == NULL) {
            return SQLITE_OK;
        }
    }
    c->rows.want_db = c->want_db;
    c->rows.want_table = c->want_table;
    if (v->def->rows != NULL) {
        cm_err err;
        cm_err_clear(&err);
        int rc = v->def->rows(v->env, &c->rows, &err);
        if (rc != 0 || c->rows.oom) {
            sqlite3_free(v->base.zErrMsg);
            v->base.zErrMsg = sqlite3_mprintf("information_schema.%s: %s", v->def->name,
                                              rc != 0 ? err.msg : "out of memory");
            return rc == CM_E_NOMEM || c->rows.oom ? SQLITE_NOMEM : SQLITE_ERROR;
        }
    }
    c->nrows = c->rows.ncols ? c->rows.ncells / c->rows.ncols : 0;
    c->row = 0;
    return SQLITE_OK;
}

static int vt_next(sqlite3_vtab_cursor *cur)
{
    ((is_cursor *)cur)->row++;
    return SQLITE_OK;
}

static int vt_eof(sqlite3_vtab_cursor *cur)
{
    is_cursor *c = (is_cursor *)cur;
    return c->row >= c->nrows;
}

static int vt_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int i)
{
    is_cursor *c = (is_cursor *)cur;
    if (i < 0 || (uint32_t)i >= c->rows.ncols || c->row >= c->nrows) {
        sqlite3_result_null(ctx);
        return SQLITE_OK;
    }
    const is_cell *cell = &c->rows.cells[(size_t)c->row * c->rows.ncols + (uint32_t)i];
    switch (cell->kind) {
    case IS_INT:
        sqlite3_result_int64(ctx, cell->i);
        break;
    case IS_TEXT:
        sqlite3_result_text(ctx, cell->len ? (const char *)c->rows.text.ptr + cell->off : "",
                            (int)cell->len, SQLITE_TRANSIENT);
        break;
    default:
        sqlite3_result_null(ctx);
    }
    return SQLITE_OK;
}

static int vt_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *out)
{
    *out = ((is_cursor *)cur)->row;
    return SQLITE_OK;
}

/* Every write is refused as MySQL refuses it: 1044 on the database. */
static int vt_update(sqlite3_vtab *vt, int argc, sqlite3_value **argv, sqlite3_int64 *rowid)
{
    (void)argc;
    (void)argv;
    (void)rowid;
    is_vtab *v = (is_vtab *)vt;
    const char *user = v->env->user != NULL ? v->env->user(v->env->sess) : "root";
    if (v->env->err != NULL) {
        cm_err_set(v->env->err, CM_E_DB_ACCESS_DENIED,
                   "Access denied for user '%s'@'%%' to database 'information_schema'",
                   user ? user : "");
    }
    sqlite3_free(vt->zErrMsg);
    vt->zErrMsg = sqlite3_mprintf("Access denied to database 'information_schema'");
    return SQLITE_ERROR;
}

static sqlite3_module is_module = {
    .iVersion = 1,
    .xCreate = vt_connect,
    .xConnect = vt_connect,
    .xBestIndex = vt_best_index,
    .xDisconnect = vt_disconnect,
    .xDestroy = vt_disconnect,
    .xOpen = vt_open,
    .xClose = vt_close,
    .xFilter = vt_filter,
    .xNext = vt_next,
    .xEof = vt_eof,
    .xColumn = vt_column,
    .xRowid = vt_rowid,
    .xUpdate = vt_update,
};

int sql_is_register(sqlite3 *db, sql_is_env *env, cm_err *err)
{
    int rc = sqlite3_create_module_v2(db, "infoschema", &is_module, env, NULL);
    if (rc != SQLITE_OK) {
        return cm_err_set(err, CM_E_INTERNAL, "registering the infoschema module: %s",
                          sqlite3_errstr(rc));
    }
    return 0;
}
