/*
 * sql_vtab.c — the `tessera` module itself: registration, xCreate/xConnect (declaring a table of
 * the catalog to SQLite), the per-statement re-check of the table definition against the
 * session's schema snapshot, and the value conversions shared by reads and writes.
 *
 * A declaration keeps a borrowed pointer to the table definition of the snapshot it was made
 * from; every xFilter/xUpdate first asks the session for its current snapshot and, when it is a
 * different one, looks the table up again by id: the same version keeps working with the new
 * pointer, another version fails the statement (the session re-declares its tables when the
 * schema version moves, so this only guards against a statement prepared across a change).
 */
#include "sql_vtab_int.h"

#include "cm_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- values ---------------------------------------------------------------------------------- */

sql_value sql_vt_value(sqlite3_value *in)
{
    sql_value v = sql_value_null();
    switch (sqlite3_value_type(in)) {
    case SQLITE_INTEGER:
        v.type = SQL_V_INT;
        v.i = sqlite3_value_int64(in);
        break;
    case SQLITE_FLOAT:
        v.type = SQL_V_DOUBLE;
        v.d = sqlite3_value_double(in);
        break;
    case SQLITE_TEXT:
        v.type = SQL_V_TEXT;
        v.s = (const char *)sqlite3_value_text(in);
        v.n = (size_t)sqlite3_value_bytes(in);
        break;
    case SQLITE_BLOB:
        v.type = SQL_V_BLOB;
        v.s = (const char *)sqlite3_value_blob(in);
        v.n = (size_t)sqlite3_value_bytes(in);
        if (v.s == NULL) {
            v.s = "";
        }
        break;
    default:
        break;
    }
    return v;
}

/* Unsigned values above INT64_MAX go to SQLite as their decimal text (exact; SQLite has no
 * unsigned 64-bit integer, and a double would lose digits). */
int sql_vt_result(sqlite3_context *ctx, const vt_col *col, const cm_datum *d, cm_buf *scratch,
                  cm_err *err)
{
    if (d->type == CM_DT_NULL) {
        sqlite3_result_null(ctx);
        return 0;
    }
    /* Fast paths for the common storage types (no conversion needed). */
    if (d->type == CM_DT_INT64 && col->dtype == CM_DT_INT64) {
        sqlite3_result_int64(ctx, d->v.i64);
        return 0;
    }
    if (d->type == CM_DT_BIT && d->v.u64 <= (uint64_t)INT64_MAX) {
        /* BIT is a number inside SQLite (MySQL computes and compares it as one); the session
         * sends it to the client as bytes (sql_exec.c bit_bytes). */
        sqlite3_result_int64(ctx, (int64_t)d->v.u64);
        return 0;
    }
    sql_value out;
    cm_buf_reset(scratch);
    int rc = sql_type_load(&col->c->type, d, &out, scratch, err);
    if (rc != 0) {
        return rc;
    }
    switch (out.type) {
    case SQL_V_NULL:
        sqlite3_result_null(ctx);
        break;
    case SQL_V_INT:
        sqlite3_result_int64(ctx, out.i);
        break;
    case SQL_V_UINT:
        if (out.u <= (uint64_t)INT64_MAX) {
            sqlite3_result_int64(ctx, (int64_t)out.u);
        } else {
            char num[24];
            int n = snprintf(num, sizeof num, "%llu", (unsigned long long)out.u);
            sqlite3_result_text(ctx, num, n, SQLITE_TRANSIENT);
        }
        break;
    case SQL_V_DOUBLE:
        sqlite3_result_double(ctx, out.d);
        break;
    case SQL_V_TEXT:
        sqlite3_result_text(ctx, out.s ? out.s : "", (int)out.n, SQLITE_TRANSIENT);
        break;
    case SQL_V_BLOB:
        sqlite3_result_blob(ctx, out.s ? out.s : "", (int)out.n, SQLITE_TRANSIENT);
        break;
    }
    return 0;
}

int sql_vt_decode_row(sql_vt *v, cm_slice row, cm_datum *out, cm_err *err)
{
    cm_row_view view;
    int rc = cm_row_view_init(&view, row, err);
    for (uint32_t i = 0; rc == 0 && i < v->ncols; i++) {
        const vt_col *c = &v->cols[i];
        if (!c->written) {
            out[i] = cm_datum_null();
            continue;
        }
        cm_slice val;
        cm_row_presence p = cm_row_view_find(&view, c->c->id, &val);
        if (p == CM_ROW_ABSENT) {
            out[i] = c->dflt;
        } else if (p == CM_ROW_NULL) {
            out[i] = cm_datum_null();
        } else {
            rc = cm_row_value_decode(c->dtype, val, &out[i], err);
        }
    }
    return rc;
}

/* ---- errors, transaction, written tables ----------------------------------------------------- */

int sql_vt_fail(sql_vt *v, const cm_err *err)
{
    v->env->err = *err;
    sqlite3_free(v->base.zErrMsg);
    v->base.zErrMsg = sqlite3_mprintf("%s", err->msg);
    return err->code == CM_E_DUP_ENTRY || err->code == CM_E_BAD_NULL ? SQLITE_CONSTRAINT
                                                                     : SQLITE_ERROR;
}

int sql_vt_txn(sql_vt *v, cm_txn **out, cm_err *err)
{
    return v->env->txn(v->env->sess, out, err);
}

void sql_vt_mark_written(sql_vt *v)
{
    sql_vt_env *e = v->env;
    for (uint32_t i = 0; i < e->nwritten; i++) {
        if (e->written[i] == v->table_id) {
            return;
        }
    }
    if (e->nwritten < SQL_VT_WRITTEN_MAX) {
        e->written[e->nwritten++] = v->table_id;
    } else {
        e->written_overflow = true;
    }
}

bool sql_vt_table_dirty(sql_vt *v)
{
    const sql_vt_env *e = v->env;
    if (e->written_overflow) {
        return true;
    }
    for (uint32_t i = 0; i < e->nwritten; i++) {
        if (e->written[i] == v->table_id) {
            return true;
        }
    }
    return false;
}

/* ---- table definition ------------------------------------------------------------------------ */

static bool state_written(uint8_t s)
{
    return s == SQL_OBJ_PUBLIC || s == SQL_OBJ_WRITE_ONLY || s == SQL_OBJ_WRITE_REORG;
}

static void vt_free_cols(sql_vt *v)
{
    free(v->cols);
    free(v->vis);
    free(v->newv);
    free(v->oldv);
    v->cols = NULL;
    v->vis = NULL;
    v->newv = v->oldv = NULL;
    cm_buf_fini(&v->dflt_mem);
}

/* What a stored row that lacks the column reads (docs/ddl.md "Columns"): the origin default of
 * a column added by ALTER TABLE, else the default / implicit zero (sql_cat_col_origin). *off
 * gets the payload's offset in mem (SIZE_MAX: none there), as mem may move for later columns. */
static int col_default(const sql_cat_col *c, cm_datum *out, cm_buf *mem, size_t *off, cm_err *err)
{
    *off = SIZE_MAX;
    size_t before = mem->len;
    int rc = sql_cat_col_origin(c, out, mem, err);
    if (rc == 0 &&
        (out->type == CM_DT_STRING || out->type == CM_DT_BYTES || out->type == CM_DT_JSON) &&
        mem->ptr != NULL && out->v.bytes.ptr >= mem->ptr + before &&
        out->v.bytes.ptr <= mem->ptr + mem->len) {
        *off = (size_t)(out->v.bytes.ptr - mem->ptr);
    }
    /* otherwise borrowed from the definition (origin bytes, default_text), which lives as long
     * as the table definition */
    return rc;
}

/* Builds the per-column data of v from v->t. */
static int vt_build(sql_vt *v, cm_err *err)
{
    const sql_cat_table *t = v->t;
    vt_free_cols(v);
    v->ncols = t->ncols;
    v->cols = calloc(t->ncols ? t->ncols : 1, sizeof *v->cols);
    v->vis = calloc(t->ncols ? t->ncols : 1, sizeof *v->vis);
    v->newv = calloc(t->ncols ? t->ncols : 1, sizeof *v->newv);
    v->oldv = calloc(t->ncols ? t->ncols : 1, sizeof *v->oldv);
    size_t *offs = calloc(t->ncols ? t->ncols : 1, sizeof *offs);
    if (!v->cols || !v->vis || !v->newv || !v->oldv || !offs) {
        free(offs);
        return cm_err_set(err, CM_E_NOMEM, "vtab: out of memory");
    }
    v->nvis = 0;
    v->handle_vcol = -1;
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && i < t->ncols; i++) {
        const sql_cat_col *c = &t->cols[i];
        vt_col *vc = &v->cols[i];
        vc->c = c;
        vc->offset = i;
        vc->dtype = (cm_dtype)c->type.dtype;
        vc->written = state_written(c->state);
        vc->visible = c->state == SQL_OBJ_PUBLIC;
        vc->vcol = -1;
        if (vc->visible) {
            vc->vcol = (int)v->nvis;
            v->vis[v->nvis++] = i;
        }
        rc = col_default(c, &vc->dflt, &v->dflt_mem, &offs[i], err);
    }
    for (uint32_t i = 0; rc == 0 && i < t->ncols; i++) {
        if (offs[i] != SIZE_MAX) {
            v->cols[i].dflt.v.bytes.ptr = v->dflt_mem.ptr + offs[i];
        }
    }
    free(offs);
    if (rc == 0 && t->handle_col >= 0 && (uint32_t)t->handle_col < t->ncols) {
        v->handle_vcol = v->cols[t->handle_col].vcol;
    }
    v->table_id = t->id;
    v->version = t->version;
    return rc;
}

int sql_vt_refresh(sql_vt *v)
{
    const sql_schema *s = v->env->schema(v->env->sess);
    if (s == v->schema && v->t != NULL) {
        return SQLITE_OK;
    }
    cm_err err;
    cm_err_clear(&err);
    const sql_cat_table *t = s ? sql_schema_table_by_id(s, v->table_id) : NULL;
    if (t == NULL) {
        cm_err_set(&err, CM_E_NO_SUCH_TABLE, "Table '%s.%s' doesn't exist", v->dbname, v->tname);
        return sql_vt_fail(v, &err);
    }
    if (t->version != v->version) {
        cm_err_set(&err, CM_E_SCHEMA_CHANGED,
                   "Information schema is changed: table '%s.%s' moved to version %llu", v->dbname,
                   v->tname, (unsigned long long)t->version);
        return sql_vt_fail(v, &err);
    }
    if (t != v->t) {
        v->t = t;
        /* Same version: same columns and indexes, but the pointers are the new snapshot's. */
        if (vt_build(v, &err) != 0) {
            v->schema = NULL; /* rebuild on the next call */
            v->t = NULL;
            return sql_vt_fail(v, &err);
        }
    }
    v->schema = s;
    return SQLITE_OK;
}

/* ---- declaration ----------------------------------------------------------------------------- */

static int append_quoted(cm_buf *b, const char *s, char q)
{
    int rc = cm_buf_append_u8(b, (uint8_t)q);
    for (const char *p = s; rc == 0 && *p; p++) {
        if (*p == q) {
            rc = cm_buf_append_u8(b, (uint8_t)q);
        }
        rc = rc ? rc : cm_buf_append_u8(b, (uint8_t)*p);
    }
    return rc ? rc : cm_buf_append_u8(b, (uint8_t)q);
}

/* ENUM columns sort, group and compare by member index, as MySQL sorts them: each ENUM column
 * is declared with a collation whose name carries its members (hex of each member and a NUL),
 * made on first use by the collation-needed callback below. A value that is no member (the
 * empty string an invalid value is stored as sorts first, as index 0) sorts after the members,
 * by its bytes. */
#define ENUM_COLLATION_PREFIX "tessera_enum_"

static int enum_collation_name(cm_buf *b, const sql_coltype *t)
{
    static const char hexd[] = "0123456789abcdef";
    int rc = cm_buf_printf(b, " COLLATE " ENUM_COLLATION_PREFIX);
    for (uint16_t i = 0; rc == 0 && i < t->nmembers; i++) {
        for (const unsigned char *p = (const unsigned char *)t->members[i]; rc == 0 && *p; p++) {
            char h[2] = {hexd[*p >> 4], hexd[*p & 15]};
            rc = cm_buf_append(b, h, 2);
        }
        rc = rc ? rc : cm_buf_append(b, "00", 2);
    }
    return rc;
}

typedef struct enum_coll {
    uint32_t n;
    char **members;
} enum_coll;

static void enum_coll_free(void *arg)
{
    enum_coll *e = arg;
    for (uint32_t i = 0; i < e->n; i++) {
        free(e->members[i]);
    }
    free(e->members);
    free(e);
}

static uint32_t enum_index(const enum_coll *e, const void *p, int n)
{
    if (n == 0) {
        return 0;
    }
    for (uint32_t i = 0; i < e->n; i++) {
        if (strlen(e->members[i]) == (size_t)n && memcmp(e->members[i], p, (size_t)n) == 0) {
            return i + 1;
        }
    }
    return e->n + 1;
}

static int enum_collate(void *arg, int n1, const void *a, int n2, const void *b)
{
    uint32_t x = enum_index(arg, a, n1), y = enum_index(arg, b, n2);
    if (x != y) {
        return x < y ? -1 : 1;
    }
    int c = memcmp(a, b, (size_t)(n1 < n2 ? n1 : n2));
    return c != 0 ? c : (n1 > n2) - (n1 < n2);
}

static int hexv(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void enum_collation_needed(void *arg, sqlite3 *db, int rep, const char *name)
{
    (void)arg;
    (void)rep;
    size_t plen = strlen(ENUM_COLLATION_PREFIX);
    if (strncmp(name, ENUM_COLLATION_PREFIX, plen) != 0) {
        return;
    }
    const char *h = name + plen;
    size_t hn = strlen(h);
    enum_coll *e = calloc(1, sizeof(*e));
    char *cur = malloc(hn / 2 + 1);
    size_t curn = 0;
    bool ok = e != NULL && cur != NULL && hn % 2 == 0;
    for (size_t i = 0; ok && i < hn; i += 2) {
        int hi = hexv(h[i]), lo = hexv(h[i + 1]);
        ok = hi >= 0 && lo >= 0;
        char ch = (char)(hi * 16 + lo);
        if (ok && ch != '\0') {
            cur[curn++] = ch;
            continue;
        }
        char **m = ok ? realloc(e->members, (e->n + 1) * sizeof(*m)) : NULL;
        char *mem = m ? malloc(curn + 1) : NULL;
        if (m != NULL) {
            e->members = m;
        }
        ok = mem != NULL;
        if (ok) {
            memcpy(mem, cur, curn);
            mem[curn] = '\0';
            e->members[e->n++] = mem;
            curn = 0;
        }
    }
    free(cur);
    if (!ok) {
        if (e != NULL) {
            enum_coll_free(e);
        }
        return; /* SQLite reports the collation as missing */
    }
    if (sqlite3_create_collation_v2(db, name, SQLITE_UTF8, e, enum_collate, enum_coll_free) !=
        SQLITE_OK) {
        enum_coll_free(e);
    }
}

static int vt_declare(sql_vt *v, cm_err *err)
{
    cm_buf sql = CM_BUF_INIT;
    int rc = cm_buf_printf(&sql, "CREATE TABLE x(");
    for (uint32_t k = 0; rc == 0 && k < v->nvis; k++) {
        const sql_cat_col *c = v->cols[v->vis[k]].c;
        rc = k ? cm_buf_printf(&sql, ", ") : 0;
        rc = rc ? rc : append_quoted(&sql, c->name, '"');
        rc = rc ? rc : cm_buf_printf(&sql, " %s", sql_type_sqlite_decl(&c->type));
        const char *coll = sql_type_sqlite_collation(&c->type);
        if (coll == NULL && c->type.dtype == CM_DT_STRING) {
            coll = SQL_VT_PAD_COLLATION;
        }
        if (rc == 0 && coll != NULL) {
            rc = cm_buf_printf(&sql, " COLLATE %s", coll);
        } else if (rc == 0 && c->type.dtype == CM_DT_ENUM) {
            rc = enum_collation_name(&sql, &c->type);
        }
        /* No DEFAULT: SQLite 3.40 drops the defaults of a virtual table's declaration and
         * passes NULL for omitted columns; xUpdate applies the catalog's defaults. */
    }
    rc = rc ? rc : cm_buf_printf(&sql, ")");
    rc = rc ? rc : cm_buf_terminate(&sql);
    if (rc != 0) {
        cm_buf_fini(&sql);
        return cm_err_set(err, CM_E_NOMEM, "vtab: out of memory");
    }
    int src = sqlite3_declare_vtab(v->db, (const char *)sql.ptr);
    if (src != SQLITE_OK) {
        rc = cm_err_set(err, CM_E_INTERNAL, "vtab: declaring %s.%s failed: %s (%s)", v->dbname,
                        v->tname, sqlite3_errmsg(v->db), (const char *)sql.ptr);
    }
    cm_buf_fini(&sql);
    return rc;
}

static void vt_free(sql_vt *v)
{
    if (v == NULL) {
        return;
    }
    sql_vt_free_spare(v);
    sql_vt_free_checks(v);
    sql_vt_free_pend(v);
    sql_vt_kept_free(v);
    vt_free_cols(v);
    free(v->dbname);
    free(v->tname);
    cm_buf_fini(&v->key);
    cm_buf_fini(&v->key2);
    cm_buf_fini(&v->val);
    cm_buf_fini(&v->ival);
    cm_buf_fini(&v->nval);
    cm_buf_fini(&v->rowbuf);
    cm_buf_fini(&v->scratch);
    cm_buf_fini(&v->scratch2);
    cm_buf_fini(&v->msg);
    cm_buf_fini(&v->cache_row);
    cm_arena_fini(&v->arena);
    sqlite3_free(v->base.zErrMsg);
    free(v);
}

/* Strips one level of SQL quotes from a module argument ("db", 'db', `db` or bare). */
static char *unquote(const char *a)
{
    size_t n = strlen(a);
    while (n > 0 && (*a == ' ')) {
        a++;
        n--;
    }
    while (n > 0 && a[n - 1] == ' ') {
        n--;
    }
    char q = n >= 2 ? a[0] : 0;
    if ((q == '"' || q == '\'' || q == '`') && a[n - 1] == q) {
        char *out = malloc(n);
        if (!out) {
            return NULL;
        }
        size_t o = 0;
        for (size_t i = 1; i + 1 < n; i++) {
            out[o++] = a[i];
            if (a[i] == q && i + 2 < n && a[i + 1] == q) {
                i++;
            }
        }
        out[o] = 0;
        return out;
    }
    char *out = malloc(n + 1);
    if (out) {
        memcpy(out, a, n);
        out[n] = 0;
    }
    return out;
}

static int vt_connect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out,
                      char **errmsg)
{
    sql_vt_env *env = aux;
    if (argc != 5) {
        *errmsg = sqlite3_mprintf("tessera: USING tessera(\"db\", \"table\") expected");
        return SQLITE_ERROR;
    }
    sql_vt *v = calloc(1, sizeof *v);
    if (!v) {
        return SQLITE_NOMEM;
    }
    v->db = db;
    v->env = env;
    cm_arena_init(&v->arena, 0);
    v->dbname = unquote(argv[3]);
    v->tname = unquote(argv[4]);
    if (!v->dbname || !v->tname) {
        vt_free(v);
        return SQLITE_NOMEM;
    }
    const sql_schema *s = env->schema(env->sess);
    const sql_cat_table *t = s ? sql_schema_table(s, v->dbname, v->tname) : NULL;
    if (t == NULL) {
        *errmsg = sqlite3_mprintf("Table '%s.%s' doesn't exist", v->dbname, v->tname);
        vt_free(v);
        return SQLITE_ERROR;
    }
    v->schema = s;
    v->t = t;
    cm_err err;
    cm_err_clear(&err);
    int rc = vt_build(v, &err);
    rc = rc ? rc : vt_declare(v, &err);
    if (rc != 0) {
        *errmsg = sqlite3_mprintf("%s", err.msg);
        vt_free(v);
        return SQLITE_ERROR;
    }
    sqlite3_vtab_config(db, SQLITE_VTAB_CONSTRAINT_SUPPORT, 1);
    *out = &v->base;
    return SQLITE_OK;
}

static int vt_disconnect(sqlite3_vtab *vtab)
{
    vt_free((sql_vt *)vtab);
    return SQLITE_OK;
}

/* Transaction callbacks: SQLite calls them around each writing statement (it is always in
 * autocommit; the session owns the real transaction). xBegin must exist for SQLite to call
 * xSync, the one callback whose error fails the statement (xCommit's is ignored): it flushes
 * the INSERT rows kept for a batched check. */
static int vt_begin(sqlite3_vtab *vtab)
{
    sql_vt *v = (sql_vt *)vtab;
    v->writing = true; /* its scans keep the rows they read for xUpdate */
    sql_vt_kept_clear(v);
    return SQLITE_OK;
}
static int vt_sync(sqlite3_vtab *vtab)
{
    return sql_vt_flush((sql_vt *)vtab);
}
static int vt_commit(sqlite3_vtab *vtab)
{
    sql_vt *v = (sql_vt *)vtab;
    sql_vt_drop_pending(v); /* empty after xSync */
    v->writing = false;
    sql_vt_kept_clear(v);
    return SQLITE_OK;
}
static int vt_rollback(sqlite3_vtab *vtab)
{
    sql_vt *v = (sql_vt *)vtab;
    sql_vt_drop_pending(v);
    v->writing = false;
    sql_vt_kept_clear(v);
    return SQLITE_OK;
}

static const sqlite3_module vt_module = {
    .iVersion = 2,
    .xCreate = vt_connect,
    .xConnect = vt_connect,
    .xBestIndex = sql_vt_best_index,
    .xDisconnect = vt_disconnect,
    .xDestroy = vt_disconnect, /* DROP of a declaration never touches storage */
    .xOpen = sql_vt_open,
    .xClose = sql_vt_close,
    .xFilter = sql_vt_filter,
    .xNext = sql_vt_next,
    .xEof = sql_vt_eof,
    .xColumn = sql_vt_column,
    .xRowid = sql_vt_rowid,
    .xUpdate = sql_vt_update,
    .xBegin = vt_begin,
    .xSync = vt_sync,
    .xCommit = vt_commit,
    .xRollback = vt_rollback,
};

/* utf8mb4_bin is PAD SPACE: trailing spaces do not count ('a' = 'a  ', 'a\t' < 'a'), exactly
 * the order of the string keys (cm_codec_string_cmp), so SQLite's re-checks, ORDER BY, GROUP BY
 * and DISTINCT agree with MySQL and with the index order the module reports as consumed. */
static int pad_collate(void *arg, int n1, const void *a, int n2, const void *b)
{
    (void)arg;
    return cm_codec_string_cmp(cm_slice_make(a, (size_t)n1), cm_slice_make(b, (size_t)n2));
}

int sql_vt_register(sqlite3 *db, sql_vt_env *env, cm_err *err)
{
    int rc =
        sqlite3_create_collation_v2(db, SQL_VT_PAD_COLLATION, SQLITE_UTF8, NULL, pad_collate, NULL);
    if (rc != SQLITE_OK) {
        return cm_err_set(err, CM_E_INTERNAL, "registering collation %s: %s", SQL_VT_PAD_COLLATION,
                          sqlite3_errmsg(db));
    }
    rc = sqlite3_create_collation_v2(db, SQL_TYPE_DECIMAL_COLLATION, SQLITE_UTF8, NULL,
                                     sql_type_decimal_collate, NULL);
    if (rc != SQLITE_OK) {
        return cm_err_set(err, CM_E_INTERNAL, "registering collation %s: %s",
                          SQL_TYPE_DECIMAL_COLLATION, sqlite3_errmsg(db));
    }
    sqlite3_collation_needed(db, NULL, enum_collation_needed);
    rc = sqlite3_create_module_v2(db, "tessera", &vt_module, env, NULL);
    if (rc != SQLITE_OK) {
        return cm_err_set(err, CM_E_INTERNAL, "registering module tessera: %s", sqlite3_errmsg(db));
    }
    return 0;
}
