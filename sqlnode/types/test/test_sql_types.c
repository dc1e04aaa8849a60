/* Unit tests for sqlnode/types: parse/format round trips, declaration errors, store conversions
 * (strict and not: value, error, warning), load conversions, SQLite declarations, metadata. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cm_row.h"
#include "sql_lexer.h"
#include "sql_my_const.h"
#include "sql_types.h"
#include "sql_types_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- helpers ---- */

/* Parses the type at the start of sql; *rest: tokens left after the type. */
static int parse(const char *sql, sql_coltype *out, cm_err *err, uint32_t *rest)
{
    sql_tokens toks;
    sql_tokens_init(&toks);
    int rc = sql_lex(sql, strlen(sql), 0, &toks, err);
    assert_int_equal(rc, 0);
    uint32_t pos = 0;
    rc = sql_type_parse_named(sql, toks.v, toks.n, &pos, "c", 0, out, err);
    if (rest != NULL) {
        *rest = toks.n - pos;
    }
    sql_tokens_fini(&toks);
    return rc;
}

static void parse_ok(const char *sql, sql_coltype *out)
{
    cm_err err;
    uint32_t rest;
    int rc = parse(sql, out, &err, &rest);
    if (rc != 0) {
        fail_msg("parse '%s': %s", sql, err.msg);
    }
    if (rest != 0) {
        fail_msg("parse '%s': %u tokens left", sql, rest);
    }
}

static char *format(const sql_coltype *t)
{
    cm_buf b = CM_BUF_INIT;
    assert_int_equal(sql_type_format(t, &b), 0);
    assert_int_equal(cm_buf_terminate(&b), 0);
    return (char *)b.ptr;
}

/* Renders a loaded value: NULL, integers, doubles as MySQL prints them, text, x'hex' blobs. */
static void render(const sql_value *v, char *buf, size_t cap)
{
    switch (v->type) {
    case SQL_V_NULL:
        snprintf(buf, cap, "NULL");
        return;
    case SQL_V_INT:
        snprintf(buf, cap, "%lld", (long long)v->i);
        return;
    case SQL_V_UINT:
        snprintf(buf, cap, "%llu", (unsigned long long)v->u);
        return;
    case SQL_V_DOUBLE: {
        cm_buf b = CM_BUF_INIT;
        assert_int_equal(sql_num_format_double(v->d, &b), 0);
        snprintf(buf, cap, "%.*s", (int)b.len, (const char *)b.ptr);
        cm_buf_fini(&b);
        return;
    }
    case SQL_V_TEXT:
        snprintf(buf, cap, "%.*s", (int)v->n, v->s != NULL ? v->s : "");
        return;
    case SQL_V_BLOB: {
        size_t j = (size_t)snprintf(buf, cap, "x'");
        for (size_t i = 0; i < v->n && j + 4 < cap; i++) {
            j += (size_t)snprintf(buf + j, cap - j, "%02x", (unsigned char)v->s[i]);
        }
        snprintf(buf + j, cap - j, "'");
        return;
    }
    }
}

/* Input spec: "i:-5", "u:18446744073709551615", "d:1.5", "s:text", "b:bytes", "n:". */
static sql_value input(const char *spec)
{
    const char *v = spec + 2;
    switch (spec[0]) {
    case 'i':
        return sql_value_int(strtoll(v, NULL, 10));
    case 'u': {
        sql_value x = sql_value_null();
        x.type = SQL_V_UINT;
        x.u = strtoull(v, NULL, 10);
        return x;
    }
    case 'd': {
        sql_value x = sql_value_null();
        x.type = SQL_V_DOUBLE;
        x.d = strtod(v, NULL);
        return x;
    }
    case 's':
        return sql_value_text(v, strlen(v));
    case 'b': {
        sql_value x = sql_value_text(v, strlen(v));
        x.type = SQL_V_BLOB;
        return x;
    }
    default:
        return sql_value_null();
    }
}

/* ---- parse / format ---- */

typedef struct rt_case {
    const char *decl;
    const char *formatted;
    uint8_t dtype;
} rt_case;

static const rt_case rt_cases[] = {
    {"INT", "int", CM_DT_INT64},
    {"int(11)", "int", CM_DT_INT64},
    {"INTEGER", "int", CM_DT_INT64},
    {"INT4", "int", CM_DT_INT64},
    {"int unsigned", "int unsigned", CM_DT_UINT64},
    {"INT(10) UNSIGNED", "int unsigned", CM_DT_UINT64},
    {"int signed", "int", CM_DT_INT64},
    {"int(5) zerofill", "int(5) unsigned zerofill", CM_DT_UINT64},
    {"int zerofill", "int(10) unsigned zerofill", CM_DT_UINT64},
    {"bigint", "bigint", CM_DT_INT64},
    {"BIGINT(20) UNSIGNED", "bigint unsigned", CM_DT_UINT64},
    {"int8", "bigint", CM_DT_INT64},
    {"tinyint", "tinyint", CM_DT_INT64},
    {"tinyint(1)", "tinyint(1)", CM_DT_INT64},
    {"tinyint(4)", "tinyint", CM_DT_INT64},
    {"tinyint(1) unsigned", "tinyint(1) unsigned", CM_DT_UINT64},
    {"int1", "tinyint", CM_DT_INT64},
    {"BOOL", "tinyint(1)", CM_DT_INT64},
    {"boolean", "tinyint(1)", CM_DT_INT64},
    {"smallint", "smallint", CM_DT_INT64},
    {"smallint unsigned zerofill", "smallint(5) unsigned zerofill", CM_DT_UINT64},
    {"mediumint", "mediumint", CM_DT_INT64},
    {"middleint", "mediumint", CM_DT_INT64},
    {"int3", "mediumint", CM_DT_INT64},
    {"serial", "bigint unsigned", CM_DT_UINT64},
    {"decimal", "decimal(10,0)", CM_DT_DECIMAL},
    {"DECIMAL(10,2)", "decimal(10,2)", CM_DT_DECIMAL},
    {"decimal(5)", "decimal(5,0)", CM_DT_DECIMAL},
    {"numeric(65,30)", "decimal(65,30)", CM_DT_DECIMAL},
    {"dec(3,3)", "decimal(3,3)", CM_DT_DECIMAL},
    {"fixed(8,1) unsigned", "decimal(8,1) unsigned", CM_DT_DECIMAL},
    {"decimal(6,2) zerofill", "decimal(6,2) unsigned zerofill", CM_DT_DECIMAL},
    {"float", "float", CM_DT_FLOAT32},
    {"float4", "float", CM_DT_FLOAT32},
    {"float(7,2)", "float(7,2)", CM_DT_FLOAT32},
    {"float(24)", "float", CM_DT_FLOAT32},
    {"float(25)", "double", CM_DT_FLOAT64},
    {"float(53)", "double", CM_DT_FLOAT64},
    {"float unsigned", "float unsigned", CM_DT_FLOAT32},
    {"double", "double", CM_DT_FLOAT64},
    {"double precision", "double", CM_DT_FLOAT64},
    {"real", "double", CM_DT_FLOAT64},
    {"float8", "double", CM_DT_FLOAT64},
    {"double(10,3)", "double(10,3)", CM_DT_FLOAT64},
    {"bit", "bit(1)", CM_DT_BIT},
    {"bit(8)", "bit(8)", CM_DT_BIT},
    {"bit(64)", "bit(64)", CM_DT_BIT},
    {"char", "char(1)", CM_DT_STRING},
    {"char(120)", "char(120)", CM_DT_STRING},
    {"CHARACTER(10)", "char(10)", CM_DT_STRING},
    {"char(0)", "char(0)", CM_DT_STRING},
    {"nchar(5)", "char(5)", CM_DT_STRING},
    {"national char(5)", "char(5)", CM_DT_STRING},
    {"national character varying(7)", "varchar(7)", CM_DT_STRING},
    {"national varchar(7)", "varchar(7)", CM_DT_STRING},
    {"nvarchar(9)", "varchar(9)", CM_DT_STRING},
    {"char varying(3)", "varchar(3)", CM_DT_STRING},
    {"character varying(3)", "varchar(3)", CM_DT_STRING},
    {"varchar(20)", "varchar(20)", CM_DT_STRING},
    {"VARCHAR(16383)", "varchar(16383)", CM_DT_STRING},
    {"varchar(20) character set utf8mb4", "varchar(20)", CM_DT_STRING},
    {"varchar(20) charset utf8mb4 collate utf8mb4_bin", "varchar(20)", CM_DT_STRING},
    {"varchar(20) collate utf8mb4_general_ci", "varchar(20)", CM_DT_STRING},
    {"varchar(20) character set latin1", "varchar(20)", CM_DT_STRING},
    {"varchar(20) char set 'utf8'", "varchar(20)", CM_DT_STRING},
    {"varchar(20) character set `ascii`", "varchar(20)", CM_DT_STRING},
    {"varchar(20) binary", "varchar(20)", CM_DT_STRING},
    {"varchar(20) ascii", "varchar(20)", CM_DT_STRING},
    {"varchar(20) character set binary", "varbinary(20)", CM_DT_BYTES},
    {"char(4) byte", "binary(4)", CM_DT_BYTES},
    {"text character set binary", "blob", CM_DT_BYTES},
    {"varchar(5) collate binary", "varbinary(5)", CM_DT_BYTES},
    {"binary", "binary(1)", CM_DT_BYTES},
    {"binary(16)", "binary(16)", CM_DT_BYTES},
    {"varbinary(255)", "varbinary(255)", CM_DT_BYTES},
    {"varbinary(65535)", "varbinary(65535)", CM_DT_BYTES},
    {"tinytext", "tinytext", CM_DT_STRING},
    {"text", "text", CM_DT_STRING},
    {"text(100)", "text", CM_DT_STRING},
    {"text(60)", "tinytext", CM_DT_STRING},
    {"text(20000)", "mediumtext", CM_DT_STRING},
    {"text(5000000)", "longtext", CM_DT_STRING},
    {"mediumtext", "mediumtext", CM_DT_STRING},
    {"longtext", "longtext", CM_DT_STRING},
    {"long", "mediumtext", CM_DT_STRING},
    {"long varchar", "mediumtext", CM_DT_STRING},
    {"long varbinary", "mediumblob", CM_DT_BYTES},
    {"tinyblob", "tinyblob", CM_DT_BYTES},
    {"blob", "blob", CM_DT_BYTES},
    {"blob(300)", "blob", CM_DT_BYTES},
    {"blob(255)", "tinyblob", CM_DT_BYTES},
    {"mediumblob", "mediumblob", CM_DT_BYTES},
    {"longblob", "longblob", CM_DT_BYTES},
    {"date", "date", CM_DT_DATE},
    {"time", "time", CM_DT_TIME},
    {"time(3)", "time(3)", CM_DT_TIME},
    {"time(0)", "time", CM_DT_TIME},
    {"datetime", "datetime", CM_DT_DATETIME},
    {"datetime(3)", "datetime(3)", CM_DT_DATETIME},
    {"datetime(6)", "datetime(6)", CM_DT_DATETIME},
    {"timestamp", "timestamp", CM_DT_TIMESTAMP},
    {"timestamp(6)", "timestamp(6)", CM_DT_TIMESTAMP},
    {"year", "year", CM_DT_YEAR},
    {"year(4)", "year", CM_DT_YEAR},
    {"enum('a','b')", "enum('a','b')", CM_DT_ENUM},
    {"ENUM('x', 'y ', 'z')", "enum('x','y','z')", CM_DT_ENUM},
    {"enum('it''s','back\\\\slash')", "enum('it''s','back\\\\slash')", CM_DT_ENUM},
    {"enum('')", "enum('')", CM_DT_ENUM},
    {"enum('a') character set utf8mb4", "enum('a')", CM_DT_ENUM},
    {"set('a','b','c')", "set('a','b','c')", CM_DT_SET},
    {"set('日本','b')", "set('日本','b')", CM_DT_SET},
    {"json", "json", CM_DT_JSON},
};

static void test_parse_format_roundtrip(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rt_cases) / sizeof(rt_cases[0]); i++) {
        const rt_case *c = &rt_cases[i];
        sql_coltype t, t2, t3;
        parse_ok(c->decl, &t);
        char *f = format(&t);
        if (strcmp(f, c->formatted) != 0) {
            fail_msg("'%s' formats as '%s', want '%s'", c->decl, f, c->formatted);
        }
        if (t.dtype != c->dtype) {
            fail_msg("'%s' stores as %s, want %s", c->decl, cm_dtype_name(t.dtype),
                     cm_dtype_name(c->dtype));
        }
        /* the formatted text parses to the same type */
        parse_ok(f, &t2);
        char *f2 = format(&t2);
        assert_string_equal(f, f2);
        assert_int_equal(t2.dtype, t.dtype);
        assert_int_equal(t2.mysql_type, t.mysql_type);
        assert_int_equal(t2.length, t.length);
        /* a deep copy formats the same and frees independently */
        cm_err err;
        assert_int_equal(sql_coltype_copy(&t3, &t, &err), 0);
        sql_coltype_free(&t);
        char *f3 = format(&t3);
        assert_string_equal(f3, c->formatted);
        free(f);
        free(f2);
        free(f3);
        sql_coltype_free(&t2);
        sql_coltype_free(&t3);
    }
}

static void test_parse_stops_at_attributes(void **state)
{
    (void)state;
    static const struct {
        const char *sql;
        uint32_t rest;
    } cases[] = {
        {"int NOT NULL", 2},
        {"int unsigned NOT NULL AUTO_INCREMENT", 3},
        {"varchar(10) NOT NULL DEFAULT 'x'", 4},
        {"varchar(10) collate utf8mb4_bin NOT NULL", 2},
        {"char(3) binary primary key", 2},
        {"datetime(3) DEFAULT CURRENT_TIMESTAMP(3)", 5},
        {"decimal(10,2), b int", 3},
        {"enum('a') DEFAULT 'a'", 2},
        {"double precision default 1", 2},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sql_coltype t;
        cm_err err;
        uint32_t rest = 99;
        int rc = parse(cases[i].sql, &t, &err, &rest);
        if (rc != 0) {
            fail_msg("'%s': %s", cases[i].sql, err.msg);
        }
        if (rest != cases[i].rest) {
            fail_msg("'%s': %u tokens left, want %u", cases[i].sql, rest, cases[i].rest);
        }
        sql_coltype_free(&t);
    }
}

typedef struct perr_case {
    const char *decl;
    int mysql_errno;
    const char *msg_part;
} perr_case;

static const perr_case perr_cases[] = {
    {"varchar", 1064, "syntax"},
    {"varchar(x)", 1064, "near 'x)'"},
    {"int(", 1064, "syntax"},
    {"int(5", 1064, "syntax"},
    {"foo", 1064, "near 'foo'"},
    {"", 1064, "syntax"},
    {"double(5)", 1064, "syntax"},
    {"enum()", 1064, "syntax"},
    {"enum(a)", 1064, "syntax"},
    {"enum('a',)", 1064, "syntax"},
    {"national", 1064, "syntax"},
    {"char(256)", 1074, "Column length too big for column 'c' (max = 255)"},
    {"binary(256)", 1074, "max = 255"},
    {"varchar(16384)", 1074, "max = 16383"},
    {"varbinary(65536)", 1074, "max = 65535"},
    /* every text is utf8mb4 here, whatever the declared charset (docs/sql-layer.md, Types) */
    {"varchar(16384) charset latin1", 1074, "max = 16383"},
    {"varchar(99999999999)", 1074, "max = 16383"},
    {"decimal(66,2)", 1426, "Too-big precision 66 specified for 'c'. Maximum is 65."},
    {"decimal(65,31)", 1425, "Too big scale 31 specified for column 'c'. Maximum is 30."},
    {"decimal(5,6)", 1427, "M must be >= D (column 'c')"},
    {"float(10,11)", 1427, "M must be >= D"},
    {"float(256,2)", 1439, "Display width out of range for column 'c' (max = 255)"},
    {"double(40,31)", 1425, "Too big scale 31"},
    {"float(54)", 1063, "Incorrect column specifier for column 'c'"},
    {"int(256)", 1439, "max = 255"},
    {"bit(65)", 1439, "max = 64"},
    {"bit(0)", 1439, "max = 64"},
    {"time(7)", 1426, "Too-big precision 7 specified for 'c'. Maximum is 6."},
    {"datetime(9)", 1426, "Maximum is 6"},
    {"timestamp(7)", 1426, "Maximum is 6"},
    {"year(2)", 1818, "YEAR(4)"},
    {"enum('a','b','a')", 1291, "Column 'c' has duplicated value 'a' in ENUM"},
    {"enum('a','a ')", 1291, "duplicated value 'a'"},
    {"set('x','x')", 1291, "in SET"},
    {"set('a,b')", 1367, "Illegal set 'a,b' value"},
    {"varchar(10) character set klingon", 1115, "Unknown character set: 'klingon'"},
    {"varchar(10) collate klingon_ci", 1273, "Unknown collation: 'klingon_ci'"},
    {"varchar(10) character set latin1 collate utf8mb4_bin", 1253,
     "COLLATION 'utf8mb4_bin' is not valid for CHARACTER SET 'latin1'"},
    {"varchar(10) character", 1064, "syntax"},
};

static void test_parse_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(perr_cases) / sizeof(perr_cases[0]); i++) {
        const perr_case *c = &perr_cases[i];
        sql_coltype t;
        cm_err err;
        memset(&err, 0, sizeof(err));
        int rc = parse(c->decl, &t, &err, NULL);
        if (rc == 0) {
            char *f = format(&t);
            fail_msg("'%s' parsed (as %s), want error %d", c->decl, f, c->mysql_errno);
        }
        assert_int_equal(err.code, rc);
        if (cm_err_mysql_errno(rc) != c->mysql_errno) {
            fail_msg("'%s': errno %d (%s), want %d", c->decl, cm_err_mysql_errno(rc), err.msg,
                     c->mysql_errno);
        }
        if (strstr(err.msg, c->msg_part) == NULL) {
            fail_msg("'%s': message '%s' lacks '%s'", c->decl, err.msg, c->msg_part);
        }
    }
}

/* A syntax error quotes the source up to the last token only: the source need not be
 * NUL-terminated (found by fuzz_sql_type_store; ASAN checks the bound). */
static void test_parse_error_unterminated_source(void **state)
{
    (void)state;
    static const char *srcs[] = {"bit((10)", "varchar", "int(5", "enum('a'"};
    for (size_t i = 0; i < sizeof(srcs) / sizeof(srcs[0]); i++) {
        size_t n = strlen(srcs[i]);
        char *src = malloc(n); /* no NUL */
        assert_non_null(src);
        memcpy(src, srcs[i], n);
        sql_tokens toks;
        sql_tokens_init(&toks);
        cm_err err;
        assert_int_equal(sql_lex(src, n, 0, &toks, &err), 0);
        uint32_t pos = 0;
        sql_coltype t;
        assert_int_equal(sql_type_parse(src, toks.v, toks.n, &pos, &t, &err), CM_E_PARSE);
        assert_non_null(strstr(err.msg, "at line 1"));
        sql_tokens_fini(&toks);
        free(src);
    }
}

static void test_set_too_many_members(void **state)
{
    (void)state;
    cm_buf b = CM_BUF_INIT;
    assert_int_equal(cm_buf_printf(&b, "set("), 0);
    for (int i = 0; i < 65; i++) {
        assert_int_equal(cm_buf_printf(&b, "%s'm%d'", i ? "," : "", i), 0);
    }
    assert_int_equal(cm_buf_printf(&b, ")"), 0);
    assert_int_equal(cm_buf_terminate(&b), 0);
    sql_coltype t;
    cm_err err;
    int rc = parse((const char *)b.ptr, &t, &err, NULL);
    assert_int_equal(cm_err_mysql_errno(rc), 1097);
    assert_non_null(strstr(err.msg, "Too many strings for column c and SET"));
    /* 64 members is fine */
    cm_buf_reset(&b);
    assert_int_equal(cm_buf_printf(&b, "set("), 0);
    for (int i = 0; i < 64; i++) {
        assert_int_equal(cm_buf_printf(&b, "%s'm%d'", i ? "," : "", i), 0);
    }
    assert_int_equal(cm_buf_printf(&b, ")"), 0);
    assert_int_equal(cm_buf_terminate(&b), 0);
    parse_ok((const char *)b.ptr, &t);
    assert_int_equal(t.nmembers, 64);
    sql_coltype_free(&t);
    cm_buf_fini(&b);
}

static void test_apply_collate(void **state)
{
    (void)state;
    sql_coltype t;
    cm_err err;
    parse_ok("varchar(10)", &t);
    assert_int_equal(sql_type_apply_collate(&t, "utf8mb4_bin", 11, &err), 0);
    assert_int_equal(t.dtype, CM_DT_STRING);
    assert_int_equal(sql_type_apply_collate(&t, "binary", 6, &err), 0);
    assert_int_equal(t.dtype, CM_DT_BYTES);
    char *f = format(&t);
    assert_string_equal(f, "varbinary(10)");
    free(f);
    assert_int_equal(cm_err_mysql_errno(sql_type_apply_collate(&t, "nope", 4, &err)), 1273);
    parse_ok("int", &t);
    assert_int_equal(cm_err_mysql_errno(sql_type_apply_collate(&t, "utf8mb4_bin", 11, &err)), 1253);
}

/* ---- SQLite declarations ---- */

static void test_sqlite_decl(void **state)
{
    (void)state;
    static const struct {
        const char *decl;
        const char *aff;
    } cases[] = {
        {"int", "INTEGER"},
        {"bigint unsigned", "INTEGER"},
        {"year", "INTEGER"},
        {"tinyint(1)", "INTEGER"},
        {"float", "REAL"},
        {"double", "REAL"},
        {"decimal(10,2)", "NUMERIC"},
        {"varchar(3)", "TEXT"},
        {"text", "TEXT"},
        {"date", "TEXT"},
        {"datetime(6)", "TEXT"},
        {"time", "TEXT"},
        {"enum('a')", "TEXT"},
        {"set('a')", "TEXT"},
        {"json", "TEXT"},
        {"blob", "BLOB"},
        {"binary(3)", "BLOB"},
        {"bit(3)", "BLOB"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sql_coltype t;
        parse_ok(cases[i].decl, &t);
        if (strcmp(sql_type_sqlite_decl(&t), cases[i].aff) != 0) {
            fail_msg("'%s' declared %s, want %s", cases[i].decl, sql_type_sqlite_decl(&t),
                     cases[i].aff);
        }
        sql_coltype_free(&t);
    }
}

/* The DECIMAL collation: exact numeric order, equal scales ignored, a total order. */
static void test_decimal_collation(void **state)
{
    (void)state;
    static const char *sorted[] = {
        "-99999999999999999999999999999999.5",
        "-100",
        "-9.5",
        "-0.001",
        "0",
        "0.00000000000000000001",
        "9.4999999999999999999999",
        "9.5",
        "10",
        "100.25",
        "12345678901234567890123456789",
        "12345678901234567890123456790",
        "abc",
        "abd",
    };
    size_t n = sizeof(sorted) / sizeof(sorted[0]);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            int c = sql_type_decimal_collate(NULL, (int)strlen(sorted[i]), sorted[i],
                                             (int)strlen(sorted[j]), sorted[j]);
            int want = i < j ? -1 : i > j;
            if (c != want) {
                fail_msg("collate('%s', '%s') = %d, want %d", sorted[i], sorted[j], c, want);
            }
        }
    }
    assert_int_equal(sql_type_decimal_collate(NULL, 4, "9.50", 3, "9.5"), 0);
    assert_int_equal(sql_type_decimal_collate(NULL, 5, "-0.00", 1, "0"), 0);
    assert_int_equal(sql_type_decimal_collate(NULL, 0, "", 1, "0"), 1);
    assert_int_equal(sql_type_decimal_collate(NULL, 0, "", 0, ""), 0);
    sql_coltype t;
    parse_ok("decimal(5,2)", &t);
    assert_string_equal(sql_type_sqlite_collation(&t), SQL_TYPE_DECIMAL_COLLATION);
    parse_ok("double", &t);
    assert_null(sql_type_sqlite_collation(&t));
}

/* ---- metadata ---- */

typedef struct meta_case {
    const char *decl;
    bool not_null;
    uint16_t key_flags;
    uint8_t type;
    uint16_t flags;
    uint16_t charset;
    uint32_t length;
    uint8_t decimals;
} meta_case;

#define F_NN  SQL_FLAG_NOT_NULL
#define F_PK  SQL_FLAG_PRI_KEY
#define F_BL  SQL_FLAG_BLOB
#define F_UN  SQL_FLAG_UNSIGNED
#define F_ZF  SQL_FLAG_ZEROFILL
#define F_BIN SQL_FLAG_BINARY
#define F_NUM SQL_FLAG_NUM
#define F_AI  SQL_FLAG_AUTO_INCREMENT

static const meta_case meta_cases[] = {
    {"int", true, F_PK | F_AI, SQL_TYPE_LONG, F_NN | F_PK | F_AI | F_NUM, 63, 11, 0},
    {"int", false, 0, SQL_TYPE_LONG, F_NUM, 63, 11, 0},
    {"int unsigned", false, 0, SQL_TYPE_LONG, F_NUM | F_UN, 63, 10, 0},
    {"bigint", false, 0, SQL_TYPE_LONGLONG, F_NUM, 63, 20, 0},
    {"bigint unsigned", false, 0, SQL_TYPE_LONGLONG, F_NUM | F_UN, 63, 20, 0},
    {"tinyint", false, 0, SQL_TYPE_TINY, F_NUM, 63, 4, 0},
    {"tinyint(1)", false, 0, SQL_TYPE_TINY, F_NUM, 63, 1, 0},
    {"smallint", false, 0, SQL_TYPE_SHORT, F_NUM, 63, 6, 0},
    {"mediumint unsigned", false, 0, SQL_TYPE_INT24, F_NUM | F_UN, 63, 8, 0},
    {"int(5) zerofill", false, 0, SQL_TYPE_LONG, F_NUM | F_UN | F_ZF, 63, 5, 0},
    {"decimal(10,2)", false, 0, SQL_TYPE_NEWDECIMAL, F_NUM, 63, 12, 2},
    {"decimal(10,0)", false, 0, SQL_TYPE_NEWDECIMAL, F_NUM, 63, 11, 0},
    {"decimal(10,2) unsigned", false, 0, SQL_TYPE_NEWDECIMAL, F_NUM | F_UN, 63, 11, 2},
    {"float", false, 0, SQL_TYPE_FLOAT, F_NUM, 63, 12, 31},
    {"double", false, 0, SQL_TYPE_DOUBLE, F_NUM, 63, 22, 31},
    {"float(7,2)", false, 0, SQL_TYPE_FLOAT, F_NUM, 63, 7, 2},
    {"char(120)", false, 0, SQL_TYPE_STRING, F_BIN, 46, 480, 0},
    {"varchar(20)", true, 0, SQL_TYPE_VAR_STRING, F_NN | F_BIN, 46, 80, 0},
    {"binary(16)", false, 0, SQL_TYPE_STRING, F_BIN, 63, 16, 0},
    {"varbinary(10)", false, 0, SQL_TYPE_VAR_STRING, F_BIN, 63, 10, 0},
    {"text", false, 0, SQL_TYPE_BLOB, F_BL | F_BIN, 46, 262140, 0},
    {"tinytext", false, 0, SQL_TYPE_BLOB, F_BL | F_BIN, 46, 1020, 0},
    {"mediumtext", false, 0, SQL_TYPE_BLOB, F_BL | F_BIN, 46, 67108860, 0},
    {"longtext", false, 0, SQL_TYPE_BLOB, F_BL | F_BIN, 46, 4294967295u, 0},
    {"blob", false, 0, SQL_TYPE_BLOB, F_BL | F_BIN, 63, 65535, 0},
    {"longblob", false, 0, SQL_TYPE_BLOB, F_BL | F_BIN, 63, 4294967295u, 0},
    {"json", false, 0, SQL_TYPE_JSON, F_BL | F_BIN, 63, 4294967295u, 0},
    {"date", false, 0, SQL_TYPE_DATE, F_BIN, 63, 10, 0},
    {"datetime", false, 0, SQL_TYPE_DATETIME, F_BIN, 63, 19, 0},
    {"datetime(3)", false, 0, SQL_TYPE_DATETIME, F_BIN, 63, 23, 3},
    {"timestamp(6)", false, 0, SQL_TYPE_TIMESTAMP, F_BIN, 63, 26, 6},
    {"time", false, 0, SQL_TYPE_TIME, F_BIN, 63, 10, 0},
    {"time(2)", false, 0, SQL_TYPE_TIME, F_BIN, 63, 13, 2},
    {"year", false, 0, SQL_TYPE_YEAR, F_NUM | F_UN | F_ZF, 63, 4, 0},
    {"bit(8)", false, 0, SQL_TYPE_BIT, F_UN, 63, 8, 0},
    {"enum('a','bcd')", false, 0, SQL_TYPE_STRING, SQL_FLAG_ENUM | F_BIN, 46, 12, 0},
    {"set('a','bcd')", false, 0, SQL_TYPE_STRING, SQL_FLAG_SET | F_BIN, 46, 20, 0},
};

static void test_column_metadata(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(meta_cases) / sizeof(meta_cases[0]); i++) {
        const meta_case *m = &meta_cases[i];
        sql_coltype t;
        parse_ok(m->decl, &t);
        sql_column c = sql_type_column(&t, "col", m->not_null, m->key_flags);
        assert_string_equal(c.name, "col");
        assert_int_equal(c.name_len, 3);
        if (c.type != m->type || c.flags != m->flags || c.charset != m->charset ||
            c.length != m->length || c.decimals != m->decimals) {
            fail_msg("'%s': type %u flags %#x charset %u length %u decimals %u; want %u %#x %u "
                     "%u %u",
                     m->decl, c.type, c.flags, c.charset, c.length, c.decimals, m->type, m->flags,
                     m->charset, m->length, m->decimals);
        }
        sql_coltype_free(&t);
    }
}

/* ---- store + load ---- */

typedef struct st_case {
    const char *decl;
    const char *in;
    int strict_errno; /* 0: stored in strict mode */
    int warn;         /* warning/note code (non-strict; strict too when strict_errno is 0) */
    const char *out;  /* loaded back (non-strict result) */
} st_case;

static const st_case st_cases[] = {
    /* integers */
    {"int", "i:42", 0, 0, "42"},
    {"int", "i:-2147483648", 0, 0, "-2147483648"},
    {"int", "i:2147483648", 1264, 1264, "2147483647"},
    {"int", "i:-2147483649", 1264, 1264, "-2147483648"},
    {"int unsigned", "i:-1", 1264, 1264, "0"},
    {"int unsigned", "i:4294967295", 0, 0, "4294967295"},
    {"int unsigned", "i:4294967296", 1264, 1264, "4294967295"},
    {"tinyint", "i:127", 0, 0, "127"},
    {"tinyint", "i:128", 1264, 1264, "127"},
    {"tinyint", "i:-129", 1264, 1264, "-128"},
    {"tinyint unsigned", "i:255", 0, 0, "255"},
    {"tinyint unsigned", "i:256", 1264, 1264, "255"},
    {"smallint", "i:-32768", 0, 0, "-32768"},
    {"smallint", "i:32768", 1264, 1264, "32767"},
    {"mediumint", "i:8388607", 0, 0, "8388607"},
    {"mediumint", "i:8388608", 1264, 1264, "8388607"},
    {"mediumint unsigned", "i:16777215", 0, 0, "16777215"},
    {"bigint", "i:-9223372036854775808", 0, 0, "-9223372036854775808"},
    {"bigint", "u:9223372036854775808", 1264, 1264, "9223372036854775807"},
    {"bigint unsigned", "u:18446744073709551615", 0, 0, "18446744073709551615"},
    {"bigint unsigned", "s:18446744073709551616", 1264, 1264, "18446744073709551615"},
    {"bigint", "s:-9223372036854775809", 1264, 1264, "-9223372036854775808"},
    {"int", "d:1.5", 0, 0, "2"},
    {"int", "d:-1.5", 0, 0, "-2"},
    {"int", "d:2.4", 0, 0, "2"},
    {"int", "d:1e20", 1264, 1264, "2147483647"},
    {"int", "s:12", 0, 0, "12"},
    {"int", "s:  12  ", 0, 0, "12"},
    {"int", "s:+7", 0, 0, "7"},
    {"int", "s:1.5", 0, 0, "2"},
    {"int", "s:1e3", 0, 0, "1000"},
    {"int", "s:-0", 0, 0, "0"},
    {"int", "s:12abc", 1265, 1265, "12"},
    {"int", "s:abc", 1366, 1366, "0"},
    {"int", "s:", 1366, 1366, "0"},
    {"int", "s:99999999999", 1264, 1264, "2147483647"},
    {"int", "s:1e400", 1264, 1264, "2147483647"},
    {"tinyint(1)", "i:1", 0, 0, "1"},
    {"int", "s:.5", 0, 0, "1"},
    {"int", "s:1.", 0, 0, "1"},
    {"int", "s:-", 1366, 1366, "0"},
    {"int", "s:1e", 1265, 1265, "1"},
    {"int", "s:0x1F", 1265, 1265, "0"},
    {"decimal(5,2)", "s:.5", 0, 0, "0.50"},
    {"decimal(5,2)", "s:-.5", 0, 0, "-0.50"},
    {"decimal(5,2)", "s:1.", 0, 0, "1.00"},
    {"decimal(5,2)", "s: +1.25 ", 0, 0, "1.25"},
    {"double", "s:.5e1", 0, 0, "5"},
    {"int", "n:", 0, 0, "NULL"},
    /* DECIMAL */
    {"decimal(10,2)", "s:12.5", 0, 0, "12.50"},
    {"decimal(10,2)", "s:1.005", 0, 1265, "1.01"},
    {"decimal(10,2)", "s:-1.005", 0, 1265, "-1.01"},
    {"decimal(10,2)", "i:7", 0, 0, "7.00"},
    {"decimal(10,2)", "d:0.1", 0, 0, "0.10"},
    {"decimal(10,2)", "d:2.675", 0, 1265, "2.68"},
    {"decimal(5,2)", "s:999.99", 0, 0, "999.99"},
    {"decimal(5,2)", "s:999.995", 1264, 1264, "999.99"},
    {"decimal(5,2)", "s:1000", 1264, 1264, "999.99"},
    {"decimal(5,2)", "s:-1000", 1264, 1264, "-999.99"},
    {"decimal(5,2) unsigned", "s:-1", 1264, 1264, "0.00"},
    {"decimal(5,2) unsigned", "s:-0.001", 0, 1265, "0.00"},
    {"decimal(10,2)", "s:12x", 1265, 1265, "12.00"},
    {"decimal(10,2)", "s:x", 1366, 1366, "0.00"},
    {"decimal(10,2)", "s:1.5e2", 0, 0, "150.00"},
    {"decimal(65,30)", "s:12345678901234567890123456789012345.123456789012345678901234567890", 0, 0,
     "12345678901234567890123456789012345.123456789012345678901234567890"},
    {"decimal(65,0)", "u:18446744073709551615", 0, 0, "18446744073709551615"},
    {"decimal(3,0)", "s:1e100", 1264, 1264, "999"},
    {"decimal", "s:-12345678901", 1264, 1264, "-9999999999"},
    {"decimal(4,4)", "s:0.12345", 0, 1265, "0.1235"},
    {"decimal(4,4)", "s:1", 1264, 1264, "0.9999"},
    /* FLOAT / DOUBLE */
    {"double", "d:1.5", 0, 0, "1.5"},
    {"double", "i:3", 0, 0, "3"},
    {"double", "s:2.5e3", 0, 0, "2500"},
    {"double", "s:1.5x", 1265, 1265, "1.5"},
    {"double", "s:x", 1366, 1366, "0"},
    {"double", "s:1e400", 1264, 1264, "1.7976931348623157e308"},
    {"double", "d:-0", 0, 0, "0"},
    {"float", "d:1.1", 0, 0, "1.1"},
    {"float", "d:3.4028234e38", 0, 0, "3.4028235e38"},
    {"float", "d:1e39", 1264, 1264, "3.4028235e38"},
    {"float", "d:16777217", 0, 0, "16777216"},
    {"double unsigned", "d:-1", 1264, 1264, "0"},
    {"float(5,2)", "d:1.234", 0, 0, "1.23"},
    {"float(5,2)", "d:999.995", 1264, 1264, "999.99"},
    {"double(4,1)", "d:-999.96", 1264, 1264, "-999.9"},
    /* strings */
    {"varchar(5)", "s:abc", 0, 0, "abc"},
    {"varchar(5)", "s:abcde", 0, 0, "abcde"},
    {"varchar(5)", "s:abcdef", 1406, 1265, "abcde"},
    {"varchar(5)", "s:abc  ", 0, 0, "abc  "},
    {"varchar(5)", "s:abc   ", 0, 1265, "abc  "},
    {"varchar(5)", "s:abcde   ", 0, 1265, "abcde"},
    {"varchar(3)", "s:日本語", 0, 0, "日本語"},
    {"varchar(2)", "s:日本語", 1406, 1265, "日本"},
    {"varchar(3)", "s:😀😀😀", 0, 0, "😀😀😀"},
    {"varchar(5)", "i:123456", 1406, 1265, "12345"},
    {"varchar(10)", "i:-42", 0, 0, "-42"},
    {"varchar(30)", "d:1.5", 0, 0, "1.5"},
    {"varchar(30)", "d:1e20", 0, 0, "1e20"},
    {"varchar(30)", "d:0.0001", 0, 0, "0.0001"},
    {"varchar(30)", "d:1.5e-7", 0, 0, "1.5e-7"},
    {"varchar(30)", "d:123456789012345", 0, 0, "123456789012345"},
    {"varchar(30)", "u:18446744073709551615", 0, 0, "18446744073709551615"},
    {"varchar(10)",
     "s:a\xff"
     "b",
     1366, 1366, "a"},
    {"varchar(10)", "s:\xc0\xaf", 1366, 1366, ""},
    {"varchar(10)", "s:\xed\xa0\x80", 1366, 1366, ""},
    {"varchar(10)", "b:bytes", 0, 0, "bytes"},
    {"char(5)", "s:ab  ", 0, 0, "ab"},
    {"char(5)", "s:abcdef", 1406, 1265, "abcde"},
    {"char(2)", "s:ab     ", 0, 1265, "ab"},
    {"char(0)", "s:", 0, 0, ""},
    {"char(0)", "s:a", 1406, 1265, ""},
    {"varchar(0)", "i:5", 1406, 1265, ""},
    {"varchar(0)", "s:", 0, 0, ""},
    {"binary(0)", "s:", 0, 0, "x''"},
    {"binary(0)", "d:1.5", 1406, 1265, "x''"},
    {"tinytext", "s:abc", 0, 0, "abc"},
    {"text", "s:", 0, 0, ""},
    /* bytes */
    {"varbinary(4)", "s:ab", 0, 0, "x'6162'"},
    {"varbinary(4)", "s:abcde", 1406, 1265, "x'61626364'"},
    {"binary(4)", "s:ab", 0, 0, "x'61620000'"},
    {"binary(4)", "s:", 0, 0, "x'00000000'"},
    {"binary(4)", "i:7", 0, 0, "x'37000000'"},
    {"binary(2)", "s:abc", 1406, 1265, "x'6162'"},
    {"blob", "b:\x01\x02", 0, 0, "x'0102'"},
    {"tinyblob", "i:12", 0, 0, "x'3132'"},
    /* DATE / DATETIME / TIMESTAMP */
    {"date", "s:2024-01-02", 0, 0, "2024-01-02"},
    {"date", "s:2024-1-2", 0, 0, "2024-01-02"},
    {"date", "s:2024/01/02", 0, 0, "2024-01-02"},
    {"date", "s:20240102", 0, 0, "2024-01-02"},
    {"date", "s:240102", 0, 0, "2024-01-02"},
    {"date", "s:99-12-31", 0, 0, "1999-12-31"},
    {"date", "s:69-01-01", 0, 0, "2069-01-01"},
    {"date", "s:  2024-01-02  ", 0, 0, "2024-01-02"},
    {"date", "i:20240102", 0, 0, "2024-01-02"},
    {"date", "i:240102", 0, 0, "2024-01-02"},
    {"date", "s:2024-02-29", 0, 0, "2024-02-29"},
    {"date", "s:2023-02-29", 1292, 1265, "0000-00-00"},
    {"date", "s:2024-13-01", 1292, 1265, "0000-00-00"},
    {"date", "s:2024-01-32", 1292, 1265, "0000-00-00"},
    {"date", "s:abc", 1292, 1265, "0000-00-00"},
    {"date", "s:0000-00-00", 1292, 0, "0000-00-00"},
    {"date", "s:2024-00-01", 1292, 0, "2024-00-01"},
    {"date", "i:0", 1292, 0, "0000-00-00"},
    {"date", "s:2024-01-02 10:11:12", 0, 1265, "2024-01-02"},
    {"date", "s:2024-01-02 00:00:00", 0, 0, "2024-01-02"},
    {"datetime", "s:2024-01-02 03:04:05", 0, 0, "2024-01-02 03:04:05"},
    {"datetime", "s:2024-01-02T03:04:05", 0, 0, "2024-01-02 03:04:05"},
    {"datetime", "s:2024-01-02", 0, 0, "2024-01-02 00:00:00"},
    {"datetime", "s:2024-01-02 3:4:5", 0, 0, "2024-01-02 03:04:05"},
    {"datetime", "s:2024-01-02 03:04", 0, 0, "2024-01-02 03:04:00"},
    {"datetime", "s:20240102030405", 0, 0, "2024-01-02 03:04:05"},
    {"datetime", "s:240102030405", 0, 0, "2024-01-02 03:04:05"},
    {"datetime", "i:20240102030405", 0, 0, "2024-01-02 03:04:05"},
    {"datetime", "d:20240102030405.5", 0, 0, "2024-01-02 03:04:06"},
    {"datetime", "s:2024-01-02 03:04:05.5", 0, 0, "2024-01-02 03:04:06"},
    {"datetime", "s:2024-01-02 03:04:05.4", 0, 0, "2024-01-02 03:04:05"},
    {"datetime", "s:2024-12-31 23:59:59.5", 0, 0, "2025-01-01 00:00:00"},
    {"datetime", "s:2024-02-28 23:59:59.9", 0, 0, "2024-02-29 00:00:00"},
    {"datetime(3)", "s:2024-01-02 03:04:05.123456", 0, 0, "2024-01-02 03:04:05.123"},
    {"datetime(3)", "s:2024-01-02 03:04:05.1235", 0, 0, "2024-01-02 03:04:05.124"},
    {"datetime(6)", "s:2024-01-02 03:04:05.123456", 0, 0, "2024-01-02 03:04:05.123456"},
    {"datetime(6)", "s:2024-01-02 03:04:05.1234565", 0, 0, "2024-01-02 03:04:05.123457"},
    {"datetime(2)", "s:2024-01-02 03:04:05", 0, 0, "2024-01-02 03:04:05.00"},
    {"datetime", "s:2024-01-02 24:00:00", 1292, 1265, "0000-00-00 00:00:00"},
    {"datetime", "s:2024-01-02 10:60:00", 1292, 1265, "0000-00-00 00:00:00"},
    {"datetime", "s:2024-01-02 10:00:00 junk", 1292, 1265, "0000-00-00 00:00:00"},
    {"datetime", "s:9999-12-31 23:59:59", 0, 0, "9999-12-31 23:59:59"},
    {"datetime", "s:9999-12-31 23:59:59.7", 1292, 1265, "0000-00-00 00:00:00"},
    {"datetime", "s:0000-00-00 00:00:00", 1292, 0, "0000-00-00 00:00:00"},
    {"datetime", "i:101", 0, 0, "2000-01-01 00:00:00"},
    {"datetime", "i:100", 1292, 1265, "0000-00-00 00:00:00"},
    {"datetime", "i:-1", 1292, 1265, "0000-00-00 00:00:00"},
    {"timestamp", "s:2024-01-02 03:04:05", 0, 0, "2024-01-02 03:04:05"},
    /* time zone offsets (MySQL 8.0.19+): the value is converted to UTC, the session's zone */
    {"timestamp", "s:2024-01-02 03:04:05+02:00", 0, 0, "2024-01-02 01:04:05"},
    {"datetime", "s:2024-01-01 23:30:00-01:45", 0, 0, "2024-01-02 01:15:00"},
    {"datetime(3)", "s:2024-03-01 00:00:00.5+00:30", 0, 0, "2024-02-29 23:30:00.500"},
    {"datetime", "s:2024-01-02 03:04:05+14:01", 1292, 1265, "0000-00-00 00:00:00"},
    {"datetime", "s:2024-01-02 03:04:05-14:00", 1292, 1265, "0000-00-00 00:00:00"},
    {"datetime", "s:2024-01-02 03:04:05+2:00", 1292, 1265, "0000-00-00 00:00:00"},
    {"datetime", "s:0001-01-01 00:00:00+01:00", 1292, 1265, "0000-00-00 00:00:00"},
    {"timestamp", "s:1970-01-01 00:00:01", 0, 0, "1970-01-01 00:00:01"},
    {"timestamp", "s:1970-01-01 00:00:00", 1292, 1264, "0000-00-00 00:00:00"},
    {"timestamp", "s:2038-01-19 03:14:07", 0, 0, "2038-01-19 03:14:07"},
    {"timestamp", "s:2038-01-19 03:14:08", 1292, 1264, "0000-00-00 00:00:00"},
    {"timestamp(6)", "s:2038-01-19 03:14:07.999999", 0, 0, "2038-01-19 03:14:07.999999"},
    /* TIME */
    {"time", "s:12:34:56", 0, 0, "12:34:56"},
    {"time", "s:-12:34:56", 0, 0, "-12:34:56"},
    {"time", "s:838:59:59", 0, 0, "838:59:59"},
    {"time", "s:-838:59:59", 0, 0, "-838:59:59"},
    {"time", "s:839:00:00", 1292, 1264, "838:59:59"},
    {"time", "s:-839:00:00", 1292, 1264, "-838:59:59"},
    {"time", "s:12:34", 0, 0, "12:34:00"},
    {"time", "s:123456", 0, 0, "12:34:56"},
    {"time", "s:3456", 0, 0, "00:34:56"},
    {"time", "s:56", 0, 0, "00:00:56"},
    {"time", "s:1 02:03:04", 0, 0, "26:03:04"},
    {"time", "s:2024-01-02 03:04:05", 0, 0, "03:04:05"},
    {"time", "s:12:60:00", 1292, 1265, "00:00:00"},
    {"time", "s:abc", 1292, 1265, "00:00:00"},
    {"time", "i:123456", 0, 0, "12:34:56"},
    {"time", "i:-10203", 0, 0, "-01:02:03"},
    {"time", "i:8385959", 0, 0, "838:59:59"},
    {"time", "i:8390000", 1292, 1264, "838:59:59"},
    {"time", "i:176", 1292, 1265, "00:00:00"},
    {"time(3)", "s:01:02:03.4567", 0, 0, "01:02:03.457"},
    {"time", "s:01:02:03.5", 0, 0, "01:02:04"},
    {"time(1)", "d:10203.25", 0, 0, "01:02:03.3"},
    /* YEAR */
    {"year", "i:2024", 0, 0, "2024"},
    {"year", "i:1901", 0, 0, "1901"},
    {"year", "i:2155", 0, 0, "2155"},
    {"year", "i:1900", 1264, 1264, "0"},
    {"year", "i:2156", 1264, 1264, "0"},
    {"year", "i:0", 0, 0, "0"},
    {"year", "i:5", 0, 0, "2005"},
    {"year", "i:69", 0, 0, "2069"},
    {"year", "i:70", 0, 0, "1970"},
    {"year", "i:99", 0, 0, "1999"},
    {"year", "s:0", 0, 0, "2000"},
    {"year", "s:00", 0, 0, "2000"},
    {"year", "s:0000", 0, 0, "0"},
    {"year", "s:24", 0, 0, "2024"},
    {"year", "s:2024", 0, 0, "2024"},
    {"year", "s:abc", 1366, 1366, "0"},
    {"year", "d:2024.4", 0, 0, "2024"},
    /* ENUM */
    {"enum('a','b','c')", "s:b", 0, 0, "b"},
    {"enum('a','b','c')", "s:b  ", 0, 0, "b"},
    {"enum('a','b','c')", "s:B", 1265, 1265, ""},
    {"enum('a','b','c')", "s:d", 1265, 1265, ""},
    {"enum('a','b','c')", "s:", 1265, 1265, ""},
    {"enum('a','b','c')", "i:3", 0, 0, "c"},
    {"enum('a','b','c')", "s:2", 0, 0, "b"},
    {"enum('a','b','c')", "i:0", 1265, 1265, ""},
    {"enum('a','b','c')", "i:4", 1265, 1265, ""},
    {"enum('1','2')", "s:2", 0, 0, "2"},
    {"enum('x','')", "s:", 0, 0, ""},
    /* SET */
    {"set('a','b','c')", "s:a,c", 0, 0, "a,c"},
    {"set('a','b','c')", "s:c,a", 0, 0, "a,c"},
    {"set('a','b','c')", "s:a,a", 0, 0, "a"},
    {"set('a','b','c')", "s:", 0, 0, ""},
    {"set('a','b','c')", "s:a,d", 1265, 1265, "a"},
    {"set('a','b','c')", "i:5", 0, 0, "a,c"},
    {"set('a','b','c')", "s:6", 0, 0, "b,c"},
    {"set('a','b','c')", "i:8", 1265, 1265, ""},
    {"set('a','b','c')", "i:0", 0, 0, ""},
    /* BIT */
    {"bit(8)", "i:5", 0, 0, "x'05'"},
    {"bit(8)", "i:255", 0, 0, "x'ff'"},
    {"bit(8)", "i:256", 1406, 1264, "x'ff'"},
    {"bit(8)", "i:-1", 1406, 1264, "x'ff'"},
    {"bit(10)", "i:513", 0, 0, "x'0201'"},
    {"bit(64)", "i:-1", 0, 0, "x'ffffffffffffffff'"},
    {"bit(8)", "b:\x05", 0, 0, "x'05'"},
    {"bit(16)", "s:A", 0, 0, "x'0041'"},
    {"bit(8)", "s:AB", 1406, 1264, "x'ff'"},
    {"bit(1)", "i:1", 0, 0, "x'01'"},
    /* JSON: stored as given (validated), read back as MySQL prints it */
    {"json", "s:{\"a\": [1, 2.5e3, true, null, \"x\"]}", 0, 0,
     "{\"a\": [1, 2500.0, true, null, \"x\"]}"},
    {"json", "s:  3 ", 0, 0, "3"},
    {"json", "s:\"\\u00e9\"", 0, 0, "\"é\""},
    {"json", "i:5", 0, 0, "5"},
    {"json", "d:1.5", 0, 0, "1.5"},
    {"json", "s:{\"b\":1,\"a\":2}", 0, 0, "{\"a\": 2, \"b\": 1}"},
};

static int errno_of(int rc)
{
    return rc == 0 ? 0 : cm_err_mysql_errno(rc);
}

static void run_store(const st_case *c, bool strict, int *rc_out, sql_type_note *note, char *out,
                      size_t cap)
{
    sql_coltype t;
    parse_ok(c->decl, &t);
    sql_value in = input(c->in);
    cm_datum d;
    cm_buf scratch = CM_BUF_INIT, lscratch = CM_BUF_INIT;
    cm_err err;
    memset(&err, 0, sizeof(err));
    memset(note, 0xAB, sizeof(*note));
    int rc = sql_type_store(&t, "c", &in, strict, &d, &scratch, note, &err);
    *rc_out = rc;
    out[0] = '\0';
    if (rc == 0) {
        if (d.type != CM_DT_NULL && d.type != t.dtype) {
            fail_msg("%s <- %s: datum type %s, want %s", c->decl, c->in, cm_dtype_name(d.type),
                     cm_dtype_name(t.dtype));
        }
        if (!cm_datum_valid(&d) && d.type != CM_DT_NULL) {
            fail_msg("%s <- %s: invalid datum", c->decl, c->in);
        }
        sql_value v;
        int lrc = sql_type_load(&t, &d, &v, &lscratch, &err);
        if (lrc != 0) {
            fail_msg("%s <- %s: load failed: %s", c->decl, c->in, err.msg);
        }
        render(&v, out, cap);
    } else {
        assert_int_equal(err.code, rc);
        assert_true(strlen(err.msg) > 0);
    }
    cm_buf_fini(&scratch);
    cm_buf_fini(&lscratch);
    sql_coltype_free(&t);
}

static void test_store_table(void **state)
{
    (void)state;
    int bad = 0;
#define BAD(...)                                                                                   \
    do {                                                                                           \
        print_error(__VA_ARGS__);                                                                  \
        print_error("\n");                                                                         \
        bad++;                                                                                     \
    } while (0)
    for (size_t i = 0; i < sizeof(st_cases) / sizeof(st_cases[0]); i++) {
        const st_case *c = &st_cases[i];
        int rc;
        sql_type_note note;
        char out[512];
        /* strict */
        run_store(c, true, &rc, &note, out, sizeof(out));
        if (errno_of(rc) != c->strict_errno) {
            BAD("strict %s <- %s: errno %d, want %d", c->decl, c->in, errno_of(rc),
                c->strict_errno);
        }
        if (rc == 0) {
            if (note.code != c->warn) {
                BAD("strict %s <- %s: note %d (%s), want %d", c->decl, c->in, note.code, note.msg,
                    c->warn);
            }
            if (strcmp(out, c->out) != 0) {
                BAD("strict %s <- %s: '%s', want '%s'", c->decl, c->in, out, c->out);
            }
        }
        /* non-strict: always stored */
        run_store(c, false, &rc, &note, out, sizeof(out));
        if (rc != 0) {
            BAD("non-strict %s <- %s: errno %d", c->decl, c->in, errno_of(rc));
        }
        if (note.code != c->warn) {
            BAD("non-strict %s <- %s: warning %d (%s), want %d", c->decl, c->in, note.code,
                note.msg, c->warn);
        }
        /* MySQL's Notes: DECIMAL rounding, spaces cut, a DATE's time part; the rest warns */
        bool want_note = note.code == 1265 && c->strict_errno == 0;
        if (note.code != 0 && note.is_note != want_note) {
            BAD("non-strict %s <- %s: is_note %d, want %d", c->decl, c->in, note.is_note,
                want_note);
        }
        if (note.code != 0 && strstr(note.msg, "'c'") == NULL) {
            BAD("non-strict %s <- %s: warning '%s' lacks the column", c->decl, c->in, note.msg);
        }
        if (strcmp(out, c->out) != 0) {
            BAD("non-strict %s <- %s: '%s', want '%s'", c->decl, c->in, out, c->out);
        }
    }
    assert_int_equal(bad, 0);
#undef BAD
}

static void test_store_messages(void **state)
{
    (void)state;
    static const struct {
        const char *decl;
        const char *in;
        const char *msg;
    } cases[] = {
        {"int", "i:2147483648", "Out of range value for column 'c' at row 1"},
        {"int", "s:abc", "Incorrect integer value: 'abc' for column 'c' at row 1"},
        {"int", "s:12abc", "Data truncated for column 'c' at row 1"},
        {"decimal(5,1)", "s:zz", "Incorrect decimal value: 'zz' for column 'c' at row 1"},
        {"varchar(2)", "s:abc", "Data too long for column 'c' at row 1"},
        {"varchar(2)", "s:a\xf0\x28", "Incorrect string value: '\\xF0(' for column 'c' at row 1"},
        {"datetime", "s:2024-02-30",
         "Incorrect datetime value: '2024-02-30' for column 'c' at "
         "row 1"},
        {"date", "s:x", "Incorrect date value: 'x' for column 'c' at row 1"},
        {"time", "s:x", "Incorrect time value: 'x' for column 'c' at row 1"},
        {"json", "s:{", "Invalid JSON text: "},
        {"json", "s:[1,]", "at position 3 in value for column 'c'."},
        {"enum('a')", "s:b", "Data truncated for column 'c' at row 1"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sql_coltype t;
        parse_ok(cases[i].decl, &t);
        sql_value in = input(cases[i].in);
        cm_datum d;
        cm_buf scratch = CM_BUF_INIT;
        cm_err err;
        sql_type_note note;
        int rc = sql_type_store(&t, "c", &in, true, &d, &scratch, &note, &err);
        assert_int_not_equal(rc, 0);
        if (strstr(err.msg, cases[i].msg) == NULL) {
            fail_msg("%s <- %s: '%s' lacks '%s'", cases[i].decl, cases[i].in, err.msg,
                     cases[i].msg);
        }
        cm_buf_fini(&scratch);
        sql_coltype_free(&t);
    }
    /* the row number */
    sql_coltype t;
    parse_ok("tinyint", &t);
    sql_value in = sql_value_int(1000);
    cm_datum d;
    cm_err err;
    sql_type_note note;
    assert_int_equal(sql_type_store_row(&t, "c", 7, &in, true, &d, NULL, &note, &err),
                     CM_E_OUT_OF_RANGE);
    assert_string_equal(err.msg, "Out of range value for column 'c' at row 7");
}

static void test_json_validity(void **state)
{
    (void)state;
    static const char *good[] = {
        "{}",
        "[]",
        "0",
        "-0",
        "1.5",
        "-1e-7",
        "1E+3",
        "\"\"",
        "\"a\\\"b\\\\\\/\\b\\f\\n\\r\\t\"",
        "true",
        "false",
        "null",
        " [ 1 , [ ] , { } ] ",
        "{\"a\":{\"b\":[{\"c\":null}]}}",
        "\"日本\"",
        "[\"\\uD83D\\uDE00\"]",
    };
    static const char *bad[] = {
        "",
        " ",
        "{",
        "}",
        "[1,]",
        "{\"a\"}",
        "{\"a\":}",
        "{a:1}",
        "01",
        "1.",
        ".5",
        "-",
        "1e",
        "+1",
        "tru",
        "nul",
        "[1 2]",
        "\"abc",
        "\"\\x\"",
        "\"\\u12g4\"",
        "\"a\nb\"",
        "1 2",
        "{\"a\":1,}",
        "[\"\xff\"]",
        "NaN",
        "'a'",
        "\"\\udc00\"",
        "\"\\ud800\"",
        "\"\\ud800\\u0041\"",
        "[\"\\ud800x\"]",
    };
    size_t pos;
    const char *why;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (!sql_json_valid((const uint8_t *)good[i], strlen(good[i]), &pos, &why)) {
            fail_msg("'%s' refused: %s at %zu", good[i], why, pos);
        }
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (sql_json_valid((const uint8_t *)bad[i], strlen(bad[i]), &pos, &why)) {
            fail_msg("'%s' accepted", bad[i]);
        }
        assert_non_null(why);
    }
    /* depth: 100 nested arrays are fine, 101 are not */
    char deep[512];
    for (int d = 100; d <= 101; d++) {
        memset(deep, '[', (size_t)d);
        memset(deep + d, ']', (size_t)d);
        assert_int_equal(sql_json_valid((const uint8_t *)deep, (size_t)d * 2, &pos, &why),
                         d == 100);
    }
}

static void test_json_normalize(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"{}", "{}"},
        {" [ ] ", "[]"},
        {"{\"b\":1,\"a\":2}", "{\"a\": 2, \"b\": 1}"},
        {"{\"bb\":1,\"a\":2,\"c\":3}", "{\"a\": 2, \"c\": 3, \"bb\": 1}"},
        {"{\"a\":1,\"b\":0,\"a\":2}", "{\"a\": 2, \"b\": 0}"},
        {"{\"x\":{},\"y\":[],\"\":null}", "{\"\": null, \"x\": {}, \"y\": []}"},
        {"[1.0,1e2,2.5E-1,12345678901234567890,123456789012345678901]",
         "[1.0, 100.0, 0.25, 12345678901234567890, 1.2345678901234568e20]"},
        {"[-9223372036854775808,-9223372036854775809]",
         "[-9223372036854775808, -9.223372036854776e18]"},
        {"\"a\\u0001\\/\\\"\\\\\\n\"", "\"a\\u0001/\\\"\\\\\\n\""},
        {"\"\\ud83d\\ude00\"", "\"😀\""},
        {"\"日本\"", "\"日本\""},
        {"[true,false,null]", "[true, false, null]"},
        {"{\"k\":[{\"z\":1,\"y\":[2,{\"b\":3,\"a\":4}]}]}",
         "{\"k\": [{\"y\": [2, {\"a\": 4, \"b\": 3}], \"z\": 1}]}"},
        {"not json", "not json"}, /* a corrupt row reads back as it is */
        {"nul", "nul"},
        {"{\"\":1,\"\":2}", "{\"\": 2}"}, /* empty keys only (fuzz: NULL key buffer) */
        {"[1,", "[1,"},
        {"{\"a\" 1}", "{\"a\" 1}"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cm_buf b = CM_BUF_INIT;
        assert_int_equal(sql_json_normalize((const uint8_t *)cases[i].in, strlen(cases[i].in), &b),
                         0);
        assert_int_equal(cm_buf_terminate(&b), 0);
        if (strcmp((char *)b.ptr, cases[i].out) != 0) {
            fail_msg("'%s' normalizes to '%s', want '%s'", cases[i].in, (char *)b.ptr,
                     cases[i].out);
        }
        /* normalizing twice changes nothing */
        cm_buf b2 = CM_BUF_INIT;
        assert_int_equal(sql_json_normalize(b.ptr, b.len, &b2), 0);
        assert_int_equal(b2.len, b.len);
        assert_memory_equal(b2.ptr, b.ptr, b.len);
        cm_buf_fini(&b);
        cm_buf_fini(&b2);
    }
}

static void test_utf8(void **state)
{
    (void)state;
    size_t nc;
    assert_int_equal(sql_utf8_valid_prefix((const uint8_t *)"abc", 3, &nc), 3);
    assert_int_equal(nc, 3);
    assert_int_equal(sql_utf8_valid_prefix((const uint8_t *)"\xc3\xa9", 2, &nc), 2);
    assert_int_equal(nc, 1);
    assert_int_equal(sql_utf8_valid_prefix((const uint8_t *)"a\xc3", 2, &nc), 1);
    assert_int_equal(sql_utf8_valid_prefix((const uint8_t *)"\xe0\x80\x80", 3, &nc), 0);
    assert_int_equal(sql_utf8_valid_prefix((const uint8_t *)"\xf4\x90\x80\x80", 4, &nc), 0);
    assert_int_equal(sql_utf8_valid_prefix((const uint8_t *)"\xf0\x9f\x98\x80", 4, &nc), 4);
    assert_int_equal(nc, 1);
    assert_int_equal(sql_utf8_bytes_of_chars((const uint8_t *)"\xc3\xa9x\xc3\xa9", 5, 2), 3);
}

static void test_double_format(void **state)
{
    (void)state;
    static const struct {
        double d;
        const char *s;
    } cases[] = {
        {0, "0"},
        {1, "1"},
        {-1.5, "-1.5"},
        {0.1, "0.1"},
        {100, "100"},
        {1e15, "1e15"},
        {1e14, "100000000000000"},
        {1e20, "1e20"},
        {0.001, "0.001"},
        {1e-4, "0.0001"},
        {1e-5, "1e-5"},
        {1.25e-7, "1.25e-7"},
        {123.456, "123.456"},
        {1.0 / 3, "0.3333333333333333"},
        {-2.5e300, "-2.5e300"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cm_buf b = CM_BUF_INIT;
        assert_int_equal(sql_num_format_double(cases[i].d, &b), 0);
        assert_int_equal(cm_buf_terminate(&b), 0);
        if (strcmp((char *)b.ptr, cases[i].s) != 0) {
            fail_msg("%.17g formats as '%s', want '%s'", cases[i].d, (char *)b.ptr, cases[i].s);
        }
        cm_buf_fini(&b);
    }
}

/* Every store into a scratch reserved for ncols values keeps earlier datums valid. */
static void test_scratch_bound(void **state)
{
    (void)state;
    sql_coltype t;
    parse_ok("binary(255)", &t);
    cm_buf scratch = CM_BUF_INIT;
    assert_int_equal(cm_buf_reserve(&scratch, 4 * SQL_TYPE_STORE_SCRATCH_MAX), 0);
    uint8_t *base = scratch.ptr;
    cm_datum d[4];
    cm_err err;
    sql_type_note note;
    for (int i = 0; i < 4; i++) {
        sql_value in = sql_value_int(-1234567890123456789LL);
        assert_int_equal(sql_type_store(&t, "c", &in, true, &d[i], &scratch, &note, &err), 0);
        assert_int_equal(d[i].v.bytes.len, 255);
    }
    assert_ptr_equal(scratch.ptr, base);
    assert_true(scratch.len <= 4 * SQL_TYPE_STORE_SCRATCH_MAX);
    cm_buf_fini(&scratch);
    sql_coltype_free(&t);
}

/* Load of datums that come from the codec (smallest scale for decimals, unknown ENUM index). */
static void test_load_edges(void **state)
{
    (void)state;
    sql_coltype t;
    cm_buf s = CM_BUF_INIT;
    cm_err err;
    sql_value v;
    char out[128];
    parse_ok("decimal(10,3)", &t);
    cm_decimal dec;
    assert_int_equal(cm_decimal_parse(cm_slice_cstr("1.5"), &dec, NULL, &err), 0);
    cm_datum d = cm_datum_decimal(&dec);
    assert_int_equal(sql_type_load(&t, &d, &v, &s, &err), 0);
    render(&v, out, sizeof(out));
    assert_string_equal(out, "1.500");
    assert_int_equal(v.type, SQL_V_TEXT);
    sql_coltype_free(&t);

    parse_ok("enum('a')", &t);
    d = cm_datum_uint(CM_DT_ENUM, 9);
    assert_int_equal(sql_type_load(&t, &d, &v, &s, &err), 0);
    assert_int_equal(v.n, 0);
    sql_coltype_free(&t);

    parse_ok("bigint unsigned", &t);
    d = cm_datum_uint64(UINT64_MAX);
    assert_int_equal(sql_type_load(&t, &d, &v, &s, &err), 0);
    assert_int_equal(v.type, SQL_V_UINT);
    assert_true(v.u == UINT64_MAX);
    sql_coltype_free(&t);

    parse_ok("datetime", &t);
    d = cm_datum_uint(CM_DT_DATETIME, UINT64_MAX); /* month 15: corrupt */
    assert_int_not_equal(sql_type_load(&t, &d, &v, &s, &err), 0);
    sql_coltype_free(&t);

    parse_ok("float", &t);
    d = cm_datum_float32(1.1f);
    assert_int_equal(sql_type_load(&t, &d, &v, &s, &err), 0);
    assert_true(v.type == SQL_V_DOUBLE && v.d == 1.1);
    sql_coltype_free(&t);

    parse_ok("time(2)", &t);
    d = cm_datum_int(CM_DT_TIME, -((INT64_C(3600) + 2) * 1000000 + 500000));
    assert_int_equal(sql_type_load(&t, &d, &v, &s, &err), 0);
    render(&v, out, sizeof(out));
    assert_string_equal(out, "-01:00:02.50");
    sql_coltype_free(&t);
    cm_buf_fini(&s);
}

/* ---- key values of comparison operands ---- */

static void test_key_value(void **state)
{
    (void)state;
    enum {
        E = SQL_TYPE_FIT_EXACT,
        U = SQL_TYPE_FIT_UP,
        D = SQL_TYPE_FIT_DOWN,
        N = SQL_TYPE_FIT_NONE
    };
    static const struct {
        const char *decl, *in;
        int fit;
        const char *out; /* loaded back; NULL: not checked */
    } cases[] = {
        {"int", "i:5", E, "5"},
        {"int", "d:5.5", U, "6"},
        {"int", "d:5.4", D, "5"},
        {"int", "d:-5.5", D, "-6"},
        {"int", "d:5", E, "5"},
        {"int", "s:5", E, "5"},
        {"int", "s: 5.50 ", U, "6"},
        {"int", "s:5abc", N, NULL},
        {"int", "s:abc", N, NULL},
        {"int", "d:1e20", N, NULL},
        {"int", "i:-3000000000", N, NULL},
        {"tinyint unsigned", "i:-1", N, NULL},
        {"int unsigned", "d:-0.4", U, "0"},
        {"bigint unsigned", "u:18446744073709551615", E, "18446744073709551615"},
        {"decimal(5,2)", "s:1.005", U, "1.01"},
        {"decimal(5,2)", "s:1.004", D, "1.00"},
        {"decimal(5,2)", "d:1.5", E, "1.50"},
        {"decimal(5,2)", "i:1000", N, NULL},
        {"decimal(5,2) unsigned", "s:-0.001", U, "0.00"},
        {"year", "i:2024", E, "2024"},
        {"year", "i:24", N, NULL},
        {"year", "i:0", E, "0"},
        {"double", "d:0.1", E, "0.1"},
        {"double", "i:3", E, "3"},
        {"float", "d:0.1", U, "0.1"},
        {"float", "d:0.5", E, "0.5"},
        {"float(5,2)", "d:1.234", D, "1.23"},
        {"float", "d:1e39", N, NULL},
        {"varchar(5)", "s:abc", E, "abc"},
        {"varchar(5)", "s:abc  ", E, "abc  "},
        {"varchar(3)", "s:abc   ", E, "abc"},
        {"varchar(3)", "s:abcd", N, NULL},
        {"varchar(5)", "i:12", E, "12"},
        {"varchar(5)", "d:1.5", N, NULL},
        {"varchar(5)", "b:ab", N, NULL},
        {"char(5)", "s:ab  ", E, "ab"},
        {"varbinary(4)", "b:ab", E, "x'6162'"},
        {"varbinary(4)", "b:abcde", N, NULL},
        {"varbinary(4)", "s:ab", N, NULL},
        {"binary(4)", "b:ab", U, "x'61620000'"},
        {"date", "s:2024-01-02", E, "2024-01-02"},
        {"date", "s:2024-01-02 10:00:00", D, "2024-01-02"},
        {"date", "i:20240102", E, "2024-01-02"},
        {"date", "s:2024-02-30", N, NULL},
        {"datetime", "s:2024-01-02 03:04:05.5", U, "2024-01-02 03:04:06"},
        {"datetime", "s:2024-01-02 03:04:05.4", D, "2024-01-02 03:04:05"},
        {"datetime(6)", "s:2024-01-02 03:04:05.5", E, "2024-01-02 03:04:05.500000"},
        {"datetime", "s:2024-01-02", E, "2024-01-02 00:00:00"},
        {"datetime", "s:garbage", N, NULL},
        {"timestamp", "s:2040-01-01 00:00:00", N, NULL},
        {"time", "s:10:00:00", E, "10:00:00"},
        {"time", "s:10:00:00.7", U, "10:00:01"},
        {"time", "s:900:00:00", N, NULL},
        {"enum('a','b')", "s:b", E, "b"},
        {"enum('a','b')", "s:b  ", E, "b"},
        {"enum('a','b')", "s:2", N, NULL},
        {"enum('a','b')", "i:2", N, NULL},
        {"enum('a','b')", "s:c", N, NULL},
        {"set('a','b','c')", "s:a,c", E, "a,c"},
        {"set('a','b','c')", "s:c,a", N, NULL},
        {"bit(8)", "b:\x05", E, "x'05'"},
        {"bit(8)", "i:5", E, "x'05'"}, /* BIT is an integer inside SQLite */
        {"bit(8)", "i:256", N, NULL},
        {"bit(8)", "i:-1", N, NULL},
        {"json", "s:{}", N, NULL},
        {"int", "n:", E, "NULL"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sql_coltype t;
        parse_ok(cases[i].decl, &t);
        sql_value in = input(cases[i].in);
        cm_datum d;
        cm_buf scratch = CM_BUF_INIT, ls = CM_BUF_INIT;
        cm_err err;
        sql_type_fit fit;
        assert_int_equal(sql_type_key_value(&t, &in, &d, &scratch, &fit, &err), 0);
        if ((int)fit != cases[i].fit) {
            fail_msg("%s vs %s: fit %d, want %d", cases[i].decl, cases[i].in, fit, cases[i].fit);
        }
        if (cases[i].out != NULL) {
            sql_value v;
            char out[256];
            assert_int_equal(sql_type_load(&t, &d, &v, &ls, &err), 0);
            render(&v, out, sizeof(out));
            if (strcmp(out, cases[i].out) != 0) {
                fail_msg("%s vs %s: key value '%s', want '%s'", cases[i].decl, cases[i].in, out,
                         cases[i].out);
            }
        }
        cm_buf_fini(&scratch);
        cm_buf_fini(&ls);
        sql_coltype_free(&t);
    }
    static const struct {
        const char *decl;
        bool ordered;
    } ord[] = {
        {"int", true},       {"decimal(5,2)", true}, {"varchar(3)", true}, {"datetime", true},
        {"date", true},      {"year", true},         {"time", false},      {"enum('a')", false},
        {"set('a')", false}, {"bit(3)", false},      {"json", false},      {"blob", true},
    };
    for (size_t i = 0; i < sizeof(ord) / sizeof(ord[0]); i++) {
        sql_coltype t;
        parse_ok(ord[i].decl, &t);
        assert_int_equal(sql_type_key_ordered(&t), ord[i].ordered);
        sql_coltype_free(&t);
    }
}

/* ---- randomized round trips: canonical value → store → row codec → key codec → load ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static uint64_t rnd_below(uint64_t n)
{
    return n == 0 ? 0 : rnd() % n;
}

static bool leap(unsigned y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned mdays(unsigned y, unsigned m)
{
    static const unsigned d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : d[m - 1];
}

/* Appends a random canonical value of the declared type to text (what load must give back) and
 * the input to store to *in (pointing into text when it is text). */
static void gen_value(const char *decl, const sql_coltype *t, cm_buf *text, sql_value *in,
                      bool *as_text)
{
    *as_text = false;
    if (t->dtype == CM_DT_INT64 || t->dtype == CM_DT_UINT64) {
        unsigned bits = t->mysql_type == SQL_TYPE_TINY    ? 8
                        : t->mysql_type == SQL_TYPE_SHORT ? 16
                        : t->mysql_type == SQL_TYPE_INT24 ? 24
                        : t->mysql_type == SQL_TYPE_LONG  ? 32
                                                          : 64;
        uint64_t span = bits == 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
        uint64_t u = rnd_below(4) == 0 ? (rnd_below(2) ? span : 0) : rnd() & span;
        if (t->is_unsigned) {
            cm_buf_printf(text, "%llu", (unsigned long long)u);
            in->type = SQL_V_UINT;
            in->u = u;
        } else {
            int64_t v = bits == 64 ? (int64_t)u : (int64_t)u - (int64_t)(span / 2) - 1;
            cm_buf_printf(text, "%lld", (long long)v);
            *in = sql_value_int(v);
        }
        *as_text = rnd_below(2) == 0;
        return;
    }
    switch (t->dtype) {
    case CM_DT_FLOAT64:
    case CM_DT_FLOAT32: {
        double d;
        for (;;) { /* random bit patterns: every exponent, subnormals, no NaN or infinity */
            if (t->dtype == CM_DT_FLOAT64) {
                uint64_t bits = rnd();
                memcpy(&d, &bits, sizeof(d));
            } else {
                uint32_t bits = (uint32_t)rnd();
                float f;
                memcpy(&f, &bits, sizeof(f));
                d = f;
            }
            if (isfinite(d) && !(t->is_unsigned && d < 0)) {
                break;
            }
        }
        if (d == 0) {
            d = 0; /* -0.0 is stored as 0 */
        }
        in->type = SQL_V_DOUBLE;
        in->d = d;
        /* expected: the double itself, or for FLOAT the double of its shortest float form */
        cm_buf e = CM_BUF_INIT;
        if (t->dtype == CM_DT_FLOAT32) {
            sql_num_format_float((float)d, &e);
            cm_buf_terminate(&e);
            d = strtod((const char *)e.ptr, NULL);
            cm_buf_reset(&e);
        }
        sql_num_format_double(d, &e);
        cm_buf_append(text, e.ptr, e.len);
        cm_buf_fini(&e);
        return;
    }
    case CM_DT_DECIMAL: {
        unsigned ip = t->precision - t->decimals;
        unsigned nint = (unsigned)rnd_below(ip + 1);
        bool neg = rnd_below(2) && !t->is_unsigned;
        cm_buf body = CM_BUF_INIT;
        bool nonzero = false;
        for (unsigned i = 0; i < nint; i++) {
            char dch = (char)('0' + (i == 0 ? 1 + rnd_below(9) : rnd_below(10)));
            cm_buf_append_u8(&body, (uint8_t)dch);
            nonzero = true;
        }
        if (nint == 0) {
            cm_buf_append_u8(&body, '0');
        }
        if (t->decimals > 0) {
            cm_buf_append_u8(&body, '.');
            for (unsigned i = 0; i < t->decimals; i++) {
                char dch = (char)('0' + rnd_below(10));
                nonzero |= dch != '0';
                cm_buf_append_u8(&body, (uint8_t)dch);
            }
        }
        if (neg && nonzero) {
            cm_buf_append_u8(text, '-');
        }
        cm_buf_append(text, body.ptr, body.len);
        cm_buf_fini(&body);
        *as_text = true;
        return;
    }
    case CM_DT_DATE:
    case CM_DT_DATETIME:
    case CM_DT_TIMESTAMP: {
        unsigned y, mo, d, h, mi, se, us = 0;
        if (t->dtype == CM_DT_TIMESTAMP) {
            y = 1971 + (unsigned)rnd_below(66);
        } else {
            y = 1 + (unsigned)rnd_below(9999);
        }
        mo = 1 + (unsigned)rnd_below(12);
        d = 1 + (unsigned)rnd_below(mdays(y, mo));
        h = (unsigned)rnd_below(24);
        mi = (unsigned)rnd_below(60);
        se = (unsigned)rnd_below(60);
        cm_buf_printf(text, "%04u-%02u-%02u", y, mo, d);
        if (t->dtype != CM_DT_DATE) {
            cm_buf_printf(text, " %02u:%02u:%02u", h, mi, se);
            if (t->decimals > 0) {
                us = (unsigned)rnd_below(1000000);
                char f[8];
                snprintf(f, sizeof(f), "%06u", us);
                cm_buf_printf(text, ".%.*s", t->decimals, f);
            }
        }
        *as_text = true;
        return;
    }
    case CM_DT_TIME: {
        uint64_t secs = rnd_below(838 * 3600 + 59 * 60 + 60);
        bool neg = rnd_below(2) && secs > 0;
        cm_buf_printf(text, "%s%02llu:%02llu:%02llu", neg ? "-" : "",
                      (unsigned long long)(secs / 3600), (unsigned long long)(secs / 60 % 60),
                      (unsigned long long)(secs % 60));
        if (t->decimals > 0) {
            char f[8];
            snprintf(f, sizeof(f), "%06u", (unsigned)rnd_below(1000000));
            cm_buf_printf(text, ".%.*s", t->decimals, f);
        }
        *as_text = true;
        return;
    }
    case CM_DT_YEAR: {
        uint64_t y =
            rnd_below(10) == 0 ? 0 : CM_YEAR_MIN + rnd_below(CM_YEAR_MAX - CM_YEAR_MIN + 1);
        cm_buf_printf(text, "%llu", (unsigned long long)y);
        *in = sql_value_int((int64_t)y);
        return;
    }
    case CM_DT_ENUM: {
        const char *m = t->members[rnd_below(t->nmembers)];
        cm_buf_printf(text, "%s", m);
        *as_text = true;
        return;
    }
    case CM_DT_SET: {
        uint64_t bits = rnd() & ((UINT64_C(1) << t->nmembers) - 1);
        bool first = true;
        for (unsigned i = 0; i < t->nmembers; i++) {
            if (bits >> i & 1) {
                cm_buf_printf(text, "%s%s", first ? "" : ",", t->members[i]);
                first = false;
            }
        }
        *as_text = true;
        return;
    }
    case CM_DT_BIT: {
        uint64_t v = t->length == 64 ? rnd() : rnd() & ((UINT64_C(1) << t->length) - 1);
        unsigned nb = (t->length + 7) / 8;
        cm_buf_printf(text, "x'");
        for (unsigned i = 0; i < nb; i++) {
            cm_buf_printf(text, "%02x", (unsigned)(v >> (8 * (nb - 1 - i)) & 0xff));
        }
        cm_buf_printf(text, "'");
        in->type = SQL_V_UINT;
        in->u = v;
        return;
    }
    case CM_DT_STRING: {
        static const char *pool[] = {"a", "Z", " ", "\t", "é", "日", "😀", "0", "'", "\\"};
        uint64_t n = rnd_below(t->length + 1);
        size_t start = text->len;
        bool lob = t->mysql_type != SQL_TYPE_STRING && t->mysql_type != SQL_TYPE_VARCHAR;
        for (uint64_t i = 0; i < n; i++) {
            const char *ch = pool[rnd_below(sizeof(pool) / sizeof(pool[0]))];
            if (lob && text->len - start + strlen(ch) > t->length) {
                break; /* TEXT kinds count bytes */
            }
            cm_buf_printf(text, "%s", ch);
        }
        if (t->fixed) { /* CHAR reads back without trailing spaces */
            while (text->len > start && text->ptr[text->len - 1] == ' ') {
                text->len--;
            }
        }
        *as_text = true;
        return;
    }
    case CM_DT_BYTES: {
        uint64_t n = t->fixed ? t->length : rnd_below((t->length < 200 ? t->length : 200) + 1);
        uint8_t *b = malloc(n + 1);
        cm_buf_printf(text, "x'");
        for (uint64_t i = 0; i < n; i++) {
            b[i] = (uint8_t)rnd();
            cm_buf_printf(text, "%02x", b[i]);
        }
        cm_buf_printf(text, "'");
        /* the input bytes live after the expected text, which is terminated first */
        cm_buf_terminate(text);
        size_t at = text->len + 1;
        cm_buf_reserve(text, n + 2);
        memcpy(text->ptr + at, b, n);
        in->type = SQL_V_BLOB;
        in->s = (const char *)text->ptr + at;
        in->n = (size_t)n;
        free(b);
        return;
    }
    default:
        fail_msg("no generator for %s", decl);
    }
}

static void test_random_roundtrip(void **state)
{
    (void)state;
    static const char *decls[] = {
        "tinyint",
        "tinyint unsigned",
        "smallint",
        "mediumint unsigned",
        "int",
        "int unsigned",
        "bigint",
        "bigint unsigned",
        "decimal(10,2)",
        "decimal(65,30)",
        "decimal(18,0) unsigned",
        "decimal(5,5)",
        "date",
        "datetime",
        "datetime(3)",
        "datetime(6)",
        "timestamp",
        "timestamp(4)",
        "time",
        "time(1)",
        "time(6)",
        "year",
        "enum('a','bb','日本','')",
        "set('x','y','z','w')",
        "bit(1)",
        "bit(13)",
        "bit(64)",
        "char(10)",
        "varchar(30)",
        "tinytext",
        "binary(5)",
        "varbinary(40)",
        "blob",
        "double",
        "float",
        "double unsigned",
    };
    const char *env = getenv("CM_TEST_SEED");
    uint64_t seed = env != NULL ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
    printf("# types seed=%llu (replay with CM_TEST_SEED=%llu)\n", (unsigned long long)seed,
           (unsigned long long)seed);
    rng_state = seed * 2654435761u + 1;
    const size_t ndecl = sizeof(decls) / sizeof(decls[0]);
    sql_coltype types[sizeof(decls) / sizeof(decls[0])];
    for (size_t i = 0; i < ndecl; i++) {
        parse_ok(decls[i], &types[i]);
    }
    cm_buf text = CM_BUF_INIT, scratch = CM_BUF_INIT, row = CM_BUF_INIT, key = CM_BUF_INIT,
           ls = CM_BUF_INIT;
    for (int iter = 0; iter < 30000; iter++) {
        size_t k = rnd_below(ndecl);
        const sql_coltype *t = &types[k];
        cm_buf_reset(&text);
        cm_buf_reset(&scratch);
        cm_buf_reset(&row);
        cm_buf_reset(&key);
        cm_buf_reset(&ls);
        sql_value in = sql_value_null();
        bool as_text;
        gen_value(decls[k], t, &text, &in, &as_text);
        size_t tlen = text.len;
        cm_buf_terminate(&text);
        if (as_text) {
            in = sql_value_text((const char *)text.ptr, tlen);
        }
        cm_datum d;
        cm_err err;
        sql_type_note note;
        int rc = sql_type_store(t, "c", &in, true, &d, &scratch, &note, &err);
        if (rc != 0 || note.code != 0) {
            fail_msg("seed %llu: %s <- '%s': rc %d note %d (%s %s)", (unsigned long long)seed,
                     decls[k], (char *)text.ptr, rc, note.code, err.msg, note.msg);
        }
        /* through the row codec */
        cm_row_cell cell = {7, d};
        assert_int_equal(cm_row_encode(&row, &cell, 1, &err), 0);
        cm_row_col rc7 = {7, (cm_dtype)t->dtype};
        cm_datum back;
        assert_int_equal(cm_row_decode(cm_buf_slice(&row), &rc7, 1, &back, NULL, &err), 0);
        sql_value v;
        assert_int_equal(sql_type_load(t, &back, &v, &ls, &err), 0);
        char out[512];
        render(&v, out, sizeof(out));
        if (strcmp(out, (char *)text.ptr) != 0) {
            fail_msg("seed %llu: %s: '%s' reads back as '%s'", (unsigned long long)seed, decls[k],
                     (char *)text.ptr, out);
        }
        /* through the key codec (strings lose trailing spaces there, by design) */
        if (t->dtype != CM_DT_JSON && t->dtype != CM_DT_STRING) {
            cm_arena arena_s;
            cm_arena *arena = &arena_s;
            cm_arena_init(arena, 0);
            assert_int_equal(cm_codec_encode_datum(&key, &d, &err), 0);
            cm_reader r;
            cm_reader_init(&r, key.ptr, key.len);
            assert_int_equal(cm_codec_decode_datum(&r, arena, &back, &err), 0);
            cm_buf_reset(&ls);
            assert_int_equal(sql_type_load(t, &back, &v, &ls, &err), 0);
            render(&v, out, sizeof(out));
            if (strcmp(out, (char *)text.ptr) != 0) {
                fail_msg("seed %llu: %s: '%s' reads back from a key as '%s'",
                         (unsigned long long)seed, decls[k], (char *)text.ptr, out);
            }
            cm_arena_fini(arena);
        }
    }
    for (size_t i = 0; i < ndecl; i++) {
        sql_coltype_free(&types[i]);
    }
    cm_buf_fini(&text);
    cm_buf_fini(&scratch);
    cm_buf_fini(&row);
    cm_buf_fini(&key);
    cm_buf_fini(&ls);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_format_roundtrip),
        cmocka_unit_test(test_parse_stops_at_attributes),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_error_unterminated_source),
        cmocka_unit_test(test_set_too_many_members),
        cmocka_unit_test(test_apply_collate),
        cmocka_unit_test(test_sqlite_decl),
        cmocka_unit_test(test_decimal_collation),
        cmocka_unit_test(test_column_metadata),
        cmocka_unit_test(test_store_table),
        cmocka_unit_test(test_store_messages),
        cmocka_unit_test(test_json_validity),
        cmocka_unit_test(test_json_normalize),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_double_format),
        cmocka_unit_test(test_scratch_bound),
        cmocka_unit_test(test_load_edges),
        cmocka_unit_test(test_key_value),
        cmocka_unit_test(test_random_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
