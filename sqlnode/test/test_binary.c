/* Unit tests for the binary protocol: COM_STMT_EXECUTE parameter decoding for every type,
 * remembered parameter types, long data, the statement table, and malformed blocks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cm_err.h"
#include "sql_binary.h"
#include "sql_my_const.h"
#include "sql_wire.h"

#include <stdlib.h>
#include <string.h>

/* Builds an execute block: flags, iterations, null bitmap, bound flag, types, then values
 * appended by the caller. */
static void begin(cm_buf *b, uint32_t np, const uint8_t *nulls, int bound, const uint16_t *types)
{
    cm_buf_reset(b);
    cm_buf_append_u8(b, 0);
    cm_buf_append_u32le(b, 1);
    if (np == 0) {
        return;
    }
    for (uint32_t i = 0; i < (np + 7) / 8; i++) {
        cm_buf_append_u8(b, nulls ? nulls[i] : 0);
    }
    cm_buf_append_u8(b, (uint8_t)bound);
    for (uint32_t i = 0; bound == 1 && i < np; i++) {
        cm_buf_append_u16le(b, types[i]);
    }
}

static sql_stmt_ent ent(uint32_t np)
{
    sql_stmt_ent e;
    memset(&e, 0, sizeof(e));
    e.id = 1;
    e.nparams = np;
    return e;
}

static void free_ent(sql_stmt_ent *e)
{
    if (e->long_data) {
        for (uint32_t i = 0; i < e->nparams; i++) {
            cm_buf_fini(&e->long_data[i]);
        }
    }
    free(e->long_data);
    free(e->has_long);
    free(e->types);
}

static int decode(sql_stmt_ent *e, cm_buf *b, sql_value *v, cm_buf *scratch)
{
    uint8_t flags;
    cm_err err;
    return sql_bin_decode_execute(e, b->ptr, b->len, v, scratch, &flags, &err);
}

#define U(t) ((uint16_t)((t) | (SQL_PARAM_UNSIGNED << 8)))

static void test_integers_and_floats(void **state)
{
    (void)state;
    uint16_t types[] = {SQL_TYPE_TINY,        U(SQL_TYPE_TINY), SQL_TYPE_SHORT,
                        U(SQL_TYPE_SHORT),    SQL_TYPE_YEAR,    SQL_TYPE_LONG,
                        U(SQL_TYPE_LONG),     SQL_TYPE_INT24,   SQL_TYPE_LONGLONG,
                        U(SQL_TYPE_LONGLONG), SQL_TYPE_FLOAT,   SQL_TYPE_DOUBLE};
    uint32_t np = sizeof(types) / sizeof(types[0]);
    sql_stmt_ent e = ent(np);
    cm_buf b = CM_BUF_INIT, scratch = CM_BUF_INIT;
    begin(&b, np, NULL, 1, types);
    cm_buf_append_u8(&b, 0xff);            /* -1 */
    cm_buf_append_u8(&b, 0xff);            /* 255 */
    cm_buf_append_u16le(&b, 0x8000);       /* -32768 */
    cm_buf_append_u16le(&b, 0xffff);       /* 65535 */
    cm_buf_append_u16le(&b, 2024);         /* year */
    cm_buf_append_u32le(&b, 0xfffffffe);   /* -2 */
    cm_buf_append_u32le(&b, 0xfffffffe);   /* 4294967294 */
    cm_buf_append_u32le(&b, 123456);       /* int24 */
    cm_buf_append_u64le(&b, (uint64_t)-5); /* -5 */
    cm_buf_append_u64le(&b, UINT64_MAX);   /* unsigned, above INT64_MAX */
    float f = 1.5f;
    uint32_t fb;
    memcpy(&fb, &f, 4);
    cm_buf_append_u32le(&b, fb);
    double d = -0.25;
    uint64_t db;
    memcpy(&db, &d, 8);
    cm_buf_append_u64le(&b, db);
    sql_value v[12];
    assert_int_equal(decode(&e, &b, v, &scratch), 0);
    int64_t want[] = {-1, 255, -32768, 65535, 2024, -2, 4294967294LL, 123456, -5};
    for (int i = 0; i < 9; i++) {
        assert_int_equal(v[i].type, SQL_V_INT);
        assert_true(v[i].i == want[i]);
    }
    assert_int_equal(v[9].type, SQL_V_UINT);
    assert_true(v[9].u == UINT64_MAX);
    assert_int_equal(v[10].type, SQL_V_DOUBLE);
    assert_true(v[10].d == 1.5);
    assert_int_equal(v[11].type, SQL_V_DOUBLE);
    assert_true(v[11].d == -0.25);
    /* Every truncation is a malformed packet, never an overread. */
    for (size_t cut = 0; cut < b.len; cut++) {
        cm_buf t = CM_BUF_INIT;
        cm_buf_append(&t, b.ptr, cut);
        sql_stmt_ent e2 = ent(np);
        assert_int_not_equal(decode(&e2, &t, v, &scratch), 0);
        free_ent(&e2);
        cm_buf_fini(&t);
    }
    free_ent(&e);
    cm_buf_fini(&b);
    cm_buf_fini(&scratch);
}

static void test_strings_and_decimals(void **state)
{
    (void)state;
    uint16_t types[] = {
        SQL_TYPE_VARCHAR,    SQL_TYPE_VAR_STRING, SQL_TYPE_STRING,      SQL_TYPE_ENUM,
        SQL_TYPE_SET,        SQL_TYPE_JSON,       SQL_TYPE_DECIMAL,     SQL_TYPE_NEWDECIMAL,
        SQL_TYPE_NEWDECIMAL, SQL_TYPE_TINY_BLOB,  SQL_TYPE_MEDIUM_BLOB, SQL_TYPE_LONG_BLOB,
        SQL_TYPE_BLOB,       SQL_TYPE_BIT,        SQL_TYPE_GEOMETRY,    SQL_TYPE_NULL};
    const char *vals[] = {"a",   "bc", "",  "e1", "s1,s2",    "{\"k\":1}", "12", "-1.5",
                          "abc", "t",  "m", "l",  "\x00\x01", "\x05",      "g"};
    size_t lens[] = {1, 2, 0, 2, 5, 7, 2, 4, 3, 1, 1, 1, 2, 1, 1};
    uint32_t np = sizeof(types) / sizeof(types[0]);
    sql_stmt_ent e = ent(np);
    cm_buf b = CM_BUF_INIT, scratch = CM_BUF_INIT;
    begin(&b, np, NULL, 1, types);
    for (uint32_t i = 0; i < np - 1; i++) {
        sql_wire_put_lenenc_str(&b, vals[i], lens[i]);
    }
    sql_value v[16];
    assert_int_equal(decode(&e, &b, v, &scratch), 0);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(v[i].type, SQL_V_TEXT);
        assert_int_equal(v[i].n, lens[i]);
        assert_memory_equal(v[i].s, vals[i], lens[i]);
    }
    assert_int_equal(v[6].type, SQL_V_INT);
    assert_int_equal(v[6].i, 12);
    assert_int_equal(v[7].type, SQL_V_DOUBLE);
    assert_true(v[7].d == -1.5);
    assert_int_equal(v[8].type, SQL_V_TEXT); /* not a number: kept as text */
    for (int i = 9; i < 15; i++) {
        assert_int_equal(v[i].type, SQL_V_BLOB);
        assert_int_equal(v[i].n, lens[i]);
    }
    assert_int_equal(v[15].type, SQL_V_NULL);
    free_ent(&e);
    cm_buf_fini(&b);
    cm_buf_fini(&scratch);
}

static void test_temporal(void **state)
{
    (void)state;
    uint16_t types[] = {SQL_TYPE_DATE,     SQL_TYPE_DATETIME, SQL_TYPE_DATETIME, SQL_TYPE_TIMESTAMP,
                        SQL_TYPE_DATETIME, SQL_TYPE_TIME,     SQL_TYPE_TIME,     SQL_TYPE_TIME};
    uint32_t np = 8;
    sql_stmt_ent e = ent(np);
    cm_buf b = CM_BUF_INIT, scratch = CM_BUF_INIT;
    begin(&b, np, NULL, 1, types);
    /* DATE 2024-02-29 */
    cm_buf_append(&b, "\x04\xe8\x07\x02\x1d", 5);
    /* DATETIME 2024-02-29 13:14:15 */
    cm_buf_append(&b, "\x07\xe8\x07\x02\x1d\x0d\x0e\x0f", 8);
    /* DATETIME with microseconds */
    cm_buf_append(&b, "\x0b\xe8\x07\x02\x1d\x0d\x0e\x0f", 8);
    cm_buf_append_u32le(&b, 500);
    /* TIMESTAMP date only */
    cm_buf_append(&b, "\x04\xd0\x07\x01\x01", 5);
    /* DATETIME zero length = zero date */
    cm_buf_append_u8(&b, 0);
    /* TIME -1 day 02:03:04 */
    cm_buf_append(&b, "\x08\x01\x01\x00\x00\x00\x02\x03\x04", 9);
    /* TIME with microseconds */
    cm_buf_append(&b, "\x0c\x00\x00\x00\x00\x00\x0a\x0b\x0c", 9);
    cm_buf_append_u32le(&b, 7);
    /* TIME zero */
    cm_buf_append_u8(&b, 0);
    sql_value v[8];
    assert_int_equal(decode(&e, &b, v, &scratch), 0);
    const char *want[] = {"2024-02-29",
                          "2024-02-29 13:14:15",
                          "2024-02-29 13:14:15.000500",
                          "2000-01-01 00:00:00",
                          "0000-00-00 00:00:00",
                          "-26:02:03:04",
                          "10:11:12.000007",
                          "00:00:00"};
    /* TIME with days: hours = days * 24 + hours. */
    want[5] = "-26:03:04";
    for (int i = 0; i < 8; i++) {
        assert_int_equal(v[i].type, SQL_V_TEXT);
        if (strlen(want[i]) != v[i].n || memcmp(want[i], v[i].s, v[i].n) != 0) {
            fail_msg("param %d: got '%.*s' want '%s'", i, (int)v[i].n, v[i].s, want[i]);
        }
    }
    /* Bad lengths and out-of-range fields are malformed. */
    uint16_t t1[] = {SQL_TYPE_DATETIME};
    sql_stmt_ent e1 = ent(1);
    begin(&b, 1, NULL, 1, t1);
    cm_buf_append(&b, "\x05\xe8\x07\x02\x1d\x00", 6);
    assert_int_equal(decode(&e1, &b, v, &scratch), CM_E_MALFORMED_PACKET);
    begin(&b, 1, NULL, 1, t1);
    cm_buf_append(&b, "\x04\xe8\x07\x0d\x01", 5); /* month 13 */
    assert_int_equal(decode(&e1, &b, v, &scratch), CM_E_MALFORMED_PACKET);
    uint16_t t2[] = {SQL_TYPE_TIME};
    sql_stmt_ent e2 = ent(1);
    begin(&b, 1, NULL, 1, t2);
    cm_buf_append(&b, "\x08\x00\x00\x00\x00\x00\x18\x00\x00", 9); /* hour 24 */
    assert_int_equal(decode(&e2, &b, v, &scratch), CM_E_MALFORMED_PACKET);
    free_ent(&e);
    free_ent(&e1);
    free_ent(&e2);
    cm_buf_fini(&b);
    cm_buf_fini(&scratch);
}

static void test_nulls_and_remembered_types(void **state)
{
    (void)state;
    uint16_t types[] = {SQL_TYPE_LONGLONG, SQL_TYPE_VAR_STRING, SQL_TYPE_LONGLONG};
    sql_stmt_ent e = ent(3);
    cm_buf b = CM_BUF_INIT, scratch = CM_BUF_INIT;
    sql_value v[3];
    /* No types ever sent: refused. */
    begin(&b, 3, NULL, 0, NULL);
    assert_int_equal(decode(&e, &b, v, &scratch), CM_E_WRONG_ARGUMENTS);
    /* Parameter 2 NULL: no bytes for it. */
    uint8_t nulls[] = {0x02};
    begin(&b, 3, nulls, 1, types);
    cm_buf_append_u64le(&b, 7);
    cm_buf_append_u64le(&b, 9);
    assert_int_equal(decode(&e, &b, v, &scratch), 0);
    assert_int_equal(v[0].i, 7);
    assert_int_equal(v[1].type, SQL_V_NULL);
    assert_int_equal(v[2].i, 9);
    /* Next execute without types (sysbench does this): the remembered ones apply. */
    begin(&b, 3, NULL, 0, NULL);
    cm_buf_append_u64le(&b, 1);
    sql_wire_put_lenenc_str(&b, "x", 1);
    cm_buf_append_u64le(&b, 2);
    assert_int_equal(decode(&e, &b, v, &scratch), 0);
    assert_int_equal(v[0].i, 1);
    assert_int_equal(v[1].type, SQL_V_TEXT);
    assert_int_equal(v[2].i, 2);
    /* Bad bound flag, unknown type, trailing garbage tolerated (MySQL ignores it). */
    begin(&b, 3, NULL, 2, NULL);
    assert_int_equal(decode(&e, &b, v, &scratch), CM_E_MALFORMED_PACKET);
    uint16_t badt[] = {99, SQL_TYPE_LONGLONG, SQL_TYPE_LONGLONG};
    sql_stmt_ent e2 = ent(3);
    begin(&b, 3, NULL, 1, badt);
    cm_buf_append_u64le(&b, 1);
    assert_int_equal(decode(&e2, &b, v, &scratch), CM_E_MALFORMED_PACKET);
    /* A half-sent type list is not remembered. */
    sql_stmt_ent e3 = ent(3);
    begin(&b, 3, NULL, 1, types);
    b.len -= 3;
    assert_int_equal(decode(&e3, &b, v, &scratch), CM_E_MALFORMED_PACKET);
    assert_null(e3.types);
    free_ent(&e);
    free_ent(&e2);
    free_ent(&e3);
    cm_buf_fini(&b);
    cm_buf_fini(&scratch);
}

static void test_long_data(void **state)
{
    (void)state;
    uint16_t types[] = {SQL_TYPE_BLOB, SQL_TYPE_LONG};
    sql_stmt_ent e = ent(2);
    sql_bin_long_data(&e, 0, (const uint8_t *)"hel", 3, 100);
    sql_bin_long_data(&e, 0, (const uint8_t *)"lo", 2, 100);
    sql_bin_long_data(&e, 9, (const uint8_t *)"ignored", 7, 100); /* no such parameter */
    cm_buf b = CM_BUF_INIT, scratch = CM_BUF_INIT;
    begin(&b, 2, NULL, 1, types);
    cm_buf_append_u32le(&b, 42); /* only the second parameter travels inline */
    sql_value v[2];
    assert_int_equal(decode(&e, &b, v, &scratch), 0);
    assert_int_equal(v[0].type, SQL_V_BLOB);
    assert_int_equal(v[0].n, 5);
    assert_memory_equal(v[0].s, "hello", 5);
    assert_int_equal(v[1].i, 42);
    sql_bin_reset(&e);
    /* Past the limit: the execute fails. */
    sql_bin_long_data(&e, 1, (const uint8_t *)"0123456789", 10, 8);
    assert_int_equal(decode(&e, &b, v, &scratch), CM_E_NET_PACKET_TOO_LARGE);
    sql_bin_reset(&e);
    begin(&b, 2, NULL, 0, NULL);
    cm_buf_append(&b,
                  "\x05"
                  "ab",
                  3); /* a BLOB announcing 5 bytes, 2 sent */
    assert_int_equal(decode(&e, &b, v, &scratch), CM_E_MALFORMED_PACKET);
    free_ent(&e);
    cm_buf_fini(&b);
    cm_buf_fini(&scratch);
}

static void test_statement_table(void **state)
{
    (void)state;
    sql_stmts t;
    sql_stmts_init(&t);
    sql_stmt_ent *e;
    int a = 1, b = 2, c = 3;
    assert_int_equal(sql_stmts_add(&t, &a, 0, &e), 0);
    assert_int_equal(e->id, 1);
    assert_int_equal(sql_stmts_add(&t, &b, 1, &e), 0);
    assert_int_equal(sql_stmts_add(&t, &c, 2, &e), 0);
    assert_ptr_equal(sql_stmts_find(&t, 2)->prep, &b);
    assert_ptr_equal(sql_stmts_find(&t, 0xffffffffu)->prep, &c);
    assert_null(sql_stmts_find(&t, 4));
    assert_ptr_equal(sql_stmts_remove(&t, 2), &b);
    assert_null(sql_stmts_find(&t, 2));
    assert_null(sql_stmts_remove(&t, 2));
    assert_ptr_equal(sql_stmts_find(&t, 3)->prep, &c);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(sql_stmts_add(&t, &a, 0, &e), 0);
    }
    assert_int_equal(t.n, 102);
    assert_ptr_equal(sql_stmts_find(&t, 50)->prep, &a);
    sql_stmts_fini(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integers_and_floats),
        cmocka_unit_test(test_strings_and_decimals),
        cmocka_unit_test(test_temporal),
        cmocka_unit_test(test_nulls_and_remembered_types),
        cmocka_unit_test(test_long_data),
        cmocka_unit_test(test_statement_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
