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
 * cm_datum is shared with the row codec (cm_row.h), which stores the same values compactly.
 * "Equal" means equal in SQL: -0.0 and +0.0, 1.5 and 1.50, 'a' and 'a  ' (PAD SPACE) each have
 * one key encoding.
 */
#ifndef CM_CODEC_H
#define CM_CODEC_H

#include "cm_arena.h"
#include "cm_buf.h"
#include "cm_datetime.h"
#include "cm_decimal.h"
#include "cm_err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Storage types of a datum; the SQL layer maps every MySQL column type onto one of these (see
 * docs/codec.md for the table). The numbers are stable — coprocessor requests carry them — so
 * new types are only ever appended. */
typedef enum cm_dtype {
    CM_DT_NULL = 0,
    CM_DT_INT64 = 1,      /* signed integers (TINYINT … BIGINT): v.i64 */
    CM_DT_UINT64 = 2,     /* unsigned integers: v.u64 */
    CM_DT_FLOAT64 = 3,    /* DOUBLE: v.f64, never NaN; keys store -0.0 as +0.0 */
    CM_DT_BYTES = 4,      /* BINARY, VARBINARY, BLOB: v.bytes, memcmp order, no padding */
    CM_DT_STRING = 5,     /* CHAR, VARCHAR, TEXT in utf8mb4_bin (PAD SPACE): v.bytes */
    CM_DT_FLOAT32 = 6,    /* FLOAT: v.f64 holding a value exactly representable as a float */
    CM_DT_DECIMAL = 7,    /* DECIMAL(p,s): v.dec */
    CM_DT_DATE = 8,       /* v.u64 = packed datetime with a zero time part (cm_datetime.h) */
    CM_DT_DATETIME = 9,   /* v.u64 = packed datetime */
    CM_DT_TIMESTAMP = 10, /* v.u64 = packed datetime, UTC */
    CM_DT_TIME = 11,      /* v.i64 = microseconds within ±838:59:59 */
    CM_DT_YEAR = 12,      /* v.u64 = 0 or 1901..2155 */
    CM_DT_ENUM = 13,      /* v.u64 = member number 0..65535 */
    CM_DT_SET = 14,       /* v.u64 = member bitmap */
    CM_DT_BIT = 15,       /* v.u64 = BIT(1..64) value */
    CM_DT_JSON = 16,      /* v.bytes = opaque JSON text; rows only, not indexable */
    CM_DT_COUNT_
} cm_dtype;

/* A value with its type. Byte payloads are borrowed: from the caller when encoding; from the
 * decoder's arena (memcomparable) or from the row itself (row codec) when decoding. */
typedef struct cm_datum {
    cm_dtype type;
    union {
        int64_t i64;
        uint64_t u64;
        double f64;
        cm_slice bytes; /* borrowed */
        cm_decimal dec;
    } v;
} cm_datum;

/* Type flags: the first byte of every encoded datum. Their order is the order of types within one
 * key column; only NULL-first matters, since a column holds one type. Never renumber. */
#define CM_CODEC_FLAG_NULL      0x00
#define CM_CODEC_FLAG_BYTES     0x01
#define CM_CODEC_FLAG_STRING    0x02
#define CM_CODEC_FLAG_INT64     0x03
#define CM_CODEC_FLAG_UINT64    0x04
#define CM_CODEC_FLAG_FLOAT64   0x05
#define CM_CODEC_FLAG_FLOAT32   0x06
#define CM_CODEC_FLAG_DECIMAL   0x07
#define CM_CODEC_FLAG_DATE      0x08
#define CM_CODEC_FLAG_DATETIME  0x09
#define CM_CODEC_FLAG_TIMESTAMP 0x0A
#define CM_CODEC_FLAG_TIME      0x0B
#define CM_CODEC_FLAG_YEAR      0x0C
#define CM_CODEC_FLAG_ENUM      0x0D
#define CM_CODEC_FLAG_SET       0x0E
#define CM_CODEC_FLAG_BIT       0x0F

/* Bytes bodies: groups of CM_CODEC_GROUP_BYTES (cm_limits.h) data bytes, each followed by a
 * marker 0xFF - padding; a group with padding 1..8 is the last one. */
#define CM_CODEC_MARKER_FULL 0xFF
/* Bytes of a bytes body for n data bytes: (n / 8 + 1) groups of 9 bytes. */
#define CM_CODEC_BYTES_ENCODED_LEN(n) (((n) / 8 + 1) * 9)

/* String bodies (PAD SPACE): groups of 8 bytes padded with spaces, each followed by a marker that
 * says whether the string ends here or how the rest compares with spaces. */
#define CM_CODEC_STR_MARK_BELOW 0x01 /* more follows; the rest sorts below trailing spaces */
#define CM_CODEC_STR_MARK_END   0x02 /* last group */
#define CM_CODEC_STR_MARK_ABOVE 0x03 /* more follows; the rest sorts above trailing spaces */

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
static inline cm_datum cm_datum_float32(float v)
{
    cm_datum d;
    d.type = CM_DT_FLOAT32;
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
/* s is borrowed (UTF-8 text). */
static inline cm_datum cm_datum_string(cm_slice s)
{
    cm_datum d;
    d.type = CM_DT_STRING;
    d.v.bytes = s;
    return d;
}
/* s is borrowed (JSON text). */
static inline cm_datum cm_datum_json(cm_slice s)
{
    cm_datum d;
    d.type = CM_DT_JSON;
    d.v.bytes = s;
    return d;
}
static inline cm_datum cm_datum_decimal(const cm_decimal *v)
{
    cm_datum d;
    d.type = CM_DT_DECIMAL;
    d.v.dec = *v;
    return d;
}
/* DATE, DATETIME, TIMESTAMP, YEAR, ENUM, SET, BIT: the value as a uint64 (packed for the
 * temporal types). TIME: cm_datum_int(CM_DT_TIME, us). */
static inline cm_datum cm_datum_uint(cm_dtype type, uint64_t v)
{
    cm_datum d;
    d.type = type;
    d.v.u64 = v;
    return d;
}
static inline cm_datum cm_datum_int(cm_dtype type, int64_t v)
{
    cm_datum d;
    d.type = type;
    d.v.i64 = v;
    return d;
}

/* Whether d's value lies in its type's domain: not NaN, a float32 that is a float, a valid
 * decimal, a packed date with fields in range (and no time part for DATE), a TIME within range,
 * YEAR 0 or 1901..2155, ENUM ≤ 65535. Encoders refuse (CM_E_INVALID) what fails this; decoders
 * never produce it. */
bool cm_datum_valid(const cm_datum *d);

/* Name of a type ("int64", "decimal", …) for messages; "?" for values outside the enum. */
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
/* Appends the PAD SPACE encoding of s (borrowed): trailing spaces do not count, and the order is
 * that of utf8mb4_bin, where the shorter string compares as if padded with spaces ("a\t" < "a" <
 * "a!"). Returns 0 or CM_E_NOMEM. */
int cm_codec_append_string(cm_buf *b, cm_slice s);

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
/* Appends the decoded string (without trailing spaces) to out. CM_E_CORRUPT also for a group
 * marker that does not match what follows, or a non-canonical tail of spaces. */
int cm_codec_read_string(cm_reader *r, cm_buf *out, cm_err *err);
int cm_codec_skip_string(cm_reader *r, size_t *decoded_len, cm_err *err);

/* PAD SPACE comparison of two strings (utf8mb4_bin): memcmp order after padding the shorter
 * with spaces. Returns -1, 0 or 1. */
int cm_codec_string_cmp(cm_slice a, cm_slice b);

/* ---- datums (flag + body) ---------------------------------------------------------------- */

/* Appends the flag and body of d. Returns 0, CM_E_INVALID (a value outside its type's domain,
 * see cm_datum_valid, or JSON, which cannot be in a key) or CM_E_NOMEM; on error b->len is
 * unchanged. A string is written without its trailing spaces; a decimal without its scale. */
int cm_codec_encode_datum(cm_buf *b, const cm_datum *d, cm_err *err);
/* Appends n datums (d borrowed); all or nothing as above. */
int cm_codec_encode_datums(cm_buf *b, const cm_datum *d, size_t n, cm_err *err);

/* Decodes one datum at r. Byte payloads are copied into arena (they are not contiguous in the
 * encoding) and live as long as it. Returns 0, CM_E_CORRUPT (unknown flag, truncated or
 * non-canonical body, value outside its type's domain; r not moved) or CM_E_NOMEM. Strings come
 * back without trailing spaces and decimals with the smallest scale that holds them. */
int cm_codec_decode_datum(cm_reader *r, cm_arena *arena, cm_datum *out, cm_err *err);
/* Validates and steps over one datum without copying anything. */
int cm_codec_skip_datum(cm_reader *r, cm_err *err);
/* Decodes every datum of in (borrowed) into out[0..cap). *n gets the count. Input holding more
 * than cap datums is CM_E_CORRUPT (callers know how many columns a key has). */
int cm_codec_decode_datums(cm_slice in, cm_arena *arena, cm_datum *out, size_t cap, size_t *n,
                           cm_err *err);

#endif
