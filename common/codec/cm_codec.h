/*
 * cm_codec.h — the memcomparable datum codec (DESIGN.md §4, byte layouts in docs/codec.md).
 *
 * A datum encodes as one type-flag byte followed by a body whose bytes compare with memcmp() in
 * the order of the values. Encodings are self-delimiting and prefix-free, so a tuple of datums
 * (an index key) compares column by column and a tuple's encoding is a prefix of every longer
 * tuple that starts with the same values. NULL's flag (0x00) is below every other flag, so NULL
 * sorts first. Every value has exactly one encoding: decoders reject anything the encoder would
 * not produce (CM_E_CORRUPT), so decode-then-encode gives back the input bytes.
 *
 * Two layers: primitive bodies without a flag (cm_codec_append_* / cm_codec_read_*), used by the
 * key layouts of cm_keys.h; and datums with their flag (cm_codec_encode_datum and friends).
 */
#ifndef CM_CODEC_H
#define CM_CODEC_H

#include "cm_arena.h"
#include "cm_buf.h"
#include "cm_err.h"

#include <stddef.h>
#include <stdint.h>

/* Storage types of a datum. The SQL layer maps every MySQL column type onto one of these. */
typedef enum cm_dtype {
    CM_DT_NULL = 0,
    CM_DT_INT64,   /* signed integers (TINYINT … BIGINT) */
    CM_DT_UINT64,  /* unsigned integers */
    CM_DT_FLOAT64, /* DOUBLE; never NaN, -0.0 is stored as +0.0 */
    CM_DT_BYTES,   /* binary strings (BINARY, VARBINARY, BLOB): memcmp order, no padding */
    CM_DT_COUNT_
} cm_dtype;

/* A value with its type. Byte payloads are borrowed: from the caller when encoding, from the
 * decoder's arena (memcomparable) when decoding. */
typedef struct cm_datum {
    cm_dtype type;
    union {
        int64_t i64;
        uint64_t u64;
        double f64;
        cm_slice bytes; /* borrowed */
    } v;
} cm_datum;

/* Type flags: the first byte of every encoded datum. Their order is the order of types within one
 * key column; only NULL-first matters, since a column holds one type. Never renumber. */
#define CM_CODEC_FLAG_NULL    0x00
#define CM_CODEC_FLAG_BYTES   0x01
#define CM_CODEC_FLAG_INT64   0x03
#define CM_CODEC_FLAG_UINT64  0x04
#define CM_CODEC_FLAG_FLOAT64 0x05

/* Bytes bodies: groups of CM_CODEC_GROUP_BYTES (cm_limits.h) data bytes, each followed by a
 * marker 0xFF - padding; a group with padding 1..8 is the last one. */
#define CM_CODEC_MARKER_FULL 0xFF
/* Bytes of a bytes body for n data bytes: (n / 8 + 1) groups of 9 bytes. */
#define CM_CODEC_BYTES_ENCODED_LEN(n) (((n) / 8 + 1) * 9)

static inline cm_datum cm_datum_null(void)
{
    cm_datum d;
    d.type = CM_DT_NULL;
    d.v.u64 = 0;
    return d;
}
static inline cm_datum cm_datum_int64(int64_t v)
{
    cm_datum d;
    d.type = CM_DT_INT64;
    d.v.i64 = v;
    return d;
}
static inline cm_datum cm_datum_uint64(uint64_t v)
{
    cm_datum d;
    d.type = CM_DT_UINT64;
    d.v.u64 = v;
    return d;
}
static inline cm_datum cm_datum_float64(double v)
{
    cm_datum d;
    d.type = CM_DT_FLOAT64;
    d.v.f64 = v;
    return d;
}
/* s is borrowed: it must outlive the datum. */
static inline cm_datum cm_datum_bytes(cm_slice s)
{
    cm_datum d;
    d.type = CM_DT_BYTES;
    d.v.bytes = s;
    return d;
}

/* Name of a type ("int64", …) for messages; "?" for values outside the enum. */
const char *cm_dtype_name(cm_dtype t);

/* ---- primitive bodies (no flag) ----------------------------------------------------------- */

/* Appends 8 bytes: big-endian with the sign bit flipped. Returns 0 or CM_E_NOMEM. */
int cm_codec_append_int64(cm_buf *b, int64_t v);
/* Appends 8 bytes, big-endian. Returns 0 or CM_E_NOMEM. */
int cm_codec_append_uint64(cm_buf *b, uint64_t v);
/* Appends 8 bytes that sort like the value: -0.0 is written as +0.0; NaN has no place in the
 * order and is refused with CM_E_INVALID. Returns 0, CM_E_INVALID or CM_E_NOMEM. */
int cm_codec_append_float64(cm_buf *b, double v);
/* Appends the group encoding of s (borrowed). Returns 0 or CM_E_NOMEM. */
int cm_codec_append_bytes(cm_buf *b, cm_slice s);

/* Readers of the bodies above. Each returns 0 and advances r, or CM_E_CORRUPT (err filled, r not
 * moved) on truncated or non-canonical input: a float body that decodes to NaN or -0.0; a bytes
 * body with a marker below 0xF7, or non-zero padding. */
int cm_codec_read_int64(cm_reader *r, int64_t *v, cm_err *err);
int cm_codec_read_uint64(cm_reader *r, uint64_t *v, cm_err *err);
int cm_codec_read_float64(cm_reader *r, double *v, cm_err *err);
/* Appends the decoded bytes to out (owned by the caller). May also return CM_E_NOMEM. */
int cm_codec_read_bytes(cm_reader *r, cm_buf *out, cm_err *err);
/* Validates and steps over a bytes body; *decoded_len (may be NULL) gets the data length. */
int cm_codec_skip_bytes(cm_reader *r, size_t *decoded_len, cm_err *err);

/* ---- datums (flag + body) ---------------------------------------------------------------- */

/* Appends the flag and body of d. Returns 0, CM_E_INVALID (NaN, or a type this codec cannot
 * put in a key) or CM_E_NOMEM; on error b->len is unchanged. */
int cm_codec_encode_datum(cm_buf *b, const cm_datum *d, cm_err *err);
/* Appends n datums (d borrowed); all or nothing as above. */
int cm_codec_encode_datums(cm_buf *b, const cm_datum *d, size_t n, cm_err *err);

/* Decodes one datum at r. Byte payloads are copied into arena (they are not contiguous in the
 * encoding) and live as long as it. Returns 0, CM_E_CORRUPT (unknown flag, truncated or
 * non-canonical body; r not moved) or CM_E_NOMEM. */
int cm_codec_decode_datum(cm_reader *r, cm_arena *arena, cm_datum *out, cm_err *err);
/* Validates and steps over one datum without copying anything. */
int cm_codec_skip_datum(cm_reader *r, cm_err *err);
/* Decodes every datum of in (borrowed) into out[0..cap). *n gets the count. Input holding more
 * than cap datums is CM_E_CORRUPT (callers know how many columns a key has). */
int cm_codec_decode_datums(cm_slice in, cm_arena *arena, cm_datum *out, size_t cap, size_t *n,
                           cm_err *err);

#endif
