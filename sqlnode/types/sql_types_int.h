/*
 * sql_types_int.h — private helpers shared by the files of sqlnode/types: MySQL's literal
 * formats for temporal values (sql_type_time.c), number formatting and parsing as MySQL does it
 * (sql_type_num.c), UTF-8 and JSON checks (sql_type_text.c).
 */
#ifndef SQL_TYPES_INT_H
#define SQL_TYPES_INT_H

#include "cm_buf.h"
#include "cm_datetime.h"
#include "sql_types.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits of the declarations (MySQL 8.0's, with utf8mb4 as the text charset). */
#define SQL_TYPE_CHAR_MAX       255u   /* CHAR(M), BINARY(M) */
#define SQL_TYPE_VARCHAR_MAX    16383u /* VARCHAR(M) in utf8mb4: 65535 bytes / 4 per character */
#define SQL_TYPE_VARBINARY_MAX  65535u /* VARBINARY(M): the row size limit */
#define SQL_TYPE_WIDTH_MAX      255u   /* display widths of integers, FLOAT(M,D) */
#define SQL_TYPE_BIT_MAX        64u    /* BIT(M) */
#define SQL_TYPE_SET_MAX        64u    /* SET members: one bit each in a uint64 */
#define SQL_TYPE_MEMBER_MAX     255u   /* characters of one ENUM/SET member */
#define SQL_TYPE_FLOAT_P_MAX    53u    /* FLOAT(p) */
#define SQL_TYPE_NOT_FIXED      31u    /* decimals of FLOAT/DOUBLE without (M,D) (NOT_FIXED_DEC) */
#define SQL_TYPE_TINYTEXT_MAX   255u
#define SQL_TYPE_TEXT_MAX       65535u
#define SQL_TYPE_MEDIUMTEXT_MAX 16777215u
#define SQL_TYPE_LONGTEXT_MAX   4294967295u

/* ---- temporal literals (sql_type_time.c) ---- */

/* How a temporal literal was read. */
typedef struct sql_tparse {
    cm_datetime dt;
    bool has_time;  /* a time part was present (DATETIME forms) */
    bool neg;       /* TIME: negative */
    uint64_t hours; /* TIME: hours (may exceed 838 before the range check) */
} sql_tparse;

/* MySQL's DATETIME/DATE string forms (delimited 'Y-M-D[ h:m:s[.f]]' with any punctuation, 'T'
 * separator, 2-digit years, or compact 'YYYYMMDD[hhmmss]' / 'YYMMDD[hhmmss]' with '.f'),
 * rounding the fraction to fsp with carry. Leading/trailing spaces are ignored. Fields are
 * range-checked (month ≤ 12, day ≤ 31, hour ≤ 23 …), not calendar-checked. Returns 0 or -1. */
int sql_time_parse_datetime(const char *s, size_t n, unsigned fsp, sql_tparse *out);
/* MySQL's number → DATETIME rule (20240102, 240102, 20240102030405, 0); micro from a DOUBLE's
 * fraction (already in microseconds). Returns 0 or -1. */
int sql_time_datetime_from_number(uint64_t nr, uint32_t micro, unsigned fsp, sql_tparse *out);
/* TIME strings: '[-][D ]h:m[:s][.f]', '[-]hhmmss[.f]', or a DATETIME (its time part). The result
 * is in out->neg/hours/dt.minute/second/micro, rounded to fsp. Returns 0 or -1 (syntax). */
int sql_time_parse_time(const char *s, size_t n, unsigned fsp, sql_tparse *out);
/* TIME from a number [-]hhmmss with micro. Returns 0 or -1 (minutes or seconds ≥ 60). */
int sql_time_time_from_number(bool neg, uint64_t nr, uint32_t micro, unsigned fsp, sql_tparse *out);
/* Adds us microseconds (≥ 0) to dt with calendar carry. Returns 0 or -1 past 9999-12-31. */
int sql_time_add_us(cm_datetime *dt, uint64_t us);
/* Rounds micro to fsp digits (half up); *carry is set when it rounds up to a whole second. */
uint32_t sql_time_round_micro(uint32_t micro, unsigned fsp, bool *carry);

/* ---- numbers (sql_type_num.c) ---- */

/* Appends a double as MySQL prints one: shortest digits that read back the same, plain notation
 * unless the exponent is below -4 or 15 and above ("1e15", "1.5e-7", "0.001", "123.5"). */
int sql_num_format_double(double d, cm_buf *out);
/* Same for a FLOAT column's value: the shortest digits that read back as the same float. */
int sql_num_format_float(float f, cm_buf *out);
/* The numeric prefix of s as MySQL's string→number conversions take it: leading spaces, sign,
 * digits, '.', digits, exponent. *used: bytes consumed including leading spaces (0: no number);
 * *rest_blank: what follows is only spaces. */
void sql_num_prefix(const char *s, size_t n, size_t *start, size_t *used, bool *rest_blank);

/* ---- text (sql_type_text.c) ---- */

/* Length of the longest valid UTF-8 prefix of s (rejects overlong forms, surrogates, > U+10FFFF)
 * and its number of characters. */
size_t sql_utf8_valid_prefix(const uint8_t *s, size_t n, size_t *nchars);
/* Byte length of the first nchars characters of valid UTF-8 s. */
size_t sql_utf8_bytes_of_chars(const uint8_t *s, size_t n, size_t nchars);
/* Whether s is one JSON text (RFC 8259, nesting at most SQL_JSON_DEPTH_MAX). On failure *pos is
 * the offset of the problem and *why a short reason. */
bool sql_json_valid(const uint8_t *s, size_t n, size_t *pos, const char **why);
/* Appends the JSON text s (valid, as stored) the way MySQL prints a JSON value (see
 * sql_type_json.c); text that does not parse is appended unchanged. Returns 0 or CM_E_NOMEM. */
int sql_json_normalize(const uint8_t *s, size_t n, cm_buf *out);
/* MySQL's JSON nesting limit (max depth of a JSON document). */
#define SQL_JSON_DEPTH_MAX 100

/* sql_type_tz.c: a TIMESTAMP's fields from the session's time zone to UTC. */
void sql_type_tz_to_utc(cm_datetime *dt);

#endif
