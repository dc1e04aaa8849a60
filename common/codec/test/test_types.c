/*
 * Unit tests for cm_decimal and cm_datetime: parsing and formatting (tables of cases and random
 * round trips), rounding, range checks, comparison against an independent reference, packing of
 * temporal values and their validation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cm_codec.h"
#include "codec_testutil.h"

#include <stdio.h>
#include <string.h>

#define ROUNDS 100000

static void format_decimal(const cm_decimal *d, char *out, size_t cap)
{
    cm_buf b = CM_BUF_INIT;
    assert_int_equal(cm_decimal_format(d, &b), 0);
    assert_true(b.len < cap);
    memcpy(out, b.ptr, b.len);
    out[b.len] = '\0';
    cm_buf_fini(&b);
}

/* Repeats c n times after prefix and before suffix (for 65-digit literals). Each call gets its
 * own slot (a case table makes many calls, some nested), and copies byte by byte because prefix
 * may be an earlier slot. */
static const char *rep(const char *prefix, char c, int n, const char *suffix)
{
    static char buf[32][160];
    static int slot;
    char *p = buf[slot++ % 32];
    size_t len = 0;
    for (size_t i = 0; prefix[i] != '\0'; i++) {
        p[len++] = prefix[i];
    }
    for (int i = 0; i < n; i++) {
        p[len++] = c;
    }
    for (size_t i = 0; suffix[i] != '\0'; i++) {
        p[len++] = suffix[i];
    }
    p[len] = '\0';
    assert_true(len < sizeof(buf[0]));
    return p;
}

typedef struct parse_case {
    const char *in;
    int rc;
    const char *out; /* formatted result when rc == 0 */
    bool rounded;
} parse_case;

static void test_decimal_parse_format(void **state)
{
    (void)state;
    const parse_case cases[] = {
        {"0", 0, "0", false},
        {"-0", 0, "0", false},
        {"0.000", 0, "0.000", false},
        {"-0.000", 0, "0.000", false},
        {"00", 0, "0", false},
        {"1.50", 0, "1.50", false},
        {"+1.5", 0, "1.5", false},
        {".5", 0, "0.5", false},
        {"5.", 0, "5", false},
        {"007.10", 0, "7.10", false},
        {"-12.340", 0, "-12.340", false},
        {"1e3", 0, "1000", false},
        {"1.5e2", 0, "150", false},
        {"15e-3", 0, "0.015", false},
        {"1.234E+1", 0, "12.34", false},
        {"0e99999", 0, "0", false},
        {"0e-2", 0, "0.00", false},
        {"123456789012345678901234567890.123456789012345678901234567890", 0,
         "123456789012345678901234567890.123456789012345678901234567890", false},
        {rep("", '9', 65, ""), 0, rep("", '9', 65, ""), false},
        {rep("", '9', 66, ""), CM_E_OUT_OF_RANGE, NULL, false},
        {"1e64", 0, rep("1", '0', 64, ""), false},
        {"1e65", CM_E_OUT_OF_RANGE, NULL, false},
        {"1e999999999999", CM_E_OUT_OF_RANGE, NULL, false},
        {"1e-999999999999", 0, rep("0.", '0', 30, ""), true},
        /* More than 30 fraction digits: rounded half away from zero. */
        {rep("0.", '0', 30, "5"), 0, rep("0.", '0', 29, "1"), true},
        {rep("-0.", '0', 30, "5"), 0, rep("-0.", '0', 29, "1"), true},
        {rep("0.", '0', 30, "4"), 0, rep("0.", '0', 30, ""), true},
        {rep("-0.", '0', 30, "4"), 0, rep("0.", '0', 30, ""), true}, /* no negative zero */
        {rep("1.", '0', 31, ""), 0, rep("1.", '0', 30, ""), false},
        {rep("9.", '9', 31, ""), 0, rep("10.", '0', 30, ""), true},
        /* 40 integer digits leave room for 25 fraction digits. */
        {rep(rep("", '1', 40, "."), '2', 30, ""), 0, rep(rep("", '1', 40, "."), '2', 25, ""), true},
        /* A carry into a 66th digit gives up a (zero) fraction digit ... */
        {rep("", '9', 64, ".95"), 0, rep("1", '0', 64, ""), true},
        /* ... but not an integer digit. */
        {rep("", '9', 65, ".5"), CM_E_OUT_OF_RANGE, NULL, false},
        {"", CM_E_INVALID, NULL, false},
        {"-", CM_E_INVALID, NULL, false},
        {"+", CM_E_INVALID, NULL, false},
        {".", CM_E_INVALID, NULL, false},
        {"1.2.3", CM_E_INVALID, NULL, false},
        {"1e", CM_E_INVALID, NULL, false},
        {"1e+", CM_E_INVALID, NULL, false},
        {"e5", CM_E_INVALID, NULL, false},
        {"abc", CM_E_INVALID, NULL, false},
        {" 1", CM_E_INVALID, NULL, false},
        {"1 ", CM_E_INVALID, NULL, false},
        {"--1", CM_E_INVALID, NULL, false},
        {"1e5x", CM_E_INVALID, NULL, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cm_decimal d;
        bool rounded = !cases[i].rounded;
        cm_err err;
        int rc = cm_decimal_parse(cm_slice_cstr(cases[i].in), &d, &rounded, &err);
        if (rc != cases[i].rc) {
            fail_msg("parse '%s': rc %d, want %d", cases[i].in, rc, cases[i].rc);
        }
        if (rc != 0) {
            assert_int_equal(err.code, rc);
            continue;
        }
        assert_true(cm_decimal_valid(&d));
        char text[CM_DECIMAL_TEXT_MAX + 1];
        format_decimal(&d, text, sizeof(text));
        if (strcmp(text, cases[i].out) != 0 || rounded != cases[i].rounded) {
            fail_msg("parse '%s': got '%s' rounded=%d, want '%s' rounded=%d", cases[i].in, text,
                     rounded, cases[i].out, cases[i].rounded);
        }
    }
    /* Integers. */
    cm_decimal d;
    char text[CM_DECIMAL_TEXT_MAX + 1];
    cm_decimal_from_int64(INT64_MIN, &d);
    format_decimal(&d, text, sizeof(text));
    assert_string_equal(text, "-9223372036854775808");
    cm_decimal_from_int64(0, &d);
    format_decimal(&d, text, sizeof(text));
    assert_string_equal(text, "0");
    cm_decimal_from_uint64(UINT64_MAX, &d);
    format_decimal(&d, text, sizeof(text));
    assert_string_equal(text, "18446744073709551615");
}

static void test_decimal_text_roundtrip(void **state)
{
    (void)state;
    uint8_t buf[TU_PAYLOAD_CAP];
    for (int i = 0; i < ROUNDS; i++) {
        cm_datum a = tu_rand_datum(CM_DT_DECIMAL, buf);
        char text[CM_DECIMAL_TEXT_MAX + 1];
        format_decimal(&a.v.dec, text, sizeof(text));
        cm_decimal back;
        bool rounded = true;
        cm_err err;
        if (cm_decimal_parse(cm_slice_cstr(text), &back, &rounded, &err) != 0) {
            fail_msg("'%s' does not parse back: %s", text, err.msg);
        }
        cm_datum b = cm_datum_decimal(&back);
        assert_false(rounded);
        if (!tu_datum_same(&a, &b, false)) {
            fail_msg("'%s' changed in a text round trip", text);
        }
    }
}

static void test_decimal_cmp(void **state)
{
    (void)state;
    uint8_t abuf[TU_PAYLOAD_CAP], bbuf[TU_PAYLOAD_CAP];
    int eq = 0;
    for (int i = 0; i < ROUNDS; i++) {
        cm_datum a = tu_rand_datum(CM_DT_DECIMAL, abuf);
        cm_datum b = tu_near_datum(&a, bbuf);
        int want = tu_datum_cmp(&a, &b);
        assert_int_equal(cm_decimal_cmp(&a.v.dec, &b.v.dec), want);
        assert_int_equal(cm_decimal_cmp(&b.v.dec, &a.v.dec), -want);
        eq += want == 0;
    }
    assert_true(eq > ROUNDS / 20);
}

typedef struct round_case {
    const char *in;
    unsigned frac;
    int rc;
    const char *out;
} round_case;

static void test_decimal_round_and_check(void **state)
{
    (void)state;
    const round_case cases[] = {
        {"1.25", 1, 0, "1.3"},
        {"-1.25", 1, 0, "-1.3"},
        {"1.249", 1, 0, "1.2"},
        {"0.5", 0, 0, "1"},
        {"-0.5", 0, 0, "-1"},
        {"-0.4", 0, 0, "0"},
        {"0.04", 1, 0, "0.0"},
        {"9.99", 1, 0, "10.0"},
        {"99.5", 0, 0, "100"},
        {"1.5", 3, 0, "1.500"},
        {"0", 2, 0, "0.00"},
        {"1.5", 31, CM_E_INVALID, NULL},
        {rep("", '9', 65, ""), 0, 0, rep("", '9', 65, "")},
        {rep("", '9', 65, ""), 1, CM_E_OUT_OF_RANGE, NULL},
        {rep("", '9', 64, ".9"), 0, 0, rep("1", '0', 64, "")},
        {rep("", '9', 35, ".5"), 0, 0, rep("1", '0', 35, "")},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cm_decimal d, r;
        cm_err err;
        assert_int_equal(cm_decimal_parse(cm_slice_cstr(cases[i].in), &d, NULL, &err), 0);
        int rc = cm_decimal_round(&d, cases[i].frac, &r, &err);
        if (rc != cases[i].rc) {
            fail_msg("round '%s' to %u: rc %d, want %d", cases[i].in, cases[i].frac, rc,
                     cases[i].rc);
        }
        if (rc == 0) {
            char text[CM_DECIMAL_TEXT_MAX + 1];
            format_decimal(&r, text, sizeof(text));
            if (strcmp(text, cases[i].out) != 0) {
                fail_msg("round '%s' to %u: '%s', want '%s'", cases[i].in, cases[i].frac, text,
                         cases[i].out);
            }
            assert_true(cm_decimal_valid(&r));
            /* In place gives the same. */
            assert_int_equal(cm_decimal_round(&d, cases[i].frac, &d, &err), 0);
            assert_int_equal(cm_decimal_cmp(&d, &r), 0);
            assert_int_equal(d.frac, r.frac);
        }
    }
    cm_decimal d;
    cm_err err;
    assert_int_equal(cm_decimal_parse(cm_slice_cstr("123.45"), &d, NULL, &err), 0);
    assert_int_equal(cm_decimal_check(&d, 5, 2, &err), 0);
    assert_int_equal(cm_decimal_check(&d, 65, 30, &err), 0);
    assert_int_equal(cm_decimal_check(&d, 4, 2, &err), CM_E_OUT_OF_RANGE);
    assert_int_equal(cm_decimal_check(&d, 5, 1, &err), CM_E_OUT_OF_RANGE);
    assert_int_equal(cm_decimal_check(&d, 0, 0, &err), CM_E_INVALID);
    assert_int_equal(cm_decimal_check(&d, 66, 0, &err), CM_E_INVALID);
    assert_int_equal(cm_decimal_check(&d, 40, 31, &err), CM_E_INVALID);
    assert_int_equal(cm_decimal_check(&d, 5, 6, &err), CM_E_INVALID);
    /* Invariants. */
    cm_decimal bad = d;
    bad.digits[0] = 0; /* leading zero in the integer part */
    assert_false(cm_decimal_valid(&bad));
    cm_decimal_zero(&bad, 3);
    assert_true(cm_decimal_valid(&bad));
    bad.neg = 1; /* negative zero */
    assert_false(cm_decimal_valid(&bad));
}

/* ---- temporal values ---------------------------------------------------------------------- */

static cm_datetime fields(unsigned y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned s,
                          unsigned us)
{
    cm_datetime t = {(uint16_t)y, (uint8_t)mo, (uint8_t)d, (uint8_t)h, (uint8_t)mi, (uint8_t)s, us};
    return t;
}

/* Field by field: the struct has padding, so memcmp would compare garbage. */
static bool same_fields(const cm_datetime *a, const cm_datetime *b)
{
    return a->year == b->year && a->month == b->month && a->day == b->day && a->hour == b->hour &&
           a->minute == b->minute && a->second == b->second && a->micro == b->micro;
}

static void expect_text(cm_buf *b, const char *want)
{
    assert_int_equal(cm_buf_terminate(b), 0);
    assert_string_equal((const char *)b->ptr, want);
    cm_buf_reset(b);
}

static void test_datetime(void **state)
{
    (void)state;
    cm_buf b = CM_BUF_INIT;
    cm_err err;
    cm_datetime t = fields(2024, 1, 2, 3, 4, 5, 123456), u;
    assert_int_equal(cm_datetime_unpack(cm_datetime_pack(&t), &u, &err), 0);
    assert_true(same_fields(&t, &u));
    assert_int_equal(cm_datetime_format(&t, true, 0, &b), 0);
    expect_text(&b, "2024-01-02");
    assert_int_equal(cm_datetime_format(&t, false, 0, &b), 0);
    expect_text(&b, "2024-01-02 03:04:05");
    assert_int_equal(cm_datetime_format(&t, false, 3, &b), 0);
    expect_text(&b, "2024-01-02 03:04:05.123");
    assert_int_equal(cm_datetime_format(&t, false, 6, &b), 0);
    expect_text(&b, "2024-01-02 03:04:05.123456");
    cm_datetime zero = fields(0, 0, 0, 0, 0, 0, 0);
    assert_int_equal(cm_datetime_pack(&zero), 0);
    assert_int_equal(cm_datetime_format(&zero, false, 0, &b), 0);
    expect_text(&b, "0000-00-00 00:00:00");

    /* Unpack refuses out-of-range fields. */
    const cm_datetime bad[] = {fields(2024, 1, 1, 24, 0, 0, 0), fields(2024, 1, 1, 0, 60, 0, 0),
                               fields(2024, 1, 1, 0, 0, 60, 0),
                               fields(2024, 1, 1, 0, 0, 0, 1000000)};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(cm_datetime_valid(&bad[i]));
        uint64_t ymd = ((uint64_t)bad[i].year * 13 + bad[i].month) << 5 | bad[i].day;
        uint64_t hms = (uint64_t)bad[i].hour << 12 | (uint64_t)bad[i].minute << 6 | bad[i].second;
        uint64_t p = (ymd << 17 | hms) << 24 | bad[i].micro; /* micro overflow spills into hms */
        if (i < 3) {
            assert_int_equal(cm_datetime_unpack(p, &u, &err), CM_E_CORRUPT);
        }
    }
    assert_int_equal(cm_datetime_unpack(UINT64_C(999999), &u, &err), 0);
    assert_int_equal(cm_datetime_unpack(UINT64_C(1000000), &u, &err), CM_E_CORRUPT); /* micro */
    assert_int_equal(cm_datetime_unpack(UINT64_MAX, &u, &err), CM_E_CORRUPT);
    cm_datetime y10000 = fields(9999, 12, 31, 23, 59, 59, 999999);
    assert_int_equal(cm_datetime_unpack(cm_datetime_pack(&y10000), &u, &err), 0);
    assert_int_equal(cm_datetime_unpack((uint64_t)(10000 * 13) << 46, &u, &err), CM_E_CORRUPT);

    /* Calendar days. */
    assert_true(cm_datetime_calendar_ok(&(cm_datetime){2024, 2, 29, 0, 0, 0, 0}));
    assert_true(cm_datetime_calendar_ok(&(cm_datetime){2000, 2, 29, 0, 0, 0, 0}));
    assert_false(cm_datetime_calendar_ok(&(cm_datetime){2023, 2, 29, 0, 0, 0, 0}));
    assert_false(cm_datetime_calendar_ok(&(cm_datetime){1900, 2, 29, 0, 0, 0, 0}));
    assert_false(cm_datetime_calendar_ok(&(cm_datetime){2024, 4, 31, 0, 0, 0, 0}));
    assert_true(cm_datetime_calendar_ok(&(cm_datetime){2024, 12, 31, 0, 0, 0, 0}));
    assert_false(cm_datetime_calendar_ok(&zero));
    assert_false(cm_datetime_calendar_ok(&(cm_datetime){2024, 0, 1, 0, 0, 0, 0}));

    /* Parsing the canonical forms. */
    assert_int_equal(cm_datetime_parse(cm_slice_cstr("2024-01-02"), &u, &err), 0);
    assert_true(u.year == 2024 && u.month == 1 && u.day == 2 && u.hour == 0 && u.micro == 0);
    assert_int_equal(cm_datetime_parse(cm_slice_cstr("2024-01-02 03:04:05.5"), &u, &err), 0);
    assert_true(u.hour == 3 && u.minute == 4 && u.second == 5 && u.micro == 500000);
    assert_int_equal(cm_datetime_parse(cm_slice_cstr("0000-00-00 00:00:00"), &u, &err), 0);
    const char *bad_text[] = {"",
                              "2024-1-02",
                              "2024-01-02 3:04:05",
                              "2024-13-01",
                              "2024-01-32",
                              "2024-01-02 24:00:00",
                              "2024-01-02 03:04:05.",
                              "2024-01-02 03:04:05.1234567",
                              "2024-01-02 ",
                              "2024-01-02T03:04:05",
                              "20240102"};
    for (size_t i = 0; i < sizeof(bad_text) / sizeof(bad_text[0]); i++) {
        if (cm_datetime_parse(cm_slice_cstr(bad_text[i]), &u, &err) != CM_E_INVALID) {
            fail_msg("'%s' parsed", bad_text[i]);
        }
    }
    /* Random round trips through text. */
    uint8_t buf[TU_PAYLOAD_CAP];
    for (int i = 0; i < ROUNDS / 10; i++) {
        cm_datum d = tu_rand_datum(CM_DT_DATETIME, buf);
        assert_int_equal(cm_datetime_unpack(d.v.u64, &t, &err), 0);
        assert_int_equal(cm_datetime_pack(&t), d.v.u64);
        cm_buf_reset(&b);
        assert_int_equal(cm_datetime_format(&t, false, 6, &b), 0);
        assert_int_equal(cm_datetime_parse(cm_buf_slice(&b), &u, &err), 0);
        assert_true(same_fields(&t, &u));
    }
    cm_buf_fini(&b);
}

static void test_duration(void **state)
{
    (void)state;
    cm_buf b = CM_BUF_INIT;
    cm_err err;
    assert_int_equal(cm_duration_format(0, 0, &b), 0);
    expect_text(&b, "00:00:00");
    assert_int_equal(cm_duration_format(-1, 6, &b), 0);
    expect_text(&b, "-00:00:00.000001");
    assert_int_equal(cm_duration_format(CM_DURATION_US_MAX, 0, &b), 0);
    expect_text(&b, "838:59:59");
    assert_int_equal(cm_duration_format(-CM_DURATION_US_MAX, 2, &b), 0);
    expect_text(&b, "-838:59:59.00");
    assert_int_equal(cm_duration_format(INT64_C(3661500000), 1, &b), 0);
    expect_text(&b, "01:01:01.5");

    int64_t us;
    assert_int_equal(cm_duration_parse(cm_slice_cstr("838:59:59"), &us, &err), 0);
    assert_true(us == CM_DURATION_US_MAX);
    assert_int_equal(cm_duration_parse(cm_slice_cstr("1:02:03"), &us, &err), 0);
    assert_true(us == INT64_C(3723000000));
    assert_int_equal(cm_duration_parse(cm_slice_cstr("-0:00:01.25"), &us, &err), 0);
    assert_true(us == -1250000);
    const char *bad[] = {
        "839:00:00", "-838:59:59.000001", "12:60:00", "12:00:60", "1234:00:00", "", "-",
        "1:2:3",     "01:02:03.",         "01:02"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (cm_duration_parse(cm_slice_cstr(bad[i]), &us, &err) != CM_E_INVALID) {
            fail_msg("'%s' parsed", bad[i]);
        }
    }
    assert_true(cm_duration_valid(-CM_DURATION_US_MAX));
    assert_false(cm_duration_valid(CM_DURATION_US_MAX + 1));
    uint8_t buf[TU_PAYLOAD_CAP];
    for (int i = 0; i < ROUNDS / 10; i++) {
        cm_datum d = tu_rand_datum(CM_DT_TIME, buf);
        cm_buf_reset(&b);
        assert_int_equal(cm_duration_format(d.v.i64, 6, &b), 0);
        assert_int_equal(cm_duration_parse(cm_buf_slice(&b), &us, &err), 0);
        assert_true(us == d.v.i64);
    }
    cm_buf_fini(&b);
}

static void test_string_cmp(void **state)
{
    (void)state;
    /* cm_codec_string_cmp against the reference (pad both with spaces, compare bytes). */
    uint8_t abuf[TU_PAYLOAD_CAP], bbuf[TU_PAYLOAD_CAP];
    int eq_diff_len = 0;
    for (int i = 0; i < ROUNDS; i++) {
        cm_datum a = tu_rand_datum(CM_DT_STRING, abuf);
        cm_datum b = tu_near_datum(&a, bbuf);
        int want = tu_datum_cmp(&a, &b);
        assert_int_equal(cm_codec_string_cmp(a.v.bytes, b.v.bytes), want);
        assert_int_equal(cm_codec_string_cmp(b.v.bytes, a.v.bytes), -want);
        eq_diff_len += want == 0 && a.v.bytes.len != b.v.bytes.len;
    }
    assert_true(eq_diff_len > ROUNDS / 50);
    assert_int_equal(cm_codec_string_cmp(cm_slice_cstr("a\t"), cm_slice_cstr("a")), -1);
    assert_int_equal(cm_codec_string_cmp(cm_slice_cstr("a  "), cm_slice_cstr("a")), 0);
    assert_int_equal(cm_codec_string_cmp(cm_slice_cstr("a!"), cm_slice_cstr("a")), 1);
}

int main(void)
{
    tu_seed("types");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decimal_parse_format),
        cmocka_unit_test(test_decimal_text_roundtrip),
        cmocka_unit_test(test_decimal_cmp),
        cmocka_unit_test(test_decimal_round_and_check),
        cmocka_unit_test(test_datetime),
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_string_cmp),
    };
    return cmocka_run_group_tests_name("types", tests, NULL, NULL);
}
