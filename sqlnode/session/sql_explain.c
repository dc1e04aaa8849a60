/* sql_explain.c — EXPLAIN <statement>: SQLite's EXPLAIN QUERY PLAN of the translated statement,
 * sent in TiDB's shape (id, estRows, task, access object, operator info; docs/mysql-protocol.md
 * "EXPLAIN"). Each table access row shows the plan the vtab module chose (its idxStr: point get,
 * range or index scan, covering), so a user sees which index a query uses. SQLite's plan carries
 * no row estimates: estRows is NULL. */
#include "sql_session_int.h"
#include "sql_copr.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Plan rows kept for the tree's depth: bounded by SQLite's own plan size for one statement;
 * beyond it the depth of later rows is taken as 1 (the output stays correct otherwise). */
#define EXPLAIN_ROWS_MAX 4096

typedef struct plan_row {
    int id;
    int depth;
} plan_row;

/* Splits one EXPLAIN QUERY PLAN detail. A vtab access reads "SCAN|SEARCH <table> VIRTUAL TABLE
 * INDEX <n>:<idxStr>", the vtab's idxStr being "<description> #<plan>": fills op, object and
 * info and returns 1; any other row returns 0. */
static int vtab_row(const char *d, cm_buf *op, cm_buf *object, cm_buf *info)
{
    const char *p;
    if (strncmp(d, "SCAN ", 5) == 0) {
        p = d + 5;
    } else if (strncmp(d, "SEARCH ", 7) == 0) {
        p = d + 7;
    } else {
        return 0;
    }
    const char *vt = strstr(p, " VIRTUAL TABLE INDEX ");
    if (vt == NULL) {
        return 0;
    }
    const char *desc = strchr(vt + 21, ':');
    desc = desc ? desc + 1 : "";
    const char *hash = strstr(desc, " #");
    size_t dlen = hash ? (size_t)(hash - desc) : strlen(desc);
    const char *kind;
    const char *index = NULL;
    size_t index_len = 0;
    if (strncmp(desc, "point get", 9) == 0) {
        kind = "Point_Get";
    } else if (strncmp(desc, "batch get", 9) == 0) {
        kind = "Batch_Point_Get";
    } else if (strncmp(desc, "range PRIMARY", 13) == 0) {
        kind = "TableRangeScan";
    } else if (strncmp(desc, "full scan", 9) == 0) {
        kind = "TableFullScan";
    } else if (strncmp(desc, "index ", 6) == 0) {
        index = desc + 6;
        index_len = strcspn(index, " ");
        kind = strncmp(index + index_len, " ()", 3) == 0 ? "IndexFullScan" : "IndexRangeScan";
    } else {
        kind = "TableScan";
    }
    if (strstr(desc, "PRIMARY") != NULL && index == NULL) {
        index = "PRIMARY";
        index_len = 7;
    }
    int rc = cm_buf_printf(op, "%s", kind);
    rc |= cm_buf_printf(object, "table:%.*s", (int)(vt - p), p);
    if (index != NULL) {
        rc |= cm_buf_printf(object, ", index:%.*s", (int)index_len, index);
    }
    rc |= cm_buf_append(info, desc, dlen);
    return rc == 0 ? 1 : -1;
}

/* Sends the plan rows of st (an EXPLAIN QUERY PLAN statement). */
static int send_plan(sql_sess *s, sqlite3_stmt *st, sql_sink *sink, cm_err *err)
{
    sql_column cols[5] = {sql_col_text(s, "id"), sql_col_text(s, "estRows"),
                          sql_col_text(s, "task"), sql_col_text(s, "access object"),
                          sql_col_text(s, "operator info")};
    int rc = sink->columns(sink, cols, 5);
    plan_row *rows = NULL;
    uint32_t nrows = 0, cap = 0;
    cm_buf id = CM_BUF_INIT, op = CM_BUF_INIT, object = CM_BUF_INIT, info = CM_BUF_INIT;
    int lrc = SQLITE_ROW;
    while (rc == 0 && (lrc = sqlite3_step(st)) == SQLITE_ROW) {
        int pid = sqlite3_column_int(st, 0), parent = sqlite3_column_int(st, 1);
        const char *detail = (const char *)sqlite3_column_text(st, 3);
        detail = detail ? detail : "";
        int depth = 1;
        for (uint32_t i = 0; i < nrows; i++) {
            if (rows[i].id == parent) {
                depth = rows[i].depth + 1;
            }
        }
        if (nrows == cap && cap < EXPLAIN_ROWS_MAX) {
            uint32_t nc = cap ? cap * 2 : 16;
            plan_row *v = realloc(rows, nc * sizeof(*v));
            if (v == NULL) {
                rc = cm_err_set(err, CM_E_NOMEM, "out of memory");
                break;
            }
            rows = v;
            cap = nc;
        }
        if (nrows < cap) {
            rows[nrows++] = (plan_row){pid, depth};
        }
        cm_buf_reset(&id);
        cm_buf_reset(&op);
        cm_buf_reset(&object);
        cm_buf_reset(&info);
        int vt = vtab_row(detail, &op, &object, &info);
        int brc = vt < 0 ? -1 : 0;
        for (int k = 2; k < depth; k++) {
            brc |= cm_buf_append(&id, "  ", 2);
        }
        if (depth > 1) { /* steps of the statement itself are not indented, their children are */
            brc |= cm_buf_append(&id, "\xe2\x94\x94\xe2\x94\x80", 6); /* └─ as TiDB draws it */
        }
        brc |= vt > 0 ? cm_buf_append(&id, op.ptr, op.len) : cm_buf_printf(&id, "%s", detail);
        if (brc != 0) {
            rc = cm_err_set(err, CM_E_NOMEM, "out of memory");
            break;
        }
        sql_value v[5];
        memset(v, 0, sizeof(v));
        v[0] = (sql_value){.type = SQL_V_TEXT, .s = (const char *)id.ptr, .n = id.len};
        v[1].type = SQL_V_NULL;
        v[2] = (sql_value){.type = SQL_V_TEXT, .s = vt > 0 ? "cop[kv]" : "root"};
        v[2].n = strlen(v[2].s);
        v[3] = (sql_value){.type = SQL_V_TEXT, .s = vt > 0 ? (const char *)object.ptr : ""};
        v[3].n = vt > 0 ? object.len : 0;
        v[4] = (sql_value){.type = SQL_V_TEXT, .s = vt > 0 ? (const char *)info.ptr : ""};
        v[4].n = vt > 0 ? info.len : 0;
        for (int k = 0; k < 5; k++) {
            if (v[k].type == SQL_V_TEXT && v[k].s == NULL) {
                v[k].s = "";
            }
        }
        rc = sink->row(sink, v, 5);
    }
    if (rc == 0 && lrc != SQLITE_DONE) {
        rc = s->vt.err.code != 0 ? (*err = s->vt.err, s->vt.err.code)
                                 : sql_exec_sqlite_error(s, lrc, err);
    }
    free(rows);
    cm_buf_fini(&id);
    cm_buf_fini(&op);
    cm_buf_fini(&object);
    cm_buf_fini(&info);
    return rc;
}

int sql_explain_run(sql_sess *s, const char *src, const sql_token *t, uint32_t n, sql_sink *sink,
                    int more, cm_err *err)
{
    if (n < 2) {
        return cm_err_set(err, CM_E_PARSE, "You have an error in your SQL syntax near 'EXPLAIN'");
    }
    uint32_t b = 1;
    if (sql_tok_is(src, &t[1], "FORMAT") && n > 4 && t[2].type == SQL_TK_OP && t[2].len == 1 &&
        src[t[2].off] == '=') {
        /* TRADITIONAL (MySQL's default) and TiDB's ROW / BRIEF are this table; JSON and TREE
         * are other shapes, not offered */
        cm_buf f = CM_BUF_INIT;
        int frc = t[3].type == SQL_TK_STRING ? sql_tok_string(src, &t[3], 0, &f)
                                             : sql_tok_name(src, &t[3], &f);
        int known = frc == 0 && f.ptr != NULL &&
                    ((f.len == 11 && strncasecmp((const char *)f.ptr, "TRADITIONAL", 11) == 0) ||
                     (f.len == 3 && strncasecmp((const char *)f.ptr, "ROW", 3) == 0) ||
                     (f.len == 5 && strncasecmp((const char *)f.ptr, "BRIEF", 5) == 0));
        cm_buf_fini(&f);
        if (known) {
            b = 4;
        }
    }
    if (b == 1 && (sql_tok_is(src, &t[1], "FORMAT") || sql_tok_is(src, &t[1], "ANALYZE"))) {
        return cm_err_set(err, CM_E_UNSUPPORTED,
                          "This version of Tessera doesn't yet support 'EXPLAIN %.*s'",
                          (int)t[1].len, src + t[1].off);
    }
    sql_kind k = sql_classify(src, t + b, n - b);
    if (k != SQL_KIND_QUERY && k != SQL_KIND_DML) {
        return cm_err_set(err, CM_E_UNSUPPORTED,
                          "This version of Tessera explains SELECT, INSERT, REPLACE, UPDATE and "
                          "DELETE only");
    }
    if (k == SQL_KIND_QUERY) { /* a single-table aggregate pushed down (sql_copr_agg.c) */
        int crc = sql_copr_agg_explain(s, src, t + b, n - b, sink, more, err);
        if (crc != SQL_COPR_NO) {
            return crc;
        }
    }
    sql_tr_ctx ctx = sql_sess_tr_ctx(s);
    int rc = k == SQL_KIND_DML ? sql_dml_translate(s, src, t + b, n - b, &s->tr, err)
                               : sql_translate_query(src, t + b, n - b, &ctx, &s->tr, err);
    if (rc != 0) {
        return rc;
    }
    cm_buf sql = CM_BUF_INIT;
    if (cm_buf_printf(&sql, "EXPLAIN QUERY PLAN ") != 0 ||
        cm_buf_append(&sql, s->tr.sql.ptr, s->tr.sql.len) != 0 || cm_buf_terminate(&sql) != 0) {
        cm_buf_fini(&sql);
        return cm_err_set(err, CM_E_NOMEM, "out of memory");
    }
    sqlite3_stmt *st = NULL;
    rc = sql_decl_prepare(s, (const char *)sql.ptr, (int)sql.len, 0, &st, NULL, err);
    cm_buf_fini(&sql);
    if (rc == 0 && st == NULL) {
        rc = cm_err_set(err, CM_E_EMPTY_QUERY, "Query was empty");
    }
    if (rc == 0) {
        rc = send_plan(s, st, sink, err);
    }
    sqlite3_finalize(st);
    return rc ? rc : sql_sess_done(s, sink, 0, 0, more, NULL);
}
