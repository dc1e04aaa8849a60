/*
 * sql_func_int.h — what the files of MySQL's built-in functions share (sql_func.c registers
 * them all from sql_func_register): the registration tables of the string, time, JSON and
 * aggregate families, and small helpers for reading arguments and raising MySQL errors and
 * warnings from inside a function. Private to the session module.
 */
#ifndef SQL_FUNC_INT_H
#define SQL_FUNC_INT_H

#include "sql_session_int.h"

#include <locale.h>
#include <stddef.h>
#include <stdint.h>

#define SQL_FN_SESS(ctx) ((sql_sess *)sqlite3_user_data(ctx))

typedef void (*sql_fn_cb)(sqlite3_context *, int, sqlite3_value **);

/* One scalar function: name, argument count (-1: any), deterministic, handler. */
typedef struct sql_fn_def {
    const char *name;
    int nargs;
    int deterministic;
    sql_fn_cb fn;
} sql_fn_def;

/* Registers n scalar functions with the session as user data. Returns 0 or CM_E_INTERNAL. */
int sql_fn_register_table(sql_sess *s, const sql_fn_def *defs, size_t n);

/* Raises MySQL error code from inside a function (SQLite stops the statement; sql_exec reports
 * this error instead of SQLite's). */
void sql_fn_error(sqlite3_context *ctx, int code, const char *msg);
/* Adds a warning to the running statement (SHOW WARNINGS). */
void sql_fn_warn(sqlite3_context *ctx, int mysql_errno, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The bytes of an argument: text (UTF-8) or blob (bytes; blob set). Never NULL pointers. */
typedef struct sql_fn_str {
    const unsigned char *p;
    size_t n;
    int blob;
} sql_fn_str;

sql_fn_str sql_fn_get_str(sqlite3_value *v);
/* Whether any of argv[0, argc) is NULL. */
int sql_fn_any_null(int argc, sqlite3_value **argv);
/* Result bytes as text, or as a blob when like->blob (a binary argument gives a binary
 * result). */
void sql_fn_result_str(sqlite3_context *ctx, const sql_fn_str *like, const void *p, size_t n);
/* The connection's longest value (max_allowed_packet). */
int64_t sql_fn_max_len(sqlite3_context *ctx);
/* UTF-8 characters of p[0, n) (bytes when blob), and the byte offset of character k. */
size_t sql_fn_char_count(const unsigned char *p, size_t n, int blob);
size_t sql_fn_char_offset(const unsigned char *p, size_t n, size_t k, int blob);

/* The C.UTF-8 locale (created once; (locale_t)0 when the system has none): Unicode case
 * mapping (towupper_l) and UTF-8 aware regular expressions (uselocale around regcomp/regexec). */
locale_t sql_fn_utf8_locale(void);

/* Whether s[0, n) is plain decimal text ([-]digits[.digits]), the form in which DECIMAL
 * columns reach SQLite (the vtab keeps them exact as TEXT; their collation is lost once they
 * are a function's argument). */
int sql_fn_is_decimal_text(const unsigned char *s, size_t n);

/* ROUND (truncate 0) or TRUNCATE (1) of v as exact decimal text: integers and text digit by
 * digit, doubles by their shortest decimal text (so a DECIMAL literal such as 1.005 rounds as
 * written). The text keeps min(places, the value's own fraction digits) decimals. Returns its
 * length, or 0 when v is not a decimal number (sql_func_str.c). */
size_t sql_fn_dec_round_text(sqlite3_value *v, int places, int truncate, char *out, size_t cap);

/* Registration of each family (sql_func_str.c, sql_func_num.c, sql_func_time.c,
 * sql_func_json.c, sql_func_agg.c, sql_func_digest.c, sql_func_regex.c). */
int sql_func_str_register(sql_sess *s);
int sql_func_num_register(sql_sess *s);
int sql_func_time_register(sql_sess *s);
int sql_func_json_register(sql_sess *s);
int sql_func_agg_register(sql_sess *s);
int sql_func_digest_register(sql_sess *s);
int sql_func_regex_register(sql_sess *s);

#endif
