/*
 * Unit tests for cm_cx (expression bytecode) and the cm_decimal arithmetic it uses: every
 * operator with NULLs, MySQL's comparison and coercion rules, arithmetic ranges and scales, LIKE,
 * IN, the functions, the builder's checks and the decoder's refusal of malformed programs.
 * Expected values are MySQL's (checked against MariaDB where the two agree; see
 * docs/coprocessor.md for where they do not).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cm_cx.h"
#include "cm_cx_int.h"
#include "copr_testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cm_arena arena;

static int setup(void **state)
{
    (void)state;
    cm_arena_init(&arena, 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cm_arena_fini(&arena);
    return 0;
}

/* ---- values --------------------------------------------------------------------------------- */

static cm_datum I(int64_t v)
{
    return cm_datum_int64(v);
}
static cm_datum U(uint64_t v)
{
    return cm_datum_uint64(v);
}
static cm_datum F(double v)
{
    return cm_datum_float64(v);
}
static cm_datum S(const char *s)
{
    return cm_datum_string(cm_slice_cstr(s));
}
static cm_datum B(const char *s)
{
    return cm_datum_bytes(cm_slice_cstr(s));
}
static cm_datum N(void)
{
    return cm_datum_null();
}
static cm_datum DEC(const char *text)
{
    cm_decimal d;
    assert_int_equal(cm_decimal_parse(cm_slice_cstr(text), &d, NULL, NULL), 0);
    return cm_datum_decimal(&d);
}
static cm_datum DT(cm_dtype t, const char *text)
{
    cm_datetime v;
    assert_int_equal(cm_datetime_parse(cm_slice_cstr(text), &v, NULL), 0);
    return cm_datum_uint(t, cm_datetime_pack(&v));
}
static cm_datum TM(const char *text)
{
    int64_t us;
    assert_int_equal(cm_duration_parse(cm_slice_cstr(text), &us, NULL), 0);
    return cm_datum_int(CM_DT_TIME, us);
}

/* ---- programs ------------------------------------------------------------------------------- */

static cm_cx *decode(cm_cx_builder *b, uint32_t ncols)
{
    cm_slice code;
    cm_err err;
    assert_int_equal(cm_cx_finish(b, &code, &err), 0);
    cm_cx *p = NULL;
    int rc = cm_cx_decode(code, ncols, &arena, &p, &err);
    if (rc != 0) {
        fail_msg("decode: %s", err.msg);
    }
    return p;
}

/* Evaluates a program over row; returns rc and the value in *out. */
static int run(cm_cx_builder *b, const cm_datum *row, uint32_t ncols, cm_datum *out)
{
    cm_cx *p = decode(b, ncols);
    cm_err err;
    return cm_cx_eval(p, row, &arena, out, &err);
}

/* op over constants a (and b): the value's text, or "ERR<code>". */
static const char *op2(cm_cx_op op, cm_datum a, cm_datum b)
{
    cm_cx_builder bl;
    cm_cx_builder_init(&bl);
    cm_cx_const(&bl, &a);
    cm_cx_const(&bl, &b);
    cm_cx_op1(&bl, op);
    cm_datum out;
    int rc = run(&bl, NULL, 0, &out);
    cm_cx_builder_fini(&bl);
    if (rc != 0) {
        static char e[32];
        snprintf(e, sizeof(e), "ERR%d", rc);
        return e;
    }
    return show(&out);
}

/* The same through columns (values borrowed from the row, not constants). */
static const char *op2_cols(cm_cx_op op, cm_datum a, cm_datum b)
{
    cm_datum row[2] = {a, b};
    cm_cx_builder bl;
    cm_cx_builder_init(&bl);
    cm_cx_col(&bl, 0);
    cm_cx_col(&bl, 1);
    cm_cx_op1(&bl, op);
    cm_datum out;
    int rc = run(&bl, row, 2, &out);
    cm_cx_builder_fini(&bl);
    return rc != 0 ? "ERR" : show(&out);
}

static const char *op1(cm_cx_op op, cm_datum a)
{
    cm_cx_builder bl;
    cm_cx_builder_init(&bl);
    cm_cx_const(&bl, &a);
    cm_cx_op1(&bl, op);
    cm_datum out;
    int rc = run(&bl, NULL, 0, &out);
    cm_cx_builder_fini(&bl);
    if (rc != 0) {
        static char e[32];
        snprintf(e, sizeof(e), "ERR%d", rc);
        return e;
    }
    return show(&out);
}

#define EQ(got, want) assert_string_equal((got), (want))

/* ---- comparisons ---------------------------------------------------------------------------- */

static void test_compare_numbers(void **state)
{
    (void)state;
    EQ(op2(CM_CX_LT, I(-1), U(UINT64_MAX)), "i:1");
    EQ(op2(CM_CX_EQ, U(UINT64_MAX), I(-1)), "i:0");
    EQ(op2(CM_CX_GT, U(UINT64_MAX), I(-1)), "i:1");
    EQ(op2(CM_CX_EQ, I(1), DEC("1.0")), "i:1");
    EQ(op2(CM_CX_LT, I(1), DEC("1.000000000000000000000000000001")), "i:1");
    EQ(op2(CM_CX_EQ, U(UINT64_MAX), DEC("18446744073709551615")), "i:1");
    EQ(op2(CM_CX_EQ, DEC("0.1"), F(0.1)), "i:1");
    EQ(op2(CM_CX_GE, F(2.5), I(2)), "i:1");
    EQ(op2(CM_CX_NE, I(3), I(3)), "i:0");
    EQ(op2(CM_CX_LE, I(3), I(3)), "i:1");
    EQ(op2(CM_CX_EQ, DEC("1.50"), DEC("1.5")), "i:1");
    EQ(op2(CM_CX_LT, DEC("-2"), DEC("-1.5")), "i:1");
}

static void test_compare_strings_numbers(void **state)
{
    (void)state;
    EQ(op2(CM_CX_EQ, S("12x"), I(12)), "i:1");
    EQ(op2(CM_CX_EQ, S("abc"), I(0)), "i:1");
    EQ(op2(CM_CX_EQ, S(" 12"), I(12)), "i:1");
    EQ(op2(CM_CX_EQ, S("1e3"), I(1000)), "i:1");
    EQ(op2(CM_CX_EQ, S(".5"), DEC("0.5")), "i:1");
    EQ(op2(CM_CX_EQ, S("12.0"), I(12)), "i:1");
    EQ(op2(CM_CX_EQ, S("+1"), I(1)), "i:1");
    EQ(op2(CM_CX_EQ, S("-"), I(0)), "i:1");
    EQ(op2(CM_CX_EQ, I(10), S("1e1x")), "i:1");
    EQ(op2(CM_CX_EQ, S("0x10"), I(0)), "i:1");
    EQ(op2(CM_CX_LT, S("-5"), I(-4)), "i:1");
    EQ(op2(CM_CX_EQ, B("7"), F(7)), "i:1");
}

static void test_compare_strings(void **state)
{
    (void)state;
    EQ(op2(CM_CX_EQ, S("a "), S("a")), "i:1");
    EQ(op2(CM_CX_EQ, S(""), S("   ")), "i:1");
    EQ(op2(CM_CX_LT, S("a"), S("a\t")), "i:0"); /* 'a' pads with spaces, above the tab */
    EQ(op2(CM_CX_GT, S("a"), S("a\t")), "i:1");
    EQ(op2(CM_CX_EQ, B("a "), B("a")), "i:0");
    EQ(op2(CM_CX_EQ, B("a "), S("a")), "i:0");
    EQ(op2(CM_CX_EQ, S("A"), S("a")), "i:0"); /* utf8mb4_bin */
    EQ(op2(CM_CX_LT, S("abc"), S("abd")), "i:1");
    EQ(op2_cols(CM_CX_EQ, S("x  "), S("x")), "i:1");
}

static void test_compare_temporal(void **state)
{
    (void)state;
    cm_datum d = DT(CM_DT_DATE, "2020-01-01");
    EQ(op2(CM_CX_EQ, d, S("2020-01-01")), "i:1");
    EQ(op2(CM_CX_LT, d, S("2020-01-01 10:00:00")), "i:1");
    EQ(op2(CM_CX_EQ, d, DT(CM_DT_DATETIME, "2020-01-01 00:00:00")), "i:1");
    EQ(op2(CM_CX_EQ, d, I(20200101)), "i:1");
    EQ(op2(CM_CX_EQ, DT(CM_DT_DATETIME, "2020-01-01 10:00:00"), I(20200101100000)), "i:1");
    EQ(op2(CM_CX_GT, S("2020-01-02"), d), "i:1");
    /* a string that is not a date compares as text with the printed date */
    EQ(op2(CM_CX_LT, d, S("2020-1")), "i:1");
    EQ(op2(CM_CX_EQ, TM("10:00:00"), S("10:00:00")), "i:1");
    EQ(op2(CM_CX_EQ, TM("-01:02:03"), I(-10203)), "i:1");
    EQ(op2(CM_CX_LT, TM("01:00:00"), TM("02:00:00")), "i:1");
}

static void test_compare_nulls(void **state)
{
    (void)state;
    static const cm_cx_op ops[] = {CM_CX_EQ, CM_CX_NE, CM_CX_LT, CM_CX_LE, CM_CX_GT, CM_CX_GE};
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        EQ(op2(ops[i], N(), I(1)), "NULL");
        EQ(op2(ops[i], S("a"), N()), "NULL");
        EQ(op2(ops[i], N(), N()), "NULL");
    }
    EQ(op2(CM_CX_NULLEQ, N(), N()), "i:1");
    EQ(op2(CM_CX_NULLEQ, I(1), N()), "i:0");
    EQ(op2(CM_CX_NULLEQ, N(), I(1)), "i:0");
    EQ(op2(CM_CX_NULLEQ, I(1), DEC("1.00")), "i:1");
}

/* Every fixed-arity operator over NULL operands: NULL, except the NULL-aware ones. */
static void test_all_ops_null(void **state)
{
    (void)state;
    static const struct {
        cm_cx_op op;
        int arity;
        const char *want;
    } cases[] = {
        {CM_CX_EQ, 2, "NULL"},       {CM_CX_NE, 2, "NULL"},          {CM_CX_LT, 2, "NULL"},
        {CM_CX_LE, 2, "NULL"},       {CM_CX_GT, 2, "NULL"},          {CM_CX_GE, 2, "NULL"},
        {CM_CX_NULLEQ, 2, "i:1"},    {CM_CX_AND, 2, "NULL"},         {CM_CX_OR, 2, "NULL"},
        {CM_CX_NOT, 1, "NULL"},      {CM_CX_XOR, 2, "NULL"},         {CM_CX_ISNULL, 1, "i:1"},
        {CM_CX_ISNOTNULL, 1, "i:0"}, {CM_CX_ISTRUE, 1, "i:0"},       {CM_CX_ISFALSE, 1, "i:0"},
        {CM_CX_ADD, 2, "NULL"},      {CM_CX_SUB, 2, "NULL"},         {CM_CX_MUL, 2, "NULL"},
        {CM_CX_DIV, 2, "NULL"},      {CM_CX_INTDIV, 2, "NULL"},      {CM_CX_MOD, 2, "NULL"},
        {CM_CX_NEG, 1, "NULL"},      {CM_CX_ABS, 1, "NULL"},         {CM_CX_IFNULL, 2, "NULL"},
        {CM_CX_LENGTH, 1, "NULL"},   {CM_CX_CHAR_LENGTH, 1, "NULL"}, {CM_CX_UPPER, 1, "NULL"},
        {CM_CX_LOWER, 1, "NULL"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = cases[i].arity == 1 ? op1(cases[i].op, N()) : op2(cases[i].op, N(), N());
        if (strcmp(got, cases[i].want) != 0) {
            fail_msg("opcode %d: %s, want %s", cases[i].op, got, cases[i].want);
        }
    }
    /* one NULL operand of two, either side */
    static const cm_cx_op strict[] = {CM_CX_EQ,  CM_CX_LT,  CM_CX_ADD,    CM_CX_SUB,
                                      CM_CX_MUL, CM_CX_DIV, CM_CX_INTDIV, CM_CX_MOD};
    for (size_t i = 0; i < sizeof(strict) / sizeof(strict[0]); i++) {
        EQ(op2(strict[i], N(), I(3)), "NULL");
        EQ(op2(strict[i], DEC("2.5"), N()), "NULL");
        EQ(op2_cols(strict[i], S("x"), N()), "NULL");
    }
}

/* ---- logic ---------------------------------------------------------------------------------- */

static void test_logic(void **state)
{
    (void)state;
    /* AND / OR / XOR truth tables over 1, 0, NULL */
    cm_datum v[3] = {I(1), I(0), N()};
    const char *and_t[3][3] = {
        {"i:1", "i:0", "NULL"}, {"i:0", "i:0", "i:0"}, {"NULL", "i:0", "NULL"}};
    const char *or_t[3][3] = {
        {"i:1", "i:1", "i:1"}, {"i:1", "i:0", "NULL"}, {"i:1", "NULL", "NULL"}};
    const char *xor_t[3][3] = {
        {"i:0", "i:1", "NULL"}, {"i:1", "i:0", "NULL"}, {"NULL", "NULL", "NULL"}};
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++) {
            EQ(op2(CM_CX_AND, v[i], v[j]), and_t[i][j]);
            EQ(op2(CM_CX_OR, v[i], v[j]), or_t[i][j]);
            EQ(op2(CM_CX_XOR, v[i], v[j]), xor_t[i][j]);
        }
    }
    EQ(op1(CM_CX_NOT, N()), "NULL");
    EQ(op1(CM_CX_NOT, I(5)), "i:0");
    EQ(op1(CM_CX_NOT, S("0.0")), "i:1");
    EQ(op1(CM_CX_ISNULL, N()), "i:1");
    EQ(op1(CM_CX_ISNULL, I(0)), "i:0");
    EQ(op1(CM_CX_ISNOTNULL, N()), "i:0");
    EQ(op1(CM_CX_ISTRUE, N()), "i:0");
    EQ(op1(CM_CX_ISFALSE, N()), "i:0");
    EQ(op1(CM_CX_ISTRUE, S("a")), "i:0");
    EQ(op1(CM_CX_ISFALSE, S("0.0")), "i:1");
    EQ(op1(CM_CX_ISTRUE, DEC("0.001")), "i:1");
    EQ(op1(CM_CX_ISTRUE, F(-0.5)), "i:1");
    EQ(op1(CM_CX_ISTRUE, DT(CM_DT_DATE, "2020-01-01")), "i:1");
    /* truths of typical values */
    cm_datum n = N(), s = S("1x"), z = DEC("0.00");
    assert_int_equal(cm_cx_truth(&n), -1);
    assert_int_equal(cm_cx_truth(&s), 1);
    assert_int_equal(cm_cx_truth(&z), 0);
}

/* ---- arithmetic ----------------------------------------------------------------------------- */

static void test_arith_int(void **state)
{
    (void)state;
    EQ(op2(CM_CX_ADD, I(2), I(3)), "i:5");
    EQ(op2(CM_CX_ADD, I(INT64_MAX), I(1)), "ERR-290");
    EQ(op2(CM_CX_SUB, I(INT64_MIN), I(1)), "ERR-290");
    EQ(op2(CM_CX_MUL, I(INT64_MAX), I(2)), "ERR-290");
    EQ(op2(CM_CX_MUL, I(-4), I(5)), "i:-20");
    EQ(op2(CM_CX_ADD, U(UINT64_MAX), I(0)), "u:18446744073709551615");
    EQ(op2(CM_CX_ADD, U(UINT64_MAX), I(1)), "ERR-290");
    EQ(op2(CM_CX_SUB, U(5), I(10)), "ERR-290");
    EQ(op2(CM_CX_SUB, U(1), I(2)), "ERR-290");
    EQ(op2(CM_CX_SUB, I(1), U(UINT64_MAX)), "ERR-290");
    EQ(op2(CM_CX_SUB, I(10), U(5)), "u:5");
    EQ(op2(CM_CX_ADD, U(5), I(-1)), "u:4");
    EQ(op2(CM_CX_MUL, U(UINT64_MAX), U(UINT64_MAX)), "ERR-290");
    EQ(op2(CM_CX_ADD, I(1), N()), "NULL");
    EQ(op2(CM_CX_SUB, N(), I(1)), "NULL");
    EQ(op2(CM_CX_MUL, N(), N()), "NULL");
    EQ(op1(CM_CX_NEG, I(5)), "i:-5");
    EQ(op1(CM_CX_NEG, I(INT64_MIN)), "ERR-290");
    EQ(op1(CM_CX_NEG, U(9223372036854775808ull)), "i:-9223372036854775808");
    EQ(op1(CM_CX_NEG, U(UINT64_MAX)), "d:-18446744073709551615");
    EQ(op1(CM_CX_NEG, N()), "NULL");
    EQ(op1(CM_CX_ABS, I(INT64_MIN)), "ERR-290");
    EQ(op1(CM_CX_ABS, I(-INT64_MAX)), "i:9223372036854775807");
    EQ(op1(CM_CX_ABS, DEC("-1.50")), "d:1.50");
    EQ(op1(CM_CX_ABS, F(-2.5)), "f:2.5");
    EQ(op1(CM_CX_ABS, N()), "NULL");
}

static void test_arith_div_mod(void **state)
{
    (void)state;
    /* `/` of exact operands: MySQL's internal quotient, truncated at whole 9-digit words */
    EQ(op2(CM_CX_DIV, I(7), I(2)), "d:3.500000000");
    EQ(op2(CM_CX_DIV, I(1), I(3)), "d:0.333333333");
    EQ(op2(CM_CX_DIV, I(-2), I(3)), "d:-0.666666666");
    EQ(op2(CM_CX_DIV, DEC("1.5"), I(3)), "d:0.500000000");
    EQ(op2(CM_CX_DIV, I(7), I(0)), "NULL");
    EQ(op2(CM_CX_DIV, DEC("7"), DEC("0.00")), "NULL");
    EQ(op2(CM_CX_DIV, F(7), F(2)), "f:3.5");
    EQ(op2(CM_CX_DIV, F(7), I(0)), "NULL");
    EQ(op2(CM_CX_DIV, I(7), S("2")), "f:3.5");
    EQ(op2(CM_CX_DIV, N(), I(1)), "NULL");
    /* DIV */
    EQ(op2(CM_CX_INTDIV, I(-7), I(2)), "i:-3");
    EQ(op2(CM_CX_INTDIV, DEC("7.5"), I(2)), "i:3");
    EQ(op2(CM_CX_INTDIV, I(5), DEC("2.5")), "i:2");
    EQ(op2(CM_CX_INTDIV, DEC("-5.5"), I(2)), "i:-2");
    EQ(op2(CM_CX_INTDIV, F(5), I(2)), "i:2");
    EQ(op2(CM_CX_INTDIV, S("7x"), I(2)), "i:3");
    EQ(op2(CM_CX_INTDIV, I(INT64_MIN), I(-1)), "ERR-290");
    EQ(op2(CM_CX_INTDIV, I(-1), U(2)), "u:0");
    EQ(op2(CM_CX_INTDIV, I(-7), U(2)), "ERR-290");
    EQ(op2(CM_CX_INTDIV, I(7), I(0)), "NULL");
    EQ(op2(CM_CX_INTDIV, F(7), F(0)), "NULL");
    /* MOD: the dividend's sign */
    EQ(op2(CM_CX_MOD, I(-7), I(3)), "i:-1");
    EQ(op2(CM_CX_MOD, I(7), I(-3)), "i:1");
    EQ(op2(CM_CX_MOD, U(7), I(-2)), "u:1");
    EQ(op2(CM_CX_MOD, I(INT64_MIN), I(-1)), "i:0");
    EQ(op2(CM_CX_MOD, DEC("5.5"), I(2)), "d:1.5");
    EQ(op2(CM_CX_MOD, DEC("-5.5"), I(2)), "d:-1.5");
    EQ(op2(CM_CX_MOD, DEC("7.5"), I(-2)), "d:1.5");
    EQ(op2(CM_CX_MOD, F(7), DEC("2.5")), "f:2");
    EQ(op2(CM_CX_MOD, F(-7), I(2)), "f:-1");
    EQ(op2(CM_CX_MOD, I(7), I(0)), "NULL");
    EQ(op2(CM_CX_MOD, DEC("7"), DEC("0")), "NULL");
    EQ(op2(CM_CX_MOD, F(7), F(0)), "NULL");
}

static void test_arith_mixed(void **state)
{
    (void)state;
    EQ(op2(CM_CX_ADD, I(1), DEC("0.5")), "d:1.5");
    EQ(op2(CM_CX_MUL, DEC("1.50"), DEC("1.50")), "d:2.2500");
    EQ(op2(CM_CX_SUB, DEC("1.00"), DEC("0.001")), "d:0.999");
    EQ(op2(CM_CX_ADD, I(7), S("1.5")), "f:8.5");
    EQ(op2(CM_CX_ADD, I(1), F(0.5)), "f:1.5");
    EQ(op2(CM_CX_ADD, DEC("0.1"), F(0.2)), "f:0.30000000000000004");
    EQ(op2(CM_CX_MUL, F(1e308), I(10)), "ERR-290");
    EQ(op2(CM_CX_ADD, DT(CM_DT_DATE, "2020-01-01"), I(1)), "i:20200102");
    EQ(op2(CM_CX_ADD, U(UINT64_MAX), DEC("1")), "d:18446744073709551616");
    /* 65 nines plus one leaves the DECIMAL range */
    char big[70];
    memset(big, '9', 65);
    big[65] = '\0';
    EQ(op2(CM_CX_ADD, DEC(big), I(1)), "ERR-290");
}

/* ---- LIKE, IN, functions -------------------------------------------------------------------- */

static const char *like(cm_datum s, cm_datum p, uint8_t esc)
{
    cm_cx_builder bl;
    cm_cx_builder_init(&bl);
    cm_cx_const(&bl, &s);
    cm_cx_const(&bl, &p);
    cm_cx_like(&bl, esc);
    cm_datum out;
    int rc = run(&bl, NULL, 0, &out);
    cm_cx_builder_fini(&bl);
    return rc != 0 ? "ERR" : show(&out);
}

static void test_like(void **state)
{
    (void)state;
    EQ(like(S("abc"), S("a%"), '\\'), "i:1");
    EQ(like(S("abc"), S("%c"), '\\'), "i:1");
    EQ(like(S("abc"), S("%b%"), '\\'), "i:1");
    EQ(like(S("abc"), S("a_c"), '\\'), "i:1");
    EQ(like(S("abc"), S("a_"), '\\'), "i:0");
    EQ(like(S("a "), S("a"), '\\'), "i:0"); /* LIKE is not PAD SPACE */
    EQ(like(S("A"), S("a"), '\\'), "i:0");
    EQ(like(S(""), S("%"), '\\'), "i:1");
    EQ(like(S(""), S("_"), '\\'), "i:0");
    EQ(like(S("a\xc3\xa9"), S("a_"), '\\'), "i:1");  /* é is one character */
    EQ(like(B("a\xc3\xa9"), S("a_"), '\\'), "i:0");  /* two bytes in a binary string */
    EQ(like(B("a\xc3\xa9"), S("a__"), '\\'), "i:1"); /* two bytes in a binary string */
    EQ(like(S("a%"), S("a\\%"), '\\'), "i:1");
    EQ(like(S("ab"), S("a\\%"), '\\'), "i:0");
    EQ(like(S("a_b"), S("a|_b"), '|'), "i:1");
    EQ(like(S("axb"), S("a|_b"), '|'), "i:0");
    EQ(like(S("abc"), S("a\\"), '\\'), "i:0");
    EQ(like(S("a\\"), S("a\\"), '\\'), "i:1"); /* a trailing escape is itself */
    EQ(like(I(12), S("1%"), '\\'), "i:1");
    EQ(like(DEC("1.50"), S("1.5_"), '\\'), "i:1");
    EQ(like(F(1.5), S("1.5"), '\\'), "i:1");
    EQ(like(DT(CM_DT_DATE, "2020-01-01"), S("2020%"), '\\'), "i:1");
    EQ(like(N(), S("a"), '\\'), "NULL");
    EQ(like(S("a"), N(), '\\'), "NULL");
    EQ(like(S("aaaaaaaaaaaaaaaaaaaaaaaaaaaaab"), S("%a%a%a%a%a%a%c"), '\\'), "i:0");
    EQ(like(S("xaby"), S("%ab%"), '\\'), "i:1");
    EQ(like(S("mississippi"), S("%iss%pi"), '\\'), "i:1");
}

static const char *in_list(cm_datum v, const cm_datum *list, uint32_t n)
{
    cm_cx_builder bl;
    cm_cx_builder_init(&bl);
    cm_cx_const(&bl, &v);
    for (uint32_t i = 0; i < n; i++) {
        cm_cx_const(&bl, &list[i]);
    }
    cm_cx_opn(&bl, CM_CX_IN, n);
    cm_datum out;
    int rc = run(&bl, NULL, 0, &out);
    cm_cx_builder_fini(&bl);
    return rc != 0 ? "ERR" : show(&out);
}

static void test_in(void **state)
{
    (void)state;
    cm_datum l1[] = {N(), I(1)};
    EQ(in_list(I(1), l1, 2), "i:1");
    EQ(in_list(I(2), l1, 2), "NULL");
    EQ(in_list(N(), l1 + 1, 1), "NULL");
    cm_datum l2[] = {I(1), DEC("2.0")};
    EQ(in_list(I(2), l2, 2), "i:1");
    EQ(in_list(I(3), l2, 2), "i:0");
    EQ(in_list(S("2"), l2, 2), "i:1");
    cm_datum l3[] = {S("a"), S("B")};
    EQ(in_list(S("b"), l3, 2), "i:0"); /* utf8mb4_bin */
    EQ(in_list(S("a  "), l3, 2), "i:1");
}

static void test_functions(void **state)
{
    (void)state;
    EQ(op2(CM_CX_IFNULL, N(), I(3)), "i:3");
    EQ(op2(CM_CX_IFNULL, I(1), I(3)), "i:1");
    EQ(op2(CM_CX_IFNULL, N(), N()), "NULL");
    EQ(op1(CM_CX_LENGTH, S("a\xc3\xa9")), "i:3");
    EQ(op1(CM_CX_CHAR_LENGTH, S("a\xc3\xa9")), "i:2");
    EQ(op1(CM_CX_CHAR_LENGTH, B("a\xc3\xa9")), "i:3");
    EQ(op1(CM_CX_LENGTH, I(-123)), "i:4");
    EQ(op1(CM_CX_LENGTH, DEC("1.50")), "i:4");
    EQ(op1(CM_CX_LENGTH, N()), "NULL");
    EQ(op1(CM_CX_UPPER, S("a\xc3\xa9\xc3\xbf\xc2\xb5z")), "s:A\xc3\x89\xc5\xb8\xce\x9cZ");
    EQ(op1(CM_CX_LOWER, S("A\xc3\x89\xc5\xb8Q")), "s:a\xc3\xa9\xc3\xbfq");
    EQ(op1(CM_CX_UPPER, B("abc")), "b:abc"); /* binary strings have no case */
    EQ(op1(CM_CX_UPPER, I(12)), "s:12");
    EQ(op1(CM_CX_LOWER, N()), "NULL");
    EQ(op1(CM_CX_UPPER, S("\xe2\x82\xac")), "s:\xe2\x82\xac"); /* other code points unchanged */
    /* IF: a NULL condition takes the else branch */
    cm_datum conds[] = {N(), I(0), I(2), S("0.0"), S("x1")};
    const char *want[] = {"i:20", "i:20", "i:10", "i:20", "i:20"};
    for (size_t i = 0; i < 5; i++) {
        cm_cx_builder bl;
        cm_cx_builder_init(&bl);
        cm_datum a = I(10), b = I(20);
        cm_cx_const(&bl, &conds[i]);
        cm_cx_const(&bl, &a);
        cm_cx_const(&bl, &b);
        cm_cx_op1(&bl, CM_CX_IF);
        cm_datum out;
        assert_int_equal(run(&bl, NULL, 0, &out), 0);
        EQ(show(&out), want[i]);
        cm_cx_builder_fini(&bl);
    }
}

/* IF, IFNULL and COALESCE hand on a value computed deeper in the stack; the operators that
 * follow must not overwrite it: IF(c0, c1 + 1, 0) + c1 * 2, IFNULL(NULL, c1 + 1) + c1 * 2,
 * COALESCE(NULL, c1 + 1) + c1 * 2 with c0 = 1, c1 = 10 are all 31. */
static void test_selected_values_survive(void **state)
{
    (void)state;
    cm_datum row[2] = {I(1), I(10)}, one = I(1), zero = I(0), two = I(2), null = N();
    for (int form = 0; form < 3; form++) {
        cm_cx_builder b;
        cm_cx_builder_init(&b);
        if (form == 0) {
            cm_cx_col(&b, 0);
        } else {
            cm_cx_const(&b, &null);
        }
        cm_cx_col(&b, 1);
        cm_cx_const(&b, &one);
        cm_cx_op1(&b, CM_CX_ADD);
        if (form == 0) {
            cm_cx_const(&b, &zero);
            cm_cx_op1(&b, CM_CX_IF);
        } else if (form == 1) {
            cm_cx_op1(&b, CM_CX_IFNULL);
        } else {
            cm_cx_opn(&b, CM_CX_COALESCE, 2);
        }
        cm_cx_col(&b, 1);
        cm_cx_const(&b, &two);
        cm_cx_op1(&b, CM_CX_MUL);
        cm_cx_op1(&b, CM_CX_ADD);
        cm_datum out;
        assert_int_equal(run(&b, row, 2, &out), 0);
        EQ(show(&out), "i:31");
        cm_cx_builder_fini(&b);
    }
}

/* Postfix evaluation with MySQL's short-circuits: an overflow in an operand MySQL would not
 * evaluate does not fail the expression. Programs in a tiny notation: 'O' pushes
 * INT64_MAX + 1 (an overflow), digits push integers, 'N' NULL, letters are operators. */
static const char *short_circuit(const char *prog)
{
    cm_cx_builder b;
    cm_cx_builder_init(&b);
    cm_datum max = I(INT64_MAX), one = I(1), null = N();
    for (const char *c = prog; *c; c++) {
        switch (*c) {
        case 'O':
            cm_cx_const(&b, &max);
            cm_cx_const(&b, &one);
            cm_cx_op1(&b, CM_CX_ADD);
            break;
        case 'N':
            cm_cx_const(&b, &null);
            break;
        case '&':
            cm_cx_op1(&b, CM_CX_AND);
            break;
        case '|':
            cm_cx_op1(&b, CM_CX_OR);
            break;
        case '=':
            cm_cx_op1(&b, CM_CX_EQ);
            break;
        case '?':
            cm_cx_op1(&b, CM_CX_IF);
            break;
        case 'f':
            cm_cx_op1(&b, CM_CX_IFNULL);
            break;
        case 'c':
            cm_cx_opn(&b, CM_CX_COALESCE, 3);
            break;
        case 'k':
            cm_cx_opn(&b, CM_CX_CONCAT, 2);
            break;
        case '!':
            cm_cx_op1(&b, CM_CX_NOT);
            break;
        case 'n':
            cm_cx_op1(&b, CM_CX_ISNULL);
            break;
        case 'i':
            cm_cx_opn(&b, CM_CX_IN, 2);
            break;
        case '+':
            cm_cx_op1(&b, CM_CX_ADD);
            break;
        case 'x':
            cm_cx_op1(&b, CM_CX_XOR);
            break;
        default: {
            cm_datum d = I(*c - '0');
            cm_cx_const(&b, &d);
            break;
        }
        }
    }
    cm_datum out;
    int rc = run(&b, NULL, 0, &out);
    cm_cx_builder_fini(&b);
    return rc == CM_E_BIGINT_RANGE ? "ERR" : rc != 0 ? "?" : show(&out);
}

static void test_short_circuit(void **state)
{
    (void)state;
    EQ(short_circuit("0O&"), "i:0"); /* 0 AND overflow */
    EQ(short_circuit("O0&"), "ERR"); /* overflow AND 0: the left is evaluated first */
    EQ(short_circuit("NO&"), "ERR"); /* NULL AND overflow: the right is needed */
    EQ(short_circuit("1O&"), "ERR");
    EQ(short_circuit("1O|"), "i:1"); /* 1 OR overflow */
    EQ(short_circuit("0O|"), "ERR");
    EQ(short_circuit("NO="), "NULL"); /* NULL = overflow: the right is not evaluated */
    EQ(short_circuit("ON="), "ERR");
    EQ(short_circuit("1O="), "ERR");
    EQ(short_circuit("15O?"), "i:5"); /* IF(1, 5, overflow) */
    EQ(short_circuit("0O5?"), "i:5");
    EQ(short_circuit("1O5?"), "ERR");
    EQ(short_circuit("O15?"), "ERR");
    EQ(short_circuit("3Of"), "i:3"); /* IFNULL(3, overflow) */
    EQ(short_circuit("NOf"), "ERR");
    EQ(short_circuit("N2Oc"), "i:2"); /* COALESCE(NULL, 2, overflow) */
    EQ(short_circuit("NO2c"), "ERR");
    EQ(short_circuit("NOk"), "NULL"); /* CONCAT(NULL, overflow) */
    EQ(short_circuit("O!"), "ERR");
    EQ(short_circuit("On"), "ERR");
    EQ(short_circuit("11Oi"), "i:1"); /* 1 IN (1, overflow) */
    EQ(short_circuit("21Oi"), "ERR");
    EQ(short_circuit("O1x"), "ERR");
    EQ(short_circuit("0O&1+"), "i:1"); /* (0 AND overflow) + 1 */
    EQ(short_circuit("0O&O+"), "ERR");
}

static const char *nary(cm_cx_op op, const cm_datum *v, uint32_t n)
{
    cm_cx_builder bl;
    cm_cx_builder_init(&bl);
    for (uint32_t i = 0; i < n; i++) {
        cm_cx_const(&bl, &v[i]);
    }
    cm_cx_opn(&bl, op, n);
    cm_datum out;
    int rc = run(&bl, NULL, 0, &out);
    cm_cx_builder_fini(&bl);
    return rc != 0 ? "ERR" : show(&out);
}

static void test_coalesce_concat(void **state)
{
    (void)state;
    cm_datum c1[] = {N(), N(), I(4)};
    EQ(nary(CM_CX_COALESCE, c1, 3), "i:4");
    EQ(nary(CM_CX_COALESCE, c1, 2), "NULL");
    EQ(nary(CM_CX_COALESCE, c1 + 2, 1), "i:4");
    cm_datum k1[] = {S("a"), I(1), DEC("2.50")};
    EQ(nary(CM_CX_CONCAT, k1, 3), "s:a12.50");
    cm_datum k2[] = {S("a"), N(), S("b")};
    EQ(nary(CM_CX_CONCAT, k2, 3), "NULL");
    cm_datum k3[] = {S("a"), B("b")};
    EQ(nary(CM_CX_CONCAT, k3, 2), "b:ab");
    cm_datum k4[] = {F(1e20), F(1e14), F(1e-15), F(1e-16), F(-1.5e300), F(0.1)};
    EQ(nary(CM_CX_CONCAT, k4, 6), "s:1e201000000000000000.0000000000000011e-16-1.5e3000.1");
    cm_datum k6[] = {cm_datum_float32(0.1f),         S("|"), cm_datum_float32(3.14159265f), S("|"),
                     cm_datum_float32(123456789.0f), S("|"), cm_datum_float32(-2.5e-7f)};
    EQ(nary(CM_CX_CONCAT, k6, 7), "s:0.1|3.14159|123457000|-0.00000025");
    cm_datum k5[] = {DT(CM_DT_DATETIME, "2020-01-02 03:04:05.5"), S("|"), TM("-01:02:03")};
    EQ(nary(CM_CX_CONCAT, k5, 3), "s:2020-01-02 03:04:05.500000|-01:02:03");
}

/* ---- builder and decoder -------------------------------------------------------------------- */

static void test_builder_errors(void **state)
{
    (void)state;
    cm_cx_builder b;
    cm_cx_builder_init(&b);
    cm_slice code;
    cm_err err;
    cm_cx_op1(&b, CM_CX_ADD); /* nothing on the stack */
    assert_int_equal(cm_cx_finish(&b, &code, &err), CM_E_INVALID);
    cm_cx_builder_reset(&b);
    cm_datum one = I(1);
    cm_cx_const(&b, &one);
    cm_cx_const(&b, &one);
    assert_int_equal(cm_cx_finish(&b, &code, &err), CM_E_INVALID); /* two values left */
    cm_cx_builder_reset(&b);
    cm_cx_const(&b, &one);
    cm_cx_op1(&b, CM_CX_IN); /* not a fixed-arity operator */
    assert_int_equal(cm_cx_finish(&b, &code, &err), CM_E_INVALID);
    cm_cx_builder_reset(&b);
    for (int i = 0; i < CM_CX_STACK_MAX + 1; i++) {
        cm_cx_const(&b, &one);
    }
    assert_int_equal(cm_cx_finish(&b, &code, &err), CM_E_INVALID);
    cm_cx_builder_reset(&b);
    cm_datum json = cm_datum_json(cm_slice_cstr("{}"));
    cm_cx_const(&b, &json);
    assert_int_equal(cm_cx_finish(&b, &code, &err), CM_E_INVALID);
    cm_cx_builder_reset(&b);
    cm_cx_const(&b, &one);
    cm_cx_opn(&b, CM_CX_COALESCE, 0);
    assert_int_equal(cm_cx_finish(&b, &code, &err), CM_E_INVALID);
    cm_cx_builder_reset(&b);
    cm_cx_col(&b, 3);
    assert_int_equal(cm_cx_finish(&b, &code, &err), 0);
    cm_cx *p;
    assert_int_equal(cm_cx_decode(code, 3, &arena, &p, &err), CM_E_INVALID); /* col 3 of 3 */
    assert_int_equal(cm_cx_decode(code, 4, &arena, &p, &err), 0);
    cm_cx_builder_fini(&b);
}

/* Every prefix of a valid program is refused (it leaves the wrong number of values or is cut in
 * an operand), and so are single-byte corruptions that make it invalid. */
static void test_decoder_rejects(void **state)
{
    (void)state;
    cm_cx_builder b;
    cm_cx_builder_init(&b);
    cm_datum d = DEC("12.340"), s = S("hello world, a long string"), one = I(1);
    cm_cx_col(&b, 0);
    cm_cx_const(&b, &d);
    cm_cx_op1(&b, CM_CX_ADD);
    cm_cx_const(&b, &s);
    cm_cx_col(&b, 1);
    cm_cx_like(&b, '\\');
    cm_cx_const(&b, &one);
    cm_cx_opn(&b, CM_CX_IN, 2);
    cm_slice code;
    cm_err err;
    assert_int_equal(cm_cx_finish(&b, &code, &err), 0);
    cm_cx *p;
    assert_int_equal(cm_cx_decode(code, 2, &arena, &p, &err), 0);
    /* Only the prefixes that end an instruction with one value on the stack decode: "c0" and
     * "c0 + 12.340"; every other cut is refused. */
    size_t first_three = 2 + 1 + 1 + CM_DECIMAL_KEY_BYTES_MAX; /* upper bound of that prefix */
    int accepted = 0;
    for (size_t n = 0; n < code.len; n++) {
        int rc = cm_cx_decode(cm_slice_make(code.ptr, n), 2, &arena, &p, &err);
        if (rc == 0) {
            accepted++;
            assert_true(n == 2 || (n > 4 && n < first_three && code.ptr[n - 1] == CM_CX_ADD));
        } else {
            assert_int_equal(rc, CM_E_INVALID);
        }
    }
    assert_int_equal(accepted, 2);
    uint8_t buf[512];
    memcpy(buf, code.ptr, code.len);
    /* unknown opcodes */
    static const uint8_t bad_ops[] = {0, 3, 9, 17, 30, 47, 59, 69, 255};
    for (size_t i = 0; i < sizeof(bad_ops); i++) {
        buf[code.len] = bad_ops[i];
        assert_int_equal(cm_cx_decode(cm_slice_make(buf, code.len + 1), 2, &arena, &p, &err),
                         CM_E_INVALID);
    }
    /* a decimal constant whose scale byte is below its digits, or above 30 */
    uint8_t k[64];
    size_t kn = 0;
    cm_buf eb = CM_BUF_INIT;
    assert_int_equal(cm_codec_encode_datum(&eb, &d, &err), 0);
    k[kn++] = CM_CX_CONST;
    memcpy(k + kn, eb.ptr, eb.len);
    kn += eb.len;
    cm_buf_fini(&eb);
    k[kn] = 1; /* 12.34 needs 2 */
    assert_int_equal(cm_cx_decode(cm_slice_make(k, kn + 1), 0, &arena, &p, &err), CM_E_INVALID);
    k[kn] = 31;
    assert_int_equal(cm_cx_decode(cm_slice_make(k, kn + 1), 0, &arena, &p, &err), CM_E_INVALID);
    k[kn] = 5;
    assert_int_equal(cm_cx_decode(cm_slice_make(k, kn + 1), 0, &arena, &p, &err), 0);
    cm_datum out;
    assert_int_equal(cm_cx_eval(p, NULL, &arena, &out, &err), 0);
    EQ(show(&out), "d:12.34000");
    /* IN with more operands than the stack holds; counts of 0 */
    uint8_t in0[] = {CM_CX_COL, 0, CM_CX_COL, 0, CM_CX_IN, 0};
    assert_int_equal(cm_cx_decode(cm_slice_make(in0, sizeof(in0)), 1, &arena, &p, &err),
                     CM_E_INVALID);
    uint8_t in9[] = {CM_CX_COL, 0, CM_CX_COL, 0, CM_CX_IN, 9};
    assert_int_equal(cm_cx_decode(cm_slice_make(in9, sizeof(in9)), 1, &arena, &p, &err),
                     CM_E_INVALID);
    uint8_t big[] = {CM_CX_COL, 0, CM_CX_COALESCE, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F};
    assert_int_equal(cm_cx_decode(cm_slice_make(big, sizeof(big)), 1, &arena, &p, &err),
                     CM_E_INVALID);
    /* a column index beyond 32 bits */
    uint8_t col[] = {CM_CX_COL, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01};
    assert_int_equal(cm_cx_decode(cm_slice_make(col, sizeof(col)), 5, &arena, &p, &err),
                     CM_E_INVALID);
    /* stack overflow: 257 pushes */
    uint8_t deep[2 * (CM_CX_STACK_MAX + 1)];
    for (int i = 0; i <= CM_CX_STACK_MAX; i++) {
        deep[2 * i] = CM_CX_COL;
        deep[2 * i + 1] = 0;
    }
    assert_int_equal(cm_cx_decode(cm_slice_make(deep, sizeof(deep)), 1, &arena, &p, &err),
                     CM_E_INVALID);
    assert_non_null(strstr(err.msg, "overflow"));
    /* underflow */
    uint8_t under[] = {CM_CX_COL, 0, CM_CX_EQ};
    assert_int_equal(cm_cx_decode(cm_slice_make(under, sizeof(under)), 1, &arena, &p, &err),
                     CM_E_INVALID);
    assert_non_null(strstr(err.msg, "underflow"));
    /* empty and too long; messages name the byte offset */
    assert_int_equal(cm_cx_decode(cm_slice_make(NULL, 0), 1, &arena, &p, &err), CM_E_INVALID);
    static uint8_t huge[CM_CX_CODE_MAX + 2];
    for (size_t i = 0; i + 1 < sizeof(huge); i += 2) {
        huge[i] = CM_CX_COL;
        huge[i + 1] = 0;
    }
    assert_int_equal(cm_cx_decode(cm_slice_make(huge, sizeof(huge)), 1, &arena, &p, &err),
                     CM_E_INVALID);
    uint8_t badop[] = {CM_CX_COL, 0, 99};
    assert_int_equal(cm_cx_decode(cm_slice_make(badop, sizeof(badop)), 1, &arena, &p, &err),
                     CM_E_INVALID);
    assert_non_null(strstr(err.msg, "at byte 2"));
    cm_cx_builder_fini(&b);
}

/* A deep but legal program: 256 values on the stack, folded by 255 ADDs. */
static void test_deep_program(void **state)
{
    (void)state;
    cm_cx_builder b;
    cm_cx_builder_init(&b);
    for (int i = 0; i < CM_CX_STACK_MAX; i++) {
        cm_cx_col(&b, 0);
    }
    for (int i = 0; i < CM_CX_STACK_MAX - 1; i++) {
        cm_cx_op1(&b, CM_CX_ADD);
    }
    cm_datum row[1] = {I(2)}, out;
    assert_int_equal(run(&b, row, 1, &out), 0);
    EQ(show(&out), "i:512");
    cm_cx_builder_fini(&b);
}

static void test_filter(void **state)
{
    (void)state;
    /* c0 > 5 AND c1 LIKE 'a%' over three rows */
    cm_cx_builder b;
    cm_cx_builder_init(&b);
    cm_datum five = I(5), pat = S("a%");
    cm_cx_col(&b, 0);
    cm_cx_const(&b, &five);
    cm_cx_op1(&b, CM_CX_GT);
    cm_cx_col(&b, 1);
    cm_cx_const(&b, &pat);
    cm_cx_like(&b, '\\');
    cm_cx_op1(&b, CM_CX_AND);
    cm_cx *p = decode(&b, 2);
    cm_datum rows[4][2] = {{I(6), S("abc")}, {I(4), S("abc")}, {N(), S("a")}, {I(9), N()}};
    bool want[4] = {true, false, false, false};
    for (int i = 0; i < 4; i++) {
        bool keep = !want[i];
        cm_err err;
        assert_int_equal(cm_cx_filter(p, rows[i], &arena, &keep, &err), 0);
        assert_int_equal(keep, want[i]);
    }
    cm_cx_builder_fini(&b);
}

/* ---- decimal arithmetic --------------------------------------------------------------------- */

/* A decimal parsed into a rotating slot (for passing pointers inline). */
static const cm_decimal *dptr(const char *text)
{
    static cm_decimal slot[8];
    static int next;
    cm_decimal *d = &slot[next++ % 8];
    *d = DEC(text).v.dec;
    return d;
}

static const char *dec_op(char op, const char *a, const char *b, unsigned scale)
{
    cm_datum x = DEC(a), y = DEC(b);
    cm_decimal r;
    int rc;
    switch (op) {
    case '+':
        rc = cm_decimal_add(&x.v.dec, &y.v.dec, &r, NULL);
        break;
    case '-':
        rc = cm_decimal_sub(&x.v.dec, &y.v.dec, &r, NULL);
        break;
    case '*':
        rc = cm_decimal_mul(&x.v.dec, &y.v.dec, &r, NULL);
        break;
    case '/':
        rc = cm_decimal_div(&x.v.dec, &y.v.dec, scale, &r, NULL);
        break;
    case 't':
        rc = cm_decimal_div_trunc(&x.v.dec, &y.v.dec, scale, &r, NULL);
        break;
    default:
        rc = cm_decimal_mod(&x.v.dec, &y.v.dec, &r, NULL);
        break;
    }
    if (rc != 0) {
        return rc == CM_E_OUT_OF_RANGE ? "RANGE" : "INVALID";
    }
    assert_true(cm_decimal_valid(&r));
    cm_datum d = cm_datum_decimal(&r);
    return show(&d) + 2;
}

static void test_decimal_arith(void **state)
{
    (void)state;
    EQ(dec_op('+', "1.5", "2.25", 0), "3.75");
    EQ(dec_op('+', "-1.5", "1.5", 0), "0.0");
    EQ(dec_op('-', "1", "1.001", 0), "-0.001");
    EQ(dec_op('-', "-5", "-7.5", 0), "2.5");
    EQ(dec_op('+', "99999999999999999999", "1", 0), "100000000000000000000");
    EQ(dec_op('*', "-1.5", "2", 0), "-3.0");
    EQ(dec_op('*', "0.1234567890123456789012345678", "0.12345", 0),
       "0.015240740603574074060357407394"); /* scale 33 cut to 30 */
    EQ(dec_op('*', "0", "-5.5", 0), "0.0");
    EQ(dec_op('/', "2", "3", 4), "0.6667");
    EQ(dec_op('/', "-2", "3", 4), "-0.6667");
    EQ(dec_op('t', "2", "3", 4), "0.6666");
    EQ(dec_op('/', "1", "8", 2), "0.13");
    EQ(dec_op('/', "10", "0.25", 0), "40");
    EQ(dec_op('/', "1", "0", 4), "INVALID");
    EQ(dec_op('/', "1", "3", 31), "INVALID");
    EQ(dec_op('%', "-7", "3", 0), "-1");
    EQ(dec_op('%', "7.5", "-2", 0), "1.5");
    EQ(dec_op('%', "1", "0.0", 0), "INVALID");
    char big[80];
    memset(big, '9', 65);
    big[65] = '\0';
    EQ(dec_op('+', big, "1", 0), "RANGE");
    EQ(dec_op('*', big, "10", 0), "RANGE");
    EQ(dec_op('*', big, "0.1", 0), "9999999999999999999999999999999999999999999999999999999999999"
                                   "999.9"); /* 66 digits needed: the fraction is cut */
    cm_decimal d;
    assert_int_equal(cm_decimal_from_double(0.1, &d, NULL), 0);
    cm_datum dd = cm_datum_decimal(&d);
    EQ(show(&dd), "d:0.1");
    assert_int_equal(cm_decimal_from_double(-1.5e20, &d, NULL), 0);
    dd = cm_datum_decimal(&d);
    EQ(show(&dd), "d:-150000000000000000000");
    assert_int_equal(cm_decimal_from_double(1e70, &d, NULL), CM_E_OUT_OF_RANGE);
    assert_int_equal(cm_decimal_from_double(INFINITY, &d, NULL), CM_E_INVALID);
    assert_true(cm_decimal_to_double(dptr("-0.125")) == -0.125);
    int64_t i;
    uint64_t u;
    assert_int_equal(cm_decimal_to_int64(dptr("-9223372036854775808.9"), &i, NULL), 0);
    assert_true(i == INT64_MIN);
    assert_int_equal(cm_decimal_to_int64(dptr("9223372036854775808"), &i, NULL), CM_E_OUT_OF_RANGE);
    assert_int_equal(cm_decimal_to_uint64(dptr("18446744073709551615"), &u, NULL), 0);
    assert_true(u == UINT64_MAX);
    assert_int_equal(cm_decimal_to_uint64(dptr("-1"), &u, NULL), CM_E_OUT_OF_RANGE);
    assert_int_equal(cm_decimal_to_uint64(dptr("-0.5"), &u, NULL), 0);
    assert_true(u == 0);
}

/* Random decimal identities against __int128 arithmetic on scaled integers. */
static void test_decimal_random(void **state)
{
    (void)state;
    uint64_t seed = 12345;
    for (int round = 0; round < 20000; round++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        int64_t x = (int64_t)(seed >> 20) % 100000000000LL - 50000000000LL;
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        int64_t y = (int64_t)(seed >> 24) % 10000000LL - 5000000LL;
        /* x and y with scale 3 */
        char ta[40], tb[40];
        snprintf(ta, sizeof(ta), "%s%lld.%03lld", x < 0 ? "-" : "", llabs(x) / 1000,
                 llabs(x) % 1000);
        snprintf(tb, sizeof(tb), "%s%lld.%03lld", y < 0 ? "-" : "", llabs(y) / 1000,
                 llabs(y) % 1000);
        cm_decimal a = DEC(ta).v.dec, b = DEC(tb).v.dec, r, back;
        assert_int_equal(cm_decimal_add(&a, &b, &r, NULL), 0);
        assert_int_equal(cm_decimal_sub(&r, &b, &back, NULL), 0);
        assert_int_equal(cm_decimal_cmp(&back, &a), 0);
        assert_int_equal(cm_decimal_mul(&a, &b, &r, NULL), 0);
        __int128 prod = (__int128)x * y; /* scale 6 */
        char tp[60];
        __int128 m = prod < 0 ? -prod : prod;
        snprintf(tp, sizeof(tp), "%s%llu.%06llu", prod < 0 ? "-" : "",
                 (unsigned long long)(m / 1000000), (unsigned long long)(m % 1000000));
        cm_decimal want = DEC(tp).v.dec;
        assert_int_equal(cm_decimal_cmp(&r, &want), 0);
        if (y != 0) {
            /* truncated quotient q at scale 3: q × b + rem = a, with |rem| < |b| × 10^-3 */
            assert_int_equal(cm_decimal_div_trunc(&a, &b, 3, &r, NULL), 0);
            __int128 q = ((__int128)x * 1000) / y; /* scale 3 */
            m = q < 0 ? -q : q;
            snprintf(tp, sizeof(tp), "%s%llu.%03llu", q < 0 ? "-" : "",
                     (unsigned long long)(m / 1000), (unsigned long long)(m % 1000));
            want = DEC(tp).v.dec;
            assert_int_equal(cm_decimal_cmp(&r, &want), 0);
            assert_int_equal(cm_decimal_mod(&a, &b, &r, NULL), 0);
            __int128 rem = (__int128)x % y;
            m = rem < 0 ? -rem : rem;
            snprintf(tp, sizeof(tp), "%s%llu.%03llu", rem < 0 ? "-" : "",
                     (unsigned long long)(m / 1000), (unsigned long long)(m % 1000));
            want = DEC(tp).v.dec;
            assert_int_equal(cm_decimal_cmp(&r, &want), 0);
        }
    }
}

static void test_str_to_double(void **state)
{
    (void)state;
    assert_true(cm_cx_str_to_double(cm_slice_cstr("12x")) == 12);
    assert_true(cm_cx_str_to_double(cm_slice_cstr("  -1.5e2abc")) == -150);
    assert_true(cm_cx_str_to_double(cm_slice_cstr("1e")) == 1);
    assert_true(cm_cx_str_to_double(cm_slice_cstr("0.000123")) == 0.000123);
    assert_true(cm_cx_str_to_double(cm_slice_cstr("inf")) == 0);
    assert_true(cm_cx_str_to_double(cm_slice_cstr("1e400")) == 1.7976931348623157e308);
    assert_true(cm_cx_str_to_double(cm_slice_cstr("1e-400")) == 0);
    char longnum[400];
    memset(longnum, '1', sizeof(longnum) - 1);
    longnum[sizeof(longnum) - 1] = '\0';
    double d = cm_cx_str_to_double(cm_slice_cstr(longnum));
    assert_true(d == 1.7976931348623157e308); /* 1.1e398 clamps like 1e400 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compare_numbers),
        cmocka_unit_test(test_compare_strings_numbers),
        cmocka_unit_test(test_compare_strings),
        cmocka_unit_test(test_compare_temporal),
        cmocka_unit_test(test_compare_nulls),
        cmocka_unit_test(test_all_ops_null),
        cmocka_unit_test(test_logic),
        cmocka_unit_test(test_arith_int),
        cmocka_unit_test(test_arith_div_mod),
        cmocka_unit_test(test_arith_mixed),
        cmocka_unit_test(test_like),
        cmocka_unit_test(test_in),
        cmocka_unit_test(test_functions),
        cmocka_unit_test(test_coalesce_concat),
        cmocka_unit_test(test_selected_values_survive),
        cmocka_unit_test(test_short_circuit),
        cmocka_unit_test(test_builder_errors),
        cmocka_unit_test(test_decoder_rejects),
        cmocka_unit_test(test_deep_program),
        cmocka_unit_test(test_filter),
        cmocka_unit_test(test_decimal_arith),
        cmocka_unit_test(test_decimal_random),
        cmocka_unit_test(test_str_to_double),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
