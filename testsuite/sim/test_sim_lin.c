/* Unit tests for the simulator's linearizability checker (sim_lin.c): it must accept what a
 * register allows and reject stale, invented or non-monotonic reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sim_lin.h"

#define P SIM_LIN_PENDING

static sim_lin_result check(const sim_lin_op *ops, size_t n)
{
    char why[256];
    return sim_lin_check(ops, n, 0, why, sizeof(why));
}

static void test_sequential(void **state)
{
    (void)state;
    const sim_lin_op ok[] = {
        {1, 2, true, 5, 1},
        {3, 4, false, 5, 2},
        {5, 6, true, 7, 3},
        {7, 8, false, 7, 4},
    };
    assert_int_equal(check(ok, 4), SIM_LIN_OK);
    /* A read before any write sees the initial value. */
    const sim_lin_op init[] = {{1, 2, false, 0, 1}, {3, 4, true, 9, 2}};
    assert_int_equal(check(init, 2), SIM_LIN_OK);
}

static void test_stale_read(void **state)
{
    (void)state;
    /* w(5) and w(7) both completed before the read began: reading 5 is stale. */
    const sim_lin_op stale[] = {
        {1, 2, true, 5, 1},
        {3, 4, true, 7, 2},
        {5, 6, false, 5, 3},
    };
    assert_int_equal(check(stale, 3), SIM_LIN_VIOLATION);
    /* A read of a value nobody wrote. */
    const sim_lin_op invented[] = {{1, 2, true, 5, 1}, {3, 4, false, 6, 2}};
    assert_int_equal(check(invented, 2), SIM_LIN_VIOLATION);
}

static void test_concurrency(void **state)
{
    (void)state;
    /* A read overlapping a write may return either value. */
    const sim_lin_op old_val[] = {{1, 10, true, 5, 1}, {2, 3, false, 0, 2}};
    const sim_lin_op new_val[] = {{1, 10, true, 5, 1}, {2, 3, false, 5, 2}};
    assert_int_equal(check(old_val, 2), SIM_LIN_OK);
    assert_int_equal(check(new_val, 2), SIM_LIN_OK);
    /* But two sequential reads during one write cannot go new, then old. */
    const sim_lin_op flip[] = {{1, 10, true, 5, 1}, {2, 3, false, 5, 2}, {4, 5, false, 0, 3}};
    assert_int_equal(check(flip, 3), SIM_LIN_VIOLATION);
}

static void test_unknown_writes(void **state)
{
    (void)state;
    /* A write whose outcome is unknown may take effect late... */
    const sim_lin_op late[] = {{1, P, true, 5, 1}, {2, 3, false, 0, 2}, {4, 5, false, 5, 3}};
    assert_int_equal(check(late, 3), SIM_LIN_OK);
    /* ...or never... */
    const sim_lin_op never[] = {{1, P, true, 5, 1}, {2, 3, false, 0, 2}, {4, 5, false, 0, 3}};
    assert_int_equal(check(never, 3), SIM_LIN_OK);
    /* ...but not before it was called, and not twice. */
    const sim_lin_op early[] = {{1, 2, false, 5, 1}, {3, P, true, 5, 2}};
    assert_int_equal(check(early, 2), SIM_LIN_VIOLATION);
    const sim_lin_op twice[] = {
        {1, P, true, 5, 1},
        {2, 3, false, 5, 2},
        {4, 5, true, 6, 3},
        {6, 7, false, 5, 4},
    };
    assert_int_equal(check(twice, 4), SIM_LIN_VIOLATION);
}

static void test_limits(void **state)
{
    (void)state;
    sim_lin_op many[SIM_LIN_OPS_MAX + 1];
    for (size_t i = 0; i < SIM_LIN_OPS_MAX + 1; i++) {
        many[i] = (sim_lin_op){2 * i + 1, 2 * i + 2, true, i + 1, i};
    }
    assert_int_equal(check(many, SIM_LIN_OPS_MAX), SIM_LIN_OK);
    assert_int_equal(check(many, SIM_LIN_OPS_MAX + 1), SIM_LIN_TOO_BIG);
    /* Many overlapping unknown writes stay tractable thanks to memoization. */
    sim_lin_op wide[40];
    for (size_t i = 0; i < 40; i++) {
        wide[i] = (sim_lin_op){i + 1, i % 2 ? P : 100 + i, true, i + 1, i};
    }
    assert_int_equal(check(wide, 40), SIM_LIN_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sequential),  cmocka_unit_test(test_stale_read),
        cmocka_unit_test(test_concurrency), cmocka_unit_test(test_unknown_writes),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
