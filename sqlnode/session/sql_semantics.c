/* sql_semantics.c — MySQL comparison coercion and user-variable assignment (sql_numeric.h).
 *
 * tessera_num(x): the number MySQL reads from x when a string meets a number in a comparison —
 * the longest numeric prefix (leading spaces, sign, digits, point, exponent), 0 when there is
 * none, warning 1292 "Truncated incorrect DOUBLE value" when anything but trailing spaces is
 * left over. Numbers and NULL pass through. The type inference (sql_typeinfer.c) wraps the
 * string side of a string-number comparison in it.
 *
 * __tsr_setvar(name, value): `@name := value` inside an expression — sets the session's user
 * variable and returns the value; not deterministic, so SQLite evaluates it per row. */
#include "sql_numeric.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEM_NUM_TEXT_MAX 400 /* longest numeric prefix read exactly; beyond, it is cut there */

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* Length of the numeric prefix of p[0, n) after leading spaces start at *lead; *integral set
 * when it has neither point nor exponent. */
static size_t num_prefix(const unsigned char *p, size_t n, size_t *lead, int *integral)
{
    size_t i = 0;
    while (i < n && is_space(p[i])) {
        i++;
    }
    *lead = i;
    *integral = 1;
    size_t b = i;
    if (i < n && (p[i] == '+' || p[i] == '-')) {
        i++;
    }
    size_t digits = 0;
    while (i < n && is_digit(p[i])) {
        i++;
        digits++;
    }
    if (i < n && p[i] == '.') {
        size_t j = i + 1, frac = 0;
        while (j < n && is_digit(p[j])) {
            j++;
            frac++;
        }
        if (digits + frac > 0) {
            i = j;
            digits += frac;
            *integral = 0;
        }
    }
    if (digits == 0) {
        return 0;
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        size_t j = i + 1;
        if (j < n && (p[j] == '+' || p[j] == '-')) {
            j++;
        }
        if (j < n && is_digit(p[j])) {
            while (j < n && is_digit(p[j])) {
                j++;
            }
            i = j;
            *integral = 0;
        }
    }
    return i - b;
}

static void warn_truncated(sql_sess *s, const unsigned char *p, size_t n)
{
    char msg[160];
    int len = n > 64 ? 64 : (int)n;
    snprintf(msg, sizeof(msg), "Truncated incorrect DOUBLE value: '%.*s'", len, (const char *)p);
    sql_diag_add(s, SQL_DIAG_WARNING, 1292, "%s", msg);
}

static void f_num(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    int t = sqlite3_value_type(argv[0]);
    if (t == SQLITE_NULL || t == SQLITE_INTEGER || t == SQLITE_FLOAT) {
        sqlite3_result_value(ctx, argv[0]);
        return;
    }
    const unsigned char *p =
        t == SQLITE_BLOB ? sqlite3_value_blob(argv[0]) : sqlite3_value_text(argv[0]);
    size_t n = (size_t)sqlite3_value_bytes(argv[0]);
    if (p == NULL) {
        p = (const unsigned char *)"";
        n = 0;
    }
    size_t lead = 0;
    int integral = 1;
    size_t len = num_prefix(p, n, &lead, &integral);
    size_t end = lead + len;
    while (end < n && is_space(p[end])) {
        end++;
    }
    if (len == 0 || end < n) {
        warn_truncated(sqlite3_user_data(ctx), p, n);
    }
    if (len == 0) {
        sqlite3_result_int64(ctx, 0);
        return;
    }
    char buf[SEM_NUM_TEXT_MAX + 1];
    if (len > SEM_NUM_TEXT_MAX) {
        len = SEM_NUM_TEXT_MAX;
        integral = 0;
    }
    memcpy(buf, p + lead, len);
    buf[len] = '\0';
    if (integral) {
        char *e = NULL;
        errno = 0;
        long long v = strtoll(buf, &e, 10);
        if (errno == 0 && e == buf + len) {
            sqlite3_result_int64(ctx, v);
            return;
        }
    }
    sqlite3_result_double(ctx, strtod(buf, NULL));
}

static void f_setvar(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    sql_sess *s = sqlite3_user_data(ctx);
    const char *name = (const char *)sqlite3_value_text(argv[0]);
    size_t nlen = (size_t)sqlite3_value_bytes(argv[0]);
    sql_value v = sql_value_null();
    switch (sqlite3_value_type(argv[1])) {
    case SQLITE_INTEGER:
        v.type = SQL_V_INT;
        v.i = sqlite3_value_int64(argv[1]);
        break;
    case SQLITE_FLOAT:
        v.type = SQL_V_DOUBLE;
        v.d = sqlite3_value_double(argv[1]);
        break;
    case SQLITE_TEXT:
        v.type = SQL_V_TEXT;
        v.s = (const char *)sqlite3_value_text(argv[1]);
        v.n = (size_t)sqlite3_value_bytes(argv[1]);
        break;
    case SQLITE_BLOB:
        v.type = SQL_V_BLOB;
        v.s = sqlite3_value_blob(argv[1]);
        v.n = (size_t)sqlite3_value_bytes(argv[1]);
        if (v.s == NULL) {
            v.s = "";
        }
        break;
    default:
        break;
    }
    cm_err err;
    cm_err_clear(&err);
    if (name == NULL || sql_uvar_set(s, name, nlen, &v, &err) != 0) {
        cm_err_set(&s->fn_err, err.code ? err.code : CM_E_NOMEM, "%s",
                   err.code ? err.msg : "out of memory");
        sqlite3_result_error(ctx, err.code ? err.msg : "out of memory", -1);
        return;
    }
    sqlite3_result_value(ctx, argv[1]);
}

int sql_sem_register(sql_sess *s)
{
    if (sqlite3_create_function_v2(s->db, "tessera_num", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, s,
                                   f_num, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_create_function_v2(s->db, "__tsr_setvar", 2, SQLITE_UTF8, s, f_setvar, NULL, NULL,
                                   NULL) != SQLITE_OK) {
        return CM_E_INTERNAL;
    }
    return 0;
}
