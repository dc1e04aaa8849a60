/* sql_decl.c — how MySQL tables become SQLite virtual tables in a session (docs/sql-layer.md
 * "Naming tables in SQLite"): a snapshot of the schema per statement, lazy declaration when
 * SQLite reports a table missing, an in-memory schema ATTACHed per other database (LRU at
 * SQLite's limit of 10), everything dropped when the schema version moves, and result metadata
 * from the catalog's column types. */
#include "sql_session_int.h"

#include "../mysql/sql_my_const.h"
#include "cm_log.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Runs our own SQL on the session's connection (the authorizer lets it through). */
static int run_own(sql_sess *s, const char *sql, cm_err *err)
{
    s->declaring = 1;
    char *msg = NULL;
    int lrc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
    s->declaring = 0;
    if (lrc != SQLITE_OK) {
        int rc = cm_err_set(err, lrc == SQLITE_NOMEM ? CM_E_NOMEM : CM_E_INTERNAL,
                            "declaring a table: %s", msg ? msg : sqlite3_errstr(lrc));
        sqlite3_free(msg);
        return rc;
    }
    return 0;
}

/* Appends name as a double-quoted SQLite identifier. */
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

void sql_decl_drop_all(sql_sess *s)
{
    if (s->db == NULL) {
        return;
    }
    /* main holds only our virtual tables: drop each (xDestroy leaves storage alone). */
    cm_buf names = CM_BUF_INIT;
    sqlite3_stmt *st = NULL;
    uint32_t count = 0;
    s->declaring = 1;
    if (sqlite3_prepare_v2(s->db, "SELECT name FROM main.sqlite_schema WHERE type='table'", -1, &st,
                           NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *n = (const char *)sqlite3_column_text(st, 0);
            if (n != NULL && cm_buf_append(&names, n, strlen(n) + 1) == 0) {
                count++;
            }
        }
    }
    sqlite3_finalize(st);
    s->declaring = 0;
    const char *p = (const char *)names.ptr;
    for (uint32_t i = 0; i < count; i++) {
        cm_buf sql = CM_BUF_INIT;
        cm_err err;
        if (cm_buf_printf(&sql, "DROP TABLE main.") == 0 && append_qid(&sql, p) == 0 &&
            cm_buf_terminate(&sql) == 0 && run_own(s, (const char *)sql.ptr, &err) != 0) {
            CM_WARN("sql", "conn=%llu: %s", (unsigned long long)s->id, err.msg);
        }
        cm_buf_fini(&sql);
        p += strlen(p) + 1;
    }
    cm_buf_fini(&names);
    /* Attached schemas hold nothing else: detaching drops their declarations. */
    for (uint32_t i = 0; i < s->nattached; i++) {
        cm_buf sql = CM_BUF_INIT;
        cm_err err;
        if (cm_buf_printf(&sql, "DETACH ") == 0 && append_qid(&sql, s->attached[i]) == 0 &&
            cm_buf_terminate(&sql) == 0 && run_own(s, (const char *)sql.ptr, &err) != 0) {
            CM_WARN("sql", "conn=%llu: %s", (unsigned long long)s->id, err.msg);
        }
        cm_buf_fini(&sql);
    }
    s->nattached = 0;
}

void sql_decl_stmt_begin(sql_sess *s)
{
    sql_catalog *cat = s->env->cat;
    if (cat == NULL) {
        return;
    }
    if (s->txn != NULL && s->schema != NULL && sql_schema_version(s->schema) == s->txn_schema_ver) {
        /* An open transaction keeps the schema it began with (as TiDB does): its reads at its
         * start_ts must not use an index made public after that snapshot (the backfill's entries
         * are newer than start_ts), and its writes follow one schema version; the commit-time
         * check refuses it (1213) if a table it wrote moved meanwhile. */
        return;
    }
    sql_schema *snap = sql_cat_acquire(cat);
    uint64_t v = snap != NULL ? sql_schema_version(snap) : 0;
    if (v != s->decl_ver) {
        /* Declarations carry the old columns and indexes (and borrow the old snapshot: they go
         * before it is released): drop them; statements that name them re-prepare and
         * declare again (sql_decl_after_step). */
        if (s->decl_ver != 0) {
            sql_decl_drop_all(s);
        }
        s->decl_ver = v;
    }
    if (s->schema != NULL) {
        sql_schema_release(s->schema);
    }
    s->schema = snap;
}

/* Makes sure SQLite schema `db` exists (ATTACH ':memory:'), detaching the least recently used
 * one when SQL_ATTACH_MAX are attached. */
static int ensure_attached(sql_sess *s, const char *db, cm_err *err)
{
    for (uint32_t i = 0; i < s->nattached; i++) {
        if (strcasecmp(s->attached[i], db) == 0) {
            s->attached_used[i] = ++s->attach_clock;
            return 0;
        }
    }
    if (strlen(db) >= SQL_DB_MAX) {
        return cm_err_set(err, CM_E_BAD_DB, "Incorrect database name '%.64s'", db);
    }
    int rc;
    if (s->nattached == SQL_ATTACH_MAX) {
        uint32_t lru = 0;
        for (uint32_t i = 1; i < s->nattached; i++) {
            if (s->attached_used[i] < s->attached_used[lru]) {
                lru = i;
            }
        }
        cm_buf sql = CM_BUF_INIT;
        rc = cm_buf_printf(&sql, "DETACH ") == 0 && append_qid(&sql, s->attached[lru]) == 0 &&
                     cm_buf_terminate(&sql) == 0
                 ? run_own(s, (const char *)sql.ptr, err)
                 : cm_err_set(err, CM_E_NOMEM, "out of memory");
        cm_buf_fini(&sql);
        if (rc != 0) {
            return rc;
        }
        s->nattached--;
        if (lru != s->nattached) {
            memcpy(s->attached[lru], s->attached[s->nattached], SQL_DB_MAX);
            s->attached_used[lru] = s->attached_used[s->nattached];
        }
    }
    cm_buf sql = CM_BUF_INIT;
    rc = cm_buf_printf(&sql, "ATTACH ':memory:' AS ") == 0 && append_qid(&sql, db) == 0 &&
                 cm_buf_terminate(&sql) == 0
             ? run_own(s, (const char *)sql.ptr, err)
             : cm_err_set(err, CM_E_NOMEM, "out of memory");
    cm_buf_fini(&sql);
    if (rc != 0) {
        return rc;
    }
    snprintf(s->attached[s->nattached], SQL_DB_MAX, "%s", db);
    s->attached_used[s->nattached] = ++s->attach_clock;
    s->nattached++;
    return 0;
}

/* Declares table `name` of database `db` in SQLite schema `schema` ("main" or db). */
static int declare(sql_sess *s, const char *schema, const char *db, const char *name, cm_err *err)
{
    if (sql_is_db(db)) { /* information_schema (sqlnode/infoschema) */
        cm_buf sql = CM_BUF_INIT;
        int rc = strcmp(schema, "main") != 0 ? ensure_attached(s, schema, err) : 0;
        if (rc == 0) {
            rc = sql_is_declare_sql(schema, name, &sql, err);
        }
        if (rc == 0) {
            rc = run_own(s, (const char *)sql.ptr, err);
        }
        cm_buf_fini(&sql);
        return rc;
    }
    if (s->schema == NULL || sql_schema_table(s->schema, db, name) == NULL) {
        if (sql_priv_missing_table(s, db, name, err) != 0) {
            return CM_E_TABLE_ACCESS_DENIED;
        }
        return cm_err_set(err, CM_E_NO_SUCH_TABLE, "Table '%.64s.%.64s' doesn't exist", db, name);
    }
    int rc = 0;
    if (strcmp(schema, "main") != 0) {
        rc = ensure_attached(s, schema, err);
        if (rc != 0) {
            return rc;
        }
    }
    cm_buf sql = CM_BUF_INIT;
    if (cm_buf_printf(&sql, "CREATE VIRTUAL TABLE ") != 0 || append_qid(&sql, schema) != 0 ||
        cm_buf_append_u8(&sql, '.') != 0 || append_qid(&sql, name) != 0 ||
        cm_buf_printf(&sql, " USING tessera(") != 0 || append_qid(&sql, db) != 0 ||
        cm_buf_append(&sql, ", ", 2) != 0 || append_qid(&sql, name) != 0 ||
        cm_buf_append_u8(&sql, ')') != 0 || cm_buf_terminate(&sql) != 0) {
        rc = cm_err_set(err, CM_E_NOMEM, "out of memory");
    } else {
        rc = run_own(s, (const char *)sql.ptr, err);
    }
    cm_buf_fini(&sql);
    return rc;
}

/* If SQLite's last error is "no such table: [db.]t", declares t: 1 done (prepare again), 0 not
 * that error, or an error. Also when the authorizer refused an unqualified name SQLite found
 * in an ATTACHed schema (s->unqual): the current database's table, declared in main (which
 * SQLite searches before the ATTACHed schemas), or 1146. */
static int declare_missing(sql_sess *s, cm_err *err)
{
    if (s->env->cat == NULL) {
        return 0;
    }
    if (s->unqual[0] != '\0') {
        if (!s->has_db) {
            return cm_err_set(err, CM_E_NO_DB, "No database selected");
        }
        char table[sizeof(s->unqual)];
        snprintf(table, sizeof(table), "%s", s->unqual);
        s->unqual[0] = '\0';
        int rc = declare(s, "main", s->dbname, table, err);
        return rc == 0 ? 1 : rc;
    }
    const char *msg = sqlite3_errmsg(s->db);
    static const char prefix[] = "no such table: ";
    const char *p = strstr(msg, prefix);
    if (p == NULL) {
        return 0;
    }
    p += sizeof(prefix) - 1;
    char name[2 * SQL_DB_MAX];
    snprintf(name, sizeof(name), "%s", p);
    char *dot = strchr(name, '.');
    const char *db, *table, *schema;
    if (dot != NULL) {
        *dot = '\0';
        db = name;
        table = dot + 1;
        if (strcasecmp(db, "main") == 0 || strcasecmp(db, "temp") == 0) {
            /* SQLite's own schema names: a MySQL database of that name is not reachable with
             * a qualified name (docs/sql-layer.md). */
            return cm_err_set(err, CM_E_NO_SUCH_TABLE, "Table '%.64s.%.64s' doesn't exist", db,
                              table);
        }
        schema = db;
    } else {
        if (!s->has_db) {
            return cm_err_set(err, CM_E_NO_DB, "No database selected");
        }
        db = s->dbname;
        table = name;
        schema = "main";
    }
    int rc = declare(s, schema, db, table, err);
    return rc == 0 ? 1 : rc;
}

/* Reads one identifier at p (bare, "…" or `…`) into out (lower case); returns its end or NULL. */
static const char *ident_at(const char *p, const char *end, char *out, size_t cap)
{
    size_t n = 0;
    if (p < end && (*p == '"' || *p == '`')) {
        char q = *p++;
        while (p < end) {
            if (*p == q) {
                if (p + 1 < end && p[1] == q) {
                    p++;
                } else {
                    break;
                }
            }
            if (n + 1 < cap) {
                out[n++] = (char)tolower((unsigned char)*p);
            }
            p++;
        }
        if (p >= end) {
            return NULL;
        }
        out[n] = '\0';
        return p + 1;
    }
    while (p < end && (isalnum((unsigned char)*p) || *p == '_' || *p == '$' || (*p & 0x80))) {
        if (n + 1 < cap) {
            out[n++] = (char)tolower((unsigned char)*p);
        }
        p++;
    }
    out[n] = '\0';
    return n > 0 ? p : NULL;
}

static const char *skip_space(const char *p, const char *end)
{
    while (p < end && isspace((unsigned char)*p)) {
        p++;
    }
    return p;
}

int sql_decl_names_qualified(const sql_sess *s, const char *db, const char *table)
{
    const char *p = s->prep_sql, *end = s->prep_sql + s->prep_len;
    char a[2 * SQL_DB_MAX], b[2 * SQL_DB_MAX];
    while (p < end) {
        const char *e = ident_at(p, end, a, sizeof(a));
        if (e == NULL) {
            p++;
            continue;
        }
        if (strcasecmp(a, db) == 0) {
            const char *q = skip_space(e, end);
            if (q < end && *q == '.') {
                q = skip_space(q + 1, end);
                if (ident_at(q, end, b, sizeof(b)) != NULL && strcasecmp(b, table) == 0) {
                    return 1;
                }
            }
        }
        p = e;
    }
    return 0;
}

int sql_decl_prepare(sql_sess *s, const char *sql, int len, unsigned flags, sqlite3_stmt **out,
                     const char **tail, cm_err *err)
{
    *out = NULL;
    for (int round = 0; round < SQL_DECL_ROUNDS_MAX; round++) {
        s->denied[0] = '\0';
        s->unqual[0] = '\0';
        s->fn_err.code = 0;
        s->prep_sql = sql;
        s->prep_len = len >= 0 ? len : (int)strlen(sql);
        int lrc = sqlite3_prepare_v3(s->db, sql, len, flags, out, tail);
        s->prep_sql = NULL;
        if (lrc == SQLITE_OK) {
            return 0;
        }
        *out = NULL;
        int rc = declare_missing(s, err);
        if (rc < 0) {
            return rc;
        }
        if (rc == 0) {
            return sql_exec_sqlite_error(s, lrc, err);
        }
    }
    return cm_err_set(err, CM_E_UNSUPPORTED, "a statement may name at most %d tables",
                      SQL_DECL_ROUNDS_MAX);
}

int sql_decl_after_step(sql_sess *s, cm_err *err)
{
    return declare_missing(s, err);
}

int sql_decl_column(sql_sess *s, sqlite3_stmt *st, int i, sql_column *c)
{
    if (s->schema == NULL) {
        return 0;
    }
    const char *tname = sqlite3_column_table_name(st, i);
    const char *oname = sqlite3_column_origin_name(st, i);
    const char *schema = sqlite3_column_database_name(st, i);
    if (tname == NULL || oname == NULL || schema == NULL) {
        return 0;
    }
    const char *db = schema;
    if (strcmp(schema, "main") == 0) {
        if (!s->has_db) {
            return 0;
        }
        db = s->dbname;
    }
    if (sql_is_db(db)) {
        return sql_is_column_meta(tname, oname, c) ? 1 : 0;
    }
    const sql_cat_table *t = sql_schema_table(s->schema, db, tname);
    const sql_cat_col *col = t ? sql_table_col(t, oname) : NULL;
    if (col == NULL) {
        return 0;
    }
    *c = sql_decl_col_meta(t, col, c->name, c->name_len);
    return 1;
}

sql_column sql_decl_col_meta(const sql_cat_table *t, const sql_cat_col *col, const char *name,
                             size_t name_len)
{
    uint16_t kf = 0;
    if (t->handle_col >= 0 && (uint32_t)t->handle_col == col->offset) {
        kf |= SQL_FLAG_PRI_KEY | SQL_FLAG_PART_KEY;
    }
    for (uint32_t k = 0; k < t->nindexes; k++) {
        const sql_cat_index *ix = &t->indexes[k];
        if (ix->state != SQL_OBJ_PUBLIC || ix->ncols == 0) {
            continue;
        }
        for (uint32_t j = 0; j < ix->ncols; j++) {
            kf |= ix->cols[j] == col->offset ? SQL_FLAG_PART_KEY : 0; /* in some key */
        }
        if (ix->primary) {
            for (uint32_t j = 0; j < ix->ncols; j++) {
                kf |= ix->cols[j] == col->offset ? SQL_FLAG_PRI_KEY : 0;
            }
        } else if (ix->cols[0] == col->offset) {
            kf |= ix->unique && ix->ncols == 1 ? SQL_FLAG_UNIQUE_KEY : SQL_FLAG_MULTIPLE_KEY;
        }
    }
    int not_null = col->not_null || (kf & SQL_FLAG_PRI_KEY) != 0;
    sql_column d = sql_type_column(&col->type, name, not_null, kf);
    d.name = name;
    d.name_len = name_len;
    if (col->auto_inc) {
        d.flags |= SQL_FLAG_AUTO_INCREMENT;
    }
    if (!col->has_default && !col->auto_inc) {
        d.flags |= SQL_FLAG_NO_DEFAULT; /* MySQL's NO_DEFAULT_VALUE_FLAG */
    }
    if (d.type == SQL_TYPE_TIMESTAMP) {
        d.flags |= SQL_FLAG_UNSIGNED; /* MySQL's Field_timestamp sets it (Connector/J: unsigned) */
    }
    return d;
}
