/* cm_codec.c — memcomparable datum codec; see cm_codec.h and docs/codec.md. */
#include "cm_codec.h"
#include "cm_assert.h"
#include "cm_limits.h"

#include <float.h>
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

static const char *const dtype_names[CM_DT_COUNT_] = {
    [CM_DT_NULL] = "null",         [CM_DT_INT64] = "int64",         [CM_DT_UINT64] = "uint64",
    [CM_DT_FLOAT64] = "float64",   [CM_DT_BYTES] = "bytes",         [CM_DT_STRING] = "string",
    [CM_DT_FLOAT32] = "float32",   [CM_DT_DECIMAL] = "decimal",     [CM_DT_DATE] = "date",
    [CM_DT_DATETIME] = "datetime", [CM_DT_TIMESTAMP] = "timestamp", [CM_DT_TIME] = "time",
    [CM_DT_YEAR] = "year",         [CM_DT_ENUM] = "enum",           [CM_DT_SET] = "set",
    [CM_DT_BIT] = "bit",           [CM_DT_JSON] = "json",
};

const char *cm_dtype_name(cm_dtype t)
{
    return (unsigned)t < CM_DT_COUNT_ ? dtype_names[t] : "?";
}

/* Whether a double is exactly a float (conversion checked for range first: converting an
 * out-of-range double to float is undefined). */
static bool is_float32(double v)
{
    if (isnan(v)) {
        return false;
    }
    if (isinf(v)) {
        return true;
    }
    return fabs(v) <= FLT_MAX && (double)(float)v == v;
}

static bool packed_ok(uint64_t packed, bool date_only)
{
    cm_datetime t;
    if (cm_datetime_unpack(packed, &t, NULL) != 0) {
        return false;
    }
    return !date_only || (t.hour == 0 && t.minute == 0 && t.second == 0 && t.micro == 0);
}

bool cm_datum_valid(const cm_datum *d)
{
    switch (d->type) {
    case CM_DT_NULL:
    case CM_DT_INT64:
    case CM_DT_UINT64:
    case CM_DT_SET:
    case CM_DT_BIT:
        return true;
    case CM_DT_BYTES:
    case CM_DT_STRING:
    case CM_DT_JSON:
        return d->v.bytes.ptr != NULL || d->v.bytes.len == 0;
    case CM_DT_FLOAT64:
        return !isnan(d->v.f64);
    case CM_DT_FLOAT32:
        return is_float32(d->v.f64);
    case CM_DT_DECIMAL:
        return cm_decimal_valid(&d->v.dec);
    case CM_DT_DATE:
        return packed_ok(d->v.u64, true);
    case CM_DT_DATETIME:
    case CM_DT_TIMESTAMP:
        return packed_ok(d->v.u64, false);
    case CM_DT_TIME:
        return cm_duration_valid(d->v.i64);
    case CM_DT_YEAR:
        return d->v.u64 == 0 || (d->v.u64 >= CM_YEAR_MIN && d->v.u64 <= CM_YEAR_MAX);
    case CM_DT_ENUM:
        return d->v.u64 <= CM_ENUM_MAX;
    case CM_DT_COUNT_:
        break;
    }
    return false;
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

/* ---- PAD SPACE string bodies ------------------------------------------------------------ */

#define PAD ' '

/* Marker of a group after which `rest` follows: how rest compares with endless spaces. rest
 * holds a byte other than a space (trailing spaces were trimmed). */
static uint8_t rest_marker(uint8_t first_non_space)
{
    return first_non_space < PAD ? CM_CODEC_STR_MARK_BELOW : CM_CODEC_STR_MARK_ABOVE;
}

int cm_codec_append_string(cm_buf *b, cm_slice s)
{
    size_t n = s.len;
    while (n > 0 && s.ptr[n - 1] == PAD) {
        n--;
    }
    size_t groups = n == 0 ? 1 : (n + GROUP - 1) / GROUP;
    int rc = cm_buf_reserve(b, groups * GROUP_ENC);
    if (rc != 0) {
        return rc;
    }
    uint8_t *p = b->ptr + b->len;
    size_t next_ns = 0; /* only moves forward, so the marker scan is linear overall */
    for (size_t g = 0; g < groups; g++) {
        size_t off = g * GROUP;
        size_t take = n - off < GROUP ? n - off : GROUP;
        if (take > 0) {
            memcpy(p, s.ptr + off, take);
        }
        memset(p + take, PAD, GROUP - take);
        if (g + 1 == groups) {
            p[GROUP] = CM_CODEC_STR_MARK_END;
        } else {
            if (next_ns < off + GROUP) {
                next_ns = off + GROUP;
            }
            while (s.ptr[next_ns] == PAD) {
                next_ns++;
            }
            CM_ASSERT(next_ns < n);
            p[GROUP] = rest_marker(s.ptr[next_ns]);
        }
        p += GROUP_ENC;
    }
    b->len += groups * GROUP_ENC;
    return 0;
}

/* Validates the string body at r without moving it: *enc_len gets its encoded size and *dec_len
 * the length of the (trimmed) string. */
static int string_scan(const cm_reader *r, size_t *enc_len, size_t *dec_len, cm_err *err)
{
    const uint8_t *p = r->ptr + r->pos;
    size_t left = cm_reader_left(r);
    size_t groups = 0;
    for (;;) {
        size_t off = groups * GROUP_ENC;
        if (left - off < GROUP_ENC) {
            return cm_err_set(err, CM_E_CORRUPT,
                              "string truncated at offset %zu: group needs %d bytes, have %zu",
                              r->pos + off, GROUP_ENC, left - off);
        }
        uint8_t m = p[off + GROUP];
        groups++;
        if (m == CM_CODEC_STR_MARK_END) {
            break;
        }
        if (m != CM_CODEC_STR_MARK_BELOW && m != CM_CODEC_STR_MARK_ABOVE) {
            return cm_err_set(err, CM_E_CORRUPT, "string: bad group marker 0x%02x at offset %zu", m,
                              r->pos + off + GROUP);
        }
    }
    /* The last group's trailing spaces are padding. */
    const uint8_t *last = p + (groups - 1) * GROUP_ENC;
    size_t keep = GROUP;
    while (keep > 0 && last[keep - 1] == PAD) {
        keep--;
    }
    /* Every other marker must say how the rest compares with spaces: walk back from the end,
     * carrying the class of the first non-space byte after each group. Groups of nothing but
     * spaces at the end (untrimmed trailing spaces) leave the class 0, which no marker equals. */
    uint8_t cls = 0;
    for (size_t g = groups - 1; g-- > 0;) {
        const uint8_t *next = p + (g + 1) * GROUP_ENC;
        for (size_t i = 0; i < GROUP; i++) {
            if (next[i] != PAD) {
                cls = rest_marker(next[i]);
                break;
            }
        }
        if (p[g * GROUP_ENC + GROUP] != cls) {
            return cm_err_set(err, CM_E_CORRUPT,
                              "string: group marker 0x%02x at offset %zu does not match the rest",
                              p[g * GROUP_ENC + GROUP], r->pos + g * GROUP_ENC + GROUP);
        }
    }
    *enc_len = groups * GROUP_ENC;
    *dec_len = (groups - 1) * GROUP + keep;
    return 0;
}

static void string_copy(const uint8_t *p, size_t dec_len, uint8_t *out)
{
    bytes_copy(p, dec_len, out); /* same group stride; the padding is simply not copied */
}

int cm_codec_read_string(cm_reader *r, cm_buf *out, cm_err *err)
{
    size_t enc, dec;
    int rc = string_scan(r, &enc, &dec, err);
    if (rc != 0) {
        return rc;
    }
    rc = cm_buf_reserve(out, dec);
    if (rc != 0) {
        return cm_err_set(err, rc, "string: no memory for %zu bytes", dec);
    }
    string_copy(r->ptr + r->pos, dec, out->ptr + out->len);
    out->len += dec;
    r->pos += enc;
    return 0;
}

int cm_codec_skip_string(cm_reader *r, size_t *decoded_len, cm_err *err)
{
    size_t enc, dec;
    int rc = string_scan(r, &enc, &dec, err);
    if (rc != 0) {
        return rc;
    }
    if (decoded_len != NULL) {
        *decoded_len = dec;
    }
    r->pos += enc;
    return 0;
}

int cm_codec_string_cmp(cm_slice a, cm_slice b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.ptr, b.ptr, n) : 0;
    if (c != 0) {
        return c < 0 ? -1 : 1;
    }
    /* The longer one's tail against spaces. */
    cm_slice tail = a.len > n ? a : b;
    int sign = a.len > n ? 1 : -1;
    for (size_t i = n; i < tail.len; i++) {
        if (tail.ptr[i] != PAD) {
            return tail.ptr[i] > PAD ? sign : -sign;
        }
    }
    return 0;
}

/* ---- datums ------------------------------------------------------------------------------- */

/* Flag of each type; JSON has none (not indexable). */
static const int type_flag[CM_DT_COUNT_] = {
    [CM_DT_NULL] = CM_CODEC_FLAG_NULL,
    [CM_DT_INT64] = CM_CODEC_FLAG_INT64,
    [CM_DT_UINT64] = CM_CODEC_FLAG_UINT64,
    [CM_DT_FLOAT64] = CM_CODEC_FLAG_FLOAT64,
    [CM_DT_BYTES] = CM_CODEC_FLAG_BYTES,
    [CM_DT_STRING] = CM_CODEC_FLAG_STRING,
    [CM_DT_FLOAT32] = CM_CODEC_FLAG_FLOAT32,
    [CM_DT_DECIMAL] = CM_CODEC_FLAG_DECIMAL,
    [CM_DT_DATE] = CM_CODEC_FLAG_DATE,
    [CM_DT_DATETIME] = CM_CODEC_FLAG_DATETIME,
    [CM_DT_TIMESTAMP] = CM_CODEC_FLAG_TIMESTAMP,
    [CM_DT_TIME] = CM_CODEC_FLAG_TIME,
    [CM_DT_YEAR] = CM_CODEC_FLAG_YEAR,
    [CM_DT_ENUM] = CM_CODEC_FLAG_ENUM,
    [CM_DT_SET] = CM_CODEC_FLAG_SET,
    [CM_DT_BIT] = CM_CODEC_FLAG_BIT,
    [CM_DT_JSON] = -1,
};

/* Type of each flag, or -1. */
static int flag_type(uint8_t flag)
{
    for (int t = 0; t < CM_DT_COUNT_; t++) {
        if (type_flag[t] == flag) {
            return t;
        }
    }
    return -1;
}

static int encode_body(cm_buf *b, const cm_datum *d)
{
    switch (d->type) {
    case CM_DT_NULL:
        return 0;
    case CM_DT_INT64:
    case CM_DT_TIME:
        return cm_codec_append_int64(b, d->v.i64);
    case CM_DT_UINT64:
    case CM_DT_DATE:
    case CM_DT_DATETIME:
    case CM_DT_TIMESTAMP:
    case CM_DT_YEAR:
    case CM_DT_ENUM:
    case CM_DT_SET:
    case CM_DT_BIT:
        return cm_codec_append_uint64(b, d->v.u64);
    case CM_DT_FLOAT64:
    case CM_DT_FLOAT32:
        return cm_codec_append_float64(b, d->v.f64);
    case CM_DT_BYTES:
        return cm_codec_append_bytes(b, d->v.bytes);
    case CM_DT_STRING:
        return cm_codec_append_string(b, d->v.bytes);
    case CM_DT_DECIMAL:
        return cm_decimal_append_key(b, &d->v.dec);
    case CM_DT_JSON:
    case CM_DT_COUNT_:
        break;
    }
    return CM_E_INVALID;
}

int cm_codec_encode_datum(cm_buf *b, const cm_datum *d, cm_err *err)
{
    if ((unsigned)d->type >= CM_DT_COUNT_ || type_flag[d->type] < 0) {
        return cm_err_set(err, CM_E_INVALID, "a %s datum cannot be in a key",
                          cm_dtype_name(d->type));
    }
    if (!cm_datum_valid(d)) {
        return cm_err_set(err, CM_E_INVALID, "%s value outside its type's domain",
                          cm_dtype_name(d->type));
    }
    size_t len0 = b->len;
    int rc = cm_buf_append_u8(b, (uint8_t)type_flag[d->type]);
    if (rc == 0) {
        rc = encode_body(b, d);
    }
    if (rc != 0) {
        b->len = len0;
        return cm_err_set(err, rc, "encoding a %s datum", cm_dtype_name(d->type));
    }
    return 0;
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

/* Copies a validated bytes or string body of dec_len data bytes into arena. */
static int copy_payload(const uint8_t *p, size_t dec_len, cm_arena *arena, cm_slice *out,
                        cm_err *err)
{
    uint8_t *dst = (uint8_t *)empty_bytes;
    if (dec_len > 0) {
        dst = cm_arena_alloc(arena, dec_len);
        if (dst == NULL) {
            return cm_err_set(err, CM_E_NOMEM, "no memory for a %zu-byte datum", dec_len);
        }
        bytes_copy(p, dec_len, dst);
    }
    *out = cm_slice_make(dst, dec_len);
    return 0;
}

/* Decodes the body of a datum of type t at body. With arena NULL, byte payloads are validated
 * but not copied (skip). */
static int decode_body(cm_reader *body, cm_dtype t, cm_arena *arena, cm_datum *out, cm_err *err)
{
    int rc = 0;
    size_t enc, dec;
    out->type = t;
    switch (t) {
    case CM_DT_NULL:
        out->v.u64 = 0;
        return 0;
    case CM_DT_INT64:
    case CM_DT_TIME:
        rc = cm_codec_read_int64(body, &out->v.i64, err);
        break;
    case CM_DT_UINT64:
    case CM_DT_DATE:
    case CM_DT_DATETIME:
    case CM_DT_TIMESTAMP:
    case CM_DT_YEAR:
    case CM_DT_ENUM:
    case CM_DT_SET:
    case CM_DT_BIT:
        rc = cm_codec_read_uint64(body, &out->v.u64, err);
        break;
    case CM_DT_FLOAT64:
    case CM_DT_FLOAT32:
        rc = cm_codec_read_float64(body, &out->v.f64, err);
        break;
    case CM_DT_DECIMAL:
        rc = cm_decimal_read_key(body, &out->v.dec, err);
        break;
    case CM_DT_BYTES:
    case CM_DT_STRING:
        rc = t == CM_DT_BYTES ? bytes_scan(body, &enc, &dec, err)
                              : string_scan(body, &enc, &dec, err);
        if (rc == 0 && arena != NULL) {
            rc = copy_payload(body->ptr + body->pos, dec, arena, &out->v.bytes, err);
        } else if (rc == 0) {
            out->v.bytes = cm_slice_make(empty_bytes, 0);
        }
        if (rc == 0) {
            body->pos += enc;
        }
        return rc;
    case CM_DT_JSON:
    case CM_DT_COUNT_:
        return CM_E_INTERNAL;
    }
    if (rc == 0 && !cm_datum_valid(out)) {
        return cm_err_set(err, CM_E_CORRUPT, "%s datum ending at offset %zu is out of its domain",
                          cm_dtype_name(t), body->pos);
    }
    return rc;
}

static int decode_one(cm_reader *r, cm_arena *arena, cm_datum *out, cm_err *err)
{
    if (cm_reader_left(r) < 1) {
        return cm_err_set(err, CM_E_CORRUPT, "datum truncated at offset %zu: no flag", r->pos);
    }
    cm_reader body = *r;
    uint8_t flag = body.ptr[body.pos++];
    int t = flag_type(flag);
    if (t < 0) {
        return cm_err_set(err, CM_E_CORRUPT, "unknown datum flag 0x%02x at offset %zu", flag,
                          r->pos);
    }
    int rc = decode_body(&body, (cm_dtype)t, arena, out, err);
    if (rc == 0) {
        r->pos = body.pos;
    }
    return rc;
}

int cm_codec_decode_datum(cm_reader *r, cm_arena *arena, cm_datum *out, cm_err *err)
{
    CM_ASSERT(arena != NULL);
    return decode_one(r, arena, out, err);
}

int cm_codec_skip_datum(cm_reader *r, cm_err *err)
{
    cm_datum scratch;
    return decode_one(r, NULL, &scratch, err);
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
