/* sql_wire.c — length-encoded integers and strings of the MySQL protocol (see sql_wire.h). */
#include "sql_wire.h"

#include "cm_err.h"

#include <string.h>

size_t sql_wire_lenenc_size(uint64_t v)
{
    if (v < 251) {
        return 1;
    }
    if (v < (1u << 16)) {
        return 3;
    }
    if (v < (1u << 24)) {
        return 4;
    }
    return 9;
}

int sql_wire_put_lenenc(cm_buf *b, uint64_t v)
{
    int rc;
    if (v < 251) {
        return cm_buf_append_u8(b, (uint8_t)v);
    }
    if (v < (1u << 16)) {
        rc = cm_buf_append_u8(b, 0xfc);
        return rc ? rc : cm_buf_append_u16le(b, (uint16_t)v);
    }
    if (v < (1u << 24)) {
        rc = cm_buf_append_u8(b, 0xfd);
        return rc ? rc : cm_buf_append_u24le(b, (uint32_t)v);
    }
    rc = cm_buf_append_u8(b, 0xfe);
    return rc ? rc : cm_buf_append_u64le(b, v);
}

int sql_wire_put_lenenc_str(cm_buf *b, const void *p, size_t n)
{
    int rc = cm_buf_reserve(b, n + 9);
    if (rc != 0) {
        return rc;
    }
    rc = sql_wire_put_lenenc(b, n);
    return rc ? rc : cm_buf_append(b, p, n);
}

int sql_wire_put_cstr(cm_buf *b, const char *s)
{
    return cm_buf_append(b, s, strlen(s) + 1);
}

int sql_wire_get_lenenc(cm_reader *r, uint64_t *v)
{
    size_t start = r->pos;
    uint8_t tag;
    int rc = cm_reader_u8(r, &tag);
    if (rc != 0) {
        return rc;
    }
    if (tag < 251) {
        *v = tag;
        return 0;
    }
    if (tag == 0xfc) {
        uint16_t x;
        rc = cm_reader_u16le(r, &x);
        *v = x;
    } else if (tag == 0xfd) {
        uint32_t x;
        rc = cm_reader_u24le(r, &x);
        *v = x;
    } else if (tag == 0xfe) {
        rc = cm_reader_u64le(r, v);
    } else {
        rc = CM_E_CORRUPT; /* 0xfb (NULL) or 0xff */
    }
    if (rc != 0) {
        r->pos = start;
    }
    return rc;
}

int sql_wire_get_lenenc_str(cm_reader *r, cm_slice *out)
{
    size_t start = r->pos;
    uint64_t n;
    int rc = sql_wire_get_lenenc(r, &n);
    if (rc != 0) {
        return rc;
    }
    if (n > cm_reader_left(r)) {
        r->pos = start;
        return CM_E_CORRUPT;
    }
    return cm_reader_bytes(r, (size_t)n, out);
}

int sql_wire_get_cstr(cm_reader *r, cm_slice *out)
{
    const uint8_t *p = r->ptr + r->pos;
    size_t left = cm_reader_left(r);
    const uint8_t *nul = memchr(p, 0, left);
    if (nul == NULL) {
        return CM_E_CORRUPT;
    }
    *out = cm_slice_make(p, (size_t)(nul - p));
    r->pos += out->len + 1;
    return 0;
}

void sql_wire_get_rest(cm_reader *r, cm_slice *out)
{
    *out = cm_slice_make(r->ptr + r->pos, cm_reader_left(r));
    r->pos = r->len;
}
