/* cm_row.c — the row codec; see cm_row.h and docs/codec.md. */
#include "cm_row.h"
#include "cm_assert.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* flags byte: bits 0-1 id width code, bit 2 wide (u32) offsets; the other bits are zero. */
#define FLAG_ID_MASK    0x03
#define FLAG_WIDE_OFFS  0x04
#define FLAG_KNOWN_BITS 0x07
/* Largest fixed-size value: a decimal's scale byte plus its key body. */
#define VALUE_BYTES_MAX (1 + CM_DECIMAL_KEY_BYTES_MAX)

static const uint8_t id_widths[3] = {1, 2, 4};

static void put_le(uint8_t *p, uint64_t v, unsigned w)
{
    for (unsigned i = 0; i < w; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint64_t get_le(const uint8_t *p, unsigned w)
{
    uint64_t v = 0;
    for (unsigned i = w; i-- > 0;) {
        v = (v << 8) | p[i];
    }
    return v;
}

static unsigned uint_width(uint64_t v)
{
    return v <= UINT8_MAX ? 1 : v <= UINT16_MAX ? 2 : v <= UINT32_MAX ? 4 : 8;
}

static unsigned int_width(int64_t v)
{
    return (v >= INT8_MIN && v <= INT8_MAX)     ? 1
           : (v >= INT16_MIN && v <= INT16_MAX) ? 2
           : (v >= INT32_MIN && v <= INT32_MAX) ? 4
                                                : 8;
}

static unsigned id_width_code(uint32_t max_id)
{
    return max_id <= UINT8_MAX ? 0 : max_id <= UINT16_MAX ? 1 : 2;
}

static bool is_signed_type(cm_dtype t)
{
    return t == CM_DT_INT64 || t == CM_DT_TIME;
}

static bool is_unsigned_type(cm_dtype t)
{
    switch (t) {
    case CM_DT_UINT64:
    case CM_DT_DATE:
    case CM_DT_DATETIME:
    case CM_DT_TIMESTAMP:
    case CM_DT_YEAR:
    case CM_DT_ENUM:
    case CM_DT_SET:
    case CM_DT_BIT:
        return true;
    default:
        return false;
    }
}

/* The bytes of a non-NULL value: fixed-size ones are written into tmp, payloads are borrowed. */
static cm_slice value_bytes(const cm_datum *d, uint8_t tmp[VALUE_BYTES_MAX])
{
    if (is_signed_type(d->type)) {
        unsigned w = int_width(d->v.i64);
        put_le(tmp, (uint64_t)d->v.i64, w);
        return cm_slice_make(tmp, w);
    }
    if (is_unsigned_type(d->type)) {
        unsigned w = uint_width(d->v.u64);
        put_le(tmp, d->v.u64, w);
        return cm_slice_make(tmp, w);
    }
    switch (d->type) {
    case CM_DT_FLOAT64: {
        uint64_t u;
        memcpy(&u, &d->v.f64, 8);
        put_le(tmp, u, 8);
        return cm_slice_make(tmp, 8);
    }
    case CM_DT_FLOAT32: {
        float f = (float)d->v.f64;
        uint32_t u;
        memcpy(&u, &f, 4);
        put_le(tmp, u, 4);
        return cm_slice_make(tmp, 4);
    }
    case CM_DT_DECIMAL:
        tmp[0] = d->v.dec.frac;
        return cm_slice_make(tmp, 1 + cm_decimal_put_key(&d->v.dec, tmp + 1));
    case CM_DT_BYTES:
    case CM_DT_STRING:
    case CM_DT_JSON:
        return d->v.bytes;
    default:
        CM_PANIC("row value of type %s", cm_dtype_name(d->type));
    }
}

/* Order of the header: values before NULLs, each part by id. */
static int cmp_cell_ptr(const void *a, const void *b)
{
    const cm_row_cell *x = *(const cm_row_cell *const *)a;
    const cm_row_cell *y = *(const cm_row_cell *const *)b;
    int xn = x->value.type == CM_DT_NULL, yn = y->value.type == CM_DT_NULL;
    if (xn != yn) {
        return xn - yn;
    }
    return x->id < y->id ? -1 : (x->id > y->id ? 1 : 0);
}

/* Sorts pointers to cells[0..n) into header order; *n_values gets the non-NULL count. Fails on a
 * duplicate id (within a part: neighbours; across parts: a merge walk). */
static int sort_cells(const cm_row_cell *cells, size_t n, const cm_row_cell **sorted,
                      size_t *n_values, cm_err *err)
{
    size_t nv = 0;
    for (size_t i = 0; i < n; i++) {
        sorted[i] = &cells[i];
        nv += cells[i].value.type != CM_DT_NULL;
    }
    if (n > 1) {
        qsort(sorted, n, sizeof(sorted[0]), cmp_cell_ptr);
    }
    uint32_t dup = 0;
    bool has_dup = false;
    for (size_t i = 1; i < n && !has_dup; i++) {
        if (i != nv && sorted[i]->id == sorted[i - 1]->id) {
            has_dup = true;
            dup = sorted[i]->id;
        }
    }
    for (size_t a = 0, b = nv; a < nv && b < n && !has_dup;) {
        if (sorted[a]->id == sorted[b]->id) {
            has_dup = true;
            dup = sorted[a]->id;
        }
        sorted[a]->id < sorted[b]->id ? a++ : b++;
    }
    if (has_dup) {
        return cm_err_set(err, CM_E_INVALID, "row: column id %u given twice", dup);
    }
    *n_values = nv;
    return 0;
}

/* Writes the header and values of cells already sorted into header order. */
static int write_row(cm_buf *out, const cm_row_cell *const *sorted, size_t n, size_t nv,
                     uint32_t max_id, cm_err *err)
{
    uint8_t tmp[VALUE_BYTES_MAX];
    uint64_t data_len = 0;
    for (size_t i = 0; i < nv; i++) {
        data_len += value_bytes(&sorted[i]->value, tmp).len;
    }
    if (data_len > UINT32_MAX) {
        return cm_err_set(err, CM_E_TOO_LARGE, "row: %llu bytes of values",
                          (unsigned long long)data_len);
    }
    int rc;
    unsigned id_code = id_width_code(max_id);
    unsigned iw = id_widths[id_code];
    unsigned ow = data_len > UINT16_MAX ? 4 : 2;
    size_t header = CM_ROW_HEADER_BYTES + iw * n + ow * nv;
    rc = cm_buf_reserve(out, header + (size_t)data_len);
    if (rc != 0) {
        return cm_err_set(err, rc, "row: no memory for %zu bytes", header + (size_t)data_len);
    }
    uint8_t *p = out->ptr + out->len;
    p[0] = CM_ROW_VERSION;
    p[1] = (uint8_t)(id_code | (ow == 4 ? FLAG_WIDE_OFFS : 0));
    put_le(p + 2, nv, 2);
    put_le(p + 4, n - nv, 2);
    uint8_t *ids = p + CM_ROW_HEADER_BYTES;
    uint8_t *offs = ids + iw * n;
    uint8_t *data = offs + ow * nv;
    for (size_t i = 0; i < n; i++) {
        put_le(ids + iw * i, sorted[i]->id, iw);
    }
    size_t end = 0;
    for (size_t i = 0; i < nv; i++) {
        cm_slice v = value_bytes(&sorted[i]->value, tmp);
        if (v.len > 0) {
            memcpy(data + end, v.ptr, v.len);
        }
        end += v.len;
        put_le(offs + ow * i, end, ow);
    }
    CM_ASSERT(end == data_len);
    out->len += header + end;
    return 0;
}

int cm_row_encode(cm_buf *out, const cm_row_cell *cells, size_t n, cm_err *err)
{
    if (n > CM_ROW_COLS_MAX) {
        return cm_err_set(err, CM_E_INVALID, "row: %zu columns, at most %d", n, CM_ROW_COLS_MAX);
    }
    uint32_t max_id = 0;
    for (size_t i = 0; i < n; i++) {
        const cm_datum *d = &cells[i].value;
        if ((unsigned)d->type >= CM_DT_COUNT_ || !cm_datum_valid(d)) {
            return cm_err_set(err, CM_E_INVALID, "row: column %u: %s value outside its domain",
                              cells[i].id, cm_dtype_name(d->type));
        }
        max_id = cells[i].id > max_id ? cells[i].id : max_id;
    }
    /* Pointers in header order: on the stack for ordinary rows, on the heap for wide ones. */
    const cm_row_cell *small[64];
    const cm_row_cell **sorted = small;
    if (n > CM_ARRAY_LEN(small)) {
        sorted = malloc(n * sizeof(*sorted));
        if (sorted == NULL) {
            return cm_err_set(err, CM_E_NOMEM, "row: no memory to sort %zu columns", n);
        }
    }
    size_t nv = 0;
    int rc = sort_cells(cells, n, sorted, &nv, err);
    if (rc == 0) {
        rc = write_row(out, sorted, n, nv, max_id, err);
    }
    if (sorted != small) {
        free(sorted);
    }
    return rc;
}

/* ---- reading ------------------------------------------------------------------------------ */

static uint32_t view_id(const cm_row_view *v, size_t i)
{
    return (uint32_t)get_le(v->ids + (size_t)v->id_width * i, v->id_width);
}

static size_t view_end(const cm_row_view *v, size_t i)
{
    return (size_t)get_le(v->offs + (size_t)v->off_width * i, v->off_width);
}

static int corrupt(cm_err *err, const char *why)
{
    return cm_err_set(err, CM_E_CORRUPT, "row: %s", why);
}

int cm_row_view_init(cm_row_view *v, cm_slice row, cm_err *err)
{
    const uint8_t *p = row.ptr;
    if (row.len < CM_ROW_HEADER_BYTES) {
        return corrupt(err, "shorter than its header");
    }
    if (p[0] != CM_ROW_VERSION) {
        return cm_err_set(err, CM_E_CORRUPT, "row: unknown version %u", p[0]);
    }
    if ((p[1] & ~FLAG_KNOWN_BITS) != 0 || (p[1] & FLAG_ID_MASK) > 2) {
        return cm_err_set(err, CM_E_CORRUPT, "row: bad flags 0x%02x", p[1]);
    }
    v->row = row;
    v->id_width = id_widths[p[1] & FLAG_ID_MASK];
    v->off_width = (p[1] & FLAG_WIDE_OFFS) ? 4 : 2;
    v->n_values = (uint32_t)get_le(p + 2, 2);
    v->n_nulls = (uint32_t)get_le(p + 4, 2);
    size_t n = (size_t)v->n_values + v->n_nulls;
    if (n > CM_ROW_COLS_MAX) {
        return cm_err_set(err, CM_E_CORRUPT, "row: %zu columns, at most %d", n, CM_ROW_COLS_MAX);
    }
    size_t header = CM_ROW_HEADER_BYTES + v->id_width * n + (size_t)v->off_width * v->n_values;
    if (row.len < header) {
        return corrupt(err, "truncated header");
    }
    v->ids = p + CM_ROW_HEADER_BYTES;
    v->offs = v->ids + v->id_width * n;
    v->data = p + header;
    v->data_len = row.len - header;
    /* Ids ascend within each list, and no id is in both (merge walk). */
    uint32_t max_id = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t id = view_id(v, i);
        max_id = id > max_id ? id : max_id;
        if (i != 0 && i != v->n_values && id <= view_id(v, i - 1)) {
            return corrupt(err, "column ids out of order");
        }
    }
    for (size_t a = 0, b = v->n_values; a < v->n_values && b < n;) {
        uint32_t x = view_id(v, a), y = view_id(v, b);
        if (x == y) {
            return cm_err_set(err, CM_E_CORRUPT, "row: column %u both NULL and not", x);
        }
        x < y ? a++ : b++;
    }
    if (v->id_width != id_widths[id_width_code(max_id)]) {
        return corrupt(err, "id width is not the smallest");
    }
    /* Offsets never go back and end with the data. */
    size_t prev = 0;
    for (size_t i = 0; i < v->n_values; i++) {
        size_t end = view_end(v, i);
        if (end < prev) {
            return corrupt(err, "value offsets go back");
        }
        prev = end;
    }
    if (prev != v->data_len) {
        return cm_err_set(err, CM_E_CORRUPT, "row: values end at %zu but data is %zu bytes", prev,
                          v->data_len);
    }
    if ((v->off_width == 4) != (v->data_len > UINT16_MAX)) {
        return corrupt(err, "offset width is not the smallest");
    }
    return 0;
}

/* Binary search for id among ids [lo, hi); returns the index or -1. */
static long search(const cm_row_view *v, size_t lo, size_t hi, uint32_t id)
{
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint32_t x = view_id(v, mid);
        if (x == id) {
            return (long)mid;
        }
        if (x < id) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return -1;
}

cm_row_presence cm_row_view_find(const cm_row_view *v, uint32_t id, cm_slice *value)
{
    long i = search(v, 0, v->n_values, id);
    if (i >= 0) {
        if (value != NULL) {
            size_t start = i == 0 ? 0 : view_end(v, (size_t)i - 1);
            *value = cm_slice_make(v->data + start, view_end(v, (size_t)i) - start);
        }
        return CM_ROW_VALUE;
    }
    if (search(v, v->n_values, (size_t)v->n_values + v->n_nulls, id) >= 0) {
        return CM_ROW_NULL;
    }
    return CM_ROW_ABSENT;
}

size_t cm_row_view_count(const cm_row_view *v)
{
    return (size_t)v->n_values + v->n_nulls;
}

void cm_row_view_column(const cm_row_view *v, size_t i, uint32_t *id, bool *is_null)
{
    CM_ASSERT(i < cm_row_view_count(v));
    *id = view_id(v, i);
    *is_null = i >= v->n_values;
}

static int decode_decimal(cm_slice value, cm_decimal *out, cm_err *err)
{
    if (value.len < 2) {
        return corrupt(err, "decimal value truncated");
    }
    unsigned frac = value.ptr[0];
    cm_reader r;
    cm_reader_init(&r, value.ptr + 1, value.len - 1);
    int rc = cm_decimal_read_key(&r, out, err);
    if (rc != 0) {
        return rc;
    }
    if (cm_reader_left(&r) != 0) {
        return corrupt(err, "bytes after a decimal value");
    }
    if (frac < out->frac || frac > CM_DECIMAL_FRAC_MAX ||
        out->intg + frac > CM_DECIMAL_DIGITS_MAX) {
        return cm_err_set(err, CM_E_CORRUPT, "row: decimal scale %u does not fit its value", frac);
    }
    rc = cm_decimal_round(out, frac, out, err); /* only extends with zeros here */
    CM_ASSERT(rc == 0);
    return rc;
}

int cm_row_value_decode(cm_dtype t, cm_slice value, cm_datum *out, cm_err *err)
{
    out->type = t;
    if (is_signed_type(t) || is_unsigned_type(t)) {
        size_t w = value.len;
        if (w != 1 && w != 2 && w != 4 && w != 8) {
            return cm_err_set(err, CM_E_CORRUPT, "row: %zu-byte %s value", w, cm_dtype_name(t));
        }
        uint64_t u = get_le(value.ptr, (unsigned)w);
        if (is_signed_type(t)) {
            int shift = 64 - 8 * (int)w; /* sign-extend from w bytes */
            out->v.i64 = (int64_t)(u << shift) >> shift;
            if (int_width(out->v.i64) != w) {
                return corrupt(err, "integer not in its smallest width");
            }
        } else {
            out->v.u64 = u;
            if (uint_width(u) != w) {
                return corrupt(err, "integer not in its smallest width");
            }
        }
    } else {
        switch (t) {
        case CM_DT_FLOAT64: {
            if (value.len != 8) {
                return corrupt(err, "float64 value is not 8 bytes");
            }
            uint64_t u = get_le(value.ptr, 8);
            memcpy(&out->v.f64, &u, 8);
            break;
        }
        case CM_DT_FLOAT32: {
            if (value.len != 4) {
                return corrupt(err, "float32 value is not 4 bytes");
            }
            uint32_t u = (uint32_t)get_le(value.ptr, 4);
            float f;
            memcpy(&f, &u, 4);
            out->v.f64 = f;
            break;
        }
        case CM_DT_DECIMAL: {
            int rc = decode_decimal(value, &out->v.dec, err);
            if (rc != 0) {
                return rc;
            }
            break;
        }
        case CM_DT_BYTES:
        case CM_DT_STRING:
        case CM_DT_JSON:
            out->v.bytes = value.len > 0 ? value : cm_slice_make("", 0);
            break;
        default:
            return cm_err_set(err, CM_E_CORRUPT, "row: no value encoding for type %d", (int)t);
        }
    }
    if (!cm_datum_valid(out)) {
        return cm_err_set(err, CM_E_CORRUPT, "row: %s value outside its domain", cm_dtype_name(t));
    }
    return 0;
}

int cm_row_decode(cm_slice row, const cm_row_col *cols, size_t n, cm_datum *out, bool *present,
                  cm_err *err)
{
    cm_row_view v;
    int rc = cm_row_view_init(&v, row, err);
    if (rc != 0) {
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        cm_slice value;
        cm_row_presence p = cm_row_view_find(&v, cols[i].id, &value);
        if (present != NULL) {
            present[i] = p != CM_ROW_ABSENT;
        }
        if (p != CM_ROW_VALUE) {
            out[i] = cm_datum_null();
            continue;
        }
        rc = cm_row_value_decode(cols[i].type, value, &out[i], err);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}
