/*
 * bf_driver.c — the client of the parallel backfill and ADMIN CHECK e2e tests (test_ddl_bf.py)
 * and of the backfill figures (docs/ddl.md "Backfill"). It opens one sql_catalog against a real
 * cluster and runs a script from stdin, one command per line, one result line per command
 * (errors of the code under test are results "err ERRNO msg", not failures):
 *
 *   open                                  -> "ok version=V"
 *   ddl SQL…                              sql_ddl_exec (the current database is the last `use`)
 *   use DB
 *   rows DB T FROM N MOD                  rows with handles FROM..FROM+N-1 written straight to KV
 *                                         WITHOUT index entries; every non-handle column gets
 *                                         value v = (h * 7919) % MOD (MOD 0: v = h): integers v,
 *                                         strings the text of v filled to the column's length
 *   split DB T H…                         splits the regions at the row keys of H… -> "ok"
 *   backfill DB T IDX[,IDX…] WORKERS BATCH [from=HEX] [before=N] [stop=K] [writers=W]
 *                                         sql_ddl_backfill; each checkpoint prints "ckpt HEX ROWS";
 *                                         stop=K: the K-th checkpoint callback with rows > 0 fails
 *                                         (the run must stop); writers=W: W threads insert,
 *                                         update and delete rows (maintaining every index, as
 *                                         DML in write-only does) while it runs
 *                                         -> "ok rows=N ms=T [writes=N]" | "err ERRNO msg"
 *   verify DB T IDX [upto=HEX]            the index against its rows, entry by entry, at one
 *                                         snapshot (rows below upto only: no extra count)
 *                                         -> "ok rows=R entries=E missing=M wrong=W extra=X"
 *   check DB T [IDX]                      sql_ddl_check_table -> "ok ms=T" | "err ERRNO msg"
 *   corrupt DB T IDX H delete|value|key|dangling H2
 *                                         breaks the index entry of row H directly in KV
 *   count DB T                            rows -> "ok rows=N"
 * Exit status 0 when every command ran, 1 when one could not run, 2 on usage errors.
 */
#include "cm_keys.h"
#include "cm_kv_client.h"
#include "cm_log.h"
#include "cm_row.h"
#include "cm_time.h"
#include "sql_catalog.h"
#include "sql_ddl_int.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *pd_addr;
static cm_kv_client *kc;
static sql_catalog *cat;
static char curdb[128];

static int fail(const char *what, const cm_err *err)
{
    printf("fail %s: %s\n", what, err ? err->msg : "");
    fflush(stdout);
    return 1;
}

static const sql_cat_table *lookup(const char *db, const char *name, sql_schema **s)
{
    *s = sql_cat_acquire(cat);
    const sql_cat_table *t = sql_schema_table(*s, db, name);
    if (t == NULL) {
        printf("err 1146 no table %s.%s\n", db, name);
        sql_schema_release(*s);
        *s = NULL;
    }
    return t;
}

static void hexout(cm_slice s)
{
    for (size_t i = 0; i < s.len; i++) {
        printf("%02x", s.ptr[i]);
    }
}

static int unhex(const char *h, cm_buf *out)
{
    size_t n = strlen(h);
    for (size_t i = 0; i + 1 < n; i += 2) {
        unsigned v;
        if (sscanf(h + i, "%2x", &v) != 1) {
            return -1;
        }
        cm_buf_append_u8(out, (uint8_t)v);
    }
    return 0;
}

/* ---- rows ----------------------------------------------------------------------------------- */

static bool col_is_string(const sql_cat_col *col)
{
    return col->type.dtype == CM_DT_STRING || col->type.dtype == CM_DT_BYTES;
}

typedef struct rowgen {
    const sql_cat_table *t;
    cm_row_cell *cells;
    char (*texts)[256];
} rowgen;

static void rowgen_init(rowgen *g, const sql_cat_table *t)
{
    g->t = t;
    g->cells = calloc(t->ncols, sizeof(cm_row_cell));
    g->texts = calloc(t->ncols, 256);
}

static void rowgen_fini(rowgen *g)
{
    free(g->cells);
    free(g->texts);
}

/* The row of handle h with value v in every other column: key and value. */
static int make_row(rowgen *g, int64_t h, int64_t v, cm_buf *key, cm_buf *val, cm_err *err)
{
    const sql_cat_table *t = g->t;
    for (uint32_t i = 0; i < t->ncols; i++) {
        const sql_cat_col *c = &t->cols[i];
        g->cells[i].id = c->id;
        if ((int32_t)i == t->handle_col) {
            g->cells[i].value = cm_datum_int64(h);
        } else if (col_is_string(c)) {
            uint32_t len = c->type.length ? c->type.length : 16;
            len = len > 120 ? 120 : len;
            int n = snprintf(g->texts[i], 256, "%" PRId64 "-", v);
            for (uint32_t k = (uint32_t)n; k < len; k++) {
                g->texts[i][k] = (char)('a' + (uint64_t)(v * 31 + k * 7) % 26);
            }
            size_t l = (uint32_t)n > len ? (size_t)n : len;
            g->cells[i].value.type = (cm_dtype)c->type.dtype;
            g->cells[i].value.v.bytes = cm_slice_make(g->texts[i], l);
        } else {
            g->cells[i].value = cm_datum_int64(v);
        }
    }
    cm_buf_reset(key);
    cm_buf_reset(val);
    int rc = cm_keys_append_row(key, t->id, h);
    return rc ? cm_err_set(err, rc, "key") : cm_row_encode(val, g->cells, t->ncols, err);
}

static int64_t value_of(int64_t h, long mod)
{
    return mod > 0 ? (int64_t)(((uint64_t)h * 7919u) % (uint64_t)mod) : h;
}

static int cmd_rows(const char *db, const char *name, long from, long n, long mod)
{
    sql_schema *s;
    const sql_cat_table *t = lookup(db, name, &s);
    if (t == NULL) {
        return 0;
    }
    cm_err err;
    rowgen g;
    rowgen_init(&g, t);
    cm_buf key = CM_BUF_INIT, val = CM_BUF_INIT;
    int rc = 0;
    for (long b = from; rc == 0 && b < from + n; b += 1000) {
        cm_txn *x = NULL;
        rc = cm_txn_begin(kc, &x, &err);
        for (long h = b; rc == 0 && h < b + 1000 && h < from + n; h++) {
            rc = make_row(&g, h, value_of(h, mod), &key, &val, &err);
            rc = rc ? rc : cm_txn_set(x, cm_buf_slice(&key), cm_buf_slice(&val), &err);
        }
        rc = rc ? rc : cm_txn_commit(x, &err);
        cm_txn_free(x);
    }
    rowgen_fini(&g);
    cm_buf_fini(&key);
    cm_buf_fini(&val);
    sql_schema_release(s);
    if (rc != 0) {
        return fail("rows", &err);
    }
    printf("ok rows=%ld\n", n);
    return 0;
}

static int cmd_split(const char *db, const char *name, char **hs, int nh)
{
    sql_schema *s;
    const sql_cat_table *t = lookup(db, name, &s);
    if (t == NULL) {
        return 0;
    }
    cm_err err;
    cm_buf key = CM_BUF_INIT;
    int rc = 0;
    for (int i = 0; rc == 0 && i < nh; i++) {
        cm_buf_reset(&key);
        cm_keys_append_row(&key, t->id, atoll(hs[i]));
        rc = cm_kv_split(kc, cm_buf_slice(&key), &err);
    }
    cm_buf_fini(&key);
    sql_schema_release(s);
    if (rc != 0) {
        return fail("split", &err);
    }
    printf("ok\n");
    return 0;
}

/* ---- index entries of a row ------------------------------------------------------------------ */

static int row_entry(const sql_cat_table *t, const sql_cat_index *ix, cm_slice row, int64_t h,
                     cm_buf *key, cm_buf *val, cm_err *err)
{
    cm_row_col cols[16];
    cm_datum d[16];
    for (uint32_t j = 0; j < ix->ncols && j < 16; j++) {
        cols[j].id = t->cols[ix->cols[j]].id;
        cols[j].type = (cm_dtype)t->cols[ix->cols[j]].type.dtype;
    }
    int rc = cm_row_decode(row, cols, ix->ncols, d, NULL, err);
    cm_buf_reset(key);
    cm_buf_reset(val);
    return rc ? rc : sql_cat_index_entry(t, ix, d, h, key, val, NULL, err);
}

/* ---- writers: DML as an index in write-only sees it ----------------------------------------- */

typedef struct writers {
    const sql_cat_table *t;
    int64_t hmax;
    long mod;
    atomic_bool stop;
    atomic_ulong writes, conflicts, errors;
    char errmsg[256];
} writers;

static void *writer_main(void *arg)
{
    writers *w = arg;
    const sql_cat_table *t = w->t;
    uint64_t seed = (uint64_t)(uintptr_t)&seed ^ cm_time_mono_ms();
    rowgen g;
    rowgen_init(&g, t);
    cm_buf key = CM_BUF_INIT, val = CM_BUF_INIT, old = CM_BUF_INIT, ek = CM_BUF_INIT,
           ev = CM_BUF_INIT;
    while (!atomic_load(&w->stop)) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        int64_t h = 1 + (int64_t)((seed >> 33) % (uint64_t)(w->hmax + w->hmax / 10 + 1));
        int op = (int)((seed >> 20) % 10); /* 0-5 update/insert, 6-7 delete, 8-9 insert new */
        if (op >= 8) {
            h = w->hmax + 1000000 + (int64_t)((seed >> 40) % 100000);
        }
        cm_err err;
        cm_txn *x = NULL;
        int rc = cm_txn_begin(kc, &x, &err);
        cm_buf_reset(&key);
        cm_keys_append_row(&key, t->id, h);
        bool exists = false;
        if (rc == 0) {
            int g2 = cm_txn_get(x, cm_buf_slice(&key), &old, &err);
            exists = g2 == 0;
            rc = g2 == CM_E_NOT_FOUND ? 0 : g2;
        }
        for (uint32_t i = 0; rc == 0 && exists && i < t->nindexes; i++) {
            rc = row_entry(t, &t->indexes[i], cm_buf_slice(&old), h, &ek, &ev, &err);
            rc = rc ? rc : cm_txn_delete(x, cm_buf_slice(&ek), &err);
        }
        if (rc == 0 && op >= 6 && op < 8) {
            rc = exists ? cm_txn_delete(x, cm_buf_slice(&key), &err) : 0;
        } else if (rc == 0) {
            int64_t v = value_of((int64_t)(seed >> 11) & 0xffffff, w->mod);
            rc = make_row(&g, h, v, &key, &val, &err);
            rc = rc ? rc : cm_txn_set(x, cm_buf_slice(&key), cm_buf_slice(&val), &err);
            for (uint32_t i = 0; rc == 0 && i < t->nindexes; i++) {
                rc = row_entry(t, &t->indexes[i], cm_buf_slice(&val), h, &ek, &ev, &err);
                rc = rc ? rc : cm_txn_set(x, cm_buf_slice(&ek), cm_buf_slice(&ev), &err);
            }
        }
        rc = rc ? rc : cm_txn_commit(x, &err);
        cm_txn_free(x);
        if (rc == 0) {
            atomic_fetch_add(&w->writes, 1);
        } else if (rc == CM_E_WRITE_CONFLICT || rc == CM_E_KEY_IS_LOCKED ||
                   rc == CM_E_TXN_ROLLED_BACK) {
            atomic_fetch_add(&w->conflicts, 1);
        } else {
            if (atomic_fetch_add(&w->errors, 1) == 0) {
                snprintf(w->errmsg, sizeof(w->errmsg), "%.200s", err.msg);
            }
        }
    }
    rowgen_fini(&g);
    cm_buf_fini(&key);
    cm_buf_fini(&val);
    cm_buf_fini(&old);
    cm_buf_fini(&ek);
    cm_buf_fini(&ev);
    return NULL;
}

/* ---- backfill ---------------------------------------------------------------------------------
 */

typedef struct ckpt_state {
    int stop_at; /* 0: never */
    int seen;
    cm_buf last;
    uint64_t last_rows;
    bool monotone;
} ckpt_state;

static int on_ckpt(void *user, cm_slice next_key, uint64_t rows_done, cm_err *err)
{
    ckpt_state *c = user;
    if (c->last.len > 0 &&
        (cm_slice_cmp(next_key, cm_buf_slice(&c->last)) < 0 || rows_done < c->last_rows)) {
        c->monotone = false;
    }
    cm_buf_reset(&c->last);
    cm_buf_append_slice(&c->last, next_key);
    c->last_rows = rows_done;
    printf("ckpt ");
    hexout(next_key);
    printf(" %" PRIu64 "\n", rows_done);
    fflush(stdout);
    if (rows_done > 0 && c->stop_at > 0 && ++c->seen >= c->stop_at) {
        return cm_err_set(err, CM_E_DDL_OWNER_LOST, "test: stop at checkpoint %d", c->seen);
    }
    return 0;
}

static int cmd_backfill(const char *db, const char *name, char *ixlist, int argc, char **argv)
{
    sql_schema *s;
    const sql_cat_table *t = lookup(db, name, &s);
    if (t == NULL) {
        return 0;
    }
    int64_t ids[64];
    uint32_t nids = 0;
    for (char *p = strtok(ixlist, ","); p != NULL && nids < 64; p = strtok(NULL, ",")) {
        const sql_cat_index *ix = sql_table_index(t, p);
        if (ix == NULL) {
            printf("err 1176 no index %s\n", p);
            sql_schema_release(s);
            return 0;
        }
        ids[nids++] = ix->id;
    }
    sql_bf_options o;
    sql_bf_options_default(&o);
    o.workers = (uint32_t)atoi(argv[0]);
    o.batch_rows = (uint32_t)atoi(argv[1]);
    cm_buf from = CM_BUF_INIT;
    uint64_t before = 0;
    ckpt_state cs;
    memset(&cs, 0, sizeof(cs));
    cs.monotone = true;
    int nwriters = 0;
    for (int i = 2; i < argc; i++) {
        if (strncmp(argv[i], "from=", 5) == 0) {
            unhex(argv[i] + 5, &from);
        } else if (strncmp(argv[i], "before=", 7) == 0) {
            before = strtoull(argv[i] + 7, NULL, 10);
        } else if (strncmp(argv[i], "stop=", 5) == 0) {
            cs.stop_at = atoi(argv[i] + 5);
        } else if (strncmp(argv[i], "writers=", 8) == 0) {
            nwriters = atoi(argv[i] + 8);
        }
    }
    writers w;
    memset(&w, 0, sizeof(w));
    w.t = t;
    w.mod = 1000;
    pthread_t th[16];
    nwriters = nwriters > 16 ? 16 : nwriters;
    if (nwriters > 0) {
        /* the largest handle: rows are 1..N in these tests */
        cm_txn *x = NULL;
        cm_txn_iter *it = NULL;
        cm_buf rs = CM_BUF_INIT, re = CM_BUF_INIT;
        cm_err e;
        cm_keys_rows_range(t->id, &rs, &re);
        if (cm_txn_begin(kc, &x, &e) == 0 &&
            cm_txn_scan(x, cm_buf_slice(&rs), cm_buf_slice(&re), &it, &e) == 0) {
            cm_slice k, v;
            while (cm_txn_iter_next(it, &k, &v, &e) == 1) {
                int64_t tid, h;
                if (cm_keys_decode_row(k, &tid, &h, &e) == 0 && h > w.hmax) {
                    w.hmax = h;
                }
            }
        }
        cm_txn_iter_free(it);
        cm_txn_free(x);
        cm_buf_fini(&rs);
        cm_buf_fini(&re);
        for (int i = 0; i < nwriters; i++) {
            pthread_create(&th[i], NULL, writer_main, &w);
        }
        cm_time_sleep_ms(200);
    }
    cm_err err;
    cm_err_clear(&err);
    uint64_t t0 = cm_time_mono_ms();
    int rc =
        sql_ddl_backfill(cat, t, ids, nids, cm_buf_slice(&from), before, &o, on_ckpt, &cs, &err);
    uint64_t ms = cm_time_mono_ms() - t0;
    if (nwriters > 0) {
        cm_time_sleep_ms(200);
        atomic_store(&w.stop, true);
        for (int i = 0; i < nwriters; i++) {
            pthread_join(th[i], NULL);
        }
    }
    if (!cs.monotone) {
        printf("err 0 checkpoints went backwards\n");
    } else if (rc != 0) {
        printf("err %d %s\n", cm_err_mysql_errno(rc), err.msg);
    } else {
        printf("ok rows=%" PRIu64 " ms=%" PRIu64, cs.last_rows, ms);
        if (nwriters > 0) {
            printf(" writes=%lu conflicts=%lu errors=%lu%s%s", atomic_load(&w.writes),
                   atomic_load(&w.conflicts), atomic_load(&w.errors), w.errmsg[0] ? " " : "",
                   w.errmsg);
        }
        printf("\n");
    }
    cm_buf_fini(&cs.last);
    cm_buf_fini(&from);
    sql_schema_release(s);
    return 0;
}

/* ---- verify ---------------------------------------------------------------------------------- */

typedef struct kv {
    cm_buf k, v;
} kv;

static int kv_cmp(const void *a, const void *b)
{
    const kv *x = a, *y = b;
    return cm_slice_cmp(cm_buf_slice(&x->k), cm_buf_slice(&y->k));
}

static int cmd_verify(const char *db, const char *name, const char *iname, const char *upto)
{
    sql_schema *s;
    const sql_cat_table *t = lookup(db, name, &s);
    if (t == NULL) {
        return 0;
    }
    const sql_cat_index *ix = sql_table_index(t, iname);
    if (ix == NULL) {
        printf("err 1176 no index %s\n", iname);
        sql_schema_release(s);
        return 0;
    }
    cm_buf lim = CM_BUF_INIT;
    if (upto != NULL && strncmp(upto, "upto=", 5) == 0) {
        unhex(upto + 5, &lim);
    }
    cm_err err;
    cm_txn *x = NULL;
    cm_txn_iter *it = NULL;
    cm_buf rs = CM_BUF_INIT, re = CM_BUF_INIT, is = CM_BUF_INIT, ie = CM_BUF_INIT;
    cm_keys_rows_range(t->id, &rs, &re);
    cm_keys_index_range(t->id, ix->id, &is, &ie);
    kv *want = NULL;
    size_t nw = 0, cap = 0;
    uint64_t rows = 0, entries = 0, missing = 0, wrong = 0, extra = 0;
    int rc = cm_txn_begin(kc, &x, &err);
    rc = rc ? rc
            : cm_txn_scan(x, cm_buf_slice(&rs), lim.len ? cm_buf_slice(&lim) : cm_buf_slice(&re),
                          &it, &err);
    while (rc == 0) {
        cm_slice k, v;
        int more = cm_txn_iter_next(it, &k, &v, &err);
        if (more <= 0) {
            rc = more;
            break;
        }
        int64_t tid, h;
        rc = cm_keys_decode_row(k, &tid, &h, &err);
        if (nw == cap) {
            cap = cap ? cap * 2 : 1024;
            want = realloc(want, cap * sizeof(*want));
        }
        cm_buf_init(&want[nw].k);
        cm_buf_init(&want[nw].v);
        rc = rc ? rc : row_entry(t, ix, v, h, &want[nw].k, &want[nw].v, &err);
        nw++;
        rows++;
    }
    cm_txn_iter_free(it);
    it = NULL;
    qsort(want, nw, sizeof(*want), kv_cmp);
    /* merge with the index range, both in key order */
    size_t wi = 0;
    rc = rc ? rc : cm_txn_scan(x, cm_buf_slice(&is), cm_buf_slice(&ie), &it, &err);
    while (rc == 0) {
        cm_slice k, v;
        int more = cm_txn_iter_next(it, &k, &v, &err);
        if (more <= 0) {
            rc = more;
            break;
        }
        entries++;
        while (wi < nw && cm_slice_cmp(cm_buf_slice(&want[wi].k), k) < 0) {
            missing++;
            wi++;
        }
        if (wi < nw && cm_slice_eq(cm_buf_slice(&want[wi].k), k)) {
            wrong += !cm_slice_eq(cm_buf_slice(&want[wi].v), v);
            wi++;
        } else {
            extra++;
        }
    }
    missing += nw - wi;
    cm_txn_iter_free(it);
    cm_txn_free(x);
    if (rc != 0) {
        printf("err %d %s\n", cm_err_mysql_errno(rc), err.msg);
    } else {
        printf("ok rows=%" PRIu64 " entries=%" PRIu64 " missing=%" PRIu64 " wrong=%" PRIu64
               " extra=%" PRIu64 "\n",
               rows, entries, missing, wrong, lim.len ? 0 : extra);
    }
    for (size_t i = 0; i < nw; i++) {
        cm_buf_fini(&want[i].k);
        cm_buf_fini(&want[i].v);
    }
    free(want);
    cm_buf_fini(&lim);
    cm_buf_fini(&rs);
    cm_buf_fini(&re);
    cm_buf_fini(&is);
    cm_buf_fini(&ie);
    sql_schema_release(s);
    return 0;
}

/* ---- check and corrupt ------------------------------------------------------------------------
 */

static int cmd_check(const char *db, const char *name, const char *iname)
{
    sql_schema *s;
    const sql_cat_table *t = lookup(db, name, &s);
    if (t == NULL) {
        return 0;
    }
    cm_err err;
    cm_err_clear(&err);
    uint64_t t0 = cm_time_mono_ms();
    int rc = sql_ddl_check_table(cat, t, iname, &err);
    if (rc != 0) {
        printf("err %d %s\n", cm_err_mysql_errno(rc), err.msg);
    } else {
        printf("ok ms=%" PRIu64 "\n", cm_time_mono_ms() - t0);
    }
    sql_schema_release(s);
    return 0;
}

static int cmd_corrupt(const char *db, const char *name, const char *iname, int64_t h,
                       const char *kind, const char *arg)
{
    sql_schema *s;
    const sql_cat_table *t = lookup(db, name, &s);
    if (t == NULL) {
        return 0;
    }
    const sql_cat_index *ix = sql_table_index(t, iname);
    if (ix == NULL) {
        printf("err 1176 no index %s\n", iname);
        sql_schema_release(s);
        return 0;
    }
    cm_err err;
    cm_txn *x = NULL;
    cm_buf key = CM_BUF_INIT, row = CM_BUF_INIT, ek = CM_BUF_INIT, ev = CM_BUF_INIT;
    cm_keys_append_row(&key, t->id, h);
    int rc = cm_txn_begin(kc, &x, &err);
    rc = rc ? rc : cm_txn_get(x, cm_buf_slice(&key), &row, &err);
    rc = rc ? rc : row_entry(t, ix, cm_buf_slice(&row), h, &ek, &ev, &err);
    if (rc == 0 && strcmp(kind, "delete") == 0) {
        rc = cm_txn_delete(x, cm_buf_slice(&ek), &err);
    } else if (rc == 0 && strcmp(kind, "value") == 0) {
        cm_buf nv = CM_BUF_INIT;
        if (ev.len == 8) { /* a unique entry: another handle */
            cm_codec_append_int64(&nv, h + 1000000);
        } else {
            cm_buf_append_u8(&nv, 1);
        }
        rc = cm_txn_set(x, cm_buf_slice(&ek), cm_buf_slice(&nv), &err);
        cm_buf_fini(&nv);
    } else if (rc == 0 && strcmp(kind, "dangling") == 0 && arg != NULL) {
        cm_buf ek2 = CM_BUF_INIT, ev2 = CM_BUF_INIT;
        rc = row_entry(t, ix, cm_buf_slice(&row), atoll(arg), &ek2, &ev2, &err);
        rc = rc ? rc : cm_txn_set(x, cm_buf_slice(&ek2), cm_buf_slice(&ev2), &err);
        cm_buf_fini(&ek2);
        cm_buf_fini(&ev2);
    } else if (rc == 0 && strcmp(kind, "key") == 0) {
        /* the entry of another value for this row: the row made with value v + 1 */
        rowgen g;
        rowgen_init(&g, t);
        cm_buf k2 = CM_BUF_INIT, r2 = CM_BUF_INIT, ek2 = CM_BUF_INIT, ev2 = CM_BUF_INIT;
        rc = make_row(&g, h, 987654321, &k2, &r2, &err);
        rc = rc ? rc : row_entry(t, ix, cm_buf_slice(&r2), h, &ek2, &ev2, &err);
        rc = rc ? rc : cm_txn_delete(x, cm_buf_slice(&ek), &err);
        rc = rc ? rc : cm_txn_set(x, cm_buf_slice(&ek2), cm_buf_slice(&ev2), &err);
        rowgen_fini(&g);
        cm_buf_fini(&k2);
        cm_buf_fini(&r2);
        cm_buf_fini(&ek2);
        cm_buf_fini(&ev2);
    } else if (rc == 0) {
        printf("fail usage: corrupt kind %s\n", kind);
        rc = -1;
    }
    rc = rc ? rc : cm_txn_commit(x, &err);
    cm_txn_free(x);
    cm_buf_fini(&key);
    cm_buf_fini(&row);
    cm_buf_fini(&ek);
    cm_buf_fini(&ev);
    sql_schema_release(s);
    if (rc != 0) {
        return fail("corrupt", &err);
    }
    printf("ok\n");
    return 0;
}

static int cmd_count(const char *db, const char *name)
{
    sql_schema *s;
    const sql_cat_table *t = lookup(db, name, &s);
    if (t == NULL) {
        return 0;
    }
    cm_err err;
    cm_txn *x = NULL;
    cm_txn_iter *it = NULL;
    cm_buf rs = CM_BUF_INIT, re = CM_BUF_INIT;
    cm_keys_rows_range(t->id, &rs, &re);
    uint64_t n = 0;
    int rc = cm_txn_begin(kc, &x, &err);
    rc = rc ? rc : cm_txn_scan(x, cm_buf_slice(&rs), cm_buf_slice(&re), &it, &err);
    cm_slice k, v;
    while (rc == 0 && (rc = cm_txn_iter_next(it, &k, &v, &err)) == 1) {
        n++;
        rc = 0;
    }
    cm_txn_iter_free(it);
    cm_txn_free(x);
    cm_buf_fini(&rs);
    cm_buf_fini(&re);
    sql_schema_release(s);
    if (rc != 0) {
        return fail("count", &err);
    }
    printf("ok rows=%" PRIu64 "\n", n);
    return 0;
}

/* ---- script -----------------------------------------------------------------------------------
 */

static int cmd_ddl(const char *sql)
{
    sql_tokens toks;
    cm_err err;
    cm_err_clear(&err);
    sql_tokens_init(&toks);
    if (sql_lex(sql, strlen(sql), 0, &toks, &err) != 0) {
        sql_tokens_fini(&toks);
        return fail("lex", &err);
    }
    sql_ddl_result res;
    uint64_t t0 = cm_time_mono_ms();
    int rc = sql_ddl_exec(cat, curdb[0] ? curdb : NULL, sql, toks.v, toks.n, &res, &err);
    sql_tokens_fini(&toks);
    if (rc != 0) {
        printf("err %d %s\n", cm_err_mysql_errno(rc), err.msg);
    } else {
        printf("ok ms=%" PRIu64 "\n", cm_time_mono_ms() - t0);
    }
    return 0;
}

static int run_line(char *line)
{
    line[strcspn(line, "\r\n")] = 0;
    if (line[0] == 0 || line[0] == '#') {
        return 0;
    }
    if (strncmp(line, "ddl ", 4) == 0) {
        return cmd_ddl(line + 4);
    }
    char *argv[40];
    int argc = 0;
    for (char *p = strtok(line, " "); p != NULL && argc < 40; p = strtok(NULL, " ")) {
        argv[argc++] = p;
    }
    const char *cmd = argv[0];
    if (strcmp(cmd, "open") == 0) {
        cm_err err;
        sql_cat_options o;
        sql_cat_options_default(&o);
        o.poll_ms = 100;
        if (cm_kv_client_create(pd_addr, NULL, &kc, &err) != 0) {
            return fail("kv client", &err);
        }
        if (sql_cat_open(kc, &o, &cat, &err) != 0) {
            return fail("open", &err);
        }
        sql_schema *s = sql_cat_acquire(cat);
        printf("ok version=%" PRIu64 "\n", sql_schema_version(s));
        sql_schema_release(s);
        return 0;
    }
    if (cat == NULL) {
        printf("fail not open\n");
        return 1;
    }
    if (strcmp(cmd, "use") == 0 && argc == 2) {
        snprintf(curdb, sizeof(curdb), "%s", argv[1]);
        printf("ok\n");
        return 0;
    }
    if (strcmp(cmd, "rows") == 0 && argc == 6) {
        return cmd_rows(argv[1], argv[2], atol(argv[3]), atol(argv[4]), atol(argv[5]));
    }
    if (strcmp(cmd, "split") == 0 && argc >= 4) {
        return cmd_split(argv[1], argv[2], argv + 3, argc - 3);
    }
    if (strcmp(cmd, "backfill") == 0 && argc >= 6) {
        return cmd_backfill(argv[1], argv[2], argv[3], argc - 4, argv + 4);
    }
    if (strcmp(cmd, "verify") == 0 && argc >= 4) {
        return cmd_verify(argv[1], argv[2], argv[3], argc > 4 ? argv[4] : NULL);
    }
    if (strcmp(cmd, "check") == 0 && argc >= 3) {
        return cmd_check(argv[1], argv[2], argc > 3 ? argv[3] : NULL);
    }
    if (strcmp(cmd, "corrupt") == 0 && argc >= 6) {
        return cmd_corrupt(argv[1], argv[2], argv[3], atoll(argv[4]), argv[5],
                           argc > 6 ? argv[6] : NULL);
    }
    if (strcmp(cmd, "count") == 0 && argc == 3) {
        return cmd_count(argv[1], argv[2]);
    }
    printf("fail usage: %s\n", cmd);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "--pd") != 0) {
        fprintf(stderr, "usage: bf_driver --pd ADDR < script\n");
        return 2;
    }
    pd_addr = argv[2];
    cm_log_set_level(getenv("BF_DRIVER_LOG") ? CM_LOG_INFO : CM_LOG_WARN);
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    while (rc == 0 && getline(&line, &cap, stdin) > 0) {
        rc = run_line(line);
        fflush(stdout);
    }
    free(line);
    if (cat != NULL) {
        sql_cat_close(cat);
    }
    if (kc != NULL) {
        cm_kv_client_free(kc);
    }
    return rc;
}
