/*
 * sql_vtab_write.c — xUpdate: INSERT, UPDATE and DELETE of one row, staged in the session's
 * transaction (the module never commits).
 *
 * Every check runs before the first write of the row, so a row that fails (1048, 1062, a value
 * the type refuses) leaves the buffer untouched — what SQLITE_VTAB_CONSTRAINT_SUPPORT promises.
 * Unique checks read through the transaction (its own buffered rows count) with one
 * cm_txn_batch_get for the row key and every unique index entry. Conflict modes
 * (sqlite3_vtab_on_conflict): IGNORE skips the row with warning 1062; REPLACE (INSERT only)
 * deletes every conflicting row with its index entries and inserts (MySQL counts 1 + deleted);
 * ABORT/FAIL/ROLLBACK fail the statement with 1062 in env->err and SQLITE_CONSTRAINT.
 * Index entries follow their state: PUBLIC, WRITE_ONLY and WRITE_REORG are written, any state
 * but NONE has its entries deleted (layout: docs/sql-layer.md "Index entries").
 */
#include "sql_vtab_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define VT_IDX_COLS_MAX 16 /* MySQL's limit of key parts per index */

static bool idx_writes(uint8_t s)
{
    return s == SQL_OBJ_PUBLIC || s == SQL_OBJ_WRITE_ONLY || s == SQL_OBJ_WRITE_REORG;
}
static bool idx_deletes(uint8_t s)
{
    return s != SQL_OBJ_NONE;
}

static bool payload_type(cm_dtype t)
{
    return t == CM_DT_STRING || t == CM_DT_BYTES || t == CM_DT_JSON;
}

static bool datum_eq(const cm_datum *a, const cm_datum *b)
{
    if (a->type != b->type) {
        return false;
    }
    switch (a->type) {
    case CM_DT_NULL:
        return true;
    case CM_DT_STRING:
    case CM_DT_BYTES:
    case CM_DT_JSON:
        return a->v.bytes.len == b->v.bytes.len &&
               (a->v.bytes.len == 0 || memcmp(a->v.bytes.ptr, b->v.bytes.ptr, a->v.bytes.len) == 0);
    case CM_DT_DECIMAL:
        return a->v.dec.frac == b->v.dec.frac && cm_decimal_cmp(&a->v.dec, &b->v.dec) == 0;
    case CM_DT_FLOAT64:
    case CM_DT_FLOAT32:
        return a->v.f64 == b->v.f64;
    default:
        return a->v.u64 == b->v.u64;
    }
}

/* ---- values ---------------------------------------------------------------------------------- */

typedef struct wctx {
    sql_vt *v;
    cm_txn *txn;
    cm_err err;
    size_t *offs; /* per column: payload offset in v->scratch, or SIZE_MAX */
    bool now_ready;
} wctx;

/* The statement's NOW() as text (session time zone), formatted once per row into scratch2. */
static int now_text(wctx *w, cm_slice *out)
{
    sql_vt *v = w->v;
    if (!w->now_ready) {
        int64_t us = v->env->now_us;
        time_t secs = (time_t)(us / 1000000);
        struct tm tm;
        gmtime_r(&secs, &tm);
        cm_datetime dt = {
            (uint16_t)(tm.tm_year + 1900), (uint8_t)(tm.tm_mon + 1), (uint8_t)tm.tm_mday,
            (uint8_t)tm.tm_hour,           (uint8_t)tm.tm_min,       (uint8_t)tm.tm_sec,
            (uint32_t)(us % 1000000)};
        sql_type_tz_from_utc(&dt); /* NOW() is the session time zone's */
        cm_buf_reset(&v->scratch2);
        if (cm_datetime_format(&dt, false, 6, &v->scratch2) != 0) {
            return cm_err_set(&w->err, CM_E_NOMEM, "vtab: out of memory");
        }
        w->now_ready = true;
    }
    *out = cm_buf_slice(&v->scratch2);
    return 0;
}

/* Converts in for column off into v->newv[off]. */
static int store(wctx *w, uint32_t off, const sql_value *in)
{
    sql_vt *v = w->v;
    const sql_cat_col *c = v->cols[off].c;
    sql_type_note note = {0};
    cm_datum *d = &v->newv[off];
    int rc = sql_type_store(&c->type, c->name, in, v->env->strict, d, &v->scratch, &note, &w->err);
    if (rc != 0) {
        return rc;
    }
    if (note.code != 0 && v->env->warn) {
        v->env->warn(v->env->sess, note.code, note.msg);
    }
    w->offs[off] = SIZE_MAX;
    if (payload_type(d->type) && v->scratch.ptr != NULL && d->v.bytes.ptr >= v->scratch.ptr &&
        d->v.bytes.ptr <= v->scratch.ptr + v->scratch.len) {
        w->offs[off] = (size_t)(d->v.bytes.ptr - v->scratch.ptr);
    }
    return 0;
}

static int store_now(wctx *w, uint32_t off)
{
    cm_slice t = {NULL, 0};
    int rc = now_text(w, &t);
    if (rc != 0) {
        return rc;
    }
    /* NOW(fsp) truncates to the column's fsp, where storing the 6-digit text would round (a
     * TIMESTAMP(0) written at .6 s would read the next second, later than the ALTER's time an
     * added column's origin default holds) */
    unsigned fsp = w->v->cols[off].c->type.decimals;
    size_t keep = 19 + (fsp > 0 && fsp <= 6 ? 1 + fsp : 0);
    if (t.len > keep) {
        t.len = keep;
    }
    sql_value in = sql_value_text((const char *)t.ptr, t.len);
    return store(w, off, &in);
}

static int store_arg(wctx *w, uint32_t off, sqlite3_value *val)
{
    sql_value in = sql_vt_value(val);
    return store(w, off, &in);
}

/* The column's default for an INSERT that did not give a value. */
static int store_default(wctx *w, uint32_t off)
{
    const vt_col *col = &w->v->cols[off];
    const sql_cat_col *c = col->c;
    if (c->default_now) {
        return store_now(w, off);
    }
    if (c->has_default && !c->default_null && c->default_text != NULL) {
        sql_value in = sql_value_text(c->default_text, strlen(c->default_text));
        return store(w, off, &in);
    }
    w->v->newv[off] = cm_datum_null();
    return 0;
}

/* A column written but not visible (write-only / write-reorg: being added, or being dropped)
 * for an INSERT: its origin default when it was added by ALTER TABLE, so that the row reads the
 * same whether a node in delete-only (which leaves the column out) or one in write-only wrote it;
 * otherwise (a column being dropped) its default, or the implicit zero of a NOT NULL column
 * without one, so that nodes still on the public state read a valid value (docs/ddl.md). */
static int store_hidden(wctx *w, uint32_t off)
{
    const vt_col *col = &w->v->cols[off];
    if (!col->c->has_origin) {
        int rc = store_default(w, off);
        if (rc != 0 || w->v->newv[off].type != CM_DT_NULL || !col->c->not_null) {
            return rc;
        }
    }
    w->v->newv[off] = col->dflt; /* payload in v->dflt_mem or the definition: not scratch */
    w->offs[off] = SIZE_MAX;
    return 0;
}

/* SQLite 3.40 does not apply the DEFAULTs of a virtual table's declaration (its default list
 * is dropped when the table is declared) and passes NULL for every column an INSERT omits. When
 * the session tells which columns the statement names (env->insert_named), a NULL for a column
 * not named is "omitted" (its default applies) and a NULL for a named one is stored as NULL
 * (1048 for NOT NULL), as in MySQL. Otherwise a NULL that does not come from a bound parameter is
 * taken as "omitted" when the column has a non-NULL default; an explicit NULL literal into such a
 * column thus gets the default (MySQL would store NULL, or refuse it for a NOT NULL column). */
static bool omitted(const sql_vt *v, const vt_col *col, sqlite3_value *val)
{
    const sql_cat_col *c = col->c;
    if (sqlite3_value_type(val) != SQLITE_NULL) {
        return false;
    }
    const sql_vt_env *e = v->env;
    if (e->insert_named != NULL && e->insert_table == v->table_id) {
        return col->vcol < 0 || (uint32_t)col->vcol >= e->ninsert_named ||
               !e->insert_named[col->vcol];
    }
    return !sqlite3_value_frombind(val) &&
           (c->default_now || (c->has_default && !c->default_null && c->default_text != NULL));
}

/* Re-points payloads into scratch after it stopped moving. */
static void fix_payloads(wctx *w)
{
    sql_vt *v = w->v;
    for (uint32_t i = 0; i < v->ncols; i++) {
        if (w->offs[i] != SIZE_MAX) {
            v->newv[i].v.bytes.ptr = v->scratch.ptr + w->offs[i];
        }
    }
}

static int null_error(wctx *w, const sql_cat_col *c)
{
    return cm_err_set(&w->err, CM_E_BAD_NULL, "Column '%s' cannot be null", c->name);
}

/* ---- keys and messages ----------------------------------------------------------------------- */

/* Appends the entry of ix for vals (by table offset) through sql_cat_index_entry, the one
 * function the catalog's backfill uses too (docs/sql-layer.md "Index entries"): the key to out,
 * the value to value (reset first; NULL: not needed). *value_handle tells whether the value is
 * the handle (unique without NULL). */
static int index_key(wctx *w, const sql_cat_index *ix, const cm_datum *vals, int64_t handle,
                     cm_buf *out, cm_buf *value, bool *value_handle)
{
    sql_vt *v = w->v;
    cm_datum kd[VT_IDX_COLS_MAX];
    if (ix->ncols > VT_IDX_COLS_MAX) {
        return cm_err_set(&w->err, CM_E_INVALID, "index %s has too many columns", ix->name);
    }
    for (uint32_t k = 0; k < ix->ncols; k++) {
        kd[k] = vals[ix->cols[k]];
    }
    cm_buf *val = value ? value : &v->ival;
    cm_buf_reset(val);
    bool in_key = false;
    int rc = sql_cat_index_entry(v->t, ix, kd, handle, out, val, &in_key, &w->err);
    *value_handle = !in_key;
    return rc;
}

/* "Duplicate entry 'v1-v2' for key 't.idx'" (MySQL 8.0). ix NULL: the primary key (handle). */
static int dup_error(wctx *w, const sql_cat_index *ix, const cm_datum *vals, int64_t handle)
{
    sql_vt *v = w->v;
    cm_buf *m = &v->msg;
    cm_buf_reset(m);
    int rc = 0;
    if (ix == NULL) {
        rc = cm_buf_printf(m, "%lld", (long long)handle);
    } else {
        for (uint32_t k = 0; rc == 0 && k < ix->ncols; k++) {
            const vt_col *col = &v->cols[ix->cols[k]];
            sql_value out;
            cm_buf tmp = CM_BUF_INIT;
            cm_err lerr;
            rc = k ? cm_buf_append_u8(m, '-') : 0;
            if (rc == 0 &&
                sql_type_load(&col->c->type, &vals[ix->cols[k]], &out, &tmp, &lerr) == 0) {
                switch (out.type) {
                case SQL_V_NULL:
                    rc = cm_buf_printf(m, "NULL");
                    break;
                case SQL_V_INT:
                    rc = cm_buf_printf(m, "%lld", (long long)out.i);
                    break;
                case SQL_V_UINT:
                    rc = cm_buf_printf(m, "%llu", (unsigned long long)out.u);
                    break;
                case SQL_V_DOUBLE:
                    rc = cm_buf_printf(m, "%.17g", out.d);
                    break;
                default:
                    rc = cm_buf_append(m, out.s, out.n > 64 ? 64 : out.n);
                    break;
                }
            }
            cm_buf_fini(&tmp);
        }
    }
    rc = rc ? rc : cm_buf_terminate(m);
    if (rc != 0) {
        return cm_err_set(&w->err, CM_E_NOMEM, "vtab: out of memory");
    }
    return cm_err_set(&w->err, CM_E_DUP_ENTRY, "Duplicate entry '%s' for key '%s.%s'",
                      (const char *)m->ptr, v->t->name, ix ? ix->name : "PRIMARY");
}

/* ---- reading and deleting existing rows ------------------------------------------------------ */

/* Reads the row of handle into buf (the cursor's copy when it is that row). Returns 0, 1 when
 * absent, or an error. *row borrows buf or the cache. */
static int read_row(wctx *w, int64_t handle, cm_buf *buf, cm_slice *row)
{
    sql_vt *v = w->v;
    if (v->cache_valid && v->cache_handle == handle) {
        *row = cm_buf_slice(&v->cache_row);
        return 0;
    }
    if (sql_vt_kept_find(v, handle, row)) {
        return 0; /* read by this statement's scan */
    }
    v->env->row_reads++;
    cm_buf_reset(&v->key2);
    int rc = cm_keys_append_row(&v->key2, v->table_id, handle);
    rc = rc ? rc : cm_txn_get(w->txn, cm_buf_slice(&v->key2), buf, &w->err);
    if (rc == CM_E_NOT_FOUND) {
        cm_err_clear(&w->err);
        return 1;
    }
    if (rc == 0) {
        *row = cm_buf_slice(buf);
    }
    return rc;
}

/* Deletes the entry of ix for a row (vals, handle) whose key index_key put in key. A unique entry
 * whose key holds no handle (vh) of an index that is not public goes only when it is this row's
 * (its value is the handle): before the index is public, rows written by a node in delete-only
 * may repeat a unique value without an entry of their own, and deleting such a row must not take
 * the entry of the row that owns the value (docs/ddl.md "Columns", index rules). */
static int delete_entry(wctx *w, const sql_cat_index *ix, cm_slice key, bool vh,
                        const cm_datum *vals, int64_t handle)
{
    if (!vh || ix->state == SQL_OBJ_PUBLIC) {
        return cm_txn_delete(w->txn, key, &w->err);
    }
    cm_buf want = CM_BUF_INIT, have = CM_BUF_INIT, k2 = CM_BUF_INIT;
    bool vh2;
    int rc = index_key(w, ix, vals, handle, &k2, &want, &vh2);
    rc = rc ? rc : cm_txn_get(w->txn, key, &have, &w->err);
    if (rc == CM_E_NOT_FOUND) {
        cm_err_clear(&w->err);
        rc = 0;
    } else if (rc == 0 && cm_slice_eq(cm_buf_slice(&have), cm_buf_slice(&want))) {
        rc = cm_txn_delete(w->txn, key, &w->err);
    }
    cm_buf_fini(&want);
    cm_buf_fini(&have);
    cm_buf_fini(&k2);
    return rc;
}

/* Deletes the row handle (decoded in vals) and its index entries. */
static int delete_entries(wctx *w, int64_t handle, const cm_datum *vals)
{
    sql_vt *v = w->v;
    cm_buf_reset(&v->key2);
    int rc = cm_keys_append_row(&v->key2, v->table_id, handle);
    rc = rc ? rc : cm_txn_delete(w->txn, cm_buf_slice(&v->key2), &w->err);
    for (uint32_t i = 0; rc == 0 && i < v->t->nindexes; i++) {
        const sql_cat_index *ix = &v->t->indexes[i];
        if (!idx_deletes(ix->state)) {
            continue;
        }
        bool vh;
        cm_buf_reset(&v->key2);
        rc = index_key(w, ix, vals, handle, &v->key2, NULL, &vh);
        rc = rc ? rc : delete_entry(w, ix, cm_buf_slice(&v->key2), vh, vals, handle);
    }
    if (v->cache_valid && v->cache_handle == handle) {
        v->cache_valid = false;
    }
    sql_vt_kept_forget(v, handle);
    return rc;
}

/* Deletes row handle read from storage (REPLACE's victims). Returns 0, 1 when absent, or err. */
static int delete_row_by_handle(wctx *w, int64_t handle)
{
    sql_vt *v = w->v;
    cm_datum *vals = cm_arena_alloc(&v->arena, sizeof *vals * (v->ncols ? v->ncols : 1));
    if (vals == NULL) {
        return cm_err_set(&w->err, CM_E_NOMEM, "vtab: out of memory");
    }
    cm_slice row;
    cm_buf buf = CM_BUF_INIT;
    int rc = read_row(w, handle, &buf, &row);
    if (rc == 0) {
        rc = sql_vt_decode_row(v, row, vals, &w->err);
        rc = rc ? rc : delete_entries(w, handle, vals);
    }
    cm_buf_fini(&buf);
    return rc;
}

/* ---- unique checks --------------------------------------------------------------------------- */

#define VT_CHECKS_MAX 65 /* the row key and MySQL's 64 indexes */

typedef struct checks {
    size_t n;
    size_t off[VT_CHECKS_MAX + 1];
    const sql_cat_index *ix[VT_CHECKS_MAX]; /* NULL: the row key */
    cm_slice keys[VT_CHECKS_MAX];
    cm_buf vals[VT_CHECKS_MAX];
    bool found[VT_CHECKS_MAX];
} checks;

/* The table's check buffers, allocated on first use and kept (values reused across rows). */
static checks *checks_of(wctx *w)
{
    if (w->v->checks == NULL) {
        w->v->checks = calloc(1, sizeof(checks));
    }
    return w->v->checks;
}

void sql_vt_free_checks(sql_vt *v)
{
    checks *ck = v->checks;
    if (ck) {
        for (size_t i = 0; i < VT_CHECKS_MAX; i++) {
            cm_buf_fini(&ck->vals[i]);
        }
        free(ck);
        v->checks = NULL;
    }
}

/* Conflicting rows found by the checks: handle and what conflicted. */
typedef struct conflicts {
    size_t n;
    int64_t h[VT_CHECKS_MAX];
    const sql_cat_index *first_ix;
    bool first_is_pk;
} conflicts;

/* Collects the keys to check: the new row key when check_row, and the entry of every writable
 * unique index without a NULL whose key differs from old_vals' (all when old_vals is NULL). */
static int collect_checks(wctx *w, checks *ck, int64_t handle, bool check_row,
                          const cm_datum *old_vals, int64_t old_handle)
{
    sql_vt *v = w->v;
    cm_buf *kb = &v->key;
    cm_buf_reset(kb);
    ck->n = 0;
    int rc = 0;
    if (check_row) {
        ck->ix[ck->n] = NULL;
        ck->off[ck->n] = kb->len;
        rc = cm_keys_append_row(kb, v->table_id, handle);
        ck->n++;
    }
    for (uint32_t i = 0; rc == 0 && i < v->t->nindexes; i++) {
        const sql_cat_index *ix = &v->t->indexes[i];
        if (!ix->unique || !idx_writes(ix->state) || ck->n >= VT_CHECKS_MAX) {
            continue;
        }
        size_t start = kb->len;
        bool vh;
        rc = index_key(w, ix, v->newv, handle, kb, NULL, &vh);
        if (rc != 0) {
            break;
        }
        if (!vh) {
            kb->len = start; /* a NULL in it: never a duplicate */
            continue;
        }
        if (old_vals != NULL) {
            cm_buf_reset(&v->key2);
            bool ovh;
            rc = index_key(w, ix, old_vals, old_handle, &v->key2, NULL, &ovh);
            if (rc == 0 && ovh && v->key2.len == kb->len - start &&
                memcmp(v->key2.ptr, kb->ptr + start, v->key2.len) == 0) {
                kb->len = start; /* unchanged: the row keeps its own entry */
                continue;
            }
        }
        ck->ix[ck->n] = ix;
        ck->off[ck->n] = start;
        ck->n++;
    }
    ck->off[ck->n] = kb->len;
    for (size_t i = 0; i < ck->n; i++) {
        ck->keys[i] = cm_slice_make(kb->ptr + ck->off[i], ck->off[i + 1] - ck->off[i]);
    }
    return rc;
}

static int run_checks(wctx *w, checks *ck, int64_t self, conflicts *cf)
{
    cf->n = 0;
    cf->first_ix = NULL;
    cf->first_is_pk = false;
    if (ck->n == 0) {
        return 0;
    }
    w->v->env->check_reads++;
    int rc = cm_txn_batch_get(w->txn, ck->keys, ck->n, ck->vals, ck->found, &w->err);
    for (size_t i = 0; rc == 0 && i < ck->n; i++) {
        if (!ck->found[i]) {
            continue;
        }
        int64_t h;
        if (ck->ix[i] == NULL) {
            h = self;
        } else {
            cm_reader rd;
            cm_reader_init(&rd, ck->vals[i].ptr, ck->vals[i].len);
            if (ck->vals[i].len != 8 || cm_codec_read_int64(&rd, &h, &w->err) != 0) {
                return cm_err_set(&w->err, CM_E_CORRUPT, "vtab: bad unique entry of %s",
                                  ck->ix[i]->name);
            }
        }
        if (cf->n == 0) {
            cf->first_ix = ck->ix[i];
            cf->first_is_pk = ck->ix[i] == NULL;
        }
        bool seen = false;
        for (size_t j = 0; j < cf->n; j++) {
            seen = seen || cf->h[j] == h;
        }
        if (!seen) {
            cf->h[cf->n++] = h;
        }
    }
    return rc;
}

/* ---- deferred INSERT rows -------------------------------------------------------------------- */

/* A plain multi-row INSERT (conflict mode ABORT, FAIL or ROLLBACK) does not check and write each
 * row on its own: its rows are kept here, SQL_VT_INSERT_BATCH at a time, and one
 * cm_txn_batch_get checks the keys of all of them (row keys and unique entries) before any of
 * them is written. MySQL's semantics hold because (1) the statement either fails as a whole or
 * writes every row — the session rolls it back to its checkpoint on any error —, so writing the
 * rows later changes nothing a client can see; (2) the batch get reads the transaction's state
 * before these rows, and two rows of the batch with the same key are found by comparing their
 * keys, so every duplicate a per-row check would find is found; (3) the error reported is the
 * one of the first row in statement order that conflicts (each row's keys in the order of the
 * per-row check: row key, then the unique indexes), and an error of another kind on a later row
 * (1048, a strict type error) first flushes the rows before it, so an earlier duplicate wins, as
 * in MySQL; (4) a statement that writes a table never reads it after its first write (SQLite
 * materializes an INSERT whose source reads the target: readsTable in insert.c), and a read
 * flushes first anyway. The rows are flushed when the batch is full, by xSync at the end of the
 * statement (whose error SQLite returns from sqlite3_step and which rolls the statement back),
 * and before any other write or read of the table; xRollback drops them. IGNORE and REPLACE
 * decide per row and keep the per-row path (so must INSERT … ON DUPLICATE KEY UPDATE when it is
 * added). This relies on SQLite staying in autocommit (the session never sends it BEGIN), so
 * that xSync ends every writing statement. */
typedef struct pend_row {
    int64_t h;
    size_t roff, rlen; /* encoded row in bytes */
    size_t e0, ne;     /* entries to set (row key first) */
} pend_row;
typedef struct pend_ent {
    size_t koff, klen, voff, vlen;
} pend_ent;
typedef struct pend_chk {
    size_t koff, klen;
    const sql_cat_index *ix; /* NULL: the row key */
    uint32_t row;
} pend_chk;
typedef struct pend {
    cm_buf bytes;
    pend_row rows[SQL_VT_INSERT_BATCH];
    uint32_t nrows;
    pend_ent *ents;
    size_t nents, ents_cap;
    pend_chk *chks;
    size_t nchks, chks_cap;
    cm_slice *keys;
    cm_buf *vals;
    bool *found, *dup;
    size_t *order;
    size_t kcap; /* keys, found, dup, order */
    size_t vcap; /* vals (initialized) */
} pend;

static pend *pend_of(sql_vt *v, bool create)
{
    if (v->pend == NULL && create) {
        v->pend = calloc(1, sizeof(pend));
    }
    return v->pend;
}

static void pend_clear(pend *p)
{
    cm_buf_reset(&p->bytes);
    p->nrows = 0;
    p->nents = p->nchks = 0;
}

void sql_vt_free_pend(sql_vt *v)
{
    pend *p = v->pend;
    if (p == NULL) {
        return;
    }
    cm_buf_fini(&p->bytes);
    for (size_t i = 0; i < p->vcap; i++) {
        cm_buf_fini(&p->vals[i]);
    }
    free(p->ents);
    free(p->chks);
    free(p->keys);
    free(p->vals);
    free(p->found);
    free(p->dup);
    free(p->order);
    free(p);
    v->pend = NULL;
}

void sql_vt_drop_pending(sql_vt *v)
{
    if (v->pend != NULL) {
        pend_clear(v->pend);
    }
}

static bool has_pending(const sql_vt *v)
{
    return v->pend != NULL && ((const pend *)v->pend)->nrows > 0;
}

static int pend_grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) {
        return 0;
    }
    size_t n = *cap ? *cap * 2 : 256;
    while (n < need) {
        n *= 2;
    }
    void *a = realloc(*arr, n * elem);
    if (a == NULL) {
        return CM_E_NOMEM;
    }
    *arr = a;
    *cap = n;
    return 0;
}

static int pend_ent_add(wctx *w, pend *p, size_t koff, const cm_buf *val)
{
    if (pend_grow((void **)&p->ents, &p->ents_cap, p->nents + 1, sizeof *p->ents) != 0) {
        return cm_err_set(&w->err, CM_E_NOMEM, "vtab: out of memory");
    }
    pend_ent *e = &p->ents[p->nents++];
    e->koff = koff;
    e->klen = p->bytes.len - koff;
    e->voff = p->bytes.len;
    e->vlen = val->len;
    if (cm_buf_append_slice(&p->bytes, cm_buf_slice(val)) != 0) {
        return cm_err_set(&w->err, CM_E_NOMEM, "vtab: out of memory");
    }
    return 0;
}

/* Keeps the row just converted (v->newv, encoded in v->val, handle h) with its entries and the
 * keys to check (collected in ck). */
static int pend_add(wctx *w, pend *p, int64_t h, const checks *ck)
{
    sql_vt *v = w->v;
    pend_row *r = &p->rows[p->nrows];
    r->h = h;
    r->roff = p->bytes.len;
    r->rlen = v->val.len;
    r->e0 = p->nents;
    int rc = cm_buf_append_slice(&p->bytes, cm_buf_slice(&v->val));
    size_t koff = p->bytes.len;
    rc = rc ? rc : cm_keys_append_row(&p->bytes, v->table_id, h);
    if (rc != 0) {
        return cm_err_set(&w->err, CM_E_NOMEM, "vtab: out of memory");
    }
    rc = pend_ent_add(w, p, koff, &v->val);
    for (uint32_t i = 0; rc == 0 && i < v->t->nindexes; i++) {
        const sql_cat_index *ix = &v->t->indexes[i];
        if (!idx_writes(ix->state)) {
            continue;
        }
        bool vh;
        koff = p->bytes.len;
        rc = index_key(w, ix, v->newv, h, &p->bytes, &v->nval, &vh);
        rc = rc ? rc : pend_ent_add(w, p, koff, &v->nval);
    }
    r->ne = p->nents - r->e0;
    if (rc == 0 &&
        pend_grow((void **)&p->chks, &p->chks_cap, p->nchks + ck->n, sizeof *p->chks) != 0) {
        rc = cm_err_set(&w->err, CM_E_NOMEM, "vtab: out of memory");
    }
    for (size_t i = 0; rc == 0 && i < ck->n; i++) {
        pend_chk *c = &p->chks[p->nchks++];
        c->koff = p->bytes.len;
        c->klen = ck->keys[i].len;
        c->ix = ck->ix[i];
        c->row = p->nrows;
        if (cm_buf_append_slice(&p->bytes, ck->keys[i]) != 0) {
            rc = cm_err_set(&w->err, CM_E_NOMEM, "vtab: out of memory");
        }
    }
    if (rc == 0) {
        p->nrows++;
    }
    return rc;
}

/* qsort has no context argument: the batch being sorted, per thread */
static __thread const pend *t_sort_pend;

static cm_slice chk_key(const pend *p, size_t i)
{
    return cm_slice_make(p->bytes.ptr + p->chks[i].koff, p->chks[i].klen);
}

static int cmp_chk(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int c = cm_slice_cmp(chk_key(t_sort_pend, x), chk_key(t_sort_pend, y));
    return c ? c : (x < y ? -1 : x > y);
}

/* Checks the kept rows' keys with one batch get and writes them; on a duplicate, nothing is
 * written and w->err holds the first conflicting row's 1062. */
static int pend_flush(wctx *w)
{
    sql_vt *v = w->v;
    pend *p = v->pend;
    if (p == NULL || p->nrows == 0) {
        return 0;
    }
    int rc = 0;
    size_t n = p->nchks;
    if (n > p->vcap) {
        cm_buf *nv = realloc(p->vals, n * sizeof *nv);
        if (nv == NULL) {
            return cm_err_set(&w->err, CM_E_NOMEM, "vtab: out of memory");
        }
        p->vals = nv;
        for (size_t i = p->vcap; i < n; i++) {
            cm_buf_init(&p->vals[i]);
        }
        p->vcap = n;
    }
    if (n > p->kcap) {
        /* each array keeps its old block when its realloc fails; kcap moves only when all grew */
        cm_slice *k = realloc(p->keys, n * sizeof *k);
        p->keys = k ? k : p->keys;
        bool *f = realloc(p->found, n * sizeof *f);
        p->found = f ? f : p->found;
        bool *dp = realloc(p->dup, n * sizeof *dp);
        p->dup = dp ? dp : p->dup;
        size_t *o = realloc(p->order, n * sizeof *o);
        p->order = o ? o : p->order;
        if (!k || !f || !dp || !o) {
            return cm_err_set(&w->err, CM_E_NOMEM, "vtab: out of memory");
        }
        p->kcap = n;
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        p->keys[i] = chk_key(p, i);
        p->dup[i] = false;
        p->order[i] = i;
    }
    if (rc == 0 && n > 0) {
        v->env->check_reads++;
        rc = cm_txn_batch_get(w->txn, p->keys, n, p->vals, p->found, &w->err);
    }
    if (rc == 0 && n > 1) {
        /* two rows of the batch with one key: the later one is the duplicate */
        t_sort_pend = p;
        qsort(p->order, n, sizeof *p->order, cmp_chk);
        t_sort_pend = NULL;
        for (size_t i = 1; i < n; i++) {
            if (cm_slice_eq(p->keys[p->order[i]], p->keys[p->order[i - 1]])) {
                p->dup[p->order[i]] = true;
            }
        }
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (!p->found[i] && !p->dup[i]) {
            continue;
        }
        const pend_chk *c = &p->chks[i];
        const pend_row *r = &p->rows[c->row];
        rc = sql_vt_decode_row(v, cm_slice_make(p->bytes.ptr + r->roff, r->rlen), v->oldv, &w->err);
        rc = rc ? rc : dup_error(w, c->ix, v->oldv, r->h); /* always an error */
    }
    for (size_t i = 0; rc == 0 && i < p->nents; i++) {
        const pend_ent *e = &p->ents[i];
        rc = cm_txn_set(w->txn, cm_slice_make(p->bytes.ptr + e->koff, e->klen),
                        cm_slice_make(p->bytes.ptr + e->voff, e->vlen), &w->err);
    }
    v->cache_valid = false;
    for (uint32_t i = 0; i < p->nrows; i++) {
        sql_vt_kept_forget(v, p->rows[i].h);
    }
    pend_clear(p);
    return rc;
}

int sql_vt_flush(sql_vt *v)
{
    if (!has_pending(v)) {
        return SQLITE_OK;
    }
    wctx w = {.v = v};
    cm_err_clear(&w.err);
    int rc = sql_vt_txn(v, &w.txn, &w.err);
    rc = rc ? rc : pend_flush(&w);
    if (rc != 0) {
        sql_vt_drop_pending(v);
        if (w.err.code == 0) {
            cm_err_set(&w.err, rc, "vtab: write failed");
        }
        return sql_vt_fail(v, &w.err);
    }
    return SQLITE_OK;
}

/* ---- writing a row --------------------------------------------------------------------------- */

static int encode_row(wctx *w, cm_buf *out)
{
    sql_vt *v = w->v;
    cm_row_cell *cells = cm_arena_alloc(&v->arena, sizeof *cells * (v->ncols ? v->ncols : 1));
    size_t n = 0;
    if (cells == NULL) {
        return cm_err_set(&w->err, CM_E_NOMEM, "vtab: out of memory");
    }
    for (uint32_t i = 0; i < v->ncols; i++) {
        if (v->cols[i].written) {
            cells[n].id = v->cols[i].c->id;
            cells[n].value = v->newv[i];
            n++;
        }
    }
    cm_buf_reset(out);
    return cm_row_encode(out, cells, n, &w->err);
}

/* Writes the row (already encoded in v->val) and the entries of every writable index;
 * old_vals/old_handle (may be NULL) are the row's previous values, whose entries are removed
 * where they change. */
static int write_entries(wctx *w, int64_t handle, const cm_datum *old_vals, int64_t old_handle)
{
    sql_vt *v = w->v;
    cm_buf_reset(&v->key2);
    int rc = cm_keys_append_row(&v->key2, v->table_id, handle);
    rc = rc ? rc : cm_txn_set(w->txn, cm_buf_slice(&v->key2), cm_buf_slice(&v->val), &w->err);
    cm_buf *ival = &v->nval;
    for (uint32_t i = 0; rc == 0 && i < v->t->nindexes; i++) {
        const sql_cat_index *ix = &v->t->indexes[i];
        bool vh, ovh = false;
        cm_buf_reset(&v->key);
        rc = index_key(w, ix, v->newv, handle, &v->key, ival, &vh);
        if (rc == 0 && old_vals != NULL && idx_deletes(ix->state)) {
            cm_buf_reset(&v->key2);
            rc = index_key(w, ix, old_vals, old_handle, &v->key2, NULL, &ovh);
            bool same = rc == 0 && cm_slice_eq(cm_buf_slice(&v->key), cm_buf_slice(&v->key2)) &&
                        (!vh || handle == old_handle);
            if (same && idx_writes(ix->state)) {
                continue;
            }
            if (rc == 0 && !same) {
                rc = delete_entry(w, ix, cm_buf_slice(&v->key2), ovh, old_vals, old_handle);
            }
        }
        if (rc == 0 && idx_writes(ix->state)) {
            rc = cm_txn_set(w->txn, cm_buf_slice(&v->key), cm_buf_slice(ival), &w->err);
        }
    }
    if (v->cache_valid && (v->cache_handle == handle || v->cache_handle == old_handle)) {
        v->cache_valid = false;
    }
    sql_vt_kept_forget(v, handle);
    sql_vt_kept_forget(v, old_handle);
    return rc;
}

/* ---- AUTO_INCREMENT and the handle ----------------------------------------------------------- */

static bool datum_is_zero(const cm_datum *d)
{
    return (d->type == CM_DT_INT64 || d->type == CM_DT_UINT64) && d->v.u64 == 0;
}

static int autoinc(wctx *w)
{
    sql_vt *v = w->v;
    int32_t ac = v->t->autoinc_col;
    if (ac < 0 || (uint32_t)ac >= v->ncols) {
        return 0;
    }
    cm_datum *d = &v->newv[ac];
    if (d->type == CM_DT_NULL || datum_is_zero(d)) {
        uint64_t id;
        int rc = sql_cat_next_autoid(v->env->cat, v->t, &id, &w->err);
        if (rc != 0) {
            return rc;
        }
        *d = v->cols[ac].dtype == CM_DT_UINT64 ? cm_datum_uint64(id) : cm_datum_int64((int64_t)id);
        if (!v->env->insert_id_set) {
            v->env->first_insert_id = id;
            v->env->insert_id_set = true;
        }
        return 0;
    }
    uint64_t ex = 0;
    if (d->type == CM_DT_INT64 && d->v.i64 > 0) {
        ex = (uint64_t)d->v.i64;
    } else if (d->type == CM_DT_UINT64) {
        ex = d->v.u64;
    }
    return ex ? sql_cat_rebase_autoid(v->env->cat, v->t, ex, &w->err) : 0;
}

static int handle_of(wctx *w, sqlite3_value *rowid_arg, bool insert, int64_t *h)
{
    sql_vt *v = w->v;
    int32_t hc = v->t->handle_col;
    if (hc >= 0 && (uint32_t)hc < v->ncols) {
        const cm_datum *d = &v->newv[hc];
        if (d->type == CM_DT_INT64) {
            *h = d->v.i64;
            return 0;
        }
        if (d->type == CM_DT_UINT64 && d->v.u64 <= (uint64_t)INT64_MAX) {
            *h = (int64_t)d->v.u64;
            return 0;
        }
        if (d->type == CM_DT_NULL) {
            return null_error(w, v->cols[hc].c);
        }
        return cm_err_set(&w->err, CM_E_OUT_OF_RANGE,
                          "Out of range value for column '%s' (the row handle)",
                          v->cols[hc].c->name);
    }
    if (rowid_arg != NULL && sqlite3_value_type(rowid_arg) == SQLITE_INTEGER) {
        *h = sqlite3_value_int64(rowid_arg);
        return 0;
    }
    if (!insert) {
        return cm_err_set(&w->err, CM_E_INTERNAL, "vtab: update without a row id");
    }
    uint64_t id;
    int rc = sql_cat_next_autoid(v->env->cat, v->t, &id, &w->err);
    *h = (int64_t)id;
    return rc;
}

static int check_not_null(wctx *w)
{
    sql_vt *v = w->v;
    for (uint32_t i = 0; i < v->ncols; i++) {
        if (v->cols[i].written && v->cols[i].c->not_null && v->newv[i].type == CM_DT_NULL) {
            return null_error(w, v->cols[i].c);
        }
    }
    return 0;
}

/* ---- the three operations -------------------------------------------------------------------- */

static int do_insert(wctx *w, sqlite3_value **vals, sqlite3_value *rowid_arg, int64_t *rowid)
{
    sql_vt *v = w->v;
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && i < v->ncols; i++) {
        const vt_col *col = &v->cols[i];
        w->offs[i] = SIZE_MAX;
        if (col->vcol >= 0 && !omitted(v, col, vals[col->vcol])) {
            rc = store_arg(w, i, vals[col->vcol]);
        } else if (col->written && !col->visible) {
            rc = store_hidden(w, i);
        } else if (col->written) {
            rc = store_default(w, i);
        } else {
            v->newv[i] = cm_datum_null();
        }
    }
    fix_payloads(w);
    rc = rc ? rc : autoinc(w);
    int64_t h = 0;
    /* A NOT NULL column the INSERT omits and that has no default (nor AUTO_INCREMENT, filled
     * above): MySQL's strict mode gives 1364, not 1048 (which is for an explicit NULL). */
    for (uint32_t i = 0; rc == 0 && i < v->ncols; i++) {
        const vt_col *col = &v->cols[i];
        if (col->written && col->c->not_null && v->newv[i].type == CM_DT_NULL && col->vcol >= 0 &&
            omitted(v, col, vals[col->vcol])) {
            rc = cm_err_set(&w->err, CM_E_NO_DEFAULT_FOR_FIELD,
                            "Field '%s' doesn't have a default value", col->c->name);
        }
    }
    rc = rc ? rc : handle_of(w, rowid_arg, true, &h);
    rc = rc ? rc : check_not_null(w);
    rc = rc ? rc : encode_row(w, &v->val);
    checks *ck = checks_of(w);
    conflicts cf;
    if (rc == 0 && ck == NULL) {
        rc = cm_err_set(&w->err, CM_E_NOMEM, "vtab: out of memory");
    }
    int mode = sqlite3_vtab_on_conflict(v->db);
    bool defer = mode != SQLITE_IGNORE && mode != SQLITE_REPLACE && !v->env->upsert;
    pend *p = defer && rc == 0 ? pend_of(v, true) : NULL;
    if (defer && rc == 0 && p == NULL) {
        rc = cm_err_set(&w->err, CM_E_NOMEM, "vtab: out of memory");
    }
    rc = rc ? rc : collect_checks(w, ck, h, true, NULL, 0);
    if (rc == 0 && p != NULL) {
        /* checked and written with the rows around it (see "deferred INSERT rows") */
        rc = pend_add(w, p, h, ck);
        if (rc == 0) {
            v->env->affected++;
            *rowid = h;
            sql_vt_mark_written(v);
        }
        if (rc == 0 && p->nrows == SQL_VT_INSERT_BATCH) {
            rc = pend_flush(w);
        }
        return rc;
    }
    if (rc == 0 && has_pending(v)) {
        rc = pend_flush(w);
    }
    rc = rc ? rc : run_checks(w, ck, h, &cf);
    if (rc != 0) {
        return rc;
    }
    if (cf.n > 0 && v->env->upsert) {
        v->env->upsert_hit = true; /* ON DUPLICATE KEY UPDATE: the session updates cf.h[0] */
        v->env->upsert_handle = cf.h[0];
        return 0;
    }
    if (cf.n > 0) {
        if (mode != SQLITE_REPLACE) {
            rc = dup_error(w, cf.first_ix, v->newv, h);
            if (mode == SQLITE_IGNORE) {
                if (v->env->warn) {
                    v->env->warn(v->env->sess, 1062, w->err.msg);
                }
                cm_err_clear(&w->err);
                return 0;
            }
            return rc;
        }
        /* REPLACE: the victims' keys may equal the new ones; delete first, then write. */
        for (size_t i = 0; rc == 0 && i < cf.n; i++) {
            rc = delete_row_by_handle(w, cf.h[i]);
            if (rc == 1) {
                rc = 0; /* an entry without its row: the write below overwrites the entry */
                continue;
            }
            v->env->affected++;
        }
        if (rc != 0) {
            return rc;
        }
    }
    rc = write_entries(w, h, NULL, 0);
    if (rc == 0) {
        v->env->affected++;
        *rowid = h;
        sql_vt_mark_written(v);
    }
    return rc;
}

static int do_delete(wctx *w, sqlite3_value *old)
{
    sql_vt *v = w->v;
    int64_t h = sqlite3_value_int64(old);
    bool entries = false;
    for (uint32_t i = 0; i < v->t->nindexes; i++) {
        entries = entries || idx_deletes(v->t->indexes[i].state);
    }
    if (!entries) {
        /* No index entry to find: the row key alone goes, without reading the row (the cursor
         * found it at this statement's snapshot, so it counts). */
        cm_buf_reset(&v->key2);
        int rc = cm_keys_append_row(&v->key2, v->table_id, h);
        rc = rc ? rc : cm_txn_delete(w->txn, cm_buf_slice(&v->key2), &w->err);
        if (rc == 0) {
            if (v->cache_valid && v->cache_handle == h) {
                v->cache_valid = false;
            }
            sql_vt_kept_forget(v, h);
            v->env->affected++;
            sql_vt_mark_written(v);
        }
        return rc;
    }
    cm_slice row;
    int rc = read_row(w, h, &v->rowbuf, &row);
    if (rc == 1) {
        return 0; /* already gone */
    }
    rc = rc ? rc : sql_vt_decode_row(v, row, v->oldv, &w->err);
    rc = rc ? rc : delete_entries(w, h, v->oldv);
    if (rc == 0) {
        v->env->affected++;
        sql_vt_mark_written(v);
    }
    return rc;
}

static int do_update(wctx *w, sqlite3_value *old, sqlite3_value *newrowid, sqlite3_value **vals)
{
    sql_vt *v = w->v;
    int64_t oh = sqlite3_value_int64(old);
    cm_slice row;
    int rc = read_row(w, oh, &v->rowbuf, &row);
    if (rc == 1) {
        return 0;
    }
    rc = rc ? rc : sql_vt_decode_row(v, row, v->oldv, &w->err);
    bool any_changed = false;
    for (uint32_t i = 0; rc == 0 && i < v->ncols; i++) {
        const vt_col *col = &v->cols[i];
        w->offs[i] = SIZE_MAX;
        if (col->vcol >= 0 && !sqlite3_value_nochange(vals[col->vcol])) {
            rc = store_arg(w, i, vals[col->vcol]);
        } else {
            v->newv[i] = v->oldv[i];
        }
    }
    fix_payloads(w);
    for (uint32_t i = 0; rc == 0 && i < v->ncols; i++) {
        if (!v->cols[i].c->on_update_now && !datum_eq(&v->newv[i], &v->oldv[i])) {
            any_changed = true;
        }
    }
    /* ON UPDATE CURRENT_TIMESTAMP: when the row changes and the column was not set to a new
     * value by the statement; a column not yet (or no longer) public keeps its value. */
    for (uint32_t i = 0; rc == 0 && any_changed && i < v->ncols; i++) {
        const vt_col *col = &v->cols[i];
        if (col->visible && col->c->on_update_now && datum_eq(&v->newv[i], &v->oldv[i])) {
            rc = store_now(w, i);
            if (rc == 0 && w->offs[i] != SIZE_MAX) {
                v->newv[i].v.bytes.ptr = v->scratch.ptr + w->offs[i];
            }
        }
    }
    int32_t ac = v->t->autoinc_col;
    if (rc == 0 && ac >= 0 && !datum_eq(&v->newv[ac], &v->oldv[ac])) {
        rc = autoinc(w); /* an explicit new value moves the allocator */
    }
    int64_t nh = oh;
    if (rc == 0) {
        rc = v->t->handle_col >= 0 ? handle_of(w, NULL, false, &nh)
                                   : handle_of(w, newrowid, false, &nh);
    }
    rc = rc ? rc : check_not_null(w);
    if (rc != 0) {
        return rc;
    }
    if (!any_changed && nh == oh) {
        if (v->env->found_rows) {
            v->env->affected++;
        }
        return 0;
    }
    rc = encode_row(w, &v->val);
    checks *ck = checks_of(w);
    conflicts cf = {0};
    if (rc == 0 && ck == NULL) {
        rc = cm_err_set(&w->err, CM_E_NOMEM, "vtab: out of memory");
    }
    if (rc == 0) {
        rc = collect_checks(w, ck, nh, nh != oh, v->oldv, oh);
        rc = rc ? rc : run_checks(w, ck, nh, &cf);
    }
    if (rc != 0) {
        return rc;
    }
    /* an entry that already points at this row is not a conflict */
    size_t real = 0;
    for (size_t i = 0; i < cf.n; i++) {
        if (cf.h[i] != oh) {
            real++;
        }
    }
    if (real > 0) {
        rc = dup_error(w, cf.first_ix, v->newv, nh);
        if (sqlite3_vtab_on_conflict(v->db) == SQLITE_IGNORE) {
            if (v->env->warn) {
                v->env->warn(v->env->sess, 1062, w->err.msg);
            }
            cm_err_clear(&w->err);
            return 0;
        }
        return rc;
    }
    if (nh != oh) {
        cm_buf_reset(&v->key2);
        rc = cm_keys_append_row(&v->key2, v->table_id, oh);
        rc = rc ? rc : cm_txn_delete(w->txn, cm_buf_slice(&v->key2), &w->err);
    }
    rc = rc ? rc : write_entries(w, nh, v->oldv, oh);
    if (rc == 0) {
        v->env->affected++;
        sql_vt_mark_written(v);
    }
    return rc;
}

int sql_vt_update(sqlite3_vtab *vtab, int argc, sqlite3_value **argv, sqlite3_int64 *rowid)
{
    sql_vt *v = (sql_vt *)vtab;
    int src = sql_vt_refresh(v);
    if (src != SQLITE_OK) {
        return src;
    }
    cm_buf_reset(&v->scratch);
    cm_arena_reset(&v->arena);
    size_t *offs = cm_arena_alloc(&v->arena, sizeof *offs * (v->ncols ? v->ncols : 1));
    if (offs == NULL) {
        return SQLITE_NOMEM;
    }
    wctx w = {.v = v, .offs = offs};
    cm_err_clear(&w.err);
    int rc = sql_vt_txn(v, &w.txn, &w.err);
    bool insert = argc > 1 && sqlite3_value_type(argv[0]) == SQLITE_NULL;
    if (rc == 0 && !insert && has_pending(v)) {
        rc = pend_flush(&w); /* an UPDATE/DELETE reads what the kept rows would write */
    }
    if (rc == 0) {
        if (argc == 1) {
            rc = do_delete(&w, argv[0]);
        } else if ((uint32_t)argc != v->nvis + 2) {
            rc = cm_err_set(&w.err, CM_E_INTERNAL, "vtab: %d arguments for %u columns", argc,
                            v->nvis);
        } else if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
            int64_t h = 0;
            rc = do_insert(&w, argv + 2, argv[1], &h);
            *rowid = h;
        } else {
            rc = do_update(&w, argv[0], argv[1], argv + 2);
        }
    }
    if (rc != 0 && has_pending(v)) {
        /* the rows before this one come first: a duplicate among them is the error MySQL
         * reports (statement order); otherwise this row's error stands */
        cm_err mine = w.err;
        cm_err_clear(&w.err);
        if (pend_flush(&w) == 0 || w.err.code == 0) {
            w.err = mine;
        }
    }
    if (rc != 0) {
        sql_vt_drop_pending(v); /* the statement fails: nothing of it is written */
        if (w.err.code == 0) {
            cm_err_set(&w.err, rc, "vtab: write failed");
        }
        /* INSERT/UPDATE IGNORE: a statement-level error of the row (1048, a value the type
         * refuses in strict mode; 1062 is handled where it is found) skips the row with a
         * warning. MySQL would store an adjusted value instead; errors of the KV layer (codes
         * above -100) still fail the statement. */
        if (argc > 1 && w.err.code <= -100 && sqlite3_vtab_on_conflict(v->db) == SQLITE_IGNORE) {
            if (v->env->warn) {
                v->env->warn(v->env->sess, (uint16_t)cm_err_mysql_errno(w.err.code), w.err.msg);
            }
            return SQLITE_OK;
        }
        return sql_vt_fail(v, &w.err);
    }
    return SQLITE_OK;
}
