/*
 * sql_ddl_check.c — ADMIN CHECK TABLE / INDEX (sql_catalog.h, docs/ddl.md "ADMIN statements").
 *
 * Everything is read at one fresh snapshot (one read-only transaction's start_ts).
 *
 * First pass, memory O(1): the rows are scanned through the coprocessor (only the indexed
 * columns travel, regions in parallel) and every expected entry (key and value bytes, as
 * sql_cat_index_entry makes them) is folded into a per-index multiset fingerprint — a count and
 * two 64-bit sums of independent hashes of the entry. Each index's range is scanned and folded
 * the same way. Equal fingerprints: the index holds exactly the rows' entries.
 *
 * Second pass, only for an index whose fingerprints differ, to name the first difference: the
 * rows in key order, in chunks, each chunk's expected entries looked up with one batch get
 * (missing entry, or an entry holding another value); then the index's entries in key order,
 * each chunk's rows looked up with one batch get (an entry without its row, or one that is not
 * the entry its row makes).
 */
#include "cm_copr.h"
#include "cm_keys.h"
#include "cm_log.h"
#include "cm_row.h"
#include "cm_time.h"
#include "sql_ddl_bf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_COMP "ddl"

/* Rows or entries looked up per batch get in the second pass. */
#define CHECK_CHUNK 512
/* Rows per coprocessor page and regions in flight in the first pass. */
#define CHECK_PAGE        4096
#define CHECK_CONCURRENCY 4

static int nomem(cm_err *err)
{
    return cm_err_set(err, CM_E_NOMEM, "ADMIN CHECK: out of memory");
}

/* ---- fingerprints ------------------------------------------------------------------------------
 */

typedef struct fp {
    uint64_t n, s1, s2;
} fp;

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 31;
    x *= 0x7fb5d329728ea185ULL;
    x ^= x >> 27;
    x *= 0x81dadef4bc2dd44dULL;
    x ^= x >> 33;
    return x;
}

static uint64_t hash_bytes(cm_slice s, uint64_t seed)
{
    uint64_t h = mix64(seed ^ (s.len * 0x9e3779b97f4a7c15ULL));
    size_t i = 0;
    for (; i + 8 <= s.len; i += 8) {
        uint64_t w;
        memcpy(&w, s.ptr + i, 8);
        h = mix64(h ^ w) + 0x632be59bd9b4e019ULL;
    }
    uint64_t tail = 0;
    for (size_t k = 0; i + k < s.len; k++) {
        tail |= (uint64_t)s.ptr[i + k] << (8 * k);
    }
    return mix64(h ^ tail ^ 0xa0761d6478bd642fULL);
}

static void fp_add(fp *f, cm_slice key, cm_slice value)
{
    uint64_t a = hash_bytes(key, 0x243f6a8885a308d3ULL);
    uint64_t b = hash_bytes(value, 0x13198a2e03707344ULL);
    uint64_t c = hash_bytes(key, 0xa4093822299f31d0ULL);
    uint64_t d = hash_bytes(value, 0x082efa98ec4e6c89ULL);
    f->n++;
    f->s1 += mix64(a ^ (b * 0x9e3779b97f4a7c15ULL));
    f->s2 += mix64(c + d * 0xc2b2ae3d27d4eb4fULL);
}

/* ---- shared state ------------------------------------------------------------------------------
 */

typedef struct check {
    sql_catalog *c;
    const sql_cat_table *t;
    sql_bf_cols *cols;
    cm_txn *x;
    uint64_t ts;
    fp exp[SQL_BF_INDEXES_MAX], act[SQL_BF_INDEXES_MAX];
    cm_buf key, val;
    int rc;
    cm_err err;
    /* second pass */
    uint32_t ix; /* the index being examined */
    uint32_t n;  /* rows in the chunk */
    int64_t handles[CHECK_CHUNK];
    cm_buf keys, vals; /* the chunk's expected entries back to back */
    size_t koff[CHECK_CHUNK + 1], voff[CHECK_CHUNK + 1];
    bool found_diff;
} check;

static void hex(cm_buf *out, cm_slice s, size_t max)
{
    static const char d[] = "0123456789abcdef";
    size_t n = s.len < max ? s.len : max;
    for (size_t i = 0; i < n; i++) {
        cm_buf_append_u8(out, (uint8_t)d[s.ptr[i] >> 4]);
        cm_buf_append_u8(out, (uint8_t)d[s.ptr[i] & 15]);
    }
    if (n < s.len) {
        cm_buf_printf(out, "…");
    }
    cm_buf_terminate(out);
}

static int diff(check *ck, cm_err *err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int diff(check *ck, cm_err *err, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ck->found_diff = true;
    return cm_err_set(err, CM_E_ADMIN_CHECK, "data inconsistency in table %s, index %s: %s",
                      ck->t->name, ck->cols->ix[ck->ix]->name, msg);
}

/* First pass over the rows: the expected entries of every index into exp[]. */
static int rows_cb(void *user, cm_slice data)
{
    check *ck = user;
    cm_reader rd;
    cm_reader_init(&rd, data.ptr, data.len);
    cm_datum vals[SQL_BF_COLS_MAX];
    while (cm_reader_left(&rd) > 0) {
        cm_slice key;
        int64_t tid, handle;
        int rc = sql_bf_read_row(ck->cols, &rd, &key, vals, &ck->err);
        rc = rc ? rc : cm_keys_decode_row(key, &tid, &handle, &ck->err);
        for (uint32_t i = 0; rc == 0 && i < ck->cols->nix; i++) {
            cm_buf_reset(&ck->key);
            cm_buf_reset(&ck->val);
            rc = sql_bf_entry(ck->cols, i, vals, handle, &ck->key, &ck->val, NULL, &ck->err);
            if (rc == 0) {
                fp_add(&ck->exp[i], cm_buf_slice(&ck->key), cm_buf_slice(&ck->val));
            }
        }
        if (rc != 0) {
            ck->rc = rc;
            return 1;
        }
    }
    return 0;
}

static int scan_rows(check *ck, bool ordered, cm_kv_copr_cb cb, cm_err *err)
{
    cm_buf plan = CM_BUF_INIT, start = CM_BUF_INIT, end = CM_BUF_INIT;
    int rc = sql_bf_plan(ck->cols, 0, &plan, err);
    rc = rc ? rc : (cm_keys_rows_range(ck->t->id, &start, &end) != 0 ? nomem(err) : 0);
    if (rc == 0) {
        cm_kv_copr_opts o;
        memset(&o, 0, sizeof(o));
        o.concurrency = CHECK_CONCURRENCY;
        o.paging_size = CHECK_PAGE;
        o.ordered = ordered;
        ck->rc = 0;
        rc = cm_kv_copr(ck->c->kc, cm_buf_slice(&plan), cm_buf_slice(&start), cm_buf_slice(&end),
                        ck->ts, &o, cb, ck, err);
        if (rc == 0 && ck->rc != 0) {
            rc = ck->rc;
            *err = ck->err;
        }
    }
    cm_buf_fini(&plan);
    cm_buf_fini(&start);
    cm_buf_fini(&end);
    return rc;
}

/* ---- second pass: rows → entries --------------------------------------------------------------
 */

static int lookup_entries(check *ck, cm_err *err)
{
    if (ck->n == 0) {
        return 0;
    }
    cm_slice keys[CHECK_CHUNK];
    cm_buf vals[CHECK_CHUNK];
    bool found[CHECK_CHUNK];
    for (uint32_t i = 0; i < ck->n; i++) {
        keys[i] = cm_slice_make(ck->keys.ptr + ck->koff[i], ck->koff[i + 1] - ck->koff[i]);
        cm_buf_init(&vals[i]);
    }
    int rc = cm_txn_batch_get(ck->x, keys, ck->n, vals, found, err);
    for (uint32_t i = 0; rc == 0 && i < ck->n; i++) {
        cm_slice want = cm_slice_make(ck->vals.ptr + ck->voff[i], ck->voff[i + 1] - ck->voff[i]);
        if (!found[i]) {
            cm_buf h = CM_BUF_INIT;
            hex(&h, keys[i], 48);
            rc = diff(ck, err, "row handle %lld has no entry (key %s)", (long long)ck->handles[i],
                      (const char *)h.ptr);
            cm_buf_fini(&h);
        } else if (!cm_slice_eq(cm_buf_slice(&vals[i]), want)) {
            cm_buf a = CM_BUF_INIT, b = CM_BUF_INIT;
            hex(&a, cm_buf_slice(&vals[i]), 32);
            hex(&b, want, 32);
            rc = diff(ck, err, "the entry of row handle %lld holds value %s, the row makes %s",
                      (long long)ck->handles[i], (const char *)a.ptr, (const char *)b.ptr);
            cm_buf_fini(&a);
            cm_buf_fini(&b);
        }
    }
    for (uint32_t i = 0; i < ck->n; i++) {
        cm_buf_fini(&vals[i]);
    }
    ck->n = 0;
    cm_buf_reset(&ck->keys);
    cm_buf_reset(&ck->vals);
    return rc;
}

static int rows2_cb(void *user, cm_slice data)
{
    check *ck = user;
    cm_reader rd;
    cm_reader_init(&rd, data.ptr, data.len);
    cm_datum vals[SQL_BF_COLS_MAX];
    while (cm_reader_left(&rd) > 0) {
        cm_slice key;
        int64_t tid, handle;
        int rc = sql_bf_read_row(ck->cols, &rd, &key, vals, &ck->err);
        rc = rc ? rc : cm_keys_decode_row(key, &tid, &handle, &ck->err);
        if (rc == 0) {
            ck->koff[ck->n] = ck->keys.len;
            ck->voff[ck->n] = ck->vals.len;
            rc = sql_bf_entry(ck->cols, ck->ix, vals, handle, &ck->keys, &ck->vals, NULL, &ck->err);
        }
        if (rc == 0) {
            ck->handles[ck->n++] = handle;
            ck->koff[ck->n] = ck->keys.len;
            ck->voff[ck->n] = ck->vals.len;
            if (ck->n == CHECK_CHUNK) {
                rc = lookup_entries(ck, &ck->err);
            }
        }
        if (rc != 0) {
            ck->rc = rc;
            return 1;
        }
    }
    return 0;
}

/* ---- second pass: entries → rows --------------------------------------------------------------
 */

typedef struct ent_chunk {
    uint32_t n;
    int64_t handles[CHECK_CHUNK];
    cm_buf keys, vals; /* the entries as stored */
    size_t koff[CHECK_CHUNK + 1], voff[CHECK_CHUNK + 1];
} ent_chunk;

static int lookup_rows(check *ck, ent_chunk *ch, cm_err *err)
{
    if (ch->n == 0) {
        return 0;
    }
    cm_buf rk = CM_BUF_INIT;
    cm_slice keys[CHECK_CHUNK];
    cm_buf rows[CHECK_CHUNK];
    bool found[CHECK_CHUNK];
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && i < ch->n; i++) {
        rc = cm_keys_append_row(&rk, ck->t->id, ch->handles[i]) != 0 ? nomem(err) : 0;
        cm_buf_init(&rows[i]);
    }
    for (uint32_t i = 0; rc == 0 && i < ch->n; i++) {
        keys[i] = cm_slice_make(rk.ptr + (size_t)i * CM_KEYS_ROW_LEN, CM_KEYS_ROW_LEN);
    }
    rc = rc ? rc : cm_txn_batch_get(ck->x, keys, ch->n, rows, found, err);
    cm_row_col rc_cols[SQL_BF_COLS_MAX];
    for (uint32_t j = 0; j < ck->cols->ncols; j++) {
        rc_cols[j].id = ck->cols->pcols[j].id;
        rc_cols[j].type = (cm_dtype)ck->cols->pcols[j].dtype;
    }
    for (uint32_t i = 0; rc == 0 && i < ch->n; i++) {
        cm_slice ek = cm_slice_make(ch->keys.ptr + ch->koff[i], ch->koff[i + 1] - ch->koff[i]);
        cm_slice ev = cm_slice_make(ch->vals.ptr + ch->voff[i], ch->voff[i + 1] - ch->voff[i]);
        if (!found[i]) {
            cm_buf h = CM_BUF_INIT;
            hex(&h, ek, 48);
            rc = diff(ck, err, "entry %s points at handle %lld, which has no row",
                      (const char *)h.ptr, (long long)ch->handles[i]);
            cm_buf_fini(&h);
            break;
        }
        cm_datum vals[SQL_BF_COLS_MAX];
        bool present[SQL_BF_COLS_MAX];
        rc = cm_row_decode(cm_buf_slice(&rows[i]), rc_cols, ck->cols->ncols, vals, present, err);
        for (uint32_t j = 0; rc == 0 && j < ck->cols->ncols; j++) {
            if (!present[j]) {
                vals[j] = ck->cols->dflt[j];
            }
        }
        cm_buf_reset(&ck->key);
        cm_buf_reset(&ck->val);
        rc = rc ? rc
                : sql_bf_entry(ck->cols, ck->ix, vals, ch->handles[i], &ck->key, &ck->val, NULL,
                               err);
        if (rc == 0 &&
            !(cm_slice_eq(ek, cm_buf_slice(&ck->key)) && cm_slice_eq(ev, cm_buf_slice(&ck->val)))) {
            cm_buf a = CM_BUF_INIT, b = CM_BUF_INIT;
            hex(&a, ek, 48);
            hex(&b, cm_buf_slice(&ck->key), 48);
            rc = diff(ck, err, "entry %s of handle %lld is not the entry its row makes (%s)",
                      (const char *)a.ptr, (long long)ch->handles[i], (const char *)b.ptr);
            cm_buf_fini(&a);
            cm_buf_fini(&b);
        }
    }
    for (uint32_t i = 0; i < ch->n; i++) {
        cm_buf_fini(&rows[i]);
    }
    cm_buf_fini(&rk);
    ch->n = 0;
    cm_buf_reset(&ch->keys);
    cm_buf_reset(&ch->vals);
    return rc;
}

/* The handle an entry of index ix points at. */
static int entry_handle(check *ck, const sql_cat_index *ix, cm_slice key, cm_slice value,
                        int64_t *handle, cm_err *err)
{
    int64_t tid, iid;
    cm_slice vals;
    int rc = cm_keys_decode_index(key, &tid, &iid, &vals, err);
    if (rc != 0) {
        return rc;
    }
    cm_arena a;
    cm_arena_init(&a, 0);
    cm_datum d[SQL_CAT_KEY_PARTS_MAX];
    bool has = false;
    rc = cm_keys_decode_index_values(vals, ix->ncols, &a, d, &has, handle, err);
    cm_arena_fini(&a);
    if (rc == 0 && !has) {
        cm_reader r;
        cm_reader_init(&r, value.ptr, value.len);
        rc = cm_codec_read_int64(&r, handle, err);
        if (rc == 0 && cm_reader_left(&r) != 0) {
            rc = cm_err_set(err, CM_E_CORRUPT, "%zu bytes after the handle", cm_reader_left(&r));
        }
    }
    (void)ck;
    return rc;
}

static int scan_entries2(check *ck, cm_err *err)
{
    const sql_cat_index *ix = ck->cols->ix[ck->ix];
    cm_buf start = CM_BUF_INIT, end = CM_BUF_INIT;
    ent_chunk *ch = calloc(1, sizeof(*ch));
    cm_txn_iter *it = NULL;
    int rc =
        ch == NULL || cm_keys_index_range(ck->t->id, ix->id, &start, &end) != 0 ? nomem(err) : 0;
    rc = rc ? rc : cm_txn_scan(ck->x, cm_buf_slice(&start), cm_buf_slice(&end), &it, err);
    while (rc == 0) {
        cm_slice k, v;
        int more = cm_txn_iter_next(it, &k, &v, err);
        if (more <= 0) {
            rc = more;
            break;
        }
        int64_t h = 0;
        cm_err e2;
        if (entry_handle(ck, ix, k, v, &h, &e2) != 0) {
            cm_buf hx = CM_BUF_INIT;
            hex(&hx, k, 48);
            rc = diff(ck, err, "entry %s cannot be decoded: %s", (const char *)hx.ptr, e2.msg);
            cm_buf_fini(&hx);
            break;
        }
        ch->koff[ch->n] = ch->keys.len;
        ch->voff[ch->n] = ch->vals.len;
        if (cm_buf_append_slice(&ch->keys, k) != 0 || cm_buf_append_slice(&ch->vals, v) != 0) {
            rc = nomem(err);
            break;
        }
        ch->handles[ch->n++] = h;
        ch->koff[ch->n] = ch->keys.len;
        ch->voff[ch->n] = ch->vals.len;
        if (ch->n == CHECK_CHUNK) {
            rc = lookup_rows(ck, ch, err);
        }
    }
    if (rc == 0 && ch != NULL) {
        rc = lookup_rows(ck, ch, err);
    }
    cm_txn_iter_free(it);
    if (ch != NULL) {
        cm_buf_fini(&ch->keys);
        cm_buf_fini(&ch->vals);
        free(ch);
    }
    cm_buf_fini(&start);
    cm_buf_fini(&end);
    return rc;
}

/* ---- first pass over an index -----------------------------------------------------------------
 */

static int scan_index(check *ck, uint32_t i, cm_err *err)
{
    const sql_cat_index *ix = ck->cols->ix[i];
    cm_buf start = CM_BUF_INIT, end = CM_BUF_INIT;
    cm_txn_iter *it = NULL;
    int rc = cm_keys_index_range(ck->t->id, ix->id, &start, &end) != 0 ? nomem(err) : 0;
    rc = rc ? rc : cm_txn_scan(ck->x, cm_buf_slice(&start), cm_buf_slice(&end), &it, err);
    while (rc == 0) {
        cm_slice k, v;
        int more = cm_txn_iter_next(it, &k, &v, err);
        if (more <= 0) {
            rc = more;
            break;
        }
        fp_add(&ck->act[i], k, v);
    }
    cm_txn_iter_free(it);
    cm_buf_fini(&start);
    cm_buf_fini(&end);
    return rc;
}

int sql_ddl_check_table(sql_catalog *c, const sql_cat_table *t, const char *index_name, cm_err *err)
{
    const sql_cat_index *ixs[SQL_BF_INDEXES_MAX];
    uint32_t nix = 0;
    if (index_name != NULL) {
        const sql_cat_index *x = sql_table_index(t, index_name);
        if (x == NULL || x->state != SQL_OBJ_PUBLIC) {
            return cm_err_set(err, CM_E_KEY_DOES_NOT_EXIST, "Key '%s' doesn't exist in table '%s'",
                              index_name, t->name);
        }
        ixs[nix++] = x;
    } else {
        for (uint32_t i = 0; i < t->nindexes && nix < SQL_BF_INDEXES_MAX; i++) {
            if (t->indexes[i].state == SQL_OBJ_PUBLIC) {
                ixs[nix++] = &t->indexes[i];
            }
        }
    }
    if (nix == 0) {
        return 0; /* the clustered primary key is the rows themselves */
    }
    check *ck = calloc(1, sizeof(*ck));
    sql_bf_cols *cols = malloc(sizeof(*cols));
    if (ck == NULL || cols == NULL) {
        free(ck);
        free(cols);
        return nomem(err);
    }
    ck->c = c;
    ck->t = t;
    ck->cols = cols;
    uint64_t t0 = cm_time_mono_ms();
    int rc = sql_bf_cols_init(cols, t, ixs, nix, err);
    rc = rc ? rc : cm_txn_begin(c->kc, &ck->x, err);
    if (rc == 0) {
        ck->ts = cm_txn_start_ts(ck->x);
        rc = scan_rows(ck, false, rows_cb, err);
    }
    for (uint32_t i = 0; rc == 0 && i < nix; i++) {
        rc = scan_index(ck, i, err);
    }
    uint64_t rows = nix > 0 ? ck->exp[0].n : 0;
    for (uint32_t i = 0; rc == 0 && i < nix; i++) {
        if (memcmp(&ck->exp[i], &ck->act[i], sizeof(fp)) == 0) {
            continue;
        }
        /* name the first difference */
        ck->ix = i;
        ck->found_diff = false;
        rc = scan_rows(ck, true, rows2_cb, err);
        rc = rc ? rc : lookup_entries(ck, err);
        rc = rc ? rc : scan_entries2(ck, err);
        if (rc == 0) {
            rc = diff(ck, err, "%llu rows, %llu entries (fingerprints differ)",
                      (unsigned long long)ck->exp[i].n, (unsigned long long)ck->act[i].n);
        }
    }
    CM_INFO(LOG_COMP, "ADMIN CHECK table=%s indexes=%u rows=%llu: %llu ms rc=%d", t->name, nix,
            (unsigned long long)rows, (unsigned long long)(cm_time_mono_ms() - t0), rc);
    cm_txn_free(ck->x);
    cm_buf_fini(&ck->key);
    cm_buf_fini(&ck->val);
    cm_buf_fini(&ck->keys);
    cm_buf_fini(&ck->vals);
    sql_bf_cols_fini(cols);
    free(cols);
    free(ck);
    return rc;
}
