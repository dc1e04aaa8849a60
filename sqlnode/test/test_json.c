/*
 * test_json.c — unit tests of sql_json.c (MySQL's JSON documents): MySQL's printing and object
 * normalisation, malformed text refused (depth, surrogates, trailing bytes), paths and their
 * hits, containment, merges, double formatting.
 */
#include "sql_json.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static sql_jnode *parse(const char *s)
{
    sql_jnode *j = sql_json_parse(s, strlen(s));
    assert_non_null(j);
    return j;
}

/* Prints j (consumed) and compares with want. */
static void check_print(sql_jnode *j, const char *want)
{
    cm_buf b = CM_BUF_INIT;
    assert_int_equal(sql_json_print(&b, j), 0);
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.ptr, want, b.len);
    cm_buf_fini(&b);
    sql_json_free(j);
}

static void roundtrip(const char *in, const char *want)
{
    check_print(parse(in), want);
}

static void test_print(void **state)
{
    (void)state;
    roundtrip("{\"a\":1,\"b\":[1,2,{\"c\":true}]}", "{\"a\": 1, \"b\": [1, 2, {\"c\": true}]}");
    roundtrip(" [ ] ", "[]");
    roundtrip("{}", "{}");
    roundtrip("\"a\\\"b\\\\c\\n\\u0001\"", "\"a\\\"b\\\\c\\n\\u0001\"");
    roundtrip("\"\\u00e9\\ud83d\\ude00\"", "\"\xc3\xa9\xf0\x9f\x98\x80\"");
    roundtrip("[1e5, 2.50, 1E-10, -0, 99999999999999999999, 12345678901234567890]",
              "[100000.0, 2.5, 1e-10, -0, 1e20, 1.234567890123457e19]");
    /* members sorted by key length, then bytes; the last duplicate wins */
    roundtrip("{\"bb\":1,\"a\":2,\"c\":3,\"a\":4}", "{\"a\": 4, \"c\": 3, \"bb\": 1}");
}

static void test_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",    "{",     "[1,]",    "{\"a\":}",    "{\"a\" 1}",  "[1] x",  "01",    "1.",  "1e",
        "tru", "\"abc", "\"\\x\"", "\"\\ud800\"", "\"a\x01b\"", "{1: 2}", "[1 2]", "nul", "-",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_null(sql_json_parse(bad[i], strlen(bad[i])));
    }
    /* nesting: SQL_JSON_DEPTH_MAX levels parse, one more does not */
    char deep[2 * SQL_JSON_DEPTH_MAX + 3];
    for (int d = SQL_JSON_DEPTH_MAX; d <= SQL_JSON_DEPTH_MAX + 1; d++) {
        memset(deep, '[', (size_t)d);
        memset(deep + d, ']', (size_t)d);
        sql_jnode *j = sql_json_parse(deep, (size_t)(2 * d));
        if (d == SQL_JSON_DEPTH_MAX) {
            assert_non_null(j);
            assert_int_equal(sql_json_depth(j), SQL_JSON_DEPTH_MAX);
            sql_json_free(j);
        } else {
            assert_null(j);
        }
    }
}

/* The values path reaches in doc, printed as one array. */
static void check_path(const char *doc, const char *path, const char *want)
{
    sql_jnode *j = parse(doc);
    sql_jpath p;
    assert_int_equal(sql_json_path_parse(path, strlen(path), &p), 0);
    sql_jhits h = {0};
    assert_int_equal(sql_json_walk(j, &p, 0, &h), 0);
    sql_jnode *a = sql_json_new(SQL_JT_ARRAY);
    for (size_t i = 0; i < h.n; i++) {
        assert_int_equal(sql_json_arr_insert(a, a->n, sql_json_copy(h.v[i])), 0);
    }
    check_print(a, want);
    free(h.v);
    sql_json_path_fini(&p);
    sql_json_free(j);
}

static void test_paths(void **state)
{
    (void)state;
    const char *doc = "{\"a\": [10, {\"c\": 7}], \"b\": {\"c\": 8}, \"x y\": 1}";
    check_path(doc, "$", "[{\"a\": [10, {\"c\": 7}], \"b\": {\"c\": 8}, \"x y\": 1}]");
    check_path(doc, "$.a[0]", "[10]");
    check_path(doc, "$.a[last]", "[{\"c\": 7}]");
    check_path(doc, "$.a[last-1]", "[10]");
    check_path(doc, "$.a[5]", "[]");
    check_path(doc, "$.\"x y\"", "[1]");
    check_path(doc, "$.*.c", "[8]");
    check_path(doc, "$**.c", "[7, 8]");
    check_path(doc, "$.a[*]", "[10, {\"c\": 7}]");
    check_path(doc, "$.b[0].c", "[8]"); /* a non-array is its own [0] */
    static const char *const bad[] = {"", "a", "$.", "$[", "$[x]", "$**", "$.1a", "$[1", "$a"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sql_jpath p;
        assert_int_equal(sql_json_path_parse(bad[i], strlen(bad[i]), &p), -1);
    }
}

static void check_contains(const char *t, const char *c, int want)
{
    sql_jnode *a = parse(t), *b = parse(c);
    assert_int_equal(sql_json_contains(a, b), want);
    sql_json_free(a);
    sql_json_free(b);
}

static void test_contains(void **state)
{
    (void)state;
    check_contains("[1, 2, [3, 4]]", "[1, 3]", 1);
    check_contains("[1, 2]", "[1, 5]", 0);
    check_contains("{\"a\": 1, \"c\": {\"d\": 4}}", "{\"c\": {\"d\": 4}}", 1);
    check_contains("{\"a\": 1}", "{\"a\": 2}", 0);
    check_contains("[1.0, 2]", "1", 1);
    check_contains("\"x\"", "\"x\"", 1);
    check_contains("{\"a\": 1}", "1", 0);
}

static void check_merge(const char *a, const char *b, int patch, const char *want)
{
    sql_jnode *x = parse(a), *y = parse(b);
    sql_jnode *r = patch ? sql_json_merge_patch(x, y) : sql_json_merge_preserve(x, y);
    assert_non_null(r);
    check_print(r, want);
}

static void test_merge(void **state)
{
    (void)state;
    check_merge("{\"a\": 1, \"b\": 2}", "{\"b\": null, \"c\": {\"d\": 1}}", 1,
                "{\"a\": 1, \"c\": {\"d\": 1}}");
    check_merge("[1, 2]", "[true]", 1, "[true]");
    check_merge("1", "{\"a\": null, \"b\": 2}", 1, "{\"b\": 2}");
    check_merge("[1, 2]", "[true, false]", 0, "[1, 2, true, false]");
    check_merge("{\"a\": 1}", "{\"a\": 2, \"b\": 3}", 0, "{\"a\": [1, 2], \"b\": 3}");
    check_merge("1", "true", 0, "[1, true]");
    check_merge("{\"a\": 1}", "[2]", 0, "[{\"a\": 1}, 2]");
}

static void test_pretty_and_doubles(void **state)
{
    (void)state;
    sql_jnode *j = parse("{\"a\":[1,{}],\"b\":[]}");
    cm_buf b = CM_BUF_INIT;
    assert_int_equal(sql_json_pretty(&b, j, 0), 0);
    const char *want = "{\n  \"a\": [\n    1,\n    {}\n  ],\n  \"b\": []\n}";
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.ptr, want, b.len);
    cm_buf_fini(&b);
    sql_json_free(j);

    char buf[64];
    static const struct {
        double d;
        const char *s;
    } cases[] = {{1.5, "1.5"},       {100.0, "100.0"}, {1e20, "1e20"},
                 {1.5e-7, "1.5e-7"}, {0.1, "0.1"},     {-2.5, "-2.5"},
                 {0.0, "0.0"},       {1e15, "1e15"},   {123456.789, "123456.789"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sql_json_double_text(cases[i].d, buf, sizeof(buf));
        assert_string_equal(buf, cases[i].s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_print), cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_paths), cmocka_unit_test(test_contains),
        cmocka_unit_test(test_merge), cmocka_unit_test(test_pretty_and_doubles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
