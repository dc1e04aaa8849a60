/* sql_func_util.c — helpers shared by the built-in function files (sql_func_int.h). */
#include "sql_func_int.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

int sql_fn_register_table(sql_sess *s, const sql_fn_def *defs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int flags = SQLITE_UTF8 | (defs[i].deterministic ? SQLITE_DETERMINISTIC : 0);
        if (sqlite3_create_function_v2(s->db, defs[i].name, defs[i].nargs, flags, s, defs[i].fn,
                                       NULL, NULL, NULL) != SQLITE_OK) {
            return CM_E_INTERNAL;
        }
    }
    return 0;
}

void sql_fn_error(sqlite3_context *ctx, int code, const char *msg)
{
    sql_sess *s = SQL_FN_SESS(ctx);
    if (s != NULL) {
        cm_err_set(&s->fn_err, code, "%s", msg);
    }
    sqlite3_result_error(ctx, msg, -1);
}

void sql_fn_warn(sqlite3_context *ctx, int mysql_errno, const char *fmt, ...)
{
    sql_sess *s = SQL_FN_SESS(ctx);
    if (s == NULL) {
        return;
    }
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    sql_diag_add(s, SQL_DIAG_WARNING, mysql_errno, "%s", msg);
}

sql_fn_str sql_fn_get_str(sqlite3_value *v)
{
    sql_fn_str a;
    a.blob = sqlite3_value_type(v) == SQLITE_BLOB;
    a.p = a.blob ? sqlite3_value_blob(v) : sqlite3_value_text(v);
    a.n = (size_t)sqlite3_value_bytes(v);
    if (a.p == NULL) {
        a.p = (const unsigned char *)"";
        a.n = 0;
    }
    return a;
}

int sql_fn_any_null(int argc, sqlite3_value **argv)
{
    for (int i = 0; i < argc; i++) {
        if (sqlite3_value_type(argv[i]) == SQLITE_NULL) {
            return 1;
        }
    }
    return 0;
}

void sql_fn_result_str(sqlite3_context *ctx, const sql_fn_str *like, const void *p, size_t n)
{
    if ((int64_t)n > sql_fn_max_len(ctx)) {
        sqlite3_result_error_toobig(ctx);
    } else if (like != NULL && like->blob) {
        sqlite3_result_blob(ctx, n ? p : "", (int)n, SQLITE_TRANSIENT);
    } else {
        sqlite3_result_text(ctx, n ? (const char *)p : "", (int)n, SQLITE_TRANSIENT);
    }
}

int64_t sql_fn_max_len(sqlite3_context *ctx)
{
    return sqlite3_limit(sqlite3_context_db_handle(ctx), SQLITE_LIMIT_LENGTH, -1);
}

size_t sql_fn_char_count(const unsigned char *p, size_t n, int blob)
{
    if (blob) {
        return n;
    }
    size_t c = 0;
    for (size_t i = 0; i < n; i++) {
        c += (p[i] & 0xc0) != 0x80;
    }
    return c;
}

size_t sql_fn_char_offset(const unsigned char *p, size_t n, size_t k, int blob)
{
    if (blob) {
        return k < n ? k : n;
    }
    size_t i = 0;
    while (i < n && k > 0) {
        i++;
        while (i < n && (p[i] & 0xc0) == 0x80) {
            i++;
        }
        k--;
    }
    return i;
}

int sql_fn_is_decimal_text(const unsigned char *s, size_t n)
{
    size_t i = (n > 0 && s[0] == '-') ? 1 : 0, digits = 0;
    int dot = 0;
    for (; i < n; i++) {
        if (s[i] == '.' && !dot) {
            dot = 1;
        } else if (s[i] >= '0' && s[i] <= '9') {
            digits++;
        } else {
            return 0;
        }
    }
    return digits > 0 && s[n - 1] != '.';
}

static locale_t utf8_locale;
static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;

static void utf8_locale_init(void)
{
    utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

locale_t sql_fn_utf8_locale(void)
{
    pthread_once(&utf8_once, utf8_locale_init);
    return utf8_locale;
}
