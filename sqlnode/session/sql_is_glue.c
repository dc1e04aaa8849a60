/* sql_is_glue.c — the session's side of information_schema (sqlnode/infoschema): registering
 * the module, and the SHOW statements answered by running a SELECT over its tables
 * (docs/sql-layer.md "information_schema"). */
#include "sql_session_int.h"

#include "sql_infoschema.h"
#include "sql_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const sql_schema *is_schema_cb(void *sess)
{
    return ((sql_sess *)sess)->schema;
}

static int is_processlist_cb(void *sess, sql_sink *sink, cm_err *err)
{
    sql_sess *s = sess;
    if (s->env->processlist == NULL) {
        return 0;
    }
    return s->env->processlist(s->env->user, s, 1, sink, err);
}

static bool is_visible_cb(void *sess, const char *db, const char *table)
{
    return sql_priv_visible(sess, db, table);
}

static const char *is_user_cb(void *sess)
{
    return ((sql_sess *)sess)->user;
}

/* tessera_show_like(pattern, value): the LIKE of SHOW statements (sql_show_like: % and _,
 * backslash escapes, ASCII case-insensitive), for the SHOWs run as queries here. */
static void fn_show_like(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const char *p = (const char *)sqlite3_value_text(argv[0]);
    int pn = sqlite3_value_bytes(argv[0]);
    const char *v = (const char *)sqlite3_value_text(argv[1]);
    int vn = sqlite3_value_bytes(argv[1]);
    if (p == NULL || v == NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    sqlite3_result_int(ctx, sql_show_like(p, (size_t)pn, v, (size_t)vn));
}

int sql_isg_setup(sql_sess *s, cm_err *err)
{
    if (sqlite3_create_function(s->db, "tessera_show_like", 2,
                                SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
                                fn_show_like, NULL, NULL) != SQLITE_OK) {
        return cm_err_set(err, CM_E_INTERNAL, "registering tessera_show_like failed");
    }
    memset(&s->is, 0, sizeof(s->is));
    s->is.sess = s;
    s->is.cat = s->env->cat;
    s->is.schema = is_schema_cb;
    s->is.processlist = is_processlist_cb;
    s->is.user = is_user_cb;
    s->is.visible = is_visible_cb;
    s->is.err = &s->fn_err;
    return sql_is_register(s->db, &s->is, err);
}

/* ---- SHOW over information_schema ---- */

/* Runs a MySQL query text of our own as the statement's result. */
static int run_text(sql_sess *s, const char *sql, size_t len, sql_sink *sink, int more, cm_err *err)
{
    sql_tokens toks;
    sql_tokens_init(&toks);
    int rc = sql_lex(sql, len, 0, &toks, err);
    sqlite3_stmt *st = NULL;
    if (rc == 0) {
        rc = sql_exec_prepare(s, sql, toks.v, toks.n, &st, err);
    }
    if (rc == 0) {
        s->ins_target = NULL;
        s->ins_target_len = 0;
        rc = sql_exec_run(s, st, s->tr.items, s->tr.nitems, sink, more, 0, err);
    }
    sqlite3_finalize(st);
    sql_tokens_fini(&toks);
    return rc;
}

/* Appends a MySQL string literal (single quotes, quotes and backslashes escaped). */
static void put_lit(cm_buf *b, const char *p, size_t n)
{
    cm_buf_append_u8(b, '\'');
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\'' || p[i] == '\\') {
            cm_buf_append_u8(b, '\\');
        }
        cm_buf_append_u8(b, (uint8_t)p[i]);
    }
    cm_buf_append_u8(b, '\'');
}

static int syntax(const char *src, const sql_token *t, uint32_t n, uint32_t i, cm_err *err)
{
    return cm_err_set(err, CM_E_PARSE,
                      "You have an error in your SQL syntax; check the manual that corresponds to "
                      "your MySQL server version for the right syntax to use near '%.*s' at line 1",
                      i < n ? (int)(t[i].len > 60 ? 60 : t[i].len) : 0,
                      i < n ? src + t[i].off : "");
}

/* The tail t[f, n): nothing, LIKE 'pat' or WHERE expr, appended as a filter on column `col`
 * (LIKE) of a query that already has a WHERE (so: " AND …"). The WHERE expression is copied as
 * text: it names the SHOW's column aliases, so the query is wrapped (see callers). */
static int filter_tail(const char *src, const sql_token *t, uint32_t n, uint32_t f, const char *col,
                       cm_buf *like, cm_buf *where, cm_err *err)
{
    if (f == n) {
        return 0;
    }
    if (sql_tok_is(src, &t[f], "LIKE") && f + 2 == n && t[f + 1].type == SQL_TK_STRING) {
        cm_buf pat = CM_BUF_INIT;
        if (sql_tok_string(src, &t[f + 1], SQL_MODE_NO_BACKSLASH_ESCAPES, &pat) != 0) {
            cm_buf_fini(&pat);
            return cm_err_set(err, CM_E_NOMEM, "out of memory");
        }
        cm_buf_printf(like, " AND tessera_show_like(");
        put_lit(like, pat.ptr ? (const char *)pat.ptr : "", pat.len);
        cm_buf_printf(like, ", %s)", col);
        cm_buf_fini(&pat);
        return 0;
    }
    if (sql_tok_is(src, &t[f], "WHERE") && f + 1 < n) {
        size_t a = t[f + 1].off, z = t[n - 1].off + t[n - 1].len;
        cm_buf_printf(where, " WHERE %.*s", (int)(z - a), src + a);
        return 0;
    }
    return syntax(src, t, n, f, err);
}

/* SHOW [FULL] TABLES {FROM|IN} information_schema … (or with information_schema current). */
static int show_is_tables(sql_sess *s, const char *src, const sql_token *t, uint32_t n, uint32_t f,
                          bool full, sql_sink *sink, int more, cm_err *err)
{
    cm_buf like = CM_BUF_INIT, where = CM_BUF_INIT, q = CM_BUF_INIT, title = CM_BUF_INIT;
    int rc = filter_tail(src, t, n, f, "TABLE_NAME", &like, &where, err);
    /* The column is `Tables_in_information_schema (<pattern>)` with LIKE, as in MySQL. */
    cm_buf_printf(&title, "Tables_in_information_schema");
    if (rc == 0 && like.len > 0) {
        cm_buf pat = CM_BUF_INIT;
        if (sql_tok_string(src, &t[f + 1], SQL_MODE_NO_BACKSLASH_ESCAPES, &pat) == 0) {
            cm_buf_printf(&title, " (%.*s)", (int)pat.len, pat.ptr ? (const char *)pat.ptr : "");
        }
        cm_buf_fini(&pat);
    }
    for (size_t k = 0; k < title.len; k++) {
        if (title.ptr[k] == '`') {
            title.ptr[k] = '\'';
        }
    }
    if (rc == 0) {
        cm_buf_printf(&q,
                      "SELECT * FROM (SELECT TABLE_NAME AS `%.*s`%s "
                      "FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
                      "'information_schema'%.*s) AS t%.*s ORDER BY 1",
                      (int)title.len, (const char *)title.ptr,
                      full ? ", TABLE_TYPE AS `Table_type`" : "", (int)like.len,
                      like.ptr ? (const char *)like.ptr : "", (int)where.len,
                      where.ptr ? (const char *)where.ptr : "");
        rc = run_text(s, (const char *)q.ptr, q.len, sink, more, err);
    }
    cm_buf_fini(&like);
    cm_buf_fini(&where);
    cm_buf_fini(&q);
    cm_buf_fini(&title);
    return rc;
}

/* SHOW OPEN TABLES [{FROM|IN} db] [LIKE|WHERE]: every table of the database(s) (no table cache:
 * In_use counts this session's LOCK TABLES). */
static int show_open_tables(sql_sess *s, const char *src, const sql_token *t, uint32_t n,
                            uint32_t f, sql_sink *sink, int more, cm_err *err)
{
    cm_buf db = CM_BUF_INIT, like = CM_BUF_INIT, where = CM_BUF_INIT, q = CM_BUF_INIT;
    int rc = 0;
    if (f + 1 < n && (sql_tok_is(src, &t[f], "FROM") || sql_tok_is(src, &t[f], "IN"))) {
        if (sql_tok_name(src, &t[f + 1], &db) != 0 || cm_buf_terminate(&db) != 0) {
            rc = cm_err_set(err, CM_E_NOMEM, "out of memory");
        }
        f += 2;
    }
    if (rc == 0) {
        rc = filter_tail(src, t, n, f, "TABLE_NAME", &like, &where, err);
    }
    if (rc == 0) {
        cm_buf_printf(&q, "SELECT * FROM (SELECT TABLE_SCHEMA AS `Database`, TABLE_NAME AS "
                          "`Table`, 0 AS `In_use`, 0 AS `Name_locked` FROM "
                          "information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE'");
        if (db.len > 0) {
            cm_buf_printf(&q, " AND TABLE_SCHEMA = ");
            put_lit(&q, (const char *)db.ptr, strlen((const char *)db.ptr));
        }
        cm_buf_printf(&q, "%.*s) AS t%.*s ORDER BY 1, 2", (int)like.len,
                      like.ptr ? (const char *)like.ptr : "", (int)where.len,
                      where.ptr ? (const char *)where.ptr : "");
        rc = run_text(s, (const char *)q.ptr, q.len, sink, more, err);
    }
    cm_buf_fini(&db);
    cm_buf_fini(&like);
    cm_buf_fini(&where);
    cm_buf_fini(&q);
    return rc;
}

/* SHOW [FULL] COLUMNS|FIELDS FROM <information_schema table> [FROM information_schema]. */
static int show_is_columns(sql_sess *s, const char *table, bool full, const char *src,
                           const sql_token *t, uint32_t n, uint32_t f, sql_sink *sink, int more,
                           cm_err *err)
{
    cm_buf like = CM_BUF_INIT, where = CM_BUF_INIT, q = CM_BUF_INIT;
    int rc = filter_tail(src, t, n, f, "COLUMN_NAME", &like, &where, err);
    if (rc == 0) {
        cm_buf_printf(&q,
                      "SELECT * FROM (SELECT COLUMN_NAME AS `Field`, COLUMN_TYPE AS `Type`%s, "
                      "IS_NULLABLE AS `Null`, COLUMN_KEY AS `Key`, COLUMN_DEFAULT AS "
                      "`Default`, EXTRA AS `Extra`%s FROM information_schema.COLUMNS WHERE "
                      "TABLE_SCHEMA = 'information_schema' AND TABLE_NAME = ",
                      full ? ", COLLATION_NAME AS `Collation`" : "",
                      full ? ", PRIVILEGES AS `Privileges`, COLUMN_COMMENT AS `Comment`" : "");
        /* the table's own spelling: TABLE_NAME compares as written */
        for (uint32_t k = 0; k < sql_is_ntables(); k++) {
            if (strcasecmp(sql_is_table_name(k), table) == 0) {
                table = sql_is_table_name(k);
            }
        }
        put_lit(&q, table, strlen(table));
        cm_buf_printf(&q, "%.*s ORDER BY ORDINAL_POSITION) AS t%.*s", (int)like.len,
                      like.ptr ? (const char *)like.ptr : "", (int)where.len,
                      where.ptr ? (const char *)where.ptr : "");
        rc = run_text(s, (const char *)q.ptr, q.len, sink, more, err);
    }
    cm_buf_fini(&like);
    cm_buf_fini(&where);
    cm_buf_fini(&q);
    return rc;
}

/* A sink that keeps the first column of the first row as an integer. */
typedef struct count_sink {
    sql_sink sink;
    int64_t v;
    bool have;
} count_sink;

static int cs_columns(sql_sink *sink, const sql_column *cols, int ncols)
{
    (void)sink;
    (void)cols;
    (void)ncols;
    return 0;
}

static int cs_row(sql_sink *sink, const sql_value *v, int ncols)
{
    count_sink *c = (count_sink *)sink;
    if (ncols > 0 && !c->have) {
        c->v = v[0].type == SQL_V_UINT  ? (int64_t)v[0].u
               : v[0].type == SQL_V_INT ? v[0].i
                                        : strtoll(v[0].s ? v[0].s : "0", NULL, 10);
        c->have = true;
    }
    return 0;
}

static int cs_done(sql_sink *sink, const sql_done *d)
{
    (void)sink;
    (void)d;
    return 0;
}

static void put_qid(cm_buf *b, const char *p)
{
    cm_buf_append_u8(b, '`');
    for (; *p; p++) {
        if (*p == '`') {
            cm_buf_append_u8(b, '`');
        }
        cm_buf_append_u8(b, (uint8_t)*p);
    }
    cm_buf_append_u8(b, '`');
}

/* SHOW TABLE STATUS [{FROM|IN} db] [LIKE 'pat' | WHERE expr]: information_schema.TABLES with
 * MySQL's SHOW column names, Rows counted exactly (one COUNT(*) per table: there are no
 * statistics to estimate from). */
static int show_table_status(sql_sess *s, const char *src, const sql_token *t, uint32_t n,
                             uint32_t f, sql_sink *sink, int more, cm_err *err)
{
    cm_buf dbn = CM_BUF_INIT, like = CM_BUF_INIT, where = CM_BUF_INIT, q = CM_BUF_INIT;
    cm_buf pat = CM_BUF_INIT, cnt = CM_BUF_INIT;
    int rc = 0;
    if (f + 1 < n && (sql_tok_is(src, &t[f], "FROM") || sql_tok_is(src, &t[f], "IN"))) {
        if (sql_tok_name(src, &t[f + 1], &dbn) != 0 || cm_buf_terminate(&dbn) != 0) {
            rc = cm_err_set(err, CM_E_NOMEM, "out of memory");
        }
        f += 2;
    } else if (s->has_db) {
        cm_buf_printf(&dbn, "%s", s->dbname);
        cm_buf_terminate(&dbn);
    } else {
        rc = cm_err_set(err, CM_E_NO_DB, "No database selected");
    }
    const char *db = (const char *)dbn.ptr;
    const sql_cat_db *cd = NULL;
    if (rc == 0 && !sql_is_db(db) &&
        (s->schema == NULL || (cd = sql_schema_db(s->schema, db)) == NULL)) {
        rc = cm_err_set(err, CM_E_BAD_DB, "Unknown database '%.64s'", db);
    }
    if (rc == 0) {
        rc = filter_tail(src, t, n, f, "TABLE_NAME", &like, &where, err);
    }
    bool have_like = rc == 0 && like.len > 0;
    if (have_like && sql_tok_string(src, &t[f + 1], SQL_MODE_NO_BACKSLASH_ESCAPES, &pat) != 0) {
        rc = cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    /* Exact row counts of the tables the LIKE lets through. */
    cm_buf_printf(&cnt, "NULL");
    uint32_t nt = cd != NULL ? sql_schema_ntables(s->schema, cd) : 0;
    if (rc == 0 && nt > 0) {
        cm_buf_reset(&cnt);
        cm_buf_printf(&cnt, "CASE TABLE_NAME");
    }
    for (uint32_t i = 0; rc == 0 && i < nt; i++) {
        const sql_cat_table *ct = sql_schema_table_at(s->schema, cd, i);
        if (have_like && !sql_show_like(pat.ptr ? (const char *)pat.ptr : "", pat.len, ct->name,
                                        strlen(ct->name))) {
            continue;
        }
        cm_buf cq = CM_BUF_INIT;
        cm_buf_printf(&cq, "SELECT COUNT(*) FROM ");
        put_qid(&cq, cd->name);
        cm_buf_append_u8(&cq, '.');
        put_qid(&cq, ct->name);
        count_sink cs = {{cs_columns, cs_row, cs_done}, 0, false};
        rc = cm_buf_terminate(&cq) != 0
                 ? cm_err_set(err, CM_E_NOMEM, "out of memory")
                 : run_text(s, (const char *)cq.ptr, cq.len, &cs.sink, 0, err);
        cm_buf_fini(&cq);
        if (rc == 0) {
            cm_buf_printf(&cnt, " WHEN ");
            put_lit(&cnt, ct->name, strlen(ct->name));
            cm_buf_printf(&cnt, " THEN %lld", (long long)cs.v);
        }
    }
    if (rc == 0 && nt > 0) {
        cm_buf_printf(&cnt, " END");
    }
    if (rc == 0) {
        cm_buf_printf(&q,
                      "SELECT * FROM (SELECT TABLE_NAME AS `Name`, ENGINE AS `Engine`, VERSION "
                      "AS `Version`, ROW_FORMAT AS `Row_format`, %.*s AS `Rows`, "
                      "AVG_ROW_LENGTH AS `Avg_row_length`, DATA_LENGTH AS `Data_length`, "
                      "MAX_DATA_LENGTH AS `Max_data_length`, INDEX_LENGTH AS "
                      "`Index_length`, DATA_FREE AS `Data_free`, AUTO_INCREMENT AS "
                      "`Auto_increment`, CREATE_TIME AS `Create_time`, UPDATE_TIME AS "
                      "`Update_time`, CHECK_TIME AS `Check_time`, TABLE_COLLATION AS "
                      "`Collation`, CHECKSUM AS `Checksum`, CREATE_OPTIONS AS "
                      "`Create_options`, TABLE_COMMENT AS `Comment` FROM "
                      "information_schema.TABLES WHERE TABLE_SCHEMA = ",
                      (int)cnt.len, (const char *)cnt.ptr);
        put_lit(&q, db, strlen(db));
        cm_buf_printf(&q, "%.*s) AS t%.*s ORDER BY 1", (int)like.len,
                      like.ptr ? (const char *)like.ptr : "", (int)where.len,
                      where.ptr ? (const char *)where.ptr : "");
        rc = run_text(s, (const char *)q.ptr, q.len, sink, more, err);
    }
    cm_buf_fini(&dbn);
    cm_buf_fini(&like);
    cm_buf_fini(&where);
    cm_buf_fini(&q);
    cm_buf_fini(&pat);
    cm_buf_fini(&cnt);
    return rc;
}

/* SHOW EVENTS / TRIGGERS [{FROM|IN} db] and SHOW {PROCEDURE|FUNCTION} STATUS, with LIKE or
 * WHERE: the rows of information_schema's EVENTS, TRIGGERS and ROUTINES (empty: Tessera has no
 * stored programs) under MySQL's SHOW column names. */
static int show_programs(sql_sess *s, const char *what, const char *src, const sql_token *t,
                         uint32_t n, uint32_t f, sql_sink *sink, int more, cm_err *err)
{
    cm_buf dbn = CM_BUF_INIT, like = CM_BUF_INIT, where = CM_BUF_INIT, q = CM_BUF_INIT;
    int rc = 0;
    bool routines = strcmp(what, "PROCEDURE") == 0 || strcmp(what, "FUNCTION") == 0;
    if (!routines && f + 1 < n &&
        (sql_tok_is(src, &t[f], "FROM") || sql_tok_is(src, &t[f], "IN"))) {
        if (sql_tok_name(src, &t[f + 1], &dbn) != 0 || cm_buf_terminate(&dbn) != 0) {
            rc = cm_err_set(err, CM_E_NOMEM, "out of memory");
        }
        f += 2;
    } else if (!routines && s->has_db) {
        cm_buf_printf(&dbn, "%s", s->dbname);
        cm_buf_terminate(&dbn);
    } else if (!routines) {
        rc = cm_err_set(err, CM_E_NO_DB, "No database selected");
    }
    const char *db = (const char *)dbn.ptr;
    if (rc == 0 && !routines && !sql_is_db(db) &&
        (s->schema == NULL || sql_schema_db(s->schema, db) == NULL)) {
        rc = cm_err_set(err, CM_E_BAD_DB, "Unknown database '%.64s'", db);
    }
    const char *like_col = strcmp(what, "EVENTS") == 0     ? "EVENT_NAME"
                           : strcmp(what, "TRIGGERS") == 0 ? "EVENT_OBJECT_TABLE"
                                                           : "ROUTINE_NAME";
    if (rc == 0) {
        rc = filter_tail(src, t, n, f, like_col, &like, &where, err);
    }
    if (rc != 0) {
        goto out;
    }
    if (strcmp(what, "EVENTS") == 0) {
        cm_buf_printf(&q, "SELECT * FROM (SELECT EVENT_SCHEMA AS `Db`, EVENT_NAME AS `Name`, "
                          "DEFINER AS `Definer`, TIME_ZONE AS `Time zone`, EVENT_TYPE AS `Type`, "
                          "EXECUTE_AT AS `Execute at`, INTERVAL_VALUE AS `Interval value`, "
                          "INTERVAL_FIELD AS `Interval field`, STARTS AS `Starts`, ENDS AS "
                          "`Ends`, STATUS AS `Status`, ORIGINATOR AS `Originator`, "
                          "CHARACTER_SET_CLIENT AS `character_set_client`, COLLATION_CONNECTION "
                          "AS `collation_connection`, DATABASE_COLLATION AS `Database Collation` "
                          "FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ");
        put_lit(&q, db, strlen(db));
    } else if (strcmp(what, "TRIGGERS") == 0) {
        cm_buf_printf(&q, "SELECT * FROM (SELECT TRIGGER_NAME AS `Trigger`, EVENT_MANIPULATION AS "
                          "`Event`, EVENT_OBJECT_TABLE AS `Table`, ACTION_STATEMENT AS "
                          "`Statement`, ACTION_TIMING AS `Timing`, CREATED AS `Created`, SQL_MODE "
                          "AS `sql_mode`, DEFINER AS `Definer`, CHARACTER_SET_CLIENT AS "
                          "`character_set_client`, COLLATION_CONNECTION AS "
                          "`collation_connection`, DATABASE_COLLATION AS `Database Collation` "
                          "FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ");
        put_lit(&q, db, strlen(db));
    } else {
        cm_buf_printf(&q,
                      "SELECT * FROM (SELECT ROUTINE_SCHEMA AS `Db`, ROUTINE_NAME AS `Name`, "
                      "ROUTINE_TYPE AS `Type`, DEFINER AS `Definer`, LAST_ALTERED AS "
                      "`Modified`, CREATED AS `Created`, SECURITY_TYPE AS `Security_type`, "
                      "ROUTINE_COMMENT AS `Comment`, CHARACTER_SET_CLIENT AS "
                      "`character_set_client`, COLLATION_CONNECTION AS "
                      "`collation_connection`, DATABASE_COLLATION AS `Database Collation` "
                      "FROM information_schema.ROUTINES WHERE ROUTINE_TYPE = '%s'",
                      what);
    }
    cm_buf_printf(&q, "%.*s) AS t%.*s ORDER BY 1, 2", (int)like.len,
                  like.ptr ? (const char *)like.ptr : "", (int)where.len,
                  where.ptr ? (const char *)where.ptr : "");
    rc = run_text(s, (const char *)q.ptr, q.len, sink, more, err);
out:
    cm_buf_fini(&dbn);
    cm_buf_fini(&like);
    cm_buf_fini(&where);
    cm_buf_fini(&q);
    return rc;
}

/* SHOW DATABASES|SCHEMAS [LIKE|WHERE]: information_schema.SCHEMATA, so that information_schema
 * is listed as in MySQL. */
static int show_databases(sql_sess *s, const char *src, const sql_token *t, uint32_t n, uint32_t f,
                          sql_sink *sink, int more, cm_err *err)
{
    cm_buf like = CM_BUF_INIT, where = CM_BUF_INIT, q = CM_BUF_INIT, title = CM_BUF_INIT;
    int rc = filter_tail(src, t, n, f, "SCHEMA_NAME", &like, &where, err);
    cm_buf_printf(&title, "Database");
    if (rc == 0 && like.len > 0) {
        cm_buf pat = CM_BUF_INIT;
        if (sql_tok_string(src, &t[f + 1], SQL_MODE_NO_BACKSLASH_ESCAPES, &pat) == 0) {
            cm_buf_printf(&title, " (%.*s)", (int)pat.len, pat.ptr ? (const char *)pat.ptr : "");
        }
        cm_buf_fini(&pat);
    }
    for (size_t k = 0; k < title.len; k++) {
        if (title.ptr[k] == '`') {
            title.ptr[k] = '\'';
        }
    }
    if (rc == 0) {
        cm_buf_printf(&q,
                      "SELECT * FROM (SELECT SCHEMA_NAME AS `%.*s` FROM "
                      "information_schema.SCHEMATA WHERE 1%.*s) AS t%.*s ORDER BY 1",
                      (int)title.len, (const char *)title.ptr, (int)like.len,
                      like.ptr ? (const char *)like.ptr : "", (int)where.len,
                      where.ptr ? (const char *)where.ptr : "");
        rc = run_text(s, (const char *)q.ptr, q.len, sink, more, err);
    }
    cm_buf_fini(&like);
    cm_buf_fini(&where);
    cm_buf_fini(&q);
    cm_buf_fini(&title);
    return rc;
}

static int is_describe(sql_sess *s, const char *db, const char *table, sql_sink *sink, int more,
                       cm_err *err)
{
    if (db == NULL || !sql_is_db(db) || s->env->cat == NULL) {
        return 1;
    }
    if (!sql_is_table(table)) {
        return cm_err_set(err, CM_E_UNKNOWN_TABLE, "Unknown table '%.64s' in information_schema",
                          table);
    }
    static const sql_token none[1];
    return show_is_columns(s, table, false, "", none, 0, 0, sink, more, err);
}

int sql_isg_show(sql_sess *s, const char *src, const sql_token *t, uint32_t n, sql_sink *sink,
                 int more, cm_err *err)
{
    if (s->env->cat == NULL || n < 2) {
        return 1;
    }
    uint32_t i = 1;
    bool full = false;
    if (sql_tok_is(src, &t[i], "FULL")) {
        full = true;
        i++;
    }
    if (i < n && !full &&
        (sql_tok_is(src, &t[i], "DATABASES") || sql_tok_is(src, &t[i], "SCHEMAS"))) {
        return show_databases(s, src, t, n, i + 1, sink, more, err);
    }
    if (i < n && sql_tok_is(src, &t[i], "OPEN") && i + 1 < n &&
        sql_tok_is(src, &t[i + 1], "TABLES") && !full) {
        return show_open_tables(s, src, t, n, i + 2, sink, more, err);
    }
    if (i + 1 < n && !full && sql_tok_is(src, &t[i], "TABLE") &&
        sql_tok_is(src, &t[i + 1], "STATUS")) {
        return show_table_status(s, src, t, n, i + 2, sink, more, err);
    }
    if (i < n && !full &&
        (sql_tok_is(src, &t[i], "EVENTS") || sql_tok_is(src, &t[i], "TRIGGERS"))) {
        return show_programs(s, sql_tok_is(src, &t[i], "EVENTS") ? "EVENTS" : "TRIGGERS", src, t, n,
                             i + 1, sink, more, err);
    }
    if (i + 1 < n && !full &&
        (sql_tok_is(src, &t[i], "PROCEDURE") || sql_tok_is(src, &t[i], "FUNCTION")) &&
        sql_tok_is(src, &t[i + 1], "STATUS")) {
        return show_programs(s, sql_tok_is(src, &t[i], "PROCEDURE") ? "PROCEDURE" : "FUNCTION", src,
                             t, n, i + 2, sink, more, err);
    }
    bool cur_is = s->has_db && sql_is_db(s->dbname);
    if (i < n && sql_tok_is(src, &t[i], "TABLES")) {
        uint32_t f = i + 1;
        bool is = cur_is;
        if (f + 1 < n && (sql_tok_is(src, &t[f], "FROM") || sql_tok_is(src, &t[f], "IN"))) {
            cm_buf db = CM_BUF_INIT;
            is = sql_tok_name(src, &t[f + 1], &db) == 0 && cm_buf_terminate(&db) == 0 &&
                 sql_is_db((const char *)db.ptr);
            cm_buf_fini(&db);
            f += 2;
        }
        return is ? show_is_tables(s, src, t, n, f, full, sink, more, err) : 1;
    }
    if (i + 2 < n && (sql_tok_is(src, &t[i], "COLUMNS") || sql_tok_is(src, &t[i], "FIELDS")) &&
        (sql_tok_is(src, &t[i + 1], "FROM") || sql_tok_is(src, &t[i + 1], "IN"))) {
        /* FROM tbl | FROM db.tbl, then FROM db */
        cm_buf a = CM_BUF_INIT, b = CM_BUF_INIT;
        uint32_t f = i + 3;
        bool is = cur_is;
        int ok = sql_tok_name(src, &t[i + 2], &a) == 0 && cm_buf_terminate(&a) == 0;
        const char *table = (const char *)a.ptr;
        if (ok && f + 1 < n && t[f].type == SQL_TK_DOT) {
            is = sql_is_db(table);
            ok = sql_tok_name(src, &t[f + 1], &b) == 0 && cm_buf_terminate(&b) == 0;
            table = (const char *)b.ptr;
            f += 2;
        } else if (ok && f + 1 < n &&
                   (sql_tok_is(src, &t[f], "FROM") || sql_tok_is(src, &t[f], "IN"))) {
            ok = sql_tok_name(src, &t[f + 1], &b) == 0 && cm_buf_terminate(&b) == 0;
            is = ok && sql_is_db((const char *)b.ptr);
            f += 2;
        }
        int rc = 1;
        if (ok && is) {
            rc = sql_is_table(table)
                     ? show_is_columns(s, table, full, src, t, n, f, sink, more, err)
                     : cm_err_set(err, CM_E_NO_SUCH_TABLE,
                                  "Table 'information_schema.%.64s' doesn't exist", table);
        }
        cm_buf_fini(&a);
        cm_buf_fini(&b);
        return rc;
    }
    return 1;
}

/* DDL naming information_schema (a qualified name, the database of CREATE/DROP/ALTER DATABASE,
 * or an unqualified table while it is the current database) is refused as MySQL refuses it. */
int sql_isg_ddl_check(sql_sess *s, const char *src, const sql_token *t, uint32_t n, cm_err *err)
{
    bool deny = false;
    for (uint32_t i = 0; i < n && !deny; i++) {
        if (t[i].type != SQL_TK_IDENT && t[i].type != SQL_TK_QIDENT) {
            continue;
        }
        bool qual = i + 1 < n && t[i + 1].type == SQL_TK_DOT;
        bool dbword =
            i > 0 &&
            (sql_tok_is(src, &t[i - 1], "DATABASE") || sql_tok_is(src, &t[i - 1], "SCHEMA") ||
             (sql_tok_is(src, &t[i - 1], "EXISTS") && i >= 3 &&
              (sql_tok_is(src, &t[1], "DATABASE") || sql_tok_is(src, &t[1], "SCHEMA"))));
        if (!qual && !dbword) {
            continue;
        }
        cm_buf name = CM_BUF_INIT;
        deny = sql_tok_name(src, &t[i], &name) == 0 && cm_buf_terminate(&name) == 0 &&
               sql_is_db((const char *)name.ptr);
        cm_buf_fini(&name);
    }
    if (!deny && s->has_db && sql_is_db(s->dbname) && n > 1 &&
        !sql_tok_is(src, &t[1], "DATABASE") && !sql_tok_is(src, &t[1], "SCHEMA")) {
        deny = true;
    }
    if (!deny) {
        return 0;
    }
    return cm_err_set(err, CM_E_DB_ACCESS_DENIED,
                      "Access denied for user '%s'@'%%' to database 'information_schema'", s->user);
}

bool sql_isg_reads_diag_count(const char *src, const sql_token *t, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        if (t[i].type != SQL_TK_SYSVAR) {
            continue;
        }
        cm_buf name = CM_BUF_INIT;
        bool hit = sql_tok_name(src, &t[i], &name) == 0 && cm_buf_terminate(&name) == 0 &&
                   (strcasecmp((const char *)name.ptr, "warning_count") == 0 ||
                    strcasecmp((const char *)name.ptr, "error_count") == 0);
        cm_buf_fini(&name);
        if (hit) {
            return true;
        }
    }
    return false;
}

int sql_isg_describe_stmt(sql_sess *s, const char *src, const sql_token *t, uint32_t n,
                          sql_sink *sink, int more, cm_err *err)
{
    /* DESCRIBE t | DESCRIBE db.t (a column name after it: left to the catalog's DESCRIBE) */
    if (n < 2 || (t[1].type != SQL_TK_IDENT && t[1].type != SQL_TK_QIDENT)) {
        return 1;
    }
    bool qualified = n >= 4 && t[2].type == SQL_TK_DOT &&
                     (t[3].type == SQL_TK_IDENT || t[3].type == SQL_TK_QIDENT);
    if (n != (qualified ? 4u : 2u)) {
        return 1;
    }
    cm_buf a = CM_BUF_INIT, b = CM_BUF_INIT;
    int rc = 1;
    if (sql_tok_name(src, &t[1], &a) == 0 && cm_buf_terminate(&a) == 0 &&
        (!qualified || (sql_tok_name(src, &t[3], &b) == 0 && cm_buf_terminate(&b) == 0))) {
        const char *db = qualified ? (const char *)a.ptr : (s->has_db ? s->dbname : NULL);
        const char *table = qualified ? (const char *)b.ptr : (const char *)a.ptr;
        rc = is_describe(s, db, table, sink, more, err);
    }
    cm_buf_fini(&a);
    cm_buf_fini(&b);
    return rc;
}
