/* cm_keys.c — key layouts of the KV store; see cm_keys.h and docs/codec.md. */
#include "cm_keys.h"
#include "cm_assert.h"

#include <string.h>

#define TABLE_PREFIX   't'
#define META_PREFIX    'm'
#define ROW_SEP_0      '_'
#define ROW_SEP_1      'r'
#define INDEX_SEP_1    'i'
#define TABLE_ID_END   CM_KEYS_TABLE_PREFIX_LEN /* offset of the "_r" / "_i" separator */
#define INDEX_ID_BEGIN (CM_KEYS_TABLE_PREFIX_LEN + 2)

/* Runs the appends of one key; on any failure puts b back to its length on entry. */
#define APPEND_ALL(b, expr)                                                                        \
    do {                                                                                           \
        size_t len0_ = (b)->len;                                                                   \
        int rc_ = (expr);                                                                          \
        if (rc_ != 0) {                                                                            \
            (b)->len = len0_;                                                                      \
        }                                                                                          \
        return rc_;                                                                                \
    } while (0)

static int table_prefix(cm_buf *b, int64_t table_id)
{
    int rc = cm_buf_append_u8(b, TABLE_PREFIX);
    return rc ? rc : cm_codec_append_int64(b, table_id);
}

static int sep(cm_buf *b, uint8_t c)
{
    uint8_t s[2] = {ROW_SEP_0, c};
    return cm_buf_append(b, s, 2);
}

static int row_prefix(cm_buf *b, int64_t table_id)
{
    int rc = table_prefix(b, table_id);
    return rc ? rc : sep(b, ROW_SEP_1);
}

static int index_prefix(cm_buf *b, int64_t table_id, int64_t index_id)
{
    int rc = table_prefix(b, table_id);
    rc = rc ? rc : sep(b, INDEX_SEP_1);
    return rc ? rc : cm_codec_append_int64(b, index_id);
}

int cm_keys_append_table_prefix(cm_buf *b, int64_t table_id)
{
    APPEND_ALL(b, table_prefix(b, table_id));
}

int cm_keys_append_row_prefix(cm_buf *b, int64_t table_id)
{
    APPEND_ALL(b, row_prefix(b, table_id));
}

static int row_key(cm_buf *b, int64_t table_id, int64_t handle)
{
    int rc = row_prefix(b, table_id);
    return rc ? rc : cm_codec_append_int64(b, handle);
}

int cm_keys_append_row(cm_buf *b, int64_t table_id, int64_t handle)
{
    APPEND_ALL(b, row_key(b, table_id, handle));
}

int cm_keys_append_index_prefix(cm_buf *b, int64_t table_id, int64_t index_id)
{
    APPEND_ALL(b, index_prefix(b, table_id, index_id));
}

bool cm_keys_index_has_handle(bool unique, const cm_datum *vals, size_t n)
{
    if (!unique) {
        return true;
    }
    for (size_t i = 0; i < n; i++) {
        if (vals[i].type == CM_DT_NULL) {
            return true;
        }
    }
    return false;
}

int cm_keys_append_index(cm_buf *b, int64_t table_id, int64_t index_id, const cm_datum *vals,
                         size_t n, bool unique, int64_t handle, bool *handle_in_key, cm_err *err)
{
    size_t len0 = b->len;
    bool with_handle = cm_keys_index_has_handle(unique, vals, n);
    int rc = index_prefix(b, table_id, index_id);
    if (rc == 0) {
        rc = cm_codec_encode_datums(b, vals, n, err);
    }
    if (rc == 0 && with_handle) {
        cm_datum h = cm_datum_int64(handle);
        rc = cm_codec_encode_datum(b, &h, err);
    }
    if (rc != 0) {
        b->len = len0;
        if (rc == CM_E_NOMEM) {
            cm_err_set(err, rc, "index key: out of memory");
        }
        return rc;
    }
    if (handle_in_key != NULL) {
        *handle_in_key = with_handle;
    }
    return 0;
}

/* ---- decoding ----------------------------------------------------------------------------- */

cm_key_kind cm_keys_kind(cm_slice key)
{
    if (key.len >= CM_KEYS_TABLE_PREFIX_LEN + 2 && key.ptr[0] == TABLE_PREFIX &&
        key.ptr[TABLE_ID_END] == ROW_SEP_0) {
        if (key.ptr[TABLE_ID_END + 1] == ROW_SEP_1) {
            return CM_KEY_ROW;
        }
        if (key.ptr[TABLE_ID_END + 1] == INDEX_SEP_1) {
            return CM_KEY_INDEX;
        }
    }
    if (key.len >= 1 && key.ptr[0] == META_PREFIX) {
        return CM_KEY_META;
    }
    return CM_KEY_OTHER;
}

static int64_t get_int64(const uint8_t *p)
{
    cm_reader r;
    int64_t v = 0;
    cm_reader_init(&r, p, 8);
    int rc = cm_codec_read_int64(&r, &v, NULL);
    CM_ASSERT(rc == 0);
    (void)rc;
    return v;
}

int cm_keys_decode_table_id(cm_slice key, int64_t *table_id, cm_err *err)
{
    if (key.len < CM_KEYS_TABLE_PREFIX_LEN || key.ptr[0] != TABLE_PREFIX) {
        return cm_err_set(err, CM_E_CORRUPT, "not a table key (length %zu)", key.len);
    }
    *table_id = get_int64(key.ptr + 1);
    return 0;
}

int cm_keys_decode_row(cm_slice key, int64_t *table_id, int64_t *handle, cm_err *err)
{
    if (key.len != CM_KEYS_ROW_LEN || cm_keys_kind(key) != CM_KEY_ROW) {
        return cm_err_set(err, CM_E_CORRUPT, "not a row key (length %zu)", key.len);
    }
    *table_id = get_int64(key.ptr + 1);
    *handle = get_int64(key.ptr + CM_KEYS_ROW_PREFIX_LEN);
    return 0;
}

int cm_keys_decode_index(cm_slice key, int64_t *table_id, int64_t *index_id, cm_slice *values,
                         cm_err *err)
{
    if (key.len < CM_KEYS_INDEX_PREFIX_LEN || cm_keys_kind(key) != CM_KEY_INDEX) {
        return cm_err_set(err, CM_E_CORRUPT, "not an index key (length %zu)", key.len);
    }
    *table_id = get_int64(key.ptr + 1);
    *index_id = get_int64(key.ptr + INDEX_ID_BEGIN);
    *values = cm_slice_make(key.ptr + CM_KEYS_INDEX_PREFIX_LEN, key.len - CM_KEYS_INDEX_PREFIX_LEN);
    return 0;
}

int cm_keys_decode_index_values(cm_slice values, size_t ncols, cm_arena *arena, cm_datum *out,
                                bool *has_handle, int64_t *handle, cm_err *err)
{
    cm_reader r;
    cm_reader_init(&r, values.ptr, values.len);
    for (size_t i = 0; i < ncols; i++) {
        int rc = cm_codec_decode_datum(&r, arena, &out[i], err);
        if (rc != 0) {
            return rc;
        }
    }
    if (cm_reader_left(&r) == 0) {
        *has_handle = false;
        return 0;
    }
    size_t at = r.pos;
    cm_datum h;
    int rc = cm_codec_decode_datum(&r, arena, &h, err);
    if (rc != 0) {
        return rc;
    }
    if (h.type != CM_DT_INT64) {
        return cm_err_set(err, CM_E_CORRUPT, "index key: %s datum after %zu values at offset %zu",
                          cm_dtype_name(h.type), ncols, at);
    }
    if (cm_reader_left(&r) != 0) {
        return cm_err_set(err, CM_E_CORRUPT, "index key: %zu stray bytes after the handle",
                          cm_reader_left(&r));
    }
    *has_handle = true;
    *handle = h.v.i64;
    return 0;
}

/* ---- ranges ------------------------------------------------------------------------------- */

int cm_keys_prefix_next(cm_slice prefix, cm_buf *out)
{
    size_t n = prefix.len;
    while (n > 0 && prefix.ptr[n - 1] == 0xFF) {
        n--;
    }
    if (n == 0) {
        return 0; /* no key is greater than every key with this prefix: unbounded */
    }
    size_t len0 = out->len;
    int rc = cm_buf_append(out, prefix.ptr, n);
    if (rc != 0) {
        return rc;
    }
    out->ptr[len0 + n - 1]++;
    return 0;
}

/* start = the prefix built by the caller in start (from len0 on); end = its successor. */
static int range_from_prefix(cm_buf *start, size_t len0, cm_buf *end)
{
    cm_slice p = cm_slice_make(start->ptr + len0, start->len - len0);
    int rc = cm_keys_prefix_next(p, end);
    if (rc != 0) {
        start->len = len0;
    }
    return rc;
}

int cm_keys_table_range(int64_t table_id, cm_buf *start, cm_buf *end)
{
    size_t len0 = start->len;
    int rc = cm_keys_append_table_prefix(start, table_id);
    return rc ? rc : range_from_prefix(start, len0, end);
}

int cm_keys_rows_range(int64_t table_id, cm_buf *start, cm_buf *end)
{
    size_t len0 = start->len;
    int rc = cm_keys_append_row_prefix(start, table_id);
    return rc ? rc : range_from_prefix(start, len0, end);
}

int cm_keys_index_range(int64_t table_id, int64_t index_id, cm_buf *start, cm_buf *end)
{
    size_t len0 = start->len;
    int rc = cm_keys_append_index_prefix(start, table_id, index_id);
    return rc ? rc : range_from_prefix(start, len0, end);
}

int cm_keys_index_prefix_range(int64_t table_id, int64_t index_id, const cm_datum *vals, size_t n,
                               cm_buf *start, cm_buf *end, cm_err *err)
{
    size_t len0 = start->len;
    int rc = index_prefix(start, table_id, index_id);
    if (rc == 0) {
        rc = cm_codec_encode_datums(start, vals, n, err);
    }
    if (rc != 0) {
        start->len = len0;
        return rc;
    }
    return range_from_prefix(start, len0, end);
}

/* ---- metadata ----------------------------------------------------------------------------- */

static int meta_prefix(cm_buf *b, cm_slice name, cm_meta_kind kind)
{
    int rc = cm_buf_append_u8(b, META_PREFIX);
    rc = rc ? rc : cm_codec_append_bytes(b, name);
    return rc ? rc : cm_buf_append_u8(b, (uint8_t)kind);
}

int cm_keys_append_meta_string(cm_buf *b, cm_slice name)
{
    APPEND_ALL(b, meta_prefix(b, name, CM_META_STRING));
}

static int meta_hash_field(cm_buf *b, cm_slice name, cm_slice field)
{
    int rc = meta_prefix(b, name, CM_META_HASH);
    return rc ? rc : cm_codec_append_bytes(b, field);
}

int cm_keys_append_meta_hash_field(cm_buf *b, cm_slice name, cm_slice field)
{
    APPEND_ALL(b, meta_hash_field(b, name, field));
}

static int meta_list_item(cm_buf *b, cm_slice name, int64_t index)
{
    int rc = meta_prefix(b, name, CM_META_LIST);
    return rc ? rc : cm_codec_append_int64(b, index);
}

int cm_keys_append_meta_list_item(cm_buf *b, cm_slice name, int64_t index)
{
    APPEND_ALL(b, meta_list_item(b, name, index));
}

int cm_keys_append_meta_prefix(cm_buf *b, cm_slice name, cm_meta_kind kind)
{
    APPEND_ALL(b, meta_prefix(b, name, kind));
}

/* Reads a bytes body into out, or only validates it when out is NULL. */
static int read_or_skip_bytes(cm_reader *r, cm_buf *out, cm_err *err)
{
    return out != NULL ? cm_codec_read_bytes(r, out, err) : cm_codec_skip_bytes(r, NULL, err);
}

int cm_keys_decode_meta(cm_slice key, cm_meta_kind *kind, cm_buf *name, cm_buf *field,
                        int64_t *index, cm_err *err)
{
    cm_reader r;
    cm_reader_init(&r, key.ptr, key.len);
    if (key.len == 0 || key.ptr[0] != META_PREFIX) {
        return cm_err_set(err, CM_E_CORRUPT, "not a metadata key (length %zu)", key.len);
    }
    r.pos = 1;
    int rc = read_or_skip_bytes(&r, name, err);
    if (rc != 0) {
        return rc;
    }
    uint8_t k = 0;
    if (cm_reader_u8(&r, &k) != 0) {
        return cm_err_set(err, CM_E_CORRUPT, "metadata key: no kind byte after the name");
    }
    switch (k) {
    case CM_META_STRING:
        break;
    case CM_META_HASH:
        rc = read_or_skip_bytes(&r, field, err);
        break;
    case CM_META_LIST: {
        int64_t i = 0;
        rc = cm_codec_read_int64(&r, &i, err);
        if (rc == 0 && index != NULL) {
            *index = i;
        }
        break;
    }
    default:
        return cm_err_set(err, CM_E_CORRUPT, "metadata key: unknown kind 0x%02x", k);
    }
    if (rc != 0) {
        return rc;
    }
    if (cm_reader_left(&r) != 0) {
        return cm_err_set(err, CM_E_CORRUPT, "metadata key: %zu stray bytes at the end",
                          cm_reader_left(&r));
    }
    *kind = (cm_meta_kind)k;
    return 0;
}

/* ---- MVCC --------------------------------------------------------------------------------- */

static int mvcc_key(cm_buf *b, cm_slice user_key, uint64_t ts)
{
    int rc = cm_codec_append_bytes(b, user_key);
    return rc ? rc : cm_buf_append_u64be(b, ~ts);
}

int cm_keys_append_mvcc(cm_buf *b, cm_slice user_key, uint64_t ts)
{
    APPEND_ALL(b, mvcc_key(b, user_key, ts));
}

int cm_keys_append_mvcc_prefix(cm_buf *b, cm_slice user_key)
{
    return cm_codec_append_bytes(b, user_key);
}

int cm_keys_split_mvcc(cm_slice key, cm_slice *encoded_user_key, uint64_t *ts, cm_err *err)
{
    cm_reader r;
    cm_reader_init(&r, key.ptr, key.len);
    int rc = cm_codec_skip_bytes(&r, NULL, err);
    if (rc != 0) {
        return rc;
    }
    if (cm_reader_left(&r) != CM_KEYS_MVCC_TS_LEN) {
        return cm_err_set(err, CM_E_CORRUPT, "MVCC key: %zu bytes after the user key, want %d",
                          cm_reader_left(&r), CM_KEYS_MVCC_TS_LEN);
    }
    uint64_t inv = 0;
    rc = cm_reader_u64be(&r, &inv);
    CM_ASSERT(rc == 0);
    *encoded_user_key = cm_slice_make(key.ptr, r.pos - CM_KEYS_MVCC_TS_LEN);
    *ts = ~inv;
    return 0;
}

int cm_keys_decode_mvcc(cm_slice key, cm_buf *user_key, uint64_t *ts, cm_err *err)
{
    cm_slice enc;
    uint64_t t;
    int rc = cm_keys_split_mvcc(key, &enc, &t, err);
    if (rc != 0) {
        return rc;
    }
    cm_reader r;
    cm_reader_init(&r, enc.ptr, enc.len);
    rc = cm_codec_read_bytes(&r, user_key, err);
    if (rc != 0) {
        return rc;
    }
    *ts = t;
    return 0;
}
