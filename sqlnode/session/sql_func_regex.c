/*
 * sql_func_regex.c — MySQL 8's REGEXP_LIKE, REGEXP_INSTR, REGEXP_SUBSTR and REGEXP_REPLACE over
 * POSIX extended regular expressions (glibc), evaluated in the C.UTF-8 locale so `.` and
 * bracket expressions see characters, not bytes. MySQL uses ICU; the common syntax (classes,
 * anchors, alternation, groups, {m,n}) agrees, ICU-only escapes (\d, \w, lookaround) do not.
 * Positions count characters. match_type: c (case-sensitive, the default under utf8mb4_bin),
 * i (case-insensitive), m (multi-line ^ $; in POSIX it also stops `.` at line ends), n and u
 * accepted. REGEXP_REPLACE's replacement may name groups as $1 … $9.
 */
#include "sql_func_int.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A compiled pattern kept while the statement's pattern and flags stay the same. */
typedef struct rx_cache {
    regex_t re;
    int flags;
    char *pat; /* owned: the pattern it was compiled from */
    size_t n;
} rx_cache;

static void rx_free(void *p)
{
    rx_cache *c = p;
    regfree(&c->re);
    free(c->pat);
    free(c);
}

/* Reads match_type argument v (may be NULL) into regcomp flags; -1 for an unknown letter. */
static int rx_flags(sqlite3_value *v)
{
    int flags = REG_EXTENDED;
    if (v == NULL || sqlite3_value_type(v) == SQLITE_NULL) {
        return flags;
    }
    sql_fn_str m = sql_fn_get_str(v);
    for (size_t i = 0; i < m.n; i++) {
        switch (m.p[i]) {
        case 'c':
            flags &= ~REG_ICASE;
            break;
        case 'i':
            flags |= REG_ICASE;
            break;
        case 'm':
            flags |= REG_NEWLINE;
            break;
        case 'n':
        case 'u':
            break;
        default:
            return -1;
        }
    }
    return flags;
}

/* The compiled pattern of argument pat_idx (cached as its auxdata); NULL with an error raised. */
static regex_t *rx_get(sqlite3_context *ctx, sqlite3_value **argv, int pat_idx, int flags)
{
    sql_fn_str pat = sql_fn_get_str(argv[pat_idx]);
    rx_cache *c = sqlite3_get_auxdata(ctx, pat_idx);
    if (c != NULL && c->flags == flags && c->n == pat.n && memcmp(c->pat, pat.p, pat.n) == 0) {
        return &c->re;
    }
    c = calloc(1, sizeof(*c));
    char *text = malloc(pat.n + 1);
    if (c == NULL || text == NULL) {
        free(c);
        free(text);
        sqlite3_result_error_nomem(ctx);
        return NULL;
    }
    memcpy(text, pat.p, pat.n);
    text[pat.n] = '\0';
    locale_t loc = sql_fn_utf8_locale();
    locale_t old = loc != (locale_t)0 ? uselocale(loc) : (locale_t)0;
    int rc = regcomp(&c->re, text, flags);
    if (old != (locale_t)0) {
        uselocale(old);
    }
    if (rc != 0) {
        free(text);
        free(c);
        sql_fn_error(ctx, CM_E_WRONG_ARGUMENTS, "Incorrect regular expression");
        return NULL;
    }
    c->flags = flags;
    c->pat = text;
    c->n = pat.n;
    sqlite3_set_auxdata(ctx, pat_idx, c, rx_free);
    c = sqlite3_get_auxdata(ctx, pat_idx);
    if (c == NULL) { /* SQLite could not keep it: it was freed already */
        sqlite3_result_error_nomem(ctx);
        return NULL;
    }
    return &c->re;
}

/* Runs re on s (NUL-terminated, n bytes) from byte offset from; m[0..9] get byte offsets into s.
 * Returns 1 on a match. */
static int rx_exec(regex_t *re, const char *s, size_t n, size_t from, regmatch_t m[10])
{
    if (from > n) {
        return 0;
    }
    locale_t loc = sql_fn_utf8_locale();
    locale_t old = loc != (locale_t)0 ? uselocale(loc) : (locale_t)0;
    int rc = regexec(re, s + from, 10, m, from > 0 ? REG_NOTBOL : 0);
    if (old != (locale_t)0) {
        uselocale(old);
    }
    if (rc != 0) {
        return 0;
    }
    for (int i = 0; i < 10; i++) {
        if (m[i].rm_so >= 0) {
            m[i].rm_so += (regoff_t)from;
            m[i].rm_eo += (regoff_t)from;
        }
    }
    return 1;
}

/* The subject as a NUL-terminated copy (regexec needs one). */
static char *subject(sqlite3_context *ctx, sqlite3_value *v, size_t *n)
{
    sql_fn_str s = sql_fn_get_str(v);
    char *c = malloc(s.n + 1);
    if (c == NULL) {
        sqlite3_result_error_nomem(ctx);
        return NULL;
    }
    memcpy(c, s.p, s.n);
    c[s.n] = '\0';
    *n = strlen(c); /* a NUL byte ends what POSIX matching sees */
    return c;
}

/* Byte offset of the occurrence-th match at or after character pos; -1 when none. */
static int find_match(regex_t *re, const char *s, size_t n, int64_t pos, int64_t occurrence,
                      regmatch_t m[10])
{
    size_t at = sql_fn_char_offset((const unsigned char *)s, n, (size_t)(pos - 1), 0);
    for (int64_t k = 0; k < occurrence; k++) {
        if (!rx_exec(re, s, n, at, m)) {
            return -1;
        }
        if (k + 1 < occurrence) {
            size_t next = (size_t)m[0].rm_eo;
            at = next > (size_t)m[0].rm_so
                     ? next
                     : sql_fn_char_offset((const unsigned char *)s, n,
                                          sql_fn_char_count((const unsigned char *)s, next, 0) + 1,
                                          0);
            if (at > n) {
                return -1;
            }
        }
    }
    return 0;
}

/* Optional integer argument i (default def); 0 when present and NULL (the result is NULL). */
static int opt_int(sqlite3_value **argv, int argc, int i, int64_t def, int64_t *out)
{
    *out = def;
    if (i < argc) {
        if (sqlite3_value_type(argv[i]) == SQLITE_NULL) {
            return 0;
        }
        *out = sqlite3_value_int64(argv[i]);
    }
    return 1;
}

/* REGEXP_LIKE(expr, pat[, match_type]) → INTEGER 1/0. */
static void f_regexp_like(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    if (sql_fn_any_null(2, argv)) {
        sqlite3_result_null(ctx);
        return;
    }
    int flags = rx_flags(argc > 2 ? argv[2] : NULL);
    if (flags < 0) {
        sql_fn_error(ctx, CM_E_WRONG_ARGUMENTS, "Incorrect arguments to regexp_like.");
        return;
    }
    regex_t *re = rx_get(ctx, argv, 1, flags);
    size_t n;
    char *s = re ? subject(ctx, argv[0], &n) : NULL;
    if (s == NULL) {
        return;
    }
    regmatch_t m[10];
    sqlite3_result_int(ctx, rx_exec(re, s, n, 0, m));
    free(s);
}

/* Checks pos (1 … characters + 1) and occurrence (>= 1): 0, or -1 with error raised. */
static int check_pos(sqlite3_context *ctx, const char *s, size_t n, int64_t pos, int64_t occ)
{
    int64_t chars = (int64_t)sql_fn_char_count((const unsigned char *)s, n, 0);
    if (pos < 1 || pos > chars + 1 || occ < 0) {
        sql_fn_error(ctx, CM_E_REGEXP_INDEX, "Index out of bounds in regular expression search.");
        return -1;
    }
    return 0;
}

/* REGEXP_INSTR(expr, pat[, pos[, occurrence[, return_option[, match_type]]]]) → INTEGER: the
 * character position of the match (or just after it with return_option 1); 0 when none. */
static void f_regexp_instr(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    int64_t pos, occ, ret;
    if (sql_fn_any_null(2, argv) || !opt_int(argv, argc, 2, 1, &pos) ||
        !opt_int(argv, argc, 3, 1, &occ) || !opt_int(argv, argc, 4, 0, &ret)) {
        sqlite3_result_null(ctx);
        return;
    }
    int flags = rx_flags(argc > 5 ? argv[5] : NULL);
    if (flags < 0 || (ret != 0 && ret != 1)) {
        sql_fn_error(ctx, CM_E_WRONG_ARGUMENTS, "Incorrect arguments to regexp_instr.");
        return;
    }
    regex_t *re = rx_get(ctx, argv, 1, flags);
    size_t n;
    char *s = re ? subject(ctx, argv[0], &n) : NULL;
    if (s == NULL) {
        return;
    }
    regmatch_t m[10];
    if (check_pos(ctx, s, n, pos, occ) == 0) {
        if (occ < 1) {
            occ = 1;
        }
        if (find_match(re, s, n, pos, occ, m) != 0) {
            sqlite3_result_int(ctx, 0);
        } else {
            size_t at = (size_t)(ret ? m[0].rm_eo : m[0].rm_so);
            sqlite3_result_int64(ctx,
                                 (int64_t)sql_fn_char_count((const unsigned char *)s, at, 0) + 1);
        }
    }
    free(s);
}

/* REGEXP_SUBSTR(expr, pat[, pos[, occurrence[, match_type]]]) → TEXT, NULL when no match. */
static void f_regexp_substr(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    int64_t pos, occ;
    if (sql_fn_any_null(2, argv) || !opt_int(argv, argc, 2, 1, &pos) ||
        !opt_int(argv, argc, 3, 1, &occ)) {
        sqlite3_result_null(ctx);
        return;
    }
    int flags = rx_flags(argc > 4 ? argv[4] : NULL);
    if (flags < 0) {
        sql_fn_error(ctx, CM_E_WRONG_ARGUMENTS, "Incorrect arguments to regexp_substr.");
        return;
    }
    regex_t *re = rx_get(ctx, argv, 1, flags);
    size_t n;
    char *s = re ? subject(ctx, argv[0], &n) : NULL;
    if (s == NULL) {
        return;
    }
    regmatch_t m[10];
    if (check_pos(ctx, s, n, pos, occ) == 0) {
        if (occ < 1) {
            occ = 1;
        }
        if (find_match(re, s, n, pos, occ, m) != 0) {
            sqlite3_result_null(ctx);
        } else {
            sql_fn_result_str(ctx, NULL, s + m[0].rm_so, (size_t)(m[0].rm_eo - m[0].rm_so));
        }
    }
    free(s);
}

/* Appends the replacement text r with $1 … $9 replaced by the groups of match m in s. */
static int append_replacement(cm_buf *b, const sql_fn_str *r, const char *s, const regmatch_t *m)
{
    for (size_t i = 0; i < r->n; i++) {
        if (r->p[i] == '$' && i + 1 < r->n && r->p[i + 1] >= '0' && r->p[i + 1] <= '9') {
            int g = r->p[++i] - '0';
            if (m[g].rm_so >= 0 &&
                cm_buf_append(b, s + m[g].rm_so, (size_t)(m[g].rm_eo - m[g].rm_so)) != 0) {
                return -1;
            }
            continue;
        }
        if (r->p[i] == '\\' && i + 1 < r->n) {
            i++; /* \$ is a literal dollar */
        }
        if (cm_buf_append_u8(b, r->p[i]) != 0) {
            return -1;
        }
    }
    return 0;
}

/* REGEXP_REPLACE(expr, pat, repl[, pos[, occurrence[, match_type]]]) → TEXT: every match (or
 * only the occurrence-th) from character pos on replaced. */
static void f_regexp_replace(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    int64_t pos, occ;
    if (sql_fn_any_null(3, argv) || !opt_int(argv, argc, 3, 1, &pos) ||
        !opt_int(argv, argc, 4, 0, &occ)) {
        sqlite3_result_null(ctx);
        return;
    }
    int flags = rx_flags(argc > 5 ? argv[5] : NULL);
    if (flags < 0) {
        sql_fn_error(ctx, CM_E_WRONG_ARGUMENTS, "Incorrect arguments to regexp_replace.");
        return;
    }
    regex_t *re = rx_get(ctx, argv, 1, flags);
    size_t n;
    char *s = re ? subject(ctx, argv[0], &n) : NULL;
    if (s == NULL) {
        return;
    }
    if (check_pos(ctx, s, n, pos, occ) != 0) {
        free(s);
        return;
    }
    sql_fn_str r = sql_fn_get_str(argv[2]);
    cm_buf b = CM_BUF_INIT;
    size_t at = sql_fn_char_offset((const unsigned char *)s, n, (size_t)(pos - 1), 0);
    int rc = cm_buf_append(&b, s, at);
    regmatch_t m[10];
    for (int64_t k = 1; rc == 0 && at <= n && rx_exec(re, s, n, at, m); k++) {
        size_t so = (size_t)m[0].rm_so, eo = (size_t)m[0].rm_eo;
        rc = cm_buf_append(&b, s + at, so - at);
        if (rc == 0) {
            rc = (occ == 0 || k == occ) ? append_replacement(&b, &r, s, m)
                                        : cm_buf_append(&b, s + so, eo - so);
        }
        at = eo;
        if (eo == so) { /* an empty match: keep the next character and move past it */
            size_t next = sql_fn_char_offset((const unsigned char *)s + at, n - at, 1, 0);
            if (rc == 0 && next > 0) {
                rc = cm_buf_append(&b, s + at, next);
            }
            at += next > 0 ? next : 1;
        }
        if ((int64_t)b.len > sql_fn_max_len(ctx)) {
            rc = -1;
        }
    }
    if (rc == 0 && at < n) {
        rc = cm_buf_append(&b, s + at, n - at);
    }
    if (rc != 0) {
        sqlite3_result_error_toobig(ctx);
    } else {
        sql_fn_result_str(ctx, NULL, b.ptr, b.len);
    }
    cm_buf_fini(&b);
    free(s);
}

/* One entry per arity, so SQLite itself refuses other argument counts (1582). */
static const sql_fn_def regex_fns[] = {
    {"regexp_like", 2, 1, f_regexp_like},       {"regexp_like", 3, 1, f_regexp_like},
    {"regexp_instr", 2, 1, f_regexp_instr},     {"regexp_instr", 3, 1, f_regexp_instr},
    {"regexp_instr", 4, 1, f_regexp_instr},     {"regexp_instr", 5, 1, f_regexp_instr},
    {"regexp_instr", 6, 1, f_regexp_instr},     {"regexp_substr", 2, 1, f_regexp_substr},
    {"regexp_substr", 3, 1, f_regexp_substr},   {"regexp_substr", 4, 1, f_regexp_substr},
    {"regexp_substr", 5, 1, f_regexp_substr},   {"regexp_replace", 3, 1, f_regexp_replace},
    {"regexp_replace", 4, 1, f_regexp_replace}, {"regexp_replace", 5, 1, f_regexp_replace},
    {"regexp_replace", 6, 1, f_regexp_replace},
};

int sql_func_regex_register(sql_sess *s)
{
    return sql_fn_register_table(s, regex_fns, sizeof(regex_fns) / sizeof(regex_fns[0]));
}
