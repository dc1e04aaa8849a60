/*
 * sql_types.h — MySQL column types: parsing a declared type, formatting it back (SHOW CREATE
 * TABLE), checking and converting a value for storage (strict mode), turning a stored datum
 * back into a value for SQLite, and the result-set metadata of a column (DESIGN.md §7 "Types").
 *
 * This module is the one authority on MySQL types in the sqlnode: the catalog parses column
 * definitions through it, the vtab module converts every value it writes and reads through it,
 * and the session describes table columns in result sets with it. It does not include SQLite's
 * header: values cross as sql_value (sql_value.h), stored values as cm_datum (cm_codec.h).
 */
#ifndef SQL_TYPES_H
#define SQL_TYPES_H

#include "cm_buf.h"
#include "cm_codec.h"
#include "cm_err.h"
#include "sql_lexer.h"
#include "sql_value.h"

#include <stdbool.h>
#include <stdint.h>

/* A column's declared MySQL type. */
typedef struct sql_coltype {
    uint8_t mysql_type;  /* SQL_TYPE_* wire code (mysql/sql_my_const.h) */
    uint8_t dtype;       /* cm_dtype: how values are stored (docs/codec.md) */
    uint8_t is_unsigned; /* integers, DECIMAL, FLOAT, DOUBLE */
    uint8_t zerofill;
    uint8_t fixed;      /* CHAR / BINARY: fixed length (CHAR drops trailing spaces on read) */
    uint8_t precision;  /* DECIMAL(M,D): M */
    uint8_t decimals;   /* DECIMAL: D; TIME/DATETIME/TIMESTAMP: fsp 0..6; FLOAT(M,D)/DOUBLE(M,D) */
    uint32_t length;    /* CHAR/VARCHAR/BINARY/VARBINARY: length (characters or bytes);
                           BLOB/TEXT kinds: max bytes; BIT: bits; integers: display width */
    uint16_t collation; /* 46 utf8mb4_bin for text, 63 binary for bytes and numbers */
    uint16_t nmembers;  /* ENUM / SET members */
    char **members;     /* ENUM / SET member names (owner: whoever filled the struct) */
} sql_coltype;

/* Why a value was changed on its way to storage (non-strict mode), for SHOW WARNINGS. */
typedef struct sql_type_note {
    uint16_t code; /* MySQL errno of the warning (1264, 1265, 1366, 1292 …); 0: none */
    char msg[160];
    uint8_t is_note; /* MySQL reports it as a Note, not a Warning (DECIMAL rounding …) */
} sql_type_note;

/* Parses a column type starting at t[*pos] (e.g. `INT(11) UNSIGNED ZEROFILL`, `CHAR(120)`,
 * `DECIMAL(10,2)`, `ENUM('a','b')`, `VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
 * on success *pos is past the type. Member strings are allocated with malloc (free with
 * sql_coltype_free). Errors carry MySQL's errno through their CM_E_* code: CM_E_PARSE (1064),
 * TOO_BIG_FIELDLENGTH (1074), TOO_BIG_SCALE (1425), TOO_BIG_PRECISION (1426), M_BIGGER_THAN_D
 * (1427), TOO_BIG_DISPLAYWIDTH (1439), WRONG_FIELD_SPEC (1063), INVALID_YEAR_COLUMN_LENGTH
 * (1818), DUPLICATED_VALUE_IN_TYPE (1291), TOO_BIG_SET (1097), ILLEGAL_VALUE_FOR_TYPE (1367),
 * UNKNOWN_CHARSET (1115), UNKNOWN_COLLATION (1273), COLLATION_CHARSET_MISMATCH (1253). */
int sql_type_parse(const char *src, const sql_token *t, uint32_t n, uint32_t *pos, sql_coltype *out,
                   cm_err *err);
/* sql_type_parse with the column's name for MySQL's messages ("… for column 'c'"; NULL: none)
 * and the lexer's SQL_MODE_* bits (NO_BACKSLASH_ESCAPES changes ENUM/SET member strings).
 * Recognised words: every MySQL 8.0 type name and synonym (INT1..INT8, MIDDLEINT, FLOAT4/8,
 * DOUBLE PRECISION, REAL, NUMERIC/DEC/FIXED, BOOL/BOOLEAN, CHARACTER/NCHAR/NATIONAL … [VARYING],
 * NVARCHAR, LONG [VARCHAR|VARBINARY], SERIAL = BIGINT UNSIGNED: the catalog adds SERIAL's NOT
 * NULL AUTO_INCREMENT UNIQUE), then UNSIGNED/SIGNED/ZEROFILL for numbers and CHARACTER SET /
 * CHARSET / COLLATE / BINARY / ASCII / UNICODE / BYTE for strings. A binary charset turns
 * CHAR/VARCHAR/TEXT into BINARY/VARBINARY/BLOB, as in MySQL. Every other text charset and
 * collation is accepted by name and stored as utf8mb4_bin (46), the only one Tessera compares
 * with (DESIGN.md §7). */
int sql_type_parse_named(const char *src, const sql_token *t, uint32_t n, uint32_t *pos,
                         const char *col_name, unsigned lex_mode, sql_coltype *out, cm_err *err);
/* Applies a COLLATE clause met later in a column definition (`c VARCHAR(5) NOT NULL COLLATE x`):
 * name[0, len) is the collation's name. Errors: CM_E_UNKNOWN_COLLATION (1273), CM_E_INVALID for
 * a non-string type. A binary collation turns a text type into its binary twin. */
int sql_type_apply_collate(sql_coltype *t, const char *name, size_t len, cm_err *err);
void sql_coltype_free(sql_coltype *t);
/* Deep copy (members duplicated). */
int sql_coltype_copy(sql_coltype *dst, const sql_coltype *src, cm_err *err);

/* Appends the type as SHOW CREATE TABLE prints it (`int`, `char(120)`, `decimal(10,2) unsigned`,
 * `enum('a','b')`). */
int sql_type_format(const sql_coltype *t, cm_buf *out);

/* The declared type to give SQLite for this column in a virtual table's schema, which sets the
 * column's affinity: "INTEGER", "REAL", "TEXT", "BLOB" or "NUMERIC". */
const char *sql_type_sqlite_decl(const sql_coltype *t);
/* The collation to declare after the type ("<col> NUMERIC COLLATE tessera_decimal"), or NULL.
 * DECIMAL values reach SQLite as exact text; this collation makes SQLite order and group them as
 * numbers (ORDER BY, MIN/MAX, GROUP BY, DISTINCT, joins on two DECIMAL columns), while NUMERIC
 * affinity makes comparisons with numbers numeric (docs/sql-layer.md, "Types"). Whoever declares
 * tables registers it once per connection:
 *     sqlite3_create_collation(db, SQL_TYPE_DECIMAL_COLLATION, SQLITE_UTF8, NULL,
 *                              sql_type_decimal_collate); */
const char *sql_type_sqlite_collation(const sql_coltype *t);
#define SQL_TYPE_DECIMAL_COLLATION "tessera_decimal"
/* A SQLite collation callback (xCompare) over decimal texts: exact numeric order ('9.5' = '9.50'
 * < '10'); texts that are not decimals sort after every number, by their bytes. arg is unused. */
int sql_type_decimal_collate(void *arg, int n1, const void *a, int n2, const void *b);

/* Checks and converts in (a value from SQLite or a client) for storage in a column of type t.
 * strict: STRICT_TRANS_TABLES/STRICT_ALL_TABLES in effect — a value that does not fit is an error
 * (1264 out of range, 1406 data too long, 1366 incorrect value, 1292 incorrect datetime,
 * 1265 data truncated; invalid JSON is 3140 in both modes); otherwise it is clamped/truncated and
 * *note says so (note may be NULL). Byte payloads of
 * *out point into in or into scratch (appended to; the caller resets it between rows). A NULL
 * in gives a NULL datum (NOT NULL is the caller's check). col_name is for messages. */
int sql_type_store(const sql_coltype *t, const char *col_name, const sql_value *in, bool strict,
                   cm_datum *out, cm_buf *scratch, sql_type_note *note, cm_err *err);
/* sql_type_store with the row number MySQL puts in its messages ("at row N"; sql_type_store
 * says row 1). Scratch: one call appends at most SQL_TYPE_STORE_SCRATCH_MAX bytes, and appending
 * may move scratch's memory — which would leave the datums of earlier columns pointing at freed
 * memory. A caller converting several values into one scratch therefore reserves
 * ncols * SQL_TYPE_STORE_SCRATCH_MAX bytes (cm_buf_reserve) before the first call.
 * Warnings and notes: *note holds the last one of the call (note->code 0: none). Some are notes
 * even in strict mode, as in MySQL: 1265 for DECIMAL rounding, for trailing spaces cut from a
 * CHAR/VARCHAR, for a time part dropped by a DATE column. */
int sql_type_store_row(const sql_coltype *t, const char *col_name, uint64_t row,
                       const sql_value *in, bool strict, cm_datum *out, cm_buf *scratch,
                       sql_type_note *note, cm_err *err);
/* Most bytes one sql_type_store call appends to scratch: a BINARY(255) padded value. */
#define SQL_TYPE_STORE_SCRATCH_MAX 256

/* How a comparison operand converted for a key relates to the operand itself. */
typedef enum sql_type_fit {
    SQL_TYPE_FIT_EXACT = 0, /* out has in's value */
    SQL_TYPE_FIT_UP,        /* out is the smallest column value above in (5.5 → 6 for INT) */
    SQL_TYPE_FIT_DOWN,      /* out is the largest column value below in (DATE from a datetime) */
    SQL_TYPE_FIT_NONE,      /* out tells nothing: no value of the column equals in, and in's
                               place in the key order is unknown (clamped, not a number, a bad
                               date, an unknown ENUM member …) */
} sql_type_fit;

/* Converts in — the other side of a comparison with a column of type t (a constraint value) —
 * into a datum for a key, like sql_type_store in non-strict mode, and says in *fit how out
 * relates to in. For an index range:
 *     col = in   EXACT: look up out;            anything else: nothing matches
 *     col > in   EXACT/DOWN: keys > out;         UP: keys >= out;   NONE: no lower bound
 *     col >= in  EXACT/UP: keys >= out;          DOWN: keys > out;  NONE: no lower bound
 *     col < in   EXACT/UP: keys < out;           DOWN: keys <= out; NONE: no upper bound
 *     col <= in  EXACT/DOWN: keys <= out;        UP: keys < out;    NONE: no upper bound
 * and only where sql_type_key_ordered(t). A NULL in gives a NULL datum and EXACT. Returns 0 or
 * CM_E_NOMEM (scratch as for sql_type_store). */
int sql_type_key_value(const sql_coltype *t, const sql_value *in, cm_datum *out, cm_buf *scratch,
                       sql_type_fit *fit, cm_err *err);
/* Whether the key order of t's values is the order SQLite sees in their loaded form, so that
 * range predicates may be served from keys: false for ENUM and SET (keys hold member numbers,
 * SQLite sees member text), TIME (its text does not sort: '-01:00:00', '100:00:00'), BIT (SQLite
 * sees BLOBs, which never compare with numbers) and JSON (not indexable). */
bool sql_type_key_ordered(const sql_coltype *t);

/* Converts a stored datum of a column of type t into the value SQLite works with: integers as
 * INT/UINT, floats as DOUBLE, DECIMAL as TEXT in its exact form, strings as TEXT (CHAR without
 * trailing spaces), bytes as BLOB, temporal types as TEXT in MySQL's format with fsp digits, YEAR
 * as INT, ENUM/SET as their member text, BIT as BLOB (big-endian bytes), JSON as TEXT in the
 * form MySQL prints it (sorted keys, ", " and ": "). Text is appended to scratch and *out points
 * into it (valid until scratch changes). */
int sql_type_load(const sql_coltype *t, const cm_datum *in, sql_value *out, cm_buf *scratch,
                  cm_err *err);
/* (sql_type_load, continued.) Exceptions to "in scratch": STRING and BYTES values point into
 * in's bytes (no copy) and live as long as they do; an ENUM's text points into t's members. */

/* Result-set metadata of a table column of type t (name borrowed): wire type, flags (NOT_NULL,
 * UNSIGNED, BINARY, ENUM, SET, ZEROFILL, BLOB, PRI_KEY/UNIQUE_KEY/MULTIPLE_KEY from key_flags),
 * display length, collation and decimals — as MySQL 8.0 reports them. */
sql_column sql_type_column(const sql_coltype *t, const char *name, bool not_null,
                           uint16_t key_flags);

/* The time zone TIMESTAMP values are read and shown in on this thread (UTC + offset_s, or the
 * system's zone): set by the session before each statement (sql_type_tz.c). */
void sql_type_set_tz(int system, int64_t offset_s);
/* UTC fields to that zone's (a stored TIMESTAMP shown, NOW() of a DEFAULT CURRENT_TIMESTAMP). */
void sql_type_tz_from_utc(cm_datetime *dt);

#endif
