/*
 * test_vtab.c — unit tests of the parts of the `tessera` module that need no KV store: the
 * handle bounds xFilter derives from constraint values (checked against SQLite's own comparison
 * of an INTEGER column on a real connection), the index key bounds of inexact operands
 * (sql_vt_key_bound) and the plan carried in idxStr. The module on real
 * storage is tested end to end by testsuite/e2e/vtab (vtab_driver over pd + 3 kvnodes).
 */
#include "sql_vtab_int.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static const int ops[] = {SQLITE_INDEX_CONSTRAINT_EQ, SQLITE_INDEX_CONSTRAINT_GT,
                          SQLITE_INDEX_CONSTRAINT_GE, SQLITE_INDEX_CONSTRAINT_LT,
                          SQLITE_INDEX_CONSTRAINT_LE};
static const char *const op_sql[] = {"=", ">", ">=", "<", "<="};

/* Handles stored in the reference table. */
static const int64_t handles[] = {INT64_MIN, INT64_MIN + 1, -1000000, -6, -5, -1, 0, 1, 2, 5, 6, 7,
                                  1000000,   INT64_MAX - 1, INT64_MAX};
#define NH (sizeof handles / sizeof handles[0])

/* The values compared with the handle: every SQLite storage class, edges of the int64 range and
 * of its doubles, text that is and is not numeric. */
static const char *const values[] = {"5",
                                     "-5",
                                     "5.0",
                                     "5.5",
                                     "-5.5",
                                     "'5'",
                                     "' 5 '",
                                     "'5.5'",
                                     "'5abc'",
                                     "'abc'",
                                     "''",
                                     "x'05'",
                                     "NULL",
                                     "9223372036854775807",
                                     "-9223372036854775808",
                                     "9.3e18",
                                     "-9.3e18",
                                     "9.2233720368547758e18",
                                     "-9.2233720368547758e18",
                                     "1e300",
                                     "-1e300",
                                     "0.0",
                                     "-0.0",
                                     "'9223372036854775807'",
                                     "'-1e3'",
                                     "6.999999"};
#define NV (sizeof values / sizeof values[0])

/* Calls sql_vt_handle_bound on its (op, value) arguments and returns whether handle h lies in
 * the bounds: the function under test, run on values SQLite itself produced. */
static void bound_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    int op = sqlite3_value_int(argv[0]);
    int64_t h = sqlite3_value_int64(argv[2]);
    int64_t lo = INT64_MIN, hi = INT64_MAX;
    sqlite3_value *v = sqlite3_value_dup(argv[1]);
    bool any = sql_vt_handle_bound(op, v, &lo, &hi);
    sqlite3_value_free(v);
    sqlite3_result_int(ctx, any && h >= lo && h <= hi);
}

static void test_handle_bound_matches_sqlite(void **state)
{
    (void)state;
    sqlite3 *db;
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE x(h INTEGER)", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(
        sqlite3_create_function(db, "inbound", 3, SQLITE_UTF8, NULL, bound_fn, NULL, NULL),
        SQLITE_OK);
    sqlite3_stmt *ins;
    assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO x VALUES (?)", -1, &ins, NULL), SQLITE_OK);
    for (size_t i = 0; i < NH; i++) {
        sqlite3_bind_int64(ins, 1, handles[i]);
        assert_int_equal(sqlite3_step(ins), SQLITE_DONE);
        sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    int compared = 0;
    for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
        for (size_t v = 0; v < NV; v++) {
            /* rows where SQLite's comparison and the bounds disagree */
            char sql[512];
            snprintf(sql, sizeof sql,
                     "SELECT h, (h %s %s) IS 1 AS want, inbound(%d, %s, h) AS got FROM x "
                     "WHERE want != got",
                     op_sql[o], values[v], ops[o], values[v]);
            sqlite3_stmt *st;
            assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
            int bad = 0;
            while (sqlite3_step(st) == SQLITE_ROW) {
                print_message("h=%lld %s %s: sqlite %d, bounds %d\n",
                              (long long)sqlite3_column_int64(st, 0), op_sql[o], values[v],
                              sqlite3_column_int(st, 1), sqlite3_column_int(st, 2));
                bad++;
            }
            sqlite3_finalize(st);
            assert_int_equal(bad, 0);
            compared += (int)NH;
        }
    }
    assert_int_equal(compared, (int)(5 * NV * NH));
    sqlite3_close(db);
}

/* The bound must also be usable when the parameter comes bound (text from a client). */
static void test_handle_bound_bound_text(void **state)
{
    (void)state;
    sqlite3 *db;
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT ?", -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_text(st, 1, "42", -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    sqlite3_value *v = sqlite3_value_dup(sqlite3_column_value(st, 0));
    int64_t lo = INT64_MIN, hi = INT64_MAX;
    assert_true(sql_vt_handle_bound(SQLITE_INDEX_CONSTRAINT_GT, v, &lo, &hi));
    assert_int_equal(lo, 43);
    assert_true(hi == INT64_MAX);
    lo = INT64_MIN;
    assert_true(sql_vt_handle_bound(SQLITE_INDEX_CONSTRAINT_EQ, v, &lo, &hi));
    assert_int_equal(lo, 42);
    assert_int_equal(hi, 42);
    sqlite3_value_free(v);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* The key bound of a range constraint, against the truth for an integer column holding -4..4:
 * operands x in steps of 0.5, each with the fits sql_type_key_value gives for it (EXACT for an
 * integral x; UP = ceil and DOWN = floor otherwise) and NONE. The keys the bound admits must be
 * exactly the values satisfying the comparison (a superset for a prefix column). */
static void test_key_bound_truth(void **state)
{
    (void)state;
    int checked = 0;
    for (int x2 = -9; x2 <= 9; x2++) {
        double x = x2 / 2.0;
        bool integral = x2 % 2 == 0;
        sql_type_fit fits[3];
        double outs[3];
        int nf = 0;
        if (integral) {
            fits[nf] = SQL_TYPE_FIT_EXACT;
            outs[nf++] = x;
        } else {
            fits[nf] = SQL_TYPE_FIT_UP;
            outs[nf++] = x + 0.5;
            fits[nf] = SQL_TYPE_FIT_DOWN;
            outs[nf++] = x - 0.5;
        }
        fits[nf] = SQL_TYPE_FIT_NONE;
        outs[nf++] = 0;
        for (int f = 0; f < nf; f++) {
            for (int op = 0; op < 4; op++) {
                bool lower = op < 2, op_incl = op % 2 == 1; /* >, >=, <, <= */
                for (int pfx = 0; pfx < 2; pfx++) {
                    bool use, incl;
                    sql_vt_key_bound(lower, op_incl, fits[f], pfx, true, &use, &incl);
                    assert_true(use == (fits[f] != SQL_TYPE_FIT_NONE));
                    for (int v = -4; v <= 4 && use; v++) {
                        bool truth =
                            lower ? (op_incl ? v >= x : v > x) : (op_incl ? v <= x : v < x);
                        double o = outs[f];
                        bool in = lower ? (incl ? v >= o : v > o) : (incl ? v <= o : v < o);
                        if (pfx) {
                            assert_true(!truth || in); /* superset */
                        } else if (truth != in) {
                            print_message("x=%g fit=%d op=%d v=%d: truth %d, key %d\n", x, fits[f],
                                          op, v, truth, in);
                            fail();
                        }
                        checked++;
                    }
                    bool u2, i2;
                    sql_vt_key_bound(lower, op_incl, fits[f], pfx, false, &u2, &i2);
                    assert_false(u2); /* key order is not SQLite's: never a bound */
                }
            }
        }
    }
    assert_true(checked > 1000);
}

static void test_plan_parse(void **state)
{
    (void)state;
    vt_plan p;
    assert_true(
        sql_vt_plan_parse("index k_1 (k=? AND c>?) covering #3,2,1,71,8000000000000003", &p));
    assert_int_equal(p.access, VT_INDEX);
    assert_int_equal(p.index, 2);
    assert_int_equal(p.neq, 1);
    assert_int_equal(p.flags, 71);
    assert_true(p.used == 0x8000000000000003ULL);
    /* the readable part may itself hold '#': the last one counts */
    assert_true(sql_vt_plan_parse("index #x (a=?) #1,0,0,0,0", &p));
    assert_int_equal(p.access, VT_PK_EQ);
    const char *bad[] = {NULL,
                         "",
                         "full scan",
                         "#",
                         "#0,0,0,0",
                         "#0,0,0,0,",
                         "#0,0,0,0,zz",
                         "#4,0,0,0,0",
                         "#3,0,17,0,0",
                         "#3,0,1,512,0",
                         "#0,0,0,0,0 ",
                         "#-1,0,0,0,0",
                         "#0,0,0,0,11111111111111111",
                         "#99999999999999999999,0,0,0,0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(sql_vt_plan_parse(bad[i], &p));
    }
}

/* The push part of idxStr (sql_vtab_push.c) round-trips and rejects what is not its own. */
static void test_push_spec(void **state)
{
    (void)state;
    vt_push in, out;
    memset(&in, 0, sizeof in);
    in.n = 3;
    in.t[0] = (vt_pterm){.argv = 3, .vcol = 2, .op = SQLITE_INDEX_CONSTRAINT_GT, .omit = true};
    in.t[1] = (vt_pterm){.argv = 4, .vcol = 5, .op = SQLITE_INDEX_CONSTRAINT_EQ, .in = true};
    in.t[2] = (vt_pterm){.argv = 5, .vcol = 0, .op = SQLITE_INDEX_CONSTRAINT_LIKE};
    in.norder = 2;
    in.ord[0].vcol = 2;
    in.ord[0].desc = true;
    in.ord[1].vcol = 0;
    char spec[256] = "";
    sql_vt_push_spec(&in, spec, sizeof spec);
    char idx[512];
    snprintf(idx, sizeof idx, "full scan sel(gt(a, 5)) #0,0,0,%d,ff%s", VT_P_LIMIT | VT_P_TOPN,
             spec);
    vt_plan p;
    assert_true(sql_vt_plan_parse(idx, &p));
    assert_int_equal(p.flags, VT_P_LIMIT | VT_P_TOPN);
    assert_true(p.used == 0xff);
    assert_true(sql_vt_push_parse(idx, &out));
    assert_int_equal(out.n, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(out.t[i].argv, in.t[i].argv);
        assert_int_equal(out.t[i].vcol, in.t[i].vcol);
        assert_int_equal(out.t[i].op, in.t[i].op);
        assert_int_equal(out.t[i].omit, in.t[i].omit);
        assert_int_equal(out.t[i].in, in.t[i].in);
    }
    assert_int_equal(out.norder, 2);
    assert_int_equal(out.ord[0].vcol, 2);
    assert_true(out.ord[0].desc);
    assert_false(out.ord[1].desc);
    /* no push part: nothing pushed */
    assert_true(sql_vt_push_parse("full scan #0,0,0,0,ff", &out));
    assert_int_equal(out.n, 0);
    const char *bad[] = {"#0,0,0,0,ff;", "#0,0,0,0,ff;x1", "#0,0,0,0,ff;c1.2.3",
                         "#0,0,0,0,ff;c1.2.3.4x", "#0,0,0,0,ff;o1", "#0,0,0,0,ff;c.1.2.3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(sql_vt_push_parse(bad[i], &out));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handle_bound_matches_sqlite),
        cmocka_unit_test(test_handle_bound_bound_text),
        cmocka_unit_test(test_plan_parse),
        cmocka_unit_test(test_key_bound_truth),
        cmocka_unit_test(test_push_spec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
