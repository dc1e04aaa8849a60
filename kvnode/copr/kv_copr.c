/* kv_copr.c — the coprocessor executor (kv_copr.h): scan → selection → aggregation | TopN |
 * Limit → response, over one region's ranges at a snapshot. */
#include "kv_copr.h"

#include "cm_keys.h"
#include "cm_row.h"

#include <stdlib.h>
#include <string.h>

/* ---- state of one request ----------------------------------------------------------------- */

typedef struct agg_group {
    size_t key_off; /* into exec.gkeys */
    size_t key_len;
    uint64_t hash;
} agg_group;

typedef struct topn_ent {
    cm_buf blob;    /* the response row, then the payloads of the sort values */
    size_t row_len; /* bytes of the response row at the start of blob */
    uint64_t seq;   /* scan order: ties keep the earlier row, like a stable sort */
} topn_ent;

typedef struct exec {
    const cm_copr_plan *p;
    cm_arena *arena; /* the request's: plan, programs, result */
    cm_arena chunk;  /* pairs of one kv_mvcc_scan call */
    cm_arena row;    /* one row's scratch */
    cm_err *err;
    /* decoded programs */
    cm_cx *sel;
    cm_cx **group;
    cm_cx **aggarg; /* NULL entry: COUNT(*) */
    cm_cx **order;
    /* the current row */
    cm_row_col *rcols;
    cm_datum *vals;
    cm_slice *raw; /* table scans: value bytes as stored */
    uint8_t *pres; /* CM_COPR_ABSENT / NULL / VALUE */
    uint32_t nidx; /* index scans: datums in the key before the handle */
    bool want_handle;
    const cm_datum **dflt; /* per column: its default or NULL */
    /* output */
    cm_buf out;
    cm_buf tmp;
    cm_buf rowtmp;
    uint64_t emitted;
    uint64_t page_rows;
    uint64_t limit_left;
    /* aggregation */
    agg_group *groups;
    size_t ngroups, groups_cap;
    cm_copr_agg_state *states; /* ngroups × naggs */
    uint32_t *table;           /* open addressing: group index + 1, 0 empty */
    size_t table_cap;
    cm_buf gkeys;
    /* TopN */
    topn_ent *ents;
    size_t nents, ents_cap;
    uint32_t *heap;  /* ent indexes; heap[0] is the worst kept row */
    cm_datum *ekeys; /* ents_cap × norder sort values */
    cm_datum *cur_keys;
    uint64_t seq;
} exec;

static int nomem(cm_err *err)
{
    return cm_err_set(err, CM_E_NOMEM, "coprocessor: out of memory");
}

static bool is_payload(cm_dtype t)
{
    return t == CM_DT_STRING || t == CM_DT_BYTES || t == CM_DT_JSON;
}

/* ---- setup ---------------------------------------------------------------------------------- */

static int decode_programs(exec *x, cm_err *err)
{
    const cm_copr_plan *p = x->p;
    int rc = 0;
    if (p->sel.len > 0) {
        rc = cm_cx_decode(p->sel, p->ncols, x->arena, &x->sel, err);
    }
    if (rc == 0 && p->has_agg) {
        x->group = cm_arena_alloc(x->arena, sizeof(cm_cx *) * (p->ngroup + 1));
        x->aggarg = cm_arena_alloc(x->arena, sizeof(cm_cx *) * (p->naggs + 1));
        if (x->group == NULL || x->aggarg == NULL) {
            return nomem(err);
        }
        for (uint32_t i = 0; rc == 0 && i < p->ngroup; i++) {
            rc = cm_cx_decode(p->group[i], p->ncols, x->arena, &x->group[i], err);
        }
        for (uint32_t i = 0; rc == 0 && i < p->naggs; i++) {
            x->aggarg[i] = NULL;
            if (p->aggs[i].arg.len > 0) {
                rc = cm_cx_decode(p->aggs[i].arg, p->ncols, x->arena, &x->aggarg[i], err);
            } else if (p->aggs[i].fn != CM_COPR_COUNT) {
                rc = cm_err_set(err, CM_E_INVALID, "coprocessor: aggregate %u has no argument", i);
            }
        }
    }
    if (rc == 0 && p->has_topn) {
        if (p->topn_limit > CM_COPR_TOPN_MAX) {
            return cm_err_set(err, CM_E_UNSUPPORTED, "coprocessor: TopN limit %llu over %u",
                              (unsigned long long)p->topn_limit, CM_COPR_TOPN_MAX);
        }
        x->order = cm_arena_alloc(x->arena, sizeof(cm_cx *) * (p->norder + 1));
        x->cur_keys = cm_arena_alloc(x->arena, sizeof(cm_datum) * (p->norder + 1));
        if (x->order == NULL || x->cur_keys == NULL) {
            return nomem(err);
        }
        for (uint32_t i = 0; rc == 0 && i < p->norder; i++) {
            rc = cm_cx_decode(p->order[i].expr, p->ncols, x->arena, &x->order[i], err);
        }
    }
    return rc;
}

static int setup_columns(exec *x, cm_err *err)
{
    const cm_copr_plan *p = x->p;
    size_t n = p->ncols + 1;
    x->rcols = cm_arena_alloc(x->arena, sizeof(cm_row_col) * n);
    x->vals = cm_arena_alloc(x->arena, sizeof(cm_datum) * n);
    x->raw = cm_arena_alloc(x->arena, sizeof(cm_slice) * n);
    x->pres = cm_arena_alloc(x->arena, n);
    x->dflt = cm_arena_alloc(x->arena, sizeof(cm_datum *) * n);
    if (!x->rcols || !x->vals || !x->raw || !x->pres || !x->dflt) {
        return nomem(err);
    }
    for (uint32_t i = 0; i < p->ncols; i++) {
        if (p->cols[i].dtype == CM_DT_NULL || p->cols[i].dtype >= CM_DT_COUNT_) {
            return cm_err_set(err, CM_E_INVALID, "coprocessor: column %u has type %u", i,
                              p->cols[i].dtype);
        }
        x->rcols[i].id = p->cols[i].id;
        x->rcols[i].type = (cm_dtype)p->cols[i].dtype;
        x->dflt[i] = NULL;
    }
    for (uint32_t i = 0; i < p->ndflt; i++) {
        if (p->dflt[i].col < p->ncols) {
            x->dflt[p->dflt[i].col] = &p->dflt[i].value;
        }
    }
    if (p->scan == CM_COPR_SCAN_INDEX) {
        x->nidx = p->ncols;
        if (p->ncols > 0 && p->cols[p->ncols - 1].id == CM_COPR_HANDLE_ID) {
            x->nidx--;
            x->want_handle = true;
            if (p->cols[p->ncols - 1].dtype != CM_DT_INT64) {
                return cm_err_set(err, CM_E_INVALID, "coprocessor: the handle is an INT64");
            }
        }
    } else {
        for (uint32_t i = 0; i < p->ncols; i++) {
            if (p->cols[i].id == CM_COPR_HANDLE_ID && p->cols[i].dtype != CM_DT_INT64) {
                return cm_err_set(err, CM_E_INVALID, "coprocessor: the handle is an INT64");
            }
        }
    }
    return 0;
}

/* ---- one row: decode ------------------------------------------------------------------------ */

static int decode_table_row(exec *x, cm_slice key, cm_slice value, cm_err *err)
{
    const cm_copr_plan *p = x->p;
    cm_row_view v;
    int rc = cm_row_view_init(&v, value, err);
    if (rc != 0) {
        return rc;
    }
    bool have_handle = false;
    int64_t handle = 0;
    for (uint32_t i = 0; i < p->ncols; i++) {
        x->raw[i] = cm_slice_make(NULL, 0);
        if (x->rcols[i].id == CM_COPR_HANDLE_ID) {
            if (!have_handle) {
                int64_t tid;
                rc = cm_keys_decode_row(key, &tid, &handle, err);
                if (rc != 0) {
                    return rc;
                }
                have_handle = true;
            }
            x->vals[i] = cm_datum_int64(handle);
            x->pres[i] = CM_COPR_VALUE;
            continue;
        }
        cm_slice val;
        cm_row_presence pr = cm_row_view_find(&v, x->rcols[i].id, &val);
        if (pr == CM_ROW_VALUE) {
            rc = cm_row_value_decode(x->rcols[i].type, val, &x->vals[i], err);
            if (rc != 0) {
                return rc;
            }
            x->raw[i] = val;
            x->pres[i] = CM_COPR_VALUE;
        } else if (pr == CM_ROW_NULL) {
            x->vals[i] = cm_datum_null();
            x->pres[i] = CM_COPR_NULL;
        } else {
            x->vals[i] = x->dflt[i] ? *x->dflt[i] : cm_datum_null();
            x->pres[i] = CM_COPR_ABSENT;
        }
    }
    return 0;
}

static int decode_index_row(exec *x, cm_slice key, cm_slice value, cm_err *err)
{
    const cm_copr_plan *p = x->p;
    int64_t tid, iid, handle = 0;
    cm_slice enc;
    bool has_handle = false;
    int rc = cm_keys_decode_index(key, &tid, &iid, &enc, err);
    rc =
        rc ? rc
           : cm_keys_decode_index_values(enc, x->nidx, &x->row, x->vals, &has_handle, &handle, err);
    if (rc != 0) {
        return rc;
    }
    for (uint32_t i = 0; i < x->nidx; i++) {
        x->raw[i] = cm_slice_make(NULL, 0);
        if (x->vals[i].type == CM_DT_NULL) {
            x->pres[i] = CM_COPR_NULL;
            continue;
        }
        if ((uint32_t)x->vals[i].type != p->cols[i].dtype) {
            return cm_err_set(
                err, CM_E_INVALID, "coprocessor: index column %u holds %s, the plan says %s", i,
                cm_dtype_name(x->vals[i].type), cm_dtype_name((cm_dtype)p->cols[i].dtype));
        }
        x->pres[i] = CM_COPR_VALUE;
    }
    if (x->want_handle) {
        if (!has_handle) {
            /* A unique index entry: the value is the handle (int64 body, or an INT64 datum). */
            cm_reader rd;
            cm_reader_init(&rd, value.ptr, value.len);
            uint8_t flag = 0;
            if (value.len == 9) {
                rc = cm_reader_u8(&rd, &flag) != 0 || flag != CM_CODEC_FLAG_INT64 ? -1 : 0;
            }
            if (rc != 0 || (value.len != 8 && value.len != 9) ||
                cm_codec_read_int64(&rd, &handle, err) != 0) {
                return cm_err_set(err, CM_E_CORRUPT, "coprocessor: bad unique index value");
            }
        }
        x->vals[x->nidx] = cm_datum_int64(handle);
        x->raw[x->nidx] = cm_slice_make(NULL, 0);
        x->pres[x->nidx] = CM_COPR_VALUE;
    }
    return 0;
}

/* ---- one row: output ------------------------------------------------------------------------ */

/* Appends uvarint len | the row-codec bytes of d (d not NULL). */
static int append_row_value(exec *x, const cm_datum *d, cm_buf *out, cm_err *err)
{
    cm_row_cell c = {1, *d};
    cm_buf_reset(&x->rowtmp);
    int rc = cm_row_encode(&x->rowtmp, &c, 1, err);
    cm_row_view v;
    rc = rc ? rc : cm_row_view_init(&v, cm_buf_slice(&x->rowtmp), err);
    if (rc != 0) {
        return rc;
    }
    cm_slice val = cm_slice_make(NULL, 0);
    if (cm_row_view_find(&v, 1, &val) != CM_ROW_VALUE) {
        return cm_err_set(err, CM_E_INTERNAL, "coprocessor: value lost in re-encoding");
    }
    rc = cm_buf_append_uvarint(out, val.len);
    return rc ? rc : cm_buf_append_slice(out, val);
}

static int append_col(exec *x, uint32_t i, cm_buf *out, cm_err *err)
{
    int rc = cm_buf_append_u8(out, x->pres[i]);
    if (rc != 0 || x->pres[i] != CM_COPR_VALUE) {
        return rc;
    }
    if (x->raw[i].ptr != NULL) {
        rc = cm_buf_append_uvarint(out, x->raw[i].len);
        return rc ? rc : cm_buf_append_slice(out, x->raw[i]);
    }
    return append_row_value(x, &x->vals[i], out, err);
}

/* Appends the response row: key, then the OUT columns. */
static int append_row(exec *x, cm_slice key, cm_buf *out, cm_err *err)
{
    const cm_copr_plan *p = x->p;
    int rc = cm_buf_append_uvarint(out, key.len);
    rc = rc ? rc : cm_buf_append_slice(out, key);
    if (p->has_out) {
        for (uint32_t j = 0; rc == 0 && j < p->nout; j++) {
            rc = append_col(x, p->out[j], out, err);
        }
    } else {
        for (uint32_t i = 0; rc == 0 && i < p->ncols; i++) {
            rc = append_col(x, i, out, err);
        }
    }
    return rc == CM_E_NOMEM ? nomem(err) : rc;
}

/* ---- aggregation ---------------------------------------------------------------------------- */

static uint64_t hash_bytes(cm_slice s)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (size_t i = 0; i < s.len; i++) {
        h = (h ^ s.ptr[i]) * 0x100000001b3ull;
    }
    return h ^ (h >> 29);
}

static int table_grow(exec *x, cm_err *err)
{
    size_t cap = x->table_cap ? x->table_cap * 2 : 64;
    uint32_t *t = calloc(cap, sizeof(uint32_t));
    if (t == NULL) {
        return nomem(err);
    }
    for (size_t g = 0; g < x->ngroups; g++) {
        size_t pos = x->groups[g].hash & (cap - 1);
        while (t[pos] != 0) {
            pos = (pos + 1) & (cap - 1);
        }
        t[pos] = (uint32_t)g + 1;
    }
    free(x->table);
    x->table = t;
    x->table_cap = cap;
    return 0;
}

static int group_add(exec *x, cm_slice key, uint64_t h, size_t *out, cm_err *err)
{
    const cm_copr_plan *p = x->p;
    if (x->ngroups >= CM_COPR_GROUPS_MAX) {
        return cm_err_set(err, CM_E_UNSUPPORTED, "coprocessor: more than %u groups",
                          CM_COPR_GROUPS_MAX);
    }
    if (x->ngroups == x->groups_cap) {
        size_t cap = x->groups_cap ? x->groups_cap * 2 : 16;
        agg_group *g = realloc(x->groups, cap * sizeof(*g));
        if (g == NULL) {
            return nomem(err);
        }
        x->groups = g;
        cm_copr_agg_state *s = realloc(x->states, cap * (p->naggs + 1) * sizeof(*s));
        if (s == NULL) {
            return nomem(err);
        }
        x->states = s;
        x->groups_cap = cap;
    }
    if ((x->ngroups + 1) * 2 > x->table_cap) {
        int rc = table_grow(x, err);
        if (rc != 0) {
            return rc;
        }
    }
    size_t g = x->ngroups;
    x->groups[g].key_off = x->gkeys.len;
    x->groups[g].key_len = key.len;
    x->groups[g].hash = h;
    if (key.len > 0 && cm_buf_append_slice(&x->gkeys, key) != 0) {
        return nomem(err);
    }
    for (uint32_t a = 0; a < p->naggs; a++) {
        cm_copr_agg_init(&x->states[g * p->naggs + a], (cm_copr_aggfn)p->aggs[a].fn);
    }
    x->ngroups++;
    size_t pos = h & (x->table_cap - 1);
    while (x->table[pos] != 0) {
        pos = (pos + 1) & (x->table_cap - 1);
    }
    x->table[pos] = (uint32_t)g + 1;
    *out = g;
    return 0;
}

static int group_find(exec *x, cm_slice key, size_t *out, cm_err *err)
{
    uint64_t h = hash_bytes(key);
    if (x->table_cap > 0) {
        for (size_t pos = h & (x->table_cap - 1); x->table[pos] != 0;
             pos = (pos + 1) & (x->table_cap - 1)) {
            const agg_group *g = &x->groups[x->table[pos] - 1];
            if (g->hash == h && g->key_len == key.len &&
                (key.len == 0 || memcmp(x->gkeys.ptr + g->key_off, key.ptr, key.len) == 0)) {
                *out = x->table[pos] - 1;
                return 0;
            }
        }
    }
    return group_add(x, key, h, out, err);
}

static int agg_row(exec *x, cm_err *err)
{
    const cm_copr_plan *p = x->p;
    cm_buf_reset(&x->tmp);
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && i < p->ngroup; i++) {
        cm_datum d;
        rc = cm_cx_eval(x->group[i], x->vals, &x->row, &d, err);
        rc = rc ? rc : cm_codec_encode_datum(&x->tmp, &d, err);
    }
    size_t g = 0;
    rc = rc ? rc : group_find(x, cm_buf_slice(&x->tmp), &g, err);
    for (uint32_t a = 0; rc == 0 && a < p->naggs; a++) {
        cm_copr_agg_state *s = &x->states[g * p->naggs + a];
        if (x->aggarg[a] == NULL) {
            rc = cm_copr_agg_add(s, NULL, &x->row, err);
            continue;
        }
        cm_datum d;
        rc = cm_cx_eval(x->aggarg[a], x->vals, &x->row, &d, err);
        rc = rc ? rc : cm_copr_agg_add(s, &d, &x->row, err);
    }
    return rc;
}

static int agg_finish(exec *x, cm_err *err)
{
    const cm_copr_plan *p = x->p;
    size_t g;
    int rc = 0;
    if (x->ngroups == 0 && p->ngroup == 0) {
        rc = group_find(x, cm_slice_make(NULL, 0), &g, err); /* one group even without rows */
    }
    for (g = 0; rc == 0 && g < x->ngroups; g++) {
        if (x->groups[g].key_len > 0) {
            rc = cm_buf_append(&x->out, x->gkeys.ptr + x->groups[g].key_off, x->groups[g].key_len);
        }
        for (uint32_t a = 0; rc == 0 && a < p->naggs; a++) {
            rc = cm_copr_agg_partial_encode(&x->states[g * p->naggs + a], &x->out, err);
        }
    }
    x->emitted = x->ngroups;
    return rc == CM_E_NOMEM ? nomem(err) : rc;
}

/* ---- TopN ----------------------------------------------------------------------------------- */

/* Order of two rows by the sort values: <0 when a comes first. NULL is the smallest value. */
static int order_cmp(exec *x, const cm_datum *a, uint64_t aseq, const cm_datum *b, uint64_t bseq,
                     int *out, cm_err *err)
{
    const cm_copr_plan *p = x->p;
    for (uint32_t i = 0; i < p->norder; i++) {
        bool an = a[i].type == CM_DT_NULL, bn = b[i].type == CM_DT_NULL;
        int c = 0;
        if (an || bn) {
            c = an && bn ? 0 : an ? -1 : 1;
        } else {
            int rc = cm_cx_compare(&a[i], &b[i], &x->row, &c, err);
            if (rc != 0) {
                return rc;
            }
        }
        if (c != 0) {
            *out = p->order[i].desc ? -c : c;
            return 0;
        }
    }
    *out = aseq < bseq ? -1 : aseq > bseq ? 1 : 0;
    return 0;
}

static int ent_cmp(exec *x, uint32_t a, uint32_t b, int *out, cm_err *err)
{
    uint32_t n = x->p->norder;
    return order_cmp(x, x->ekeys + (size_t)a * n, x->ents[a].seq, x->ekeys + (size_t)b * n,
                     x->ents[b].seq, out, err);
}

/* Max-heap on the order: heap[0] is the row that would be dropped first. */
static int sift_down(exec *x, size_t i, size_t n, cm_err *err)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        int c;
        if (l < n) {
            int rc = ent_cmp(x, x->heap[l], x->heap[m], &c, err);
            if (rc != 0) {
                return rc;
            }
            m = c > 0 ? l : m;
        }
        if (r < n) {
            int rc = ent_cmp(x, x->heap[r], x->heap[m], &c, err);
            if (rc != 0) {
                return rc;
            }
            m = c > 0 ? r : m;
        }
        if (m == i) {
            return 0;
        }
        uint32_t t = x->heap[i];
        x->heap[i] = x->heap[m];
        x->heap[m] = t;
        i = m;
    }
}

static int sift_up(exec *x, size_t i, cm_err *err)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        int c;
        int rc = ent_cmp(x, x->heap[i], x->heap[parent], &c, err);
        if (rc != 0) {
            return rc;
        }
        if (c <= 0) {
            return 0;
        }
        uint32_t t = x->heap[i];
        x->heap[i] = x->heap[parent];
        x->heap[parent] = t;
        i = parent;
    }
    return 0;
}

/* Stores the current row (response bytes and sort values, payloads copied) into entry e. */
static int ent_store(exec *x, uint32_t e, cm_slice key, cm_err *err)
{
    topn_ent *t = &x->ents[e];
    uint32_t n = x->p->norder;
    cm_datum *k = x->ekeys + (size_t)e * n;
    cm_buf_reset(&t->blob);
    int rc = append_row(x, key, &t->blob, err);
    if (rc != 0) {
        return rc;
    }
    t->row_len = t->blob.len;
    t->seq = x->seq;
    size_t offs[CM_COPR_ORDER_MAX];
    for (uint32_t i = 0; i < n; i++) {
        k[i] = x->cur_keys[i];
        offs[i] = t->blob.len;
        if (is_payload(k[i].type) && cm_buf_append_slice(&t->blob, k[i].v.bytes) != 0) {
            return nomem(err);
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        if (is_payload(k[i].type)) {
            k[i].v.bytes = cm_slice_make(t->blob.ptr + offs[i], k[i].v.bytes.len);
        }
    }
    return 0;
}

static int topn_row(exec *x, cm_slice key, cm_err *err)
{
    const cm_copr_plan *p = x->p;
    int rc = 0;
    x->seq++;
    for (uint32_t i = 0; rc == 0 && i < p->norder; i++) {
        rc = cm_cx_eval(x->order[i], x->vals, &x->row, &x->cur_keys[i], err);
    }
    if (rc != 0 || p->topn_limit == 0) {
        return rc;
    }
    if (x->nents < p->topn_limit) {
        if (x->nents == x->ents_cap) {
            size_t cap = x->ents_cap ? x->ents_cap * 2 : 64;
            cap = cap > p->topn_limit ? (size_t)p->topn_limit : cap;
            topn_ent *en = realloc(x->ents, cap * sizeof(*en));
            if (en == NULL) {
                return nomem(err);
            }
            x->ents = en;
            uint32_t *h = realloc(x->heap, cap * sizeof(*h));
            if (h == NULL) {
                return nomem(err);
            }
            x->heap = h;
            cm_datum *k = realloc(x->ekeys, cap * (p->norder + 1) * sizeof(*k));
            if (k == NULL) {
                return nomem(err);
            }
            /* Payload pointers point into the blobs, not into ekeys: moving ekeys is safe. */
            x->ekeys = k;
            for (size_t i = x->ents_cap; i < cap; i++) {
                cm_buf_init(&x->ents[i].blob);
            }
            x->ents_cap = cap;
        }
        uint32_t e = (uint32_t)x->nents;
        rc = ent_store(x, e, key, err);
        if (rc != 0) {
            return rc;
        }
        x->heap[x->nents] = e;
        x->nents++;
        return sift_up(x, x->nents - 1, err);
    }
    /* Full: the row replaces the worst kept one when it comes before it. */
    uint32_t worst = x->heap[0];
    int c;
    rc = order_cmp(x, x->cur_keys, x->seq, x->ekeys + (size_t)worst * p->norder, x->ents[worst].seq,
                   &c, err);
    if (rc != 0 || c >= 0) {
        return rc;
    }
    rc = ent_store(x, worst, key, err);
    return rc ? rc : sift_down(x, 0, x->nents, err);
}

static int topn_finish(exec *x, cm_err *err)
{
    /* Pop the worst first, filling the order from the back. */
    size_t n = x->nents;
    uint32_t *order = malloc((n + 1) * sizeof(uint32_t));
    if (order == NULL) {
        return nomem(err);
    }
    int rc = 0;
    for (size_t k = n; rc == 0 && k > 0; k--) {
        cm_arena_reset(&x->row);
        order[k - 1] = x->heap[0];
        x->heap[0] = x->heap[k - 1];
        rc = sift_down(x, 0, k - 1, err);
    }
    for (size_t k = 0; rc == 0 && k < n; k++) {
        const topn_ent *t = &x->ents[order[k]];
        if (cm_buf_append(&x->out, t->blob.ptr, t->row_len) != 0) {
            rc = nomem(err);
        }
    }
    free(order);
    x->emitted = n;
    return rc;
}

/* ---- the scan ------------------------------------------------------------------------------- */

/* What processing one row asks of the scan loop. */
enum { ROW_GO = 0, ROW_PAGE_FULL = 1, ROW_LIMIT_DONE = 2 };

static int process_row(exec *x, cm_slice key, cm_slice value, int *next, cm_err *err)
{
    const cm_copr_plan *p = x->p;
    *next = ROW_GO;
    cm_arena_reset(&x->row);
    int rc = p->scan == CM_COPR_SCAN_INDEX ? decode_index_row(x, key, value, err)
                                           : decode_table_row(x, key, value, err);
    if (rc != 0) {
        return rc;
    }
    if (x->sel != NULL) {
        bool keep = false;
        rc = cm_cx_filter(x->sel, x->vals, &x->row, &keep, err);
        if (rc != 0 || !keep) {
            return rc;
        }
    }
    if (p->has_agg) {
        return agg_row(x, err);
    }
    if (p->has_topn) {
        return topn_row(x, key, err);
    }
    rc = append_row(x, key, &x->out, err);
    if (rc != 0) {
        return rc;
    }
    x->emitted++;
    if (p->has_limit && --x->limit_left == 0) {
        *next = ROW_LIMIT_DONE;
    } else if (x->emitted >= x->page_rows) {
        *next = ROW_PAGE_FULL;
    }
    return 0;
}

static int copy_lock(cm_arena *a, const kv_lock_info *in, kv_lock_info *out, cm_err *err)
{
    *out = *in;
    void *k = cm_arena_memdup(a, in->key.ptr ? in->key.ptr : (const uint8_t *)"", in->key.len);
    void *pr = cm_arena_memdup(a, in->primary.ptr ? in->primary.ptr : (const uint8_t *)"",
                               in->primary.len);
    if (k == NULL || pr == NULL) {
        return nomem(err);
    }
    out->key = cm_slice_make(k, in->key.len);
    out->primary = cm_slice_make(pr, in->primary.len);
    return 0;
}

/* Sets the resume key to key + 0x00, the smallest key after key. */
static int resume_after(exec *x, cm_slice key, kv_copr_result *out, cm_err *err)
{
    uint8_t *r = cm_arena_alloc(x->arena, key.len + 1);
    if (r == NULL) {
        return nomem(err);
    }
    memcpy(r, key.ptr, key.len);
    r[key.len] = 0;
    out->resume_key = cm_slice_make(r, key.len + 1);
    out->more = true;
    return 0;
}

/* Scans the ranges through the plan. Returns 0 (out->more and out->resume_key set when a page
 * ended early), CM_E_KEY_IS_LOCKED (out->lock, out->resume_key) or an error. */
static int scan(exec *x, kv_snapshot *snap, const kv_copr_range *ranges, size_t nranges,
                uint64_t ts, kv_copr_result *out, cm_err *err)
{
    const cm_copr_plan *p = x->p;
    bool paged = !p->has_agg && !p->has_topn;
    bool plain = paged && x->sel == NULL;
    cm_buf cur = CM_BUF_INIT;
    int rc = 0;
    if (p->has_limit && p->limit == 0) {
        return 0;
    }
    for (size_t r = 0; rc == 0 && r < nranges; r++) {
        cm_slice start = ranges[r].start;
        for (;;) {
            size_t chunk = KV_COPR_CHUNK_ROWS;
            if (plain && x->page_rows - x->emitted < chunk) {
                chunk = (size_t)(x->page_rows - x->emitted);
            }
            if (plain && p->has_limit && x->limit_left < chunk) {
                chunk = (size_t)x->limit_left; /* never read past the limit */
            }
            cm_arena_reset(&x->chunk);
            kv_scan_req sr = {start, ranges[r].end, ts, chunk, false, false};
            kv_read_result res;
            int src = kv_mvcc_scan(snap, &sr, &x->chunk, &res, err);
            if (src != 0 && !(src == CM_E_KEY_IS_LOCKED && res.nlocks > 0)) {
                rc = src;
                goto done;
            }
            bool locked = src == CM_E_KEY_IS_LOCKED;
            for (size_t i = 0; i < res.npairs; i++) {
                cm_slice k = res.pairs[i].key;
                if (locked && cm_slice_cmp(k, res.locks[0].key) >= 0) {
                    break;
                }
                out->scanned_rows++;
                int next;
                rc = process_row(x, k, res.pairs[i].value, &next, err);
                if (rc != 0) {
                    goto done;
                }
                if (next == ROW_LIMIT_DONE) {
                    goto done;
                }
                if (next == ROW_PAGE_FULL) {
                    bool last = i + 1 == res.npairs && !res.more && !locked;
                    if (!last) {
                        rc = resume_after(x, k, out, err);
                    } else if (r + 1 < nranges) {
                        out->more = true;
                        out->resume_key = ranges[r + 1].start;
                    }
                    goto done;
                }
            }
            if (locked) {
                rc = copy_lock(x->arena, &res.locks[0], &out->lock, err);
                out->resume_key = out->lock.key;
                rc = rc ? rc : CM_E_KEY_IS_LOCKED;
                goto done;
            }
            if (!res.more) {
                break;
            }
            cm_buf_reset(&cur);
            if (cm_buf_append_slice(&cur, res.resume_key) != 0) {
                rc = nomem(err);
                goto done;
            }
            start = cm_buf_slice(&cur);
            if (paged && out->scanned_rows >= KV_COPR_PAGE_SCAN_MAX) {
                void *k = cm_arena_memdup(x->arena, cur.ptr, cur.len);
                if (k == NULL) {
                    rc = nomem(err);
                    goto done;
                }
                out->resume_key = cm_slice_make(k, cur.len);
                out->more = true;
                goto done;
            }
        }
    }
done:
    cm_buf_fini(&cur);
    return rc;
}

static void exec_fini(exec *x)
{
    for (size_t g = 0; x->states != NULL && g < x->ngroups; g++) {
        for (uint32_t a = 0; a < x->p->naggs; a++) {
            cm_copr_agg_fini(&x->states[g * x->p->naggs + a]);
        }
    }
    free(x->states);
    free(x->groups);
    free(x->table);
    cm_buf_fini(&x->gkeys);
    for (size_t i = 0; i < x->ents_cap; i++) {
        cm_buf_fini(&x->ents[i].blob);
    }
    free(x->ents);
    free(x->heap);
    free(x->ekeys);
    cm_buf_fini(&x->out);
    cm_buf_fini(&x->tmp);
    cm_buf_fini(&x->rowtmp);
    cm_arena_fini(&x->chunk);
    cm_arena_fini(&x->row);
}

int kv_copr_handle(kv_snapshot *snap, uint32_t tp, cm_slice data, const kv_copr_range *ranges,
                   size_t nranges, uint64_t start_ts, uint32_t page_rows, cm_arena *arena,
                   kv_copr_result *out, cm_err *err)
{
    memset(out, 0, sizeof(*out));
    if (tp != CM_COPR_REQ_DAG) {
        return cm_err_set(err, CM_E_UNSUPPORTED, "coprocessor: request kind %u", tp);
    }
    if (start_ts == 0) {
        return cm_err_set(err, CM_E_INVALID, "coprocessor: start_ts 0");
    }
    cm_copr_plan plan;
    int rc = cm_copr_plan_decode(data, arena, &plan, err);
    if (rc != 0) {
        return rc;
    }
    exec x;
    memset(&x, 0, sizeof(x));
    x.p = &plan;
    x.arena = arena;
    x.err = err;
    cm_arena_init(&x.chunk, 64 << 10);
    cm_arena_init(&x.row, 8 << 10);
    x.page_rows = page_rows ? page_rows : KV_COPR_PAGE_ROWS_DEFAULT;
    x.page_rows = x.page_rows > KV_COPR_PAGE_ROWS_MAX ? KV_COPR_PAGE_ROWS_MAX : x.page_rows;
    x.limit_left = plan.limit;
    rc = setup_columns(&x, err);
    rc = rc ? rc : decode_programs(&x, err);
    rc = rc ? rc : scan(&x, snap, ranges, nranges, start_ts, out, err);
    if (rc == CM_E_KEY_IS_LOCKED && (plan.has_agg || plan.has_topn)) {
        cm_buf_reset(&x.out); /* partial: the client retries the whole region */
        x.emitted = 0;
    } else if (rc == 0 && plan.has_agg) {
        rc = agg_finish(&x, err);
    } else if (rc == 0 && plan.has_topn) {
        rc = topn_finish(&x, err);
    }
    if (rc == 0 || rc == CM_E_KEY_IS_LOCKED) {
        void *d = cm_arena_memdup(arena, x.out.ptr ? x.out.ptr : (const uint8_t *)"", x.out.len);
        if (d == NULL) {
            rc = nomem(err);
        } else {
            out->data = cm_slice_make(d, x.out.len);
            out->returned_rows = x.emitted;
        }
    }
    exec_fini(&x);
    return rc;
}
