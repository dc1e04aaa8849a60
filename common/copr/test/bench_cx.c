/*
 * bench_cx — CPU cost of the evaluator and the aggregate states per row (not a test): a range
 * filter on an INT64 column, the same with LIKE on a STRING column, SUM over INT64 and over
 * DECIMAL(7,2). Run: build/common/copr/bench_cx [rows] (default 5,000,000). Prints ns per row
 * measured with the process CPU clock, so a loaded machine does not inflate it.
 */
#include "cm_copr.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define DISTINCT 1000

static double cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static cm_cx *compile(cm_cx_builder *b, cm_arena *a)
{
    cm_slice code;
    cm_err err;
    cm_cx *p = NULL;
    if (cm_cx_finish(b, &code, &err) != 0 || cm_cx_decode(code, 2, a, &p, &err) != 0) {
        fprintf(stderr, "bench_cx: %s\n", err.msg);
        exit(1);
    }
    cm_cx_builder_reset(b);
    return p;
}

static void filter(const char *name, const cm_cx *p, cm_datum rows[][2], long n, cm_arena *s)
{
    long kept = 0;
    cm_err err;
    double t0 = cpu_s();
    for (long i = 0; i < n; i++) {
        bool k = false;
        if (cm_cx_filter(p, rows[i % DISTINCT], s, &k, &err) != 0) {
            exit(1);
        }
        kept += k;
        if (i % DISTINCT == DISTINCT - 1) {
            cm_arena_reset(s);
        }
    }
    double t1 = cpu_s();
    printf("%-36s %7.1f ns/row (%ld of %ld kept)\n", name, (t1 - t0) / (double)n * 1e9, kept, n);
}

static void sum(const char *name, const cm_datum *v, long n, cm_arena *s)
{
    cm_copr_agg_state st;
    cm_copr_agg_init(&st, CM_COPR_SUM);
    cm_err err;
    double t0 = cpu_s();
    for (long i = 0; i < n; i++) {
        if (cm_copr_agg_add(&st, v, s, &err) != 0) {
            exit(1);
        }
    }
    double t1 = cpu_s();
    cm_copr_agg_fini(&st);
    printf("%-36s %7.1f ns/row\n", name, (t1 - t0) / (double)n * 1e9);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 5000000;
    if (n <= 0) {
        n = 5000000;
    }
    static cm_datum rows[DISTINCT][2];
    static char text[DISTINCT][16];
    for (int i = 0; i < DISTINCT; i++) {
        rows[i][0] = cm_datum_int64(i % 20);
        snprintf(text[i], sizeof(text[i]), "%cbc%d", 'a' + i % 3, i);
        rows[i][1] = cm_datum_string(cm_slice_cstr(text[i]));
    }
    cm_arena a, s;
    cm_arena_init(&a, 0);
    cm_arena_init(&s, 0);
    cm_cx_builder b;
    cm_cx_builder_init(&b);
    cm_datum five = cm_datum_int64(5), fifteen = cm_datum_int64(15), ten = cm_datum_int64(10),
             pat = cm_datum_string(cm_slice_cstr("a%"));
    cm_cx_col(&b, 0);
    cm_cx_const(&b, &five);
    cm_cx_op1(&b, CM_CX_GE);
    cm_cx_col(&b, 0);
    cm_cx_const(&b, &fifteen);
    cm_cx_op1(&b, CM_CX_LE);
    cm_cx_op1(&b, CM_CX_AND);
    filter("c0 >= 5 AND c0 <= 15", compile(&b, &a), rows, n, &s);
    cm_cx_col(&b, 0);
    cm_cx_const(&b, &ten);
    cm_cx_op1(&b, CM_CX_GT);
    cm_cx_col(&b, 1);
    cm_cx_const(&b, &pat);
    cm_cx_like(&b, '\\');
    cm_cx_op1(&b, CM_CX_AND);
    filter("c0 > 10 AND c1 LIKE 'a%'", compile(&b, &a), rows, n, &s);
    sum("SUM(int64)", &rows[7][0], n, &s);
    cm_decimal d;
    cm_decimal_parse(cm_slice_cstr("12345.67"), &d, NULL, NULL);
    cm_datum dd = cm_datum_decimal(&d);
    sum("SUM(decimal(7,2))", &dd, n / 10, &s);
    cm_cx_builder_fini(&b);
    cm_arena_fini(&s);
    cm_arena_fini(&a);
    return 0;
}
