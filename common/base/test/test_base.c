/* Unit tests for common/base: error table, buffers, readers, arena. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cm_arena.h"
#include "cm_buf.h"
#include "cm_err.h"
#include "cm_log.h"

#include <string.h>

static void test_err_table(void **state)
{
    (void)state;
    assert_string_equal(cm_err_name(CM_E_CORRUPT), "CORRUPT");
    assert_int_equal(cm_err_mysql_errno(CM_E_DUP_ENTRY), 1062);
    assert_string_equal(cm_err_sqlstate(CM_E_DUP_ENTRY), "23000");
    assert_int_equal(cm_err_mysql_errno(CM_E_DEADLOCK), 1213);
    assert_int_equal(cm_err_mysql_errno(CM_E_ACCESS_DENIED), 1045);
    /* An unknown code answers as INTERNAL rather than crashing. */
    assert_false(cm_err_known(-9999));
    assert_string_equal(cm_err_name(-9999), "INTERNAL");
    cm_err e;
    assert_int_equal(cm_err_set(&e, CM_E_TIMEOUT, "call %d timed out", 7), CM_E_TIMEOUT);
    assert_int_equal(e.code, CM_E_TIMEOUT);
    assert_string_equal(e.msg, "call 7 timed out");
    assert_int_equal(cm_err_set(NULL, CM_E_IO, "x"), CM_E_IO);
}

static void test_err_codes_unique(void **state)
{
    (void)state;
    static const int codes[] = {
#define X(name, code, my, st, msg) code,
        CM_ERROR_TABLE(X)
#undef X
    };
    size_t n = sizeof(codes) / sizeof(codes[0]);
    for (size_t i = 0; i < n; i++) {
        assert_true(codes[i] <= 0);
        for (size_t j = i + 1; j < n; j++) {
            assert_int_not_equal(codes[i], codes[j]);
        }
    }
}

static void test_buf_append_and_read(void **state)
{
    (void)state;
    cm_buf b = CM_BUF_INIT;
    assert_int_equal(cm_buf_append_u8(&b, 0xab), 0);
    assert_int_equal(cm_buf_append_u16be(&b, 0x1234), 0);
    assert_int_equal(cm_buf_append_u32be(&b, 0xdeadbeef), 0);
    assert_int_equal(cm_buf_append_u64be(&b, 0x0102030405060708ull), 0);
    assert_int_equal(cm_buf_append_u24le(&b, 0x112233), 0);
    assert_int_equal(cm_buf_append_uvarint(&b, 300), 0);
    assert_int_equal(cm_buf_append_uvarint(&b, UINT64_MAX), 0);
    assert_int_equal(cm_buf_printf(&b, "%s-%d", "x", 42), 0);

    cm_reader r;
    cm_reader_init(&r, b.ptr, b.len);
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    assert_int_equal(cm_reader_u8(&r, &u8), 0);
    assert_int_equal(u8, 0xab);
    assert_int_equal(cm_reader_u16be(&r, &u16), 0);
    assert_int_equal(u16, 0x1234);
    assert_int_equal(cm_reader_u32be(&r, &u32), 0);
    assert_int_equal(u32, 0xdeadbeef);
    assert_int_equal(cm_reader_u64be(&r, &u64), 0);
    assert_int_equal(u64, 0x0102030405060708ull);
    assert_int_equal(cm_reader_u24le(&r, &u32), 0);
    assert_int_equal(u32, 0x112233);
    assert_int_equal(cm_reader_uvarint(&r, &u64), 0);
    assert_int_equal(u64, 300);
    assert_int_equal(cm_reader_uvarint(&r, &u64), 0);
    assert_true(u64 == UINT64_MAX);
    cm_slice s;
    assert_int_equal(cm_reader_bytes(&r, 4, &s), 0);
    assert_memory_equal(s.ptr, "x-42", 4);
    assert_int_equal(cm_reader_left(&r), 0);
    /* Reading past the end is an error and does not move the position. */
    assert_int_equal(cm_reader_u32be(&r, &u32), CM_E_CORRUPT);
    assert_int_equal(cm_reader_bytes(&r, 1, &s), CM_E_CORRUPT);
    cm_buf_fini(&b);
}

static void test_reader_truncated_varint(void **state)
{
    (void)state;
    const uint8_t bad[] = {0x80, 0x80};
    cm_reader r;
    cm_reader_init(&r, bad, sizeof(bad));
    uint64_t v;
    assert_int_equal(cm_reader_uvarint(&r, &v), CM_E_CORRUPT);
    assert_int_equal(r.pos, 0);
    /* Eleven continuation bytes overflow 64 bits. */
    const uint8_t over[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    cm_reader_init(&r, over, sizeof(over));
    assert_int_equal(cm_reader_uvarint(&r, &v), CM_E_CORRUPT);
}

/* Regression: decoders fed (NULL, 0) computed NULL + 0 (UB, found by fuzz_kv_records). */
static void test_reader_null_is_empty(void **state)
{
    (void)state;
    cm_reader r;
    cm_reader_init(&r, NULL, 0);
    assert_non_null(r.ptr);
    assert_int_equal(cm_reader_left(&r), 0);
    uint8_t v;
    assert_int_equal(cm_reader_u8(&r, &v), CM_E_CORRUPT);
    cm_reader_init(&r, NULL, 5); /* a NULL buffer never claims bytes */
    assert_int_equal(cm_reader_left(&r), 0);
}

static void test_slice_cmp(void **state)
{
    (void)state;
    assert_int_equal(cm_slice_cmp(cm_slice_cstr("ab"), cm_slice_cstr("abc")), -1);
    assert_int_equal(cm_slice_cmp(cm_slice_cstr("b"), cm_slice_cstr("abc")), 1);
    assert_int_equal(cm_slice_cmp(cm_slice_cstr(""), cm_slice_cstr("")), 0);
    assert_true(cm_slice_eq(cm_slice_cstr("xy"), cm_slice_cstr("xy")));
}

static void test_arena(void **state)
{
    (void)state;
    cm_arena a;
    cm_arena_init(&a, 256);
    char *first = cm_arena_alloc(&a, 10);
    assert_non_null(first);
    assert_int_equal((uintptr_t)first % 16, 0);
    for (int i = 0; i < 1000; i++) {
        char *p = cm_arena_alloc(&a, (size_t)(i % 50) + 1);
        assert_non_null(p);
        memset(p, 0x5a, (size_t)(i % 50) + 1);
    }
    void *big = cm_arena_alloc(&a, 10000); /* larger than a chunk */
    assert_non_null(big);
    memset(big, 1, 10000);
    char *s = cm_arena_strndup(&a, "hello world", 5);
    assert_string_equal(s, "hello");
    cm_arena_reset(&a);
    assert_true(a.bytes_total <= 256 + 64);
    assert_non_null(cm_arena_alloc(&a, 100));
    cm_arena_fini(&a);
}

static void test_log_levels(void **state)
{
    (void)state;
    assert_int_equal(cm_log_level_parse("debug"), CM_LOG_DEBUG);
    assert_int_equal(cm_log_level_parse("WARN"), CM_LOG_WARN);
    assert_int_equal(cm_log_level_parse("nope"), -1);
    /* A disabled level must not evaluate its arguments. */
    cm_log_set_level(CM_LOG_ERROR);
    int evaluated = 0;
    CM_DEBUG("test", "x=%d", ++evaluated);
    assert_int_equal(evaluated, 0);
    cm_log_set_level(CM_LOG_INFO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_table),
        cmocka_unit_test(test_err_codes_unique),
        cmocka_unit_test(test_buf_append_and_read),
        cmocka_unit_test(test_reader_truncated_varint),
        cmocka_unit_test(test_reader_null_is_empty),
        cmocka_unit_test(test_slice_cmp),
        cmocka_unit_test(test_arena),
        cmocka_unit_test(test_log_levels),
    };
    return cmocka_run_group_tests_name("base", tests, NULL, NULL);
}
