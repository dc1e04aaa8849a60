/*
 * fuzz_catalog.c — libFuzzer target over the catalog's untrusted inputs: stored definitions
 * (table and database values read from KV) and DDL statement text. The first byte picks which;
 * whatever decodes must re-encode, whatever parses goes through the table builder. Nothing may
 * crash, leak or abort.
 */
#include "sql_cat_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fuzz_id(void *user, int64_t *id, cm_err *err)
{
    (void)err;
    *id = ++*(int64_t *)user;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    cm_arena a;
    cm_arena_init(&a, 0);
    cm_err err;
    cm_slice in = cm_slice_make(data + 1, size - 1);
    if (data[0] % 3 == 0) {
        sql_cat_table t;
        if (sql_cat_decode_table(in, &a, &t, &err) == 0) {
            cm_buf b = CM_BUF_INIT;
            sql_cat_encode_table(&t, &b);
            cm_buf_fini(&b);
        }
    } else if (data[0] % 3 == 1) {
        sql_cat_db d;
        if (sql_cat_decode_db(in, &a, &d, &err) == 0) {
            cm_buf b = CM_BUF_INIT;
            sql_cat_encode_db(&d, &b);
            cm_buf_fini(&b);
        }
    } else {
        char *src = malloc(in.len + 1);
        memcpy(src, in.ptr, in.len);
        src[in.len] = 0;
        sql_tokens toks;
        sql_tokens_init(&toks);
        sql_ddl_stmt st;
        if (sql_lex(src, in.len, 0, &toks, &err) == 0 &&
            sql_ddl_parse(src, toks.v, toks.n, &a, &st, &err) == 0 &&
            st.kind == SQL_DDL_CREATE_TABLE) {
            int64_t next = 0;
            sql_cat_table t;
            if (sql_ddl_build_table(&st, &a, fuzz_id, &next, &t, &err) == 0) {
                cm_buf b = CM_BUF_INIT;
                sql_cat_encode_table(&t, &b);
                sql_cat_table d;
                if (sql_cat_decode_table(cm_buf_slice(&b), &a, &d, &err) != 0) {
                    abort(); /* what we encode we must read back */
                }
                cm_buf_fini(&b);
            }
        }
        sql_tokens_fini(&toks);
        free(src);
    }
    cm_arena_fini(&a);
    return 0;
}
