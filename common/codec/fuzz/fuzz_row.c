/*
 * fuzz_row — libFuzzer target for the row decoder. The first byte k (mod 17) says how many of the
 * following bytes are a schema: column i (in header order) gets type byte i mod k (or a type
 * derived from its id when k is 0); the rest is the row. The header must be refused or accepted;
 * every value must decode or be refused with CM_E_CORRUPT; and a row whose values all decode
 * must re-encode to exactly the input. cm_row_decode is also run on a few ids, present or not.
 */
#include "cm_row.h"

#include <stdio.h>
#include <stdlib.h>

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_row: %s\n", what);
        abort();
    }
}

static cm_dtype type_from(uint8_t b)
{
    return (cm_dtype)(1 + b % (CM_DT_COUNT_ - 1)); /* any type but NULL */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    size_t k = data[0] % 17;
    if (size < 1 + k) {
        return 0;
    }
    const uint8_t *types = data + 1;
    cm_slice row = cm_slice_make(data + 1 + k, size - 1 - k);
    cm_row_view v;
    cm_err err;
    if (cm_row_view_init(&v, row, &err) != 0) {
        check(err.code == CM_E_CORRUPT, "header: unexpected error code");
        return 0;
    }
    size_t n = cm_row_view_count(&v);
    check(n <= CM_ROW_COLS_MAX, "more columns than allowed");
    cm_row_cell *cells = calloc(n ? n : 1, sizeof(*cells));
    cm_row_col *cols = calloc(n + 1, sizeof(*cols));
    cm_datum *out = calloc(n + 1, sizeof(*out));
    bool *present = calloc(n + 1, sizeof(*present));
    check(cells && cols && out && present, "out of memory");
    bool all = true;
    for (size_t i = 0; i < n; i++) {
        bool is_null;
        cm_row_view_column(&v, i, &cells[i].id, &is_null);
        cm_dtype t = k ? type_from(types[i % k]) : type_from((uint8_t)cells[i].id);
        cols[i].id = cells[i].id;
        cols[i].type = t;
        cm_slice value;
        cm_row_presence p = cm_row_view_find(&v, cells[i].id, &value);
        check(p == (is_null ? CM_ROW_NULL : CM_ROW_VALUE), "find disagrees with the header");
        if (is_null) {
            cells[i].value = cm_datum_null();
        } else if (cm_row_value_decode(t, value, &cells[i].value, &err) != 0) {
            check(err.code == CM_E_CORRUPT, "value: unexpected error code");
            all = false;
        }
    }
    if (all) {
        cm_buf re = CM_BUF_INIT;
        check(cm_row_encode(&re, cells, n, &err) == 0, "re-encode failed");
        check(cm_slice_eq(cm_buf_slice(&re), row), "round trip differs");
        cm_buf_fini(&re);
        /* The whole-row decoder agrees, and an id the row lacks is absent. */
        cols[n].id = n > 0 ? cells[n - 1].id + 1 : 7;
        cols[n].type = CM_DT_INT64;
        bool clash = false;
        for (size_t i = 0; i < n; i++) {
            clash |= cells[i].id == cols[n].id;
        }
        if (!clash) {
            check(cm_row_decode(row, cols, n + 1, out, present, &err) == 0, "decode failed");
            check(!present[n], "absent id reported present");
        }
    }
    free(cells);
    free(cols);
    free(out);
    free(present);
    return 0;
}
