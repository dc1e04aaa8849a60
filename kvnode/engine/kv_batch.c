/* kv_batch.c — write batches and their wire form; see kv_batch.h. */
#include "kv_batch.h"

#include "cm_assert.h"

#include <string.h>

#define BATCH_VERSION 1

static const char *const cf_names[KV_CF_COUNT] = {"default", "lock", "write", "raft"};

const char *kv_cf_name(kv_cf cf)
{
    return (unsigned)cf < KV_CF_COUNT ? cf_names[cf] : "?";
}

void kv_batch_init(kv_batch *b)
{
    cm_buf_init(&b->data);
    b->count = 0;
}

void kv_batch_fini(kv_batch *b)
{
    cm_buf_fini(&b->data);
    b->count = 0;
}

void kv_batch_clear(kv_batch *b)
{
    cm_buf_reset(&b->data);
    b->count = 0;
}

size_t kv_batch_size(const kv_batch *b)
{
    return b->data.len ? b->data.len : 1;
}

static size_t uvarint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Appends one operation; a and second are key/value (or start/end). */
static int append_op(kv_batch *b, kv_batch_op op, kv_cf cf, cm_slice a, int with_second,
                     cm_slice second)
{
    if ((unsigned)cf >= KV_CF_COUNT || a.len > KV_KEY_BYTES_MAX) {
        return CM_E_INVALID;
    }
    if (op == KV_BATCH_PUT && second.len > KV_VALUE_BYTES_MAX) {
        return CM_E_INVALID;
    }
    if (op == KV_BATCH_DELETE_RANGE &&
        (second.len > KV_KEY_BYTES_MAX || cm_slice_cmp(a, second) >= 0)) {
        return CM_E_INVALID;
    }
    size_t need = 2 + uvarint_len(a.len) + a.len;
    if (with_second) {
        need += uvarint_len(second.len) + second.len;
    }
    size_t have = b->data.len ? b->data.len : 1;
    if (need > KV_BATCH_BYTES_MAX || have > KV_BATCH_BYTES_MAX - need) {
        return CM_E_TOO_LARGE;
    }
    size_t old_len = b->data.len;
    int rc = cm_buf_reserve(&b->data, need + (old_len ? 0 : 1));
    if (rc != 0) {
        return rc;
    }
    /* Cannot fail any more: the room is reserved. */
    if (old_len == 0) {
        cm_buf_append_u8(&b->data, BATCH_VERSION);
    }
    cm_buf_append_u8(&b->data, (uint8_t)op);
    cm_buf_append_u8(&b->data, (uint8_t)cf);
    cm_buf_append_uvarint(&b->data, a.len);
    cm_buf_append_slice(&b->data, a);
    if (with_second) {
        cm_buf_append_uvarint(&b->data, second.len);
        cm_buf_append_slice(&b->data, second);
    }
    b->count++;
    return 0;
}

int kv_batch_put(kv_batch *b, kv_cf cf, cm_slice key, cm_slice value)
{
    return append_op(b, KV_BATCH_PUT, cf, key, 1, value);
}

int kv_batch_delete(kv_batch *b, kv_cf cf, cm_slice key)
{
    return append_op(b, KV_BATCH_DELETE, cf, key, 0, cm_slice_make(NULL, 0));
}

int kv_batch_delete_range(kv_batch *b, kv_cf cf, cm_slice start, cm_slice end)
{
    return append_op(b, KV_BATCH_DELETE_RANGE, cf, start, 1, end);
}

int kv_batch_append(kv_batch *dst, const kv_batch *src)
{
    if (src->data.len <= 1) {
        return 0;
    }
    size_t body = src->data.len - 1;
    size_t have = dst->data.len ? dst->data.len : 1;
    if (have > KV_BATCH_BYTES_MAX - body) {
        return CM_E_TOO_LARGE;
    }
    int rc = cm_buf_reserve(&dst->data, body + 1);
    if (rc != 0) {
        return rc;
    }
    if (dst->data.len == 0) {
        cm_buf_append_u8(&dst->data, BATCH_VERSION);
    }
    cm_buf_append(&dst->data, src->data.ptr + 1, body);
    dst->count += src->count;
    return 0;
}

kv_batch_mark kv_batch_mark_get(const kv_batch *b)
{
    kv_batch_mark m = {b->data.len, b->count};
    return m;
}

void kv_batch_rewind(kv_batch *b, kv_batch_mark m)
{
    CM_ASSERT(m.len <= b->data.len);
    CM_ASSERT(m.count <= b->count);
    b->data.len = m.len;
    b->count = m.count;
}

static const uint8_t empty_wire[1] = {BATCH_VERSION};

cm_slice kv_batch_data(const kv_batch *b)
{
    if (b->data.len == 0) {
        return cm_slice_make(empty_wire, 1);
    }
    return cm_buf_slice(&b->data);
}

/* Reads a length-prefixed byte string no longer than max. */
static int read_bytes(cm_reader *r, size_t max, cm_slice *out)
{
    uint64_t n;
    if (cm_reader_uvarint(r, &n) != 0 || n > max || n > cm_reader_left(r)) {
        return CM_E_CORRUPT;
    }
    return cm_reader_bytes(r, (size_t)n, out);
}

/* Decodes the next operation, validating it. Returns 1 with *e, 0 at the end, or CM_E_CORRUPT. */
static int decode_op(cm_reader *r, kv_batch_entry *e)
{
    if (cm_reader_left(r) == 0) {
        return 0;
    }
    uint8_t op, cf;
    if (cm_reader_u8(r, &op) != 0 || cm_reader_u8(r, &cf) != 0) {
        return CM_E_CORRUPT;
    }
    if (op < KV_BATCH_PUT || op > KV_BATCH_DELETE_RANGE || cf >= KV_CF_COUNT) {
        return CM_E_CORRUPT;
    }
    e->op = (kv_batch_op)op;
    e->cf = (kv_cf)cf;
    e->value = cm_slice_make(NULL, 0);
    if (read_bytes(r, KV_KEY_BYTES_MAX, &e->key) != 0) {
        return CM_E_CORRUPT;
    }
    if (op == KV_BATCH_PUT) {
        if (read_bytes(r, KV_VALUE_BYTES_MAX, &e->value) != 0) {
            return CM_E_CORRUPT;
        }
    } else if (op == KV_BATCH_DELETE_RANGE) {
        if (read_bytes(r, KV_KEY_BYTES_MAX, &e->value) != 0 ||
            cm_slice_cmp(e->key, e->value) >= 0) {
            return CM_E_CORRUPT;
        }
    }
    return 1;
}

int kv_batch_load(kv_batch *b, cm_slice wire, cm_err *err)
{
    kv_batch_clear(b);
    if (wire.len == 0 || wire.len > KV_BATCH_BYTES_MAX) {
        return cm_err_set(err, CM_E_CORRUPT, "write batch: bad length %zu", wire.len);
    }
    if (wire.ptr[0] != BATCH_VERSION) {
        return cm_err_set(err, CM_E_CORRUPT, "write batch: unknown version %u", wire.ptr[0]);
    }
    cm_reader r;
    cm_reader_init(&r, wire.ptr + 1, wire.len - 1);
    size_t count = 0;
    for (;;) {
        kv_batch_entry e;
        size_t at = r.pos;
        int rc = decode_op(&r, &e);
        if (rc == 0) {
            break;
        }
        if (rc < 0) {
            return cm_err_set(err, CM_E_CORRUPT, "write batch: bad operation at byte %zu", at + 1);
        }
        count++;
    }
    if (wire.len == 1) {
        return 0;
    }
    int rc = cm_buf_append_slice(&b->data, wire);
    if (rc != 0) {
        return cm_err_set(err, rc, "write batch: out of memory");
    }
    b->count = count;
    return 0;
}

void kv_batch_iter(const kv_batch *b, kv_batch_cursor *c)
{
    if (b->data.len <= 1) {
        cm_reader_init(&c->r, NULL, 0);
    } else {
        cm_reader_init(&c->r, b->data.ptr + 1, b->data.len - 1);
    }
}

int kv_batch_next(kv_batch_cursor *c, kv_batch_entry *e)
{
    int rc = decode_op(&c->r, e);
    /* The bytes were validated when they entered the batch. */
    CM_ASSERT(rc >= 0);
    return rc > 0;
}
