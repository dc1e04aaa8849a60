/*
 * sql_vtab_scan.c — the cursor: xFilter turns the plan of xBestIndex and its arguments into key
 * ranges and reads them.
 *
 *   point get     cm_txn_get of one row key (buffers of the cursor reused: no malloc per row)
 *   index lookup  cm_txn_scan of the index range (merges the transaction's buffer), entries taken
 *                 SQL_VT_LOOKUP_BATCH at a time, their rows fetched with one cm_txn_batch_get;
 *                 a covering scan decodes the values from the index keys and fetches nothing
 *   handle range  the coprocessor (cm_kv_copr_scan at the transaction's start_ts, only the
 *   / full scan   columns of colUsed) when the transaction has not written this table, else
 *                 cm_txn_scan, which merges the buffered writes (read-your-writes)
 *
 * Values are decoded only when SQLite asks for a column (xColumn), through sql_type_load.
 * A closed cursor is kept by its table for the next statement, so a cached point query
 * allocates nothing.
 */
#include "sql_vtab_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef enum vt_src {
    SRC_NONE = 0,
    SRC_ROW,  /* cur->row: an encoded row */
    SRC_COPR, /* cur->cvals/cpres: the projected columns of a coprocessor row */
    SRC_KEY,  /* cur->keyv: values decoded from a covering index key */
} vt_src;

typedef struct copr_row {
    size_t koff, klen, coff, clen;
} copr_row;

typedef struct vt_cursor {
    sqlite3_vtab_cursor base;
    sql_vt *v;
    vt_plan p;
    cm_txn *txn;
    bool eof;
    bool has_budget;
    uint64_t budget, emitted;
    int64_t handle;
    vt_src src;
    cm_slice row;
    bool view_ok;
    cm_row_view view;
    cm_buf val, start, end, scratch;
    cm_err err;
    /* txn scans (rows or index entries) */
    cm_txn_iter *it;
    bool it_done;
    /* coprocessor */
    cm_copr_col *proj;
    int *proj_of;       /* [ncols] table offset -> projection position or -1 */
    uint32_t *proj_off; /* [nproj] projection position -> table offset */
    size_t nproj, proj_cap;
    /* pushdown (sql_vtab_push.c): the plan sent with cm_kv_copr, or the selection evaluated
     * here over rows read without it (pushdown off, or the transaction wrote the table) */
    vt_push push;
    cm_cx_builder cxb;
    cm_buf plan;
    cm_copr_pcol *pcols;
    uint32_t *outcols;
    cm_copr_dflt *dflts;
    bool topn;      /* the plan has a TopN: one unordered call, no budget */
    bool sel_local; /* evaluate prog over each row here */
    cm_cx *prog;
    cm_arena parena, escratch;
    cm_datum *edat; /* [nproj] */
    cm_buf cbuf;
    copr_row *crows;
    size_t ncrows, crows_cap, cpos;
    size_t cwant; /* rows of the next batch (doubles up to SQL_VT_COPR_BATCH_MAX) */
    bool cdone;
    uint8_t *cpres;
    cm_slice *cvals;
    /* index lookups */
    const sql_cat_index *ix;
    int64_t *hs;        /* handles of the batch */
    cm_buf ikeys;       /* covering: the values part of each entry */
    size_t *ioffs;      /* [batch + 1] offsets into ikeys */
    cm_buf rkeys;       /* row keys of the batch */
    cm_slice *rkslices; /* [batch] */
    cm_buf *rvals;      /* [batch] */
    bool *rfound;       /* [batch] */
    size_t nbatch, bpos;
    cm_arena arena;
    cm_datum keyv[17];
    /* IN list on the handle: sorted distinct handles, read SQL_VT_LOOKUP_BATCH at a time */
    int64_t *inh;
    size_t nin, inpos, incap;
} vt_cursor;

/* ---- constraint values ----------------------------------------------------------------------- */

static bool bound_lo(int64_t *lo, int64_t v)
{
    if (v > *lo) {
        *lo = v;
    }
    return true;
}
static bool bound_hi(int64_t *hi, int64_t v)
{
    if (v < *hi) {
        *hi = v;
    }
    return true;
}

/* SQLite compares an INTEGER-affinity column with a value after applying numeric affinity to
 * text; numbers sort below text, text below blobs; NULL matches nothing. */
bool sql_vt_handle_bound(int op, sqlite3_value *val, int64_t *lo, int64_t *hi)
{
    int t = sqlite3_value_type(val);
    if (t == SQLITE_TEXT) {
        t = sqlite3_value_numeric_type(val);
    }
    if (t == SQLITE_NULL) {
        return false;
    }
    if (t == SQLITE_TEXT || t == SQLITE_BLOB) {
        /* above every integer: only "<" and "<=" hold, for every handle */
        return op == SQLITE_INDEX_CONSTRAINT_LT || op == SQLITE_INDEX_CONSTRAINT_LE;
    }
    if (t == SQLITE_INTEGER) {
        int64_t i = sqlite3_value_int64(val);
        switch (op) {
        case SQLITE_INDEX_CONSTRAINT_EQ:
            return bound_lo(lo, i) && bound_hi(hi, i);
        case SQLITE_INDEX_CONSTRAINT_GT:
            return i != INT64_MAX && bound_lo(lo, i + 1);
        case SQLITE_INDEX_CONSTRAINT_GE:
            return bound_lo(lo, i);
        case SQLITE_INDEX_CONSTRAINT_LT:
            return i != INT64_MIN && bound_hi(hi, i - 1);
        case SQLITE_INDEX_CONSTRAINT_LE:
            return bound_hi(hi, i);
        }
        return false;
    }
    double d = sqlite3_value_double(val);
    if (isnan(d)) {
        return false;
    }
    /* 2^63 as a double; every int64 lies in [-2^63, 2^63). */
    const double two63 = 9223372036854775808.0;
    double f = floor(d), c = ceil(d);
    switch (op) {
    case SQLITE_INDEX_CONSTRAINT_EQ:
        if (f != d || d < -two63 || d >= two63) {
            return false;
        }
        return bound_lo(lo, (int64_t)d) && bound_hi(hi, (int64_t)d);
    case SQLITE_INDEX_CONSTRAINT_GT: /* h > d  <=>  h >= floor(d) + 1 */
        if (f >= two63 - 1) {
            return false;
        }
        return f < -two63 ? true : bound_lo(lo, (int64_t)f + 1);
    case SQLITE_INDEX_CONSTRAINT_GE:
        if (c >= two63) {
            return false;
        }
        return c < -two63 ? true : bound_lo(lo, (int64_t)c);
    case SQLITE_INDEX_CONSTRAINT_LT: /* h < d  <=>  h <= ceil(d) - 1 */
        if (c <= -two63) {
            return false;
        }
        return c >= two63 ? true : bound_hi(hi, (int64_t)c - 1);
    case SQLITE_INDEX_CONSTRAINT_LE:
        if (f < -two63) {
            return false;
        }
        return f >= two63 ? true : bound_hi(hi, (int64_t)f);
    }
    return false;
}

static size_t utf8_prefix_bytes(cm_slice s, uint32_t chars)
{
    size_t i = 0;
    uint32_t n = 0;
    while (i < s.len) {
        if ((s.ptr[i] & 0xC0) != 0x80) {
            if (n == chars) {
                break;
            }
            n++;
        }
        i++;
    }
    return i;
}

cm_datum sql_vt_index_datum(const sql_vt *v, const sql_cat_index *ix, uint32_t k, const cm_datum *d)
{
    (void)v;
    cm_datum out = *d;
    uint32_t p = ix->prefix_len ? ix->prefix_len[k] : 0;
    if (p == 0) {
        return out;
    }
    if (d->type == CM_DT_STRING || d->type == CM_DT_JSON) {
        out.v.bytes.len = utf8_prefix_bytes(d->v.bytes, p);
    } else if (d->type == CM_DT_BYTES && d->v.bytes.len > p) {
        out.v.bytes.len = p;
    }
    return out;
}

/* DATE, DATETIME and TIMESTAMP reach SQLite as TEXT in one canonical form per value, and SQLite
 * compares them with the operand as text (a number operand too: TEXT affinity), not as dates.
 * The key order is the canonical texts' order, but an operand such as '2024-1-2' or
 * 20240102 parses to a date whose place in that text order is elsewhere. So a fit found on the
 * parsed value is kept only when the canonical text of out stands to the operand's text as the
 * fit says (EXACT: equal, UP: above, DOWN: below); otherwise the operand gives no bound. */
static int text_fit(const vt_col *col, sqlite3_value *val, const cm_datum *out, sql_type_fit *fit,
                    cm_err *err)
{
    if (col->dtype != CM_DT_DATE && col->dtype != CM_DT_DATETIME && col->dtype != CM_DT_TIMESTAMP) {
        return 0;
    }
    const unsigned char *t = sqlite3_value_text(val);
    size_t tn = (size_t)sqlite3_value_bytes(val);
    if (t == NULL) {
        return cm_err_set(err, CM_E_NOMEM, "vtab: out of memory");
    }
    cm_buf lb = CM_BUF_INIT;
    sql_value l;
    int rc = sql_type_load(&col->c->type, out, &l, &lb, err);
    if (rc == 0) {
        size_t m = l.n < tn ? l.n : tn;
        int c = m ? memcmp(l.s, t, m) : 0;
        if (c == 0) {
            c = l.n < tn ? -1 : l.n > tn;
        }
        bool same = (*fit == SQL_TYPE_FIT_EXACT && c == 0) || (*fit == SQL_TYPE_FIT_UP && c > 0) ||
                    (*fit == SQL_TYPE_FIT_DOWN && c < 0);
        if (!same) {
            *fit = SQL_TYPE_FIT_NONE;
        }
    }
    cm_buf_fini(&lb);
    return rc;
}

int sql_vt_key_datum(sql_vt *v, const sql_cat_index *ix, uint32_t k, sqlite3_value *val,
                     cm_datum *out, cm_buf *scratch, sql_type_fit *fit, cm_err *err)
{
    const vt_col *col = &v->cols[ix->cols[k]];
    *fit = SQL_TYPE_FIT_NONE;
    *out = cm_datum_null();
    if (sqlite3_value_type(val) == SQLITE_NULL) {
        *fit = SQL_TYPE_FIT_EXACT; /* a NULL datum: the caller knows nothing matches */
        return 0;
    }
    const char *aff = sql_type_sqlite_decl(&col->c->type);
    if (sqlite3_value_type(val) == SQLITE_TEXT && strcmp(aff, "TEXT") != 0 &&
        strcmp(aff, "BLOB") != 0) {
        (void)sqlite3_value_numeric_type(val); /* SQLite's comparison does the same */
    }
    sql_value in = sql_vt_value(val);
    int rc = sql_type_key_value(&col->c->type, &in, out, scratch, fit, err);
    if (rc != 0) {
        return rc;
    }
    if (out->type == CM_DT_NULL || out->type == CM_DT_JSON) {
        *fit = SQL_TYPE_FIT_NONE; /* nothing to key */
        *out = cm_datum_null();
        return 0;
    }
    if (*fit != SQL_TYPE_FIT_NONE) {
        rc = text_fit(col, val, out, fit, err);
    }
    *out = sql_vt_index_datum(v, ix, k, out);
    return rc;
}

/* ---- cursor life ----------------------------------------------------------------------------- */

static void cur_reset(vt_cursor *c)
{
    if (c->it) {
        cm_txn_iter_free(c->it);
        c->it = NULL;
    }
    c->eof = true;
    c->src = SRC_NONE;
    c->has_budget = false;
    c->emitted = 0;
    c->ncrows = c->cpos = 0;
    c->cwant = SQL_VT_COPR_BATCH;
    c->cdone = false;
    c->nbatch = c->bpos = 0;
    c->it_done = false;
    c->ix = NULL;
    c->nin = c->inpos = 0;
    c->topn = false;
    c->sel_local = false;
    c->prog = NULL;
    c->push.n = c->push.norder = 0;
}

static void cur_free(vt_cursor *c)
{
    cur_reset(c);
    cm_buf_fini(&c->val);
    cm_buf_fini(&c->start);
    cm_buf_fini(&c->end);
    cm_buf_fini(&c->scratch);
    cm_buf_fini(&c->cbuf);
    cm_buf_fini(&c->ikeys);
    cm_buf_fini(&c->rkeys);
    if (c->rvals) {
        for (size_t i = 0; i < SQL_VT_LOOKUP_BATCH; i++) {
            cm_buf_fini(&c->rvals[i]);
        }
    }
    free(c->rvals);
    free(c->rfound);
    free(c->rkslices);
    free(c->hs);
    free(c->ioffs);
    free(c->proj);
    free(c->proj_of);
    free(c->proj_off);
    free(c->pcols);
    free(c->outcols);
    free(c->dflts);
    free(c->edat);
    cm_cx_builder_fini(&c->cxb);
    cm_buf_fini(&c->plan);
    cm_arena_fini(&c->parena);
    cm_arena_fini(&c->escratch);
    free(c->crows);
    free(c->cpres);
    free(c->cvals);
    free(c->inh);
    cm_arena_fini(&c->arena);
    free(c);
}

/* The table keeps one closed cursor for reuse. */
static vt_cursor **spare_of(sql_vt *v)
{
    return (vt_cursor **)&v->spare;
}

int sql_vt_open(sqlite3_vtab *vtab, sqlite3_vtab_cursor **out)
{
    sql_vt *v = (sql_vt *)vtab;
    vt_cursor **spare = spare_of(v);
    vt_cursor *c = *spare;
    if (c) {
        *spare = NULL;
    } else {
        c = calloc(1, sizeof *c);
        if (!c) {
            return SQLITE_NOMEM;
        }
        cm_arena_init(&c->arena, 0);
        cm_arena_init(&c->parena, 0);
        cm_arena_init(&c->escratch, 0);
        cm_cx_builder_init(&c->cxb);
    }
    c->v = v;
    cur_reset(c);
    *out = &c->base;
    return SQLITE_OK;
}

int sql_vt_close(sqlite3_vtab_cursor *cur)
{
    vt_cursor *c = (vt_cursor *)cur;
    vt_cursor **spare = spare_of(c->v);
    cur_reset(c);
    if (*spare == NULL) {
        *spare = c;
    } else {
        cur_free(c);
    }
    return SQLITE_OK;
}

void sql_vt_free_spare(sql_vt *v)
{
    vt_cursor **spare = spare_of(v);
    if (*spare) {
        cur_free(*spare);
        *spare = NULL;
    }
}

static int cur_fail(vt_cursor *c, int rc)
{
    if (c->err.code == 0) {
        cm_err_set(&c->err, rc ? rc : CM_E_INTERNAL, "vtab read failed");
    }
    return sql_vt_fail(c->v, &c->err);
}

/* ---- kept rows --------------------------------------------------------------------------------
 * SQLite 3.40 runs an UPDATE or DELETE of a virtual table that may touch several rows in two
 * passes: the scan first (values into an ephemeral table / rowids into a RowSet), then one
 * xUpdate per row — one-pass only for a unique lookup (where.c allows ONEPASS_MULTI for ordinary
 * tables only). By the time xUpdate needs a row's stored values, the cursor has moved on. So
 * while a statement writes the table (xBegin was called: SQLite begins the virtual tables of a
 * writing statement in its prologue, before the scan), every row a cursor of the table reads is
 * copied here by handle, up to SQL_VT_KEPT_BYTES_MAX, and xUpdate takes it from here instead of
 * reading it again. Such statements scan with cm_txn_scan (full rows, the transaction's writes
 * merged), never the coprocessor (projected columns only), and index plans fetch their rows even
 * when covering (one batch get per SQL_VT_LOOKUP_BATCH entries instead of one get per row). A row
 * the statement writes is forgotten (sql_vt_kept_forget), so a later xUpdate of that handle reads
 * it again; everything is dropped when the statement ends (xCommit/xRollback). */
typedef struct kept_slot {
    int64_t h;
    size_t off;
    uint32_t len;
    uint8_t state; /* 0 empty, 1 live, 2 forgotten (keeps probe chains intact) */
} kept_slot;
typedef struct kept {
    cm_buf bytes;
    kept_slot *slots;
    size_t cap, used; /* cap: a power of two; used: live + forgotten */
} kept;

static size_t kept_hash(int64_t h, size_t cap)
{
    uint64_t x = (uint64_t)h * 0x9E3779B97F4A7C15ull;
    return (size_t)(x >> 32) & (cap - 1);
}

static kept_slot *kept_lookup(kept *k, int64_t h)
{
    if (k->cap == 0) {
        return NULL;
    }
    for (size_t i = kept_hash(h, k->cap), n = 0; n < k->cap; i = (i + 1) & (k->cap - 1), n++) {
        kept_slot *s = &k->slots[i];
        if (s->state == 0) {
            return s;
        }
        if (s->h == h) {
            return s;
        }
    }
    return NULL; /* full: cannot happen, the table is grown at half */
}

static int kept_grow(kept *k)
{
    size_t cap = k->cap ? k->cap * 2 : 256;
    kept_slot *old = k->slots;
    size_t ocap = k->cap;
    k->slots = calloc(cap, sizeof *k->slots);
    if (k->slots == NULL) {
        k->slots = old;
        return CM_E_NOMEM;
    }
    k->cap = cap;
    k->used = 0;
    for (size_t i = 0; i < ocap; i++) {
        if (old[i].state == 1) {
            kept_slot *s = kept_lookup(k, old[i].h);
            *s = old[i];
            k->used++;
        }
    }
    free(old);
    return 0;
}

/* Copies the cursor's current row (SRC_ROW) when its statement writes the table. */
static void keep_row(vt_cursor *c)
{
    sql_vt *v = c->v;
    if (!v->writing) {
        return;
    }
    kept *k = v->kept;
    if (k == NULL) {
        k = v->kept = calloc(1, sizeof *k);
        if (k == NULL) {
            return; /* not kept: xUpdate reads it again */
        }
    }
    if (k->bytes.len + c->row.len > SQL_VT_KEPT_BYTES_MAX || c->row.len > UINT32_MAX) {
        return;
    }
    if ((k->used + 1) * 2 > k->cap && kept_grow(k) != 0) {
        return;
    }
    kept_slot *s = kept_lookup(k, c->handle);
    if (s == NULL) {
        return;
    }
    size_t off = k->bytes.len;
    if (cm_buf_append_slice(&k->bytes, c->row) != 0) {
        return;
    }
    if (s->state == 0) {
        k->used++;
    }
    s->h = c->handle;
    s->off = off;
    s->len = (uint32_t)c->row.len;
    s->state = 1;
}

bool sql_vt_kept_find(sql_vt *v, int64_t h, cm_slice *row)
{
    kept *k = v->kept;
    kept_slot *s = k ? kept_lookup(k, h) : NULL;
    if (s == NULL || s->state != 1) {
        return false;
    }
    *row = cm_slice_make(k->bytes.ptr + s->off, s->len);
    return true;
}

void sql_vt_kept_forget(sql_vt *v, int64_t h)
{
    kept *k = v->kept;
    kept_slot *s = k ? kept_lookup(k, h) : NULL;
    if (s != NULL && s->state == 1) {
        s->state = 2;
    }
}

void sql_vt_kept_clear(sql_vt *v)
{
    kept *k = v->kept;
    if (k != NULL && k->used > 0) {
        memset(k->slots, 0, k->cap * sizeof *k->slots);
        k->used = 0;
    }
    if (k != NULL) {
        cm_buf_reset(&k->bytes);
    }
}

void sql_vt_kept_free(sql_vt *v)
{
    kept *k = v->kept;
    if (k != NULL) {
        cm_buf_fini(&k->bytes);
        free(k->slots);
        free(k);
        v->kept = NULL;
    }
}

/* ---- positioning ----------------------------------------------------------------------------- */

static void keep_row(vt_cursor *c);

static void set_row(vt_cursor *c, int64_t handle, cm_slice row)
{
    c->handle = handle;
    c->src = SRC_ROW;
    c->row = row;
    c->view_ok = false;
    keep_row(c);
}

/* Remembers the row a point read found, for an UPDATE/DELETE of it that follows. */
static void cache_row(vt_cursor *c)
{
    sql_vt *v = c->v;
    cm_buf_reset(&v->cache_row);
    if (cm_buf_append_slice(&v->cache_row, c->row) == 0) {
        v->cache_valid = true;
        v->cache_handle = c->handle;
    } else {
        v->cache_valid = false;
    }
}

static bool budget_left(vt_cursor *c)
{
    return !c->has_budget || c->emitted < c->budget;
}

/* Coprocessor rows: whole responses (pages) are taken until a batch is full, then the scan
 * stops there; the next batch resumes after the last key taken. */
typedef struct copr_ctx {
    vt_cursor *c;
    size_t want;
    int rc;
} copr_ctx;

/* Length of one response row's columns (nout presence bytes and values) at rd. */
static int copr_row_len(cm_reader *rd, size_t nout)
{
    for (size_t i = 0; i < nout; i++) {
        uint8_t pres;
        uint64_t len;
        cm_slice val;
        if (cm_reader_u8(rd, &pres) != 0) {
            return CM_E_CORRUPT;
        }
        if (pres == CM_COPR_VALUE &&
            (cm_reader_uvarint(rd, &len) != 0 || cm_reader_bytes(rd, len, &val) != 0)) {
            return CM_E_CORRUPT;
        }
    }
    return 0;
}

static int copr_cb(void *user, cm_slice data)
{
    copr_ctx *x = user;
    vt_cursor *c = x->c;
    size_t base = c->cbuf.len;
    if (cm_buf_append_slice(&c->cbuf, data) != 0) {
        x->rc = CM_E_NOMEM;
        return 1;
    }
    cm_reader rd;
    cm_reader_init(&rd, c->cbuf.ptr + base, data.len);
    while (cm_reader_left(&rd) > 0) {
        uint64_t klen;
        cm_slice key;
        if (cm_reader_uvarint(&rd, &klen) != 0 || cm_reader_bytes(&rd, klen, &key) != 0) {
            x->rc = CM_E_CORRUPT;
            return 1;
        }
        size_t koff = base + rd.pos - key.len, coff = base + rd.pos;
        if (copr_row_len(&rd, c->nproj) != 0) {
            x->rc = CM_E_CORRUPT;
            return 1;
        }
        if (c->ncrows == c->crows_cap) {
            size_t cap = c->crows_cap ? c->crows_cap * 2 : 64;
            copr_row *n = realloc(c->crows, cap * sizeof *n);
            if (!n) {
                x->rc = CM_E_NOMEM;
                return 1;
            }
            c->crows = n;
            c->crows_cap = cap;
        }
        copr_row *r = &c->crows[c->ncrows++];
        r->koff = koff;
        r->klen = key.len;
        r->coff = coff;
        r->clen = base + rd.pos - coff;
    }
    return c->ncrows >= x->want || (!c->topn && c->cbuf.len >= SQL_VT_COPR_BATCH_BYTES) ? 1 : 0;
}

static int copr_refill(vt_cursor *c)
{
    /* resume after the last key of the previous batch */
    if (c->ncrows > 0) {
        const copr_row *last = &c->crows[c->ncrows - 1];
        cm_buf_reset(&c->start);
        if (cm_buf_append(&c->start, c->cbuf.ptr + last->koff, last->klen) != 0 ||
            cm_buf_append_u8(&c->start, 0) != 0) {
            return cm_err_set(&c->err, CM_E_NOMEM, "vtab: out of memory");
        }
    }
    cm_buf_reset(&c->cbuf);
    c->ncrows = c->cpos = 0;
    copr_ctx x = {c, c->cwant, 0};
    c->cwant = c->cwant * 2 < SQL_VT_COPR_BATCH_MAX ? c->cwant * 2 : SQL_VT_COPR_BATCH_MAX;
    if (c->topn) {
        x.want = SIZE_MAX; /* every region's TopN rows, in one call */
    } else if (c->has_budget && c->budget - c->emitted < x.want) {
        x.want = (size_t)(c->budget - c->emitted);
    }
    if (x.want == 0) {
        c->cdone = true;
        return 0;
    }
    cm_kv_copr_opts o = {.concurrency = SQL_VT_COPR_CONCURRENCY, .ordered = !c->topn};
    int rc = cm_kv_copr(c->v->env->kc, cm_buf_slice(&c->plan), cm_buf_slice(&c->start),
                        cm_buf_slice(&c->end), cm_txn_start_ts(c->txn), &o, copr_cb, &x, &c->err);
    if (rc == 0 && x.rc != 0) {
        rc = cm_err_set(&c->err, x.rc,
                        x.rc == CM_E_NOMEM ? "vtab: out of memory"
                                           : "vtab: malformed coprocessor response");
    }
    if (rc == 0 && (c->topn || (c->ncrows < x.want && c->cbuf.len < SQL_VT_COPR_BATCH_BYTES))) {
        c->cdone = true; /* the call ended by itself: the range is done */
    }
    return rc;
}

static int copr_position(vt_cursor *c)
{
    const copr_row *r = &c->crows[c->cpos];
    int64_t tid;
    int rc = cm_keys_decode_row(cm_slice_make(c->cbuf.ptr + r->koff, r->klen), &tid, &c->handle,
                                &c->err);
    if (rc != 0) {
        return rc;
    }
    cm_reader rd;
    cm_reader_init(&rd, c->cbuf.ptr + r->coff, r->clen);
    for (size_t i = 0; i < c->nproj; i++) {
        uint64_t len;
        if (cm_reader_u8(&rd, &c->cpres[i]) != 0) {
            return cm_err_set(&c->err, CM_E_CORRUPT, "vtab: truncated coprocessor row");
        }
        if (c->cpres[i] == CM_COPR_VALUE &&
            (cm_reader_uvarint(&rd, &len) != 0 || cm_reader_bytes(&rd, len, &c->cvals[i]) != 0)) {
            return cm_err_set(&c->err, CM_E_CORRUPT, "vtab: truncated coprocessor column");
        }
    }
    c->src = SRC_COPR;
    return 0;
}

static int fetch_rows(vt_cursor *c);

/* Index entries: the next batch, then their rows (unless covering). */
static int index_refill(vt_cursor *c)
{
    size_t want = SQL_VT_LOOKUP_BATCH;
    if (c->has_budget && c->budget - c->emitted < want) {
        want = (size_t)(c->budget - c->emitted);
    }
    c->nbatch = c->bpos = 0;
    cm_buf_reset(&c->ikeys);
    bool covering = (c->p.flags & VT_P_COVERING) != 0;
    int rc = 0;
    while (rc == 0 && !c->it_done && c->nbatch < want) {
        cm_slice k, val;
        rc = cm_txn_iter_next(c->it, &k, &val, &c->err);
        if (rc == 0) {
            c->it_done = true;
            break;
        }
        if (rc < 0) {
            return rc;
        }
        rc = 0;
        if (k.len < CM_KEYS_INDEX_PREFIX_LEN) {
            return cm_err_set(&c->err, CM_E_CORRUPT, "vtab: short index key");
        }
        cm_slice vals =
            cm_slice_make(k.ptr + CM_KEYS_INDEX_PREFIX_LEN, k.len - CM_KEYS_INDEX_PREFIX_LEN);
        bool has_handle;
        int64_t h = 0;
        cm_arena_reset(&c->arena);
        rc = cm_keys_decode_index_values(vals, c->ix->ncols, &c->arena, c->keyv, &has_handle, &h,
                                         &c->err);
        if (rc != 0) {
            return rc;
        }
        if (!has_handle) {
            cm_reader rd;
            cm_reader_init(&rd, val.ptr, val.len);
            if (val.len != 8 || cm_codec_read_int64(&rd, &h, &c->err) != 0) {
                return cm_err_set(&c->err, CM_E_CORRUPT, "vtab: bad unique index value");
            }
        }
        c->hs[c->nbatch] = h;
        if (covering) {
            c->ioffs[c->nbatch] = c->ikeys.len;
            if (cm_buf_append_slice(&c->ikeys, vals) != 0) {
                return cm_err_set(&c->err, CM_E_NOMEM, "vtab: out of memory");
            }
            c->ioffs[c->nbatch + 1] = c->ikeys.len;
        }
        c->nbatch++;
    }
    if (rc != 0 || covering || c->nbatch == 0) {
        return rc;
    }
    return fetch_rows(c);
}

/* Reads the rows of the handles hs[0, nbatch) with one batch get. */
static int fetch_rows(vt_cursor *c)
{
    sql_vt *v = c->v;
    cm_buf_reset(&c->rkeys);
    for (size_t i = 0; i < c->nbatch; i++) {
        if (cm_keys_append_row(&c->rkeys, v->table_id, c->hs[i]) != 0) {
            return cm_err_set(&c->err, CM_E_NOMEM, "vtab: out of memory");
        }
    }
    for (size_t i = 0; i < c->nbatch; i++) {
        c->rkslices[i] = cm_slice_make(c->rkeys.ptr + i * CM_KEYS_ROW_LEN, CM_KEYS_ROW_LEN);
    }
    return cm_txn_batch_get(c->txn, c->rkslices, c->nbatch, c->rvals, c->rfound, &c->err);
}

/* Handle ranges and full scans: the next row of the merged scan or of the coprocessor's
 * batches, or eof. */
static int scan_step(vt_cursor *c)
{
    int rc;
    if (c->it) {
        cm_slice k, val;
        rc = cm_txn_iter_next(c->it, &k, &val, &c->err);
        if (rc < 0) {
            return rc;
        }
        if (rc == 0) {
            c->eof = true;
            return 0;
        }
        int64_t tid, h;
        rc = cm_keys_decode_row(k, &tid, &h, &c->err);
        if (rc != 0) {
            return rc;
        }
        set_row(c, h, val);
        c->eof = false;
        return 0;
    }
    if (c->cpos >= c->ncrows) {
        if (c->cdone) {
            c->eof = true;
            return 0;
        }
        rc = copr_refill(c);
        if (rc != 0) {
            return rc;
        }
        if (c->ncrows == 0) {
            c->eof = true;
            return 0;
        }
    }
    rc = copr_position(c);
    if (rc != 0) {
        return rc;
    }
    c->cpos++;
    c->eof = false;
    return 0;
}

static int current_datum(vt_cursor *c, uint32_t off, cm_datum *d);

/* The pushed selection evaluated here over the current row (sel_local). */
static int local_keep(vt_cursor *c, bool *keep)
{
    cm_arena_reset(&c->escratch);
    for (size_t i = 0; i < c->nproj; i++) {
        int rc = current_datum(c, c->proj_off[i], &c->edat[i]);
        if (rc != 0) {
            return rc;
        }
    }
    return cm_cx_filter(c->prog, c->edat, &c->escratch, keep, &c->err);
}

/* Moves to the next row of the current source, or sets eof. */
static int advance(vt_cursor *c)
{
    int rc = 0;
    if (!budget_left(c)) {
        c->eof = true;
        return 0;
    }
    switch (c->p.access) {
    case VT_PK_EQ:
        while (c->p.flags & VT_P_IN) {
            if (c->bpos >= c->nbatch) {
                if (c->inpos >= c->nin) {
                    break;
                }
                c->bpos = 0;
                c->nbatch = 0;
                while (c->nbatch < SQL_VT_LOOKUP_BATCH && c->inpos < c->nin) {
                    c->hs[c->nbatch++] = c->inh[c->inpos++];
                }
                rc = fetch_rows(c);
                if (rc != 0) {
                    return rc;
                }
            }
            size_t i = c->bpos++;
            if (c->rfound[i]) {
                set_row(c, c->hs[i], cm_buf_slice(&c->rvals[i]));
                c->eof = false;
                c->emitted++;
                return 0;
            }
        }
        c->eof = true;
        return 0;
    case VT_PK_RANGE:
    case VT_FULL:
        for (;;) {
            rc = scan_step(c);
            if (rc != 0 || c->eof) {
                return rc;
            }
            if (c->sel_local) {
                bool keep;
                rc = local_keep(c, &keep);
                if (rc != 0) {
                    return rc;
                }
                if (!keep) {
                    continue;
                }
            }
            c->emitted++;
            return 0;
        }
    case VT_INDEX:
        for (;;) {
            if (c->bpos >= c->nbatch) {
                if (c->it_done) {
                    c->eof = true;
                    return 0;
                }
                rc = index_refill(c);
                if (rc != 0) {
                    return rc;
                }
                if (c->nbatch == 0) {
                    c->eof = true;
                    return 0;
                }
            }
            size_t i = c->bpos++;
            if (c->p.flags & VT_P_COVERING) {
                bool hh;
                int64_t h;
                cm_arena_reset(&c->arena);
                rc = cm_keys_decode_index_values(
                    cm_slice_make(c->ikeys.ptr + c->ioffs[i], c->ioffs[i + 1] - c->ioffs[i]),
                    c->ix->ncols, &c->arena, c->keyv, &hh, &h, &c->err);
                if (rc != 0) {
                    return rc;
                }
                c->handle = c->hs[i];
                c->src = SRC_KEY;
            } else {
                if (!c->rfound[i]) {
                    continue; /* entry without a row: not visible at this snapshot */
                }
                set_row(c, c->hs[i], cm_buf_slice(&c->rvals[i]));
                if (c->ix->unique && c->p.neq == (int)c->ix->ncols) {
                    cache_row(c);
                }
            }
            c->eof = false;
            c->emitted++;
            return 0;
        }
    }
    c->eof = true;
    return 0;
}

/* A locking read (sql_vt_env.lock_reads): remembers the row the cursor stands on. */
static void lock_current(vt_cursor *c)
{
    sql_vt_env *e = c->v->env;
    if (c->eof || !e->lock_reads || e->locked_overflow) {
        return;
    }
    if (e->nlocked == e->cap_locked) {
        uint32_t nc = e->cap_locked ? e->cap_locked * 2 : 64;
        sql_vt_locked *nv = nc <= SQL_VT_LOCKED_MAX ? realloc(e->locked, nc * sizeof(*nv)) : NULL;
        if (nv == NULL) {
            e->locked_overflow = true; /* the session fails the statement */
            return;
        }
        e->locked = nv;
        e->cap_locked = nc;
    }
    e->locked[e->nlocked].table = c->v->table_id;
    e->locked[e->nlocked].handle = c->handle;
    e->nlocked++;
}

/* ---- xFilter --------------------------------------------------------------------------------- */

static int ensure_index_bufs(vt_cursor *c)
{
    if (c->hs) {
        return 0;
    }
    c->hs = calloc(SQL_VT_LOOKUP_BATCH, sizeof *c->hs);
    c->ioffs = calloc(SQL_VT_LOOKUP_BATCH + 1, sizeof *c->ioffs);
    c->rkslices = calloc(SQL_VT_LOOKUP_BATCH, sizeof *c->rkslices);
    c->rvals = calloc(SQL_VT_LOOKUP_BATCH, sizeof *c->rvals);
    c->rfound = calloc(SQL_VT_LOOKUP_BATCH, sizeof *c->rfound);
    if (!c->hs || !c->ioffs || !c->rkslices || !c->rvals || !c->rfound) {
        return cm_err_set(&c->err, CM_E_NOMEM, "vtab: out of memory");
    }
    return 0;
}

static bool vcol_in_push(const vt_push *p, int vcol)
{
    for (int i = 0; i < p->n; i++) {
        if (p->t[i].vcol == vcol) {
            return true;
        }
    }
    for (int i = 0; i < p->norder; i++) {
        if (p->ord[i].vcol == vcol) {
            return true;
        }
    }
    return false;
}

/* The columns a coprocessor scan returns: those of colUsed (all of them for bit 63) and those
 * the pushed selection and TopN read. */
static int build_projection(vt_cursor *c)
{
    sql_vt *v = c->v;
    if (c->proj_cap < v->ncols + 1) {
        free(c->proj);
        free(c->proj_of);
        free(c->proj_off);
        free(c->cpres);
        free(c->cvals);
        free(c->pcols);
        free(c->outcols);
        free(c->dflts);
        free(c->edat);
        size_t n = v->ncols + 1;
        c->proj = calloc(n, sizeof *c->proj);
        c->proj_of = calloc(n, sizeof *c->proj_of);
        c->proj_off = calloc(n, sizeof *c->proj_off);
        c->cpres = calloc(n, sizeof *c->cpres);
        c->cvals = calloc(n, sizeof *c->cvals);
        c->pcols = calloc(n + 1, sizeof *c->pcols);
        c->outcols = calloc(n, sizeof *c->outcols);
        c->dflts = calloc(n, sizeof *c->dflts);
        c->edat = calloc(n, sizeof *c->edat);
        if (!c->proj || !c->proj_of || !c->proj_off || !c->cpres || !c->cvals || !c->pcols ||
            !c->outcols || !c->dflts || !c->edat) {
            c->proj_cap = 0;
            return cm_err_set(&c->err, CM_E_NOMEM, "vtab: out of memory");
        }
        c->proj_cap = n;
    }
    c->nproj = 0;
    for (uint32_t i = 0; i < v->ncols; i++) {
        c->proj_of[i] = -1;
        const vt_col *col = &v->cols[i];
        if (col->vcol < 0 || (col->vcol == v->handle_vcol && col->dtype == CM_DT_INT64)) {
            continue; /* not declared, or the handle itself (read from the key) */
        }
        bool used = col->vcol >= 63 ? (c->p.used >> 63) & 1 : (c->p.used >> col->vcol) & 1;
        if (!used && !vcol_in_push(&c->push, col->vcol)) {
            continue;
        }
        c->proj_of[i] = (int)c->nproj;
        c->proj_off[c->nproj] = i;
        c->proj[c->nproj].id = col->c->id;
        c->proj[c->nproj].type = (uint8_t)col->dtype;
        c->nproj++;
    }
    return 0;
}

/* The plan of a coprocessor scan (docs/coprocessor.md, "Scan pushdown in the vtab module"):
 * the projection, the pushed selection (unless it must run here), and LIMIT or TopN. lim < 0:
 * no LIMIT argument. */
static int build_plan(vt_cursor *c, int argc, sqlite3_value **argv, int64_t lim, int64_t off)
{
    sql_vt *v = c->v;
    bool kv_push = v->env->copr_pushdown;
    cm_slice sel = cm_slice_make(NULL, 0);
    int nterms = 0;
    int rc = 0;
    if (c->push.n > 0) {
        cm_buf_reset(&c->scratch);
        rc = sql_vt_push_build(v, &c->push, argc, argv, c->proj_of, &c->cxb, &c->scratch, &nterms,
                               &c->err);
        if (rc == 0 && nterms > 0) {
            rc = cm_cx_finish(&c->cxb, &sel, &c->err);
        }
        if (rc != 0) {
            return rc;
        }
        if (nterms > 0 && (!kv_push || c->it != NULL)) {
            /* pushdown off since the plan was made, or a merged scan of buffered writes: the
             * omitted constraints are evaluated here, with the same evaluator */
            cm_arena_reset(&c->parena);
            rc = cm_cx_decode(sel, (uint32_t)c->nproj, &c->parena, &c->prog, &c->err);
            if (rc != 0) {
                return rc;
            }
            c->sel_local = true;
            sel = cm_slice_make(NULL, 0);
        }
    }
    if (c->it != NULL) {
        return 0; /* cm_txn_scan: no plan */
    }
    cm_copr_plan pl;
    memset(&pl, 0, sizeof pl);
    pl.scan = CM_COPR_SCAN_TABLE;
    for (size_t i = 0; i < c->nproj; i++) {
        c->pcols[i].id = c->proj[i].id;
        c->pcols[i].dtype = c->proj[i].type;
        c->outcols[i] = (uint32_t)i;
    }
    uint32_t ncols = (uint32_t)c->nproj, ndflt = 0;
    for (size_t i = 0; i < c->nproj; i++) {
        const vt_col *col = &v->cols[c->proj_off[i]];
        if (col->dflt.type != CM_DT_NULL) {
            c->dflts[ndflt].col = (uint32_t)i;
            c->dflts[ndflt].value = col->dflt;
            ndflt++;
        }
    }
    pl.sel = sel;
    cm_copr_order ord[VT_PUSH_ORD_MAX];
    if (kv_push && (c->p.flags & VT_P_TOPN) && !c->sel_local && lim >= 0 &&
        (uint64_t)lim + (uint64_t)(off > 0 ? off : 0) <= VT_TOPN_MAX) {
        cm_cx_builder ob;
        cm_cx_builder_init(&ob);
        cm_buf obytes = CM_BUF_INIT;
        size_t ooff[VT_PUSH_ORD_MAX + 1];
        for (int i = 0; rc == 0 && i < c->push.norder; i++) {
            int vc = c->push.ord[i].vcol;
            uint32_t ci;
            if (vc == v->handle_vcol) {
                if (ncols == c->nproj) { /* the handle as a pseudo column, not sent back */
                    c->pcols[ncols].id = CM_COPR_HANDLE_ID;
                    c->pcols[ncols].dtype = CM_DT_INT64;
                    ncols++;
                    pl.has_out = true;
                    pl.nout = (uint32_t)c->nproj;
                    pl.out = c->outcols;
                }
                ci = (uint32_t)c->nproj;
            } else if (vc >= 0 && vc < (int)v->nvis && c->proj_of[v->vis[vc]] >= 0) {
                ci = (uint32_t)c->proj_of[v->vis[vc]];
            } else {
                rc = cm_err_set(&c->err, CM_E_INTERNAL, "vtab: TopN column not in the plan");
                break;
            }
            cm_slice code;
            cm_cx_builder_reset(&ob);
            cm_cx_col(&ob, ci);
            rc = cm_cx_finish(&ob, &code, &c->err);
            ooff[i] = obytes.len;
            rc = rc ? rc : cm_buf_append_slice(&obytes, code);
        }
        if (rc == 0) {
            for (int i = 0; i < c->push.norder; i++) {
                size_t e = i + 1 < c->push.norder ? ooff[i + 1] : obytes.len;
                ord[i].expr = cm_slice_make(obytes.ptr + ooff[i], e - ooff[i]);
                ord[i].desc = c->push.ord[i].desc;
            }
            pl.has_topn = true;
            pl.topn_limit = (uint64_t)lim + (uint64_t)(off > 0 ? off : 0);
            pl.norder = (uint32_t)c->push.norder;
            pl.order = ord;
            c->topn = true;
        }
        cm_cx_builder_fini(&ob);
        if (rc == 0) {
            pl.ncols = ncols;
            pl.cols = c->pcols;
            pl.ndflt = ndflt;
            pl.dflt = c->dflts;
            cm_buf_reset(&c->plan);
            rc = cm_copr_plan_encode(&pl, &c->plan, &c->err);
        }
        cm_buf_fini(&obytes);
        return rc;
    }
    if (kv_push && (c->p.flags & VT_P_LIMIT) && !(c->p.flags & VT_P_TOPN) && c->has_budget &&
        !c->sel_local) {
        /* every constraint is omitted (xBestIndex) and evaluated by the KV: its first rows are
         * the answer */
        pl.has_limit = true;
        pl.limit = c->budget;
    }
    pl.ncols = ncols;
    pl.cols = c->pcols;
    pl.ndflt = ndflt;
    pl.dflt = c->dflts;
    cm_buf_reset(&c->plan);
    return cm_copr_plan_encode(&pl, &c->plan, &c->err);
}

/* Whether and how a range constraint (lower: > or >=; op_incl: >= or <=) on the range column
 * bounds the key range, given how its key value relates to the operand (sql_type_key_value):
 *     col > in   EXACT/DOWN: keys > out    UP: keys >= out
 *     col >= in  EXACT/UP: keys >= out     DOWN: keys > out
 *     col < in   EXACT/UP: keys < out      DOWN: keys <= out
 *     col <= in  EXACT/DOWN: keys <= out   UP: keys < out
 * NONE, or a column whose key order is not SQLite's order (ENUM, SET, TIME, BIT), gives no
 * bound; a prefix column's keys are cut values, so its bounds are inclusive. SQLite re-checks
 * every index constraint (omit = 0), so a wider range is only slower, never wrong. */
void sql_vt_key_bound(bool lower, bool op_incl, sql_type_fit fit, bool pfx, bool ordered, bool *use,
                      bool *incl)
{
    *use = fit != SQL_TYPE_FIT_NONE && ordered;
    if (pfx) {
        *incl = true;
    } else if (lower) {
        *incl = op_incl ? fit != SQL_TYPE_FIT_DOWN : fit == SQL_TYPE_FIT_UP;
    } else {
        *incl = op_incl ? fit != SQL_TYPE_FIT_UP : fit == SQL_TYPE_FIT_DOWN;
    }
}

static int filter_index(vt_cursor *c, int argc, sqlite3_value **argv, int *argi)
{
    sql_vt *v = c->v;
    if (c->p.index < 0 || (uint32_t)c->p.index >= v->t->nindexes) {
        return cm_err_set(&c->err, CM_E_INTERNAL, "vtab: plan names a missing index");
    }
    const sql_cat_index *ix = &v->t->indexes[c->p.index];
    c->ix = ix;
    int rc = ensure_index_bufs(c);
    cm_buf *pre = &c->val; /* the key prefix: index prefix + equality datums */
    cm_buf_reset(pre);
    cm_buf_reset(&c->scratch);
    rc = rc ? rc : cm_keys_append_index_prefix(pre, v->table_id, ix->id);
    cm_datum d;
    sql_type_fit fit;
    for (int k = 0; rc == 0 && k < c->p.neq; k++) {
        if (*argi >= argc) {
            return cm_err_set(&c->err, CM_E_INTERNAL, "vtab: missing argument");
        }
        rc = sql_vt_key_datum(v, ix, (uint32_t)k, argv[(*argi)++], &d, &c->scratch, &fit, &c->err);
        if (rc == 0 && (fit != SQL_TYPE_FIT_EXACT || d.type == CM_DT_NULL)) {
            return 1; /* no stored value equals it (NULL equals nothing) */
        }
        rc = rc ? rc : cm_codec_encode_datum(pre, &d, &c->err);
        cm_buf_reset(&c->scratch);
    }
    if (rc != 0) {
        return rc;
    }
    cm_buf_reset(&c->start);
    cm_buf_reset(&c->end);
    rc = cm_buf_append_slice(&c->start, cm_buf_slice(pre));
    size_t plen = pre->len;
    bool have_end = false;
    uint32_t rk = (uint32_t)c->p.neq;
    bool ordered = rk < ix->ncols && sql_type_key_ordered(&v->cols[ix->cols[rk]].c->type);
    /* a prefix column keys truncated values: its bounds are inclusive */
    bool pfx = ix->prefix_len != NULL && rk < ix->ncols && ix->prefix_len[rk] != 0;
    if (rc == 0 && (c->p.flags & (VT_P_LO | VT_P_HI))) {
        /* a comparison never holds for NULL: start after the NULL entries */
        rc = cm_buf_append_u8(&c->start, CM_CODEC_FLAG_NULL + 1);
    }
    bool use, incl;
    if (rc == 0 && (c->p.flags & VT_P_LO) && *argi < argc) {
        rc = sql_vt_key_datum(v, ix, rk, argv[(*argi)++], &d, &c->scratch, &fit, &c->err);
        if (rc == 0 && d.type == CM_DT_NULL && fit == SQL_TYPE_FIT_EXACT) {
            return 1; /* compared with NULL */
        }
        sql_vt_key_bound(true, (c->p.flags & VT_P_LO_INCL) != 0, fit, pfx, ordered, &use, &incl);
        if (rc == 0 && use) {
            cm_buf_reset(&c->start);
            rc = cm_buf_append(&c->start, pre->ptr, plen);
            rc = rc ? rc : cm_codec_encode_datum(&c->start, &d, &c->err);
            if (rc == 0 && !incl) {
                cm_buf tmp = CM_BUF_INIT;
                rc = cm_keys_prefix_next(cm_buf_slice(&c->start), &tmp);
                cm_buf_reset(&c->start);
                rc = rc ? rc : cm_buf_append_slice(&c->start, cm_buf_slice(&tmp));
                cm_buf_fini(&tmp);
            }
        }
        cm_buf_reset(&c->scratch);
    }
    if (rc == 0 && (c->p.flags & VT_P_HI) && *argi < argc) {
        rc = sql_vt_key_datum(v, ix, rk, argv[(*argi)++], &d, &c->scratch, &fit, &c->err);
        if (rc == 0 && d.type == CM_DT_NULL && fit == SQL_TYPE_FIT_EXACT) {
            return 1;
        }
        sql_vt_key_bound(false, (c->p.flags & VT_P_HI_INCL) != 0, fit, pfx, ordered, &use, &incl);
        if (rc == 0 && use) {
            rc = cm_buf_append(&c->end, pre->ptr, plen);
            rc = rc ? rc : cm_codec_encode_datum(&c->end, &d, &c->err);
            if (rc == 0 && incl) {
                cm_buf tmp = CM_BUF_INIT;
                rc = cm_keys_prefix_next(cm_buf_slice(&c->end), &tmp);
                cm_buf_reset(&c->end);
                rc = rc ? rc : cm_buf_append_slice(&c->end, cm_buf_slice(&tmp));
                cm_buf_fini(&tmp);
            }
            have_end = true;
        }
        cm_buf_reset(&c->scratch);
    }
    if (rc == 0 && !have_end) {
        rc = cm_keys_prefix_next(cm_slice_make(pre->ptr, plen), &c->end);
    }
    if (rc == 0 && cm_slice_cmp(cm_buf_slice(&c->start), cm_buf_slice(&c->end)) >= 0 &&
        c->end.len > 0) {
        return 1;
    }
    rc = rc ? rc
            : cm_txn_scan(c->txn, cm_buf_slice(&c->start), cm_buf_slice(&c->end), &c->it, &c->err);
    return rc;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The handles of an IN list, sorted (the scan order) and without duplicates. */
static int collect_in(vt_cursor *c, int argc, sqlite3_value **argv, int *argi)
{
    if (*argi >= argc) {
        return cm_err_set(&c->err, CM_E_INTERNAL, "vtab: missing IN argument");
    }
    int rc = ensure_index_bufs(c);
    if (rc != 0) {
        return rc;
    }
    sqlite3_value *list = argv[(*argi)++], *val = NULL;
    c->nin = 0;
    int src;
    for (src = sqlite3_vtab_in_first(list, &val); src == SQLITE_OK && val != NULL;
         src = sqlite3_vtab_in_next(list, &val)) {
        int64_t lo = INT64_MIN, hi = INT64_MAX;
        if (!sql_vt_handle_bound(SQLITE_INDEX_CONSTRAINT_EQ, val, &lo, &hi)) {
            continue;
        }
        if (c->nin == c->incap) {
            size_t cap = c->incap ? c->incap * 2 : 64;
            int64_t *n = realloc(c->inh, cap * sizeof *n);
            if (!n) {
                return cm_err_set(&c->err, CM_E_NOMEM, "vtab: out of memory");
            }
            c->inh = n;
            c->incap = cap;
        }
        c->inh[c->nin++] = lo;
    }
    if (src != SQLITE_OK && src != SQLITE_DONE) {
        return cm_err_set(&c->err, CM_E_INTERNAL, "vtab: reading an IN list failed (%d)", src);
    }
    qsort(c->inh, c->nin, sizeof *c->inh, cmp_i64);
    size_t n = 0;
    for (size_t i = 0; i < c->nin; i++) {
        if (n == 0 || c->inh[n - 1] != c->inh[i]) {
            c->inh[n++] = c->inh[i];
        }
    }
    c->nin = n;
    c->inpos = 0;
    c->nbatch = c->bpos = 0;
    return n == 0 ? 1 : 0;
}

static int filter_handle(vt_cursor *c, int argc, sqlite3_value **argv, int *argi)
{
    sql_vt *v = c->v;
    int64_t lo = INT64_MIN, hi = INT64_MAX;
    if (c->p.access == VT_PK_EQ && (c->p.flags & VT_P_IN)) {
        return collect_in(c, argc, argv, argi);
    }
    if (c->p.access == VT_PK_EQ) {
        if (*argi >= argc ||
            !sql_vt_handle_bound(SQLITE_INDEX_CONSTRAINT_EQ, argv[*argi], &lo, &hi)) {
            return 1;
        }
        (*argi)++;
        cm_buf_reset(&c->start);
        int rc = cm_keys_append_row(&c->start, v->table_id, lo);
        rc = rc ? rc : cm_txn_get(c->txn, cm_buf_slice(&c->start), &c->val, &c->err);
        if (rc == CM_E_NOT_FOUND) {
            return 1;
        }
        if (rc != 0) {
            return rc;
        }
        set_row(c, lo, cm_buf_slice(&c->val));
        cache_row(c);
        c->eof = false;
        c->emitted = 1;
        return 2; /* positioned */
    }
    if ((c->p.flags & VT_P_LO) && *argi < argc) {
        int op =
            c->p.flags & VT_P_LO_INCL ? SQLITE_INDEX_CONSTRAINT_GE : SQLITE_INDEX_CONSTRAINT_GT;
        if (!sql_vt_handle_bound(op, argv[(*argi)++], &lo, &hi)) {
            return 1;
        }
    }
    if ((c->p.flags & VT_P_HI) && *argi < argc) {
        int op =
            c->p.flags & VT_P_HI_INCL ? SQLITE_INDEX_CONSTRAINT_LE : SQLITE_INDEX_CONSTRAINT_LT;
        if (!sql_vt_handle_bound(op, argv[(*argi)++], &lo, &hi)) {
            return 1;
        }
    }
    if (lo > hi) {
        return 1;
    }
    cm_buf_reset(&c->start);
    cm_buf_reset(&c->end);
    int rc = cm_keys_append_row(&c->start, v->table_id, lo);
    if (hi == INT64_MAX) {
        cm_buf tmp = CM_BUF_INIT;
        rc = rc ? rc : cm_keys_rows_range(v->table_id, &tmp, &c->end);
        cm_buf_fini(&tmp);
    } else {
        rc = rc ? rc : cm_keys_append_row(&c->end, v->table_id, hi + 1);
    }
    if (rc != 0) {
        return cm_err_set(&c->err, rc, "vtab: out of memory");
    }
    rc = build_projection(c);
    if (rc == 0 && (sql_vt_table_dirty(v) || v->writing)) { /* writing: full rows to keep */
        rc = cm_txn_scan(c->txn, cm_buf_slice(&c->start), cm_buf_slice(&c->end), &c->it, &c->err);
    }
    return rc;
}

int sql_vt_filter(sqlite3_vtab_cursor *cur, int idx_num, const char *idx_str, int argc,
                  sqlite3_value **argv)
{
    (void)idx_num;
    vt_cursor *c = (vt_cursor *)cur;
    sql_vt *v = c->v;
    cur_reset(c);
    cm_err_clear(&c->err);
    int src = sql_vt_refresh(v);
    src = src == SQLITE_OK ? sql_vt_flush(v) : src; /* INSERT rows kept for a batched check */
    if (src != SQLITE_OK) {
        return src;
    }
    if (!sql_vt_plan_parse(idx_str, &c->p) || !sql_vt_push_parse(idx_str, &c->push)) {
        cm_err_set(&c->err, CM_E_INTERNAL, "vtab: unknown plan '%s'", idx_str ? idx_str : "");
        return sql_vt_fail(v, &c->err);
    }
    int rc = sql_vt_txn(v, &c->txn, &c->err);
    if (rc != 0) {
        return cur_fail(c, rc);
    }
    if (v->writing) {
        c->p.flags &= ~VT_P_COVERING; /* fetch the rows (batched) and keep them for xUpdate */
    }
    int argi = 0;
    rc = c->p.access == VT_INDEX ? filter_index(c, argc, argv, &argi)
                                 : filter_handle(c, argc, argv, &argi);
    if (rc < 0) {
        return cur_fail(c, rc);
    }
    if (rc == 1) {
        c->eof = true;
        return SQLITE_OK;
    }
    if (rc == 2) {
        lock_current(c);
        return SQLITE_OK;
    }
    bool scan = c->p.access == VT_FULL || c->p.access == VT_PK_RANGE;
    if (scan) {
        argi += c->push.n; /* the pushed constraints' values come before LIMIT/OFFSET */
    }
    sqlite3_int64 lim = -1, off = 0;
    if (c->p.flags & VT_P_LIMIT && argi < argc) {
        lim = sqlite3_value_int64(argv[argi++]);
        if ((c->p.flags & VT_P_OFFSET) && argi < argc) {
            off = sqlite3_value_int64(argv[argi++]);
        }
        if (lim >= 0 && !(c->p.flags & VT_P_TOPN)) { /* a TopN's rows come in no useful order */
            c->has_budget = true;
            c->budget = (uint64_t)lim + (uint64_t)(off > 0 ? off : 0);
        }
    }
    if (scan) {
        rc = build_plan(c, argc, argv, lim, off);
        if (rc < 0) {
            return cur_fail(c, rc);
        }
    }
    rc = advance(c);
    if (rc < 0) {
        return cur_fail(c, rc);
    }
    lock_current(c);
    return SQLITE_OK;
}

int sql_vt_next(sqlite3_vtab_cursor *cur)
{
    vt_cursor *c = (vt_cursor *)cur;
    int rc = advance(c);
    if (rc < 0) {
        return cur_fail(c, rc);
    }
    lock_current(c);
    return SQLITE_OK;
}

int sql_vt_eof(sqlite3_vtab_cursor *cur)
{
    return ((vt_cursor *)cur)->eof;
}

int sql_vt_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid)
{
    *rowid = ((vt_cursor *)cur)->handle;
    return SQLITE_OK;
}

/* The datum of column off of the current row. */
static int current_datum(vt_cursor *c, uint32_t off, cm_datum *d)
{
    sql_vt *v = c->v;
    const vt_col *col = &v->cols[off];
    cm_slice val;
    if ((int32_t)off == v->t->handle_col && c->src != SRC_ROW) {
        /* the handle column is the key's handle (covering and coprocessor rows) */
        *d = col->dtype == CM_DT_UINT64 ? cm_datum_uint64((uint64_t)c->handle)
                                        : cm_datum_int64(c->handle);
        return 0;
    }
    switch (c->src) {
    case SRC_ROW: {
        if (!c->view_ok) {
            int rc = cm_row_view_init(&c->view, c->row, &c->err);
            if (rc != 0) {
                return rc;
            }
            c->view_ok = true;
        }
        cm_row_presence p = cm_row_view_find(&c->view, col->c->id, &val);
        if (p == CM_ROW_ABSENT) {
            *d = col->dflt;
            return 0;
        }
        if (p == CM_ROW_NULL) {
            *d = cm_datum_null();
            return 0;
        }
        return cm_row_value_decode(col->dtype, val, d, &c->err);
    }
    case SRC_COPR: {
        int pi = c->proj_of[off];
        if (pi < 0) {
            return cm_err_set(&c->err, CM_E_INTERNAL, "vtab: column %s not projected",
                              col->c->name);
        }
        if (c->cpres[pi] == 0) {
            *d = col->dflt;
            return 0;
        }
        if (c->cpres[pi] == 1) {
            *d = cm_datum_null();
            return 0;
        }
        return cm_row_value_decode(col->dtype, c->cvals[pi], d, &c->err);
    }
    case SRC_KEY:
        for (uint32_t k = 0; k < c->ix->ncols; k++) {
            if (c->ix->cols[k] == off) {
                *d = c->keyv[k];
                return 0;
            }
        }
        return cm_err_set(&c->err, CM_E_INTERNAL, "vtab: column %s not in the index", col->c->name);
    default:
        return cm_err_set(&c->err, CM_E_INTERNAL, "vtab: no current row");
    }
}

int sql_vt_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int i)
{
    vt_cursor *c = (vt_cursor *)cur;
    sql_vt *v = c->v;
    if (i < 0 || (uint32_t)i >= v->nvis) {
        sqlite3_result_null(ctx);
        return SQLITE_OK;
    }
    if (sqlite3_vtab_nochange(ctx)) {
        return SQLITE_OK; /* UPDATE leaves it: xUpdate takes the stored value */
    }
    if (i == v->handle_vcol && v->cols[v->vis[i]].dtype == CM_DT_INT64) {
        sqlite3_result_int64(ctx, c->handle);
        return SQLITE_OK;
    }
    const vt_col *col = &v->cols[v->vis[i]];
    cm_datum d;
    int rc = current_datum(c, v->vis[i], &d);
    rc = rc ? rc : sql_vt_result(ctx, col, &d, &c->scratch, &c->err);
    if (rc != 0) {
        int src = cur_fail(c, rc);
        sqlite3_result_error(ctx, c->err.msg, -1);
        return src;
    }
    return SQLITE_OK;
}
