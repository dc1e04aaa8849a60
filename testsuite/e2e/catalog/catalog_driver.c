/*
 * catalog_driver.c — the catalog e2e test's client: opens sql_catalog instances (each with its
 * own KV client, like separate sqlnodes) against a real cluster and runs a script read from stdin,
 * one command per line, printing one result line per command:
 *
 *   open A [poll_ms [autoid_step]]   open catalog A            -> "ok version=V"
 *   use A DB                         current database of A
 *   ddl A SQL…                       -> "ok affected=N warnings=N [warn=CODE msg]" | "err ERRNO
 * msg" show A SQL…                      -> "row c1|c2|…" lines then "ok rows=N" dump A -> "version
 * V", "db ID NAME", "table DB NAME ID handle=H auto=A idx=NAME:ID:STATE[:u],…" lines, then "ok"
 *   autoid A DB TABLE N [held]       N values from sql_cat_next_autoid -> "ids v1 v2 …"
 *                                    (held: the table as the snapshot taken by `hold A` saw it)
 *   hold A                           keep a reference to A's current snapshot
 *   rebase A DB TABLE V              sql_cat_rebase_autoid
 *   rows A DB TABLE N MOD            N rows with handles 1..N (table with an integer handle or a
 *                                    hidden one: handle = row number); integer columns get
 *                                    handle % MOD (MOD 0: the handle), string columns "s<value>"
 *   checkindex A DB TABLE INDEX      every index entry matches a row and every row has its entry
 *                                    -> "ok entries=N" | "err …"
 *   countrange A TABLE_ID            keys under the table's prefix -> "ok keys=N"
 *   gcqueue A                        the GC worker's queued delete ranges -> "range START END"
 *                                    (hex) lines, then "ok ranges=N"
 *   wait A VERSION MS                until A's snapshot reaches VERSION (poll thread)
 *   close A
 * Exit status 0 when every command ran (errors of DDL statements are results, not failures),
 * 1 when a command could not run, 2 on usage errors.
 */
#include "cm_keys.h"
#include "cm_kv_client.h"
#include "cm_log.h"
#include "cm_row.h"
#include "cm_time.h"
#include "sql_catalog.h"
#include "sql_gc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NCAT 4

static const char *pd_addr;
static cm_kv_client *kcs[NCAT];
static sql_catalog *cats[NCAT];
static char curdb[NCAT][128];
static sql_schema *held[NCAT];

static int cat_index(const char *name)
{
    if (name == NULL || name[0] < 'A' || name[0] >= 'A' + NCAT || name[1] != 0) {
        return -1;
    }
    return name[0] - 'A';
}

static int fail(const char *what, const cm_err *err)
{
    printf("fail %s: %s\n", what, err ? err->msg : "");
    fflush(stdout);
    return 1;
}

static int cmd_open(int c, const char *poll, const char *step)
{
    cm_err err;
    sql_cat_options o;
    sql_cat_options_default(&o);
    if (poll != NULL) {
        o.poll_ms = atoll(poll);
    }
    if (step != NULL) {
        o.autoid_step = (uint32_t)atoll(step);
    }
    if (cm_kv_client_create(pd_addr, NULL, &kcs[c], &err) != 0) {
        return fail("kv client", &err);
    }
    if (sql_cat_open(kcs[c], &o, &cats[c], &err) != 0) {
        return fail("open", &err);
    }
    sql_schema *s = sql_cat_acquire(cats[c]);
    printf("ok version=%llu\n", (unsigned long long)sql_schema_version(s));
    sql_schema_release(s);
    return 0;
}

static void cmd_close(int c)
{
    sql_schema_release(held[c]);
    held[c] = NULL;
    sql_cat_close(cats[c]);
    cm_kv_client_free(kcs[c]);
    cats[c] = NULL;
    kcs[c] = NULL;
    printf("ok\n");
}

static int lex(const char *sql, sql_tokens *toks, cm_err *err)
{
    sql_tokens_init(toks);
    return sql_lex(sql, strlen(sql), 0, toks, err);
}

static int cmd_ddl(int c, const char *sql)
{
    sql_tokens toks;
    cm_err err;
    cm_err_clear(&err);
    if (lex(sql, &toks, &err) != 0) {
        sql_tokens_fini(&toks);
        return fail("lex", &err);
    }
    if (!sql_ddl_is_ddl(sql, toks.v, toks.n)) {
        sql_tokens_fini(&toks);
        printf("err 0 not a DDL statement\n");
        return 0;
    }
    sql_ddl_result res;
    int rc = sql_ddl_exec(cats[c], curdb[c][0] ? curdb[c] : NULL, sql, toks.v, toks.n, &res, &err);
    sql_tokens_fini(&toks);
    if (rc != 0) {
        printf("err %d %s\n", cm_err_mysql_errno(rc), err.msg);
    } else if (res.warnings > 0) {
        printf("ok affected=%llu warnings=%u warn=%u %s\n", (unsigned long long)res.affected,
               res.warnings, res.warning_code, res.warning_msg);
    } else {
        printf("ok affected=%llu warnings=0\n", (unsigned long long)res.affected);
    }
    return 0;
}

typedef struct print_sink {
    sql_sink sink;
    int rows;
} print_sink;

static int ps_columns(sql_sink *s, const sql_column *cols, int n)
{
    (void)s;
    printf("cols");
    for (int i = 0; i < n; i++) {
        printf("%s%.*s", i ? "|" : " ", (int)cols[i].name_len, cols[i].name);
    }
    printf("\n");
    return 0;
}

static int ps_row(sql_sink *s, const sql_value *v, int n)
{
    ((print_sink *)s)->rows++;
    printf("row ");
    for (int i = 0; i < n; i++) {
        if (i > 0) {
            printf("|");
        }
        if (v[i].type == SQL_V_NULL) {
            printf("NULL");
        } else if (v[i].type == SQL_V_INT) {
            printf("%lld", (long long)v[i].i);
        } else {
            for (size_t k = 0; k < v[i].n; k++) { /* one line per row: newlines escaped */
                if (v[i].s[k] == '\n') {
                    printf("\\n");
                } else {
                    putchar(v[i].s[k]);
                }
            }
        }
    }
    printf("\n");
    return 0;
}

static int cmd_show(int c, const char *sql)
{
    sql_tokens toks;
    cm_err err;
    cm_err_clear(&err);
    if (lex(sql, &toks, &err) != 0) {
        sql_tokens_fini(&toks);
        return fail("lex", &err);
    }
    print_sink ps = {{ps_columns, ps_row, NULL}, 0};
    sql_schema *s = sql_cat_acquire(cats[c]);
    int rc = sql_cat_is_show(sql, toks.v, toks.n)
                 ? sql_cat_show(cats[c], s, curdb[c][0] ? curdb[c] : NULL, sql, toks.v, toks.n,
                                &ps.sink, &err)
                 : cm_err_set(&err, CM_E_PARSE, "not a catalog SHOW");
    sql_schema_release(s);
    sql_tokens_fini(&toks);
    if (rc != 0) {
        printf("err %d %s\n", cm_err_mysql_errno(rc), err.msg);
    } else {
        printf("ok rows=%d\n", ps.rows);
    }
    return 0;
}

static void cmd_dump(int c)
{
    sql_schema *s = sql_cat_acquire(cats[c]);
    printf("version %llu\n", (unsigned long long)sql_schema_version(s));
    for (uint32_t i = 0; i < sql_schema_ndbs(s); i++) {
        const sql_cat_db *d = sql_schema_db_at(s, i);
        printf("db %lld %s\n", (long long)d->id, d->name);
        for (uint32_t j = 0; j < sql_schema_ntables(s, d); j++) {
            const sql_cat_table *t = sql_schema_table_at(s, d, j);
            printf("table %s %s %lld handle=%d auto=%d ver=%llu idx=", d->name, t->name,
                   (long long)t->id, t->handle_col, t->autoinc_col, (unsigned long long)t->version);
            for (uint32_t k = 0; k < t->nindexes; k++) {
                const sql_cat_index *x = &t->indexes[k];
                printf("%s%s:%lld:%u%s", k ? "," : "", x->name, (long long)x->id, x->state,
                       x->unique ? ":u" : "");
            }
            printf("\n");
        }
    }
    sql_schema_release(s);
    printf("ok\n");
}

/* The table, from A's current snapshot (kept referenced in *s). */
static const sql_cat_table *lookup(int c, const char *db, const char *name, sql_schema **s)
{
    *s = sql_cat_acquire(cats[c]);
    const sql_cat_table *t = sql_schema_table(*s, db, name);
    if (t == NULL) {
        printf("err 1146 no table %s.%s\n", db, name);
        sql_schema_release(*s);
        *s = NULL;
    }
    return t;
}

static int cmd_autoid(int c, const char *db, const char *name, long n, bool use_held)
{
    sql_schema *s;
    const sql_cat_table *t = NULL;
    if (use_held && held[c] != NULL) {
        s = held[c];
        sql_schema_retain(s);
        t = sql_schema_table(s, db, name);
    } else {
        t = lookup(c, db, name, &s);
    }
    if (t == NULL) {
        if (use_held) {
            sql_schema_release(s);
            printf("err 1146 no table %s.%s\n", db, name);
        }
        return 0;
    }
    cm_err err;
    printf("ids");
    for (long i = 0; i < n; i++) {
        uint64_t v;
        int rc = sql_cat_next_autoid(cats[c], t, &v, &err);
        if (rc != 0) {
            sql_schema_release(s);
            printf("\nerr %d %s\n", cm_err_mysql_errno(rc), err.msg);
            return 0;
        }
        printf(" %llu", (unsigned long long)v);
    }
    printf("\n");
    sql_schema_release(s);
    return 0;
}

static int cmd_rebase(int c, const char *db, const char *name, uint64_t v)
{
    sql_schema *s;
    const sql_cat_table *t = lookup(c, db, name, &s);
    if (t == NULL) {
        return 0;
    }
    cm_err err;
    int rc = sql_cat_rebase_autoid(cats[c], t, v, &err);
    sql_schema_release(s);
    if (rc != 0) {
        return fail("rebase", &err);
    }
    printf("ok\n");
    return 0;
}

static bool col_is_string(const sql_cat_col *col)
{
    return col->type.dtype == CM_DT_STRING || col->type.dtype == CM_DT_BYTES;
}

/* Rows written straight to KV in the layout of docs/sql-layer.md "Index entries" (what the vtab
 * module writes), so the catalog's backfill has real data under it. */
static int cmd_rows(int c, const char *db, const char *name, long n, long mod)
{
    sql_schema *s;
    const sql_cat_table *t = lookup(c, db, name, &s);
    if (t == NULL) {
        return 0;
    }
    cm_err err;
    int rc = 0;
    char(*texts)[32] = calloc(t->ncols, 32);
    cm_row_cell *cells = calloc(t->ncols, sizeof(cm_row_cell));
    cm_buf key = CM_BUF_INIT, val = CM_BUF_INIT;
    for (long from = 1; rc == 0 && from <= n; from += 500) {
        cm_txn *x = NULL;
        rc = cm_txn_begin(kcs[c], &x, &err);
        for (long h = from; rc == 0 && h < from + 500 && h <= n; h++) {
            long v = mod > 0 ? h % mod : h;
            for (uint32_t i = 0; i < t->ncols; i++) {
                cells[i].id = t->cols[i].id;
                if ((int32_t)i == t->handle_col) {
                    cells[i].value.type = CM_DT_INT64;
                    cells[i].value.v.i64 = h;
                } else if (col_is_string(&t->cols[i])) {
                    snprintf(texts[i], 32, "s%ld", v);
                    cells[i].value.type = (cm_dtype)t->cols[i].type.dtype;
                    cells[i].value.v.bytes = cm_slice_make(texts[i], strlen(texts[i]));
                } else {
                    cells[i].value.type = CM_DT_INT64;
                    cells[i].value.v.i64 = v;
                }
            }
            cm_buf_reset(&key);
            cm_buf_reset(&val);
            rc = cm_keys_append_row(&key, t->id, h);
            if (rc == 0) {
                rc = cm_row_encode(&val, cells, t->ncols, &err);
            }
            if (rc == 0) {
                rc = cm_txn_set(x, cm_buf_slice(&key), cm_buf_slice(&val), &err);
            }
        }
        if (rc == 0) {
            rc = cm_txn_commit(x, &err);
        }
        cm_txn_free(x);
    }
    free(texts);
    free(cells);
    cm_buf_fini(&key);
    cm_buf_fini(&val);
    sql_schema_release(s);
    if (rc != 0) {
        return fail("rows", &err);
    }
    printf("ok\n");
    return 0;
}

typedef struct kvlist {
    cm_buf keys; /* u32 len + key, u32 len + value, … */
    uint32_t n;
} kvlist;

static int scan_all(cm_kv_client *kc, cm_slice start, cm_slice end, kvlist *out, cm_err *err)
{
    cm_txn *x = NULL;
    cm_txn_iter *it = NULL;
    int rc = cm_txn_begin(kc, &x, err);
    if (rc == 0) {
        rc = cm_txn_scan(x, start, end, &it, err);
    }
    cm_slice k, v;
    while (rc == 0 && (rc = cm_txn_iter_next(it, &k, &v, err)) == 1) {
        uint32_t kl = (uint32_t)k.len, vl = (uint32_t)v.len;
        cm_buf_append(&out->keys, &kl, 4);
        cm_buf_append_slice(&out->keys, k);
        cm_buf_append(&out->keys, &vl, 4);
        cm_buf_append_slice(&out->keys, v);
        out->n++;
        rc = 0;
    }
    cm_txn_iter_free(it);
    cm_txn_free(x);
    return rc < 0 ? rc : 0;
}

static size_t next_pair(const kvlist *l, size_t off, cm_slice *k, cm_slice *v)
{
    uint32_t kl, vl;
    memcpy(&kl, l->keys.ptr + off, 4);
    *k = cm_slice_make(l->keys.ptr + off + 4, kl);
    off += 4 + kl;
    memcpy(&vl, l->keys.ptr + off, 4);
    *v = cm_slice_make(l->keys.ptr + off + 4, vl);
    return off + 4 + vl;
}

/* Every row has exactly the entry sql_cat_index_entry gives, and there is no other entry. */
static int cmd_checkindex(int c, const char *db, const char *name, const char *iname)
{
    sql_schema *s;
    const sql_cat_table *t = lookup(c, db, name, &s);
    if (t == NULL) {
        return 0;
    }
    const sql_cat_index *ix = sql_table_index(t, iname);
    if (ix == NULL) {
        sql_schema_release(s);
        printf("err 1176 no index %s\n", iname);
        return 0;
    }
    cm_err err;
    kvlist rows = {CM_BUF_INIT, 0}, ents = {CM_BUF_INIT, 0};
    cm_buf rs = CM_BUF_INIT, re = CM_BUF_INIT, is = CM_BUF_INIT, ie = CM_BUF_INIT;
    cm_buf want = CM_BUF_INIT, wval = CM_BUF_INIT;
    cm_keys_rows_range(t->id, &rs, &re);
    cm_keys_index_range(t->id, ix->id, &is, &ie);
    int rc = scan_all(kcs[c], cm_buf_slice(&rs), cm_buf_slice(&re), &rows, &err);
    if (rc == 0) {
        rc = scan_all(kcs[c], cm_buf_slice(&is), cm_buf_slice(&ie), &ents, &err);
    }
    const char *bad = NULL;
    /* each row's entry must be among the entries (both sorted lists are small in tests) */
    for (size_t off = 0; rc == 0 && bad == NULL && off < rows.keys.len;) {
        cm_slice k, v;
        off = next_pair(&rows, off, &k, &v);
        int64_t tid, h;
        cm_row_col cols[16];
        cm_datum d[16];
        for (uint32_t j = 0; j < ix->ncols; j++) {
            cols[j].id = t->cols[ix->cols[j]].id;
            cols[j].type = (cm_dtype)t->cols[ix->cols[j]].type.dtype;
        }
        rc = cm_keys_decode_row(k, &tid, &h, &err);
        if (rc == 0) {
            rc = cm_row_decode(v, cols, ix->ncols, d, NULL, &err);
        }
        cm_buf_reset(&want);
        cm_buf_reset(&wval);
        if (rc == 0) {
            rc = sql_cat_index_entry(t, ix, d, h, &want, &wval, NULL, &err);
        }
        bool found = false;
        for (size_t eo = 0; rc == 0 && !found && eo < ents.keys.len;) {
            cm_slice ek, ev;
            eo = next_pair(&ents, eo, &ek, &ev);
            found = cm_slice_eq(ek, cm_buf_slice(&want)) && cm_slice_eq(ev, cm_buf_slice(&wval));
        }
        if (rc == 0 && !found) {
            bad = "a row has no index entry";
        }
    }
    if (rc == 0 && bad == NULL && ents.n != rows.n) {
        bad = "entries and rows differ in number";
    }
    if (rc != 0) {
        printf("err %d %s\n", cm_err_mysql_errno(rc), err.msg);
    } else if (bad != NULL) {
        printf("err 0 %s (rows=%u entries=%u)\n", bad, rows.n, ents.n);
    } else {
        printf("ok entries=%u\n", ents.n);
    }
    cm_buf_fini(&rows.keys);
    cm_buf_fini(&ents.keys);
    cm_buf_fini(&rs);
    cm_buf_fini(&re);
    cm_buf_fini(&is);
    cm_buf_fini(&ie);
    cm_buf_fini(&want);
    cm_buf_fini(&wval);
    sql_schema_release(s);
    return 0;
}

static int cmd_countrange(int c, int64_t table_id)
{
    cm_buf s = CM_BUF_INIT, e = CM_BUF_INIT;
    cm_keys_table_range(table_id, &s, &e);
    kvlist l = {CM_BUF_INIT, 0};
    cm_err err;
    int rc = scan_all(kcs[c], cm_buf_slice(&s), cm_buf_slice(&e), &l, &err);
    cm_buf_fini(&s);
    cm_buf_fini(&e);
    cm_buf_fini(&l.keys);
    if (rc != 0) {
        return fail("scan", &err);
    }
    printf("ok keys=%u\n", l.n);
    return 0;
}

static void hex(cm_slice s)
{
    for (size_t i = 0; i < s.len; i++) {
        printf("%02x", s.ptr[i]);
    }
}

static int cmd_gcqueue(int c)
{
    cm_buf s = CM_BUF_INIT, e = CM_BUF_INIT;
    kvlist l = {CM_BUF_INIT, 0};
    cm_err err;
    int rc = sql_gc_queue_range(&s, &e, &err);
    if (rc == 0) {
        rc = scan_all(kcs[c], cm_buf_slice(&s), cm_buf_slice(&e), &l, &err);
    }
    for (size_t off = 0; rc == 0 && off < l.keys.len;) {
        cm_slice k, v, rs, re;
        uint64_t ts;
        off = next_pair(&l, off, &k, &v);
        rc = sql_gc_queue_decode(k, v, &ts, &rs, &re, &err);
        if (rc == 0) {
            printf("range ");
            hex(rs);
            printf(" ");
            hex(re);
            printf("\n");
        }
    }
    cm_buf_fini(&s);
    cm_buf_fini(&e);
    cm_buf_fini(&l.keys);
    if (rc != 0) {
        return fail("gcqueue", &err);
    }
    printf("ok ranges=%u\n", l.n);
    return 0;
}

static int cmd_wait(int c, uint64_t version, long ms)
{
    uint64_t end = cm_time_mono_ms() + (uint64_t)ms;
    for (;;) {
        sql_schema *s = sql_cat_acquire(cats[c]);
        uint64_t v = sql_schema_version(s);
        sql_schema_release(s);
        if (v >= version) {
            printf("ok version=%llu\n", (unsigned long long)v);
            return 0;
        }
        if (cm_time_mono_ms() > end) {
            printf("err 0 still at version %llu\n", (unsigned long long)v);
            return 0;
        }
        usleep(20000);
    }
}

static int run_line(char *line)
{
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
        line[--n] = 0;
    }
    if (n == 0 || line[0] == '#') {
        return 0;
    }
    char *save = NULL;
    char *cmd = strtok_r(line, " ", &save);
    char *cat = strtok_r(NULL, " ", &save);
    int c = cat_index(cat);
    if (c < 0) {
        printf("fail usage: %s\n", cmd);
        return 2;
    }
    if (strcmp(cmd, "open") == 0) {
        char *poll = strtok_r(NULL, " ", &save);
        char *step = strtok_r(NULL, " ", &save);
        return cmd_open(c, poll, step);
    }
    if (cats[c] == NULL) {
        printf("fail catalog %s is not open\n", cat);
        return 2;
    }
    char *rest = save; /* the remainder of the line, untouched */
    if (strcmp(cmd, "ddl") == 0) {
        return cmd_ddl(c, rest ? rest : "");
    }
    if (strcmp(cmd, "show") == 0) {
        return cmd_show(c, rest ? rest : "");
    }
    char *a1 = strtok_r(NULL, " ", &save);
    char *a2 = strtok_r(NULL, " ", &save);
    char *a3 = strtok_r(NULL, " ", &save);
    char *a4 = strtok_r(NULL, " ", &save);
    if (strcmp(cmd, "use") == 0 && a1) {
        snprintf(curdb[c], sizeof(curdb[c]), "%s", a1);
        printf("ok\n");
        return 0;
    }
    if (strcmp(cmd, "dump") == 0) {
        cmd_dump(c);
        return 0;
    }
    if (strcmp(cmd, "close") == 0) {
        cmd_close(c);
        return 0;
    }
    if (strcmp(cmd, "reload") == 0) {
        cm_err err;
        if (sql_cat_reload(cats[c], &err) != 0) {
            return fail("reload", &err);
        }
        printf("ok\n");
        return 0;
    }
    if (strcmp(cmd, "autoid") == 0 && a3) {
        return cmd_autoid(c, a1, a2, atol(a3), a4 != NULL && strcmp(a4, "held") == 0);
    }
    if (strcmp(cmd, "hold") == 0) {
        sql_schema_release(held[c]);
        held[c] = sql_cat_acquire(cats[c]);
        printf("ok\n");
        return 0;
    }
    if (strcmp(cmd, "rebase") == 0 && a3) {
        return cmd_rebase(c, a1, a2, strtoull(a3, NULL, 10));
    }
    if (strcmp(cmd, "rows") == 0 && a4) {
        return cmd_rows(c, a1, a2, atol(a3), atol(a4));
    }
    if (strcmp(cmd, "checkindex") == 0 && a3) {
        return cmd_checkindex(c, a1, a2, a3);
    }
    if (strcmp(cmd, "countrange") == 0 && a1) {
        return cmd_countrange(c, atoll(a1));
    }
    if (strcmp(cmd, "gcqueue") == 0) {
        return cmd_gcqueue(c);
    }
    if (strcmp(cmd, "wait") == 0 && a2) {
        return cmd_wait(c, strtoull(a1, NULL, 10), atol(a2));
    }
    printf("fail usage: %s\n", cmd);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "--pd") != 0) {
        fprintf(stderr, "usage: catalog_driver --pd ADDR < script\n");
        return 2;
    }
    pd_addr = argv[2];
    cm_log_set_level(CM_LOG_WARN);
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    while (rc == 0 && getline(&line, &cap, stdin) > 0) {
        rc = run_line(line);
        fflush(stdout);
    }
    free(line);
    for (int c = 0; c < NCAT; c++) {
        if (cats[c] != NULL) {
            sql_schema_release(held[c]);
            sql_cat_close(cats[c]);
            cm_kv_client_free(kcs[c]);
        }
    }
    return rc;
}
