/*
 * sql_json.h — MySQL's JSON documents without SQLite: a small tree (sql_jnode) parsed from
 * text, printed as MySQL prints JSON (`{"a": 1, "b": [1, 2]}`, objects normalised: members
 * sorted by key length then bytes, the last duplicate key wins), path expressions ($, .key,
 * ."key", .*, [n], [last], [last-n], [*], **), containment and the merge operations.
 * sql_func_json.c registers the SQL functions over it. Not thread-shared: a tree belongs to
 * whoever built it.
 */
#ifndef SQL_JSON_H
#define SQL_JSON_H

#include "cm_buf.h"

#include <stddef.h>
#include <stdint.h>

/* Deepest nesting of a document (MySQL's own limit). */
#define SQL_JSON_DEPTH_MAX 100
/* Path legs in one path expression: bounds the work of one path. */
#define SQL_JSON_PATH_LEGS_MAX 64

enum {
    SQL_JT_NULL,
    SQL_JT_FALSE,
    SQL_JT_TRUE,
    SQL_JT_INT,
    SQL_JT_DOUBLE,
    SQL_JT_STRING,
    SQL_JT_ARRAY,
    SQL_JT_OBJECT
};

typedef struct sql_jnode sql_jnode;
struct sql_jnode {
    int type;
    char *s; /* owned: STRING bytes (unescaped), INT / DOUBLE number text */
    size_t len;
    sql_jnode **kids; /* owned: ARRAY elements, OBJECT values */
    char **keys;      /* owned: OBJECT keys */
    size_t *klen;
    size_t n, cap;
};

enum {
    SQL_JLEG_MEMBER,
    SQL_JLEG_ANY_MEMBER,
    SQL_JLEG_INDEX,
    SQL_JLEG_ANY_INDEX,
    SQL_JLEG_ANY_DEPTH
};

typedef struct sql_jleg {
    int kind;
    char *key; /* owned (SQL_JLEG_MEMBER) */
    size_t klen;
    int64_t index; /* SQL_JLEG_INDEX: >= 0 from the start; < 0: last + 1 + index (last is -1) */
} sql_jleg;

typedef struct sql_jpath {
    sql_jleg legs[SQL_JSON_PATH_LEGS_MAX];
    int n;
    int wild; /* contains * or ** */
} sql_jpath;

typedef struct sql_jhits {
    sql_jnode **v;
    size_t n, cap;
} sql_jhits;

/* Nodes: new / new_str (a STRING's bytes or a number's text, copied) / copy return NULL when out
 * of memory; free takes NULL. */
sql_jnode *sql_json_new(int type);
sql_jnode *sql_json_new_str(int type, const char *p, size_t n);
sql_jnode *sql_json_copy(const sql_jnode *j);
void sql_json_free(sql_jnode *j);
/* Member k of object j: its index or -1 (*ins, when not NULL: where it would go). */
int64_t sql_json_find(const sql_jnode *j, const char *k, size_t kn, size_t *ins);
/* Sets member k of object j to v (v owned; an existing member is replaced). 0 or -1. */
int sql_json_obj_put(sql_jnode *j, const char *k, size_t kn, sql_jnode *v);
/* Inserts v (owned) at index at (clamped to the end) of array j. 0 or -1. */
int sql_json_arr_insert(sql_jnode *j, size_t at, sql_jnode *v);

/* Parses a whole document: the tree, or NULL when the text is not JSON (or nests deeper than
 * SQL_JSON_DEPTH_MAX, or memory ran out). */
sql_jnode *sql_json_parse(const char *p, size_t n);
/* Appends MySQL's text of j / of a JSON string literal / the pretty form (two-space indent).
 * 0 or CM_E_NOMEM-like non-zero. */
int sql_json_print(cm_buf *b, const sql_jnode *j);
int sql_json_print_string(cm_buf *b, const char *p, size_t n);
int sql_json_pretty(cm_buf *b, const sql_jnode *j, int indent);
/* A double as MySQL prints it in JSON (100000.0, 1.5e-7, 1e20). */
void sql_json_double_text(double d, char *buf, size_t cap);

/* Paths: parse fills out (its member names owned; sql_json_path_fini frees them) or returns
 * -1. walk appends to h every value legs [k, n) of p reach from j (document order, no
 * duplicates); 0 or -1 (memory). leg_index resolves [n] / [last-n] in an array of n elements. */
int sql_json_path_parse(const char *p, size_t n, sql_jpath *out);
void sql_json_path_fini(sql_jpath *p);
int sql_json_walk(sql_jnode *j, const sql_jpath *p, int k, sql_jhits *h);
int64_t sql_json_leg_index(const sql_jleg *l, size_t n);

/* JSON_CONTAINS(t, c): 1 or 0. JSON_DEPTH. */
int sql_json_contains(const sql_jnode *t, const sql_jnode *c);
int sql_json_depth(const sql_jnode *j);
/* JSON_MERGE_PATCH (RFC 7396) and JSON_MERGE_PRESERVE of two trees (both owned): the result,
 * or NULL when out of memory (both freed). */
sql_jnode *sql_json_merge_patch(sql_jnode *target, sql_jnode *patch);
sql_jnode *sql_json_merge_preserve(sql_jnode *a, sql_jnode *b);

#endif
