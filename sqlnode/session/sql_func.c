/*
 * sql_func.c — MySQL built-in functions registered on each session's SQLite connection, with
 * MySQL's semantics where they differ from SQLite's (CONCAT is NULL if any argument is NULL,
 * LENGTH counts bytes, FLOOR returns an integer …), plus the accessors the translator emits for
 * `@@var` and `@var`. Functions that read the session get it as their user data.
 */
#include "sql_session_int.h"

#include "sql_func_int.h"

#include "../mysql/sql_my_const.h"
#include "sql_charset.h"

#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SESS(ctx) ((sql_sess *)sqlite3_user_data(ctx))

/* Raises a MySQL error from inside a function: SQLite stops the statement and
 * sql_exec_sqlite_error reports this error instead of SQLite's text. */
static void fn_error(sqlite3_context *ctx, int code, const char *msg)
{
    sql_sess *s = SESS(ctx);
    if (s != NULL) {
        cm_err_set(&s->fn_err, code, "%s", msg);
    }
    sqlite3_result_error(ctx, msg, -1);
}

static int64_t max_len(sqlite3_context *ctx)
{
    return sqlite3_limit(sqlite3_context_db_handle(ctx), SQLITE_LIMIT_LENGTH, -1);
}

/* ---- time ---- */

static void split_time(sql_sess *s, int64_t us, struct tm *tm, int utc)
{
    time_t secs = (time_t)(us >= 0 ? us / 1000000 : (us - 999999) / 1000000);
    if (utc) {
        gmtime_r(&secs, tm);
    } else if (s->tz_system) {
        localtime_r(&secs, tm);
    } else {
        secs += (time_t)s->tz_offset_s;
        gmtime_r(&secs, tm);
    }
}

static void format_tm(const struct tm *tm, int64_t us, int kind, int fsp, char *buf, size_t cap)
{
    int n;
    if (kind == 1) {
        n = snprintf(buf, cap, "%04d-%02d-%02d", tm->tm_year + 1900, tm->tm_mon + 1, tm->tm_mday);
    } else if (kind == 2) {
        n = snprintf(buf, cap, "%02d:%02d:%02d", tm->tm_hour, tm->tm_min, tm->tm_sec);
    } else {
        n = snprintf(buf, cap, "%04d-%02d-%02d %02d:%02d:%02d", tm->tm_year + 1900, tm->tm_mon + 1,
                     tm->tm_mday, tm->tm_hour, tm->tm_min, tm->tm_sec);
    }
    if (kind != 1 && fsp > 0 && n > 0 && (size_t)n < cap) {
        char frac[16];
        int64_t f = us % 1000000;
        if (f < 0) {
            f += 1000000;
        }
        snprintf(frac, sizeof(frac), ".%06lld", (long long)f);
        frac[1 + (fsp > 6 ? 6 : fsp)] = '\0';
        snprintf(buf + n, cap - (size_t)n, "%s", frac);
    }
}

void sql_func_format_time(sql_sess *s, int64_t us, int kind, int fsp, char *buf, size_t cap)
{
    struct tm tm;
    split_time(s, us, &tm, 0);
    format_tm(&tm, us, kind, fsp, buf, cap);
}

static int64_t stmt_time_us(sql_sess *s)
{
    if (s->timestamp_fixed > 0) {
        return (int64_t)(s->timestamp_fixed * 1e6);
    }
    return s->stmt_start_us;
}

static int fsp_arg(sqlite3_context *ctx, int argc, sqlite3_value **argv, int *fsp)
{
    *fsp = 0;
    if (argc > 0) {
        int64_t f = sqlite3_value_int64(argv[0]);
        if (f < 0 || f > 6) {
            char msg[96];
            snprintf(msg, sizeof(msg), "Too-big precision %lld specified. Maximum is 6.",
                     (long long)f);
            fn_error(ctx, CM_E_TOO_BIG_PRECISION, msg);
            return -1;
        }
        *fsp = (int)f;
    }
    return 0;
}

/* kind 0 datetime, 1 date, 2 time; which: 0 statement time, 1 sysdate (now), 2 utc */
static void time_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv, int kind, int which)
{
    sql_sess *s = SESS(ctx);
    int fsp;
    if (fsp_arg(ctx, argc, argv, &fsp) != 0) {
        return;
    }
    int64_t us = which == 1 ? sql_sess_now_us(s) : stmt_time_us(s);
    struct tm tm;
    split_time(s, us, &tm, which == 2);
    char buf[48];
    format_tm(&tm, us, kind, fsp, buf, sizeof(buf));
    sqlite3_result_text(ctx, buf, -1, SQLITE_TRANSIENT);
}

static void f_now(sqlite3_context *c, int n, sqlite3_value **v)
{
    time_fn(c, n, v, 0, 0);
}
static void f_sysdate(sqlite3_context *c, int n, sqlite3_value **v)
{
    time_fn(c, n, v, 0, 1);
}
static void f_utc_timestamp(sqlite3_context *c, int n, sqlite3_value **v)
{
    time_fn(c, n, v, 0, 2);
}
static void f_curdate(sqlite3_context *c, int n, sqlite3_value **v)
{
    time_fn(c, n, v, 1, 0);
}
static void f_utc_date(sqlite3_context *c, int n, sqlite3_value **v)
{
    time_fn(c, n, v, 1, 2);
}
static void f_curtime(sqlite3_context *c, int n, sqlite3_value **v)
{
    time_fn(c, n, v, 2, 0);
}
static void f_utc_time(sqlite3_context *c, int n, sqlite3_value **v)
{
    time_fn(c, n, v, 2, 2);
}

/* Parses 'YYYY-MM-DD[ HH:MM:SS[.ffffff]]' into a broken-down time. */
static int parse_datetime(const char *p, struct tm *tm, int *usec)
{
    int y, mo, d, h = 0, mi = 0, se = 0, consumed = 0;
    *usec = 0;
    memset(tm, 0, sizeof(*tm));
    if (sscanf(p, "%4d-%2d-%2d%n", &y, &mo, &d, &consumed) != 3) {
        return -1;
    }
    const char *r = p + consumed;
    if (*r == ' ' || *r == 'T') {
        if (sscanf(r + 1, "%2d:%2d:%2d%n", &h, &mi, &se, &consumed) != 3) {
            return -1;
        }
        r += 1 + consumed;
        if (*r == '.') {
            int digits = 0, f = 0;
            r++;
            while (*r >= '0' && *r <= '9' && digits < 6) {
                f = f * 10 + (*r - '0');
                r++;
                digits++;
            }
            while (digits++ < 6) {
                f *= 10;
            }
            *usec = f;
        }
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59) {
        return -1;
    }
    tm->tm_year = y - 1900;
    tm->tm_mon = mo - 1;
    tm->tm_mday = d;
    tm->tm_hour = h;
    tm->tm_min = mi;
    tm->tm_sec = se;
    return 0;
}

static void f_unix_timestamp(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    sql_sess *s = SESS(ctx);
    if (argc == 0) {
        sqlite3_result_int64(ctx, stmt_time_us(s) / 1000000);
        return;
    }
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    const char *p = (const char *)sqlite3_value_text(argv[0]);
    struct tm tm;
    int usec;
    if (p == NULL || parse_datetime(p, &tm, &usec) != 0) {
        sqlite3_result_null(ctx);
        return;
    }
    time_t t;
    if (s->tz_system) {
        tm.tm_isdst = -1;
        t = mktime(&tm);
    } else {
        t = timegm(&tm) - (time_t)s->tz_offset_s;
    }
    if (usec == 0) {
        sqlite3_result_int64(ctx, (int64_t)t);
    } else {
        sqlite3_result_double(ctx, (double)t + usec / 1e6);
    }
}

/* ---- session information ---- */

static void f_database(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    (void)argv;
    sql_sess *s = SESS(ctx);
    if (s->has_db) {
        sqlite3_result_text(ctx, s->dbname, -1, SQLITE_TRANSIENT);
    } else {
        sqlite3_result_null(ctx);
    }
}

static void f_version(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    (void)argv;
    sqlite3_result_text(ctx, SQL_SERVER_VERSION, -1, SQLITE_STATIC);
}

static void f_connection_id(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    (void)argv;
    sqlite3_result_int64(ctx, (int64_t)SESS(ctx)->id);
}

static void f_user(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    (void)argv;
    sql_sess *s = SESS(ctx);
    char buf[SQL_USER_MAX + SQL_HOST_MAX + 2];
    const char *host = s->host;
    size_t hl = strcspn(host, ":"); /* the address without its port */
    snprintf(buf, sizeof(buf), "%s@%.*s", s->user, (int)hl, host);
    sqlite3_result_text(ctx, buf, -1, SQLITE_TRANSIENT);
}

static void f_current_user(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    (void)argv;
    sql_sess *s = SESS(ctx);
    char buf[SQL_USER_MAX + 300];
    sql_priv_current_user(s, buf, sizeof(buf)); /* the matched account */
    sqlite3_result_text(ctx, buf, -1, SQLITE_TRANSIENT);
}

static void f_last_insert_id(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    sql_sess *s = SESS(ctx);
    if (argc == 1) {
        int64_t v = sqlite3_value_int64(argv[0]); /* NULL remembers 0 and returns NULL */
        s->last_insert_id = (uint64_t)v;
        sqlite3_result_value(ctx, argv[0]);
        if (sqlite3_value_type(argv[0]) != SQLITE_NULL) {
            sqlite3_result_int64(ctx, v);
        }
        return;
    }
    sqlite3_result_int64(ctx, (int64_t)s->last_insert_id);
}

static void f_row_count(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    (void)argv;
    sqlite3_result_int64(ctx, SESS(ctx)->row_count);
}

static void f_found_rows(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    (void)argv;
    sqlite3_result_int64(ctx, (int64_t)SESS(ctx)->found_rows);
}

static void f_sleep(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    sql_sess *s = SESS(ctx);
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        fn_error(ctx, CM_E_WRONG_ARGUMENTS, "Incorrect arguments to sleep.");
        return;
    }
    double secs = sqlite3_value_double(argv[0]);
    if (secs < 0) {
        fn_error(ctx, CM_E_WRONG_ARGUMENTS, "Incorrect arguments to sleep.");
        return;
    }
    int64_t ms = (int64_t)(secs * 1000.0);
    int stopped;
    if (s->env->sleep_ms != NULL) {
        stopped = s->env->sleep_ms(s->env->user, ms, &s->killed);
    } else {
        stopped = 0;
        while (ms > 0 && !stopped) {
            int64_t step = ms < 10 ? ms : 10;
            struct timespec ts = {0, (long)step * 1000000L};
            nanosleep(&ts, NULL);
            ms -= step;
            stopped = __atomic_load_n(&s->killed, __ATOMIC_ACQUIRE) != 0;
        }
    }
    if (stopped) {
        fn_error(ctx, CM_E_QUERY_INTERRUPTED, "Query execution was interrupted");
        return;
    }
    sqlite3_result_int(ctx, 0);
}

static void f_charset(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    int t = sqlite3_value_type(argv[0]);
    sqlite3_result_text(ctx, t == SQLITE_TEXT ? "utf8mb4" : "binary", -1, SQLITE_STATIC);
}

static void f_collation(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    sql_sess *s = SESS(ctx);
    if (sqlite3_value_type(argv[0]) != SQLITE_TEXT) {
        sqlite3_result_text(ctx, "binary", -1, SQLITE_STATIC);
        return;
    }
    const sql_collation *c = sql_collation_by_id(sql_sess_collation(s));
    sqlite3_result_text(ctx, c ? c->name : "utf8mb4_bin", -1, SQLITE_STATIC);
}

static void f_sysvar(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    sql_sess *s = SESS(ctx);
    int id = (int)sqlite3_value_int64(argv[0]);
    int scope = (int)sqlite3_value_int64(argv[1]);
    cm_buf buf = CM_BUF_INIT;
    sql_value v;
    if (sql_sysvar_def_of(id) == NULL) {
        fn_error(ctx, CM_E_UNKNOWN_SYSVAR, "Unknown system variable");
        return;
    }
    if (sql_sess_sysvar_get(s, id, scope, &v, &buf) != 0) {
        cm_buf_fini(&buf);
        sqlite3_result_error_nomem(ctx);
        return;
    }
    switch (v.type) {
    case SQL_V_INT:
        sqlite3_result_int64(ctx, v.i);
        break;
    case SQL_V_UINT:
        if (v.u > (uint64_t)INT64_MAX) {
            char tmp[32];
            snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)v.u);
            sqlite3_result_text(ctx, tmp, -1, SQLITE_TRANSIENT);
        } else {
            sqlite3_result_int64(ctx, (int64_t)v.u);
        }
        break;
    case SQL_V_DOUBLE:
        sqlite3_result_double(ctx, v.d);
        break;
    case SQL_V_TEXT:
        sqlite3_result_text(ctx, v.s, (int)v.n, SQLITE_TRANSIENT);
        break;
    default:
        sqlite3_result_null(ctx);
        break;
    }
    cm_buf_fini(&buf);
}

static void f_uservar(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    sql_sess *s = SESS(ctx);
    const char *name = (const char *)sqlite3_value_text(argv[0]);
    const sql_uvar *u = name ? sql_uvar_get(s, name, (size_t)sqlite3_value_bytes(argv[0])) : NULL;
    if (u == NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    switch (u->type) {
    case SQL_V_INT:
        sqlite3_result_int64(ctx, u->i);
        break;
    case SQL_V_DOUBLE:
        sqlite3_result_double(ctx, u->d);
        break;
    case SQL_V_TEXT:
        sqlite3_result_text(ctx, u->s, (int)u->n, SQLITE_TRANSIENT);
        break;
    case SQL_V_BLOB:
        sqlite3_result_blob(ctx, u->s, (int)u->n, SQLITE_TRANSIENT);
        break;
    default:
        sqlite3_result_null(ctx);
        break;
    }
}

/* ---- strings ---- */

static int any_null(int argc, sqlite3_value **argv)
{
    for (int i = 0; i < argc; i++) {
        if (sqlite3_value_type(argv[i]) == SQLITE_NULL) {
            return 1;
        }
    }
    return 0;
}

/* Appends the text of argument v to b (numbers as SQLite renders them). */
static int append_value(cm_buf *b, sqlite3_value *v)
{
    const void *p;
    int n;
    if (sqlite3_value_type(v) == SQLITE_BLOB) {
        p = sqlite3_value_blob(v);
        n = sqlite3_value_bytes(v);
    } else {
        p = sqlite3_value_text(v);
        n = sqlite3_value_bytes(v);
    }
    return n > 0 && p != NULL ? cm_buf_append(b, p, (size_t)n) : 0;
}

static void result_buf(sqlite3_context *ctx, cm_buf *b, int blob)
{
    if ((int64_t)b->len > max_len(ctx)) {
        sqlite3_result_error_toobig(ctx);
    } else if (blob) {
        sqlite3_result_blob(ctx, b->ptr ? (const void *)b->ptr : "", (int)b->len, SQLITE_TRANSIENT);
    } else {
        sqlite3_result_text(ctx, b->ptr ? (const char *)b->ptr : "", (int)b->len, SQLITE_TRANSIENT);
    }
    cm_buf_fini(b);
}

static void f_concat(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    if (argc == 0) {
        sqlite3_result_error(ctx, "wrong number of arguments to function concat()", -1);
        return;
    }
    if (any_null(argc, argv)) {
        sqlite3_result_null(ctx);
        return;
    }
    cm_buf b = CM_BUF_INIT;
    int blob = 0;
    for (int i = 0; i < argc; i++) {
        blob |= sqlite3_value_type(argv[i]) == SQLITE_BLOB;
        if (append_value(&b, argv[i]) != 0 || (int64_t)b.len > max_len(ctx)) {
            cm_buf_fini(&b);
            sqlite3_result_error_toobig(ctx);
            return;
        }
    }
    result_buf(ctx, &b, blob);
}

static void f_concat_ws(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    if (argc < 2) {
        sqlite3_result_error(ctx, "wrong number of arguments to function concat_ws()", -1);
        return;
    }
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    cm_buf b = CM_BUF_INIT;
    int first = 1;
    for (int i = 1; i < argc; i++) {
        if (sqlite3_value_type(argv[i]) == SQLITE_NULL) {
            continue;
        }
        if ((!first && append_value(&b, argv[0]) != 0) || append_value(&b, argv[i]) != 0 ||
            (int64_t)b.len > max_len(ctx)) {
            cm_buf_fini(&b);
            sqlite3_result_error_toobig(ctx);
            return;
        }
        first = 0;
    }
    result_buf(ctx, &b, 0);
}

static void f_length(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    if (sqlite3_value_type(argv[0]) != SQLITE_BLOB) {
        (void)sqlite3_value_text(argv[0]);
    }
    sqlite3_result_int(ctx, sqlite3_value_bytes(argv[0]));
}

/* The byte offsets of UTF-8 characters: returns how many characters p[0, n) has. */
static size_t char_count(const unsigned char *p, size_t n, int blob)
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

/* Byte offset of character k (0-based) in p[0, n). */
static size_t char_offset(const unsigned char *p, size_t n, size_t k, int blob)
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

typedef struct str_arg {
    const unsigned char *p;
    size_t n;
    int blob;
} str_arg;

static str_arg get_str(sqlite3_value *v)
{
    str_arg a;
    a.blob = sqlite3_value_type(v) == SQLITE_BLOB;
    a.p = a.blob ? sqlite3_value_blob(v) : sqlite3_value_text(v);
    a.n = (size_t)sqlite3_value_bytes(v);
    if (a.p == NULL) {
        a.p = (const unsigned char *)"";
        a.n = 0;
    }
    return a;
}

static void result_str(sqlite3_context *ctx, const str_arg *a, const unsigned char *p, size_t n)
{
    if (a->blob) {
        sqlite3_result_blob(ctx, p, (int)n, SQLITE_TRANSIENT);
    } else {
        sqlite3_result_text(ctx, (const char *)p, (int)n, SQLITE_TRANSIENT);
    }
}

static void f_char_length(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    str_arg a = get_str(argv[0]);
    sqlite3_result_int64(ctx, (int64_t)char_count(a.p, a.n, a.blob));
}

static void f_substring(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    if (any_null(argc, argv)) {
        sqlite3_result_null(ctx);
        return;
    }
    str_arg a = get_str(argv[0]);
    int64_t chars = (int64_t)char_count(a.p, a.n, a.blob);
    int64_t pos = sqlite3_value_int64(argv[1]);
    int64_t len = argc > 2 ? sqlite3_value_int64(argv[2]) : INT64_MAX;
    if (pos == 0 || len <= 0 || pos > chars || -pos > chars) {
        result_str(ctx, &a, (const unsigned char *)"", 0);
        return;
    }
    int64_t start = pos > 0 ? pos - 1 : chars + pos;
    int64_t end = len > chars - start ? chars : start + len;
    size_t b0 = char_offset(a.p, a.n, (size_t)start, a.blob);
    size_t b1 = char_offset(a.p, a.n, (size_t)end, a.blob);
    result_str(ctx, &a, a.p + b0, b1 - b0);
}

static void f_left(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (any_null(2, argv)) {
        sqlite3_result_null(ctx);
        return;
    }
    str_arg a = get_str(argv[0]);
    int64_t k = sqlite3_value_int64(argv[1]);
    size_t end = k <= 0 ? 0 : char_offset(a.p, a.n, (size_t)k, a.blob);
    result_str(ctx, &a, a.p, end);
}

static void f_right(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (any_null(2, argv)) {
        sqlite3_result_null(ctx);
        return;
    }
    str_arg a = get_str(argv[0]);
    int64_t k = sqlite3_value_int64(argv[1]);
    int64_t chars = (int64_t)char_count(a.p, a.n, a.blob);
    if (k <= 0) {
        result_str(ctx, &a, a.p, 0);
        return;
    }
    size_t start = k >= chars ? 0 : char_offset(a.p, a.n, (size_t)(chars - k), a.blob);
    result_str(ctx, &a, a.p + start, a.n - start);
}

static void f_repeat(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (any_null(2, argv)) {
        sqlite3_result_null(ctx);
        return;
    }
    str_arg a = get_str(argv[0]);
    int64_t k = sqlite3_value_int64(argv[1]);
    if (k <= 0 || a.n == 0) {
        result_str(ctx, &a, (const unsigned char *)"", 0);
        return;
    }
    if ((double)k * (double)a.n > (double)max_len(ctx)) {
        sqlite3_result_error_toobig(ctx);
        return;
    }
    cm_buf b = CM_BUF_INIT;
    if (cm_buf_reserve(&b, (size_t)k * a.n) != 0) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    for (int64_t i = 0; i < k; i++) {
        cm_buf_append(&b, a.p, a.n);
    }
    result_buf(ctx, &b, a.blob);
}

static void f_space(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    int64_t k = sqlite3_value_int64(argv[0]);
    if (k <= 0) {
        sqlite3_result_text(ctx, "", 0, SQLITE_STATIC);
        return;
    }
    if (k > max_len(ctx)) {
        sqlite3_result_error_toobig(ctx);
        return;
    }
    char *p = malloc((size_t)k);
    if (p == NULL) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    memset(p, ' ', (size_t)k);
    sqlite3_result_text(ctx, p, (int)k, free);
}

static void f_reverse(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    str_arg a = get_str(argv[0]);
    unsigned char *out = malloc(a.n + 1);
    if (out == NULL) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    size_t w = a.n;
    for (size_t i = 0; i < a.n;) {
        size_t j = i + 1;
        while (!a.blob && j < a.n && (a.p[j] & 0xc0) == 0x80) {
            j++;
        }
        w -= j - i;
        memcpy(out + w, a.p + i, j - i);
        i = j;
    }
    result_str(ctx, &a, out, a.n);
    free(out);
}

static void pad(sqlite3_context *ctx, sqlite3_value **argv, int left)
{
    if (any_null(3, argv)) {
        sqlite3_result_null(ctx);
        return;
    }
    str_arg a = get_str(argv[0]);
    int64_t want = sqlite3_value_int64(argv[1]);
    str_arg pd = get_str(argv[2]);
    int64_t have = (int64_t)char_count(a.p, a.n, a.blob);
    if (want < 0) {
        sqlite3_result_null(ctx);
        return;
    }
    if (want <= have) {
        result_str(ctx, &a, a.p, char_offset(a.p, a.n, (size_t)want, a.blob));
        return;
    }
    int64_t padc = (int64_t)char_count(pd.p, pd.n, pd.blob);
    if (padc == 0) {
        sqlite3_result_null(ctx);
        return;
    }
    if ((double)want * 4.0 > (double)max_len(ctx)) {
        sqlite3_result_error_toobig(ctx);
        return;
    }
    cm_buf b = CM_BUF_INIT;
    int64_t need = want - have;
    if (!left) {
        cm_buf_append(&b, a.p, a.n);
    }
    while (need > 0) {
        int64_t k = need < padc ? need : padc;
        cm_buf_append(&b, pd.p, char_offset(pd.p, pd.n, (size_t)k, pd.blob));
        need -= k;
    }
    if (left) {
        cm_buf_append(&b, a.p, a.n);
    }
    result_buf(ctx, &b, a.blob);
}

static void f_lpad(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    pad(ctx, argv, 1);
}

static void f_rpad(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    pad(ctx, argv, 0);
}

static void f_locate(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    if (any_null(argc, argv)) {
        sqlite3_result_null(ctx);
        return;
    }
    str_arg sub = get_str(argv[0]);
    str_arg str = get_str(argv[1]);
    int64_t pos = argc > 2 ? sqlite3_value_int64(argv[2]) : 1;
    int64_t chars = (int64_t)char_count(str.p, str.n, str.blob);
    if (pos < 1 || pos > chars + 1) {
        sqlite3_result_int(ctx, 0);
        return;
    }
    size_t from = char_offset(str.p, str.n, (size_t)(pos - 1), str.blob);
    if (sub.n == 0) {
        sqlite3_result_int64(ctx, pos);
        return;
    }
    for (size_t i = from; i + sub.n <= str.n; i++) {
        if (memcmp(str.p + i, sub.p, sub.n) == 0) {
            sqlite3_result_int64(ctx, (int64_t)char_count(str.p, i, str.blob) + 1);
            return;
        }
    }
    sqlite3_result_int(ctx, 0);
}

static void f_strcmp(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (any_null(2, argv)) {
        sqlite3_result_null(ctx);
        return;
    }
    str_arg a = get_str(argv[0]);
    str_arg b = get_str(argv[1]);
    size_t n = a.n < b.n ? a.n : b.n;
    int c = n ? memcmp(a.p, b.p, n) : 0;
    if (c == 0) {
        c = a.n < b.n ? -1 : a.n > b.n ? 1 : 0;
    }
    sqlite3_result_int(ctx, c < 0 ? -1 : c > 0 ? 1 : 0);
}

static void f_ascii(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    str_arg a = get_str(argv[0]);
    sqlite3_result_int(ctx, a.n ? a.p[0] : 0);
}

static void f_hex(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    static const char hexd[] = "0123456789ABCDEF";
    int t = sqlite3_value_type(argv[0]);
    if (t == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    if (t == SQLITE_INTEGER || t == SQLITE_FLOAT) {
        double d = sqlite3_value_double(argv[0]);
        uint64_t u = t == SQLITE_INTEGER ? (uint64_t)sqlite3_value_int64(argv[0])
                                         : (uint64_t)(int64_t)llround(d);
        char buf[24];
        snprintf(buf, sizeof(buf), "%llX", (unsigned long long)u);
        sqlite3_result_text(ctx, buf, -1, SQLITE_TRANSIENT);
        return;
    }
    str_arg a = get_str(argv[0]);
    if ((int64_t)a.n * 2 > max_len(ctx)) {
        sqlite3_result_error_toobig(ctx);
        return;
    }
    char *o = malloc(a.n * 2 + 1);
    if (o == NULL) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    for (size_t i = 0; i < a.n; i++) {
        o[2 * i] = hexd[a.p[i] >> 4];
        o[2 * i + 1] = hexd[a.p[i] & 15];
    }
    sqlite3_result_text(ctx, o, (int)(a.n * 2), free);
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static void f_unhex(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    str_arg a = get_str(argv[0]);
    size_t odd = a.n % 2;
    size_t n = (a.n + 1) / 2;
    unsigned char *o = malloc(n + 1);
    if (o == NULL) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        int hi = (i == 0 && odd) ? 0 : hexval(a.p[2 * i - odd]);
        int lo = hexval(a.p[2 * i + 1 - odd]);
        if (hi < 0 || lo < 0) {
            free(o);
            sqlite3_result_null(ctx);
            return;
        }
        o[i] = (unsigned char)(hi * 16 + lo);
    }
    sqlite3_result_blob(ctx, o, (int)n, free);
}

static void f_isnull(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    sqlite3_result_int(ctx, sqlite3_value_type(argv[0]) == SQLITE_NULL);
}

static void extreme(sqlite3_context *ctx, int argc, sqlite3_value **argv, int greatest)
{
    if (argc < 2) {
        sqlite3_result_error(ctx, "wrong number of arguments to function greatest()", -1);
        return;
    }
    if (any_null(argc, argv)) {
        sqlite3_result_null(ctx);
        return;
    }
    /* Numbers compare as numbers; so does DECIMAL text (a DECIMAL column) next to a number, as
     * MySQL compares DECIMAL with numbers. Other mixes compare as strings (MySQL 8). */
    int numeric = 1, numbers = 0, scale = -1; /* scale: most fraction digits of DECIMAL text */
    for (int i = 0; i < argc; i++) {
        int t = sqlite3_value_type(argv[i]);
        if (t == SQLITE_INTEGER || t == SQLITE_FLOAT) {
            numbers++;
        } else if (t == SQLITE_TEXT) {
            str_arg a = get_str(argv[i]);
            numeric &= sql_fn_is_decimal_text(a.p, a.n);
            const unsigned char *dot = memchr(a.p, '.', a.n);
            int sc = dot ? (int)(a.n - (size_t)(dot - a.p) - 1) : 0;
            scale = sc > scale ? sc : scale;
        } else {
            numeric = 0;
        }
    }
    numeric &= numbers > 0;
    int best = 0;
    for (int i = 1; i < argc; i++) {
        int c;
        if (numeric && sqlite3_value_type(argv[i]) == SQLITE_INTEGER &&
            sqlite3_value_type(argv[best]) == SQLITE_INTEGER) {
            int64_t a = sqlite3_value_int64(argv[i]), b = sqlite3_value_int64(argv[best]);
            c = a < b ? -1 : a > b ? 1 : 0;
        } else if (numeric) {
            double a = sqlite3_value_double(argv[i]), b = sqlite3_value_double(argv[best]);
            c = a < b ? -1 : a > b ? 1 : 0;
        } else {
            str_arg a = get_str(argv[i]);
            str_arg b = get_str(argv[best]);
            size_t n = a.n < b.n ? a.n : b.n;
            c = n ? memcmp(a.p, b.p, n) : 0;
            if (c == 0) {
                c = a.n < b.n ? -1 : a.n > b.n ? 1 : 0;
            }
        }
        if ((greatest && c > 0) || (!greatest && c < 0)) {
            best = i;
        }
    }
    if (numeric && scale >= 0 && scale <= 30) {
        /* a DECIMAL result: the winner with the DECIMAL arguments' scale (MySQL: 2 → 2.000) */
        char buf[160];
        size_t n = sql_fn_dec_round_text(argv[best], scale, 1, buf, sizeof(buf) - 32);
        if (n > 0) {
            const char *dot = strchr(buf, '.');
            int have = dot ? (int)(n - (size_t)(dot - buf) - 1) : 0;
            if (dot == NULL && scale > 0) {
                buf[n++] = '.';
            }
            while (have++ < scale) {
                buf[n++] = '0';
            }
            sqlite3_result_text(ctx, buf, (int)n, SQLITE_TRANSIENT);
            return;
        }
    }
    sqlite3_result_value(ctx, argv[best]);
}

static void f_greatest(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    extreme(ctx, argc, argv, 1);
}

static void f_least(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    extreme(ctx, argc, argv, 0);
}

/* ---- numbers ---- */

static void result_integral(sqlite3_context *ctx, double d)
{
    if (d >= -9.2e18 && d <= 9.2e18) {
        sqlite3_result_int64(ctx, (int64_t)d);
    } else {
        sqlite3_result_double(ctx, d);
    }
}

static void f_floor(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    int t = sqlite3_value_type(argv[0]);
    if (t == SQLITE_NULL) {
        sqlite3_result_null(ctx);
    } else if (t == SQLITE_INTEGER) {
        sqlite3_result_int64(ctx, sqlite3_value_int64(argv[0]));
    } else {
        result_integral(ctx, floor(sqlite3_value_double(argv[0])));
    }
}

static void f_ceil(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    int t = sqlite3_value_type(argv[0]);
    if (t == SQLITE_NULL) {
        sqlite3_result_null(ctx);
    } else if (t == SQLITE_INTEGER) {
        sqlite3_result_int64(ctx, sqlite3_value_int64(argv[0]));
    } else {
        result_integral(ctx, ceil(sqlite3_value_double(argv[0])));
    }
}

static void f_log(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    if (any_null(argc, argv)) {
        sqlite3_result_null(ctx);
        return;
    }
    double x = sqlite3_value_double(argv[argc - 1]);
    if (x <= 0) {
        sqlite3_result_null(ctx);
        return;
    }
    if (argc == 1) {
        sqlite3_result_double(ctx, log(x));
        return;
    }
    double b = sqlite3_value_double(argv[0]);
    if (b <= 0 || b == 1) {
        sqlite3_result_null(ctx);
        return;
    }
    sqlite3_result_double(ctx, log(x) / log(b));
}

/* str REGEXP pattern: SQLite calls regexp(pattern, str). POSIX extended syntax (MySQL 8 uses
 * ICU; the common subset agrees). The compiled pattern is kept while the pattern is constant. */
static void free_regex(void *p)
{
    regfree(p);
    free(p);
}

static void f_regexp(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (any_null(2, argv)) {
        sqlite3_result_null(ctx);
        return;
    }
    regex_t *re = sqlite3_get_auxdata(ctx, 0);
    if (re == NULL) {
        const char *pat = (const char *)sqlite3_value_text(argv[0]);
        re = malloc(sizeof(*re));
        if (re == NULL || pat == NULL) {
            free(re);
            sqlite3_result_error_nomem(ctx);
            return;
        }
        if (regcomp(re, pat, REG_EXTENDED | REG_NOSUB) != 0) {
            free(re);
            fn_error(ctx, CM_E_WRONG_ARGUMENTS, "Incorrect regular expression");
            return;
        }
        sqlite3_set_auxdata(ctx, 0, re, free_regex);
        re = sqlite3_get_auxdata(ctx, 0);
        if (re == NULL) {
            sqlite3_result_error_nomem(ctx);
            return;
        }
    }
    const char *s = (const char *)sqlite3_value_text(argv[1]);
    sqlite3_result_int(ctx, s != NULL && regexec(re, s, 0, NULL, 0) == 0);
}

typedef struct fn_def {
    const char *name;
    int nargs;
    int deterministic;
    void (*fn)(sqlite3_context *, int, sqlite3_value **);
} fn_def;

static const fn_def fns[] = {
    {"__tsr_sysvar", 2, 0, f_sysvar},
    {"__tsr_uservar", 1, 0, f_uservar},
    {"now", 0, 0, f_now},
    {"now", 1, 0, f_now},
    {"sysdate", 0, 0, f_sysdate},
    {"sysdate", 1, 0, f_sysdate},
    {"utc_timestamp", 0, 0, f_utc_timestamp},
    {"utc_timestamp", 1, 0, f_utc_timestamp},
    {"curdate", 0, 0, f_curdate},
    {"utc_date", 0, 0, f_utc_date},
    {"curtime", 0, 0, f_curtime},
    {"curtime", 1, 0, f_curtime},
    {"utc_time", 0, 0, f_utc_time},
    {"utc_time", 1, 0, f_utc_time},
    {"unix_timestamp", 0, 0, f_unix_timestamp},
    {"unix_timestamp", 1, 0, f_unix_timestamp},
    {"database", 0, 0, f_database},
    {"schema", 0, 0, f_database},
    {"version", 0, 1, f_version},
    {"connection_id", 0, 0, f_connection_id},
    {"user", 0, 0, f_user},
    {"session_user", 0, 0, f_user},
    {"system_user", 0, 0, f_user},
    {"current_user", 0, 0, f_current_user},
    {"last_insert_id", 0, 0, f_last_insert_id},
    {"last_insert_id", 1, 0, f_last_insert_id},
    {"row_count", 0, 0, f_row_count},
    {"found_rows", 0, 0, f_found_rows},
    {"sleep", 1, 0, f_sleep},
    {"charset", 1, 1, f_charset},
    {"collation", 1, 0, f_collation},
    {"concat", -1, 1, f_concat},
    {"concat_ws", -1, 1, f_concat_ws},
    {"length", 1, 1, f_length},
    {"octet_length", 1, 1, f_length},
    {"char_length", 1, 1, f_char_length},
    {"character_length", 1, 1, f_char_length},
    {"substring", 2, 1, f_substring},
    {"substring", 3, 1, f_substring},
    {"substr", 2, 1, f_substring},
    {"substr", 3, 1, f_substring},
    {"mid", 3, 1, f_substring},
    {"left", 2, 1, f_left},
    {"right", 2, 1, f_right},
    {"repeat", 2, 1, f_repeat},
    {"space", 1, 1, f_space},
    {"reverse", 1, 1, f_reverse},
    {"lpad", 3, 1, f_lpad},
    {"rpad", 3, 1, f_rpad},
    {"locate", 2, 1, f_locate},
    {"locate", 3, 1, f_locate},
    {"strcmp", 2, 1, f_strcmp},
    {"ascii", 1, 1, f_ascii},
    {"hex", 1, 1, f_hex},
    {"unhex", 1, 1, f_unhex},
    {"isnull", 1, 1, f_isnull},
    {"greatest", -1, 1, f_greatest},
    {"least", -1, 1, f_least},
    {"floor", 1, 1, f_floor},
    {"ceil", 1, 1, f_ceil},
    {"ceiling", 1, 1, f_ceil},
    {"log", 1, 1, f_log},
    {"log", 2, 1, f_log},
    {"ln", 1, 1, f_log},
    {"regexp", 2, 1, f_regexp},
};

int sql_func_register(sql_sess *s)
{
    for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
        int flags = SQLITE_UTF8 | (fns[i].deterministic ? SQLITE_DETERMINISTIC : 0);
        if (sqlite3_create_function_v2(s->db, fns[i].name, fns[i].nargs, flags, s, fns[i].fn, NULL,
                                       NULL, NULL) != SQLITE_OK) {
            return CM_E_INTERNAL;
        }
    }
    /* the families in their own files (sql_func_int.h) */
    if (sql_func_str_register(s) != 0 || sql_func_num_register(s) != 0 ||
        sql_func_time_register(s) != 0 || sql_func_digest_register(s) != 0 ||
        sql_func_agg_register(s) != 0 || sql_func_json_register(s) != 0 ||
        sql_func_regex_register(s) != 0) {
        return CM_E_INTERNAL;
    }
    return 0;
}
