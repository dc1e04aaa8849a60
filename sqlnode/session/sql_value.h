/*
 * sql_value.h — what a session hands to the protocol: values, result-set columns and the sink
 * that receives a statement's results.
 *
 * It sits between the session (which runs statements, through SQLite) and the MySQL protocol
 * module (which encodes results as text or binary rows): neither includes the other's
 * libraries, and the fuzz target and unit tests can put their own sink in place of a socket.
 */
#ifndef SQL_VALUE_H
#define SQL_VALUE_H

#include <stddef.h>
#include <stdint.h>

typedef enum sql_vtype {
    SQL_V_NULL = 0,
    SQL_V_INT,    /* i */
    SQL_V_UINT,   /* u (an unsigned integer above INT64_MAX, or declared unsigned) */
    SQL_V_DOUBLE, /* d */
    SQL_V_TEXT,   /* s, n: UTF-8 text */
    SQL_V_BLOB,   /* s, n: bytes */
} sql_vtype;

typedef struct sql_value {
    sql_vtype type;
    int64_t i;
    uint64_t u;
    double d;
    const char *s; /* borrowed; valid for the call it is passed to */
    size_t n;
} sql_value;

static inline sql_value sql_value_null(void)
{
    sql_value v = {SQL_V_NULL, 0, 0, 0.0, NULL, 0};
    return v;
}
static inline sql_value sql_value_int(int64_t i)
{
    sql_value v = {SQL_V_INT, i, 0, 0.0, NULL, 0};
    return v;
}
static inline sql_value sql_value_text(const char *s, size_t n)
{
    sql_value v = {SQL_V_TEXT, 0, 0, 0.0, s, n};
    return v;
}

/* One column of a result set. Types, flags and charsets are the protocol's codes
 * (mysql/sql_my_const.h). */
typedef struct sql_column {
    const char *name; /* borrowed for the duration of the result set */
    size_t name_len;
    uint8_t type;
    uint16_t flags;
    uint16_t charset; /* collation id: 63 for numbers and bytes */
    uint32_t length;  /* display length */
    uint8_t decimals;
} sql_column;

/* End of one statement's result. */
typedef struct sql_done {
    uint64_t affected_rows;
    uint64_t last_insert_id;
    uint16_t warnings;
    uint16_t status;  /* SQL_STATUS_* flags of the session after the statement */
    int more;         /* another statement's result follows (multi-statements) */
    const char *info; /* optional human-readable text of an OK packet; borrowed */
} sql_done;

/* Receives results. Each callback returns 0 or a negative CM_E_* code (a write failed), which
 * stops the statement. A result set is columns(), then row() per row, then done(); a statement
 * without a result set calls done() only (an OK packet). */
typedef struct sql_sink sql_sink;
struct sql_sink {
    int (*columns)(sql_sink *sink, const sql_column *cols, int ncols);
    int (*row)(sql_sink *sink, const sql_value *vals, int ncols);
    int (*done)(sql_sink *sink, const sql_done *d);
};

#endif
