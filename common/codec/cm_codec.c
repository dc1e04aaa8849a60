/* cm_codec.c — memcomparable datum codec; see cm_codec.h and docs/codec.md. */
#include "cm_codec.h"
#include "cm_assert.h"
#include "cm_limits.h"

#include <math.h>
#include <string.h>

CM_STATIC_ASSERT(CM_CODEC_GROUP_BYTES == 8, "the marker arithmetic assumes 8-byte groups");

#define GROUP     CM_CODEC_GROUP_BYTES
#define GROUP_ENC (CM_CODEC_GROUP_BYTES + 1)
/* Lowest valid marker: a group holding no data byte (padding 8). */
#define MARKER_MIN (CM_CODEC_MARKER_FULL - GROUP)
#define SIGN_BIT   (UINT64_C(1) << 63)

/* Empty byte payloads point here rather than at NULL, so memcmp/memcpy never see NULL. */
static const uint8_t empty_bytes[1];

const char *cm_dtype_name(cm_dtype t)
{
    switch (t) {
    case CM_DT_NULL:
        return "null";
    case CM_DT_INT64:
        return "int64";
    case CM_DT_UINT64:
        return "uint64";
    case CM_DT_FLOAT64:
        return "float64";
    case CM_DT_BYTES:
        return "bytes";
    case CM_DT_COUNT_:
        break;
    }
    return "?";
}

/* ---- primitive bodies --------------------------------------------------------------------- */

static uint64_t get_u64be(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

int cm_codec_append_int64(cm_buf *b, int64_t v)
{
    return cm_buf_append_u64be(b, (uint64_t)v ^ SIGN_BIT);
}

int cm_codec_append_uint64(cm_buf *b, uint64_t v)
{
    return cm_buf_append_u64be(b, v);
}

/* Maps a double onto a uint64 with the same order: positives get the sign bit set, negatives
 * have every bit inverted (a larger magnitude must sort lower). */
static int float_to_ordered(double v, uint64_t *out)
{
    if (isnan(v)) {
        return CM_E_INVALID;
    }
    uint64_t u;
    if (v == 0) {
        v = 0.0; /* -0.0 == +0.0, so both take +0.0's encoding */
    }
    memcpy(&u, &v, sizeof(u));
    *out = (u & SIGN_BIT) ? ~u : (u | SIGN_BIT);
    return 0;
}

int cm_codec_append_float64(cm_buf *b, double v)
{
    uint64_t u;
    int rc = float_to_ordered(v, &u);
    if (rc != 0) {
        return rc;
    }
    return cm_buf_append_u64be(b, u);
}

int cm_codec_append_bytes(cm_buf *b, cm_slice s)
{
    int rc = cm_buf_reserve(b, CM_CODEC_BYTES_ENCODED_LEN(s.len));
    if (rc != 0) {
        return rc;
    }
    uint8_t *p = b->ptr + b->len;
    size_t left = s.len;
    const uint8_t *src = s.ptr;
    for (;;) {
        if (left >= GROUP) {
            memcpy(p, src, GROUP);
            p[GROUP] = CM_CODEC_MARKER_FULL;
            p += GROUP_ENC;
            src += GROUP;
            left -= GROUP;
            continue;
        }
        /* Last group: 0..7 data bytes, zero padding; a length that is a multiple of 8 ends
         * with a group of padding only, so no encoding is a prefix of another. */
        size_t pad = GROUP - left;
        if (left > 0) {
            memcpy(p, src, left);
        }
        memset(p + left, 0, pad);
        p[GROUP] = (uint8_t)(CM_CODEC_MARKER_FULL - pad);
        p += GROUP_ENC;
        break;
    }
    size_t wrote = (size_t)(p - (b->ptr + b->len));
    CM_ASSERT(wrote == CM_CODEC_BYTES_ENCODED_LEN(s.len));
    b->len += wrote;
    return 0;
}

static int need(const cm_reader *r, size_t n, const char *what, cm_err *err)
{
    if (cm_reader_left(r) < n) {
        return cm_err_set(err, CM_E_CORRUPT, "%s truncated at offset %zu: need %zu bytes, have %zu",
                          what, r->pos, n, cm_reader_left(r));
    }
    return 0;
}

int cm_codec_read_int64(cm_reader *r, int64_t *v, cm_err *err)
{
    int rc = need(r, 8, "int64", err);
    if (rc != 0) {
        return rc;
    }
    *v = (int64_t)(get_u64be(r->ptr + r->pos) ^ SIGN_BIT);
    r->pos += 8;
    return 0;
}

int cm_codec_read_uint64(cm_reader *r, uint64_t *v, cm_err *err)
{
    int rc = need(r, 8, "uint64", err);
    if (rc != 0) {
        return rc;
    }
    *v = get_u64be(r->ptr + r->pos);
    r->pos += 8;
    return 0;
}

int cm_codec_read_float64(cm_reader *r, double *v, cm_err *err)
{
    int rc = need(r, 8, "float64", err);
    if (rc != 0) {
        return rc;
    }
    uint64_t x = get_u64be(r->ptr + r->pos);
    uint64_t u = (x & SIGN_BIT) ? (x & ~SIGN_BIT) : ~x;
    double d;
    memcpy(&d, &u, sizeof(d));
    if (isnan(d)) {
        return cm_err_set(err, CM_E_CORRUPT, "float64 at offset %zu is NaN", r->pos);
    }
    if (u == SIGN_BIT) {
        return cm_err_set(err, CM_E_CORRUPT, "float64 at offset %zu is -0.0 (not canonical)",
                          r->pos);
    }
    *v = d;
    r->pos += 8;
    return 0;
}

/* Validates the bytes body at r without moving it: *enc_len gets its encoded size and *dec_len
 * the number of data bytes. */
static int bytes_scan(const cm_reader *r, size_t *enc_len, size_t *dec_len, cm_err *err)
{
    const uint8_t *p = r->ptr + r->pos;
    size_t left = cm_reader_left(r);
    size_t dec = 0;
    for (size_t off = 0;; off += GROUP_ENC) {
        if (left - off < GROUP_ENC) {
            return cm_err_set(err, CM_E_CORRUPT,
                              "bytes truncated at offset %zu: group needs %d bytes, have %zu",
                              r->pos + off, GROUP_ENC, left - off);
        }
        uint8_t marker = p[off + GROUP];
        if (marker == CM_CODEC_MARKER_FULL) {
            dec += GROUP;
            continue;
        }
        if (marker < MARKER_MIN) {
            return cm_err_set(err, CM_E_CORRUPT, "bytes: bad group marker 0x%02x at offset %zu",
                              marker, r->pos + off + GROUP);
        }
        size_t pad = (size_t)(CM_CODEC_MARKER_FULL - marker);
        for (size_t i = GROUP - pad; i < GROUP; i++) {
            if (p[off + i] != 0) {
                return cm_err_set(err, CM_E_CORRUPT,
                                  "bytes: non-zero padding byte 0x%02x at offset %zu", p[off + i],
                                  r->pos + off + i);
            }
        }
        *enc_len = off + GROUP_ENC;
        *dec_len = dec + GROUP - pad;
        return 0;
    }
}

/* Copies the data bytes of a body already validated by bytes_scan. */
static void bytes_copy(const uint8_t *p, size_t dec_len, uint8_t *out)
{
    while (dec_len >= GROUP) {
        memcpy(out, p, GROUP);
        out += GROUP;
        p += GROUP_ENC;
        dec_len -= GROUP;
    }
    if (dec_len > 0) {
        memcpy(out, p, dec_len);
    }
}

int cm_codec_read_bytes(cm_reader *r, cm_buf *out, cm_err *err)
{
    size_t enc, dec;
    int rc = bytes_scan(r, &enc, &dec, err);
    if (rc != 0) {
        return rc;
    }
    rc = cm_buf_reserve(out, dec);
    if (rc != 0) {
        return cm_err_set(err, rc, "bytes: no memory for %zu bytes", dec);
    }
    bytes_copy(r->ptr + r->pos, dec, out->ptr + out->len);
    out->len += dec;
    r->pos += enc;
    return 0;
}

int cm_codec_skip_bytes(cm_reader *r, size_t *decoded_len, cm_err *err)
{
    size_t enc, dec;
    int rc = bytes_scan(r, &enc, &dec, err);
    if (rc != 0) {
        return rc;
    }
    if (decoded_len != NULL) {
        *decoded_len = dec;
    }
    r->pos += enc;
    return 0;
}

/* ---- datums ------------------------------------------------------------------------------- */

static int encode_one(cm_buf *b, const cm_datum *d, cm_err *err)
{
    int rc;
    switch (d->type) {
    case CM_DT_NULL:
        return cm_buf_append_u8(b, CM_CODEC_FLAG_NULL);
    case CM_DT_INT64:
        rc = cm_buf_append_u8(b, CM_CODEC_FLAG_INT64);
        return rc ? rc : cm_codec_append_int64(b, d->v.i64);
    case CM_DT_UINT64:
        rc = cm_buf_append_u8(b, CM_CODEC_FLAG_UINT64);
        return rc ? rc : cm_codec_append_uint64(b, d->v.u64);
    case CM_DT_FLOAT64:
        if (isnan(d->v.f64)) {
            return cm_err_set(err, CM_E_INVALID, "NaN cannot be stored in a key");
        }
        rc = cm_buf_append_u8(b, CM_CODEC_FLAG_FLOAT64);
        return rc ? rc : cm_codec_append_float64(b, d->v.f64);
    case CM_DT_BYTES:
        rc = cm_buf_append_u8(b, CM_CODEC_FLAG_BYTES);
        return rc ? rc : cm_codec_append_bytes(b, d->v.bytes);
    case CM_DT_COUNT_:
        break;
    }
    return cm_err_set(err, CM_E_INVALID, "datum type %d cannot be encoded in a key", (int)d->type);
}

int cm_codec_encode_datum(cm_buf *b, const cm_datum *d, cm_err *err)
{
    size_t len0 = b->len;
    int rc = encode_one(b, d, err);
    if (rc != 0) {
        b->len = len0;
        if (rc == CM_E_NOMEM) {
            cm_err_set(err, rc, "encoding a %s datum", cm_dtype_name(d->type));
        }
    }
    return rc;
}

int cm_codec_encode_datums(cm_buf *b, const cm_datum *d, size_t n, cm_err *err)
{
    size_t len0 = b->len;
    for (size_t i = 0; i < n; i++) {
        int rc = cm_codec_encode_datum(b, &d[i], err);
        if (rc != 0) {
            b->len = len0;
            return rc;
        }
    }
    return 0;
}

static int bad_flag(const cm_reader *r, uint8_t flag, cm_err *err)
{
    return cm_err_set(err, CM_E_CORRUPT, "unknown datum flag 0x%02x at offset %zu", flag, r->pos);
}

int cm_codec_decode_datum(cm_reader *r, cm_arena *arena, cm_datum *out, cm_err *err)
{
    int rc = need(r, 1, "datum", err);
    if (rc != 0) {
        return rc;
    }
    cm_reader body = *r;
    uint8_t flag = body.ptr[body.pos++];
    switch (flag) {
    case CM_CODEC_FLAG_NULL:
        *out = cm_datum_null();
        break;
    case CM_CODEC_FLAG_INT64:
        out->type = CM_DT_INT64;
        rc = cm_codec_read_int64(&body, &out->v.i64, err);
        break;
    case CM_CODEC_FLAG_UINT64:
        out->type = CM_DT_UINT64;
        rc = cm_codec_read_uint64(&body, &out->v.u64, err);
        break;
    case CM_CODEC_FLAG_FLOAT64:
        out->type = CM_DT_FLOAT64;
        rc = cm_codec_read_float64(&body, &out->v.f64, err);
        break;
    case CM_CODEC_FLAG_BYTES: {
        size_t enc, dec;
        rc = bytes_scan(&body, &enc, &dec, err);
        if (rc != 0) {
            break;
        }
        uint8_t *p = (uint8_t *)empty_bytes;
        if (dec > 0) {
            p = cm_arena_alloc(arena, dec);
            if (p == NULL) {
                return cm_err_set(err, CM_E_NOMEM, "bytes datum: no memory for %zu bytes", dec);
            }
            bytes_copy(body.ptr + body.pos, dec, p);
        }
        body.pos += enc;
        out->type = CM_DT_BYTES;
        out->v.bytes = cm_slice_make(p, dec);
        break;
    }
    default:
        return bad_flag(r, flag, err);
    }
    if (rc == 0) {
        r->pos = body.pos;
    }
    return rc;
}

int cm_codec_skip_datum(cm_reader *r, cm_err *err)
{
    int rc = need(r, 1, "datum", err);
    if (rc != 0) {
        return rc;
    }
    cm_reader body = *r;
    uint8_t flag = body.ptr[body.pos++];
    switch (flag) {
    case CM_CODEC_FLAG_NULL:
        break;
    case CM_CODEC_FLAG_INT64:
    case CM_CODEC_FLAG_UINT64:
        rc = need(&body, 8, flag == CM_CODEC_FLAG_INT64 ? "int64" : "uint64", err);
        body.pos += rc == 0 ? 8 : 0;
        break;
    case CM_CODEC_FLAG_FLOAT64: {
        double d;
        rc = cm_codec_read_float64(&body, &d, err); /* validates NaN / -0.0 as decode does */
        break;
    }
    case CM_CODEC_FLAG_BYTES:
        rc = cm_codec_skip_bytes(&body, NULL, err);
        break;
    default:
        return bad_flag(r, flag, err);
    }
    if (rc == 0) {
        r->pos = body.pos;
    }
    return rc;
}

int cm_codec_decode_datums(cm_slice in, cm_arena *arena, cm_datum *out, size_t cap, size_t *n,
                           cm_err *err)
{
    cm_reader r;
    cm_reader_init(&r, in.ptr, in.len);
    size_t count = 0;
    while (cm_reader_left(&r) > 0) {
        if (count == cap) {
            return cm_err_set(err, CM_E_CORRUPT, "more than %zu datums (offset %zu of %zu)", cap,
                              r.pos, r.len);
        }
        int rc = cm_codec_decode_datum(&r, arena, &out[count], err);
        if (rc != 0) {
            return rc;
        }
        count++;
    }
    *n = count;
    return 0;
}
