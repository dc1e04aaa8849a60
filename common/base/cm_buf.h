/*
 * cm_buf.h — byte buffers and readers.
 *
 * cm_buf is a growable {ptr, len, cap} buffer that owns its memory; cm_slice is a borrowed
 * {ptr, len} view; cm_reader walks a slice and reports truncation as CM_E_CORRUPT instead of
 * reading past the end, which is how every decoder of external input should read.
 * Multi-byte integers are big-endian ("be") or little-endian ("le") as named.
 */
#ifndef CM_BUF_H
#define CM_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cm_slice {
    const uint8_t *ptr; /* borrowed */
    size_t len;
} cm_slice;

typedef struct cm_buf {
    uint8_t *ptr; /* owned; NULL when cap is 0 */
    size_t len;
    size_t cap;
} cm_buf;

#define CM_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

static inline cm_slice cm_slice_make(const void *p, size_t n)
{
    cm_slice s = {(const uint8_t *)p, n};
    return s;
}
cm_slice cm_slice_cstr(const char *s);
/* memcmp order, shorter first on a common prefix. */
int cm_slice_cmp(cm_slice a, cm_slice b);
int cm_slice_eq(cm_slice a, cm_slice b);

void cm_buf_init(cm_buf *b);
/* Frees the memory; the buffer is empty and reusable afterwards. */
void cm_buf_fini(cm_buf *b);
/* Keeps the memory, drops the contents. */
static inline void cm_buf_reset(cm_buf *b)
{
    b->len = 0;
}
/* Ensures room for extra more bytes. Returns 0 or CM_E_NOMEM. */
int cm_buf_reserve(cm_buf *b, size_t extra);
int cm_buf_append(cm_buf *b, const void *p, size_t n);
int cm_buf_append_slice(cm_buf *b, cm_slice s);
int cm_buf_append_u8(cm_buf *b, uint8_t v);
int cm_buf_append_u16be(cm_buf *b, uint16_t v);
int cm_buf_append_u32be(cm_buf *b, uint32_t v);
int cm_buf_append_u64be(cm_buf *b, uint64_t v);
int cm_buf_append_u16le(cm_buf *b, uint16_t v);
int cm_buf_append_u24le(cm_buf *b, uint32_t v);
int cm_buf_append_u32le(cm_buf *b, uint32_t v);
int cm_buf_append_u64le(cm_buf *b, uint64_t v);
/* Unsigned LEB128 varint. */
int cm_buf_append_uvarint(cm_buf *b, uint64_t v);
int cm_buf_printf(cm_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cm_buf_vprintf(cm_buf *b, const char *fmt, va_list ap);
/* Appends a NUL without counting it in len, so ptr can be used as a C string. */
int cm_buf_terminate(cm_buf *b);
/* Takes the memory out of b (caller frees it with free()); b is left empty. */
uint8_t *cm_buf_detach(cm_buf *b, size_t *len_out);
static inline cm_slice cm_buf_slice(const cm_buf *b)
{
    return cm_slice_make(b->ptr, b->len);
}

typedef struct cm_reader {
    const uint8_t *ptr; /* borrowed */
    size_t len;
    size_t pos;
} cm_reader;

/* A reader never holds a NULL pointer: (NULL, 0) reads as an empty buffer, so decoders may
 * compute `ptr + pos` without undefined behaviour (NULL + 0 is UB in C). */
static inline void cm_reader_init(cm_reader *r, const void *p, size_t n)
{
    static const uint8_t empty[1];
    r->ptr = p != NULL ? (const uint8_t *)p : empty;
    n = p != NULL ? n : 0;
    r->len = n;
    r->pos = 0;
}
static inline size_t cm_reader_left(const cm_reader *r)
{
    return r->len - r->pos;
}
/* Each returns 0 or CM_E_CORRUPT (truncated input); on error the position does not move. */
int cm_reader_u8(cm_reader *r, uint8_t *v);
int cm_reader_u16be(cm_reader *r, uint16_t *v);
int cm_reader_u32be(cm_reader *r, uint32_t *v);
int cm_reader_u64be(cm_reader *r, uint64_t *v);
int cm_reader_u16le(cm_reader *r, uint16_t *v);
int cm_reader_u24le(cm_reader *r, uint32_t *v);
int cm_reader_u32le(cm_reader *r, uint32_t *v);
int cm_reader_u64le(cm_reader *r, uint64_t *v);
int cm_reader_uvarint(cm_reader *r, uint64_t *v);
/* Borrows the next n bytes. */
int cm_reader_bytes(cm_reader *r, size_t n, cm_slice *out);
int cm_reader_skip(cm_reader *r, size_t n);

#endif
