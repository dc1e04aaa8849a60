/*
 * sql_ddl_backfill.c — the parallel index backfill (sql_ddl_int.h, docs/ddl.md "Backfill").
 *
 * The calling thread (the coordinator) scans the row keys of the range once, at one snapshot,
 * through the coprocessor (only the handle travels) and cuts the range into tasks of at most
 * batch_rows rows that never cross a region boundary known when the backfill starts. Workers
 * (threads, o->workers of them) take the tasks in key order; each task runs as batches, each
 * batch its own transaction at its own start_ts: the batch reads the index columns of at most
 * `limit` rows of the task's range at that start_ts (coprocessor: only those columns travel),
 * builds their entries with sql_cat_index_entry, checks the unique ones with one batch get,
 * writes them and locks every row key it read, then commits. A row written after the batch's
 * start_ts makes the commit conflict; the batch is run again, with half the rows, a bounded
 * number of times. The tasks sit in a window of bounded size; the window's done prefix is the
 * checkpoint, reported on the calling thread about once a second and at the end.
 */
#include "cm_copr.h"
#include "cm_failpoint.h"
#include "cm_keys.h"
#include "cm_log.h"
#include "cm_pd_client.h"
#include "cm_row.h"
#include "cm_time.h"
#include "sql_ddl_bf.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOG_COMP "ddl"

/* Tasks issued but not yet retired, per worker: bounds the coordinator's memory (two keys per
 * task) while keeping every worker busy. */
#define BF_WINDOW_PER_WORKER 8
/* Rows per page of the coordinator's key scan (the kvnode's maximum is 10,000). */
#define BF_SPLIT_PAGE 8192
/* Region boundaries remembered (more regions than this: the later boundaries are not cut at). */
#define BF_BOUNDS_MAX 65536
/* How often the checkpoint callback runs. */
#define BF_CKPT_MS 1000

static int nomem(cm_err *err)
{
    return cm_err_set(err, CM_E_NOMEM, "index backfill: out of memory");
}

/* ---- shared with ADMIN CHECK (sql_ddl_bf.h) ---------------------------------------------------
 */

/* The value a row written before column c existed reads (as the vtab reads it). */
static int col_default(const sql_cat_col *c, cm_datum *out, cm_buf *mem, cm_err *err)
{
    *out = cm_datum_null();
    if (!c->has_default || c->default_null || c->default_text == NULL || c->default_now) {
        return 0;
    }
    sql_value in = sql_value_text(c->default_text, strlen(c->default_text));
    sql_type_note note;
    memset(&note, 0, sizeof(note));
    if (cm_buf_reserve(mem, SQL_TYPE_STORE_SCRATCH_MAX) != 0) {
        return nomem(err);
    }
    return sql_type_store(&c->type, c->name, &in, false, out, mem, &note, err);
}

int sql_bf_cols_init(sql_bf_cols *b, const sql_cat_table *t, const sql_cat_index *const *ix,
                     uint32_t nix, cm_err *err)
{
    memset(b, 0, sizeof(*b));
    b->t = t;
    if (nix > SQL_BF_INDEXES_MAX) {
        return cm_err_set(err, CM_E_INVALID, "index backfill: %u indexes", nix);
    }
    for (uint32_t i = 0; i < nix; i++) {
        const sql_cat_index *x = ix[i];
        if (x->ncols > SQL_CAT_KEY_PARTS_MAX) {
            return cm_err_set(err, CM_E_INVALID, "index %s with %u columns", x->name, x->ncols);
        }
        b->ix[b->nix] = x;
        for (uint32_t k = 0; k < x->ncols; k++) {
            uint32_t off = x->cols[k];
            if (off >= t->ncols) {
                return cm_err_set(err, CM_E_CORRUPT, "index %s names column %u of %u", x->name, off,
                                  t->ncols);
            }
            uint32_t j = 0;
            while (j < b->ncols && b->offs[j] != off) {
                j++;
            }
            if (j == b->ncols) {
                const sql_cat_col *c = &t->cols[off];
                b->offs[j] = off;
                b->pcols[j].id = c->id;
                b->pcols[j].dtype = (uint8_t)c->type.dtype;
                b->ncols++;
                int rc = col_default(c, &b->dflt[j], &b->dmem[j], err);
                if (rc != 0) {
                    return rc;
                }
            }
            b->pos[b->nix][k] = j;
        }
        b->nix++;
    }
    return 0;
}

void sql_bf_cols_fini(sql_bf_cols *b)
{
    for (uint32_t j = 0; j < b->ncols; j++) {
        cm_buf_fini(&b->dmem[j]);
    }
}

int sql_bf_plan(const sql_bf_cols *b, uint64_t limit, cm_buf *plan, cm_err *err)
{
    cm_copr_plan p;
    memset(&p, 0, sizeof(p));
    p.scan = CM_COPR_SCAN_TABLE;
    p.ncols = b->ncols;
    p.cols = b->pcols;
    if (limit > 0) {
        p.has_limit = true;
        p.limit = limit;
    }
    return cm_copr_plan_encode(&p, plan, err);
}

int sql_bf_read_row(const sql_bf_cols *b, cm_reader *r, cm_slice *key, cm_datum *vals, cm_err *err)
{
    uint64_t kl;
    if (cm_reader_uvarint(r, &kl) != 0 || cm_reader_bytes(r, (size_t)kl, key) != 0) {
        return cm_err_set(err, CM_E_CORRUPT, "index backfill: truncated coprocessor row");
    }
    for (uint32_t j = 0; j < b->ncols; j++) {
        uint8_t pr;
        if (cm_reader_u8(r, &pr) != 0) {
            return cm_err_set(err, CM_E_CORRUPT, "index backfill: truncated coprocessor row");
        }
        if (pr == CM_COPR_ABSENT) {
            vals[j] = b->dflt[j];
        } else if (pr == CM_COPR_NULL) {
            vals[j] = cm_datum_null();
        } else if (pr == CM_COPR_VALUE) {
            uint64_t vl;
            cm_slice v;
            if (cm_reader_uvarint(r, &vl) != 0 || cm_reader_bytes(r, (size_t)vl, &v) != 0) {
                return cm_err_set(err, CM_E_CORRUPT, "index backfill: truncated coprocessor value");
            }
            int rc = cm_row_value_decode((cm_dtype)b->pcols[j].dtype, v, &vals[j], err);
            if (rc != 0) {
                return rc;
            }
        } else {
            return cm_err_set(err, CM_E_CORRUPT, "index backfill: presence byte %u", pr);
        }
    }
    return 0;
}

int sql_bf_entry(const sql_bf_cols *b, uint32_t i, const cm_datum *vals, int64_t handle,
                 cm_buf *key, cm_buf *value, bool *handle_in_key, cm_err *err)
{
    cm_datum d[SQL_CAT_KEY_PARTS_MAX];
    const sql_cat_index *x = b->ix[i];
    for (uint32_t k = 0; k < x->ncols; k++) {
        d[k] = vals[b->pos[i][k]];
    }
    return sql_cat_index_entry(b->t, x, d, handle, key, value, handle_in_key, err);
}

void sql_bf_dup_text(const sql_bf_cols *b, uint32_t i, const cm_datum *vals, cm_buf *out)
{
    const sql_cat_index *x = b->ix[i];
    cm_buf tmp = CM_BUF_INIT;
    for (uint32_t k = 0; k < x->ncols; k++) {
        if (k > 0) {
            cm_buf_append_u8(out, '-');
        }
        const sql_cat_col *c = &b->t->cols[x->cols[k]];
        sql_value v;
        cm_err e;
        cm_buf_reset(&tmp);
        if (sql_type_load(&c->type, &vals[b->pos[i][k]], &v, &tmp, &e) != 0) {
            cm_buf_printf(out, "?");
            continue;
        }
        switch (v.type) {
        case SQL_V_NULL:
            cm_buf_printf(out, "NULL");
            break;
        case SQL_V_INT:
            cm_buf_printf(out, "%lld", (long long)v.i);
            break;
        case SQL_V_UINT:
            cm_buf_printf(out, "%llu", (unsigned long long)v.u);
            break;
        case SQL_V_DOUBLE:
            cm_buf_printf(out, "%.17g", v.d);
            break;
        default:
            cm_buf_append(out, v.s, v.n > 64 ? 64 : v.n);
            break;
        }
    }
    cm_buf_fini(&tmp);
}

/* ---- the run -----------------------------------------------------------------------------------
 */

typedef struct bf_task {
    cm_buf lo, hi; /* rows [lo, hi) */
    uint64_t rows; /* rows backfilled (when done) */
    int state;     /* TASK_* */
} bf_task;

enum { TASK_QUEUED = 1, TASK_RUNNING = 2, TASK_DONE = 3 };

typedef struct bf_run {
    sql_catalog *c;
    const sql_bf_cols *cols;
    uint32_t batch_rows;
    int64_t job_id;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* a task was queued or finished, or stop */
    bf_task *win;      /* task seq s is win[s % wcap] */
    uint32_t wcap;
    uint64_t first; /* oldest task not retired */
    uint64_t next;  /* next task to issue */
    uint64_t taken; /* next task a worker takes */
    bool no_more;   /* the coordinator issued its last task */
    bool stop;
    int rc; /* first error (under mu) */
    cm_err err;
    /* retired prefix: the checkpoint */
    cm_buf ckpt_key;
    uint64_t ckpt_rows;
    /* figures */
    uint64_t batches, retries;
} bf_run;

static void run_fail(bf_run *r, int rc, const cm_err *err)
{
    pthread_mutex_lock(&r->mu);
    if (r->rc == 0) {
        r->rc = rc;
        r->err = *err;
    }
    r->stop = true;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void timed_wait(bf_run *r, uint64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    ts.tv_sec += (time_t)(ms / 1000) + ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    pthread_cond_timedwait(&r->cv, &r->mu, &ts);
}

/* Under mu: moves the done prefix of the window into the checkpoint. */
static int retire(bf_run *r)
{
    while (r->first < r->next) {
        bf_task *t = &r->win[r->first % r->wcap];
        if (t->state != TASK_DONE) {
            break;
        }
        r->ckpt_rows += t->rows;
        cm_buf_reset(&r->ckpt_key);
        if (cm_buf_append_slice(&r->ckpt_key, cm_buf_slice(&t->hi)) != 0) {
            return CM_E_NOMEM;
        }
        t->state = 0;
        r->first++;
    }
    return 0;
}

/* ---- one batch ------------------------------------------------------------------------------- */

typedef struct bf_batch {
    const bf_run *r;
    uint32_t limit;
    uint32_t n;        /* rows read */
    bool more;         /* stopped at limit: rows may follow */
    cm_buf rowkeys;    /* n row keys, CM_KEYS_ROW_LEN bytes each */
    cm_buf ekeys;      /* entry keys, back to back */
    cm_buf evals;      /* entry values, back to back */
    size_t *ek_off;    /* entry e: key [ek_off[e], ek_off[e + 1]) */
    size_t *ev_off;    /* value [ev_off[e], ev_off[e + 1]) */
    uint32_t *e_row;   /* row of entry e */
    uint8_t *e_ix;     /* index of entry e (in cols) */
    uint8_t *e_unique; /* the value holds the handle: checked for duplicates */
    uint32_t ne, ecap;
    int rc;
    cm_err err;
} bf_batch;

static int batch_grow(bf_batch *b)
{
    uint32_t cap = b->ecap ? b->ecap * 2 : 1024;
    size_t *ko = realloc(b->ek_off, sizeof(*ko) * (cap + 1));
    if (ko != NULL) {
        b->ek_off = ko;
    }
    size_t *vo = realloc(b->ev_off, sizeof(*vo) * (cap + 1));
    if (vo != NULL) {
        b->ev_off = vo;
    }
    uint32_t *er = realloc(b->e_row, sizeof(*er) * cap);
    if (er != NULL) {
        b->e_row = er;
    }
    uint8_t *ei = realloc(b->e_ix, cap);
    if (ei != NULL) {
        b->e_ix = ei;
    }
    uint8_t *eu = realloc(b->e_unique, cap);
    if (eu != NULL) {
        b->e_unique = eu;
    }
    if (ko == NULL || vo == NULL || er == NULL || ei == NULL || eu == NULL) {
        return CM_E_NOMEM;
    }
    b->ecap = cap;
    return 0;
}

static void batch_reset(bf_batch *b, uint32_t limit)
{
    b->limit = limit;
    b->n = 0;
    b->more = false;
    cm_buf_reset(&b->rowkeys);
    cm_buf_reset(&b->ekeys);
    cm_buf_reset(&b->evals);
    b->ne = 0;
    b->rc = 0;
}

static void batch_fini(bf_batch *b)
{
    cm_buf_fini(&b->rowkeys);
    cm_buf_fini(&b->ekeys);
    cm_buf_fini(&b->evals);
    free(b->ek_off);
    free(b->ev_off);
    free(b->e_row);
    free(b->e_ix);
    free(b->e_unique);
}

/* Coprocessor callback of a batch's read: one response of rows. */
static int batch_cb(void *user, cm_slice data)
{
    bf_batch *b = user;
    const sql_bf_cols *cols = b->r->cols;
    cm_reader rd;
    cm_reader_init(&rd, data.ptr, data.len);
    cm_datum vals[SQL_BF_COLS_MAX];
    while (cm_reader_left(&rd) > 0) {
        cm_slice key;
        int64_t tid, handle;
        int rc = sql_bf_read_row(cols, &rd, &key, vals, &b->err);
        rc = rc ? rc : cm_keys_decode_row(key, &tid, &handle, &b->err);
        if (rc == 0 && tid != cols->t->id) {
            rc = cm_err_set(&b->err, CM_E_CORRUPT, "index backfill: row of table %lld in %lld",
                            (long long)tid, (long long)cols->t->id);
        }
        if (rc == 0 && cm_buf_append_slice(&b->rowkeys, key) != 0) {
            rc = nomem(&b->err);
        }
        for (uint32_t i = 0; rc == 0 && i < cols->nix; i++) {
            if (b->ne + 1 >= b->ecap && batch_grow(b) != 0) {
                rc = nomem(&b->err);
                break;
            }
            uint32_t e = b->ne;
            b->ek_off[e] = b->ekeys.len;
            b->ev_off[e] = b->evals.len;
            bool hik = false;
            rc = sql_bf_entry(cols, i, vals, handle, &b->ekeys, &b->evals, &hik, &b->err);
            if (rc == 0) {
                b->e_row[e] = b->n;
                b->e_ix[e] = (uint8_t)i;
                b->e_unique[e] = !hik;
                b->ne++;
                b->ek_off[b->ne] = b->ekeys.len;
                b->ev_off[b->ne] = b->evals.len;
            }
        }
        if (rc != 0) {
            b->rc = rc;
            return 1;
        }
        /* a full batch: rows may follow (the LIMIT of the plan ends the region's scan, so the
         * scan's own end says nothing about what lies beyond) */
        if (++b->n >= b->limit) {
            b->more = true;
            return 1;
        }
    }
    return 0;
}

static cm_slice ekey(const bf_batch *b, uint32_t e)
{
    return cm_slice_make(b->ekeys.ptr + b->ek_off[e], b->ek_off[e + 1] - b->ek_off[e]);
}

static cm_slice evalue(const bf_batch *b, uint32_t e)
{
    return cm_slice_make(b->evals.ptr + b->ev_off[e], b->ev_off[e + 1] - b->ev_off[e]);
}

static cm_slice rowkey(const bf_batch *b, uint32_t row)
{
    return cm_slice_make(b->rowkeys.ptr + (size_t)row * CM_KEYS_ROW_LEN, CM_KEYS_ROW_LEN);
}

/* 1062 for entry e of the batch: the row is read again (in x) for the values' text. */
static int dup_error(const bf_batch *b, cm_txn *x, uint32_t e, cm_err *err)
{
    const sql_bf_cols *cols = b->r->cols;
    const sql_cat_index *ix = cols->ix[b->e_ix[e]];
    cm_buf row = CM_BUF_INIT, txt = CM_BUF_INIT;
    cm_err e2;
    if (cm_txn_get(x, rowkey(b, b->e_row[e]), &row, &e2) == 0) {
        cm_row_col rc[SQL_BF_COLS_MAX];
        cm_datum vals[SQL_BF_COLS_MAX];
        bool present[SQL_BF_COLS_MAX];
        for (uint32_t j = 0; j < cols->ncols; j++) {
            rc[j].id = cols->pcols[j].id;
            rc[j].type = (cm_dtype)cols->pcols[j].dtype;
        }
        if (cm_row_decode(cm_buf_slice(&row), rc, cols->ncols, vals, present, &e2) == 0) {
            for (uint32_t j = 0; j < cols->ncols; j++) {
                if (!present[j]) {
                    vals[j] = cols->dflt[j];
                }
            }
            sql_bf_dup_text(cols, b->e_ix[e], vals, &txt);
        }
    }
    int rc = cm_err_set(err, CM_E_DUP_ENTRY, "Duplicate entry '%.*s' for key '%s.%s'", (int)txt.len,
                        txt.ptr ? (const char *)txt.ptr : "", cols->t->name, ix->name);
    cm_buf_fini(&row);
    cm_buf_fini(&txt);
    return rc;
}

static const bf_batch *sort_batch; /* qsort has no user pointer; guarded by sort_mu */
static pthread_mutex_t sort_mu = PTHREAD_MUTEX_INITIALIZER;

static int cmp_entry(const void *pa, const void *pb)
{
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    const bf_batch *bb = sort_batch;
    if (bb->e_ix[a] != bb->e_ix[b]) {
        return bb->e_ix[a] < bb->e_ix[b] ? -1 : 1;
    }
    return cm_slice_cmp(ekey(bb, a), ekey(bb, b));
}

/* Checks the unique entries of the batch: against each other and against what is stored at the
 * batch's snapshot. skip[e] is set for an entry already stored with the same handle. */
static int check_unique(const bf_batch *b, cm_txn *x, uint8_t *skip, cm_err *err)
{
    uint32_t nu = 0;
    for (uint32_t e = 0; e < b->ne; e++) {
        nu += b->e_unique[e];
    }
    if (nu == 0) {
        return 0;
    }
    uint32_t *u = malloc(sizeof(*u) * nu);
    cm_slice *keys = malloc(sizeof(*keys) * nu);
    cm_buf *vals = calloc(nu, sizeof(*vals));
    bool *found = calloc(nu, sizeof(*found));
    int rc = u && keys && vals && found ? 0 : nomem(err);
    uint32_t k = 0;
    for (uint32_t e = 0; rc == 0 && e < b->ne; e++) {
        if (b->e_unique[e]) {
            u[k++] = e;
        }
    }
    if (rc == 0 && nu > 1) { /* two rows of the batch with one value */
        pthread_mutex_lock(&sort_mu);
        sort_batch = b;
        qsort(u, nu, sizeof(*u), cmp_entry);
        sort_batch = NULL;
        pthread_mutex_unlock(&sort_mu);
        for (uint32_t i = 1; i < nu; i++) {
            if (b->e_ix[u[i]] == b->e_ix[u[i - 1]] &&
                cm_slice_eq(ekey(b, u[i]), ekey(b, u[i - 1]))) {
                rc = dup_error(b, x, u[i], err);
                break;
            }
        }
    }
    for (uint32_t i = 0; rc == 0 && i < nu; i++) {
        keys[i] = ekey(b, u[i]);
    }
    if (rc == 0) {
        rc = cm_txn_batch_get(x, keys, nu, vals, found, err);
    }
    for (uint32_t i = 0; rc == 0 && i < nu; i++) {
        if (!found[i]) {
            continue;
        }
        if (cm_slice_eq(cm_buf_slice(&vals[i]), evalue(b, u[i]))) {
            skip[u[i]] = 1; /* written by DML in write-only, or by an earlier run */
        } else {
            rc = dup_error(b, x, u[i], err);
        }
    }
    for (uint32_t i = 0; vals != NULL && i < nu; i++) {
        cm_buf_fini(&vals[i]);
    }
    free(u);
    free(keys);
    free(vals);
    free(found);
    return rc;
}

static bool retryable(int rc)
{
    return rc == CM_E_WRITE_CONFLICT || rc == CM_E_TXN_ROLLED_BACK || rc == CM_E_KEY_IS_LOCKED ||
           rc == CM_E_TXN_UNDETERMINED;
}

/* One batch over [from, hi): at most limit rows in one transaction. *nrows rows done; *more with
 * the key after the last row in next. */
static int run_batch(bf_batch *b, cm_slice from, cm_slice hi, uint32_t limit, uint32_t *nrows,
                     bool *more, cm_buf *next, cm_err *err)
{
    const bf_run *r = b->r;
    int64_t sleep_ms = CM_FP("ddl_backfill_batch_sleep_ms");
    if (sleep_ms > 0) {
        cm_time_sleep_ms((uint64_t)sleep_ms);
    }
    cm_txn *x = NULL;
    cm_buf plan = CM_BUF_INIT;
    uint8_t *skip = NULL;
    batch_reset(b, limit);
    int rc = cm_txn_begin(r->c->kc, &x, err);
    rc = rc ? rc : sql_bf_plan(r->cols, limit, &plan, err);
    if (rc == 0) {
        cm_kv_copr_opts o;
        memset(&o, 0, sizeof(o));
        o.concurrency = 1;
        o.paging_size = limit < 10000 ? limit : 10000;
        o.ordered = true;
        rc = cm_kv_copr(r->c->kc, cm_buf_slice(&plan), from, hi, cm_txn_start_ts(x), &o, batch_cb,
                        b, err);
        if (rc == 0 && b->rc != 0) {
            rc = b->rc;
            *err = b->err;
        }
    }
    if (rc == 0 && b->ne > 0) {
        skip = calloc(b->ne, 1);
        rc = skip ? check_unique(b, x, skip, err) : nomem(err);
    }
    for (uint32_t e = 0; rc == 0 && e < b->ne; e++) {
        if (!skip[e]) {
            rc = cm_txn_set(x, ekey(b, e), evalue(b, e), err);
        }
    }
    for (uint32_t i = 0; rc == 0 && i < b->n; i++) {
        /* a row changed after our snapshot now conflicts with this batch (DESIGN §8) */
        rc = cm_txn_lock(x, rowkey(b, i), err);
    }
    if (rc == 0 && b->n > 0) {
        rc = cm_txn_commit(x, err);
    }
    cm_txn_free(x);
    free(skip);
    cm_buf_fini(&plan);
    if (rc == 0) {
        *nrows = b->n;
        *more = b->more;
        if (b->more) {
            cm_buf_reset(next);
            if (cm_buf_append_slice(next, rowkey(b, b->n - 1)) != 0 ||
                cm_buf_append_u8(next, 0) != 0) {
                rc = nomem(err);
            }
        }
    }
    return rc;
}

/* A task: batches over [lo, hi) until the range is exhausted. */
static int run_task(bf_run *r, bf_batch *b, cm_slice lo, cm_slice hi, uint64_t *rows, cm_err *err)
{
    cm_buf cur = CM_BUF_INIT, next = CM_BUF_INIT;
    int rc = cm_buf_append_slice(&cur, lo) != 0 ? nomem(err) : 0;
    uint32_t limit = r->batch_rows;
    *rows = 0;
    bool more = true;
    while (rc == 0 && more) {
        uint32_t n = 0;
        for (int attempt = 1;; attempt++) {
            pthread_mutex_lock(&r->mu);
            bool stop = r->stop;
            pthread_mutex_unlock(&r->mu);
            if (stop) {
                rc = cm_err_set(err, CM_E_CANCELLED, "index backfill stopped");
                break;
            }
            rc = run_batch(b, cm_buf_slice(&cur), hi, limit, &n, &more, &next, err);
            pthread_mutex_lock(&r->mu);
            r->batches++;
            r->retries += retryable(rc);
            pthread_mutex_unlock(&r->mu);
            if (!retryable(rc) || attempt >= SQL_BF_RETRIES) {
                break;
            }
            /* a writer got in between: again, with fewer rows (less to collide with) */
            limit = limit / 2 > SQL_BF_BATCH_MIN ? limit / 2 : SQL_BF_BATCH_MIN;
            cm_time_sleep_ms((uint64_t)(attempt < 10 ? attempt * 5 : 50));
        }
        if (rc == 0) {
            *rows += n;
            if (more) {
                cm_buf tmp = cur;
                cur = next;
                next = tmp;
            }
            limit = limit * 2 < r->batch_rows ? limit * 2 : r->batch_rows;
        }
    }
    cm_buf_fini(&cur);
    cm_buf_fini(&next);
    return rc;
}

static void *worker_main(void *arg)
{
    bf_run *r = arg;
    bf_batch b;
    memset(&b, 0, sizeof(b));
    b.r = r;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        while (!r->stop && r->taken == r->next && !r->no_more) {
            pthread_cond_wait(&r->cv, &r->mu);
        }
        if (r->stop || r->taken == r->next) {
            pthread_mutex_unlock(&r->mu);
            break;
        }
        uint64_t seq = r->taken++;
        bf_task *t = &r->win[seq % r->wcap];
        t->state = TASK_RUNNING;
        cm_slice lo = cm_buf_slice(&t->lo), hi = cm_buf_slice(&t->hi);
        pthread_mutex_unlock(&r->mu);
        /* lo and hi stay put: the slot is not reused before the task is retired */
        uint64_t rows = 0;
        cm_err err;
        cm_err_clear(&err);
        int rc = run_task(r, &b, lo, hi, &rows, &err);
        if (rc != 0) {
            run_fail(r, rc, &err);
            break;
        }
        pthread_mutex_lock(&r->mu);
        t->rows = rows;
        t->state = TASK_DONE;
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
    }
    batch_fini(&b);
    return NULL;
}

/* ---- the coordinator ------------------------------------------------------------------------- */

typedef struct bf_coord {
    bf_run *r;
    sql_bf_ckpt_cb ckpt;
    void *user;
    uint64_t rows_before;
    uint64_t last_ckpt_ms;
    /* key scan */
    cm_buf lo; /* start of the task being gathered */
    uint32_t count;
    cm_buf *bounds; /* region boundaries inside the range, ascending */
    uint32_t nbounds, bi;
    uint32_t batch_rows;
    int rc;
    cm_err err;
} bf_coord;

/* Reports the checkpoint when a second passed (or force); a callback error stops the run. */
static int maybe_ckpt(bf_coord *co, bool force)
{
    bf_run *r = co->r;
    uint64_t now = cm_time_mono_ms();
    if (!force && now - co->last_ckpt_ms < BF_CKPT_MS) {
        return 0;
    }
    co->last_ckpt_ms = now;
    pthread_mutex_lock(&r->mu);
    int rc = retire(r);
    cm_buf key = CM_BUF_INIT;
    if (rc == 0 && cm_buf_append_slice(&key, cm_buf_slice(&r->ckpt_key)) != 0) {
        rc = CM_E_NOMEM;
    }
    uint64_t rows = r->ckpt_rows;
    pthread_mutex_unlock(&r->mu);
    cm_err err;
    cm_err_clear(&err);
    if (rc != 0) {
        rc = nomem(&err);
    } else if (co->ckpt != NULL) {
        rc = co->ckpt(co->user, cm_buf_slice(&key), co->rows_before + rows, &err);
        if (rc != 0 && err.code == 0) {
            cm_err_set(&err, rc, "index backfill stopped by its checkpoint");
        }
    }
    cm_buf_fini(&key);
    if (rc != 0) {
        run_fail(r, rc, &err);
    }
    return rc;
}

/* Queues the task [lo, hi), waiting for room in the window. */
static int issue(bf_coord *co, cm_slice lo, cm_slice hi)
{
    bf_run *r = co->r;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        if (r->stop) {
            pthread_mutex_unlock(&r->mu);
            return -1;
        }
        if (retire(r) != 0) {
            pthread_mutex_unlock(&r->mu);
            cm_err e;
            run_fail(r, nomem(&e), &e);
            return -1;
        }
        if (r->next - r->first < r->wcap) {
            bf_task *t = &r->win[r->next % r->wcap];
            cm_buf_reset(&t->lo);
            cm_buf_reset(&t->hi);
            int rc = cm_buf_append_slice(&t->lo, lo);
            rc = rc ? rc : cm_buf_append_slice(&t->hi, hi);
            t->rows = 0;
            t->state = TASK_QUEUED;
            r->next++;
            pthread_cond_broadcast(&r->cv);
            pthread_mutex_unlock(&r->mu);
            if (rc != 0) {
                cm_err e;
                run_fail(r, nomem(&e), &e);
                return -1;
            }
            return maybe_ckpt(co, false) != 0 ? -1 : 0;
        }
        timed_wait(r, 100);
        pthread_mutex_unlock(&r->mu);
        if (maybe_ckpt(co, false) != 0) {
            return -1;
        }
    }
}

/* The coordinator's key scan: cuts a task every batch_rows rows and at region boundaries. */
static int split_cb(void *user, cm_slice data)
{
    bf_coord *co = user;
    cm_reader rd;
    cm_reader_init(&rd, data.ptr, data.len);
    while (cm_reader_left(&rd) > 0) {
        uint64_t kl;
        cm_slice key;
        if (cm_reader_uvarint(&rd, &kl) != 0 || cm_reader_bytes(&rd, (size_t)kl, &key) != 0) {
            co->rc = cm_err_set(&co->err, CM_E_CORRUPT, "index backfill: truncated key scan");
            return 1;
        }
        /* the handle column of the plan: presence byte and value */
        uint8_t pr;
        uint64_t vl;
        if (cm_reader_u8(&rd, &pr) != 0 ||
            (pr == CM_COPR_VALUE &&
             (cm_reader_uvarint(&rd, &vl) != 0 || cm_reader_skip(&rd, (size_t)vl) != 0))) {
            co->rc = cm_err_set(&co->err, CM_E_CORRUPT, "index backfill: truncated key scan");
            return 1;
        }
        /* the first region boundary at or below key (no row lies between it and key) */
        bool passed = false;
        cm_slice at = key;
        while (co->bi < co->nbounds && cm_slice_cmp(key, cm_buf_slice(&co->bounds[co->bi])) >= 0) {
            if (!passed) {
                passed = true;
                at = cm_buf_slice(&co->bounds[co->bi]);
            }
            co->bi++;
        }
        if (co->count > 0 && (passed || co->count >= co->batch_rows)) {
            if (issue(co, cm_buf_slice(&co->lo), at) != 0) {
                return 1;
            }
            cm_buf_reset(&co->lo);
            if (cm_buf_append_slice(&co->lo, at) != 0) {
                co->rc = nomem(&co->err);
                return 1;
            }
            co->count = 0;
        }
        co->count++;
    }
    return 0;
}

/* Region boundaries strictly inside (start, end), ascending. Best effort: without them the
 * tasks are cut by rows only. */
static void load_bounds(bf_coord *co, sql_catalog *c, cm_slice start, cm_slice end)
{
    cm_pd_client *pd = cm_kv_client_pd(c->kc);
    cm_buf cur = CM_BUF_INIT;
    cm_buf_append_slice(&cur, start);
    uint32_t cap = 0;
    for (int page = 0; page < 1000; page++) {
        cm_pd_region *regs = NULL;
        size_t n = 0;
        cm_err err;
        if (cm_pd_scan_regions(pd, cm_buf_slice(&cur), end, 0, &regs, &n, &err) != 0) {
            CM_WARN(LOG_COMP, "backfill: region scan failed (%s); cutting by rows only", err.msg);
            break;
        }
        bool last = n == 0;
        for (size_t i = 0; i < n; i++) {
            cm_slice s = cm_buf_slice(&regs[i].start_key);
            cm_slice e = cm_buf_slice(&regs[i].end_key);
            if (cm_slice_cmp(s, start) > 0 && (end.len == 0 || cm_slice_cmp(s, end) < 0) &&
                (co->nbounds == 0 ||
                 cm_slice_cmp(s, cm_buf_slice(&co->bounds[co->nbounds - 1])) > 0) &&
                co->nbounds < BF_BOUNDS_MAX) {
                if (co->nbounds == cap) {
                    uint32_t nc = cap ? cap * 2 : 16;
                    cm_buf *nb = realloc(co->bounds, sizeof(*nb) * nc);
                    if (nb == NULL) {
                        last = true;
                        break;
                    }
                    co->bounds = nb;
                    cap = nc;
                }
                cm_buf_init(&co->bounds[co->nbounds]);
                cm_buf_append_slice(&co->bounds[co->nbounds++], s);
            }
            if (i + 1 == n) {
                last = e.len == 0 || (end.len > 0 && cm_slice_cmp(e, end) >= 0) ||
                       cm_slice_cmp(e, cm_buf_slice(&cur)) <= 0;
                cm_buf_reset(&cur);
                cm_buf_append_slice(&cur, e);
            }
        }
        cm_pd_regions_free(regs, n);
        if (last) {
            break;
        }
    }
    cm_buf_fini(&cur);
}

void sql_bf_options_default(sql_bf_options *o)
{
    o->workers = 4;
    o->batch_rows = 1024;
    o->job_id = 0;
}

int sql_ddl_backfill(sql_catalog *c, const sql_cat_table *t, const int64_t *index_ids,
                     uint32_t nids, cm_slice from, uint64_t rows_before, const sql_bf_options *o,
                     sql_bf_ckpt_cb ckpt, void *user, cm_err *err)
{
    sql_bf_options dflt;
    if (o == NULL) {
        sql_bf_options_default(&dflt);
        o = &dflt;
    }
    const sql_cat_index *ixs[SQL_BF_INDEXES_MAX];
    uint32_t nix = 0;
    for (uint32_t k = 0; k < nids; k++) {
        const sql_cat_index *found = NULL;
        for (uint32_t i = 0; i < t->nindexes; i++) {
            if (t->indexes[i].id == index_ids[k]) {
                found = &t->indexes[i];
            }
        }
        if (found == NULL) {
            return cm_err_set(err, CM_E_INVALID, "index backfill: index %lld is not in table %s",
                              (long long)index_ids[k], t->name);
        }
        if (nix == SQL_BF_INDEXES_MAX) {
            return cm_err_set(err, CM_E_INVALID, "index backfill: %u indexes", nids);
        }
        ixs[nix++] = found;
    }
    sql_bf_cols *cols = malloc(sizeof(*cols));
    if (cols == NULL) {
        return nomem(err);
    }
    int rc = sql_bf_cols_init(cols, t, ixs, nix, err);
    if (rc != 0) {
        sql_bf_cols_fini(cols);
        free(cols);
        return rc;
    }
    uint32_t workers = o->workers ? o->workers : 1;
    workers = workers > SQL_BF_WORKERS_MAX ? SQL_BF_WORKERS_MAX : workers;
    uint32_t batch_rows = o->batch_rows ? o->batch_rows : 1024;
    batch_rows = batch_rows < SQL_BF_BATCH_MIN   ? SQL_BF_BATCH_MIN
                 : batch_rows > SQL_BF_BATCH_MAX ? SQL_BF_BATCH_MAX
                                                 : batch_rows;

    bf_run r;
    memset(&r, 0, sizeof(r));
    r.c = c;
    r.cols = cols;
    r.batch_rows = batch_rows;
    r.job_id = o->job_id;
    r.wcap = workers * BF_WINDOW_PER_WORKER;
    r.win = calloc(r.wcap, sizeof(*r.win));
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);

    bf_coord co;
    memset(&co, 0, sizeof(co));
    co.r = &r;
    co.ckpt = ckpt;
    co.user = user;
    co.rows_before = rows_before;
    /* tasks a little below a batch: one batch reads a whole task and sees its end (a full
     * batch costs one more, empty, batch to find out), unless writers added rows meanwhile */
    co.batch_rows = batch_rows - batch_rows / 8;
    co.last_ckpt_ms = cm_time_mono_ms();

    cm_buf start = CM_BUF_INIT, end = CM_BUF_INIT, plan = CM_BUF_INIT;
    rc = r.win == NULL || cm_keys_rows_range(t->id, &start, &end) != 0 ? nomem(err) : 0;
    if (rc == 0 && from.len > 0) {
        if (cm_slice_cmp(from, cm_buf_slice(&start)) > 0) {
            cm_buf_reset(&start);
            rc = cm_buf_append_slice(&start, from) != 0 ? nomem(err) : 0;
        }
    }
    if (rc == 0) {
        rc = cm_buf_append_slice(&r.ckpt_key, cm_buf_slice(&start)) != 0 ? nomem(err) : 0;
    }
    uint64_t t0 = cm_time_mono_ms();
    pthread_t th[SQL_BF_WORKERS_MAX];
    uint32_t nth = 0;
    bool empty = rc == 0 && cm_slice_cmp(cm_buf_slice(&start), cm_buf_slice(&end)) >= 0;
    if (rc == 0 && !empty) {
        load_bounds(&co, c, cm_buf_slice(&start), cm_buf_slice(&end));
        for (; nth < workers; nth++) {
            if (pthread_create(&th[nth], NULL, worker_main, &r) != 0) {
                break;
            }
        }
        if (nth == 0) {
            rc = cm_err_set(err, CM_E_NOMEM, "index backfill: no worker thread");
        }
    }
    if (rc == 0 && !empty) {
        /* the key scan: the handle only (a plan needs one column) */
        cm_copr_pcol hc = {CM_COPR_HANDLE_ID, (uint8_t)CM_DT_INT64};
        cm_copr_plan p;
        memset(&p, 0, sizeof(p));
        p.scan = CM_COPR_SCAN_TABLE;
        p.ncols = 1;
        p.cols = &hc;
        uint64_t ts = 0;
        rc = cm_copr_plan_encode(&p, &plan, err);
        rc = rc ? rc : cm_pd_get_ts(cm_kv_client_pd(c->kc), &ts, err);
        rc = rc ? rc : (cm_buf_append_slice(&co.lo, cm_buf_slice(&start)) != 0 ? nomem(err) : 0);
        if (rc == 0) {
            cm_kv_copr_opts ko;
            memset(&ko, 0, sizeof(ko));
            ko.concurrency = 2;
            ko.paging_size = BF_SPLIT_PAGE;
            ko.ordered = true;
            rc = cm_kv_copr(c->kc, cm_buf_slice(&plan), cm_buf_slice(&start), cm_buf_slice(&end),
                            ts, &ko, split_cb, &co, err);
        }
        if (rc == 0 && co.rc != 0) {
            rc = co.rc;
            *err = co.err;
        }
        if (rc == 0) { /* the last task runs to the end: rows inserted since the scan too */
            (void)issue(&co, cm_buf_slice(&co.lo), cm_buf_slice(&end));
        }
        if (rc != 0) {
            run_fail(&r, rc, err);
        }
    }
    /* no more tasks: wait for the workers, reporting the checkpoint */
    pthread_mutex_lock(&r.mu);
    r.no_more = true;
    pthread_cond_broadcast(&r.cv);
    while (!r.stop && nth > 0) {
        (void)retire(&r);
        if (r.first == r.next) {
            break;
        }
        timed_wait(&r, 100);
        pthread_mutex_unlock(&r.mu);
        (void)maybe_ckpt(&co, false);
        pthread_mutex_lock(&r.mu);
    }
    r.stop = r.stop || r.rc != 0;
    pthread_cond_broadcast(&r.cv);
    pthread_mutex_unlock(&r.mu);
    for (uint32_t i = 0; i < nth; i++) {
        pthread_join(th[i], NULL);
    }
    if (rc == 0 && r.rc != 0) {
        rc = r.rc;
        *err = r.err;
    }
    if (rc == 0) {
        /* the whole range is done: the checkpoint is its end */
        pthread_mutex_lock(&r.mu);
        rc = retire(&r) != 0 ? CM_E_NOMEM : 0;
        cm_buf_reset(&r.ckpt_key);
        if (rc == 0 && cm_buf_append_slice(&r.ckpt_key, cm_buf_slice(&end)) != 0) {
            rc = CM_E_NOMEM;
        }
        pthread_mutex_unlock(&r.mu);
        if (rc != 0) {
            rc = nomem(err);
        } else if (maybe_ckpt(&co, true) != 0) {
            rc = r.rc;
            *err = r.err;
        }
    }
    uint64_t ms = cm_time_mono_ms() - t0;
    CM_INFO(LOG_COMP,
            "backfill job=%lld table=%lld: %llu rows in %llu ms (%llu tasks, %llu batches, %llu "
            "retries, %u workers, %u rows/batch) rc=%d",
            (long long)o->job_id, (long long)t->id, (unsigned long long)r.ckpt_rows,
            (unsigned long long)ms, (unsigned long long)r.next, (unsigned long long)r.batches,
            (unsigned long long)r.retries, nth, batch_rows, rc);
    for (uint32_t i = 0; r.win != NULL && i < r.wcap; i++) {
        cm_buf_fini(&r.win[i].lo);
        cm_buf_fini(&r.win[i].hi);
    }
    free(r.win);
    for (uint32_t i = 0; i < co.nbounds; i++) {
        cm_buf_fini(&co.bounds[i]);
    }
    free(co.bounds);
    cm_buf_fini(&co.lo);
    cm_buf_fini(&r.ckpt_key);
    cm_buf_fini(&start);
    cm_buf_fini(&end);
    cm_buf_fini(&plan);
    pthread_mutex_destroy(&r.mu);
    pthread_cond_destroy(&r.cv);
    sql_bf_cols_fini(cols);
    free(cols);
    return rc;
}
