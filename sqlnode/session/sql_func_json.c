/*
 * sql_func_json.c — MySQL's JSON functions: JSON_EXTRACT and the `->` / `->>` operators,
 * JSON_UNQUOTE, JSON_QUOTE, JSON_OBJECT, JSON_ARRAY, JSON_CONTAINS, JSON_CONTAINS_PATH, JSON_KEYS,
 * JSON_LENGTH, JSON_DEPTH, JSON_TYPE, JSON_VALID, JSON_SET / INSERT / REPLACE / REMOVE and the
 * aggregates JSON_ARRAYAGG / JSON_OBJECTAGG.
 *
 * SQLite's JSON1 keeps documents as written and prints them minified; MySQL normalises them
 * (object members sorted by key length then bytes, the last duplicate key wins) and prints
 * `{"a": 1, "b": [1, 2]}`. So documents are parsed into a tree (sql_json.c) and printed MySQL's
 * way. A JSON result carries SQLite's JSON subtype ('J'), so JSON_OBJECT('a', JSON_ARRAY(1))
 * nests an array rather than a string, as MySQL's typed JSON values do. Malformed documents
 * give error 3141, malformed paths 3143, as MySQL.
 */
#include "sql_func_int.h"
#include "sql_json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* SQLite's subtype for JSON values (the one JSON1 uses). */
#define JSON_SUBTYPE 74

/* ---- results ---- */

/* Returns j as a JSON-typed TEXT result (consumes j). */
static void result_json(sqlite3_context *ctx, sql_jnode *j)
{
    cm_buf b = CM_BUF_INIT;
    if (j == NULL || sql_json_print(&b, j) != 0) {
        cm_buf_fini(&b);
        sql_json_free(j);
        sqlite3_result_error_nomem(ctx);
        return;
    }
    sql_json_free(j);
    sql_fn_result_str(ctx, NULL, b.ptr, b.len);
    sqlite3_result_subtype(ctx, JSON_SUBTYPE);
    cm_buf_fini(&b);
}

/* ---- arguments ---- */

static void bad_json(sqlite3_context *ctx, int argno, const char *fname)
{
    char msg[160];
    snprintf(msg, sizeof(msg),
             "Invalid JSON text in argument %d to function %s: \"Invalid value.\"", argno, fname);
    sql_fn_error(ctx, CM_E_INVALID_JSON_ARG, msg);
}

/* The document in argument v (argno for the error); NULL with an error raised when it is not
 * JSON. v must not be SQL NULL. */
static sql_jnode *arg_doc(sqlite3_context *ctx, sqlite3_value *v, int argno, const char *fname)
{
    sql_fn_str s = sql_fn_get_str(v);
    sql_jnode *j = sql_json_parse((const char *)s.p, s.n);
    if (j == NULL) {
        bad_json(ctx, argno, fname);
    }
    return j;
}

/* A SQL value as a JSON value: JSON-typed results nest, NULL is null, numbers are numbers, text
 * is a string. */
static sql_jnode *arg_value(sqlite3_value *v)
{
    char buf[64];
    switch (sqlite3_value_type(v)) {
    case SQLITE_NULL:
        return sql_json_new(SQL_JT_NULL);
    case SQLITE_INTEGER:
        snprintf(buf, sizeof(buf), "%lld", (long long)sqlite3_value_int64(v));
        return sql_json_new_str(SQL_JT_INT, buf, strlen(buf));
    case SQLITE_FLOAT: {
        sql_json_double_text(sqlite3_value_double(v), buf, sizeof(buf));
        return sql_json_new_str(SQL_JT_DOUBLE, buf, strlen(buf));
    }
    default: {
        sql_fn_str s = sql_fn_get_str(v);
        if (sqlite3_value_subtype(v) == JSON_SUBTYPE) {
            sql_jnode *j = sql_json_parse((const char *)s.p, s.n);
            if (j != NULL) {
                return j;
            }
        }
        return sql_json_new_str(SQL_JT_STRING, (const char *)s.p, s.n);
    }
    }
}

/* ---- paths ---- */

static int arg_path(sqlite3_context *ctx, sqlite3_value *v, int argno, sql_jpath *out)
{
    sql_fn_str s = sql_fn_get_str(v);
    if (sql_json_path_parse((const char *)s.p, s.n, out) != 0) {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "Invalid JSON path expression. The error is around character "
                 "position %d.",
                 (int)s.n);
        (void)argno;
        sql_fn_error(ctx, CM_E_INVALID_JSON_PATH, msg);
        return -1;
    }
    return 0;
}

/* ---- functions ---- */

/* JSON_VALID(v) → INTEGER 1/0. */
static void f_json_valid(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    int t = sqlite3_value_type(argv[0]);
    if (t == SQLITE_INTEGER || t == SQLITE_FLOAT) {
        sqlite3_result_int(ctx, 0);
        return;
    }
    sql_fn_str s = sql_fn_get_str(argv[0]);
    sql_jnode *j = sql_json_parse((const char *)s.p, s.n);
    sqlite3_result_int(ctx, j != NULL);
    sql_json_free(j);
}

/* JSON_TYPE(doc) → TEXT: OBJECT, ARRAY, STRING, INTEGER, DOUBLE, BOOLEAN, NULL. */
static void f_json_type(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    static const char *const names[] = {"NULL",   "BOOLEAN", "BOOLEAN", "INTEGER",
                                        "DOUBLE", "STRING",  "ARRAY",   "OBJECT"};
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    sql_jnode *j = arg_doc(ctx, argv[0], 1, "json_type");
    if (j != NULL) {
        sqlite3_result_text(ctx, names[j->type], -1, SQLITE_STATIC);
        sql_json_free(j);
    }
}

/* Evaluates paths argv[0, n) on doc; *wrap set when the result is an array of the hits (a
 * wildcard or more than one path). Returns 0, or -1 with an error raised. */
static int eval_paths(sqlite3_context *ctx, sql_jnode *doc, int n, sqlite3_value **paths,
                      sql_jhits *h, int *wrap)
{
    *wrap = n > 1;
    for (int i = 0; i < n; i++) {
        sql_jpath p;
        if (arg_path(ctx, paths[i], i + 2, &p) != 0) {
            return -1;
        }
        *wrap |= p.wild;
        int rc = sql_json_walk(doc, &p, 0, h);
        sql_json_path_fini(&p);
        if (rc != 0) {
            sqlite3_result_error_nomem(ctx);
            return -1;
        }
    }
    return 0;
}

/* The unquoted text of a JSON value: a string's bytes, other values printed. */
static void result_unquoted(sqlite3_context *ctx, const sql_jnode *j)
{
    if (j->type == SQL_JT_STRING) {
        sql_fn_result_str(ctx, NULL, j->s, j->len);
        return;
    }
    cm_buf b = CM_BUF_INIT;
    if (sql_json_print(&b, j) != 0) {
        cm_buf_fini(&b);
        sqlite3_result_error_nomem(ctx);
        return;
    }
    sql_fn_result_str(ctx, NULL, b.ptr, b.len);
    cm_buf_fini(&b);
}

/* A JSON number as the SQL number it prints as: INTEGER for integers within BIGINT, REAL for
 * doubles whose shortest text is the JSON text (so it prints the same). Returns 0 when it
 * cannot be one. */
static int result_number(sqlite3_context *ctx, const sql_jnode *j)
{
    if (j->type == SQL_JT_INT) {
        char *end;
        errno = 0;
        long long v = strtoll(j->s, &end, 10);
        if (errno != 0 || *end != '\0') {
            return 0;
        }
        sqlite3_result_int64(ctx, (int64_t)v);
        return 1;
    }
    if (j->type == SQL_JT_DOUBLE && strpbrk(j->s, "eE") == NULL) {
        double d = strtod(j->s, NULL);
        char buf[64];
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(buf, sizeof(buf), "%.*g", prec, d);
            if (strtod(buf, NULL) == d) {
                break;
            }
        }
        if (strcmp(buf, j->s) == 0) {
            sqlite3_result_double(ctx, d);
            return 1;
        }
    }
    return 0;
}

/* The value a single path reached: numbers as SQL numbers (so `doc->'$.n' = 2` and ORDER BY
 * compare numerically, as MySQL compares JSON numbers), otherwise JSON text (unquote: strings
 * as their characters, for ->>). */
static void result_value(sqlite3_context *ctx, const sql_jnode *j, int unquote)
{
    if (result_number(ctx, j)) {
        if (!unquote) {
            sqlite3_result_subtype(ctx, JSON_SUBTYPE);
        }
        return;
    }
    if (unquote) {
        result_unquoted(ctx, j);
    } else {
        result_json(ctx, sql_json_copy(j));
    }
}

/* JSON_EXTRACT(doc, path, …) → JSON: the value at path; an array of the values with wildcards
 * or several paths; NULL when nothing matches. Also `doc -> path`. */
static void f_json_extract(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    if (argc < 2) {
        sql_fn_error(ctx, CM_E_WRONG_ARGUMENTS,
                     "Incorrect parameter count in the call to native function 'json_extract'");
        return;
    }
    if (sql_fn_any_null(argc, argv)) {
        sqlite3_result_null(ctx);
        return;
    }
    sql_jnode *doc = arg_doc(ctx, argv[0], 1, "json_extract");
    if (doc == NULL) {
        return;
    }
    sql_jhits h = {0};
    int wrap;
    if (eval_paths(ctx, doc, argc - 1, argv + 1, &h, &wrap) == 0) {
        if (h.n == 0) {
            sqlite3_result_null(ctx);
        } else if (!wrap) {
            result_value(ctx, h.v[0], 0);
        } else {
            sql_jnode *a = sql_json_new(SQL_JT_ARRAY);
            for (size_t i = 0; i < h.n && a != NULL; i++) {
                sql_jnode *c = sql_json_copy(h.v[i]);
                if (c == NULL || sql_json_arr_insert(a, a->n, c) != 0) {
                    sql_json_free(a);
                    a = NULL;
                }
            }
            result_json(ctx, a);
        }
    }
    free(h.v);
    sql_json_free(doc);
}

/* doc ->> path → TEXT: JSON_UNQUOTE(JSON_EXTRACT(doc, path)). */
static void f_json_extract_text(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sql_fn_any_null(2, argv)) {
        sqlite3_result_null(ctx);
        return;
    }
    sql_jnode *doc = arg_doc(ctx, argv[0], 1, "json_extract");
    if (doc == NULL) {
        return;
    }
    sql_jhits h = {0};
    int wrap;
    if (eval_paths(ctx, doc, 1, argv + 1, &h, &wrap) == 0) {
        if (h.n == 0) {
            sqlite3_result_null(ctx);
        } else if (!wrap) {
            result_value(ctx, h.v[0], 1);
        } else {
            sql_jnode *a = sql_json_new(SQL_JT_ARRAY);
            for (size_t i = 0; i < h.n && a != NULL; i++) {
                sql_jnode *c = sql_json_copy(h.v[i]);
                if (c == NULL || sql_json_arr_insert(a, a->n, c) != 0) {
                    sql_json_free(a);
                    a = NULL;
                }
            }
            if (a != NULL) {
                result_unquoted(ctx, a);
                sql_json_free(a);
            } else {
                sqlite3_result_error_nomem(ctx);
            }
        }
    }
    free(h.v);
    sql_json_free(doc);
}

/* JSON_UNQUOTE(s) → TEXT: a JSON string literal's value; anything else unchanged. */
static void f_json_unquote(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    sql_fn_str s = sql_fn_get_str(argv[0]);
    if (s.n >= 2 && s.p[0] == '"' && s.p[s.n - 1] == '"') {
        sql_jnode *j = sql_json_parse((const char *)s.p, s.n);
        if (j == NULL) {
            bad_json(ctx, 1, "json_unquote");
            return;
        }
        sql_fn_result_str(ctx, NULL, j->s, j->len);
        sql_json_free(j);
        return;
    }
    sql_fn_result_str(ctx, NULL, s.p, s.n);
}

/* JSON_QUOTE(s) → TEXT: s as a JSON string literal. */
static void f_json_quote(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    sql_fn_str s = sql_fn_get_str(argv[0]);
    cm_buf b = CM_BUF_INIT;
    if (sql_json_print_string(&b, (const char *)s.p, s.n) != 0) {
        cm_buf_fini(&b);
        sqlite3_result_error_nomem(ctx);
        return;
    }
    sql_fn_result_str(ctx, NULL, b.ptr, b.len);
    sqlite3_result_subtype(ctx, JSON_SUBTYPE);
    cm_buf_fini(&b);
}

/* JSON_OBJECT(k, v, …) → JSON. */
static void f_json_object(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    if (argc % 2 != 0) {
        sql_fn_error(ctx, CM_E_WRONG_ARGUMENTS,
                     "Incorrect parameter count in the call to native function 'json_object'");
        return;
    }
    sql_jnode *o = sql_json_new(SQL_JT_OBJECT);
    for (int i = 0; i < argc && o != NULL; i += 2) {
        if (sqlite3_value_type(argv[i]) == SQLITE_NULL) {
            sql_json_free(o);
            sql_fn_error(ctx, CM_E_JSON_NULL_KEY,
                         "JSON documents may not contain NULL member names.");
            return;
        }
        sql_fn_str k = sql_fn_get_str(argv[i]);
        sql_jnode *v = arg_value(argv[i + 1]);
        k = sql_fn_get_str(argv[i]);
        if (v == NULL || sql_json_obj_put(o, (const char *)k.p, k.n, v) != 0) {
            sql_json_free(o);
            o = NULL;
        }
    }
    result_json(ctx, o);
}

/* JSON_ARRAY(v, …) → JSON. */
static void f_json_array(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    sql_jnode *a = sql_json_new(SQL_JT_ARRAY);
    for (int i = 0; i < argc && a != NULL; i++) {
        sql_jnode *v = arg_value(argv[i]);
        if (v == NULL || sql_json_arr_insert(a, a->n, v) != 0) {
            sql_json_free(a);
            a = NULL;
        }
    }
    result_json(ctx, a);
}

/* The single value path argv[pi] reaches in doc (NULL: none); -1 with an error raised. */
static int one_path(sqlite3_context *ctx, sql_jnode *doc, sqlite3_value *pv, int argno,
                    sql_jnode **out)
{
    sql_jpath p;
    *out = NULL;
    if (arg_path(ctx, pv, argno, &p) != 0) {
        return -1;
    }
    if (p.wild) {
        sql_json_path_fini(&p);
        sql_fn_error(ctx, CM_E_JSON_BAD_PATH_TOKEN,
                     "In this situation, path expressions may not contain the * and ** tokens.");
        return -1;
    }
    sql_jhits h = {0};
    int rc = sql_json_walk(doc, &p, 0, &h);
    sql_json_path_fini(&p);
    if (rc != 0) {
        free(h.v);
        sqlite3_result_error_nomem(ctx);
        return -1;
    }
    *out = h.n ? h.v[0] : NULL;
    free(h.v);
    return 0;
}

/* JSON_CONTAINS(target, candidate[, path]) → INTEGER 1/0 (NULL when path matches nothing). */
static void f_json_contains(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    if (sql_fn_any_null(argc, argv)) {
        sqlite3_result_null(ctx);
        return;
    }
    sql_jnode *t = arg_doc(ctx, argv[0], 1, "json_contains");
    if (t == NULL) {
        return;
    }
    sql_jnode *c = arg_doc(ctx, argv[1], 2, "json_contains");
    if (c != NULL) {
        sql_jnode *at = t;
        if (argc < 3 || one_path(ctx, t, argv[2], 3, &at) == 0) {
            if (at == NULL) {
                sqlite3_result_null(ctx);
            } else {
                sqlite3_result_int(ctx, sql_json_contains(at, c));
            }
        }
        sql_json_free(c);
    }
    sql_json_free(t);
}

/* JSON_CONTAINS_PATH(doc, 'one'|'all', path, …) → INTEGER 1/0. */
static void f_json_contains_path(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    if (argc < 3) {
        sql_fn_error(ctx, CM_E_WRONG_ARGUMENTS,
                     "Incorrect parameter count in the call to native function "
                     "'json_contains_path'");
        return;
    }
    if (sql_fn_any_null(argc, argv)) {
        sqlite3_result_null(ctx);
        return;
    }
    sql_fn_str mode = sql_fn_get_str(argv[1]);
    int all;
    if (mode.n == 3 && strncasecmp((const char *)mode.p, "all", 3) == 0) {
        all = 1;
    } else if (mode.n == 3 && strncasecmp((const char *)mode.p, "one", 3) == 0) {
        all = 0;
    } else {
        sql_fn_error(ctx, CM_E_WRONG_ARGUMENTS,
                     "The oneOrAll argument to json_contains_path may take these values: 'one' or "
                     "'all'.");
        return;
    }
    sql_jnode *doc = arg_doc(ctx, argv[0], 1, "json_contains_path");
    if (doc == NULL) {
        return;
    }
    int result = all;
    for (int i = 2; i < argc; i++) {
        sql_jpath p;
        if (arg_path(ctx, argv[i], i + 1, &p) != 0) {
            sql_json_free(doc);
            return;
        }
        sql_jhits h = {0};
        int rc = sql_json_walk(doc, &p, 0, &h);
        sql_json_path_fini(&p);
        free(h.v);
        if (rc != 0) {
            sql_json_free(doc);
            sqlite3_result_error_nomem(ctx);
            return;
        }
        if (all && h.n == 0) {
            result = 0;
        } else if (!all && h.n > 0) {
            result = 1;
        }
    }
    sql_json_free(doc);
    sqlite3_result_int(ctx, result);
}

/* Applies an optional path argument: the value it reaches (NULL result when none). */
static int doc_at(sqlite3_context *ctx, int argc, sqlite3_value **argv, const char *fname,
                  sql_jnode **doc, sql_jnode **at)
{
    *doc = arg_doc(ctx, argv[0], 1, fname);
    if (*doc == NULL) {
        return -1;
    }
    *at = *doc;
    if (argc > 1 && one_path(ctx, *doc, argv[1], 2, at) != 0) {
        sql_json_free(*doc);
        return -1;
    }
    return 0;
}

/* JSON_KEYS(doc[, path]) → JSON array of the object's keys; NULL for a non-object. */
static void f_json_keys(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    sql_jnode *doc, *at;
    if (sql_fn_any_null(argc, argv)) {
        sqlite3_result_null(ctx);
        return;
    }
    if (doc_at(ctx, argc, argv, "json_keys", &doc, &at) != 0) {
        return;
    }
    if (at == NULL || at->type != SQL_JT_OBJECT) {
        sqlite3_result_null(ctx);
        sql_json_free(doc);
        return;
    }
    sql_jnode *a = sql_json_new(SQL_JT_ARRAY);
    for (size_t i = 0; i < at->n && a != NULL; i++) {
        sql_jnode *k = sql_json_new_str(SQL_JT_STRING, at->keys[i], at->klen[i]);
        if (k == NULL || sql_json_arr_insert(a, a->n, k) != 0) {
            sql_json_free(a);
            a = NULL;
        }
    }
    sql_json_free(doc);
    result_json(ctx, a);
}

/* JSON_LENGTH(doc[, path]) → INTEGER: elements or members; 1 for a scalar. */
static void f_json_length(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    sql_jnode *doc, *at;
    if (sql_fn_any_null(argc, argv)) {
        sqlite3_result_null(ctx);
        return;
    }
    if (doc_at(ctx, argc, argv, "json_length", &doc, &at) != 0) {
        return;
    }
    if (at == NULL) {
        sqlite3_result_null(ctx);
    } else {
        sqlite3_result_int64(
            ctx, at->type == SQL_JT_ARRAY || at->type == SQL_JT_OBJECT ? (int64_t)at->n : 1);
    }
    sql_json_free(doc);
}

/* JSON_DEPTH(doc) → INTEGER. */
static void f_json_depth(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    sql_jnode *j = arg_doc(ctx, argv[0], 1, "json_depth");
    if (j != NULL) {
        sqlite3_result_int(ctx, sql_json_depth(j));
        sql_json_free(j);
    }
}

enum { MOD_SET, MOD_INSERT, MOD_REPLACE };

/* Applies one (path, value) of JSON_SET / INSERT / REPLACE to doc (*doc may be replaced). */
static int modify(sqlite3_context *ctx, sql_jnode **doc, sqlite3_value *pv, int argno, sql_jnode *v,
                  int mode)
{
    sql_jpath p;
    if (arg_path(ctx, pv, argno, &p) != 0) {
        sql_json_free(v);
        return -1;
    }
    if (p.wild) {
        sql_json_path_fini(&p);
        sql_json_free(v);
        sql_fn_error(ctx, CM_E_JSON_BAD_PATH_TOKEN,
                     "In this situation, path expressions may not contain the * and ** tokens.");
        return -1;
    }
    if (p.n == 0) { /* '$': the whole document */
        sql_json_path_fini(&p);
        if (mode == MOD_INSERT) {
            sql_json_free(v);
        } else {
            sql_json_free(*doc);
            *doc = v;
        }
        return 0;
    }
    /* the parent: every leg but the last */
    sql_jpath parent = p;
    parent.n = p.n - 1;
    sql_jhits h = {0};
    int rc = sql_json_walk(*doc, &parent, 0, &h);
    sql_jnode *par = h.n ? h.v[0] : NULL;
    free(h.v);
    const sql_jleg *l = &p.legs[p.n - 1];
    if (rc == 0 && par != NULL) {
        if (l->kind == SQL_JLEG_MEMBER) {
            if (par->type == SQL_JT_OBJECT) {
                int64_t f = sql_json_find(par, l->key, l->klen, NULL);
                if ((f >= 0 && mode != MOD_INSERT) || (f < 0 && mode != MOD_REPLACE)) {
                    rc = sql_json_obj_put(par, l->key, l->klen, v);
                    v = NULL;
                }
            }
        } else if (par->type == SQL_JT_ARRAY) {
            int64_t i = sql_json_leg_index(l, par->n);
            if (i >= 0 && i < (int64_t)par->n) {
                if (mode != MOD_INSERT) {
                    sql_json_free(par->kids[i]);
                    par->kids[i] = v;
                    v = NULL;
                }
            } else if (i >= (int64_t)par->n && mode != MOD_REPLACE) {
                rc = sql_json_arr_insert(par, par->n, v);
                v = NULL;
            }
        } else {
            /* a scalar or object is its own [0]; a later index wraps it in an array */
            int64_t i = sql_json_leg_index(l, 1);
            if (i == 0) {
                if (mode != MOD_INSERT) {
                    sql_jnode tmp = *par;
                    *par = *v;
                    *v = tmp;
                }
            } else if (i > 0 && mode != MOD_REPLACE) {
                sql_jnode *inner = sql_json_new(par->type);
                if (inner == NULL) {
                    rc = -1;
                } else {
                    sql_jnode tmp = *par;
                    *par = *inner;
                    *inner = tmp;
                    par->type = SQL_JT_ARRAY;
                    rc = sql_json_arr_insert(par, 0, inner);
                    if (rc == 0) {
                        rc = sql_json_arr_insert(par, par->n, v);
                        v = NULL;
                    }
                }
            }
        }
    }
    sql_json_free(v);
    sql_json_path_fini(&p);
    if (rc != 0) {
        sqlite3_result_error_nomem(ctx);
    }
    return rc;
}

static void json_modify(sqlite3_context *ctx, int argc, sqlite3_value **argv, int mode,
                        const char *fname)
{
    if (argc < 3 || argc % 2 != 1) {
        char msg[128];
        snprintf(msg, sizeof(msg), "Incorrect parameter count in the call to native function '%s'",
                 fname);
        sql_fn_error(ctx, CM_E_WRONG_ARGUMENTS, msg);
        return;
    }
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    for (int i = 1; i < argc; i += 2) {
        if (sqlite3_value_type(argv[i]) == SQLITE_NULL) {
            sqlite3_result_null(ctx);
            return;
        }
    }
    sql_jnode *doc = arg_doc(ctx, argv[0], 1, fname);
    if (doc == NULL) {
        return;
    }
    for (int i = 1; i < argc; i += 2) {
        sql_jnode *v = arg_value(argv[i + 1]);
        if (v == NULL) {
            sql_json_free(doc);
            sqlite3_result_error_nomem(ctx);
            return;
        }
        if (modify(ctx, &doc, argv[i], i + 1, v, mode) != 0) {
            sql_json_free(doc);
            return;
        }
    }
    result_json(ctx, doc);
}

/* JSON_SET / JSON_INSERT / JSON_REPLACE(doc, path, value, …) → JSON. */
static void f_json_set(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    json_modify(ctx, argc, argv, MOD_SET, "json_set");
}

static void f_json_insert(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    json_modify(ctx, argc, argv, MOD_INSERT, "json_insert");
}

static void f_json_replace(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    json_modify(ctx, argc, argv, MOD_REPLACE, "json_replace");
}

/* JSON_REMOVE(doc, path, …) → JSON without the values the paths name. */
static void f_json_remove(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    if (argc < 2) {
        sql_fn_error(ctx, CM_E_WRONG_ARGUMENTS,
                     "Incorrect parameter count in the call to native function 'json_remove'");
        return;
    }
    if (sql_fn_any_null(argc, argv)) {
        sqlite3_result_null(ctx);
        return;
    }
    sql_jnode *doc = arg_doc(ctx, argv[0], 1, "json_remove");
    if (doc == NULL) {
        return;
    }
    for (int i = 1; i < argc; i++) {
        sql_jpath p;
        if (arg_path(ctx, argv[i], i + 1, &p) != 0) {
            sql_json_free(doc);
            return;
        }
        if (p.wild || p.n == 0) {
            sql_json_path_fini(&p);
            sql_json_free(doc);
            sql_fn_error(ctx, CM_E_JSON_BAD_PATH_TOKEN,
                         "In this situation, path expressions may not contain the * and ** "
                         "tokens.");
            return;
        }
        sql_jpath parent = p;
        parent.n = p.n - 1;
        sql_jhits h = {0};
        int rc = sql_json_walk(doc, &parent, 0, &h);
        sql_jnode *par = h.n ? h.v[0] : NULL;
        free(h.v);
        const sql_jleg *l = &p.legs[p.n - 1];
        if (rc == 0 && par != NULL) {
            int64_t at = -1;
            if (l->kind == SQL_JLEG_MEMBER && par->type == SQL_JT_OBJECT) {
                at = sql_json_find(par, l->key, l->klen, NULL);
            } else if (l->kind == SQL_JLEG_INDEX && par->type == SQL_JT_ARRAY) {
                at = sql_json_leg_index(l, par->n);
                at = at < (int64_t)par->n ? at : -1;
            }
            if (at >= 0) {
                sql_json_free(par->kids[at]);
                size_t rest = par->n - (size_t)at - 1;
                memmove(par->kids + at, par->kids + at + 1, rest * sizeof(*par->kids));
                if (par->keys) {
                    free(par->keys[at]);
                    memmove(par->keys + at, par->keys + at + 1, rest * sizeof(*par->keys));
                    memmove(par->klen + at, par->klen + at + 1, rest * sizeof(*par->klen));
                }
                par->n--;
            }
        }
        sql_json_path_fini(&p);
        if (rc != 0) {
            sql_json_free(doc);
            sqlite3_result_error_nomem(ctx);
            return;
        }
    }
    result_json(ctx, doc);
}

/* ---- aggregates ---- */

typedef struct jagg {
    sql_jnode *j;
    int failed;
} jagg;

static void arrayagg_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    jagg *a = sqlite3_aggregate_context(ctx, sizeof(*a));
    if (a == NULL || a->failed) {
        return;
    }
    if (a->j == NULL && (a->j = sql_json_new(SQL_JT_ARRAY)) == NULL) {
        a->failed = 1;
        return;
    }
    sql_jnode *v = arg_value(argv[0]);
    if (v == NULL || sql_json_arr_insert(a->j, a->j->n, v) != 0) {
        a->failed = 1;
    }
}

static void objectagg_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    jagg *a = sqlite3_aggregate_context(ctx, sizeof(*a));
    if (a == NULL || a->failed) {
        return;
    }
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        a->failed = 2;
        return;
    }
    if (a->j == NULL && (a->j = sql_json_new(SQL_JT_OBJECT)) == NULL) {
        a->failed = 1;
        return;
    }
    sql_jnode *v = arg_value(argv[1]);
    sql_fn_str k = sql_fn_get_str(argv[0]);
    if (v == NULL || sql_json_obj_put(a->j, (const char *)k.p, k.n, v) != 0) {
        a->failed = 1;
    }
}

/* JSON_ARRAYAGG(v) / JSON_OBJECTAGG(k, v) → JSON; NULL for a group without rows. */
static void jagg_final(sqlite3_context *ctx)
{
    jagg *a = sqlite3_aggregate_context(ctx, 0);
    if (a == NULL || (a->j == NULL && !a->failed)) {
        sqlite3_result_null(ctx);
        return;
    }
    if (a->failed) {
        sql_json_free(a->j);
        a->j = NULL;
        if (a->failed == 2) {
            sql_fn_error(ctx, CM_E_JSON_NULL_KEY,
                         "JSON documents may not contain NULL member names.");
        } else {
            sqlite3_result_error_nomem(ctx);
        }
        return;
    }
    result_json(ctx, a->j);
    a->j = NULL;
}

/* _tdb_json_bool(x) → JSON true / false (NULL for NULL): the translator wraps TRUE, FALSE and
 * comparisons given to JSON constructors, which MySQL turns into JSON booleans. */
static void f_json_bool(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    int t = sqlite3_value_double(argv[0]) != 0.0;
    sqlite3_result_text(ctx, t ? "true" : "false", -1, SQLITE_STATIC);
    sqlite3_result_subtype(ctx, JSON_SUBTYPE);
}

/* The single value a path without wildcards reaches (NULL: none) and, for the last leg, its
 * parent; -1 with an error raised. */
static int path_target(sqlite3_context *ctx, sql_jnode *doc, sqlite3_value *pv, int argno,
                       sql_jpath *p, sql_jnode **par, sql_jnode **at)
{
    *par = *at = NULL;
    if (arg_path(ctx, pv, argno, p) != 0) {
        return -1;
    }
    if (p->wild) {
        sql_json_path_fini(p);
        sql_fn_error(ctx, CM_E_JSON_BAD_PATH_TOKEN,
                     "In this situation, path expressions may not contain the * and ** tokens.");
        return -1;
    }
    sql_jhits h = {0};
    int rc = sql_json_walk(doc, p, 0, &h);
    *at = h.n ? h.v[0] : NULL;
    free(h.v);
    if (rc == 0 && p->n > 0) {
        sql_jpath parent = *p;
        parent.n = p->n - 1;
        sql_jhits hp = {0};
        rc = sql_json_walk(doc, &parent, 0, &hp);
        *par = hp.n ? hp.v[0] : NULL;
        free(hp.v);
    }
    if (rc != 0) {
        sql_json_path_fini(p);
        sqlite3_result_error_nomem(ctx);
        return -1;
    }
    return 0;
}

/* JSON_ARRAY_APPEND(doc, path, val, …) → JSON: val appended to the array at path (a non-array
 * becomes [it, val]). JSON_ARRAY_INSERT(doc, path, val, …): val inserted at the array position
 * path ends with. */
static void array_modify(sqlite3_context *ctx, int argc, sqlite3_value **argv, int insert)
{
    const char *fname = insert ? "json_array_insert" : "json_array_append";
    if (argc < 3 || argc % 2 != 1) {
        char msg[128];
        snprintf(msg, sizeof(msg), "Incorrect parameter count in the call to native function '%s'",
                 fname);
        sql_fn_error(ctx, CM_E_WRONG_ARGUMENTS, msg);
        return;
    }
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    for (int i = 1; i < argc; i += 2) {
        if (sqlite3_value_type(argv[i]) == SQLITE_NULL) {
            sqlite3_result_null(ctx);
            return;
        }
    }
    sql_jnode *doc = arg_doc(ctx, argv[0], 1, fname);
    for (int i = 1; i < argc && doc != NULL; i += 2) {
        sql_jpath p;
        sql_jnode *par, *at;
        if (path_target(ctx, doc, argv[i], i + 1, &p, &par, &at) != 0) {
            sql_json_free(doc);
            return;
        }
        const sql_jleg *last = p.n > 0 ? &p.legs[p.n - 1] : NULL;
        if (insert && (last == NULL || last->kind != SQL_JLEG_INDEX)) {
            sql_json_path_fini(&p);
            sql_json_free(doc);
            sql_fn_error(ctx, CM_E_INVALID_JSON_PATH,
                         "A path expression is not a path to a cell in an array.");
            return;
        }
        sql_jnode *v = arg_value(argv[i + 1]);
        int rc = v == NULL ? -1 : 0;
        if (rc == 0 && insert) {
            if (par != NULL && par->type == SQL_JT_ARRAY) {
                int64_t k = sql_json_leg_index(last, par->n + (last->index < 0 ? 1 : 0));
                rc = sql_json_arr_insert(par, k < 0 ? 0 : (size_t)k, v);
            } else {
                sql_json_free(v);
            }
        } else if (rc == 0) {
            if (at == NULL) {
                sql_json_free(v);
            } else if (at->type == SQL_JT_ARRAY) {
                rc = sql_json_arr_insert(at, at->n, v);
            } else {
                sql_jnode *inner = sql_json_new(at->type);
                if (inner == NULL) {
                    sql_json_free(v);
                    rc = -1;
                } else {
                    sql_jnode tmp = *at;
                    *at = *inner;
                    *inner = tmp;
                    at->type = SQL_JT_ARRAY;
                    rc = sql_json_arr_insert(at, 0, inner);
                    rc = rc ? rc : sql_json_arr_insert(at, at->n, v);
                }
            }
        }
        sql_json_path_fini(&p);
        if (rc != 0) {
            sql_json_free(doc);
            sqlite3_result_error_nomem(ctx);
            return;
        }
    }
    if (doc != NULL) {
        result_json(ctx, doc);
    }
}

static void f_json_array_append(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    array_modify(ctx, argc, argv, 0);
}

static void f_json_array_insert(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    array_modify(ctx, argc, argv, 1);
}

/* JSON_MERGE_PATCH(a, b, …), JSON_MERGE_PRESERVE(a, b, …) / JSON_MERGE → JSON. */
static void json_merge(sqlite3_context *ctx, int argc, sqlite3_value **argv, int patch)
{
    const char *fname = patch ? "json_merge_patch" : "json_merge_preserve";
    if (argc < 2) {
        char msg[128];
        snprintf(msg, sizeof(msg), "Incorrect parameter count in the call to native function '%s'",
                 fname);
        sql_fn_error(ctx, CM_E_WRONG_ARGUMENTS, msg);
        return;
    }
    /* a NULL argument makes the result NULL, except that JSON_MERGE_PATCH replaces it with a
     * later non-object patch (merging a non-object replaces whatever was there) */
    sql_jnode *acc = NULL;
    int acc_null = 0;
    for (int i = 0; i < argc; i++) {
        if (sqlite3_value_type(argv[i]) == SQLITE_NULL) {
            sql_json_free(acc);
            acc = NULL;
            if (!patch) {
                sqlite3_result_null(ctx);
                return;
            }
            acc_null = 1;
            continue;
        }
        sql_jnode *d = arg_doc(ctx, argv[i], i + 1, fname);
        if (d == NULL) {
            sql_json_free(acc);
            return;
        }
        if (acc_null) {
            if (d->type != SQL_JT_OBJECT) {
                acc = d;
                acc_null = 0;
            } else {
                sql_json_free(d);
            }
            continue;
        }
        if (acc == NULL) {
            acc = d;
            continue;
        }
        acc = patch ? sql_json_merge_patch(acc, d) : sql_json_merge_preserve(acc, d);
        if (acc == NULL) {
            sqlite3_result_error_nomem(ctx);
            return;
        }
    }
    if (acc == NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    result_json(ctx, acc);
}

static void f_json_merge_patch(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    json_merge(ctx, argc, argv, 1);
}

static void f_json_merge_preserve(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    json_merge(ctx, argc, argv, 0);
}

/* JSON_PRETTY(doc) → TEXT: two-space indentation, one member or element per line. */
static void f_json_pretty(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    sql_jnode *j = arg_doc(ctx, argv[0], 1, "json_pretty");
    if (j == NULL) {
        return;
    }
    cm_buf b = CM_BUF_INIT;
    if (sql_json_pretty(&b, j, 0) != 0) {
        sqlite3_result_error_nomem(ctx);
    } else {
        sql_fn_result_str(ctx, NULL, b.ptr, b.len);
    }
    cm_buf_fini(&b);
    sql_json_free(j);
}

static const sql_fn_def json_fns[] = {
    {"_tdb_json_bool", 1, 1, f_json_bool},
    {"json_array_append", -1, 1, f_json_array_append},
    {"json_array_insert", -1, 1, f_json_array_insert},
    {"json_merge_patch", -1, 1, f_json_merge_patch},
    {"json_merge_preserve", -1, 1, f_json_merge_preserve},
    {"json_merge", -1, 1, f_json_merge_preserve},
    {"json_pretty", 1, 1, f_json_pretty},
    {"json_valid", 1, 1, f_json_valid},
    {"json_type", 1, 1, f_json_type},
    {"json_extract", -1, 1, f_json_extract},
    {"->", 2, 1, f_json_extract},
    {"->>", 2, 1, f_json_extract_text},
    {"json_unquote", 1, 1, f_json_unquote},
    {"json_quote", 1, 1, f_json_quote},
    {"json_object", -1, 1, f_json_object},
    {"json_array", -1, 1, f_json_array},
    {"json_contains", 2, 1, f_json_contains},
    {"json_contains", 3, 1, f_json_contains},
    {"json_contains_path", -1, 1, f_json_contains_path},
    {"json_keys", 1, 1, f_json_keys},
    {"json_keys", 2, 1, f_json_keys},
    {"json_length", 1, 1, f_json_length},
    {"json_length", 2, 1, f_json_length},
    {"json_depth", 1, 1, f_json_depth},
    {"json_set", -1, 1, f_json_set},
    {"json_insert", -1, 1, f_json_insert},
    {"json_replace", -1, 1, f_json_replace},
    {"json_remove", -1, 1, f_json_remove},
};

int sql_func_json_register(sql_sess *s)
{
    if (sql_fn_register_table(s, json_fns, sizeof(json_fns) / sizeof(json_fns[0])) != 0) {
        return CM_E_INTERNAL;
    }
    if (sqlite3_create_function_v2(s->db, "json_arrayagg", 1, SQLITE_UTF8, s, NULL, arrayagg_step,
                                   jagg_final, NULL) != SQLITE_OK ||
        sqlite3_create_function_v2(s->db, "json_objectagg", 2, SQLITE_UTF8, s, NULL, objectagg_step,
                                   jagg_final, NULL) != SQLITE_OK) {
        return CM_E_INTERNAL;
    }
    return 0;
}
