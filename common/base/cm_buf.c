/* cm_buf.c — see cm_buf.h. */
#include "cm_buf.h"
#include "cm_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cm_slice cm_slice_cstr(const char *s)
{
    return cm_slice_make(s, strlen(s));
}

int cm_slice_cmp(cm_slice a, cm_slice b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.ptr, b.ptr, n) : 0;
    if (c != 0) {
        return c < 0 ? -1 : 1;
    }
    return a.len < b.len ? -1 : (a.len > b.len ? 1 : 0);
}

int cm_slice_eq(cm_slice a, cm_slice b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

void cm_buf_init(cm_buf *b)
{
    b->ptr = NULL;
    b->len = 0;
    b->cap = 0;
}

void cm_buf_fini(cm_buf *b)
{
    free(b->ptr);
    cm_buf_init(b);
}

int cm_buf_reserve(cm_buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1) {
        return CM_E_NOMEM;
    }
    size_t need = b->len + extra + 1; /* +1: room for cm_buf_terminate */
    if (need <= b->cap) {
        return 0;
    }
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    }
    uint8_t *p = realloc(b->ptr, cap);
    if (p == NULL) {
        return CM_E_NOMEM;
    }
    b->ptr = p;
    b->cap = cap;
    return 0;
}

int cm_buf_append(cm_buf *b, const void *p, size_t n)
{
    if (n == 0) {
        return 0;
    }
    int rc = cm_buf_reserve(b, n);
    if (rc != 0) {
        return rc;
    }
    memcpy(b->ptr + b->len, p, n);
    b->len += n;
    return 0;
}

int cm_buf_append_slice(cm_buf *b, cm_slice s)
{
    return cm_buf_append(b, s.ptr, s.len);
}

int cm_buf_append_u8(cm_buf *b, uint8_t v)
{
    return cm_buf_append(b, &v, 1);
}

static int append_be(cm_buf *b, uint64_t v, int n)
{
    uint8_t t[8];
    for (int i = 0; i < n; i++) {
        t[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    }
    return cm_buf_append(b, t, (size_t)n);
}

static int append_le(cm_buf *b, uint64_t v, int n)
{
    uint8_t t[8];
    for (int i = 0; i < n; i++) {
        t[i] = (uint8_t)(v >> (8 * i));
    }
    return cm_buf_append(b, t, (size_t)n);
}

int cm_buf_append_u16be(cm_buf *b, uint16_t v)
{
    return append_be(b, v, 2);
}
int cm_buf_append_u32be(cm_buf *b, uint32_t v)
{
    return append_be(b, v, 4);
}
int cm_buf_append_u64be(cm_buf *b, uint64_t v)
{
    return append_be(b, v, 8);
}
int cm_buf_append_u16le(cm_buf *b, uint16_t v)
{
    return append_le(b, v, 2);
}
int cm_buf_append_u24le(cm_buf *b, uint32_t v)
{
    return append_le(b, v, 3);
}
int cm_buf_append_u32le(cm_buf *b, uint32_t v)
{
    return append_le(b, v, 4);
}
int cm_buf_append_u64le(cm_buf *b, uint64_t v)
{
    return append_le(b, v, 8);
}

int cm_buf_append_uvarint(cm_buf *b, uint64_t v)
{
    uint8_t t[10];
    int n = 0;
    while (v >= 0x80) {
        t[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    t[n++] = (uint8_t)v;
    return cm_buf_append(b, t, (size_t)n);
}

int cm_buf_vprintf(cm_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        return CM_E_INVALID;
    }
    int rc = cm_buf_reserve(b, (size_t)n + 1);
    if (rc != 0) {
        return rc;
    }
    vsnprintf((char *)b->ptr + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int cm_buf_printf(cm_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = cm_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int cm_buf_terminate(cm_buf *b)
{
    int rc = cm_buf_reserve(b, 0);
    if (rc != 0) {
        return rc;
    }
    b->ptr[b->len] = '\0';
    return 0;
}

uint8_t *cm_buf_detach(cm_buf *b, size_t *len_out)
{
    uint8_t *p = b->ptr;
    if (len_out != NULL) {
        *len_out = b->len;
    }
    cm_buf_init(b);
    return p;
}

static int read_be(cm_reader *r, int n, uint64_t *v)
{
    if (cm_reader_left(r) < (size_t)n) {
        return CM_E_CORRUPT;
    }
    uint64_t x = 0;
    for (int i = 0; i < n; i++) {
        x = (x << 8) | r->ptr[r->pos + (size_t)i];
    }
    r->pos += (size_t)n;
    *v = x;
    return 0;
}

static int read_le(cm_reader *r, int n, uint64_t *v)
{
    if (cm_reader_left(r) < (size_t)n) {
        return CM_E_CORRUPT;
    }
    uint64_t x = 0;
    for (int i = n - 1; i >= 0; i--) {
        x = (x << 8) | r->ptr[r->pos + (size_t)i];
    }
    r->pos += (size_t)n;
    *v = x;
    return 0;
}

int cm_reader_u8(cm_reader *r, uint8_t *v)
{
    if (cm_reader_left(r) < 1) {
        return CM_E_CORRUPT;
    }
    *v = r->ptr[r->pos++];
    return 0;
}

#define READER_FN(name, type, fn, n)                                                               \
    int name(cm_reader *r, type *v)                                                                \
    {                                                                                              \
        uint64_t x;                                                                                \
        int rc = fn(r, n, &x);                                                                     \
        if (rc == 0) {                                                                             \
            *v = (type)x;                                                                          \
        }                                                                                          \
        return rc;                                                                                 \
    }
READER_FN(cm_reader_u16be, uint16_t, read_be, 2)
READER_FN(cm_reader_u32be, uint32_t, read_be, 4)
READER_FN(cm_reader_u64be, uint64_t, read_be, 8)
READER_FN(cm_reader_u16le, uint16_t, read_le, 2)
READER_FN(cm_reader_u24le, uint32_t, read_le, 3)
READER_FN(cm_reader_u32le, uint32_t, read_le, 4)
READER_FN(cm_reader_u64le, uint64_t, read_le, 8)
#undef READER_FN

int cm_reader_uvarint(cm_reader *r, uint64_t *v)
{
    uint64_t x = 0;
    size_t pos = r->pos;
    for (int shift = 0; shift < 64; shift += 7) {
        if (pos >= r->len) {
            return CM_E_CORRUPT;
        }
        uint8_t c = r->ptr[pos++];
        if (shift == 63 && c > 1) {
            return CM_E_CORRUPT; /* overflows 64 bits */
        }
        x |= (uint64_t)(c & 0x7f) << shift;
        if ((c & 0x80) == 0) {
            r->pos = pos;
            *v = x;
            return 0;
        }
    }
    return CM_E_CORRUPT;
}

int cm_reader_bytes(cm_reader *r, size_t n, cm_slice *out)
{
    if (cm_reader_left(r) < n) {
        return CM_E_CORRUPT;
    }
    out->ptr = r->ptr + r->pos;
    out->len = n;
    r->pos += n;
    return 0;
}

int cm_reader_skip(cm_reader *r, size_t n)
{
    if (cm_reader_left(r) < n) {
        return CM_E_CORRUPT;
    }
    r->pos += n;
    return 0;
}
