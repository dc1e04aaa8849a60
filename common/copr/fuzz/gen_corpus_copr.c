/*
 * gen_corpus_copr — writes the seed corpus of fuzz_copr (common/copr/fuzz/corpus_copr/): a few
 * valid plans built with the builder and the plan encoder (selection with LIKE, IN and
 * arithmetic; partial aggregation with GROUP BY; TopN with output columns and defaults; LIMIT
 * over an index scan), each followed by row bytes. Usage: gen_corpus_copr DIR.
 */
#include "cm_copr.h"

#include <stdio.h>
#include <string.h>

static cm_slice fin(cm_cx_builder *b)
{
    cm_slice s;
    cm_err err;
    if (cm_cx_finish(b, &s, &err) != 0) {
        fprintf(stderr, "gen_corpus_copr: %s\n", err.msg);
        s = cm_slice_make(NULL, 0);
    }
    return s;
}

static int write_seed(const char *dir, const char *name, const cm_copr_plan *p)
{
    cm_buf enc = CM_BUF_INIT;
    cm_err err;
    if (cm_copr_plan_encode(p, &enc, &err) != 0) {
        fprintf(stderr, "gen_corpus_copr: %s: %s\n", name, err.msg);
        return 1;
    }
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        perror(path);
        cm_buf_fini(&enc);
        return 1;
    }
    uint8_t len[2] = {(uint8_t)(enc.len & 0xFF), (uint8_t)(enc.len >> 8)};
    fwrite(len, 1, 2, f);
    fwrite(enc.ptr, 1, enc.len, f);
    /* row bytes: a deterministic spread of values */
    for (int i = 0; i < 400; i++) {
        uint8_t b = (uint8_t)(i * 37 + 11);
        fwrite(&b, 1, 1, f);
    }
    fclose(f);
    cm_buf_fini(&enc);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_corpus_copr DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    int bad = 0;
    cm_copr_pcol cols[4] = {
        {1, CM_DT_INT64}, {2, CM_DT_STRING}, {3, CM_DT_DECIMAL}, {CM_COPR_HANDLE_ID, CM_DT_INT64}};
    cm_datum ten = cm_datum_int64(10), pat = cm_datum_string(cm_slice_cstr("a%")),
             two = cm_datum_int64(2), three = cm_datum_int64(3), nul = cm_datum_null();
    cm_decimal half;
    cm_decimal_parse(cm_slice_cstr("0.50"), &half, NULL, NULL);
    cm_datum dhalf = cm_datum_decimal(&half);

    /* 1: c0 * 2 > 10 AND c1 LIKE 'a%' OR c0 IN (2, 3, NULL) */
    cm_cx_builder sel;
    cm_cx_builder_init(&sel);
    cm_cx_col(&sel, 0);
    cm_cx_const(&sel, &two);
    cm_cx_op1(&sel, CM_CX_MUL);
    cm_cx_const(&sel, &ten);
    cm_cx_op1(&sel, CM_CX_GT);
    cm_cx_col(&sel, 1);
    cm_cx_const(&sel, &pat);
    cm_cx_like(&sel, '\\');
    cm_cx_op1(&sel, CM_CX_AND);
    cm_cx_col(&sel, 0);
    cm_cx_const(&sel, &two);
    cm_cx_const(&sel, &three);
    cm_cx_const(&sel, &nul);
    cm_cx_opn(&sel, CM_CX_IN, 3);
    cm_cx_op1(&sel, CM_CX_OR);
    cm_copr_plan p;
    memset(&p, 0, sizeof(p));
    p.scan = CM_COPR_SCAN_TABLE;
    p.ncols = 4;
    p.cols = cols;
    p.sel = fin(&sel);
    bad |= write_seed(dir, "sel_like_in", &p);

    /* 2: GROUP BY UPPER(c1): COUNT(*), SUM(c0 + c2), MAX(c2), AVG(c0 / 3), MIN(c1) */
    cm_cx_builder g, a1, a2, a3, a4;
    cm_cx_builder_init(&g);
    cm_cx_builder_init(&a1);
    cm_cx_builder_init(&a2);
    cm_cx_builder_init(&a3);
    cm_cx_builder_init(&a4);
    cm_cx_col(&g, 1);
    cm_cx_op1(&g, CM_CX_UPPER);
    cm_cx_col(&a1, 0);
    cm_cx_col(&a1, 2);
    cm_cx_op1(&a1, CM_CX_ADD);
    cm_cx_col(&a2, 2);
    cm_cx_col(&a3, 0);
    cm_cx_const(&a3, &three);
    cm_cx_op1(&a3, CM_CX_DIV);
    cm_cx_col(&a4, 1);
    cm_slice group[1] = {fin(&g)};
    cm_copr_agg aggs[5] = {{CM_COPR_COUNT, cm_slice_make(NULL, 0)},
                           {CM_COPR_SUM, fin(&a1)},
                           {CM_COPR_MAX, fin(&a2)},
                           {CM_COPR_AVG, fin(&a3)},
                           {CM_COPR_MIN, fin(&a4)}};
    p.has_agg = true;
    p.ngroup = 1;
    p.group = group;
    p.naggs = 5;
    p.aggs = aggs;
    bad |= write_seed(dir, "agg_group", &p);

    /* 3: TopN 5 by c2 DESC, c0 + 0.50, with output columns and defaults */
    memset(&p, 0, sizeof(p));
    p.scan = CM_COPR_SCAN_TABLE;
    p.ncols = 4;
    p.cols = cols;
    cm_cx_builder o2;
    cm_cx_builder_init(&o2);
    cm_cx_col(&o2, 0);
    cm_cx_const(&o2, &dhalf);
    cm_cx_op1(&o2, CM_CX_ADD);
    cm_copr_order order[2] = {{fin(&a2), true}, {fin(&o2), false}};
    uint32_t out[2] = {2, 1};
    cm_copr_dflt dflt[1] = {{2, dhalf}};
    p.has_topn = true;
    p.topn_limit = 5;
    p.norder = 2;
    p.order = order;
    p.has_out = true;
    p.nout = 2;
    p.out = out;
    p.ndflt = 1;
    p.dflt = dflt;
    bad |= write_seed(dir, "topn_out_dflt", &p);

    /* 4: an index scan with LIMIT and a selection on COALESCE/IFNULL/CONCAT/LENGTH */
    cm_copr_pcol ic[3] = {
        {0, CM_DT_DATETIME}, {0, CM_DT_FLOAT64}, {CM_COPR_HANDLE_ID, CM_DT_INT64}};
    cm_cx_builder s4;
    cm_cx_builder_init(&s4);
    cm_cx_col(&s4, 1);
    cm_cx_col(&s4, 2);
    cm_cx_opn(&s4, CM_CX_COALESCE, 2);
    cm_cx_col(&s4, 0);
    cm_cx_const(&s4, &pat);
    cm_cx_opn(&s4, CM_CX_CONCAT, 2);
    cm_cx_op1(&s4, CM_CX_LENGTH);
    cm_cx_op1(&s4, CM_CX_LT);
    cm_cx_col(&s4, 2);
    cm_cx_const(&s4, &two);
    cm_cx_op1(&s4, CM_CX_MOD);
    cm_cx_op1(&s4, CM_CX_ISTRUE);
    cm_cx_op1(&s4, CM_CX_XOR);
    memset(&p, 0, sizeof(p));
    p.scan = CM_COPR_SCAN_INDEX;
    p.ncols = 3;
    p.cols = ic;
    p.sel = fin(&s4);
    p.has_limit = true;
    p.limit = 3;
    bad |= write_seed(dir, "index_limit", &p);

    cm_cx_builder_fini(&sel);
    cm_cx_builder_fini(&g);
    cm_cx_builder_fini(&a1);
    cm_cx_builder_fini(&a2);
    cm_cx_builder_fini(&a3);
    cm_cx_builder_fini(&a4);
    cm_cx_builder_fini(&o2);
    cm_cx_builder_fini(&s4);
    return bad;
}
